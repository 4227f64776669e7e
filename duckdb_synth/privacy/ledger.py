"""The record of releases: what each run made and spent, per connection.

``Result`` is one finished run. ``record`` adds it to the ledger of the connection
it ran on, ``runs`` lists them, and ``log`` is the table ``synth_runs()`` shows:
one row per charged step of every run. The ledger lives as long as the connection
(in memory).
"""
from __future__ import annotations

import datetime as _dt
import threading
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from ..engine.decode import cast_projection
from ..engine.source import Source
from ..options import Options
from .spend import Spend

RUN_COLUMNS = pa.schema([
    ("run_id", pa.int64()), ("started_at", pa.timestamp("us")), ("source", pa.string()),
    ("mode", pa.string()), ("epsilon", pa.float64()), ("delta", pa.float64()),
    ("rows_in", pa.int64()), ("rows_out", pa.int64()), ("seconds", pa.float64()),
    ("step_no", pa.int32()), ("step", pa.string()), ("step_rho", pa.float64()),
    ("step_epsilon", pa.float64()), ("step_delta", pa.float64()), ("detail", pa.string()),
    ("total_rho", pa.float64()), ("total_epsilon", pa.float64()),
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


@dataclass
class Ledger:
    """The runs made on one connection, oldest first, and their ``synth_runs()`` rows."""

    results: list[Result] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, res: Result) -> None:
        """Record a finished run; its run id is its position, counting from 1."""
        with self.lock:
            self.rows.extend(_log_rows(len(self.results) + 1, res))
            self.results.append(res)

    def table(self) -> tuple[int, pa.Table]:
        """How many runs, and one row per step of each (the ``synth_runs()`` table), read together."""
        with self.lock:
            return len(self.results), pa.Table.from_pylist(self.rows, schema=RUN_COLUMNS)


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


def runs(con: duckdb.DuckDBPyConnection) -> list[Result]:
    """The runs made on `con`, oldest first."""
    return list(ledger(con).results)


def _log_rows(run_id: int, res: Result) -> list[dict]:
    sp = res.spend
    started = _dt.datetime.now() - _dt.timedelta(seconds=res.seconds)
    return [{
        "run_id": run_id, "started_at": started, "source": res.source.text, "mode": sp.mode,
        "epsilon": sp.epsilon, "delta": sp.delta if sp.private else None,
        # The exact input size is not released in DP modes.
        "rows_in": None if sp.private else res.rows_in,
        "rows_out": res.table.num_rows, "seconds": res.seconds, "step_no": no, "step": step["step"],
        "step_rho": step["rho"], "step_epsilon": step["epsilon"], "step_delta": step["delta"],
        "detail": step["detail"], "total_rho": sp.rho_spent if sp.private else None,
        "total_epsilon": sp.epsilon_spent,
    } for no, step in enumerate(sp.rows(), start=1)]
