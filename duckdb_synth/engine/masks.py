"""Masks: random values of a kind, drawn independently of the data.

A masked column is never read; its output values come from ``generate``. Text
values are composed from small public pools (Faker, built once per process) with
vectorized Arrow and numpy operations, so a million values take well under a
second instead of the minute or more that calling Faker per value takes.

Which kind fits which DuckDB type::

    string                      VARCHAR (hex token), UUID (random v4), BLOB (random bytes)
    name address postcode       VARCHAR
    phone ssn email iban        VARCHAR
    number                      integers, FLOAT, DOUBLE, DECIMAL(p,s), VARCHAR (digits)
    date timestamp              DATE, TIMESTAMP[_S|_MS|_NS], TIMESTAMP WITH TIME ZONE, VARCHAR (ISO)
"""
from __future__ import annotations

import datetime as _dt
import decimal
import functools
import math
import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import MaskError, did_you_mean
from .schema import use_session

MASK_KINDS: tuple[str, ...] = (
    "string", "number", "name", "address", "postcode", "phone",
    "ssn", "email", "date", "timestamp", "iban",
)

_TEXT_KINDS = frozenset({"string", "name", "address", "postcode", "phone", "ssn", "email", "iban"})

# Type families each kind can fill; see the table in the module docstring.
_FITS: dict[str, frozenset[str]] = {
    **{kind: frozenset({"varchar"}) for kind in _TEXT_KINDS},
    "string": frozenset({"varchar", "uuid", "blob"}),
    "number": frozenset({"varchar", "int", "float", "decimal"}),
    "date": frozenset({"varchar", "date", "timestamp"}),
    "timestamp": frozenset({"varchar", "date", "timestamp"}),
}

# Pools are public and data-independent, so one fixed pool per process is fine:
# Faker is seeded from this constant, never from the data or the user's seed.
# (The same pools come back as long as the installed Faker version is the same.)
_POOL_SEED = 20240611
_POOL_DRAWS = 4000  # raw Faker draws per pool; repeats keep Faker's name frequencies

_DATE_LO = (_dt.date(1950, 1, 1) - _dt.date(1970, 1, 1)).days
_DATE_HI = (_dt.date(2025, 12, 31) - _dt.date(1970, 1, 1)).days
_NUMBER_MAX = 99_999
_SECONDS_PER_DAY = 86_400
_UNIT_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}

# Generate at most this many rows at once: bounds temporary memory and keeps
# every chunk's string data under Arrow's 2 GiB 32-bit offset limit.
_CHUNK_ROWS = 1 << 22
_MAX_STRING_BYTES = 2**31 - 1

_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")  # reserved (RFC 2606)

# IBAN countries whose BBAN needs no national check digit: (code, BBAN pattern),
# 'n' a digit, 'a' an upper-case letter.
_IBAN_FORMATS: tuple[tuple[str, str], ...] = (
    ("DE", "n" * 18),
    ("AT", "n" * 16),
    ("NL", "a" * 4 + "n" * 10),
    ("GB", "a" * 4 + "n" * 14),
)


class _Type(NamedTuple):
    """A parsed DuckDB type: its family and what generating it needs."""

    family: str  # varchar int float decimal date timestamp uuid blob enum boolean other
    arrow: pa.DataType | None = None
    low: int = 0
    high: int = 0


_INT_TYPES: dict[str, tuple[pa.DataType, int, int]] = {
    "TINYINT": (pa.int8(), -(2**7), 2**7 - 1),
    "SMALLINT": (pa.int16(), -(2**15), 2**15 - 1),
    "INTEGER": (pa.int32(), -(2**31), 2**31 - 1),
    "BIGINT": (pa.int64(), -(2**63), 2**63 - 1),
    "UTINYINT": (pa.uint8(), 0, 2**8 - 1),
    "USMALLINT": (pa.uint16(), 0, 2**16 - 1),
    "UINTEGER": (pa.uint32(), 0, 2**32 - 1),
    "UBIGINT": (pa.uint64(), 0, 2**64 - 1),
    # Arrow has no 128-bit integers; 64-bit values cast to these exactly.
    "HUGEINT": (pa.int64(), -(2**127), 2**127 - 1),
    "UHUGEINT": (pa.uint64(), 0, 2**128 - 1),
    "VARINT": (pa.int64(), -(2**63), 2**63 - 1),
    "BIGNUM": (pa.int64(), -(2**63), 2**63 - 1),
}
_ALIASES = {
    "INT": "INTEGER", "INT4": "INTEGER", "SIGNED": "INTEGER", "INT1": "TINYINT",
    "INT2": "SMALLINT", "SHORT": "SMALLINT", "INT8": "BIGINT", "LONG": "BIGINT",
    "INT128": "HUGEINT", "UINT8": "UTINYINT", "UINT16": "USMALLINT",
    "UINT32": "UINTEGER", "UINT64": "UBIGINT", "UINT128": "UHUGEINT",
    "REAL": "FLOAT", "FLOAT4": "FLOAT", "FLOAT8": "DOUBLE",
    "DATETIME": "TIMESTAMP", "TIMESTAMP_US": "TIMESTAMP",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "BOOL": "BOOLEAN", "LOGICAL": "BOOLEAN",
    "BYTEA": "BLOB", "BINARY": "BLOB", "VARBINARY": "BLOB",
}
_TIMESTAMP_TYPES = {
    "TIMESTAMP": pa.timestamp("us"),
    "TIMESTAMP_S": pa.timestamp("s"),
    "TIMESTAMP_MS": pa.timestamp("ms"),
    "TIMESTAMP_NS": pa.timestamp("ns"),
    "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"),
}
_VARCHAR_RE = re.compile(
    r"(VARCHAR|TEXT|STRING|CHAR|BPCHAR|NVARCHAR)(\s*\(\s*\d+\s*\))?(\s+COLLATE\s+\S+)?"
)
_DECIMAL_RE = re.compile(r"(?:DECIMAL|NUMERIC)(?:\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?")


def _parse_type(duckdb_type: str) -> _Type:
    """Classify a DuckDB type string as printed by DESCRIBE."""
    text = " ".join(duckdb_type.strip().split())
    upper = _ALIASES.get(text.upper(), text.upper())
    if upper.endswith("]") or upper.startswith(("STRUCT", "MAP", "UNION")):
        return _Type("other")
    if upper.startswith("ENUM"):
        return _Type("enum")
    if _VARCHAR_RE.fullmatch(upper):
        return _Type("varchar", pa.string())
    if upper in _INT_TYPES:
        arrow, low, high = _INT_TYPES[upper]
        return _Type("int", arrow, low, high)
    if upper in ("FLOAT", "DOUBLE"):
        return _Type("float", pa.float32() if upper == "FLOAT" else pa.float64())
    if (match := _DECIMAL_RE.fullmatch(upper)) is not None:
        precision = int(match.group(1) or 18)
        scale = int(match.group(2) or (0 if match.group(1) else 3))
        if not 1 <= precision <= 38 or scale > precision:
            return _Type("other")
        return _Type("decimal", pa.decimal128(precision, scale))
    if upper == "DATE":
        return _Type("date", pa.date32())
    if upper in _TIMESTAMP_TYPES:
        return _Type("timestamp", _TIMESTAMP_TYPES[upper])
    if upper == "UUID":
        return _Type("uuid", pa.string())
    if upper == "BLOB":
        return _Type("blob", pa.binary())
    if upper == "BOOLEAN":
        return _Type("boolean")
    return _Type("other")


def _check_kind(kind: object, where: str) -> None:
    if not isinstance(kind, str) or kind not in MASK_KINDS:
        valid = ", ".join(repr(k) for k in MASK_KINDS)
        hint = did_you_mean(kind, MASK_KINDS) if isinstance(kind, str) else ""
        raise MaskError(f"unknown mask kind {kind!r} for {where}{hint}; valid kinds: {valid}")


def _misfit_message(kind: str, where: str, duckdb_type: str, family: str) -> str:
    head = f"mask {kind!r} cannot fill {where} of type {duckdb_type}"
    if family == "enum":
        return (f"{head}: an ENUM's members are public, so the column is synthesized "
                "from them without a mask; remove the mask")
    if family == "boolean":
        return (f"{head}: a BOOLEAN has only the public values true and false, so the "
                "column is synthesized without a mask; remove the mask")
    fitting = [k for k in MASK_KINDS if family in _FITS[k]]
    if not fitting:
        return (f"{head}: no mask kind produces {duckdb_type} values; remove the mask, "
                "or cast the column to VARCHAR in the source query and mask that")
    names = " or ".join(repr(k) for k in fitting)
    return f"{head}; use {names} for {duckdb_type} columns"


def check_mask(column: str, kind: str, duckdb_type: str) -> None:
    """Check that mask `kind` can fill `column` of type `duckdb_type`.

    Raises:
        MaskError: the kind is unknown, or it cannot produce values of that type.
    """
    where = f"column {column!r}"
    _check_kind(kind, where)
    family = _parse_type(duckdb_type).family
    if family not in _FITS[kind]:
        raise MaskError(_misfit_message(kind, where, duckdb_type, family))


def generate(kind: str, n: int, duckdb_type: str, rng: np.random.Generator, *,
             bounds: tuple[float, float] | None = None, values: tuple[str, ...] = (),
             points: tuple[float, ...] = (), exact: tuple[tuple[float, str], ...] = (), distinct: int = 0) -> pa.Array:
    """Draw `n` random values of mask `kind` for a column of type `duckdb_type`.

    Args:
        kind: one of ``MASK_KINDS``.
        n: number of values.
        duckdb_type: the column's type as DESCRIBE prints it.
        rng: the only source of randomness; a fixed seed gives the same values.
        bounds: the column's public range from its CHECK constraints, in the engine's units
            (numbers as doubles, DATE in days, timestamps in microseconds): a number, date or
            timestamp is drawn inside it (``_within``).
        values: the column's complete list of values from a CHECK (``x IN (...)``): each value
            is one of them, drawn evenly, whatever the kind.
        points: a number's, date's or timestamp's list of values from a CHECK (``x IN (1, 5, 9)``),
            in the engine's units: drawn evenly from them.
        exact: a DECIMAL past the floats: the value each such float stands for (``Declared.exact``).
        distinct: a UNIQUE column's rows: inside `bounds`, a stretch holding enough values for them.

    Returns:
        An Arrow array without nulls whose type casts exactly to `duckdb_type`
        (``pa.string()`` for UUID; ``pa.large_string()`` only if the text
        exceeds 2 GiB).

    Raises:
        MaskError: the kind is unknown or cannot fill this type.
    """
    where = "a column"
    _check_kind(kind, where)
    target = _parse_type(duckdb_type)
    if target.family not in _FITS[kind]:
        raise MaskError(_misfit_message(kind, where, duckdb_type, target.family))
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if values:
        return pa.array(list(values), pa.string()).take(pa.array(rng.integers(0, len(values), size=n)))
    if points and target.family in _BOUNDED:
        return _listed(points, n, target, rng, dict(exact))
    make = _GENERATORS[kind]
    if bounds is not None and target.family in _BOUNDED:
        make = functools.partial(_within, kind, bounds, distinct=distinct)
    if n <= _CHUNK_ROWS:
        return make(n, target, rng)
    parts = [make(min(_CHUNK_ROWS, n - start), target, rng)
             for start in range(0, n, _CHUNK_ROWS)]
    return _concat(parts)


# --- inside a CHECK's range ---------------------------------------------------------

_BOUNDED = frozenset({"int", "float", "decimal", "date", "timestamp"})
UNIQUE_STRETCH = 16  # a UNIQUE column's rows x this: the values a range's stretch holds for them where the kind's
# usual ones hold under twice the rows (a draw again then clashes 1 time in 16; at 4, now and then a repeat was kept)


def _window(lo: float, hi: float, low: float, high: float) -> tuple[float, float]:
    """Where a kind draws inside the column's public range [lo, hi]: its usual range [low, high]
    where the two meet, else a stretch as wide as the usual one at the end of [lo, hi] nearest it."""
    a, b = max(lo, low), min(hi, high)
    if a <= b:
        return a, b
    width = high - low
    return (max(lo, hi - width), hi) if hi < low else (lo, min(hi, lo + width))


def _within(kind: str, bounds: tuple[float, float], n: int, target: _Type, rng: np.random.Generator,
            distinct: int = 0) -> pa.Array:
    """`n` values of `kind` for `target`, drawn as the kind draws them but inside `bounds` (the engine's
    units: doubles, days for DATE, microseconds for timestamps): the whole numbers, the DECIMAL's scale,
    whole days or whole seconds the kind gives, each end rounded inward; a FLOAT or DOUBLE to two decimals
    (more where the range is narrower than 1). With `distinct` (a UNIQUE column of that many rows), the
    stretch drawn from holds UNIQUE_STRETCH times as many values where the range does, and a stretch of at most 64
    values a row is drawn without repeats. The floats' ends are approximate: the caller keeps the values
    to the CHECKs themselves (``passing``)."""
    lo, hi = bounds
    if target.family == "float":
        a, b = _window(lo, hi, 0.0, float(_NUMBER_MAX + 1))
        if b - a <= 1e-9 * max(abs(a), abs(b)):  # (a stretch the floats cannot tell from its end: 1e300 + 1e5)
            a, b = (a, min(hi, a + abs(a))) if a > 0 else (max(lo, b - abs(b)), b)
        # Two decimals, as the kind draws, or more where the stretch is narrow or a UNIQUE column needs them; none
        # past 15 places (a stretch around 1e-300 had come out all 0).
        places = max(2, math.ceil(math.log10(max(100, UNIQUE_STRETCH * distinct) / (b - a)))) if b > a else 2
        raw = rng.uniform(a, b, size=n)
        rounded = np.round(raw, places) if places <= 15 else raw
        values = np.where((rounded >= a) & (rounded <= b), rounded, raw)  # (not onto an end: 0 up to 5e-324)
        return pa.array(values.astype(target.arrow.to_pandas_dtype()), target.arrow)
    a, b, usual, to_arrow = _grid(kind, target, lo, hi)
    if a > b:
        raise MaskError(f"a CHECK's range holds no value a {kind!r} mask can draw for type {target.arrow}")
    wa, wb = _window(a, b, *usual)
    if distinct and wb - wa + 1 < 2 * distinct:  # (widened inside the range: 2,000 rows had had 31 dates; not
        # where the usual values hold twice the rows, so that they stay as usual: 3,000 SMALLINTs had gone negative)
        wb = min(b, wa + UNIQUE_STRETCH * distinct - 1)
        wa = max(a, wb - UNIQUE_STRETCH * distinct + 1)
    count = wb - wa + 1
    if distinct and n <= count <= 64 * n:
        offsets = rng.choice(count, size=n, replace=False)
    else:
        offsets = _offsets(count - 1, n, rng)
    return to_arrow((offsets if max(-wa, wb) < 2**62 else offsets.astype(object)) + wa)


def _grid(kind: str, target: _Type, lo: float, hi: float):
    """The kind's grid inside [lo, hi] for `target`: its ends (whole numbers of the grid's step), the stretch
    the kind usually draws from, and a function writing grid numbers as `target`'s values."""
    fam = target.family
    if fam == "int":
        info = np.iinfo(target.arrow.to_pandas_dtype())
        ends = max(math.ceil(lo), int(info.min)), min(math.floor(hi), int(info.max))
        return (*ends, (max(0, target.low), min(_NUMBER_MAX, target.high)),
                lambda v: pa.array(np.asarray(v).astype(info.dtype), target.arrow))
    if fam == "decimal":
        scale = target.arrow.scale
        digits = min(5, target.arrow.precision - scale)
        # The ends in units of the scale: the nearest, stepped inward where its float is outside (a bound is the
        # float of a value on the scale, 0.01 a hair above one hundredth: rounding it up had lost 0.01 itself).
        return (_units(lo, scale, 1), _units(hi, scale, -1), (0, 10 ** (digits + scale) - 1),
                lambda v: _scaled(v, target.arrow))
    # Dates and timestamps: in seconds, within what the target's unit holds in 64 bits.
    reach = (2**63 - 1) // (_UNIT_PER_SECOND[target.arrow.unit] if fam == "timestamp" else 1) - _SECONDS_PER_DAY
    if fam == "date":
        lo, hi = lo * _SECONDS_PER_DAY, hi * _SECONDS_PER_DAY + _SECONDS_PER_DAY - 1
    else:
        lo, hi = lo / 1_000_000, hi / 1_000_000
    lo, hi = max(lo, -reach), min(hi, reach)
    if kind == "date":  # whole days, as the kind draws them (a TIMESTAMP's at midnight)
        return (math.ceil(lo / _SECONDS_PER_DAY), math.floor(hi / _SECONDS_PER_DAY), (_DATE_LO, _DATE_HI),
                lambda v: _seconds_to(np.asarray(v, dtype=np.int64) * _SECONDS_PER_DAY, target))
    return (math.ceil(lo), math.floor(hi), (_DATE_LO * _SECONDS_PER_DAY, (_DATE_HI + 1) * _SECONDS_PER_DAY - 1),
            lambda v: _seconds_to(np.asarray(v, dtype=np.int64), target))


def _listed(points: tuple[float, ...], n: int, target: _Type, rng: np.random.Generator,
            exact: dict[float, str]) -> pa.Array:
    """n values drawn evenly from a CHECK's listed `points` (the engine's units), as `target`'s values; a
    DECIMAL's as written in the CHECK where `exact` has it (its float's shortest decimal is another value)."""
    fam, at = target.family, rng.integers(0, len(points), size=n)
    if fam == "decimal":
        step = decimal.Decimal(1).scaleb(-target.arrow.scale)
        listed = pa.array([decimal.Decimal(exact.get(p) or repr(float(p))).quantize(step) for p in points],
                          target.arrow)
        return listed.take(pa.array(at))
    picked = np.asarray(points, dtype=np.float64)[at]
    if fam in ("int", "float"):
        return pa.array(picked.astype(target.arrow.to_pandas_dtype()), target.arrow)
    if fam == "date":
        return pa.array(picked.astype(np.int32), pa.date32())
    per_us = {"s": 1e-6, "ms": 1e-3, "us": 1.0, "ns": 1e3}[target.arrow.unit]
    return pa.array(np.round(picked * per_us).astype(np.int64), target.arrow)


def _units(x: float, scale: int, inward: int) -> int:
    """The whole number of units of 10^-scale nearest `x`, one step `inward` (+1 up, -1 down) where it lies
    outside `x` as a float."""
    u = int(decimal.Decimal(x).scaleb(scale).to_integral_value(decimal.ROUND_HALF_EVEN))
    return u + inward if (float(decimal.Decimal(u).scaleb(-scale)) - x) * inward < 0 else u


def _offsets(span: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n whole numbers in 0..span (span >= 0, any size: past 2^63 as Python ints)."""
    if span < 2**62:
        return rng.integers(0, span, endpoint=True, size=n)
    words = rng.integers(0, 2**62, size=(n, span.bit_length() // 62 + 2))
    return np.array([sum(int(w) << (62 * i) for i, w in enumerate(row)) % (span + 1) for row in words], dtype=object)


def _scaled(units: np.ndarray, arrow: pa.Decimal128Type) -> pa.Array:
    """Whole numbers of units of 10^-scale as decimals of type `arrow`."""
    if units.dtype != object and arrow.scale < 18 and np.abs(units).max(initial=0) < 2**62:
        ones, parts = np.divmod(np.abs(units), 10**arrow.scale)
        sign = pa.array(np.where(units < 0, "-", ""))
        text = pc.binary_join_element_wise(sign, pc.cast(pa.array(ones), pa.string()), "")
        if arrow.scale:
            tail = pc.utf8_lpad(pc.cast(pa.array(parts), pa.string()), width=arrow.scale, padding="0")
            text = pc.binary_join_element_wise(text, tail, ".")
        return pc.cast(text, arrow)
    return pa.array([decimal.Decimal(int(u)).scaleb(-arrow.scale) for u in units], arrow)


def _concat(parts: list[pa.Array]) -> pa.Array:
    """Concatenate chunks, widening string offsets to 64 bits when needed."""
    kind = parts[0].type
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        size = sum(int(pc.sum(pc.binary_length(p)).as_py() or 0) for p in parts)
        if size > _MAX_STRING_BYTES:
            wide = pa.large_string() if pa.types.is_string(kind) else pa.large_binary()
            parts = [p.cast(wide) for p in parts]
    return pa.concat_arrays(parts)


def parts_of(values: pa.Array, b: int, con=None) -> np.ndarray:
    """Each value's part (0..b-1) of a partition of the values ``generate`` makes into `b`, by DuckDB's hash of the
    value: the same value, the same part, wherever it is (in any process with the same DuckDB; Python's ``hash`` is
    seeded a process). A declared UNIQUE masked column's batch i of b keeps values of part i alone, so batches made
    apart never share one (``decode._distinct_masked``). Values without nulls; `con`: a DuckDB connection to use
    (a new one takes 14 ms)."""
    if b <= 1 or not len(values):
        return np.zeros(len(values), dtype=np.int64)
    import duckdb

    own = con is None
    con = duckdb.connect() if own else con
    try:
        con.register("_mask_values", pa.table({"v": values}))
        # (one thread: the rows in their order)
        return con.execute(f"SELECT CAST(hash(v) % {int(b)} AS BIGINT) AS p FROM _mask_values").fetchnumpy()["p"]
    finally:
        con.unregister("_mask_values")
        if own:
            con.close()


def limits(within, distinct: int = 0) -> dict:
    """``generate``'s keywords for a column's range or list from its CHECKs (a ``schema.Declared``; None: none)."""
    if within is None:
        return {}
    return {"bounds": within.bounds, "values": within.values, "points": within.points, "exact": within.exact,
            "distinct": distinct}


def passing(values: pa.Array, name: str, duckdb_type: str, checks: tuple[str, ...], con=None,
            zone: str | None = None) -> np.ndarray:
    """Whether each of `values` (of column `name`, cast to `duckdb_type`) satisfies the CHECKs `checks` of that
    column alone, as DuckDB reads them (TRUE or NULL passes; a value its CHECK raises on, 'Donna' in
    ``c::INTEGER > 0`` or an overflow, fails): the CHECKs' own SQL on the values alone, so that a masked column
    keeps to them exactly where a range read as floats cannot (bounds past 2^53, strict ends on microseconds,
    ``length(s) = 3``), in the session's time zone and calendar `zone` ('Asia/Tokyo|gregorian') where given. `con`: a DuckDB connection of this
    module's to use (run on one thread). Raises duckdb.Error where a CHECK cannot be run here at all (it calls
    a macro of the source's database)."""
    import duckdb

    if not checks or not len(values):
        return np.ones(len(values), dtype=bool)
    ident = '"' + name.replace('"', '""') + '"'
    test = " AND ".join(f"coalesce(try(({c}) IS NOT FALSE), false)" for c in checks)
    sql = (f"SELECT {ident} IS NOT NULL AND {test} AS ok FROM (SELECT TRY_CAST(v AS {duckdb_type}) AS {ident} "
           "FROM _mask_checked)")
    own = con is None
    con = duckdb.connect() if own else con
    try:
        con.execute("SET threads = 1")  # (the rows in their order)
        use_session(con, zone)
        con.register("_mask_checked", pa.table({"v": values}))
        try:
            return con.execute(sql).fetchnumpy()["ok"].astype(bool)
        finally:
            con.unregister("_mask_checked")
    finally:
        if own:
            con.close()


PROBE_ROWS = 16_384  # values a masked column's mask draws before anything is read, to see which keep to its CHECKs
# (at 1,024, x % 2003 = 5 found none of the 50 in 0-99,999 and was dropped)
PROBE_SEED = 20261207  # (fixed: the probe is public, a function of the schema and the mask alone)


class Probe(NamedTuple):
    """``probe``'s answer: the values drawn that keep to the CHECKs, their share of the draws, and why there are none
    where that is not their failing ('range': no value of the kind fits the range; 'run': a CHECK cannot be run on
    the values alone, as it calls a macro of the source's database)."""

    kept: pa.Array
    share: float
    failed: str = ""


@functools.lru_cache(maxsize=64)
def probe(kind: str, name: str, duckdb_type: str, checks: tuple[str, ...], within, zone: str | None = None) -> Probe:
    """PROBE_ROWS values of mask `kind` drawn with a fixed seed (inside `within`, a ``schema.Declared``, where given),
    kept to the column's CHECKs `checks` (in the session's time zone `zone`). Public: the schema and the mask alone."""
    import duckdb

    rng = np.random.default_rng(PROBE_SEED)
    try:
        values = generate(kind, PROBE_ROWS, duckdb_type, rng, **limits(within))
    except MaskError:
        return Probe(pa.array([], pa.null()), 0.0, "range")
    try:
        ok = passing(values, name, duckdb_type, checks, zone=zone)
    except duckdb.Error:
        return Probe(values.slice(0, 0), 0.0, "run")
    return Probe(values.filter(pa.array(ok)), float(ok.mean()))


# --- building strings from numpy byte matrices ------------------------------------

_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UPPER = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


def _fixed_width(chars: np.ndarray, arrow_type: pa.DataType = pa.string()) -> pa.Array:
    """Turn an (n, w) uint8 matrix into an Arrow string array of n values of width w."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return pa.Array.from_buffers(arrow_type, n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers, as an (n, width) matrix."""
    values = values.astype(np.int64, copy=True)
    out = np.empty((len(values), width), dtype=np.uint8)
    for col in range(width - 1, -1, -1):
        out[:, col] = _DIGITS[values % 10]
        values //= 10
    return out


def _const(text: str, n: int) -> np.ndarray:
    """A constant text as an (n, len(text)) matrix, for np.hstack."""
    return np.broadcast_to(np.frombuffer(text.encode(), dtype=np.uint8), (n, len(text)))


def _hex(raw: np.ndarray) -> np.ndarray:
    """Lower-case hex of an (n, k) byte matrix, as an (n, 2k) matrix."""
    out = np.empty((raw.shape[0], raw.shape[1] * 2), dtype=np.uint8)
    out[:, 0::2] = _HEX[raw >> 4]
    out[:, 1::2] = _HEX[raw & 15]
    return out


def _random_bytes(n: int, width: int, rng: np.random.Generator) -> np.ndarray:
    return np.frombuffer(rng.bytes(n * width), dtype=np.uint8).reshape(n, width)


def _take(pool: pa.Array, n: int, rng: np.random.Generator) -> pa.Array:
    return pool.take(pa.array(rng.integers(0, len(pool), size=n)))


# --- pools -------------------------------------------------------------------------

class _Pools(NamedTuple):
    first: pa.Array        # first names, repeats keep Faker's frequencies
    last: pa.Array
    email_first: pa.Array  # the same, lower-case ASCII letters only
    email_last: pa.Array
    street_stem: pa.Array  # first and last names
    street_suffix: pa.Array
    city: pa.Array
    state: pa.Array


@functools.lru_cache(maxsize=2)
def _pools(seed: int = _POOL_SEED) -> _Pools:
    """Public value pools drawn once per process from Faker seeded with `seed`."""
    from faker import Faker  # import here: Faker takes ~0.3 s to import

    fake = Faker("en_US")
    fake.seed_instance(seed)

    def draw(method: Callable[[], str], count: int = _POOL_DRAWS) -> pa.Array:
        return pa.array([method() for _ in range(count)], pa.string())

    def ascii_lower(pool: pa.Array) -> pa.Array:
        letters = pc.replace_substring_regex(pc.utf8_lower(pool), "[^a-z]", "")
        return letters.filter(pc.greater(pc.utf8_length(letters), 0))

    first, last = draw(fake.first_name), draw(fake.last_name)
    states = draw(lambda: fake.state_abbr(include_territories=False,
                                          include_freely_associated_states=False), 500)
    return _Pools(
        first=first,
        last=last,
        email_first=ascii_lower(first),
        email_last=ascii_lower(last),
        street_stem=pa.concat_arrays([first, last]),
        street_suffix=draw(fake.street_suffix, 1000),
        city=draw(fake.city, 2000),
        state=states,
    )


# --- one generator per kind ----------------------------------------------------------

def _gen_string(n: int, target: _Type, rng: np.random.Generator) -> pa.Array:
    if target.family == "blob":
        return _fixed_width(_random_bytes(n, 16, rng), pa.binary())
    if target.family == "uuid":
        raw = _random_bytes(n, 16, rng).copy()
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
        h = _hex(raw)
        dash = _const("-", n)
        return _fixed_width(np.hstack([h[:, :8], dash, h[:, 8:12], dash, h[:, 12:16], dash,
                                       h[:, 16:20], dash, h[:, 20:]]))
    return _fixed_width(_hex(_random_bytes(n, 8, rng)))


def _gen_number(n: int, target: _Type, rng: np.random.Generator) -> pa.Array:
    if target.family == "int":
        high = min(_NUMBER_MAX, target.high)
        values = rng.integers(max(0, target.low), high + 1, size=n)
        return pa.array(values.astype(target.arrow.to_pandas_dtype()), target.arrow)
    if target.family == "float":
        values = np.round(rng.uniform(0, _NUMBER_MAX + 1, size=n), 2)
        return pa.array(values.astype(target.arrow.to_pandas_dtype()), target.arrow)
    if target.family == "decimal":
        return _decimal(n, target.arrow, rng)
    return pc.cast(pa.array(rng.integers(0, _NUMBER_MAX + 1, size=n)), pa.string())


def _decimal(n: int, arrow: pa.Decimal128Type, rng: np.random.Generator) -> pa.Array:
    """Uniform on the type's grid, integer part in 0..99999 clipped to the precision."""
    int_digits = min(5, arrow.precision - arrow.scale)
    columns = [_digits(rng.integers(0, 10**int_digits, size=n), int_digits) if int_digits
               else _const("0", n)]
    if arrow.scale:
        # One uniform digit at a time: the scale can exceed what an int64 holds.
        columns += [_const(".", n), _DIGITS[rng.integers(0, 10, size=(n, arrow.scale))]]
    return pc.cast(_fixed_width(np.hstack(columns)), arrow)


def _days(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(_DATE_LO, _DATE_HI + 1, size=n)


def _seconds_to(seconds: np.ndarray, target: _Type) -> pa.Array:
    """Epoch seconds as an array of the target's family (DATE, TIMESTAMP, VARCHAR)."""
    if target.family == "date":
        return pa.array((seconds // _SECONDS_PER_DAY).astype(np.int32), pa.date32())
    if target.family == "timestamp":
        unit = _UNIT_PER_SECOND[target.arrow.unit]
        return pa.array(seconds * unit, target.arrow)
    return pa.array(seconds, pa.timestamp("s"))  # VARCHAR: cast by the caller


def _gen_date(n: int, target: _Type, rng: np.random.Generator) -> pa.Array:
    days = _days(n, rng)
    if target.family == "varchar":
        return pc.cast(pa.array(days.astype(np.int32), pa.date32()), pa.string())
    return _seconds_to(days * _SECONDS_PER_DAY, target)


def _gen_timestamp(n: int, target: _Type, rng: np.random.Generator) -> pa.Array:
    seconds = rng.integers(_DATE_LO * _SECONDS_PER_DAY, (_DATE_HI + 1) * _SECONDS_PER_DAY,
                           size=n)
    values = _seconds_to(seconds, target)
    return pc.cast(values, pa.string()) if target.family == "varchar" else values


def _gen_name(n: int, target: _Type, rng: np.random.Generator) -> pa.Array:
    pools = _pools()
    return pc.binary_join_element_wise(_take(pools.first, n, rng),
                                       _take(pools.last, n, rng), " ")


# Digits after an email's last name: none about half the time, else 1-99 or a year.
_EMAIL_NUMBERS = pa.array([""] * 160 + [str(i) for i in range(1, 100)]
                          + [str(y) for y in range(1950, 2011)])
_EMAIL_SEPARATORS = pa.array([".", ".", "_", ""])


def _gen_email(n: int, target: _Type, rng: np.random.Generator) -> pa.Array:
    pools = _pools()
    return pc.binary_join_element_wise(
        _take(pools.email_first, n, rng), _take(_EMAIL_SEPARATORS, n, rng),
        _take(pools.email_last, n, rng), _take(_EMAIL_NUMBERS, n, rng), "@",
        _take(pa.array(_EMAIL_DOMAINS), n, rng), "")


_SECONDARY = pa.array(["Apt.", "Suite"])


def _gen_address(n: int, target: _Type, rng: np.random.Generator) -> pa.Array:
    """One line: '4821 Katie Parkway Apt. 212, South Holly, NV 28442'."""
    pools = _pools()
    # Building numbers with 3 to 5 digits, like Faker's.
    smallest = 10 ** rng.integers(2, 5, size=n)
    building = pc.cast(pa.array(smallest + rng.integers(0, 9 * smallest)), pa.string())
    street = pc.binary_join_element_wise(building, _take(pools.street_stem, n, rng),
                                         _take(pools.street_suffix, n, rng), " ")
    secondary = pc.binary_join_element_wise(
        street, _take(_SECONDARY, n, rng),
        pc.cast(pa.array(rng.integers(100, 1000, size=n)), pa.string()), " ")
    street = pc.if_else(pa.array(rng.random(n) < 0.2), secondary, street)
    return pc.binary_join_element_wise(
        street, ", ", _take(pools.city, n, rng), ", ", _take(pools.state, n, rng), " ",
        _fixed_width(_zip_digits(n, rng)), "")


def _zip_digits(n: int, rng: np.random.Generator) -> np.ndarray:
    return _digits(rng.integers(501, 99951, size=n), 5)


def _gen_postcode(n: int, target: _Type, rng: np.random.Generator) -> pa.Array:
    return _fixed_width(_zip_digits(n, rng))


def _nxx(n: int, rng: np.random.Generator) -> np.ndarray:
    """North American area codes or exchanges: first digit 2-9, never N11."""
    first = rng.integers(2, 10, size=n)
    rest = rng.integers(0, 99, size=n)
    rest[rest >= 11] += 1  # skip 11
    return _digits(first * 100 + rest, 3)


def _gen_phone(n: int, target: _Type, rng: np.random.Generator) -> pa.Array:
    """'(NXX) NXX-XXXX'."""
    return _fixed_width(np.hstack([
        _const("(", n), _nxx(n, rng), _const(") ", n), _nxx(n, rng), _const("-", n),
        _digits(rng.integers(0, 10_000, size=n), 4),
    ]))


def _gen_ssn(n: int, target: _Type, rng: np.random.Generator) -> pa.Array:
    """'AAA-GG-SSSS' with an area the SSA issues (001-899 but 666), no zero group/serial."""
    area = rng.integers(1, 899, size=n)
    area[area >= 666] += 1
    return _fixed_width(np.hstack([
        _digits(area, 3), _const("-", n), _digits(rng.integers(1, 100, size=n), 2),
        _const("-", n), _digits(rng.integers(1, 10_000, size=n), 4),
    ]))


def _iban_chars(country: str, pattern: str, m: int, rng: np.random.Generator) -> np.ndarray:
    """m IBANs of one country with correct ISO 13616 mod-97 check digits."""
    bban = np.empty((m, len(pattern)), dtype=np.uint8)
    for col, slot in enumerate(pattern):
        alphabet = _DIGITS if slot == "n" else _UPPER
        bban[:, col] = alphabet[rng.integers(0, len(alphabet), size=m)]
    # mod 97 of BBAN + country + '00', letters read as 10..35, one column at a time.
    remainder = np.zeros(m, dtype=np.int64)
    for col, slot in enumerate(pattern):
        value = bban[:, col].astype(np.int64)
        if slot == "n":
            remainder = (remainder * 10 + value - ord("0")) % 97
        else:
            remainder = (remainder * 100 + value - ord("A") + 10) % 97
    for letter in country:
        remainder = (remainder * 100 + ord(letter) - ord("A") + 10) % 97
    remainder = remainder * 100 % 97
    return np.hstack([_const(country, m), _digits(98 - remainder, 2), bban])


def _gen_iban(n: int, target: _Type, rng: np.random.Generator) -> pa.Array:
    """Electronic form (no spaces) of DE, AT, NL or GB IBANs."""
    which = rng.integers(0, len(_IBAN_FORMATS), size=n)
    widths = np.array([4 + len(p) for _, p in _IBAN_FORMATS])[which]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(widths, out=offsets[1:])
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    for index, (country, pattern) in enumerate(_IBAN_FORMATS):
        rows = np.flatnonzero(which == index)
        chars = _iban_chars(country, pattern, len(rows), rng)
        data[offsets[rows][:, None] + np.arange(chars.shape[1])] = chars
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets.astype(np.int32)),
                                                  pa.py_buffer(data)])


_GENERATORS: dict[str, Callable[[int, _Type, np.random.Generator], pa.Array]] = {
    "string": _gen_string,
    "number": _gen_number,
    "name": _gen_name,
    "address": _gen_address,
    "postcode": _gen_postcode,
    "phone": _gen_phone,
    "ssn": _gen_ssn,
    "email": _gen_email,
    "date": _gen_date,
    "timestamp": _gen_timestamp,
    "iban": _gen_iban,
}
