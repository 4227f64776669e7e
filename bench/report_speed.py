#!/usr/bin/env python3
"""How long the quality and privacy report takes on 1M rows x 20 columns, and its peak memory.

Usage:
    python bench/report_speed.py [--rows 1000000] [--html] [--keep DIR]

Builds a real and a synthetic table of mixed types (8 numbers, 2 dates, 1 timestamp,
1 time, 6 categories, 2 booleans; correlated columns, NULLs) as Parquet files, then
runs ``duckdb_synth.report`` on them in a fresh child process, so the figures are the
report's alone: seconds (reading included) and the child's peak resident memory.
With --html the child also writes the HTML page and prints how long that took.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent

# One generator for both tables; the synthetic one uses another seed and a weaker link
# between some columns, so its scores are realistic rather than perfect.
TABLE_SQL = """
SELECT
    CAST(18 + floor(u1 * 78) AS INTEGER)                                   AS age,
    round(50 + 30 * u2 + 0.3 * (18 + u1 * 78) + 5 * g1, 1)                 AS weight,
    CASE WHEN u3 < 0.1 THEN NULL ELSE round(1000 * u3 * u3, 2) END         AS income_k,
    CAST(round(exp(3 + 1.5 * g2), 2) AS DECIMAL(12, 2))                    AS amount,
    CAST(floor(u4 * 5) AS TINYINT)                                         AS children,
    CAST(100000 + floor(u5 * 900000) AS BIGINT)                            AS account,
    g1 * 10 + {link} * g2 * 10                                             AS score_a,
    g2 * 3 - 2                                                             AS score_b,
    DATE '2020-01-01' + CAST(floor(u6 * 1500) AS INTEGER)                  AS visit_date,
    DATE '1940-01-01' + CAST(floor(u1 * 365 * 78) AS INTEGER)              AS birth_date,
    TIMESTAMP '2021-01-01' + to_seconds(CAST(floor(u7 * 63000000) AS BIGINT)) AS admitted_at,
    TIME '06:00:00' + to_seconds(CAST(floor(u8 * 50000) AS BIGINT))        AS shift_start,
    CASE WHEN u9 < 0.5 THEN 'F' ELSE 'M' END                               AS sex,
    ['flu', 'cold', 'asthma', 'diabetes', 'fracture', 'migraine'][1 + CAST(floor(u3 * 5.99) AS INTEGER)] AS dx,
    'city_' || CAST(floor(u5 * u5 * 300) AS INTEGER)                       AS city,
    'code_' || CAST(floor(pow(u10, 3) * 1000) AS INTEGER)                  AS code,
    CASE WHEN u2 < 0.05 THEN NULL ELSE ['A', 'B', 'C', 'D'][1 + CAST(floor(u2 * 3.99) AS INTEGER)] END AS grade,
    ['web', 'phone', 'branch'][1 + CAST(floor(u4 * 2.99) AS INTEGER)]      AS channel,
    u9 < 0.3 + 0.4 * u1                                                    AS smoker,
    u10 < 0.5                                                              AS insured
FROM (
    SELECT random() AS u1, random() AS u2, random() AS u3, random() AS u4, random() AS u5,
           random() AS u6, random() AS u7, random() AS u8, random() AS u9, random() AS u10,
           sqrt(-2 * ln(random() + 1e-12)) * cos(2 * pi() * random()) AS g1,
           sqrt(-2 * ln(random() + 1e-12)) * cos(2 * pi() * random()) AS g2
    FROM range({rows})
)
"""

CHILD = """
import json, resource, sys, time
import duckdb
import duckdb_synth
real, synth, html = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
t = time.perf_counter()
rep = duckdb_synth.report(con, real, synth)
seconds = time.perf_counter() - t
html_seconds = None
if html:
    t = time.perf_counter()
    rep.to_html(html)
    html_seconds = time.perf_counter() - t
con.close()
print(json.dumps({"seconds": seconds, "html_seconds": html_seconds,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "summary": rep.summary.to_pylist(), "notes": list(rep.notes)}))
"""


def build(folder: Path, rows: int) -> tuple[Path, Path]:
    """Write real.parquet and synth.parquet (`rows` rows each) into `folder`."""
    con = duckdb.connect()
    try:
        out = []
        for name, seed, link in (("real", 0.11, 0.6), ("synth", 0.57, 0.3)):
            con.execute(f"SELECT setseed({seed})")
            path = folder / f"{name}.parquet"
            con.execute(f"COPY ({TABLE_SQL.format(rows=rows, link=link)}) TO '{path}' (FORMAT parquet)")
            out.append(path)
    finally:
        con.close()
    return out[0], out[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--html", action="store_true", help="also write the HTML page and time it")
    ap.add_argument("--keep", type=Path, help="build the tables in this folder and keep them")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        real, synth = build(folder, args.rows)
        cols = duckdb.sql(f"DESCRIBE SELECT * FROM '{real}'").fetchall()
        print(f"tables: {args.rows:,} rows x {len(cols)} columns each ({real.stat().st_size / 1e6:.0f} + "
              f"{synth.stat().st_size / 1e6:.0f} MB of Parquet)")
        html = str(folder / "report.html") if args.html else ""
        done = subprocess.run([sys.executable, "-c", CHILD, str(real), str(synth), html], cwd=ROOT,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        res = json.loads(done.stdout.strip().splitlines()[-1])
    for row in res["summary"]:
        score = "-" if row["score"] is None else f"{row['score']:.3f}"
        print(f"  {row['property']:<24} {score}")
    for note in res["notes"]:
        print("  note:", note)
    print(f"report: {res['seconds']:.1f} s, peak {res['peak_mb']:.0f} MB"
          + (f"; HTML page {res['html_seconds']:.1f} s" if res["html_seconds"] is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
