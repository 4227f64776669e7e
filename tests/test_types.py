"""Type round trip: every supported DuckDB type comes back as itself, with plausible values.

From Python (``duckdb_synth.synthesize``, a relation) the output types equal the
source's exactly. Through SQL (``synthesize(...)`` reads a Parquet file) they are
equal except for the documented differences in ``SQL_TYPE_CHANGES``.
"""
from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import duckdb_synth
from duckdb_synth.errors import DataError, OptionError
from conftest import describe

N = 300
NULL_SHARE = 0.10
ENUM_MEMBERS = ("sad", "ok", "happy")
VARCHAR_VALUES = ("red", "green", "blue", "amber", "violet")

# column -> DuckDB type as DESCRIBE prints it
TYPES = {
    "c_bool": "BOOLEAN", "c_tinyint": "TINYINT", "c_smallint": "SMALLINT", "c_integer": "INTEGER",
    "c_bigint": "BIGINT", "c_hugeint": "HUGEINT", "c_utinyint": "UTINYINT", "c_usmallint": "USMALLINT",
    "c_uinteger": "UINTEGER", "c_ubigint": "UBIGINT", "c_uhugeint": "UHUGEINT", "c_float": "FLOAT",
    "c_double": "DOUBLE", "c_dec10_2": "DECIMAL(10,2)", "c_dec18_4": "DECIMAL(18,4)", "c_varchar": "VARCHAR",
    "c_date": "DATE", "c_time": "TIME", "c_timestamp": "TIMESTAMP", "c_timestamptz": "TIMESTAMP WITH TIME ZONE",
    "c_enum": "ENUM('sad', 'ok', 'happy')", "c_uuid": "UUID",
}
INTEGERS = ("c_tinyint", "c_smallint", "c_integer", "c_bigint", "c_hugeint", "c_utinyint", "c_usmallint",
            "c_uinteger", "c_ubigint", "c_uhugeint")
DECIMALS = {"c_dec10_2": 2, "c_dec18_4": 4}

# DP runs read a 3000-row copy ('t_dp'): with 300 rows and 22 columns each column's share of the
# budget is too small to find most ranges (the small-budget tests at the end cover that case).
DP_ROWS = 3000
DP_SEEDS = {"strict": 1, "strictest": 1}


def _with_nulls(values: list, rng: np.random.Generator) -> list:
    return [None if rng.random() < NULL_SHARE else v for v in values]


def make_types_table(con: duckdb.DuckDBPyConnection, name: str = "t", seed: int = 0, n: int = N) -> None:
    """CREATE TABLE `name` with one column of each type in TYPES, ~10% NULLs each, from numpy."""
    rng = np.random.default_rng(seed)

    def ints(lo: int, hi: int) -> list[int]:
        return [int(v) for v in rng.integers(lo, hi, n)]

    day0, ts0 = dt.date(2019, 1, 1), dt.datetime(2022, 1, 1)
    raw = {
        "c_bool": [bool(v) for v in rng.random(n) < 0.3],
        "c_tinyint": ints(-100, 100),
        "c_smallint": ints(-20_000, 20_000),
        "c_integer": ints(-1_000_000, 1_000_000),
        "c_bigint": ints(0, 10**15),
        "c_hugeint": ints(-10**12, 10**12),
        "c_utinyint": ints(0, 250),
        "c_usmallint": ints(1_000, 60_000),
        "c_uinteger": ints(0, 4_000_000_000),
        "c_ubigint": ints(0, 10**16),
        "c_uhugeint": ints(0, 10**12),
        "c_float": [float(v) for v in rng.normal(10, 3, n).astype(np.float32)],
        "c_double": [float(v) for v in rng.lognormal(3, 1, n)],
        "c_dec10_2": [decimal.Decimal(f"{v:.2f}") for v in rng.uniform(-5_000, 5_000, n)],
        "c_dec18_4": [decimal.Decimal(f"{v:.4f}") for v in rng.gamma(2, 200, n)],
        "c_varchar": [str(v) for v in rng.choice(VARCHAR_VALUES, n)],
        "c_date": [day0 + dt.timedelta(days=int(k)) for k in rng.integers(0, 4 * 365, n)],
        "c_time": [(dt.datetime(2000, 1, 1, 7) + dt.timedelta(seconds=int(k))).time()
                   for k in rng.integers(0, 12 * 3600, n)],
        "c_timestamp": [ts0 + dt.timedelta(seconds=int(k)) for k in rng.integers(0, 365 * 86_400, n)],
        "c_timestamptz": [(ts0 + dt.timedelta(seconds=int(k))).replace(tzinfo=dt.timezone.utc)
                          for k in rng.integers(0, 365 * 86_400, n)],
        "c_enum": [str(v) for v in rng.choice(ENUM_MEMBERS, n)],
        "c_uuid": [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)],
    }
    # Arrow carries the values; 128-bit integers, enums and UUIDs travel as text and are cast on insert.
    as_text = {"c_hugeint", "c_uhugeint", "c_ubigint", "c_enum", "c_uuid"}
    arrow = pa.table({k: pa.array([None if v is None else str(v) for v in _with_nulls(vals, rng)])
                      if k in as_text else pa.array(_with_nulls(vals, rng)) for k, vals in raw.items()})
    con.execute(f"CREATE TYPE IF NOT EXISTS mood AS ENUM {ENUM_MEMBERS!r}")
    cols = ", ".join(f"{c} {'mood' if c == 'c_enum' else t}" for c, t in TYPES.items())
    con.execute(f"CREATE TABLE {name} ({cols})")
    con.register("_types_arrow", arrow)
    try:
        casts = ", ".join(f"CAST({c} AS {t})" for c, t in TYPES.items())
        con.execute(f"INSERT INTO {name} SELECT {casts} FROM _types_arrow")
    finally:
        con.unregister("_types_arrow")


@pytest.fixture(scope="module")
def tcon() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the 300-row table 't', for the SQL path."""
    c = duckdb.connect()
    duckdb_synth.register(c)
    make_types_table(c)
    yield c
    c.close()


@dataclass
class Synth:
    """A synthetic copy 'out' of `source`, made with the Python API on its own connection."""

    mode: str
    con: duckdb.DuckDBPyConnection
    source: str
    types: list[tuple[str, str]]  # of the relation duckdb_synth.synthesize returned


@pytest.fixture(scope="module", params=["balanced", "strict", "strictest"])
def synth(request) -> Iterator[Synth]:
    mode = request.param
    c = duckdb.connect()  # one per mode: runs on one connection make its run log slower to write
    try:
        duckdb_synth.register(c)
        if mode == "balanced":
            make_types_table(c)
            rel = duckdb_synth.synthesize(c, "t", seed=3)
        else:
            make_types_table(c, "t_dp", seed=1, n=DP_ROWS)
            rel = duckdb_synth.synthesize(c, "t_dp", mode=mode, seed=DP_SEEDS[mode])
        types = [(col, str(t)) for col, t in zip(rel.columns, rel.types)]
        rel.to_table("out")
        yield Synth(mode, c, "t" if mode == "balanced" else "t_dp", types)
    finally:
        c.close()


def test_source_has_every_type(tcon):
    assert describe(tcon, "t") == list(TYPES.items())
    nulls = tcon.sql(f"SELECT {', '.join(f'count(*) FILTER ({c} IS NULL)' for c in TYPES)} FROM t").fetchall()[0]
    assert all(0.04 * N < k < 0.18 * N for k in nulls), nulls


def test_python_relation_types_are_exact(synth):
    assert describe(synth.con, synth.source) == list(TYPES.items())
    assert synth.types == list(TYPES.items())
    assert describe(synth.con, "out") == list(TYPES.items())


def test_sql_types_are_exact(tcon):
    # ENUM and HUGEINT/UHUGEINT travel as VARCHAR and DECIMAL(38,0) in the macro's Parquet file and
    # are cast back to the source's types by the query the macro runs.
    tcon.execute("CREATE OR REPLACE TABLE o AS SELECT * FROM synthesize('t', seed := 3)")
    assert describe(tcon, "o") == list(TYPES.items())


def test_sql_keeps_named_enums_with_odd_members_and_wide_integers():
    con = duckdb.connect()
    duckdb_synth.register(con)
    con.execute("CREATE TYPE mood AS ENUM ('it''s', 'b\"x', 'c')")
    con.execute("CREATE TABLE t AS SELECT (['it''s', 'b\"x', 'c'])[1 + i % 3]::mood AS \"m\"\"x\", "
                "(i * 10::HUGEINT ** 20)::HUGEINT AS h FROM range(300) r(i)")
    out = con.sql("SELECT * FROM synthesize('t', mode := 'strict', seed := 1)")
    assert [str(t) for t in out.types] == ["ENUM('it''s', 'b\"x', 'c')", "HUGEINT"]
    assert {r[0] for r in out.fetchall()} <= {"it's", 'b"x', "c"}
    con.close()


def test_sql_keeps_second_and_millisecond_timestamps():
    """TIMESTAMP_S and TIMESTAMP_MS survive the SQL path's Parquet file (DuckDB reads both back as
    TIMESTAMP); their values stay on whole seconds and milliseconds."""
    con = duckdb.connect()
    duckdb_synth.register(con)
    con.execute("CREATE TABLE t AS SELECT (TIMESTAMP '2024-01-01' + to_seconds(i * 61))::TIMESTAMP_S AS s, "
                "(TIMESTAMP '2024-01-01' + to_milliseconds(i * 1501))::TIMESTAMP_MS AS ms, "
                "(TIMESTAMP '2024-01-01' + to_microseconds(i * 7))::TIMESTAMP_NS AS ns FROM range(400) r(i)")
    con.execute("CREATE TABLE o AS SELECT * FROM synthesize('t', seed := 1)")
    assert describe(con, "o") == [("s", "TIMESTAMP_S"), ("ms", "TIMESTAMP_MS"), ("ns", "TIMESTAMP_NS")]
    off = con.sql("SELECT count(*) FILTER (epoch_us(s::TIMESTAMP) % 1000000 <> 0), "
                  "count(*) FILTER (epoch_us(ms::TIMESTAMP) % 1000 <> 0), count(s), count(ms) FROM o").fetchall()[0]
    assert off[:2] == (0, 0) and off[2] > 300 and off[3] > 300
    con.close()


@pytest.mark.parametrize("mode", ["balanced", "strict"])
def test_second_and_millisecond_timestamps_past_2262_are_read(mode):
    """DuckDB's epoch_us and epoch pass a TIMESTAMP_S or TIMESTAMP_MS through nanoseconds: a column holding a
    value before 1677-09-21 or after 2262-04-11 (a sentinel 9999-12-31 23:59:59) could not be read at all
    ("Could not convert Timestamp to higher precision"), nor compared in the report. Read as TIMESTAMP, the
    sentinel (half the rows) comes back as itself, and the report scores the copy."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT i % 5 AS g, CASE WHEN i % 2 = 0 THEN TIMESTAMP_S '9999-12-31 23:59:59' "
                "ELSE (TIMESTAMP '2020-01-01' + to_seconds(i * 3600))::TIMESTAMP_S END AS s, "
                "(TIMESTAMP '1500-01-01' + to_seconds(i * 60))::TIMESTAMP_MS AS ms FROM range(3000) r(i)")
    out = duckdb_synth.run(con, "t", mode=mode, seed=0).table
    con.register("o", out)
    kept, lo, hi = con.sql("SELECT count(*) FILTER (s = TIMESTAMP_S '9999-12-31 23:59:59'), min(ms), max(ms) "
                           "FROM o").fetchall()[0]
    assert 0.4 * out.num_rows <= kept <= 0.6 * out.num_rows, kept
    assert lo.year in (1499, 1500) and hi.year == 1500, (lo, hi)
    con.execute("CREATE TABLE o2 AS SELECT * FROM o")
    scores = {r["column"]: r["score"] for r in duckdb_synth.report(con, "t", "o2", seed=0).columns.to_pylist()}
    assert scores["s"] > 0.8 and scores["ms"] > 0.5, scores
    con.close()


@pytest.mark.parametrize("typ", ["DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS"])
def test_dates_and_timestamps_past_the_year_9999_and_bc_come_back(typ):
    """Decoding clipped dates and timestamps to 0001-01-01 .. 9999-12-31: 2,000 TIMESTAMP_S rows of the year
    10000 came out as one row's 9999-12-31 23:59:59 (the review of 9145d7b), and BC dates as 0001-01-01. They
    are clipped to the type's own range now."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT CAST(CAST('10000-01-01' AS TIMESTAMP) + to_days((i % 50)::INTEGER) AS {typ}) "
                f"AS v FROM range(2000) r(i) UNION ALL SELECT CAST(TIMESTAMP '9999-12-31 23:59:59' AS {typ}) "
                f"UNION ALL SELECT CAST(CAST('0100-01-01 (BC)' AS TIMESTAMP) + to_days((i % 20)::INTEGER) AS {typ}) "
                "FROM range(400) r(i)")
    con.register("o", duckdb_synth.run(con, "t", seed=0).table)
    future, past, lone = con.execute(f"SELECT count(*) FILTER (WHERE v >= CAST(TIMESTAMP '10000-01-01' AS {typ})), "
                                     f"count(*) FILTER (WHERE v < CAST(TIMESTAMP '0001-01-01' AS {typ})), "
                                     f"count(*) FILTER (WHERE v = CAST(TIMESTAMP '9999-12-31 23:59:59' AS {typ})) "
                                     "FROM o").fetchall()[0]
    assert future >= 1900 and past >= 350 and lone == 0, (future, past, lone)
    con.close()


def test_sql_keeps_uuid(tcon):
    """UUID survives the SQL path's Parquet file (it used to come back as VARCHAR)."""
    tcon.execute("CREATE OR REPLACE TABLE o_uuid AS SELECT c_uuid FROM synthesize('t', seed := 3)")
    assert describe(tcon, "o_uuid") == [("c_uuid", "UUID")]


def test_sql_enum_values_are_members(tcon):
    vals = {r[0] for r in tcon.sql("SELECT DISTINCT c_enum FROM synthesize('t', seed := 3)").fetchall()}
    assert vals - {None} <= set(ENUM_MEMBERS)
    assert len(vals - {None}) >= 2


# ---------------------------------------------------------------- values


def _range_and_nulls(con: duckdb.DuckDBPyConnection, table: str, col: str) -> tuple:
    """(min, max, NULL share) of a column, as text (TIMESTAMPTZ values need pytz in Python)."""
    return con.sql(f"""SELECT CAST(min({col}) AS VARCHAR), CAST(max({col}) AS VARCHAR),
                              count(*) FILTER ({col} IS NULL) / count(*) FROM {table}""").fetchall()[0]


def _inside_source_range(con: duckdb.DuckDBPyConnection, col: str) -> bool:
    return con.sql(f"""SELECT (SELECT min({col}) FROM t) <= min({col}) AND max({col}) <= (SELECT max({col}) FROM t)
                       FROM out""").fetchall()[0][0]


@pytest.mark.parametrize("synth", ["balanced"], indirect=True)
def test_balanced_values_within_source_ranges(synth):
    con = synth.con
    for c in [*INTEGERS, "c_float", "c_double", *DECIMALS, "c_date", "c_timestamp", "c_timestamptz"]:  # TIME: below
        assert _inside_source_range(con, c), (c, _range_and_nulls(con, "t", c), _range_and_nulls(con, "out", c))
    for c in TYPES:
        src, syn = _range_and_nulls(con, "t", c)[2], _range_and_nulls(con, "out", c)[2]
        assert abs(syn - src) <= 0.08, (c, src, syn)


@pytest.mark.parametrize("synth", ["balanced"], indirect=True)
def test_balanced_time_within_source_range(synth):
    """Balanced TIME values stay inside the source's range (it used to use 00:00-24:00 on a geometric grid)."""
    con = synth.con
    src, out = _range_and_nulls(con, "t", "c_time"), _range_and_nulls(con, "out", "c_time")
    assert _inside_source_range(con, "c_time"), (src, out)


def test_values_plausible(synth):
    con = synth.con
    for c, scale in DECIMALS.items():  # never more decimal places than the column's scale
        vals = [r[0] for r in con.sql(f"SELECT {c} FROM out WHERE {c} IS NOT NULL").fetchall()]
        assert vals and all(isinstance(v, decimal.Decimal) and v.as_tuple().exponent >= -scale for v in vals), c
    ints = con.sql(f"SELECT {', '.join(INTEGERS)} FROM out WHERE c_integer IS NOT NULL LIMIT 5").fetchall()
    assert all(isinstance(v, int) for r in ints for v in r if v is not None)
    # Dates and timestamps: DP modes only promise a generous range, but a sane calendar one.
    years = con.sql("""SELECT min(year(c_date)), max(year(c_date)), min(year(c_timestamp)), max(year(c_timestamp)),
                              min(year(c_timestamptz)), max(year(c_timestamptz)) FROM out""").fetchall()[0]
    assert all(1900 <= y <= 2200 for y in years), years
    times = con.sql("SELECT min(c_time), max(c_time) FROM out").fetchall()[0]
    assert dt.time(0) <= times[0] <= times[1] <= dt.time(23, 59, 59, 999_999)
    enums = {r[0] for r in con.sql("SELECT DISTINCT CAST(c_enum AS VARCHAR) FROM out").fetchall()}
    assert enums - {None} <= set(ENUM_MEMBERS)
    bools = {r[0] for r in con.sql("SELECT DISTINCT c_bool FROM out").fetchall()}
    assert bools <= {True, False, None}
    # VARCHAR: a frequent source value, or a random token for the 'other' bucket.
    words = {r[0] for r in con.sql("SELECT DISTINCT c_varchar FROM out").fetchall()} - {None}
    assert all(w in VARCHAR_VALUES or len(w) >= 8 for w in words), words
    if synth.mode == "balanced":
        assert words == set(VARCHAR_VALUES)
    # UUIDs are all unique in the source: none comes out verbatim.
    assert con.sql(f"SELECT count(*) FROM out JOIN {synth.source} USING (c_uuid)").fetchall() == [(0,)]


# ---------------------------------------------------------------- DP ranges: type bounds, no signal


def _fresh_run(create_sql: str, **options) -> pa.Table:
    """duckdb_synth.run on a fresh connection (so earlier runs do not slow down the run log)."""
    c = duckdb.connect()
    try:
        c.execute(create_sql)
        return duckdb_synth.run(c, "x", **options).table
    finally:
        c.close()


def _small_budget_runs(create_sql: str, runs: int = 8) -> list[pa.Table]:
    """`runs` outputs at epsilon 0.05 (seeds from 0): a seed whose noisy row count (sigma ~700) falls
    under 50 is refused, as it should be, and the next one is tried."""
    out = []
    for seed in range(5 * runs):
        try:
            out.append(_fresh_run(create_sql, epsilon=0.05, seed=seed))
        except DataError as exc:
            assert "noisy row count" in str(exc)
        if len(out) == runs:
            return out
    raise AssertionError(f"fewer than {runs} runs passed the noisy row count")


def test_dp_decimal_near_its_type_bound():
    """DP values of a DECIMAL near its type's bound still fit the type (the bound used to be inclusive)."""
    create = "CREATE TABLE x AS SELECT (90 + (i % 1000) / 100.0)::DECIMAL(4,2) AS score FROM range(2000) r(i)"
    for seed in range(5):
        out = _fresh_run(create, mode="strict", seed=seed)
        assert out.num_rows > 1000


def test_dp_small_budget_decimal_does_not_crash():
    """A DP range that misses the DECIMAL's range does not break the cast (lo > hi used to crash)."""
    create = "CREATE TABLE x AS SELECT (i % 1000 / 100.0)::DECIMAL(6,2) AS amount FROM range(400) r(i)"
    assert len(_small_budget_runs(create)) == 8


def test_dp_small_budget_dates_stay_on_the_calendar():
    """With no signal, DATE values stay on the calendar (int32 day numbers used to wrap)."""
    create = "CREATE TABLE x AS SELECT DATE '2020-01-01' + (i % 700)::INTEGER AS d FROM range(400) r(i)"
    for k, out in enumerate(_small_budget_runs(create)):
        days = out.column("d").drop_null().cast(pa.int32())
        years = 1970 + days.to_numpy() / 365.25
        assert np.all((years >= 1) & (years <= 9999)), (k, years.min(), years.max())


def test_dp_small_budget_integers_not_pinned_to_type_bound():
    """With no signal, integers are not all pinned to the type's bound."""
    create = "CREATE TABLE x AS SELECT (18 + i % 70)::INTEGER AS age FROM range(400) r(i)"
    for k, out in enumerate(_small_budget_runs(create)):
        ages = set(out.column("age").drop_null().to_pylist())
        assert not ages <= {-(2**31), 2**31 - 1}, (k, sorted(ages)[:5])


@pytest.mark.parametrize("type_", ["HUGEINT", "DECIMAL(38,0)"])
def test_balanced_128_bit_integers_beyond_64_bits(type_):
    """Integer columns wider than 64 bits may hold values beyond 2**64."""
    create = f"CREATE TABLE x AS SELECT CAST(i * 100000000000000000000 AS {type_}) AS big FROM range(300) r(i)"
    out = _fresh_run(create, seed=1)
    assert out.num_rows == 300


# ---------------------------------------------------------------- what used to crash or come back wrong


@pytest.mark.parametrize("mode", ["balanced", "strict"])
def test_nan_and_infinities_are_values_not_nulls(mode):
    """+inf, -inf and NaN each a tenth of the rows: they come back as themselves (NaN used to become NULL,
    and infinities made the whole column NaN or garbage), NULLs stay NULLs, and the numbers stay numbers."""
    create = ("CREATE TABLE x AS SELECT CASE WHEN i % 10 = 5 THEN 'inf'::DOUBLE WHEN i % 10 = 6 THEN '-inf'::DOUBLE "
              "WHEN i % 10 = 7 THEN 'nan'::DOUBLE WHEN i % 10 = 8 THEN NULL ELSE (i % 1000) * 1.5 END AS d, "
              "i % 4 AS g FROM range(3000) r(i)")
    d = np.array([np.nan if v is None else v for v in _fresh_run(create, mode=mode, seed=1).column("d").to_pylist()])
    out = _fresh_run(create, mode=mode, seed=1).column("d")
    n = len(out)
    finite = d[np.isfinite(d)]
    shares = {"inf": np.mean(d == np.inf), "-inf": np.mean(d == -np.inf), "null": out.null_count / n,
              "nan": np.mean(np.isnan(d)) - out.null_count / n}
    for name, share in shares.items():
        assert abs(share - 0.1) < 0.04, (mode, name, shares)
    assert finite.min() >= -100 and finite.max() <= 1600, (finite.min(), finite.max())


@pytest.mark.parametrize("mode", ["balanced", "strict"])
def test_infinite_dates_and_timestamps_are_values_not_nulls(mode):
    """A DATE's or TIMESTAMP's 'infinity' and '-infinity' (an open end, as a row's valid_to often is) come back as
    themselves: epoch_us and date_diff read them as NULL, so every one came back NULL (the fuzz sweep of 50cd76f),
    and a NOT NULL column's were lost from its distribution, unsaid. Each type of timestamp keeps them."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (d DATE NOT NULL, ts TIMESTAMP, tn TIMESTAMP_NS, tz TIMESTAMPTZ, g VARCHAR)")
    con.execute("""INSERT INTO t SELECT CASE WHEN i % 10 = 0 THEN 'infinity'::DATE WHEN i % 10 = 1 THEN '-infinity'::DATE
        ELSE DATE '2020-01-01' + (i % 300)::INT END, CASE WHEN i % 10 = 2 THEN 'infinity'::TIMESTAMP ELSE TIMESTAMP
        '2020-01-01' + to_seconds(i) END, CASE WHEN i % 10 = 3 THEN '-infinity'::TIMESTAMP_NS ELSE '2020-01-01'::TIMESTAMP_NS
        + to_seconds(i) END, CASE WHEN i % 10 = 4 THEN 'infinity'::TIMESTAMPTZ ELSE '2020-01-01'::TIMESTAMPTZ
        + to_seconds(i) END, ['a', 'b'][1 + i % 2] FROM range(3000) r(i)""")
    duckdb_synth.register(con)
    con.execute(f"CREATE TABLE s AS SELECT * FROM synthesize('t', mode := '{mode}', seed := 1)")
    n, *shares = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE d = 'infinity'), count(*) FILTER (WHERE d = '-infinity'), "
        "count(*) FILTER (WHERE ts = 'infinity'), count(*) FILTER (WHERE tn = '-infinity'), "
        "count(*) FILTER (WHERE tz = 'infinity'), count(*) - count(ts) - count(tn) - count(tz) + 2 * count(*) "
        "FROM s").fetchone()
    *infinite, nulls = shares
    for k in infinite:
        assert abs(k / n - 0.1) < 0.03, (mode, shares)
    assert nulls < 0.01 * n, (mode, shares)  # (a DP run's few NULLs of a nullable column: noise)
    finite = con.execute("SELECT min(d), max(d), min(ts), max(ts) FROM s WHERE NOT isinf(d) AND NOT isinf(ts)").fetchone()
    assert finite[0] >= dt.date(2019, 1, 1) and finite[1] <= dt.date(2021, 6, 1), finite
    con.close()


def test_infinite_timestamps_written_to_parquet_and_counted_outside_a_declared_range(tmp_path) -> None:
    """The review of dba1e14: a TIMESTAMP_S's infinity (INT64_MAX seconds) failed pyarrow's Parquet writer (seconds
    cast to milliseconds overflowed: the CLI's -o out.parquet crashed), and a declared range counted the infinite
    dates it clamped as inside it (286 of 2,286 values outside said)."""
    from click.testing import CliRunner

    from duckdb_synth.surfaces.cli import main

    db = tmp_path / "t.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT CASE WHEN i % 10 = 2 THEN 'infinity'::TIMESTAMP_S ELSE ('2020-01-01'::TIMESTAMP "
                "+ to_seconds(i))::TIMESTAMP_S END AS s, CASE WHEN i % 2 = 0 THEN 'infinity'::DATE WHEN i % 7 = 0 THEN "
                "DATE '2100-01-01' ELSE DATE '2020-01-01' + (i % 700)::INTEGER END AS v, 'g' || (i % 2) AS g "
                "FROM range(4000) r(i)")
    res = duckdb_synth.run(con, "t", mode="balanced", seed=1, ledger=False,
                           domains={"v": {"min": "2019-01-01", "max": "2022-01-01"}})
    assert any("2286 values outside" in (s.detail or "") for s in res.spend.steps)
    con.close()
    out = tmp_path / "out.parquet"
    got = CliRunner().invoke(main, ["synthesize", str(db), "t", "--mode", "balanced", "--seed", "1", "-o", str(out)])
    assert got.exit_code == 0, got.output
    inf, n = duckdb.connect().execute(f"SELECT count(*) FILTER (WHERE isinf(s)), count(*) FROM '{out}'").fetchone()
    assert inf == n // 10
    from duckdb_synth.surfaces.cli import _parquet_batch, _parquet_schema

    top = np.iinfo(np.int64).max  # (a NULL beside them made the seconds floats, and infinity 0: the review of 1e23c2d)
    batch = pa.record_batch([pa.array([1, top, -top, None], pa.int64()).cast(pa.timestamp("s"))], names=["ts"])
    assert _parquet_batch(batch, _parquet_schema(batch.schema)).column(0).cast(pa.int64()).to_pylist() == [
        1000, top, -top, None]


def test_the_clis_parquet_file_holds_a_uuid_column_as_uuid(tmp_path) -> None:
    """The CLI's -o out.parquet wrote a UUID column as VARCHAR (Arrow carries UUIDs as text), where DuckDB's own COPY
    keeps UUID; it is Parquet's UUID now, NULLs kept."""
    from click.testing import CliRunner

    from duckdb_synth.surfaces.cli import main

    db = tmp_path / "t.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT CASE WHEN i % 4 = 0 THEN NULL ELSE uuid() END AS u, 'g' || (i % 3) AS g "
                "FROM range(400) r(i)")
    con.close()
    out = tmp_path / "out.parquet"
    got = CliRunner().invoke(main, ["synthesize", str(db), "t", "--mode", "balanced", "--seed", "1", "-o", str(out)])
    assert got.exit_code == 0, got.output
    con = duckdb.connect()
    assert con.execute(f"DESCRIBE SELECT u FROM '{out}'").fetchall()[0][1] == "UUID"
    (n, values, distinct), = con.execute(f"SELECT count(*), count(u), count(DISTINCT u) FROM '{out}'").fetchall()
    assert n == 400 and 0 < values < n and distinct == values
    con.close()


@pytest.mark.parametrize("mode", ["balanced", "strict"])
@pytest.mark.parametrize("create, low, high", [
    ("CREATE TABLE x AS SELECT (18000000000000000000::UBIGINT - i * 1000000000000000) AS v, i % 3 AS g "
     "FROM range(300) r(i)", 1.77e19, 1.8e19),
    ("CREATE TABLE x AS SELECT (18000000000000000000::UBIGINT - i) AS v, i % 3 AS g FROM range(300) r(i)",
     1.79e19, 1.81e19),
    ("CREATE TABLE x AS SELECT (i + 10)::HUGEINT * 100000000000000000000 AS v, i % 3 AS g FROM range(300) r(i)",
     1e21, 3.1e22),
    ("CREATE TABLE x AS SELECT (1e27 + i * 1e25)::DOUBLE AS v, i % 3 AS g FROM range(300) r(i)", 1e27, 4e27),
    ("CREATE TABLE x AS SELECT (1e27 + i * 1e25)::DECIMAL(38,10) AS v, i % 3 AS g FROM range(300) r(i)", 1e27, 4e27),
    # past 2^127 (1.7e38): they travel as DECIMAL(38,0), and such values had come back negative (then crashed)
    ("CREATE TABLE x AS SELECT '200000000000000000000000000000000000000'::UHUGEINT + i::UHUGEINT AS v, i % 3 AS g "
     "FROM range(300) r(i)", 1e38, 1e38),
])
def test_magnitudes_past_2_to_the_63_are_kept(mode, create, low, high):
    """UBIGINT, HUGEINT, DOUBLE and DECIMAL(38,10) values past 2^63 (UBIGINT used to crash; DP clipped at 9.2e18);
    UHUGEINT's past 1e38 as 1e38 at most, in a valid table."""
    table = _fresh_run(create, mode=mode, seed=2)
    table.validate(full=True)  # (a decimal past DECIMAL(38,0)'s precision is not)
    values = [float(v) for v in table.column("v").to_pylist() if v is not None]
    assert min(values) >= 0
    inside = np.mean([(low / 2 <= v <= high * 2) for v in values])
    assert inside > 0.8, (mode, inside, min(values), max(values))


@pytest.mark.parametrize("epsilon", [1e3, 1e6, 1e9])
def test_huge_budgets_run(epsilon):
    """An epsilon of 1e6 overflowed the (epsilon, delta) conversion; a huge budget is near-exact, not an error."""
    create = "CREATE TABLE x AS SELECT (i % 7)::VARCHAR AS a, (i * 37 % 100)::INTEGER AS b FROM range(2000) r(i)"
    out = _fresh_run(create, epsilon=epsilon, seed=1)
    assert out.num_rows == 2000


def test_tiny_tables_in_strict_mode_never_crash():
    """50-60 rows in strict: a text column with no value kept lost every bucket and pgm divided by zero."""
    create = ("CREATE TABLE x AS SELECT (i % 7)::VARCHAR AS a, (i * 37 % 100)::INTEGER AS b, i % 3 = 0 AS c "
              "FROM range(55) r(i)")
    ran = 0
    for seed in range(12):
        try:
            ran += _fresh_run(create, mode="strict", seed=seed).num_rows > 0
        except DataError as exc:
            assert "noisy row count" in str(exc)
    assert ran >= 6


@pytest.mark.parametrize("epsilon", [None, 3.0])
def test_time_of_24_00_comes_back(epsilon):
    """24:00:00 is a TIME (DuckDB's range ends there; some sources write the end of a day so). Held by a third
    of the rows, it had come back as 23:59:59.999999, a value no row holds, in every mode: the decoder clipped
    times to the microsecond before it."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT CASE WHEN i % 3 = 0 THEN TIME '24:00:00' "
                "ELSE TIME '00:00:00' + to_seconds(i * 600 % 86000) END AS t, i % 7 AS k FROM range(3000) r(i)")
    kw = {} if epsilon is None else {"epsilon": epsilon}
    res = duckdb_synth.run(con, "s", seed=0, ledger=False, **kw)
    con.register("out", res.output.table())
    at_end, below = con.sql("SELECT count(*) FILTER (WHERE t = TIME '24:00:00'), "
                            "count(*) FILTER (WHERE t > TIME '23:59:59' AND t < TIME '24:00:00') FROM out").fetchall()[0]
    assert below == 0
    assert abs(at_end - 1000) <= (10 if epsilon is None else 150), at_end
    con.close()


@pytest.mark.parametrize("seed", [0, 1])
def test_time_of_24_00_only_where_a_row_holds_it(seed):
    """The range of a time of day is public and ends at 24:00:00, so at eps = 1 draws in its last cell reached
    it for a column whose latest time is 23:59:59 (37 rows of 3,000; pyarrow reads 24:00:00 back as 00:00:00 and
    pandas cannot hold it), and before that came out as 23:59:59.999999, off the column's whole seconds. They
    take the last whole second."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT TIME '23:59:00' + to_seconds(i % 60) AS t, i % 5 AS k FROM range(3000) r(i)")
    res = duckdb_synth.run(con, "s", epsilon=1.0, seed=seed, ledger=False)
    con.register("out", res.output.table())
    late, fractions = con.sql("SELECT count(*) FILTER (WHERE t > TIME '23:59:59'), "
                              "count(*) FILTER (WHERE microsecond(t) % 1000000 <> 0) FROM out").fetchall()[0]
    assert (late, fractions) == (0, 0)
    assert res.output.table().to_pandas()["t"].notna().all()
    con.close()


# ---------------------------------------------------------------- a DECIMAL past the floats (Spark's DECIMAL(38,18))

SPARK_DECIMALS = ("CREATE TABLE s AS SELECT (1000000.5 + (i % 40) * 1.25)::DECIMAL(38,18) AS amt, "
                  "(1.0 / (2 + i % 37))::DECIMAL(38,18) AS rate, i % 5 AS k FROM range(3000) r(i)")


@pytest.mark.parametrize("epsilon", [None, 1.0])
def test_decimal_38_18_is_written_with_the_digits_its_floats_hold(epsilon):
    """DuckDB's DOUBLE to DECIMAL(38,18) cast multiplies by 10^18 in doubles: 1000047.0 came out as
    1000047.000000000061079552, in every mode. A float is written as its shortest decimal: amounts on quarters
    come back on quarters (balanced: the very values; DP: the lattice the decimals step found)."""
    con = duckdb.connect()
    con.execute(SPARK_DECIMALS)
    kw = {} if epsilon is None else {"epsilon": epsilon}
    con.register("out", duckdb_synth.run(con, "s", seed=0, ledger=False, **kw).output.table())
    assert describe(con, "out")[:2] == [("amt", "DECIMAL(38,18)"), ("rate", "DECIMAL(38,18)")]
    off, rows = con.sql("SELECT count(*) FILTER (WHERE amt * 100 <> round(amt * 100)), count(amt) FROM out").fetchall()[0]
    assert rows > 2500 and off == 0
    if epsilon is None:
        assert con.sql("SELECT count(*) FROM out WHERE amt NOT IN (SELECT amt FROM s)").fetchall()[0][0] == 0
    con.close()


def test_balanced_decimal_38_18_keeps_its_values():
    """Past 0.008 a DECIMAL(38,18)'s floats are coarser than its scale, and each counted as rare (several of the
    type's values read as one float): 37 ratios held by 81 rows each came back as 3,000 values, none a row's.
    Each float is now a value, as a DOUBLE's: the 37 come back, each as the shortest decimal of its float."""
    con = duckdb.connect()
    con.execute(SPARK_DECIMALS)
    con.register("out", duckdb_synth.run(con, "s", seed=0).output.table())
    distinct, stray = con.sql("SELECT count(DISTINCT rate), count(*) FILTER (WHERE CAST(rate AS DOUBLE) NOT IN "
                              "(SELECT CAST(rate AS DOUBLE) FROM s)) FROM out").fetchall()[0]
    assert (distinct, stray) == (37, 0)
    con.close()


@pytest.mark.parametrize("seed", [0, 1])
def test_balanced_decimal_rare_value_written_from_a_common_float_stays_out(seed):
    """0.5 in 2 rows and 0.500000000000000001 in 300 read as one float, written as 0.5: the float is common, the
    value it is written as rare (likewise 0.25 in 3 rows beside 400 of 0.250000000000000002). Counted as a value
    alone, the float let the 2-row 0.5 out about 700 times a seed."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT 0.5::DECIMAL(38,18) AS d, 0 AS g FROM range(2) "
                "UNION ALL SELECT 0.500000000000000001::DECIMAL(38,18), 1 FROM range(300) "
                "UNION ALL SELECT 0.250000000000000002::DECIMAL(38,18), 2 FROM range(400) "
                "UNION ALL SELECT 0.25::DECIMAL(38,18), 0 FROM range(3) "
                "UNION ALL SELECT (1 + (i % 70) * 0.01)::DECIMAL(38,18), i % 3 FROM range(2100) r(i)")
    con.register("out", duckdb_synth.run(con, "s", seed=seed).output.table())
    leaked, near = con.sql("SELECT count(*) FILTER (WHERE d IN (0.5, 0.25)), count(*) FILTER (WHERE d > 1) "
                           "FROM out").fetchall()[0]
    assert leaked == 0 and near > 1800
    con.close()


@pytest.mark.parametrize("epsilon", [None, 1.0])
def test_decimal_whose_largest_value_reads_as_a_float_past_its_type(epsilon):
    """9999999999999999.99 reads as the float 1e16, which DECIMAL(18,2) cannot hold: the check of each row's
    written value (28feb22) failed the whole read, "Could not convert string 1e+16". The type's range is now the
    largest float inside it, and draws are clipped to it before they are checked and written."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT (9999999999999999.99 - (i % 300) * 1000000000000.01)::DECIMAL(18,2) AS v, "
                "i % 4 AS g FROM range(3000) r(i)")
    kw = {} if epsilon is None else {"epsilon": epsilon}
    con.register("out", duckdb_synth.run(con, "s", seed=0, ledger=False, **kw).output.table())
    rows, top = con.sql("SELECT count(v), max(v) FROM out").fetchall()[0]
    assert rows > 2500 and top <= decimal.Decimal("9999999999999999.99")
    assert describe(con, "out")[0] == ("v", "DECIMAL(18,2)")
    con.close()


@pytest.mark.parametrize("type_, top", [("DECIMAL(38,10)", "9999999999999999999999999999.9999999999"),
                                        ("DECIMAL(38,0)", "99999999999999999999999999999999999999")])
@pytest.mark.parametrize("epsilon", [None, 1.0])
def test_decimal_whose_largest_float_is_written_past_its_type(type_, top, epsilon):
    """The float under 10^28 is written (its shortest decimal) as 1e+28, which DECIMAL(38,10) cannot hold: a column of
    values near its largest crashed every run, "Could not convert string 1e+28" (DECIMAL(38,0) near 1e38 the same).
    The type's range is the largest float written inside it."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE s AS SELECT '{top}'::{type_} - i AS v, i % 3 AS g FROM range(1000) r(i)")
    kw = {} if epsilon is None else {"epsilon": epsilon}
    con.register("out", duckdb_synth.run(con, "s", seed=1, ledger=False, **kw).output.table())
    rows, low, high = con.sql("SELECT count(v), min(v), max(v) FROM out").fetchall()[0]
    assert rows > 900 and decimal.Decimal(top) * decimal.Decimal('0.999') < low and high <= decimal.Decimal(top)
    con.close()


@pytest.mark.parametrize("check, common, rare", [
    ("CHECK (d BETWEEN 0 AND 1)", "1", "0.9999999999999999"),
    ("CHECK (d <= 1)", "1", "0.9999999999999999"),
    ("CHECK (d BETWEEN 0 AND 0.750000000000000001)", "0.750000000000000001", "0.75"),
])
def test_balanced_decimal_rare_value_at_a_declared_end_stays_out(check, common, rare):
    """The review of 28feb22: a declared end of a DECIMAL(38,18) counted as public, yet its float is written as its
    shortest decimal, which 1-4 rows may hold (the CHECK's 0.75 beside 300 rows of 0.750000000000000001), and the
    scale's steps in floats put a bound of 1 at 0.9999999999999999 (a point of 1.0 clipped onto it after the check,
    a one-sided CHECK too): the rare value came out 300-401 times a seed. Values stay inside the CHECK."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE s (d DECIMAL(38,18) {check}, g INTEGER)")
    con.execute(f"INSERT INTO s SELECT {common}, i % 3 FROM range(300) r(i)")
    con.execute(f"INSERT INTO s SELECT {rare}, i FROM range(2) r(i)")
    con.execute("INSERT INTO s SELECT (0.1 + (i % 60) * 0.0101234567)::DECIMAL(38,18), i % 3 FROM range(2000) r(i)")
    con.register("out", duckdb_synth.run(con, "s", seed=0).output.table())
    leaked, outside, rows = con.sql(f"SELECT count(*) FILTER (WHERE d = {rare}), count(*) FILTER (WHERE NOT "
                                    f"({check.removeprefix('CHECK ')})), count(d) FROM out").fetchall()[0]
    assert (leaked, outside) == (0, 0) and rows > 2200
    con.close()


def test_dp_modes_read_no_exact_values_beside_the_floats():
    """Balanced mode's readings beside the floats (a TIMESTAMP_NS's nanoseconds, a DECIMAL(38,18)'s written values)
    are not made for a DP run, which asks for none (a TIMESTAMP_NS's took 16 bytes a row until binning); the floats
    are the same either way."""
    from duckdb_synth.engine.data import DuckDBRows
    from duckdb_synth.engine.schema import classify

    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT (TIMESTAMP '2020-01-01' + to_microseconds(i * 7))::TIMESTAMP_NS AS ns, "
                "(1.0 / (2 + i % 37))::DECIMAL(38,18) AS r FROM range(500) r(i)")
    cols = [classify("ns", "TIMESTAMP_NS"), classify("r", "DECIMAL(38,18)")]
    balanced = DuckDBRows(con, "SELECT * FROM s", cols)
    dp = DuckDBRows(con, "SELECT * FROM s", cols, exact=False)
    for i in range(2):
        np.testing.assert_array_equal(balanced.column(i).values, dp.column(i).values)
    assert len(balanced.column(0).exact_values()[0]) == 500 and balanced.column(1).written_counts() is not None
    assert len(dp.column(0).exact_values()[0]) == 0 and dp.column(1).written_counts() is None
    con.close()


@pytest.mark.parametrize("create, rare", [
    # Every float rare: one, written as 0.5, which 2 rows hold; no lattice point free (all 3,002 rows came out 0.5).
    ("CREATE TABLE s AS SELECT 0.5::DECIMAL(38,18) AS d FROM range(2) "
     "UNION ALL SELECT 0.500000000000000001::DECIMAL(38,18) FROM range(3000)", "0.5"),
    # A redraw on the point 1e16 (9999999999999999.99 as read), clipped only when written onto a 2-row value.
    ("CREATE TABLE s AS SELECT 9999999999999999.99::DECIMAL(18,2) AS d FROM range(300) "
     "UNION ALL SELECT 9999999999999998.00::DECIMAL(18,2) FROM range(2) "
     "UNION ALL SELECT (9999999999000000 + (i % 60) * 12345.25)::DECIMAL(18,2) FROM range(2000) r(i)",
     "9999999999999998.00"),
    # A strict one-sided CHECK: 0.749999999999999990 reads as 0.75, past the bound, whose float inside is a 2-row value's.
    ("CREATE TABLE s (d DECIMAL(38,18) CHECK (d < 0.75)); INSERT INTO s SELECT 0.749999999999999990 FROM range(300); "
     "INSERT INTO s SELECT 0.749999999999999900 FROM range(2); "
     "INSERT INTO s SELECT (0.1 + (i % 60) * 0.0101234567)::DECIMAL(38,18) FROM range(2000) r(i)", "0.7499999999999999"),
])
def test_balanced_decimal_rows_left_on_a_rare_float_move_off_it(create, rare):
    """The review of b3f40b5: three ways a DECIMAL past the floats still drew its rare value, 302-3,002 rows a seed
    (every row of the first table)."""
    con = duckdb.connect()
    con.execute(create)
    con.register("out", duckdb_synth.run(con, "s", seed=0).output.table())
    leaked, rows = con.sql(f"SELECT count(*) FILTER (WHERE d = {rare}), count(d) FROM out").fetchall()[0]
    assert leaked == 0 and rows >= 2300
    con.close()


def test_balanced_tiny_decimals_are_checked_as_written():
    """DECIMAL(38,37) values of 1e-33, each held by 1 row: drawn values were rounded to the scale with np.round,
    which misses once 10^37 is no float, and written back onto rare values (867-899 rows a seed; older than the
    written values, found by the review of b3f40b5). Each draw is now checked as the float of the value written."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT ('0.' || repeat('0', 32) || (10000 + (i * 7) % 10000)::VARCHAR)::DECIMAL(38,37)"
                " AS d, i % 3 AS g FROM range(3000) r(i)")
    con.register("out", duckdb_synth.run(con, "s", seed=0).output.table())
    leaked = con.sql("SELECT count(*) FROM out WHERE d IN (SELECT d FROM s GROUP BY d HAVING count(*) < 5)").fetchall()
    assert leaked == [(0,)]
    con.close()


def test_decimal_bound_with_more_digits_than_a_float_holds_is_kept_without_repair():
    """CHECK (d <= 0.749999999999999999): DuckDB reads the bound, and 300 rows of 0.749999999999999990, as the float
    0.75, written as 0.75, past it. The rule repair then moved them onto the bound, a value 2 rows hold (302 rows a
    seed; the review of b3f40b5). The bound is now the float inside it whose written value keeps to it."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s (d DECIMAL(38,18) CHECK (d <= 0.749999999999999999))")
    con.execute("INSERT INTO s SELECT 0.749999999999999990 FROM range(300)")
    con.execute("INSERT INTO s SELECT 0.749999999999999999 FROM range(2)")
    con.execute("INSERT INTO s SELECT (0.1 + (i % 60) * 0.0101234567)::DECIMAL(38,18) FROM range(2000) r(i)")
    for kw in ({}, {"epsilon": 1.0}):
        con.register("out", duckdb_synth.run(con, "s", seed=0, ledger=False, **kw).output.table())
        on_bound, past = con.sql("SELECT count(*) FILTER (WHERE d = 0.749999999999999999), "
                                 "count(*) FILTER (WHERE d > 0.749999999999999999) FROM out").fetchall()[0]
        assert (on_bound, past) == (0, 0), kw
    con.close()


@pytest.mark.parametrize("mode", ["balanced", "strict"])
def test_decimal_domain_bounds_from_sql_keep_their_digits(mode):
    """domains := {'d': {'min': 0.1000000000000000001, 'max': 0.7499999999999999999}} came through JSON as the
    floats 0.1 and 0.75, and 300 rows each came out below the min and above the max, in both modes (the review of
    b3f40b5; the DP mode's older). Its numbers are now read as written, and each bound is the float inside it whose
    written value keeps to it."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT 0.749999999999999990::DECIMAL(38,18) AS d FROM range(300) "
                "UNION ALL SELECT 0.100000000000000010 FROM range(300) "
                "UNION ALL SELECT (0.2 + (i % 60) * 0.0051234567)::DECIMAL(38,18) FROM range(2000) r(i)")
    duckdb_synth.register(con)
    options = "" if mode == "balanced" else ", mode := 'strict', ledger := false"
    con.execute("CREATE TABLE out AS SELECT * FROM synthesize('s', seed := 0, domains := {'d': {'min': "
                f"0.1000000000000000001, 'max': 0.7499999999999999999}}}}{options})")
    below, above, rows = con.sql("SELECT count(*) FILTER (WHERE d < 0.1000000000000000001), count(*) FILTER "
                                 "(WHERE d > 0.7499999999999999999), count(*) FROM out").fetchall()[0]
    assert (below, above) == (0, 0) and rows > 2000
    con.close()


def test_written_bound_keeps_the_written_value_inside():
    from decimal import Decimal

    from duckdb_synth.engine.declared import written_bound, written_decimal

    cases = [("0.7499999999999999999", "hi", False), ("0.75", "hi", True), ("1", "hi", False),
             ("0.1000000000000000001", "lo", False), ("0.001", "lo", True), ("-2.5", "lo", True),
             ("123456789012345.678", "hi", False), ("1E-30", "lo", False)]
    for text, side, strict in cases:
        bound = Decimal(text)
        w = written_decimal(written_bound(bound, 18, side, strict), 18)
        inside = (w > bound if strict else w >= bound) if side == "lo" else (w < bound if strict else w <= bound)
        assert inside, (text, side, strict, w)
        assert abs(w - bound) < Decimal("1e-2") * max(abs(bound), Decimal(1)), (text, w)


def test_balanced_decimal_rare_value_dropped_by_a_privacy_unit_stays_out():
    """The review of 8399346: the written values were counted over the rows a privacy unit's bound kept, so a
    2-row 0.5 the bound dropped was no one's, and the kept rows' float (3,000 rows of 0.500000000000000001), written
    as 0.5, let it out in every row. They are counted over the source's rows."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s (d DECIMAL(38,18), u INTEGER)")
    con.execute("INSERT INTO s SELECT 0.500000000000000001, i % 300 FROM range(3000) r(i)")
    con.execute("INSERT INTO s VALUES (0.5, 0), (0.5, 1)")
    out = duckdb_synth.run(con, "s", seed=0, privacy_unit="u", max_rows_per_unit=5).output.table()
    con.register("out", out)
    assert con.sql("SELECT count(*) FILTER (WHERE d = 0.5), count(d) FROM out").fetchall()[0] == (0, out.num_rows)
    con.close()


def test_balanced_decimal_moves_past_a_run_of_rare_floats():
    """The review of 8399346: one row at the written value of each of the 32 floats either side of 0.5 left no free
    float within reach, and every output row was the 2-row 0.5. The reach now doubles past the next eight."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT 0.500000000000000001::DECIMAL(38,18) AS d FROM range(100) "
                "UNION ALL SELECT 0.5 FROM range(2) UNION ALL SELECT CAST(CAST(0.5::DOUBLE + s * k * 2.0 ^ -53 AS "
                "VARCHAR) AS DECIMAL(38,18)) FROM range(1, 33) a(k), (VALUES (-1), (1)) b(s)")
    con.register("out", duckdb_synth.run(con, "s", seed=0).output.table())
    leaked = con.sql("SELECT count(*) FROM out WHERE d IN (SELECT d FROM s GROUP BY d HAVING count(*) < 5)").fetchall()
    assert leaked == [(0,)]
    con.close()


@pytest.mark.parametrize("epsilon", [None, 1.0])
def test_decimal_bound_past_every_decimal_range(epsilon):
    """CHECK (d <= 1e80) on a DECIMAL(38,18) raised decimal.InvalidOperation (the bound's steps of 10^-18 need
    98 digits: the review of 8399346)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s (d DECIMAL(38,18) CHECK (d <= 1e80))")
    con.execute("INSERT INTO s SELECT (1000000.5 + (i % 40) * 1.25) FROM range(2000) r(i)")
    kw = {} if epsilon is None else {"epsilon": epsilon}
    assert duckdb_synth.run(con, "s", seed=0, ledger=False, **kw).output.table().num_rows > 1500
    con.close()


def test_domain_messages_show_sql_numbers_as_written():
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT i::DOUBLE AS x, 'a' || (i % 3) AS t FROM range(100) r(i)")
    duckdb_synth.register(con)
    with pytest.raises(duckdb.Error, match=r"has min 10.5 > max 0.5"):
        con.execute("SELECT * FROM synthesize('s', domains := {'x': {'min': 10.5, 'max': 0.5}})").fetchall()
    with pytest.raises(duckdb.Error, match=r"got 1.5 \(a number\); quote it"):
        con.execute("SELECT * FROM synthesize('s', domains := {'t': [1.50, 2.25]})").fetchall()
    con.close()


@pytest.mark.parametrize("type_, listed", [("INTEGER", "(1, 5, 9)"), ("DECIMAL(10,2)", "(0.1, 0.2, 0.75)"),
                                            ("DOUBLE", "(1.5, 2.5, 100)")])
def test_a_check_listing_numbers_keeps_every_value_on_the_list(type_, listed):
    """CHECK (d IN (1, 5, 9)) on a number was no domain (a list of numbers is no range), and at eps = 1 on 2,000 rows
    31 rows of 6 came out (the review of 8399346): values the table cannot hold. It is the list's range, and each
    value is written as the nearest listed one."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE s (d {type_} CHECK (d IN {listed}), g INTEGER)")
    con.execute(f"INSERT INTO s SELECT {listed.replace('(', '[').replace(')', ']')}[1 + i % 3], i % 3 "
                "FROM range(2000) r(i)")
    for kw in ({}, {"epsilon": 1.0}):
        for seed in range(3):
            con.register("out", duckdb_synth.run(con, "s", seed=seed, ledger=False, **kw).output.table())
            off, rows = con.sql(f"SELECT count(*) FILTER (WHERE d NOT IN {listed}), count(d) FROM out").fetchall()[0]
            assert off == 0 and rows > 1900, (kw, seed)
    con.close()


@pytest.mark.parametrize("check", ["x = 0.12345678901234567891", "x IN (0.12345678901234567891, 2.5, -7.00000000000000000001)",
                                   "x = 123456789012345678.12345678901234567891"])
def test_a_decimal_past_the_floats_keeps_the_value_a_check_lists_or_fixes(check):
    """CHECK (x = 0.12345678901234567891) on a DECIMAL(38,20) came out as the float's shortest decimal,
    0.12345678901234568, a value the table cannot hold (every row, every mode); a listed value the same. Such a value
    is written as itself (``Declared.exact``)."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE s (x DECIMAL(38,20) CHECK ({check}), g INTEGER)")
    listed = ["0.12345678901234567891", "2.5", "-7.00000000000000000001"] if "IN" in check else [check.split("= ")[1]]
    con.execute(f"INSERT INTO s SELECT [{', '.join(listed)}][1 + i % {len(listed)}], i % 3 FROM range(2000) r(i)")
    for kw in ({}, {"epsilon": 1.0}):
        con.register("out", duckdb_synth.run(con, "s", seed=0, ledger=False, **kw).output.table())
        off, rows, distinct = con.sql(f"SELECT count(*) FILTER (WHERE NOT ({check})), count(x), count(DISTINCT x) "
                                      "FROM out").fetchall()[0]
        assert off == 0 and rows > 1900 and distinct == len(listed), kw
    con.close()


def test_rare_values_a_privacy_unit_dropped_do_not_switch_on_the_dense_run_exception():
    """The review of e49fb40: the written values of rows a privacy unit's bound dropped (1,940 one-row amounts of
    one unit) counted in the share of the column held by dense runs of rare points, over the kept rows' numbers: 0.65
    against the exception's 0.5, and draws kept next to 1-row values came out one float from them (51-58 rows a
    seed). They count as rare, and for nothing in that share."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s (d DECIMAL(38,18), u INTEGER)")
    con.execute("INSERT INTO s SELECT 100 + (i % 600) * 0.01, i FROM range(3000) r(i)")
    con.execute("INSERT INTO s SELECT 200 + j * 0.01, 100000 + j FROM range(60) r(j)")
    con.execute("INSERT INTO s SELECT 200 + j * 0.01, -1 FROM range(60, 2000) r(j)")
    con.register("out", duckdb_synth.run(con, "s", seed=0, privacy_unit="u", max_rows_per_unit=1).output.table())
    near = con.sql("SELECT count(*) FROM out WHERE d >= 199.995 AND d * 100 <> round(d * 100)").fetchall()
    assert near == [(0,)]
    con.close()


@pytest.mark.parametrize("type_, expr", [("INTEGER", "v"), ("DATE", "DATE '2000-01-01' + CAST(v AS INTEGER)"),
                                         ("TIMESTAMP", "TIMESTAMP '2000-01-01' + to_seconds(v)"),
                                         ("DECIMAL(10,2)", "v / 100")])
def test_balanced_values_whose_rows_a_privacy_unit_dropped_stay_rare(type_, expr):
    """The review of e49fb40: a value 1-4 source rows hold, all of whose rows a privacy unit's bound dropped, was no
    rare value for the kept rows, and draws inside its cell came out as it (212-245 rows in 3 seeds for each of these
    types; 0 without a unit). Such values stay rare (``ColumnData.dropped_rare``)."""
    con = duckdb.connect()
    # 300 values 3 apart held by 7-8 rows each; 60 units of 6 rows each hold one value 3j + 1 in one row, and a
    # bound of k = 1 drops most of those rows
    con.execute("CREATE TABLE base AS SELECT (i % 300) * 3 AS v, i AS u FROM range(2100) r(i) "
                "UNION ALL SELECT (j % 300) * 3, 10000 + j FROM range(60) r(j), range(5) "
                "UNION ALL SELECT 3 * j + 1, 9800 + j FROM range(200, 260) r(j)")
    con.execute(f"CREATE TABLE s AS SELECT CAST({expr} AS {type_}) AS x, u FROM base")
    leaked = 0
    for seed in range(2):
        con.register("out", duckdb_synth.run(con, "s", seed=seed, privacy_unit="u", max_rows_per_unit=1).output.table())
        leaked += con.sql("SELECT count(*) FROM out WHERE x IN (SELECT x FROM s GROUP BY x HAVING count(*) < 5)"
                          ).fetchall()[0][0]
    assert leaked == 0
    con.close()


def test_balanced_decimal_rows_the_dense_run_exception_keeps_are_not_searched(monkeypatch):
    """`_off_rare` moved every row left on a rare float, those the dense-run exception keeps as drawn too: on
    DECIMAL(38,37) values one step apart, each one row's, it cast 114 batches of rows through DuckDB for none to move
    (1M rows: 1,536 CPU s; 20,000: 47 -> 3 s). It leaves those rows as `_not_rare` does, and gives a side up once its
    step passes the range's end."""
    from duckdb_synth.engine import decode

    calls = []
    real = decode._as_written
    monkeypatch.setattr(decode, "_as_written", lambda x, col: calls.append(len(x)) or real(x, col))
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT (i * 1e-37)::DECIMAL(38,37) AS d, i % 7 AS g FROM range(3000) r(i)")
    out = duckdb_synth.run(con, "s", seed=0).output.table()
    assert out.num_rows == 3000 and len(calls) < 30, len(calls)
    con.close()


def test_balanced_timestamp_ns_microseconds_counted_over_the_source_rows():
    """The review of 910b868: a TIMESTAMP_NS's whole-second values were counted over the rows a privacy unit's bound
    kept, so one 1-row value the bound dropped, beside 2 kept rows 100 ns past it (one float), was no one's, and draws
    on that float were written as it (96-113 rows a seed). Counted over the source's rows."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT make_timestamp_ns(((i % 300) * 3) * 1000000000) AS x, 'i' || i AS u "
                "FROM range(2100) r(i) UNION ALL SELECT make_timestamp_ns(((j % 60) * 3) * 1000000000), 'a' || j "
                "FROM range(60) r(j), range(5) UNION ALL SELECT make_timestamp_ns((3 * j + 1) * 1000000000), "
                "'a' || (j - 200) FROM range(200, 260) r(j) UNION ALL SELECT make_timestamp_ns((3 * j + 1) * "
                "1000000000 + 100), 'w' || j || '_' || c FROM range(200, 260) r(j), range(2) t(c)")
    con.register("out", duckdb_synth.run(con, "s", seed=0, privacy_unit="u", max_rows_per_unit=1).output.table())
    assert con.sql("SELECT count(*) FROM out WHERE x IN (SELECT x FROM s GROUP BY x HAVING count(*) < 5)"
                   ).fetchall() == [(0,)]
    con.close()


def test_values_only_dropped_rows_hold_join_no_dense_run():
    """The review of 910b868: the values a privacy unit's bound dropped, rare now, joined the kept rows' runs of 40
    one-row values into one run of 2,050, and the dense-run exception let 1,987-1,995 rows a seed out (without a unit
    none). They lengthen no run (``decode._drawn_rare``)."""
    con = duckdb.connect()
    # (r sets the rows apart: without it a unit's 60 equal rows tie with its gap row, kept half the time, and the kept
    # gap rows join the runs: mostly rare runs over the kept rows, the documented exception)
    con.execute("CREATE TABLE s AS SELECT p AS x, CASE WHEN p % 41 = 40 THEN 'b' || (p // 41) ELSE 'p' || p END AS u, "
                "'r' || p AS r FROM range(2050) r(p) UNION ALL SELECT 3000 + (m % 10) * 7, 'b' || m, 'c' || m || '_' || i "
                "FROM range(50) r(m), range(60) t(i)")
    run = duckdb_synth.run(con, "s", seed=0, privacy_unit="u", max_rows_per_unit=1)  # (r: free text, tokens)
    con.register("out", run.output.table())
    assert con.sql("SELECT count(*) FROM out WHERE x IN (SELECT x FROM s GROUP BY x HAVING count(*) < 5)"
                   ).fetchall() == [(0,)]
    con.close()


def test_a_decimal_check_with_no_value_of_its_scale_between_its_ends_says_so():
    """CHECK (d > 0.5000000000000000001 AND d < 0.5000000000000000009) on a DECIMAL(38,18) holds no value of the
    type (its steps are 10^-18); the error said 'min > max' of ends the user wrote in order (the review of e49fb40)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s (d DECIMAL(38,18) CHECK (d > 0.5000000000000000001 AND d < 0.5000000000000000009))")
    with pytest.raises(OptionError, match=r"column 'd': CHECK .* leaves no value of type DECIMAL\(38,18\): the table "
                                          r"can hold only NULLs"):
        duckdb_synth.run(con, "s", seed=0)
    con.close()
