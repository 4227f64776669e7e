"""The SQL shell's input and output: statement splitting, result printing, dot commands.

Used by ``duckdb-synth run`` and ``duckdb-synth shell``; nothing here knows about
synthesis. A script is split into statements (and dot commands, one a line, as
in DuckDB's shell), each is run on the connection in order, and each result is
printed in the current mode: ``box`` (DuckDB's ``duckbox``), ``csv``, ``line``,
``markdown`` or ``list``.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from duckdb_synth.errors import SynthError, did_you_mean

MODES = ("box", "csv", "line", "markdown", "list")
MAX_ROWS = 40
MAX_CELL_WIDTH = 80

# ---------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One statement of a script.

    Attributes:
        sql: The statement's text, from its first token up to (not including) the
            semicolon; for a dot command, the whole line.
        line: 1-based line of the statement's first token.
        number: 1-based position among the script's statements and dot commands.
        dot: True for a dot command (``.tables``), False for SQL.
        terminated: False for a last statement that has no closing semicolon.
    """

    sql: str
    line: int
    number: int
    dot: bool = False
    terminated: bool = True

    @property
    def first_line(self) -> str:
        """The statement's first line, shortened to 80 characters, '…' if cut."""
        lines = self.sql.splitlines() or [""]
        first = lines[0].rstrip()
        if len(first) > 80:
            return first[:79] + "…"
        return first + (" …" if len(lines) > 1 else "")


@dataclass(frozen=True)
class Scan:
    """What ``scan`` found.

    Attributes:
        statements: Statements ended by ``;``, and dot commands, in order.
        rest: Offset of the text after the last of them.
        tail: The statement begun after them but not ended by ``;``, if any.
        pending: True if the rest holds an open statement, string or comment,
            i.e. more input is needed to finish it.
    """

    statements: list[Statement]
    rest: int
    tail: Statement | None
    pending: bool


def scan(text: str, *, dot_commands: bool = True) -> Scan:
    """Split SQL text at the semicolons that end statements.

    Semicolons inside '...' strings (with '' escapes, and E'...' backslash
    escapes), "..." identifiers, ``--`` line comments and ``/* */`` block
    comments (which nest, as in DuckDB) do not end a statement. A line whose
    first non-blank character is '.' where no statement is open is a dot
    command.

    Args:
        text: The script.
        dot_commands: Recognize dot commands.

    Returns:
        The statements, and what is left after them.
    """
    statements: list[Statement] = []
    n = len(text)
    i = 0
    line = 1
    start: int | None = None  # offset of the open statement's first token
    start_line = 0
    rest = 0
    in_comment = False
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
            continue
        if ch.isspace():
            i += 1
            continue
        if ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == "/" and text.startswith("/*", i):
            j, depth = i + 2, 1
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            line += text.count("\n", i, j)
            in_comment = depth > 0
            i = j
            continue
        if start is None and dot_commands and ch == "." and not text[text.rfind("\n", 0, i) + 1 : i].strip():
            end = text.find("\n", i)
            end = n if end < 0 else end
            statements.append(Statement(text[i:end].strip(), line, len(statements) + 1, dot=True))
            i = rest = end
            continue
        if ch == ";":
            if start is not None:
                statements.append(Statement(text[start:i].rstrip(), start_line, len(statements) + 1))
            start = None
            i = rest = i + 1
            continue
        if start is None:
            start, start_line = i, line
        if ch in "'\"":
            escapes = ch == "'" and i > 0 and text[i - 1] in "eE" and not _is_word(text, i - 2)
            j = i + 1
            while j < n:
                if escapes and text[j] == "\\":
                    j += 2
                elif text[j] == ch:
                    if j + 1 < n and text[j + 1] == ch:
                        j += 2
                    else:
                        break
                else:
                    j += 1
            line += text.count("\n", i, j)
            i = j + 1
            continue
        i += 1
    tail = None
    if start is not None:
        tail = Statement(text[start:].rstrip(), start_line, len(statements) + 1, terminated=False)
    return Scan(statements, rest, tail, start is not None or in_comment)


def _is_word(text: str, i: int) -> bool:
    """True if text[i] exists and can be part of an identifier."""
    return i >= 0 and (text[i].isalnum() or text[i] == "_")


def split_statements(text: str, *, dot_commands: bool = True) -> list[Statement]:
    """All statements of a script, a last one without ``;`` included.

    Args:
        text: The script.
        dot_commands: Recognize dot commands.

    Returns:
        The statements and dot commands; comments alone are no statement.
    """
    found = scan(text, dot_commands=dot_commands)
    return found.statements + ([found.tail] if found.tail else [])


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
# Results and printing
# ---------------------------------------------------------------------------

_NUMERIC = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
    "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL",
}  # fmt: skip
_SHORT_TYPES = {
    "TINYINT": "int8", "SMALLINT": "int16", "INTEGER": "int32", "BIGINT": "int64", "HUGEINT": "int128",
    "UTINYINT": "uint8", "USMALLINT": "uint16", "UINTEGER": "uint32", "UBIGINT": "uint64",
    "UHUGEINT": "uint128",
}  # fmt: skip


@dataclass(frozen=True)
class Grid:
    """A query result ready to print: names, DuckDB types and cells as text.

    Attributes:
        names: Column names.
        types: DuckDB type names (``INTEGER``, ``DECIMAL(10,2)``).
        rows: The rows to show, each cell the value as DuckDB casts it to
            VARCHAR, or None for NULL. In box mode only the first and last rows
            of a long result are kept.
        total: The number of rows of the whole result.
        cut: Index in ``rows`` where the hidden middle rows were, or None.
    """

    names: list[str]
    types: list[str]
    rows: list[tuple[str | None, ...]]
    total: int
    cut: int | None = None

    @property
    def numeric(self) -> list[bool]:
        """Per column, whether values are right-aligned (numbers)."""
        return [t.split("(")[0].strip().upper() in _NUMERIC for t in self.types]


def to_text(con: duckdb.DuckDBPyConnection, table: pa.Table) -> list[tuple[str | None, ...]]:
    """The rows of an Arrow table as DuckDB prints them (CAST to VARCHAR)."""
    if table.num_columns == 0 or table.num_rows == 0:
        return [()] * table.num_rows
    names = [f"c{i}" for i in range(table.num_columns)]
    rel = con.from_arrow(table.rename_columns(names))
    return rel.project(", ".join(f"CAST({n} AS VARCHAR) AS {n}" for n in names)).fetchall()


def make_grid(
    con: duckdb.DuckDBPyConnection,
    names: Sequence[str],
    types: Sequence[str],
    table: pa.Table,
    *,
    max_rows: int | None = None,
) -> Grid:
    """Build a Grid from an Arrow table, keeping only its head and tail if too long.

    Args:
        con: Connection used to format values the way DuckDB does.
        names: Column names.
        types: DuckDB type names.
        table: The rows.
        max_rows: Keep at most this many rows, half from each end; None keeps all.

    Returns:
        The printable result.
    """
    total = table.num_rows
    cut = None
    if max_rows is not None and total > max_rows:
        head = (max_rows + 1) // 2
        tail = max_rows - head
        table = pa.concat_tables([table.slice(0, head), table.slice(total - tail, tail)])
        cut = head
    return Grid(list(names), list(types), to_text(con, table), total, cut)


def text_grid(names: Sequence[str], rows: Sequence[Sequence[str | None]], *, numeric: Sequence[bool] = ()) -> Grid:
    """A Grid of text cells, for tables the CLI composes itself (such as the demo's)."""
    types = ["DOUBLE" if flag else "VARCHAR" for flag in numeric] or ["VARCHAR"] * len(names)
    return Grid(list(names), types, [tuple(r) for r in rows], len(rows))


def display_width(text: str) -> int:
    """Columns the text takes in a terminal (wide East Asian characters count 2)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1 for ch in text)


def _shorten(text: str, width: int) -> str:
    """Cut text to at most ``width`` columns, marking the cut with '…'."""
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def _pad(text: str, width: int, align: str) -> str:
    """Pad to ``width`` columns: align is '<', '>' or '^' (extra space on the right)."""
    space = width - display_width(text)
    if align == ">":
        return " " * space + text
    if align == "^":
        return " " * (space // 2) + text + " " * (space - space // 2)
    return text + " " * space


def _short_type(name: str) -> str:
    """The type label DuckDB's box mode shows under a column name."""
    return _SHORT_TYPES.get(name.upper(), name.lower())


def render_box(grid: Grid, *, show_types: bool = True, max_width: int | None = None) -> str:
    """Draw a result the way DuckDB's ``duckbox`` mode does.

    Args:
        grid: The result.
        show_types: Show each column's type under its name.
        max_width: Leave out middle columns (shown as '…') to fit this many
            terminal columns; None draws every column.

    Returns:
        The drawing, lines joined by newlines, no trailing newline.
    """

    def cell(value: str | None) -> str:
        text = "NULL" if value is None else value.replace("\n", "\\n").replace("\t", "\\t")
        return _shorten(text, MAX_CELL_WIDTH)

    if not grid.names:
        return f"(no columns, {grid.total} rows)"
    columns = [
        [_shorten(name, MAX_CELL_WIDTH), _short_type(kind), *(cell(row[k]) for row in grid.rows)]
        for k, (name, kind) in enumerate(zip(grid.names, grid.types))
    ]
    aligns = [">" if num else "<" for num in grid.numeric]
    widths = [max(display_width(v) for v in (col if show_types else col[:1] + col[2:])) for col in columns]
    footer: list[str] = []
    if grid.cut is not None:
        footer.append(f"{grid.total:,} rows ({len(grid.rows)} shown)")
    elif grid.total == 0:
        footer.append("0 rows")
    keep = _columns_that_fit(widths, max_width)
    if len(keep) < len(columns):
        footer.append(f"{len(columns)} columns ({len(keep)} shown)")
        gap = next((i + 1 for i, (a, b) in enumerate(zip(keep, keep[1:])) if b > a + 1), len(keep))
        order: list[int | None] = [*keep[:gap], None, *keep[gap:]]
        columns = [columns[k] if k is not None else ["…"] * len(columns[0]) for k in order]
        aligns = [aligns[k] if k is not None else "^" for k in order]
        widths = [widths[k] if k is not None else 1 for k in order]
    inner = sum(widths) + 3 * len(widths) - 1
    needed = max((display_width(text) + 2 for text in footer), default=0)
    if needed > inner:
        widths[-1] += needed - inner
        inner = needed

    def rule(left: str, mid: str, right: str) -> str:
        return left + mid.join("─" * (w + 2) for w in widths) + right

    def line(k: int, align: Sequence[str]) -> str:
        return "│" + "│".join(f" {_pad(col[k], w, a)} " for col, w, a in zip(columns, widths, align)) + "│"

    center = ["^"] * len(widths)
    out = [rule("┌", "┬", "┐"), line(0, center)]
    if show_types:
        out.append(line(1, center))
    if grid.rows:
        out.append(rule("├", "┼", "┤"))
    dots = "│" + "│".join(f" {_pad('·', w, '^')} " for w in widths) + "│"
    for k in range(len(grid.rows)):
        if k == grid.cut:
            out.extend([dots] * 3)
        out.append(line(k + 2, aligns))
    if footer:
        out.append(rule("├", "┴", "┤"))
        out.extend("│" + _pad(text, inner, "^") + "│" for text in footer)
        out.append("└" + "─" * inner + "┘")
    else:
        out.append(rule("└", "┴", "┘"))
    return "\n".join(out)


def _columns_that_fit(widths: Sequence[int], max_width: int | None) -> list[int]:
    """Indexes of the columns to draw: all, or the outer ones that fit beside a '…' column."""
    def drawn(ks: Sequence[int]) -> int:
        return sum(widths[k] + 3 for k in ks) + 1

    everything = list(range(len(widths)))
    if max_width is None or drawn(everything) <= max_width:
        return everything
    # Alternate from the left and the right end, as DuckDB does, keeping one gap in the middle.
    outer = [k for pair in zip(everything, reversed(everything)) for k in pair][: len(widths)]
    chosen: list[int] = []
    for k in outer:
        if drawn([*chosen, k]) + 4 > max_width:
            break
        chosen.append(k)
    return sorted(chosen or [0])


def render_csv(grid: Grid) -> str:
    """Comma-separated values with a header line; NULL is empty."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(grid.names)
    writer.writerows(["" if v is None else v for v in row] for row in grid.rows)
    return buf.getvalue().rstrip("\n")


def render_list(grid: Grid) -> str:
    """Values separated by '|', a header line first; NULL is empty."""
    lines = ["|".join(grid.names)]
    lines.extend("|".join("" if v is None else v for v in row) for row in grid.rows)
    return "\n".join(lines)


def render_line(grid: Grid) -> str:
    """One ``name = value`` line per column, a blank line between rows."""
    width = max((display_width(n) for n in grid.names), default=0)
    records = [
        "\n".join(f"{_pad(n, width, '>')} = {'NULL' if v is None else v}" for n, v in zip(grid.names, row))
        for row in grid.rows
    ]
    return "\n\n".join(records)


def render_markdown(grid: Grid) -> str:
    """A GitHub-flavoured Markdown table; numbers right-aligned."""

    def esc(value: str | None) -> str:
        return "NULL" if value is None else value.replace("|", "\\|").replace("\n", "<br>")

    names = [esc(n) for n in grid.names]
    body = [[esc(v) for v in row] for row in grid.rows]
    widths = [max(3, display_width(n)) for n in names]
    for row in body:
        widths = [max(w, display_width(v)) for w, v in zip(widths, row)]
    aligns = [">" if num else "<" for num in grid.numeric]
    rules = ["-" * (w + 1) + ":" if a == ">" else "-" * (w + 2) for w, a in zip(widths, aligns)]
    lines = ["| " + " | ".join(_pad(n, w, "<") for n, w in zip(names, widths)) + " |"]
    lines.append("|" + "|".join(rules) + "|")
    lines.extend("| " + " | ".join(_pad(v, w, a) for v, w, a in zip(row, widths, aligns)) + " |" for row in body)
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[Grid], str]] = {
    "box": render_box,
    "csv": render_csv,
    "line": render_line,
    "markdown": render_markdown,
    "list": render_list,
}


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
End SQL statements with ';'. The synthesize() and synth_runs() functions are registered."""

_DOT_COMMANDS = ("exit", "help", "maxrows", "mode", "quit", "read", "schema", "tables")


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

    def execute(self, sql: str) -> None:
        """Run one SQL statement and print its result, if it returns rows.

        Raises:
            duckdb.Error: The statement failed.
        """
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
            self.run_script(text, str(path))
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
        lines.append("".join(_pad(c, col, "<") for c in cells).rstrip())
    return "\n".join(lines)
