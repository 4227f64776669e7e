"""The canary test (issue 4, item 3): planted secrets, counted in the output.

The privacy tests run the real synthesizer on a small made-up table (2,000 rows, a
VARCHAR column of 10 categories, an integer, a boolean; about 0.3 s a run). The
mechanics (copy, planting, counting, clean-up) are checked with an "identity
synthesizer" that returns the planted copy itself, so every count is known exactly.
"""
from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

import duckdb_synth
from duckdb_synth.reporting.canary import canary
from duckdb_synth.surfaces.cli import main
from duckdb_synth.errors import DataError, OptionError, SchemaError, SourceError
from duckdb_synth.engine.schema import read_schema
from duckdb_synth.privacy.store import LedgerError

from conftest import load

# The package exports the function under the module's name, so reach the module through sys.modules.
canary_module = importlib.import_module("duckdb_synth.reporting.canary")


N = 2000
SECRET_RE = re.compile(r"canary-[0-9a-f]{12}-k(\d+)")


def make_people(n: int = N, seed: int = 0) -> pa.Table:
    """Made-up people: 10 categories of unequal size, ages, a boolean."""
    rng = np.random.default_rng(seed)
    cats = [f"cat{i}" for i in range(10)]
    p = np.linspace(1.0, 2.0, 10)
    return pa.table({
        "category": rng.choice(cats, n, p=p / p.sum()).tolist(),
        "age": pa.array(rng.integers(18, 90, n), pa.int32()),
        "smoker": (rng.random(n) < 0.3).tolist(),
    })


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    load(c, "people", make_people())
    yield c
    c.close()


def replays(table: pa.Table) -> dict[int, list[int]]:
    """times_planted -> the times_replayed of every secret planted that many times."""
    out: dict[int, list[int]] = {}
    for k, r in zip(table.column("times_planted").to_pylist(), table.column("times_replayed").to_pylist()):
        out.setdefault(k, []).append(r)
    return out


def small_groups_replayed(table: pa.Table) -> dict[int, list[int]]:
    """The privacy check: secrets planted in fewer than 5 rows that came back (must be empty)."""
    return {k: r for k, r in replays(table).items() if k < 5 and any(r)}


def temp_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.sql("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()]


# ---------------------------------------------------------------- privacy, with the real synthesizer


@pytest.mark.parametrize(("mode", "seed"), [("strict", 0), ("strict", 1), ("strict", 2), ("strictest", 0)])
def test_dp_modes_never_replay_secrets_planted_in_fewer_than_5_rows(con, mode, seed):
    table = canary(con, "people", mode=mode, ks=(1, 2, 3, 4, 400), seed=seed)
    assert table.column_names == ["secret", "column", "times_planted", "times_replayed"]
    assert table.column("column").to_pylist() == ["category"] * 5
    assert small_groups_replayed(table) == {}
    # DP hides small groups, not values held by many rows: a secret in 400 of 2,000 rows is a
    # population statistic and comes back at about its frequency (binomial sd ~18, noise ~10).
    assert 250 <= replays(table)[400][0] <= 550


def test_the_check_fails_when_small_groups_leak(con):
    # With a huge epsilon the discovery threshold is about 2, so a value held by 3 or 4 rows is kept
    # and sampled: the same check must catch it.
    table = canary(con, "people", epsilon=1000.0, ks=(1, 2, 3, 3, 4, 4), seed=0)
    leaked = small_groups_replayed(table)
    assert set(leaked) & {3, 4}


def test_balanced_emits_values_held_by_5_rows_and_never_fewer(con):
    table = canary(con, "people", mode="balanced", ks=(4, 4, 4, 5, 5, 5, 200), seed=0)
    got = replays(table)
    assert got[4] == [0, 0, 0]
    assert any(got[5])  # each is expected about 5 times; all three absent has probability e^-15
    assert 150 <= got[200][0] <= 250  # binomial sd 13.6


# ---------------------------------------------------------------- mechanics, with an identity synthesizer


@pytest.fixture
def identity(monkeypatch) -> list[dict]:
    """Make the canary's run return the planted copy itself; record what each run saw."""
    seen: list[dict] = []
    real_run = canary_module._run

    def run(con, source, **options):
        res = real_run(con, source, **{**options, "mode": None, "epsilon": None})
        copy = con.sql(f'SELECT * FROM "{source}"').to_arrow_table()
        seen.append({"source": source, "copy": copy, "columns": read_schema(con, f'SELECT * FROM "{source}"', (source,)),
                     "options": options})
        fake = dataclasses.replace(res)
        fake.__dict__["table"] = copy  # Result.table is a cached property: the canary reads these rows
        return fake

    monkeypatch.setattr(canary_module, "_run", run)
    return seen


def test_every_secret_is_counted_exactly_and_planted_in_distinct_rows(con, identity):
    ks = (1, 2, 5, 10, 20, 50)
    before = con.sql("SELECT * FROM people").to_arrow_table()
    table = canary(con, "people", ks=ks, seed=3)
    assert table.column("times_planted").to_pylist() == list(ks)
    assert table.column("times_replayed").to_pylist() == list(ks)
    secrets = table.column("secret").to_pylist()
    assert [int(SECRET_RE.fullmatch(s).group(1)) for s in secrets] == list(ks)
    copy = identity[0]["copy"]
    assert copy.num_rows == before.num_rows
    changed = [a != b for a, b in zip(before.column("category").to_pylist(), copy.column("category").to_pylist())]
    assert sum(changed) == sum(ks)  # one secret per row
    for name in ("age", "smoker"):
        assert copy.column(name).equals(before.column(name))
    # The user's table is untouched and the copy is gone.
    assert con.sql("SELECT * FROM people").to_arrow_table().equals(before)
    assert temp_tables(con) == []


def test_a_seed_makes_the_test_repeatable(con, identity):
    a = canary(con, "people", ks=(1, 5), seed=11)
    b = canary(con, "people", ks=(1, 5), seed=11)
    c = canary(con, "people", ks=(1, 5), seed=12)
    assert a.equals(b)
    assert a.column("secret") != c.column("secret")
    assert identity[0]["copy"].equals(identity[1]["copy"])


def test_the_run_gets_the_options_and_the_copy_keeps_keys_and_not_null(identity):
    c = duckdb.connect()
    try:
        c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, code VARCHAR NOT NULL, note VARCHAR UNIQUE, "
                  "email VARCHAR, u UUID)")
        c.execute("INSERT INTO t SELECT i, 'c' || (i % 7), 'n' || i, 'e' || i, uuid() FROM range(300) r(i)")
        table = canary(c, "t", ks=(1, 3), seed=0, masks={"email": "email"})
        assert table.column("column").to_pylist() == ["code", "code"]  # note is a key, so code is the first to fit
        run = identity[0]
        assert run["options"]["masks"] == {"email": "email"} and run["options"]["seed"] == 0
        original = read_schema(c, "SELECT * FROM t", ("t",))
        assert [(x.name, x.type, x.unique, x.nullable) for x in run["columns"]] == \
               [(x.name, x.type, x.unique, x.nullable) for x in original]
        uuids = canary(c, "t", ks=(2,), seed=0, column="u")
        secret = uuids.column("secret")[0].as_py()
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", secret)
        assert uuids.column("times_replayed").to_pylist() == [2]
        assert temp_tables(c) == []
    finally:
        c.close()


def test_the_copy_is_dropped_when_the_run_fails(con, monkeypatch):
    def failing(con_, source, **options):
        assert source in temp_tables(con_)
        raise DataError("boom")

    monkeypatch.setattr(canary_module, "_run", failing)
    with pytest.raises(DataError, match="boom"):
        canary(con, "people", ks=(1, 2), seed=0)
    assert temp_tables(con) == []


# ---------------------------------------------------------------- bad input: refused before anything is copied


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"source": "peple"}, SourceError, "no table or view named peple (did you mean 'people'?)"),
    ({"ks": (1000, 1001)}, DataError, "planting secrets in 1000, 1001 rows needs 2,001 distinct rows (one secret per "
                                      "row), more than the source"),
    ({"ks": ()}, OptionError, "ks is empty"),
    ({"ks": (1, 0)}, OptionError, "every k must be a positive integer"),
    ({"ks": (-3,)}, OptionError, "every k must be a positive integer"),
    ({"ks": (2.5,)}, OptionError, "every k must be a positive integer"),
    ({"ks": (True,)}, OptionError, "every k must be a positive integer"),
    ({"ks": "1,2"}, OptionError, "ks must be a list of positive integers"),
    ({"column": "categroy"}, OptionError, "no column 'categroy' in the source (did you mean 'category'?)"),
    ({"column": "age"}, OptionError, "column 'age' is INTEGER; a canary is a made-up text value"),
    ({"column": "category", "masks": {"category": "string"}}, OptionError, "column 'category' is masked"),
    ({"source": "SELECT age, smoker FROM people"}, SchemaError, "no column can hold a canary"),
    ({"mode": "strct"}, OptionError, "unknown mode 'strct' (did you mean 'strict'?)"),
    ({"source": "people.csv", "mode": "strict"}, SourceError, "guessed from its values"),
])
def test_bad_input_is_refused_with_a_clear_error(con, monkeypatch, kwargs, error, message):
    monkeypatch.setattr(canary_module, "_run", lambda *a, **k: pytest.fail("nothing may run"))
    kwargs = {"source": "people", **kwargs}
    with pytest.raises(error) as info:
        canary(con, kwargs.pop("source"), seed=0, **kwargs)
    assert message in str(info.value)
    assert temp_tables(con) == []


def test_a_quoted_file_name_is_refused_in_dp_modes(con, tmp_path, monkeypatch):
    con.execute(f"COPY people TO '{tmp_path}/people.csv'")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(canary_module, "_run", lambda *a, **k: pytest.fail("nothing may run"))
    with pytest.raises(SourceError, match="not a table or view of the database"):
        canary(con, '"people.csv"', mode="strict", seed=0)
    assert temp_tables(con) == []


def test_canary_is_exported():
    assert duckdb_synth.canary is canary
    assert "canary" in duckdb_synth.__all__


# ---------------------------------------------------------------- command line


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "people.duckdb"
    c = duckdb.connect(str(path))
    try:
        load(c, "people", make_people())
    finally:
        c.close()
    return path


def test_cli_prints_the_table_and_the_smallest_k_that_came_back(db):
    result = CliRunner().invoke(main, ["canary", str(db), "people", "--mode", "strict", "--k", "1,2,400", "--seed", "0"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert re.fullmatch(r"│ +secret +│ +column +│ times_planted │ times_replayed │", lines[1])
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in lines[3:6]]
    assert [(r[1], r[2]) for r in rows] == [("category", "1"), ("category", "2"), ("category", "400")]
    assert [r[3] for r in rows[:2]] == ["0", "0"]
    assert lines[-1].startswith("mode strict (ε = 3), ")
    assert lines[-1].endswith("rows synthesized: the smallest k that came back is 400.")
    c = duckdb.connect(str(db))
    try:
        assert c.sql("SELECT count(*) FROM people WHERE category LIKE 'canary-%'").fetchall() == [(0,)]
    finally:
        c.close()


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--k", "1,x"], 2, "Invalid value for '--k': '1,x' is not a comma-separated list of integers"),
    (["--k", "0"], 1, "Error: every k must be a positive integer"),
    (["--column", "age"], 1, "Error: column 'age' is INTEGER"),
])
def test_cli_bad_input(db, args, code, message):
    result = CliRunner().invoke(main, ["canary", str(db), "people", *args])
    assert result.exit_code == code
    assert message in result.output


def test_a_failing_read_quotes_no_value_in_dp_modes(con):
    """The copy the secrets are planted in read the source unguarded: DuckDB's message quoted the row."""
    con.execute("CREATE TABLE named AS SELECT CASE WHEN i = 7 THEN 'Alice Smith HIV+' ELSE (i % 50)::VARCHAR END "
                "AS name, (i % 5)::VARCHAR AS g FROM range(300) r(i)")
    with pytest.raises(DataError) as info:
        canary(con, "SELECT g, CAST(name AS INTEGER) AS n FROM named", mode="strict", ks=(1, 5, 20), seed=0)
    said = str(info.value)
    assert "Alice" not in said and "Conversion" not in said and "DuckDB raised an error reading it" in said


def test_a_budget_that_refuses_the_run_refuses_before_the_count(tmp_path):
    """The review of 12d66b3: the canary refused 'needs more rows than the source has' on the exact count before the
    ledger refused the run, so growing k under a spent budget found the row count at no cost. The ledger now
    answers first, whatever k; nothing is recorded."""
    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    con.execute("CREATE TABLE t AS SELECT i AS id, ['a', 'b', 'c'][1 + i % 3] AS cat FROM range(1237) r(i)")
    duckdb_synth.register(con)
    duckdb_synth.set_budget(con, "t", epsilon=0.001)
    for k in (1, 1237, 1238, 100_000):
        with pytest.raises(LedgerError, match="would pass the source.s budget"):
            canary(con, "t", mode="strict", ks=[k])
    assert con.execute("SELECT count(*) FROM duckdb_synth.runs").fetchall() == [(0,)]
    con.close()


def test_a_canary_failing_on_the_source_is_charged_its_whole_budget(tmp_path):
    """The review of 4ab42dd: the canary's own reads before its run (the count, the secrets, the copy) cost nothing, so
    a source query failing on one row's value (CASE WHEN pid = 7 AND salary >= x THEN a cast that fails) answered a
    question about it for free: 24 canaries read a salary to the thousandth under a budget they never touched. Such a
    canary is recorded as a failed run charged its whole budget, and the budget refuses the next."""
    con = duckdb.connect(str(tmp_path / "o.duckdb"))
    con.execute("CREATE TABLE t AS SELECT i AS pid, ['a', 'b', 'c'][1 + i % 3] AS cat, "
                "30000 + (i * 7919) % 50000 + 0.57 AS salary FROM range(2000) r(i)")
    duckdb_synth.set_budget(con, "t", epsilon=1.2)
    query = ("SELECT cat FROM t WHERE CASE WHEN pid = 7 AND salary >= {x} THEN ('x' || cat)::INT ELSE 1 END = 1")
    with pytest.raises(DataError, match="charged its whole budget"):
        canary(con, query.format(x=30000), mode="strictest", ks=(1, 5))
    (status, eps), = con.execute("SELECT status, epsilon_spent FROM duckdb_synth.runs").fetchall()
    assert status.startswith("failed: DataError") and eps == 1.0
    with pytest.raises(LedgerError):  # and a second would pass the budget: two runs of 1 compose to 1.26
        canary(con, query.format(x=90000), mode="strictest", ks=(1, 5))
