"""The workload: which marginals the user cares about, as column sets with weights.

A user's ``marginals`` option names columns; the run works on indices into the
modelled columns. The default is every 2- and 3-way marginal. Candidates for the
model are the workload's downward closure, each weighted by its overlap with it.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

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


def candidates(workload: Workload, *, min_order: int = 2) -> Candidates:
    """The downward closure of the workload, each candidate weighted by its overlap with the workload."""
    # sum over s of w_s |r & s| = sum over columns c of r of W_c, W_c the weight of the cliques holding c.
    per_column: dict[int, float] = {}
    for cl, w in workload:
        for c in set(cl):
            per_column[c] = per_column.get(c, 0.0) + w
    closure = {tuple(sorted(s)) for cl, _ in workload for k in range(min_order, len(cl) + 1)
               for s in itertools.combinations(cl, k)}
    return Candidates((r, sum(per_column[c] for c in r)) for r in sorted(closure))


class Candidates(dict):
    """Candidate cliques (sorted) and their weights: a dict in sorted order that also gives the k-th
    candidates of that order (``at``), as `EveryMarginal` does without listing them."""

    def at(self, ks: Sequence[int]) -> list[Clique]:
        """The candidates at positions `ks` of the sorted order."""
        listed = list(self)
        return [listed[k] for k in ks]

    def max_weight(self) -> float:
        return max(self.values())


class EveryMarginal(Mapping):
    """``candidates(default_workload(d, skip=skip))`` without listing them: every 2- and 3-way marginal
    of the m columns not in `skip` (m >= 3), in sorted order, each weighted by its overlap with that
    workload, which is the same for every column (the C(m-1, 2) triples and m - 1 pairs holding it),
    so a candidate weighs its size times that. A table of 300 columns has 4.5 million of them: the
    adaptive rounds score a random thousand a round, drawn by position (``at``), and listing them
    all took longer than the rounds (12 of 30 CPU s, and 0.6 GB).

    Sorted order: for each pair (a, b) in order, the pair, then each triple (a, b, c) with c > b.
    """

    def __init__(self, d: int, skip: frozenset[int] = frozenset()) -> None:
        self.cols = np.array([i for i in range(d) if i not in skip], dtype=np.int64)
        m = len(self.cols)
        if m < 3:
            raise ValueError(f"EveryMarginal needs 3 or more columns, got {m}")
        self._member = {int(c) for c in self.cols}
        self.weight = float(math.comb(m - 1, 2) + (m - 1))  # integers: sums of them are exact in float64
        self.first, self.second = (a.astype(np.int64) for a in np.triu_indices(m, 1))  # pairs, sorted
        block = m - self.second  # the pair and the triples after it
        self.starts = np.concatenate([[0], np.cumsum(block)[:-1]])
        self.size = int(block.sum())

    def __len__(self) -> int:
        return self.size

    def __contains__(self, r: object) -> bool:
        return (isinstance(r, tuple) and 2 <= len(r) <= 3 and all(a in self._member for a in r)
                and all(a < b for a, b in zip(r, r[1:])))

    def __getitem__(self, r: Clique) -> float:
        if r not in self:
            raise KeyError(r)
        return len(r) * self.weight

    def __iter__(self) -> Iterator[Clique]:
        for k in range(0, self.size, 65_536):
            yield from self.at(range(k, min(k + 65_536, self.size)))

    def at(self, ks: Sequence[int]) -> list[Clique]:
        """The candidates at positions `ks` of the sorted order."""
        ks = np.asarray(ks, dtype=np.int64)
        if ks.size and (ks.min() < 0 or ks.max() >= self.size):
            raise IndexError("candidate position out of range")
        p = np.searchsorted(self.starts, ks, side="right") - 1
        off = ks - self.starts[p]
        a, b = self.cols[self.first[p]], self.cols[self.second[p]]
        c = self.cols[np.minimum(self.second[p] + off, len(self.cols) - 1)]
        return [(int(x), int(y)) if o == 0 else (int(x), int(y), int(z))
                for x, y, z, o in zip(a.tolist(), b.tolist(), c.tolist(), off.tolist())]

    def max_weight(self) -> float:
        return 3 * self.weight
