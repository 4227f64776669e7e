"""Tests for measure, select, estimate and sample, each against brute force on tiny domains."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from duckdb_synth.engine.data import Binned
from duckdb_synth.engine.marginal import Measurement, marginal, narrow_codes, narrow_counts
from duckdb_synth.engine.model.network import Model, consistent_pairs, project_simplex, rake, tree_model
from duckdb_synth.engine.sample import sample
from duckdb_synth.engine.structure import conditional_mi, exact_network, mutual_information, tree_parents
from duckdb_synth.privacy.measure import measure
from duckdb_synth.privacy.select import pair_scores, private_tree

# ---------------------------------------------------------------- brute-force references


def brute_marginal(codes: np.ndarray, sizes: list[int], clique: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(tuple(sizes[c] for c in clique))
    for row in codes:
        out[tuple(int(row[c]) for c in clique)] += 1
    return out


def brute_conditional(table: np.ndarray, x: int, config: tuple[int, ...]) -> float:
    """P(c = x | parents = config) from a table over (c, *parents); an empty config falls back to P(c)."""
    col = sum(table[(k, *config)] for k in range(table.shape[0]))
    if col > 0:
        return table[(x, *config)] / col
    marg = [table[k].sum() for k in range(table.shape[0])]
    return marg[x] / sum(marg) if sum(marg) > 0 else 1.0 / table.shape[0]


def brute_joint(sizes: tuple[int, ...], parents: dict[int, tuple[int, ...]], tables: dict[int, np.ndarray]) -> np.ndarray:
    out = np.zeros(sizes)
    for cell in itertools.product(*(range(s) for s in sizes)):
        p = 1.0
        for c, ps in parents.items():
            p *= brute_conditional(tables[c], cell[c], tuple(cell[k] for k in ps))
        out[cell] = p
    return out


def brute_entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    return -sum((v / total) * math.log(v / total) for v in counts.ravel() if v > 0)


def spanning_trees(d: int) -> list[list[tuple[int, int]]]:
    """Every spanning tree of the complete graph on d nodes (brute force over edge subsets)."""
    edges = list(itertools.combinations(range(d), 2))
    out = []
    for subset in itertools.combinations(edges, d - 1):
        comp = list(range(d))

        def find(a: int) -> int:
            while comp[a] != a:
                a = comp[a]
            return a

        ok = True
        for a, b in subset:
            ra, rb = find(a), find(b)
            if ra == rb:
                ok = False
                break
            comp[ra] = rb
        if ok:
            out.append(list(subset))
    return out


def is_spanning_tree(edges: list[tuple[int, int]], d: int) -> bool:
    if len(edges) != d - 1:
        return False
    comp = list(range(d))

    def find(a: int) -> int:
        while comp[a] != a:
            a = comp[a]
        return a

    for a, b in edges:
        if a == b or find(a) == find(b):
            return False
        comp[find(a)] = find(b)
    return len({find(k) for k in range(d)}) == 1


# ---------------------------------------------------------------- networks used throughout

# (sizes, parents in sampling order); several list a parent with a larger index than its child,
# so the axis bookkeeping in Model.joint is exercised.
SHAPES: dict[str, tuple[tuple[int, ...], dict[int, tuple[int, ...]]]] = {
    "single": ((4,), {0: ()}),
    "independent": ((2, 3), {0: (), 1: ()}),
    "chain": ((3, 2, 4), {0: (), 1: (0,), 2: (1,)}),
    "chain-reversed": ((3, 2, 4), {2: (), 1: (2,), 0: (1,)}),
    "tree": ((2, 3, 3), {0: (), 1: (0,), 2: (0,)}),
    "tree-root-last": ((3, 2, 4), {2: (), 0: (2,), 1: (2,)}),
    "two-parents": ((2, 3, 2), {0: (), 1: (0,), 2: (0, 1)}),
    "two-parents-shuffled": ((3, 2, 2, 3), {3: (), 1: (3,), 0: (1, 3), 2: (0,)}),
}


def random_tables(sizes: tuple[int, ...], parents: dict[int, tuple[int, ...]], rng: np.random.Generator,
                  zeros: float = 0.2) -> dict[int, np.ndarray]:
    tables = {}
    for c, ps in parents.items():
        t = rng.integers(0, 20, size=tuple(sizes[k] for k in (c, *ps))).astype(float)
        t[rng.random(t.shape) < zeros] = 0.0
        tables[c] = t
    return tables


def random_model(name: str, seed: int, zeros: float = 0.2) -> Model:
    sizes, parents = SHAPES[name]
    return Model(sizes, dict(parents), random_tables(sizes, parents, np.random.default_rng(seed), zeros))


def zero_config_model() -> Model:
    """Column 2 has parents (0, 1); the configs (0, 1) and (1, 2) hold no mass and fall back to P(column 2)."""
    sizes, parents = (2, 3, 3), {0: (), 1: (0,), 2: (0, 1)}
    tables = random_tables(sizes, parents, np.random.default_rng(7), zeros=0.0)
    tables[2] = tables[2] + 1.0
    tables[2][:, 0, 1] = 0.0
    tables[2][:, 1, 2] = 0.0
    return Model(sizes, parents, tables)


# ---------------------------------------------------------------- measure


@pytest.mark.parametrize("clique", [(0,), (2,), (1, 0), (0, 3), (3, 1, 2), (0, 1, 2)])
@pytest.mark.parametrize("seed", range(3))
def test_marginal_matches_loop_count(clique: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(1, 5, size=4)]
    n = int(rng.integers(1, 200))
    codes = np.column_stack([rng.integers(0, s, size=n) for s in sizes])
    for table in (codes, narrow_codes(codes, sizes)):  # int64, and a binned table's unsigned codes
        got = marginal(table, sizes, clique)
        assert got.shape == tuple(sizes[c] for c in clique)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, brute_marginal(codes, sizes, clique))


@pytest.mark.parametrize("sizes", [(3, 2, 4), (200, 3, 5), (300, 300, 2), (70_000, 2, 1), (255, 256, 257)])
def test_narrow_counts_match_marginal(sizes: tuple[int, ...]) -> None:
    # Codes in 8, 16 or 32 bits, cell indices in 8, 16 or 32 bits (a product past 2^8 or 2^16
    # would wrap around in too small a type), values at the top of each domain included.
    rng = np.random.default_rng(sum(sizes))
    codes = np.column_stack([rng.integers(0, s, size=5_000) for s in sizes])
    codes[:3] = np.array(sizes) - 1
    small = narrow_codes(codes, sizes)
    assert small.itemsize < 8 and small.flags.f_contiguous
    for clique in [(0,), (1, 0), (0, 2), (2, 1, 0), (0, 1, 2), (1, 2), (2,)]:
        got = narrow_counts(small, sizes, clique)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, marginal(codes, sizes, clique))


def test_marginal_empty_clique_is_the_row_count() -> None:
    codes = np.zeros((17, 2), dtype=np.int64)
    assert float(marginal(codes, [1, 1], ())) == 17.0


def test_measure_with_sigma_zero_is_exact_and_noise_has_the_right_scale() -> None:
    rng = np.random.default_rng(3)
    codes = np.column_stack([rng.integers(0, 4, 500), rng.integers(0, 5, 500)])
    m = measure(Binned(codes, [4, 5]), (0, 1), 0.0, rng)
    np.testing.assert_array_equal(m.values, brute_marginal(codes, [4, 5], (0, 1)))
    assert not m.variance.any()
    noisy = [measure(Binned(codes, [4, 5]), (0, 1), 3.0, rng) for _ in range(200)]
    resid = np.stack([x.values - m.values for x in noisy])
    assert np.all(resid == np.round(resid))
    assert abs(resid.mean()) < 5 * 3.0 / math.sqrt(resid.size)
    assert resid.var() == pytest.approx(9.0, rel=0.12)  # 5 standard errors of a variance from 4000 draws
    assert np.all(noisy[0].variance == 9.0)


def test_measurement_validation() -> None:
    Measurement((0, 1), np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        Measurement((0, 1), np.zeros((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        Measurement((0,), np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match="clique"):
        Measurement((0,), np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="clique"):
        Measurement((0, 1, 2), np.zeros((2, 3)), np.ones((2, 3)))


# ---------------------------------------------------------------- select


@pytest.mark.parametrize("seed", range(40))
def test_private_tree_is_a_spanning_tree(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 9))
    scores = {e: float(rng.random() * 100) for e in itertools.combinations(range(d), 2)}
    eps = float(rng.choice([0.01, 0.5, 5.0]))
    edges = private_tree(scores, d, eps, rng)
    assert all(e in scores for e in edges)
    assert is_spanning_tree(edges, d)


@pytest.mark.parametrize("d", [2, 3, 4, 5])
@pytest.mark.parametrize("seed", range(5))
def test_private_tree_with_huge_eps_is_the_maximum_spanning_tree(d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = {e: float(rng.random() * 50) for e in itertools.combinations(range(d), 2)}
    edges = private_tree(scores, d, 1e7, rng)
    best = max(spanning_trees(d), key=lambda t: sum(scores[e] for e in t))
    assert sorted(edges) == sorted(best)


def test_private_tree_with_tiny_eps_is_near_uniform() -> None:
    """With eps -> 0 every first edge is about equally likely, whatever the scores."""
    rng = np.random.default_rng(11)
    scores = {(0, 1): 1000.0, (0, 2): 0.0, (1, 2): 0.0}
    first = [private_tree(scores, 3, 1e-9, rng)[0] for _ in range(3000)]
    share = first.count((0, 1)) / len(first)
    assert abs(share - 1 / 3) < 0.04


def test_pair_scores_match_brute_force() -> None:
    rng = np.random.default_rng(5)
    sizes = [2, 3, 4]
    codes = np.column_stack([rng.integers(0, s, 300) for s in sizes])
    probs = [rng.dirichlet(np.ones(s)) for s in sizes]
    scores = pair_scores(Binned(codes, sizes), probs, 290.0)
    assert set(scores) == {(0, 1), (0, 2), (1, 2)}
    for (i, j), got in scores.items():
        m = brute_marginal(codes, sizes, (i, j))
        ref = sum(abs(m[a, b] - 290.0 * probs[i][a] * probs[j][b]) for a in range(sizes[i]) for b in range(sizes[j]))
        assert got == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_mutual_information_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = [2, 3, 4]
    x0 = rng.integers(0, 2, 400)
    codes = np.column_stack([x0, (x0 + rng.integers(0, 2, 400)) % 3, rng.integers(0, 4, 400)])
    for a, b in itertools.combinations(range(3), 2):
        m = brute_marginal(codes, sizes, (a, b))
        n = m.sum()
        ref = sum((m[i, j] / n) * math.log(m[i, j] * n / (m[i].sum() * m[:, j].sum()))
                  for i in range(sizes[a]) for j in range(sizes[b]) if m[i, j] > 0)
        assert mutual_information(Binned(codes, sizes), a, b) == pytest.approx(ref, abs=1e-12)
    # I(x; z | g) = H(x,g) + H(z,g) - H(x,z,g) - H(g)
    j = brute_marginal(codes, sizes, (0, 1, 2))
    ref = (brute_entropy(j.sum(1)) + brute_entropy(j.sum(0)) - brute_entropy(j) - brute_entropy(j.sum((0, 1))))
    assert conditional_mi(Binned(codes, sizes), 0, 1, 2) == pytest.approx(ref, abs=1e-12)
    assert conditional_mi(Binned(codes, sizes), 0, 1, 2) >= -1e-12


@pytest.mark.parametrize("seed", range(30))
def test_tree_parents_orients_a_forest(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 9))
    full = [(int(rng.integers(0, k)), k) for k in range(1, d)]
    perm = rng.permutation(d)
    edges = [(int(perm[a]), int(perm[b])) if rng.random() < 0.5 else (int(perm[b]), int(perm[a]))
             for a, b in full if rng.random() < 0.7]  # drop some edges: a forest
    parents = tree_parents(edges, d)
    assert sorted(parents) == list(range(d))
    seen: set[int] = set()
    for c, ps in parents.items():
        assert len(ps) <= 1
        assert all(p in seen for p in ps)
        seen.add(c)
    oriented = {frozenset((c, ps[0])) for c, ps in parents.items() if ps}
    assert oriented == {frozenset(e) for e in edges}
    assert sum(1 for ps in parents.values() if not ps) == d - len(edges)  # one root per component


@pytest.mark.parametrize("seed", range(12))
def test_exact_network(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 6))
    sizes = [int(s) for s in rng.integers(2, 6, size=d)]
    n = 400
    codes = np.zeros((n, d), dtype=np.int64)
    for c in range(d):  # each column depends on up to two earlier ones
        base = rng.integers(0, sizes[c], n)
        for p in rng.choice(c, size=min(c, 2), replace=False) if c else []:
            base = np.where(rng.random(n) < 0.6, codes[:, p] % sizes[c], base)
        codes[:, c] = base
    max_cells = int(rng.choice([20, 60, 1000]))
    parents = exact_network(Binned(codes, sizes), max_cells=max_cells)
    assert sorted(parents) == list(range(d))
    seen: set[int] = set()
    for c, ps in parents.items():
        assert len(ps) <= 2
        assert len(set(ps)) == len(ps) and c not in ps
        assert all(p in seen for p in ps), "every parent precedes its child"
        if len(ps) == 2:
            assert sizes[c] * sizes[ps[0]] * sizes[ps[1]] <= max_cells
        seen.add(c)
    # The first parents form a maximum mutual-information spanning tree.
    tree = [tuple(sorted((c, ps[0]))) for c, ps in parents.items() if ps]
    if d > 1:
        assert is_spanning_tree(tree, d)
        mi = {e: mutual_information(Binned(codes, sizes), *e) for e in itertools.combinations(range(d), 2)}
        best = max(sum(mi[e] for e in t) for t in spanning_trees(d))
        assert sum(mi[e] for e in tree) == pytest.approx(best, abs=1e-9)
    # The network validates as a Model over exact counts.
    Model(tuple(sizes), parents, {c: marginal(codes, sizes, (c, *ps)) for c, ps in parents.items()})


def test_exact_network_adds_a_second_parent_for_xor() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, 2000), rng.integers(0, 2, 2000)
    codes = np.column_stack([a, b, a ^ b])
    parents = exact_network(Binned(codes, [2, 2, 2]), max_cells=8)
    assert any(len(ps) == 2 for ps in parents.values())
    assert exact_network(Binned(codes, [2, 2, 2]), max_cells=7) == {c: ps[:1] for c, ps in parents.items()}


# ---------------------------------------------------------------- Model


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("seed", range(4))
def test_joint_matches_product_of_conditionals(name: str, seed: int) -> None:
    model = random_model(name, seed)
    joint = model.joint()
    assert joint.shape == model.sizes
    np.testing.assert_allclose(joint, brute_joint(model.sizes, model.parents, model.tables), rtol=1e-12, atol=1e-15)
    assert joint.sum() == pytest.approx(1.0, abs=1e-12)
    assert (joint >= 0).all()


def test_joint_with_an_empty_parent_config_falls_back_to_the_marginal() -> None:
    model = zero_config_model()
    joint = model.joint()
    np.testing.assert_allclose(joint, brute_joint(model.sizes, model.parents, model.tables), rtol=1e-12)
    marg = model.tables[2].sum(axis=(1, 2))
    for config in [(0, 1), (1, 2)]:
        cond = joint[config[0], config[1], :] / joint[config[0], config[1], :].sum()
        np.testing.assert_allclose(cond, marg / marg.sum(), rtol=1e-12)


def test_conditional_of_an_all_zero_table_is_uniform() -> None:
    model = Model((3, 2), {0: (), 1: (0,)}, {0: np.zeros(3), 1: np.zeros((2, 3))})
    np.testing.assert_allclose(model.joint(), np.full((3, 2), 1 / 6))


def test_model_validation() -> None:
    ok = {0: np.ones(2), 1: np.ones((3, 2))}
    Model((2, 3), {0: (), 1: (0,)}, ok)
    with pytest.raises(ValueError, match="come before"):
        Model((2, 3), {1: (0,), 0: ()}, ok)  # parent after child
    with pytest.raises(ValueError, match="come before"):
        Model((2, 3), {0: (0,), 1: ()}, {0: np.ones((2, 2)), 1: np.ones(3)})  # its own parent
    with pytest.raises(ValueError, match="shape"):
        Model((2, 3), {0: (), 1: (0,)}, {0: np.ones(2), 1: np.ones((2, 3))})  # axes swapped
    with pytest.raises(ValueError, match="shape"):
        Model((2, 3), {0: (), 1: ()}, {0: np.ones(2), 1: np.ones((3, 2))})
    with pytest.raises(ValueError, match="negative"):
        Model((2, 3), {0: (), 1: (0,)}, {0: np.ones(2), 1: -np.ones((3, 2))})
    with pytest.raises(ValueError, match="cover"):
        Model((2, 3, 2), {0: (), 1: (0,)}, ok)  # column 2 missing


def test_model_validation_missing_table() -> None:
    """Regression: this used to be a bare KeyError."""
    with pytest.raises(ValueError, match="column 1"):
        Model((2, 3), {0: (), 1: (0,)}, {0: np.ones(2)})


def test_model_validation_nan_entries() -> None:
    """Regression: NaN passed the negative-entries check ((nan < 0) is False) and the model sampled garbage."""
    with pytest.raises(ValueError, match="column 0"):
        Model((2, 3), {0: (), 1: (0,)}, {0: np.array([1.0, np.nan]), 1: np.ones((3, 2))})
    with pytest.raises(ValueError, match="column 1"):
        Model((2, 3), {0: (), 1: (0,)}, {0: np.ones(2), 1: np.full((3, 2), np.inf)})


# ---------------------------------------------------------------- project_simplex


def reference_projection(v: np.ndarray, total: float) -> np.ndarray:
    """KKT: x = max(v - theta, 0) with theta chosen by bisection so that sum(x) = total."""
    lo, hi = float(v.min()) - total - 1.0, float(v.max())
    for _ in range(200):
        mid = (lo + hi) / 2
        if np.maximum(v - mid, 0).sum() > total:
            lo = mid
        else:
            hi = mid
    return np.maximum(v - (lo + hi) / 2, 0)


@pytest.mark.parametrize("seed", range(30))
def test_project_simplex_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = [(5,), (3, 4), (2, 2, 3), (1,), (7,)][seed % 5]
    v = rng.normal(0, 10, size=shape) * rng.choice([0.01, 1, 100])
    total = float(rng.choice([0.5, 1.0, 37.0, 1e4]))
    x = project_simplex(v, total)
    assert x.shape == v.shape
    assert (x >= 0).all()
    assert x.sum() == pytest.approx(total, rel=1e-9)
    np.testing.assert_allclose(x, reference_projection(v, total), atol=1e-7 * max(total, 1.0))
    # KKT: one theta for the positive cells, and every zero cell sits below it.
    pos = x > 0
    theta = (v[pos] - x[pos]).mean()
    np.testing.assert_allclose(v[pos] - x[pos], theta, atol=1e-7 * max(total, 1.0))
    assert (v[~pos] <= theta + 1e-7 * max(total, 1.0)).all()
    # And it is closer to v than random feasible points.
    dist = np.linalg.norm(x - v)
    for _ in range(50):
        y = rng.dirichlet(np.ones(v.size)).reshape(shape) * total
        assert dist <= np.linalg.norm(y - v) + 1e-9


def test_project_simplex_edge_cases() -> None:
    v = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(project_simplex(v, 10.0), v)  # already feasible
    np.testing.assert_array_equal(project_simplex(v, 0.0), np.zeros((2, 2)))
    np.testing.assert_array_equal(project_simplex(v, -3.0), np.zeros((2, 2)))
    np.testing.assert_allclose(project_simplex(np.array([-5.0, -5.0]), 4.0), [2.0, 2.0])
    np.testing.assert_allclose(project_simplex(np.array([100.0, -100.0]), 1.0), [1.0, 0.0])


# ---------------------------------------------------------------- rake


@pytest.mark.parametrize("seed", range(20))
def test_rake_matches_margins(seed: int) -> None:
    rng = np.random.default_rng(seed)
    r, c = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    table = rng.random((r, c)) * 10
    if seed % 2:
        table[rng.random((r, c)) < 0.3] = 0.0  # sparse, but the support below stays feasible
    target = rng.random((r, c)) * 50 * (table > 0) + 1e-3 * (table > 0)
    if target.sum() == 0:
        target[0, 0] = table[0, 0] = 1.0
    rows, cols = target.sum(1), target.sum(0)
    out = rake(table, rows, cols)
    assert (out >= 0).all()
    np.testing.assert_allclose(out.sum(1), rows, rtol=0, atol=1e-6 * rows.sum())
    np.testing.assert_allclose(out.sum(0), cols, rtol=0, atol=1e-6 * rows.sum())


def test_rake_keeps_a_consistent_table() -> None:
    t = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_allclose(rake(t, t.sum(1), t.sum(0)), t, rtol=1e-6)


def test_rake_zero_margins() -> None:
    t = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = rake(t, np.array([0.0, 10.0]), np.array([4.0, 6.0]))
    np.testing.assert_allclose(out.sum(1), [0.0, 10.0], atol=1e-6)
    np.testing.assert_allclose(out.sum(0), [4.0, 6.0], atol=1e-6)


def test_rake_matches_margins_when_the_support_must_grow() -> None:
    """Regression: with only 1e-9 of the mass seeded in empty cells, 200 IPF sweeps ended 0.05 off the margins."""
    table = np.array([[46.482, 0.0], [0.482, 12.482]])  # observed in consistent_pairs on a 2x2 with sigma 0.5
    rows = cols = np.array([46.556, 12.889])
    out = rake(table, rows, cols)
    np.testing.assert_allclose(out.sum(1), rows, atol=1e-6 * rows.sum())
    np.testing.assert_allclose(out.sum(0), cols, atol=1e-6 * rows.sum())


# ---------------------------------------------------------------- consistent_pairs and tree_model

TREES: dict[str, tuple[list[int], list[tuple[int, int]]]] = {
    "pair": ([3, 4], [(0, 1)]),
    "chain": ([2, 3, 4], [(0, 1), (1, 2)]),
    "star": ([3, 2, 2, 3], [(0, 1), (0, 2), (0, 3)]),
    "reversed": ([4, 3, 2], [(1, 2), (0, 2)]),
    "wide": ([6, 5, 2, 4, 3], [(0, 1), (1, 2), (1, 3), (3, 4)]),
}


def tree_data(sizes: list[int], edges: list[tuple[int, int]], n: int, rng: np.random.Generator,
              alpha: float = 0.5) -> np.ndarray:
    """Rows from a random tree-structured distribution (Dirichlet(alpha) conditionals)."""
    parents = tree_parents(edges, len(sizes))
    codes = np.zeros((n, len(sizes)), dtype=np.int64)
    for c, ps in parents.items():
        if not ps:
            codes[:, c] = rng.choice(sizes[c], n, p=rng.dirichlet(np.full(sizes[c], alpha)))
            continue
        cond = rng.dirichlet(np.full(sizes[c], alpha), size=sizes[ps[0]])
        cdf = np.cumsum(cond, axis=1)[codes[:, ps[0]]]
        codes[:, c] = np.minimum((rng.random(n)[:, None] > cdf).sum(1), sizes[c] - 1)
    return codes


def measurements(codes: np.ndarray, sizes: list[int], edges: list[tuple[int, int]], sigma: float,
                 rng: np.random.Generator) -> tuple[dict[int, Measurement], list[Measurement], tuple[float, float]]:
    one = {c: measure(Binned(codes, sizes), (c,), sigma, rng) for c in range(len(sizes))}
    pairs = [measure(Binned(codes, sizes), e, sigma, rng) for e in edges]
    total = (len(codes) + float(rng.normal(0, sigma)) if sigma else float(len(codes)), sigma**2)
    return one, pairs, total


def assert_consistent(n: float, margins: dict[int, np.ndarray], tables: dict[tuple[int, int], np.ndarray],
                      d: int, edges: list[tuple[int, int]], rtol: float = 1e-6) -> None:
    assert sorted(margins) == list(range(d))
    assert sorted(tables) == sorted(edges)
    for c, m in margins.items():
        assert (m >= 0).all()
        assert m.sum() == pytest.approx(n, rel=1e-9)
    for (a, b), t in tables.items():
        assert (t >= 0).all()
        assert t.sum() == pytest.approx(n, rel=1e-9)
        np.testing.assert_allclose(t.sum(1), margins[a], rtol=0, atol=rtol * n)
        np.testing.assert_allclose(t.sum(0), margins[b], rtol=0, atol=rtol * n)


def assert_model_reproduces(sizes: list[int], edges: list[tuple[int, int]], n: float,
                            margins: dict[int, np.ndarray], tables: dict[tuple[int, int], np.ndarray]) -> None:
    d = len(sizes)
    model = tree_model(sizes, tree_parents(edges, d), margins, tables)
    joint = brute_joint(model.sizes, model.parents, model.tables)
    np.testing.assert_allclose(joint, model.joint(), atol=1e-12)
    for c in range(d):
        other = tuple(k for k in range(d) if k != c)
        np.testing.assert_allclose(joint.sum(axis=other), margins[c] / n, atol=1e-6)
    for (a, b), t in tables.items():
        other = tuple(k for k in range(d) if k not in (a, b))
        np.testing.assert_allclose(joint.sum(axis=other), t / n, atol=1e-6)


@pytest.mark.parametrize("name", TREES)
@pytest.mark.parametrize("seed", range(3))
def test_consistent_pairs_noise_free_returns_the_exact_marginals(name: str, seed: int) -> None:
    sizes, edges = TREES[name]
    rng = np.random.default_rng(seed)
    codes = tree_data(sizes, edges, 500, rng)
    one, pairs, total = measurements(codes, sizes, edges, 0.0, rng)
    n, margins, tables = consistent_pairs(len(sizes), one, pairs, total)
    assert n == pytest.approx(500, rel=1e-9)
    for c in range(len(sizes)):
        np.testing.assert_allclose(margins[c], brute_marginal(codes, sizes, (c,)), atol=1e-6)
    for e in edges:
        np.testing.assert_allclose(tables[e], brute_marginal(codes, sizes, e), atol=1e-6)
    assert_model_reproduces(sizes, edges, n, margins, tables)


@pytest.mark.parametrize("name", TREES)
@pytest.mark.parametrize("sigma", [1.0, 5.0])
@pytest.mark.parametrize("seed", range(3))
def test_consistent_pairs_noisy_well_conditioned(name: str, sigma: float, seed: int) -> None:
    """Plenty of rows in every cell: the noisy tables stay positive and agree after projection."""
    sizes, edges = TREES[name]
    rng = np.random.default_rng(100 + seed)
    codes = tree_data(sizes, edges, 20_000, rng, alpha=5.0)
    one, pairs, total = measurements(codes, sizes, edges, sigma, rng)
    n, margins, tables = consistent_pairs(len(sizes), one, pairs, total)
    assert abs(n - 20_000) < 5 * sigma
    assert_consistent(n, margins, tables, len(sizes), edges)
    assert_model_reproduces(sizes, edges, n, margins, tables)


def sweep_cases() -> list[tuple[list[int], list[tuple[int, int]], float, int]]:
    """Small, sparse, noisy instances like the DP pipeline's: 150 random trees, sigma up to n/4."""
    cases = []
    for seed in range(150):
        rng = np.random.default_rng(1000 + seed)
        d = int(rng.integers(2, 5))
        sizes = [int(s) for s in rng.integers(2, 5, size=d)]
        edges = [(int(rng.integers(0, k)), k) for k in range(1, d)]
        cases.append((sizes, edges, float(rng.choice([0.5, 2.0, 10.0, 50.0])), int(rng.integers(20, 500))))
    return cases


def run_sweep(check) -> None:
    for i, (sizes, edges, sigma, n_rows) in enumerate(sweep_cases()):
        rng = np.random.default_rng(i)
        codes = tree_data(sizes, edges, n_rows, rng)
        one, pairs, total = measurements(codes, sizes, edges, sigma, rng)
        n, margins, tables = consistent_pairs(len(sizes), one, pairs, total)
        check(sizes, edges, n, margins, tables)


def test_consistent_pairs_noisy_sweep_non_negative_with_equal_totals() -> None:
    def check(sizes, edges, n, margins, tables) -> None:
        assert n >= 1.0
        for m in margins.values():
            assert (m >= 0).all() and m.sum() == pytest.approx(n, rel=1e-9)
        for t in tables.values():
            assert (t >= 0).all() and t.sum() == pytest.approx(n, rel=1e-9)

    run_sweep(check)


def test_consistent_pairs_noisy_sweep_tables_agree_with_margins() -> None:
    """Regression: where the projected pair table's support could not carry the consensus margins, rake stopped
    short and pair tables disagreed with the 1-way margins by up to 1.4% of n."""
    run_sweep(lambda sizes, edges, n, margins, tables: assert_consistent(n, margins, tables, len(sizes), edges))


def test_tree_model_noisy_sweep_reproduces_tables() -> None:
    run_sweep(lambda sizes, edges, n, margins, tables: assert_model_reproduces(sizes, edges, n, margins, tables))


def test_tree_model_single_column() -> None:
    one = {0: Measurement((0,), np.array([5.0, -2.0, 9.0]), np.ones(3))}
    n, margins, tables = consistent_pairs(1, one, [], (12.0, 1.0))
    model = tree_model([3], {0: ()}, margins, tables)
    assert tables == {}
    assert (margins[0] >= 0).all()
    np.testing.assert_allclose(model.joint(), margins[0] / margins[0].sum())


def test_consistent_pairs_inverse_variance_consensus() -> None:
    """The row count is the inverse-variance mean of every measurement's total."""
    one = {0: Measurement((0,), np.array([60.0, 40.0]), np.full(2, 4.0)),
           1: Measurement((1,), np.array([30.0, 80.0]), np.full(2, 4.0))}
    pair = Measurement((0, 1), np.array([[20.0, 50.0], [10.0, 20.0]]), np.full((2, 2), 1.0))
    n, _, _ = consistent_pairs(2, one, [pair], (90.0, 2.0))
    totals = np.array([90.0, 100.0, 110.0, 100.0])
    weights = 1 / np.array([2.0, 8.0, 8.0, 4.0])
    assert n == pytest.approx((weights * totals).sum() / weights.sum(), rel=1e-12)


# ---------------------------------------------------------------- sample

SAMPLE_N = 200_000


def empirical_joint(codes: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    flat = np.ravel_multi_index(tuple(codes[:, c] for c in range(len(sizes))), sizes)
    return np.bincount(flat, minlength=int(np.prod(sizes))).reshape(sizes) / len(codes)


@pytest.mark.parametrize("name", [*SHAPES, "zero-config"])
def test_sample_matches_joint(name: str) -> None:
    model = zero_config_model() if name == "zero-config" else random_model(name, 3, zeros=0.3)
    codes = sample(model, SAMPLE_N, np.random.default_rng(17))
    assert codes.shape == (SAMPLE_N, len(model.sizes))
    assert codes.dtype == np.int64
    for c, s in enumerate(model.sizes):
        assert codes[:, c].min() >= 0 and codes[:, c].max() < s
    joint = model.joint()
    emp = empirical_joint(codes, model.sizes)
    # Expected TVD is about sum(sqrt(p / (2 pi N))) < 0.005 for these domains.
    assert 0.5 * np.abs(emp - joint).sum() < 0.02
    assert emp[joint == 0].sum() == 0, "a zero-probability cell was sampled"
    # Per-cell check at 5 standard errors.
    se = np.sqrt(joint * (1 - joint) / SAMPLE_N)
    assert (np.abs(emp - joint) <= 5 * se + 1e-12).all()


def test_sample_same_seed_same_rows_and_edge_sizes() -> None:
    model = random_model("two-parents-shuffled", 1)
    a = sample(model, 1000, np.random.default_rng(5))
    b = sample(model, 1000, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert sample(model, 0, np.random.default_rng(5)).shape == (0, 4)
    assert sample(model, 1, np.random.default_rng(5)).shape == (1, 4)


def test_sample_from_a_deterministic_model() -> None:
    tables = {0: np.array([0.0, 0.0, 7.0]), 1: np.array([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0],
                                                        [0.0, 0.0, 4.0]])}
    model = Model((3, 4), {0: (), 1: (0,)}, tables)
    codes = sample(model, 500, np.random.default_rng(0))
    assert (codes[:, 0] == 2).all() and (codes[:, 1] == 3).all()
