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

import time
import warnings
from collections.abc import Callable
from dataclasses import replace

import duckdb

from .engine.data import DuckDBRows, Rows
from .engine.output import Output
from .engine.plan import plan
from .engine.schema import read_schema
from .engine.source import Reads, open_source, source_keys
from .engine.units import UnitIds
from .options import parse_options
from .privacy.accounting import Accountant
from .privacy.clamping import clamped, kept_rows
from .privacy.discovery import domain
from .privacy.fit import Progress, fit_model
from .privacy.ledger import Result, failures_recorded
from .privacy.measure import row_count
from .privacy.noise import streams
from .privacy import store
from .privacy.spend import SEEDED_WARNING, Spend
from .privacy.units import unit_sizes

class SeededRunWarning(UserWarning):
    """A DP run with a seed: reproducible noise, so no guarantee against whoever knows the seed."""


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
    cols = plan(read_schema(reader, src.sql, src.parts), opts)
    if opts.private and opts.seed is not None:
        warnings.warn(SEEDED_WARNING, SeededRunWarning, stacklevel=2)
    # The ledger: the sources' budgets checked and the run written down before anything is read.
    recorded = opts if cols.unit is None else replace(opts, privacy_unit=cols.unit.name)  # as the column is named
    entry = store.begin(con, sources or source_keys(reader, src), src.text, recorded)
    try:
        res = _stages(reader, src, opts, cols, report, started)
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
        rows = DuckDBRows(reader, src.sql, cols.modelled, show_values=not opts.private, unit=unit)
    acct = Accountant.for_budget(opts.epsilon, opts.delta, k if cols.unit is not None else 1)
    with failures_recorded(acct, src, opts, started):  # an error after a charge carries what was spent
        report("reading", 0.05)
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
        report("measuring", 0.35)
        model, domains, n_hat = fit_model(rows.bin(domains), domains, acct, n_hat, count_var, rng, report,
                                          cols.workload)
        report("sampling", 0.8)
        output = Output(cols.columns, domains, model, cols.masks, cols.output_rows(opts.rows, n_hat), out_rng,
                        units=units)
        if not output.batched:  # made now; a larger output is made batch by batch as it is read
            output.table()
        report("done", 1.0)
    return Result(output, Spend.from_accountant(opts.mode, acct, cols.unit.name if cols.unit else None,
                                                opts.seed is not None),
                  time.perf_counter() - started, src, opts, n_rows)
