"""Choose which marginals to measure.

DP modes: the MST idea (McKenna, Miklau, Sheldon 2021): a spanning tree of 2-way
marginals, chosen edge by edge with the exponential mechanism on how badly the
1-way model misses each pair (L1 error, sensitivity 1).
Balanced mode: exact statistics, so a richer Bayesian network: a Chow-Liu tree
on mutual information, then a second parent per column where it adds the most.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .disjoint import DisjointSets
from .measure import marginal

Edge = tuple[int, int]


def pair_scores(codes: np.ndarray, sizes: list[int], probs: list[np.ndarray], n_hat: float) -> dict[Edge, float]:
    """L1 distance between each pair's true counts and the independent model from released 1-way estimates."""
    scores = {}
    for i, j in itertools.combinations(range(len(sizes)), 2):
        expect = n_hat * np.outer(probs[i], probs[j])
        scores[(i, j)] = float(np.abs(marginal(codes, sizes, (i, j)) - expect).sum())
    return scores


def private_tree(scores: dict[Edge, float], d: int, eps_round: float, rng: np.random.Generator) -> list[Edge]:
    """Kruskal with each edge drawn by the exponential mechanism (Gumbel-max, sensitivity 1).

    Each of the d-1 rounds costs eps_round^2 / 8 in zCDP.
    """
    comp = DisjointSets(d)
    tree: list[Edge] = []
    for _ in range(d - 1):
        cands = [e for e in scores if comp.find(e[0]) != comp.find(e[1])]
        q = np.array([scores[e] for e in cands])
        pick = int(np.argmax(eps_round * q / 2.0 + rng.gumbel(size=len(q))))
        a, b = cands[pick]
        comp.union(a, b)
        tree.append((a, b))
    return tree


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_information(codes: np.ndarray, sizes: list[int], a: int, b: int) -> float:
    joint = marginal(codes, sizes, (a, b))
    return _entropy(joint.sum(1)) + _entropy(joint.sum(0)) - _entropy(joint)


def conditional_mi(codes: np.ndarray, sizes: list[int], x: int, z: int, given: int) -> float:
    """I(x; z | given) from exact counts."""
    joint = marginal(codes, sizes, (x, z, given))
    return (_entropy(joint.sum(1)) + _entropy(joint.sum(0)) - _entropy(joint) - _entropy(joint.sum((0, 1))))


def exact_network(codes: np.ndarray, sizes: list[int], *, max_cells: int, candidates: int = 5,
                  max_parents: int = 2) -> dict[int, tuple[int, ...]]:
    """Parents of each column: a maximum-MI spanning tree, then a second parent where it helps.

    Returns parents in an order where every parent precedes its children (dict order).
    """
    d = len(sizes)
    if d == 1:
        return {0: ()}
    mi = {(i, j): mutual_information(codes, sizes, i, j) for i, j in itertools.combinations(range(d), 2)}
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
                gain = _cmi(codes, sizes, x, z, ps)
                if gain > best_gain:
                    best_z, best_gain = z, gain
            if best_z is not None and best_gain > 1e-3:
                parents[x] = (*ps, best_z)
    return parents


def _cmi(codes: np.ndarray, sizes: list[int], x: int, z: int, given: tuple[int, ...]) -> float:
    """I(x; z | given) from exact counts."""
    joint = marginal(codes, sizes, tuple(sorted((x, z, *given))))
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
