"""Which marginals to model when the counts are exact (balanced mode).

A Bayesian network: a Chow-Liu tree on mutual information, then more parents per
column where conditional mutual information adds the most (``exact_network``); or,
for a user's workload, the graphical model fitted greedily to the workload's
marginals that it misses most (``greedy_exact``). Both read the binned table
through its ``marginal`` call only. The DP modes choose with the exponential
mechanism instead (``privacy/select.py``, ``privacy/adaptive.py``).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from .marginal import Clique, Measurement, marginal
from .workload import Workload, candidates

Edge = tuple[int, int]
SCORE_SAMPLE_ROWS = 20_000  # model marginals outside the junction tree's cliques are estimated from a sample


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_information(data, a: int, b: int) -> float:
    """I(a; b) from the exact counts of the binned table `data`."""
    joint = data.marginal((a, b))
    return _entropy(joint.sum(1)) + _entropy(joint.sum(0)) - _entropy(joint)


def conditional_mi(data, x: int, z: int, given: int) -> float:
    """I(x; z | given) from exact counts."""
    joint = data.marginal((x, z, given))
    return (_entropy(joint.sum(1)) + _entropy(joint.sum(0)) - _entropy(joint) - _entropy(joint.sum((0, 1))))


def exact_network(data, *, max_cells: int, candidates: int = 5, max_parents: int = 2) -> dict[int, tuple[int, ...]]:
    """Parents of each column: a maximum-MI spanning tree, then a second parent where it helps.

    Returns parents in an order where every parent precedes its children (dict order).
    """
    sizes = data.sizes
    d = len(sizes)
    if d == 1:
        return {0: ()}
    mi = {(i, j): mutual_information(data, i, j) for i, j in itertools.combinations(range(d), 2)}
    # Maximum spanning tree (Prim) rooted at the column with the largest total MI.
    total = [sum(v for e, v in mi.items() if k in e) for k in range(d)]
    root = int(np.argmax(total))
    parents: dict[int, tuple[int, ...]] = {root: ()}
    while len(parents) < d:
        best = max(((mi[tuple(sorted((u, v)))], v, u) for u in parents for v in range(d) if v not in parents))
        parents[best[1]] = (best[2],)
    # More parents among earlier columns, one at a time, by conditional mutual information
    # within `max_cells` per table.
    order = list(parents)
    for _ in range(max_parents - 1):
        for pos, x in enumerate(order):
            if not parents[x]:
                continue
            ps = parents[x]
            earlier = [z for z in order[:pos] if z not in ps]
            earlier.sort(key=lambda z: -mi[tuple(sorted((x, z)))])
            base = sizes[x] * math.prod(sizes[p] for p in ps)
            best_z, best_gain = None, 0.0
            for z in earlier[:candidates]:
                if base * sizes[z] > max_cells:
                    continue
                gain = _cmi(data, x, z, ps)
                if gain > best_gain:
                    best_z, best_gain = z, gain
            if best_z is not None and best_gain > 1e-3:
                parents[x] = (*ps, best_z)
    return parents


def _cmi(data, x: int, z: int, given: tuple[int, ...]) -> float:
    """I(x; z | given) from exact counts."""
    joint = data.marginal(tuple(sorted((x, z, *given))))
    axes = sorted((x, z, *given))
    ax_x, ax_z = axes.index(x), axes.index(z)
    return (_entropy(joint.sum(ax_z)) + _entropy(joint.sum(ax_x)) - _entropy(joint)
            - _entropy(joint.sum((ax_x, ax_z))))


def tree_parents(edges: list[Edge], d: int) -> dict[int, tuple[int, ...]]:
    """Orient a forest: parents in breadth-first order from each component's first column."""
    adj: dict[int, list[int]] = {k: [] for k in range(d)}
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    parents: dict[int, tuple[int, ...]] = {}
    for start in range(d):
        if start in parents:
            continue
        parents[start] = ()
        queue = [start]
        while queue:
            u = queue.pop(0)
            for v in adj[u]:
                if v not in parents:
                    parents[v] = (u,)
                    queue.append(v)
    return parents


def greedy_exact(data, *, workload: Workload, max_cells: int, fit: Callable, size_of: Callable, max_rounds: int,
                 min_gain: float,
                 report: Callable[[str, float], None] | None = None) -> tuple[object, list[Measurement]]:
    """The graphical model on exact marginals, chosen greedily (no noise, no annealing).

    Each round adds the candidate the model misses most (weighted L1 error, in rows),
    among those that keep the junction tree within `max_cells`, and refits; it stops
    after `max_rounds`, or when the worst miss is below `min_gain` rows.
    """
    sizes = data.sizes
    one_way = [Measurement((i,), data.marginal((i,)), np.ones(sizes[i])) for i in range(len(sizes))]
    measurements = list(one_way)
    model = fit(measurements, None)
    cands = candidates(workload, min_order=2)
    true = {r: data.marginal(r) for r in cands}
    chosen: list[Clique] = []
    rng = np.random.default_rng(0)  # scoring samples only: the choice itself is deterministic given them
    for r_no in range(max_rounds):
        pool = [r for r in cands if r not in chosen]
        approx = model_marginals(model, pool, sizes, float(data.n), rng)
        order = sorted(pool, key=lambda r: -cands[r] * np.abs(true[r] - approx[r]).sum())
        pick = next((r for r in order if size_of([*chosen, r]) <= max_cells), None)
        if pick is None or np.abs(true[pick] - approx[pick]).sum() < min_gain:
            break
        chosen.append(pick)
        measurements.append(Measurement(pick, true[pick].astype(np.float64), np.ones(true[pick].shape)))
        model = fit(measurements, model)
        if report:
            report("selecting", min(0.4 + 0.4 * (r_no + 1) / max_rounds, 0.8))
    return model, measurements


def model_marginals(model, pool: list[Clique], sizes: Sequence[int], total: float,
                    rng: np.random.Generator) -> dict[Clique, np.ndarray]:
    """The model's marginal on every candidate: exact where a junction-tree clique holds it, else
    estimated from one sample of the model (exact variable elimination on hundreds of candidates
    per round would dominate the run; the sample's error is far below the measurement noise).
    Post-processing of the model: no privacy cost."""
    out: dict[Clique, np.ndarray] = {}
    missing = []
    for r in pool:
        if model.tree.containing(r) is not None:
            out[r] = model.marginal(r)
        else:
            missing.append(r)
    if missing:
        rows = np.asfortranarray(model.sample(SCORE_SAMPLE_ROWS, rng))  # column slices without copies
        for r in missing:
            out[r] = marginal(rows, sizes, r) * (total / SCORE_SAMPLE_ROWS)
    return out
