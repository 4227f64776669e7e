"""Errors raised by duckdb-synth.

Every error a user can cause is a ``SynthError``; its message names the column,
value or SQL at fault and says what to do instead::

    SynthError
    ├── SourceError          the source is not a table, view, read-only query or file
    ├── SchemaError          a column has a type we cannot synthesize
    ├── DataError            the data cannot be used (empty, fewer than 50 rows)
    └── OptionError          a bad mode, epsilon, delta, mask, rows or seed
        └── MaskError        an unknown mask kind or a mask on a missing column

Nothing is read, spent or written once one of these is raised during validation.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable


class SynthError(Exception):
    """Base class of every error duckdb-synth raises on bad input."""


class SourceError(SynthError):
    """The source is not a table, view, one read-only query, or a readable file."""


class SchemaError(SynthError):
    """A column's type cannot be synthesized (mask it, or leave it out)."""


class DataError(SynthError):
    """The data cannot be synthesized: empty, or fewer rows than the minimum."""


class OptionError(SynthError):
    """An option (mode, epsilon, delta, rows, seed) is invalid."""


class MaskError(OptionError):
    """A mask names an unknown kind or a column the source does not have."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or ''. Compared without case or accents ('EMAIL' for
    'email', 'uni' for 'ünï' had no suggestion: the review of 12d66b3)."""
    keyed: dict[str, str] = {}
    for choice in choices:
        keyed.setdefault(_folded(choice), choice)
    close = difflib.get_close_matches(_folded(word), list(keyed), n=1, cutoff=0.5)
    return f" (did you mean '{keyed[close[0]]}'?)" if close else ""


def _folded(text: str) -> str:
    """`text` lower case, without accents."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", str(text).lower()) if not unicodedata.combining(ch))


def parse_problem(exc: BaseException) -> str:
    """The first line of a SQL parser's error, without the parser's insides: sqlglot's "Required keyword: 'expression'
    missing for <class 'sqlglot.expressions.core.GTE'>. Line 1, Col: 6." (as a rule 'age >=' was refused: the review
    of 12d66b3) is "something is missing at line 1, column 6"."""
    line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    m = re.match(r"Required keyword: '\w+' missing for <class '[\w.]+'>\. Line (\d+), Col: (\d+)\.", line)
    return f"something is missing at line {m.group(1)}, column {m.group(2)}" if m else line
