"""Resolve the ``source`` argument to SQL that reads it, refusing anything else.

A source is a table or view name (schema-qualified and quoted names too), one
read-only query (``SELECT``/``WITH``/``FROM``/``VALUES``, checked with sqlglot
before anything runs), or a local path ending in .parquet, .csv or .json.

A query may read the database's tables and views (and its own CTEs), and call any
function without side effects. It may not read files or other objects by a
replacement scan (``FROM 'x.csv'``), call table functions other than ``range``,
``generate_series`` and ``unnest`` (``read_text``, ``glob``, ``enable_logging``, ...),
or call functions that change state (``nextval``, ``setval``, ``write_log``, ...):
to synthesize a file, give its path as the source, or load it into a table. The same
holds inside the user's macros that a query calls.
"""
from __future__ import annotations

import glob as globmod
import os
import re
from dataclasses import dataclass, replace

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType

from ..errors import SourceError, did_you_mean, parse_problem

_FILE_READERS = {
    ".parquet": "read_parquet", ".pq": "read_parquet",
    ".csv": "read_csv", ".tsv": "read_csv", ".csv.gz": "read_csv",
    ".json": "read_json", ".jsonl": "read_json", ".ndjson": "read_json", ".json.gz": "read_json",
}
_QUERY_KINDS = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery)
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Merge,
           exp.Copy, exp.Attach, exp.Detach, exp.Pragma, exp.Command, exp.Set, exp.Use,
           exp.Transaction, exp.Commit, exp.Rollback)


@dataclass(frozen=True)
class Source:
    """A resolved source: what the user wrote and a SELECT that reads it."""

    kind: str  # 'table', 'query' or 'file'
    text: str
    sql: str
    parts: tuple[str, ...] = ()  # a table's [catalog, [schema,]] name
    rows_of: tuple[str, ...] = ()  # the one base table whose rows these are, and whose constraints (keys, NOT NULL,
    # CHECK, generated columns) they keep: a table's own, or the one a query keeps columns and rows of as they are
    # (``plain_table``); as (database, schema, table) once opened (``open_source``); empty: none

    @property
    def label(self) -> str:
        return self.text if self.kind != "query" else "query"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def file_reader(text: str) -> str | None:
    low = text.lower()
    for ext in sorted(_FILE_READERS, key=len, reverse=True):
        if low.endswith(ext):
            return _FILE_READERS[ext]
    return None


def parse_source(text: str) -> Source:
    """Classify `text` without touching the database."""
    if not isinstance(text, str):  # (5 was 'empty': the review of 12d66b3)
        raise SourceError(f"the source must be text: a table or view name, a read-only query, or a .parquet/.csv/.json "
                          f"path; got {text!r}")
    if not text.strip():
        raise SourceError("the source is empty: give a table or view name, a read-only query, or a .parquet/.csv/.json path")
    text = text.strip()
    reader = file_reader(text)
    if reader and not re.match(r"(?is)^\s*(select|with|from)(\s|\()", text):
        return Source("file", text, f"SELECT * FROM {reader}({quote_literal(text)})")
    try:
        # (a comment after the last semicolon parses as a statement of its own: a Semicolon holding it)
        statements = [s for s in sqlglot.parse(text, read="duckdb")
                      if s is not None and not isinstance(s, exp.Semicolon)]
    except (ParseError, sqlglot.errors.TokenError) as e:
        raise SourceError(f"the source is neither a table name, a read-only query nor a file path: cannot parse {text!r} ({parse_problem(e)})") from None
    if len(statements) != 1:
        raise SourceError(f"the source must be one read-only query, got {len(statements)} statements: {_short(text)}")
    stmt = statements[0]
    if isinstance(stmt, exp.Column) or isinstance(stmt, exp.Table) or isinstance(stmt, exp.Identifier):
        return _table_source(text)
    if isinstance(stmt, exp.Alias) and re.fullmatch(r"[\w ]+", text):
        # 'my table' parses as a column with an alias; DuckDB has no such syntax for a source, so
        # read it as the name of a table with a space in it.
        return Source("table", text, "SELECT * FROM " + quote_ident(text), (text,))
    if isinstance(stmt, _QUERY_KINDS):
        bad = next((n for n in stmt.walk() if isinstance(n, _WRITES)), None)
        if bad is not None:
            raise SourceError(f"the source query contains a {type(bad).__name__.upper()} statement; only read-only queries are allowed: {_short(text)}")
        return Source("query", text, _query_text(text), rows_of=plain_table(stmt))
    kind = stmt.key.upper() if stmt.key != "command" else text.split()[0].upper()
    raise SourceError(
        f"the source must be a table, a view, one read-only query (SELECT/WITH) or a file; "
        f"{kind} statements are refused: {_short(text)}"
    )


def plain_table(stmt: exp.Expression) -> tuple[str, ...]:
    """The name parts of the one table a query selects columns of as they are (`SELECT * EXCLUDE (tags) FROM t WHERE
    year = 2024`, `SELECT a, b FROM s.t ORDER BY a LIMIT 10`): no join, set operation, WITH, grouping, or expression
    among the columns (a REPLACE or RENAME of *, an alias to another name), so each column it keeps is the table's,
    on a subset of its rows, and the table's keys, NOT NULL and CHECK constraints hold there. Empty otherwise. Leaving
    a column of a type we cannot synthesize out of the query (the advice given) had lost them all: a PRIMARY KEY came
    out with 3,952 values for 5,041 rows, and 599 rows broke a CHECK (shipped_at >= placed_at)."""
    while isinstance(stmt, exp.Subquery):
        stmt = stmt.this
    if not isinstance(stmt, exp.Select) or any(stmt.args.get(k) for k in ("with", "with_", "joins", "group", "having",
                                                                           "laterals", "pivots")):
        return ()
    source = stmt.args.get("from_") or stmt.args.get("from")  # (sqlglot 30 names it from_)
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier) or table.args.get("joins") \
            or table.args.get("pivots"):  # (UNPIVOT repeats each row)
        return ()
    alias = table.args.get("alias")
    if alias is not None and alias.args.get("columns"):  # `t AS u(b, a)` renames the columns
        return ()
    own = (alias.name if alias is not None and alias.name else table.name).lower()
    for e in stmt.expressions:
        column = e.this if isinstance(e, exp.Alias) else e
        if isinstance(column, exp.Column) and (column.args.get("db") or column.args.get("catalog") or (
                column.table and column.table.lower() != own)):
            return ()  # (`s.a`, `s.*` of a STRUCT column s, or another name: not the table's own column)
        star = e if isinstance(e, exp.Star) else e.this if isinstance(e, exp.Column) and isinstance(e.this, exp.Star) \
            else None
        if star is not None:
            if star.args.get("replace") or star.args.get("rename"):
                return ()
        elif isinstance(e, exp.Alias):
            if not (isinstance(e.this, exp.Column) and isinstance(e.this.this, exp.Identifier) and e.alias == e.this.name):
                return ()
        elif not (isinstance(e, exp.Column) and isinstance(e.this, exp.Identifier)):
            return ()
    if any(isinstance(n, (exp.AggFunc, exp.Window)) for e in stmt.expressions for n in e.walk()):
        return ()
    return tuple(p.name for p in (table.args.get("catalog"), table.args.get("db"), table.this) if p is not None)


def _query_text(text: str) -> str:
    """A query as the stages read it, inside parentheses: up to its last token, without the semicolons and
    comments after it (a trailing -- comment hid the closing parenthesis: the query was refused)."""
    tokens = sqlglot.tokenize(text, read="duckdb")
    while tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens.pop()
    return text[:tokens[-1].end + 1] if tokens else text.rstrip().rstrip(";")


def _table_source(text: str) -> Source:
    try:
        table = sqlglot.parse_one(text, into=exp.Table, read="duckdb")
    except (ParseError, sqlglot.errors.TokenError):
        raise SourceError(f"cannot read {text!r} as a table name") from None
    parts = [p.name for p in (table.args.get("catalog"), table.args.get("db"), table.this) if p is not None]
    return Source("table", text, "SELECT * FROM " + ".".join(quote_ident(p) for p in parts), tuple(parts))


def open_source(reader: duckdb.DuckDBPyConnection, text: str, *, private: bool, in_sql: bool) -> Source:
    """The source `text` resolved and checked to be readable through `reader`.

    A private run refuses CSV and JSON files: DuckDB guesses their column types from the
    values, which no privacy budget covers. For the same reason it refuses a name that is
    not a table or view of the database: DuckDB reads such a name through a replacement
    scan (``"data.csv"`` reads the file, a name can read a Python object) and guesses types.
    """
    src = parse_source(text)
    check_idle(reader)
    if private and src.kind == "file" and file_reader(src.text) in ("read_csv", "read_json"):
        raise SourceError(
            f"{src.text}: the column types of a CSV or JSON file are guessed from its values, which no privacy "
            "budget covers; in DP modes load it into a table with declared types first "
            "(CREATE TABLE t (...); COPY t FROM 'file.csv'), or use Parquet, which declares its schema")
    check_source(reader, src, in_sql=in_sql)
    if src.kind == "table" or src.rows_of:  # (a table's name, too: `T` for t, or main.t under a TEMP t)
        src = replace(src, rows_of=_base_table(reader, src.rows_of or src.parts))
    if private and src.kind == "table" and not in_catalog(reader, src.parts):
        raise SourceError(
            f"{src.text} is not a table or view of the database: DuckDB would read it by a replacement scan (a file "
            "or a Python object), guessing its column types from the values, which no privacy budget covers; in DP "
            "modes create a table with declared types first (CREATE TABLE t (...); INSERT INTO t ...), register "
            "the object (con.register('t', obj)), or give a Parquet path")
    return src


def _base_table(reader: duckdb.DuckDBPyConnection, parts: tuple[str, ...]) -> tuple[str, ...]:
    """The (database, schema, table) of the one base table a name can mean (``_catalog_rows``, as DuckDB resolves it,
    ignoring case); empty where it is none or several, or a view (a TEMP table over a table: the constraints read would
    be both's)."""
    rows = _catalog_rows(reader, parts)
    return rows[0][:3] if len(rows) == 1 and not rows[0][3] else ()


UNFINISHED = "unfinished result"  # DuckDB's words for a connection whose last result was not read to the end


def check_idle(reader: duckdb.DuckDBPyConnection) -> None:
    """Finish a query result the connection holds unread (``con.execute(...).fetchone()`` leaves one), as
    DuckDB's own ``execute`` does: a connection holds one result at a time, and its relation API (which
    reads the source) refuses to run while one is unfinished, an error that read as a source that
    cannot be read. If the connection refuses even that, say what to do."""
    try:
        reader.execute("SELECT 1").fetchall()
    except duckdb.Error as e:
        if UNFINISHED in str(e):
            raise SourceError(
                "the connection has a query result that was not read to the end (con.execute(...).fetchone() "
                "leaves one): read the rest (fetchall()) or call con.complete() before synthesizing, or run such "
                "queries on con.cursor(); nothing was read or spent") from None
        # Anything else (a closed connection) is reported where the source is read.


def reads_table(text: str, name: str, reader: duckdb.DuckDBPyConnection | None = None) -> bool:
    """Whether the source `text` reads a table or view called `name` (the table's own name, its last part as
    written, unquoted; compared case-insensitively), itself or, given the `reader` to look views up on, through
    the views it reads (and theirs).

    A name in another schema counts too: the question is asked before replacing a table with
    a run's output, and a false alarm costs a clearer name, a miss the source's data (a view over
    the table replaced it with synthetic rows: the review of 12d66b3).
    """
    target = name.lower()  # (not parsed again: 'my table' read as SQL is 'my' aliased, and a run's copy replaced the
    # table "my table" it read; the review of 48d815d)
    try:
        src = parse_source(text)
    except SourceError:
        return False
    if src.kind == "table":
        pending = [src.parts[-1].lower()]
    elif src.kind == "query":
        pending = _tables_read(src.text)
    else:
        return False
    seen: set[str] = set()
    while pending:
        table = pending.pop()
        if table == target:
            return True
        if reader is None or table in seen:
            continue
        seen.add(table)
        for (sql,) in reader.execute("SELECT sql FROM duckdb_views() WHERE NOT internal AND lower(view_name) = ?",
                                     [table]).fetchall():
            try:
                pending += _tables_read(sql)
            except (ParseError, sqlglot.errors.TokenError):
                # a view sqlglot cannot read (DuckDB writes a lambda as `(lambda x: ...)`): every name it holds, as a
                # table it may read (it had counted as reading any target, and every --table was refused; the review
                # of 48d815d)
                pending += [w.strip('"').replace('""', '"').lower()
                            for w in re.findall(r'"(?:[^"]|"")+"|[^\W\d]\w*', sql)]
    return False


def _tables_read(sql: str) -> list[str]:
    """The last name part, lower case, of each table or view a query (or a CREATE VIEW statement) names."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    return [t.name.lower() for t in tree.find_all(exp.Table) if not isinstance(t.this, exp.Func)]


def in_catalog(reader: duckdb.DuckDBPyConnection, parts: tuple[str, ...]) -> bool:
    """Whether a name (its [catalog, [schema,]] name parts) is a table or view DuckDB resolves in its catalog
    (``_catalog_rows``)."""
    return bool(_catalog_rows(reader, parts))


def is_view(reader: duckdb.DuckDBPyConnection, parts: tuple[str, ...]) -> bool:
    """Whether a name (its [catalog, [schema,]] name parts) is a view DuckDB resolves in its catalog."""
    return any(view for *_, view in _catalog_rows(reader, parts))


def _catalog_rows(reader: duckdb.DuckDBPyConnection, parts: tuple[str, ...]) -> list[tuple[str, str, str, bool]]:
    """The tables and views a name (its [catalog, [schema,]] name parts) can mean, as (database, schema, name, is a
    view), names matched ignoring case.

    An unqualified name is looked up in the current schema and among TEMP objects (registered
    Python objects are TEMP views); `a.b` as schema a of the current database, or catalog a's
    main schema.
    """
    if not parts or len(parts) > 3:
        return []
    name = parts[-1]
    if len(parts) == 1:
        where, params = ("(temporary OR (database_name = current_database() AND schema_name = current_schema()))",
                         [])
    elif len(parts) == 2:
        where = ("((lower(schema_name) = lower(?) AND (temporary OR database_name = current_database())) "
                 "OR (lower(database_name) = lower(?) AND schema_name = 'main'))")
        params = [parts[0], parts[0]]
    else:
        where, params = "lower(database_name) = lower(?) AND lower(schema_name) = lower(?)", [parts[0], parts[1]]
    return [tuple(r) for r in reader.execute(
        "SELECT database_name, schema_name, name, view FROM (SELECT database_name, schema_name, table_name AS name, "
        "temporary, false AS view FROM duckdb_tables() UNION ALL SELECT database_name, schema_name, view_name, "
        f"temporary, true FROM duckdb_views()) WHERE lower(name) = lower(?) AND {where}", [name, *params]).fetchall()]


def check_source(reader: duckdb.DuckDBPyConnection, source: Source, *, in_sql: bool) -> None:
    """Check that the source can be read, with an error that says what to do otherwise."""
    if source.kind == "file" and re.match(r"^[a-z0-9+]+://", source.text, re.IGNORECASE):
        raise SourceError(f"{source.text}: remote files are not read (DuckDB would install an extension and go "
                          "out to the network); download the file and give its local path")
    if source.kind == "file" and not any(c in source.text for c in "*?["):
        if not os.path.exists(source.text):
            raise SourceError(f"file not found: {source.text}")
    if source.kind == "query":
        check_query(reader, sqlglot.parse_one(source.text, read="duckdb"), source.text)
    try:
        reader.sql(f"DESCRIBE {source.sql}").fetchall()
    except duckdb.CatalogException as e:
        if source.kind == "table":
            names = [r[0] for r in reader.sql("SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
            hint = did_you_mean(source.text.split(".")[-1].strip('"'), names)
            if source.text in names and "." in source.text:  # (the hint named the source itself: the review of 12d66b3)
                hint = f"; a table named {source.text} is there, but a name with a dot is read as schema.table: quote it, " \
                       f"'{quote_ident(source.text)}'"
            msg = f"no table or view named {source.text}{hint}"
            if in_sql:
                msg += (". synthesize() in SQL reads through a second connection, which cannot see TEMP tables or "
                        "tables created in a transaction that is not committed yet: commit, use a regular table, "
                        "or call duckdb_synth.synthesize(con, ...) from Python")
            raise SourceError(msg) from None
        raise SourceError(f"cannot read the source {_short(source.text)}: {_first_line(e)}") from None
    except duckdb.Error as e:
        what = "file" if source.kind == "file" else "query" if source.kind == "query" else "table"
        raise SourceError(f"cannot read the source {what} {_short(source.text)}: {_first_line(e)}") from None


# Table functions a query source may call, and our own table macros (they read only our files).
SAFE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
OUR_MACROS = frozenset({"synthesize", "synth_runs", "synth_report", "synth_report_columns", "synth_report_pairs",
                        "synth_privacy_report"})
# DuckDB marks these as having side effects only because they are volatile: they change nothing.
VOLATILE_ONLY = frozenset({"random", "uuid", "uuidv4", "uuidv7", "gen_random_uuid", "currval", "current_query",
                           "current_connection_id", "current_query_id", "current_transaction_id", "stats",
                           "vector_type", "error"})
REFUSED_SCALARS = frozenset({"getenv"})  # reads the host's environment
_MACRO_DEPTH = 8


def check_query(reader: duckdb.DuckDBPyConnection, stmt: exp.Expression, text: str, *, depth: int = 0) -> None:
    """Refuse a query that reads anything but tables, views and its CTEs, or calls a function with side effects.

    Checked on the sqlglot tree before DuckDB binds the query, and again inside every user
    macro it calls (every overload's definition, from ``duckdb_functions()``): a table function
    anywhere (in FROM, LATERAL, a subquery) must be one of SAFE_TABLE_FUNCTIONS or a macro;
    a table name must be a catalog table or view, or a CTE in scope at that reference.
    """
    if depth > _MACRO_DEPTH:
        raise SourceError(f"the source query calls macros nested deeper than {_MACRO_DEPTH}, too deep to check that "
                          f"they only read: {_short(text)}")
    refused = next(stmt.find_all(exp.Summarize, exp.Describe, exp.Pragma, exp.Command), None)
    if refused is not None:
        raise SourceError(f"the source query holds a {type(refused).__name__.upper()} statement; a source is one query "
                          f"that reads tables: {_short(text)}")
    for pivot in stmt.find_all(exp.Pivot):
        ons = [] if pivot.args.get("unpivot") else pivot.args.get("fields") or pivot.expressions
        # (on a plain column only: `ON name || '' IN ('x')` is DuckDB's pivot on that boolean, values read from the
        # data, a 'true' column where a row holds 'x'; sqlglot reads it as an IN list; the review of 48d815d)
        dynamic = next((on for on in ons if not isinstance(on, exp.In) or on.args.get("query") is not None
                        or not isinstance(on.this, exp.Column)), None)
        if dynamic is not None:
            raise SourceError(
                f"the source query pivots on {dynamic.sql(dialect='duckdb')} without a list of its values: DuckDB "
                "would read the column's distinct values from the data to name the new columns, and the schema "
                "would show them at no privacy cost; pivot on a column and list them, as PIVOT ... ON col IN ('a', "
                "'b') (the review of "
                f"12d66b3): {_short(text)}")
    macros, tables = _user_macros(reader), _table_functions(reader)
    side_effects = _side_effect_functions(reader)
    for func in stmt.find_all(exp.Func):
        name = _function_name(func)
        if name in REFUSED_SCALARS or name in side_effects:
            raise SourceError(f"the source query calls {name}(), which changes the database or reads the host; a "
                              f"source may only read: {_short(text)}")
        for kind, body in macros.get(name, ()):  # every overload
            check_query(reader, sqlglot.parse_one(body if kind == "table_macro" else f"SELECT {body}", read="duckdb"),
                        text, depth=depth + 1)
        if name in macros or name in SAFE_TABLE_FUNCTIONS or name in OUR_MACROS:
            continue
        if name in tables or _in_table_position(func):
            raise SourceError(
                f"the source query calls the table function {name}(), which a source may not: a query source reads "
                "tables and views of the database (and range, generate_series, unnest); to synthesize a file, give "
                f"its path as the source or load it into a table: {_short(text)}")
    for table in stmt.find_all(exp.Table):
        if isinstance(table.this, exp.Func):
            continue  # checked above
        parts = tuple(p.name for p in (table.args.get("catalog"), table.args.get("db"), table.this) if p is not None)
        if len(parts) == 1 and _cte_in_scope(table, parts[0]):
            continue
        if not in_catalog(reader, parts):
            raise SourceError(
                f"the source query reads {'.'.join(parts)}, which is not a table or view of the database: DuckDB "
                "would read it by a replacement scan (a file or a Python object), which a query source may not; "
                "load it into a table, register the object (con.register(name, obj)), or give a file's path as "
                f"the source: {_short(text)}")


def _cte_in_scope(table: exp.Table, name: str) -> bool:
    """Whether a WITH around this reference (or the CTE it is in) defines `name`."""
    node = table.parent
    while node is not None:
        with_ = (node.args.get("with_") or node.args.get("with")) if isinstance(node, exp.Expression) else None
        if with_ is not None and any(cte.alias_or_name.lower() == name.lower() for cte in with_.expressions):
            return True
        node = node.parent
    return False


def _in_table_position(func: exp.Func) -> bool:
    """A function called where a table goes (FROM, JOIN, LATERAL), not where a value does."""
    node = func.parent
    while isinstance(node, (exp.Alias, exp.TableAlias)):
        node = node.parent
    return isinstance(node, (exp.Table, exp.Lateral))


def _function_name(func: exp.Func) -> str:
    if isinstance(func, exp.Anonymous):
        return str(func.this).lower()
    if isinstance(func, exp.GenerateSeries):
        return "generate_series"
    return func.sql_name().lower()


def _side_effect_functions(reader: duckdb.DuckDBPyConnection) -> set[str]:
    names = reader.execute("SELECT DISTINCT lower(function_name) FROM duckdb_functions() WHERE has_side_effects")
    return {r[0] for r in names.fetchall()} - VOLATILE_ONLY


def _table_functions(reader: duckdb.DuckDBPyConnection) -> set[str]:
    """Names that are only ever table functions (or pragmas): wherever they are called, they read a table."""
    rows = reader.execute(
        "SELECT lower(function_name), bool_or(function_type IN ('table', 'pragma')), "
        "bool_or(function_type IN ('scalar', 'aggregate', 'window', 'macro')) FROM duckdb_functions() GROUP BY 1"
    ).fetchall()
    return {name for name, table, scalar in rows if table and not scalar}


def _user_macros(reader: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """The user's macros: name -> every overload's (function_type, definition); ours are left out."""
    rows = reader.execute("SELECT lower(function_name), function_type, macro_definition FROM duckdb_functions() "
                          "WHERE NOT internal AND function_type IN ('macro', 'table_macro')").fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for name, kind, body in rows:
        if name not in OUR_MACROS and body:
            out.setdefault(name, []).append((kind, body))
    return out


def _short(text: str, limit: int = 120) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


# ---------------------------------------------------------------- what a source reads, for the ledger


@dataclass(frozen=True)
class Key:
    """What the ledger files a run under: a table (``name``, or ``schema.name`` outside ``main``) in the
    ledger of its own database ``db``; a file's absolute path, or a query's text, in the current one."""

    db: str
    name: str


@dataclass(frozen=True)
class Reads:
    """What a source reads: its keys, and what could not be traced to a table or file (``unknown``: the
    table functions and names a view or macro reads that the catalog and the SQL text do not resolve)."""

    keys: tuple[Key, ...]
    unknown: tuple[str, ...] = ()


# Table functions that read a file named by a literal; any other table function in a view cannot be traced.
_FILE_FUNCTIONS = frozenset({"read_parquet", "parquet_scan", "read_csv", "read_csv_auto", "read_json",
                             "read_json_auto", "read_ndjson"})


def source_keys(reader: duckdb.DuckDBPyConnection, source: Source) -> Reads:
    """The keys a run on `source` is filed under: the base tables it reads (through views and the user's
    macros; a view's names resolved from the view's own schema first, then the caller's search path, as
    DuckDB does), and the files (real paths; a glob's files too, hidden ones included). A name that a CTE of
    the same name might hide counts as read (over-counting is safe). What cannot be traced (``unknown``)
    leaves the run filed under the source itself as well. Read from the catalog and the SQL text alone,
    never the data."""
    current = reader.execute("SELECT current_database()").fetchall()[0][0]
    if source.kind == "file":
        return Reads(_file_keys(current, source.text))
    acc = _Walk(reader, current)
    if source.kind == "table":
        found = acc.name(source.parts, ctx=None, depth=0)
        if not found or acc.unknown or not acc.keys:
            acc.keys[acc.own_key(source.parts) or Key(current, _plain_key(source.parts))] = None
    else:
        acc.query(sqlglot.parse_one(source.text, read="duckdb"), ctx=None, depth=0)
        if acc.unknown or not acc.keys:  # filed under its text too (reads no table, or something untraced)
            acc.keys[Key(current, " ".join(source.text.split()))] = None
    return Reads(tuple(acc.keys), tuple(dict.fromkeys(acc.unknown)))


def budget_key(reader: duckdb.DuckDBPyConnection, text: str) -> Key:
    """The ledger's key for a table, view or file a user names (``synth_set_budget``); a view counts as the
    one table it reads (a view over several tables, or over something untraceable, is refused)."""
    src = parse_source(text)
    if src.kind == "query":
        raise SourceError(f"a budget is set per table or file, not per query: {_short(text)}; name the table")
    if src.kind == "file":
        if re.match(r"^[a-z0-9+]+://", src.text, re.IGNORECASE) and not src.text.lower().startswith("file://"):
            raise SourceError(f"{src.text}: remote files are not read, so they have no budget; give a local path")
        if any(c in src.text for c in "*?["):
            raise SourceError(f"{src.text} is a pattern; set the budget of each file it matches")
    if src.kind == "table" and not in_catalog(reader, src.parts):
        names = [r[0] for r in reader.execute("SELECT table_name FROM duckdb_tables() UNION SELECT view_name "
                                              "FROM duckdb_views() WHERE NOT internal").fetchall()]
        raise SourceError(f"no table or view named {text}{did_you_mean(src.parts[-1], names)}")
    reads = source_keys(reader, src)
    if reads.unknown or len(reads.keys) != 1:
        what = ", ".join([k.name for k in reads.keys] + list(reads.unknown))
        raise SourceError(f"{text} reads {what}; set the budget of each table or file it reads instead")
    return reads.keys[0]


def _file_path(text: str) -> str | None:
    """A local file's real path (symbolic links followed), or None for a remote one."""
    if text.lower().startswith("file://"):
        text = text[len("file://"):]
    elif re.match(r"^[a-z0-9+]+://", text, re.IGNORECASE):
        return None
    return os.path.realpath(text)


def same_file(a: str, b) -> bool:
    """Whether two paths name one file (hard and symbolic links too; where either is missing, their real paths)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def reads_path(text: str, out) -> bool:
    """Whether the local file source `text` (a path, a file:// one, a pattern, a directory of files) is, matches or
    holds the file `out`: a copy written there replaced the real rows (the review of 1c489ef)."""
    path = _file_path(text)
    if path is None:
        return False
    local = text[len("file://"):] if text.lower().startswith("file://") else text
    found = [path] + [os.path.realpath(f) for f in globmod.glob(local, recursive=True, include_hidden=True)]
    real = os.path.realpath(out)
    return any(same_file(f, out) or real.startswith(f.rstrip(os.sep) + os.sep) for f in found)


def _file_keys(db: str, text: str) -> tuple[Key, ...]:
    """A file's real path; a pattern's, and each file it matches now, hidden ones too (DuckDB's globs match
    them): a budget on one of them counts."""
    path = _file_path(text)
    if path is None:
        return (Key(db, text),)
    keys = [Key(db, path)]
    if any(c in text for c in "*?["):
        local = text[len("file://"):] if text.lower().startswith("file://") else text
        keys += [Key(db, os.path.realpath(f)) for f in sorted(globmod.glob(local, recursive=True, include_hidden=True))]
    return tuple(dict.fromkeys(keys))


def _plain_key(parts: tuple[str, ...]) -> str:
    return ".".join(parts)


# Scans of a Python object registered on the connection (a TEMP view): filed under the view's name.
_OBJECT_SCANS = frozenset({"python_arrow_scan", "arrow_scan", "arrow_scan_dumb", "pandas_scan", "python_scan"})


class _Walk:
    """Collects the keys of what a query, view or macro reads, each name resolved where it is written."""

    def __init__(self, reader: duckdb.DuckDBPyConnection, current: str) -> None:
        self.reader, self.current = reader, current
        self.keys: dict[Key, None] = {}
        self.unknown: list[str] = []
        self._macros: dict | None = None
        self.views: dict[tuple, tuple[tuple[Key, ...], tuple[str, ...]]] = {}  # a view walked once

    @property
    def macros(self) -> dict[str, list[tuple[str, str]]]:
        """The user's macros, read from the catalog the first time a function call is met."""
        if self._macros is None:
            self._macros = _user_macros(self.reader)
        return self._macros

    def own_key(self, parts: tuple[str, ...]) -> Key | None:
        """The key of the relation a name denotes itself (a view's own name), if the catalog has it."""
        row = self._lookup(parts, None)
        if row is None:
            return None
        db, schema, real, temporary, _ = row
        return self._key(db, schema, real, temporary)

    def _key(self, db: str, schema: str, real: str, temporary: bool) -> Key:
        if temporary:
            return Key(self.current, f"temp.{schema}.{real}")
        return Key(db, real if schema == "main" else f"{schema}.{real}")

    def name(self, parts: tuple[str, ...], *, ctx: tuple[str, str] | None, depth: int) -> bool:
        """Add the keys of a table or view name (False: the catalog has no such name)."""
        row = self._lookup(parts, ctx)
        if row is None:
            return False
        db, schema, real, temporary, sql = row
        own = self._key(db, schema, real, temporary)
        if sql is None:
            self.keys[own] = None
            return True
        memo = (db, schema, real)
        if memo not in self.views:  # a view: what its query reads, walked once however often it is named
            outer_keys, outer_unknown = self.keys, self.unknown
            self.keys, self.unknown = {}, []
            if depth >= _MACRO_DEPTH:
                self.unknown.append(f"view {real} (nested too deep)")
            else:
                try:
                    tree = sqlglot.parse_one(sql, read="duckdb")
                    body = tree.expression if isinstance(tree, exp.Create) else tree
                    self.query(body, ctx=(db, "main" if temporary else schema), depth=depth + 1, owner=own)
                except (ParseError, sqlglot.errors.TokenError):
                    self.unknown.append(f"view {real} (its SQL does not parse)")
            if self.unknown:
                self.keys[own] = None  # what cannot be traced is filed under the view too
            self.views[memo] = (tuple(self.keys), tuple(self.unknown))
            self.keys, self.unknown = outer_keys, outer_unknown
        keys, unknown = self.views[memo]
        self.keys.update(dict.fromkeys(keys))
        self.unknown.extend(unknown)
        return True

    def query(self, stmt: exp.Expression, *, ctx: tuple[str, str] | None, depth: int, owner: Key | None = None
              ) -> None:
        db = ctx[0] if ctx is not None else self.current  # files a view reads: in the view's database's ledger
        for func in stmt.find_all(exp.Func):
            fname = _function_name(func)
            for kind, body in self.macros.get(fname, ()):
                if depth >= _MACRO_DEPTH:
                    self.unknown.append(f"macro {fname}() (nested too deep)")
                    continue
                try:
                    inner = sqlglot.parse_one(body if kind == "table_macro" else f"SELECT {body}", read="duckdb")
                except (ParseError, sqlglot.errors.TokenError):
                    self.unknown.append(f"macro {fname}()")
                    continue
                self.query(inner, ctx=ctx, depth=depth + 1, owner=owner)
            if fname in self.macros or fname in SAFE_TABLE_FUNCTIONS or fname in OUR_MACROS:
                continue
            if not _in_table_position(func):
                continue
            if fname in _OBJECT_SCANS and owner is not None:  # a registered Python object: its view's name
                self.keys[owner] = None
                continue
            paths = _literal_paths(func) if fname in _FILE_FUNCTIONS else None
            if paths:
                for path in paths:
                    self.keys.update(dict.fromkeys(_file_keys(db, path)))
            else:
                self.unknown.append(f"{fname}()")
        for table in stmt.find_all(exp.Table):
            if isinstance(table.this, exp.Func):
                continue
            parts = tuple(p.name for p in (table.args.get("catalog"), table.args.get("db"), table.this)
                          if p is not None)
            if self.name(parts, ctx=ctx, depth=depth):
                continue  # a catalog name, even where a CTE of that name may be what is meant
            if len(parts) == 1 and _cte_in_scope(table, parts[0]):
                continue
            if len(parts) == 1 and file_reader(parts[0]):  # FROM 'data.parquet': a replacement scan
                self.keys.update(dict.fromkeys(_file_keys(db, parts[0])))
            else:
                self.unknown.append(".".join(parts))

    def _lookup(self, parts: tuple[str, ...], ctx: tuple[str, str] | None) -> tuple | None:
        """The catalog row of a name: in `ctx` (a view's database and schema) first, then as the caller
        would resolve it (DuckDB falls back to the search path)."""
        if ctx is not None:
            row = self._lookup_in(parts, ctx)
            if row is not None:
                return row
        return self._lookup_in(parts, None)

    def _lookup_in(self, parts: tuple[str, ...], ctx: tuple[str, str] | None) -> tuple | None:
        if not parts:
            return None
        name = parts[-1]
        if len(parts) == 1 and ctx is None:
            where, params = ("(temporary OR (database_name = current_database() AND schema_name = current_schema()))",
                             [])
        elif len(parts) == 1:
            where, params = "(temporary OR (database_name = ? AND schema_name = ?))", list(ctx)
        elif len(parts) == 2:
            home = "current_database()" if ctx is None else "?"
            where = (f"((lower(schema_name) = lower(?) AND (temporary OR database_name = {home})) "
                     "OR (lower(database_name) = lower(?) AND schema_name = 'main'))")
            params = [parts[0]] + ([] if ctx is None else [ctx[0]]) + [parts[0]]
        else:
            where, params = "lower(database_name) = lower(?) AND lower(schema_name) = lower(?)", [parts[0], parts[1]]
        rows = self.reader.execute(
            "SELECT database_name, schema_name, name, temporary, sql FROM "
            "(SELECT database_name, schema_name, table_name AS name, temporary, NULL AS sql FROM duckdb_tables() "
            "UNION ALL SELECT database_name, schema_name, view_name, temporary, sql FROM duckdb_views() "
            "WHERE NOT internal) "
            f"WHERE lower(name) = lower(?) AND {where} ORDER BY temporary DESC", [name, *params]).fetchall()
        return rows[0] if rows else None


def _literal_paths(func: exp.Func) -> list[str] | None:
    """The paths a reader function is given as plain string literals (one, or a list of them); None when
    its first argument is anything else (built up, a parameter): then what it reads cannot be traced."""
    first = None if isinstance(func, exp.Anonymous) else func.args.get("this")  # Anonymous: `this` is its name
    if first is None:
        listed = func.args.get("expressions") or []
        first = listed[0] if listed else None
    if isinstance(first, exp.Literal) and first.is_string:
        return [first.this]
    if isinstance(first, exp.Array) and first.expressions and all(
            isinstance(e, exp.Literal) and e.is_string for e in first.expressions):
        return [e.this for e in first.expressions]
    return None
