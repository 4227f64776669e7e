"""The Python API's run functions: ``pipeline.run``, and the run recorded in the connection's ledger."""
from __future__ import annotations

import duckdb
import pyarrow as pa

from ..engine.source import budget_key
from ..pipeline import aggregates as _aggregates, run as _run
from ..privacy.aggregates import AggregateResult
from ..privacy import store
from ..privacy.ledger import Result, record, record_failure


def run(con: duckdb.DuckDBPyConnection, source: str, *, mode: str | None = None, epsilon: float | None = None,
        delta: float | None = None, masks: dict[str, str] | None = None, rows: int | None = None,
        seed: int | None = None, marginals=None, domains=None, privacy_unit: str | None = None,
        max_rows_per_unit: int | None = None, budget: float | None = None, ledger: bool = True,
        constraints=None, progress=None) -> Result:
    """Synthesize `source` and return the rows (``.table``) with what was spent (``.spend``).

    The rows are made from the model on demand: ``.table`` holds them all; ``.output.reader()``
    yields them batch by batch (a ``pyarrow.RecordBatchReader``), so that a large `rows` can be
    written (``con.execute("COPY (SELECT * FROM r) TO 'out.parquet'")`` with ``r`` the reader
    registered) in memory bounded by one batch. Every pass yields the same rows.

    Args:
        con: a DuckDB connection; the source is read through it (TEMP tables included).
        source: a table or view name, one read-only SELECT/WITH query, or a .parquet/.csv/.json path.
        mode: 'balanced' (default; no formal DP), 'strict' (epsilon 3) or 'strictest' (epsilon 1).
        epsilon: a custom budget instead of a mode; delta defaults to 1e-6.
        masks: column -> kind (see MASK_KINDS): random values independent of the data.
        rows: how many rows to make (default: the noisy row count of the source).
        seed: makes the run reproducible (noise included); omit it for real releases.
        marginals: the workload to spend the budget on, e.g. [['age', 'sex'], ['diagnosis', 'age', 'insurance']];
            an item may carry a weight: (['age', 'sex'], 2.0) or {'columns': [...], 'weight': 2.0}.
            Default: all 2- and 3-way marginals, weight 1. A sum, {'columns': ['dept'], 'sum': 'salary',
            'clamp': [0, 200000]}, also releases each group's total of the numeric column (values clamped
            to the bounds; default: its DP domain range) and the copy's totals meet them (``Result.sums``).
        domains: public domains, column -> a list of its values (text, UUID, ENUM, BOOLEAN) or a range
            [min, max] / {'min': .., 'max': ..} (numbers; dates and times as ISO strings), e.g.
            {'state': ['CA', 'NY'], 'age': [0, 120]}. Nothing is spent to learn them; values outside
            are clamped (a value not in a list: NULL, or its row dropped if the column is NOT NULL),
            and the record says how many. CHECK constraints of a table are read the same way.
        privacy_unit: the column naming the person a row belongs to (e.g. 'patient_id'): the guarantee
            then protects a person, not a row. Needs max_rows_per_unit.
        max_rows_per_unit: the most rows kept per unit (the rest are dropped at random); every count's
            noise grows with it. The unit column comes out as fresh ids, grouping the synthetic rows
            into units of sizes like the real ones (docs/privacy.md §1.1).
        budget: the source's total epsilon in the database's ledger: set if the source has none yet,
            else the lower of the two applies; a run that would pass it is refused before it reads.
        ledger: False runs without writing the run into the database's ledger (needed for DP runs
            on a read-only database); you must then account for what it spent yourself.
        constraints: rules every synthetic row keeps, as SQL: a column against a constant
            ('age >= 18'), two columns in order ('admitted <= discharged'), a column computed from
            others ('total = net + tax'; not modelled). Public: they cost nothing. The table's CHECK
            constraints over several columns are kept too, where they are such rules.
        progress: called with (stage, fraction done).
    """
    try:
        res = _run(con, source, mode=mode, epsilon=epsilon, delta=delta, masks=masks, rows=rows, seed=seed,
                   marginals=marginals, domains=domains, privacy_unit=privacy_unit,
                   max_rows_per_unit=max_rows_per_unit, budget=budget, ledger=ledger, constraints=constraints,
                   progress=progress)
    except BaseException as exc:
        record_failure(con, exc)  # a run that failed after spending is in the ledger too
        raise
    record(con, res)
    return res


def synthesize(con: duckdb.DuckDBPyConnection, source: str, *, mode: str | None = None,
               epsilon: float | None = None, delta: float | None = None, masks: dict[str, str] | None = None,
               rows: int | None = None, seed: int | None = None, marginals=None, domains=None,
               privacy_unit: str | None = None, max_rows_per_unit: int | None = None, budget: float | None = None,
               ledger: bool = True, constraints=None, progress=None) -> duckdb.DuckDBPyRelation:
    """Like :func:`run` (the same options), but return the synthetic rows as a relation on `con` with the
    source's exact types.

    Example:
        rel = duckdb_synth.synthesize(con, "patients", mode="strict", masks={"email": "email"})
    """
    return run(con, source, mode=mode, epsilon=epsilon, delta=delta, masks=masks, rows=rows, seed=seed,
               marginals=marginals, domains=domains, privacy_unit=privacy_unit, max_rows_per_unit=max_rows_per_unit,
               budget=budget, ledger=ledger, constraints=constraints, progress=progress).relation(con)


def budget(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Per source recorded in `con`'s database: its runs, what they spent together (zCDP composition), its
    budget and the epsilon one more run at delta 1e-6 may still take (``synth_budget()`` in SQL)."""
    cur = con.cursor()
    try:
        return store.budget_table(cur)
    finally:
        cur.close()


def set_budget(con: duckdb.DuckDBPyConnection, source: str, epsilon: float, delta: float | None = None) -> str:
    """Set the total budget of `source` (a table or view of one table, or a file) in the ledger of the
    database that holds it: DP runs reading it are refused, before they read, once they would pass
    (epsilon, delta); balanced runs and runs without the ledger are refused on it. delta defaults to 1e-5.
    Returns the name the ledger files the source under."""
    cur = con.cursor()
    try:
        key = budget_key(cur, source)
        store.set_budget(con, key, epsilon, delta)
        return store.shown(cur, key)
    finally:
        cur.close()


def aggregates(con: duckdb.DuckDBPyConnection, source: str, *, reporting_length: int | None = None, columns=None,
               threshold: float | None = None, mode: str | None = None, epsilon: float | None = None,
               delta: float | None = None, seed: int | None = None, domains=None, privacy_unit: str | None = None,
               max_rows_per_unit: int | None = None, budget: float | None = None,
               ledger: bool = True) -> AggregateResult:
    """Release the number of rows of every combination of up to `reporting_length` column values
    (Synthetic Data Showcase's aggregates), noisy in DP modes; ``.table`` holds the release.

    Numbers, dates and times are counted in the bins of their DP domains (a run's), text in its
    kept values and '(other)'. Each combination whose count reaches the threshold is a row:
    ``length``, ``combination`` ('age=30..39 & sex=F'), ``count``, then one column per column
    counted with its value's label (NULL where the combination does not name the column). Counts
    are consistent: never more than any shorter combination they contain, which is also shown.

    Args:
        con, source: as for :func:`run`.
        reporting_length: the most values combined (default 3, or the number of columns if fewer).
        columns: the columns to count (default: every column a run would model).
        threshold: the least count shown. Default in DP modes: high enough that the release shows
            any combination held by at most one row with probability at most 5 %; balanced: 5.
            Any threshold is safe in DP modes (every combination, shown or not, got noise).
        mode, epsilon, delta, seed, domains, privacy_unit, max_rows_per_unit, budget, ledger: as
            for :func:`run`; the release is charged to the source's ledger like a run.
    """
    try:
        res = _aggregates(con, source, reporting_length=reporting_length, columns=columns, threshold=threshold,
                          mode=mode, epsilon=epsilon, delta=delta, seed=seed, domains=domains,
                          privacy_unit=privacy_unit, max_rows_per_unit=max_rows_per_unit, budget=budget,
                          ledger=ledger)
    except BaseException as exc:
        record_failure(con, exc)
        raise
    record(con, res)  # synth_runs() lists it (a release with ledger=False: only there)
    return res
