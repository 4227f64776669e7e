"""Privacy units: rows grouped by the person they belong to (``privacy_unit := 'patient_id'``).

Three jobs, none of which adds noise (``privacy/units.py`` does):

* ``bounded_sql``: the source with at most k rows per unit, the rows kept chosen at random: ranked
  within their unit by a hash of the row's values salted with a number drawn from the run's noise
  stream, not by row order (a table's order often carries meaning: the first visit, the latest).
  Which of a unit's rows are kept depends on that unit's rows and the salt alone, so adding or
  removing a person changes the kept rows by at most k (docs/privacy.md §1.1).
* ``size_counts``: how many units hold 1, 2-3, 4-7, ... rows once bounded (powers of two below k, and k),
  the histogram the synthetic units' sizes are drawn from.
* ``UnitIds``: fresh unit ids for the synthetic rows: units of sizes drawn from that histogram,
  consecutive rows forming a unit. The rows are independent draws from the model, so the rows of a
  synthetic unit are as alike as any rows: what a person's rows share is not modelled.
"""
from __future__ import annotations

import math

import duckdb
import numpy as np
import pyarrow as pa

from ..errors import OptionError
from .schema import Column
from .source import quote_ident

_RANK = "__synth_unit_rank"
_ROW = "__synth_unit_row"


def check_unit(c: Column) -> None:
    """The unit column's type must be one fresh ids can be made of."""
    if not (c.type.upper() in ("VARCHAR", "UUID") or (c.integer and c.kind == "numeric")):
        raise OptionError(f"privacy_unit: column '{c.name}' is {c.type}; a privacy unit is an id column of an "
                          "integer, VARCHAR or UUID type (cast it in a query, or name the id column)")


def check_names(columns: list[Column]) -> None:
    """The bounding query's own names must not be the source's."""
    for c in columns:
        if c.name.lower() in (_RANK, _ROW):
            raise OptionError(f"privacy_unit: the source has a column named '{c.name}', a name the bounding query "
                              "uses; rename it in a query")


def bounded_sql(sql: str, unit: str, k: int, salt: int) -> str:
    """`sql`'s rows, at most `k` per value of `unit` (NULL counts as one unit), chosen by a salted hash."""
    u = quote_ident(unit)
    return (f"SELECT * EXCLUDE ({_RANK}) FROM (SELECT *, row_number() OVER (PARTITION BY {u} "
            f"ORDER BY hash({int(salt)}::UBIGINT, {_ROW})) AS {_RANK} FROM ({sql}) AS {_ROW}) "
            f"WHERE {_RANK} <= {int(k)}")


def buckets(k: int) -> list[tuple[int, int]]:
    """The sizes [lo, hi] of each bucket of the size histogram: 1, 2-3, 4-7, ... below k, and k alone
    (bounding piles every larger unit there)."""
    out, lo = [], 1
    while lo < k:
        out.append((lo, min(2 * lo - 1, k - 1)))
        lo *= 2
    return out + [(k, k)]


def size_counts(con: duckdb.DuckDBPyConnection, sql: str, unit: str, k: int) -> np.ndarray:
    """Exact counts of the units of `sql` (already bounded to k rows a unit) in each size bucket."""
    u = quote_ident(unit)
    rows = con.execute(f"SELECT n, count(*) FROM (SELECT count(*) AS n FROM ({sql}) GROUP BY {u}) GROUP BY n"
                       ).fetchall()
    his = np.array([hi for _, hi in buckets(k)])
    out = np.zeros(len(his), dtype=np.int64)
    for n, c in rows:
        out[int(np.searchsorted(his, min(int(n), k)))] += int(c)
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
