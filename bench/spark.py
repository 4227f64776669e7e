"""The same run on DuckDB and on Spark local[N] (issue 16): seconds, memory, and what reaches the driver.

A generated mixed-type table (``scale.py``'s ``mixed_sql``: integers, decimals, doubles, dates,
timestamps, booleans, skewed text) is written once per size as a Parquet file; each case reads it
in a child process of its own:

* ``duckdb``: ``duckdb_synth.run(con, 'file.parquet', ...)``, rows written to Parquet;
* ``spark``: ``duckdb_synth.spark.run(spark, 'file.parquet', ...)`` on ``--master`` (local[2]), its
  DataFrame written as a Parquet directory (the rows made and written by the executors).

Printed per case: wall seconds; CPU seconds of the Python processes (``/usr/bin/time``: the driver,
and Spark's Python workers that have ended) and of Spark's JVM (from /proc, before it stops); peak RSS of the Python driver (where
the model is fitted and the rows are made) and, for Spark, of the JVM (driver and executors are
one JVM in local mode); the bytes of the answers the stages got from Spark (aggregates, partial
histograms and marginals, the selection's sample: ``SparkResult.driver_bytes``), which should
not grow with the rows: each histogram and marginal comes once, added up in Spark (the cells
of those tables are printed beside their bytes); and whether both engines made the same rows (same seed).

    python bench/spark.py [--rows 1M,10M] [--cols 20] [--epsilon 1] [--master local[2]] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from scale import count, mixed_sql  # noqa: E402


def table_file(n: int, d: int) -> Path:
    """The generated table as Parquet, made once in another process and kept."""
    path = Path(tempfile.gettempdir()) / "duckdb_synth_scale" / f"mixed{n}x{d}.parquet"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        part = path.with_suffix(".part")
        code = ("import duckdb, sys; duckdb.sql(\"COPY (\" + sys.argv[2] + \") TO '\" + sys.argv[1] + "
                "\"' (FORMAT parquet)\")")
        subprocess.run([sys.executable, "-c", code, str(part), mixed_sql(n, d)], check=True)
        part.rename(path)
    return path


def _jvm_status(pid: int) -> tuple[float, float]:
    """(peak RSS in MB, CPU seconds) of the JVM so far, from /proc."""
    peak = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return peak, sum(int(x) for x in fields[11:15]) / tick


def child(engine: str, path: str, epsilon: float, seed: int, master: str, out: str) -> None:
    import duckdb

    import duckdb_synth

    started = time.perf_counter()
    info: dict = {"engine": engine}
    if engine == "duckdb":
        res = duckdb_synth.run(duckdb.connect(), path, epsilon=epsilon, seed=seed, ledger=False)
        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")
        con.register("rows_out", res.output.reader())
        con.execute(f"COPY rows_out TO '{out}' (FORMAT parquet)")
        info["rows_out"] = res.num_rows
    else:
        from pyspark.sql import SparkSession

        import duckdb_synth.spark as dss

        spark = (SparkSession.builder.master(master).config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false").config("spark.driver.memory", "4g").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        got = dss.run(spark, path, epsilon=epsilon, seed=seed)  # rows made and written by the executors
        got.dataframe.write.mode("overwrite").parquet(out)
        info["rows_out"] = got.result.num_rows
        info["driver_bytes"] = got.driver_total
        info["driver_by"] = got.driver_bytes
        info["driver_cells"] = got.driver_cells
        info["partitions"] = spark.read.parquet(path).rdd.getNumPartitions()
        jvm = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
        info["jvm_peak_mb"], info["jvm_cpu_s"] = _jvm_status(int(jvm))
        spark.stop()
    info["wall_s"] = time.perf_counter() - started
    info["py_cpu_s"] = time.process_time()
    info["py_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(info), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1M,10M")
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--child", nargs=6, metavar=("ENGINE", "PATH", "EPS", "SEED", "MASTER", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        e, p, eps, seed, master, out = args.child
        child(e, p, float(eps), int(seed), master, out)
        return
    import duckdb

    print(f"| rows | engine | wall s | CPU s (Python) | CPU s (JVM) | driver peak RSS MB | JVM peak RSS MB | "
          f"bytes to the driver | same rows |")
    print("|---|---|---|---|---|---|---|---|---|")
    for rows in args.rows.split(","):
        n = count(rows)
        path = table_file(n, args.cols)
        outs = {}
        for engine in args.engines.split(","):
            out = Path(tempfile.gettempdir()) / "duckdb_synth_scale" / (
                f"out_duckdb_{n}.parquet" if engine == "duckdb" else f"out_spark_{n}")  # Spark: a directory
            cmd = ["/usr/bin/time", "-f", "TIME %U %S", sys.executable, __file__, "--child", engine, str(path),
                   str(args.epsilon), str(args.seed), args.master, str(out)]
            done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            lines = (done.stdout + done.stderr).splitlines()
            res = next((json.loads(x[7:]) for x in lines if x.startswith("RESULT ")), None)
            cpu = next((float(x.split()[1]) + float(x.split()[2]) for x in lines if x.startswith("TIME ")), None)
            if res is None:
                print(f"| {rows} | {engine} | failed: {' '.join(lines[-3:])[:300]} |")
                continue
            outs[engine] = out
            same = ""
            if engine != "duckdb" and "duckdb" in outs:
                q = "SELECT * FROM read_parquet('{}')"
                a = duckdb.sql(f"SELECT count(*), sum(hash(t)) FROM ({q.format(outs['duckdb'])}) t").fetchall()
                b = duckdb.sql(f"SELECT count(*), sum(hash(t)) FROM ({q.format(str(out) + '/*.parquet')}) t").fetchall()
                same = "yes" if a == b else "NO"
            print(f"| {rows} | {engine}{' ' + args.master + ', ' + str(res.get('partitions')) + ' partitions' if engine == 'spark' else ''}"
                  f" | {res['wall_s']:.1f} | {cpu:.1f} | {res.get('jvm_cpu_s', 0):.1f} | {res['py_peak_mb']:.0f} | "
                  f"{res.get('jvm_peak_mb', 0):.0f} | {res.get('driver_bytes', '-')} | {same} |", flush=True)
            if res.get("driver_by"):
                cells = res.get("driver_cells") or {}
                print("    bytes to the driver by kind: " + ", ".join(
                    f"{k} {v:,}" + (f" ({cells[k]:,} cells, {v / cells[k]:.1f} B a cell)" if cells.get(k) else "")
                    for k, v in sorted(res["driver_by"].items(), key=lambda kv: -kv[1])), flush=True)


if __name__ == "__main__":
    main()
