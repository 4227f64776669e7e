"""How a DP run splits its zCDP budget (rho) between the stages.

The row count takes ``SHARE_COUNT``; the domains and 1-way marginals take between
``SHARE_ONE_WAY_MIN`` and ``SHARE_ONE_WAY``, split over the modelled columns
(``column_share``; a numeric or temporal column that runs the frequent values step gets a floor
``VALUES_NEED`` times higher); the rest goes to the model's marginals (the adaptive rounds; or, with the
spanning-tree selection, ``SHARE_SELECT`` for choosing the tree and the rest for measuring its
pairs). docs/privacy.md gives the analysis of each step.
"""
from __future__ import annotations

import numpy as np

from .accounting import Accountant
from .noise import threshold

SHARE_COUNT = 0.01
SHARE_ONE_WAY = 0.60  # most of the budget for domain discovery + 1-way marginals, split over the modelled columns
# (small or wide tables: their many noisy 1-ways gain more than the adaptive rounds lose)
SHARE_ONE_WAY_MIN = 0.10  # ... and the least: what a column gets when its values are easy to find
DISCOVERY_FRACTION = 0.01  # aim: a value held by this share of the rows passes the discovery threshold
SHARE_SELECT = 0.10  # choosing the tree of pairs
# The rest measures the pairs of the tree.
DISCOVERY_SHARE_CATEGORICAL = 0.85  # of a VARCHAR column's share: finding its frequent values (their noisy
# counts are reused as their 1-way cells; the rest of the share measures the whole 1-way histogram again)
RANGE_SHARE_NUMERIC = 0.10  # of a numeric column's share: finding its range
DECIMALS_SHARE_NUMERIC = 0.05  # of a numeric column's share: finding how many decimals (or which time unit) it
# is written with
ONE_WAY_SHARE_NUMERIC = 0.30  # of a numeric column's share: the 1-way marginal of its bins
ZOOM_SHARE_NUMERIC = 1.0 - RANGE_SHARE_NUMERIC - DECIMALS_SHARE_NUMERIC - ONE_WAY_SHARE_NUMERIC  # 0.55: the
# zoom-in histogram that finds its cells, and its frequent values where the lattice is finer than the zoom reaches
VALUES_SHARE = 0.4  # of the zoom's share, where the zoom is needed: finding the frequent values
# Where a numeric or temporal column's range holds more lattice points than the zoom reaches, it first
# finds its frequent values, a threshold step like a text column's discovery, with VALUES_SHARE of its
# zoom's share, where a text column has DISCOVERY_SHARE_CATEGORICAL of its share: the floor of such a
# column's share is raised by this factor (``column_share``'s need), about 3.9. (Raised for every column
# whose zoom runs, or on the rows a text column needs as well, it took from the model on storms and
# diamonds more than it gave.)
VALUES_NEED = DISCOVERY_SHARE_CATEGORICAL / (VALUES_SHARE * ZOOM_SHARE_NUMERIC)


def column_share(acct: Accountant, n_hat: float, d: int, need: float = 1.0) -> float:
    """A modelled column's share of rho for its domain and 1-way marginal.

    What makes a value held by DISCOVERY_FRACTION of the (noisy) rows pass the discovery
    threshold, within [SHARE_ONE_WAY_MIN, SHARE_ONE_WAY] of rho / d, for every column: on large
    tables the values are found cheaply and the rest of the budget goes to the marginals; on small
    ones the domains get the most they can. `need` (``VALUES_NEED`` for a column that runs the frequent
    values step) multiplies the lower bound, not the upper (the domains never take more than
    SHARE_ONE_WAY of rho). Depends only on released figures (n_hat) and public ones.
    """
    hi = SHARE_ONE_WAY * acct.rho / d
    lo = min(need * SHARE_ONE_WAY_MIN * acct.rho / d, hi)
    bar = threshold(0.0, acct.delta_threshold / d, acct.unit_rows)  # the threshold without its noise term
    sigma = (DISCOVERY_FRACTION * n_hat - bar) / (threshold(1.0, acct.delta_threshold / d, acct.unit_rows) - bar)
    if sigma <= 0:
        return hi
    return float(np.clip(1.0 / (2 * sigma**2) / DISCOVERY_SHARE_CATEGORICAL, lo, hi))


def planned_pair_rho(acct: Accountant, d: int) -> float:
    """The rho a 2-way marginal would get if the rest of the budget went to d - 1 pairs (sizes numeric bins)."""
    return (1 - SHARE_COUNT - SHARE_ONE_WAY - SHARE_SELECT) * acct.rho / max(d - 1, 1)
