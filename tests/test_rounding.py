"""Controlled rounding (rounding.allocate): exact group totals, counts within one of expectation, unbiased."""
from __future__ import annotations

import numpy as np
import pytest

from duckdb_synth.engine.rounding import allocate, float_order, stable_order


def _counts(values: np.ndarray, config: np.ndarray, k: int, m: int) -> np.ndarray:
    return np.bincount(config * m + values, minlength=k * m).reshape(k, m)


@pytest.mark.parametrize("seed", range(5))
def test_counts_within_one_of_expectation_and_totals_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k, m = 7, 5
    table = rng.random((k, m)) ** 3
    table[3] = 0.0  # a configuration with no mass: uniform
    config = rng.integers(0, k - 1, 1000)  # the last configuration has no rows
    values = allocate(table, config, rng)
    assert values.dtype == np.int64 and values.min() >= 0 and values.max() < m
    counts = _counts(values, config, k, m)
    groups = np.bincount(config, minlength=k)
    assert (counts.sum(axis=1) == groups).all()
    p = np.where(table.sum(1, keepdims=True) > 0, table / np.maximum(table.sum(1, keepdims=True), 1e-300), 1 / m)
    expected = groups[:, None] * p
    assert (np.abs(counts - expected) < 1).all()


def test_unbiased_over_many_draws() -> None:
    rng = np.random.default_rng(0)
    table = np.array([[0.5, 0.3, 0.2], [0.01, 0.01, 0.98], [1.0, 1.0, 1.0]])
    config = np.repeat([0, 1, 2], [7, 3, 5])  # few rows per group: rounding decides most cells
    total = np.zeros((3, 3))
    runs = 4000
    for _ in range(runs):
        total += _counts(allocate(table, config, rng), config, 3, 3)
    expected = np.array([7, 3, 5])[:, None] * table / table.sum(1, keepdims=True)
    # Each mean is within 4 standard errors (each count varies by at most 1: sd <= 0.5).
    assert np.abs(total / runs - expected).max() < 4 * 0.5 / np.sqrt(runs)


@pytest.mark.parametrize("seed", range(3))
def test_every_run_of_values_is_rounded_to_within_one_row(seed: int) -> None:
    # The left-over rows go to the values by systematic sampling in the values' order: the count of any
    # run of them (a numeric column's range of bins) is within one row of its expectation, as each
    # value's is. Laid in a random order (until 2026-12-06), runs of 200 values missed by 2 or more.
    rng = np.random.default_rng(seed)
    k, m = 40, 200
    table = rng.dirichlet(np.full(m, 0.3), size=k)
    config = rng.integers(0, k, 3000)
    counts = _counts(allocate(table, config, rng), config, k, m)
    expected = np.bincount(config, minlength=k)[:, None] * table
    gap = np.cumsum(counts, axis=1)[:, :, None] - np.cumsum(counts, axis=1)[:, None, :]
    want = np.cumsum(expected, axis=1)[:, :, None] - np.cumsum(expected, axis=1)[:, None, :]
    assert np.abs(gap - want).max() < 1 + 1e-9


def test_rows_get_values_in_random_order() -> None:
    rng = np.random.default_rng(1)
    config = np.zeros(1000, dtype=np.int64)
    values = allocate(np.array([[1.0, 1.0]]), config, rng)
    assert np.bincount(values).tolist() == [500, 500]
    assert 0 < values[:500].sum() < 500  # not all ones in one block


def test_far_closer_than_independent_draws() -> None:
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(400)).reshape(1, -1)
    n = 5000
    rounded = np.bincount(allocate(p, np.zeros(n, dtype=np.int64), rng), minlength=400) / n
    drawn = np.bincount(rng.choice(400, n, p=p[0]), minlength=400) / n
    tvd_rounded, tvd_drawn = 0.5 * np.abs(rounded - p[0]).sum(), 0.5 * np.abs(drawn - p[0]).sum()
    assert tvd_rounded < 400 / n / 2 + 1e-12 and tvd_rounded < tvd_drawn / 4


def test_no_rows() -> None:
    assert allocate(np.ones((2, 3)), np.zeros(0, dtype=np.int64), np.random.default_rng(0)).size == 0


def test_model_sample_rounds_column_by_column() -> None:
    """A junction-tree sample: the root clique's first column has counts within one of the model's,
    and each pair (first column, next column) within one per group: far closer than independent draws."""
    from duckdb_synth.engine.model import pgm
    from duckdb_synth.engine.marginal import Measurement, marginal

    rng = np.random.default_rng(3)
    n, sizes = 5000, [6, 4, 3]
    codes = np.column_stack([rng.integers(0, s, n) for s in sizes])
    codes[:, 1] = (codes[:, 0] + rng.integers(0, 2, n)) % 4
    ms = [Measurement(c, marginal(codes, sizes, c).astype(float), np.ones(marginal(codes, sizes, c).shape))
          for c in [(0, 1), (1, 2), (0,), (1,), (2,)]]
    model = pgm.estimate(sizes, ms, total=float(n), iters=200)
    out = model.sample(n, rng)
    root = model.tree.cliques[0]
    first = max(root, key=lambda a: sizes[a])
    assert np.abs(np.bincount(out[:, first], minlength=sizes[first]) - model.marginal((first,))).max() < 1
    second = max((a for a in root if a != first), key=lambda a: sizes[a])
    pair = tuple(sorted((first, second)))
    assert np.abs(marginal(out, sizes, pair) - model.marginal(pair)).max() < 1 + 1e-9


def test_values_spread_evenly_over_strata() -> None:
    """Within a group, each stratum (and each cell of two strata) gets each value within two rows of
    its share; a random assignment of the same counts misses by tens of rows."""
    rng = np.random.default_rng(4)
    n = 10_000
    config = rng.integers(0, 2, n)
    table = np.array([[0.3, 0.5, 0.2], [0.1, 0.1, 0.8]])
    s1, s2 = rng.integers(0, 5, n), rng.integers(0, 3, n)
    p = table[config]

    def worst(values: np.ndarray, key: np.ndarray, k: int) -> float:
        cells = (config * k + key) * 3 + values
        got = np.bincount(cells, minlength=2 * k * 3).reshape(2 * k, 3)
        want = np.zeros((2 * k, 3))
        np.add.at(want, config * k + key, p)
        return float(np.abs(got - want).max())

    spread = allocate(table, config, rng, [(s1, 5), (s2, 3)])
    assert worst(spread, s1, 5) <= 2 and worst(spread, s1 * 3 + s2, 15) <= 2
    plain = allocate(table, config, rng)
    assert worst(plain, s1, 5) > 8


def test_model_sample_spreads_over_other_columns() -> None:
    """A chain a - b - c: the model says c is independent of a given b, and the sample's
    (a, b, c) counts are within a few rows of the model's in every cell (a random
    assignment within each b misses by about the square root of the cell's count)."""
    from duckdb_synth.engine.model import pgm
    from duckdb_synth.engine.marginal import Measurement, marginal

    rng = np.random.default_rng(5)
    n, sizes = 20_000, [6, 4, 5]
    codes = np.column_stack([rng.integers(0, s, n) for s in sizes])
    codes[:, 1] = (codes[:, 0] + rng.integers(0, 2, n)) % 4
    codes[:, 2] = (codes[:, 1] + rng.integers(0, 3, n)) % 5
    ms = [Measurement(c, marginal(codes, sizes, c).astype(float), np.ones(marginal(codes, sizes, c).shape))
          for c in [(0, 1), (1, 2)]]
    model = pgm.estimate(sizes, ms, total=float(n), iters=200)
    want = model.marginal((0, 1, 2))
    worst = [np.abs(marginal(model.sample(n, np.random.default_rng(s)), sizes, (0, 1, 2)) - want).max()
             for s in range(3)]
    assert max(worst) <= 3, worst


@pytest.mark.parametrize("span", [1, 2, 1 << 16, (1 << 16) + 1, 1 << 33, 1 << 62])
def test_stable_order_is_numpys_stable_argsort_by_radix(span):
    rng = np.random.default_rng(span % 997)
    for n in (0, 1, 7, 5000):
        key = rng.integers(0, span, n)
        key[: n // 3] = key[n // 2: n // 2 + n // 3]  # ties, whose order the sort must keep
        assert np.array_equal(stable_order(key, span), np.argsort(key, kind="stable"))


@pytest.mark.parametrize("ties", ["none", "values", "ends", "nan"])
def test_float_order_is_numpys_stable_argsort(ties):
    """The default sort, with runs of equal keys put back in row order: the stable sort's order, whatever
    the ties (a few repeated values, a clipped position of 0 or 1 many rows share, NaNs)."""
    rng = np.random.default_rng(len(ties))
    for n in (0, 1, 2, 7, 5000):
        key = rng.random(n) + rng.integers(0, 4, n) * 2.0
        if ties == "values":
            key = np.round(key, 1)
        elif ties == "ends":
            key[rng.random(n) < 0.3] = 3.0
        elif ties == "nan":
            key[rng.random(n) < 0.2] = np.nan
            key[: n // 4] = 1.0
        assert np.array_equal(float_order(key), np.argsort(key, kind="stable")), n


def test_sparse_configurations_ranked_without_changing_the_draw():
    """Configurations numbered over a huge space, of which a few are used, sort by their rank among the
    used ones (fewer radix passes): the rows get exactly what they get with the same configurations
    numbered 0.. densely (same table rows, same random stream), strata included."""
    rng = np.random.default_rng(8)
    n, m = 3000, 4
    used = np.sort(rng.choice(1 << 24, 40, replace=False))  # 40 of 16.7M configurations
    dense = rng.integers(0, 40, n)
    weights = rng.random((40, m))
    big = np.zeros((1 << 24, m))
    big[used] = weights
    strata = [(rng.integers(0, 7, n), 7), (rng.integers(0, 300, n), 300)]
    sparse_out = allocate(big, used[dense], np.random.default_rng(3), strata)
    dense_out = allocate(weights, dense, np.random.default_rng(3), strata)
    assert np.array_equal(sparse_out, dense_out)


class _Draws:
    """A generator whose one call of a given size returns chosen draws (values numpy's random() can return:
    multiples of 2^-53 in [0, 1)); every other call is a seeded generator's."""

    def __init__(self, size: int, u: np.ndarray) -> None:
        self.g, self.size, self.u = np.random.default_rng(0), size, u

    def random(self, size=None):
        return self.u.copy() if size == self.size else self.g.random(size)

    def permutation(self, n):
        return self.g.permutation(n)


def test_a_configurations_slots_stay_its_own_at_extreme_draws() -> None:
    """A slot's key is g + (j + u) / c, below g + 1 for every u < 1. e776268 folded the cell's start into one
    float term ((u - start) / c), whose rounding at starts past 10^4 let a group's last slot pass g + 1 at
    u = 1 - 2^-53: a row of configuration 1 took configuration 2's only value, which has no weight in its own
    (the review of e776268)."""
    table = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    config = np.repeat([0, 1, 2], [12_284, 5, 3])
    u = np.full(6, 0.5)
    u[2], u[5] = 1 - 2.0**-53, 0.0  # cell (1, value 0) last in its group, cell (2, value 1) first in its
    out = allocate(table, config, _Draws(6, u))
    assert (out[config == 1] == 0).all() and (out[config == 2] == 1).all()


def test_a_configuration_past_the_table_raises() -> None:
    with pytest.raises(IndexError):
        allocate(np.ones((3, 2)), np.array([0, 1, 3, 3]), np.random.default_rng(0))
