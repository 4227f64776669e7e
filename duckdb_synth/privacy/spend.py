"""What a run spent of its privacy budget, step by step, for people and for SQL."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .accounting import Accountant, Step, cdp_eps

#: What balanced mode protects (docs/privacy.md §1), as every surface states it.
BALANCED_PROMISE = ("no formal differential privacy; the model was fitted on exact statistics; a value held by "
                    "fewer than 5 rows is never emitted (text always; a number, date or time unless every value "
                    "around it is as rare, as in unique ids, where it is a uniform draw over at least 5 rows' "
                    "range), and the 4 most extreme numbers on each side are clipped")


SEEDED_WARNING = ("seeded run: its noise is drawn from the seed given, so anyone who knows or guesses the seed can "
                  "remove it and the guarantee is void; for tests only, never for a release")


@dataclass(frozen=True)
class Spend:
    """The privacy record of one run.

    ``epsilon``/``delta`` are the guarantee asked for; ``epsilon_spent`` is what the
    charged steps add up to (never more than ``epsilon``). In balanced mode there is
    no formal guarantee: epsilon is None and the steps are listed as exact.
    """

    mode: str
    epsilon: float | None
    delta: float
    rho_budget: float | None
    rho_spent: float
    epsilon_spent: float | None
    delta_threshold_spent: float
    steps: tuple[Step, ...]
    unit: str | None = None  # the privacy unit's column (None: a row is a person)
    unit_rows: int = 1  # the most rows kept per unit
    seeded: bool = False  # the noise came from a seed the user gave

    @classmethod
    def from_accountant(cls, mode: str, acct: Accountant, unit: str | None = None, seeded: bool = False) -> Spend:
        """The accountant's steps in a person's terms: a one-row rho times unit_rows^2 (accounting.py)."""
        private, g = acct.private, acct.group
        return cls(
            mode=mode,
            epsilon=acct.epsilon,
            delta=acct.delta,
            rho_budget=acct.rho * g if private else None,
            rho_spent=acct.rho_spent * g if private else 0.0,
            epsilon_spent=acct.epsilon_spent() if private else None,
            delta_threshold_spent=acct.delta_threshold_spent,
            steps=tuple(replace(s, rho=s.rho * g) for s in acct.steps),
            unit=unit,
            unit_rows=acct.unit_rows,
            seeded=seeded and private,
        )

    @property
    def unit_text(self) -> str:
        """Who the guarantee protects, in words."""
        if self.unit is None:
            return "one row"
        return f"one '{self.unit}' (at most {self.unit_rows:,} of its rows kept)"

    @property
    def private(self) -> bool:
        return self.epsilon is not None

    def step_epsilon(self, step: Step) -> float | None:
        """The epsilon the step alone would be worth at the run's delta (steps compose in rho, not in epsilon)."""
        if not self.private or step.rho <= 0:
            return None if not self.private else 0.0
        return cdp_eps(step.rho, self.delta / 2)

    def rows(self) -> list[dict]:
        """One dict per step, for tables."""
        return [
            {"step": s.name, "rho": s.rho if self.private else None, "epsilon": self.step_epsilon(s),
             "delta": s.delta if self.private else None, "detail": s.detail}
            for s in self.steps
        ]

    def summary(self, run_id: int | None = None, where: str | None = None) -> str:
        """One line: the guarantee and what was spent (``format`` has every step; `where` says where to see it)."""
        where = where or (f"SELECT * FROM synth_runs() WHERE run_id = {run_id}" if run_id is not None
                          else "--verbose, or synth_runs() on the connection")
        if not self.private:
            return f"mode balanced: no formal differential privacy ({len(self.steps)} exact steps; {where})"
        unit = "" if self.unit is None else f" for {self.unit_text}"
        seeded = "; SEEDED: no guarantee against whoever knows the seed" if self.seeded else ""
        return (f"mode {self.mode}: ({self.epsilon:g}, {self.delta:g})-differential privacy{unit}; spent "
                f"epsilon {self.epsilon_spent:.4f} (rho {self.rho_spent:.4g}) over {len(self.steps)} steps{seeded}; "
                f"every step: {where}")

    def format(self) -> str:
        """A plain-text table of the steps and the total."""
        if not self.private:
            head = f"mode balanced: {BALANCED_PROMISE}."
            body = [f"  {s.name:<28} {s.detail}" for s in self.steps]
            return "\n".join([head, *body])
        lines = [f"mode {self.mode}: ({self.epsilon:g}, {self.delta:g})-differential privacy"
                 f"{'' if self.unit is None else ' for ' + self.unit_text}, accounted in zCDP (rho budget {self.rho_budget:.6g})",
                 f"  {'step':<28} {'rho':>11} {'eps alone':>10} {'delta':>9}  detail"]
        for r in self.rows():
            lines.append(f"  {r['step']:<28} {r['rho']:>11.3e} {r['epsilon']:>10.4f} {r['delta']:>9.1e}  {r['detail']}")
        lines.append(f"  {'total':<28} {self.rho_spent:>11.3e} {self.epsilon_spent:>10.4f} "
                     f"{self.delta_threshold_spent + self.delta / 2:>9.1e}  "
                     f"(total epsilon {self.epsilon_spent:.4f} <= {self.epsilon:g})")
        if self.seeded:
            lines.append(f"  {SEEDED_WARNING}")
        return "\n".join(lines)


def fmt_float(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"
