"""Make noisy marginals non-negative and mutually consistent, and build the model.

The model is a Bayesian network over the binned columns: each column has at most
a few parents and a non-negative table over itself and its parents. For a tree
of 2-way marginals (DP modes) the tables are the measured pairs, projected so
that all tables agree on every shared 1-way marginal (inverse-variance consensus,
then iterative proportional fitting); the network then reproduces every table
exactly. In balanced mode the tables are exact counts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..marginal import Measurement


@dataclass(frozen=True)
class Model:
    """A Bayesian network: ``parents`` in sampling order, ``tables[c]`` over (c, *parents[c])."""

    sizes: tuple[int, ...]
    parents: dict[int, tuple[int, ...]]
    tables: dict[int, np.ndarray]

    def __post_init__(self) -> None:
        seen: set[int] = set()
        for c, ps in self.parents.items():
            if any(p not in seen for p in ps):
                raise ValueError(f"column {c}'s parents {ps} do not all come before it")
            shape = tuple(self.sizes[k] for k in (c, *ps))
            if c not in self.tables:
                raise ValueError(f"column {c} has no table")
            if not np.isfinite(self.tables[c]).all():
                raise ValueError(f"table of column {c} has NaN or infinite entries")
            if self.tables[c].shape != shape:
                raise ValueError(f"table of column {c} has shape {self.tables[c].shape}, expected {shape}")
            if (self.tables[c] < 0).any():
                raise ValueError(f"table of column {c} has negative entries")
            seen.add(c)
        if seen != set(range(len(self.sizes))):
            raise ValueError("the network does not cover every column")

    def conditional(self, c: int) -> np.ndarray:
        """P(c | parents) with shape (size_c, n_parent_configs); empty configs fall back to P(c)."""
        t = self.tables[c].reshape(self.sizes[c], -1).astype(np.float64)
        marg = t.sum(axis=1)
        marg = marg / marg.sum() if marg.sum() > 0 else np.full(len(marg), 1.0 / len(marg))
        col = t.sum(axis=0)
        out = np.where(col > 0, t / np.where(col > 0, col, 1.0), marg[:, None])
        return out

    def joint(self) -> np.ndarray:
        """The full joint distribution (tiny domains only: for tests)."""
        d = len(self.sizes)
        p = np.ones(self.sizes)
        for c, ps in self.parents.items():
            cond = self.conditional(c).reshape((self.sizes[c], *(self.sizes[k] for k in ps)))
            axes = (c, *ps)
            # Broadcast cond over the full joint's axes.
            order = np.argsort(axes)
            cond = np.transpose(cond, order)
            shape = [1] * d
            for a in sorted(axes):
                shape[a] = self.sizes[a]
            p = p * cond.reshape(shape)
        return p


def project_simplex(v: np.ndarray, total: float) -> np.ndarray:
    """Euclidean projection of v onto {x >= 0, sum(x) = total}."""
    flat = v.ravel().astype(np.float64)
    if total <= 0:
        return np.zeros_like(v, dtype=np.float64)
    u = np.sort(flat)[::-1]
    css = np.cumsum(u) - total
    k = np.arange(1, len(u) + 1)
    rho = np.nonzero(u - css / k > 0)[0][-1]
    theta = css[rho] / (rho + 1)
    return np.maximum(flat - theta, 0).reshape(v.shape)


PRIOR_WEIGHT = 1e-3


def rake(table: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, iters: int = 200, tol: float = 1e-9) -> np.ndarray:
    """Iterative proportional fitting of a non-negative 2-d table to given margins (same totals)."""
    t = np.maximum(table.astype(np.float64), 0.0)
    total = max(float(rows.sum()), 1e-12)
    out, ok = _ipf(t, rows, cols, iters, tol * max(total, 1.0))
    if ok:
        return out
    # The table's support cannot carry the margins: a little mass on the independent table
    # reaches every cell the margins allow, and IPF converges.
    out, _ = _ipf(t + PRIOR_WEIGHT * np.outer(rows, cols) / total, rows, cols, iters * 5, tol * max(total, 1.0))
    return out


def _ipf(t: np.ndarray, rows: np.ndarray, cols: np.ndarray, iters: int, tol: float) -> tuple[np.ndarray, bool]:
    t = t.copy()
    for _ in range(iters):
        rs = t.sum(1)
        t *= np.divide(rows, rs, out=np.zeros_like(rs), where=rs > 0)[:, None]
        cs = t.sum(0)
        t *= np.divide(cols, cs, out=np.zeros_like(cs), where=cs > 0)[None, :]
        if np.abs(t.sum(1) - rows).max() <= tol and np.abs(t.sum(0) - cols).max() <= tol:
            return t, True
    return t, False


def consistent_pairs(d: int, one_way: dict[int, Measurement], pairs: list[Measurement],
                     total: tuple[float, float]) -> tuple[float, dict[int, np.ndarray], dict[tuple[int, int], np.ndarray]]:
    """Turn noisy 1-way and 2-way counts into consistent non-negative tables.

    Args:
        d: number of columns.
        one_way: a 1-way measurement per column.
        pairs: 2-way measurements (each over two distinct columns).
        total: the noisy row count and its variance.

    Returns:
        (n, margins, tables): the consensus row count, each column's counts, and each pair's
        counts (keyed by the pair's clique), all non-negative and agreeing on shared margins.
    """
    # Consensus row count from every measurement's sum, weighted by its variance.
    est = [total]
    for m in [*one_way.values(), *pairs]:
        est.append((float(m.values.sum()), float(m.variance.sum())))
    n = _combine(est)
    n = max(n, 1.0)
    margins: dict[int, np.ndarray] = {}
    for c in range(d):
        parts = [(one_way[c].values, one_way[c].variance)]
        for m in pairs:
            if c in m.clique:
                ax = 1 - m.clique.index(c)
                parts.append((m.values.sum(axis=ax), m.variance.sum(axis=ax)))
        margins[c] = project_simplex(_combine_vec(parts), n)
    tables = {}
    for m in pairs:
        a, b = m.clique
        tables[(a, b)] = rake(project_simplex(m.values, n), margins[a], margins[b])
    return n, margins, tables


def _combine(parts: list[tuple[float, float]]) -> float:
    w = np.array([1.0 / v if v > 0 else 1e12 for _, v in parts])
    x = np.array([x for x, _ in parts])
    return float((w * x).sum() / w.sum())


def _combine_vec(parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    num = np.zeros_like(parts[0][0], dtype=np.float64)
    den = np.zeros_like(num)
    for x, v in parts:
        w = 1.0 / np.maximum(v, 1e-12)
        num += w * x
        den += w
    return num / den


def tree_model(sizes: list[int], parents: dict[int, tuple[int, ...]], margins: dict[int, np.ndarray],
               tables: dict[tuple[int, int], np.ndarray]) -> Model:
    """A network whose tables are the consistent pair tables (each column at most one parent)."""
    out = {}
    for c, ps in parents.items():
        if not ps:
            out[c] = margins[c]
        elif (c, ps[0]) in tables:
            out[c] = tables[(c, ps[0])]
        else:
            out[c] = tables[(ps[0], c)].T
    return Model(tuple(sizes), dict(parents), out)
