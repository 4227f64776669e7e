"""Outputs made batch by batch (engine/output.py): the same rows on every pass, declared keys unique
across batches, the fingerprint of all the rows, the model's distribution kept, and every surface
writing a batched output whole (SQL COPY, the CLI's Parquet, CSV and table outputs)."""
from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import duckdb_synth
from duckdb_synth.engine import decode, output
from duckdb_synth.engine.data import output_fingerprint
from duckdb_synth.engine.decode import decode_table
from duckdb_synth.engine.model.pgm import GraphicalModel
from duckdb_synth.engine.sample import draw
from duckdb_synth.surfaces.cli import main

from conftest import load, make_patients


@pytest.fixture
def small_batches(monkeypatch) -> int:
    """Batches of 256 rows, whatever the columns."""
    monkeypatch.setattr(output, "BATCH_CELLS", 1)
    monkeypatch.setattr(output, "MIN_BATCH_ROWS", 256)
    return 256


def keyed() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, a VARCHAR, b INTEGER, x DOUBLE)")
    con.execute("INSERT INTO t SELECT i, CAST(i % 3 AS VARCHAR), i % 7, (i % 11) * 1.5 + (i % 3) FROM range(600) r(i)")
    return con


def test_a_batched_output_is_the_same_on_every_pass_and_keys_stay_unique(small_batches) -> None:
    con = keyed()
    res = duckdb_synth.run(con, "t", mode="strict", seed=3, rows=1_000)
    out = res.output
    assert out.batched and out.rows_per_batch == small_batches
    first = out.table()
    assert first.num_rows == 1_000 and first.column_names == ["k", "a", "b", "x"]
    assert first.equals(out.table())  # a second pass: the same rows
    streamed = pa.Table.from_batches(list(out.reader()))
    assert streamed.equals(first)
    keys = first.column("k").to_numpy()
    assert len(np.unique(keys)) == 1_000 and keys.min() == 1 and keys.max() == 1_000
    # Not the first batch's 1..256 over and over: each batch numbers its own rows.
    assert sorted(keys[:256]) == list(range(1, 257))
    # The fingerprint a report reads is that of all the rows, known once a pass has made them.
    assert out.stamp.value == output_fingerprint(first, res.types)
    assert duckdb_synth.runs(con)[-1].fingerprint == out.stamp.value
    con.close()


UNIQUE_TYPES = {"amount": "DECIMAL(8,2)", "price": "DOUBLE", "ratio": "FLOAT", "day": "DATE", "stamp": "TIMESTAMP",
                "clock": "TIME"}


def unique_ddl(name: str) -> str:
    return f"CREATE TABLE {name} (" + ", ".join(f"{c} {t} UNIQUE" for c, t in UNIQUE_TYPES.items()) + ", g VARCHAR)"


def unique_numbers(rows: int = 3_000) -> duckdb.DuckDBPyConnection:
    """A table whose declared UNIQUE columns are a number, a date or a time (modelled, not generated as integer
    keys are): 3,000 distinct values each on a lattice of 10,007 points (cents, days, whole seconds)."""
    con = duckdb.connect()
    con.execute(unique_ddl("t"))
    con.execute(f"""INSERT INTO t SELECT v / 100, v / 100, v / 10, DATE '2000-01-01' + v::INTEGER,
        TIMESTAMP '2020-01-01' + to_minutes(v), TIME '00:00:00' + to_seconds(v), ['a', 'b'][1 + i % 2]
        FROM (SELECT i, (i * 37 % 10007) AS v FROM range({rows}) r(i))""")
    return con


@pytest.mark.parametrize("mode", ["balanced", "strict"])
def test_a_declared_unique_number_date_or_time_comes_out_distinct_on_its_lattice(mode: str) -> None:
    """Modelled, such a column's draws repeat (a DECIMAL(10,2) of 18,066 rows came out with 16,143 distinct values, so
    the copy could not be loaded into the source's schema); each tie moves to a free point of the column's lattice."""
    con = unique_numbers()
    duckdb_synth.register(con)
    con.execute(f"CREATE TABLE s AS SELECT * FROM synthesize('t', mode := '{mode}', seed := 2)")
    n = con.execute("SELECT count(*) FROM s").fetchone()[0]
    for c in UNIQUE_TYPES:
        assert con.execute(f"SELECT count(DISTINCT {c}) FROM s").fetchone()[0] == n, c
    # on the values' own lattice: cents, tenths, whole seconds (no value moved by a float's last bit)
    assert con.execute("SELECT count(*) FROM s WHERE price <> round(price, 2) OR round(ratio * 10) <> ratio * 10::FLOAT "
                   "OR epoch(stamp) <> floor(epoch(stamp)) OR epoch(clock) <> floor(epoch(clock))").fetchone()[0] == 0
    con.execute(unique_ddl("t2"))
    con.execute("INSERT INTO t2 SELECT * FROM s")  # the source's constraints hold
    with pytest.raises(duckdb.ConstraintException):  # (and are checked: a row of the copy again is refused)
        con.execute("INSERT INTO t2 SELECT * FROM s LIMIT 1")
    con.close()


def test_declared_unique_values_passing_zero_come_out_distinct() -> None:
    """A UNIQUE column whose values pass zero with none near it (DOUBLEs of -800 .. -500 and 500 .. 800, dates both
    sides of 1970 a thousand days from it): the check that the spread values are distinct subtracted their floats'
    keys, which wrapped in int64 between -2.0 and 2.0, so the spread was dropped and every tie kept (348 and 933 of
    3,000 values repeated in balanced mode)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x DOUBLE UNIQUE, d DATE UNIQUE, g VARCHAR)")
    con.execute("""INSERT INTO t SELECT s * (500 + (i * 37 % 5003) / 10), DATE '1970-01-01' + (s * (1000 + i * 7 %
        3001))::INTEGER, ['a', 'b'][1 + i % 2] FROM (SELECT i, CASE WHEN i % 2 = 0 THEN -1 ELSE 1 END AS s
        FROM range(3000) r(i))""")
    for mode in ("balanced", "strict"):
        con.register("s", duckdb_synth.run(con, "t", mode=mode, seed=1).output.table())
        n, x, d, neg, near = con.execute("SELECT count(*), count(DISTINCT x), count(DISTINCT d), count(*) FILTER (WHERE "
                                         "x < 0), count(*) FILTER (WHERE x BETWEEN -2 AND 2) FROM s").fetchone()
        assert x == n and d == n, mode
        assert 0.3 * n < neg < 0.7 * n and near == 0, mode  # (both sides held, none near zero: the case is met)
    con.close()


def test_declared_unique_numbers_are_distinct_across_batches_made_apart(small_batches) -> None:
    """Batch i of b takes the lattice points i mod b, so batches made apart (Spark's executors) share no value."""
    con = unique_numbers(1_000)
    out = duckdb_synth.run(con, "t", mode="strict", seed=1, rows=1_000).output
    assert out.num_batches == 4
    parts = [out.batch(i) for i in (3, 1, 0, 2)]  # in any order, each on its own
    for c in UNIQUE_TYPES:  # (a nullable UNIQUE column holds NULLs, a DP run's few: they may repeat, as in SQL)
        values = [v for p in parts for v in p.column(c).to_pylist() if v is not None]
        assert len(set(values)) == len(values) >= 980, c
    cents = np.round(np.array(parts[0].column("amount").to_pylist(), dtype=float) * 100).astype(int)
    assert set(cents % 4) == {3}  # batch 3's points
    con.close()


def test_a_unique_column_with_too_few_values_for_its_rows_says_so(caplog) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x DECIMAL(3,1) UNIQUE CHECK (x BETWEEN 0 AND 5), g VARCHAR)")
    con.execute("INSERT INTO t SELECT i / 10, 'a' FROM range(51) r(i)")
    out = duckdb_synth.synthesize(con, "t", mode="strict", seed=0, rows=100).fetchall()
    assert len(out) == 100 and all(0 <= x <= 5 for x, _ in out)  # the declared range kept, values repeat
    assert "column 'x' is declared UNIQUE, and " in caplog.text and "synthetic values of a batch repeat" in caplog.text
    con.close()


@pytest.mark.parametrize("mode", ["balanced", "strict"])
def test_a_unique_enum_column_is_made_and_its_repeats_said(mode: str, caplog) -> None:
    """An ENUM declared UNIQUE crashed every run (Arrow's count_distinct has no kernel for its dictionary), after a DP run
    had spent its budget."""
    con = duckdb.connect()
    con.execute("CREATE TYPE e3 AS ENUM ('a', 'b', 'c')")
    con.execute("CREATE TABLE t (x e3 UNIQUE, k INTEGER)")
    con.execute("INSERT INTO t SELECT CASE i WHEN 0 THEN 'a' WHEN 1 THEN 'b' WHEN 2 THEN 'c' END, i % 5 "
                "FROM range(1000) r(i)")
    con.register("s", duckdb_synth.run(con, "t", mode=mode, seed=1, ledger=False).table)
    (n, values), = con.execute("SELECT count(*), count(x) FROM s").fetchall()
    assert n >= 900 and values >= 1
    if values > 3:
        assert "column 'x' is declared UNIQUE" in caplog.text
    con.close()


@pytest.mark.parametrize("mode", ["balanced", "strict"])
def test_a_unique_column_that_may_be_null_keeps_its_nulls_and_the_rows(mode: str) -> None:
    """A UNIQUE integer that may be NULL was a key, made of fresh numbers: 90 % NULL came back with none, and a TINYINT
    one cut a table of 2,000 rows to its 256 values. It is modelled now, its NULLs with it, its values distinct."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (badge TINYINT UNIQUE, badge2 INTEGER UNIQUE, id INTEGER PRIMARY KEY, k INTEGER)")
    con.execute("INSERT INTO t SELECT CASE WHEN i < 200 THEN (i - 100)::TINYINT END, "
                "CASE WHEN i % 10 = 0 THEN i * 1000 END, i, i % 7 FROM range(2000) r(i)")
    con.register("s", duckdb_synth.run(con, "t", mode=mode, seed=1, ledger=False).table)
    (n, badge, distinct, badge2, distinct2, ids), = con.execute(
        "SELECT count(*), count(badge), count(DISTINCT badge), count(badge2), count(DISTINCT badge2), "
        "count(DISTINCT id) FROM s").fetchall()
    assert n > 1900 and 150 < badge < 260 and distinct == badge and 150 < badge2 < 260 and distinct2 == badge2
    assert ids == n  # the NOT NULL key is still fresh numbers
    con.close()


def test_a_unique_input_of_a_not_null_derived_column_stays_modelled() -> None:
    """The review of 6652238: a UNIQUE column that may be NULL, input of a NOT NULL derived column (made NOT NULL
    for it), became a key of fresh numbers after the rules took it as modelled: a range CHECK clamped ~1,000 of them
    onto its bound, unsaid, and the copy could not be loaded back."""
    con = duckdb.connect()
    ddl = ("(badge INTEGER UNIQUE CHECK (badge BETWEEN 1000 AND 30000), u INTEGER NOT NULL, k INTEGER, "
           "CHECK (u = badge + 1))")
    con.execute(f"CREATE TABLE t {ddl}")
    con.execute("INSERT INTO t SELECT 1000 + i * 10, 1001 + i * 10, i % 7 FROM range(2000) r(i)")
    con.register("s", duckdb_synth.run(con, "t", mode="strict", seed=1, ledger=False).table)
    (n, distinct, low, high), = con.execute("SELECT count(*), count(DISTINCT badge), min(badge), max(badge) FROM s"
                                            ).fetchall()
    assert distinct == n and 1000 <= low and high <= 30000
    con.execute(f"CREATE TABLE t2 {ddl}")
    con.execute("INSERT INTO t2 SELECT * FROM s")  # (its constraints hold)
    con.close()


def test_spread_moves_ties_to_the_nearest_free_points() -> None:
    from duckdb_synth.engine.decode import _spread

    keys = np.array([10, 10, 10, 10, 20, 40, 41, 41, 3], dtype=np.int64)
    got = _spread(keys, 0, 100, np.array([9, 11], dtype=np.int64), (0, 1))
    assert len(set(got)) == len(keys) and not set(got) & {9, 11} and got.min() >= 0 and got.max() <= 100
    assert got[4] == 20 and got[8] == 3  # alone: not moved
    assert sorted(got[:4]) == [8, 10, 12, 13] or sorted(got[:4]) == [7, 8, 10, 12]  # the pile, around 10, 9 and 11 skipped
    assert sorted(got[5:8]) in ([39, 40, 41], [40, 41, 42])
    assert _spread(np.zeros(5, dtype=np.int64), 0, 4, np.array([2], dtype=np.int64), (0, 1)) is None  # 4 free
    ends = _spread(np.zeros(4, dtype=np.int64), 0, 100, np.empty(0, dtype=np.int64), (0, 1))
    assert sorted(ends) == [0, 1, 2, 3]  # held inside the range
    share = _spread(np.array([5, 5, 5, 6], dtype=np.int64), 0, 100, np.array([4], dtype=np.int64), (1, 3))
    assert len(set(share)) == 4 and all(k % 3 == 1 and k != 4 for k in share)


def test_a_one_batch_output_is_made_as_without_batches() -> None:
    """The rows of an output of one batch are those drawn and decoded in one go from the same stream."""
    con = keyed()
    res = duckdb_synth.run(con, "t", mode="strict", seed=5)
    out = res.output
    assert not out.batched
    rng = np.random.Generator(out._bits())
    rng.bit_generator.state = out._state
    again = decode_table(out.columns, out.domains, draw(out.model, out.num_rows, rng), out.masks, rng)
    assert again.equals(res.table)
    con.close()


def test_batches_keep_the_model_distribution(small_batches) -> None:
    """Controlled rounding per batch: the first column drawn (no parents) has each value's count within
    one row per batch of the model's expectation."""
    con = keyed()
    res = duckdb_synth.run(con, "t", mode="strict", seed=7, rows=2_048)
    out = res.output
    model = out.model
    assert isinstance(model, GraphicalModel)
    # The first column drawn: the root clique's largest (GraphicalModel.sample).
    root = max(model.tree.cliques[0], key=lambda a: (model.sizes[a], -a))
    p = model.marginal((root,)) / model.total
    counts, parts = np.zeros(len(p)), []
    for i, start in enumerate(range(0, 2_048, small_batches)):  # the batches, drawn and decoded as Output makes them
        rng = out._stream(i)  # batch 0: the run's stream; the others: their own, spawned from it
        codes = draw(out.model, small_batches, rng)
        counts += np.bincount(codes[:, root], minlength=len(p))
        parts.append(decode_table(out.columns, out.domains, codes, out.masks, rng, start, 2_048))
    assert pa.concat_tables(parts).equals(res.table)  # these are the output's codes
    assert np.abs(counts - 2_048 * p).max() <= 2_048 // small_batches
    assert out.batch(3).equals(parts[3])  # any batch can be made alone (Spark's executors make them so)
    assert not out._stream(1).random(4).tolist() == out._stream(2).random(4).tolist()
    con.close()


def test_sql_copy_of_a_batched_output(small_batches, tmp_path: Path) -> None:
    con = duckdb.connect()
    duckdb_synth.register(con)
    load(con, "patients", make_patients())
    target = tmp_path / "big.parquet"
    con.execute(f"COPY (SELECT * FROM synthesize('patients', mode := 'strict', seed := 1, \"rows\" := 1500)) "
                f"TO '{target}' (FORMAT parquet)")
    back = pq.read_table(target)
    assert back.num_rows == 1500
    assert back.column_names == make_patients().column_names
    rep = duckdb_synth.report(con, "patients", str(target))
    assert rep.run_id == 1  # recognised by the fingerprint made while the rows were written
    con.close()


@pytest.mark.parametrize("suffix", [".parquet", ".csv", None])
def test_cli_writes_a_batched_output_whole(small_batches, tmp_path: Path, suffix: str | None) -> None:
    db = tmp_path / "clinic.duckdb"
    con = duckdb.connect(str(db))
    load(con, "patients", make_patients())
    con.close()
    args = ["synthesize", str(db), "patients", "--mode", "strict", "--seed", "2", "--rows", "1300"]
    if suffix:
        out = tmp_path / f"out{suffix}"
        args += ["-o", str(out)]
        target = f"'{out}'"
    else:
        args += ["--table", "synth_copy"]
        target = "synth_copy"
    report = tmp_path / "r.html"
    result = CliRunner().invoke(main, [*args, "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "1,300 rows written" in result.output
    con = duckdb.connect(str(db))
    assert con.sql(f"SELECT count(*) FROM {target}").fetchall()[0][0] == 1300
    con.close()
    assert report.stat().st_size > 1000


def test_rows_beyond_memory_are_made_one_batch_at_a_time(small_batches, monkeypatch) -> None:
    """100M rows of the patients table would take ~30 GiB at once; one batch fits in 64 MiB, so the
    run is not refused, and its rows are made only as they are read."""
    from duckdb_synth.engine import plan

    monkeypatch.setattr(plan, "available_memory", lambda: 64 * 2**20)
    con = duckdb.connect()
    load(con, "patients", make_patients())
    res = duckdb_synth.run(con, "patients", mode="strict", seed=1, rows=100_000_000)
    assert res.num_rows == 100_000_000 and res.output.batched
    first = next(res.output.batches())
    assert first.num_rows == small_batches and first.schema.names == make_patients().column_names
    assert duckdb_synth.runs(con)[-1].fingerprint is None  # not all made: a report would not recognise them
    con.close()


def test_the_source_is_read_in_batches_whole_and_in_order() -> None:
    """DuckDBRows streams the source (many Arrow batches): every value, NULL and text comes back in
    row order, as one fetch of the whole table gives them."""
    from duckdb_synth.engine.data import DuckDBRows
    from duckdb_synth.engine.schema import classify

    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE i * 0.5 END AS x, "
                "'t' || (i % 13) AS t, DATE '2020-01-01' + (i % 400)::INTEGER AS d FROM range(250000) r(i)")
    cols = [classify("x", "DECIMAL(18,1)"), classify("t", "VARCHAR"), classify("d", "DATE")]
    rows = DuckDBRows(con, "SELECT * FROM s", cols)
    i = np.arange(250_000)
    x = rows.column(0)
    np.testing.assert_array_equal(x.nulls, i % 7 == 0)
    np.testing.assert_array_equal(x.values[i % 7 != 0], (i * 0.5)[i % 7 != 0])
    assert rows.column(1).values.to_pylist() == [f"t{k % 13}" for k in range(250_000)]
    days = rows.column(2).values
    np.testing.assert_array_equal(days, 18262 + i % 400)  # 2020-01-01 is day 18262
    con.close()


@pytest.mark.parametrize("mode", ["balanced", "strict"])
def test_declared_unique_values_the_rules_repair_stay_distinct_and_keep_the_rules(mode: str) -> None:
    """A rule's repair (a swap for a < b, a tie moved a step, an input moved off a rare total) had put other rows'
    values back into a UNIQUE column (5,000 timestamps with CHECK (a < b): 4,111-4,274 distinct)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a TIMESTAMP UNIQUE, b TIMESTAMP UNIQUE, net DECIMAL(8,2) UNIQUE, tax DECIMAL(8,2), "
                "total DECIMAL(9,2), g VARCHAR, CHECK (a < b), CHECK (total = net + tax))")
    con.execute("""INSERT INTO t SELECT TIMESTAMP '2020-01-01' + to_minutes(v), TIMESTAMP '2020-01-01' +
        to_minutes(v + 1 + i % 5), v / 10, round(v / 100, 0), v / 10 + round(v / 100, 0), ['a', 'b'][1 + i % 2]
        FROM (SELECT i, (i * 37 % 10007) AS v FROM range(5000) r(i))""")
    rel = duckdb_synth.synthesize(con, "t", mode=mode, seed=1)
    n, a, b, net, broken = con.execute("SELECT count(*), count(DISTINCT a), count(DISTINCT b), count(DISTINCT net), "
                                       "count(*) FILTER (WHERE a >= b OR total <> net + tax) FROM rel").fetchone()
    assert a == b == net == n and broken == 0
    if mode == "balanced":  # the minutes are full: ties spread to seconds, never in a minute one source row holds
        # (the review of 70c0a32: a microsecond beside one, 417 rows)
        for c in "ab":
            assert con.execute(f"SELECT count(*) FROM rel WHERE date_trunc('minute', {c} + INTERVAL 30 SECOND) IN "
                               f"(SELECT {c} FROM t)").fetchone()[0] == 0, c
    con.close()


@pytest.mark.parametrize("mode", ["balanced", "strict"])
def test_declared_unique_values_of_a_declared_list_stay_on_it(mode: str) -> None:
    con = duckdb.connect()
    points = [round(0.5 + i, 1) for i in range(200)]
    con.execute(f"CREATE TABLE t (x DECIMAL(5,1) UNIQUE CHECK (x IN ({', '.join(map(str, points))})), g VARCHAR)")
    con.execute("INSERT INTO t SELECT 0.5 + (i * 7 % 200), ['a', 'b'][1 + i % 2] FROM range(60) r(i)")
    got = [float(x) for x, _ in duckdb_synth.synthesize(con, "t", mode=mode, seed=3).fetchall()]
    assert len(set(got)) == len(got) > 40 and set(got) <= set(points)
    con.close()


def test_a_unique_float_past_its_decimals_and_a_unique_column_of_nulls(small_batches) -> None:
    """The review of 70c0a32: FLOAT cents past 131,072 are 0.0156 apart as FLOATs, so spread on cents they were written
    onto other batches' values (and in balanced mode onto source values); their FLOATs are now the lattice. And a
    UNIQUE column may hold NULLs, as SQL's do (it had come out with none, every row a value to spread)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x FLOAT UNIQUE, d DATE UNIQUE, g VARCHAR)")
    con.execute("INSERT INTO t SELECT 150000 + (i * 37 % 100003) * 0.03, CASE WHEN i % 10 = 0 THEN DATE '2000-01-01' "
                "+ i::INTEGER END, ['a', 'b'][1 + i % 2] FROM range(2000) r(i)")
    for mode in ("balanced", "strict"):
        out = duckdb_synth.run(con, "t", mode=mode, seed=1).output
        assert out.num_batches > 4
        con.register("s", out.table())
        n, x, source, nulls, d = con.execute("SELECT count(*), count(DISTINCT x), count(*) FILTER (WHERE x IN "
                                             "(SELECT x FROM t)), count(*) FILTER (WHERE d IS NULL), count(DISTINCT d) "
                                             "FROM s").fetchone()
        assert x == n and (source == 0 or mode == "strict") and d == n - nulls, mode
        assert 0.8 * n < nulls < 0.97 * n, mode
    con.close()


@pytest.mark.parametrize("type_", ["DECIMAL", "DECIMAL(38,10)"])
def test_wide_unique_decimals_a_rule_orders_stay_distinct(type_) -> None:
    """The review of 70c0a32: a DECIMAL of 16 digits or more (DuckDB's DECIMAL is (18,3)) named by a rule was left
    out of the spread after the rules' repairs (7,443-7,536 distinct of 8,028 rows)."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (a {type_} UNIQUE, b {type_} UNIQUE, g VARCHAR, CHECK (a < b))")
    con.execute("INSERT INTO t SELECT v / 100, (v + 1 + i % 5) / 100, ['a', 'b'][1 + i % 2] "
                "FROM (SELECT i, i * 37 % 10007 AS v FROM range(3000) r(i))")
    rel = duckdb_synth.synthesize(con, "t", mode="strict", seed=1)
    n, a, b, broken = con.execute("SELECT count(*), count(DISTINCT a), count(DISTINCT b), count(*) FILTER "
                                  "(WHERE a >= b) FROM rel").fetchone()
    assert a == b == n and broken == 0
    con.close()



def test_unique_columns_in_batches_a_sparse_one_a_rules_input_and_a_full_one(small_batches, caplog) -> None:
    """The review of 618e7cc: a nullable UNIQUE column with no value in a batch crashed (and one whose values are all
    rare has a range of a point); a UNIQUE input of a derived column, moved off rare totals, landed on other batches'
    cells (214 of 3,000 shared, nothing said); a key filling its range has too few cells in each batch (432 of 3,000
    shared, 35 said): its values go past the range's ends."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (d DATE UNIQUE, net DECIMAL(10,2) UNIQUE, tax DECIMAL(10,2), total DECIMAL(10,2), "
                "g VARCHAR, CHECK (total = net + tax))")
    con.execute("SELECT setseed(0.5)")
    con.execute("INSERT INTO t SELECT CASE WHEN i % 500 = 0 THEN DATE '2000-01-01' + i::INTEGER END, a, b, a + b, "
                "['x', 'y'][1 + i % 2] FROM (SELECT DISTINCT ON (a) i, a, b FROM (SELECT i, CAST(10 + random() * 990 "
                "AS DECIMAL(10,2)) a, CAST(random() * 200 AS DECIMAL(10,2)) b FROM range(4000) r(i))) LIMIT 3000")
    con.register("s", duckdb_synth.run(con, "t", seed=1).output.table())
    n, net, d, broken = con.execute("SELECT count(*), count(DISTINCT net), count(d) - count(DISTINCT d), count(*) "
                                    "FILTER (WHERE total <> net + tax) FROM s").fetchone()
    assert net == n and d == 0 and broken == 0
    con.execute("CREATE TABLE k (d DATE PRIMARY KEY, g VARCHAR)")
    con.execute("INSERT INTO k SELECT DATE '2000-01-01' + i::INTEGER, ['x', 'y'][1 + i % 2] FROM range(3000) r(i)")
    with caplog.at_level("WARNING", logger="duckdb_synth"):
        con.register("s", duckdb_synth.run(con, "k", mode="strict", seed=1).output.table())
    shared, past = con.execute("SELECT count(*) - count(DISTINCT d), count(*) FILTER (WHERE d < DATE '2000-01-01' "
                               "OR d > DATE '2008-03-18') FROM s").fetchone()
    assert shared == 0 and 0 < past < 300 and "declared UNIQUE" not in caplog.text
    con.close()



def test_unique_values_go_past_the_range_only_where_it_is_short_of_cells(caplog) -> None:
    """The reviews of ca03b5e and 17676e8: where rare cells fill a balanced range (a FLOAT of distinct tenths; a
    DECIMAL of tenths, every tenth missing) the values went past its ends (all 3,000; 2,400 of 2,700): they stay in it
    and repeat, said."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (d DECIMAL(8,1) UNIQUE, g VARCHAR)")
    con.execute("INSERT INTO t SELECT i / 10, 'g' || (i % 3) FROM range(3000) r(i) WHERE i % 10 <> 3")
    with caplog.at_level("WARNING", logger="duckdb_synth"):
        rel = duckdb_synth.synthesize(con, "t", mode="balanced", seed=1)
        assert con.execute("SELECT count(*) FILTER (WHERE d < 0 OR d > 299.9) FROM rel").fetchall() == [(0,)]
    assert "column 'd' is declared UNIQUE" in caplog.text  # (they repeat instead, said)
    con.close()


def test_balanced_a_float_of_dense_rare_tenths_is_read_as_a_double_is() -> None:
    """A FLOAT's tenths read as doubles sit up to 1.2e-4 steps off the lattice, so balanced mode's dense-run exception
    never saw its runs: a FLOAT column of distinct tenths (one changed) came out as one value in all 3,000 rows, where
    the same DOUBLE column kept 1,892 values (the review of ca03b5e). Its values are now read on the lattice within a
    FLOAT's own spacing."""
    got = {}
    for type_ in ("FLOAT", "DOUBLE"):
        con = duckdb.connect()
        con.execute(f"CREATE TABLE t (d {type_}, g VARCHAR)")
        con.execute("INSERT INTO t SELECT CASE WHEN i = 5 THEN 1.5 ELSE i / 10 END, 'g' || (i % 3) FROM range(3000) r(i)")
        con.register("s", duckdb_synth.synthesize(con, "t", mode="balanced", seed=1).to_arrow_table())
        got[type_] = con.execute("SELECT count(DISTINCT d), round(min(d)::DOUBLE, 1), round(max(d)::DOUBLE, 1) "
                                 "FROM s").fetchall()
        con.close()
    assert got["FLOAT"] == got["DOUBLE"] and got["FLOAT"][0][0] > 1000


def test_masked_unique_columns_are_distinct_across_batches(small_batches, caplog) -> None:
    """Each batch's masked UNIQUE values were distinct, but batches shared them, unsaid (a million emails in three
    batches: 926,308). Batch i of b now keeps the values of the i-th part of the kind's (a hash of the value), so batches
    made apart share none; where the parts cannot hold a batch's rows (more rows than a SMALLINT's numbers), it says
    so; past MASK_PARTS batches (each would draw that many values for one it keeps) it says the batches may share."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (email VARCHAR UNIQUE, n INTEGER UNIQUE, d DATE UNIQUE, g VARCHAR)")
    con.execute("INSERT INTO t SELECT 'u' || i || '@x.com', i, DATE '2000-01-01' + i::INTEGER, 'g' || (i % 3) "
                "FROM range(600) r(i)")
    out = duckdb_synth.run(con, "t", mode="strict", seed=2, rows=4_096, masks={"email": "email", "n": "number",
                                                                              "d": "date"}).output
    assert out.num_batches == decode.MASK_PARTS == 16
    table = out.table()
    assert [pc.count_distinct(table.column(c)).as_py() for c in ("email", "n", "d")] == [4_096] * 3
    assert out.batch(5).equals(table.slice(5 * small_batches, small_batches))  # a batch made apart: the same rows
    assert "masked" not in caplog.text
    con.execute("CREATE TABLE small (k SMALLINT UNIQUE, g VARCHAR)")  # (a UNIQUE number mask: the SMALLINT's 65,536)
    con.execute("INSERT INTO small SELECT i, 'g' || (i % 3) FROM range(600) r(i)")
    many = duckdb_synth.run(con, "small", mode="strict", seed=2, rows=80_000, masks={"k": "number"}).output
    many.rows_per_batch, many._first = 8_192, None  # (10 batches)
    k = many.table().column("k")
    assert 40_000 < pc.count_distinct(k).as_py() <= 65_536 and len(k) == 80_000  # (0..32,767 alone before 2026-12-07)
    assert "column 'k' is declared UNIQUE and masked ('number')" in caplog.text
    assert "may repeat another batch's" in caplog.text
    caplog.clear()
    many.num_rows, many.rows_per_batch, many._first = 3_400, 200, None  # (17 batches: too many to keep apart)
    assert pc.count_distinct(many.table().column("k")).as_py() > 3_000
    assert caplog.text.count("too many to keep apart") == 1
    con.close()


def test_masked_unique_columns_come_out_distinct_and_composite_keys_are_said(caplog) -> None:
    """The fuzz sweep of 50cd76f: a masked PRIMARY KEY or UNIQUE column repeated its mask's draws (16 of 2,028
    numbers, 31 emails, 63 dates), and the run blamed the model's range; they are drawn again until distinct, and a
    kind too small for the rows is said as such. A key over several columns, not kept, was not said at all."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, email VARCHAR UNIQUE NOT NULL, d DATE UNIQUE, a INTEGER, "
                "b INTEGER, g VARCHAR, UNIQUE (a, b))")
    con.execute("INSERT INTO t SELECT i, 'u' || i || '@x.com', DATE '2000-01-01' + i::INTEGER, i % 50, i // 50, "
                "'g' || (i % 3) FROM range(2000) r(i)")
    out = duckdb_synth.run(con, "t", mode="strict", seed=1, masks={"id": "number", "email": "email", "d": "date"})
    con.register("s", out.output.table())
    n, ids, emails, days = con.execute("SELECT count(*), count(DISTINCT id), count(DISTINCT email), count(DISTINCT d) "
                                       "FROM s").fetchone()
    assert ids == emails == days == n
    assert "UNIQUE (a, b) spans several columns" in caplog.text and "masked" not in caplog.text
    caplog.clear()
    many = duckdb_synth.run(con, "t", mode="strict", seed=1, rows=40_000, masks={"d": "date"}).output.table()
    # (1950-2025 holds 27,759 days: a UNIQUE date mask takes a stretch of DATE's range past them, since 2026-12-07)
    assert pc.count_distinct(many.column("d")).as_py() == 40_000 and "masked" not in caplog.text
    con.execute("CREATE TABLE tiny (k TINYINT UNIQUE, g VARCHAR)")
    con.execute("INSERT INTO tiny SELECT i - 100, 'g' || (i % 3) FROM range(200) r(i)")
    few = duckdb_synth.run(con, "tiny", mode="strict", seed=1, rows=1_000, masks={"k": "number"}).output.table()
    assert pc.count_distinct(few.column("k")).as_py() <= 256  # (a TINYINT holds 256)
    assert "column 'k' is declared UNIQUE and masked ('number')" in caplog.text
    con.close()
