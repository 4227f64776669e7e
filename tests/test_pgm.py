"""Factor, junction tree, belief propagation, Private-PGM estimation and sampling vs brute force.

Every model here is small enough to write its full joint distribution down:
the references are that joint (summed out for marginals), the joint's
maximum-entropy form for decomposable measurements, and an NNLS solution of
the estimation problem over the full joint.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.optimize
import scipy.special

from duckdb_synth.engine.model.factor import SMALL_CELLS, Factor, MultiBroadcast, MultiReducer, Reducer, logsumexp
from duckdb_synth.engine.model.junction import (JunctionTree, Plan, calibrate, calibrate_linear, calibrate_shared,
                                                junction_size, junction_tree)
from duckdb_synth.engine.marginal import Measurement
from duckdb_synth.engine.model import pgm
from duckdb_synth.engine.model.pgm import GraphicalModel, estimate, estimate_total, loss

CENSOR_DEFAULT = pgm.CENSOR

# name -> (domain sizes, cliques). Sizes differ per column so a transposed axis cannot pass.
SHAPES = {
    "chain": ((2, 3, 2, 3), [(0, 1), (1, 2), (2, 3)]),
    "star": ((3, 2, 3, 2), [(0, 1), (0, 2), (0, 3)]),
    "tree": ((2, 3, 2, 2, 3), [(0, 1), (1, 2), (1, 3), (3, 4)]),
    "cycle": ((2, 3, 2, 3), [(0, 1), (1, 2), (2, 3), (0, 3)]),
    "triangles": ((2, 3, 2, 3), [(0, 1, 2), (1, 2, 3)]),
    "disconnected": ((3, 2, 2, 3, 2), [(0, 1), (2, 3)]),  # column 4 in no clique
    "single": ((4,), [(0,)]),
}
shapes = pytest.mark.parametrize("shape", list(SHAPES))


# ---------------------------------------------------------------- brute-force references


def random_model(sizes, cliques, rng, scale=1.0, total=1000.0) -> GraphicalModel:
    """Random log potentials on the junction tree of `cliques`."""
    tree = junction_tree(cliques, len(sizes), sizes)
    pots = {c: Factor(c, scale * rng.normal(size=tuple(sizes[a] for a in c))) for c in tree.cliques}
    return GraphicalModel(tuple(sizes), tree, pots, total)


def factorising(sizes, cliques, rng, total) -> np.ndarray:
    """A joint (counts) proportional to a product of random tables on `cliques` exactly."""
    logp = np.zeros(sizes)
    for c in cliques:
        logp = logp + Factor(c, rng.normal(size=tuple(sizes[a] for a in c))).aligned(tuple(range(len(sizes))))
    p = np.exp(logp - logp.max())
    return p / p.sum() * total


def joint(model: GraphicalModel) -> np.ndarray:
    """The model's full joint, as counts summing to total."""
    full = tuple(range(model.d))
    logp = np.zeros(model.sizes)
    for f in model.potentials.values():
        logp = logp + f.aligned(full)
    with np.errstate(invalid="ignore"):
        p = np.exp(logp - np.max(logp))
    return p / p.sum() * model.total


def project(table: np.ndarray, clique) -> np.ndarray:
    return table.sum(axis=tuple(a for a in range(table.ndim) if a not in clique))


def subsets(d: int, largest: int = 3):
    for r in range(1, min(d, largest) + 1):
        yield from itertools.combinations(range(d), r)


def exact_measurements(table: np.ndarray, cliques, variance: float = 1.0) -> list[Measurement]:
    return [Measurement(c, project(table, c), np.full(project(table, c).shape, variance)) for c in cliques]


def noisy_measurements(table, cliques, sigma, rng) -> list[Measurement]:
    out = []
    for c in cliques:
        exact = project(table, c)
        out.append(Measurement(c, exact + sigma * rng.normal(size=exact.shape), np.full(exact.shape, sigma**2)))
    return out


def table_loss(table: np.ndarray, measurements) -> float:
    return sum(float(np.sum((project(table, m.clique) - m.values) ** 2 / m.variance)) for m in measurements)


PROBLEM_CLIQUES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 2, 4), (1, 3, 4), (0, 3)]


def noisy_problem(seed: int, cliques) -> tuple[tuple[int, ...], list[Measurement]]:
    """The estimator's harder test problem: 16,800 cells of five columns, 20,000 rows from a sparse
    Dirichlet (many cells near zero), every 1-way and `cliques` measured with noise of sd 5."""
    rng = np.random.default_rng(seed)
    sizes = (8, 6, 10, 5, 7)
    data = rng.dirichlet(np.full(math.prod(sizes), 0.3)).reshape(sizes) * 20000.0
    return sizes, noisy_measurements(data, [(a,) for a in range(5)] + list(cliques), 5.0, rng)


def nnls_optimum(sizes, measurements, total) -> float:
    """The least loss over all non-negative joints summing to total (the sum enforced by a heavy row)."""
    cells = math.prod(sizes)
    rows, targets = [], []
    for m in measurements:
        w = 1.0 / np.sqrt(m.variance.ravel())
        a = np.zeros((m.values.size, cells))
        flat = np.ravel_multi_index(np.indices(sizes).reshape(len(sizes), -1)[list(m.clique)],
                                    m.values.shape)
        a[flat, np.arange(cells)] = 1.0
        rows.append(a * w[:, None])
        targets.append(m.values.ravel() * w)
    heavy = 1e4
    rows.append(np.full((1, cells), heavy))
    targets.append(np.array([heavy * total]))
    x, _ = scipy.optimize.nnls(np.vstack(rows), np.concatenate(targets), maxiter=50 * cells)
    return table_loss(x.reshape(sizes) * (total / x.sum()), measurements)


# ---------------------------------------------------------------- factor


def test_factor_operations_match_numpy():
    rng = np.random.default_rng(0)
    sizes = (2, 3, 4, 5)
    f = Factor((0, 2), rng.normal(size=(2, 4)))
    g = Factor((1, 2, 3), rng.normal(size=(3, 4, 5)))
    h = f + g
    assert h.attrs == (0, 1, 2, 3)
    assert np.allclose(h.values, f.values[:, None, :, None] + g.values[None])
    assert np.allclose((f - g).values, f.values[:, None, :, None] - g.values[None])
    assert np.allclose((f * g).values, f.values[:, None, :, None] * g.values[None])
    assert np.allclose(f.expand((0, 1, 2), sizes).values, np.broadcast_to(f.values[:, None, :], (2, 3, 4)))
    assert np.allclose(h.project((1, 3)).values, h.values.sum(axis=(0, 2)))
    assert np.allclose(h.logsumexp((0, 3)).values, scipy.special.logsumexp(h.values, axis=(1, 2)))
    assert h.project(h.attrs) is h
    assert np.allclose((f / Factor((0,), np.array([0.0, 2.0]))).values, np.array([[0] * 4, f.values[1] / 2]))


@pytest.mark.parametrize("shape", [(20, 3, 4, 2, 7), (4, 3, 1, 5, 2), (4, 4, 4, 4, 4), (3,), (2, 1, 3), ()])
def test_reducer_matches_sum_for_every_kept_subset(shape):
    values = np.random.default_rng(1).random(shape)
    attrs = tuple(range(10, 10 + len(shape)))
    for r in range(len(shape) + 1):
        for keep in itertools.combinations(attrs, r):
            axes = tuple(i for i, a in enumerate(attrs) if a not in keep)
            reduce = Reducer(attrs, shape, keep)
            assert np.allclose(reduce(values), values.sum(axis=axes)), keep
            if any(shape[i] > 1 for i in axes):  # a small table is summed by one bincount
                assert (reduce.index is not None) == (values.size <= SMALL_CELLS), keep


@pytest.mark.parametrize("shape", [(6, 5, 4, 3, 2, 1, 2), (3, 1, 2), (40, 2)])
def test_multi_reducer_and_broadcast_match_one_at_a_time(shape):
    """Shared passes give what one sum (or one broadcast product) per table gives, every subset
    and duplicates included; a target that is the whole table comes back as a copy."""
    rng = np.random.default_rng(2)
    values = rng.random(shape)
    attrs = tuple(range(3, 3 + len(shape)))
    subsets_ = [keep for r in range(len(shape) + 1) for keep in itertools.combinations(attrs, r)]
    targets = [subsets_[i] for i in rng.choice(len(subsets_), min(12, len(subsets_)), replace=False)]
    targets += [targets[0], attrs, ()]
    outs = MultiReducer(attrs, shape, targets)(values)
    for keep, out in zip(targets, outs):
        assert np.allclose(out, Reducer(attrs, shape, keep)(values)), keep
    whole = outs[-2]
    whole[...] = 0.0
    assert values.min() > 0  # a copy, not the table itself
    parts = [t for t in targets if len(t) < len(attrs)]
    factors = [rng.random(tuple(shape[attrs.index(a)] for a in t)) + 0.5 for t in parts]
    got, want = values.copy(), values.copy()
    MultiBroadcast(attrs, shape, parts).multiply_into(got, factors)
    for t, f in zip(parts, factors):
        want = want * np.reshape(f, tuple(shape[i] if a in t else 1 for i, a in enumerate(attrs)))
    assert np.allclose(got, want)



def test_logsumexp_handles_minus_infinity_and_huge_values():
    v = np.array([[-np.inf, -np.inf], [1000.0, 1000.0], [-1000.0, 0.0]])
    out = logsumexp(v, (1,))
    assert out[0] == -np.inf
    assert np.isclose(out[1], 1000.0 + math.log(2))
    assert np.isclose(out[2], 0.0)


@pytest.mark.parametrize("attrs, values", [((1, 0), np.zeros((2, 2))), ((0, 0), np.zeros((2, 2))),
                                           ((0, 1), np.zeros(3))])
def test_factor_refuses_unsorted_or_mismatched(attrs, values):
    with pytest.raises(ValueError):
        Factor(attrs, values)


def test_factor_refuses_columns_outside():
    with pytest.raises(ValueError, match="not in"):
        Factor((0, 3), np.zeros((2, 2))).project((1,))


# ---------------------------------------------------------------- junction tree


def check_junction_tree(tree: JunctionTree, cliques, d):
    sets = [set(c) for c in tree.cliques]
    for c in cliques:
        assert any(set(c) <= s for s in sets), f"{c} not in any maximal clique"
    assert set().union(*sets) == set(range(d))
    for i, a in enumerate(sets):
        assert all(not a <= b for j, b in enumerate(sets) if i != j), "a clique is not maximal"
    # A tree: n - 1 edges, parents before children (BFS order from 0), connected.
    assert len(tree.edges) == len(tree.cliques) - 1
    reached = {0}
    for p, c in tree.edges:
        assert p in reached and c not in reached
        reached.add(c)
    assert reached == set(range(len(tree.cliques)))
    # Running intersection: the cliques holding a column form a connected subtree.
    for a in range(d):
        holders = {i for i, s in enumerate(sets) if a in s}
        inner = [(p, c) for p, c in tree.edges if p in holders and c in holders]
        assert len(inner) == len(holders) - 1, f"column {a}'s cliques are not connected"


@shapes
def test_junction_tree_properties(shape):
    sizes, cliques = SHAPES[shape]
    tree = junction_tree(cliques, len(sizes), sizes)
    check_junction_tree(tree, cliques, len(sizes))
    assert tree.size(sizes) == sum(math.prod(sizes[a] for a in c) for c in tree.cliques)


def test_chordal_graphs_get_no_fill():
    for shape in ("chain", "star", "tree", "triangles", "single"):
        sizes, cliques = SHAPES[shape]
        assert sorted(junction_tree(cliques, len(sizes), sizes).cliques) == sorted(cliques)
    sizes, cliques = SHAPES["disconnected"]
    assert sorted(junction_tree(cliques, len(sizes), sizes).cliques) == [(0, 1), (2, 3), (4,)]


def test_cycle_gets_a_chord():
    sizes, cliques = SHAPES["cycle"]
    tree = junction_tree(cliques, 4, sizes)
    assert len(tree.cliques) == 2 and all(len(c) == 3 for c in tree.cliques)


@pytest.mark.parametrize("seed", range(20))
def test_junction_tree_of_random_graphs(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(3, 10))
    sizes = [int(s) for s in rng.integers(2, 6, size=d)]
    cliques = [tuple(sorted(rng.choice(d, size=int(rng.integers(1, 4)), replace=False).tolist()))
               for _ in range(int(rng.integers(1, 12)))]
    check_junction_tree(junction_tree(cliques, d, sizes), cliques, d)
    assert junction_size(cliques, d, sizes) == junction_tree(cliques, d, sizes).size(sizes)


def test_junction_size_with_a_limit_stops_only_past_it():
    """With a limit, the size is exact where it is within the limit and over the limit where the whole
    is, at every limit around the true size, on 400 random graphs of up to 14 columns (some cliques
    nested, so that elimination steps that are not maximal come up)."""
    rng = np.random.default_rng(7)
    stopped = 0
    for _ in range(400):
        d = int(rng.integers(2, 15))
        sizes = [int(s) for s in rng.integers(1, 7, size=d)]
        cliques = [tuple(sorted(rng.choice(d, size=int(rng.integers(1, min(4, d) + 1)), replace=False).tolist()))
                   for _ in range(int(rng.integers(0, 13)))]
        full = junction_size(cliques, d, sizes)
        for limit in (0, full // 2, full - 1, full, full + 1):
            got = junction_size(cliques, d, sizes, limit)
            assert (got > limit) == (full > limit)
            if full <= limit:
                assert got == full
            else:
                stopped += got < full
    assert stopped > 100  # most sizings over their limit stopped before the end


def test_a_sizer_sizes_candidates_as_junction_size_does(monkeypatch):
    """``Sizer`` (the graph's elimination kept, a candidate's run again only from where it parts) gives
    junction_size's answer with a limit, at every limit around the true size, for pairs and triples on
    300 random graphs of up to 16 columns, with every step's state kept and with only the first three;
    many candidates follow the kept run for some steps."""
    from duckdb_synth.engine.model import junction
    from duckdb_synth.engine.model.junction import Sizer

    resumed: list[int] = []  # columns already eliminated where a candidate's own run starts
    run = junction._run

    def counting(adj, cells, keys, trace=None, keep=0):
        if trace is None:
            resumed.append(len(adj) - len(keys))
        return run(adj, cells, keys, trace, keep)

    monkeypatch.setattr(junction, "_run", counting)
    rng = np.random.default_rng(11)
    keeps = iter([64, 3] * 150)  # all states kept, and only the first three (a candidate runs on from there)
    for _ in range(300):
        d = int(rng.integers(3, 17))
        sizes = [int(s) for s in rng.integers(1, 7, size=d)]
        cliques = [tuple(sorted(rng.choice(d, size=int(rng.integers(1, min(4, d) + 1)), replace=False).tolist()))
                   for _ in range(int(rng.integers(0, 15)))]
        sizer = Sizer(cliques, d, sizes, keep=next(keeps))
        for _ in range(5):
            c = tuple(sorted(rng.choice(d, size=int(rng.integers(2, 4)), replace=False).tolist()))
            full = junction_size([*cliques, c], d, sizes)
            for limit in (0, full // 2, full - 1, full, full + 1, 10**12):
                got = sizer.size(c, limit)
                assert (got > limit) == (full > limit), (cliques, c, limit)
                if full <= limit:
                    assert got == full, (cliques, c, limit)
    assert sum(k > 0 for k in resumed) > 0.3 * len(resumed)


def test_junction_tree_refuses_bad_columns():
    with pytest.raises(ValueError, match="outside"):
        junction_tree([(0, 5)], 3, [2, 2, 2])
    with pytest.raises(ValueError, match="domain sizes"):
        junction_tree([(0, 1)], 3, [2, 2])


# ---------------------------------------------------------------- belief propagation and marginals


@shapes
@pytest.mark.parametrize("scale", [1.0, 8.0])
def test_beliefs_and_marginals_match_the_joint(shape, scale):
    sizes, cliques = SHAPES[shape]
    model = random_model(sizes, cliques, np.random.default_rng(1), scale=scale)
    full = joint(model)
    for c, b in model.beliefs().items():
        assert np.allclose(b, project(full, c), rtol=1e-8, atol=1e-12)
    for c in subsets(len(sizes)):
        assert np.allclose(model.marginal(c), project(full, c), rtol=1e-8, atol=1e-12), c
    assert np.isclose(model.marginal(()), model.total)


@shapes
def test_calibrate_returns_the_log_partition_function(shape):
    sizes, cliques = SHAPES[shape]
    model = random_model(sizes, cliques, np.random.default_rng(3), scale=3.0)
    pots = [model.potentials[c].values for c in model.tree.cliques]
    before = [p.copy() for p in pots]
    counts, log_z = calibrate(Plan(model.tree, sizes), pots, 7.0)
    full = tuple(range(len(sizes)))
    logp = sum(np.broadcast_to(f.aligned(full), sizes) for f in model.potentials.values())
    assert log_z == pytest.approx(scipy.special.logsumexp(logp), rel=1e-12)
    assert all(np.array_equal(a, b) for a, b in zip(pots, before))  # inputs untouched
    assert all(np.isclose(c.sum(), 7.0) for c in counts)


@shapes
def test_linear_calibration_matches_the_joint_and_gives_way_on_underflow(shape):
    sizes, cliques = SHAPES[shape]
    model = random_model(sizes, cliques, np.random.default_rng(4), scale=3.0)
    plan = Plan(model.tree, sizes)
    pots = [model.potentials[c].values for c in model.tree.cliques]
    counts = calibrate_linear(plan, [np.exp(p - p.max()) for p in pots], 7.0)
    full = joint(model) * 7.0 / model.total
    for c, b in zip(model.tree.cliques, counts):
        assert np.allclose(b, project(full, c), rtol=1e-10, atol=1e-13)
    if model.tree.edges:  # a child whose separator sums reach 1e-300: refused
        p, c = model.tree.edges[-1]
        far = [np.exp(q - q.max()) for q in pots]
        sep = model.tree.separator(p, c)
        pos = [model.tree.cliques[c].index(a) for a in sep]
        idx = [slice(None)] * far[c].ndim
        for k in pos:
            idx[k] = 0
        far[c][tuple(idx)] *= 1e-300
        if sep:
            assert calibrate_linear(plan, far, 7.0) is None
    # Tables scaled down to 1e-200 give the same beliefs (messages are rescaled); to 1e-310
    # (denormal: digits already lost), they are refused.
    small = calibrate_linear(plan, [np.exp(q - q.max()) * 1e-200 for q in pots], 7.0)
    assert all(np.allclose(a, b, rtol=1e-10) for a, b in zip(small, counts))
    assert calibrate_linear(plan, [np.exp(q - q.max()) * 1e-310 for q in pots], 7.0) is None


@shapes
def test_shared_calibration_returns_the_extra_marginals(shape):
    sizes, cliques = SHAPES[shape]
    model = random_model(sizes, cliques, np.random.default_rng(6), scale=2.0)
    extra = [[c[:1], c, c[1:], c[:1]] for c in model.tree.cliques]
    plan = Plan(model.tree, sizes, extra)
    pots = [model.potentials[c].values for c in model.tree.cliques]
    counts, extras = calibrate_shared(plan, [np.exp(p - p.max()) for p in pots], 5.0)
    full = joint(model) * 5.0 / model.total
    for c, b, wanted, got in zip(model.tree.cliques, counts, extra, extras):
        assert np.allclose(b, project(full, c), rtol=1e-10, atol=1e-13)
        assert len(got) == len(wanted)
        for want, out in zip(wanted, got):
            assert np.allclose(out, project(full, want), rtol=1e-10, atol=1e-13), want



def test_beliefs_with_structural_zeros_and_offsetting_potentials():
    sizes, cliques = SHAPES["chain"]
    model = random_model(sizes, cliques, np.random.default_rng(2))
    pots = {c: f.values.copy() for c, f in model.potentials.items()}
    pots[(0, 1)][:, 1] = -np.inf          # column 1 never takes value 1
    pots[(1, 2)][2, :] += 5000.0          # huge offsets that cancel between cliques:
    pots[(2, 3)][0, 0] = -np.inf
    pots[(0, 1)][:, 2] -= 5000.0          # only the sum of potentials matters
    model = GraphicalModel(model.sizes, model.tree, {c: Factor(c, v) for c, v in pots.items()}, 50.0)
    full = joint(model)
    for c in subsets(4):
        assert np.allclose(model.marginal(c), project(full, c), rtol=1e-8, atol=1e-12), c
    assert model.marginal((1,))[1] == 0
    rows = model.sample(20_000, np.random.default_rng(0))
    assert not (rows[:, 1] == 1).any()
    assert not ((rows[:, 2] == 0) & (rows[:, 3] == 0)).any()


def test_model_validation():
    sizes, cliques = SHAPES["chain"]
    model = random_model(sizes, cliques, np.random.default_rng(0))
    with pytest.raises(ValueError, match="exactly the tree"):
        GraphicalModel(model.sizes, model.tree, {}, 10.0)
    with pytest.raises(ValueError, match="total"):
        GraphicalModel(model.sizes, model.tree, model.potentials, 0.0)
    with pytest.raises(ValueError, match="sorted"):
        model.marginal((2, 1))
    with pytest.raises(ValueError, match="sorted"):
        model.marginal((0, 9))


# ---------------------------------------------------------------- estimation


@shapes
def test_noise_free_measurements_of_a_factorising_distribution_are_fitted(shape):
    """(a) The truth is log-linear on the measured cliques, so the fit must be the truth itself."""
    sizes, cliques = SHAPES[shape]
    truth = factorising(sizes, cliques, np.random.default_rng(3), 1000.0)
    ones = [(a,) for a in range(len(sizes))]
    measurements = exact_measurements(truth, ones + cliques)
    model = estimate(sizes, measurements, iters=3000, tol=1e-12)
    assert model.total == pytest.approx(1000.0)
    for m in measurements:
        assert np.allclose(model.marginal(m.clique), m.values, rtol=1e-4, atol=1e-4), m.clique
    assert np.allclose(joint(model), truth, rtol=1e-3, atol=1e-4)


def test_chain_fit_is_the_maximum_entropy_joint():
    """(b) Any distribution measured on a chain: the fit is P01 P12 P23 / (P1 P2)."""
    rng = np.random.default_rng(4)
    sizes, cliques = SHAPES["chain"]
    data = rng.dirichlet(np.full(math.prod(sizes), 0.7)).reshape(sizes) * 500.0  # far from a chain
    model = estimate(sizes, exact_measurements(data, cliques), iters=3000, tol=1e-12)
    p01, p12, p23 = (project(data, c) for c in cliques)
    p1, p2 = project(data, (1,)), project(data, (2,))
    maxent = p01[:, :, None, None] * p12[None, :, :, None] * p23[None, None] / (p1[None, :, None, None] * p2[None, None, :, None])
    assert np.allclose(joint(model), maxent, rtol=1e-4, atol=1e-6)
    assert not np.allclose(maxent, data, rtol=1e-2)


@shapes
def test_noisy_measurements_fit_at_least_as_well_as_the_alternatives(shape):
    """(c) Loss no worse than the truth, the independent model, uniform; and as low as NNLS on the joint."""
    rng = np.random.default_rng(5)
    sizes, cliques = SHAPES[shape]
    truth = factorising(sizes, cliques, rng, 300.0)
    ones = [(a,) for a in range(len(sizes))]
    measurements = noisy_measurements(truth, ones + cliques, 3.0, rng)
    model = estimate(sizes, measurements, total=300.0, iters=3000, tol=1e-10)
    fitted = loss(model, measurements)
    assert fitted == pytest.approx(table_loss(joint(model), measurements), rel=1e-9)

    independent = np.ones(sizes)
    for a, m in zip(range(len(sizes)), measurements):
        p = np.maximum(m.values, 0.0)
        independent = independent * (p / p.sum()).reshape([-1 if b == a else 1 for b in range(len(sizes))])
    alternatives = {"truth": truth, "independent": independent * 300.0, "uniform": np.full(sizes, 300.0 / truth.size)}
    for name, table in alternatives.items():
        assert fitted <= table_loss(table, measurements) + 1e-9, name
    assert fitted <= nnls_optimum(sizes, measurements, 300.0) * (1 + 1e-6)
    for c in subsets(len(sizes)):
        mu = model.marginal(c)
        assert (mu >= 0).all() and mu.sum() == pytest.approx(300.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_warm_start_reaches_the_cold_answer_in_fewer_steps(seed):
    """(d) Fit all but the last clique, add it, refit from there: the answer from scratch, sooner.

    A domain of 16,800 cells with noisy counts (many near zero), where a cold
    fit needs a few hundred steps; steps are counted to reach the final loss
    within a relative 1e-4 and 1e-6.
    """
    sizes, measurements = noisy_problem(seed, PROBLEM_CLIQUES)

    def fit(ms, warm=None):
        losses = []
        model = estimate(sizes, ms, warm_start=warm, iters=3000, tol=1e-12, callback=lambda t, f: losses.append(f))
        return model, np.array(losses)

    first, _ = fit(measurements[:-1])
    cold, cold_losses = fit(measurements)
    warm, warm_losses = fit(measurements, first)
    for c in subsets(5):  # the same answer to 1e-4 of the 20,000 rows (the last digits converge slowly)
        assert np.allclose(warm.marginal(c), cold.marginal(c), rtol=1e-4, atol=2.0), c
    best = min(cold_losses[-1], warm_losses[-1])
    for within in (1e-4, 1e-6):
        cold_steps = int(np.argmax(cold_losses <= best * (1 + within)))
        warm_steps = int(np.argmax(warm_losses <= best * (1 + within)))
        assert warm_steps <= 0.7 * cold_steps, (within, warm_steps, cold_steps)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_momentum_runs_long_enough_to_converge(seed):
    """The step stays at ETA_START / L (halved only when a step without momentum fails), so the
    momentum is seldom restarted: on the 16,800-cell problem the loss comes within 1e-3 of where
    2,000 steps leave it in at most 600 steps (a step growing 5 % a kept step from 1 / L, the rule
    before, took 885 and 1,154 on these seeds)."""
    sizes, measurements = noisy_problem(seed, PROBLEM_CLIQUES)
    losses = []
    estimate(sizes, measurements, iters=2000, tol=0.0, callback=lambda t, f: losses.append(f))
    losses = np.array(losses)
    assert np.all(np.diff(losses) <= 0)  # the loss never rises
    assert int(np.argmax(losses <= losses[-1] * (1 + 1e-3))) <= 600


def test_full_cost_bounds_the_steps_by_the_trees_cost():
    """A fit given `full_cost` takes at most iters x full_cost / step_cost(tree) steps, never fewer
    than MIN_STEPS, never more than `iters`; the cost counts each clique's cells times its columns."""
    cliques = PROBLEM_CLIQUES[:5]
    sizes, measurements = noisy_problem(3, cliques)
    tree = junction_tree(cliques, 5, sizes)
    cost = pgm.step_cost(tree, sizes)
    assert cost == sum(math.prod(sizes[a] for a in c) * len(c) for c in tree.cliques) > tree.size(sizes)

    def steps(**kw):
        seen = []
        estimate(sizes, measurements, tol=0.0, callback=lambda t, _: seen.append(t), **kw)
        return len(seen)

    assert steps(iters=200) == 200
    assert steps(iters=200, full_cost=cost * 37.5 / 200) == 37
    assert steps(iters=200, full_cost=cost / 200) == pgm.MIN_STEPS
    assert steps(iters=20, full_cost=1e12) == 20


def test_warm_start_without_parameters_uses_potentials():
    rng = np.random.default_rng(7)
    sizes, cliques = SHAPES["cycle"]
    truth = factorising(sizes, cliques, rng, 500.0)
    measurements = exact_measurements(truth, cliques)
    fitted = estimate(sizes, measurements, iters=3000, tol=1e-12)
    bare = GraphicalModel(fitted.sizes, fitted.tree, fitted.potentials, fitted.total)  # no parameters
    steps = []
    again = estimate(sizes, measurements, warm_start=bare, iters=3000, tol=1e-12,
                     callback=lambda t, _: steps.append(t))
    assert len(steps) <= 3
    assert np.allclose(joint(again), truth, rtol=1e-3, atol=1e-4)


def test_warm_start_from_a_model_on_other_cliques():
    """Parameters no new clique holds are projected (averaged) onto one: still the cold answer."""
    rng = np.random.default_rng(10)
    sizes, _ = SHAPES["chain"]
    data = rng.dirichlet(np.ones(math.prod(sizes))).reshape(sizes) * 800.0
    old = estimate(sizes, exact_measurements(data, [(0, 1, 2), (2, 3)]), iters=500)
    measurements = noisy_measurements(data, [(0, 1), (1, 3), (2, 3)], 2.0, rng)
    warm = estimate(sizes, measurements, warm_start=old, iters=3000, tol=1e-12)
    cold = estimate(sizes, measurements, iters=3000, tol=1e-12)
    assert not any({0, 1, 2} <= set(c) for c in warm.tree.cliques)
    assert np.allclose(joint(warm), joint(cold), rtol=1e-4, atol=1e-4)


def test_measurement_column_order_and_extra_cliques():
    rng = np.random.default_rng(8)
    sizes, cliques = SHAPES["chain"]
    truth = factorising(sizes, cliques, rng, 400.0)
    sorted_ms = exact_measurements(truth, cliques)
    swapped = [Measurement(tuple(reversed(m.clique)), m.values.T, m.variance.T) for m in sorted_ms]
    a = estimate(sizes, sorted_ms, iters=2000, tol=1e-12)
    b = estimate(sizes, swapped, iters=2000, tol=1e-12, cliques=[(0, 3)])
    assert any({0, 3} <= set(c) for c in b.tree.cliques)
    assert np.allclose(joint(a), joint(b), rtol=1e-4, atol=1e-6)


def test_exact_cells_are_pinned():
    rng = np.random.default_rng(9)
    sizes, cliques = SHAPES["star"]
    data = rng.dirichlet(np.ones(math.prod(sizes))).reshape(sizes) * 1000.0
    measurements = noisy_measurements(data, cliques, 20.0, rng)
    exact = project(data, (0,))
    measurements.append(Measurement((0,), exact, np.zeros(exact.shape)))
    model = estimate(sizes, measurements, iters=3000, tol=1e-12)
    assert np.allclose(model.marginal((0,)), exact, atol=0.5)  # sigma 20 elsewhere


def test_estimate_total():
    a = Measurement((0,), np.array([40.0, 60.0]), np.array([1.0, 1.0]))      # 100, variance 2
    b = Measurement((1,), np.array([50.0, 60.0, 0.0]), np.array([2.0, 2.0, 2.0]))  # 110, variance 6
    assert estimate_total([a, b]) == pytest.approx((100 / 2 + 110 / 6) / (1 / 2 + 1 / 6))
    c = Measurement((1,), np.array([30.0, 30.0, 30.0]), np.zeros(3))
    assert estimate_total([a, b, c]) == 90.0
    with pytest.raises(ValueError, match="total="):
        estimate_total([])


def test_estimate_refuses_bad_measurements():
    with pytest.raises(ValueError, match="domain"):
        estimate((2, 3), [Measurement((0, 1), np.zeros((3, 2)), np.ones((3, 2)))])
    with pytest.raises(ValueError, match="columns in"):
        estimate((2, 3), [Measurement((0, 2), np.zeros((2, 3)), np.ones((2, 3)))])
    with pytest.raises(ValueError, match="NaN"):
        estimate((2,), [Measurement((0,), np.array([1.0, np.nan]), np.ones(2))])
    with pytest.raises(ValueError, match="negative"):
        estimate((2,), [Measurement((0,), np.ones(2), np.array([1.0, -1.0]))])


# ---------------------------------------------------------------- sampling


@shapes
def test_sample_matches_model_marginals(shape):
    sizes, cliques = SHAPES[shape]
    model = random_model(sizes, cliques, np.random.default_rng(10))
    n = 200_000
    rows = model.sample(n, np.random.default_rng(11))
    assert rows.shape == (n, len(sizes)) and rows.dtype == np.int64
    assert (rows >= 0).all() and (rows < np.array(sizes)).all()
    for c in subsets(len(sizes)):
        p = model.marginal(c).ravel() / model.total
        counts = np.bincount(np.ravel_multi_index(rows[:, list(c)].T, [sizes[a] for a in c]), minlength=p.size)
        # Five standard deviations per cell (a few hundred cells in all: false alarms ~1e-4).
        assert (np.abs(counts - n * p) <= 5 * np.sqrt(n * p * (1 - p)) + 1).all(), c


def test_sample_every_triple_of_a_cycle_within_tvd():
    sizes, cliques = SHAPES["cycle"]
    model = random_model(sizes, cliques, np.random.default_rng(12), scale=1.5)
    rows = model.sample(200_000, np.random.default_rng(13))
    for c in itertools.combinations(range(4), 3):
        p = model.marginal(c).ravel() / model.total
        q = np.bincount(np.ravel_multi_index(rows[:, list(c)].T, [sizes[a] for a in c]), minlength=p.size) / len(rows)
        assert 0.5 * np.abs(p - q).sum() < 0.02, c


def test_sample_edge_cases():
    sizes, cliques = SHAPES["disconnected"]
    model = random_model(sizes, cliques, np.random.default_rng(14))
    assert model.sample(0, np.random.default_rng(0)).shape == (0, 5)
    a = model.sample(1000, np.random.default_rng(5))
    b = model.sample(1000, np.random.default_rng(5))
    assert np.array_equal(a, b)


# ---------------------------------------------------------------- cells measured near zero


@pytest.fixture(autouse=True)
def _plain_least_squares(monkeypatch, request):
    """The references above are for the two-sided loss; the tests of the one-sided cells set CENSOR."""
    if "censor" not in request.node.name:
        monkeypatch.setattr(pgm, "CENSOR", 0.0)


def censored_loss(table: np.ndarray, measurements, k: float) -> float:
    total = 0.0
    for m in measurements:
        r = project(table, m.clique) - m.values
        r = np.where(m.values < k * np.sqrt(m.variance), np.maximum(r, 0.0), r)
        total += float(np.sum(r ** 2 / m.variance))
    return total


@pytest.mark.parametrize("shape", ["chain", "triangles", "cycle"])
def test_censored_cells_fit_the_one_sided_loss(shape, monkeypatch):
    """A noisy cell measured below CENSOR sigmas only bounds its cell from above: the fit's loss
    is that one-sided loss, and as low as the best non-negative joint reaches (SLSQP on the joint)."""
    monkeypatch.setattr(pgm, "CENSOR", 2.0)
    rng = np.random.default_rng(7)
    sizes, cliques = SHAPES[shape]
    truth = factorising(sizes, cliques, rng, 300.0)
    measurements = noisy_measurements(truth, [(a,) for a in range(len(sizes))] + cliques, 6.0, rng)
    assert any((m.values < 12.0).any() and (m.values > 0).any() for m in measurements)  # some cells censored
    model = estimate(sizes, measurements, total=300.0, iters=3000, tol=1e-10)
    fitted = loss(model, measurements)
    assert fitted == pytest.approx(censored_loss(joint(model), measurements, 2.0), rel=1e-9)
    assert fitted <= table_loss(joint(model), measurements) * (1 + 1e-9)  # the one-sided cells weigh no more
    cells = math.prod(sizes)
    best = scipy.optimize.minimize(
        lambda x: censored_loss(x.reshape(sizes), measurements, 2.0), truth.ravel(), method="SLSQP",
        bounds=[(0, None)] * cells, constraints=[{"type": "eq", "fun": lambda x: x.sum() - 300.0}],
        options={"maxiter": 2000, "ftol": 1e-12})
    assert fitted <= best.fun * (1 + 1e-4) + 1e-6


def test_censoring_cuts_the_mass_put_where_there_is_none():
    """A sparse chain (each column within one bin of the last), pairs measured with noise as the
    rounds measure them: the one-sided cells cut the 3-way error by a fifth or more (0.058 -> 0.042)."""
    rng = np.random.default_rng(0)
    n, sizes, sigma = 50_000, [16, 16, 16], 46.0
    a = rng.integers(0, 16, n)
    b = np.clip(a + rng.integers(-1, 2, n), 0, 15)
    c = np.clip(b + rng.integers(-1, 2, n), 0, 15)
    codes = np.column_stack([a, b, c])
    from duckdb_synth.engine.marginal import marginal

    def error(k: float) -> float:
        out = []
        for s in range(3):
            r = np.random.default_rng(s)
            ms = [Measurement((i,), marginal(codes, sizes, (i,)) + r.normal(0, 50, 16), np.full(16, 2500.0))
                  for i in range(3)]
            ms += [Measurement(cl, marginal(codes, sizes, cl) + r.normal(0, sigma, (16, 16)),
                               np.full((16, 16), sigma ** 2)) for cl in [(0, 1), (1, 2)]]
            pgm.CENSOR = k
            model = estimate(sizes, ms, total=float(n), iters=300)
            out.append(np.abs(model.marginal((0, 1, 2)) - marginal(codes, sizes, (0, 1, 2))).sum() / (2 * n))
        return float(np.mean(out))

    try:
        plain, censored = error(0.0), error(2.0)
    finally:
        pgm.CENSOR = CENSOR_DEFAULT
    assert censored < 0.8 * plain, (plain, censored)


def test_plans_are_built_once_per_shape():
    """The plan factories hand back the same (read-only) plan for the same columns and shapes, and a
    new one for another shape; a plan applied still sums as numpy does."""
    from duckdb_synth.engine.model import factor

    a = factor.reducer((0, 2, 5), (3, 4, 5), (2,))
    assert a is factor.reducer((0, 2, 5), (3, 4, 5), (2,))
    assert a is not factor.reducer((0, 2, 5), (3, 4, 6), (2,))
    x = np.random.default_rng(0).random((3, 4, 5))
    assert np.allclose(a(x), x.sum(axis=(0, 2)))
    b = factor.broadcast((2,), (0, 2, 5), (3, 4, 5))
    assert b is factor.broadcast((2,), (0, 2, 5), (3, 4, 5))
    y = x.copy()
    b.multiply_into(y, np.arange(4.0))
    assert np.allclose(y, x * np.arange(4.0)[None, :, None])


def test_terms_are_kept_per_measurement_until_the_exact_weight_moves():
    """A refit reuses each measurement's term; a measurement less noisy than any before moves the exact
    weight (EXACT_WEIGHT x the heaviest noisy cell), and then every term is made again."""
    rng = np.random.default_rng(1)
    noisy = [Measurement((1, 0), rng.random((3, 2)) * 10, np.full((3, 2), 4.0)),
             Measurement((2,), rng.random(4) * 10, np.full(4, 2.0))]
    exact = Measurement((0,), np.array([5.0, 5.0]), np.zeros(2))
    first = pgm._terms([*noisy, exact], [2, 3, 4])
    again = pgm._terms([*noisy, exact, Measurement((1,), np.ones(3), np.full(3, 3.0))], [2, 3, 4])
    assert all(s is t for s, t in zip(first, again))
    assert first[0].clique == (0, 1) and np.array_equal(first[0].y, noisy[0].values.T)
    assert np.allclose(first[2].weight, pgm.EXACT_WEIGHT / 2.0)
    shrunk = [*noisy, exact, Measurement((2,), noisy[1].values, np.full(4, 1.0))]
    moved = pgm._terms(shrunk, [2, 3, 4])
    assert moved[0] is not first[0] and np.array_equal(moved[0].weight, first[0].weight)
    assert np.allclose(moved[2].weight, pgm.EXACT_WEIGHT / 1.0)
    assert pgm._terms(shrunk, [2, 3, 4, 6])[0] is not moved[0]  # other sizes: made again
    with pytest.raises(ValueError):
        first[0].y[0, 0] = 1.0  # shared by every fit: read-only
    held = len(pgm._TERMS)
    del noisy, exact, shrunk, first, again, moved
    assert len(pgm._TERMS) <= held - 3  # a measurement's term goes with it


def test_proportional_fitting_moves_disjoint_parameters_together(monkeypatch):
    """A first fit's one-way parameters (disjoint columns) share one propagation a sweep and land on
    their measured marginals, as one at a time would (independent columns); parameters that share a
    column take one each."""
    rng = np.random.default_rng(2)
    sizes = (3, 4, 5, 2)
    one_way = [Measurement((a,), rng.random(sizes[a]) * 100 + 10, np.ones(sizes[a])) for a in range(4)]
    total = 400.0
    one_way = [Measurement(m.clique, m.values * total / m.values.sum(), m.variance) for m in one_way]
    calls = []
    orig = pgm._Problem.evaluate
    monkeypatch.setattr(pgm._Problem, "evaluate", lambda self, theta: calls.append(1) or orig(self, theta))
    model = estimate(sizes, one_way, total=total, iters=0)
    assert len(calls) == pgm.FIT_SWEEPS + 1  # one propagation per sweep, then the fit's own
    for m in one_way:
        assert np.allclose(model.marginal(m.clique), m.values, rtol=1e-4)
    chain = [Measurement((0, 1), rng.random((3, 4)) * 30, np.ones((3, 4))),
             Measurement((1, 2), rng.random((4, 5)) * 20, np.ones((4, 5))),
             Measurement((2, 3), rng.random((5, 2)) * 40, np.ones((5, 2)))]
    calls.clear()
    estimate(sizes, chain, total=total, iters=0)
    assert len(calls) == 3 * pgm.FIT_SWEEPS + 1  # each pair shares a column with the one before
    calls.clear()
    estimate(sizes, [chain[0], chain[2]], total=total, iters=0)
    assert len(calls) == pgm.FIT_SWEEPS + 1  # (0, 1) and (2, 3): together


def test_greedy_elimination_takes_the_least_key_at_every_step():
    """The elimination's heap (keys pushed when recomputed, stale ones skipped) eliminates in the order of
    taking min() over every column's key afresh at each step, on 300 random graphs of up to 40 columns."""
    from duckdb_synth.engine.model import junction

    def plain(graph, sizes):
        adj, order = list(graph), []
        left = set(range(len(adj)))
        while left:
            v = min(left, key=lambda u: junction._key(adj, list(sizes), u))
            left.remove(v)
            nb, adj[v] = adj[v], 0
            for a in junction._bits(nb):
                adj[a] = (adj[a] | nb) & ~(1 << a) & ~(1 << v)
            order.append((v, nb | 1 << v))
        return order

    rng = np.random.default_rng(5)
    for _ in range(300):
        d = int(rng.integers(2, 41))
        sizes = tuple(int(s) for s in rng.integers(1, 9, size=d))
        cliques = [tuple(sorted(set(rng.choice(d, size=int(rng.integers(1, min(4, d) + 1))).tolist())))
                   for _ in range(int(rng.integers(0, 2 * d)))]
        graph = junction._graph(cliques, d)
        assert [(v, mask) for v, mask, _ in junction._steps(graph, sizes)] == plain(graph, sizes)


def test_elimination_is_kept_per_graph():
    """Sizing the tree of some cliques, then building the tree of the same graph (named by other
    cliques: one-way ones, a pair inside a triple) eliminates once; another graph eliminates again."""
    from duckdb_synth.engine.model import junction

    sizes = (3, 4, 5, 2, 6)
    before = junction._eliminate.cache_info()
    size = junction.junction_size([(0, 1, 2), (2, 3), (3, 4), (4, 0)], 5, sizes)
    tree = junction.junction_tree([(0,), (1, 0), (0, 1, 2), (3, 2), (4, 3), (0, 4)], 5, sizes)
    after = junction._eliminate.cache_info()
    assert after.misses == before.misses + 1 and after.hits == before.hits + 1
    assert tree.size(sizes) == size
    junction.junction_size([(0, 1, 2), (2, 3), (3, 4)], 5, sizes)
    assert junction._eliminate.cache_info().misses == before.misses + 2


def test_scoring_sample_is_twice_the_table_and_tracks_the_model() -> None:
    """The model's marginals outside its cliques come from a sample of twice the table's rows (within
    1,000 .. 20,000): its counts, scaled to the table, stay within a few of the table's own standard
    deviations of the model's, sampled afresh each time (not the model's own numbers)."""
    from duckdb_synth.engine import structure

    sizes, cliques = SHAPES["cycle"]
    model = random_model(sizes, cliques, np.random.default_rng(14), scale=1.5, total=4770.0)
    assert [structure.score_sample_rows(t) for t in (100.0, 4770.0, 9000.0, 54_000.0)] == [1000, 9540, 18000, 20000]
    drawn = []
    sample = model.sample

    class Recording:
        tree, marginal = model.tree, model.marginal

        def sample(self, n, rng):
            drawn.append(n)
            return sample(n, rng)

    outside = [c for c in itertools.combinations(range(len(sizes)), 3) if model.tree.containing(c) is None]
    assert outside
    est = structure.model_marginals(Recording(), outside, sizes, model.total, np.random.default_rng(15))
    assert drawn == [9540]
    for c in outside:
        exact = model.marginal(c)
        assert est[c].sum() == pytest.approx(model.total)
        # Per cell, the sample's error (scaled to the table) within 4 of the table's own sd's (controlled
        # rounding keeps it well under a multinomial's).
        assert (np.abs(est[c] - exact) <= 4 * np.sqrt(exact * (1 - exact / model.total)) + 2).all(), c
