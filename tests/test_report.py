"""The quality and privacy report: its SQL functions, its Python API and its metrics.

Every figure is checked against a value worked out by hand on a tiny table, or
against a reference (scipy, ``shared/bench/fidelity.py``); every SQL function runs
through a real DuckDB connection.
"""
from __future__ import annotations

import importlib.util
import math
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import scipy.stats
from scipy.spatial.distance import cdist

import duckdb_synth
from conftest import load, make_patients, sql_error
from duckdb_synth.errors import DataError, SchemaError, SourceError
from duckdb_synth.reporting.disclosure import nearest as _nearest
from duckdb_synth.reporting.quality import cramers_v, ks_statistic

FIDELITY = Path(__file__).resolve().parents[2] / "shared" / "bench" / "fidelity.py"
PROPERTIES = ["Column Shapes", "Column Pair Trends", "1-way marginals", "2-way marginals", "3-way marginals",
              "Deep Structure (PCA)", "Diagnostics", "Overall"]


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    duckdb_synth.register(c)
    yield c
    c.close()


def table(con: duckdb.DuckDBPyConnection, name: str, **columns: list) -> None:
    load(con, name, pa.table(columns))


def scores(rel: duckdb.DuckDBPyRelation, key: str = "property") -> dict[str, float]:
    names = rel.columns
    return {r[names.index(key)]: r[names.index("score")] for r in rel.fetchall()}


# ---------------------------------------------------------------- the four SQL functions


def test_identical_copy_scores_one_everywhere(con):
    load(con, "patients", make_patients())
    con.execute("CREATE TABLE twin AS SELECT * FROM patients")
    summary = scores(con.sql("SELECT * FROM synth_report('patients', 'twin')"))
    assert list(summary) == PROPERTIES
    assert all(v == pytest.approx(1.0, abs=1e-12) for v in summary.values())
    columns = con.sql("SELECT score, real_null_share = synth_null_share, real_distinct = synth_distinct, "
                      "real_mean IS NOT DISTINCT FROM synth_mean, adherence "
                      "FROM synth_report_columns('patients', 'twin')").fetchall()
    assert columns == [(1.0, True, True, True, 1.0)] * 10
    pairs = con.sql("SELECT min(score), max(abs(real_association - synth_association)), count(*) "
                    "FROM synth_report_pairs('patients', 'twin')").fetchall()[0]
    assert pairs[0] == pytest.approx(1.0) and pairs[1] == pytest.approx(0.0, abs=1e-12) and pairs[2] == 45
    privacy = dict(con.sql("SELECT metric, value FROM synth_privacy_report('patients', 'twin')").fetchall())
    assert privacy["Exact copies"] == 1.0 and privacy["DCR median"] == 0.0 and privacy["DCR 5th percentile"] == 0.0


def test_sql_functions_have_documented_columns(con):
    table(con, "r", x=[1.0, 2.0, 3.0], c=["a", "b", "a"])
    expected = {
        "synth_report": ["property", "score", "explanation", "holdout"],
        "synth_report_columns": ["column", "type", "synth_type", "kind", "metric", "score", "real_null_share",
                                 "synth_null_share", "real_distinct", "synth_distinct", "real_mean", "synth_mean",
                                 "real_std", "synth_std", "real_min", "synth_min", "real_max", "synth_max",
                                 "real_range", "synth_range", "diagnostic", "adherence"],
        "synth_report_pairs": ["column_1", "column_2", "metric", "real_association", "synth_association", "score"],
        "synth_privacy_report": ["metric", "value", "holdout", "explanation"],
    }
    for fn, names in expected.items():
        assert con.sql(f"SELECT * FROM {fn}('r', 'r')").columns == names


def test_shifted_column_has_the_hand_computed_ks(con):
    # real 0..9, synthetic 2..11: at x = 1 the real CDF is 2/10 and the synthetic one 0, and no gap is larger.
    table(con, "r", x=list(range(10)))
    table(con, "s", x=list(range(2, 12)))
    row = con.sql("SELECT metric, score, real_mean, synth_mean, real_min, synth_max, real_distinct "
                  "FROM synth_report_columns('r', 's')").fetchall()[0]
    assert row[0] == "KSComplement"
    assert row[1] == pytest.approx(0.8)
    assert row[2:] == (4.5, 6.5, 0.0, 11.0, 10)


def test_mean_and_std_of_values_near_the_double_limit(con):
    # 1.6e308 + 1.7e308 overflows a plain sum to inf (and the std to NaN): both sides are reported finite.
    table(con, "r", x=[1.6e308, 1.7e308, 1.0e308, 1.5e308])
    table(con, "s", x=[1.7e308, 1.7e308, 1.1e308, 0.0])
    row = con.sql("SELECT real_mean, real_std, synth_mean, synth_std FROM synth_report_columns('r', 's')").fetchall()[0]
    for got, values in zip((row[0:2], row[2:4]), ([1.6, 1.7, 1.0, 1.5], [1.7, 1.7, 1.1, 0.0])):
        assert got[0] == pytest.approx(np.mean(values) * 1e308, rel=1e-12)
        assert got[1] == pytest.approx(np.std(values, ddof=1) * 1e308, rel=1e-12)
    # No sum of squares overflows anywhere in the report (pair trends, deep structure) on two such columns.
    table(con, "r2", x=[1.6e308, 1.7e308, 1.0e308, 1.5e308], y=[1.0, 3.0, 2.0, 4.0])
    table(con, "s2", x=[1.7e308, 1.7e308, 1.1e308, 0.0], y=[2.0, 1.0, 4.0, 3.0])
    with np.errstate(over="raise", invalid="raise"):
        duckdb_synth.report(con, "r2", "s2")


def test_category_shares_give_the_hand_computed_tv(con):
    # shares a .6/.4/0 vs .3/.5/.2: TV = (.3 + .1 + .2) / 2 = .3; NULL is a category of its own.
    table(con, "r", c=["a"] * 6 + ["b"] * 4)
    table(con, "s", c=["a"] * 3 + ["b"] * 5 + ["c"] * 2)
    table(con, "n", c=["a"] * 5 + ["b"] * 4 + [None])
    row = con.sql("SELECT metric, score, real_distinct, synth_distinct FROM synth_report_columns('r', 's')").fetchall()
    assert row == [("TVComplement", pytest.approx(0.7), 2, 3)]
    row = con.sql("SELECT score, synth_null_share FROM synth_report_columns('r', 'n')").fetchall()
    assert row == [(pytest.approx(0.9), pytest.approx(0.1))]


def test_independent_columns_score_low_on_pair_trends(con):
    # real: y = x (r = 1); synthetic: y independent of x (r = 0 exactly) -> 1 - |1 - 0| / 2 = 0.5.
    x = [1.0, 2.0, 3.0, 4.0] * 5
    table(con, "r", x=x, y=x)
    table(con, "s", x=x, y=[2.0, 4.0, 1.0, 3.0] * 5)
    row = con.sql("SELECT metric, real_association, synth_association, score "
                  "FROM synth_report_pairs('r', 's')").fetchall()
    assert row == [("CorrelationSimilarity", pytest.approx(1.0), pytest.approx(0.0, abs=1e-12), pytest.approx(0.5))]
    # The opposite sign is the worst score.
    table(con, "m", x=x, y=[-v for v in x])
    assert con.sql("SELECT score FROM synth_report_pairs('r', 'm')").fetchall()[0][0] == pytest.approx(0.0)


def test_independent_categories_score_low_on_contingency(con):
    # real: (a,x) and (b,y) half each (Cramér's V 1); synthetic: the four combinations a quarter each (V 0):
    # TVD = (.25 + .25 + .25 + .25) / 2 = .5.
    table(con, "r", c=["a"] * 10 + ["b"] * 10, d=["x"] * 10 + ["y"] * 10)
    table(con, "s", c=["a"] * 10 + ["b"] * 10, d=(["x"] * 5 + ["y"] * 5) * 2)
    row = con.sql("SELECT metric, real_association, synth_association, score "
                  "FROM synth_report_pairs('r', 's')").fetchall()
    assert row == [("ContingencySimilarity", pytest.approx(1.0), pytest.approx(0.0), pytest.approx(0.5))]
    summary = scores(con.sql("SELECT * FROM synth_report('r', 's')"))
    assert summary["Column Pair Trends"] == pytest.approx(0.5)
    assert summary["Column Shapes"] == pytest.approx(1.0)
    assert summary["1-way marginals"] == pytest.approx(1.0)
    assert summary["2-way marginals"] == pytest.approx(0.5)
    assert summary["3-way marginals"] is None  # two columns have no 3-way marginal


def test_constant_numeric_column_falls_back_to_contingency(con):
    table(con, "r", x=[1.0, 2.0, 3.0, 4.0], k=[5.0] * 4)
    rows = con.sql("SELECT metric, score FROM synth_report_pairs('r', 'r')").fetchall()
    assert rows == [("ContingencySimilarity", pytest.approx(1.0))]


def test_one_column_has_no_pairs(con):
    table(con, "r", x=[1.0, 2.0, 3.0])
    summary = scores(con.sql("SELECT * FROM synth_report('r', 'r')"))
    assert summary["Column Pair Trends"] is None and summary["2-way marginals"] is None
    assert summary["Overall"] == pytest.approx(1.0)
    assert con.sql("SELECT count(*) FROM synth_report_pairs('r', 'r')").fetchall() == [(0,)]


def test_exact_copies_are_whole_rows_null_safe(con):
    # Two of four synthetic rows equal a real row; the NULL row counts, a row differing in one column does not.
    table(con, "r", a=[1, 2, None, 4, 5, 6], b=["x", "y", "z", None, "v", "w"])
    table(con, "s", a=[1, None, 4, 9], b=["x", "z", "q", "y"])
    privacy = dict(con.sql("SELECT metric, value FROM synth_privacy_report('r', 's')").fetchall())
    assert privacy["Exact copies"] == pytest.approx(0.5)


def test_types_that_travel_through_parquet_still_match(con):
    # ENUM comes back from the SQL macro as VARCHAR, HUGEINT as DECIMAL(38,0): the same family, no error.
    con.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    con.execute("CREATE TABLE r AS SELECT CAST(i AS HUGEINT) AS h, CAST(['sad','ok','happy'][i % 3 + 1] AS mood) AS m, "
                "DATE '2024-01-01' + CAST(i AS INTEGER) AS d FROM range(30) t(i)")
    con.execute("CREATE TABLE s AS SELECT CAST(h AS DECIMAL(38,0)) AS h, CAST(m AS VARCHAR) AS m, "
                "CAST(d AS TIMESTAMP) AS d FROM r")
    assert scores(con.sql("SELECT * FROM synth_report('r', 's')"))["Overall"] == pytest.approx(1.0)


# ---------------------------------------------------------------- sources and bad input


def test_sources_may_be_queries_and_files(con, tmp_path):
    load(con, "patients", make_patients())
    path = tmp_path / "twin.parquet"
    con.execute(f"COPY patients TO '{path}' (FORMAT parquet)")
    summary = scores(con.sql(f"SELECT * FROM synth_report('SELECT * FROM patients', '{path}')"))
    assert summary["Overall"] == pytest.approx(1.0)


@pytest.mark.parametrize("synth, words", [
    ("SELECT id, sex FROM patients", ["missing columns", "'dx'", "'age'", "'email'"]),
    ("SELECT *, 1 AS extra, 2 AS more FROM patients", ["extra columns 'extra', 'more'"]),
    ("SELECT * REPLACE (CAST(age AS VARCHAR) AS age, CAST(sex = 'F' AS INTEGER) AS sex) FROM patients",
      ["other types", "'sex' is VARCHAR in the real table but INTEGER",
      "'age' is INTEGER in the real table but VARCHAR"]),
    ("SELECT * EXCLUDE (dx), 1 AS dxx FROM patients", ["missing column 'dx'", "extra column 'dxx'"]),
])
def test_mismatched_columns_are_named(con, synth, words):
    load(con, "patients", make_patients())
    message = sql_error(con, f"SELECT * FROM synth_report('patients', '{synth.replace(chr(39), chr(39) * 2)}')")
    assert "SchemaError" in message and "does not match the real table 'patients'" in message
    for word in words:
        assert word in message
    with pytest.raises(SchemaError):
        duckdb_synth.report(con, "patients", synth)


@pytest.mark.parametrize("real, synth, error, words", [
    ("patients", "patients_synht", SourceError, ["the synthetic table: no table or view named patients_synht"]),
    ("patient", "patients", SourceError, ["the real table: no table or view named patient", "did you mean 'patients'"]),
    ("patients", "DROP TABLE patients", SourceError, ["the synthetic table", "DROP statements are refused"]),
    ("patients", "/nowhere/s.parquet", SourceError, ["the synthetic table: file not found"]),
    ("patients", "SELECT * FROM patients WHERE false", DataError, ["synthetic table (a query) is empty"]),
    ("patients", "SELECT * REPLACE (CAST(CAST(sex AS INTEGER) AS VARCHAR) AS sex) FROM patients", None, []),
])
def test_bad_sources_are_refused_with_a_clear_error(con, real, synth, error, words):
    load(con, "patients", make_patients())
    if error is None:  # a query that fails while it runs: DuckDB's error, said to be the synthetic table's
        error, words = SourceError, ["cannot read the synthetic table (a query)", "Could not convert string"]
    with pytest.raises(error) as info:
        duckdb_synth.report(con, real, synth)
    for word in words:
        assert word in str(info.value)
    message = sql_error(con, f"SELECT * FROM synth_report('{real}', '{synth.replace(chr(39), chr(39) * 2)}')")
    for word in words:
        assert word in message


def test_sql_hint_for_tables_the_second_connection_cannot_see(con):
    load(con, "patients", make_patients(), temp=True)
    message = sql_error(con, "SELECT * FROM synth_report('patients', 'patients')")
    assert "cannot see TEMP tables" in message and "duckdb_synth.report(con, real, synth)" in message
    # From Python the same connection reads it.
    assert duckdb_synth.report(con, "patients", "patients").score == pytest.approx(1.0)


def test_nothing_is_written_on_bad_input(con):
    from duckdb_synth.surfaces.sql import _state

    load(con, "patients", make_patients())
    sql_error(con, "SELECT * FROM synth_report('patients', 'SELECT sex FROM patients')")
    assert not list(_state(con).folder.glob("report_*")) and not _state(con).reports


# ---------------------------------------------------------------- memoizing


def test_one_report_per_input_and_a_fresh_one_when_a_table_changes(con, monkeypatch):
    import duckdb_synth.surfaces.sql as sql

    calls = []
    real_build = sql.build_report
    monkeypatch.setattr(sql, "build_report", lambda *a, **k: calls.append(a[1:3]) or real_build(*a, **k))
    table(con, "r", x=list(range(10)))
    con.execute("CREATE TABLE s AS SELECT x + 2 AS x FROM r")
    for fn in ("synth_report", "synth_report_columns", "synth_report_pairs", "synth_privacy_report", "synth_report"):
        con.sql(f"SELECT * FROM {fn}('r', 's')").fetchall()
    assert calls == [("r", "s")]
    con.execute("UPDATE s SET x = x - 2")
    assert scores(con.sql("SELECT * FROM synth_report('r', 's')"))["Column Shapes"] == pytest.approx(1.0)
    assert len(calls) == 2


# ---------------------------------------------------------------- what the run spent


def test_spend_of_a_recorded_sql_run(con):
    load(con, "patients", make_patients())
    con.execute("CREATE TABLE ps AS SELECT * FROM synthesize('patients', mode := 'strict', "
                "masks := {'email': 'email'}, seed := 3)")
    rows = con.sql("SELECT metric, value, explanation FROM synth_privacy_report('patients', 'ps')").fetchall()
    by = {r[0]: r for r in rows}
    assert by["Privacy guarantee"][1] == 3.0
    assert "mode strict: (3, 1e-06)-differential privacy" in by["Privacy guarantee"][2]
    assert "run 1 (SELECT * FROM synth_runs() WHERE run_id = 1)" in by["Privacy guarantee"][2]
    steps = con.sql("SELECT step, step_epsilon FROM synth_runs() WHERE run_id = 1 ORDER BY step_no").fetchall()
    listed = [(r[0], r[1]) for r in rows if r[0].startswith("Step ")]
    assert [(f"Step {i}: {s}", pytest.approx(e)) for i, (s, e) in enumerate(steps, start=1)] == listed
    assert by["Epsilon spent"][1] == pytest.approx(
        con.sql("SELECT any_value(total_epsilon) FROM synth_runs() WHERE run_id = 1").fetchall()[0][0])


def test_spend_of_a_python_run_and_of_balanced_mode(con):
    load(con, "patients", make_patients())
    res = duckdb_synth.run(con, "patients", seed=4)
    con.register("rows", res.table)
    con.execute("CREATE TABLE pb AS SELECT * FROM rows")
    rep = duckdb_synth.report(con, "patients", "pb")
    assert rep.run_id == 1 and rep.spend is res.spend
    privacy = {r["metric"]: r for r in rep.privacy.to_pylist()}
    assert "mode balanced: no formal differential privacy" in privacy["Privacy spent"]["explanation"]


def test_a_table_not_made_by_a_run_says_so(con):
    load(con, "patients", make_patients())
    con.sql("SELECT * FROM synthesize('patients', seed := 5)").fetchall()
    con.execute("CREATE TABLE other AS SELECT * FROM patients")
    rows = con.sql("SELECT metric, explanation FROM synth_privacy_report('patients', 'other')").fetchall()
    assert rows[-1][0] == "Privacy spent" and rows[-1][1].startswith("not from a recorded run")


# ---------------------------------------------------------------- metrics against references


def test_marginals_match_the_shared_fidelity_script(con, tmp_path):
    if not FIDELITY.exists():
        pytest.skip(f"{FIDELITY} is not there (it lives in the shared folder beside the repository)")
    spec = importlib.util.spec_from_file_location("fidelity", FIDELITY)
    fidelity = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fidelity)
    load(con, "patients", make_patients())
    # A synthetic table with ties, NULLs, values outside the real range and an unseen category; 10 columns
    # have 120 triples, so the 100-triple cap below makes the report draw them as fidelity.py does.
    con.execute("CREATE TABLE s AS SELECT * REPLACE (CASE WHEN id % 7 = 0 THEN 'unseen' ELSE dx END AS dx, "
                "age + 3 AS age, CASE WHEN id % 5 = 0 THEN NULL ELSE weight END AS weight) "
                "FROM patients ORDER BY random()")
    real, synth = tmp_path / "r.parquet", tmp_path / "s.parquet"
    con.execute(f"COPY patients TO '{real}' (FORMAT parquet)")
    con.execute(f"COPY s TO '{synth}' (FORMAT parquet)")
    ours = {r["property"]: r["score"] for r in _report_with_caps(con, str(real), str(synth), 30, 100)}
    out = _run_fidelity(fidelity, real, synth, 30, 100)
    for k in (1, 2, 3):
        assert ours[f"{k}-way marginals"] == pytest.approx(1 - out[f"tvd{k}"], abs=1e-4)


def _report_with_caps(con, real, synth, pairs, triples):
    import duckdb_synth.reporting.quality as mod

    old = mod.MAX_PAIRS, mod.MAX_TRIPLES
    mod.MAX_PAIRS, mod.MAX_TRIPLES = pairs, triples
    try:
        return duckdb_synth.report(con, real, synth).summary.to_pylist()
    finally:
        mod.MAX_PAIRS, mod.MAX_TRIPLES = old


def _run_fidelity(fidelity, real, synth, pairs, triples) -> dict[str, float]:
    import contextlib
    import io
    import json

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fidelity.main([str(real), str(synth), "--max-pairs", str(pairs), "--max-triples", str(triples), "--json"])
    return json.loads(buf.getvalue().splitlines()[0])


@pytest.mark.parametrize("seed", range(4))
def test_ks_statistic_is_scipys(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 20, 300).astype(float)  # many ties
    b = rng.normal(10, 4, 217).round(1)
    assert ks_statistic(a, b) == pytest.approx(scipy.stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_ks_statistic_of_empty_samples():
    assert ks_statistic(np.array([]), np.array([])) == 0.0
    assert ks_statistic(np.array([1.0]), np.array([])) == 1.0


@pytest.mark.parametrize("seed", range(3))
def test_cramers_v_is_scipys(seed):
    counts = np.random.default_rng(seed).integers(0, 30, (4, 3)).astype(float)
    expected = scipy.stats.contingency.association(counts.astype(int), method="cramer", correction=False)
    assert cramers_v(counts) == pytest.approx(expected)
    assert cramers_v(np.array([[5.0, 0.0], [0.0, 0.0]])) == 0.0  # one non-empty value a side: no association


def test_nearest_distances_are_brute_force():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(700, 6))
    queries = np.concatenate([rng.normal(size=(300, 6)), ref[:5]])
    expected = cdist(queries, ref).min(axis=1)
    got = _nearest(queries, ref, chunk=128)
    assert got == pytest.approx(expected, abs=1e-9)
    assert np.all(got[-5:] == 0.0)


def test_correlation_skips_rows_with_a_missing_value_pair_by_pair(con):
    # x and y agree exactly where both are set; the NULLs must not enter the correlation.
    table(con, "r", x=[1.0, 2.0, None, 4.0, 5.0, 6.0], y=[2.0, 4.0, 100.0, None, 10.0, 12.0])
    row = con.sql("SELECT real_association FROM synth_report_pairs('r', 'r')").fetchall()[0][0]
    assert row == pytest.approx(1.0)
    assert not math.isnan(row)


# ---------------------------------------------------------------- Python API and the page


def test_python_api_returns_arrow_tables_and_writes_html(con, tmp_path):
    load(con, "patients", make_patients())
    con.execute("CREATE TABLE ps AS SELECT * FROM synthesize('patients', mode := 'strictest', seed := 2)")
    rep = duckdb_synth.report(con, "patients", "ps")
    assert isinstance(rep, duckdb_synth.Report)
    for part in ("summary", "columns", "pairs", "privacy"):
        assert isinstance(getattr(rep, part), pa.Table)
    assert rep.summary.column("property").to_pylist() == PROPERTIES
    assert 0.0 < rep.score < 1.0
    path = rep.to_html(tmp_path / "r.html")
    page = path.read_text(encoding="utf-8")
    for text in ("Overall quality score", "Column pairs", "Deep structure (PCA)", "Privacy",
                 "Mode strictest: (1, 1e-06)-differential privacy", "What the run spent"):
        assert text in page
    assert page.count("<svg") == 10 + 1 + 1 + 1  # a plot per column, heatmaps, PCA, distances
    assert_self_contained(page)


def assert_self_contained(page: str) -> None:
    """No attribute or CSS that makes a browser fetch anything: only inline data and in-page anchors."""
    import re

    refs = re.findall(r"""(?:src|href|action|poster|data)\s*=\s*["']([^"']*)["']""", page, flags=re.I)
    refs += re.findall(r"url\(([^)]*)\)", page)
    refs += re.findall(r"@import", page)
    assert all(r.startswith(("#", "data:")) for r in refs), [r for r in refs if not r.startswith(("#", "data:"))]
    assert "<script" not in page.lower() and "<link" not in page.lower() and "<iframe" not in page.lower()


def test_readme_report_examples_run(con, tmp_path):
    """The SQL and Python examples of the README's report section, on the test patients table."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quality and privacy report", 1)[1].split("\n## ", 1)[0]
    load(con, "patients", make_patients())
    con.execute("CREATE TABLE patients_synth AS SELECT * FROM synthesize('patients', mode := 'strict', seed := 1)")
    statements = re.findall(r"^(SELECT \* FROM synth_\w+\('patients', 'patients_synth'\));", section, flags=re.M)
    assert len(statements) == 4
    for sql in statements:
        assert con.sql(sql).fetchall()
    python = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    namespace = {"duckdb_synth": duckdb_synth, "con": con}
    exec(python.replace('"report.html"', repr(str(tmp_path / "report.html"))), namespace)
    assert (tmp_path / "report.html").exists()


def test_a_synthesize_query_as_the_synthetic_source():
    """synth_report over 'SELECT * FROM synthesize(...)' must not wait for itself (it once deadlocked)."""
    import subprocess

    script = (
        "import duckdb, duckdb_synth\n"
        "from conftest import load, make_patients\n"
        "con = duckdb.connect(); duckdb_synth.register(con); load(con, 'patients', make_patients())\n"
        "q = \"SELECT metric, value FROM synth_privacy_report('patients', "
        "'SELECT * FROM synthesize(''patients'', mode := ''strict'', seed := 1)')\"\n"
        "print(dict(con.sql(q).fetchall())['Privacy guarantee'])\n"
        "con.close()\n"
    )
    here = Path(__file__).resolve().parent
    done = subprocess.run([sys.executable, "-c", script], cwd=here, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": f"{here.parent}:{here}"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == "3.0"


def test_diagnostics_name_the_columns_that_fail(con):
    table(con, "r", x=[float(i) for i in range(100)], c=["a", "b"] * 50, k=[f"id{i}" for i in range(100)])
    # 10 synthetic x outside the real range, 5 categories the real column never holds, 20 repeated ids
    table(con, "s", x=[float(i) for i in range(90)] + [150.0] * 10, c=["a", "b"] * 45 + ["zz"] * 10,
          k=[f"id{i}" for i in range(80)] + ["id0"] * 20)
    cols = {r[0]: r[1:] for r in con.sql("SELECT \"column\", diagnostic, adherence FROM "
                                          "synth_report_columns('r', 's')").fetchall()}
    assert cols == {"x": ("BoundaryAdherence", 0.9), "c": ("CategoryAdherence", 0.9), "k": ("KeyUniqueness", 0.8)}
    summary = dict(con.sql("SELECT property, explanation FROM synth_report('r', 's')").fetchall())
    assert "x (BoundaryAdherence 0.900), c (CategoryAdherence 0.900), k (KeyUniqueness 0.800)" in summary["Diagnostics"]
    assert scores(con.sql("SELECT * FROM synth_report('r', 's')"))["Diagnostics"] == pytest.approx(0.8)


def test_each_score_has_a_real_against_real_reference(con):
    load(con, "patients", make_patients())
    con.execute("CREATE TABLE twin AS SELECT * FROM patients")
    rows = {r[0]: r[1:] for r in con.sql("SELECT property, score, holdout FROM synth_report('patients', 'twin')"
                                          ).fetchall()}
    for prop in ("Column Shapes", "Column Pair Trends", "1-way marginals", "2-way marginals", "3-way marginals"):
        score, holdout = rows[prop]
        assert 0 < holdout < score == pytest.approx(1.0)  # half the rows against the other half: below a twin
    assert rows["Overall"][1] is None and rows["Diagnostics"][1] is None


# ---------------------------------------------------------------- DCR share against a holdout


def dcr_share(con, real: str, synth: str, holdout: str) -> tuple[float, float]:
    return con.sql(f"SELECT value, holdout FROM synth_privacy_report('{real}', '{synth}', holdout := '{holdout}') "
                   "WHERE metric = 'DCR share'").fetchall()[0]


def test_dcr_share_by_hand(con):
    # One number: 0.2 is nearer the training 0, 10.9 the held-out 11, 5 the held-out 1 (4 < 5). Standardizing
    # scales all distances alike, so the share is 1/3.
    table(con, "train", x=[0.0, 10.0])
    table(con, "held", x=[1.0, 11.0])
    table(con, "s", x=[0.2, 10.9, 5.0])
    assert dcr_share(con, "train", "s", "held") == (pytest.approx(1 / 3), 0.5)
    table(con, "tie", x=[0.5, 10.0, 11.0])  # 0.5 is a tie (counts half), 10.0 train, 11.0 holdout
    assert dcr_share(con, "train", "tie", "held")[0] == pytest.approx(0.5)
    table(con, "t2", c=["a", "b"], x=[0.0, 0.0])  # categories count too: 'a' on the training row, 'c' on neither
    table(con, "h2", c=["c", "d"], x=[0.0, 0.0])
    table(con, "s2", c=["a", "a", "c", None], x=[0.0, 0.0, 0.0, 0.0])
    assert dcr_share(con, "t2", "s2", "h2")[0] == pytest.approx((1 + 1 + 0 + 0.5) / 4)


def test_dcr_share_tells_a_copy_from_a_fresh_sample(con):
    load(con, "people", make_patients())
    load(con, "others", make_patients(seed=5))  # the same population, other people
    con.execute("CREATE TABLE train AS SELECT * FROM people WHERE id % 2 = 0")
    con.execute("CREATE TABLE held AS SELECT * FROM people WHERE id % 2 = 1")
    assert dcr_share(con, "train", "train", "held")[0] > 0.99  # the training rows themselves
    assert dcr_share(con, "train", "held", "held")[0] < 0.01
    # 400 other people against 200 + 200: over 14 seeds the share ran 0.45-0.55 (sd 0.027); 0.08 is 3 sd.
    assert abs(dcr_share(con, "train", "others", "held")[0] - 0.5) < 0.08
    assert "DCR share" not in con.sql("SELECT metric FROM synth_privacy_report('train', 'others')").fetchnumpy()[
        "metric"].tolist()


def test_dcr_share_in_python_and_bad_holdouts(con):
    load(con, "people", make_patients())
    con.execute("CREATE TABLE train AS SELECT * FROM people WHERE id % 2 = 0")
    con.execute("CREATE TABLE held AS SELECT * FROM people WHERE id % 2 = 1")
    rep = duckdb_synth.report(con, "train", "train", holdout="held")
    assert rep.holdout == "held"
    assert {r["metric"]: r["value"] for r in rep.privacy.to_pylist()}["DCR share"] > 0.99
    with pytest.raises(SchemaError, match=r"the holdout table \(a query\) does not match the real table 'train': "
                                          r"missing columns .*'sex'"):
        duckdb_synth.report(con, "train", "train", holdout="SELECT id FROM held")
    with pytest.raises(SourceError, match="the holdout table: no table or view named nope"):
        duckdb_synth.report(con, "train", "train", holdout="nope")
    with pytest.raises(DataError, match="the holdout table 'held' is empty"):
        con.execute("DELETE FROM held")
        duckdb_synth.report(con, "train", "train", holdout="held")


def test_ranges_are_shown_in_the_columns_own_terms(con):
    con.execute("CREATE TABLE t AS SELECT DATE '1960-02-29' + i::INT AS d, TIMESTAMP '2020-01-01 10:00:01' + i * "
                "INTERVAL 1 hour AS ts, TIMESTAMPTZ '2020-01-01 10:00:01.5+00' + i * INTERVAL 1 minute AS tz, "
                "TIME '01:02:03' + i * INTERVAL 1 second AS tm, i * 0.5 - 3 AS x, 'a' AS c FROM range(100) r(i)")
    got = {r[0]: r[1:] for r in con.sql("SELECT \"column\", real_range, synth_range FROM synth_report_columns('t', 't')"
                                        ).fetchall()}
    assert got == {"d": ("1960-02-29 .. 1960-06-07",) * 2,
                   "ts": ("2020-01-01 10:00:01 .. 2020-01-05 13:00:01",) * 2,
                   "tz": ("2020-01-01 10:00:01.500000+00 .. 2020-01-01 11:39:01.500000+00",) * 2,
                   "tm": ("01:02:03 .. 01:03:42",) * 2, "x": ("-3 .. 46.5",) * 2, "c": (None, None)}


def test_dates_past_the_year_9999_and_bc_are_reported(con, tmp_path):
    """Dates and timestamps are written in their type's own range now, so a DP copy of dates near 9999 holds some
    of the year 10000, and a table may hold BC dates: the report turned each min and max into a Python datetime,
    which holds neither, and raised OverflowError (the review of 25590cd). They are shown as DuckDB holds them."""
    con.execute("CREATE TABLE real AS SELECT DATE '9990-01-01' + (i % 3000)::INTEGER AS d, "
                "TIMESTAMP '0001-01-01' + to_days((i % 500)::INTEGER) AS ts FROM range(2000) r(i)")
    con.execute("CREATE TABLE synth AS SELECT DATE '9995-01-01' + (i % 3000)::INTEGER AS d, "
                "CAST('0005-01-01 (BC)' AS TIMESTAMP) + to_days((i % 9000)::INTEGER) AS ts FROM range(2000) r(i)")
    rep = duckdb_synth.report(con, "real", "synth", seed=0)
    rows = {r["column"]: r for r in rep.columns.to_pylist()}
    assert rows["d"]["score"] is not None and rows["ts"]["score"] is not None
    page = rep.to_html(tmp_path / "r.html").read_text()
    assert "10000-06-22" in page and "0005-01-01 (BC)" in page, "the synthetic max and min, as DuckDB writes them"


def test_infinite_dates_and_timestamps_are_compared_as_values(con, tmp_path):
    """A DATE's or TIMESTAMP's 'infinity' and '-infinity' (an open end) are values the copy keeps: the report read
    them as NULL (epoch() of an infinity is NULL), so a copy that lost a quarter of its rows' open ends scored as
    well as one that kept them. Read as +-inf, they count in the distributions and ranges, and show as such."""
    con.execute("""CREATE TABLE real AS SELECT CASE WHEN i % 10 = 0 THEN 'infinity'::DATE WHEN i % 10 = 1 THEN
                   '-infinity'::DATE ELSE DATE '2020-01-01' + (i % 300)::INT END AS d, CASE WHEN i % 4 = 0 THEN
                   'infinity'::TIMESTAMP ELSE TIMESTAMP '2020-01-01' + to_seconds(i) END AS ts FROM range(3000) r(i)""")
    con.execute("""CREATE TABLE kept AS SELECT * FROM real""")
    con.execute("""CREATE TABLE lost AS SELECT CASE WHEN i % 3 = 0 THEN 'infinity'::DATE ELSE DATE '2020-01-01' +
                   (i % 300)::INT END AS d, TIMESTAMP '2020-01-01' + to_seconds(i) AS ts FROM range(3000) r(i)""")
    rows = {r["column"]: r for r in duckdb_synth.report(con, "real", "lost", seed=0).columns.to_pylist()}
    # KS: 10 % -infinity and 10 % +infinity against none and a third; a quarter of +infinity against none
    assert rows["d"]["score"] == pytest.approx(1 - (0.9 - 2 / 3), abs=0.01)
    assert rows["ts"]["score"] == pytest.approx(0.75, abs=0.01)
    assert rows["d"]["real_range"] == "-infinity .. infinity" and rows["ts"]["synth_range"].endswith("00:49:59")
    same = {r["column"]: r["score"] for r in duckdb_synth.report(con, "real", "kept", seed=0).columns.to_pylist()}
    assert same == {"d": 1.0, "ts": 1.0}
    rep = duckdb_synth.report(con, "real", "lost", seed=0)
    assert "-infinity" in rep.to_html(tmp_path / "r.html").read_text()
    # and the marginals: +-inf buckets of their own (in the end bins they hid the loss: 1-way 1.0 for this one)
    con.execute("""CREATE TABLE finite AS SELECT CASE WHEN i % 4 = 0 THEN DATE '2020-10-26' ELSE d END AS d, ts
                   FROM (SELECT CASE WHEN i % 4 = 0 THEN 'infinity'::DATE ELSE DATE '2020-01-01' + (i % 300)::INT END
                   AS d, TIMESTAMP '2020-01-01' + to_seconds(i) AS ts, i FROM range(3000) r(i))""")
    con.execute("CREATE TABLE open AS SELECT CASE WHEN i % 4 = 0 THEN 'infinity'::DATE ELSE DATE '2020-01-01' + "
                "(i % 300)::INT END AS d, TIMESTAMP '2020-01-01' + to_seconds(i) AS ts FROM range(3000) r(i)")
    one = {r["property"]: r["score"] for r in duckdb_synth.report(con, "open", "finite", seed=0).summary.to_pylist()}
    assert one["1-way marginals"] == pytest.approx(1 - 0.25 / 2, abs=0.01)  # d: a quarter moved; ts the same


def test_a_bad_seed_or_run_is_refused_naming_it(con, tmp_path):
    """The review of 12d66b3: seed 'x' failed in numpy's SeedSequence (TypeError), seed -1 with a ValueError (a
    traceback from the CLI), and run='abc' in an attribute lookup."""
    table(con, "r", x=[1.0, 2.0, 3.0])
    for kwargs, message in (({"seed": "x"}, "seed must be an integer, got 'x'"), ({"seed": -1}, "seed must be >= 0"),
                            ({"run": "abc"}, "run must be the result of duckdb_synth.run")):
        with pytest.raises(duckdb_synth.OptionError, match=re.escape(message)):
            duckdb_synth.report(con, "r", "r", **kwargs)
    from click.testing import CliRunner

    from duckdb_synth.surfaces.cli import main

    db = tmp_path / "r.duckdb"
    duckdb.connect(str(db)).execute("CREATE TABLE r AS SELECT 1.0 AS x UNION ALL SELECT 2.0").close()
    result = CliRunner().invoke(main, ["report", str(db), "r", "r", "--seed", "-1"])
    assert result.exit_code == 1 and "seed must be >= 0, got -1" in result.output
    assert not isinstance(result.exception, ValueError)


def test_a_report_on_a_connection_with_a_result_left_unread() -> None:
    """The review of 1c489ef: after `con.execute(...).fetchone()` a run went on (``source.check_idle``) but a report
    failed, saying it could not read the real table ('Resource In Use Error: connection has an unfinished result')."""
    con = duckdb.connect()
    con.execute("CREATE TABLE f AS SELECT i % 50 AS x, i % 7 AS k FROM range(2000) r(i); CREATE TABLE s AS FROM f")
    assert con.execute("SELECT count(*) FROM f").fetchone() == (2000,)
    rep = duckdb_synth.report(con, "f", "s")
    assert rep.summary.num_rows > 0


def test_a_reports_domains_name_columns_ignoring_case() -> None:
    """The review of 4ab42dd: a run's domains read 'AGE' as column age, a report's refused it as no column."""
    con = duckdb.connect()
    con.execute("CREATE TABLE f AS SELECT 20 + i % 50 AS age, i % 7 AS k FROM range(2000) r(i); CREATE TABLE s AS FROM f")
    upper = duckdb_synth.report(con, "f", "s", domains={"AGE": [30, 40]})
    lower = duckdb_synth.report(con, "f", "s", domains={"age": [30, 40]})
    assert upper.columns.to_pylist() == lower.columns.to_pylist()
