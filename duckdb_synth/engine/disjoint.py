"""Disjoint sets (union-find with path halving), for the two Kruskal spanning trees."""
from __future__ import annotations


class DisjointSets:
    """Elements 0..n-1, each in a set of its own until joined."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        """The representative of i's set."""
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        """Join the sets of a and b (a's joins b's); False if they were already one."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[ra] = rb
        return True
