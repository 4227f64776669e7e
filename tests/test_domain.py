"""Tests for the domains (engine/domain.py) and their discovery (privacy/discovery.py): categorical discovery,
public domains, numeric binning, decoding ranges."""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from duckdb_synth.engine.data import ArrayColumn
from duckdb_synth.engine.decode import decode_numeric
from duckdb_synth.engine.domain import (CategoricalDomain, Cells, NumericDomain, decimal_places, grid, merge_bins,
                                        public_domain)
from duckdb_synth.engine.schema import classify
from duckdb_synth.privacy.discovery import (DECIMAL_PLACES, MAX_CATEGORIES_DP, MAX_CATEGORIES_EXACT, MIN_GROUP, POW2,
                                            NumericNoise, categorical_domain, choose_decimals, exact_numeric_domain,
                                            exact_range, private_numeric_domain, private_range)
from duckdb_synth.privacy.measure import bin_counts
from duckdb_synth.privacy.noise import discrete_gaussian_pmf, threshold

VARCHAR = classify("city", "VARCHAR")


def strings(counts: dict[str, int], nulls: int = 0, seed: int = 0) -> pa.Array:
    values = [v for v, k in counts.items() for _ in range(k)] + [None] * nulls
    order = np.random.default_rng(seed).permutation(len(values))
    return pa.array([values[i] for i in order], type=pa.string())


# ---------------------------------------------------------------- categorical, balanced mode


@pytest.mark.parametrize("seed", range(10))
def test_balanced_keeps_exactly_values_with_min_group_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    counts = {f"v{i}": int(k) for i, k in enumerate(rng.integers(1, 12, size=int(rng.integers(1, 40))))}
    arr = strings(counts, nulls=int(rng.integers(0, 8)), seed=seed)
    dom = categorical_domain(VARCHAR, ArrayColumn(arr), sigma=None, delta=0.0, rng=rng)
    assert set(dom.values) == {v for v, k in counts.items() if k >= MIN_GROUP}
    assert list(dom.values) == sorted(dom.values)
    assert dom.other and dom.null
    assert dom.size == len(dom.values) + 2


def test_balanced_never_keeps_a_value_below_min_group_even_with_nulls() -> None:
    arr = strings({"a": MIN_GROUP - 1, "b": MIN_GROUP, "c": 1}, nulls=50)
    dom = categorical_domain(VARCHAR, ArrayColumn(arr), sigma=None, delta=0.0, rng=np.random.default_rng(0))
    assert dom.values == ("b",)


def test_balanced_caps_the_number_of_values_at_the_most_frequent() -> None:
    counts = {f"v{i:03d}": MIN_GROUP + i for i in range(MAX_CATEGORIES_EXACT + 30)}
    dom = categorical_domain(VARCHAR, ArrayColumn(strings(counts)), sigma=None, delta=0.0, rng=np.random.default_rng(0))
    assert len(dom.values) == MAX_CATEGORIES_EXACT
    assert set(dom.values) == {f"v{i:03d}" for i in range(30, MAX_CATEGORIES_EXACT + 30)}


@pytest.mark.parametrize("sigma, cap", [(None, MAX_CATEGORIES_EXACT), (0.0001, MAX_CATEGORIES_DP)])
def test_the_cap_breaks_ties_by_value_not_by_row_order(sigma, cap) -> None:
    """Equal counts at the cap: the values kept must not depend on which rows come first."""
    counts = {f"v{i:03d}": 20 for i in range(cap + 40)}
    kept = []
    for seed in range(3):  # three row orders
        arr = strings(counts, seed=seed)
        kept.append(categorical_domain(VARCHAR, ArrayColumn(arr), sigma=sigma, delta=1e-6,
                                       rng=np.random.default_rng(0)).values)
    assert kept[0] == kept[1] == kept[2] == tuple(f"v{i:03d}" for i in range(cap))


# ---------------------------------------------------------------- categorical, DP mode


def test_dp_singleton_value_is_never_kept_and_frequent_value_always_is() -> None:
    sigma, delta = 10.0, 1e-6  # threshold about 48.5
    assert threshold(sigma, delta) > 45
    arr = strings({"rare": 1, "common": 400, "medium": 200, **{f"pair{i}": 2 for i in range(20)}})
    for seed in range(200):
        dom = categorical_domain(VARCHAR, ArrayColumn(arr), sigma=sigma, delta=delta, rng=np.random.default_rng(seed))
        assert "rare" not in dom.values
        assert not any(v.startswith("pair") for v in dom.values)
        assert {"common", "medium"} <= set(dom.values)


def test_dp_keeps_at_most_max_categories() -> None:
    counts = {f"v{i:03d}": 1000 for i in range(MAX_CATEGORIES_DP + 20)}
    dom = categorical_domain(VARCHAR, ArrayColumn(strings(counts)), sigma=2.0, delta=1e-6, rng=np.random.default_rng(0))
    assert len(dom.values) == MAX_CATEGORIES_DP


THRESHOLD_CASES = [(s, d) for s in (0.5, 1.0, 2.0, 3.3, 10.0, 20.0, 55.3, 100.0) for d in (1e-3, 1e-6, 1e-9)]


@pytest.mark.parametrize("sigma,delta", THRESHOLD_CASES)
def test_singleton_passes_threshold_with_probability_at_most_delta(sigma: float, delta: float) -> None:
    """Exact probability, from the discrete Gaussian pmf, that a count of 1 plus noise reaches the threshold."""
    k = math.ceil(threshold(sigma, delta) - 1.0)  # the noise needed: 1 + x >= threshold
    tail = discrete_gaussian_pmf(sigma, np.arange(k, k + int(60 * sigma) + 60)).sum()
    assert tail <= delta, f"P(pass) = {tail / delta:.3f} delta"


@pytest.mark.parametrize("sigma,delta", THRESHOLD_CASES)
def test_threshold_is_not_needlessly_high(sigma: float, delta: float) -> None:
    """At most one count above the continuous-Gaussian bar 1 + sigma z(delta)."""
    from scipy import stats

    assert threshold(sigma, delta) <= 2.0 + sigma * stats.norm.isf(delta) + 1e-9


# ---------------------------------------------------------------- encode and public domains


def test_categorical_encode() -> None:
    dom = CategoricalDomain(VARCHAR, ("a", "b", "c"), other=True, null=True)
    assert (dom.other_code, dom.null_code, dom.size) == (3, 4, 5)
    codes = dom.encode(pa.array(["c", "a", None, "zzz", "b", "", "A"]))
    np.testing.assert_array_equal(codes, [2, 0, 4, 3, 1, 3, 3])
    chunked = pa.chunked_array([pa.array(["b", None]), pa.array(["q", "a"])])
    np.testing.assert_array_equal(dom.encode(chunked), [1, 4, 3, 0])


def test_categorical_encode_not_null_and_empty_domain() -> None:
    col = classify("c", "VARCHAR", nullable=False)
    dom = CategoricalDomain(col, ("x",), other=True, null=False)
    assert (dom.size, dom.other_code, dom.null_code) == (2, 1, -1)
    np.testing.assert_array_equal(dom.encode(pa.array(["x", "y"])), [0, 1])
    empty = CategoricalDomain(VARCHAR, (), other=True, null=True)
    np.testing.assert_array_equal(empty.encode(pa.array(["x", None])), [0, 1])


def test_public_domain_boolean() -> None:
    dom = public_domain(classify("b", "BOOLEAN"))
    assert dom.values == (False, True) and not dom.other and dom.null
    assert dom.size == 3
    np.testing.assert_array_equal(dom.encode(pa.array([True, False, None, True])), [1, 0, 2, 1])
    strict = public_domain(classify("b", "BOOLEAN", nullable=False))
    assert strict.size == 2 and not strict.null


def test_public_domain_enum() -> None:
    dom = public_domain(classify("e", "ENUM('a', 'b''c', '')"))
    assert dom.values == ("a", "b'c", "") and not dom.other and dom.null
    assert dom.size == 4
    np.testing.assert_array_equal(dom.encode(pa.array(["", "b'c", None, "a"])), [2, 1, 3, 0])
    assert public_domain(classify("e", "ENUM('x')", nullable=False)).size == 1


@pytest.mark.parametrize("type_", ["VARCHAR", "UUID", "INTEGER", "DOUBLE", "DATE", "DECIMAL(10,2)"])
def test_public_domain_is_none_for_data_dependent_types(type_: str) -> None:
    assert public_domain(classify("x", type_)) is None


# ---------------------------------------------------------------- numeric: exact (balanced) mode


def exact_numeric(type_: str, x: np.ndarray, nullable: bool = True, nbins: int = 32,
                  max_cells: int = 1024) -> NumericDomain:
    return exact_numeric_domain(classify("x", type_, nullable), ArrayColumn(x), nbins=nbins, max_cells=max_cells)


def private_numeric(type_: str, x: np.ndarray, rng: np.random.Generator, *, sigma: float = 5.0, nbins: int = 24,
                    n_hat: float | None = None) -> NumericDomain:
    """A DP domain whose steps each have noise `sigma` (the zoom's levels a little more)."""
    noise = NumericNoise(range=sigma, lattice=sigma, zoom=1.0 / (2 * sigma**2), values_delta=1e-7)
    dom, _ = private_numeric_domain(classify("x", type_), ArrayColumn(x), noise=noise,
                                    n_hat=float(len(x)) if n_hat is None else n_hat, nbins=nbins, rng=rng)
    return dom


@pytest.mark.parametrize("type_", ["INTEGER", "BIGINT", "SMALLINT", "DECIMAL(6,0)"])
@pytest.mark.parametrize("seed", range(3))
def test_exact_integer_ages_decode_to_integers_inside_the_data_range(type_: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(18, 91, size=3000).astype(float)
    x[rng.random(3000) < 0.05] = np.nan
    dom = exact_numeric(type_, x)
    assert dom.decimals == 0  # integers from 18 to 90: whole numbers, not multiples of 10
    assert dom.nbins <= 32 and dom.size == dom.nbins + 1
    codes = rng.integers(0, dom.size, size=20_000)
    out = decode_numeric(dom, codes, rng).to_pylist()
    isnull = codes == dom.null_code
    assert all((v is None) == bool(k) for v, k in zip(out, isnull))
    vals = np.array([v for v in out if v is not None], dtype=float)
    assert np.all(vals == np.round(vals))
    assert vals.min() >= 18 and vals.max() <= 90
    # Each bin decodes inside its own cells.
    for b in range(dom.nbins):
        cells = np.flatnonzero(dom.cell_bin == b)
        got = np.array([v for v, k in zip(out, codes) if k == b], dtype=float)
        assert got.min() >= dom.edges[cells.min()] and got.max() < dom.edges[cells.max() + 1]


def _quantile_data(kind: str, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    if kind == "integers":  # wide, skewed: a geometric grid whose cells hold many integers
        return "INTEGER", np.floor(rng.lognormal(7, 1.2, 20_000))
    if kind == "lattice":  # two decimals, heavy ties on round values
        x = np.round(rng.lognormal(-0.5, 0.6, 20_000), 2)
        tied = rng.random(20_000) < 0.2
        x[tied] = rng.choice([0.3, 0.5, 1.0], size=int(tied.sum()))
        return "DOUBLE", x
    return "DOUBLE", rng.normal(0, 1, 20_000) ** 3  # continuous, no decimal lattice


@pytest.mark.parametrize("kind", ["integers", "lattice", "continuous"])
@pytest.mark.parametrize("seed", range(3))
def test_exact_bins_split_at_the_quantiles_so_coarser_quantile_bins_are_unions(kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    type_, x = _quantile_data(kind, rng)
    dom = exact_numeric(type_, x, nbins=32)
    codes = dom.encode(x)
    inside = (x >= dom.edges[0]) & (x < dom.edges[-1])  # the clipped extremes aside
    for nq in (2, 4, 8, 16, 32):
        for q in np.quantile(x, np.linspace(0, 1, nq + 1)[1:-1]):
            low, high = codes[inside & (x < q)], codes[inside & (x >= q)]
            if len(low) and len(high):
                assert low.max() < high.min(), (nq, q)
    # And the bins still hold about equal shares.
    counts = np.bincount(codes[inside], minlength=dom.nbins)
    assert counts.max() <= 3 * len(x) / 32 or kind == "lattice"


def _sparse_data(kind: str, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    if kind == "fahrenheit":  # half degrees Celsius written in Fahrenheit: 0.9 apart on a lattice of 0.01
        return "DOUBLE", np.round(np.round(rng.normal(12, 9, 20_000) * 2) / 2 * 1.8 + 32, 2)
    if kind == "integers":  # tens: cells holding several integers, one of them taken
        return "INTEGER", np.floor(rng.lognormal(5, 0.5, 20_000)) * 10
    return "DOUBLE", np.round(rng.lognormal(3, 1, 20_000)) * 0.25  # quarters on a lattice of 0.01


@pytest.mark.parametrize("kind", ["fahrenheit", "integers", "quarters"])
@pytest.mark.parametrize("seed", range(3))
def test_exact_bins_decode_on_the_right_side_of_every_coarser_quantile(kind: str, seed: int) -> None:
    # A decoded value must fall in the same 1/16 quantile bin of the real values as the value it
    # stands for: a bin starting a few lattice steps below its smallest value put 5% of weather's
    # temperatures in the bin below.
    rng = np.random.default_rng(seed)
    type_, x = _sparse_data(kind, rng)
    dom = exact_numeric(type_, x, nbins=32)
    codes = dom.encode(x)
    out = np.asarray(decode_numeric(dom, codes, rng).to_numpy(zero_copy_only=False), dtype=float)
    inside = (x >= dom.edges[0]) & (x < dom.edges[-1])  # the clipped extremes aside
    for nq in (4, 16):
        q = np.unique(np.quantile(x, np.linspace(0, 1, nq + 1)[1:-1]))
        real, got = np.searchsorted(q, x[inside], side="right"), np.searchsorted(q, out[inside], side="right")
        assert np.mean(real != got) < 0.002, nq


@pytest.mark.parametrize("seed", range(3))
def test_exact_two_decimal_floats_decode_to_two_decimals(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(100, 20, size=4000), 2)
    dom = exact_numeric("DOUBLE", x)
    assert dom.decimals == 2
    out = decode_numeric(dom, rng.integers(0, dom.nbins, size=5000), rng).to_numpy()
    # On the lattice, but for the few values balanced mode moves half a step off a rare one.
    assert np.mean(np.abs(out * 100 - np.round(out * 100)) < 1e-6) > 0.99
    assert np.all(np.abs(out * 1000 - np.round(out * 1000)) < 1e-6)
    assert out.min() >= x.min() - 0.01 and out.max() <= x.max() + 0.01


def test_decimal_column_never_gets_more_decimals_than_its_scale() -> None:
    x = np.round(np.random.default_rng(0).uniform(0, 50, 2000), 3)
    assert exact_numeric("DOUBLE", x).decimals == 3
    assert exact_numeric("DECIMAL(10,2)", x).decimals == 2


@pytest.mark.parametrize("seed", range(4))
def test_exact_bin_counts_equal_the_encoded_marginal(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.exponential(50, 2000), rng.normal(-20, 3, 500)])
    x[rng.random(len(x)) < 0.1] = np.nan
    dom = exact_numeric(["DOUBLE", "INTEGER"][seed % 2], np.round(x) if seed % 2 else x)
    codes = dom.encode(np.round(x) if seed % 2 else x)
    assert codes.min() >= 0 and codes.max() < dom.size
    y, var = bin_counts(dom)
    np.testing.assert_array_equal(y, np.bincount(codes, minlength=dom.size))
    assert not var.any()
    assert (codes == dom.null_code).sum() == np.isnan(x).sum()


def test_exact_not_null_column_has_no_null_bucket() -> None:
    dom = exact_numeric("INTEGER", np.arange(100, dtype=float), nullable=False)
    assert not dom.null and dom.size == dom.nbins and dom.null_code == -1
    assert len(bin_counts(dom)[0]) == dom.nbins


def test_exact_range_clips_the_most_extreme_values() -> None:
    x = np.concatenate([np.arange(100, dtype=float), [1e9, -1e9]])
    lo, hi, pos = exact_range(np.sort(x))
    k = MIN_GROUP - 1
    s = np.sort(x)
    assert (lo, hi) == (s[k], s[-1 - k])
    assert pos == np.sort(x[x > 0])[k]
    assert exact_range(np.array([3.0])) == (3.0, 3.0, 3.0)


# ---------------------------------------------------------------- numeric: DP pieces


@pytest.mark.parametrize("center,spread", [(1000.0, 100.0), (-500.0, 50.0), (0.0, 10.0), (3.0, 1.0), (1e6, 1e5)])
def test_private_range_contains_most_of_the_data(center: float, spread: float) -> None:
    rng = np.random.default_rng(int(abs(center)) + 1)
    x = rng.normal(center, spread, 20_000)
    lo, hi, pos_lo = private_range(POW2.histogram(x), sigma=5.0, rng=rng)
    inside = ((x >= lo) & (x <= hi)).mean()
    assert inside >= 0.99
    assert hi - lo <= 8 * (np.abs(x).max() + 1)  # not wildly wider than the data
    if hi > 0:  # the smallest positive edge; without positive data it falls back to hi
        assert 0 < pos_lo <= hi
    else:
        assert pos_lo == hi


def test_private_range_keeps_two_clusters_of_magnitudes() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(1, 10, 8000), rng.uniform(1e5, 1e6, 12_000)])  # e.g. counts and amounts
    lo, hi, _ = private_range(POW2.histogram(x), sigma=5.0, rng=rng)
    assert ((x >= lo) & (x <= hi)).mean() >= 0.99, (lo, hi)


def test_private_range_keeps_a_thin_tail_next_to_the_bulk() -> None:
    """A small skewed table (credit's incomes): 6 % of rows in the octave above the bulk, under the
    significance bar for a bucket on its own; the range takes it in, and rarely an empty neighbour."""
    sigma, kept, widened = 70.0, 0, 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        x = np.concatenate([rng.uniform(64, 256, 4000), rng.uniform(256, 512, 270)])
        lo, hi, _ = private_range(POW2.histogram(x), sigma=sigma, rng=rng)
        kept += hi >= 512
        widened += lo < 64 or hi > 512
    assert kept >= 36  # the tail's 270 rows are about 3.9 sigma, the neighbour bar is 2 sigma
    assert widened <= 6  # an empty neighbour passes 2 sigma about 2 % of the time, per end


def test_private_range_with_no_data_above_noise_still_returns_a_range() -> None:
    lo, hi, pos_lo = private_range(POW2.histogram(np.array([5.0])), sigma=50.0, rng=np.random.default_rng(0))
    assert lo < hi and pos_lo > 0


@pytest.mark.parametrize("lo,hi,pos_lo,cells,integer", [
    (0.0, 100.0, 1.0, 50, True), (18.0, 90.0, 18.0, 1024, True), (-50.5, 20.2, 1.0, 64, False),
    (0.0, 1e6, 0.5, 100, False), (1.0, 1e9, 1.0, 200, True), (0.0, 1e9, 3.0, 200, True), (7.0, 7.0, 7.0, 10, True),
    (2.5, 2.5, 2.5, 10, False), (0.0, 0.0, 0.0, 10, False), (-1e12, -1e3, 1e3, 100, True), (0.0, 3.0, 1.0, 500, True),
])
def test_grid_is_increasing_and_covers_the_range(lo: float, hi: float, pos_lo: float, cells: int, integer: bool) -> None:
    edges = grid(lo, hi, pos_lo, cells, integer)
    assert len(edges) >= 2
    assert np.all(np.diff(edges) > 0)
    assert edges[0] <= lo and edges[-1] >= hi
    assert len(edges) - 1 <= cells + 1
    if integer:
        np.testing.assert_array_equal(edges, np.round(edges))
        assert edges[-1] >= math.floor(hi) + 1


def test_grid_is_geometric_for_wide_positive_ranges() -> None:
    edges = grid(0.0, 1e6, 1.0, 60, False)
    ratios = edges[2:] / edges[1:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    assert edges[0] == 0.0


@pytest.mark.parametrize("seed", range(30))
def test_merge_bins(seed: int) -> None:
    rng = np.random.default_rng(seed)
    g = int(rng.integers(1, 80))
    weights = rng.exponential(1.0, g) * (rng.random(g) < 0.7)
    if seed % 5 == 0:
        weights[:] = 0.0
    nbins = int(rng.integers(1, 40))
    labels = merge_bins(weights, nbins)
    assert labels.shape == (g,)
    assert labels[0] == 0
    assert np.all(np.diff(labels) >= 0) and np.all(np.diff(labels) <= 1)  # consecutive, non-decreasing
    assert labels.max() + 1 <= nbins
    w = weights if weights.sum() > 0 else np.ones(g)
    per_bin = np.bincount(labels, weights=w)
    assert per_bin.max() <= w.sum() / nbins + w.max() + 1e-9  # roughly equal weight
    assert (per_bin > 0).all()  # no bin of zero-weight cells only


def test_merge_bins_puts_empty_cells_with_a_held_one() -> None:
    """cars' acceleration: values 2.5, 4.0 and 6.0 on a lattice of 0.1; the empty points between them
    made bins of their own, which the model gave rows drawn evenly over 2.6 .. 3.9."""
    weights = np.zeros(36)
    weights[[0, 15, 35]] = [1406.0, 1781.0, 1476.0]
    labels = merge_bins(weights, 5)
    np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], [15, 20, 1]))
    np.testing.assert_array_equal(merge_bins(np.array([0.0, 0.0, 5.0, 0.0, 5.0]), 2), [0, 0, 0, 0, 1])


def test_merge_bins_equal_weights_are_evenly_split() -> None:
    np.testing.assert_array_equal(merge_bins(np.ones(12), 4), np.repeat(np.arange(4), 3))
    np.testing.assert_array_equal(merge_bins(np.ones(3), 10), [0, 1, 2])


def test_decimal_places_and_choose_decimals() -> None:
    np.testing.assert_array_equal(decimal_places(np.array([1.0, -2.5, 1.25, 123456.789, 0.000001, 1 / 3, 0.1 + 0.2])),
                                  [0, 1, 2, 3, 6, 7, 1])
    # Round numbers: multiples of 10, 100 and 1000 (zero is a multiple of anything).
    np.testing.assert_array_equal(decimal_places(np.array([30.0, -700.0, 5000.0, 123000.0, 0.0, 7.0])),
                                  [-1, -2, -3, -3, -3, 0])
    rng = np.random.default_rng(0)
    assert choose_decimals(DECIMAL_PLACES.histogram(np.round(rng.uniform(0, 9, 1000))), sigma=None, rng=rng) == 0
    two = np.round(rng.uniform(0, 9, 1000), 2)
    assert choose_decimals(DECIMAL_PLACES.histogram(two), sigma=None, rng=rng) in (1, 2)
    assert choose_decimals(DECIMAL_PLACES.histogram(rng.uniform(0, 9, 1000)), sigma=None, rng=rng) is None
    mixed = np.concatenate([np.round(rng.uniform(0, 9, 998), 1) + 0.05 * 0, np.array([0.123, 0.456])])
    assert choose_decimals(DECIMAL_PLACES.histogram(mixed), sigma=None, rng=rng) == 1  # 99.8% written with one decimal


def test_decimal_places_of_large_values_see_their_last_digits() -> None:
    # Until 2026-12-06 a value agreed with its k-decimal rounding when within 1e-9 of x * 10^k, more than
    # a unit past 1e9: milliseconds since 1970 read as multiples of 1,000, cents near a billion as whole.
    x = np.array([1_700_000_000_123.0, 1_700_000_123_000.0, 1_000_000_000.37, 1_000_000_123.5, 2.0**51 + 7,
                  234366.653241, 167844.53125, 1_000_000.123456, 495.44399999827147, 0.1 + 0.2, 1234567.25])
    np.testing.assert_array_equal(decimal_places(x), [0, -3, 2, 1, 0, 6, 5, 6, 3, 1, 2])
    assert decimal_places(np.array([-1_700_000_000_120.0]))[0] == -1
    # A value no decimals write exactly (a FLOAT read as DOUBLE, a computed one) is read to 9 significant
    # digits, as before: the FLOAT of 869.1 written to 15 digits takes 6, 1/3 none.
    np.testing.assert_array_equal(decimal_places(np.array([869.099975585938, 2016.502732240437, 1 / 3])), [6, 6, 7])


def test_round_numbers_are_found_by_division_not_by_a_product_with_its_error() -> None:
    # x * 0.01 for x = 2^52 is 45035996273704.96, five units in its last place from a whole number, which
    # the tolerance for large values passed: 2^52 read as a multiple of 100, the lattice's cells ended
    # below it, and balanced mode drew its 250 rows across [50, 2^52).
    x = np.array([2.0**52, 2.0**52 + 100.0 - 96.0, 1_700_000_000_000.0, 4_503_599_627_370_500.0, 1e17])
    np.testing.assert_array_equal(decimal_places(x), [0, -2, -3, -2, -3])  # MIN_DECIMALS is -3
    rows = np.concatenate([np.zeros(250), np.full(250, 2.0**52)])
    dom = exact_numeric("BIGINT", rows)
    out = decode_numeric(dom, np.repeat(np.arange(dom.nbins), 50), np.random.default_rng(0))
    assert set(out.to_numpy(zero_copy_only=False).tolist()) <= {0, 2**52}


def test_values_near_the_largest_float_get_a_domain_and_come_back_in_balanced_mode() -> None:
    # 1e308 beside values with a decimal: its lattice index overflowed (OverflowError in cell_edges);
    # -1e308 and 1e308 together: the range's width did, and the grid came back NaN (47 NaN rows, the
    # small values lost).
    for x in (np.where(np.arange(500) % 10 == 0, 1e308, (np.arange(500) % 20) * 1.5),
              np.select([np.arange(500) % 10 == 0, np.arange(500) % 10 == 1], [1e308, -1e308], np.arange(500) % 20.0)):
        dom = exact_numeric("DOUBLE", x)
        assert np.isfinite(dom.edges).all()
        w = np.bincount(dom.cell_bin, weights=dom.weights, minlength=dom.nbins)
        codes = np.random.default_rng(0).choice(dom.nbins, size=2000, p=w / w.sum())
        out = decode_numeric(dom, codes, np.random.default_rng(1)).to_numpy(zero_copy_only=False)
        assert np.isfinite(out).all()
        small = (out >= 0) & (out <= 28.5)
        assert abs(np.mean(out == 1e308) - 0.1) < 0.03 and abs(np.mean(small) - np.mean((x >= 0) & (x <= 28.5))) < 0.03


def test_large_integers_and_decimals_keep_their_lattice_in_either_mode() -> None:
    rng = np.random.default_rng(0)
    ms = 1_700_000_000_000.0 + rng.integers(0, 10**9, 3000)  # milliseconds since 1970
    cents = np.round(1e9 + rng.normal(0, 1e5, 3000), 2)
    assert exact_numeric("BIGINT", ms).decimals == 0
    assert exact_numeric("DECIMAL(14,2)", cents).decimals == 2
    assert private_numeric("BIGINT", ms, rng).decimals == 0
    assert private_numeric("DECIMAL(14,2)", cents, rng).decimals == 2


def test_dp_numeric_domain_two_decimals() -> None:
    rng = np.random.default_rng(1)
    x = np.round(rng.normal(100, 20, 20_000), 2)
    dom = private_numeric("DOUBLE", x, rng)
    assert dom.decimals == 2
    assert dom.nbins <= 24
    assert np.all(np.diff(dom.edges) > 0)
    assert dom.edges[0] <= np.quantile(x, 0.005) and dom.edges[-1] >= np.quantile(x, 0.995)
    assert len(dom.cell_counts) == len(dom.cell_var) == len(dom.edges) and (dom.cell_var > 0).all()
    assert (dom.weights >= 0).all() and dom.weights.sum() > 0


@pytest.mark.parametrize("type_, missing", [("DOUBLE", "lattice"), ("INTEGER", "range"), ("TIMESTAMP", "lattice"),
                                            ("DATE", "range")])
def test_dp_numeric_domain_requires_noise_for_each_step(type_: str, missing: str) -> None:
    x = np.round(np.random.default_rng(0).normal(100, 20, 1000), 2)
    noise = {"range": 5.0, "lattice": 5.0, "zoom": 0.02, missing: None}
    with pytest.raises(ValueError, match=missing):
        private_numeric_domain(classify("p", type_), ArrayColumn(x), noise=NumericNoise(**noise), n_hat=1000.0,
                               nbins=8, rng=np.random.default_rng(0))


def test_dp_integer_domain_keeps_integer_edges_and_type_range() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 200, 10_000).astype(float)
    dom = private_numeric("UTINYINT", x, rng, nbins=16)
    np.testing.assert_array_equal(dom.edges, np.round(dom.edges))
    assert dom.edges[0] >= 0 and dom.edges[-1] <= 256
    out = decode_numeric(dom, rng.integers(0, dom.size, 5000), rng).to_pylist()
    vals = [v for v in out if v is not None]
    assert all(isinstance(v, int) and 0 <= v <= 255 for v in vals)


def test_round_numbers_decode_to_round_numbers() -> None:
    """Amounts that are all multiples of 50 come back as multiples of 10 at least (decimals -1)."""
    rng = np.random.default_rng(5)
    x = (rng.integers(2, 100, size=4000) * 50).astype(float)
    dom = exact_numeric("INTEGER", x)
    assert dom.decimals == -1
    out = np.array(decode_numeric(dom, rng.integers(0, dom.nbins, size=5000), rng).to_pylist(), dtype=float)
    assert np.all(out % 10 == 0)
    assert out.min() >= x.min() - 10 and out.max() <= x.max() + 10


# ---------------------------------------------------------------- budget share per column (budget.column_share)


def test_column_share_follows_the_row_count_within_its_bounds() -> None:
    from duckdb_synth.privacy import budget
    from duckdb_synth.privacy.accounting import Accountant, sigma_for
    from duckdb_synth.privacy.noise import threshold

    acct = Accountant.for_budget(1.0, 1e-6)
    d = 10
    lo, hi = budget.SHARE_ONE_WAY_MIN * acct.rho / d, budget.SHARE_ONE_WAY * acct.rho / d
    shares = [budget.column_share(acct, n, d) for n in (100, 2_000, 10_000, 30_000, 100_000, 1e7)]
    assert shares[0] == hi and shares[-1] == lo
    assert all(a >= b for a, b in zip(shares, shares[1:]))  # more rows, less needed
    assert all(lo <= s <= hi for s in shares)
    # Inside the bounds, a value held by 1% of the rows sits exactly at the discovery threshold.
    for n, s in zip((100, 2_000, 10_000, 30_000, 100_000, 1e7), shares):
        if lo < s < hi:
            sigma = sigma_for(s * budget.DISCOVERY_SHARE_CATEGORICAL)
            assert abs(threshold(sigma, acct.delta_threshold / d) - budget.DISCOVERY_FRACTION * n) < 1e-6 * n


def test_a_need_raises_the_floor_of_a_share_not_its_ceiling() -> None:
    """budget.column_share(need=VALUES_NEED): large tables, where the floor binds, give VALUES_NEED times as much;
    small ones, at the ceiling, no more (the domains never take more than SHARE_ONE_WAY of rho)."""
    from duckdb_synth.privacy import budget
    from duckdb_synth.privacy.accounting import Accountant

    acct = Accountant.for_budget(1.0, 1e-6)
    d = 10
    lo, hi = budget.SHARE_ONE_WAY_MIN * acct.rho / d, budget.SHARE_ONE_WAY * acct.rho / d
    assert 3 < budget.VALUES_NEED < 5
    for n in (100, 2_000, 10_000, 30_000, 100_000, 1e7):
        plain, needed = budget.column_share(acct, n, d), budget.column_share(acct, n, d, budget.VALUES_NEED)
        assert needed == pytest.approx(max(plain, min(budget.VALUES_NEED * lo, hi)))
    assert budget.column_share(acct, 1e7, d, budget.VALUES_NEED) == pytest.approx(budget.VALUES_NEED * lo)
    assert budget.column_share(acct, 100, d, budget.VALUES_NEED) == hi


def test_dp_fine_cells_sit_on_the_decimal_lattice() -> None:
    """Values written with 2 decimals in a narrow range: one cell per written value, values decoded back onto them."""
    rng = np.random.default_rng(2)
    spikes = np.array([0.3, 0.31, 0.5, 0.7, 1.0, 1.01])
    x = np.concatenate([rng.choice(spikes, 15_000), np.round(rng.uniform(0.2, 2.0, 5_000), 2)])
    dom = private_numeric("DOUBLE", x, rng, nbins=16)
    assert dom.decimals == 2
    lattice = dom.edges * 100 + 0.5
    assert np.allclose(lattice, np.round(lattice), atol=1e-6)  # edges halfway between written values
    assert np.allclose(np.diff(dom.edges), 0.01)  # 181 values: one cell each
    out = decode_numeric(dom, dom.encode(x), rng).to_numpy(zero_copy_only=False)
    assert np.allclose(out * 100, np.round(out * 100), atol=1e-6)
    for v in spikes:  # each spike keeps its share (it was smeared over neighbours by a value-blind grid)
        assert abs(np.mean(np.isclose(out, v)) - np.mean(np.isclose(x, v))) < 0.01, v


def test_histograms_from_sorted_values_are_the_ones_from_codes(monkeypatch) -> None:
    """Large columns count a grid's cells with a search per edge in their sorted values: the same
    counts as coding every value, ties at edges, values outside the grid and repeated edges included."""
    from duckdb_synth.engine import data as data_mod
    from duckdb_synth.engine.domain import Cells, DecimalPlaces, PowersOfTwo
    rng = np.random.default_rng(0)
    monkeypatch.setattr(data_mod, "SORTED_HISTOGRAM_ROWS", 0)
    for trial in range(60):
        x = np.round(rng.normal(0, 3, int(rng.integers(1, 3000))), int(rng.integers(0, 3)))
        edges = np.unique(np.round(rng.normal(0, 3, int(rng.integers(2, 30))), int(rng.integers(0, 2))))
        if trial % 3 == 0:
            edges = np.sort(np.concatenate([edges, edges[:2]]))
        if len(edges) < 2:
            continue
        cells = Cells(edges)
        want = np.bincount(cells.codes(x), minlength=cells.size).astype(np.float64)
        assert np.array_equal(cells.histogram_sorted(np.sort(x)), want), trial
        col = data_mod.ArrayColumn(np.concatenate([x, [np.nan, np.inf]]))
        assert np.array_equal(col.histogram(cells), want), trial
        # Other buckets from each distinct value once, weighted by its rows (-0.0 and 0.0 alike).
        repeated = data_mod.ArrayColumn(np.concatenate([np.repeat(x, 3), [-0.0, 0.0, np.nan]]))
        finite = np.concatenate([np.repeat(x, 3), [-0.0, 0.0]])
        for buckets in (PowersOfTwo(), DecimalPlaces(single=False), DecimalPlaces(single=True)):
            wanted = np.bincount(buckets.codes(finite), minlength=buckets.size).astype(np.float64)
            assert np.array_equal(repeated.histogram(buckets), wanted), (trial, buckets)


def test_whole_numbers_counted_not_sorted_are_the_sorted_values_and_their_runs(monkeypatch) -> None:
    """`data.sort_counted`: a column of whole numbers spanning few values a row is counted by value, not
    sorted; its sorted values, distinct values and rows are np.sort's and `sorted_runs`' (fractions, wide
    spans, values past 2^52, negative ones and -0.0 included), whichever path a column takes."""
    from duckdb_synth.engine import data as data_mod
    monkeypatch.setattr(data_mod, "COUNTED_ROWS", 10)
    rng = np.random.default_rng(1)
    taken = 0
    for trial in range(80):
        n = int(rng.integers(10, 2000))
        kind = trial % 5
        if kind == 0:
            x = rng.integers(-50, 50, n).astype(np.float64)
        elif kind == 1:
            x = rng.integers(0, 10 * n, n).astype(np.float64)  # a span too wide a row: sorted
        elif kind == 2:
            x = np.round(rng.normal(0, 5, n), 1)  # fractions: sorted
        elif kind == 3:
            x = 2.0**52 + rng.integers(0, 50, n)  # past 2^52: sorted
        else:
            x = np.concatenate([rng.integers(-3, 3, n).astype(np.float64), [-0.0, 0.0, -0.0]])
        got, distinct = data_mod.sort_counted(x)
        assert np.array_equal(got, np.sort(x)), trial
        if distinct is not None:
            taken += 1
            values, rows = data_mod.sorted_runs(np.sort(x))
            assert np.array_equal(distinct[0], values) and np.array_equal(distinct[1], rows), trial
        assert (distinct is not None) == (kind in (0, 4)), trial
        col = ArrayColumn(np.concatenate([x, [np.nan, np.inf]]))
        assert np.array_equal(col.sorted_values(), np.sort(x))
        values, counts = col.value_counts()
        assert values == (data_mod.sorted_runs(np.sort(x))[0] + 0.0).tolist(), trial
    assert taken == 32


@pytest.mark.parametrize("values", [[], [np.nan, np.inf], [2.5, -0.0, 0.0, 2.5, np.nan, -1.0, 0.0, -np.inf, 7.0]])
def test_a_number_columns_value_counts_are_its_distinct_finite_values_and_rows(values):
    col = ArrayColumn(np.array(values, dtype=np.float64), nulls=np.zeros(len(values), dtype=bool))
    got, counts = col.value_counts()
    want, rows = np.unique(np.array([v for v in values if np.isfinite(v)], dtype=np.float64) + 0.0, return_counts=True)
    assert [str(v) for v in got] == [str(v) for v in want.tolist()]  # -0.0 counted as 0.0, written 0.0
    assert counts.tolist() == rows.astype(np.float64).tolist()


@pytest.mark.parametrize("seed", range(6))
def test_numeric_encode_finds_each_values_bin_as_its_cell_does(seed: int) -> None:
    """encode searches the edges where the bin changes (a few), not every cell edge: the same bin as
    the value's fine cell's, below, inside and above the grid, on edges exactly, for bins in order
    or not."""
    rng = np.random.default_rng(seed)
    cells = int(rng.integers(1, 300))
    edges = np.unique(np.round(rng.normal(size=cells + 1) * 10, 1))
    cells = len(edges) - 1
    cell_bin = np.sort(rng.integers(0, max(cells // 4, 1), cells)) if seed % 2 else rng.integers(0, 4, cells)
    dom = NumericDomain(classify("x", "DOUBLE"), edges, np.ones(cells), cell_bin, null=False)
    x = np.concatenate([rng.normal(size=5000) * 15, edges, np.nextafter(edges, -np.inf), [-1e300, 1e300]])
    np.testing.assert_array_equal(dom.encode(x), cell_bin[Cells(edges).codes(x)])


def test_a_constant_column_comes_back_constant_in_balanced_mode() -> None:
    """One value held by every row: its domain is that value's own cell, on its lattice (a whole number, its
    decimals, a day, a second), and no other value comes out. A width of 1 added to it had an INTEGER's 1
    come back as 1 or 2, a DATE a day later, a DOUBLE's 2.5 anywhere in 2.5-3.5."""
    import duckdb
    import duckdb_synth

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 1 AS k, 2.5::DOUBLE AS f, 3.25::DECIMAL(6,2) AS m, DATE '2020-01-01' AS d, "
                "TIMESTAMP '2020-01-01 10:00:00' AS ts, 2147483647 AS top, i % 7 AS b FROM range(3000) r(i)")
    out = duckdb_synth.run(con, "t", seed=1).table
    for name in ("k", "f", "m", "d", "ts", "top"):
        real = con.execute(f"SELECT DISTINCT {name} FROM t").fetchall()
        assert set(out.column(name).to_pylist()) == {real[0][0]}, name


def test_values_many_rows_share_come_back_as_themselves_in_balanced_mode() -> None:
    """A DOUBLE of four values read from FLOATs (RandHIE's `logc`: 0 and three logs, 13 decimals, no lattice)
    came back as thousands of distinct values spread over its cells; an INTEGER on a range too wide for a
    cell per value, holding a spike, came back with the spike's rows spread over the values around it. Each
    value held by MIN_GROUP rows or more now has a cell of its own, decoded to it; values held by fewer
    still never come out."""
    import duckdb
    import duckdb_synth

    rng = np.random.default_rng(0)
    n = 6000
    logs = np.log(np.array([26.0, 52.0, 96.0], dtype=np.float32)).astype(np.float64)  # float32 read as DOUBLE
    logc = rng.choice(np.concatenate([[0.0], logs]), size=n, p=[0.4, 0.3, 0.2, 0.1])
    wide = rng.integers(0, 1_000_000, n)
    wide[: n // 4] = 437_501  # a quarter of the rows on one value of a range of a million
    wide[n // 4: n // 4 + 3] = 999_999  # held by 3 rows: never emitted
    other = rng.integers(0, 5, n)
    con = duckdb.connect()
    con.register("src", pa.table({"logc": logc, "wide": wide, "other": other}))
    con.execute("CREATE TABLE t AS SELECT * FROM src")
    out = duckdb_synth.run(con, "t", seed=1).table
    got = np.asarray(out.column("logc").to_numpy())
    assert set(np.unique(got)) <= set(np.unique(logc))  # thousands of values before
    for v in np.unique(logc):  # each in about its share (controlled rounding: within a row or so of it)
        assert abs((got == v).mean() - (logc == v).mean()) < 0.01
    w = np.asarray(out.column("wide").to_numpy())
    assert abs((w == 437_501).mean() - 0.25) < 0.01  # spread over its cell's values before
    assert not (w == 999_999).any()


def test_no_point_stands_for_a_rare_value_past_float64_precision_in_balanced_mode() -> None:
    """BIGINT ids past 2^52 read as float64: X held by 500 rows and X + 1 by 2 are one float, counted as a
    value of 502 rows. A point there, decoded to that float and cast back, gave X + 1 hundreds of times;
    such a value gets no point (``exact_points``' resolution), and X + 1 never comes out."""
    import duckdb
    import duckdb_synth

    x = 256 * 5468750000000000 - 1  # X + 1 = 1.4e18 is a double; X is not
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT CASE WHEN i < 500 THEN {x} WHEN i < 502 THEN {x + 1} ELSE "
                f"1400000000000000000 + (hash(i) % 1000000000000000) END::BIGINT AS v, i % 3 AS g FROM range(4000) r(i)")
    rare = {r[0] for r in con.execute("SELECT v FROM t GROUP BY v HAVING count(*) < 5").fetchall()}
    assert x + 1 in rare
    for seed in (1, 2):
        out = duckdb_synth.run(con, "t", seed=seed).table.column("v").to_pylist()
        assert not rare & set(out), seed


def test_a_time_few_rows_hold_never_comes_out_in_balanced_mode() -> None:
    """TIME in microseconds was drawn continuous, passed the rare-value check (99.4 is no rare value) and was
    then cast to 99, a value two rows hold; it is drawn in whole microseconds now, as the column holds it."""
    import duckdb
    import duckdb_synth

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT (TIME '01:00:00' + to_microseconds(CASE WHEN i < 600 THEN 100 WHEN i < 602 "
                "THEN 101 WHEN i < 604 THEN 99 WHEN i % 40 = 0 THEN 1000 * (i % 300) + 7 ELSE 1000 * (i % 300) END"
                "::BIGINT)) AS v FROM range(4000) r(i)")
    rare = {r[0] for r in con.execute("SELECT v FROM t GROUP BY v HAVING count(*) < 5").fetchall()}
    assert len(rare) == 2  # 99 and 101 microseconds past one o'clock, beside 100 held by 600 rows
    for seed in (1, 2, 3):
        out = duckdb_synth.run(con, "t", seed=seed).table.column("v").to_pylist()
        assert not rare & set(out), seed


def test_a_value_off_the_lattice_takes_no_lattice_values_cell_in_balanced_mode() -> None:
    """A column of tenths holding 3.14159 in 100 of 6,000 rows (its lattice stays tenths): the spike's cell
    was the tenth's, 3.05-3.15, so 3.1's rows came back as 3.14159 (diamonds' `table`, whole numbers with
    values like 53.2 many rows hold, gave 53.2 the cell 52.7-53.7). A value off the lattice now has a
    cell of its own width, and 3.1 keeps its rows."""
    import duckdb
    import duckdb_synth

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT CASE WHEN i < 300 THEN 3.2 WHEN i < 400 THEN 3.14159 "
                "ELSE ((hash(i) % 300) / 10) END::DOUBLE AS v FROM range(6000) r(i)")
    real = dict(con.execute("SELECT v, count(*) FROM t WHERE v IN (3.1, 3.14159) GROUP BY 1").fetchall())
    assert real[3.1] >= 5
    out = np.asarray(duckdb_synth.run(con, "t", seed=0).table.column("v").to_numpy())
    for v, n in real.items():
        assert abs(int((out == v).sum()) - n) <= max(5, 0.1 * n), (v, n, int((out == v).sum()))  # 3.1: 0, 3.14159: 117


@pytest.mark.parametrize("end", ["smallest", "largest"])
def test_an_end_value_off_the_lattice_stays_a_point_in_balanced_mode(end: str) -> None:
    """FLOATs of a few values (nhis' income): the smallest, held by 14 % of the rows, is off the lattice
    of 5 decimals most values are written on, and rounding the clipped range inward to the lattice left it
    outside the domain: it came back as thousands of values spread over the cell above it. At either end
    it now comes back as itself, its count within a few rows."""
    import duckdb
    import duckdb_synth

    values = [19282.931640625, 25398.326171875, 41679.34375, 61102.97265625, 85985.78125, 167844.53125]
    if end == "largest":
        values = [-v for v in values]
    cases = " ".join(f"WHEN i % 6 = {k} THEN {v}" for k, v in enumerate(values))
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT (CASE {cases} END)::FLOAT::DOUBLE AS v, i % 3 AS g FROM range(6000) r(i)")
    real = dict(con.execute("SELECT v, count(*) FROM t GROUP BY 1").fetchall())
    out = np.asarray(duckdb_synth.run(con, "t", seed=0).table.column("v").to_numpy())
    assert len(np.unique(out)) == len(real)
    for v, n in real.items():
        assert abs(int((out == v).sum()) - n) <= 5, (v, n, int((out == v).sum()))


@pytest.mark.parametrize("case", ["integer", "double"])
def test_an_end_points_cell_lets_out_no_rare_value_and_nothing_past_the_end(case: str) -> None:
    """The end value's cell reaches from it to the cells, and decodes to it alone: rare values between come
    back as it. Moving the edge out instead let a rare 5,062 out beside a maximum of 5,063 (10 rows) among
    multiples of 100 (an edge of nextafter(5,063), clipped to it less 1 and cast down), and drew 1.00 below a
    minimum of 1.0002 on a lattice of 0.01 from the cell between it and the lattice (the review of c1b96c8)."""
    import duckdb
    import duckdb_synth

    if case == "integer":
        typ, values = "INTEGER", [100 * (1 + i % 50) for i in range(1500)] + [5055, 5057, 5059, 5061, 5062] + [5063] * 10
    else:
        typ = "DOUBLE"
        values = [round(1.01 + 0.01 * (i % 200), 2) for i in range(6000)] + [1.0002] * 50 + [
            1.0011, 1.0022, 1.0031, 1.0042, 1.0043]
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t(v {typ}, g INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(v, i % 3) for i, v in enumerate(values)])
    held = dict(con.execute("SELECT v, count(*) FROM t GROUP BY 1").fetchall())
    rare = {v for v, n in held.items() if n < 5}
    assert len(rare) == 5
    for seed in range(3):
        out = duckdb_synth.run(con, "t", seed=seed).table.column("v").to_pylist()
        assert not rare & set(out), seed
        assert min(out) >= min(held) and max(out) <= max(held), seed
        end = max(held) if case == "integer" else min(held)
        # The end value comes back as itself (it came back as 2,672 distinct values): its cell's count varies
        # by the draw of a cell in its bin (55 rows expected; 40-66 over 12 seeds), so half of its rows.
        assert out.count(end) >= held[end] // 2, seed


@pytest.mark.parametrize("case", ["bigint_merged", "round_max"])
def test_an_end_point_is_no_merged_float_and_no_value_past_the_end(case: str) -> None:
    """The second review of the end points (0e9da91): BIGINTs near 2^60 whose float64 is shared by several
    ids (X held by 3 rows, X + 1..3 by one each) made one end value of 6 rows, and X came out; and a top
    edge of max + 1 (300,099 among multiples of 100) let rare values move to 300,100, a value no row holds."""
    import duckdb
    import duckdb_synth

    if case == "bigint_merged":
        x = 2**60 - 384
        typ, values = "BIGINT", [x] * 3 + [x + 1, x + 2, x + 3] + [x - 10**12 * (1 + i % 50) for i in range(2000)]
    else:
        typ, values = "INTEGER", [100 * k for k in range(1, 3001)] + [300099] * 10
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t(v {typ}, g INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(v, i % 3) for i, v in enumerate(values)])
    held = dict(con.execute("SELECT v, count(*) FROM t GROUP BY 1").fetchall())
    for seed in range(2):
        out = duckdb_synth.run(con, "t", seed=seed).table.column("v").to_pylist()
        assert max(out) <= max(held) and min(out) >= min(held), seed
        if case == "bigint_merged":
            assert x not in out and not {x + 1, x + 2, x + 3} & set(out), seed


@pytest.mark.parametrize("case", ["frequent_neighbour", "dense_neighbours"])
def test_a_float_several_bigints_share_is_never_emitted(case: str) -> None:
    """Balanced mode reads numbers as float64: past 2^53 several BIGINTs read as one float, which is cast
    back as the one it equals. X = 2^60 held by 2 rows, beside X + 1 held by 500 (the same float), or
    beside 500 ids X - 100 .. X + 100 held by one row each, came out 502 times: the float's 502 rows
    passed the rare-value check as if they held X. Such a float stands for values the check cannot tell
    apart, so it counts as rare: drawn again, or moved to a float next to it that no row's value reads
    as (found by the second review of 0e9da91)."""
    import duckdb
    import duckdb_synth

    x = 2**60
    near = [x + 1] * 500 if case == "frequent_neighbour" else [x + k for k in range(-100, 101) if k] * 2 + [x + 101] * 100
    far = [x + s * 10**12 * (1 + i % 50) for i in range(1000) for s in (-1, 1)]
    con = duckdb.connect()
    con.execute("CREATE TABLE t(v BIGINT, g INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(v, i % 3) for i, v in enumerate([x, x] + near + far)])
    held = dict(con.execute("SELECT v, count(*) FROM t GROUP BY 1").fetchall())
    rare = {v for v, n in held.items() if n < 5}
    assert x in rare and float(x) == float(x + 1)
    for seed in range(2):
        out = duckdb_synth.run(con, "t", seed=seed).table.column("v").to_pylist()
        assert not rare & set(out), (seed, sorted(rare & set(out))[:3])
        close = [v for v in out if abs(v - x) <= 1024]  # the merged rows come back beside X, not lost
        assert len(close) >= 400, (seed, len(close))


@pytest.mark.parametrize("typ,value", [("BIGINT", str(2**63 - 1)), ("BIGINT", str(-(2**62) - 3)),
                                       ("TIMESTAMP", "9999-12-31 23:59:59"), ("TIMESTAMP", "1600-01-01 00:00:00"),
                                       ("TIMESTAMP", "2300-06-01 12:00:00.123457"), ("TIMESTAMP", "1800-01-01"),
                                       ("BIGINT", str(-9 * 10**15)),
                                       ("TIMESTAMP_MS", "9999-12-31 23:59:59.999")])
def test_a_value_past_2_53_many_rows_hold_comes_back_exactly(typ: str, value: str) -> None:
    """Past 2^53 several BIGINTs (TIMESTAMPs' microseconds) read as one float, so each such float was rare
    whatever its rows (the test above). A sentinel is one such value many rows hold: 2^63 - 1 in a third of
    the rows came back as 336 values over [2^62, 2^63), 9999-12-31 23:59:59 as 23:59:58.999968, 1600-01-01
    as random timestamps. Where all the rows reading as the float hold one value (an exact GROUP BY tells),
    it is that value, and comes back as it; the other rows' values (held by one row each) never do."""
    import duckdb
    import duckdb_synth

    con = duckdb.connect()
    other = "2000 + i * 1000" if typ == "BIGINT" else "TIMESTAMP '2020-01-01' + to_seconds(i * 3607)"
    con.execute(f"CREATE TABLE t AS SELECT CASE WHEN i % 3 = 0 THEN CAST('{value}' AS {typ}) ELSE CAST({other} AS {typ}) "
                "END AS v, i % 4 AS g FROM range(1500) r(i)")
    held = dict(con.execute("SELECT CAST(v AS VARCHAR), count(*) FROM t GROUP BY 1").fetchall())
    sentinel = con.execute(f"SELECT CAST(CAST('{value}' AS {typ}) AS VARCHAR)").fetchone()[0]
    assert held[sentinel] == 500
    for seed in range(2):
        out = duckdb_synth.run(con, "t", seed=seed).table
        con.register("o", out)
        emitted = dict(con.execute(f"SELECT CAST(CAST(v AS {typ}) AS VARCHAR), count(*) FROM o GROUP BY 1").fetchall())
        assert 400 <= emitted.get(sentinel, 0) <= 600, (seed, sorted(emitted.items(), key=lambda kv: -kv[1])[:3])
        leaked = {s: n for s, n in emitted.items() if 0 < held.get(s, 0) < 5}
        assert not leaked, sorted(leaked.items())[:3]


def test_exact_values_are_read_with_the_rows_not_again() -> None:
    """The review of 1ae17b9: the exact values came from a second query of the source, and a source whose rows
    change between reads (a sequence, volatile functions, a table written to) made a float whose rows held two
    values look like one: 2^60 in 2 of the rows read (beside 2^60 + 1 in 500) came out 502 times. They come
    with the rows now, in the one read; and a TIMESTAMP_NS's values, each read as its microsecond, are read in
    nanoseconds beside them (its 2 rows of 2260-01-01 beside 300 of half a microsecond later came out 302 times:
    ``test_timestamp_ns_values_within_one_microsecond``)."""
    import duckdb
    import duckdb_synth

    con = duckdb.connect()
    x = 2**60
    con.execute("CREATE SEQUENCE s")
    con.execute("CREATE TABLE bg AS SELECT (i % 100)::BIGINT AS v FROM range(1000) r(i)")
    con.execute("CREATE TABLE big AS SELECT i FROM range(502) r(i)")
    con.execute(f"CREATE VIEW src AS SELECT v FROM bg UNION ALL SELECT (CASE WHEN nextval('s') > 1004 THEN {x} "
                f"WHEN i < 2 THEN {x} ELSE {x + 1} END)::BIGINT FROM big")
    out = duckdb_synth.run(con, "src", seed=0).table.column("v").to_pylist()
    assert x not in out, out.count(x)
    con.execute("CREATE TABLE ns AS SELECT CAST(TIMESTAMP '2000-01-01' + to_days((i % 100)::INTEGER) AS TIMESTAMP_NS) "
                "AS v FROM range(1000) r(i) UNION ALL SELECT '2260-01-01 00:00:00.000000500'::TIMESTAMP_NS FROM range(300) "
                "UNION ALL SELECT '2260-01-01 00:00:00'::TIMESTAMP_NS FROM range(2)")
    con.register("o", duckdb_synth.run(con, "ns", seed=0).table)
    assert con.execute("SELECT count(*) FROM o WHERE v = '2260-01-01 00:00:00'::TIMESTAMP_NS").fetchall() == [(0,)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_timestamp_ns_values_within_one_microsecond(seed: int) -> None:
    """A TIMESTAMP_NS is read in microseconds (floored), so values within one microsecond read as one float, and
    balanced mode took a float many rows read for a common value: 2000-06-01 00:00:00, held by 2 rows beside 300
    at 00:00:00.000000500, came out 292-309 times a seed (documented in docs/privacy.md since stop 58). Its values
    are read in nanoseconds too: a microsecond whose rows hold several values is rare, one whose rows hold one
    (5 or more) is a point decoded to it, in nanoseconds (a value a quarter past a microsecond, in 400 rows, had
    come back on the microsecond; 2262-04-01, past 2^53 microseconds, in 1,800 rows as 2262-03-31
    23:59:59.999998)."""
    import duckdb
    import duckdb_synth

    con = duckdb.connect()
    con.execute("""CREATE TABLE t AS
        SELECT CAST(TIMESTAMP '2000-06-01 00:00:00' AS TIMESTAMP_NS) AS ts FROM range(2)
        UNION ALL SELECT '2000-06-01 00:00:00.000000500'::TIMESTAMP_NS FROM range(300)
        UNION ALL SELECT '2000-06-02 00:00:00.000000250'::TIMESTAMP_NS FROM range(400)
        UNION ALL SELECT '2262-04-01 00:00:00'::TIMESTAMP_NS FROM range(1800)
        UNION ALL SELECT CAST(TIMESTAMP '2000-06-01 00:00:00' + to_seconds(i % 70 + 1) AS TIMESTAMP_NS) FROM range(2100) r(i)""")
    con.register("o", duckdb_synth.run(con, "t", seed=seed).table)
    rare, quarter, far = con.execute("""SELECT count(*) FILTER (WHERE ts = '2000-06-01 00:00:00'::TIMESTAMP_NS),
        count(*) FILTER (WHERE ts = '2000-06-02 00:00:00.000000250'::TIMESTAMP_NS),
        count(*) FILTER (WHERE ts = '2262-04-01 00:00:00'::TIMESTAMP_NS) FROM o""").fetchall()[0]
    assert rare == 0
    assert 350 <= quarter <= 450 and 1700 <= far <= 1900, (quarter, far)


_NS_BASE = 959817600000000000  # 2000-06-01 in nanoseconds
_NS_CASES = {  # the review of 5201a3e, whose first form counted every microsecond of several values rare
    # midnights under a CHECK range: every float counted shared, 10 one-row days came out about 10 times each
    "declared": ["CREATE TABLE t (ts TIMESTAMP_NS CHECK (ts BETWEEN TIMESTAMP_NS '2024-01-01' AND TIMESTAMP_NS '2024-12-31'))",
                 "INSERT INTO t SELECT CAST(TIMESTAMP '2024-01-01' + to_days(i::INT) AS TIMESTAMP_NS) FROM range(365) r(i), "
                 "range(20) s(j) WHERE i % 36 <> 18",
                 "INSERT INTO t SELECT CAST(TIMESTAMP '2024-01-01' + to_days(i::INT) AS TIMESTAMP_NS) FROM range(365) r(i) "
                 "WHERE i % 36 = 18"],
    # 1,000 microseconds of 6 rows each at assorted nanoseconds, counted rare, fed the dense-run exception
    "dense": [f"CREATE TABLE t AS SELECT make_timestamp_ns({_NS_BASE} + i * 1000 + 1 + (hash(i * 7 + j) % 999)::BIGINT) AS ts "
              "FROM range(1000) r(i), range(6) s(j) WHERE i % 50 <> 25 "
              f"UNION ALL SELECT make_timestamp_ns({_NS_BASE} + i * 1000) FROM range(1000) r(i) WHERE i % 50 = 25"],
    # past 2^53 microseconds a float stands for two or three: ...991 (10 rows) and the 1-row ...992 read as the float
    # ...992, which is written as ...992; counted by their order, the 10 rows hid the one (the review of 746ee9f)
    "past 2^53": ["CREATE TABLE t AS SELECT make_timestamp_ns((9007199254742000 + 2 * i) * 1000) AS ts "
                  "FROM range(500) r(i), range(8) s(j) WHERE 9007199254742000 + 2 * i <> 9007199254742992 "
                  "UNION ALL SELECT make_timestamp_ns(9007199254742991000) FROM range(10) "
                  "UNION ALL SELECT make_timestamp_ns(9007199254742992000)"],
    # the type's ends: a draw at the float of ...854775 microseconds, past TIMESTAMP_NS's last, was clipped to its
    # last writable microsecond only when written, onto a value 3 rows hold (238-256 rows a seed with 0774d3c)
    "type's ends": ["CREATE TABLE t AS SELECT make_timestamp_ns(-9223372036854775808) AS ts FROM range(500) "
                    "UNION ALL SELECT make_timestamp_ns(-9223372036854775000) FROM range(2) "
                    "UNION ALL SELECT make_timestamp_ns(9223372036854775806) FROM range(500) "
                    "UNION ALL SELECT make_timestamp_ns(9223372036854775000) FROM range(2) "
                    "UNION ALL SELECT make_timestamp_ns(9223372036854774000) FROM range(3) "
                    "UNION ALL SELECT make_timestamp_ns(9223372036854772000) FROM range(30) "
                    "UNION ALL SELECT make_timestamp_ns(-9223372036854772000) FROM range(30) "
                    "UNION ALL SELECT make_timestamp_ns(-9223372036854770000) FROM range(3) "
                    "UNION ALL SELECT make_timestamp_ns(9223372036854700000 + i * 1000) FROM range(50) r(i) "
                    "UNION ALL SELECT NULL FROM range(10)"],
    # 30 seconds of 10 rows each at +100 and +200 ns left no free second beside a one-row whole second
    "block": [f"CREATE TABLE t AS SELECT make_timestamp_ns({_NS_BASE} + i * 1000000000 + 100 + 100 * (j % 2)) AS ts "
              "FROM range(30) r(i), range(10) s(j) WHERE i <> 15 "
              f"UNION ALL SELECT make_timestamp_ns({_NS_BASE} + 15000000000)"],
}


@pytest.mark.parametrize("case", sorted(_NS_CASES))
def test_timestamp_ns_microseconds_of_other_values_are_not_rare(case: str) -> None:
    """A microsecond is rare where 1-4 rows hold the microsecond itself (a value drawn in a cell is written so),
    not wherever its rows hold several values: so counted, such microseconds filled the rare set, balanced
    mode's dense-run exception and its lack of free points let one-row values out (101-109, 60-79 and 5-9 rows a
    seed in three of these tables, none before 5201a3e), and a CHECK range made every microsecond rare. Past 2^53
    microseconds only a microsecond that is its own float counts (12-16 rows a seed out with 746ee9f, 17-20 before
    5201a3e)."""
    import duckdb
    import duckdb_synth

    con = duckdb.connect()
    for sql in _NS_CASES[case]:
        con.execute(sql)
    con.execute("CREATE TABLE rare AS SELECT ts FROM t GROUP BY ts HAVING count(*) < 5")
    for seed in (0, 1):
        con.register("o", duckdb_synth.run(con, "t", seed=seed).table)
        assert con.execute("SELECT count(*) FROM o WHERE ts IN (SELECT ts FROM rare)").fetchall() == [(0,)], seed
        assert con.execute("SELECT count(DISTINCT ts) FROM o").fetchall()[0][0] >= 20  # not all on one value


def test_a_float_past_2_53_whose_rows_hold_two_values_stays_rare() -> None:
    """The exact reading frees a float only where its rows hold one value: 2^60 in 2 rows beside 2^60 + 1 in
    500 (one float) stays rare (``data.DuckDBRows._exact``: min = max), and 2^60 never comes out, while a
    float of one held value beside it (2^61 in 500 rows) comes back exactly."""
    import duckdb
    import duckdb_synth
    from duckdb_synth.engine.data import DuckDBRows
    from duckdb_synth.engine.schema import Column

    con = duckdb.connect()
    x = 2**60
    rows = [x] * 2 + [x + 1] * 500 + [2**61] * 500 + [10**6 + 1000 * i for i in range(500)]
    con.execute("CREATE TABLE t AS SELECT unnest(?::BIGINT[]) AS v", [rows])
    con.execute("ALTER TABLE t ADD COLUMN g INTEGER DEFAULT 1")
    data = DuckDBRows(con, "SELECT * FROM t", [Column("v", "BIGINT", "numeric")]).column(0)
    floats, ints, rows = data.exact_values()
    assert floats.tolist() == [float(2**61)] and ints.tolist() == [2**61] and rows.tolist() == [500]
    out = duckdb_synth.run(con, "t", seed=0).table.column("v").to_pylist()
    assert x not in out
    assert 400 <= out.count(2**61) <= 600, out.count(2**61)


@pytest.mark.parametrize("typ,base", [("BIGINT", -(2**51) - 10**9), ("BIGINT", 2**51 + 10**9), ("DECIMAL(18,0)", 2**51 + 10**9),
                                      ("HUGEINT", -(2**51) - 10**9), ("TIMESTAMP", "1880-01-01"),
                                      ("TIMESTAMP", "2060-01-01"), ("DECIMAL(38,10)", 300000)])
def test_no_rare_value_where_floats_are_finer_than_the_lattice_but_not_by_half(typ: str, base) -> None:
    """The review of bd7ff18: between half the lattice's step and the step, every value still has a float of
    its own (integers in [2^51, 2^53), timestamps in microseconds before 1898 or after 2041, DECIMAL(38,10)
    near 300,000). bd7ff18 took those floats for shared ones: every value rare, a drawn one moved one float
    away, cast back to itself or to its neighbour (850 rare BIGINTs out of 3,892 rows; whole-day timestamps
    of 2060 one microsecond early). Values held by 8 rows and by 1-4, on a lattice of 1000 or of days."""
    import datetime as dt
    import random

    import duckdb
    import duckdb_synth

    random.seed(0)
    common = random.sample(range(3000), 300)
    rare = random.sample(sorted(set(range(3000)) - set(common)), 600)
    if typ == "TIMESTAMP":
        start = dt.datetime.fromisoformat(base)
        lit = lambda v: (start + dt.timedelta(days=v)).isoformat(sep=" ")  # noqa: E731
    elif typ == "DECIMAL(38,10)":
        lit = lambda v: f"{base + v / 1000:.3f}"  # noqa: E731
    else:
        b = base - base % 1000
        lit = lambda v: str(b + 1000 * v)  # noqa: E731
    rows = [lit(v) for v in common for _ in range(8)] + [lit(v) for v in rare for _ in range(random.randint(1, 4))]
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT CAST(s AS {typ}) AS v, i % 3 AS g FROM "
                "(SELECT unnest(?) AS s, generate_subscripts(?, 1) AS i)", [rows, rows])
    held = dict(con.execute("SELECT CAST(v AS VARCHAR), count(*) FROM t GROUP BY 1").fetchall())
    out = duckdb_synth.run(con, "t", seed=0).table
    con.register("o", out)
    emitted = dict(con.execute(f"SELECT CAST(CAST(v AS {typ}) AS VARCHAR), count(*) FROM o GROUP BY 1").fetchall())
    leaked = {s: n for s, n in emitted.items() if 0 < held.get(s, 0) < 5}
    assert not leaked, sorted(leaked.items())[:3]
    common_out = sum(n for s, n in emitted.items() if held.get(s, 0) >= 5)
    assert common_out >= 0.2 * out.num_rows, common_out  # the values 8 rows hold come back as themselves


@pytest.mark.parametrize("typ, big", [("FLOAT", "3.4028234663852886e38"), ("DOUBLE", "1e300")])
def test_a_value_many_rows_hold_past_2_52_lattice_steps_is_a_point(typ: str, big: str) -> None:
    """The third review of 2026-12-06: a value held by 60 rows beside 1.0, so large that half a lattice step
    either side of it is itself (FLT_MAX, 1e300), made a cell of no width, and balanced mode raised
    IndexError in `discovery.point_cells`. It is a point, and comes back as itself."""
    import duckdb
    import duckdb_synth

    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT CASE WHEN i < 60 THEN CAST({big} AS {typ}) ELSE CAST(1 AS {typ}) END AS v, "
                "i % 3 AS g FROM range(120) r(i)")
    out = duckdb_synth.run(con, "t", seed=0).table.column("v").to_pylist()
    assert sorted(set(out)) == [1.0, float(big)]
    assert abs(out.count(float(big)) - 60) <= 5


def test_decimal_past_the_floats_counts_floats_as_values_only_with_its_written_counts() -> None:
    """A DECIMAL(38,18) of 0.5 (300 rows) and 0.75 (2 rows): with the written values counted (DuckDB reads them)
    each float is a value, 0.75 rare; an engine that cannot count them (Spark: None) keeps every float coarser
    than the scale rare, as before 2026-12-07."""
    x = np.r_[np.full(300, 0.5), np.full(2, 0.75)]
    col = classify("x", "DECIMAL(38,18)")
    counted = exact_numeric_domain(col, ArrayColumn(x, written=lambda: (np.array([0.5, 0.75]), np.array([300, 2]))),
                                   nbins=8, max_cells=64)
    assert counted.floats_are_values and counted.resolution is None
    assert counted.rare.tolist() == [0.75]
    blind = exact_numeric_domain(col, ArrayColumn(x), nbins=8, max_cells=64)
    assert not blind.floats_are_values and blind.resolution == 1e-18
    assert blind.rare.tolist() == [0.5, 0.75]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_dp_doubles_past_2_to_the_128_come_back_at_their_magnitude(sign: float) -> None:
    # The range step's outermost power of two, [2^127, 2^128), held every larger magnitude but was
    # drawn as itself: DOUBLEs of 1e130-1e140 all came back 3.4e38 (a DP run and balanced alike).
    rng = np.random.default_rng(0)
    x = sign * 10.0 ** rng.uniform(130, 140, 4000)
    dom = private_numeric("DOUBLE", x, rng)
    w = np.bincount(dom.cell_bin, weights=dom.weights, minlength=dom.nbins)
    codes = rng.choice(dom.nbins, size=4000, p=w / w.sum())
    out = decode_numeric(dom, codes, rng).to_numpy(zero_copy_only=False)
    assert np.isfinite(out).all()
    inside = (np.abs(out) >= 1e130) & (np.abs(out) <= 1e140)
    assert inside.mean() > 0.97 and (np.sign(out) == sign).all()
    m = np.log10(np.abs(out))
    assert abs(np.median(m) - 135.0) < 0.5 and abs(np.mean(m < 132.5) - 0.25) < 0.05
