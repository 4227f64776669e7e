"""Balanced mode's model: a decomposable Bayesian network whose every conditional pools at least k rows.

Columns are drawn in ``order``. A column's parents are (column, level) pairs: level 0 is the
parent itself, level l a coarser view of it (``engine/domain.py:coarsenings``: numeric bins
merged 2^l at a time, the rarer categories lumped together), so a wide parent costs fewer
cells. Every parent set lies inside the family (the column and its parents) of a column
drawn before, at the same level or a coarser one: the parents' joint in the model is then
the data's, and sampling in order reproduces each family as counted (a decomposable model;
a network whose parents come from anywhere drifts, since a child's conditional is applied to
a parent joint the data never had).

Pooling: a configuration of a column's parents held by fewer than ``least`` rows gets no
conditional of its own. Its rows join the other thin configurations that share its first
parents (all but the last, then all but the last two, ... then none), and the pool's rows
give the conditional. So every conditional the sampler draws from is the distribution of
at least ``least`` rows (but the last pool, of the rows left over), and a row whose
combination of parent values is its own is never replayed from its own values.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Parent = tuple[int, int]  # (column, level)
Coarsening = tuple[tuple[np.ndarray, int], ...]  # per level: (code -> coarse code, coarse size); level 0 is identity
Pools = tuple[tuple[np.ndarray, np.ndarray], ...]  # per level, deepest first: (is-a-pool flags, pooled counts)


def family_counts(data, x: int, parents: Sequence[Parent], coarse: Sequence[Coarsening]) -> np.ndarray:
    """Exact counts over (parents at their levels, x) from the binned table's ``marginal``, shaped (configs, size_x)."""
    counts = data.marginal((*(p for p, _ in parents), x), [*(coarse[p][level] for p, level in parents), None])
    return counts.reshape(-1, data.sizes[x])


def pool(counts: np.ndarray, parent_sizes: Sequence[int], least: int) -> Pools:
    """Pool a family's counts: per level of its parents (all of them, then all but the last, ... none).

    `counts` is (configs, size_x), configurations numbered row-major over the parents'
    sizes. At each level a configuration whose rows not pooled deeper number at least
    `least` is a pool; the other rows go up a level, where the last parent is dropped.
    The last level (no parents) takes every row left.
    """
    levels = []
    t = counts
    for j in range(len(parent_sizes), -1, -1):
        held = t.sum(axis=1)
        flags = held >= least if j else np.ones(1, dtype=bool)
        levels.append((flags, np.where(flags[:, None], t, 0.0)))
        if j:
            t = np.where(flags[:, None], 0.0, t).reshape(-1, parent_sizes[j - 1], t.shape[1]).sum(axis=1)
    return tuple(levels)


def prefixes(coarse: Sequence[Coarsening], parents: Sequence[Parent], codes: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Configuration ids of the first j parents of rows `codes`, for j = len(parents) .. 0 (deepest
    first, numbered as in ``pool``), as (ids, number of configurations)."""
    n = codes.shape[0]
    cfg, k = np.zeros(n, dtype=np.int64), 1
    out = [(cfg, k)]
    for p, level in parents:
        remap, size = coarse[p][level]
        cfg, k = cfg * size + remap[codes[:, p]], k * size
        out.append((cfg, k))
    return out[::-1]


@dataclass(frozen=True)
class PooledNetwork:
    """``order``: (column, parents) in sampling order; ``coarse``: each column's coarsenings;
    ``pools[x]``: per level of x's parents, deepest first, the is-a-pool flags of each
    configuration and the (configurations, size_x) counts of the rows pooled there."""

    sizes: tuple[int, ...]
    order: tuple[tuple[int, tuple[Parent, ...]], ...]
    coarse: tuple[Coarsening, ...]
    pools: dict[int, Pools]

    def __post_init__(self) -> None:
        families: list[dict[int, int]] = []
        seen: set[int] = set()
        for x, parents in self.order:
            if x in seen:
                raise ValueError(f"column {x} is drawn twice")
            if any(p not in seen for p, _ in parents):
                raise ValueError(f"column {x}'s parents {parents} do not all come before it")
            if any(not 0 <= level < len(self.coarse[p]) for p, level in parents):
                raise ValueError(f"column {x}'s parents {parents} ask for a level a column does not have")
            if parents and not any(all(p in fam and level >= fam[p] for p, level in parents) for fam in families):
                raise ValueError(f"column {x}'s parents {parents} are not inside one earlier family")
            if len(self.pools.get(x, ())) != len(parents) + 1:
                raise ValueError(f"column {x} needs a pool table per level of its parents")
            for flags, table in self.pools[x]:
                if table.shape != (len(flags), self.sizes[x]) or (table < 0).any():
                    raise ValueError(f"column {x} has a pool table of shape {table.shape} or negative counts")
            families.append({x: 0, **dict(parents)})
            seen.add(x)
        if seen != set(range(len(self.sizes))):
            raise ValueError("the network does not cover every column")


def pooled_network(data, order: Sequence[tuple[int, tuple[Parent, ...]]], coarse: Sequence[Coarsening],
                   least: int) -> PooledNetwork:
    """The network's pool tables, counted exactly from the binned table `data` (its ``marginal`` only)."""
    pools = {}
    for x, parents in order:
        levels = list(pool(family_counts(data, x, parents, coarse), [coarse[p][lv][1] for p, lv in parents], least))
        if not levels[-1][1].any():  # no row left over: a configuration never seen draws from the column's counts
            levels[-1] = (levels[-1][0], data.marginal((x,))[None, :])
        pools[x] = tuple(levels)
    return PooledNetwork(tuple(int(s) for s in data.sizes), tuple((x, tuple(ps)) for x, ps in order), tuple(coarse),
                         pools)
