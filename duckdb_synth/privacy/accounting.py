"""Privacy accounting in zero-concentrated DP, converted to (epsilon, delta) at the edges.

A Gaussian count with noise sigma (sensitivity 1) costs rho = 1 / (2 sigma^2); an
exponential-mechanism choice with parameter eps0 costs eps0^2 / 8; costs add.
Thresholded releases (category discovery) add a delta of their own, the chance
that a value held by a single person passes the threshold. The conversions are
those of Canonne, Kamath and Steinke (2020), Proposition 12 / Corollary 13, the
tightest in common use.

With a privacy unit (one person may hold up to k rows, ``unit_rows``), the stages
work as for one row a person with a budget of rho / k^2: by group privacy for zCDP
(Bun and Steinke 2016, Prop. 27) a step that is rho'-zCDP for one row is
k^2 rho'-zCDP for a person's k rows, which is to say each count's noise is k times
the one-row noise (sensitivity k). The record (``Spend``) states every step in the
person's terms, k^2 rho'. Thresholds are set for k rows (``noise.threshold``).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from ..errors import SynthError

_TOL = 1e-12
_STEPS = 80  # bisection halvings: 2^-80 of the bracket is below double precision for every bracket used here


def cdp_delta(rho: float, eps: float) -> float:
    """The smallest delta such that rho-zCDP implies (eps, delta)-DP."""
    if rho <= 0:
        return 0.0
    if eps < 0:
        return 1.0
    # delta = min over alpha > 1 of exp((alpha-1)(alpha rho - eps) + alpha log(1-1/alpha)) / (alpha-1);
    # any alpha gives a valid bound, so an imperfect search only costs tightness.
    lo, hi = 1.01, (eps + 1) / (2 * rho) + 2
    for _ in range(_STEPS):
        alpha = (lo + hi) / 2
        derivative = (2 * alpha - 1) * rho - eps + math.log1p(-1.0 / alpha)
        if derivative < 0:
            lo = alpha
        else:
            hi = alpha
    alpha = (lo + hi) / 2
    log_delta = (alpha - 1) * (alpha * rho - eps) + alpha * math.log1p(-1 / alpha) - math.log(alpha - 1)
    return 1.0 if log_delta >= 0 else math.exp(log_delta)  # exp would overflow at large budgets (eps 1e6)


def _bisect(flips, lo: float, hi: float) -> tuple[float, float]:
    """Narrow [lo, hi] around the point where the monotone predicate `flips` turns from False to True."""
    for _ in range(_STEPS):
        mid = (lo + hi) / 2
        if flips(mid):
            hi = mid
        else:
            lo = mid
    return lo, hi


@functools.lru_cache(maxsize=4096)
def cdp_eps(rho: float, delta: float) -> float:
    """The smallest eps such that rho-zCDP implies (eps, delta)-DP."""
    if rho <= 0:
        return 0.0
    hi = rho + 2 * math.sqrt(rho * math.log(1 / delta)) + 1e-9  # the classic bound is valid
    return _bisect(lambda eps: cdp_delta(rho, eps) <= delta, 0.0, hi)[1]


@functools.lru_cache(maxsize=4096)
def cdp_rho(eps: float, delta: float) -> float:
    """The largest rho such that rho-zCDP implies (eps, delta)-DP."""
    return _bisect(lambda rho: cdp_delta(rho, eps) > delta, 0.0, eps + 1.0)[0]


def sigma_for(rho: float, sensitivity: float = 1.0) -> float:
    """Gaussian noise scale that costs `rho` for a query of L2 sensitivity `sensitivity`."""
    return sensitivity / math.sqrt(2 * rho)


def exp_mech_eps(rho: float) -> float:
    """The exponential-mechanism parameter that costs `rho` (rho = eps^2 / 8)."""
    return math.sqrt(8 * rho)


@dataclass(frozen=True)
class Step:
    """One charged look at the data."""

    name: str
    rho: float
    delta: float = 0.0
    detail: str = ""


class BudgetExceeded(SynthError):
    """Raised (a bug, never user input) when a step would overspend the budget."""


@dataclass
class Accountant:
    """Keeps the privacy budget of one run and the record of every step.

    ``rho is None`` means no formal DP (balanced mode): steps are recorded with
    rho 0 and described as exact.
    """

    epsilon: float | None
    delta: float
    rho: float | None = None
    delta_threshold: float = 0.0
    steps: list[Step] = field(default_factory=list)
    unit_rows: int = 1  # the most rows one person (privacy unit) holds, once bounded

    @classmethod
    def for_budget(cls, epsilon: float | None, delta: float, unit_rows: int = 1) -> Accountant:
        """Half of delta goes to the zCDP conversion, half to thresholded releases. ``rho`` (what the
        stages spend, in one-row terms) is the person's budget over unit_rows^2."""
        if epsilon is None:
            return cls(epsilon=None, delta=0.0, unit_rows=unit_rows)
        return cls(epsilon=epsilon, delta=delta, rho=cdp_rho(epsilon, delta / 2) / unit_rows**2,
                   delta_threshold=delta / 2, unit_rows=unit_rows)

    @property
    def group(self) -> int:
        """What a one-row rho is worth for a person: unit_rows^2 (group privacy)."""
        return self.unit_rows**2

    @property
    def private(self) -> bool:
        return self.rho is not None

    _sums: tuple = field(default=(None, 0, 0, 0), init=False, repr=False, compare=False)

    def _totals(self) -> tuple[float, float]:
        """(rho, delta) over the steps, added one by one in order as ``sum`` adds them (on Python 3.11;
        3.12's ``sum`` compensates, within an ulp of this): kept with the count of steps summed and
        extended by those recorded since (the record is only appended to), as the adaptive rounds ask
        what is left thousands of times (a 1,000-column table: 12 million additions)."""
        steps, count, rho, delta = self._sums
        if steps is not self.steps or count > len(steps):  # a record replaced: sum it afresh
            steps, count, rho, delta = self.steps, 0, 0, 0
        for s in steps[count:]:
            rho += s.rho
            delta += s.delta
        self._sums = (steps, len(steps), rho, delta)
        return rho, delta

    @property
    def rho_spent(self) -> float:
        return self._totals()[0]

    @property
    def delta_threshold_spent(self) -> float:
        return self._totals()[1]

    @property
    def rho_left(self) -> float:
        return max(self.rho - self.rho_spent, 0.0) if self.rho is not None else math.inf

    def charge(self, name: str, rho: float, delta: float = 0.0, detail: str = "") -> None:
        """Record a step; refuse any step that would take the total past the budget."""
        if not (math.isfinite(rho) and math.isfinite(delta)) or rho < 0 or delta < 0:
            raise ValueError(f"step {name!r} has an invalid cost: rho={rho!r}, delta={delta!r}")
        if self.rho is not None:
            if self.rho_spent + rho > self.rho * (1 + 1e-9) + _TOL:
                raise BudgetExceeded(f"step {name!r} would spend rho={rho:.3g} with only {self.rho_left:.3g} left")
            if self.delta_threshold_spent + delta > self.delta_threshold * (1 + 1e-9) + _TOL:
                raise BudgetExceeded(f"step {name!r} would exceed the threshold delta")
        else:
            rho, delta = 0.0, 0.0
        self.steps.append(Step(name, rho, delta, detail))

    def epsilon_spent(self) -> float:
        """The (epsilon, delta)-DP guarantee of the steps so far, at the run's delta."""
        if self.rho is None:
            return math.inf
        return cdp_eps(self.rho_spent * self.group, self.delta / 2) if self.rho_spent > 0 else 0.0
