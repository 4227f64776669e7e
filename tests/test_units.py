"""Person-level privacy: a privacy unit with at most k rows kept (options, bounding, accounting, output)."""
from __future__ import annotations

import itertools
import math
import re

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import duckdb_synth
from duckdb_synth.engine.schema import classify
from duckdb_synth.engine.units import UnitIds, bounded_rows, buckets, row_keys, size_counts
from duckdb_synth.errors import OptionError
from duckdb_synth.options import parse_options
from duckdb_synth.privacy.accounting import Accountant, cdp_rho
from duckdb_synth.privacy.noise import discrete_gaussian_pmf, threshold

SECRET = "SECRET-DIAGNOSIS"


def visits(n: int = 3000, units: int = 600, seed: int = 0) -> pa.Table:
    """Visits of patients; one patient (id 999999) has 200 visits, each with the secret diagnosis."""
    rng = np.random.default_rng(seed)
    pid = rng.integers(1, units + 1, n)
    dx = rng.choice(["flu", "cold", "asthma"], n).astype(object)
    pid[:200], dx[:200] = 999_999, SECRET
    return pa.table({"pid": pid, "dx": dx, "age": rng.integers(18, 90, n)})


@pytest.fixture
def con():
    c = duckdb.connect()
    c.register("v0", visits())
    c.execute("CREATE TABLE v AS SELECT * FROM v0")
    yield c
    c.close()


def test_secret_of_one_person_never_comes_back_with_a_unit(con):
    for seed in range(3):
        res = duckdb_synth.run(con, "v", mode="strict", seed=seed, privacy_unit="pid", max_rows_per_unit=5)
        assert SECRET not in res.table.column("dx").to_pylist()
    # Without a unit the 200 rows are 200 people to the guarantee, and the value comes back:
    # the test above can fail.
    res = duckdb_synth.run(con, "v", mode="strict", seed=0)
    assert SECRET in res.table.column("dx").to_pylist()


def test_balanced_mode_counts_a_value_by_its_persons_with_a_unit(con):
    """Balanced mode keeps no value fewer than 5 rows hold; with a unit bounded to k rows a person, one person holds
    up to k of a value's rows, so a value is kept only where 4k + 1 rows hold it (5 persons or more): counted in rows,
    the one patient's secret diagnosis and age (5 kept rows of 200) came back in every run (the fuzz sweep of
    dba1e14: 100 rows of one person's value at k = 100)."""
    con.execute("UPDATE v SET age = 123 WHERE pid = 999999")
    for k in (5, 20):
        out = duckdb_synth.run(con, "v", seed=1, privacy_unit="pid", max_rows_per_unit=k).table
        assert SECRET not in out.column("dx").to_pylist() and 123 not in out.column("age").to_pylist(), k
        assert {"flu", "cold", "asthma"} <= set(out.column("dx").to_pylist())  # (values many persons hold stay)


def bound(con, sql: str, unit: str, k: int, salt: int) -> tuple[pa.Table, np.ndarray]:
    """`sql`'s rows bounded as a run bounds them (every column read as text), and the units' sizes."""
    t = con.sql(f"SELECT * FROM ({sql})").to_arrow_table()
    text = pc.cast(t.column(unit), pa.string())
    keys = row_keys(salt, text, [(pc.cast(t.column(c), pa.string()), None) for c in t.column_names])
    keep, sizes = bounded_rows(text, keys, k)
    return t.filter(pa.array(keep)), sizes


def test_bounding_keeps_at_most_k_rows_per_unit_at_random(con):
    k = 3
    real = dict(con.sql("SELECT pid, count(*) AS n FROM v GROUP BY pid").fetchall())
    chosen = []
    for salt in (1, 2, 3, 4):
        kept, sizes = bound(con, "SELECT *, row_number() OVER () AS rn FROM v", "pid", k, salt)
        got = {}
        for p in kept.column("pid").to_pylist():
            got[p] = got.get(p, 0) + 1
        assert got == {p: min(n, k) for p, n in real.items()}  # every unit, min(its rows, k) of them
        assert sorted(sizes.tolist()) == sorted(min(n, k) for n in real.values())
        chosen.append(sorted(r for p, r in zip(kept.column("pid").to_pylist(), kept.column("rn").to_pylist())
                             if p == 999999))
    assert len({tuple(c) for c in chosen}) > 1  # the salt decides which rows
    assert all(c != [1, 2, 3] for c in chosen)  # ... not the order of the rows (the unit's first rows are 1..200)
    # NULL ids are one unit: bounded like any other
    con.execute("CREATE TABLE w AS SELECT NULL::INTEGER AS pid, range AS x FROM range(10)")
    assert bound(con, "SELECT * FROM w", "pid", 4, 9)[0].num_rows == 4


def test_which_rows_a_unit_keeps_depends_on_its_rows_alone(con):
    """Adding another person's rows, or reordering the table, keeps the same rows of every other unit."""
    con.execute("CREATE TABLE z AS SELECT i % 7 AS pid, i AS x, (i * 31 % 11)::VARCHAR AS s FROM range(200) r(i)")
    base, _ = bound(con, "SELECT * FROM z", "pid", 5, 77)
    more, _ = bound(con, "SELECT * FROM z UNION ALL SELECT 99, i, 'new' FROM range(40) r(i)", "pid", 5, 77)
    shuffled, _ = bound(con, "SELECT * FROM z ORDER BY hash(x)", "pid", 5, 77)

    def rows(t, drop=None):
        return sorted(r for r in zip(*[t.column(c).to_pylist() for c in ("pid", "x", "s")]) if r[0] != drop)

    assert rows(more, drop=99) == rows(base) == rows(shuffled)


def test_size_histogram_buckets(con):
    assert buckets(1) == [(1, 1)]
    assert buckets(5) == [(1, 1), (2, 3), (4, 4), (5, 5)]
    assert buckets(9) == [(1, 1), (2, 3), (4, 7), (8, 8), (9, 9)]
    con.execute("CREATE TABLE s AS SELECT unnest([1,2,2,3,3,3,4,4,4,4,5,5,5,5,5,5,5]) AS u")
    # units of 1, 2, 3, 4 rows and one of 7 rows bounded to 5: buckets 1 | 2-3 | 4 | 5
    assert size_counts(bound(con, "SELECT * FROM s", "u", 5, 1)[1], 5).tolist() == [1, 2, 1, 1]


def test_threshold_bounds_a_persons_values_by_brute_force():
    # A person with `held` rows holds values that nobody else holds, c_i >= 1, sum c_i <= held. The chance
    # that any passes the threshold is at most delta, for every such split (exact discrete Gaussian tails).
    for held, sigma, delta in ((1, 3.0, 1e-3), (2, 2.0, 1e-3), (3, 4.0, 1e-2), (5, 3.0, 1e-4)):
        bar = threshold(sigma, delta, held)
        xs = np.arange(-400, 401)
        pmf = discrete_gaussian_pmf(sigma, xs)

        def tail(c: int) -> float:  # P[c + Z >= bar]
            return float(pmf[c + xs >= bar].sum())

        worst = 0.0
        for parts in range(1, held + 1):
            for split in itertools.product(range(1, held + 1), repeat=parts):
                if sum(split) <= held:
                    worst = max(worst, 1 - math.prod(1 - tail(c) for c in split))
        assert worst <= delta
        assert worst > delta / 1000  # and not far too high a bar
    assert threshold(3.0, 1e-6) == threshold(3.0, 1e-6, 1)


def test_accounting_is_group_privacy_checked_by_brute_force():
    # Every count a run makes is a histogram; a person adds k rows. Over all placements of a person's k
    # rows into 3 cells the largest squared L2 change is k^2, so a noise sigma costs k^2 / (2 sigma^2):
    # what the record charges for a step whose noise is sigma_for(one-row rho).
    for k in (1, 2, 4):
        worst = max(sum(np.bincount(cells, minlength=3) ** 2) for cells in itertools.product(range(3), repeat=k))
        assert worst == k * k
        acct = Accountant.for_budget(2.0, 1e-6, unit_rows=k)
        assert acct.rho * k * k == pytest.approx(cdp_rho(2.0, 5e-7))
        acct.charge("count", acct.rho / 10)
        sigma = 1 / math.sqrt(2 * acct.rho / 10)
        from duckdb_synth.privacy.spend import Spend
        sp = Spend.from_accountant("custom", acct, "pid" if k > 1 else None)
        assert sp.steps[0].rho == pytest.approx(worst / (2 * sigma**2))
        assert sp.rho_budget == pytest.approx(cdp_rho(2.0, 5e-7))


def test_run_record_names_the_unit_and_scales_the_noise(con):
    plain = duckdb_synth.run(con, "v", mode="strict", seed=0)
    unit = duckdb_synth.run(con, "v", mode="strict", seed=0, privacy_unit="pid", max_rows_per_unit=4)

    def sigma(res) -> float:
        step = next(s for s in res.spend.steps if s.name == "row count")
        return float(re.search(r"sigma=([\d.]+)", step.detail).group(1))

    assert sigma(unit) == pytest.approx(4 * sigma(plain), rel=0.01)  # a person moves the count by up to 4
    assert unit.spend.epsilon_spent <= 3.0 + 1e-9
    assert unit.spend.rho_spent == pytest.approx(unit.spend.rho_budget, rel=1e-6)
    assert "for one 'pid' (at most 4 of its rows kept)" in unit.spend.format()
    assert any(s.name == "unit sizes" for s in unit.spend.steps)
    duckdb_synth.register(con)
    rows = con.sql("SELECT DISTINCT privacy_unit, max_rows_per_unit FROM synth_runs() ORDER BY ALL").fetchall()
    assert rows == [("pid", 4), (None, None)]


def test_output_units_are_fresh_and_sized_like_the_real_ones(con):
    res = duckdb_synth.run(con, "v", mode="strict", seed=2, privacy_unit="pid", max_rows_per_unit=5)
    t = res.table
    ids, sizes = np.unique(t.column("pid").to_numpy(), return_counts=True)
    assert sizes.max() <= 5
    real_units = con.execute("SELECT count(DISTINCT pid) FROM v").fetchall()[0][0]
    assert 0.8 * real_units <= len(ids) <= 1.2 * real_units  # 601 units, most with 4-5 rows
    # consecutive rows form a unit: a unit's rows are one run of the output
    col = t.column("pid").to_numpy()
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    assert len(starts) == len(ids)


@pytest.mark.parametrize("type_", ["VARCHAR", "UUID", "SMALLINT", "UTINYINT"])
def test_unit_ids_of_each_type_stay_one_unit_across_batches(type_):
    col = classify("pid", type_)
    ids = UnitIds(col, np.array([0.0, 1.0, 3.0]), 3, seed=5)  # sizes 1 | 2 | 3 (buckets(3))
    cur = ids.cursor()
    parts = [cur.take(n) for n in (7, 1, 300, 5)]
    nums = np.concatenate(parts)
    again = np.concatenate([c for c in (ids.cursor().take(313),)])
    assert np.array_equal(nums, again)  # the same units whatever the batches
    assert np.all(np.diff(nums) >= 0) and nums[0] == 1
    assert set(np.bincount(nums)[1:-1]) <= {2, 3}  # no unit of 1 row (weight 0); the last may be cut
    vals = ids.values(nums, len(nums)).to_pylist()
    if type_ == "UTINYINT":
        assert min(vals) >= 1 and max(vals) <= 255
    else:
        assert len(set(vals)) == nums.max()  # one value per unit
    if type_ == "UUID":
        import uuid
        assert all(uuid.UUID(v).version == 4 for v in vals)


def test_batched_output_keeps_units_whole(con):
    res = duckdb_synth.run(con, "v", mode="strict", seed=1, privacy_unit="pid", max_rows_per_unit=5)
    out = res.output
    out.rows_per_batch = 64  # many batches
    out._first = None
    one = pa.concat_tables(list(out.tables())).column("pid").to_numpy()
    two = pa.concat_tables(list(out.tables())).column("pid").to_numpy()
    assert np.array_equal(one, two)
    _, sizes = np.unique(one, return_counts=True)
    assert sizes.max() <= 5


@pytest.mark.parametrize("kwargs, message", [
    ({"privacy_unit": "pid"}, "needs max_rows_per_unit"),
    ({"max_rows_per_unit": 3}, "needs privacy_unit"),
    ({"privacy_unit": "pid", "max_rows_per_unit": 0}, "between 1 and"),
    ({"privacy_unit": "pid", "max_rows_per_unit": 2.5}, "must be an integer"),
    ({"privacy_unit": "", "max_rows_per_unit": 2}, "must be a column name"),
])
def test_unit_options_refused(kwargs, message):
    with pytest.raises(OptionError, match=message):
        parse_options(mode="strict", **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"privacy_unit": "pidd"}, r"no column 'pidd' \(did you mean 'pid'\?\)"),
    ({"privacy_unit": "pid", "masks": {"pid": "number"}}, "cannot be masked"),
    ({"privacy_unit": "pid", "domains": {"pid": [1, 2]}}, "has no domain to declare"),
    ({"privacy_unit": "pid", "marginals": [["pid", "dx"]]}, "is not modelled"),
    ({"privacy_unit": "d"}, "is DATE; a privacy unit is an id column"),
])
def test_unit_column_refused_before_anything_is_spent(con, kwargs, message):
    con.execute("CREATE TABLE vd AS SELECT *, DATE '2024-01-01' AS d FROM v")
    duckdb_synth.register(con)
    before = con.execute("SELECT count(*) FROM synth_runs()").fetchall()[0][0]
    with pytest.raises(OptionError, match=message):
        duckdb_synth.run(con, "vd", mode="strict", max_rows_per_unit=3, **kwargs)
    assert con.execute("SELECT count(*) FROM synth_runs()").fetchall()[0][0] == before


def test_unit_in_sql_and_balanced(con):
    duckdb_synth.register(con)
    n, units, most = con.execute("""SELECT count(*), count(DISTINCT pid), max(c) FROM (SELECT pid, count(*) OVER
        (PARTITION BY pid) AS c FROM synthesize('v', privacy_unit := 'pid', max_rows_per_unit := 2, seed := 1))
        """).fetchall()[0]
    assert most <= 2 and 1000 < n < 1300  # balanced: bounded to 2 rows a unit, 601 units
    assert units > 450


@pytest.mark.parametrize("type_", ["UBIGINT", "HUGEINT", "UHUGEINT", "DECIMAL(38,0)"])
def test_wide_integer_unit_columns(con, type_):
    con.execute(f"CREATE TABLE wide AS SELECT pid::{type_} AS pid, dx, age FROM v")
    res = duckdb_synth.run(con, "wide", mode="strict", seed=0, privacy_unit="pid", max_rows_per_unit=5)
    ids = [int(x) for x in res.table.column("pid").to_pylist()]
    assert dict(res.types)["pid"] == type_ and min(ids) == 1 and len(set(ids)) > 400


def test_the_ledger_names_the_unit_column_as_the_table_does(con):
    duckdb_synth.run(con, "v", mode="strict", seed=0, privacy_unit="PID", max_rows_per_unit=5)
    assert con.execute("SELECT privacy_unit FROM duckdb_synth.runs").fetchall() == [("pid",)]


def test_the_report_names_the_unit(con):
    duckdb_synth.register(con)
    con.execute("CREATE TABLE vs AS SELECT * FROM synthesize('v', mode := 'strict', seed := 0, "
                "privacy_unit := 'pid', max_rows_per_unit := 5)")
    rows = dict(con.sql("SELECT metric, explanation FROM synth_privacy_report('v', 'vs')").fetchall())
    assert "for one 'pid' (at most 5 of its rows kept)" in rows["Privacy guarantee"]
    assert "SEEDED" in rows["Privacy guarantee"]
