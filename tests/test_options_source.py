"""Tests for the validation stages: options.parse_options, source.parse_source, schema.classify/check_columns."""
from __future__ import annotations

import math
import re

import duckdb
import numpy as np
import pytest

import duckdb_synth
from duckdb_synth.errors import MaskError, OptionError, SchemaError, SourceError, SynthError
from duckdb_synth.options import DEFAULT_DELTA, MAX_ROWS, Options, parse_options
from duckdb_synth.engine.schema import INTEGER_RANGES, Column, check_columns, classify, read_schema
from duckdb_synth.engine.source import Source, open_source, parse_source, quote_ident, quote_literal

from conftest import quiet_run

# ---------------------------------------------------------------- options


def test_defaults_are_balanced() -> None:
    opts = parse_options()
    assert opts == Options(mode="balanced", epsilon=None, delta=0.0)
    assert not opts.private and opts.mask_map == {}


@pytest.mark.parametrize("mode,eps", [("strict", 3.0), ("strictest", 1.0), ("balanced", None), (" STRICT ", 3.0),
                                      ("Strictest", 1.0)])
def test_modes(mode: str, eps: float | None) -> None:
    opts = parse_options(mode=mode)
    assert opts.mode == mode.strip().lower()
    assert opts.epsilon == eps
    assert opts.delta == (DEFAULT_DELTA if eps is not None else 0.0)
    assert opts.private == (eps is not None)


def test_default_delta_is_one_in_a_million() -> None:
    assert DEFAULT_DELTA == 1e-6
    assert parse_options(mode="strict").delta == 1e-6
    assert parse_options(epsilon=2).delta == 1e-6


def test_custom_epsilon_and_delta() -> None:
    opts = parse_options(epsilon=0.5, delta=1e-8, rows=10, seed=0)
    assert (opts.mode, opts.epsilon, opts.delta, opts.rows, opts.seed) == ("custom", 0.5, 1e-8, 10, 0)
    assert parse_options(mode="strictest", delta=0.001).delta == 0.001
    assert parse_options(epsilon=3).epsilon == 3.0
    assert parse_options(rows=5.0).rows == 5 and isinstance(parse_options(rows=5.0).rows, int)
    assert parse_options(rows=MAX_ROWS).rows == MAX_ROWS


def test_mode_and_epsilon_together_raise() -> None:
    with pytest.raises(OptionError, match=r"'strict'.*\(2\).*not both"):
        parse_options(mode="strict", epsilon=2)


@pytest.mark.parametrize("mode,suggestion", [("stict", "strict"), ("strictst", "strictest"), ("balance", "balanced"),
                                             ("Ballanced", "balanced")])
def test_unknown_mode_suggests_the_closest(mode: str, suggestion: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_options(mode=mode)
    msg = str(info.value)
    assert f"unknown mode '{mode}'" in msg
    assert f"(did you mean '{suggestion}'?)" in msg
    assert "balanced, strict, strictest" in msg


def test_unknown_mode_without_a_close_match() -> None:
    with pytest.raises(OptionError) as info:
        parse_options(mode="xyz")
    assert "did you mean" not in str(info.value) and "'xyz'" in str(info.value)


@pytest.mark.parametrize("eps,shown", [(0, "0"), (-1, "-1"), (-0.5, "-0.5"), (math.nan, "nan"), (math.inf, "inf"),
                                       (-math.inf, "-inf"), ("abc", "'abc'"), (True, "True"), ([1], "[1]")])
def test_bad_epsilon(eps: object, shown: str) -> None:
    with pytest.raises(OptionError, match="epsilon") as info:
        parse_options(epsilon=eps)
    assert f"got {shown}" in str(info.value)


@pytest.mark.parametrize("delta,shown", [(0, "0"), (1, "1"), (1.5, "1.5"), (-1e-6, "-1e-06"), (math.nan, "nan"),
                                         ("x", "'x'"), (False, "False")])
def test_bad_delta(delta: object, shown: str) -> None:
    with pytest.raises(OptionError, match="delta") as info:
        parse_options(mode="strict", delta=delta)
    assert f"got {shown}" in str(info.value)


@pytest.mark.parametrize("kwargs", [{}, {"mode": "balanced"}])
def test_delta_in_balanced_mode_raises(kwargs: dict) -> None:
    with pytest.raises(OptionError, match="delta applies to differentially private runs only"):
        parse_options(delta=1e-6, **kwargs)


@pytest.mark.parametrize("rows,pattern", [(0, "between 1 and .* got 0"), (-5, "got -5"), (2.5, "whole number, got 2.5"),
                                          ("10", "whole number, got '10'"), (True, "whole number, got True"),
                                          (MAX_ROWS + 1, f"got {MAX_ROWS + 1}"), (math.inf, "got inf"),
                                          (math.nan, "got nan")])
def test_bad_rows(rows: object, pattern: str) -> None:
    with pytest.raises(OptionError, match="rows") as info:
        parse_options(rows=rows)
    assert __import__("re").search(pattern, str(info.value)), str(info.value)


@pytest.mark.parametrize("seed,pattern", [(-1, ">= 0, got -1"), (1.5, "integer, got 1.5"), ("3", "integer, got '3'"),
                                          (True, "integer, got True"), (2.0, "integer, got 2.0")])
def test_bad_seed(seed: object, pattern: str) -> None:
    with pytest.raises(OptionError, match="seed") as info:
        parse_options(seed=seed)
    assert pattern in str(info.value)


@pytest.mark.parametrize("kwargs", [{"rows": np.int64(10)}, {"seed": np.int64(3)}, {"rows": np.int32(7)}])
def test_numpy_integers_are_whole_numbers(kwargs: dict) -> None:
    opts = parse_options(**kwargs)
    for key, value in kwargs.items():
        assert getattr(opts, key) == int(value) and type(getattr(opts, key)) is int


def test_masks() -> None:
    assert parse_options(masks={"email": " Email "}).masks == (("email", "email"),)
    assert parse_options(masks='{"a": "name", "b": "phone"}').mask_map == {"a": "name", "b": "phone"}
    assert parse_options(masks={}).masks == ()


@pytest.mark.parametrize("masks,shown", [(["email"], "['email']"), ("not json", "'not json'"), ('["a"]', "['a']"),
                                         ("42", "42"), (7, "7")])
def test_masks_not_a_mapping(masks: object, shown: str) -> None:
    with pytest.raises(OptionError, match="masks must map column names to kinds") as info:
        parse_options(masks=masks)
    assert f"got {shown}" in str(info.value)


def test_mask_kind_not_a_string() -> None:
    with pytest.raises(OptionError, match="the mask of column 'email' must be a kind name"):
        parse_options(masks={"email": 3})


def test_option_errors_are_synth_errors() -> None:
    assert issubclass(OptionError, SynthError) and issubclass(MaskError, OptionError)


# ---------------------------------------------------------------- source


@pytest.mark.parametrize("text,sql", [
    ("t", 'SELECT * FROM "t"'),
    ("  patients  ", 'SELECT * FROM "patients"'),
    ("main.t", 'SELECT * FROM "main"."t"'),
    ("db.main.t", 'SELECT * FROM "db"."main"."t"'),
    ('"my table"', 'SELECT * FROM "my table"'),
    ('"my schema"."My Table"', 'SELECT * FROM "my schema"."My Table"'),
    ('"a""b"', 'SELECT * FROM "a""b"'),
])
def test_table_names(text: str, sql: str) -> None:
    src = parse_source(text)
    assert (src.kind, src.sql) == ("table", sql)
    assert src.label == text.strip()
    assert src.sql == "SELECT * FROM " + ".".join(quote_ident(p) for p in src.parts)


def test_unquoted_table_name_with_a_space() -> None:
    src = parse_source("my table")
    assert (src.kind, src.sql, src.parts) == ("table", 'SELECT * FROM "my table"', ("my table",))


@pytest.mark.parametrize("text", [
    "SELECT 1", "select a, b from t where a > 1", "WITH x AS (SELECT 1 AS a) SELECT * FROM x", "FROM t",
    "SELECT 1 UNION SELECT 2", "SELECT 1 UNION ALL SELECT 2", "SELECT 1 EXCEPT SELECT 2", "VALUES (1), (2)",
    "(SELECT 1)", "SELECT * FROM read_parquet('x.parquet')", "FROM 'data.csv'",
])
def test_queries_are_accepted(text: str) -> None:
    src = parse_source(text)
    assert src.kind == "query" and src.sql == text and src.label == "query"


def test_query_trailing_semicolon_is_dropped() -> None:
    assert parse_source("SELECT 1;  ").sql == "SELECT 1"


@pytest.mark.parametrize("text,sql", [
    ("SELECT x FROM t WHERE x > 0 -- positive only", "SELECT x FROM t WHERE x > 0"),
    ("SELECT x FROM t; -- done\n", "SELECT x FROM t"),
    ("SELECT x /* the x */ FROM t /* end */", "SELECT x /* the x */ FROM t"),
    ("SELECT x -- the x\nFROM t WHERE s <> '--not a comment'", "SELECT x -- the x\nFROM t WHERE s <> '--not a comment'"),
])
def test_trailing_comments_are_dropped_and_the_query_runs(text: str, sql: str) -> None:
    """A query ending in a -- comment was read inside parentheses that the comment hid: refused."""
    assert parse_source(text).sql == sql
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT i % 10 AS x, 'a' AS s FROM range(200) r(i)")
    out = duckdb_synth.run(con, text, seed=0).output.table()
    assert out.column_names == ["x"] and out.num_rows > 0
    con.close()


@pytest.mark.parametrize("text,kind", [
    ("DROP TABLE t", "DROP"), ("INSERT INTO t VALUES (1)", "INSERT"), ("INSERT INTO t SELECT 1", "INSERT"),
    ("UPDATE t SET a = 1", "UPDATE"), ("DELETE FROM t", "DELETE"), ("CREATE TABLE t (a INTEGER)", "CREATE"),
    ("CREATE TABLE a AS SELECT 1", "CREATE"), ("PRAGMA version", "PRAGMA"), ("ATTACH 'x.db'", "ATTACH"),
    ("COPY t TO 'x.csv'", "COPY"), ("SET threads = 1", "SET"), ("CALL pragma_version()", "CALL"),
    ("ALTER TABLE t ADD COLUMN b INTEGER", "ALTER"), ("DETACH x", "DETACH"), ("INSTALL httpfs", "INSTALL"),
    ("LOAD httpfs", "LOAD"), ("EXPLAIN SELECT 1", "EXPLAIN"),
])
def test_statements_are_refused_by_kind(text: str, kind: str) -> None:
    with pytest.raises(SourceError) as info:
        parse_source(text)
    msg = str(info.value)
    assert f"{kind} statements are refused" in msg
    assert text in msg


@pytest.mark.parametrize("text,count", [("SELECT 1; SELECT 2", 2), ("SELECT 1; DROP TABLE t", 2),
                                        ("SELECT 1; SELECT 2; SELECT 3", 3)])
def test_multiple_statements_are_refused(text: str, count: int) -> None:
    with pytest.raises(SourceError, match=f"one read-only query, got {count} statements"):
        parse_source(text)


def test_a_write_inside_a_query_is_refused() -> None:
    with pytest.raises(SourceError, match="contains a DELETE statement"):
        parse_source("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x")


def test_a_pivot_on_values_read_from_the_data_is_refused(tmp_path) -> None:
    """The review of 12d66b3: DuckDB binds `PIVOT t ON c` by reading c's distinct values and naming a column after
    each, so a value one row held showed in the copy's columns, the spend record and the refusals, at no cost. A
    PIVOT listing its values runs; nothing is read, spent or written for the refused ones, in Python or SQL."""
    db = str(tmp_path / "p.duckdb")
    con = duckdb.connect(db)
    con.execute("CREATE TABLE t AS SELECT i AS id, CASE WHEN i = 7 THEN 'ZQXJ-77' ELSE ['a', 'b'][1 + i % 2] END "
                "AS diagnosis, (i % 50)::DOUBLE AS x FROM range(600) r(i)")
    duckdb_synth.register(con)
    for q in ("SELECT * FROM (PIVOT t ON diagnosis USING first(x) GROUP BY id)",
              "SELECT * FROM (PIVOT t ON diagnosis || '' USING first(x) GROUP BY id)",
              "SELECT * FROM (PIVOT t ON diagnosis IN ('a'), id USING first(x))",
              "WITH p AS (PIVOT t ON diagnosis USING first(x) GROUP BY id) SELECT * FROM p",
              # (on an expression, DuckDB pivots on the boolean the whole makes: a 'true' column where a row holds the
              # value; the review of 48d815d)
              "WITH p AS (PIVOT t ON diagnosis || '' IN ('a') USING count(*) GROUP BY x) SELECT * FROM p",
              "SELECT * FROM (PIVOT t ON NOT diagnosis IN ('a') USING count(*) GROUP BY x)"):
        with pytest.raises(SourceError, match="without a list of its values") as info:
            quiet_run(con, q, epsilon=1.0, ledger=True)
        assert "ZQXJ" not in str(info.value)
        with pytest.raises(duckdb.Error, match="without a list of its values"):
            con.execute(f"SELECT * FROM synthesize({quote_literal(q)}, epsilon := 1)").fetchall()
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'duckdb_synth'").fetchall() == [(0,)]
    static = "SELECT * FROM (PIVOT t ON diagnosis IN ('a', 'b') USING first(x) GROUP BY id)"
    assert quiet_run(con, static, epsilon=1.0, seed=0).table.column_names == ["id", "a", "b"]
    unpivot = "SELECT * FROM (UNPIVOT (SELECT id, x, x + 1 AS y FROM t) ON x, y INTO NAME k VALUE v)"
    assert quiet_run(con, unpivot, epsilon=1.0, seed=0).table.column_names == ["id", "k", "v"]
    con.close()


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_source(text: object) -> None:
    with pytest.raises(SourceError, match="the source is empty"):
        parse_source(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [None, 5, ["t"]])
def test_a_source_that_is_not_text(text: object) -> None:
    """The review of 12d66b3: run(con, 5) said the source was empty."""
    with pytest.raises(SourceError, match=re.escape(f"the source must be text: a table or view name, a read-only "
                                                    f"query, or a .parquet/.csv/.json path; got {text!r}")):
        parse_source(text)  # type: ignore[arg-type]


def test_unparseable_source() -> None:
    with pytest.raises(SourceError, match="cannot parse"):
        parse_source("SELECT (((")


@pytest.mark.parametrize("text,reader", [
    ("data.parquet", "read_parquet"), ("data/X.PARQUET", "read_parquet"), ("d.pq", "read_parquet"),
    ("a b.csv", "read_csv"), ("x.CSV", "read_csv"), ("x.tsv", "read_csv"), ("x.csv.gz", "read_csv"),
    ("f.json", "read_json"), ("f.JSONL", "read_json"), ("f.ndjson", "read_json"), ("f.json.gz", "read_json"),
    ("s3://bucket/part-*.parquet", "read_parquet"), ("it's.csv", "read_csv"),
])
def test_file_paths_by_extension(text: str, reader: str) -> None:
    src = parse_source(text)
    assert src.kind == "file"
    assert src.sql == f"SELECT * FROM {reader}({quote_literal(text)})"
    assert src.label == text


@pytest.mark.parametrize("text", ["from.parquet", "select.csv", "with.json"])
def test_file_named_like_a_keyword(text: str) -> None:
    assert parse_source(text).kind == "file"


def test_quoting() -> None:
    assert quote_ident('a"b') == '"a""b"'
    assert quote_literal("it's") == "'it''s'"


def test_table_and_file_sql_run_in_duckdb(tmp_path) -> None:
    con = duckdb.connect()
    con.sql('CREATE SCHEMA "my schema"; CREATE TABLE "my schema"."My Table" AS SELECT 1 AS a')
    assert con.sql(parse_source('"my schema"."My Table"').sql).fetchall() == [(1,)]
    path = tmp_path / "it's here.CSV"
    con.sql(f"COPY (SELECT 2 AS b) TO {quote_literal(str(path))} (HEADER)")
    assert con.sql(parse_source(str(path)).sql).fetchall() == [(2,)]


# ---------------------------------------------------------------- schema

NUMERIC_INTS = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
                "UHUGEINT"]


@pytest.mark.parametrize("type_", NUMERIC_INTS)
def test_classify_integers(type_: str) -> None:
    col = classify("x", type_)
    assert (col.kind, col.integer, col.scale) == ("numeric", True, None)
    bits = {"TINY": 8, "SMALL": 16, "INTEGER": 32, "BIG": 64, "HUGE": 128}
    width = next(v for k, v in bits.items() if k in type_)
    lo, hi = col.type_range
    if type_.startswith("U"):
        assert (lo, hi) == (0, 2**width - 1)
    else:
        assert (lo, hi) == (-(2 ** (width - 1)), 2 ** (width - 1) - 1)
    assert col.is_numeric


@pytest.mark.parametrize("type_,kind,integer,scale,type_range", [
    ("BOOLEAN", "boolean", False, None, None),
    ("FLOAT", "numeric", False, None, None),
    ("DOUBLE", "numeric", False, None, None),
    ("DECIMAL(10,2)", "numeric", False, 2, (-99_999_999.99, 99_999_999.99)),
    ("DECIMAL(18,0)", "numeric", True, 0, (-(1e18 - 1), 1e18 - 1)),
    ("decimal(4, 3)", "numeric", False, 3, (-9.999, 9.999)),
    ("VARCHAR", "categorical", False, None, None),
    ("UUID", "categorical", False, None, None),
    ("DATE", "temporal", True, None, None),
    ("TIME", "temporal", True, None, (0.0, 86_400_000_000.0)),
    ("TIMESTAMP", "temporal", True, None, None),
    ("TIMESTAMP WITH TIME ZONE", "temporal", True, None, None),
    ("TIMESTAMP_S", "temporal", True, None, None),
    ("TIMESTAMP_MS", "temporal", True, None, None),
    ("TIMESTAMP_NS", "temporal", True, None, None),
])
def test_classify_supported(type_: str, kind: str, integer: bool, scale: int | None, type_range) -> None:
    col = classify("x", type_, nullable=False)
    assert (col.kind, col.integer, col.scale) == (kind, integer, scale)
    assert col.type_range == (pytest.approx(type_range, rel=1e-12) if type_range else None)
    assert col.type == type_ and not col.nullable


@pytest.mark.parametrize("type_,members", [
    ("ENUM('a', 'b''c')", ("a", "b'c")),
    ("ENUM('x')", ("x",)),
    ("ENUM('', 'two words', 'comma, inside', 'paren)')", ("", "two words", "comma, inside", "paren)")),
    ("ENUM('''')", ("'",)),
])
def test_classify_enum(type_: str, members: tuple[str, ...]) -> None:
    col = classify("e", type_)
    assert col.kind == "enum"
    assert col.enum_values == members


@pytest.mark.parametrize("type_", ["BLOB", "INTEGER[]", "INTEGER[3]", "STRUCT(a INTEGER)", "MAP(VARCHAR, INTEGER)",
                                   "INTERVAL", "TIME WITH TIME ZONE", "BIT", "UNION(a INTEGER, b VARCHAR)"])
def test_classify_unsupported(type_: str) -> None:
    assert classify("x", type_).kind == "unsupported"


def test_read_schema_classifies_real_duckdb_types() -> None:
    con = duckdb.connect()
    con.sql("CREATE TYPE mood AS ENUM ('sad', 'it''s ok', 'happy')")
    con.sql("""CREATE TABLE t (b BOOLEAN, i TINYINT NOT NULL, u UBIGINT, h HUGEINT, f FLOAT, d DOUBLE,
               dec DECIMAL(10,2), v VARCHAR, id UUID, dt DATE, tm TIME, ts TIMESTAMP, tz TIMESTAMPTZ, m mood,
               bl BLOB, arr INTEGER[], st STRUCT(a INTEGER), mp MAP(VARCHAR, INTEGER), iv INTERVAL)""")
    cols = {c.name: c for c in read_schema(con, "SELECT * FROM t")}
    kinds = {name: c.kind for name, c in cols.items()}
    assert kinds == {"b": "boolean", "i": "numeric", "u": "numeric", "h": "numeric", "f": "numeric", "d": "numeric",
                     "dec": "numeric", "v": "categorical", "id": "categorical", "dt": "temporal", "tm": "temporal",
                     "ts": "temporal", "tz": "temporal", "m": "enum", "bl": "unsupported", "arr": "unsupported",
                     "st": "unsupported", "mp": "unsupported", "iv": "unsupported"}
    assert cols["m"].enum_values == ("sad", "it's ok", "happy")
    assert not cols["i"].nullable and cols["u"].nullable
    assert cols["dec"].scale == 2
    assert cols["u"].type_range == INTEGER_RANGES["UBIGINT"]


def cols(*specs: tuple[str, str]) -> list[Column]:
    return [classify(n, t) for n, t in specs]


def test_check_columns_accepts_supported_and_masked() -> None:
    check_columns(cols(("a", "INTEGER"), ("b", "VARCHAR")), {})
    check_columns(cols(("a", "INTEGER"), ("blob", "BLOB")), {"blob": "string"})


def test_check_columns_lists_unsupported_columns() -> None:
    with pytest.raises(SchemaError) as info:
        check_columns(cols(("a", "INTEGER"), ("tags", "VARCHAR[]"), ("raw", "BLOB")), {})
    msg = str(info.value)
    assert "columns 'tags' (VARCHAR[]), 'raw' (BLOB)" in msg
    assert "'a'" not in msg
    assert "masks := {'tags': 'string'}" in msg and "leave them out" in msg
    with pytest.raises(SchemaError, match=r"column 'raw' \(BLOB\).*leave it out"):
        check_columns(cols(("a", "INTEGER"), ("raw", "BLOB")), {})


def test_check_columns_mask_on_missing_column_suggests_closest() -> None:
    with pytest.raises(MaskError) as info:
        check_columns(cols(("email", "VARCHAR"), ("name", "VARCHAR")), {"emial": "email"})
    msg = str(info.value)
    assert "mask on column 'emial', which the source does not have (did you mean 'email'?)" in msg
    assert "columns: email, name" in msg
    with pytest.raises(MaskError) as info:
        check_columns(cols(("email", "VARCHAR")), {"zzz": "email"})
    assert "did you mean" not in str(info.value)


def test_source_dataclass_label() -> None:
    assert Source("query", "SELECT 1", "SELECT 1").label == "query"
    assert Source("file", "x.csv", "...").label == "x.csv"


def test_delta_above_a_sane_bound_is_refused() -> None:
    with pytest.raises(OptionError, match=r"delta := 0.5 is too large.*at most 0.001.*raise epsilon"):
        parse_options(epsilon=1.0, delta=0.5)
    assert parse_options(epsilon=1.0, delta=1e-3).delta == 1e-3


def test_an_epsilon_too_small_to_release_anything_and_the_least_delta_are_refused(tmp_path) -> None:
    """The review of 12d66b3: epsilon 1e-6 (or epsilon 1 over max_rows_per_unit 1,000,000) asked gigabytes for the
    noise's exact pmf and was killed after the row count was charged; delta 5e-324 failed in log(1 / delta). Both
    are refused with the options, before anything is read or written."""
    with pytest.raises(OptionError, match=r"epsilon 1e-06 is too small to release anything.*at least 0.001 a row"):
        parse_options(epsilon=1e-6)
    with pytest.raises(OptionError, match=r"max_rows_per_unit := 10000, each row's is epsilon / 10000 = 0.0001.*"
                                          r"lower max_rows_per_unit"):
        parse_options(epsilon=1.0, privacy_unit="p", max_rows_per_unit=10_000)
    with pytest.raises(OptionError, match=r"delta := 5e-324 is too small: use at least 1e-300"):
        parse_options(epsilon=1.0, delta=5e-324)
    assert parse_options(epsilon=1e-3).epsilon == 1e-3
    assert parse_options(epsilon=3.0, privacy_unit="p", max_rows_per_unit=3000).max_rows_per_unit == 3000
    assert parse_options(epsilon=1.0, delta=1e-300).delta == 1e-300
    import duckdb

    con = duckdb.connect(str(tmp_path / "e.duckdb"))
    con.execute("CREATE TABLE t AS SELECT i % 7 AS a FROM range(500) r(i)")
    with pytest.raises(OptionError, match="too small to release anything"):
        duckdb_synth.run(con, "t", epsilon=1e-6)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'duckdb_synth'").fetchall() == [(0,)]
    con.close()


def test_delta_warning_does_not_come_and_go_with_the_noise(caplog) -> None:
    import duckdb

    import duckdb_synth
    con = duckdb.connect()
    # 1,100 rows: noisy counts on both sides of 1,000 (sigma ~ 70 at epsilon 0.05), one order of magnitude
    con.execute("CREATE TABLE t AS SELECT (i % 7)::VARCHAR AS a FROM range(1100) r(i)")
    for delta, warned in ((1e-3, True), (1e-4, False)):
        seen = []
        for seed in range(4):
            caplog.clear()
            with caplog.at_level("WARNING", logger="duckdb_synth.privacy.measure"):
                duckdb_synth.run(con, "t", epsilon=0.05, delta=delta, seed=seed, ledger=False)
            seen.append(any("not below 1/n for a table of about 1,000 rows" in r.message for r in caplog.records))
        assert seen == [warned] * 4
    con.close()


@pytest.mark.parametrize("query, table", [
    ("SELECT * EXCLUDE (tags) FROM t WHERE a > 1", ("t",)), ("SELECT a, b AS b FROM main.t LIMIT 10", ("main", "t")),
    ("(SELECT * FROM t)", ("t",)), ("FROM t", ("t",)), ("SELECT * FROM t USING SAMPLE 10%", ("t",)),
    ("SELECT a, b AS c FROM t", ()), ("SELECT * REPLACE (a + 1 AS a) FROM t", ()), ("SELECT * RENAME (a AS z) FROM t", ()),
    ("SELECT *, a + 1 AS z FROM t", ()), ("SELECT * FROM t JOIN u USING (k)", ()), ("SELECT * FROM t, u", ()),
    ("SELECT * FROM t UNION ALL SELECT * FROM t", ()), ("WITH x AS (SELECT 1) SELECT * FROM t", ()),
    ("SELECT a FROM t GROUP BY a", ()), ("SELECT count(*) AS a FROM t", ()), ("SELECT * FROM (SELECT * FROM t)", ()),
    ("SELECT * FROM range(10)", ()), ("SELECT row_number() OVER () AS a FROM t", ()),
    ("SELECT * EXCLUDE (s) FROM t AS u(b, a)", ()), ("SELECT s.a FROM t", ()), ("SELECT s.* FROM t", ()),
    ("SELECT id, k, v FROM t UNPIVOT (v FOR k IN (a, b))", ()), ("SELECT u.a FROM t AS u", ("t",)),
    ("SELECT T.a FROM t", ("t",))])
def test_plain_table_of_a_query(query: str, table: tuple) -> None:
    """A query keeping a table's columns as they are, on some of its rows, is constrained by that table; any other
    is not (``source.plain_table``)."""
    assert parse_source(query).rows_of == table


def test_a_query_of_one_tables_columns_keeps_its_constraints() -> None:
    """Leaving a column of a type we cannot synthesize out of the query (the advice the run gives) had lost the
    table's constraints: a PRIMARY KEY came out with 3,952 values for 5,041 rows, 599 rows broke CHECK (shipped >=
    placed), and a generated total broke its expression in 5,039. A query keeping columns of one table as they are
    keeps its keys, NOT NULL, CHECKs and generated columns, those over the columns it keeps."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, placed DATE NOT NULL, shipped DATE, qty INTEGER CHECK (qty > 0), "
                "price DECIMAL(8, 2), total DECIMAL(12, 2) GENERATED ALWAYS AS (qty * price), dur INTERVAL, "
                "CHECK (shipped >= placed), CHECK (dur >= INTERVAL 0 MINUTE))")
    con.execute("INSERT INTO t (id, placed, shipped, qty, price, dur) SELECT i, DATE '2024-01-01' + (i % 300)::INTEGER, "
                "DATE '2024-01-01' + (i % 300 + i % 20)::INTEGER, 1 + i % 5, 5 + (i * 13 % 900) / 100, INTERVAL (i) MINUTE "
                "FROM range(3000) r(i)")
    for query in ("SELECT * EXCLUDE (dur) FROM t", "SELECT id, placed, shipped, qty, price, total FROM t WHERE qty > 1"):
        res = quiet_run(con, query, mode="strict", seed=0)
        con.register("s", res.table)
        assert con.execute("SELECT count(*) - count(DISTINCT id), count(*) FILTER (WHERE shipped < placed OR qty <= 0 "
                           "OR placed IS NULL OR total IS DISTINCT FROM qty * price) FROM s").fetchall() == [(0, 0)]
    con.close()


def test_a_querys_table_is_the_one_base_table_its_name_can_mean() -> None:
    """The review of 7f04d03: constraints were read by the table's name alone, so a view `v` beside a table `other.v`, or
    a TEMP table over `main.t`, took the other table's CHECK (every value moved to its bound), and `T` missed `t`'s.
    A query's table is the one base table its name can mean, ignoring case; none where it is a view or several."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a INTEGER CHECK (a BETWEEN 0 AND 10))")
    con.execute("CREATE SCHEMA other")
    con.execute("CREATE TABLE other.v (x INTEGER NOT NULL CHECK (x BETWEEN 0 AND 10))")
    con.execute("CREATE VIEW v AS SELECT 1000 + i AS x FROM range(100) r(i)")
    got = {q: open_source(con, q, private=False, in_sql=False).rows_of
           for q in ("SELECT * FROM t", "SELECT * FROM T", "SELECT * FROM main.t", "SELECT * FROM v")}
    assert got == {"SELECT * FROM t": ("memory", "main", "t"), "SELECT * FROM T": ("memory", "main", "t"),
                   "SELECT * FROM main.t": ("memory", "main", "t"), "SELECT * FROM v": ()}
    assert open_source(con, "T", private=False, in_sql=False).rows_of == ("memory", "main", "t")  # (a table too)
    con.execute("CREATE TEMP TABLE t (a INTEGER)")
    assert open_source(con, "SELECT * FROM t", private=False, in_sql=False).rows_of == ()
    assert open_source(con, "t", private=False, in_sql=False).rows_of == ()  # (its constraints had been both's)
    con.close()


def test_a_foreign_key_is_said(caplog) -> None:
    """A FOREIGN KEY's columns come out synthetic, not read from the table referenced: the run says so (it said nothing),
    and not for a query leaving the column out."""
    con = duckdb.connect()
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR)")
    con.execute("INSERT INTO customers SELECT i, 'c' || i FROM range(100) r(i)")
    con.execute("CREATE TABLE orders (oid INTEGER PRIMARY KEY, cust INTEGER REFERENCES customers(id), amount DOUBLE)")
    con.execute("INSERT INTO orders SELECT i, i % 100, i * 1.5 FROM range(500) r(i)")
    quiet_run(con, "orders", mode="balanced", seed=0)
    assert "the FOREIGN KEY (cust) references customers" in caplog.text
    caplog.clear()
    quiet_run(con, "SELECT oid, amount FROM orders", mode="balanced", seed=0)
    assert "FOREIGN KEY" not in caplog.text
    con.close()


def test_an_attached_databases_table_keeps_its_constraints(tmp_path) -> None:
    """`prod.customers` of a database ATTACHed as prod was read as schema prod, table customers, found none, and its
    PRIMARY KEY and CHECK were left out; a name of two parts is schema.table or, as DuckDB reads it too, an attached
    database's table in its main schema."""
    path = str(tmp_path / "prod.duckdb")
    prod = duckdb.connect(path)
    prod.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, a INTEGER CHECK (a BETWEEN 0 AND 10))")
    prod.execute("INSERT INTO customers SELECT i, i % 11 FROM range(500) r(i)")
    prod.close()
    con = duckdb.connect()
    con.execute(f"ATTACH {quote_literal(path)} AS prod")
    for source in ("prod.customers", "SELECT * FROM prod.customers"):
        assert open_source(con, source, private=False, in_sql=False).rows_of == ("prod", "main", "customers")
    con.register("s", quiet_run(con, "prod.customers", mode="strict", seed=0).table)
    assert con.execute("SELECT count(*) - count(DISTINCT id), max(a) <= 10 FROM s").fetchall() == [(0, True)]
    con.close()


def test_a_table_whose_name_holds_a_dot_is_named_in_the_hint_quoted() -> None:
    """The review of 12d66b3: the source 'ta.ble', with a table "ta.ble" there, was refused with "(did you mean
    'ta.ble'?)", the very text given."""
    import duckdb

    con = duckdb.connect()
    con.execute('CREATE TABLE "ta.ble" AS SELECT i % 3 AS a FROM range(100) r(i)')
    with pytest.raises(SourceError, match=re.escape("no table or view named ta.ble; a table named ta.ble is there, but "
                                                    "a name with a dot is read as schema.table: quote it, "
                                                    "'\"ta.ble\"'")):
        quiet_run(con, "ta.ble", seed=1)
    assert quiet_run(con, '"ta.ble"', seed=1).num_rows == 100
