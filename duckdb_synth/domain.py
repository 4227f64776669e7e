"""Turn every column into a small discrete domain, learning from the data only with DP.

A categorical column (VARCHAR, UUID) keeps the values that are frequent enough:
in DP modes those whose noisy count passes a threshold set so that a value held
by one person survives with probability at most the step's delta; in balanced
mode those held by at least ``MIN_GROUP`` rows. Everything else shares one
'other' bucket. BOOLEAN and ENUM domains are public.

A numeric or temporal column is binned in two steps, both on grids that do not
depend on the data: a noisy histogram over signed powers of two finds the range,
then a noisy histogram over a fine grid inside that range (linear, or geometric
for wide positive ranges) gives cell weights, which are merged into quantile-like
model bins. The fine cells are kept to decode a bin back into a value.

NULL is always a bucket of its own unless the column is declared NOT NULL.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .noise import discrete_gaussian, gaussian_tail_z
from .schema import Column

MIN_GROUP = 5  # balanced mode: a value held by fewer rows is never emitted
MAX_CATEGORIES_DP = 100
MAX_CATEGORIES_EXACT = 256
FALSE_CELLS = 0.05  # expected number of empty cells that pass a noisy support threshold

# Signed powers of two from 2^-20 to 2^62, plus a bucket around zero.
_EXP_MIN, _EXP_MAX = -20, 62
_NPOW = _EXP_MAX - _EXP_MIN + 1


@dataclass(frozen=True)
class CategoricalDomain:
    """Kept values (codes 0..k-1), then 'other' if present, then NULL if present."""

    column: Column
    values: tuple = ()
    other: bool = True
    null: bool = True
    counts: tuple[float, ...] = ()  # DP modes: the released noisy counts of the kept values
    sigma: float = 0.0  # their noise

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
        codes[(codes < 0) & ~isnull] = fallback
        codes[isnull] = self.null_code if self.null else fallback
        return codes


@dataclass(frozen=True)
class NumericDomain:
    """Fine cells [edges[j], edges[j+1]) with weights, merged into model bins; NULL last."""

    column: Column
    edges: np.ndarray
    weights: np.ndarray
    cell_bin: np.ndarray
    null: bool = True
    cell_counts: np.ndarray | None = field(default=None, repr=False)  # noisy counts of the fine cells (+NULL)
    cell_sigma: float = 0.0
    decimals: int | None = None  # values are rounded to this many decimals when decoded (-2: to hundreds)

    @property
    def nbins(self) -> int:
        return int(self.cell_bin.max()) + 1

    @property
    def size(self) -> int:
        return self.nbins + int(self.null)

    @property
    def null_code(self) -> int:
        return self.nbins if self.null else -1

    def cells(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0, len(self.edges) - 2)

    def encode(self, x: np.ndarray) -> np.ndarray:
        nan = np.isnan(x)
        codes = self.cell_bin[self.cells(np.where(nan, self.edges[0], x))].astype(np.int64)
        if self.null:
            codes[nan] = self.null_code
        return codes


Domain = CategoricalDomain | NumericDomain


def value_sql(col: Column) -> str:
    """The SQL expression that fetches a column the way its domain encodes it."""
    q = '"' + col.name.replace('"', '""') + '"'
    t = col.type.upper()
    if col.kind in ("categorical", "enum"):
        return f"CAST({q} AS VARCHAR)"
    if col.kind == "boolean":
        return q
    if t == "DATE":
        return f"CAST(date_diff('day', DATE '1970-01-01', {q}) AS DOUBLE)"
    if t == "TIME":
        return f"CAST(date_diff('microsecond', TIME '00:00:00', {q}) AS DOUBLE)"
    if col.kind == "temporal":
        return f"CAST(epoch_us({q}) AS DOUBLE)"
    return f"CAST({q} AS DOUBLE)"


def to_float(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)


# ---------------------------------------------------------------- public domains


def public_domain(col: Column) -> CategoricalDomain | None:
    """The domain of a BOOLEAN or ENUM column, known from the schema alone."""
    if col.kind == "boolean":
        return CategoricalDomain(col, (False, True), other=False, null=col.nullable)
    if col.kind == "enum":
        return CategoricalDomain(col, col.enum_values, other=False, null=col.nullable)
    return None


# ---------------------------------------------------------------- categorical


def categorical_domain(col: Column, arr: pa.Array, *, sigma: float | None, delta: float,
                       rng: np.random.Generator) -> CategoricalDomain:
    """Keep the frequent values of a VARCHAR/UUID column.

    Args:
        sigma: noise of the counts; None for balanced mode (exact counts, keep >= MIN_GROUP).
        delta: the chance allowed for a value held by one person to pass the threshold.
    """
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    vc = pc.value_counts(arr.drop_null())
    values = vc.field("values").to_pylist()
    counts = vc.field("counts").to_numpy(zero_copy_only=False).astype(np.float64)
    if sigma is None:
        keep = counts >= MIN_GROUP
        cap = MAX_CATEGORIES_EXACT
        score = counts
    else:
        score = counts + discrete_gaussian(sigma, len(counts), rng)
        keep = score >= threshold(sigma, delta)
        cap = MAX_CATEGORIES_DP
    order = [i for i in np.argsort(-score, kind="stable") if keep[i]][:cap]
    order.sort(key=lambda i: str(values[i]))
    kept = tuple(values[i] for i in order)
    if sigma is None:
        return CategoricalDomain(col, kept, other=True, null=col.nullable)
    return CategoricalDomain(col, kept, other=True, null=col.nullable,
                             counts=tuple(float(score[i]) for i in order), sigma=float(sigma))


def threshold(sigma: float, delta: float) -> float:
    """The count a value held by one person passes with probability at most delta.

    The noise is a discrete Gaussian Z; P[Z >= m] <= P[N(0, sigma^2) >= m - 1] for
    integer m, so a bar one above the continuous one is safe (a count of 1 passes
    T = 2 + sigma z only if Z >= 1 + sigma z).
    """
    return 2.0 + sigma * gaussian_tail_z(delta)


# ---------------------------------------------------------------- numeric


def _pow2_bucket(x: np.ndarray) -> np.ndarray:
    """Signed power-of-two bucket: 0 around zero, +-(1.._NPOW) for +-[2^e, 2^(e+1))."""
    a = np.abs(x)
    with np.errstate(divide="ignore"):
        e = np.floor(np.log2(np.where(a > 0, a, 1.0)))
    e = np.clip(e, _EXP_MIN, _EXP_MAX).astype(np.int64)
    b = np.where(a < 2.0 ** _EXP_MIN, 0, e - _EXP_MIN + 1)
    return np.where(x < 0, -b, b) + _NPOW  # shift to 0 .. 2*_NPOW


def _pow2_edges(bucket: int) -> tuple[float, float]:
    s = bucket - _NPOW
    if s == 0:
        return -(2.0 ** _EXP_MIN), 2.0 ** _EXP_MIN
    e = abs(s) - 1 + _EXP_MIN
    lo, hi = 2.0 ** e, 2.0 ** (e + 1)
    return (lo, hi) if s > 0 else (-hi, -lo)


RANGE_FALSE = 0.001  # expected number of empty power-of-two buckets taken for data, per column
RANGE_GAP = 2  # empty buckets allowed inside a run of populated ones
LONE_BUCKET_FACTOR = 1.5  # a run of one bucket needs 1.5x the bar (about 6.5 sigma)
RANGE_NEIGHBOUR_Z = 2.0  # a bucket next to the range joins it above this many sigma


def private_range(x: np.ndarray, *, sigma: float, rng: np.random.Generator) -> tuple[float, float, float]:
    """(lo, hi, smallest positive edge) from a noisy histogram on signed powers of two.

    On each side of zero the range spans every run of significant buckets (gaps of
    up to RANGE_GAP buckets allowed); a run of a single bucket must pass a higher
    bar, so that a lone false bucket far from the data cannot stretch the range.
    """
    nb = 2 * _NPOW + 1
    counts = np.bincount(_pow2_bucket(x), minlength=nb).astype(np.float64)
    noisy = counts + discrete_gaussian(sigma, nb, rng)
    sig = noisy > gaussian_tail_z(RANGE_FALSE / nb) * sigma
    chosen: list[int] = [_NPOW] if sig[_NPOW] else []
    z = gaussian_tail_z(RANGE_FALSE / nb)
    for side in (np.arange(_NPOW + 1, nb), np.arange(_NPOW - 1, -1, -1)):  # outward from zero
        hits = [i for i, b in enumerate(side) if sig[b]]
        runs: list[list[int]] = []
        for h in hits:  # runs of significant buckets, gaps of up to RANGE_GAP allowed
            if runs and h - runs[-1][-1] <= RANGE_GAP + 1:
                runs[-1].append(h)
            else:
                runs.append([h])
        for run in runs:
            # A lone bucket far from the rest must be far above the bar to count as data.
            if len(run) > 1 or noisy[side[run[0]]] > LONE_BUCKET_FACTOR * z * sigma:
                chosen += [int(side[run[0]]), int(side[run[-1]])]
    if not chosen:  # no signal at all: a unit range around zero rather than a bucket of pure noise
        return -1.0, 1.0, 1.0
    # Tails thinner than the bar still hold rows (a skewed column's top octave often holds a few
    # percent of a small table): from each end, take the next bucket out while its noisy count
    # passes a lower bar. Only neighbours, so a false one costs an octave of range, not a stretch
    # to a far-away bucket; cells over it that turn out empty are trimmed by support().
    bar = RANGE_NEIGHBOUR_Z * sigma
    for side in (np.arange(_NPOW + 1, nb), np.arange(_NPOW - 1, -1, -1)):  # by magnitude, outward
        on = [i for i, b in enumerate(side) if b in chosen]
        if not on:
            continue
        out, inward = max(on), min(on)
        while out + 1 < len(side) and noisy[side[out + 1]] > bar:
            out += 1
        while inward > 0 and noisy[side[inward - 1]] > bar:
            inward -= 1
        chosen += [int(side[out]), int(side[inward])]
    lo = min(_pow2_edges(b)[0] for b in chosen)
    hi = max(_pow2_edges(b)[1] for b in chosen)
    pos = [_pow2_edges(b)[0] for b in chosen if b > _NPOW]
    return lo, hi, (min(pos) if pos else hi)


def exact_range(x: np.ndarray) -> tuple[float, float, float]:
    """(lo, hi, smallest positive) with the MIN_GROUP-1 most extreme values on each side clipped."""
    s = np.sort(x)
    k = min(MIN_GROUP - 1, (len(s) - 1) // 2)
    lo, hi = float(s[k]), float(s[len(s) - 1 - k])
    pos = s[s > 0]
    return lo, hi, float(pos[min(k, len(pos) - 1)]) if len(pos) else hi


def grid(lo: float, hi: float, pos_lo: float, cells: int, integer: bool, geometric: bool = True) -> np.ndarray:
    """Cell edges over [lo, hi]: geometric for wide positive ranges (when allowed), else linear."""
    if integer:
        lo, hi = float(math.floor(lo)), float(math.floor(hi) + 1)  # integer cells [a, b) hold a .. b-1
    elif hi <= lo:
        hi = lo + max(abs(lo) * 1e-6, 1e-9)
    if geometric and lo >= 0 and pos_lo > 0 and hi / max(pos_lo, 1e-300) > 64:
        edges = np.geomspace(max(pos_lo, lo if lo > 0 else pos_lo), hi, cells + 1)
        if lo < edges[0]:
            edges = np.concatenate([[lo], edges])
    else:
        edges = np.linspace(lo, hi, cells + 1)
    if integer:
        edges = np.unique(np.round(edges))
        if len(edges) < 2:
            edges = np.array([lo, lo + 1.0])
    return edges.astype(np.float64)


def support(noisy: np.ndarray, sigma: float) -> tuple[int, int]:
    """First and last cell of the populated range, from noisy cell counts only (post-processing).

    Binary descent over window sums (a window of w cells has noise sigma*sqrt(w)):
    the left edge moves into the left half of the current window while that half
    holds a significant count, else into the right half if the left one looks empty,
    and stops otherwise (keeping thin tails rather than cutting them); the right edge
    likewise. Coarse windows find where the
    data is even when single cells are drowned in noise; fine windows sharpen the
    edges where the data is dense enough.
    """
    g = len(noisy)
    cs = np.concatenate([[0.0], np.cumsum(noisy)])
    z = gaussian_tail_z(FALSE_CELLS / (4 * max(math.log2(g), 1.0) + 4))

    def significant(i: int, j: int) -> bool:
        return j > i and cs[j] - cs[i] > z * sigma * math.sqrt(j - i)

    def empty(i: int, j: int) -> bool:  # consistent with no rows at all
        return cs[j] - cs[i] < sigma * math.sqrt(j - i)

    if not significant(0, g):
        top = int(np.argmax(noisy))
        return top, top

    def edge(left: bool) -> int:
        lo, hi = 0, g
        while hi - lo > 1:
            mid = (lo + hi) // 2
            near, far = ((lo, mid), (mid, hi)) if left else ((mid, hi), (lo, mid))
            if significant(*near):
                lo, hi = near
            elif empty(*near) and significant(*far):
                lo, hi = far
            else:
                break
        return lo if left else hi - 1

    first, last = edge(True), edge(False)
    return (first, last) if first <= last else (last, first)


def merge_bins(weights: np.ndarray, nbins: int) -> np.ndarray:
    """Assign consecutive cells to at most `nbins` bins of roughly equal weight."""
    total = weights.sum()
    if total <= 0:
        weights = np.ones_like(weights)
        total = weights.sum()
    center = np.cumsum(weights) - weights / 2
    raw = np.minimum((center / total * nbins).astype(np.int64), nbins - 1)
    return np.unique(raw, return_inverse=True)[1].astype(np.int64)


MAX_DECIMALS = 6
MIN_DECIMALS = -3  # values that are all multiples of 1000


def decimal_places(x: np.ndarray) -> np.ndarray:
    """For each value, the fewest decimals (MIN_DECIMALS..MAX_DECIMALS) that write it exactly, else MAX_DECIMALS + 1.

    Negative counts mean round numbers: -2 for a multiple of 100. Zero counts as a multiple of anything.
    """
    out = np.full(len(x), MAX_DECIMALS + 1, dtype=np.int64)
    for k in range(MAX_DECIMALS, MIN_DECIMALS - 1, -1):
        y = x * 10.0**k
        r = np.round(y)
        exact = (np.abs(y - r) <= 1e-9 * np.maximum(1.0, np.abs(y))) & ((r != 0) | (x == 0))
        out[exact] = k
    return out


def choose_decimals(x: np.ndarray, *, sigma: float | None, rng: np.random.Generator, cover: float = 0.95) -> int | None:
    """The fewest decimals that write at least `cover` of the values (a noisy histogram in DP modes).

    Returns None when the values are continuous (more than MAX_DECIMALS decimals).
    """
    counts = np.bincount(decimal_places(x) - MIN_DECIMALS,
                         minlength=MAX_DECIMALS - MIN_DECIMALS + 2).astype(np.float64)
    if sigma is not None:
        counts = counts + discrete_gaussian(sigma, len(counts), rng)
        # Empty places hold noise only; a few of them above the true one would otherwise add up
        # to more than 1 - cover of the rows and make every column look continuous.
        counts = np.where(counts >= 2.0 * sigma, counts, 0.0)
    counts = np.maximum(counts, 0.0)
    if counts.sum() <= 0:
        return None
    cum = np.cumsum(counts) / counts.sum()
    k = int(np.argmax(cum >= cover)) + MIN_DECIMALS
    return None if k > MAX_DECIMALS else k


def numeric_domain(col: Column, x: np.ndarray, *, sigma_range: float | None, sigma_cells: float | None,
                   n_hat: float, nbins: int, max_cells: int, rng: np.random.Generator,
                   sigma_decimals: float | None = None) -> NumericDomain:
    """Bin a numeric or temporal column (values as float64, NaN for NULL).

    Args:
        sigma_range, sigma_cells: noise of the range and cell histograms; None means exact (balanced).
        n_hat: the (noisy) row count, to size the grid.
        nbins: the most model bins.
        max_cells: the most fine cells.
    """
    nan = np.isnan(x)
    vals = x[~nan]
    exact = sigma_cells is None
    if not exact and col.kind == "numeric" and sigma_decimals is None:
        raise ValueError(f"column {col.name!r}: a DP domain needs sigma_decimals to count decimal places")
    public = col.type_range
    if exact:
        lo, hi, pos_lo = exact_range(vals) if len(vals) else (0.0, 1.0, 1.0)
    elif col.type.upper() == "TIME":  # the range of a time of day is public
        lo, hi, pos_lo = float(public[0]), float(public[1]), 1.0
    else:
        lo, hi, pos_lo = private_range(vals, sigma=sigma_range, rng=rng)
    if public is not None:
        lo, hi = max(lo, public[0]), min(hi, public[1])
    if exact:
        cells = max_cells
    else:
        cells = max_cells  # fine cells; where counts are small, support() and merging work on sums
    if col.type.upper() == "TIME":
        integer = False  # microseconds: treat as continuous, decoded to whole microseconds
    else:
        integer = col.integer
    if lo >= hi:  # nothing was found inside the type's range: a unit range at its clipped edge
        lo, hi = (hi - 1.0, hi) if public is not None and hi >= public[1] else (lo, lo + 1.0)
    decimals = None
    if col.kind == "numeric":  # run even on an all-NULL column: the branch must not depend on data
        decimals = choose_decimals(vals, sigma=None if exact else sigma_decimals, rng=rng)
        if col.scale is not None and decimals is not None:
            decimals = min(decimals, col.scale)
    if decimals is not None and (not integer or decimals < 0):
        # Values written with `decimals` places lie on a lattice of step 10^-decimals: cells hold whole
        # lattice points (centred on them), so a narrow range gets one cell per value and decoding
        # puts values back on the points they came from. Fixed by released figures only.
        step = 10.0 ** -decimals
        k_lo, k_hi = math.floor(lo / step + 0.5), math.floor(hi / step + 0.5)
        scaled = grid(float(k_lo), float(k_hi), max(pos_lo / step, 1.0), cells, True, geometric=True)
        edges = (scaled - 0.5) * step
    else:
        edges = grid(lo, hi, pos_lo, cells, integer, geometric=col.kind == "numeric")
    bounds = None
    if exact and len(vals):
        edges, bounds = quantile_edges(edges, vals, nbins)
    g = len(edges) - 1
    cell_of = np.clip(np.searchsorted(edges, vals, side="right") - 1, 0, g - 1)
    counts = np.bincount(cell_of, minlength=g).astype(np.float64)
    null_count = float(nan.sum())
    if exact:
        noisy, noisy_null = counts, null_count
        weights = counts.copy()
    else:
        noise = discrete_gaussian(sigma_cells, g + 1, rng)
        noisy, noisy_null = counts + noise[:g], null_count + noise[g]
        first, last = support(noisy, sigma_cells)
        weights = np.zeros(g)
        inside = slice(first, last + 1)
        weights[inside] = np.maximum(noisy[inside], 0.0)
        if weights.sum() <= 0:
            weights[inside] = 1.0
    if bounds is None:
        cell_bin = merge_bins(weights, nbins)
    else:
        cell_bin = np.unique(np.searchsorted(bounds, edges[:-1], side="right"), return_inverse=True)[1].astype(np.int64)
    return NumericDomain(col, edges, weights, cell_bin, null=col.nullable,
                         cell_counts=np.append(noisy, noisy_null), cell_sigma=0.0 if exact else float(sigma_cells),
                         decimals=decimals)


def quantile_edges(edges: np.ndarray, vals: np.ndarray, nbins: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact bins at the values' 1/nbins quantiles: the cell edges where bins start, added to the grid.

    A quantile q splits the values into those below it and those at or above it, the
    way quantile bins are usually read (numpy's interpolated quantiles, values >= q up).
    The split needs a cell edge between the largest value below q and the smallest at
    or above it: a lattice or integer grid usually has one; where not, the smallest
    value at or above q becomes an edge. So coarser quantile views of the column
    (halves, quartiles, ... of the same values) are unions of its bins. Exact
    (balanced) mode only: the quantiles are read from the data.
    """
    s = np.sort(vals)
    qs = np.unique(np.quantile(s, np.linspace(0, 1, nbins + 1)[1:-1]))
    bounds = []
    for q in qs:
        i = int(np.searchsorted(s, q, side="left"))
        if i == 0 or i == len(s):
            continue
        below, at = s[i - 1], s[i]
        j = int(np.clip(np.searchsorted(edges, at, side="right") - 1, 0, len(edges) - 2))
        if edges[j] > below and edges[j] <= at:
            bounds.append(edges[j])
        elif edges[0] < at < edges[-1]:
            bounds.append(at)
    bounds = np.unique(np.asarray(bounds, dtype=np.float64))
    return np.union1d(edges, bounds), bounds


def bin_counts(dom: NumericDomain) -> tuple[np.ndarray, np.ndarray]:
    """The 1-way marginal implied by the domain's cell counts, and each entry's noise variance."""
    g = len(dom.edges) - 1
    cells = dom.cell_counts
    y = np.bincount(dom.cell_bin, weights=cells[:g], minlength=dom.nbins)
    var = np.bincount(dom.cell_bin, minlength=dom.nbins).astype(np.float64) * dom.cell_sigma**2
    if dom.null:
        y = np.append(y, cells[g])
        var = np.append(var, dom.cell_sigma**2)
    return y, var
