"""Draw rows from a model: ancestral sampling, vectorised per column."""
from __future__ import annotations

import numpy as np

from .model.network import Model
from .model.pooled import PooledNetwork, prefixes
from .rounding import allocate, strata_of


def draw(model, n: int, rng: np.random.Generator, keep=None) -> np.ndarray:
    """An (n, columns) matrix of codes from either model (None: no modelled column, no codes).

    `keep`: called after each column is drawn as ``keep(column, out, drawn, table, config, rng)`` (the
    column's conditional table, one row per configuration of its parents, and each row's configuration):
    rules kept while drawing (``rules.Keeper``)."""
    if model is None:  # every column masked or generated
        return np.zeros((n, 0), np.int64)
    if isinstance(model, Model):
        return sample(model, n, rng, keep)
    if isinstance(model, PooledNetwork):
        return sample_pooled(model, n, rng, keep)
    return model.sample(n, rng, keep=keep) if keep is not None else model.sample(n, rng)


def sample(model: Model, n: int, rng: np.random.Generator, keep=None) -> np.ndarray:
    """Return an (n, columns) matrix of codes drawn from the model (controlled rounding per parent config)."""
    d = len(model.sizes)
    out = np.zeros((n, d), dtype=np.int64, order="F")  # column-major: each step reads whole columns
    drawn: list[int] = []
    for c, ps in model.parents.items():
        cond = model.conditional(c)  # (size_c, configs)
        if ps:
            config = np.ravel_multi_index(tuple(out[:, p] for p in ps), tuple(model.sizes[p] for p in ps))
        else:
            config = np.zeros(n, dtype=np.int64)
        out[:, c] = allocate(cond.T, config, rng, strata_of(out, model.sizes, drawn, ps, rng))
        if keep is not None:
            keep(c, out, drawn, cond.T, config, rng)
        drawn.append(c)
    return out


def sample_pooled(model: PooledNetwork, n: int, rng: np.random.Generator, keep=None) -> np.ndarray:
    """An (n, columns) matrix of codes drawn in order, each row's value from its parents' pool
    (the pool its parent configuration falls in, as the data's rows were pooled)."""
    out = np.zeros((n, len(model.sizes)), dtype=np.int64, order="F")  # column-major: each step reads whole columns
    drawn: list[int] = []
    for x, parents in model.order:
        levels = model.pools[x]
        ids = np.zeros(n, dtype=np.int64)
        left = np.ones(n, dtype=bool)
        offset = 0
        for (flags, _), (cfg, _) in zip(levels, prefixes(model.coarse, parents, out)):
            take = left & flags[cfg]
            ids[take] = offset + cfg[take]
            left &= ~take
            offset += len(flags)
        table = np.concatenate([t for _, t in levels])
        out[:, x] = allocate(table, ids, rng, strata_of(out, model.sizes, drawn, [p for p, _ in parents], rng))
        if keep is not None:
            keep(x, out, drawn, table, ids, rng)
        drawn.append(x)
    return out
