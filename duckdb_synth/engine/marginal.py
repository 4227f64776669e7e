"""Exact marginal counts over binned data, and the measurement a model is fitted to.

The binned data is one integer matrix (rows x columns, column-major) made in one
pass over the source; a marginal over 1 to 3 columns is one ``np.bincount``.
Noise is added in the privacy layer (``privacy/measure.py``), never here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Clique = tuple[int, ...]


Remap = tuple[np.ndarray, int]  # code -> coarser code, and the coarser domain's size


def marginal(codes: np.ndarray, sizes: list[int] | np.ndarray, clique: Clique,
             remaps: Sequence[Remap | None] | None = None) -> np.ndarray:
    """Exact counts of the columns in `clique` (in that order), shaped by their domain sizes; with
    `remaps`, a column with a remap is counted in its coarser codes (shaped by the coarser size)."""
    if not clique:
        return np.array(float(len(codes)))
    if (remaps is None or all(r is None for r in remaps)) and codes.dtype.kind == "u":
        return narrow_counts(codes, sizes, clique)  # the binned table's own codes: the same counts, sooner
    remaps = remaps if remaps is not None else [None] * len(clique)
    return cell_counts([(codes[:, c], int(sizes[c])) if r is None else (r[0][codes[:, c]], int(r[1]))
                        for c, r in zip(clique, remaps)])


def cell_counts(columns: Sequence[tuple[np.ndarray, int]]) -> np.ndarray:
    """Counts of the cells of one or more columns of codes, each given as (codes, domain size),
    shaped by the sizes."""
    shape = tuple(size for _, size in columns)
    return np.bincount(cell_index(columns), minlength=int(np.prod(shape))).astype(np.float64).reshape(shape)


def narrow_codes(codes: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """`codes` (n, d) in the smallest unsigned type that holds every column's codes, column-major."""
    return np.asfortranarray(codes, dtype=_uint_for(max((int(s) for s in sizes), default=1)))


def narrow_counts(codes: np.ndarray, sizes: Sequence[int], clique: Clique) -> np.ndarray:
    """``marginal(codes, sizes, clique)`` for codes from `narrow_codes`: the cell index is built in the
    smallest unsigned type that holds the clique's cells (counting a sample's marginals for hundreds of
    candidates a round, half the time of int64; the same counts)."""
    shape = tuple(int(sizes[c]) for c in clique)
    cells = math.prod(shape)
    dtype = _uint_for(cells)
    flat = codes[:, clique[0]].astype(dtype)
    for c, size in zip(clique[1:], shape[1:]):
        flat *= dtype(size)
        flat += codes[:, c]
    return np.bincount(flat, minlength=cells).astype(np.float64).reshape(shape)


def _uint_for(values: int) -> type:
    """The smallest unsigned integer type holding 0 .. values - 1."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if values <= np.iinfo(dtype).max + 1:
            return dtype
    return np.uint64


def runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal values of the sorted array `keys` starts, and its length (none where it is
    empty): ``np.unique``'s counts without its sort."""
    if not len(keys):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return starts, np.diff(np.append(starts, len(keys)))


def cell_index(columns: Sequence[tuple[np.ndarray, int]], dtype: type = np.int64) -> np.ndarray:
    """Each row's row-major cell over the columns, given as (codes, domain size): int64 (or `dtype`, which
    the caller has checked holds every cell), built column by column in place (twice as fast as
    np.ravel_multi_index, which also checks bounds: the codes come from the domains' own encoders, so
    they are in range)."""
    flat = np.array(columns[0][0], dtype=dtype)
    for col, size in columns[1:]:
        flat *= dtype(size)
        flat += col
    return flat


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
