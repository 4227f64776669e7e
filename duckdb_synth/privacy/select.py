"""The spanning-tree selection (the MST idea: McKenna, Miklau, Sheldon 2021).

A spanning tree of 2-way marginals, chosen edge by edge with the exponential
mechanism on how badly the independent model from released 1-way estimates
misses each pair (L1 error, sensitivity 1). The default selection is adaptive
(``privacy/adaptive.py``); this one is faster and less accurate.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..engine.data import Binned
from ..engine.disjoint import DisjointSets

Edge = tuple[int, int]


def pair_scores(data: Binned, probs: list[np.ndarray], n_hat: float) -> dict[Edge, float]:
    """L1 distance between each pair's true counts and the independent model from released 1-way estimates."""
    scores = {}
    for i, j in itertools.combinations(range(len(data.sizes)), 2):
        expect = n_hat * np.outer(probs[i], probs[j])
        scores[(i, j)] = float(np.abs(data.marginal((i, j)) - expect).sum())
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
