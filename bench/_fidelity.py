"""Scoring a synthetic table with ``shared/bench/fidelity.py``: one place for the bench scripts."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

FIDELITY = Path(__file__).resolve().parents[2] / "shared" / "bench" / "fidelity.py"


def score_files(real: Path | str, synth: Path | str, seed: int | None = None, fidelity: Path = FIDELITY) -> dict:
    """fidelity.py's JSON (tvd1, tvd2, tvd3, ...) for two files; a RuntimeError with its output if it fails."""
    cmd = [sys.executable, str(fidelity), str(real), str(synth), "--json"]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"fidelity.py exit {proc.returncode}: {proc.stdout}{proc.stderr}".strip())
    for line in proc.stdout.splitlines():
        if line.strip().startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"fidelity.py printed no JSON: {proc.stdout}")


def score_table(con: duckdb.DuckDBPyConnection, name: str, real: Path | str) -> dict:
    """Score the table or registered relation `name` of `con` against the real file."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "synth.parquet"
        con.sql(f"COPY (SELECT * FROM {name}) TO '{out}' (FORMAT parquet)")
        return score_files(real, out)


def mean_tvd(score: dict) -> float:
    """The mean of tvd1, tvd2 and tvd3: the one fidelity figure the README's tables give."""
    return (score["tvd1"] + score["tvd2"] + score["tvd3"]) / 3
