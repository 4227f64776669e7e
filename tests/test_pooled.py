"""Balanced mode's decomposable network: coarsened parents, pooled conditionals, structure and sampling."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from duckdb_synth.engine.data import ArrayColumn, Binned
from duckdb_synth.engine.domain import CategoricalDomain, coarsenings
from duckdb_synth.engine.model.pooled import PooledNetwork, family_counts, pool, pooled_network, prefixes
from duckdb_synth.engine.sample import draw
from duckdb_synth.engine.schema import classify
from duckdb_synth.engine.structure import combination_at, decomposable_network, pooled_gain_score
from duckdb_synth.privacy.discovery import exact_numeric_domain


def identity(sizes):
    return [((np.arange(s), s),) for s in sizes]


def test_coarsenings_merge_neighbouring_bins_and_lump_rare_categories() -> None:
    x = np.arange(4000, dtype=float) % 1000
    x[:100] = np.nan
    dom = exact_numeric_domain(classify("x", "DOUBLE"), ArrayColumn(x), nbins=32, max_cells=1024)
    levels = coarsenings(dom, np.ones(dom.size), 3)
    assert [s for _, s in levels] == [33, 17, 9, 5]  # 32 bins + NULL, then 16, 8, 4 bins + NULL
    for remap, size in levels[1:]:
        assert np.all(np.diff(remap[:dom.nbins]) >= 0) and remap[dom.null_code] == size - 1
        assert np.all(remap[:dom.nbins] < size - 1)
    cat = CategoricalDomain(classify("c", "VARCHAR"), values=tuple("abcdefg"))
    counts = np.array([5, 50, 1, 40, 3, 30, 2, 0, 9.0])  # a..g, other, NULL
    (_, _), (remap, size), *_ = coarsenings(cat, counts, 3)
    assert size == 5  # the 4 most frequent codes kept, the rest lumped
    assert sorted(remap[[1, 3, 5, 8]]) == [0, 1, 2, 3] and set(remap[[0, 2, 4, 6, 7]]) == {4}


@pytest.mark.parametrize("least", [1, 5, 20])
@pytest.mark.parametrize("seed", range(3))
def test_pools_hold_least_rows_and_partition_the_rows(least: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = [2, 7, 5, 3]
    codes = np.column_stack([rng.integers(0, s, 600) for s in sizes]) * (rng.random((600, 4)) < 0.8)
    parents = ((1, 0), (2, 0), (0, 0))
    pools = pool(family_counts(Binned(codes, sizes), 3, parents, identity(sizes)), [7, 5, 2], least)
    assert len(pools) == 4 and sum(t.sum() for _, t in pools) == 600
    for flags, t in pools[:-1]:
        assert np.all(t.sum(axis=1)[flags] >= least) and not t[~flags].any()
    # Brute force on rows: a row's pool is the deepest prefix whose rows, less those pooled deeper, number >= least.
    pref = prefixes(identity(sizes), parents, codes)
    left = np.ones(600, dtype=bool)
    for j, ((flags, t), (cfg, k)) in enumerate(zip(pools, pref)):
        last = j == len(pools) - 1
        is_pool = np.ones(k, dtype=bool) if last else np.bincount(cfg[left], minlength=k) >= least
        assert np.array_equal(flags, is_pool)
        take = left & is_pool[cfg]
        want = np.bincount(cfg[take] * 3 + codes[take, 3], minlength=k * 3).reshape(k, 3)
        assert np.array_equal(t, want)
        left &= ~take


def test_the_network_refuses_parents_outside_every_earlier_family() -> None:
    sizes = [2, 2, 2, 2]
    codes = np.random.default_rng(0).integers(0, 2, (100, 4))
    data = Binned(codes, sizes)
    ok = [(0, ()), (1, ((0, 0),)), (2, ((1, 0), (0, 0))), (3, ((2, 0), (1, 0)))]
    pooled_network(data, ok, identity(sizes), 1)
    bad = [(0, ()), (1, ((0, 0),)), (2, ((1, 0),)), (3, ((2, 0), (0, 0)))]  # {2, 0} is in no family
    with pytest.raises(ValueError, match="not inside one earlier family"):
        pooled_network(data, bad, identity(sizes), 1)
    with pytest.raises(ValueError, match="come before"):
        pooled_network(data, [(1, ((0, 0),)), (0, ()), (2, ()), (3, ())], identity(sizes), 1)


@pytest.mark.parametrize("seed", range(3))
def test_sampling_reproduces_each_family_as_the_decomposable_joint(seed: int) -> None:
    # Brute force on a tiny domain: with pools of one row, the model is P(0,1) P(2|1) P(3|1,2),
    # and the sampled families match the data's within the rounding of each configuration.
    rng = np.random.default_rng(seed)
    n, sizes = 3000, [3, 2, 4, 3]
    codes = np.zeros((n, 4), dtype=np.int64)
    codes[:, 0] = rng.integers(0, 3, n)
    codes[:, 1] = (codes[:, 0] + (rng.random(n) < 0.2)) % 2
    codes[:, 2] = (2 * codes[:, 1] + rng.integers(0, 2, n)) % 4
    codes[:, 3] = (codes[:, 1] + codes[:, 2] + (rng.random(n) < 0.3)) % 3
    data = Binned(codes, sizes)
    order = [(0, ()), (1, ((0, 0),)), (2, ((1, 0),)), (3, ((1, 0), (2, 0)))]
    model = pooled_network(data, order, identity(sizes), 1)
    out = draw(model, n, rng)
    joint = data.marginal((0, 1, 2, 3)) / n
    p01 = joint.sum((2, 3))
    p12, p123 = joint.sum((0, 3)), joint.sum(0)
    want = (p01[:, :, None, None] * (p12 / np.maximum(p12.sum(1, keepdims=True), 1e-12))[None, :, :, None]
            * (p123 / np.maximum(p123.sum(2, keepdims=True), 1e-12))[None])
    got = Binned(out, sizes).marginal((0, 1, 2, 3)) / n
    assert np.abs(got - want).sum() / 2 < 0.01
    for fam in [(0, 1), (1, 2), (1, 2, 3)]:
        assert np.abs(Binned(out, sizes).marginal(fam) - data.marginal(fam)).max() <= 4, fam


def test_thin_configurations_draw_from_their_pool_not_their_own_row() -> None:
    # Each row's (a, b) is its own: a conditional per configuration would copy c from the row.
    rng = np.random.default_rng(0)
    n = 2000
    a, b = rng.permutation(n) % 100, rng.permutation(n) // 20
    c = rng.integers(0, 50, n)
    codes = np.column_stack([a, b, c])
    sizes = [100, 100, 50]
    data = Binned(codes, sizes)
    order = [(0, ()), (1, ((0, 0),)), (2, ((0, 0), (1, 0)))]
    copies = []
    for least in (1, 5):
        out = draw(pooled_network(data, order, identity(sizes), least), n, np.random.default_rng(1))
        real = {tuple(r) for r in codes}
        copies.append(np.mean([tuple(r) in real for r in out]))
    assert copies[0] > 0.95 and copies[1] < 0.2


def test_structure_finds_a_sum_and_keeps_parents_inside_families() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    codes = rng.integers(0, 2, (n, 5))
    codes[:, 4] = codes[:, 0] + codes[:, 1] + codes[:, 2]  # needs all three of 0, 1, 2
    codes[:, 3] = (codes[:, 0] + (rng.random(n) < 0.1)) % 2
    sizes = [2, 2, 2, 2, 4]
    data = Binned(codes, sizes)
    order = decomposable_network(data, identity(sizes), max_parents=3, max_cells=1000, least=5)
    assert sorted(x for x, _ in order) == list(range(5))
    model = pooled_network(data, order, identity(sizes), 5)  # validates: parents inside an earlier family
    family = {x: {p for p, _ in ps} | {x} for x, ps in model.order}
    assert any({0, 1, 2, 4} <= fam for fam in family.values())
    capped = decomposable_network(data, identity(sizes), max_parents=3, max_cells=8, least=5)
    assert all(sizes[x] * np.prod([sizes[p] for p, _ in ps]) <= 8 for x, ps in capped)


def test_the_gain_is_the_log_likelihood_less_half_a_nat_per_parameter() -> None:
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 3, (500, 2))
    sizes = [3, 3]
    data = Binned(codes, sizes)
    t = data.marginal((1, 0)).reshape(3, 3)
    ll = sum(c * np.log(c / t[i].sum()) for i, j in itertools.product(range(3), range(3)) for c in [t[i, j]] if c)
    params = np.count_nonzero(t) - 3
    got = pooled_gain_score(data, 0, ((1, 0),), identity(sizes), 1, 0.5)
    assert abs(got - (ll - 0.5 * params)) < 1e-9
    # Independent columns: the gain of a parent, net of the penalty, is about zero or below.
    assert got - pooled_gain_score(data, 0, (), identity(sizes), 1, 0.5) < 3.0


def test_pooled_network_is_a_frozen_value() -> None:
    sizes = [2, 2]
    model = pooled_network(Binned(np.zeros((10, 2), dtype=np.int64), sizes), [(0, ()), (1, ((0, 0),))],
                           identity(sizes), 5)
    assert isinstance(model, PooledNetwork)
    with pytest.raises(AttributeError):
        model.order = ()  # type: ignore[misc]


@pytest.mark.parametrize("seed", range(3))
def test_the_sparse_score_matches_the_pool_tables(seed: int) -> None:
    # pooled_gain_score works on populated cells only; the dense pool tables are the reference.
    rng = np.random.default_rng(seed)
    for _ in range(40):
        sizes = [int(s) for s in rng.integers(2, 9, 5)]
        n = int(rng.integers(5, 800))
        codes = np.column_stack([rng.integers(0, s, n) * (rng.random(n) < rng.random()) for s in sizes])
        data = Binned(codes, sizes)
        coarse = [((np.arange(s), s), (np.arange(s) // 2, (s + 1) // 2)) for s in sizes]
        parents = tuple((int(p), int(rng.integers(0, 2))) for p in rng.permutation([1, 2, 3, 4])[:rng.integers(0, 4)])
        least, penalty = int(rng.integers(1, 12)), float(rng.random())
        want = 0.0
        for _, t in pool(family_counts(data, 0, parents, coarse), [coarse[p][lv][1] for p, lv in parents], least):
            held = t.sum(axis=1)
            for v in (t[t > 0], -held[held > 0]):
                want += float((np.abs(v) * np.log(np.abs(v))).sum()) * np.sign(v[0]) if len(v) else 0.0
            want -= penalty * (np.count_nonzero(t) - np.count_nonzero(held))
        got = pooled_gain_score(data, 0, parents, coarse, least, penalty)
        assert abs(got - want) <= 1e-6 * max(1.0, abs(want)), (parents, least)


def _six_columns(seed: int, n: int = 5000) -> tuple[Binned, list[int]]:
    """Six linked columns (a chain a -> b, a and c -> d, b and d -> e, a and c -> f), whose best
    network is not the one grown from the first column alone."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 8, n)
    b = (a // 2 + rng.integers(0, 2, n)) % 4
    c = rng.integers(0, 3, n)
    d = np.where(c == 0, 0, (a + c) % 5)
    e = (b + d + (rng.random(n) < 0.2)) % 3
    f = (a * 3 + c) % 7
    sizes = [8, 4, 3, 5, 3, 7]
    return Binned(np.column_stack([a, b, c, d, e, f]), sizes), sizes


def test_structure_is_grown_from_several_first_columns_and_the_best_kept(monkeypatch) -> None:
    """The greedy order from the column the others gain most from is not always the best: grown
    from each of the leading candidates, the network with the highest pooled score is kept (on
    these tables 1,600 nats above the one-root network in four seeds of six, never below it)."""
    import duckdb_synth.engine.structure as structure

    def total(data, order, sizes):
        return sum(pooled_gain_score(data, x, ps, identity(sizes), 5, 0.5) for x, ps in order)

    gains = []
    for seed in range(6):
        data, sizes = _six_columns(seed)
        several = decomposable_network(data, identity(sizes), max_parents=3, max_cells=1000, least=5)
        with monkeypatch.context() as m:
            m.setattr(structure, "ROOT_BUDGET", 1)  # one first column
            one = decomposable_network(data, identity(sizes), max_parents=3, max_cells=1000, least=5)
        pooled_network(data, several, identity(sizes), 5)  # validates the network
        gains.append(total(data, several, sizes) - total(data, one, sizes))
    assert min(gains) >= -1e-6
    assert sum(g > 100 for g in gains) >= 3


def test_structure_search_grows_from_as_many_first_columns_as_its_budget_allows(monkeypatch) -> None:
    """SEARCH_BUDGET caps roots x d^2 x rows: a table too large for two growths gets the network
    grown from one first column (ROOT_BUDGET's one-root network), whatever ROOT_BUDGET allows."""
    import duckdb_synth.engine.structure as structure

    data, sizes = _six_columns(3)
    n = data.n

    def network(root_budget: int, search_budget: int):
        with monkeypatch.context() as m:
            m.setattr(structure, "ROOT_BUDGET", root_budget)
            m.setattr(structure, "SEARCH_BUDGET", search_budget)
            return decomposable_network(data, identity(sizes), max_parents=3, max_cells=1000, least=5)

    cost = len(sizes) ** 2 * n  # one growth
    one, every = network(1, 10**12), network(10**6, 10**12)
    assert one != every  # this table's best network is not the one-root one (as in the test above)
    assert network(10**6, 2 * cost - 1) == one
    assert network(10**6, len(sizes) * cost) == every


def _chain(seed: int, d: int = 14, n: int = 3000) -> tuple[Binned, list[int]]:
    """d columns of 3 values, each a noisy copy of the one before (column 0 uniform)."""
    rng = np.random.default_rng(seed)
    codes = np.zeros((n, d), dtype=np.int64)
    codes[:, 0] = rng.integers(0, 3, n)
    for j in range(1, d):
        codes[:, j] = np.where(rng.random(n) < 0.8, codes[:, j - 1], rng.integers(0, 3, n))
    return Binned(codes, [3] * d), [3] * d


def test_a_search_past_its_budget_re_examines_a_column_only_when_a_best_single_parent_joins(monkeypatch) -> None:
    """Past REEXAMINE_BUDGET a column is re-examined only when one of its CANDIDATE_PARENTS best single
    parents joins the network: fewer parent sets are scored, and on a chain, where each column's best
    single parents are its neighbours, the network keeps every link. Within the budget, every column
    left is re-examined after each join, as before."""
    import duckdb_synth.engine.structure as structure

    data, sizes = _chain(0)
    d = len(sizes)
    scored: list[int] = []
    real = structure.pooled_gain_score

    def counted(*args, **kw):
        scored.append(1)
        return real(*args, **kw)

    def network(budget: int, k: int):
        scored.clear()
        with monkeypatch.context() as m:
            m.setattr(structure, "pooled_gain_score", counted)
            m.setattr(structure, "REEXAMINE_BUDGET", budget)
            m.setattr(structure, "CANDIDATE_PARENTS", k)
            m.setattr(structure, "ROOT_BUDGET", d)  # one first column
            order = decomposable_network(data, identity(sizes), max_parents=2, max_cells=1000, least=5)
        return order, len(scored)

    cost = d * (d - 1) // 2 * data.n
    every, n_every = network(cost, 2)  # within the budget: every re-examination
    assert network(10**12, 2) == (every, n_every)
    sparse, n_sparse = network(cost - 1, 2)
    assert n_sparse < 0.8 * n_every
    pooled_network(data, sparse, identity(sizes), 5)  # a valid network: parents inside earlier families
    links = {frozenset((x, p)) for x, ps in sparse for p, _ in ps}
    assert all(frozenset((j, j + 1)) in links for j in range(d - 1))
    # As many candidates as columns: the same search as re-examining every column.
    assert network(cost - 1, d) == (every, n_every)


def test_combination_at_is_the_kth_of_itertools_combinations() -> None:
    """The misfit's sets are drawn by position among C(d, k) (a 1,000-column table has 166 million
    triples, which listing took 11 GB): the positions must name what itertools lists there."""
    for d in range(1, 13):
        for k in (1, 2, 3, 4):
            every = list(itertools.combinations(range(d), k))
            assert [combination_at(d, k, i) for i in range(len(every))] == every
    assert combination_at(1000, 3, 166_166_999) == (997, 998, 999)
    with pytest.raises(IndexError):
        combination_at(5, 3, 10)


def _panel(seed: int) -> tuple[Binned, list[int]]:
    """A storms-like panel: 300 storms of 30 rows, names reused across years, a diameter
    measured (not NULL) only from year 10 on, wind rising and falling along each storm."""
    rng = np.random.default_rng(seed)
    s, t = np.repeat(np.arange(300), 30), np.tile(np.arange(30), 300)
    name, year = s % 60, s // 15
    wind = np.clip(rng.integers(5, 18, 300)[s] - np.abs(t - 15) // 3 + rng.integers(0, 2, len(s)), 0, 17)
    status = np.minimum(wind // 6, 2)
    diameter = np.where(year < 10, 8, np.minimum(wind // 2, 7))
    day = (rng.integers(0, 31, 300)[s] + t // 4) % 31
    sizes = [60, 20, 31, 18, 3, 9]
    return Binned(np.column_stack([name, year, day, wind, status, diameter]), sizes), sizes


def test_marginal_misfit_ranks_networks_by_how_well_their_samples_match() -> None:
    from duckdb_synth.engine.structure import marginal_misfit

    data, sizes = _panel(0)
    coarse = identity(sizes)
    learned = decomposable_network(data, coarse, max_parents=2, max_cells=20_000, least=5)
    independent = [(x, ()) for x in range(len(sizes))]
    chain = [(0, ()), *((x, ((x - 1, 0),)) for x in range(1, len(sizes)))]
    nets = [pooled_network(data, net, coarse, 5) for net in (learned, chain, independent)]
    fit, chained, indep = marginal_misfit(data, coarse, nets, data.n)
    assert fit < chained < indep
    assert indep - fit > 0.2  # the columns' dependence is strong: independent columns miss most of it
    assert marginal_misfit(data, coarse, nets[:1], data.n) == [fit]  # a fixed seed: repeatable


def test_structure_keeps_the_candidate_whose_sample_fits_best(monkeypatch) -> None:
    """With `sample_rows`, the networks grown from every first column under both weightings of the
    gains (nats, and shares of each column's entropy) are compared by ``marginal_misfit`` and the
    best-fitting kept; without, the best in nats (the one the misfit would have to beat)."""
    import duckdb_synth.engine.structure as structure

    data, sizes = _panel(0)
    coarse = identity(sizes)
    kw = dict(max_parents=2, max_cells=20_000, least=5)
    in_nats = decomposable_network(data, coarse, **kw)
    seen = []

    def misfit(data, coarse, networks, rows):
        networks = list(networks)
        seen.append([net.order for net in networks])
        return [0.5 if net.order == tuple(in_nats) else 0.1 * (len(networks) - i) for i, net in enumerate(networks)]

    monkeypatch.setattr(structure, "marginal_misfit", misfit)
    kept = decomposable_network(data, coarse, sample_rows=1000, **kw)
    (orders,) = seen
    assert len(orders) >= 2 and len(set(orders)) == len(orders) and tuple(in_nats) in orders
    assert tuple(kept) == orders[-1] != tuple(in_nats)
    monkeypatch.undo()
    chosen = decomposable_network(data, coarse, sample_rows=data.n, **kw)
    real = structure.marginal_misfit(data, coarse, [pooled_network(data, net, coarse, 5) for net in (in_nats, chosen)],
                                     data.n)
    assert real[1] <= real[0]


def test_views_count_as_the_table_does() -> None:
    from duckdb_synth.engine.structure import _Views

    data, sizes = _panel(1)
    coarse = [((np.arange(s), s), (np.arange(s) // 2, (s + 1) // 2)) for s in sizes]
    views = _Views(data)
    for clique, levels in [((0, 3), (1, 0)), ((2, 5, 1), (1, 1, 0)), ((4,), (1,)), ((1, 2), (0, 0))]:
        remaps = [coarse[c][lv] if lv else None for c, lv in zip(clique, levels)]
        np.testing.assert_array_equal(views.marginal(clique, remaps), data.marginal(clique, remaps))
        np.testing.assert_array_equal(views.marginal(clique, remaps), data.marginal(clique, remaps))  # cached


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_populated_cells_are_the_tables_nonzero_cells(monkeypatch, wide, sparse) -> None:
    """``populated`` (32-bit cell index where the table fits, 64-bit past it; a prefix kept for
    the next call; by sorting the rows' cells where the table has many more cells than rows) lists the
    nonzero cells of the table's marginal with their counts."""
    from duckdb_synth.engine import structure

    data, sizes = _panel(2)
    if wide:  # as if the tables had more cells than int32 holds: the int64 path
        monkeypatch.setattr(structure, "NARROW_CELLS", 0)
    monkeypatch.setattr(structure, "SORTED_CELLS", 0 if sparse else 10 ** 9)
    before = data.codes.copy()
    coarse = [((np.arange(s), s), (np.arange(s) // 2, (s + 1) // 2)) for s in sizes]
    views = structure._Views(data)
    for clique, levels in [((0, 3), (1, 0)), ((2, 5, 1), (1, 1, 0)), ((2, 5, 4), (1, 1, 0)), ((4, 0, 1, 3), (0, 1, 0, 0)),
                           ((4,), (0,))]:
        remaps = [coarse[c][lv] if lv else None for c, lv in zip(clique, levels)]
        dense = data.marginal(clique, remaps).ravel()
        flat, counts = views.populated(clique, remaps)
        np.testing.assert_array_equal(flat, np.flatnonzero(dense))
        np.testing.assert_array_equal(counts, dense[dense > 0])
    assert len(views.prefixes) == 2 and all(k[0] is (not wide) for k in views.prefixes)
    np.testing.assert_array_equal(data.codes, before)  # a lone column's codes sorted in place would be lost


@pytest.mark.parametrize("seed", range(3))
def test_the_score_summed_per_run_of_sorted_cells_is_the_same(monkeypatch, seed: int) -> None:
    """Past DENSE_CONFIGS configurations a level's rows are summed per run of sorted cells, not in a table
    of every configuration: the same score, to the last bit (whole counts)."""
    from duckdb_synth.engine import structure

    data, sizes = _panel(seed)
    coarse = [((np.arange(s), s), (np.arange(s) // 2, (s + 1) // 2)) for s in sizes]
    sets = [((1, 0),), ((1, 0), (2, 1)), ((3, 1), (1, 0), (2, 0)), ((5, 0), (4, 1), (3, 0), (2, 1))]
    dense = [pooled_gain_score(data, 0, ps, coarse, 3, 0.5) for ps in sets]
    monkeypatch.setattr(structure, "DENSE_CONFIGS", -10 ** 9)  # every level by runs
    assert [pooled_gain_score(data, 0, ps, coarse, 3, 0.5) for ps in sets] == dense


def test_a_large_table_chooses_its_structure_on_a_sample_and_pools_every_row(monkeypatch) -> None:
    """Past EXACT_SCORE_ROWS rows the search reads a uniform sample (its pools scaled to the rows a
    sample row stands for), and the network's pools count every row of the table."""
    import duckdb_synth.privacy.fit as fit
    from duckdb_synth.privacy.accounting import Accountant

    data, sizes = _panel(0)
    doms = [CategoricalDomain(classify(f"c{i}", "VARCHAR"), values=tuple(str(v) for v in range(s - 2)))
            for i, s in enumerate(sizes)]
    seen = {}
    real = fit.decomposable_network

    def spy(scored, coarse, **kw):
        seen["n"], seen["least"] = scored.n, kw["least"]
        return real(scored, coarse, **kw)

    monkeypatch.setattr(fit, "decomposable_network", spy)
    monkeypatch.setattr(fit, "EXACT_SCORE_ROWS", data.n // 4)
    model = fit.exact_model(data, doms, Accountant.for_budget(None, 0.0), None, np.random.default_rng(0))
    assert abs(seen["n"] - data.n / 4) < 5 * np.sqrt(data.n / 4) and seen["least"] == 1
    for x, parents in model.order:  # every row pooled once (a last level left empty holds the column's counts)
        *deeper, (_, last) = model.pools[x]
        rest = sum(table.sum() for _, table in deeper)
        assert rest + last.sum() == data.n or rest == last.sum() == data.n
    monkeypatch.setattr(fit, "EXACT_SCORE_ROWS", data.n)
    fit.exact_model(data, doms, Accountant.for_budget(None, 0.0), None, np.random.default_rng(0))
    assert seen["n"] == data.n and seen["least"] == fit.MIN_GROUP


def test_a_table_of_many_rows_takes_larger_tables_within_the_search_bound(monkeypatch) -> None:
    """Balanced mode's table cap: EXACT_MAX_TABLE, or EXACT_TABLE_PER_ROW cells a row where that is more, within
    EXACT_SEARCH_CELLS / d^2. A column that is a function of three others (their sum over 3, rounded down) is learnt
    whole where the cap lets a table hold three parents, and only in part where it does not."""
    import duckdb_synth.privacy.fit as fit
    from duckdb_synth.privacy.accounting import Accountant

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(2000, 4))
    codes[:, 3] = codes[:, :3].sum(axis=1) // 3
    sizes = [6] * 4  # four values, 'other' and NULL
    doms = [CategoricalDomain(classify(f"c{i}", "VARCHAR"), values=tuple("abcd")) for i in range(4)]
    monkeypatch.setattr(fit, "EXACT_MAX_TABLE", 6 ** 3)  # two parents

    def tables(per_row: int, search_cells: int) -> tuple[int, list[int]]:
        monkeypatch.setattr(fit, "EXACT_TABLE_PER_ROW", per_row)
        monkeypatch.setattr(fit, "EXACT_SEARCH_CELLS", search_cells)
        cap = fit.exact_table_cap(2000, 4)
        model = fit.exact_model(Binned(codes, sizes), doms, Accountant.for_budget(None, 0.0), None,
                                np.random.default_rng(0))
        return cap, [model.pools[x][0][1].size for x, _ in model.order]

    cap, cells = tables(1, 10 ** 9)
    assert cap == 2000 and max(cells) == 6 ** 4 and all(c <= cap for c in cells)  # three parents: the sum whole
    cap, cells = tables(1, 16 * 6 ** 3 + 15)
    assert cap == 6 ** 3 and all(c <= cap for c in cells)  # the search's cells bound the tables: two parents at most
    cap, cells = tables(0, 10 ** 9)
    assert cap == 6 ** 3 and max(cells) <= 6 ** 3  # few rows: the floor

