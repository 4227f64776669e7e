"""The ledger in the database: every run and every source's budget, in tables of the user's database.

DESIGN.md §6: the record of what was released from a source must survive the connection and
the process, and a budget per source must hold before any data is read. So each run writes to
three tables of the schema ``duckdb_synth`` of the connection's current database:

* ``runs``: one row per run, DP or balanced, with the sources it read (``sources``: the tables a
  query or view reads, a table's name, or a file's path), what it was allowed and what it spent.
  The row is written *before* the data is read, with status ``running`` and the whole budget of
  the run as its spend, and updated when the run ends: a run killed half-way keeps counting its
  whole budget (status ``running`` forever), a run that failed after it spent counts what it
  spent, one refused before it spent is deleted.
* ``steps``: the steps of each finished or failed run, as ``synth_runs()`` lists them.
* ``budgets``: a total (epsilon, delta) per source, set by ``synth_set_budget`` or a run's
  ``budget :=``. A DP run whose sources would pass their budget is refused before it reads.

Runs compose in zCDP (docs/privacy.md §7): a source's runs spend sum(rho) and sum(threshold
delta); against a budget (eps_B, delta_B) that is fine while cdp_eps(sum rho, delta_B - sum
threshold delta) <= eps_B. Each run's rho is in its own unit's terms (a row, or a person with
``privacy_unit``): the ledger adds them as recorded.

Writes go through a cursor of their own, each in a transaction of its own, so the record is
committed whatever the user's transaction does. Within a process, a lock makes the budget check
and the insert of the run one step; DuckDB lets one process write a database file at a time.
"""
from __future__ import annotations

import datetime as _dt
import math
import threading
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from ..errors import OptionError, SynthError
from ..options import DEFAULT_DELTA, Options
from .accounting import cdp_eps, cdp_rho

SCHEMA = "duckdb_synth"
DEFAULT_BUDGET_DELTA = 1e-5  # a budget's delta when none is given: room for the thresholded steps of many runs
_LOCK = threading.RLock()

_DDL = [
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.runs (
        run_id BIGINT, started_at TIMESTAMP, finished_at TIMESTAMP, source VARCHAR, sources VARCHAR[],
        mode VARCHAR, epsilon DOUBLE, delta DOUBLE, privacy_unit VARCHAR, max_rows_per_unit BIGINT,
        seeded BOOLEAN, rho_spent DOUBLE, delta_threshold_spent DOUBLE, epsilon_spent DOUBLE, rows_in BIGINT,
        rows_out BIGINT, seconds DOUBLE, status VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.steps (
        run_id BIGINT, step_no INTEGER, step VARCHAR, rho DOUBLE, epsilon DOUBLE, delta DOUBLE, detail VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.budgets (
        source VARCHAR, epsilon DOUBLE, delta DOUBLE, set_at TIMESTAMP)""",
]


class LedgerError(SynthError):
    """A run the ledger refuses: over a source's budget, or a DP run on a database it cannot write."""


@dataclass(frozen=True)
class Budget:
    epsilon: float
    delta: float


@dataclass(frozen=True)
class Spent:
    """What a source's runs have spent so far (every run's rho in its own unit's terms)."""

    runs: int = 0
    private_runs: int = 0
    rho: float = 0.0
    delta_threshold: float = 0.0
    delta_asked: float = 0.0  # the sum of the DP runs' deltas

    def epsilon_at(self, delta: float) -> float:
        """The epsilon of all the runs together at a total delta (None-safe: inf when delta is used up)."""
        if self.rho <= 0:
            return 0.0
        room = delta - self.delta_threshold
        return cdp_eps(self.rho, room) if room > 0 else math.inf


def fits(spent: Spent, rho: float, delta_threshold: float, budget: Budget) -> bool:
    """Whether runs that spent `spent`, and one more of (rho, delta_threshold), stay within `budget`."""
    total = Spent(rho=spent.rho + rho, delta_threshold=spent.delta_threshold + delta_threshold)
    return total.epsilon_at(budget.delta) <= budget.epsilon * (1 + 1e-9)


def epsilon_left(spent: Spent, budget: Budget, delta: float = DEFAULT_DELTA) -> float:
    """The largest epsilon one more run at `delta` may ask for within `budget` (0: none)."""
    def ok(eps: float) -> bool:
        return eps <= 0 or fits(spent, cdp_rho(eps, delta / 2), delta / 2, budget)
    if not ok(1e-9):
        return 0.0
    lo, hi = 0.0, budget.epsilon
    if ok(hi):
        return hi
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def planned(opts: Options) -> tuple[float, float]:
    """The most a run of these options can spend: (rho for its unit, threshold delta)."""
    if not opts.private:
        return 0.0, 0.0
    return cdp_rho(opts.epsilon, opts.delta / 2), opts.delta / 2


# ---------------------------------------------------------------- reading


def writable(con: duckdb.DuckDBPyConnection) -> bool:
    rows = con.execute("SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return bool(rows) and not rows[0][0]


def present(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the current database holds the ledger's tables."""
    n = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                    "AND schema_name = ? AND table_name IN ('runs', 'steps', 'budgets')", [SCHEMA]).fetchall()[0][0]
    return n == 3


def spent(con: duckdb.DuckDBPyConnection, source: str) -> Spent:
    if not present(con):
        return Spent()
    row = con.execute(
        f"SELECT count(*), count(epsilon), coalesce(sum(rho_spent), 0), coalesce(sum(delta_threshold_spent), 0), "
        f"coalesce(sum(delta), 0) FROM {SCHEMA}.runs WHERE list_contains(sources, ?)", [source]).fetchall()[0]
    return Spent(int(row[0]), int(row[1]), float(row[2]), float(row[3]), float(row[4]))


def budget(con: duckdb.DuckDBPyConnection, source: str) -> Budget | None:
    if not present(con):
        return None
    rows = con.execute(f"SELECT epsilon, delta FROM {SCHEMA}.budgets WHERE source = ? ORDER BY set_at DESC LIMIT 1",
                       [source]).fetchall()
    return Budget(float(rows[0][0]), float(rows[0][1])) if rows else None


BUDGET_COLUMNS = pa.schema([
    ("source", pa.string()), ("runs", pa.int64()), ("dp_runs", pa.int64()), ("rho_spent", pa.float64()),
    ("epsilon_spent", pa.float64()), ("delta_spent", pa.float64()), ("budget_epsilon", pa.float64()),
    ("budget_delta", pa.float64()), ("epsilon_left", pa.float64()), ("units", pa.string()),
    ("last_run", pa.timestamp("us")),
])


def budget_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``synth_budget()``: per source, its runs, what they spent (epsilon at the budget's delta, or at the sum
    of the runs' deltas), the budget and the epsilon one more run at delta 1e-6 may still take."""
    if not present(con):
        return BUDGET_COLUMNS.empty_table()
    sources = con.execute(
        f"""SELECT s, max(started_at), string_agg(DISTINCT coalesce(privacy_unit || ' (at most ' || max_rows_per_unit
                || ' rows)', 'row'), ', ' ORDER BY coalesce(privacy_unit || ' (at most ' || max_rows_per_unit
                || ' rows)', 'row'))
            FROM (SELECT unnest(sources) AS s, * FROM {SCHEMA}.runs) GROUP BY s
            UNION ALL SELECT source, NULL, NULL FROM {SCHEMA}.budgets
                WHERE source NOT IN (SELECT unnest(sources) FROM {SCHEMA}.runs)
            ORDER BY 1""").fetchall()
    out = []
    for source, last, units in dict((r[0], r) for r in sources).values():
        sp, b = spent(con, source), budget(con, source)
        at = b.delta if b is not None else sp.delta_asked
        out.append({
            "source": source, "runs": sp.runs, "dp_runs": sp.private_runs, "rho_spent": sp.rho,
            "epsilon_spent": sp.epsilon_at(at) if sp.private_runs else 0.0,
            "delta_spent": at if sp.private_runs else 0.0,
            "budget_epsilon": b.epsilon if b else None, "budget_delta": b.delta if b else None,
            "epsilon_left": epsilon_left(sp, b) if b else None, "units": units, "last_run": last,
        })
    return pa.Table.from_pylist(out, schema=BUDGET_COLUMNS)


# ---------------------------------------------------------------- writing


def _ensure(cur: duckdb.DuckDBPyConnection) -> None:
    for ddl in _DDL:
        cur.execute(ddl)


def set_budget(con: duckdb.DuckDBPyConnection, source: str, epsilon, delta=None) -> Budget:
    """Set `source`'s total budget (raising or lowering it: the data holder's decision, recorded with its time)."""
    eps = _positive("epsilon", epsilon)
    d = DEFAULT_BUDGET_DELTA if delta is None else _positive("delta", delta)
    if not d < 1:
        raise OptionError(f"synth_set_budget: delta must be in (0, 1), got {delta!r}")
    with _LOCK:
        cur = con.cursor()
        try:
            if not writable(cur):
                raise LedgerError(f"cannot set the budget of {source}: the database is read-only; open it read-write")
            cur.execute("BEGIN TRANSACTION")
            _ensure(cur)
            cur.execute(f"INSERT INTO {SCHEMA}.budgets VALUES (?, ?, ?, ?)", [source, eps, d, _now()])
            cur.execute("COMMIT")
        except BaseException:
            _rollback(cur)
            raise
        finally:
            cur.close()
    return Budget(eps, d)


def _positive(name: str, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"synth_set_budget: {name} must be a number > 0, got {value!r}") from None
    if not (x > 0 and math.isfinite(x)):
        raise OptionError(f"synth_set_budget: {name} must be a finite number > 0, got {value!r}")
    return x


@dataclass
class Entry:
    """A run's row in the ledger, written when the run begins (``begin``); ``run_id`` None: not recorded."""

    con: duckdb.DuckDBPyConnection | None
    run_id: int | None

    def finish(self, spend, status: str, rows_in: int | None, rows_out: int | None, seconds: float) -> None:
        """Write what the run spent and how it ended (a failed run that spent nothing: its row is deleted)."""
        if self.run_id is None or self.con is None:
            return
        with _LOCK:
            cur = self.con.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                if status != "done" and (not spend.private or spend.rho_spent <= 0):  # nothing spent
                    cur.execute(f"DELETE FROM {SCHEMA}.runs WHERE run_id = ?", [self.run_id])
                else:
                    cur.execute(
                        f"UPDATE {SCHEMA}.runs SET finished_at = ?, rho_spent = ?, delta_threshold_spent = ?, "
                        f"epsilon_spent = ?, rows_in = ?, rows_out = ?, seconds = ?, status = ? WHERE run_id = ?",
                        [_now(), spend.rho_spent if spend.private else None,
                         spend.delta_threshold_spent if spend.private else None, spend.epsilon_spent,
                         rows_in, rows_out, seconds, status, self.run_id])
                    rows = spend.rows()
                    if rows:  # one insert of them all (executemany runs one statement a row)
                        steps = pa.table({
                            "run_id": pa.array([self.run_id] * len(rows), pa.int64()),
                            "step_no": pa.array(range(1, len(rows) + 1), pa.int32()),
                            **{k: [r[name] for r in rows] for k, name in (("step", "step"), ("rho", "rho"),
                               ("epsilon", "epsilon"), ("delta", "delta"), ("detail", "detail"))}})
                        cur.register("_synth_steps", steps)
                        cur.execute(f"INSERT INTO {SCHEMA}.steps SELECT * FROM _synth_steps")
                        cur.unregister("_synth_steps")
                cur.execute("COMMIT")
            except BaseException:
                _rollback(cur)
                raise
            finally:
                cur.close()
        self.con = None


def begin(con: duckdb.DuckDBPyConnection, sources: tuple[str, ...], text: str, opts: Options) -> Entry:
    """Check the run against its sources' budgets and write its row (status 'running', its whole budget as
    spent), before anything is read. Refuses with LedgerError, writing nothing, when a budget would be passed
    or a DP run cannot be recorded (a read-only database) and ``ledger := false`` was not given."""
    rho, dthr = planned(opts)
    with _LOCK:
        cur = con.cursor()
        try:
            record = opts.ledger and writable(cur)
            if opts.private and opts.ledger and not record:
                raise LedgerError(
                    "the database is read-only, so this DP run could not be recorded in its ledger and the next run "
                    "would not know what it spent; open the database read-write, or pass ledger := false (CLI: "
                    "--no-ledger) to run without a record: then you must add up what such runs spend yourself")
            if opts.private:
                for source in sources:
                    stored = budget(cur, source)
                    limit = stored
                    if opts.budget is not None:
                        given = Budget(opts.budget, stored.delta if stored else DEFAULT_BUDGET_DELTA)
                        limit = given if stored is None or given.epsilon < stored.epsilon else stored
                    if limit is None:
                        continue
                    sp = spent(cur, source)
                    if not fits(sp, rho, dthr, limit):
                        left = epsilon_left(sp, limit, opts.delta)
                        raise LedgerError(
                            f"{source}: this run (epsilon {opts.epsilon:g}, delta {opts.delta:g}) would pass the "
                            f"source's budget of epsilon {limit.epsilon:g} (delta {limit.delta:g}): {sp.runs} runs "
                            f"recorded have spent epsilon {sp.epsilon_at(limit.delta):.4g}, and one more run at "
                            f"delta {opts.delta:g} may take epsilon {left:.4g} at most. Nothing was read or spent; "
                            "see SELECT * FROM synth_budget()")
            if not record:
                return Entry(None, None)
            cur.execute("BEGIN TRANSACTION")
            _ensure(cur)
            if opts.budget is not None and opts.private:
                for source in sources:
                    if budget(cur, source) is None:
                        cur.execute(f"INSERT INTO {SCHEMA}.budgets VALUES (?, ?, ?, ?)",
                                    [source, float(opts.budget), DEFAULT_BUDGET_DELTA, _now()])
            run_id = cur.execute(f"SELECT coalesce(max(run_id), 0) + 1 FROM {SCHEMA}.runs").fetchall()[0][0]
            cur.execute(
                f"INSERT INTO {SCHEMA}.runs VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, "
                "'running')",
                [run_id, _now(), text, list(sources), opts.mode, opts.epsilon,
                 opts.delta if opts.private else None, opts.privacy_unit,
                 opts.max_rows_per_unit if opts.privacy_unit else None, opts.seed is not None,
                 rho if opts.private else None, dthr if opts.private else None,
                 opts.epsilon if opts.private else None])
            cur.execute("COMMIT")
        except BaseException:
            _rollback(cur)
            raise
        finally:
            cur.close()
    return Entry(con, int(run_id))


RUN_STEP_SQL = f"""
    SELECT r.run_id, r.started_at, r.source, r.mode, r.epsilon, r.delta, r.rows_in, r.rows_out, r.seconds,
           s.step_no, s.step, s.rho AS step_rho, s.epsilon AS step_epsilon, s.delta AS step_delta, s.detail,
           r.rho_spent AS total_rho, r.epsilon_spent AS total_epsilon, r.status, r.privacy_unit,
           r.max_rows_per_unit, r.seeded, r.sources
    FROM {SCHEMA}.runs r LEFT JOIN {SCHEMA}.steps s USING (run_id)
    ORDER BY r.run_id, s.step_no"""


def run_rows(con: duckdb.DuckDBPyConnection) -> pa.Table | None:
    """Every recorded run, one row per step (a running run: one row without a step); None: no ledger."""
    if not present(con):
        return None
    return con.sql(RUN_STEP_SQL).to_arrow_table()


def _now() -> _dt.datetime:
    return _dt.datetime.now()


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    try:
        cur.execute("ROLLBACK")
    except duckdb.Error:
        pass
