"""Tables over sorted sets of columns, and the arithmetic the estimator needs.

A `Factor` is a dense ``numpy`` array whose axes are the columns in ``attrs``,
always in increasing order. Because both sides of every operation are sorted,
aligning two factors never needs a transpose: a factor over a subset is
broadcast to a superset by a reshape that inserts axes of length 1.

A factor does not say whether it holds log values or linear ones; the caller
picks the operation (`logsumexp` for log potentials, `sum` for counts).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Clique = tuple[int, ...]


def positions(attrs: Clique, target: Clique) -> tuple[int, ...]:
    """Axes of `target` (sorted) that hold the columns of `attrs` (a sorted subset)."""
    index = {a: i for i, a in enumerate(target)}
    try:
        return tuple(index[a] for a in attrs)
    except KeyError:
        missing = sorted(set(attrs) - set(target))
        raise ValueError(f"columns {missing} of {attrs} are not in {target}") from None


def broadcast_shape(attrs: Clique, target: Clique, shape: Sequence[int]) -> tuple[int, ...]:
    """Shape that lays a table over `attrs` (of `shape`) along the axes of `target`."""
    out = [1] * len(target)
    for p, n in zip(positions(attrs, target), shape):
        out[p] = n
    return tuple(out)


SHORT_TAIL = 4  # a trailing run of at most this many values is summed by strided adds, not einsum:
# on 250k cells, 0.13 ms against 0.73 ms for a run of 2 (einsum's inner loop is the run)
SMALL_CELLS = 1024  # a table of at most this many cells is summed by one bincount over a kept index of
# each cell's target cell: 1.9 against 6.2 us for (4, 4, 4, 4, 4) down to two axes, as fast as the passes
# at 2,048 cells, slower past them. Cars' fits sum 180 measured marginals of a few cells each a step.


class Reducer:
    """Sums tables over `attrs` (of `shape`) down to `keep`: planned once, applied many times.

    Adjacent axes that are both kept or both summed are merged by a reshape.
    Then one run of summed axes at a time goes, a trailing, leading or middle
    run, as a sum over one axis of a 2- or 3-axis view (``np.einsum``, one
    thread): on 4- to 7-column tables about 4 times as fast as ``ndarray.sum``
    over the same axes. Not a matrix-vector product with ones: OpenBLAS's
    threads made that 50 times slower (7.9 ms against 0.16 ms on a million
    cells) as soon as another process shared the two cores, and weather's eps = 3
    run took 54 CPU seconds against 19.
    """

    def __init__(self, attrs: Clique, shape: Sequence[int], keep: Clique) -> None:
        keep_set = set(positions(tuple(keep), tuple(attrs)))
        self.out_shape = tuple(int(shape[i]) for i in sorted(keep_set))
        self.out_size = math.prod(self.out_shape)
        self.index: np.ndarray | None = None  # small tables: each cell's target cell (``SMALL_CELLS``)
        # An axis of length 1 needs no sum (a reshape drops it): it counts as kept.
        groups = _merge([(i in keep_set or int(n) == 1, int(n)) for i, n in enumerate(shape)])
        self.steps: list[tuple[str, tuple[int, ...]]] = []
        while summed := [j for j, (kept, _) in enumerate(groups) if not kept]:
            if summed[-1] == len(groups) - 1:
                j = summed[-1]
                self.steps.append(("tail", (-1, groups[j][1])))
            elif summed[0] == 0:
                j = 0
                self.steps.append(("head", (groups[0][1], -1)))
            else:
                j = max(summed, key=lambda j: groups[j][1])
                outer = math.prod(n for _, n in groups[:j])
                self.steps.append(("middle", (outer, groups[j][1], -1)))
            groups = _merge(groups[:j] + groups[j + 1:])
        shape = tuple(int(n) for n in shape)
        if self.steps and math.prod(shape) <= SMALL_CELLS:
            kept = sorted(keep_set)
            self.index = np.ravel_multi_index(tuple(np.indices(shape)[kept]), self.out_shape).ravel() \
                if kept else np.zeros(math.prod(shape), dtype=np.intp)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if self.index is not None and values.dtype == np.float64:
            return np.bincount(self.index, weights=values.ravel(), minlength=self.out_size).reshape(self.out_shape)
        v = values
        for kind, shape in self.steps:
            if kind == "tail" and shape[1] <= SHORT_TAIL:  # a few strided adds beat einsum's short inner loop
                w = v.reshape(shape)
                v = w[:, 0].copy()
                for j in range(1, shape[1]):
                    v += w[:, j]
            elif kind == "tail":
                v = np.einsum("ab->a", v.reshape(shape))
            elif kind == "head":
                v = np.einsum("ab->b", v.reshape(shape))
            else:
                v = np.einsum("abc->ac", v.reshape(shape))
        return np.asarray(v).reshape(self.out_shape)


def share_groups(parts: Sequence[Clique], size: dict[int, int] | Sequence[int], cells: int,
                 share: int) -> list[tuple[Clique, list[int]]]:
    """Group tables over `parts` (in the order given) so that each group's union has at most
    ``cells / share`` cells: a table joins the existing group whose union it grows least, if it
    fits, else starts one. Returns (union, member positions) per group. A group's tables then go
    through one table over their union, and a large table is passed over once per group."""
    groups: list[tuple[set[int], list[int]]] = []
    for i, part in enumerate(parts):
        fits = [(math.prod(size[a] for a in u | set(part)), g) for g, (u, _) in enumerate(groups)]
        fits = [(n, g) for n, g in fits if share * n <= cells]
        if fits:
            _, g = min(fits)
            groups[g][0].update(part)
            groups[g][1].append(i)
        else:
            groups.append((set(part), [i]))
    return [(tuple(sorted(u)), ids) for u, ids in groups]


class MultiReducer:
    """Several sums of one table (over `attrs`, of `shape`) down to `targets`, sharing passes: planned once.

    Targets whose union is at most 1/``SHARE`` of the table go together: the table is summed
    once down to their union, and each target from that (recursively). Every other target is
    summed from the table directly. A target given twice is summed once. A target that is the
    whole table comes back as a copy.
    """

    SHARE = 4

    def __init__(self, attrs: Clique, shape: Sequence[int], targets: Sequence[Clique]) -> None:
        attrs, shape = tuple(attrs), tuple(int(n) for n in shape)
        size = dict(zip(attrs, shape))
        self.targets = [tuple(t) for t in targets]
        unique = list(dict.fromkeys(self.targets))
        ordered = sorted(unique, key=lambda t: (-math.prod(size[a] for a in t), t))
        self.plan: list[tuple[Reducer | None, MultiReducer | None, list[Clique]]] = []
        if math.prod(shape) <= SMALL_CELLS:  # each target by its own bincount: no pass to share
            self.plan = [(None if t == attrs else reducer(attrs, shape, t), None, [t]) for t in ordered]
            return
        for u, ids in share_groups(ordered, size, math.prod(shape), self.SHARE):
            members = [ordered[i] for i in ids]
            if len(members) == 1:
                self.plan.append((None if u == attrs else reducer(attrs, shape, u), None, members))
            else:
                inner = multi_reducer(u, tuple(size[a] for a in u), tuple(members))
                self.plan.append((reducer(attrs, shape, u), inner, members))

    def __call__(self, values: np.ndarray) -> list[np.ndarray]:
        got: dict[Clique, np.ndarray] = {}
        for reduce, inner, members in self.plan:
            if reduce is None:
                got[members[0]] = values.copy()
                continue
            table = reduce(values)
            if inner is None:
                got[members[0]] = table
            else:
                got.update(zip(inner.targets, inner(table)))
        return [got[t] for t in self.targets]


class MultiBroadcast:
    """Multiplies several tables over subsets of `attrs` into one table over `attrs` (of `shape`),
    planned once: tables whose union is at most 1/``SHARE`` of the target are multiplied together
    over their union first, then broadcast in one pass (a broadcast pass over a large table costs
    several plain ones when the subset's axes are scattered)."""

    SHARE = 4

    def __init__(self, attrs: Clique, shape: Sequence[int], parts: Sequence[Clique]) -> None:
        attrs, shape = tuple(attrs), tuple(int(n) for n in shape)
        size = dict(zip(attrs, shape))
        order = sorted(range(len(parts)), key=lambda i: (-math.prod(size[a] for a in parts[i]), i))
        self.plan: list[tuple[tuple[int, ...], list[tuple[int, Broadcast]], Broadcast]] = []
        for u, picked in share_groups([parts[i] for i in order], size, math.prod(shape), self.SHARE):
            ids = [order[i] for i in picked]
            u_shape = tuple(size[a] for a in u)
            inner = [(i, broadcast(tuple(parts[i]), u, u_shape)) for i in ids] if len(ids) > 1 else [(ids[0], None)]
            self.plan.append((u_shape, inner, broadcast(u, attrs, shape)))

    def multiply_into(self, out: np.ndarray, values: Sequence[np.ndarray]) -> None:
        """out *= the product of `values` (one per part, in order), each broadcast (in place)."""
        for u_shape, inner, into in self.plan:
            if inner[0][1] is None:
                into.multiply_into(out, values[inner[0][0]])
                continue
            table = np.ones(u_shape)
            for i, b in inner:
                b.multiply_into(table, values[i])
            into.multiply_into(out, table)


class Broadcast:
    """Adds tables over `attrs` (a sorted subset of `target`) into tables over `target`, planned once.

    Adjacent axes of `target` that `attrs` both holds or both lacks are merged
    first: fewer, longer axes make numpy's broadcasting loops faster.
    """

    def __init__(self, attrs: Clique, target: Clique, target_shape: Sequence[int]) -> None:
        held = set(positions(tuple(attrs), tuple(target)))
        groups = _merge([(i in held, int(n)) for i, n in enumerate(target_shape)])
        self.full = tuple(n for _, n in groups)
        self.part = tuple(n if inside else 1 for inside, n in groups)
        self.target_shape = tuple(int(n) for n in target_shape)

    def add_into(self, out: np.ndarray, values: np.ndarray) -> None:
        """out += values, broadcast (in place; `out` must be C-contiguous)."""
        if not out.flags.c_contiguous:
            raise ValueError("can only add in place into a C-contiguous table")
        view = out.reshape(self.full)
        view += values.reshape(self.part)

    def assign(self, out: np.ndarray, values: np.ndarray) -> None:
        """out[...] = values, broadcast (in place; `out` must be C-contiguous)."""
        if not out.flags.c_contiguous:
            raise ValueError("can only assign in place into a C-contiguous table")
        out.reshape(self.full)[...] = values.reshape(self.part)

    def multiply_into(self, out: np.ndarray, values: np.ndarray) -> None:
        """out *= values, broadcast (in place; `out` must be C-contiguous)."""
        if not out.flags.c_contiguous:
            raise ValueError("can only multiply in place into a C-contiguous table")
        view = out.reshape(self.full)
        view *= values.reshape(self.part)

    def expand(self, values: np.ndarray) -> np.ndarray:
        """A new table over `target` holding `values` broadcast."""
        return np.broadcast_to(values.reshape(self.part), self.full).reshape(self.target_shape).copy()


PLANS = 1 << 14  # plans kept by the factories below (a few hundred bytes each)


@functools.lru_cache(maxsize=PLANS)
def reducer(attrs: Clique, shape: tuple[int, ...], keep: Clique) -> Reducer:
    """``Reducer(attrs, shape, keep)``, planned once per process: a refit builds the plans of a tree
    that mostly repeats the last one (on cars' 53-clique trees, planning cost a refit as much as two
    of its steps)."""
    return Reducer(attrs, shape, keep)


@functools.lru_cache(maxsize=PLANS)
def broadcast(attrs: Clique, target: Clique, target_shape: tuple[int, ...]) -> Broadcast:
    """``Broadcast(attrs, target, target_shape)``, planned once per process (as `reducer`)."""
    return Broadcast(attrs, target, target_shape)


@functools.lru_cache(maxsize=PLANS)
def multi_reducer(attrs: Clique, shape: tuple[int, ...], targets: tuple[Clique, ...]) -> MultiReducer:
    """``MultiReducer(attrs, shape, targets)``, planned once per process (as `reducer`)."""
    return MultiReducer(attrs, shape, targets)


@functools.lru_cache(maxsize=PLANS)
def multi_broadcast(attrs: Clique, shape: tuple[int, ...], parts: tuple[Clique, ...]) -> MultiBroadcast:
    """``MultiBroadcast(attrs, shape, parts)``, planned once per process (as `reducer`)."""
    return MultiBroadcast(attrs, shape, parts)


def _merge(groups: list[tuple[bool, int]]) -> list[tuple[bool, int]]:
    out: list[tuple[bool, int]] = []
    for kept, n in groups:
        if out and out[-1][0] == kept:
            out[-1] = (kept, out[-1][1] * n)
        else:
            out.append((kept, n))
    return out


def logsumexp(values: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
    """log(sum(exp(values))) over `axis`, stable; slices that are all -inf give -inf."""
    if not axis:
        return values
    m = np.max(values, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(values - m), axis=axis, keepdims=True)) + m
    return out.reshape(tuple(n for i, n in enumerate(values.shape) if i not in axis))


@dataclass(frozen=True)
class Factor:
    """A table over `attrs` (sorted column indices); ``values.shape`` follows them."""

    attrs: Clique
    values: np.ndarray

    def __post_init__(self) -> None:
        if tuple(sorted(set(self.attrs))) != tuple(self.attrs):
            raise ValueError(f"factor columns {self.attrs} must be sorted and distinct")
        if np.ndim(self.values) != len(self.attrs):
            raise ValueError(f"factor over {self.attrs} has a {np.ndim(self.values)}-d table")

    @staticmethod
    def zeros(attrs: Clique, sizes: Sequence[int]) -> Factor:
        """The all-zero factor over `attrs` (a uniform log potential)."""
        return Factor(tuple(attrs), np.zeros(tuple(int(sizes[a]) for a in attrs)))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def sizes(self) -> dict[int, int]:
        """Domain size of each column of the factor."""
        return dict(zip(self.attrs, self.values.shape))

    def aligned(self, target: Clique) -> np.ndarray:
        """The values reshaped to broadcast against a table over `target` (a superset)."""
        return self.values.reshape(broadcast_shape(self.attrs, target, self.values.shape))

    def expand(self, target: Clique, sizes: Sequence[int]) -> Factor:
        """The same function as a full table over `target` (a sorted superset of attrs)."""
        shape = tuple(int(sizes[a]) for a in target)
        return Factor(tuple(target), np.broadcast_to(self.aligned(target), shape).copy())

    def _summed_axes(self, keep: Clique) -> tuple[int, ...]:
        positions(keep, self.attrs)  # validates that keep is a subset
        return tuple(i for i, a in enumerate(self.attrs) if a not in keep)

    def project(self, keep: Clique) -> Factor:
        """Sum out every column not in `keep` (linear values: counts or probabilities)."""
        keep = tuple(keep)
        if keep == self.attrs:
            return self
        return Factor(keep, Reducer(self.attrs, self.values.shape, keep)(self.values))

    def logsumexp(self, keep: Clique) -> Factor:
        """Sum out every column not in `keep` in log space."""
        return Factor(tuple(keep), logsumexp(self.values, self._summed_axes(keep)))

    def _binary(self, other: Factor | float, op) -> Factor:
        if not isinstance(other, Factor):
            return Factor(self.attrs, op(self.values, other))
        if other.attrs == self.attrs:
            return Factor(self.attrs, op(self.values, other.values))
        union = tuple(sorted(set(self.attrs) | set(other.attrs)))
        return Factor(union, op(self.aligned(union), other.aligned(union)))

    def __add__(self, other: Factor | float) -> Factor:
        return self._binary(other, np.add)

    def __sub__(self, other: Factor | float) -> Factor:
        return self._binary(other, np.subtract)

    def __mul__(self, other: Factor | float) -> Factor:
        return self._binary(other, np.multiply)

    def __truediv__(self, other: Factor | float) -> Factor:
        """Division with 0/0 = 0 (a conditional table where the condition has no mass)."""
        def divide(a, b):
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.divide(a, b)
            return np.where(np.broadcast_to(b, out.shape) == 0, 0.0, out)
        return self._binary(other, divide)

    __radd__ = __add__
    __rmul__ = __mul__

    def exp(self) -> Factor:
        return Factor(self.attrs, np.exp(self.values))

    def log(self) -> Factor:
        with np.errstate(divide="ignore"):
            return Factor(self.attrs, np.log(self.values))
