#!/usr/bin/env python3
"""Fit smartnoise-synth 1.0.8's MST (or AIM) on a table, the way a user would, and write the rows.

Runs inside the reference virtualenv made by ``bench/setup_reference.sh``, never in the
project's own environment (smartnoise-synth is not a dependency of duckdb_synth):

    ~/.cache/duckdb-synth-bench/ref/bin/python bench/reference_mst.py IN.parquet OUT.parquet \
        --epsilon 1.0 [--synth mst|aim] [--seed 0] [--preprocessor-fraction 0.3333] [--delta D]
        [--column-kinds infer|dtype] [--rows N]

What a user does, and so what this does:

* reads the table with pandas;
* declares each column categorical, ordinal or continuous as smartnoise's own type
  inference does (``TypeMap.infer_column_types``, the rule ``fit_sample`` applies when given
  no hints: strings/booleans categorical, integers with < 150 distinct values spanning
  < 150 ordinal, other numbers continuous), or with ``--column-kinds dtype`` every numeric
  column continuous; sets ``nullable=True`` when any value is NULL. (The inference reads
  the first 1000 real rows outside the privacy budget, as smartnoise itself does.)
* ``Synthesizer.create(synth, epsilon=EPS)``, then ``fit_sample(df, preprocessor_eps=...,
  categorical_columns=..., ordinal_columns=..., continuous_columns=..., nullable=...)``.

Continuous columns are cut by smartnoise's ``BinTransformer`` into 10 equal-width bins
between DP-estimated bounds (``approx_bounds``), which costs privacy budget: the
``preprocessor_eps`` is taken out of the total epsilon. Following smartnoise's MST page
(``Synthesizer.create("mst", epsilon=3.0)`` then ``fit(pums, preprocessor_eps=1.0)``) the
default gives the preprocessor one third of the total (``--preprocessor-fraction``); it is
spent only when the table has a continuous column. ``delta`` is smartnoise's default
(1e-9) unless ``--delta`` is given.

``--seed`` seeds numpy's and Python's global generators (structure selection and sampling);
smartnoise draws its measurement noise through OpenDP from the OS, so runs with the same
seed still differ.

Writes OUT.parquet with the real column names (and the real column order; integer columns
rounded back to integers), then prints one JSON line ``{..., "seconds": ...}`` and, last,
``seconds=...`` (read, fit, sample and write, without interpreter start-up).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import warnings


def _kinds_by_dtype(df) -> dict[str, str]:
    """numeric -> continuous; everything else (strings, booleans) -> categorical."""
    import pandas as pd

    kinds: dict[str, str] = {}
    for name in df.columns:
        dtype = df[name].dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            kinds[name] = "continuous"
        else:
            kinds[name] = "categorical"
    return kinds


def column_kinds(df, how: str) -> tuple[list[str], list[str], list[str]]:
    """(categorical, ordinal, continuous) column names.

    how="infer": smartnoise's own inference (``TypeMap.infer_column_types``, what
    ``fit_sample`` does when given no hints; it looks at the first 1000 rows): strings and
    booleans categorical, integers with < 150 distinct values spanning < 150 ordinal, other
    numbers continuous. Columns it leaves unclassified fall back to the dtype rule.
    how="dtype": every numeric column continuous, everything else categorical.
    """
    kinds = _kinds_by_dtype(df)
    if how == "infer":
        from snsynth.transform.type_map import TypeMap

        inferred = TypeMap.infer_column_types(df)
        for kind in ("categorical", "ordinal", "continuous"):
            for name in inferred.get(f"{kind}_columns", []):
                kinds[name] = kind
    elif how != "dtype":
        raise ValueError(f"unknown column-kinds rule {how!r}")
    lists: dict[str, list[str]] = {"categorical": [], "ordinal": [], "continuous": []}
    for name in df.columns:
        lists[kinds[name]].append(name)
    return lists["categorical"], lists["ordinal"], lists["continuous"]


def _read(path: str):
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    # Arrow strings -> Python objects with None for NULL (smartnoise's LabelTransformer wants
    # hashable Python values); numeric NULLs become NaN.
    df = table.to_pandas()
    for name in df.columns:
        if df[name].dtype == object:
            df[name] = df[name].where(df[name].notna(), None)
    return df


def _write(df, columns: list[str], dtypes, path: str) -> None:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(df, pd.DataFrame):
        df = pd.DataFrame(list(df), columns=columns)
    df = df[columns].copy()
    for name in columns:
        target = dtypes[name]
        if pd.api.types.is_integer_dtype(target):
            # bin midpoints back to the column's integer type; NULL stays NULL
            vals = pd.to_numeric(df[name], errors="coerce")
            df[name] = np.round(vals).astype("Int64")
        elif pd.api.types.is_float_dtype(target):
            df[name] = pd.to_numeric(df[name], errors="coerce").astype("float64")
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="real table (Parquet)")
    ap.add_argument("output", help="where to write the synthetic table (Parquet)")
    ap.add_argument("--epsilon", type=float, default=1.0, help="total epsilon (default 1.0)")
    ap.add_argument("--delta", type=float, default=None,
                    help="delta (default: smartnoise's own default, 1e-9)")
    ap.add_argument("--synth", choices=["mst", "aim"], default="mst")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preprocessor-fraction", type=float, default=1.0 / 3.0,
                    help="share of epsilon for continuous-column bounds (default 1/3, "
                         "as smartnoise's MST docs: epsilon=3, preprocessor_eps=1)")
    ap.add_argument("--column-kinds", choices=["infer", "dtype"], default="infer",
                    help="how columns are declared: 'infer' (default) = smartnoise's own type "
                         "inference, passed as categorical/ordinal/continuous hints; 'dtype' = "
                         "every numeric column continuous")
    ap.add_argument("--rows", type=int, default=None,
                    help="rows to sample (default: as many as the real table, as fit_sample does)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    import numpy as np

    random.seed(args.seed)
    np.random.seed(args.seed)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

    from snsynth import Synthesizer

    t0 = time.perf_counter()
    df = _read(args.input)
    columns = list(df.columns)
    dtypes = df.dtypes.to_dict()
    categorical, ordinal, continuous = column_kinds(df, args.column_kinds)
    nullable = bool(df.isna().any().any())
    preprocessor_eps = args.epsilon * args.preprocessor_fraction if continuous else 0.0

    kwargs: dict[str, object] = {"verbose": args.verbose}
    if args.delta is not None:
        kwargs["delta"] = args.delta
    synth = Synthesizer.create(args.synth, epsilon=args.epsilon, **kwargs)
    t_fit = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # fit_sample is fit followed by sample(len(df)); one call path serves both cases.
        synth.fit(
            df,
            preprocessor_eps=preprocessor_eps,
            categorical_columns=categorical,
            ordinal_columns=ordinal,
            continuous_columns=continuous,
            nullable=nullable,
        )
        out = synth.sample(args.rows if args.rows is not None else len(df))
    fit_seconds = time.perf_counter() - t_fit
    _write(out, columns, dtypes, args.output)
    seconds = time.perf_counter() - t0

    info = {
        "synth": args.synth,
        "epsilon": args.epsilon,
        "delta": getattr(synth, "delta", None),
        "preprocessor_eps": preprocessor_eps,
        "categorical_columns": categorical,
        "ordinal_columns": ordinal,
        "continuous_columns": continuous,
        "nullable": nullable,
        "rows_in": int(len(df)),
        "rows_out": int(len(out)),
        "fit_seconds": round(fit_seconds, 3),
        "seconds": round(seconds, 3),
    }
    print(json.dumps(info))
    print(f"seconds={seconds:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
