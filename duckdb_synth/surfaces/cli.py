"""The ``duckdb-synth`` command line: a thin layer over the library.

Commands::

    duckdb-synth run DB SCRIPT.sql       run every statement of a script
    duckdb-synth shell [DB]              interactive SQL shell
    duckdb-synth synthesize DB SOURCE    write a synthetic copy to a file or table
    duckdb-synth report DB REAL SYNTH    quality and privacy report (-o report.html)
    duckdb-synth demo                    synthesize the bundled example table

Every error a user can cause is reported as one ``Error: ...`` line (or, for a
failing SQL statement, DuckDB's message and where the statement is) with exit
code 1; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import dataclasses
import decimal
import json
import logging
import math
import os
import shutil
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
import duckdb
import pyarrow.compute as pc

import duckdb_synth

from ..engine.decode import cast_projection
from ..engine.source import budget_key, is_view, reads_table
from ..errors import OptionError, SynthError, did_you_mean
from ..options import MODES, parse_options
from ..pipeline import SeededRunWarning
from ..privacy import store
from .sql import set_progress
from . import render, statements
from .shell import CommandError, Quit, ScriptError, Session, clean_error

OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


class ScriptFailed(click.ClickException):
    """A statement of a script failed: DuckDB's message, then where the statement is."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the message as is: it carries its own label (``Error:``, ``Catalog Error:``)."""
        click.echo(self.format_message(), err=True, file=file)


@contextmanager
def _connect(db: str, *, must_exist: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open a DuckDB database with the package's functions registered; close it after.

    Args:
        db: A database file, or ``:memory:``.
        must_exist: Refuse a file that does not exist instead of creating it.

    Raises:
        click.ClickException: The database cannot be opened.
    """
    if must_exist and db != ":memory:" and not Path(db).exists():
        raise click.ClickException(f"database '{db}' does not exist")
    try:
        con = duckdb.connect(db)
    except duckdb.Error as exc:
        raise click.ClickException(f"cannot open database '{db}': {_one_line(exc)}") from exc
    try:
        duckdb_synth.register(con)
        yield con
    finally:
        con.close()


def _terminal_width() -> int | None:
    """Columns of the terminal stdout writes to; None when it is not a terminal."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split())


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that files half written are removed on the way out."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


class _Commands(click.Group):
    """The command group: what the machine does to a run (Ctrl-C, SIGTERM, memory) is one line, not a
    traceback, and leaves no file half written."""

    def invoke(self, ctx: click.Context) -> Any:
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
        try:
            return super().invoke(ctx)
        except _Terminated:
            click.echo("Terminated", err=True)
            ctx.exit(143)
        except (KeyboardInterrupt, duckdb.InterruptException):
            click.echo("Interrupted", err=True)
            ctx.exit(130)
        except (MemoryError, duckdb.OutOfMemoryException) as exc:
            raise click.ClickException(f"out of memory ({_one_line(exc) or 'MemoryError'}): make fewer rows "
                                       "(--rows) or synthesize fewer columns at a time") from exc
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="duckdb-synth")
def main() -> None:
    """Differentially private synthetic copies of DuckDB tables."""


# ---------------------------------------------------------------------------
# run and shell
# ---------------------------------------------------------------------------


@main.command()
@click.argument("db")
@click.argument("script", type=click.File("r", encoding="utf-8"))
def run(db: str, script: IO[str]) -> None:
    """Run every statement of SCRIPT (a file, or - for stdin) on database DB.

    Results are printed as DuckDB's shell prints them. At the first error the
    script stops: nothing after the failing statement runs, and the exit code
    is 1. Dot commands (.mode csv, .read FILE, ...) work as in the shell.
    """
    text = script.read()
    origin = "<stdin>" if script.name == "<stdin>" else script.name
    with _connect(db) as con:
        session = Session(con, click.echo, max_width=_terminal_width())
        try:
            session.run_script(text, origin)
        except Quit:
            pass
        except ScriptError as exc:
            raise ScriptFailed(exc.describe()) from exc


@main.command()
@click.argument("db", default=":memory:")
def shell(db: str) -> None:
    """Interactive SQL shell on database DB (default: in memory).

    Statements end with ';'. Enter .help for the dot commands. Reads from
    stdin when it is not a terminal, printing no prompts, going on past an
    error and exiting with status 1 if there was one. History (one entry per
    statement) is kept in ~/.duckdb_synth_history (or $DUCKDB_SYNTH_HISTORY); Tab
    completes table, column and function names.
    """
    interactive = sys.stdin.isatty()
    with _connect(db) as con:
        session = Session(con, click.echo, max_width=_terminal_width())
        history = _LineEditing(con) if interactive else None
        bar = _ProgressLine() if interactive else None
        set_progress(con, bar)
        if interactive:
            click.echo(f'duckdb-synth shell on {db}. Enter ".help" for usage hints.')
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SeededRunWarning)  # the summary after each run says it
                failed = _repl(session, interactive, history, bar)
        finally:
            set_progress(con, None)
            if history is not None:
                history.save()
    if failed and not interactive:  # a script piped in goes on past an error, and says so in its exit status (it
        # had ended with 0: the review of 12d66b3), as sqlite3's and DuckDB's shells do
        raise SystemExit(1)


SQL_WORDS = ("SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "LIMIT", "CREATE TABLE", "AS", "WITH", "JOIN",
             "DESCRIBE", "SUMMARIZE", "COPY", "TO", "INSERT INTO", "VALUES", "mode :=", "epsilon :=", "masks :=",
             "rows :=", "seed :=", "privacy_unit :=", "max_rows_per_unit :=", "budget :=", "'strict'",
             "'strictest'", "'balanced'")


def completion_words(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What Tab completes: table, view and column names, function names, and a few SQL words."""
    cur = con.cursor()
    try:
        names = cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT internal UNION SELECT view_name FROM duckdb_views() "
            "WHERE NOT internal UNION SELECT column_name FROM duckdb_columns() WHERE NOT internal "
            "UNION SELECT function_name FROM duckdb_functions() WHERE NOT starts_with(function_name, '_')"
        ).fetchall()
    finally:
        cur.close()
    ours = ("synthesize", "synth_runs", "synth_budget", "synth_set_budget", "synth_report", "synth_report_columns",
            "synth_report_pairs", "synth_privacy_report")  # TEMP macros: a cursor does not list them
    return sorted({n for (n,) in names if n} | set(SQL_WORDS) | set(ours))


class _LineEditing:
    """readline for the shell: history saved across sessions, one entry a statement; Tab completion."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.path = Path(os.environ.get("DUCKDB_SYNTH_HISTORY", Path.home() / ".duckdb_synth_history"))
        self.words: list[str] = []
        try:
            import readline
        except ImportError:  # pragma: no cover - platform without readline
            self.readline = None
            return
        self.readline = readline
        readline.set_auto_history(False)  # whole statements are added, not their lines
        try:
            readline.read_history_file(self.path)
        except OSError:
            pass
        readline.set_completer_delims(" \t\n(),;.'\"=")
        readline.set_completer(self.complete)
        readline.parse_and_bind("tab: complete")

    def add(self, statement: str) -> None:
        if self.readline is not None and statement.strip():
            self.readline.add_history(history_entry(statement))

    def complete(self, text: str, state: int) -> str | None:
        if state == 0:
            try:
                self.words = completion_words(self.con)
            except duckdb.Error:
                self.words = list(SQL_WORDS)
        low = text.lower()
        hits = [w for w in self.words if w.lower().startswith(low)]
        return hits[state] if state < len(hits) else None

    def save(self) -> None:
        if self.readline is not None:
            try:
                self.readline.set_history_length(5000)
                self.readline.write_history_file(self.path)
            except OSError:
                pass


def history_entry(statement: str) -> str:
    """A statement as one history entry: its lines joined (recalled whole with the up arrow)."""
    return " ".join(line.strip() for line in statement.strip().splitlines() if line.strip())


def _repl(session: Session, interactive: bool, history: _LineEditing | None = None,
          bar: _ProgressLine | None = None) -> bool:
    """Read lines, run each complete statement, print errors and go on; whether any statement failed."""
    buffer, failed = "", False
    while True:
        prompt = "· " if buffer.strip() else "D "
        try:
            line = input(prompt) if interactive else _read_line()
        except EOFError:
            break
        except KeyboardInterrupt:
            click.echo()
            buffer = ""
            continue
        buffer += line + "\n"
        found = statements.scan(buffer)
        buffer = buffer[found.rest :] if found.pending else ""
        try:
            for statement in found.statements:
                if history is not None:
                    history.add(statement.sql)
                failed = not _run_interactive(session, statement, bar) or failed
        except Quit:
            return failed
        except KeyboardInterrupt:
            if bar is not None:
                bar.close()
            click.echo("interrupted", err=True)
    if buffer.strip():
        tail = statements.scan(buffer).tail
        if tail is not None:
            try:
                failed = not _run_interactive(session, tail, bar) or failed
            except Quit:
                return failed
    if interactive:
        click.echo()
    return failed


def _read_line() -> str:
    """One line of stdin without its newline; EOFError at the end."""
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n").rstrip("\r")


def _run_interactive(session: Session, statement: statements.Statement, bar: _ProgressLine | None = None) -> bool:
    """Run a statement in the shell: an error is printed and the shell goes on; after a statement that ran
    synthesize(), one line per run: rows made and what was spent. Whether it ran without an error."""
    before = len(duckdb_synth.runs(session.con))
    ok = False
    try:
        if statement.dot:
            session.dot(statement.sql)
        else:
            session.execute(statement.sql)
        ok = True
    except ScriptError as exc:  # from .read
        click.echo(exc.describe(), err=True)
    except CommandError as exc:
        click.echo(str(exc), err=True)
    except (duckdb.Error, SynthError) as exc:
        if bar is not None:
            bar.close()
        click.echo("interrupted" if _interrupted(exc) else clean_error(exc), err=True)
    finally:
        if bar is not None:
            bar.close()
    for rec in duckdb_synth.runs(session.con)[before:]:
        click.echo(f"synthesize: {rec.rows_out:,} rows in {rec.seconds:.1f} s; {rec.spend.summary(rec.run_id)}",
                   err=True)
    return ok


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C while DuckDB ran the statement (or inside our UDF, which DuckDB wraps)."""
    return isinstance(exc, duckdb.InterruptException) or "KeyboardInterrupt" in str(exc)


# ---------------------------------------------------------------------------
# synthesize
# ---------------------------------------------------------------------------


def _parse_masks(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str] | None:
    """Turn ``--mask COL=KIND`` options into a dict, refusing malformed ones."""
    masks: dict[str, str] = {}
    for spec in values:
        column, sep, kind = spec.partition("=")
        column, kind = column.strip(), kind.strip()
        if not sep or not column or not kind:
            raise click.BadParameter(f"'{spec}' is not COL=KIND, e.g. --mask email=email", ctx=ctx, param=param)
        if column in masks:
            raise click.BadParameter(f"column '{column}' is masked twice", ctx=ctx, param=param)
        masks[column] = kind
    return masks or None


def _parse_marginals(ctx: click.Context, param: click.Parameter,
                     values: tuple[str, ...]) -> list[tuple[list[str], float]] | None:
    """Turn ``--marginal a,b[:WEIGHT]`` options into the workload, refusing malformed ones."""
    out: list[tuple[list[str], float]] = []
    for spec in values:
        cols, sep, weight = spec.rpartition(":") if ":" in spec else (spec, "", "")
        names = [c.strip() for c in cols.split(",")]
        if not all(names):
            raise click.BadParameter(f"'{spec}' is not COL,COL[,...][:WEIGHT], e.g. --marginal age,sex:2",
                                     ctx=ctx, param=param)
        try:
            w = float(weight) if sep else 1.0
        except ValueError:
            raise click.BadParameter(f"'{spec}': the weight after ':' must be a number, got '{weight}'",
                                     ctx=ctx, param=param) from None
        out.append((names, w))
    return out or None


def _parse_sums(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[dict] | None:
    """Turn ``--sum GROUP,GROUP:COL[:LO,HI]`` options into the workload's sums, refusing malformed ones."""
    out: list[dict] = []
    example = "e.g. --sum dept:salary:0,200000 (the total of salary per dept, values clamped to [0, 200000])"
    for spec in values:
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not parts[1].strip():
            raise click.BadParameter(f"'{spec}' is not GROUP[,GROUP...]:COLUMN[:LO,HI], {example}", ctx=ctx, param=param)
        group = [c.strip() for c in parts[0].split(",")] if parts[0].strip() else []
        if not all(group):
            raise click.BadParameter(f"'{spec}': a group column is empty, {example}", ctx=ctx, param=param)
        item: dict = {"columns": group, "sum": parts[1].strip()}
        if len(parts) == 3:
            bounds = parts[2].split(",")
            try:
                item["clamp"] = [float(b) for b in bounds]
            except ValueError:
                raise click.BadParameter(f"'{spec}': the clamp after the second ':' is LO,HI (two numbers), {example}",
                                         ctx=ctx, param=param) from None
        out.append(item)
    return out or None


def _parse_domains(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict | None:
    """Turn ``--domain COL=JSON`` (or ``--domain JSON-OBJECT``) options into the domains option; the
    library checks what each says."""
    out: dict = {}
    example = "e.g. --domain 'age=[0,120]' or --domain 'state=[\"CA\",\"NY\"]'"
    for spec in values:
        text = spec.strip()
        if text.startswith("{"):
            try:
                given = json.loads(text, parse_float=decimal.Decimal)  # bounds as written (options._from_json)
            except json.JSONDecodeError as exc:
                raise click.BadParameter(f"'{spec}' is not a JSON object: {exc.msg}", ctx=ctx, param=param) from None
        else:
            column, sep, value = text.partition("=")
            column = column.strip()
            if not sep or not column or not value.strip():
                raise click.BadParameter(f"'{spec}' is not COL=JSON, {example}", ctx=ctx, param=param)
            try:
                given = {column: json.loads(value, parse_float=decimal.Decimal)}
            except json.JSONDecodeError:
                raise click.BadParameter(f"'{spec}': the domain after '=' is not JSON (quote strings: "
                                         f"[\"CA\", \"NY\"]), {example}", ctx=ctx, param=param) from None
        if not isinstance(given, dict):
            raise click.BadParameter(f"'{spec}' is not COL=JSON nor a JSON object, {example}", ctx=ctx, param=param)
        for column in given:
            if column in out:
                raise click.BadParameter(f"column '{column}' has two domains", ctx=ctx, param=param)
        out.update(given)
    return out or None


class _ProgressLine:
    """A one-line progress display on stderr, redrawn by the run's progress callback."""

    WIDTH = 30

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, stage: str, fraction: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        filled = int(round(fraction * self.WIDTH))
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        click.echo(f"\r{stage[:14]:<14} [{bar}] {fraction:4.0%}", nl=False, err=True)
        self.shown = True

    def close(self) -> None:
        """End the line, so what follows starts on a fresh one."""
        if self.shown:
            click.echo(err=True)
            self.shown = False


def _quote_table(name: str) -> str:
    """Quote a table name, each part as an identifier (``_table_parts``)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in _table_parts(name))


def _table_parts(name: str) -> list[str]:
    """A --table name's [database, [schema,]] name parts: split at its dots, or, where it quotes a part
    ('"x.y"', 'main."My Table"'), as SQL reads it. An empty part, or more than three, is refused before anything
    runs (`--table ''` and 'main.' had ended in DuckDB's parser error and a traceback; '"x.y"' was split in two: the
    review of 12d66b3)."""
    import sqlglot
    from sqlglot import exp

    if '"' in name:
        try:
            parts = [p.name for p in sqlglot.parse_one(name, into=exp.Table, read="duckdb").parts]
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
            parts = name.split(".")  # ('q"t', a quote that quotes nothing: its own name, as before; the review of
            # 48d815d)
    else:
        parts = name.split(".")
    if not parts or len(parts) > 3 or any(not p.strip() for p in parts):
        raise click.BadParameter(f"'{name}' is not a table name: give NAME, SCHEMA.NAME or DATABASE.SCHEMA.NAME "
                                 "(quote a part that holds a dot: '\"x.y\"')", param_hint="'--table'")
    return parts


class _Mode(click.Choice):
    """The privacy modes, as a choice whose error also points at --epsilon."""

    def __init__(self) -> None:
        super().__init__(list(MODES), case_sensitive=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"unknown mode {value!r}{did_you_mean(str(value).lower(), MODES)}; valid modes: "
                      f"{', '.join(MODES)} (or --epsilon X for a custom budget)", param, ctx)


def _privacy_options(command: Callable) -> Callable:
    """--mode, --epsilon and --delta, as every command that runs the synthesizer takes them."""
    command = click.option("--delta", type=float, help="The δ of a private run (default 1e-6).")(command)
    command = click.option("--epsilon", type=float, help="Custom (ε, δ) differential privacy: the ε.")(command)
    return click.option("--mode", type=_Mode(),
                        help="Privacy mode: balanced (default), strict (ε=3) or strictest (ε=1).")(command)


def _relation_exists(con: duckdb.DuckDBPyConnection, quoted: str) -> bool:
    """True if a table or view of that (quoted) name exists."""
    try:
        con.execute(f"DESCRIBE {quoted}")
        con.fetchall()
    except duckdb.CatalogException:
        return False
    return True


def _check_target_table(con: duckdb.DuckDBPyConnection, quoted: str, table: str, db: str, *, replace: bool) -> None:
    """Refuse, before a run spends anything, a --table its output could not be written to: one that exists (without
    --replace), a view, or a name DuckDB cannot create (a schema that does not exist, a read-only database), which
    it is asked to create in a transaction rolled back at once. A run had spent its budget and then failed at
    CREATE TABLE (the review of 12d66b3)."""
    if _relation_exists(con, quoted):
        if not replace:
            raise click.ClickException(f"table '{table}' already exists in {db}; use --replace to replace it")
        if is_view(con, tuple(_table_parts(table))):
            raise click.ClickException(f"--table {table}: '{table}' is a view; --replace replaces tables only")
        return
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"CREATE TABLE {quoted} (__duckdb_synth_probe INTEGER)")
        finally:
            con.execute("ROLLBACK")
    except duckdb.Error as exc:
        raise click.ClickException(f"cannot create table {quoted}: {_one_line(exc)}") from exc


@main.command()
@click.argument("db")
@click.argument("source", required=False)
@_privacy_options
@click.option(
    "--mask",
    "masks",
    multiple=True,
    metavar="COL=KIND",
    callback=_parse_masks,
    help="Fill column COL with random values of KIND (email, name, phone, ...). Repeatable.",
)
@click.option("--rows", type=int, help="Rows to generate (default: about as many as the source).")
@click.option("--seed", type=int, help="Seed, for a reproducible run (tests only: real runs draw from the OS).")
@click.option(
    "--marginal",
    "marginals",
    multiple=True,
    metavar="COLS[:W]",
    callback=_parse_marginals,
    help="Spend the budget on this marginal (comma-separated columns, optional weight after ':'), "
    "e.g. --marginal age,sex --marginal diagnosis,age,insurance:2. Repeatable; default: all 2- and 3-way "
    "marginals.",
)
@click.option(
    "--sum",
    "sums",
    multiple=True,
    metavar="GROUP:COL[:LO,HI]",
    callback=_parse_sums,
    help="Also measure the total of numeric column COL per group of the GROUP columns (comma-separated; empty "
    "for the grand total), each value clamped to [LO, HI] (default: the column's range), and make the copy's "
    "totals meet them, e.g. --sum dept:salary:0,200000. Repeatable.",
)
@click.option(
    "--constraint",
    "constraints",
    multiple=True,
    metavar="RULE",
    help="A rule every synthetic row keeps, as SQL: 'age >= 18', 'admitted <= discharged', 'total = net + tax' "
    "(computed, not modelled). Public: costs nothing. Repeatable.",
)
@click.option(
    "--domain",
    "domains",
    multiple=True,
    metavar="COL=JSON",
    callback=_parse_domains,
    help="A public domain, costing no budget: the column's values, --domain 'state=[\"CA\",\"NY\"]', or its "
    "range, --domain 'age=[0,120]' or 'lat={\"min\":44.8,\"max\":45.1}' (dates as ISO strings); values "
    "outside are clamped. Repeatable, or one JSON object.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this .parquet or .csv file (replaced if it exists).",
)
@click.option("--privacy-unit", metavar="COL",
              help="The column naming the person a row belongs to: the guarantee protects a person, not a row "
              "(needs --max-rows-per-unit).")
@click.option("--max-rows-per-unit", type=int, metavar="K",
              help="With --privacy-unit: keep at most K rows per unit (the rest dropped at random); noise grows "
              "with K.")
@click.option("--budget", type=float, metavar="EPS",
              help="The source's total ε in DB's ledger: set if it has none, else the lower applies; a run that "
              "would pass it is refused before it reads.")
@click.option("--ledger/--no-ledger", default=True, show_default=True,
              help="Record the run in DB's ledger (--no-ledger: a DP run on a read-only DB; you account for it).")
@click.option("--table", help="Write to this table of DB instead of a file.")
@click.option("--replace", is_flag=True, help="Replace --table if it exists.")
@click.option("--progress/--no-progress", default=None, help="Show progress (default: when stderr is a terminal).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("-v", "--verbose", is_flag=True, help="Print every step of the privacy record, not a summary.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True,
              help="Where the data is read: DuckDB, or Spark (then give SOURCE only: a table of the Spark catalog "
              "or a .parquet/.csv/.json path; needs the 'spark' extra and Java 17+).")
@click.option("--spark-master", metavar="URL", help="With --engine spark: the Spark master (default local[*]).")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the quality and privacy report of the copy to this .html file.",
)
def synthesize(
    db: str,
    source: str,
    mode: str | None,
    epsilon: float | None,
    delta: float | None,
    masks: dict[str, str] | None,
    rows: int | None,
    seed: int | None,
    marginals: list[tuple[list[str], float]] | None,
    sums: list[dict] | None,
    constraints: tuple[str, ...],
    domains: dict | None,
    output: Path | None,
    privacy_unit: str | None,
    max_rows_per_unit: int | None,
    budget: float | None,
    ledger: bool,
    table: str | None,
    replace: bool,
    progress: bool | None,
    quiet: bool,
    verbose: bool,
    engine: str,
    spark_master: str | None,
    report_path: Path | None,
) -> None:
    """Write a synthetic copy of SOURCE from database DB to a file or a table.

    SOURCE is a table or view name, one read-only SELECT/WITH query, or a
    .parquet/.csv/.json file. The privacy spent is printed to stderr.

    \b
    Examples:
      duckdb-synth synthesize clinic.duckdb patients --mode strict --mask email=email -o out.parquet
      duckdb-synth synthesize clinic.duckdb "SELECT age, sex FROM patients" --epsilon 2 --table ages_synth
      duckdb-synth synthesize clinic.duckdb patients --mode strict -o out.parquet --report report.html
      duckdb-synth synthesize clinic.duckdb visits --mode strict --privacy-unit patient_id --max-rows-per-unit 5 -o v.parquet
      duckdb-synth synthesize --engine spark --spark-master local[2] events.parquet --mode strict -o out/
    """
    if quiet and verbose:
        raise click.UsageError("give at most one of -q/--quiet and -v/--verbose")
    verbosity = -1 if quiet else 1 if verbose else 0
    if sums:
        marginals = [*(marginals or []), *sums]
    if engine == "spark":
        if source is not None:
            raise click.UsageError("--engine spark reads SOURCE through Spark: give SOURCE alone, not a DB")
        _synthesize_on_spark(db, spark_master, dict(
            mode=mode, epsilon=epsilon, delta=delta, masks=masks, rows=rows, seed=seed, marginals=marginals,
            domains=domains, privacy_unit=privacy_unit, max_rows_per_unit=max_rows_per_unit, budget=budget,
            constraints=list(constraints) or None),
            output=output, table=table, replace=replace, verbosity=verbosity, progress=progress,
            report_path=report_path, ledger=ledger)
        return
    if spark_master is not None:
        raise click.UsageError("--spark-master applies to --engine spark only")
    if source is None:
        raise click.UsageError("Missing argument 'SOURCE'.")
    if report_path is not None:
        _check_html_path(report_path, "'--report'")
    if (output is None) == (table is None):
        raise click.UsageError("give exactly one of -o/--output FILE and --table NAME")
    if replace and table is None:
        raise click.UsageError("--replace applies to --table only (an output file is always replaced)")
    fmt = _output_format(output)
    show_progress = (sys.stderr.isatty() and not quiet) if progress is None else progress

    with _logs_quiet(quiet), _connect(db, must_exist=True) as con:
        quoted = _quote_table(table) if table is not None else ""
        # Checked before the run, so no privacy budget is spent on a run whose output cannot be written.
        if table is not None:
            _check_target_table(con, quoted, table, db, replace=replace)
            if reads_table(source, _table_parts(table)[-1], con):
                raise click.ClickException(f"--table {table}: the source reads table '{table}' (or a view over it), "
                                           "which the synthetic copy would replace; write to another table")
        elif _reads_file(con, source, output):
            raise click.ClickException(f"-o {output}: the source reads that file, which the synthetic copy would "
                                       "replace; write to another file")
        bar = _ProgressLine() if show_progress else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SeededRunWarning)  # the summary and the record say it
                res = duckdb_synth.run(
                    con, source, mode=mode, epsilon=epsilon, delta=delta, masks=masks, rows=rows, seed=seed,
                    marginals=marginals, domains=domains, privacy_unit=privacy_unit,
                    max_rows_per_unit=max_rows_per_unit, budget=budget, ledger=ledger,
                    constraints=list(constraints) or None, progress=bar)
        except SynthError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            if bar is not None:
                bar.close()
        if output is not None:
            assert fmt is not None
            _write_file(con, res.output.reader(), output, fmt)
            target = str(output)
        else:
            _write_table(con, res.output.reader(), quoted, replace=replace, types=res.types)
            target = f"table {table}"
        if verbosity > 0:
            click.echo(res.spend.format(), err=True)
        if verbosity >= 0:
            if verbosity == 0:
                click.echo(res.spend.summary(res.run_id), err=True)
            click.echo(f"{res.num_rows:,} rows written to {target} in {res.seconds:.2f} s", err=True)
            for rel in res.sums:
                noise = f"noise sigma {rel.sigma:,.4g}" if rel.sigma else "exact"
                click.echo(f"{rel.label}: {rel.totals.size} group totals of values in [{rel.clamp[0]:g}, "
                           f"{rel.clamp[1]:g}] ({noise}), met by the copy", err=True)
        if report_path is not None:
            written = None
            if res.output.batched:  # not held in memory: the report reads what was written
                written = str(output) if output is not None else quoted
            _report_of_run(con, source, res, target, report_path, written)


def _synthesize_on_spark(source: str, master: str | None, options: dict, *, output: Path | None, table: str | None,
                         replace: bool, verbosity: int, progress: bool | None, report_path: Path | None,
                         ledger: bool) -> None:
    """``synthesize --engine spark``: the run on Spark, written as one Parquet file, a Parquet directory or a
    table of the Spark catalog. Everything is checked before Spark starts or the source is read."""
    if report_path is not None:
        raise click.UsageError("--report reads both tables through DuckDB: with --engine spark, write the copy to "
                               "a .parquet file and run duckdb-synth report on it and the source")
    if not ledger:
        raise click.UsageError("--no-ledger: a Spark run keeps no ledger anyway (its spend is printed)")
    if (output is None) == (table is None):
        raise click.UsageError("give exactly one of -o/--output PATH (a .parquet file or a directory) and --table NAME")
    if replace and table is None:
        raise click.UsageError("--replace applies to --table only")
    file_out = output is not None and output.suffix.lower() == ".parquet"
    if output is not None:
        if output.suffix and not file_out:
            raise click.BadParameter(f"'{output}': with --engine spark, write a .parquet file or a directory",
                                     param_hint="'-o' / '--output'")
        if not output.parent.is_dir():
            raise click.BadParameter(f"directory '{output.parent}' does not exist", param_hint="'-o' / '--output'")
        if not file_out and output.exists():
            raise click.BadParameter(f"'{output}' exists: Spark writes a new directory", param_hint="'-o' / '--output'")
    try:
        from .. import spark as spark_api

        spark_api._pyspark()
        private = parse_options(**{k: v for k, v in options.items() if k != "budget"}).private
        if options.get("budget") is not None:
            raise OptionError("--budget: a Spark run keeps no ledger, so no budget to check or set; its spend is "
                              "printed")
    except ImportError as exc:
        raise click.ClickException(str(exc)) from exc
    except SynthError as exc:  # checked before Spark starts
        raise click.ClickException(str(exc)) from exc
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master(master or "local[*]").appName("duckdb-synth")
               .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    # Spark logs a task that fails on a row with the row's value: not in DP modes.
    session.sparkContext.setLogLevel("OFF" if private else "ERROR")
    show_progress = (sys.stderr.isatty() and verbosity >= 0) if progress is None else progress
    bar = _ProgressLine() if show_progress else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SeededRunWarning)
            got = spark_api.run(session, source, path=output if file_out else None, progress=bar, **options)
    except SynthError as exc:
        if bar is not None:
            bar.close()
        raise click.ClickException(str(exc)) from exc
    try:
        if table is not None:
            got.dataframe.write.mode("overwrite" if replace else "errorifexists").saveAsTable(table)
            target = f"Spark table {table}"
        elif not file_out:
            got.dataframe.write.parquet(str(output.resolve()))  # not the JVM's working directory
            target = f"{output} (Parquet directory)"
        else:
            target = str(output)
    except SynthError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:  # a Spark write that fails (a table that exists, a path it cannot write)
        if type(exc).__module__.startswith(("pyspark", "py4j")):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise click.ClickException(f"Spark could not write the copy: {first[:300]}") from None
        raise
    finally:
        if bar is not None:
            bar.close()
    res = got.result
    if verbosity > 0:
        click.echo(res.spend.format(), err=True)
    if verbosity >= 0:
        if verbosity == 0:
            click.echo(res.spend.summary(where="--verbose"), err=True)
        click.echo(f"{res.num_rows:,} rows written to {target} in {res.seconds:.2f} s (Spark)", err=True)


def _report_of_run(con: duckdb.DuckDBPyConnection, source: str, res: Any, target: str, path: Path,
                   written: str | None = None) -> None:
    """Write the report of a run's rows (with their exact types) against its source: the rows in memory,
    or those `written` (a table or a file, for an output made batch by batch)."""
    from ..engine.decode import cast_projection

    name = "__duckdb_synth_report_rows"
    if written is None:
        con.register(name, res.table)
    try:
        rows = written or f"SELECT {cast_projection(res.types)} FROM {name}"
        rep = duckdb_synth.report(con, source, rows, run=res)
    except SynthError as exc:
        raise click.ClickException(f"the rows were written, but the report failed: {exc}") from exc
    finally:
        if written is None:
            con.unregister(name)
    rep = dataclasses.replace(rep, synth=target)
    _write_html(rep, path)
    click.echo(f"report written to {path} (overall score {rep.score:.3f})", err=True)


def _check_html_path(path: Path, hint: str) -> None:
    """Refuse a report path that is not .html or whose folder does not exist, before any work."""
    if path.suffix.lower() not in (".html", ".htm"):
        raise click.BadParameter(f"'{path}' is not an .html file name", param_hint=hint)
    if not path.parent.is_dir():
        raise click.BadParameter(f"directory '{path.parent}' does not exist", param_hint=hint)


def _write_html(rep: Any, path: Path) -> None:
    try:
        rep.to_html(path)
    except OSError as exc:
        raise click.ClickException(f"cannot write '{path}': {exc.strerror or exc}") from exc


@contextmanager
def _logs_quiet(quiet: bool) -> Iterator[None]:
    """With -q/--quiet, the package's logged warnings held back for the command (the free-text column's, a UNIQUE
    column's repeats: they printed to stderr); errors still raise and print."""
    logger = logging.getLogger("duckdb_synth")
    before = logger.level
    if quiet:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


def _reads_file(con: duckdb.DuckDBPyConnection, source: str, output: Path) -> bool:
    """Whether the source reads the file `output` names (the source a file, or a query or view reading it, as the
    ledger traces them: ``source_keys``): writing the copy there replaced the real rows (the review of 1c489ef).
    A source the run itself refuses is left to it."""
    from ..engine.source import open_source, same_file, source_keys

    try:
        src = open_source(con, source, private=False, in_sql=False)
        keys = source_keys(con, src).keys
    except (SynthError, duckdb.Error):
        return False
    return any(same_file(k.name, output) for k in keys)


def _output_format(output: Path | None) -> str | None:
    """The format of an -o/--output file ('parquet' or 'csv'), checked before anything runs (None: no file)."""
    if output is None:
        return None
    fmt = OUTPUT_FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise click.BadParameter(f"cannot tell the format of '{output}': use a .parquet or .csv file name",
                                 param_hint="'-o' / '--output'")
    if not output.parent.is_dir():
        raise click.BadParameter(f"directory '{output.parent}' does not exist", param_hint="'-o' / '--output'")
    if output.is_dir():
        raise click.BadParameter(f"'{output}' is a directory", param_hint="'-o' / '--output'")
    # A file can be made there (the run would spend its budget, then fail to write: the review of 12d66b3): the very
    # file _write_file writes first (a probe of a longer name refused names the write itself takes: 48d815d's review)
    probe = _temporary(output)
    try:
        with open(probe, "xb"):
            pass
        probe.unlink()
    except FileExistsError:
        pass  # (a run's own, left by one killed: the write replaces it)
    except OSError as exc:
        raise click.BadParameter(f"cannot write in '{output.parent}': {exc.strerror or exc}",
                                 param_hint="'-o' / '--output'") from None
    return fmt


def _parquet_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` as Parquet holds it: a TIMESTAMP_S's seconds as milliseconds (Parquet has no seconds: pyarrow casts
    them, and its cast overflowed on DuckDB's infinity, INT64_MAX seconds; the review of dba1e14); a UUID column (text
    in Arrow; its type in the metadata, ``decode_table``) as Parquet's UUID, as DuckDB's own COPY writes it."""
    import pyarrow as pa

    meta = schema.metadata or {}

    def held(f: pa.Field) -> pa.Field:
        if pa.types.is_timestamp(f.type) and f.type.unit == "s":
            return f.with_type(pa.timestamp("ms", f.type.tz))
        if meta.get(f"type:{f.name}".encode()) == b"UUID" and pa.types.is_string(f.type):
            return f.with_type(pa.uuid())
        return f

    return pa.schema([held(f) for f in schema], metadata=schema.metadata)


def _parquet_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """`batch` in `schema` (``_parquet_schema``): seconds as milliseconds, +-infinity (+-INT64_MAX) kept as such."""
    import numpy as np
    import pyarrow as pa

    if schema.equals(batch.schema, check_metadata=False):
        return batch
    columns = []
    for col, field in zip(batch.columns, schema):
        if isinstance(field.type, pa.UuidType) and col.type != field.type:  # text to its 16 bytes
            col = _uuid_bytes(col)
        elif col.type != field.type:
            ints = col.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)  # (int64: a NULL made it floats)
            top = np.iinfo(np.int64).max
            ms = np.where(np.abs(ints) == top, ints, ints * 1000)
            col = pa.array(ms, type=field.type, mask=col.is_null().to_numpy(zero_copy_only=False))
        columns.append(col)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _uuid_bytes(col: pa.Array) -> pa.Array:
    """UUIDs written as text, as Arrow's UUID type (DuckDB's cast, exported losslessly)."""
    import pyarrow as pa

    con = duckdb.connect()
    try:
        con.execute("SET arrow_lossless_conversion = true")
        con.register("_synth_uuid", pa.table({"u": col}))
        return con.sql("SELECT CAST(u AS UUID) AS u FROM _synth_uuid").to_arrow_table().column(0).combine_chunks()
    finally:
        con.close()


def _temporary(path: Path) -> Path:
    """The file `_write_file` writes before it replaces `path` with it."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _write_file(con: duckdb.DuckDBPyConnection, rows: Any, path: Path, fmt: str) -> None:
    """Write the rows (a one-pass reader of batches) to a Parquet or CSV file, batch by batch into a
    temporary file that replaces `path` at the end: no partial file on failure."""
    tmp = _temporary(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            schema = _parquet_schema(rows.schema)
            with pq.ParquetWriter(tmp, schema) as writer:
                for batch in rows:
                    writer.write_batch(_parquet_batch(batch, schema))
        else:
            con.from_arrow(rows).write_csv(str(tmp), header=True)
        os.replace(tmp, path)
    except OSError as exc:
        raise click.ClickException(f"cannot write '{path}': {exc.strerror or exc}") from exc
    except duckdb.Error as exc:  # DuckDB's CSV writer: a full disk is an IOException
        raise click.ClickException(f"cannot write '{path}': {_one_line(exc)}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _write_table(con: duckdb.DuckDBPyConnection, table: Any, quoted: str, *, replace: bool,
                 types: list[tuple[str, str]] | None = None) -> None:
    """Create (or replace) a table of the database holding the rows (a table or a one-pass reader), each
    column cast to its exact type (`types`: ENUM and HUGEINT travel in Arrow as text and decimals)."""
    view = "__duckdb_synth_output"
    con.register(view, table)
    try:
        verb = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE"
        select = cast_projection(types) if types else "*"
        con.execute(f"{verb} {quoted} AS SELECT {select} FROM {view}")
    except duckdb.Error as exc:
        raise click.ClickException(f"cannot create table {quoted}: {_one_line(exc)}") from exc
    finally:
        con.unregister(view)


# ---------------------------------------------------------------------------
# aggregates
# ---------------------------------------------------------------------------


def _parse_columns(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [part.strip() for part in value.split(",")]
    if not all(names):
        raise click.BadParameter(f"'{value}' is not a comma-separated list of column names, e.g. --columns age,sex",
                                 ctx=ctx, param=param)
    return names


@main.command()
@click.argument("db")
@click.argument("source")
@_privacy_options
@click.option("--length", "reporting_length", type=int, metavar="K",
              help="Combine up to K values (default 3, or the number of columns if fewer).")
@click.option("--columns", callback=_parse_columns, metavar="COLS",
              help="The columns to count, comma-separated (default: every column a run would model, free text "
              "left out).")
@click.option("--threshold", type=float, metavar="T",
              help="The least count shown (default in DP modes: a combination of one row is shown with "
              "probability at most 5%; balanced: 5).")
@click.option("--seed", type=int, help="Seed, for a reproducible release (tests only: real releases draw from the OS).")
@click.option("--domain", "domains", multiple=True, metavar="COL=JSON", callback=_parse_domains,
              help="A public domain, as for synthesize. Repeatable.")
@click.option("--privacy-unit", metavar="COL", help="The column naming the person a row belongs to.")
@click.option("--max-rows-per-unit", type=int, metavar="K", help="With --privacy-unit: keep at most K rows per unit.")
@click.option("--budget", type=float, metavar="EPS", help="The source's total ε in DB's ledger, as for synthesize.")
@click.option("--ledger/--no-ledger", default=True, show_default=True, help="Record the release in DB's ledger.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the release to this .parquet or .csv file (default: print it).")
@click.option("--compare", "compare_with", metavar="SYNTH",
              help="Also print to stderr how well the synthetic table SYNTH (of DB, or a file) keeps the release: "
              "per length, the mean absolute and relative error of its counts of the combinations shown.")
@click.option("--owner-figures", is_flag=True,
              help="Also print to stderr, for the data owner only, per length: combinations fabricated and "
              "suppressed, and the counts' errors (reads the real data: not part of the release).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (and the release, without -o).")
def aggregates(db: str, source: str, mode: str | None, epsilon: float | None, delta: float | None,
               reporting_length: int | None, columns: list[str] | None, threshold: float | None, seed: int | None,
               domains: dict | None, privacy_unit: str | None, max_rows_per_unit: int | None, budget: float | None,
               ledger: bool, output: Path | None, compare_with: str | None, owner_figures: bool,
               quiet: bool) -> None:
    """Release the count of every combination of up to K column values of SOURCE (noisy in DP modes).

    One row per combination shown: its length, the combination ('age=30..39 & sex=F'), its
    count, then one column per column counted. Numbers and dates are counted in the bins of
    their DP domains. Charged to DB's ledger like a synthetic copy.

    \b
    Examples:
      duckdb-synth aggregates clinic.duckdb patients --mode strict --columns sex,age,diagnosis -o counts.csv
      duckdb-synth aggregates clinic.duckdb patients --mode strictest --length 2
    """
    fmt = _output_format(output)
    with _logs_quiet(quiet), _connect(db, must_exist=True) as con:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SeededRunWarning)
                res = duckdb_synth.aggregates(
                    con, source, reporting_length=reporting_length, columns=columns, threshold=threshold, mode=mode,
                    epsilon=epsilon, delta=delta, seed=seed, domains=domains, privacy_unit=privacy_unit,
                    max_rows_per_unit=max_rows_per_unit, budget=budget, ledger=ledger)
        except SynthError as exc:
            raise click.ClickException(str(exc)) from exc
        if output is not None:
            assert fmt is not None
            _write_file(con, res.table.to_reader(), output, fmt)
        else:
            click.echo(_csv_text(res.table), nl=False)
        if not quiet:
            click.echo(res.spend.summary(res.run_id), err=True)
            noise = "exact counts" if res.sigma is None else f"noise sigma {res.sigma:.3g}"
            click.echo(f"{res.num_rows:,} combinations of up to {res.reporting_length} of "
                       f"{', '.join(res.columns)} shown ({noise}, counts from {res.threshold:.1f})"
                       + (f", written to {output}" if output is not None else "") + f" in {res.seconds:.2f} s",
                       err=True)
        if compare_with is not None:
            try:
                kept = res.compare(con, compare_with)
            except SynthError as exc:
                raise click.ClickException(f"--compare: {exc}") from exc
            click.echo(f"{compare_with} against the release: per length, combinations shown, mean absolute and "
                       "relative error of its counts", err=True)
            click.echo(_csv_text(kept), err=True, nl=False)
        if owner_figures:
            figures = res.owner_figures(con)
            click.echo(f"For the data owner only (read from the real data; do not publish): per length, combinations "
                       f"shown, fabricated (no real row), real ones of at least {math.ceil(res.threshold)} rows, "
                       f"suppressed, and the mean absolute and relative error of the counts shown", err=True)
            click.echo(_csv_text(figures), err=True, nl=False)


def _csv_text(table: Any) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.column_names)
    writer.writerows(zip(*(col.to_pylist() for col in table.columns)))
    return buf.getvalue()


# ---------------------------------------------------------------------------
# canary
# ---------------------------------------------------------------------------


def _parse_ks(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    """Turn ``--k 1,2,5`` into integers; the library checks that they are positive and fit."""
    try:
        return tuple(int(part) for part in value.split(","))
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a comma-separated list of integers, e.g. --k 1,2,5,10", ctx=ctx,
                                 param=param) from None


@main.command()
@click.argument("db")
@click.argument("source")
@_privacy_options
@click.option("--k", "ks", default="1,2,5,10,20,50,100,200,400", show_default=True, callback=_parse_ks,
              metavar="K,K,...", help="How many rows each secret is planted in, one secret per value.")
@click.option("--seed", type=int, help="Seed, for a reproducible test (secrets, rows and the run).")
@click.option("--column", help="VARCHAR or UUID column to plant in (default: the first one not masked).")
@click.option("--ledger/--no-ledger", default=True, show_default=True,
              help="Record the run in DB's ledger, under the source (--no-ledger: a DP canary on a read-only DB).")
@click.option("--mask", "masks", multiple=True, metavar="COL=KIND", callback=_parse_masks,
              help="Mask column COL as the release would (email, name, ...). Repeatable.")
def canary(db: str, source: str, mode: str | None, epsilon: float | None, delta: float | None,
           ks: tuple[int, ...], seed: int | None, column: str | None, ledger: bool,
           masks: dict[str, str] | None) -> None:
    """Plant made-up secrets in a copy of SOURCE, synthesize it, count how often each comes back.

    Each secret is planted in K rows of a TEMP copy (DB is not modified) and the copy
    is synthesized as SOURCE would be. DP protects values held by few rows: in strict
    and strictest modes a secret planted in a handful of rows should never come back,
    while one held by hundreds of rows is a statistic of the data and may.

    \b
    Example:
      duckdb-synth canary clinic.duckdb patients --mode strict --k 1,2,5,10,100 --mask email=email
    """
    from ..reporting.canary import canary as plant_and_count

    with _connect(db, must_exist=True) as con:
        try:
            table = plant_and_count(con, source, mode=mode, epsilon=epsilon, delta=delta, ks=ks, seed=seed,
                                    column=column, masks=masks, ledger=ledger)
        except SynthError as exc:
            raise click.ClickException(str(exc)) from exc
        grid = render.make_grid(con, table.column_names, ["VARCHAR", "VARCHAR", "BIGINT", "BIGINT"], table)
    click.echo(render.render_box(grid, show_types=False))
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    back = [k for k, n in zip(table.column("times_planted").to_pylist(), table.column("times_replayed").to_pylist()) if n]
    first = f"the smallest k that came back is {min(back)}" if back else "no secret came back"
    budget = f"ε = {meta['epsilon']}" if meta.get("epsilon") else "no formal DP"
    click.echo(f"mode {meta.get('mode')} ({budget}), {int(meta.get('rows_out', 0)):,} rows synthesized: {first}.")
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# budget
# ---------------------------------------------------------------------------


@main.command("budget")
@click.argument("db")
@click.argument("source", required=False)
@click.option("--epsilon", type=float, help="Set SOURCE's total budget to this ε.")
@click.option("--delta", type=float, help="... and this δ (default 1e-5).")
def budget_command(db: str, source: str | None, epsilon: float | None, delta: float | None) -> None:
    """Show what each source of DB has spent and has left; with --epsilon, set SOURCE's budget.

    \b
    Examples:
      duckdb-synth budget clinic.duckdb                       # every source: runs, spent, budget, left
      duckdb-synth budget clinic.duckdb patients --epsilon 5  # DP runs on patients stop at ε = 5 in all
    """
    if epsilon is None and delta is not None:
        raise click.UsageError("--delta goes with --epsilon (the budget to set)")
    if epsilon is not None and source is None:
        raise click.UsageError("give the SOURCE whose budget to set, e.g. duckdb-synth budget DB patients --epsilon 5")
    with _connect(db, must_exist=True) as con:
        try:
            key = None
            if epsilon is not None:
                key = duckdb_synth.set_budget(con, source, epsilon, delta)
                click.echo(f"budget of {key}: ε = {epsilon:g}, δ = {delta if delta is not None else 1e-5:g}", err=True)
            table = duckdb_synth.budget(con)
        except SynthError as exc:
            raise click.ClickException(str(exc)) from exc
        if source is not None:
            name = key if epsilon is not None else _shown_key(con, source)
            table = table.filter(pc.equal(table.column("source"), name))
        if table.num_rows == 0:
            click.echo("no run or budget recorded" + (f" for {source}" if source else "") + f" in {db}")
            return
        types = [str(t) for t in con.from_arrow(table).types]
        grid = render.make_grid(con, table.column_names, types, table)
    click.echo(render.render_box(grid, show_types=False))


def _shown_key(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """SOURCE as synth_budget() names it (a view as its table, a relative path made absolute)."""
    try:
        return store.shown(con, budget_key(con, source))
    except SynthError:
        return source


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


@main.command()
@click.argument("db")
@click.argument("real")
@click.argument("synth")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report as one self-contained .html page.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the samples and of the pairs drawn.")
@click.option("--domain", "domains", multiple=True, metavar="COL=JSON", callback=_parse_domains,
              help="A declared domain, as synthesize takes it: a note says how many values lie outside it. "
              "Repeatable.")
@click.option("--holdout", metavar="TABLE",
              help="Real rows kept out of the run that made SYNTH (same columns as REAL): adds the DCR share, "
              "the share of synthetic rows nearer a row of REAL than a row of TABLE (about 0.5 unless rows "
              "were memorized).")
@click.option("--constraint", "constraints", multiple=True, metavar="RULE",
              help="A rule (SQL, as synthesize --constraint takes it): count the rows of each table that break it "
              "(the rules of the run that made SYNTH are counted anyway). Repeatable.")
@click.option("--aggregates", "release", metavar="RELEASE",
              help="An aggregate release stored as a table or file (synth_aggregates, or duckdb-synth aggregates -o): "
              "compare SYNTH's counts of its combinations with the released ones, per length.")
def report(db: str, real: str, synth: str, output: Path | None, seed: int, domains: dict | None,
           holdout: str | None, constraints: tuple[str, ...], release: str | None) -> None:
    """Compare table SYNTH with table REAL: quality scores and privacy figures.

    REAL and SYNTH are each a table or view name of DB, one read-only
    SELECT/WITH query, or a .parquet/.csv/.json file (DB may then be :memory:).
    The scores are printed; with -o the whole report (plots, per-column and
    per-pair figures, privacy) is written as one HTML page that loads nothing.

    \b
    Example:
      duckdb-synth report clinic.duckdb patients patients_synth -o report.html

    To check for memorized rows, synthesize from part of the table and
    give the rest as --holdout (see the README's report section).
    """
    if output is not None:
        _check_html_path(output, "'-o' / '--output'")
    with _connect(db, must_exist=True) as con:
        try:
            rep = duckdb_synth.report(con, real, synth, seed=seed, domains=domains, holdout=holdout,
                                      aggregates=release, constraints=list(constraints) or None)
        except SynthError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(rep.format())
    for row in (rep.rules.to_pylist() if rep.rules is not None else []):
        click.echo(f"  rule {row['rule']}: {row['synth_violations']:,} synthetic rows break it "
                   f"({row['real_violations']:,} real ones)")
    for row in (rep.aggregates.to_pylist() if rep.aggregates is not None else []):
        rel = "-" if row["mean_rel_error"] is None else f"{row['mean_rel_error']:.1%}"
        click.echo(f"  {'release, length ' + str(row['length']):<26} {rel} mean relative error over "
                   f"{row['combinations']:,} combinations")
    for row in rep.privacy.to_pylist():
        if row["metric"] == "DCR share":
            click.echo(f"  {'DCR share':<26} {row['value']:.3f}  (0.5 expected; above means rows sit on REAL's)")
    for note in rep.notes:
        click.echo(f"  note: {note}")
    if output is not None:
        _write_html(rep, output)
        click.echo(f"report written to {output}", err=True)


@main.command()
@click.option("--rows", type=int, help="Rows per synthetic copy (default: as many as the example).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the runs, for a repeatable demo.")
@click.option("--db", "db_path", metavar="PATH",
              help="Instead, write the example database (tables patients and visits) to PATH, a new file: the "
              "README's examples run against it.")
def demo(rows: int | None, seed: int | None, db_path: str | None) -> None:
    """Synthesize the bundled example table in each privacy mode and compare."""
    from . import demo as demo_module

    try:
        if db_path is not None:
            demo_module.write_example_db(db_path)
            click.echo(f"example database written to {db_path}: tables patients (3,000 rows, one per patient) and "
                       "visits (one row per visit)", err=True)
            return
        demo_module.run_demo(rows=rows, seed=seed, echo=click.echo)
    except SynthError as exc:
        raise click.ClickException(str(exc)) from exc


if __name__ == "__main__":  # pragma: no cover
    main()
