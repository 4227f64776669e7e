"""Adaptive selection of marginals, AIM-style (McKenna, Mullins, Sheldon, Miklau, VLDB 2022).

Each round picks one marginal with the exponential mechanism, scored by how badly
the current model misses it (weighted L1 error, minus the error the noise alone
would cause), measures it with Gaussian noise, and refits the graphical model
(warm-started); a table of 33 columns or more picks several in some or all rounds
(d / ``COLUMNS_PER_PICK`` a round: ``picks_per_round``), each by its own draw and charge, before one refit. When
a round's measurements barely move the model, the noise is halved and the
selection sharpened (annealing), so the budget goes where it still helps. A cap on the junction tree's size keeps the model small.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..engine.data import Binned
from ..engine.marginal import Clique, Measurement
from ..engine.structure import model_marginals
from ..engine.workload import EveryMarginal, Workload, candidates, default_workload
from .accounting import Accountant
from .noise import discrete_gaussian

ALPHA = 0.9  # share of each round's budget spent on measuring (the rest on selecting)
SCORED_PER_ROUND = 1000  # wide tables: each round scores a random subset of this many candidates
ROUNDS_PER_COLUMN = 6  # planned picks (AIM's is 16; a round of one pick, or of d // COLUMNS_PER_PICK): the
# first noise scale assumes this many a column
# (binned diamonds at eps = 1 over 10 seeds: 0.0959 at 3, 0.0961 at 4, 0.091 at 5-6, 0.093 at 8, 0.099 at 12)
ANNEAL = 2.0  # sigma is divided (and eps multiplied) by this when a round hardly moved the model
MIN_ORDER = 2  # smallest candidate marginals (1-ways are measured before the rounds)
COLUMNS_PER_PICK = 32  # a table of d columns measures max(1, round(d / 32)) marginals a round (33-47 columns: d / 32 on
# average, ``picks_per_round``), then refits once:
# the rounds grow with d and the refit after each is most of a wide table's time. Cars (70 columns, 2 a
# round), 6 seeds, old -> new: eps 3 tvd3 0.0972 -> 0.0993 raw, 0.0839 -> 0.0839 binned, CPU 1.3-1.4x less;
# eps 1 0.2105 -> 0.2118 and 0.2867 -> 0.2870, 1.2x. 4 a round (d // 16): eps 3 raw 0.0996 -> 0.1052 over
# 3 seeds, 1.9x less CPU, so the staleness of a round's later picks (scored before the refit) is not free.
# Rounded, not floored: a table of 48-63 columns (a 10k x 55 loans table; a survey of 60 questions) took one
# pick a round, up to 6 d rounds, twice the rounds of a 64-column table. A generated survey (60 answers 1-5,
# a state, an age; 8k and 15k rows), seeds 0-2, tvd3 floor -> round (with AIM_WARM_COST): 15k rows eps 3
# 0.0873 -> 0.0913, 55 -> 29 CPU s; eps 1 0.1151 -> 0.1134, 17 -> 15 s; 8k rows eps 3 0.1182 -> 0.1172, 26 -> 20 s.
PREFILTER_SHARE = 0.25  # rounds size their whole pool first once a round's draws sized this share of it
SELECT_ROWS = 100_000  # the scores read a uniform sample of this many rows of a larger table (q = this / n):
# a marginal's count over n rows costs ~3 ms per million rows, and a 1M x 50 table has 20,875 candidates;
# the sampling error of a score, about 0.6 sqrt(n / q) counts, is then 0.2 % of n at 1M rows.


def score(true: np.ndarray, approx: np.ndarray, sigma: float, q: float = 1.0) -> float:
    """AIM's score of one candidate: the model's L1 error on it minus the error the measurement's
    noise alone would leave (sqrt(2/pi) sigma per cell).

    On a sample of the rows (fraction `q`; ``true`` counted on it), the model is scaled by q, and
    the error the sampling alone leaves, sqrt(2/pi) sqrt(q (1 - q) m) per cell of the model's count
    m (a binomial's spread), is taken off too, lest candidates of many cells win by their sampling
    noise. Either way one row moves the score by at most 1 (its sensitivity).
    """
    # In one scratch array, in place: the same values and sums as the expressions written out, and on
    # a candidate of 200k cells a third of the time (each new array of that size is faulted in afresh).
    work = np.multiply(approx, q)
    np.subtract(true, work, out=work)
    err = float(np.abs(work, out=work).sum()) - q * math.sqrt(2 / math.pi) * sigma * true.size
    if q < 1.0:
        np.maximum(approx, 0.0, out=work)
        work *= q * (1 - q)
        err -= math.sqrt(2 / math.pi) * float(np.sqrt(work, out=work).sum())
    return err


@dataclass(frozen=True)
class Round:
    """One round: what was chosen, with what noise."""

    clique: Clique
    sigma: float
    eps_select: float


def adaptive_measure(data: Binned, one_way: list[Measurement], acct: Accountant, rng: np.random.Generator, *,
                     workload: Workload | None, max_cells: int, total: float, names: Sequence[str], fit: Callable,
                     size_of: Callable, skip: frozenset[int] = frozenset(),
                     report: Callable[[str, float], None] | None = None,
                     sizer: Callable | None = None) -> tuple[object, list[Measurement]]:
    """Spend what is left of the budget on adaptively chosen marginals; return the fitted model.

    Args:
        data: the binned table (its domain sizes and exact marginals).
        one_way: measurements already made (charged by the caller).
        acct: the run's accountant; every round is charged to it.
        workload: the marginals the user cares about, with weights; None: every 2- and 3-way marginal
            of the columns not in `skip` (``default_workload``), whose candidates are not listed.
        max_cells: the cap on the model's junction-tree size (total cells of its cliques).
        total: the noisy row count.
        fit: fit(measurements, warm_start) -> model with .marginal(clique).
        size_of: size_of(cliques, limit=None) -> junction-tree size in cells of a model over these cliques
            (with `limit`, any total over it once it is known to be over: ``junction.junction_size``).
        sizer: optionally, sizer(chosen) -> size(c, limit), the same as size_of([*chosen, c], limit=limit)
            for many candidates c beside the same chosen cliques, faster (``junction.Sizer``).
    """
    sizes = data.sizes
    d = len(sizes)
    measurements = list(one_way)
    model = fit(measurements, None)
    if workload is None and d - len(skip) >= 3:
        cands = EveryMarginal(d, skip)  # the same candidates as the listed default workload's, unlisted
    else:
        workload = default_workload(d, skip=skip) if workload is None else workload
        # A workload of single columns only: its candidates are those columns.
        cands = candidates(workload, min_order=MIN_ORDER if any(len(c) >= 2 for c, _ in workload) else 1)
    if not cands or acct.rho_left <= 0:
        return model, measurements
    # Scores read a uniform sample of at most SELECT_ROWS rows (all of them on smaller tables), drawn
    # once from the noise stream, so that scoring a round's candidates costs the same on a table of
    # 100M rows as of 100k; counts are taken on demand and kept. The measured marginal is always
    # counted on every row.
    q = min(1.0, SELECT_ROWS / max(total, 1.0))  # from the noisy row count: public
    scored = data if q >= 1.0 else data.subset(rng.random(data.n) < q)
    seen: dict[Clique, np.ndarray] = {}

    def counts(r: Clique) -> np.ndarray:
        if r not in seen:
            seen[r] = scored.marginal(r)
        return seen[r]

    weight_max = cands.max_weight()
    rho_left = acct.rho_left
    rounds = ROUNDS_PER_COLUMN * d
    sigma = math.sqrt(rounds / (2 * ALPHA * rho_left))
    eps = math.sqrt(8 * (1 - ALPHA) * rho_left / rounds)
    chosen: list[Clique] = []
    # Which candidates fit the model cap: a function of the chosen cliques' graph alone, kept while the
    # graph stays the same (`Fits`). A pick's range is the pool's candidates that fit both the graph the
    # round started from and the graph as it is (the same for a round's first pick): late in a run nearly
    # every candidate is over the cap, and a round then sizes its whole pool at its start (`live`), and
    # scores, and samples the model for, only those that fit. Whether it does is a choice of how to
    # compute, not of what is drawn: the range is the same either way, the model's scoring sample comes
    # from a stream of its own per round, and the Gumbel noise covers the whole pool, so the picks are too.
    start, fits = Fits(size_of, max_cells, sizer), Fits(size_of, max_cells, sizer)
    sample_seed = int(rng.integers(2**63))
    r_no, prefilter = 0, False
    while acct.rho_left > 1e-12 * acct.rho:
        r_no += 1
        if len(cands) > SCORED_PER_ROUND:
            # A subset drawn independently of the data: the exponential mechanism over it is still
            # the exponential mechanism (over a smaller, public range), and a round's scoring stays bounded.
            pool = cands.at(sorted(rng.choice(len(cands), SCORED_PER_ROUND, replace=False)))
        else:
            pool = list(cands)
        start.given(chosen), fits.given(chosen)
        if len(fits.known) > len(start.known):  # the one holding answers for this graph starts the round
            start, fits = fits, start
        live = [r for r in pool if start(r)] if prefilter else pool
        approx = model_marginals(model, live, sizes, total, np.random.default_rng([sample_seed, r_no]))
        sized = start.sized + fits.sized
        picked: list[tuple[Clique, float, np.ndarray, int]] = []  # (clique, sigma, model before, cells)
        scored_at, scores = None, np.zeros(0)
        per_round = picks_per_round(d, r_no)
        while len(picked) < per_round and acct.rho_left > 1e-12 * acct.rho:
            rho_left = acct.rho_left
            cost = 1 / (2 * sigma**2) + eps**2 / 8
            if rho_left < 2 * cost:  # the last pick takes all that is left
                sigma = math.sqrt(1 / (2 * ALPHA * rho_left))
                eps = math.sqrt(8 * (1 - ALPHA) * rho_left)
            if scored_at != sigma:  # the round's scores, again only where the last pick's sigma differs
                scores = np.array([cands[r] * score(counts(r), approx[r], sigma, q) if r in approx else 0.0
                                   for r in pool])
                scored_at = sigma
            pick = _draw(pool, scores, eps / (2 * weight_max), rng, chosen, picked, fits, start)
            if pick is None:
                break
            label = "~".join(names[c] for c in pick)
            where = f"round {r_no}" + (f", pick {len(picked) + 1}" if per_round > 1 else "")
            acct.charge(f"select {label}", eps**2 / 8, detail=f"{where}: exponential mechanism over the "
                                                              f"candidates within the model cap, eps0={eps:.4f}")
            true = data.marginal(pick)
            y = true + discrete_gaussian(sigma, true.shape, rng)
            acct.charge(f"measure {label}", 1 / (2 * sigma**2),
                        detail=f"{where}: {true.size} cells, sigma={sigma:.6g}")
            measurements.append(Measurement(pick, y.astype(np.float64), np.full(y.shape, sigma**2)))
            chosen.append(pick)
            picked.append((pick, sigma, model.marginal(pick), true.size))
        # From the first round whose draws sized a quarter of the pool on, each round sizes its pool first.
        prefilter = prefilter or start.sized + fits.sized - sized >= PREFILTER_SHARE * len(pool)
        if not picked:
            break
        model = fit(measurements, model)
        if report:
            report("selecting", min(0.4 + 0.4 * (1 - acct.rho_left / max(acct.rho, 1e-300)), 0.8))
        # Annealing: when the round's measurements hardly moved the model, spend more per pick.
        moved = sum(float(np.abs(model.marginal(c) - before).sum()) for c, _, before, _ in picked)
        if moved <= sum(math.sqrt(2 / math.pi) * s * m for _, s, _, m in picked):
            sigma /= ANNEAL
            eps *= ANNEAL
    return model, measurements


def picks_per_round(d: int, r: int) -> int:
    """Marginals measured in round `r` (from 1) between two refits on a table of `d` columns (a public
    function of the schema): d / COLUMNS_PER_PICK rounded half up, at least 1; but where that rounds
    d / 32 in (1, 1.5) down to one (33-47 columns), d / 32 a round on average, in whole picks whose
    running sum after round r is floor(r d / 32): a 45-column table takes 1, 1, 2, 1, 2, ... (1.4 a
    round, so 6 x 32 rounds planned, not 270; it took one a round, the rounds of a 90-column table).
    The rounding stays above: spreading 70 columns' 2.19 a round over 3-pick rounds cost cars' eps-1
    tvd3 2.6 % over 3 seeds for no time."""
    k = max(1, (d + COLUMNS_PER_PICK // 2) // COLUMNS_PER_PICK)
    if k > 1 or d <= COLUMNS_PER_PICK:
        return k
    return r * d // COLUMNS_PER_PICK - (r - 1) * d // COLUMNS_PER_PICK


class Fits:
    """Whether a candidate fits the model cap beside the cliques chosen so far: a function of released
    choices only, so that the exponential mechanism's range is public.

    A candidate fits when the junction tree of the chosen cliques plus it has at most `max_cells` cells.
    That depends on the graph of the chosen cliques alone (the sizing triangulates that graph), so
    answers are kept while the graph stays the same: a pick inside a chosen clique, or over pairs
    already joined, leaves it as it was. Nothing is kept across graphs: the greedy triangulation is not
    monotone (on cars at eps 3, 2 of the 223 candidates refused in a run fitted at its end), and which
    candidates the draws sized depends on the data's scores, so an answer kept from an earlier graph, or
    a triple refused for holding a pair refused before, would make the range depend on the data. (Both
    were kept before, for speed: on a generated 1M x 50 table dropping them took the rounds' sizing from
    5.4 to 21.8 CPU s, before `junction.Sizer` and the pool sized first won it back. Refusing a triple whenever one of its pairs does not fit, a public rule, took it to
    11.2 s but cost cars at eps 3 0.002 of tvd3 in each of three seeds: a triple can fit where its pair
    does not.)
    """

    def __init__(self, size_of: Callable, max_cells: int, sizer: Callable | None = None) -> None:
        self.size_of, self.max_cells, self.sizer = size_of, max_cells, sizer
        self.chosen: list[Clique] = []
        self.graph: frozenset = frozenset()
        self.known: dict[Clique, bool] = {}
        self.size: Callable | None = None  # size(c, limit) beside the chosen cliques, made when first needed
        self.sized = 0  # trees sized so far

    def given(self, chosen: list[Clique]) -> Fits:
        """Answer for these chosen cliques from now on (what is known is kept if their graph is the same)."""
        graph = frozenset(e for m in chosen for e in itertools.combinations(m, 2))
        if graph != self.graph:
            self.graph, self.known, self.size = graph, {}, None
        self.chosen = list(chosen)
        return self

    def __call__(self, c: Clique) -> bool:
        if all(e in self.graph for e in itertools.combinations(c, 2)):
            return True  # the graph does not change: its tree is the one that fitted when last picked
        if c not in self.known:
            if self.size is None:
                chosen = self.chosen
                self.size = self.sizer(chosen) if self.sizer is not None else \
                    (lambda c, limit: self.size_of([*chosen, c], limit=limit))
            self.known[c] = self.size(c, self.max_cells) <= self.max_cells
            self.sized += 1
        return self.known[c]


def _draw(pool: list[Clique], scores: np.ndarray, scale: float, rng: np.random.Generator, chosen: list[Clique],
          picked: list, fits: Fits, start: Fits | None = None) -> Clique | None:
    """One exponential-mechanism draw (Gumbel-max at `scale` times the scores) over the candidates that
    fit the model cap (`fits`, on the chosen cliques; and `start`, already given the graph the round
    started from) and share at most one column with a pick of this round (two marginals over the same
    pair measured before a refit would each be scored as if the other were not there).

    The first candidate that qualifies, in order of perturbed score, is exactly the exponential
    mechanism's draw over the qualifying set (a set fixed by what was released), and only a few
    junction trees need building.
    """
    perturbed = scale * scores + rng.gumbel(size=len(pool))
    here = [set(c) for c, *_ in picked]
    fits = fits.given(chosen)
    if start is not None and start.graph == fits.graph:
        fits, start = start, None  # the round's first pick: one graph, asked once
    for k in np.argsort(-perturbed):
        c = pool[k]
        if any(len(h & set(c)) > 1 or set(c) <= h for h in here):
            continue
        if (start is None or start(c)) and fits(c):
            return c
    return None
