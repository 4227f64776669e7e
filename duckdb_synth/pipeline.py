"""One run, stage by stage, as in DESIGN.md:

source -> schema -> domain -> measure -> select -> estimate -> sample -> decode+mask -> output

``run`` strings the stages together and does nothing else: each stage's logic is in
its module. The engine (``duckdb_synth/engine/``) computes exactly and answers the counts
the stages ask of the data; the privacy layer (``duckdb_synth/privacy/``) decides which
counts a stage may see, adds their noise and charges them. Before anything is read, ``run``
checks the sources' budgets and writes the run into the database's ledger
(``privacy/store.py``), and writes what it spent when it ends; the surfaces
(``duckdb_synth.run``, the SQL macro, the CLI) add its result to the connection's record
that reports read.
"""
from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace

import duckdb

import numpy as np

from .engine.data import Binned, DuckDBRows, Rows
from .engine.output import Output
from .engine.plan import named_as_columns, plan
from .engine.rules import modelled_away
from .engine.schema import composite_keys, foreign_keys, read_schema, zoned_literals
from .engine.source import Reads, open_source, source_keys
from .engine.units import UnitIds
from .errors import OptionError, did_you_mean
from .options import _number, _whole, parse_options
from .privacy.aggregates import (AGGREGATE_COLUMNS, MAX_SET_CELLS, AggregateResult, cell_cap, code_labels, release,
                                 release_table, release_text, sensitivity_sq)
from .privacy.accounting import Accountant
from .privacy.clamping import clamped, kept_rows
from .privacy.discovery import FREE_TEXT_ADVICE, domain, group_least, log as discovery_log
from .privacy.fit import Progress, fit_model, free_text
from .privacy.ledger import Result, failures_recorded
from .privacy.measure import row_count
from .privacy.noise import streams
from .privacy import store
from .privacy.spend import SEEDED_WARNING, Spend
from .privacy.sums import charge_sums, measure_sums, targets, with_sums
from .privacy.units import unit_sizes

class SeededRunWarning(UserWarning):
    """A DP run with a seed: reproducible noise, so no guarantee against whoever knows the seed."""

log = logging.getLogger(__name__)


def run(con: duckdb.DuckDBPyConnection, source: str, *, reader: duckdb.DuckDBPyConnection | None = None,
        in_sql: bool = False, progress: Progress | None = None, sources: Reads | None = None,
        **options) -> Result:
    """Synthesize `source`; see ``duckdb_synth.synthesize`` for the options.

    Args:
        con: the user's connection.
        reader: the connection to read the source through (default `con`).
        in_sql: True when called from the SQL function (changes error hints).
        progress: called with (stage, fraction done).
        sources: what the ledger files the run under (default: what the source reads, ``source_keys``).
    """
    started = time.perf_counter()
    report = progress or (lambda stage, frac: None)
    opts = parse_options(**options)
    reader = reader or con
    src = open_source(reader, source, private=opts.private, in_sql=in_sql)
    schema = read_schema(reader, src.sql, src.rows_of)
    opts = named_as_columns(schema, opts)
    if opts.constraints:  # (time literals beside a TIMESTAMPTZ column as the session reads them: schema.zoned_literals)
        types = {c.name.lower(): c.type for c in schema}
        opts = replace(opts, constraints=tuple(zoned_literals(reader, c, types) if isinstance(c, str) else c
                                               for c in opts.constraints))
    cols = plan(schema, opts)
    kept = {c.name for c in cols.columns}
    for names, referenced in foreign_keys(reader, src.rows_of):
        if set(names) <= kept:
            log.warning("the FOREIGN KEY (%s) references %s: the copy's values of %s are synthetic, not read from %s, so "
                        "some may not be keys there, and a table with that constraint refuses those rows",
                        ", ".join(names), referenced, "that column" if len(names) == 1 else "those columns", referenced)
    for kind, names in composite_keys(reader, src.rows_of):
        if not set(names) <= kept:
            continue  # (a query leaving one of its columns out: no key of the rows it reads)
        log.warning("the %s (%s) spans several columns: the copy does not keep such a key (a key of one column it "
                    "does), so its rows may repeat a combination, and a table with that constraint refuses them",
                    kind, ", ".join(names))
    if opts.private and opts.seed is not None:
        warnings.warn(SEEDED_WARNING, SeededRunWarning, stacklevel=2)
    return _ledgered(con, reader, src, opts, cols, sources, lambda: _stages(reader, src, opts, cols, report, started),
                     started)


def _ledgered(con, reader, src, opts, cols, sources, body, started: float, text: str | None = None):
    """`body()` between the ledger's two writes: the sources' budgets checked and the run written down
    before anything is read, what it spent written when it ends (or fails)."""
    recorded = opts if cols.unit is None else replace(opts, privacy_unit=cols.unit.name)  # as the column is named
    entry = store.begin(con, sources or source_keys(reader, src), text or src.text, recorded)
    try:
        res = body()
    except BaseException as exc:
        failed = getattr(exc, "failed_run", None)
        spend = failed.spend if failed is not None else Spend.from_accountant(opts.mode, Accountant.for_budget(
            opts.epsilon, opts.delta))
        entry.finish(spend, f"failed: {failed.error if failed else type(exc).__name__}", None, None,
                     time.perf_counter() - started)
        if failed is not None:
            exc.failed_run = replace(failed, run_id=entry.run_id)
        raise
    entry.finish(res.spend, "done", None if opts.private else res.rows_in, res.num_rows, res.seconds)
    return replace(res, run_id=entry.run_id)


def _stages(reader: duckdb.DuckDBPyConnection | None, src, opts, cols, report: Progress, started: float,
            engine: Callable[..., Rows] | None = None) -> Result:
    """The stages that read the data, from the row count to the output.

    `engine(columns, show_values=..., unit=...)` gives the ``Rows`` the stages ask (default: DuckDB
    through `reader`; ``duckdb_synth/spark.py`` passes Spark's).
    """
    rng, out_rng = streams(opts.seed)  # noise; and sampling, decoding and masks
    k = opts.max_rows_per_unit
    # A privacy unit: at most k rows of each, chosen at random by a salted hash of the row (engine/units.py);
    # the stages see no others.
    unit = None if cols.unit is None else (cols.unit, k, int(rng.integers(2**63)))
    # The engine that reads the data; in DP modes its errors quote no row's value.
    if engine is not None:
        rows = engine(cols.modelled, show_values=not opts.private, unit=unit)
    else:
        rows = DuckDBRows(reader, src.sql, cols.modelled, show_values=not opts.private, unit=unit,
                          exact=not opts.private)
    acct = Accountant.for_budget(opts.epsilon, opts.delta, k if cols.unit is not None else 1)
    report("reading", 0.05)  # (before the block: a progress callback failing here has read nothing, review of 4ab42dd)
    with failures_recorded(acct, src, opts, started):  # an error after a charge carries what was spent
        n_rows, n_hat, count_var = row_count(rows, src.label, acct, rng)
        units = None
        if cols.unit is not None:
            sizes = unit_sizes(rows.unit_sizes(), cols.unit.name, k, acct, rng)
            units = UnitIds(cols.unit, sizes, k, int(out_rng.integers(2**63)))
        report("domains", 0.15)  # the engine reads the modelled columns when the first domain asks
        d = len(cols.modelled)
        domains = [domain(c, rows.column(i), acct, n_hat, d, rng, n_var=count_var) for i, c in enumerate(cols.modelled)]
        outside = [clamped(c, rows.column(i), acct, n_hat, d, rng) for i, c in enumerate(cols.modelled)]
        n_hat, count_var = kept_rows(n_hat, count_var, outside)
        sum_sigmas = charge_sums(cols.sums, domains, acct)  # before the model takes the rest of the budget
        report("measuring", 0.35)
        binned = rows.bin(domains, keep=[s.value for s in cols.sums]) if cols.sums else rows.bin(domains)
        model, domains, n_hat = fit_model(binned, domains, acct, n_hat, count_var, rng, report,
                                          with_sums(cols.workload, cols.sums))
        sums = measure_sums(binned, cols.sums, domains, sum_sigmas, rng, code_labels)
        del binned
        report("sampling", 0.8)
        output = Output(cols.columns, domains, model, cols.masks, cols.output_rows(opts.rows, n_hat), out_rng,
                        units=units, sums=targets(cols.sums, sums, n_hat, exact=not opts.private),
                        rules=cols.rules, derived_rare=None if opts.private else derived_rare(
                            rows, cols.columns, cols.rules, None if cols.unit is None else (cols.unit, k)))
        if not output.batched:  # made now; a larger output is made batch by batch as it is read
            output.table()
        report("done", 1.0)
    return Result(output, Spend.from_accountant(opts.mode, acct, cols.unit.name if cols.unit else None,
                                                opts.seed is not None),
                  time.perf_counter() - started, src, opts, n_rows, sums=tuple(sums))


def derived_rare(rows: Rows, columns: Sequence, rules: Sequence, unit=None) -> dict:
    """Balanced mode: the values 1-4 source rows hold of each number, date or time column a rule derives from others
    (``CHECK (total = net + tax)``), which no output row may hold either (``decode._rules_off_rare``); with a privacy
    unit (its column, k), a value's rows counted at most k a unit, as its bound keeps them."""
    made = modelled_away(rules)
    wanted = [c for c in columns if c.name in made and c.is_numeric]
    return rows.rare_values(wanted, group_least(unit[1] if unit else 1), unit) if wanted else {}


MAX_COLUMN_SETS = 200_000  # reporting_length and columns whose column sets pass this are refused


DEFAULT_LENGTH = 3  # combinations of up to 3 values, or of every column if fewer


def aggregates(con: duckdb.DuckDBPyConnection, source: str, *, reporting_length: int | None = None,
               columns: Sequence[str] | None = None, threshold: float | None = None,
               reader: duckdb.DuckDBPyConnection | None = None, in_sql: bool = False,
               sources: Reads | None = None, **options) -> AggregateResult:
    """Release the counts of every combination of up to `reporting_length` values of `columns`
    (``privacy/aggregates.py``); see ``duckdb_synth.aggregates`` for the options."""
    started = time.perf_counter()
    k = None if reporting_length is None else _whole("reporting_length", reporting_length)
    if k is not None and k < 1:
        raise OptionError(f"reporting_length must be a whole number >= 1, got {reporting_length!r}")
    bar = None if threshold is None else _at_least("threshold", _number("threshold", threshold), 1.0)
    opts = parse_options(**options)
    reader = reader or con
    src = open_source(reader, source, private=opts.private, in_sql=in_sql)
    schema = read_schema(reader, src.sql, src.rows_of)
    opts = named_as_columns(schema, opts)
    names = {c.name for c in schema}
    chosen = None
    if columns is not None:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise OptionError(f"columns must be a list of column names, got {columns!r}")
        chosen = []
        for name in columns:
            folded = sorted(n for n in names if n.lower() == name.lower())
            if name not in names and len(folded) > 1:
                raise OptionError(f"columns: '{name}' matches columns {', '.join(map(repr, folded))} of {src.label}, "
                                  "which differ only by case; give one exactly")
            match = name if name in names else (folded[0] if folded else None)
            if match is None:
                raise OptionError(f"columns: no column '{name}' in {src.label}{did_you_mean(name, sorted(names))}")
            if match not in chosen:
                chosen.append(match)
        keep = set(chosen) | {n for n in names if opts.privacy_unit and n.lower() == opts.privacy_unit.lower()}
        schema = [c for c in schema if c.name in keep]
    cols = plan(schema, opts, rules=False)
    if chosen is not None:
        modelled = {c.name: c for c in cols.modelled}
        for name in chosen:
            if name not in modelled:
                why = ("is the privacy unit" if cols.unit is not None and name == cols.unit.name
                       else "is masked" if name in cols.masks
                       else "is a key (declared unique): each of its values is one row")
                raise OptionError(f"columns: column '{name}' {why}; leave it out of columns")
        wanted = [modelled[name] for name in chosen]
    else:
        wanted = list(cols.modelled)
    if not wanted:
        raise OptionError(f"no column to count in {src.label}: give columns := [...]")
    for c in wanted:
        if c.name.lower() in AGGREGATE_COLUMNS:
            raise OptionError(f"column '{c.name}' has the name of a column of the release "
                              f"({', '.join(AGGREGATE_COLUMNS)}): rename it in a query or leave it out of columns")
    if k is None:
        k = min(DEFAULT_LENGTH, len(wanted))
    if k > len(wanted):
        raise OptionError(f"reporting_length := {k} is more than the {len(wanted)} columns counted "
                          f"({', '.join(c.name for c in wanted)})")
    caps = sorted((cell_cap(c) for c in wanted), reverse=True)
    if math.prod(caps[:k]) > MAX_SET_CELLS:
        raise OptionError(f"reporting_length := {k}: sets of {k} of these columns could hold up to "
                          f"{math.prod(caps[:k]):,} combinations each (their domains hold up to {caps[0]} values), "
                          f"more than {MAX_SET_CELLS:,}: give a shorter reporting_length or fewer columns")
    if sensitivity_sq(len(wanted), k) > MAX_COLUMN_SETS:
        raise OptionError(f"{len(wanted)} columns up to {k} at a time make {sensitivity_sq(len(wanted), k):,} column "
                          f"sets (at most {MAX_COLUMN_SETS:,}): give fewer columns or a shorter reporting_length")
    if opts.private and opts.seed is not None:
        warnings.warn(SEEDED_WARNING, SeededRunWarning, stacklevel=2)
    agg_cols = replace(cols, modelled=wanted)
    text = release_text(src.text)
    return _ledgered(con, reader, src, opts, agg_cols, sources,
                     lambda: _aggregate_stages(reader, src, opts, agg_cols, k, bar, started, chosen is not None),
                     started, text)


def _at_least(name: str, value, least: float):
    if not math.isfinite(value) or value < least:
        raise OptionError(f"{name} must be a number >= {least:g}, got {value!r}")
    return value


def _aggregate_stages(reader, src, opts, cols, k: int, bar: float | None, started: float,
                      named: bool) -> AggregateResult:
    """Row count, the columns' domains (as a run's), then the counts of their combinations."""
    rng, _ = streams(opts.seed)
    units_k = opts.max_rows_per_unit
    unit = None if cols.unit is None else (cols.unit, units_k, int(rng.integers(2**63)))
    rows = DuckDBRows(reader, src.sql, cols.modelled, show_values=not opts.private, unit=unit, exact=not opts.private)
    acct = Accountant.for_budget(opts.epsilon, opts.delta, units_k if cols.unit is not None else 1)
    with failures_recorded(acct, src, opts, started):
        n_rows, n_hat, count_var = row_count(rows, src.label, acct, rng)
        d = len(cols.modelled)
        advice = FREE_TEXT_ADVICE.set(False)  # the synthesizer's advice on free text; the aggregates' own below
        try:
            domains = [domain(c, rows.column(i), acct, n_hat, d, rng, n_var=count_var, confirm_ends=False)
                       for i, c in enumerate(cols.modelled)]
        finally:
            FREE_TEXT_ADVICE.reset(advice)
        binned = rows.bin(domains)
        # Free text (no value held by many rows, learned from the DP domain): left out unless named, as
        # each column counted raises every count's noise.
        texts = free_text(domains)
        keep = [i for i in range(len(domains)) if named or i not in texts]
        for i, dom in enumerate(domains):
            if i in texts:
                discovery_log.warning("column '%s' has no frequent value (free text, or an identifier?): %s",
                                      dom.column.name, "only its frequent values and '(other)' are counted" if named
                                      else "left out of the aggregates (name it in columns to count it)")
        if not keep:
            raise OptionError("no column to count: every column is free text (no frequent value); name columns "
                              "with columns := [...]")
        k = min(k, len(keep))
        domains = [domains[i] for i in keep]
        binned = Binned(np.asfortranarray(binned.codes[:, keep]), [binned.sizes[i] for i in keep])
        names = [cols.modelled[i].name for i in keep]
        rel = release(binned, domains, k, acct, rng, bar, names)
        table = release_table(rel, names, [code_labels(d) for d in domains])  # (a failure here: recorded, as above)
    spend = Spend.from_accountant(opts.mode, acct, cols.unit.name if cols.unit else None, opts.seed is not None)
    return AggregateResult(table, spend, time.perf_counter() - started, src, opts, n_rows, k, tuple(names),
                           rel.sigma, rel.bar, rel.cells, domains=tuple(domains), sets=rel.sets)


