"""The ledger in the database: runs recorded across connections and processes, budgets that hold."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import duckdb
import pytest

import duckdb_synth
from duckdb_synth.engine.source import Key, Reads
from duckdb_synth.privacy.accounting import cdp_rho
from duckdb_synth.errors import OptionError, SourceError
from duckdb_synth.options import parse_options
from duckdb_synth.pipeline import SeededRunWarning
from duckdb_synth.privacy import store
from duckdb_synth.privacy.accounting import cdp_eps, cdp_rho
from duckdb_synth.privacy.store import LedgerError

TABLE = ("CREATE TABLE v AS SELECT (i % 300)::INTEGER AS pid, (i * 7 % 13)::VARCHAR AS dx, i % 90 AS age "
         "FROM range(3000) r(i)")


def _db(tmp_path) -> str:
    path = str(tmp_path / "clinic.duckdb")
    c = duckdb.connect(path)
    c.execute(TABLE)
    c.execute("CREATE TABLE w AS SELECT i % 50 AS k, (i % 3)::VARCHAR AS g FROM range(1000) r(i)")
    c.close()
    return path


def _ledger(con, db: str | None = None) -> list[tuple]:
    db = db or con.execute("SELECT current_database()").fetchall()[0][0]
    if not store.present(con, db):
        return []
    return con.execute(f"SELECT run_id, sources, mode, status, rho_spent FROM {db}.duckdb_synth.runs ORDER BY run_id"
                       ).fetchall()


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_runs_and_budgets_persist_across_processes(tmp_path):
    path = _db(tmp_path)
    first = _python(f"""
        import duckdb, duckdb_synth
        con = duckdb.connect({path!r})
        duckdb_synth.register(con)
        con.sql("SELECT * FROM synthesize('v', mode := 'strict')").fetchall()
        con.sql("SELECT * FROM synth_set_budget('v', epsilon := 3.5)").fetchall()
        con.close()""")
    assert first.returncode == 0, first.stderr
    con = duckdb.connect(path)  # another process: the run and the budget are in the file
    try:
        duckdb_synth.register(con)
        row = con.sql("SELECT runs, dp_runs, budget_epsilon, budget_delta, epsilon_spent FROM synth_budget() "
                      "WHERE source = 'v'").fetchall()
        ((rho, dthr),) = con.execute("SELECT rho_spent, delta_threshold_spent FROM duckdb_synth.runs").fetchall()
        assert rho == pytest.approx(cdp_rho(3.0, 5e-7)) and 0 < dthr <= 5e-7
        assert row == [(1, 1, 3.5, 1e-5, pytest.approx(cdp_eps(rho, 1e-5 - dthr), rel=1e-6))]
        steps = con.sql("SELECT count(*), bool_and(in_ledger) FROM synth_runs() WHERE run_id = 1").fetchall()
        assert steps[0][0] > 3 and steps[0][1]
    finally:
        con.close()
    second = _python(f"""
        import duckdb, duckdb_synth
        con = duckdb.connect({path!r})
        duckdb_synth.register(con)
        con.sql("SELECT * FROM synthesize('v', mode := 'strict')").fetchall()""")
    assert second.returncode != 0 and "would pass the source's budget of epsilon 3.5" in second.stderr
    con = duckdb.connect(path)
    try:
        assert [r[:4] for r in _ledger(con)] == [(1, ["v"], "strict", "done")]  # nothing written or spent
        assert con.execute("SELECT count(*) FROM duckdb_synth.steps WHERE run_id <> 1").fetchall() == [(0,)]
    finally:
        con.close()


def test_a_run_over_budget_is_refused_before_it_reads(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        # Reading this view raises; binding it does not: a refused run must not get that far.
        con.execute("CREATE VIEW trap AS SELECT * FROM v WHERE error('the data was read') IS NULL")
        assert duckdb_synth.set_budget(con, "trap", epsilon=0.5) == "v"  # a view is filed under its table
        before = _ledger(con)
        with pytest.raises(LedgerError, match="would pass the source's budget of epsilon 0.5.*Nothing was read"):
            duckdb_synth.run(con, "trap", mode="strictest")
        with pytest.raises(LedgerError, match="budget"):
            duckdb_synth.run(con, "SELECT dx FROM trap", epsilon=0.6)
        assert _ledger(con) == before == []
        duckdb_synth.run(con, "v", epsilon=0.4, seed=1)  # fits
        with pytest.raises(LedgerError, match=r"may take epsilon 0\.\d+ at most"):
            duckdb_synth.run(con, "v", epsilon=0.5, seed=2)  # 0.4 and 0.5 together: about 0.57
        assert [r[3] for r in _ledger(con)] == ["done"]
    finally:
        con.close()


def test_composition_matches_the_runs(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        duckdb_synth.register(con)
        for eps, delta in ((1.0, 1e-6), (0.5, 1e-7), (2.0, 1e-6)):
            duckdb_synth.run(con, "v", epsilon=eps, delta=delta)
        duckdb_synth.run(con, "SELECT dx FROM v JOIN w ON v.pid = w.k")  # balanced: counted, spends nothing
        runs = con.sql("SELECT DISTINCT run_id, total_rho, delta FROM synth_runs() WHERE mode = 'custom'").fetchall()
        dthr = con.execute("SELECT sum(delta_threshold_spent) FROM duckdb_synth.runs").fetchall()[0][0]
        rho = sum(r[1] for r in runs)
        (got,) = con.sql("SELECT runs, dp_runs, rho_spent, epsilon_spent, delta_spent FROM synth_budget() "
                         "WHERE source = 'v'").fetchall()
        assert got[:3] == (4, 3, pytest.approx(rho))
        # without a budget: the runs' deltas add up, and epsilon is the zCDP sum converted at what they leave
        assert got[4] == pytest.approx(2.1e-6)
        assert got[3] == pytest.approx(cdp_eps(rho, 2.1e-6 - dthr), rel=1e-6)
        assert got[3] < 1.0 + 0.5 + 2.0  # composing in zCDP beats adding the epsilons
        assert con.sql("SELECT runs, dp_runs FROM synth_budget() WHERE source = 'w'").fetchall() == [(1, 0)]
        # a budget on w now holds for a query that joins it
        duckdb_synth.set_budget(con, "w", epsilon=0.1)
        with pytest.raises(LedgerError, match="^w: "):
            duckdb_synth.run(con, "SELECT dx FROM v JOIN w ON v.pid = w.k", mode="strictest")
    finally:
        con.close()


def test_budget_option_sets_once_and_the_lower_applies(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        duckdb_synth.run(con, "v", epsilon=1.0, budget=2.0)
        assert store.budget(con, Key("clinic", "v")) == store.Budget(2.0, 1e-5)
        duckdb_synth.run(con, "v", epsilon=0.5, budget=10.0)  # does not raise the budget
        assert store.budget(con, Key("clinic", "v")) == store.Budget(2.0, 1e-5)
        with pytest.raises(LedgerError, match="budget of epsilon 1 "):
            duckdb_synth.run(con, "v", epsilon=0.5, budget=1.0)  # a lower one applies to this run
        with pytest.raises(OptionError, match="budget applies to differentially private runs only"):
            duckdb_synth.run(con, "v", budget=1.0)
        with pytest.raises(OptionError, match="finite number > 0"):
            duckdb_synth.set_budget(con, "v", epsilon=-1)
        with pytest.raises(SourceError, match="a budget is set per table or file"):
            duckdb_synth.set_budget(con, "SELECT * FROM v", epsilon=1)
        with pytest.raises(SourceError, match=r"no table or view named vv \(did you mean 'v'\?\)"):
            duckdb_synth.set_budget(con, "vv", epsilon=1)
    finally:
        con.close()


def test_failed_runs_count_what_they_spent(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        con.execute("CREATE TABLE tiny AS SELECT 'a' AS x FROM range(3)")
        with pytest.raises(duckdb_synth.DataError):
            duckdb_synth.run(con, "tiny", mode="strict")  # refused on its noisy row count, after the count
        (run,) = _ledger(con)
        assert run[3].startswith("failed: DataError") and 0 < run[4] < cdp_rho(3.0, 5e-7) / 10
        with pytest.raises(duckdb_synth.OptionError):
            duckdb_synth.run(con, "tiny", mode="strict", masks={"nope": "email"})  # before the ledger: no row
        assert len(_ledger(con)) == 1
    finally:
        con.close()


def test_a_failed_run_that_spent_nothing_leaves_the_file_as_it_was(tmp_path):
    """The review of 12d66b3: a run refused before it spent anything (a balanced run on fewer than 50 rows; a DP run
    failing on the data is charged since the review of 1c489ef) deleted its row but left the ledger's schema and tables it had created;
    the README says the file is left as it was until a run records itself. A ledger already there is kept."""
    con = duckdb.connect(_db(tmp_path))
    try:
        con.execute("CREATE TABLE t AS SELECT i AS id, ['a', 'b', 'c'][1 + i % 3] AS cat FROM range(1237) r(i)")
        con.execute("CREATE TABLE small AS SELECT 1 AS a FROM range(10)")
        ledger = "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'duckdb_synth'"
        schema = "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'duckdb_synth'"
        with pytest.raises(duckdb_synth.DataError):
            duckdb_synth.run(con, "small")
        assert con.execute(ledger).fetchall() == [(0,)] and con.execute(schema).fetchall() == [(0,)]
        with pytest.warns(UserWarning):
            duckdb_synth.run(con, "t", mode="strict", seed=1)
        with pytest.raises(duckdb_synth.DataError):
            duckdb_synth.run(con, "small")
        assert con.execute(ledger).fetchall() == [(3,)] and len(_ledger(con)) == 1
    finally:
        con.close()


def test_a_schema_of_the_ledgers_name_the_user_made_is_never_dropped(tmp_path):
    """The review of 48d815d: a failed run that spent nothing dropped the schema duckdb_synth CASCADE, a schema the user
    had made with their own tables in it too (its three ledger tables were missing, so the run counted it as its own)."""
    con = duckdb.connect(_db(tmp_path))
    try:
        con.execute("CREATE SCHEMA duckdb_synth; CREATE TABLE duckdb_synth.my_notes AS SELECT 42 AS x")
        con.execute("CREATE TABLE t AS SELECT 'abc' AS s, range AS i FROM range(100)")
        with pytest.raises(duckdb_synth.DataError):
            duckdb_synth.run(con, "SELECT CAST(s AS INTEGER) AS v, i FROM t")
        assert con.execute("SELECT x FROM duckdb_synth.my_notes").fetchall() == [(42,)]
    finally:
        con.close()


def test_a_run_that_never_ends_counts_its_whole_budget(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        key = Key("clinic", "v")
        entry = store.begin(con, Reads((key,)), "v", parse_options(mode="strict"))  # the process dies here
        assert entry.run_id == 1
        sp = store.spent(con, key)
        assert sp.rho == pytest.approx(cdp_rho(3.0, 5e-7)) and sp.delta_threshold == pytest.approx(5e-7)
        assert _ledger(con)[0][3] == "running"
    finally:
        con.close()


def test_read_only_database_needs_ledger_false(tmp_path):
    path = _db(tmp_path)
    con = duckdb.connect(path, read_only=True)
    try:
        with pytest.raises(LedgerError, match="read-only.*ledger := false"):
            duckdb_synth.run(con, "v", mode="strict")
        res = duckdb_synth.run(con, "v", mode="strict", ledger=False)
        assert res.run_id is None and res.num_rows > 0
        assert duckdb_synth.run(con, "v").run_id is None  # balanced: allowed, not recorded
    finally:
        con.close()
    con = duckdb.connect(path)
    try:
        assert _ledger(con) == []
    finally:
        con.close()


def test_in_memory_ledger_lives_with_the_database_and_survives_a_rollback():
    con = duckdb.connect()
    try:
        con.execute(TABLE)
        duckdb_synth.register(con)
        con.execute("BEGIN TRANSACTION")
        con.sql("SELECT count(*) FROM synthesize('v', mode := 'strictest')").fetchall()
        con.execute("ROLLBACK")
        cur = con.cursor()
        assert [r[:4] for r in _ledger(cur)] == [(1, ["v"], "strictest", "done")]  # committed on its own
        cur.close()
        other = duckdb.connect()  # another in-memory database: another ledger
        assert _ledger(other) == []
        other.close()
    finally:
        con.close()


def test_seeded_runs_are_marked_and_warned(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        with pytest.warns(SeededRunWarning, match="guarantee is void"):
            res = duckdb_synth.run(con, "v", mode="strictest", seed=3)
        assert "seeded run" in res.spend.format()
        duckdb_synth.run(con, "v", mode="strictest")
        assert con.execute("SELECT run_id, seeded FROM duckdb_synth.runs ORDER BY 1").fetchall() == [(1, True),
                                                                                                    (2, False)]
    finally:
        con.close()


def test_threads_cannot_both_pass_one_budget(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        duckdb_synth.set_budget(con, "v", epsilon=1.2)  # one run of epsilon 1 fits, two do not
        outcomes: list[str] = []

        def one() -> None:
            try:
                duckdb_synth.run(con.cursor(), "v", epsilon=1.0)
                outcomes.append("done")
            except LedgerError:
                outcomes.append("refused")

        threads = [threading.Thread(target=one) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["done", "refused", "refused"]
    finally:
        con.close()


def test_the_canary_spends_on_its_source(tmp_path):
    path = _db(tmp_path)
    con = duckdb.connect(path)
    try:
        duckdb_synth.canary(con, "v", mode="strictest", ks=[1, 50], seed=1)
        assert duckdb_synth.budget(con).select(["source", "dp_runs"]).to_pylist() == [{"source": "v", "dp_runs": 1}]
    finally:
        con.close()
    con = duckdb.connect(path, read_only=True)
    try:
        with pytest.raises(LedgerError, match="read-only"):
            duckdb_synth.canary(con, "v", mode="strictest", ks=[1], seed=1)
        assert duckdb_synth.canary(con, "v", mode="strictest", ks=[1], seed=1, ledger=False).num_rows == 1
    finally:
        con.close()


# ---------------------------------------------------------------- ways around a budget (review of the ledger)


def test_views_resolve_names_in_their_own_schema_and_database(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        con.execute("CREATE SCHEMA s; CREATE TABLE s.t AS SELECT * FROM v; CREATE VIEW s.tv AS SELECT * FROM t")
        assert store.Reads is Reads and duckdb_synth.set_budget(con, "s.tv", epsilon=0.5) == "s.t"
        with pytest.raises(LedgerError, match="^s.t: "):
            duckdb_synth.run(con, "s.tv", epsilon=1.0)
        con.execute("CREATE TABLE t AS SELECT * FROM v")  # a table t in main does not change what s.tv reads
        with pytest.raises(LedgerError, match="^s.t: "):
            duckdb_synth.run(con, "s.tv", epsilon=1.0)
    finally:
        con.close()


def test_untraceable_reads_cte_shadowing_and_globs(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        duckdb_synth.set_budget(con, "v", epsilon=0.5)
        # a CTE named like the table it reads: the table counts
        with pytest.raises(LedgerError, match="^v: "):
            duckdb_synth.run(con, "WITH v AS (SELECT * FROM v) SELECT * FROM v", epsilon=1.0)
        # a view reading through a table function the ledger cannot follow, with budgets about: refused
        con.execute("CREATE VIEW q1 AS SELECT * FROM query_table('v')")
        with pytest.raises(LedgerError, match=r"reads query_table\(\), which the ledger cannot trace"):
            duckdb_synth.run(con, "q1", epsilon=0.1)
        # a file's budget holds through a view over it and through a pattern that matches it
        con.execute(f"COPY w TO '{tmp_path / 'w1.parquet'}' (FORMAT parquet)")
        con.execute(f"COPY w TO '{tmp_path / 'w2.parquet'}' (FORMAT parquet)")
        assert duckdb_synth.set_budget(con, str(tmp_path / "w1.parquet"), epsilon=0.5) == str(tmp_path / "w1.parquet")
        con.execute(f"CREATE VIEW fv AS SELECT * FROM read_parquet('{tmp_path / 'w1.parquet'}')")
        for src in ("fv", str(tmp_path / "w*.parquet")):
            with pytest.raises(LedgerError, match="w1.parquet: "):
                duckdb_synth.run(con, src, epsilon=1.0)
        assert _ledger(con) == []
    finally:
        con.close()


def test_budgets_refuse_balanced_runs_and_runs_without_the_ledger(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        duckdb_synth.run(con, "v", epsilon=0.3, ledger=False)  # no budget yet: the user's to account for
        # a budget given with the call, on a source with none: said to be the call's (it was said to be the source's:
        # the review of 12d66b3)
        with pytest.raises(LedgerError, match=r"budget := 3 is counted against the runs the ledger records: a run "
                                              r"with ledger := false keeps no record"):
            duckdb_synth.run(con, "v", epsilon=0.3, budget=3, ledger=False)
        duckdb_synth.set_budget(con, "v", epsilon=1.0)
        with pytest.raises(LedgerError, match="a run with ledger := false would not count against it"):
            duckdb_synth.run(con, "v", epsilon=0.3, ledger=False)
        with pytest.raises(LedgerError, match="a balanced run releases exact statistics"):
            duckdb_synth.run(con, "v")
        assert duckdb_synth.run(con, "w").num_rows > 0  # another table: no budget, balanced is fine
    finally:
        con.close()


def test_the_budget_lives_with_the_database_that_holds_the_table(tmp_path):
    path = _db(tmp_path)
    con = duckdb.connect(path)
    duckdb_synth.set_budget(con, "v", epsilon=1.0)
    con.close()
    mem = duckdb.connect()
    try:
        mem.execute(f"ATTACH '{path}' AS clin")
        duckdb_synth.run(mem, "clin.v", epsilon=0.9)
        with pytest.raises(LedgerError, match=r"^clin\.v: .*budget of epsilon 1 "):
            duckdb_synth.run(mem, "SELECT * FROM clin.main.v", epsilon=0.9)
        assert [r[:4] for r in _ledger(mem, "clin")] == [(1, ["v"], "custom", "done")]
        assert _ledger(mem) == []  # nothing in the in-memory database
        assert duckdb_synth.budget(mem).select(["source", "dp_runs"]).to_pylist() == [{"source": "clin.v",
                                                                                        "dp_runs": 1}]
    finally:
        mem.close()
    con = duckdb.connect(path)
    try:
        assert duckdb_synth.budget(con).column("dp_runs").to_pylist() == [1]  # the file keeps it
    finally:
        con.close()


def test_sql_refuses_over_budget_before_reading_a_row(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        seen = []

        def spy(x: int) -> int:
            seen.append(x)
            return x

        con.create_function("spy", spy, ["BIGINT"], "BIGINT", side_effects=True)
        con.execute("CREATE VIEW trap AS SELECT spy(pid) AS pid, dx, age FROM v")
        duckdb_synth.register(con)
        duckdb_synth.set_budget(con, "v", epsilon=0.5)
        with pytest.raises(duckdb.Error, match="would pass the source's budget of epsilon 0.5"):
            con.sql("SELECT * FROM synthesize('trap', mode := 'strictest')").fetchall()
        assert seen == []
    finally:
        con.close()


def test_the_budget_set_last_applies(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        for eps in (5.0, 0.2, 3.0, 0.1):
            duckdb_synth.set_budget(con, "v", epsilon=eps)
        assert store.budget(con, Key("clinic", "v")).epsilon == 0.1
        duckdb_synth.register(con)
        assert con.sql("SELECT budget_epsilon FROM synth_budget()").fetchall() == [(0.1,)]
    finally:
        con.close()


def test_views_fall_back_to_the_search_path_and_untraced_reads_are_filed(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        con.execute("CREATE SCHEMA s2; CREATE VIEW s2.sv AS SELECT * FROM v")  # v is main's, by the search path
        con.execute("CREATE TEMP VIEW tv AS SELECT * FROM v")
        assert duckdb_synth.set_budget(con, "s2.sv", epsilon=0.5) == "v"
        for src in ("s2.sv", "tv"):
            with pytest.raises(LedgerError, match="^v: "):
                duckdb_synth.run(con, src, epsilon=1.0)
        # something untraced, with no budget on it: the run is still filed, under the view's name
        con.execute("CREATE VIEW q2 AS SELECT * FROM query_table('w')")
        with pytest.raises(LedgerError, match=r"reads query_table\(\)"):  # budgets exist: refused outright
            duckdb_synth.run(con, "q2", epsilon=0.5)
        with pytest.raises(LedgerError, match=r"reads query_table\(\)"):  # balanced too
            duckdb_synth.run(con, "q2")
    finally:
        con.close()
    con = duckdb.connect(str(tmp_path / "other.duckdb"))
    try:
        con.execute("CREATE TABLE w AS SELECT i % 50 AS k, (i % 3)::VARCHAR AS g FROM range(1000) r(i)")
        con.execute("CREATE VIEW q2 AS SELECT * FROM query_table('w')")
        duckdb_synth.run(con, "q2", epsilon=0.5)  # no budget anywhere: runs, filed under q2
        assert [r[1] for r in _ledger(con)] == [["q2"]]
    finally:
        con.close()


def test_files_are_keyed_by_real_path_hidden_and_symlinked_files_count(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        (tmp_path / "f").mkdir()
        secret = tmp_path / "f" / ".secret.parquet"
        con.execute(f"COPY w TO '{secret}' (FORMAT parquet)")
        (tmp_path / "link.parquet").symlink_to(secret)
        duckdb_synth.set_budget(con, str(secret), epsilon=0.5)
        for src in (str(tmp_path / "f" / "*.parquet"), str(tmp_path / "link.parquet")):
            with pytest.raises(LedgerError, match=r"\.secret\.parquet: "):
                duckdb_synth.run(con, src, epsilon=1.0)
        con.execute(f"CREATE VIEW uv AS SELECT * FROM read_parquet('file://{secret}')")
        con.execute(f"CREATE VIEW bv AS SELECT * FROM read_parquet('{tmp_path}/f/.sec' || 'ret.parquet')")
        with pytest.raises(LedgerError, match=r"\.secret\.parquet: "):
            duckdb_synth.run(con, "uv", epsilon=1.0)
        with pytest.raises(LedgerError, match=r"reads read_parquet\(\), which the ledger cannot trace"):
            duckdb_synth.run(con, "bv", epsilon=1.0)
    finally:
        con.close()


def test_registered_objects_and_read_only_attached_tables(tmp_path):
    import pyarrow as pa

    path = _db(tmp_path)
    ro_path = str(tmp_path / "ref.duckdb")
    c = duckdb.connect(ro_path)
    c.execute("CREATE TABLE r AS SELECT i % 50 AS k, (i % 3)::VARCHAR AS g FROM range(500) r(i)")
    c.close()
    con = duckdb.connect(path)
    try:
        duckdb_synth.set_budget(con, "w", epsilon=5.0)
        con.register("df", pa.table({"x": [str(i % 4) for i in range(500)]}))
        duckdb_synth.run(con, "df", epsilon=0.5)  # a registered object: filed under its name
        con.execute(f"ATTACH '{ro_path}' AS ref (READ_ONLY)")
        duckdb_synth.run(con, "SELECT * FROM ref.r", epsilon=0.5)  # no budget there: accounted here
        assert [r[1] for r in _ledger(con)] == [["temp.main.df"], ["ref.r"]]
    finally:
        con.close()


def test_a_ledger_from_before_budget_sequence_numbers_is_brought_up_to_date(tmp_path):
    con = duckdb.connect(_db(tmp_path))
    try:
        duckdb_synth.set_budget(con, "v", epsilon=1.0)
        con.execute("CREATE OR REPLACE TABLE duckdb_synth.budgets AS SELECT source, epsilon, delta, set_at "
                    "FROM duckdb_synth.budgets")  # as the first version wrote it
        duckdb_synth.register(con)
        assert con.sql("SELECT source, budget_epsilon FROM synth_budget()").fetchall() == [("v", 1.0)]
        duckdb_synth.set_budget(con, "v", epsilon=0.5)
        assert store.budget(con, Key("clinic", "v")).epsilon == 0.5
    finally:
        con.close()


@pytest.mark.parametrize("mode", ["strict", "balanced"])
def test_a_result_left_unread_on_the_connection_does_not_stop_a_run(tmp_path, mode):
    """``con.execute(...).fetchone()`` leaves its result unfinished, and DuckDB's relation API refuses to
    run on that connection ("cannot read the source", it read): the run finishes that result first, as
    DuckDB's own execute would, and goes through."""
    con = duckdb.connect(_db(tmp_path))
    try:
        assert con.execute("SELECT count(*) FROM v").fetchone() == (3000,)
        with pytest.raises(duckdb.Error, match="unfinished result"):  # what the source check met
            con.sql("DESCRIBE v").fetchall()
        con.execute("SELECT count(*) FROM v").fetchone()
        res = duckdb_synth.run(con, "v", mode=mode, seed=0)
        assert res.table.num_rows > 0
        assert [r[3] for r in _ledger(con)] == ["done"]
    finally:
        con.close()


def test_a_connection_that_will_not_finish_its_result_is_refused_with_what_to_do() -> None:
    """Where even ``execute`` refuses (a DuckDB that keeps the result), the error says what to do, before
    anything is read."""
    from duckdb_synth.engine.source import check_idle

    class Busy:
        def execute(self, sql):
            raise duckdb.InvalidInputException("connection has an unfinished result from execute()")

    with pytest.raises(SourceError, match=r"not read to the end.*fetchall\(\).*con\.complete\(\).*nothing was read"):
        check_idle(Busy())

    class Closed:
        def execute(self, sql):
            raise duckdb.ConnectionException("Connection already closed!")

    check_idle(Closed())  # reported where the source is read, as before


def test_a_dp_run_failing_on_the_source_is_charged_its_whole_budget_and_says_nothing_of_why(tmp_path):
    """The review of 1c489ef: a source query can fail on one row's value (`CASE WHEN salary >= x THEN a cast that
    fails`), and a DP run failing on the row count cost nothing and was deleted (one failing later cost 1 % of a run),
    while its message named the kind of error: 30 free runs read a salary to the cent under a budget of epsilon 1.
    Such a run is now charged its whole budget, recorded as failed, and says one text whatever the error."""
    con = duckdb.connect(_db(tmp_path))
    try:
        con.execute("CREATE TABLE t AS SELECT i AS pid, i % 5 AS dept, 20 + i % 50 AS age, "
                    "30000 + (i * 7919) % 50000 + 0.57 AS salary FROM range(2000) r(i)")
        duckdb_synth.set_budget(con, "t", epsilon=0.75)
        where = ("SELECT age, dept FROM t WHERE CASE WHEN pid = 7 THEN CASE WHEN salary >= {x} THEN ('x' || age)::INT "
                 "ELSE (age + 1)::BIGINT * 9223372036854775807 END ELSE 1 END = 1")
        listed = "SELECT age, dept, CASE WHEN pid = 7 AND salary >= {x} THEN ('x' || age)::INT ELSE 1 END AS z FROM t"
        said = set()
        for query, unit in ((where, {}), (listed, {}), (listed, {"privacy_unit": "pid", "max_rows_per_unit": 1})):
            source = query.format(x=30000) if not unit else query.format(x=30000).replace("SELECT age", "SELECT pid, age")
            with pytest.raises(duckdb_synth.DataError) as info:
                duckdb_synth.run(con, source, epsilon=0.4, **unit)
            said.add(str(info.value))
        assert len(said) == 1 and "Conversion" not in next(iter(said)) and "charged its whole budget" in next(iter(said))
        runs = _ledger(con)
        assert [r[3].startswith("failed: DataError") for r in runs] == [True] * 3
        assert [r[4] for r in runs] == pytest.approx([cdp_rho(0.4, 5e-7)] * 3)
        duckdb_synth.run(con, "SELECT age, dept FROM t", epsilon=0.4)  # four runs of 0.4 compose to 0.71
        with pytest.raises(LedgerError):  # and a fifth would pass 0.75: the failures counted in full
            duckdb_synth.run(con, where.format(x=90000), epsilon=0.4)
    finally:
        con.close()


def test_a_progress_callback_failing_before_the_first_read_costs_nothing(tmp_path):
    """The review of 4ab42dd: the progress call for 'reading' was inside the block that charges a failed DP run its whole
    budget, so a callback raising there, before anything was read, cost the whole run."""
    con = duckdb.connect(_db(tmp_path))
    try:
        con.execute("CREATE TABLE t AS SELECT i % 7 AS a, i % 3 AS b FROM range(1000) r(i)")

        def progress(stage, fraction):
            raise ValueError(f"stop at {stage}")

        with pytest.raises(ValueError, match="stop at reading"):
            duckdb_synth.run(con, "t", epsilon=1.0, progress=progress)
        assert _ledger(con) == []
    finally:
        con.close()
