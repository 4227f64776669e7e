"""Print the time and peak memory of one DP run on wide synthetic tables (strictest, eps = 1).

Each table has n rows and d columns: every third column a small-integer category stored as
VARCHAR, the others one-decimal numbers; columns are noisy copies of four latent factors,
so there is structure for the adaptive rounds to find. One child process per table, so the
peak memory is that run's own.

    python bench/wide_speed.py [--rows N] [--columns 10,20,30] [--seed K]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import duckdb, numpy as np, pyarrow as pa
import duckdb_synth
n, d, seed = {n}, {d}, {seed}
rng = np.random.default_rng(seed)
z = rng.normal(size=(n, 4))
cols, exprs = {{}}, []
for j in range(d):
    x = z[:, j % 4] + 0.7 * rng.normal(size=n)
    if j % 3 == 0:
        cols[f"c{{j}}"] = np.floor(np.clip(x * 2, -6, 6)).astype(int)
        exprs.append(f"CAST(c{{j}} AS VARCHAR) AS c{{j}}")
    else:
        cols[f"c{{j}}"] = np.round(x * 100, 1)
        exprs.append(f"c{{j}}")
con = duckdb.connect()
con.register("raw", pa.table(cols))
con.sql(f"CREATE TABLE w AS SELECT {{', '.join(exprs)}} FROM raw")
t0 = time.perf_counter()
r = duckdb_synth.run(con, "w", mode="strictest", seed=seed)
secs = time.perf_counter() - t0
rounds = sum(1 for s in r.spend.steps if s.name.startswith("measure "))  # picks (d >= 64: several a round)
print(json.dumps({{"seconds": secs, "rounds": rounds,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--columns", default="10,20,30")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(f"{'rows':>8} {'columns':>8} {'seconds':>8} {'rounds':>7} {'peak MB':>8}")
    for d in (int(x) for x in a.columns.split(",")):
        code = CHILD.format(root=str(ROOT), n=a.rows, d=d, seed=a.seed)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{a.rows:>8} {d:>8} {res['seconds']:>8.1f} {res['rounds']:>7} {res['peak_mb']:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
