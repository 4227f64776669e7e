"""Counts with noise: the row count, and marginals of the binned table.

The engine counts exactly (``engine/data.py``); here the counts get discrete
Gaussian noise of the stage's scale and are charged, and released counts are
post-processed: a category's two released counts are combined, and NULL and
'other' buckets measured within noise of zero leave the domain.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from ..engine.data import Binned, Rows
from ..engine.domain import CategoricalDomain, Domain, NumericDomain
from ..engine.marginal import Clique, Measurement
from ..errors import DataError
from .accounting import Accountant, sigma_for
from .budget import DISCOVERY_SHARE_CATEGORICAL, SHARE_COUNT, column_share
from .clamping import clamp_rho
from .discovery import END_FALSE, FAINT_Z, folded_ends, numeric_rhos
from .noise import discrete_gaussian, gaussian_tail_z

log = logging.getLogger(__name__)

MIN_ROWS = 50


def row_count(rows: Rows, label: str, acct: Accountant, rng: np.random.Generator) -> tuple[int, float, float]:
    """The exact row count, the released one and its noise variance; a source under ``MIN_ROWS`` is refused.

    In DP modes the released count is noisy, and the refusal is made on it, after it is
    charged: it reveals nothing the count does not, and the message states no count. (A
    source with no rows at all passes with the small probability that the noise alone
    reaches 50, and is then synthesized from noise.) In balanced mode both are exact.
    """
    n_rows = rows.row_count()
    if not acct.private:
        if n_rows == 0:
            raise DataError(f"the source {label} is empty: nothing to synthesize")
        if n_rows < MIN_ROWS:
            raise DataError(f"the source {label} has fewer than {MIN_ROWS} rows; a copy or a release needs at "
                            f"least {MIN_ROWS}")
        acct.charge("row count", 0.0, detail=f"exact: {n_rows} rows")
        return n_rows, float(n_rows), 0.0
    rho = SHARE_COUNT * acct.rho
    sigma = sigma_for(rho)
    noisy = float(n_rows + discrete_gaussian(sigma, 1, rng)[0])
    acct.charge("row count", rho, detail=f"noisy count, sigma={sigma:.1f}")
    if noisy < MIN_ROWS:
        raise DataError(f"the source {label} has too few rows: its noisy row count is under {MIN_ROWS}, the least "
                        "synthesize() works on (in DP modes the check is made on the noisy count, whose share of "
                        "the budget this run has spent: see synth_runs())")
    n_hat = max(noisy, 1.0)
    order = delta_order(n_hat)
    if acct.delta >= 1.0 / order:
        log.warning("delta=%g is not below 1/n for a table of about %s rows: a whole record could leak with "
                    "non-negligible probability; choose delta below %.0e", acct.delta, f"{order:,}", 0.1 / order)
    return n_rows, n_hat, sigma**2


def delta_order(n_hat: float) -> int:
    """The power of ten nearest the released row count, in log scale: the warning on delta compares with it,
    so that it does not come and go with the count's noise (it can only flip for a table within a few
    noise scales of 10^(k + 1/2) rows, about 3.16 * 10^k, where the power of ten changes)."""
    return int(10 ** round(np.log10(max(n_hat, 1.0))))


def measure(data: Binned, clique: Clique, sigma: float, rng: np.random.Generator) -> Measurement:
    """Count the marginal and add discrete Gaussian noise of scale `sigma` (0: exact)."""
    exact = data.marginal(clique)
    noisy = exact + discrete_gaussian(sigma, exact.shape, rng)
    return Measurement(clique, noisy, np.full(exact.shape, float(sigma) ** 2))


def one_way(data: Binned, domains: list[Domain], acct: Accountant, n_hat: float,
            rng: np.random.Generator) -> tuple[list[Domain], list[Measurement]]:
    """Every column's 1-way marginal, and the domains without their faint NULL and 'other' buckets.

    Each is measured: a numeric or temporal column's bins with what its domain left of its share
    (combined with the counts its domain's cells imply), BOOLEAN, ENUM and declared lists with the
    column's whole share (less the count of its clamped values), VARCHAR and UUID with what
    discovery left (combined with the discovery step's counts).
    A numeric or temporal column's end bins of cells not clearly data are confirmed or dropped
    (``confirm_ends``, at ``confirm_z(d)``). Columns of `data` whose domain loses a bucket are recoded.
    """
    d = len(domains)
    z_end = confirm_z(d)
    domains = list(domains)
    out: list[Measurement] = []
    for i, dom in enumerate(domains):
        share = column_share(acct, n_hat, d)
        declared_list = dom.column.declared is not None and bool(dom.column.declared.values)
        if isinstance(dom, NumericDomain):
            rho = numeric_rhos(dom.column, share)["one_way"]
        elif dom.column.kind == "categorical" and not declared_list:
            rho = share * (1 - DISCOVERY_SHARE_CATEGORICAL)
        else:  # BOOLEAN, ENUM, a declared list: the whole share, less the count of its clamped values
            rho = share - clamp_rho(dom.column, share)
        sigma = sigma_for(rho)
        m = measure(data, (i,), sigma, rng)
        cells, note = dom.size, ""
        if isinstance(dom, NumericDomain):
            confirmed, m, remap = confirm_ends(dom, m, z_end)
            if remap is not None:
                data.recode(i, remap, confirmed.size)
            if len(confirmed.edges) < len(dom.edges):
                note = "; an end bin measured within noise of zero left the domain"
            domains[i] = dom = confirmed
            m = averaged(m, *bin_counts(dom))
        else:
            m = with_discovery_counts(dom, m)
        out.append(m)
        acct.charge(f"1-way {dom.column.name}", rho, detail=f"{cells} cells, sigma={sigma:.1f}{note}")
    kept = []
    for i, dom in enumerate(domains):
        new, out[i], remap = drop_faint_buckets(dom, out[i])
        if remap is not None:
            data.recode(i, remap, new.size)
        kept.append(new)
    return kept, out


def confirm_z(columns: int) -> float:
    """The bar, in noise sds, an unconfirmed end bin's 1-way count must reach to stay: one that the table's
    empty end bins (two a column, `columns` columns: public) pass END_FALSE times in all, as
    ``discovery.sure_span``'s. 2.81 on 10 columns, 2.89 on 13, 3.32 on 55 (it was 2 for any table: an
    empty end bin stayed in 2.3 % of tests, and drew noise's mass, about 2.4 sds of rows, past the
    data's end: storms' year at eps 1, seed 2, 218 rows in 1968-1973, BoundaryAdherence 0.989). A bin of
    real rows under the bar leaves too, its rows and count going to the bin next to it: they are drawn a
    bin further in, not lost."""
    return gaussian_tail_z(END_FALSE / (2 * max(columns, 1)))


def confirm_ends(dom: NumericDomain, m: Measurement, z: float) -> tuple[NumericDomain, Measurement, np.ndarray | None]:
    """The domain's unconfirmed end bins (``discovery.unconfirmed_ends``) judged by the 1-way marginal `m`
    of its bins, measured with noise independent of the zoom that kept their cells.

    An end bin whose count here is within noise of zero (under `z` sigmas, ``confirm_z``) leaves the domain: its
    cells go, so nothing is drawn there, and its rows (few, or none) are coded into the bin next to it,
    whose count takes its count too (so it stays an unbiased count of the rows it holds), as does the end
    cell next to the ones cut (the zoom's estimates, as where ``private_numeric_domain`` cuts empty end
    leaves). One clear of the noise stays: split off a bin (flag 2), it rejoins it, the two counts
    added. Post-processing of released counts. Returns the domain, the measurement and the map from old
    codes to new (None when the codes are unchanged).
    """
    if dom.unconfirmed == (0, 0):
        return dom, m, None
    nb, g = dom.nbins, len(dom.edges) - 1
    target = np.arange(dom.size)
    dropped = np.zeros(nb, dtype=bool)
    for k, nbr, flag in ((0, 1, dom.unconfirmed[0]), (nb - 1, nb - 2, dom.unconfirmed[1])):
        if not flag or nbr < 0 or nbr >= nb:
            continue
        if m.values[k] < z * np.sqrt(m.variance[k]):
            dropped[k] = True
            target[k] = nbr
        elif flag == 2:
            target[k] = nbr
    if (target == np.arange(dom.size)).all() or (target[target] != target).any():  # (the latter: no bin left)
        return replace(dom, unconfirmed=(0, 0)), m, None
    kept_codes = np.flatnonzero(target == np.arange(dom.size))
    new_id = np.full(dom.size, -1, dtype=np.int64)
    new_id[kept_codes] = np.arange(len(kept_codes))
    remap = new_id[target]
    values = np.bincount(remap, weights=m.values, minlength=len(kept_codes))
    variance = np.bincount(remap, weights=m.variance, minlength=len(kept_codes))
    keep = ~dropped[dom.cell_bin]
    a, b = int(np.argmax(keep)), g - int(np.argmax(keep[::-1]))  # the cells kept are cells a..b-1
    counts, var = dom.cell_counts.astype(np.float64), dom.cell_var.astype(np.float64)
    leaves, leaves_var = folded_ends(counts[:g], var[:g], a, b)  # the leaves' own, then specials and NULL
    new = replace(dom, edges=dom.edges[a:b + 1], weights=dom.weights[a:b], cell_bin=remap[dom.cell_bin[a:b]],
                  cell_counts=np.concatenate([leaves, counts[g:]]), cell_var=np.concatenate([leaves_var, var[g:]]),
                  points=None if dom.points is None else dom.points[a:b], unconfirmed=(0, 0))
    assert new.size == len(kept_codes)
    return new, Measurement(m.clique, values, variance), remap


def bin_counts(dom: NumericDomain) -> tuple[np.ndarray, np.ndarray]:
    """The 1-way marginal implied by the domain's cell counts, and each entry's noise variance."""
    g = len(dom.edges) - 1
    cells = dom.cell_counts
    cell_var = dom.cell_var if dom.cell_var is not None else np.zeros(len(cells))
    y = np.bincount(dom.cell_bin, weights=cells[:g], minlength=dom.nbins)
    var = np.bincount(dom.cell_bin, weights=cell_var[:g], minlength=dom.nbins)
    end = len(cells) if dom.null else len(cells) - 1  # the special values' buckets, then NULL's
    return np.append(y, cells[g:end]), np.append(var, cell_var[g:end])


def averaged(m: Measurement, y: np.ndarray, var: np.ndarray) -> Measurement:
    """A measurement averaged (inverse variance) with other unbiased estimates of its cells: post-processing
    of two releases. Cells whose other estimate is exact take it."""
    w_m, w_o = 1.0 / m.variance, np.divide(1.0, var, out=np.full(len(var), np.inf), where=var > 0)
    exact = np.isinf(w_o)
    values = np.where(exact, y, (w_m * m.values + np.where(exact, 0.0, w_o) * y) / (w_m + np.where(exact, 0.0, w_o)))
    variance = np.where(exact, 0.0, 1.0 / (w_m + np.where(exact, 0.0, w_o)))
    return Measurement(m.clique, values, variance)


def with_discovery_counts(dom: CategoricalDomain, m: Measurement) -> Measurement:
    """Combine a 1-way measurement with the discovery step's noisy counts of the kept values.

    Both are released; the inverse-variance average of the two (post-processing) is the
    better estimate for the kept cells, and 'other' and NULL come from the measurement alone.
    """
    if not dom.counts:
        return m
    k = len(dom.counts)
    values, variance = m.values.copy(), m.variance.copy()
    disc = np.asarray(dom.counts)
    w_meas, w_disc = 1.0 / variance[:k], 1.0 / dom.sigma**2
    values[:k] = (w_meas * values[:k] + w_disc * disc) / (w_meas + w_disc)
    variance[:k] = 1.0 / (w_meas + w_disc)
    return Measurement(m.clique, values, variance)


def drop_faint_buckets(dom: Domain, m: Measurement) -> tuple[Domain, Measurement, np.ndarray | None]:
    """Drop the NULL and 'other' buckets whose noisy count is within noise of zero.

    Post-processing of released counts: without it a column with no NULLs would get
    a few percent of NULLs (or random 'other' strings) from noise alone. The bucket
    leaves the domain (so no later measurement spends noise on its cells, and the
    model's loss has no pinned cells to slow its fit); the few rows it may hold are
    coded as the column's first value. A domain keeps at least one bucket. Returns the domain and the 1-way measurement,
    renumbered, and the map from old codes to new (None when nothing is dropped).
    """
    special = [dom.null_code] if dom.null else []
    if isinstance(dom, CategoricalDomain) and dom.other:
        special.append(dom.other_code)
    drop = [k for k in special if m.values[k] < FAINT_Z * np.sqrt(m.variance[k])]
    if len(drop) == dom.size:  # a column with no kept value: the bucket measured largest stays
        drop.remove(max(drop, key=lambda k: m.values[k]))
    if not drop:
        return dom, m, None
    keep = np.setdiff1d(np.arange(dom.size), drop)
    remap = np.zeros(dom.size, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    changes = {"null": False} if dom.null_code in drop else {}
    if isinstance(dom, CategoricalDomain) and dom.other_code in drop:
        changes["other"] = False
    new = replace(dom, **changes)
    assert new.size == len(keep)
    return new, Measurement(m.clique, m.values[keep], m.variance[keep]), remap
