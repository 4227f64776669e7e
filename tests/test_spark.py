"""The same run on Spark (local mode): for a seed, the same spend and the same rows as on DuckDB.

One Spark session for the module (Java's start takes seconds); tables are small, so the whole
file runs in about a minute on two cores. Skipped only where Java is absent.
"""
from __future__ import annotations

import datetime as dt
import decimal
import os
import shutil
import sys
import warnings

import duckdb
import numpy as np
import pytest

import duckdb_synth
from duckdb_synth.engine.spark import spark_sql
from duckdb_synth.errors import MaskError, OptionError, SchemaError, SourceError

JAVA = shutil.which("java") or (os.environ.get("JAVA_HOME") and shutil.which("java", path=os.path.join(
    os.environ["JAVA_HOME"], "bin")))

TABLE = """SELECT (i % 7)::VARCHAR || 'x' AS a, i % 13 AS b, ((i * 0.37) % 50)::DECIMAL(8,2) AS x,
    CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 7919) % 1000 END AS y,
    CASE WHEN i % 31 = 0 THEN NULL WHEN i % 5 = 0 THEN 'only' ELSE 'w' || (i % 3)::VARCHAR END AS w,
    DATE '2020-01-01' + (i % 400)::INT AS d, TIMESTAMP '2021-01-01 00:00:00' + i * INTERVAL 17 minute AS ts,
    CASE WHEN i % 37 = 0 THEN NULL ELSE i % 3 = 0 END AS flag, (i % 17)::DOUBLE / 4 AS f,
    CASE WHEN i % 19 = 0 THEN 'nan'::DOUBLE WHEN i % 23 = 0 THEN 'inf'::DOUBLE WHEN i % 29 = 0 THEN '-inf'::DOUBLE
         WHEN i % 7 = 0 THEN -0.0 WHEN i % 41 = 0 THEN NULL ELSE (i % 9)::DOUBLE END AS g
    FROM range({n}) r(i)"""


def test_spark_sql_is_transpiled_from_duckdbs():
    assert spark_sql("CAST(epoch_us(\"t\") AS DOUBLE)") == "CAST(UNIX_MICROS(`t`) AS DOUBLE)"
    assert spark_sql("CAST(\"a b\" AS VARCHAR)") == "CAST(`a b` AS STRING)"
    assert "DATEDIFF" in spark_sql("CAST(date_diff('day', DATE '1970-01-01', \"d\") AS DOUBLE)")


def test_missing_pyspark_names_the_extra(monkeypatch):
    import duckdb_synth.spark as dss

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ImportError, match=r"pip install 'duckdb-synth\[spark\]'.*Java 17"):
        dss.synthesize(None, "t")




@pytest.fixture(scope="module")
def spark():
    if not JAVA:
        pytest.skip("Spark needs Java (17 or later), and no java was found")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("duckdb-synth-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2").config("spark.sql.files.maxPartitionBytes", "16k")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def table_file(tmp_path_factory):
    """A Parquet file of several small row groups: Spark reads it as several partitions."""
    path = tmp_path_factory.mktemp("spark") / "t.parquet"
    duckdb.sql(f"COPY ({TABLE.format(n=3000)}) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1024)")
    return str(path)


def both(spark, path: str, **options):
    """The DuckDB run and the Spark run of the same file, same options."""
    import duckdb_synth.spark as dss

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seeded runs: tests only
        duck = duckdb_synth.run(duckdb.connect(), path, ledger=False, **options)
        spk = dss.run(spark, path, **options)
    return duck, spk


def sorted_rows(arrow) -> list:
    """The rows in order, NaN as a value equal to itself."""
    return [tuple("NaN" if isinstance(v, float) and v != v else v for v in row)
            for row in duckdb.from_arrow(arrow).order("ALL").fetchall()]


def test_the_source_spans_several_partitions(spark, table_file):
    assert spark.read.parquet(table_file).rdd.getNumPartitions() >= 2


@pytest.mark.parametrize("mode", ["strict", "balanced"])
def test_same_spend_and_rows_as_duckdb(spark, table_file, mode):
    """Balanced with a privacy unit: units of 1 to ~550 rows (y: 1,000 ids, and NULL one unit of its own)
    bounded to 2 rows each, chosen by our salted hash of the row on both engines (one run for both: a
    Spark run's time is its jobs)."""
    # A session in another time zone: TIMESTAMP columns are still read as DuckDB reads them.
    zone = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Asia/Kolkata")
    options = ({"marginals": [["a", "b"], {"columns": ["w"], "sum": "x"}]} if mode == "strict" else
               {"masks": {"w": "string"}, "privacy_unit": "y", "max_rows_per_unit": 2})
    try:
        duck, spk = both(spark, table_file, mode=mode, seed=3, **options)
        assert spark.conf.get("spark.sql.session.timeZone") == "Asia/Kolkata"  # the run gives it back
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)
    if mode == "balanced":
        assert duck.rows_in == spk.result.rows_in < 3000  # bounded
    assert spk.spend.rows() == duck.spend.rows()
    got = spk.dataframe.toArrow()
    assert got.schema.names == duck.table.schema.names
    assert sorted_rows(got) == sorted_rows(duck.table)
    # The source's Spark types, column by column.
    assert [f.dataType for f in spk.dataframe.schema.fields] == [
        f.dataType for f in spark.read.parquet(table_file).schema.fields]


def test_values_past_2_53_many_rows_hold_as_duckdb(spark, tmp_path):
    """Balanced mode's exact reading of floats past 2^53 (``ColumnData.exact_values``) on Spark: a BIGINT
    sentinel 2^63 - 1 and TIMESTAMPs of 9999-12-31 23:59:59 held by a third of the rows come back exactly,
    and the rows are DuckDB's."""
    path = tmp_path / "big.parquet"
    duckdb.sql(f"COPY (SELECT i % 4 AS g, CASE WHEN i % 3 = 0 THEN {2**63 - 1} ELSE i * 1000 END::BIGINT AS b, "
               "CASE WHEN i % 3 = 1 THEN TIMESTAMP '9999-12-31 23:59:59' ELSE TIMESTAMP '2020-01-01' + "
               f"to_seconds(i * 3607) END AS t FROM range(900) r(i)) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 256)")
    duck, spk = both(spark, str(path), mode="balanced", seed=1)
    rows = sorted_rows(spk.dataframe.toArrow())
    assert rows == sorted_rows(duck.table)
    assert 200 <= sum(r[1] == 2**63 - 1 for r in rows) <= 400
    assert 200 <= sum(r[2] == dt.datetime(9999, 12, 31, 23, 59, 59) for r in rows) <= 400


def test_decimal_38_18_written_values_as_duckdb(spark, tmp_path):
    """Spark's own decimal, DECIMAL(38,18): balanced mode counts a float's written value on Spark as on DuckDB
    (``SparkColumn.written_counts``), so the rows are DuckDB's: 0.45 in 2 rows beside 0.450000000000000001 in 300
    stays out, ratios held by many rows come back, amounts on quarters keep their digits."""
    path = tmp_path / "dec.parquet"
    duckdb.sql(f"COPY (SELECT i % 4 AS g, CASE WHEN i < 2 THEN 0.45 WHEN i < 302 THEN 0.450000000000000001 "
               "ELSE (1.0 / (2 + i % 37))::DECIMAL(38,18) END::DECIMAL(38,18) AS r, "
               "(1000000.5 + (i % 40) * 1.25)::DECIMAL(38,18) AS amt FROM range(1500) r(i)) "
               f"TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 512)")
    duck, spk = both(spark, str(path), mode="balanced", seed=2)
    rows = sorted_rows(spk.dataframe.toArrow())
    assert rows == sorted_rows(duck.table)
    assert not any(r[1] == decimal.Decimal("0.45") for r in rows)
    assert all(r[2] * 4 == int(r[2] * 4) for r in rows)


def test_values_a_unit_bound_dropped_stay_rare_as_on_duckdb(spark, tmp_path):
    """A value 1-4 source rows hold, all of whose rows a privacy unit's bound dropped, stays rare on Spark too
    (``SparkColumn.dropped_rare``, one more query over the source's rows), so the rows are DuckDB's."""
    path = tmp_path / "units.parquet"
    duckdb.sql("COPY (SELECT (i % 300) * 3 AS x, i AS u FROM range(2100) r(i) "
               "UNION ALL SELECT (j % 300) * 3, 10000 + j FROM range(60) r(j), range(5) "
               "UNION ALL SELECT 3 * j + 1, 9800 + j FROM range(200, 260) r(j)) "
               f"TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1024)")
    duck, spk = both(spark, str(path), mode="balanced", seed=0, privacy_unit="u", max_rows_per_unit=1)
    rows = sorted_rows(spk.dataframe.toArrow())
    assert rows == sorted_rows(duck.table)
    assert not any(r[0] % 3 == 1 and 601 <= r[0] <= 778 for r in rows)  # the 1-row values 3j + 1


def test_a_derived_columns_rare_values_are_read_on_spark_as_on_duckdb(spark, tmp_path):
    """Balanced mode: the values 1-4 source rows hold of a column a rule derives (``SparkRows.rare_values``) are
    Spark's to read too, so no total such rows hold comes out, and the rows are DuckDB's."""
    path = tmp_path / "derived.parquet"
    duckdb.sql("COPY (SELECT net, tax, net + tax AS total FROM (SELECT 100 + 10 * (i % 20) AS net, CASE WHEN i % 50 = 0 "
               "THEN (i // 50) % 9 ELSE 10 + (i % 20) END AS tax FROM range(3000) r(i))) "
               f"TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1024)")
    duck, spk = both(spark, str(path), mode="balanced", seed=0, constraints=["total = net + tax"])
    rows = sorted_rows(spk.dataframe.toArrow())
    assert rows == sorted_rows(duck.table)
    rare = {t for (t,) in duckdb.sql(f"SELECT total FROM '{path}' GROUP BY total HAVING count(*) < 5").fetchall()}
    assert len(rare) == 18 and not any(r[2] in rare for r in rows)


def test_codes_kept_on_the_executors_give_the_same_run(spark, table_file, tmp_path, monkeypatch):
    """Past LOCAL_CELLS the codes stay in Spark: marginals as Spark jobs, the selection's sample
    (SELECT_ROWS, made small here) brought to the driver; still the same run. Five of the table's columns
    (each a few Spark jobs a step and round)."""
    import duckdb_synth.engine.spark as engine
    import duckdb_synth.privacy.adaptive as adaptive

    monkeypatch.setattr(engine, "LOCAL_CELLS", 0)
    monkeypatch.setattr(adaptive, "SELECT_ROWS", 2000)
    calls = []
    real = engine.SparkBinned.marginals
    monkeypatch.setattr(engine.SparkBinned, "marginals", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    # With a privacy unit: its rows bounded in the executors, put back in the source's order. With sums
    # (one grouped, one the grand total): the clamped values added up on the executors too.
    sums = [{"columns": ["a"], "sum": "x", "clamp": [0, 40]}, {"columns": [], "sum": "f"}]
    narrow = str(tmp_path / "narrow.parquet")
    duckdb.sql(f"COPY (SELECT a, x, y, f, d FROM '{table_file}') TO '{narrow}' (FORMAT parquet, ROW_GROUP_SIZE 1024)")
    duck, spk = both(spark, narrow, mode="strictest", seed=5, privacy_unit="y", max_rows_per_unit=3,
                     marginals=sums)
    assert calls  # the marginals were counted in Spark
    assert spk.spend.rows() == duck.spend.rows()
    assert [np.ravel(r.totals).tolist() for r in spk.result.sums] == [np.ravel(r.totals).tolist() for r in duck.sums]
    assert [r.owner_figures() for r in spk.result.sums] == [r.owner_figures() for r in duck.sums]
    assert spk.driver_bytes["sums"] > 0  # answered by Spark, not from codes on the driver
    assert sorted_rows(spk.dataframe.toArrow()) == sorted_rows(duck.table)


def test_rows_made_in_the_executors_batch_by_batch(spark, table_file, monkeypatch):
    """An output of several batches: one Spark task each, each batch its own spawned stream; the same
    rows as the DuckDB run makes one batch after another, and again when the DataFrame is recomputed.
    Rules are kept in each task alike (a dependency's values chosen once from the model): none broken."""
    import duckdb_synth.engine.output as output

    monkeypatch.setattr(output, "BATCH_CELLS", 2000)
    monkeypatch.setattr(output, "MIN_BATCH_ROWS", 500)
    rules = ["b <= y", "f < 4", "a -> w", "(a, flag) NOT IN (('1x', true), ('2x', false))"]
    duck, spk = both(spark, table_file, seed=9, rows=3333, constraints=rules)  # balanced: the sampling is tested
    assert duck.output.num_batches == 7 and spk.path is None
    assert spk.dataframe.rdd.getNumPartitions() == 7
    rows = sorted_rows(spk.dataframe.toArrow())
    assert rows == sorted_rows(duck.output.table())
    assert sorted_rows(spk.dataframe.toArrow()) == rows
    con = duckdb.connect()
    con.register("s", duck.output.table())
    assert con.sql("SELECT count(*) FILTER (b > y OR f >= 4 OR (a = '1x' AND flag) OR (a = '2x' AND NOT flag)) "
                   "FROM s").fetchall()[0][0] == 0
    assert con.sql("SELECT count(*) FROM (SELECT a FROM s GROUP BY a HAVING count(DISTINCT w) > 1)").fetchall()[0][0] == 0


def test_rows_a_unit_holds_twice_tie_alike(spark, tmp_path, monkeypatch):
    """Units whose rows repeat (equal keys at the k-th place): Spark keeps the earliest, as DuckDB does,
    so the rows keep the source's order and the selection's sample (made small here) is the same."""
    import duckdb_synth.privacy.adaptive as adaptive

    monkeypatch.setattr(adaptive, "SELECT_ROWS", 300)
    path = str(tmp_path / "ties.parquet")
    duckdb.sql(f"COPY (SELECT i % 900 AS u, (i // 900) % 2 AS c, (i % 900) % 5 AS e FROM range(5400) r(i)) "
               f"TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 700)")
    duck, spk = both(spark, path, mode="strict", seed=2, privacy_unit="u", max_rows_per_unit=2)
    assert spk.spend.rows() == duck.spend.rows()
    assert sorted_rows(spk.dataframe.toArrow()) == sorted_rows(duck.table)


def test_a_directory_of_parquet_files(spark, table_file, tmp_path):
    import duckdb_synth.spark as dss

    folder = tmp_path / "parts"
    spark.read.parquet(table_file).select("a", "b", "flag").write.parquet(str(folder))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = dss.run(spark, str(folder), seed=1, rows=300)
    assert got.result.source.kind == "file" and got.dataframe.count() == 300


def test_a_dataframe_and_a_catalog_table(spark, table_file):
    import duckdb_synth.spark as dss

    df = spark.read.parquet(table_file).select("a", "b", "flag")
    df.createOrReplaceTempView("spark_t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = dss.synthesize(spark, df, seed=1, rows=500)  # balanced: fewer Spark jobs than a DP run's steps
        b = dss.synthesize(spark, "spark_t", seed=1, rows=500)
    assert a.count() == 500 and a.columns == ["a", "b", "flag"]
    assert sorted_rows(a.toArrow()) == sorted_rows(b.toArrow())


@pytest.mark.parametrize(("options", "error", "words"), [
    ({"masks": {"nope": "email"}}, MaskError, "nope"),
    ({"mode": "stric"}, OptionError, "unknown mode 'stric'"),
    ({"marginals": [["a", "zz"]]}, OptionError, "zz"),
])
def test_bad_options_get_duckdbs_errors(spark, table_file, options, error, words):
    import duckdb_synth.spark as dss

    with pytest.raises(error, match=words) as on_spark:
        dss.run(spark, table_file, **options)
    with pytest.raises(error) as on_duckdb:
        duckdb_synth.run(duckdb.connect(), table_file, ledger=False, **options)
    assert str(on_spark.value) == str(on_duckdb.value)


def test_what_spark_cannot_do_yet_is_refused_before_reading(spark, table_file):
    import duckdb_synth.spark as dss

    with pytest.raises(OptionError, match="budget: a Spark run keeps no ledger"):
        dss.run(spark, table_file, mode="strict", budget=5)
    with pytest.raises(OptionError, match="privacy_unit: no column 'nope'"):
        dss.run(spark, table_file, mode="strict", privacy_unit="nope", max_rows_per_unit=2)
    with pytest.raises(OptionError, match="keeps no ledger"):
        dss.run(spark, table_file, mode="strict", ledger=True)
    with pytest.raises(SourceError, match="no table or view named no_such_table in the Spark catalog"):
        dss.run(spark, "no_such_table")
    with pytest.raises(SourceError, match="no file named"):
        dss.run(spark, "/nowhere/x.parquet")
    bad = spark.sql("SELECT map(1, 2) AS m, 1 AS k")
    with pytest.raises(SchemaError, match="'m'"):
        dss.run(spark, bad)


def test_the_readme_spark_examples_run(spark, table_file, tmp_path, monkeypatch):
    """The README's Spark examples (```shell and ```py blocks of its "On Spark" section), as written."""
    import re
    import shlex
    from pathlib import Path

    from click.testing import CliRunner

    import duckdb_synth.spark
    from duckdb_synth.surfaces.cli import main

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("### On Spark"):]
    section = section[:section.index("\n## ")]
    blocks = dict(re.findall(r"```(shell|py)\n(.*?)```", section, re.S))
    assert set(blocks) == {"shell", "py"}
    monkeypatch.chdir(tmp_path)
    # Three of the table's columns: a run's time on Spark is its jobs (a few per column and step), and
    # the other tests cover every type; here only that the examples run as written.
    spark.read.parquet(table_file).select("a", "x", "d").write.parquet(str(tmp_path / "events.parquet"))
    spark.read.parquet(str(tmp_path / "events.parquet")).createOrReplaceTempView("events")
    ran = 0
    for line in blocks["shell"].splitlines():
        argv = shlex.split(line, comments=True)
        if argv[:1] == ["duckdb-synth"]:
            result = CliRunner().invoke(main, argv[1:] + ["--seed", "1"])
            assert result.exit_code == 0, result.output
            ran += 1
    assert ran == 1 and list((tmp_path / "out").glob("*.parquet"))
    scope = {"spark": spark, "duckdb_synth": duckdb_synth}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(blocks["py"], "README.md", "exec"), scope)
    assert scope["df"].count() > 0 and scope["res"].spend.epsilon == 3


def test_count_classes_and_values_by_rank_as_duckdb(spark, table_file):
    """The summarized value counts (``top_passing``): per column, how many values hold each count, and the
    values at given ranks of several counts, alike on both engines."""
    from duckdb_synth.engine.data import DuckDBRows
    from duckdb_synth.engine.schema import read_schema
    from duckdb_synth.engine.spark import SparkRows

    con = duckdb.connect()
    cols = [c for c in read_schema(con, f"SELECT * FROM '{table_file}'") if c.name in ("a", "x", "w", "g", "flag")]
    duck = DuckDBRows(con, f"SELECT * FROM '{table_file}'", cols)
    spk = SparkRows(spark.read.parquet(table_file), cols)
    try:
        for i, c in enumerate(cols):
            d_counts, d_sizes = duck.column(i).count_classes()
            s_counts, s_sizes = spk.column(i).count_classes()
            assert (s_counts.tolist(), s_sizes.tolist()) == (d_counts.tolist(), d_sizes.tolist()), c.name
            wanted = {int(k): np.arange(0, int(n), 3)[:5] for k, n in list(zip(d_counts, d_sizes))[:3]}
            assert spk.column(i).values_at_many(wanted) == duck.column(i).values_at_many(wanted), c.name
    finally:
        spk.close()


def test_null_and_special_counts_of_every_column_in_one_job(spark, table_file, monkeypatch):
    """The domain stage asks a column's NULL count at each of its steps and zoom levels, and a FLOAT or
    DOUBLE column's NaN and infinities: on Spark every column's are counted in one job, then kept (a
    strict run of the table's ten columns made 149 jobs, 60 of them these counts). The same counts as
    DuckDB's; where that job fails, each column asks its own (whose failure names the column)."""
    from duckdb_synth.engine.data import DuckDBRows
    from duckdb_synth.engine.schema import read_schema
    from duckdb_synth.engine.spark import SparkRows

    con = duckdb.connect()
    cols = read_schema(con, f"SELECT * FROM '{table_file}'")
    duck = DuckDBRows(con, f"SELECT * FROM '{table_file}'", cols)
    want = [(duck.column(i).null_count(), duck.column(i).special_counts().tolist() if c.type in ("FLOAT", "DOUBLE")
             else None) for i, c in enumerate(cols)]
    assert sum(n for n, _ in want) > 0 and any(sp and sum(sp) for _, sp in want)  # the table has both
    sc = spark.sparkContext

    def counts(rows):
        return [(rows.column(i).null_count(), rows.column(i).special_counts().tolist() if c.type in ("FLOAT", "DOUBLE")
                 else None) for i, c in enumerate(cols)]

    spk = SparkRows(spark.read.parquet(table_file), cols)
    try:
        sc.setJobGroup("counts-once", "duckdb-synth test")
        assert counts(spk) == want and counts(spk) == want  # asked twice over
        # One collect (the first action on the values also fills their cache): per ask, 28 asks made 56 jobs
        assert 1 <= len(sc.statusTracker().getJobIdsForGroup("counts-once")) <= 3
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
        spk.close()
    spk = SparkRows(spark.read.parquet(table_file), cols)
    try:
        real = spk.values_df.selectExpr

        def fail_on_many(*exprs):  # the job of every column's counts fails; a column's own does not
            if len(exprs) > 3:
                raise RuntimeError("boom")
            return real(*exprs)

        monkeypatch.setattr(spk.values_df, "selectExpr", fail_on_many)
        assert counts(spk) == want
    finally:
        spk.close()


def test_histograms_over_a_types_bucketing_of_every_column_in_one_job(spark, table_file, monkeypatch):
    """The range and lattice steps' histograms (signed powers of two, decimal places, time units) are fixed
    by each column's type: the first ask of a kind counts every number, date and time column's in one job,
    the same counts as DuckDB's. A zoom's cells are each column's own; where the shared job fails, a
    column counts its own."""
    from duckdb_synth.engine import spark as engine
    from duckdb_synth.engine.data import DuckDBRows
    from duckdb_synth.engine.domain import Cells, DecimalPlaces, PowersOfTwo
    from duckdb_synth.engine.schema import read_schema
    from duckdb_synth.engine.spark import SparkRows
    from duckdb_synth.privacy.discovery import TIME_UNIT_BUCKETS

    con = duckdb.connect()
    cols = read_schema(con, f"SELECT * FROM '{table_file}'")
    numbers = [i for i, c in enumerate(cols) if c.is_numeric]
    assert len(numbers) >= 6
    duck = DuckDBRows(con, f"SELECT * FROM '{table_file}'", cols)
    kinds = [PowersOfTwo.of, DecimalPlaces.of, lambda c: TIME_UNIT_BUCKETS]
    want = {(k, i): duck.column(i).histogram(kind(cols[i])).tolist() for k, kind in enumerate(kinds) for i in numbers}
    # the columns the domain stage asks each kind of: powers of two of every number, date and timestamp,
    # decimal places of numbers, time units of timestamps (any other ask is the column's own job)
    asked = {k: [i for i in numbers if engine._asks(type(kind(cols[i])), cols[i])] for k, kind in enumerate(kinds)}
    assert [len(v) for v in asked.values()] == [len(numbers), len(numbers) - 2, 1]
    sc = spark.sparkContext
    for fail in (False, True):
        spk = SparkRows(spark.read.parquet(table_file), cols)
        if fail:
            real = spk.summed

            def fail_on_many(parts, shapes, kind, column=None):  # the job of every column's tables fails
                if len(shapes) > 1:
                    raise duckdb_synth.errors.DataError("boom")
                return real(parts, shapes, kind, column)

            monkeypatch.setattr(spk, "summed", fail_on_many)
        try:
            sc.setJobGroup(f"shared-histograms-{fail}", "duckdb-synth test")
            for k, kind in enumerate(kinds):
                for i in asked[k]:
                    assert spk.column(i).histogram(kind(cols[i])).tolist() == want[k, i], (cols[i].name, k)
            jobs = len(sc.statusTracker().getJobIdsForGroup(f"shared-histograms-{fail}"))
            # Three kinds, each a job (and the first fills the values' cache); one column's histogram at a
            # time is a job each at least
            assert jobs >= sum(map(len, asked.values())) if fail else jobs <= 2 * len(kinds)
            for k, kind in enumerate(kinds):  # asks the domain stage does not make: right, if not shared
                for i in set(numbers) - set(asked[k]):
                    assert spk.column(i).histogram(kind(cols[i])).tolist() == want[k, i], (cols[i].name, k)
            edges = np.array([0.0, 10.0, 100.0, 1000.0])  # any other bucketing: the column's own job
            assert spk.column(numbers[0]).histogram(Cells(edges)).tolist() == \
                duck.column(numbers[0]).histogram(Cells(edges)).tolist()
        finally:
            sc.setLocalProperty("spark.jobGroup.id", None)
            spk.close()


def test_every_text_columns_count_classes_in_one_job(spark, tmp_path):
    """How many values hold each count (``count_classes``, the threshold step's summary) of every text
    column, counted in one job the first time one is asked (each column's was three or four jobs): the
    same as DuckDB's, NULLs and empty strings as each engine's own query has them."""
    from duckdb_synth.engine.data import DuckDBRows
    from duckdb_synth.engine.schema import read_schema
    from duckdb_synth.engine.spark import SparkRows

    path = str(tmp_path / "texts.parquet")
    duckdb.sql(f"COPY (SELECT {', '.join(f'CASE WHEN i % {k + 3} = 0 THEN NULL WHEN i % 11 = 0 THEN {chr(39)}{chr(39)} ELSE (i % {7 * k + 2})::VARCHAR END AS t{k}' for k in range(6))}, i % 5 AS n FROM range(2000) r(i)) TO '{path}' (FORMAT parquet)")
    con = duckdb.connect()
    cols = read_schema(con, f"SELECT * FROM '{path}'")
    duck = DuckDBRows(con, f"SELECT * FROM '{path}'", cols)
    spk = SparkRows(spark.read.parquet(path), cols)
    sc = spark.sparkContext
    try:
        sc.setJobGroup("text-classes", "duckdb-synth test")
        for _ in range(2):
            for i, c in enumerate(cols[:6]):
                d, s = duck.column(i).count_classes(), spk.column(i).count_classes()
                assert (s[0].tolist(), s[1].tolist()) == (d[0].tolist(), d[1].tolist()), c.name
        assert len(sc.statusTracker().getJobIdsForGroup("text-classes")) <= 5  # six columns' own: 20 or so
        d, s = duck.column(6).count_classes(), spk.column(6).count_classes()  # a number: its own query
        assert (s[0].tolist(), s[1].tolist()) == (d[0].tolist(), d[1].tolist())
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
        spk.close()


@pytest.mark.parametrize("direct", [False, True])
def test_partial_tables_are_added_in_spark(spark, table_file, monkeypatch, direct):
    """Histograms and marginals are counted per partition and added in Spark: the driver gets each answer
    once, the same bytes from 1 partition as from 7, and the same counts as DuckDB's. Where the partials
    hold few cells all told (``DIRECT_CELLS``), they come as they are and are added on the driver: the
    same counts, in one job a table where adding them in Spark took two."""
    from duckdb_synth.engine import spark as engine
    from duckdb_synth.engine.data import DuckDBRows
    from duckdb_synth.engine.domain import CategoricalDomain, PowersOfTwo
    from duckdb_synth.engine.schema import read_schema

    monkeypatch.setattr(engine, "LOCAL_CELLS", 0)  # the codes stay on the executors
    monkeypatch.setattr(engine, "CHUNK", 5)  # tables of more than 5 cells travel in pieces
    if not direct:
        monkeypatch.setattr(engine, "DIRECT_CELLS", 0)  # every table added in Spark
    con = duckdb.connect()
    cols = {c.name: c for c in read_schema(con, f"SELECT * FROM '{table_file}'")}
    cats = [cols["a"], cols["w"]]
    doms = [CategoricalDomain(cats[0], values=tuple(f"{i}x" for i in range(6))),
            CategoricalDomain(cats[1], values=("w0", "w1", "only"))]
    buckets = PowersOfTwo.of(cols["y"])
    want_h = DuckDBRows(con, f"SELECT * FROM '{table_file}'", [cols["y"]]).column(0).histogram(buckets)
    local = DuckDBRows(con, f"SELECT * FROM '{table_file}'", cats).bin(doms)
    want_m = [local.marginal(c) for c in [(0, 1), (1,), ()]]
    got, jobs = {}, {}
    sc = spark.sparkContext
    for parts in (1, 7):
        df = spark.read.parquet(table_file).repartition(parts)
        numbers, rows = engine.SparkRows(df, [cols["y"]]), engine.SparkRows(df, cats)
        try:
            assert rows.values_df.rdd.getNumPartitions() == parts
            numbers.column(0).null_count()  # the values cached: the histogram's jobs alone counted below
            sc.setJobGroup(f"partials-{direct}-{parts}", "duckdb-synth test")
            h = numbers.column(0).histogram(buckets)
            jobs[parts] = len(sc.statusTracker().getJobIdsForGroup(f"partials-{direct}-{parts}"))
            sc.setLocalProperty("spark.jobGroup.id", None)
            binned = rows.bin(doms)
            assert isinstance(binned, engine.SparkBinned)
            m = binned.marginals([(0, 1), (1,), ()])
        finally:
            sc.setLocalProperty("spark.jobGroup.id", None)
            numbers.close()
            rows.close()
        assert h.tolist() == want_h.tolist()
        assert [x.tolist() for x in m] == [x.tolist() for x in want_m]
        got[parts] = (numbers.received["histograms"], rows.received["marginals"])
    cells = want_h.size + sum(x.size for x in want_m)
    if direct:
        assert jobs == {1: 1, 7: 1}
        assert got[7][0] > got[1][0]  # seven partials of the histogram, not one answer
        assert got[7][0] + got[7][1] < 7 * (8 * cells + 400 * (cells // 5 + 4))
    else:
        assert min(jobs.values()) >= 2  # the partials' shuffle, then the answers
        assert got[1] == got[7]
        assert got[1][0] + got[1][1] < 8 * cells + 400 * (cells // 5 + 4)  # the answers (float64), npz framing a piece



def test_writing_the_copy_over_the_source_file_is_refused(spark, tmp_path):
    """The review of 1c489ef: `--engine spark -o data.parquet` with data.parquet as the source replaced the real rows.
    Refused before anything is read, for the file, a pattern matching it and a directory holding it."""
    import duckdb_synth.spark as dss

    data = tmp_path / "data.parquet"
    duckdb.sql(f"COPY ({TABLE.format(n=300)}) TO '{data}' (FORMAT parquet)")
    before = data.read_bytes()
    for source in (str(data), str(tmp_path / "*.parquet"), str(tmp_path), f"file://{data}"):
        with pytest.raises(OptionError, match="the source reads .* which the synthetic copy would replace"):
            dss.run(spark, source, path=data, mode="balanced", seed=1)
    assert data.read_bytes() == before
