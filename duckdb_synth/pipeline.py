"""One run, stage by stage, as in DESIGN.md:

source -> schema -> domain -> measure -> select -> estimate -> sample -> decode+mask -> output
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pyarrow as pa

from . import masks as masking
from .accounting import Accountant, exp_mech_eps, sigma_for
from .decode import cast_projection, cast_sql, decode_categorical, decode_numeric
from .domain import (CategoricalDomain, Domain, NumericDomain, bin_counts, categorical_domain, numeric_domain,
                     public_domain, threshold, to_float, value_sql)
from .errors import DataError, OptionError, SourceError, did_you_mean
from .estimate import Model, consistent_pairs, tree_model
from .measure import Measurement, marginal, measure
from .noise import discrete_gaussian
from .options import Options, parse_options
from .sample import sample
from .schema import Column, check_columns, read_schema
from .select import exact_network, pair_scores, private_tree, tree_parents
from .source import Source, check_source, file_reader, parse_source, quote_ident
from .spend import Spend

log = logging.getLogger(__name__)

MIN_ROWS = 50
Progress = Callable[[str, float], None]

# Shares of the zCDP budget (rho) in DP modes.
SHARE_COUNT = 0.01
SHARE_ONE_WAY = 0.40  # most of the budget for domain discovery + 1-way marginals, split over the modelled columns
SHARE_ONE_WAY_MIN = 0.10  # ... and the least: what a column gets when its values are easy to find
DISCOVERY_FRACTION = 0.01  # aim: a value held by this share of the rows passes the discovery threshold
SHARE_SELECT = 0.10  # choosing the tree of pairs
# The rest measures the pairs of the tree.
DISCOVERY_SHARE_CATEGORICAL = 0.85  # of a VARCHAR column's share: finding its frequent values (their noisy
# counts are reused as their 1-way cells; the rest of the share measures the whole 1-way histogram again)
RANGE_SHARE_NUMERIC = 0.15  # of a numeric column's share: finding its range
DECIMALS_SHARE_NUMERIC = 0.05  # of a numeric column's share: finding how many decimals it is written with
DP_BINS, EXACT_BINS = 24, 32
DP_CELLS, EXACT_CELLS = 512, 1024
EXACT_MAX_PARENTS = 3  # balanced mode: parents per column in the Bayesian network
EXACT_CELLS_PER_ROW = 2.0  # ... and cells per table (column x parents): at most 2 per row of the source,
EXACT_MIN_TABLE, EXACT_MAX_TABLE = 40_000, 400_000  # within these. More capacity memorizes rows: credit at
# 4 parents and 1M cells scored tvd3 0.100 with a 5th-percentile distance to the closest real row of
# 0.04, against 0.50 for held-out real rows (at this setting: 0.58).


@dataclass(frozen=True)
class Result:
    """A finished run: the synthetic rows and what was spent."""

    table: pa.Table
    spend: Spend
    seconds: float
    source: Source
    options: Options
    rows_in: int

    def relation(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
        """The rows as a DuckDB relation on `con`, with the source's exact column types."""
        return con.from_arrow(self.table).project(cast_projection(self.types))

    @property
    def types(self) -> list[tuple[str, str]]:
        """(column, exact DuckDB type) of the output, in order."""
        meta = self.table.schema.metadata or {}
        return [(c, meta.get(f"type:{c}".encode(), b"VARCHAR").decode()) for c in self.table.column_names]


def run(con: duckdb.DuckDBPyConnection, source: str, *, reader: duckdb.DuckDBPyConnection | None = None,
        in_sql: bool = False, progress: Progress | None = None, **options) -> Result:
    """Synthesize `source`; see ``duckdb_synth.synthesize`` for the options.

    Args:
        con: the user's connection.
        reader: the connection to read the source through (default `con`).
        in_sql: True when called from the SQL function (changes error hints).
        progress: called with (stage, fraction done).
    """
    started = time.perf_counter()
    report = progress or (lambda stage, frac: None)
    opts = parse_options(**options)
    src = parse_source(source)
    if opts.private and src.kind == "file" and file_reader(src.text) in ("read_csv", "read_json"):
        raise SourceError(
            f"{src.text}: the column types of a CSV or JSON file are guessed from its values, which no privacy "
            "budget covers; in DP modes load it into a table with declared types first "
            "(CREATE TABLE t (...); COPY t FROM 'file.csv'), or use Parquet, which declares its schema")
    reader = reader or con
    check_source(reader, src, in_sql=in_sql)
    columns = read_schema(reader, src.sql, src.parts)
    mask_map = opts.mask_map
    check_columns(columns, mask_map)
    for c in columns:
        if c.name in mask_map:
            masking.check_mask(c.name, mask_map[c.name], "VARCHAR" if c.kind == "unsupported" else c.type)
    modelled = [c for c in columns if c.name not in mask_map and not _is_identifier(c)]
    workload = _workload(opts.marginals, columns, modelled, mask_map)
    # The row-count check reads the exact count: only the fact "fewer than 50 rows" is revealed,
    # and only by refusing to run (docs/privacy.md).
    n_rows = reader.sql(f"SELECT count(*) FROM ({src.sql})").fetchall()[0][0]
    if n_rows == 0:
        raise DataError(f"the source {src.label} is empty: nothing to synthesize")
    if n_rows < MIN_ROWS:
        raise DataError(f"the source {src.label} has {n_rows} rows; synthesize() needs at least {MIN_ROWS}")

    # Two independent streams: `rng` for every DP mechanism (never written out raw), `out_rng` for
    # sampling, decoding and masks, whose raw draws do appear in the output (random tokens).
    # Without a seed each stream gets its own OS entropy, so the output stream reveals nothing of the noise.
    if opts.seed is None:
        noise_seq, out_seq = np.random.SeedSequence(), np.random.SeedSequence()
    else:
        noise_seq, out_seq = np.random.SeedSequence(opts.seed).spawn(2)
    rng, out_rng = np.random.default_rng(noise_seq), np.random.default_rng(out_seq)
    acct = Accountant.for_budget(opts.epsilon, opts.delta)
    report("reading", 0.05)
    data = _fetch(reader, src, modelled)

    n_hat, count_var = _row_count(n_rows, acct, rng)
    if acct.private and opts.delta > 1.0 / n_hat:
        log.warning("delta=%g is larger than 1/n for about %d rows: a whole record could leak with "
                    "non-negligible probability; choose delta below %.1g", opts.delta, n_hat, 1.0 / n_hat)
    report("domains", 0.15)
    values = [to_float(data.column(i)) if c.is_numeric else data.column(i) for i, c in enumerate(modelled)]
    del data
    domains = [_domain(c, values[i], acct, n_hat, len(modelled), rng) for i, c in enumerate(modelled)]
    # Column-major: every marginal reads whole columns (twice as fast as strided rows on large tables).
    codes = np.empty((len(values[0]) if values else n_rows, len(domains)), dtype=np.int64, order="F")
    for i, dom in enumerate(domains):
        codes[:, i] = dom.encode(values[i])
    del values
    sizes = [d.size for d in domains]
    report("measuring", 0.35)
    model = None
    if domains and acct.private:
        # The consensus row count of all measurements is far less noisy than the count alone.
        model, n_hat = _private_model(codes, sizes, domains, acct, n_hat, count_var, rng, report, workload)
    elif domains:
        model = _exact_model(codes, sizes, acct, workload)
    del codes
    rows_out = opts.rows if opts.rows is not None else max(int(round(n_hat)), 1)
    report("sampling", 0.8)
    if model is None:  # every column masked or generated
        synth = np.zeros((rows_out, 0), np.int64)
    elif isinstance(model, Model):
        synth = sample(model, rows_out, out_rng)
    else:
        synth = model.sample(rows_out, out_rng)
    report("decoding", 0.9)
    table = _decode(columns, domains, synth, mask_map, out_rng)
    report("done", 1.0)
    spend = Spend.from_accountant(opts.mode, acct)
    return Result(table, spend, time.perf_counter() - started, src, opts, n_rows)


# ---------------------------------------------------------------- stages


def _fetch(reader: duckdb.DuckDBPyConnection, src: Source, modelled: list[Column]) -> pa.Table:
    if not modelled:
        return pa.table({})
    exprs = ", ".join(f"{value_sql(c)} AS {quote_ident(c.name)}" for c in modelled)
    return reader.sql(f"SELECT {exprs} FROM ({src.sql})").to_arrow_table()


def _row_count(n_rows: int, acct: Accountant, rng: np.random.Generator) -> tuple[float, float]:
    if not acct.private:
        acct.charge("row count", 0.0, detail=f"exact: {n_rows} rows")
        return float(n_rows), 0.0
    rho = SHARE_COUNT * acct.rho
    sigma = sigma_for(rho)
    noisy = float(n_rows + discrete_gaussian(sigma, 1, rng)[0])
    acct.charge("row count", rho, detail=f"noisy count, sigma={sigma:.1f}")
    return max(noisy, 1.0), sigma**2


def _column_share(col: Column, acct: Accountant, n_hat: float, d: int) -> float:
    """The column's share of rho for its domain and 1-way marginal.

    What makes a value held by DISCOVERY_FRACTION of the (noisy) rows pass the
    discovery threshold, within [SHARE_ONE_WAY_MIN, SHARE_ONE_WAY] of rho / d, for
    every column (a numeric column's histogram needs about as much): on large
    tables the values are found cheaply and the rest of the budget goes to the
    marginals; on small ones the domains get the most they can.
    Depends only on released figures (n_hat) and public ones.
    """
    lo, hi = SHARE_ONE_WAY_MIN * acct.rho / d, SHARE_ONE_WAY * acct.rho / d
    sigma = (DISCOVERY_FRACTION * n_hat - 2.0) / (threshold(1.0, acct.delta_threshold / d) - 2.0)
    if sigma <= 0:
        return hi
    return float(np.clip(1.0 / (2 * sigma**2) / DISCOVERY_SHARE_CATEGORICAL, lo, hi))


def _domain(col: Column, arr: pa.ChunkedArray | np.ndarray, acct: Accountant, n_hat: float, d: int,
            rng: np.random.Generator) -> Domain:
    """The column's domain; `arr` is the raw column, or its float64 values for numeric and temporal columns."""
    share = _column_share(col, acct, n_hat, d) if acct.private else None
    pub = public_domain(col)
    if pub is not None:
        acct.charge(f"domain {col.name}", 0.0, detail=f"public: {col.type}")
        return pub
    if col.kind == "categorical":
        if share is None:
            dom = categorical_domain(col, arr, sigma=None, delta=0.0, rng=rng)
            acct.charge(f"domain {col.name}", 0.0, detail=f"exact: {len(dom.values)} values held by >= 5 rows")
            return dom
        rho = DISCOVERY_SHARE_CATEGORICAL * share
        delta = acct.delta_threshold / d
        dom = categorical_domain(col, arr, sigma=sigma_for(rho), delta=delta, rng=rng)
        acct.charge(f"domain {col.name}", rho, delta=delta,
                    detail=f"noisy counts over a threshold: {len(dom.values)} values kept")
        return dom
    x = arr
    if share is None:
        dom = numeric_domain(col, x, sigma_range=None, sigma_cells=None, n_hat=n_hat, nbins=EXACT_BINS,
                             max_cells=EXACT_CELLS, rng=rng)
        acct.charge(f"domain {col.name}", 0.0, detail=f"exact: {dom.nbins} bins over {len(dom.edges) - 1} cells")
        return dom
    # As many bins as the pair measurements can resolve: a pair table of nbins^2 cells should hold
    # a couple of noise scales per cell on average (the planned pair noise is computable up front).
    rho_pair = (1 - SHARE_COUNT - SHARE_ONE_WAY - SHARE_SELECT) * acct.rho / max(d - 1, 1)
    nbins = int(np.clip(math.sqrt(n_hat / (2.0 * sigma_for(rho_pair))), 4, DP_BINS))
    is_time = col.type.upper() == "TIME"
    rho_range = 0.0 if is_time else RANGE_SHARE_NUMERIC * share
    rho_dec = DECIMALS_SHARE_NUMERIC * share if col.kind == "numeric" else 0.0
    rho_cells = share - rho_range - rho_dec
    dom = numeric_domain(col, x, sigma_range=sigma_for(rho_range) if rho_range else None,
                         sigma_cells=sigma_for(rho_cells), n_hat=n_hat, nbins=nbins, max_cells=DP_CELLS, rng=rng,
                         sigma_decimals=sigma_for(rho_dec) if rho_dec else None)
    if rho_range:
        acct.charge(f"range {col.name}", rho_range, detail="noisy histogram on signed powers of two")
    if rho_dec:
        acct.charge(f"decimals {col.name}", rho_dec,
                    detail=f"noisy histogram of decimal places: {dom.decimals if dom.decimals is not None else 'continuous'}")
    acct.charge(f"bins {col.name}", rho_cells,
                detail=f"noisy histogram on {len(dom.edges) - 1} cells, merged into {dom.nbins} bins; also its 1-way marginal")
    return dom


def _private_model(codes: np.ndarray, sizes: list[int], domains: list[Domain], acct: Accountant, n_hat: float,
                   count_var: float, rng: np.random.Generator, report: Progress,
                   workload: list | None = None) -> tuple[Model, float]:
    d = len(domains)
    one_way: dict[int, Measurement] = {}
    for i, dom in enumerate(domains):
        if isinstance(dom, NumericDomain):
            y, var = bin_counts(dom)
            one_way[i] = Measurement((i,), y, var)
        else:
            share = _column_share(dom.column, acct, n_hat, d)
            rho = share * (1 - DISCOVERY_SHARE_CATEGORICAL) if dom.column.kind == "categorical" else share
            sigma = sigma_for(rho)
            one_way[i] = _with_discovery_counts(dom, measure(codes, sizes, (i,), sigma, rng))
            acct.charge(f"1-way {dom.column.name}", rho, detail=f"{dom.size} cells, sigma={sigma:.1f}")
    for i, dom in enumerate(domains):
        domains[i], one_way[i], codes[:, i] = _drop_faint_buckets(dom, one_way[i], codes[:, i])
        sizes[i] = domains[i].size
    if d == 1:
        n, margins, tables = consistent_pairs(d, one_way, [], (n_hat, count_var))
        return tree_model(sizes, {0: ()}, margins, tables), n
    if SELECTION == "aim":
        return _aim_model(codes, sizes, domains, one_way, acct, n_hat, rng, report, workload)
    probs = [np.maximum(one_way[i].values, 0) / max(np.maximum(one_way[i].values, 0).sum(), 1.0) for i in range(d)]
    report("selecting", 0.45)
    scores = pair_scores(codes, sizes, probs, n_hat)
    rho_round = SHARE_SELECT * acct.rho / (d - 1)
    eps_round = exp_mech_eps(rho_round)
    edges = private_tree(scores, d, eps_round, rng)
    for a, b in edges:
        acct.charge(f"select {domains[a].column.name}~{domains[b].column.name}", rho_round,
                    detail=f"exponential mechanism, eps0={eps_round:.4f}")
    rho_pair = acct.rho_left / (d - 1)
    sigma = sigma_for(rho_pair)
    report("measuring pairs", 0.6)
    pairs = []
    for a, b in edges:
        pairs.append(measure(codes, sizes, (a, b), sigma, rng))
        acct.charge(f"2-way {domains[a].column.name}~{domains[b].column.name}", rho_pair,
                    detail=f"{sizes[a] * sizes[b]} cells, sigma={sigma:.1f}")
    report("estimating", 0.7)
    n, margins, tables = consistent_pairs(d, one_way, pairs, (n_hat, count_var))
    return tree_model(sizes, tree_parents(edges, d), margins, tables), n


SELECTION = "aim"  # adaptive rounds and a graphical model; "mst": a spanning tree of pairs (faster, less accurate)
MAX_MODEL_CELLS = 1_000_000  # cap on the junction tree (cells of its cliques). Binned diamonds at eps = 1
# over 10 seeds: 0.0894 at 250k, 0.0882 at 500k, 0.0871 at 750k, 0.0863 at 1M (15 s a run against 9.5 s
# at 500k); bench/wide_speed.py 50k x 30: 38 s against 30 s. Tables that do not reach the cap are unchanged.
AIM_ITERS, AIM_WARM_ITERS = 300, 50  # estimator steps: first and final fit, and each warm-started refit
AIM_TOL, AIM_FINAL_TOL = 1e-4, 1e-6


def _aim_model(codes: np.ndarray, sizes: list[int], domains: list[Domain], one_way: dict[int, Measurement],
               acct: Accountant, n_hat: float, rng: np.random.Generator, report: Progress,
               workload: list | None = None):
    from . import pgm
    from .adaptive import adaptive_measure, default_workload
    from .junction import junction_tree

    d = len(sizes)

    def fit(measurements, warm):
        return pgm.estimate(sizes, measurements, total=n_hat, warm_start=warm,
                            iters=AIM_WARM_ITERS if warm is not None else AIM_ITERS, tol=AIM_TOL)

    def size_of(cliques):
        return junction_tree(list(cliques), d, sizes).size(sizes)

    model, measurements = adaptive_measure(
        codes, sizes, [one_way[i] for i in range(d)], acct, rng, workload=workload or default_workload(d),
        max_cells=MAX_MODEL_CELLS, total=n_hat, names=[dom.column.name for dom in domains], fit=fit,
        size_of=size_of, report=report)
    model = pgm.estimate(sizes, measurements, total=n_hat, warm_start=model, iters=AIM_ITERS, tol=AIM_FINAL_TOL)
    return model, float(model.total)


def _workload(marginals, columns: list[Column], modelled: list[Column],
              mask_map: dict[str, str]) -> list[tuple[tuple[int, ...], float]] | None:
    """The user's marginals as sorted indices into the modelled columns (None: the default workload)."""
    if not marginals:
        return None
    index = {c.name: i for i, c in enumerate(modelled)}
    folded: dict[str, list[str]] = {}
    for c in columns:
        folded.setdefault(c.name.lower(), []).append(c.name)
    out = []
    for cols, weight in marginals:
        idx = []
        for name in cols:
            real = name if any(c.name == name for c in columns) else (
                folded[name.lower()][0] if len(folded.get(name.lower(), [])) == 1 else None)
            if real is None:
                raise OptionError(f"marginals: no column '{name}'{did_you_mean(name, [c.name for c in columns])}; "
                                  f"columns: {', '.join(c.name for c in columns)}")
            if real in mask_map:
                raise OptionError(f"marginals: column '{real}' is masked (replaced by random values), "
                                  "so it is not modelled")
            if real not in index:
                raise OptionError(f"marginals: column '{real}' is a declared key, filled with fresh unique values, "
                                  "so it is not modelled")
            idx.append(index[real])
        out.append((tuple(sorted(idx)), float(weight)))
    return out


def _is_identifier(c: Column) -> bool:
    """A declared PRIMARY KEY / UNIQUE column of a type we can fill with fresh unique values."""
    return c.unique and (c.type.upper() in ("VARCHAR", "UUID") or (c.integer and c.kind == "numeric"))


def _identifiers(c: Column, n: int, rng: np.random.Generator) -> pa.Array:
    if c.type.upper() in ("VARCHAR", "UUID"):
        return masking.generate("string", n, "UUID" if c.type.upper() == "UUID" else "VARCHAR", rng)
    hi = c.type_range[1] if c.type_range else n
    if n > hi:
        raise DataError(f"column '{c.name}' is a declared key of type {c.type}, which cannot hold {n} distinct values")
    return pa.array(rng.permutation(n) + 1, type=pa.int64())


def _with_discovery_counts(dom: CategoricalDomain, m: Measurement) -> Measurement:
    """Combine a 1-way measurement with the discovery step's noisy counts of the kept values.

    Both are released; the inverse-variance average of the two (post-processing) is the
    better estimate for the kept cells, and 'other' and NULL come from the measurement alone.
    """
    if not dom.counts:
        return m
    k = len(dom.counts)
    values, variance = m.values.copy(), m.variance.copy()
    disc = np.asarray(dom.counts)
    w_meas, w_disc = 1.0 / variance[:k], 1.0 / dom.sigma**2
    values[:k] = (w_meas * values[:k] + w_disc * disc) / (w_meas + w_disc)
    variance[:k] = 1.0 / (w_meas + w_disc)
    return Measurement(m.clique, values, variance)


FAINT_Z = 2.0


def _drop_faint_buckets(dom: Domain, m: Measurement, col: np.ndarray) -> tuple[Domain, Measurement, np.ndarray]:
    """Drop the NULL and 'other' buckets whose noisy count is within noise of zero.

    Post-processing of released counts: without it a column with no NULLs would get
    a few percent of NULLs (or random 'other' strings) from noise alone. The bucket
    leaves the domain (so no later measurement spends noise on its cells, and the
    model's loss has no pinned cells to slow its fit); the few rows it may hold are
    coded as the column's first value. Returns the domain, the 1-way measurement
    and the column's codes, all renumbered.
    """
    special = [dom.null_code] if dom.null else []
    if isinstance(dom, CategoricalDomain) and dom.other:
        special.append(dom.other_code)
    drop = [k for k in special if m.values[k] < FAINT_Z * np.sqrt(m.variance[k])]
    if not drop:
        return dom, m, col
    keep = np.setdiff1d(np.arange(dom.size), drop)
    remap = np.zeros(dom.size, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    changes = {"null": False} if dom.null_code in drop else {}
    if isinstance(dom, CategoricalDomain) and dom.other_code in drop:
        changes["other"] = False
    new = replace(dom, **changes)
    assert new.size == len(keep)
    return new, Measurement(m.clique, m.values[keep], m.variance[keep]), remap[col]


def _exact_model(codes: np.ndarray, sizes: list[int], acct: Accountant, workload: list | None = None):
    if workload and len(sizes) > 1:  # the user's marginals: the graphical model fitted to them exactly
        return _exact_pgm(codes, sizes, acct, workload)
    cells = int(np.clip(EXACT_CELLS_PER_ROW * len(codes), EXACT_MIN_TABLE, EXACT_MAX_TABLE))
    parents = exact_network(codes, sizes, max_cells=cells, max_parents=EXACT_MAX_PARENTS)
    tables = {c: marginal(codes, sizes, (c, *ps)) for c, ps in parents.items()}
    acct.charge("model", 0.0, detail=f"Bayesian network on exact counts, {sum(len(p) for p in parents.values())} edges")
    return Model(tuple(sizes), parents, tables)


def _decode(columns: list[Column], domains: list[Domain], synth: np.ndarray, mask_map: dict[str, str],
            rng: np.random.Generator) -> pa.Table:
    n = synth.shape[0]
    by_name = {dom.column.name: (i, dom) for i, dom in enumerate(domains)}
    arrays, as_varchar = {}, set()
    for c in columns:
        if c.name in mask_map:
            target = c.type
            if c.kind == "unsupported" and c.type.upper() not in ("UUID", "BLOB"):
                target = "VARCHAR"
                as_varchar.add(c.name)
            arrays[c.name] = masking.generate(mask_map[c.name], n, target, rng)
            continue
        if c.name not in by_name:  # a declared identifier: unique values, independent of the data
            arrays[c.name] = _identifiers(c, n, rng)
            continue
        i, dom = by_name[c.name]
        if isinstance(dom, NumericDomain):
            arrays[c.name] = decode_numeric(dom, synth[:, i], rng)
        else:
            arrays[c.name] = decode_categorical(dom, synth[:, i], rng)
    raw = pa.table(arrays)
    con = duckdb.connect()
    try:
        con.register("_synth_raw", raw)
        out = con.sql(cast_sql(columns, "_synth_raw", as_varchar)).to_arrow_table()
    finally:
        con.close()
    types = {c.name: ("VARCHAR" if c.name in as_varchar else c.type) for c in columns}
    meta = {f"type:{k}".encode(): v.encode() for k, v in types.items()}
    return out.replace_schema_metadata(meta)


EXACT_ROUNDS_PER_COLUMN = 3
EXACT_MAX_CELLS = 1_000_000


def _exact_pgm(codes: np.ndarray, sizes: list[int], acct: Accountant, workload: list):
    from . import pgm
    from .adaptive import greedy_exact
    from .junction import junction_tree

    d = len(sizes)

    def fit(measurements, warm):
        return pgm.estimate(sizes, measurements, total=float(len(codes)), warm_start=warm,
                            iters=AIM_WARM_ITERS if warm is not None else AIM_ITERS, tol=AIM_TOL)

    def size_of(cliques):
        return junction_tree(list(cliques), d, sizes).size(sizes)

    model, measurements = greedy_exact(codes, sizes, workload=workload, max_cells=EXACT_MAX_CELLS,
                                       fit=fit, size_of=size_of, max_rounds=EXACT_ROUNDS_PER_COLUMN * d,
                                       min_gain=0.005 * len(codes))
    model = pgm.estimate(sizes, measurements, total=float(len(codes)), warm_start=model, iters=AIM_ITERS,
                         tol=AIM_FINAL_TOL)
    acct.charge("model", 0.0, detail=f"graphical model on {len(measurements) - d} exact marginals")
    return model
