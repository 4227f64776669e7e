"""Text with no frequent value (free text, ids, timestamps stored as text): found with DP, then left
out of the joint model, and the run says so."""
from __future__ import annotations

import logging

import duckdb
import pytest

import duckdb_synth.pipeline as pl

TABLE = ("CREATE TABLE t AS SELECT i % 7 AS a, (i % 7) * 2 + (i % 2) AS b, {note} AS note, "
         "CASE WHEN i % 3 = 0 THEN 'x' ELSE 'y' END AS c FROM range(3000) r(i)")


def _run(note: str, caplog: pytest.LogCaptureFixture, seed: int = 0, mode: str = "strict"):
    con = duckdb.connect()
    try:
        con.execute(TABLE.format(note=note))
        with caplog.at_level(logging.WARNING):
            return pl.run(con, "t", mode=mode, seed=seed)
    finally:
        con.close()


def test_free_text_is_found_and_left_out_of_the_joint_model(caplog: pytest.LogCaptureFixture) -> None:
    res = _run("'note ' || (i * 7919 % 3001)::VARCHAR", caplog)  # every value unique
    domain = [s for s in res.spend.steps if s.name == "domain note"]
    assert domain and "no frequent value" in domain[0].detail
    joint = [s.name for s in res.spend.steps if s.name.startswith(("select", "measure")) and "note" in s.name]
    assert joint == []
    assert any(s.name.startswith("measure") for s in res.spend.steps)  # the other columns are modelled
    warned = [r.getMessage() for r in caplog.records if "note" in r.getMessage()]
    assert warned and "mask it" in warned[0]
    assert not any(ch.isdigit() for ch in warned[0].replace("'", ""))  # names the column, shows no count
    real = {f"note {k}" for k in range(3001)}
    assert not set(res.table.column("note").to_pylist()) & real  # tokens, never a row's value


def test_text_with_frequent_values_is_modelled(caplog: pytest.LogCaptureFixture) -> None:
    res = _run("'n' || (i % 4)::VARCHAR", caplog)
    domain = [s for s in res.spend.steps if s.name == "domain note"]
    assert domain and "no frequent value" not in domain[0].detail
    assert not [r for r in caplog.records if "no frequent value" in r.getMessage()]
    assert any("note" in s.name for s in res.spend.steps if s.name.startswith("measure"))


def test_balanced_mode_says_so_too(caplog: pytest.LogCaptureFixture) -> None:
    res = _run("'note ' || (i * 7919 % 3001)::VARCHAR", caplog, mode="balanced")
    domain = [s for s in res.spend.steps if s.name == "domain note"]
    assert domain and "no frequent value" in domain[0].detail
    assert [r for r in caplog.records if "no frequent value" in r.getMessage()]
    caplog.clear()
    res = _run("'n' || (i % 4)::VARCHAR", caplog, mode="balanced")
    assert "no frequent value" not in [s for s in res.spend.steps if s.name == "domain note"][0].detail
