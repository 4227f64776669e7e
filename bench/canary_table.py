"""At which k do planted secrets start to come back? The canary test on real tables, per mode.

    python bench/canary_table.py                   # patients, credit, diamonds; 5 seeds
    python bench/canary_table.py --seeds 3 --tables patients,credit

For each table and mode (balanced, strict, strictest) and seed, one canary run plants one
made-up secret in k rows for every k of KS (in the table's first VARCHAR column, no masks),
synthesizes the planted copy and counts each secret in the output. Printed per table and
mode: the discovery threshold T of the planted column in that run (a value whose noisy
count reaches T is kept: docs/privacy.md step 3b; balanced keeps values held by >= 5 rows),
the smallest k that came back in any seed, the smallest k from which every secret came back
in every seed, and replays / planted at the largest k. Then, per k, in how many seeds the
secret came back.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

import duckdb_synth
from duckdb_synth.privacy.accounting import sigma_for
from duckdb_synth.privacy.discovery import MIN_GROUP
from duckdb_synth.privacy.noise import threshold
from duckdb_synth.surfaces.demo import example_path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "bench" / "data"
TABLES = {"patients": str(example_path()), "credit": str(DATA / "credit.parquet"),
          "diamonds": str(DATA / "diamonds.parquet")}
MODES = ("balanced", "strict", "strictest")
# Fine steps where the thresholds are; they add up to 1,949 rows, which fits the smallest table (3,000).
KS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 100, 120, 150, 200, 250, 300, 400)


def discovery_threshold(res: duckdb_synth.Result, column: str) -> float:
    """The count a value of `column` had to reach (in noisy count) to be kept in this run."""
    step = next(s for s in res.spend.steps if s.name == f"domain {column}")
    if step.rho == 0:
        return float(MIN_GROUP)
    return threshold(sigma_for(step.rho), step.delta)


def measure(path: str, mode: str, seeds: range) -> dict:
    """Canary runs of one table in one mode; what came back, per k and seed."""
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{path}')")
        n, d = con.sql("SELECT count(*) FROM t").fetchall()[0][0], len(con.sql("DESCRIBE t").fetchall())
        back: dict[int, list[int]] = {k: [] for k in KS}
        thresholds, seconds, column = [], [], ""
        for seed in seeds:
            started = time.perf_counter()
            table = duckdb_synth.canary(con, "t", mode=mode, ks=KS, seed=seed)
            seconds.append(time.perf_counter() - started)
            column = table.column("column")[0].as_py()
            thresholds.append(discovery_threshold(duckdb_synth.runs(con)[-1], column))
            for k, r in zip(table.column("times_planted").to_pylist(), table.column("times_replayed").to_pylist()):
                back[k].append(r)
    finally:
        con.close()
    return {"n": n, "d": d, "column": column, "back": back, "threshold": sum(thresholds) / len(thresholds),
            "seconds": sum(seconds) / len(seconds)}


def first_back(back: dict[int, list[int]]) -> str:
    ks = [k for k in KS if any(back[k])]
    return str(ks[0]) if ks else "never"


def always_back(back: dict[int, list[int]]) -> str:
    start = None
    for k in reversed(KS):
        if not all(back[k]):
            break
        start = k
    return str(start) if start is not None else f"> {KS[-1]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    ap.add_argument("--tables", default=",".join(TABLES), help="comma-separated, of: " + ", ".join(TABLES))
    args = ap.parse_args(argv)
    seeds = range(args.seeds)
    results = {}
    for name in args.tables.split(","):
        for mode in MODES:
            results[name, mode] = measure(TABLES[name], mode, seeds)
            print(f"{name} {mode}: {results[name, mode]['seconds']:.1f} s a run", file=sys.stderr)
    top = KS[-1]
    print(f"Canary replays, seeds 0-{args.seeds - 1}, k in {', '.join(map(str, KS))}\n")
    print("| table | planted in | mode | threshold T | first k back (any seed) | every seed from k | "
          f"replayed / planted at k={top} |")
    print("|---|---|---|---:|---:|---:|---:|")
    for (name, mode), r in results.items():
        ratio = sum(r["back"][top]) / (top * len(seeds))
        label = f"{name} ({r['n']:,} × {r['d']})" if mode == MODES[0] else ""
        column = r["column"] if mode == MODES[0] else ""
        print(f"| {label} | {column} | {mode} | {r['threshold']:.0f} | {first_back(r['back'])} | "
              f"{always_back(r['back'])} | {ratio:.2f} |")
    print(f"\nSeeds (of {len(seeds)}) in which the secret planted k times came back:\n")
    print("| table | mode | " + " | ".join(str(k) for k in KS) + " |")
    print("|---|---|" + "---:|" * len(KS))
    for (name, mode), r in results.items():
        print(f"| {name} | {mode} | " + " | ".join(str(sum(1 for x in r["back"][k] if x)) for k in KS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
