"""What the SQL report functions keep: a report's input fingerprint, and its four tables as Parquet."""
from __future__ import annotations

from pathlib import Path

import duckdb

from ..engine.data import content_stamp
from ..errors import SourceError
from .build import Report
from .columns import first_line, label, resolve

PARTS = ("summary", "columns", "pairs", "privacy")


def fingerprint(reader: duckdb.DuckDBPyConnection, real: str, synth: str, *, in_sql: bool = False,
                holdout: str | None = None) -> tuple:
    """What identifies a report's input: the tables' columns, row counts and a sum of row hashes.

    The SQL functions memoize reports by their arguments and this, so DuckDB binding a query
    several times computes one report, and a table changed since is reported afresh.
    """
    out = []
    for text, role in ((real, "real"), (synth, "synthetic"), (holdout, "holdout")):
        if text is None:
            continue
        src = resolve(reader, text, role, in_sql=in_sql)
        try:
            out.append(content_stamp(reader, src.sql))
        except duckdb.Error as e:
            raise SourceError(f"cannot read the {role} table {label(src)}: {first_line(e)}") from None
    return tuple(out)


def write_tables(rep: Report, stem: Path) -> dict[str, str]:
    """Write the four tables as Parquet files named `stem`_<part>.parquet; part -> path."""
    import pyarrow.parquet as pq

    paths = {}
    for part in PARTS:
        path = stem.with_name(f"{stem.name}_{part}.parquet")
        pq.write_table(getattr(rep, part), path)
        paths[part] = str(path)
    return paths
