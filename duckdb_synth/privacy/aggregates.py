"""Aggregate release: the noisy number of rows of every combination of up to k column values.

Microsoft's Synthetic Data Showcase publishes such counts beside its synthetic rows (its
"reporting length"). Here the combinations are cells of the columns' DP domains (the
synthesizer's, learned and charged first), so the set of possible combinations is public:
every cell of every subset of at most k columns gets discrete Gaussian noise, and only cells
whose noisy count reaches a bar are shown. Thresholding is then post-processing and costs no
delta; the cells not shown are not computed one by one (``pass_cells``: the same distribution,
see docs/privacy.md §3.4).

Sensitivity: a row lies in exactly one cell of each of the C(m, l) subsets of l columns, so
adding or removing it changes sum over l <= k of C(m, l) counts by one each: the L2
sensitivity squared is that sum, and one noise scale serves every length.

The bar: with N cells in all, ``bar = 2 + sigma z(0.05 / N)``: a cell held by at most one row
passes with probability at most 0.05 / N, so the whole release shows any such cell with
probability at most 5 % (``RELEASE_MISS``), fabricated cells (count 0) included. With a privacy
unit of at most k rows, a cell held by one person counts up to k: ``bar = k + 1 + sigma z``.

Consistency (post-processing): lengths in order, a combination is kept only if all its
sub-combinations one shorter were kept, and its count is capped by theirs.
"""
from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..engine.data import Binned
from ..engine.source import Source
from ..errors import OptionError
from ..options import Options
from ..engine.domain import CategoricalDomain, Domain, NumericDomain
from ..engine.marginal import cell_index
from ..engine.schema import DAY_US, far_when
from .accounting import Accountant, sigma_for
from .discovery import group_least
from .noise import discrete_gaussian, gaussian_tail_z, summary_floor, tail, tail_draw
from .spend import Spend

DATE_DAYS = (-719_162, 2_932_896)  # 0001-01-01 .. 9999-12-31: what Python's dates and datetimes hold; a label
TIMESTAMP_US = (-62_135_596_800_000_000, 253_402_300_799_999_999)  # past them is written by numpy (far_when)

RELEASE_MISS = 0.05  # the chance that a release shows any combination held by at most one row (DP modes)
MAX_SHOWN = 1_000_000  # a bar is raised until at most this many empty cells are expected to pass
MAX_SET_CELLS = 1 << 62  # the most cells one column set may have (cell indices are int64)
AGGREGATE_COLUMNS = ("length", "combination", "count")  # the release's own columns, before one per column
DENSE_CELLS = 1 << 22  # a subset of at most this many cells is counted with bincount, else by sorting

Combo = tuple[tuple[int, int], ...]  # ((column, code), ...), columns ascending


def release_text(source: str) -> str:
    """What the ledgers file a release as (its columns and length are in its steps)."""
    return f"aggregates of {source}"


def cell_cap(col) -> int:
    """The most codes the column's domain can have, known before reading (public): BOOLEAN 3, an ENUM
    its members and NULL, a declared list its values, 'other' and NULL, else 260 (at most 256 kept
    values or 32 bins, with 'other', NaN/inf/-inf and NULL)."""
    if col.kind == "boolean":
        return 3
    if col.kind == "enum":
        return len(col.enum_values) + 1
    if col.declared is not None and col.declared.values:
        return len(col.declared.values) + 2
    return 260


def subsets(m: int, k: int) -> list[tuple[int, ...]]:
    """Every subset of 1..k of m columns, by length, then in order."""
    return [s for length in range(1, k + 1) for s in itertools.combinations(range(m), length)]


def sensitivity_sq(m: int, k: int) -> int:
    """Rows' cells changed by one row: sum over l <= k of C(m, l) (each count by one)."""
    return sum(math.comb(m, length) for length in range(1, min(k, m) + 1))


def default_bar(sigma: float, cells: int, held: int = 1) -> float:
    """The bar a cell held by at most one row (one person's `held` rows) passes with probability at most
    RELEASE_MISS / cells.

    The noise Z is a discrete Gaussian with P[Z >= t] <= P[N(0, sigma^2) >= t - 1] for integer t,
    and a count c <= held passes when Z >= bar - c >= bar - held.
    """
    return held + 1.0 + sigma * gaussian_tail_z(RELEASE_MISS / max(cells, 1))


@dataclass(frozen=True)
class AggregateResult:
    """A finished aggregate release: its rows (``table``) and what was spent."""

    table: pa.Table  # length, combination, count, then one column per column counted (its value's label)
    spend: Spend
    seconds: float
    source: Source
    options: Options
    rows_in: int = field(repr=False)  # exact: for the data owner (the ledger keeps it in balanced mode only)
    reporting_length: int
    columns: tuple[str, ...]
    sigma: float | None  # the counts' noise (discrete Gaussian); None: exact (balanced)
    threshold: float  # counts below it are not shown
    cells: int  # the combinations that could be shown (every cell of every column set)
    run_id: int | None = None
    domains: tuple = field(default=(), repr=False)  # the columns' DP domains (public), for owner_figures
    sets: dict = field(default_factory=dict, repr=False)  # column set -> (cells, counts) shown (``Release.sets``)

    def _binned(self, con, sql: str) -> tuple[np.ndarray, list[int]]:
        """The rows of `sql` in the release's codes (its columns read as the release's, by name)."""
        from ..engine.data import DuckDBRows

        binned = DuckDBRows(con, sql, [d.column for d in self.domains]).bin(list(self.domains))
        return binned.codes, [int(d.size) for d in self.domains]

    def _errors(self, codes: np.ndarray, sizes: list[int], *, true_first: bool, at_least: int | None = None
                ) -> pa.Table:
        """Per length, the shown counts against the counts of the rows `codes` (vectorized per column set)."""
        out: dict[str, list] = {"length": [], "shown": [], "fabricated": [], "real_at_least": [], "suppressed": [],
                                "mean_abs_error": [], "mean_rel_error": []}
        for length in range(1, self.reporting_length + 1):
            n = fabricated = real = suppressed = 0
            abs_err = rel_err = 0.0
            sets = itertools.combinations(range(len(sizes)), length) if at_least is not None else (
                s for s in self.sets if len(s) == length)
            for s in sets:
                idx, counts = _cell_counts(codes, sizes, s)
                cells, shown = self.sets.get(s, (np.empty(0, np.int64), np.empty(0, np.int64)))
                other = np.zeros(len(cells), np.int64)  # the rows' count of each cell shown
                if len(idx) and len(cells):
                    at = np.minimum(np.searchsorted(idx, cells), len(idx) - 1)
                    other = np.where(idx[at] == cells, counts[at], 0)
                n += len(cells)
                fabricated += int((other == 0).sum())
                abs_err += float(np.abs(shown - other).sum())
                rel_err += float((np.abs(shown - other) / np.maximum(other if true_first else shown, 1)).sum())
                if at_least is not None:
                    big = idx[counts >= at_least]
                    real += len(big)
                    suppressed += len(big) - int(np.isin(big, cells).sum())
            out["length"].append(length)
            out["shown"].append(n)
            out["fabricated"].append(fabricated)
            out["real_at_least"].append(real)
            out["suppressed"].append(suppressed)
            out["mean_abs_error"].append(abs_err / n if n else None)
            out["mean_rel_error"].append(rel_err / n if n else None)
        return pa.table(out)

    def compare(self, con, synth: str) -> pa.Table:
        """How well a synthetic table keeps the release (SDS's "preservation"): per length, the mean
        absolute and relative error of the synthetic table's counts of the combinations shown against
        their released counts. Reads only the synthetic table (by name, query or file, as a source)."""
        from ..engine.schema import read_schema
        from ..engine.source import open_source

        src = open_source(con, synth, private=False, in_sql=False)
        have = {c.name: c for c in read_schema(con, src.sql, src.parts)}
        missing = [d.column.name for d in self.domains if d.column.name not in have]
        if missing:
            raise OptionError(f"the synthetic table {src.label} has no column {', '.join(map(repr, missing))} of the "
                              "release")
        codes, sizes = self._binned(con, src.sql)  # the synthetic table's columns read as the release's
        got = self._errors(codes, sizes, true_first=False)
        return got.select(["length", "shown", "mean_abs_error", "mean_rel_error"]).rename_columns(
            ["length", "combinations", "mean_abs_error", "mean_rel_error"])

    def owner_figures(self, con, at_least: int | None = None) -> pa.Table:
        """For the data owner only (it reads the real data; do not publish it): per length, how many
        combinations were shown, how many of those no real row holds (fabricated), how many real
        combinations of at least `at_least` rows (default: the threshold) were not shown (suppressed),
        and the mean absolute and relative error of the counts shown (SDS's figures)."""
        m = math.ceil(self.threshold) if at_least is None else int(at_least)
        codes, sizes = self._binned(con, self.source.sql)
        table = self._errors(codes, sizes, true_first=True, at_least=m)
        return table.replace_schema_metadata({"note": f"for the data owner only: read from the real data, not "
                                              f"part of the release; real_at_least counts combinations of at "
                                              f"least {m} rows"})

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def text(self) -> str:
        """What the ledgers file the release as."""
        return release_text(self.source.text)

    def relation(self, con) -> "duckdb.DuckDBPyRelation":  # noqa: F821
        return con.from_arrow(self.table)


Shown = dict  # column set -> (cells: row-major indices over its columns' codes, ascending; counts), int64 arrays


@dataclass(frozen=True)
class Release:
    """What ``release`` shows: per column set, the cells shown and their counts (noisy in DP modes, consistent)."""

    sets: Shown
    sizes: tuple[int, ...]  # each column's number of codes
    sigma: float | None  # None: exact (balanced)
    bar: float
    cells: int  # the cells of every subset: the combinations that could be shown
    subsets: int

    @property
    def counts(self) -> dict[Combo, int]:
        """The shown combinations as ((column, code), ...) -> count (small releases: tests, reading)."""
        out = {}
        for s, (cells, counts) in self.sets.items():
            codes = np.unravel_index(cells, [self.sizes[c] for c in s])
            for r, count in enumerate(counts.tolist()):
                out[tuple((c, int(codes[i][r])) for i, c in enumerate(s))] = count
        return out


def release(binned: Binned, domains: Sequence[Domain], k: int, acct: Accountant, rng: np.random.Generator,
            bar: float | None = None, names: Sequence[str] = ()) -> Release:
    """The counts of every combination of up to `k` columns' codes that reach `bar`, charged to `acct`
    (all that is left of its budget). Default bar: ``default_bar`` (DP), ``discovery.group_least`` (balanced: 5 rows,
    with a privacy unit of k rows 4 k + 1)."""
    m = len(domains)
    sizes = [int(d.size) for d in domains]
    subs = subsets(m, k)
    cells = sum(math.prod(sizes[c] for c in s) for s in subs)
    sigma = None
    if acct.private:
        rho = acct.rho_left
        if rho <= 0:
            raise ValueError("no budget left for the aggregate counts")
        sigma = sigma_for(rho, math.sqrt(sensitivity_sq(m, k)))
        bar = default_bar(sigma, cells, acct.unit_rows) if bar is None else float(bar)
        least = 1.0 + sigma * gaussian_tail_z(min(0.5, MAX_SHOWN / max(cells, 1)))  # <= MAX_SHOWN empty cells pass
        if bar < least:
            warnings.warn(f"threshold := {bar:g} raised to {math.ceil(least)}: with noise of sigma {sigma:.3g} over "
                          f"{cells:,} combinations, a lower one would show more than {MAX_SHOWN:,} of them on noise "
                          "alone", stacklevel=3)
            bar = float(math.ceil(least))
        acct.charge("aggregate counts", rho, detail=f"{len(subs):,} sets of up to {k} of {', '.join(names)}; "
                    f"{cells:,} cells, discrete Gaussian sigma {sigma:.3g}, shown from {bar:.1f}")
    else:
        # (with a privacy unit, persons' worth of rows: a combination one person held in 5 of its 10 kept rows was
        # shown with its exact count, the review of 1e23c2d)
        bar = float(group_least(acct.unit_rows)) if bar is None else float(bar)
        acct.charge("aggregate counts", 0.0, detail=f"exact: {len(subs):,} sets of up to {k} of {', '.join(names)}; "
                    f"counts of at least {bar:g}")
    shown: Shown = {}
    for s in subs:
        idx, counts = _cell_counts(binned.codes, sizes, s)
        total = math.prod(sizes[c] for c in s)
        if sigma is None:
            keep = counts >= bar
            got_cells, got_counts = idx[keep], counts[keep].astype(np.float64)
        else:
            got_cells, got_counts = pass_cells(idx, counts, total, sigma, bar, rng)
        shown[s] = (got_cells.astype(np.int64), np.rint(got_counts).astype(np.int64))
    return Release(consistent(shown, sizes), tuple(sizes), sigma, bar, cells, len(subs))


def _cell_counts(codes: np.ndarray, sizes: Sequence[int], s: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The occupied cells of the columns `s` (row-major index, ascending) and their counts."""
    flat = cell_index([(codes[:, c], sizes[c]) for c in s])
    total = math.prod(sizes[c] for c in s)
    if total <= DENSE_CELLS:
        full = np.bincount(flat, minlength=total)
        idx = np.flatnonzero(full)
        return idx, full[idx]
    idx, counts = np.unique(flat, return_counts=True)
    return idx, counts


def pass_cells(idx: np.ndarray, counts: np.ndarray, total: int, sigma: float, bar: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The cells whose count plus a discrete Gaussian (one draw a cell, all `total` cells) reaches `bar`,
    and their noisy counts, without drawing for cells that cannot plausibly pass.

    `idx`/`counts`: the occupied cells (ascending) and their counts; the other cells count 0. Cells of
    count >= ``summary_floor`` get a draw each; for each lower count c (0 included) the number passing
    is Binomial(cells of count c, P[Z >= bar - c]), which ones uniform among them (in cell order), and
    their noise the discrete Gaussian conditioned on passing (``noise.tail_pass``): the same joint
    distribution as a draw for every cell.
    """
    floor = summary_floor(sigma, bar)
    high = counts >= floor
    scores = counts[high] + discrete_gaussian(sigma, int(high.sum()), rng)
    ok = scores >= bar
    cells, noisy = [idx[high][ok]], [scores[ok].astype(np.float64)]
    low_idx, low_counts = idx[~high], counts[~high]
    per_count = np.bincount(low_counts, minlength=floor)
    per_count[0] = total - len(idx)
    classes = np.flatnonzero(per_count)
    tails = [tail(sigma, int(math.ceil(bar - c))) for c in classes]
    passing = rng.binomial(per_count[classes], np.minimum([p for _, _, p in tails], 1.0))
    for c, m, (support, cond, _) in zip(classes, passing, tails):
        if m == 0:
            continue
        ranks, z = tail_draw(int(per_count[c]), int(m), support, cond, rng)
        if c == 0:  # the r-th empty cell: r plus the occupied cells before it
            cells.append(_empty_cells(idx, ranks))
        else:
            cells.append(low_idx[low_counts == c][ranks])
        noisy.append((c + z).astype(np.float64))
    got = np.concatenate(cells)
    order = np.argsort(got, kind="stable")
    return got[order], np.concatenate(noisy)[order]


def _empty_cells(occupied: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """The cell indices of the empty cells of ranks `ranks` (ascending) among all cells, `occupied` ascending."""
    # occupied[j] - j empty cells come before occupied cell j; the r-th empty cell is r + (occupied cells
    # with occupied[j] - j <= r).
    before = occupied - np.arange(len(occupied))
    return ranks + np.searchsorted(before, ranks, side="right")


def consistent(shown: Shown, sizes: Sequence[int]) -> Shown:
    """Lengths in order: a combination kept only if each of its sub-combinations one shorter is, its count
    at most theirs (per column set, vectorized: each cell's sub-cell looked up in the sub-set's cells)."""
    out: Shown = {}
    for s in sorted(shown, key=len):
        cells, counts = shown[s]
        if len(s) > 1 and len(cells):
            codes = np.unravel_index(cells, [sizes[c] for c in s])
            keep = np.ones(len(cells), dtype=bool)
            counts = counts.copy()
            for i in range(len(s)):
                sub = s[:i] + s[i + 1:]
                sub_cells, sub_counts = out.get(sub, (np.empty(0, np.int64), np.empty(0, np.int64)))
                flat = cell_index([(codes[j], sizes[c]) for j, c in enumerate(s) if j != i])
                at = np.searchsorted(sub_cells, flat)
                found = at < len(sub_cells)
                found[found] = sub_cells[at[found]] == flat[found]
                keep &= found
                counts = np.where(found, np.minimum(counts, sub_counts[np.minimum(at, len(sub_cells) - 1)]
                                                    if len(sub_cells) else counts), counts)
            cells, counts = cells[keep], counts[keep]
        out[s] = (cells, counts)
    return out


# ---------------------------------------------------------------- labels of the codes


def code_labels(dom: Domain) -> list[str]:
    """Each code's label: a kept value, '(other)', a number's bin ('[10, 20)', '30..39' for whole
    numbers and dates, '..29' and '90..' at the ends, one value where the bin holds one),
    'NaN'/'inf'/'-inf', and 'NULL'."""
    if isinstance(dom, CategoricalDomain):
        values = [("true" if v else "false") if isinstance(v, bool) else str(v) for v in dom.values]
        return values + (["(other)"] if dom.other else []) + (["NULL"] if dom.null else [])
    labels = [_bin_label(dom, j) for j in range(dom.nbins)]
    labels += [{"nan": "NaN", "inf": "inf", "-inf": "-inf"}[repr(float(v))] for v in dom.specials]
    return labels + (["NULL"] if dom.null else [])


def _bin_label(dom: NumericDomain, j: int) -> str:
    """Bin j's values as the domain encodes them: [first edge, last edge) of its cells, the first bin
    open below and the last open above (values outside the grid go to the end bins)."""
    perm, first = dom.bin_cells  # the bin's cells, ascending
    cells = perm[first[j]:first[j + 1]]
    if not len(cells):
        raise ValueError(f"bin {j} of {dom.column.name!r} holds no cell: it has no values to label")
    lo, hi = (float(e[j]) for e in dom.bin_span)
    first, last = j == 0, j == dom.nbins - 1
    col = dom.column
    if dom.points is not None:
        pts = dom.points[cells]
        if len(pts) and not np.isnan(pts).any() and (pts == pts[0]).all() and not (first or last):
            return _value(col, float(pts[0]), dom.decimals)
    if first and last:
        return "(all)"
    if col.type.upper() == "DATE" or (col.integer and col.scale is None and col.kind == "numeric"):  # whole steps
        start, end = math.ceil(lo), math.ceil(hi) - 1
        if first:
            return f"..{_value(col, float(end), 0)}"
        if last:
            return f"{_value(col, float(start), 0)}.."
        return _value(col, float(start), 0) if end <= start else f"{_value(col, float(start), 0)}..{_value(col, float(end), 0)}"
    step = dom.unit if col.kind == "temporal" else 10.0 ** -dom.decimals if dom.decimals is not None else None
    if step:  # values on a lattice (whole time units, decimals): each edge up to the next lattice value, which
        # is the first value of the bin it opens (edges sit between lattice values)
        lo, hi = (round(math.ceil(x / step - 1e-9) * step, max(dom.decimals or 0, 0)) for x in (lo, hi))
    if first:
        return f"(-inf, {_value(col, hi, dom.decimals)})"
    if last:
        return f"[{_value(col, lo, dom.decimals)}, inf)"
    return f"[{_value(col, lo, dom.decimals)}, {_value(col, hi, dom.decimals)})"


def _value(col, x: float, decimals: int | None) -> str:
    t = col.type.upper()
    if t == "DATE":
        if not DATE_DAYS[0] <= round(x) <= DATE_DAYS[1]:  # BC, or past 9999: as text (was clipped to those ends)
            return far_when(round(x) * 86400.0, True)
        return str(pa.scalar(int(round(x)), pa.date32()).as_py())
    if t == "TIME":
        if round(x) >= DAY_US:  # 24:00:00, a TIME Python's time cannot hold (was labelled 23:59:59.999999)
            return "24:00:00"
        return str(pa.scalar(int(max(round(x), 0)), pa.time64("us")).as_py())
    if col.kind == "temporal":
        if not TIMESTAMP_US[0] <= round(x) <= TIMESTAMP_US[1]:
            return far_when(round(x) / 1e6, False, whole=round(x) % 1_000_000 == 0)
        return str(pa.scalar(int(round(x)), pa.timestamp("us")).as_py())
    if (col.integer and col.scale is None) or decimals == 0:
        return str(int(round(x)))
    if decimals is not None and decimals > 0:
        return f"{x:.{decimals}f}"
    if decimals is not None and decimals < 0:
        return str(int(round(x, decimals)))
    return f"{x:.6g}"


def release_table(rel: Release, names: Sequence[str], labels: Sequence[Sequence[str]]) -> pa.Table:
    """The release as rows: length, the combination as text ('age=30..39 & sex=F'), its count, then one
    column per column: the value's label, NULL where the combination does not name the column. By length,
    then column set, then cell."""
    import pyarrow.compute as pc

    parts = []
    label_arrays = [pa.array(list(lab), pa.string()) for lab in labels]
    for s in sorted(rel.sets, key=lambda s: (len(s), s)):
        cells, counts = rel.sets[s]
        if not len(cells):
            continue
        codes = np.unravel_index(cells, [rel.sizes[c] for c in s])
        n = len(cells)
        per_column = [pa.nulls(n, pa.string())] * len(names)
        pieces = []
        for i, c in enumerate(s):
            per_column[c] = label_arrays[c].take(pa.array(codes[i]))
            pieces.append(pc.binary_join_element_wise(pa.scalar(names[c]), per_column[c], "="))
        text = pieces[0] if len(pieces) == 1 else pc.binary_join_element_wise(*pieces, " & ")
        parts.append(pa.table([pa.array(np.full(n, len(s), np.int32)), text, pa.array(counts, pa.int64()),
                               *per_column], names=["length", "combination", "count"] + list(names)))
    if not parts:
        return pa.table([pa.array([], pa.int32()), pa.array([], pa.string()), pa.array([], pa.int64())]
                        + [pa.array([], pa.string()) for _ in names], names=["length", "combination", "count"] + list(names))
    return pa.concat_tables(parts)
