"""Public domains: what a column's values can be, known without looking at the data.

Two sources, both public (docs/privacy.md §5.1): the user's ``domains`` option, and the
CHECK constraints of a table. Each becomes a ``Declared`` (``engine/schema.py``): a
complete list of values (text, UUID, ENUM, BOOLEAN columns) or a range [lo, hi]
(numbers, dates, times, timestamps), in the units the engine reads the column in.
Where both speak for a column, the domain is their intersection, so the output also
satisfies the constraint.

A CHECK constraint is read with sqlglot, conjunct by conjunct: ``c BETWEEN a AND b``,
``c >= a`` (and ``>``, ``<``, ``<=``, ``=``, either side), ``c IN (...)``, joined by AND.
Conjuncts of any other shape (OR, NOT, functions, two columns, ``IN`` on a number) say
nothing here and are ignored: a domain is never guessed. A number bounded on one side
only has no declared domain, but the bound narrows its type's range
(``Column.type_range``), which the learned range and the output keep to. A
conjunct of a readable shape whose literal is not a value of the column's type, or
facts that leave no value at all, are an OptionError, as is a user's domain that does
not fit its column; all before anything is read.
"""
from __future__ import annotations

import datetime as _dt
import decimal
import math
import uuid
from dataclasses import dataclass, replace

import numpy as np
import sqlglot
from sqlglot import exp

from ..errors import OptionError, did_you_mean
from ..options import DomainSpec, shown_value
from .domain import Buckets, CategoricalDomain
from .schema import _WIDE, TYPE_UNIT_US, Column, Declared, conjuncts, decimal_past_floats, holds_infinity, written_decimal

USER = "domains (user)"
_EPOCH = _dt.datetime(1970, 1, 1)


def declare(columns: list[Column], domains: dict[str, DomainSpec], *, masked: dict[str, str] | None = None,
            generated: set[str] = frozenset()) -> list[Column]:
    """The columns with their public domains set (``Column.declared``), from `domains` and their CHECKs.

    Raises:
        OptionError: a domain names a column the source does not have, a masked or generated one, or
            does not fit the column's type; or a CHECK of a readable shape cannot be read.
    """
    masked = masked or {}
    names = [c.name for c in columns]
    for name in domains:
        if name not in names:
            raise OptionError(f"domains: no column '{name}'{did_you_mean(name, names)}; columns: {', '.join(names)}")
        if name in masked:
            raise OptionError(f"domains: column '{name}' is masked (replaced by random values), so it has no domain "
                              "to declare; leave it out of domains or of masks")
        if name in generated:
            raise OptionError(f"domains: column '{name}' is a declared key, filled with fresh unique values, so it "
                              "has no domain to declare; leave it out of domains")
    out = []
    for c in columns:
        if c.name in masked and c.kind != "unsupported":
            out.append(replace(c, within=mask_domain(c, names), guarded=own_checks(c, columns)))
            continue
        if c.name in generated or c.kind == "unsupported":
            out.append(c)
            continue
        limits = check_limits(c, names)
        if limits is not None:  # a CHECK bounding one side: the type's range, narrowed
            tr = c.type_range or (-math.inf, math.inf)
            c = replace(c, type_range=(max(tr[0], limits[0]), min(tr[1], limits[1])))
        checked = from_checks(c, names)
        user = user_domain(c, domains[c.name]) if c.name in domains else None
        out.append(replace(c, declared=combine(c, user, checked)))
    return out


def shown_check(sql: str) -> str:
    """A CHECK constraint's text as a message shows it: ``CHECK (x > 0)``."""
    return f"CHECK {sql}" if sql.startswith("(") else f"CHECK ({sql})"


def own_checks(col: Column, columns: list[Column]) -> tuple[str, ...]:
    """The CHECKs of `col` alone: those the catalog names no other column of (``Column.checks``), whatever sqlglot
    reads in them (``x.len() > 12`` names no column it sees: such a CHECK had been neither kept to nor said)."""
    others = {t for c in columns if c.name != col.name for t in c.checks}
    return tuple(t for t in col.checks if t not in others)


def mask_domain(col: Column, names: list[str]) -> Declared | None:
    """A masked column's range or list of values from its CHECKs (``CHECK (age BETWEEN 0 AND 120)``, ``CHECK
    (x > 0)``, ``CHECK (k IN ('a', 'b'))``), for its mask to draw inside: public, as the schema is, and the data
    is never read (docs/privacy.md 5.1). A bound on one side is a range to the type's end. None where the CHECKs
    say none, or say it in a way a domain is refused for (a text literal on a number, a range past the floats'
    precision): the mask then draws as it would, kept to the CHECKs all the same (``masks.passing``)."""
    try:  # (the CHECKs read once, for both)
        facts = _facts(col, names)
        checked = _domain_of(col, facts)
        if checked is not None:
            return checked
        limits = _limits_of(col, facts)
    except OptionError:  # (a domain's advice does not apply to a masked column: the review of 59b95e8)
        return None
    if limits is None:
        return None
    bounds, origin = limits
    return Declared(origin, bounds=bounds, shown=origin, enforced=True)


# ---------------------------------------------------------------- the user's domains


def user_domain(col: Column, spec: DomainSpec) -> Declared:
    """A user's domain for `col`, checked against its type and put in the engine's units."""
    shown = spec.show()
    if col.is_numeric:
        if spec.is_range:
            lo, hi = spec.lo, spec.hi
        elif len(spec.values) == 2:
            lo, hi = spec.values
        elif len(spec.values) == 1:  # (its one value: [5] or [5, 5], whose repeat the options dropped)
            lo = hi = spec.values[0]
        else:
            raise OptionError(f"domains: column '{col.name}' is {col.type}: give its range as [min, max] or "
                              f"{{'min': .., 'max': ..}}, got {shown} (a list of values is for text, UUID, ENUM "
                              "and BOOLEAN columns)")
        low = to_engine(col, lo, f"domains: column '{col.name}'", side="lo")
        high = to_engine(col, hi, f"domains: column '{col.name}'", side="hi")
        if low > high:
            raise OptionError(f"domains: the range of column '{col.name}' has min {shown_value(lo)} > max "
                              f"{shown_value(hi)}")
        low, high = inward(col, (low, high), (False, False), f"domains: column '{col.name}'", shown)
        if col.integer and col.kind == "numeric":  # past 2^53 a whole number's float is written as its own value (9e18 for 8999999999999999901)
            low, high = _exactly_within(low, lo, "lo"), _exactly_within(high, hi, "hi")
            if low > high:
                raise OptionError(f"domains: no value of column '{col.name}' ({col.type}) that the engine's floats can "
                                  f"write lies in {shown}")
        return Declared(USER, bounds=(low, high), shown=shown)
    if spec.is_range:
        raise OptionError(f"domains: column '{col.name}' is {col.type}: list its values, e.g. ['a', 'b'], "
                          f"not a range; got {shown}")
    values = tuple(dict.fromkeys(category(col, v, f"domains: column '{col.name}'") for v in spec.values))
    return Declared(USER, values=values, shown=shown)


def category(col: Column, v, where: str):
    """A value of a text, UUID, ENUM or BOOLEAN column as the engine reads it (text, or a bool)."""
    if col.kind == "boolean":
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        raise OptionError(f"{where} is BOOLEAN: its values are true and false, got {v!r}")
    if not isinstance(v, (str, uuid.UUID)):
        kind = "a number" if isinstance(v, decimal.Decimal) else type(v).__name__  # (SQL's and the CLI's numbers)
        raise OptionError(f"{where} is {col.type}: its values are strings, got {shown_value(v)} ({kind}); quote it")
    if col.type.upper() == "UUID":
        try:
            return str(uuid.UUID(str(v)))
        except ValueError:
            raise OptionError(f"{where} is UUID: {v!r} is not a UUID") from None
    v = str(v)
    if col.kind == "enum" and v not in col.enum_values:
        raise OptionError(f"{where} is {col.type}: {v!r} is not one of its members"
                          f"{did_you_mean(v, col.enum_values)}")
    return v


def _exactly_within(x: float, given, side: str) -> float:
    """The float bound `x` of a whole-number column moved inward while its own value, which is what a value drawn at
    it is written as, lies past the number the user gave (`side` 'lo' or 'hi'): past 2^53 the float of
    8999999999999999901 is 9e18, and a BIGINT's declared range let 244 rows of 9000000000000000000 out (the review of
    1c489ef); ``inward``'s allowance for a float's error had moved it further."""
    if not math.isfinite(x) or abs(x) < 2.0**53 or isinstance(given, (bool, np.bool_)):
        return x
    exact = decimal.Decimal(repr(float(given))) if isinstance(given, (float, np.floating)) else decimal.Decimal(
        int(given) if isinstance(given, np.integer) else given)
    while (decimal.Decimal(x) > exact) if side == "hi" else (decimal.Decimal(x) < exact):
        x = math.nextafter(x, -math.inf if side == "hi" else math.inf)
    return x


def to_engine(col: Column, v, where: str, side: str | None = None, strict: bool = False) -> float:
    """A number, date, time or timestamp as the engine reads the column: a double, days since 1970-01-01
    for DATE, microseconds since midnight for TIME, since 1970-01-01 UTC for timestamps. A bound (`side`
    'lo' or 'hi', `strict` for > and <) of a DECIMAL past the floats is the float nearest it whose written value
    (``schema.written_sql``) keeps to it (``written_bound``)."""
    t = col.type.upper()
    if col.kind == "numeric":
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, decimal.Decimal, np.integer,
                                                                   np.floating)):
            raise OptionError(f"{where} is {col.type}: its bounds are numbers, got {v!r} ({type(v).__name__})")
        x = float(v)
        if not math.isfinite(x):
            raise OptionError(f"{where}: {shown_value(v)} is not a finite number")
        if side is not None and decimal_past_floats(col):
            exact = decimal.Decimal(repr(float(v))) if isinstance(v, (float, np.floating)) else decimal.Decimal(
                int(v) if isinstance(v, np.integer) else v)
            return written_bound(exact, col.scale, side, strict)
        if side is None and t == "FLOAT" and abs(x) <= float(np.finfo(np.float32).max):
            # A listed value of a FLOAT as DuckDB holds it (x IN (0.1, 0.3): 0.1::FLOAT, 0.10000000149011612), as
            # its bounds are (``inward``): the double 0.1 lay under them and was dropped, every row then written as
            # 0.3 (helper-70's D8).
            return float(np.float32(x))
        return x
    try:
        if t == "DATE":
            d = v if isinstance(v, _dt.date) and not isinstance(v, _dt.datetime) else _dt.date.fromisoformat(v)
            return float((d - _EPOCH.date()).days)
        if t == "TIME":
            tm = v if isinstance(v, _dt.time) else _dt.time.fromisoformat(v)
            return float(((tm.hour * 60 + tm.minute) * 60 + tm.second) * 1_000_000 + tm.microsecond)
        ts = v if isinstance(v, _dt.datetime) else (
            _dt.datetime.combine(v, _dt.time()) if isinstance(v, _dt.date) else _dt.datetime.fromisoformat(v))
        if ts.tzinfo is not None:
            ts = ts.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        delta = ts - _EPOCH
        return float((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)
    except (TypeError, ValueError):
        kind = {"DATE": "a date such as '2024-01-31'", "TIME": "a time of day such as '08:30:00'"}.get(
            t, "a timestamp such as '2024-01-31 08:30:00'")
        raise OptionError(f"{where} is {col.type}: {v!r} is not {kind}") from None


def written_bound(bound: decimal.Decimal, scale: int, side: str, strict: bool) -> float:
    """A DECIMAL past the floats' bound as the engine reads it: the float nearest `bound` whose written value
    (``written_decimal``) lies on the bound's inner side ('lo': at or above it, above it where `strict`; 'hi':
    at or below). DuckDB reads the DECIMAL 0.7499999999999999999 as the float 0.75, written as 0.75, past it: a
    CHECK (d <= 0.7499999999999999999) was kept only by repairing rows onto the bound, and a user's bound given as
    a Decimal not at all (the review of b3f40b5). The bound is first put on the scale's steps (inward), then the
    float moved inward while its written value is past it."""
    up = side == "lo"
    if abs(bound) >= decimal.Decimal(10) ** 40:  # past every DECIMAL's range (which ``inward`` then keeps to)
        return float(bound)
    step = decimal.Decimal(1).scaleb(-scale)
    on = bound.quantize(step, rounding=decimal.ROUND_CEILING if up else decimal.ROUND_FLOOR, context=_WIDE)
    if strict and on == bound:
        on = _WIDE.add(on, step) if up else _WIDE.subtract(on, step)
    x = float(on)
    for _ in range(64):  # a float or two where the scale is finer than the floats
        w = written_decimal(x, scale)
        if (w >= on) if up else (w <= on):
            break
        x = math.nextafter(x, math.inf if up else -math.inf)
    return x


def inward(col: Column, bounds: tuple[float, float], strict: tuple[bool, bool], where: str,
           shown: str) -> tuple[float, float]:
    """[lo, hi] narrowed to the values the column's type holds: whole numbers for integers, the scale of a
    DECIMAL, whole units of a timestamp, single precision for FLOAT, within the type's range; a strict
    bound (> or <) moves one such step inward. Raises when no value is left."""
    lo, hi = bounds
    t = col.type.upper()
    step = None
    if col.kind == "temporal":
        step = float(TYPE_UNIT_US.get(t, 1))
    elif col.integer:
        step = 1.0
    elif col.scale is not None and not decimal_past_floats(col):
        # (A DECIMAL past the floats counts its floats as its values, as a DOUBLE: its scale's steps in floats put a
        # bound of 1 of DECIMAL(38,18) at 0.9999999999999999, written as that, a value 1 row held: the review of
        # 28feb22.)
        step = 10.0 ** -col.scale
    if step is not None:
        # (the bound in steps errs by its float's error, about 1e-16 of it: past 1e7 steps more than 1e-9 of a step,
        # and DECIMAL(12,2)'s x <= 1234567.89 had ended a step short, the review of dba1e14)
        # (a time's at most a quarter step: past 1e15 microseconds it was more than one, and a TIMESTAMP's domain from
        # '2020-01-01 03:00:00' began a microsecond before it; the review of 12d66b3. A number's stays as it was:
        # capped, a masked UBIGINT under CHECK (x > 18446744073709551000), whose float is 2^64, broke it)
        slack = (lambda x: min(1e-15 * abs(x), 0.25)) if col.kind == "temporal" else (lambda x: 1e-15 * abs(x))
        if math.isfinite(lo):
            k_lo = math.ceil(lo / step - 1e-9 - slack(lo / step))
            if strict[0] and abs(k_lo * step - lo) <= 1e-9 * max(1.0, abs(lo)):
                k_lo += 1
            lo = round(k_lo * step, col.scale) if col.scale is not None else k_lo * step
        if math.isfinite(hi):
            k_hi = math.floor(hi / step + 1e-9 + slack(hi / step))
            if strict[1] and abs(k_hi * step - hi) <= 1e-9 * max(1.0, abs(hi)):
                k_hi -= 1
            hi = round(k_hi * step, col.scale) if col.scale is not None else k_hi * step
    else:  # FLOAT, DOUBLE
        if t == "FLOAT":  # DuckDB compares a FLOAT with a constant cast to FLOAT (0.4::FLOAT <= 0.4): each end is
            # that FLOAT, a strict one the next FLOAT inward (the end had been a FLOAT inside the double, 0.39999998
            # for x <= 0.4, and the source's 0.4 came back as 0.39999998; the review of dba1e14)
            # (an end past FLOAT's range, 1e39, is FLOAT's own end: its FLOAT is infinite, and every value had come out
            # NaN; kept as 1e39, values past FLOAT's range were written and the cast failed, the review of 82e6e0a)
            top = float(np.finfo(np.float32).max)
            if lo < -top:  # (x > -1e39 keeps FLOAT's least: its end is not strict)
                lo, strict = -top, (False, strict[1])
            if hi > top:
                hi, strict = top, (strict[0], False)
            if math.isfinite(lo) and abs(lo) <= top:
                lo32 = np.float32(lo)
                lo = float(np.nextafter(lo32, np.float32(np.inf)) if strict[0] else lo32)
            if math.isfinite(hi) and abs(hi) <= top:
                hi32 = np.float32(hi)
                hi = float(np.nextafter(hi32, np.float32(-np.inf)) if strict[1] else hi32)
        elif not decimal_past_floats(col):  # (such a column's bounds are strict already: ``written_bound``)
            lo = float(np.nextafter(lo, np.inf)) if strict[0] else lo
            hi = float(np.nextafter(hi, -np.inf)) if strict[1] else hi
    if col.type_range is not None:
        lo, hi = max(lo, float(col.type_range[0])), min(hi, float(col.type_range[1]))
    if lo > hi:
        # (a DECIMAL past the floats can hold values there that no float is written as: DECIMAL(38,37) over
        # 9.99999999999999999999999999999999999 or more lies between the floats 9.999999999999998 and 10, whose
        # written value is past the type; the review of 1c489ef)
        past = (" that the engine can write (it draws values as floats, about 16 significant digits: keep such a "
                "column out of the source, or cast it to a narrower DECIMAL)" if decimal_past_floats(col)
                or (col.integer and max(abs(lo), abs(hi)) >= 2.0**53) else "")
        raise OptionError(f"{where}: no value of type {col.type}{past} lies in {shown}")
    return float(lo), float(hi)


# ---------------------------------------------------------------- CHECK constraints


@dataclass
class _Facts:
    """What the readable conjuncts of a column's CHECKs say: bounds (value, strict), and value sets."""

    lower: list = None
    upper: list = None
    sets: list = None
    sources: list = None
    points: list = None  # a number's lists of values (x IN (1, 5, 9)), each also its range's bounds
    exact: dict = None  # a DECIMAL past the floats: a listed or equal value's float -> the value (``Declared.exact``)
    kept_out: set = None  # the values besides numbers a bound keeps out, as indices of ``domain.SPECIALS``

    def __post_init__(self) -> None:
        self.lower, self.upper, self.sets, self.sources, self.points = [], [], [], [], []
        self.exact, self.kept_out = {}, set()


_FLIP = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ}


def from_checks(col: Column, names: list[str]) -> Declared | None:
    """The domain `col`'s CHECK constraints fix (None: they fix none; a bound on one side only is
    ``check_limits``'s)."""
    return _domain_of(col, _facts(col, names))


def _domain_of(col: Column, facts: _Facts | None) -> Declared | None:
    """``from_checks`` on the facts read from the CHECKs."""
    if facts is None:
        return None
    origin = " AND ".join(dict.fromkeys(facts.sources))
    where = f"column '{col.name}': {origin}"
    if col.is_numeric:
        if not facts.lower or not facts.upper:
            return None  # one side only: no range
        lo, hi, strict = _range(facts)
        if lo > hi:
            # (its min past its max; or, on a DECIMAL past the floats, no value of its scale between them)
            raise OptionError(f"{where} leaves no value of type {col.type}: the table can hold only NULLs in it")
        bounds = inward(col, (lo, hi), strict, where, origin)
        points = _listed_points(facts.points, bounds, where)
        return Declared(origin, bounds=bounds, shown=origin, enforced=True, points=points,
                        exact=_exact_of(facts.exact, bounds, points))
    if not facts.sets:
        return None
    values = [v for v in facts.sets[0] if all(v in s for s in facts.sets[1:])]
    if not values:
        raise OptionError(f"{where} leaves no value: the table can hold only NULLs in it")
    return Declared(origin, values=tuple(dict.fromkeys(values)), shown=origin, enforced=True)


def check_limits(col: Column, names: list[str]) -> tuple[float, float] | None:
    """The type's range narrowed by a CHECK that bounds a number on one side only (``CHECK (price > 0)``):
    not a domain (the range is still learned), but a public limit the learned range and the output keep
    to, as they keep to the type's (``Column.type_range``). None when there is no such bound."""
    limits = _limits_of(col, _facts(col, names) if col.is_numeric else None)
    return None if limits is None else limits[0]


def _limits_of(col: Column, facts: _Facts | None) -> tuple[tuple[float, float], str] | None:
    """``check_limits`` on the facts read from the CHECKs, and the CHECKs it comes from."""
    if not col.is_numeric or facts is None or bool(facts.lower) == bool(facts.upper):
        return None
    lo, hi, strict = _range(facts)
    origin = " AND ".join(dict.fromkeys(facts.sources))
    return inward(col, (lo, hi), strict, f"column '{col.name}': {origin}", origin), origin


def _facts(col: Column, names: list[str]) -> _Facts | None:
    """What the readable conjuncts of the column's CHECKs say (None: nothing)."""
    facts = _Facts()
    for sql in col.checks:
        shown = shown_check(sql)
        try:
            tree = sqlglot.parse_one(sql, read="duckdb")
        except sqlglot.errors.ParseError:
            continue  # not readable: says nothing
        found = False
        for conjunct in conjuncts(tree):
            if _read_conjunct(col, conjunct, facts, shown, names):
                found = True
        if found:
            facts.sources.append(shown)
    if not facts.sources:
        return None
    if col.is_numeric:
        for s in facts.sets:  # x = 5: a constant
            facts.lower.append((s[0], False))
            facts.upper.append((s[0], False))
        facts.sets = []
    return facts


def _range(facts: _Facts) -> tuple[float, float, tuple[bool, bool]]:
    """The tightest bounds of the facts (an infinite end where there is none), and whether each is strict."""
    lo, lo_strict = max(facts.lower, key=lambda b: (b[0], b[1]), default=(-math.inf, False))
    hi, hi_strict = min(facts.upper, key=lambda b: (b[0], -b[1]), default=(math.inf, False))
    return lo, hi, (lo_strict, hi_strict)


def _is_col(node: exp.Expression, col: Column, names: list[str]) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    if not isinstance(node, exp.Column) or node.table:
        return False
    name = node.name
    if name == col.name:
        return True
    same = [n for n in names if n.lower() == name.lower()]
    return not node.this.quoted and same == [col.name]


class _Unreadable(Exception):
    """A literal that is no plain value (a function, another column)."""


def _literal(node: exp.Expression):
    """A literal's Python value: str, int, Decimal or bool."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        return node.this.this
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Neg):
        v = _literal(node.this)
        if isinstance(v, (int, decimal.Decimal)) and not isinstance(v, bool):
            return -v
        raise _Unreadable
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        try:
            return int(text)
        except ValueError:
            try:
                return decimal.Decimal(text)
            except decimal.InvalidOperation:
                raise _Unreadable from None
    raise _Unreadable


def _read_conjunct(col: Column, node: exp.Expression, facts: _Facts, shown: str, names: list[str]) -> bool:
    """Add what one conjunct says about `col` to `facts`; True if it said something."""
    while isinstance(node, exp.Paren):
        node = node.this
    where = f"column '{col.name}': {shown}"
    try:
        if isinstance(node, exp.Between) and _is_col(node.this, col, names) and not node.args.get("symmetric"):
            if not col.is_numeric:
                return False
            for side, v in (("lo", _literal(node.args["low"])), ("hi", _literal(node.args["high"]))):
                _add_bound(col, v, where, side, False, facts)
            return True
        if isinstance(node, exp.In) and _is_col(node.this, col, names) and not node.args.get("query"):
            if col.is_numeric:  # a list of numbers: its range, and the values themselves (``Declared.points``)
                # (until 2026-12-07 none: CHECK (d IN (1, 5, 9)) at eps = 1 let 31 rows of 6 out)
                points = sorted({_exact_value(col, _literal(e), where, facts) for e in node.expressions})
                facts.points.append(points)
                facts.lower.append((points[0], False))
                facts.upper.append((points[-1], False))
                return True
            values = [_literal(e) for e in node.expressions]
            facts.sets.append([_check_category(col, v, where) for v in values])
            return True
        if type(node) in _FLIP:
            kind, left, right = type(node), node.this, node.expression
            if _is_col(right, col, names) and not _is_col(left, col, names):
                kind, left, right = _FLIP[kind], right, left
            if not _is_col(left, col, names):
                return False
            v = _literal(right)
            if kind is exp.EQ:
                value = _exact_value(col, v, where, facts) if col.is_numeric else _check_category(col, v, where)
                facts.sets.append([value])
                return True
            if not col.is_numeric:
                return False
            _add_bound(col, v, where, "lo" if kind in (exp.GT, exp.GTE) else "hi", kind in (exp.GT, exp.LT), facts)
            return True
    except _Unreadable:
        return False
    return False


def _exact_value(col: Column, v, where: str, facts: _Facts) -> float:
    """A listed or equal value as the engine reads it (``_check_value``); on a DECIMAL past the floats, the value
    itself kept beside its float (`facts.exact`), to be written for it: the float's shortest decimal is another
    value (CHECK (x = 0.12345678901234567891) on a DECIMAL(38,20) came out as 0.12345678901234568, breaking it)."""
    x = _check_value(col, v, where)
    if decimal_past_floats(col) and isinstance(v, (int, decimal.Decimal)) and not isinstance(v, bool):
        step = decimal.Decimal(1).scaleb(-col.scale)
        exact = decimal.Decimal(v).quantize(step, context=decimal.Context(prec=90)) if col.scale else decimal.Decimal(v)
        if exact == v:  # (a value with more places than the scale is no value of the column: none to write)
            facts.exact.setdefault(x, format(exact, "f"))
    return x


def _exact_of(exact: dict, bounds: tuple[float, float], points: tuple[float, ...]) -> tuple[tuple[float, str], ...]:
    """The exact values (``Declared.exact``) of the floats a domain keeps: its points, or its one value."""
    keep = points if points else (bounds[0],) if bounds[0] == bounds[1] else ()
    return tuple((x, exact[x]) for x in sorted(keep) if x in exact)


def _listed_points(lists: list, bounds: tuple[float, float], where: str) -> tuple[float, ...]:
    """The values every list names (a number's IN lists), within `bounds`; () where there is no list."""
    if not lists:
        return ()
    common = set(lists[0]).intersection(*lists[1:])
    points = tuple(sorted(v for v in common if bounds[0] <= v <= bounds[1]))
    if not points:
        raise OptionError(f"{where} leaves no value: the table can hold only NULLs in it")
    return points


def _add_bound(col: Column, v, where: str, side: str, strict: bool, facts: _Facts) -> None:
    """A CHECK's bound on `side` ('lo', 'hi'; `strict` for > and <) added to `facts`. An infinity on its own side
    (DuckDB's 'infinity' of a DATE, TIMESTAMP, FLOAT or DOUBLE) bounds no finite value, so no domain: ``d <
    'infinity'`` is kept as a rule (``plan.checked_rules``), which keeps the column's infinity out; one on the other
    side leaves no finite value, refused (with advice that helps: a domain declared changed nothing, the review of
    eee9882). Until 2026-12-07 every such CHECK was refused as "'infinity' is not a date". NaN is past every number
    in DuckDB: an upper bound keeps it out, and `x > 'inf'` keeps it."""
    bounds = facts.lower if side == "lo" else facts.upper
    sign = _infinity(col, v)
    if not sign:
        bounds.append((_check_value(col, v, where, side, strict), strict))
    elif (sign > 0) != (side == "hi"):  # (a domain's advice would not help: the CHECK is read whatever it says)
        left = ["NULL"] + (["NaN"] if side == "lo" and col.kind == "numeric" else []) + ([] if strict else [repr(v)])
        raise OptionError(f"{where} leaves no finite value (only {', '.join(left[:-1]) + ' and ' if len(left) > 1 else ''}"
                          f"{left[-1]}): a column holding none cannot be synthesized yet; leave it out of the source query")
    if side == "hi":
        facts.kept_out.update((0, 1) if strict or not sign else (0,))
    elif strict or not sign:
        facts.kept_out.add(2)


def kept_out(col: Column) -> frozenset[int]:
    """The values besides numbers (indices of ``domain.SPECIALS``: NaN, +inf, -inf) the column's CHECKs keep out,
    `d < 'infinity'` or `x <= 100` +inf: a DP domain keeps no bucket for them (public; the source holds none, and a
    bucket kept by its noise alone, 1 in 1,000 columns, wrote values that broke the CHECK)."""
    if not holds_infinity(col) or not col.checks:
        return frozenset()
    try:
        facts = _facts(col, [col.name])
    except OptionError:  # (refused where the domain is read)
        return frozenset()
    return frozenset(facts.kept_out) if facts is not None else frozenset()


def _infinity(col: Column, v) -> int:
    """+1 or -1 where `v` is the literal of an infinity of the column's type ('infinity', '-inf'), else 0."""
    if not (isinstance(v, str) and holds_infinity(col)):
        return 0
    text = v.strip().lower()
    return 1 if text in ("infinity", "+infinity", "inf", "+inf") else -1 if text in ("-infinity", "-inf") else 0


def _check_value(col: Column, v, where: str, side: str | None = None, strict: bool = False) -> float:
    if _infinity(col, v):
        raise OptionError(f"{where} lists an infinity ({v!r}), which a domain cannot hold yet; leave the column out of "
                          "the source query")
    if col.kind == "numeric" and isinstance(v, str):
        raise OptionError(f"{where}: {v!r} is not a number; declare the domain with domains := instead")
    if col.kind == "temporal" and not isinstance(v, str):
        raise OptionError(f"{where}: {v!r} is not a {col.type}; declare the domain with domains := instead")
    try:
        return to_engine(col, v, where, side, strict)
    except OptionError as exc:
        raise OptionError(f"{exc}; declare the domain with domains := instead") from None


def _check_category(col: Column, v, where: str):
    if col.kind != "boolean" and not isinstance(v, str):
        v = str(v)
    return category(col, v, where)


# ---------------------------------------------------------------- combining


def combine(col: Column, user: Declared | None, checked: Declared | None) -> Declared | None:
    """The user's domain and the CHECKs' together: their intersection (the output must satisfy both)."""
    if user is None or checked is None:
        return user or checked
    origin = f"{USER} and {checked.origin}"
    if col.is_numeric:
        lo, hi = max(user.bounds[0], checked.bounds[0]), min(user.bounds[1], checked.bounds[1])
        if lo > hi:
            raise OptionError(f"domains: the range {user.shown} of column '{col.name}' lies outside its "
                              f"{checked.origin}")
        enforced = (lo, hi) == checked.bounds
        points = _listed_points([list(checked.points)], (lo, hi), f"domains: the range {user.shown} of column "
                                f"'{col.name}' within its {checked.origin}") if checked.points else ()
        return Declared(origin, bounds=(lo, hi), shown=f"{user.shown} within {checked.origin}", enforced=enforced,
                        points=points, exact=_exact_of(dict(checked.exact), (lo, hi), points))
    values = tuple(v for v in user.values if v in checked.values)
    if not values:
        raise OptionError(f"domains: none of the values {user.shown} of column '{col.name}' satisfies its "
                          f"{checked.origin}")
    return Declared(origin, values=values, shown=f"{user.shown} within {checked.origin}",
                    enforced=set(values) == set(checked.values))


# ---------------------------------------------------------------- what the domain stage uses


def listed_domain(col: Column) -> CategoricalDomain:
    """The domain of a column whose values are declared: exactly those, then NULL if the column has it.

    A value outside the list is coded as NULL in a nullable column; in a NOT NULL column its row
    is dropped (code -1, ``engine/data.py``).
    """
    return CategoricalDomain(col, col.declared.values, other=False, null=col.nullable)


class Outside(Buckets):
    """Two buckets of a number's finite values: inside [lo, hi] (0), and outside it (1)."""

    size = 2

    def __init__(self, bounds: tuple[float, float]) -> None:
        self.lo, self.hi = bounds

    def codes(self, x: np.ndarray) -> np.ndarray:
        return ((x < self.lo) | (x > self.hi)).astype(np.int64)
