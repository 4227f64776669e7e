"""The model stage: measure, select and estimate, as the run's mode allows (the model itself is
``engine/model/``).

DP modes (``private_model``): every column's 1-way marginal, then the rest of the
budget on adaptively chosen marginals and a graphical model (AIM-style, the
default), or on a spanning tree of pairs and a tree model (MST-style). Balanced
mode (``exact_model``): a decomposable Bayesian network on exact counts whose
conditionals each pool at least ``MIN_GROUP`` rows, or, for a user's workload, the
graphical model fitted to its exact marginals; charged nothing, recorded as exact.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..engine.data import Binned
from ..engine.domain import Domain, coarsenings
from ..engine.marginal import Measurement
from ..engine.model import pgm
from ..engine.model.junction import Sizer, junction_size
from ..engine.model.network import consistent_pairs, tree_model
from ..engine.model.pooled import pooled_network
from ..engine.structure import decomposable_network, greedy_exact, tree_parents
from ..engine.workload import Workload
from .accounting import Accountant, exp_mech_eps, sigma_for
from .adaptive import adaptive_measure
from .budget import SHARE_SELECT
from .discovery import MIN_GROUP, group_least
from .measure import measure, one_way
from .select import pair_scores, private_tree

Progress = Callable[[str, float], None]  # called with (stage, fraction done)

SELECTION = "aim"  # adaptive rounds and a graphical model; "mst": a spanning tree of pairs (faster, less accurate)
MAX_MODEL_CELLS = 1_000_000  # cap on the junction tree (cells of its cliques). Binned diamonds at eps = 1
# over 10 seeds: 0.0894 at 250k, 0.0882 at 500k, 0.0871 at 750k, 0.0863 at 1M (15 s a run against 9.5 s
# at 500k); bench/wide_speed.py 50k x 30: 38 s against 30 s. Tables that do not reach the cap are unchanged.
AIM_ITERS, AIM_WARM_ITERS, AIM_FINAL_ITERS = 300, 35, 150  # estimator steps: the first fit, each
# warm-started refit, the final fit: fewer than the 50 and 300 before pgm.ETA_START, whose momentum
# runs longer and reaches the same loss in about half the steps. Nine tables at eps 1 and 3, seeds 0-5:
# tvd3 +0.25 % on average (storms eps 1 0.1923 -> 0.1949, diamonds eps 1 0.1011 -> 0.1028, weather eps 3
# 0.1146 -> 0.1132), CPU 932 -> 794 s over the 108 runs (diamonds 6.8 -> 5.0 s at eps 1).
EXACT_ITERS, EXACT_WARM_ITERS = 300, 50  # balanced mode's fit to a workload's exact marginals
AIM_TOL, AIM_FINAL_TOL = 1e-4, 1e-6
AIM_FULL_COST = 6.4e6  # a fit takes its full steps on trees whose step costs at most this (pgm.step_cost,
# cell-axes), proportionally fewer (at least pgm.MIN_STEPS) on costlier ones: the bench tables' trees are
# within it at seed 0 (at most 6.1M, at the 1M-cell cap; yrbss at eps 3 reaches 7.2M at seed 1: over seeds
# 0-5 tvd3 0.0793 -> 0.0794), cars' (1M cells in 13-16-column cliques, 14M) is not, and takes 22 steps a
# refit, 137 for the final fit (where a step costs three times diamonds'). Cars, 3 seeds,
# old (50 and 300 steps) -> new, tvd3: eps 3 0.1009 -> 0.1013 raw, 0.0863 -> 0.0876 binned; eps 1 0.1999 ->
# 0.1991, 0.2914 -> 0.2918 (with the final fit's 300 steps kept, 0.1021 and 0.0885 at eps 3: no better).
AIM_WARM_COST = AIM_FULL_COST / 2  # the same bound for each round's warm refit: half the work of a fit. A
# refit only has to move the model far enough for the next round's scores (the final fit takes its full
# steps), and on trees past this bound every round's refit cost the same, whatever the tree. The seven bench
# tables at eps 1 and 3, seeds 0-2, raw, tvd3 at AIM_FULL_COST -> this: diamonds 0.1059 -> 0.1065 and
# 0.0753 -> 0.0748, storms 0.2181 -> 0.2181 and 0.1691 -> 0.1699, weather 0.1335 -> 0.1338 and 0.1145 ->
# 0.1150, cars 0.2019 -> 0.2027 and 0.1004 -> 0.1005, yrbss 0.1004 -> 0.1004 and 0.0781 -> 0.0775 (credit and
# cps1988 the same rows); a quarter (AIM_FULL_COST / 4) lost more: diamonds eps 1 0.1093, weather 0.1353.
EXACT_MAX_PARENTS = 4  # balanced mode: parents per column in the decomposable network (cars, 70 columns
# in 6 blocks of alternatives, tvd3 0.078 at 3 parents, 0.048 at 4; the other tables within 0.004),
EXACT_MAX_TABLE = 400_000  # cells per table (column x parents, coarsened parents counting their coarse cells),
EXACT_COARSE_LEVELS = 3  # and parents coarsened up to 8 bins into one. Memorization is held back by pooling
# (every conditional from at least MIN_GROUP rows; engine/model/pooled.py), and by the table cap: storms
# (a panel: a storm's rows six hours apart) keeps a 5th-percentile distance to the closest real row
# of 0.27 at this cap, above its holdout's 0.236, and falls to 0.19 at 1M cells (tvd3 0.146 -> 0.106).
# The earlier network (parents anywhere, exact conditionals down to one row, tables of 2 cells per
# row) memorized beyond that: credit at 4 parents and 1M cells scored 0.04 against the holdout's 0.50.
EXACT_TABLE_PER_ROW = 10  # a larger table: up to this many cells per row of the table, where that is more than
EXACT_SEARCH_CELLS = 1_200_000_000  # EXACT_MAX_TABLE, and within this many over d^2 (d columns): a table of
# many rows supports finer conditionals (each still pools MIN_GROUP rows), but the structure search scores
# about d^2 parent sets, each over a table of up to the cap, and the sampler draws from d tables a batch: a
# cap growing with the rows alone took a generated 1M x 50 table from 30 to 54 CPU s in balanced mode.
# The bound keeps 1M x 50 at 480k cells (within its 30 s); flights (337k x 19) gets 3.3M (``exact_table_cap``).
EXACT_ROUNDS_PER_COLUMN = 3
EXACT_SCORE_ROWS = 100_000  # balanced mode's structure is chosen on a sample of about this many rows
EXACT_MISFIT_ROWS = 20_000  # rows sampled to compare candidate networks (engine/structure.py:marginal_misfit)
EXACT_MAX_CELLS = 1_000_000


def fit_model(data: Binned, domains: list[Domain], acct: Accountant, n_hat: float, count_var: float,
              rng: np.random.Generator, report: Progress,
              workload: Workload | None = None) -> tuple[object, list[Domain], float]:
    """The model of the binned table, charged to `acct`.

    Returns the model (None when no column is modelled), the domains (a DP run drops
    NULL and 'other' buckets measured within noise of zero), and the row count to
    sample: the consensus of every measurement in DP modes, far less noisy than `n_hat`.
    """
    if not domains:
        return None, domains, n_hat
    if acct.private:
        return private_model(data, domains, acct, n_hat, count_var, rng, report, workload)
    return exact_model(data, domains, acct, workload, rng), domains, n_hat


def private_model(data: Binned, domains: list[Domain], acct: Accountant, n_hat: float, count_var: float,
                  rng: np.random.Generator, report: Progress,
                  workload: Workload | None = None) -> tuple[object, list[Domain], float]:
    """1-way marginals, then the adaptive rounds (or the spanning tree); see ``fit_model``."""
    d = len(domains)
    domains, ones = one_way(data, domains, acct, n_hat, rng)
    if d == 1:
        n, margins, tables = consistent_pairs(d, dict(enumerate(ones)), [], (n_hat, count_var))
        return tree_model(data.sizes, {0: ()}, margins, tables), domains, n
    if SELECTION == "aim":
        model, n = aim_model(data, domains, ones, acct, n_hat, rng, report, workload)
        return model, domains, n
    probs = [np.maximum(m.values, 0) / max(np.maximum(m.values, 0).sum(), 1.0) for m in ones]
    report("selecting", 0.45)
    scores = pair_scores(data, probs, n_hat)
    rho_round = SHARE_SELECT * acct.rho / (d - 1)
    eps_round = exp_mech_eps(rho_round)
    edges = private_tree(scores, d, eps_round, rng)
    for a, b in edges:
        acct.charge(f"select {domains[a].column.name}~{domains[b].column.name}", rho_round,
                    detail=f"exponential mechanism, eps0={eps_round:.4f}")
    rho_pair = acct.rho_left / (d - 1)
    sigma = sigma_for(rho_pair)
    report("measuring pairs", 0.6)
    pairs = []
    for a, b in edges:
        pairs.append(measure(data, (a, b), sigma, rng))
        acct.charge(f"2-way {domains[a].column.name}~{domains[b].column.name}", rho_pair,
                    detail=f"{data.sizes[a] * data.sizes[b]} cells, sigma={sigma:.1f}")
    report("estimating", 0.7)
    n, margins, tables = consistent_pairs(d, dict(enumerate(ones)), pairs, (n_hat, count_var))
    return tree_model(data.sizes, tree_parents(edges, d), margins, tables), domains, n


def aim_model(data: Binned, domains: list[Domain], ones: list[Measurement], acct: Accountant, n_hat: float,
              rng: np.random.Generator, report: Progress, workload: Workload | None = None):
    """The adaptive rounds and the graphical model fitted to every measurement; (model, its row count)."""
    sizes = data.sizes
    d = len(sizes)

    def fit(measurements, warm):
        return pgm.estimate(sizes, measurements, total=n_hat, warm_start=warm,
                            iters=AIM_WARM_ITERS if warm is not None else AIM_ITERS, tol=AIM_TOL,
                            full_cost=AIM_WARM_COST if warm is not None else AIM_FULL_COST)

    def size_of(cliques, limit=None):
        return junction_size(list(cliques), d, sizes, limit)

    model, measurements = adaptive_measure(
        data, ones, acct, rng, workload=workload or None, skip=free_text(domains), max_cells=MAX_MODEL_CELLS,
        total=n_hat, names=[dom.column.name for dom in domains], fit=fit, size_of=size_of, report=report,
        sizer=lambda chosen: Sizer(chosen, d, sizes).size)
    model = pgm.estimate(sizes, measurements, total=n_hat, warm_start=model, iters=AIM_FINAL_ITERS,
                         tol=AIM_FINAL_TOL, full_cost=AIM_FULL_COST)
    return model, float(model.total)


def free_text(domains: list[Domain]) -> frozenset[int]:
    """The columns the default workload leaves out: text whose kept values hold few of the rows
    (``discovery.TEXT_COVER``), whose joint marginals would be spent on one 'other' bucket."""
    return frozenset(i for i, dom in enumerate(domains) if getattr(dom, "free_text", False))


def exact_model(data: Binned, domains: list[Domain], acct: Accountant, workload: Workload | None = None,
                rng: np.random.Generator | None = None):
    """Balanced mode: a decomposable network on exact counts, or the graphical model fitted to the workload.

    On a table of more than ``EXACT_SCORE_ROWS`` rows the network's structure is chosen on a
    uniform sample of about that many (its parents' configurations pooled from MIN_GROUP rows
    of the table, so from MIN_GROUP q of the sample's, at least one); the pools are counted on
    every row.
    """
    sizes = data.sizes
    if workload and len(sizes) > 1:  # the user's marginals: the graphical model fitted to them exactly
        return exact_pgm(data, acct, workload)
    coarse = [coarsenings(dom, data.marginal((i,)), EXACT_COARSE_LEVELS) for i, dom in enumerate(domains)]
    group = group_least(acct.unit_rows)  # (MIN_GROUP; a privacy unit's persons, in rows)
    scored, least = data, group
    if data.n > EXACT_SCORE_ROWS:
        q = EXACT_SCORE_ROWS / data.n
        scored = data.subset((rng or np.random.default_rng(0)).random(data.n) < q)
        least = max(1, round(group * q))
    order = decomposable_network(scored, coarse, max_parents=EXACT_MAX_PARENTS,
                                 max_cells=exact_table_cap(data.n, len(sizes)),
                                 least=least, sample_rows=min(int(scored.n), EXACT_MISFIT_ROWS))
    acct.charge("model", 0.0, detail=f"decomposable network on exact counts, {sum(len(p) for _, p in order)} edges, "
                                     f"every conditional from at least {group} rows")
    return pooled_network(data, order, coarse, group)


def exact_table_cap(n: int, d: int) -> int:
    """Balanced mode's cap on a conditional table's cells, for a table of `n` rows and `d` modelled columns:
    ``EXACT_MAX_TABLE``, or ``EXACT_TABLE_PER_ROW`` cells a row where that is more, within
    ``EXACT_SEARCH_CELLS`` / d^2."""
    return max(EXACT_MAX_TABLE, min(EXACT_TABLE_PER_ROW * int(n), EXACT_SEARCH_CELLS // max(int(d), 1) ** 2))


def exact_pgm(data: Binned, acct: Accountant, workload: Workload):
    """The graphical model fitted greedily to the workload's exact marginals."""
    sizes = data.sizes
    d = len(sizes)

    def fit(measurements, warm):
        return pgm.estimate(sizes, measurements, total=float(data.n), warm_start=warm,
                            iters=EXACT_WARM_ITERS if warm is not None else EXACT_ITERS, tol=AIM_TOL)

    def size_of(cliques):
        return junction_size(list(cliques), d, sizes)

    model, measurements = greedy_exact(data, workload=workload, max_cells=EXACT_MAX_CELLS, fit=fit, size_of=size_of,
                                       max_rounds=EXACT_ROUNDS_PER_COLUMN * d, min_gain=0.005 * data.n)
    model = pgm.estimate(sizes, measurements, total=float(data.n), warm_start=model, iters=EXACT_ITERS,
                         tol=AIM_FINAL_TOL)
    acct.charge("model", 0.0, detail=f"graphical model on {len(measurements) - d} exact marginals")
    return model
