"""The quality and privacy report: how close a synthetic table is to the real one, and what it cost.

One pass reads both tables through DuckDB (``columns``); the rest is numpy on those
arrays: the quality figures (``quality``: column shapes, pair trends, 1-, 2- and
3-way marginals, deep structure) and the privacy figures (``disclosure``: exact
copies, distance to the closest record next to a holdout, what the run spent). The
result is four tables, a summary, and the data of the HTML page (``html``).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ..engine.data import value_sql
from ..engine.declared import declare
from ..engine.plan import named_as_columns
from ..engine.schema import Column, read_schema
from ..engine.source import check_idle, quote_ident, quote_literal
from ..errors import DataError, OptionError
from ..options import parse_options
from ..privacy import ledger
from ..privacy.ledger import Result, RunRecord
from ..privacy.spend import Spend
from .columns import Compared, fetch, kind_of, label, match_columns, normalized, quoted_names, resolve
from .disclosure import find_run, privacy_figures
from .preservation import compare_release
from .quality import BINS, TOP, ColumnPlot, column_shape, deep_structure, marginals, pair_trends

log = logging.getLogger(__name__)

SUMMARY_SCHEMA = pa.schema([("property", pa.string()), ("score", pa.float64()), ("explanation", pa.string()),
                            ("holdout", pa.float64())])
COLUMNS_SCHEMA = pa.schema([
    ("column", pa.string()), ("type", pa.string()), ("synth_type", pa.string()), ("kind", pa.string()),
    ("metric", pa.string()), ("score", pa.float64()),
    ("real_null_share", pa.float64()), ("synth_null_share", pa.float64()),
    ("real_distinct", pa.int64()), ("synth_distinct", pa.int64()),
    ("real_mean", pa.float64()), ("synth_mean", pa.float64()),
    ("real_std", pa.float64()), ("synth_std", pa.float64()),
    ("real_min", pa.float64()), ("synth_min", pa.float64()),
    ("real_max", pa.float64()), ("synth_max", pa.float64()),
    ("real_range", pa.string()), ("synth_range", pa.string()),
    ("diagnostic", pa.string()), ("adherence", pa.float64()),
])
PAIRS_SCHEMA = pa.schema([
    ("column_1", pa.string()), ("column_2", pa.string()), ("metric", pa.string()),
    ("real_association", pa.float64()), ("synth_association", pa.float64()), ("score", pa.float64()),
])
PRIVACY_SCHEMA = pa.schema([
    ("metric", pa.string()), ("value", pa.float64()), ("holdout", pa.float64()), ("explanation", pa.string()),
])


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
    holdout: str | None = None  # the held-out real rows compared for the DCR share, if any
    aggregates: pa.Table | None = None  # per length, the copy against an aggregate release (``preservation``)
    rules: pa.Table | None = None  # per rule (the run's and the caller's): rows of each table that break it
    release: str | None = None  # that release

    @property
    def score(self) -> float | None:
        """The overall score in [0, 1]."""
        return self.summary.column("score")[-1].as_py()

    def to_html(self, path: str | Path) -> Path:
        """Write the report as one self-contained HTML page (no network access when opened)."""
        from .html import write_html

        return write_html(self, Path(path))

    def format(self) -> str:
        """The summary as plain text, one property a line."""
        lines = []
        for prop, score in zip(self.summary.column("property").to_pylist(), self.summary.column("score").to_pylist()):
            lines.append(f"  {prop:<26} {'-' if score is None else f'{score:.3f}'}")
        return "\n".join(lines)


def build(reader: duckdb.DuckDBPyConnection, real: str, synth: str, *, runs: Sequence[RunRecord] = (),
          run: Result | RunRecord | None = None, in_sql: bool = False, seed: int = 0, domains=None,
          holdout: str | None = None, aggregates=None, constraints=None) -> Report:
    """Compare `synth` to `real` (each a table or view name, a read-only query, or a file path).

    Args:
        reader: the connection both tables are read through.
        runs: the finished runs recorded on the connection, with their run ids: the synthetic
            table is looked up among their outputs to report what it spent.
        run: the run that made `synth`, when the caller knows it (overrides `runs`).
        in_sql: True when called from SQL (changes error hints).
        seed: seed of the samples, the holdout split and the pairs and triples drawn.
        domains: declared domains (as ``synthesize`` takes them): a note per column says how many
            real and synthetic values lie outside its domain (the synthetic ones should be none).
        holdout: real rows the generator never saw (same columns as `real`): the privacy table gets
            the DCR share, synthetic rows nearer `real`'s rows than the holdout's.
        aggregates: an aggregate release (a stored one: table, query or file; or an AggregateResult):
            ``.aggregates`` then holds, per length, the copy's counts against the released ones.
        constraints: rules (as ``synthesize`` takes them) whose violations ``.rules`` counts in both
            tables, beside the rules of the run that made `synth`.

    Raises:
        OptionError: a domain that does not fit its column (checked before the tables are read).
        SourceError: either table cannot be read.
        SchemaError: the synthetic table lacks columns of the real one, has others, or other types.
        DataError: either table is empty.
    """
    started = time.perf_counter()
    # (checked first: a seed of 'x' or -1 failed in numpy, a `run` of 'abc' in an attribute: the review of 12d66b3)
    seed = parse_options(seed=seed).seed
    if run is not None and not isinstance(run, (Result, RunRecord)):
        raise OptionError(f"run must be the result of duckdb_synth.run (or a run the ledger records), got {run!r}")
    parse_options(domains=domains)  # (checked before the tables are read)
    rsrc = resolve(reader, real, "real", in_sql=in_sql)
    ssrc = resolve(reader, synth, "synthetic", in_sql=in_sql)
    rcols = read_schema(reader, rsrc.sql)
    scols = read_schema(reader, ssrc.sql)
    match_columns(rcols, scols, label(rsrc), label(ssrc))
    preserved, release = None, None
    if aggregates is not None:  # read first: a bad release is refused before the tables are read
        if isinstance(aggregates, str):
            preserved, release = compare_release(reader, aggregates, synth, in_sql=in_sql), aggregates
        else:
            preserved, release = aggregates.compare(reader, synth), aggregates.text
    hsrc = resolve(reader, holdout, "holdout", in_sql=in_sql) if holdout is not None else None
    if hsrc is not None:
        hcols = read_schema(reader, hsrc.sql)
        match_columns(rcols, hcols, label(rsrc), label(hsrc), role="holdout")
        hby = {c.name: c for c in hcols}
        hcols = [hby[c.name] for c in rcols]
    sby = {c.name: c for c in scols}
    scols = [sby[c.name] for c in rcols]  # compared in the real table's order
    specs = named_as_columns(rcols, parse_options(domains=domains)).domain_map  # (names ignoring case, as a run's)
    checked = [c for c in declare(rcols, specs) if c.name in specs]
    rdata, sdata = fetch(reader, rsrc, rcols, "real"), fetch(reader, ssrc, scols, "synthetic")
    hdata = fetch(reader, hsrc, hcols, "holdout") if hsrc is not None else None
    for data, src, role in ((rdata, rsrc, "real"), (sdata, ssrc, "synthetic"), (hdata, hsrc, "holdout")):
        if data is not None and data.num_rows == 0:
            raise DataError(f"the {role} table {label(src)} is empty: nothing to compare")
    n_real, n_synth = rdata.num_rows, sdata.num_rows
    cols = [Compared(r.name, r.type, s.type, kind_of(r), normalized(rdata.column(i), kind_of(r)),
                     normalized(sdata.column(i), kind_of(r)),
                     holdout=normalized(hdata.column(i), kind_of(r)) if hdata is not None else None)
            for i, (r, s) in enumerate(zip(rcols, scols))]
    h_real = rdata.column("h").to_numpy()
    h_synth = sdata.column("h").to_numpy()
    del rdata, sdata, hdata
    rng = np.random.default_rng(seed)
    notes: list[str] = [_outside_note(reader, rsrc.sql, ssrc.sql, c, sby[c.name]) for c in checked]
    if run is None:
        run = find_run(runs, h_synth, scols)
    run_id = run.run_id if isinstance(run, RunRecord) else None
    if run is not None:
        notes.extend(_sum_note(reader, rsrc.sql, ssrc.sql, rel) for rel in getattr(run, "sums", ()))
    masked = tuple(c.name for c in cols if run is not None and c.name in run.options.mask_map)
    texts = tuple(dict.fromkeys((*parse_options(constraints=constraints).constraints,
                                 *(run.options.constraints if run is not None else ()))))
    rule_table = _rule_violations(reader, rsrc.sql, ssrc.sql, texts, rcols) if texts else None

    shape_rows, col_plots = [], []
    for c in cols:
        row, plot = column_shape(c, rng)
        shape_rows.append(row)
        col_plots.append(dataclasses.replace(plot, masked=c.name in masked))
    pair_rows, hists, real_assoc, synth_assoc, numeric_pair = pair_trends(cols)
    tvd = marginals(cols, hists, seed)
    deep, deep_text, pca = deep_structure(cols, rng, notes)
    spend = run.spend if run is not None else None
    privacy_rows, dcr = privacy_figures(cols, h_real, h_synth, spend, run_id, rng, notes)

    summary = _summary(shape_rows, pair_rows, tvd, len(cols), deep, deep_text, masked)
    if rule_table is not None and rule_table.num_rows:  # before Overall, and not part of it (as Diagnostics)
        summary.insert(len(summary) - 1, _rules_row(rule_table.to_pylist(), n_synth))
    reference = _holdout_reference(cols, seed)
    for row in summary:
        row["holdout"] = reference.get(row["property"])
    plots = PlotData(tuple(col_plots), tuple(c.name for c in cols), real_assoc, synth_assoc, numeric_pair,
                     pca[0], pca[1], pca[2], dcr[0], dcr[1])
    log.debug("report of %s against %s: %d x %d rows, %d columns, %.2f s", ssrc.label, rsrc.label, n_synth, n_real,
              len(cols), time.perf_counter() - started)
    return Report(
        real=rsrc.text, synth=ssrc.text, rows_real=n_real, rows_synth=n_synth,
        holdout=hsrc.text if hsrc is not None else None,
        summary=pa.Table.from_pylist(summary, schema=SUMMARY_SCHEMA),
        columns=pa.Table.from_pylist(shape_rows, schema=COLUMNS_SCHEMA),
        pairs=pa.Table.from_pylist(pair_rows, schema=PAIRS_SCHEMA),
        privacy=pa.Table.from_pylist(privacy_rows, schema=PRIVACY_SCHEMA),
        plots=plots, spend=spend, run_id=run_id, notes=tuple(notes), seconds=time.perf_counter() - started,
        aggregates=preserved, release=release, rules=rule_table)


def _outside_note(reader: duckdb.DuckDBPyConnection, real_sql: str, synth_sql: str, col: Column,
                  synth_col: Column) -> str:
    """How many of a column's real and synthetic non-NULL values lie outside its declared domain."""
    dec = col.declared

    def outside(c: Column, sql: str) -> int:
        if dec.values:
            listed = ", ".join(str(v).lower() if isinstance(v, bool) else quote_literal(v) for v in dec.values)
            cond = f"{quote_ident(c.name)} NOT IN ({listed})" if c.kind == "boolean" else \
                f"CAST({quote_ident(c.name)} AS VARCHAR) NOT IN ({listed})"
        elif dec.points:  # a list of numbers (CHECK (x IN (...)))
            cond = f"{value_sql(c)} NOT IN ({', '.join(repr(float(v)) for v in dec.points)})"
        else:
            cond = f"{value_sql(c)} NOT BETWEEN {dec.bounds[0]!r} AND {dec.bounds[1]!r}"
        return reader.sql(f"SELECT count(*) FILTER ({cond}) FROM ({sql})").fetchall()[0][0]

    return (f"domain of '{col.name}' {dec.shown}: {outside(synth_col, synth_sql)} synthetic values outside it "
            f"({outside(col, real_sql)} real ones)")


def _rules_row(rules: list[dict], n_synth: int) -> dict:
    """The summary's row of the rules: the share of synthetic rows the worst-kept rule leaves unbroken, and
    each rule's counts (rows of the real and the synthetic table that break it)."""
    worst = max(r["synth_violations"] for r in rules)
    parts = "; ".join(f"{r['rule']}: {r['synth_violations']:,} synthetic rows break it ({r['real_violations']:,} real)"
                      for r in rules)
    return {"property": "Rules", "score": 1.0 - worst / max(n_synth, 1),
            "explanation": f"1 − the share of synthetic rows breaking the worst-kept rule; not part of Overall. {parts}"}


def _rule_violations(reader: duckdb.DuckDBPyConnection, real_sql: str, synth_sql: str, texts: Sequence[str],
                     columns: list[Column]) -> pa.Table:
    """Per rule: how many rows of the real and of the synthetic table break it (NULL keeps a rule)."""
    from ..engine.rules import parse_rules, violations_sql

    rows = []
    for text in texts:
        parts = [r for r in parse_rules([text], columns) if r.text == text]
        if not parts:
            continue
        if len(parts) == 1:
            counts = [reader.sql(parts[0].count_sql(sql)).fetchall()[0][0] for sql in (real_sql, synth_sql)]
        else:  # x BETWEEN a AND b: a row breaks it if it breaks either side
            cond = " OR ".join(violations_sql(r) for r in parts)
            counts = [reader.sql(f"SELECT count(*) FILTER ({cond}) FROM ({sql})").fetchall()[0][0]
                      for sql in (real_sql, synth_sql)]
        rows.append({"rule": text, "real_violations": counts[0], "synth_violations": counts[1]})
    return pa.Table.from_pylist(rows, schema=pa.schema([("rule", pa.string()), ("real_violations", pa.int64()),
                                                         ("synth_violations", pa.int64())]))


SUM_GROUP_SHARE = 0.01  # the report compares the totals of groups holding at least this share of the real rows


def _sum_note(reader: duckdb.DuckDBPyConnection, real_sql: str, synth_sql: str, rel) -> str:
    """A sum of the run (``privacy/sums.py``): how many real values its clamp moved, and the copy's group
    totals against the real ones (both of clamped values). Exact figures of the real rows: the data
    owner's report, as every figure here."""
    lo, hi = rel.clamp
    v = quote_ident(rel.value)
    group = ", ".join(quote_ident(g) for g in rel.group)
    clamped = f"least(greatest(CAST({v} AS DOUBLE), {lo!r}), {hi!r})"
    below, above = reader.sql(f"SELECT count(*) FILTER ({v} < {lo!r}), count(*) FILTER ({v} > {hi!r}) "
                              f"FROM ({real_sql})").fetchall()[0]

    def totals(sql: str) -> dict:
        rows = reader.sql(f"SELECT {group + ', ' if group else ''}sum({clamped}), count(*) FROM ({sql})"
                          + (f" GROUP BY {group}" if group else "")).fetchall()
        return {r[:-2]: (float(r[-2] or 0.0), r[-1]) for r in rows}

    real, synth = totals(real_sql), totals(synth_sql)
    n = sum(c for _, c in real.values())
    big = {k: t for k, (t, c) in real.items() if c >= SUM_GROUP_SHARE * n and t != 0}
    err = (f"the copy's totals err by {np.mean([abs(synth.get(k, (0.0, 0))[0] - t) / abs(t) for k, t in big.items()]):.2%} "
           f"on average over the {len(big)} groups holding at least {SUM_GROUP_SHARE:.0%} of the real rows"
           if big else "no group holds enough real rows to compare")
    return (f"{rel.label}, values clamped to [{lo:g}, {hi:g}]: {below:,} real values below and {above:,} above the "
            f"clamp (moved to its bounds before adding up); {err}; released noise sigma {rel.sigma:.4g} a total")


def _summary(shape_rows: list[dict], pair_rows: list[dict], tvd: dict, d: int, deep: float | None,
             deep_text: str, masked: tuple[str, ...] = ()) -> list[dict]:
    n_ks = sum(r["metric"] == "KSComplement" for r in shape_rows)
    n_corr = sum(r["metric"] == "CorrelationSimilarity" for r in pair_rows)
    rows = [
        {"property": "Column Shapes", "score": float(np.mean([r["score"] for r in shape_rows])),
         "explanation": f"mean over {d} columns of KSComplement ({n_ks} numeric and time columns) and TVComplement "
                        f"({d - n_ks} categories): 1 − the distance between a column's real and synthetic "
                        "distributions"
                        + (f"; masked in the run, so random by design and scoring near 0: {quoted_names(list(masked))}"
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
                "+ other, NULL a bucket of its own, and so +inf and -inf where either side holds one")})
        else:
            rows.append({"property": name, "score": None, "explanation": f"needs {k} columns"})
    rows.append({"property": "Deep Structure (PCA)", "score": deep, "explanation": deep_text})
    scores = [r["score"] for r in rows if r["score"] is not None]
    rows.append(_diagnostics(shape_rows, masked))
    rows.append({"property": "Overall", "score": float(np.mean(scores)),
                 "explanation": f"mean of the {len(scores)} property scores above; 1 is a synthetic table "
                                "indistinguishable from the real one by these measures"})
    return rows


HOLDOUT_MIN_ROWS = 20


def _holdout_reference(cols: list[Compared], seed: int) -> dict[str, float]:
    """What real data scores against real data: one random half of the real rows against the other, for
    the column, pair and marginal properties (as mostlyai-qa shows a holdout beside each score). A copy
    scoring near it is as close as a fresh sample of half as many real rows."""
    n = len(cols[0].real)
    if n < HOLDOUT_MIN_ROWS:
        return {}
    rng = np.random.default_rng([seed, 1])
    perm = rng.permutation(n)
    a, b = np.sort(perm[: n // 2]), np.sort(perm[n // 2:])

    def take(x, idx):
        return x[idx] if isinstance(x, np.ndarray) else x.take(pa.array(idx, pa.int64()))

    ref = [Compared(c.name, c.type, c.type, c.kind, take(c.real, a), take(c.real, b)) for c in cols]
    shapes = [column_shape(c, rng)[0]["score"] for c in ref]
    pairs, hists, *_ = pair_trends(ref)
    out = {"Column Shapes": float(np.mean(shapes))}
    if pairs:
        out["Column Pair Trends"] = float(np.mean([r["score"] for r in pairs]))
    for k, (value, _, _) in marginals(ref, hists, seed).items():
        out[f"{k}-way marginals"] = 1.0 - value
    return out


DIAGNOSTIC_PASS = 0.99  # a column's adherence below this is listed


def _diagnostics(shape_rows: list[dict], masked: tuple[str, ...] = ()) -> dict:
    """SDMetrics' diagnostics (not in the Overall score): the least adherence of any column, and which fail
    (masked columns, random by design, left out)."""
    scored = [r for r in shape_rows if r.get("adherence") is not None and r["column"] not in masked]
    failing = [f"{r['column']} ({r['diagnostic']} {r['adherence']:.3f})" for r in scored
               if r["adherence"] < DIAGNOSTIC_PASS]
    return {"property": "Diagnostics", "score": min((r["adherence"] for r in scored), default=None),
            "explanation": "the least per-column BoundaryAdherence (synthetic numbers and times inside the real "
                           "[min, max]), CategoryAdherence (synthetic categories the real column holds) or "
                           "KeyUniqueness (distinct synthetic values in a column whose real values are all distinct); "
                           "not part of the Overall score; "
                           + (f"below {DIAGNOSTIC_PASS}: {', '.join(failing)}" if failing
                              else f"every column at {DIAGNOSTIC_PASS} or above")}


def report(con: duckdb.DuckDBPyConnection, real: str, synth: str, *, seed: int = 0,
           run: Result | RunRecord | None = None, domains=None, holdout: str | None = None,
           aggregates=None, constraints=None) -> Report:
    """Compare a synthetic table with the real one: fidelity scores, privacy figures, and what was spent.

    Args:
        con: the connection both are read through (TEMP tables included).
        real: the real table: a table or view name, one read-only query, or a .parquet/.csv/.json path.
        synth: the synthetic table, the same way.
        seed: seed of the samples, the holdout split and the pairs and triples drawn.
        run: the run that made `synth`; by default it is looked up among the runs recorded on `con`.
        domains: declared domains, as ``synthesize`` takes them: the notes say, per column, how many
            synthetic (and real) values lie outside its domain.
        holdout: real rows kept out of the run that made `synth` (a table, query or file with
            `real`'s columns): adds the DCR share to ``.privacy``, the share of synthetic rows
            nearer a row of `real` than a row of `holdout` (about 0.5 unless rows were memorized).
        aggregates: an aggregate release (``duckdb_synth.aggregates``'s result, or one stored as a
            table, query or file): ``.aggregates`` compares the copy's counts with it, per length.
        constraints: rules (SQL, as ``synthesize`` takes them): ``.rules`` counts the rows of each table
            that break each, with the rules of the run that made `synth`.

    Returns:
        A :class:`Report`: ``.summary``, ``.columns``, ``.pairs``, ``.privacy`` (pyarrow tables), ``.to_html(path)``.
    """
    check_idle(con)  # (a result left unread, `.fetchone()`, refused every read, said of the real table: 1c489ef's review)
    return build(con, real, synth, runs=ledger.ledger(con).numbered(), run=run, seed=seed, domains=domains,
                 holdout=holdout, aggregates=aggregates, constraints=constraints)
