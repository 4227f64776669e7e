"""The same run on Spark: ``duckdb_synth.spark.synthesize(spark, source, ...)`` returns a DataFrame.

The stages that read the data ask Spark (``engine/spark.py``): only aggregates and partial
marginals come back to the driver, where the noise is drawn and the model fitted. The rows are
made in Spark's executors, one batch a task (``Output.batch``: each batch its own random stream,
spawned from the run's), when the DataFrame is computed; ``path=`` has the driver write them to
one Parquet file instead. For a seed, the noisy measurements and the rows equal a DuckDB run's on
the same rows in the same order. The DataFrame has the source's column types.

Needs pyspark (``pip install 'duckdb-synth[spark]'``) and Java 17 or later.

Not on Spark: the ledger in a DuckDB database (``budget``, ``ledger``: a Spark run's spend is on
its result, ``run(...).spend``).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .engine.schema import read_schema
from .engine.plan import named_as_columns, plan
from .engine.source import Source, reads_path
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
    path: Path | None  # the Parquet file written (run(..., path=...)); None: the rows are made in the executors
    driver_bytes: dict = None  # bytes of the stages' answers from Spark on the driver, by kind (value counts,
    # histograms, marginals, codes, sample, counts, sorted values)
    driver_cells: dict = None  # cells of the tables among those answers (histograms, marginals), by kind: each
    # table comes once, added up in Spark, so its bytes are about 8 a cell whatever the rows and partitions

    @property
    def driver_total(self) -> int:
        return sum((self.driver_bytes or {}).values())

    @property
    def spend(self):
        return self.result.spend


def open_spark_source(spark, source) -> tuple[Any, Source]:
    """The DataFrame to read and how the run names it: a DataFrame, a table or view of the Spark
    catalog ('db.table'), a .parquet/.csv/.json path or pattern, or a directory of Parquet files."""
    DataFrame = _pyspark()
    if isinstance(source, DataFrame):
        return source, Source("query", "a Spark DataFrame", "(a Spark DataFrame)")
    if not isinstance(source, str) or not source.strip():
        raise SourceError(f"source: give a Spark DataFrame, a table name or a file path, not {source!r}")
    text = source.strip()
    fmt = next((f for ext, f in _READERS.items() if text.lower().endswith(ext)), None)
    if fmt is None and "://" not in text and Path(text).is_dir():
        fmt = "parquet"  # a directory of Parquet files, as Spark writes them
    try:
        if fmt is not None:
            where = text
            if "://" not in text:  # a local path: Spark's JVM may have another working directory than Python
                pattern = any(ch in text for ch in "*?[")
                if not pattern and not Path(text).exists():
                    raise SourceError(f"no file named {text}")
                where = str(Path(text).absolute())  # a pattern's * and ? stay for Spark to expand
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
    masks, rows, seed, marginals, domains, privacy_unit, max_rows_per_unit).

    Args:
        spark: the SparkSession.
        source: a DataFrame, a table or view name of the Spark catalog, or a .parquet/.csv/.json path.
        path: a Parquet file the driver writes the rows to, batch by batch, and the DataFrame reads:
            on the driver's disk, so for local mode or a shared filesystem (default: none; the DataFrame
            makes the rows in Spark's executors, one batch a task, each time it is computed: the same
            rows every time; write it with ``.write``).

    The result's ``driver_bytes`` (what Spark's answers weighed, by kind) is an exact figure of the
    data (it grows with the rows and the distinct values): for the data owner, not for release.
    Spark's own logs are Spark's: a task that fails on a row (a cast in the source) logs the row's
    value at ERROR level, which a DP run's error message does not; in DP modes quiet them
    (``spark.sparkContext.setLogLevel("OFF")``; the CLI does).
        progress: called with (stage, fraction done).

    Raises:
        ImportError: pyspark is not installed (names the extra).
        OptionError: a bad option, or one not on Spark yet (budget, ledger).
        SourceError, SchemaError, MaskError, DataError: as on DuckDB.
    """
    from .pipeline import _stages
    from .engine.spark import SparkRows

    _pyspark()
    started = time.perf_counter()
    if options.get("budget") is not None:
        raise OptionError("budget: a Spark run keeps no ledger in a database, so no budget to check or set; "
                          "its spend is on the result (run(...).spend). Leave budget out")
    ledger = options.pop("ledger", None)
    if ledger not in (None, False):
        raise OptionError("ledger: a Spark run keeps no ledger in a database; its spend is on the result "
                          "(run(...).spend). Leave ledger out")
    opts = parse_options(**options)
    out = Path(path) if path is not None else None
    if out is not None:
        if out.suffix.lower() != ".parquet":
            raise OptionError(f"path: '{out}' is not a .parquet file name")
        if not out.parent.is_dir():
            raise OptionError(f"path: directory '{out.parent}' does not exist")
    df, src = open_spark_source(spark, source)
    if out is not None and src.kind == "file" and reads_path(src.text, out):
        raise OptionError(f"path: the source reads '{out}', which the synthetic copy would replace; write to another "
                          "file")
    schema = _schema(df)
    opts = named_as_columns(schema, opts)
    cols = plan(schema, opts)
    if opts.private and opts.seed is not None:
        import warnings

        from .pipeline import SeededRunWarning
        from .privacy.spend import SEEDED_WARNING

        warnings.warn(SEEDED_WARNING, SeededRunWarning, stacklevel=2)
    engines: list[SparkRows] = []

    def engine(columns, show_values, unit):
        engines.append(SparkRows(df, columns, show_values=show_values, unit=unit))
        return engines[-1]

    # A TIMESTAMP (without time zone) is read as microseconds since the epoch as written, as DuckDB
    # reads it; Spark converts it through the session's time zone, so the run reads in UTC.
    zone = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    try:
        res = _stages(None, src, opts, cols, progress or (lambda stage, frac: None), started, engine=engine)
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)
        for e in engines:  # the model is fitted: the cached values and codes of the real rows go
            e.close()
    from pyspark.sql import functions as F

    if path is not None:  # one file, written by the driver batch by batch
        res.output.write_parquet(out)
        made = spark.read.parquet(str(out.resolve()))  # not relative to the JVM's working directory
    else:  # made in the executors, one batch a task, when the DataFrame is computed
        made = _sampled(spark, res)
    frame = made.select([F.col(f"`{f.name}`").cast(f.dataType).alias(f.name) for f in df.schema.fields])
    received: dict[str, int] = {}
    cells: dict[str, int] = {}
    for e in engines:
        for kind, size in e.received.items():
            received[kind] = received.get(kind, 0) + size
        for kind, size in e.cells.items():
            cells[kind] = cells.get(kind, 0) + size
    return SparkResult(frame, replace(res, seconds=time.perf_counter() - started), out, received, cells)


def _sampled(spark, res: Result):
    """The rows as a DataFrame made in Spark's executors: task i makes batch i of the output
    (``Output.batch``: each batch has its own stream spawned from the run's, so the rows are the
    ones the driver would make) and casts it to the output's types with DuckDB."""
    import copy as _copy

    import pyspark.sql.types as T
    from pyspark.sql.pandas.types import from_arrow_schema

    from .engine.decode import cast_projection
    from .engine.output import parquet_types
    from .engine.source import quote_ident

    select = cast_projection(parquet_types(res.types))
    con = duckdb.connect()
    try:
        nulls = ", ".join(f"CAST(NULL AS {t}) AS {quote_ident(c)}" for c, t in res.types)
        schema = con.sql(f"SELECT {select} FROM (SELECT {nulls}) LIMIT 0").to_arrow_table().schema
    finally:
        con.close()
    output = _copy.copy(res.output)
    output._first = None  # the rows the driver made, if any, do not travel with the model
    batches = output.num_batches

    def make(ids: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import duckdb as _duckdb

        local = _duckdb.connect()
        for chunk in ids:
            for i in chunk.column(0).to_pylist():
                local.register("_batch", output.batch(int(i)))
                table = local.sql(f"SELECT {select} FROM _batch").to_arrow_table().cast(schema)
                local.unregister("_batch")
                yield from table.to_batches()

    ids = spark.range(0, batches, 1, numPartitions=max(1, min(batches, spark.sparkContext.defaultParallelism * 4)))
    spark_schema = from_arrow_schema(schema) if schema.names else T.StructType([])
    return ids.mapInArrow(make, spark_schema)


def synthesize(spark, source, **options):
    """A synthetic copy of a Spark source, as a DataFrame; see ``run`` for the arguments."""
    return run(spark, source, **options).dataframe
