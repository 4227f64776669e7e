"""What each column's values can be: domains, and the public grids they are built on.

A domain maps a column's values to a few codes and back. A categorical domain
(VARCHAR, UUID, BOOLEAN, ENUM) keeps some values (codes 0..k-1), then an 'other'
bucket for the rest, then NULL. A numeric or temporal domain has fine cells on a
grid (linear, geometric, or on the decimal lattice the values are written on),
merged into model bins; the fine cells are kept to decode a bin back into a value.
NULL is a bucket of its own unless the column is declared NOT NULL.

Everything here is exact and public: the value objects, the domains the schema
alone fixes (BOOLEAN, ENUM), the data-independent bucketings whose histograms
domains are learned from (signed powers of two, decimal places, fine cells), and
the arithmetic of grids and bins. Which values a domain keeps, and how the
histograms are read (with noise in DP modes, exactly in balanced mode), is decided
in ``privacy/discovery.py``.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .schema import TYPE_UNIT_US, Column

# Signed powers of two from 2^-20 to 2^62 (2^127 for types that reach beyond 2^63), plus a bucket around zero.
_EXP_MIN, _EXP_MAX, _EXP_WIDE = -20, 62, 127
MAX_DECIMALS = 6
MIN_DECIMALS = -3  # values that are all multiples of 1000


class RareValues(NamedTuple):
    """``Rows.rare_values``' reading of one column: its finite values (as ``value_sql`` reads them) that fewer than
    the bar's rows hold, ascending; the rows holding each; the rows holding a finite value; and, for a DECIMAL past
    the floats, whose values a float does not tell apart, those values themselves (an Arrow array, else None)."""

    values: np.ndarray
    held: np.ndarray
    rows: int
    exact: pa.Array | None = None

    @property
    def none(self) -> bool:
        """No value is rare, by either reading."""
        return not len(self.values) and (self.exact is None or not len(self.exact))


@dataclass(frozen=True)
class CategoricalDomain:
    """Kept values (codes 0..k-1), then 'other' if present, then NULL if present."""

    column: Column
    values: tuple = ()
    other: bool = True
    null: bool = True
    counts: tuple[float, ...] = ()  # DP modes: the released noisy counts of the kept values
    sigma: float = 0.0  # their noise
    free_text: bool = False  # its kept values hold few of the rows: not modelled with other columns

    @property
    def size(self) -> int:
        return len(self.values) + int(self.other) + int(self.null)

    @property
    def other_code(self) -> int:
        return len(self.values) if self.other else -1

    @property
    def null_code(self) -> int:
        return self.size - 1 if self.null else -1

    def encode(self, arr: pa.Array) -> np.ndarray:
        """Codes of the raw column (as fetched by ``value_sql``)."""
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        idx = pc.index_in(arr, value_set=pa.array(list(self.values), type=arr.type))
        codes = idx.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        isnull = arr.is_null().to_numpy(zero_copy_only=False)
        fallback = self.other_code if self.other else 0
        if self.column.declared is not None and self.column.declared.values:
            fallback = self.null_code  # a value outside a declared list: NULL, or its row dropped (-1)
        codes[(codes < 0) & ~isnull] = fallback
        codes[isnull] = self.null_code if self.null else fallback
        return codes


SPECIALS = (float("nan"), float("inf"), float("-inf"))  # what a FLOAT or DOUBLE holds besides numbers


@dataclass(frozen=True)
class NumericDomain:
    """Fine cells [edges[j], edges[j+1]) with weights, merged into model bins; then the special
    values kept (NaN, +inf, -inf, of a FLOAT or DOUBLE column), each a bucket; NULL last."""

    column: Column
    edges: np.ndarray
    weights: np.ndarray
    cell_bin: np.ndarray
    null: bool = True
    cell_counts: np.ndarray | None = field(default=None, repr=False)  # counts of the fine cells, then of the
    # special values kept and NULL: exact (balanced) or unbiased noisy estimates (DP)
    cell_var: np.ndarray | None = field(default=None, repr=False)  # the noise variance of each (None: exact)
    decimals: int | None = None  # values are rounded to this many decimals when decoded (-2: to hundreds)
    unit: float | None = None  # a TIMESTAMP's or TIME's values are whole multiples of this (microseconds)
    rare: np.ndarray | None = field(default=None, repr=False)  # balanced mode: sorted values held by < 5 rows,
    # never emitted (a DP domain holds no value of the data)
    rare_held: np.ndarray | None = field(default=None, repr=False)  # balanced mode: the rows holding each
    numbers: float = 0.0  # balanced mode: the rows holding a finite number
    specials: tuple[float, ...] = ()  # of SPECIALS, those with a bucket of their own, in that order
    points: np.ndarray | None = field(default=None, repr=False)  # per fine cell, the one value it decodes to
    # (DP: a frequent value released with its noisy count; balanced: one of the values held by the most rows,
    # ``discovery.exact_points``), NaN for a cell decoded anywhere inside
    exact_of: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)  # balanced mode: floats past
    # 2^53 whose rows all hold one value of a BIGINT or TIMESTAMP (sorted), and that value (int64), decoded to it
    places: np.ndarray | None = field(default=None, repr=False)  # DP: the decimals step's counts of the values
    # written with MIN_DECIMALS, MIN_DECIMALS + 1, ... places (noisy, under their bar 0): how often a value
    # is rounder than the lattice needs, which decoding inside a cell follows (``decode.lattice_weights``)
    places_bar: float = 0.0  # how far over its points' share a class's count must be to count as rounder
    unconfirmed: tuple[int, int] = (0, 0)  # DP, until the 1-way marginal is measured: the bottom and the top
    # bin hold end cells none of which was clearly data (0: no such bin; 1: the bin holds only those cells;
    # 2: they were split off the bin next to them, which they rejoin once confirmed). See
    # privacy/measure.py:confirm_ends.
    floats_are_values: bool = False  # balanced mode, a DECIMAL past the floats whose written values were counted
    # (``data.ColumnData.written_counts``): each float is a value, as a DOUBLE's (``resolution``)

    @property
    def resolution(self) -> float | None:
        """``value_resolution`` of the column, or None where its floats count as its values (``floats_are_values``)."""
        return None if self.floats_are_values else value_resolution(self.column)

    @cached_property
    def drawn_rare(self) -> np.ndarray | None:
        """The rare values kept rows hold (``rare_held`` over 0), whose runs balanced mode's dense-run exception reads
        (``decode._kept_as_drawn``). Those only rows no draw stands for hold (a privacy unit's bound dropped them; a
        DECIMAL's written value no kept row reads as) are rare for every draw but lengthen no run: they had joined
        runs of 40 one-row values into one of 2,050, which switched the exception on (1,987-1,995 rows a seed; the
        review of 910b868). ``rare`` itself where every rare value is a kept row's."""
        held = self.rare_held
        return self.rare if held is None or held.all() else self.rare[held > 0]

    @property
    def nbins(self) -> int:
        return int(self.cell_bin.max()) + 1

    @property
    def exact(self) -> bool:
        """Learned from exact counts (balanced mode), which is when the rare values are known."""
        return self.rare is not None

    @property
    def size(self) -> int:
        return self.nbins + len(self.specials) + int(self.null)

    @property
    def null_code(self) -> int:
        return self.nbins + len(self.specials) if self.null else -1

    @cached_property
    def _bin_runs(self) -> tuple[np.ndarray, np.ndarray]:
        """The edges where the bin changes from one fine cell to the next, and the bin of each run:
        ``bins[searchsorted(starts, x, 'right')]`` is ``cell_bin[Cells(edges).codes(x)]`` for any x, with a
        search among a few bin edges instead of thousands of cell edges (1M values: 75 -> 30 ms)."""
        change = np.flatnonzero(self.cell_bin[1:] != self.cell_bin[:-1]) + 1
        return self.edges[change], self.cell_bin[np.concatenate([[0], change])].astype(np.int64)

    @cached_property
    def bin_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """The cells in bin order (ascending within a bin) and each bin's first place in that order, then one
        past the last: bin b's cells are ``perm[first[b]:first[b + 1]]``."""
        perm = np.argsort(self.cell_bin, kind="stable")
        return perm, np.searchsorted(self.cell_bin[perm], np.arange(self.nbins + 1))

    @cached_property
    def bin_span(self) -> tuple[np.ndarray, np.ndarray]:
        """Each bin's first cell's left edge and last cell's right edge (NaN for a bin of no cells)."""
        perm, first = self.bin_cells
        held = first[1:] > first[:-1]
        lo, hi = np.full(self.nbins, np.nan), np.full(self.nbins, np.nan)
        lo[held] = self.edges[perm[first[:-1][held]]]
        hi[held] = self.edges[perm[first[1:][held] - 1] + 1]
        return lo, hi

    @cached_property
    def bin_alias(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per bin, Walker's alias table over its cells by weight (evenly where a bin's weights are all 0):
        (``bin_cells``, and per place in its order the probability of keeping its cell and the place of its
        alias). A uniform draw u picks place ``first[b] + floor(u * size)``, kept if the rest of u * size is
        under its probability, else its alias: each cell with its weight's share of the bin, with no search."""
        perm, first = self.bin_cells
        w = np.asarray(self.weights, dtype=np.float64)[perm]
        prob, alias = np.ones(len(w)), np.arange(len(w))
        for a, z in zip(first[:-1], first[1:]):
            part, k = w[a:z], int(z - a)
            total = float(part.sum())
            scaled = (part / total * k if total > 0 else np.ones(k)).tolist()  # (k / total may overflow)
            small = [i for i, p in enumerate(scaled) if p < 1.0]
            large = [i for i, p in enumerate(scaled) if p >= 1.0]
            while small and large:
                s, g = small.pop(), large[-1]
                prob[a + s], alias[a + s] = scaled[s], a + g
                scaled[g] -= 1.0 - scaled[s]
                if scaled[g] < 1.0:
                    small.append(large.pop())
        return perm, first, prob, alias

    def encode(self, x: np.ndarray, nulls: np.ndarray | None = None) -> np.ndarray:
        """Codes of the values (float64; `nulls` marks NULL, else every NaN is NULL).

        A special value without a bucket goes where it is closest: +inf to the top bin, -inf to
        the bottom one, NaN to NULL (or the bottom bin of a NOT NULL column).
        """
        nulls = np.isnan(x) if nulls is None else nulls
        finite = np.isfinite(x)
        starts, bins = self._bin_runs
        codes = bins[np.searchsorted(starts, np.where(finite, x, self.edges[0]), side="right")]
        if not finite.all():
            nan = np.isnan(x) & ~nulls
            for value, rows, fallback in ((SPECIALS[0], nan, self.null_code if self.null else 0),
                                          (SPECIALS[1], x == np.inf, self.nbins - 1), (SPECIALS[2], x == -np.inf, 0)):
                codes[rows] = self.special_code(value) if self.has_special(value) else fallback
        if self.null:
            codes[nulls] = self.null_code
        return codes

    def has_special(self, value: float) -> bool:
        return any(_same(value, v) for v in self.specials)

    def special_code(self, value: float) -> int:
        return self.nbins + next(k for k, v in enumerate(self.specials) if _same(value, v))


Domain = CategoricalDomain | NumericDomain


def _same(a: float, b: float) -> bool:
    """Equal, NaN equal to NaN."""
    return a == b or (math.isnan(a) and math.isnan(b))


# ---------------------------------------------------------------- public domains


def public_domain(col: Column) -> CategoricalDomain | None:
    """The domain of a BOOLEAN or ENUM column, known from the schema alone."""
    if col.kind == "boolean":
        return CategoricalDomain(col, (False, True), other=False, null=col.nullable)
    if col.kind == "enum":
        return CategoricalDomain(col, col.enum_values, other=False, null=col.nullable)
    return None


# ---------------------------------------------------------------- public bucketings of numbers


class Buckets:
    """A data-independent bucketing of a numeric column's non-NULL values (float64).

    Domains are learned from histograms over such bucketings; an engine counts
    them (``engine/data.py``), the privacy layer reads them.
    """

    size: int

    def codes(self, x: np.ndarray) -> np.ndarray:
        """The bucket of each value, in 0 .. size-1."""
        raise NotImplementedError

    def histogram(self, x: np.ndarray) -> np.ndarray:
        """Counts of the values in each bucket (float64, length ``size``)."""
        return np.bincount(self.codes(x), minlength=self.size).astype(np.float64)


class PowersOfTwo(Buckets):
    """Signed powers of two from 2^-20 to 2^top: 0 around zero, +-(1..k) for +-[2^e, 2^(e+1)),
    shifted to 0 .. 2k (k = top + 21 powers; larger magnitudes fall in the outermost bucket)."""

    def __init__(self, top: int = _EXP_MAX) -> None:
        self.top = top
        self.zero = top - _EXP_MIN + 1  # the bucket around zero
        self.size = 2 * self.zero + 1

    @classmethod
    def of(cls, col: Column) -> PowersOfTwo:
        """The buckets a column's type calls for (public): to 2^62, or 2^127 for types that reach past 2^63."""
        wide = col.type_range is None or max(abs(col.type_range[0]), abs(col.type_range[1])) > 2.0 ** 63
        return cls(_EXP_WIDE if wide and col.kind == "numeric" else _EXP_MAX)

    def codes(self, x: np.ndarray) -> np.ndarray:
        a = np.abs(x)
        with np.errstate(divide="ignore"):
            e = np.floor(np.log2(np.where(a > 0, a, 1.0)))
        e = np.clip(e, _EXP_MIN, self.top).astype(np.int64)
        b = np.where(a < 2.0 ** _EXP_MIN, 0, e - _EXP_MIN + 1)
        return np.where(x < 0, -b, b) + self.zero

    def edges(self, bucket: int) -> tuple[float, float]:
        """The values a bucket holds, [lo, hi)."""
        s = bucket - self.zero
        if s == 0:
            return -(2.0 ** _EXP_MIN), 2.0 ** _EXP_MIN
        e = abs(s) - 1 + _EXP_MIN
        lo, hi = 2.0 ** e, 2.0 ** (e + 1)
        if e == self.top == _EXP_WIDE:  # the outermost bucket holds every larger magnitude, to the double's
            hi = sys.float_info.max  # (values past 2^128 were drawn in [2^127, 2^128): 1e130-1e140 came back 3.4e38)
        return (lo, hi) if s > 0 else (-hi, -lo)


class DecimalPlaces(Buckets):
    """How many decimals write each value exactly: MIN_DECIMALS .. MAX_DECIMALS, then 'more', then a
    cell of its own for zero (on every lattice, so it says nothing of the decimals; ``choose_decimals``).

    With `single`, a value is written with k decimals when the FLOAT (single precision) nearest
    to the k-decimal number is the value: a FLOAT column holding 0.1 holds 0.100000001490116...
    """

    size = MAX_DECIMALS - MIN_DECIMALS + 3

    def __init__(self, single: bool = False) -> None:
        self.single = single

    @classmethod
    def of(cls, col: Column) -> DecimalPlaces:
        """The bucketing a column's type calls for (public): single precision for FLOAT."""
        return cls(single=col.type.upper() == "FLOAT")

    def codes(self, x: np.ndarray) -> np.ndarray:
        return np.where(x == 0, self.size - 1, decimal_places(x, single=self.single) - MIN_DECIMALS)


# The units a TIMESTAMP or TIME is written in (microseconds): a day, an hour, a minute, a second, a
# millisecond, a microsecond. A value is in the coarsest unit it is a whole number of.
TIME_UNITS = (86_400e6, 3_600e6, 60e6, 1e6, 1e3, 1.0)
TIME_UNIT_NAMES = ("day", "hour", "minute", "second", "millisecond", "microsecond")


class TimeUnits(Buckets):
    """The coarsest of ``TIME_UNITS`` each value (microseconds) is a whole number of."""

    size = len(TIME_UNITS)

    def codes(self, x: np.ndarray) -> np.ndarray:
        out = np.full(len(x), len(TIME_UNITS) - 1, dtype=np.int64)
        for k in range(len(TIME_UNITS) - 2, -1, -1):
            out[np.mod(x, TIME_UNITS[k]) == 0] = k
        return out


@dataclass(frozen=True)
class Cells(Buckets):
    """The fine cells [edges[j], edges[j+1]) of a grid; values outside go to the end cells."""

    edges: np.ndarray

    @property
    def size(self) -> int:  # type: ignore[override]
        return len(self.edges) - 1

    def codes(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0, self.size - 1)

    def histogram_sorted(self, x: np.ndarray) -> np.ndarray:
        """``histogram`` of values given sorted ascending: a search per edge, not per value."""
        pos = np.searchsorted(x, self.edges, side="left")  # values below each edge
        counts = np.diff(pos).astype(np.float64)
        counts[0] += pos[0]  # values below the grid go to the first cell, as codes() puts them
        counts[-1] += len(x) - pos[-1]  # values at or above its last edge to the last
        return counts


# ---------------------------------------------------------------- grids and bins


def grid(lo: float, hi: float, pos_lo: float, cells: int, integer: bool, geometric: bool = True) -> np.ndarray:
    """Cell edges over [lo, hi]: geometric for wide ranges of one sign (when allowed), else linear.

    Integer cells are whole numbers, as far as a double holds them (below 2^53).
    """
    integer = integer and max(abs(lo), abs(hi)) < 2.0 ** 53
    if integer:
        lo, hi = float(math.floor(lo)), float(math.floor(hi) + 1)  # integer cells [a, b) hold a .. b-1
    elif hi <= lo:
        hi = lo + max(64 * np.spacing(abs(lo)), 1e-9)  # a constant column: a cell just wide enough
    if geometric and lo >= 0 and pos_lo > 0 and hi / max(pos_lo, 1e-300) > 64:
        edges = np.geomspace(max(pos_lo, lo if lo > 0 else pos_lo), hi, cells + 1)
        if lo < edges[0]:
            edges = np.concatenate([[lo], edges])
    elif geometric and hi < 0 and lo / hi > 64:  # the same for a wide negative range, by magnitude
        edges = -np.geomspace(-lo, -hi, cells + 1)
    elif math.isfinite(hi - lo):
        edges = np.linspace(lo, hi, cells + 1)
    else:  # a range wider than the largest float (-1e308 to 1e308): halved, spaced, doubled
        edges = 2.0 * np.linspace(lo / 2.0, hi / 2.0, cells + 1)
    if integer:
        edges = np.unique(np.round(edges))
        if len(edges) < 2:
            edges = np.array([lo, lo + 1.0])
    return edges.astype(np.float64)


def centred_step(integer: bool, decimals: int | None, unit: float | None = None) -> float | None:
    """The lattice step whose points the fine cells are centred on (``cell_edges``): a time unit, or
    10^-decimals for a non-integer column or round numbers; None otherwise (integers' cells start at
    whole numbers, continuous values have no lattice)."""
    if unit is not None:
        return unit
    if decimals is not None and (not integer or decimals < 0):
        return 10.0 ** -decimals
    return None


def lattice_step(integer: bool, decimals: int | None, unit: float | None = None) -> float | None:
    """The spacing of the values a column holds (None: continuous): a time unit, 10^-decimals, or 1 for
    integers (whole numbers, or multiples of 10^-decimals when those are coarser)."""
    step = centred_step(integer, decimals, unit)
    if step is not None:
        return step
    return 1.0 if integer else None


def lattice_tolerance(x: float, step: float, single: bool = False) -> float:
    """How far, in steps of a lattice, `x` may lie from a point of it and still be that point: a millionth, or for a
    FLOAT (`single`) half its spacing there, the point's nearest FLOAT being it (0.9's FLOAT, 0.89999998, had rounded
    inward to 0.899, and its rows came back as that: the review of 1e23c2d), under half a step."""
    if not single:
        return 1e-6
    if not abs(x) < float(np.finfo(np.float32).max):  # past what a FLOAT holds (a bound of 1e39): no spacing there
        return 0.49
    return max(1e-6, min(0.49, 0.5 * float(np.spacing(np.float32(abs(x)))) / step))


def cell_edges(lo: float, hi: float, pos_lo: float, cells: int, *, integer: bool, decimals: int | None,
               geometric: bool, inward: bool = False, unit: float | None = None, single: bool = False) -> np.ndarray:
    """The fine cells over [lo, hi]: on the lattice when the values are written with `decimals`
    places (or in whole `unit`s of time), else a `grid` (geometric for wide ranges of one sign, when allowed).

    Values written with `decimals` places lie on a lattice of step 10^-decimals: cells hold whole
    lattice points (centred on them), so a narrow range gets one cell per value and decoding
    puts values back on the points they came from. The range's ends go to the nearest lattice
    points, or with `inward` to the nearest ones inside [lo, hi]: a clipped range must not grow
    back to a value beyond its end.
    """
    step = centred_step(integer, decimals, unit)
    if inward and lo >= hi and abs(lo) >= 2.0**53:  # one float past 2^53 (values clamped to a declared end): a cell
        # of it alone; a lattice's or a whole number's cells there ran 64 floats past it, and the bins crashed (the
        # review of 4ab42dd)
        return np.array([lo, float(np.nextafter(lo, np.inf))])
    if step is not None:
        if inward:
            k_lo = math.ceil(lo / step - lattice_tolerance(lo, step, single))
            k_hi = math.floor(hi / step + lattice_tolerance(hi, step, single))
            k_hi = max(k_hi, k_lo)
        else:
            k_lo, k_hi = math.floor(lo / step + 0.5), math.floor(hi / step + 0.5)
        scaled = grid(float(k_lo), float(k_hi), max(pos_lo / step, 1.0), cells, True, geometric=True)
        return (scaled - 0.5) * step
    return grid(lo, hi, pos_lo, cells, integer, geometric=geometric)


def split_cell(lo: float, hi: float, parts: int, step: float | None) -> np.ndarray:
    """The edges of up to `parts` equal children of the cell [lo, hi): whole lattice points each
    when the values lie on a lattice of `step` (a cell of one point is not split: its edges alone)."""
    if step is None:
        return np.linspace(lo, hi, parts + 1)
    points = round((hi - lo) / step)  # a float: a wide range holds more points than an int64 counts
    if points <= 1:
        return np.array([lo, hi])
    k = np.round(np.linspace(0.0, float(points), int(min(parts, points)) + 1))
    edges = lo + k * step
    edges[-1] = hi
    return edges


def group_cells(edges: np.ndarray, counts: np.ndarray, cell_bin: np.ndarray, least: float,
                points: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Join consecutive cells of each bin so that every cell holds at least `least` rows (a bin
    holding fewer is one cell); returns the new edges, counts, bins and `points` (each cell's one value,
    NaN: none; a joined cell keeps the point of the one it holds). Bins are unchanged. A cell with a
    point of at least `least` rows (``exact_points``' are: each holds its value's rows) ends the group it
    is in, so a joined cell holds at most one point, and a thin cell beside it is decoded to it."""
    starts = [0]
    held = 0.0
    for j in range(len(counts)):
        last_of_bin = j + 1 == len(counts) or cell_bin[j + 1] != cell_bin[j]
        held += counts[j]
        if last_of_bin or held >= least:
            # A thin remainder at the end of a bin joins the cell before it.
            if last_of_bin and held < least and len(starts) > 1 and cell_bin[starts[-1] - 1] == cell_bin[j]:
                starts.pop()
            starts.append(j + 1)
            held = 0.0
    starts = np.array(starts)
    new_counts = np.add.reduceat(counts, starts[:-1])
    if points is not None:
        group = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
        has = ~np.isnan(points)
        merged = np.full(len(starts) - 1, np.nan)
        merged[group[has]] = points[has]
        points = merged
    return edges[starts], new_counts.astype(np.float64), cell_bin[starts[:-1]], points


def merge_bins(weights: np.ndarray, nbins: int) -> np.ndarray:
    """Assign consecutive cells to at most `nbins` bins of roughly equal weight.

    A cell of zero weight joins the bin of the cell before it (the first such cells, the bin
    after them): a run of them between two heavy cells would otherwise make a bin of its own,
    which the model, fitted to noisy counts, gives rows that are then drawn evenly over values
    the data does not hold (cars' acceleration: 2.6 .. 3.9 between its values 2.5 and 4.0).
    """
    total = weights.sum()
    if total <= 0:
        weights = np.ones_like(weights)
        total = weights.sum()
    center = np.cumsum(weights) - weights / 2
    raw = np.minimum((center / total * nbins).astype(np.int64), nbins - 1)
    held = np.flatnonzero(weights > 0)
    source = held[np.clip(np.searchsorted(held, np.arange(len(weights)), side="right") - 1, 0, None)]
    raw = raw[source]
    return np.unique(raw, return_inverse=True)[1].astype(np.int64)


def decimal_places(x: np.ndarray, single: bool = False) -> np.ndarray:
    """For each value, the fewest decimals (MIN_DECIMALS..MAX_DECIMALS) that write it exactly, else MAX_DECIMALS + 1.

    Negative counts mean round numbers: -2 for a multiple of 100. Zero counts as a multiple of anything.
    With `single`, the values are FLOATs: k decimals write one when the FLOAT nearest to the k-decimal
    number is the value.

    A DOUBLE is written with k decimals when x * 10^k lies within 1e-4 of a whole number and within 1e-9
    of it relatively (or 8 units in its last place, past 5e10): 0.1 + 0.2 has one decimal, 495.44399999827
    three, 1,700,000,000,123 (milliseconds since 1970) none, 1,000,000,000.37 two. A value no decimals
    write so (a FLOAT read as DOUBLE, 869.099975585938; a computed one) takes the fewest that write it to
    9 significant digits, within 1e-9 relatively alone (869.099976: 6). Until 2026-12-06 that was the
    only test: past 1e9 it takes a unit for noise, and milliseconds since 1970 read as multiples of 1,000,
    amounts near a billion with cents as whole numbers; such columns came back in whole seconds or units.
    """
    out = np.full(len(x), MAX_DECIMALS + 1, dtype=np.int64)
    near = np.full(len(x), MAX_DECIMALS + 1, dtype=np.int64)  # to 9 significant digits only
    size = np.abs(x)
    for k in range(MAX_DECIMALS, MIN_DECIMALS - 1, -1):
        # Round numbers by a division (by a power of ten, exact: a multiple's quotient is whole), not by a
        # product with 0.01, whose error passed 2^52 (4,503,599,627,370,496) as a multiple of 100.
        with np.errstate(over="ignore", invalid="ignore"):  # 1e308 * 10^k: inf, no decimals write it
            y = x * 10.0**k if k >= 0 else x / 10.0**-k
        r = np.round(y)
        if single:
            with np.errstate(over="ignore", invalid="ignore"):
                exact = (r / 10.0**k).astype(np.float32) == x.astype(np.float32)
            exact &= (r != 0) | (x == 0)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                off = np.abs(y - r)
                big = size * 10.0**k
            close = off <= 1e-9 * np.maximum(1.0, big)
            close &= (r != 0) | (x == 0)
            near[close] = k
            exact = close & (off * 10.0 ** max(-k, 0) <= 1e-4)  # within 1e-4 of it in x's own units
            loose = np.flatnonzero(close & ~exact) if k > 0 else []
            if len(loose):  # past 5e10 eight units in y's last place are more than 1e-4 (a product's error: k > 0)
                exact[loose] = off[loose] <= 2e-15 * big[loose]
        out[exact] = k
    if not single:
        out = np.where(out <= MAX_DECIMALS, out, near)
    return out


def quantile_edges(edges: np.ndarray, s: np.ndarray, nbins: int,
                   half: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact bins at the 1/nbins quantiles of the values `s` (in ascending order): the cell edges where
    bins start, added to the grid.

    A quantile q splits the values into those below it and those at or above it, the
    way quantile bins are usually read (numpy's interpolated quantiles, values >= q up).
    The split goes right below the smallest value at or above q: half a lattice step
    below it (`half`: 0 for integers and continuous values, whose cells start at a value),
    or at a grid edge between it and that point. An edge any lower would let decoding
    draw values of the upper bin below that value, on the wrong side of q (a lattice of
    0.01 whose values sit 0.9 apart, like Fahrenheit temperatures read in half degrees
    Celsius, put 5% of a column's values in the wrong 1/16 quantile bin). So coarser
    quantile views of the column (halves, quartiles, ... of the same values) are unions
    of its bins, before and after decoding. Exact (balanced) mode only: the quantiles are
    read from the data.
    """
    qs = np.unique(np.quantile(s, np.linspace(0, 1, nbins + 1)[1:-1]))
    bounds = []
    for q in qs:
        i = int(np.searchsorted(s, q, side="left"))
        if i == 0 or i == len(s):
            continue
        below, at = s[i - 1], s[i]
        start = at - half if at - half > below else at
        j = int(np.searchsorted(edges, at, side="right")) - 1  # the last grid edge at or below `at`
        if 0 <= j < len(edges) and edges[j] >= start - 1e-9 * max(abs(start), 1.0):
            bounds.append(edges[j])  # the grid already splits there
        elif edges[0] < start < edges[-1]:
            bounds.append(start)
    bounds = np.unique(np.asarray(bounds, dtype=np.float64))
    return np.union1d(edges, bounds), bounds


def coarsenings(dom: Domain, counts: np.ndarray, levels: int) -> tuple[tuple[np.ndarray, int], ...]:
    """Coarser views of a column's codes, for a parent that would cost too many cells as it is.

    Level 0 is the column itself; level l merges a numeric column's bins 2^l at a time
    (neighbours: the bins are quantiles, so each level is a coarser quantile view) and
    keeps its special and NULL buckets apart, or keeps a categorical column's
    ceil(size / 2^l) - 1 most frequent codes (by `counts`, the column's 1-way counts) and
    lumps the rest. A level that merges nothing more, or leaves one code, is not made.
    Returns (code -> coarse code, coarse size) per level.
    """
    size = len(counts)
    out = [(np.arange(size, dtype=np.int64), size)]
    for level in range(1, levels + 1):
        if isinstance(dom, NumericDomain):
            nb = dom.nbins
            top = ((nb - 1) >> level) + 1
            remap = np.concatenate([np.arange(nb) >> level, top + np.arange(size - nb)]).astype(np.int64)
            coarse = top + size - nb
        else:
            keep = max(1, math.ceil(size / 2 ** level) - 1)
            remap = np.full(size, keep, dtype=np.int64)
            remap[np.argsort(-counts, kind="stable")[:keep]] = np.arange(keep)
            coarse = keep + 1
        if coarse >= out[-1][1] or coarse < 2:
            break
        out.append((remap, coarse))
    return tuple(out)


def value_resolution(col: Column) -> float | None:
    """The spacing of the values the column's type can hold: 1 for integers, dates and times (in days or
    microseconds), a second or a millisecond for a TIMESTAMP_S or TIMESTAMP_MS (in microseconds), 10^-scale
    for a DECIMAL, None for FLOAT and DOUBLE (`one_value`'s and `shared`'s). At 1 microsecond a TIMESTAMP_S
    of 1600 (past 2^53) counted as a float that several values share, and a rare one moved to the float 2
    microseconds away, written back as itself: a tail of 70 dates one row each came out 196 times in 3 seeds
    (the review of 256b400)."""
    unit = TYPE_UNIT_US.get(col.type.upper())
    if unit is not None:
        return unit
    return 1.0 if col.integer else 10.0 ** -col.scale if col.scale is not None else None


def one_value(x, resolution: float | None):
    """Whether each float64 `x` stands for one value of a column written in whole multiples of `resolution`
    (1 for integers, dates and times in microseconds, 10^-scale for a DECIMAL; None: any float is its own
    value): its float64 neighbours are less than half of it apart. Past that (BIGINTs beyond 2^52) several
    of the column's values read as one float, rare ones among them."""
    if resolution is None:
        return np.ones(np.shape(x), dtype=bool) if np.ndim(x) else True
    return np.spacing(np.abs(x)) < resolution / 2


def shared(x, resolution: float | None):
    """Whether each float64 `x` is the nearest float of more than one multiple of `resolution` (1 for
    integers, dates and times in microseconds, 10^-scale for a DECIMAL; None: never): its spacing is wider
    than the lattice's step (BIGINTs past 2^53, a DECIMAL's scale finer than the floats). Between half
    the step and the step (integers in [2^51, 2^53), timestamps before 1898 or after 2041) every value
    still has a float of its own, none of them shared (`one_value`, stricter, decides points)."""
    if resolution is None:
        return np.zeros(np.shape(x), dtype=bool) if np.ndim(x) else False
    return np.spacing(np.abs(x)) > resolution
