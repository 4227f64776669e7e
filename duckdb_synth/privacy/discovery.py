"""The domain stage: what each column's domain is learned from, and what that costs.

BOOLEAN and ENUM domains are public (the schema fixes them). Otherwise, in DP modes:
a categorical column (VARCHAR, UUID) keeps the values whose noisy count passes a
threshold set so that a value held by one person survives with probability at most
the step's delta; a numeric or temporal column is binned in steps, each a noisy
histogram on a grid that does not depend on the data: signed powers of two find the
range, decimal places find the lattice the values are written on, then fine cells
inside the range give weights, merged into quantile-like model bins. In balanced
mode the same histograms are read exactly, values held by fewer than ``MIN_GROUP``
rows are never kept, the ``MIN_GROUP``-1 most extreme numbers on each side are
clipped, and numeric bins split at the exact quantiles.

The counts come from the engine (``engine/data.py``); the noise, thresholds and
charges are here. docs/privacy.md, steps 2-3, gives the analysis.
"""
from __future__ import annotations

import math

import numpy as np

from ..engine.data import ColumnData
from ..engine.domain import (MAX_DECIMALS, MIN_DECIMALS, SPECIALS, CategoricalDomain, Cells, DecimalPlaces, Domain,
                             NumericDomain, PowersOfTwo, cell_edges, group_cells, merge_bins, public_domain,
                             quantile_edges)
from ..engine.schema import FLOATS, Column
from .accounting import Accountant, sigma_for
from .budget import (DECIMALS_SHARE_NUMERIC, DISCOVERY_SHARE_CATEGORICAL, RANGE_SHARE_NUMERIC, column_share,
                     planned_pair_rho)
from .noise import discrete_gaussian, gaussian_tail_z, threshold

MIN_GROUP = 5  # balanced mode: a value held by fewer rows is never emitted
FAINT_Z = 2.0  # a bucket whose noisy count is under this many noise scales is dropped as empty
SPECIAL_FALSE = 0.001  # expected number of NaN/+inf/-inf buckets a DP domain keeps for a column holding none
MAX_CATEGORIES_DP = 100
MAX_CATEGORIES_EXACT = 256
FALSE_CELLS = 0.05  # expected number of empty cells that pass a noisy support threshold
DP_BINS, EXACT_BINS = 24, 32
DP_CELLS, EXACT_CELLS = 512, 1024
POW2 = PowersOfTwo()
DECIMAL_PLACES = DecimalPlaces()


def domain(col: Column, data: ColumnData, acct: Accountant, n_hat: float, d: int,
           rng: np.random.Generator) -> Domain:
    """The column's domain, charged to `acct`; `data` answers the column's counts, `d` is the number
    of modelled columns (the budget is split over them)."""
    share = column_share(acct, n_hat, d) if acct.private else None
    pub = public_domain(col)
    if pub is not None:
        acct.charge(f"domain {col.name}", 0.0, detail=f"public: {col.type}")
        return pub
    if col.kind == "categorical":
        if share is None:
            dom = categorical_domain(col, data, sigma=None, delta=0.0, rng=rng)
            acct.charge(f"domain {col.name}", 0.0, detail=f"exact: {len(dom.values)} values held by >= 5 rows")
            return dom
        rho = DISCOVERY_SHARE_CATEGORICAL * share
        delta = acct.delta_threshold / d
        dom = categorical_domain(col, data, sigma=sigma_for(rho), delta=delta, rng=rng)
        acct.charge(f"domain {col.name}", rho, delta=delta,
                    detail=f"noisy counts over a threshold: {len(dom.values)} values kept")
        return dom
    if share is None:
        dom = numeric_domain(col, data, sigma_range=None, sigma_cells=None, n_hat=n_hat, nbins=EXACT_BINS,
                             max_cells=EXACT_CELLS, rng=rng)
        acct.charge(f"domain {col.name}", 0.0, detail=f"exact: {dom.nbins} bins over {len(dom.edges) - 1} cells")
        return dom
    # As many bins as the pair measurements can resolve: a pair table of nbins^2 cells should hold
    # a couple of noise scales per cell on average (the planned pair noise is computable up front).
    nbins = int(np.clip(math.sqrt(n_hat / (2.0 * sigma_for(planned_pair_rho(acct, d)))), 4, DP_BINS))
    is_time = col.type.upper() == "TIME"
    rho_range = 0.0 if is_time else RANGE_SHARE_NUMERIC * share
    rho_dec = DECIMALS_SHARE_NUMERIC * share if col.kind == "numeric" else 0.0
    rho_cells = share - rho_range - rho_dec
    dom = numeric_domain(col, data, sigma_range=sigma_for(rho_range) if rho_range else None,
                         sigma_cells=sigma_for(rho_cells), n_hat=n_hat, nbins=nbins, max_cells=DP_CELLS, rng=rng,
                         sigma_decimals=sigma_for(rho_dec) if rho_dec else None)
    if rho_range:
        acct.charge(f"range {col.name}", rho_range, detail="noisy histogram on signed powers of two")
    if rho_dec:
        places = dom.decimals if dom.decimals is not None else "continuous"
        acct.charge(f"decimals {col.name}", rho_dec, detail=f"noisy histogram of decimal places: {places}")
    acct.charge(f"bins {col.name}", rho_cells, detail=f"noisy histogram on {len(dom.edges) - 1} cells, "
                                                      f"merged into {dom.nbins} bins; also its 1-way marginal")
    return dom


# ---------------------------------------------------------------- categorical


def categorical_domain(col: Column, data: ColumnData, *, sigma: float | None, delta: float,
                       rng: np.random.Generator) -> CategoricalDomain:
    """Keep the frequent values of a VARCHAR/UUID column.

    Args:
        data: the column's counts (``value_counts``).
        sigma: noise of the counts; None for balanced mode (exact counts, keep >= MIN_GROUP).
        delta: the chance allowed for a value held by one person to pass the threshold.
    """
    values, counts = data.value_counts()
    if sigma is None:
        keep = counts >= MIN_GROUP
        cap = MAX_CATEGORIES_EXACT
        score = counts
    else:
        score = counts + discrete_gaussian(sigma, len(counts), rng)
        keep = score >= threshold(sigma, delta)
        cap = MAX_CATEGORIES_DP
    # The `cap` highest scores; equal scores by value, never by the order of the rows.
    order = sorted(np.flatnonzero(keep).tolist(), key=lambda i: (-score[i], str(values[i])))[:cap]
    order.sort(key=lambda i: str(values[i]))
    kept = tuple(values[i] for i in order)
    if sigma is None:
        return CategoricalDomain(col, kept, other=True, null=col.nullable)
    return CategoricalDomain(col, kept, other=True, null=col.nullable,
                             counts=tuple(float(score[i]) for i in order), sigma=float(sigma))


# ---------------------------------------------------------------- numeric


def numeric_domain(col: Column, data: ColumnData, *, sigma_range: float | None, sigma_cells: float | None,
                   n_hat: float, nbins: int, max_cells: int, rng: np.random.Generator,
                   sigma_decimals: float | None = None) -> NumericDomain:
    """Bin a numeric or temporal column (its values read as float64).

    Args:
        data: the column's counts (histograms; in balanced mode also its sorted values).
        sigma_range, sigma_cells: noise of the range and cell histograms; None means exact (balanced).
        n_hat: the (noisy) row count, to size the grid.
        nbins: the most model bins.
        max_cells: the most fine cells.
    """
    exact = sigma_cells is None
    if not exact and col.kind == "numeric" and sigma_decimals is None:
        raise ValueError(f"column {col.name!r}: a DP domain needs sigma_decimals to count decimal places")
    public = col.type_range
    vals = data.sorted_values() if exact else None
    if exact:
        lo, hi, pos_lo = exact_range(vals) if len(vals) else (0.0, 1.0, 1.0)
    elif col.type.upper() == "TIME":  # the range of a time of day is public
        lo, hi, pos_lo = float(public[0]), float(public[1]), 1.0
    else:
        pow2 = PowersOfTwo.of(col)
        lo, hi, pos_lo = private_range(data.histogram(pow2), sigma=sigma_range, rng=rng, buckets=pow2)
    if public is not None:
        lo, hi = max(lo, public[0]), min(hi, public[1])
    integer = False if col.type.upper() == "TIME" else col.integer  # TIME: microseconds, decoded whole
    if lo >= hi:  # nothing was found inside the type's range: a unit range at its clipped edge
        lo, hi = (hi - 1.0, hi) if public is not None and hi >= public[1] else (lo, lo + 1.0)
    decimals = None
    if col.kind == "numeric":  # run even on an all-NULL column: the branch must not depend on data
        decimals = choose_decimals(data.histogram(DECIMAL_PLACES), sigma=None if exact else sigma_decimals, rng=rng)
        if col.scale is not None and decimals is not None:
            decimals = min(decimals, col.scale)
    # Fine cells (where counts are small, support() and merging work on sums): on the decimal
    # lattice, fixed by released figures only, else a linear or geometric grid.
    # In balanced mode [lo, hi] clips the extremes: its ends round inward to the lattice.
    edges = cell_edges(lo, hi, pos_lo, max_cells, integer=integer, decimals=decimals, geometric=col.kind == "numeric",
                       inward=exact)
    bounds = None
    if exact and len(vals):
        on_lattice = decimals is not None and (not integer or decimals < 0)  # cells centred on its points
        edges, bounds = quantile_edges(edges, vals, nbins, half=0.5 * 10.0 ** -decimals if on_lattice else 0.0)
    g = len(edges) - 1
    counts = data.histogram(Cells(edges))
    null_count = float(data.null_count())
    floating = col.type.upper() in FLOATS
    rare = None
    if exact:
        noisy, noisy_null = counts, null_count
        # NaN, +inf and -inf are values too: kept by the same rule as any other.
        special = data.special_counts() if floating else np.zeros(0)
        kept = [k for k in range(len(special)) if special[k] >= MIN_GROUP]
        weights = counts.copy()
        uniq, held = np.unique(vals, return_counts=True)
        rare = uniq[held < MIN_GROUP]
    else:
        # Each row is in one cell: a fine cell, NULL, or (FLOAT, DOUBLE) NaN, +inf or -inf, whose
        # buckets stay where their noisy count is well clear of the noise (public candidates, so any
        # bar is private; a high one, as most columns hold none and a false bucket makes NaNs up).
        noise = discrete_gaussian(sigma_cells, g + 1 + (len(SPECIALS) if floating else 0), rng)
        noisy, noisy_null = counts + noise[:g], null_count + noise[g]
        special = data.special_counts() + noise[g + 1:] if floating else np.zeros(0)
        bar = gaussian_tail_z(SPECIAL_FALSE / len(SPECIALS)) * sigma_cells
        kept = [k for k in range(len(special)) if special[k] >= bar]
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
    if exact:
        # Values held by fewer than MIN_GROUP rows are never emitted: every cell a value is drawn in
        # holds at least that many rows (thin cells joined with their neighbours in the bin), and
        # decoding draws again a value that is such a value.
        edges, weights, cell_bin = group_cells(edges, weights, cell_bin, MIN_GROUP)
        noisy = weights
    return NumericDomain(col, edges, weights, cell_bin, null=col.nullable,
                         cell_counts=np.concatenate([noisy, special[kept], [noisy_null]]),
                         cell_sigma=0.0 if exact else float(sigma_cells), decimals=decimals, rare=rare,
                         specials=tuple(SPECIALS[k] for k in kept))


RANGE_FALSE = 0.001  # expected number of empty power-of-two buckets taken for data, per column
RANGE_GAP = 2  # empty buckets allowed inside a run of populated ones
LONE_BUCKET_FACTOR = 1.5  # a run of one bucket needs 1.5x the bar (about 6.5 sigma)
RANGE_NEIGHBOUR_Z = 2.0  # a bucket next to the range joins it above this many sigma


def private_range(counts: np.ndarray, *, sigma: float, rng: np.random.Generator,
                  buckets: PowersOfTwo = POW2) -> tuple[float, float, float]:
    """(lo, hi, smallest positive edge) from a noisy histogram on signed powers of two.

    `counts` is the column's exact histogram over `buckets`; noise of scale `sigma` is added here.

    On each side of zero the range spans every run of significant buckets (gaps of
    up to RANGE_GAP buckets allowed); a run of a single bucket must pass a higher
    bar, so that a lone false bucket far from the data cannot stretch the range.
    """
    nb = buckets.size
    noisy = counts + discrete_gaussian(sigma, nb, rng)
    # The bar of the standard buckets (to 2^62) for every type: buckets past 2^63 (wide types) lie
    # where almost no data does, and a higher bar for all would cut the thin tails of the rest.
    z = gaussian_tail_z(RANGE_FALSE / POW2.size)
    sig = noisy > z * sigma
    chosen: list[int] = [buckets.zero] if sig[buckets.zero] else []
    for side in (np.arange(buckets.zero + 1, nb), np.arange(buckets.zero - 1, -1, -1)):  # outward from zero
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
    for side in (np.arange(buckets.zero + 1, nb), np.arange(buckets.zero - 1, -1, -1)):  # by magnitude, outward
        on = [i for i, b in enumerate(side) if b in chosen]
        if not on:
            continue
        out, inward = max(on), min(on)
        while out + 1 < len(side) and noisy[side[out + 1]] > bar:
            out += 1
        while inward > 0 and noisy[side[inward - 1]] > bar:
            inward -= 1
        chosen += [int(side[out]), int(side[inward])]
    lo = min(buckets.edges(b)[0] for b in chosen)
    hi = max(buckets.edges(b)[1] for b in chosen)
    pos = [buckets.edges(b)[0] for b in chosen if b > buckets.zero]
    return lo, hi, (min(pos) if pos else hi)


def exact_range(x: np.ndarray) -> tuple[float, float, float]:
    """(lo, hi, smallest positive) with the MIN_GROUP-1 most extreme values on each side clipped (balanced mode)."""
    s = np.sort(x)
    k = min(MIN_GROUP - 1, (len(s) - 1) // 2)
    lo, hi = float(s[k]), float(s[len(s) - 1 - k])
    pos = s[s > 0]
    return lo, hi, float(pos[min(k, len(pos) - 1)]) if len(pos) else hi


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


def choose_decimals(counts: np.ndarray, *, sigma: float | None, rng: np.random.Generator,
                    cover: float = 0.95) -> int | None:
    """The fewest decimals that write at least `cover` of the values (a noisy histogram in DP modes).

    `counts` is the column's exact histogram over ``DecimalPlaces``; with `sigma`, noise is added
    here. Returns None when the values are continuous (more than MAX_DECIMALS decimals).
    """
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
