"""Hash what every mode makes of every benchmark table, for fixed seeds: a refactor must not change them.

For each table of the data folder, the balanced, strict and strictest runs (seed 0) and
their spend records are hashed; on one table (--extras) also a custom epsilon/delta with masks
and a workload, balanced mode with a workload, a row count, the spanning-tree selection,
the SQL macro, the report of a run against its source and the canary. Run it on the old
code and the new, then compare:

    python bench/output_hashes.py --out bench/out/hashes_old.json --root /path/to/old/checkout
    python bench/output_hashes.py --compare bench/out/hashes_old.json

Each line prints the case, the output's hash, its CPU seconds, and (with --compare) whether
it matches. The exit code is 1 when any hash differs.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "bench" / "data"


def table_hash(table) -> str:
    """The rows, column names, types and schema metadata of an Arrow table, hashed."""
    h = hashlib.sha256(str(table.schema).encode())
    for meta in sorted((table.schema.metadata or {}).items()):
        h.update(repr(meta).encode())
    for name in table.column_names:
        h.update(repr(table.column(name).to_pylist()).encode())
    return h.hexdigest()[:16]


def spend_hash(spend) -> str:
    return hashlib.sha256(repr((spend.mode, spend.epsilon, spend.delta, spend.rows())).encode()).hexdigest()[:16]


def _selection_module():
    """Where the adaptive/spanning-tree switch lives in this checkout (it moved with the layout)."""
    import importlib

    for name in ("duckdb_synth.pipeline", "duckdb_synth.privacy.fit"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(mod, "SELECTION"):
            return mod
    raise RuntimeError("no SELECTION switch found")


def cases(con, table: str, extras: bool):
    """(name, thunk) pairs; each thunk returns a dict of hashes."""
    import duckdb_synth

    def run(**kw):
        def go():
            res = duckdb_synth.run(con, table, **kw)
            return {"rows": table_hash(res.table), "spend": spend_hash(res.spend)}
        return go

    yield "balanced", run(seed=0)
    yield "strict", run(mode="strict", seed=0)
    yield "strictest", run(mode="strictest", seed=0)
    if not extras:
        return
    text = [r[0] for r in con.sql(f"DESCRIBE {table}").fetchall() if r[1] == "VARCHAR"]
    masks = {text[0]: "name"} if text else {}
    cols = [r[0] for r in con.sql(f"DESCRIBE {table}").fetchall() if r[0] not in masks]
    workload = [[cols[0], cols[1]], [cols[1], cols[2], cols[3]]]
    yield "custom+masks+workload", run(epsilon=2.0, delta=1e-7, masks=masks, marginals=workload, seed=3)
    yield "balanced+workload", run(marginals=workload, seed=3)
    yield "strictest rows=1000", run(mode="strictest", rows=1000, seed=5)

    def mst():
        mod = _selection_module()
        old = mod.SELECTION
        mod.SELECTION = "mst"
        try:
            return run(mode="strictest", seed=0)()
        finally:
            mod.SELECTION = old
    yield "strictest mst", mst

    def sql():
        t = con.sql(f"SELECT * FROM synthesize('{table}', mode := 'strict', seed := 11)").to_arrow_table()
        return {"rows": table_hash(t)}
    yield "sql macro", sql

    def report():
        res = duckdb_synth.run(con, table, seed=1)
        con.register("__hash_synth", res.table)
        try:
            rep = duckdb_synth.report(con, table, "__hash_synth", run=res)
        finally:
            con.unregister("__hash_synth")
        return {part: table_hash(getattr(rep, part)) for part in ("summary", "columns", "pairs", "privacy")}
    yield "report", report

    def canary():
        if not text:
            return {}
        t = duckdb_synth.canary(con, table, mode="strict", ks=(1, 5, 50), seed=2)
        return {"rows": table_hash(t)}
    yield "canary", canary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--tables", help="comma-separated table names (default: every .parquet in --data)")
    ap.add_argument("--extras", default="credit", help="the table the extra cases run on")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose duckdb_synth to import")
    ap.add_argument("--out", type=Path, help="write the hashes as JSON")
    ap.add_argument("--compare", type=Path, help="JSON of an earlier run to compare with")
    a = ap.parse_args()
    sys.path.insert(0, str(a.root))
    import duckdb
    import duckdb_synth

    print(f"duckdb_synth from {Path(duckdb_synth.__file__).parent}", flush=True)
    files = sorted(a.data.glob("*.parquet"))
    if a.tables:
        want = a.tables.split(",")
        files = [f for f in files if f.stem in want]
    old = json.loads(a.compare.read_text()) if a.compare else {}
    out: dict[str, dict] = {}
    differ = 0
    for path in files:
        con = duckdb.connect()
        duckdb_synth.register(con)
        con.execute(f"CREATE TABLE {path.stem} AS SELECT * FROM read_parquet('{path}')")
        for name, thunk in cases(con, path.stem, extras=path.stem == a.extras):
            key = f"{path.stem}/{name}"
            t0 = time.process_time()
            got = thunk()
            secs = time.process_time() - t0
            out[key] = got
            verdict = ""
            if key in old:
                same = old[key] == got
                differ += not same
                verdict = "same" if same else f"DIFFERS (was {old[key]})"
            print(f"{key:<40} {' '.join(f'{p}={h}' for p, h in got.items()):<60} {secs:7.1f} s CPU  {verdict}",
                  flush=True)
        con.close()
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(out, indent=1))
    if old:
        missing = sorted(set(old) - set(out))
        print(f"{len(out) - differ} of {len(out)} cases the same" + (f"; not run: {missing}" if missing else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
