"""Balanced mode on every benchmark table, old code beside new: fidelity, floor, memorization, CPU.

For each table and seed: one balanced run (``duckdb_synth.run``, CPU seconds by
``time.process_time``), ``fidelity.py``'s tvd1/tvd2/tvd3 against the real table, its ratio to
the bootstrap floor (shared/bench/data/README.md), and the report's distance to the closest
record, 5th percentile, next to the holdout's (``duckdb_synth.report``): a synthetic table
whose 5th percentile falls below the holdout's has rows closer to real ones than fresh real
rows are. Each run is a child process that imports ``duckdb_synth`` from one checkout.

    python bench/balanced.py [--old /tmp/base] [--seeds 0,1,2] [--tables a,b] [--cache old.json]

``--cache`` keeps the old checkout's results (keyed by table and seed) so they run once.
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
FLOORS = {"diamonds": 0.040, "credit": 0.093, "cps1988": 0.027, "storms": 0.072, "weather": 0.051,
          "cars": 0.042, "yrbss": 0.052}
TABLES = ("diamonds", "credit", "cps1988", "storms", "weather", "cars", "yrbss")


def child(root: str, table: str, seed: int) -> int:
    """One balanced run from checkout `root`; prints one JSON line."""
    sys.path.insert(0, root)
    import duckdb
    import duckdb_synth

    path = SHARED / "data" / f"{table}.parquet"
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE real AS SELECT * FROM read_parquet('{path}')")
        t0 = time.process_time()
        res = duckdb_synth.run(con, "real", mode="balanced", seed=seed)
        cpu = time.process_time() - t0
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "synth.parquet"
            con.register("synth_arrow", res.table)
            con.execute(f"COPY (SELECT * FROM synth_arrow) TO '{out}' (FORMAT parquet)")
            con.execute("CREATE TABLE synth AS SELECT * FROM synth_arrow")
            con.unregister("synth_arrow")
            score = subprocess.run([sys.executable, str(SHARED / "fidelity.py"), str(path), str(out), "--json"],
                                   capture_output=True, text=True, check=True)
        fid = json.loads(score.stdout.splitlines()[0])
        priv = duckdb_synth.report(con, "real", "synth").privacy.to_pylist()
        dcr = next(r for r in priv if r["metric"] == "DCR 5th percentile")
    finally:
        con.close()
    print(json.dumps({"tvd1": fid["tvd1"], "tvd2": fid["tvd2"], "tvd3": fid["tvd3"], "dcr5": dcr["value"],
                      "dcr5_holdout": dcr["holdout"], "cpu": cpu, "module": duckdb_synth.__file__}))
    return 0


def run_one(root: Path, table: str, seed: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(root), table, str(seed)],
                         capture_output=True, text=True, cwd="/")
    if out.returncode:
        raise RuntimeError(f"{root} {table} seed {seed}:\n{out.stderr[-3000:]}")
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if not got.pop("module").startswith(str(root)):
        raise RuntimeError(f"{root}: imported duckdb_synth from elsewhere")
    return got


def mean(runs: list[dict]) -> dict:
    return {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", type=Path, help="another checkout to run beside this one")
    ap.add_argument("--new", type=Path, default=ROOT)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tables", default=",".join(TABLES))
    ap.add_argument("--cache", type=Path, help="JSON file of the old checkout's results, read and extended")
    ap.add_argument("--old-only", action="store_true", help="run the old checkout only (to fill the cache)")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    cache = json.loads(a.cache.read_text()) if a.cache and a.cache.exists() else {}
    sides = [("old", a.old), ("new", a.new)] if a.old else [("new", a.new)]
    if a.old_only:
        sides = sides[:1]
    head = f"{'table':<9} {'side':<4} {'tvd1':>6} {'tvd2':>6} {'tvd3':>6} {'floor':>5} {'ratio':>5} " \
           f"{'dcr5':>6} {'hold5':>6} {'cpu s':>6}"
    print(head, flush=True)
    for table in a.tables.split(","):
        for side, root in sides:
            runs = []
            for seed in seeds:
                key = f"{table}/{seed}"
                if side == "old" and key in cache:
                    runs.append(cache[key])
                    continue
                runs.append(run_one(root, table, seed))
                if side == "old" and a.cache:
                    cache[key] = runs[-1]
                    a.cache.write_text(json.dumps(cache, indent=1))
            m = mean(runs)
            floor = FLOORS[table]
            flag = "" if m["dcr5"] >= m["dcr5_holdout"] else "  DCR below holdout"
            print(f"{table:<9} {side:<4} {m['tvd1']:>6.4f} {m['tvd2']:>6.4f} {m['tvd3']:>6.4f} {floor:>5.3f} "
                  f"{m['tvd3'] / floor:>5.2f} {m['dcr5']:>6.3f} {m['dcr5_holdout']:>6.3f} {m['cpu']:>6.1f}{flag}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
