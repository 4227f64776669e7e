"""Tests for the DP numeric, date and time domains (privacy/discovery.py): the zoom-in histogram, its
noise and charges, the range, the lattice (decimals of FLOAT and DOUBLE, time units), and decoding."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from duckdb_synth.engine.data import ArrayColumn, Binned
from duckdb_synth.engine.decode import decode_numeric
from duckdb_synth.engine.marginal import Measurement
from duckdb_synth.engine.domain import TIME_UNITS, DecimalPlaces, NumericDomain, TimeUnits, decimal_places
from duckdb_synth.engine.schema import classify
from duckdb_synth.privacy.accounting import Accountant, sigma_for
from duckdb_synth.privacy.budget import VALUES_NEED, column_share
from duckdb_synth.privacy.discovery import (DESCENT_SIGMAS, LATTICE_WEIGHTS, POW2, ZOOM_WEIGHTS, NumericNoise, allot,
                                            choose_lattice, choose_unit, descend, octave_edges,
                                            domain, numeric_rhos, private_numeric_domain, private_range, share_out,
                                            sure_span, unconfirmed_ends, with_end_spikes, with_points, with_tails,
                                            zoom)
from duckdb_synth.privacy.measure import confirm_ends, confirm_z, measure


def private(type_: str, x: np.ndarray, seed: int = 0, *, sigma: float = 5.0,
            nbins: int = 24) -> tuple:
    noise = NumericNoise(range=sigma, lattice=sigma, zoom=1.0 / (2 * sigma**2), values_delta=1e-7)
    return private_numeric_domain(classify("x", type_), ArrayColumn(x), noise=noise, n_hat=float(len(x)),
                                  nbins=nbins, rng=np.random.default_rng(seed))


def drawn(dom, n: int, seed: int) -> np.ndarray:
    """Values decoded from bins drawn by the domain's weights (as a model that knew nothing else would)."""
    rng = np.random.default_rng(seed)
    w = np.bincount(dom.cell_bin, weights=dom.weights, minlength=dom.nbins)
    codes = rng.choice(dom.nbins, size=n, p=w / w.sum())
    return decode_numeric(dom, codes, rng).to_numpy(zero_copy_only=False).astype(float)


# ---------------------------------------------------------------- density: narrow bands far from zero


@pytest.mark.parametrize("seed", range(3))
def test_a_narrow_band_far_from_zero_gets_bins_that_follow_it(seed: int) -> None:
    """Latitudes in [44.8, 45.1]: the power-of-two range is [32, 64], a hundred times wider. The zoom
    finds the band, and the values drawn back follow the real quantiles."""
    rng = np.random.default_rng(seed)
    x = np.round(np.concatenate([rng.normal(44.95, 0.04, 15_000), rng.uniform(44.8, 45.1, 5_000)]), 4)
    x = np.clip(x, 44.8, 45.1)
    dom, steps = private("DOUBLE", x, seed)
    assert len([s for s in steps if s[0] != "values"]) >= 2  # a fine lattice: zoomed in
    assert dom.edges[0] >= 44.0 and dom.edges[-1] <= 46.0
    assert dom.nbins >= 16
    out = drawn(dom, 20_000, seed)
    q = np.quantile(x, np.linspace(0, 1, 17)[1:-1])
    real = np.bincount(np.searchsorted(q, x), minlength=16) / len(x)
    synth = np.bincount(np.searchsorted(q, out), minlength=16) / len(out)
    assert 0.5 * np.abs(real - synth).sum() < 0.05
    assert np.mean((out >= x.min()) & (out <= x.max())) >= 0.99


@pytest.mark.parametrize("seed", range(3))
def test_the_descent_takes_the_grids_to_a_band_in_a_sliver_of_its_octave(seed: int) -> None:
    """Ids 10^15 + 0..10^6 lie in a two-billionth of their octave [2^49, 2^50): the zoom's 64 x 32 x 32 cells
    ended 8.6e9 wide, one leaf held every row, and its values came back over +-6e9 (0.03 % inside the real
    range). The descent narrows the range first; a tenth of the rows spread over the octave stays theirs."""
    rng = np.random.default_rng(seed)
    band = 1e15 + rng.integers(0, 10**6, 18_000).astype(float)
    tail = np.round(rng.uniform(6e14, 1.1e15, 2_000))
    for x, inside in ((band, 1.0), (np.concatenate([band, tail]), 0.9)):
        dom, steps = private("BIGINT", x, seed)
        assert steps[0][0] == "(descent)" and "times narrower" in steps[0][3]
        out = drawn(dom, 20_000, seed)
        assert abs(np.mean((out >= 1e15) & (out <= 1e15 + 1e6)) - inside) < 0.02
        assert np.mean((out >= x.min()) & (out <= x.max())) >= 0.99


def test_the_descent_stops_where_the_rows_fill_its_grid_and_charges_each_histogram() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    spread = np.round(rng.uniform(2.0**20, 2.0**21, n))  # every cell of the grid holds rows
    lo, hi, spent = descend(ArrayColumn(spread), 2.0**20, 2.0**21, step=1.0, numbers=float(n),
                            rho_cap=1.0, rng=rng, integer=True, decimals=0, unit=None, geometric=True)
    assert (lo, hi) == (2.0**20, 2.0**21) and spent == [pytest.approx(DESCENT_SIGMAS**2 / (2.0 * n**2))]
    band = 1e15 + rng.integers(0, 10**6, n).astype(float)
    lo, hi, spent = descend(ArrayColumn(band), 2.0**49, 2.0**50, step=1.0, numbers=float(n),
                            rho_cap=1.0, rng=rng, integer=True, decimals=0, unit=None, geometric=True)
    assert lo <= band.min() and hi > band.max() and hi - lo < 64 * 2e6  # the band, within a cell of its grid
    assert len(spent) >= 5 and all(r == pytest.approx(DESCENT_SIGMAS**2 / (2.0 * n**2)) for r in spent)
    # Its rho comes out of the zoom's, within a cap: with a tiny one its noise is as coarse as the cap allows
    # DESCENT_LEVELS histograms, no cell is clear, and it stops after one.
    lo, hi, spent = descend(ArrayColumn(band), 2.0**49, 2.0**50, step=1.0, numbers=float(n),
                            rho_cap=1e-9, rng=rng, integer=True, decimals=0, unit=None, geometric=True)
    assert (lo, hi) == (2.0**49, 2.0**50) and len(spent) == 1 and spent[0] == pytest.approx(1e-9 / 12)


@pytest.mark.parametrize("wide", [1e30, 1e308])
def test_the_descent_cuts_a_range_past_its_grids_reach_at_powers_of_two(wide: float) -> None:
    """A declared range of +-1e30 over values of 500-1,500: 12 linear grids narrow it about 1e18 times at most (the
    values came back over +-3e9), and at +-1e308 its width overflows (they came back near 1e303). It is cut at its
    powers of two first (in groups of a few, at most 64 cells), to the groups that hold the values and one either
    side, on to zero where the range holds it; the grids go on from there, geometric from the cut's smallest edge,
    and the caller clamps to the cut."""
    rng = np.random.default_rng(0)
    n = 20_000
    values = np.round(rng.uniform(500, 1500, n), 2)
    cut: list = []
    lo, hi, spent = descend(ArrayColumn(values), -wide, wide, step=0.01, numbers=float(n), rho_cap=1.0, rng=rng,
                            integer=False, decimals=2, unit=None, geometric=True, cut=cut)
    assert 0.0 <= lo < values.min() and values.max() < hi <= 2.0**18 and len(spent) >= 2
    assert len(cut) == 1 and cut[0][0] == 0.0 and hi <= cut[0][1] < 2.0**70 and 0 < cut[0][2] < values.min()
    edges, every = octave_edges(-wide, wide, 0.01), octave_edges(-wide, wide, 0.01, cells=0)
    assert edges[0] == -wide and edges[-1] == wide and (np.diff(edges) > 0).all() and 0.0 in edges
    assert len(edges) <= 68 < len(every) and set(edges) <= set(every)
    assert every[np.searchsorted(every, 0.0) + 1] == 2.0**-6  # from the lattice's step up (2^-7 < 0.01 <= 2^-6)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("low, high", [(-4.9e-7, 0.0), (0.0, 3e-12), (-5e-8, 5e-8)])
def test_values_all_under_two_to_the_minus_20_are_found(seed: int, low: float, high: float) -> None:
    """Values whose magnitudes are all under 2^-20 lie in the powers of two's bucket around zero, whose range stopped
    at zero: -4.9e-7 to 0 came back as 0 to 5e-10 (none inside), 0 to 3e-12 over 0 to 5e-11 (a tenth inside). On no
    lattice such a bucket's values need not be zero: its whole width is the range, which the descent narrows."""
    x = np.random.default_rng(seed).uniform(low, high, 3000)
    dom, steps = private("DOUBLE", x, seed, sigma=20.0)
    out = drawn(dom, 20_000, seed)
    inside = np.mean((out >= low) & (out <= high))
    assert inside > 0.85, (inside, out.min(), out.max())
    assert abs(np.median(out) - np.median(x)) < 0.15 * (high - low)
    assert any(name == "(descent)" for name, *_ in steps)


def test_timestamps_within_an_hour_come_back_within_it() -> None:
    """Whole seconds within one hour, 1.7e15 microseconds since 1970 in an octave of 1.1e15: at eps = 1 21 %
    of the values came back inside the real hour (over 4.7 hours), at eps = 3 every row on one timestamp."""
    import duckdb
    import duckdb_synth
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT TIMESTAMP '2024-03-05 10:00:00' + to_seconds((i * 7919) % 3600) AS ts, "
                "i % 7 AS g FROM range(20000) r(i)")
    for eps in (1.0, 3.0):
        out = duckdb_synth.run(con, "t", epsilon=eps, seed=0, ledger=False).output.table()
        con.register("s", out)
        inside, distinct = con.execute("SELECT avg((ts BETWEEN TIMESTAMP '2024-03-05 10:00:00' AND "
                                       "TIMESTAMP '2024-03-05 10:59:59')::INT), count(DISTINCT ts) FROM s").fetchall()[0]
        assert inside >= 0.98 and distinct > 1000
    con.close()


@pytest.mark.parametrize("seed", range(3))
def test_skewed_amounts_keep_their_quantiles_and_stay_in_range(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.lognormal(6, 1.3, 30_000), 2)
    dom, _ = private("DOUBLE", x, seed)
    out = drawn(dom, 30_000, seed)
    assert dom.decimals == 2 and np.allclose(out * 100, np.round(out * 100), atol=1e-6)
    for p in (0.1, 0.5, 0.9):
        assert abs(np.mean(out <= np.quantile(x, p)) - p) < 0.04, p
    assert np.mean((out >= x.min()) & (out <= x.max())) >= 0.99


def test_few_lattice_points_are_measured_once_a_cell_each() -> None:
    """Counts of 0..20: one histogram (one level) with a cell per value, and every value kept."""
    rng = np.random.default_rng(0)
    x = rng.poisson(4, 20_000).astype(float)
    dom, steps = private("INTEGER", x)
    assert [s[0] for s in steps] == ["(1/1)"]
    assert np.allclose(np.diff(dom.edges), 1.0)
    values = np.unique(x)
    common = values[np.array([np.mean(x == v) for v in values]) > 0.01]
    out = drawn(dom, 20_000, 1)
    for v in common:
        assert abs(np.mean(out == v) - np.mean(x == v)) < 0.01, v


# ---------------------------------------------------------------- noise and charges


def test_every_zoom_level_adds_noise_and_the_estimates_are_unbiased() -> None:
    """The zoom's counts differ from the exact ones by the noise of their level (so a step without
    noise would fail), and over many draws average to the exact counts."""
    x = np.random.default_rng(0).normal(0, 1, 5_000)
    first = np.linspace(-4, 4, 9)
    exact = np.histogram(np.clip(x, -4, 4), first)[0]
    errors = []
    for seed in range(200):
        tree = zoom(ArrayColumn(x), first, step=None, sigmas=(20.0,), n_hat=5_000.0, n_var=0.0, floating=True,
                    rng=np.random.default_rng(seed))
        assert tree.measured == [8 + 1 + 3]  # 8 cells, NULL, NaN / +inf / -inf
        errors.append(np.array(tree.y[:8]) - exact)
    errors = np.array(errors)
    assert (errors != 0).mean() > 0.9
    assert abs(errors.mean()) < 3 * 20 / np.sqrt(errors.size)
    assert 17 < errors.std() < 23


def test_a_cell_left_whole_is_averaged_over_the_levels_that_counted_it() -> None:
    x = np.zeros(10)  # too few rows for any split: every level counts the same cells again
    tree = zoom(ArrayColumn(x), np.array([-1.0, 1.0]), step=None, sigmas=(100.0, 100.0, 100.0), n_hat=10.0,
                n_var=0.0, floating=False, rng=np.random.default_rng(0))
    assert tree.measured == [2, 2, 2] and not tree.children
    assert tree.v[0] == pytest.approx(100.0**2 / 3)


def test_the_cells_where_the_values_start_and_stop_are_split_however_light() -> None:
    """A year column from 1975 on, a thin first year: its first cell (1968-1976 on a grid of 8) holds
    too few rows for the weight rule, but it is an end of the data, so the next level splits it into
    years, and almost no weight is left before 1975."""
    rng = np.random.default_rng(3)
    years = np.concatenate([np.full(60, 1975.0), rng.integers(1976, 2023, 20_000).astype(float)])
    tree = zoom(ArrayColumn(years), np.arange(1968.0, 2025.0, 8.0), step=1.0, sigmas=(10.0, 10.0), n_hat=20_060.0,
                n_var=0.0, floating=False, rng=np.random.default_rng(0))
    edges, weights, _, _ = tree.leaves()
    before = weights[edges[1:] <= 1975.0].sum()
    assert 1975.0 in edges and before < 0.001 * weights.sum()


def test_share_out_gives_nothing_to_an_empty_region_and_keeps_the_parent_total() -> None:
    y = np.array([500.0, 3.0, -4.0, 2.0, 480.0])
    w = share_out(y, np.full(5, 25.0), total=985.0, total_var=0.0)
    assert w[1:4].sum() == 0 and w.sum() == pytest.approx(985.0)
    # What the parent holds beyond its clear cells, when well clear of the noise, is spread over the rest.
    w = share_out(np.array([500.0, 40.0, 30.0, 20.0, 480.0]), np.full(5, 400.0), total=1200.0, total_var=0.0)
    assert (w[1:4] > 0).all() and w.sum() == pytest.approx(1200.0)


def test_a_wide_lattice_is_counted_in_two_levels_so_an_empty_range_beside_a_thin_tail_stays_empty() -> None:
    """storms' pressure: whole millibars in a range of 512 (512-1024) over data from 882 up, a thin
    tail below 960. Counted a cell per millibar in one histogram, the noise of the 370 empty cells
    took a share of the tail's rows (share_out spreads what the faint cells hold by their positive
    parts); counted first in cells of 32 millibars, the empty ones get nothing."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.integers(882, 960, 2_000), np.round(rng.normal(995, 10, 17_500)).clip(960, 1023)])
    fine = np.arange(511.5, 1024.0, 1.0)
    sigma = 30.0

    def below(first: np.ndarray, sigmas: tuple[float, ...], to_lattice: bool, edge: float = 881.5) -> float:
        tree = zoom(ArrayColumn(x.astype(float)), first, step=1.0, sigmas=sigmas, n_hat=float(len(x)), n_var=0.0,
                    floating=False, rng=np.random.default_rng(1), to_lattice=to_lattice)
        edges, weights, _, _ = tree.leaves()
        return weights[edges[1:] <= edge].sum() / weights.sum()

    assert below(fine, (sigma,), False) > 0.05  # 7-10 % over seeds 0-3
    two = (fine[::32], (sigma * 3**0.5, sigma * 1.5**0.5), True)  # the same rho in two levels
    assert below(*two, edge=863.5) == 0.0  # the coarse cells with no rows get nothing
    assert below(*two) < 0.01  # the empty points of the coarse cell where the data starts: 0.5-0.8 %


def test_share_out_keeps_the_parent_total_when_nothing_is_clear() -> None:
    """A light cell at an end of the data split into 32: no child and not what they hold together is
    clear of the noise, and the parent's share goes to the side that holds its rows (``allot``), not lost."""
    y = np.concatenate([np.zeros(24), np.full(8, 9.0)])
    w = share_out(y, np.full(32, 100.0), total=72.0, total_var=100.0)
    assert w.sum() == pytest.approx(72.0)
    assert w[24:].sum() > 0.9 * 72.0


def test_allot_gives_nothing_where_it_was_given_nothing() -> None:
    """A half that got no share of the parent passes none on, even to a part of it clear of the noise."""
    y = np.array([0.0, 0.0, 0.0, 0.0, 100.0, -60.0, 0.0, 0.0])
    assert not allot(y, np.full(8, 100.0), 0.0, 100.0, 2.0).any()
    w = allot(y, np.full(8, 100.0), 50.0, 100.0, 2.0)
    assert w.sum() == pytest.approx(50.0) and (w >= 0).all()


def test_a_column_whose_range_one_histogram_takes_spends_the_plain_share() -> None:
    """Ages 18-90: fewer lattice points than LATTICE_CELLS (112 in the range 16-128), the lattice's two
    levels (cells of 32 points, then points) and no extra share;
    the same ages written with 4 decimals, more lattice points than the zoom reaches, run the frequent
    values step and spend the raised share."""
    rng = np.random.default_rng(1)
    ages = rng.integers(18, 91, 30_000).astype(float)
    spent = {}
    for name, x, type_ in (("whole", ages, "INTEGER"), ("fine", ages + np.round(rng.uniform(0, 1, 30_000), 4),
                                                        "DOUBLE")):
        acct = Accountant.for_budget(1.0, 1e-6)
        domain(classify("c", type_), ArrayColumn(x), acct, 30_000.0, 8, rng)
        spent[name] = (acct.rho_spent, len([s for s in acct.steps if s.name.startswith(("cells c", "values c"))]))
    share = column_share(acct, 30_000.0, 8)
    one_way = numeric_rhos(classify("c", "DOUBLE"), share)["one_way"]  # measured later, by the 1-way stage
    assert spent["whole"] == (pytest.approx(share - one_way), len(LATTICE_WEIGHTS))
    assert spent["fine"] == (pytest.approx(column_share(acct, 30_000.0, 8, VALUES_NEED) - one_way),
                             len(ZOOM_WEIGHTS) + 1)
    assert spent["fine"][0] > 2 * spent["whole"][0]


@pytest.mark.parametrize("type_, lattice", [("DOUBLE", "decimals"), ("INTEGER", "decimals"), ("TIMESTAMP", "unit"),
                                            ("DATE", None), ("TIME", "unit")])
def test_each_step_is_charged_and_the_charges_add_up_to_the_share(type_: str, lattice: str | None) -> None:
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(1e6, 1e4, 20_000))
    if type_ in ("TIMESTAMP", "TIME"):
        x = np.round(rng.uniform(0, 86_000, 20_000)) * 1e6  # whole seconds, in microseconds
    col = classify("c", type_)
    acct = Accountant.for_budget(1.0, 1e-6)
    dom = domain(col, ArrayColumn(x), acct, 20_000.0, 4, rng)
    names = [s.name for s in acct.steps]
    share = column_share(acct, 20_000.0, 4)
    rhos = numeric_rhos(col, share)
    assert ("range c" in names) == (type_ != "TIME")
    assert (f"{lattice} c" in names) if lattice else not any(n.startswith(("decimals", "unit")) for n in names)
    descent = [s for s in acct.steps if s.name == "cells c (descent)"]  # where the range is one octave
    cells = [s for s in acct.steps if s.name.startswith("cells c") and s not in descent]
    assert cells and cells[-1].name.endswith(f"({len(cells)}/{len(cells)})")
    values = [s for s in acct.steps if s.name == "values c"]
    # Every range here holds more lattice points than the zoom reaches: the frequent values step runs,
    # then the zoom, level by level, with the share's floor raised by VALUES_NEED (the extra goes to both).
    assert len(cells) == len(ZOOM_WEIGHTS) and len(values) == 1
    extra = column_share(acct, 20_000.0, 4, VALUES_NEED) - share
    assert extra > 0
    assert sum(s.rho for s in cells + values + descent) == pytest.approx(rhos["zoom"] + extra)
    assert acct.rho_spent == pytest.approx(rhos["range"] + rhos["lattice"] + rhos["zoom"] + extra)
    assert all(s.delta > 0 for s in values)
    assert rhos["one_way"] > 0  # measured later, by the 1-way stage
    if type_ == "TIMESTAMP":
        assert dom.unit == 1e6
    assert all(d.delta == 0 for d in acct.steps if d not in values)


def test_a_categorical_domain_charges_its_threshold_delta() -> None:
    acct = Accountant.for_budget(1.0, 1e-6)
    arr = pa.array(["a"] * 5000 + ["b"] * 3000)
    domain(classify("s", "VARCHAR"), ArrayColumn(arr), acct, 8000.0, 4, np.random.default_rng(0))
    assert acct.delta_threshold_spent > 0


def _states(nulls: int = 0) -> pa.Array:
    """A 50-value text column of 10,000 rows (8 values of 4-13 %, 42 of 0.5-2 %), and `nulls` NULLs."""
    shares = np.array([13, 8, 8, 7, 4, 4, 4, 4] + [1.4] * 40 + [0.5, 0.5])
    counts = np.round(shares / shares.sum() * 10_000).astype(int)
    values = [f"v{i:02d}" for i, c in enumerate(counts) for _ in range(c)]
    return pa.array(values + [None] * nulls)


def test_a_text_column_that_the_first_pass_leaves_mostly_unexplained_gets_a_second() -> None:
    """A 50-value column on a 55-column table at eps 1: the first pass keeps the 8 frequent values and
    leaves 45 % of the rows in none; a second pass, 7 times the first's rho, keeps the rest of the values
    the model can use; both are charged, with half the column's delta each."""
    from duckdb_synth.privacy.discovery import AGAIN

    acct = Accountant.for_budget(1.0, 1e-6)
    dom = domain(classify("state", "VARCHAR"), ArrayColumn(_states()), acct, 10_000.0, 55, np.random.default_rng(0))
    steps = [s for s in acct.steps if s.name.startswith("domain state")]
    assert [s.name for s in steps] == ["domain state", f"domain state {AGAIN}"]
    assert steps[1].rho == pytest.approx(7 * steps[0].rho)
    assert steps[0].delta == pytest.approx(steps[1].delta) and sum(s.delta for s in steps) == pytest.approx(
        acct.delta_threshold / 55)
    assert len(dom.values) >= 40 and sum(dom.counts) > 0.9 * 10_000
    # Every second pass of a run together takes at most AGAIN_SHARE of rho.
    for i in range(60):
        domain(classify(f"s{i}", "VARCHAR"), ArrayColumn(_states()), acct, 10_000.0, 55, np.random.default_rng(i))
    again = sum(s.rho for s in acct.steps if s.name.endswith(AGAIN))
    assert again <= 0.15 * acct.rho * (1 + 1e-9) and acct.rho_spent <= acct.rho * (1 + 1e-9)


def test_no_second_pass_where_the_first_explains_the_rows() -> None:
    """Found values and NULLs (a cell of the first pass's histogram) account for the rows: no second pass;
    nor for free text, whose values no pass would find."""
    acct = Accountant.for_budget(1.0, 1e-6)
    few = pa.array(["a"] * 5000 + ["b"] * 3000 + [None] * 12_000)  # 60 % NULL
    domain(classify("s", "VARCHAR"), ArrayColumn(few), acct, 20_000.0, 55, np.random.default_rng(0))
    ids = pa.array([f"id{i}" for i in range(10_000)])
    dom = domain(classify("t", "VARCHAR"), ArrayColumn(ids), acct, 10_000.0, 55, np.random.default_rng(0))
    assert dom.free_text and [s.name for s in acct.steps] == ["domain s", "domain t"]
    # Plenty of budget (eps 3 on 4 columns): the first pass finds the values, and no second is run.
    acct = Accountant.for_budget(3.0, 1e-6)
    domain(classify("state", "VARCHAR"), ArrayColumn(_states(nulls=3000)), acct, 13_000.0, 4, np.random.default_rng(0))
    assert [s.name for s in acct.steps] == ["domain state"]


def test_a_column_the_first_pass_explains_seldom_gets_a_second_on_the_row_counts_noise() -> None:
    """One value in all 500 rows, at eps = 1: what the first pass leaves is the row count's noise (sd 54). At a
    bar of 2 sd a second pass ran in 2.1 % of 1,000 runs (7 times the first's rho); at AGAIN_Z = 3, in 0.3 %."""
    from duckdb_synth.privacy.discovery import AGAIN

    fired = 0
    for seed in range(600):
        rng = np.random.default_rng(seed)
        acct = Accountant.for_budget(1.0, 1e-6)
        n_hat = 500.0 + rng.normal(0.0, 54.0)
        domain(classify("s", "VARCHAR"), ArrayColumn(pa.array(["same"] * 500)), acct, n_hat, 3, rng, n_var=54.0**2)
        fired += any(s.name.endswith(AGAIN) for s in acct.steps)
    assert fired <= 5, fired  # at 2 sd: 14 of these 600


# ---------------------------------------------------------------- range and lattice


def test_the_range_of_counts_from_zero_does_not_go_below_zero() -> None:
    """zip3 = -1 came from the bucket around zero reaching below it."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 999, 20_000).astype(float)
    x[:3000] = 0
    lo, hi, _ = private_range(POW2.histogram(x), sigma=5.0, rng=rng, buckets=POW2)
    assert lo == 0.0 and hi >= 999
    lo, hi, _ = private_range(POW2.histogram(-x), sigma=5.0, rng=rng, buckets=POW2)
    assert hi == 0.0 and lo <= -999


def test_an_integer_range_reaches_one_from_zero() -> None:
    """A count column (a loans table's delinquencies: 86 % zeros, 10 % ones, a thin tail to 13) came back
    all zeros: [1, 2), significant but alone on its side, had to pass the lone bucket's bar (6.9 sigma), and
    nothing went outward from the bucket around zero. Beside a significant zero it is in a run with it;
    and from zero the range goes outward as from any end, through each next bucket above 2 sigma."""
    x = np.repeat([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 8.0], [8576, 1011, 258, 88, 34, 10, 23])
    his = [private_range(POW2.histogram(x), sigma=141.0, rng=np.random.default_rng(s), buckets=POW2,
                         integer=True)[1] for s in range(40)]
    assert sum(hi >= 2.0 for hi in his) >= 38  # [1, 2) found: 1,011 is 7.2 sigma, the lone bar 6.9
    thin = np.repeat([0.0, 1.0], [9600, 400])  # 400 ones: under the significance bar (4.6 sigma), over 2 sigma
    his = [private_range(POW2.histogram(thin), sigma=141.0, rng=np.random.default_rng(s), buckets=POW2,
                         integer=True)[1] for s in range(40)]
    assert sum(hi >= 2.0 for hi in his) >= 26  # P(400 + Z > 2 sigma) = 0.80
    # An all-zero column: the bucket next to zero is taken only when its noise passes 2 sigma (2.3 %).
    zeros = np.zeros(10_000)
    ranges = [private_range(POW2.histogram(zeros), sigma=141.0, rng=np.random.default_rng(s), buckets=POW2,
                            integer=True)[:2] for s in range(400)]
    assert sum(lo < 0 for lo, _ in ranges) <= 20 and sum(hi > 1 for _, hi in ranges) <= 20


def test_a_range_read_with_its_lattice_reaches_zero_past_the_fractions() -> None:
    """A DOUBLE of whole months (a loans table's months since the last inquiry: 8 % zeros, the rest 1-24)
    lost its zeros in 28 % of range draws at eps-1 noise: zero was under the significance bar there, and
    twenty empty buckets of fractions stood between it and [1, 2), so the walk inward from [1, 2) never
    reached it. Read with the lattice (public: released before), a bucket below its step holds nothing but
    zero, and zero is [1, 2)'s neighbour, as for an integer type."""
    x = np.repeat([0.0, 1.0, 2.0, 3.0, 5.0, 9.0, 17.0], [693, 796, 1403, 2291, 2468, 900, 178])
    draws = [(s, np.random.default_rng(s)) for s in range(200)]
    old = [private_range(POW2.histogram(x), sigma=141.0, rng=rng, buckets=POW2)[0] for _, rng in draws]
    new = [private_range(POW2.histogram(x), sigma=141.0, rng=np.random.default_rng(s), buckets=POW2, least=1.0)[0]
           for s, _ in draws]
    assert sum(lo > 0.5 for lo in old) >= 30  # zero lost without the lattice (56 of 200 here)
    # zero under 2 sigma (4.9 sigma down: 0.2 %), or a false neighbour below it at 2 sigma (2.3 %)
    assert sum(lo > 0.5 for lo in new) <= 2 and sum(lo < 0 for lo in new) <= 10
    # Two decimals: buckets under 0.01 hold nothing, [2^-7, 2^-6) holds 0.01 and is the neighbour.
    cents = np.repeat([0.0, 0.01, 0.02, 0.05, 0.1, 0.5], [700, 900, 1400, 2300, 2400, 1000])
    los = [private_range(POW2.histogram(cents), sigma=141.0, rng=np.random.default_rng(s), buckets=POW2,
                         least=0.01)[0] for s in range(100)]
    assert sum(0.0 <= lo <= 0.0 for lo in los) >= 95
    # End to end: the domain of a DOUBLE of whole numbers keeps a cell for zero whatever the draw.
    for seed in range(20):
        dom, _ = private("DOUBLE", x, seed, sigma=141.0)
        assert dom.edges[0] <= 0.0 < dom.edges[1] and dom.decimals == 0


def _range_with_unexplained(x: np.ndarray, nulls: int, sigma: float, seed: int, n_var: float = 0.0):
    from duckdb_synth.privacy.discovery import with_unexplained
    from duckdb_synth.privacy.noise import discrete_gaussian

    rng = np.random.default_rng(seed)
    noisy = POW2.histogram(x) + discrete_gaussian(sigma, POW2.size, rng)
    null = nulls + float(discrete_gaussian(sigma, 1, rng)[0])
    n_hat = len(x) + nulls + (float(discrete_gaussian(n_var**0.5, 1, rng)[0]) if n_var else 0.0)
    found = private_range(noisy, sigma=sigma, rng=None, buckets=POW2, least=1.0, noised=True)
    grown = with_unexplained(noisy, POW2, *found, sigma=sigma, least=1.0, n_hat=n_hat, n_var=n_var, null=null,
                             null_var=sigma**2)
    return found, grown


def test_rows_the_range_missed_over_many_octaves_are_reached() -> None:
    """A count of collections (loans: 86 % zeros, the rest over nine octaves from 32 of 28-246 rows each,
    sigma 51 at eps 3) got the range of zero alone, every value coded 0: few of its octaves pass the bar,
    and none beside zero. The rows are known to be there (the row count less the NULL and range counts,
    far up), and the window of octaves most sigmas up, over the bar all windows of empty octaves pass
    at the range step's false rate, takes them in."""
    per_octave = {32: 64, 64: 198, 128: 238, 256: 239, 512: 246, 1024: 181, 2048: 102, 4096: 65, 8192: 28}
    x = np.concatenate([np.zeros(8635)] + [np.full(k, float(v)) for v, k in per_octave.items()])
    hits = 0
    for seed in range(40):
        (lo0, hi0, _), (lo, hi, pos_lo) = _range_with_unexplained(x, 0, 51.1, seed, n_var=17.0**2)
        assert lo == lo0 == 0.0 and hi >= hi0 and hi <= 2.0**16
        hits += hi >= 1024 and 32 <= pos_lo <= 256
    assert hits >= 36
    # Rows the range holds, NULLs included, leave it as it was: at most a false growth in a thousand.
    bulk = np.repeat([3.0, 5.0, 9.0, 17.0], [2000, 3000, 2500, 500])
    same = sum(a == b for a, b in (_range_with_unexplained(bulk, 4000, 71.3, s, n_var=60.0**2) for s in range(300)))
    assert same >= 299


def _collections() -> np.ndarray:
    """Loans' collections column: 86 % zeros, the other 14 % over nine octaves from 32, 28-246 rows each."""
    per_octave = {32: 64, 64: 198, 128: 238, 256: 239, 512: 246, 1024: 181, 2048: 102, 4096: 65, 8192: 28}
    return np.concatenate([np.zeros(8635)] + [np.full(k, float(v)) for v, k in per_octave.items()])


def test_a_range_that_leaves_a_tenth_of_the_rows_outside_is_measured_again() -> None:
    """At a 55-column table's eps-1 share (range sigma 141) no window of the collections column's octaves
    passes the bar, and every value came back 0 (tvd1 0.125). Over a tenth of the rows left outside the
    range, clear of their noise: the histogram again at 7 times the range's rho (the text columns' second
    pass, within what the run's second passes have left), averaged with the first, finds them; both are
    charged."""
    from duckdb_synth.privacy.discovery import AGAIN

    x = _collections()
    found = again = 0
    for seed in range(10):
        acct = Accountant.for_budget(1.0, 1e-6)
        dom = domain(classify("c", "BIGINT"), ArrayColumn(x), acct, 10_000.0, 55, np.random.default_rng(seed))
        steps = {s.name: s for s in acct.steps}
        assert steps["range c"].rho == pytest.approx(0.10 * column_share(acct, 10_000.0, 55))
        if f"range c {AGAIN}" in steps:  # else the first found them (a window of octaves over the bar)
            assert steps[f"range c {AGAIN}"].rho == pytest.approx(7 * steps["range c"].rho)
            again += 1
        assert dom.edges[0] <= 0.0 < dom.edges[1] and dom.edges[-1] <= 2.0**15
        found += dom.edges[-1] >= 1024
    assert found >= 9 and again >= 6
    # Without the second pass (no budget left for one), the range is zero alone in most draws.
    alone = 0
    for seed in range(10):
        noise = NumericNoise(range=141.0, lattice=141.0, zoom=1e-3, values_delta=1e-7)
        dom, steps = private_numeric_domain(classify("c", "BIGINT"), ArrayColumn(x), noise=noise, n_hat=10_000.0,
                                            nbins=16, rng=np.random.default_rng(seed))
        assert not [s for s in steps if s[0] == "range"]
        alone += dom.edges[-1] <= 1.0
    assert alone >= 7


def test_zeros_and_thin_decimals_keep_a_lattice_that_writes_them() -> None:
    """Cars' `pollution1`: 75 % zeros, the rest 0.1, 0.25, 0.4, 0.6 (886 rows of one decimal, 292 of two). At
    eps 1 (decimals sigma 226) no decimal place clears the bar in 8 % of draws, and the fallback, the zeros'
    lattice (multiples of 1,000), wrote every value as 0. Where the range step's counts show values other
    than zero (released), the fallback is no lattice: the values are drawn inside their cells instead."""
    from duckdb_synth.privacy.discovery import MIN_DECIMALS, choose_decimals

    faint = np.zeros(12)
    faint[4], faint[5], faint[-1] = 300.0, 200.0, 3476.0  # under the bar at sigma 226 (2.6 sigma)
    assert choose_decimals(faint, sigma=None, rng=None) == 2  # exact: one decimal writes 60 %, two all
    noisy = [choose_decimals(faint, sigma=226.0, rng=np.random.default_rng(s)) for s in range(20)]
    again = [choose_decimals(faint, sigma=226.0, rng=np.random.default_rng(s), nonzero=True) for s in range(20)]
    assert noisy.count(MIN_DECIMALS) >= 10 and MIN_DECIMALS not in again
    assert [a for a, b in zip(again, noisy) if b != MIN_DECIMALS] == [b for b in noisy if b != MIN_DECIMALS]
    x = np.repeat([0.0, 0.1, 0.25, 0.4, 0.6], [3476, 308, 292, 269, 309])
    zero_only = 0
    for seed in range(60):
        noise = NumericNoise(range=159.0, lattice=226.0, zoom=1e-4, values_delta=1e-7, range_again=1.38e-4)
        dom, _ = private_numeric_domain(classify("p", "DOUBLE"), ArrayColumn(x), noise=noise, n_hat=4654.0,
                                        nbins=8, rng=np.random.default_rng(seed))
        assert dom.decimals != MIN_DECIMALS
        out = drawn(dom, 4654, seed)
        zero_only += np.mean(out[~np.isnan(out)] != 0) < 0.05
    assert zero_only <= 1


def test_a_range_second_pass_counts_the_rows_that_are_not_null() -> None:
    """A numeric column mostly NULL gets its range measured again by the share of its own values outside the
    range: the collections column with 40,000 NULLs (14 % of its values outside a range of zero alone, 2.8 %
    of all rows; a column of user ids, 88 % NULL, kept a range holding half of its values). A text column's
    pass, far costlier, still counts all rows: the 50-value column with 90,000 NULLs, about half of its
    10,000 values in no kept value (5 % of all rows), takes none."""
    from duckdb_synth.privacy.discovery import AGAIN

    text = ranges = found = 0
    for seed in range(6):
        acct = Accountant.for_budget(1.0, 1e-6)
        domain(classify("state", "VARCHAR"), ArrayColumn(_states(nulls=90_000)), acct, 100_000.0, 55,
               np.random.default_rng(seed))
        text += f"domain state {AGAIN}" in {s.name for s in acct.steps}
        x = np.concatenate([_collections(), np.full(40_000, np.nan)])  # NULLs, as the engine holds them
        dom = domain(classify("c", "BIGINT"), ArrayColumn(x), acct, 50_000.0, 55, np.random.default_rng(seed))
        ranges += f"range c {AGAIN}" in {s.name for s in acct.steps}
        found += dom.edges[-1] >= 1024
    assert text == 0 and ranges >= 4 and found >= 4


def test_no_second_range_where_the_range_holds_the_rows() -> None:
    """A column whose range holds its rows (NULLs a cell of the same histogram) takes no second range; the
    text columns' second passes stay within AGAIN_SHARE (15 %) of rho, and all second passes within 18 %:
    text passes before do not leave the ranges without."""
    from duckdb_synth.privacy.discovery import AGAIN

    acct = Accountant.for_budget(1.0, 1e-6)
    bulk = np.repeat([3.0, 5.0, 9.0, 17.0, 0.0], [2000, 3000, 2500, 500, 2000])
    nulls = np.arange(len(bulk)) >= 8000  # 20 % NULL
    for seed in range(5):
        domain(classify(f"b{seed}", "BIGINT"), ArrayColumn(bulk, nulls=nulls), acct, 10_000.0, 55,
               np.random.default_rng(seed))
    assert not [s for s in acct.steps if s.name.endswith(AGAIN)]
    for i in range(30):  # text columns first, as in cars: their second passes take all of theirs
        domain(classify(f"s{i}", "VARCHAR"), ArrayColumn(_states()), acct, 10_000.0, 55, np.random.default_rng(i))
    text = [s for s in acct.steps if s.name.endswith(AGAIN)]
    assert sum(s.rho for s in text) == pytest.approx(0.15 * acct.rho)
    for i in range(20):
        domain(classify(f"c{i}", "BIGINT"), ArrayColumn(_collections()), acct, 10_000.0, 55,
               np.random.default_rng(i))
    ranges = [s for s in acct.steps if s.name.startswith("range ") and s.name.endswith(AGAIN)]
    assert 3 <= len(ranges) < 20  # the cap stops them
    assert sum(s.rho for s in ranges) == pytest.approx(0.03 * acct.rho) and acct.rho_spent <= acct.rho * (1 + 1e-9)
    # Ranges first: they may take all 18 %, and a text column's pass then gets what is left of it.
    acct = Accountant.for_budget(1.0, 1e-6)
    for i in range(40):
        domain(classify(f"c{i}", "BIGINT"), ArrayColumn(_collections()), acct, 10_000.0, 55,
               np.random.default_rng(i))
    domain(classify("s", "VARCHAR"), ArrayColumn(_states()), acct, 10_000.0, 55, np.random.default_rng(0))
    assert sum(s.rho for s in acct.steps if s.name.endswith(AGAIN)) == pytest.approx(0.18 * acct.rho)


def test_a_range_of_lone_buckets_is_the_highest_not_a_unit_range() -> None:
    """A loans table's joint debt-to-income (85 % NULL, 1,495 values, most in [8, 64)) had no run of two
    significant octaves and none over the lone bar (6.9 sigma): its range was [-1, 1] and every value came
    back 1.0. With nothing else chosen, the highest significant bucket is the range's start."""
    x = np.repeat([0.75, 1.5, 3.0, 6.0, 12.0, 24.0, 48.0], [4, 3, 12, 82, 379, 896, 118])
    ranges = [private_range(POW2.histogram(x), sigma=141.0, rng=np.random.default_rng(s), buckets=POW2)[:2]
              for s in range(40)]
    assert sum(lo <= 16.0 and hi >= 32.0 for lo, hi in ranges) >= 36  # P(896 + Z > 4.6 sigma) = 0.96
    # With no significant bucket at all, still the unit range.
    assert private_range(POW2.histogram(x[:100]), sigma=141.0, rng=np.random.default_rng(0),
                         buckets=POW2)[:2] == (-1.0, 1.0)


def test_zeros_do_not_choose_the_lattice() -> None:
    """Zero is written with any number of decimals: counted as a multiple of 1,000, a column of 96 % zeros
    got the lattice of multiples of 1,000 and its ones came back as zeros. Zeros have a cell of their own;
    the other values choose, and with none clear of the noise the zeros' own lattice is taken."""
    from duckdb_synth.privacy.discovery import choose_decimals

    counts = DecimalPlaces().histogram(np.repeat([0.0, 1.0, 2.0], [9600, 300, 100]))
    assert choose_decimals(counts, sigma=None, rng=None) == 0
    cents = DecimalPlaces().histogram(np.concatenate([np.zeros(9700), np.round(np.linspace(0.01, 3, 300), 2)]))
    assert choose_decimals(cents, sigma=None, rng=None) == 2
    zeros = DecimalPlaces().histogram(np.zeros(1000))
    assert choose_decimals(zeros, sigma=None, rng=None) == -3
    assert choose_decimals(zeros, sigma=None, rng=None, integer=True) == 0
    assert choose_decimals(DecimalPlaces().histogram(np.zeros(0)), sigma=None, rng=None) is None
    rng = np.random.default_rng(0)
    chosen = [choose_decimals(counts, sigma=100.0, rng=rng, integer=True) for _ in range(200)]
    # Whole numbers (the 400 ones clear the bar, 2.6 sigma, or the integer type's lattice), but where an
    # empty finer cell passes the bar (LATTICE_FALSE: 0.05 a histogram); never multiples of 1,000.
    assert chosen.count(0) >= 185 and min(chosen) == 0


def test_an_integer_range_reaches_zero_from_one() -> None:
    """cars' size: 0, 1, 2, 3, a few percent zeros, too few for the bar a lone bucket must pass.
    For an integer the bucket around zero is next to [1, 2) (nothing lies between), so it joins
    the range as a neighbour does; for a DOUBLE twenty empty octaves lie between, and it does not."""
    x = np.repeat([0.0, 1.0, 2.0, 3.0], [130, 500, 1600, 2400])
    sigma = 40.0  # the lone-bucket bar is about 6.5 sigma = 260 > 130; the neighbour bar 2 sigma = 80
    found = [private_range(POW2.histogram(x), sigma=sigma, rng=np.random.default_rng(s), buckets=POW2,
                           integer=integer)[0] for integer in (True, False) for s in range(40)]
    whole, double = found[:40], found[40:]
    # The noisy 130 passes 80 in 9 draws of 10 (173 of 200 seeds); as a DOUBLE the zeros are kept
    # only where their noisy count passes the lone bucket's bar (22 of 200).
    assert sum(lo == 0.0 for lo in whole) >= 30
    assert sum(lo == 0.0 for lo in double) <= 10


def test_zero_decodes_to_zero_not_minus_zero() -> None:
    """Shares of 0, 0.1, 0.3 (most rows at 0): the cell around zero starts below it, and a draw
    there rounded to one decimal was -0.0, printed as such."""
    rng = np.random.default_rng(0)
    x = rng.choice([0.0, 0.1, 0.3], size=20_000, p=[0.8, 0.1, 0.1])
    out = drawn(private("DOUBLE", x, 0)[0], 20_000, 1)
    assert np.mean(out == 0.0) > 0.7
    assert not np.signbit(out[out == 0.0]).any()


def test_float_decimals_are_read_in_single_precision() -> None:
    """A FLOAT holding 0.1 holds 0.100000001490116: one decimal in single precision, none in double."""
    x = np.round(np.random.default_rng(0).uniform(0, 100, 1000), 1).astype(np.float32).astype(np.float64)
    assert (decimal_places(x, single=True) <= 1).all()
    assert (decimal_places(x) > 6).mean() > 0.5
    assert DecimalPlaces.of(classify("f", "FLOAT")).single and not DecimalPlaces.of(classify("d", "DOUBLE")).single
    dom, _ = private("FLOAT", x)
    assert dom.decimals == 1


def test_an_integer_column_never_gets_decimals_from_the_noise() -> None:
    """An integer type holds whole numbers (public). With few values other than zero, the noise of the finer
    decimal buckets outweighed them in one draw of twenty here, and deliveries' `item_17` (0-3, 91 % zeros)
    took 3 decimals at eps = 1: its values were drawn on thousandths inside [0, 1) and cast, half 0 and half
    1 (tvd1 0.46)."""
    rng = np.random.default_rng(0)
    x = np.where(rng.random(10_000) < 0.91, 0.0, rng.integers(1, 4, 10_000).astype(float))
    got = [choose_lattice(classify("x", "BIGINT"), ArrayColumn(x), sigma=150.0, rng=np.random.default_rng(s),
                          nonzero=True)[0] for s in range(20)]
    assert all(d is not None and d <= 0 for d in got), got
    assert got.count(0) >= 15


def test_time_units() -> None:
    sec = 1e6
    x = np.array([86_400 * sec, 3 * 3_600 * sec, 7 * 60 * sec, 42 * sec, 1.5 * sec, 17.0])
    np.testing.assert_array_equal(TimeUnits().codes(x), [0, 1, 2, 3, 4, 5])
    rng = np.random.default_rng(0)
    whole_seconds = np.round(rng.uniform(0, 1e6, 5_000)) * sec
    assert choose_unit(TimeUnits().histogram(whole_seconds), sigma=5.0, rng=rng) == sec
    assert choose_unit(TimeUnits().histogram(whole_seconds + rng.integers(1, 999, 5_000)), sigma=5.0, rng=rng) is None
    days = np.round(rng.uniform(0, 1e4, 5_000)) * 86_400 * sec
    assert choose_unit(TimeUnits().histogram(days), sigma=5.0, rng=rng) == TIME_UNITS[0]


def test_whole_second_timestamps_decode_to_whole_seconds() -> None:
    rng = np.random.default_rng(3)
    x = (1.6e9 + np.round(rng.uniform(0, 3e7, 20_000))) * 1e6
    dom, _ = private("TIMESTAMP", x)
    assert dom.unit == 1e6
    out = drawn(dom, 5_000, 0)
    assert np.all(np.mod(out, 1e6) == 0)
    assert np.mean((out >= x.min()) & (out <= x.max())) >= 0.99


def test_tail_counts_cut_off_the_domain_are_kept_in_its_end_cells() -> None:
    """Leaves at the ends that hold nothing leave the domain; the rows there are coded into the end
    cells, and so are their estimates: the cell estimates still add up to the rows."""
    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(100, 5, 20_000), 70, 127)  # its thin tails (about 50 rows past 3 sd) are cut off
    totals, variances, cut = [], [], 0
    for seed in range(20):
        dom, _ = private("DOUBLE", x, seed)
        g = len(dom.edges) - 1
        cut += dom.edges[0] > 70 or dom.edges[-1] < 127  # some tail was cut off
        totals.append(dom.cell_counts[:g].sum())
        variances.append(dom.cell_var[:g].sum())
    assert cut >= 15  # in most draws (18 of 20 here)
    assert abs(np.mean(totals) - len(x)) < 3 * np.sqrt(np.mean(variances) / 20)


def test_a_thin_tail_lost_cell_by_cell_in_the_noise_is_kept() -> None:
    """600 rows spread over many first-grid cells below a wide body, each cell under its noise bar:
    their sum is plain, and it stays in the tail (read from the parent's total alone, it was lost
    in the noise of the many clear cells, and 8 in 10 seeds returned no value there)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(1000, 8000, 20_000), rng.uniform(100, 900, 600)])
    share = np.mean(x < 950)
    drawn_share = [np.mean(drawn(private("DOUBLE", x, seed, sigma=25.0)[0], 50_000, seed) < 950)
                   for seed in range(10)]
    assert 0.6 * share < np.mean(drawn_share) < 1.3 * share


# ---------------------------------------------------------------- frequent values as cells of their own


def _converted(rng: np.random.Generator, n: int) -> np.ndarray:
    """Wind speeds in mph converted from whole knots: few values, far apart, on no short lattice."""
    return np.round(rng.poisson(9, n) * 1.15078, 5)


@pytest.mark.parametrize("seed", range(3))
def test_frequent_values_of_a_fine_lattice_come_back_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = _converted(rng, 20_000)
    dom, steps = private("DOUBLE", x, seed)
    assert steps[0][0] == "values" and steps[0][2] > 0  # its own step, with the threshold's delta
    out = drawn(dom, 20_000, seed)
    assert np.isin(out, np.unique(x)).mean() > 0.97
    q = np.quantile(x, np.linspace(0, 1, 17)[1:-1])
    real = np.bincount(np.searchsorted(q, x, side="right"), minlength=17) / len(x)
    synth = np.bincount(np.searchsorted(q, out, side="right"), minlength=17) / len(out)
    assert 0.5 * np.abs(real - synth).sum() < 0.05


def test_a_value_held_by_one_row_is_never_a_point() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([_converted(rng, 20_000), [123.456789]])
    for seed in range(10):
        dom, _ = private("DOUBLE", x, seed)
        assert 123.456789 not in dom.points


def test_no_values_step_where_the_zoom_reaches_the_lattice() -> None:
    x = np.random.default_rng(0).integers(1975, 2023, 20_000).astype(float)  # years: 1,024 points in [1024, 2048)
    _, steps = private("INTEGER", x)  # (one octave: the descent looks, and finds the years fill its grid)
    assert [s[0] for s in steps] == ["(descent)"] + [f"({k}/3)" for k in (1, 2, 3)]
    assert "not narrowed" in steps[0][3]


def test_with_points_keeps_the_sums_and_decodes_points_exactly() -> None:
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    weights, counts, var = np.array([10.0, 500.0, 10.0]), np.array([11.0, 498.0, 9.0]), np.full(3, 4.0)
    e, w, c, v, pt = with_points(edges, weights, counts, var, np.array([1.5, 7.25]), np.array([480.0, 50.0]), 4.0,
                                 0.25)
    assert np.all(np.diff(e) > 0) and len(e) == len(w) + 1 == len(pt) + 1
    assert c.sum() == pytest.approx(counts.sum() + 50.0)  # the second point lies beyond: a cell of its own
    assert np.nansum(pt) == pytest.approx(1.5 + 7.25)
    j = int(np.flatnonzero(pt == 1.5)[0])
    assert (e[j], e[j + 1]) == (1.375, 1.625) and w[j] == 480.0
    assert w[np.flatnonzero(pt == 7.25)[0]] == 50.0
    gap = np.flatnonzero((e[:-1] >= 3.0) & np.isnan(pt))
    assert len(gap) == 1 and w[gap[0]] == 0.0
    dom = NumericDomain(classify("x", "DOUBLE"), e, w, np.arange(len(w)), null=False, points=pt)
    out = decode_numeric(dom, np.full(100, j), np.random.default_rng(0)).to_numpy()
    assert np.all(out == 1.5)


def test_a_noisy_decimals_histogram_rarely_takes_an_empty_finer_bucket() -> None:
    """Values written with one decimal, few rows and a thin budget (cars: 4,654 rows, 70 columns):
    with empty buckets taken for data over 2 sigma, one column in ten got two or more decimals."""
    from duckdb_synth.privacy.discovery import DECIMAL_PLACES, choose_decimals

    x = np.random.default_rng(0).choice([2.5, 4.0, 6.0], 4654)
    counts = DECIMAL_PLACES.histogram(x)
    rng = np.random.default_rng(1)
    chosen = [choose_decimals(counts, sigma=260.0, rng=rng) for _ in range(400)]
    assert np.mean([c == 1 for c in chosen]) > 0.97


def test_an_octave_the_zoom_lost_is_restored_from_the_range_count() -> None:
    """Leaves over [1, 16): the bulk in [2, 8) kept, the tail [8, 16) measured but lost (each leaf under
    its noise, no weight). The range step's count of [8, 16) (188 rows, sigma 57) with the leaves'
    own estimates puts the tail back, spread by width; a bucket the zoom kept is left as it was,
    and one whose estimate is within the noise stays empty."""
    from duckdb_synth.privacy.discovery import with_octaves

    edges = np.concatenate([np.linspace(1, 8, 15), np.linspace(8, 16, 9)[1:]])
    k = len(edges) - 1
    weights = np.where((edges[:-1] >= 2) & (edges[:-1] < 8), 300.0, 0.0)
    counts = weights + np.where(edges[:-1] >= 8, 40.0, 0.0)  # 320 rows over 8 leaves: 1.1 of their sd
    var = np.full(k, 100.0**2)
    noisy = np.zeros(POW2.size)
    for lo, c in ((1, 5.0), (2, 1500.0), (4, 2100.0), (8, 188.0)):
        noisy[POW2.codes(np.array([float(lo)]))[0]] = c
    out = with_octaves(edges, weights, counts, var, noisy, POW2, 57.0)
    tail = edges[:-1] >= 8
    np.testing.assert_array_equal(out[~tail], weights[~tail])  # kept buckets unchanged, [1, 2) within noise
    prec = 1 / 57.0**2 + 1 / (tail.sum() * 100.0**2)
    expected = (188.0 / 57.0**2 + 40.0 * tail.sum() / (tail.sum() * 100.0**2)) / prec
    np.testing.assert_allclose(out[tail].sum(), expected)
    np.testing.assert_allclose(out[tail], out[tail][0])  # equal widths: equal shares
    noisy[POW2.codes(np.array([8.0]))[0]] = 60.0  # about one sigma: not clear of the noise
    counts[tail] = 0.0
    np.testing.assert_array_equal(with_octaves(edges, weights, counts, var, noisy, POW2, 57.0), weights)


def test_an_octave_that_joined_the_range_on_its_count_alone_is_not_restored_by_it() -> None:
    """The range step's count of a bucket beside the range is the one that let it join (over 2 sigma):
    an empty bucket that joined carries a count biased up, and with it alone the combination passes
    (188 over sigma 57 with leaves of 0: 3.2 sd). The leaves' own estimate, independent of that
    choice, must be a sd up; an empty octave beside a Likert column's 1-5 so drew 1.7 % of its values."""
    from duckdb_synth.privacy.discovery import LEAVES_Z, with_octaves

    edges = np.concatenate([np.linspace(1, 8, 15), np.linspace(8, 16, 9)[1:]])
    k = len(edges) - 1
    weights = np.where(edges[:-1] < 8, 300.0, 0.0)
    var = np.full(k, 100.0**2)
    tail = edges[:-1] >= 8
    noisy = np.zeros(POW2.size)
    noisy[POW2.codes(np.array([8.0]))[0]] = 188.0
    sd = np.sqrt(tail.sum()) * 100.0
    for per_leaf, restored in ((0.0, False), (0.9 * LEAVES_Z * sd / tail.sum(), False),
                               (1.1 * LEAVES_Z * sd / tail.sum(), True)):
        counts = np.where(tail, per_leaf, weights)
        out = with_octaves(edges, weights, counts, var, noisy, POW2, 57.0)
        assert (out[tail].sum() > 0) == restored, per_leaf
        np.testing.assert_array_equal(out[~tail], weights[~tail])


# ---------------------------------------------------------------- end cells thinner than their neighbour


def test_an_end_cell_thinner_than_its_neighbour_is_drawn_next_to_it() -> None:
    """Ages to 90 whose last cell the zoom left whole over 80-111 (its rows faint cell by cell): drawn
    evenly, two thirds of its weight lands past 90. Laid down from the inner side at the neighbour's
    density, falling to zero: within 2 x 200 / 40 = 10 years of 80. Sums of weights, counts and
    variances are kept, the parts past the weight's end leave the domain, and they keep their bin."""
    edges = np.array([60.0, 70.0, 80.0, 112.0])
    weights, counts, var = np.array([900.0, 400.0, 200.0]), np.array([905.0, 390.0, 215.0]), np.full(3, 80.0**2)
    cell_bin = np.array([0, 1, 1])
    e, w, c, v, b, pt = with_tails(edges, weights, counts, var, cell_bin, None, 1.0)
    assert pt is None and e[0] == 60.0 and np.all(np.diff(e) > 0) and np.all(np.mod(e, 1.0) == 0.0)
    assert e[-1] == pytest.approx(90.0)  # the density falls from 40 a year to 0 over 10 years
    for new, old in ((w, weights), (c, counts), (v, var)):
        assert new.sum() == pytest.approx(old.sum())
    assert np.all(b[2:] == 1) and np.all(np.diff(w[2:]) < 0)  # falling outward
    out = drawn(NumericDomain(classify("x", "INTEGER"), e, w, b, null=False), 40_000, 0)
    top = out[out >= 80]
    assert np.mean(top > 90) == 0.0 and abs(np.mean(top <= 84) - (1 - (5 / 10) ** 2)) < 0.03
    # the bottom end the same way, mirrored
    e2, w2, *_ = with_tails(-edges[::-1], weights[::-1], counts[::-1], var[::-1], cell_bin[::-1], None, 1.0)
    np.testing.assert_allclose(e2, -e[::-1])
    np.testing.assert_allclose(w2, w[::-1])


def test_an_end_cell_split_evenly_by_the_zoom_is_one_end_cell() -> None:
    """The zoom splits a light end cell into children however faint, and shares its weight out evenly
    where no child and no half is clear of the noise (loans' installment at eps = 1: 1,056-2,048 in 9
    cells of one density over rows to 1,567, 3 % of the column drawn past its end). Those cells are the
    one end cell of the test above: the same tail, cut at 90. An even run as dense as its neighbour,
    or in a bin of its own, is left as it is."""
    whole_edges = np.array([60.0, 70.0, 80.0, 112.0])
    whole = with_tails(whole_edges, np.array([900.0, 400.0, 200.0]), np.array([905.0, 390.0, 215.0]),
                       np.full(3, 80.0**2), np.array([0, 1, 1]), None, 1.0)
    edges = np.array([60.0, 70.0, 80.0, 88.0, 96.0, 104.0, 112.0])
    weights = np.array([900.0, 400.0, 50.0, 50.0, 50.0, 50.0])
    counts, var = np.array([905.0, 390.0, 60.0, 50.0, 55.0, 50.0]), np.array([80.0**2] * 2 + [40.0**2] * 4)
    e, w, c, v, b, _ = with_tails(edges, weights, counts, var, np.array([0, 1, 1, 1, 1, 1]), None, 1.0)
    np.testing.assert_allclose(e, whole[0])
    np.testing.assert_allclose(w, whole[1])
    assert c.sum() == pytest.approx(counts.sum()) and v.sum() == pytest.approx(var.sum())
    assert e[-1] == pytest.approx(90.0) and np.all(b[2:] == 1)
    mirrored = with_tails(-edges[::-1], weights[::-1], counts[::-1], var[::-1], np.array([0, 0, 0, 0, 1, 2]), None, 1.0)
    np.testing.assert_allclose(mirrored[0], -e[::-1])
    dense = np.array([900.0, 320.0, 256.0, 256.0, 256.0, 256.0])  # 32 a year, as its neighbour (another bin)
    np.testing.assert_array_equal(with_tails(edges, dense, counts, var, np.array([0, 1, 2, 2, 2, 2]), None, 1.0)[0],
                                  edges)
    own_bins = with_tails(edges, weights, counts, var, np.arange(6), None, 1.0)  # the last cell alone: as dense
    np.testing.assert_array_equal(own_bins[0], edges)


def test_an_end_cell_as_dense_as_its_neighbour_or_a_point_is_left_as_it_is() -> None:
    edges = np.array([60.0, 70.0, 80.0, 90.0])
    weights, counts, var = np.array([900.0, 400.0, 400.0]), np.array([905.0, 390.0, 410.0]), np.full(3, 80.0**2)
    cell_bin = np.arange(3)
    out = with_tails(edges, weights, counts, var, cell_bin, None, 1.0)
    np.testing.assert_array_equal(out[0], edges)  # as dense as its neighbour: drawn evenly, as before
    np.testing.assert_array_equal(out[1], weights)
    thin = np.array([900.0, 400.0, 50.0])
    points = np.array([np.nan, 75.0, np.nan])  # beside a frequent value: no density to continue
    np.testing.assert_array_equal(with_tails(edges, thin, counts, var, cell_bin, points, 1.0)[1], thin)
    one = np.array([60.0, 70.0, 80.0, 81.0])  # a single lattice point: nothing to lay down
    np.testing.assert_array_equal(with_tails(one, thin, counts, var, cell_bin, None, 1.0)[0], one)


# ---------------------------------------------------------------- end cells denser than their neighbour


def test_an_end_cell_denser_than_its_neighbour_becomes_its_inner_point() -> None:
    """Humidity to 100.00 on a lattice of 0.01, 286 rows at exactly 100, the last cell 99.995-100.055
    (six points) beside thin ones: drawn evenly, five sixths of those rows land over 100. The cell
    becomes its inner point alone (its weight, counts and bin kept); the bottom end mirrors it."""
    edges = np.array([99.835, 99.885, 99.945, 99.995, 100.055])
    weights, counts = np.array([30.0, 25.0, 20.0, 300.0]), np.array([28.0, 31.0, 12.0, 290.0])
    var, cell_bin = np.full(4, 60.0**2), np.array([4, 4, 5, 5])
    kept = [a.copy() for a in (edges, weights, counts, var, cell_bin)]
    e = with_end_spikes(edges, weights, var, None, 0.01)
    np.testing.assert_allclose(e, [99.835, 99.885, 99.945, 99.995, 100.005])
    for new, old in zip((edges, weights, counts, var, cell_bin), kept):  # the inputs are left as they were
        np.testing.assert_array_equal(new, old)
    out = drawn(NumericDomain(classify("x", "DOUBLE"), e, weights, cell_bin, null=False, decimals=2), 40_000, 0)
    assert np.mean(out > 100.0) == 0.0 and np.mean(out == 100.0) > 0.75
    before = drawn(NumericDomain(classify("x", "DOUBLE"), edges, weights, cell_bin, null=False, decimals=2), 40_000, 0)
    assert np.mean(before > 100.0) > 0.6  # evenly over the last cell: 300 / 375 x 5/6 = 0.67
    e2 = with_end_spikes(-edges[::-1], weights[::-1], var[::-1], None, 0.01)
    np.testing.assert_allclose(e2, -e[::-1])


def test_an_end_cell_within_noise_of_its_neighbours_density_or_of_one_point_is_left_as_it_is() -> None:
    edges = np.array([99.835, 99.885, 99.945, 99.995, 100.055])
    var, cell_bin = np.full(4, 60.0**2), np.array([4, 4, 5, 5])
    # 20 / 0.05 fills 24 over 0.06: an excess of 80 is under 1.64 sd (98) of one cell's estimate
    near = np.array([30.0, 25.0, 20.0, 104.0])
    np.testing.assert_array_equal(with_end_spikes(edges, near, var, None, 0.01), edges)
    one = np.array([99.835, 99.885, 99.945, 99.995, 100.005])  # a single lattice point
    dense = np.array([30.0, 25.0, 20.0, 300.0])
    np.testing.assert_array_equal(with_end_spikes(one, dense, var, None, 0.01), one)
    np.testing.assert_array_equal(with_end_spikes(edges, dense, var, None, None), edges)
    points = np.array([np.nan, np.nan, 99.97, np.nan])  # beside a frequent value's cell: no density to compare
    np.testing.assert_array_equal(with_end_spikes(edges, dense, var, points, 0.01), edges)


# ---------------------------------------------------------------- end cells confirmed by the 1-way marginal


def test_end_cells_not_clearly_data_get_bins_of_their_own() -> None:
    """Below the first cell clearly data and above the last, the end bin's cells become a bin: the bin
    itself where it holds only such cells (1), split off it otherwise (2); none where both ends are clear."""
    edges = np.arange(10.0)
    cell_bin = np.array([0, 0, 1, 1, 2, 2, 3, 3, 3])
    out, flags = unconfirmed_ends(edges, cell_bin, 2.0, 7.0)
    assert flags == (1, 2)
    np.testing.assert_array_equal(out, [0, 0, 1, 1, 2, 2, 3, 4, 4])
    np.testing.assert_array_equal(cell_bin, [0, 0, 1, 1, 2, 2, 3, 3, 3])  # the input is left as it was
    out, flags = unconfirmed_ends(edges, np.array([0, 0, 0, 1, 1, 2, 2, 3, 3]), 1.0, 9.0)
    assert flags == (2, 0)
    np.testing.assert_array_equal(out, [0, 1, 1, 2, 2, 3, 3, 4, 4])
    out, flags = unconfirmed_ends(edges, cell_bin, 0.0, 9.0)
    assert flags == (0, 0)
    np.testing.assert_array_equal(out, cell_bin)
    # a faint tail over two bins: the end bin's cells only
    out, flags = unconfirmed_ends(edges, np.array([0, 0, 1, 1, 1, 2, 2, 3, 3]), 0.0, 4.0)
    assert flags == (0, 1)
    # the bar: clear of the noise by more as the table's leaves are more
    counts, var = np.array([10.0, 500.0, 300.0, 40.0]), np.full(4, 10.0**2)
    assert sure_span(np.arange(5.0), counts, var, 1) == (1.0, 4.0)  # 40 is 4 sd: clear in one column
    assert sure_span(np.arange(5.0), counts, var, 1000) == (1.0, 3.0)  # not among 1,000 columns' leaves
    assert sure_span(np.arange(5.0), np.zeros(4), var, 1) is None


def _likert_domain(flags: tuple[int, int]) -> NumericDomain:
    """An answer of 1-5 whose domain kept empty points 6-8 (bin 5, split off bin 4) and, with flags
    (1, ...), an empty 0 as a bin of its own."""
    if flags[0]:
        edges = np.arange(0.0, 10.0)
        weights = np.array([9.0, 100, 300, 500, 300, 100, 5, 12, 7])
        cell_bin = np.array([0, 1, 2, 3, 4, 5, 6, 6, 6])
    else:
        edges = np.arange(1.0, 10.0)
        weights = np.array([100.0, 300, 500, 300, 100, 5, 12, 7])
        cell_bin = np.array([0, 1, 2, 3, 4, 5, 5, 5])
    g = len(weights)
    return NumericDomain(classify("x", "INTEGER"), edges, weights, cell_bin, null=True,
                         cell_counts=np.append(weights + 1.0, 3.0), cell_var=np.full(g + 1, 4.0), decimals=0,
                         points=np.full(g, np.nan), unconfirmed=flags)


@pytest.mark.parametrize("flags", [(0, 2), (1, 2)])
def test_an_end_bin_the_one_way_finds_empty_leaves_the_domain(flags: tuple[int, int]) -> None:
    """Measured within noise of zero, an unconfirmed end bin goes: its cells leave the domain (nothing is
    drawn past 5), its rows and its count go to the bin next to it, and so do its cells' estimates."""
    dom = _likert_domain(flags)
    x = np.array([1.0, 2, 3, 3, 4, 5, 5, 7, np.nan])  # a stray 7 (the confirmation is of counts, not rows)
    codes = dom.encode(x)
    data = Binned(codes[:, None].astype(np.int64), [dom.size])
    nb = dom.nbins
    values = np.bincount(codes, minlength=dom.size).astype(float) + 0.5
    values[nb - 1] = 10.0  # 0.5 sd: within noise
    if flags[0]:
        values[0] = -3.0
    m = Measurement((0,), values, np.full(dom.size, 20.0**2))
    new, m2, remap = confirm_ends(dom, m, confirm_z(10))
    assert new.unconfirmed == (0, 0) and new.nbins == 5 and new.size == 6
    np.testing.assert_array_equal(new.edges, np.arange(1.0, 7.0))
    np.testing.assert_array_equal(new.weights, [100.0, 300, 500, 300, 100])
    g = len(dom.weights)
    assert new.cell_counts[4] == 101.0 + sum(dom.cell_counts[g - 3:g])  # the estimates cut off, in the end cell
    assert new.cell_counts[0] == 101.0 + (dom.cell_counts[0] if flags[0] else 0.0)
    assert new.cell_counts.sum() == pytest.approx(dom.cell_counts.sum())
    assert new.cell_counts[-1] == 3.0  # NULL's kept
    data.recode(0, remap, new.size)
    np.testing.assert_array_equal(data.codes[:, 0], new.encode(x))  # rows coded as the new domain codes them
    assert m2.values.sum() == pytest.approx(values.sum()) and m2.variance[4] == 2 * 20.0**2
    assert m2.values[-1] == values[-1]
    out = drawn(new, 5_000, 0)
    assert out.min() >= 1 and out.max() <= 5


def test_an_end_bin_the_one_way_confirms_stays() -> None:
    """Clear of the noise, a bin split off rejoins the bin it came from (their counts added); the
    domain's cells stay as they were."""
    dom = _likert_domain((0, 2))
    values = np.array([100.0, 300, 500, 300, 100, 300, 3])
    new, m2, remap = confirm_ends(dom, Measurement((0,), values, np.full(7, 20.0**2)), confirm_z(10))
    np.testing.assert_array_equal(new.edges, dom.edges)
    np.testing.assert_array_equal(new.cell_bin, [0, 1, 2, 3, 4, 4, 4, 4])
    np.testing.assert_array_equal(remap, [0, 1, 2, 3, 4, 4, 5])
    np.testing.assert_array_equal(m2.values, [100.0, 300, 500, 300, 400, 3])
    assert new.unconfirmed == (0, 0)
    same, m3, none = confirm_ends(new, m2, confirm_z(10))  # nothing left to confirm
    assert same is new and none is None


@pytest.mark.parametrize("columns", [10, 55])
def test_the_bar_of_an_end_bin_is_passed_by_noise_alone_end_false_times_a_table(columns: int) -> None:
    """An empty end bin's noisy count passes the bar with probability END_FALSE / (2 d): a table's 2 d
    ends keep one by noise alone END_FALSE times a run. A bin at 2.5 sd (kept at the old bar of 2) leaves
    on either table; one just over the bar stays."""
    from duckdb_synth.privacy.discovery import END_FALSE
    from scipy.stats import norm

    z = confirm_z(columns)
    assert 2 * columns * norm.sf(z) == pytest.approx(END_FALSE, rel=1e-9)
    assert confirm_z(55) > confirm_z(10) > 2.5
    rng = np.random.default_rng(3)
    kept = (rng.normal(0.0, 1.0, (200_000, 2 * columns)) >= z).any(axis=1).mean()  # runs keeping an empty end
    assert abs(kept - END_FALSE) < 0.003  # sd of the estimate 0.0005
    for level, stays in ((2.5, False), (z + 0.05, True)):
        dom = _likert_domain((0, 2))
        values = np.array([100.0, 300, 500, 300, 100, level * 20.0, 3])
        new = confirm_ends(dom, Measurement((0,), values, np.full(7, 20.0**2)), z)[0]
        assert (len(new.edges) == len(dom.edges)) == stays, level


def _answers(seed: int, columns: int | None, tail: int = 0) -> NumericDomain:
    """A 1-5 answer (15,000 rows, and `tail` rows of 6) through the zoom at sigma 64 (a wide table at
    eps = 1) and, with `columns`, its end bins through a 1-way marginal (sigma 87: its share)."""
    rng0 = np.random.default_rng(0)
    x = rng0.choice(np.arange(1.0, 6.0), size=15_000, p=[0.07, 0.24, 0.35, 0.23, 0.11])
    x = np.concatenate([x, np.full(tail, 6.0)])
    rng = np.random.default_rng(seed)
    noise = NumericNoise(range=64.0, lattice=64.0, zoom=1 / (2 * 64.0**2), values_delta=1e-7)
    dom, _ = private_numeric_domain(classify("x", "INTEGER"), ArrayColumn(x), noise=noise, n_hat=float(len(x)),
                                    nbins=24, rng=rng, columns=columns)
    if columns:
        m = measure(Binned(dom.encode(x)[:, None], [dom.size]), (0,), 87.0, rng)
        dom = confirm_ends(dom, m, confirm_z(columns))[0]
    return dom


def test_empty_points_beside_a_scale_are_rarely_kept_once_confirmed() -> None:
    """Points 6-8 (in the range of powers of two, empty) kept by the zoom give values no row holds: 7 of
    200 seeds did (up to 1.7 % of the column), at most one once the 1-way marginal confirms the end bins
    (1 of seeds 0-999); a real 6 held by 400 rows (2.6 %) is still kept, at its share."""
    def past_five(dom: NumericDomain) -> float:
        return float(dom.weights[dom.edges[:-1] >= 6].sum())

    past = [[past_five(_answers(s, c)) for s in range(200)] for c in (None, 60)]
    assert sum(w > 0 for w in past[0]) >= 4 and sum(w > 0 for w in past[1]) <= 1
    shares = []
    for s in range(40):
        dom = _answers(s, 60, tail=400)
        shares.append(dom.weights[dom.edges[:-1] >= 6].sum() / dom.weights.sum())
    assert sum(w > 0 for w in shares) >= 36 and abs(np.mean(shares) - 400 / 15_400) < 0.003


# ---------------------------------------------------------------- round values inside a cell


def _amounts(seed: int = 0) -> np.ndarray:
    """Loan amounts: 78 % multiples of 1,000 (1,000-40,000, 10,000 the most common), the rest of 100."""
    rng = np.random.default_rng(seed)
    thousands = np.minimum(rng.geometric(0.08, 7800), 40) * 1000.0
    thousands[:900] = 10_000.0
    hundreds = rng.integers(10, 400, 2200) * 100.0
    hundreds[hundreds % 1000 == 0] += 100.0
    return np.concatenate([thousands, hundreds])


def test_round_values_come_back_as_often_as_the_decimals_step_found_them() -> None:
    """The lattice is 100s (95 % of the values are multiples of 100), and 78 % are multiples of 1,000: a
    cell [10,000, 10,400) holding the spike at 10,000 drew 10,000, 10,100, 10,200, 10,300 alike. Inside a
    cell, a point is now as likely as its class's share of the decimals step's counts over the class's
    points (released), so the multiples of 1,000 keep their share; without those counts, a tenth."""
    from dataclasses import replace

    from duckdb_synth.engine.decode import lattice_weights

    x = _amounts()
    for seed in range(3):
        dom, _ = private("BIGINT", x, seed, sigma=50.0, nbins=10)
        assert dom.decimals == -2 and lattice_weights(dom) is not None
        out = drawn(dom, 20_000, seed)
        # (within 0.08: the weights are the range's average, and here the multiples of 100 lie higher up)
        assert abs(np.mean(out % 1000 == 0) - 0.78) < 0.08
        assert abs(np.mean(out == 10_000.0) - np.mean(x == 10_000.0)) < 0.03
        flat = drawn(replace(dom, places=None), 20_000, seed)
        assert np.mean(flat % 1000 == 0) < 0.45


def test_a_column_even_on_its_lattice_keeps_its_points_alike() -> None:
    """Whole numbers spread evenly: the multiples of 10 hold a tenth of the values, as many per point as
    the rest, and no class stands out: every point of a cell stays equally likely."""
    from duckdb_synth.engine.decode import lattice_weights

    x = np.random.default_rng(0).integers(0, 10_000, 20_000).astype(float)
    found = [lattice_weights(private("BIGINT", x, seed, sigma=50.0)[0]) for seed in range(5)]
    assert all(w is None for w in found)


def test_the_weighted_lattice_draw_keeps_order_and_cells() -> None:
    """A larger place in the cell never gives a smaller value (the copula's order), every value is a
    lattice point of its cell, and a cell's points come out in proportion to their class weights."""
    from duckdb_synth.engine.decode import _lattice_draw

    rng = np.random.default_rng(0)
    u = np.sort(rng.random(40_000))
    lo, hi = np.full(len(u), 10_000.0), np.full(len(u), 10_400.0)
    p = _lattice_draw(lo, hi, u, 100.0, np.array([200.0, 5.0]))  # classes: 1,000s, then 100s
    assert (np.diff(p) >= 0).all() and set(np.unique(p)) == {100.0, 101.0, 102.0, 103.0}
    assert abs(np.mean(p == 100.0) - 200 / 215) < 0.01
    lo = rng.uniform(-5_000, 5_000, 5_000)
    hi = lo + rng.uniform(1, 3_000, 5_000)
    p = _lattice_draw(lo, hi, rng.random(5_000), 10.0, np.array([9.0, 3.0, 1.0]))
    inside = np.ceil(hi / 10 - 1e-9) - np.ceil(lo / 10 - 1e-9) >= 1
    assert ((p * 10 >= lo - 1e-6) & (p * 10 < hi) | ~inside).all()


def test_a_time_unit_is_taken_finer_only_where_its_rows_are_clear_of_the_noise():
    """The fuzz sweep of 50cd76f: 3,000 whole-second times (49 on whole minutes) at sigma 66 took microseconds in
    1.4 % of draws, an empty bucket's noise past the bar being more than 5 % of the rows, and every value then had
    microseconds. Now the finer unit needs its rows clear of 5 % by a sd; a tenth of the rows on milliseconds keeps
    them in most draws."""
    seconds, millis = TIME_UNITS[3], TIME_UNITS[4]
    counts = np.array([0.0, 1.0, 49.0, 2950.0, 0.0, 0.0])
    assert all(choose_unit(counts, sigma=66.0, rng=np.random.default_rng(s)) == seconds for s in range(500))
    tenth = np.array([0.0, 0.0, 0.0, 2700.0, 300.0, 0.0])
    picks = [choose_unit(tenth, sigma=66.0, rng=np.random.default_rng(s)) for s in range(500)]
    assert picks.count(millis) > 0.8 * len(picks)
