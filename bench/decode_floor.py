"""What the DP domains alone lose: real rows pushed through them and decoded, no model.

For each table and seed, one child process (importing ``duckdb_synth`` from a checkout) builds
every column's DP domain at the given epsilon (charged as a run would), codes the real rows into
its bins and decodes them back (``decode_table``, within-bin copula included), then scores the
result with ``fidelity.py``. The model can do no better than this floor on the raw table: the gap
between it and the bootstrap floor is the domain's and the decoder's, the gap above it the
model's. Old checkout beside new, in one run; CPU seconds per run.

    python bench/decode_floor.py [--eps 1] [--seeds 0,1,2] [--tables a,b] [--old /tmp/base]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "bench"
TABLES = ("diamonds", "credit", "cps1988", "storms", "weather", "cars", "yrbss")


def child(root: str, table: str, eps: float, seed: int) -> int:
    """One table and seed from checkout `root`; prints one JSON line."""
    sys.path.insert(0, root)
    import duckdb
    import numpy as np
    import pyarrow.parquet as pq

    from duckdb_synth.engine.data import DuckDBRows
    from duckdb_synth.engine.decode import decode_table
    from duckdb_synth.engine.schema import read_schema
    from duckdb_synth.privacy.accounting import Accountant
    from duckdb_synth.privacy.discovery import domain

    start = time.process_time()
    path = SHARED / "data" / f"{table}.parquet"
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{path}')")
    cols = read_schema(con, "t", ("t",))
    rows = DuckDBRows(con, "SELECT * FROM t", cols)
    n = rows.row_count()
    acct = Accountant.for_budget(eps, 1e-6)
    rng = np.random.default_rng(seed)
    doms = [domain(c, rows.column(i), acct, float(n), len(cols), rng) for i, c in enumerate(cols)]
    codes = np.asarray(rows.bin(doms).codes)
    out = decode_table(cols, doms, codes, {}, rng)
    cpu = time.process_time() - start
    with tempfile.TemporaryDirectory() as tmp:
        synth = Path(tmp) / "floor.parquet"
        pq.write_table(out, synth)
        res = subprocess.run([sys.executable, str(SHARED / "fidelity.py"), str(path), str(synth)],
                             capture_output=True, text=True, check=True)
    fig = dict(kv.split("=") for kv in res.stdout.strip().splitlines()[-1].split())
    print(json.dumps({"tvd1": float(fig["tvd1"]), "tvd2": float(fig["tvd2"]), "tvd3": float(fig["tvd3"]),
                      "cpu": cpu}))
    return 0


def run(root: Path, table: str, eps: float, seed: int) -> dict:
    res = subprocess.run([sys.executable, __file__, "--child", str(root), table, str(eps), str(seed)],
                         capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"{table} seed {seed} ({root}): {res.stderr.strip().splitlines()[-1]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eps", type=float, default=1.0)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tables", default=",".join(TABLES))
    ap.add_argument("--old", type=Path, help="another checkout to run beside this one")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    sides = [("new", ROOT)] + ([("old", args.old)] if args.old else [])
    print(f"decode floor at eps = {args.eps:g}, mean of seeds {args.seeds}")
    print(f"{'table':9s} {'side':4s} {'tvd1':>7s} {'tvd2':>7s} {'tvd3':>7s} {'cpu s':>6s}")
    for table in args.tables.split(","):
        for side, root in sides:
            figs = [run(root, table, args.eps, s) for s in seeds]
            mean = {k: sum(f[k] for f in figs) / len(figs) for k in ("tvd1", "tvd2", "tvd3", "cpu")}
            print(f"{table:9s} {side:4s} {mean['tvd1']:7.4f} {mean['tvd2']:7.4f} {mean['tvd3']:7.4f} "
                  f"{mean['cpu']:6.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
