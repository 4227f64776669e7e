#!/usr/bin/env python3
"""Benchmark duckdb_synth against smartnoise-synth's MST: time, peak memory, marginal TVD.

Run with the project's own Python (the one where duckdb_synth is installed):

    python bench/run_bench.py                          # all tables, all modes, reference too
    python bench/run_bench.py --tables diamonds,credit --modes strictest
    python bench/run_bench.py --no-reference           # ours only
    python bench/run_bench.py --no-ours                # smartnoise only
    python bench/run_bench.py --ref-synth mst,aim --ref-eps 1 --tables diamonds

Every synthesizer run is a child process of its own, so its wall time and peak resident
memory (``ru_maxrss`` of that one child, from ``os.wait4``) are measured alone. Each
synthetic table is then scored by ``fidelity.py`` (shared/bench) against the real one.
Results go to ``OUT_DIR/results.md`` and ``OUT_DIR/results.json`` (default ``bench/out``,
which git ignores), rewritten after every run, and the markdown table is printed at the end.

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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DATA_DIR = REPO.parent / "shared" / "bench" / "data"
DEFAULT_FIDELITY = REPO.parent / "shared" / "bench" / "fidelity.py"
DEFAULT_OUT_DIR = HERE / "out"
REF_VENV_ENV = "DUCKDB_SYNTH_REF_VENV"
DEFAULT_REF_VENV = Path.home() / ".cache" / "duckdb-synth-bench" / "ref"

# Our privacy modes and the epsilon each one stands for (DESIGN.md section 1).
MODE_EPSILON: dict[str, float | None] = {"balanced": None, "strict": 3.0, "strictest": 1.0}


@dataclass
class Result:
    table: str
    method: str
    eps: float | None
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
    synth_path: str | None = None
    log_path: str | None = None
    extra: dict = field(default_factory=dict)


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
    proc = subprocess.run(
        [sys.executable, str(fidelity), str(real), str(synth), "--json", "--seed", str(seed)],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"fidelity.py exit {proc.returncode}: {proc.stdout}{proc.stderr}".strip())
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"fidelity.py printed no JSON: {proc.stdout}")


def fmt_eps(eps: float | None) -> str:
    if eps is None:
        return "-"
    return f"{eps:g}"


def slug(method: str, eps: float | None) -> str:
    base = "".join(c if c.isalnum() or c in "-._=" else "_" for c in method)
    return f"{base}_eps{fmt_eps(eps)}" if eps is not None else base


def run_one(res: Result, cmd: list[str], real: Path, out_dir: Path, fidelity: Path,
            seed: int, timeout: float, env: dict[str, str] | None = None) -> Result:
    synth_path = Path(res.synth_path)  # type: ignore[arg-type]
    log_path = out_dir / "logs" / f"{res.table}__{slug(res.method, res.eps)}.log"
    res.log_path = str(log_path)
    if synth_path.exists():
        synth_path.unlink()
    print(f"[{_dt.datetime.now():%H:%M:%S}] {res.table} / {res.method} / eps={fmt_eps(res.eps)} ...",
          end=" ", flush=True)
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
            fid = score(fidelity, real, synth_path, seed)
            res.tvd1, res.tvd2, res.tvd3 = fid.get("tvd1"), fid.get("tvd2"), fid.get("tvd3")
            res.rows_real, res.rows_synth = fid.get("rows_real"), fid.get("rows_synth")
        except Exception as e:  # noqa: BLE001
            res.status, res.error = "score-failed", str(e)
    if res.status == "ok":
        print(f"{res.seconds:.1f} s, {res.peak_mb:.0f} MB, tvd3={res.tvd3}", flush=True)
    else:
        print(f"{res.status.upper()} ({res.seconds:.1f} s); see {log_path}", flush=True)
    return res


# ---------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------

COLUMNS = ("table", "method", "eps", "seconds", "peak MB", "tvd1", "tvd2", "tvd3")


def _cell(v: object, digits: int | None = None) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and digits is not None:
        return f"{v:.{digits}f}"
    return str(v)


def markdown(results: list[Result]) -> str:
    rows = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * 6) + "|"]
    for r in results:
        if r.status == "ok":
            secs = _cell(r.seconds, 1)
        else:
            secs = f"{r.status.upper()} ({_cell(r.seconds, 1)})"
        rows.append("| " + " | ".join([
            r.table, r.method, fmt_eps(r.eps), secs, _cell(r.peak_mb, 0),
            _cell(r.tvd1, 4), _cell(r.tvd2, 4), _cell(r.tvd3, 4),
        ]) + " |")
    return "\n".join(rows)


def write_outputs(out_dir: Path, results: list[Result], meta: dict) -> None:
    md = [
        "# duckdb_synth benchmark",
        "",
        f"{meta['started']}, {meta['machine']}, seed {meta['seed']}",
        "",
        markdown(results),
        "",
        "seconds: wall time of the synthesizer's own process (interpreter start, read, fit, "
        "sample, write Parquet); peak MB: that process's peak resident memory; tvd1/2/3: "
        "fidelity.py's mean total variation distance over 1-, 2- and 3-way marginals "
        "(lower is better).",
    ]
    failed = [r for r in results if r.status != "ok"]
    if failed:
        md += ["", "## Failures", ""]
        for r in failed:
            md += [f"* {r.table} / {r.method} / eps={fmt_eps(r.eps)}: {r.status}, log {r.log_path}",
                   "", "```", (r.error or "").strip(), "```", ""]
    (out_dir / "results.md").write_text("\n".join(md) + "\n")
    payload = {"meta": meta, "results": [asdict(r) for r in results]}
    (out_dir / "results.json").write_text(json.dumps(payload, indent=2) + "\n")


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
    ap.add_argument("--modes", default="balanced,strict,strictest",
                    help="our modes, comma-separated: balanced, strict (eps 3), strictest "
                         "(eps 1), or eps=X (default: balanced,strict,strictest)")
    ap.add_argument("--delta", type=float, default=None,
                    help="delta for eps=X modes (default: the package's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                    help=f"results, synthetic tables and logs (default {DEFAULT_OUT_DIR})")
    ap.add_argument("--fidelity", type=Path, default=DEFAULT_FIDELITY,
                    help=f"fidelity.py to score with (default {DEFAULT_FIDELITY})")
    ap.add_argument("--no-ours", action="store_true", help="skip duckdb_synth")
    ap.add_argument("--no-reference", action="store_true", help="skip smartnoise-synth")
    ap.add_argument("--ref-python", type=Path, default=None,
                    help="python of the reference venv (default $DUCKDB_SYNTH_REF_VENV/bin/python "
                         f"or {DEFAULT_REF_VENV}/bin/python; make it with bench/setup_reference.sh)")
    ap.add_argument("--ref-synth", default="mst",
                    help="smartnoise synthesizers, comma-separated: mst, aim (default mst; "
                         "aim takes ~10 min and several GB per table)")
    ap.add_argument("--ref-eps", default="1,3", help="epsilons for the reference (default 1,3)")
    ap.add_argument("--ref-preprocessor-fraction", type=float, default=None,
                    help="share of epsilon smartnoise spends on continuous bounds "
                         "(default: reference_mst.py's, 1/3)")
    ap.add_argument("--timeout", type=float, default=3600.0,
                    help="seconds before one synthesizer run is killed (default 3600)")
    ap.add_argument("--child", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--child-mode", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-epsilon", type=float, default=None, help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        return child_main(args.child[0], args.child[1], args.child_mode, args.child_epsilon,
                          args.delta, args.seed)

    def _on_term(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signum)  # unwinds through measure(), which ends the child

    signal.signal(signal.SIGTERM, _on_term)

    data_dir: Path = args.data_dir.resolve()
    tables = sorted(data_dir.glob("*.parquet"))
    if args.tables:
        wanted = [t.strip() for t in args.tables.split(",") if t.strip()]
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

    modes = [] if args.no_ours else parse_modes(args.modes)
    ref_python = args.ref_python or default_ref_python()
    ref_synths = [] if args.no_reference else [s.strip() for s in args.ref_synth.split(",") if s.strip()]
    ref_eps = [float(e) for e in args.ref_eps.split(",") if e.strip()]
    if ref_synths and not Path(ref_python).exists():
        raise SystemExit(f"reference python not found: {ref_python}\n"
                         "run `bash bench/setup_reference.sh`, pass --ref-python, or --no-reference")
    if not modes and not ref_synths:
        raise SystemExit("nothing to run: both --no-ours and --no-reference")

    out_dir: Path = args.out_dir.resolve()
    (out_dir / "synth").mkdir(parents=True, exist_ok=True)
    (out_dir / "logs").mkdir(parents=True, exist_ok=True)
    meta = {
        "started": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "seed": args.seed,
        "python": sys.executable,
        "ref_python": str(ref_python) if ref_synths else None,
        "data_dir": str(data_dir),
        "fidelity": str(fidelity),
        "argv": sys.argv[1:] if argv is None else argv,
    }
    results: list[Result] = []

    child_env = dict(os.environ)
    # make `import duckdb_synth` work from a source checkout that is not pip-installed
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)]))
    ref_env = dict(os.environ)
    ref_env.setdefault("JAX_PLATFORMS", "cpu")
    ref_env.pop("PYTHONPATH", None)

    for real in tables:
        name = real.stem
        for label, mode, eps in modes:
            res = Result(table=name, method=f"duckdb_synth {label}", eps=eps)
            res.synth_path = str(out_dir / "synth" / f"{name}__{slug('ours_' + label, None)}.parquet")
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(real),
                   res.synth_path, "--seed", str(args.seed)]
            if mode is not None:
                cmd += ["--child-mode", mode]
            else:
                cmd += ["--child-epsilon", repr(eps)]
                if args.delta is not None:
                    cmd += ["--delta", repr(args.delta)]
            results.append(run_one(res, cmd, real, out_dir, fidelity, args.seed, args.timeout,
                                   child_env))
            write_outputs(out_dir, results, meta)
        for synth in ref_synths:
            for eps in ref_eps:
                res = Result(table=name, method=f"smartnoise {synth}", eps=eps)
                res.synth_path = str(out_dir / "synth" / f"{name}__{slug('smartnoise_' + synth, eps)}.parquet")
                cmd = [str(ref_python), str(HERE / "reference_mst.py"), str(real), res.synth_path,
                       "--epsilon", repr(eps), "--synth", synth, "--seed", str(args.seed)]
                if args.ref_preprocessor_fraction is not None:
                    cmd += ["--preprocessor-fraction", repr(args.ref_preprocessor_fraction)]
                results.append(run_one(res, cmd, real, out_dir, fidelity, args.seed, args.timeout,
                                       ref_env))
                write_outputs(out_dir, results, meta)

    print()
    print(markdown(results))
    print(f"\nwritten: {out_dir / 'results.md'}, {out_dir / 'results.json'}")
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
