"""Rules the copy keeps (issue 18): what keeping them costs or buys in fidelity.

For each table, rules every real row keeps; runs in balanced, strict and strictest mode, seeds
0..2, without the rules and with them. Figures: the share of synthetic rows breaking any rule
without them (with them it is 0: asserted), and the fidelity score (mean of fidelity.py's tvd1,
tvd2, tvd3) of both runs; CPU seconds per run beside.

    python bench/rules.py [--seeds 3] [--tables weather,credit]
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import duckdb
import numpy as np

import duckdb_synth

DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "data"
RULES = {
    "weather": ["dewp <= temp", "humid <= 100", "wind_speed <= wind_gust"],
    "credit": ["Amount <= Price", "Seniority <= Age"],
    "storms": ["hurricane_force_diameter <= tropicalstorm_force_diameter"],
    "cps1988": ["education <= 18"],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tables", default=",".join(RULES))
    ap.add_argument("--modes", default="balanced,strict,strictest")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp())
    print("| table | rules | mode | rows breaking a rule without | fidelity without | with | CPU s without | with |")
    print("|---|---|---|---|---|---|---|---|")
    for table in args.tables.split(","):
        rules = RULES[table]
        path = DATA / f"{table}.parquet"
        con = duckdb.connect()
        duckdb_synth.register(con)
        con.sql(f"CREATE TABLE t AS SELECT * FROM '{path}'")
        any_broken = " OR ".join(f"NOT coalesce(({r}), true)" for r in rules)
        assert con.sql(f"SELECT count(*) FILTER ({any_broken}) FROM t").fetchall()[0][0] == 0
        for mode in args.modes.split(","):
            row = {}
            for with_rules in (False, True):
                broken, fids, cpu = [], [], []
                for seed in range(args.seeds):
                    t0 = time.process_time()
                    res = duckdb_synth.run(con, "t", mode=mode, seed=seed, ledger=False,
                                           constraints=rules if with_rules else None)
                    tab = res.table
                    cpu.append(time.process_time() - t0)
                    con.register("s", tab)
                    share = con.sql(f"SELECT avg(CASE WHEN {any_broken} THEN 1 ELSE 0 END) FROM s").fetchall()[0][0]
                    assert not with_rules or share == 0, (table, mode, seed, share)
                    broken.append(share)
                    con.sql(f"COPY (SELECT * FROM s) TO '{tmp / 's.parquet'}' (FORMAT parquet)")
                    out = subprocess.run([sys.executable, str(DATA.parent / "fidelity.py"), str(path),
                                          str(tmp / "s.parquet"), "--json"], capture_output=True, text=True)
                    score = json.loads(out.stdout.splitlines()[0])
                    fids.append(np.mean([score[f"tvd{k}"] for k in (1, 2, 3)]))
                row[with_rules] = (np.mean(broken), np.mean(fids), np.mean(cpu))
            print(f"| {table} | {'; '.join(rules)} | {mode} | {row[False][0]:.2%} | {row[False][1]:.4f} | "
                  f"{row[True][1]:.4f} | {row[False][2]:.1f} | {row[True][2]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
