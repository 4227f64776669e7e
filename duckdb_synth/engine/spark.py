"""The second engine: the stages' questions (``engine/data.py``'s ``Rows``) answered by Spark.

Where the data lives in Spark, the rows never come to the driver. The driver asks, and gets back:

* the row count, each column's NULL count and NaN/+inf/-inf counts (one aggregate each);
* for the thresholded steps, how many values hold each count (``count_classes``), and then just
  the values the driver drew as passing and among the highest (``values_at_many``)
  (``privacy/discovery.py:top_passing``); a category's full value counts only in balanced mode
  (``value_counts``);
* a histogram over a public bucketing: each partition counts its rows into the buckets with the
  same numpy code as the DuckDB engine (``Buckets.histogram``); the partial histograms are added
  in Spark (``summed``), so one histogram, the size of the bucketing, comes to the driver;
* the binned table stays on the executors: each partition encodes its rows with the domains
  (``Domain.encode``, pickled to the executors) and keeps the codes cached; a marginal is counted
  per partition (``engine/marginal.py:marginal``) and the partial tables added in Spark: the
  driver gets each marginal once, whatever the rows and the partitions.
  A binned table of at most ``LOCAL_CELLS`` codes comes to the driver whole instead (a marginal
  is then a numpy count, not a Spark job), and so does a subset of rows the selection scores;
* balanced mode's exact quantiles need a column's sorted values (``sorted_values``): they come to
  the driver, one column at a time, as the DuckDB engine holds them.

The values are read with the DuckDB engine's expressions (``data.value_sql``), transpiled to
Spark SQL by sqlglot: one source for both. Nothing here draws noise; the answers are exact, and
equal to the DuckDB engine's on the same rows in the same order, so a run's noisy measurements
and output, for a seed, are the same on both engines (``tests/test_spark.py``).
"""
from __future__ import annotations

import decimal
import io
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from ..errors import DataError, SynthError
from .data import ArrayColumn, Binned, code_type, exact_per, exact_sql, read_failed, to_float, value_sql
from .domain import Buckets, DecimalPlaces, Domain, PowersOfTwo, RareValues, TimeUnits
from .marginal import Clique, Remap, marginal
from .schema import FLOATS, Column, decimal_past_floats, written_decimal
from .source import quote_ident
from .units import canonical_sql, row_keys

CHUNK = 1 << 20  # cells of a partial table added as one piece in Spark (8 MB of float64)
DIRECT_CELLS = 1 << 16  # counts whose partials hold at most this many cells over all partitions (512 kB) are
# added on the driver, in one job: adding them in Spark took a shuffle, a second job, for each zoom level
COUNTED = ("histograms", "marginals")  # the kinds of ``summed`` tables that are counts (exact in any order)
LOCAL_CELLS = 1 << 25  # a binned table of at most this many codes (rows x columns; 64 MB as int16) is held on the
# driver; above it the codes stay on the executors and each marginal is a Spark job

log = logging.getLogger(__name__)


def spark_sql(duckdb_expr: str) -> str:
    """A DuckDB expression of ``data.value_sql`` as Spark SQL (sqlglot; ``epoch_us`` is Spark's ``unix_micros``; a
    date's or timestamp's ``isinf`` is false: Spark's hold no infinity, and have no such function)."""
    tree = sqlglot.parse_one(duckdb_expr, read="duckdb")

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.lower() == "epoch_us":
            return exp.Anonymous(this="unix_micros", expressions=node.expressions)
        if isinstance(node, exp.IsInf):
            return exp.false()
        return node

    return tree.transform(fix).sql(dialect="spark")


def _ipc(arrays: Sequence[np.ndarray]) -> bytes:
    """numpy arrays as one blob (npz in memory)."""
    buf = io.BytesIO()
    np.savez(buf, *arrays)
    return buf.getvalue()


def _unipc(blob: bytes) -> list[np.ndarray]:
    with np.load(io.BytesIO(blob)) as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))]


def _pieces(tables: Sequence[np.ndarray]) -> Iterator[tuple[int, int, bytes]]:
    """(table, piece, blob) for each ``CHUNK`` cells of each table, flattened row-major."""
    for j, t in enumerate(tables):
        flat = np.ravel(t)
        for c, start in enumerate(range(0, max(flat.size, 1), CHUNK)):
            yield j, c, _ipc([flat[start:start + CHUNK]])


def _pieces_batch(tables: Sequence[np.ndarray]) -> pa.RecordBatch:
    return _batch_of(list(_pieces(tables)))


def _batch_of(got: list[tuple[int, int, bytes]]) -> pa.RecordBatch:
    return pa.record_batch([pa.array([g[0] for g in got], pa.int64()), pa.array([g[1] for g in got], pa.int64()),
                            pa.array([g[2] for g in got], pa.binary())], names=["q", "piece", "blob"])


def _add_pieces(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The pieces of one reduce partition added up by (table, piece): one row each."""
    acc: dict[tuple[int, int], np.ndarray] = {}
    for batch in batches:
        for q, piece, blob in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(),
                                  batch.column(2).to_pylist()):
            values = _unipc(blob)[0]
            if (q, piece) in acc:
                acc[(q, piece)] += values
            else:
                acc[(q, piece)] = values
    if acc:
        yield _batch_of([(q, piece, _ipc([acc[(q, piece)]])) for q, piece in sorted(acc)])


def _pieces_schema():
    import pyspark.sql.types as T

    return T.StructType([T.StructField("q", T.LongType()), T.StructField("piece", T.LongType()),
                         T.StructField("blob", T.BinaryType())])


def _column_values(batch: pa.RecordBatch, i: int, numeric: bool) -> tuple[Any, np.ndarray | None]:
    """A batch's column as the DuckDB engine holds it: float64 values with the NULL mask, or Arrow."""
    col = batch.column(i)
    if numeric:
        return to_float(col), col.is_null().to_numpy(zero_copy_only=False)
    return _as_string(col), None


def _as_string(arr):
    """Text as DuckDB hands it over (Spark's Arrow may send large_string); other types as they are."""
    return arr.cast(pa.string()) if pa.types.is_large_string(arr.type) else arr


def _public_key(buckets: Buckets) -> tuple | None:
    """What makes a bucketing fixed by a column's type one of its kind (``SparkRows.shared_histogram``);
    None for any other."""
    if isinstance(buckets, PowersOfTwo):
        return ("powers of two", buckets.top)
    if isinstance(buckets, DecimalPlaces):
        return ("decimal places", buckets.single)
    if isinstance(buckets, TimeUnits):
        return ("time units",)
    return None


def _histogram_parts(values_df, names: Sequence[str], buckets: Sequence[Buckets]):
    """Each partition's histogram of the columns `names` over their `buckets` (finite values), as
    ``_pieces`` rows for ``SparkRows.summed``."""
    def count(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        totals = [np.zeros(b.size) for b in buckets]
        for batch in batches:
            for k, b in enumerate(buckets):
                x = to_float(batch.column(k))
                totals[k] += b.histogram(x[np.isfinite(x)])
        yield _pieces_batch(totals)

    return values_df.select(*names).mapInArrow(count, _pieces_schema())


def _asks(kind: type, col: Column) -> bool:
    """Whether the domain stage asks `col`'s histogram over its bucketing of `kind` (a ``_public_key`` kind):
    signed powers of two of a number, date or timestamp whose range is not declared; decimal places of a
    number; time units of a TIMESTAMP or TIME."""
    t = col.type.upper()
    if kind is PowersOfTwo:
        return col.is_numeric and t != "TIME" and (col.declared is None or col.declared.bounds is None)
    if kind is DecimalPlaces:
        return col.kind == "numeric"
    return col.kind == "temporal" and t != "DATE"


class SparkColumn:
    """One modelled column of a Spark source (``data.ColumnData``)."""

    def __init__(self, rows: SparkRows, i: int) -> None:
        self.rows, self.i = rows, i
        self.col = rows.columns[i]
        self.name = f"c{i}"
        self._sorted: np.ndarray | None = None

    def _finite(self) -> str:
        c = f"`{self.name}`"
        return f"{c} IS NOT NULL AND NOT isnan({c}) AND {c} NOT IN (double('inf'), double('-inf'))"

    def value_counts(self) -> tuple[list, np.ndarray]:
        got = self.rows.guard(lambda: self._counted().toArrow(), self.col)
        self.rows.took("value counts", got.nbytes)
        return self._in_order(got)

    def _counted(self):
        """The column's value counts, as a DataFrame (value, count) that stays in Spark."""
        where = self._finite() if self.col.is_numeric else f"`{self.name}` IS NOT NULL"
        return self.rows.values_df.where(where).groupBy(self.name).count()

    def _in_order(self, got: pa.Table) -> tuple[list, np.ndarray]:
        values = got.column(0).combine_chunks()
        counts = got.column(1).to_numpy().astype(np.float64)
        if self.col.is_numeric:
            order = np.argsort(values.to_numpy(zero_copy_only=False), kind="stable")
            return values.to_numpy(zero_copy_only=False)[order].tolist(), counts[order]
        values = _as_string(values)
        order = pc.sort_indices(values).to_numpy()
        return values.take(pa.array(order)).to_pylist(), counts[order]

    def count_classes(self) -> tuple[np.ndarray, np.ndarray]:
        shared = self.rows.text_classes(self.i)
        if shared is not None:
            return shared
        got = self.rows.guard(lambda: self._counted().groupBy("count").count().collect(), self.col)
        self.rows.took("value counts", 16 * len(got))
        got.sort()
        return np.array([r[0] for r in got], np.int64), np.array([r[1] for r in got], np.int64)

    def values_at_many(self, wanted: dict[int, np.ndarray]) -> dict[int, list]:
        pairs = [(int(c), int(r)) for c, ranks in wanted.items() for r in ranks]
        if not pairs:
            return {}
        spark = self.rows.df.sparkSession
        want = spark.createDataFrame(pairs, "count long, r long")
        classes = ", ".join(str(int(c)) for c in wanted)
        ranked = self._counted().where(f"count IN ({classes})").selectExpr(
            f"`{self.name}` AS v", "count", f"row_number() OVER (PARTITION BY count ORDER BY `{self.name}`) - 1 AS r")
        # Put in order here (a few hundred rows at most): Spark's orderBy samples the rows for its ranges first,
        # a job of its own.
        got = self.rows.guard(lambda: ranked.join(want, ["count", "r"]).toArrow(), self.col)
        self.rows.took("value counts", got.nbytes)
        got = got.take(pc.sort_indices(got, sort_keys=[("count", "ascending"), ("r", "ascending")]))
        values = _as_string(got.column("v").combine_chunks()).to_pylist()
        out: dict[int, list] = {}
        for c, v in zip(got.column("count").to_pylist(), values):
            out.setdefault(int(c), []).append(v)
        return out

    def null_count(self) -> int:
        nulls = self.rows.counted("nulls")
        if nulls is not None:
            return int(nulls[self.i])
        self.rows.took("counts", 8)
        return int(self.rows.guard(lambda: self.rows.values_df.where(f"`{self.name}` IS NULL").count(), self.col))

    def special_counts(self) -> np.ndarray:
        if self.col.type.upper() not in FLOATS:  # (a Spark date or timestamp holds no infinity, unlike DuckDB's)
            return np.zeros(3)
        specials = self.rows.counted("specials")
        if specials is not None:
            return specials[self.i].copy()
        c = f"`{self.name}`"
        row = self.rows.guard(lambda: self.rows.values_df.selectExpr(
            f"count_if({c} IS NOT NULL AND isnan({c}))", f"count_if({c} = double('inf'))",
            f"count_if({c} = double('-inf'))").collect()[0], self.col)
        self.rows.took("counts", 24)
        return np.array([float(v) for v in row], np.float64)

    def histogram(self, buckets: Buckets) -> np.ndarray:
        shared = self.rows.shared_histogram(buckets, self.i)
        if shared is not None:
            return shared

        parts = _histogram_parts(self.rows.values_df, [self.name], [buckets])
        return self.rows.summed(parts, [(buckets.size,)], "histograms", self.col)[0]

    def sorted_values(self) -> np.ndarray:
        if self._sorted is None:
            got = self.rows.guard(lambda: self.rows.values_df.where(self._finite()).select(self.name).toArrow(),
                                  self.col)
            self.rows.took("sorted values", got.nbytes)
            self._sorted = np.sort(to_float(got.column(0)))
        return self._sorted

    def whole_counts(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(0), np.zeros(0, dtype=np.int64)  # no Spark type is read as a TIMESTAMP_NS

    def written_counts(self) -> tuple[np.ndarray, np.ndarray] | None:
        """As ``data.ArrayColumn``'s, from one more query over the source's rows (as ``exact_values``): the
        distinct values of the floats coarser than the scale, with their rows, and of those the ones equal to
        their float's written value (``schema.written_decimal``, DuckDB's, worked out here: Spark writes a double
        as Java does)."""
        if not decimal_past_floats(self.col):
            return None
        from pyspark.sql import functions as F

        # Floats at or past 2^51 scale steps: all those coarser than the scale (``domain.shared``), and a few finer,
        # whose rows hold their written value (or not, then counted as none), as on DuckDB.
        edge = 2.0**51 * 10.0 ** -self.col.scale
        got = self.rows.guard(lambda: self.rows.df.selectExpr(f"{spark_sql(quote_ident(self.col.name))} AS e")
                              .selectExpr("CAST(e AS DOUBLE) AS f", "CAST(e AS STRING) AS v")
                              .where(f"abs(f) >= {edge!r}").groupBy("f", "v").agg(F.count("*").alias("n"))
                              .toArrow(), self.col)
        self.rows.took("written values", got.nbytes)
        f = to_float(got.column("f"))
        n = np.asarray(got.column("n").to_numpy(zero_copy_only=False), dtype=np.int64)
        held = np.array([decimal.Decimal(v) == written_decimal(x, self.col.scale)
                         for x, v in zip(f.tolist(), got.column("v").to_pylist())], dtype=bool)
        floats, at = np.unique(f[held], return_inverse=True)
        return floats, np.bincount(at, weights=n[held], minlength=len(floats)).astype(np.int64)

    def dropped_rare(self, below: int) -> np.ndarray:
        """As ``data.ArrayColumn``'s: one more query, the source's values fewer than `below` rows hold, less those
        a kept row holds."""
        if self.rows.unit is None or not self.col.is_numeric:
            return np.zeros(0)
        c = f"`{self.name}`"
        source = self.rows.df.selectExpr(f"{spark_sql(value_sql(self.col))} AS {c}").where(self._finite())
        kept = self.rows.values_df.select(self.name).where(self._finite()).distinct()
        got = self.rows.guard(lambda: source.groupBy(self.name).count().where(f"count < {int(below)}")
                              .join(kept, self.name, "left_anti").select(self.name).toArrow(), self.col)
        self.rows.took("dropped values", got.nbytes)
        return np.sort(to_float(got.column(0)))

    def exact_values(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        expr = exact_sql(self.col)
        if expr is None or exact_per(self.col) != 1:  # (no Spark type is read as a TIMESTAMP_NS)
            return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        from pyspark.sql import functions as F

        # From the source's rows (with a privacy unit, all of them, as data.DuckDBRows._exact reads them).
        got = self.rows.guard(lambda: self.rows.df.selectExpr(f"{spark_sql(expr)} AS e")
                              .selectExpr("CAST(e AS DOUBLE) AS f", "e").where(f"abs(f) >= {2.0**53!r}")
                              .groupBy("f").agg(F.min("e").alias("v"), F.max("e").alias("w"), F.count("*").alias("n"))
                              .where("v = w").select("f", "v", "n").toArrow(), self.col)
        self.rows.took("exact values", got.nbytes)
        f = to_float(got.column("f"))
        order = np.argsort(f, kind="stable")
        v, n = (np.asarray(got.column(k).to_numpy(zero_copy_only=False), dtype=np.int64)[order] for k in ("v", "n"))
        return f[order], v, n


class SparkRows:
    """The modelled columns of a Spark DataFrame (``data.Rows``); see the module's docstring."""

    def __init__(self, df, columns: Sequence[Column], *, show_values: bool = True,
                 unit: tuple[Column, int, int] | None = None) -> None:
        self.df = df
        self.columns = list(columns)
        self.show_values = show_values
        self.unit = unit
        exprs = [f"{spark_sql(value_sql(c))} AS c{i}" for i, c in enumerate(self.columns)]
        values = df.selectExpr(*exprs) if exprs else df.selectExpr("1 AS __one")
        if unit is not None:
            values = self._bounded(exprs)
        # Cached on the executors while the domains are found (each asks several histograms); dropped once binned.
        self.values_df = values.persist()
        self._n: int | None = None
        self._binned: list = []
        self._counts: dict[str, np.ndarray | None] = {}  # ``counted``: the columns' NULL and special counts
        self._hists: dict[type, dict[int, tuple]] = {}  # ``shared_histogram``: per bucketing kind, per column
        self._classes: dict[int, tuple[np.ndarray, np.ndarray]] | None = None  # ``text_classes``, per text column
        self.received: dict[str, int] = {}  # bytes of the answers that came to the driver, by kind (bench/spark.py)
        self.cells: dict[str, int] = {}  # cells of the tables among them (histograms, marginals), by kind

    def counted(self, kind: str) -> np.ndarray | None:
        """Every column's NULL count (`kind` "nulls"), or every FLOAT and DOUBLE column's NaN, +inf and -inf
        counts ("specials", a row per column), in one Spark job the first time either is asked, then kept: the
        domain stage asks a column's at each of its steps and zoom levels, and each ask was a job or two (a
        strict run of ten columns made 60 such jobs of its 149). The same exact counts, so the same noisy
        releases and the same rows. None where that job fails: the caller then asks its own column's, whose
        failure names the column."""
        if kind not in self._counts:
            d = len(self.columns)
            floats = [i for i, c in enumerate(self.columns) if c.type.upper() in FLOATS]
            exprs = [f"count_if(`c{i}` IS NULL)" for i in range(d)]
            for i in floats:
                c = f"`c{i}`"
                exprs += [f"count_if({c} IS NOT NULL AND isnan({c}))", f"count_if({c} = double('inf'))",
                          f"count_if({c} = double('-inf'))"]
            try:
                row = [int(v) for v in self.values_df.selectExpr(*exprs).collect()[0]] if exprs else []
            except Exception:  # noqa: BLE001 (pyspark's errors share no stable base class): asked per column
                log.debug("the shared NULL and special counts failed: one job per column")
                self._counts["nulls"] = self._counts["specials"] = None
                return None
            self.took("counts", 8 * len(exprs))
            self._counts["nulls"] = np.array(row[:d], np.int64)
            specials = np.zeros((d, 3))
            for k, i in enumerate(floats):
                specials[i] = row[d + 3 * k:d + 3 * k + 3]
            self._counts["specials"] = specials
        return self._counts[kind]

    def shared_histogram(self, buckets: Buckets, i: int) -> np.ndarray | None:
        """Column i's histogram over `buckets` where that is a bucketing fixed by the column's type (signed
        powers of two, decimal places, time units: ``_public_key``): the first ask of a kind counts every
        number, date and time column over its own bucketing of that kind in one Spark job, and keeps them (the
        range and lattice steps of ten columns were twenty jobs of a strict run's). The same exact counts.
        None for any other bucketing (a zoom's cells, which follow a column's own releases), or where that
        job fails: the caller then counts its own column, whose failure names it."""
        key = _public_key(buckets)
        if key is None or not _asks(type(buckets), self.columns[i]):
            return None
        kind = type(buckets)
        if kind not in self._hists:
            cols = [j for j, c in enumerate(self.columns) if _asks(kind, c)]
            each = [kind.of(self.columns[j]) if hasattr(kind, "of") else buckets for j in cols]
            parts = _histogram_parts(self.values_df, [f"c{j}" for j in cols], each)
            try:
                got = self.summed(parts, [(b.size,) for b in each], "histograms")
            except SynthError:  # guard's DataError: each column asks its own, whose failure names it
                log.debug("the shared %s histograms failed: one job per column", kind.__name__)
                self._hists[kind] = {}
                return None
            self._hists[kind] = {j: (_public_key(b), h) for j, b, h in zip(cols, each, got)}
        kept = self._hists[kind].get(i)
        return kept[1].copy() if kept is not None and kept[0] == key else None

    def text_classes(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Column i's ``count_classes`` where it is text: the first ask counts every text column's in one Spark
        job (their values stacked beside the column's index, grouped by both), then keeps them; a column asks
        its own twice where the first pass leaves many rows unexplained. The same counts as each column's own
        query (the same strings grouped). None for a number (its values grouped as numbers), or where that job
        fails: the caller then asks its own, whose failure names the column."""
        if self.columns[i].kind != "categorical":
            return None
        if self._classes is None:
            from pyspark.sql import functions as F

            texts = [j for j, c in enumerate(self.columns) if c.kind == "categorical"]
            stack = f"stack({len(texts)}, " + ", ".join(f"{j}, CAST(`c{j}` AS STRING)" for j in texts) + ") AS (i, v)"
            query = (self.values_df.selectExpr(stack).where("v IS NOT NULL").groupBy("i", "v").agg(F.count("*").alias("n"))
                     .groupBy("i", "n").agg(F.count("*").alias("k")))
            try:
                got = query.collect()
            except Exception:  # noqa: BLE001 (pyspark's errors share no stable base class): asked per column
                log.debug("the shared value-count classes failed: one job per column")
                self._classes = {}
                return None
            self.took("value counts", 24 * len(got))
            per: dict[int, list[tuple[int, int]]] = {j: [] for j in texts}
            for j, n, k in got:
                per[int(j)].append((int(n), int(k)))
            self._classes = {}
            for j, v in per.items():
                v.sort()
                self._classes[j] = (np.array([n for n, _ in v], np.int64), np.array([k for _, k in v], np.int64))
        got = self._classes.get(i)
        return None if got is None else (got[0].copy(), got[1].copy())

    def took(self, kind: str, size: int) -> None:
        self.received[kind] = self.received.get(kind, 0) + int(size)

    def guard(self, fn, column: Column | None = None):
        """Run a Spark action; its failure is a DataError: outside DP modes naming the column, with Spark's
        message; in DP modes one text (its message can quote a row's value, and its kind is a bit about one)."""
        try:
            return fn()
        except SynthError:
            raise
        except Exception as exc:  # pyspark's errors share no base class with a stable name across versions
            if self.show_values:
                where = f"column '{column.name}' ({column.type}) of the source" if column else "the source"
                raise DataError(f"cannot read {where} on Spark: {' '.join(str(exc).split())[:500]}") from None
            raise read_failed("Spark") from None  # (DP modes: one text, the run charged its whole budget)

    def _bounded(self, exprs: list[str]):
        """At most k rows of each unit, ranked within it by our salted hash of the row (``engine/units.py``
        ``row_keys``, run in the executors on the values as they are read), in the source's order: the same
        rows, in the same order, as the DuckDB engine keeps. The unit's text stays beside them (``__unit``)."""
        import pyspark.sql.types as T

        unit, k, salt = self.unit
        numeric = [c.is_numeric for c in self.columns]
        base = self.df.selectExpr(*exprs, f"{spark_sql(canonical_sql(unit))} AS __unit",
                                  "monotonically_increasing_id() AS __pos")
        d = len(self.columns)

        def keyed(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for batch in batches:
                keys = row_keys(salt, _as_string(batch.column(d)), [_column_values(batch, i, numeric[i]) for i in range(d)])
                yield pa.RecordBatch.from_arrays(batch.columns + [pa.array(keys, pa.int64())],
                                                 names=batch.schema.names + ["__key"])

        schema = T.StructType(base.schema.fields + [T.StructField("__key", T.LongType())])
        ranked = base.mapInArrow(keyed, schema).selectExpr(
            "*", "row_number() OVER (PARTITION BY __unit ORDER BY __key, __pos) AS __rank")  # ties: the earliest
        return ranked.where(f"__rank <= {int(k)}").orderBy("__pos").drop("__key", "__rank", "__pos")

    def summed(self, parts, shapes: Sequence[tuple[int, ...]], kind: str, column: Column | None = None
               ) -> list[np.ndarray]:
        """Tables counted per partition, added up: `parts` is a DataFrame of (q, piece, blob) rows
        (``_pieces``: each partition's partial of table q, ``CHUNK`` cells a piece). The pieces of each
        (q, piece) are brought together by a shuffle and added on the executors, so the driver receives each
        table once, the size of its `shape`, however many rows and partitions there are; but counts (`kind`
        in ``COUNTED``) whose partials hold at most ``DIRECT_CELLS`` cells over all partitions come as they
        are and are added here, in one job without the shuffle (whole numbers: the same sums in any order)."""
        cells = sum(int(np.prod(s)) for s in shapes)
        if kind in COUNTED and cells * parts.rdd.getNumPartitions() <= DIRECT_CELLS:
            got = self.guard(lambda: parts.collect(), column)
        else:
            width = max(1, min(sum(max(1, -(-int(np.prod(s)) // CHUNK)) for s in shapes),
                               self.df.sparkSession.sparkContext.defaultParallelism))
            got = self.guard(lambda: parts.repartition(width, "q", "piece").mapInArrow(_add_pieces, _pieces_schema())
                             .collect(), column)
        self.took(kind, sum(len(r[2]) for r in got))
        self.cells[kind] = self.cells.get(kind, 0) + cells
        flat = [np.zeros(int(np.prod(s))) for s in shapes]
        for q, piece, blob in got:
            values = _unipc(blob)[0]
            flat[q][piece * CHUNK:piece * CHUNK + values.size] += values
        return [f.reshape(s) for f, s in zip(flat, shapes)]

    def close(self) -> None:
        """Drop what this run cached in Spark (the values, the binned codes): the real data does not stay
        cached in the user's session."""
        self.values_df.unpersist()
        for binned in self._binned:
            binned.blocks.unpersist()

    def row_count(self) -> int:
        if self._n is None:
            self._n = int(self.guard(lambda: (self.values_df if self.unit is not None else self.df).count()))
        return self._n

    def unit_sizes(self) -> np.ndarray:
        """How many rows each unit holds once bounded (one row per distinct size comes to the driver)."""
        got = self.guard(lambda: self.values_df.groupBy("__unit").count().groupBy("count").count().collect())
        self.took("counts", 16 * len(got))
        return np.repeat(np.array([r[0] for r in got], np.int64), np.array([r[1] for r in got], np.int64))

    def column(self, i: int) -> SparkColumn:
        return SparkColumn(self, i)

    def rare_values(self, columns: Sequence[Column], below: int, unit: tuple[Column, int] | None = None
                    ) -> dict[str, RareValues]:
        """As ``data.DuckDBRows``': two queries a column over the source's rows (three for a DECIMAL past the
        floats)."""
        from pyspark.sql import functions as F

        def quoted(name: str) -> str:
            return "`" + name.replace("`", "``") + "`"

        u = "CAST(NULL AS STRING)" if unit is None else quoted(unit[0].name)
        n = (F.count("*") if unit is None else  # (a unit's rows count at most k: NULL is a unit of its own)
             F.least(F.count("*"), F.lit(int(unit[1])) * (F.countDistinct("u") + F.max(F.when(F.col("u").isNull(), 1)
                                                                                       .otherwise(0)))))
        out = {}
        for col in columns:
            finite = self.df.selectExpr(f"{spark_sql(value_sql(col))} AS v", f"{u} AS u") \
                .where("NOT isnan(v) AND abs(v) < double('inf')")
            counted = finite.groupBy("v").agg(n.alias("n"))
            got = self.guard(lambda: counted.where(f"n < {int(below)}").orderBy("v").toArrow(), col)
            total = int(self.guard(lambda: counted.agg(F.sum("n")).collect()[0][0] or 0, col))
            exact = None
            if decimal_past_floats(col):
                exact = self.guard(lambda: self.df.selectExpr(f"{quoted(col.name)} AS v", f"{u} AS u")
                                   .where("v IS NOT NULL").groupBy("v").agg(n.alias("n")).where(f"n < {int(below)}")
                                   .select("v").toArrow(), col).column(0).combine_chunks()
            self.took("rare values", got.nbytes + (exact.nbytes if exact is not None else 0))
            out[col.name] = RareValues(to_float(got.column("v")), np.asarray(to_float(got.column("n"))), total, exact)
        return out

    def bin(self, domains: Sequence[Domain], keep: Sequence[int] = ()) -> Binned | SparkBinned:
        """The codes, kept on the executors (or brought to the driver when small); with `keep`, those
        columns' raw values (float64, NaN for NULL) beside them, for the workload's sums."""
        import pyspark.sql.types as T

        numeric = [c.is_numeric for c in self.columns]
        doms = list(domains)
        dtype = code_type(max((d.size for d in doms), default=1))
        keep = list(keep)

        def encode(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            from pyspark import TaskContext

            part = TaskContext.get().partitionId()
            for seq, batch in enumerate(batches):
                codes = np.empty((batch.num_rows, len(doms)), dtype=dtype, order="F")
                for i, dom in enumerate(doms):
                    values, nulls = _column_values(batch, i, numeric[i])
                    codes[:, i] = dom.encode(values) if nulls is None else dom.encode(values, nulls)
                raw = np.empty((batch.num_rows, len(keep)))
                for j, i in enumerate(keep):
                    values, nulls = _column_values(batch, i, True)
                    raw[:, j] = np.where(nulls, np.nan, values)
                if len(doms):
                    ok = ~(codes < 0).any(axis=1)
                    codes, raw = codes[ok], raw[ok]
                yield pa.record_batch([pa.array([part], pa.int64()), pa.array([seq], pa.int64()),
                                       pa.array([len(codes)], pa.int64()), pa.array([_ipc([codes])], pa.binary()),
                                       pa.array([_ipc([raw]) if keep else b""], pa.binary())],
                                      names=["part", "seq", "n", "codes", "values"])

        schema = T.StructType([T.StructField("part", T.LongType()), T.StructField("seq", T.LongType()),
                               T.StructField("n", T.LongType()), T.StructField("codes", T.BinaryType()),
                               T.StructField("values", T.BinaryType())])
        if not doms:
            self.values_df.unpersist()
            return Binned(np.empty((self.row_count(), 0), dtype=np.int8), [])
        blocks = self.values_df.select(*[f"c{i}" for i in range(len(doms))]).mapInArrow(encode, schema)
        n = self.row_count()
        if n * len(doms) <= LOCAL_CELLS:  # small: the codes come to the driver, in the rows' order
            got = self.guard(lambda: blocks.orderBy("part", "seq").select("codes", "values").collect())
            self.took("codes", sum(len(r["codes"]) + len(r["values"]) for r in got))
            parts = [_unipc(r["codes"])[0] for r in got]
            codes = np.asfortranarray(np.concatenate(parts)) if parts else np.empty((0, len(doms)), dtype)
            raws = [_unipc(r["values"])[0] for r in got] if keep else []
            raw = np.concatenate(raws) if raws else np.empty((len(codes), len(keep)))
            self.values_df.unpersist()
            return Binned(codes, [d.size for d in doms], {i: raw[:, j] for j, i in enumerate(keep)})
        blocks = blocks.persist()
        index = self.guard(lambda: blocks.select("part", "seq", "n").orderBy("part", "seq").collect())
        self.values_df.unpersist()
        self._binned.append(SparkBinned(blocks, [(r["part"], r["seq"], r["n"]) for r in index],
                                        [d.size for d in doms], self, keep))
        return self._binned[-1]


class SparkBinned:
    """A binned table whose codes stay cached on the executors (``data.Binned``'s five calls)."""

    def __init__(self, blocks, index: list[tuple[int, int, int]], sizes: Sequence[int], rows: SparkRows,
                 keep: Sequence[int] = ()) -> None:
        self.blocks = blocks
        self.keep = list(keep)  # the columns whose raw values the blocks hold too (for sums)
        self.index = index  # (partition, batch, rows) of every block, in the rows' order
        self.sizes = [int(s) for s in sizes]
        self.rows = rows
        self.remaps: dict[int, np.ndarray] = {}  # column -> old code -> new code (recode, applied on the executors)

    @property
    def n(self) -> int:
        return int(sum(r[2] for r in self.index))

    def _map(self, fn, schema):
        """`fn(blocks)` run once per partition over its blocks, (partition, batch, codes) each, with the
        columns recoded so far; what it yields is the partition's answer."""
        remaps = dict(self.remaps)

        def blocks(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, int, np.ndarray]]:
            for batch in batches:
                for part, seq, blob in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(),
                                           batch.column(3).to_pylist()):
                    codes = _unipc(blob)[0]
                    if remaps:
                        codes = codes.astype(np.int64)
                        for i, remap in remaps.items():
                            codes[:, i] = remap[codes[:, i]]
                    yield part, seq, codes

        return self.blocks.mapInArrow(lambda batches: fn(blocks(batches)), schema)

    def marginal(self, clique: Clique, remaps: Sequence[Remap | None] | None = None) -> np.ndarray:
        return self.marginals([clique], [remaps])[0]

    def marginals(self, cliques: Sequence[Clique], remaps: Sequence | None = None) -> list[np.ndarray]:
        """Several marginals in one pass over the codes, each partition's partial tables added in Spark."""
        sizes = list(self.sizes)
        cliques = [tuple(c) for c in cliques]
        remaps = list(remaps) if remaps is not None else [None] * len(cliques)
        empty = [marginal(np.empty((0, len(sizes)), np.int64), sizes, c, r) for c, r in zip(cliques, remaps)]

        def count(blocks):  # one partial table per marginal and partition, whatever its blocks
            out = None
            for _part, _seq, codes in blocks:
                got = [marginal(codes, sizes, c, r) for c, r in zip(cliques, remaps)]
                out = got if out is None else [a + b for a, b in zip(out, got)]
            if out is not None:
                yield _pieces_batch(out)

        return self.rows.summed(self._map(count, _pieces_schema()), [e.shape for e in empty], "marginals")

    def sums(self, group: Clique, value: int, lo: float, hi: float, step: float) -> tuple[np.ndarray, int, int]:
        """``data.Binned.sums``: each partition's partial totals (and counts of clamped values), added in Spark."""
        from .sums import group_sums

        sizes, remaps, j = list(self.sizes), dict(self.remaps), self.keep.index(value)
        shape = tuple(sizes[g] for g in group)

        def add(batches):
            out = None
            for batch in batches:
                for blob, raw in zip(batch.column(3).to_pylist(), batch.column(4).to_pylist()):
                    codes = _unipc(blob)[0]
                    if remaps:
                        codes = codes.astype(np.int64)
                        for i, remap in remaps.items():
                            codes[:, i] = remap[codes[:, i]]
                    totals, below, above = group_sums(codes, sizes, _unipc(raw)[0][:, j], group, lo, hi, step)
                    got = [np.asarray(totals, dtype=np.float64), np.array([below, above], dtype=np.float64)]
                    out = got if out is None else [a + b for a, b in zip(out, got)]
            if out is not None:
                yield _pieces_batch(out)

        totals, counts = self.rows.summed(self.blocks.mapInArrow(add, _pieces_schema()), [shape, (2,)], "sums")
        return totals, int(counts[0]), int(counts[1])

    def subset(self, rows: np.ndarray) -> Binned:
        """The rows where `rows` is true, brought to the driver (a selection's sample: a bounded number)."""
        import pyspark.sql.types as T

        keep: dict[tuple[int, int], np.ndarray] = {}
        start = 0
        for part, seq, n in self.index:
            local = np.flatnonzero(rows[start:start + n])
            if len(local):
                keep[(part, seq)] = local
            start += n
        d = len(self.sizes)
        dtype = code_type(max(self.sizes, default=1))

        def take(blocks):
            for part, seq, codes in blocks:
                idx = keep.get((part, seq))
                if idx is not None:
                    yield pa.record_batch([pa.array([part], pa.int64()), pa.array([seq], pa.int64()),
                                           pa.array([_ipc([codes[idx].astype(dtype)])], pa.binary())],
                                          names=["part", "seq", "codes"])

        schema = T.StructType([T.StructField("part", T.LongType()), T.StructField("seq", T.LongType()),
                               T.StructField("codes", T.BinaryType())])
        got = self.rows.guard(lambda: sorted(self._map(take, schema).collect(), key=lambda r: (r["part"], r["seq"])))
        self.rows.took("sample", sum(len(r["codes"]) for r in got))
        parts = [_unipc(r["codes"])[0] for r in got]
        codes = np.concatenate(parts) if parts else np.empty((0, d), dtype)
        return Binned(np.asfortranarray(codes), list(self.sizes))

    def recode(self, i: int, remap: np.ndarray, size: int) -> None:
        old = self.remaps.get(i)
        self.remaps[i] = np.asarray(remap) if old is None else np.asarray(remap)[old]
        self.sizes[i] = int(size)
