"""AIM-style adaptive selection: workload closure, budget accounting, end to end."""
from __future__ import annotations

import itertools
import math

import duckdb
import numpy as np
import pytest

from duckdb_synth.engine.data import Binned
from duckdb_synth.engine.model import pgm
from duckdb_synth.engine.model.junction import junction_tree
from duckdb_synth.engine.workload import EveryMarginal, candidates, default_workload
from duckdb_synth.privacy.accounting import Accountant
from duckdb_synth.privacy.adaptive import Fits, adaptive_measure
from duckdb_synth.privacy.measure import measure


def test_default_workload_is_all_pairs_and_triples() -> None:
    w = default_workload(5)
    cliques = {c for c, _ in w}
    assert cliques == set(itertools.combinations(range(5), 3)) | set(itertools.combinations(range(5), 2))
    assert all(weight == 1.0 for _, weight in w)
    assert default_workload(1) == []
    assert {c for c, _ in default_workload(2)} == {(0, 1)}


def test_candidates_are_the_downward_closure_weighted_by_overlap() -> None:
    w = [((0, 1, 2), 2.0), ((2, 3), 1.0)]
    got = candidates(w)
    expected_keys = {(0, 1, 2), (0, 1), (0, 2), (1, 2), (2, 3)}
    assert set(got) == expected_keys
    for r, weight in got.items():  # brute force: sum of weight * |r & s| over the workload
        assert weight == pytest.approx(sum(ws * len(set(r) & set(s)) for s, ws in w))


@pytest.mark.parametrize(("d", "skip"), [(3, ()), (5, ()), (9, (0, 4)), (30, (29,)), (41, (1, 2, 40))])
def test_every_marginal_lists_what_the_default_workload_closes_to(d: int, skip: tuple) -> None:
    listed = candidates(default_workload(d, skip=frozenset(skip)))
    every = EveryMarginal(d, frozenset(skip))
    assert len(every) == len(listed) and list(every) == list(listed)
    assert all(every[r] == w for r, w in listed.items()) and every.max_weight() == listed.max_weight()
    ks = sorted(np.random.default_rng(d).choice(len(listed), min(len(listed), 50), replace=False).tolist())
    assert every.at(ks) == listed.at(ks) == [list(listed)[k] for k in ks]
    for r in [(0,), (0, 1, 2, 3), (2, 1), (1, 1), (0, d), *[(a, (a + 1) % d) for a in skip]]:
        assert r not in every
        with pytest.raises(KeyError):
            every[r]
    with pytest.raises(IndexError):
        every.at([len(every)])


def test_adaptive_rounds_on_the_unlisted_default_workload_pick_as_on_the_listed_one() -> None:
    """Twenty columns: 1,330 candidates, so each round draws its thousand by position."""
    rng = np.random.default_rng(3)
    n, d = 400, 20
    base = rng.integers(0, 2, n)
    codes = np.column_stack([(base + (rng.random(n) < 0.1 * (i % 4))) % 2 for i in range(d)]).astype(np.int64)
    sizes = [2] * d
    data = Binned(codes, sizes)
    runs = []
    for workload in (default_workload(d), None):
        rng = np.random.default_rng(7)
        acct = Accountant.for_budget(1.0, 1e-6)
        sigma = 1 / math.sqrt(2 * 0.2 * acct.rho / d)
        one_way = [measure(data, (i,), sigma, rng) for i in range(d)]
        acct.charge("one-way", 0.2 * acct.rho)

        def fit(ms, warm):
            return pgm.estimate(sizes, ms, total=float(n), warm_start=warm, iters=10, tol=1e-3)

        def size_of(cliques, limit=None):
            return junction_tree(list(cliques), d, sizes).size(sizes)

        _, ms = adaptive_measure(data, one_way, acct, rng, workload=workload, max_cells=256, total=float(n),
                                 names=[f"c{i}" for i in range(d)], fit=fit, size_of=size_of)
        runs.append(ms)
    assert len(runs[0]) > d + 2
    assert [m.clique for m in runs[0]] == [m.clique for m in runs[1]]
    assert all(np.array_equal(a.values, b.values) for a, b in zip(*runs))


def _data(rng: np.random.Generator, n: int = 3000) -> tuple[np.ndarray, list[int]]:
    sizes = [4, 3, 5, 2]
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(0, 2, n)) % 3
    c = (a + b + rng.integers(0, 2, n)) % 5
    d = (c > 2).astype(int) ^ (rng.random(n) < 0.1)
    return np.column_stack([a, b, c, d]).astype(np.int64), sizes


def _adaptive(data: Binned, sizes: list[int], one_way: list, acct: Accountant, rng: np.random.Generator, *,
              max_cells: int, iters: int = 60, tol: float = 1e-4, fits: list | None = None):
    """``adaptive_measure`` on the default workload, with the pgm fit (each fit's measurement count appended
    to `fits`) and junction trees' sizes for the cap; columns named a, b, c, ..."""
    d, n = len(sizes), float(data.codes.shape[0])

    def fit(ms, warm):
        if fits is not None:
            fits.append(len(ms))
        return pgm.estimate(sizes, ms, total=n, warm_start=warm, iters=iters, tol=tol)

    def size_of(cliques, limit=None):
        return junction_tree(list(cliques), d, sizes).size(sizes)

    return adaptive_measure(data, one_way, acct, rng, workload=default_workload(d), max_cells=max_cells, total=n,
                            names=list("abcdefgh"[:d]), fit=fit, size_of=size_of)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("epsilon", [0.3, 1.0, 5.0])
def test_adaptive_rounds_never_exceed_the_budget(seed: int, epsilon: float) -> None:
    rng = np.random.default_rng(seed)
    codes, sizes = _data(rng)
    acct = Accountant.for_budget(epsilon, 1e-6)
    one_rho = 0.2 * acct.rho / len(sizes)
    one_way = []
    for i in range(len(sizes)):
        sigma = 1 / math.sqrt(2 * one_rho)
        one_way.append(measure(Binned(codes, sizes), (i,), sigma, rng))
        acct.charge(f"1-way {i}", one_rho)
    n = float(len(codes))
    model, ms = _adaptive(Binned(codes, sizes), sizes, one_way, acct, rng, max_cells=500)
    assert acct.rho_spent <= acct.rho * (1 + 1e-9)
    assert acct.epsilon_spent() <= epsilon + 1e-6
    selects = [s for s in acct.steps if s.name.startswith("select")]
    measures = [s for s in acct.steps if s.name.startswith("measure")]
    assert len(selects) == len(measures) == len(ms) - len(sizes) >= 1
    for s in measures:  # each round's charge is what its noise costs
        sigma = float(s.detail.split("sigma=")[1])
        assert s.rho == pytest.approx(1 / (2 * sigma**2), rel=1e-4)
    # The cap on the model's size is respected by every measured clique set.
    assert junction_tree([m.clique for m in ms], len(sizes), sizes).size(sizes) <= 500 + sum(sizes)
    for m in ms[len(sizes):]:
        assert 2 <= len(m.clique) <= 3
        est = model.marginal(m.clique)
        assert (est >= 0).all() and est.sum() == pytest.approx(n, rel=1e-6)


@pytest.mark.parametrize("selection, step", [("aim", "measure"), ("mst", "2-way")])
def test_pipeline_selection_end_to_end(monkeypatch: pytest.MonkeyPatch, selection: str, step: str) -> None:
    """The default adaptive rounds, and the spanning tree kept as the faster option."""
    import duckdb_synth.pipeline as pl
    from duckdb_synth.privacy import fit

    monkeypatch.setattr(fit, "SELECTION", selection)
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t AS SELECT i % 7 AS a, (i * 3) % 5 AS b, CASE WHEN i % 7 < 3 THEN 'x' ELSE 'y' END AS c,"
                    " (i % 7) * 1.5 AS v FROM range(2000) r(i)")
        res = pl.run(con, "t", mode="strict", seed=3)
        assert res.table.column_names == ["a", "b", "c", "v"]
        assert abs(res.table.num_rows - 2000) < 200
        assert res.spend.epsilon_spent <= 3.0 + 1e-9
        assert any(s.name.startswith(step) for s in res.spend.steps)
        assert res.spend.epsilon_spent > 3.0 * 0.999  # the whole budget is used
        # The strong a -> c dependency survives: c is 'x' mostly when a < 3.
        rows = res.table.to_pylist()
        share = np.mean([r["c"] == "x" for r in rows if r["a"] is not None and r["a"] < 3])
        assert share > 0.8
    finally:
        con.close()


def test_candidate_weights_are_the_overlap_with_the_workload() -> None:
    import itertools as it

    from duckdb_synth.engine.workload import candidates

    rng = np.random.default_rng(0)
    cols = range(7)
    workload = [(tuple(sorted(rng.choice(7, k, replace=False).tolist())), float(rng.uniform(0.5, 3)))
                for k in (2, 3, 3, 4, 2)]
    got = candidates(workload, min_order=1)
    closure = {tuple(sorted(s)) for cl, _ in workload for k in range(1, len(cl) + 1) for s in it.combinations(cl, k)}
    assert set(got) == closure and all(set(r) <= set(cols) for r in got)
    for r in closure:
        assert abs(got[r] - sum(w * len(set(r) & set(cl)) for cl, w in workload)) < 1e-12


def test_sampled_score_is_unbiased_for_a_model_without_error() -> None:
    """On a q-sample, a candidate the model gets right scores about 0 (the sampling noise is taken
    off), however many cells it has; without that term, its score grows with its cells."""
    from duckdb_synth.privacy.adaptive import score

    rng = np.random.default_rng(0)
    for cells in (4, 400):
        truth = rng.dirichlet(np.ones(cells)) * 1_000_000
        draws = np.array([score(rng.binomial(truth.astype(np.int64), 0.05).astype(float), truth, 0.0, 0.05)
                          for _ in range(200)])
        bias = math.sqrt(2 / math.pi) * np.sqrt(0.05 * 0.95 * truth).sum()  # what the sampling adds
        assert np.mean(draws + bias) > 0.8 * bias  # the raw L1 error is mostly that sampling noise
        assert abs(np.mean(draws)) < 3 * np.std(draws) / math.sqrt(len(draws)) + 0.02 * bias
    # With q = 1 it is AIM's score: the L1 error minus the noise's expected L1.
    t, a = np.array([10.0, 0.0, 5.0]), np.array([7.0, 1.0, 5.0])
    assert score(t, a, 2.0) == pytest.approx(4.0 - math.sqrt(2 / math.pi) * 2.0 * 3)


def _one_way(data: Binned, acct: Accountant, rng: np.random.Generator) -> list:
    """Every column's 1-way marginal measured with 5 % of the budget each, and charged."""
    out = []
    for i in range(len(data.sizes)):
        out.append(measure(data, (i,), 1 / math.sqrt(2 * 0.05 * acct.rho), rng))
        acct.charge(f"1-way {i}", 0.05 * acct.rho)
    return out


def test_sampled_selection_finds_the_dependencies_and_measures_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    from duckdb_synth.privacy import adaptive

    monkeypatch.setattr(adaptive, "SELECT_ROWS", 2_000)
    rng = np.random.default_rng(5)
    codes, sizes = _data(rng, n=40_000)
    data = Binned(codes, sizes)
    subsets = []
    real_subset = Binned.subset
    monkeypatch.setattr(Binned, "subset", lambda self, rows: subsets.append(int(rows.sum())) or real_subset(self, rows))
    acct = Accountant.for_budget(1.0, 1e-6)
    one_way = _one_way(data, acct, rng)
    n = float(len(codes))
    model, ms = _adaptive(data, sizes, one_way, acct, rng, max_cells=10_000)
    assert len(subsets) == 1 and 1_500 < subsets[0] < 2_500  # one sample of about SELECT_ROWS rows
    for m in ms[len(sizes):]:  # measured on all 40,000 rows, not the sample
        assert m.values.sum() == pytest.approx(n, abs=60 * math.sqrt(m.values.size) * math.sqrt(m.variance.max()))
    # the chain a -> b -> c -> d is what the model learns: c given a is far from independent
    ac = model.marginal((0, 2))
    assert np.abs(ac / n - np.outer(ac.sum(1), ac.sum(0)) / n**2).sum() > 0.3


def test_binned_codes_in_the_smallest_type_count_as_int64_codes() -> None:
    from duckdb_synth.engine.data import code_type

    assert [code_type(s) for s in (2, 127, 128, 32767, 32768)] == [np.int8, np.int8, np.int16, np.int16, np.int32]
    rng = np.random.default_rng(1)
    codes, sizes = _data(rng, n=5000)
    wide, small = Binned(codes, sizes), Binned(np.asfortranarray(codes.astype(np.int8)), sizes)
    for clique in [(0,), (2, 0), (0, 1, 3), (3, 2, 1)]:
        assert np.array_equal(wide.marginal(clique), small.marginal(clique))
    small.recode(2, np.array([0, 0, 1, 1, 2]), 3)
    assert small.marginal((2,)).tolist() == [float((codes[:, 2] < 2).sum()), float(np.isin(codes[:, 2], (2, 3)).sum()),
                                             float((codes[:, 2] == 4).sum())]
    with pytest.raises(ValueError, match="do not fit"):
        small.recode(0, np.arange(4), 300)


def _non_monotone_cap(asked: list):
    """A cap that refuses any model joining columns 0 and 2 while columns 1 and 3 are not joined, and
    lets it in once they are (as the greedy triangulation can: it is not monotone)."""
    def size_of(cliques, limit=None):
        asked.append(tuple(cliques)[-1])
        joined = {frozenset(e) for c in cliques for e in itertools.combinations(c, 2)}
        return 10**9 if frozenset((0, 2)) in joined and frozenset((1, 3)) not in joined else 1
    return size_of


def test_the_cap_is_read_off_the_chosen_graph_alone() -> None:
    """Whether a candidate fits is asked of the chosen cliques' graph as it is now: kept while that graph
    stays the same, asked again when it changes (a candidate refused before may fit now), and never asked
    for one whose edges are all in the graph already."""
    asked: list = []
    fits = Fits(_non_monotone_cap(asked), 1000)
    f = fits.given([(0, 1)])
    assert not f((0, 2)) and not f((0, 2)) and not f((0, 1, 2))
    assert asked == [(0, 2), (0, 1, 2)]  # each sized once on this graph
    assert f((0, 1)) and len(asked) == 2  # already joined: nothing to size
    f = fits.given([(0, 1), (0, 1)])  # the same graph: the same answers, none asked again
    assert not f((0, 2)) and not f((0, 1, 2)) and len(asked) == 2
    f = fits.given([(0, 1), (1, 3)])  # another graph: asked again, and it fits now
    assert f((0, 2)) and asked[2:] == [(0, 2)]
    f = fits.given([(0, 1), (1, 3), (0, 2), (1, 2)])
    assert f((0, 1, 2)) and len(asked) == 3  # its pairs all joined, though no chosen clique holds it
    assert f((1, 2, 3)) and asked[-1] == (1, 2, 3)


def test_a_draw_does_not_depend_on_what_earlier_draws_sized() -> None:
    """The exponential mechanism's range must be a function of released choices: a draw with a cap that
    has answered on other graphs before (under a cap that is not monotone) picks exactly what a draw with
    a fresh one picks, seed by seed."""
    from duckdb_synth.privacy.adaptive import _draw

    pool = [c for k in (2, 3) for c in itertools.combinations(range(5), k)]
    differ = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        scores = rng.normal(size=len(pool)) * 5
        scores[pool.index((0, 2))] += 20  # the pair the cap turns on is the best candidate
        earlier = [[(0, 1)], [(0, 1), (2, 4)], [(3, 4)]][seed % 3]
        now = [*earlier, (1, 3)] if seed % 2 else earlier
        used: list = []
        warm = Fits(_non_monotone_cap(used), 1000)
        for chosen in ([(0, 1)], [(2, 4)], earlier):  # answers on other graphs first, (0, 2) refused there
            g = warm.given(chosen)
            for c in pool:
                g(c)
        a = _draw(pool, scores, 1.0, np.random.default_rng(seed), now, [], warm)
        b = _draw(pool, scores, 1.0, np.random.default_rng(seed), now, [], Fits(_non_monotone_cap([]), 1000))
        assert a == b, (seed, a, b)
        differ += a == (0, 2)
    assert differ >= 5  # the pair refused on the earlier graphs was drawn where it fits now


def test_picks_a_round_grow_with_the_columns() -> None:
    """d / 32 rounded half up (two from 48 columns, three from 80), at least one; but a table of 33-47
    columns, where d / 32 rounds down to one, takes d / 32 a round on average, in whole picks (a
    running sum of floor(r d / 32)), so it plans no more rounds than a 32-column one."""
    from duckdb_synth.privacy.adaptive import COLUMNS_PER_PICK, ROUNDS_PER_COLUMN, picks_per_round

    assert COLUMNS_PER_PICK == 32
    got = {d: picks_per_round(d, 1) for d in (1, 2, 15, 16, 32, 48, 55, 63, 64, 70, 79, 80, 1000)}
    assert got == {1: 1, 2: 1, 15: 1, 16: 1, 32: 1, 48: 2, 55: 2, 63: 2, 64: 2, 70: 2, 79: 2, 80: 3, 1000: 31}
    for d in (*range(1, 33), *range(48, 120)):  # the same every round
        assert {picks_per_round(d, r) for r in range(1, 300)} == {got.get(d, max(1, round(d / 32 + 1e-9)))}
    for d in range(33, 48):
        picks = [picks_per_round(d, r) for r in range(1, 401)]
        assert set(picks) == {1, 2}
        assert list(itertools.accumulate(picks)) == [r * d // COLUMNS_PER_PICK for r in range(1, 401)]
        planned, rounds = ROUNDS_PER_COLUMN * d, 0  # the picks the first noise scale assumes
        while planned > 0:
            rounds += 1
            planned -= picks_per_round(d, rounds)
        assert rounds <= ROUNDS_PER_COLUMN * COLUMNS_PER_PICK
    assert [picks_per_round(45, r) for r in range(1, 9)] == [1, 1, 2, 1, 2, 1, 1, 2]


@pytest.mark.parametrize("seed", range(3))
def test_a_wide_table_measures_several_marginals_a_round_and_refits_once(monkeypatch: pytest.MonkeyPatch,
                                                                          seed: int) -> None:
    """With max(1, round(d / COLUMNS_PER_PICK)) picks a round (2 here): one refit a round, picks of a round
    sharing at most one column, every pick charged its own selection and measurement, the budget
    kept, and the chain still learned."""
    from duckdb_synth.privacy import adaptive

    monkeypatch.setattr(adaptive, "COLUMNS_PER_PICK", 2)
    rng = np.random.default_rng(seed)
    codes, sizes = _data(rng, n=5000)
    data = Binned(codes, sizes)
    acct = Accountant.for_budget(2.0, 1e-6)
    one_way = _one_way(data, acct, rng)
    n = float(len(codes))
    fits: list[int] = []
    model, ms = _adaptive(data, sizes, one_way, acct, rng, max_cells=10_000, fits=fits)
    assert acct.rho_spent <= acct.rho * (1 + 1e-9) and acct.rho_spent >= acct.rho * 0.999
    rounds: dict[str, list[tuple]] = {}
    steps = [s for s in acct.steps if s.name.startswith(("select", "measure"))]
    assert [s.name.split()[0] for s in steps] == ["select", "measure"] * (len(steps) // 2)
    for sel, mea in zip(steps[::2], steps[1::2]):  # each pick: its draw, then its measurement
        assert sel.name.split()[1] == mea.name.split()[1] and sel.detail.split(":")[0] == mea.detail.split(":")[0]
        eps0 = float(sel.detail.split("eps0=")[1])
        assert (eps0 - 5e-5) ** 2 / 8 <= sel.rho <= (eps0 + 5e-5) ** 2 / 8  # eps0 as printed, to 4 decimals
        assert mea.rho == pytest.approx(1 / (2 * float(mea.detail.split("sigma=")[1]) ** 2), rel=1e-4)
        rounds.setdefault(mea.detail.split(",")[0], []).append(tuple(mea.name.split()[1].split("~")))
    assert len(fits) - 1 == len(rounds)  # the first fit, then one a round
    assert sum(len(r) for r in rounds.values()) == len(ms) - len(sizes)
    assert max(len(r) for r in rounds.values()) == 2 and sum(len(r) == 2 for r in rounds.values()) >= len(rounds) - 1
    for picks in rounds.values():
        for a, b in itertools.combinations(picks, 2):
            assert len(set(a) & set(b)) <= 1, picks
    ac = model.marginal((0, 2))  # a -> b -> c: c given a is far from independent
    assert np.abs(ac / n - np.outer(ac.sum(1), ac.sum(0)) / n**2).sum() > 0.3


def test_sizing_the_pool_first_changes_no_pick(monkeypatch) -> None:
    """A round that sizes its pool first, and scores and samples the model for only what fits, draws
    exactly what a round that sizes as it draws does (the choice between them reads how many trees
    were sized, which depends on the data, so it must not change the picks): the same cliques and noisy
    values with it always on and never on, three picks a round under a cap that binds, over seeds."""
    from duckdb_synth.privacy import adaptive
    from duckdb_synth.privacy.measure import measure as measure_one

    monkeypatch.setattr(adaptive, "COLUMNS_PER_PICK", 2)  # 6 columns: 3 picks a round
    real = adaptive.model_marginals
    for seed in range(3):
        runs, narrowed = [], []
        for share in (0.0, math.inf):
            monkeypatch.setattr(adaptive, "PREFILTER_SHARE", share)

            def counting(model, pool, *args):
                narrowed.append((share, len(pool)))
                return real(model, pool, *args)

            monkeypatch.setattr(adaptive, "model_marginals", counting)
            rng = np.random.default_rng(seed)
            codes, sizes = _data(rng, 4000)
            codes = np.column_stack([codes, (codes[:, 0] + rng.integers(0, 2, len(codes))) % 4,
                                     (codes[:, 2] + rng.integers(0, 3, len(codes))) % 5])
            sizes = [*sizes, 4, 5]
            data = Binned(codes, sizes)
            acct = Accountant.for_budget(3.0, 1e-6)
            one_way = [measure_one(data, (i,), 30.0, rng) for i in range(len(sizes))]
            _, ms = _adaptive(data, sizes, one_way, acct, rng, max_cells=260, iters=20, tol=1e-3)
            runs.append([(m.clique, m.values.tolist()) for m in ms[len(sizes):]])
        assert runs[0] == runs[1] and len(runs[0]) >= 4
        full = max(k for share, k in narrowed)
        assert any(share == 0.0 and k < full for share, k in narrowed)  # some rounds scored fewer
