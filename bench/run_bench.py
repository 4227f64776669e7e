#!/usr/bin/env python3
"""Benchmark duckdb_synth against smartnoise-synth's MST and AIM: time, peak memory, marginal TVD.

Run with the project's own Python (the one where duckdb_synth is installed):

    python bench/run_bench.py                          # all tables, raw and binned, all modes
    python bench/run_bench.py --tables diamonds,credit --modes strictest --copies binned
    python bench/run_bench.py --no-reference           # ours only
    python bench/run_bench.py --no-ours                # smartnoise only (MST and AIM: hours)
    python bench/run_bench.py --reuse-reference bench/out/ref/results.json   # ours fresh,
                                                       # smartnoise taken from an earlier run

Every table is run twice: as it is (``raw``) and as its all-categorical copy made by
``discretize.py`` (``binned``, cached in ``OUT_DIR/data``), on which marginal-based
synthesizers are usually compared; a binned synthetic table is scored against the binned
real copy. Every synthesizer run is a child process of its own, so its wall time and peak
resident memory (``ru_maxrss`` of that one child, from ``os.wait4``) are measured alone.
Each synthetic table is then scored by ``fidelity.py`` (shared/bench) against the real one.
Results go to ``OUT_DIR/results.md`` and ``OUT_DIR/results.json`` (default ``bench/out``,
which git ignores), rewritten after every run, and the markdown is printed at the end.

``--child IN OUT`` is internal: the child process that runs duckdb_synth on one table.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _fidelity import score_files

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED_BENCH = REPO.parent / "shared" / "bench"
DEFAULT_DATA_DIR = SHARED_BENCH / "data"
DEFAULT_FIDELITY = SHARED_BENCH / "fidelity.py"
DEFAULT_DISCRETIZE = SHARED_BENCH / "discretize.py"
DEFAULT_OUT_DIR = HERE / "out"
REF_VENV_ENV = "DUCKDB_SYNTH_REF_VENV"
DEFAULT_REF_VENV = Path.home() / ".cache" / "duckdb-synth-bench" / "ref"

# Our privacy modes and the epsilon each one stands for (DESIGN.md section 1).
MODE_EPSILON: dict[str, float | None] = {"balanced": None, "strict": 3.0, "strictest": 1.0}

COPIES = ("raw", "binned")

# The authors' figures, copied by hand from shared/bench/data/README.md (fidelity.py tvd3,
# measured on the project's 2-core machines). "reference" = the authors' own private-pgm
# mechanisms/mst.py and aim.py (AIM with the all-3-way workload) on the binned copy; the
# last column is smartnoise-synth 1.0.8's MST on the raw table. None: not given there (the
# README's credit AIM cell is a placeholder).
AUTHORS_README = "shared/bench/data/README.md"
AUTHORS_COLUMNS = (
    ("floor", "bootstrap floor"),
    ("independent", "independent columns"),
    ("mst1", "reference MST, eps=1"),
    ("mst3", "reference MST, eps=3"),
    ("aim1", "reference AIM, eps=1"),
    ("sn_mst1", "smartnoise MST, eps=1 (raw table)"),
)
AUTHORS: dict[str, dict[str, str | None]] = {
    "diamonds": {"floor": "0.040", "independent": "0.522", "mst1": "0.151 (42 s)",
                 "mst3": "0.144 (34 s)", "aim1": "0.097 (1,374 s, 4.6 GB)",
                 "sn_mst1": "0.928 (25-80 s)"},
    "credit": {"floor": "0.093", "independent": "0.229", "mst1": "0.225 (106 s)",
               "mst3": None, "aim1": None, "sn_mst1": "0.717 (52 s)"},
    "cps1988": {"floor": "0.027", "independent": "0.115", "mst1": "0.072 (51 s)",
                "mst3": "0.062 (21 s)", "aim1": "0.038 (967 s, 3.4 GB)",
                "sn_mst1": "0.533 (36 s)"},
}
# The authors' AIM tvd3 at eps=1 on the binned copy; a binned row at eps=1 has the target
# TARGET_FACTOR x this (10% better than the authors' AIM).
AUTHORS_AIM_EPS1: dict[str, float] = {"diamonds": 0.097, "cps1988": 0.038}
TARGET_FACTOR = 0.9

# Thread limits for reference children (--ref-threads 1): jax/XLA, OpenMP and BLAS would
# otherwise start a thread per core each and starve everything else on a small machine.
REF_THREAD_ENV_1 = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


@dataclass
class Result:
    table: str
    method: str
    eps: float | None
    copy: str = "raw"                     # raw table or its binned (all-categorical) copy
    seed: int = 0                         # the synthesizer's seed
    seconds: float | None = None          # wall time of the child process, start to exit
    peak_mb: float | None = None          # peak resident set size of the child process
    tvd1: float | None = None
    tvd2: float | None = None
    tvd3: float | None = None
    rows_real: int | None = None
    rows_synth: int | None = None
    inner_seconds: float | None = None    # time the child itself reports (no interpreter start-up)
    status: str = "ok"
    error: str | None = None
    timeout: float | None = None          # the time limit the run had, seconds
    finished: str | None = None           # when the run ended (ISO timestamp)
    reused_from: str | None = None        # set when taken from an earlier results.json: its date
    real_path: str | None = None          # the table the run read and was scored against
    synth_path: str | None = None
    log_path: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def is_reference(self) -> bool:
        return self.method.startswith("smartnoise ")

    def key(self) -> tuple:
        return (self.table, self.copy, self.method, _eps_key(self.eps), self.seed)


def _eps_key(eps: float | None) -> float | None:
    return None if eps is None else round(float(eps), 9)


# ---------------------------------------------------------------------------------------
# child: run duckdb_synth on one table
# ---------------------------------------------------------------------------------------

def child_main(src: str, dst: str, mode: str | None, epsilon: float | None,
               delta: float | None, seed: int) -> int:
    t0 = time.perf_counter()
    import duckdb
    import pyarrow.parquet as pq

    import duckdb_synth

    con = duckdb.connect()
    try:
        kwargs: dict[str, object] = {"seed": seed}
        if epsilon is not None:
            kwargs["epsilon"] = epsilon
            if delta is not None:
                kwargs["delta"] = delta
        else:
            kwargs["mode"] = mode
        res = duckdb_synth.run(con, src, **kwargs)
        table = res.table
        pq.write_table(table, dst)
    finally:
        con.close()
    seconds = time.perf_counter() - t0
    info: dict[str, object] = {"seconds": round(seconds, 3), "rows_out": table.num_rows}
    inner = getattr(res, "seconds", None)
    if isinstance(inner, (int, float)):
        info["run_seconds"] = round(float(inner), 3)  # the package's own timing of run()
    spend = getattr(res, "spend", None)
    for attr in ("mode", "epsilon", "delta", "epsilon_spent", "rho_budget", "rho_spent"):
        val = getattr(spend, attr, None)
        if isinstance(val, (int, float, str)):
            info[attr] = val
    print(json.dumps(info))
    return 0


# ---------------------------------------------------------------------------------------
# parent: measure children
# ---------------------------------------------------------------------------------------

def measure(cmd: list[str], log_path: Path, timeout: float,
            env: dict[str, str] | None = None) -> tuple[int, float, float, bool]:
    """Run cmd; return (exit code, wall seconds, peak RSS in MB, timed_out).

    Peak RSS is ru_maxrss of this one child (os.wait4 gives the rusage of the process it
    reaps), so earlier, larger runs do not leak into later figures the way
    getrusage(RUSAGE_CHILDREN) would.
    """
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        timed_out = False
        deadline = t0 + timeout
        try:
            while True:
                pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    break
                if time.perf_counter() > deadline:
                    timed_out = True
                    _kill_group(proc.pid)
                    pid, status, rusage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
        except BaseException:
            # Ctrl-C or any error here: the child runs in its own session and would not
            # get the terminal's SIGINT, so end it (and only it) before leaving.
            _kill_group(proc.pid)
            try:
                os.wait4(proc.pid, 0)
            except ChildProcessError:
                pass
            proc.returncode = -9
            raise
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4: keep Popen from waiting again
    peak_kb = rusage.ru_maxrss  # kilobytes on Linux
    if sys.platform == "darwin":
        peak_kb /= 1024.0  # bytes there
    return code, wall, peak_kb / 1024.0, timed_out


def _kill_group(pid: int) -> None:
    """SIGKILL the child's process group (the child was started in a session of its own)."""
    try:
        os.killpg(pid, 9)
    except ProcessLookupError:
        pass


def last_json_line(path: Path) -> dict:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return {}


def tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def score(fidelity: Path, real: Path, synth: Path, seed: int) -> dict:
    return score_files(real, synth, seed, fidelity)


def binned_copy(real: Path, data_out: Path, discretize: Path) -> Path:
    """OUT/data/<table>_binned.parquet from discretize.py, remade only when missing or older
    than the source table (or than discretize.py)."""
    dst = data_out / f"{real.stem}_binned.parquet"
    newest_input = max(real.stat().st_mtime, discretize.stat().st_mtime)
    if dst.exists() and dst.stat().st_mtime >= newest_input:
        return dst
    data_out.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    print(f"[{_dt.datetime.now():%H:%M:%S}] discretize.py {real.name} -> {dst}", flush=True)
    proc = subprocess.run([sys.executable, str(discretize), str(real), str(tmp)],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not tmp.exists():
        tmp.unlink(missing_ok=True)
        raise SystemExit(f"discretize.py failed on {real} (exit {proc.returncode}):\n"
                         f"{proc.stdout}{proc.stderr}")
    os.replace(tmp, dst)  # whole file or none, even if interrupted
    return dst


def fmt_eps(eps: float | None) -> str:
    if eps is None:
        return "-"
    return f"{eps:g}"


def slug(method: str, eps: float | None) -> str:
    base = "".join(c if c.isalnum() or c in "-._=" else "_" for c in method)
    return f"{base}_eps{fmt_eps(eps)}" if eps is not None else base


def run_name(res: Result) -> str:
    return f"{res.table}__{res.copy}__{slug(res.method, res.eps)}__seed{res.seed}"


def run_one(res: Result, cmd: list[str], out_dir: Path, fidelity: Path, score_seed: int,
            timeout: float, env: dict[str, str] | None = None) -> Result:
    real = Path(res.real_path)  # type: ignore[arg-type]
    synth_path = Path(res.synth_path)  # type: ignore[arg-type]
    log_path = out_dir / "logs" / f"{run_name(res)}.log"
    res.log_path = str(log_path)
    res.timeout = timeout
    if synth_path.exists():
        synth_path.unlink()
    print(f"[{_dt.datetime.now():%H:%M:%S}] {res.table} ({res.copy}) / {res.method} / "
          f"eps={fmt_eps(res.eps)} / seed {res.seed} ...", end=" ", flush=True)
    code, wall, peak_mb, timed_out = measure(cmd, log_path, timeout, env)
    res.seconds, res.peak_mb = round(wall, 2), round(peak_mb, 1)
    info = last_json_line(log_path)
    if "seconds" in info:
        res.inner_seconds = float(info["seconds"])
    res.extra = {k: v for k, v in info.items() if k != "seconds"}
    if timed_out:
        res.status, res.error = "timeout", f"killed after {timeout:g} s"
    elif code != 0 or not synth_path.exists():
        res.status = "failed"
        res.error = f"exit {code}: " + tail(log_path, 8)
    else:
        try:
            fid = score(fidelity, real, synth_path, score_seed)
            res.tvd1, res.tvd2, res.tvd3 = fid.get("tvd1"), fid.get("tvd2"), fid.get("tvd3")
            res.rows_real, res.rows_synth = fid.get("rows_real"), fid.get("rows_synth")
        except Exception as e:  # noqa: BLE001
            res.status, res.error = "score-failed", str(e)
    res.finished = _dt.datetime.now().isoformat(timespec="seconds")
    if res.status == "ok":
        print(f"{res.seconds:.1f} s, {res.peak_mb:.0f} MB, tvd3={res.tvd3}", flush=True)
    else:
        print(f"{res.status.upper()} ({res.seconds:.1f} s); see {log_path}", flush=True)
    return res


# ---------------------------------------------------------------------------------------
# earlier results (--reuse-reference)
# ---------------------------------------------------------------------------------------

def load_reusable(path: Path, min_timeout: float) -> dict[tuple, Result]:
    """Reference results of an earlier results.json, by (table, copy, method, eps, seed).

    Runs that finished, and runs that timed out under a limit at least min_timeout (so the
    TIMEOUT figure still holds); failed runs are left to be run again. Files written before
    the copy and seed fields existed count as raw tables and the file's single seed.
    """
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"--reuse-reference: cannot read {path}: {e}")
    meta = payload.get("meta", {})
    when = str(meta.get("started", "?"))
    known = set(Result.__dataclass_fields__)
    out: dict[tuple, Result] = {}
    for raw in payload.get("results", []):
        r = Result(**{k: v for k, v in raw.items() if k in known})
        if not r.is_reference:
            continue
        if "seed" not in raw:
            r.seed = int(meta.get("seed", 0))
        if r.status == "timeout":
            limit = r.timeout if r.timeout is not None else r.seconds
            if limit is None or limit < min_timeout:
                continue
        elif r.status != "ok":
            continue
        if not r.reused_from:  # keep the date of the run that made the figures
            r.reused_from = _short_date(r.finished or when)
        r.extra = dict(r.extra, reused_file=str(path))
        out[r.key()] = r
    return out


def _short_date(iso: str) -> str:
    return iso.replace("T", " ")[:16]


# ---------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------

def target(table: str, copy: str, eps: float | None) -> float | None:
    """TARGET_FACTOR x the authors' AIM tvd3, for binned rows at eps=1 where it is known."""
    aim = AUTHORS_AIM_EPS1.get(table)
    if copy != "binned" or aim is None or eps is None or abs(eps - 1.0) > 1e-9:
        return None
    return round(TARGET_FACTOR * aim, 4)


def _cell(v: object, digits: int | None = None) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and digits is not None:
        return f"{v:.{digits}f}"
    return str(v)


def _seconds_cell(r: Result) -> str:
    if r.status == "ok":
        return _cell(r.seconds, 1)
    if r.status == "timeout":
        limit = r.timeout if r.timeout is not None else r.seconds
        return f"TIMEOUT (>{_cell(limit, 0)} s)"
    return f"{r.status.upper()} ({_cell(r.seconds, 1)})"


def _peak_cell(r: Result) -> str:
    # a killed run had reached at least this much when it was stopped
    return (">" if r.status == "timeout" and r.peak_mb is not None else "") + _cell(r.peak_mb, 0)


def _note(r: Result) -> str:
    return f"reused from {r.reused_from}" if r.reused_from else ""


def sort_results(results: list[Result]) -> list[Result]:
    """Grouped by table, copy (raw first), method (ours first, in run order), eps, seed."""
    tables: dict[str, int] = {}
    methods: dict[str, int] = {}
    for r in results:
        tables.setdefault(r.table, len(tables))
    for r in sorted(results, key=lambda r: r.is_reference):
        methods.setdefault(r.method, len(methods))

    def key(r: Result) -> tuple:
        copy_rank = COPIES.index(r.copy) if r.copy in COPIES else len(COPIES)
        eps = -1.0 if r.eps is None else r.eps
        return (tables[r.table], copy_rank, methods[r.method], eps, r.seed)

    return sorted(results, key=key)


def _table(header: list[str], align: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def markdown(results: list[Result]) -> str:
    """One row per run."""
    header = ["table", "copy", "method", "eps", "seed", "seconds", "peak MB",
              "tvd1", "tvd2", "tvd3", "target", "note"]
    align = ["---"] * 3 + ["---:"] * 8 + ["---"]
    rows = []
    for r in sort_results(results):
        rows.append([r.table, r.copy, r.method, fmt_eps(r.eps), str(r.seed), _seconds_cell(r),
                      _peak_cell(r), _cell(r.tvd1, 4), _cell(r.tvd2, 4), _cell(r.tvd3, 4),
                      _cell(target(r.table, r.copy, r.eps), 4), _note(r)])
    return _table(header, align, rows)


def _mean(vals: list[float | None]) -> float | None:
    got = [v for v in vals if v is not None]
    return sum(got) / len(got) if got else None


def summary_markdown(results: list[Result]) -> str:
    """Mean over seeds per (table, copy, method, eps); finished runs only."""
    groups: dict[tuple, list[Result]] = {}
    for r in sort_results(results):
        groups.setdefault((r.table, r.copy, r.method, _eps_key(r.eps)), []).append(r)
    header = ["table", "copy", "method", "eps", "runs", "seeds", "mean seconds", "max peak MB",
              "mean tvd1", "mean tvd2", "mean tvd3", "target", "note"]
    align = ["---"] * 3 + ["---:"] * 9 + ["---"]
    rows = []
    for (table, copy, method, _), rs in groups.items():
        ok = [r for r in rs if r.status == "ok"]
        notes = sorted({_note(r) for r in rs if r.reused_from})
        bad = [r for r in rs if r.status != "ok"]
        if bad:
            notes.append(", ".join(f"seed {r.seed}: {_seconds_cell(r)}" for r in bad))
        peaks = [r.peak_mb for r in ok if r.peak_mb is not None]
        rows.append([
            table, copy, method, fmt_eps(rs[0].eps), f"{len(ok)}/{len(rs)}",
            ",".join(str(r.seed) for r in rs),
            _cell(_mean([r.seconds for r in ok]), 1), _cell(max(peaks) if peaks else None, 0),
            _cell(_mean([r.tvd1 for r in ok]), 4), _cell(_mean([r.tvd2 for r in ok]), 4),
            _cell(_mean([r.tvd3 for r in ok]), 4), _cell(target(table, copy, rs[0].eps), 4),
            "; ".join(notes),
        ])
    return _table(header, align, rows)


def authors_markdown(tables: list[str]) -> str:
    header = ["table"] + [title for _, title in AUTHORS_COLUMNS] + ["target (binned, eps=1)"]
    align = ["---"] + ["---:"] * (len(AUTHORS_COLUMNS) + 1)
    rows = []
    for t in tables:
        fig = AUTHORS.get(t)
        if fig is None:
            continue
        rows.append([t] + [fig.get(k) or "-" for k, _ in AUTHORS_COLUMNS]
                    + [_cell(target(t, "binned", 1.0), 4)])
    return _table(header, align, rows)


def report(results: list[Result], meta: dict) -> str:
    seeds = ",".join(str(s) for s in meta["seeds"])
    ref_seeds = ",".join(str(s) for s in meta["ref_seeds"])
    md = [
        "# duckdb_synth benchmark",
        "",
        f"{meta['started']}, {meta['machine']}; seeds {seeds} (ours), {ref_seeds} (smartnoise); "
        f"fidelity.py scored with --seed {meta['score_seed']}",
        "",
        "## Runs",
        "",
        markdown(results),
        "",
        "## Mean over seeds",
        "",
        summary_markdown(results),
        "",
        "seconds: wall time of the synthesizer's own process (interpreter start, read, fit, "
        "sample, write Parquet); peak MB: that process's peak resident memory; tvd1/2/3: "
        "fidelity.py's mean total variation distance over 1-, 2- and 3-way marginals "
        "(lower is better); copy: the table as it is (raw) or its discretize.py copy "
        "(binned, scored against the binned real table); target: "
        f"{TARGET_FACTOR:g} x the authors' AIM tvd3 (binned, eps=1) where known; "
        "note: rows reused from an earlier results.json (--reuse-reference) say so, with "
        "the date of the run that produced them.",
        "",
        f"## The authors' figures ({AUTHORS_README})",
        "",
        authors_markdown(meta["tables"]),
        "",
        "tvd3 on the project's 2-core machines; reference = the authors' private-pgm "
        "mst.py / aim.py on the binned copy.",
    ]
    failed = [r for r in sort_results(results) if r.status != "ok"]
    if failed:
        md += ["", "## Failures and timeouts", ""]
        for r in failed:
            where = f", {_note(r)}" if r.reused_from else ""
            md += [f"* {r.table} ({r.copy}) / {r.method} / eps={fmt_eps(r.eps)} / seed {r.seed}: "
                   f"{r.status}{where}, log {r.log_path}",
                   "", "```", (r.error or "").strip(), "```", ""]
    return "\n".join(md) + "\n"


def write_outputs(out_dir: Path, results: list[Result], meta: dict) -> str:
    text = report(results, meta)
    _write_atomic(out_dir / "results.md", text)
    payload = {"meta": meta, "results": [asdict(r) for r in sort_results(results)]}
    _write_atomic(out_dir / "results.json", json.dumps(payload, indent=2) + "\n")
    return text


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------

def parse_modes(text: str) -> list[tuple[str, str | None, float | None]]:
    """'balanced,strict,eps=0.5' -> [(label, mode, epsilon)]."""
    out: list[tuple[str, str | None, float | None]] = []
    for tok in filter(None, (t.strip() for t in text.split(","))):
        if tok in MODE_EPSILON:
            out.append((tok, tok, MODE_EPSILON[tok]))
        elif tok.startswith(("eps=", "epsilon=")):
            eps = float(tok.split("=", 1)[1])
            out.append((f"epsilon={eps:g}", None, eps))
        else:
            raise SystemExit(f"unknown mode {tok!r}: use {', '.join(MODE_EPSILON)} or eps=X")
    return out


def parse_list(text: str, what: str, conv=str) -> list:
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return [conv(t) for t in items]
    except ValueError:
        raise SystemExit(f"bad {what}: {text!r}")


def default_ref_python() -> Path:
    venv = Path(os.environ.get(REF_VENV_ENV, str(DEFAULT_REF_VENV)))
    return venv / "bin" / "python"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                    help=f"folder of *.parquet tables (default {DEFAULT_DATA_DIR})")
    ap.add_argument("--tables", default=None,
                    help="comma-separated table names (file stems), default: every *.parquet")
    ap.add_argument("--copies", default="raw,binned",
                    help="raw (the table), binned (its discretize.py copy, made in "
                         "OUT_DIR/data), or both (default raw,binned)")
    ap.add_argument("--modes", default="balanced,strict,strictest",
                    help="our modes, comma-separated: balanced, strict (eps 3), strictest "
                         "(eps 1), or eps=X (default: balanced,strict,strictest)")
    ap.add_argument("--delta", type=float, default=None,
                    help="delta for eps=X modes (default: the package's default)")
    ap.add_argument("--seeds", default=None,
                    help="seeds for our runs, comma-separated (default 0,1,2)")
    ap.add_argument("--ref-seeds", default=None,
                    help="seeds for the reference runs, comma-separated, or 'all' for "
                         "--seeds (default 0: smartnoise is slow)")
    ap.add_argument("--seed", type=int, default=None,
                    help="shorthand for --seeds N --ref-seeds N")
    ap.add_argument("--score-seed", type=int, default=0,
                    help="fidelity.py's --seed (which 2-/3-way marginals it samples); the same "
                         "for every run so that runs are scored alike (default 0)")
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                    help=f"results, synthetic tables and logs (default {DEFAULT_OUT_DIR})")
    ap.add_argument("--fidelity", type=Path, default=DEFAULT_FIDELITY,
                    help=f"fidelity.py to score with (default {DEFAULT_FIDELITY})")
    ap.add_argument("--discretize", type=Path, default=DEFAULT_DISCRETIZE,
                    help=f"discretize.py making the binned copies (default {DEFAULT_DISCRETIZE})")
    ap.add_argument("--no-ours", action="store_true", help="skip duckdb_synth")
    ap.add_argument("--no-reference", action="store_true",
                    help="run no smartnoise-synth (rows found by --reuse-reference still shown)")
    ap.add_argument("--ref-python", type=Path, default=None,
                    help="python of the reference venv (default $DUCKDB_SYNTH_REF_VENV/bin/python "
                         f"or {DEFAULT_REF_VENV}/bin/python; make it with bench/setup_reference.sh)")
    ap.add_argument("--ref-synth", default="mst,aim",
                    help="smartnoise synthesizers, comma-separated: mst, aim (default mst,aim; "
                         "aim takes ~15 min and ~4 GB per table)")
    ap.add_argument("--ref-eps", default="1,3", help="epsilons for the reference (default 1,3)")
    ap.add_argument("--ref-preprocessor-fraction", type=float, default=None,
                    help="share of epsilon smartnoise spends on continuous bounds "
                         "(default: reference_mst.py's, 1/3)")
    ap.add_argument("--ref-timeout", type=float, default=1800.0,
                    help="seconds before one reference run is killed and reported as TIMEOUT "
                         "(default 1800)")
    ap.add_argument("--ref-threads", type=int, default=1,
                    help="threads for reference children: 1 (default) sets OMP/OPENBLAS/MKL "
                         "_NUM_THREADS=1 and single-threaded XLA_FLAGS; N>1 sets the *_NUM_THREADS "
                         "to N; 0 leaves the environment as it is")
    ap.add_argument("--reuse-reference", type=Path, default=None, metavar="FILE.json",
                    help="take reference results matching (table, copy, method, eps, seed) from "
                         "an earlier results.json instead of running them")
    ap.add_argument("--timeout", type=float, default=3600.0,
                    help="seconds before one of our runs is killed (default 3600)")
    ap.add_argument("--child", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--child-mode", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-epsilon", type=float, default=None, help=argparse.SUPPRESS)
    return ap


def ref_child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("JAX_PLATFORMS", "cpu")
    env.pop("PYTHONPATH", None)
    if threads == 1:
        env.update(REF_THREAD_ENV_1)
    elif threads > 1:
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
    return env


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        return child_main(args.child[0], args.child[1], args.child_mode, args.child_epsilon,
                          args.delta, args.seed or 0)

    def _on_term(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)  # unwinds through measure(), which ends the child

    signal.signal(signal.SIGTERM, _on_term)

    data_dir: Path = args.data_dir.resolve()
    tables = sorted(data_dir.glob("*.parquet"))
    if args.tables:
        wanted = parse_list(args.tables, "--tables")
        by_name = {p.stem: p for p in tables}
        missing = [w for w in wanted if w not in by_name]
        if missing:
            raise SystemExit(f"no such table(s) in {data_dir}: {missing}; have {sorted(by_name)}")
        tables = [by_name[w] for w in wanted]
    if not tables:
        raise SystemExit(f"no *.parquet tables in {data_dir}")
    fidelity: Path = args.fidelity.resolve()
    if not fidelity.exists():
        raise SystemExit(f"fidelity script not found: {fidelity}")
    copies = parse_list(args.copies, "--copies")
    bad = [c for c in copies if c not in COPIES]
    if bad or not copies:
        raise SystemExit(f"--copies: use raw, binned or both, not {args.copies!r}")
    discretize: Path = args.discretize.resolve()
    if "binned" in copies and not discretize.exists():
        raise SystemExit(f"discretize script not found: {discretize}")

    default_seeds = "0,1,2" if args.seed is None else str(args.seed)
    seeds = parse_list(args.seeds or default_seeds, "--seeds", int)
    if args.ref_seeds == "all":
        ref_seeds = list(seeds)
    else:
        default_ref = "0" if args.seed is None else str(args.seed)
        ref_seeds = parse_list(args.ref_seeds or default_ref, "--ref-seeds", int)

    modes = [] if args.no_ours else parse_modes(args.modes)
    ref_python = args.ref_python or default_ref_python()
    ref_synths = parse_list(args.ref_synth, "--ref-synth")
    bad = [s for s in ref_synths if s not in ("mst", "aim")]
    if bad:
        raise SystemExit(f"--ref-synth: use mst, aim, not {bad}")
    ref_eps = parse_list(args.ref_eps, "--ref-eps", float)
    reusable = (load_reusable(args.reuse_reference.resolve(), args.ref_timeout)
                if args.reuse_reference else {})
    run_reference = not args.no_reference and bool(ref_synths)
    if not run_reference and not reusable:
        ref_synths = []
    if not modes and not ref_synths:
        why = " (and --reuse-reference matched nothing reusable)" if args.reuse_reference else ""
        raise SystemExit(f"nothing to run: both --no-ours and --no-reference{why}")

    out_dir: Path = args.out_dir.resolve()
    (out_dir / "synth").mkdir(parents=True, exist_ok=True)
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    ref_env = ref_child_env(args.ref_threads)
    meta = {
        "started": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "tables": [t.stem for t in tables],
        "copies": copies,
        "seeds": seeds,
        "ref_seeds": ref_seeds,
        "score_seed": args.score_seed,
        "ref_timeout": args.ref_timeout,
        "ref_thread_env": {k: ref_env.get(k) for k in REF_THREAD_ENV_1},
        "reuse_reference": str(args.reuse_reference.resolve()) if args.reuse_reference else None,
        "python": sys.executable,
        "ref_python": str(ref_python) if run_reference else None,
        "data_dir": str(data_dir),
        "fidelity": str(fidelity),
        "discretize": str(discretize) if "binned" in copies else None,
        "argv": sys.argv[1:] if argv is None else argv,
    }

    # the plan: every (table, copy) with the real file it reads and is scored against
    inputs: list[tuple[str, str, Path]] = []
    for real in tables:
        for copy in copies:
            path = real if copy == "raw" else binned_copy(real, out_dir / "data", discretize)
            inputs.append((real.stem, copy, path))

    results: list[Result] = []
    ref_todo: list[Result] = []
    for synth in ref_synths:
        for name, copy, path in inputs:
            for eps in ref_eps:
                for seed in ref_seeds:
                    res = Result(table=name, method=f"smartnoise {synth}", eps=eps, copy=copy,
                                 seed=seed, real_path=str(path))
                    old = reusable.get(res.key())
                    if old is not None:
                        results.append(old)
                    elif run_reference:
                        ref_todo.append(res)
    if ref_todo and not Path(ref_python).exists():
        raise SystemExit(f"reference python not found: {ref_python}\n"
                         "run `bash bench/setup_reference.sh`, pass --ref-python, or --no-reference")
    if results:
        print(f"reusing {len(results)} reference result(s) from {args.reuse_reference}")

    child_env = dict(os.environ)
    # make `import duckdb_synth` work from a source checkout that is not pip-installed
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)]))

    # ours first (seconds each), then the reference (minutes to the time limit each)
    for name, copy, path in inputs:
        for label, mode, eps in modes:
            for seed in seeds:
                res = Result(table=name, method=f"duckdb_synth {label}", eps=eps, copy=copy,
                             seed=seed, real_path=str(path))
                res.synth_path = str(out_dir / "synth" / f"{run_name(res)}.parquet")
                cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(path),
                       res.synth_path, "--seed", str(seed)]
                if mode is not None:
                    cmd += ["--child-mode", mode]
                else:
                    cmd += ["--child-epsilon", repr(eps)]
                    if args.delta is not None:
                        cmd += ["--delta", repr(args.delta)]
                results.append(run_one(res, cmd, out_dir, fidelity, args.score_seed,
                                       args.timeout, child_env))
                write_outputs(out_dir, results, meta)
    for res in ref_todo:
        synth = res.method.split()[-1]
        res.synth_path = str(out_dir / "synth" / f"{run_name(res)}.parquet")
        cmd = [str(ref_python), str(HERE / "reference_mst.py"), str(res.real_path),
               res.synth_path, "--epsilon", repr(res.eps), "--synth", synth,
               "--seed", str(res.seed)]
        if args.ref_preprocessor_fraction is not None:
            cmd += ["--preprocessor-fraction", repr(args.ref_preprocessor_fraction)]
        results.append(run_one(res, cmd, out_dir, fidelity, args.score_seed, args.ref_timeout,
                               ref_env))
        write_outputs(out_dir, results, meta)

    text = write_outputs(out_dir, results, meta)
    print()
    print(text)
    print(f"written: {out_dir / 'results.md'}, {out_dir / 'results.json'}")
    return 0 if all(r.status == "ok" for r in results if not r.reused_from) else 1


if __name__ == "__main__":
    sys.exit(main())
