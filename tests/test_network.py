"""Balanced mode's Bayesian network: conditional mutual information and up to three parents."""
from __future__ import annotations

import numpy as np

from duckdb_synth.engine.data import Binned
from duckdb_synth.engine.structure import _cmi, conditional_mi, exact_network


def test_cmi_matches_the_one_parent_formula_and_brute_force() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, (2000, 4))
    codes[:, 3] = (codes[:, 0] + codes[:, 1]) % 3
    sizes = [3, 3, 3, 3]
    assert abs(_cmi(Binned(codes, sizes), 3, 0, (2,)) - conditional_mi(Binned(codes, sizes), 3, 0, 2)) < 1e-12
    # x = a + b mod 3: independent of a alone, fully determined by a given b.
    assert _cmi(Binned(codes, sizes), 3, 0, ()) < 0.01
    assert abs(_cmi(Binned(codes, sizes), 3, 0, (1,)) - np.log(3)) < 0.01


def test_third_parent_when_a_column_needs_three() -> None:
    rng = np.random.default_rng(1)
    n = 20000
    codes = rng.integers(0, 2, (n, 5))
    codes[:, 4] = codes[:, 0] + codes[:, 1] + codes[:, 2]  # the sum: needs all three of 0, 1, 2
    codes[:, 3] = (codes[:, 0] + rng.integers(0, 2, n) * (rng.random(n) < 0.1)) % 2  # 3 follows 0
    sizes = [2, 2, 2, 2, 4]
    two = exact_network(Binned(codes, sizes), max_cells=1000, max_parents=2)
    three = exact_network(Binned(codes, sizes), max_cells=1000, max_parents=3)
    assert all(len(p) <= 2 for p in two.values())
    assert max(len(p) for p in three.values()) == 3
    # Every parent precedes its child in the dict order.
    order = list(three)
    assert all(order.index(p) < order.index(c) for c, ps in three.items() for p in ps)
    # The cap on cells is kept.
    capped = exact_network(Binned(codes, sizes), max_cells=8, max_parents=3)
    assert all(sizes[c] * np.prod([sizes[p] for p in ps]) <= 8 or len(ps) <= 1 for c, ps in capped.items())
