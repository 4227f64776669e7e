#!/usr/bin/env python3
"""Issue 12's targets, read off a ``run_bench.py`` results folder.

    python bench/run_bench.py --no-reference --seeds 0,1,2 --out-dir DIR   # the runs
    python bench/targets.py DIR [--against OLD_DIR] [--markdown FILE]       # this

For every table of the run: the mean over seeds of tvd1/tvd2/tvd3 in balanced mode and at
eps = 1 and 3 on the raw table and its binned copy; next to them the references measured here
(bootstrap floor, from the data README) and *independent columns* measured by this script (each
column of the real table resampled on its own, seeds 0-2, raw and binned; cached in DIR); and
BoundaryAdherence: the share of a numeric, date or time column's synthetic values inside the
real column's [min, max] (SDMetrics' metric), the worst column's. The targets:

* DP: raw tvd3 <= 1.25 x the binned copy's at the same eps; on tables of 10,000 rows or more,
  raw tvd2 and tvd3 below independent columns, and every column's BoundaryAdherence >= 0.99;
* balanced: tvd3 <= 1.5 x the bootstrap floor.

``--against`` prints a second results folder's figures beside these (old and new code).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb
import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "bench"
FLOOR = {"diamonds": 0.040, "credit": 0.093, "cps1988": 0.027, "storms": 0.072, "weather": 0.051,
         "cars": 0.042, "yrbss": 0.052,  # bootstrap floor, ../shared/bench/data/README.md
         # the tables fetch_data.py --extra writes: fidelity.py of a bootstrap resample (loans seeds 0-2,
         # flights 0-1), measured here on 2026-12-05
         "loans": 0.067, "flights": 0.027,
         # and the seven more it has written since 2026-12-06 (seeds 0-2, measured here that day)
         "movies": 0.012, "pizza": 0.036, "hotel": 0.029, "covid": 0.056, "pets": 0.056, "mpls": 0.020,
         "force": 0.084,
         # and the twenty fetch_data.py --more writes (seeds 0-2, measured here on 2026-12-06; the mean to 4 places:
         # anes 0.0375 is 0.038 to 3, and 1.5 x the one is 0.0563, the other 0.057)
         "check_times": 0.0321, "birds": 0.0562, "doctor": 0.0311, "baseball": 0.0544, "nass": 0.0201,
         "nlswork": 0.0360, "labsup": 0.0199, "nycfl": 0.0773, "anes": 0.0375, "rats": 0.0467, "murders": 0.0706,
         "gsswages": 0.0367, "tv16": 0.0271, "movielens": 0.0492, "abortion": 0.0533, "tweets": 0.0288,
         "inspections": 0.0430, "mlmstar": 0.0338, "rwm5yr": 0.0192, "nhis": 0.0284}
MODES = (("balanced", None), ("strict", 3.0), ("strictest", 1.0))
ORDERED = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
           "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL", "DATE", "TIMESTAMP", "TIME")


def fidelity_module(path: Path):
    sys.path.insert(0, str(path.parent))
    import fidelity  # noqa: E402
    return fidelity


def boundary(real: str, synth: str) -> dict[str, float]:
    """Per numeric/temporal column: share of the synthetic non-NULL values within the real [min, max]."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW r AS SELECT * FROM '{real}'")
    con.execute(f"CREATE VIEW s AS SELECT * FROM '{synth}'")
    out = {}
    for name, typ, *_ in con.sql("DESCRIBE r").fetchall():
        if not typ.upper().startswith(ORDERED):
            continue
        q = '"' + name.replace('"', '""') + '"'
        lo, hi = con.execute(f"SELECT min({q}), max({q}) FROM r").fetchone()
        if lo is None:
            continue
        share = con.execute(f"SELECT avg(CASE WHEN {q} BETWEEN $1 AND $2 THEN 1.0 ELSE 0.0 END) FROM s "
                            f"WHERE {q} IS NOT NULL", [lo, hi]).fetchone()[0]
        if share is not None:
            out[name] = float(share)
    con.close()
    return out


def independent(real: Path, cache: Path, fidelity: Path, seeds=(0, 1, 2)) -> dict[str, float]:
    """tvd1/2/3 of the real table with each column resampled on its own (mean over seeds)."""
    key = cache / f"independent__{real.stem}.json"
    if key.exists():
        return json.loads(key.read_text())
    import pyarrow as pa
    import pyarrow.parquet as pq
    import subprocess
    t = pq.read_table(real)
    got = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        cols = {c: t.column(c).take(pa.array(rng.integers(0, t.num_rows, t.num_rows))) for c in t.column_names}
        path = cache / f"independent__{real.stem}__{seed}.parquet"
        pq.write_table(pa.table(cols), path)
        out = subprocess.run([sys.executable, str(fidelity), str(real), str(path)], capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        got.append({k: float(v) for k, v in (kv.split("=") for kv in out.split()) if k.startswith("tvd")})
    res = {k: float(np.mean([g[k] for g in got])) for k in got[0]}
    key.write_text(json.dumps(res))
    return res


def collect(folder: Path) -> dict:
    """{(table, copy, mode): {'tvd1': mean, ..., 'ba': worst mean adherence, 'n': rows, 'cpu': s}}"""
    data = json.loads((folder / "results.json").read_text())["results"]
    groups: dict[tuple, list[dict]] = {}
    for r in data:
        if r["status"] != "ok" or not r["method"].startswith("duckdb_synth"):
            continue
        groups.setdefault((r["table"], r["copy"], r["method"].split()[-1]), []).append(r)
    out = {}
    for key, rs in groups.items():
        row = {k: float(np.mean([r[k] for r in rs])) for k in ("tvd1", "tvd2", "tvd3")}
        row["n"] = rs[0]["rows_real"]
        row["seconds"] = float(np.mean([r["seconds"] for r in rs]))
        row["seeds"] = len(rs)
        if key[1] == "raw":
            per_col: dict[str, list[float]] = {}
            for r in rs:
                for c, v in boundary(r["real_path"], r["synth_path"]).items():
                    per_col.setdefault(c, []).append(v)
            means = {c: float(np.mean(v)) for c, v in per_col.items()}
            worst = min(means, key=means.get) if means else None
            row["ba"] = means[worst] if worst else None
            row["ba_col"] = worst
        out[key] = row
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--against", type=Path)
    ap.add_argument("--fidelity", type=Path, default=SHARED / "fidelity.py")
    ap.add_argument("--markdown", type=Path)
    a = ap.parse_args()
    new = collect(a.folder)
    old = collect(a.against) if a.against else {}
    tables = sorted({k[0] for k in new})
    meta = json.loads((a.folder / "results.json").read_text())["meta"]
    data_dir = Path(meta["data_dir"])
    lines = ["| table | rows | mode | raw tvd1 / tvd2 / tvd3 | binned tvd3 | raw / binned | independent tvd2 / tvd3 "
             "| worst BoundaryAdherence | target |", "|---|---|---|---|---|---|---|---|---|"]
    missed = 0

    def fig(d: dict, key: tuple, f: str, digits: int = 3) -> str:
        v = d.get(key, {}).get(f)
        return "–" if v is None else f"{v:.{digits}f}"

    for t in tables:
        ind = independent(data_dir / f"{t}.parquet", a.folder, a.fidelity)
        for mode, eps in MODES:
            raw, binned = new.get((t, "raw", mode)), new.get((t, "binned", mode))
            if raw is None:
                continue
            was = (lambda f, c="raw": f" (was {fig(old, (t, c, mode), f)})" if old else "")
            cells = [t, str(raw["n"]), mode if eps is None else f"eps={eps:g}",
                     " / ".join(f"{raw[f]:.3f}" for f in ("tvd1", "tvd2", "tvd3")) + was("tvd3")]
            ok = True
            if eps is None:
                cells += [fig(new, (t, "binned", mode), "tvd3"), "", "", ""]
                limit = 1.5 * FLOOR.get(t, float("nan"))
                ok = raw["tvd3"] <= limit
                cells.append(f"tvd3 <= {limit:.3f} (1.5 x floor {FLOOR.get(t)}): {'met' if ok else 'MISSED'}")
            else:
                ratio = raw["tvd3"] / binned["tvd3"] if binned else float("nan")
                ba = raw.get("ba")
                cells += [f"{binned['tvd3']:.3f}" + was("tvd3", "binned") if binned else "–", f"{ratio:.2f}",
                          f"{ind['tvd2']:.3f} / {ind['tvd3']:.3f}",
                          "–" if ba is None else f"{ba:.3f} ({raw['ba_col']})"]
                why = []
                if not ratio <= 1.25:
                    why.append("ratio")
                if raw["n"] >= 10_000:
                    if not (raw["tvd2"] < ind["tvd2"] and raw["tvd3"] < ind["tvd3"]):
                        why.append("vs independent")
                    if ba is not None and ba < 0.99:
                        why.append("boundary")
                ok = not why
                cells.append("met" if ok else "MISSED: " + ", ".join(why))
            missed += not ok
            lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + f"\n\n{missed} target row(s) missed.\n"
    print(text)
    if a.markdown:
        a.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
