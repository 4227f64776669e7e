"""Quality: how close the synthetic table's values and their relations are to the real ones.

The figures, with SDMetrics' names where it has one:

* Column Shapes: per column, ``KSComplement`` (numbers, dates, times: 1 − the
  Kolmogorov–Smirnov distance of the non-NULL values) or ``TVComplement``
  (categories and booleans: 1 − the total variation distance of the value
  shares, NULL a value of its own); the property is their mean.
* Column Pair Trends: per pair, ``CorrelationSimilarity`` (two numeric or time
  columns: 1 − |r_real − r_synth| / 2, Pearson on rows where both are set) or
  ``ContingencySimilarity`` (a pair with a category: 1 − the total variation
  distance of the 2-way table on the marginal bins below); the property is their mean.
* 1-, 2-, 3-way marginals: 1 − the mean total variation distance, exactly as
  ``shared/bench/fidelity.py`` computes it (16 quantile bins of the real values,
  the 64 most frequent real values + other, NULL its own bucket; at most 300
  pairs and 300 triples drawn with a fixed seed).
* Deep Structure (PCA): see :func:`deep_structure`.

And SDMetrics' diagnostics, per column (not part of the quality score): ``BoundaryAdherence``
(numbers and times: the share of synthetic values inside the real [min, max]),
``CategoryAdherence`` (categories: the share of synthetic values the real column holds) or, for a
text or integer column whose real values are all distinct (an id), ``KeyUniqueness`` (the share of
distinct synthetic values).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .columns import Compared, shown


BINS = 16  # quantile bins of a numeric column (fidelity.py's --bins)
TOP = 4 * BINS  # most frequent values of a category kept as buckets
MAX_PAIRS = 300
MAX_TRIPLES = 300
PCA_COMPONENTS = 5
PCA_TOP = 10  # one-hot categories per column in the PCA features
PCA_SAMPLE = 50_000
PLOT_SAMPLE = 5_000  # values per column kept for the density plots
SCATTER_POINTS = 2_000


@dataclass(frozen=True)
class ColumnPlot:
    """What the HTML page draws for one column."""

    name: str
    kind: str
    type: str
    real: np.ndarray | None = None  # sampled non-NULL values (numbers and times)
    synth: np.ndarray | None = None
    bars: tuple[tuple[str, float, float], ...] = ()  # (label, real share, synthetic share) for categories
    masked: bool = False  # filled with random values by the run (known when the run is)


# ---------------------------------------------------------------- column shapes


def _moments(fin: np.ndarray) -> tuple[float | None, float | None]:
    """The mean and sample standard deviation of finite values (None where too few), on the values over
    their ``_overflow_scale`` and scaled back: near the float's limit a plain sum overflows."""
    big = _overflow_scale(fin)
    unit = fin / big if big != 1.0 else fin
    return (float(unit.mean()) * big if len(fin) else None,
            float(unit.std(ddof=1)) * big if len(fin) > 1 else None)


def column_shape(c: Compared, rng: np.random.Generator) -> tuple[dict, ColumnPlot]:
    """The column's score and statistics, its marginal buckets, and what to plot."""
    row: dict[str, Any] = {"column": c.name, "type": c.type, "synth_type": c.synth_type, "kind": c.kind}
    if c.numeric:
        r, s = c.real, c.synth
        rv, sv = np.sort(r[~np.isnan(r)]), np.sort(s[~np.isnan(s)])  # sorted once: KS, distinct, bins
        row["metric"] = "KSComplement"
        row["score"] = _unit(1.0 - ks_statistic(rv, sv, presorted=True))
        for side, x, v in (("real", r, rv), ("synth", s, sv)):
            fin = v[np.isfinite(v)]
            row[f"{side}_null_share"] = 1.0 - len(v) / len(x)
            row[f"{side}_distinct"] = int(np.count_nonzero(v[1:] != v[:-1]) + 1) if len(v) else 0
            row[f"{side}_mean"], row[f"{side}_std"] = _moments(fin)
            row[f"{side}_min"] = float(v[0]) if len(v) else None
            row[f"{side}_max"] = float(v[-1]) if len(v) else None
            row[f"{side}_range"] = (f"{shown(v[0], c.kind, c.type)} .. {shown(v[-1], c.kind, c.type)}"
                                    if len(v) else None)
        if "INT" in c.type.upper() and _is_key(row, len(rv)):  # an integer id; distinct floats are no key
            row["diagnostic"], row["adherence"] = "KeyUniqueness", row["synth_distinct"] / max(len(sv), 1)
        else:  # BoundaryAdherence: synthetic values inside the real [min, max]
            inside = (np.searchsorted(sv, rv[0], "left"), np.searchsorted(sv, rv[-1], "right")) if len(rv) else (0, 0)
            row["diagnostic"] = "BoundaryAdherence"
            row["adherence"] = (inside[1] - inside[0]) / len(sv) if len(sv) and len(rv) else None
        _bin_numeric(c, rv[np.isfinite(rv)])  # edges from numbers: +-inf fall in the outer bins
        plot = ColumnPlot(c.name, c.kind, c.type, _sample(rv, PLOT_SAMPLE, rng), _sample(sv, PLOT_SAMPLE, rng))
        return row, plot
    # Categories: one dictionary over both sides, so every distinct value counts (TVComplement).
    both = pa.chunked_array([c.real, c.synth], type=pa.string()).combine_chunks().dictionary_encode()
    values = both.dictionary
    k = len(values)
    idx = both.indices.fill_null(k).to_numpy(zero_copy_only=False).astype(np.int64)
    n_r = len(c.real)
    idx_r, idx_s = idx[:n_r], idx[n_r:]
    cnt_r = np.bincount(idx_r, minlength=k + 1)
    cnt_s = np.bincount(idx_s, minlength=k + 1)
    p_r, p_s = cnt_r / n_r, cnt_s / len(idx_s)
    row["metric"] = "TVComplement"
    row["score"] = _unit(1.0 - 0.5 * float(np.abs(p_r - p_s).sum()))
    row["real_null_share"], row["synth_null_share"] = float(p_r[k]), float(p_s[k])
    row["real_distinct"], row["synth_distinct"] = int((cnt_r[:k] > 0).sum()), int((cnt_s[:k] > 0).sum())
    set_s = int(cnt_s[:k].sum())
    if _is_key(row, int(cnt_r[:k].sum())):
        row["diagnostic"], row["adherence"] = "KeyUniqueness", row["synth_distinct"] / max(set_s, 1)
    else:  # CategoryAdherence: synthetic values the real column holds
        row["diagnostic"] = "CategoryAdherence"
        row["adherence"] = float(cnt_s[:k][cnt_r[:k] > 0].sum()) / set_s if set_s else None
    top = _top_values(cnt_r[:k], values, TOP)
    lookup = np.full(k + 1, len(top), dtype=np.int32)
    lookup[top] = np.arange(len(top), dtype=np.int32)
    lookup[k] = len(top) + 1
    c.codes_real, c.codes_synth = lookup[idx_r], lookup[idx_s]
    c.size = len(top) + 2
    c.labels = [str(v) for v in values.take(pa.array(top, pa.int64())).to_pylist()] if len(top) else []
    if c.holdout is not None:  # the same buckets: a top value's own, 'other', NULL
        at = pc.index_in(c.holdout, value_set=values.take(pa.array(top, pa.int64())))
        c.codes_holdout = np.where(pc.is_null(c.holdout).to_numpy(zero_copy_only=False), len(top) + 1,
                                   at.fill_null(len(top)).to_numpy(zero_copy_only=False)).astype(np.int32)
    # The ten most frequent values that hold at least 1% of either table; the rest is '(other)'.
    bars = [(lab, float(p_r[i]), float(p_s[i])) for lab, i in zip(c.labels, top) if max(p_r[i], p_s[i]) >= 0.01][:10]
    rest_r = 1.0 - p_r[k] - sum(b[1] for b in bars)
    rest_s = 1.0 - p_s[k] - sum(b[2] for b in bars)
    if rest_r > 1e-12 or rest_s > 1e-12:
        bars.append(("(other)", max(rest_r, 0.0), max(rest_s, 0.0)))
    if p_r[k] > 0 or p_s[k] > 0:
        bars.append(("(NULL)", float(p_r[k]), float(p_s[k])))
    return row, ColumnPlot(c.name, c.kind, c.type, bars=tuple(bars))


def _unit(x: float) -> float:
    """A score in [0, 1] (float rounding can put 1 − a distance of 1 a hair below 0)."""
    return float(min(1.0, max(0.0, x)))


KEY_MIN_ROWS = 10


def _is_key(row: dict, present: int) -> bool:
    """A column whose real values are all distinct (an id): its diagnostic is KeyUniqueness."""
    return present >= KEY_MIN_ROWS and row["real_distinct"] == present


def _top_values(counts: np.ndarray, values: pa.Array, limit: int) -> np.ndarray:
    """Indices of the `limit` most frequent values, ties broken by the value (as fidelity.py's ORDER BY)."""
    present = np.flatnonzero(counts > 0)
    if len(present) > limit:
        threshold = np.partition(counts[present], len(present) - limit)[len(present) - limit]
        above = present[counts[present] > threshold]
        tied = present[counts[present] == threshold]
        order = pc.sort_indices(values.take(pa.array(tied, pa.int64()))).to_numpy()
        present = np.concatenate([above, tied[order[: limit - len(above)]]])
    # Most frequent first, then by value, for the plots and labels.
    keys = pc.sort_indices(values.take(pa.array(present, pa.int64()))).to_numpy()
    by_value = present[keys]
    return by_value[np.argsort(-counts[by_value], kind="stable")]


def _bin_numeric(c: Compared, finite_real: np.ndarray) -> None:
    """fidelity.py's discretization: quantile bins of the real values, NULL a bucket of its own; and where either side
    holds an infinity (a DATE's open end, a DOUBLE's inf), +inf and -inf buckets of their own: in the end bins they
    hid a copy that lost every open end (a quarter of the rows: 1-way marginals 1.0; the review of 7c77ad2)."""
    if len(finite_real):
        edges = np.unique(np.quantile(finite_real, np.linspace(0, 1, BINS + 1)[1:-1]))
    else:
        edges = np.array([])
    k = len(edges) + 1
    special = bool(np.isinf(c.real).any() or np.isinf(c.synth).any())

    def code(x: np.ndarray) -> np.ndarray:
        out = np.searchsorted(edges, x, side="right").astype(np.int32)
        out[np.isnan(x)] = k
        if special:
            out[x == np.inf] = k + 1
            out[x == -np.inf] = k + 2
        return out

    c.codes_real, c.codes_synth, c.size = code(c.real), code(c.synth), k + (3 if special else 1)


def ks_statistic(a: np.ndarray, b: np.ndarray, *, presorted: bool = False) -> float:
    """The two-sample Kolmogorov–Smirnov distance (as scipy's ks_2samp statistic); 0 when both are empty.

    The largest gap between the two step functions is at a value of one of the samples:
    at the last copy of each value of `a`, F_a is known from the position and F_b is
    found by a search, and the other way round.
    """
    if len(a) == 0 or len(b) == 0:
        return 0.0 if len(a) == len(b) else 1.0
    if not presorted:
        a, b = np.sort(a), np.sort(b)
    gap = 0.0
    for x, y in ((a, b), (b, a)):
        ends = np.flatnonzero(np.r_[x[1:] != x[:-1], True])
        f_x = (ends + 1) / len(x)
        f_y = np.searchsorted(y, x[ends], side="right") / len(y)
        gap = max(gap, float(np.max(np.abs(f_x - f_y))))
    return gap


def _sample(x: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= limit else x[rng.choice(len(x), limit, replace=False)]


# ---------------------------------------------------------------- pair trends


def pair_trends(cols: list[Compared]) -> tuple[list[dict], dict, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair's CorrelationSimilarity or ContingencySimilarity, and the 2-way tables it counted."""
    d = len(cols)
    real_r = _correlations([c.real for c in cols if c.numeric])
    synth_r = _correlations([c.synth for c in cols if c.numeric])
    pos = {i: j for j, i in enumerate(i for i, c in enumerate(cols) if c.numeric)}
    real_assoc, synth_assoc = np.eye(d), np.eye(d)
    numeric_pair = np.zeros((d, d), dtype=bool)
    rows, hists = [], {}
    for i, j in itertools.combinations(range(d), 2):
        a, b = cols[i], cols[j]
        r_real = r_synth = math.nan
        if a.numeric and b.numeric:
            r_real, r_synth = real_r[pos[i], pos[j]], synth_r[pos[i], pos[j]]
        if not (math.isnan(r_real) or math.isnan(r_synth)):
            metric, score = "CorrelationSimilarity", _unit(1.0 - abs(r_real - r_synth) / 2.0)
            assoc = (float(r_real), float(r_synth))
            numeric_pair[i, j] = numeric_pair[j, i] = True
        else:
            # A category, or a constant numeric column whose correlation is undefined: the 2-way table.
            hr, hs = _hist(cols, (i, j))
            hists[(i, j)] = (hr, hs)
            metric, score = "ContingencySimilarity", _unit(1.0 - 0.5 * float(np.abs(hr / hr.sum() - hs / hs.sum()).sum()))
            shape = (a.size, b.size)
            assoc = (cramers_v(hr.reshape(shape)), cramers_v(hs.reshape(shape)))
        real_assoc[i, j] = real_assoc[j, i] = assoc[0]
        synth_assoc[i, j] = synth_assoc[j, i] = assoc[1]
        rows.append({"column_1": a.name, "column_2": b.name, "metric": metric,
                     "real_association": assoc[0], "synth_association": assoc[1], "score": float(score)})
    return rows, hists, real_assoc, synth_assoc, numeric_pair


def _correlations(columns: list[np.ndarray]) -> np.ndarray:
    """Pearson correlations over the rows where both columns are finite (NaN where undefined).

    Columns with no missing value are centred into one matrix and share one product; a
    pair with missing values is computed on the rows where both are set, as SDMetrics
    drops them pair by pair.
    """
    p = len(columns)
    r = np.full((p, p), np.nan)
    ok = [np.isfinite(x) for x in columns]
    columns = [x / big if (big := _overflow_scale(x)) != 1.0 else x for x in columns]  # r is scale-free
    full = [k for k in range(p) if ok[k].all()]
    if full and len(columns[0]) >= 2:
        means = [float(columns[k].mean()) for k in full]
        z = np.empty((len(full), len(columns[0])))
        for row, (k, mean) in enumerate(zip(full, means)):
            np.subtract(columns[k], mean, out=z[row])
        cross = z @ z.T
        del z
        for a, b in itertools.combinations(range(len(full)), 2):
            r[full[a], full[b]] = r[full[b], full[a]] = _pearson(cross[a, b], cross[a, a], cross[b, b], means[a],
                                                                 means[b], len(columns[0]))
    for k, j in itertools.combinations(range(p), 2):
        if ok[k].all() and ok[j].all():
            continue
        m = ok[k] & ok[j]
        x, y = columns[k][m], columns[j][m]
        if len(x) < 2:
            continue
        mean_x, mean_y = float(x.mean()), float(y.mean())
        x, y = x - mean_x, y - mean_y
        r[k, j] = r[j, k] = _pearson(float(x @ y), float(x @ x), float(y @ y), mean_x, mean_y, len(x))
    return np.clip(r, -1.0, 1.0)


def _overflow_scale(x: np.ndarray) -> float:
    """What to divide a numeric column by before sums of its squares: its largest finite magnitude where
    that is past 1e100 (near the float's limit, about 1.6e308, the sums overflow to inf and the
    statistics to NaN), else 1 (the column is used as it is, to the bit). Correlations and the
    standardized features are the same at any scale."""
    finite = x[np.isfinite(x)]
    top = float(np.abs(finite).max()) if len(finite) else 0.0
    return top if top > 1e100 else 1.0


def _pearson(sxy: float, sxx: float, syy: float, mean_x: float, mean_y: float, n: int) -> float:
    """r from centred sums of products; NaN when a column is constant (its sum of squares is only rounding)."""
    if n < 2 or _constant(sxx, mean_x, n) or _constant(syy, mean_y, n):
        return math.nan
    return sxy / math.sqrt(sxx * syy)


def _constant(sum_sq: float, mean: float, n: int) -> bool:
    """A column whose centred sum of squares is only rounding: its correlation is undefined."""
    return sum_sq / n <= (1e-12 * max(1.0, abs(float(mean)))) ** 2


def cramers_v(table: np.ndarray) -> float:
    """Cramér's V of a contingency table of counts (0 when a side has one non-empty value)."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    k = min(table.shape) - 1
    n = table.sum()
    if k <= 0 or n <= 0:
        return 0.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(min(math.sqrt(chi2 / n / k), 1.0))


def _hist(cols: list[Compared], which: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the joint buckets of some columns, real and synthetic."""
    def flat(side: str) -> np.ndarray:
        # Horner's rule in place on int32 (at most 66**3 cells): three times faster than int64 here.
        codes = [getattr(cols[k], side) for k in which]
        if len(codes) == 1:
            return codes[0]
        out = codes[0] * np.int32(cols[which[1]].size)  # a new array; the rest in place
        out += codes[1]
        for k, c in zip(which[2:], codes[2:]):
            out *= np.int32(cols[k].size)
            out += c
        return out

    n = int(np.prod([cols[k].size for k in which]))
    return np.bincount(flat("codes_real"), minlength=n), np.bincount(flat("codes_synth"), minlength=n)


# ---------------------------------------------------------------- marginals


def marginals(cols: list[Compared], hists: dict, seed: int) -> dict[int, tuple[float, int, int]]:
    """Mean TVD of 1-, 2- and 3-way marginals: k -> (tvd, sets scored, sets in all), as fidelity.py draws them."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, cap in ((1, 10**9), (2, MAX_PAIRS), (3, MAX_TRIPLES)):
        if len(cols) < k:
            continue
        sets = list(itertools.combinations(range(len(cols)), k))
        total = len(sets)
        if len(sets) > cap:
            idx = rng.choice(len(sets), size=cap, replace=False)
            sets = [sets[i] for i in sorted(idx)]
        vals = []
        for s in sets:
            hr, hs = hists[s] if s in hists else _hist(cols, s)
            vals.append(0.5 * float(np.abs(hr / hr.sum() - hs / hs.sum()).sum()))
        out[k] = (float(np.mean(vals)), len(sets), total)
    return out


# ---------------------------------------------------------------- deep structure


def _features(cols: list[Compared], side: str, rows: np.ndarray, top: int) -> np.ndarray:
    """Numbers (NULL at the real mean) and one-hot top categories, before standardizing."""
    parts = []
    for c in cols:
        if c.numeric:
            x = getattr(c, side)[rows]
            x = np.where(np.isfinite(x), x, np.nan)
            big = _overflow_scale(c.real)  # one scale for both sides, the real one's
            parts.append((x / big if big != 1.0 else x)[:, None])
        else:
            codes = getattr(c, "codes_" + side)[rows]
            m = min(top, c.size - 2)
            parts.append((codes[:, None] == np.arange(m)[None, :]).astype(np.float64))
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(rows), 0))


def standardizer(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard deviation of each feature over its set values, and which features vary."""
    ok = ~np.isnan(x)
    n = ok.sum(axis=0)
    filled = np.where(ok, x, 0.0)
    center = filled.sum(axis=0) / np.maximum(n, 1)
    scale = np.sqrt((np.where(ok, x - center, 0.0) ** 2).sum(axis=0) / np.maximum(n, 1))
    keep = (n > 0) & (scale > 1e-12 * np.maximum(1.0, np.abs(center)))
    return center, np.where(keep, scale, 1.0), keep


def standardize(x: np.ndarray, center: np.ndarray, scale: np.ndarray, keep: np.ndarray) -> np.ndarray:
    z = (x - center) / scale
    z = np.where(np.isnan(z), 0.0, z)
    return z[:, keep]


def deep_structure(cols: list[Compared], rng: np.random.Generator, notes: list[str]
                    ) -> tuple[float | None, str, tuple[np.ndarray | None, np.ndarray | None, tuple[float, ...]]]:
    """Deep Structure: do the synthetic rows spread along the real table's principal axes as the real rows do?

    PCA is fitted on the real rows, standardized (numbers and times; the 10 most frequent
    values of each category one-hot; NULL at the mean). Both tables are projected on its
    first five components; the score is 1 − the KS distance of the real and synthetic
    projections, averaged with the components' explained variance as weights. Correlations
    the synthetic table misses, or spreads it gets wrong, move its points off the real axes.
    """
    n_r, n_s = len(cols[0].real), len(cols[0].synth)
    rows_r = np.sort(rng.choice(n_r, PCA_SAMPLE, replace=False)) if n_r > PCA_SAMPLE else np.arange(n_r)
    rows_s = np.sort(rng.choice(n_s, PCA_SAMPLE, replace=False)) if n_s > PCA_SAMPLE else np.arange(n_s)
    xr = _features(cols, "real", rows_r, PCA_TOP)
    center, scale, keep = standardizer(xr)
    zr = standardize(xr, center, scale, keep)
    zs = standardize(_features(cols, "synth", rows_s, PCA_TOP), center, scale, keep)
    if zr.shape[1] == 0 or len(zr) < 3:
        return None, "no column varies in the real table: nothing to fit", (None, None, ())
    cov = zr.T @ zr / max(len(zr) - 1, 1)
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1]
    eigval, eigvec = np.clip(eigval[order], 0.0, None), eigvec[:, order]
    # Fix each component's sign, so the plot does not flip between runs.
    eigvec *= np.where(eigvec[np.abs(eigvec).argmax(axis=0), np.arange(eigvec.shape[1])] < 0, -1.0, 1.0)
    k = min(PCA_COMPONENTS, zr.shape[1])
    total = float(eigval.sum())
    if total <= 0:
        return None, "no column varies in the real table: nothing to fit", (None, None, ())
    pr, ps = zr @ eigvec[:, :k], zs @ eigvec[:, :k]
    weights = eigval[:k] / eigval[:k].sum()
    score = float(np.clip(1.0 - sum(w * ks_statistic(pr[:, j], ps[:, j]) for j, w in enumerate(weights)), 0.0, 1.0))
    explained = tuple(float(v / total) for v in eigval[:k])
    sampled = n_r > PCA_SAMPLE or n_s > PCA_SAMPLE
    if sampled:
        notes.append(f"Deep Structure: PCA on a sample of {len(rows_r):,} real and {len(rows_s):,} synthetic rows.")
    text = (f"PCA fitted on the standardized real rows ({zr.shape[1]} features: numbers, times, one-hot top-{PCA_TOP} "
            f"categories); 1 − KS distance of the real and synthetic projections on the first {k} components, "
            f"weighted by explained variance (they explain {sum(explained):.0%})"
            + (f"; on a sample of {len(rows_r):,} real and {len(rows_s):,} synthetic rows" if sampled else ""))
    scatter_r = pr[_sample(np.arange(len(pr)), SCATTER_POINTS, rng), :2] if k else None
    scatter_s = ps[_sample(np.arange(len(ps)), SCATTER_POINTS, rng), :2] if k else None
    if k == 1:
        scatter_r = np.column_stack([scatter_r[:, 0], np.zeros(len(scatter_r))])
        scatter_s = np.column_stack([scatter_s[:, 0], np.zeros(len(scatter_s))])
    return score, text, (scatter_r, scatter_s, explained)
