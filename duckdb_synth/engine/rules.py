"""Rules the copy keeps: constraints between columns, declared by the user or read from CHECKs.

A rule is SQL over the source's columns (DuckDB's dialect, parsed with sqlglot):

* a **bound**, a column against a constant: ``age >= 18``, ``bmi < 80``, ``admitted >= DATE '2020-01-01'``;
  or a linear expression of number columns against one: ``age + birth_year BETWEEN 2023 AND 2025``
  (BETWEEN is two rules), ``net + tax <= 900``: the last column named moves by what it is past;
* an **order** between two columns of one kind: ``admitted <= discharged``, ``low < high``;
* a **derived** column, equal to arithmetic of others: ``total = net + tax``,
  ``age = 2024 - birth_year``: the column is computed from the others, not sampled;
* a **dependency** between text, ENUM or BOOLEAN columns: ``zip -> state``, ``(city, street) -> zip``:
  each determinant value keeps one dependent value (``dependency_maps``: the one the model draws
  most often with it, from a pilot sample, so that every batch agrees);
* a **forbidden** combination of such columns' values: ``NOT (sex = 'M' AND diagnosis = 'pregnancy')``.

Dependencies and forbidden combinations are kept on the sampled codes (``keep_codes``), the others
on the decoded rows (``keep``).

Rules are public (the user states them; a CHECK is in the schema): they cost no budget. The copy
keeps every one, by post-processing each batch of decoded rows (``keep``): a derived column is
computed; a value past a bound is brought to it; two values out of order are swapped (the pair's
values stay those the model drew, in the order the rule wants; a strict order of equal values
moves the larger by one step of its type). ``violations_sql`` counts, in any table, the rows that
break a rule: the report's figure.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

import sqlglot
from sqlglot import exp

from ..errors import OptionError, did_you_mean
from .schema import Column
from .source import quote_ident, quote_literal

_OPS = {exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">=", exp.EQ: "="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
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
    given: tuple[str, ...] = ()  # fd: the determinant columns (``left`` depends on them)
    combo: tuple[tuple[str, object], ...] = ()  # forbid: (column, value) pairs no row holds together
    coef: float = 0.0  # linear: the coefficient of ``left`` (the column moved) in ``expr``

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


def parse_rules(texts: Sequence[str], columns: Sequence[Column], *, masked=(), generated=(),
                source: str = "constraints") -> list[Rule]:
    """The rules, checked against the columns; an OptionError naming the rule at fault."""
    by_name = {c.name: c for c in columns}
    folded: dict[str, list[str]] = {}
    for c in columns:
        folded.setdefault(c.name.lower(), []).append(c.name)
    out: list[Rule] = []
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise OptionError(f"{source}: each rule is SQL text, e.g. 'admitted <= discharged'; got {text!r}")
        for part in _between(text.strip()):
            out.append(replace(_parse(part, by_name, folded, set(masked), set(generated), source), text=text.strip()))
    derived = [r.left for r in out if r.kind == "derived"]
    for name in set(derived):
        if derived.count(name) > 1:
            raise OptionError(f"{source}: column '{name}' is derived by two rules; keep one")
    _order_derived(out, source)
    _order_dependencies(out, source)
    return _through_derived(out, {r.left: r for r in out if r.kind == "derived"}, by_name, source)


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

    def at(point: dict[str, float]) -> float:
        expr = side.copy()
        for col in expr.find_all(exp.Column):
            col.replace(exp.Literal.number(repr(point[col.name])))
        return float(duckdb.sql(f"SELECT CAST(({expr.sql(dialect='duckdb')}) AS DOUBLE)").fetchall()[0][0])

    zero = {n: 0.0 for n in names}
    b = at(zero)
    coef = {n: at({**zero, n: 1.0}) - b for n in names}
    for point in ({n: 2.0 + i for i, n in enumerate(names)}, {n: -3.5 * (i + 1) for i, n in enumerate(names)}):
        if abs(at(point) - b - sum(coef[n] * point[n] for n in names)) > 1e-9 * (1 + abs(b)):
            raise OptionError(f"{where}: the expression is not linear in its columns")
    return b, coef


def _through_derived(rules: list[Rule], derived: dict[str, Rule], by_name, source: str) -> list[Rule]:
    """A bound on a derived column becomes a bound on the one column it is computed from (a x + b, a != 0,
    the bound divided through), which keeps both; an order naming a derived column, or a bound on one
    computed from several, is refused: the copy could not keep it and the identity at once."""
    import duckdb

    out = []
    for rule in rules:
        if rule.kind == "derived" or not any(c in derived for c in rule.columns):
            out.append(rule)
            continue
        target = derived[rule.left] if rule.left in derived else None
        inputs = [c for c in target.columns if c != target.left] if target is not None else []
        if rule.kind != "bound" or len(inputs) != 1 or inputs[0] in derived:
            raise OptionError(f"{source}: rule '{rule.text}' holds a column another rule computes from several "
                              "columns, or orders it against another: not kept yet; state it of the columns it is "
                              "computed from")
        x = quote_ident(inputs[0])
        b, coef = _linear(rule.text, f"{source}: rule '{rule.text}'", sqlglot.parse_one(target.expr, read="duckdb"),
                          inputs, by_name)
        a = coef[inputs[0]]
        c = duckdb.sql(f"SELECT CAST(({rule.value}) AS DOUBLE)").fetchall()[0][0]
        if not a:
            raise OptionError(f"{source}: rule '{rule.text}': '{rule.left}' does not change with '{inputs[0]}'")
        op = rule.op if a > 0 else _FLIP[rule.op]
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
    return out


_FD = re.compile(r"^\s*\(?\s*(?P<given>[^()]+?)\s*\)?\s*->\s*(?P<dep>\"[^\"]+\"|[^\s,()]+)\s*$")
CATEGORY_KINDS = ("categorical", "boolean", "enum")


def _parse(text: str, by_name, folded, masked: set, generated: set, source: str) -> Rule:
    where = f"{source}: rule '{text}'"

    def resolve(name: str) -> str:
        name = name.strip().strip('"')
        real = name if name in by_name else (folded[name.lower()][0] if len(folded.get(name.lower(), [])) == 1
                                            else None)
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
        given = tuple(dict.fromkeys(resolve(c) for c in m.group("given").split(",")))
        dep = resolve(m.group("dep"))
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
        raise OptionError(f"{where} is not SQL: {str(exc).splitlines()[0]}") from None
    while isinstance(tree, exp.Paren):  # DuckDB writes a CHECK's expression in parentheses
        tree = tree.this
    if isinstance(tree, exp.Not):
        return _forbidden(text, tree, resolve, by_name, where, source)
    op = _OPS.get(type(tree))
    if op is None:
        raise OptionError(f"{where}: supported rules compare two sides: a column against a constant "
                          "('age >= 18'), two columns ('admitted <= discharged'), or a column equal to arithmetic "
                          "of others ('total = net + tax')")
    names: list[str] = []
    for col in tree.find_all(exp.Column):
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
        return Rule(text, "bound", sql, col, o, value=const.sql(dialect="duckdb"), columns=cols, source=source)
    if op != "=" and not (lone_l or lone_r) and (
            not list(left.find_all(exp.Column)) or not list(right.find_all(exp.Column))):
        # a bound on an expression of several columns: `age + birth_year >= 2022`
        side, const, o = (left, right, op) if list(left.find_all(exp.Column)) else (right, left, _FLIP[op])
        b0, coef = _linear(text, where, side, list(cols), by_name)
        moved = [n for n in reversed(cols) if coef[n] != 0]
        if not moved:
            raise OptionError(f"{where}: the expression does not change with its columns")
        return Rule(text, "linear", sql, moved[0], o, value=const.sql(dialect="duckdb"), expr=side.sql(dialect="duckdb"),
                    columns=cols, source=source, coef=coef[moved[0]])
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
                                     exp.Neg, exp.Cast, exp.DataType, exp.Identifier))
                   for node in other.walk()):
            raise OptionError(f"{where}: a derived column equals arithmetic (+ - * /) of columns and constants")
        if by_name[target.name].kind != "numeric":
            raise OptionError(f"{where}: derived column '{target.name}' is {by_name[target.name].type}; a derived "
                              "column is a number")
        return Rule(text, "derived", sql, target.name, expr=other.sql(dialect="duckdb"), columns=cols, source=source)
    raise OptionError(f"{where}: not a rule we keep yet: a column against a constant ('age >= 18'), two columns "
                      "('admitted <= discharged'), or a column equal to arithmetic of others ('total = net + tax')")


def _forbidden(text: str, tree: exp.Not, resolve, by_name, where: str, source: str) -> Rule:
    """NOT (a = 'x' AND b = 'y' ...): a combination of values of text, ENUM or BOOLEAN columns no row holds."""
    inner = tree.this
    while isinstance(inner, exp.Paren):
        inner = inner.this
    terms = list(inner.flatten()) if isinstance(inner, exp.And) else [inner]
    combo = []
    for term in terms:
        while isinstance(term, exp.Paren):
            term = term.this
        if not (isinstance(term, exp.EQ) and isinstance(term.this, exp.Column)
                and isinstance(term.expression, (exp.Literal, exp.Boolean))):
            raise OptionError(f"{where}: a forbidden combination is NOT (column = value AND column = value ...)")
        name = resolve(term.this.name)
        col = by_name[name]
        if col.kind not in CATEGORY_KINDS:
            raise OptionError(f"{where}: column '{name}' is {col.type}; a forbidden combination holds text, ENUM "
                              "and BOOLEAN columns for now (bound a number with a rule such as 'age >= 18')")
        lit = term.expression
        value = lit.this if isinstance(lit, exp.Boolean) else lit.this if lit.is_string else lit.this
        if col.kind == "boolean":
            value = value if isinstance(value, bool) else str(value).lower() == "true"
        combo.append((name, value))
    names = [c for c, _ in combo]
    if len(set(names)) != len(names):
        raise OptionError(f"{where} names a column twice")
    sql = "NOT (" + " AND ".join(
        f"{quote_ident(c)} = {str(v).lower() if isinstance(v, bool) else quote_literal(str(v))}" for c, v in combo) + ")"
    return Rule(text, "forbid", sql, names[-1], columns=tuple(names), source=source, combo=tuple(combo))


def named_columns(text: str) -> set[str]:
    """The column names an SQL expression reads (empty if it does not parse)."""
    try:
        return {c.name for c in sqlglot.parse_one(text, read="duckdb").find_all(exp.Column)}
    except sqlglot.errors.ParseError:
        return set()


def _order_dependencies(rules: list[Rule], source: str) -> None:
    """Dependencies in an order where a column is set before another dependency reads it (`a -> b` before
    `b -> c`), and after the forbidden combinations (whose repair could change a dependent column); a
    cycle is refused."""
    deps = [r for r in rules if r.kind == "fd"]
    done: list[Rule] = []
    while deps:
        ready = [r for r in deps if not any(o is not r and o.left in r.given for o in deps)]
        if not ready:
            raise OptionError(f"{source}: dependencies {', '.join(repr(r.text) for r in deps)} go round in a circle")
        done.extend(ready)
        deps = [r for r in deps if all(r is not x for x in ready)]
    rest = [r for r in rules if r.kind != "fd"]
    forbid = [r for r in rest if r.kind == "forbid"]
    rules[:] = [r for r in rest if r.kind != "forbid"] + forbid + done


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


def keep(rules: Sequence[Rule], table_name: str, types: dict[str, str]) -> str:  # noqa: C901
    """The SQL of `table_name` with every rule kept (see the module's docstring), to run where the table
    is registered: bounds and orders repaired (a pass per link of a chain), then the derived columns
    computed from the repaired ones (no other rule holds a derived column: ``_through_derived``)."""
    sql = f"SELECT * FROM {table_name}"
    fixes = [r for r in rules if r.kind in ("bound", "order", "linear")]
    for _ in range(max(MAX_PASSES, len(fixes) + 1) if fixes else 0):
        for rule in fixes:
            sql = _fix(rule, sql, types)
    for rule in rules:
        if rule.kind == "derived":
            q = quote_ident(rule.left)
            sql = f"SELECT * REPLACE (TRY_CAST({rule.expr} AS {types[rule.left]}) AS {q}) FROM ({sql})"
    return sql


def code_rules(rules: Sequence[Rule]) -> list[Rule]:
    """The rules kept on the sampled codes, before decoding: dependencies and forbidden combinations."""
    return [r for r in rules if r.kind in ("fd", "forbid")]


def dependency_maps(rules: Sequence[Rule], domains, pilot: np.ndarray) -> dict[int, np.ndarray]:
    """Per dependency (its index in `rules`), each determinant cell's one dependent code: the one the model
    draws most often with it in `pilot` (codes drawn from the model: post-processing), never the
    dependent's 'other' bucket (whose values are random tokens, each its own) while another is drawn;
    -1 where the determinant is NULL or 'other' (such rows keep their value: NULL or a token of their own)."""
    index = {d.column.name: i for i, d in enumerate(domains)}
    out = {}
    for k, rule in enumerate(rules):
        if rule.kind != "fd":
            continue
        g = [index[c] for c in rule.given]
        b = index[rule.left]
        sizes = [domains[i].size for i in g]
        cell = np.ravel_multi_index(tuple(pilot[:, i].astype(np.int64) for i in g), sizes)
        dom_b = domains[b]
        counts = np.zeros((int(np.prod(sizes)), dom_b.size))
        np.add.at(counts, (cell, pilot[:, b].astype(np.int64)), 1.0)
        if getattr(dom_b, "other", False) and dom_b.size > 1:
            counts[:, dom_b.other_code] *= 1e-9  # chosen only where nothing else is drawn
        choice = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), _prior_mode(dom_b, pilot[:, b]))
        loose = np.zeros(len(choice), dtype=bool)
        for i, size in zip(g, sizes):
            dom = domains[i]
            axis_codes = np.unravel_index(np.arange(len(choice)), sizes)[g.index(i)]
            loose |= (axis_codes == dom.null_code) | (axis_codes == getattr(dom, "other_code", -1))
        out[k] = np.where(loose, -1, choice)
    return out


def _prior_mode(dom, codes: np.ndarray) -> int:
    counts = np.bincount(codes.astype(np.int64), minlength=dom.size).astype(float)
    if getattr(dom, "other", False) and dom.size > 1:
        counts[dom.other_code] = -1
    return int(counts.argmax())


def keep_codes(rules: Sequence[Rule], domains, codes: np.ndarray, maps: dict[int, np.ndarray]) -> None:
    """Keep the dependencies and forbidden combinations on a batch's codes, in place: a dependent column
    takes its determinant's one code; a row holding a forbidden combination takes, in the combination's
    last column, the code the batch's rows with the same other values hold most often that the rule
    allows (else the column's most frequent allowed code)."""
    index = {d.column.name: i for i, d in enumerate(domains)}
    for k, rule in enumerate(rules):
        if rule.kind == "fd":
            g = [index[c] for c in rule.given]
            cell = np.ravel_multi_index(tuple(codes[:, i].astype(np.int64) for i in g),
                                        [domains[i].size for i in g])
            to = maps[k][cell]
            codes[:, index[rule.left]] = np.where(to >= 0, to, codes[:, index[rule.left]])
        elif rule.kind == "forbid":
            wanted = []
            for name, value in rule.combo:
                dom = domains[index[name]]
                values = list(getattr(dom, "values", ()))
                if value not in values:
                    break  # a value the domain does not hold never comes out: the combination cannot occur
                wanted.append((index[name], values.index(value)))
            else:
                hit = np.ones(len(codes), dtype=bool)
                for i, code in wanted:
                    hit &= codes[:, i] == code
                if hit.any():
                    last, bad = wanted[-1]
                    same = np.ones(len(codes), dtype=bool)
                    for i, code in wanted[:-1]:
                        same &= codes[:, i] == code
                    for pool in (same & ~hit, ~hit):
                        counts = np.bincount(codes[pool, last].astype(np.int64), minlength=domains[last].size)
                        counts[bad] = -1
                        if counts.max() > 0:
                            break
                    if counts.max() <= 0:  # no other value drawn at all: the next code of the column
                        counts = np.zeros(domains[last].size)
                        counts[(bad + 1) % domains[last].size] = 1
                    codes[hit, last] = int(counts.argmax())


def _step(type_: str) -> str:
    """The least step of a type, as SQL to add to a value of it (a strict rule's tie moved by it)."""
    t = type_.upper()
    if t == "DATE":
        return "INTERVAL 1 DAY"
    if t.startswith("TIMESTAMP") or t == "TIME":
        return "INTERVAL 1 MICROSECOND"
    if t.startswith("DECIMAL") or t.startswith("NUMERIC"):
        scale = int(t.split(",")[1].rstrip(") ")) if "," in t else 3
        return f"CAST('1e-{scale}' AS {type_})" if scale else "1"
    if t in ("FLOAT", "REAL", "DOUBLE", "FLOAT4", "FLOAT8"):
        return "NULL"  # floats: nextafter, below
    return "1"


def _fix(rule: Rule, sql: str, types: dict[str, str]) -> str:
    a = quote_ident(rule.left)
    ta = types[rule.left]
    floaty = _step(ta) == "NULL"
    if rule.kind == "linear":  # move the last column named by what the expression is past its bound
        c = f"CAST({rule.value} AS DOUBLE)"
        gap = f"(({c}) - CAST(({rule.expr}) AS DOUBLE)) / {rule.coef!r}"
        x = f"CAST({a} AS DOUBLE) + {gap}"
        up = (rule.op in (">=", ">")) == (rule.coef > 0)  # the column must grow
        if not floaty:  # a whole step of the type, rounded the way that keeps the bound
            unit = 1.0 if _step(ta) == "1" else 10.0 ** -int(ta.upper().split(",")[1].rstrip(") ")) \
                if "," in ta else 1.0
            strict = rule.op in ("<", ">")
            x = (f"(ceil(({x}) / {unit!r}{' + 1e-9' if strict else ' - 1e-9'}) * {unit!r})" if up
                 else f"(floor(({x}) / {unit!r}{' - 1e-9' if strict else ' + 1e-9'}) * {unit!r})")
        elif rule.op in ("<", ">"):
            x = f"nextafter({x}, {'CAST(' + repr('inf') + ' AS DOUBLE)' if up else 'CAST(' + repr('-inf') + ' AS DOUBLE)'})"
        moved = f"CASE WHEN NOT coalesce(({rule.sql}), true) THEN coalesce(TRY_CAST({x} AS {ta}), {a}) ELSE {a} END"
        return f"SELECT * REPLACE ({moved} AS {a}) FROM ({sql})"
    if rule.kind == "bound":
        c = f"CAST({rule.value} AS {ta})"
        up = rule.op in (">=", ">")
        # NULL keeps a rule: CASE, not greatest/least (which skip NULLs and would fill them with the bound)
        moved = f"CASE WHEN NOT coalesce(({rule.sql}), true) THEN {c} ELSE {a} END"
        sql = f"SELECT * REPLACE (CAST({moved} AS {ta}) AS {a}) FROM ({sql})"
        # the bound cast to the column's type may fall on the wrong side of it (17.4 on an INTEGER, a
        # strict bound): one step of the type toward the allowed side
        step = (f"nextafter({a}, CAST('{'inf' if up else '-inf'}' AS {ta}))" if floaty
                else f"{a} {'+' if up else '-'} {_step(ta)}")
        nudged = f"CASE WHEN NOT coalesce(({rule.sql}), true) THEN CAST({step} AS {ta}) ELSE {a} END"
        return f"SELECT * REPLACE ({nudged} AS {a}) FROM ({sql})"
    b = quote_ident(rule.right)
    lo, hi = (a, b) if rule.op in ("<", "<=") else (b, a)
    tb = types[rule.right]
    t_lo, t_hi = (ta, tb) if lo == a else (tb, ta)
    swap = f"{lo} > {hi}"
    new_lo = f"CASE WHEN {swap} THEN CAST({hi} AS {t_lo}) ELSE {lo} END"
    new_hi = f"CASE WHEN {swap} THEN CAST({lo} AS {t_hi}) ELSE {hi} END"
    if rule.op in ("<", ">"):  # equal values: the larger moves one step up (of its own type)
        up = (f"nextafter({new_hi}, CAST('inf' AS {t_hi}))" if _step(t_hi) == "NULL"
              else f"{new_hi} + {_step(t_hi)}")
        new_hi = f"CASE WHEN {new_lo} = {new_hi} THEN CAST({up} AS {t_hi}) ELSE {new_hi} END"
    return f"SELECT * REPLACE ({new_lo} AS {lo}, {new_hi} AS {hi}) FROM ({sql})"
