"""The privacy unit's one release of its own: how many rows the units hold (docs/privacy.md §1.1).

The synthetic units' sizes are drawn from a noisy histogram of the real units' sizes once bounded
(1, 2-3, 4-7, ... rows below k, and k). Adding or removing a person moves one unit in one bucket: the
histogram has sensitivity 1 for a person, not k, so its noise is that of a one-row count at the
person's rho (k^2 times the one-row rho the accountant is charged, ``accounting.py``).
"""
from __future__ import annotations

import numpy as np

from ..engine.units import buckets, size_counts
from .accounting import Accountant, sigma_for
from .noise import discrete_gaussian

SHARE_UNITS = 0.01  # of rho: the histogram of unit sizes


def unit_sizes(sizes: np.ndarray, unit: str, k: int, acct: Accountant, rng: np.random.Generator) -> np.ndarray:
    """The weight of each size bucket of the units, from the rows each holds once bounded (`sizes`, the
    engine's exact answer), charged to `acct`."""
    counts = size_counts(sizes, k)
    what = f"{len(buckets(k))} buckets of rows per '{unit}' (1, 2-3, 4-7, ... below {k:,}, and {k:,})"
    if not acct.private:
        acct.charge("unit sizes", 0.0, detail=f"exact: {what}")
        return counts.astype(np.float64)
    rho = SHARE_UNITS * acct.rho
    sigma = sigma_for(rho) / acct.unit_rows  # sensitivity 1 for a person, charged as rho * k^2 for them
    noisy = counts + discrete_gaussian(sigma, len(counts), rng)
    acct.charge("unit sizes", rho, detail=f"noisy counts of units in {what}")
    return np.clip(noisy, 0, None).astype(np.float64)
