"""Tests for duckdb_synth.privacy.noise: the discrete Gaussian sampler against its exact pmf."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from duckdb_synth.privacy.noise import discrete_gaussian, discrete_gaussian_pmf, gaussian_tail_z

N = 200_000
SIGMAS = (0.5, 1.0, 3.0, 20.0)


def exact_moments(sigma: float) -> tuple[float, float, float]:
    """Mean, variance and fourth moment of the discrete Gaussian, summed over a wide support."""
    xs = np.arange(-int(60 * sigma + 60), int(60 * sigma + 60) + 1)
    p = discrete_gaussian_pmf(sigma, xs)
    return float((p * xs).sum()), float((p * xs**2).sum()), float((p * xs**4).sum())


@pytest.fixture(scope="module", params=SIGMAS, ids=lambda s: f"sigma={s}")
def draws(request: pytest.FixtureRequest) -> tuple[float, np.ndarray]:
    sigma = request.param
    return sigma, discrete_gaussian(sigma, N, np.random.default_rng(20240 + int(10 * sigma)))


def test_pmf_sums_to_one_and_is_symmetric() -> None:
    for sigma in SIGMAS:
        xs = np.arange(-int(60 * sigma + 60), int(60 * sigma + 60) + 1)
        p = discrete_gaussian_pmf(sigma, xs)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(p, p[::-1], rtol=1e-12)
        # P(x) / P(0) = exp(-x^2 / (2 sigma^2)), the definition (away from underflow).
        near = np.arange(-int(10 * sigma) - 2, int(10 * sigma) + 3)
        q = discrete_gaussian_pmf(sigma, near)
        np.testing.assert_allclose(q / discrete_gaussian_pmf(sigma, np.array([0]))[0],
                                   np.exp(-(near.astype(float) ** 2) / (2 * sigma**2)), rtol=1e-12)


def test_empirical_pmf_matches_exact_pmf(draws: tuple[float, np.ndarray]) -> None:
    """Pearson chi-square over cells with >= 5 expected draws (the tails pooled into one cell each)."""
    sigma, x = draws
    half = int(math.ceil(8 * sigma)) + 2
    xs = np.arange(-half, half + 1)
    expected = discrete_gaussian_pmf(sigma, xs) * N
    observed = np.array([(x == k).sum() for k in xs], dtype=float)
    keep = expected >= 5
    lo_tail, hi_tail = xs[keep].min(), xs[keep].max()
    obs = np.concatenate([[(x < lo_tail).sum()], observed[keep], [(x > hi_tail).sum()]])
    exp_ = np.concatenate([[N * discrete_gaussian_pmf(sigma, np.arange(lo_tail - 60 * sigma - 60, lo_tail)).sum()],
                           expected[keep],
                           [N * discrete_gaussian_pmf(sigma, np.arange(hi_tail + 1, hi_tail + 60 * sigma + 61)).sum()]])
    assert obs.sum() == N
    assert exp_.sum() == pytest.approx(N, rel=1e-9)
    pooled = exp_ >= 1e-3  # a tail with ~0 expected draws must have 0 observed draws
    assert obs[~pooled].sum() == 0
    chi2 = float((((obs - exp_) ** 2) / exp_)[pooled].sum())
    df = int(pooled.sum()) - 1
    assert chi2 < stats.chi2.ppf(1 - 1e-4, df), f"chi2={chi2:.1f} on {df} df"


def test_mean_is_zero(draws: tuple[float, np.ndarray]) -> None:
    sigma, x = draws
    _, var, _ = exact_moments(sigma)
    se = math.sqrt(var / N)
    assert abs(x.mean()) < 5 * se


def test_variance_matches_exact_variance(draws: tuple[float, np.ndarray]) -> None:
    sigma, x = draws
    _, var, m4 = exact_moments(sigma)
    se = math.sqrt((m4 - var**2) / N)
    assert abs(x.var() - var) < 5 * se, (x.var(), var, se)


@pytest.mark.parametrize("sigma", [1.0, 1.5, 3.0, 20.0, 137.2])
def test_exact_variance_close_to_sigma_squared(sigma: float) -> None:
    """For sigma >= 1 the discrete Gaussian's variance is within 1% of sigma^2 (CKS20, Prop. 19)."""
    _, var, _ = exact_moments(sigma)
    assert var <= sigma**2 * (1 + 1e-12)
    assert var >= sigma**2 * 0.99


def test_empirical_variance_close_to_sigma_squared(draws: tuple[float, np.ndarray]) -> None:
    sigma, x = draws
    if sigma < 1:
        assert x.var() < sigma**2  # below 1 the variance is visibly smaller than sigma^2
        return
    assert abs(x.var() / sigma**2 - 1) < 0.01 + 5 * math.sqrt(2 / N)


def test_draws_are_integers(draws: tuple[float, np.ndarray]) -> None:
    _, x = draws
    assert x.dtype == np.int64


@pytest.mark.parametrize("size,shape", [(7, (7,)), ((3, 4), (3, 4)), ((2, 3, 5), (2, 3, 5)), (0, (0,)),
                                        ((0, 3), (0, 3)), ((), ()), (1, (1,))])
@pytest.mark.parametrize("sigma", [0.0, 0.7, 4.0])
def test_shapes(size: int | tuple[int, ...], shape: tuple[int, ...], sigma: float) -> None:
    out = discrete_gaussian(sigma, size, np.random.default_rng(0))
    assert out.shape == shape
    assert out.dtype == np.int64


def test_sigma_zero_gives_zeros() -> None:
    out = discrete_gaussian(0.0, (4, 5), np.random.default_rng(1))
    assert out.shape == (4, 5)
    assert not out.any()


def test_same_seed_same_output_and_different_seed_differs() -> None:
    a = discrete_gaussian(3.0, 1000, np.random.default_rng(42))
    b = discrete_gaussian(3.0, 1000, np.random.default_rng(42))
    c = discrete_gaussian(3.0, 1000, np.random.default_rng(43))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


@pytest.mark.parametrize("sigma", [-1.0, -1e-9, math.inf, math.nan])
def test_bad_sigma_raises(sigma: float) -> None:
    with pytest.raises(ValueError, match="sigma"):
        discrete_gaussian(sigma, 3, np.random.default_rng(0))


@pytest.mark.parametrize("prob", [0.5, 0.1, 1e-3, 1e-6, 1e-9])
def test_gaussian_tail_z(prob: float) -> None:
    z = gaussian_tail_z(prob)
    assert stats.norm.sf(z) == pytest.approx(prob, rel=1e-9)


class _Counted:
    """A column's value counts, as an engine answers them (count classes, values by rank in value order)."""

    def __init__(self, values: list, counts: list) -> None:
        order = np.argsort(np.asarray(values, dtype=object).astype(str), kind="stable")
        self.values = [values[i] for i in order]
        self.counts = np.asarray(counts, dtype=np.int64)[order]
        self.named = 0

    def count_classes(self):
        c, n = np.unique(self.counts, return_counts=True)
        return c, n

    def values_at_many(self, wanted):
        self.named += sum(len(r) for r in wanted.values())
        return {c: [self.values[i] for i in np.flatnonzero(self.counts == c)[r]] for c, r in wanted.items()}


def test_top_passing_has_the_distribution_of_a_noise_per_value():
    """top_passing (the cap highest noisy counts over a bar, drawn by count class) against the dense mechanism
    (a discrete Gaussian for every value, those >= bar, the cap highest, ties by value), 300 seeds each: the
    number kept, how many of each count, their mean noisy count; and it names few values."""
    from duckdb_synth.privacy.discovery import top_passing
    from duckdb_synth.privacy.noise import discrete_gaussian

    values = [f"v{i:05d}" for i in range(1505)]
    counts = [30] * 5 + [18] * 200 + [10] * 1000 + [1] * 300
    sigma, bar, cap = 3.0, 20.0, 40
    col = _Counted(values, counts)
    count_of = dict(zip(col.values, col.counts.tolist()))

    def stats(kept, scores):
        c = [count_of[v] for v in kept]
        return len(kept), c.count(30), c.count(18), c.count(10), float(np.mean(scores)) if len(scores) else 0.0

    ours, dense = [], []
    for seed in range(300):
        kept, scores = top_passing(col, sigma, bar, cap, np.random.default_rng(seed))
        assert kept == sorted(kept) and (scores >= bar).all() and len(kept) <= cap
        ours.append(stats(kept, scores))
        rng = np.random.default_rng(10_000 + seed)
        noisy = col.counts + discrete_gaussian(sigma, len(col.counts), rng)
        passed = [(float(s), v) for v, s in zip(col.values, noisy) if s >= bar]
        passed = sorted(passed, key=lambda sv: (-sv[0], sv[1]))[:cap]
        dense.append(stats([v for _, v in passed], np.array([s for s, _ in passed])))
    ours, dense = np.array(ours), np.array(dense)
    for k in range(5):
        sd = math.sqrt((ours[:, k].var() + dense[:, k].var()) / 300) + 1e-9
        assert abs(ours[:, k].mean() - dense[:, k].mean()) < 4 * sd, (k, ours[:, k].mean(), dense[:, k].mean())
    assert ours[:, 0].mean() > 39 and ours[:, 3].mean() > 0.02  # the cap binds; the class far below passes at times
    assert col.named < 300 * (cap + 10)  # the values named: the kept ones and ties, not the 1,505


