"""A synthetic table against a stored aggregate release: SDS's "preservation".

An aggregate release (``synth_aggregates``, ``privacy/aggregates.py``) is a table of combinations:
``length``, ``combination``, ``count`` and one column per column counted, holding each value's
label (a text value, '(other)', 'NULL', a number's or date's bin: '30..39', '[21.0, 22.6)', '..29',
'90..'). ``compare_release`` reads the labels back as conditions on the synthetic table's columns,
counts the synthetic rows of every combination shown (one query with grouping sets), and gives,
per length, the mean absolute and relative error of those counts against the released ones.

It reads the release and the synthetic table only, both shareable: no figure here needs the real
data. A text value kept in the release's domain whose every combination was suppressed is not
known from the release, so its synthetic rows count as '(other)' where '(other)' is shown.
"""
from __future__ import annotations

import re

import duckdb
import pyarrow as pa

from ..engine.schema import Column, read_schema
from ..engine.source import open_source, quote_ident, quote_literal
from ..errors import OptionError, SchemaError

RELEASE_COLUMNS = ("length", "combination", "count")
SETS_PER_QUERY = 256  # grouping sets per query
_RANGE = re.compile(r"^(\[|\()(.+), (.+)\)$")


def compare_release(con: duckdb.DuckDBPyConnection, release: str, synth: str, *, in_sql: bool = False) -> pa.Table:
    """Per length: the combinations shown, and the mean absolute and relative error (against the released
    count) of the synthetic table's counts of them. `release` and `synth`: table or view names, queries
    or files."""
    rel = open_source(con, release, private=False, in_sql=in_sql)
    src = open_source(con, synth, private=False, in_sql=in_sql)
    rcols = [c.name for c in read_schema(con, rel.sql, rel.parts)]
    if any(c not in rcols for c in RELEASE_COLUMNS):
        raise SchemaError(f"{rel.label} is not an aggregate release: it has no "
                          f"{', '.join(repr(c) for c in RELEASE_COLUMNS if c not in rcols)} column "
                          "(make one with synth_aggregates)")
    counted = [c for c in rcols if c not in RELEASE_COLUMNS]
    have = {c.name: c for c in read_schema(con, src.sql, src.parts)}
    missing = [c for c in counted if c not in have]
    if missing:
        raise SchemaError(f"the synthetic table {src.label} has no column {', '.join(map(repr, missing))} of the "
                          f"release {rel.label}")
    q = [quote_ident(c) for c in counted]
    # (as text: a release read back from CSV holds 'true' or '1' as BOOLEAN or a number)
    labels = {c: [r[0] for r in con.sql(f"SELECT DISTINCT CAST({quote_ident(c)} AS VARCHAR) FROM ({rel.sql}) "
                                         f"WHERE {quote_ident(c)} IS NOT NULL").fetchall()] for c in counted}
    cases = ", ".join(f"{_case(have[c], labels[c])} AS {qc}" for c, qc in zip(counted, q))
    k = len(counted)
    pattern = " + ".join(f"(CASE WHEN {qc} IS NULL THEN {1 << (k - 1 - i)} ELSE 0 END)" for i, qc in enumerate(q))
    sets = [r[0] for r in con.sql(f"SELECT DISTINCT {pattern} FROM ({rel.sql})").fetchall()]
    parts = []
    for at in range(0, len(sets), SETS_PER_QUERY):
        chunk = sets[at:at + SETS_PER_QUERY]
        grouping = ", ".join("(" + ", ".join(qc for i, qc in enumerate(q) if not (s >> (k - 1 - i)) & 1) + ")"
                             for s in chunk)
        parts.append(f"SELECT {', '.join(q)}, GROUPING({', '.join(q)}) AS __set, count(*) AS __n FROM __s "
                     f"GROUP BY GROUPING SETS ({grouping})")
    on = " AND ".join([f"CAST(r.{qc} AS VARCHAR) IS NOT DISTINCT FROM g.{qc}" for qc in q] + [f"g.__set = ({pattern.replace('(CASE WHEN ', '(CASE WHEN r.')})"])
    sql = (f"WITH __s AS (SELECT {cases} FROM ({src.sql})), __g AS ({' UNION ALL '.join(parts)}) "
           f"SELECT r.length, count(*) AS combinations, avg(abs(coalesce(g.__n, 0) - r.count)) AS mean_abs_error, "
           f"avg(abs(coalesce(g.__n, 0) - r.count) / greatest(r.count, 1)) AS mean_rel_error "
           f"FROM ({rel.sql}) r LEFT JOIN __g g ON {on} GROUP BY r.length ORDER BY r.length")
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.Error as exc:
        raise OptionError(f"cannot compare {src.label} with the release {rel.label}: {exc}") from None


def _case(col: Column, labels: list[str]) -> str:
    """A CASE mapping the column's values to the release's labels (NULL where none holds)."""
    q = quote_ident(col.name)
    whens = []
    if "NULL" in labels:
        whens.append((f"{q} IS NULL", "NULL"))
    if col.kind in ("numeric", "temporal"):
        # NaN and the infinities first: DuckDB orders NaN above every number, so a bin open above holds it
        for lab in sorted((lab for lab in labels if lab != "NULL"), key=lambda lab: lab not in ("NaN", "inf", "-inf")):
            whens.append((_bin_condition(col, lab), lab))
    else:
        text = f"CAST({q} AS VARCHAR)"
        kept = [lab for lab in labels if lab not in ("NULL", "(other)")]
        for lab in kept:
            whens.append((f"{text} = {quote_literal(lab)}", lab))
        if "(other)" in labels:
            whens.append((f"{q} IS NOT NULL", "(other)"))
    if not whens:
        return "NULL::VARCHAR"
    return "CASE " + " ".join(f"WHEN {cond} THEN {quote_literal(lab)}" for cond, lab in whens) + " ELSE NULL END"


def _bin_condition(col: Column, label: str) -> str:
    """A number's, date's or time's label ('30..39', '..29', '90..', '[21.0, 22.6)', '(-inf, 5)', '[5, inf)',
    one value, 'NaN', 'inf', '-inf', '(all)') as a condition on the column."""
    q = quote_ident(col.name)
    if col.kind == "numeric":
        x = f"CAST({q} AS DOUBLE)"

        def lit(v: str) -> str:
            return f"CAST({quote_literal(v.strip())} AS DOUBLE)"
    else:
        x = q

        def lit(v: str) -> str:
            return f"CAST({quote_literal(v.strip())} AS {col.type})"

    if label == "(all)":
        return f"{q} IS NOT NULL"
    if label in ("NaN", "inf", "-inf") and col.kind == "numeric":
        return {"NaN": f"isnan({x})", "inf": f"{x} = 'inf'::DOUBLE", "-inf": f"{x} = '-inf'::DOUBLE"}[label]
    m = _RANGE.match(label)
    if m:
        lo, hi = m.group(2), m.group(3)
        conds = [] if lo.strip() == "-inf" else [f"{x} >= {lit(lo)}"]
        conds += [] if hi.strip() == "inf" else [f"{x} < {lit(hi)}"]
        return " AND ".join(conds) or f"{q} IS NOT NULL"
    if ".." in label:
        lo, hi = label.split("..", 1)
        conds = ([f"{x} >= {lit(lo)}"] if lo else []) + ([f"{x} <= {lit(hi)}"] if hi else [])
        return " AND ".join(conds)
    return f"{x} = {lit(label)}"
