"""The record of releases: what each run made and spent, per connection.

``Result`` is one finished run, as the caller gets it (the rows and what was spent);
``Failure`` one that stopped after it had spent budget (a refusal on the noisy row
count, say). The ledger of the connection keeps a ``RunRecord`` of either: what it
spent and a fingerprint of its output rows (by which a report recognises them), never
the rows themselves, so recording costs no memory that grows with the output. A
failed run's spend is recorded all the same, so a retry cannot spend again unseen.
``runs`` lists the finished runs; the ledger's ``table`` is what ``synth_runs()``
shows beside the database's ledger (``privacy/store.py``, which records every run in
the database itself): the runs it does not hold (``ledger := false``). This one lives
as long as the connection object (in memory) and serves the reports, which recognise
a run's output by its fingerprint.
"""
from __future__ import annotations

import datetime as _dt
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property

import duckdb
import pyarrow as pa

from ..engine.decode import cast_projection
from ..engine.output import Output, Stamp
from ..engine.source import Source
from ..errors import SynthError
from ..options import Options
from .accounting import Accountant
from .aggregates import AggregateResult
from .spend import Spend

RUN_COLUMNS = pa.schema([
    ("run_id", pa.int64()), ("started_at", pa.timestamp("us")), ("source", pa.string()),
    ("mode", pa.string()), ("epsilon", pa.float64()), ("delta", pa.float64()),
    ("rows_in", pa.int64()), ("rows_out", pa.int64()), ("seconds", pa.float64()),
    ("step_no", pa.int32()), ("step", pa.string()), ("step_rho", pa.float64()),
    ("step_epsilon", pa.float64()), ("step_delta", pa.float64()), ("detail", pa.string()),
    ("total_rho", pa.float64()), ("total_epsilon", pa.float64()), ("status", pa.string()),
    ("privacy_unit", pa.string()), ("max_rows_per_unit", pa.int64()), ("seeded", pa.bool_()),
    ("sources", pa.list_(pa.string())), ("in_ledger", pa.bool_()), ("ledger", pa.string()),
])


@dataclass(frozen=True)
class Result:
    """A finished run: the synthetic rows and what was spent.

    The rows are made from the model on demand (``output``): ``table`` holds them all in memory;
    ``output.reader()`` streams them batch by batch (for outputs too large for memory: DuckDB's
    ``COPY`` or ``CREATE TABLE AS`` over the reader).
    """

    output: Output = field(repr=False)  # holds the model: not in the repr
    spend: Spend
    seconds: float
    source: Source
    options: Options
    rows_in: int = field(repr=False)  # exact: for the data owner, never shown (the ledger keeps it in balanced mode)
    run_id: int | None = None  # in the database's ledger (privacy/store.py); None: not recorded there
    sums: tuple = ()  # the workload's sums as released (privacy/sums.py: SumRelease), in the order given

    @cached_property
    def table(self) -> pa.Table:
        """All the rows, as one Arrow table (the source's exact types in the schema's metadata)."""
        return self.output.table()

    @property
    def num_rows(self) -> int:
        return self.output.num_rows

    def relation(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
        """The rows as a DuckDB relation on `con`, with the source's exact column types."""
        return con.from_arrow(self.table).project(cast_projection(self.types))

    @property
    def types(self) -> list[tuple[str, str]]:
        """(column, exact DuckDB type) of the output, in order."""
        return self.output.types


@dataclass(frozen=True)
class Failure:
    """A run that stopped after it had spent budget: what it spent, and why it stopped."""

    spend: Spend
    seconds: float
    source: Source
    options: Options
    error: str  # the error's class, and its message when it is one of ours (never a DuckDB or bug message)
    run_id: int | None = None  # in the database's ledger; None: not recorded there


@dataclass(frozen=True)
class RunRecord:
    """What the ledger keeps of a run: what it spent, and how to recognise its output, not the rows."""

    run_id: int | None  # in the database's ledger (None: not recorded there, ``ledger := false``)
    source: Source
    options: Options
    spend: Spend
    seconds: float
    rows_in: int | None  # None in DP modes: the exact input size is not released
    rows_out: int | None  # None for a failed run
    columns: tuple[str, ...]
    stamp: Stamp  # the output rows' fingerprint, once they have all been made (engine/output.py)
    status: str  # 'done', or 'failed: ' and why
    sums: tuple = ()  # the run's sums as released (privacy/sums.py: SumRelease): the report reads their bounds

    @property
    def fingerprint(self) -> tuple[int, int] | None:
        """Of the output rows as a report reads them (``data.output_fingerprint``); None until they
        have all been made once (a large output written batch by batch: when its writing ends)."""
        return self.stamp.value

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass
class Ledger:
    """The runs made on one connection, finished or failed, oldest first, and their ``synth_runs()`` rows."""

    entries: list[RunRecord] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, entry: Result | Failure | AggregateResult) -> RunRecord:
        """Record a run (or an aggregate release), under its run id in the database's ledger."""
        source = entry.source
        if isinstance(entry, AggregateResult):
            sp = entry.spend
            source = replace(source, text=entry.text)
            rest = (None if sp.private else entry.rows_in, entry.num_rows, tuple(entry.table.column_names), Stamp(),
                    "done")
        elif isinstance(entry, Result):
            sp = entry.spend
            rest = (None if sp.private else entry.rows_in, entry.num_rows, tuple(entry.output.column_names),
                    entry.output.stamp, "done")
        else:
            rest = (None, None, (), Stamp(), f"failed: {entry.error}")
        with self.lock:
            rec = RunRecord(entry.run_id, source, entry.options, entry.spend, entry.seconds, *rest,
                            sums=entry.sums if isinstance(entry, Result) else ())
            if rec.run_id is None:  # the database's ledger lists the others
                self.rows.extend(_log_rows(rec))
            self.entries.append(rec)
        return rec

    def numbered(self) -> list[RunRecord]:
        """The finished runs."""
        with self.lock:
            return [e for e in self.entries if e.done]

    def table(self) -> pa.Table:
        """One row per step of each run not in the database's ledger (``synth_runs()`` adds them)."""
        with self.lock:
            return pa.Table.from_pylist(self.rows, schema=RUN_COLUMNS)


_LEDGERS: dict[int, tuple[weakref.ref, Ledger]] = {}


def ledger(con: duckdb.DuckDBPyConnection) -> Ledger:
    """The connection's ledger (a new, empty one for a connection not seen before); it goes with the
    connection object (held weakly: recording keeps no connection alive)."""
    key = id(con)
    if key not in _LEDGERS or _LEDGERS[key][0]() is not con:
        _LEDGERS[key] = (weakref.ref(con, lambda _, key=key: _LEDGERS.pop(key, None)), Ledger())
    return _LEDGERS[key][1]


def record(con: duckdb.DuckDBPyConnection, res: Result) -> None:
    """Add a finished run to the connection's ledger (read by ``synth_runs()``)."""
    ledger(con).add(res)


def record_failure(con: duckdb.DuckDBPyConnection, exc: BaseException) -> None:
    """Add a run that raised `exc` to the connection's ledger, if it had begun reading the source (DP modes)."""
    failed = getattr(exc, "failed_run", None)
    if isinstance(failed, Failure):
        ledger(con).add(failed)


def runs(con: duckdb.DuckDBPyConnection) -> list[RunRecord]:
    """What each finished run on `con` spent, oldest first (``synth_runs()`` lists failed runs too)."""
    return ledger(con).numbered()


@contextmanager
def failures_recorded(acct: Accountant, source: Source, options: Options, started: float) -> Iterator[None]:
    """Mark an error raised inside, once `acct` has spent anything, with what was spent (``failed_run``); in DP
    modes, an error reading the source, or one not of ours (a bug, an interrupt), with the whole budget.

    The block reads the source from its first step (the row count), and whether a source query fails can
    depend on its rows (`CASE WHEN salary >= 55000 THEN 'x'::INT END`): a run that failed there had cost
    nothing, and one after a first charge 1 % of a run, so an error answered a question about a row, again and
    again, around any budget (the review of 1c489ef read a salary to the cent in 30 runs). The rest of the
    budget is charged as a last step ("failed"), so each such answer costs a whole run. Our own refusals are
    made on released figures (too few rows by the noisy count) and cost what was spent.

    The surfaces that record runs (``duckdb_synth.run``, the SQL macro, the canary) pass it
    to ``record_failure``: a run refused or broken after a charge is in the ledger too.
    """
    try:
        yield
    except BaseException as exc:
        if acct.private and not hasattr(exc, "failed_run"):
            rest = max(acct.delta_threshold - acct.delta_threshold_spent, 0.0)
            if (getattr(exc, "reading", False) or not isinstance(exc, SynthError)) and (acct.rho_left > 0 or rest > 0):
                acct.charge("failed", acct.rho_left, rest, "the run failed reading the source (or on an error not "
                            "its own): the rest of its budget is charged, as whether a source query fails can "
                            "depend on its rows")
            if acct.rho_spent > 0:
                what = type(exc).__name__ + (f": {exc}" if isinstance(exc, SynthError) else "")
                spend = Spend.from_accountant(options.mode, acct, options.privacy_unit, options.seed is not None)
                exc.failed_run = Failure(spend, time.perf_counter() - started, source, options, what)
        raise


def _log_rows(rec: RunRecord) -> list[dict]:
    sp = rec.spend
    started = _dt.datetime.now() - _dt.timedelta(seconds=rec.seconds)
    return [{
        "run_id": rec.run_id, "started_at": started, "source": rec.source.text, "mode": sp.mode,
        "epsilon": sp.epsilon, "delta": sp.delta if sp.private else None, "rows_in": rec.rows_in,
        "rows_out": rec.rows_out, "seconds": rec.seconds, "step_no": no, "step": step["step"],
        "step_rho": step["rho"], "step_epsilon": step["epsilon"], "step_delta": step["delta"],
        "detail": step["detail"], "total_rho": sp.rho_spent if sp.private else None,
        "total_epsilon": sp.epsilon_spent, "status": rec.status,
        "privacy_unit": sp.unit, "max_rows_per_unit": sp.unit_rows if sp.unit is not None else None,
        "seeded": rec.options.seed is not None, "sources": None, "in_ledger": False, "ledger": None,
    } for no, step in enumerate(sp.rows(), start=1)]
