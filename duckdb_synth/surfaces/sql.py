"""Register the SQL surface on a DuckDB connection: ``synthesize(...)``, ``synth_runs()`` and the reports.

The 2.0 Python client has no table functions, so each table macro (text in
``sql/``) reads a Parquet file whose path a Python scalar UDF returns while the
query binds. The macros are TEMP: registering never changes the user's database (it
works on read-only files, and a file opened later by plain DuckDB holds none of
ours). The UDFs are visible to every cursor of the database but belong to the
connection that made them, so each connection's UDFs get names of their own.

Binding may evaluate the UDF more than once, and a lazy relation binds again on
every fetch, so runs are memoized per connection by their exact arguments and the
source's content (its columns, row count and a sum of its rows' hashes): an
identical call on unchanged data returns the same synthetic rows and spends nothing
more. Changed data, a different seed (or ``duckdb_synth.forget(con)``) makes a
fresh run.
"""
from __future__ import annotations

import atexit
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ..engine.data import content_stamp
from ..engine.schema import use_session
from ..engine.source import budget_key, open_source, quote_ident, quote_literal, source_keys
from ..errors import OptionError, SynthError
from ..options import parse_options
from ..pipeline import aggregates, run
from ..privacy import ledger, store
from ..privacy.ledger import Result, record, record_failure
from ..reporting.build import build as build_report
from ..reporting.cache import fingerprint as report_fingerprint, write_tables as write_report_tables
from ..reporting.preservation import compare_release


MEMO_RUNS = 16  # synthesize() outputs kept (as files) per connection: an identical call past them runs again
MEMO_REPORTS = 8  # reports kept per connection
MEMO_AGE = 600.0  # ... but none used in the last ten minutes falls out


@dataclass
class _State:
    """What one registered connection keeps: a scratch folder, memoized runs and reports (the newest)."""

    folder: Path
    cache: _Files = field(default_factory=lambda: _Files(MEMO_RUNS))  # call -> Parquet file
    reports: _Files = field(default_factory=lambda: _Files(MEMO_REPORTS))  # input -> part -> file
    runs_file: Path | None = None  # the last synth_runs() table written
    lock: threading.Lock = field(default_factory=threading.Lock)
    holder: int | None = None  # the thread holding `lock` (``_holding``)
    runs_lock: threading.Lock = field(default_factory=threading.Lock)
    suffix: str = field(default_factory=lambda: f"_{next(_CONNECTIONS)}")  # of this connection's UDF names
    made: Iterator[int] = field(default_factory=lambda: itertools.count(1))  # numbers the files written
    macros: list[str] = field(default_factory=list)  # the CREATE TEMP MACRO statements, for the readers too
    progress: Callable[[str, float], None] | None = None  # told each run's stages (the shell draws a bar)


@contextmanager
def _holding(st: _State) -> Iterator[None]:
    """`st.lock`, refused with a clear error to the thread that holds it already: a synthesize() whose source query
    calls synthesize() again (or synth_aggregates(), or a report) is bound by DuckDB while the first call reads its
    source under the lock, on the same thread, and waited for it forever (the review of 12d66b3)."""
    me = threading.get_ident()
    if st.holder == me:
        raise OptionError("a synthesize(), synth_aggregates() or report call cannot read a source that calls one of "
                          "them again while the first is reading: make the inner copy a table first (CREATE TABLE c "
                          "AS SELECT * FROM synthesize(...)) and read that")
    with st.lock:
        st.holder = me
        try:
            yield
        finally:
            st.holder = None


_STATES: dict[int, tuple[weakref.ref, _State]] = {}
_CONNECTIONS = itertools.count(1)
_UDFS = re.compile(r"\b(_synth_run|_synth_aggregates|_synth_runs_file|_synth_compare|_synth_report|_synth_budget_file|_synth_set_budget)\(")
_FOLDER = re.compile(r"^duckdb_synth_(\d+)_")
_swept = False


def _state(con: duckdb.DuckDBPyConnection) -> _State:
    """The connection's state, made on first use. The connection is held weakly: when it is gone, its
    scratch folder (synthetic rows, and reports holding real statistics) goes with it."""
    key = id(con)
    entry = _STATES.get(key)
    if entry is None or entry[0]() is not con:
        _sweep()
        _drop_closed()
        st = _State(Path(tempfile.mkdtemp(prefix=f"duckdb_synth_{os.getpid()}_")))
        _STATES[key] = (weakref.ref(con, lambda _, key=key, folder=st.folder: _drop(key, folder)), st)
    return _STATES[key][1]


def _drop(key: int, folder: Path) -> None:
    _STATES.pop(key, None)
    shutil.rmtree(folder, ignore_errors=True)


def _drop_closed() -> None:
    """Let go of the states of connections closed since (a closed connection cannot open a cursor)."""
    for key, (ref, st) in list(_STATES.items()):
        con = ref()
        if con is None:
            continue
        try:
            con.cursor().close()
        except duckdb.ConnectionException:
            _drop(key, st.folder)


@atexit.register
def _cleanup() -> None:
    for _, st in list(_STATES.values()):
        shutil.rmtree(st.folder, ignore_errors=True)


def _sweep() -> None:
    """Once per process: remove the scratch folders of processes that are gone (killed before atexit)."""
    global _swept
    if _swept:
        return
    _swept = True
    root = Path(tempfile.gettempdir())
    for folder in root.glob("duckdb_synth_*"):
        m = _FOLDER.match(folder.name)
        if m is None or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (PermissionError, OverflowError):  # alive under another user, or no such pid at all
            continue


class _Files(OrderedDict):
    """A bounded memo of files: the least recently used fall out, their files deleted, but none used
    in the last MEMO_AGE seconds (so the calls of one query never push each other out and run twice)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.used: dict[tuple, float] = {}

    def fetch(self, key: tuple):
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
            self.used[key] = time.monotonic()
        return value

    def keep(self, key: tuple, value) -> None:
        self[key] = value
        self.move_to_end(key)
        self.used[key] = time.monotonic()
        self.trim(self.limit)

    def trim(self, limit: int, *, now: float | None = None) -> None:
        """Drop the oldest entries past `limit` that were last used more than MEMO_AGE seconds ago
        (`now` = +inf: whatever their age)."""
        now = time.monotonic() if now is None else now
        while len(self) > limit:
            key = next(iter(self))
            if now - self.used[key] < MEMO_AGE:
                break
            old = self.pop(key)
            del self.used[key]
            for path in (old.values() if isinstance(old, dict) else [old[0]] if isinstance(old, tuple) else [old]):
                Path(path).unlink(missing_ok=True)


def _sql_text(name: str = "synthesize.sql") -> str:
    try:
        return resources.files("duckdb_synth").joinpath("sql", name).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return (Path(__file__).resolve().parents[2] / "sql" / name).read_text()


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make ``synthesize(...)``, ``synth_runs()`` and the report functions available in SQL on `con` (idempotent).

    Table macros:

    * ``synthesize(source, mode, epsilon, delta, masks, rows, seed, marginals, domains, privacy_unit,
      max_rows_per_unit, budget, ledger, constraints)``: a synthetic copy (options as ``duckdb_synth.run``);
    * ``synth_runs()``: every run recorded in the database's ledger, one row per step;
    * ``synth_budget()`` and ``synth_set_budget(source, epsilon, delta)``: what each source has spent and
      has left, and its total budget;
    * ``synth_report(real, synth, holdout := NULL)``, ``synth_report_columns``, ``synth_report_pairs`` and
      ``synth_privacy_report`` (same arguments): the quality and privacy report of a copy;
    * ``synth_report_aggregates(release, synth)``: a copy against a stored aggregate release, per length.
    """
    st = _state(con)
    V = duckdb.sqltypes.VARCHAR
    con_ref = weakref.ref(con)  # the UDFs live on the connection: a strong reference would keep it forever

    def memoized(kind: str, args: tuple, source, options: dict, make, write, session: str | None = None) -> str:
        """A call's answer (what `write(result, path)` returned when the result was written to its file):
        made once per distinct call and source content, the ledger checked before the source is read, the
        result recorded (a failure after spending too). `session`: the caller's time zone and calendar, which
        the source is read in."""
        con = con_ref()
        with _holding(st):
            reader = _reader(con, st, session)
            try:
                if not any(k[:-1] == args for k in st.cache):
                    # No earlier result to return: the ledger may refuse this call, before the source is read
                    # (the content stamp below reads it all).
                    _check_ledger(con, reader, source, options)
                key = (*args, _stamp(reader, source, options["mode"], options["epsilon"]))
                known = st.cache.fetch(key)
                if known is not None:
                    return known[1]
                res = make(con, reader)
            except BaseException as exc:
                record_failure(con, exc)  # a run that failed after spending is in synth_runs() too
                raise
            finally:
                reader.close()
            record(con, res)  # first: whatever happens to the file, the spend is in the ledger
            path = st.folder / f"{kind}_{next(st.made)}.parquet"
            st.cache.keep(key, (str(path), write(res, path)))
            return st.cache[key][1]

    def synth_run(source, mode, epsilon, delta, masks, rows, seed, marginals, domains, unit, per_unit, budget,
                  use_ledger, constraints, session):
        epsilon, delta, rows, seed, per_unit, budget = (_number(v) for v in (epsilon, delta, rows, seed, per_unit,
                                                                             budget))
        options = dict(mode=mode, epsilon=epsilon, delta=delta, masks=json.loads(masks) if masks is not None else None,
                       rows=rows, seed=seed, marginals=marginals, domains=domains, privacy_unit=unit,
                       max_rows_per_unit=per_unit, budget=budget, ledger=use_ledger, constraints=constraints)

        def write(res, path):
            res.output.write_parquet(path)
            return _read_back_sql(res, path)

        return memoized("run", (source, mode, epsilon, delta, masks, rows, seed, marginals, domains, unit, per_unit,
                                budget, use_ledger, constraints, session), source, options,
                        lambda con, reader: run(con, source, reader=reader, in_sql=True, progress=st.progress,
                                                **options), write, session)

    def synth_aggregates(source, length, columns, threshold, mode, epsilon, delta, seed, domains, unit, per_unit,
                         budget, use_ledger, session):
        length, threshold, epsilon, delta, seed, per_unit, budget = (
            _number(v) for v in (length, threshold, epsilon, delta, seed, per_unit, budget))
        options = dict(mode=mode, epsilon=epsilon, delta=delta, seed=seed, domains=domains, privacy_unit=unit,
                       max_rows_per_unit=per_unit, budget=budget, ledger=use_ledger)

        def write(res, path):
            pq.write_table(res.table, path)
            return str(path)

        return memoized("aggregates", ("aggregates", source, length, columns, threshold, mode, epsilon, delta, seed,
                                       domains, unit, per_unit, budget, use_ledger, session), source, options,
                        lambda con, reader: aggregates(con, source, reader=reader, in_sql=True,
                                                       reporting_length=length,
                                                       columns=_json_list("columns", columns), threshold=threshold,
                                                       **options), write, session)

    def runs_file():
        # Its own lock: a synthesize() source query may read synth_runs() while st.lock is held.
        with st.runs_lock:
            return str(_runs_file(con_ref(), st))

    def budget_file():
        with st.runs_lock:
            reader = con_ref().cursor()
            try:
                path = st.folder / f"budget_{next(st.made)}.parquet"
                pq.write_table(store.budget_table(reader), path)
            finally:
                reader.close()
            return str(path)

    def set_budget_file(source, epsilon, delta):
        con = con_ref()
        with st.runs_lock:
            reader = con.cursor()
            try:
                if source is None:
                    raise OptionError("synth_set_budget: give the table or file, e.g. "
                                      "synth_set_budget('patients', epsilon := 5)")
                if epsilon is None:
                    raise OptionError(f"synth_set_budget('{source}'): give epsilon := x, the source's total budget")
                key = budget_key(reader, source)
                b = store.set_budget(con, key, _number(epsilon), _number(delta))
                path = st.folder / f"set_budget_{next(st.made)}.parquet"
                pq.write_table(pa.table({"source": [store.shown(reader, key)], "epsilon": [b.epsilon],
                                         "delta": [b.delta]}), path)
            finally:
                reader.close()
            return str(path)

    def synth_report(real, synth, part, holdout, constraints, session):
        con = con_ref()
        # Not under st.lock while reading: a source query may itself call synthesize(), which takes it. In the
        # caller's time zone and calendar: a synthesize() in `synth` binds its own with the reader's (in UTC its call
        # was another, run and spent again: the review of e26c4ee).
        reader = _reader(con, st, session)
        try:
            key = (real, synth, holdout, constraints,
                   report_fingerprint(reader, real, synth, in_sql=True, holdout=holdout))
            with _holding(st):
                paths = st.reports.fetch(key)
            if paths is None:
                rep = build_report(reader, real, synth, runs=ledger.ledger(con).numbered(), in_sql=True,
                                   holdout=holdout, constraints=constraints)
                with _holding(st):
                    if key not in st.reports:
                        st.reports.keep(key, write_report_tables(rep, st.folder / f"report_{next(st.made)}"))
                    paths = st.reports[key]
        finally:
            reader.close()
        return paths[part]

    def synth_compare(release, synth, session):
        con = con_ref()
        reader = _reader(con, st, session)
        try:
            key = ("aggregates", release, synth, report_fingerprint(reader, release, synth, in_sql=True))
            with _holding(st):
                paths = st.reports.fetch(key)
            if paths is None:
                table = compare_release(reader, release, synth, in_sql=True)
                with _holding(st):
                    if key not in st.reports:
                        path = st.folder / f"compare_{next(st.made)}.parquet"
                        pq.write_table(table, path)
                        st.reports.keep(key, {"aggregates": str(path)})
                    paths = st.reports[key]
        finally:
            reader.close()
        return paths["aggregates"]

    for name, fn, params in (("_synth_run", synth_run, [V] * 15), ("_synth_aggregates", synth_aggregates, [V] * 14),
                             ("_synth_runs_file", runs_file, []), ("_synth_compare", synth_compare, [V, V, V]),
                             ("_synth_report", synth_report, [V, V, V, V, V, V]), ("_synth_budget_file", budget_file, []),
                             ("_synth_set_budget", set_budget_file, [V, V, V])):
        try:
            con.remove_function(name + st.suffix)
        except duckdb.Error:
            pass
        con.create_function(name + st.suffix, fn, params, V, null_handling="special", side_effects=False)
    text = _sql_text("synthesize.sql") + "\n" + _sql_text("report.sql")
    text = _UDFS.sub(lambda m: f"{m.group(1)}{st.suffix}(", text)
    st.macros = _statements(text)
    for statement in st.macros:
        con.execute(statement)


def _json_list(name: str, text: str | None):
    """A list argument passed as JSON text (``to_json``), back to a list (else the text, which the options refuse)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise OptionError(f"{name} must be a list, e.g. {name} := ['age', 'sex']; got {text}") from None


def _number(text: str | None) -> int | float | str | None:
    """A SQL argument passed as text, back to the number it was (else the text, which the options refuse)."""
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _check_ledger(con: duckdb.DuckDBPyConnection, reader: duckdb.DuckDBPyConnection, source, options: dict) -> None:
    """Raise what the ledger would refuse the run with (``store.check``); bad options or sources are left to
    the run, which says what is wrong with them."""
    try:
        opts = parse_options(**options)
        src = open_source(reader, source, private=opts.private, in_sql=True)
        reads = source_keys(reader, src)
    except (SynthError, duckdb.Error):
        return
    store.check(con, reads, opts)


def _stamp(reader: duckdb.DuckDBPyConnection, source, mode, epsilon) -> tuple | None:
    """The source's content stamp, once the source passes the run's own checks (None: it does not,
    and the run will say why)."""
    try:
        src = open_source(reader, source, private=parse_options(mode=mode, epsilon=epsilon).private, in_sql=True)
        return content_stamp(reader, src.sql)
    except (SynthError, duckdb.Error):
        return None


def _reader(con: duckdb.DuckDBPyConnection, st: _State, session: str | None = None) -> duckdb.DuckDBPyConnection:
    """A second connection to read sources through, with the macros (TEMP: a cursor has its own), and the caller's
    time zone and calendar (`session`, 'TimeZone|Calendar', as ``synthesize`` passes them): a cursor starts in UTC,
    where a masked column's CHECKs and a CHECK's clock had been read (a copy made in Tokyo under `hour(ts) < 12`
    broke it in 1,511 of 2,000 rows: the review of 2ed0a05)."""
    reader = con.cursor()
    for statement in st.macros:
        reader.execute(statement)
    use_session(reader, session)
    return reader


def _statements(text: str) -> list[str]:
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def set_progress(con: duckdb.DuckDBPyConnection, progress: Callable[[str, float], None] | None) -> None:
    """Have every ``synthesize(...)`` run on `con` call `progress(stage, fraction)` (None: stop)."""
    _state(con).progress = progress


def forget(con: duckdb.DuckDBPyConnection) -> None:
    """Drop memoized runs and reports, and their files: the next identical ``synthesize(...)`` call runs
    (and spends) again."""
    st = _state(con)
    with _holding(st):
        for cache in (st.cache, st.reports):
            cache.trim(0, now=float("inf"))


# Types Parquet cannot hold: the file has a stand-in, cast back to the source's type when read (DuckDB
# reads Parquet's second and millisecond timestamps back as TIMESTAMP).
_NOT_IN_PARQUET = re.compile(r"^(ENUM\(|HUGEINT$|UHUGEINT$|TIMESTAMP_S$|TIMESTAMP_MS$)", re.I)


def _read_back_sql(res: Result, path: Path) -> str:
    """The query the macro runs (through DuckDB's ``query()``): the file, with every column that Parquet
    cannot carry (ENUM, HUGEINT, UHUGEINT, TIMESTAMP_S, TIMESTAMP_MS) cast back to the source's type, so the
    macro keeps all types."""
    cols = ", ".join(f"CAST({quote_ident(c)} AS {t}) AS {quote_ident(c)}" if _NOT_IN_PARQUET.match(t.strip())
                     else quote_ident(c) for c, t in res.types)
    return f"SELECT {cols or '*'} FROM read_parquet({quote_literal(str(path))})"


def _runs_file(con: duckdb.DuckDBPyConnection, st: _State) -> Path:
    """The ``synth_runs()`` table as a Parquet file, written afresh on every call (other connections and
    processes add to the database's ledger): the ledger's runs, then this connection's unrecorded ones."""
    reader = con.cursor()
    try:
        recorded = store.run_rows(reader)
    finally:
        reader.close()
    parts = [] if recorded is None else [_as_runs(recorded)]
    parts.append(ledger.ledger(con).table())
    table = pa.concat_tables(parts)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    # Named by its content: an unchanged ledger reads the same file (a query may read synth_runs() twice,
    # and the first file must outlive the second call).
    path = st.folder / f"runs_{hashlib.sha1(sink.getvalue().to_pybytes()).hexdigest()[:16]}.parquet"
    if not path.exists():
        pq.write_table(table, path)
    st.runs_file = path
    return path


def _as_runs(table: pa.Table) -> pa.Table:
    """The ledger's rows in the columns of ``synth_runs()``."""
    table = table.append_column("in_ledger", pa.array([True] * table.num_rows, type=pa.bool_()))
    return table.select(ledger.RUN_COLUMNS.names).cast(ledger.RUN_COLUMNS)
