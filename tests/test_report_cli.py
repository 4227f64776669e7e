"""The report on the command line: ``duckdb-synth report`` and ``duckdb-synth synthesize --report``."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from conftest import load, make_patients
from duckdb_synth.surfaces.cli import main
from test_report import assert_self_contained


@pytest.fixture()
def clinic(tmp_path: Path) -> Path:
    """A database file with the test patients table and an exact copy of it."""
    db = tmp_path / "clinic.duckdb"
    con = duckdb.connect(str(db))
    try:
        load(con, "patients", make_patients())
        con.execute("CREATE TABLE twin AS SELECT * FROM patients")
    finally:
        con.close()
    return db


def test_report_prints_the_scores_and_writes_the_page(clinic, tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(clinic), "patients", "twin", "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Column", "Shapes", "1.000"]
    assert lines[-1].split() == ["Overall", "1.000"]
    page = out.read_text(encoding="utf-8")
    assert "Not from a recorded run" in page
    assert_self_contained(page)


def test_report_without_output_only_prints(clinic, tmp_path):
    result = CliRunner().invoke(main, ["report", str(clinic), "patients", "SELECT * FROM twin"])
    assert result.exit_code == 0, result.output
    assert "Overall" in result.stdout
    assert list(tmp_path.glob("*.html")) == []


@pytest.mark.parametrize("args, message", [
    (["patients", "SELECT id, sex FROM twin", "-o", "r.html"], "Error: the synthetic table (a query) does not match"),
    (["patients", "nope", "-o", "r.html"], "Error: the synthetic table: no table or view named nope"),
    (["patients", "twin", "-o", "r.txt"], "'r.txt' is not an .html file name"),
    (["patients", "twin", "-o", "nowhere/r.html"], "directory 'nowhere' does not exist"),
])
def test_report_refuses_bad_input_and_writes_nothing(clinic, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["report", str(clinic), *args])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "r.txt").exists()


def test_synthesize_with_report(clinic, tmp_path):
    out, page = tmp_path / "out.parquet", tmp_path / "report.html"
    result = CliRunner().invoke(main, ["synthesize", str(clinic), "patients", "--mode", "strict", "--seed", "1",
                                       "--mask", "email=email", "-o", str(out), "--report", str(page)])
    assert result.exit_code == 0, result.output
    assert out.exists()
    assert f"report written to {page}" in result.stderr
    text = page.read_text(encoding="utf-8")
    assert "Mode strict: (3, 1e-06)-differential privacy" in text
    assert str(out) in text  # the page names the copy written, not a view made for it
    assert_self_contained(text)


def test_synthesize_refuses_a_bad_report_path_before_spending(clinic, tmp_path):
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(main, ["synthesize", str(clinic), "patients", "-o", str(out),
                                       "--report", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2
    assert "is not an .html file name" in result.output
    assert not out.exists()


def test_report_with_a_holdout_prints_the_dcr_share(clinic, tmp_path):
    con = duckdb.connect(str(clinic))
    try:
        con.execute("CREATE TABLE train AS SELECT * FROM patients WHERE id % 2 = 0")
        con.execute("CREATE TABLE held AS SELECT * FROM patients WHERE id % 2 = 1")
    finally:
        con.close()
    result = CliRunner().invoke(main, ["report", str(clinic), "train", "train", "--holdout", "held"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if "DCR share" in x)
    assert float(line.split()[2]) > 0.99
    bad = CliRunner().invoke(main, ["report", str(clinic), "train", "train", "--holdout", "SELECT id FROM held"])
    assert bad.exit_code != 0 and "the holdout table (a query) does not match" in " ".join(bad.output.split())
