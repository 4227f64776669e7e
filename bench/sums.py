"""Sums in the workload (issue 17 part 3): group totals of the copy with and without the sum measured.

For each table, one sum ({'columns': GROUP, 'sum': VALUE, 'clamp': [0, HI]}, public bounds chosen
to hold nearly all values); runs in balanced, strict (eps 3) and strictest (eps 1) mode, seeds 0..2,
once without the sum (the default workload) and once with it. Figure: the mean over groups holding
at least 1 % of the rows of |synthetic total - real total| / real total, both of values clamped to
the bounds; and the fidelity score (mean TVD of 1-3-way marginals, fidelity.py's sets) of both runs,
so that meeting the totals is seen not to cost the rest. CPU seconds per run beside.

    python bench/sums.py [--seeds 3] [--tables diamonds,cps1988]
"""
from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import duckdb
import numpy as np

import duckdb_synth
from _fidelity import mean_tvd, score_table

DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "data"
PATIENTS = Path(duckdb_synth.__file__).parent / "examples" / "patients.parquet"
SUMS = {  # table: (group columns, summed column, upper bound of the clamp)
    "patients": (["diagnosis"], "bill_amount", 5000),
    "diamonds": (["cut"], "price", 20000),
    "cps1988": (["region"], "wage", 3000),
    "credit": (["Home"], "Amount", 5000),
    "weather": (["origin"], "wind_speed", 50),
    "storms": (["status"], "wind", 200),
    "yrbss": (["gender", "grade"], "weight", 200),
}


def totals(con, rel: str, group: list[str], value: str, hi: float) -> dict:
    g = ", ".join(f'"{c}"' for c in group)
    return {r[:-2]: (r[-2], r[-1]) for r in con.sql(
        f'SELECT {g}, sum(least(greatest("{value}", 0), {hi})::DOUBLE), count(*) FROM {rel} GROUP BY ALL').fetchall()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tables", default=",".join(SUMS))
    ap.add_argument("--modes", default="balanced,strict,strictest")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)

    print("| table | sum | mode | total error without | with | fidelity without | with | CPU s without | with |")
    print("|---|---|---|---|---|---|---|---|---|")
    for table in args.tables.split(","):
        group, value, hi = SUMS[table]
        path = PATIENTS if table == "patients" else DATA / f"{table}.parquet"
        con = duckdb.connect()
        duckdb_synth.register(con)
        con.sql(f"CREATE TABLE t AS SELECT * FROM '{path}'")
        real = totals(con, "t", group, value, hi)
        n = sum(c for _, c in real.values())
        big = {k: s for k, (s, c) in real.items() if c >= 0.01 * n and s > 0}
        for mode in args.modes.split(","):
            row = {}
            for with_sum in (False, True):
                marg = [{"columns": group, "sum": value, "clamp": [0, hi]}] if with_sum else None
                errs, fids, cpu = [], [], []
                for seed in range(args.seeds):
                    t0 = time.process_time()
                    res = duckdb_synth.run(con, "t", mode=mode, seed=seed, marginals=marg, ledger=False)
                    tab = res.table
                    cpu.append(time.process_time() - t0)
                    con.register("s", tab)
                    syn = totals(con, "s", group, value, hi)
                    errs.append(np.mean([abs(syn.get(k, (0, 0))[0] - s) / s for k, s in big.items()]))
                    fids.append(mean_tvd(score_table(con, "s", path)))
                row[with_sum] = (np.mean(errs), np.mean(fids), np.mean(cpu))
            label = f"sum({value}) by {', '.join(group)} in [0, {hi}]"
            print(f"| {table} | {label} | {mode} | {row[False][0]:.4f} | {row[True][0]:.4f} | {row[False][1]:.4f} | "
                  f"{row[True][1]:.4f} | {row[False][2]:.1f} | {row[True][2]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
