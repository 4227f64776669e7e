"""What a run does with each column: model it, fill it with a mask, or generate fresh keys.

Decided from the schema and the options alone, before any data is read: a masked
column gets random values of its kind, a declared single-column PRIMARY KEY or
UNIQUE column of a type we can fill gets fresh unique values, and every other
column is modelled, with its public domain if it has one (``engine/declared.py``).
The workload is resolved to the modelled columns here, so a bad mask, marginal or
domain is refused before anything is read or spent; so is a row count that a
declared key's type cannot hold.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace

from ..errors import OptionError, did_you_mean
from ..options import Options
from . import masks
from .declared import declare, own_checks, shown_check
from .output import batch_rows
from .schema import Column, check_columns, match_column, named_columns
from .source import quote_ident
from .units import check_unit
from .rules import Rule, modelled_away, parse_rules
from .workload import SumPlan, Workload, resolve, resolve_sums


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColumnPlan:
    """The source's columns, in order, and what becomes of each."""

    columns: list[Column]
    masks: dict[str, str]  # column -> mask kind
    modelled: list[Column]  # the rest, minus generated keys
    workload: Workload | None  # over the modelled columns; None: the default
    capacity: int | None = None  # the most rows the declared integer keys' types can number (None: no limit)
    unit: Column | None = None  # the privacy unit's column: not modelled, filled with fresh unit ids
    sums: tuple[SumPlan, ...] = ()  # the workload's sums, over the modelled columns
    rules: tuple[Rule, ...] = ()  # rules the copy keeps (engine/rules.py); derived columns are not modelled

    def output_rows(self, rows: int | None, n_hat: float) -> int:
        """How many rows to make: `rows` if given, else the released row count.

        A declared integer key bounds the table: a TINYINT key numbers at most 256 rows, so the
        real table has at most that many, and a noisy count above it is brought down to it
        (post-processing of the released count with a public bound).
        """
        if rows is not None:
            return rows
        out = max(int(round(n_hat)), 1)
        return min(out, self.capacity) if self.capacity is not None else out


def named_as_columns(columns: list[Column], opts: Options) -> Options:
    """`opts` with the columns its masks and domains name spelled as the source spells them: a name that differs by
    case alone is that column, as DuckDB, the rules and the marginals read it (`masks := {'EMAIL': 'email'}` had been
    refused as no column). A name no column has, or several differ from by case alone, is left for the checks to
    refuse; two names of one column are refused here."""
    names = [c.name for c in columns]

    def renamed(what: str, pairs: tuple) -> tuple:
        out: dict[str, tuple[str, object]] = {}
        for given, value in pairs:
            real = match_column(given, names) or given
            if real in out:
                raise OptionError(f"{what}: '{out[real][0]}' and '{given}' both name column '{real}'; give it once")
            out[real] = (given, value)
        return tuple((real, value) for real, (_, value) in out.items())

    masks, domains = renamed("masks", opts.masks), renamed("domains", opts.domains)
    return replace(opts, masks=masks, domains=domains) if (masks, domains) != (opts.masks, opts.domains) else opts


def plan(columns: list[Column], opts: Options, *, rules: bool = True) -> ColumnPlan:
    """Check the masks and the workload against the columns, and sort the columns by what they become.

    Raises:
        MaskError: a mask on a missing column, or of a kind the column's type cannot hold.
        SchemaError: an unmasked column of a type we cannot synthesize.
        OptionError: a marginal names a missing, masked or generated column; a public domain (the
            user's ``domains``, or a CHECK constraint) that does not fit its column.
    """
    mask_map = opts.mask_map
    unit = unit_column(columns, opts)
    if unit is not None:
        columns = [replace(c, unique=False) if c.name == unit.name else c for c in columns]
    check_columns(columns, mask_map)
    for c in columns:
        if c.name in mask_map:
            masks.check_mask(c.name, mask_map[c.name], "VARCHAR" if c.kind == "unsupported" else c.type)
    # (decided once, on the columns as declared: a NOT NULL derived column's inputs are made NOT NULL below, which must
    # not turn a UNIQUE input that may be NULL into a key: it had become one, and a range CHECK clamped ~1,000 of its
    # fresh numbers onto one value)
    generated = {c.name for c in columns if c.name not in mask_map and is_identifier(c)}
    fresh = generated | ({unit.name} if unit is not None else set())
    columns = declare(columns, opts.domain_map, masked=mask_map, generated=fresh)
    columns = [probed(c, mask_map[c.name]) if c.guarded else c for c in columns]
    if rules:  # (an aggregate release keeps no rule)
        checks = checked_rules(columns, mask_map, fresh, opts.constraints)
        named = {c.lower() for cols, _ in opts.marginals for c in cols} | {c.lower() for c in opts.domain_map}
        made = generated_rules(columns, mask_map, fresh, [*opts.constraints, *checks],
                               {c.name for c in columns if c.name.lower() in named})
        # parsed together, so that rules that clash across the two are refused (and chains see both)
        rules = parse_rules([*opts.constraints, *checks, *made], columns, masked=mask_map, generated=fresh,
                            sources=["constraints"] * len(opts.constraints) + ["CHECK"] * len(checks)
                            + ["generated column"] * len(made))
    else:
        rules = []
    derived = modelled_away(rules)
    # a NOT NULL derived column is computed from its inputs, NULL where one is: they come out NOT NULL too (a model's
    # NULL input had left the column NULL, 4 rows of 5,000 at eps 3)
    nullable = {c.name: c.nullable for c in columns}
    computes = {r.left: r for r in rules if r.kind == "derived"}
    needed, todo = set(), [name for name in computes if not nullable[name]]
    while todo:  # (down a chain: u NOT NULL = s + 1, s = a + b)
        rule = computes[todo.pop()]
        for c in rule.columns:
            if c != rule.left and c not in needed:
                needed.add(c)
                if c in computes:
                    todo.append(c)
    columns = [replace(c, nullable=False) if c.name in needed else c for c in columns]
    modelled = [c for c in columns if c.name not in mask_map and c.name not in generated
                and (unit is None or c.name != unit.name) and c.name not in derived]
    keys = [c for c in columns if c.name in generated and key_capacity(c) is not None]
    capacity = min((key_capacity(c) for c in keys), default=None)
    if opts.rows is not None and capacity is not None and opts.rows > capacity:
        key = min(keys, key=key_capacity)
        raise OptionError(f"rows := {opts.rows:,}: column '{key.name}' is a declared key of type {key.type}, which "
                          f"numbers at most {capacity:,} rows; ask for fewer rows, or mask the column")
    if opts.rows is not None:  # rows are made (and written) one batch at a time: one batch must fit
        batch = min(opts.rows, batch_rows(len(modelled)))
        need, have = batch * BYTES_PER_CELL * (len(columns) + 1), available_memory()
        if need > have:
            raise OptionError(f"rows := {opts.rows:,}: {len(columns)} columns of {batch:,} rows (one batch) need "
                              f"about {need / 2**30:.1f} GiB in memory and {have / 2**30:.1f} GiB are free; ask for "
                              "fewer rows or free some memory")
    for name in derived:
        for cols in [c for c, _ in opts.marginals] + [(*s.group, s.value) for s in opts.sums]:
            if name in cols:
                raise OptionError(f"marginals: column '{name}' is derived by a rule (computed from others, not "
                                  f"modelled); leave it out of {list(cols)}")
    return ColumnPlan(columns, mask_map, modelled, resolve(opts.marginals, columns, modelled, mask_map), capacity,
                      unit, tuple(resolve_sums(opts.sums, columns, modelled, mask_map)), tuple(rules))


def probed(c: Column, kind: str) -> Column:
    """A masked column with CHECKs of its own (``Column.guarded``), as its mask will draw it: inside their range or
    list where some of the values drawn so keep to them, else as the kind draws where some do; else not kept to them,
    still inside their range where one was read, and said (the copy breaks the CHECK: ``length(code) = 3`` under a
    'string' mask's 16-character tokens; a CHECK calling a macro of the source's database). Decided by
    ``masks.probe`` (values drawn with a fixed seed) before anything is read or spent: a range no value of the kind
    fits had raised at decode, after a DP run had spent its budget (the review of 59b95e8)."""
    failed = []
    for within in dict.fromkeys([c.within, None]):
        found = masks.probe(kind, c.name, c.type, c.guarded, within, c.zone)
        if found.share > 0:
            return replace(c, within=within)
        failed.append(found.failed)
    checks = " and ".join(shown_check(t) for t in c.guarded)
    why = ("cannot be run on the mask's values alone (does it call a macro?)" if "run" in failed else
           f"{'are' if len(c.guarded) > 1 else 'is'} kept to by none of {masks.PROBE_ROWS:,} values the mask draws")
    log.warning("column '%s' is masked (%s values) and its %s %s: the copy breaks it; leave the column out of masks, "
                "or out of the source query", c.name, kind, checks, why)
    return replace(c, within=c.within if failed[0] != "range" else None, guarded=())


def checked_rules(columns: list[Column], mask_map: dict[str, str], fresh: set[str],
                  given: tuple[str, ...]) -> list[str]:
    """The texts of the table's CHECK constraints that are rules we keep (engine/rules.py): those over two
    or more columns (the others are logged: the copy may break them), and the bounds and value lists of
    one column (which are its public domain too, engine/declared.py: kept as rules so that repairs of
    other rules, a strict order's tie moved one step, stay inside them)."""
    texts = list(dict.fromkeys(e for c in columns for e in c.checks))
    masks_own = {t for c in columns if c.name in mask_map and c.kind != "unsupported" for t in own_checks(c, columns)}
    out = []
    for text in texts:
        if text in given:
            continue
        one = len(named_columns(text)) < 2
        if text in masks_own:
            continue  # (a masked column's own CHECK: its mask keeps to it, or ``probed`` said it cannot)
        try:
            parsed = parse_rules([text], columns, masked=mask_map, generated=fresh, source="CHECK")
        except OptionError as exc:
            read = any(c.declared is not None and text in c.declared.origin for c in columns)
            if not one or not read:  # (one column's: unless its domain was read from it)
                log.warning("%s: the copy may break it", exc)
            continue
        if one and any(r.kind not in ("bound", "allow", "forbid") for r in parsed):
            continue  # (x = 5 is a domain of one value, not a derived column)
        out.append(text)
    return out


def generated_rules(columns: list[Column], mask_map: dict[str, str], fresh: set[str], given: list[str],
                    named: set[str] = frozenset()) -> list[str]:
    """A generated column (``total INTEGER GENERATED ALWAYS AS (a + b)``) as the rule deriving it, ``total = a + b``:
    computed from the other columns, not modelled, so the copy holds what the table would (its values had been
    modelled: 63 % of a balanced copy's rows and 90 % of a strict one's broke the expression). The catalog's cast to
    the column's own type is dropped (a derived column is computed in its type anyway), so that a bound on it becomes
    one on its expression (`total <= 25`: `a + b <= 25`). Not where it is masked, a key, derived by a rule given, or
    `named` (by the workload or a declared domain, which a computed column takes no part in); nor where it and the
    rules given do not go together, or its expression is of another shape than a derived rule's (text, functions):
    said, and left modelled."""
    if not any(c.computed_as for c in columns):
        return []
    by_rules = {r.left for text in given for r in _parsed_alone(text, columns, mask_map, fresh) if r.kind == "derived"}
    out = []
    for c in columns:
        if c.computed_as is None or c.name in mask_map or c.name in fresh or c.name in by_rules:
            continue
        text = f"{quote_ident(c.name)} = {_uncast(c.computed_as, c.type)}"
        if c.name in named:
            log.warning("generated column '%s' is named in the workload or a declared domain: its values are modelled, "
                        "and the copy may not hold what its expression gives", c.name)
            continue
        try:
            parse_rules([*given, text], columns, masked=mask_map, generated=fresh,
                        sources=["constraints"] * len(given) + ["generated column"])
        except OptionError as exc:
            log.warning("%s: generated column '%s' is modelled, and the copy may not hold what its expression gives",
                        exc, c.name)
            continue
        out.append(text)
    return out


def _uncast(expr: str, type_: str) -> str:
    """`expr` without an outer cast to `type_` (the catalog's `CAST((a + b) AS INTEGER)` of an INTEGER column)."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(expr, read="duckdb")
        same = isinstance(tree, exp.Cast) and tree.to == exp.DataType.build(type_, dialect="duckdb")
    except (sqlglot.errors.SqlglotError, ValueError):
        return expr
    return tree.this.sql(dialect="duckdb") if same else expr


def _parsed_alone(text: str, columns: list[Column], mask_map: dict[str, str], fresh: set[str]) -> list[Rule]:
    try:
        return parse_rules([text], columns, masked=mask_map, generated=fresh)
    except OptionError:
        return []


def unit_column(columns: list[Column], opts: Options) -> Column | None:
    """The privacy unit's column, checked: it exists, is an id, and is neither masked, declared nor in the
    workload (it is not modelled: the output numbers synthetic units afresh)."""
    if opts.privacy_unit is None:
        return None
    names = [c.name for c in columns]
    name = opts.privacy_unit
    if match_column(name, names) is None:
        raise OptionError(f"privacy_unit: no column '{name}'{did_you_mean(name, names)}; "
                          f"columns: {', '.join(names)}")
    name = match_column(name, names)
    col = next(c for c in columns if c.name == name)
    check_unit(col)
    why = "is the privacy unit, filled with fresh unit ids, so it"
    if name in opts.mask_map:
        raise OptionError(f"privacy_unit: column '{name}' {why} cannot be masked too; leave it out of masks")
    if name in opts.domain_map:
        raise OptionError(f"domains: column '{name}' {why} has no domain to declare; leave it out of domains")
    for cols in [c for c, _ in opts.marginals] + [(*s.group, s.value) for s in opts.sums]:
        if any(c == name or c.lower() == name.lower() for c in cols):
            raise OptionError(f"marginals: column '{name}' {why} is not modelled; leave it out of {list(cols)}")
    return col


BYTES_PER_CELL = 32  # per batch: a row's codes (int64), decoded value (float64) and Arrow output, per column, with room


def available_memory() -> int:
    """Bytes of memory free for a run (MemAvailable on Linux; else the physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**62


def is_identifier(c: Column) -> bool:
    """A declared PRIMARY KEY / UNIQUE NOT NULL column of a type we can fill with fresh unique values. A UNIQUE
    column that may be NULL is modelled (its NULLs with it) and its values made distinct as any UNIQUE column's: as a
    key, a UNIQUE INTEGER 90 % NULL came back with none, and a TINYINT one cut the table to its 256 values."""
    return c.unique and not c.nullable and (c.type.upper() in ("VARCHAR", "UUID") or (c.integer and c.kind == "numeric"))


def key_capacity(c: Column) -> int | None:
    """How many distinct values an integer key's type holds (None: text and UUID keys, no limit)."""
    if c.type.upper() in ("VARCHAR", "UUID") or c.type_range is None:
        return None
    return int(c.type_range[1]) - int(c.type_range[0]) + 1
