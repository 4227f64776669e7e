"""The options of a run, validated before anything is read or spent."""
from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
import operator
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import OptionError, did_you_mean

#: Privacy modes and their epsilon; None means no formal DP.
MODES: dict[str, float | None] = {"balanced": None, "strict": 3.0, "strictest": 1.0}
DEFAULT_DELTA = 1e-6
MAX_DELTA = 1e-3  # a larger delta is no meaningful guarantee for any table worth synthesizing (at least 50 rows)
MAX_ROWS = 100_000_000
MAX_EPSILON = 1e100  # past it (1e308) the noise scales and rho overflow mid-run, after the row count was charged; an
# epsilon of 1e3 is already no privacy to speak of
MIN_EPSILON_PER_ROW = 1e-3  # epsilon / max_rows_per_unit under this is refused: its noise swamps every count of any
# table, and the noise's tables grow with its scale (epsilon 1e-6 asked 7 GB of the exact pmf and was killed after
# the row count was charged; the review of 12d66b3). 1e-4 took 0.5 GB on a table of 4 columns
MIN_DELTA = 1e-300  # 5e-324 (the least double) failed in log(1 / delta), after the checks (the review of 12d66b3)
MAX_CLAMP = 1e100  # a sum's clamp: its square, the sum's sensitivity squared, overflowed at 1e200 mid-run, charged
MIN_CLAMP = 1e-100  # and its larger end at least this: its step, 2^-20 of it, was 0 at [0, 1e-320] and the run failed
# dividing by it after it had spent its budget (the review of 1c489ef)


@dataclass(frozen=True)
class Options:
    """What a user asked for. ``epsilon is None`` means balanced mode (no formal DP)."""

    mode: str
    epsilon: float | None
    delta: float
    masks: tuple[tuple[str, str], ...] = ()
    rows: int | None = None
    seed: int | None = None
    marginals: tuple[tuple[tuple[str, ...], float], ...] = ()  # the workload: column sets and weights
    sums: tuple[SumSpec, ...] = ()  # sums of numeric columns by groups, measured and met by the copy
    domains: tuple[tuple[str, DomainSpec], ...] = ()  # public domains the user declares, per column
    privacy_unit: str | None = None  # the column naming the person a row belongs to (None: each row its own)
    max_rows_per_unit: int = 1  # rows kept per unit (contribution bounding); sensitivities scale with it
    budget: float | None = None  # the source's total epsilon in the ledger (set if none is, else the lower applies)
    ledger: bool = True  # record the run in the database's ledger (False: allowed on a read-only database)
    constraints: tuple[str, ...] = ()  # rules the copy keeps (engine/rules.py), as SQL text

    @property
    def domain_map(self) -> dict[str, DomainSpec]:
        return dict(self.domains)

    @property
    def private(self) -> bool:
        return self.epsilon is not None

    @property
    def mask_map(self) -> dict[str, str]:
        return dict(self.masks)


def parse_options(
    *,
    mode: str | None = None,
    epsilon: float | None = None,
    delta: float | None = None,
    masks: dict[str, str] | str | None = None,
    rows: int | None = None,
    seed: int | None = None,
    marginals: Any = None,
    domains: Any = None,
    privacy_unit: str | None = None,
    max_rows_per_unit: int | None = None,
    budget: float | None = None,
    ledger: bool | str | None = None,
    constraints: Any = None,
) -> Options:
    """Check every option and return them as one value; raise OptionError naming the bad one."""
    if mode is not None and epsilon is not None:
        raise OptionError(
            f"give either mode ('{mode}') or epsilon ({epsilon}), not both: "
            "mode 'strict' means epsilon=3 and 'strictest' epsilon=1"
        )
    if epsilon is not None:
        eps = _number("epsilon", epsilon)
        if not (0 < eps <= MAX_EPSILON):
            raise OptionError(f"epsilon must be a number > 0 and at most {MAX_EPSILON:g}, got {epsilon!r}")
        name = "custom"
    else:
        name = "balanced" if mode is None else str(mode).strip().lower()
        if name not in MODES:
            raise OptionError(
                f"unknown mode '{mode}'{did_you_mean(name, MODES)}; valid modes: {', '.join(MODES)} "
                "(or give epsilon := x for a custom budget)"
            )
        eps = MODES[name]
    if delta is not None:
        d = _number("delta", delta)
        if eps is None:
            raise OptionError("delta applies to differentially private runs only; give mode 'strict'/'strictest' or epsilon")
        if not (0 < d < 1):
            raise OptionError(f"delta must be in (0, 1), got {delta!r}")
        if d < MIN_DELTA:
            raise OptionError(f"delta := {delta!r} is too small: use at least {MIN_DELTA:g} (the default is "
                              f"{DEFAULT_DELTA:g})")
        if d > MAX_DELTA:
            raise OptionError(
                f"delta := {delta!r} is too large: with delta = {d:g}, publishing each row in full with probability "
                f"{d:g} would pass as differentially private. Use at most {MAX_DELTA:g}, and well below 1/n for n "
                f"rows (the default is {DEFAULT_DELTA:g}); to spend more, raise epsilon")
    else:
        d = DEFAULT_DELTA
    if rows is not None:
        rows = _whole("rows", rows)
        if not (1 <= rows <= MAX_ROWS):
            raise OptionError(f"rows must be between 1 and {MAX_ROWS:,}, got {rows}")
    if seed is not None:
        seed = _whole("seed", seed, allow_float=False)
        if seed < 0:
            raise OptionError(f"seed must be >= 0, got {seed}")
    unit, per_unit = _unit(privacy_unit, max_rows_per_unit)
    if eps is not None and eps / per_unit < MIN_EPSILON_PER_ROW:
        each = f"; with max_rows_per_unit := {per_unit}, each row's is epsilon / {per_unit} = {eps / per_unit:.3g}" \
            if per_unit > 1 else ""
        raise OptionError(f"epsilon {eps:g} is too small to release anything{each}: noise of that scale swamps every "
                          f"count of any table. Use at least {MIN_EPSILON_PER_ROW:g} a row"
                          f"{' (lower max_rows_per_unit, or raise epsilon)' if per_unit > 1 else ''}")
    if budget is not None:
        if eps is None:
            raise OptionError("budget applies to differentially private runs only (a balanced run spends no "
                              "budget); give mode 'strict'/'strictest' or epsilon")
        b = _number("budget", budget)
        if not (0 < b <= MAX_EPSILON):
            raise OptionError(f"budget must be an epsilon > 0 and at most {MAX_EPSILON:g}, got {budget!r}")
        budget = b
    return Options(mode=name, epsilon=eps, delta=d if eps is not None else 0.0,
                   masks=_masks(masks), rows=rows, seed=seed, marginals=_marginals(marginals),
                   sums=_sums(marginals),
                   domains=_domains(domains), privacy_unit=unit, max_rows_per_unit=per_unit, budget=budget,
                   ledger=_flag("ledger", ledger, True), constraints=_constraints(constraints))


def _constraints(value: Any) -> tuple[str, ...]:
    """Rules as SQL text: one string, or a list of them (the SQL function passes a JSON list)."""
    if value is None:
        return ()
    if isinstance(value, str) and value.strip().startswith('"'):  # one rule from SQL: to_json('age >= 18') (read
        # as a rule of that text, quotes and all, it was refused as no comparison: the review of 12d66b3); a rule of
        # Python that starts with a quoted column, '"a " >= 1', is no JSON string, and stays as it is
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        value = decoded if isinstance(decoded, str) else value
    if isinstance(value, str) and value.strip().startswith("["):  # (after: a list given as text in SQL
        # comes quoted once more, '"[\\"a >= 1\\"]"': the review of 48d815d)
        value = _from_json(value, f"constraints must be a list of rules, e.g. ['admitted <= discharged']; got {value!r}")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        raise OptionError(f"constraints must be a list of rules (SQL text), e.g. ['admitted <= discharged', "
                          f"'age >= 18']; got {value!r}")
    return tuple(v.strip() for v in value)


def _flag(name: str, value: Any, default: bool) -> bool:
    """A boolean option, also as SQL passes it (text 'true'/'false')."""
    if value is None:
        return default
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise OptionError(f"{name} must be true or false, got {value!r}")


MAX_ROWS_PER_UNIT = 1_000_000


def _unit(unit: Any, per_unit: Any) -> tuple[str | None, int]:
    """The privacy unit and the rows kept per unit: both or neither (a bound is never guessed)."""
    if unit is None:
        if per_unit is not None:
            raise OptionError(f"max_rows_per_unit := {per_unit!r} needs privacy_unit := '<column>': the column "
                              "that names the person each row belongs to")
        return None, 1
    if not isinstance(unit, str) or not unit.strip():
        raise OptionError(f"privacy_unit must be a column name, e.g. 'patient_id'; got {unit!r}")
    if per_unit is None:
        raise OptionError(f"privacy_unit := '{unit}' needs max_rows_per_unit := k: the most rows kept per "
                          f"'{unit}' (the rest are dropped at random; the noise grows with k)")
    k = _whole("max_rows_per_unit", per_unit, allow_float=False)
    if not (1 <= k <= MAX_ROWS_PER_UNIT):
        raise OptionError(f"max_rows_per_unit must be between 1 and {MAX_ROWS_PER_UNIT:,}, got {k}")
    return unit, k


def _whole(name: str, value: Any, *, allow_float: bool = True) -> int:
    """An int from Python or numpy integers (or a float with no fraction, if allowed); never a bool."""
    what = "a whole number" if allow_float else "an integer"
    if isinstance(value, (bool, np.bool_)):
        raise OptionError(f"{name} must be {what}, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        pass
    if allow_float and isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise OptionError(f"{name} must be {what}, got {value!r}")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise OptionError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name} must be a number, got {value!r}") from None


def _from_json(value: Any, error: str, exact: bool = False) -> Any:
    """`value` itself, or parsed when it is a JSON string (as the SQL functions pass options); with `exact`, its
    numbers with decimals as Decimals, as written (a domain's bound 0.1000000000000000001 of a DECIMAL(38,18) was
    the float 0.1, and rows of 0.100000000000000000 came out below it: the review of b3f40b5)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value, parse_float=decimal.Decimal) if exact else json.loads(value)
    except json.JSONDecodeError:
        raise OptionError(error) from None


MAX_MARGINAL_COLUMNS = 5
_MARGINALS_EXAMPLE = ("[['age', 'sex'], ['diagnosis', 'age', 'insurance']] or "
                      "[{'columns': ['age', 'sex'], 'weight': 2}] or "
                      "[{'columns': ['dept'], 'sum': 'salary', 'clamp': [0, 200000]}]")
_ITEM_KEYS = {"columns", "weight", "sum", "clamp"}


@dataclass(frozen=True)
class SumSpec:
    """A sum in the workload: the total of the numeric column ``value`` in each group of ``group``
    (none: the grand total), each value clamped to ``clamp`` (None: the column's domain range)."""

    group: tuple[str, ...]
    value: str
    clamp: tuple[float, float] | None = None

    @property
    def label(self) -> str:
        return f"sum({self.value})" + (f" by {', '.join(self.group)}" if self.group else "")


def _items(value: Any) -> list:
    """The marginals option as a list of items (parsed from JSON when the SQL function passes it)."""
    value = _from_json(value, f"marginals must be a list of column lists, e.g. {_MARGINALS_EXAMPLE}; got {value!r}")
    if not isinstance(value, (list, tuple)) or not value:
        raise OptionError(
            f"marginals must be a non-empty list of column lists, e.g. {_MARGINALS_EXAMPLE}; got {value!r}")
    for item in value:
        if isinstance(item, dict):
            given = {k for k, v in item.items() if v is not None}  # SQL fills a struct's missing fields with NULL
            unknown = set(item) - _ITEM_KEYS
            if unknown or "columns" not in item:
                raise OptionError(f"a marginal given as a struct has 'columns' and optionally 'weight', or 'sum' "
                                  f"and optionally 'clamp'; got {item!r}")
            if "sum" in given and "weight" in given:
                raise OptionError(f"a sum has no weight: give 'weight' to a marginal of counts; got {item!r}")
            if "clamp" in given and "sum" not in given:
                raise OptionError(f"'clamp' bounds the values of a sum: give 'sum' too; got {item!r}")
    return list(value)


def _is_sum(item: Any) -> bool:
    return isinstance(item, dict) and item.get("sum") is not None


def _marginals(value: Any) -> tuple[tuple[tuple[str, ...], float], ...]:
    """The workload's counts: a list of column lists, each optionally with a weight (default 1).

    Accepted items: ['a', 'b'], ('a', 'b'), (['a', 'b'], 2.0), {'columns': ['a', 'b'], 'weight': 2.0};
    the whole may be a JSON string (as the SQL function passes it). Sums ({'columns': [...], 'sum': ...})
    are read by ``_sums``.
    """
    if value is None:
        return ()
    out: list[tuple[tuple[str, ...], float]] = []
    for item in _items(value):
        if _is_sum(item):
            continue
        weight: Any = 1.0
        if isinstance(item, dict):
            cols, weight = item["columns"], item.get("weight", 1.0)
        elif (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], (list, tuple))
              and not isinstance(item[1], str)):
            cols, weight = item
        else:
            cols = item
        _check_columns(cols, item)
        if not cols:
            raise OptionError(f"each marginal is a list of column names, e.g. ['age', 'sex']; got {item!r}")
        w = 1.0 if weight is None else _number(f"the weight of marginal {list(cols)}", weight)
        if not (w > 0 and math.isfinite(w)):
            raise OptionError(f"the weight of marginal {list(cols)} must be a finite number > 0, got {weight!r}")
        out.append((tuple(cols), w))
    return tuple(out)


def _check_columns(cols: Any, item: Any) -> None:
    if isinstance(cols, str) or not isinstance(cols, (list, tuple)) \
            or not all(isinstance(c, str) for c in cols):
        raise OptionError(f"each marginal is a list of column names, e.g. ['age', 'sex']; got {item!r}")
    if len(set(cols)) != len(cols):
        raise OptionError(f"the marginal {list(cols)} names a column twice")
    if len(cols) > MAX_MARGINAL_COLUMNS:
        raise OptionError(f"the marginal {list(cols)} has {len(cols)} columns; "
                          f"at most {MAX_MARGINAL_COLUMNS} are supported")


MAX_SUMS = 20  # sums in one workload


def _sums(value: Any) -> tuple[SumSpec, ...]:
    """The workload's sums: items {'columns': [group columns], 'sum': column, 'clamp': [lo, hi]}."""
    if value is None:
        return ()
    out: list[SumSpec] = []
    for item in _items(value):
        if not _is_sum(item):
            continue
        cols, col = item["columns"], item["sum"]
        _check_columns(cols, item)
        if not isinstance(col, str) or not col:
            raise OptionError(f"'sum' names one numeric column, e.g. 'salary'; got {item!r}")
        if col in cols:
            raise OptionError(f"the sum of '{col}' is grouped by '{col}' itself; group it by other columns")
        clamp = item.get("clamp")
        if clamp is not None:
            if isinstance(clamp, str) or not isinstance(clamp, (list, tuple)) or len(clamp) != 2:
                raise OptionError(f"the clamp of sum('{col}') is [lower, upper], e.g. [0, 200000]; got {clamp!r}")
            lo, hi = (_number(f"the clamp of sum('{col}')", b) for b in clamp)
            if not (-MAX_CLAMP <= lo < hi <= MAX_CLAMP) or max(abs(lo), abs(hi)) < MIN_CLAMP:
                raise OptionError(f"the clamp of sum('{col}') must be two finite numbers within +-{MAX_CLAMP:g}, "
                                  f"lower < upper, one of them at least {MIN_CLAMP:g} in size; got {list(clamp)!r}")
            clamp = (float(lo), float(hi))
        spec = SumSpec(tuple(cols), col, clamp)
        if any(s.group == spec.group and s.value == spec.value for s in out):
            raise OptionError(f"{spec.label} is given twice")
        out.append(spec)
    if len(out) > MAX_SUMS:
        raise OptionError(f"{len(out)} sums in marginals; at most {MAX_SUMS} are supported")
    return tuple(out)


def _masks(masks: dict[str, str] | str | None) -> tuple[tuple[str, str], ...]:
    if masks is None:
        return ()
    masks = _from_json(masks, f"masks must map column names to kinds, e.g. {{'email': 'email'}}, got {masks!r}")
    if not isinstance(masks, dict):
        raise OptionError(f"masks must map column names to kinds, e.g. {{'email': 'email'}}, got {masks!r}")
    out = []
    for col, kind in masks.items():
        if not isinstance(kind, str):
            raise OptionError(f"the mask of column '{col}' must be a kind name (a string), got {kind!r}")
        out.append((str(col), kind.strip().lower()))
    return tuple(out)


# ---------------------------------------------------------------- public domains


@dataclass(frozen=True)
class DomainSpec:
    """A column's public domain as the user wrote it, before it is checked against the column's type.

    ``values``: a list (the column's complete set of values; for a number, date or time column a
    list of two is its range [min, max]). ``lo``/``hi``: a range given as {'min': ..., 'max': ...}.
    """

    values: tuple = ()
    lo: Any = None
    hi: Any = None

    @property
    def is_range(self) -> bool:
        return self.lo is not None

    def show(self) -> str:
        """As the user would write it, for messages."""
        if self.is_range:
            return f"{{'min': {shown_value(self.lo)}, 'max': {shown_value(self.hi)}}}"
        return "[" + ", ".join(shown_value(v) for v in self.values) + "]"


def shown_value(v: Any) -> str:
    """A domain's value as the user wrote it: a Decimal as its digits (SQL's and the CLI's numbers arrive so)."""
    return str(v) if isinstance(v, decimal.Decimal) else repr(v)


MAX_DOMAIN_VALUES = 100_000
_DOMAINS_EXAMPLE = "{'state': ['CA', 'NY'], 'age': [0, 120], 'lat': {'min': 44.8, 'max': 45.1}}"
_SCALARS = (str, bool, int, float, decimal.Decimal, _dt.date, _dt.time, uuid.UUID)


def _domains(value: Any) -> tuple[tuple[str, DomainSpec], ...]:
    """The declared domains: column -> a list of values, or a range [min, max] / {'min': .., 'max': ..}.

    Only their shape is checked here (a list without NULLs, a range with both ends, min <= max for
    numbers); what they mean for each column's type is checked once the schema is known
    (``engine/declared.py``), still before anything is read. The whole may be a JSON string (SQL).
    """
    if value is None:
        return ()
    def error(given: Any) -> str:
        return f"domains must map column names to a list of values or a range, e.g. {_DOMAINS_EXAMPLE}; got {given!r}"

    first = value
    value = _from_json(value, error(first), exact=True)
    if isinstance(value, str):  # SQL: a JSON text given as a string arrives quoted once more (and is shown as given,
        # not quoted again: the review of 12d66b3)
        value = _from_json(value, error(value), exact=True)
    if not isinstance(value, dict):
        raise OptionError(error(first))
    out = []
    for col, spec in value.items():
        if not isinstance(col, str) or not col:
            raise OptionError(f"domains: column names are strings, got {col!r}")
        out.append((col, _domain_spec(col, spec)))
    return tuple(out)


def _domain_spec(col: str, spec: Any) -> DomainSpec:
    """One column's declared domain, its shape checked."""
    if isinstance(spec, dict):
        if set(spec) != {"min", "max"}:
            raise OptionError(f"domains: the range of column '{col}' has 'min' and 'max' and nothing else, "
                              f"e.g. {{'min': 0, 'max': 120}}; got {spec!r}")
        lo, hi = spec["min"], spec["max"]
        for end, v in (("min", lo), ("max", hi)):
            if v is None:
                raise OptionError(f"domains: the range of column '{col}' has no {end} (NULL); give both ends: "
                                  "a range open on one side is not a public bound")
            _scalar(col, v)
        if _is_number(lo) and _is_number(hi) and float(lo) > float(hi):
            raise OptionError(f"domains: the range of column '{col}' has min {shown_value(lo)} > max "
                              f"{shown_value(hi)}")
        return DomainSpec(lo=lo, hi=hi)
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise OptionError(f"domains: the list of column '{col}' is empty; give its values (or leave the "
                              "column out: its domain is then learned from the data)")
        if any(v is None for v in spec):
            raise OptionError(f"domains: the list of column '{col}' holds NULL; list only values: a nullable "
                              "column keeps its NULLs anyway, and a NOT NULL one has none")
        for v in spec:
            _scalar(col, v)
        values = tuple(dict.fromkeys(spec))  # without repeats, in the order given
        if len(values) > MAX_DOMAIN_VALUES:
            raise OptionError(f"domains: column '{col}' lists {len(values):,} values; at most "
                              f"{MAX_DOMAIN_VALUES:,} are supported")
        return DomainSpec(values=values)
    raise OptionError(f"domains: the domain of column '{col}' must be a list of its values, e.g. ['CA', 'NY'], "
                      f"or a range, e.g. [0, 120] or {{'min': 0, 'max': 120}}; got {spec!r}")


def _scalar(col: str, v: Any) -> None:
    """Refuse what cannot be a column's value: nested lists, structs, NaN and infinities."""
    if not isinstance(v, _SCALARS) and not isinstance(v, np.generic):
        raise OptionError(f"domains: column '{col}': {v!r} is not a value (give strings, numbers, booleans, "
                          "or dates and times as ISO strings such as '2024-01-31')")
    if isinstance(v, (float, np.floating)) and not math.isfinite(float(v)):
        raise OptionError(f"domains: column '{col}': {shown_value(v)} is not a finite number")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, decimal.Decimal, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
