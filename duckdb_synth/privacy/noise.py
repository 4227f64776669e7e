"""Noise for counts: a vectorised discrete Gaussian sampler.

The sampler follows Canonne, Kamath and Steinke (2020), "The Discrete Gaussian
for Differential Privacy", Algorithm 3: propose from a discrete Laplace with scale
t = floor(sigma) + 1 and accept with probability
exp(-(|y| - sigma^2/t)^2 / (2 sigma^2)). Proposals are drawn as the difference
of two geometric variables, in batches, so millions of draws take well under a
second. The acceptance test uses floating point, not exact rational arithmetic:
docs/privacy.md weighs that against OpenDP's exact sampler.

Also here: the two random streams of a run, and the bar a noisy count must pass so
that a value held by one person passes it with probability at most delta.
"""
from __future__ import annotations

import functools
import math

import numpy as np


def streams(seed: int | None) -> tuple[np.random.Generator, np.random.Generator]:
    """A run's two independent streams: one for every DP mechanism, one for the output.

    The first (noise) is never written out raw; the second draws sampling, decoding and
    masks, whose raw draws do appear in the output (random tokens). Without a seed each
    stream gets its own OS entropy, so the output stream reveals nothing of the noise.
    """
    if seed is None:
        noise_seq, out_seq = np.random.SeedSequence(), np.random.SeedSequence()
    else:
        noise_seq, out_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(noise_seq), np.random.default_rng(out_seq)


def discrete_gaussian(sigma: float, size: int | tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Draw integers with P(x) proportional to exp(-x^2 / (2 sigma^2)).

    Args:
        sigma: the scale; 0 gives zeros.
        size: the output shape.
        rng: the source of randomness.
    """
    shape = (size,) if isinstance(size, int) else tuple(size)
    total = int(np.prod(shape)) if shape else 1
    if sigma < 0 or not math.isfinite(sigma):
        raise ValueError(f"sigma must be finite and >= 0, got {sigma}")
    if sigma == 0 or total == 0:
        return np.zeros(shape, dtype=np.int64)
    t = math.floor(sigma) + 1
    p = -math.expm1(-1.0 / t)  # success probability of the geometric proposals
    s2 = sigma * sigma
    out = np.empty(total, dtype=np.int64)
    filled = 0
    while filled < total:
        need = total - filled
        # Acceptance is at least about 1/2 (CKS20, Prop. 26): draw a little extra.
        batch = int(need * 2.2) + 16
        y = (rng.geometric(p, batch) - rng.geometric(p, batch)).astype(np.int64)
        accept = rng.random(batch) < np.exp(-((np.abs(y) - s2 / t) ** 2) / (2 * s2))
        y = y[accept][:need]
        out[filled:filled + len(y)] = y
        filled += len(y)
    return out.reshape(shape)


def discrete_gaussian_pmf(sigma: float, support: np.ndarray) -> np.ndarray:
    """The exact probabilities of the discrete Gaussian on `support` (for tests)."""
    half = int(max(60 * sigma, 60))
    xs = np.arange(-half, half + 1)
    norm = np.exp(-(xs.astype(float) ** 2) / (2 * sigma * sigma)).sum()
    return np.exp(-(np.asarray(support, dtype=float) ** 2) / (2 * sigma * sigma)) / norm


def gaussian_tail_z(prob: float) -> float:
    """The z with P(N(0,1) > z) = prob."""
    from scipy.special import ndtri

    return float(-ndtri(prob))


def threshold(sigma: float, delta: float, held: int = 1) -> float:
    """The count that any value held by one person passes with probability at most delta.

    The noise is a discrete Gaussian Z; P[Z >= m] <= P[N(0, sigma^2) >= m - 1] for
    integer m, so a bar one above the continuous one is safe (a count of 1 passes
    T = 2 + sigma z only if Z >= 1 + sigma z).

    A person with `held` rows (a privacy unit's most rows) holds at most `held` values
    that no one else holds, with counts c_i >= 1 summing to at most `held`; the chance
    that any passes is at most sum_i P[c_i + Z >= T] <= held * P[held + Z >= T], so
    T = held + 1 + sigma z(delta / held) (for held = 1 the bar above).
    """
    return held + 1.0 + sigma * gaussian_tail_z(delta / held)


TAIL_Z = 4.0  # counts more than this many noise scales below the bar come from the engine summarized


def summary_floor(sigma: float, bar: float) -> int:
    """The least count given a noise draw of its own (``aggregates.pass_cells``); below it, cells are drawn
    by count (``tail_pass``). Public: a function of the noise scale and the bar."""
    return max(1, int(math.floor(bar - TAIL_Z * sigma)))


def tail_pass(n: int, least: int, sigma: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Of `n` like items, each with its own discrete Gaussian Z, which have Z >= `least`, and their Z:
    how many from Binomial(n, P[Z >= least]), which uniformly (ranks, ascending), and their Z from the
    discrete Gaussian conditioned on Z >= least. The same distribution as n draws, in O(passing) draws."""
    support, cond, p = tail(sigma, least)
    m = int(rng.binomial(n, min(p, 1.0)))
    return tail_draw(n, m, support, cond, rng)


def tail_draw(n: int, m: int, support: np.ndarray, cond: np.ndarray, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """`m` of `n` like items (ranks uniform without replacement, ascending) and their Z from `cond` on
    `support` (``tail``)."""
    if m == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ranks = np.sort(rng.choice(n, size=m, replace=False))
    return ranks, rng.choice(support, size=m, p=cond)


@functools.lru_cache(maxsize=65536)
def tail(sigma: float, least: int) -> tuple[np.ndarray, np.ndarray, float]:
    """P[Z >= least] for the discrete Gaussian of scale `sigma`, with its support from `least` and the
    conditional pmf there (memoized: a release asks the same few tails for thousands of column sets)."""
    reach = int(max(60 * sigma, 60))  # the pmf beyond is below double precision
    support = np.arange(max(least, -reach), max(least, 0) + reach + 1)
    pmf = discrete_gaussian_pmf(sigma, support)
    p = float(pmf.sum())
    return support, (pmf / p if p > 0 else pmf), p
