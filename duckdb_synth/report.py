"""The quality and privacy report: how close a synthetic table is to the real one, and what it cost.

One pass reads both tables through DuckDB (every column normalized: numbers and
times as DOUBLE, everything else as VARCHAR, plus a hash of each row); the rest
is numpy on those arrays. The figures, with SDMetrics' names where it has one:

* Column Shapes: per column, ``KSComplement`` (numbers, dates, times: 1 − the
  Kolmogorov–Smirnov distance of the non-NULL values) or ``TVComplement``
  (categories and booleans: 1 − the total variation distance of the value
  shares, NULL a value of its own); the property is their mean.
* Column Pair Trends: per pair, ``CorrelationSimilarity`` (two numeric or time
  columns: 1 − |r_real − r_synth| / 2, Pearson on rows where both are set) or
  ``ContingencySimilarity`` (a pair with a category: 1 − the total variation
  distance of the 2-way table on the marginal bins below); the property is their mean.
* 1-, 2-, 3-way marginals: 1 − the mean total variation distance, exactly as
  ``shared/bench/fidelity.py`` computes it (16 quantile bins of the real values,
  the 64 most frequent real values + other, NULL its own bucket; at most 300
  pairs and 300 triples drawn with a fixed seed).
* Deep Structure (PCA): see :func:`_deep_structure`.
* Privacy: exact copies (whole rows, NULL-safe, full tables), distance to the
  closest record on a sample, next to a holdout of the real table, and what the
  run spent when the synthetic table is the output of a recorded run.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import DataError, SchemaError, SourceError, did_you_mean
from .pipeline import Result
from .schema import Column, read_schema
from .source import Source, check_source, parse_source, quote_ident
from .spend import Spend

log = logging.getLogger(__name__)

BINS = 16  # quantile bins of a numeric column (fidelity.py's --bins)
TOP = 4 * BINS  # most frequent values of a category kept as buckets
MAX_PAIRS = 300
MAX_TRIPLES = 300
PCA_COMPONENTS = 5
PCA_TOP = 10  # one-hot categories per column in the PCA features
PCA_SAMPLE = 50_000
DCR_REAL_SAMPLE = 25_000  # real rows sampled for the distances: 80% reference, 20% holdout
DCR_SYNTH_SAMPLE = 5_000
DCR_TOP = 16  # one-hot categories per column in the distance features
HOLDOUT_SHARE = 0.2
PLOT_SAMPLE = 5_000  # values per column kept for the density plots
SCATTER_POINTS = 2_000

NUMERIC_KINDS = ("numerical", "datetime", "time")

SUMMARY_SCHEMA = pa.schema([("property", pa.string()), ("score", pa.float64()), ("explanation", pa.string())])
COLUMNS_SCHEMA = pa.schema([
    ("column", pa.string()), ("type", pa.string()), ("synth_type", pa.string()), ("kind", pa.string()),
    ("metric", pa.string()), ("score", pa.float64()),
    ("real_null_share", pa.float64()), ("synth_null_share", pa.float64()),
    ("real_distinct", pa.int64()), ("synth_distinct", pa.int64()),
    ("real_mean", pa.float64()), ("synth_mean", pa.float64()),
    ("real_std", pa.float64()), ("synth_std", pa.float64()),
    ("real_min", pa.float64()), ("synth_min", pa.float64()),
    ("real_max", pa.float64()), ("synth_max", pa.float64()),
])
PAIRS_SCHEMA = pa.schema([
    ("column_1", pa.string()), ("column_2", pa.string()), ("metric", pa.string()),
    ("real_association", pa.float64()), ("synth_association", pa.float64()), ("score", pa.float64()),
])
PRIVACY_SCHEMA = pa.schema([
    ("metric", pa.string()), ("value", pa.float64()), ("holdout", pa.float64()), ("explanation", pa.string()),
])


# ---------------------------------------------------------------- the result


@dataclass(frozen=True)
class ColumnPlot:
    """What the HTML page draws for one column."""

    name: str
    kind: str
    type: str
    real: np.ndarray | None = None  # sampled non-NULL values (numbers and times)
    synth: np.ndarray | None = None
    bars: tuple[tuple[str, float, float], ...] = ()  # (label, real share, synthetic share) for categories
    masked: bool = False  # filled with random values by the run (known when the run is)


@dataclass(frozen=True)
class PlotData:
    """Everything the HTML page needs beyond the four tables."""

    columns: tuple[ColumnPlot, ...]
    names: tuple[str, ...]
    real_assoc: np.ndarray  # pair association matrices (Pearson r, or Cramér's V with a category)
    synth_assoc: np.ndarray
    numeric_pair: np.ndarray  # True where the association is a correlation (signed)
    pca_real: np.ndarray | None  # (points, 2) projections on the first two components
    pca_synth: np.ndarray | None
    pca_explained: tuple[float, ...]
    dcr_synth: np.ndarray | None
    dcr_holdout: np.ndarray | None


@dataclass(frozen=True)
class Report:
    """A finished report: four tables and the data behind the plots.

    Attributes:
        summary: one row per property (score in [0, 1], one-line explanation).
        columns: one row per column: metric, score, NULL shares, distinct counts, mean, std, min, max.
        pairs: one row per column pair: metric, real and synthetic association, score.
        privacy: exact copies, distance to closest record next to a holdout, what the run spent.
    """

    real: str
    synth: str
    rows_real: int
    rows_synth: int
    summary: pa.Table
    columns: pa.Table
    pairs: pa.Table
    privacy: pa.Table
    plots: PlotData = field(repr=False)
    spend: Spend | None = field(default=None, repr=False)
    run_id: int | None = None
    notes: tuple[str, ...] = ()  # what was sampled, and how much
    seconds: float = 0.0

    @property
    def score(self) -> float | None:
        """The overall score in [0, 1]."""
        return self.summary.column("score")[-1].as_py()

    def to_html(self, path: str | Path) -> Path:
        """Write the report as one self-contained HTML page (no network access when opened)."""
        from .report_html import write_html

        return write_html(self, Path(path))

    def format(self) -> str:
        """The summary as plain text, one property a line."""
        lines = []
        for prop, score in zip(self.summary.column("property").to_pylist(), self.summary.column("score").to_pylist()):
            lines.append(f"  {prop:<26} {'-' if score is None else f'{score:.3f}'}")
        return "\n".join(lines)


# ---------------------------------------------------------------- columns of both tables


@dataclass
class _Col:
    """One column compared: its kind and both sides' normalized values."""

    name: str
    type: str
    synth_type: str
    kind: str  # 'numerical', 'datetime', 'time', 'categorical' or 'boolean'
    real: Any  # float64 ndarray (NaN for NULL) or pyarrow string array
    synth: Any
    codes_real: np.ndarray | None = None  # marginal buckets (fidelity.py's discretization)
    codes_synth: np.ndarray | None = None
    size: int = 0
    labels: list[str] = field(default_factory=list)  # categories: bucket labels, most frequent first

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


def _kind(col: Column) -> str:
    if col.kind == "numeric":
        return "numerical"
    if col.kind == "temporal":
        return "time" if col.type.upper() == "TIME" else "datetime"
    if col.kind == "boolean":
        return "boolean"
    return "categorical"  # VARCHAR, UUID, ENUM, and any other type read as text


def _norm_sql(col: Column) -> str:
    """The expression that reads a column the way the report compares it."""
    q = quote_ident(col.name)
    kind = _kind(col)
    if kind == "numerical":
        return f"CAST({q} AS DOUBLE)"
    if kind in ("datetime", "time"):
        return f"CAST(epoch({q}) AS DOUBLE)"
    return f"CAST({q} AS VARCHAR)"


def _resolve(reader: duckdb.DuckDBPyConnection, text: str, role: str, *, in_sql: bool) -> Source:
    try:
        src = parse_source(text)
        check_source(reader, src, in_sql=False)
    except SourceError as e:
        hint = ""
        if in_sql and str(e).startswith("no table or view"):
            hint = (". The report functions in SQL read through a second connection, which cannot see TEMP tables "
                    "or tables created in a transaction that is not committed yet: commit, use a regular table, "
                    "or call duckdb_synth.report(con, real, synth) from Python")
        raise SourceError(f"the {role} table: {e}{hint}") from None
    return src


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def match_columns(real: Sequence[Column], synth: Sequence[Column], real_label: str = "real",
                  synth_label: str = "synthetic") -> None:
    """Refuse a synthetic table whose columns are not the real table's, naming every column at fault.

    Types may differ within a family (any numbers; DATE/TIMESTAMP; text, UUID and ENUM), as a
    trip through Parquet changes some (ENUM to VARCHAR, HUGEINT to DECIMAL(38,0)).
    """
    synth_by = {c.name: c for c in synth}
    real_names = [c.name for c in real]
    missing = [c.name for c in real if c.name not in synth_by]
    extra = [c.name for c in synth if c.name not in real_names]
    clash = [(c, synth_by[c.name]) for c in real if c.name in synth_by and _kind(c) != _kind(synth_by[c.name])]
    if not (missing or extra or clash):
        return
    parts = []
    if missing:
        hints = "".join(did_you_mean(m, extra) for m in missing[:1])
        parts.append(f"missing column{'s' if len(missing) > 1 else ''} {_names(missing)}{hints}")
    if extra:
        parts.append(f"extra column{'s' if len(extra) > 1 else ''} {_names(extra)}")
    if clash:
        parts.append("other types: " + ", ".join(
            f"'{r.name}' is {r.type} in the real table but {s.type} in the synthetic one" for r, s in clash))
    raise SchemaError(f"the synthetic table {synth_label} does not match the real table {real_label}: "
                      + "; ".join(parts) + ". Compare a synthetic table made from this real table, or select the same "
                      "columns from both (a query is a valid source)")


def _names(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _fetch(reader: duckdb.DuckDBPyConnection, src: Source, cols: Sequence[Column], role: str) -> pa.Table:
    """Every column normalized (named c0, c1, ...) and a hash of the normalized row (``h``)."""
    exprs = [_norm_sql(c) for c in cols]
    select = ", ".join(f"{e} AS c{i}" for i, e in enumerate(exprs))
    try:
        return reader.sql(f"SELECT {select}, hash({', '.join(exprs)}) AS h FROM ({src.sql}) AS __src").to_arrow_table()
    except duckdb.Error as e:
        raise SourceError(f"cannot read the {role} table {_label(src)}: {_first_line(e)}") from None


def _values(arr: pa.ChunkedArray, kind: str) -> Any:
    arr = arr.combine_chunks()
    if kind in NUMERIC_KINDS:
        if arr.null_count:  # NULL as NaN first: Arrow's own conversion of a nullable array is 5x slower
            arr = pc.fill_null(arr, np.nan)
        return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    return arr if arr.type == pa.string() else arr.cast(pa.string())


# ---------------------------------------------------------------- the report


def build(reader: duckdb.DuckDBPyConnection, real: str, synth: str, *, runs: Sequence[Result] = (),
          run: Result | None = None, in_sql: bool = False, seed: int = 0) -> Report:
    """Compare `synth` to `real` (each a table or view name, a read-only query, or a file path).

    Args:
        reader: the connection both tables are read through.
        runs: the runs recorded on the connection (run ids are positions + 1): the synthetic
            table is looked up among their outputs to report what it spent.
        run: the run that made `synth`, when the caller knows it (overrides `runs`).
        in_sql: True when called from SQL (changes error hints).
        seed: seed of the samples, the holdout split and the pairs and triples drawn.

    Raises:
        SourceError: either table cannot be read.
        SchemaError: the synthetic table lacks columns of the real one, has others, or other types.
        DataError: either table is empty.
    """
    started = time.perf_counter()
    rsrc = _resolve(reader, real, "real", in_sql=in_sql)
    ssrc = _resolve(reader, synth, "synthetic", in_sql=in_sql)
    rcols = read_schema(reader, rsrc.sql)
    scols = read_schema(reader, ssrc.sql)
    match_columns(rcols, scols, _label(rsrc), _label(ssrc))
    sby = {c.name: c for c in scols}
    scols = [sby[c.name] for c in rcols]  # compared in the real table's order
    rdata, sdata = _fetch(reader, rsrc, rcols, "real"), _fetch(reader, ssrc, scols, "synthetic")
    for data, src, role in ((rdata, rsrc, "real"), (sdata, ssrc, "synthetic")):
        if data.num_rows == 0:
            raise DataError(f"the {role} table {_label(src)} is empty: nothing to compare")
    n_real, n_synth = rdata.num_rows, sdata.num_rows
    cols = [_Col(r.name, r.type, s.type, _kind(r), _values(rdata.column(i), _kind(r)),
                 _values(sdata.column(i), _kind(r))) for i, (r, s) in enumerate(zip(rcols, scols))]
    h_real = rdata.column("h").to_numpy()
    h_synth = sdata.column("h").to_numpy()
    del rdata, sdata
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    run_id = None
    if run is None:
        run_id, run = _find_run(runs, h_synth, scols)
    masked = tuple(c.name for c in cols if run is not None and c.name in run.options.mask_map)

    shape_rows, col_plots = [], []
    for c in cols:
        row, plot = _column(c, rng)
        shape_rows.append(row)
        col_plots.append(dataclasses.replace(plot, masked=c.name in masked))
    pair_rows, hists, real_assoc, synth_assoc, numeric_pair = _pairs(cols)
    tvd = _marginals(cols, hists, seed)
    deep, deep_text, pca = _deep_structure(cols, rng, notes)
    spend = run.spend if run is not None else None
    privacy_rows, dcr = _privacy(cols, h_real, h_synth, spend, run_id, rng, notes)

    summary = _summary(shape_rows, pair_rows, tvd, len(cols), deep, deep_text, masked)
    plots = PlotData(tuple(col_plots), tuple(c.name for c in cols), real_assoc, synth_assoc, numeric_pair,
                     pca[0], pca[1], pca[2], dcr[0], dcr[1])
    log.debug("report of %s against %s: %d x %d rows, %d columns, %.2f s", ssrc.label, rsrc.label, n_synth, n_real,
              len(cols), time.perf_counter() - started)
    return Report(
        real=rsrc.text, synth=ssrc.text, rows_real=n_real, rows_synth=n_synth,
        summary=pa.Table.from_pylist(summary, schema=SUMMARY_SCHEMA),
        columns=pa.Table.from_pylist(shape_rows, schema=COLUMNS_SCHEMA),
        pairs=pa.Table.from_pylist(pair_rows, schema=PAIRS_SCHEMA),
        privacy=pa.Table.from_pylist(privacy_rows, schema=PRIVACY_SCHEMA),
        plots=plots, spend=spend, run_id=run_id, notes=tuple(notes), seconds=time.perf_counter() - started)


def _label(src: Source) -> str:
    return repr(src.text) if src.kind != "query" else "(a query)"


# ---------------------------------------------------------------- column shapes


def _column(c: _Col, rng: np.random.Generator) -> tuple[dict, ColumnPlot]:
    """The column's score and statistics, its marginal buckets, and what to plot."""
    row: dict[str, Any] = {"column": c.name, "type": c.type, "synth_type": c.synth_type, "kind": c.kind}
    if c.numeric:
        r, s = c.real, c.synth
        rv, sv = np.sort(r[~np.isnan(r)]), np.sort(s[~np.isnan(s)])  # sorted once: KS, distinct, bins
        row["metric"] = "KSComplement"
        row["score"] = 1.0 - ks_statistic(rv, sv, presorted=True)
        for side, x, v in (("real", r, rv), ("synth", s, sv)):
            fin = v[np.isfinite(v)]
            row[f"{side}_null_share"] = 1.0 - len(v) / len(x)
            row[f"{side}_distinct"] = int(np.count_nonzero(v[1:] != v[:-1]) + 1) if len(v) else 0
            row[f"{side}_mean"] = float(fin.mean()) if len(fin) else None
            row[f"{side}_std"] = float(fin.std(ddof=1)) if len(fin) > 1 else None
            row[f"{side}_min"] = float(v[0]) if len(v) else None
            row[f"{side}_max"] = float(v[-1]) if len(v) else None
        _bin_numeric(c, rv)
        plot = ColumnPlot(c.name, c.kind, c.type, _sample(rv, PLOT_SAMPLE, rng), _sample(sv, PLOT_SAMPLE, rng))
        return row, plot
    # Categories: one dictionary over both sides, so every distinct value counts (TVComplement).
    both = pa.chunked_array([c.real, c.synth], type=pa.string()).combine_chunks().dictionary_encode()
    values = both.dictionary
    k = len(values)
    idx = both.indices.fill_null(k).to_numpy(zero_copy_only=False).astype(np.int64)
    n_r = len(c.real)
    idx_r, idx_s = idx[:n_r], idx[n_r:]
    cnt_r = np.bincount(idx_r, minlength=k + 1)
    cnt_s = np.bincount(idx_s, minlength=k + 1)
    p_r, p_s = cnt_r / n_r, cnt_s / len(idx_s)
    row["metric"] = "TVComplement"
    row["score"] = 1.0 - 0.5 * float(np.abs(p_r - p_s).sum())
    row["real_null_share"], row["synth_null_share"] = float(p_r[k]), float(p_s[k])
    row["real_distinct"], row["synth_distinct"] = int((cnt_r[:k] > 0).sum()), int((cnt_s[:k] > 0).sum())
    top = _top_values(cnt_r[:k], values, TOP)
    lookup = np.full(k + 1, len(top), dtype=np.int32)
    lookup[top] = np.arange(len(top), dtype=np.int32)
    lookup[k] = len(top) + 1
    c.codes_real, c.codes_synth = lookup[idx_r], lookup[idx_s]
    c.size = len(top) + 2
    c.labels = [str(v) for v in values.take(pa.array(top, pa.int64())).to_pylist()] if len(top) else []
    # The ten most frequent values that hold at least 1% of either table; the rest is '(other)'.
    bars = [(lab, float(p_r[i]), float(p_s[i])) for lab, i in zip(c.labels, top) if max(p_r[i], p_s[i]) >= 0.01][:10]
    rest_r = 1.0 - p_r[k] - sum(b[1] for b in bars)
    rest_s = 1.0 - p_s[k] - sum(b[2] for b in bars)
    if rest_r > 1e-12 or rest_s > 1e-12:
        bars.append(("(other)", max(rest_r, 0.0), max(rest_s, 0.0)))
    if p_r[k] > 0 or p_s[k] > 0:
        bars.append(("(NULL)", float(p_r[k]), float(p_s[k])))
    return row, ColumnPlot(c.name, c.kind, c.type, bars=tuple(bars))


def _top_values(counts: np.ndarray, values: pa.Array, limit: int) -> np.ndarray:
    """Indices of the `limit` most frequent values, ties broken by the value (as fidelity.py's ORDER BY)."""
    present = np.flatnonzero(counts > 0)
    if len(present) > limit:
        threshold = np.partition(counts[present], len(present) - limit)[len(present) - limit]
        above = present[counts[present] > threshold]
        tied = present[counts[present] == threshold]
        order = pc.sort_indices(values.take(pa.array(tied, pa.int64()))).to_numpy()
        present = np.concatenate([above, tied[order[: limit - len(above)]]])
    # Most frequent first, then by value, for the plots and labels.
    keys = pc.sort_indices(values.take(pa.array(present, pa.int64()))).to_numpy()
    by_value = present[keys]
    return by_value[np.argsort(-counts[by_value], kind="stable")]


def _bin_numeric(c: _Col, finite_real: np.ndarray) -> None:
    """fidelity.py's discretization: quantile bins of the real values, NULL a bucket of its own."""
    if len(finite_real):
        edges = np.unique(np.quantile(finite_real, np.linspace(0, 1, BINS + 1)[1:-1]))
    else:
        edges = np.array([])
    k = len(edges) + 1

    def code(x: np.ndarray) -> np.ndarray:
        out = np.searchsorted(edges, x, side="right").astype(np.int32)
        out[np.isnan(x)] = k
        return out

    c.codes_real, c.codes_synth, c.size = code(c.real), code(c.synth), k + 1


def ks_statistic(a: np.ndarray, b: np.ndarray, *, presorted: bool = False) -> float:
    """The two-sample Kolmogorov–Smirnov distance (as scipy's ks_2samp statistic); 0 when both are empty.

    The largest gap between the two step functions is at a value of one of the samples:
    at the last copy of each value of `a`, F_a is known from the position and F_b is
    found by a search, and the other way round.
    """
    if len(a) == 0 or len(b) == 0:
        return 0.0 if len(a) == len(b) else 1.0
    if not presorted:
        a, b = np.sort(a), np.sort(b)
    gap = 0.0
    for x, y in ((a, b), (b, a)):
        ends = np.flatnonzero(np.r_[x[1:] != x[:-1], True])
        f_x = (ends + 1) / len(x)
        f_y = np.searchsorted(y, x[ends], side="right") / len(y)
        gap = max(gap, float(np.max(np.abs(f_x - f_y))))
    return gap


def _sample(x: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= limit else x[rng.choice(len(x), limit, replace=False)]


# ---------------------------------------------------------------- pair trends


def _pairs(cols: list[_Col]) -> tuple[list[dict], dict, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair's CorrelationSimilarity or ContingencySimilarity, and the 2-way tables it counted."""
    d = len(cols)
    real_r = _correlations([c.real for c in cols if c.numeric])
    synth_r = _correlations([c.synth for c in cols if c.numeric])
    pos = {i: j for j, i in enumerate(i for i, c in enumerate(cols) if c.numeric)}
    real_assoc, synth_assoc = np.eye(d), np.eye(d)
    numeric_pair = np.zeros((d, d), dtype=bool)
    rows, hists = [], {}
    for i, j in itertools.combinations(range(d), 2):
        a, b = cols[i], cols[j]
        r_real = r_synth = math.nan
        if a.numeric and b.numeric:
            r_real, r_synth = real_r[pos[i], pos[j]], synth_r[pos[i], pos[j]]
        if not (math.isnan(r_real) or math.isnan(r_synth)):
            metric, score = "CorrelationSimilarity", 1.0 - abs(r_real - r_synth) / 2.0
            assoc = (float(r_real), float(r_synth))
            numeric_pair[i, j] = numeric_pair[j, i] = True
        else:
            # A category, or a constant numeric column whose correlation is undefined: the 2-way table.
            hr, hs = _hist(cols, (i, j))
            hists[(i, j)] = (hr, hs)
            metric, score = "ContingencySimilarity", 1.0 - 0.5 * float(np.abs(hr / hr.sum() - hs / hs.sum()).sum())
            shape = (a.size, b.size)
            assoc = (cramers_v(hr.reshape(shape)), cramers_v(hs.reshape(shape)))
        real_assoc[i, j] = real_assoc[j, i] = assoc[0]
        synth_assoc[i, j] = synth_assoc[j, i] = assoc[1]
        rows.append({"column_1": a.name, "column_2": b.name, "metric": metric,
                     "real_association": assoc[0], "synth_association": assoc[1], "score": float(score)})
    return rows, hists, real_assoc, synth_assoc, numeric_pair


def _correlations(columns: list[np.ndarray]) -> np.ndarray:
    """Pearson correlations over the rows where both columns are finite (NaN where undefined).

    Columns with no missing value are centred into one matrix and share one product; a
    pair with missing values is computed on the rows where both are set, as SDMetrics
    drops them pair by pair.
    """
    p = len(columns)
    r = np.full((p, p), np.nan)
    ok = [np.isfinite(x) for x in columns]
    full = [k for k in range(p) if ok[k].all()]
    if full and len(columns[0]) >= 2:
        means = [float(columns[k].mean()) for k in full]
        z = np.empty((len(full), len(columns[0])))
        for row, (k, mean) in enumerate(zip(full, means)):
            np.subtract(columns[k], mean, out=z[row])
        cross = z @ z.T
        del z
        for a, b in itertools.combinations(range(len(full)), 2):
            r[full[a], full[b]] = r[full[b], full[a]] = _pearson(cross[a, b], cross[a, a], cross[b, b], means[a],
                                                                 means[b], len(columns[0]))
    for k, j in itertools.combinations(range(p), 2):
        if ok[k].all() and ok[j].all():
            continue
        m = ok[k] & ok[j]
        x, y = columns[k][m], columns[j][m]
        if len(x) < 2:
            continue
        mean_x, mean_y = float(x.mean()), float(y.mean())
        x, y = x - mean_x, y - mean_y
        r[k, j] = r[j, k] = _pearson(float(x @ y), float(x @ x), float(y @ y), mean_x, mean_y, len(x))
    return np.clip(r, -1.0, 1.0)


def _pearson(sxy: float, sxx: float, syy: float, mean_x: float, mean_y: float, n: int) -> float:
    """r from centred sums of products; NaN when a column is constant (its sum of squares is only rounding)."""
    if n < 2 or _constant(sxx, mean_x, n) or _constant(syy, mean_y, n):
        return math.nan
    return sxy / math.sqrt(sxx * syy)


def _constant(sum_sq: float, mean: float, n: int) -> bool:
    """A column whose centred sum of squares is only rounding: its correlation is undefined."""
    return sum_sq / n <= (1e-12 * max(1.0, abs(float(mean)))) ** 2


def cramers_v(table: np.ndarray) -> float:
    """Cramér's V of a contingency table of counts (0 when a side has one non-empty value)."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    k = min(table.shape) - 1
    n = table.sum()
    if k <= 0 or n <= 0:
        return 0.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(min(math.sqrt(chi2 / n / k), 1.0))


def _hist(cols: list[_Col], which: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the joint buckets of some columns, real and synthetic."""
    def flat(side: str) -> np.ndarray:
        # Horner's rule in place on int32 (at most 66**3 cells): three times faster than int64 here.
        codes = [getattr(cols[k], side) for k in which]
        if len(codes) == 1:
            return codes[0]
        out = codes[0] * np.int32(cols[which[1]].size)  # a new array; the rest in place
        out += codes[1]
        for k, c in zip(which[2:], codes[2:]):
            out *= np.int32(cols[k].size)
            out += c
        return out

    n = int(np.prod([cols[k].size for k in which]))
    return np.bincount(flat("codes_real"), minlength=n), np.bincount(flat("codes_synth"), minlength=n)


# ---------------------------------------------------------------- marginals


def _marginals(cols: list[_Col], hists: dict, seed: int) -> dict[int, tuple[float, int, int]]:
    """Mean TVD of 1-, 2- and 3-way marginals: k -> (tvd, sets scored, sets in all), as fidelity.py draws them."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, cap in ((1, 10**9), (2, MAX_PAIRS), (3, MAX_TRIPLES)):
        if len(cols) < k:
            continue
        sets = list(itertools.combinations(range(len(cols)), k))
        total = len(sets)
        if len(sets) > cap:
            idx = rng.choice(len(sets), size=cap, replace=False)
            sets = [sets[i] for i in sorted(idx)]
        vals = []
        for s in sets:
            hr, hs = hists[s] if s in hists else _hist(cols, s)
            vals.append(0.5 * float(np.abs(hr / hr.sum() - hs / hs.sum()).sum()))
        out[k] = (float(np.mean(vals)), len(sets), total)
    return out


# ---------------------------------------------------------------- deep structure


def _features(cols: list[_Col], side: str, rows: np.ndarray, top: int) -> np.ndarray:
    """Numbers (NULL at the real mean) and one-hot top categories, before standardizing."""
    parts = []
    for c in cols:
        if c.numeric:
            x = getattr(c, side)[rows]
            parts.append(np.where(np.isfinite(x), x, np.nan)[:, None])
        else:
            codes = getattr(c, "codes_" + side)[rows]
            m = min(top, c.size - 2)
            parts.append((codes[:, None] == np.arange(m)[None, :]).astype(np.float64))
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(rows), 0))


def _standardizer(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard deviation of each feature over its set values, and which features vary."""
    ok = ~np.isnan(x)
    n = ok.sum(axis=0)
    filled = np.where(ok, x, 0.0)
    center = filled.sum(axis=0) / np.maximum(n, 1)
    scale = np.sqrt((np.where(ok, x - center, 0.0) ** 2).sum(axis=0) / np.maximum(n, 1))
    keep = (n > 0) & (scale > 1e-12 * np.maximum(1.0, np.abs(center)))
    return center, np.where(keep, scale, 1.0), keep


def _standardize(x: np.ndarray, center: np.ndarray, scale: np.ndarray, keep: np.ndarray) -> np.ndarray:
    z = (x - center) / scale
    z = np.where(np.isnan(z), 0.0, z)
    return z[:, keep]


def _deep_structure(cols: list[_Col], rng: np.random.Generator, notes: list[str]
                    ) -> tuple[float | None, str, tuple[np.ndarray | None, np.ndarray | None, tuple[float, ...]]]:
    """Deep Structure: do the synthetic rows spread along the real table's principal axes as the real rows do?

    PCA is fitted on the real rows, standardized (numbers and times; the 10 most frequent
    values of each category one-hot; NULL at the mean). Both tables are projected on its
    first five components; the score is 1 − the KS distance of the real and synthetic
    projections, averaged with the components' explained variance as weights. Correlations
    the synthetic table misses, or spreads it gets wrong, move its points off the real axes.
    """
    n_r, n_s = len(cols[0].real), len(cols[0].synth)
    rows_r = np.sort(rng.choice(n_r, PCA_SAMPLE, replace=False)) if n_r > PCA_SAMPLE else np.arange(n_r)
    rows_s = np.sort(rng.choice(n_s, PCA_SAMPLE, replace=False)) if n_s > PCA_SAMPLE else np.arange(n_s)
    xr = _features(cols, "real", rows_r, PCA_TOP)
    center, scale, keep = _standardizer(xr)
    zr = _standardize(xr, center, scale, keep)
    zs = _standardize(_features(cols, "synth", rows_s, PCA_TOP), center, scale, keep)
    if zr.shape[1] == 0 or len(zr) < 3:
        return None, "no column varies in the real table: nothing to fit", (None, None, ())
    cov = zr.T @ zr / max(len(zr) - 1, 1)
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1]
    eigval, eigvec = np.clip(eigval[order], 0.0, None), eigvec[:, order]
    # Fix each component's sign, so the plot does not flip between runs.
    eigvec *= np.where(eigvec[np.abs(eigvec).argmax(axis=0), np.arange(eigvec.shape[1])] < 0, -1.0, 1.0)
    k = min(PCA_COMPONENTS, zr.shape[1])
    total = float(eigval.sum())
    if total <= 0:
        return None, "no column varies in the real table: nothing to fit", (None, None, ())
    pr, ps = zr @ eigvec[:, :k], zs @ eigvec[:, :k]
    weights = eigval[:k] / eigval[:k].sum()
    score = float(np.clip(1.0 - sum(w * ks_statistic(pr[:, j], ps[:, j]) for j, w in enumerate(weights)), 0.0, 1.0))
    explained = tuple(float(v / total) for v in eigval[:k])
    sampled = n_r > PCA_SAMPLE or n_s > PCA_SAMPLE
    if sampled:
        notes.append(f"Deep Structure: PCA on a sample of {len(rows_r):,} real and {len(rows_s):,} synthetic rows.")
    text = (f"PCA fitted on the standardized real rows ({zr.shape[1]} features: numbers, times, one-hot top-{PCA_TOP} "
            f"categories); 1 − KS distance of the real and synthetic projections on the first {k} components, "
            f"weighted by explained variance (they explain {sum(explained):.0%})"
            + (f"; on a sample of {len(rows_r):,} real and {len(rows_s):,} synthetic rows" if sampled else ""))
    scatter_r = pr[_sample(np.arange(len(pr)), SCATTER_POINTS, rng), :2] if k else None
    scatter_s = ps[_sample(np.arange(len(ps)), SCATTER_POINTS, rng), :2] if k else None
    if k == 1:
        scatter_r = np.column_stack([scatter_r[:, 0], np.zeros(len(scatter_r))])
        scatter_s = np.column_stack([scatter_s[:, 0], np.zeros(len(scatter_s))])
    return score, text, (scatter_r, scatter_s, explained)


# ---------------------------------------------------------------- privacy


def _privacy(cols: list[_Col], h_real: np.ndarray, h_synth: np.ndarray, spend: Spend | None, run_id: int | None,
             rng: np.random.Generator, notes: list[str]) -> tuple[list[dict], tuple[Any, Any]]:
    """Exact copies, distances to the closest record (with the holdout's), and what the run spent."""
    n_r, n_s = len(h_real), len(h_synth)
    rows: list[dict] = []
    # Exact copies on the full tables, NULL-safe: rows compared by a 64-bit hash of their normalized values.
    copies = _share_in(h_synth, h_real)
    hold = rng.random(n_r) < HOLDOUT_SHARE
    base = _share_in(h_real[hold], h_real[~hold]) if hold.any() and (~hold).any() else None
    rows.append({"metric": "Exact copies", "value": copies, "holdout": base, "explanation": (
        f"share of the {n_s:,} synthetic rows equal to a real row (all columns, NULL equal to NULL); "
        f"NewRowSynthesis = {1 - copies:.4f}"
        + (f". Holdout: share of a random {hold.sum():,} real rows ({HOLDOUT_SHARE:.0%}) equal to one of the other "
           f"{(~hold).sum():,}, what a fresh sample of real people would score" if base is not None else ""))})

    dcr = _dcr(cols, rng)
    if dcr is not None:
        d_s, d_h, n_ref = dcr
        sampled = n_r > DCR_REAL_SAMPLE or n_s > DCR_SYNTH_SAMPLE
        sample_text = (f"on a sample of {len(d_s):,} synthetic and {len(d_h):,} holdout rows against {n_ref:,} "
                       f"reference rows of the real table" + (" (sampled)" if sampled else ""))
        if sampled:
            notes.append(f"Distance to closest record: {sample_text}.")
        rows.append({"metric": "DCR median", "value": float(np.median(d_s)), "holdout": float(np.median(d_h)),
                     "explanation": "median distance from a synthetic row to the closest real row (standardized "
                                    "numbers; a different category counts 1), next to the same for held-out real "
                                    "rows; synthetic rows no closer than held-out ones are not memorized copies; "
                                    + sample_text})
        rows.append({"metric": "DCR 5th percentile", "value": float(np.quantile(d_s, 0.05)),
                     "holdout": float(np.quantile(d_h, 0.05)),
                     "explanation": "5th percentile of the same distances: the synthetic rows nearest to real ones; "
                                    + sample_text})
        dcr_arrays = (d_s, d_h)
    else:
        dcr_arrays = (None, None)
        rows.append({"metric": "DCR median", "value": None, "holdout": None,
                     "explanation": "too few real rows to hold some out (needs 5)"})

    rows.extend(_spend_rows(spend, run_id))
    return rows, dcr_arrays


def _share_in(needles: np.ndarray, haystack: np.ndarray) -> float:
    """Share of `needles` found in `haystack` (np.isin, four times faster by one sort and a search)."""
    hay = np.sort(haystack)
    pos = np.minimum(np.searchsorted(hay, needles), len(hay) - 1)
    return float((hay[pos] == needles).mean())


def _dcr(cols: list[_Col], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Distances to the closest record: synthetic rows and held-out real rows, each to the other real rows."""
    n_r, n_s = len(cols[0].real), len(cols[0].synth)
    m = min(n_r, DCR_REAL_SAMPLE)
    if m < 5:
        return None
    real_rows = rng.permutation(n_r)[:m]
    n_hold = min(max(1, int(round(HOLDOUT_SHARE * m))), DCR_SYNTH_SAMPLE)
    hold_rows, ref_rows = np.sort(real_rows[:n_hold]), np.sort(real_rows[n_hold:])
    synth_rows = np.sort(rng.choice(n_s, DCR_SYNTH_SAMPLE, replace=False)) if n_s > DCR_SYNTH_SAMPLE else np.arange(n_s)
    ref = _dcr_features(cols, "real", ref_rows)
    center, scale, keep = _standardizer(ref[0])
    numbers = [(_standardize(x, center, scale, keep), onehot) for x, onehot in
               (ref, _dcr_features(cols, "real", hold_rows), _dcr_features(cols, "synth", synth_rows))]
    ref_x, hold_x, synth_x = (np.concatenate([z, o], axis=1) for z, o in numbers)
    return _nearest(synth_x, ref_x), _nearest(hold_x, ref_x), len(ref_rows)


def _dcr_features(cols: list[_Col], side: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(numbers with NaN for NULL, plus a NULL indicator; one-hot buckets scaled so a mismatch counts 1)."""
    nums, onehots = [], []
    for c in cols:
        if c.numeric:
            x = getattr(c, side)[rows]
            nums.append(np.where(np.isfinite(x), x, np.nan))
            if np.isnan(c.real).any() or np.isnan(c.synth).any():
                onehots.append(np.isnan(x).astype(np.float64)[:, None])
        else:
            # Buckets beyond the top ones merge with 'other'; NULL keeps its own.
            codes = getattr(c, "codes_" + side)[rows]
            top = min(DCR_TOP, c.size - 2)
            codes = np.where(codes == c.size - 1, top + 1, np.minimum(codes, top))
            onehots.append((codes[:, None] == np.arange(top + 2)[None, :]) / math.sqrt(2.0))
    x = np.column_stack(nums) if nums else np.zeros((len(rows), 0))
    o = np.concatenate(onehots, axis=1) if onehots else np.zeros((len(rows), 0))
    return x, o


def _nearest(queries: np.ndarray, ref: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row (chunked float32 BLAS).

    The nearest row minimizes |r|²/2 − q·r, one matrix product with [r, |r|²/2] against
    [q, −1]; its distance is then computed again in float64, so an equal row is at 0 exactly.
    """
    ref_aug = np.column_stack([ref, (ref ** 2).sum(axis=1) / 2.0]).astype(np.float32)
    out = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk]
        q_aug = np.column_stack([-q, np.ones(len(q))]).astype(np.float32)
        best = (q_aug @ ref_aug.T).argmin(axis=1)
        out[start:start + chunk] = np.sqrt(((q - ref[best]) ** 2).sum(axis=1))
    return out


def table_fingerprint(table_hashes: np.ndarray) -> tuple[int, int]:
    """Order-free fingerprint of a table: its row count and the sum of its row hashes (mod 2**64)."""
    return len(table_hashes), int(table_hashes.astype(np.uint64).sum(dtype=np.uint64))


def _find_run(runs: Sequence[Result], h_synth: np.ndarray, scols: list[Column]) -> tuple[int | None, Result | None]:
    """The recorded run whose output has exactly the synthetic table's rows, if any."""
    names = sorted(c.name for c in scols)
    want = table_fingerprint(h_synth)
    for run_id in range(len(runs), 0, -1):  # newest first
        res = runs[run_id - 1]
        if res.table.num_rows != want[0] or sorted(res.table.column_names) != names:
            continue
        if _result_fingerprint(res, scols) == want:
            return run_id, res
    return None, None


def _result_fingerprint(res: Result, scols: list[Column]) -> tuple[int, int]:
    con = duckdb.connect()
    try:
        res.relation(con).create_view("__run")
        exprs = ", ".join(_norm_sql(c) for c in scols)
        h = con.sql(f"SELECT hash({exprs}) AS h FROM __run").to_arrow_table().column(0).to_numpy()
    finally:
        con.close()
    return table_fingerprint(h)


def _spend_rows(spend: Spend | None, run_id: int | None) -> list[dict]:
    """What the run spent: the guarantee, the totals, then one row per step (ε alone: steps compose in ρ)."""
    if spend is None:
        return [{"metric": "Privacy spent", "value": None, "holdout": None,
                 "explanation": "not from a recorded run: the synthetic table is not the output of a synthesize() run "
                                "on this connection, so what it spent is unknown here"}]
    where = f"run {run_id} (SELECT * FROM synth_runs() WHERE run_id = {run_id})" if run_id else "the run that made it"
    if not spend.private:
        head = [{"metric": "Privacy spent", "value": None, "holdout": None,
                 "explanation": f"mode balanced: no formal differential privacy; fitted on exact statistics, text "
                                f"categories held by fewer than 5 rows never emitted; {where}"}]
    else:
        head = [
            {"metric": "Privacy guarantee", "value": spend.epsilon, "holdout": None,
             "explanation": f"mode {spend.mode}: ({spend.epsilon:g}, {spend.delta:g})-differential privacy, accounted "
                            f"in zCDP (ρ budget {spend.rho_budget:.4g}); {where}"},
            {"metric": "Epsilon spent", "value": spend.epsilon_spent, "holdout": None,
             "explanation": f"ρ spent {spend.rho_spent:.4g} over {len(spend.steps)} steps: "
                            f"ε {spend.epsilon_spent:.4f} ≤ {spend.epsilon:g}"},
            {"metric": "Delta spent", "value": spend.delta_threshold_spent + spend.delta / 2, "holdout": None,
             "explanation": f"thresholds {spend.delta_threshold_spent:.3g} + zCDP conversion {spend.delta / 2:.3g} "
                            f"≤ {spend.delta:g}"},
        ]
    steps = [{"metric": f"Step {no}: {r['step']}", "value": r["epsilon"], "holdout": None,
              "explanation": (f"ρ {r['rho']:.4g} (ε {r['epsilon']:.4g} alone); " if r["rho"] is not None else "")
                             + (r["detail"] or "")}
             for no, r in enumerate(spend.rows(), start=1)]
    return head + steps


# ---------------------------------------------------------------- summary


def _summary(shape_rows: list[dict], pair_rows: list[dict], tvd: dict, d: int, deep: float | None,
             deep_text: str, masked: tuple[str, ...] = ()) -> list[dict]:
    n_ks = sum(r["metric"] == "KSComplement" for r in shape_rows)
    n_corr = sum(r["metric"] == "CorrelationSimilarity" for r in pair_rows)
    rows = [
        {"property": "Column Shapes", "score": float(np.mean([r["score"] for r in shape_rows])),
         "explanation": f"mean over {d} columns of KSComplement ({n_ks} numeric and time columns) and TVComplement "
                        f"({d - n_ks} categories): 1 − the distance between a column's real and synthetic "
                        "distributions"
                        + (f"; masked in the run, so random by design and scoring near 0: {_names(list(masked))}"
                           if masked else "")},
        {"property": "Column Pair Trends",
         "score": float(np.mean([r["score"] for r in pair_rows])) if pair_rows else None,
         "explanation": (f"mean over {len(pair_rows)} column pairs of CorrelationSimilarity ({n_corr} numeric "
                         f"pairs: 1 − |r_real − r_synth| / 2) and ContingencySimilarity ({len(pair_rows) - n_corr} "
                         "pairs with a category: 1 − total variation distance of the 2-way table)") if pair_rows
                        else "needs two columns"},
    ]
    for k, name in ((1, "1-way marginals"), (2, "2-way marginals"), (3, "3-way marginals")):
        if k in tvd:
            value, scored, total = tvd[k]
            which = (f"all {total}" if scored == total else f"{scored} random of {total} (fixed seed)")
            rows.append({"property": name, "score": 1.0 - value, "explanation": (
                f"1 − mean total variation distance over {which} {k}-column marginals (tvd{k} = {value:.4f}); "
                f"numbers and times in {BINS} quantile bins of the real table, the {TOP} most frequent categories "
                "+ other, NULL a bucket of its own")})
        else:
            rows.append({"property": name, "score": None, "explanation": f"needs {k} columns"})
    rows.append({"property": "Deep Structure (PCA)", "score": deep, "explanation": deep_text})
    scores = [r["score"] for r in rows if r["score"] is not None]
    rows.append({"property": "Overall", "score": float(np.mean(scores)),
                 "explanation": f"mean of the {len(scores)} property scores above; 1 is a synthetic table "
                                "indistinguishable from the real one by these measures"})
    return rows


# ---------------------------------------------------------------- public entry point


def report(con: duckdb.DuckDBPyConnection, real: str, synth: str, *, seed: int = 0,
           run: Result | None = None) -> Report:
    """Compare a synthetic table with the real one: fidelity scores, privacy figures, and what was spent.

    Args:
        con: the connection both are read through (TEMP tables included).
        real: the real table: a table or view name, one read-only query, or a .parquet/.csv/.json path.
        synth: the synthetic table, the same way.
        seed: seed of the samples, the holdout split and the pairs and triples drawn.
        run: the run that made `synth`; by default it is looked up among the runs recorded on `con`.

    Returns:
        A :class:`Report`: ``.summary``, ``.columns``, ``.pairs``, ``.privacy`` (pyarrow tables), ``.to_html(path)``.
    """
    from .sqlfuncs import runs as recorded

    return build(con, real, synth, runs=recorded(con), run=run, seed=seed)


# ---------------------------------------------------------------- the SQL functions' side

PARTS = ("summary", "columns", "pairs", "privacy")


def fingerprint(reader: duckdb.DuckDBPyConnection, real: str, synth: str, *, in_sql: bool = False) -> tuple:
    """What identifies a report's input: both tables' columns, row counts and a sum of row hashes.

    The SQL functions memoize reports by their arguments and this, so DuckDB binding a query
    several times computes one report, and a table changed since is reported afresh.
    """
    out = []
    for text, role in ((real, "real"), (synth, "synthetic")):
        src = _resolve(reader, text, role, in_sql=in_sql)
        columns = tuple(reader.sql(f"DESCRIBE {src.sql}").fetchall())
        try:
            rows = reader.sql(f"SELECT count(*), sum(hash(__synth_report_row)::HUGEINT) "
                              f"FROM ({src.sql}) AS __synth_report_row").fetchall()[0]
        except duckdb.Error as e:
            raise SourceError(f"cannot read the {role} table {_label(src)}: {_first_line(e)}") from None
        out.append((columns, *rows))
    return tuple(out)


def write_tables(rep: Report, stem: Path) -> dict[str, str]:
    """Write the four tables as Parquet files named `stem`_<part>.parquet; part -> path."""
    import pyarrow.parquet as pq

    paths = {}
    for part in PARTS:
        path = stem.with_name(f"{stem.name}_{part}.parquet")
        pq.write_table(getattr(rep, part), path)
        paths[part] = str(path)
    return paths
