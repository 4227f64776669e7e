"""Privacy units: rows grouped by the person they belong to (``privacy_unit := 'patient_id'``).

Three jobs, none of which adds noise (``privacy/units.py`` does):

* ``row_keys`` and ``bounded_rows``: at most k rows per unit, the rows kept chosen at random: ranked
  within their unit by a hash of the row's values salted with a number drawn from the run's noise
  stream, not by row order (a table's order often carries meaning: the first visit, the latest).
  Which of a unit's rows are kept depends on that unit's rows and the salt alone, so adding or
  removing a person changes the kept rows by at most k (docs/privacy.md §1.1). The hash is ours
  (numpy, over the values as the engine reads them), so DuckDB and Spark keep the same rows.
* ``size_counts``: how many units hold 1, 2-3, 4-7, ... rows once bounded (powers of two below k, and k),
  the histogram the synthetic units' sizes are drawn from.
* ``UnitIds``: fresh unit ids for the synthetic rows: units of sizes drawn from that histogram,
  consecutive rows forming a unit. The rows are independent draws from the model, so the rows of a
  synthetic unit are as alike as any rows: what a person's rows share is not modelled.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from ..errors import OptionError
from .schema import Column
from .source import quote_ident

def check_unit(c: Column) -> None:
    """The unit column's type must be one fresh ids can be made of."""
    if not (c.type.upper() in ("VARCHAR", "UUID") or (c.integer and c.kind == "numeric")):
        raise OptionError(f"privacy_unit: column '{c.name}' is {c.type}; a privacy unit is an id column of an "
                          "integer, VARCHAR or UUID type (cast it in a query, or name the id column)")


def canonical_sql(unit: Column) -> str:
    """The unit column as text, as both engines write it (integers and strings alike): the rows of a
    unit are grouped, and its id hashed, by this text."""
    return f"CAST({quote_ident(unit.name)} AS VARCHAR)"


_NULL_BITS = np.uint64(0x9E3779B97F4A7C15)  # what NULL hashes as (no value's bits are read for it)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, elementwise on uint64 (wrapping)."""
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


def _text_bits(arr) -> np.ndarray:
    """A 64-bit hash of each value of a text (or boolean) Arrow array, NULL its own: each distinct value
    hashed once (blake2b of its UTF-8 bytes)."""
    import hashlib

    import pyarrow.compute as pc

    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.string())
    enc = pc.dictionary_encode(arr)
    table = np.array([int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(), "little")
                      for v in enc.dictionary.to_pylist()] + [int(_NULL_BITS)], dtype=np.uint64)
    idx = enc.indices.fill_null(len(enc.dictionary)).to_numpy(zero_copy_only=False)
    return table[idx]


def row_keys(salt: int, unit_text, columns: Sequence[tuple]) -> np.ndarray:
    """Each row's rank key within its unit: a hash of the salt, the unit's id and the row's values, the
    same on every engine for the same values (a number by its float64 bits, text by its bytes, NULL
    alike): which of a unit's rows are kept depends on that unit's rows and the salt alone.

    Args:
        salt: drawn from the run's noise stream.
        unit_text: the unit ids as text (``canonical_sql``), an Arrow array.
        columns: (values, nulls) per modelled column: float64 values with the NULL mask, or an
            Arrow array (nulls None).
    """
    h = _mix(np.full(len(unit_text), np.uint64(salt & 0xFFFFFFFFFFFFFFFF)) ^ _text_bits(unit_text))
    for values, nulls in columns:
        if nulls is None:
            bits = _text_bits(values)
        else:
            x = np.asarray(values, dtype=np.float64)
            x = np.where(np.asarray(nulls), 0.0, np.where(np.isnan(x), np.nan, x)) + 0.0  # one NaN; -0.0 as 0.0
            bits = np.where(np.asarray(nulls), _NULL_BITS, x.view(np.uint64))
        h = _mix(h ^ bits)
    return h.view(np.int64)


def bounded_rows(unit_text, keys: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Which rows to keep, at most `k` of each unit (NULL ids one unit), those of least key; and how
    many rows each kept unit holds once bounded."""
    import pyarrow.compute as pc

    arr = unit_text.combine_chunks() if isinstance(unit_text, pa.ChunkedArray) else unit_text
    enc = pc.dictionary_encode(arr)
    codes = enc.indices.fill_null(len(enc.dictionary)).to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.lexsort((keys, codes))  # by unit, then by key (ties: identical rows, kept in row order)
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_codes[1:] != sorted_codes[:-1]])) if len(order) else \
        np.zeros(0, dtype=np.int64)
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.append(starts, len(order))))
    keep = np.zeros(len(order), dtype=bool)
    keep[order[rank < k]] = True
    sizes = np.minimum(np.diff(np.append(starts, len(order))), k)
    return keep, sizes


def buckets(k: int) -> list[tuple[int, int]]:
    """The sizes [lo, hi] of each bucket of the size histogram: 1, 2-3, 4-7, ... below k, and k alone
    (bounding piles every larger unit there)."""
    out, lo = [], 1
    while lo < k:
        out.append((lo, min(2 * lo - 1, k - 1)))
        lo *= 2
    return out + [(k, k)]


def size_counts(sizes: np.ndarray, k: int) -> np.ndarray:
    """Exact counts of units in each size bucket, from the rows each unit holds once bounded."""
    his = np.array([hi for _, hi in buckets(k)])
    out = np.zeros(len(his), dtype=np.int64)
    np.add.at(out, np.searchsorted(his, np.minimum(np.asarray(sizes, dtype=np.int64), k)), 1)
    return out


class UnitIds:
    """Synthetic unit ids of a column's type for the rows of an output, pass after pass the same.

    Args:
        column: the unit column (its type: integer, VARCHAR or UUID).
        weights: the (noisy, non-negative) weight of each size bucket (``buckets(k)``).
        k: the most rows of a unit.
        seed: where the sizes and the ids' scrambling come from (drawn from the output stream).
    """

    def __init__(self, column: Column, weights: np.ndarray, k: int, seed: int) -> None:
        self.column = column
        self.bounds = np.array(buckets(k), dtype=np.int64)
        w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
        self.probs = w / w.sum() if w.sum() > 0 else np.eye(len(self.bounds))[0]  # no estimate: one row a unit
        self.seed = int(seed)
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        self.mean = float(self.probs @ ((lo + hi) / 2.0))

    def cursor(self) -> UnitCursor:
        return UnitCursor(self)

    def sizes(self, m: int, rng: np.random.Generator) -> np.ndarray:
        b = rng.choice(len(self.probs), size=m, p=self.probs)
        lo, hi = self.bounds[b, 0], self.bounds[b, 1]
        return lo + np.floor(rng.random(m) * (hi - lo + 1)).astype(np.int64)

    def values(self, numbers: np.ndarray, total_rows: int) -> pa.Array:
        """Unit numbers (1, 2, ...) as values of the column's type: numbers for an integer column (wrapping
        round the type's range if it cannot hold them all), scrambled hex tokens or UUIDs for text."""
        c = self.column
        t = c.type.upper()
        if t in ("VARCHAR", "UUID"):
            salt = np.random.default_rng([self.seed, 1]).integers(0, 2**63, size=2, dtype=np.int64).astype(np.uint64)
            with np.errstate(over="ignore"):
                mixed = numbers.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + salt[0]  # a bijection of 2^64
            low = [format(int(x), "016x") for x in mixed]
            if t == "VARCHAR":
                return pa.array(low, type=pa.string())
            high = format(int(salt[1]), "016x")
            return pa.array([f"{high[:8]}-{high[8:12]}-4{x[0]}{high[14:16]}-8{x[1:4]}-{x[4:]}" for x in low],
                            type=pa.string())
        lo, hi = (int(c.type_range[0]), int(c.type_range[1])) if c.type_range else (1, 2**62)
        first = 1 if hi >= 1 and lo <= 1 else lo
        room = hi - first + 1
        if room >= 2**62:  # BIGINT and wider: the numbers themselves (an output has at most 1e8 rows)
            return pa.array(numbers + (first - 1), type=pa.int64())
        return pa.array((numbers - 1) % room + first, type=pa.int64())


class UnitCursor:
    """One pass over an output's unit ids: the unit numbers of its rows, batch by batch. The sizes are
    drawn DRAW at a time from their own stream, so the units are the same however the rows are batched."""

    DRAW = 4096

    def __init__(self, ids: UnitIds) -> None:
        self.ids = ids
        self.rng = np.random.default_rng([ids.seed, 0])
        self.unit = 0  # the last unit number begun
        self.left = 0  # rows of it still to come
        self.pending = np.zeros(0, dtype=np.int64)  # sizes drawn, of units not begun

    def skip(self, n: int) -> None:
        """Move past `n` rows, as ``take(n)`` would, without making their ids (memory: one draw of sizes)."""
        left = n
        used = min(self.left, left)
        self.left -= used
        left -= used
        while left > 0:
            if not len(self.pending):
                self.pending = self.ids.sizes(self.DRAW, self.rng)
            ends = np.cumsum(self.pending)
            j = int(np.searchsorted(ends, left))
            if j == len(self.pending):
                left -= int(ends[-1])
                self.unit += len(self.pending)
                self.pending = self.pending[:0]
                continue
            self.unit += j + 1
            self.left = int(ends[j]) - left
            self.pending = self.pending[j + 1:]
            left = 0

    def take(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.int64)
        pos = min(self.left, n)
        out[:pos] = self.unit
        self.left -= pos
        while pos < n:
            if not len(self.pending):
                self.pending = self.ids.sizes(self.DRAW, self.rng)
            need, sizes = n - pos, self.pending
            ends = np.cumsum(sizes)
            j = int(np.searchsorted(ends, need))  # the first unit reaching to what is needed, or past it
            if j == len(sizes):  # all of them fit, and more are needed
                out[pos:pos + int(ends[-1])] = np.repeat(self.unit + 1 + np.arange(len(sizes)), sizes)
                pos += int(ends[-1])
                self.unit += len(sizes)
                self.pending = sizes[:0]
                continue
            out[pos:] = np.repeat(self.unit + 1 + np.arange(j + 1), sizes[:j + 1])[:need]
            self.unit += j + 1
            self.left = int(ends[j]) - need
            self.pending = sizes[j + 1:]
            pos = n
        return out
