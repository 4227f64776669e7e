"""Values outside a declared domain: how many, as the record states them.

A declared domain (``engine/declared.py``) is public, but the data may hold values outside a
user's one (never outside a CHECK constraint's alone: DuckDB enforces those). Such values are
clamped: a number, date or time to the nearest end of the range (the domain's end cells take
them), NaN and infinities of a FLOAT or DOUBLE likewise (NaN to NULL); a value not in a declared
list to NULL in a nullable column, and in a NOT NULL column its row is dropped, as rows outside
a KeySet are in Tumult Analytics.

The record says how many, per column (step ``clamped <column>``): exactly in balanced mode; in DP
modes a count with discrete Gaussian noise, which one row changes by at most 1, charged
``CLAMP_SHARE`` of the column's share of the budget (taken from what the column's domain and
1-way marginal would otherwise get). docs/privacy.md, step 3f.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.data import ColumnData
from ..engine.declared import Outside
from ..engine.schema import Column, holds_infinity
from .accounting import Accountant, sigma_for
from .budget import column_share
from .noise import discrete_gaussian

CLAMP_SHARE = 0.02  # of a column's share: the noisy count of its values outside the declared domain


@dataclass(frozen=True)
class Clamped:
    """The released count of a column's values outside its declared domain, and its noise variance."""

    column: str
    count: float
    variance: float
    dropped: bool  # the rows holding them were dropped (a NOT NULL column with a declared list)


def counted(col: Column) -> bool:
    """Whether the column's values outside its declared domain are counted: a user's domain (a CHECK
    constraint alone needs no count: the data cannot break it)."""
    return col.declared is not None and not col.declared.enforced


def clamp_rho(col: Column, share: float | None) -> float:
    """What the count of `col`'s clamped values costs, out of the column's share (0: not counted, or exact)."""
    return CLAMP_SHARE * share if share is not None and counted(col) else 0.0


def outside(col: Column, data: ColumnData) -> int:
    """The exact number of non-NULL values outside the column's declared domain."""
    dec = col.declared
    if dec.values:
        values, counts = data.value_counts()
        listed = set(dec.values)
        return int(sum(c for v, c in zip(values, counts) if v not in listed))
    n = float(data.histogram(Outside(dec.bounds))[1])
    if holds_infinity(col):  # (NaN and +-inf of a FLOAT or DOUBLE, a date's or timestamp's +-infinity)
        n += float(data.special_counts().sum())
    return int(n)


def clamped(col: Column, data: ColumnData, acct: Accountant, n_hat: float, d: int,
            rng: np.random.Generator) -> Clamped | None:
    """Count (with noise in DP modes) and charge the column's values outside its declared domain.

    None when the column has no user-declared domain. `n_hat` and `d` fix the column's share, as
    for its domain (``privacy/budget.py:column_share``).
    """
    if not counted(col):
        return None
    dropped = bool(col.declared.values) and not col.nullable
    if col.declared.values:
        what = "not in the declared list: " + ("their rows dropped" if dropped else "set to NULL")
    else:
        what = "outside the declared range: clamped to it"
    exact = outside(col, data)
    if not acct.private:
        acct.charge(f"clamped {col.name}", 0.0, detail=f"exact: {exact} values {what}")
        return Clamped(col.name, float(exact), 0.0, dropped)
    rho = clamp_rho(col, column_share(acct, n_hat, d))
    sigma = sigma_for(rho)
    noisy = float(exact + discrete_gaussian(sigma, 1, rng)[0])
    acct.charge(f"clamped {col.name}", rho,
                detail=f"noisy count: about {max(noisy, 0.0):.0f} values {what} (sigma={sigma:.1f})")
    return Clamped(col.name, noisy, sigma**2, dropped)


def kept_rows(n_hat: float, count_var: float, counts: list[Clamped | None]) -> tuple[float, float]:
    """The row count without the rows dropped (post-processing of released counts; the drops of two
    columns may be of one row, so with several such columns this undercounts a little)."""
    drops = [c for c in counts if c is not None and c.dropped]
    if not drops:
        return n_hat, count_var
    return max(n_hat - sum(max(c.count, 0.0) for c in drops), 1.0), count_var + sum(c.variance for c in drops)
