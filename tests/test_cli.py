"""The command line, through click's CliRunner, on the real library.

Covers ``run`` (results, errors, stdin), ``shell`` (multi-line input, dot
commands, output modes, errors), ``synthesize`` (Parquet, CSV, tables, bad
input) and ``demo``, plus the statement splitter and the printers underneath.
"""
from __future__ import annotations

import os
import re

import logging
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from click.testing import CliRunner

import duckdb_synth
from duckdb_synth.surfaces import render, shell, statements
from duckdb_synth.surfaces.cli import main
from duckdb_synth.surfaces.demo import example_path

REPO = Path(__file__).resolve().parents[1]
PATIENT_COLUMNS = [
    "patient_id", "name", "email", "sex", "age", "birth_year", "smoker", "diagnosis", "visits", "bmi",
    "bill_amount", "admitted", "last_seen", "insurance",
]  # fmt: skip


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture()
def clinic(tmp_path: Path) -> Path:
    """A database file holding the bundled patients table."""
    db = tmp_path / "clinic.duckdb"
    con = duckdb.connect(str(db))
    try:
        con.execute(f"CREATE TABLE patients AS SELECT * FROM read_parquet('{example_path()}')")
    finally:
        con.close()
    return db


def query(db: Path, sql: str) -> list[tuple]:
    """Rows of a query on a database file, the connection closed after."""
    con = duckdb.connect(str(db))
    try:
        con.execute(sql)
        return con.fetchall()
    finally:
        con.close()


def library_error(**options: object) -> str:
    """The message the library itself gives for bad options on the patients table."""
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE patients AS SELECT * FROM read_parquet('{example_path()}')")
        with pytest.raises(duckdb_synth.SynthError) as info:
            duckdb_synth.run(con, "patients", **options)
    finally:
        con.close()
    return str(info.value)


# ---------------------------------------------------------------------------
# Statement splitting
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT 1; SELECT 2;", [("SELECT 1", 1), ("SELECT 2", 1)]),
        ("SELECT 'a;b';\nSELECT 2;", [("SELECT 'a;b'", 1), ("SELECT 2", 2)]),
        ("SELECT 'it''s; here';", [("SELECT 'it''s; here'", 1)]),
        ("SELECT E'x\\';y';", [("SELECT E'x\\';y'", 1)]),
        ('SELECT "odd;name" FROM t;', [('SELECT "odd;name" FROM t', 1)]),
        ("-- first; comment\nSELECT 1; -- tail; comment\nSELECT 2;", [("SELECT 1", 2), ("SELECT 2", 3)]),
        ("/* a; /* nested; */ b; */ SELECT 1;\n\nSELECT 2;", [("SELECT 1", 1), ("SELECT 2", 3)]),
        ("SELECT 'multi\nline;'\n;\nSELECT 3;", [("SELECT 'multi\nline;'", 1), ("SELECT 3", 4)]),
        (";;  ;\n-- only comments\n/* here */", []),
        ("SELECT 1;\nSELECT 2", [("SELECT 1", 1), ("SELECT 2", 2)]),
    ],
)
def test_split_statements(text: str, expected: list[tuple[str, int]]) -> None:
    assert [(s.sql, s.line) for s in statements.split_statements(text)] == expected


def test_split_numbers_statements_and_marks_the_unterminated_last() -> None:
    found = statements.split_statements("SELECT 1;\n.tables\nSELECT 2;\nSELECT 3")
    assert [(s.number, s.dot, s.terminated) for s in found] == [
        (1, False, True),
        (2, True, True),
        (3, False, True),
        (4, False, False),
    ]


def test_dot_command_only_at_the_start_of_a_statement() -> None:
    found = statements.split_statements("SELECT\n.5 AS x;\n  .mode csv\nSELECT 1;")
    assert [(s.sql, s.dot, s.line) for s in found] == [
        ("SELECT\n.5 AS x", False, 1),
        (".mode csv", True, 3),
        ("SELECT 1", False, 4),
    ]


@pytest.mark.parametrize(
    ("text", "pending"),
    [
        ("SELECT 1;", False),
        ("SELECT 1", True),
        ("SELECT 'a;", True),
        ("SELECT 1; /* open; comment", True),
        ("SELECT 1; -- done", False),
    ],
)
def test_scan_says_when_more_input_is_needed(text: str, pending: bool) -> None:
    assert statements.scan(text).pending is pending


def test_first_line_of_a_long_statement() -> None:
    (statement,) = statements.split_statements("SELECT a,\n  b FROM t;")
    assert statement.first_line == "SELECT a, …"


# ---------------------------------------------------------------------------
# Errors and printing
# ---------------------------------------------------------------------------


def test_clean_error_unwraps_a_synth_error_raised_inside_sql() -> None:
    exc = duckdb.InvalidInputException(
        "Invalid Input Error: Python exception occurred while executing the UDF: OptionError: unknown mode "
        "'fast'\n\nLINE 1: SELECT * FROM synthesize('t', mode := 'fast')\n              ^^^^"
    )
    assert shell.clean_error(exc) == "Error: unknown mode 'fast'"


def test_clean_error_keeps_other_exceptions_visible() -> None:
    bug = duckdb.InvalidInputException(
        "Invalid Input Error: Python exception occurred while executing the UDF: KeyError: 'x'"
    )
    assert shell.clean_error(bug).endswith("KeyError: 'x'")
    catalog = duckdb.CatalogException("Catalog Error: Table with name nope does not exist!")
    assert shell.clean_error(catalog) == "Catalog Error: Table with name nope does not exist!"


def test_box_rendering() -> None:
    result = render.Grid(["id", "name"], ["INTEGER", "VARCHAR"], [("1", "ann"), ("22", None)], 2)
    assert render.render_box(result) == "\n".join(
        [
            "┌───────┬─────────┐",
            "│  id   │  name   │",
            "│ int32 │ varchar │",
            "├───────┼─────────┤",
            "│     1 │ ann     │",
            "│    22 │ NULL    │",
            "└───────┴─────────┘",
        ]
    )


def test_box_shows_head_and_tail_of_a_long_result() -> None:
    con = duckdb.connect()
    try:
        table = pa.table({"i": pa.array(range(100), pa.int64())})
        text = render.render_box(render.make_grid(con, ["i"], ["BIGINT"], table, max_rows=40))
    finally:
        con.close()
    lines = text.splitlines()
    values = [line.strip("│ ") for line in lines[4:-3]]
    assert values[:20] == [str(i) for i in range(20)]
    assert values[20:23] == ["·"] * 3
    assert values[23:] == [str(i) for i in range(80, 100)]
    assert "100 rows (40 shown)" in lines[-2]


def test_box_leaves_out_middle_columns_to_fit_the_terminal() -> None:
    grid = render.Grid([f"col{i}" for i in range(12)], ["INTEGER"] * 12, [tuple(str(i) for i in range(12))], 1)
    lines = render.render_box(grid, max_width=60).splitlines()
    assert max(render.display_width(line) for line in lines) <= 60
    assert [c.strip() for c in lines[1].strip("│").split("│")] == ["col0", "col1", "col2", "…", "col9", "col10", "col11"]
    assert "12 columns (6 shown)" in lines[-2]


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------


def test_run_prints_each_result(runner: CliRunner, tmp_path: Path) -> None:
    script = tmp_path / "script.sql"
    script.write_text(
        "CREATE TABLE t(id INTEGER, label VARCHAR, price DECIMAL(6,2));\n"
        "INSERT INTO t VALUES (1, 'semi;colon', 9.5), (2, NULL, 12);\n"
        "SELECT * FROM t ORDER BY id;\n"
        "SELECT count(*) AS n FROM t;\n"
    )
    result = runner.invoke(main, ["run", str(tmp_path / "db.duckdb"), str(script)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "┌───────┬────────────┬──────────────┐\n"
        "│  id   │   label    │    price     │\n"
        "│ int32 │  varchar   │ decimal(6,2) │\n"
        "├───────┼────────────┼──────────────┤\n"
        "│     1 │ semi;colon │         9.50 │\n"
        "│     2 │ NULL       │        12.00 │\n"
        "└───────┴────────────┴──────────────┘\n"
        "┌───────┐\n"
        "│   n   │\n"
        "│ int64 │\n"
        "├───────┤\n"
        "│     2 │\n"
        "└───────┘\n"
    )


def test_run_stops_at_the_first_error(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    script = tmp_path / "script.sql"
    script.write_text(
        "CREATE TABLE t(a INTEGER);\n"
        "INSERT INTO t VALUES (1);\n"
        "-- the next statement fails\n"
        "\n"
        "INSERT INTO nope\n"
        "  VALUES (2);\n"
        "INSERT INTO t VALUES (3);\n"
    )
    result = runner.invoke(main, ["run", str(db), str(script)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Catalog Error: Table with name nope does not exist!")
    assert result.stderr.endswith(f"  in statement 3 at line 5 of {script}: INSERT INTO nope …\n")
    assert query(db, "SELECT a FROM t ORDER BY a") == [(1,)]


def test_run_reads_the_script_from_stdin(runner: CliRunner) -> None:
    result = runner.invoke(main, ["run", ":memory:", "-"], input=".mode csv\nSELECT 42 AS answer, 'a,b' AS s;\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == 'answer,s\n42,"a,b"\n'


def test_run_reports_a_synth_error_as_one_clean_line(runner: CliRunner, clinic: Path) -> None:
    message = library_error(mode="fast")
    script = "SELECT 1 AS ok;\nSELECT * FROM synthesize('patients', mode := 'fast');\n"
    result = runner.invoke(main, ["run", str(clinic), "-"], input=script)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {message}\n"
        "  in statement 2 at line 2 of <stdin>: SELECT * FROM synthesize('patients', mode := 'fast')\n"
    )


def test_run_synthesizes_from_sql(runner: CliRunner, clinic: Path) -> None:
    script = (
        "CREATE TABLE copy AS SELECT * FROM synthesize('patients', mode := 'strict',\n"
        "    masks := {'email': 'email'}, rows := 150, seed := 3);\n"
        ".mode csv\n"
        "SELECT count(*) AS n FROM copy;\n"
    )
    result = runner.invoke(main, ["run", str(clinic), "-"], input=script)
    assert result.exit_code == 0, result.output
    assert result.stdout == "n\n150\n"
    assert query(clinic, "SELECT count(*) FROM copy") == [(150,)]


def test_quickstart_example_runs(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = runner.invoke(main, ["run", ":memory:", "examples/quickstart.sql"])
    assert result.exit_code == 0, result.output
    assert "synthetic" in result.stdout
    assert "strict" in result.stdout


# ---------------------------------------------------------------------------
# shell
# ---------------------------------------------------------------------------


def test_shell_multi_line_statements_dot_commands_and_csv(runner: CliRunner, tmp_path: Path) -> None:
    session = (
        "CREATE TABLE t(a INTEGER,\n"
        "               b VARCHAR);\n"
        "INSERT INTO t VALUES (1, 'x'), (2, 'y,z'), (3, NULL);\n"
        ".tables\n"
        ".mode csv\n"
        "SELECT *\n"
        "FROM t\n"
        "ORDER BY a;\n"
        ".quit\n"
        "SELECT 'not run';\n"
    )
    result = runner.invoke(main, ["shell", str(tmp_path / "db.duckdb")], input=session)
    assert result.exit_code == 0, result.output
    assert result.stdout == 't\na,b\n1,x\n2,"y,z"\n3,\n'
    assert result.stderr == ""


def test_shell_line_and_markdown_modes_and_schema(runner: CliRunner) -> None:
    session = (
        "CREATE TABLE t(id INTEGER, pet VARCHAR);\n"
        "INSERT INTO t VALUES (7, 'ann');\n"
        ".schema t\n"
        ".mode line\n"
        "FROM t;\n"
        ".mode markdown\n"
        "FROM t;\n"
    )
    result = runner.invoke(main, ["shell"], input=session)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "CREATE TABLE t(id INTEGER, pet VARCHAR);\n"
        " id = 7\n"
        "pet = ann\n"
        "| id  | pet |\n"
        "|----:|-----|\n"
        "|   7 | ann |\n"
    )


def test_shell_prints_errors_and_goes_on(runner: CliRunner, clinic: Path) -> None:
    message = library_error(mode="fast")
    session = (
        "SELECT * FROM nope;\n"
        ".nope\n"
        ".mode fancy\n"
        "SELECT * FROM synthesize('patients', mode := 'fast');\n"
        ".mode csv\n"
        "SELECT 1 AS still_here;\n"
    )
    result = runner.invoke(main, ["shell", str(clinic)], input=session)
    # (piped in, it goes on past the errors and says them in its exit status: it had ended with 0, the review of
    # 12d66b3; a script with no error ends with 0)
    assert result.exit_code == 1, result.output
    assert result.stdout == "still_here\n1\n"
    assert result.stderr.startswith("Catalog Error: Table with name nope does not exist!")
    assert 'Error: unknown command ".nope"' in result.stderr
    assert "Error: unknown mode 'fancy'; use one of box, csv, line, markdown, list\n" in result.stderr
    assert f"\nError: {message}\n" in result.stderr
    assert runner.invoke(main, ["shell", str(clinic)], input=".mode csv\nSELECT 1 AS ok;\n").exit_code == 0


def test_shell_read_runs_a_file(runner: CliRunner, tmp_path: Path) -> None:
    script = tmp_path / "setup.sql"
    script.write_text("CREATE TABLE r AS SELECT 5 AS v;\n.mode csv\nSELECT v FROM r;\n")
    result = runner.invoke(main, ["shell"], input=f".read {script}\nSELECT v + 1 AS w FROM r;\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "v\n5\nw\n6\n"


def test_shell_read_of_a_file_that_reads_itself_is_an_error_not_a_crash(runner: CliRunner, tmp_path: Path) -> None:
    """The review of 1c489ef: `.read self.sql` inside self.sql (or two files reading each other) ended the shell in a
    RecursionError traceback, and the statements after it never ran."""
    (tmp_path / "a.sql").write_text(f"SELECT 1 AS a;\n.read {tmp_path / 'b.sql'}\n")
    (tmp_path / "b.sql").write_text(f".read {tmp_path / 'a.sql'}\n")
    result = runner.invoke(main, ["shell"], input=f".mode csv\n.read {tmp_path / 'a.sql'}\nSELECT 42 AS after;\n")
    assert result.exit_code == 1 and "is already being read" in result.output, result.output
    assert "RecursionError" not in result.output and result.stdout.endswith("after\n42\n"), result.output


def test_shell_runs_a_last_statement_without_semicolon(runner: CliRunner) -> None:
    result = runner.invoke(main, ["shell"], input=".mode csv\nSELECT 3 AS x")
    assert result.exit_code == 0, result.output
    assert result.stdout == "x\n3\n"


# ---------------------------------------------------------------------------
# synthesize
# ---------------------------------------------------------------------------


def test_synthesize_to_parquet(runner: CliRunner, clinic: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = runner.invoke(
        main,
        ["synthesize", str(clinic), "patients", "--mode", "strict", "--mask", "email=email",
         "--rows", "120", "--seed", "1", "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "mode strict" in result.stderr
    assert f"120 rows written to {out} in " in result.stderr
    con = duckdb.connect()
    try:
        con.execute(f"SELECT * FROM read_parquet('{out}')")
        assert [d[0] for d in con.description] == PATIENT_COLUMNS
        assert len(con.fetchall()) == 120
    finally:
        con.close()


def test_quiet_prints_no_warning(runner: CliRunner, tmp_path: Path, caplog) -> None:
    """-q/--quiet printed the run's logged warnings all the same (a free-text column's); now nothing but errors."""
    db = tmp_path / "q.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT 'id-' || i AS code, (i % 50)::INTEGER AS age FROM range(2000) r(i)")
    con.close()
    args = ["synthesize", str(db), "t", "--mode", "strict", "--no-ledger", "-o", str(tmp_path / "q.parquet")]
    loud = runner.invoke(main, args)
    assert loud.exit_code == 0 and "has no frequent value" in caplog.text
    caplog.clear()
    quiet = runner.invoke(main, [*args, "-q"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == "" and quiet.stdout == "" and "has no frequent value" not in caplog.text
    assert logging.getLogger("duckdb_synth").level == logging.NOTSET  # (set back after the command)


def test_synthesize_to_csv(runner: CliRunner, clinic: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["synthesize", str(clinic), "patients", "--rows", "80", "--seed", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0].split(",") == PATIENT_COLUMNS
    assert len(lines) == 81


def test_synthesize_to_a_table(runner: CliRunner, clinic: Path) -> None:
    args = ["synthesize", str(clinic), "patients", "--mode", "strictest", "--rows", "60", "--seed", "3"]
    result = runner.invoke(main, [*args, "--table", "synth"])
    assert result.exit_code == 0, result.output
    assert query(clinic, "SELECT count(*) FROM synth") == [(60,)]
    assert query(clinic, "SELECT column_name, column_type FROM (DESCRIBE synth)") == query(
        clinic, "SELECT column_name, column_type FROM (DESCRIBE patients)"
    )

    again = runner.invoke(main, [*args, "--table", "synth"])
    assert again.exit_code == 1
    assert again.stderr == f"Error: table 'synth' already exists in {clinic}; use --replace to replace it\n"

    replaced = runner.invoke(main, [*args[:-4], "--rows", "70", "--table", "synth", "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert query(clinic, "SELECT count(*) FROM synth") == [(70,)]


@pytest.mark.parametrize(
    ("flags", "out_name", "options"),
    [
        (["--mask", "email=emial"], "out.csv", {"masks": {"email": "emial"}}),
    ],
    ids=["unknown-mask-kind"],
)
def test_synthesize_bad_option_writes_nothing(runner: CliRunner, clinic: Path, tmp_path: Path, flags: list[str],
                                              out_name: str, options: dict) -> None:
    out = tmp_path / out_name
    result = runner.invoke(main, ["synthesize", str(clinic), "patients", *flags, "-o", str(out)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {library_error(**options)}\n"
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinic.duckdb"]


def test_synthesize_bad_mode_lists_the_modes_and_epsilon(runner: CliRunner, clinic: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = runner.invoke(main, ["synthesize", str(clinic), "patients", "--mode", "stric", "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: Invalid value for '--mode': unknown mode 'stric' (did you mean 'strict'?); "
                                  "valid modes: balanced, strict, strictest (or --epsilon X for a custom budget)\n")
    assert not out.exists()
    assert "[balanced|strict|strictest]" in runner.invoke(main, ["synthesize", "--help"]).output


def test_synthesize_prints_a_summary_quiet_or_every_step(runner: CliRunner, clinic: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "out.parquet")
    base = ["synthesize", str(clinic), "patients", "--mode", "strict", "--seed", "1", "-o", out]
    default, quiet, verbose = (runner.invoke(main, base + extra) for extra in ([], ["-q"], ["-v"]))
    assert default.exit_code == quiet.exit_code == verbose.exit_code == 0
    lines = default.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("mode strict: (3, 1e-06)-differential privacy; spent epsilon")
    assert "SEEDED" in lines[0] and "WHERE run_id = 1" in lines[0] and "rows written to" in lines[1]
    assert quiet.stderr == "" and quiet.stdout == ""
    assert len(verbose.stderr.splitlines()) > 10 and "row count" in verbose.stderr
    assert runner.invoke(main, base + ["-q", "-v"]).exit_code == 2


def test_synthesize_malformed_mask(runner: CliRunner, clinic: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["synthesize", str(clinic), "patients", "--mask", "email", "-o", str(out)])
    assert result.exit_code == 2
    expected = "Error: Invalid value for '--mask': 'email' is not COL=KIND, e.g. --mask email=email\n"
    assert result.stderr.endswith(expected)
    assert not out.exists()


def test_synthesize_unknown_output_format(runner: CliRunner, clinic: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    result = runner.invoke(main, ["synthesize", str(clinic), "patients", "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr.endswith(
        f"Error: Invalid value for '-o' / '--output': cannot tell the format of '{out}': "
        "use a .parquet or .csv file name\n"
    )
    assert not out.exists()


def test_synthesize_needs_one_destination(runner: CliRunner, clinic: Path, tmp_path: Path) -> None:
    result = runner.invoke(main, ["synthesize", str(clinic), "patients"])
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: give exactly one of -o/--output FILE and --table NAME\n")


def test_synthesize_missing_database_is_not_created(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "nope.duckdb"
    result = runner.invoke(main, ["synthesize", str(db), "patients", "-o", str(tmp_path / "o.parquet")])
    assert result.exit_code == 1
    assert result.stderr == f"Error: database '{db}' does not exist\n"
    assert not db.exists()


def test_synthesize_missing_source(runner: CliRunner, clinic: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    result = runner.invoke(main, ["synthesize", str(clinic), "nope", "-o", str(out)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "nope" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_synthesize_progress(runner: CliRunner, clinic: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    args = ["synthesize", str(clinic), "patients", "--rows", "50", "--seed", "4", "-o", str(out)]
    shown = runner.invoke(main, [*args, "--progress"])
    assert shown.exit_code == 0, shown.output
    assert "100%" in shown.stderr
    hidden = runner.invoke(main, args)
    assert "100%" not in hidden.stderr


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------


def test_demo(runner: CliRunner) -> None:
    result = runner.invoke(main, ["demo", "--rows", "200", "--seed", "5"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for mode in ("balanced", "strict", "strictest"):
        assert f"│ {mode} " in out
    assert " statistic " in out and " real " in out
    assert "corr(age, bill_amount)" in out
    (rows_line,) = [line for line in out.splitlines() if line.startswith("│ rows ")]
    assert [cell.strip() for cell in rows_line.strip("│").split("│")] == ["rows", "3,000", "200", "200", "200"]
    assert "SELECT * FROM synthesize('my_table'" in out
    assert "duckdb-synth synthesize my.duckdb my_table" in out
    assert [f"  synthesizing in mode {m} ..." for m in ("balanced", "strict", "strictest")] == \
        [line for line in out.splitlines() if line.startswith("  synthesizing")]  # progress, mode by mode
    (cost,) = [line for line in out.splitlines() if line.startswith("What privacy costs here: ")]
    pairs = [float(x) for x in re.findall(r"trends (\d\.\d+) \(balanced\) -> (\d\.\d+)", cost)[0]]
    assert 0 < pairs[1] <= 1 and 0 < pairs[0] <= 1


def test_demo_writes_the_example_database(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "clinic.duckdb"
    assert runner.invoke(main, ["demo", "--db", str(db)]).exit_code == 0
    assert query(db, "SELECT count(*), count(DISTINCT patient_id) FROM visits")[0][1] == 3000
    assert query(db, "SELECT count(*) FROM patients") == [(3000,)]
    again = runner.invoke(main, ["demo", "--db", str(db)])
    assert again.exit_code == 1 and "exists; give a new file name" in again.stderr


def test_bundled_example_has_the_documented_types() -> None:
    con = duckdb.connect()
    try:
        con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{example_path()}'))")
        types = dict(con.fetchall())
        con.execute(f"SELECT count(*), count(DISTINCT patient_id) FROM read_parquet('{example_path()}')")
        assert con.fetchall() == [(3000, 3000)]
    finally:
        con.close()
    assert types == {
        "patient_id": "INTEGER", "name": "VARCHAR", "email": "VARCHAR", "sex": "VARCHAR", "age": "INTEGER",
        "birth_year": "SMALLINT", "smoker": "BOOLEAN", "diagnosis": "VARCHAR", "visits": "INTEGER",
        "bmi": "DOUBLE", "bill_amount": "DECIMAL(10,2)", "admitted": "DATE", "last_seen": "TIMESTAMP",
        "insurance": "VARCHAR",
    }  # fmt: skip


# ---------------------------------------------------------------- what the machine does: one line, nothing left


def test_replacing_the_source_with_its_own_copy_is_refused(runner: CliRunner, clinic: Path) -> None:
    before = query(clinic, "SELECT count(*), sum(age) FROM patients")
    for source in ("patients", "SELECT * FROM patients WHERE age > 30"):
        result = runner.invoke(main, ["synthesize", str(clinic), source, "--table", "patients", "--replace"])
        assert result.exit_code == 1 and "the source reads table 'patients'" in result.output, result.output
    assert query(clinic, "SELECT count(*), sum(age) FROM patients") == before


def test_writing_the_copy_over_the_source_file_is_refused(runner: CliRunner, clinic: Path, tmp_path: Path) -> None:
    """The review of 1c489ef: `-o data.parquet` with data.parquet as the source (a pattern or a view reading it) replaced the
    real rows with synthetic ones, rc 0 (641 distinct ids of 1,000 came back). Refused before the run; another file
    is written."""
    data = tmp_path / "data.parquet"
    duckdb.sql(f"COPY (SELECT i::INTEGER AS id, (i % 7)::INTEGER AS a FROM range(1000) r(i)) TO '{data}' (FORMAT parquet)")
    before = data.read_bytes()
    con = duckdb.connect(str(clinic))
    con.execute(f"CREATE VIEW over_file AS SELECT * FROM read_parquet('{data}') WHERE a > 0")
    con.close()
    os.link(data, tmp_path / "hard.parquet")  # (a hard link to it: the review of 4ab42dd)
    for source in (str(data), str(tmp_path / "*.parquet"), "over_file", str(tmp_path / "hard.parquet")):
        result = runner.invoke(main, ["synthesize", str(clinic), source, "-o", str(data), "--seed", "1"])
        assert result.exit_code == 1 and "the source reads that file" in result.output, result.output
    assert data.read_bytes() == before
    result = runner.invoke(main, ["synthesize", str(clinic), str(data), "-o", str(tmp_path / "copy.parquet"), "--seed", "1"])
    assert result.exit_code == 0, result.output


def test_replacing_the_source_through_a_view_is_refused(runner: CliRunner, clinic: Path) -> None:
    """The review of 12d66b3: a view over the table (or a query over such a view) read the table unseen, and
    `--table patients --replace` overwrote the real rows with synthetic ones."""
    con = duckdb.connect(str(clinic))
    con.execute("CREATE VIEW adults AS SELECT * FROM patients WHERE age >= 18")
    con.execute("CREATE VIEW older AS SELECT name, age FROM adults WHERE age > 60")
    con.close()
    before = query(clinic, "SELECT count(*), sum(age) FROM patients")
    for source in ("adults", "SELECT * FROM older"):
        result = runner.invoke(main, ["synthesize", str(clinic), source, "--mode", "strict", "--table", "PATIENTS",
                                      "--replace"])
        assert result.exit_code == 1 and "the source reads table 'PATIENTS' (or a view over it)" in result.output, \
            result.output
    assert query(clinic, "SELECT count(*), sum(age) FROM patients") == before
    assert query(clinic, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'duckdb_synth'") == [(0,)]


def test_the_source_guard_reads_views_sqlglot_cannot_and_names_with_spaces(runner: CliRunner, tmp_path: Path) -> None:
    """The review of 48d815d: a view holding a lambda (which sqlglot cannot parse) counted as reading any table, so
    every --table was refused; and '--table "my table" --replace' over the source "my table" replaced it, the guard
    reading the name as 'my' aliased."""
    db = tmp_path / "g.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT range % 10 AS a, [range % 3, 1] AS l FROM range(500)")
    con.execute("CREATE VIEW v AS SELECT a, list_transform(l, lambda x: x + 1)[1] AS m FROM t")
    con.execute('CREATE TABLE "my table" AS SELECT range % 10 AS a, range % 7 AS b FROM range(500)')
    con.close()
    assert runner.invoke(main, ["synthesize", str(db), "v", "--table", "fresh", "--seed", "1"]).exit_code == 0
    for source, table in (("v", "t"), ('"my table"', "my table")):
        result = runner.invoke(main, ["synthesize", str(db), source, "--table", table, "--replace", "--seed", "1"])
        assert result.exit_code == 1 and f"the source reads table '{table}'" in result.output, result.output
    # the real rows, as made: a = i % 10 and b = i % 7 for i in 0..499
    assert query(db, 'SELECT count(*), sum(a), sum(b) FROM "my table"') == [(500, 2250, sum(i % 7 for i in range(500)))]


def test_an_output_that_cannot_be_written_is_refused_before_the_run(runner: CliRunner, clinic: Path,
                                                                      tmp_path: Path) -> None:
    """The review of 12d66b3: a schema that does not exist, a view to --replace, or a directory no file can be made in
    passed the checks; the run spent its budget (recorded 'done') and then failed to write."""
    con = duckdb.connect(str(clinic))
    con.execute("CREATE VIEW v AS SELECT 1 AS a")
    con.close()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = [(["--table", "nosuch.out"], "cannot create table \"nosuch\".\"out\": Catalog Error: Schema with name nosuch"),
             (["--table", "v", "--replace"], "--table v: 'v' is a view; --replace replaces tables only"),
             (["-o", str(tmp_path)], "is a directory")]
    if os.geteuid() != 0:  # (root writes anywhere)
        cases.append((["-o", str(locked / "out.parquet")], f"cannot write in '{locked}'"))
    for extra, message in cases:
        result = runner.invoke(main, ["synthesize", str(clinic), "patients", "--mode", "strict", *extra])
        assert result.exit_code != 0 and message in result.output, (extra, result.output)
    assert query(clinic, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'duckdb_synth'") == [(0,)]
    assert query(clinic, "SELECT table_name FROM duckdb_tables() ORDER BY 1") == [("patients",)]
    assert not [p for p in tmp_path.rglob("*.tmp")]  # (the check's file is gone)
    # a name the write itself takes is not refused by the check (a longer probe's name refused 240-243 characters:
    # the review of 48d815d); nor a table name with a quote that quotes nothing
    long = tmp_path / ("x" * 233 + ".parquet")
    result = runner.invoke(main, ["synthesize", str(clinic), "patients", "--rows", "10", "--seed", "1", "-o", str(long)])
    assert result.exit_code == 0 and long.exists(), result.output
    result = runner.invoke(main, ["synthesize", str(clinic), "patients", "--rows", "10", "--seed", "1", "--table", 'q"t'])
    assert result.exit_code == 0 and query(clinic, 'SELECT count(*) FROM "q""t"') == [(10,)], result.output


def test_table_names_are_read_as_sql_reads_them(runner: CliRunner, clinic: Path) -> None:
    """The review of 12d66b3: `--table ''` and 'main.' ended in DuckDB's parser error with a traceback, and '"x.y"'
    was split at its quoted dot."""
    args = ["synthesize", str(clinic), "patients", "--rows", "10", "--seed", "1"]
    for bad in ("", "main.", "a.b.c.d"):
        result = runner.invoke(main, [*args, "--table", bad])
        assert result.exit_code == 2 and f"'{bad}' is not a table name" in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    for good, made in (('"x.y"', "x.y"), ('main."My T"', "My T"), ("My Table", "My Table")):
        result = runner.invoke(main, [*args, "--table", good])
        assert result.exit_code == 0, result.output
        assert query(clinic, f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{made}'") == [(1,)]


def test_a_failing_csv_write_is_one_line_and_leaves_no_file(runner: CliRunner, clinic: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self, *args, **kwargs):
        raise duckdb.IOException("IO Error: Could not write file: No space left on device")

    monkeypatch.setattr(duckdb.DuckDBPyRelation, "write_csv", full)
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["synthesize", str(clinic), "patients", "-o", str(out), "--seed", "1"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "cannot write" in result.output and "No space left on device" in result.output
    assert "Traceback" not in result.output and sorted(p.name for p in tmp_path.iterdir()) == ["clinic.duckdb"]


def test_an_interrupt_is_one_line(runner: CliRunner, clinic: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args, **kwargs):
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr(duckdb_synth, "run", interrupted)
    result = runner.invoke(main, ["synthesize", str(clinic), "patients", "--table", "copy"])
    assert result.exit_code == 130 and "Interrupted" in result.output and "Traceback" not in result.output
    assert query(clinic, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'copy'") == [(0,)]


def test_a_failed_report_write_leaves_no_part_of_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page holds real statistics: a full disk must not leave half of it in a hidden file."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE patients AS SELECT * FROM read_parquet('{example_path()}')")
    rep = duckdb_synth.report(con, "patients", "patients")
    con.close()

    def full(self, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", full)
    with pytest.raises(OSError):
        rep.to_html(tmp_path / "r.html")
    assert list(tmp_path.iterdir()) == []


def test_sigterm_leaves_no_file_and_no_scratch_folder(tmp_path: Path) -> None:
    """A killed run used to leave its .tmp output and its scratch folder (with synthetic rows) behind."""
    import signal
    import subprocess
    import sys
    import tempfile

    db = tmp_path / "big.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT (i % 97)::VARCHAR AS a, (i * 7919 % 1000) / 10.0 AS b, i % 13 AS c "
                "FROM range(300000) r(i)")
    con.close()
    cmd = [sys.executable, "-m", "duckdb_synth.surfaces.cli", "synthesize", str(db), "t", "-o",
           str(tmp_path / "out.parquet"), "--mode", "strict", "--seed", "1", "--progress"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=str(REPO))
    seen = ""
    while "measuring" not in seen:  # the progress line: the run is under way, in the middle of the stages
        ch = proc.stderr.read(1)
        assert ch, seen
        seen += ch
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    err = seen + err
    assert proc.returncode == 143 and err.strip().endswith("Terminated") and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.duckdb"]
    assert not list(Path(tempfile.gettempdir()).glob(f"duckdb_synth_{proc.pid}_*"))


def test_synthesize_to_a_table_keeps_enum_and_hugeint(runner: CliRunner, tmp_path: Path) -> None:
    db = tmp_path / "types.duckdb"
    c = duckdb.connect(str(db))
    c.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    c.execute("CREATE TABLE t AS SELECT (['sad', 'ok', 'happy'])[1 + i % 3]::mood AS m, "
              "(i * 1000000000000)::HUGEINT AS h, (i % 5)::UTINYINT AS u FROM range(300) r(i)")
    c.close()
    result = runner.invoke(main, ["synthesize", str(db), "t", "--table", "t2", "--seed", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert query(db, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't2' "
                     "ORDER BY ordinal_position") == \
        query(db, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't' "
                  "ORDER BY ordinal_position")


def test_shell_timer_summary_history_and_completion(runner: CliRunner, clinic: Path, tmp_path: Path,
                                                    monkeypatch) -> None:
    from duckdb_synth.surfaces import cli as cli_module

    script = (".timer on\nSELECT count(*) AS n FROM synthesize('patients', mode := 'strict',\n  seed := 1);\n"
              ".timer off\nSELECT 42;\n.timer sometimes\n")
    result = runner.invoke(main, ["shell", str(clinic)], input=script)
    assert result.exit_code == 1, result.output  # (the last command is an error)
    assert result.stdout.count("Run Time (s): real ") == 1  # the first statement only
    assert "Error: .timer takes on or off" in result.stderr
    summary = [line for line in result.stderr.splitlines() if line.startswith("synthesize: ")]
    assert len(summary) == 1 and "rows in" in summary[0] and "spent epsilon 3.0000" in summary[0]
    assert "SeededRunWarning" not in result.stderr
    # history: one entry per statement, kept in a file across sessions
    monkeypatch.setenv("DUCKDB_SYNTH_HISTORY", str(tmp_path / "history"))
    con = duckdb.connect(str(clinic))
    try:
        editing = cli_module._LineEditing(con)
        editing.add("SELECT *\n  FROM patients\n  WHERE age > 3")
        editing.save()
        assert (tmp_path / "history").read_text().splitlines()[-1] == "SELECT * FROM patients WHERE age > 3"
        words = cli_module.completion_words(con)
        assert {"patients", "synthesize", "synth_budget"} <= set(words)
        assert any(w in words for w in ("age", "sex"))  # columns
        assert editing.complete("synth_b", 0) == "synth_budget" and editing.complete("synth_b", 1) is None
    finally:
        con.close()
    assert cli_module._interrupted(duckdb.InterruptException("INTERRUPT Error: Interrupted!"))
    assert not cli_module._interrupted(duckdb.CatalogException("no table"))


@pytest.mark.parametrize(("args", "message"), [
    (["--engine", "spark", "t.parquet", "extra", "-o", "o.parquet"], "give SOURCE alone, not a DB"),
    (["--engine", "spark", "t.parquet", "-o", "o.csv"], "write a .parquet file or a directory"),
    (["--engine", "spark", "t.parquet", "-o", "o.parquet", "--report", "r.html"], "--report reads both tables"),
    (["--engine", "spark", "t.parquet"], "give exactly one of -o/--output PATH"),
    (["--engine", "spark", "t.parquet", "--no-ledger", "-o", "o.parquet"], "keeps no ledger"),
    (["db.duckdb", "t", "--spark-master", "local[1]", "-o", "o.parquet"], "--spark-master applies to --engine spark"),
    (["db.duckdb", "-o", "o.parquet"], "Missing argument 'SOURCE'"),
    (["--engine", "spark", "t.parquet", "--budget", "5", "-o", "o.parquet"], "a Spark run keeps no ledger"),
    (["--engine", "spark", "t.parquet", "--epsilon", "-1", "-o", "o.parquet"], "epsilon"),
])
def test_spark_engine_usage_errors_before_spark_starts(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["synthesize", *args])
    assert result.exit_code != 0 and message in result.output, result.output
    assert not list(tmp_path.iterdir())
