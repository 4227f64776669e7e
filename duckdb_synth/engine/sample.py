"""Draw rows from a model: ancestral sampling, vectorised per column."""
from __future__ import annotations

import numpy as np

from .model.network import Model
from .rounding import allocate, strata_of


def draw(model, n: int, rng: np.random.Generator) -> np.ndarray:
    """An (n, columns) matrix of codes from either model (None: no modelled column, no codes)."""
    if model is None:  # every column masked or generated
        return np.zeros((n, 0), np.int64)
    if isinstance(model, Model):
        return sample(model, n, rng)
    return model.sample(n, rng)


def sample(model: Model, n: int, rng: np.random.Generator) -> np.ndarray:
    """Return an (n, columns) matrix of codes drawn from the model (controlled rounding per parent config)."""
    d = len(model.sizes)
    out = np.zeros((n, d), dtype=np.int64)
    drawn: list[int] = []
    for c, ps in model.parents.items():
        cond = model.conditional(c)  # (size_c, configs)
        if ps:
            config = np.ravel_multi_index(tuple(out[:, p] for p in ps), tuple(model.sizes[p] for p in ps))
        else:
            config = np.zeros(n, dtype=np.int64)
        out[:, c] = allocate(cond.T, config, rng, strata_of(out, model.sizes, drawn, ps, rng))
        drawn.append(c)
    return out
