"""Positions within bins (engine/decode.py:within_bins): a Gaussian copula keeps the dependence of
numeric columns inside their bins, and changes nothing for columns without one."""
from __future__ import annotations

import numpy as np
import pytest

from duckdb_synth.engine.decode import _draw, decode_numeric, within_bins
from duckdb_synth.engine.domain import NumericDomain
from duckdb_synth.engine.schema import classify


def quantile_domain(name: str, x: np.ndarray, nbins: int) -> NumericDomain:
    """Exact equal-mass bins over 4 * nbins equal-mass cells, weighted by the counts."""
    edges = np.unique(np.quantile(x, np.linspace(0, 1, 4 * nbins + 1)))
    edges[-1] = np.nextafter(edges[-1], np.inf)
    counts = np.histogram(x, edges)[0].astype(float)
    cell_bin = np.minimum(np.arange(len(counts)) // 4, nbins - 1)
    return NumericDomain(classify(name, "DOUBLE"), edges, counts, cell_bin, null=False)


def test_correlated_columns_keep_their_dependence_inside_the_bins() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, 20_000)
    y = x + rng.normal(0, 0.05, 20_000)  # nearly a function of x
    z = rng.normal(0, 1, 20_000)  # independent of both
    doms = [quantile_domain(c, v, 8) for c, v in (("x", x), ("y", y), ("z", z))]
    codes = np.stack([d.encode(v) for d, v in zip(doms, (x, y, z))], axis=1)
    pos = within_bins(doms, codes, np.random.default_rng(1))
    assert set(pos) == {0, 1}  # z, correlated with neither, keeps the caller's independent uniform draws
    for p in pos.values():  # positions are uniform in the bins: the 1-way marginals are unchanged
        assert p.min() >= 0 and p.max() <= 1 and abs(p.mean() - 0.5) < 0.02
    same = codes[:, 0] == codes[:, 1]
    assert np.corrcoef(pos[0][same], pos[1][same])[0, 1] > 0.5
    # Decoded with them, the pair's correlation comes back; drawn on its own, it is blurred.
    xs, ys = (decode_numeric(d, codes[:, i], rng, pos[i]).to_numpy() for i, d in enumerate(doms[:2]))
    xi, yi = (decode_numeric(d, codes[:, i], rng).to_numpy() for i, d in enumerate(doms[:2]))
    real = np.corrcoef(x, y)[0, 1]
    assert abs(np.corrcoef(xs, ys)[0, 1] - real) < abs(np.corrcoef(xi, yi)[0, 1] - real) / 2


def test_independent_columns_are_drawn_as_before() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1, 5_000), rng.exponential(1, 5_000)
    doms = [quantile_domain(c, v, 6) for c, v in (("x", x), ("y", y))]
    codes = np.stack([d.encode(v) for d, v in zip(doms, (x, y))], axis=1)
    assert within_bins(doms, codes, rng) == {}  # no dependence between the bins: uniform draws
    assert within_bins(doms[:1], codes[:, :1], rng) == {}


@pytest.mark.parametrize("seed", range(3))
def test_positions_pick_cells_by_their_weights(seed: int) -> None:
    """The inverse CDF over a bin's cells: uniform positions give each cell its weight's share."""
    rng = np.random.default_rng(seed)
    weights = np.array([1.0, 0.0, 3.0, 6.0, 2.0, 2.0])
    dom = NumericDomain(classify("v", "INTEGER"), np.arange(7, dtype=float), weights, np.array([0, 0, 0, 0, 1, 1]),
                        null=False)
    codes = np.zeros(40_000, dtype=np.int64)
    out = _draw(dom, codes, np.zeros(len(codes), dtype=bool), rng, rng.random(len(codes)))
    share = np.bincount(out.astype(int), minlength=6)[:4] / len(out)
    np.testing.assert_allclose(share, weights[:4] / weights[:4].sum(), atol=0.01)


def test_a_pair_tied_almost_exactly_stays_tied_and_uniform_inside_each_bin() -> None:
    """y = x + 2% noise. The bins' scores understate the latent correlation (grouping loses the
    dependence inside the bins): read back without the correction, positions in the same pair of
    bins correlated 0.76. And a few Gibbs sweeps do not mix at such a correlation: positions bunched
    away from the end bins' outer ends (an eighth of bin 0 below its first quarter, not a quarter)
    until they were replaced by their ranks within the bin."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, 20_000)
    y = x + rng.normal(0, 0.02, 20_000)
    doms = [quantile_domain(c, v, 8) for c, v in (("x", x), ("y", y))]
    codes = np.stack([d.encode(v) for d, v in zip(doms, (x, y))], axis=1)
    pos = within_bins(doms, codes, np.random.default_rng(1))
    same = codes[:, 0] == codes[:, 1]
    assert np.corrcoef(pos[0][same], pos[1][same])[0, 1] > 0.88
    for col in (0, 1):
        for b in range(8):
            p = pos[col][codes[:, col] == b]
            assert abs(np.mean(p < 0.25) - 0.25) < 0.02 and abs(np.mean(p > 0.75) - 0.25) < 0.02


@pytest.mark.parametrize("decimals, edges", [(0, [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]),  # storms' hurricane category
                                             (1, [24.95, 25.05, 25.35, 26.05]),  # a latitude in tenths
                                             (-1, [-5.0, 5.0, 45.0, 95.0])])  # round tens
def test_exact_cells_decode_inside_themselves_at_either_end(decimals: int, edges: list[float]) -> None:
    # A position at the very top (or bottom) of a cell once rounded to the next cell's first
    # value: 0.5 + (1 - 2**-53) is 1.5 in floating point, and 1.5 rounds to 2.
    edges = np.array(edges)
    k = len(edges) - 1
    dom = NumericDomain(classify("v", "DOUBLE"), edges, np.full(k, 10.0), np.arange(k), null=False,
                        decimals=decimals, rare=np.array([]))
    codes = np.repeat(np.arange(k), 3)
    within = np.tile([0.0, 0.5, 1.0], k)
    x = np.array(decode_numeric(dom, codes, np.random.default_rng(0), within).to_pylist())
    assert (np.searchsorted(edges, x, side="right") - 1 == codes).all(), x
    assert np.allclose(x, np.round(x, decimals))


def test_exact_cells_decode_to_each_lattice_point_evenly() -> None:
    edges = np.array([0.5, 4.5])  # the values 1, 2, 3 and 4 in one cell
    dom = NumericDomain(classify("v", "DOUBLE"), edges, np.array([40.0]), np.array([0]), null=False,
                        decimals=0, rare=np.array([]))
    x = np.array(decode_numeric(dom, np.zeros(8000, dtype=np.int64), np.random.default_rng(1)).to_pylist())
    values, counts = np.unique(x, return_counts=True)
    assert values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert np.abs(counts - 2000).max() < 150  # about 4.5 standard deviations


@pytest.mark.parametrize("rho, copula", [(0.01, False), (0.06, True)])
def test_a_faint_correlation_on_many_rows_gets_no_copula(rho: float, copula: bool) -> None:
    """On 400k rows a latent correlation of 0.01 is far beyond sampling noise (3/sqrt(n) = 0.005) but
    under MIN_CORR: the sampler is not run for it. A weak real one (0.06) still gets it."""
    rng = np.random.default_rng(4)
    n = 400_000
    x = rng.normal(0, 1, n)
    y = rho * x + np.sqrt(1 - rho ** 2) * rng.normal(0, 1, n)
    doms = [quantile_domain(c, v, 8) for c, v in (("x", x), ("y", y))]
    codes = np.stack([d.encode(v) for d, v in zip(doms, (x, y))], axis=1)
    assert (within_bins(doms, codes, rng) != {}) is copula


@pytest.mark.parametrize("exact", [False, True])
def test_round_numbers_stay_in_their_cells(exact: bool) -> None:
    """An integer column of multiples of 50 (cars' range: 250, 300, 350, 400) with a DP lattice of
    tens, cells centred on each ten: every value decoded is the multiple of ten inside its cell.
    Rounding a draw to tens sent 345 (the start of 350's cell) to 340 a tenth of the time."""
    edges = np.arange(245.0, 415.0, 10.0)
    weights = np.zeros(len(edges) - 1)
    weights[[0, 5, 10, 15]] = [800, 2200, 1400, 200]
    dom = NumericDomain(classify("range", "BIGINT"), edges, weights, np.arange(len(weights)) // 5, null=False,
                        decimals=-1, rare=np.zeros(0) if exact else None)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, dom.nbins, 20_000)
    out = np.asarray(decode_numeric(dom, codes, rng).to_pylist())
    assert set(out) == {250, 300, 350, 400}
    np.testing.assert_array_equal(np.bincount(codes), [np.sum(out == v) for v in (250, 300, 350, 400)])


@pytest.mark.parametrize("slots,kept", [(1 << 23, 1 << 26), (64, 100)])
def test_rare_lookup_is_exact_membership(monkeypatch, slots, kept) -> None:
    """The decoder's lookup among a column's rare values (a hashed table of flags sets rows aside, the
    rest are searched) agrees with np.isin, 0.0 and -0.0 alike, with a table too small for its values
    and with tables dropped from the cache between calls."""
    from duckdb_synth.engine import decode

    monkeypatch.setattr(decode, "FLAG_SLOTS", slots)
    monkeypatch.setattr(decode, "FLAGS_KEPT", kept)
    monkeypatch.setattr(decode, "_FLAGS", {})
    rng = np.random.default_rng(5)
    sets = [np.unique(np.round(rng.normal(0, 50, k), 1)) for k in (1, 40, 3000)]
    sets.append(np.unique(np.concatenate([sets[1], [0.0, 1e300, -5e-324]])))
    for _ in range(3):  # again: tables from the cache, or rebuilt
        for values in sets:
            x = np.round(rng.normal(0, 50, 5000), 1)
            x[:4] = [-0.0, 0.0, 1e300, 5e-324]
            got = decode._in_sorted(values, x)
            assert (got == np.isin(x, values)).all()
            assert got.any() and not got.all()
    gone = np.array([1.5, 2.5])
    decode._in_sorted(gone, np.array([2.5]))
    assert id(gone) in decode._FLAGS
    del gone  # its table goes with it, at the next lookup
    decode._in_sorted(sets[0], np.array([0.5]))
    assert all(ref() is not None for ref, _, _ in decode._FLAGS.values())
    assert not decode._in_sorted(np.zeros(0), np.array([1.0])).any()
    assert decode._in_sorted(np.array([1.0]), np.zeros(0)).shape == (0,)


def test_chunk_moments_are_the_held_products_with_nulls_and_without():
    from duckdb_synth.engine.decode import _chunk_moments

    rng = np.random.default_rng(3)
    k, m = 5, 400
    held = np.ones((m, k))
    held[rng.random(m) < 0.3, 1] = 0.0  # NULLs in two columns, one column holding no row
    held[rng.random(m) < 0.1, 3] = 0.0
    held[:, 4] = 0.0
    scores = rng.normal(size=(m, k)) * held
    missing = {j: 1.0 - held[:, j] for j in range(k) if not held[:, j].all()}
    got = _chunk_moments(np.ascontiguousarray(scores.T), missing)
    want = [held.T @ held, scores.T @ held, (scores * scores).T @ held, scores.T @ scores]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    full = _chunk_moments(np.ascontiguousarray(scores[:, [0, 2]].T), {})
    np.testing.assert_allclose(full[0], np.full((2, 2), m))
    np.testing.assert_allclose(full[3], scores[:, [0, 2]].T @ scores[:, [0, 2]], rtol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_uniform_draws_pick_cells_by_their_weights_and_places_evenly(seed: int) -> None:
    """Without positions, each bin's alias table: a cell's share is its weight's (none for a cell of
    weight 0; evenly over a bin whose weights are all 0), its place in the cell uniform, and rows
    skipped or past the bins take cell 0."""
    rng = np.random.default_rng(seed)
    weights = np.array([1.0, 0.0, 3.0, 6.0, 2.0, 5.0, 0.0, 0.0, 0.0])
    dom = NumericDomain(classify("v", "DOUBLE"), np.arange(10, dtype=float), weights,
                        np.array([0, 0, 0, 0, 1, 1, 2, 2, 2]), null=True)
    n = 90_000
    codes = rng.integers(0, 4, n)  # bins 0-2 and NULL (code 3)
    skip = codes == 3
    x = _draw(dom, codes, skip, rng)
    for b, cells in ((0, [0, 1, 2, 3]), (1, [4, 5]), (2, [6, 7, 8])):
        got = np.bincount(np.floor(x[codes == b]).astype(int), minlength=9)[cells] / (codes == b).sum()
        w = weights[cells] if weights[cells].sum() > 0 else np.ones(len(cells))
        np.testing.assert_allclose(got, w / w.sum(), atol=0.012)
    assert not np.any((x[codes < 3] >= 1) & (x[codes < 3] < 2))  # the cell of weight 0
    place = x[codes < 3] % 1.0
    assert np.histogram(place, bins=4, range=(0, 1))[0].min() > 0.24 * len(place)
    assert np.all((x[skip] >= 0) & (x[skip] < 1))  # cell 0


def test_moments_of_a_score_constant_over_the_few_rows_two_columns_share_have_no_variance():
    """Two columns held on complementary halves of a large chunk and both on ten rows, each constant
    there: the variance the caller reads over the shared rows is 0 up to the shared rows' own
    rounding, not the rounding of sums over the whole chunk (which let a constant pass as varying and
    made a correlation of 0.999 out of noise)."""
    from duckdb_synth.engine.decode import _chunk_moments

    worst = 0.0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        m = 65_536
        held = np.zeros((m, 2))
        half = rng.random(m) < 0.5
        held[half, 0], held[~half, 1] = 1.0, 1.0
        shared = rng.choice(m, 10, replace=False)
        held[shared] = 1.0
        scores = (rng.normal(size=(m, 2)) * 1.5 + 0.5) * held
        scores[shared] = [1.2345, -0.777]
        mom = _chunk_moments(np.ascontiguousarray(scores.T), {j: 1.0 - held[:, j] for j in range(2)})
        both = mom[0, 0, 1]
        assert both == 10
        for j, l in ((0, 1), (1, 0)):
            mean = mom[1, j, l] / both
            worst = max(worst, abs(mom[2, j, l] / both - mean * mean) / (mom[2, j, l] / both))
    assert worst <= 1e-14


def test_uniform_draws_take_any_integer_codes():
    """Codes in a narrow unsigned type (the top bin's b + 1 must not wrap) and negative codes (no bin:
    cell 0, as a skipped row) decode as int64 codes do."""
    rng = np.random.default_rng(0)
    dom = NumericDomain(classify("v", "DOUBLE"), np.arange(257, dtype=float), np.ones(256), np.arange(256),
                        null=False)
    codes = np.array([255, 0, 17, 255], dtype=np.uint8)
    x = _draw(dom, codes, np.zeros(4, dtype=bool), rng)
    assert np.array_equal(np.floor(x), codes.astype(float))
    x = _draw(dom, np.array([-1, 3]), np.zeros(2, dtype=bool), rng)
    assert 0.0 <= x[0] < 1.0 and 3.0 <= x[1] < 4.0


def test_a_row_in_a_bin_of_no_cells_is_an_error_naming_the_column():
    """Domains may number bins no cell is in (tests build tail bins alone); a row coded into one has no
    value to draw, and says so rather than taking another bin's cell."""
    dom = NumericDomain(classify("v", "DOUBLE"), np.arange(3, dtype=float), np.ones(2), np.array([2, 2]), null=False)
    x = _draw(dom, np.array([2, 2]), np.zeros(2, dtype=bool), np.random.default_rng(0))
    assert np.all((x >= 0) & (x < 2))
    with pytest.raises(ValueError, match="'v' has rows in bin 1"):
        _draw(dom, np.array([2, 1]), np.zeros(2, dtype=bool), np.random.default_rng(0))


def test_a_bin_of_rare_values_moves_them_to_the_nearest_free_point() -> None:
    """Balanced mode: a bin whose every value is rare (each held by too few rows) has its rows moved to
    the nearest lattice point that is not, if one lies within the bin's width (first cell's left edge to
    last cell's right) or FREE_STEPS steps, else beyond it; a bin of no cells elsewhere is no obstacle."""
    edges = np.array([0.0, 10.0, 11.0, 12.0, 21.0, 31.0])  # an integer column's cells: whole edges
    weights = np.array([10.0, 5.0, 5.0, 10.0, 10.0])
    cell_bin = np.array([0, 1, 1, 3, 4])  # bin 2 holds no cell
    rare = np.array([10.0, 11.0])  # bin 1's two values: both rare
    dom = NumericDomain(classify("n", "INTEGER"), edges, weights, cell_bin, null=False, decimals=0, rare=rare)
    rng = np.random.default_rng(0)
    codes = np.full(200, 1)
    out = np.asarray(decode_numeric(dom, codes, rng).to_pylist())
    assert set(out) <= {9, 12}  # the free points next to the run 10-11, within the bin's width of 2 (3 steps)
    assert {9, 12} == set(out)  # 10 goes down, 11 up: each to its nearer free neighbour
    wide = NumericDomain(classify("n", "INTEGER"), np.array([0.0, 10.0, 11.0, 12.0, 13.0, 14.0, 31.0]),
                         np.ones(6), np.array([0, 1, 1, 1, 1, 3]), null=False, decimals=0,
                         rare=np.arange(5.0, 20.0))  # 5-19 all rare: the free points 4 and 20 are 6+ steps away
    out = np.asarray(decode_numeric(wide, np.full(200, 1), rng).to_pylist())
    # No free point within reach: a point drawn from a bin's width (4) beyond the nearest free one, away
    # from the run (until 2026-12-06 left as drawn, on values 10-13 that rows hold).
    assert set(out) <= set(range(0, 5)) | set(range(20, 25)) and len(set(out)) > 4


def test_bin_span_and_a_bin_of_no_cells() -> None:
    """`NumericDomain.bin_span`: each bin's first cell's left edge and last cell's right edge, NaN for a bin
    of no cells; the aggregate release's label for such a bin is an error naming the column, not a guess."""
    from duckdb_synth.privacy.aggregates import _bin_label

    edges = np.array([0.0, 10.0, 11.0, 12.0, 21.0, 31.0])
    dom = NumericDomain(classify("n", "INTEGER"), edges, np.ones(5), np.array([0, 1, 1, 3, 4]), null=False,
                        decimals=0)
    lo, hi = dom.bin_span
    np.testing.assert_array_equal(lo[[0, 1, 3, 4]], [0.0, 10.0, 12.0, 21.0])
    np.testing.assert_array_equal(hi[[0, 1, 3, 4]], [10.0, 12.0, 21.0, 31.0])
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    assert _bin_label(dom, 1) == "10..11"
    with pytest.raises(ValueError, match="bin 2 of 'n' holds no cell"):
        _bin_label(dom, 2)


def test_unique_ids_in_bands_come_back_in_their_bands_without_piling_up() -> None:
    """Balanced mode, a column of ids each held by one row, in two bands with a gap between (anes' `uid`):
    a rare draw stays inside a long run of rare ids (``decode.DENSE_RUN``), and is drawn again
    only in its own cell. Drawn again in its bin and then moved to the nearest id no row holds, such a
    column came back with most of its values in the gap and over a thousand rows on the one id past a
    band's end. Values held by fewer than 5 rows still never come out of a cell where most are free."""
    import collections

    import duckdb
    import duckdb_synth

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT id, id % 7 AS g, CASE WHEN id % 50 = 0 THEN 500000 + id "
                "ELSE 200000 + id % 200 END AS v FROM (SELECT unnest(range(1, 3001)) AS id UNION ALL "
                "SELECT unnest(range(9001, 12001)))")  # v: 120 values one row each, 50 apart, among 200 of 20+
    held = collections.Counter(v for (v,) in con.execute("SELECT v FROM t").fetchall())
    out = duckdb_synth.run(con, "t", seed=0).table
    ids = collections.Counter(out.column("id").to_pylist())
    assert max(ids.values()) <= 12, ids.most_common(3)  # about one a row (Poisson: 7 at most here), no pile
    in_gap = sum(n for i, n in ids.items() if 3000 < i < 9001)
    assert in_gap <= 0.02 * out.num_rows, in_gap  # the gap holds no row
    rare_v = {v for v, n in held.items() if n < 5}
    assert rare_v and not rare_v & set(out.column("v").to_pylist())


@pytest.mark.parametrize("case", ["bridged", "tail", "wide_tail", "measurement_tail"])
def test_the_long_run_exception_needs_a_column_of_rare_values_on_the_lattice(case: str) -> None:
    """The reviews of bcc6302 and 0d5f284. `bridged`: amounts on a lattice of 1,000, a tail of even
    thousands held by one row each and odd ones by none, and exact amounts (k * 1000 + 217) beside the odd
    ones; rounded onto the lattice those made one run of rare thousands across the free ones, and 43 rows
    came out on values one row held. `tail`: 2,000 counts 0-49 and a tail of 60 outliers 100-159 held by
    one row each: a run of rare points, in a column where they are few, and its end is the range's end
    (set by a row's value); `wide_tail`: 70 of them, 100-169, wider than their bins, so that no free value
    lay within a bin's width of some (7-16 rows a seed came out until 2026-12-06, when such a value stayed
    as drawn). `measurement_tail`: 70 such outliers beside 19,930 incomes in whole dollars,
    most of whose rows hold values 1-4 rows hold (a share of rows on rare values let the run's values
    out, 39-49 rows a seed; the share of rows in long runs is 0.35 %)."""
    import collections

    import duckdb
    import duckdb_synth

    if case == "bridged":
        sql = ("SELECT CAST(1000 * (1 + hash(i) % 40) AS INTEGER) AS v FROM range(4000) r(i) "
               "UNION ALL SELECT CAST(1000 * k AS INTEGER) FROM range(42, 121, 2) r(k) "
               "UNION ALL SELECT CAST(1000 * k + 217 AS INTEGER) FROM range(41, 121, 2) r(k)")
    elif case in ("tail", "wide_tail"):
        sql = ("SELECT CAST(hash(i) % 50 AS INTEGER) AS v FROM range(2000) r(i) "
               f"UNION ALL SELECT CAST(100 + i AS INTEGER) FROM range({60 if case == 'tail' else 70}) r(i)")
    else:
        incomes = np.round(45000 + 3600 * np.random.default_rng(0).standard_normal(19930)).astype(np.int32)
        sql = "SELECT v FROM incomes UNION ALL SELECT CAST(80000 + i AS INTEGER) FROM range(70) r(i)"
    con = duckdb.connect()
    if case == "measurement_tail":
        con.execute("CREATE TABLE incomes AS SELECT unnest(?) AS v", [incomes.tolist()])
    con.execute(f"CREATE TABLE t AS SELECT v, row_number() OVER () % 3 AS g FROM ({sql})")
    held = collections.Counter(v for (v,) in con.execute("SELECT v FROM t").fetchall())
    rare = {v for v, n in held.items() if n < 5}
    for seed in range(2 if case == "measurement_tail" else 3):
        out = duckdb_synth.run(con, "t", seed=seed).table.column("v").to_pylist()
        leaked = [v for v in out if v in rare]
        assert not leaked, (seed, len(leaked), sorted(set(leaked))[:5])


@pytest.mark.parametrize("case", ["float", "integer_top", "date_top", "declared_top", "float_past_2_24", "all_rare"])
def test_a_rare_value_moved_past_its_bin_lands_on_no_rare_value_and_inside_the_range(case: str) -> None:
    """The review of the move past a bin's width (a point drawn from a bin's width beyond the nearest free
    one): FLOAT draws rounded to 0.1 were compared as doubles, so 9.3 passed for free where the rare value
    is the FLOAT 9.300000190734863 (1-3 rows a seed out); an integer's or a date's top edge is max + 1,
    and a move up landed on it (one row a seed past the maximum). Its second review, older leaks: with a
    declared range ending at a rare maximum, a move to max + 1 was clamped back onto it (34-38 rows a
    seed); FLOATs past 2^24 on a lattice of whole numbers, a free point cast back onto a rare FLOAT (every
    moved row, 67 a seed). Its third review: keeping free points under the top edge left a column whose
    every point in range is rare (0-16 and 20-23, one row each, the rest NULL) on them (21 of 21 rows),
    where max + 1 had been free; and the FLOATs' walk piled every moved row on one FLOAT (now the spread
    past a bin's width applies to its result)."""
    import collections

    import duckdb
    import duckdb_synth

    body = "CASE WHEN i < 2000 THEN -99 + CAST(hash(i) % 3 AS INTEGER) ELSE CAST(i - 2170 AS INTEGER) END"
    sql = {"float": "SELECT CAST(CASE WHEN i < 2000 THEN CAST(hash(i) % 50 AS DOUBLE) / 10 WHEN i < 2070 THEN "
                    "CAST(i - 1900 AS DOUBLE) / 10 ELSE CAST(97 - 2 * (i - 2070) AS DOUBLE) / 10 END AS FLOAT) AS v "
                    "FROM range(2094) r(i)",  # rare: a tail 10.0-16.9 and 9.7, 9.5, ..., 5.1 among the counts
           "integer_top": f"SELECT {body} AS v FROM range(2070) r(i)",  # rare: -170..-101 below -99..-97
           "date_top": f"SELECT DATE '2020-06-01' + {body} AS v FROM range(2070) r(i)",
           "declared_top": "SELECT CAST(hash(i) % 50 AS INTEGER) AS v FROM range(2000) r(i) "
                           "UNION ALL SELECT CAST(100 + i AS INTEGER) FROM range(70) r(i)",
           "float_past_2_24": "SELECT CAST(hash(i) % 50 + 30000000 AS FLOAT) AS v FROM range(2000) r(i) "
                              "UNION ALL SELECT CAST(30000100 + i AS FLOAT) FROM range(70) r(i)",
           "all_rare": "SELECT CAST(CASE WHEN i < 17 THEN i WHEN i < 21 THEN i + 3 END AS INTEGER) AS v "
                       "FROM range(500) r(i)"}[case]
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT v, row_number() OVER () % 3 AS g FROM ({sql})")
    held = collections.Counter(v for (v,) in con.execute("SELECT v FROM t WHERE v IS NOT NULL").fetchall())
    rare = {v for v, n in held.items() if n < 5}
    declared = {"domains": {"v": [0, 169]}} if case == "declared_top" else {}
    for seed in range(2):
        out = duckdb_synth.run(con, "t", seed=seed, **declared).table.column("v").to_pylist()
        out = [v for v in out if v is not None]
        assert not [v for v in out if v in rare], seed
        assert min(held) <= min(out) and max(out) <= max(held), seed


def test_a_float_column_whose_rare_values_are_all_off_the_lattice_decodes() -> None:
    """The third review of the rare-value change: FLOAT prices ending in .99, read as doubles, sit about 1e-5
    lattice steps off the 0.01 lattice, so no rare value is on it; the long-run check then indexed an empty
    table of runs and the run raised IndexError whenever a draw hit a rare price."""
    import collections

    import duckdb
    import duckdb_synth

    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT CAST(100 + hash(i) % 10000 + 0.99 AS FLOAT) AS v FROM range(6000) r(i)")
    held = collections.Counter(v for (v,) in con.execute("SELECT v FROM t").fetchall())
    for seed in range(2):
        out = duckdb_synth.run(con, "t", seed=seed).table.column("v").to_pylist()
        assert len(out) == 6000 and not [v for v in out if 0 < held.get(v, 0) < 5], seed


@pytest.mark.parametrize("typ", ["FLOAT", "DOUBLE"])
def test_rare_values_of_a_continuous_column_in_a_cell_of_few_floats_stay_in(typ: str) -> None:
    """The third review of stop 55 saw it and left it: a column with no lattice had its rare draws drawn again
    only, and a cell of a few floats, each a row's, drew them again and again: 80 consecutive FLOATs above
    1.0, one row each, beside 2,000 continuous values, let 65 rows a seed out. Still rare after the redraws,
    a value moves to the nearest float of the column's precision that no rare value is."""
    import collections

    import duckdb
    import duckdb_synth

    dt = np.float32 if typ == "FLOAT" else np.float64
    ulps = [dt(1.0)]
    for _ in range(80):
        ulps.append(np.nextafter(ulps[-1], dt(2.0)))
    values = np.concatenate([np.random.default_rng(0).normal(5, 1, 2000).astype(dt), np.array(ulps[1:], dtype=dt)])
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT unnest(?::{typ}[]) AS v", [values.tolist()])
    held = collections.Counter(v for (v,) in con.execute("SELECT v FROM t").fetchall())
    for seed in range(2):
        out = duckdb_synth.run(con, "t", seed=seed).table.column("v").to_pylist()
        assert len(out) == len(values)
        leaked = [v for v in out if 0 < held.get(v, 0) < 5]
        assert not leaked, (seed, len(leaked))
        assert sum(0.99 <= v < 1.01 for v in out) >= 40, seed  # the tail's rows stay where it is
        # and do not pile on one free float beside it (all 66 did on 1.0, the review of b8b52f0)
        assert max(collections.Counter(v for v in out if 0.99 <= v < 1.01).values()) <= 10, seed


@pytest.mark.parametrize("typ,base,gap", [("TIMESTAMP_S", "1600-06-01", None), ("TIMESTAMP_MS", "1600-06-01", None),
                                          ("DOUBLE", "1e17", 16), ("DOUBLE", "1e16", 2), ("DOUBLE", "1e15", 0.2),
                                          ("FLOAT", "1e20", 1e13), ("DECIMAL(18,1)", "3e14", 0.1)])
def test_a_tail_of_rare_values_past_2_53_stays_in(typ: str, base: str, gap) -> None:
    """The review of 256b400: 2,000 rows on 50 values and a tail of 70 values one row each. A TIMESTAMP_S of 1600
    (microseconds past 2^53) was taken for floats several values share, and a rare one moved to the float 2
    microseconds away, written back as itself: 196 rows out in 3 seeds. A DOUBLE lattice finer than its floats
    (whole numbers, 1e17 + 16 k) had x + 1 as the free point, x again as a float: 198 rows. The review of 9145d7b:
    on a lattice of 0.1 past 2^52 steps (1e15 + 0.2 k) every free float was refused as a rare lattice point (104
    rows), and FLOATs whose free point was x again were never moved on (1e20 + 1e13 k: 34 rows). The review of
    25590cd: tenths of a DECIMAL(18,1) near 3e14 read as lattice points off by one (x / 0.1 in doubles), so a run
    of rare ones had gaps that looked free: 195 rows."""
    import collections

    import duckdb
    import duckdb_synth

    con = duckdb.connect()
    if gap is None:
        value = f"CAST(TIMESTAMP '{base}' + to_days(k::INTEGER) AS {typ})"
    else:
        value = f"CAST({base}::DOUBLE + {gap} * k AS {typ})"
    con.execute(f"CREATE TABLE t AS SELECT {value.replace('k', '(i % 50)')} AS v FROM range(2000) r(i) "
                f"UNION ALL SELECT {value.replace('k', '(100 + i)')} FROM range(70) r(i)")
    held = collections.Counter(v for (v,) in con.execute("SELECT CAST(v AS VARCHAR) FROM t").fetchall())
    for seed in range(2):
        con.register("o", duckdb_synth.run(con, "t", seed=seed).table)
        out = [v for (v,) in con.execute(f"SELECT CAST(CAST(v AS {typ}) AS VARCHAR) FROM o").fetchall()]
        leaked = [v for v in out if 0 < held.get(v, 0) < 5]
        assert not leaked, (seed, len(leaked), leaked[:3])
        assert sum(held.get(v, 0) >= 5 for v in out) >= 1500, seed  # the 50 values come back as themselves
