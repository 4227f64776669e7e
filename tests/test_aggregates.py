"""Aggregate release (issue 17): the noisy counts of every combination of up to k values."""
from __future__ import annotations

import itertools
import math
import re
import warnings

import duckdb
import numpy as np
import pytest

import duckdb_synth
from duckdb_synth.errors import OptionError
from duckdb_synth.privacy.accounting import cdp_rho
from duckdb_synth.privacy.aggregates import (RELEASE_MISS, Release, _empty_cells, code_labels, consistent,
                                             default_bar, pass_cells, sensitivity_sq)
from duckdb_synth.privacy.noise import discrete_gaussian_pmf

PATIENTS = str(__import__("pathlib").Path(duckdb_synth.__file__).parent / "examples" / "patients.parquet")

TABLE = """SELECT CASE WHEN i % 10 < 6 THEN 'a' WHEN i % 10 < 9 THEN 'b' ELSE 'c' END AS g,
    (i % 3 = 0) AS flag, ['x', 'y', 'z', 'w'][1 + (i * 7) % 4] AS h, (i % 50)::INTEGER AS age
    FROM range({n}) r(i)"""


def release(con, source, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seeded DP runs: tests only
        return duckdb_synth.aggregates(con, source, ledger=options.pop("ledger", False), **options)


# ---------------------------------------------------------------- the mechanism against its analysis


def test_sensitivity_counts_every_column_set_a_row_is_in():
    assert sensitivity_sq(4, 2) == 4 + 6
    assert sensitivity_sq(5, 3) == 5 + 10 + 10
    assert sensitivity_sq(3, 5) == 7  # no more sets than columns allow


def test_the_default_bar_holds_a_one_row_cell_back():
    """A cell held by one row (or none) passes the default bar with probability at most RELEASE_MISS / cells:
    the exact discrete Gaussian tail, for several noise scales and sizes."""
    for sigma, cells in [(3.0, 100), (38.6, 215_241), (107.0, 88_926), (1.0, 10)]:
        bar = default_bar(sigma, cells)
        least = math.ceil(bar - 1)  # Z a count of 1 needs
        support = np.arange(least, least + int(80 * sigma) + 80)
        assert discrete_gaussian_pmf(sigma, support).sum() <= RELEASE_MISS / cells
        # ... and not far above what it needs to be: two noise scales lower would let one through too often
        lower = np.arange(least - int(2 * sigma) - 1, least + int(80 * sigma) + 80)
        assert discrete_gaussian_pmf(sigma, lower).sum() > RELEASE_MISS / cells


def test_empty_cells_by_rank():
    rng = np.random.default_rng(0)
    for _ in range(50):
        total = int(rng.integers(1, 60))
        occupied = np.sort(rng.choice(total, size=int(rng.integers(0, total + 1)), replace=False))
        empty = np.setdiff1d(np.arange(total), occupied)
        ranks = np.sort(rng.choice(len(empty), size=min(len(empty), 5), replace=False)) if len(empty) else empty
        assert _empty_cells(occupied, ranks).tolist() == empty[ranks].tolist()


def test_cells_pass_as_if_each_drew_its_noise():
    """pass_cells over 400 seeds against the dense mechanism's law: per count (0 included) the expected
    number passing, the cells picked uniformly, and the noisy counts from the conditional tail."""
    sigma, bar, total = 4.0, 30.0, 500
    idx = np.array([3, 10, 11, 40, 41, 42, 100, 200, 300])
    counts = np.array([40, 25, 25, 18, 18, 18, 1, 60, 29])
    passed = {int(i): 0 for i in range(total)}
    scores: dict[int, list[float]] = {int(i): [] for i in idx}
    seeds = 400
    for seed in range(seeds):
        cells, noisy = pass_cells(idx, counts, total, sigma, bar, np.random.default_rng(seed))
        assert (np.diff(cells) > 0).all() and (noisy >= bar).all()
        for cell, score in zip(cells.tolist(), noisy.tolist()):
            passed[cell] += 1
            if cell in scores:
                scores[cell].append(score)
    full = np.zeros(total, np.int64)
    full[idx] = counts
    support = np.arange(-400, 400)
    pmf = discrete_gaussian_pmf(sigma, support)
    p = np.array([pmf[support >= bar - c].sum() for c in full])
    got = np.array([passed[i] for i in range(total)])
    for c in np.unique(full):  # cells of one count, pooled
        cells_c = full == c
        expect = seeds * p[cells_c].sum()
        sd = math.sqrt(seeds * (p[cells_c] * (1 - p[cells_c])).sum())
        assert abs(got[cells_c].sum() - expect) <= 4 * sd + 1, (c, got[cells_c].sum(), expect)
    for cell, c in zip(idx.tolist(), counts.tolist()):  # the noisy counts of those that passed
        if len(scores[cell]) >= 30:
            tail = support >= bar - c
            mean = c + (support[tail] * pmf[tail]).sum() / pmf[tail].sum()
            sd = math.sqrt((((support[tail] + c - mean) ** 2) * pmf[tail]).sum() / pmf[tail].sum())
            assert abs(np.mean(scores[cell]) - mean) < 4 * sd / math.sqrt(len(scores[cell])), cell


def test_summarized_cells_pass_as_if_each_drew_its_noise():
    """The summarized path of pass_cells: low counts (below the floor) and empty cells pass at the exact rates
    of the dense mechanism, and the cells named are of the count they were drawn for (50 seeds)."""
    support = np.arange(-200, 200)
    pmf = discrete_gaussian_pmf(2.0, support)
    tail = {c: pmf[support >= 12 - c].sum() for c in (1, 2, 3)}
    idx = np.arange(3_000_000)
    counts = 1 + idx % 3  # every cell below the floor (12 - 4 * 2 = 4)
    got = {1: 0, 2: 0, 3: 0}
    for seed in range(50):
        cells, noisy = pass_cells(idx, counts, len(idx), 2.0, 12.0, np.random.default_rng(seed))
        for c in (1, 2, 3):
            mine = counts[cells] == c
            got[c] += int(mine.sum())
            assert (noisy[mine] - c >= 12 - c).all()
    for c in (1, 2, 3):
        expect = 50 * 1_000_000 * tail[c]
        assert abs(got[c] - expect) <= 4 * math.sqrt(expect) + 1, (c, got[c], expect)
    occupied = np.arange(0, 1_000_000, 10)  # 100,000 cells of 20 (each drawn), 900,000 empty
    p0 = pmf[support >= 9].sum()
    empties = 0
    for seed in range(50):
        cells, noisy = pass_cells(occupied, np.full(len(occupied), 20), 1_000_000, 2.0, 9.0,
                                  np.random.default_rng(seed))
        empty = cells % 10 != 0
        empties += int(empty.sum())
        assert (noisy[empty] >= 9).all() and len(np.unique(cells)) == len(cells)
    assert abs(empties - 50 * 900_000 * p0) <= 4 * math.sqrt(50 * 900_000 * p0) + 1


def test_consistency_drops_orphans_and_caps_counts():
    sizes = [3, 2, 5, 2]
    a, b, c = (0, 1), (1, 0), (2, 3)

    def sets(shown):  # ((column, code), ...) -> count, as Release.sets
        out = {}
        for combo, count in shown.items():
            s = tuple(col for col, _ in combo)
            cell = int(np.ravel_multi_index([code for _, code in combo], [sizes[col] for col in s]))
            cells, counts = out.get(s, ([], []))
            out[s] = (cells + [cell], counts + [count])
        return {s: (np.array(cl)[np.argsort(cl)], np.array(ct)[np.argsort(cl)]) for s, (cl, ct) in out.items()}

    shown = {(a,): 50, (b,): 40, (c,): 30, (a, b): 45, (a, c): 20, (b, c): 25, (a, b, c): 35, ((3, 0),): 9,
             ((0, 2), (1, 0)): 12}
    rel = Release(consistent(sets(shown), sizes), tuple(sizes), 1.0, 2.0, 0, 0)
    out = rel.counts
    assert out[(a, b)] == 40 and out[(a, c)] == 20 and out[(a, b, c)] == 20 and out[(b, c)] == 25
    assert ((0, 2), (1, 0)) not in out  # (0, 2) alone was not shown
    assert len(out) == len(shown) - 1
    for combo, count in out.items():
        for sub in itertools.combinations(combo, len(combo) - 1):
            if sub:
                assert sub in out and out[sub] >= count


# ---------------------------------------------------------------- releases


def test_balanced_counts_are_exact_and_complete():
    """Balanced mode: every combination of at least 5 rows, with its exact count (GROUP BY in DuckDB)."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS {TABLE.format(n=997)}")
    res = release(con, "t", columns=["g", "flag", "h"], reporting_length=2)
    got = {row[0]: row[1] for row in res.relation(con).select("combination, count").fetchall()}
    want = {}
    for cols in [("g",), ("flag",), ("h",), ("g", "flag"), ("g", "h"), ("flag", "h")]:
        q = f"SELECT {', '.join(cols)}, count(*) FROM t GROUP BY ALL HAVING count(*) >= 5"
        for row in con.sql(q).fetchall():
            label = " & ".join(f"{c}={str(v).lower() if isinstance(v, bool) else v}" for c, v in zip(cols, row))
            want[label] = row[-1]
    assert got == want
    assert res.sigma is None and res.spend.epsilon is None


def test_dp_release_is_consistent_charged_and_within_noise():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS {TABLE.format(n=20000)}")
    res = release(con, "t", mode="strict", seed=3)
    rows = res.relation(con).fetchall()
    assert res.columns == ("g", "flag", "h", "age") and res.reporting_length == 3
    # the whole budget, the counts' step with the noise its sensitivity needs
    step = res.spend.steps[-1]
    assert step.name == "aggregate counts"
    assert step.rho == pytest.approx(sensitivity_sq(4, 3) / (2 * res.sigma**2))
    assert res.spend.rho_spent == pytest.approx(cdp_rho(3.0, 0.5e-6))
    assert res.threshold == pytest.approx(default_bar(res.sigma, res.cells))
    counts = {}
    for length, combination, count, *labels in rows:
        assert length == sum(v is not None for v in labels) and count >= 1
        counts[combination] = count
    # within the noise of the truth (the counts are capped by consistency, so only from above plus noise)
    for length, combination, count, g, flag, h, age in rows:
        if length == 1 and g is not None:
            true = con.sql(f"SELECT count(*) FROM t WHERE g = '{g}'").fetchall()[0][0]
            assert abs(count - true) < 5 * res.sigma
    # consistent: every shorter combination shown, with at least the count
    for combination, count in counts.items():
        parts = combination.split(" & ")
        for sub in itertools.combinations(parts, len(parts) - 1):
            if sub:
                assert counts[" & ".join(sub)] >= count


def test_a_combination_of_one_row_is_never_shown():
    """Two frequent values of each column, and one row the only one to combine x = 'a' with y = 'a': across
    seeds and modes the pair is never released, while the values themselves are."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END AS x, "
                "CASE WHEN i % 2 = 0 THEN 'b' ELSE 'a' END AS y FROM range(5000) r(i) UNION ALL SELECT 'a', 'a'")
    for seed in range(5):
        for mode in ("strict", "strictest"):
            res = release(con, "t", mode=mode, seed=seed)
            shown = [r[0] for r in res.relation(con).select("combination").fetchall()]
            assert {"x=a", "y=a", "x=a & y=b"} <= set(shown) and "x=a & y=a" not in shown


def _range_sql(col: str, label: str, literal) -> str:
    """A whole-step label ('30..35', '..25', '87..', '46') as SQL over the column."""
    if ".." not in label:
        return f"{col} = {literal(label)}"
    lo, hi = label.split("..")
    return " AND ".join([f"{col} >= {literal(lo)}"] * bool(lo) + [f"{col} <= {literal(hi)}"] * bool(hi))


def test_numbers_and_dates_are_counted_in_their_domain_bins():
    """Balanced mode's exact counts: each whole-number and date bin's label, read as a range, counts the
    rows a SQL filter on that range counts; bins of decimals read [lo, hi), open at the ends."""
    con = duckdb.connect()
    res = release(con, PATIENTS, columns=["age", "admitted", "bmi", "sex"], reporting_length=1)
    labels = dict(res.relation(con).select("combination, count").fetchall())
    checked = 0
    for col, literal in (("age", str), ("admitted", lambda v: f"DATE '{v}'")):
        bins = [k.split("=", 1)[1] for k in labels if k.startswith(col + "=") and k != col + "=NULL"]
        assert bins[0].startswith("..") and bins[-1].endswith("..")
        for b in bins:
            where = _range_sql(col, b, literal)
            assert con.sql(f"SELECT count(*) FROM '{PATIENTS}' WHERE {where}").fetchall()[0][0] == labels[
                f"{col}={b}"], where
            checked += 1
    assert checked > 20
    bmi = [k[4:] for k in labels if k.startswith("bmi=") and k != "bmi=NULL"]
    assert bmi[0].startswith("(-inf, ") and bmi[-1].endswith(", inf)") and all(b[0] == "[" for b in bmi[1:])


def _label_sql(col: str, label: str, literal) -> str:
    """Any numeric, date or timestamp bin label as SQL over the column."""
    if label.startswith(("(", "[")):
        lo, hi = label[1:-1].split(", ")
        parts = [f"{col} >= {literal(lo)}"] * (lo != "-inf") + [f"{col} < {literal(hi)}"] * (hi != "inf")
        return " AND ".join(parts)
    return _range_sql(col, label, literal)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dp_labels_name_the_rows_of_their_bins(seed):
    """In a DP release, every bin label of a whole number, a decimal, a date and a timestamp, read as a range,
    selects exactly the rows its bin holds (the exact counts of the release's own codes)."""
    con = duckdb.connect()
    cols = ["age", "bill_amount", "bmi", "admitted", "last_seen"]
    res = release(con, PATIENTS, mode="strict", seed=seed, columns=cols, reporting_length=1, threshold=1)
    codes, sizes = res._binned(con, res.source.sql)
    literal = {"age": str, "bill_amount": str, "bmi": str, "admitted": lambda v: f"DATE '{v}'",
               "last_seen": lambda v: f"TIMESTAMP '{v}'"}
    for j, (col, dom) in enumerate(zip(res.columns, res.domains)):
        exact = np.bincount(codes[:, j], minlength=sizes[j])
        for code, label in enumerate(code_labels(dom)):
            if label == "NULL":
                continue
            where = _label_sql(col, label, literal[col])
            assert con.sql(f"SELECT count(*) FROM '{PATIENTS}' WHERE {where}").fetchall()[0][0] == exact[code], (
                col, label)


def test_free_text_is_left_out_unless_named(caplog):
    con = duckdb.connect()
    res = release(con, PATIENTS, mode="strict", seed=0, reporting_length=1)
    assert "name" not in res.columns and "email" not in res.columns and "sex" in res.columns
    assert "left out of the aggregates" in caplog.text
    named = release(con, PATIENTS, mode="strict", seed=0, reporting_length=1, columns=["sex", "name"])
    assert named.columns == ("sex", "name")


def test_a_release_is_charged_in_the_ledger(tmp_path):
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    con.execute(f"CREATE TABLE t AS {TABLE.format(n=3000)}")
    duckdb_synth.register(con)
    res = duckdb_synth.aggregates(con, "t", mode="strict", columns=["g", "h"])
    assert res.run_id == 1
    got = con.sql("SELECT source, sources, epsilon_spent, status, rows_out FROM duckdb_synth.runs").fetchall()
    assert got == [("aggregates of t", ["t"], pytest.approx(3.0, rel=1e-6), "done", res.num_rows)]
    steps = [r[0] for r in con.sql("SELECT step FROM synth_runs() ORDER BY step_no").fetchall()]
    assert steps == ["row count", "domain g", "domain h", "aggregate counts"]
    assert con.sql("SELECT runs FROM synth_budget() WHERE source = 't'").fetchall()[0][0] == 1


@pytest.mark.parametrize(("options", "words"), [
    ({"columns": ["nope"]}, "no column 'nope'"),
    ({"columns": "g"}, "list of column names"),
    ({"reporting_length": 0}, "reporting_length must be a whole number"),
    ({"reporting_length": 2.5}, "reporting_length must be a whole number"),
    ({"columns": ["g"], "reporting_length": 2}, "more than the 1 columns"),
    ({"threshold": 0.5}, "threshold must be a number >= 1"),
    ({"mode": "strict", "epsilon": 1}, "either mode"),
    ({"columns": ["g", "id"]}, "is a key"),
    ({"columns": ["count"]}, "name of a column of the release"),
    ({"reporting_length": float("inf")}, "reporting_length must be a whole number"),
    ({"threshold": float("nan")}, "threshold must be a number >= 1"),
    ({"columns": ["g", "x1", "x2", "x3", "x4", "x5", "x6", "x7"], "reporting_length": 8}, "combinations each"),
])
def test_bad_options_are_refused_before_anything_is_spent(tmp_path, options, words):
    """Each refused before the source is read: no run in the ledger."""
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, g VARCHAR, \"count\" INTEGER, x1 VARCHAR, "
                "x2 VARCHAR, x3 VARCHAR, x4 VARCHAR, x5 VARCHAR, x6 VARCHAR, x7 VARCHAR)")
    con.execute("INSERT INTO t SELECT i, 'a', i, 'c', 'c', 'c', 'c', 'c', 'c', 'c' FROM range(100) r(i)")
    with pytest.raises(OptionError, match=words):
        duckdb_synth.aggregates(con, "t", **{"mode": "strict", **options})
    assert con.sql("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'duckdb_synth'").fetchall() == [(0,)]


def test_sql_and_cli_give_the_python_release(tmp_path):
    """synth_aggregates(...) in SQL and `duckdb-synth aggregates` release what duckdb_synth.aggregates does,
    for a seed; an identical SQL call is answered again without spending."""
    from click.testing import CliRunner

    from duckdb_synth.surfaces.cli import main

    db = str(tmp_path / "db.duckdb")
    con = duckdb.connect(db)
    con.execute(f"CREATE TABLE t AS {TABLE.format(n=4000)}")
    want = release(con, "t", mode="strict", seed=5, columns=["g", "h", "age"], reporting_length=2).table
    duckdb_synth.register(con)
    q = "SELECT * FROM synth_aggregates('t', mode := 'strict', seed := 5, columns := ['g', 'h', 'age'], " \
        "reporting_length := 2, ledger := false)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = con.sql(q).fetchall()
        assert con.sql(q).fetchall() == got
    assert got == [tuple(r.values()) for r in want.to_pylist()]
    # the Python release and one SQL release (the second call was the first's answer), ledger := false: listed
    # by synth_runs() from the connection's own record
    assert con.sql("SELECT source, count(*) FROM synth_runs() WHERE step = 'aggregate counts' GROUP BY 1"
                   ).fetchall() == [("aggregates of t", 2)]
    con.close()
    out = tmp_path / "a.parquet"
    done = CliRunner().invoke(main, ["aggregates", db, "t", "--mode", "strict", "--seed", "5", "--columns",
                                     "g,h,age", "--length", "2", "-o", str(out), "--no-ledger"])
    assert done.exit_code == 0, done.output
    assert duckdb.sql(f"SELECT * FROM '{out}'").fetchall() == got
    assert "combinations of up to 2 of g, h, age shown" in done.output
    owner = CliRunner().invoke(main, ["aggregates", db, "t", "--columns", "g,h", "--no-ledger", "--owner-figures",
                                      "--compare", "t"])
    assert owner.exit_code == 0 and "For the data owner only" in owner.output
    assert "t against the release" in owner.output and "length,combinations,mean_abs_error" in owner.output
    assert "length,shown,fabricated,real_at_least,suppressed" in owner.output
    bad = CliRunner().invoke(main, ["aggregates", db, "t", "--columns", "g,,h"])
    assert bad.exit_code != 0 and "comma-separated list of column names" in bad.output


def test_owner_figures_count_fabricated_and_suppressed_combinations():
    """owner_figures against SQL on the real rows: a shown combination no row holds is fabricated, a real one
    of at least `at_least` rows not shown is suppressed; balanced mode's exact release has neither."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT ['a','b','c','d'][1 + i % 4] AS g, ['x','y','z'][1 + (i * i) % 3] AS h, "
                "['p','q'][1 + (i // 7) % 2] AS k FROM range(3000) r(i)")
    exact = release(con, "t").owner_figures(con)
    assert exact.column("fabricated").to_pylist() == [0, 0, 0] and exact.column("suppressed").to_pylist() == [0, 0, 0]
    assert exact.column("mean_abs_error").to_pylist() == [0, 0, 0]
    res = release(con, "t", mode="strictest", seed=2, threshold=2)  # a low bar: noise alone passes it
    figures = res.owner_figures(con, at_least=100)
    rows = res.relation(con).fetchall()
    for length in (1, 2, 3):
        shown = [r for r in rows if r[0] == length]
        true = []
        for r in shown:
            where = " AND ".join(f"{c} = '{v}'" for c, v in zip(("g", "h", "k"), r[3:]) if v is not None)
            true.append(con.sql(f"SELECT count(*) FROM t WHERE {where}").fetchall()[0][0])
        real = con.sql(f"SELECT count(*) FROM (SELECT count(*) AS n FROM t GROUP BY GROUPING SETS "
                       f"({', '.join('(' + ', '.join(s) + ')' for s in itertools.combinations('ghk', length))})) "
                       f"WHERE n >= 100").fetchall()[0][0]
        shown_real = sum(1 for r, t in zip(shown, true) if t >= 100)
        want = (length, len(shown), sum(t == 0 for t in true), real, real - shown_real)
        assert tuple(figures.slice(length - 1, 1).to_pylist()[0].values())[:5] == want
    assert sum(figures.column("fabricated").to_pylist()) > 0


def test_a_name_matching_two_columns_by_case_is_refused():
    con = duckdb.connect()
    source = "SELECT 'a' AS \"Ab\", 'b' AS \"aB\" FROM range(100)"
    with pytest.raises(OptionError, match="'ab' matches columns 'Ab', 'aB' .* differ only by case"):
        duckdb_synth.aggregates(con, source, columns=["ab"], ledger=False)
    assert duckdb_synth.aggregates(con, source, columns=["aB"], ledger=False).columns == ("aB",)


def test_a_copy_is_compared_with_the_release():
    """compare(): the real table's counts against a DP release err by the noise (the owner figures' absolute
    error, the same sum); an exact release against the table it counts, by nothing; the table twice over, by
    the whole count."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS {TABLE.format(n=6000)}")
    con.execute("CREATE TABLE twice AS SELECT * FROM t UNION ALL SELECT * FROM t")
    res = release(con, "t", mode="strict", seed=1, columns=["g", "flag", "h"])
    kept, owner = res.compare(con, "t").to_pylist(), res.owner_figures(con).to_pylist()
    for k, o in zip(kept, owner):
        assert k["combinations"] == o["shown"] and k["mean_abs_error"] == pytest.approx(o["mean_abs_error"])
    exact = release(con, "t", columns=["g", "flag", "h"])
    assert [r["mean_rel_error"] for r in exact.compare(con, "t").to_pylist()] == [0, 0, 0]
    assert [r["mean_rel_error"] for r in exact.compare(con, "twice").to_pylist()] == [1, 1, 1]
    con.execute("CREATE TABLE other AS SELECT g, h FROM t")
    with pytest.raises(OptionError, match="no column 'flag'"):
        exact.compare(con, "other")


def test_reprs_show_no_exact_row_count():
    """A DP run's or release's repr (what a notebook prints) leaves out the exact input size."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS {TABLE.format(n=1234)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = duckdb_synth.run(con, "t", mode="strict", seed=0, ledger=False)
    agg = release(con, "t", mode="strict", seed=0)
    for obj in (run, agg):
        # the count as a number of its own: a float field such as seconds=0.12340860 may hold its digits
        assert "rows_in" not in repr(obj) and not re.search(r"(?<![\d.])1234(?![\d.])", repr(obj))
        assert obj.rows_in == 1234
    assert re.search(r"(?<![\d.])1234(?![\d.])", "Result(n=1234, seconds=0.1234)")  # the pattern finds it


# ---------------------------------------------------------------- a copy against a stored release (part 4)


def test_a_stored_release_compares_as_the_live_one_in_sql_python_and_the_cli(tmp_path):
    """The labels of a stored release read back as conditions (text, '(other)', NULL, integer, decimal, date
    and timestamp bins) give the copy's counts the release's own domains give."""
    from click.testing import CliRunner

    from duckdb_synth.reporting.preservation import compare_release
    from duckdb_synth.surfaces.cli import main

    db = str(tmp_path / "c.duckdb")
    con = duckdb.connect(db)
    duckdb_synth.register(con)
    con.execute(f"CREATE TABLE p AS SELECT * FROM '{PATIENTS}'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        con.execute("CREATE TABLE s AS SELECT * FROM synthesize('p', mode := 'strict', seed := 1, ledger := false)")
    for mode, cols in (("strict", ["sex", "age", "diagnosis", "insurance"]),
                       ("balanced", ["sex", "bmi", "admitted", "last_seen", "bill_amount"])):
        res = release(con, "p", mode=mode, columns=cols, seed=0)
        con.register("rel_arrow", res.table)
        con.execute("CREATE OR REPLACE TABLE rel AS SELECT * FROM rel_arrow")
        stored = compare_release(con, "rel", "s").to_pylist()
        live = res.compare(con, "s").to_pylist()
        assert [r["combinations"] for r in stored] == [r["combinations"] for r in live] and stored
        for a, b in zip(stored, live):
            assert a["mean_abs_error"] == pytest.approx(b["mean_abs_error"])
            assert a["mean_rel_error"] == pytest.approx(b["mean_rel_error"])
    csv = str(tmp_path / "rel.csv")  # read back from CSV: labels such as 'true' come back as BOOLEAN
    con.execute(f"COPY rel TO '{csv}' (HEADER)")
    assert [r["combinations"] for r in compare_release(con, csv, "s").to_pylist()] == \
        [r["combinations"] for r in stored]
    got = con.sql("SELECT * FROM synth_report_aggregates('rel', 's')").fetchall()
    assert [(r[0], r[1]) for r in got] == [(r["length"], r["combinations"]) for r in stored]
    rep = duckdb_synth.report(con, "p", "s", aggregates="rel")
    for a, b in zip(rep.aggregates.to_pylist(), stored, strict=True):
        assert (a["length"], a["combinations"]) == (b["length"], b["combinations"])
        assert a["mean_rel_error"] == pytest.approx(b["mean_rel_error"])
    from duckdb_synth.reporting.html import _aggregates

    assert "Against the aggregate release" in _aggregates(rep)  # the page's section (rendering: test_report)
    with pytest.raises(duckdb_synth.SchemaError, match="is not an aggregate release"):
        compare_release(con, "p", "s")
    con.close()
    r = CliRunner().invoke(main, ["report", db, "p", "s", "--aggregates", "rel"])
    assert r.exit_code == 0, r.output
    assert "release, length 1" in r.output and "mean relative error over" in r.output


@pytest.mark.parametrize("start", ["9999-06-01", "0002-01-01 (BC)"])
def test_date_labels_past_9999_and_bc_name_their_rows(start):
    """A bin label of a date Python's datetime cannot hold was clipped to 0001-01-01 or 9999-12-31, so a bin
    past the year 9999 was labelled '..9999-12-31' and counted rows the label did not name. They are written as
    DuckDB writes them (10000-01-01, 0001-12-31 (BC)), and each label, read as a range, counts its rows."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT CAST('{start}' AS DATE) + (i % 800)::INTEGER AS d, i % 3 AS g "
                "FROM range(4000) r(i)")
    res = duckdb_synth.aggregates(con, "t", seed=0)
    labels = {k.split("=", 1)[1]: n for k, n in res.relation(con).select("combination, count").fetchall()
              if k.startswith("d=") and " & " not in k}
    assert len(labels) > 10
    for b, n in labels.items():
        where = _range_sql("d", b, lambda v: f"DATE '{v}'")
        assert con.sql(f"SELECT count(*) FROM t WHERE {where}").fetchall()[0][0] == n, where


def test_time_labels_write_24_00():
    """A bin edge at 24:00:00, the end of DuckDB's TIME, was written 23:59:59.999999 (Python's time cannot hold
    24:00): the bin of the rows at 24:00:00 was labelled [23:59:59.999999, inf), a time none of them holds."""
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT CASE WHEN i % 3 = 0 THEN TIME '24:00:00' "
                "ELSE TIME '00:00:00' + to_seconds(i * 600 % 86000) END AS t, i % 7 AS k FROM range(3000) r(i)")
    res = duckdb_synth.aggregates(con, "s", seed=0)
    labels = [k for (k,) in res.relation(con).select("combination").fetchall() if k.startswith("t=") and " & " not in k]
    assert "t=[24:00:00, inf)" in labels, labels
    assert not any("23:59:59.999999" in k for k in labels), labels
    con.close()


def test_balanced_counts_with_a_unit_need_five_persons():
    """The review of 1e23c2d: in balanced mode with a unit of 10 rows, a combination one person held in 5 of its rows
    was shown with its exact count (the bar counted rows); it needs (5 - 1) 10 + 1 rows, five persons' worth."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT i // 10 AS pid, ['x', 'y'][1 + i % 2] AS cat, CASE WHEN i // 10 = 7 THEN "
                "'rare' ELSE ['p', 'q', 'r'][1 + (i // 2) % 3] END AS city FROM range(5000) r(i)")
    con.execute("UPDATE t SET city = 'rare' WHERE pid BETWEEN 11 AND 20 AND cat = 'y'")  # (55 rows of 11 persons)
    shown = duckdb_synth.aggregates(con, "t", mode="balanced", reporting_length=2, privacy_unit="pid",
                                    max_rows_per_unit=10, seed=1).table.column("combination").to_pylist()
    assert "cat=x & city=rare" not in shown  # (5 rows, all person 7's)
    assert "cat=y & city=rare" in shown and "cat=x & city=p" in shown
    con.close()
