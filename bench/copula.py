"""How well the synthetic rows keep the dependence between numeric columns inside bins.

``fidelity.py`` bins every column (16 bins) and compares marginals of those bins, so it does not
see where a value falls inside its bin: a copy whose carat and price were placed in their bins
independently scores as well as one where they rise together. This measure looks inside: for each
pair of numeric columns whose rank correlation in the real table is over 0.5, both columns are cut
at the real table's 8-quantiles, and in each cell of that grid holding at least 50 real and 50
synthetic rows the rank correlation of the pair is computed on each side; the score is the
row-weighted mean of |real - synthetic| over the cells, then the mean over the pairs (lower is
better; no pair: no score). It is what judged the copula's Gibbs sweeps (``engine/decode.py``,
README).

    python bench/copula.py [--mode strict|strictest|balanced] [--epsilon 3] [--seeds 0,1,2]
                           [--tables diamonds,weather] [--root CHECKOUT] [--data DIR]

``--root`` imports ``duckdb_synth`` from another checkout, to put old and new code side by side.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "bench" / "data"
MIN_RANK_CORR, QUANTILES, MIN_CELL_ROWS = 0.5, 8, 50


def numeric_columns(table) -> dict[str, np.ndarray]:
    """The table's numeric columns as float arrays (NULL as NaN)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_decimal(col.type):
            out[name] = np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    return out


def rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (NaN for fewer than 3 rows or a constant side)."""
    from scipy.stats import rankdata

    if len(x) < 3:
        return float("nan")
    a, b = rankdata(x), rankdata(y)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def within_bins_error(real: dict[str, np.ndarray], synth: dict[str, np.ndarray]) -> tuple[float, int]:
    """(the score described above, the pairs it averages over)."""
    cols = [c for c in real if c in synth]
    errors = []
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            x, y = real[a], real[b]
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.sum() < 1000 or not abs(rank_corr(x[ok], y[ok])) > MIN_RANK_CORR:
                continue
            x, y = x[ok], y[ok]
            xs, ys = synth[a], synth[b]
            oks = np.isfinite(xs) & np.isfinite(ys)
            xs, ys = xs[oks], ys[oks]
            cuts = [np.unique(np.quantile(v, np.linspace(0, 1, QUANTILES + 1))) for v in (x, y)]
            bx, by = (np.searchsorted(c, v, "right") for c, v in zip(cuts, (x, y)))
            sx, sy = (np.searchsorted(c, v, "right") for c, v in zip(cuts, (xs, ys)))
            weight = total = 0.0
            for cx in np.unique(bx):
                for cy in np.unique(by[bx == cx]):
                    here, there = (bx == cx) & (by == cy), (sx == cx) & (sy == cy)
                    if here.sum() < MIN_CELL_ROWS or there.sum() < MIN_CELL_ROWS:
                        continue
                    r, s = rank_corr(x[here], y[here]), rank_corr(xs[there], ys[there])
                    if np.isnan(r) or np.isnan(s):
                        continue
                    total += here.sum() * abs(r - s)
                    weight += here.sum()
            if weight:
                errors.append(total / weight)
    return (float(np.mean(errors)) if errors else float("nan")), len(errors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", default="strict", choices=["strict", "strictest", "balanced"])
    ap.add_argument("--epsilon", type=float, default=None, help="instead of the mode's own")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tables", default=None, help="comma-separated names in --data (default: every table)")
    ap.add_argument("--root", default=str(ROOT), help="the checkout to import duckdb_synth from")
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()
    sys.path.insert(0, args.root)
    import warnings

    import duckdb

    import duckdb_synth

    warnings.simplefilter("ignore")  # seeded runs warn that a seed voids the guarantee
    names = args.tables.split(",") if args.tables else sorted(p.stem for p in Path(args.data).glob("*.parquet"))
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{'table':12} {'seeds':>6} {'score':>7} {'pairs':>5} {'cpu s':>6}")
    for name in names:
        con = duckdb.connect()
        con.execute(f"CREATE TABLE src AS SELECT * FROM read_parquet('{Path(args.data) / (name + '.parquet')}')")
        arrow = con.sql("SELECT * FROM src").arrow()
        real = numeric_columns(arrow.read_all() if hasattr(arrow, "read_all") else arrow)
        scores, pairs, cpu = [], 0, 0.0
        for seed in seeds:
            kw = {"epsilon": args.epsilon} if args.epsilon is not None else {"mode": args.mode}
            start = time.process_time()
            synth = duckdb_synth.run(con, "src", seed=seed, ledger=False, **kw).table
            cpu += time.process_time() - start
            score, pairs = within_bins_error(real, numeric_columns(synth))
            scores.append(score)
        shown = f"{np.mean(scores):7.4f}" if pairs else f"{'-':>7}"
        print(f"{name:12} {len(seeds):>6} {shown} {pairs:>5} {cpu / len(seeds):6.1f}", flush=True)


if __name__ == "__main__":
    main()
