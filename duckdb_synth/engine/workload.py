"""The workload: which marginals the user cares about, as column sets with weights.

A user's ``marginals`` option names columns; the run works on indices into the
modelled columns. The default is every 2- and 3-way marginal. Candidates for the
model are the workload's downward closure, each weighted by its overlap with it.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..errors import OptionError, did_you_mean
from .marginal import Clique
from .schema import Column, match_column

Workload = list[tuple[Clique, float]]


def resolve(marginals, columns: list[Column], modelled: list[Column],
            mask_map: dict[str, str]) -> Workload | None:
    """The user's marginals as sorted indices into the modelled columns (None: the default workload)."""
    if not marginals:
        return None
    find = _finder(columns, modelled, mask_map)
    return [(tuple(sorted(find(name) for name in cols)), float(weight)) for cols, weight in marginals]


def _finder(columns: list[Column], modelled: list[Column], mask_map: dict[str, str]):
    """name -> index into the modelled columns (an exact name, or the one that differs by case alone);
    an OptionError for a missing, masked or generated column."""
    index = {c.name: i for i, c in enumerate(modelled)}
    names = [c.name for c in columns]

    def find(name: str) -> int:
        real = match_column(name, names)
        if real is None:
            raise OptionError(f"marginals: no column '{name}'{did_you_mean(name, [c.name for c in columns])}; "
                              f"columns: {', '.join(c.name for c in columns)}")
        if real in mask_map:
            raise OptionError(f"marginals: column '{real}' is masked (replaced by random values), "
                              "so it is not modelled")
        if real not in index:
            raise OptionError(f"marginals: column '{real}' is a declared key, filled with fresh unique values, "
                              "so it is not modelled")
        return index[real]

    return find


@dataclass(frozen=True)
class SumPlan:
    """A sum of the workload over the modelled columns: the group's indices (sorted), the summed
    column's index, and the user's clamp (None: the column's domain range)."""

    group: Clique
    value: int
    clamp: tuple[float, float] | None
    label: str


def resolve_sums(sums, columns: list[Column], modelled: list[Column], mask_map: dict[str, str]) -> list[SumPlan]:
    """The user's sums as indices into the modelled columns; the summed column must be a number."""
    find = _finder(columns, modelled, mask_map)
    out = []
    for spec in sums:
        value = find(spec.value)
        col = modelled[value]
        if col.kind != "numeric":
            raise OptionError(f"marginals: {spec.label}: column '{col.name}' is {col.type}, not a number; "
                              "a sum adds up a numeric column")
        group = tuple(sorted({find(name) for name in spec.group}))
        if value in group:
            raise OptionError(f"marginals: {spec.label} is grouped by the summed column itself")
        out.append(SumPlan(group, value, spec.clamp, spec.label))
    return out


def default_workload(d: int, *, max_order: int = 3, skip: frozenset[int] = frozenset()) -> Workload:
    """All 2- and 3-way marginals of the columns not in `skip`, weight 1 each (fewer columns: what exists)."""
    cols = [i for i in range(d) if i not in skip]
    k = min(max_order, len(cols))
    if k < 2:
        return []
    return [(c, 1.0) for c in itertools.combinations(cols, k)] + (
        [(c, 1.0) for c in itertools.combinations(cols, 2)] if k == 3 else [])


def candidates(workload: Workload, *, min_order: int = 2) -> dict[Clique, float]:
    """The downward closure of the workload, each candidate weighted by its overlap with the workload."""
    # sum over s of w_s |r & s| = sum over columns c of r of W_c, W_c the weight of the cliques holding c.
    per_column: dict[int, float] = {}
    for cl, w in workload:
        for c in set(cl):
            per_column[c] = per_column.get(c, 0.0) + w
    closure = {tuple(sorted(s)) for cl, _ in workload for k in range(min_order, len(cl) + 1)
               for s in itertools.combinations(cl, k)}
    return {r: sum(per_column[c] for c in r) for r in sorted(closure)}
