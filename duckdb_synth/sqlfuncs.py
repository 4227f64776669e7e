"""Register the SQL surface on a DuckDB connection: ``synthesize(...)``, ``synth_runs()`` and the reports.

The 2.0 Python client has no table functions, so each table macro (text in
``sql/``) reads a Parquet file whose path a Python scalar UDF returns while the
query binds. Binding may evaluate the UDF more than once, and a lazy relation
binds again on every fetch, so runs are memoized per connection by their exact
arguments: an identical call returns the same synthetic rows and spends nothing
more. A different seed (or ``duckdb_synth.forget(con)``) makes a fresh run.
"""
from __future__ import annotations

import atexit
import datetime as _dt
import json
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .pipeline import Result, run
from .report import build as build_report, fingerprint as report_fingerprint, write_tables as write_report_tables
from .decode import cast_projection
from .source import quote_literal

RUN_COLUMNS = pa.schema([
    ("run_id", pa.int64()), ("started_at", pa.timestamp("us")), ("source", pa.string()),
    ("mode", pa.string()), ("epsilon", pa.float64()), ("delta", pa.float64()),
    ("rows_in", pa.int64()), ("rows_out", pa.int64()), ("seconds", pa.float64()),
    ("step_no", pa.int32()), ("step", pa.string()), ("step_rho", pa.float64()),
    ("step_epsilon", pa.float64()), ("step_delta", pa.float64()), ("detail", pa.string()),
    ("total_rho", pa.float64()), ("total_epsilon", pa.float64()),
])


@dataclass
class _State:
    """What one registered connection keeps: a scratch folder, memoized runs, the run log."""

    folder: Path
    cache: dict[tuple, str] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    log_rows: list[dict] = field(default_factory=list)  # synth_runs() rows, one per step
    reports: dict[tuple, dict[str, str]] = field(default_factory=dict)  # report input -> part -> Parquet file
    runs_file: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_STATES: dict[int, tuple[duckdb.DuckDBPyConnection, _State]] = {}


def _state(con: duckdb.DuckDBPyConnection) -> _State:
    key = id(con)
    if key not in _STATES or _STATES[key][0] is not con:
        st = _State(Path(tempfile.mkdtemp(prefix="duckdb_synth_")))
        _STATES[key] = (con, st)
        _write_runs(st)
    return _STATES[key][1]


@atexit.register
def _cleanup() -> None:
    for _, st in _STATES.values():
        shutil.rmtree(st.folder, ignore_errors=True)


def _sql_text(name: str = "synthesize.sql") -> str:
    try:
        return resources.files("duckdb_synth").joinpath("sql", name).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return (Path(__file__).resolve().parent.parent / "sql" / name).read_text()


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make ``synthesize(...)`` and ``synth_runs()`` available in SQL on `con` (idempotent)."""
    st = _state(con)
    V, D, B = duckdb.sqltypes.VARCHAR, duckdb.sqltypes.DOUBLE, duckdb.sqltypes.BIGINT

    def synth_run(source, mode, epsilon, delta, masks, rows, seed, marginals):
        key = (source, mode, epsilon, delta, masks, rows, seed, marginals)
        with st.lock:
            if key in st.cache:
                return st.cache[key]
            masks_map = json.loads(masks) if masks is not None else None
            reader = con.cursor()
            try:
                res = run(con, source, reader=reader, in_sql=True, mode=mode, epsilon=epsilon, delta=delta,
                          masks=masks_map, rows=rows, seed=seed, marginals=marginals)
            finally:
                reader.close()
            path = st.folder / f"run_{len(st.results) + 1}.parquet"
            _write_result(res, path)
            record(con, res)
            st.cache[key] = str(path)
            return str(path)

    def runs_file():
        return str(st.runs_file)

    def synth_report(real, synth, part):
        # Not under st.lock while reading: a source query may itself call synthesize(), which takes it.
        reader = con.cursor()
        try:
            key = (real, synth, report_fingerprint(reader, real, synth, in_sql=True))
            with st.lock:
                paths = st.reports.get(key)
            if paths is None:
                rep = build_report(reader, real, synth, runs=list(st.results), in_sql=True)
                with st.lock:
                    if key not in st.reports:
                        st.reports[key] = write_report_tables(rep, st.folder / f"report_{len(st.reports) + 1}")
                    paths = st.reports[key]
        finally:
            reader.close()
        return paths[part]

    for name, fn, params in (("_synth_run", synth_run, [V, V, D, D, V, B, B, V]), ("_synth_runs_file", runs_file, []),
                             ("_synth_report", synth_report, [V, V, V])):
        try:
            con.remove_function(name)
        except duckdb.Error:
            pass
        con.create_function(name, fn, params, V, null_handling="special", side_effects=False)
    for statement in _statements(_sql_text("synthesize.sql") + "\n" + _sql_text("report.sql")):
        con.execute(statement)


def _statements(text: str) -> list[str]:
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def record(con: duckdb.DuckDBPyConnection, res: Result) -> None:
    """Add a finished run to the connection's log (read by ``synth_runs()``)."""
    st = _state(con)
    st.results.append(res)
    st.log_rows.extend(_log_rows(len(st.results), res))
    _write_runs(st)


def forget(con: duckdb.DuckDBPyConnection) -> None:
    """Drop memoized runs: the next identical ``synthesize(...)`` call runs (and spends) again."""
    _state(con).cache.clear()


def runs(con: duckdb.DuckDBPyConnection) -> list[Result]:
    """The runs made on `con`, oldest first."""
    return list(_state(con).results)


def _write_result(res: Result, path: Path) -> None:
    """Write the rows with DuckDB's own Parquet writer, which keeps types such as UUID."""
    con = duckdb.connect()
    try:
        con.register("_synth_result", res.table)
        # Parquet has no 128-bit integers: DECIMAL(38,0) keeps them exact (DuckDB would write DOUBLE).
        select = cast_projection([(c, "DECIMAL(38,0)" if t.upper() in ("HUGEINT", "UHUGEINT") else t)
                                  for c, t in res.types])
        con.execute(f"COPY (SELECT {select} FROM _synth_result) TO {quote_literal(str(path))} (FORMAT parquet)")
    finally:
        con.close()


def _log_rows(run_id: int, res: Result) -> list[dict]:
    sp = res.spend
    started = _dt.datetime.now() - _dt.timedelta(seconds=res.seconds)
    return [{
        "run_id": run_id, "started_at": started, "source": res.source.text, "mode": sp.mode,
        "epsilon": sp.epsilon, "delta": sp.delta if sp.private else None,
        # The exact input size is not released in DP modes.
        "rows_in": None if sp.private else res.rows_in,
        "rows_out": res.table.num_rows, "seconds": res.seconds, "step_no": no, "step": step["step"],
        "step_rho": step["rho"], "step_epsilon": step["epsilon"], "step_delta": step["delta"],
        "detail": step["detail"], "total_rho": sp.rho_spent if sp.private else None,
        "total_epsilon": sp.epsilon_spent,
    } for no, step in enumerate(sp.rows(), start=1)]


def _write_runs(st: _State) -> None:
    table = pa.Table.from_pylist(st.log_rows, schema=RUN_COLUMNS)
    path = st.folder / f"runs_{len(st.results)}.parquet"
    pq.write_table(table, path)
    st.runs_file = path
