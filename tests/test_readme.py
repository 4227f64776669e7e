"""Every code example of the README runs as written against the example database (`demo --db`)."""
from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

import duckdb_synth
from duckdb_synth.surfaces.cli import main
from duckdb_synth.surfaces.demo import write_example_db

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = [(lang, body) for lang, body in re.findall(r"```(\w*)\n(.*?)```", README.read_text(), re.S)
          if lang in ("sql", "python", "bash")]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The example database, with a synthetic copy to report on (as the README's report examples assume)."""
    path = tmp_path_factory.mktemp("readme") / "clinic.duckdb"
    write_example_db(str(path))
    con = duckdb.connect(str(path))
    try:
        duckdb_synth.register(con)
        con.execute("CREATE TABLE patients_synth AS SELECT * FROM synthesize('patients', seed := 1)")
    finally:
        con.close()
    return path


def test_the_readme_has_examples_of_each_kind():
    assert {lang for lang, _ in BLOCKS} == {"sql", "python", "bash"} and len(BLOCKS) >= 8


@pytest.mark.parametrize(("lang", "body"), BLOCKS, ids=[f"{i}-{lang}" for i, (lang, _) in enumerate(BLOCKS)])
def test_readme_example_runs(lang: str, body: str, template: Path, tmp_path: Path, monkeypatch) -> None:
    shutil.copy(template, tmp_path / "clinic.duckdb")
    (tmp_path / "script.sql").write_text("SELECT count(*) FROM patients;\n")
    monkeypatch.chdir(tmp_path)
    if lang == "bash":
        runner = CliRunner()
        ran = 0
        for line in body.splitlines():
            argv = shlex.split(line, comments=True)
            if not argv or argv[0] != "duckdb-synth":
                continue  # pip, pytest: the README's set-up commands, checked by .ci/run itself
            result = runner.invoke(main, argv[1:], input="")
            assert result.exit_code == 0, f"{line}\n{result.output}"
            ran += 1
        assert ran or "pip install" in body
        return
    con = duckdb.connect("clinic.duckdb")
    try:
        duckdb_synth.register(con)
        if lang == "sql":
            for statement in con.extract_statements(body):
                con.execute(statement)
                con.fetchall()
        else:
            exec(compile(body, "README.md", "exec"), {"con": con, "duckdb": duckdb, "duckdb_synth": duckdb_synth})
    finally:
        con.close()


@pytest.mark.parametrize("name", ["README.md", "docs/privacy.md"])
def test_no_paragraph_or_heading_twice(name: str) -> None:
    """A bad edit once repeated a page's sections (and once a paragraph 71,000 times)."""
    text = (README.parent / name).read_text()
    paragraphs = [p.strip() for p in text.split("\n\n") if len(p.strip()) > 80 and not p.lstrip().startswith("|")]
    twice = {p[:70] for p in paragraphs if paragraphs.count(p) > 1}
    assert not twice, twice
    headings = re.findall(r"^#+ .*$", text, re.M)
    assert len(headings) == len(set(headings)), [h for h in headings if headings.count(h) > 1]
    assert len(text) < 300_000
