"""Turn sampled codes back into values of each column's original type.

A categorical code becomes its value; the 'other' bucket becomes a random token
(random UUIDs for a UUID column), never a real value. A numeric bin becomes a
fine cell drawn by the cell weights, then a uniform value inside the cell:
integers stay integers, DECIMAL keeps its scale, dates land on days. The last
step is a DuckDB cast to the exact source type. Masked columns are filled from
the mask pools and declared keys with fresh unique values, both independent of
the data.
"""
from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Callable, Sequence

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits

from ..errors import DataError
from . import masks
from .domain import (MIN_DECIMALS, CategoricalDomain, Domain, NumericDomain, RareValues, lattice_tolerance, one_value,
                     shared, value_resolution)
from .rounding import float_order, stable_order
from .rules import Rule, broken_counts, derive_sql, keep_table, modelled_away, violations_sql
from .schema import DAY_US, TYPE_UNIT_US, Column, Declared, decimal_past_floats, temporal_ends, value_sql, written_sql
from .source import quote_ident


def decode_table(columns: list[Column], domains: list[Domain], synth: np.ndarray, mask_map: dict[str, str],
                 rng: np.random.Generator, first_row: int = 0, total_rows: int | None = None,
                 given: dict[str, pa.Array] | None = None,
                 placed: Callable[[dict[int, np.ndarray]], None] | None = None,
                 rules: Sequence[Rule] = (), derived_rare: dict[str, RareValues] | None = None,
                 part: tuple[int, int] = (0, 1)) -> pa.Table:
    """The output table: every column of the source, in order, with its exact type.

    Modelled columns are decoded from `synth` (one column of codes per domain), masked
    ones filled with random values of their kind, declared keys with fresh unique values
    (numbered from `first_row`: the rows of a batch that starts there, of `total_rows` in all);
    `given` columns (the privacy unit's ids) as they come. `placed(within)` may move the numeric
    columns' codes and places within their bins before they are decoded (``engine/sums.py``: group
    totals met). `rules` are kept (``engine/rules.py``): derived columns computed, others repaired.
    `derived_rare` (balanced mode): per derived column, the values 1-4 source rows hold (``Rows.rare_values``),
    which no row keeps (``_rules_off_rare``). `part` (i, b): these rows are batch i of b (a declared UNIQUE number's
    values are spread on points of their own, ``_distinct``).
    The schema's metadata records each column's exact DuckDB type (``type:<column>``).
    """
    n = synth.shape[0]
    by_name = {dom.column.name: (i, dom) for i, dom in enumerate(domains)}
    derived = modelled_away(rules)
    within = within_bins(domains, synth, rng)
    if placed is not None:
        placed(within)
    arrays, as_varchar = {}, set()
    strays: dict[str, int] = {}  # a declared UNIQUE masked column's values outside the batch's part
    for c in columns:
        if given and c.name in given:
            arrays[c.name] = given[c.name]
            continue
        if c.name in mask_map:
            target = c.type
            if _as_varchar(c, mask_map):
                target = "VARCHAR"
                as_varchar.add(c.name)
            distinct = n * part[1] if c.unique else 0  # (a UNIQUE column's rows in all batches)
            arrays[c.name] = _mask_values(mask_map[c.name], n, target, rng, c, distinct)
            if c.unique:
                arrays[c.name], strays[c.name] = _distinct_masked(mask_map[c.name], arrays[c.name], target, rng, part, c,
                                                                  distinct)
            continue
        if c.name in derived:  # computed from the other columns by its rule, below
            arrays[c.name] = pa.nulls(n)
            continue
        if c.name not in by_name:  # a declared identifier: unique values, independent of the data
            arrays[c.name] = identifiers(c, n, rng, first_row, total_rows)
            continue
        i, dom = by_name[c.name]
        if isinstance(dom, NumericDomain):
            arrays[c.name] = decode_numeric(dom, synth[:, i], rng, within.get(i), part)
        else:
            arrays[c.name] = decode_categorical(dom, synth[:, i], rng)
    raw = pa.table(arrays)
    con = duckdb.connect()
    try:
        con.register("_synth_raw", raw)
        out = con.sql(cast_sql(columns, "_synth_raw", as_varchar)).to_arrow_table()
        if rules:
            types = dict(output_types(columns, mask_map))
            rare = [dom for _, dom in by_name.values() if isinstance(dom, NumericDomain) and dom.rare is not None
                    and len(dom.rare) and dom.column.name in types and dom.column.name not in mask_map]
            # (a row left on a rare value takes the values of another row of the batch: not a declared key's, a
            # masked column's or a unit's ids, which no rule reads and which stay the row's own)
            copied = [c.name for c in columns if (c.name in by_name or c.name in derived) and not c.unique]
            made = {c.name: (c, (derived_rare or {})[c.name]) for c in columns
                    if c.name in derived and not (derived_rare or {}).get(c.name, NO_RARE).none}
            numeric = {name: dom for name, (_, dom) in by_name.items() if isinstance(dom, NumericDomain)}

            def keep(typed: pa.Table) -> pa.Table:
                con.register("_synth_typed", typed)
                kept = keep_table(con, rules, "_synth_typed", types)
                return (_rules_off_rare(con, typed, kept, rare, rules, types, rng, copied, made, numeric, part)
                        if rare or made else kept)

            out = _unique_kept(con, keep(out), keep, rules, numeric, part)
            con.register("_synth_kept", out)
            for rule, broken in zip(rules, broken_counts(con, rules, "_synth_kept")):
                if broken:  # rules that fight each other, or values that cannot keep one: say so
                    log.warning("rule '%s' is broken by %d of %d synthetic rows of a batch: another rule, or the "
                                "values its columns can take (a dependency on a column that comes out as tokens, a "
                                "bound the source's own rows break), leave those rows no way to keep it; check "
                                "that the source keeps the rule and that the rules agree", rule.text, broken, n)
        unique = [c for c in columns if c.unique and (c.name in by_name or c.name in derived or c.name in mask_map)]
        if unique:
            con.register("_synth_out", out)
            _say_repeats(con, out, unique, {name: dom for name, (_, dom) in by_name.items()}, part, derived, mask_map,
                         strays)
    finally:
        con.close()
    meta = {f"type:{k}".encode(): v.encode() for k, v in output_types(columns, mask_map)}
    return out.replace_schema_metadata(meta)


MASK_REDRAWS = 8  # times a declared UNIQUE masked column's repeats in a batch are drawn again
MASK_DRAW_ROWS = 1 << 20  # at most this many values drawn at once for a batch's part (``_distinct_masked``)
MASK_PARTS = 16  # batches of a declared UNIQUE masked column kept apart by parts of its values, at most (a batch draws
# about as many values as there are parts for each it keeps: 2M emails in 31 batches took 46.8 CPU s against 3.4)


def _distinct_masked(kind: str, values: pa.Array, target: str, rng: np.random.Generator,
                     part: tuple[int, int] = (0, 1), col: Column | None = None, distinct: int = 0
                     ) -> tuple[pa.Array, int]:
    """A declared UNIQUE column's mask values, distinct within the batch and, in one of b <= MASK_PARTS batches, from
    every other batch's: a mask draws from its kind's values (numbers 0-99,999, dates 1950-2025, names and emails from
    pools), and 2,028 numbers had held 16 repeats, 2,028 emails 31 (the fuzz sweep of 50cd76f). A value repeating an
    earlier row's is drawn again (up to MASK_REDRAWS times). In batch i of b (`part`), so is a value outside the i-th
    part of the kind's values (``masks.parts_of``, a hash of the value): batches made apart share none, where a million
    emails in three batches had held 926,308 (the kind holds about 3.3M; each batch was distinct on its own). A batch
    then draws about b values for each it keeps, so past MASK_PARTS batches the values are distinct within each batch
    alone. Rows a full part leaves are drawn again from all the kind's values (distinct within the batch). A 'string'
    mask's tokens carry 64 random bits or more (two of 100M rows share one with chance 3e-4): not partitioned. Where
    the kind holds too few values for the rows, repeats stay (``_say_repeats`` says so). Independent of the data.
    Returns the values and how many of them, not repeating a value of the batch, lie outside its part (they may
    repeat another batch's; 0 where the batch is not parted)."""
    i, b = part
    parted = 1 < b <= MASK_PARTS and kind != "string"
    keep = ~_repeated(values)
    if not parted:
        todo = np.flatnonzero(~keep)
        values, _, _ = _drawn_again(kind, values, todo, values.filter(pa.array(keep)), target, rng, col=col,
                                    distinct=distinct)
        return values, 0  # (past MASK_PARTS batches any value may repeat another batch's: ``_say_repeats`` says so once)
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        keep &= masks.parts_of(values, b, con) == i
        todo = np.flatnonzero(~keep)
        # values of the batch's part first; what a full part leaves, then, from all of the kind's
        values, todo, kept = _drawn_again(kind, values, todo, values.filter(pa.array(keep)), target, rng, (i, b), con,
                                          col, distinct)
        values, todo, _ = _drawn_again(kind, values, todo, kept, target, rng, col=col, distinct=distinct)
        alone = np.ones(len(values), dtype=bool)
        alone[todo] = False  # (the rows left repeating a value of the batch are counted as such)
        return values, int(((masks.parts_of(values, b, con) != i) & alone).sum())
    finally:
        con.close()


def _drawn_again(kind: str, values: pa.Array, todo: np.ndarray, kept: pa.Array, target: str,
                 rng: np.random.Generator, part: tuple[int, int] = (0, 1),
                 con: duckdb.DuckDBPyConnection | None = None, col: Column | None = None, distinct: int = 0
                 ) -> tuple[pa.Array, np.ndarray, pa.Array]:
    """``_distinct_masked``'s draws for the rows `todo`, values distinct from `kept` and each other, of part i of b
    (`part`; b == 1: any; `con` hashes them), up to MASK_REDRAWS rounds that fill little: (values, rows left, kept)."""
    i, b = part
    redraws = 0
    # Only the new draws are checked, against the values kept (1M emails: 3.4 -> 0.6 s). A round counts as a redraw
    # unless (in a batch of several) it filled a quarter of the rows its draws could: a part nearly full stops.
    while len(todo) and redraws < MASK_REDRAWS:
        # (b == 1: twice the rows, 16 at least, so that a row is not left on a few draws that clash by chance: a
        # UNIQUE column under a CHECK its stretch holds 4 of 5 values free for had kept a repeat)
        wanted = min(len(todo) * b, MASK_DRAW_ROWS) if b > 1 else max(2 * len(todo), 16)
        fresh = _mask_values(kind, wanted, target, rng, col, distinct).cast(values.type)
        if b > 1:
            fresh = fresh.filter(pa.array(masks.parts_of(fresh, b, con) == i))
        clash = _repeated(fresh) | pc.is_in(fresh, value_set=kept).to_numpy(zero_copy_only=False)
        if clash.all() and len(todo) > 64:  # (the kind's values all taken: 1M rows of numbers 0-99,999; a few
            # draws that clash by chance draw again, the review of 1e23c2d)
            break
        fresh = fresh.filter(pa.array(~clash)).slice(0, len(todo))  # (as many fresh values as the rows need, in order)
        at, todo = todo[:len(fresh)], todo[len(fresh):]
        values = _put(values, at, fresh)
        kept = pa.concat_arrays([kept, fresh])
        redraws += 1 if b == 1 or 4 * b * len(at) < wanted else 0
    return values, todo, kept


MASK_CHECK_ROUNDS = 8  # rounds of drawing again a masked column's values that break its CHECKs (then taken from those kept)
MASK_CHECK_DRAWS = 16  # a round draws at most this many values a row left, or MASK_DRAW_ROWS where more (a CHECK 1 in
# 1,000 values keep to had drawn 1,000 a row: 2.9 GB for a million rows)


def _mask_values(kind: str, n: int, target: str, rng: np.random.Generator, col: Column | None = None,
                 distinct: int = 0) -> pa.Array:
    """n values of mask `kind`, drawn inside the column's range or list from its CHECKs (``Column.within``) and kept
    to those CHECKs exactly (``Column.guarded``, evaluated by DuckDB on the values alone): the values breaking one are
    drawn again, up to MASK_CHECK_ROUNDS times (as many draws as the probe's share of values keeping to them needs,
    up to MASK_CHECK_DRAWS a row or MASK_DRAW_ROWS), then replaced at random by values that keep to them (those
    drawn, or the probe's: ``plan.probed`` found some; a UNIQUE column's repeats are drawn again after,
    ``_distinct_masked``). Public: the column is never read. `distinct`: a UNIQUE column's rows in all batches (``masks.generate``), counted in values
    that keep to the CHECKs; without a range from its CHECKs, its type's range is the one a stretch for them may
    take (the kind's 0-99,999 had left 1,899 of 2,000 rows repeating under x % 997 = 3)."""
    within = col.within if col is not None else None
    if distinct and within is None and col is not None and col.is_numeric:
        span = col.type_range or (temporal_ends(col) if col.kind == "temporal" else None)
        within = Declared("the type", bounds=span) if span is not None else None
    found = masks.probe(kind, col.name, col.type, col.guarded, col.within, col.zone) if col and col.guarded else None
    share = found.share if found is not None and found.share > 0 else 1.0
    limits = masks.limits(within, math.ceil(distinct / share))
    values = masks.generate(kind, n, target, rng, **limits)
    if found is None or not n:
        return values
    con = duckdb.connect()
    try:
        ok = masks.passing(values, col.name, col.type, col.guarded, con, col.zone)
        kept = values.filter(pa.array(ok))
        for _ in range(MASK_CHECK_ROUNDS):
            if ok.all():
                return values
            bad = np.flatnonzero(~ok)
            draws = max(min(math.ceil(len(bad) / share), max(MASK_CHECK_DRAWS * len(bad), MASK_DRAW_ROWS)), 64)
            fresh = masks.generate(kind, draws, target, rng, **limits).cast(values.type)
            fresh = fresh.filter(pa.array(masks.passing(fresh, col.name, col.type, col.guarded, con, col.zone)))
            at = bad[:len(fresh)]
            values = _put(values, at, fresh.slice(0, len(at)))
            ok[at] = True
            kept = pa.concat_arrays([kept, fresh])
        if not ok.all():
            if not len(kept):  # (the probe's values, where this batch's draws kept to none)
                kept = found.kept.cast(values.type)
            bad = np.flatnonzero(~ok)
            values = _put(values, bad, kept.take(pa.array(rng.integers(0, len(kept), size=len(bad)))))
        return values
    finally:
        con.close()


def _put(values: pa.Array, at: np.ndarray, fresh: pa.Array) -> pa.Array:
    """`values` with the rows `at` (ascending) replaced by `fresh`, in order."""
    if not len(at):
        return values
    mask = np.zeros(len(values), dtype=bool)
    mask[at] = True
    return pc.replace_with_mask(values, pa.array(mask), fresh.cast(values.type))


def _repeated(values: pa.Array) -> np.ndarray:
    """Which of `values` (Arrow) repeat an earlier one."""
    return _later(pc.index_in(values, value_set=pc.unique(values)).to_numpy(zero_copy_only=False))


def _later(y: np.ndarray) -> np.ndarray:
    """Which of `y` repeat an earlier one (the first of each value is not)."""
    out = np.ones(len(y), dtype=bool)
    out[np.unique(y, return_index=True)[1]] = False
    return out


UNIQUE_ROUNDS = 4  # times a declared UNIQUE column the rules repaired is made distinct again (ties spread around their
# value, then up, down, up), and the rules kept


def _unique_kept(con: duckdb.DuckDBPyConnection, table: pa.Table, keep: Callable[[pa.Table], pa.Table],
                 rules: Sequence[Rule], numeric: dict[str, NumericDomain], part: tuple[int, int]) -> pa.Table:
    """The rules' repairs can make a declared UNIQUE column's values repeat, which ``_distinct`` had made distinct
    (a swap of `a < b` puts a's value in b; a tie moved a step, an input moved off a rare total may land on another
    row's value: 5,000 timestamps with CHECK (a < b) came out with 4,274 distinct values): those it names are made
    distinct again and the rules kept again (`keep`), up to UNIQUE_ROUNDS times, until the values no longer repeat."""
    named = {c for r in rules for c in (r.left, r.right, *r.columns) if c}
    doms = [dom for name, dom in numeric.items() if dom.column.unique and name in named]
    for way in (0, 1, -1, 1)[:UNIQUE_ROUNDS] if doms else ():
        con.register("_synth_unique", table)
        moved_any = False
        for dom in doms:
            x = _floats_of(con, "_synth_unique", dom.column)
            number = np.isfinite(x)
            y = _distinct(dom, x, number, part, way)
            moved = number & (y != x)
            if moved.any():
                values = _written_column(con, dom.column, y[moved], np.zeros(int(moved.sum()), dtype=bool))
                table = _replaced(table, dom.column.name, moved, values)
                moved_any = True
        if not moved_any:
            break
        table = keep(table)
    return table


RULE_ROUNDS = 3  # balanced mode: times a value a rule's repair left on a rare one moves on, and the rules are kept
RULE_COPIED = 0.01  # a batch where more of the rows took another row's values (`_rules_off_rare`) says so


def _rules_off_rare(con: duckdb.DuckDBPyConnection, typed: pa.Table, kept: pa.Table, doms: list[NumericDomain],
                    rules: Sequence[Rule], types: dict[str, str], rng: np.random.Generator,
                    copied: Sequence[str], derived: dict[str, tuple[Column, RareValues]] | None = None,
                    numeric: dict[str, NumericDomain] | None = None, part: tuple[int, int] = (0, 1)) -> pa.Table:
    """Balanced mode: a value a rule's repair moved onto a rare one (a strict order's tie moves the larger value one
    step: CHECK (d < e) on whole numbers, e common on even numbers and 1 row on each odd one, let 1,580 rows of odd
    e out in 3 seeds, the review of e49fb40) moves on, the way the repair moved it, to the nearest value that is not
    rare (which keeps the rule that moved it: an order or a bound kept one way is kept further that way), and the
    rules are kept again, up to RULE_ROUNDS times: each time the way the last repair moved it (a chain a < b < c
    whose swap and tie moved b down onto a rare value, moved on down, was tied back up onto it at every round; the
    review of 1db8b99), within the column's range (past it the value would show the range's end: a tail of 1-row
    values up to 300 came out as 301), else the other way. A value no rule moved was checked when decoded
    (``_not_rare``). A row still left on one (a bound and a tie pushing from both sides: CHECK (d < e) and e <= 101,
    101 a 1-row value, 500 rows a seed; a tie onto a run of rare values up to the range's end, 146) takes the
    `copied` columns' values of another row of the batch, drawn at random among those no repair left on one: a
    synthetic row, which keeps the rules. So does a row whose `derived` column (a rule computes it from the others:
    CHECK (total = net + tax); its Column and ``Rows.rare_values``' reading) came out as a value 1-4 source rows
    hold, but where the dense-run exception keeps it (``_derived_on_rare``; 49 rows a seed on the review of
    a8456f4's table) and where moving one of its modelled inputs (`numeric`: the domains) a few steps mends it
    (``_derived_off_rare``)."""
    con.register("_synth_before", typed)
    first = _floats_table(con, "_synth_before", [d.column for d in doms])
    before = {name: x.copy() for name, x in first.items()}
    for _ in range(RULE_ROUNDS):
        con.register("_synth_after", kept)
        after = _floats_table(con, "_synth_after", [d.column for d in doms])
        moved = False
        for dom in doms:
            name = dom.column.name
            a, b = before[name], after[name]
            before[name] = b.copy()  # (as moved below: the next round reads the way its repair moved)
            rows = _moved_onto_rare(dom, a, b)
            if not len(rows):
                continue
            up = b[rows] > a[rows]
            new = _free_toward(dom, b[rows], up)
            for way, within in ((~up, True), (up, False)):  # the other way; past the range, the repair's way
                stuck = new == b[rows]
                new[stuck] = _free_toward(dom, b[rows][stuck], way[stuck], within)
            moves = new != b[rows]
            rows, new = rows[moves], new[moves]
            if not len(rows):
                continue
            before[name][rows] = new
            mask = np.zeros(len(b), dtype=bool)
            mask[rows] = True
            kept = _replaced(kept, name, mask, _written_column(con, dom.column, new, np.zeros(len(new), dtype=bool)))
            moved = True
        if not moved:
            break
        con.register("_synth_again", kept)
        kept = keep_table(con, rules, "_synth_again", types)
    con.register("_synth_after", kept)
    stuck = np.zeros(kept.num_rows, dtype=bool)
    after = _floats_table(con, "_synth_after", [d.column for d in doms])
    for dom in doms:
        stuck[_moved_onto_rare(dom, first[dom.column.name], after[dom.column.name])] = True
    ruled = int(stuck.sum())
    numeric = numeric or {}
    if derived:
        on = _derived_rows_on_rare(con, "_synth_after", derived, rules, numeric)
        if on.any():  # (a row the rules left on a rare value takes another's values whatever its inputs)
            kept, fixed = _derived_off_rare(con, kept, np.flatnonzero(on & ~stuck), derived, numeric, rules, types,
                                            part)
            stuck |= on & ~fixed
            con.register("_synth_after", kept)
    if not stuck.any():
        return kept
    # donors: rows no repair left on a rare value and that keep every rule a row's values keep (the code rules,
    # dependencies and combinations, were kept on the codes: ``rules.code_rules``)
    donors = np.flatnonzero(~stuck & ~_breaking(con, "_synth_after", rules, len(stuck)))
    left = stuck.copy()
    for _ in range(DONOR_DRAWS if len(donors) else 0):
        take = np.arange(kept.num_rows)
        take[left] = rng.choice(donors, int(left.sum()))
        index = pa.array(take)
        for name in copied:
            at = kept.schema.get_field_index(name)
            kept = kept.set_column(at, kept.schema.field(at), kept.column(at).take(index))
        if not derived:
            break
        # a derived column computed again from the row's own inputs: a declared UNIQUE one keeps the row's value,
        # and the donor's derived value broke the rule (the review of 08840d4: 1-2 rows of 18,000); a row whose
        # derived value is then rare draws another donor
        con.register("_synth_copied", kept)
        kept = con.sql(derive_sql(rules, "SELECT * FROM _synth_copied", types)).to_arrow_table()
        con.register("_synth_copied", kept)
        left &= _derived_rows_on_rare(con, "_synth_copied", derived, rules, numeric)
        if not left.any():
            break
    if stuck.sum() > RULE_COPIED * len(stuck) or not len(donors) or left.any():
        made = [name for name, hit in _derived_hits(con, "_synth_after", derived or {}, rules, numeric).items()
                if hit[stuck].any()]  # (read before the rows took others' values)
        why = ([f"the rules left {ruled} no value that is not rare (check that the source keeps the rules)"]
               if ruled else []) + ([f"a derived column ({', '.join(repr(m) for m in made)}) came out as such a "
                                     f"value in {int(stuck.sum()) - ruled}, and no input moved up to "
                                     f"{DERIVED_STEPS} steps of its own gave one that is not"]
                                    if ruled < stuck.sum() else [])
        log.warning("%d of %d synthetic rows of a batch %s (a value 1-4 source rows hold): %s", int(stuck.sum()),
                    len(stuck), "took another row's values" if len(donors) and not left.any() else
                    f"took another row's values, {int(left.sum())} still keep such a value" if len(donors) else
                    "keep such a value (no row to take one from)", "; ".join(why))
    return kept


def _written_column(con: duckdb.DuckDBPyConnection, col: Column, x: np.ndarray, isnull: np.ndarray) -> pa.Array:
    """Values as floats (NULL where `isnull`) as the column holds them (``cast_sql``)."""
    con.register("_synth_moved", pa.table({col.name: _typed(col, x, isnull)}))
    return con.sql(cast_sql([col], "_synth_moved")).to_arrow_table().column(0).combine_chunks()


def _breaking(con: duckdb.DuckDBPyConnection, table: str, rules: Sequence[Rule], n: int) -> np.ndarray:
    """The rows of `table` (`n` of them) that break a rule a row's values keep: a bound, an order, a bound on an
    expression or an offset (the code rules, dependencies and combinations, were kept on the codes)."""
    row_rules = [r for r in rules if r.kind in ("bound", "order", "linear", "offset")]
    if not row_rules:
        return np.zeros(n, dtype=bool)
    broken = " OR ".join(violations_sql(r) for r in row_rules)
    return np.asarray(con.sql(f"SELECT coalesce({broken}, false) FROM {table}").to_arrow_table().column(0)
                      .to_numpy(zero_copy_only=False), dtype=bool)


def _replaced(table: pa.Table, name: str, mask: np.ndarray, values: pa.Array) -> pa.Table:
    """`table` with column `name`'s rows where `mask` is set taken from `values` (one per such row, in order)."""
    at = table.schema.get_field_index(name)
    column = pc.replace_with_mask(table.column(at).combine_chunks(), pa.array(mask), values)
    return table.set_column(at, table.schema.field(at), column)


NO_RARE = RareValues(np.zeros(0), np.zeros(0), 0)  # a derived column none of whose values is rare
DONOR_DRAWS = 4  # balanced mode: draws of another row's values for a row whose derived column is rare still
DERIVED_STEPS = 10  # steps of its lattice a derived column's input may move, each way, off a rare derived value


def _derived_hits(con: duckdb.DuckDBPyConnection, table: str, derived: dict[str, tuple[Column, RareValues]],
                  rules: Sequence[Rule], numeric: dict[str, NumericDomain]) -> dict[str, np.ndarray]:
    """Per derived column, the rows of `table` on one of its rare values (``_derived_on_rare``), but those where
    one of its inputs holds a rare value the dense-run exception kept as drawn (an id: the derived value, 2 x id,
    is as much no one's; 11,956 of 20,000 rows had taken others' values: the review of 08840d4)."""
    inputs = {r.left: [c for c in r.columns if c != r.left] for r in rules if r.kind == "derived"}
    out = {}
    for name, (col, got) in derived.items():
        x = _floats_of(con, table, col)
        if got.exact is not None:  # a DECIMAL past the floats: its values compared as themselves (1,505 of 3,000
            # rows of totals a float does not tell from common ones came out: the review of 08840d4)
            typed = con.sql(f"SELECT {quote_ident(name)} FROM {table}").to_arrow_table().column(0)
            hit = np.asarray(pc.fill_null(pc.is_in(typed, value_set=got.exact.cast(typed.type)), False), dtype=bool)
            hit &= ~_dense_kept(col, got, x, _on_values(col, got.values, x))
        else:
            hit = _derived_on_rare(col, got, x)
        for c in inputs.get(name, ()) if hit.any() else ():
            dom = numeric.get(c)
            if dom is not None and dom.rare is not None and len(dom.rare):
                x = _floats_of(con, table, dom.column)
                at = np.flatnonzero(hit & _in_sorted(dom.rare, x))
                hit[at[_kept_as_drawn(dom, x, at, _rare_step(dom))]] = False
        out[name] = hit
    return out


def _derived_rows_on_rare(con: duckdb.DuckDBPyConnection, table: str,
                          derived: dict[str, tuple[Column, RareValues]], rules: Sequence[Rule],
                          numeric: dict[str, NumericDomain]) -> np.ndarray:
    """The rows of `table` some derived column of which came out on a rare value (``_derived_hits``)."""
    hits = list(_derived_hits(con, table, derived, rules, numeric).values())  # (`derived` is never empty here)
    return np.logical_or.reduce(hits) if len(hits) > 1 else hits[0]


def _derived_off_rare(con: duckdb.DuckDBPyConnection, kept: pa.Table, rows: np.ndarray,
                      derived: dict[str, tuple[Column, RareValues]],
                      numeric: dict[str, NumericDomain], rules: Sequence[Rule], types: dict[str, str],
                      part: tuple[int, int] = (0, 1)) -> tuple[pa.Table, np.ndarray]:
    """The `rows` of `kept` whose derived column came out on a rare value, mended where one modelled input of a
    derived column moved 1 to DERIVED_STEPS steps of its lattice (``_rare_step``), the nearest first, up before down, to a
    value that is not rare, within its range, leaves every derived column, computed again, off the rare values and
    keeps every row rule: amounts in cents summed onto one row's total move a cent (3,375 of 20,000 rows would
    otherwise have taken another's values). Inputs a dependency or a combination names stay. A declared UNIQUE input
    moves by whole multiples of b cells (``_distinct``'s, batch i of b: `part`), to a value no other row of the batch
    holds (its moves had put it on other batches' cells: 214 of 3,000 values shared, the review of 618e7cc). Returns
    the table and which rows were mended."""
    fixed = np.zeros(kept.num_rows, dtype=bool)
    coded = {c for r in rules if r.kind in ("fd", "forbid", "allow") for c in (*r.columns, *r.given, r.left)}
    inputs = [c for r in rules if r.kind == "derived" and r.left in derived for c in r.columns
              if c != r.left and c in numeric and c not in coded and c not in derived]
    names = [n for n in types if n in modelled_away(rules)]  # (every derived column: one may read the input moved)
    read = [n for n in kept.column_names if any(n == r.left or n in r.columns for r in rules)]  # (what a rule reads)
    for name in dict.fromkeys(inputs):
        dom = numeric[name]
        step, apart = _rare_step(dom), 1
        if dom.column.unique:
            step, apart = _unique_cells(dom), part[1]
        if step is None or not len(rows):
            continue
        con.register("_synth_now", kept)
        x = _floats_of(con, "_synth_now", dom.column).copy()
        low, high = _written_bounds(dom.column)
        points = dom.column.declared.points if dom.column.declared is not None else ()
        for k in (k * way for k in range(1, DERIVED_STEPS + 1) for way in (1, -1)):
            if not len(rows):
                break
            cand = _of_steps(np.round(_steps(x[rows], step)) + k * apart, step)  # (on the lattice, not x + k * step)
            ok = (np.isfinite(cand) & (cand >= max(low, dom.edges[0])) & (cand <= high) & (cand < dom.edges[-1]))
            if len(points):
                ok &= np.isin(cand, np.asarray(points, dtype=np.float64))
            moved = _written_column(con, dom.column, np.where(ok, cand, 0.0), ~ok)
            trial = kept.select(read).take(pa.array(rows))
            trial = trial.set_column(trial.schema.get_field_index(name), trial.schema.field(name), moved)
            con.register("_synth_trial", trial)
            trial = con.sql(derive_sql(rules, "SELECT * FROM _synth_trial", types)).to_arrow_table()
            con.register("_synth_trial", trial)
            y = _floats_of(con, "_synth_trial", dom.column)
            good = ok & np.isfinite(y) & (y >= dom.edges[0]) & (y < dom.edges[-1]) & (y != x[rows])
            for c in names:  # a derived value the column's type cannot hold (a sum past a TINYINT's 127) is none
                was = np.asarray(kept.column(c).take(pa.array(rows)).is_null(), dtype=bool)
                good &= was | ~np.asarray(trial.column(c).is_null(), dtype=bool)
            if dom.rare is not None:
                good &= ~_in_sorted(dom.rare, y)
            if dom.column.unique:  # (nor a value another row holds, nor two rows one value)
                good &= ~np.isin(y, x) & ~_first_kept(y, good)
            good &= ~_derived_rows_on_rare(con, "_synth_trial", derived, rules, numeric)
            good &= ~_breaking(con, "_synth_trial", rules, len(rows))
            if not good.any():
                continue
            mask = np.zeros(kept.num_rows, dtype=bool)
            mask[rows[good]] = True
            for c in (name, *names):
                new = trial.column(c).filter(pa.array(good)).combine_chunks().cast(kept.schema.field(c).type)
                kept = _replaced(kept, c, mask, new)
            fixed[rows[good]] = True
            x[rows[good]] = y[good]
            rows = rows[~good]
    return kept, fixed


def _first_kept(y: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Of the `good` rows, those whose value `y` an earlier good row holds too (the first of each value is kept)."""
    out = np.zeros(len(y), dtype=bool)
    out[good] = _later(y[good])
    return out


def _derived_on_rare(col: Column, got: RareValues, x: np.ndarray) -> np.ndarray:
    """Which of `x`, a derived column's values (as ``value_sql`` reads them), are values 1-4 source rows hold (`got`),
    but those the dense-run exception keeps (``_dense_kept``)."""
    on = _on_values(col, got.values, x)
    return on & ~_dense_kept(col, got, x, on)


ULPS = {"DOUBLE": 4, "FLOAT": 2}  # a derived DOUBLE's or FLOAT's value this many of its floats from a rare one
# is it


def _on_values(col: Column, values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Which of `x`, a derived column's values, are among the sorted `values`: a DOUBLE's up to 4 of its floats
    either way, the rounding of the arithmetic that made it (79.01 + 133.85 is 212.85999999999999, the float beside
    the 212.86 one source row holds: such sums came out as that row's total to the cent, 1,038-1,127 of 20,000 rows a
    seed, compared bit for bit), a FLOAT's up to 2 (two FLOATs of cents summed land 2 from the cent's own FLOAT: 4-8
    of 20,000 rows a seed at 1). A relative 1e-6 had taken the neighbouring cents for rare where FLOATs barely hold
    cents (near 40,000, 2.5 FLOATs apart: 5,350 of 8,000 rows moved; the review of 618e7cc); at 2 FLOATs some still
    are there (1,477 of 8,000 rows' totals moved off common values), the price of a FLOAT at its precision's end.
    Infinities and other types' values as they are."""
    ulps = ULPS.get(col.type.upper()) if col.kind == "numeric" and not col.integer and col.scale is None else None
    if ulps is None or not len(values) or not len(x):
        return _in_sorted(values, x)
    out = np.isin(x, values)
    finite = np.isfinite(x)
    xf = x[finite]
    spacing = (np.spacing(np.abs(xf).astype(np.float32)).astype(np.float64) if col.type.upper() == "FLOAT"
               else np.spacing(np.abs(xf)))
    at = np.searchsorted(values, xf)
    below = values[np.maximum(at - 1, 0)]
    above = values[np.minimum(at, len(values) - 1)]
    tol = ulps * spacing
    out[finite] |= (np.abs(xf - below) <= tol) | (np.abs(above - xf) <= tol)
    return out


def _dense_kept(col: Column, got: RareValues, x: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Which of `x` (`on`: those among `got.values`) balanced mode's dense-run exception keeps as drawn, as a
    modelled column's (``_kept_as_drawn``): where runs of DENSE_RUN or more consecutive points of the lattice the
    values are written on, each rare, hold at least DENSE_ROWS of the rows (ids, or amounts filling their lattice
    end to end: a sum equal to one row's value there is no more that row's than any other point of the run), a
    value inside such a run, not among the 4 rarest at either end."""
    kept = np.zeros(len(x), dtype=bool)
    step = (TYPE_UNIT_US.get(col.type.upper(), 1.0) if col.kind == "temporal"  # days for a DATE, else microseconds
            else 1.0 if col.integer else None if col.scale is None else 10.0 ** -col.scale)
    if step is None or got.rows <= 0 or not on.any():
        return kept
    if col.kind == "numeric":  # the lattice the values are written on, as a modelled column's decimals: whole
        # amounts in a DECIMAL(10,2) form runs of whole numbers, not of cents (11,000 of 20,000 rows had been copied:
        # the review of b6aaac3)
        places = 0 if col.integer else col.scale
        q = np.round(_steps(got.values, step))
        while places > -15 and len(q) and not np.any(q % 10):
            q, places = q / 10, places - 1
        step = 10.0 ** -places
    length = _runs(got.values, step, True)[3]  # (kept: the same array every batch)
    if got.held[length >= DENSE_RUN].sum() / got.rows < DENSE_ROWS:
        return kept
    hit = np.flatnonzero(on)
    at = np.searchsorted(got.values, x[hit])
    ends = 4  # (the rarest values at each end: balanced mode clips the 4 most extreme numbers of a column)
    kept[hit[(length[at] >= DENSE_RUN) & (at >= ends) & (at < len(got.values) - ends)]] = True
    return kept


def _moved_onto_rare(dom: NumericDomain, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rows whose value a repair moved (from `a` to `b`) onto a rare one, but those the dense-run exception
    would keep as drawn."""
    rows = np.flatnonzero(np.isfinite(a) & np.isfinite(b) & (a != b))
    rows = rows[_in_sorted(dom.rare, b[rows])]
    return rows[~_kept_as_drawn(dom, b, rows, _rare_step(dom))]


def _floats_of(con: duckdb.DuckDBPyConnection, table: str, col: Column) -> np.ndarray:
    """A typed column's values as the domain reads them (``data.value_sql``), NULL as NaN."""
    return _floats_table(con, table, [col])[col.name]


def _floats_table(con: duckdb.DuckDBPyConnection, table: str, cols: Sequence[Column]) -> dict[str, np.ndarray]:
    """``_floats_of`` of several columns by name, in one query: a query costs DuckDB ~10 ms on a batch of a table of
    400 columns, and a CHECK on each of them read every column once a repair round (42 against 18 CPU s on 300 rows)."""
    if not cols:
        return {}
    got = con.sql(f"SELECT {', '.join(value_sql(c) for c in cols)} FROM {table}").to_arrow_table()
    return {c.name: np.asarray(pc.fill_null(got.column(i), np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
            for i, c in enumerate(cols)}


def _free_toward(dom: NumericDomain, x: np.ndarray, up: np.ndarray, within: bool = True) -> np.ndarray:
    """Each rare value `x` moved, upward where `up` and else downward, to the nearest value that way that no rare
    value is: the next free point of the lattice `_not_rare` uses, or float for a column with none, within what the
    type writes and, `within`, the column's range (``_not_rare``'s); as the column holds it (a FLOAT, a whole number,
    a DECIMAL's written value). Where that is rare still, or past the range, `x` stays."""
    col = dom.column
    step = _rare_step(dom)
    single = col.type.upper() == "FLOAT"
    below, above = _floats_beside(dom.rare, x, single) if step is None else _points_beside(dom.rare, x, step)
    cand = np.where(up, above, below)
    if single:
        cand = _single(cand)
    elif dom.floats_are_values:
        cand = _as_written(cand, col)
    elif col.integer and col.type.upper() != "TIME":
        cand = np.floor(cand)
    low, high = _written_bounds(col)
    ok = np.isfinite(cand) & (cand >= low) & (cand <= high) & ~_in_sorted(dom.rare, cand)
    if within:
        ok &= (cand >= dom.edges[0]) & (cand < dom.edges[-1])
    return np.where(ok, cand, x)


def _as_varchar(c: Column, mask_map: dict[str, str]) -> bool:
    """A masked column of a type the masks cannot make (other than UUID and BLOB) comes out as VARCHAR."""
    return c.name in mask_map and c.kind == "unsupported" and c.type.upper() not in ("UUID", "BLOB")


def output_types(columns: list[Column], mask_map: dict[str, str]) -> list[tuple[str, str]]:
    """(column, exact DuckDB type) of the output, in order."""
    return [(c.name, "VARCHAR" if _as_varchar(c, mask_map) else c.type) for c in columns]


def identifiers(c: Column, n: int, rng: np.random.Generator, first_row: int = 0, total: int | None = None) -> pa.Array:
    """Fresh unique values for a declared key: random tokens or UUIDs, or the numbers 1..total in
    random order within each batch (the type's lowest values when 1..total does not fit: a TINYINT
    key numbers up to 256 rows). This batch's `n` rows are rows first_row.. of `total` (default: n)."""
    if c.type.upper() in ("VARCHAR", "UUID"):
        return masks.generate("string", n, "UUID" if c.type.upper() == "UUID" else "VARCHAR", rng)
    total = max(total or n, first_row + n)
    lo, hi = (int(c.type_range[0]), int(c.type_range[1])) if c.type_range else (1, total)
    if total > hi - lo + 1:  # plan() keeps the row count within the type: this is a bug if it happens
        raise DataError(f"column '{c.name}' is a declared key of type {c.type}, which cannot hold {total} "
                        "distinct values")
    first = 1 if total <= hi else lo
    return pa.array(rng.permutation(n) + first + first_row, type=pa.int64())


def decode_categorical(dom: CategoricalDomain, codes: np.ndarray, rng: np.random.Generator) -> pa.Array:
    col = dom.column
    if col.kind == "boolean":
        base = pa.array(list(dom.values) + [None] * (dom.size - len(dom.values)), type=pa.bool_())
    else:
        base = pa.array(list(dom.values) + [None] * (dom.size - len(dom.values)), type=pa.string())
    out = base.take(pa.array(codes))
    if dom.other:
        is_other = codes == dom.other_code
        k = int(is_other.sum())
        if k:
            fill = masks.generate("string", k, "UUID" if col.type.upper() == "UUID" else "VARCHAR", rng)
            full = np.empty(len(codes), dtype=object)
            full[is_other] = fill.to_pylist()
            out = pc.if_else(pa.array(is_other), pa.array(full, type=pa.string()), out)
    return out


def decode_numeric(dom: NumericDomain, codes: np.ndarray, rng: np.random.Generator,
                   within: np.ndarray | None = None, part: tuple[int, int] = (0, 1)) -> pa.Array:
    """The column's values from its codes; `within`: each row's position in its bin (0..1, by the
    bin's cell weights), uniform draws when None; `part` (i, b): the rows are batch i of b (``_distinct``)."""
    col = dom.column
    n = len(codes)
    isnull = codes == dom.null_code if dom.null else np.zeros(n, dtype=bool)
    x = _writable(dom, _draw(dom, codes, isnull, rng, within))
    number = ~isnull
    for k, value in enumerate(dom.specials):  # NaN, +inf, -inf: buckets of their own
        rows = codes == dom.nbins + k
        x[rows] = value
        number &= ~rows
    if dom.rare is not None and len(dom.rare):
        if col.integer and col.type.upper() != "TIME":  # compared as the column will hold them: a round-number
            # draw clipped under an edge of nextafter(5,063) was 5062.000000000001, missed, then cast to 5,062
            x = np.where(number, np.floor(x), x)
        elif dom.floats_are_values:  # likewise: the float of the value each is written as
            x = np.where(number, _as_written(x, col), x)
        x = _not_rare(dom, x, codes, number, rng)
        if dom.floats_are_values:
            x = _off_rare(dom, x, number)
    exact = _exact_rows(x, number, dom.exact_of)  # before the clip below: 2^63 (a sentinel 2^63 - 1) is past it
    if col.declared is not None and col.declared.bounds is not None:  # never a value outside a declared range
        x = np.where(number, np.clip(x, *_declared_ends(dom)), x)
        if col.declared.points:  # nor off a declared list of numbers: the nearest of them (public values)
            x = np.where(number, _nearest_of(np.asarray(col.declared.points), x), x)
    elif col.type_range is not None:  # nor outside the type's (narrowed by a one-sided CHECK)
        x = np.where(number, np.clip(x, *_double_bounds(col)), x)
    if col.unique:  # a declared UNIQUE number, date or time (an integer key is generated, not decoded)
        moved = number.copy()
        if exact is not None:
            moved[exact[0]] = False
        x = _distinct(dom, x, moved, part)
    return _typed(col, x, isnull, exact)


def _distinct(dom: NumericDomain, x: np.ndarray, rows: np.ndarray, part: tuple[int, int], way: int = 0) -> np.ndarray:
    """A declared UNIQUE column's values (a DECIMAL, DOUBLE, FLOAT, DATE, TIME or TIMESTAMP: modelled, so draws can
    repeat; a DECIMAL(10,2) of 18,066 distinct values came out with 16,143) made distinct: the `rows` sorted, each tie
    spread to the nearest free points of the lattice the values are written on (the column's decimals or time unit),
    half of a pile up, half down, a value already alone staying where it is (``_spread``); within the column's range
    (the domain's, a declared one, the type's). Where that lattice has too few free points, a finer one (a decimal
    more, up to three past a float's decimals or to a DECIMAL's scale; seconds, then milliseconds and microseconds
    of a time in minutes), and a DOUBLE's own floats last, in one batch without rare values only. The points of the
    column's own lattice are its cells: in balanced mode a rare value's cell is taken whole (no point a microsecond
    beside a 1-row minute: the review of 70c0a32 found 417 of 5,000), and batch i of b takes only the cells i mod b,
    on every lattice, so that batches made apart (Spark's executors) never share a value. Where even the finest has
    too few, the values stay (and the run says so). Post-processing of the synthetic rows with the schema's public
    constraint: no privacy cost."""
    at = np.flatnonzero(rows)
    if not len(at) or (len(at) < 2 and part[1] == 1):  # (a batch of a sparse column may hold no value)
        return x
    col, v = dom.column, x[at]
    if col.kind == "temporal":  # as ``_typed`` writes them: whole days, microseconds (a unit's multiples already)
        v = np.trunc(v)
    single = col.type.upper() == "FLOAT"
    if col.declared is not None and col.declared.points:  # a declared list: its points, in order, are the lattice
        return _distinct_of(np.asarray(col.declared.points, dtype=np.float64), dom, x, at, v, part, way)
    low, high = _unique_range(dom)
    ends = np.array([low, high])
    coarse = _unique_cells(dom)
    if coarse is None and value_resolution(col) is not None:
        return x
    rare = _blocked_rare(dom)
    blocked = np.unique(_lattice_keys(rare, coarse, single))
    steps = _finer_steps(dom, coarse, part[1] == 1 and not len(rare))
    # past the range where it holds too few cells (a key filling its range has too few in each batch of several; a
    # column all of whose values are rare, a range of one point), by as many as it lacks, within the type's and a
    # declared range; then, in a batch of several, on all cells (said)
    tries = [(step, part, ends) for step in steps]
    short = _shortfall(len(at), ends, coarse, blocked, part)
    if short:
        reach = short * part[1] * coarse
        wide = np.clip([low - reach, high + reach], *_unique_range(dom, wide=True))
        tries += [(step, part, wide) for step in steps]
    if part[1] > 1:
        tries += [(step, (0, 1), ends) for step in _finer_steps(dom, coarse, False)]
    for step, share, (low, high) in tries:
        if step is not None and not (_holds_lattice(np.array([low, high]), step, single)
                                     and _holds_lattice(v, step, single)):
            continue
        ratio = 1 if step is None or coarse is None else int(round(coarse / step))
        keys = _lattice_keys(v, step, single)
        lo, hi = _lattice_keys(np.array([low, high]), step, single, ends=True)
        order = np.argsort(keys, kind="stable")
        new = _spread(keys, min(int(lo), int(keys.min())), max(int(hi), int(keys.max())), blocked, share, way, ratio,
                      order)
        if new is None:
            continue
        moved = new != keys
        values = v.copy()
        values[moved] = _of_steps(new[moved], step) if step is not None else _key_floats(new[moved], single)
        # distinct as the type holds them: in the keys' order (the spread keeps it) each written value past the last
        # (compared, not subtracted: a float's keys of -2.0 and 2.0 are 2^63 apart, which int64 wraps, so a column
        # whose values pass zero with none within 2 of it kept all its repeats: 348 of 3,000)
        written = _written_keys(values, col, single)[order]
        if (written[1:] > written[:-1]).all():
            out = x.copy()
            out[at] = values
            return out
    return x  # (the batch's repeats are counted and the run says so: ``_say_repeats``)


def _shortfall(n: int, ends: np.ndarray, coarse: float | None, blocked: np.ndarray, part: tuple[int, int]) -> int:
    """How many cells of the batch's share (i mod b, not `blocked`) the range `ends` lacks for `n` values, where it
    lacks no more than it has free (or one); else 0 (spread past the range by that many). Where it lacks more, rare
    cells fill it (balanced: a FLOAT of distinct tenths, every tenth rare, went wholly past its range's ends, the review
    of ca03b5e; a DECIMAL of tenths with every tenth missing, 2,400 of 2,700 values, measured against all its cells,
    the review of 17676e8) or the batch is far too large for it: the values stay within it, and repeat, said."""
    if coarse is None:
        return 0
    i, b = part
    lo, hi = (int(k) for k in np.clip(np.round(_steps(ends, coarse)), -(2.0**62), 2.0**62))
    cells = max(0, (hi - i) // b + (i - lo) // b + 1)  # the points i mod b in [lo, hi]
    share = blocked[(blocked >= lo) & (blocked <= hi)]
    free = cells - int(((share - i) % b == 0).sum())
    return n - free if 0 < n - free <= max(free, 1) else 0


def _unique_cells(dom: NumericDomain) -> float | None:
    """``_cells`` over a declared UNIQUE column's range (``_unique_range``): the one lattice of cells that
    ``_distinct`` spreads on, ``_derived_off_rare`` moves a UNIQUE input by and ``_say_repeats`` counts a batch's
    values on, so that the three agree on each batch's cells."""
    return _cells(dom, np.array(_unique_range(dom)), dom.column.type.upper() == "FLOAT")


def _cells(dom: NumericDomain, ends: np.ndarray, single: bool) -> float | None:
    """The step of the lattice whose points are ``_distinct``'s cells, chosen from the domain alone so that every
    batch chooses the same: the column's own (``_rare_step``) where the floats of its range hold it; else, for a
    DOUBLE or FLOAT, its floats (None: a FLOAT's cents past 131,072 are 0.0156 apart); for a DECIMAL or a time, the
    first of ten, a hundred, ... times it the floats hold (a DECIMAL(38,1) near 3e14, its floats 0.0625 apart, spread
    on its floats wrote two of them as one tenth, another batch's or a rare one: the review of 618e7cc)."""
    step = _rare_step(dom)
    if step is None or _holds_lattice(ends, step, single):
        return step
    if value_resolution(dom.column) is None:
        return None
    for _ in range(40):
        step *= 10.0
        if _holds_lattice(ends, step, single):
            return step
    return None


def _finer_steps(dom: NumericDomain, coarse: float | None, floats: bool) -> list[float | None]:
    """The lattices ``_distinct`` spreads a column's values on, coarsest first: its own (`coarse`, ``_rare_step``),
    then finer ones whose steps divide it, down to what the type writes; `floats`: a DOUBLE's or FLOAT's own floats
    last (None; a wide DECIMAL's are not: two of them can be written as one value)."""
    col = dom.column
    finest = value_resolution(col)
    last = [None] if floats and finest is None else []
    if coarse is None:
        return [None]
    if col.kind == "temporal":
        steps = [coarse] + [s for s in (1e6, 1e3, 1.0) if s < coarse and coarse % s == 0 and s >= (finest or 1.0)]
        return steps + last
    places = int(round(-math.log10(coarse)))
    deepest = places + 3 if finest is None else int(round(-math.log10(finest)))
    return [10.0 ** -d for d in range(places, max(deepest, places) + 1)] + last


def _holds_lattice(v: np.ndarray, step: float, single: bool) -> bool:
    """Whether the floats `v` each stand for one point of the lattice of `step` (``one_value``), as the column holds
    them: a FLOAT's spacing is its own (cents of 150,000 are 0.0156 apart as FLOATs: a free cent was written onto
    its neighbour's float, another batch's value or a rare one; the review of 70c0a32)."""
    if not one_value(v, step).all():
        return False
    return not single or bool((np.spacing(np.abs(v).astype(np.float32)).astype(np.float64) < step / 2).all())


def _distinct_of(points: np.ndarray, dom: NumericDomain, x: np.ndarray, at: np.ndarray, v: np.ndarray,
                 part: tuple[int, int], way: int) -> np.ndarray:
    """``_distinct`` for a column whose values a declared list fixes (``CHECK (x IN (...))``, sorted `points`): the
    points are the lattice, numbered, none but those rows take (rare ones excepted in balanced mode)."""
    keys = np.clip(np.searchsorted(points, v), 0, len(points) - 1)
    keys = np.where(points[keys] == v, keys, -1)
    blocked = np.flatnonzero(np.isin(points, _blocked_rare(dom)))
    new = _spread(keys[keys >= 0], 0, len(points) - 1, blocked, part, way) if (keys >= 0).all() else None
    if new is None:
        return x
    out = x.copy()
    out[at] = points[new]
    return out


def _say_repeats(con: duckdb.DuckDBPyConnection, table: pa.Table, unique: Sequence[Column], doms: dict[str, Domain],
                 part: tuple[int, int], derived: set[str] = frozenset(), masked: dict[str, str] | None = None,
                 strays: dict[str, int] | None = None) -> None:
    """Log the declared UNIQUE modelled, derived or masked columns whose synthetic values repeat in this batch
    (``_distinct`` found too few free values in the range, or the rules moved them back; a derived one is computed, a
    masked one drawn from its mask), or may repeat another batch's: a modelled number's values off the batch's cells
    (``_distinct``'s, or a declared list's points; the rules moved them, or the batch's cells were too few and it spread
    on all), a derived column's in any batch of several (computed, never spread), a masked one's off the batch's part
    (`strays`, ``_distinct_masked``). The copy would break that constraint. Registered as `_synth_out`, `table`."""
    i, b = part
    for c in unique:
        values = table.column(c.name)
        if pa.types.is_dictionary(values.type):  # an ENUM's (Arrow's count_distinct has no dictionary kernel)
            values = values.cast(values.type.value_type)
        repeats = len(values) - values.null_count - pc.count_distinct(values).as_py()
        if c.name in (masked or {}):
            astray = (strays or {}).get(c.name, 0)
            if b > MASK_PARTS and masked[c.name] != "string":  # (no parts: said in the first batch alone)
                if i == 0:
                    log.warning("column '%s' is declared UNIQUE and masked ('%s'): its values are distinct within "
                                "each of the %d batches, which are too many to keep apart (over %d), so batches may "
                                "share a value; loaded into a table with that constraint, the copy may be refused",
                                c.name, masked[c.name], b, MASK_PARTS)
            if repeats or astray:  # (drawn again already, off the batch's part too: ``_distinct_masked``)
                why = ("the mask found too few values keeping to its CHECK for the rows" if c.guarded else
                       "the mask's kind holds too few values for the rows (a 'string' mask gives distinct tokens)")
                log.warning("column '%s' is declared UNIQUE and masked ('%s'): %d of the %d values of a batch repeat "
                            "one (%d more may repeat another batch's), drawn again %d times: %s; loaded into a table "
                            "with that constraint, the copy is refused", c.name, masked[c.name], repeats, len(values),
                            astray, MASK_REDRAWS, why)
            continue
        if c.name in derived:
            if repeats:  # (across batches they may repeat too, unsaid: README)
                log.warning("column '%s' is declared UNIQUE and a rule derives it: its values are computed from the "
                            "other columns, not made distinct; %d of the %d of a batch repeat a value", c.name,
                            repeats, len(values))
            continue
        astray = 0
        dom = doms.get(c.name)
        if b > 1 and isinstance(dom, NumericDomain):
            x = _floats_of(con, "_synth_out", c)
            x = x[np.isfinite(x)]
            single = c.type.upper() == "FLOAT"
            if c.declared is not None and c.declared.points:  # (spread on the list's points, in order)
                cells = np.searchsorted(np.asarray(c.declared.points, dtype=np.float64), x)
            else:
                step = _unique_cells(dom)
                cells = _lattice_keys(x, step, single) if step is not None or value_resolution(c) is None else None
            if cells is not None and len(x):
                astray = int(((cells - i) % b != 0).sum())
        if repeats or astray:
            log.warning("column '%s' is declared UNIQUE, and %d of the %d synthetic values of a batch repeat a value "
                        "(%d more may repeat another batch's): its range (the model's, a declared one) holds too few "
                        "values no source row makes rare, or a rule moves them; loaded into a table with that "
                        "constraint, the copy is refused", c.name, repeats, len(values), astray)


def _written_keys(v: np.ndarray, col: Column, single: bool) -> np.ndarray:
    """Keys of the values `v` as the column's type holds them: a DECIMAL's in steps of its scale (a wide one's
    floats as the decimals they are written as, ``_as_written``), a float's own (a FLOAT's as FLOATs)."""
    if decimal_past_floats(col):
        return _float_keys(_as_written(v, col))
    if col.scale is not None:
        return np.rint(_steps(v, value_resolution(col))).astype(np.int64)
    return _float_keys(v, single)


def _unique_range(dom: NumericDomain, wide: bool = False) -> tuple[float, float]:
    """The range a declared UNIQUE column's values are spread within (``_distinct``): the domain's ([lo, hi) as its
    cells hold them), inside the type's and a declared range; `wide`: the type's and the declared range."""
    col, t = dom.column, dom.column.type.upper()
    if t == "TIME":
        ends = (0.0, DAY_US - (time_unit(dom) or 1.0))
    elif col.kind == "temporal":
        ends = temporal_ends(col)
    else:
        ends = _written_bounds(col)
    low = float(dom.edges[0]) if np.isfinite(dom.edges[0]) and not wide else ends[0]
    high = float(np.nextafter(dom.edges[-1], -np.inf)) if np.isfinite(dom.edges[-1]) and not wide else ends[1]
    if col.declared is not None and col.declared.bounds is not None:
        declared = _declared_ends(dom)
        ends = (max(ends[0], declared[0]), min(ends[1], declared[1]))
    return max(low, ends[0]), min(high, ends[1])


def _lattice_keys(v: np.ndarray, step: float | None, single: bool, ends: bool = False) -> np.ndarray:
    """Values as int64 points of the lattice of `step` (consecutive floats where None, FLOATs with `single`); with
    `ends`, a range's (low, high) as the first and last points inside it."""
    v = np.asarray(v, dtype=np.float64)
    if step is None:
        return _float_keys(v, single)
    k = _steps(v, step)
    if ends:
        return np.clip([np.ceil(k[0] - 1e-6), np.floor(k[1] + 1e-6)], -(2.0**62), 2.0**62).astype(np.int64)
    return np.rint(k).astype(np.int64)


def _blocked_rare(dom: NumericDomain) -> np.ndarray:
    """Balanced mode: the rare values no row may take (``_not_rare``), but those in the dense runs its exception
    keeps as drawn (the dates of a UNIQUE DATE column a row each: every value is rare); none in a DP domain."""
    if dom.rare is None or not len(dom.rare):
        return np.empty(0)
    kept = _kept_as_drawn(dom, dom.rare, np.arange(len(dom.rare)), _rare_step(dom))
    return dom.rare[~kept]


def _spread(keys: np.ndarray, lo: int, hi: int, blocked: np.ndarray, part: tuple[int, int], way: int = 0,
            ratio: int = 1, order: np.ndarray | None = None) -> np.ndarray | None:
    """Distinct lattice points (int64) near `keys`, in [lo, hi], on the cells i mod b for `part` (i, b) and off the
    `blocked` cells (sorted, distinct); None where too few are free. A cell is a point of the coarser lattice whose
    step is `ratio` of these (the `ratio` points nearest it), or the point itself. Sorted, the keys pushed up where
    they tie (each at least one past the one before) and down (each at least one before the next) are averaged: a
    pile of m ties on one point spreads over m points around it, and keys already apart stay (`way` 1: pushed up
    only, -1: down only). The free cells are numbered in order and their points after them, so that the cells not
    this batch's or blocked are skipped as if they were not there. `order`: the keys' stable argsort, if known."""
    i, b = part
    r, h = int(ratio), int(ratio) // 2
    share = blocked[(blocked - i) % b == 0]
    share = (share - i) // b  # blocked cells of this batch's share, numbered as its cells
    gaps = share - np.arange(len(share))

    def ranks(p: np.ndarray) -> np.ndarray:  # a point's cell (nearest of the batch's), the cell's free rank, offset
        c = (p + h) // r
        cell = (c - i + b // 2) // b
        return (cell - np.searchsorted(share, cell)) * r + (p + h - c * r)

    def end(p: int, up: bool) -> int:  # the first (last) rank inside [lo, hi]
        c = (p + h) // r
        j = p + h - c * r
        cell = -((i - c) // b) if up else (c - i) // b
        if cell * b + i != c or (len(share) and share[min(np.searchsorted(share, cell), len(share) - 1)] == cell):
            j = 0 if up else r - 1  # (a cell not the batch's, or blocked: the next free one's first or last point)
        return (cell - int(np.searchsorted(share, cell, side="left" if up else "right"))) * r + j

    first, last = end(lo, True), end(hi, False)
    n = len(keys)
    if last - first + 1 < n:
        return None
    order = np.argsort(keys, kind="stable") if order is None else order
    idx = np.arange(n)
    gap = ranks(keys[order]) - idx
    up, down = np.maximum.accumulate(gap), np.minimum.accumulate(gap[::-1])[::-1]
    mid = up if way > 0 else down if way < 0 else down + (up - down) // 2
    rank = np.minimum(np.maximum(mid + idx, first + idx), last - (n - 1 - idx))
    free = rank // r
    cell = free + np.searchsorted(gaps, free, side="right")  # back to the batch's cells, then to points
    out = np.empty_like(rank)
    out[order] = (cell * b + i) * r - h + (rank - free * r)
    return out


def _nearest_of(points: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each x as the nearest of the sorted `points` (the lower on a tie)."""
    at = np.clip(np.searchsorted(points, x), 1, max(len(points) - 1, 1))
    below, above = points[at - 1], points[np.minimum(at, len(points) - 1)]
    return np.where(np.abs(x - below) <= np.abs(above - x), below, above)


def _writable(dom: NumericDomain, x: np.ndarray) -> np.ndarray:
    """A date's, time's or wide DECIMAL's draws within what its type writes (``_typed`` clips to the same ends),
    before the rare values are checked: a draw past the end, clipped only when written, took the end, which rows may
    hold in 1-4 (a TIMESTAMP_NS's float of 2262-04-11 23:47:16.854776 past its type's last, written as the rare
    ...854774000: 238-256 rows a seed). A point's float (``NumericDomain.exact_of``) stays: it is decoded to its
    value, in range. A TIME reaches 24:00:00 only where that is a point (a frequent value, or in balanced mode one
    5 rows hold): the range of a time of day is public and ends there, so draws in its last cell reached it where
    no row holds it (a column of 23:59:xx at eps = 1: 37 rows a seed); they take the lattice's last point before
    it (23:59:59 for whole seconds), as pyarrow and pandas cannot hold 24:00:00."""
    t = dom.column.type.upper()
    if t == "TIME":
        held = dom.points is not None and (dom.points == DAY_US).any()
        return np.clip(x, 0.0, DAY_US if held else DAY_US - (time_unit(dom) or 1.0))
    if decimal_past_floats(dom.column):
        # Likewise a DECIMAL past the floats, whose largest value may read as a float past it (9999999999999999.99
        # is 1e16, which DECIMAL(18,2) cannot hold): clipped to the type's range as floats inside it first, and to a
        # declared range (whose end floats are written as their shortest decimals, which rows may hold in 1-4: a
        # point of 1.0 clipped after the check onto a CHECK's 0.9999999999999999 let a 1-row value out 401 times a
        # seed; the review of 28feb22).
        return np.clip(x, *_written_bounds(dom.column))
    if dom.column.kind != "temporal":
        return x
    out = np.clip(x, *temporal_ends(dom.column))
    if dom.exact_of is not None and len(dom.exact_of[0]):
        point = np.isin(x, dom.exact_of[0])
        out[point] = x[point]
    return out


def _draw(dom: NumericDomain, codes: np.ndarray, skip: np.ndarray, rng: np.random.Generator,
          within: np.ndarray | None = None) -> np.ndarray:
    """A value for each row's bin: a fine cell by the cells' weights (uniform where they are all 0), then
    a value inside it; rows marked in `skip` get one too, to be overwritten. With `within`, the row's
    position in the bin's distribution (0..1) picks the cell and the place in it (an inverse CDF);
    without, both are uniform draws."""
    if within is None:
        cell, frac = _uniform_cells(dom, codes, skip, rng.random(len(codes)))
    else:
        cell, frac = _cells_at(dom, codes, skip, np.clip(within, 0.0, np.nextafter(1.0, 0.0)))
    x = _inside(dom, dom.edges[cell], dom.edges[cell + 1], frac)
    if dom.points is not None:  # a frequent value's cell decodes to that value
        point = dom.points[cell]
        x = np.where(np.isnan(point), x, point)
    return x


def _uniform_cells(dom: NumericDomain, codes: np.ndarray, skip: np.ndarray, q: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's cell in its bin, drawn by the cells' weights from the uniform draws `q`, and a uniform
    place in it (0..1): by the bins' alias tables (``NumericDomain.bin_alias``), all rows at once, where
    `_cells_at`'s inverse CDF takes a sort of the rows by bin and a search per bin (1M x 50 in balanced
    mode, 36 numeric columns of 32 bins and up to 1,055 cells: 89 -> 39 ns a value). Rows in `skip`, and codes past
    the bins: cell 0, place 0."""
    perm, first, prob, alias = dom.bin_alias
    ok = ~skip & (codes >= 0) & (codes < dom.nbins)
    b = np.where(ok, codes, 0).astype(np.intp)  # b + 1 below: no wrap in a narrow unsigned type
    size = first[b + 1] - first[b]
    if (ok & (size <= 0)).any():  # a bin of no cells (never made by discovery) holds no value to draw
        empty = int(b[ok & (size <= 0)][0])
        raise ValueError(f"the domain of column {dom.column.name!r} has rows in bin {empty}, which has no cells")
    u = q * size
    at = np.minimum(u.astype(np.int64), size - 1)
    rest = u - at
    at += first[b]
    keep = prob[at]
    hit = rest < keep
    frac = np.where(hit, rest / np.maximum(keep, 1e-300), (rest - keep) / np.maximum(1.0 - keep, 1e-300))
    cell = np.where(ok, perm[np.where(hit, at, alias[at])], 0)
    return cell, np.where(ok, np.clip(frac, 0.0, np.nextafter(1.0, 0.0)), 0.0)


def _cells_at(dom: NumericDomain, codes: np.ndarray, skip: np.ndarray, q: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's cell and place in it (0..1) at its position `q` in its bin's distribution: the inverse
    CDF over the bin's cells by weight (evenly where they are all 0). Rows in `skip`: cell 0, place 0."""
    cell = np.zeros(len(codes), dtype=np.int64)
    frac = np.zeros(len(codes))
    # Each bin's rows, in order: one stable sort (by radix), not a scan per bin.
    order = stable_order(codes, int(codes.max(initial=0)) + 1)
    bounds = np.searchsorted(codes[order], np.arange(dom.nbins + 1))
    perm, first = dom.bin_cells
    for b in range(dom.nbins):
        rows = order[bounds[b]:bounds[b + 1]]
        rows = rows[~skip[rows]]
        if len(rows) == 0:
            continue
        members = perm[first[b]:first[b + 1]]
        w = dom.weights[members].astype(np.float64)
        if w.sum() <= 0:
            w = np.ones(len(members))
        cw = np.cumsum(w) / w.sum()
        k = np.minimum(np.searchsorted(cw, q[rows], side="right"), len(members) - 1)
        before = np.where(k > 0, cw[np.maximum(k - 1, 0)], 0.0)
        cell[rows] = members[k]
        frac[rows] = np.clip((q[rows] - before) / np.maximum(cw[k] - before, 1e-300), 0.0, np.nextafter(1.0, 0.0))
    return cell, frac


log = logging.getLogger(__name__)

GIBBS_SWEEPS = 10  # sweeps of the truncated-normal Gibbs sampler that places rows within their bins


def within_bins(domains: list[Domain], synth: np.ndarray, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """``_within_bins`` with BLAS on one thread: its products are a few k x k sums over a batch's rows,
    between which OpenBLAS's idle threads spin; on 1M x 50 in balanced mode that spinning took 2.3 of
    the copula's 3.8 CPU s and 4.6 of the rows' 21.9 (with one thread 1.5 s, and less wall time too)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _within_bins(domains, synth, rng)


def _within_bins(domains: list[Domain], synth: np.ndarray, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Each numeric column's position of every row within its bin (0..1), from a Gaussian copula.

    Drawing each column's place in its bin on its own loses the dependence inside the bins: two
    columns that rise together (carat and price) come back as a blur across each bin. Instead,
    the numeric columns get a latent Gaussian vector per row, drawn (Gibbs, GIBBS_SWEEPS sweeps)
    within the interval each row's bin takes of its column's distribution; the position in the
    bin is where the latent lands in that interval (made uniform by ``uniform_ranks``). Its
    correlation is that of the bins' normal scores in the sample corrected for grouping: read
    without the correction, columns tied almost exactly (diamonds' carat and z) came back as a
    blur inside each pair of bins. Uncorrelated columns get uniform, independent positions, as
    before. Reads the sampled codes only (post-processing).
    """
    from scipy.special import ndtr, ndtri

    num = [i for i, d in enumerate(domains) if isinstance(d, NumericDomain) and d.nbins > 1]
    n = synth.shape[0]
    if len(num) < 2 or n < 2:
        return {}
    k = len(num)
    # Per column and bin: where the bin starts in the column's distribution, its width, the
    # interval it takes of a standard normal, and its score (the normal's mean inside it).
    tables: dict[int, tuple[np.ndarray, ...]] = {}
    for j, i in enumerate(num):
        nb = domains[i].nbins
        codes = synth[:, i]
        ok = (codes >= 0) & (codes < nb)  # a number's bin (not NULL, NaN or an infinity)
        if ok.sum() < 2:
            continue
        freq = np.bincount(codes[ok], minlength=nb) / ok.sum()
        a = np.concatenate([[0.0], np.cumsum(freq)[:-1]])
        b = np.minimum(a + freq, 1.0)
        width = np.maximum(b - a, 1e-300)
        lo, hi = ndtri(np.clip(a, 0.0, 1.0)), ndtri(np.clip(b, 0.0, 1.0))
        dens = np.exp(-0.5 * np.minimum(lo ** 2, 1e4)) - np.exp(-0.5 * np.minimum(hi ** 2, 1e4))
        tables[j] = (a, width, lo, hi, dens / math.sqrt(2 * math.pi) / width)

    def bins(j: int, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        """Per row of `rows`: column j's bin (0 where it has none) and whether it has one."""
        codes = synth[rows, num[j]]
        ok = (codes >= 0) & (codes < domains[num[j]].nbins)
        return np.where(ok, codes, 0), ok

    # The scores' moments over the rows both columns of a pair hold, in chunks of rows: k x k
    # products, never an n x k table of every column (``_chunk_moments``: one product a chunk on
    # most tables, not four; a batch of 168k rows of 1M x 50 in balanced mode, 36 numeric columns,
    # 0.25 -> 0.12 CPU s).
    moments = np.zeros((4, k, k))  # rows held by both; sum of s_j; sum of s_j^2; sum of s_j s_m
    for lo_row in range(0, n, CHUNK_ROWS):
        rows = slice(lo_row, min(n, lo_row + CHUNK_ROWS))
        m = rows.stop - rows.start
        sc = np.zeros((k, m))  # a column's scores contiguous (the codes are column-major too)
        missing: dict[int, np.ndarray] = {}
        for j in range(k):
            if j not in tables:
                missing[j] = np.ones(m)
                continue
            at, ok = bins(j, rows)
            np.take(tables[j][4], at, out=sc[j], mode="clip")
            if not ok.all():
                sc[j][~ok] = 0.0
                missing[j] = (~ok).astype(np.float64)
        moments += _chunk_moments(sc, missing)
    corr = np.eye(k)
    for j in range(k):
        for m in range(j + 1, k):
            both = moments[0, j, m]
            if both <= 2:
                continue
            mj, mm = moments[1, j, m] / both, moments[1, m, j] / both
            vj, vm = moments[2, j, m] / both - mj * mj, moments[2, m, j] / both - mm * mm
            if vj <= 1e-12 * moments[2, j, m] / both or vm <= 1e-12 * moments[2, m, j] / both:
                continue  # a constant score over these rows: no correlation to read
            r = (moments[3, j, m] / both - mj * mm) / math.sqrt(vj * vm)
            if abs(r) > 3.0 / math.sqrt(both):  # within sampling noise of none: none
                # Grouping into bins attenuates the latent correlation by the scores' standard
                # deviations (each under 1, as the dependence inside the bins is lost):
                # corr(g(X), g(Y)) = rho sd(g(X)) sd(g(Y)) to first order for the bins' means
                # g of jointly normal X, Y. So the latent correlation is read back by dividing.
                rho = float(np.clip(r / math.sqrt(vj * vm), -MAX_CORR, MAX_CORR))
                if abs(rho) >= MIN_CORR:
                    corr[j, m] = corr[m, j] = rho
    # Only columns correlated with another go through the sampler; the rest keep uniform,
    # independent positions (the caller's default), and the sampler's time and memory grow
    # with the correlated columns alone.
    active = [j for j in range(k) if np.count_nonzero(corr[j]) > 1]
    if len(active) < 2:
        return {}
    corr = corr[np.ix_(active, active)]
    k = len(active)
    located = [bins(j, slice(0, n)) for j in active]
    # Each row's bin, or one past the last where it has none: a table with the value for no bin appended
    # then gives every row its value in one gather.
    at_or_none = [np.where(ok, at, len(tables[j][0])) for j, (at, ok) in zip(active, located)]

    def stack(part: int, missing: float) -> np.ndarray:  # n x k: table `part` at each row's bin
        out = np.empty((n, k), order="F")  # columns contiguous: the sampler works column by column
        for col, (j, at) in enumerate(zip(active, at_or_none)):
            np.take(np.append(tables[j][part], missing), at, out=out[:, col], mode="clip")  # (in range: unbuffered)
        return out

    start, width, lo, hi, score = stack(0, 0.0), stack(1, 1.0), stack(2, -np.inf), stack(3, np.inf), stack(4, 0.0)
    valid = np.asfortranarray(np.column_stack([ok for _, ok in located]))
    num = [num[j] for j in active]
    vals, vecs = np.linalg.eigh(corr)  # the nearest positive definite correlation
    corr = (vecs * np.maximum(vals, 1e-3)) @ vecs.T
    d = np.sqrt(np.diag(corr))
    corr = corr / np.outer(d, d)
    if np.allclose(corr, np.eye(k), atol=1e-3):
        return {}
    prec = np.linalg.inv(corr)
    z = np.clip(score, lo, hi, out=score)  # (the scores are not needed again)
    sd = 1.0 / np.sqrt(np.diag(prec))
    # Each column's draw given the rest: mu = -(sum over l != j of z_l prec[l, j]) / prec[j, j], then
    # the normal(mu, sd_j) truncated to the row's interval by its inverse CDF (mu itself where the
    # interval holds no mass). In place, in buffers kept across the sweeps (the same arithmetic).
    # A sweep's uniforms are drawn for all rows and columns at once (the stream's order: column by
    # column, as k draws of n), then the rows are taken in chunks of GIBBS_ROWS, each chunk through
    # every column while its k columns are in cache: a row's draws are the same as column by column
    # over all rows (rows are independent), 11-15 % faster (flights' 14 columns, 36 of a 168k batch).
    step = min(n, GIBBS_ROWS)
    mass_b, tmp_b = np.empty(step), np.empty(step)
    draws = np.empty((k, n))
    for _ in range(GIBBS_SWEEPS):
        rng.random(out=draws)
        for a in range(0, n, step):
            b = min(n, a + step)
            mass, tmp, zc = mass_b[:b - a], tmp_b[:b - a], z[a:b]
            for j in range(k):
                u, loj, hij = draws[j, a:b], lo[a:b, j], hi[a:b, j]
                mu = zc @ prec[:, j]
                np.multiply(zc[:, j], prec[j, j], out=tmp)
                mu -= tmp
                mu /= prec[j, j]
                np.negative(mu, out=mu)
                pl = ndtr(np.divide(np.subtract(loj, mu, out=tmp), sd[j], out=tmp))
                ph = ndtr(np.divide(np.subtract(hij, mu, out=tmp), sd[j], out=tmp))
                np.subtract(ph, pl, out=mass)
                u *= mass
                u += pl
                # (np.minimum/np.maximum: np.clip is several times slower on arrays of bounds)
                np.maximum(u, 1e-300, out=u)
                np.minimum(u, 1 - 1e-16, out=u)
                zj = ndtri(u, out=u)
                zj *= sd[j]
                zj += mu
                np.copyto(zj, mu, where=~(mass > 1e-12))
                np.maximum(zj, loj, out=zj)
                np.minimum(zj, hij, out=zc[:, j])
    out = {}
    for j, i in enumerate(num):
        pos = (ndtr(z[:, j]) - start[:, j]) / width[:, j]
        out[i] = np.where(valid[:, j], uniform_ranks(np.clip(pos, 0.0, 1.0), synth[:, i], rng), rng.random(n))
    return out


def _chunk_moments(sc: np.ndarray, missing: dict[int, np.ndarray]) -> np.ndarray:
    """(4, k, k): over a chunk's rows, per pair of columns (j, l), the rows both hold, and the sums of
    s_j, of s_j^2 and of s_j s_l over the rows l holds (over all rows for the last). `sc`: (k, m) scores,
    0 where a column does not hold the row; `missing`: 0/1 flags (m,) of the rows a column does not
    hold, for the columns with any. The same as ``H.T @ H, S.T @ H, (S * S).T @ H, S.T @ S`` with
    ``S = sc.T`` and H the held flags, with the flags' products over the columns that miss rows alone.
    Sums over a column's held rows are taken over those rows (``kept``), not as the sum over every row
    less the sum over the missing ones: two columns sharing a few rows of a large chunk would carry the
    large sums' rounding (1e-12) into a variance that should be 0, and the caller's test for a score
    constant over the shared rows would pass it."""
    k, m = sc.shape
    out = np.empty((4, k, k))
    out[0] = m
    out[1] = sc.sum(axis=1)[:, None]
    out[2] = np.einsum("ij,ij->i", sc, sc)[:, None]
    out[3] = sc @ sc.T
    if missing:
        cols = list(missing)
        miss = np.stack([missing[j] for j in cols])  # (columns missing rows, m)
        lost = miss.sum(axis=1)
        out[0][:, cols] -= lost
        out[0][cols, :] -= lost[:, None]
        out[0][np.ix_(cols, cols)] += miss @ miss.T  # whole numbers: exact
        kept = 1.0 - miss
        out[1][:, cols] = sc @ kept.T
        out[2][:, cols] = (sc * sc) @ kept.T
    return out


MAX_CORR = 0.999  # the latent correlation read back from the bins is kept inside (-1, 1)
# A latent correlation under this is taken as none: it moves a row's place in its bin by a fiftieth
# of its spread at most and carries r^2/2 = 0.0002 nats of mutual information. The spurious
# correlations a DP model makes between independent columns are smaller (0.004 on a generated
# 1M-row table, where the test of sampling noise alone, 3/sqrt(n), passed them to a sampler that
# then took 40 s per million rows for nothing); weak real ones are larger (weather's 0.03-0.09,
# worth tvd3 0.0005 there: a floor of 0.1 lost them).
MIN_CORR = 0.02
CHUNK_ROWS = 65_536  # rows per chunk when the scores' moments are summed
GIBBS_ROWS = 16_384  # and in the Gibbs sweeps: 16k rows of 36 columns' latents, 4.7 MB (4k-64k: 4.9-5.3 s of sweeps)


def uniform_ranks(pos: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions replaced by their ranks among the rows of the same bin, spread evenly over 0..1.

    A few Gibbs sweeps do not mix where columns are tightly tied (carat, x, y and z of diamonds):
    positions stay bunched near the middle of each bin, and the cells at a bin's ends (its tail
    below a frequent value) come back too rarely. Ranks keep the copula's order, so its dependence,
    and make each bin's positions uniform, so its cells are drawn by their weights.
    """
    # Sorted by bin, then position: one float key (bin c's rows in [2c, 2c + 1]), a few times faster
    # than a lexsort of the two; exact while 2c + 1 keeps 1e-13 of resolution (bins under 2^9).
    key = codes * 2.0 + pos if codes.max(initial=0) < 512 else None
    order = float_order(key) if key is not None else np.lexsort((pos, codes))
    sorted_codes = codes[order]
    first = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    starts = np.flatnonzero(first)
    sizes = np.diff(np.r_[starts, len(codes)])
    group_start = np.repeat(starts, sizes)
    group_size = np.repeat(sizes, sizes)
    out = np.empty(len(pos))
    out[order] = (np.arange(len(codes)) - group_start + rng.random(len(codes))) / group_size
    return out


def time_unit(dom: NumericDomain) -> float | None:
    """The microseconds a temporal column's values are whole multiples of: the unit its domain found
    (seconds, minutes, ...), else the type's own (TIMESTAMP_S, TIMESTAMP_MS); None for others. A value is drawn
    on this grid, so what is checked against the rare values is what the column will hold."""
    return dom.unit if dom.unit is not None else TYPE_UNIT_US.get(dom.column.type.upper())


def lattice_weights(dom: NumericDomain) -> np.ndarray | None:
    """Per lattice point, the weight of a value written with MIN_DECIMALS .. ``dom.decimals`` places (a
    multiple of 1,000; of 100 and not 1,000; ...; of the lattice's step and no coarser), where a round
    value is more common than a point of the lattice at large: the decimals step's counts of each class
    (``dom.places``) over its points in the domain's range, each at least the finest class's. None where
    no class stands out (then every point of a cell is equally likely, as without). Loans' `loan_amount`
    (78 % multiples of 1,000, the lattice 100s) drew 10,000, 10,100, 10,200 and 10,300 alike from a cell
    holding a spike of 1,000 rows at 10,000. Post-processing of released counts."""
    if dom.places is None or dom.decimals is None or dom.decimals < MIN_DECIMALS:
        return None
    classes = dom.decimals - MIN_DECIMALS + 1
    share = np.asarray(dom.places[:classes], dtype=np.float64)
    step = 10.0 ** -dom.decimals
    a, b = (int(i) for i in _lattice_index(np.array([dom.edges[0], dom.edges[-1]]), step))
    if classes < 2 or not share[-1] > 0 or abs(a) > 2**52 or abs(b) > 2**52:
        return None
    grains = [10 ** (classes - 1 - i) for i in range(classes)]  # in lattice steps, coarsest first
    multiples = np.array([-(-b // g) - (-(-a // g)) for g in grains], dtype=np.float64)
    points = np.diff(multiples, prepend=0.0)  # the points of each class in the range
    base = share[-1] / max(points[-1], 1.0)  # a point's weight at large (the lattice's own class)
    # A class counts as rounder where its count is over what its points would hold at the base weight by
    # more than ``places_bar`` (the decimals step's noise at the range step's false rate over its cells: a
    # class of few points turns a little noise into a large weight a point); whole numbers spread evenly
    # keep their points alike.
    excess = share - base * points
    w = np.where(excess > dom.places_bar, base + excess / np.maximum(points, 1.0), base)
    return w if (w > base).any() else None


def _lattice_index(x: np.ndarray, step: float) -> np.ndarray:
    """The index (in steps, as floats) of the first point of the lattice of `step` at or above each `x`: a
    cell [lo, hi) holds the points from lo's index to hi's, less one. A hair below (1e-9 of a step) still
    counts as at: an edge written as k x step may come out a rounding error above it."""
    return np.ceil(np.asarray(x, dtype=np.float64) / step - 1e-9)


def _lattice_draw(lo: np.ndarray, hi: np.ndarray, u: np.ndarray, step: float, w: np.ndarray) -> np.ndarray:
    """The lattice point (in steps) at place `u` of each cell [lo, hi)'s points weighted by class (`w`,
    coarsest first: ``lattice_weights``): the inverse of the cumulative weight, by bisection, so that a
    larger `u` never gives a smaller point (the copula's place in the cell keeps its order)."""
    classes = len(w)
    grains = np.array([10.0 ** (classes - 1 - i) for i in range(classes)])
    d = w - np.append(w[1:], 0.0)  # a point of class i is a multiple of grains[j] for every j >= i
    p0 = _lattice_index(lo, step)
    p1 = np.maximum(_lattice_index(hi, step), p0 + 1.0)

    def cum(x: np.ndarray) -> np.ndarray:  # the weight of the points in [p0, x)
        return sum(d[i] * (np.ceil(x / grains[i]) - np.ceil(p0 / grains[i])) for i in range(classes) if d[i])

    target = u * cum(p1)
    left, right = p0.copy(), p1.copy()
    while True:
        open_ = right - left > 1.0
        if not open_.any():
            return left
        mid = np.floor((left + right) / 2.0)
        below = cum(mid) <= target
        left = np.where(open_ & below, mid, left)
        right = np.where(open_ & ~below, mid, right)


def _inside(dom: NumericDomain, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A value in each cell [lo, hi) from uniform draws `u`: whole for integers, on the column's lattice,
    at the type's own precision (seconds of a TIMESTAMP_S, a FLOAT's single precision); round values as
    often as the decimals step found them (``lattice_weights``)."""
    col = dom.column
    unit = time_unit(dom)
    if unit is not None:  # the whole units in [lo, hi)
        width = np.maximum(np.ceil(hi / unit) - np.ceil(lo / unit), 1.0)
        return (np.ceil(lo / unit) + np.floor(u * width)) * unit
    w = lattice_weights(dom) if len(u) else None
    if w is None:
        return _inside_uniform(dom, lo, hi, u)
    step = 10.0 ** -dom.decimals
    inner = _lattice_index(hi, step) - _lattice_index(lo, step) >= 1  # cells holding a lattice point
    x = np.empty(len(u))
    x[~inner] = _inside_uniform(dom, lo[~inner], hi[~inner], u[~inner])  # the rounded draw, as without
    p = _lattice_draw(lo[inner], hi[inner], u[inner], step, w)
    y = p * step if dom.decimals <= 0 else np.round(p * step, dom.decimals) + 0.0
    if col.type.upper() == "FLOAT":
        y = _single(y)
    if col.integer and col.type_range is not None:
        y = np.clip(y, *_double_bounds(col))
    x[inner] = y
    return x


def _inside_uniform(dom: NumericDomain, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
    """`_inside` with every point of a cell's lattice equally likely."""
    col = dom.column
    if col.integer and col.type.upper() != "TIME":
        x = lo + np.floor(u * np.maximum(hi - lo, 1.0))
        if dom.decimals is not None and dom.decimals < 0:
            # Round numbers: a multiple of 10, 100, ... in [lo, hi). Rounding a draw instead sends the
            # half-way point at a cell's start to the multiple below it (to even), across the cell's
            # edge: a DP lattice cell [345, 355) of cars' range (250, 300, 350, 400) gave 340 a
            # tenth of the time, a value no row holds, in a cell measured empty. A cell holding no
            # multiple keeps the rounded draw.
            step = 10.0 ** -dom.decimals
            first = _lattice_index(lo, step)
            count = _lattice_index(hi, step) - first
            x = np.where(count >= 1, (first + np.floor(u * np.maximum(count, 1.0))) * step, np.round(x, dom.decimals))
            x = np.clip(x, dom.edges[0], dom.edges[-1] - 1)
        if col.type_range is not None:
            x = np.clip(x, *_double_bounds(col))
        return x
    if dom.decimals is not None:  # + 0.0: a value of zero is 0.0, not -0.0 (a draw just below zero)
        x = _on_lattice(lo, hi, u, 10.0 ** -dom.decimals, dom.decimals) + 0.0
    else:
        x = lo + u * (hi - lo)
        if col.scale is not None:
            x = np.round(x, col.scale) + 0.0
        elif col.type.upper() == "TIME":  # whole microseconds, as the column holds them (and as the balanced
            x = np.floor(x)  # rare-value check must compare them: a draw of 99.4 passed it, then was cast to 99)
    if col.type.upper() == "FLOAT":
        x = _single(x)
    return x


def _on_lattice(lo: np.ndarray, hi: np.ndarray, u: np.ndarray, step: float, decimals: int) -> np.ndarray:
    """A point of the lattice of `step` in each cell [lo, hi), picked by `u`.

    Rounding a uniform draw in the cell to the lattice instead can leave the cell: a cell
    starts half a step below its first value (``domain.quantile_edges``, ``centred_step``), so
    a draw at its end rounds to the next cell's first value, and one at its start may round
    (to even) below it: 17% of storms' hurricane categories (1.0 to 5.0, cells [0.5, 1.5), ...)
    came out in the next category, mostly where the copula put a row at the top of its cell.
    A cell holding no lattice point (a value written with more decimals) keeps the rounded draw.
    """
    first = _lattice_index(lo, step)
    count = _lattice_index(hi, step) - first
    x = np.round((first + np.floor(u * np.maximum(count, 1.0))) * step, decimals)
    return np.where(count >= 1, x, np.round(lo + u * (hi - lo), decimals))


RARE_REDRAWS = 16


def _not_rare(dom: NumericDomain, x: np.ndarray, codes: np.ndarray, live: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """Balanced mode: a value that fewer than MIN_GROUP source rows hold (``dom.rare``) is drawn again.

    A drawn value equal to one is drawn again in its bin (cell and value), up to RARE_REDRAWS times.
    One still equal after that (a bin whose values are all rare) moves to the nearest point of the
    column's lattice that is not rare, inside the column's range; where that lies beyond its bin's width,
    to one drawn evenly from a bin's width beyond it. Only where no point of the range is free does it
    stay. (Until 2026-12-06 a value with no free point within its bin's width stayed: on the 40 tables
    here one row, but a tail of 70 outliers one row each beside 2,000 counts let 7-16 out.)

    The exception, kept as drawn: in a column whose numbers are mostly held by values in runs of at
    least DENSE_RUN consecutive lattice points each held by fewer than MIN_GROUP rows (``_dense_share``:
    ids, dates a row or two each), a value inside such a run and not at either end of the range (which a
    row's value sets). It was about as likely drawn had no row held it; drawn again, the run's rows piled
    up on the few values no row holds beside it and showed which those are: anes' ids (unique within
    yearly bands, gaps between) came back 56 % in the gaps, 1,283 rows on the one id past a band's end
    (tvd1 0.098). A measurement rounded to the lattice (a Poisson count a point) is rare at 82 % of points
    at most (at 2.2 rows a point), so a run of 64 is a chance of 2e-6 a point; and its runs hold a few
    hundredths of its rows, not most (whole-dollar incomes: 0.35 %; a tail of outliers beside them,
    which the reviews of bcc6302 and 0d5f284 saw come out, less).
    """
    col = dom.column
    step = _rare_step(dom)
    # (a declared range too: decoding clamps to it, and a move to a declared range's max + 1, an integer's top edge,
    # came back as the rare max, 34-38 rows a seed)
    low, high = _written_bounds(col)
    bounds = (max(low, dom.edges[0]), min(high, dom.edges[-1]))
    hit = np.flatnonzero(live & _in_sorted(dom.rare, x))
    resolution = dom.resolution
    if resolution is not None and len(hit):
        # Past 2^53 the lattice's steps are finer than the floats: a float several of the column's values
        # read as is rare whatever its rows (``discovery.exact_numeric_domain``). It moves to the nearest
        # float that no row's value reads as and that is itself shared (cast back, one of the column's
        # values no row holds): its rows stay where they are (X + 1 in 500 rows, read as X = 2^60, is no
        # point; drawn again in its bin, 400 of them went elsewhere). Where there is none within the
        # bounds, it is drawn again as any rare value.
        coarse = hit[shared(x[hit], resolution)]
        if len(coarse):
            x[coarse] = _next_free_float(dom.rare, x[coarse], bounds, resolution)
            hit = hit[_in_sorted(dom.rare, x[hit])]
    whole = col.integer and col.type.upper() != "TIME"
    hit = hit[~_kept_as_drawn(dom, x, hit, step)]
    for _ in range(RARE_REDRAWS):  # only the rows drawn again can have become rare
        if not len(hit):
            return x
        # Within what the type writes, as the first draws (``_writable``): a redraw of a point past the type's end,
        # clipped only when written, took the end, which 2 rows held (DECIMAL(18,2)'s 9999999999999999.99 reads as
        # 1e16: 302 rows a seed of a 2-row 9999999999999998.00; the review of b3f40b5).
        y = _writable(dom, _draw(dom, codes[hit], np.zeros(len(hit), dtype=bool), rng))
        if dom.floats_are_values:
            y = _as_written(y, col)
        x[hit] = np.floor(y) if whole else y  # as the column will hold it (see decode_numeric)
        hit = hit[_in_sorted(dom.rare, x[hit])]
    if not len(hit):
        return x
    lo, hi = dom.bin_span
    width = np.nan_to_num(hi - lo)  # a bin of no cells: none
    if step is None:
        # A continuous column (no lattice): a value still rare after the redraws (a cell of a few floats, every
        # one a row's: 80 consecutive FLOATs above 1.0 let 65 rows a seed out) moves past the nearest float, of
        # the column's precision, that no rare value is, in the range (`_next_free_float`), by up to a bin's
        # width drawn evenly, away from the rare ones, where that lands on no rare value and in the range (all
        # on the free float piled 66 rows on 1.0 and none above it, which marked where the run was; the
        # review of b8b52f0); else on the free float; where there is none, it stays.
        single = col.type.upper() == "FLOAT"
        free = _next_free_float(dom.rare, x[hit], bounds, None, single=single)
        spread = free + np.sign(free - x[hit]) * rng.random(len(hit)) * width[codes[hit]]
        if single:
            spread = _single(spread)
        ok = (spread >= bounds[0]) & (spread <= bounds[1]) & (spread < dom.edges[-1]) & ~_in_sorted(dom.rare, spread)
        x[hit] = np.where(ok & (free != x[hit]), spread, free)
        return x
    free = _nearest_free(dom.rare, x[hit], step, bounds)
    units = _runs(dom.rare, step, False)[0]  # the rare values' points, as _nearest_free reads them
    if col.type.upper() == "FLOAT":
        # A lattice finer than the FLOATs (whole numbers past 2^24, cents past 2^17): a free point cast back
        # may be a rare FLOAT (30,000,103 is the rare 30,000,104: every moved row came out on one). Such a
        # point moves on to the nearest FLOAT no rare value is, if that one's lattice point is free too
        # (not 0.099999994 beside a rare 0.1); else the row stays, as where no point is free.
        # Every row, moved or not: past 2^53 lattice steps the free point is x again (1e20 + 1e13 k as FLOATs, a
        # run below FLT_MAX: 34-122 rows out in 3 seeds; the review of 9145d7b).
        single = _single(free)
        bad = np.flatnonzero(_in_sorted(dom.rare, single))
        if len(bad):
            single[bad] = _next_free_float(dom.rare, single[bad], bounds, None, single=True)
        ok = ~_in_sorted(dom.rare, single) & ~_rare_point(single, step, units)
        free = np.where(ok, single, x[hit])
    else:
        # A lattice finer than the floats (whole numbers of a DOUBLE past 2^53, 1e17 + 16 k): the free point
        # x + 1 is x again as a float, and stayed rare (198 rows of 70 one-row values out in 3 seeds; the review
        # of 256b400). It moves on, float by float, to the nearest that no rare value is and whose lattice point is
        # free too (where floats still tell lattice points apart); else the row stays, as where no point is free.
        bad = np.flatnonzero(_in_sorted(dom.rare, free))
        if len(bad):
            further = _next_free_float(dom.rare, free[bad], bounds, dom.resolution)
            ok = ~_in_sorted(dom.rare, further) & ~_rare_point(further, step, units)
            free[bad] = np.where(ok, further, free[bad])
    reach = np.maximum(width[codes[hit]], FREE_STEPS * step)
    far = np.flatnonzero(np.abs(free - x[hit]) > reach)
    if len(far):
        # Past the bin's width (a run of rare values wider than the bin: a tail of outliers one row each,
        # 100-169 beside counts 0-49, let 7-16 rows a seed out when such draws stayed): a lattice point
        # drawn evenly from the reach beyond the free one, away from the run, where it is not rare and in
        # the bounds, else the free one itself (all of them on it piled 65 rows on 99).
        away = np.sign(free[far] - x[hit][far])
        spread = free[far] + away * step * np.floor(rng.random(len(far)) * (np.floor(reach[far] / step) + 1))
        spread = _step_decimals(spread, step)
        if col.type.upper() == "FLOAT":  # as the column will hold it: 9.3 is the rare 9.300000190734863
            spread = _single(spread)
        # In the range: an integer's or a date's top edge is max + 1, the end of the last point's cell.
        ok = (spread >= bounds[0]) & (spread <= bounds[1]) & (spread < dom.edges[-1]) & ~_in_sorted(dom.rare, spread)
        ok &= ~np.isin(np.round(_steps(spread, step)), units)
        free[far] = np.where(ok, spread, free[far])
    x[hit] = free
    return x


def _rare_step(dom: NumericDomain) -> float | None:
    """The step of the lattice `_not_rare` moves a rare value on: the time unit, the decimals, whole numbers or the
    scale; None for a continuous column (another draw equal to a row's value is all but impossible)."""
    col = dom.column
    unit = time_unit(dom)
    if unit is not None:
        return unit
    if dom.decimals is not None:
        return max(10.0 ** -dom.decimals, 1.0 if col.integer else 0.0)
    if col.integer or col.scale is not None:
        return 1.0 if col.integer else 10.0 ** -col.scale
    return None


def _kept_as_drawn(dom: NumericDomain, x: np.ndarray, hit: np.ndarray, step: float | None) -> np.ndarray:
    """Which of the rows `hit` (on rare values) balanced mode's exception keeps as drawn (`_not_rare`): in a column
    whose numbers are mostly held by dense runs of rare points, those inside such a run and not at the range's ends."""
    if step is None or not len(hit) or _dense_share(dom, step) < DENSE_ROWS:
        return np.zeros(len(hit), dtype=bool)
    inner = (x[hit] - step >= dom.edges[0]) & (x[hit] + step < dom.edges[-1])  # not the range's ends
    drawn = dom.drawn_rare  # (a value only dropped rows hold is in no run)
    if drawn is not dom.rare:
        inner &= _in_sorted(drawn, x[hit])
    length = np.zeros(len(hit))
    length[inner] = _run_length(drawn, x[hit][inner], step)
    return length >= DENSE_RUN


def _as_written(x: np.ndarray, col: Column) -> np.ndarray:
    """The float of the value each float of a DECIMAL past the floats is written as (``schema.written_sql``: its
    shortest decimal rounded to the scale), NaN where that is past the type. Where the scale's steps are finer than
    the floats (``domain.shared``) this is the float itself (its shortest decimal has no more places than the scale:
    the review of 28feb22 checked 50,000 floats of 12 types); where they are coarser (tiny values of DECIMAL(38,37))
    the rounding, which ``np.round(x, 37)`` misses once 10^37 is no float (867-899 rows a seed of 1-row values came
    out: the review of b3f40b5, older than the written values). Only those are cast, by DuckDB."""
    out = np.array(x, dtype=np.float64)
    fine = np.flatnonzero(~shared(out, 10.0 ** -col.scale) | ~np.isfinite(out))
    if not len(fine):
        return out
    con = duckdb.connect()
    try:
        con.register("_floats", pa.table({"x": pa.array(out[fine], type=pa.float64())}))
        y = con.sql(f"SELECT TRY_CAST({written_sql('x', col.type, read=True)} AS DOUBLE) AS y FROM _floats"
                    ).to_arrow_table()
    finally:
        con.close()
    out[fine] = np.asarray(y.column("y").to_numpy(), dtype=np.float64)  # NULL (past the type) as NaN
    return out


def _off_rare(dom: NumericDomain, x: np.ndarray, number: np.ndarray) -> np.ndarray:
    """Balanced mode, a DECIMAL whose floats are its values (``NumericDomain.floats_are_values``): a row `_not_rare`
    left on a rare float (no lattice point free: 3,000 rows of 0.500000000000000001 and 2 of 0.5 are one rare
    float, written as 0.5, on a lattice of tenths; every output row was the 2-row value, the review of b3f40b5)
    moves to the nearest float, as written, that is not rare, stepping by the float's spacing or the scale's
    step, whichever is wider (OFF_RARE_STEPS of them), inside the type's and a declared range and the column's.
    Any float that is not rare is safe as written: a row holding the value it is written as reads as it, and is
    counted there. Where none is found the row stays, as where no lattice point is free; so do the rows the dense-run
    exception keeps as drawn (`_kept_as_drawn`: moving them is what it is there to avoid, and on 1M rows of
    DECIMAL(38,37) one step apart, each rare, the search took 1,536 CPU s). A side is given up once its step passes
    the range's end: further steps are clipped onto that end again."""
    col = dom.column
    pending = np.flatnonzero(number & _in_sorted(dom.rare, x))
    pending = pending[~_kept_as_drawn(dom, x, pending, _rare_step(dom))]
    if not len(pending):
        return x
    low, high = _written_bounds(col)
    low, high = max(low, dom.edges[0]), min(high, dom.edges[-1])
    base = x[pending]
    delta = np.maximum(np.spacing(np.abs(base)), 10.0 ** -col.scale)
    open_ = {-1.0: np.ones(len(pending), dtype=bool), 1.0: np.ones(len(pending), dtype=bool)}  # sides not given up
    for k in OFF_RARE_STEPS:
        for sign in (-1.0, 1.0):
            side = np.flatnonzero(open_[sign])
            if not len(side):
                continue
            raw = base[side] + sign * k * delta[side]
            cand = _as_written(np.clip(raw, low, high), col)
            ok = np.isfinite(cand) & (cand >= low) & (cand <= high)
            ok[ok] = ~_in_sorted(dom.rare, cand[ok])
            x[pending[side[ok]]] = cand[ok]
            open_[sign][side[(raw <= low) | (raw >= high)]] = False  # past the end: every further step is the end
            moved = np.zeros(len(pending), dtype=bool)
            moved[side[ok]] = True
            if moved.any():
                pending, base, delta = pending[~moved], base[~moved], delta[~moved]
                open_ = {s: o[~moved] for s, o in open_.items()}
        if not len(pending) or not (open_[-1.0].any() or open_[1.0].any()):
            return x
    return x


# The floats (or scale steps) a rare DECIMAL's row tries moving each side (`_off_rare`): the next eight, then twice as
# far each time (a row of each of 32 floats either side had left them all on the rare one: the review of 8399346).
OFF_RARE_STEPS = (*range(1, 9), *(2 ** k for k in range(4, 53)))


FREE_STEPS = 3  # a rare value may move this many lattice steps (or its bin's width) to one that is not
DENSE_RUN = 64  # a rare value in a run of this many consecutive lattice points, each rare, is kept as drawn
DENSE_ROWS = 0.5  # in a column where such runs hold at least this share of the rows


def _dense_share(dom: NumericDomain, step: float) -> float:
    """The share of the column's numbers held by rare values in runs of DENSE_RUN or more consecutive
    points of the lattice of `step` (``_runs``): near 1 for ids and dates a row or two each, a few
    hundredths or none for a measurement (a Poisson count a point, or a tail of outliers beside one)."""
    if dom.rare_held is None or dom.numbers <= 0:
        return 0.0
    key = (id(dom.rare), step)
    kept = _SHARES.get(key)
    if kept is not None and kept[0]() is dom.rare:
        return kept[1]
    length = _runs(dom.drawn_rare, step, True, keep=False)[3]  # kept only where the share is high (``_run_length``)
    share = float(dom.rare_held[dom.rare_held > 0][length >= DENSE_RUN].sum() / dom.numbers)
    if len(_SHARES) > 4096:  # a long-lived process: drop those whose arrays are gone
        for k in [k for k, (ref, _) in _SHARES.items() if ref() is None]:
            del _SHARES[k]
    _SHARES[key] = (weakref.ref(dom.rare), share)
    return share


_SHARES: dict[tuple[int, float], tuple[weakref.ref, float]] = {}  # (id(rare), step) -> (weak ref, share): a
# column's share is read in every batch; its runs (``_runs``) are kept for few columns at a time


def _run_length(rare: np.ndarray, x: np.ndarray, step: float) -> np.ndarray:
    """For each of `x`, one of the sorted `rare` values, how many consecutive points of the lattice of
    `step` its run of rare ones on the lattice holds (0 for a value off the lattice)."""
    return _runs(rare, step, True)[3][np.searchsorted(rare, x)]


def _runs(rare: np.ndarray, step: float, on_lattice: bool, keep: bool = True
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The lattice points (in steps) of the sorted `rare` values, where each run of consecutive ones
    starts and ends (indices into them), and per rare value the length of its run. With `on_lattice`,
    only values on the lattice count (the lattice covers 95 % of the values: an amount of 43,217 among
    thousands, rounded, made a run of rare thousands across 43,000, which no row held); without,
    every value counts at its nearest point (``_nearest_free``: such a point is no free one). With `keep`,
    kept for the last RUNS_KEPT arrays, steps and kinds asked (a column's batches; 32 MB for a column of
    1M rare timestamps, so a column's share alone is worked out without keeping them)."""
    key = (id(rare), step, on_lattice)
    kept = _RUNS.get(key)  # read once: another thread may replace it
    if kept is not None and kept[0]() is rare:
        return kept[1]
    q = _steps(rare, step)
    at = np.round(q)
    if on_lattice:
        near = np.maximum(1e-6, 8 * np.spacing(np.abs(q)))
        on = np.abs(q - at) <= near
        if len(rare) and (rare == rare.astype(np.float32)).all():  # a FLOAT's values: off their decimals by up to
            # half a FLOAT's spacing (tenths of 299.9 by 1.2e-4 steps, which had left a FLOAT column no runs: a UNIQUE
            # FLOAT of distinct tenths, every one rare, had no free point; the review of ca03b5e), on a point where
            # each is that point's FLOAT (not within a spacing: past 4.2M a FLOAT's spacing is half a unit, and an x.5
            # filled the gap between two runs of whole numbers; the review of 6cb68e8)
            on |= _of_steps(at, step).astype(np.float32).astype(np.float64) == rare
    else:
        on = np.ones(len(q), bool)
    at = at[on]  # ascending, as `rare` is: distinct points without a sort (984k rare timestamps)
    new = np.r_[True, at[1:] != at[:-1]] if len(at) else np.zeros(0, bool)
    units, which = at[new], np.cumsum(new) - 1
    if not len(units):  # none on the lattice: no runs
        return units, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(len(rare))
    starts, ends = _run_bounds(units)
    run = np.searchsorted(starts, np.arange(len(units)), side="right") - 1
    length = np.zeros(len(rare))
    length[on] = (units[ends] - units[starts] + 1)[run][which]
    out = (units, starts, ends, length)
    if keep:
        _RUNS[key] = (weakref.ref(rare), out)
    while len(_RUNS) > RUNS_KEPT:  # the oldest first (dicts keep their order)
        _RUNS.pop(next(iter(_RUNS)), None)
    return out


RUNS_KEPT = 4  # runs kept (a few dense columns' in each batch)
_RUNS: dict[tuple[int, float, bool], tuple] = {}  # (id(rare), step, on_lattice) -> (weak ref to rare, runs)


def _single(x: np.ndarray) -> np.ndarray:
    """`x` as a FLOAT column holds it: rounded to single precision, as doubles (past its range an infinity)."""
    with np.errstate(over="ignore"):
        return x.astype(np.float32).astype(np.float64)


def _rare_point(x: np.ndarray, step: float, units: np.ndarray) -> np.ndarray:
    """Whether each float `x` rounds to a rare value's lattice point (`units`: those points' indices, as ``_runs``
    reads them), where floats still tell the lattice's points apart (x / step under 2^52): not 0.099999994 beside
    a rare 0.1. Past that, a point's index stands for several floats, and a float that is no rare value is
    none (1e15 + 0.2 k on a lattice of 0.1: every free float was refused, 104 rows out in 3 seeds; the review of
    9145d7b)."""
    k = np.round(_steps(x, step))
    return (np.abs(k) < 2.0**52) & np.isin(k, units)


def _decimal_step(step: float) -> int | None:
    """d where `step` is 10^-d (1 <= d <= 18), else None."""
    d = -math.log10(step) if 0 < step < 1 else 0.0
    return int(round(d)) if 1 <= d <= 18 and abs(d - round(d)) < 1e-9 else None


def _of_steps(k: np.ndarray, step: float) -> np.ndarray:
    """Lattice points `k` (in steps) as the floats nearest them: k / 10^d in extended precision for a step of
    10^-d (k * 0.1 in doubles, then rounded to one decimal, landed a tenth off past 10^14), else k * step
    written with its decimals (0.30000000000000004 as 0.3)."""
    d = _decimal_step(step)
    if d is not None:
        return (np.asarray(k, dtype=np.longdouble) / np.longdouble(10 ** d)).astype(np.float64)
    return _step_decimals(np.asarray(k, dtype=np.float64) * step, step)


def _steps(x: np.ndarray, step: float) -> np.ndarray:
    """`x` in lattice steps (float64). A step of 10^-d is multiplied out in extended precision: x / 0.1 in doubles
    errs by up to half a step past 10^14 (the float's own error, a tenth of its spacing there, then the
    division's), so consecutive rare tenths of DECIMAL(18,1) values near 3e14 read as points with gaps between,
    rows moved onto the 'free' ones, which rare values held: 195 rows out in 3 seeds (the review of 25590cd)."""
    x = np.asarray(x, dtype=np.float64)
    d = _decimal_step(step)
    if d is not None:
        return (x.astype(np.longdouble) * np.longdouble(10 ** d)).astype(np.float64)
    return x / step


def _next_free_float(rare: np.ndarray, x: np.ndarray, bounds: tuple[float, float], resolution: float | None,
                     single: bool = False) -> np.ndarray:
    """Each of `x`, one of the sorted `rare` floats, moved to the nearest float that is not, inside `bounds`,
    and, with a `resolution`, `shared` (so that cast back it is a value of the column no row holds; one that
    is not may round back to a rare value: X - 0.5 for an integer X in [2^51, 2^52)); left where neither
    side has one. The floats' bits, ordered (``_float_keys``), number consecutive floats by consecutive
    integers, so the free floats beside a run of rare ones are found as ``_nearest_free`` finds lattice
    points, at any distance (a block of floats each read from 5 rows, around X held by 2, left X where
    three floats each side were all rare). With `single`, FLOATs (a FLOAT column's values, as doubles)."""
    below, above = _floats_beside(rare, x, single)
    ok_below = (below >= bounds[0]) & (below <= bounds[1])
    ok_above = (above >= bounds[0]) & (above <= bounds[1])
    if resolution is not None:
        ok_below &= shared(below, resolution)
        ok_above &= shared(above, resolution)
    return _nearer(x, below, above, ok_below, ok_above)


def _floats_beside(rare: np.ndarray, x: np.ndarray, single: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """For each of `x`, one of the sorted `rare` floats, the floats just below and just above its run of consecutive
    rare floats (FLOATs with `single`)."""
    units = _float_keys(rare, single)  # ascending, as `rare` is
    units = units[np.r_[True, units[1:] != units[:-1]]] if len(units) else units  # +0 and -0 share a key
    below, above = _beside_run(units, *_run_bounds(units), _float_keys(x, single))
    return _key_floats(below, single), _key_floats(above, single)


def _nearer(x: np.ndarray, below: np.ndarray, above: np.ndarray, ok_below: np.ndarray, ok_above: np.ndarray
            ) -> np.ndarray:
    """Each x's nearer of `below` and `above` among those allowed (`ok_*`; below on a tie), x where neither is."""
    out = np.where(((x - below <= above - x) & ok_below) | ~ok_above, below, above)
    return np.where(ok_below | ok_above, out, x)


def _step_decimals(x: np.ndarray, step: float) -> np.ndarray:
    """Multiples of a lattice `step` written with its decimals (0.30000000000000004 as 0.3)."""
    return np.round(x, max(0, -int(np.floor(np.log10(step)))) if step < 1 else 0)


def _run_bounds(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of consecutive integers among the sorted distinct `units` starts and ends (indices)."""
    starts = np.flatnonzero(np.r_[True, np.diff(units) != 1])
    return starts, np.r_[starts[1:], len(units)] - 1


def _beside_run(units: np.ndarray, starts: np.ndarray, ends: np.ndarray, at: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """For each of `at` (one of `units`), the integers just below and just above its run (``_run_bounds``)."""
    run = np.clip(np.searchsorted(units[starts], at, side="right") - 1, 0, len(starts) - 1)
    return units[starts[run]] - 1, units[ends[run]] + 1


_SIGN = np.int64(-2**63)


def _float_keys(x: np.ndarray, single: bool = False) -> np.ndarray:
    """Integers in the order of the floats `x` (finite), consecutive for consecutive floats (FLOATs with
    `single`)."""
    if single:
        bits = np.ascontiguousarray(x, dtype=np.float64).astype(np.float32).view(np.int32).astype(np.int64)
        return np.where(bits >= 0, bits, -(bits & 0x7FFFFFFF))
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.int64)
    return np.where(bits >= 0, bits, -(bits & ~_SIGN))


def _key_floats(keys: np.ndarray, single: bool = False) -> np.ndarray:
    """The floats of `_float_keys`' integers (as doubles)."""
    if single:
        bits = np.where(keys >= 0, keys, (-keys) | -0x80000000).astype(np.int32)
        return bits.view(np.float32).astype(np.float64)
    bits = np.where(keys >= 0, keys, (-keys) | _SIGN)
    return np.ascontiguousarray(bits, dtype=np.int64).view(np.float64)


def _nearest_free(rare: np.ndarray, x: np.ndarray, step: float, bounds: tuple[float, float]) -> np.ndarray:
    """For lattice points `x` (multiples of `step`) among the sorted `rare` values, the nearest lattice
    point that is not, inside `bounds` where one side allows."""
    below, above = _points_beside(rare, x, step)
    return _nearer(x, below, above, below >= bounds[0], above <= bounds[1])  # none in bounds: x


def _points_beside(rare: np.ndarray, x: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """For lattice points `x` among the sorted `rare` values, the lattice points just below and just above each
    one's run of consecutive rare points (each rare value at its nearest): the free neighbours are just outside it."""
    units, starts, ends, _ = _runs(rare, step, False)
    below, above = _beside_run(units, starts, ends, np.round(_steps(x, step)))
    return _of_steps(below, step), _of_steps(above, step)


def _declared_ends(dom: NumericDomain) -> tuple[float, float]:
    """A declared range's ends as the first and last points inside it of the lattice the column's values are written
    on (its decimals or time unit, ``_rare_step``), where the range holds one; as declared otherwise. A draw clipped
    onto a strict bound's end had left that lattice: `a > 0` on thousandths gave 5e-324, `t > TIME '08:00:00'` on
    whole seconds 08:00:00.000001 (12-15 rows of 3,000 a seed in balanced mode: the fuzz sweep of 50cd76f)."""
    lo, hi = (float(b) for b in dom.column.declared.bounds)
    step = _rare_step(dom)
    if step is None or not all(abs(b) / step < 2.0**52 for b in (lo, hi) if math.isfinite(b)):
        return lo, hi
    single = dom.column.type.upper() == "FLOAT"  # (its ends are FLOATs: a point is inside as its FLOAT is)
    ends = [lo, hi]
    for i, (b, way) in enumerate(((lo, 1), (hi, -1))):
        if not math.isfinite(b):
            continue
        at = float(_steps(np.array([b]), step)[0])  # (in extended precision: 1000000.19 is 100000019 cents)
        # the first point inside (a FLOAT's end is a FLOAT, 0.9 one of 0.89999998: ``lattice_tolerance``), then, where
        # it lies outside as the column holds it, the next one inward
        tol = lattice_tolerance(b, step, single)
        k = math.ceil(at - tol) if way > 0 else math.floor(at + tol)
        point = float(_of_steps(np.array([k]), step)[0])
        held = float(np.float32(point)) if single else point
        if (held < b) if way > 0 else (held > b):  # (a strict bound's end a float past a point: the next one)
            point = float(_of_steps(np.array([k + way]), step)[0])
        ends[i] = point
    return (ends[0], ends[1]) if ends[0] <= ends[1] else (lo, hi)


def _written_bounds(col: Column) -> tuple[float, float]:
    """The range a column's values are written within, as floats: its type's, narrowed by a declared range."""
    low, high = _double_bounds(col)
    if col.declared is not None and col.declared.bounds is not None:
        low, high = max(low, float(col.declared.bounds[0])), min(high, float(col.declared.bounds[1]))
    return low, high


def _double_bounds(col: Column) -> tuple[float, float]:
    """The type's range as doubles that are inside it (2^64 - 1 rounds up to 2^64 as a double)."""
    if col.type_range is None:
        return -np.inf, np.inf
    lo, hi = col.type_range
    low, high = float(lo), float(hi)
    if low < lo:
        low = float(np.nextafter(low, np.inf))
    if high > hi:
        high = float(np.nextafter(high, -np.inf))
    if col.type.upper() in ("HUGEINT", "UHUGEINT"):  # Arrow carries them as DECIMAL(38,0), which holds less than 1e38
        # in magnitude (a UHUGEINT past 2^127 came back negative, and the cast back failed; one clipped at 2^127 - 1 made
        # a decimal past the type's precision); 1e38 as a float is 99999999999999997748809823456034029568, inside
        low, high = max(low, -1e38), min(high, 1e38)
    return low, high


def _in_sorted(sorted_values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Whether each x is one of `sorted_values` (finite floats, in ascending order).

    A hash of each value's bits into a table of flags (``_flags``, kept per array of values) sets
    aside the rows that cannot be one: with eight slots a value, all but about an eighth. Those
    left are looked up in sorted order: numpy's search starts each sorted key where the last one
    ended, and the probes stay in cache. A batch of 170k rows among 984k rare timestamps: 21 ms
    with the sorted lookup alone, among 3k rare prices 15 ms (1M x 50, balanced mode)."""
    if not len(sorted_values) or not len(x):
        return np.zeros(len(x), dtype=bool)
    table, shift = _flags(sorted_values)
    maybe = np.flatnonzero(table[_slot(x, shift)])
    out = np.zeros(len(x), dtype=bool)
    xm = x[maybe]
    order = np.argsort(xm)
    xs = xm[order]
    pos = np.minimum(np.searchsorted(sorted_values, xs), len(sorted_values) - 1)
    out[maybe[order]] = sorted_values[pos] == xs
    return out


_HASH = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of bits x this odd constant
FLAG_SLOTS = 1 << 23  # a table of flags has 8 slots a value, up to this many (a value in 8 of a set of 1M or more)
FLAGS_KEPT = 1 << 26  # bytes of tables kept for the batches to come (a few columns' worth of unique timestamps)
_FLAGS: dict[int, tuple[weakref.ref, np.ndarray, np.uint64]] = {}  # id(values) -> (weak ref to values, flags, shift)


def _slot(x: np.ndarray, shift: np.uint64) -> np.ndarray:
    """Each value's slot: equal values (0.0 and -0.0 alike: + 0.0 makes both 0.0) share one."""
    with np.errstate(over="ignore"):
        return ((x + 0.0).view(np.uint64) * _HASH) >> shift


def _flags(values: np.ndarray) -> tuple[np.ndarray, np.uint64]:
    """A table flagging the slots of `values`; the latest kept (while their values live), up to FLAGS_KEPT bytes."""
    for key in [k for k, (ref, _, _) in _FLAGS.items() if ref() is None]:  # a finished run's: dropped
        del _FLAGS[key]
    key = id(values)
    if key not in _FLAGS or _FLAGS[key][0]() is not values:
        bits = min(max(int(8 * len(values) - 1).bit_length(), 6), FLAG_SLOTS.bit_length() - 1)
        shift = np.uint64(64 - bits)
        table = np.zeros(1 << bits, dtype=bool)
        table[_slot(np.asarray(values, dtype=np.float64), shift)] = True
        while _FLAGS and sum(len(t) for _, t, _ in _FLAGS.values()) + len(table) > FLAGS_KEPT:
            _FLAGS.pop(next(iter(_FLAGS)))
        _FLAGS[key] = (weakref.ref(values), table, shift)
    return _FLAGS[key][1], _FLAGS[key][2]


def _typed(col: Column, x: np.ndarray, isnull: np.ndarray,
           exact: tuple[np.ndarray, np.ndarray] | None = None) -> pa.Array:
    """The column's Arrow array from its values as floats; `exact` (``_exact_rows``: rows and the BIGINT,
    TIMESTAMP or TIMESTAMP_NS value each stands for: an integer, microseconds, nanoseconds) puts those values
    back exactly."""
    t = col.type.upper()
    x = np.where(isnull, 0.0, x)
    if t == "DATE":
        return pa.array(_infinite(np.clip(x, *temporal_ends(col)).astype(np.int32), x), type=pa.date32(), mask=isnull)
    if t == "TIME":
        # 24:00:00 is a TIME (DuckDB's range ends there, and Arrow carries it): it had come back as 23:59:59.999999
        return pa.array(np.clip(x, 0, DAY_US).astype(np.int64), type=pa.time64("us"), mask=isnull)
    if col.kind == "temporal":
        tz = "UTC" if "TIME ZONE" in t else None
        ends = temporal_ends(col)
        us = np.clip(x, *ends)
        unit = TYPE_UNIT_US.get(t)
        # A TIMESTAMP_S's or _MS's whole units, rounded: past 2^56 microseconds (milliseconds after 4253) a
        # float is not the unit's multiple exactly, and the cast to the type cut 23:59:59.999 to .998.
        if unit is None:
            whole = us.astype(np.int64)
        else:  # within the range in whole units (9999-12-31 23:59:59.999968 rounds up into the year 10000)
            units = np.clip(np.rint(us / unit), np.ceil(ends[0] / unit), np.floor(ends[1] / unit))
            whole = units.astype(np.int64) * int(unit)
        if t == "TIMESTAMP_NS":  # in nanoseconds: a point's rows get the value its rows hold (``_exact_rows``)
            return pa.array(_infinite(_exactly(whole * 1000, exact), x), type=pa.timestamp("ns"), mask=isnull)
        return pa.array(_infinite(_exactly(whole, exact), x), type=pa.timestamp("us", tz=tz), mask=isnull)
    if exact is not None and t == "BIGINT":  # past 2^62 too: 2^63 (a sentinel 2^63 - 1) has no int64
        whole = np.rint(np.clip(x, -(2.0**63), np.nextafter(2.0**63, 0))).astype(np.int64)
        return pa.array(_exactly(whole, exact), type=pa.int64(), mask=isnull)
    if col.integer and col.scale is None and abs(x).max(initial=0) < 2**62:
        return pa.array(np.rint(x).astype(np.int64), type=pa.int64(), mask=isnull)  # not toward 0: -X - 0.5 is not -X
    return pa.array(x, type=pa.float64(), mask=isnull)


def _infinite(whole: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A date's days or a timestamp's units (`whole`, int32 or int64) with the rows whose float `x` is +-inf (a
    +-infinity bucket's, ``NumericDomain.specials``) set to the type's largest value and its negation: DuckDB's
    +-infinity, as Arrow carries it."""
    inf = np.isinf(x)
    if inf.any():
        top = np.iinfo(whole.dtype).max
        whole[inf] = np.where(x[inf] > 0, top, -top)
    return whole


def _exact_rows(x: np.ndarray, number: np.ndarray, exact_of: tuple[np.ndarray, np.ndarray] | None
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows (of those with a `number`) whose float is one of `exact_of`'s (``NumericDomain.exact_of``),
    and the value each stands for (int64); None where there are none."""
    if exact_of is None or not len(exact_of[0]):
        return None
    floats, ints = exact_of
    at = np.minimum(np.searchsorted(floats, x), len(floats) - 1)
    rows = np.flatnonzero(number & (floats[at] == x))
    return (rows, ints[at[rows]]) if len(rows) else None


def _exactly(whole: np.ndarray, exact: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """`whole` (int64) with `exact`'s rows set to their values (``_exact_rows``)."""
    if exact is not None:
        whole[exact[0]] = exact[1]
    return whole


def cast_projection(types: list[tuple[str, str]]) -> str:
    """``CAST("c" AS type) AS "c", ...`` for (column, DuckDB type) pairs."""
    return ", ".join(f"CAST({quote_ident(c)} AS {t}) AS {quote_ident(c)}" for c, t in types)


def cast_sql(columns: list[Column], table_name: str, vc_columns: set[str] = frozenset()) -> str:
    """SELECT that casts each decoded column to its exact source type.

    A DECIMAL the floats may not hold (``decimal_past_floats``: 16 digits or more, DECIMAL(38,18) from Spark) is
    written from the float's shortest decimal (DuckDB's DOUBLE to VARCHAR), rounded to the scale: DuckDB's DOUBLE
    to DECIMAL cast multiplies by 10^scale in doubles, and past 2^53 wrote digits the float never held (1000047.0
    as 1000047.000000000061079552, 0.5 rounded to 18 places as 0.500000000000000001 where it is past 2^53 in
    the product). The value a float is written as is then the one ``written_sql`` counts rows of."""
    parts = []
    for c in columns:
        q = quote_ident(c.name)
        target = "VARCHAR" if c.name in vc_columns else c.type
        if c.name not in vc_columns and decimal_past_floats(c):
            written = written_sql(q, target)
            if c.declared is not None and c.declared.exact:  # a listed or equal value: itself, not its float's
                cases = " ".join(f"WHEN {q} = CAST('{x!r}' AS DOUBLE) THEN CAST('{v}' AS {target})"
                                 for x, v in c.declared.exact)
                written = f"CASE {cases} ELSE {written} END"
            parts.append(f"{written} AS {q}")
        elif c.scale is not None and c.name not in vc_columns:
            parts.append(f"CAST(round({q}, {c.scale}) AS {target}) AS {q}")
        else:
            parts.append(f"CAST({q} AS {target}) AS {q}")
    return f"SELECT {', '.join(parts)} FROM {table_name}"
