"""Fidelity of one mode on every benchmark table, and how many emitted values few source rows hold.

For each table of the data folder and each seed: one run (``duckdb_synth.run``), its CPU
seconds, ``fidelity.py``'s tvd1/tvd2/tvd3 against the real table, and the number of output
cells whose value is held by 1 to 4 rows of the source (per column, compared as text; NULL
not counted): balanced mode promises none. Means over the seeds are printed per table.

    python bench/mode_fidelity.py [--mode balanced] [--seeds 0,1,2] [--tables a,b] [--root CHECKOUT]

``--root`` imports ``duckdb_synth`` from another checkout, to put old and new code side by side.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "bench"


def rare_cells(con, real: str, synth: str, columns: list[str]) -> int:
    """Output cells holding a value that 1 to 4 rows of the real table hold (compared as text)."""
    total = 0
    for c in columns:
        q = '"' + c.replace('"', '""') + '"'
        total += con.sql(
            f"WITH r AS (SELECT CAST({q} AS VARCHAR) AS v, count(*) AS k FROM {real} WHERE {q} IS NOT NULL GROUP BY 1) "
            f"SELECT count(*) FROM {synth} s JOIN r ON CAST(s.{q} AS VARCHAR) = r.v WHERE r.k < 5").fetchall()[0][0]
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", default="balanced")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tables", help="comma-separated table names (default: all)")
    ap.add_argument("--root", type=Path, default=ROOT)
    a = ap.parse_args()
    sys.path.insert(0, str(a.root))
    import duckdb
    import duckdb_synth
    from _fidelity import score_files

    print(f"duckdb_synth from {Path(duckdb_synth.__file__).parent}, mode {a.mode}", flush=True)
    files = sorted((SHARED / "data").glob("*.parquet"))
    if a.tables:
        files = [f for f in files if f.stem in a.tables.split(",")]
    seeds = [int(s) for s in a.seeds.split(",")]
    print(f"{'table':<10} {'tvd1':>7} {'tvd2':>7} {'tvd3':>7} {'rare':>6} {'CPU s':>7}")
    for path in files:
        con = duckdb.connect()
        con.execute(f"CREATE TABLE real AS SELECT * FROM read_parquet('{path}')")
        cols = [r[0] for r in con.sql("DESCRIBE real").fetchall()]
        got = []
        for seed in seeds:
            t0 = time.process_time()
            res = duckdb_synth.run(con, "real", mode=a.mode, seed=seed)
            secs = time.process_time() - t0
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "synth.parquet"
                con.register("synth_arrow", res.table)
                con.execute(f"COPY (SELECT * FROM synth_arrow) TO '{out}' (FORMAT parquet)")
                rare = rare_cells(con, "real", "synth_arrow", cols)
                con.unregister("synth_arrow")
                fid = score_files(path, out, fidelity=SHARED / "fidelity.py")
            got.append((fid["tvd1"], fid["tvd2"], fid["tvd3"], rare, secs))
        m = [sum(g[k] for g in got) / len(got) for k in range(5)]
        print(f"{path.stem:<10} {m[0]:>7.4f} {m[1]:>7.4f} {m[2]:>7.4f} {m[3]:>6.0f} {m[4]:>7.1f}", flush=True)
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
