"""The record of releases: what each run made and spent, per connection.

``Result`` is one finished run, ``Failure`` one that stopped after it had spent
budget (a refusal on the noisy row count, say): its spend is recorded all the same,
so a retry cannot spend again unseen. ``record`` adds either to the ledger of the
connection it ran on, ``runs`` lists the finished ones, and the ledger's ``table`` is
what ``synth_runs()`` shows: one row per charged step of every run, with its status.
The ledger lives as long as the connection (in memory).
"""
from __future__ import annotations

import datetime as _dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from ..engine.decode import cast_projection
from ..engine.source import Source
from ..errors import SynthError
from ..options import Options
from .accounting import Accountant
from .spend import Spend

RUN_COLUMNS = pa.schema([
    ("run_id", pa.int64()), ("started_at", pa.timestamp("us")), ("source", pa.string()),
    ("mode", pa.string()), ("epsilon", pa.float64()), ("delta", pa.float64()),
    ("rows_in", pa.int64()), ("rows_out", pa.int64()), ("seconds", pa.float64()),
    ("step_no", pa.int32()), ("step", pa.string()), ("step_rho", pa.float64()),
    ("step_epsilon", pa.float64()), ("step_delta", pa.float64()), ("detail", pa.string()),
    ("total_rho", pa.float64()), ("total_epsilon", pa.float64()), ("status", pa.string()),
])


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


@dataclass(frozen=True)
class Failure:
    """A run that stopped after it had spent budget: what it spent, and why it stopped."""

    spend: Spend
    seconds: float
    source: Source
    options: Options
    error: str  # the error's class, and its message when it is one of ours (never a DuckDB or bug message)


@dataclass
class Ledger:
    """The runs made on one connection, finished or failed, oldest first, and their ``synth_runs()`` rows."""

    entries: list[Result | Failure] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, entry: Result | Failure) -> None:
        """Record a run; its run id is its position, counting from 1."""
        with self.lock:
            self.rows.extend(_log_rows(len(self.entries) + 1, entry))
            self.entries.append(entry)

    def numbered(self) -> list[tuple[int, Result]]:
        """The finished runs with their run ids."""
        with self.lock:
            return [(k, e) for k, e in enumerate(self.entries, start=1) if isinstance(e, Result)]

    def table(self) -> tuple[int, pa.Table]:
        """How many runs, and one row per step of each (the ``synth_runs()`` table), read together."""
        with self.lock:
            return len(self.entries), pa.Table.from_pylist(self.rows, schema=RUN_COLUMNS)


_LEDGERS: dict[int, tuple[duckdb.DuckDBPyConnection, Ledger]] = {}


def ledger(con: duckdb.DuckDBPyConnection) -> Ledger:
    """The connection's ledger (a new, empty one for a connection not seen before)."""
    key = id(con)
    if key not in _LEDGERS or _LEDGERS[key][0] is not con:
        _LEDGERS[key] = (con, Ledger())
    return _LEDGERS[key][1]


def record(con: duckdb.DuckDBPyConnection, res: Result) -> None:
    """Add a finished run to the connection's ledger (read by ``synth_runs()``)."""
    ledger(con).add(res)


def record_failure(con: duckdb.DuckDBPyConnection, exc: BaseException) -> None:
    """Add a run that raised `exc` to the connection's ledger, if it had spent anything before."""
    failed = getattr(exc, "failed_run", None)
    if isinstance(failed, Failure):
        ledger(con).add(failed)


def runs(con: duckdb.DuckDBPyConnection) -> list[Result]:
    """The finished runs made on `con`, oldest first."""
    return [res for _, res in ledger(con).numbered()]


@contextmanager
def failures_recorded(acct: Accountant, source: Source, options: Options, started: float) -> Iterator[None]:
    """Mark an error raised inside, once `acct` has spent anything, with what was spent (``failed_run``).

    The surfaces that record runs (``duckdb_synth.run``, the SQL macro, the canary) pass it
    to ``record_failure``: a run refused or broken after a charge is in the ledger too.
    """
    try:
        yield
    except BaseException as exc:
        if acct.private and acct.rho_spent > 0 and not hasattr(exc, "failed_run"):
            what = type(exc).__name__ + (f": {exc}" if isinstance(exc, SynthError) else "")
            exc.failed_run = Failure(Spend.from_accountant(options.mode, acct), time.perf_counter() - started,
                                     source, options, what)
        raise


def _log_rows(run_id: int, entry: Result | Failure) -> list[dict]:
    sp = entry.spend
    started = _dt.datetime.now() - _dt.timedelta(seconds=entry.seconds)
    done = isinstance(entry, Result)
    return [{
        "run_id": run_id, "started_at": started, "source": entry.source.text, "mode": sp.mode,
        "epsilon": sp.epsilon, "delta": sp.delta if sp.private else None,
        # The exact input size is not released in DP modes.
        "rows_in": entry.rows_in if done and not sp.private else None,
        "rows_out": entry.table.num_rows if done else None, "seconds": entry.seconds, "step_no": no,
        "step": step["step"], "step_rho": step["rho"], "step_epsilon": step["epsilon"], "step_delta": step["delta"],
        "detail": step["detail"], "total_rho": sp.rho_spent if sp.private else None,
        "total_epsilon": sp.epsilon_spent, "status": "done" if done else f"failed: {entry.error}",
    } for no, step in enumerate(sp.rows(), start=1)]
