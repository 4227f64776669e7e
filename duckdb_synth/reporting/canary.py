"""The canary test: plant made-up secrets in a copy of the source and count how often each comes back.

Each secret is a random string such as ``canary-7f3a9c2b81d0-k20`` (a random UUID in a
UUID column), planted in k rows for each k asked for: the planted column is overwritten
in k randomly chosen rows, no row getting two secrets, so the copy keeps the source's row
count, types and constraints. The copy is a TEMP table, dropped afterwards; the user's
data is never modified. The copy is synthesized like the source would be
(``duckdb_synth.run``, same mode, masks and seed) and the exact occurrences of each
secret in the output are counted::

    secret                    column  times_planted  times_replayed
    canary-1c9e0d2a77b4-k1    name                1               0
    ...
    canary-5f02aa9c13e8-k400  name              400             398

What to expect: in ``balanced`` mode a value held by fewer than 5 rows is never emitted,
and a secret in 5 or more rows comes back about as often as it was planted. In DP modes a
secret comes back only when its noisy count passes the discovery threshold of its column
(docs/privacy.md, step 3b), which a value held by one row passes with probability at most
δ/(2d); a secret held by many rows is a statistic of the population, which differential
privacy does not hide. The canary is an empirical check, not a proof.
"""
from __future__ import annotations

import logging
import numbers
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import duckdb
import numpy as np
import pyarrow as pa

from ..engine.data import read_error
from ..engine.plan import named_as_columns
from ..engine.schema import Column, check_columns, read_schema
from ..engine.source import open_source, quote_ident, source_keys
from ..errors import DataError, OptionError, SchemaError, did_you_mean
from ..options import parse_options
from ..pipeline import run as _run
from ..privacy import store
from ..privacy.accounting import Accountant
from ..privacy.ledger import record, record_failure
from ..privacy.spend import Spend

log = logging.getLogger(__name__)


@contextmanager
def _charged_reads(con: duckdb.DuckDBPyConnection, reads, text: str, opts) -> Iterator[None]:
    """The canary's own reads of the source (`reads`, its ledger keys) before its run, after the ledger has answered
    (its refusal first: the count refuses on the exact number of rows, so a canary the budget refuses had let anyone
    find that number by growing k, at no cost; the review of 12d66b3). In DP modes one that fails is recorded in the
    ledger as a failed run charged its whole budget, as a run's is (``ledger.failures_recorded``). Whether a source
    query fails can depend on one row, and these reads had cost nothing: 24 canaries read a salary to the thousandth
    under a budget they never touched (the review of 4ab42dd). Otherwise nothing is recorded (the run records
    itself)."""
    entry = store.begin(con, reads, text, opts) if opts.private and opts.ledger else None  # (begin checks first)
    if entry is None:
        store.check(con, reads, opts)
    spent = Accountant.for_budget(opts.epsilon, opts.delta)
    status = "failed: canary"
    try:
        yield
    except duckdb.Error as exc:
        err = read_error(exc, show_values=not opts.private)
        if opts.private:
            spent.charge("failed", spent.rho, spent.delta_threshold, "the canary failed reading the source: its "
                         "whole budget is charged, as whether a source query fails can depend on its rows")
            status = f"failed: DataError: {err}"
        raise err from None
    finally:
        if entry is not None:  # (nothing spent: the row is deleted)
            entry.finish(Spend.from_accountant(opts.mode, spent, None, opts.seed is not None), status, None, None, 0.0)

DEFAULT_KS: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 400)
CANARY_TYPES = ("VARCHAR", "UUID")
SCHEMA = pa.schema([("secret", pa.string()), ("column", pa.string()), ("times_planted", pa.int64()),
                    ("times_replayed", pa.int64())])


def canary(con: duckdb.DuckDBPyConnection, source: str, *, mode: str | None = None, epsilon: float | None = None,
           delta: float | None = None, ks: Iterable[int] = DEFAULT_KS, seed: int | None = None,
           column: str | None = None, masks: dict[str, str] | None = None, ledger: bool = True) -> pa.Table:
    """Plant one made-up secret k times for each k in `ks`, synthesize, and count each secret's replays.

    Args:
        con: a DuckDB connection; the source is read through it (TEMP tables included).
        source: a table or view name, one read-only query, or a .parquet/.csv/.json path.
        mode, epsilon, delta, masks: as for ``duckdb_synth.run``; the canary runs what a release would run.
        ks: how many rows each secret is planted in; they must fit in distinct rows (sum(ks) <= rows).
        seed: makes the secrets, the planted rows and the run reproducible (tests only).
        column: the VARCHAR or UUID column to plant in; default the first such column that is
            neither masked nor a declared key.
        ledger: as for ``duckdb_synth.run``: the run is filed in the database's ledger under the
            source's tables (False: a DP canary on a read-only database, recorded on the connection only).

    Returns:
        One row per secret, by times_planted: (secret, column, times_planted, times_replayed). The
        schema's metadata holds the mode, epsilon and rows_out of the run, and rows_in in balanced mode
        (a DP run's exact input size is not released).

    Raises:
        OptionError: bad options, bad `ks`, or a `column` that cannot hold a canary.
        SourceError: the source cannot be read.
        SchemaError: no column of the source can hold a canary.
        DataError: the source is too small for `ks` (or for a run at all).
    """
    opts = parse_options(mode=mode, epsilon=epsilon, delta=delta, masks=masks, seed=seed, ledger=ledger)
    ks = check_ks(ks)
    # A source the run would refuse (in DP modes, one whose types DuckDB guesses) is refused here
    # too: a canary on a copy of it would test a release that cannot be made.
    src = open_source(con, source, private=opts.private, in_sql=False)
    columns = read_schema(con, src.sql, src.rows_of)
    opts = named_as_columns(columns, opts)
    check_columns(columns, opts.mask_map)
    target = pick_column(columns, column, opts.mask_map)
    reads = source_keys(con, src)
    temp = f"__duckdb_synth_canary_{uuid.uuid4().hex[:12]}"
    try:
        with _charged_reads(con, reads, src.text, opts):
            n = con.sql(f"SELECT count(*) FROM ({src.sql})").fetchall()[0][0]
            need = sum(ks)
            if need > n:
                raise DataError(
                    f"planting secrets in {', '.join(map(str, ks))} rows needs {need:,} distinct rows (one secret per "
                    f"row), more than the source {src.label} has: give smaller k values (--k 1,2,5,10,20,50)")
            rng = np.random.default_rng(seed)
            secrets = _secrets(con, src.sql, target, ks, rng)
            _copy(con, src.sql, temp, columns)
        planted_rows: list[int] = rng.permutation(n)[:need].tolist()
        planted_secrets = [s for s, k in zip(secrets, ks) for _ in range(k)]
        con.execute(
            f"UPDATE {quote_ident(temp)} SET {quote_ident(target.name)} = CAST(p.secret AS {target.type}) "
            f"FROM (SELECT unnest(?::BIGINT[]) AS rid, unnest(?::VARCHAR[]) AS secret) AS p "
            f"WHERE {quote_ident(temp)}.rowid = p.rid", [planted_rows, planted_secrets])
        try:
            # Filed in the ledger under the source's tables: the run reads their rows (and its replay counts,
            # what the canary shows, are computed from its output).
            res = _run(con, temp, mode=mode, epsilon=epsilon, delta=delta, masks=masks, seed=seed,
                       ledger=ledger, sources=reads)
        except BaseException as exc:
            record_failure(con, exc)
            raise
        record(con, res)
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{quote_ident(temp)}")
    replayed = count_values(res.table, target.name, secrets)
    order = sorted(range(len(ks)), key=lambda i: (ks[i], secrets[i]))
    meta = {"mode": res.options.mode, "epsilon": "" if res.options.epsilon is None else f"{res.options.epsilon:g}",
            "rows_in": "" if res.options.private else str(res.rows_in), "rows_out": str(res.table.num_rows)}
    return pa.table({
        "secret": [secrets[i] for i in order],
        "column": [target.name] * len(ks),
        "times_planted": [ks[i] for i in order],
        "times_replayed": [replayed[secrets[i]] for i in order],
    }, schema=SCHEMA.with_metadata(meta))


def check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    """The k values as a tuple of positive integers; OptionError otherwise."""
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Iterable):
        raise OptionError(f"ks must be a list of positive integers such as (1, 2, 5, 10), got {ks!r}")
    out = []
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise OptionError(f"every k must be a positive integer (how many rows a secret is planted in), got {k!r}")
        out.append(int(k))
    if not out:
        raise OptionError("ks is empty: give how many rows to plant each secret in, e.g. (1, 2, 5, 10)")
    return tuple(out)


def pick_column(columns: Sequence[Column], name: str | None, masks: dict[str, str]) -> Column:
    """The column to plant in: `name`, or the first VARCHAR (then UUID) column that is neither masked nor a key."""
    def why_not(c: Column) -> str | None:
        if c.type.upper() not in CANARY_TYPES:
            return f"is {c.type}; a canary is a made-up text value and needs a VARCHAR or UUID column"
        if c.name in masks:
            return "is masked: its values are random and independent of the data, so nothing planted can come back"
        if c.unique:
            return ("is a declared key (PRIMARY KEY or UNIQUE), which is filled with fresh unique values and "
                    "cannot hold a value repeated k times")
        return None

    fits = [c for c in columns if why_not(c) is None]
    if name is not None:
        names = [c.name for c in columns]
        col = next((c for c in columns if c.name == name), None)
        if col is None:
            raise OptionError(f"no column '{name}' in the source{did_you_mean(name, names)}; "
                              f"columns: {', '.join(names)}")
        reason = why_not(col)
        if reason is not None:
            hint = f"; columns that can: {', '.join(c.name for c in fits)}" if fits else ""
            raise OptionError(f"column '{name}' {reason}{hint}")
        return col
    for kind in CANARY_TYPES:
        col = next((c for c in fits if c.type.upper() == kind), None)
        if col is not None:
            return col
    listed = ", ".join(f"{c.name} ({c.type})" for c in columns)
    raise SchemaError(
        f"no column can hold a canary: it needs a VARCHAR or UUID column that is neither masked nor a declared key, "
        f"and the source has {listed}. Numeric canaries are not supported: a made-up number comes back near, not "
        "equal to, its value, so exact replays would understate the leak")


def count_values(table: pa.Table, column: str, values: Sequence[str]) -> dict[str, int]:
    """How many rows of `column` equal each of `values` (compared as text)."""
    con = duckdb.connect()
    try:
        con.register("_canary_output", table)
        text = f"CAST({quote_ident(column)} AS VARCHAR)"
        found = dict(con.execute(
            f"SELECT {text}, count(*) FROM _canary_output WHERE {text} IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1",
            [list(values)]).fetchall())
    finally:
        con.close()
    return {v: int(found.get(v, 0)) for v in values}


def _secrets(con: duckdb.DuckDBPyConnection, sql: str, col: Column, ks: Sequence[int],
             rng: np.random.Generator) -> list[str]:
    """One made-up value per k, none of them already in the column (checked, redrawn if so)."""
    for _ in range(10):
        if col.type.upper() == "UUID":
            out = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in ks]
        else:
            out = [f"canary-{rng.bytes(6).hex()}-k{k}" for k in ks]
        text = f"CAST({quote_ident(col.name)} AS VARCHAR)"
        clash = con.execute(f"SELECT count(*) FROM ({sql}) WHERE {text} IN (SELECT unnest(?::VARCHAR[]))",
                            [out]).fetchall()[0][0]
        if len(set(out)) == len(out) and not clash:
            return out
    raise DataError(f"could not make secrets that column '{col.name}' does not already hold")  # pragma: no cover


def _copy(con: duckdb.DuckDBPyConnection, sql: str, temp: str, columns: Sequence[Column]) -> None:
    """Copy the source into a TEMP table with the constraints the run reads (keys, NOT NULL)."""
    if not any(c.unique or not c.nullable for c in columns):
        con.execute(f"CREATE TEMP TABLE {quote_ident(temp)} AS SELECT * FROM ({sql})")
        return
    defs = ", ".join(f"{quote_ident(c.name)} {c.type}" + (" UNIQUE" if c.unique else "")
                     + ("" if c.nullable else " NOT NULL") for c in columns)
    con.execute(f"CREATE TEMP TABLE {quote_ident(temp)} ({defs})")
    con.execute(f"INSERT INTO {quote_ident(temp)} SELECT * FROM ({sql})")
