"""Print rows/s of every mask kind for 1M rows (and the one-off pool build time).

    python bench/masks_speed.py [rows]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from duckdb_synth.engine import masks  # noqa: E402

TYPES = {
    "string": "VARCHAR", "number": "BIGINT", "name": "VARCHAR", "address": "VARCHAR",
    "postcode": "VARCHAR", "phone": "VARCHAR", "ssn": "VARCHAR", "email": "VARCHAR",
    "date": "DATE", "timestamp": "TIMESTAMP", "iban": "VARCHAR",
}
EXTRA = [("string", "UUID"), ("number", "DECIMAL(12,2)"), ("number", "VARCHAR"),
         ("date", "VARCHAR"), ("timestamp", "VARCHAR")]


def main(rows: int) -> None:
    start = time.perf_counter()
    masks._pools()
    print(f"pools built once per process in {time.perf_counter() - start:.2f} s")
    rng = np.random.default_rng(0)
    for kind, duckdb_type in [*TYPES.items(), *EXTRA]:
        start = time.perf_counter()
        values = masks.generate(kind, rows, duckdb_type, rng)
        seconds = time.perf_counter() - start
        distinct = pc.count_distinct(values).as_py()
        print(f"{kind:>9} {duckdb_type:<14} {seconds:6.3f} s {rows / seconds:12,.0f} rows/s"
              f"  {distinct:>9,} distinct")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
