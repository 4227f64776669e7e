"""Print query results as DuckDB's shell does: ``box`` (its ``duckbox``), ``csv``, ``line``,
``markdown`` or ``list``. Nothing here knows about synthesis."""
from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

MODES = ("box", "csv", "line", "markdown", "list")
MAX_CELL_WIDTH = 80

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


def pad(text: str, width: int, align: str) -> str:
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
        return "│" + "│".join(f" {pad(col[k], w, a)} " for col, w, a in zip(columns, widths, align)) + "│"

    center = ["^"] * len(widths)
    out = [rule("┌", "┬", "┐"), line(0, center)]
    if show_types:
        out.append(line(1, center))
    if grid.rows:
        out.append(rule("├", "┼", "┤"))
    dots = "│" + "│".join(f" {pad('·', w, '^')} " for w in widths) + "│"
    for k in range(len(grid.rows)):
        if k == grid.cut:
            out.extend([dots] * 3)
        out.append(line(k + 2, aligns))
    if footer:
        out.append(rule("├", "┴", "┤"))
        out.extend("│" + pad(text, inner, "^") + "│" for text in footer)
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
        "\n".join(f"{pad(n, width, '>')} = {'NULL' if v is None else v}" for n, v in zip(grid.names, row))
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
    lines = ["| " + " | ".join(pad(n, w, "<") for n, w in zip(names, widths)) + " |"]
    lines.append("|" + "|".join(rules) + "|")
    lines.extend("| " + " | ".join(pad(v, w, a) for v, w, a in zip(row, widths, aligns)) + " |" for row in body)
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[Grid], str]] = {
    "box": render_box,
    "csv": render_csv,
    "line": render_line,
    "markdown": render_markdown,
    "list": render_list,
}
