"""The ledger in the database: every run and every source's budget, in tables of the user's database.

DESIGN.md §6: the record of what was released from a source must survive the connection and
the process, and a budget per source must hold before any data is read. So each run writes to
three tables of the schema ``duckdb_synth`` of the database that holds what it read (a table of
an attached database: that database's ledger, which travels with its file; a file or a query
reading no table: the current database's):

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

Writes go through a cursor of their own, each in a transaction of its own (one per database:
DuckDB writes one database per transaction), so the record is committed whatever the user's
transaction does. Within a process, a lock makes the budget check and the insert of the run one
step; DuckDB lets one process write a database file at a time.

Budgets hold only if nothing goes around them: on a source with a budget, a balanced run (exact
statistics, no guarantee), a run with ``ledger := false`` and a DP run that reads something the
ledger cannot trace (a view over ``query_table()``, say) are refused.
"""
from __future__ import annotations

import datetime as _dt
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from ..engine.source import Key, Reads, quote_ident, quote_literal
from ..errors import OptionError, SynthError
from ..options import DEFAULT_DELTA, Options
from .accounting import cdp_eps, cdp_rho

SCHEMA = "duckdb_synth"
DEFAULT_BUDGET_DELTA = 1e-5  # a budget's delta when none is given: room for the thresholded steps of many runs
_LOCK = threading.RLock()

_DDL = [
    "CREATE SCHEMA IF NOT EXISTS {db}." + SCHEMA,
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{SCHEMA}.runs (
        run_id BIGINT, started_at TIMESTAMP, finished_at TIMESTAMP, source VARCHAR, sources VARCHAR[],
        mode VARCHAR, epsilon DOUBLE, delta DOUBLE, privacy_unit VARCHAR, max_rows_per_unit BIGINT,
        seeded BOOLEAN, rho_spent DOUBLE, delta_threshold_spent DOUBLE, epsilon_spent DOUBLE, rows_in BIGINT,
        rows_out BIGINT, seconds DOUBLE, status VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{SCHEMA}.steps (
        run_id BIGINT, step_no INTEGER, step VARCHAR, rho DOUBLE, epsilon DOUBLE, delta DOUBLE, detail VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS {{db}}.{SCHEMA}.budgets (
        seq BIGINT, source VARCHAR, epsilon DOUBLE, delta DOUBLE, set_at TIMESTAMP)""",
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


def _t(db: str, table: str) -> str:
    return f"{quote_ident(db)}.{SCHEMA}.{table}"


def writable(con: duckdb.DuckDBPyConnection, db: str) -> bool:
    rows = con.execute("SELECT readonly FROM duckdb_databases() WHERE database_name = ?", [db]).fetchall()
    return bool(rows) and not rows[0][0]


def present(con: duckdb.DuckDBPyConnection, db: str) -> bool:
    """Whether database `db` holds the ledger's tables (brought up to date if written by an older version)."""
    n = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
                    "AND table_name IN ('runs', 'steps', 'budgets')", [db, SCHEMA]).fetchall()[0][0]
    if n == 3:
        _migrate(con, db)
    return n == 3


def _migrate(con: duckdb.DuckDBPyConnection, db: str) -> None:
    """Budgets recorded before they had a sequence number get one, in the order they were set."""
    table = _t(db, "budgets")
    if "seq" in _columns(con, table) or not writable(con, db):
        return
    with _LOCK:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT row_number() OVER (ORDER BY set_at) AS seq, "
                    f"source, epsilon, delta, set_at FROM {table}")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    con.execute(f"SELECT * FROM {table} LIMIT 0")
    names = [d[0] for d in con.description]
    con.fetchall()
    return names


def ledgers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The attached databases that hold a ledger, the current one first."""
    rows = con.execute(
        "SELECT database_name FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'runs' "
        "GROUP BY database_name ORDER BY database_name <> current_database(), database_name", [SCHEMA]).fetchall()
    return [r[0] for r in rows if present(con, r[0])]


def spent(con: duckdb.DuckDBPyConnection, key: Key) -> Spent:
    if not present(con, key.db):
        return Spent()
    row = con.execute(
        f"SELECT count(*), count(epsilon), coalesce(sum(rho_spent), 0), coalesce(sum(delta_threshold_spent), 0), "
        f"coalesce(sum(delta), 0) FROM {_t(key.db, 'runs')} WHERE list_contains(sources, ?)", [key.name]).fetchall()[0]
    return Spent(int(row[0]), int(row[1]), float(row[2]), float(row[3]), float(row[4]))


def budget(con: duckdb.DuckDBPyConnection, key: Key) -> Budget | None:
    """The source's budget: the one set last (by sequence number, not by clock)."""
    if not present(con, key.db):
        return None
    order = "seq" if "seq" in _columns(con, _t(key.db, "budgets")) else "set_at"  # a read-only, older ledger
    rows = con.execute(f"SELECT epsilon, delta FROM {_t(key.db, 'budgets')} WHERE source = ? ORDER BY {order} DESC "
                       "LIMIT 1", [key.name]).fetchall()
    return Budget(float(rows[0][0]), float(rows[0][1])) if rows else None


def any_budget(con: duckdb.DuckDBPyConnection) -> bool:
    return any(con.execute(f"SELECT count(*) FROM {_t(db, 'budgets')}").fetchall()[0][0] for db in ledgers(con))


BUDGET_COLUMNS = pa.schema([
    ("source", pa.string()), ("runs", pa.int64()), ("dp_runs", pa.int64()), ("rho_spent", pa.float64()),
    ("epsilon_spent", pa.float64()), ("delta_spent", pa.float64()), ("budget_epsilon", pa.float64()),
    ("budget_delta", pa.float64()), ("epsilon_left", pa.float64()), ("units", pa.string()),
    ("last_run", pa.timestamp("us")),
])


def shown(con: duckdb.DuckDBPyConnection, key: Key) -> str:
    """A key as the user would name it from this connection: a table of another database with its name."""
    current = con.execute("SELECT current_database()").fetchall()[0][0]
    return key.name if key.db == current or key.name.startswith("/") else f"{key.db}.{key.name}"


def budget_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``synth_budget()``: per source, its runs, what they spent (epsilon at the budget's delta, or at the sum
    of the runs' deltas), the budget and the epsilon one more run at delta 1e-6 may still take."""
    out = []
    for db in ledgers(con):
        unit = "coalesce(privacy_unit || ' (at most ' || max_rows_per_unit || ' rows)', 'row')"
        sources = con.execute(
            f"""SELECT s, max(started_at), string_agg(DISTINCT {unit}, ', ' ORDER BY {unit})
                FROM (SELECT unnest(sources) AS s, * FROM {_t(db, 'runs')}) GROUP BY s
                UNION ALL SELECT DISTINCT source, NULL, NULL FROM {_t(db, 'budgets')}
                    WHERE source NOT IN (SELECT unnest(sources) FROM {_t(db, 'runs')})
                ORDER BY 1""").fetchall()
        for source, last, units in sources:
            key = Key(db, source)
            sp, b = spent(con, key), budget(con, key)
            at = b.delta if b is not None else sp.delta_asked
            out.append({
                "source": shown(con, key), "runs": sp.runs, "dp_runs": sp.private_runs, "rho_spent": sp.rho,
                "epsilon_spent": sp.epsilon_at(at) if sp.private_runs else 0.0,
                "delta_spent": at if sp.private_runs else 0.0,
                "budget_epsilon": b.epsilon if b else None, "budget_delta": b.delta if b else None,
                "epsilon_left": epsilon_left(sp, b) if b else None, "units": units, "last_run": last,
            })
    return pa.Table.from_pylist(out, schema=BUDGET_COLUMNS)


# ---------------------------------------------------------------- writing


def _ensure(cur: duckdb.DuckDBPyConnection, db: str) -> None:
    """Create the ledger's tables in `db` where they are missing (checked first: DDL costs a run ~10 ms)."""
    if present(cur, db):
        return
    for ddl in _DDL:
        cur.execute(ddl.format(db=quote_ident(db)))


@contextmanager
def _writing(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of its own to write the ledger with, under the process's ledger lock; an open transaction is
    rolled back on any error (a ledger a loop already committed keeps its rows)."""
    with _LOCK:
        cur = con.cursor()
        try:
            yield cur
        except BaseException:
            _rollback(cur)
            raise
        finally:
            cur.close()


def set_budget(con: duckdb.DuckDBPyConnection, key: Key, epsilon, delta=None) -> Budget:
    """Set a source's total budget (raising or lowering it: the data holder's decision, recorded in order)."""
    eps = _positive("epsilon", epsilon)
    d = DEFAULT_BUDGET_DELTA if delta is None else _positive("delta", delta)
    if not d < 1:
        raise OptionError(f"synth_set_budget: delta must be in (0, 1), got {delta!r}")
    with _writing(con) as cur:
        if not writable(cur, key.db):
            raise LedgerError(f"cannot set the budget of {key.name}: database {key.db} is read-only; open it "
                              "read-write")
        cur.execute("BEGIN TRANSACTION")
        _ensure(cur, key.db)
        _insert_budget(cur, key, eps, d)
        cur.execute("COMMIT")
    return Budget(eps, d)


def _insert_budget(cur: duckdb.DuckDBPyConnection, key: Key, eps: float, delta: float) -> None:
    table = _t(key.db, "budgets")
    cur.execute(f"INSERT INTO {table} SELECT coalesce(max(seq), 0) + 1, ?, ?, ?, ? FROM {table}",
                [key.name, eps, delta, _now()])


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
    """A run's rows in the ledgers, written when the run begins (``begin``): database -> run id (empty: not
    recorded). ``run_id``: its id in the first of them (the current database's, if it is one)."""

    con: duckdb.DuckDBPyConnection | None
    ids: dict[str, int]
    created: frozenset[str] = frozenset()  # the databases whose ledger schema `begin` created

    @property
    def run_id(self) -> int | None:
        return next(iter(self.ids.values()), None)

    def finish(self, spend, status: str, rows_in: int | None, rows_out: int | None, seconds: float) -> None:
        """Write what the run spent and how it ended (a failed run that spent nothing: its rows are deleted)."""
        if not self.ids or self.con is None:
            return
        rows = spend.rows()
        steps = pa.table({
            "step_no": pa.array(range(1, len(rows) + 1), pa.int32()),
            **{k: [r[k] for r in rows] for k in ("step", "rho", "epsilon", "delta", "detail")}})
        with _writing(self.con) as cur:
            for db, run_id in self.ids.items():
                cur.execute("BEGIN TRANSACTION")
                if status != "done" and (not spend.private or spend.rho_spent <= 0):  # nothing spent
                    cur.execute(f"DELETE FROM {_t(db, 'runs')} WHERE run_id = ?", [run_id])
                    if db in self.created and _empty(cur, db):  # the file as it was (the review of 12d66b3):
                        # the ledger's tables, and the schema where nothing else is in it (not CASCADE: a schema of
                        # that name the user had made, their tables in it, had gone; the review of 48d815d)
                        for table in ("runs", "steps", "budgets"):
                            cur.execute(f"DROP TABLE {_t(db, table)}")
                        left = cur.execute(
                            "SELECT count(*) FROM (SELECT database_name, schema_name FROM duckdb_tables() UNION ALL "
                            "SELECT database_name, schema_name FROM duckdb_views()) WHERE database_name = ? AND "
                            "schema_name = ?", [db, SCHEMA]).fetchall()[0][0]
                        if not left:
                            cur.execute(f"DROP SCHEMA {quote_ident(db)}.{SCHEMA}")
                else:
                    cur.execute(
                        f"UPDATE {_t(db, 'runs')} SET finished_at = ?, rho_spent = ?, delta_threshold_spent = ?, "
                        f"epsilon_spent = ?, rows_in = ?, rows_out = ?, seconds = ?, status = ? WHERE run_id = ?",
                        [_now(), spend.rho_spent if spend.private else None,
                         spend.delta_threshold_spent if spend.private else None, spend.epsilon_spent,
                         rows_in, rows_out, seconds, status, run_id])
                    if rows:  # one insert of them all (executemany runs one statement a row)
                        cur.register("_synth_steps", steps)
                        cur.execute(f"INSERT INTO {_t(db, 'steps')} SELECT ?, * FROM _synth_steps", [run_id])
                        cur.unregister("_synth_steps")
                cur.execute("COMMIT")
        self.con = None


def _empty(cur: duckdb.DuckDBPyConnection, db: str) -> bool:
    """Whether the ledger of `db` holds no run, step or budget."""
    return not cur.execute(f"SELECT (SELECT count(*) FROM {_t(db, 'runs')}) + (SELECT count(*) FROM {_t(db, 'steps')}) "
                           f"+ (SELECT count(*) FROM {_t(db, 'budgets')})").fetchall()[0][0]


def check(con: duckdb.DuckDBPyConnection, reads: Reads, opts: Options) -> dict[str, list[str]]:
    """Refuse, with LedgerError and before anything is read or written, a run that a ledger's budget or state
    does not allow; return the ledgers to record it in (database -> the names it reads there; empty: none)."""
    rho, dthr = planned(opts)
    cur = con.cursor()
    try:
        current = cur.execute("SELECT current_database()").fetchall()[0][0]
        by_db: dict[str, list[str]] = {}
        for key in reads.keys:
            by_db.setdefault(key.db, []).append(key.name)
        budgets = {key: budget(cur, key) for key in reads.keys}
        if opts.budget is not None:
            for key in reads.keys:
                stored = budgets[key]
                given = Budget(opts.budget, stored.delta if stored else DEFAULT_BUDGET_DELTA)
                budgets[key] = given if stored is None or given.epsilon < stored.epsilon else stored
        held = [shown(cur, k) for k, b in budgets.items() if b is not None]
        if held and not opts.private:
            raise LedgerError(f"{', '.join(held)} has a privacy budget; a balanced run releases exact statistics, "
                              "which no budget accounts for: give mode 'strict'/'strictest' or epsilon")
        if not opts.ledger and opts.budget is not None and not any(budget(cur, k) for k in reads.keys):
            # (the budget is this call's own: it had been said to be the source's; the review of 12d66b3)
            raise LedgerError(f"budget := {opts.budget:g} is counted against the runs the ledger records: a run with "
                              "ledger := false keeps no record, so it is refused; run it with the ledger (on a "
                              "database opened read-write), or without the budget")
        if held and not opts.ledger:
            raise LedgerError(f"{', '.join(held)} has a privacy budget; a run with ledger := false would not count "
                              "against it, so it is refused: run it with the ledger (on a database opened "
                              "read-write)")
        if reads.unknown and (held or any_budget(cur)):
            raise LedgerError(
                f"this run reads {', '.join(reads.unknown)}, which the ledger cannot trace to a table or file, "
                "and the attached databases hold privacy budgets that such a run could go around; read the tables "
                "directly (not through table functions), or give their names")
        for key, limit in budgets.items():
            if limit is None or not opts.private:
                continue
            sp = spent(cur, key)
            if not fits(sp, rho, dthr, limit):
                left = epsilon_left(sp, limit, opts.delta)
                raise LedgerError(
                    f"{shown(cur, key)}: this run (epsilon {opts.epsilon:g}, delta {opts.delta:g}) would pass the "
                    f"source's budget of epsilon {limit.epsilon:g} (delta {limit.delta:g}): {sp.runs} runs "
                    f"recorded have spent epsilon {sp.epsilon_at(limit.delta):.4g}, and one more run at delta "
                    f"{opts.delta:g} may take epsilon {left:.4g} at most. Nothing was read or spent; see "
                    "SELECT * FROM synth_budget()")
        if not opts.ledger:
            return {}
        # A read-only database without a budget on what is read: its tables are accounted in the current
        # database's ledger, by their qualified names (a budget in a read-only database cannot be kept)
        for db in [db for db in by_db if db != current and not writable(cur, db)]:
            if any(budgets[Key(db, name)] is not None for name in by_db[db]):
                continue  # refused below, with the reason
            by_db.setdefault(current, []).extend(f"{db}.{name}" for name in by_db.pop(db))
        for db in by_db:
            if not writable(cur, db) and opts.private:
                raise LedgerError(
                    f"database {db} is read-only, so this DP run could not be recorded in its ledger and the next "
                    "run would not know what it spent; open the database read-write, or pass ledger := false (CLI: "
                    "--no-ledger) to run without a record: then you must add up what such runs spend yourself")
        # Balanced runs on a read-only database: recorded where they can be
        return {db: names for db, names in sorted(by_db.items(), key=lambda kv: kv[0] != current)
                if writable(cur, db)}
    finally:
        cur.close()


def begin(con: duckdb.DuckDBPyConnection, reads: Reads, text: str, opts: Options) -> Entry:
    """Check the run (``check``) and write its rows (status 'running', its whole budget as spent) in the
    ledgers of what it reads, before anything is read."""
    rho, dthr = planned(opts)
    ids: dict[str, int] = {}
    created: set[str] = set()
    with _writing(con) as cur:  # the check and the writing, one step under the lock
        where = check(con, reads, opts)
        for db, names in where.items():
            cur.execute("BEGIN TRANSACTION")
            if not cur.execute("SELECT count(*) FROM duckdb_schemas() WHERE database_name = ? AND schema_name = ?",
                               [db, SCHEMA]).fetchall()[0][0]:
                created.add(db)  # (the schema itself: one the user made is never dropped)
            _ensure(cur, db)
            if opts.budget is not None and opts.private:
                for name in names:
                    if budget(cur, Key(db, name)) is None:
                        _insert_budget(cur, Key(db, name), float(opts.budget), DEFAULT_BUDGET_DELTA)
            run_id = cur.execute(f"SELECT coalesce(max(run_id), 0) + 1 FROM {_t(db, 'runs')}").fetchall()[0][0]
            cur.execute(
                f"INSERT INTO {_t(db, 'runs')} VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, "
                "NULL, 'running')",
                [run_id, _now(), text, names, opts.mode, opts.epsilon,
                 opts.delta if opts.private else None, opts.privacy_unit,
                 opts.max_rows_per_unit if opts.privacy_unit else None, opts.seed is not None,
                 rho if opts.private else None, dthr if opts.private else None,
                 opts.epsilon if opts.private else None])
            cur.execute("COMMIT")
            ids[db] = int(run_id)
    return Entry(con, ids, frozenset(created))


def run_rows(con: duckdb.DuckDBPyConnection) -> pa.Table | None:
    """Every run recorded in the ledgers of the attached databases, one row per step (a running run: one
    row without a step); None: no ledger."""
    parts = []
    for db in ledgers(con):
        parts.append(con.sql(f"""
            SELECT r.run_id, r.started_at, r.source, r.mode, r.epsilon, r.delta, r.rows_in, r.rows_out, r.seconds,
                   s.step_no, s.step, s.rho AS step_rho, s.epsilon AS step_epsilon, s.delta AS step_delta, s.detail,
                   r.rho_spent AS total_rho, r.epsilon_spent AS total_epsilon, r.status, r.privacy_unit,
                   r.max_rows_per_unit, r.seeded, r.sources, {quote_literal(db)} AS ledger
            FROM {_t(db, 'runs')} r LEFT JOIN {_t(db, 'steps')} s USING (run_id)
            ORDER BY r.run_id, s.step_no""").to_arrow_table())
    return pa.concat_tables(parts) if parts else None


def _now() -> _dt.datetime:
    return _dt.datetime.now()


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    try:
        cur.execute("ROLLBACK")
    except duckdb.Error:
        pass
