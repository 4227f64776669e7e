"""Speed and memory of whole runs (issue 13): wall and CPU seconds and peak RSS per case.

Cases (``--cases``, comma-separated):

* ``TABLE@EPS``: a table of ``../shared/bench/data`` at that epsilon (default: every table at
  eps 1 and 3), e.g. ``diamonds@1``, or in balanced mode, ``diamonds@balanced``;
* ``mixedNxD@EPS``: a generated mixed-type table of N rows and D columns (integers, decimals,
  doubles, dates, timestamps, booleans, skewed text), e.g. ``mixed1Mx50@1``, ``mixed10Mx20@1``
  (N takes k and M);
* ``surveyNxD@EPS``: a generated survey of N rows and D columns: D - 2 answers on a 1-5 scale
  (INTEGER, 3 % NULL) driven by three hidden factors, a 50-value state, an age; e.g.
  ``survey15kx62@3`` (a wide table of the shape of a loans or survey extract nobody tuned for);
* ``writeN``: ``COPY (SELECT * FROM synthesize('src', epsilon := 1, "rows" := N)) TO 'out.parquet'``
  on the generated ``mixed1Mx20`` table, e.g. ``write100M`` (the fit, then N rows made and written
  batch by batch; a checkout without batched output holds them all). The rows pass through
  DuckDB's own COPY, which keeps their order by default and then buffers up to a quarter of
  its ``memory_limit`` (80 % of RAM by default) of out-of-order batches: that, not the run,
  is what grows with N (``SET preserve_insertion_order = false`` or a lower
  ``memory_limit`` bounds it);
* ``fileN``: ``duckdb-synth synthesize DB src --epsilon 1 --rows N -o out.parquet`` (the CLI, in
  the child process) on the same table: the rows written batch by batch by the run itself.

Each case runs in a child process that imports ``duckdb_synth`` from a checkout (this one, and
with ``--old ROOT`` another one beside it, case by case), so CPU seconds count every thread of
that run and peak RSS is that run's alone. The machine is shared and noisy (its speed drifts by
10-30 % over minutes): a fixed numpy workload (``calibration``) is timed just before and just
after each run, and every CPU figure is also printed scaled by the mean of the two to a machine
where that workload takes ``CALIBRATION_REF`` = 1.5 s (the unit of the issue's targets).

    python bench/scale.py [--cases diamonds@1,mixed1Mx50@1] [--old /tmp/base] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "bench" / "data"
TABLES = ("diamonds", "credit", "cps1988", "storms", "weather", "cars", "yrbss")
CALIBRATION_REF = 1.5  # seconds the calibration workload takes on the machine the targets assume


def calibration() -> float:
    """CPU seconds of a fixed numpy workload, single-threaded, of the kinds our runs spend their time in:
    bincount (counting marginals), a stable argsort of 16-bit keys (controlled rounding and decoding
    sort by radix), a gather and exp (the estimator's updates), small einsum reductions (its messages).

    Until 2026-12-05 it was bincount, a float sort and exp: numpy 2.4's vectorised float sort took it
    from 1.6-1.9 s to 0.45-0.54 s on machines where whole runs took the same CPU seconds, so its
    'cpu@1.5' column read three times too high. This one takes 1.2-1.3 s on the machine of 2026-12-05,
    where runs cost what they did on 2026-12-04's, whose old workload took 1.75 s (cpu@1.5 = 0.86 x CPU
    there): the 1.5 s reference keeps its meaning."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.integers(0, 1 << 16, 4_000_000)
    y = rng.random(4_000_000)
    keys = x.astype(np.uint16)
    a, b = rng.random((64, 64, 64)), rng.random((64, 64))
    start = time.process_time()
    for _ in range(11):
        np.bincount(x, minlength=1 << 16)
        np.argsort(keys, kind="stable")
        np.exp(-y[x]).sum()
        for _ in range(10):
            np.einsum("ijk,jk->i", a, b)
    return time.process_time() - start


def count(text: str) -> int:
    """'100k' -> 100000, '10M' -> 10000000."""
    m = re.fullmatch(r"(\d+)([kKmM]?)", text)
    if not m:
        raise SystemExit(f"not a row count: {text!r} (e.g. 100k, 1M)")
    return int(m.group(1)) * {"": 1, "k": 10**3, "m": 10**6}[m.group(2).lower()]


def mixed_sql(n: int, d: int) -> str:
    """A deterministic mixed-type table of n rows and d columns, generated inside DuckDB."""
    kinds = [
        "(hash(i, {k}) % 90)::INTEGER AS c{k}",  # small integers (ages)
        "round((hash(i, {k}) % 100000) / 100.0 + 10, 2)::DECIMAL(10,2) AS c{k}",  # money
        "round(ln(1 + hash(i, {k}) % 1000000) * 3.7, 3)::DOUBLE AS c{k}",  # a skewed double
        "(DATE '2000-01-01' + (hash(i, {k}) % 9000)::INTEGER) AS c{k}",  # dates
        "(TIMESTAMP '2020-01-01' + to_seconds((hash(i, {k}) % 31536000)::BIGINT)) AS c{k}",  # whole seconds
        "(hash(i, {k}) % 3 = 0) AS c{k}",  # booleans
        "'v' || (floor(power((hash(i, {k}) % 1000000) / 1e6, 3) * 60))::INTEGER AS c{k}",  # skewed text
    ]
    cols = [kinds[k % len(kinds)].format(k=k) for k in range(d)]
    return f"SELECT {', '.join(cols)} FROM range({n}) t(i)"


def made_once(name: str, code: str, *args: str) -> Path:
    """A database file holding a generated table ``src``, made once by `code` (run as ``python -c code
    PATH *args``, in another process, so that making it counts in no case's time or memory) and kept
    for later runs."""
    path = Path(tempfile.gettempdir()) / "duckdb_synth_scale" / f"{name}.duckdb"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        part = path.with_suffix(".part")
        part.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-c", code, str(part), *args], check=True)
        part.rename(path)
    return path


def mixed_db(n: int, d: int) -> Path:
    """The generated mixed-type table of n rows and d columns (``mixed_sql``), made once."""
    code = ("import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
            "c.execute('CREATE TABLE src AS ' + sys.argv[2]); c.close()")
    return made_once(f"mixed{n}x{d}", code, mixed_sql(n, d))


SURVEY_CODE = """
import duckdb, numpy as np, pyarrow as pa, sys
n, d = int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(42); q = d - 2
lik = np.clip(np.round(3 + rng.normal(size=(n, 3)) @ rng.normal(size=(3, q)) / 2 + rng.normal(0, 1, (n, q))), 1, 5)
null = rng.random((n, q)) < 0.03
cols = {f"q{j:02d}": pa.array(lik[:, j].astype(np.int32), mask=null[:, j]) for j in range(q)}
cols["state"] = rng.choice([f"S{k:02d}" for k in range(50)], n, p=rng.dirichlet(np.ones(50)))
cols["age"] = np.clip(np.round(rng.normal(45, 15, n)), 18, 90).astype(np.int32)
c = duckdb.connect(sys.argv[1]); t = pa.table(cols); c.execute("CREATE TABLE src AS SELECT * FROM t"); c.close()
"""


def survey_db(n: int, d: int) -> Path:
    """The generated survey of n rows and d columns (seed 42), made once: d - 2 answers 1-5 (three
    latent factors plus noise, 3 % NULL), a state (50 values, Dirichlet shares), an age (normal
    45 +- 15 within 18-90)."""
    return made_once(f"survey{n}x{d}", SURVEY_CODE, str(n), str(d))


GENERATED = {"mixed": mixed_db, "survey": survey_db}


def generated_db(case: str) -> Path | None:
    """The database file a case reads, made once if it is a generated table (``mixedNxD@EPS``,
    ``surveyNxD@EPS``, ``writeN``, ``fileN``); None for a table of ``../shared/bench/data``."""
    m = re.fullmatch(r"(mixed|survey)(\w+)x(\d+)@([\d.]+|balanced)", case)
    if m:
        return GENERATED[m.group(1)](count(m.group(2)), int(m.group(3)))
    if re.fullmatch(r"(write|file)\w+", case):
        return mixed_db(10**6, 20)
    return None


def child(root: str, case: str, seed: int) -> int:
    """One case from checkout `root`; prints one JSON line."""
    sys.path.insert(0, root)
    import duckdb

    import duckdb_synth

    m = re.fullmatch(r"(\w+?)@([\d.]+|balanced)", case)
    write = re.fullmatch(r"(write|file)(\w+)", case)
    rows = None
    db = generated_db(case)
    if db is not None:  # the generated tables are read from a database file, as a user's large table would be
        con = duckdb.connect(str(db), read_only=True)
        if write:
            eps, rows = 1.0, count(write.group(2))
    elif m:
        con = duckdb.connect()
        con.execute(f"CREATE TABLE src AS SELECT * FROM read_parquet('{DATA / (m.group(1) + '.parquet')}')")
    else:
        raise SystemExit(f"unknown case {case!r}: TABLE@EPS, mixedNxD@EPS, surveyNxD@EPS, writeN or fileN")
    if m:
        eps = None if m.group(2) == "balanced" else float(m.group(2))
    # The generated tables are opened read-only (one file, kept for later runs), so their DP runs keep
    # no ledger; a checkout from before the ledger (issue 14) takes no such option.
    import inspect

    ledger = "ledger" in inspect.signature(duckdb_synth.run).parameters
    no_ledger = {"ledger": False} if ledger and eps is not None else {}
    wall, cpu = time.perf_counter(), time.process_time()
    if write and write.group(1) == "file":
        from duckdb_synth.surfaces.cli import main as cli

        con.close()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "out.parquet"
            cli.main(["synthesize", str(mixed_db(10**6, 20)), "src", "--epsilon", str(eps), "--seed", str(seed),
                      "--rows", str(rows), "-o", str(path), "--no-progress", *(["--no-ledger"] if ledger else [])],
                     standalone_mode=False)
            made = duckdb.sql(f"SELECT count(*) FROM '{path}'").fetchall()[0][0]
    elif write:
        duckdb_synth.register(con)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "out.parquet"
            con.execute(f"COPY (SELECT * FROM synthesize('src', epsilon := {eps}, seed := {seed}, "
                        f"\"rows\" := {rows}{', ledger := false' if ledger else ''})) TO '{path}' (FORMAT parquet)")
            made = con.sql(f"SELECT count(*) FROM '{path}'").fetchall()[0][0]
    else:
        res = (duckdb_synth.run(con, "src", seed=seed, rows=rows) if eps is None else
               duckdb_synth.run(con, "src", epsilon=eps, seed=seed, rows=rows, **no_ledger))
        if hasattr(res, "output"):  # the rows made batch by batch, as a writer would take them
            made = sum(b.num_rows for b in res.output.batches())
        else:  # a checkout from before batched output
            made = res.table.num_rows
    out = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
           "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rows": made}
    print(json.dumps(out))
    return 0


def run(root: Path, case: str, seed: int, timeout: float) -> str:
    try:
        res = subprocess.run([sys.executable, __file__, "--child", str(root), case, str(seed)],
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if res.returncode:
        lines = res.stderr.strip().splitlines() or [f"exit {res.returncode}"]
        return f"failed: {lines[-1][:120]}"
    return res.stdout.strip().splitlines()[-1]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(f"{t}@{e}" for t in TABLES for e in (1, 3)))
    ap.add_argument("--old", type=Path, help="another checkout to run beside this one, case by case")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per case and side")
    args = ap.parse_args()
    sides = [("new", ROOT)] + ([("old", args.old.resolve())] if args.old else [])
    for case in args.cases.split(","):  # the generated tables' files first: no case's time or memory
        generated_db(case)
    print(f"calibration workload: timed in this process just before and after each run (the 'calib s' column,\n"
          f"their mean); the 'cpu@{CALIBRATION_REF:g}' column is CPU s x {CALIBRATION_REF:g} / that mean: "
          f"as on a machine where the workload takes {CALIBRATION_REF:g} s")
    print(f"{'case':18s} {'side':4s} {'wall s':>8s} {'cpu s':>8s} {f'cpu@{CALIBRATION_REF:g}':>8s} "
          f"{'peak MB':>8s} {'rows':>11s} {'calib s':>8s}")
    for case in args.cases.split(","):
        for side, root in sides:
            before = calibration()
            line = run(root, case, args.seed, args.timeout)
            calib = (before + calibration()) / 2  # the machine's speed around this run (it drifts by minutes)
            if not line.startswith("{"):
                print(f"{case:18s} {side:4s} {line}", flush=True)
                continue
            f = json.loads(line)
            print(f"{case:18s} {side:4s} {f['wall']:8.1f} {f['cpu']:8.1f} {f['cpu'] * CALIBRATION_REF / calib:8.1f} "
                  f"{f['rss_mb']:8.0f} {f['rows']:11,d} {calib:8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
