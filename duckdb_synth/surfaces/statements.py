"""Split SQL text into statements and dot commands, as DuckDB's shell does.

Used by ``duckdb-synth run`` and ``duckdb-synth shell``: semicolons inside strings,
quoted identifiers and comments do not end a statement, and a line starting with
'.' where no statement is open is a dot command.
"""
from __future__ import annotations

from dataclasses import dataclass


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
