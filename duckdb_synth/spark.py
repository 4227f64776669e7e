"""The same run on Spark: ``duckdb_synth.spark.synthesize(spark, source, ...)`` returns a DataFrame.

The stages that read the data ask Spark (``engine/spark.py``): only aggregates and partial
marginals come back to the driver, where the noise is drawn, the model fitted and the rows
sampled, exactly as on DuckDB: for a seed, the noisy measurements and the output equal a DuckDB
run's on the same rows in the same order. The output is written as Parquet and read back as a
DataFrame with the source's column types.

Needs pyspark (``pip install 'duckdb-synth[spark]'``) and Java 17 or later.

Not on Spark yet: a privacy unit (its bounding ranks a unit's rows by a hash, which differs
between engines), the ledger in a DuckDB database (``budget``, ``ledger``: a Spark run's spend is
on its result, ``run(...).spend``), and sampling in the executors (the driver makes the rows,
batch by batch, as on DuckDB).
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .engine.schema import read_schema
from .engine.plan import plan
from .engine.source import Source, quote_literal
from .errors import OptionError, SourceError
from .options import parse_options
from .privacy.ledger import Result

SPARK_EXTRA = ("duckdb_synth.spark needs pyspark, an optional extra: pip install 'duckdb-synth[spark]' "
               "(from a checkout: pip install -e '.[spark]'); Spark runs on Java 17 or later")
_READERS = {".parquet": "parquet", ".csv": "csv", ".json": "json"}


def _pyspark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import DataFrame
    except ImportError:
        raise ImportError(SPARK_EXTRA) from None
    return DataFrame


@dataclass
class SparkResult:
    """A finished Spark run: the synthetic DataFrame, the run's result (spend, seconds, options) and
    where the rows were written."""

    dataframe: Any
    result: Result
    path: Path
    driver_bytes: int = 0  # what the stages' answers from Spark weighed on the driver (aggregates, marginals)

    @property
    def spend(self):
        return self.result.spend


def open_spark_source(spark, source) -> tuple[Any, Source]:
    """The DataFrame to read and how the run names it: a DataFrame, a table or view of the Spark
    catalog ('db.table'), or a .parquet/.csv/.json path."""
    DataFrame = _pyspark()
    if isinstance(source, DataFrame):
        return source, Source("query", "a Spark DataFrame", "(a Spark DataFrame)")
    if not isinstance(source, str) or not source.strip():
        raise SourceError(f"source: give a Spark DataFrame, a table name or a file path, not {source!r}")
    text = source.strip()
    fmt = next((f for ext, f in _READERS.items() if text.lower().endswith(ext)), None)
    try:
        if fmt is not None:
            where = text
            if "://" not in text:  # a local path: Spark's JVM may have another working directory than Python
                if not Path(text).exists():
                    raise SourceError(f"no file named {text}")
                where = str(Path(text).resolve())
            reader = spark.read.option("header", "true").option("inferSchema", "true") if fmt == "csv" else spark.read
            return reader.format(fmt).load(where), Source("file", text, f"(Spark {fmt} {where})")
        return spark.table(text), Source("table", text, f"(Spark table {text})")
    except SourceError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if fmt is None:
            raise SourceError(f"no table or view named {text} in the Spark catalog ({first[:300]})") from None
        raise SourceError(f"cannot read {text} with Spark: {first[:300]}") from None


def _duckdb_types(df) -> pa.Schema:
    """The source's columns as Arrow types, as DuckDB would receive them from Spark (a column of a type
    Arrow cannot carry is named by its Spark type, so the schema check names it)."""
    from pyspark.sql.pandas.types import to_arrow_type

    fields = []
    for f in df.schema.fields:
        try:
            t = to_arrow_type(f.dataType, timezone="UTC")
        except Exception:  # noqa: BLE001 - any type Arrow cannot hold
            t = None
        fields.append((f.name, t, f.dataType.simpleString()))
    return fields


def _schema(df):
    """Our columns of the DataFrame, classified by DuckDB from an empty Arrow table of its types."""
    con = duckdb.connect()
    try:
        fields = _duckdb_types(df)
        ok = [(name, t) for name, t, _ in fields if t is not None]
        bad = [(name, spark_type) for name, t, spark_type in fields if t is None]
        if bad:
            from .errors import SchemaError

            raise SchemaError("cannot synthesize " + ", ".join(f"column '{n}' of Spark type {t}" for n, t in bad)
                              + ": Arrow cannot carry it; cast it or leave it out of the source")
        empty = pa.table({name: pa.array([], type=t) for name, t in ok})
        con.register("__spark_source", empty)
        return read_schema(con, "SELECT * FROM __spark_source")
    finally:
        con.close()


def run(spark, source, *, path: str | Path | None = None, progress=None, **options) -> SparkResult:
    """Synthesize a Spark source; the options are ``duckdb_synth.synthesize``'s (mode, epsilon, delta,
    masks, rows, seed, marginals, domains).

    Args:
        spark: the SparkSession.
        source: a DataFrame, a table or view name of the Spark catalog, or a .parquet/.csv/.json path.
        path: the Parquet file to write the rows to (default: a new temporary directory's
            ``synthetic.parquet``, which the returned DataFrame reads lazily: keep it while you use it).
        progress: called with (stage, fraction done).

    Raises:
        ImportError: pyspark is not installed (names the extra).
        OptionError: a bad option, or one not on Spark yet (privacy_unit, budget, ledger).
        SourceError, SchemaError, MaskError, DataError: as on DuckDB.
    """
    from .pipeline import _stages
    from .engine.spark import SparkRows

    _pyspark()
    started = time.perf_counter()
    for name in ("privacy_unit", "max_rows_per_unit", "budget"):
        if options.get(name) is not None:
            raise OptionError(f"{name}: not on Spark yet (duckdb_synth.spark runs a row-level guarantee and "
                              "keeps no ledger); run it on DuckDB, or leave it out")
    ledger = options.pop("ledger", None)
    if ledger not in (None, False):
        raise OptionError("ledger: a Spark run keeps no ledger in a database; its spend is on the result "
                          "(run(...).spend). Leave ledger out")
    opts = parse_options(**options)
    out = Path(path) if path is not None else Path(tempfile.mkdtemp(prefix="duckdb_synth_spark_")) / "synthetic.parquet"
    if path is not None:
        if out.suffix.lower() != ".parquet":
            raise OptionError(f"path: '{out}' is not a .parquet file name")
        if not out.parent.is_dir():
            raise OptionError(f"path: directory '{out.parent}' does not exist")
    df, src = open_spark_source(spark, source)
    cols = plan(_schema(df), opts)
    if opts.private and opts.seed is not None:
        import warnings

        from .pipeline import SeededRunWarning
        from .privacy.spend import SEEDED_WARNING

        warnings.warn(SEEDED_WARNING, SeededRunWarning, stacklevel=2)
    engines: list[SparkRows] = []

    def engine(columns, show_values):
        engines.append(SparkRows(df, columns, show_values=show_values))
        return engines[-1]

    res = _stages(None, src, opts, cols, progress or (lambda stage, frac: None), started, engine=engine)
    _write(res, out)
    written = spark.read.parquet(str(out.resolve()))  # not relative to the JVM's working directory
    from pyspark.sql import functions as F

    frame = written.select([F.col(f"`{f.name}`").cast(f.dataType).alias(f.name) for f in df.schema.fields])
    return SparkResult(frame, replace(res, seconds=time.perf_counter() - started), out,
                       sum(e.received for e in engines))


def synthesize(spark, source, **options):
    """A synthetic copy of a Spark source, as a DataFrame; see ``run`` for the arguments."""
    return run(spark, source, **options).dataframe


def _write(res: Result, path: Path) -> None:
    """The rows as one Parquet file, batch by batch, with DuckDB's writer (as the SQL macro's file)."""
    from .engine.decode import cast_projection

    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET threads = 1")
        con.register("_synth_result", res.output.reader())
        select = cast_projection([(c, "DECIMAL(38,0)" if t.upper() in ("HUGEINT", "UHUGEINT") else t)
                                  for c, t in res.types])
        con.execute(f"COPY (SELECT {select} FROM _synth_result) TO {quote_literal(str(path))} (FORMAT parquet)")
    finally:
        con.close()
