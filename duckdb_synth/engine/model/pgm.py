"""Private-PGM: fit a graphical model to noisy marginals, query it, sample from it.

The model is log-linear on the maximal cliques of a junction tree: the joint
is proportional to ``exp(sum of potentials)``, and belief propagation gives
every clique's marginal. `estimate` finds the model whose marginals best fit
the measurements in weighted least squares, by mirror descent on the log-linear
parameters (McKenna, Sheldon, Miklau 2019, "Graphical-model based estimation
and inference for differential privacy", Algorithm 1), accelerated with
momentum.
"""
from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..marginal import Measurement, cell_index
from ..rounding import allocate, strata_of
from .factor import Clique, Factor, Reducer, broadcast, broadcast_shape, reducer, share_groups
from .junction import JunctionTree, Plan, calibrate, calibrate_shared, junction_tree, maximal

log = logging.getLogger(__name__)

# A cell measured without noise weighs this many times the most precise noisy cell:
# enough to pin it, not so much that the step size must shrink a thousandfold.
EXACT_WEIGHT = 100.0
# Sweeps of proportional fitting to the clipped measurements before mirror descent.
FIT_SWEEPS = 2
# Fewest steps a fit bounded by ``full_cost`` takes.
MIN_STEPS = 10
# The step size, in units of private-pgm's 1/L (L: the heaviest cell weight times the row count,
# the loss's curvature if one measured cell held every row). The momentum's steps are stable well
# past it: on diamonds' (both seeds), weather's and cars' final fits the loss falls fastest from a
# start of 6-8 (cars' halves it to 0.375 and stays). The rule before, from 1 growing 5 % a kept
# step, overshot every ~12 steps and restarted the momentum: diamonds at eps = 1 reached in 600
# steps the loss this reaches in 200.
ETA_START = 6.0


# ---------------------------------------------------------------- the model


@dataclass
class GraphicalModel:
    """A log-linear model on a junction tree, scaled to `total` rows.

    Attributes:
        sizes: domain size of each column.
        tree: the junction tree; ``potentials`` has one entry per maximal clique.
        potentials: log potentials on the maximal cliques.
        total: number of rows the marginals are scaled to.
        parameters: the same log-linear function split over the measured
            cliques (summed per maximal clique they give ``potentials``).
            `estimate` warm-starts from these: they fit inside any later tree
            that measures the same cliques. Optional.

    Beliefs are computed on first use and cached: do not mutate ``potentials``.
    """

    sizes: tuple[int, ...]
    tree: JunctionTree
    potentials: dict[Clique, Factor]
    total: float
    parameters: dict[Clique, Factor] = field(default_factory=dict)
    _beliefs: list[np.ndarray] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.sizes = tuple(int(s) for s in self.sizes)
        if set(self.potentials) != set(self.tree.cliques):
            raise ValueError("potentials must be given on exactly the tree's maximal cliques")
        for c, f in self.potentials.items():
            if f.attrs != c or f.values.shape != tuple(self.sizes[a] for a in c):
                raise ValueError(f"potential on {c} has columns {f.attrs} and shape {f.values.shape}")
        if not (self.total > 0 and math.isfinite(self.total)):
            raise ValueError(f"total must be positive and finite, got {self.total}")

    @property
    def d(self) -> int:
        return len(self.sizes)

    def _clique_beliefs(self) -> list[np.ndarray]:
        if self._beliefs is None:
            pots = [self.potentials[c].values for c in self.tree.cliques]
            beliefs, _ = calibrate(Plan(self.tree, self.sizes), pots, self.total)
            for b in beliefs:
                b.flags.writeable = False
            self._beliefs = beliefs
        return self._beliefs

    def beliefs(self) -> dict[Clique, np.ndarray]:
        """Calibrated marginal counts of every maximal clique (read-only arrays)."""
        return dict(zip(self.tree.cliques, self._clique_beliefs()))

    def marginal(self, clique: Clique) -> np.ndarray:
        """Counts, scaled to `total`, over `clique` (sorted column indices).

        Inside a maximal clique this sums out that clique's belief. Otherwise it
        runs variable elimination over the smallest subtree whose cliques cover
        `clique` (there the joint is the product of clique beliefs over separator
        beliefs): exact, but its time and memory grow with the largest
        intermediate table, at worst the product of the domain sizes of
        `clique` and of the separators on the way.
        """
        clique = tuple(int(a) for a in clique)
        if tuple(sorted(set(clique))) != clique or any(not 0 <= a < self.d for a in clique):
            raise ValueError(f"clique {clique} must be sorted distinct columns in 0..{self.d - 1}")
        bel = self._clique_beliefs()
        i = self.tree.containing(clique, self.sizes)
        if i is not None:
            return reducer(self.tree.cliques[i], bel[i].shape, clique)(bel[i]).copy()
        return self._eliminate(clique)

    def _eliminate(self, clique: Clique) -> np.ndarray:
        tree, bel = self.tree, self._clique_beliefs()
        sets = [set(c) for c in tree.cliques]
        # Cover the query greedily, then keep the subtree spanning the cover.
        left, terminals = set(clique), set()
        while left:
            i = max(range(len(sets)), key=lambda k: (len(sets[k] & left), -len(sets[k])))
            terminals.add(i)
            left -= sets[i]
        root = min(terminals)
        factors = [Factor(tree.cliques[root], bel[root] / self.total)]
        for p, c in _subtree_edges(tree, root, _steiner(tree, terminals)):
            child = Factor(tree.cliques[c], np.asarray(bel[c]))
            factors.append(child / child.project(tree.separator(p, c)))  # P(child | separator)
        return _eliminate_all_but(factors, set(clique)).expand(clique, self.sizes).values * self.total

    def sample(self, n: int, rng: np.random.Generator, keep=None) -> np.ndarray:
        """(n, d) int64 codes drawn from the model.

        Ancestral sampling over the tree from the root clique, one column at a
        time, a clique's new columns largest domain first: each is given to the
        rows of each value of the columns already drawn in that clique (its
        separator, then the clique's earlier new columns) in proportion to the
        clique's belief, by controlled rounding (``rounding.allocate``: counts
        within one of their expectation). Rounding column by column keeps every
        prefix's counts close to the model's, where allocating a clique's cells
        jointly would leave most cells of a large clique to chance. Within a group,
        the values are spread evenly over a few of the other columns drawn so far
        (``rounding.strata_of``), which the model says they are independent of. All
        rows at once.
        """
        n = int(n)
        out = np.zeros((n, self.d), dtype=np.int64, order="F")  # column-major: each step reads whole columns
        bel = self._clique_beliefs()
        cliques = self.tree.cliques
        steps = [((), cliques[0], 0)] + [(self.tree.separator(p, c), cliques[c], c) for p, c in self.tree.edges]
        drawn: list[int] = []
        for sep, clique, i in steps:
            given = list(sep)
            # Each row's configuration of `given` (row-major), grown by one column per step.
            config = cell_index([(out[:, x], self.sizes[x]) for x in given]) if given else np.zeros(n, dtype=np.int64)
            for a in sorted((a for a in clique if a not in sep), key=lambda a: -self.sizes[a]):
                axes = (*given, a)
                table = reducer(clique, bel[i].shape, tuple(sorted(axes)))(bel[i])
                order = tuple(sorted(axes))
                table = np.transpose(table, [order.index(x) for x in axes])
                table = table.reshape(math.prod(self.sizes[x] for x in given), self.sizes[a])
                out[:, a] = allocate(table, config, rng, strata_of(out, self.sizes, drawn, given, rng))
                if keep is not None:  # rules kept while drawing (``rules.Keeper``)
                    keep(a, out, drawn, table, config, rng)
                config = config * self.sizes[a] + out[:, a]
                given.append(a)
                drawn.append(a)
        return out


def _steiner(tree: JunctionTree, terminals: set[int]) -> set[int]:
    """Nodes of the smallest subtree holding `terminals`: prune non-terminal leaves."""
    adj = [set(nb) for nb in tree.neighbors()]
    nodes = set(range(len(tree.cliques)))
    leaves = [v for v in nodes if len(adj[v]) <= 1 and v not in terminals]
    while leaves:
        v = leaves.pop()
        nodes.discard(v)
        for u in adj[v]:
            adj[u].discard(v)
            if len(adj[u]) <= 1 and u not in terminals:
                leaves.append(u)
        adj[v] = set()
    return nodes


def _subtree_edges(tree: JunctionTree, root: int, nodes: set[int]) -> list[tuple[int, int]]:
    """(parent, child) edges of the subtree on `nodes`, breadth-first from `root`."""
    adj = tree.neighbors()
    out, seen, queue = [], {root}, [root]
    for p in queue:
        for c in adj[p]:
            if c in nodes and c not in seen:
                seen.add(c)
                out.append((p, c))
                queue.append(c)
    return out


def _eliminate_all_but(factors: list[Factor], keep: set[int]) -> Factor:
    """Sum every column not in `keep` out of the product of `factors` (linear values).

    Greedy order: next the column whose product table has the fewest cells.
    """
    factors = list(factors)
    while cols := {a for f in factors for a in f.attrs} - keep:
        def cells(a: int) -> int:
            return math.prod({b: n for f in factors if a in f.attrs for b, n in f.sizes().items()}.values())

        a = min(cols, key=lambda a: (cells(a), a))
        product = math.prod((f for f in factors if a in f.attrs), start=Factor((), np.array(1.0)))
        factors = [f for f in factors if a not in f.attrs]
        factors.append(product.project(tuple(b for b in product.attrs if b != a)))
    return math.prod(factors, start=Factor((), np.array(1.0)))


# ---------------------------------------------------------------- the loss


@dataclass(frozen=True)
class _Term:
    """One measurement in sorted column order, with weights 1/variance per cell."""

    clique: Clique
    y: np.ndarray
    weight: np.ndarray
    upper: np.ndarray | None = None  # cells whose y is only an upper bound (loss only above it)

    def residual(self, mu: np.ndarray) -> np.ndarray:
        r = mu - self.y
        return r if self.upper is None else np.where(self.upper, np.maximum(r, 0.0), r)


CENSOR = 2.0
"""A noisy cell measured below CENSOR of its noise scales is an upper bound only: its loss is
zero below the measured value. Least squares pulls an empty cell up to its noise (about 0.4 sigma
on average); here only the rest of the model decides it. Binned diamonds at eps = 1, tvd3 over 10
seeds: 0.0912 at 0, 0.0934 at 1, 0.0882 at 2, 0.0890 at 3; cps1988 0.0334 / 0.0338 / 0.0342 /
0.0346. A function of released values and public scales: post-processing."""


def _terms(measurements: list[Measurement], sizes: Sequence[int]) -> list[_Term]:
    """The measurements, transposed to sorted column order and weighted.

    A cell with variance 0 is exact: it weighs EXACT_WEIGHT times the heaviest
    noisy cell (weight 1 if no cell is noisy). Infinite variance: weight 0.

    Each measurement's term is kept (``_TERMS``, by identity) while the exact weight and the
    sizes stay the same: the adaptive rounds refit on the same measurements plus one or two.
    """
    d, key = len(sizes), tuple(int(s) for s in sizes)
    noisy = [v for v in map(_least_noisy, measurements) if v is not None]
    exact_variance = min(noisy) / EXACT_WEIGHT if noisy else 1.0
    out = []
    for m in measurements:
        kept = _TERMS.get(id(m))
        if kept is not None and kept[0]() is m and kept[1] == (exact_variance, key):
            out.append(kept[2])
            continue
        clique = tuple(int(a) for a in m.clique)
        if len(set(clique)) != len(clique) or any(not 0 <= a < d for a in clique):
            raise ValueError(f"measurement clique {m.clique} must be distinct columns in 0..{d - 1}")
        shape = tuple(int(sizes[a]) for a in clique)
        if m.values.shape != shape:
            raise ValueError(f"measurement on {m.clique} has shape {m.values.shape}; the domain is {shape}")
        var = np.asarray(m.variance, dtype=np.float64)
        if np.isnan(var).any() or (var < 0).any():
            raise ValueError(f"measurement on {m.clique} has negative or NaN variances")
        if not np.isfinite(m.values).all():
            raise ValueError(f"measurement on {m.clique} has NaN or infinite values")
        order = tuple(int(i) for i in np.argsort(clique))
        var = np.where(var > 0, var, exact_variance).transpose(order)
        y = np.asarray(m.values, dtype=np.float64).transpose(order)
        upper = None
        if CENSOR > 0:
            noisy_cells = np.isfinite(var) & (var > exact_variance)
            upper = noisy_cells & (y < CENSOR * np.sqrt(np.where(noisy_cells, var, 0.0)))
            upper = np.ascontiguousarray(upper) if upper.any() else None
        term = _Term(tuple(sorted(clique)), np.ascontiguousarray(y), np.ascontiguousarray(1.0 / var), upper)
        for arr in (term.y, term.weight, term.upper):
            if arr is not None:
                arr.flags.writeable = False  # shared by every fit that reads this measurement
        if kept is None:
            weakref.finalize(m, _TERMS.pop, id(m), None)  # the entry goes with the measurement
        _TERMS[id(m)] = (weakref.ref(m), (exact_variance, key), term)
        out.append(term)
    return out


_TERMS: dict[int, tuple[weakref.ref, tuple[float, tuple[int, ...]], _Term]] = {}  # by id, while the measurement lives


def _least_noisy(m: Measurement) -> float | None:
    """The smallest positive finite variance of `m`'s cells (None if it has none)."""
    v = np.asarray(m.variance, dtype=np.float64)
    ok = (v > 0) & np.isfinite(v)
    return float(np.min(v[ok])) if ok.any() else None


class _Flat(list):
    """Per-term tables that are views of one array, ``flat`` (every term's cells end to end)."""

    def __init__(self, flat: np.ndarray, parts=()) -> None:
        super().__init__(parts)
        self.flat = flat


def estimate_total(measurements: list[Measurement]) -> float:
    """Row count from the measurements: inverse-variance weighted mean of their sums.

    Exact measurements (every variance 0), if any, decide alone. At least 1.
    """
    if not measurements:
        raise ValueError("no measurements to estimate the row count from: pass total=")
    sums = np.array([float(np.sum(m.values)) for m in measurements])
    var = np.array([float(np.sum(m.variance)) for m in measurements])
    if (var == 0).any():
        return max(float(sums[var == 0].mean()), 1.0)
    w = 1.0 / var  # 0 for an infinite variance
    return max(float(np.sum(w * sums) / np.sum(w)) if w.sum() > 0 else float(sums.mean()), 1.0)


def loss(model: GraphicalModel, measurements: list[Measurement]) -> float:
    """sum over measurements and cells of (marginal - y)^2 / variance, weighed as `estimate` weighs it."""
    return sum(float(np.sum(t.weight * t.residual(model.marginal(t.clique)) ** 2))
               for t in _terms(measurements, model.sizes))


class _Problem:
    """The map from log-linear parameters to measured marginals, the loss and its gradient.

    Parameters live on the maximal measured cliques (``params``), each inside
    one tree clique; a tree clique's log potential is the sum of its
    parameters, built afresh for each evaluation.
    """

    def __init__(self, terms: list[_Term], tree: JunctionTree, sizes: tuple[int, ...], total: float,
                 params: list[Clique]) -> None:
        self.terms, self.tree, self.total, self.params = terms, tree, total, params
        self.shapes = [tuple(sizes[a] for a in c) for c in tree.cliques]
        self._free: list[list[np.ndarray]] = []  # tree-clique tables free for reuse
        self.param_shapes = [tuple(sizes[a] for a in c) for c in params]
        home = [tree.containing(c, sizes) for c in params]
        self.placed = [self._groups([i for i in range(len(params)) if home[i] == k], k, sizes)
                       for k in range(len(tree.cliques))]
        # A term's marginal is summed from the smallest table at hand that holds it:
        # a larger measured clique's marginal, else a tree clique's belief.
        self.sources: list[tuple[int, int, Reducer]] = []  # (term, source, reduction); source -1-k: tree clique k
        # Subset tests on bit masks, among the tables that hold one of the term's columns (the
        # fewest): a refit on a wide table's model builds this for hundreds of terms.
        masks = [_mask(t.clique) for t in terms]
        sourced: dict[int, list[int]] = {}  # column -> the terms sourced so far that hold it, in order
        for i in sorted(range(len(terms)), key=lambda i: -terms[i].y.size):
            c = terms[i].clique
            among = min((sourced.get(a, []) for a in c), key=len) if c else [j for j, _, _ in self.sources]
            inner = [j for j in among if not masks[i] & ~masks[j]]
            for a in c:
                sourced.setdefault(a, []).append(i)
            if inner:
                j = min(inner, key=lambda j: terms[j].y.size)
                self.sources.append((i, j, reducer(terms[j].clique, terms[j].y.shape, c)))
            else:
                k = tree.containing(c, sizes)
                self.sources.append((i, -1 - k, reducer(tree.cliques[k], self.shapes[k], c)))
        # The terms summed from each tree clique, in the order the plan returns them.
        self.from_tree: list[list[int]] = [[] for _ in tree.cliques]
        for i, src, _ in self.sources:
            if src < 0:
                self.from_tree[-1 - src].append(i)
        self.plan = Plan(tree, sizes, [[terms[i].clique for i in ids] for ids in self.from_tree])
        # Every term's cells end to end: the loss and its gradient are a few operations on these,
        # not a few per term (a wide table's small model has hundreds of terms).
        self.offsets = np.cumsum([0] + [t.y.size for t in terms])
        self.y = np.concatenate([t.y.ravel() for t in terms]) if terms else np.zeros(0)
        self.w = np.concatenate([t.weight.ravel() for t in terms]) if terms else np.zeros(0)
        self.upper = (np.concatenate([(np.zeros(t.y.size, bool) if t.upper is None else t.upper.ravel()) for t in terms])
                      if any(t.upper is not None for t in terms) else None)
        # A term's gradient lands on the smallest parameter that holds it.
        self.term_param: list[tuple[int, tuple[int, ...]] | None] = []
        param_masks = [_mask(p) for p in params]
        holding: dict[int, list[int]] = {}  # column -> the parameters that hold it, in order
        for i, p in enumerate(params):
            for a in p:
                holding.setdefault(a, []).append(i)
        for t, mask in zip(terms, masks):
            among = min((holding.get(a, []) for a in t.clique), key=len) if t.clique else range(len(params))
            holders = [i for i in among if not mask & ~param_masks[i]]
            i = min(holders, key=lambda i: len(params[i]), default=None)
            self.term_param.append(None if i is None else (i, broadcast_shape(t.clique, params[i], t.y.shape)))

    def _groups(self, members: list[int], k: int, sizes: tuple[int, ...]) -> list:
        """Parameters of tree clique k in groups whose union is at most 1/8 of the clique.

        A group is summed into a table over its union first, and that table
        broadcast into the clique: one pass over the clique per group, not per parameter.
        """
        clique, cells = self.tree.cliques[k], math.prod(self.shapes[k])
        ordered = sorted(members, key=lambda i: math.prod(self.param_shapes[i]))
        out = []
        for u, picked in share_groups([self.params[i] for i in ordered], sizes, cells, 8):
            ids = [ordered[i] for i in picked]
            u_shape = tuple(sizes[a] for a in u)
            inner = [(i, broadcast(self.params[i], u, u_shape)) for i in ids] if len(ids) > 1 else []
            out.append((u_shape, inner, ids[0], broadcast(u, clique, self.shapes[k])))
        return out

    @staticmethod
    def _group_tables(theta: list[np.ndarray], groups: list):
        """Each group's table over its union (its parameters summed), with its broadcast into the clique."""
        for u_shape, inner, only, into in groups:
            if inner:
                table = np.zeros(u_shape)
                for i, b in inner:
                    b.add_into(table, theta[i])
            else:
                table = theta[only]
            yield table, into

    def potentials(self, theta: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for shape, groups in zip(self.plan.shapes, self.placed):
            pot = None
            for table, into in self._group_tables(theta, groups):
                if pot is None:
                    pot = into.expand(table)
                else:
                    into.add_into(pot, table)
            out.append(np.zeros(shape) if pot is None else pot)
        return out

    def release(self, tables: list[np.ndarray]) -> None:
        """Give tree-clique tables back for the next evaluation: a fresh array of megabytes costs
        a page fault per 4 kB on first touch, as much as the propagation's arithmetic."""
        self._free.append(tables)

    def exp_potentials(self, theta: list[np.ndarray]) -> list[np.ndarray]:
        """exp of `potentials`, each tree clique's up to a constant factor, with no ``exp`` over a
        clique: a group's table (at most 1/8 of the clique) is exponentiated, shifted to a
        maximum of 1, and multiplied in. Written into released tables where there are some."""
        out = self._free.pop() if self._free else [np.empty(shape) for shape in self.plan.shapes]
        for pot, groups in zip(out, self.placed):
            first = True
            for table, into in self._group_tables(theta, groups):
                e = np.exp(table - np.max(table))
                if first:
                    into.assign(pot, e)
                    first = False
                else:
                    into.multiply_into(pot, e)
            if first:
                pot.fill(1.0)
        return out

    def evaluate(self, theta: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray], float]:
        """Tree clique counts, measured marginals and loss of the model with parameters `theta`."""
        tables = self.exp_potentials(theta)
        shared = calibrate_shared(self.plan, tables, self.total)
        mus: list[np.ndarray] = [np.empty(0)] * len(self.terms)
        if shared is None:  # linear arithmetic may have underflowed: the log-space propagation
            self.release(tables)
            counts, _ = calibrate(self.plan, self.potentials(theta), self.total, overwrite=True)
            for i, src, reduce in self.sources:
                if src < 0:
                    mus[i] = reduce(counts[-1 - src])
                    if not reduce.steps:  # a whole clique's table: a copy, as the table is reused
                        mus[i] = mus[i].copy()
        else:
            counts, extras = shared
            for ids, outs in zip(self.from_tree, extras):
                for i, mu in zip(ids, outs):
                    mus[i] = mu
        for i, src, reduce in self.sources:
            if src >= 0:
                mus[i] = reduce(mus[src])
        flat = self._flat(mus)
        r = self._residual(flat)
        return counts, _Flat(flat, mus), float(np.einsum("i,i,i->", self.w, r, r))  # not np.dot: BLAS threads

    def _flat(self, parts: list[np.ndarray]) -> np.ndarray:
        """The terms' tables end to end (in one new array); its views replace `parts` (in place)."""
        out = np.empty(int(self.offsets[-1]))
        for i, part in enumerate(parts):
            view = out[self.offsets[i]:self.offsets[i + 1]].reshape(self.terms[i].y.shape)
            np.copyto(view, part)
            parts[i] = view
        return out

    def _residual(self, flat: np.ndarray) -> np.ndarray:
        r = flat - self.y
        return r if self.upper is None else np.where(self.upper, np.maximum(r, 0.0), r)

    def gradient(self, mus: _Flat) -> tuple[_Flat, list[np.ndarray]]:
        """dL/dmu per term (end to end in ``.flat``), and the same summed onto each parameter."""
        g = 2.0 * self.w * self._residual(mus.flat)
        per_term = _Flat(g)
        per_term.extend(g[self.offsets[i]:self.offsets[i + 1]].reshape(t.y.shape) for i, t in enumerate(self.terms))
        per_param = [np.zeros(s) for s in self.param_shapes]
        for gt, where in zip(per_term, self.term_param):
            if where is not None:
                per_param[where[0]] += gt.reshape(where[1])
        return per_term, per_param

    def fit_clipped(self, theta: list[np.ndarray], which: list[int], sweeps: int) -> list[np.ndarray]:
        """Iterative proportional fitting of parameters `which` to their own measurements, clipped at 0.

        A start for mirror descent, whose small steps take hundreds of
        iterations to move a parameter as far: one belief propagation per
        parameter and sweep gives it the measured marginal (up to the clipping).
        Consecutive parameters on disjoint columns share one propagation (each moved
        from the same marginals: all the one-way parameters of a first fit, exactly so
        while the model is independent columns; two picks of a wide table's round).
        """
        theta = list(theta)
        targets = {}
        for i in which:
            same = [t for t in self.terms if t.clique == self.params[i]]
            w = sum(t.weight for t in same) if same else None
            if w is None or not (w > 0).all():
                continue
            target = np.maximum(sum(t.weight * t.y for t in same) / w, 0.0)
            s = target.sum()
            target = target * (self.total / s) if s > 0 else np.full(target.shape, self.total / target.size)
            targets[i] = target + 1e-3 * self.total / target.size
        where = {i: next(j for j, t in enumerate(self.terms) if t.clique == self.params[i]) for i in targets}
        batches: list[list[int]] = []
        held = 0
        for i in targets:
            mask = _mask(self.params[i])
            if batches and not mask & held:
                batches[-1].append(i)
                held |= mask
            else:
                batches.append([i])
                held = mask
        for _ in range(sweeps):
            for batch in batches:
                counts, mus, _ = self.evaluate(theta)
                self.release(counts)
                for i in batch:
                    target = targets[i]
                    theta[i] = theta[i] + np.log(target / (mus[where[i]] + 1e-3 * self.total / target.size))
        return theta


# ---------------------------------------------------------------- estimation


def estimate(sizes: Sequence[int], measurements: list[Measurement], *, total: float | None = None,
             cliques: list[Clique] | None = None, warm_start: GraphicalModel | None = None,
             iters: int = 1000, tol: float = 1e-7, full_cost: float | None = None,
             callback: Callable[[int, float], None] | None = None) -> GraphicalModel:
    """Fit a graphical model to noisy marginals (Private-PGM, accelerated mirror descent).

    Minimises L(mu) = sum over measurements and cells of (mu - y)^2 / variance
    (one-sided, (mu - y)_+^2, for noisy cells measured below ``CENSOR`` sigmas)
    over the marginals mu of log-linear models on the junction tree of the
    measured cliques (plus `cliques`). Each step is private-pgm's mirror
    descent step (the log-linear parameters of the measured cliques move by
    -eta * dL/dmu; belief propagation gives the new mu) plus heavy-ball
    momentum beta * (x - x_prev), beta = (k - 1)/(k + 2) after k kept steps in
    a row. A step is kept if the loss does not rise (without momentum, if it
    falls by at least half of <dL/dmu, mu - mu'>: Armijo); eta starts at
    ``ETA_START`` / L and does not grow; a refused step restarts the momentum,
    or without momentum halves eta. So the loss never rises, and a step costs
    one propagation: a Nesterov look-ahead needs a second one for its gradient,
    and on diamonds' final eps=1 fit (885k cells) reached in 574 propagations
    the loss this reached in 300 (with a step growing 5% a kept step, the rule
    before ``ETA_START``). Zero parameters start with two sweeps of
    proportional fitting to the clipped measurements; a warm start fits only
    the cliques it has not seen, with one sweep. The fit converges to the
    maximum-entropy distribution among the best fits.

    Cost: one belief propagation per step, a few passes over all cells of the
    tree (``tree.size(sizes)``), plus one per measured clique and sweep of the
    start; memory a few times the tree's cells in float64.

    Args:
        sizes: domain size of each column.
        measurements: noisy marginals; cliques in any column order.
        total: the row count; default: estimated from the measurements.
        cliques: extra cliques the model must hold (unmeasured).
        warm_start: a model to start from; its ``parameters`` (else its
            potentials) are placed on the new tree; one that no new maximal
            clique holds is projected onto the largest part of it that one
            does, by averaging out the other columns.
        iters: most steps (kept or refused) to take.
        full_cost: with it, a tree whose step costs more than this (``step_cost``) takes
            proportionally fewer of the `iters` steps (iters x full_cost / its cost, at least
            ``MIN_STEPS``): a bound on the fit's work as the model grows.
        tol: stop when a kept step lowers the loss by less than this fraction of it.
        callback: called as callback(step, loss) after every step.

    Returns:
        The fitted model; its ``parameters`` warm-start the next fit.
    """
    sizes = tuple(int(s) for s in sizes)
    if warm_start is not None and warm_start.sizes != sizes:
        raise ValueError(f"warm_start has domain sizes {warm_start.sizes}, not {sizes}")
    terms = _terms(measurements, sizes)
    total = float(estimate_total(measurements) if total is None else total)
    if not (total > 0 and math.isfinite(total)):
        raise ValueError(f"total must be positive and finite, got {total}")
    extra = [tuple(sorted(set(int(a) for a in c))) for c in (cliques or [])]
    measured = [t.clique for t in terms]
    tree = junction_tree(measured + extra, len(sizes), sizes)

    start = {c: np.zeros(tuple(sizes[a] for a in c)) for c in maximal(measured + extra) if c}
    seen: list[Clique] = []
    if warm_start is not None:
        seen = _place(start, warm_start, tree)
    problem = _Problem(terms, tree, sizes, total, list(start))
    seen_masks = [_mask(c) for c in seen]
    fresh = [i for i, mask in enumerate(map(_mask, problem.params)) if all(mask & ~m for m in seen_masks)]
    x = problem.fit_clipped(list(start.values()), fresh, FIT_SWEEPS if warm_start is None else 1)

    counts, mus, fx = problem.evaluate(x)
    floor = 1e-24 * sum(float(np.sum(t.weight * t.y ** 2)) for t in terms)  # round-off level
    heaviest = max((float(t.weight.max()) for t in terms if t.y.size), default=0.0) or 1.0
    eta = ETA_START / (heaviest * total)  # private-pgm's 1/L, L the loss's curvature in probabilities
    x_prev, beta, kept = x, 0.0, 0
    if full_cost is not None:
        iters = min(iters, max(MIN_STEPS, int(iters * full_cost // max(step_cost(tree, sizes), 1))))
    step = -1
    for step in range(iters):
        g_terms, g_params = problem.gradient(mus)
        trial = [p - eta * g + beta * (p - q) for p, g, q in zip(x, g_params, x_prev)]
        counts2, mus2, f2 = problem.evaluate(trial)
        if beta > 0:
            keep = f2 <= fx
        else:  # Armijo: the loss falls by at least half of what its slope promises
            decrease = float(np.einsum("i,i->", g_terms.flat, mus.flat - mus2.flat))
            keep = f2 <= fx and fx - f2 >= 0.5 * decrease
        if keep:
            change = (fx - f2) / max(f2, 1e-300)
            problem.release(counts)
            x_prev, x, counts, mus, fx = x, trial, counts2, mus2, f2
            kept += 1
            beta = (kept - 1) / (kept + 2)
            if callback is not None:
                callback(step, fx)
            if change < tol or fx <= floor:
                break
            continue
        problem.release(counts2)
        if beta > 0:
            beta, kept = 0.0, 0  # the momentum overshot: restart it from x
        else:
            eta *= 0.5  # too long: shorten the step from the same point
        if callback is not None:
            callback(step, fx)
    log.debug("estimate: loss %.6g after %d steps on a tree of %d cells", fx, step + 1, tree.size(sizes))
    pots = problem.potentials(x)
    model = GraphicalModel(sizes, tree, {c: Factor(c, p) for c, p in zip(tree.cliques, pots)}, total,
                           {c: Factor(c, v) for c, v in zip(problem.params, x)})
    for b in counts:
        b.flags.writeable = False
    model._beliefs = counts
    return model


def step_cost(tree: JunctionTree, sizes: Sequence[int]) -> int:
    """The work of one estimator step on `tree`, in cell-axes: each clique's cells times its columns.

    A step's propagation reduces and broadcasts every clique's table over its axes, and numpy's
    passes over a table of many short axes cost about as much per axis as per cell: cars' final
    tree (1M cells in cliques of 13-16 columns of 2-4 values) takes 11 ms a step, diamonds' (1M
    cells in cliques of 3-6 columns) 3.4 ms, about 0.8 and 0.7 ns per cell-axis.
    """
    return sum(math.prod(int(sizes[a]) for a in c) * len(c) for c in tree.cliques)


def _mask(clique: Clique) -> int:
    """`clique` as a bit mask of its columns (subset tests on ints: a refit makes ~10,000 on cars)."""
    return sum(1 << a for a in clique)


def _place(theta: dict[Clique, np.ndarray], old: GraphicalModel, tree: JunctionTree) -> list[Clique]:
    """Add an earlier model's parameters into `theta` (in place); return the cliques they were on."""
    source = old.parameters or old.potentials
    sets = [set(c) for c in tree.cliques]
    masks = {p: _mask(p) for p in theta}
    for c, f in source.items():
        v = np.asarray(f.values, dtype=np.float64)
        if tree.containing(c) is None:
            # No new clique holds all of c: keep the part the best one holds, averaging out the rest.
            k = max(range(len(sets)), key=lambda k: (len(sets[k] & set(c)), -len(sets[k])))
            keep = tuple(a for a in c if a in sets[k])
            v = v.mean(axis=tuple(i for i, a in enumerate(c) if a not in keep))
            c = keep
        if not c:
            continue
        mask = _mask(c)
        target = min((p for p, m in masks.items() if not mask & ~m), key=len, default=None)
        if target is None:
            theta[c] = v.copy()
            masks[c] = mask
        else:
            theta[target] = theta[target] + v.reshape(broadcast_shape(c, target, v.shape))
    return list(source)
