"""The domain stage: what each column's domain is learned from, and what that costs.

BOOLEAN and ENUM domains are public (the schema fixes them), and so are declared ones
(``engine/declared.py``: the user's ``domains``, CHECK constraints): a declared list is
the column's domain, a declared range replaces the range step. Otherwise, in DP modes:
a categorical column (VARCHAR, UUID) keeps the values whose noisy count passes a
threshold set so that a value held by one person survives with probability at most
the step's delta; a numeric or temporal column is binned in steps, each a noisy
histogram over cells fixed by the schema and earlier releases: signed powers of two
find the range, decimal places (or time units) find the lattice the values are
written on, then a zoom-in histogram follows the values' density from a coarse grid
over the range down to narrow cells where they are dense; its cells are merged into
quantile-like model bins. In balanced
mode the same histograms are read exactly, values held by fewer than ``MIN_GROUP``
rows are never kept, the ``MIN_GROUP``-1 most extreme numbers on each side are
clipped, and numeric bins split at the exact quantiles.

The counts come from the engine (``engine/data.py``); the noise, thresholds and
charges are here. docs/privacy.md, steps 2-3, gives the analysis.
"""
from __future__ import annotations

import contextvars
import logging
import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..engine.data import ColumnData, exact_per, exact_sql, sorted_runs
from ..engine.declared import kept_out, listed_domain
from ..engine.domain import (MAX_DECIMALS, MIN_DECIMALS, SPECIALS, TIME_UNIT_NAMES, TIME_UNITS, CategoricalDomain,
                             Cells, DecimalPlaces, Domain, NumericDomain, PowersOfTwo, TimeUnits, cell_edges, centred_step,
                             group_cells, lattice_step, merge_bins, one_value, public_domain, quantile_edges, shared,
                             split_cell, value_resolution)
from ..engine.schema import FLOATS, Column, decimal_past_floats, holds_infinity
from .accounting import Accountant, sigma_for
from .budget import (DECIMALS_SHARE_NUMERIC, DISCOVERY_SHARE_CATEGORICAL, ONE_WAY_SHARE_NUMERIC, RANGE_SHARE_NUMERIC,
                     VALUES_SHARE, VALUES_NEED, column_share, planned_pair_rho)
from .clamping import clamp_rho
from .noise import discrete_gaussian, gaussian_tail_z, tail_pass, threshold

log = logging.getLogger(__name__)

MIN_GROUP = 5  # balanced mode: a value held by fewer rows is never emitted
FAINT_Z = 2.0  # a bucket whose noisy count is under this many noise scales is dropped as empty
SPECIAL_FALSE = 0.001  # expected number of NaN/+inf/-inf buckets a DP domain keeps for a column holding none
MAX_CATEGORIES_DP = 100
MAX_CATEGORIES_EXACT = 256
DP_BINS, EXACT_BINS = 16, 32  # DP: at most as many bins as the binned copies have (see the commit)
EXACT_CELLS = 1024
POW2 = PowersOfTwo()
DECIMAL_PLACES = DecimalPlaces()
TIME_UNIT_BUCKETS = TimeUnits()


def group_least(held: int = 1) -> int:
    """Balanced mode: the fewest rows a value must hold to be kept (``MIN_GROUP``); with a privacy unit bounded to
    `held` rows a person, (MIN_GROUP - 1) held + 1, which MIN_GROUP units or more hold: counted in rows, a value one
    person held in 100 kept rows came out 100 times (the fuzz sweep of dba1e14)."""
    return (MIN_GROUP - 1) * max(int(held), 1) + 1


def domain(col: Column, data: ColumnData, acct: Accountant, n_hat: float, d: int,
           rng: np.random.Generator, n_var: float = 0.0, confirm_ends: bool = True) -> Domain:
    """The column's domain, charged to `acct`; `data` answers the column's counts, `d` is the number
    of modelled columns (the budget is split over them), `n_var` the noise variance of `n_hat`. With
    `confirm_ends` (a synthesizer's run, whose 1-way marginals follow), a numeric or temporal column's
    end cells that were not clearly data are left in bins of their own for the 1-way marginal to confirm
    (``unconfirmed_ends``)."""
    share = column_share(acct, n_hat, d) if acct.private else None
    if col.declared is not None and col.declared.values:  # a public list: exactly those values, nothing spent
        acct.charge(f"domain {col.name}", 0.0,
                    detail=f"public: {col.declared.shown}, {len(col.declared.values)} values")
        return listed_domain(col)
    pub = public_domain(col)
    if pub is not None:
        acct.charge(f"domain {col.name}", 0.0, detail=f"public: {col.type}")
        return pub
    if col.kind == "categorical":
        if share is None:
            dom = categorical_domain(col, data, sigma=None, delta=0.0, rng=rng, n_hat=n_hat, held=acct.unit_rows,
                                     null=float(data.null_count()) if col.nullable else 0.0)
            note = FREE_TEXT_NOTE if dom.free_text else ""
            acct.charge(f"domain {col.name}", 0.0, detail=f"exact: {len(dom.values)} values held by >= "
                                                          f"{group_least(acct.unit_rows)} rows{note}")
            return dom
        rho = DISCOVERY_SHARE_CATEGORICAL * share
        delta = acct.delta_threshold / d * FIRST_PASS_DELTA
        sigma = sigma_for(rho)
        dom = categorical_domain(col, data, sigma=sigma, delta=delta, rng=rng, held=acct.unit_rows)
        null = data.null_count() + float(discrete_gaussian(sigma, 1, rng)[0])  # a cell of the same histogram
        spread = math.sqrt(n_var + sigma**2)  # of n_hat - null
        dom = with_free_text(dom, float(sum(dom.counts)), n_hat, null, spread)
        note = FREE_TEXT_NOTE if dom.free_text else ""
        acct.charge(f"domain {col.name}", rho, delta=delta,
                    detail=f"noisy counts over a threshold: {len(dom.values)} values kept{note}")
        again = second_pass_rho(acct, dom, null, sigma, n_hat, n_var, rho)
        if not again and (note := rare_values_note(dom, null, sigma, n_hat, n_var)):
            acct.steps[-1] = replace(acct.steps[-1], detail=acct.steps[-1].detail + note)
        if again:
            delta2 = acct.delta_threshold / d - delta
            dom = categorical_domain(col, data, sigma=sigma_for(again), delta=delta2, rng=rng, held=acct.unit_rows)
            dom = with_free_text(dom, float(sum(dom.counts)), n_hat, null, spread)
            note = FREE_TEXT_NOTE if dom.free_text else rare_values_note(dom, null, sigma, n_hat, n_var)
            acct.charge(f"domain {col.name} {AGAIN}", again, delta=delta2,
                        detail=f"the first pass left much of the rows in no kept value: noisy counts over a lower "
                               f"threshold: {len(dom.values)} values kept{note}")
        return dom
    bounds = col.declared.bounds if col.declared is not None else None  # a public range: no range step
    if bounds is not None:
        acct.charge(f"domain {col.name}", 0.0, detail=f"public range: {col.declared.shown}")
    if share is None:
        dom = exact_numeric_domain(col, data, nbins=EXACT_BINS, max_cells=EXACT_CELLS, bounds=bounds,
                                   least=group_least(acct.unit_rows))
        acct.charge(f"{'bins' if bounds else 'domain'} {col.name}", 0.0,
                    detail=f"exact: {dom.nbins} bins over {len(dom.edges) - 1} cells")
        return dom
    # As many bins as the pair measurements can resolve: a pair table of nbins^2 cells should hold
    # a couple of noise scales per cell on average (the planned pair noise is computable up front).
    nbins = int(np.clip(math.sqrt(n_hat / (2.0 * sigma_for(planned_pair_rho(acct, d)))), 4, DP_BINS))
    rhos = numeric_rhos(col, share)
    noise = NumericNoise(range=sigma_for(rhos["range"]) if rhos["range"] else None,
                         lattice=sigma_for(rhos["lattice"]) if rhos["lattice"] else None,
                         zoom=rhos["zoom"], values_delta=acct.delta_threshold / d,
                         values_extra=column_share(acct, n_hat, d, VALUES_NEED) - share, held=acct.unit_rows,
                         range_again=again_rho(acct, rhos["range"]) if rhos["range"] else 0.0)
    dom, found = private_numeric_domain(col, data, noise=noise, n_hat=n_hat, n_var=n_var, nbins=nbins, rng=rng,
                                        bounds=bounds, columns=d if confirm_ends else None)
    if rhos["range"]:
        acct.charge(f"range {col.name}", rhos["range"], detail="noisy histogram on signed powers of two"
                                                              + (" and NULL" if col.nullable else ""))
    for name, rho, delta, detail in found:
        if name == "range":
            acct.charge(f"range {col.name} {AGAIN}", rho, delta=delta, detail=detail)
    found = [step for step in found if step[0] != "range"]
    if rhos["lattice"] and col.kind == "numeric":
        places = dom.decimals if dom.decimals is not None else "continuous"
        acct.charge(f"decimals {col.name}", rhos["lattice"], detail=f"noisy histogram of decimal places: {places}")
    elif rhos["lattice"]:
        unit = TIME_UNIT_NAMES[TIME_UNITS.index(dom.unit)] if dom.unit is not None else "microsecond"
        acct.charge(f"unit {col.name}", rhos["lattice"], detail=f"noisy histogram of time units: {unit}")
    for name, rho, delta, detail in found:
        acct.charge(f"{name} {col.name}" if name == "values" else f"cells {col.name} {name}", rho, delta=delta,
                    detail=detail)
    return dom


FIRST_PASS_DELTA = 0.5  # of a text column's delta: its first discovery pass; the rest for a second one
UNEXPLAINED = 0.10  # a second pass where the first leaves more than this share of the rows in no kept value (a
# text column), or of the rows that are not NULL outside the range (a number)
AGAIN_FACTOR = 7.0  # the second pass's rho, in first passes' (its threshold about 1/2.8 of the first's)
AGAIN_SHARE = 0.15  # the most of rho the text columns' second passes of a run take together,
RANGE_AGAIN_SHARE = 0.03  # and all second passes, text or range, AGAIN_SHARE + this: the numeric ranges' (each
# far cheaper: 7 x a tenth of a column's share, where a text column's is 7 x 0.85 of it) get at least this where
# the text columns' took all of theirs (on one cap of 0.15, cars' three text passes at eps 1 left none for its
# ranges). With the shares planned before the model's (count and unit sizes 0.01 each, domains and 1-way
# marginals 0.60, sums 0.20) at most all of rho, so a later step never finds the budget spent
AGAIN = "(second pass)"
AGAIN_Z = 3.0  # and only where the rows left are clear of their noise by this many sd: at 2, the row count's noise
# alone (sd 54 on 500 rows at eps = 1) sent a column of one value, which the first pass explained, to a second pass
# in 21 of 1,000 runs (3 at 3 sd), at 7 times the first's rho. On the 40 tables here (eps 1 and 3, seeds 0-2) every pass that ran
# was clear by 4.2 sd or more, and none between 1.5 and 4.


def second_pass_rho(acct: Accountant, dom: CategoricalDomain, null: float, sigma: float, n_hat: float,
                    n_var: float, rho: float) -> float:
    """The rho of a text column's second discovery pass (0: none), from released figures only.

    The rows the first pass leaves in no kept value (the row count less the NULL count and the kept
    values' noisy counts) come out as tokens: the column's 1-way distance is at least their share. Where
    that share is over UNEXPLAINED and clear of its noise (AGAIN_Z sd), and the column is not free text, the
    values held by 1-3 % of the rows are worth finding: a 50-state column of a 55-column table kept the
    8 over a bar of 320 rows of 10,000 (tvd1 0.52), storms' 257 names at eps 1 a third of the rows'. The
    pass takes AGAIN_FACTOR times the first's rho, within AGAIN_SHARE of rho for all text columns' second passes, from
    what the model's marginals would get; a column's pass replaces its first (its counts, one sigma).
    """
    if dom.free_text or acct.rho is None:
        return 0.0
    left, sd = rows_left(n_hat, n_var, null, sigma**2, np.asarray(dom.counts, dtype=np.float64), sigma**2)
    # A share of all the rows, NULLs too, unlike a range's second pass (of the rows that are not NULL): this
    # pass costs 7 times 0.85 of the column's share, paid by the model's marginals, and its gain in any
    # marginal is the share of all rows kept from tokens. Of the rows not NULL, pets' secondary_breed (56 %
    # NULL, 11 % of the rest in no kept value) took 6.5 % of rho at eps 3: tvd1 0.0081 -> 0.0048 but tvd3
    # 0.0904 -> 0.0977 (seeds 0-2).
    if left <= UNEXPLAINED * n_hat or left <= AGAIN_Z * sd:
        return 0.0
    return again_rho(acct, rho, text=True)


RARE_SHARE = 0.05  # a DP run says so where a text column's values too rare to keep hold more than this share
# of its rows that are not NULL
RARE_Z = 3.0  # and clear of the noise by this many sd: at 2 the row count's noise alone (sd 47 on 500 rows at eps
# = 1) warned of rare values in a column of one value held by every row, in two seeds of five
MOSTLY_RARE = 0.5  # and where they hold more than this share, advises masking too (free text, ids)


def rare_values_note(dom: CategoricalDomain, null: float, null_sigma: float, n_hat: float, n_var: float) -> str:
    """Where the values a DP pass could not keep (too rare for its threshold) hold more than RARE_SHARE
    of a text column's rows that are not NULL, clear of the noise (RARE_Z sd), and the column is not free
    text: warn, naming the column and the public way to keep them (a declared list of its values; where
    they hold over MOSTLY_RARE of those rows, a mask too, as free text with a few frequent values has
    too many to list: birds' remarks, 13,736 values on 16,516 rows), and return a note for the
    spend record with that share, rounded: from released figures only (the row count, the NULL cell and
    the kept values' noisy counts), as ``second_pass_rho``'s test is. '' otherwise."""
    if dom.free_text or not dom.sigma:  # a DP pass's domain only (balanced mode's holds no noise)
        return ""
    left, sd = rows_left(n_hat, n_var, null, null_sigma**2, np.asarray(dom.counts, dtype=np.float64), dom.sigma**2)
    held = max(n_hat - null, 1.0)  # the rows that are not NULL (noisy)
    if left <= RARE_SHARE * held or left <= RARE_Z * sd:
        return ""
    name = dom.column.name
    if FREE_TEXT_ADVICE.get():
        mask = (f"; or, where it is free text or an identifier, mask it (masks := {{'{name}': 'string'}})"
                if left > MOSTLY_RARE * held else "")
        log.warning("column '%s': some of its values are held by too few rows to be kept at this budget, and come "
                    "out as random tokens; declare its values (domains := {'%s': [...]}) to keep every one at no "
                    "privacy cost, or raise epsilon%s", name, name, mask)
    return f"; values too rare to keep hold about {100 * min(left / held, 1.0):.0f} % of its values (noisy)"


def again_rho(acct: Accountant, rho: float, text: bool = False) -> float:
    """The rho of a second pass of a step that took `rho`: AGAIN_FACTOR times it, within what is left of
    AGAIN_SHARE + RANGE_AGAIN_SHARE of the run's rho for all second passes, and for a text column's
    (`text`) of AGAIN_SHARE for the text columns' (a numeric range's is the other)."""
    if acct.rho is None:
        return 0.0
    passes = [s for s in acct.steps if s.name.endswith(AGAIN)]
    left = (AGAIN_SHARE + RANGE_AGAIN_SHARE) * acct.rho - sum(s.rho for s in passes)
    if text:
        left = min(left, AGAIN_SHARE * acct.rho - sum(s.rho for s in passes if s.name.startswith("domain ")))
    return max(min(AGAIN_FACTOR * rho, left, acct.rho_left), 0.0)


def rows_left(n_hat: float, n_var: float, null: float, null_var: float, counts: np.ndarray,
              count_var: float) -> tuple[float, float]:
    """The rows a column's released counts leave unaccounted for (the row count less the NULL cell and
    `counts`, each count of variance `count_var`), and its standard deviation: released figures only."""
    return (n_hat - null - float(np.sum(counts)),
            math.sqrt(max(n_var + null_var + len(counts) * count_var, 1e-12)))


TEXT_COVER = 0.10  # a text column whose kept values hold less than this share of the rows is free text
FREE_TEXT_ADVICE: contextvars.ContextVar[bool] = contextvars.ContextVar("free_text_advice", default=True)
# False where another caller gives its own advice on free text (the aggregate release)
FREE_TEXT_NOTE = "; no frequent value (free text or an identifier): not modelled with other columns"


def with_free_text(dom: CategoricalDomain, kept: float, n_hat: float, null: float = 0.0,
                   spread: float = 0.0) -> CategoricalDomain:
    """Mark a text column whose kept values hold less than TEXT_COVER of its rows that are not NULL
    (`kept`: their noisy counts in DP modes and `null` the NULL cell of the same histogram, functions
    of released figures; exact ones in balanced mode), and say so: its values come out as tokens, and
    joint marginals with it would be spent on its 'other' bucket. The message names the column only.

    Of the rows that are not NULL: movies' `mpaa` is NULL in 92 % of rows and R, PG-13, PG or NC-17 in
    the rest; its four values held 8 % of all rows, and it was taken for free text. A column whose rows
    that are not NULL are not clear of zero by 3 sd (`spread`: the sd of n_hat - null; 0 in balanced mode) is
    marked too, but not said to be free text: it is NULL, or nearly (the review of 12d66b3)."""
    if kept >= TEXT_COVER * max(n_hat - null, 1.0):
        return dom
    name = dom.column.name
    if FREE_TEXT_ADVICE.get() and n_hat - null > 3.0 * spread:
        log.warning("column '%s' has no frequent value (free text, or an identifier?): its values come out as random "
                    "tokens and it is not modelled with the other columns; mask it (masks := {'%s': 'string'}) or "
                    "cast it to a type with fewer values", name, name)
    return replace(dom, free_text=True)


def numeric_rhos(col: Column, share: float) -> dict[str, float]:
    """How a numeric or temporal column's share is split: the range (none for TIME, whose range is
    public), the lattice (decimal places of a number, the time unit of a TIMESTAMP or TIME; none for
    DATE, whose unit is a day), the zoom-in histogram, and the 1-way marginal of its bins."""
    t = col.type.upper()
    declared_range = col.declared is not None and col.declared.bounds is not None
    r = {"range": 0.0 if t == "TIME" or declared_range else RANGE_SHARE_NUMERIC * share,
         "lattice": 0.0 if t == "DATE" else DECIMALS_SHARE_NUMERIC * share,
         "one_way": ONE_WAY_SHARE_NUMERIC * share}
    r["zoom"] = share - r["range"] - r["lattice"] - r["one_way"] - clamp_rho(col, share)
    return r


# ---------------------------------------------------------------- values over a threshold


def top_passing(data: ColumnData, sigma: float, bar: float, cap: int, rng: np.random.Generator,
                key=str) -> tuple[list, np.ndarray]:
    """Of the values whose noisy count (count + a discrete Gaussian of scale `sigma`, one draw a value) reaches
    `bar`, the `cap` with the highest noisy counts (equal ones by value order, `key`), in value order, with
    their noisy counts.

    The engine says how many values hold each count (``count_classes``); values of one count are alike, so
    for each count c the driver draws how many pass (Binomial, P[Z >= bar - c]), which (ranks uniform in
    value order) and their noise (conditioned on passing): ``noise.tail_pass``, the joint distribution of a
    draw per value. Only the values that can be among the `cap` highest are then named by the engine
    (``values_at``): a column of millions of distinct values, or of a hundred thousand frequent ones,
    costs the driver a few hundred values."""
    counts, sizes = data.count_classes()
    drawn = [(j, *tail_pass(int(n), int(math.ceil(bar - c)), sigma, rng)) for j, (c, n) in enumerate(zip(counts, sizes))]
    drawn = [(j, ranks, counts[j] + z) for j, ranks, z in drawn if len(ranks)]
    if not drawn:
        return [], np.zeros(0)
    scores = np.concatenate([sc for _, _, sc in drawn]).astype(np.float64)
    least = np.sort(scores)[-cap] if len(scores) > cap else -np.inf  # the cap-th highest: ties at it by value
    wanted = {int(counts[j]): ranks[sc >= least] for j, ranks, sc in drawn if (sc >= least).any()}
    names = data.values_at_many(wanted)
    cand = [(float(s), v) for j, ranks, sc in drawn for v, s in zip(names.get(int(counts[j]), []), sc[sc >= least])]
    cand.sort(key=lambda sv: (-sv[0], key(sv[1])))
    cand = sorted(cand[:cap], key=lambda sv: key(sv[1]))
    return [v for _, v in cand], np.array([s for s, _ in cand], dtype=np.float64)


# ---------------------------------------------------------------- categorical


def categorical_domain(col: Column, data: ColumnData, *, sigma: float | None, delta: float,
                       rng: np.random.Generator, n_hat: float | None = None, held: int = 1,
                       null: float = 0.0) -> CategoricalDomain:
    """Keep the frequent values of a VARCHAR/UUID column.

    Args:
        data: the column's counts (``value_counts``).
        sigma: noise of the counts; None for balanced mode (exact counts, keep >= MIN_GROUP; a unit's:
            ``group_least``).
        delta: the chance allowed for a value held by one person to pass the threshold.
        held: the most rows one person holds (a privacy unit's bound; 1: a row is a person).
        n_hat: the row count: with it, a column whose kept values hold few of its rows that are not
            NULL (`null` of them are) is marked free text (``with_free_text``, on the kept values'
            scores: noisy in DP modes, exact in balanced).
    """
    if sigma is None:
        values, counts = data.value_counts()
        keep = counts >= group_least(held)
        cap = MAX_CATEGORIES_EXACT
        score = counts
    else:
        values, score = top_passing(data, sigma, threshold(sigma, delta, held), MAX_CATEGORIES_DP, rng, key=str)
        keep = np.ones(len(values), dtype=bool)
        cap = MAX_CATEGORIES_DP
    # The `cap` highest scores; equal scores by value, never by the order of the rows.
    order = sorted(np.flatnonzero(keep).tolist(), key=lambda i: (-score[i], str(values[i])))[:cap]
    order.sort(key=lambda i: str(values[i]))
    kept = tuple(values[i] for i in order)
    if sigma is None:
        dom = CategoricalDomain(col, kept, other=True, null=col.nullable)
    else:
        dom = CategoricalDomain(col, kept, other=True, null=col.nullable,
                                counts=tuple(float(score[i]) for i in order), sigma=float(sigma))
    if n_hat is None:
        return dom
    return with_free_text(dom, float(sum(score[i] for i in order)), n_hat, null)


# ---------------------------------------------------------------- numeric


def exact_numeric_domain(col: Column, data: ColumnData, *, nbins: int, max_cells: int,
                         bounds: tuple[float, float] | None = None, least: int = MIN_GROUP) -> NumericDomain:
    """Balanced mode: bin a numeric or temporal column on its exact counts (values read as float64).

    The MIN_GROUP-1 most extreme values on each side are clipped, bins split at the exact
    quantiles, and every cell a value is drawn in holds at least MIN_GROUP rows. With `bounds`, a
    public range [lo, hi] (``Column.declared``), the values are clamped to it instead (the end
    cells take those outside; NaN and infinities get no bucket of their own). `least`: MIN_GROUP, or with a
    privacy unit ``group_least`` (in rows: MIN_GROUP persons' worth).
    """
    public = col.type_range
    clamp = bounds is not None
    vals = data.sorted_values()
    if clamp:  # values outside a declared range are clamped to it; the grids span the values within it, as
        # any column's (a generous bound, `x BETWEEN 0 AND 1e12` over values of 0-100,000, drew 3 % of them
        # across all of it: the end cell past the last quantile ran to 1e12)
        vals = np.clip(vals, *bounds)
    if len(vals):
        lo, hi, pos_lo = exact_range(vals, least)
    elif clamp:  # no values: the declared range
        lo, hi = bounds
        pos_lo = lo if lo > 0 else hi
    else:
        lo, hi, pos_lo = 0.0, 1.0, 1.0
    lo, hi = within_type(lo, hi, public)
    integer = False if col.type.upper() == "TIME" else col.integer  # TIME: microseconds, decoded whole
    decimals, unit = choose_lattice(col, data, sigma=None, rng=None)
    decimals = writable(decimals, lo, hi)
    step = centred_step(integer, decimals, unit)  # cells centred on its points: bins start half a step below
    # One value: a lattice (whole numbers, decimals, a time unit) gives it a cell of its own point; only
    # values with no lattice need a width (widened, a constant 1 of an INTEGER came back as 1 or 2).
    if lo >= hi and not clamp and not integer and step is None:
        lo, hi = (hi - 1.0, hi) if public is not None and hi >= public[1] else (lo, lo + 1.0)
    # In balanced mode [lo, hi] clips the extremes: its ends round inward to the lattice.
    edges = cell_edges(lo, hi, pos_lo, max_cells, integer=integer, decimals=decimals, geometric=col.kind == "numeric",
                       inward=True, unit=unit, single=col.type.upper() == "FLOAT")
    uniq, held = sorted_runs(vals)  # vals are sorted (clamping keeps them so)
    quantiles = None  # the bins' edges, at the exact quantiles
    if len(vals):
        edges, quantiles = quantile_edges(edges, vals, nbins, half=0.5 * step if step is not None else 0.0)
    point_of = None
    resolution = value_resolution(col)
    ns = exact_per(col) > 1  # a TIMESTAMP_NS, read in microseconds: each float stands for a thousand of its values
    if ns:
        resolution = 0.0  # (``one_value`` never): a point only where its rows hold one value (``ns_floats``)
    # A DECIMAL past the floats (Spark's DECIMAL(38,18) past 0.008): each float is written as its shortest decimal
    # (``schema.written_sql``), so it counts as a value, as a DOUBLE's, rare where fewer than MIN_GROUP rows read
    # as it or where 1 to MIN_GROUP - 1 rows hold the value it is written as, whatever the rest hold (0.5 in one
    # row beside 0.500000000000000001 in 300: one float, written as 0.5). Until 2026-12-07 every such float was
    # rare (several of the type's values read as it): a DECIMAL(38,18) of 37 values in 135 rows each came back as
    # 5,000 values, none a row's. Where the engine cannot count the written values (Spark), they stay rare.
    written = data.written_counts() if decimal_past_floats(col) else None
    if written is not None:
        resolution = None
    # A float several of the column's values read as (BIGINTs, TIMESTAMPs' microseconds past 2^53) stands for
    # one where the rows reading as it all hold one value: a sentinel 2^63 - 1, 9999-12-31 23:59:59, 1600-01-01
    # (each read as a float that 2,048, 32 or 2 of the type's values share). Where MIN_GROUP rows or more hold
    # it, it is that value: a point like any other, decoded to it exactly (``NumericDomain.exact_of``).
    # Until 2026-12-07 each was rare whatever its rows: 2^63 - 1 in 667 of 2,000 rows came back as 336
    # values over [2^62, 2^63); 9999-12-31 23:59:59 in 1,000 as 23:59:58.999968.
    alone = np.zeros(len(uniq), dtype=bool)
    exact_of = None
    if ns:
        alone, exact_of, ns_rare, ns_held = ns_floats(data, uniq, held, bounds, least)  # (the declared ends are public)
    elif exact_sql(col) is not None and not clamp:
        # Between 2^51 and 2^53 (TIMESTAMPs 1685-1898 and 2041-2255) each of these values still has a float of its
        # own, exactly it, which `one_value` (half a step wide) does not take for a point: 1800-01-01 in 500 rows
        # came back as 71 timestamps around it.
        alone = (held >= least) & ~one_value(uniq, resolution) & ~shared(uniq, resolution)
    if not clamp and not ns:
        exact_of = standing_alone(data, uniq, held, shared(uniq, resolution) & (held >= least), alone)
    spikes = exact_points(uniq, held, edges, resolution, alone, least)
    if len(spikes):  # each a cell of its own, decoded to its value: its lattice cell (an integer's starts at it)
        edges, point_of = point_cells(edges, spikes, step, integer)
    if not clamp and len(uniq):
        edges, point_of = with_end_points(edges, point_of, uniq, held, resolution, alone, least)
    counts = data.histogram(Cells(edges))
    null_count = float(data.null_count())
    floating = holds_infinity(col)
    # NaN, +inf and -inf are values too (a date's or timestamp's +-infinity): kept by the same rule as any other
    # (none under a declared range).
    special = data.special_counts() if floating else np.zeros(0)
    barred = kept_out(col)  # (those a CHECK keeps out)
    kept = [k for k in range(len(special)) if special[k] >= least and not clamp and k not in barred]
    if quantiles is None:
        cell_bin = merge_bins(counts, nbins)
    else:
        cell_bin = np.unique(np.searchsorted(quantiles, edges[:-1], side="right"), return_inverse=True)[1].astype(np.int64)
    # Values held by fewer than MIN_GROUP rows are never emitted: every cell a value is drawn in
    # holds at least that many rows (thin cells joined with their neighbours in the bin), and
    # decoding draws again a value that is such a value. A float several of the column's values read
    # as (BIGINTs past 2^53) counts as rare whatever its rows: they may hold the value it is cast back
    # to in 1-4 rows and another in the rest (X = 2^60 in 2 rows, X + 1 in 500: X came out 502 times).
    edges, weights, cell_bin, point_of = group_cells(edges, counts.copy(), cell_bin, least, point_of)
    # A privacy unit's bound may drop every row of a value 1-4 source rows hold: it is rare all the same, though
    # no kept row reads as it, so that no draw lands on it (the review of e49fb40: 238-998 rows a seed of such
    # values on six tables, any numeric type).
    extra = data.dropped_rare(least)
    if ns:
        rare, rare_held = ns_rare, ns_held
    else:
        rare = (held < least) | (shared(uniq, resolution) & ~alone)
        rare_held = held[rare]
        if written is not None:
            # Declared ends too: an end's float is written as its shortest decimal, not as the bound the user wrote
            # (a CHECK's 0.75 beside 300 rows of 0.750000000000000001), so it is no public value (the review of
            # 28feb22: 302 rows a seed of a 2-row value).
            on = _rows_at(written, uniq)
            rare |= (on >= 1) & (on < least)
            rare_held = np.where(held < least, held, on)[rare]
            # and the written values no kept row reads as (a privacy unit's bound dropped their rows): rare too, so
            # that no draw moves onto one (the review of 8399346: 1,502 rows a seed of a dropped 1-row value)
            extra = np.union1d(extra, written[0][(written[1] < least) & ~np.isin(written[0], uniq)])
    rare_values = uniq[rare]
    extra = np.setdiff1d(extra, rare_values)  # (a declared range's end, the kept rows clamped onto it)
    if len(extra):
        # (held by no kept row: 0 in ``_dense_share``, which counts the kept rows' numbers; their source rows had
        # switched balanced mode's dense-run exception on: the review of e49fb40)
        rare_values = np.concatenate([rare_values, extra])
        order = np.argsort(rare_values, kind="stable")
        rare_values, rare_held = rare_values[order], np.concatenate([rare_held, np.zeros(len(extra))])[order]
    return NumericDomain(col, edges, weights, cell_bin, null=col.nullable,
                         cell_counts=np.concatenate([weights, special[kept], [null_count]]), cell_var=None,
                         decimals=decimals, unit=unit, rare=rare_values,
                         rare_held=rare_held.astype(np.float64),
                         numbers=float(held.sum()),
                         specials=tuple(SPECIALS[k] for k in kept), points=point_of, exact_of=exact_of,
                         floats_are_values=written is not None)


def within_type(lo: float, hi: float, public: tuple[float, float] | None) -> tuple[float, float]:
    """[lo, hi] cut to the type's range (`public`: ``Column.type_range``, or None), as floats: a UHUGEINT's bound, a
    Python int past 2^64, had made the grids' arrays of objects."""
    if public is None:
        return lo, hi
    return float(max(lo, public[0])), float(min(hi, public[1]))


def _rows_at(counted: tuple[np.ndarray, np.ndarray], uniq: np.ndarray) -> np.ndarray:
    """For each float of `uniq`, the rows `counted` (floats ascending, rows holding each) gives it, else 0."""
    floats, rows = counted
    if not len(floats) or not len(uniq):
        return np.zeros(len(uniq), dtype=np.int64)
    at = np.minimum(np.searchsorted(floats, uniq), len(floats) - 1)
    return np.where(floats[at] == uniq, rows[at], 0)


def standing_alone(data: ColumnData, uniq: np.ndarray, held: np.ndarray, many: np.ndarray, alone: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """Of the floats `uniq` marked in `many` (the rows reading as each: `held`), those whose rows all hold one value
    (``ColumnData.exact_values``), marked in `alone` (in place); returns them and their values (int64:
    ``NumericDomain.exact_of``), or None where there are none. A float counts only where the exact reading saw all
    the rows read (DuckDB: from the same read; Spark: a second query, over the source's rows, which a privacy
    unit's bound does not drop: at least as many)."""
    many = np.flatnonzero(many)
    if not len(many):
        return None
    floats, ints, rows = data.exact_values()
    if not len(floats):
        return None
    at = np.minimum(np.searchsorted(floats, uniq[many]), len(floats) - 1)
    found = (floats[at] == uniq[many]) & (rows[at] >= held[many])
    alone[many[found]] = True
    return (uniq[many][found].copy(), ints[at[found]].copy()) if found.any() else None


def ns_floats(data: ColumnData, uniq: np.ndarray, held: np.ndarray, declared: tuple[float, float] | None,
              least: int = MIN_GROUP) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None, np.ndarray, np.ndarray]:
    """Balanced mode, a TIMESTAMP_NS: its floats (`uniq`, each a microsecond, the rows reading as each `held`)
    against its values in nanoseconds. A float whose rows all hold one value, MIN_GROUP rows or more, is that
    value (a point, decoded to it: ``NumericDomain.exact_of``). Any other value drawn is written as its
    microsecond (nanoseconds 000), so a float is rare where 1 to MIN_GROUP - 1 rows hold the microsecond itself,
    whatever the rest of its rows hold (``ColumnData.whole_counts``): 2000-06-01 00:00:00 in 2 rows, beside
    00:00:00.000000500 in 300, came out 300 times as the float those 302 rows read. A microsecond whose rows hold
    other values only is no row's value, and no rarer for them: counting it rare (the first form of this, 5201a3e)
    fed balanced mode's dense-run exception and left no free points, and values 1 row held came out (the review
    of 5201a3e). Under a declared range (`declared`, its ends public), only the floats inside it.
    Returns (alone, exact_of, rare, the rows holding each rare float's microsecond)."""
    inside = np.ones(len(uniq), dtype=bool) if declared is None else (uniq > declared[0]) & (uniq < declared[1])
    alone = np.zeros(len(uniq), dtype=bool)
    exact_of = standing_alone(data, uniq, held, (held >= least) & inside, alone)
    on = _rows_at(data.whole_counts(), uniq)
    rare = (on >= 1) & (on < least) & inside
    return alone, exact_of, rare, on[rare]


def with_end_points(edges: np.ndarray, point_of: np.ndarray | None, uniq: np.ndarray, held: np.ndarray,
                    resolution: float | None = None, alone: np.ndarray | None = None, least: int = MIN_GROUP
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """Balanced mode: the smallest or largest value, where MIN_GROUP rows or more hold it and the cells
    (the clipped range rounded inward to the lattice) start or end past it, gets a cell of its own at that
    end, from it to the cells, decoded to it: the rows between (rare values, if any) come back as it.
    Held by that many rows, it is the clipped end itself (``exact_range``), no rare value. nhis' income,
    FLOATs of 8 values, lost its smallest (19282.931640625, 14 % of the rows; the lattice of 5 decimals
    started at 19282.931645): it came back as 2,672 values over 19282.96-19427.99. The new cell is decoded
    to its point alone, never on the lattice: moving the edge out instead drew values of no row past the
    end (1.00 below a minimum of 1.0002 on a lattice of 0.01) and, cut at an integer edge of
    ``nextafter``, a rare 5,062 beside a maximum of 5,063 among multiples of 100. As in ``exact_points``, a
    value whose float64 neighbours are half the column's `resolution` apart or more is none (it may stand
    for several of the column's values, rare ones among them: BIGINTs near 2^60), unless `alone` marks it (its
    rows all hold one value); and the top cell ends at the next float, not a whole number past it (an edge of
    max + 1 let a rare value move to it)."""
    points = point_of if point_of is not None else np.full(len(edges) - 1, np.nan)
    one = one_value(uniq[[0, -1]], resolution) | (alone[[0, -1]] if alone is not None else False)
    if held[0] >= least and uniq[0] < edges[0] and one[0]:
        edges, points = np.r_[uniq[0], edges], np.r_[uniq[0], points]
    if held[-1] >= least and uniq[-1] >= edges[-1] and one[-1]:
        edges, points = np.r_[edges, np.nextafter(uniq[-1], np.inf)], np.r_[points, uniq[-1]]
    return edges, (points if point_of is not None or not np.isnan(points).all() else None)


def point_cells(edges: np.ndarray, points: np.ndarray, step: float | None, integer: bool
                ) -> tuple[np.ndarray, np.ndarray]:
    """The cells `edges` with a cell of its own for each of the sorted `points` (balanced mode: counts are
    read afterwards), and each new cell's point (NaN: none): half a lattice `step` each side of it, [p, p + 1)
    for an integer whose cells start at whole numbers, [p, the next float) with no lattice or off it; clipped to the
    cell it falls in, or past the last edge where it lies there. ``with_points``' cells for exact counts, all
    at once (its loop took 0.4 of balanced 1M x 50's 21 CPU s)."""
    p = np.asarray(points, dtype=np.float64)
    if step is not None:  # a value off the lattice (3.14159 among tenths) takes no lattice value's cell
        on = np.abs(p / step - np.round(p / step)) <= 1e-6
        lo = np.where(on, p - step / 2, p)
        hi = np.where(on, p + step / 2, np.nextafter(p, np.inf))
    elif integer:
        lo, hi = p, p + 1.0
    else:
        lo, hi = p, np.nextafter(p, np.inf)
    # Past 2^52 steps, p +- half a step is p: a cell no wider than a float (1e300 held by 60 rows beside
    # 1.0 made an empty cell, and indexing its point raised IndexError).
    hi = np.where(hi > lo, hi, np.nextafter(lo, np.inf))
    j = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    inside = (p >= edges[0]) & (p < edges[-1])
    lo = np.where(inside, np.maximum(lo, edges[j]), lo)
    hi = np.where(inside, np.minimum(hi, edges[j + 1]), hi)
    new = np.unique(np.concatenate([edges, lo, hi]))
    out = np.full(len(new) - 1, np.nan)
    at = np.searchsorted(new, lo)  # each point's cell starts at its lo, and ends at its hi
    out[at] = p
    return new, out


def exact_points(uniq: np.ndarray, held: np.ndarray, edges: np.ndarray, resolution: float | None = None,
                 alone: np.ndarray | None = None, least: int = MIN_GROUP) -> np.ndarray:
    """Balanced mode: the values (sorted) that get a cell of their own, decoded to the value: the
    ``MAX_POINTS`` held by the most rows, each by at least ``MIN_GROUP``, inside the cells.

    A cell is drawn evenly between its edges (on the column's lattice, if it has one), so a value many
    rows share comes back spread over its cell: a DOUBLE of four values (0 and three logs read from
    FLOATs, RandHIE's `logc`) came back as 20,190 distinct values over 0-4.56, and a spike on a wide
    lattice (cps1988's wage ties) over the points around it. Exact counts of values at least
    MIN_GROUP rows hold, as a text column's are kept. Where the column's values are whole multiples of a
    `resolution` (1 for integers, dates and times in microseconds, 10^-scale for a DECIMAL), a value whose
    float64 neighbours are that far apart is no point: it may stand for several of the column's values,
    rare ones among them (BIGINT ids past 2^52: 500 rows of X and 2 of X + 1 read as one float, the point
    decoded to it, cast back as X + 1), unless `alone` marks it: its rows all hold one value
    (``ColumnData.exact_values``)."""
    one = one_value(uniq, resolution) | (alone if alone is not None else False)
    inside = (held >= least) & (uniq >= edges[0]) & (uniq <= edges[-1]) & one
    at = np.flatnonzero(inside)
    if len(at) > MAX_POINTS:
        at = np.sort(at[np.argsort(-held[at], kind="stable")[:MAX_POINTS]])
    return uniq[at].astype(np.float64)


@dataclass(frozen=True)
class NumericNoise:
    """The noise scales of a DP numeric domain's steps (None: the step does not run)."""

    range: float | None  # signed powers of two (None: TIME, whose range is public)
    lattice: float | None  # decimal places of a number, time units of a TIMESTAMP or TIME (None: DATE)
    zoom: float  # the rho of the zoom-in histogram and the frequent values, shared out over their steps
    values_delta: float = 0.0  # the threshold's delta of the frequent values step
    values_extra: float = 0.0  # added to `zoom` where the frequent values step runs (``budget.VALUES_NEED``)
    held: int = 1  # the most rows one person holds (the threshold is set for them all)
    range_again: float = 0.0  # the rho a second range step may take (``again_rho``; 0: none)


def private_numeric_domain(col: Column, data: ColumnData, *, noise: NumericNoise, n_hat: float, nbins: int,
                           rng: np.random.Generator, n_var: float = 0.0, bounds: tuple[float, float] | None = None,
                           columns: int | None = None) -> tuple[NumericDomain, list[tuple[str, float, float, str]]]:
    """Bin a numeric or temporal column from noisy histograms over public cells (values read as float64).

    Steps, each a histogram whose cells are fixed by the schema and earlier releases: the range on
    signed powers of two; the lattice the values are written on (decimal places, or a time unit);
    then a zoom-in histogram (``zoom``) that follows the data's density from a coarse grid over the
    range down to cells narrow where the values are dense. Model bins are runs of its cells of
    about equal estimated weight. Where the zoom is needed, the column's frequent values (each
    held by enough rows to pass a noisy threshold) are found first and become cells of their own,
    decoded to exactly that value (``with_points``): ties on a value are common in real columns
    (a unit conversion, prices like 9.99) and a cell drawn anywhere inside would spread them.
    With `columns` (the table's modelled columns), end cells not clearly data are left in bins of
    their own for the 1-way marginal to confirm (``unconfirmed_ends``).
    Returns the domain and its steps after the range and lattice: (name, rho, delta, detail).
    """
    public = col.type_range
    t = col.type.upper()
    octaves: list[np.ndarray] = []  # the range step's noisy histogram on signed powers of two
    range_sigma = noise.range  # its noise scale
    steps: list[tuple[str, float, float, str]] = []
    needs = {"range": t != "TIME" and bounds is None, "lattice": t != "DATE"}
    missing = [step for step, needed in needs.items() if needed and getattr(noise, step) is None]
    if missing:  # a step without noise would release an exact count
        raise ValueError(f"column {col.name!r}: a DP domain needs noise for its {' and '.join(missing)} step")
    clamp = bounds is not None
    integer = False if t == "TIME" else col.integer  # TIME: microseconds, decoded whole
    if not clamp and t != "TIME":  # the range step's noisy histogram, drawn before the lattice's
        pow2 = PowersOfTwo.of(col)
        exact = data.histogram(pow2)  # kept for a second range (a pass over the column, a job on Spark)
        octaves.append(exact + discrete_gaussian(noise.range, pow2.size, rng))
        # A cell of the same histogram for NULL (a row is in one cell), where the type allows NULLs.
        nulls = data.null_count() if col.nullable else 0
        null = float(nulls + discrete_gaussian(noise.range, 1, rng)[0]) if col.nullable else 0.0
    nonzero = False
    if octaves:  # values other than zero, clear of the noise (released figures): the rows outside the zero octave
        left, sd = range_left(octaves[0], pow2, 0.0, 0.0, sigma=noise.range, least=0.0, n_hat=n_hat, n_var=n_var,
                              null=null, null_var=noise.range**2 if col.nullable else 0.0)
        nonzero = left > gaussian_tail_z(RANGE_FALSE) * sd
    places: list[np.ndarray] = []  # the decimals step's counts of each number of places (released)
    decimals, unit = choose_lattice(col, data, sigma=noise.lattice, rng=rng, nonzero=nonzero, kept=places)
    step = lattice_step(integer, decimals, unit)
    if clamp:  # a declared range (public): values outside are clamped to it
        lo, hi = bounds
        pos_lo = lo if lo > 0 else hi
    elif t == "TIME":  # the range of a time of day is public
        lo, hi, pos_lo = float(public[0]), float(public[1]), 1.0
    else:
        # Read with the lattice (released): a bucket below its step holds no value but zero, so the
        # bucket around zero is the neighbour of the first that can (a DOUBLE of whole months, 8 %
        # zeros, lost them in 28 % of draws at loans' eps-1 noise: twenty empty buckets of fractions
        # stood between zero and [1, 2), as they do not for an integer type).
        lo, hi, pos_lo = private_range(octaves[0], sigma=noise.range, rng=rng, buckets=pow2, least=step or 0.0,
                                       noised=True)
        lo, hi, pos_lo = with_unexplained(octaves[0], pow2, lo, hi, pos_lo, sigma=noise.range, least=step or 0.0,
                                          n_hat=n_hat, n_var=n_var, null=null,
                                          null_var=noise.range**2 if col.nullable else 0.0)
        left, sd = range_left(octaves[0], pow2, lo, hi, sigma=noise.range, least=step or 0.0, n_hat=n_hat,
                              n_var=n_var, null=null, null_var=noise.range**2 if col.nullable else 0.0)
        if noise.range_again > 0 and left > UNEXPLAINED * (n_hat - null) and left > 2.0 * sd:
            # Over a tenth of the rows that are not NULL still outside the range (released figures; of
            # the rows that are not NULL: a column of user ids, 88 % NULL, at eps 1 had 47 % of its
            # values outside its range, 5.6 % of all rows, and no second pass): they are there, too
            # thin to place at this noise (a collections column of 86 % zeros and its other 14 % over
            # eight octaves of 60-250 rows each, at a 55-column table's eps-1 share, came back all 0).
            # The histogram again at ``again_rho`` (7 times the range's, within what the run's second passes
            # have left), averaged with the first by inverse variance.
            sigma2 = sigma_for(noise.range_again)
            w1, w2 = noise.range**-2, sigma2**-2
            second = exact + discrete_gaussian(sigma2, pow2.size, rng)
            octaves[0] = (w1 * octaves[0] + w2 * second) / (w1 + w2)
            if col.nullable:
                null = (w1 * null + w2 * float(nulls + discrete_gaussian(sigma2, 1, rng)[0])) / (w1 + w2)
            range_sigma = (w1 + w2) ** -0.5
            lo, hi, pos_lo = private_range(octaves[0], sigma=range_sigma, rng=rng, buckets=pow2, least=step or 0.0,
                                           noised=True)
            lo, hi, pos_lo = with_unexplained(octaves[0], pow2, lo, hi, pos_lo, sigma=range_sigma,
                                              least=step or 0.0, n_hat=n_hat, n_var=n_var, null=null,
                                              null_var=range_sigma**2 if col.nullable else 0.0)
            steps.append(("range", noise.range_again, 0.0,
                          "over a tenth of the rows that are not NULL outside the range found: noisy histogram on "
                          "signed powers of two" + (" and NULL" if col.nullable else "") + " again, averaged with the first"))
    lo, hi = within_type(lo, hi, public)
    if lo >= hi and not clamp:  # nothing was found inside the type's range: a unit range at its clipped edge
        lo, hi = (hi - 1.0, hi) if public is not None and hi >= public[1] else (lo, lo + 1.0)
    if writable(decimals, lo, hi) != decimals:
        decimals = None
        step = lattice_step(integer, decimals, unit)
    found = (lo, hi)  # the range found; where the rows lie in a sliver of it, the grids go there (``descend``)
    # A declared range too: a CHECK's generous bound (`amount BETWEEN 0 AND 1e9` over amounts of 1-2,200) had the
    # grids spread over all of it, and values came back over 0-15,000 (median 7,600 against 54), at eps 1 and 3.
    # It has no NULL count yet: the descent's histograms count NULL too.
    # The outermost powers of two hold every larger magnitude, to the double's: a range reaching one is cut at
    # powers of two first (``octave_cut``), as a declared range is (DOUBLEs of -1e140..-1e130 drew -1e303).
    past = octaves and max(abs(lo), abs(hi)) > 2.0 ** (pow2.top + 1)
    if t != "TIME" and (clamp or past or one_octave(lo, hi) or (octaves and (lo, hi) == pow2.edges(pow2.zero))):
        declared, cut = found, []
        lo, hi, spent = descend(data, lo, hi, step=step, numbers=n_hat if clamp else n_hat - null,
                                rho_cap=DESCENT_SHARE * noise.zoom, rng=own_stream(rng), integer=integer,
                                decimals=decimals, unit=unit, geometric=col.kind == "numeric",
                                null_cell=clamp and col.nullable, cut=cut)
        if cut:  # cut at its powers of two: the values outside what that left are clamped to it, as outside a range
            found = cut[0][:2]  # found (an end cell out to +-1e30, split where a few rows lay past the values, drew 1e29)
        # (the widths of ranges past 1e308 overflow; a range of one value is as found)
        narrower = declared[1] / (hi - lo) - declared[0] / (hi - lo) if hi > lo else 1.0
        if not narrower >= DESCENT_MIN:
            lo, hi = found  # narrowed less than the zoom's own levels reach: the zoom finds the rows as before
        if spent:
            noise = replace(noise, zoom=noise.zoom - sum(spent))
            grouped = len(octave_cut(*declared, step))
            steps.append(("(descent)", sum(spent), 0.0,
                          f"{len(spent)} noisy histogram{'s' if len(spent) > 1 else ''}"
                          + (f", the first of {grouped - 1} cells on the range's powers of two, the rest of "
                             f"{DESCENT_CELLS}" if grouped else f" of {DESCENT_CELLS} cells")
                          + ", each narrowing the grids' range to where most rows lie"
                          + (f": {narrower:.3g} times narrower" if (lo, hi) != declared and math.isfinite(narrower)
                             else ": more than 1e308 times narrower" if (lo, hi) != declared else ": not narrowed")))
        pos_lo = grids_from(lo, hi, cut[0][2] if cut else math.inf)
    points = math.inf if step is None else (hi - lo) / step
    narrowed = (lo, hi) != found
    frequent, scores, sigma_values = np.zeros(0), np.zeros(0), 0.0
    to_lattice = False
    if points <= LATTICE_CELLS and not narrowed:
        # Few values can be written in the range (public: the range and lattice are released): a
        # cell per lattice point, with the whole of the zoom's share. Where the points are many, in
        # two levels: cells of CHILDREN points, then the points of each cell clear of its noise. In
        # one histogram the noise of hundreds of empty points beside a thin tail added up to a share
        # of it (storms' pressure, 1,024 down to 512 millibars a cell each, over data from 882 up:
        # 2 % of the values below the real minimum); an empty coarse cell gets nothing.
        rhos = (noise.zoom,)
        first = cell_edges(lo, hi, pos_lo, LATTICE_CELLS, integer=integer, decimals=decimals, geometric=False,
                           unit=unit, inward=clamp, single=t == "FLOAT")
        if len(first) - 1 > 2 * CHILDREN:
            to_lattice = True
            coarse = first[::CHILDREN]
            first = coarse if coarse[-1] == first[-1] else np.append(coarse, first[-1])
            rhos = tuple(noise.zoom * w / sum(LATTICE_WEIGHTS) for w in LATTICE_WEIGHTS)
    else:
        rho_values = 0.0
        # Narrowed by a descent: the zoom's levels, which split the cells outside where a tail lies, and the
        # frequent values step wherever the range found holds more points than they reach (a spike outside
        # the band, 10 % of the rows on one value, was lost in a cell of the rest of the octave).
        points_found = math.inf if step is None else (found[1] - found[0]) / step  # points when not narrowed
        if points_found > FIRST_CELLS * CHILDREN ** (len(ZOOM_WEIGHTS) - 1):
            # Finer than the zoom can reach (or no lattice): values held by many rows are found
            # first, as cells of their own; the column's share has its floor raised by VALUES_NEED.
            if not 0 < noise.values_delta < 1:  # the threshold's delta bounds what a single row reveals
                raise ValueError(f"column {col.name!r}: the frequent values step needs a delta in (0, 1)")
            noise = replace(noise, zoom=noise.zoom + noise.values_extra)
            rho_values = VALUES_SHARE * noise.zoom
            sigma_values = sigma_for(rho_values)
            frequent, scores = frequent_values(data, sigma=sigma_values, delta=noise.values_delta, rng=rng,
                                               held=noise.held)
            if clamp:  # a declared range holds every value decoded: values outside it are clamped, not points
                inside = (frequent >= lo) & (frequent <= hi)
                frequent, scores = frequent[inside], scores[inside]
            steps.append(("values", rho_values, noise.values_delta,
                          f"noisy counts of its values over a threshold: {len(frequent)} kept as cells of their own"))
        rhos = tuple((noise.zoom - rho_values) * f for f in zoom_fractions())
        # As many first cells as the rows fill well above the noise (each holding SPLIT_SIGMAS
        # sigmas on average): fewer, coarser cells when the budget is thin, where finer ones would be noise.
        cells = int(np.clip(n_hat / (SPLIT_SIGMAS * sigma_for(rhos[0])), 1, FIRST_CELLS))
        first = cell_edges(lo, hi, pos_lo, cells, integer=integer, decimals=decimals,
                           geometric=col.kind == "numeric", unit=unit, inward=clamp, single=t == "FLOAT")
    if narrowed:  # by a descent: the rest of the range found is a cell at either end (split at zero where it is wider
        # than a float holds: -1.7e308 to 4e307)
        if first[0] > found[0]:
            wide = found[0] < 0 < first[0] and not math.isfinite(first[0] - found[0])
            first = np.concatenate([[found[0]], [0.0] if wide else [], first])
        if first[-1] < found[1]:
            wide = first[-1] < 0 < found[1] and not math.isfinite(found[1] - first[-1])
            first = np.concatenate([first, [0.0] if wide else [], [found[1]]])
    tree = zoom(data, first, step=step, sigmas=tuple(sigma_for(r) for r in rhos), n_hat=n_hat, n_var=n_var,
                floating=holds_infinity(col), rng=rng, to_lattice=to_lattice)
    edges, weights, counts, var = tree.leaves()
    if narrowed:
        weights = outside_cleared(edges, weights, counts, var, lo, hi)
    if octaves:  # the range was found with noise (not public, not declared)
        weights = with_octaves(edges, weights, counts, var, octaves[0], pow2, range_sigma)
    # Leaves at either end that hold nothing leave the domain: values out there are coded into the
    # end cells, and no value is drawn beyond the data.
    held = np.flatnonzero(weights > 0)
    if len(held):
        a, b = held[0], held[-1] + 1
        counts, var = folded_ends(counts, var, a, b)
        edges, weights = edges[a:b + 1], weights[a:b]
    else:
        weights = np.ones_like(weights)
    point_of = None
    if len(frequent):
        edges, weights, counts, var, point_of = with_points(edges, weights, counts, var, frequent, scores,
                                                            sigma_values**2, step)
    # FLOAT and DOUBLE: NaN, +inf and -inf buckets stay where their estimate is well clear of the
    # noise (public candidates, so any bar is private; a high one, as most columns hold none); a date's or
    # timestamp's +inf and -inf the same (its NaN bucket, always empty, never: no date is NaN).
    bar = gaussian_tail_z(SPECIAL_FALSE / len(SPECIALS))
    barred = kept_out(col)  # (those a CHECK keeps out)
    kept = [k for k in range(len(tree.special))
            if tree.special[k] >= bar * math.sqrt(tree.special_var[k]) and not clamp and k not in barred
            and (t in FLOATS or not math.isnan(SPECIALS[k]))]
    cell_bin = merge_bins(weights, nbins)
    unconfirmed = (0, 0)
    if not clamp:  # a declared range's ends are the user's, not a tail's
        sure = sure_span(edges, counts, var, columns) if columns else None
        edges = with_end_spikes(edges, weights, var, point_of, step)
        edges, weights, counts, var, cell_bin, point_of = with_tails(edges, weights, counts, var, cell_bin, point_of,
                                                                     step)
        if sure is not None:
            cell_bin, unconfirmed = unconfirmed_ends(edges, cell_bin, *sure)
    dom = NumericDomain(col, edges, weights, cell_bin, null=col.nullable,
                        cell_counts=np.concatenate([counts, tree.special[kept], [tree.null]]),
                        cell_var=np.concatenate([var, tree.special_var[kept], [tree.null_var]]),
                        decimals=decimals, unit=unit, specials=tuple(SPECIALS[k] for k in kept), points=point_of,
                        places=places[0] if places and decimals is not None else None,
                        places_bar=gaussian_tail_z(RANGE_FALSE / DecimalPlaces.size) * (noise.lattice or 0.0),
                        unconfirmed=unconfirmed)
    levels = len(rhos)
    for level, (cells, rho) in enumerate(zip(tree.measured, rhos), start=1):
        steps.append((f"({level}/{levels})", rho, 0.0, f"noisy histogram on {cells} cells" + (
            f"; {len(dom.edges) - 1} cells kept, merged into {dom.nbins} bins" if level == levels else "")))
    return dom, steps


DESCENT_CELLS = 64  # the descent's grid over the range
DESCENT_SIGMAS = 32.0  # its noise: the rows over this many sd, so a cell holding an eighth of them is clear
DESCENT_FALSE = 0.001  # expected number of empty cells a descent histogram takes for data (one stops it)
DESCENT_RUN = 2  # it narrows to the cells clear of the noise (and one either side) where at most this many in a row
DESCENT_HOLD = 0.75  # and only where those cells hold this share of the numbers (n_hat less the NULL cell)
DESCENT_LEVELS = 12  # at most this many times
DESCENT_MIN = 256.0  # a range narrowed less than this many times is left as found: the zoom's 64 x 32 x 32 cells
# put more than 256 across the rows (years in [1024, 2048) went to a cell a year, and points past their end
# took the noise's share: loans' `earliest_credit_line` 1963-2015, 3 % of its values to 2031)
DESCENT_SHARE = 0.125  # and within this share of the zoom's rho
OCTAVE_REACH = 2.0**60  # a range wider than this is cut by powers of two first (``octave_cut``), where they are more
# than DESCENT_CELLS cells: the linear grids' 12 levels narrow a range about 32^12 = 2^60 times at most. A BIGINT's
# whole range over values 0-100,000 came back 7 % outside them (-37,706..137,436; cut: 3 %), a declared
# `x BETWEEN -1e30 AND 1e30` over values of 500-1,500 over +-3e9, and +-1e308, whose width overflows, near 1e303.


def own_stream(rng: np.random.Generator) -> np.random.Generator:
    """A child stream of `rng` (``Generator.spawn``: `rng`'s own draws stay as they were), else `rng`: the
    descent's noise from it leaves every later step's noise as without it where the range is not narrowed
    (drawn from the run's stream, a histogram that narrowed nothing gave 30 tables new rows)."""
    try:
        return rng.spawn(1)[0]
    except (AttributeError, TypeError, ValueError):  # a generator with no seed sequence to spawn from
        return rng


def octave_cut(lo: float, hi: float, step: float | None) -> np.ndarray:
    """The descent's first grid where a range is past its linear grids' reach (OCTAVE_REACH; a width that overflows
    too) and over many powers of two (a range over zero, or of more octaves than DESCENT_CELLS: a sliver of one
    octave of HUGEINTs keeps the linear grids): ``octave_edges``; else none. Public: the range and the lattice's step."""
    if hi - lo <= OCTAVE_REACH or len(octave_edges(lo, hi, step or 0.0, cells=0)) <= DESCENT_CELLS + 1:
        return np.zeros(0)
    return octave_edges(lo, hi, step or 0.0)


def octave_edges(lo: float, hi: float, least: float, cells: int = DESCENT_CELLS) -> np.ndarray:
    """Edges cutting [lo, hi] at zero and at the signed powers of two inside it, from the smallest over `least`
    (public: the lattice's step; 2^-20 at least, as ``PowersOfTwo``) to 2^1023, every k-th of them where there would
    be more than `cells` cells (0: all of them): a grid for a range far wider than the rows (a declared one), in
    which each magnitude of the values has a cell (of k octaves: values spread evenly over ten octaves, a tenth of
    them in each, are clear in a few cells where no octave is)."""
    low = max(-20, math.ceil(math.log2(least))) if least > 0 else -20
    mags = 2.0 ** np.arange(low, 1024)

    def within(m: np.ndarray) -> np.ndarray:
        inside = np.concatenate([-m[::-1], [0.0], m])
        return inside[(inside > lo) & (inside < hi)]

    k = max(1, math.ceil((len(within(mags)) + 1) / cells)) if cells else 1
    return np.concatenate([[lo], within(mags[::k]), [hi]])


def grids_from(lo: float, hi: float, pos: float) -> float:
    """Where grids over [lo, hi) start their geometric cells (``cell_edges``' `pos_lo`): at `lo` where it is positive;
    from zero, at `pos`, the smallest positive edge of the span a cut at powers of two kept (released), where it lies
    inside; else at `hi` (linear cells)."""
    return lo if lo > 0 else pos if lo <= 0 < pos < hi else hi


def one_octave(lo: float, hi: float) -> bool:
    """Whether the range found lies within two adjacent powers of two of one sign (a factor of 4 between its
    ends): the columns whose rows may lie in a sliver of it (``descend``). Public: the range is released."""
    return (lo > 0 and hi <= 4 * lo) or (hi < 0 and -lo <= -4 * hi)


def descend(data: ColumnData, lo: float, hi: float, *, step: float | None, numbers: float, rho_cap: float,
            rng: np.random.Generator, integer: bool, decimals: int | None, unit: float | None,
            geometric: bool, null_cell: bool = False, cut: list | None = None) -> tuple[float, float, list[float]]:
    """The range [lo, hi) narrowed to where the rows lie, by noisy histograms of DESCENT_CELLS cells, each
    over the range the last left; and the rho of each.

    The range comes from powers of two: a column whose values lie in a sliver of one (timestamps within an
    hour, 1.7e15 microseconds since 1970 in an octave of 1.1e15; ids 10^15 + 0..10^6; a phone number's
    last four digits) has every row in one cell of the zoom's first grid, and the zoom's 64 x 32 x 32
    cells end far wider than the data (an hour of timestamps came back over 4.7 hours, 79 % of them
    outside the real range; at eps = 3 every row on one timestamp, the end cell cut to a point). Where at
    most DESCENT_RUN neighbouring cells are clear of the noise and hold DESCENT_HOLD of the numbers
    (`numbers`: the row count less the NULL cell), the range becomes those cells and one either side, and
    the grid is drawn again over it; until the clear cells are more, or none, or the range holds few
    lattice points (the zoom then measures a cell a point). The rows outside the range are counted in a
    cell either side, apart from the grid. The caller uses the result where it is at least DESCENT_MIN
    times narrower.

    With `null_cell` (a declared range: no NULL count released before), each histogram has a cell for NULL too, and
    `numbers` (then the row count) less the mean of those noisy NULL counts is the numbers the clear cells must hold
    (a column 30 % NULL under `x BETWEEN 0 AND 1e9` had never narrowed: values 50-60 came back over 1-19,000).

    A range past the linear grids' reach is cut at its powers of two first (``octave_cut``); where that narrows it,
    the range it left is appended to `cut` (the caller clamps the values outside it, as outside a range found).

    The noise is coarse (the numbers over DESCENT_SIGMAS, or what DESCENT_LEVELS histograms within
    `rho_cap` allow, whichever is coarser: a cell needs about an eighth of the rows to be clear), so the
    descent costs little (512 / n^2 a histogram on n rows) and narrows only where the rows are truly
    concentrated. Each histogram is over a partition fixed by released figures (sensitivity 1); whether
    to draw another is a function of released counts; its rho comes out of the zoom's, so the column's
    share stays: costs chosen adaptively within a fixed total (a zCDP privacy filter, docs/privacy.md 3e⁰).
    """
    # A share of the rows that are not NULL (a column 90 % NULL passed no bar at n_hat / 32), or the noise that
    # DESCENT_LEVELS histograms within the cap allow, whichever is coarser (a small table's band took 3 of 7)
    affordable = sigma_for(rho_cap / DESCENT_LEVELS) if rho_cap > 0 else math.inf
    sigma = max(max(numbers, 1.0) / DESCENT_SIGMAS, affordable)
    rho = 1.0 / (2.0 * sigma**2)
    spent: list[float] = []
    rows, nulls = numbers, []  # (with a NULL cell: the row count, and each histogram's noisy NULL count)
    pos = math.inf  # the smallest positive edge of the span the cut at powers of two kept (released), else none
    while len(spent) < DESCENT_LEVELS and (len(spent) + 1) * rho <= rho_cap:
        if step is not None and (hi - lo) / step <= LATTICE_CELLS:
            break
        edges = octave_cut(lo, hi, step) if not spent else np.zeros(0)  # (once, first: then the linear grids)
        octaves = len(edges) > 0
        if not octaves:
            edges = cell_edges(lo, hi, grids_from(lo, hi, pos), DESCENT_CELLS, integer=integer, decimals=decimals,
                               geometric=geometric, unit=unit)
        if len(edges) < 2 * DESCENT_RUN + 2:
            break
        z = gaussian_tail_z(DESCENT_FALSE / ((len(edges) + 1) if octaves else (DESCENT_CELLS + 2)))
        # The grid's cells, and a cell either side for the rows outside the range (a histogram's end cells
        # take those: a range cut short inside the data made its end cell clear, and the descent went on into it).
        counts = data.histogram(Cells(np.concatenate([[-np.inf], edges, [np.inf]])))
        if null_cell:  # (a row is in one cell: a number's, or NULL's)
            counts = np.append(counts, data.null_count())
        counts = counts + discrete_gaussian(sigma, len(counts), rng)
        spent.append(rho)
        if null_cell:
            nulls.append(float(counts[-1]))
            counts = counts[:-1]
            numbers = max(rows - float(np.mean(nulls)), 1.0)
        clear = np.flatnonzero(counts[1:-1] > z * sigma)  # the grid's cells (the rows outside stay outside)
        if not octaves and (not len(clear) or clear[-1] - clear[0] + 1 > DESCENT_RUN):
            break
        if not octaves and float(counts[clear + 1].sum()) < DESCENT_HOLD * numbers:  # rows in cells the bar missed:
            break  # a band wider than the run (a third of it in a cell beside, under the bar, was cut off: 71 % lost)
        if octaves and not len(clear):
            continue  # (the linear grids, from the same range)
        # The clear cells and one cell either side: a thin edge of the rows (a value a cell boundary put in
        # the cell beside) stays inside. Clipped to the range: a grid of whole numbers or lattice points may
        # start or end past it, and a band in its first or last cells was never narrowed.
        a = max(float(edges[max(clear[0] - 1, 0)]), lo)
        b = min(float(edges[min(clear[-1] + 2, len(edges) - 1)]), hi)
        if octaves:
            # Powers of two: the span of the clear ones, however many (values over several powers of two, or on
            # both sides of zero, are common), and one either side, where that holds 3/4 of the numbers, within one
            # sd of its noise (the descent's noise can be coarse: a BIGINT's whole range over 2,000 rows at eps 1;
            # else the linear grids, from the same range); then on to zero where the range holds it (the cells below
            # the span's lowest hold what it would, and widen it by its width at most), but not past zero where the
            # span is all on one side of it (values of 1e-9..1e-7 came back down to -2e-8).
            span = counts[max(clear[0] - 1, 0) + 1:min(clear[-1] + 1, len(edges) - 2) + 2]
            if float(np.maximum(span, 0.0).sum()) + sigma * math.sqrt(len(span)) < DESCENT_HOLD * numbers:
                continue  # (a count is at least 0: an empty cell beside the span, its noise at -303, failed a clear one)
            a = max(a, 0.0) if edges[clear[0]] >= 0.0 else a
            b = min(b, 0.0) if edges[clear[-1] + 1] <= 0.0 else b
            a, b = (min(a, 0.0) if lo <= 0.0 else a), (max(b, 0.0) if hi >= 0.0 else b)
            # The grids from zero then geometric from the span's smallest value (a range of [0, 2^66] over
            # values of 500-1,500 had linear ones, and a grid that failed its test on noise left them at 1e11-1e15)
            pos = float(min((e for e in edges[max(clear[0] - 1, 0):clear[-1] + 2] if e > 0), default=math.inf))
        if not a < b or (a, b) == (lo, hi):
            if octaves:
                continue
            break
        lo, hi = a, b
        if octaves and cut is not None:
            cut.append((lo, hi, pos))
    return lo, hi, spent


def outside_cleared(edges: np.ndarray, weights: np.ndarray, counts: np.ndarray, var: np.ndarray, lo: float,
                    hi: float) -> np.ndarray:
    """The leaves' weights, with those on either side outside the descent's range [lo, hi) given none where
    what they hold together is not clear of its noise (ZOOM_FALSE): that part of the range holds a tail
    at most, in cells far wider than the data, and the share faint cells are given there (``share_out``)
    drew values across it (a band of 1e9 + 0.00-0.99 came back down to 5.8e8). A tail clear of the noise
    keeps its weights. Post-processing of released counts."""
    w = np.asarray(weights, dtype=np.float64)
    z = gaussian_tail_z(ZOOM_FALSE)
    for side in ((edges[1:] <= lo), (edges[:-1] >= hi)):
        at = np.flatnonzero(side)
        if len(at) and float(counts[at].sum()) <= z * math.sqrt(float(var[at].sum())):
            w = w.copy()
            w[at] = 0.0
    return w


def folded_ends(counts: np.ndarray, var: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """The estimates (and variances) of leaves a..b-1 of a domain cut to them: the rows of the leaves cut
    off are coded into the end cells, so their estimates go there too. New arrays; the inputs stay."""
    counts, var = counts.copy(), var.copy()
    counts[a] += counts[:a].sum()
    var[a] += var[:a].sum()
    counts[b - 1] += counts[b:].sum()
    var[b - 1] += var[b:].sum()
    return counts[a:b], var[a:b]


END_FALSE = 0.05  # expected number of empty end cells a table's DP domains keep unconfirmed


def sure_span(edges: np.ndarray, counts: np.ndarray, var: np.ndarray, columns: int) -> tuple[float, float] | None:
    """From the first to the last of the leaves whose estimate is clearly data, (left edge, right edge): clear
    of its noise at a bar that the table's empty leaves pass END_FALSE times in all (`columns` columns of
    as many leaves as this one). None where no leaf is.

    The zoom keeps a leaf on a per-group bar (``ZOOM_FALSE``): a table of 60 columns keeps about three
    empty cells a run, and one past the data's end draws values no real row holds (an empty 6 beside a
    1-5 scale, given the 1 % of rows its noise reached). The leaves outside this span are confirmed by
    the 1-way marginal, whose noise is independent of the zoom's (``unconfirmed_ends``)."""
    z = gaussian_tail_z(END_FALSE / (max(columns, 1) * max(len(counts), 1)))
    sure = np.flatnonzero(counts >= z * np.sqrt(var))
    if not len(sure):
        return None
    return float(edges[sure[0]]), float(edges[sure[-1] + 1])


def unconfirmed_ends(edges: np.ndarray, cell_bin: np.ndarray, lo: float, hi: float
                     ) -> tuple[np.ndarray, tuple[int, int]]:
    """The cells below `lo` and above `hi` (ends not clearly data) in bins of their own: (cell_bin, flags).

    At each end, the outside cells of the end bin become a bin (flag 2: split off the bin they were
    in, which they rejoin once the 1-way marginal confirms them), or are the end bin already (flag 1:
    the bin held only such cells); 0: none. The 1-way marginal measures them apart from the cells
    clearly data, with noise independent of the zoom's, and an end bin it finds within noise of zero
    leaves the domain (``measure.confirm_ends``). Only the end bin's cells: a long faint tail over several
    bins has its outermost tested. Post-processing of released counts."""
    cell_bin = cell_bin.copy()
    flags = [0, 0]
    top = np.flatnonzero(edges[:-1] >= hi)
    if len(top):
        run = top[cell_bin[top] == cell_bin[-1]]
        if len(run) == int((cell_bin == cell_bin[-1]).sum()):
            flags[1] = 1
        else:
            cell_bin[run] = cell_bin.max() + 1
            flags[1] = 2
    bottom = np.flatnonzero(edges[1:] <= lo)
    if len(bottom):
        run = bottom[cell_bin[bottom] == cell_bin[0]]
        if len(run) == int((cell_bin == cell_bin[0]).sum()):
            flags[0] = 1
        else:
            cell_bin += 1
            cell_bin[run] = 0
            flags[0] = 2
    return cell_bin, (flags[0], flags[1])


LEAVES_Z = 1.0  # and only where the leaves' own estimate of it is this many of their standard deviations up
OCTAVE_Z = 2.0  # with_octaves restores a power-of-two bucket the zoom lost when its estimate is this many sigmas up


def with_octaves(edges: np.ndarray, weights: np.ndarray, counts: np.ndarray, var: np.ndarray, noisy: np.ndarray,
                 buckets: PowersOfTwo, sigma: float) -> np.ndarray:
    """The zoom's leaf weights, with mass put back where the range step saw more than the zoom kept.

    Each power-of-two bucket's rows are estimated twice: by the range step's noisy count (one
    cell, `sigma`) and by the zoom's leaves whose middle lies in it (their unbiased noisy counts
    `counts`, variances `var`). A thin tail (cars' prices: 4 % of the rows over [8, 16), a dozen
    leaves of a few rows each, every one under its noise) is clear in the first and lost in the
    second: its leaves get no weight and leave the domain, and the tail's rows are decoded inside
    the last cell kept. Where a bucket's leaves hold no weight at all and the inverse-variance
    combination of the two estimates is more than OCTAVE_Z of its standard deviations above zero,
    that combination is spread over the bucket's leaves by their widths. A bucket the zoom kept
    anything of is left as it found it (rebalanced, a narrow band's octave of mostly empty leaves
    took noise leaves far from the band).
    The range step's count is not evidence enough on its own: a bucket beside the range joined it
    because that same count passed a bar of 2 sigma (``RANGE_NEIGHBOUR_Z``), so an empty bucket that
    joined carries a count biased up to about 2.4 sigma, and combined it passed again (a Likert
    column of 1-5 came back with 1.7 % of its values spread over 8-15). The leaves' estimate, whose
    noise is independent of that choice, must also be LEAVES_Z of its standard deviations up: an
    empty bucket passes both tests with probability 0.023 x 0.16.
    Post-processing of released counts: no privacy cost.
    """
    mids = edges[:-1] / 2 + edges[1:] / 2  # (halved first: the widths of ranges past 1e308 overflow)
    which = buckets.codes(mids)
    out = np.asarray(weights, dtype=np.float64).copy()
    for b in np.unique(which):
        at = np.flatnonzero(which == b)
        vz = float(var[at].sum())
        prec = 1.0 / sigma**2 + (1.0 / vz if vz > 0 else 0.0)
        total = (noisy[b] / sigma**2 + (float(counts[at].sum()) / vz if vz > 0 else 0.0)) / prec
        if out[at].sum() > 0 or total <= OCTAVE_Z / math.sqrt(prec) or (
                vz > 0 and float(counts[at].sum()) <= LEAVES_Z * math.sqrt(vz)):
            continue
        share = edges[at + 1] - edges[at]
        out[at] = total * share / share.sum()
    return out


def with_end_spikes(edges: np.ndarray, weights: np.ndarray, var: np.ndarray, points: np.ndarray | None,
                    step: float | None) -> np.ndarray:
    """The leaves' edges, an end cell of several lattice points clearly denser than its inner neighbour
    cut to its inner lattice point (only an end edge moves: weights, counts, variances and bins stay).

    A column's density that jumps at its end is a value many rows share there: a cap (humidity at
    100), a floor, a top code. The zoom leaves it in an end cell of a few lattice points, and a
    uniform draw across the cell puts most of those rows past the real end (weather's humid at
    eps = 1: 286 rows at 100 in a cell of 100.00-100.05, 1.4 % of the values over 100). Where in the
    cell the value lies is not known, but the cell holds rows, so the data's real end is at or beyond
    its inner point: the cell's rows go there (a shift inside the cell, never past the data), and
    the points past it leave the domain (rows out there are coded into it). "Clearly": the cell's
    weight exceeds what the neighbour's density would fill by ``gaussian_tail_z(ZOOM_FALSE)``
    standard deviations of one cell's estimate (the smaller of the two cells': the end cell's also
    carries the empty leaves cut off beyond it). Post-processing of released counts: no privacy cost.
    """
    if step is None:
        return edges
    z = gaussian_tail_z(ZOOM_FALSE)
    edges = np.array(edges, dtype=np.float64)
    for end in (-1, 0):
        g = len(weights)
        j, nb = (g - 1, g - 2) if end == -1 else (0, 1)
        if g < 2 or weights[j] <= 0 or (points is not None and not (np.isnan(points[j]) and np.isnan(points[nb]))):
            continue
        lo, hi = float(edges[j]), float(edges[j + 1])
        width, nb_width = hi - lo, float(edges[nb + 1] - edges[nb])
        if round(width / step) < 2 or nb_width <= 0:
            continue
        if weights[j] - max(float(weights[nb]), 0.0) * width / nb_width > z * math.sqrt(min(var[j], var[nb])):
            if end == -1:
                edges[j + 1] = lo + step
            else:
                edges[j] = hi - step
    return edges


TAIL_PARTS = 32  # an end cell thinner than its neighbour is drawn from this many parts


def with_tails(edges: np.ndarray, weights: np.ndarray, counts: np.ndarray, var: np.ndarray, cell_bin: np.ndarray,
               points: np.ndarray | None, step: float | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """End cells whose weight is thinner than their inner neighbour's density would fill, drawn from a
    density that falls from that neighbour's outward (linearly, to zero where the weight runs out).

    The zoom splits a cell only where its rows are clear of the noise: a thin tail (the oldest ages,
    the top prices) is often left in one wide end cell, and a uniform draw across it puts most of its
    rows past the data's real end (an age column to 90 in a cell of 80-111: two thirds of its rows
    over 90). A tail's density is continuous at the data's edge and falls outward, so the cell's
    weight is laid down from its inner side at the neighbour's density, falling at a constant
    rate to zero (or, where it holds more than half of what the neighbour's density would fill,
    to what is left at its outer edge), over whole lattice points; the parts past where it runs out
    leave the domain (rows out there are coded into the new end part, of the same bin). Counts and
    variances are shared out with the weight, so a bin's sums are unchanged. Post-processing of
    released counts: no privacy cost.
    """
    point = points if points is not None else np.full(len(weights), np.nan)
    for end in (-1, 0):  # the top end first: the bottom's index stays 0
        arrays = (edges, weights, counts, var, cell_bin, point)
        k = _flat_run(edges, weights, cell_bin, point, end)
        out = _tail(*(_merged_end(*arrays, end, k) if 1 < k < len(weights) else arrays), end, step)
        if out is not None:
            edges, weights, counts, var, cell_bin, point = out
    return edges, weights, counts, var, cell_bin, (point if points is not None else None)


def _flat_run(edges: np.ndarray, weights: np.ndarray, cell_bin: np.ndarray, point: np.ndarray, end: int) -> int:
    """How many cells at one end (-1: the top, 0: the bottom) share one density and one bin, with no
    point: the even split of a zoom cell no count resolved (``split``'s end cells, ``allot``'s halves
    when neither is clear), which is one end cell to ``with_tails``."""
    g = len(weights)
    if g < 2:
        return 0
    order = range(g - 1, -1, -1) if end == -1 else range(g)
    first = order[0]
    width0 = float(edges[first + 1] - edges[first])
    if width0 <= 0:
        return 0
    dens = float(weights[first]) / width0
    k = 0
    for i in order:  # the end cell first: a point there, or no width, ends the run at 0
        width = float(edges[i + 1] - edges[i])
        if (width <= 0 or cell_bin[i] != cell_bin[first] or not np.isnan(point[i])
                or not math.isclose(float(weights[i]) / width, dens, rel_tol=1e-6)):
            break
        k += 1
    return k


def _merged_end(edges, weights, counts, var, cell_bin, point, end: int, k: int):
    """The arrays of ``with_tails`` with the `k` cells at `end` merged into one."""
    g = len(weights)
    if end == -1:
        a = g - k
        return (np.concatenate([edges[:a + 1], edges[-1:]]), np.append(weights[:a], weights[a:].sum()),
                np.append(counts[:a], counts[a:].sum()), np.append(var[:a], var[a:].sum()), cell_bin[:a + 1],
                point[:a + 1])
    return (np.concatenate([edges[:1], edges[k:]]), np.concatenate([[weights[:k].sum()], weights[k:]]),
            np.concatenate([[counts[:k].sum()], counts[k:]]), np.concatenate([[var[:k].sum()], var[k:]]),
            cell_bin[k - 1:], point[k - 1:])


def _tail(edges, weights, counts, var, cell_bin, point, end: int, step: float | None):
    """``with_tails`` at one end: the new arrays, or None where its end cell is left as it is."""
    g = len(weights)
    j, nb = (g - 1, g - 2) if end == -1 else (0, 1)
    if g < 2 or weights[j] <= 0 or weights[nb] <= 0 or not (np.isnan(point[j]) and np.isnan(point[nb])):
        return None
    width, nb_width = float(edges[j + 1] - edges[j]), float(edges[nb + 1] - edges[nb])
    if width <= 0 or nb_width <= 0:
        return None
    dens, mass = float(weights[nb]) / nb_width, float(weights[j])
    if mass >= dens * width:  # not thinner than its neighbour: drawn evenly, as any cell
        return None
    parts = split_cell(float(edges[j]), float(edges[j + 1]), TAIL_PARTS, step)
    if len(parts) <= 2:  # a single lattice point
        return None
    # Distance of each part's edges from the inner side, and the density's integral over each part.
    x = (float(edges[j + 1]) - parts[::-1]) if end == 0 else (parts - float(edges[j]))
    if mass <= dens * width / 2:
        length, outer = 2 * mass / dens, 0.0
    else:
        length, outer = width, 2 * mass / width - dens
    slope = (dens - outer) / length

    def integral(t: np.ndarray) -> np.ndarray:
        t = np.minimum(t, length)
        return dens * t - slope * t * t / 2

    share = np.diff(integral(x))
    share = np.maximum(share, 0.0) / max(float(share.sum()), 1e-300)
    if end == 0:
        share = share[::-1]
    keep = np.flatnonzero(share > 0)
    a, b = keep[0], keep[-1] + 1  # the parts past the weight's end leave the domain
    sub_edges = parts[a:b + 1]
    share = share[a:b] / share[a:b].sum()
    n_sub = len(share)
    edges = np.concatenate([edges[:j], sub_edges, edges[j + 2:]])
    weights = np.concatenate([weights[:j], mass * share, weights[j + 1:]])
    counts = np.concatenate([counts[:j], counts[j] * share, counts[j + 1:]])
    var = np.concatenate([var[:j], var[j] * share, var[j + 1:]])
    cell_bin = np.concatenate([cell_bin[:j], np.full(n_sub, cell_bin[j]), cell_bin[j + 1:]])
    point = np.concatenate([point[:j], np.full(n_sub, np.nan), point[j + 1:]])
    return edges, weights, counts, var, cell_bin, point


MAX_POINTS = 100  # the most frequent values kept as cells of their own


def frequent_values(data: ColumnData, *, sigma: float, delta: float,
                    rng: np.random.Generator, held: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The values (sorted) whose noisy count passes the threshold, and their noisy counts: as
    ``categorical_domain`` does for text (only values the column holds get a count; the threshold
    is set so that a value held by one person, of `held` rows at most, passes with probability at most
    `delta`)."""
    values, score = top_passing(data, sigma, threshold(sigma, delta, held), MAX_POINTS, rng, key=float)
    return np.asarray(values, dtype=np.float64), score  # the MAX_POINTS highest, in value order


def with_points(edges: np.ndarray, weights: np.ndarray, counts: np.ndarray, var: np.ndarray, points: np.ndarray,
                scores: np.ndarray, score_var: float, step: float | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The leaves with a cell of its own for each frequent value (half a lattice step each side of
    it; the least float above it on no lattice), and each cell's point (NaN: none). (Balanced mode's
    exact counts: ``point_cells``.)

    The point's cell takes its noisy count; the rest of the leaf it was cut from keeps what the
    leaf is estimated to hold beyond it, spread by width, only when that is clear of the noise
    (else the point takes the leaf's weight). Counts and variances split the same way, so the
    sums over a leaf are unchanged. A point outside the leaves gets a cell beside them, with an
    empty gap between. Post-processing of released counts.
    """
    e, w, c, v = list(edges), list(weights), list(counts), list(var)
    pt = [math.nan] * len(w)
    z = gaussian_tail_z(ZOOM_FALSE)
    for p, score in zip(points, scores):
        half = step / 2 if step is not None else 0.0
        lo_p = p - half
        hi_p = p + half if step is not None else float(np.nextafter(p, np.inf))
        if hi_p <= e[0] or lo_p >= e[-1]:  # beyond the leaves: a cell of its own, and an empty gap
            left = hi_p <= e[0]
            cell = (lo_p, hi_p)
            gap = (hi_p, e[0]) if left else (e[-1], lo_p)
            new = [(cell, score, score, score_var, p)] + ([(gap, 0.0, 0.0, 0.0, math.nan)] if gap[1] > gap[0] else [])
            if not left:
                new = new[::-1]
            if left:
                e = [x[0][0] for x in new] + e
                w, c, v, pt = ([x[k] for x in new] + lst for k, lst in ((1, w), (2, c), (3, v), (4, pt)))
            else:
                e = e + [x[0][1] for x in new]
                w, c, v, pt = (lst + [x[k] for x in new] for k, lst in ((1, w), (2, c), (3, v), (4, pt)))
            continue
        j = int(np.clip(np.searchsorted(e, p, side="right") - 1, 0, len(w) - 1))
        if not math.isnan(pt[j]):
            continue
        a, b = e[j], e[j + 1]
        lo_p, hi_p = max(a, lo_p), min(b, hi_p)
        parts = [(a, lo_p), (lo_p, hi_p), (hi_p, b)]
        width = [max(y - x, 0.0) for x, y in parts]
        side = width[0] + width[2]
        rest = w[j] - score
        clear = side > 0 and rest > z * math.sqrt(v[j] + score_var)
        pw = [rest * width[0] / side if clear else 0.0, score if clear else max(w[j], score),
              rest * width[2] / side if clear else 0.0]
        share = [width[0] / side if side > 0 else 0.0, 0.0, width[2] / side if side > 0 else 0.0]
        pc = [(c[j] - score) * share[0], score, (c[j] - score) * share[2]]
        pv = [(v[j] + score_var) * share[0] ** 2, score_var, (v[j] + score_var) * share[2] ** 2]
        keep = [k for k in range(3) if width[k] > 0 or k == 1]
        e = e[:j + 1] + [parts[k][1] for k in keep] + e[j + 2:]
        e[j] = parts[keep[0]][0]
        w = w[:j] + [pw[k] for k in keep] + w[j + 1:]
        c = c[:j] + [pc[k] for k in keep] + c[j + 1:]
        v = v[:j] + [pv[k] for k in keep] + v[j + 1:]
        pt = pt[:j] + [p if k == 1 else math.nan for k in keep] + pt[j + 1:]
    return np.array(e), np.array(w), np.array(c), np.array(v), np.array(pt)


FIRST_CELLS = 64  # the zoom's first grid over the range
LATTICE_CELLS = 512  # a range of at most this many lattice points is measured at once, a cell per point
CHILDREN = 32  # a cell is split into this many
ZOOM_WEIGHTS = (1.0, 1.0, 1.0)  # how the zoom's share is split over its levels
LATTICE_WEIGHTS = (1.0, 2.0)  # and over a lattice's two levels (coarse cells, then points: the points carry the detail)


def zoom_fractions() -> tuple[float, ...]:
    """Each zoom level's fraction of the zoom's share."""
    return tuple(w / sum(ZOOM_WEIGHTS) for w in ZOOM_WEIGHTS)


LEAF_SHARE = 1.0 / 128  # a cell estimated to hold more of the rows than this is split, where it can be
ZOOM_FALSE = 0.05  # expected number of empty cells per sibling group taken for data
SPLIT_SIGMAS = 4.0  # a cell is split into children that hold this many noise scales each, on average


@dataclass
class Zoom:
    """The cells a zoom-in histogram measured: a tree whose leaves are the domain's fine cells.

    Each cell has its interval, its estimate (the inverse-variance average of every noisy count of
    it: a cell left whole is measured again at each later level), that estimate's variance, its
    parent (-1: a cell of the first grid) and its children.
    """

    lo: list[float]
    hi: list[float]
    y: list[float]
    v: list[float]
    parent: list[int]
    children: dict[int, list[int]]
    total: float  # the estimate of the rows the cells hold (non-NULL numbers), and its variance
    total_var: float
    null: float = 0.0
    null_var: float = 0.0
    special: np.ndarray = field(default_factory=lambda: np.zeros(0))
    special_var: np.ndarray = field(default_factory=lambda: np.zeros(0))
    measured: list[int] = field(default_factory=list)

    def leaves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(edges, weights, estimates, their variances) of the leaves, left to right.

        Weights go top-down (``share_out``): each group of siblings shares out what its parent is
        estimated to hold, so a cell's noise never adds mass its parent does not have.
        """
        weight: dict[int, float] = {}

        def visit(ids: list[int], total: float, total_var: float, mass: float) -> None:
            # The children's estimates are weighed against their parent's estimate (like with like:
            # its weight is scaled with its siblings'), then scaled to the weight it was given. So
            # a parent given no weight gives none (share_out leaves a zero total unscaled: its clear
            # children kept their estimates).
            w = share_out(np.array([self.y[i] for i in ids]), np.array([self.v[i] for i in ids]), total, total_var)
            if w.sum() > 0:
                w = w * (mass / w.sum())
            for i, wi in zip(ids, w):
                weight[i] = float(wi)
                if i in self.children:
                    visit(self.children[i], self.y[i], self.v[i], wi)

        visit([i for i in range(len(self.lo)) if self.parent[i] < 0], self.total, self.total_var, self.total)
        leaves = sorted((i for i in range(len(self.lo)) if i not in self.children), key=lambda i: self.lo[i])
        edges = np.array([self.lo[i] for i in leaves] + [self.hi[leaves[-1]]])
        return (edges, np.array([weight[i] for i in leaves]), np.array([self.y[i] for i in leaves]),
                np.array([self.v[i] for i in leaves]))


def zoom(data: ColumnData, first: np.ndarray, *, step: float | None, sigmas: tuple[float, ...], n_hat: float,
         n_var: float, floating: bool, rng: np.random.Generator, to_lattice: bool = False) -> Zoom:
    """A hierarchical histogram that zooms in where the values are dense.

    Level 1 counts the cells of `first`; at each later level every cell estimated to hold more
    than LEAF_SHARE of the rows, well clear of its noise, and wider than one lattice point (`step`)
    is split into CHILDREN cells (with `to_lattice`: every cell clear of its noise, into its lattice
    points), and the new partition is counted again: children, cells left
    whole, NULL and (FLOAT, DOUBLE) NaN, +inf and -inf. Each level is a histogram over a partition
    of the rows fixed by earlier releases (sensitivity 1), with noise `sigmas[level]`; which cells
    are split is a function of released counts only.
    """
    g0 = len(first) - 1
    tree = Zoom(lo=list(first[:-1]), hi=list(first[1:]), y=[0.0] * g0, v=[math.inf] * g0, parent=[-1] * g0,
                children={}, total=0.0, total_var=0.0, null=0.0, null_var=math.inf,
                special=np.zeros(len(SPECIALS) if floating else 0),
                special_var=np.full(len(SPECIALS) if floating else 0, math.inf))
    current = list(range(g0))
    for level, sigma in enumerate(sigmas):
        if level:
            current = split(tree, current, step, n_hat, sigma, to_lattice)
        edges = np.array([tree.lo[i] for i in current] + [tree.hi[current[-1]]])
        extra = 1 + len(tree.special)
        noise = discrete_gaussian(sigma, len(current) + extra, rng)
        counts = data.histogram(Cells(edges)) + noise[:len(current)]
        for i, c in zip(current, counts):
            tree.y[i], tree.v[i] = combine(tree.y[i], tree.v[i], float(c), sigma**2)
        tree.null, tree.null_var = combine(tree.null, tree.null_var, data.null_count() + float(noise[len(current)]),
                                           sigma**2)
        if floating:
            for k, c in enumerate(data.special_counts() + noise[len(current) + 1:]):
                tree.special[k], tree.special_var[k] = combine(tree.special[k], tree.special_var[k], float(c),
                                                               sigma**2)
        tree.measured.append(len(current) + extra)
    tree.total = n_hat - tree.null - float(np.maximum(tree.special, 0).sum())
    tree.total_var = n_var + tree.null_var + float(tree.special_var.sum())
    return tree


def split(tree: Zoom, current: list[int], step: float | None, n_hat: float, sigma: float,
          to_lattice: bool = False) -> list[int]:
    """The next level's partition: `current` with each heavy cell replaced by its children.

    A cell is split into as many children as its estimate fills with SPLIT_SIGMAS of the next
    level's noise `sigma` each (at most CHILDREN, and whole lattice points each). The two cells at
    the ends of what the data holds (the first and the last clear of their noise) are split into
    CHILDREN however light they are: where the values start and stop is found at the finest width
    the levels reach, so that values drawn in an end cell do not spill past the real range (a year
    column whose first cell spanned 1968-1976 over rows from 1975 on put 1 % of its values before it).
    """
    out = []
    z = gaussian_tail_z(ZOOM_FALSE / max(len(current), 1))
    clear = [i for i in current if tree.y[i] > z * math.sqrt(tree.v[i])]
    ends = {clear[0], clear[-1]} if clear else set()
    for i in current:
        y, sd = tree.y[i], math.sqrt(tree.v[i])
        parts = CHILDREN if i in ends or to_lattice else int(np.clip(y / (SPLIT_SIGMAS * sigma), 1, CHILDREN))
        edges = split_cell(tree.lo[i], tree.hi[i], parts, step) if parts > 1 else np.array([0.0, 1.0])
        heavy = y > z * sd if to_lattice else y > max(z * sd, LEAF_SHARE * n_hat)
        if (i in ends or heavy) and len(edges) > 2:
            kids = []
            for a, b in zip(edges[:-1], edges[1:]):
                tree.lo.append(float(a))
                tree.hi.append(float(b))
                tree.y.append(0.0)
                tree.v.append(math.inf)
                tree.parent.append(i)
                kids.append(len(tree.lo) - 1)
            tree.children[i] = kids
            out += kids
        else:
            out.append(i)
    return out


def combine(y0: float, v0: float, y1: float, v1: float) -> tuple[float, float]:
    """The inverse-variance average of two unbiased estimates of one count, and its variance."""
    if math.isinf(v0) or v1 == 0:
        return y1, v1
    if math.isinf(v1) or v0 == 0:
        return y0, v0
    return (y0 / v0 + y1 / v1) / (1 / v0 + 1 / v1), 1 / (1 / v0 + 1 / v1)


def share_out(y: np.ndarray, v: np.ndarray, total: float, total_var: float, z: float | None = None) -> np.ndarray:
    """Weights of sibling cells that share `total` (its variance `total_var`), from their estimates.

    A cell whose estimate is well clear of its noise keeps it. What the other cells hold is estimated
    twice, as the parent's total less the clear cells and as the sum of their own estimates, and
    the two are averaged by inverse variance (the first alone is noisy where many cells are clear,
    and a thin tail, each of whose cells is lost in the noise, was lost with it). That estimate is
    spread over the other cells (by their positive estimates) only when it is itself well clear of
    the noise: so an empty region gets nothing, where taking each cell's positive part would give
    every empty cell about 0.4 sigma. Where no cell is clear and neither is what they hold together
    (a light cell at an end of the data, split by ``split``), the parent's share is not lost but
    shared out half by half (``allot``). The weights are then scaled to sum to the parent's (positive) total.
    """
    if z is None:
        z = gaussian_tail_z(ZOOM_FALSE / len(y))
    sig = y > z * np.sqrt(v)
    w = np.where(sig, y, 0.0)
    faint = ~sig
    if faint.any():
        rest, rest_var = combine(total - w.sum(), total_var + v[sig].sum(), y[faint].sum(), v[faint].sum())
        if rest > z * math.sqrt(rest_var):
            share = np.where(faint, np.maximum(y, 0.0), 0.0)
            if share.sum() <= 0:
                share = faint.astype(np.float64)
            w += rest * share / share.sum()
    if w.sum() <= 0 < total:  # nothing clear: the parent's share is not lost, but shared out half by half
        w = allot(y, v, total, total_var, z)
    if w.sum() > 0 and total > 0:
        w *= total / w.sum()
    return w


def allot(y: np.ndarray, v: np.ndarray, mass: float, mass_var: float, z: float) -> np.ndarray:
    """Share `mass` (its variance `mass_var`) over cells in their order, none of which is clear of
    its noise on its own, as ``share_out`` shares a parent over its children: over the two halves
    of the cells (a half's estimate is the sum of its cells', whose noise grows only as the root
    of its width, so rows in a few neighbouring cells are clear of it where each cell is not),
    then over the halves of each half. So the share of a light end cell goes to the side of it
    that holds its rows, not evenly past the end of the data. Post-processing of the same noisy
    counts. (Used on every group of faint cells, it cost credit's thin-tailed Income its tail:
    an unclear half is not an empty one.)
    """
    if mass <= 0:  # a half given nothing passes nothing on (share_out leaves a zero total unscaled)
        return np.zeros(len(y))
    if len(y) <= 2:
        share = np.maximum(y, 0.0)
        if share.sum() <= 0:
            share = np.ones_like(y)
        return mass * share / share.sum()
    h = len(y) // 2
    halves_y = np.array([y[:h].sum(), y[h:].sum()])
    halves_v = np.array([v[:h].sum(), v[h:].sum()])
    w = share_out(halves_y, halves_v, mass, mass_var, z)  # sums to `mass`: share_out falls back on allot of the halves
    return np.concatenate([allot(y[:h], v[:h], float(w[0]), float(halves_v[0]), z),
                           allot(y[h:], v[h:], float(w[1]), float(halves_v[1]), z)])


RANGE_FALSE = 0.001  # expected number of empty power-of-two buckets taken for data, per column
RANGE_GAP = 2  # empty buckets allowed inside a run of populated ones
LONE_BUCKET_FACTOR = 1.5  # a run of one bucket needs 1.5x the bar (about 6.5 sigma)
RANGE_NEIGHBOUR_Z = 2.0  # a bucket next to the range joins it above this many sigma


def private_range(counts: np.ndarray, *, sigma: float, rng: np.random.Generator | None,
                  buckets: PowersOfTwo = POW2, integer: bool = False, least: float = 0.0,
                  noised: bool = False) -> tuple[float, float, float]:
    """(lo, hi, smallest positive edge) from a noisy histogram on signed powers of two.

    `counts` is the column's exact histogram over `buckets`; noise of scale `sigma` is added here
    (with `noised`, `counts` is the noisy histogram already, drawn at that scale).

    On each side of zero the range spans every run of significant buckets (gaps of
    up to RANGE_GAP buckets allowed); a run of a single bucket must pass a higher
    bar, so that a lone false bucket far from the data cannot stretch the range.
    Buckets wholly below `least` (public: the smallest magnitude a value other than zero can have,
    the step of the lattice the values are written on; 1 with `integer`, the type) can hold nothing
    and are passed over, so that the bucket around zero is the neighbour of the first that can: [1, 2)
    for whole numbers.
    """
    nb = buckets.size
    noisy = counts if noised else counts + discrete_gaussian(sigma, nb, rng)
    least = max(least, 1.0) if integer else least
    sides = [np.array([b for b in side if can_hold(buckets, b, least)], dtype=np.int64)
             for side in (np.arange(buckets.zero + 1, nb), np.arange(buckets.zero - 1, -1, -1))]
    # The bar of the standard buckets (to 2^62) for every type: buckets past 2^63 (wide types) lie
    # where almost no data does, and a higher bar for all would cut the thin tails of the rest.
    z = gaussian_tail_z(RANGE_FALSE / POW2.size)
    sig = noisy > z * sigma
    zero = bool(sig[buckets.zero])
    chosen: list[int] = [buckets.zero] if zero else []
    for side in sides:  # outward from zero
        hits = [i for i, b in enumerate(side) if sig[b]]
        runs: list[list[int]] = []
        for h in hits:  # runs of significant buckets, gaps of up to RANGE_GAP allowed
            if runs and h - runs[-1][-1] <= RANGE_GAP + 1:
                runs[-1].append(h)
            else:
                runs.append([h])
        for k, run in enumerate(runs):
            # A lone bucket far from the rest must be far above the bar to count as data; one within the
            # gap of a significant bucket around zero is in a run with it (an integer column of counts:
            # its [1, 2) beside its zeros; the side's first bucket is 0, the place before it is zero's).
            beside_zero = k == 0 and zero and run[0] <= RANGE_GAP
            if len(run) > 1 or beside_zero or noisy[side[run[0]]] > LONE_BUCKET_FACTOR * z * sigma:
                chosen += [int(side[run[0]]), int(side[run[-1]])]
    if not chosen and sig.any():
        # Only lone buckets, none above the lone bar: that bar keeps a false bucket from stretching a
        # range found elsewhere, and there is none. The highest significant one (a column of 85 % NULLs
        # whose 1,500 values fill three octaves got [-1, 1], every value decoded as 1).
        chosen = [int(np.argmax(np.where(sig, noisy, -np.inf)))]
    if not chosen:  # no signal at all: a unit range around zero rather than a bucket of pure noise
        return -1.0, 1.0, 1.0
    # Tails thinner than the bar still hold rows (a skewed column's top octave often holds a few
    # percent of a small table): from each end, take the next bucket out while its noisy count
    # passes a lower bar. Only neighbours, so a false one costs an octave of range, not a stretch
    # to a far-away bucket; leaves over it that turn out empty leave the domain (``private_numeric_domain``).
    bar = RANGE_NEIGHBOUR_Z * sigma
    for side in sides:  # by magnitude, outward
        on = [i for i, b in enumerate(side) if b in chosen]
        if not on and not zero:
            continue
        # Outward from the outermost bucket chosen; on a side with none, from a significant bucket
        # around zero (its place is -1, before the side's first bucket), not one that joined as a neighbour.
        out = max(on, default=-1)
        while out + 1 < len(side) and noisy[side[out + 1]] > bar:
            out += 1
        if out >= 0:
            chosen.append(int(side[out]))
        if not on:
            continue
        inward = min(on)
        while inward > 0 and noisy[side[inward - 1]] > bar:
            inward -= 1
        chosen.append(int(side[inward]))
        if inward == 0 and noisy[buckets.zero] > bar:  # the bucket around zero is the next one in
            chosen.append(buckets.zero)
    lo = min(buckets.edges(b)[0] for b in chosen)
    hi = max(buckets.edges(b)[1] for b in chosen)
    if set(chosen) == {buckets.zero} and least < buckets.edges(buckets.zero)[1]:
        # Only the bucket around zero, on no lattice that puts its values at zero: the values are all under
        # 2^-20 (1e-12, or -4.9e-7 to 0), of either sign; the whole bucket, for the descent to narrow
        # (``descend``). Stopped at zero, a column of -4.9e-7 to 0 came back as 0 to 5e-10, and one of 0 to
        # 3e-12 over 0 to 5e-11.
        return lo, hi, hi
    # The bucket around zero reaches 2^-20 on both sides: without a bucket beyond it on a side, the
    # range stops at zero there (an integer column of counts from 0 must not get -1).
    if lo == buckets.edges(buckets.zero)[0]:
        lo = 0.0
    if hi == buckets.edges(buckets.zero)[1]:
        hi = 0.0 if lo < 0 else hi
    pos = [buckets.edges(b)[0] for b in chosen if b > buckets.zero]
    return lo, hi, (min(pos) if pos else hi)


UNEXPLAINED_WINDOW = 8  # the most octaves a window of rows the range missed spans


def can_hold(buckets: PowersOfTwo, b: int, least: float) -> bool:
    """Whether a value other than zero can fall in bucket b, where no such value is under `least` in
    magnitude (public: a lattice's step, 1 for an integer type)."""
    return max(abs(e) for e in buckets.edges(b)) > least


def with_unexplained(noisy: np.ndarray, buckets: PowersOfTwo, lo: float, hi: float, pos_lo: float, *, sigma: float,
                     least: float, n_hat: float, n_var: float, null: float, null_var: float
                     ) -> tuple[float, float, float]:
    """(lo, hi, pos_lo) of ``private_range``, grown to take in rows it missed: where the row count less
    the noisy NULL count and the noisy counts of the octaves inside the range is clear of its noise
    (at the range step's false rate), the range reaches out to the window of at most UNEXPLAINED_WINDOW
    adjacent octaves outside it, on the side of zero the range lies (both where it spans zero), whose
    noisy sum is the most sigmas up, if that is over the bar that all such windows of empty octaves
    together pass at the range step's false rate.

    Thin values over many octaves beside a mass of zeros (a debt column of 83 % zeros, its other 17 %
    over ten octaves of 2-215 rows each) pass no octave's bar, and the range was zero alone: every value
    came back 0. The rows are known to exist before it is known where. Post-processing of released
    counts."""
    holds = [b for b in range(buckets.size) if b == buckets.zero or can_hold(buckets, b, least)]

    def inside(b: int) -> bool:
        return inside_range(buckets, b, lo, hi)

    left, sd = range_left(noisy, buckets, lo, hi, sigma=sigma, least=least, n_hat=n_hat, n_var=n_var, null=null,
                          null_var=null_var)
    if left <= gaussian_tail_z(RANGE_FALSE) * sd:
        return lo, hi, pos_lo
    sides = []
    if hi > 0:
        sides.append([b for b in holds if b > buckets.zero])
    if lo < 0:
        sides.append([b for b in holds if b < buckets.zero][::-1])
    windows = []
    for side in sides:
        place = {b: j for j, b in enumerate(side)}
        out = [b for b in side if not inside(b)]
        for i in range(len(out)):
            total = 0.0
            for k in range(min(UNEXPLAINED_WINDOW, len(out) - i)):
                if k and place[out[i + k]] != place[out[i + k - 1]] + 1:
                    break  # not adjacent: the range lies between
                total += float(noisy[out[i + k]])
                windows.append((total / (sigma * math.sqrt(k + 1)), out[i:i + k + 1]))
    if not windows:
        return lo, hi, pos_lo
    score, window = max(windows, key=lambda w: w[0])
    if score <= gaussian_tail_z(RANGE_FALSE / len(windows)):
        return lo, hi, pos_lo
    edges = [e for b in window for e in buckets.edges(b)]
    positive_before = hi > buckets.edges(buckets.zero)[1]
    lo, hi = min(lo, min(edges)), max(hi, max(edges))
    positive = [e for e in edges if e > 0]
    if positive:
        pos_lo = min(pos_lo, min(positive)) if positive_before else min(positive)
    return lo, hi, pos_lo


def inside_range(buckets: PowersOfTwo, b: int, lo: float, hi: float) -> bool:
    """Whether the range [lo, hi] holds bucket b (the bucket around zero: where the range holds zero)."""
    a, z = buckets.edges(b)
    return (lo <= 0.0 <= hi) if b == buckets.zero else (a >= lo and z <= hi)


def range_left(noisy: np.ndarray, buckets: PowersOfTwo, lo: float, hi: float, *, sigma: float, least: float,
               n_hat: float, n_var: float, null: float, null_var: float) -> tuple[float, float]:
    """``rows_left`` of a range: the row count less the noisy NULL count and the noisy counts of the
    octaves [lo, hi] holds (those that can hold a value: `least`), and its standard deviation."""
    within = [b for b in range(buckets.size)
              if (b == buckets.zero or can_hold(buckets, b, least)) and inside_range(buckets, b, lo, hi)]
    return rows_left(n_hat, n_var, null, null_var, noisy[within], sigma**2)


def exact_range(s: np.ndarray, least: int = MIN_GROUP) -> tuple[float, float, float]:
    """(lo, hi, smallest positive) of the values `s`, in ascending order (``ColumnData.sorted_values``),
    with the `least` - 1 most extreme on each side clipped (balanced mode; MIN_GROUP, or a unit's ``group_least``)."""
    k = min(least - 1, (len(s) - 1) // 2)
    lo, hi = float(s[k]), float(s[len(s) - 1 - k])
    pos = s[np.searchsorted(s, 0.0, side="right"):]
    return lo, hi, float(pos[min(k, len(pos) - 1)]) if len(pos) else hi


def choose_lattice(col: Column, data: ColumnData, *, sigma: float | None, rng: np.random.Generator | None,
                   nonzero: bool = False, kept: list | None = None) -> tuple[int | None, float | None]:
    """(decimals, time unit) of a numeric or temporal column: a number's decimal places (at most a
    DECIMAL's scale), a TIMESTAMP's or TIME's unit, neither for a DATE (its unit is a day). Runs
    whatever the values, even on an all-NULL column: the branch must not depend on data. `nonzero`:
    values other than zero are known to be there (``choose_decimals``)."""
    if col.kind == "numeric":
        decimals = choose_decimals(data.histogram(DecimalPlaces.of(col)), sigma=sigma, rng=rng, integer=col.integer,
                                   nonzero=nonzero, kept=kept)
        if col.scale is not None and decimals is not None:
            decimals = min(decimals, col.scale)
        if col.integer and decimals is not None:  # an integer type holds no fractions (public): the noise of the
            # finer buckets took deliveries' `item_17` (0-3, 91 % zeros) to 3 decimals at eps = 1, and its
            # values, drawn on thousandths and cast, came back half 0 and half 1
            decimals = min(decimals, 0)
        return decimals, None
    if col.type.upper() == "DATE":
        return None, None
    return None, choose_unit(data.histogram(TIME_UNIT_BUCKETS), sigma=sigma, rng=rng)


def writable(decimals: int | None, lo: float, hi: float) -> int | None:
    """`decimals`, or None (no lattice) where a point of it past the range's ends is beyond the largest
    float (1e308 with one decimal: its lattice index is infinite, and balanced mode raised OverflowError)."""
    if decimals is None or decimals <= 0:
        return decimals
    return decimals if math.isfinite(max(abs(lo), abs(hi)) * 10.0**decimals) else None


LATTICE_FALSE = 0.05  # expected number of empty lattice buckets (decimal places, time units) taken for data


def covering(counts: np.ndarray, *, sigma: float | None, rng: np.random.Generator | None,
             cover: float = 0.95, kept: list | None = None, clear: bool = False) -> int | None:
    """The first bucket at which the buckets so far hold `cover` of the values (None: no values); with `clear`
    and noise, the first past which the rows left are not more than 1 - cover of them by a sd of their noise.

    `counts` is an exact histogram; with `sigma`, noise is added here, and buckets under a bar
    that an empty one passes with probability LATTICE_FALSE / len(counts) are taken for empty:
    noise in the empty buckets past the true one would otherwise add up to more than 1 - cover of
    the rows. (At 2 sigma, one column in ten of a small wide table got a lattice a hundred times
    too fine, and its few values came back spread over the cells around them.)
    """
    if sigma is not None:
        counts = counts + discrete_gaussian(sigma, len(counts), rng)
        counts = np.where(counts >= gaussian_tail_z(LATTICE_FALSE / len(counts)) * sigma, counts, 0.0)
    counts = np.maximum(counts, 0.0)
    if kept is not None:  # the counts read (noisy, those under the bar zero): a released figure
        kept.append(counts)
    total = counts.sum()
    if total <= 0:
        return None
    if clear and sigma is not None:
        past = total - np.cumsum(counts)  # the rows past each bucket, and the buckets holding them
        after = np.append(np.cumsum((counts > 0)[::-1])[::-1][1:], 0)
        return int(np.argmax(past - sigma * np.sqrt(after) <= (1 - cover) * total))
    return int(np.argmax(np.cumsum(counts) / total >= cover))


def choose_decimals(counts: np.ndarray, *, sigma: float | None, rng: np.random.Generator | None,
                    cover: float = 0.95, integer: bool = False, nonzero: bool = False,
                    kept: list | None = None) -> int | None:
    """The fewest decimals that write at least `cover` of the values other than zero (a histogram over
    ``DecimalPlaces``, noisy in DP modes); None when they are continuous (more than MAX_DECIMALS).

    Zero (the histogram's last cell) is written with any number of decimals, and does not vote: a
    count column of 97 % zeros took the lattice of multiples of 1,000 and lost its ones and twos. With
    no other value clear of the noise, the zeros' own: a whole number for an integer type (its type's
    lattice, public), else multiples of 10^MIN_DECIMALS (None: no zero either); but where values other
    than zero are known to be there (`nonzero`, from the range step's released counts), none: a lattice
    of thousands would write them all as 0 (cars' `pollution1`, 75 % zeros, the rest 0.1-0.6 split over
    one and two decimals, got it in 6 % of draws at eps 1, and came back all zeros)."""
    k = covering(counts[:-1], sigma=sigma, rng=rng, cover=cover, kept=kept)
    if k is None:
        if covering(counts[-1:], sigma=sigma, rng=rng, cover=cover) is None:
            return None
        return 0 if integer else (None if nonzero else MIN_DECIMALS)
    k += MIN_DECIMALS
    return None if k > MAX_DECIMALS else k


def choose_unit(counts: np.ndarray, *, sigma: float | None, rng: np.random.Generator | None,
                cover: float = 0.95) -> float | None:
    """The coarsest time unit that at least `cover` of the values are whole numbers of (a noisy
    histogram over ``TimeUnits`` in DP modes); None for microseconds. A finer unit only where the rows it
    writes are more than 1 - cover of them by a sd of their noise (`clear`): an empty bucket's noise past the bar
    is more than 5 % of a few thousand rows, and took whole-second times to microseconds, every value then off its
    unit (1.4 % of such columns at sigma 66 on 3,000 rows: the fuzz sweep of 50cd76f; 0.03 % now). (Decimals keep
    the plain rule: the same test cost credit and cars real tenths, docs/experiments.md.)"""
    k = covering(counts, sigma=sigma, rng=rng, cover=cover, clear=True)
    return None if k is None or k == len(TIME_UNITS) - 1 else TIME_UNITS[k]
