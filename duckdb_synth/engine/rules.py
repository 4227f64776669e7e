"""Rules the copy keeps: constraints between columns, declared by the user or read from CHECKs.

A rule is SQL over the source's columns (DuckDB's dialect, parsed with sqlglot):

* a **bound**, a column against a constant: ``age >= 18``, ``bmi < 80``, ``admitted >= DATE '2020-01-01'``;
  or a linear expression of number columns against one: ``age + birth_year BETWEEN 2023 AND 2025``
  (BETWEEN is two rules), ``net + tax <= 900``: the last column named moves by what it is past;
* an **order** between two columns of one kind: ``admitted <= discharged``, ``low < high``; of two dates
  or times give or take a constant (an **offset**): ``discharged <= admitted + INTERVAL 30 DAY``;
* a **derived** column, equal to arithmetic of others: ``total = net + tax``,
  ``age = 2024 - birth_year``: the column is computed from the others, not sampled;
* a **dependency** between text, ENUM or BOOLEAN columns: ``zip -> state``, ``(city, street) -> zip``:
  each determinant value keeps one dependent value (``dependency_maps``: the one the model draws
  most often with it, from a pilot sample, so that every batch agrees);
* a **forbidden** combination of such columns' values: ``NOT (sex = 'M' AND diagnosis = 'pregnancy')``,
  or a list of them: ``(sex, diagnosis) NOT IN (('M', 'pregnancy'), ('F', 'prostate'))``;
* the **allowed** combinations, the only ones rows may hold: ``(country, currency) IN (('FR', 'EUR'),
  ('US', 'USD'))``, ``grade IN ('A', 'B', 'C')``. A list of several columns compares rows as DuckDB
  does (a NULL is a value, and may be listed); one column, or NOT (a = 'x' AND ...), by SQL's
  three-valued logic (a NULL keeps the rule).

The table's CHECKs are read as rules too (``plan.checked_rules``) and parsed with the user's, so that
rules that clash across them are refused and bounds carry along chains of orders (``_implied_bounds``).

Combinations are kept while the codes are drawn (``Keeper``, called by the samplers after each
column): a combination rule gives zero mass to what it excludes, so a value it excludes is drawn again
from the model's own conditional distribution with those values taken out, and the columns drawn after
it are drawn given the value kept (rather than repaired after the whole row is drawn, which would leave
them drawn given a value the row no longer holds). Dependencies are set on the drawn codes
(``keep_codes``, which also catches what any other sampler leaves). The other rules are kept on the
decoded rows (``keep_table``).

Rules are public (the user states them; a CHECK is in the schema): they cost no budget. The copy
keeps every one, by post-processing each batch of decoded rows (``keep_table``): a derived column is
computed; a value past a bound is brought to it; two values out of order are swapped (the pair's
values stay those the model drew, in the order the rule wants; a strict order of equal values
moves the larger by one step of its type). ``violations_sql`` counts, in any table, the rows that
break a rule: the report's figure.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

import sqlglot
from sqlglot import exp

from ..errors import OptionError, did_you_mean, parse_problem
from .schema import (TYPE_UNIT_US, Column, classify, decimal_past_floats, holds_infinity, match_column,
                     temporal_ends, written_sql)
from .source import quote_ident, quote_literal

log = logging.getLogger(__name__)

_OPS = {exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">=", exp.EQ: "="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
_CON = None  # this module's own in-memory connection, made when first needed


def _sql(query: str):
    """`query`'s result on a cursor of a connection of this module's own, in memory: DuckDB's default connection
    (``duckdb.sql``) is the user's, and an unfinished result of theirs there refused every rule checked on it (the
    fuzz sweep of dba1e14). One connection (a new one a call took 12 ms: 119 rules 0.7 -> 8.9 s, the review of
    1e23c2d), a cursor a call (threads may parse rules at once)."""
    import duckdb

    global _CON
    if _CON is None:
        _CON = duckdb.connect()
    return _CON.cursor().execute(query)


def _probe(rule: Rule, by_name: dict[str, Column], where: str) -> None:
    """Evaluate the rule on one row of values of its columns' types (1, 2020-01-01, noon; NULL for the rest): a
    constant its columns cannot be compared with (`a > 'abc'` on an INTEGER, `d > '2020-13-45'` on a DATE) is refused
    here, before anything is read or spent; it had failed at the first batch, the whole budget spent (the fuzz sweep
    of dba1e14)."""
    import duckdb

    if not rule.sql or rule.kind == "fd":
        return
    if not any(name in by_name for name in (rule.columns or (rule.left,))):
        return
    error = None
    for one in ("1", "0"):  # (a DECIMAL(3,3) holds no 1: a rule it holds must not fail on 0 too)
        values = []
        for name in dict.fromkeys(rule.columns or (rule.left,)):
            col = by_name.get(name)
            if col is None:
                continue
            t = col.type
            value = (one if col.kind == "numeric" else "'12:00:00'" if t.upper().startswith("TIME") and
                     not t.upper().startswith("TIMESTAMP") else "'2020-01-01'" if col.kind == "temporal" else "NULL")
            values.append(f"CAST({value} AS {t}) AS {quote_ident(name)}")
        try:
            _sql(f"SELECT ({rule.sql}) FROM (SELECT {', '.join(values)})").fetchall()
            return
        except duckdb.Error as exc:
            error = exc  # (the last: on 0, what the rule's own constants cannot be)
    raise OptionError(f"{where}: rule '{rule.text}': {str(error).splitlines()[0]}") from None


MAX_PASSES = 8  # passes of the order and bound repairs over a batch (chains of orders need one per link)


@dataclass(frozen=True)
class Rule:
    """A parsed rule. ``kind``: 'bound' (``left op value``), 'order' (``left op right``, two columns) or
    'derived' (``left`` = ``expr``). ``sql``: the rule as a DuckDB predicate (columns quoted)."""

    text: str
    kind: str
    sql: str
    left: str
    op: str = "="
    right: str | None = None  # order: the other column
    value: str | None = None  # bound: the constant, as SQL
    expr: str | None = None  # derived: the expression, as SQL
    columns: tuple[str, ...] = ()
    source: str = "constraints"  # or 'CHECK'
    given: tuple[str, ...] = ()  # fd: the determinant columns (``left`` depends on them); a bound carried along
    # orders (``_implied_bounds``): the columns it is carried through, where it holds only while they hold values
    tuples: tuple[tuple, ...] = ()  # forbid / allow: the combinations of ``columns``' values no row holds / rows hold
    exact: bool = False  # forbid / allow: rows compared as DuckDB compares them in a list of several columns
    # (a NULL is a value, None in ``tuples``), not by SQL's three-valued logic (a NULL keeps the rule)
    movers: tuple[tuple[str, float], ...] = ()  # linear: its columns of nonzero coefficient, the last named first
    # (``left``), with their coefficients in ``expr``: moved in turn while the row still breaks it (each within its
    # bounds)
    computed: str | None = None  # derived: ``expr`` as computed, its whole-number columns as HUGEINT (``_widened``)

    def count_sql(self, table_sql: str) -> str:
        """A query counting the rows of `table_sql` that break the rule (NULL keeps a rule, as in a CHECK;
        a dependency is broken by every row of a determinant value that goes with two values)."""
        if self.kind == "fd":
            g = ", ".join(quote_ident(c) for c in self.given)
            b = quote_ident(self.left)
            return (f"SELECT coalesce(sum(n), 0)::BIGINT FROM (SELECT count(*) AS n FROM ({table_sql}) "
                    f"WHERE {' AND '.join(f'{quote_ident(c)} IS NOT NULL' for c in self.given)} GROUP BY {g} "
                    f"HAVING count(DISTINCT {b}) + max(CASE WHEN {b} IS NULL THEN 1 ELSE 0 END) > 1)")
        return f"SELECT count(*) FILTER ({violations_sql(self)}) FROM ({table_sql})"


COUNTS_PER_QUERY = 256  # rules' broken rows counted in one query (``broken_counts``)


def broken_counts(con, rules: Sequence[Rule], table: str) -> list[int]:
    """Per rule, the rows of `table` (registered on `con`) that break it (``Rule.count_sql``), the rules other than
    dependencies counted together, COUNTS_PER_QUERY a query: a query costs DuckDB ~10 ms on a batch of a table of 400
    columns, and one a rule, a CHECK on each, took 6 CPU s a batch of 300 rows."""
    out = [0] * len(rules)
    plain = [i for i, r in enumerate(rules) if r.kind != "fd"]
    for k in range(0, len(plain), COUNTS_PER_QUERY):
        part = plain[k:k + COUNTS_PER_QUERY]
        counts = con.sql("SELECT " + ", ".join(f"count(*) FILTER ({violations_sql(rules[i])})" for i in part)
                         + f" FROM {table}").fetchall()[0]
        for i, n in zip(part, counts):
            out[i] = int(n)
    for i, r in enumerate(rules):
        if r.kind == "fd":
            out[i] = int(con.sql(r.count_sql(f"SELECT * FROM {table}")).fetchall()[0][0])
    return out


def parse_rules(texts: Sequence[str], columns: Sequence[Column], *, masked=(), generated=(),
                source: str = "constraints", sources: Sequence[str] | None = None) -> list[Rule]:
    """The rules, checked against the columns and against each other; an OptionError naming the rule at
    fault. `sources`: each text's own (the user's 'constraints', a table's 'CHECK'), else `source`."""
    by_name = {c.name: c for c in columns}
    sources = list(sources) if sources is not None else [source] * len(texts)
    source = " and ".join(dict.fromkeys(sources)) or source  # (for rules that clash across them)
    out: list[Rule] = []
    for text, src in zip(texts, sources):
        if not isinstance(text, str) or not text.strip():
            raise OptionError(f"{src}: each rule is SQL text, e.g. 'admitted <= discharged'; got {text!r}")
        for part in _between(text.strip()):
            out.append(replace(_parse(part, by_name, set(masked), set(generated), src), text=text.strip()))
            _probe(out[-1], by_name, src)
    derived = [r.left for r in out if r.kind == "derived"]
    for name in set(derived):
        if derived.count(name) > 1:
            raise OptionError(f"{source}: column '{name}' is derived by two rules; keep one")
    _order_derived(out, source)
    _order_dependencies(out, source)
    _order_cycles(out, source)
    out = _through_derived(out, {r.left: r for r in out if r.kind == "derived"}, by_name, source)
    out = _derived_in_type(out, by_name, source)
    out = _implied_bounds(out, by_name)
    _clashing_bounds(out, by_name, source)
    _against_declared(out, by_name, source)
    _linear_apart(out, by_name, source)
    return out


def _last_kept(col: Column | None, op: str, value: str) -> tuple[str, str] | None:
    """The last value of `col`'s type that keeps `col op value` (`e < 102` on an INTEGER: 101; `e <= 101.5`: 101;
    on a DOUBLE, `e < 102`: the float below 102), as SQL and as shown in a rule's text; None where it cannot be
    worked out (a type without steps, a constant the type cannot hold, a TIME's step past midnight)."""
    import duckdb

    if col is None or col.kind not in ("numeric", "temporal") or col.type.upper() == "TIMETZ":
        return None
    t, up = col.type, op in (">", ">=")
    strict = op in ("<", ">")
    step = _step(t)
    c = f"TRY_CAST({value} AS {t})"
    past = f"{c} {'<=' if strict and up else '<' if up else '>=' if strict else '>'} {value}"  # c breaks the bound
    if step == "NULL":
        moved = f"nextafter({c}, CAST('{'inf' if up else '-inf'}' AS {t}))"
    elif step == "1":
        moved = f"TRY_CAST(CAST({c} AS HUGEINT) {'+' if up else '-'} 1 AS {t})"
    else:
        moved = f"TRY_CAST({c} {'+' if up else '-'} {step} AS {t})"
    v = f"(CASE WHEN {past} THEN {moved} ELSE {c} END)"
    try:  # (kept only where it keeps the bound: a TIME stepped back from 00:00 is 23:59:59.999999)
        got = _sql(f"SELECT CASE WHEN {v} {op} {value} THEN CAST({v} AS VARCHAR) END").fetchall()[0][0]
    except duckdb.Error:
        return None
    if got is None:
        return None
    return f"CAST({quote_literal(got)} AS {t})", (got if col.kind == "numeric" else f"{t} {quote_literal(got)}")


def _order_cycles(rules: list[Rule], source: str) -> None:
    """Refuse orders that go round: `a < b` with `b < a` (no row keeps both) or `a <= b` with `b <= a` (they make a and
    b equal: a derived column says so). Such rules had run, spent the budget, and left 92 % and 91 % of the rows
    breaking one (the fuzz sweep of dba1e14)."""
    above: dict[str, list[tuple[str, Rule]]] = {}
    for r in rules:
        if r.kind == "order":
            lo, hi = (r.left, r.right) if r.op in ("<", "<=") else (r.right, r.left)
            above.setdefault(lo, []).append((hi, r))
    for start in above:
        todo, seen = [(start, ())], {start}
        while todo:
            col, path = todo.pop()
            for nxt, r in above.get(col, ()):
                if nxt == start:
                    cycle = (*path, r)
                    texts = "', '".join(dict.fromkeys(x.text for x in cycle))
                    names = ", ".join(f"'{c}'" for c in dict.fromkeys(x.left for x in cycle))
                    if any(x.op in ("<", ">") for x in cycle):
                        raise OptionError(f"{source}: rules '{texts}' order '{start}' below itself: no row keeps them all")
                    raise OptionError(f"{source}: rules '{texts}' make {names} equal: state one as computed from the "
                                      f"other (e.g. '{cycle[0].left} = {cycle[0].right}')")
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append((nxt, (*path, r)))


def _implied_bounds(rules: list[Rule], by_name=None) -> list[Rule]:
    """Bounds that orders carry along a chain, added as rules of their own: with `a < b` and `a >= 0`,
    `b > 0`; with `b <= c` and `c <= 46`, `b <= 46`. Each column is then brought inside the range
    the whole chain leaves it, so that a strict order's tie can be moved within it (without them,
    `x1 < x0 <= x2 <= 46` with all three at 46 moves x0 past x2 and x2 back, round and round). The bound
    carried is the last value the bounded column's type keeps, then the last of the target's type the order leaves
    (`c < 102` on an INTEGER c: `b <= 100` from `b < c`, so that a tie at 100 moves c to 101, not to 102 and back:
    the review of a8456f4; a DATE d below a TIMESTAMP e < '2020-01-02': `d <= DATE '2020-01-01'`)."""
    orders = [(r.left, r.right, r.op in ("<", ">"), r) if r.op in ("<", "<=") else (r.right, r.left, r.op in ("<", ">"), r)
              for r in rules if r.kind == "order"]
    if not orders:
        return rules
    bounds = {(r.left, r.op, r.value): r for r in rules if r.kind == "bound"}
    by = by_name or {}
    added: list[Rule] = []
    for _ in range(len(orders) + 1):
        new = []
        for lo, hi, strict, order in orders:
            for (col, op, value), why in list(bounds.items()):
                if col == lo and op in (">", ">="):
                    o, target = (">" if strict or op == ">" else ">="), hi
                elif col == hi and op in ("<", "<="):
                    o, target = ("<" if strict or op == "<" else "<="), lo
                else:
                    continue
                last = _last_kept(by.get(col), op, value)
                if last is not None:  # the order from the last value the bounded column keeps, as the last value
                    # of the target's type the order leaves (a DATE below a TIMESTAMP < '2020-01-02': '2020-01-01')
                    inner = _last_kept(by.get(target), o.rstrip("=") if strict else o.rstrip("=") + "=", last[0])
                    o, (carried, shown) = ((o.rstrip("=") + "=", inner) if inner is not None else
                                           (o.rstrip("=") if strict else o.rstrip("=") + "=", last))
                else:
                    carried = shown = value
                if (target, o, carried) in bounds or (target, o.rstrip("="), carried) in bounds:
                    continue  # (held already, or a strict bound at the same value is)
                # It holds where the columns it is carried through hold values: a NULL keeps an order, so `a <= b` with
                # `b < 2030` says nothing of a where b is NULL (such rows, an open end a beside no b, were moved)
                chain = tuple(dict.fromkeys((*why.given, col)))
                held = " OR ".join(f"{quote_ident(c)} IS NULL" for c in chain)
                rule = Rule(f"{quote_ident(target)} {o} {shown} (from '{why.text}' and '{order.text}')", "bound",
                            f"({held} OR {quote_ident(target)} {o} {carried})", target, o, value=carried,
                            columns=(target,), source=order.source, given=chain)
                bounds[(target, o, carried)] = rule
                new.append(rule)
        if not new:
            break
        added.extend(new)
    return rules + added


def _clashing_bounds(rules: list[Rule], by_name, source: str) -> None:
    """Bounds on one column that no value keeps together (`n < 3` with `n >= 5`) are refused, and a bound no value
    of a number's, date's or time's type keeps (`t < TIME '00:00:00'`, `n > 2147483647` on an INTEGER).

    A number's, date's or time's bounds are compared as the first and last values of the column's own type each
    keeps (``_last_kept``): `d > DATE '2020-01-01'` with `d < DATE '2020-01-02'` keeps no DATE, and `d >= DATE
    '2020-01-03'` with `d < TIMESTAMP '2020-01-03 12:00:00'` keeps one (the constants cast to the column's type had
    refused that set and accepted the other)."""
    by_col: dict[str, list[Rule]] = {}
    for r in rules:
        if r.kind == "bound" and r.op in (">=", ">", "<=", "<"):
            by_col.setdefault(r.left, []).append(r)
    for name, bounds in by_col.items():
        col = by_name[name]
        if col.kind not in ("numeric", "temporal") or col.type.upper() == "TIMETZ":
            continue  # (a comparison holds numbers, dates and times: refused on others when parsed)
        _refuse_apart(name, [(r, v) for r, v in zip(bounds, _kept_ends(col, bounds, source)) if v is not None], source)


def _linear_apart(rules: list[Rule], by_name, source: str) -> None:
    """Refuse a bound on an expression its columns' bounds cannot meet: `a + b <= 10` with `a >= 20` and `b >= 0`, or
    `total <= 0` with `total = net + tax`, `net >= 1` and `tax >= 1` (no row keeps them all). The expression's least
    (or greatest) value over the box the bounds leave is worked out by DuckDB at that box's corner: the first or last
    value of each column's type its bounds keep (``_kept_ends``). Such rules had run, spent the budget, and left rows
    breaking one, said after the fact (the fuzz sweep of 881dc1b). Only where the columns are NOT NULL (a NULL keeps
    every rule), and only bounds that hold on every row (not one carried along an order, which holds where the columns
    it is carried through hold values)."""
    import duckdb

    ends = _bound_ends(rules, by_name.__getitem__, carried=False)
    for r in rules:
        if r.kind != "linear" or any(by_name[n].nullable for n, _ in r.movers):
            continue  # (a NULL keeps every rule: a table of such rows keeps them all, and had been refused)
        low = r.op in ("<", "<=")  # the expression is kept low: its least value over the box must keep the rule
        corner, used = {}, []
        for name, coef in r.movers:
            at = ends.get(name, ([], []))[0 if (coef > 0) == low else 1]
            if not at:
                break  # (a column unbounded that way: the expression reaches any value)
            corner[name] = f"{'greatest' if (coef > 0) == low else 'least'}({', '.join(e for _, e in at)})"
            used += [b for b, _ in at]
        else:
            tree = sqlglot.parse_one(r.expr, read="duckdb").transform(
                lambda n: sqlglot.parse_one(corner.get(n.name, "0"), read="duckdb") if isinstance(n, exp.Column) else n)
            try:
                kept = _sql(f"SELECT ({tree.sql(dialect='duckdb')}) {r.op} ({r.value})").fetchall()[0][0]
            except duckdb.Error:  # (past a type's range, say: nothing worked out)
                kept = None
            if kept is False:
                shown = ", ".join(dict.fromkeys(f"'{b.text}'" for b in used))
                raise OptionError(f"{source}: rule '{r.text}' cannot hold with {shown}: no value its columns may take "
                                  "keeps them all")


def _against_declared(rules: list[Rule], by_name, source: str) -> None:
    """Refuse a rule no value of a column's declared domain (the user's ``domains``) keeps: a bound past the range
    (`a >= 5` with `domains := {'a': [0, 3]}`), or a list of values none of the declared list holds. The copy holds
    no value outside a declared domain, so it could not keep both: such a run had spent its budget and moved every
    value onto the rule's bound, outside the domain (the review of 12d66b3). A CHECK's domain is a rule itself,
    weighed against the others by ``_clashing_bounds``."""
    from .declared import USER

    for name, col in by_name.items():
        dec = col.declared
        if dec is None or dec.origin != USER:
            continue
        if dec.values:
            for r in rules:
                if r.kind == "allow" and r.columns == (name,) and not {t[0] for t in r.tuples} & set(dec.values):
                    raise OptionError(f"{source}: rule '{r.text}' allows no value of column '{name}''s declared "
                                      f"domain {dec.shown}")
            continue
        ends = [_engine_value_sql(col, v) for v in dec.bounds] if dec.bounds is not None else [None]
        if None in ends:
            continue
        bounds = [r for r in rules if r.kind == "bound" and r.left == name and r.op in (">=", ">", "<=", "<")]
        for r, kept in zip(bounds, _kept_ends(col, bounds, source)):
            if kept is None:
                continue
            past = f"{kept} > {ends[1]}" if r.op in (">=", ">") else f"{kept} < {ends[0]}"
            if _sql(f"SELECT {past}").fetchall()[0][0]:
                raise OptionError(f"{source}: rule '{r.text}' leaves no value of column '{name}' inside its declared "
                                  f"domain {dec.shown}")


def _span(b: float, coef: dict[str, float], by_name) -> tuple[float, float] | None:
    """The least and greatest value of `b` + sum(coef[c] * c) over each column's declared range (else its type's);
    None where a column has neither."""
    lo = hi = b
    for c, k in coef.items():
        dec = by_name[c].declared
        ends = dec.bounds if dec is not None and dec.bounds else by_name[c].type_range
        if ends is None:
            return None
        lo += min(k * float(ends[0]), k * float(ends[1]))
        hi += max(k * float(ends[0]), k * float(ends[1]))
    return lo, hi


def _engine_value_sql(col: Column, value: float) -> str | None:
    """A number's, DATE's or timestamp's value as the engine reads it (a double; days; microseconds), as SQL of the
    column's type; None for the others (a TIME, a timestamp with a zone)."""
    t = col.type.upper()
    if col.kind == "numeric":
        return f"CAST({float(value)!r} AS DOUBLE)"
    if t == "DATE":
        return _day_sql(int(value))
    if t in ("TIMESTAMP_NS", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "DATETIME"):
        return _microsecond_sql(col, int(value))
    return None


def _day_sql(days: int) -> str:
    """A DATE as SQL, from its days since 1970-01-01."""
    return f"(DATE '1970-01-01' + {days})"


def _microsecond_sql(col: Column, us: int) -> str:
    """A timestamp of `col`'s type as SQL, from its microseconds since the epoch."""
    if col.type.upper() == "TIMESTAMP_NS":
        return f"make_timestamp_ns(CAST({us * 1000} AS BIGINT))"
    return f"CAST(make_timestamp(CAST({us} AS BIGINT)) AS {col.type})"


def _refuse_apart(name: str, ends: list[tuple[Rule, str]], source: str) -> None:
    """Refuse bounds on column `name` that no value keeps together: `ends` pairs each with the first (lower bounds)
    or last (upper) value of the column's type it keeps, as SQL, compared by DuckDB (a TIME's 24:00:00 is no Python
    time)."""
    import duckdb

    pairs = [(rl, lo, rh, hi) for rl, lo in ends if rl.op in (">", ">=") for rh, hi in ends if rh.op in ("<", "<=")]
    if not pairs:
        return
    apart = _sql("SELECT " + ", ".join(f"{lo} > {hi}" for _, lo, _, hi in pairs)).fetchall()[0]
    for (rl, _, rh, _), clash in zip(pairs, apart):
        if clash:
            which = f"rule '{rl.text}'" if rl.text == rh.text else f"rules '{rl.text}' and '{rh.text}'"
            raise OptionError(f"{source}: {which} leave{'s' if rl.text == rh.text else ''} no value of "
                              f"column '{name}' that keeps {'it' if rl.text == rh.text else 'both'}")


def _kept_ends(col: Column, bounds: list[Rule], source: str) -> list[str | None]:
    """Per bound on a number, date or time column, the first value of its type a lower bound keeps, or the last an
    upper one keeps, as SQL; None where that cannot be worked out. Where no value past the constant is one of the
    type (`n < 1e12` on an INTEGER, `t > TIME '23:59:59.999999'`), the type's own end that keeps the bound (the
    INTEGER's largest, TIME '24:00:00'). A bound no value keeps is refused (`n > 2147483647` and `n > 1e12` on an
    INTEGER alike: the second, a constant the type cannot hold, had been accepted; the review of 618e7cc)."""
    import duckdb

    out: list[str | None] = []
    for r in bounds:
        got = _last_kept(col, r.op, r.value)
        if got is not None:
            out.append(got[0])
            continue
        up = r.op in (">", ">=")
        ends = [_type_end(col, not up), _type_end(col, up)]  # the type's end where the bound starts, and the other
        if ends[0] is not None:
            ends = [f"CAST({e} AS {col.type})" for e in ends]
            try:
                keep = _sql(f"SELECT {ends[0]} {r.op} {r.value}, {ends[1]} {r.op} {r.value}").fetchall()[0]
            except duckdb.Error:
                keep = (False, True)
            if not keep[1]:
                raise OptionError(f"{source}: rule '{r.text}' leaves no value of column '{col.name}' that keeps it")
            out.append(ends[0] if keep[0] else ends[1])
            continue
        holds, sign = _constant_of(col, r.value)
        # (a value of the type, and no value keeps the bound; an infinity on the kept side, `d < 'infinity'`,
        # keeps every finite value: until 2026-12-07 refused, and a CHECK saying it not kept)
        if holds and not (sign and (sign > 0) != up):
            raise OptionError(f"{source}: rule '{r.text}' leaves no {'finite ' if sign else ''}value of column "
                              f"'{col.name}' that keeps it")
        out.append(None)
    return out


_ZERO = {"temporal": "CAST('1970-01-01' AS DATE)"}  # a finite value of the kind, to tell +infinity from -infinity


def _constant_of(col: Column, value: str) -> tuple[bool, int]:
    """Whether the constant `value` (SQL) is a value of `col`'s type, and which infinity it is (+1, -1; 0 for a finite
    one, or on a type without infinities)."""
    import duckdb

    c = f"TRY_CAST({value} AS {col.type})"
    sign = (f"CASE WHEN isinf({c}) THEN sign(CAST({c} > {_ZERO.get(col.kind, '0')} AS INTEGER) - 0.5) ELSE 0 END"
            if holds_infinity(col) else "0")
    try:
        holds, sign = _sql(f"SELECT {c} IS NOT NULL, {sign}").fetchall()[0]
    except duckdb.Error:
        return False, 0
    return bool(holds), int(sign or 0)


def _finite_end(col: Column, value: str, op: str) -> str | None:
    """For a DATE or timestamp column bounded strictly at its infinity (`value` casts to +infinity and `op` is '<', or
    -infinity and '>'), the type's last (first) finite value, as SQL; else None."""
    if col.kind != "temporal" or not holds_infinity(col):
        return None
    if op not in ("<", ">") or _constant_of(col, value)[1] != (1 if op == "<" else -1):
        return None  # (`d <= 'infinity'`: the infinity keeps it)
    sign = 1 if op == "<" else -1
    t = col.type.upper()
    end = temporal_ends(col)[sign > 0]
    if t == "DATE":
        return _day_sql(int(end))
    unit = TYPE_UNIT_US.get(t, 1.0)  # (whole seconds or milliseconds inward, for TIMESTAMP_S and _MS)
    return _microsecond_sql(col, int((math.floor if sign > 0 else math.ceil)(end / unit) * unit))


def _type_end(col: Column, top: bool) -> str | None:
    """The largest (`top`) or smallest value of a whole-number, DECIMAL or TIME column's type, as SQL; None for others."""
    t = col.type.upper()
    if t == "TIME":
        return "TIME '24:00:00'" if top else "TIME '00:00:00'"
    if col.kind != "numeric" or col.type_range is None:
        return None
    if col.integer:
        return str(int(col.type_range[1 if top else 0]))
    return _decimal_end(col.type, top) if t.startswith("DECIMAL") or t.startswith("NUMERIC") else None


_CONSTANT = (exp.Literal, exp.Cast, exp.DataType, exp.Interval, exp.Var, exp.Add, exp.Sub, exp.Mul, exp.Div,
             exp.Paren, exp.Neg, exp.Boolean, exp.Identifier, exp.DataTypeParam, exp.TsOrDsToDate)


def _constant(side: exp.Expression, where: str) -> None:
    """A rule's constant is literals, casts, intervals and arithmetic on them: nothing that reads a table
    (a subquery would read the data unseen by the budget) and no function of the clock."""
    for node in side.walk():
        if not isinstance(node, _CONSTANT):
            raise OptionError(f"{where}: the constant side is a literal, a cast or arithmetic on them "
                              f"(found {type(node).__name__.upper()})")


def _between(text: str) -> list[str]:
    """`x BETWEEN a AND b` as the two rules `x >= a` and `x <= b` (anything else as it is)."""
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError:
        return [text]
    while isinstance(tree, exp.Paren):
        tree = tree.this
    if not isinstance(tree, exp.Between):
        return [text]
    x = tree.this.sql(dialect="duckdb")
    return [f"{x} >= {tree.args['low'].sql(dialect='duckdb')}", f"{x} <= {tree.args['high'].sql(dialect='duckdb')}"]


def _linear(text: str, where: str, side: exp.Expression, names: list[str], by_name) -> tuple[float, dict[str, float]]:
    """The constant and the coefficients of a linear expression of number columns (refused otherwise),
    read by evaluating it at a few points."""
    import duckdb

    if not all(isinstance(node, (exp.Column, exp.Literal, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Paren, exp.Neg,
                                 exp.Identifier)) for node in side.walk()):
        raise OptionError(f"{where}: a bound on an expression takes arithmetic (+ - * /) of number columns and "
                          "constants")
    for name in names:
        if by_name[name].kind != "numeric":
            raise OptionError(f"{where}: column '{name}' is {by_name[name].type}; a bound on an expression "
                              "holds number columns")
    if any(next(div.expression.find_all(exp.Column), None) is not None for div in side.find_all(exp.Div)):
        # (at the point 0 a column divided by is 0, every value NaN, and NaN passed the test below: the rule ran,
        # spent the budget and failed in its first query; the review of 12d66b3)
        raise OptionError(f"{where}: the expression divides by a column, so it is not linear in its columns")

    def at(point: dict[str, float]) -> float:
        # (transformed, not replaced in place: an expression that is one column, `a = b`, replaced its root, the copy
        # kept the column, and the rule failed with DuckDB's binder error)
        expr = side.copy().transform(lambda n: exp.Literal.number(repr(point[n.name])) if isinstance(n, exp.Column)
                                     else n)
        value = _sql(f"SELECT CAST(({expr.sql(dialect='duckdb')}) AS DOUBLE)").fetchall()[0][0]
        if value is None or not math.isfinite(value):  # (a division by zero, or past the floats: `a / 0`,
            # `c * 1e308 * 10`)
            raise OptionError(f"{where}: the expression has no finite value at {point} (a division by zero, or "
                              "past the floats' range)")
        return float(value)

    zero = {n: 0.0 for n in names}
    b = at(zero)
    coef = {n: at({**zero, n: 1.0}) - b for n in names}
    if not all(math.isfinite(v) for v in (b, *coef.values())):
        raise OptionError(f"{where}: the expression's coefficients are past the floats' range")
    for point in ({n: 2.0 + i for i, n in enumerate(names)}, {n: -3.5 * (i + 1) for i, n in enumerate(names)}):
        if abs(at(point) - b - sum(coef[n] * point[n] for n in names)) > 1e-9 * (1 + abs(b)):
            raise OptionError(f"{where}: the expression is not linear in its columns")
    return b, coef


def _through_derived(rules: list[Rule], derived: dict[str, Rule], by_name, source: str) -> list[Rule]:
    """A bound on a derived column becomes a bound on the one column it is computed from (a x + b, a != 0,
    the bound divided through), or on the expression of the several it is computed from (linear), which keeps
    both; an order naming a derived column, or a bound on one computed otherwise, is refused: the copy could not
    keep it and the identity at once."""
    import duckdb

    out = []
    on_several: dict[str, list[tuple[Rule, str]]] = {}  # derived column -> (its bound, the value it keeps, as SQL)
    for rule in rules:
        if rule.kind == "derived" or not any(c in derived for c in rule.columns):
            out.append(rule)
            continue
        target = derived[rule.left] if rule.left in derived else None
        inputs = [c for c in target.columns if c != target.left] if target is not None else []
        if rule.kind == "bound" and len(inputs) > 1 and not any(c in derived for c in inputs):
            # a bound on a column computed from several: on their expression (s <= 100 with s = a + b: a + b <= 100),
            # kept by moving the last of them; refused until 2026-12-07. As the first or last value of the column's
            # type the bound keeps (the column is the expression rounded to its type: s < 10 on an INTEGER is
            # expr <= 9; the bound as written let s = 10 out, 2,688 of 6,028 rows; the review of 17676e8), and
            # refused where no value of that type keeps it or another bound on it
            end = _kept_ends(by_name[rule.left], [rule], source)[0]
            op = (">=" if rule.op in (">", ">=") else "<=") if end is not None else rule.op
            try:
                bound = _parse(f"{target.expr} {op} {end if end is not None else rule.value}", by_name, set(), set(),
                               rule.source)
            except OptionError:
                bound = None  # (not linear: refused below)
            if bound is not None and bound.kind == "linear":
                out.append(replace(bound, text=rule.text))
                if end is not None:
                    on_several.setdefault(rule.left, []).append((rule, end))
                continue
        if rule.kind != "bound" or len(inputs) != 1 or inputs[0] in derived:
            raise OptionError(f"{source}: rule '{rule.text}' holds a column another rule computes (from columns "
                              "computed in turn, or from several not as a sum of multiples), or orders it against "
                              "another: not kept yet; state it of the columns it is computed from")
        _kept_ends(by_name[rule.left], [rule], source)  # (refused where no value of the column's type keeps it)
        x = quote_ident(inputs[0])
        b, coef = _linear(rule.text, f"{source}: rule '{rule.text}'", sqlglot.parse_one(target.expr, read="duckdb"),
                          inputs, by_name)
        a = coef[inputs[0]]
        c = _sql(f"SELECT CAST(({rule.value}) AS DOUBLE)").fetchall()[0][0]
        if not a:
            raise OptionError(f"{source}: rule '{rule.text}': '{rule.left}' does not change with '{inputs[0]}'")
        op = rule.op
        unit = _unit(by_name[rule.left])
        if unit:  # the derived column is rounded to its type: bound the expression by a value the type holds
            import math

            k = c / unit
            k = {"<": math.ceil(k - 1e-9) - 1, "<=": math.floor(k + 1e-9), ">": math.floor(k + 1e-9) + 1,
                 ">=": math.ceil(k - 1e-9)}[op]
            c, op = k * unit, {"<": "<=", ">": ">="}.get(op, op)
        op = op if a > 0 else _FLIP[op]
        bound = (c - b) / a
        col = by_name[inputs[0]]
        if col.integer:  # the whole numbers that keep the bound
            import math

            bound = {">=": math.ceil(bound), ">": math.floor(bound) + 1, "<=": math.floor(bound),
                     "<": math.ceil(bound) - 1}[op]
            op = {">": ">=", "<": "<="}.get(op, op)
        value = repr(float(bound)) if not col.integer else str(int(bound))
        out.append(Rule(rule.text, "bound", f"{x} {op} {value}", inputs[0], op, value=value, columns=(inputs[0],),
                        source=rule.source))
    for name, ends in on_several.items():  # bounds on one column computed from several that no value keeps together
        _refuse_apart(name, ends, source)
    return out


def _derived_in_type(rules: list[Rule], by_name, source: str) -> list[Rule]:
    """A derived column's type bounds the expression it is computed from, as a bound on that expression (a rule of
    its own, kept by moving an input) wherever the inputs' types let it pass: `s = a + b` on TINYINTs adds
    `a + b >= -128` and `a + b <= 127`. Without it a sum past the type came out NULL, in a NOT NULL column too (11 and
    37 rows of 5,000, balanced and eps 3). Only for an expression linear in modelled number columns. The user's
    declared range of the column bounds it the same way; one no input keeps, or one on a column computed otherwise
    (a product), is refused."""
    from .declared import USER

    derived = {r.left: r for r in rules if r.kind == "derived"}
    out = list(rules)
    for rule in derived.values():
        col = by_name[rule.left]
        typed = col.type_range is not None and (col.integer or col.type.upper().startswith(("DECIMAL", "NUMERIC")))
        # (a DOUBLE's range is a CHECK's, kept as a bound on the expression: _through_derived)
        dec = col.declared
        declared = (dec.bounds if dec is not None and dec.origin.startswith(USER) and dec.bounds is not None
                    and col.kind == "numeric" else None)
        if not typed and declared is None:
            continue
        tree = sqlglot.parse_one(rule.expr, read="duckdb")
        for _ in range(len(derived)):  # a derived input as its own expression, down the chain (u = s + 1, s = a + b)
            inner = [c for c in tree.find_all(exp.Column) if c.name in derived]
            for c in inner:
                c.replace(exp.Paren(this=sqlglot.parse_one(derived[c.name].expr, read="duckdb")))
            if not inner:
                break
        inputs = list(dict.fromkeys(c.name for c in tree.find_all(exp.Column)))
        expr = tree.sql(dialect="duckdb")
        try:
            b, coef = _linear(rule.text, source, tree, inputs, by_name)
        except OptionError:
            if declared is not None:  # (684 of 3,000 rows of `a = b * c` came out past a in [0, 10]: 4ab42dd's review)
                raise OptionError(f"{source}: rule '{rule.text}' computes column '{rule.left}', whose declared domain "
                                  f"{dec.shown} the copy keeps only where it is a sum of multiples of columns (a "
                                  "product or quotient of columns is not): leave it out of domains, or bound its "
                                  "inputs instead") from None
            continue  # (a product of columns: no bound on it is kept)
        lo, hi = _span(b, coef, by_name) or (-math.inf, math.inf)
        ends: list[tuple[str, str, str]] = []  # (op, the end as SQL, what it is) the expression passes
        if typed:
            lo_t, hi_t = col.type_range
            literal = (lambda end: str(int(end))) if col.integer else (lambda end: _decimal_end(col.type, end > 0))
            ends += [(op, literal(end), f"the type of {quote_ident(rule.left)}, {col.type}")
                     for op, end, past in ((">=", lo_t, lo < lo_t), ("<=", hi_t, hi > hi_t)) if past]
        if declared is not None:
            # The user's declared range bounds it too (`a = b - 3` with a in [0, 3] adds `b - 3 >= 0`): no value
            # outside a declared domain, ever (1,287 of 3,000 rows of a came out under 0; the review of 48d815d).
            if hi < declared[0] or lo > declared[1]:  # (`a = 5`, `a = b + 10`: no input keeps it)
                raise OptionError(f"{source}: rule '{rule.text}' computes column '{rule.left}' outside its declared "
                                  f"domain {dec.shown}, whatever its inputs")
            lo_d, hi_d = (math.ceil(declared[0]), math.floor(declared[1])) if col.integer else declared
            literal = (lambda end: str(int(end))) if col.integer else (lambda end: repr(float(end)))
            ends += [(op, literal(end), f"the declared domain of {quote_ident(rule.left)}, {dec.shown}")
                     for op, end, past in ((">=", lo_d, lo < lo_d), ("<=", hi_d, hi > hi_d)) if past]
        for op, end, what in ends:
            bound = _parse(f"{expr} {op} {end}", by_name, set(), set(), rule.source)
            out.append(replace(bound, text=f"{expr} {op} {end} ({what}, from '{rule.text}')"))
    return out


def _decimal_end(type_: str, top: bool) -> str:
    """The largest (`top`) or smallest value of DECIMAL(p,s), as SQL: 9999.99 for DECIMAL(6,2)."""
    p, scale = (int(v) for v in type_.upper().split("(")[1].rstrip(") ").split(","))
    digits = "9" * (p - scale) + ("." + "9" * scale if scale else "")
    return digits if top else f"-{digits}"


def _unit(col: Column) -> float | None:
    """The step of a whole-number or DECIMAL column's values (None: a float, or not a number)."""
    scale = 0 if col.integer else _scale(col.type)
    return None if scale is None else 10.0 ** -scale


_FD = re.compile(r"^\s*\(?\s*(?P<given>[^()]+?)\s*\)?\s*->\s*(?P<dep>\"[^\"]+\"|[^\s,()]+)\s*$")
CATEGORY_KINDS = ("categorical", "boolean", "enum")


def _wide_literals_as_double(tree: exp.Expression) -> exp.Expression:
    """`tree` with each whole-number literal of 39 digits or more written as a DOUBLE. DuckDB reads such a literal
    as a UHUGEINT or BIGNUM, which it cannot compare with a DECIMAL(38,0), the type a HUGEINT or UHUGEINT column of
    the rows made takes in Arrow: ``CHECK (x < 1e41)`` as digits on a HUGEINT ended the run at its first batch (a
    Binder Error, after the budget was spent). Every value those rows can hold is under 1e38 in magnitude, so the
    literal's side of each comparison with them is the same as a DOUBLE."""
    def wide(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Literal) and node.is_number and node.this.lstrip("-").isdigit() \
                and len(node.this.lstrip("-")) >= 39:
            return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
        return node
    return tree.transform(wide)


def _no_division_by_zero(tree: exp.Expression, where: str) -> None:
    """Refuse a rule that divides by a constant zero: DuckDB makes every such quotient NULL, so a column derived as
    one (`a = b / 0`) came out all NULL, NOT NULL or not (the review of 12d66b3)."""
    import duckdb

    for div in tree.find_all(exp.Div):
        if next(div.expression.find_all(exp.Column), None) is not None:
            continue
        try:
            zero = _sql(f"SELECT CAST(({div.expression.sql(dialect='duckdb')}) AS DOUBLE) = 0").fetchall()[0][0]
        except duckdb.Error:
            continue  # (not a number: refused, or read, elsewhere)
        if zero:
            raise OptionError(f"{where}: divides by zero ({div.sql(dialect='duckdb')})")


def _written_name(text: str) -> str:
    """A column as a dependency's text names it ('zip -> state'): the spaces around it dropped, and a quoted name
    ('"a "') read as SQL reads it, spaces and all. (Every name was stripped, those sqlglot had read from quotes too,
    so a rule on column "a " fell on column "a": the review of 12d66b3.)"""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def _parse(text: str, by_name, masked: set, generated: set, source: str) -> Rule:
    where = f"{source}: rule '{text}'"

    def resolve(name: str) -> str:
        real = match_column(name, by_name)
        if real is None:
            raise OptionError(f"{where}: no column '{name}'{did_you_mean(name, list(by_name))}")
        if real in masked:
            raise OptionError(f"{where}: column '{real}' is masked (random values): a rule cannot hold it; "
                              "leave it out of the rule or of masks")
        if real in generated:
            raise OptionError(f"{where}: column '{real}' is filled with fresh unique values (a key or the "
                              "privacy unit): a rule cannot hold it")
        return real

    m = _FD.match(text)
    if m and "->>" not in text:  # a functional dependency: each value of the given columns keeps one value
        given = tuple(dict.fromkeys(resolve(_written_name(c)) for c in m.group("given").split(",")))
        dep = resolve(_written_name(m.group("dep")))
        for c in (*given, dep):
            if by_name[c].kind not in CATEGORY_KINDS:
                raise OptionError(f"{where}: column '{c}' is {by_name[c].type}; a dependency holds text, ENUM "
                                  "and BOOLEAN columns for now")
        if dep in given:
            raise OptionError(f"{where}: '{dep}' depends on itself")
        return Rule(text, "fd", "", dep, columns=(*given, dep), source=source, given=given)
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise OptionError(f"{where} is not SQL: {parse_problem(exc)}") from None
    while isinstance(tree, exp.Paren):  # DuckDB writes a CHECK's expression in parentheses
        tree = tree.this
    tree = _wide_literals_as_double(tree)
    _no_division_by_zero(tree, where)
    if isinstance(tree, exp.Not):
        inner = tree.this
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, exp.In):
            return _listed(text, inner, False, resolve, by_name, where, source)
        return _forbidden(text, tree, resolve, by_name, where, source)
    if isinstance(tree, exp.In):
        return _listed(text, tree, True, resolve, by_name, where, source)
    op = _OPS.get(type(tree))
    if op is None:
        raise OptionError(f"{where}: supported rules compare two sides: a column against a constant "
                          "('age >= 18'), two columns ('admitted <= discharged'), or a column equal to arithmetic "
                          "of others ('total = net + tax')")
    names: list[str] = []
    for col in tree.find_all(exp.Column, bfs=False):  # (depth first: the order of the text)
        real = resolve(col.name)
        col.set("this", exp.to_identifier(real, quoted=True))
        col.set("table", None)
        names.append(real)
    if not names:
        raise OptionError(f"{where} names no column")
    left, right = tree.this, tree.expression
    lone_l, lone_r = isinstance(left, exp.Column), isinstance(right, exp.Column)
    sql = tree.sql(dialect="duckdb")
    cols = tuple(dict.fromkeys(names))
    for name in cols:
        if by_name[name].kind not in ("numeric", "temporal") and (lone_l or lone_r or op == "="):
            raise OptionError(f"{where}: column '{name}' is {by_name[name].type}; a comparison holds numbers, dates "
                              "and times (text columns: a dependency 'zip -> state' or a forbidden combination "
                              "NOT (a = 'x' AND b = 'y'))")
    for side in (left, right):
        if not list(side.find_all(exp.Column)):
            _constant(side, where)
    if op != "=" and (lone_l or lone_r) and len(cols) == 1 and not list((right if lone_l else left).find_all(exp.Column)):
        col, const, o = (left.name, right, op) if lone_l else (right.name, left, _FLIP[op])
        value = const.sql(dialect="duckdb")
        # a date's or timestamp's bound at its infinity (`d < 'infinity'`) is kept by moving an infinite value to the
        # type's last finite one: one step from the infinity is the infinity (such rows had broken the rule, said)
        end = _finite_end(by_name[col], value, o)
        if end is not None:  # (every finite value keeps it: at most the last)
            value, o = end, o + "="
        return Rule(text, "bound", sql, col, o, value=value, columns=cols, source=source)
    if op != "=" and not (lone_l and lone_r) and len(cols) == 2 and any(by_name[c].kind == "temporal" for c in cols):
        return _offset(text, sql, left, right, op, cols, by_name, where, source)
    if op != "=" and not (lone_l or lone_r) and (
            not list(left.find_all(exp.Column)) or not list(right.find_all(exp.Column))):
        # a bound on an expression of several columns: `age + birth_year >= 2022`
        side, const, o = (left, right, op) if list(left.find_all(exp.Column)) else (right, left, _FLIP[op])
        b0, coef = _linear(text, where, side, list(cols), by_name)
        moved = [n for n in reversed(cols) if coef[n] != 0]
        if not moved:
            raise OptionError(f"{where}: the expression does not change with its columns")
        wide = _widened(side.sql(dialect="duckdb"), {n: by_name[n].type for n in cols})
        value = const.sql(dialect="duckdb")
        return Rule(text, "linear", f"({wide}) {o} ({value})", moved[0], o, value=value, expr=wide, columns=cols,
                    source=source, movers=tuple((n, coef[n]) for n in moved))
    if op != "=" and not (lone_l and lone_r) and list(left.find_all(exp.Column)) and list(right.find_all(exp.Column)):
        # columns on both sides, `a + 1 <= b - 1`, `x <= 2 * y`: a bound on their difference, `(a + 1) - (b - 1) <= 0`
        diff = exp.Sub(this=exp.Paren(this=left.copy()), expression=exp.Paren(this=right.copy()))
        b0, coef = _linear(text, where, diff, list(cols), by_name)
        moved = [n for n in reversed(cols) if coef[n] != 0]
        if not moved:
            raise OptionError(f"{where}: the two sides do not change with their columns")
        wide = _widened(diff.sql(dialect="duckdb"), {n: by_name[n].type for n in cols})
        return Rule(text, "linear", f"({wide}) {op} 0", moved[0], op, value="0", expr=wide, columns=cols,
                    source=source, movers=tuple((n, coef[n]) for n in moved))
    if op != "=" and lone_l and lone_r:
        if left.name == right.name:
            raise OptionError(f"{where} compares '{left.name}' with itself")
        a, b = by_name[left.name], by_name[right.name]
        if a.kind != b.kind or (a.kind == "temporal" and a.type.upper() != b.type.upper()
                                and "TIME" in (a.type.upper(), b.type.upper())):
            # (a DATE and a TIMESTAMP compare, as in SQL: the date at midnight; a swap casts each to the
            # other's type, a timestamp to its day)
            raise OptionError(f"{where}: '{a.name}' ({a.type}) and '{b.name}' ({b.type}) are not of one kind")
        return Rule(text, "order", sql, a.name, op, right=b.name, columns=cols, source=source)
    if op == "=" and (lone_l or lone_r):
        target, other = (left, right) if lone_l else (right, left)
        if lone_l and lone_r:  # a = b: the left is derived
            target, other = left, right
        if target.name in [c.name for c in other.find_all(exp.Column)]:
            raise OptionError(f"{where}: '{target.name}' is on both sides")
        if not all(isinstance(node, (exp.Column, exp.Literal, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Paren,
                                     exp.Neg, exp.Cast, exp.DataType, exp.DataTypeParam, exp.Identifier))
                   for node in other.walk()):  # (a cast to DECIMAL(12, 2): a generated column's, as the catalog prints it)
            raise OptionError(f"{where}: a derived column equals arithmetic (+ - * /) of columns and constants")
        if by_name[target.name].kind != "numeric":
            raise OptionError(f"{where}: derived column '{target.name}' is {by_name[target.name].type}; a derived "
                              "column is a number")
        expr = other.sql(dialect="duckdb")
        # the column holds the expression in its own type (an INTEGER total of net * 1.5: rounded), and so
        # the rule is checked
        wide = _widened(expr, {c.name: c.type for c in by_name.values()})
        sql = f"{quote_ident(target.name)} = TRY_CAST(({wide}) AS {by_name[target.name].type})"
        return Rule(text, "derived", sql, target.name, expr=expr, columns=cols, source=source, computed=wide)
    raise OptionError(f"{where}: not a rule we keep yet: a column against a constant ('age >= 18'), two columns "
                      "('admitted <= discharged'), or a column equal to arithmetic of others ('total = net + tax')")


def _offset(text: str, sql: str, left: exp.Expression, right: exp.Expression, op: str, cols: tuple[str, ...],
            by_name, where: str, source: str) -> Rule:
    """Two dates or times in order, give or take a constant: `discharged <= admitted + INTERVAL 30 DAY`,
    `discharged - admitted <= 30` (DATEs subtract to days, TIMESTAMPs to an INTERVAL, as in DuckDB),
    `a - INTERVAL 1 HOUR < b`. Kept as `X + kx op Y + ky`: the last column named moves to the boundary."""
    def side(node: exp.Expression) -> tuple[str, str] | None:
        """(column, signed constant SQL or '') of `col`, `col + k`, `k + col`, `col - k`."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Column):
            return node.name, ""
        if isinstance(node, (exp.Add, exp.Sub)):
            a, b = node.this, node.expression
            if isinstance(a, exp.Column) and not list(b.find_all(exp.Column)):
                return a.name, f"{'+' if isinstance(node, exp.Add) else '-'} ({b.sql(dialect='duckdb')})"
            if isinstance(node, exp.Add) and isinstance(b, exp.Column) and not list(a.find_all(exp.Column)):
                return b.name, f"+ ({a.sql(dialect='duckdb')})"
        return None

    shape = (f"{where}: two dates or times are compared as a column against a column give or take a constant "
             "('discharged <= admitted + INTERVAL 30 DAY', 'discharged - admitted <= 30')")
    if any(by_name[c].kind != "temporal" for c in cols):
        raise OptionError(f"{where}: a date or time is compared with a number column; two dates or times are "
                          "compared as a column against a column give or take a constant")
    lhs, rhs = side(left), side(right)
    inner = left
    while isinstance(inner, exp.Paren):
        inner = inner.this
    if (lhs is None or rhs is None) and isinstance(inner, exp.Sub) and isinstance(inner.this, exp.Column) \
            and isinstance(inner.expression, exp.Column) and not list(right.find_all(exp.Column)):
        # X - Y op k  as  X op Y + k
        lhs, rhs = (inner.this.name, ""), (inner.expression.name, f"+ ({right.sql(dialect='duckdb')})")
    if lhs is None or rhs is None or lhs[0] == rhs[0]:
        raise OptionError(shape)
    (x, kx), (y, ky) = lhs, rhs
    if not kx and not ky:
        raise OptionError(shape)
    import duckdb

    try:  # the rule as DuckDB evaluates it, at a value of each column's type (sides of one kind)
        probe = sqlglot.parse_one(sql, read="duckdb")
        for col in probe.find_all(exp.Column):
            col.replace(sqlglot.parse_one(f"CAST('2020-01-01' AS {by_name[col.name].type})", read="duckdb"))
        _sql(f"SELECT {probe.sql(dialect='duckdb')}").fetchall()
    except duckdb.Error as exc:
        raise OptionError(f"{where}: {str(exc).splitlines()[0]}") from None
    moved = cols[-1]
    rule = Rule(text, "offset", sql, x, op, right=y, value=kx, expr=ky, columns=cols, source=source, given=(moved,))
    target, _ = _offset_target(rule)
    for name in (x, y):
        target = target.replace(quote_ident(name), f"CAST('2020-01-01' AS {by_name[name].type})")
    try:  # the repair as DuckDB binds it (a TIMESTAMP minus a bare number of days does not)
        _sql(f"SELECT TRY_CAST({target} AS {by_name[moved].type})").fetchall()
    except duckdb.Error as exc:
        raise OptionError(f"{where}: the column moved to keep it, '{moved}', cannot be computed from the other "
                          f"({str(exc).splitlines()[0]}); write the constant as an INTERVAL") from None
    return rule


def _offset_target(rule: Rule) -> tuple[str, bool]:
    """An offset rule's boundary for the column it moves, as SQL, and whether that column must grow."""
    x, y, m = quote_ident(rule.left), quote_ident(rule.right), rule.given[0]
    neg = {"+": "-", "-": "+"}

    def flip(k: str) -> str:
        return (neg[k[0]] + k[1:]) if k else ""

    if m == rule.left:
        return f"({y} {rule.expr or ''} {flip(rule.value or '')})", rule.op in (">", ">=")
    return f"({x} {rule.value or ''} {flip(rule.expr or '')})", rule.op in ("<", "<=")


def _forbidden(text: str, tree: exp.Not, resolve, by_name, where: str, source: str) -> Rule:
    """NOT (a = 'x' AND b = 'y' ...): a combination of values of text, ENUM or BOOLEAN columns no row holds."""
    inner = tree.this
    while isinstance(inner, exp.Paren):
        inner = inner.this
    terms = list(inner.flatten()) if isinstance(inner, exp.And) else [inner]
    names, values = [], []
    for term in terms:
        while isinstance(term, exp.Paren):
            term = term.this
        if not (isinstance(term, exp.EQ) and isinstance(term.this, exp.Column)
                and isinstance(term.expression, (exp.Literal, exp.Boolean))):
            raise OptionError(f"{where}: a forbidden combination is NOT (column = value AND column = value ...) "
                              "or NOT (a, b) IN (('x', 'y'), ...)")
        names.append(_combo_column(term.this, resolve, by_name, where, "forbidden combination"))
        values.append(term.expression)
    return _combination(text, names, [values], False, by_name, where, source)


def _listed(text: str, tree: exp.In, allow: bool, resolve, by_name, where: str, source: str) -> Rule:
    """`(a, b) IN (('x', 'y'), ('z', 'w'))`: the combinations rows may hold (NOT IN: may not), of text,
    ENUM or BOOLEAN columns; `a IN ('x', 'y')` for one column."""
    what = "allowed combination" if allow else "forbidden combination"
    lhs = tree.this
    while isinstance(lhs, exp.Paren):
        lhs = lhs.this
    cols = _row(lhs)
    if not cols or not all(isinstance(c, exp.Column) for c in cols) or tree.args.get("query") is not None \
            or not tree.expressions:
        raise OptionError(f"{where}: a list of {what}s is (a, b) IN (('x', 'y'), ...) with columns on the left "
                          "and values (no query) on the right")
    names = [_combo_column(c, resolve, by_name, where, what) for c in cols]
    rows = []
    for item in tree.expressions:
        while isinstance(item, exp.Paren):
            item = item.this
        vals = _row(item)
        if len(vals) != len(cols) or not all(isinstance(v, (exp.Literal, exp.Boolean, exp.Null)) for v in vals):
            raise OptionError(f"{where}: each {what} is {len(cols)} value{'s' if len(cols) > 1 else ''} "
                              f"(literals), one per column; got {item.sql(dialect='duckdb')}")
        if len(cols) == 1 and isinstance(vals[0], exp.Null):
            continue  # (NULL IN (..., NULL) is NULL: it keeps a one-column rule anyway)
        rows.append(vals)
    if not rows:
        raise OptionError(f"{where} lists no value")
    return _combination(text, names, rows, allow, by_name, where, source, exact=len(cols) > 1)


def _row(node: exp.Expression) -> list[exp.Expression]:
    """The items of a tuple: `(a, b)`, or `row(a, b)` as DuckDB writes a CHECK's tuples; else the one node."""
    if isinstance(node, exp.Tuple) or (isinstance(node, exp.Anonymous) and str(node.name).lower() == "row"):
        return list(node.expressions)
    return [node]


def _combo_column(col: exp.Column, resolve, by_name, where: str, what: str) -> str:
    name = resolve(col.name)
    if by_name[name].kind not in CATEGORY_KINDS:
        raise OptionError(f"{where}: column '{name}' is {by_name[name].type}; {'an' if what[0] == 'a' else 'a'} {what} "
                          "holds text, ENUM and "
                          "BOOLEAN columns for now (bound a number with a rule such as 'age >= 18', or list "
                          "its values with domains := {...})")
    return name


def _combination(text: str, names: list[str], rows: list[list], allow: bool, by_name, where: str,
                 source: str, exact: bool = False) -> Rule:
    if len(set(names)) != len(names):
        raise OptionError(f"{where} names a column twice")
    import duckdb

    tuples = []
    for vals in rows:
        out = []
        for name, lit in zip(names, vals):
            if isinstance(lit, exp.Null):
                if not exact:
                    raise OptionError(f"{where}: a value compared with '=' is NULL, which keeps the rule in every "
                                      "row (list NULL in (a, b) NOT IN ((..., NULL)) to forbid it)")
                value = None
            elif by_name[name].kind == "boolean":  # as DuckDB reads it: true, 't', 1, 'yes' ...
                try:
                    value = _sql(f"SELECT CAST({lit.sql(dialect='duckdb')} AS BOOLEAN)").fetchall()[0][0]
                except duckdb.Error:
                    raise OptionError(f"{where}: {lit.sql(dialect='duckdb')} is not a value of BOOLEAN column "
                                      f"'{name}'") from None
            elif by_name[name].type.upper() == "UUID":  # as DuckDB writes it, lower case (as the domain holds its
                # values: 'A0EE...' kept no row, every one came out NULL; the review of 48d815d)
                try:
                    value = _sql(f"SELECT CAST(CAST({lit.sql(dialect='duckdb')} AS UUID) AS VARCHAR)").fetchall()[0][0]
                except duckdb.Error:
                    raise OptionError(f"{where}: {lit.sql(dialect='duckdb')} is not a value of UUID column "
                                      f"'{name}'") from None
            else:
                value = str(lit.this)
            out.append(value)
        tuples.append(tuple(out))
    tuples = tuple(dict.fromkeys(tuples))

    def lit(v) -> str:
        return "NULL" if v is None else str(v).lower() if isinstance(v, bool) else quote_literal(str(v))

    if exact:  # DuckDB's own row comparison (a NULL is a value), as a CHECK of this shape is evaluated
        listed = ", ".join("(" + ", ".join(lit(v) for v in t) + ")" for t in tuples)
        test = f"({', '.join(quote_ident(c) for c in names)}) IN ({listed})"
    elif len(names) == 1:
        test = f"{quote_ident(names[0])} IN ({', '.join(lit(t[0]) for t in tuples)})"
    else:
        test = " OR ".join("(" + " AND ".join(f"{quote_ident(c)} = {lit(v)}" for c, v in zip(names, t)) + ")"
                           for t in tuples)
    sql = f"({test})" if allow else f"NOT ({test})"
    return Rule(text, "allow" if allow else "forbid", sql, names[-1], columns=tuple(names), source=source,
                tuples=tuples, exact=exact)


def _order_dependencies(rules: list[Rule], source: str) -> None:
    """Dependencies in an order where a column is set before another dependency reads it (`a -> b` before
    `b -> c`), and after the combination rules (whose repair can change a determinant); a cycle is
    refused, and so is a dependent column held by a combination rule that reads columns outside the
    dependency (setting it could break that; one within it is kept by the dependent value chosen)."""
    deps = [r for r in rules if r.kind == "fd"]
    done: list[Rule] = []
    while deps:
        ready = [r for r in deps if not any(o is not r and o.left in r.given for o in deps)]
        if not ready:
            raise OptionError(f"{source}: dependencies {', '.join(repr(r.text) for r in deps)} go round in a circle")
        done.extend(ready)
        deps = [r for r in deps if all(r is not x for x in ready)]
    for r in done:
        for c in rules:
            if c.kind in ("forbid", "allow") and r.left in c.columns and not set(c.columns) <= {*r.given, r.left}:
                raise OptionError(f"{source}: column '{r.left}' is set by the dependency '{r.text}' and held by "
                                  f"the combination rule '{c.text}': the copy cannot keep both; state the "
                                  f"combination on the determinant ({', '.join(r.given)}) instead")
    rest = [r for r in rules if r.kind != "fd"]
    combos = [r for r in rest if r.kind in ("forbid", "allow")]
    rules[:] = [r for r in rest if r.kind not in ("forbid", "allow")] + combos + done


def _order_derived(rules: list[Rule], source: str) -> None:
    """Derived rules in an order where each is computed after the columns it reads; a cycle is refused."""
    derived = {r.left: r for r in rules if r.kind == "derived"}
    done: list[Rule] = []
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in seen:
            return
        if name in path:
            raise OptionError(f"{source}: derived columns {' -> '.join(path + (name,))} go round in a circle")
        rule = derived[name]
        for c in rule.columns:
            if c != name and c in derived:
                visit(c, path + (name,))
        seen.add(name)
        done.append(rule)

    for name in derived:
        visit(name, ())
    rest = [r for r in rules if r.kind != "derived"]
    rules[:] = done + rest


def modelled_away(rules: Sequence[Rule]) -> set[str]:
    """Columns a rule computes (derived): not modelled, as their values come from the others."""
    return {r.left for r in rules if r.kind == "derived"}


def violations_sql(rule: Rule) -> str:
    """A predicate true on the rows that break the rule (NULL keeps a rule, as in a CHECK)."""
    return f"NOT coalesce(({rule.sql}), true)"


def _coupled(rules: Sequence[Rule]) -> tuple[list[Rule], list[Rule]]:
    """The repairs that can undo each other (orders, expressions, offsets, and bounds on a column one of
    them moves), which take passes, and the bounds of columns nothing else moves, which take one."""
    fixes = [r for r in rules if r.kind in ("bound", "order", "linear", "offset")]
    moved = set()
    for r in fixes:
        if r.kind == "order":
            moved |= {r.left, r.right}
        elif r.kind == "linear":
            moved |= {n for n, _ in r.movers}  # (a linear rule has one at least: ``left`` first)
        elif r.kind == "offset":
            moved.add(r.given[0])
    coupled = [r for r in fixes if r.kind != "bound" or r.left in moved]
    return coupled, [r for r in fixes if r.kind == "bound" and r.left not in moved]


def derive_sql(rules: Sequence[Rule], sql: str, types: dict[str, str]) -> str:
    """`sql` with each derived column computed from the others by its rule."""
    for rule in rules:
        if rule.kind == "derived":
            q = quote_ident(rule.left)
            sql = f"SELECT * REPLACE (TRY_CAST({rule.computed} AS {types[rule.left]}) AS {q}) FROM ({sql})"
    return sql


def _widened(expr: str, types: dict[str, str]) -> str:
    """A derived column's expression with its whole-number columns read as HUGEINT (`types`: each column's type), so
    that a sum past their type is a value the cast to the derived column's type refuses (NULL), not an error that
    ends the run (67 + 61 on TINYINTs: the review of 5d9a382). Read once, when the rule is (``Rule.computed``): the
    columns a rule names are modelled, and come out in their own types."""
    tree = sqlglot.parse_one(expr, read="duckdb")
    for node in list(tree.find_all(exp.Column)):
        t = types.get(node.name, "")
        if _scale(t) == 0 and t.upper() not in ("HUGEINT", "UHUGEINT"):
            cast = exp.Cast(this=node.copy(), to=exp.DataType.build("HUGEINT"))
            if node is tree:
                tree = cast
            else:
                node.replace(cast)
    return tree.sql(dialect="duckdb")


STEP_FIXES = 8  # repairs per query of keep_table (DuckDB refuses expressions nested past 1,000 levels), each column a
# linear rule moves a repair of its own (8 rules over 40 columns in one query had passed that depth, after the budget was
# spent: the review of 7ea59cc)


def keep_table(con, rules: Sequence[Rule], table_name: str, types: dict[str, str]):
    """The rows of `table_name` (registered on `con`) with every rule kept (see the module's docstring):
    bounds of columns nothing else moves once, the repairs that can undo each other in passes (one per
    link of a chain) that stop once no row breaks one, then the derived columns computed from the
    repaired ones (no other rule holds a derived column: ``_through_derived``). A few repairs per query,
    each step's rows held as Arrow: a table with many rules, a CHECK on each column, would nest one query
    past DuckDB's limit."""
    step = [0]
    ends = {name: ([e for _, e in lo], [e for _, e in hi]) for name, (lo, hi) in
            _bound_ends(rules, lambda n: classify(n, types[n]), carried=True).items()}

    def run(fixes: Sequence[Rule], current: str) -> str:
        # (a linear rule's columns moved are repairs of their own, in turn: (rule, which of its columns))
        units = [(r, i) for r in fixes for i in (range(len(r.movers)) if r.kind == "linear" else (None,))]
        for k in range(0, len(units), STEP_FIXES):
            sql = f"SELECT * FROM {current}"
            for rule, i in units[k:k + STEP_FIXES]:
                sql = _fix(rule, sql, types, ends, i)
            step[0] += 1
            made = con.sql(sql).to_arrow_table()
            if current.startswith("_synth_keep_"):
                con.unregister(current)  # (each step's rows held once)
            current = f"_synth_keep_{step[0]}"
            con.register(current, made)
        return current

    current = table_name
    coupled, alone = _coupled(rules)
    current = run(alone, current)
    for _ in range(max(MAX_PASSES, len(coupled) + 1) if coupled else 0):
        broken = " OR ".join(violations_sql(r) for r in coupled)
        if not con.sql(f"SELECT count(*) FILTER ({broken}) FROM {current}").fetchall()[0][0]:
            break
        current = run(coupled, current)
    out = con.sql(derive_sql(rules, f"SELECT * FROM {current}", types)).to_arrow_table()
    if current.startswith("_synth_keep_"):
        con.unregister(current)
    return out


def _bound_ends(rules: Sequence[Rule], column: Callable[[str], Column], carried: bool
                ) -> dict[str, tuple[list[tuple[Rule, str]], list[tuple[Rule, str]]]]:
    """Per column a linear rule names, its bounds, each with the first value of the column's type a lower one keeps or
    the last an upper one keeps (SQL; ``_kept_ends``): a linear repair keeps inside them and moves the rule's next
    column for the rest; ``_linear_apart`` tries the box they leave. A bound carried along orders holds where its
    chain holds values: with `carried`, its end is NULL elsewhere (which greatest and least skip: dropped, the linear
    and order repairs had fought; kept everywhere, it moved rows that broke nothing: the reviews of ea8b313 and
    7ea59cc), else it is left out."""
    names = {n for r in rules if r.kind == "linear" for n, _ in r.movers}
    out: dict[str, tuple[list[tuple[Rule, str]], list[tuple[Rule, str]]]] = {}
    for r in rules:
        if r.kind != "bound" or r.left not in names or (r.given and not carried):
            continue
        try:
            end = _kept_ends(column(r.left), [r], r.source)[0]
        except OptionError:  # (refused when the rules were read)
            end = None
        if end is not None and r.given:
            end = f"(CASE WHEN {' AND '.join(f'{quote_ident(c)} IS NOT NULL' for c in r.given)} THEN {end} END)"
        if end is not None:
            out.setdefault(r.left, ([], []))[r.op in ("<", "<=")].append((r, end))
    return out


def code_rules(rules: Sequence[Rule]) -> list[Rule]:
    """The rules kept on the codes: dependencies, forbidden and allowed combinations."""
    return [r for r in rules if r.kind in ("fd", "forbid", "allow")]


class DependencyMap:
    """A dependency's one dependent code per determinant cell (sparse: the cells a pilot drew, each its
    most frequent dependent code; any other cell the dependent's most frequent code; -1 where the
    determinant is NULL or 'other', whose rows keep their value)."""

    def __init__(self, cells: np.ndarray, choice: np.ndarray, prior: np.ndarray, loose) -> None:
        self.cells, self.choice, self.prior, self._loose = cells, choice, prior, loose
        self.fallback = int(prior.argmax())

    def __getitem__(self, cell: np.ndarray) -> np.ndarray:
        at = np.searchsorted(self.cells, cell)
        at = np.minimum(at, max(len(self.cells) - 1, 0))
        hit = (self.cells[at] == cell) if len(self.cells) else np.zeros(len(cell), dtype=bool)
        out = np.where(hit, self.choice[at] if len(self.cells) else self.fallback, self.fallback)
        return np.where(self._loose(cell), -1, out)


def _cells(codes: np.ndarray, cols: Sequence[int], sizes: Sequence[int]) -> np.ndarray:
    return np.ravel_multi_index(tuple(codes[:, i].astype(np.int64) for i in cols), tuple(int(x) for x in sizes))


def dependency_maps(rules: Sequence[Rule], domains, pilot: np.ndarray) -> dict[int, DependencyMap]:
    """Per dependency (its index in `rules`), each determinant cell's one dependent code: the one the model
    draws most often with it in `pilot` (codes drawn from the model: post-processing), never the
    dependent's 'other' bucket (whose values are random tokens, each its own) while another is drawn."""
    index = {d.column.name: i for i, d in enumerate(domains)}
    out = {}
    for k, rule in enumerate(rules):
        if rule.kind != "fd":
            continue
        g = [index[c] for c in rule.given]
        b = index[rule.left]
        sizes = [domains[i].size for i in g]
        dom_b = domains[b]
        cell = _cells(pilot, g, sizes)
        pair, n = np.unique(cell * dom_b.size + pilot[:, b].astype(np.int64), return_counts=True)
        cells, dep = pair // dom_b.size, pair % dom_b.size
        score = n.astype(float)
        if getattr(dom_b, "other", False) and dom_b.size > 1:
            score[dep == dom_b.other_code] *= 1e-9  # chosen only where nothing else is drawn
        order = np.lexsort((-score, cells))  # by cell, the most drawn first
        first = np.r_[True, cells[order][1:] != cells[order][:-1]] if len(order) else np.zeros(0, dtype=bool)
        best = order[first]

        def loose(c: np.ndarray, g=g, sizes=sizes) -> np.ndarray:
            out = np.zeros(len(c), dtype=bool)
            for axis, i in enumerate(g):
                code = np.unravel_index(c, sizes)[axis]
                out |= (code == domains[i].null_code) | (code == getattr(domains[i], "other_code", -1))
            return out

        out[k] = DependencyMap(cells[best], dep[best], _prior(dom_b, pilot[:, b]), loose)
    return out


def _prior(dom, codes: np.ndarray) -> np.ndarray:
    """How often the pilot drew each code ('other' never preferred: -1)."""
    counts = np.bincount(codes.astype(np.int64), minlength=dom.size).astype(float)
    if getattr(dom, "other", False) and dom.size > 1:
        counts[dom.other_code] = -1
    return counts


def _set_dependent(dmap: DependencyMap, g: list[int], b: int, codes: np.ndarray, sizes, combos) -> None:
    """A dependency kept on `codes`: the dependent takes its determinant cell's one code; where that code
    (the fallback of a cell the pilot never drew) breaks a combination rule within the dependency's
    columns, the most drawn code the rule allows for the cell (a choice by cell, so the cell keeps one)."""
    to = dmap[_cells(codes, g, [sizes[i] for i in g])]
    codes[:, b] = np.where(to >= 0, to, codes[:, b])
    for c in combos:
        if b in c.cols and set(c.cols) <= {*g, b}:
            j = c.cols.index(b)
            known = [p for p in range(len(c.cols)) if p != j]
            bad = ~c.allowed(codes, j, known)
            if bad.any():
                rows = np.flatnonzero(bad)
                score = c.options(codes, j, known, rows) * (np.maximum(dmap.prior, 0) + 1e-9)
                fine = score.max(axis=1) > 0
                codes[rows[fine], b] = score[fine].argmax(axis=1)


class _Combo:
    """A combination rule on the codes: its columns (model indices, in the rule's order) and its listed
    combinations as codes. A list of several columns compares rows as DuckDB compares them (a NULL is a
    value: `('x', NULL) IN (('x', 'y'))` is false); one column, or NOT (a = 'x' AND ...), as SQL's
    three-valued logic (a NULL keeps the rule). A listed value the domain lacks cannot come out: an
    allowed combination holding one is dropped, a forbidden one cannot occur."""

    def __init__(self, rule: Rule, domains, index: dict[str, int]) -> None:
        self.rule, self.allow, self.exact = rule, rule.kind == "allow", rule.exact
        self.cols = [index[c] for c in rule.columns]
        self.sizes = [domains[i].size for i in self.cols]
        self.nulls = [domains[i].null_code for i in self.cols]
        self.spare = [{domains[i].null_code, getattr(domains[i], "other_code", -1)} - {-1} for i in self.cols]
        rows = []
        for t in rule.tuples:
            codes = []
            for i, v in zip(self.cols, t):
                values = list(getattr(domains[i], "values", ()))
                code = domains[i].null_code if v is None else (values.index(v) if v in values else -1)
                if code < 0:
                    break
                codes.append(code)
            else:
                rows.append(codes)
        self.tuples = np.array(rows, dtype=np.int64).reshape(len(rows), len(self.cols))
        if self.allow and not len(self.tuples):
            log.warning("rule '%s': none of the combinations it lists is in the copy's domains (values too rare to "
                        "keep, or unseen): its rows come out %s; declare the values with domains := {...}",
                        rule.text, "NULL" if not self.exact else "breaking it")
        self._memo: dict = {}

    def _pairs(self, j: int, known: tuple[int, ...]):
        """For column j given the columns `known`: the listed combinations' (known values, j's value) as
        rows of an array, and the pairs that decide: allowed ones (allow) or ones every completion of
        which is forbidden (forbid); memoised."""
        key = (j, known)
        if key not in self._memo:
            t = self.tuples[:, list(known) + [j]]
            if not self.allow:  # forbidden everywhere: every completion of the columns not drawn is listed
                left = int(np.prod([self.sizes[p] for p in range(len(self.cols)) if p != j and p not in known],
                                   dtype=np.float64))
                t, n = np.unique(t, axis=0, return_counts=True) if len(t) else (t, np.zeros(0, dtype=np.int64))
                t = t[n >= left]
            self._memo[key] = np.unique(t, axis=0) if len(t) else t
        return self._memo[key]

    def _match(self, codes: np.ndarray, j: int, known: Sequence[int], values: np.ndarray) -> np.ndarray:
        """Whether each row's (known values, `values`) is one of the deciding pairs."""
        pairs = self._pairs(j, tuple(known))
        if not len(pairs):
            return np.zeros(len(codes), dtype=bool)
        rows = np.column_stack([codes[:, self.cols[p]] for p in known] + [values]).astype(np.int64)
        both = np.concatenate([pairs, rows])
        _, ids = np.unique(both, axis=0, return_inverse=True)
        ids = ids.reshape(-1)
        return np.isin(ids[len(pairs):], ids[:len(pairs)])

    def allowed(self, codes: np.ndarray, j: int, known: Sequence[int], values: np.ndarray | None = None) -> np.ndarray:
        """Whether each row's value of column j (or `values`) keeps the rule given the columns `known`
        (positions) already drawn, with the columns not drawn yet still able to complete it."""
        v = codes[:, self.cols[j]] if values is None else values
        if not self.allow:
            return ~self._match(codes, j, known, v)
        ok = self._match(codes, j, known, v)
        if not self.exact:  # a NULL keeps a one-column list (NULL IN (...) is NULL)
            ok |= v == self.nulls[j]
        return ok

    def options(self, codes: np.ndarray, j: int, known: Sequence[int], rows: np.ndarray) -> np.ndarray:
        """(len(rows), size of column j): the values column j may take in each of `rows` (one mask per
        distinct value of the known columns among them)."""
        size = self.sizes[j]
        pairs = self._pairs(j, tuple(known))
        if known:
            keys = np.column_stack([codes[rows, self.cols[p]] for p in known]).astype(np.int64)
            _, ids = np.unique(np.concatenate([pairs[:, :-1], keys]), axis=0, return_inverse=True)
            ids = ids.reshape(-1)
            pair_ids, row_ids = ids[:len(pairs)], ids[len(pairs):]
        else:
            pair_ids, row_ids = np.zeros(len(pairs), dtype=np.int64), np.zeros(len(rows), dtype=np.int64)
        groups, local = np.unique(row_ids, return_inverse=True)
        hit = np.zeros((len(groups), size), dtype=bool)
        at = np.searchsorted(groups, pair_ids)
        inside = (at < len(groups)) & (groups[np.minimum(at, len(groups) - 1)] == pair_ids)
        hit[at[inside], pairs[inside, -1]] = True
        out = hit[local.reshape(-1)] if self.allow else ~hit[local.reshape(-1)]
        if self.allow and not self.exact and self.nulls[j] >= 0:
            out[:, self.nulls[j]] = True
        return out


def _redraw(weights: np.ndarray, ok: np.ndarray, prior: np.ndarray, spare: set, rng: np.random.Generator):
    """A value per row from `weights` restricted to `ok`; where the model gives those none, from the
    column's overall weight `prior` so restricted, else evenly over the allowed values that are neither
    NULL nor 'other' (else over any allowed). -1 where nothing is allowed."""
    p = weights * ok
    for alt in (prior[None, :] * ok, ok * np.array([v not in spare for v in range(ok.shape[1])])[None, :], ok):
        empty = p.sum(axis=1) <= 0
        if not empty.any():
            break
        p[empty] = alt[empty] if alt.shape[0] == len(p) else np.broadcast_to(alt, p.shape)[empty]
    total = p.sum(axis=1)
    out = np.full(len(p), -1, dtype=np.int64)
    live = total > 0
    if live.any():
        cum = np.cumsum(p[live], axis=1)
        u = rng.random(int(live.sum())) * cum[:, -1]
        pick = np.minimum((cum <= u[:, None]).sum(axis=1), p.shape[1] - 1)
        bad = ~ok[live][np.arange(len(pick)), pick]
        pick[bad] = p[live][bad].argmax(axis=1)  # (rounding at the top of the sum)
        out[live] = pick
    return out


class Keeper:
    """Rules kept while the rows are drawn (the samplers call it after each column): the combination
    rules give zero mass to what they exclude, so that a column drawn against them is drawn again from
    the model's own conditional with those values taken out (and the columns drawn after it are drawn
    given the value kept); a list also restricts each of its columns, as drawn, to values with which the
    columns not drawn yet can still keep it. Dependencies are set after the draw (``keep_codes``): a
    value forced on a column while drawing, whatever the model says of it given its other parents, leaves
    the columns drawn after it conditioned on configurations the model holds improbable (on the cars
    table at ε = 1 that cost 0.004 of fidelity against setting them after the draw; a value drawn
    again from the model's own conditional, as here, stays probable given its parents).
    ``keep_codes`` after the draw also catches what a sampler without the hook leaves."""

    def __init__(self, rules: Sequence[Rule], domains) -> None:
        index = {d.column.name: i for i, d in enumerate(domains)}
        self.combos = [_Combo(r, domains, index) for r in rules if r.kind in ("forbid", "allow")]

    def __call__(self, x: int, out: np.ndarray, drawn: Sequence[int], table: np.ndarray, config: np.ndarray,
                 rng: np.random.Generator) -> None:
        done = set(drawn) | {x}
        held = []
        for c in self.combos:
            if x in c.cols:
                j = c.cols.index(x)
                held.append((c, j, [p for p, col in enumerate(c.cols) if col != x and col in done]))
        if not held:
            return
        bad = np.zeros(len(out), dtype=bool)
        for c, j, known in held:
            bad |= ~c.allowed(out, j, known)
        if not bad.any():
            return
        rows = np.flatnonzero(bad)
        ok = np.ones((len(rows), table.shape[1]), dtype=bool)
        for c, j, known in held:
            ok &= c.options(out, j, known, rows)
        spare = set().union(*(c.spare[j] for c, j, _ in held))
        pick = _redraw(table[config[rows]], ok, table.sum(axis=0), spare, rng)
        live = pick >= 0  # (rows no value can keep are left to keep_codes)
        out[rows[live], x] = pick[live]


def keep_codes(rules: Sequence[Rule], domains, codes: np.ndarray, maps: dict) -> None:
    """Keep the dependencies and combination rules on a batch's codes, in place (after ``Keeper`` in the
    samplers, this changes no combination; it keeps them for any other sampler): a dependent column
    takes its determinant's one code; a row holding a combination a rule excludes takes, in the rule's
    last column (else the one before, ...), the allowed code the batch holds most; an allowed list no
    single change completes takes the listed combination the batch holds most. Rows still breaking a
    rule are left (and logged after decoding)."""
    index = {d.column.name: i for i, d in enumerate(domains)}
    combos = [_Combo(r, domains, index) for r in rules if r.kind in ("forbid", "allow")]
    for _ in range(max(1, len(combos))):  # a repair can break another combination rule: again
        changed = False
        for c in combos:
            m = len(c.cols)
            bad = ~c.allowed(codes, m - 1, list(range(m - 1)))
            for j in reversed(range(m)):  # the last column first
                if not bad.any():
                    break
                x = c.cols[j]
                known = [p for p in range(m) if p != j]
                rows = np.flatnonzero(bad)
                counts = np.bincount(codes[~bad, x].astype(np.int64), minlength=c.sizes[j]).astype(float) + 1e-9
                score = c.options(codes, j, known, rows) * counts
                fine = score.max(axis=1) > 0
                codes[rows[fine], x] = score[fine].argmax(axis=1)
                bad[rows[fine]] = False
                changed |= bool(fine.any())
            if bad.any() and c.allow and len(c.tuples):  # no single change completes the others
                held = np.array([np.all(codes[:, c.cols] == t, axis=1).sum() for t in c.tuples])
                codes[np.ix_(np.flatnonzero(bad), c.cols)] = c.tuples[int(held.argmax())]
                changed = True
        if not changed:
            break
    for k, rule in enumerate(rules):
        if rule.kind == "fd":
            _set_dependent(maps[k], [index[c] for c in rule.given], index[rule.left], codes,
                           [d.size for d in domains], combos)


def _step(type_: str) -> str:
    """The least step of a type, as SQL to add to a value of it (a strict rule's tie moved by it)."""
    t = type_.upper()
    if t == "DATE":
        return "INTERVAL 1 DAY"
    if t in ("TIMESTAMP_S",):
        return "INTERVAL 1 SECOND"
    if t in ("TIMESTAMP_MS",):
        return "INTERVAL 1 MILLISECOND"
    if t.startswith("TIMESTAMP") or t == "TIME":
        return "INTERVAL 1 MICROSECOND"
    if t.startswith("DECIMAL") or t.startswith("NUMERIC"):
        scale = int(t.split(",")[1].rstrip(") ")) if "," in t else 3
        return f"CAST('1e-{scale}' AS {type_})" if scale else "1"
    if t in ("FLOAT", "REAL", "DOUBLE", "FLOAT4", "FLOAT8"):
        return "NULL"  # floats: nextafter, below
    return "1"


def _scale(type_: str) -> int | None:
    """Decimal places a number type keeps (0: whole numbers; None: a float, or not a number)."""
    t = type_.upper()
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
             "INT", "INT1", "INT2", "INT4", "INT8", "LONG", "SHORT", "UHUGEINT"):
        return 0
    if t.startswith(("DECIMAL", "NUMERIC")):
        return int(t.split(",")[1].rstrip(") ")) if "," in t else 3
    return None


def _try_cast(value: str, t_from: str, t_to: str) -> str:
    """`value` of type `t_from` as `t_to`, NULL where that type cannot hold it: DuckDB casts no TIMESTAMP_NS to a
    TIMESTAMP_S or back but through TIMESTAMP (TRY_CAST gave NULL, and a swap so guarded left 967 of 2,000 rows
    breaking `s < ns`: the review of 1c489ef)."""
    pair = {t_from.upper(), t_to.upper()}
    if "TIMESTAMP_NS" in pair and pair & {"TIMESTAMP_S", "TIMESTAMP_MS"}:
        value = f"TRY_CAST({value} AS TIMESTAMP)"
    return f"TRY_CAST({value} AS {t_to})"


def _rounded(value: str, t_from: str, t_to: str, up: bool) -> str:
    """`value` rounded, toward the side an order needs, to a step `t_to` holds where `t_from` holds finer ones
    (a swap puts 10.0000001 into a BIGINT slot above it as 11, not as 10, which would tie the pair again)."""
    to, frm = _scale(t_to), _scale(t_from)
    if to is None or (frm is not None and frm <= to) or not (_scale(t_from) is not None
                                                             or t_from.upper() in ("FLOAT", "REAL", "DOUBLE", "FLOAT4", "FLOAT8")):
        return value
    f = "ceil" if up else "floor"
    return f"{f}({value})" if to == 0 else f"({f}(({value}) * 1e{to}) / 1e{to})"


def _nudged(rule: Rule, col: str, type_: str, up: bool, sql: str) -> str:
    """`sql` with the rows that still break `rule` moved one step of `type_` in `col` (quoted), up or down:
    a strict bound, a value the type rounded to the wrong side, an expression DuckDB evaluates in floating
    point. Whole numbers step in a wider type (0 - 1 on a UTINYINT is an error, not -1); a step the type
    cannot hold leaves the value."""
    step = (f"nextafter({col}, CAST('{'inf' if up else '-inf'}' AS {type_}))" if _step(type_) == "NULL"
            else f"CAST({col} AS HUGEINT) {'+' if up else '-'} 1" if _step(type_) == "1"
            else f"{col} {'+' if up else '-'} {_step(type_)}")
    nudged = f"CASE WHEN NOT coalesce(({rule.sql}), true) THEN coalesce(TRY_CAST({step} AS {type_}), {col}) ELSE {col} END"
    return f"SELECT * REPLACE ({nudged} AS {col}) FROM ({sql})"


def _moved_linear(rule: Rule, name: str, coef: float, ta: str, sql: str, ends: tuple[list[str], list[str]] | None,
                  first: bool) -> str:
    """`sql` with column `name` (coefficient `coef` in the rule's expression, of type `ta`) moved by what the
    expression of linear `rule` is past its bound, on the rows that break it, kept within `ends` (the first and last
    values its bounds keep, SQL) where it has any; a column after the first moves only where that is finite."""
    a = quote_ident(name)
    floaty = _step(ta) == "NULL"
    c = f"CAST({rule.value} AS DOUBLE)"
    e = f"CAST(({rule.expr}) AS DOUBLE)"
    inward = 1.0 if rule.op in (">=", ">") else -1.0
    if floaty:  # aim a hair inside the bound: the expression recomputed in floating point (x / 7 ...)
        # can land past it by a few units in the last place (of a FLOAT: of its 24 bits)
        rel = 1e-6 if ta.upper() in ("FLOAT", "REAL", "FLOAT4") else 1e-12
        c = f"({c} + {inward!r} * {rel!r} * (1 + abs({c}) + abs({e}) + abs({coef!r} * CAST({a} AS DOUBLE))))"
    gap = f"(({c}) - {e}) / {coef!r}"
    x = f"CAST({a} AS DOUBLE) + {gap}"
    up = (rule.op in (">=", ">")) == (coef > 0)  # the column must grow
    if not floaty:  # a whole step of the type, rounded the way that keeps the bound
        unit = 1.0 if _step(ta) == "1" else 10.0 ** -int(ta.upper().split(",")[1].rstrip(") ")) \
            if "," in ta else 1.0
        strict = rule.op in ("<", ">")
        x = (f"(ceil(({x}) / {unit!r}{' + 1e-9' if strict else ' - 1e-9'}) * {unit!r})" if up
             else f"(floor(({x}) / {unit!r}{' - 1e-9' if strict else ' + 1e-9'}) * {unit!r})")
    elif rule.op in ("<", ">"):
        x = f"nextafter({x}, {'CAST(' + repr('inf') + ' AS DOUBLE)' if up else 'CAST(' + repr('-inf') + ' AS DOUBLE)'})"
    # (not where the expression is infinite: an infinite input's other input would move to NaN, 11 rows of a review
    # case of 6cb68e8; the row breaks the rule, said)
    target = _within(f"coalesce(TRY_CAST({x} AS {ta}), {a})", ends)
    moved = (f"CASE WHEN NOT coalesce(({rule.sql}), true) AND isfinite({e}) {'' if first else f'AND isfinite({a}) '}"
             f"THEN {target} ELSE {a} END")
    sql = f"SELECT * REPLACE ({moved} AS {a}) FROM ({sql})"
    # DuckDB may compute the expression in floating point (a DECIMAL divided: 95.08 / 2.0 - 65.54 is
    # -18.000000000000007): a row on the bound that the check still finds past it moves one step more
    sql = _nudged(rule, a, ta, up, sql)
    if ends is None:
        return sql
    # (no nudge past them; NULL kept: greatest and least skip it)
    return f"SELECT * REPLACE (CASE WHEN {a} IS NULL THEN {a} ELSE {_within(a, ends)} END AS {a}) FROM ({sql})"


def _within(x: str, ends: tuple[list[str], list[str]] | None) -> str:
    """`x` (SQL) brought within `ends`, the first values lower bounds keep and the last upper ones keep (either may
    be empty: a column bounded on one side; ``least(greatest(x, lo), x)`` had undone the lower end)."""
    if ends is None:
        return x
    if ends[0]:
        x = f"greatest({x}, {', '.join(ends[0])})"
    return f"least({x}, {', '.join(ends[1])})" if ends[1] else x


def _fix(rule: Rule, sql: str, types: dict[str, str], ends: dict, mover: int | None = None) -> str:
    """`sql` with the rows that break `rule` repaired (a linear rule: by its column ``movers[mover]``, within `ends`,
    ``_bound_ends``'s)."""
    a = quote_ident(rule.left)
    ta = types[rule.left]
    floaty = _step(ta) == "NULL"
    if rule.kind == "offset":  # X + kx op Y + ky: the last column named moves to the boundary
        m = rule.given[0]
        target, grow = _offset_target(rule)
        q, t = quote_ident(m), types[m]
        moved = f"CASE WHEN NOT coalesce(({rule.sql}), true) THEN coalesce(TRY_CAST({target} AS {t}), {q}) ELSE {q} END"
        sql = f"SELECT * REPLACE ({moved} AS {q}) FROM ({sql})"
        # a strict order, or a boundary the type cannot hold (a time on a DATE): one step more
        return _nudged(rule, q, t, grow, sql)
    if rule.kind == "linear":  # move the last column named by what the expression is past its bound; where its
        # bounds stop it short (`b <= 120` with `2 a - b / 4 < 30`), the next column named for the rest (in turn)
        name, coef = rule.movers[mover]
        return _moved_linear(rule, name, coef, types[name], sql, ends.get(name), mover == 0)
    if rule.kind == "bound":
        c = f"coalesce(TRY_CAST({rule.value} AS {ta}), {a})"  # (300 on a TINYINT: nothing to bring it to)
        up = rule.op in (">=", ">")
        # NULL keeps a rule: CASE, not greatest/least (which skip NULLs and would fill them with the bound)
        moved = f"CASE WHEN NOT coalesce(({rule.sql}), true) THEN {c} ELSE {a} END"
        sql = f"SELECT * REPLACE (CAST({moved} AS {ta}) AS {a}) FROM ({sql})"
        # the bound cast to the column's type may fall on the wrong side of it (17.4 on an INTEGER, a
        # strict bound): one step of the type toward the allowed side
        return _nudged(rule, a, ta, up, sql)
    b = quote_ident(rule.right)
    lo, hi = (a, b) if rule.op in ("<", "<=") else (b, a)
    tb = types[rule.right]
    t_lo, t_hi = (ta, tb) if lo == a else (tb, ta)
    swap = f"{lo} > {hi}"
    into_lo = _try_cast(_rounded(hi, t_hi, t_lo, up=False), t_hi, t_lo)
    into_hi = _try_cast(_rounded(lo, t_lo, t_hi, up=True), t_lo, t_hi)
    # (a value the other type cannot hold, -3 into a UTINYINT: the pair is left, and logged if still broken)
    swap = f"({swap} AND {into_lo} IS NOT NULL AND {into_hi} IS NOT NULL)"
    new_lo = f"CASE WHEN {swap} THEN {into_lo} ELSE {lo} END"
    new_hi = f"CASE WHEN {swap} THEN {into_hi} ELSE {hi} END"
    if rule.op in ("<", ">"):  # equal values: the larger moves one step up (of its own type)
        up = (f"nextafter({new_hi}, CAST('inf' AS {t_hi}))" if _step(t_hi) == "NULL"
              else f"CAST({new_hi} AS HUGEINT) + 1" if _step(t_hi) == "1" else f"{new_hi} + {_step(t_hi)}")
        if t_hi.upper() == "TIMESTAMP_NS":  # to the next whole microsecond, as every value drawn is written (a
            # microsecond on kept nanoseconds, ...46.000001500, was a value 1 row held: the review of 1db8b99)
            ns = f"epoch_ns({new_hi})"
            up = f"make_timestamp_ns({ns} - (({ns} % 1000) + 1000) % 1000 + 1000)"
        elif decimal_past_floats(classify("_", t_hi)):  # to the next float's written value, at least a step: one
            # step of DECIMAL(38,18) is no float's (11.5 + 1e-18 reads as 11.5), and was a value 1 row held (the review
            # of 1db8b99)
            after = written_sql(f"nextafter(CAST({new_hi} AS DOUBLE), CAST('inf' AS DOUBLE))", t_hi, read=True)
            up = f"greatest({up}, coalesce({after}, {up}))"
        new_hi = f"CASE WHEN {new_lo} = {new_hi} THEN coalesce(TRY_CAST({up} AS {t_hi}), {new_hi}) ELSE {new_hi} END"
    return f"SELECT * REPLACE ({new_lo} AS {lo}, {new_hi} AS {hi}) FROM ({sql})"
