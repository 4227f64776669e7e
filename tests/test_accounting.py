"""Tests for duckdb_synth.privacy.accounting: zCDP conversions against references, and the budget ledger."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from duckdb_synth.privacy.accounting import (Accountant, BudgetExceeded, Step, cdp_delta, cdp_eps, cdp_rho, exp_mech_eps,
                                     sigma_for)
from duckdb_synth.errors import SynthError

EPSILONS = (0.1, 1.0, 3.0, 10.0)
DELTAS = (1e-9, 1e-6, 1e-3)
RHOS = (1e-4, 0.01, 0.1, 0.5, 2.0)


def log_delta_at(alpha: float, rho: float, eps: float) -> float:
    """CKS20 Corollary 13 at one alpha (every alpha > 1 gives a valid delta)."""
    return (alpha - 1) * (alpha * rho - eps) + alpha * math.log1p(-1 / alpha) - math.log(alpha - 1)


def reference_delta(rho: float, eps: float) -> float:
    """Minimise Corollary 13 over alpha with scipy, on a log scale for alpha - 1."""
    res = optimize.minimize_scalar(lambda t: log_delta_at(1 + math.exp(t), rho, eps), bounds=(-12, 12),
                                   method="bounded", options={"xatol": 1e-12})
    return min(math.exp(res.fun), 1.0)


def gaussian_delta(rho: float, eps: float) -> float:
    """The exact privacy profile of the Gaussian mechanism with rho = 1/(2 sigma^2) (Balle & Wang 2018).

    The Gaussian mechanism is rho-zCDP, so any valid zCDP conversion must give at least this delta.
    """
    mu = math.sqrt(2 * rho)
    return float(stats.norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * stats.norm.cdf(-eps / mu - mu / 2))


# ---------------------------------------------------------------- conversions


@pytest.mark.parametrize("eps", EPSILONS)
@pytest.mark.parametrize("delta", DELTAS)
def test_rho_eps_delta_are_consistent_inverses(eps: float, delta: float) -> None:
    rho = cdp_rho(eps, delta)
    assert rho > 0
    assert cdp_eps(rho, delta) == pytest.approx(eps, rel=1e-9)
    assert cdp_delta(rho, eps) == pytest.approx(delta, rel=1e-6)
    assert cdp_delta(rho, eps) <= delta * (1 + 1e-9)  # the budget is never rounded up
    # A little more rho would break (eps, delta): cdp_rho is the largest.
    assert cdp_delta(rho * (1 + 1e-6), eps) > delta


@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("delta", DELTAS)
def test_eps_below_classic_bound(rho: float, delta: float) -> None:
    eps = cdp_eps(rho, delta)
    assert eps <= rho + 2 * math.sqrt(rho * math.log(1 / delta))
    assert eps > rho  # rho-zCDP never gives eps <= rho with delta < 1/2
    assert cdp_delta(rho, eps) <= delta * (1 + 1e-9)
    assert cdp_rho(eps, delta) == pytest.approx(rho, rel=1e-7)


@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("eps", [0.05, 0.5, 1.0, 3.0, 10.0])
def test_delta_matches_scipy_minimisation(rho: float, eps: float) -> None:
    mine, ref = cdp_delta(rho, eps), reference_delta(rho, eps)
    if ref < 1e-300:
        assert mine < 1e-290
        return
    assert mine == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("eps", [0.05, 0.5, 1.0, 3.0, 10.0])
def test_delta_is_a_valid_upper_bound_for_the_gaussian_mechanism(rho: float, eps: float) -> None:
    assert cdp_delta(rho, eps) >= gaussian_delta(rho, eps) - 1e-15


def test_delta_is_decreasing_in_eps_and_increasing_in_rho() -> None:
    eps_grid = np.linspace(0.01, 10, 60)
    for rho in RHOS:
        ds = [cdp_delta(rho, e) for e in eps_grid]
        assert all(a >= b for a, b in zip(ds, ds[1:]))
    rho_grid = np.geomspace(1e-5, 5, 60)
    for eps in EPSILONS:
        ds = [cdp_delta(r, eps) for r in rho_grid]
        assert all(a <= b for a, b in zip(ds, ds[1:]))


def test_conversion_edge_cases() -> None:
    assert cdp_delta(0.0, 1.0) == 0.0
    assert cdp_delta(0.1, -1.0) == 1.0
    assert cdp_eps(0.0, 1e-6) == 0.0
    assert 0 <= cdp_delta(50.0, 0.01) <= 1.0


@pytest.mark.parametrize("rho", [1e-6, 0.01, 0.5, 2.0, 40.0])
@pytest.mark.parametrize("sensitivity", [1.0, 2.0, 0.5])
def test_sigma_for(rho: float, sensitivity: float) -> None:
    sigma = sigma_for(rho, sensitivity)
    assert sensitivity**2 / (2 * sigma**2) == pytest.approx(rho, rel=1e-12)
    assert sigma_for(rho) == pytest.approx(1 / math.sqrt(2 * rho), rel=1e-12)


@pytest.mark.parametrize("rho", [1e-6, 0.01, 0.5, 2.0])
def test_exp_mech_eps(rho: float) -> None:
    eps0 = exp_mech_eps(rho)
    assert eps0**2 / 8 == pytest.approx(rho, rel=1e-12)


# ---------------------------------------------------------------- the accountant


@pytest.mark.parametrize("eps", EPSILONS)
@pytest.mark.parametrize("delta", DELTAS)
def test_for_budget_splits_delta(eps: float, delta: float) -> None:
    acct = Accountant.for_budget(eps, delta)
    assert acct.private
    assert acct.delta_threshold == pytest.approx(delta / 2)
    assert acct.rho == pytest.approx(cdp_rho(eps, delta / 2))
    assert acct.rho_spent == 0 and acct.epsilon_spent() == 0.0
    acct.charge("all", acct.rho)
    assert acct.epsilon_spent() == pytest.approx(eps, rel=1e-8)
    assert acct.rho_left == 0.0


@pytest.mark.parametrize("seed", range(60))
def test_charging_never_exceeds_budget(seed: int) -> None:
    """Random step sizes, charged until BudgetExceeded; the ledger never goes past the budget."""
    rng = np.random.default_rng(seed)
    eps = float(rng.choice([0.1, 0.5, 1.0, 3.0, 10.0]))
    delta = float(rng.choice([1e-9, 1e-6, 1e-3]))
    acct = Accountant.for_budget(eps, delta)
    scale = float(rng.choice([0.02, 0.1, 0.4]))
    for i in range(10_000):
        rho = float(acct.rho * rng.exponential(scale)) if rng.random() < 0.9 else 0.0
        d_step = float(acct.delta_threshold * rng.random() * 0.4) if rng.random() < 0.3 else 0.0
        before = list(acct.steps)
        try:
            acct.charge(f"step {i}", rho, delta=d_step)
        except BudgetExceeded:
            assert acct.steps == before  # a refused step is not recorded
            assert (acct.rho_spent + rho > acct.rho) or (acct.delta_threshold_spent + d_step > acct.delta_threshold)
            break
        assert acct.rho_spent <= acct.rho * (1 + 1e-9) + 1e-12
        assert acct.delta_threshold_spent <= acct.delta_threshold * (1 + 1e-9) + 1e-12
    else:
        pytest.fail("the budget was never exhausted")
    assert acct.epsilon_spent() <= eps + 1e-9
    # Spending exactly what is left, as the pipeline's last step does, is allowed and stays within epsilon.
    acct.charge("the rest", acct.rho_left)
    assert acct.rho_spent <= acct.rho * (1 + 1e-12)
    assert acct.epsilon_spent() <= eps + 1e-9
    assert acct.epsilon_spent() == pytest.approx(eps, rel=1e-7)
    with pytest.raises(BudgetExceeded):
        acct.charge("after the end", acct.rho * 1e-6)


@pytest.mark.parametrize("eps", EPSILONS)
def test_overspend_raises(eps: float) -> None:
    acct = Accountant.for_budget(eps, 1e-6)
    acct.charge("half", acct.rho / 2)
    with pytest.raises(BudgetExceeded, match="'too much'"):
        acct.charge("too much", acct.rho * 0.51)
    acct.charge("the rest", acct.rho_left)
    with pytest.raises(BudgetExceeded):
        acct.charge("one more", acct.rho * 1e-6)
    with pytest.raises(BudgetExceeded, match="threshold delta"):
        acct.charge("delta", 0.0, delta=acct.delta_threshold * 1.01)
    assert [s.name for s in acct.steps] == ["half", "the rest"]
    assert issubclass(BudgetExceeded, SynthError)


def test_negative_costs_raise() -> None:
    acct = Accountant.for_budget(1.0, 1e-6)
    with pytest.raises(ValueError, match="'x'"):
        acct.charge("x", -1e-3)
    with pytest.raises(ValueError):
        acct.charge("x", 0.0, delta=-1e-9)
    assert acct.steps == []


@pytest.mark.parametrize("field", ["rho", "delta"])
def test_nan_cost_raises(field: str) -> None:
    """Regression: a NaN cost used to be recorded, after which every comparison passed and nothing was refused."""
    acct = Accountant.for_budget(1.0, 1e-6)
    kwargs = {"rho": math.nan, "delta": 0.0} if field == "rho" else {"rho": 0.0, "delta": math.nan}
    with pytest.raises((ValueError, BudgetExceeded)):
        acct.charge("nan step", **kwargs)
    # Had it been recorded, nothing would ever be refused again:
    with pytest.raises(BudgetExceeded):
        acct.charge("huge", 100.0 * acct.rho, delta=100.0 * acct.delta_threshold)


def test_balanced_accountant_records_steps_with_zero_cost() -> None:
    acct = Accountant.for_budget(None, 1e-6)
    assert not acct.private
    assert acct.rho is None and acct.delta == 0.0
    acct.charge("row count", 5.0, delta=0.5, detail="exact")
    acct.charge("model", 0.0)
    assert acct.steps == [Step("row count", 0.0, 0.0, "exact"), Step("model", 0.0, 0.0, "")]
    assert acct.rho_spent == 0.0 and acct.delta_threshold_spent == 0.0
    assert acct.rho_left == math.inf
    assert acct.epsilon_spent() == math.inf


def test_steps_record_costs_in_order() -> None:
    acct = Accountant.for_budget(1.0, 1e-6)
    acct.charge("a", acct.rho * 0.25, detail="first")
    acct.charge("b", acct.rho * 0.5, delta=acct.delta_threshold / 3)
    assert [s.name for s in acct.steps] == ["a", "b"]
    assert acct.rho_spent == pytest.approx(acct.rho * 0.75)
    assert acct.rho_left == pytest.approx(acct.rho * 0.25)
    assert acct.delta_threshold_spent == pytest.approx(acct.delta_threshold / 3)
    assert acct.epsilon_spent() == pytest.approx(cdp_eps(acct.rho * 0.75, 0.5e-6), rel=1e-12)
    assert acct.epsilon_spent() < 1.0


def test_totals_kept_between_charges_are_the_sums_of_the_record() -> None:
    """What is spent is kept as a running total (the rounds ask thousands of times): after every charge it
    is the record's sum added in order, to the bit; a record replaced (shorter, or a new list of the same
    length) is summed afresh."""
    acct = Accountant.for_budget(1.0, 1e-6)
    rng = np.random.default_rng(3)
    costs = (rng.random(500) * acct.rho / 1000).tolist()
    deltas = (rng.random(500) * acct.delta_threshold / 1000).tolist()
    for i, (r, dl) in enumerate(zip(costs, deltas)):
        acct.charge(str(i), r, delta=dl)
        total, dtotal = 0.0, 0.0
        for x, y in zip(costs[: i + 1], deltas[: i + 1]):
            total, dtotal = total + x, dtotal + y
        assert acct.rho_spent == total and acct.delta_threshold_spent == dtotal
    acct.steps = acct.steps[:10]
    assert acct.rho_spent == sum(costs[:10])
    acct.steps = [Step("x", costs[0])] * 10  # a new record of the same length
    assert acct.rho_spent == sum([costs[0]] * 10)
    assert acct.rho_left == acct.rho - sum([costs[0]] * 10)


def test_conversions_hold_at_huge_budgets():
    """exp() of the log-delta overflowed past eps ~ 1e5 (a run at epsilon 1e6 crashed)."""
    assert cdp_delta(1e6, 1.0) == 1.0
    for eps in (1e6, 1e9):
        acct = Accountant.for_budget(eps, 1e-6)
        assert acct.rho > 0 and cdp_eps(acct.rho, 5e-7) <= eps * (1 + 1e-6)
