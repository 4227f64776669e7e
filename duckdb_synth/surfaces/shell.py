"""The SQL shell's session: runs statements and dot commands on a connection and prints the results.

Used by ``duckdb-synth run`` and ``duckdb-synth shell``; nothing here knows about
synthesis. A script is split into statements (``statements``), each is run in order,
and each result printed in the current mode (``render``).
"""
from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from ..errors import SynthError, did_you_mean
from .render import MODES, RENDERERS, display_width, make_grid, pad, render_box
from .statements import Statement, split_statements

MAX_ROWS = 40

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

_UDF_PREFIX = re.compile(r"^.*?Python exception occurred while executing the UDF: (?P<cls>[\w.]+): ", re.DOTALL)


_LINE_POINTER = re.compile(r"\n\s*\nLINE \d+:.*\Z", re.DOTALL)


def _synth_error_names() -> set[str]:
    """Class names of SynthError and all its subclasses."""
    names, todo = set(), [SynthError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


def clean_error(exc: BaseException) -> str:
    """The text to show for an error raised while running SQL.

    A SynthError raised inside one of our SQL functions reaches us wrapped by
    DuckDB (``Invalid Input Error: Python exception occurred while executing
    the UDF: OptionError: ...``); it is shown as ``Error: ...``. Other DuckDB
    errors keep their own label (``Catalog Error: ...``), as in DuckDB's shell;
    any other Python exception inside a UDF keeps its class name, since it is
    a bug to report, not a mistake of the user.

    Args:
        exc: The exception.

    Returns:
        One line, or a few for DuckDB errors that point into the SQL.
    """
    if isinstance(exc, SynthError):
        return f"Error: {exc}"
    text = str(exc).strip()
    match = _UDF_PREFIX.match(text)
    if match and match.group("cls").rsplit(".", 1)[-1] in _synth_error_names():
        # DuckDB appends a pointer into the SQL ("LINE 1: ... ^^^") after a blank line; the message is ours alone.
        message = _LINE_POINTER.sub("", text[match.end() :])
        return "Error: " + message.strip()
    return text


# ---------------------------------------------------------------------------
# Running statements
# ---------------------------------------------------------------------------

HELP = """\
.exit                  Exit this program
.help                  Show this message
.maxrows N             Show at most N rows of a result in box mode (default 40)
.mode MODE             Set the output mode: box, csv, line, markdown or list
.quit                  Exit this program
.read FILE             Run the statements in FILE
.schema [TABLE]        Show the CREATE statements (of TABLE only, if given)
.tables                List the tables and views
.timer on|off          Show the time each statement takes
End SQL statements with ';'. Registered functions:
  synthesize(source, mode := ..., epsilon := ..., ...)   a synthetic copy of a table, view, query or file
  synth_runs()                                           every run and what each step spent
  synth_budget(), synth_set_budget(source, epsilon := x) what each source has spent and has left
  synth_report(real, synth [, holdout := t]), synth_report_columns(...), synth_report_pairs(...),
  synth_privacy_report(...)                              how close a copy is, and what it discloses"""

_DOT_COMMANDS = ("exit", "help", "maxrows", "mode", "quit", "read", "schema", "tables", "timer")


class Quit(Exception):
    """Raised by ``.quit`` and ``.exit`` to leave the shell or stop a script."""


class CommandError(Exception):
    """A dot command was misused; the message is the line to show."""


class ScriptError(Exception):
    """A statement of a script failed.

    Attributes:
        statement: The statement that failed.
        origin: Name of the script (a file name, or '<stdin>').
        message: The error as ``clean_error`` shows it.
    """

    def __init__(self, statement: Statement, origin: str, message: str) -> None:
        self.statement = statement
        self.origin = origin
        self.message = message
        super().__init__(self.describe())

    def describe(self) -> str:
        """The error, then where it happened, e.g. ``  in statement 3 at line 5 of x.sql: ...``."""
        s = self.statement
        where = f"statement {s.number} at line {s.line} of {self.origin}"
        return f"{self.message}\n  in {where}: {s.first_line}"


_SKIP_COLUMNS = (["Count"], ["Success"])


class Session:
    """Runs statements and dot commands on a connection and prints what they return.

    Args:
        con: The connection (functions already registered on it).
        out: Where results go, one call per printed block.
        mode: The output mode, one of ``MODES``.
        max_width: Width of the terminal, which box mode keeps to; None for no limit.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        out: Callable[[str], None],
        *,
        mode: str = "box",
        max_width: int | None = None,
    ) -> None:
        self.con = con
        self.out = out
        self.mode = mode
        self.max_rows = MAX_ROWS
        self.max_width = max_width
        self.timer = False
        self._reading: list[Path] = []  # the .read files being read, outermost first

    def execute(self, sql: str) -> None:
        """Run one SQL statement and print its result, if it returns rows (and its time, with ``.timer on``).

        Raises:
            duckdb.Error: The statement failed.
        """
        wall, cpu = time.perf_counter(), os.times()
        try:
            self._execute(sql)
        finally:
            if self.timer:
                now = os.times()
                self.out(f"Run Time (s): real {time.perf_counter() - wall:.3f} user {now.user - cpu.user:.6f} "
                         f"sys {now.system - cpu.system:.6f}")

    def _execute(self, sql: str) -> None:
        parsed = self.con.extract_statements(sql)
        for statement in parsed:
            self.con.execute(statement)
            described = self.con.description
            if described is None:
                continue
            names = [d[0] for d in described]
            types = [str(d[1]) for d in described]
            with warnings.catch_warnings():
                # The DB-API fetch copies the rows once more; a result we print is small or printed in full anyway.
                warnings.simplefilter("ignore", UserWarning)
                table = self.con.to_arrow_table()
            if statement.type != duckdb.StatementType.SELECT and names in _SKIP_COLUMNS:
                continue
            self.print_table(names, types, table)

    def print_table(self, names: Sequence[str], types: Sequence[str], table: pa.Table) -> None:
        """Print an Arrow table in the current mode."""
        if names == ["explain_key", "explain_value"] and self.mode == "box":
            for value in table.column(1).to_pylist():
                self.out(str(value).rstrip("\n"))
            return
        if self.mode == "box":
            grid = make_grid(self.con, names, types, table, max_rows=self.max_rows)
            text = render_box(grid, max_width=self.max_width)
        else:
            text = RENDERERS[self.mode](make_grid(self.con, names, types, table))
        if text:
            self.out(text)

    def run_script(self, text: str, origin: str) -> None:
        """Run every statement and dot command of a script, stopping at the first error.

        Args:
            text: The script.
            origin: Its name, for error messages.

        Raises:
            ScriptError: A statement or command failed; nothing after it ran.
            Quit: The script ran ``.quit`` or ``.exit``.
        """
        for statement in split_statements(text):
            self.run_statement(statement, origin)

    def run_statement(self, statement: Statement, origin: str) -> None:
        """Run one statement or dot command of a script.

        Raises:
            ScriptError: It failed.
            Quit: It was ``.quit`` or ``.exit``.
        """
        try:
            if statement.dot:
                self.dot(statement.sql)
            else:
                self.execute(statement.sql)
        except duckdb.Error as exc:
            raise ScriptError(statement, origin, clean_error(exc)) from exc
        except SynthError as exc:
            raise ScriptError(statement, origin, clean_error(exc)) from exc
        except CommandError as exc:
            raise ScriptError(statement, origin, str(exc)) from exc

    def dot(self, command: str) -> None:
        """Run a dot command such as ``.tables`` or ``.mode csv``.

        Raises:
            CommandError: Unknown command or bad arguments.
            ScriptError: A statement of a ``.read`` file failed.
            Quit: ``.quit`` or ``.exit``.
            duckdb.Error: A catalog query failed.
        """
        name, _, arg = command.strip()[1:].partition(" ")
        arg = arg.strip()
        if name in ("quit", "exit", "q"):
            raise Quit
        if name == "help":
            self.out(HELP)
        elif name == "mode":
            if not arg:
                self.out(f"current output mode: {self.mode}")
            elif arg not in MODES:
                hint = did_you_mean(arg, MODES)
                raise CommandError(f"Error: unknown mode '{arg}'{hint}; use one of {', '.join(MODES)}")
            else:
                self.mode = arg
        elif name == "timer":
            if arg not in ("on", "off"):
                raise CommandError("Error: .timer takes on or off")
            self.timer = arg == "on"
        elif name == "maxrows":
            if not arg.isdigit() or int(arg) < 2:
                raise CommandError("Error: .maxrows takes a whole number of rows, 2 or more")
            self.max_rows = int(arg)
        elif name == "read":
            if not arg:
                raise CommandError("Error: .read needs a file name")
            path = Path(arg.strip("'\""))
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"Error: cannot read '{path}': {exc.strerror or exc}") from exc
            real = path.resolve()
            if real in self._reading:  # (a file that reads itself, or one reading it, had ended in a RecursionError
                # traceback, and the statements after it never ran: the review of 1c489ef)
                raise CommandError(f"Error: .read '{path}' is already being read (a file that reads itself): not read "
                                   "again")
            self._reading.append(real)
            try:
                self.run_script(text, str(path))
            finally:
                self._reading.pop()
        elif name == "tables":
            names = self._relation_names(arg or None)
            if names:
                self.out(_columns(names))
        elif name == "schema":
            self._schema(arg or None)
        else:
            hint = did_you_mean(name, _DOT_COMMANDS)
            raise CommandError(f'Error: unknown command ".{name}"{hint}; enter ".help" for the list')

    def _relation_names(self, pattern: str | None) -> list[str]:
        """Names of the tables and views, schema-qualified outside ``main``."""
        self.con.execute(
            """
            SELECT CASE WHEN schema_name = 'main' THEN name ELSE schema_name || '.' || name END AS shown
            FROM (
                SELECT schema_name, table_name AS name, database_name, temporary FROM duckdb_tables()
                WHERE NOT internal
                UNION ALL
                SELECT schema_name, view_name, database_name, temporary FROM duckdb_views() WHERE NOT internal
            )
            WHERE (database_name = current_database() OR temporary) AND (? IS NULL OR name ILIKE ?)
            ORDER BY shown
            """,
            [pattern, pattern],
        )
        return [row[0] for row in self.con.fetchall()]

    def _schema(self, table: str | None) -> None:
        """Print the CREATE statements of the tables and views, or of one."""
        self.con.execute(
            """
            SELECT name, sql FROM (
                SELECT table_name AS name, sql, database_name, temporary FROM duckdb_tables() WHERE NOT internal
                UNION ALL
                SELECT view_name, sql, database_name, temporary FROM duckdb_views() WHERE NOT internal
            )
            WHERE database_name = current_database() OR temporary
            ORDER BY name
            """
        )
        rows = self.con.fetchall()
        if table is not None:
            chosen = [r for r in rows if r[0].lower() == table.lower()]
            if not chosen:
                hint = did_you_mean(table, [r[0] for r in rows])
                raise CommandError(f"Error: no table or view named '{table}'{hint}")
            rows = chosen
        for _, sql in rows:
            sql = sql.strip()
            self.out(sql if sql.endswith(";") else sql + ";")


def _columns(names: list[str], width: int = 80) -> str:
    """Names laid out in columns, down then across, as DuckDB's ``.tables`` does."""
    if not names:
        return ""
    col = max(display_width(n) for n in names) + 2
    per_line = max(1, width // col)
    height = -(-len(names) // per_line)
    lines = []
    for r in range(height):
        cells = names[r::height]
        lines.append("".join(pad(c, col, "<") for c in cells).rstrip())
    return "\n".join(lines)
