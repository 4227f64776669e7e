"""Sums in the workload: each group's total of a numeric column, released with noise, met by the copy.

A sum ``{'columns': ['dept'], 'sum': 'salary', 'clamp': [0, 200000]}`` releases, for every cell
of the group's DP domains (the same bins the model uses), the total of the column's values
clamped to [lo, hi]. One row is in one group and adds at most B = max(|lo|, |hi|) to its total,
so the totals have L2 sensitivity B; each value is rounded to a step of B / 2^20, the totals
are whole numbers of steps, and each gets discrete Gaussian noise of sigma = B / sqrt(2 rho) in
steps (zCDP rho, as a count's). The bounds are the user's (public) or the column's DP domain
range (released before): clamping spends nothing. The release is post-processed into the copy
(``engine/sums.py``: each group's values moved by the least change that meets its total).
docs/privacy.md, step 3g.

How many values the clamp changed is read from the data without noise: it is for the data owner
(``SumRelease.owner_figures``), never shown by the release.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..engine.data import Binned
from ..engine.domain import Domain, NumericDomain
from ..engine.sums import SumTarget, sum_step
from ..engine.workload import SumPlan
from .accounting import Accountant, sigma_for
from .budget import SHARE_ONE_WAY
from .noise import discrete_gaussian

SUMS_SHARE = 0.2  # of rho, the most all sums of a run take together (the model keeps the rest)


def sum_rho(acct: Accountant, d: int, count: int) -> float:
    """Each sum's rho: as much as a column's domain and 1-way marginal may take at most (the columns
    and the sums counted together), within SUMS_SHARE of the budget for all of them."""
    return min(SHARE_ONE_WAY / (d + count), SUMS_SHARE / count) * acct.rho


@dataclass(frozen=True)
class SumRelease:
    """One sum's released totals.

    Attributes:
        label: 'sum(salary) by dept'.
        group: the group's column names; labels: per group column, its cells' labels.
        value: the summed column; clamp: the bounds its values were clamped to.
        totals: per group cell (row-major over the group's domains), the noisy total (exact in balanced mode).
        sigma: the noise's standard deviation on each total (0 in balanced mode).
    """

    label: str
    group: tuple[str, ...]
    value: str
    clamp: tuple[float, float]
    totals: np.ndarray = field(repr=False)
    sigma: float
    labels: tuple[tuple[str, ...], ...] = field(default=(), repr=False)
    clamped_below: int = field(default=0, repr=False)  # exact: for the data owner, never released
    clamped_above: int = field(default=0, repr=False)

    def table(self) -> pa.Table:
        """The released totals: one row per group cell (its columns' labels), 'sum' and 'sigma'."""
        shape = tuple(len(lab) for lab in self.labels)
        cols: dict[str, pa.Array] = {}
        if shape:
            idx = np.unravel_index(np.arange(int(np.prod(shape))), shape)
            for name, lab, at in zip(self.group, self.labels, idx):
                cols[name] = pa.array([lab[j] for j in at], type=pa.string())
        cols["sum"] = pa.array(self.totals.ravel().astype(np.float64))
        cols["sigma"] = pa.array(np.full(self.totals.size, self.sigma))
        return pa.table(cols)

    def owner_figures(self) -> dict:
        """For the data owner only (read without noise): how many values the clamp moved."""
        return {"sum": self.label, "clamp": self.clamp, "clamped_below": self.clamped_below,
                "clamped_above": self.clamped_above}


def clamp_of(plan: SumPlan, dom: Domain) -> tuple[float, float]:
    """The user's bounds, or the column's domain range (public once the domain is released)."""
    if plan.clamp is not None:
        return plan.clamp
    assert isinstance(dom, NumericDomain)
    lo, hi = float(dom.edges[0]), float(dom.edges[-1])
    if dom.column.integer:
        hi -= 1  # cells are [lo, hi): an integer column's largest value is hi - 1
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def charge_sums(plans: Sequence[SumPlan], domains: Sequence[Domain], acct: Accountant) -> list[float]:
    """Charge every sum before the model takes the rest of the budget; each one's sigma in value units."""
    sigmas = []
    for plan in plans:
        lo, hi = clamp_of(plan, domains[plan.value])
        bound = max(abs(lo), abs(hi))
        if not acct.private:
            acct.charge(plan.label, 0.0, detail=f"exact totals of values clamped to [{lo:g}, {hi:g}]")
            sigmas.append(0.0)
            continue
        rho = sum_rho(acct, len(domains), len(plans))
        sigma = sigma_for(rho, bound)
        acct.charge(plan.label, rho, detail=f"noisy totals of values clamped to [{lo:g}, {hi:g}] "
                                            f"({'given' if plan.clamp else 'the domain range'}), sigma={sigma:.4g}")
        sigmas.append(sigma)
    return sigmas


def measure_sums(data: Binned, plans: Sequence[SumPlan], domains: Sequence[Domain], sigmas: Sequence[float],
                 rng: np.random.Generator, labels) -> list[SumRelease]:
    """The totals of every sum, with the noise charged by ``charge_sums`` (exact when sigma is 0);
    `labels(domain)` gives a domain's cell labels."""
    out = []
    for plan, sigma in zip(plans, sigmas):
        lo, hi = clamp_of(plan, domains[plan.value])
        step = sum_step(lo, hi)
        exact, below, above = data.sums(plan.group, plan.value, lo, hi, step)
        noisy = exact + discrete_gaussian(sigma / step, exact.shape, rng) if sigma > 0 else exact
        names = tuple(domains[g].column.name for g in plan.group)
        out.append(SumRelease(plan.label, names, domains[plan.value].column.name, (lo, hi), noisy * step, sigma,
                              tuple(tuple(labels(domains[g])) for g in plan.group), below, above))
    return out


def with_sums(workload, plans: Sequence[SumPlan]):
    """A user's workload with each sum's columns (group and summed column) as one more marginal, so that
    the model is chosen to hold the bins the totals are met within; None (the default workload, every 2-
    and 3-way marginal) stays None."""
    if workload is None or not plans:
        return workload
    have = {cl for cl, _ in workload}
    extra = [(cl, 1.0) for cl in dict.fromkeys(tuple(sorted((*p.group, p.value))) for p in plans) if cl not in have]
    return list(workload) + extra


def targets(plans: Sequence[SumPlan], releases: Sequence[SumRelease], n_hat: float,
            exact: bool = False) -> list[SumTarget]:
    """What the copy's rows meet: each released total per released row (`exact`: the model's bins hold
    exact counts, balanced mode, and values move within them)."""
    n = max(n_hat, 1.0)
    return [SumTarget(plan.group, plan.value, rel.clamp[0], rel.clamp[1], np.ravel(rel.totals) / n, rel.sigma / n,
                      keep_bins=exact) for plan, rel in zip(plans, releases)]

