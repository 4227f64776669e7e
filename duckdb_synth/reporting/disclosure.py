"""Disclosure: could a synthetic row be a copy of a real one, and what did the run spend?

Exact copies (whole rows, NULL-safe, full tables), the distance to the closest real
record on a sample, next to the same for a holdout of the real table, and, when the
synthetic table is the output of a recorded run, what that run spent step by step.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine.data import table_fingerprint
from ..engine.schema import Column
from ..privacy.ledger import RunRecord
from ..privacy.spend import BALANCED_PROMISE, Spend
from .columns import Compared
from .quality import standardize, standardizer


DCR_REAL_SAMPLE = 25_000  # real rows sampled for the distances: 80% reference, 20% holdout
DCR_SYNTH_SAMPLE = 5_000
DCR_TOP = 16  # one-hot categories per column in the distance features
HOLDOUT_SHARE = 0.2


def privacy_figures(cols: list[Compared], h_real: np.ndarray, h_synth: np.ndarray, spend: Spend | None,
                    run_id: int | None, rng: np.random.Generator,
                    notes: list[str]) -> tuple[list[dict], tuple[Any, Any]]:
    """Exact copies, distances to the closest record (with the holdout's), and what the run spent."""
    n_r, n_s = len(h_real), len(h_synth)
    rows: list[dict] = []
    # Exact copies on the full tables, NULL-safe: rows compared by a 64-bit hash of their normalized values.
    copies = _share_in(h_synth, h_real)
    hold = rng.random(n_r) < HOLDOUT_SHARE
    base = _share_in(h_real[hold], h_real[~hold]) if hold.any() and (~hold).any() else None
    rows.append({"metric": "Exact copies", "value": copies, "holdout": base, "explanation": (
        f"share of the {n_s:,} synthetic rows equal to a real row (all columns, NULL equal to NULL); "
        f"NewRowSynthesis = {1 - copies:.4f}"
        + (f". Holdout: share of a random {hold.sum():,} real rows ({HOLDOUT_SHARE:.0%}) equal to one of the other "
           f"{(~hold).sum():,}, what a fresh sample of real people would score" if base is not None else ""))})

    dcr = _dcr(cols, rng)
    if dcr is not None:
        d_s, d_h, n_ref = dcr
        sampled = n_r > DCR_REAL_SAMPLE or n_s > DCR_SYNTH_SAMPLE
        sample_text = (f"on a sample of {len(d_s):,} synthetic and {len(d_h):,} holdout rows against {n_ref:,} "
                       f"reference rows of the real table" + (" (sampled)" if sampled else ""))
        if sampled:
            notes.append(f"Distance to closest record: {sample_text}.")
        rows.append({"metric": "DCR median", "value": float(np.median(d_s)), "holdout": float(np.median(d_h)),
                     "explanation": "median distance from a synthetic row to the closest real row (standardized "
                                    "numbers; a different category counts 1), next to the same for held-out real "
                                    "rows; synthetic rows no closer than held-out ones are not memorized copies; "
                                    + sample_text})
        rows.append({"metric": "DCR 5th percentile", "value": float(np.quantile(d_s, 0.05)),
                     "holdout": float(np.quantile(d_h, 0.05)),
                     "explanation": "5th percentile of the same distances: the synthetic rows nearest to real ones; "
                                    + sample_text})
        dcr_arrays = (d_s, d_h)
    else:
        dcr_arrays = (None, None)
        rows.append({"metric": "DCR median", "value": None, "holdout": None,
                     "explanation": "too few real rows to hold some out (needs 5)"})

    if cols and cols[0].holdout is not None:
        share, n_each, n_syn = _dcr_share(cols, rng)
        rows.append({"metric": "DCR share", "value": share, "holdout": 0.5, "explanation": (
            f"share of {n_syn:,} synthetic rows closer to a row of the real table than to a row of the holdout "
            f"the generator never saw ({n_each:,} rows of each, ties count half). 50% is what a fresh sample of "
            "real people scores; well above 50% means synthetic rows sit on the rows they were made from")})
    rows.extend(_spend_rows(spend, run_id))
    return rows, dcr_arrays


DCR_SHARE_SAMPLE = 10_000  # rows of the real table and of the holdout each


def _dcr_share(cols: list[Compared], rng: np.random.Generator) -> tuple[float, int, int]:
    """The DCR share (as mostlyai-qa's): synthetic rows nearer the training rows than the holdout rows.

    Equal samples of both, so a generator that never looked at individual rows scores 0.5 in
    expectation; the distance features are those of the DCR above, standardized on the training sample.
    """
    n_r, n_h, n_s = len(cols[0].real), len(cols[0].holdout), len(cols[0].synth)
    m = min(n_r, n_h, DCR_SHARE_SAMPLE)
    train_rows = np.sort(rng.choice(n_r, m, replace=False))
    hold_rows = np.sort(rng.choice(n_h, m, replace=False))
    synth_rows = np.sort(rng.choice(n_s, DCR_SYNTH_SAMPLE, replace=False)) if n_s > DCR_SYNTH_SAMPLE else np.arange(n_s)
    train = _dcr_features(cols, "real", train_rows)
    center, scale, keep = standardizer(train[0])
    train_x, hold_x, synth_x = (np.concatenate([standardize(x, center, scale, keep), o], axis=1) for x, o in
                                (train, _dcr_features(cols, "holdout", hold_rows),
                                 _dcr_features(cols, "synth", synth_rows)))
    d_train, d_hold = nearest(synth_x, train_x), nearest(synth_x, hold_x)
    share = float(np.mean(d_train < d_hold) + 0.5 * np.mean(d_train == d_hold))
    return share, m, len(synth_rows)


def _share_in(needles: np.ndarray, haystack: np.ndarray) -> float:
    """Share of `needles` found in `haystack` (np.isin, four times faster by one sort and a search)."""
    hay = np.sort(haystack)
    pos = np.minimum(np.searchsorted(hay, needles), len(hay) - 1)
    return float((hay[pos] == needles).mean())


def _dcr(cols: list[Compared], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Distances to the closest record: synthetic rows and held-out real rows, each to the other real rows."""
    n_r, n_s = len(cols[0].real), len(cols[0].synth)
    m = min(n_r, DCR_REAL_SAMPLE)
    if m < 5:
        return None
    real_rows = rng.permutation(n_r)[:m]
    n_hold = min(max(1, int(round(HOLDOUT_SHARE * m))), DCR_SYNTH_SAMPLE)
    hold_rows, ref_rows = np.sort(real_rows[:n_hold]), np.sort(real_rows[n_hold:])
    synth_rows = np.sort(rng.choice(n_s, DCR_SYNTH_SAMPLE, replace=False)) if n_s > DCR_SYNTH_SAMPLE else np.arange(n_s)
    ref = _dcr_features(cols, "real", ref_rows)
    center, scale, keep = standardizer(ref[0])
    numbers = [(standardize(x, center, scale, keep), onehot) for x, onehot in
               (ref, _dcr_features(cols, "real", hold_rows), _dcr_features(cols, "synth", synth_rows))]
    ref_x, hold_x, synth_x = (np.concatenate([z, o], axis=1) for z, o in numbers)
    return nearest(synth_x, ref_x), nearest(hold_x, ref_x), len(ref_rows)


def _dcr_features(cols: list[Compared], side: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(numbers with NaN for NULL, plus a NULL indicator; one-hot buckets scaled so a mismatch counts 1)."""
    nums, onehots = [], []
    for c in cols:
        if c.numeric:
            x = getattr(c, side)[rows]
            nums.append(np.where(np.isfinite(x), x, np.nan))
            if any(np.isnan(v).any() for v in (c.real, c.synth, c.holdout) if v is not None):
                onehots.append(np.isnan(x).astype(np.float64)[:, None])
        else:
            # Buckets beyond the top ones merge with 'other'; NULL keeps its own.
            codes = getattr(c, "codes_" + side)[rows]
            top = min(DCR_TOP, c.size - 2)
            codes = np.where(codes == c.size - 1, top + 1, np.minimum(codes, top))
            onehots.append((codes[:, None] == np.arange(top + 2)[None, :]) / math.sqrt(2.0))
    x = np.column_stack(nums) if nums else np.zeros((len(rows), 0))
    o = np.concatenate(onehots, axis=1) if onehots else np.zeros((len(rows), 0))
    return x, o


def nearest(queries: np.ndarray, ref: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row (chunked float32 BLAS).

    The nearest row minimizes |r|²/2 − q·r, one matrix product with [r, |r|²/2] against
    [q, −1]; its distance is then computed again in float64, so an equal row is at 0 exactly.
    """
    ref_aug = np.column_stack([ref, (ref ** 2).sum(axis=1) / 2.0]).astype(np.float32)
    out = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk]
        q_aug = np.column_stack([-q, np.ones(len(q))]).astype(np.float32)
        best = (q_aug @ ref_aug.T).argmin(axis=1)
        out[start:start + chunk] = np.sqrt(((q - ref[best]) ** 2).sum(axis=1))
    return out


def find_run(runs: Sequence[RunRecord], h_synth: np.ndarray, scols: list[Column]) -> RunRecord | None:
    """The recorded run whose output has exactly the synthetic table's rows, if any (the newest)."""
    names = sorted(c.name for c in scols)
    want = table_fingerprint(h_synth)
    for rec in reversed(runs):
        if rec.rows_out == want[0] and sorted(rec.columns) == names and rec.fingerprint == want:
            return rec
    return None


def _spend_rows(spend: Spend | None, run_id: int | None) -> list[dict]:
    """What the run spent: the guarantee, the totals, then one row per step (ε alone: steps compose in ρ)."""
    if spend is None:
        return [{"metric": "Privacy spent", "value": None, "holdout": None,
                 "explanation": "not from a recorded run: the synthetic table is not the output of a synthesize() run "
                                "on this connection, so what it spent is unknown here"}]
    where = f"run {run_id} (SELECT * FROM synth_runs() WHERE run_id = {run_id})" if run_id else "the run that made it"
    if not spend.private:
        head = [{"metric": "Privacy spent", "value": None, "holdout": None,
                 "explanation": f"mode balanced: {BALANCED_PROMISE}; {where}"}]
    else:
        head = [
            {"metric": "Privacy guarantee", "value": spend.epsilon, "holdout": None,
             "explanation": f"mode {spend.mode}: ({spend.epsilon:g}, {spend.delta:g})-differential privacy for "
                            f"{spend.unit_text}, accounted in zCDP (ρ budget {spend.rho_budget:.4g}); {where}"
                            + ("; SEEDED: no guarantee against whoever knows the seed" if spend.seeded else "")},
            {"metric": "Epsilon spent", "value": spend.epsilon_spent, "holdout": None,
             "explanation": f"ρ spent {spend.rho_spent:.4g} over {len(spend.steps)} steps: "
                            f"ε {spend.epsilon_spent:.4f} ≤ {spend.epsilon:g}"},
            {"metric": "Delta spent", "value": spend.delta_threshold_spent + spend.delta / 2, "holdout": None,
             "explanation": f"thresholds {spend.delta_threshold_spent:.3g} + zCDP conversion {spend.delta / 2:.3g} "
                            f"≤ {spend.delta:g}"},
        ]
    steps = [{"metric": f"Step {no}: {r['step']}", "value": r["epsilon"], "holdout": None,
              "explanation": (f"ρ {r['rho']:.4g} (ε {r['epsilon']:.4g} alone); " if r["rho"] is not None else "")
                             + (r["detail"] or "")}
             for no, r in enumerate(spend.rows(), start=1)]
    return head + steps
