"""Shared fixtures for the end-to-end tests: a deterministic 'patients' table and helpers.

The 'patients' table (400 rows, built with numpy from a fixed seed) has the
column kinds a real table has: VARCHAR categories (one value held by 2 rows,
one held by 1 row), integer ages, a DOUBLE with NULLs, DECIMAL amounts, DATEs,
TIMESTAMPs, BOOLEANs, and a unique e-mail per row with one planted value that
must never come out of any run.
"""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import itertools
import re
from collections.abc import Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import duckdb_synth

N_PATIENTS = 400
PLANTED_EMAIL = "planted.secret@victim.example"
RARE_PAIR = "RARE_PAIR_DX"  # held by exactly 2 rows of patients.dx
RARE_SOLO = "RARE_SOLO_DX"  # held by exactly 1 row of patients.dx
DX_COMMON = ("flu", "cold", "asthma", "diabetes", "fracture")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")


FIRST = ("test_spark.py", "test_fuzz.py", "test_sql_e2e.py")  # the files that take longest, longest first


def pytest_collection_modifyitems(config, items) -> None:
    """The longest files first (their order within kept): in two workers (pyproject's ``-n auto --dist
    loadfile``, a file to a worker) the Spark file started last ran alone for minutes at the end."""
    items.sort(key=lambda item: FIRST.index(item.path.name) if item.path.name in FIRST else len(FIRST))


@pytest.fixture(autouse=True)
def _reproducible_unseeded_runs(request, monkeypatch) -> None:
    """A run without a seed takes its two streams from OS entropy; under test it takes them from a
    sequence fixed by the test's name (each run still its own streams, noise apart from output), so
    that a test neither passes nor fails by the luck of the draw and a failure repeats. The run is
    still unseeded in every other respect (its warnings, its record). Runs in a child process are not
    covered."""
    import duckdb_synth.pipeline as pipeline

    entropy = int.from_bytes(hashlib.sha256(request.node.nodeid.encode()).digest()[:8], "little")
    count = itertools.count()
    real = pipeline.streams

    def streams(seed):
        if seed is not None:
            return real(seed)
        noise_seq, out_seq = np.random.SeedSequence(entropy, spawn_key=(next(count),)).spawn(2)
        return np.random.default_rng(noise_seq), np.random.default_rng(out_seq)

    monkeypatch.setattr(pipeline, "streams", streams)


def make_patients(n: int = N_PATIENTS, seed: int = 0) -> pa.Table:
    """A deterministic patients-like table (see the module docstring)."""
    rng = np.random.default_rng(seed)
    dx = rng.choice(DX_COMMON, n, p=[0.3, 0.25, 0.2, 0.15, 0.1]).astype(object)
    dx[10] = dx[200] = RARE_PAIR
    dx[300] = RARE_SOLO
    weight = rng.normal(75.0, 12.0, n).round(1)
    amounts = [decimal.Decimal(f"{x:.2f}") for x in rng.gamma(2.0, 150.0, n)]
    first_visit = dt.date(2020, 1, 1)
    visits = [first_visit + dt.timedelta(days=int(k)) for k in rng.integers(0, 3 * 365, n)]
    admitted = [dt.datetime(2021, 1, 1) + dt.timedelta(seconds=int(k)) for k in rng.integers(0, 2 * 365 * 86_400, n)]
    emails = [f"user{i:04d}@clinic.example" for i in range(n)]
    emails[123] = PLANTED_EMAIL
    return pa.table({
        "id": pa.array(np.arange(1, n + 1), pa.int32()),
        "sex": pa.array(rng.choice(["F", "M"], n).tolist()),
        "dx": pa.array(dx.tolist()),
        "age": pa.array(rng.integers(18, 96, n), pa.int32()),
        "weight": pa.array(weight, mask=rng.random(n) < 0.12),
        "amount": pa.array(amounts, pa.decimal128(10, 2)),
        "visit_date": pa.array(visits, pa.date32()),
        "admitted_at": pa.array(admitted, pa.timestamp("us")),
        "smoker": pa.array((rng.random(n) < 0.25).tolist()),
        "email": pa.array(emails),
    })


def load(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, *, temp: bool = False) -> None:
    """CREATE [TEMP] TABLE `name` from an Arrow table (`name` is used as written: quote it yourself)."""
    con.register("_conftest_arrow", table)
    try:
        con.execute(f"CREATE {'TEMP ' if temp else ''}TABLE {name} AS SELECT * FROM _conftest_arrow")
    finally:
        con.unregister("_conftest_arrow")


def describe(con: duckdb.DuckDBPyConnection, what: str) -> list[tuple[str, str]]:
    """(column, type) pairs of a table, view or query, as DESCRIBE prints them."""
    return [(r[0], r[1]) for r in con.sql(f"DESCRIBE {what}").fetchall()]


def run_log(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Every row of synth_runs(), in order."""
    return con.sql("SELECT * FROM synth_runs() ORDER BY run_id, step_no").fetchall()


def run_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.sql("SELECT count(DISTINCT run_id) FROM synth_runs()").fetchall()[0][0]


def quiet_run(con: duckdb.DuckDBPyConnection, source: str, **options):
    """A seeded run without the ledger (unless asked) and without its warnings (seeded DP runs: tests only)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return duckdb_synth.run(con, source, ledger=options.pop("ledger", False), **options)


def sql_error(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """Run `query`, which must fail the way a SynthError raised in SQL fails, and return the message."""
    with pytest.raises(duckdb.InvalidInputException) as info:
        con.sql(query).fetchall()
    return str(info.value)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection with duckdb_synth registered and the 'patients' table loaded."""
    c = duckdb.connect()
    duckdb_synth.register(c)
    load(c, "patients", make_patients())
    yield c
    c.close()


@pytest.fixture(scope="session")
def patients() -> pa.Table:
    return make_patients()
