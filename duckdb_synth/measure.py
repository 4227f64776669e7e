"""Count marginals over the binned data and add calibrated noise.

The binned data is one integer matrix (rows x columns) made in one scan of the
source; a marginal over 1 to 3 columns is one ``np.bincount``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .noise import discrete_gaussian

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
    """Noisy counts of one marginal; ``variance`` per cell (an array of the same shape)."""

    clique: Clique
    values: np.ndarray
    variance: np.ndarray

    def __post_init__(self) -> None:
        if self.values.shape != self.variance.shape:
            raise ValueError(f"values {self.values.shape} and variance {self.variance.shape} differ in shape")
        if len(self.clique) != self.values.ndim:
            raise ValueError(f"clique {self.clique} does not match a {self.values.ndim}-d table")


def measure(codes: np.ndarray, sizes: list[int], clique: Clique, sigma: float, rng: np.random.Generator) -> Measurement:
    """Count the marginal and add discrete Gaussian noise of scale `sigma` (0: exact)."""
    exact = marginal(codes, sizes, clique)
    noisy = exact + discrete_gaussian(sigma, exact.shape, rng)
    return Measurement(clique, noisy, np.full(exact.shape, float(sigma) ** 2))
