"""End-to-end tests of synthesize(...) and synth_runs() through real DuckDB connections.

Every test goes through ``duckdb_synth.register(con)`` and SQL (or the public
Python API where it says so): modes, budgets, the run log, memoization, seeds,
every kind of source, masks and rare values.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pytest

import duckdb_synth
from conftest import (DX_COMMON, EMAIL_RE, N_PATIENTS, PLANTED_EMAIL, RARE_PAIR, RARE_SOLO, describe, load,
                      make_patients, run_count, run_log, sql_error)

PATIENT_COLUMNS = make_patients().column_names

# name -> (SQL options, epsilon asked for, delta asked for, mode in synth_runs, rows asked for)
MODES = {
    "balanced": ("mode := 'balanced'", None, None, "balanced", None),
    "strict": ("mode := 'strict'", 3.0, 1e-6, "strict", None),
    "strictest": ("mode := 'strictest'", 1.0, 1e-6, "strictest", None),
    "epsilon": ("epsilon := 2.0", 2.0, 1e-6, "custom", None),
    "epsilon_delta": ("epsilon := 2.0, delta := 1e-5, \"rows\" := 250", 2.0, 1e-5, "custom", 250),
}


@dataclass
class ModeRun:
    columns: list[str]
    rows: list[tuple]
    log: list[dict]


def _log_dicts(con: duckdb.DuckDBPyConnection) -> list[dict]:
    rel = con.sql("SELECT * FROM synth_runs() ORDER BY run_id, step_no")
    return [dict(zip(rel.columns, r)) for r in rel.fetchall()]


@pytest.fixture(scope="module")
def mode_runs() -> Iterator[dict[str, ModeRun]]:
    """One SQL run of 'patients' per mode (email masked), each on a fresh connection."""
    out = {}
    for name, (opts, *_rest) in MODES.items():
        c = duckdb.connect()
        try:
            duckdb_synth.register(c)
            load(c, "patients", make_patients())
            rel = c.sql(f"SELECT * FROM synthesize('patients', {opts}, masks := {{'email': 'email'}}, seed := 12)")
            out[name] = ModeRun(rel.columns, rel.fetchall(), _log_dicts(c))
        finally:
            c.close()
    yield out


# ---------------------------------------------------------------- modes


@pytest.mark.parametrize("mode", MODES)
def test_mode_keeps_column_names_and_order(mode_runs, mode):
    assert mode_runs[mode].columns == PATIENT_COLUMNS


@pytest.mark.parametrize("mode", MODES)
def test_mode_row_count(mode_runs, mode):
    run = mode_runs[mode]
    asked = MODES[mode][4]
    n = len(run.rows)
    if asked is not None:
        assert n == asked
    elif MODES[mode][1] is None:
        assert n == N_PATIENTS  # balanced: the exact count
    else:
        # DP: the noisy count; the log says how much noise it had.
        detail = " ".join(s["detail"] or "" for s in run.log if "count" in s["step"])
        found = re.search(r"sigma=([0-9.]+)", detail)
        tolerance = 5 * float(found.group(1)) + 1 if found else 0.25 * N_PATIENTS
        assert abs(n - N_PATIENTS) <= tolerance, (n, detail)
    assert {s["rows_out"] for s in run.log} == {n}
    # The exact input size is released in balanced mode only.
    assert {s["rows_in"] for s in run.log} == {N_PATIENTS if MODES[mode][1] is None else None}


@pytest.mark.parametrize("mode", MODES)
def test_mode_is_logged_within_budget(mode_runs, mode):
    _, epsilon, delta, logged_mode, _ = MODES[mode]
    log = mode_runs[mode].log
    assert log, "synth_runs() has no row for the run"
    assert {s["run_id"] for s in log} == {1}
    assert [s["step_no"] for s in log] == list(range(1, len(log) + 1))
    assert {s["mode"] for s in log} == {logged_mode}
    assert {s["source"] for s in log} == {"patients"}
    if epsilon is None:
        assert {s["epsilon"] for s in log} == {None}
        assert {s["total_epsilon"] for s in log} == {None}
    else:
        assert {s["epsilon"] for s in log} == {epsilon}
        assert {s["delta"] for s in log} == {delta}
        total = {s["total_epsilon"] for s in log}
        assert len(total) == 1
        assert 0 < total.pop() <= epsilon + 1e-9
        assert all(s["step_rho"] >= 0 for s in log)
        assert sum(s["step_rho"] for s in log) == pytest.approx(log[0]["total_rho"], rel=1e-9)


def test_python_run_reports_spend_and_is_logged(con):
    res = duckdb_synth.run(con, "SELECT sex, age, dx FROM patients", mode="strictest", seed=1)
    assert res.table.column_names == ["sex", "age", "dx"]
    assert res.spend.mode == "strictest" and res.spend.epsilon == 1.0
    assert 0 < res.spend.epsilon_spent <= 1.0 + 1e-9
    assert "strictest" in res.spend.format() and "total" in res.spend.format()
    log = _log_dicts(con)
    assert {s["mode"] for s in log} == {"strictest"} and {s["run_id"] for s in log} == {1}
    assert log[0]["total_epsilon"] == pytest.approx(res.spend.epsilon_spent)
    assert [s["step"] for s in log] == [r["step"] for r in res.spend.rows()]


def test_dp_row_count_is_close_on_a_large_source(con):
    """Within a few percent when the source is large enough for the noise not to matter."""
    con.execute("CREATE TABLE big AS SELECT (i % 7)::INTEGER AS k, ['a', 'b', 'c'][i % 3 + 1] AS g "
                "FROM range(20000) r(i)")
    for opts in ("mode := 'strict'", "mode := 'strictest'", "epsilon := 2.0", "epsilon := 0.5, delta := 1e-7"):
        n = con.sql(f"SELECT count(*) FROM synthesize('big', {opts}, seed := 5)").fetchall()[0][0]
        assert abs(n - 20000) <= 0.03 * 20000, (opts, n)


def test_rows_option_in_balanced_mode(con):
    rows = con.sql("SELECT * FROM synthesize('patients', \"rows\" := 37, seed := 1)").fetchall()
    assert len(rows) == 37


def test_same_call_twice_is_memoized(con):
    q = "SELECT * FROM synthesize('SELECT sex, age, dx FROM patients', mode := 'strict', seed := 3)"
    first = con.sql(q).fetchall()
    again = con.sql(q).fetchall()
    rel = con.sql(q)
    assert rel.fetchall() == first  # a lazy relation binds again on every fetch
    con.execute(f"CREATE TABLE kept AS {q}")
    assert again == first
    assert con.sql("SELECT * FROM kept").fetchall() == first
    assert run_count(con) == 1


def test_different_seed_gives_different_rows(con):
    a = con.sql("SELECT * FROM synthesize('patients', seed := 1)").fetchall()
    b = con.sql("SELECT * FROM synthesize('patients', seed := 2)").fetchall()
    assert a != b
    assert run_count(con) == 2


def test_an_identical_call_on_changed_data_runs_again(con):
    """The memo is keyed on the data too: after a DELETE the same call used to return the old rows."""
    q = "SELECT * FROM synthesize('patients', seed := 1)"
    first = con.sql(q).fetchall()
    assert con.sql(q).fetchall() == first and run_count(con) == 1
    con.execute("DELETE FROM patients WHERE age > 40")
    left = con.sql("SELECT count(*) FROM patients").fetchall()[0][0]
    again = con.sql(q).fetchall()
    assert run_count(con) == 2 and len(again) == left < len(first)
    assert con.sql(q).fetchall() == again and run_count(con) == 2


def test_register_twice_is_idempotent(con):
    q = "SELECT * FROM synthesize('patients', seed := 4)"
    first = con.sql(q).fetchall()
    log = run_log(con)
    duckdb_synth.register(con)
    duckdb_synth.register(con)
    assert run_log(con) == log
    assert con.sql(q).fetchall() == first
    assert run_count(con) == 1
    assert len(con.sql("SELECT * FROM synthesize('patients', seed := 5)").fetchall()) == N_PATIENTS
    assert run_count(con) == 2


def test_registering_leaves_the_database_as_it_was(tmp_path):
    """TEMP macros only: a user's own macro of the same name survives, and plain DuckDB finds none of ours."""
    path = str(tmp_path / "own.duckdb")
    c = duckdb.connect(path)
    c.execute("CREATE TABLE t AS SELECT (i % 5)::VARCHAR AS a, i AS b FROM range(100) r(i)")
    c.execute("CREATE MACRO synthesize(x) AS x + 1")
    duckdb_synth.register(c)
    assert len(c.sql("SELECT * FROM synthesize('t', seed := 1)").fetchall()) == 100
    c.close()
    c = duckdb.connect(path)
    try:
        ours = c.sql("SELECT function_name FROM duckdb_functions() WHERE function_name LIKE '%synth%' "
                     "AND NOT internal").fetchall()
        assert ours == [("synthesize",)]
        assert c.sql("SELECT synthesize(1)").fetchall() == [(2,)]  # the user's, untouched
    finally:
        c.close()


def test_read_only_database_and_a_second_cursor(tmp_path):
    path = str(tmp_path / "ro.duckdb")
    c = duckdb.connect(path)
    c.execute("CREATE TABLE t AS SELECT (i % 5)::VARCHAR AS a, i AS b FROM range(100) r(i)")
    c.close()
    c = duckdb.connect(path, read_only=True)
    try:
        duckdb_synth.register(c)
        assert len(c.sql("SELECT * FROM synthesize('t', seed := 1)").fetchall()) == 100
        cur = c.cursor()
        duckdb_synth.register(cur)  # the UDFs of `c` are visible here, but belong to `c`
        assert len(cur.sql("SELECT * FROM synthesize('t', seed := 2)").fetchall()) == 100
        # Balanced runs on a read-only database: not in the database's ledger (it cannot be written),
        # listed by the connection that made them
        one = "SELECT count(DISTINCT started_at), bool_or(in_ledger), count(run_id) FROM synth_runs()"
        assert cur.sql(one).fetchall() == [(1, False, 0)]
        assert c.sql(one).fetchall() == [(1, False, 0)]
        with pytest.raises(duckdb.Error, match="database ro is read-only.*ledger := false"):
            c.sql("SELECT * FROM synthesize('t', mode := 'strict')").fetchall()
        assert len(c.sql("SELECT * FROM synthesize('t', mode := 'strict', ledger := false)").fetchall()) > 50
        assert c.sql(one).fetchall() == [(2, False, 0)]
        cur.close()
    finally:
        c.close()


def test_file_connection(tmp_path):
    path = tmp_path / "x.duckdb"
    c = duckdb.connect(str(path))
    try:
        load(c, "patients", make_patients())
        duckdb_synth.register(c)
        c.execute("CREATE TABLE patients_synth AS SELECT * FROM synthesize('patients', mode := 'strict', seed := 2)")
        assert [r[0] for r in c.sql("DESCRIBE patients_synth").fetchall()] == PATIENT_COLUMNS
        n = c.sql("SELECT count(*) FROM patients_synth").fetchall()[0][0]
        assert abs(n - N_PATIENTS) < 0.5 * N_PATIENTS
        assert run_count(c) == 1
    finally:
        c.close()
    c = duckdb.connect(str(path))
    try:
        assert c.sql("SELECT count(*) FROM patients_synth").fetchall()[0][0] == n
    finally:
        c.close()


# ---------------------------------------------------------------- sources


@pytest.fixture
def sources_con(con, tmp_path):
    con.execute("CREATE SCHEMA s")
    con.execute("CREATE TABLE s.t AS SELECT * FROM patients")
    con.execute('CREATE TABLE "my table" AS SELECT * FROM patients')
    con.execute("CREATE VIEW v AS SELECT age, sex, dx FROM patients WHERE smoker")
    for ext, fmt in (("parquet", "PARQUET"), ("csv", "CSV"), ("json", "JSON")):
        con.execute(f"COPY patients TO '{tmp_path / ('p.' + ext)}' (FORMAT {fmt})")
    return con


SOURCES = {
    "table": ("patients", "patients"),
    "schema_qualified": ("s.t", "s.t"),
    "quoted_with_space": ('"my table"', '"my table"'),
    "view": ("v", "v"),
    "select_where": ("SELECT age, dx, amount FROM patients WHERE age >= 40",
                     "(SELECT age, dx, amount FROM patients WHERE age >= 40)"),
    "with": ("WITH a AS (SELECT age, sex, visit_date FROM patients) SELECT * FROM a",
             "(WITH a AS (SELECT age, sex, visit_date FROM patients) SELECT * FROM a)"),
    "parquet": ("{tmp}/p.parquet", "'{tmp}/p.parquet'"),
    "csv": ("{tmp}/p.csv", "'{tmp}/p.csv'"),
    "json": ("{tmp}/p.json", "'{tmp}/p.json'"),
}


@pytest.mark.parametrize("kind", SOURCES)
def test_source_kinds(sources_con, tmp_path, kind):
    source, reads = (s.replace("{tmp}", str(tmp_path)) for s in SOURCES[kind])
    con = sources_con
    literal = source.replace("'", "''")
    rel = con.sql(f"SELECT * FROM synthesize('{literal}', seed := 9)")
    rows = rel.fetchall()
    assert rel.columns == [c for c, _ in describe(con, f"SELECT * FROM {reads}")]
    n_source = con.sql(f"SELECT count(*) FROM {reads}").fetchall()[0][0]
    assert len(rows) == n_source  # balanced mode: the exact count
    log = run_log(con)
    assert {r[2] for r in log} == {source}


def test_odd_column_names_survive(con):
    con.execute("""CREATE TABLE w AS SELECT (i % 60)::INTEGER AS "weird col", ['a', 'b'][i % 2 + 1] AS "a""b",
                   (i % 7)::INTEGER AS "select", 'x' || i AS "E-mail" FROM range(200) r(i)""")
    names = ["weird col", 'a"b', "select", "E-mail"]
    for opts in ("seed := 1", "mode := 'strict', seed := 1"):
        rel = con.sql(f"SELECT * FROM synthesize('w', {opts}, masks := {{'E-mail': 'email'}})")
        rows = rel.fetchall()
        assert rel.columns == names
        assert all(EMAIL_RE.fullmatch(r[3]) for r in rows)


def test_temp_table_refused_in_sql_but_works_from_python(con):
    load(con, "tmp_patients", make_patients(), temp=True)
    msg = sql_error(con, "SELECT * FROM synthesize('tmp_patients', seed := 1)")
    assert "SourceError" in msg and "TEMP" in msg
    assert run_count(con) == 0
    res = duckdb_synth.run(con, "tmp_patients", seed=1)
    assert res.table.num_rows == N_PATIENTS
    assert res.table.column_names == PATIENT_COLUMNS
    assert run_count(con) == 1


def test_table_created_in_open_transaction_refused_in_sql(con):
    con.begin()
    con.execute("CREATE TABLE fresh AS SELECT * FROM patients")
    msg = sql_error(con, "SELECT * FROM synthesize('fresh')")
    con.rollback()
    assert "SourceError" in msg and "transaction" in msg


def test_unquoted_table_name_with_space(con):
    """An unquoted name with a space names that table (it used to be refused as an 'ALIAS statement')."""
    con.execute('CREATE TABLE "my table" AS SELECT * FROM patients')
    try:
        rows = con.sql("SELECT * FROM synthesize('my table', seed := 1)").fetchall()
    except duckdb.InvalidInputException as e:
        # Acceptable too: a refusal that says how to name such a table.
        assert "ALIAS" not in str(e) and "quote" in str(e).lower(), str(e)
    else:
        assert len(rows) == N_PATIENTS


# ---------------------------------------------------------------- masks and rare values


@pytest.mark.parametrize("mode", MODES)
def test_masked_emails_are_fake_and_never_the_planted_one(mode_runs, mode):
    i = PATIENT_COLUMNS.index("email")
    emails = [r[i] for r in mode_runs[mode].rows]
    assert PLANTED_EMAIL not in emails
    assert all(e is not None and "@" in e and EMAIL_RE.fullmatch(e) for e in emails), emails[:5]
    real = {f"user{k:04d}@clinic.example" for k in range(N_PATIENTS)}
    assert not real & set(emails)


@pytest.mark.parametrize("mode", MODES)
def test_no_output_holds_a_rare_value_or_the_planted_email(mode_runs, mode):
    values = {v for r in mode_runs[mode].rows for v in r}
    assert not {RARE_PAIR, RARE_SOLO, PLANTED_EMAIL} & values


def test_masks_of_several_kinds(con):
    rel = con.sql("""SELECT * FROM synthesize('patients', seed := 2,
                      masks := {'email': 'email', 'sex': 'name', 'visit_date': 'date', 'amount': 'number'})""")
    rows = rel.fetchall()
    cols = {c: [r[i] for r in rows] for i, c in enumerate(rel.columns)}
    assert all(EMAIL_RE.fullmatch(e) for e in cols["email"])
    assert all(isinstance(s, str) and s not in ("F", "M") and " " in s.strip() for s in cols["sex"])
    types = dict(zip(rel.columns, map(str, rel.types)))
    assert (types["visit_date"], types["amount"]) == ("DATE", "DECIMAL(10,2)")
    assert all(v is not None and v.as_tuple().exponent >= -2 for v in cols["amount"])


def test_balanced_clipping_holds_when_the_range_end_is_off_the_lattice():
    """The 4 largest values are clipped; the 5th largest (99.96) is off the 1-decimal lattice the column
    is written on, and rounding it up to the lattice used to emit the largest value (100.0, one row)."""
    c = duckdb.connect()
    try:
        c.execute("CREATE TABLE t AS SELECT round((i * 7919 % 999) / 10.0, 1)::DOUBLE AS x, i % 3 AS g "
                  "FROM range(995) r(i) UNION ALL SELECT x, 0 FROM (VALUES (100.0), (99.99), (99.98), (99.97), "
                  "(99.96)) v(x)")
        fifth = c.sql("SELECT x FROM t ORDER BY x DESC LIMIT 1 OFFSET 4").fetchall()[0][0]
        assert fifth == 99.96
        for seed in range(10):
            out = duckdb_synth.run(c, "t", seed=seed).table.column("x").to_pylist()
            assert max(v for v in out if v is not None) <= fifth, seed
    finally:
        c.close()


@pytest.mark.parametrize("column", ["age", "weight", "amount", "visit_date", "admitted_at"])
def test_balanced_never_emits_a_number_or_time_few_rows_hold(con, column):
    """Integers, one-decimal numbers, DECIMAL(10,2), dates and timestamps held by 1 to 4 rows of the
    source never come out (they used to: an integer held by one row in most runs)."""
    rare = con.sql(f"SELECT {column} AS v FROM patients WHERE {column} IS NOT NULL GROUP BY 1 "
                   "HAVING count(*) < 5").fetchall()
    assert len(rare) >= 20  # the test is not vacuous: many values are rare
    for seed in (1, 2, 3):
        con.register("out", duckdb_synth.run(con, f"SELECT {column}, sex, dx FROM patients", seed=seed).relation(con))
        hits = con.sql(f"SELECT count(*) FROM out WHERE {column} IN (SELECT {column} FROM patients "
                       f"GROUP BY 1 HAVING count(*) < 5)").fetchall()[0][0]
        con.unregister("out")
        assert hits == 0, (column, seed, hits)


@pytest.mark.parametrize("create", [
    # Each drawn at the type's own precision, so a value checked is a value the column will hold.
    "CREATE TABLE t AS SELECT (TIMESTAMP '2020-01-01' + to_seconds((hash(i) % 3600)::BIGINT))::TIMESTAMP_S AS v "
    "FROM range(3000) r(i)",
    "CREATE TABLE t AS SELECT (100000 + (hash(i) % 10000) / 100.0)::FLOAT AS v FROM range(3000) r(i)",
    "CREATE TABLE t AS SELECT ((hash(i) % 3000) / 100000000)::DECIMAL(18,8) AS v FROM range(3000) r(i)",
    "CREATE TABLE t AS SELECT ((hash(i) % 2000) / 100.0)::DOUBLE AS v FROM range(3000) r(i)",
])
def test_balanced_rare_values_at_the_types_own_precision(create):
    c = duckdb.connect()
    try:
        c.execute(create)
        c.register("o", duckdb_synth.run(c, "t", seed=1).relation(c))
        hits = c.sql("SELECT count(*) FROM o WHERE v IN (SELECT v FROM t GROUP BY v HAVING count(*) < 5)").fetchall()
        assert hits == [(0,)]
    finally:
        c.close()


def test_balanced_dense_columns_keep_their_spread():
    """Unique ids and dates each held by two rows: no value is common, and they used to collapse onto one."""
    c = duckdb.connect()
    try:
        c.execute("CREATE TABLE t AS SELECT i::INTEGER AS id, DATE '2020-01-01' + (i % 1000)::INTEGER AS d "
                  "FROM range(2000) r(i)")
        out = duckdb_synth.run(c, "t", seed=1).relation(c)
        c.register("o", out)
        n_id, n_d, lo, hi = c.sql("SELECT count(DISTINCT id), count(DISTINCT d), min(id), max(id) FROM o").fetchall()[0]
        assert n_id > 1000 and n_d > 500 and lo < 100 and hi > 1900
    finally:
        c.close()


@pytest.mark.parametrize("mode,seeds", [("balanced", (1, 2, 3)), ("strict", (1, 2, 3)), ("strictest", (1, 2, 3))])
def test_rare_values_never_emitted(mode, seeds):
    """A value held by 1 or 2 rows, or a unique e-mail, never comes out verbatim, over several seeds."""
    for seed in seeds:
        c = duckdb.connect()
        try:
            duckdb_synth.register(c)
            load(c, "patients", make_patients())
            got = c.sql(f"""SELECT dx, email FROM synthesize('SELECT dx, email, sex FROM patients',
                                                             mode := '{mode}', seed := {seed})""").fetchall()
        finally:
            c.close()
        dxs, emails = {r[0] for r in got}, {r[1] for r in got}
        assert RARE_PAIR not in dxs and RARE_SOLO not in dxs, (mode, seed)
        assert PLANTED_EMAIL not in emails and not any(str(e).endswith("@clinic.example") for e in emails)
        if mode == "balanced":
            assert set(DX_COMMON) <= dxs  # frequent values are kept: the test is not vacuous


# ---------------------------------------------------------------- the run log


def test_recording_a_run_does_not_recompute_earlier_runs(con, monkeypatch):
    """Recording a run computes its own log rows only (it used to redo every earlier run: quadratic)."""
    from duckdb_synth.privacy import spend

    calls = []

    def counting_cdp_eps(rho, delta):
        calls.append(rho)
        return 0.5

    monkeypatch.setattr(spend, "cdp_eps", counting_cdp_eps)
    per_run, own = [], []
    for seed in (1, 2, 3):
        before = len(calls)
        res = duckdb_synth.run(con, "SELECT sex, age FROM patients", mode="strict", seed=seed)
        per_run.append(len(calls) - before)
        own.append(sum(1 for s in res.spend.steps if s.rho > 0))
    assert per_run[0] > 0
    assert per_run == own, (per_run, own)  # each run formats its own steps, not the earlier runs' too


# ---------------------------------------------------------------- what a connection keeps, and when it lets go


def test_the_ledger_keeps_no_output_rows(con):
    """It kept every run's table: +80 MB a call on 1M x 10. The caller's Result holds the rows, the ledger what was
    spent and a fingerprint, by which a report still finds the run."""
    import gc
    import weakref

    res = duckdb_synth.run(con, "patients", mode="strict", seed=1)
    con.register("synth_copy", res.table)
    assert duckdb_synth.report(con, "patients", "synth_copy").run_id == 1  # found by its fingerprint
    con.unregister("synth_copy")
    rows = weakref.ref(res.table)
    del res
    gc.collect()
    assert rows() is None
    (rec,) = duckdb_synth.runs(con)
    assert rec.run_id == 1 and rec.rows_out > 0 and rec.spend.epsilon == 3.0


def test_memoized_runs_are_bounded_and_forget_frees_their_files(con, monkeypatch):
    from duckdb_synth.surfaces import sql
    from duckdb_synth.surfaces.sql import MEMO_RUNS, _state

    monkeypatch.setattr(sql, "MEMO_AGE", 0.0)  # else nothing used in the last ten minutes falls out
    for seed in range(MEMO_RUNS + 4):
        con.sql(f"SELECT count(*) FROM synthesize('SELECT sex, age FROM patients', seed := {seed})").fetchall()
    folder = _state(con).folder
    assert len(list(folder.glob("run_*.parquet"))) == MEMO_RUNS
    duckdb_synth.forget(con)
    assert list(folder.glob("run_*.parquet")) == [] and list(folder.glob("report_*")) == []


def test_one_query_with_more_calls_than_the_memo_holds_runs_each_once(con):
    """DuckDB binds the UDF twice a call: with 17 calls the 17th pushed the 1st out and it ran twice."""
    from duckdb_synth.surfaces.sql import MEMO_RUNS

    calls = " UNION ALL ".join(f"SELECT count(*) FROM synthesize('SELECT sex, age FROM patients', seed := {k})"
                               for k in range(MEMO_RUNS + 1))
    con.sql(calls).fetchall()
    assert run_count(con) == MEMO_RUNS + 1


def _connection_with_a_report():
    """A registered connection that has written a report into its scratch folder, and the folder."""
    from duckdb_synth.surfaces.sql import _state

    c = duckdb.connect()
    duckdb_synth.register(c)
    load(c, "patients", make_patients())
    c.sql("SELECT * FROM synth_report('patients', 'patients')").fetchall()
    return c, _state(c).folder


def test_a_connection_gone_takes_its_folder_with_it():
    """The scratch folder holds synthetic rows and reports with real statistics: it outlived the connection."""
    import gc

    c, folder = _connection_with_a_report()
    assert any(folder.iterdir())
    c.close()
    del c
    gc.collect()
    assert not folder.exists()


def test_a_closed_connection_lets_go_of_its_folder_at_the_next_registration():
    first, folder = _connection_with_a_report()
    first.close()  # still referenced here: no garbage collection to rely on
    second = duckdb.connect()
    try:
        duckdb_synth.register(second)
        assert not folder.exists()
    finally:
        second.close()


def test_folders_of_processes_gone_are_swept(monkeypatch):
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from duckdb_synth.surfaces import sql

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = Path(tempfile.mkdtemp(prefix=f"duckdb_synth_{int(gone.stdout)}_"))
    (stale / "report_1_summary.parquet").write_bytes(b"real statistics")
    monkeypatch.setattr(sql, "_swept", False)
    c = duckdb.connect()
    try:
        duckdb_synth.register(c)
        assert not stale.exists()
    finally:
        c.close()


def test_a_run_whose_output_cannot_be_written_is_still_recorded(con, monkeypatch):
    """The spend was recorded only after the output file was written: a full disk lost it."""
    from duckdb_synth.engine.output import Output

    def full(output, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Output, "write_parquet", full)
    with pytest.raises(duckdb.Error):
        con.sql("SELECT * FROM synthesize('patients', mode := 'strict', seed := 1)").fetchall()
    spent = con.sql("SELECT DISTINCT run_id, total_epsilon, status FROM synth_runs()").fetchall()
    assert len(spent) == 1 and spent[0][1] == pytest.approx(3.0, rel=1e-3)


def test_a_synthesize_inside_a_synthesize_source_is_refused_not_waited_for(con):
    """The review of 12d66b3: the inner call is bound while the outer one reads its source under the connection's
    lock, on the same thread: it waited for that lock forever. It is refused, naming the way round; a report over a
    synthesize() (read outside the lock) still runs."""
    import threading

    outcome = []

    def nested():
        try:
            con.execute("SELECT count(*) FROM synthesize('SELECT * FROM synthesize(''patients'', seed := 1)', "
                        "rows := 10, seed := 0)").fetchall()
        except duckdb.Error as exc:
            outcome.append(str(exc))

    worker = threading.Thread(target=nested, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the nested call is still waiting"
    assert outcome and "make the inner copy a table first" in outcome[0]
    assert con.execute("SELECT count(*) FROM synth_report_columns('patients', "
                       "'SELECT * FROM synthesize(''patients'', seed := 1)')").fetchall()[0][0] > 0


def test_one_rule_as_text_is_one_rule_in_sql_as_in_python(con):
    """The review of 12d66b3: SQL passes its options as JSON, and one rule given as text ('age >= 40') came as the JSON
    string '"age >= 40"', refused as a rule of that text ('supported rules compare two sides...'). A Python rule that
    starts with a quoted column is no JSON string, and stays as it is."""
    from duckdb_synth.options import parse_options

    one = con.execute("SELECT min(age) FROM synthesize('patients', seed := 1, \"constraints\" := 'age >= 40')")
    assert one.fetchall()[0][0] >= 40
    report = con.execute("SELECT count(*) FROM synth_report('patients', 'patients', \"constraints\" := 'age >= 40')")
    assert report.fetchall()[0][0] > 0
    assert parse_options(constraints='"age" >= 40').constraints == ('"age" >= 40',)
    # a list given as text, as domains may be (it was one rule of that text: the review of 48d815d)
    listed = con.execute("SELECT min(age) FROM synthesize('patients', seed := 1, \"constraints\" := "
                         "'[\"age >= 40\", \"age <= 60\"]')").fetchall()[0][0]
    assert listed >= 40


def test_a_malformed_domains_text_is_shown_as_given(con):
    """The review of 12d66b3: SQL passes options as JSON, so a malformed JSON text given as domains was shown quoted
    once more, '"{\\"age\\":[120,0]"'."""
    with pytest.raises(duckdb.Error) as info:
        con.execute("SELECT * FROM synthesize('patients', domains := '{\"age\": [120, 0]')").fetchall()
    assert "got '{\"age\": [120, 0]'" in str(info.value)
