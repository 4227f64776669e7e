"""Which marginals to model when the counts are exact (balanced mode).

A decomposable Bayesian network with coarsened parents and pooled conditionals
(``decomposable_network``, the model of ``engine/model/pooled.py``); a Bayesian network
on a Chow-Liu tree with more parents where conditional mutual information adds the
most (``exact_network``, its predecessor); or,
for a user's workload, the graphical model fitted greedily to the workload's
marginals that it misses most (``greedy_exact``). Both read the binned table
through its ``marginal`` call only. The DP modes choose with the exponential
mechanism instead (``privacy/select.py``, ``privacy/adaptive.py``).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from .marginal import (Clique, Measurement, Remap, cell_counts, cell_index, marginal, narrow_codes, narrow_counts,
                       runs)
from .model.pooled import Coarsening, Parent, pooled_network
from .sample import sample_pooled
from .workload import Workload, candidates

Edge = tuple[int, int]
ROOT_BUDGET = 128  # balanced mode's structure search: greedy orders from up to this / d first columns,
SEARCH_BUDGET = 250_000_000  # and as many as keep roots x d^2 x scored rows within this (a growth scores
# about d^2 parent sets, each a pass over the rows): 1M x 50 (a 100k-row sample) grows from 1 first column
# instead of 2 (3 seeds: the same tvd1/2/3, 51 -> 42 CPU s), the bench tables (at most 5.4e7) and 1M x 20
# (2.4e8) keep theirs.
REEXAMINE_BUDGET = 20_000_000  # a growth re-examines every column left against each new family (about
# d^2 / 2 re-examinations, each a few scores over the scored rows) where d (d - 1) / 2 x rows is within this:
# on the bench tables (cars the largest: 70 columns, 4,654 rows, 1.1e7) it does. Past it a column is
# re-examined only when one of its CANDIDATE_PARENTS best single parents joins (Sparse Candidate; Friedman,
# Nachman, Pe'er 1999): generated surveys and mixed tables, seeds 0-1 (15k x 62: 0-2), tvd3 and CPU s, every
# re-examination -> this: 15k x 62 0.0849 -> 0.0828, 22 -> 5.6 s; 10k x 150 0.1028 -> 0.0888, 74 -> 10 s; 20k x 150 0.2359 ->
# 0.2370, 39 -> 13 s; 1M x 50 (100k rows scored) 0.0357 and 0.0358 either way, 18 -> 11 s. (Cars with it: 0.0475 -> 0.053.)
CANDIDATE_PARENTS = 16  # 4 x the parents a column may take
SCORE_SAMPLE_ROWS = 20_000  # model marginals outside the junction tree's cliques are estimated from a sample
SCORE_SAMPLE_PER_ROW = 2  # of at most this many rows, and this many per row of the table (at least
SCORE_SAMPLE_MIN = 1_000  # this many): a sample of the model twice the table's size has half the variance
# of the table's own counts, far below the noise of a measurement of them, on a table of 4,770 rows as on
# one of 54k. Cars at eps 3, seeds 0-5, tvd3 / CPU s: 20k rows 0.1018 / 22.8, 10k 0.0991 / 19.5, 5k 0.1016 / 17.3.


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_information(data, a: int, b: int) -> float:
    """I(a; b) from the exact counts of the binned table `data`."""
    joint = data.marginal((a, b))
    return _entropy(joint.sum(1)) + _entropy(joint.sum(0)) - _entropy(joint)


def conditional_mi(data, x: int, z: int, given: int) -> float:
    """I(x; z | given) from exact counts."""
    joint = data.marginal((x, z, given))
    return (_entropy(joint.sum(1)) + _entropy(joint.sum(0)) - _entropy(joint) - _entropy(joint.sum((0, 1))))


def exact_network(data, *, max_cells: int, candidates: int = 5, max_parents: int = 2) -> dict[int, tuple[int, ...]]:
    """Parents of each column: a maximum-MI spanning tree, then a second parent where it helps.

    Returns parents in an order where every parent precedes its children (dict order).
    """
    sizes = data.sizes
    d = len(sizes)
    if d == 1:
        return {0: ()}
    mi = {(i, j): mutual_information(data, i, j) for i, j in itertools.combinations(range(d), 2)}
    # Maximum spanning tree (Prim) rooted at the column with the largest total MI.
    total = [sum(v for e, v in mi.items() if k in e) for k in range(d)]
    root = int(np.argmax(total))
    parents: dict[int, tuple[int, ...]] = {root: ()}
    while len(parents) < d:
        best = max(((mi[tuple(sorted((u, v)))], v, u) for u in parents for v in range(d) if v not in parents))
        parents[best[1]] = (best[2],)
    # More parents among earlier columns, one at a time, by conditional mutual information
    # within `max_cells` per table.
    order = list(parents)
    for _ in range(max_parents - 1):
        for pos, x in enumerate(order):
            if not parents[x]:
                continue
            ps = parents[x]
            earlier = [z for z in order[:pos] if z not in ps]
            earlier.sort(key=lambda z: -mi[tuple(sorted((x, z)))])
            base = sizes[x] * math.prod(sizes[p] for p in ps)
            best_z, best_gain = None, 0.0
            for z in earlier[:candidates]:
                if base * sizes[z] > max_cells:
                    continue
                gain = _cmi(data, x, z, ps)
                if gain > best_gain:
                    best_z, best_gain = z, gain
            if best_z is not None and best_gain > 1e-3:
                parents[x] = (*ps, best_z)
    return parents


def _cmi(data, x: int, z: int, given: tuple[int, ...]) -> float:
    """I(x; z | given) from exact counts."""
    joint = data.marginal(tuple(sorted((x, z, *given))))
    axes = sorted((x, z, *given))
    ax_x, ax_z = axes.index(x), axes.index(z)
    return (_entropy(joint.sum(ax_z)) + _entropy(joint.sum(ax_x)) - _entropy(joint)
            - _entropy(joint.sum((ax_x, ax_z))))


def _xlogx(v: np.ndarray) -> float:
    """sum(v log v) of positive counts (the caller's are: populated cells and pools)."""
    return float((v * np.log(v)).sum())


def pooled_gain_score(data, x: int, parents: Sequence[Parent], coarse: Sequence[Coarsening], least: int,
                      penalty: float) -> float:
    """Log-likelihood of column x's rows under its pooled conditionals given `parents` (exact
    counts, in nats), less `penalty` per free parameter (a populated cell beyond the first of its pool).

    The pools of ``engine/model/pooled.py:pool``, worked out on the populated cells only (a
    table of 400k cells may hold a few thousand rows).
    """
    size = data.sizes[x]
    views = data if isinstance(data, _Views) else _Views(data)
    flat, c = views.populated((*(p for p, _ in parents), x), [*(coarse[p][lv] for p, lv in parents), None])
    cfg, val = np.divmod(flat, size)
    widths = [coarse[p][lv][1] for p, lv in parents]
    score = 0.0
    if not len(flat):
        return score
    for j in range(len(widths), -1, -1):
        if math.prod(widths[:j]) <= 4 * len(cfg) + DENSE_CONFIGS:  # counted into a table of every configuration
            held = np.bincount(cfg, weights=c)
            is_pool = held >= least if j else held > 0
            take = is_pool[cfg]
            held = held[is_pool]
        else:
            # Many more configurations than cells (a large cap on a table of many rows): the cells come
            # sorted (row-major), each configuration's a run, and its rows are summed per run. The counts
            # are whole numbers, exact in any order: the same score.
            starts, lengths = runs(cfg)
            held = np.add.reduceat(c, starts)
            is_pool = held >= least if j else held > 0
            take = np.repeat(is_pool, lengths)
            held = held[is_pool]
        score += _xlogx(c[take]) - _xlogx(held) - penalty * (int(take.sum()) - int(is_pool.sum()))
        if not j or take.all():
            break
        # Rows left go up a level: the last parent dropped, cells that now coincide added up.
        left = ~take
        keys = (cfg[left] // widths[j - 1]) * size + val[left]
        space = math.prod(widths[:j - 1]) * size
        if space <= 4 * len(keys) + (1 << 16):  # counted into the (small) table: no sort, the same sums in order
            sums = np.bincount(keys, weights=c[left], minlength=space)
            keys = np.flatnonzero(sums > 0)  # the weights are counts of rows, all positive
            c = sums[keys]
        else:
            keys, inverse = np.unique(keys, return_inverse=True)
            c = np.bincount(inverse, weights=c[left])
        cfg, val = np.divmod(keys, size)
    return score


def decomposable_network(data, coarse: Sequence[Coarsening], *, max_parents: int, max_cells: int, least: int,
                         penalty: float = 0.5, sample_rows: int | None = None) -> list[tuple[int, tuple[Parent, ...]]]:
    """A decomposable network, greedily: columns in order, each with parents inside one earlier family.

    The first column is one the others gain most from as their single parent (the order is
    grown from each of the leading ones, ``ROOT_BUDGET`` / d of them and at most ``SEARCH_BUDGET`` /
    (d^2 rows), at least one, and the network with the
    highest total score kept). Then,
    one column at a time, the column whose best parent set (inside any family so far:
    parents added one at a time, each at the level that scores best) gains the most is
    drawn next, and its family becomes a source of parent sets (for the columns left, or, on a table
    past ``REEXAMINE_BUDGET``, for those of which the column drawn is one of the ``CANDIDATE_PARENTS``
    best single parents: so a growth costs about d x 16 re-examinations, not d^2 / 2). The gain is the pooled
    log-likelihood (``pooled_gain_score``) over the column's own, less half a nat per free
    parameter: the in-sample gain that fitting noise alone brings (the Miller-Madow bias
    of plug-in mutual information), so a wide parent whose cells hold a row or two each
    is not taken for structure. A table (column x parents, in coarse cells) holds at most
    `max_cells` cells.

    Returns (column, parents) in sampling order; parents are (column, level) pairs.
    """
    data = _Views(data)
    sizes = [int(s) for s in data.sizes]
    d = len(sizes)
    cache: dict[tuple[int, tuple[Parent, ...]], float] = {}

    def score(x: int, parents: tuple[Parent, ...]) -> float:
        if (x, parents) not in cache:
            cache[(x, parents)] = pooled_gain_score(data, x, parents, coarse, least, penalty)
        return cache[(x, parents)]

    def best_in(x: int, family: tuple[Parent, ...]) -> tuple[float, tuple[Parent, ...]]:
        parents, cur = (), score(x, ())
        while len(parents) < max_parents:
            used = {p for p, _ in parents}
            cands = [(*parents, (p, level)) for p, low in family if p not in used for level in range(low, len(coarse[p]))
                     if sizes[x] * math.prod(coarse[q][lv][1] for q, lv in (*parents, (p, level))) <= max_cells]
            if not cands:
                break
            best = max(cands, key=lambda c: score(x, c))
            if score(x, best) <= cur + 1e-9:
                break
            parents, cur = best, score(x, best)
        return cur - score(x, ()), parents

    if d == 1:
        return [(0, ())]
    pair = np.array([[0.0 if y == r else max(score(y, ((r, 0),)) - score(y, ()), 0.0) for y in range(d)]
                     for r in range(d)])
    # Which columns' joining re-examines column y: every one, or (a search past REEXAMINE_BUDGET) the
    # CANDIDATE_PARENTS it gains most from alone. A family joined by another may still give y its parents.
    triggers: list[frozenset[int]] | None = None
    if d * (d - 1) // 2 * int(data.n) > REEXAMINE_BUDGET and d - 1 > CANDIDATE_PARENTS:
        triggers = [frozenset([int(r) for r in np.argsort(-pair[:, y], kind="stable") if r != y][:CANDIDATE_PARENTS])
                    for y in range(d)]
    # The first column decides much of the rest (storms: the storm's name, or its status), and
    # the greedy order from it is not the best one: it is grown from each of the columns the
    # others gain most from, as many as ROOT_BUDGET / d (all of them on tables of up to 12
    # columns, one on a table of 70: each growth costs about d^2 scores) and SEARCH_BUDGET allows
    # (one on a 100k-row sample of 50 columns), and the network with the highest score (pooled
    # log-likelihood less the penalty, summed over its columns) kept.
    tries = max(1, min(d, ROOT_BUDGET // d, SEARCH_BUDGET // (d * d * max(int(data.n), 1))))
    roots = [int(r) for r in np.argsort(-pair.sum(axis=1), kind="stable")[:tries]]

    def grow(root: int, weight: Sequence[float]) -> tuple[float, list[tuple[int, tuple[Parent, ...]]]]:
        order: list[tuple[int, tuple[Parent, ...]]] = [(root, ())]
        best = {x: best_in(x, ((root, 0),)) for x in range(d) if x != root}
        while best:
            x = max(best, key=lambda k: (weight[k] * best[k][0], -k))
            _, parents = best.pop(x)
            order.append((x, parents))
            family = ((x, 0), *parents)
            for y in best:
                if triggers is not None and x not in triggers[y]:
                    continue
                cand = best_in(y, family)
                if cand[0] > best[y][0]:
                    best[y] = cand
        return sum(weight[x] * (score(x, ps) - score(x, ())) for x, ps in order), order

    # Two weightings of the columns' gains: in nats, where a column of many values (a name of 257)
    # outweighs one of few (a diameter of 9) whatever they explain; and as a share of each column's
    # own entropy, every column counting alike, as in the marginals a table is judged by. Either
    # can be the worse (storms' diameters lose their year in nats; cars' 70 columns of small
    # blocks lose theirs in shares), so the best network of each is grown, and the one whose
    # sample matches the table's 2- and 3-way marginals better is kept (``marginal_misfit``).
    entropy = [max(-score(x, ()), 1e-9) for x in range(d)]
    networks = []
    for weight in ([1.0] * d, [1.0 / h for h in entropy]):
        grown = sorted((grow(root, weight) for root in roots), key=lambda r: -r[0])
        networks += [net for _, net in grown if net not in networks]
    if sample_rows is None or len(networks) == 1:
        return networks[0]
    misfit = marginal_misfit(data, coarse, (pooled_network(data, net, coarse, least) for net in networks), sample_rows)
    return networks[int(np.argmin(misfit))]


class _Views:
    """A binned table whose marginals take each column's coarser codes from a cache: the structure
    search counts tens of thousands of marginals over a few views of each column, and recoding a
    column on every count took a third of its time (1M x 50 in balanced mode)."""

    def __init__(self, data) -> None:
        self.data, self.sizes, self.n = data, data.sizes, data.n
        self.views: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}  # (column, id) -> (remap, codes)
        self.prefixes: dict[tuple, np.ndarray] = {}  # the cell index of a family's first columns, the latest few

    def marginal(self, clique: Clique, remaps=None) -> np.ndarray:
        if remaps is None or all(r is None for r in remaps) or not hasattr(self.data, "codes"):
            return self.data.marginal(clique, remaps)
        return cell_counts(self._columns(clique, remaps))

    def _columns(self, clique: Clique, remaps) -> list[tuple[np.ndarray, int]]:
        """(codes, size) of each column of `clique`, a remapped one in its cached coarser codes."""
        return [(self.data.codes[:, c], int(self.sizes[c])) if r is None else (self._view(c, r), int(r[1]))
                for c, r in zip(clique, remaps)]

    def populated(self, clique: Clique, remaps) -> tuple[np.ndarray, np.ndarray]:
        """The populated cells of ``marginal(clique, remaps)``: their row-major indices and counts. A
        family's table may have 400k cells for 100k rows: counting into it and scanning it for the
        cells that hold rows (int counts, no table of floats) is most of a structure search."""
        if not hasattr(self.data, "codes"):
            counts = self.marginal(clique, remaps).ravel()
            flat = np.flatnonzero(counts > 0)
            return flat, counts[flat]
        remaps = remaps if remaps is not None else [None] * len(clique)
        columns = self._columns(clique, remaps)
        # The cell index in 32 bits where the table fits (the search's do: half the memory traffic,
        # a third less time than int64 on 100k rows).
        narrow = math.prod(size for _, size in columns) <= NARROW_CELLS
        dtype = np.int32 if narrow else np.int64
        if len(columns) > 2:  # the search tries many last parents after the same first ones: their index is kept
            key = (narrow, *((c, None if r is None else id(r[0])) for c, r in zip(clique[:-2], remaps)))
            if key not in self.prefixes:
                if len(self.prefixes) >= PREFIXES_KEPT:
                    self.prefixes.pop(next(iter(self.prefixes)))
                self.prefixes[key] = cell_index(columns[:-2], dtype)
            (last, last_size), (x, x_size) = columns[-2:]
            flat = self.prefixes[key] * dtype(last_size)
            flat += last
            flat *= dtype(x_size)
            flat += x
        else:
            flat = cell_index(columns, dtype)
        if len(flat) and math.prod(size for _, size in columns) > SORTED_CELLS * len(flat):
            # A table of many more cells than rows (a larger cap on a table of many rows): its populated
            # cells by sorting the rows' cells, not by counting into the table and scanning it (100k rows
            # into 3.4M cells: 0.8 ms against 15). The same cells, ascending, and the same counts.
            flat = np.sort(flat)  # a copy: a lone column's index may be its codes
            starts, lengths = runs(flat)
            return flat[starts].astype(np.intp), lengths.astype(np.float64)
        counts = np.bincount(flat)
        populated = np.flatnonzero(counts > 0)  # a mask: numpy finds the nonzeros of a bool array 4x as fast as of int64
        return populated, counts[populated].astype(np.float64)

    def _view(self, c: int, remap: Remap) -> np.ndarray:
        key = (c, id(remap[0]))
        if key not in self.views:  # the remap is kept with its codes, so its id stays its own
            self.views[key] = (remap[0], remap[0][self.data.codes[:, c]].astype(np.int32))
        return self.views[key][1]


NARROW_CELLS = int(np.iinfo(np.int32).max)  # tables of at most this many cells are indexed in int32
SORTED_CELLS = 2  # populated cells by sorting where a table has more than this many cells a row (else by counting)
DENSE_CONFIGS = 1 << 16  # pooled_gain_score sums a level's rows per configuration in a table of them up to this
# many (more than 4 a populated cell), per run of sorted cells past it
PREFIXES_KEPT = 8  # the structure search's latest prefix indices kept (4 or 8 bytes a row each)
MISFIT_CELLS = 32  # marginal_misfit views each column in at most this many cells (its finest coarsening that fits)
MISFIT_SETS = 300  # and scores up to this many of the pairs and of the triples (a fixed sample beyond)


def marginal_misfit(data, coarse: Sequence[Coarsening], networks: Iterable, rows: int) -> list[float]:
    """For each network (an iterable: built one at a time, one in memory), the mean total variation
    distance between the table's and a sample's 2- and 3-way marginals.

    The sample is `rows` rows of the network (seed fixed: the comparison of networks is then
    repeatable); each column is viewed in its finest coarsening of at most ``MISFIT_CELLS``
    cells (or its coarsest), as a report's quality figures bin a column. Exact counts, balanced
    mode only.
    """
    d = len(data.sizes)
    views = [next((lv for lv in levels if lv[1] <= MISFIT_CELLS), levels[-1]) for levels in coarse]
    view_sizes = [size for _, size in views]
    rng = np.random.default_rng(0)
    sets = []
    for k in (2, 3):
        total = math.comb(d, k)
        if total > MISFIT_SETS:  # positions in itertools.combinations' order, never listed (166M triples of 1,000)
            sets += [combination_at(d, k, int(i)) for i in sorted(rng.choice(total, MISFIT_SETS, replace=False))]
        else:
            sets += list(itertools.combinations(range(d), k))
    real = {s: data.marginal(s, [views[c] for c in s]) for s in sets}
    real = {s: m / max(m.sum(), 1.0) for s, m in real.items()}
    out = []
    for network in networks:
        sample = sample_pooled(network, rows, np.random.default_rng(0))
        seen = np.asfortranarray(np.column_stack([views[c][0][sample[:, c]] for c in range(d)]))
        out.append(sum(0.5 * float(np.abs(real[s] - marginal(seen, view_sizes, s) / rows).sum()) for s in sets)
                   / max(len(sets), 1))
    return out


def combination_at(d: int, k: int, index: int) -> tuple[int, ...]:
    """The `index`-th (from 0) k-subset of range(d) in ``itertools.combinations`` order."""
    if not 0 <= index < math.comb(d, k):
        raise IndexError(f"no combination {index} of {k} out of {d}")
    out, a = [], 0
    for left in range(k, 0, -1):
        while True:
            after = math.comb(d - a - 1, left - 1)  # the subsets that start at a
            if index < after:
                break
            index -= after
            a += 1
        out.append(a)
        a += 1
    return tuple(out)


def tree_parents(edges: list[Edge], d: int) -> dict[int, tuple[int, ...]]:
    """Orient a forest: parents in breadth-first order from each component's first column."""
    adj: dict[int, list[int]] = {k: [] for k in range(d)}
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    parents: dict[int, tuple[int, ...]] = {}
    for start in range(d):
        if start in parents:
            continue
        parents[start] = ()
        queue = [start]
        while queue:
            u = queue.pop(0)
            for v in adj[u]:
                if v not in parents:
                    parents[v] = (u,)
                    queue.append(v)
    return parents


def greedy_exact(data, *, workload: Workload, max_cells: int, fit: Callable, size_of: Callable, max_rounds: int,
                 min_gain: float,
                 report: Callable[[str, float], None] | None = None) -> tuple[object, list[Measurement]]:
    """The graphical model on exact marginals, chosen greedily (no noise, no annealing).

    Each round adds the candidate the model misses most (weighted L1 error, in rows),
    among those that keep the junction tree within `max_cells`, and refits; it stops
    after `max_rounds`, or when the worst miss is below `min_gain` rows.
    """
    sizes = data.sizes
    one_way = [Measurement((i,), data.marginal((i,)), np.ones(sizes[i])) for i in range(len(sizes))]
    measurements = list(one_way)
    model = fit(measurements, None)
    cands = candidates(workload, min_order=2)
    true = {r: data.marginal(r) for r in cands}
    chosen: list[Clique] = []
    rng = np.random.default_rng(0)  # scoring samples only: the choice itself is deterministic given them
    for r_no in range(max_rounds):
        pool = [r for r in cands if r not in chosen]
        approx = model_marginals(model, pool, sizes, float(data.n), rng)
        order = sorted(pool, key=lambda r: -cands[r] * np.abs(true[r] - approx[r]).sum())
        pick = next((r for r in order if size_of([*chosen, r]) <= max_cells), None)
        if pick is None or np.abs(true[pick] - approx[pick]).sum() < min_gain:
            break
        chosen.append(pick)
        measurements.append(Measurement(pick, true[pick].astype(np.float64), np.ones(true[pick].shape)))
        model = fit(measurements, model)
        if report:
            report("selecting", min(0.4 + 0.4 * (r_no + 1) / max_rounds, 0.8))
    return model, measurements


def score_sample_rows(total: float) -> int:
    """Rows of the model's scoring sample for a table of `total` rows (a noisy count: public)."""
    return int(min(SCORE_SAMPLE_ROWS, max(SCORE_SAMPLE_MIN, round(SCORE_SAMPLE_PER_ROW * total))))


def model_marginals(model, pool: list[Clique], sizes: Sequence[int], total: float,
                    rng: np.random.Generator) -> dict[Clique, np.ndarray]:
    """The model's marginal on every candidate: exact where a junction-tree clique holds it, else
    estimated from one sample of the model (exact variable elimination on hundreds of candidates
    per round would dominate the run; the sample's error is far below the measurement noise).
    Post-processing of the model: no privacy cost."""
    out: dict[Clique, np.ndarray] = {}
    missing = []
    for r in pool:
        if model.tree.containing(r) is not None:
            out[r] = model.marginal(r)
        else:
            missing.append(r)
    if missing:
        n = score_sample_rows(total)
        rows = narrow_codes(model.sample(n, rng), sizes)  # column slices without copies
        for r in missing:
            out[r] = narrow_counts(rows, sizes, r)
            out[r] *= total / n  # in place: the same values
    return out
