"""Rules the copy keeps (issue 18): what keeping them costs or buys in fidelity.

For each table, rules every real row keeps; runs in balanced, strict and strictest mode, seeds
0..2, without the rules and with them. Figures: the share of synthetic rows breaking any rule
without them (a dependency: every row of a determinant value that goes with two values, as the
report counts; with them it is 0: asserted),
and the fidelity score (mean of fidelity.py's tvd1, tvd2, tvd3) of both runs; CPU seconds per run
beside. `--after` keeps the dependencies and combinations after the rows are drawn only (the model's
conditionals not told of them), to compare with keeping them while drawing.

    python bench/rules.py [--seeds 3] [--tables weather,credit] [--after]
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
from duckdb_synth.engine.rules import parse_rules, violations_sql
from duckdb_synth.engine.schema import read_schema

DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "data"
RULES = {
    "weather": ["dewp <= temp", "humid <= 100", "wind_speed <= wind_gust"],
    "credit": ["Amount <= Price", "Seniority <= Age"],
    "storms": ["hurricane_force_diameter <= tropicalstorm_force_diameter"],
    "cps1988": ["education <= 18"],
    # dependencies and combinations every real row keeps (cars: a car's type and fuel are asked thrice)
    "cars": ["type1 -> type3", "type1 -> type5", "fuel1 -> fuel2", "fuel3 -> fuel4",
             "(fuel5, fuel6) IN (('gasoline', 'gasoline'), ('electric', 'electric'))"],
    "credit_text": ["NOT (Home = 'parents' AND Marital = 'widow')", "NOT (Marital = 'divorced' AND Job = 'others')"],
}
FILES = {"credit_text": "credit"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tables", default=",".join(RULES))
    ap.add_argument("--modes", default="balanced,strict,strictest")
    ap.add_argument("--after", action="store_true")
    args = ap.parse_args()
    if args.after:
        from duckdb_synth.engine import output

        plain = output.draw
        output.draw = lambda model, n, rng, keep=None: plain(model, n, rng)
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    print("| table | rules | mode | rows breaking a rule without | fidelity without | with | CPU s without | with |")
    print("|---|---|---|---|---|---|---|---|")
    for table in args.tables.split(","):
        rules = RULES[table]
        path = DATA / f"{FILES.get(table, table)}.parquet"
        con = duckdb.connect()
        duckdb_synth.register(con)
        con.sql(f"CREATE TABLE t AS SELECT * FROM '{path}'")
        flags = []
        for r in parse_rules(rules, read_schema(con, "SELECT * FROM t")):
            if r.kind == "fd":  # every row of a determinant value that goes with two values (as the report)
                g = ", ".join(f'"{c}"' for c in r.given)
                known = " AND ".join(f'"{c}" IS NOT NULL' for c in r.given)
                flags.append(f'({known} AND count(DISTINCT "{r.left}") OVER (PARTITION BY {g}) + max(CASE WHEN '
                             f'"{r.left}" IS NULL THEN 1 ELSE 0 END) OVER (PARTITION BY {g}) > 1)')
            else:
                flags.append(violations_sql(r))

        def broken_share(table_name: str) -> float:
            return con.sql(f"SELECT avg(CASE WHEN broken THEN 1 ELSE 0 END) FROM (SELECT coalesce("
                           f"{' OR '.join(flags)}, false) AS broken FROM {table_name})").fetchall()[0][0]

        assert broken_share("t") == 0
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
                    share = broken_share("s")
                    assert not with_rules or share == 0, (table, mode, seed, share)
                    broken.append(share)
                    fids.append(mean_tvd(score_table(con, "s", path)))
                row[with_rules] = (np.mean(broken), np.mean(fids), np.mean(cpu))
            print(f"| {table} | {'; '.join(rules)} | {mode} | {row[False][0]:.2%} | {row[False][1]:.4f} | "
                  f"{row[True][1]:.4f} | {row[False][2]:.1f} | {row[True][2]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
