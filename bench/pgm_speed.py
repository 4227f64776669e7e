"""Print the time of pgm.estimate (cold and warm) and GraphicalModel.sample on a synthetic case.

10 columns with domain sizes 2..30, 20 measured 2-way and 3-way cliques picked
AIM-style (random candidates, kept while the junction tree stays under a cell
cap), discrete-Gaussian-like noise of scale sigma on every cell.

    python bench/pgm_speed.py [--cap CELLS] [--sigma S] [--rows N] [--seed K] [--iters N]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from duckdb_synth.engine.marginal import Measurement, marginal  # noqa: E402
from duckdb_synth.engine.model.junction import junction_tree  # noqa: E402
from duckdb_synth.engine.model.pgm import estimate  # noqa: E402


def synthetic(rows: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """Correlated codes: each column a noisy function of two latent factors, binned."""
    sizes = [int(s) for s in rng.integers(2, 31, size=d)]
    sizes[0] = 30
    latent = rng.normal(size=(rows, 2))
    codes = np.empty((rows, d), dtype=np.int64)
    for j in range(d):
        z = latent @ rng.normal(size=2) + 0.7 * rng.normal(size=rows)
        q = np.quantile(z, np.linspace(0, 1, sizes[j] + 1)[1:-1])
        codes[:, j] = np.searchsorted(q, z)
    return codes, sizes


def pick_cliques(d: int, sizes: list[int], count: int, cap: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    chosen: list[tuple[int, ...]] = []
    tries = 0
    while len(chosen) < count and tries < 10_000:
        tries += 1
        c = tuple(sorted(rng.choice(d, size=int(rng.integers(2, 4)), replace=False).tolist()))
        if c in chosen:
            continue
        if junction_tree(chosen + [c], d, sizes).size(sizes) <= cap:
            chosen.append(c)
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cap", type=int, default=1_000_000, help="most cells in the junction tree")
    ap.add_argument("--sigma", type=float, default=10.0)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iters", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    d = 10
    codes, sizes = synthetic(args.rows, d, rng)
    cliques = pick_cliques(d, sizes, 20, args.cap, rng)
    ones = [(j,) for j in range(d)]
    measurements = []
    for c in ones + cliques:
        exact = marginal(codes, sizes, c)
        measurements.append(Measurement(c, exact + args.sigma * rng.normal(size=exact.shape),
                                        np.full(exact.shape, args.sigma ** 2)))
    tree = junction_tree(cliques, d, sizes)
    print(f"sizes {sizes}")
    print(f"{len(cliques)} cliques ({sum(len(c) == 3 for c in cliques)} 3-way); junction tree: "
          f"{len(tree.cliques)} maximal cliques, largest {max(map(len, tree.cliques))} columns, "
          f"{tree.size(sizes):,} cells ({tree.size(sizes) * 8 / 1e6:.1f} MB per table set)")

    def run(ms, warm=None):
        trace: list[tuple[float, float]] = []  # (seconds since start, loss) per step
        start = time.perf_counter()
        model = estimate(sizes, ms, warm_start=warm, iters=args.iters,
                         callback=lambda t, f: trace.append((time.perf_counter() - start, f)))
        return model, trace, time.perf_counter() - start

    first, _, t_first = run(measurements[:-1])
    cold, cold_trace, t_cold = run(measurements)
    warm, warm_trace, t_warm = run(measurements, first)
    best = min(cold_trace[-1][1], warm_trace[-1][1])
    ncells = sum(m.values.size for m in measurements)
    print(f"estimate cold, 19 cliques: {t_first:6.2f} s  ({args.iters} steps at most)")
    print(f"estimate cold, 20 cliques: {t_cold:6.2f} s  ({len(cold_trace)} steps), loss/cell {cold_trace[-1][1] / ncells:.4f}")
    print(f"estimate warm, +1 clique:  {t_warm:6.2f} s  ({len(warm_trace)} steps), loss/cell {warm_trace[-1][1] / ncells:.4f}")
    print("after k steps: seconds and loss above the best found (relative), cold | warm")
    for k in (10, 30, 100, 200, 300, 500, 1000, 2000):
        if k <= min(len(cold_trace), len(warm_trace)):
            (tc, fc), (tw, fw) = cold_trace[k - 1], warm_trace[k - 1]
            print(f"  {k:5d}: {tc:6.2f} s {fc / best - 1:9.2e} | {tw:6.2f} s {fw / best - 1:9.2e}")

    start = time.perf_counter()
    rows = cold.sample(100_000, np.random.default_rng(1))
    t_sample = time.perf_counter() - start

    start = time.perf_counter()
    for c in cliques:
        cold.marginal(c)
    t_marg = time.perf_counter() - start

    print(f"sample 100k rows:           {t_sample:6.3f} s  {rows.shape}")
    print(f"marginal of the 20 cliques: {t_marg:6.3f} s")
    err = np.mean([np.abs(cold.marginal(c) - marginal(codes, sizes, c)).sum() / args.rows for c in cliques])
    print(f"mean L1 error of the measured cliques vs the data (per row): {err:.4f}")


if __name__ == "__main__":
    main()
