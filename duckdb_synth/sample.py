"""Draw rows from the model: ancestral sampling, vectorised per column."""
from __future__ import annotations

import numpy as np

from .estimate import Model


def sample(model: Model, n: int, rng: np.random.Generator) -> np.ndarray:
    """Return an (n, columns) matrix of codes drawn from the model."""
    d = len(model.sizes)
    out = np.zeros((n, d), dtype=np.int64)
    for c, ps in model.parents.items():
        cond = model.conditional(c)  # (size_c, configs)
        if ps:
            config = np.ravel_multi_index(tuple(out[:, p] for p in ps), tuple(model.sizes[p] for p in ps))
        else:
            config = np.zeros(n, dtype=np.int64)
        out[:, c] = _draw(cond, config, rng)
    return out


def _draw(cond: np.ndarray, config: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row from the column of `cond` its config selects (inverse CDF)."""
    cdf = np.cumsum(cond, axis=0)
    cdf /= cdf[-1:, :]
    u = rng.random(len(config))
    out = np.empty(len(config), dtype=np.int64)
    # Group rows by config: at most a few thousand configs, each a searchsorted.
    order = np.argsort(config, kind="stable")
    bounds = np.flatnonzero(np.diff(config[order])) + 1
    for group in np.split(order, bounds):
        if len(group) == 0:
            continue
        k = config[group[0]]
        out[group] = np.minimum(np.searchsorted(cdf[:, k], u[group], side="right"), cdf.shape[0] - 1)
    return out
