"""Column names, exact DuckDB types, and the public facts that cost no budget.

Public facts come from the declared schema, never from the data: the type and
its range (integer width, DECIMAL precision and scale), ENUM members, BOOLEAN's
two values, NOT NULL, and the CHECK constraints of a table (read here as text;
``engine/declared.py`` turns those it can read exactly, and the user's ``domains``,
into a column's public domain, ``Declared``).
"""
from __future__ import annotations

import decimal
import math
import re
from dataclasses import dataclass, replace

import duckdb
import numpy as np

from ..errors import MaskError, SchemaError, did_you_mean
from .source import quote_ident

INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "TINYINT": (-(2**7), 2**7 - 1), "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1), "BIGINT": (-(2**63), 2**63 - 1),
    "HUGEINT": (-(2**127), 2**127 - 1), "UTINYINT": (0, 2**8 - 1), "USMALLINT": (0, 2**16 - 1),
    "UINTEGER": (0, 2**32 - 1), "UBIGINT": (0, 2**64 - 1), "UHUGEINT": (0, 2**128 - 1),
}
FLOATS = ("FLOAT", "DOUBLE")
TYPE_UNIT_US = {"TIMESTAMP_S": 1e6, "TIMESTAMP_MS": 1e3}  # the microseconds of a value of these types
DAY_US = 86_400_000_000  # 24:00:00, a TIME's last value (DuckDB's TIME runs to it), in microseconds
# The types' own ranges, as floats hold them: DuckDB's DATE (5877642 BC .. 5881580), TIMESTAMP (290309 BC ..
# 294247; TIMESTAMP_S, _MS and WITH TIME ZONE are written through it) and TIMESTAMP_NS (1677-09-21 .. 2262-04-11,
# in microseconds). Until 2026-12-07 dates and timestamps were clipped to 0001-01-01 .. 9999-12-31: a table's
# values past them (BC dates, the year 10000) came back on those ends, rare values among them (the review of
# 9145d7b: 2,000 TIMESTAMP_S rows of the year 10000 all came out as one row's 9999-12-31 23:59:59).
DATE_DAYS = (-2_147_483_646, 2_147_483_646)
TIMESTAMP_US = (-9_223_372_022_400_000_000, 9_223_372_036_854_774_784)
TIMESTAMP_NS_US = (-9_223_372_036_854_774, 9_223_372_036_854_774)
TEMPORAL = ("DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")
INFINITE_SENTINEL = 2**63 - 1  # ``exact_sql``'s BIGINT for a date or timestamp of +-infinity (no epoch_us reaches it)
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


@dataclass(frozen=True)
class Declared:
    """A column's public domain, known without looking at the data, and where it comes from.

    Either ``values``, the column's complete set of values (as the engine reads them: text for
    VARCHAR, UUID and ENUM, bools for BOOLEAN), or ``bounds``, the range [lo, hi] its values lie in
    (as the engine reads them: doubles, days for DATE, microseconds for times), both ends on the
    values the type can hold.
    """

    origin: str  # 'domains (user)', or the CHECK constraint it was read from
    values: tuple = ()
    bounds: tuple[float, float] | None = None
    shown: str = ""  # as the user or the constraint wrote it, for the record
    enforced: bool = False  # the constraint alone: the data cannot hold a value outside it
    points: tuple[float, ...] = ()  # a number's listed values (CHECK (x IN (1, 5, 9)), ascending, as the engine
    # reads them), ``bounds`` their range: its values are written as the nearest of them (public: no row's)
    exact: tuple[tuple[float, str], ...] = ()  # a DECIMAL past the floats: each listed or equal value's float and
    # the value itself (CHECK (x = 0.12345678901234567891)), which is written for that float (``decode.cast_sql``)


@dataclass(frozen=True)
class Column:
    """One column of the source.

    kind is 'categorical' (VARCHAR, UUID), 'boolean', 'enum', 'numeric' (integers,
    floats, decimals) or 'temporal' (dates, times, timestamps), or 'unsupported'.
    """

    name: str
    type: str
    kind: str
    nullable: bool = True
    enum_values: tuple[str, ...] = ()
    integer: bool = False
    scale: int | None = None
    type_range: tuple[float, float] | None = None  # public bounds implied by the type
    unique: bool = False  # declared PRIMARY KEY or UNIQUE: an identifier, generated rather than modelled
    checks: tuple[str, ...] = ()  # the CHECK constraints of the table that name this column (their SQL)
    declared: Declared | None = None  # a public domain: the user's, or read from a CHECK (set by plan)
    computed_as: str | None = None  # a generated column's expression (GENERATED ALWAYS AS), from the catalog
    within: Declared | None = None  # a masked column's range or values from its CHECKs: its mask draws inside (plan)
    guarded: tuple[str, ...] = ()  # a masked column's CHECKs of it alone, which its mask's values are kept to (plan)
    zone: str | None = None  # the session's 'TimeZone|Calendar', where the column has CHECKs (``masks.passing``)

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("numeric", "temporal")


def classify(name: str, type_: str, nullable: bool = True) -> Column:
    """Build a Column from a DuckDB type string."""
    t = type_.upper()
    if t == "BOOLEAN":
        return Column(name, type_, "boolean", nullable)
    if t in ("VARCHAR", "UUID"):
        return Column(name, type_, "categorical", nullable)
    if t.startswith("ENUM("):
        return Column(name, type_, "enum", nullable, enum_values=_enum_members(type_))
    if t in INTEGER_RANGES:
        lo, hi = INTEGER_RANGES[t]
        return Column(name, type_, "numeric", nullable, integer=True, type_range=(lo, hi))
    if t in FLOATS:
        return Column(name, type_, "numeric", nullable)
    m = _DECIMAL.match(t)
    if m:
        p, s = int(m.group(1)), int(m.group(2))
        # The largest value the type holds, as the largest float not past it: from 16 digits on the float nearest
        # 10^(p-s) - 10^-s may be 10^(p-s) itself, which the type cannot hold (9999999999999999.99 read as 1e16:
        # writing it failed, "Could not cast value 10000000000000000" to DECIMAL(18,2)); nor past it as written (its
        # shortest decimal, ``written_sql``: the float under 10^28 is written "1e+28", which DECIMAL(38,10) cannot hold).
        exact = decimal.Context(prec=80)
        largest = exact.subtract(exact.power(10, p - s), exact.power(10, -s))
        bound = float(largest)
        while decimal.Decimal(bound) > largest or written_decimal(bound, s) > largest:
            bound = math.nextafter(bound, 0.0)
        return Column(name, type_, "numeric", nullable, integer=(s == 0), scale=s, type_range=(-bound, bound))
    if t in TEMPORAL:
        rng = (0.0, float(DAY_US)) if t == "TIME" else None  # microseconds since midnight
        return Column(name, type_, "temporal", nullable, integer=True, type_range=rng)
    return Column(name, type_, "unsupported", nullable)


def decimal_past_floats(col: Column) -> bool:
    """A DECIMAL with decimals whose values a float may not hold (16 digits or more: DECIMAL(18,2) past 4.5e13,
    Spark's DECIMAL(38,18) past 0.008). Its floats are written as their shortest decimal (``written_sql``), and
    in balanced mode each float counts as a value, rare where few rows read as it or where 1-4 rows hold the
    value it is written as (``discovery.exact_numeric_domain``)."""
    m = _DECIMAL.match(col.type.upper())
    return m is not None and int(m.group(1)) >= 16 and int(m.group(2)) > 0


def written_sql(value: str, type_: str, read: bool = False) -> str:
    """The SQL of the DECIMAL of type `type_` a float (the SQL `value`) is written as: its shortest decimal
    (DuckDB's DOUBLE to VARCHAR), rounded to the scale. Exact where the float holds the digits: 1000047.0
    is 1000047.000000000000000000, 0.1 is 0.100000000000000000. With `read`, NULL for a float past the type
    (the source's 9999999999999999.99 reads as 1e16, which DECIMAL(18,2) cannot hold: reading the column failed);
    the decoder clips such a float to the type's range before writing it (``decode._writable``)."""
    return f"{'TRY_CAST' if read else 'CAST'}(CAST({value} AS VARCHAR) AS {type_})"


_WIDE = decimal.Context(prec=90)  # DECIMAL(38, s) values and their roundings, exactly


def written_decimal(x: float, scale: int) -> decimal.Decimal:
    """The DECIMAL of scale `scale` the float `x` is written as (``written_sql``: its shortest decimal, which
    Python's repr gives as DuckDB's VARCHAR does, rounded half away from zero to the scale)."""
    return decimal.Decimal(repr(x)).quantize(decimal.Decimal(1).scaleb(-scale), rounding=decimal.ROUND_HALF_UP,
                                             context=_WIDE)


def compare_kind(col: Column) -> str:
    """How a column's values are compared: 'numerical', 'datetime', 'time', 'boolean' or 'categorical'
    (text, UUID, ENUM and any other type read as text)."""
    if col.kind == "numeric":
        return "numerical"
    if col.kind == "temporal":
        return "time" if col.type.upper() == "TIME" else "datetime"
    if col.kind == "boolean":
        return "boolean"
    return "categorical"




def as_timestamp(col: Column) -> str:
    """A TIMESTAMP_S's or TIMESTAMP_MS's values as TIMESTAMP, others' as they are (quoted). DuckDB 2.0's
    ``epoch_us`` and ``epoch`` pass such a value through nanoseconds: any before 1677-09-21 or after
    2262-04-11 (a sentinel 9999-12-31) failed with "Could not convert Timestamp to higher precision", and
    the column could not be read at all."""
    q = '"' + col.name.replace('"', '""') + '"'
    return f"CAST({q} AS TIMESTAMP)" if col.type.upper() in TYPE_UNIT_US else q


def value_sql(col: Column) -> str:
    """The SQL expression that fetches a column the way its domain encodes it."""
    q = quote_ident(col.name)
    t = col.type.upper()
    if col.kind in ("categorical", "enum"):
        return f"CAST({q} AS VARCHAR)"
    if col.kind == "boolean":
        return q
    if t == "DATE":
        return infinity_sql(col, "'inf'::DOUBLE", f"CAST(date_diff('day', DATE '1970-01-01', {q}) AS DOUBLE)")
    if t == "TIME":
        return f"CAST(date_diff('microsecond', TIME '00:00:00', {q}) AS DOUBLE)"
    if col.kind == "temporal":
        return infinity_sql(col, "'inf'::DOUBLE", f"CAST(epoch_us({as_timestamp(col)}) AS DOUBLE)")
    return f"CAST({q} AS DOUBLE)"


def holds_infinity(col: Column) -> bool:
    """Whether the column's type holds +-infinity besides its values: FLOAT and DOUBLE (with NaN), and a DATE or
    TIMESTAMP ('infinity', a sentinel such as a row's open end), which DuckDB's epoch_us and date_diff read as
    NULL: such a column's infinities had come back as NULL, every one (the fuzz sweep of 50cd76f)."""
    t = col.type.upper()
    return t in FLOATS or (col.kind == "temporal" and t != "TIME")


def temporal_ends(col: Column) -> tuple[float, float]:
    """A DATE's or timestamp's first and last finite values as the engine reads them (days, microseconds)."""
    t = col.type.upper()
    return DATE_DAYS if t == "DATE" else TIMESTAMP_NS_US if t == "TIMESTAMP_NS" else TIMESTAMP_US


def infinity_sql(col: Column, inf: str, expr: str) -> str:
    """`expr` (a date's or timestamp's reading), with +-infinity read as `inf` and its negation."""
    q = quote_ident(col.name)
    zero = "DATE '1970-01-01'" if col.type.upper() == "DATE" else "TIMESTAMP '1970-01-01'"
    return f"(CASE WHEN isinf({q}) THEN CASE WHEN {q} > {zero} THEN {inf} ELSE -{inf} END ELSE {expr} END)"


def compare_sql(col: Column) -> str:
    """The expression that reads a column comparably: numbers and times as DOUBLE, the rest as text.

    Types of one family read alike (ENUM and VARCHAR, HUGEINT and DECIMAL(38,0)), so a table
    compares equal to itself after a trip through Parquet.
    """
    q = '"' + col.name.replace('"', '""') + '"'
    kind = compare_kind(col)
    if kind == "numerical":
        return f"CAST({q} AS DOUBLE)"
    if kind in ("datetime", "time"):
        seconds = f"CAST(epoch({as_timestamp(col)}) AS DOUBLE)"  # (NULL for an infinity: read as +-inf)
        return infinity_sql(col, "CAST('inf' AS DOUBLE)", seconds) if holds_infinity(col) else seconds
    return f"CAST({q} AS VARCHAR)"


def _enum_members(type_: str) -> tuple[str, ...]:
    inner = type_[type_.index("(") + 1: type_.rindex(")")]
    return tuple(m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", inner))


def match_column(name: str, names) -> str | None:
    """The column `name` means: the one named exactly so, else the one alone that differs by case (as
    DuckDB resolves unquoted names); None if there is none, or several differ by case alone."""
    names = list(names)
    if name in names:
        return name
    folded = [n for n in names if n.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def read_schema(reader: duckdb.DuckDBPyConnection, sql: str, table: tuple[str, ...] = ()) -> list[Column]:
    """Describe the source and classify its columns (no data is read).

    For a table, single-column PRIMARY KEY / UNIQUE constraints, NOT NULL and the text of CHECK
    constraints come from the catalog.
    """
    rows = reader.sql(f"DESCRIBE {sql}").fetchall()
    cols = [classify(r[0], r[1], nullable=(r[2] != "NO")) for r in rows]
    if not table:
        return cols
    # (a query keeping some of the table's columns: constraints on those alone; names as a constraint spells them,
    # `NET`, are the column's, `Net`, as DuckDB's ignore case)
    own = {c.name.lower(): c.name for c in cols}
    unique = _unique_columns(reader, table)
    not_null = _not_null_columns(reader, table)
    checks = _check_constraints(reader, table, own, {c.name.lower(): c.type.upper() for c in cols})
    computed = {name: expr for name, expr in _generated_columns(reader, table).items()
                if (names := named_columns(expr)) and {n.lower() for n in names} <= own.keys()}
    # (a UNIQUE column may hold NULLs, as SQL's do: a UNIQUE DATE 90 % NULL had come out with none; a PRIMARY KEY
    # is NOT NULL in the catalog)
    zone = _session_zone(reader) if checks else None
    return [replace(c, unique=c.name in unique, nullable=c.nullable and c.name not in not_null,
                    checks=checks.get(c.name, ()), computed_as=computed.get(c.name),
                    zone=zone if c.name in checks else None) for c in cols]


SESSION_SQL = "current_setting('TimeZone') || '|' || current_setting('Calendar')"  # as sql/*.sql pass it too


def _session_zone(reader: duckdb.DuckDBPyConnection) -> str | None:
    """The session's TimeZone and Calendar, 'Asia/Tokyo|gregorian' (None where they cannot be read): a masked
    column's CHECKs are run in them (``masks.passing``), as DuckDB runs them when the copy is loaded (`hour(ts) < 12`
    of a TIMESTAMPTZ: kept to in UTC, 1,511 of 2,000 rows of a copy made in Tokyo had broken it there)."""
    try:
        (zone,), = reader.execute(f"SELECT {SESSION_SQL}").fetchall()
        return zone
    except duckdb.Error:
        return None


def use_session(con: duckdb.DuckDBPyConnection, session: str | None) -> None:
    """Set `con`'s TimeZone and Calendar to a session's ('TimeZone|Calendar', ``SESSION_SQL``; None: leave them)."""
    if session:
        zone, calendar = session.split("|", 1)
        con.execute("SET TimeZone = ?", [zone])
        con.execute("SET Calendar = ?", [calendar])


def _catalog_filter(table: tuple[str, ...]) -> tuple[str, list[str]]:
    where, params = ["table_name = ?"], [table[-1]]
    if len(table) >= 2:
        where.append("schema_name = ?")
        params.append(table[-2])
    if len(table) == 3:
        where.append("database_name = ?")
        params.append(table[0])
    return " AND ".join(where), params


def _key_constraints(reader: duckdb.DuckDBPyConnection, table: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """The table's PRIMARY KEY and UNIQUE constraints, as (kind, columns)."""
    where, params = _catalog_filter(table)
    rows = reader.execute(
        f"SELECT constraint_type, constraint_column_names FROM duckdb_constraints() WHERE {where} "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY constraint_index", params).fetchall()
    return [(kind, tuple(names)) for kind, names in rows if names]


def _unique_columns(reader: duckdb.DuckDBPyConnection, table: tuple[str, ...]) -> set[str]:
    return {names[0] for _, names in _key_constraints(reader, table) if len(names) == 1}


def composite_keys(reader: duckdb.DuckDBPyConnection, table: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """The table's PRIMARY KEY and UNIQUE constraints over several columns, as (kind, columns): the copy keeps a key
    of one column (``_unique_columns``), not these, and the run says so."""
    return [(kind, names) for kind, names in _key_constraints(reader, table) if len(names) > 1] if table else []


def foreign_keys(reader: duckdb.DuckDBPyConnection, table: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    """The table's FOREIGN KEY constraints, as (columns, the table they reference): the copy's values of those columns
    are synthetic, and need not be keys there (the run says so)."""
    if not table:
        return []
    where, params = _catalog_filter(table)
    rows = reader.execute(f"SELECT constraint_column_names, referenced_table FROM duckdb_constraints() WHERE {where} "
                          "AND constraint_type = 'FOREIGN KEY' ORDER BY constraint_index", params).fetchall()
    return [(tuple(names), ref) for names, ref in rows if names]


def _check_constraints(reader: duckdb.DuckDBPyConnection, table: tuple[str, ...],
                       own: dict[str, str], types: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """The SQL of each CHECK constraint of the table over columns the source has (`own`: lowered name -> name), under
    every column it
    names: a constraint of several terms joined by AND as one of each (the same rows keep them: a CHECK fails only
    where one is false; `CHECK (a >= 0 AND b >= 0)`, `CHECK (s < e AND e <= DATE '2025-12-31')` were no shape a rule
    reads, and 1,115 of 3,116 rows of a strictest copy broke the second), the clock's calls read (``_clock_read``)
    and a null case spelled out dropped (``_without_null_cases``); `types`: lowered name -> type."""
    where, params = _catalog_filter(table)
    rows = reader.execute(f"SELECT expression, constraint_column_names FROM duckdb_constraints() WHERE {where} "
                          "AND constraint_type = 'CHECK' ORDER BY constraint_index", params).fetchall()
    out: dict[str, tuple[str, ...]] = {}
    for expression, catalog_names in rows:
        # (a null case dropped may leave terms joined by AND: `(x >= 0 AND x <= 10) OR x IS NULL`)
        read = [zoned_literals(reader, _clock_read(reader, term, types), types)  # (term by term: its columns' types)
                for term in _terms(expression)]
        for term in [t for whole in read for t in _terms(_without_null_cases(whole))]:
            names = named_columns(term) or set(catalog_names or ())  # (a term that does not parse: the constraint's)
            if not names or not {n.lower() for n in names} <= own.keys():
                continue
            for name in sorted({own[n.lower()] for n in names}):
                out[name] = out.get(name, ()) + (term,)
    return out


def _terms(expression: str) -> list[str]:
    """The terms of a constraint joined by AND at its top (itself where there is one, or it does not parse)."""
    import sqlglot

    try:
        terms = conjuncts(sqlglot.parse_one(expression, read="duckdb"))
    except sqlglot.errors.SqlglotError:
        return [expression]
    return [expression] if len(terms) == 1 else [t.sql(dialect="duckdb") for t in terms]


def conjuncts(tree):
    """The terms of a parsed expression joined by AND at its top (parentheses around them dropped), in order."""
    from sqlglot import exp

    return _operands(tree, exp.And)


def _operands(tree, op: type) -> list:
    """The terms of a parsed expression joined by `op` (AND, OR) at its top, parentheses around them dropped, in order;
    by a loop, not recursion (a CHECK of 1,000 terms had passed Python's depth)."""
    from sqlglot import exp

    terms, todo = [], [tree]
    while todo:
        node = todo.pop()
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, op):
            todo += [node.expression, node.this]
        else:
            terms.append(node)
    return terms


def _generated_columns(reader: duckdb.DuckDBPyConnection, table: tuple[str, ...]) -> dict[str, str]:
    """The expression of each generated column of the table (``GENERATED ALWAYS AS``), as the catalog prints it."""
    where, params = _catalog_filter(table)
    rows = reader.execute(f"SELECT column_name, generation_expression FROM duckdb_columns() WHERE {where} "
                          "AND is_generated", params).fetchall()
    return {name: expr for name, expr in rows if expr}


_CLOCKS = frozenset({"now", "get_current_timestamp", "transaction_timestamp", "get_current_time", "today",
                     "current_localtime"})


def _clock_read(reader: duckdb.DuckDBPyConnection, expression: str, types: dict[str, str] | None = None) -> str:
    """A CHECK's calls of the clock (`birth <= today()`, `seen <= now()`) as the constants they are now, so that the
    rules and domains read them (public: the time of the run, not the data; a copy made now keeps an upper bound when
    it is loaded later, a lower one only until the clock passes its values). Unread, such a CHECK was left out, and a
    strict copy held 39 births of 3,041 after today. A time with its zone (now()) outside UTC: DuckDB compares it with
    a TIMESTAMP or DATE column in the session's zone, which the rules do not (a copy made in Los Angeles held 19 rows
    after now()), so where every column the CHECK names (`types`: lowered name -> type) is a TIMESTAMP and the clock is
    compared with them directly it is read as the session's wall clock, a TIMESTAMP (the same rows keep `ts <= now()`
    and `ts <= <that time>`, but for the hour a clock set back repeats); beside a TIMESTAMPTZ, or any other type, it
    is left unread (until 2026-12-07 it was in every zone but UTC: a strict copy made in Tokyo held 40 of 3,000 rows
    after now()). Beside a DATE a time with its zone is left unread in every zone. A CHECK is read term by term
    (``_check_constraints``): `seen <= now() AND qty >= 0` is two."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(expression, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return expression
    clocks = (exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime, exp.Localtimestamp, exp.Localtime)
    found = [n for n in tree.walk() if isinstance(n, clocks) or (isinstance(n, exp.Anonymous)
                                                                   and n.name.lower() in _CLOCKS)]
    if not found:
        return expression
    named = {types.get(n.lower(), "") for n in named_columns(expression)} if types is not None else {""}
    naive = bool(named) and all(t.startswith("TIMESTAMP") and "TIME ZONE" not in t for t in named)
    compared = (exp.LT, exp.LTE, exp.GT, exp.GTE, exp.EQ, exp.NEQ, exp.Between)
    for node in found:
        call = node.sql(dialect="duckdb")
        try:
            (value, type_, utc), = reader.execute(f"SELECT CAST({call} AS VARCHAR), typeof({call}), "
                                                  "current_setting('TimeZone') IN ('UTC', 'Etc/UTC')").fetchall()
            if "TIME ZONE" in type_ and "DATE" in named:
                # DuckDB compares a DATE with it at the date's midnight in the session's zone: no bound a date's
                # domain reads (read, `d <= now()` failed every run); left out, as the run says
                return expression
            if type_ == "TIMESTAMP WITH TIME ZONE" and not utc and naive and isinstance(node.parent, compared):
                (value, type_), = reader.execute(f"SELECT CAST(CAST({call} AS TIMESTAMP) AS VARCHAR), "
                                                 "'TIMESTAMP'").fetchall()  # the session's wall clock
        except duckdb.Error:
            return expression
        if "TIME ZONE" in type_ and not utc:
            return expression
        new = exp.Cast(this=exp.Literal.string(value), to=exp.DataType.build(type_, dialect="duckdb"))
        if node is tree:
            tree = new
        else:
            node.replace(new)
    return tree.sql(dialect="duckdb")


def zoned_literals(reader: duckdb.DuckDBPyConnection, expression: str, types: dict[str, str]) -> str:
    """`expression` with each time literal compared directly with a TIMESTAMPTZ column (`tz >= TIMESTAMP
    '2020-03-01'`, `tz BETWEEN '2020-03-01' AND DATE '2020-04-01'`) written as the instant DuckDB reads it in the
    session's zone, with its offset ('2020-03-01 00:00:00-03:30'): the rules are kept, and the domains read, on a
    connection of their own in UTC, where the same literal is three and a half hours earlier (a strict copy made in
    St. John's broke such a CHECK and could not be loaded back; 594 of 3,000 rows broke such a rule: the review of
    1c489ef). Unchanged in UTC, and where the session cannot say (`types`: lowered name -> type). A DATE or TIMESTAMP
    column compared with a TIMESTAMPTZ one is not a literal, and is kept in UTC (the README's Rules say so)."""
    import sqlglot
    from sqlglot import exp

    zoned = {n for n, t in types.items() if "TIME ZONE" in t.upper() and t.upper().startswith("TIMESTAMP")}
    if not zoned:
        return expression
    try:
        (utc,), = reader.execute("SELECT current_setting('TimeZone') IN ('UTC', 'Etc/UTC', 'GMT')").fetchall()
        if utc:
            return expression
        tree = sqlglot.parse_one(expression, read="duckdb")
    except (duckdb.Error, sqlglot.errors.SqlglotError):
        return expression

    times = {getattr(exp.DataType.Type, t) for t in ("TIMESTAMP", "TIMESTAMPNTZ", "DATE", "DATETIME")
             if hasattr(exp.DataType.Type, t)}

    def literal(node) -> bool:
        if isinstance(node, exp.Literal) and node.is_string:
            return True
        return (isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string
                and node.to.this in times)

    compared = (exp.LT, exp.LTE, exp.GT, exp.GTE, exp.EQ, exp.NEQ, exp.Between, exp.In)
    changed = False
    for node in list(tree.walk()):
        if not isinstance(node, compared):
            continue
        operands = [node.this] + ([node.args.get("low"), node.args.get("high")] if isinstance(node, exp.Between)
                                  else list(node.expressions) if isinstance(node, exp.In) else [node.expression])
        if not any(isinstance(o, exp.Column) and o.name.lower() in zoned for o in operands):
            continue
        for o in operands:
            if o is None or not literal(o):
                continue
            try:
                (value,), = reader.execute(f"SELECT CAST(CAST({o.sql(dialect='duckdb')} AS TIMESTAMPTZ) AS VARCHAR)"
                                           ).fetchall()
            except duckdb.Error:
                return expression
            o.replace(exp.Cast(this=exp.Literal.string(value), to=exp.DataType.build("TIMESTAMPTZ", dialect="duckdb")))
            changed = True
    return tree.sql(dialect="duckdb") if changed else expression


def _without_null_cases(expression: str) -> str:
    """`P OR c IS NULL` (`rating BETWEEN 1 AND 5 OR rating IS NULL`, `a <= b OR b IS NULL`) as `P`, where P is one
    comparison, BETWEEN or IN over c (and constants, arithmetic, casts): P is then NULL wherever c is, and a CHECK
    passes on NULL, so the two keep the same rows. Such a CHECK was no shape the rules or domains read, and was left
    out: 509 of 3,116 rows of a strictest copy broke `a <= b OR b IS NULL`. Other shapes are returned as they are."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(expression, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return expression

    terms = _operands(tree, exp.Or)
    nulls = {t.this.name for t in terms if isinstance(t, exp.Is) and isinstance(t.this, exp.Column)
             and isinstance(t.expression, exp.Null)}
    rest = [t for t in terms if not (isinstance(t, exp.Is) and isinstance(t.this, exp.Column)
                                     and isinstance(t.expression, exp.Null))]
    if not nulls or len(rest) != 1:
        return expression
    (p,) = rest
    plain = (exp.Column, exp.Literal, exp.Null, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.Paren, exp.Cast,
             exp.DataType, exp.DataTypeParam, exp.Identifier, exp.Tuple)
    comparison = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In)
    # P may be comparisons joined by AND (`(x >= 0 AND x <= 10) OR x IS NULL`), each NULL wherever c is: their AND is
    # then NULL there too (NULL AND NULL), and so the CHECK passes as with the null case.
    for q in conjuncts(p):
        if not isinstance(q, comparison) or q.args.get("query") or not all(isinstance(n, plain) for n in q.walk()
                                                                           if n is not q):
            return expression
        # (BETWEEN is two comparisons joined by AND: NULL AND FALSE is FALSE, so the column tested must be its first
        # operand, not a bound: `x BETWEEN lo AND hi OR lo IS NULL` keeps x > hi where lo is NULL)
        held = q.this if isinstance(q, exp.Between) else q
        if not nulls <= {c.name for c in held.find_all(exp.Column)}:
            return expression
    return p.sql(dialect="duckdb")


def named_columns(expr: str) -> set[str]:
    """The columns an SQL expression reads (none where it does not parse)."""
    import sqlglot
    from sqlglot import exp

    try:  # (a qualified reference's root: `st.a` of a STRUCT column st names st, not a column a)
        return {(c.parts[0] if c.parts else c).name for c in sqlglot.parse_one(expr, read="duckdb").find_all(exp.Column)}
    except sqlglot.errors.SqlglotError:
        return set()


def _not_null_columns(reader: duckdb.DuckDBPyConnection, table: tuple[str, ...]) -> set[str]:
    where, params = _catalog_filter(table)
    rows = reader.execute(f"SELECT column_name FROM duckdb_columns() WHERE {where} AND NOT is_nullable", params).fetchall()
    return {r[0] for r in rows}


def check_columns(columns: list[Column], masks: dict[str, str]) -> None:
    """Refuse masks on missing columns and unmasked columns of unsupported types."""
    names = [c.name for c in columns]
    for col in masks:
        if col not in names:
            raise MaskError(f"mask on column '{col}', which the source does not have{did_you_mean(col, names)}; columns: {', '.join(names)}")
    bad = [c for c in columns if c.kind == "unsupported" and c.name not in masks]
    if bad:
        listed = ", ".join(f"'{c.name}' ({c.type})" for c in bad)
        raise SchemaError(
            f"cannot synthesize column{'s' if len(bad) > 1 else ''} {listed}: supported types are BOOLEAN, integers, "
            "FLOAT, DOUBLE, DECIMAL, VARCHAR, DATE, TIME, TIMESTAMP, TIMESTAMP WITH TIME ZONE, ENUM and UUID; "
            f"leave {'them' if len(bad) > 1 else 'it'} out of the source query, or mask {'them' if len(bad) > 1 else 'it'} "
            f"(masks := {{'{bad[0].name}': 'string'}}; a masked column of such a type comes back as VARCHAR)"
        )


def far_when(x: float, day: bool, whole: bool = False) -> str:
    """A date or timestamp `x` seconds from 1970 that Python's datetime cannot hold (BC, or past the year 9999),
    as DuckDB writes it (numpy's datetime64 counts the days): ``10000-01-01``, ``0100-03-01 (BC) 12:00:00``."""
    us = int(round(x * 1e6))
    text = str(np.datetime64(us // 86_400_000_000, "D") if day else np.datetime64(us, "us"))
    date, _, time = text.partition("T")
    if whole:
        time = time[:8]
    sign = -1 if date.startswith("-") else 1
    year, rest = date.lstrip("-").split("-", 1)
    year_n = sign * int(year)
    if year_n <= 0:  # numpy counts years astronomically: 0 is 1 BC
        date = f"{1 - year_n:04d}-{rest} (BC)"
    return date + (" " + time if time and not day else "")
