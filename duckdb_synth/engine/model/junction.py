"""Junction trees: triangulate the graph of the measured cliques and join its maximal cliques.

The graph has one node per column and an edge between two columns that share a
clique. A greedy elimination (simplicial columns first, then the column whose
elimination clique has the fewest cells) makes it chordal; the elimination
cliques that are maximal are the nodes of the tree, and a maximum spanning tree
on separator size joins them. For a chordal graph every such tree has the
running intersection property, so it is a junction tree. Columns that share no
clique with the rest are cliques of one, joined by empty separators: the tree
is always connected.

`calibrate` runs belief propagation on the tree: the clique marginals of the
log-linear model whose log potentials live on the tree's cliques. `calibrate_linear`
does the same from tables already exponentiated, with no pass of ``exp`` over the
cliques (the estimator's hot loop: ``exp`` of a float64 costs ten times an add here).
"""
from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from ..disjoint import DisjointSets
from .factor import Clique, broadcast, logsumexp, multi_broadcast, multi_reducer, reducer


@dataclass(frozen=True)
class JunctionTree:
    """Maximal cliques and tree edges.

    ``edges`` are (parent, child) pairs in breadth-first order from the root,
    clique 0: the order is the message schedule (reversed: collect toward the
    root; forward: distribute from it) and the ancestral sampling order.
    """

    cliques: list[Clique]
    edges: list[tuple[int, int]]

    def size(self, sizes: Sequence[int]) -> int:
        """Total cells of all maximal cliques (the model's memory, in float64 values)."""
        return sum(math.prod(int(sizes[a]) for a in c) for c in self.cliques)

    def separator(self, i: int, j: int) -> Clique:
        """Columns shared by cliques i and j."""
        return tuple(sorted(set(self.cliques[i]) & set(self.cliques[j])))

    @cached_property
    def _holders(self) -> dict[int, int]:
        """Per column, a bit mask of the cliques that hold it (the tree is never changed once made)."""
        out: dict[int, int] = {}
        for i, c in enumerate(self.cliques):
            for a in c:
                out[a] = out.get(a, 0) | (1 << i)
        return out

    def containing(self, clique: Iterable[int], sizes: Sequence[int] | None = None) -> int | None:
        """Index of the smallest maximal clique that contains `clique`, or None."""
        want = set(clique)
        if want:
            mask = -1
            for a in want:
                mask &= self._holders.get(a, 0)
            found = [i for i in range(len(self.cliques)) if mask >> i & 1]
        else:
            found = list(range(len(self.cliques)))
        if not found:
            return None
        if sizes is None:
            return min(found, key=lambda i: len(self.cliques[i]))
        return min(found, key=lambda i: math.prod(int(sizes[a]) for a in self.cliques[i]))

    def neighbors(self) -> list[list[int]]:
        """Adjacency lists of the tree."""
        out: list[list[int]] = [[] for _ in self.cliques]
        for p, c in self.edges:
            out[p].append(c)
            out[c].append(p)
        return out


def elimination_order(cliques: Sequence[Clique], d: int, sizes: Sequence[int]) -> tuple[list[int], list[Clique]]:
    """Greedy elimination of columns 0..d-1; returns the order and each step's clique.

    A simplicial column (its neighbours already form a clique) is eliminated
    first: that adds no fill, so a chordal graph is left as it is. Otherwise the
    column whose elimination clique has the fewest cells goes next (min-weight),
    ties broken by fewer fill edges, then by index.

    Neighbour sets are bit masks (an int per column): the adaptive rounds ask for the size of
    thousands of candidate trees on a table of 50 columns, and set arithmetic was most of a run.
    """
    order, steps = _eliminate(_graph(cliques, d), tuple(int(n) for n in sizes))
    return list(order), list(steps)


def _graph(cliques: Sequence[Clique], d: int) -> tuple[int, ...]:
    """Neighbour masks of columns 0..d-1 in the graph joining the columns of each clique."""
    adj = [0] * d
    for c in cliques:
        mask = 0
        for a in c:
            if not 0 <= a < d:
                raise ValueError(f"clique {c} names column {a}, outside 0..{d - 1}")
            mask |= 1 << a
        for a in c:
            adj[a] |= mask & ~(1 << a)
    return tuple(adj)


@lru_cache(maxsize=64)
def _eliminate(graph: tuple[int, ...], sizes: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[Clique, ...]]:
    """`elimination_order` of the graph given as neighbour masks, kept for the last few graphs: the
    adaptive rounds size the tree of the marginals chosen plus a pick, then fit on that same graph."""
    order, steps = [], []
    for v, mask, _ in _steps(graph, sizes):
        order.append(v)
        steps.append(tuple(_bits(mask)))
    return tuple(order), tuple(steps)


def _steps(graph: tuple[int, ...], sizes: tuple[int, ...]) -> Iterator[tuple[int, int, int]]:
    """The greedy elimination of `elimination_order`, step by step: (column, its clique's mask, cells)."""
    adj, cells = list(graph), list(sizes)
    return _run(adj, cells, {v: _key(adj, cells, v) for v in range(len(adj))})


def _key(adj: list[int], cells: list[int], v: int) -> tuple[bool, int, int, int]:
    """Column v's place in the greedy order: (fill needed, its elimination clique's cells, edges missing
    among its neighbours, v); the smallest goes first."""
    # One plain loop over v's neighbours (no generators: this is most of a sizing): the
    # elimination clique's cells, and the edges among the neighbours (each counted twice).
    nb = rest = adj[v]
    k, twice, cells_v = 0, 0, cells[v]
    while rest:
        low = rest & -rest
        a = low.bit_length() - 1
        rest ^= low
        k += 1
        twice += (adj[a] & nb).bit_count()
        cells_v *= cells[a]
    f = k * (k - 1) // 2 - twice // 2  # edges missing among v's neighbours
    return (f > 0, cells_v, f, v)


def _run(adj: list[int], cells: list[int], keys: dict[int, tuple], trace: list | None = None,
         keep: int = 0) -> Iterator[tuple[int, int, int]]:
    """The greedy elimination from a state (neighbour masks of the columns left, their keys), in place.
    With `trace`, each of the first `keep` steps first appends the state it starts from (a copy) and
    then the mask of the columns whose keys it recomputed."""
    # A column's key changes only when its neighbours or the edges among them do: after v
    # goes, that is v's neighbours (they lose v, and gain each other), and, where v's
    # neighbours were not all joined (fill), a column with two or more of them as neighbours
    # (the new edges may join two of its neighbours). The rest keep their cached keys.
    # The least key by a heap with lazy deletion: a key recomputed is pushed anew, and an entry popped
    # counts only while it is the column's current key (keys end in their column, so they are unique and
    # the order is min(keys.values())'s, in O(log d) a step instead of O(d): a thousand columns).
    heap = list(keys.values())
    heapq.heapify(heap)
    while keys:
        kept = trace is not None and len(trace) < 2 * keep
        if kept:
            trace.append((list(adj), dict(keys)))
        key = heapq.heappop(heap)
        while keys.get(key[3]) is not key:
            key = heapq.heappop(heap)
        filled, clique_cells, _, v = key
        del keys[v]
        nb, adj[v] = adj[v], 0
        members = _bits(nb)
        touched = nb
        for a in members:
            adj[a] = (adj[a] | nb) & ~(1 << a) & ~(1 << v)
        if filled:
            for u in keys:
                if (adj[u] & nb).bit_count() >= 2:
                    touched |= 1 << u
        for u in _bits(touched):
            keys[u] = _key(adj, cells, u)
            heapq.heappush(heap, keys[u])
        if kept:
            trace.append(touched)
        yield v, nb | 1 << v, clique_cells


class Sizer:
    """``junction_size(cliques + [c], d, sizes, limit)`` for many candidates `c` on one graph, faster.

    The greedy elimination of the graph is run once and kept step by step. A candidate's elimination
    follows it exactly while the step it takes is the one the graph alone took: that is, while the
    column eliminated is no end of a candidate's edge still missing, and no column whose key the
    candidate changes (an end, or a column with both ends of a missing edge as neighbours: 'dirty')
    comes before it in the order. Every other column's key is the graph's own at that step. Only from
    the first step where they part is the elimination run again, from the kept state plus the missing
    edges. The answer is the same as junction_size's, step for step. The states of the first `keep`
    steps are kept (each holds d masks and d keys: a table of a thousand columns would keep 100 MB for
    all of them); a candidate that has not parted by then runs on from the last kept one.
    """

    def __init__(self, cliques: Sequence[Clique], d: int, sizes: Sequence[int], keep: int = 64) -> None:
        self.cliques = [tuple(sorted(set(c))) for c in cliques]
        self.graph = _graph(self.cliques, d)
        self.cells = [int(n) for n in sizes]
        trace: list = []
        self.steps: list[tuple[int, int, int]] = []  # (column, clique mask, cells)
        self.totals: list[int] = []  # maximal cliques' cells before each step
        total = 0
        holding: list[list[int]] = [[] for _ in range(d)]
        adj = list(self.graph)
        for v, mask, clique_cells in _run(adj, self.cells, {v: _key(adj, self.cells, v) for v in range(d)}, trace,
                                          max(1, keep)):
            self.totals.append(total)
            if _maximal(holding, v, mask):
                total += clique_cells
            _hold(holding, v, mask)
            self.steps.append((v, mask, clique_cells))
        self.total = total
        self.states = trace[0::2]  # (neighbour masks, keys) before each step
        self.touched = trace[1::2]

    def size(self, c: Clique, limit: int) -> int:
        """junction_size of the graph's cliques plus `c`, with `limit` (see junction_size)."""
        graph, cells = self.graph, self.cells
        missing = [(a, b) for a, b in itertools.combinations(sorted(set(c)), 2) if not graph[a] >> b & 1]
        if not missing:
            return self.total
        dirty, keys, at = 0, {}, len(self.states) - 1
        for i, (adj, base_keys) in enumerate(self.states):
            v, mask, _ = self.steps[i]
            if self.totals[i] > limit:
                return self.totals[i]
            # The dirty columns at this step (ends of a missing edge, and columns holding both ends as
            # neighbours), and their keys in the graph plus the missing edges: recomputed where a column
            # turns dirty, or where the graph's own step recomputed its key (its neighbours, or the
            # edges among them, changed; a missing edge the graph fills leaves the sum graph as it was).
            now = 0
            for a, b in missing:
                now |= 1 << a | 1 << b | (adj[a] & adj[b])
            stale = now if i == 0 else now & (~dirty | self.touched[i - 1])
            if stale:
                merged = _joined(adj, missing)
                for u in _bits(stale):
                    keys[u] = _key(merged, cells, u)
            dirty = now
            if i == at or dirty >> v & 1 or any(keys[u] < base_keys[v] for u in _bits(dirty)):
                at = i  # they part here, or no later state is kept: run on from this one
                break
            nb = mask & ~(1 << v)
            missing = [(a, b) for a, b in missing if not (nb >> a & 1 and nb >> b & 1)]
        # From step `at` on the elimination differs: run it from the kept state plus the missing edges.
        adj, base_keys = self.states[at]
        adj = _joined(adj, missing)
        keys = {**base_keys, **{u: keys[u] for u in _bits(dirty)}}
        holding: list[list[int]] = [[] for _ in range(len(graph))]
        for v, mask, _ in self.steps[:at]:
            _hold(holding, v, mask)
        return _maximal_total(_run(adj, cells, keys), holding, self.totals[at], limit)


def _joined(adj: list[int], edges: list[tuple[int, int]]) -> list[int]:
    """A copy of the neighbour masks `adj` with `edges` added."""
    out = list(adj)
    for a, b in edges:
        out[a] |= 1 << b
        out[b] |= 1 << a
    return out


def _bits(mask: int) -> list[int]:
    """The set bits of `mask`, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def maximal(cliques: Iterable[Clique]) -> list[Clique]:
    """The cliques not contained in another (duplicates dropped), largest first."""
    unique = sorted(set(cliques), key=lambda c: (-len(c), c))
    out: list[Clique] = []
    masks: list[int] = []
    for c in unique:
        mask = sum(1 << a for a in set(c))
        if not any(mask & ~o == 0 for o in masks):
            out.append(c)
            masks.append(mask)
    return out


def junction_size(cliques: list[Clique], d: int, sizes: Sequence[int], limit: int | None = None) -> int:
    """``junction_tree(cliques, d, sizes).size(sizes)`` without joining the cliques into a tree.

    With `limit`, the elimination stops as soon as the maximal cliques found so far hold more than
    `limit` cells, and returns that total: more than `limit` exactly when the whole is (the adaptive
    rounds only ask whether a tree fits the model cap, and most of the trees tried late in a run do
    not). Without it, the elimination is the one `junction_tree` keeps for the same graph
    (``_eliminate``): the balanced mode's rounds size a tree, then fit on it.
    """
    cliques = [tuple(sorted(set(c))) for c in cliques]
    if limit is None:
        _, steps = elimination_order(cliques, d, sizes)
        return sum(math.prod(int(sizes[a]) for a in c) for c in maximal(steps))
    return _maximal_total(_steps(_graph(cliques, d), tuple(int(n) for n in sizes)), [[] for _ in range(d)], 0, limit)


def _maximal_total(steps: Iterable[tuple[int, int, int]], holding: list[list[int]], total: int,
                   limit: int | None = None) -> int:
    """`total` plus the cells of the maximal cliques among elimination `steps` (column, clique mask,
    cells), stopping once past `limit`. A step's clique is maximal unless an earlier step's holds it (a
    later one cannot: it lacks the column eliminated), so the running total is exact at every step;
    `holding` (per column, the masks of the earlier cliques holding it) is kept up to date in place."""
    for v, mask, clique_cells in steps:
        if _maximal(holding, v, mask):
            total += clique_cells
            if limit is not None and total > limit:
                return total
        _hold(holding, v, mask)
    return total


def _maximal(holding: list[list[int]], v: int, mask: int) -> bool:
    """Whether column v's elimination clique (`mask`) is held by no earlier one."""
    return not any(mask & ~held == 0 for held in holding[v])


def _hold(holding: list[list[int]], v: int, mask: int) -> None:
    """Record column v's elimination clique as holding its other columns."""
    for a in _bits(mask & ~(1 << v)):
        holding[a].append(mask)


def junction_tree(cliques: list[Clique], d: int, sizes: Sequence[int]) -> JunctionTree:
    """Junction tree of the triangulated graph of `cliques` plus every column 0..d-1.

    Args:
        cliques: column sets that must each lie inside one maximal clique.
        d: number of columns.
        sizes: domain size of each column.
    """
    if len(sizes) != d:
        raise ValueError(f"{len(sizes)} domain sizes for {d} columns")
    cliques = [tuple(sorted(set(c))) for c in cliques]
    _, steps = elimination_order(cliques, d, sizes)
    nodes = maximal(steps)
    # Root: the clique with the most cells, so that sampling starts from the largest table.
    nodes.sort(key=lambda c: (-math.prod(int(sizes[a]) for a in c), c))
    edges = _spanning_tree(nodes)
    return JunctionTree(nodes, edges)


def _spanning_tree(nodes: list[Clique]) -> list[tuple[int, int]]:
    """Maximum spanning tree on separator size (Kruskal), as BFS (parent, child) edges from 0."""
    n = len(nodes)
    sets = [set(c) for c in nodes]
    pairs = sorted(((len(sets[i] & sets[j]), i, j) for i in range(n) for j in range(i + 1, n)),
                   key=lambda t: (-t[0], t[1], t[2]))
    joined = DisjointSets(n)
    adj: list[list[int]] = [[] for _ in range(n)]
    for _, i, j in pairs:
        if joined.union(i, j):
            adj[i].append(j)
            adj[j].append(i)
    edges: list[tuple[int, int]] = []
    seen = {0}
    queue = deque([0])
    while queue:
        p = queue.popleft()
        for c in sorted(adj[p]):
            if c not in seen:
                seen.add(c)
                edges.append((p, c))
                queue.append(c)
    return edges


# ---------------------------------------------------------------- belief propagation

_TINY = 1e-280  # a sum of exponentials below this may have underflowed


class Plan:
    """Per-edge reductions and shapes for `calibrate` on one tree, computed once.

    ``extra`` (optional, one list per clique) names further marginals of each calibrated
    clique that `calibrate_linear` returns: they are summed together with the clique's
    children's separators, sharing passes over the clique (``MultiReducer``).
    """

    def __init__(self, tree: JunctionTree, sizes: Sequence[int],
                 extra: Sequence[Sequence[Clique]] | None = None) -> None:
        self.tree = tree
        self.shapes = [tuple(int(sizes[a]) for a in c) for c in tree.cliques]
        extra = [list(e) for e in extra] if extra is not None else [[] for _ in tree.cliques]
        children: list[list[int]] = [[] for _ in tree.cliques]
        for p, c in tree.edges:
            children[p].append(c)
        self.children = children
        # Per clique: one MultiReducer to its children's separators, then its extra marginals.
        self.multi = [multi_reducer(tree.cliques[k], self.shapes[k],
                                    tuple([tree.separator(k, c) for c in children[k]] + extra[k]))
                      if children[k] or extra[k] else None for k in range(len(tree.cliques))]
        # Per clique with children: their messages multiplied in together (``MultiBroadcast``).
        self.absorb = [multi_broadcast(tree.cliques[k], self.shapes[k],
                                       tuple(tree.separator(k, c) for c in children[k]))
                       if children[k] else None for k in range(len(tree.cliques))]
        self.order = [0] + [c for _, c in tree.edges]  # breadth-first: parents before children
        self.edges = []
        for p, c in tree.edges:
            sep = tree.separator(p, c)
            cp, cc = tree.cliques[p], tree.cliques[c]
            self.edges.append((
                p, c,
                reducer(cc, self.shapes[c], sep), tuple(i for i, a in enumerate(cc) if a not in sep),
                reducer(cp, self.shapes[p], sep),
                broadcast(sep, cp, self.shapes[p]), broadcast(sep, cc, self.shapes[c]),
            ))
        # Per child clique: its sum to its parent's separator, and the separator's broadcast into it.
        self.link = {c: (reduce_c, into_c) for _, c, reduce_c, _, _, _, into_c in self.edges}


def calibrate(plan: Plan, potentials: list[np.ndarray], total: float,
              overwrite: bool = False) -> tuple[list[np.ndarray], float]:
    """Clique marginals of exp(sum of potentials), as counts summing to `total`, and log Z.

    Hugin-style sum-product. Collect, toward the root, in log space: a clique's
    log table (its potential plus its children's messages) is exponentiated
    once, shifted by its maximum, and summed down to the separator. Distribute,
    from the root, in linear space: a child's table times the parent's
    separator marginal over its own separator sums. If shifting by one maximum
    lets a separator value underflow (possible while the potentials of
    neighbouring cliques still offset each other), that clique's message is
    redone with a maximum per slice and it is calibrated in log space instead.
    `potentials` (log tables, one per tree clique) are left as they are unless
    `overwrite` (then they are used as scratch space).
    """
    n = len(potentials)
    logs: list[np.ndarray | None] = [None] * n   # log tables, while collecting
    lin: list[np.ndarray | None] = [None] * n    # exp(log table - shift), then counts
    slices: list[np.ndarray | None] = [None] * n  # a child's exp table summed down to its separator
    up: list[np.ndarray | None] = [None] * n      # a child's message to its parent (log)

    def own(k: int) -> np.ndarray:
        if logs[k] is None:
            logs[k] = potentials[k] if overwrite else np.array(potentials[k], dtype=np.float64)
        return logs[k]

    for p, c, reduce_c, axes_c, _, into_p, _ in reversed(plan.edges):
        b = own(c)
        m = float(np.max(b))
        e = np.subtract(b, m if np.isfinite(m) else 0.0)
        np.exp(e, out=e)
        s = reduce_c(e)
        if np.isfinite(m) and np.min(s) >= _TINY:
            with np.errstate(divide="ignore"):
                up[c] = np.log(s) + m
            lin[c], slices[c], logs[c] = e, s, None
        else:
            up[c] = logsumexp(b, axes_c)
        into_p.add_into(own(p), up[c])

    def exponentiate(k: int) -> float:
        """Counts from clique k's calibrated log table (in place); returns log of its total mass."""
        e = own(k)
        m = float(np.max(e))
        m = m if np.isfinite(m) else 0.0
        e -= m
        np.exp(e, out=e)
        mass = float(e.sum())
        if not mass > 0:
            raise FloatingPointError("the model puts no mass on any row (are all potentials -inf?)")
        e *= total / mass
        lin[k], logs[k] = e, None
        return m + math.log(mass)

    log_z = exponentiate(0)
    for p, c, _, _, reduce_p, _, into_c in plan.edges:
        marg = reduce_p(lin[p])  # the separator's marginal counts
        if slices[c] is not None:
            into_c.multiply_into(lin[c], marg / slices[c])
        else:
            with np.errstate(divide="ignore"):
                msg = np.log(marg) - up[c]
            if not np.isfinite(up[c]).all():
                # No mass on this separator value: the child gets none either (not -inf - -inf).
                msg = np.where(np.isneginf(up[c]), -np.inf, msg)
            into_c.add_into(own(c), msg)
            exponentiate(c)
    return lin, log_z


def calibrate_linear(plan: Plan, tables: list[np.ndarray], total: float) -> list[np.ndarray] | None:
    """Clique marginals, as counts summing to `total`, of the model whose potentials are `tables`
    (linear, nonnegative, each shifted to a maximum near 1; used as scratch space).

    Hugin-style sum-product in linear space: collect, toward the root, a child's table
    summed down to its separator and scaled to a maximum of 1 multiplies its parent;
    distribute, from the root, the parent's separator marginal over the child's own
    separator sums multiplies the child. Returns None, leaving `tables` spoilt, where a
    separator sum or the root's mass falls below ``_TINY`` (or is not finite): linear
    arithmetic may have underflowed there, and the caller must calibrate the log
    potentials with `calibrate`. (Every factor is at most 1, so nothing overflows; a cell
    that underflows inside a slice whose sum is at least ``_TINY`` weighed nothing.)
    """
    shared = calibrate_shared(plan, tables, total)
    return None if shared is None else shared[0]


def calibrate_shared(plan: Plan, tables: list[np.ndarray], total: float
                     ) -> tuple[list[np.ndarray], list[list[np.ndarray]]] | None:
    """`calibrate_linear`'s tables, and each clique's ``plan`` extra marginals; None where that
    returns None.

    A clique multiplies in all its children's messages at once (``MultiBroadcast``), and once
    calibrated is summed to its children's separators and its extra marginals together
    (``MultiReducer``): a pass over a large clique per group of small tables, not per table."""
    slices: list[np.ndarray | None] = [None] * len(tables)
    scaled: list[np.ndarray | None] = [None] * len(tables)
    for k in reversed(plan.order):  # children before parents: a clique absorbs all its children's messages, then sends
        if plan.absorb[k] is not None:
            plan.absorb[k].multiply_into(tables[k], [scaled[c] for c in plan.children[k]])
        if k == 0:
            break
        s = plan.link[k][0](tables[k])
        top = float(np.max(s))
        if not (_TINY <= float(np.min(s)) and top < math.inf):  # NaN fails too
            return None
        slices[k], scaled[k] = s, s / top
    root = tables[0]
    mass = float(root.sum())
    if not (_TINY <= mass < math.inf):
        return None
    root *= total / mass
    extras: list[list[np.ndarray]] = [[] for _ in tables]
    queue = [0]
    for k in queue:  # breadth-first: a clique is calibrated once its parent has sent to it
        if plan.multi[k] is None:
            continue
        outs = plan.multi[k](tables[k])
        kids = plan.children[k]
        for c, marg in zip(kids, outs):
            plan.link[c][1].multiply_into(tables[c], marg / slices[c])
            queue.append(c)
        extras[k] = outs[len(kids):]
    return tables, extras
