"""Exact marginal counts over binned data, and the measurement a model is fitted to.

The binned data is one integer matrix (rows x columns, column-major) made in one
pass over the source; a marginal over 1 to 3 columns is one ``np.bincount``.
Noise is added in the privacy layer (``privacy/measure.py``), never here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Clique = tuple[int, ...]


def marginal(codes: np.ndarray, sizes: list[int] | np.ndarray, clique: Clique) -> np.ndarray:
    """Exact counts of the columns in `clique`, shaped by their domain sizes."""
    shape = tuple(int(sizes[c]) for c in clique)
    if not clique:
        return np.array(float(len(codes)))
    # Row-major cell index, built column by column (twice as fast as np.ravel_multi_index, which
    # also checks bounds: the codes come from the domains' own encoders, so they are in range).
    flat = np.asarray(codes[:, clique[0]], dtype=np.int64)
    for c, size in zip(clique[1:], shape[1:]):
        flat = flat * size + codes[:, c]
    return np.bincount(flat, minlength=int(np.prod(shape))).astype(np.float64).reshape(shape)


@dataclass(frozen=True)
class Measurement:
    """Counts of one marginal (noisy or exact); ``variance`` per cell (an array of the same shape)."""

    clique: Clique
    values: np.ndarray
    variance: np.ndarray

    def __post_init__(self) -> None:
        if self.values.shape != self.variance.shape:
            raise ValueError(f"values {self.values.shape} and variance {self.variance.shape} differ in shape")
        if len(self.clique) != self.values.ndim:
            raise ValueError(f"clique {self.clique} does not match a {self.values.ndim}-d table")
