"""Where the stages read the data: the one seam between the source's rows and the rest.

Every stage that looks at the source asks a ``Rows`` object, and only these calls:

* ``row_count()``: the number of rows;
* per column (``column(i)``, a ``ColumnData``): ``value_counts()`` of a category,
  ``null_count()``, a ``histogram(buckets)`` over a public bucketing of a number's
  finite values (``engine/domain.py``: powers of two, decimal places, fine cells),
  ``special_counts()`` of its NaN, +inf and -inf, and, in balanced mode only,
  ``sorted_values()`` (finite) for exact quantiles and ``exact_values()`` (the floats past
  2^53 that stand for one BIGINT or TIMESTAMP value, and that value);
* ``bin(domains)``: the binned table (``Binned``), whose ``marginal(clique)``
  counts any 1- to k-way marginal of the codes; without the rows a domain drops
  (a NOT NULL column's value outside its declared list, code -1). Its ``subset(mask)``
  is the binned table of the rows a caller's coins keep (the selection's scores on
  tables of more than ``privacy/adaptive.py:SELECT_ROWS`` rows).

Every answer but the last two is an aggregate; the binned table's codes stay with
the engine, and the stages see only its marginals. The privacy layer adds noise to
these answers and charges them; the engine never draws noise. ``DuckDBRows`` is the
engine of a run in DuckDB: it reads the modelled columns in one query through the
connection, the first time a column is asked for, and answers from them in numpy
(with a privacy unit, the unit's ids too, and bounds each unit to k rows as it reads:
``engine/units.py``). The second engine, ``engine/spark.py``, serves the same calls from
aggregates computed where the data lives, and bins the rows there.
"""
from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataError
from .domain import Buckets, Cells, Domain, RareValues, shared, value_resolution
from .marginal import Clique, Remap, marginal, runs
from .schema import (INFINITE_SENTINEL, Column, as_timestamp, classify, compare_sql, decimal_past_floats, infinity_sql,
                     value_sql, written_sql)
from .source import quote_ident
from .units import bounded_rows, canonical_sql, row_keys


class ColumnData(Protocol):
    """What a stage may ask of one column's values."""

    def value_counts(self) -> tuple[list, np.ndarray]:
        """The column's distinct non-NULL values and how many rows hold each (float64)."""

    def count_classes(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct counts of the non-NULL values (ascending, int64) and how many values have each."""

    def values_at_many(self, wanted: dict[int, np.ndarray]) -> dict[int, list]:
        """For each count, the values held by exactly that many rows at `ranks` (0-based in value order,
        ascending), in that order."""

    def null_count(self) -> int:
        """How many rows are NULL."""

    def histogram(self, buckets: Buckets) -> np.ndarray:
        """Counts of the finite values in each of the buckets (float64, length ``buckets.size``)."""

    def special_counts(self) -> np.ndarray:
        """How many rows hold NaN, +inf and -inf (a floating-point column's values that are no number)."""

    def sorted_values(self) -> np.ndarray:
        """The finite values in ascending order: for balanced mode's exact quantiles only."""

    def whole_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Balanced mode only, a TIMESTAMP_NS (``exact_per``): the floats (its microseconds) of the rows whose
        value is the microsecond itself (nanoseconds 000), ascending, and how many rows hold each: a value drawn
        in a cell is written as its microsecond, which these rows hold. Empty for other columns."""

    def written_counts(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Balanced mode only, a DECIMAL the floats may not hold (``schema.decimal_past_floats``): of the floats
        several of its values read as (``domain.shared``), those of rows holding the very value the float is
        written as (``schema.written_sql``), ascending, and how many rows hold it. None for other columns, and
        where the engine has no such reading (Spark)."""

    def dropped_rare(self, below: int) -> np.ndarray:
        """Balanced mode only, a privacy unit's run: the floats of the rows its bound dropped that no kept row
        reads as and fewer than `below` of the source's rows do, ascending (a number the table holds in 1-4 rows
        is never emitted, though the bound dropped them: ``discovery``). Empty without a unit."""

    def exact_values(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Balanced mode only: the floats past 2^53 (values as read) whose rows all hold one value of a
        BIGINT or TIMESTAMP column, ascending, that value (int64: the integer, or the microseconds), and
        the rows reading as each (int64). Past 2^53 a float can stand for several of such a column's values
        (``domain.shared``); these stand for one. A TIMESTAMP_NS's floats are its microseconds, each of which
        stands for a thousand of its values: every float whose rows hold one, and that value in nanoseconds.
        Empty where the column has none, or no exact reading."""


def code_type(size: int) -> type:
    """The smallest signed integer type holding codes -1 .. size - 1."""
    return next(t for t in (np.int8, np.int16, np.int32, np.int64) if size <= np.iinfo(t).max)


class Binned:
    """The binned table: every modelled column's codes (rows x columns, column-major) and domain sizes.

    The stages use ``n``, ``sizes``, ``marginal``, ``subset`` and ``recode`` only; another engine's
    binned table has those five.
    """

    def __init__(self, codes: np.ndarray, sizes: Sequence[int], values: dict[int, np.ndarray] | None = None) -> None:
        self.codes = codes
        self.sizes = [int(s) for s in sizes]
        # Some columns' raw values (float64, NaN for NULL), kept beside their codes for the
        # workload's sums (``engine/sums.py``): the engine adds them up, the stages see totals.
        self.values = values or {}

    @property
    def n(self) -> int:
        """The number of rows."""
        return int(self.codes.shape[0])

    def marginal(self, clique: Clique, remaps: Sequence[Remap | None] | None = None) -> np.ndarray:
        """Exact counts of the columns in `clique`, shaped by their domain sizes (`remaps`: some
        columns counted in coarser codes, see ``engine/marginal.py:marginal``)."""
        return marginal(self.codes, self.sizes, clique, remaps)

    def subset(self, rows: np.ndarray) -> Binned:
        """The binned table of the rows where `rows` (a boolean mask drawn by the caller) is true."""
        # Column-major like the whole table (numpy's row mask returns rows in row-major order, and every
        # marginal reads columns: a 50-column sample's column was a stride of 50-100 bytes)
        return Binned(np.asfortranarray(self.codes[rows]), self.sizes, {i: v[rows] for i, v in self.values.items()})

    def sums(self, group: Clique, value: int, lo: float, hi: float, step: float) -> tuple[np.ndarray, int, int]:
        """Per cell of the `group` columns' codes, the total of column `value`'s values clamped to
        [lo, hi] and rounded to whole multiples of `step`, in steps (exact integers held as float64 while
        under 2^53); NULL and NaN add 0. And how many values were below lo and above hi."""
        from .sums import group_sums

        return group_sums(self.codes, self.sizes, self.values[value], group, lo, hi, step)

    def recode(self, i: int, remap: np.ndarray, size: int) -> None:
        """Renumber column `i`'s codes through `remap` (old code -> new), for a domain of `size` codes."""
        if size > np.iinfo(self.codes.dtype).max:
            raise ValueError(f"{size} codes do not fit the binned table's {self.codes.dtype}")
        self.codes[:, i] = remap[self.codes[:, i]]
        self.sizes[i] = int(size)


class Rows(Protocol):
    """The source's rows, as the stages may see them."""

    def row_count(self) -> int:
        """The exact number of rows (with a privacy unit: once bounded to k rows a unit)."""

    def unit_sizes(self) -> np.ndarray:
        """With a privacy unit: how many rows each unit holds once bounded."""

    def column(self, i: int) -> ColumnData:
        """The i-th modelled column."""

    def bin(self, domains: Sequence[Domain], keep: Sequence[int] = ()) -> Binned:
        """Every modelled column encoded by its domain, and the raw values of the columns in `keep`
        (for sums); the rows are not read again after this."""

    def rare_values(self, columns: Sequence[Column], below: int, unit: tuple[Column, int] | None = None
                    ) -> dict[str, RareValues]:
        """Balanced mode: per number, date or time column of the source (modelled or not), the values fewer than
        `below` of the source's rows hold (``RareValues``). With a privacy unit `unit` (its column, k) a value's
        rows count at most k for each unit holding it (NULL one unit), as the unit's bound keeps at most that many
        of them."""


# ---------------------------------------------------------------- in memory


class ArrayColumn:
    """One column held in memory: a number's or time's float64 values with its NULL mask (without
    one, every NaN is NULL), or an Arrow array."""

    def __init__(self, values: np.ndarray | pa.Array | pa.ChunkedArray, nulls: np.ndarray | None = None,
                 exact=None, whole=None, written=None, dropped=None) -> None:
        self.values = values
        self.nulls = np.isnan(values) if nulls is None and isinstance(values, np.ndarray) else nulls
        self._exact = exact  # a call that answers exact_values (None: no exact reading)
        self._whole = whole  # and one that answers whole_counts (None: not a TIMESTAMP_NS)
        self._written = written  # and one that answers written_counts (None: no such reading)
        self._dropped = dropped  # and the floats only rows a unit's bound dropped read as, with their rows
        self._set: np.ndarray | None = None
        self._vc: tuple[list, np.ndarray] | None = None  # value_counts, kept for count_classes/values_at_many

    def _finite(self) -> np.ndarray:
        if self._set is None:
            x = self.values
            self._set = x[np.isfinite(x)]
        return self._set

    def count_classes(self) -> tuple[np.ndarray, np.ndarray]:
        _, counts = self._counted()
        c, n = np.unique(counts.astype(np.int64), return_counts=True)
        return c, n.astype(np.int64)

    def values_at_many(self, wanted: dict[int, np.ndarray]) -> dict[int, list]:
        values, counts = self._counted()
        return {int(c): [values[i] for i in np.flatnonzero(counts == c)[np.asarray(r, dtype=np.int64)]]
                for c, r in wanted.items()}

    def _counted(self) -> tuple[list, np.ndarray]:
        if self._vc is None:
            self._vc = self.value_counts()
        return self._vc

    def value_counts(self) -> tuple[list, np.ndarray]:
        if isinstance(self.values, np.ndarray):  # a number's or time's finite values (-0.0 counted as 0.0, as Spark)
            values, counts = self._distinct()  # from the sorted copy (another sort of 1M values was 55 ms)
            return (values + 0.0).tolist(), counts.copy()
        arr = self.values.combine_chunks() if isinstance(self.values, pa.ChunkedArray) else self.values
        vc = pc.value_counts(arr.drop_null())
        # In the values' order, not the rows': the noise a caller adds lines up with the values alike
        # on every engine (engine/spark.py sorts the same way).
        order = pc.sort_indices(vc.field("values"))
        vc = vc.take(order)
        return vc.field("values").to_pylist(), vc.field("counts").to_numpy(zero_copy_only=False).astype(np.float64)

    def null_count(self) -> int:
        if isinstance(self.values, np.ndarray):
            return int(self.nulls.sum())
        return int(self.values.null_count)

    def histogram(self, buckets: Buckets) -> np.ndarray:
        if len(self._finite()) > SORTED_HISTOGRAM_ROWS:
            x = self.sorted_values()
            if isinstance(buckets, Cells):
                return buckets.histogram_sorted(x)
            # A bucket is a function of the value: each distinct value coded once, weighted by its rows.
            values, rows = self._distinct()
            if len(values) <= len(x) // 2:
                return np.bincount(buckets.codes(values), weights=rows, minlength=buckets.size)
        return buckets.histogram(self._finite())

    def special_counts(self) -> np.ndarray:
        x = self.values
        return np.array([(np.isnan(x) & ~self.nulls).sum(), (x == np.inf).sum(), (x == -np.inf).sum()], np.float64)

    def sorted_values(self) -> np.ndarray:
        """The finite values sorted, kept until another column sorts its own (one sorted copy at a time)."""
        global _SORTED
        if _SORTED is None or _SORTED[0]() is not self:
            _SORTED = None  # the previous column's copy goes first
            x, distinct = sort_counted(self._finite())
            _SORTED = (weakref.ref(self), x, [distinct] if distinct is not None else [])
        return _SORTED[1]

    def exact_values(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._exact is None:
            return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return self._exact()

    def whole_counts(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.zeros(0), np.zeros(0, dtype=np.int64)) if self._whole is None else self._whole()

    def written_counts(self) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self._written is None else self._written()

    def dropped_rare(self, below: int) -> np.ndarray:
        if self._dropped is None:
            return np.zeros(0)
        floats, rows = self._dropped
        return floats[rows < below]

    def _distinct(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct finite values, ascending, and the rows holding each (float64), kept with the sorted copy."""
        x = self.sorted_values()
        kept = _SORTED[2]
        if not kept:
            values, rows = sorted_runs(x)
            kept.append((values, rows.astype(np.float64)))
        return kept[0]


def sort_counted(x: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """`x` (finite float64) sorted, and where it was cheaper to count than to sort, its distinct values
    and the rows holding each (float64), as ``ArrayColumn._distinct`` keeps them.

    Whole numbers spanning at most COUNTED_SPAN times as many values as there are rows (integers,
    dates in days: most numeric columns of real tables) are counted by value (``np.bincount``) and
    written out in order: an integer column of 1M rows and 90 values took 11 ms against a sort's 36,
    a DATE of 9,000 days 8 against 61. The same values in the same order (-0.0 comes back as 0.0,
    equal to it); other columns pay two passes (their least and greatest value) and are sorted."""
    n = len(x)
    if n >= COUNTED_ROWS:
        lo, hi = float(x.min()), float(x.max())
        if hi - lo <= COUNTED_SPAN * n and lo == np.floor(lo) and abs(lo) < 2**52 and abs(hi) < 2**52:
            k = x - lo  # exact: whole numbers below 2^52
            codes = k.astype(np.int64)
            if np.array_equal(codes, k):  # every value whole (a fraction casts to a different number)
                counts = np.bincount(codes)
                at = np.flatnonzero(counts)
                values, rows = at + lo, counts[at]
                return np.repeat(values, rows), (values, rows.astype(np.float64))
    return np.sort(x), None


COUNTED_ROWS = 50_000  # below this a sort is as quick
COUNTED_SPAN = 4  # counted where the whole numbers span at most this many values a row


def sorted_runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of the sorted array `x` and how many times each occurs (``np.unique``'s
    answer without its sort)."""
    starts, lengths = runs(x)
    return x[starts], lengths


SORTED_HISTOGRAM_ROWS = 100_000  # above this, a histogram reads the column sorted once: a grid's by a search per
# edge, not per value (discovery asks several grids of each numeric column), other buckets (powers of two,
# decimal places) by coding each distinct value once where there are at most half as many as rows
_SORTED: tuple | None = None  # (column, its sorted finite values, [its distinct values and rows, once asked]):
# the one column whose sorted copy is kept


class DuckDBRows:
    """The modelled columns of a source, read through a DuckDB connection.

    The row count is one ``count(*)``; the columns are fetched in one query (each as
    ``value_sql`` reads it) the first time one is asked for, and dropped once binned
    (while ``bin`` encodes, the raw values and the codes are held together).

    An error while reading (a cast in the source query that fails on some row) is a
    DataError naming the column; with ``show_values`` False (DP modes) it does not repeat
    DuckDB's message, which can quote the row's value.
    """

    def __init__(self, reader: duckdb.DuckDBPyConnection, sql: str, columns: Sequence[Column], *,
                 show_values: bool = True, unit: tuple[Column, int, int] | None = None, exact: bool = True) -> None:
        self.reader = reader
        self.sql = sql
        self.columns = list(columns)
        self.show_values = show_values
        # Balanced mode's readings beside the floats (``exact_values``, ``whole_counts``, ``written_counts``): the DP
        # modes ask for none (a TIMESTAMP_NS's exact values took 16 bytes a row there until the table was binned)
        self.exact = exact
        self.unit = unit  # (the unit column, k, salt): at most k rows a unit (engine/units.py)
        self._n: int | None = None
        self._values: list | None = None
        self._nulls: list | None = None
        self._big: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # per BIGINT or TIMESTAMP column, its rows past
        # 2^53 as read: their positions (for a privacy unit's bound, ``_bound``) and exact values (``exact_runs``)
        self._written: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # per DECIMAL past the floats, the floats of
        # the source's rows on their written value, and how many rows (``written_counts``)
        self._dropped: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # with a unit, per numeric column, the floats
        # only rows its bound dropped read as, and how many (``dropped_rare``)
        self._whole: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # with a unit, a TIMESTAMP_NS's whole counts
        # over the source's rows (``whole_counts``)
        self._unit_sizes: np.ndarray | None = None

    def row_count(self) -> int:
        if self.unit is not None:  # the rows once bounded: counted as they are read
            self._load()
            return self._n
        return self._source_count()

    def _source_count(self) -> int:
        if self._n is None:
            try:
                self._n = self.reader.sql(f"SELECT count(*) FROM ({self.sql})").fetchall()[0][0]
            except duckdb.Error as exc:
                raise self._read_error(exc, None) from None
        return self._n

    def unit_sizes(self) -> np.ndarray:
        """How many rows each unit holds once bounded (a privacy unit's runs only)."""
        self._load()
        return self._unit_sizes

    def _load(self) -> list:
        if self._values is None:
            if not self.columns and self.unit is None:
                self._values = []
            else:
                # A BIGINT's, TIMESTAMP's or TIMESTAMP_NS's values come as BIGINT (``exact_sql``), made floats here
                # (as DuckDB's CAST, or epoch_us, makes them): the rows past 2^53 (a TIMESTAMP_NS: every row), where
                # a float can stand for several values, keep theirs.
                exact = [self.exact and c.is_numeric and exact_sql(c) is not None for c in self.columns]
                # A DECIMAL the floats may not hold: whether each row holds the value its float is written as
                # (``written_counts``), read after the columns (and the unit's), from the same rows.
                written = [i for i, c in enumerate(self.columns)
                           if self.exact and c.is_numeric and decimal_past_floats(c)]
                exprs = ", ".join([f"{exact_sql(c) if e else value_sql(c)} AS {quote_ident(c.name)}"
                                   for c, e in zip(self.columns, exact)]
                                  + ([f"{canonical_sql(self.unit[0])} AS __synth_unit"] if self.unit else [])
                                  + [f"({quote_ident(c.name)} = {written_sql(value_sql(c), c.type, read=True)}) "
                                     f"AS __synth_w{i}" for i, c in ((i, self.columns[i]) for i in written)])
                on_written: dict[int, list] = {i: [] for i in written}  # positions per batch
                big: dict[int, list] = {i: [] for i, e in enumerate(exact) if e}  # (positions, values) per batch
                per = [exact_per(c) for c in self.columns]
                # Streamed in batches, each numeric batch copied into its place in arrays sized by the
                # row count: no whole fetched table beside its numpy copy, and no heap of small
                # per-batch pieces; text is copied out of each batch (on 10M x 20 the load took 3.4 GB
                # where its arrays are 1.4 GB: a text column held every batch's numbers too).
                n = self._source_count()
                numeric = [c.is_numeric for c in self.columns] + ([False] if self.unit else [])
                values: list = [np.empty(n) if num else [] for num in numeric]
                nulls: list = [np.empty(n, dtype=bool) if num else None for num in numeric]
                pos, cap = 0, n
                try:
                    stream = self.reader.sql(f"SELECT {exprs} FROM ({self.sql})").to_arrow_reader()
                    schema = stream.schema
                    for batch in stream:
                        m = batch.num_rows
                        if pos + m > cap:  # more rows than counted: the source changed since
                            cap = 2 * (pos + m)
                            values = [np.resize(v, cap) if num else v for v, num in zip(values, numeric)]
                            nulls = [np.resize(v, cap) if num else v for v, num in zip(nulls, numeric)]
                        for i in range(len(numeric)):
                            col = batch.column(i)
                            if numeric[i]:
                                nulls[i][pos:pos + m] = col.is_null().to_numpy(zero_copy_only=False)
                                if i in big:
                                    ints = pc.fill_null(col, 0).to_numpy(zero_copy_only=False)
                                    x = exact_floats(ints, per[i], self.columns[i].kind == "temporal")
                                    x[nulls[i][pos:pos + m]] = np.nan  # as to_float reads a NULL
                                    values[i][pos:pos + m] = x
                                    # the rows whose float may stand for several values: past 2^53, or (a
                                    # TIMESTAMP_NS, its microseconds) every row that is a number
                                    far = np.flatnonzero(np.isfinite(x) & (np.abs(x) >= 2.0**53 if per[i] == 1 else True))
                                    if len(far):
                                        big[i].append((far + pos, ints[far]))
                                else:
                                    values[i][pos:pos + m] = to_float(col)
                            else:  # a copy: a column of DuckDB's batch keeps the whole batch alive
                                values[i].append(pa.concat_arrays([col]))
                        for k, i in enumerate(written):  # the rows on their float's written value, where it is shared
                            held = pc.fill_null(batch.column(len(numeric) + k), False).to_numpy(zero_copy_only=False)
                            x = values[i][pos:pos + m]
                            coarse = shared(x, value_resolution(self.columns[i]))
                            on_written[i].append(pos + np.flatnonzero(held & coarse))
                        pos += m
                except (duckdb.Error, pa.ArrowException, OSError) as exc:  # a batch past the first fails as OSError
                    raise self._read_error(exc, self._failing_column() if self.show_values else None) from None
                self._values = [v[:pos] if num else pa.chunked_array(v, type=schema.field(i).type)
                                for i, (v, num) in enumerate(zip(values, numeric))]
                self._nulls = [v[:pos] if num else None for v, num in zip(nulls, numeric)]
                self._big = {i: (np.concatenate([b[0] for b in parts]), np.concatenate([b[1] for b in parts]))
                             if parts else (np.zeros(0, np.int64), np.zeros(0, np.int64)) for i, parts in big.items()}
                # Counted over the source's rows, before a privacy unit's bound drops any: a value 2 rows hold stays
                # rare though the bound drops them (a float the kept rows share, written as it, let it out in every
                # row; the review of 8399346).
                self._written = {i: _counted(values[i][np.concatenate(parts)] if parts else np.zeros(0))
                                 for i, parts in on_written.items()}
                self._n = pos
                if self.unit is not None:
                    self._nulls.pop()
                    self._bound(self._values.pop())
        return self._values

    def _bound(self, unit_text: pa.ChunkedArray) -> None:
        """Keep at most k rows of each unit (``engine/units.py``: ranked by our hash of the row, salted)."""
        _, k, salt = self.unit
        keys = row_keys(salt, unit_text, list(zip(self._values, self._nulls)))
        keep, self._unit_sizes = bounded_rows(unit_text, keys, k)
        if not keep.all():
            if self.exact:  # balanced mode: the values only dropped rows hold stay rare where 1-4 of them do
                self._dropped = {i: _dropped_only(v, keep) for i, v in enumerate(self._values)
                                 if isinstance(v, np.ndarray)}
                # and a TIMESTAMP_NS's microseconds are counted over the source's rows (``whole_counts``): a dropped
                # row's whole-second value beside kept rows 100 ns past it, on one float, was no one's, and draws on
                # that float were written as it (96-113 rows a seed; the review of 910b868)
                self._whole = {i: whole_runs(v, exact_per(self.columns[i])) for i, (_, v) in self._big.items()
                               if exact_per(self.columns[i]) > 1}
            mask = pa.array(keep)
            self._values = [v[keep] if isinstance(v, np.ndarray) else v.filter(mask) for v in self._values]
            self._nulls = [m[keep] if m is not None else None for m in self._nulls]
            index = np.cumsum(keep) - 1  # a kept row's position among the kept
            self._big = {i: (index[p[keep[p]]], v[keep[p]]) for i, (p, v) in self._big.items()}
        self._n = int(keep.sum())

    def _failing_column(self) -> Column | None:
        """The first column whose values cannot be read, if one alone fails."""
        for c in self.columns:
            try:
                self.reader.sql(f"SELECT count({value_sql(c)}) FROM ({self.sql})").fetchall()
            except duckdb.Error:
                return c
        return None

    def _read_error(self, exc: duckdb.Error, column: Column | None) -> DataError:
        return read_error(exc, column, show_values=self.show_values)

    def rare_values(self, columns: Sequence[Column], below: int, unit: tuple[Column, int] | None = None
                    ) -> dict[str, RareValues]:
        u = "NULL" if unit is None else quote_ident(unit[0].name)
        n = ("count(*)" if unit is None else  # (a unit's rows count at most k: NULL is a unit of its own)
             f"least(count(*), {int(unit[1])} * (count(DISTINCT u) + max(CASE WHEN u IS NULL THEN 1 ELSE 0 END)))")
        out = {}
        for col in columns:
            q = quote_ident(col.name)
            try:
                got = self.reader.sql(
                    f"SELECT v, n, total FROM (SELECT v, {n} AS n, sum({n}) OVER () AS total FROM "
                    f"(SELECT {value_sql(col)} AS v, {u} AS u FROM ({self.sql})) WHERE isfinite(v) GROUP BY v) "
                    f"WHERE n < {int(below)} ORDER BY v").fetchnumpy()
                exact = self.reader.sql(f"SELECT v FROM (SELECT {q} AS v, {u} AS u FROM ({self.sql})) WHERE v IS NOT "
                                        f"NULL GROUP BY v HAVING {n} < {int(below)}").to_arrow_table().column(0) \
                    .combine_chunks() if decimal_past_floats(col) else None
            except duckdb.Error as exc:
                raise self._read_error(exc, col) from None
            total = int(got["total"][0]) if len(got["total"]) else 0
            out[col.name] = RareValues(np.asarray(got["v"], np.float64), np.asarray(got["n"], np.float64), total,
                                       exact)
        return out

    def column(self, i: int) -> ArrayColumn:
        values = self._load()[i]
        per = exact_per(self.columns[i])
        written = self._written.get(i)
        return ArrayColumn(values, self._nulls[i],
                           exact=(lambda: exact_runs(self._big[i][1], per)) if i in self._big else None,
                           whole=(lambda: self._whole[i] if i in self._whole else whole_runs(self._big[i][1], per))
                           if i in self._big and per > 1 else None,
                           written=(lambda: written) if written is not None else None, dropped=self._dropped.get(i))

    def bin(self, domains: Sequence[Domain], keep: Sequence[int] = ()) -> Binned:
        values, nulls = self._load(), self._nulls
        n = len(values[0]) if values else self.row_count()  # before the values go (a unit's count is kept)
        self._values = self._nulls = None
        self._big = {}  # the exact values serve the domains only (a TIMESTAMP_NS's: 16 bytes a row)
        self._written, self._dropped, self._whole = {}, {}, {}
        # Column-major: every marginal reads whole columns (twice as fast as strided rows on large tables),
        # in the smallest signed type that holds every code (-1: a row to drop): 2 bytes a cell, not 8.
        codes = np.empty((n, len(domains)),
                         dtype=code_type(max((d.size for d in domains), default=1)), order="F")
        raw = {}
        for i, dom in enumerate(domains):
            codes[:, i] = dom.encode(values[i]) if nulls[i] is None else dom.encode(values[i], nulls[i])
            if i in keep:
                raw[i] = np.where(nulls[i], np.nan, values[i]) if nulls[i] is not None else values[i]
            values[i] = None  # the raw column is no longer needed: free it as soon as it is coded
        dropped = (codes < 0).any(axis=1)  # a NOT NULL column's value outside its declared list
        if dropped.any():
            codes = np.asfortranarray(codes[~dropped])
            raw = {i: v[~dropped] for i, v in raw.items()}
        return Binned(codes, [d.size for d in domains], raw)


def read_error(exc: duckdb.Error, column: Column | None = None, *, show_values: bool) -> DataError:
    """A DataError for an error DuckDB raised while reading the source; without `show_values` (DP modes) one
    text whatever the error: DuckDB's message can quote a value, and its kind, or the column whose values
    failed, is a bit about the rows (`CASE WHEN salary >= x THEN a cast that fails one way ELSE another`: the
    review of 1c489ef; such a run is charged its whole budget, ``ledger.failures_recorded``)."""
    if show_values:
        where = f"column '{column.name}' ({column.type}) of the source" if column else "the source"
        text = str(exc).split("\n\n")[0]  # DuckDB quotes the SQL after a blank line
        return DataError(f"cannot read {where}: {' '.join(text.split())}")
    return read_failed("DuckDB")


def read_failed(engine: str) -> DataError:
    """DP modes: the one text of a source that failed while `engine` ('DuckDB', 'Spark') read it (``read_error``),
    marked `reading` (``ledger.failures_recorded`` charges the whole budget)."""
    err = DataError(f"cannot read the source: {engine} raised an error reading it. In DP modes its message, its kind "
                    "and the column are not shown, as they can tell a row's value; the run is charged its whole budget. "
                    "Check the source's data and the casts in the source query (read it yourself to see the row)")
    err.reading = True
    return err


def table_fingerprint(hashes: np.ndarray) -> tuple[int, int]:
    """Order-free fingerprint of a table from its rows' hashes: the row count and their sum (mod 2**64)."""
    return len(hashes), int(hashes.astype(np.uint64).sum(dtype=np.uint64))


def output_fingerprint(table: pa.Table, types: Sequence[tuple[str, str]]) -> tuple[int, int]:
    """The fingerprint of a run's output rows read with their exact types, as a report reads a table
    (``compare_sql``): so a report recognises a run's output after a trip through a file or a table."""
    con = duckdb.connect()
    try:
        con.register("__output", table)
        cols = [classify(name, type_) for name, type_ in types]
        select = ", ".join(f"CAST({quote_ident(n)} AS {t}) AS {quote_ident(n)}" for n, t in types)
        exprs = ", ".join(compare_sql(c) for c in cols) or "1"
        hashes = con.sql(f"SELECT hash({exprs}) FROM (SELECT {select} FROM __output)").to_arrow_table().column(0)
    finally:
        con.close()
    return table_fingerprint(hashes.to_numpy())


def content_stamp(reader: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    """What identifies a relation's current content: its columns and types, its row count and a
    sum of its rows' hashes (for memoizing work on it; never released)."""
    columns = tuple(reader.sql(f"DESCRIBE {sql}").fetchall())
    rows = reader.sql(f"SELECT count(*), sum(hash(__row)::HUGEINT) FROM ({sql}) AS __row").fetchall()[0]
    return (columns, *rows)


def exact_per(col: Column) -> int:
    """How many of ``exact_sql``'s units one of the column's floats counts: 1000 for a TIMESTAMP_NS (read in
    microseconds, ``value_sql``: each float stands for the thousand nanoseconds of its microsecond), else 1."""
    return 1000 if col.type.upper() == "TIMESTAMP_NS" else 1


def exact_floats(ints: np.ndarray, per: int = 1, infinite: bool = False) -> np.ndarray:
    """The floats ``value_sql`` reads for the exact values `ints` (int64): the values, or with `per`, their
    whole multiples of it, floored (DuckDB's ``epoch_us`` of a TIMESTAMP_NS: -500 ns is -1 microsecond);
    `infinite` (a timestamp's): +-INFINITE_SENTINEL as +-inf (``exact_sql``'s +-infinity)."""
    x = (ints if per == 1 else np.floor_divide(ints, per)).astype(np.float64)
    if infinite:
        x[ints == INFINITE_SENTINEL] = np.inf
        x[ints == -INFINITE_SENTINEL] = -np.inf
    return x


def _dropped_only(x: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The finite floats of `x` only rows `keep` drops hold, ascending, and how many rows hold each (int64)."""
    gone = x[~keep]
    floats, rows = _counted(gone[np.isfinite(gone)])
    if len(floats):
        kept = x[keep]
        at = np.minimum(np.searchsorted(floats, kept), len(floats) - 1)
        held = np.zeros(len(floats), dtype=bool)
        held[at[floats[at] == kept]] = True
        floats, rows = floats[~held], rows[~held]
    return floats, rows


def _counted(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct floats of `x`, ascending, and how many of them each (int64)."""
    floats, rows = np.unique(x, return_counts=True)
    return floats, rows.astype(np.int64)


def exact_runs(ints: np.ndarray, per: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``ColumnData.exact_values`` from the exact values (int64) of one column's rows whose floats may stand
    for several values (past 2^53; every row of a TIMESTAMP_NS, `per` = 1000): the floats whose rows all hold
    one value, ascending, that value, and the rows reading as each."""
    if not len(ints):
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    x = exact_floats(ints, per)
    order = np.lexsort((ints, x))
    x, v = x[order], ints[order]
    starts, lengths = runs(x)
    one = v[starts] == v[starts + lengths - 1]  # sorted by value within a float: its least and its greatest
    return x[starts[one]], v[starts[one]], lengths[one].astype(np.int64)


def whole_runs(ints: np.ndarray, per: int) -> tuple[np.ndarray, np.ndarray]:
    """``ColumnData.whole_counts`` from a column's exact values (int64, in units `per` to a float): the floats of
    the values that are whole multiples of `per` and each its own float, ascending, and the rows holding each. A
    value drawn at a float is written as that float's unit (``decode._typed``): past 2^53 microseconds a float
    stands for two or three of them, and a unit whose float is another's cannot be written (counted beside the
    float's own, by their order, 10 rows of ...991 hid the 1-row ...992 that the float ...992 writes: the review
    of 746ee9f)."""
    units = ints[ints % per == 0] // per
    floats = units.astype(np.float64)
    whole, rows = np.unique(floats[floats.astype(np.int64) == units], return_counts=True)
    return whole, rows.astype(np.int64)


def exact_sql(col: Column) -> str | None:
    """The SQL expression that reads a column's values exactly as BIGINTs, where ``value_sql``'s floats can
    stand for several of them (``ColumnData.exact_values``): a BIGINT, a TIMESTAMP's microseconds, a
    TIMESTAMP_NS's nanoseconds (its floats are its microseconds, floored: ``exact_per``). None for other
    columns (UBIGINT and HUGEINT values past BIGINT's range have no such reading)."""
    q = quote_ident(col.name)
    t = col.type.upper()
    if t == "TIMESTAMP_NS":  # (+-infinity as +-INFINITE_SENTINEL: read as +-inf by ``exact_floats``)
        return infinity_sql(col, f"{INFINITE_SENTINEL}::BIGINT", f"epoch_ns({q})")
    if col.kind == "temporal" and t not in ("DATE", "TIME"):
        return infinity_sql(col, f"{INFINITE_SENTINEL}::BIGINT", f"epoch_us({as_timestamp(col)})")
    if t == "BIGINT" and col.kind == "numeric":
        return f"CAST({q} AS BIGINT)"
    return None


def to_float(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
