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


@pytest.mark.parametrize("mode", ["strict", "strictest", "balanced"])
def test_a_column_of_nulls_is_not_said_to_be_free_text(caplog: pytest.LogCaptureFixture, mode: str) -> None:
    """The review of 12d66b3: a VARCHAR column with no value at all was warned about as free text or an identifier,
    with advice to mask it. It still comes out NULL, and is not modelled."""
    for seed in range(3):
        caplog.clear()
        res = _run("CAST(NULL AS VARCHAR)", caplog, seed=seed, mode=mode)
        assert not [r for r in caplog.records if "no frequent value" in r.getMessage()]
        assert res.table.column("note").null_count >= 0.95 * res.table.num_rows
    caplog.clear()
    _run("CASE WHEN i % 2 = 0 THEN 'note ' || (i * 7919 % 3001)::VARCHAR END", caplog, mode=mode)  # half NULL
    assert [r for r in caplog.records if "no frequent value" in r.getMessage()]


RARE = "CASE WHEN i % 100 < 78 THEN 'common ' || (i % 6)::VARCHAR ELSE 'rare ' || (i % 220)::VARCHAR END"
# 78 % of the rows in six values, 22 % in 220 values of three rows each: too rare for any DP threshold


def test_values_too_rare_to_keep_are_named_with_the_public_way_to_keep_them(caplog: pytest.LogCaptureFixture) -> None:
    res = _run(RARE, caplog)
    steps = [s for s in res.spend.steps if s.name.startswith("domain note")]
    assert "too rare to keep" in steps[-1].detail and "%" in steps[-1].detail
    assert "no frequent value" not in steps[-1].detail  # most rows are in kept values: modelled
    warned = [r.getMessage() for r in caplog.records if "too few rows" in r.getMessage()]
    assert len(warned) == 1 and "column 'note'" in warned[0] and "domains := {'note': [...]}" in warned[0]
    assert not any(ch.isdigit() for ch in warned[0])  # names the column, shows no count or share
    assert any("note" in s.name for s in res.spend.steps if s.name.startswith("measure"))
    out = set(res.table.column("note").to_pylist())
    assert not {v for v in out if v and v.startswith("rare ")}  # tokens, never a rare row's value


def test_a_declared_list_keeps_the_rare_values_and_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    values = [f"common {k}" for k in range(6)] + [f"rare {k}" for k in range(220)]
    con = duckdb.connect()
    try:
        con.execute(TABLE.format(note=RARE))
        with caplog.at_level(logging.WARNING):
            res = pl.run(con, "t", mode="strict", seed=0, domains={"note": values})
    finally:
        con.close()
    assert not [r for r in caplog.records if "too few rows" in r.getMessage()]
    assert not [s for s in res.spend.steps if "too rare" in s.detail]
    assert {v for v in res.table.column("note").to_pylist() if v is not None} <= set(values)


def test_no_such_note_where_the_kept_values_hold_the_rows(caplog: pytest.LogCaptureFixture) -> None:
    res = _run("'n' || (i % 4)::VARCHAR", caplog)
    assert not [r for r in caplog.records if "too few rows" in r.getMessage()]
    assert not [s for s in res.spend.steps if "too rare" in s.detail]
    res = _run(RARE, caplog, mode="balanced")  # balanced mode keeps what 5 rows hold: no budget to blame
    assert not [s for s in res.spend.steps if "too rare" in s.detail]


@pytest.mark.parametrize("mode", ["strict", "balanced"])
def test_a_column_mostly_null_is_free_text_only_by_its_other_rows(caplog: pytest.LogCaptureFixture, mode: str) -> None:
    """Of the rows that are not NULL: a rating NULL in 94 % of rows and one of two values in the rest
    (movies' `mpaa`) is modelled, its values kept; the same share of unique notes is free text."""
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t AS SELECT i % 7 AS a, CASE WHEN i % 50 >= 3 THEN NULL WHEN i % 7 < 3 THEN 'R' "
                    "ELSE 'PG' END AS rating, CASE WHEN i % 50 >= 3 THEN NULL ELSE 'note ' || i::VARCHAR END AS note "
                    "FROM range(20000) r(i)")
        with caplog.at_level(logging.WARNING):
            res = pl.run(con, "t", mode=mode, seed=0)
    finally:
        con.close()
    detail = {s.name: s.detail for s in res.spend.steps if s.name.startswith("domain ")}
    assert "no frequent value" not in detail["domain rating"]
    assert "no frequent value" in detail["domain note"]
    warned = [r.getMessage() for r in caplog.records if "no frequent value" in r.getMessage()]
    assert len(warned) == 1 and "'note'" in warned[0]
    if mode == "strict":
        assert any("rating" in s.name for s in res.spend.steps if s.name.startswith("measure") and "~" in s.name)
    out = res.table.column("rating").to_pylist()
    assert set(out) == {None, "R", "PG"}
    held = sum(v is not None for v in out) / len(out)
    assert 0.04 <= held <= 0.08  # 6 % of the rows
    assert 0.3 <= sum(v == "R" for v in out) / max(sum(v is not None for v in out), 1) <= 0.6  # 3 of 7


def test_mostly_rare_text_is_advised_a_mask_as_well(caplog: pytest.LogCaptureFixture) -> None:
    """Free text with a few frequent values (over a tenth of its rows, so modelled) but most of its rows
    in values of a row each: the warning names the mask as well as a declared list, which would need
    thousands of values; where the rare values are a fifth of the rows, the list alone."""
    mostly = "CASE WHEN i % 100 < 30 THEN 'common ' || (i % 3)::VARCHAR ELSE 'remark ' || i::VARCHAR END"
    res = _run(mostly, caplog)
    assert "no frequent value" not in [s for s in res.spend.steps if s.name.startswith("domain note")][-1].detail
    warned = [r.getMessage() for r in caplog.records if "too few rows" in r.getMessage()]
    assert len(warned) == 1 and "masks := {'note': 'string'}" in warned[0]
    assert not any(ch.isdigit() for ch in warned[0])
    caplog.clear()
    _run(RARE, caplog)
    warned = [r.getMessage() for r in caplog.records if "too few rows" in r.getMessage()]
    assert len(warned) == 1 and "masks :=" not in warned[0]


def test_a_column_of_one_value_gets_no_rare_values_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Every row holds 'k': the values left over are the row count's noise (sd 47 on 500 rows at eps = 1),
    which at a bar of 2 sd warned of values too rare to keep in two seeds of five."""
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE k AS SELECT 'k' AS s FROM range(500) r(i)")
        with caplog.at_level(logging.WARNING):
            for seed in range(5):
                res = pl.run(con, "k", epsilon=1.0, seed=seed, ledger=False)
                assert set(res.output.table().column("s").to_pylist()) == {"k"}
    finally:
        con.close()
    assert not [r for r in caplog.records if "too few rows" in r.getMessage()]


def test_rare_values_are_counted_among_the_rows_that_are_not_null(caplog: pytest.LogCaptureFixture) -> None:
    """A text column 80 % NULL whose values too rare to keep hold 7 % of its other rows (1.4 % of all rows):
    the warning counts the rows that are not NULL, so it is given (of all rows it was not)."""
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t AS SELECT i % 7 AS a, CASE WHEN i % 5 > 0 THEN NULL WHEN i % 100 < 93 "
                    "THEN 'common ' || (i % 3)::VARCHAR ELSE 'rare ' || i::VARCHAR END AS note FROM range(20000) r(i)")
        with caplog.at_level(logging.WARNING):
            res = pl.run(con, "t", mode="strict", seed=0)
    finally:
        con.close()
    step = [s for s in res.spend.steps if s.name.startswith("domain note")][-1]
    assert "too rare to keep" in step.detail and "no frequent value" not in step.detail
    share = int(step.detail.split("hold about ")[1].split(" %")[0])
    assert 4 <= share <= 10  # of its values, not of all rows (1 %)
    warned = [r.getMessage() for r in caplog.records if "too few rows" in r.getMessage()]
    assert len(warned) == 1 and "masks :=" not in warned[0]
