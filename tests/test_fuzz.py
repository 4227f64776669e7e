"""Fuzzing, bounded in time: random source strings and random tables.

Whatever the input, a run either succeeds or raises a SynthError (never another exception,
never a numpy warning), leaves the database and the working folder as they were, and an
output has the source's columns and types. The generators are seeded, so a failure here
reproduces; ``FUZZ_ROUNDS=10 pytest tests/test_fuzz.py`` runs ten times as many cases.
"""
from __future__ import annotations

import os
import warnings

import duckdb
import numpy as np
import pytest

import duckdb_synth
from duckdb_synth.errors import SynthError

ROUNDS = int(os.environ.get("FUZZ_ROUNDS", "1"))

FRAGMENTS = [
    "SELECT", "*", "FROM", "t", "u", "WHERE", "a", "b", ">", "1", "'x'", "\"t\"", "(", ")", ",", ";", "--", "/*", "*/",
    "JOIN", "USING", "(a)", "UNION", "ALL", "WITH", "c", "AS", "LIMIT", "0", "ORDER BY", "GROUP BY", "count(*)",
    "nextval('s')", "setval('s', 1)", "read_text('f.txt')", "glob('*')", "range(3)", "'f.csv'", "f.parquet",
    "DROP TABLE t", "INSERT INTO t VALUES (1)", "COPY t TO 'o.csv'", "ATTACH 'x.db'", "PRAGMA version",
    "getenv('HOME')", "enable_logging()", "synthesize('t')", "random()", "unnest([1,2])", "CAST(a AS INT)",
    "é", "\x00", "𝛆", "\\", "'", "\"", "$$", "NULL", "https://example.com/x.parquet", "s3://b/k.parquet",
    "x" * 300, "SELECT 1", "VALUES (1)", "FROM t", "t.*", "main.t", "memory.main.t", "?", "$1", "::", "[]", "{}",
]


@pytest.fixture
def fuzz_con(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a file written by mistake would land here
    con = duckdb.connect()
    duckdb_synth.register(con)
    con.execute("CREATE SEQUENCE s START 100")
    con.execute("CREATE TABLE t AS SELECT (i % 7)::VARCHAR AS a, i % 13 AS b, i * 0.5 AS c FROM range(120) r(i)")
    con.execute("CREATE TABLE u AS SELECT (i % 5)::VARCHAR AS a, i AS d FROM range(60) r(i)")
    (tmp_path / "f.txt").write_text("a secret")
    yield con
    con.close()


def _state(con: duckdb.DuckDBPyConnection) -> tuple:
    # The ledger (schema duckdb_synth) records every run: the user's tables must not change.
    tables = con.sql("SELECT table_name, estimated_size FROM duckdb_tables() WHERE schema_name <> 'duckdb_synth' "
                     "ORDER BY 1").fetchall()
    sums = con.sql("SELECT count(*), sum(b), sum(c) FROM t").fetchall() + con.sql("SELECT sum(d) FROM u").fetchall()
    dbs = con.sql("SELECT database_name FROM duckdb_databases() ORDER BY 1").fetchall()
    return tables, sums, dbs


def _run(call):
    """Run `call`; a SynthError is an answer, anything else (a warning included) a failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            return call()
        except SynthError:
            return None


def test_random_source_strings(fuzz_con, tmp_path):
    rng = np.random.default_rng(20261202)
    before, files = _state(fuzz_con), sorted(p.name for p in tmp_path.iterdir())
    for case in range(150 * ROUNDS):
        text = " ".join(rng.choice(FRAGMENTS, rng.integers(1, 9)))
        if rng.random() < 0.3:
            text = "SELECT * FROM t" if rng.random() < 0.5 else text.replace(" ", "")
        mode = ["balanced", "strict"][case % 2]
        res = _run(lambda: duckdb_synth.run(fuzz_con, text, mode=mode, seed=case))
        if res is not None:
            assert res.table.num_rows > 0, text
        assert _state(fuzz_con) == before, text
        assert sorted(p.name for p in tmp_path.iterdir()) == files, text
        nxt = fuzz_con.sql("SELECT nextval('s')").fetchall()[0][0]  # never rewound, never advanced
        assert nxt == 100 + case, (text, nxt)
        # SQL too, where the source travels through the macro's text arguments.
        literal = text.replace("'", "''")
        try:
            fuzz_con.sql(f"SELECT count(*) FROM synthesize('{literal}', seed := {case})").fetchall()
        except duckdb.InvalidInputException as exc:
            assert "Error: " in str(exc) and "Traceback" not in str(exc), (text, str(exc)[:300])
        except (duckdb.ParserException, duckdb.BinderException):
            pass  # the query around the call did not parse or bind: DuckDB's own error, about our literal
        assert _state(fuzz_con) == before, text


TYPES = [
    ("BOOLEAN", "(i % 3 = 0)"), ("TINYINT", "((i * 37) % 250 - 125)::TINYINT"),
    ("SMALLINT", "((i * 7919) % 60000 - 30000)::SMALLINT"), ("INTEGER", "(i * 104729 % 2000000000)::INTEGER"),
    ("BIGINT", "(i * 1000000007)::BIGINT"), ("UBIGINT", "(18446744073709551615 - i)::UBIGINT"),
    ("HUGEINT", "(i::HUGEINT * 100000000000000000000000)"), ("UTINYINT", "(i % 256)::UTINYINT"),
    ("FLOAT", "(i * 0.25)::FLOAT"), ("DOUBLE", "CASE WHEN i % 17 = 0 THEN 'nan'::DOUBLE WHEN i % 19 = 0 THEN "
                                              "'inf'::DOUBLE ELSE i * 1e10 END"),
    ("DECIMAL(38,10)", "(i * 12345.6789012345)::DECIMAL(38,10)"), ("DECIMAL(4,2)", "((i % 199) / 10.0)::DECIMAL(4,2)"),
    ("VARCHAR", "CASE WHEN i % 4 = 0 THEN 'x' || (i % 3) ELSE md5(i::VARCHAR) END"), ("VARCHAR", "'same'"),
    ("DATE", "DATE '1970-01-01' + (i * 97)::INTEGER"), ("TIMESTAMP", "TIMESTAMP '2000-01-01' + to_seconds(i * 3607)"),
    ("TIME", "TIME '00:00:00' + to_seconds(i * 61)"), ("UUID", "gen_random_uuid()"),
    ("ENUM('lo','mid','hi')", "(['lo','mid','hi'])[1 + i % 3]::ENUM('lo','mid','hi')"),
    ("DOUBLE", "NULL::DOUBLE"), ("INTEGER", "2147483647"),
]


def test_random_tables(tmp_path):
    rng = np.random.default_rng(7)
    for case in range(30 * ROUNDS):
        con = duckdb.connect()
        try:
            n = int(rng.choice([0, 1, 49, 50, 60, 200, 400]))
            picked = [TYPES[k] for k in rng.choice(len(TYPES), rng.integers(1, 6), replace=False)]
            exprs = []
            for k, (type_, expr) in enumerate(picked):
                nulls = rng.choice([0.0, 0.1, 0.9])
                exprs.append(f"CASE WHEN hash(i, {k}) % 100 < {int(nulls * 100)} THEN NULL ELSE {expr} END "
                             f"::{type_} AS c{k}")
            con.execute(f"CREATE TABLE x AS SELECT {', '.join(exprs)} FROM range({n}) r(i)")
            types = [r[1] for r in con.sql("DESCRIBE x").fetchall()]
            for mode in ("balanced", "strict"):
                res = _run(lambda: duckdb_synth.run(con, "x", mode=mode, seed=case))
                if res is None:
                    continue
                rel = res.relation(con)
                assert rel.columns == [f"c{k}" for k in range(len(picked))], (case, picked)
                assert [str(t) for t in rel.types] == types, (case, picked, rel.types)
                assert len(rel.fetchall()) == res.table.num_rows > 0
        finally:
            con.close()
