"""Both tables of a report, read alike: each column normalized (numbers and times as
DOUBLE, everything else as VARCHAR) with a hash of each row, in one pass through DuckDB.

A synthetic table must have the real table's columns (types may differ within a
family); ``match_columns`` names every column at fault otherwise.
"""
from __future__ import annotations

import math

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..engine.schema import Column, compare_kind as kind_of, compare_sql as norm_sql, far_when
from ..engine.source import Source, check_source, parse_source
from ..errors import SchemaError, SourceError, did_you_mean

NUMERIC_KINDS = ("numerical", "datetime", "time")


@dataclass
class Compared:
    """One column compared: its kind and both sides' normalized values."""

    name: str
    type: str
    synth_type: str
    kind: str  # 'numerical', 'datetime', 'time', 'categorical' or 'boolean'
    real: Any  # float64 ndarray (NaN for NULL) or pyarrow string array
    synth: Any
    codes_real: np.ndarray | None = None  # marginal buckets (fidelity.py's discretization)
    codes_synth: np.ndarray | None = None
    size: int = 0
    holdout: Any = None  # real rows the generator never saw (report(..., holdout=...)), normalized as `real`
    codes_holdout: np.ndarray | None = None
    labels: list[str] = field(default_factory=list)  # categories: bucket labels, most frequent first

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


def resolve(reader: duckdb.DuckDBPyConnection, text: str, role: str, *, in_sql: bool) -> Source:
    try:
        src = parse_source(text)
        check_source(reader, src, in_sql=False)
    except SourceError as e:
        hint = ""
        if in_sql and str(e).startswith("no table or view"):
            hint = (". The report functions in SQL read through a second connection, which cannot see TEMP tables "
                    "or tables created in a transaction that is not committed yet: commit, use a regular table, "
                    "or call duckdb_synth.report(con, real, synth) from Python")
        raise SourceError(f"the {role} table: {e}{hint}") from None
    return src


def first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def match_columns(real: Sequence[Column], synth: Sequence[Column], real_label: str = "real",
                  synth_label: str = "synthetic", role: str = "synthetic") -> None:
    """Refuse a synthetic table whose columns are not the real table's, naming every column at fault.

    Types may differ within a family (any numbers; DATE/TIMESTAMP; text, UUID and ENUM), as a
    trip through Parquet changes some (ENUM to VARCHAR, HUGEINT to DECIMAL(38,0)).
    """
    synth_by = {c.name: c for c in synth}
    real_names = [c.name for c in real]
    missing = [c.name for c in real if c.name not in synth_by]
    extra = [c.name for c in synth if c.name not in real_names]
    clash = [(c, synth_by[c.name]) for c in real if c.name in synth_by and kind_of(c) != kind_of(synth_by[c.name])]
    if not (missing or extra or clash):
        return
    parts = []
    if missing:
        hints = "".join(did_you_mean(m, extra) for m in missing[:1])
        parts.append(f"missing column{'s' if len(missing) > 1 else ''} {quoted_names(missing)}{hints}")
    if extra:
        parts.append(f"extra column{'s' if len(extra) > 1 else ''} {quoted_names(extra)}")
    if clash:
        parts.append("other types: " + ", ".join(
            f"'{r.name}' is {r.type} in the real table but {s.type} in the {role} one" for r, s in clash))
    raise SchemaError(f"the {role} table {synth_label} does not match the real table {real_label}: "
                      + "; ".join(parts) + (". Compare a synthetic table made from this real table" if role == "synthetic"
                                            else ". Hold out rows of the same table") +
                      ", or select the same columns from both (a query is a valid source)")


def quoted_names(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def fetch(reader: duckdb.DuckDBPyConnection, src: Source, cols: Sequence[Column], role: str) -> pa.Table:
    """Every column normalized (named c0, c1, ...) and a hash of the normalized row (``h``)."""
    exprs = [norm_sql(c) for c in cols]
    select = ", ".join(f"{e} AS c{i}" for i, e in enumerate(exprs))
    try:
        return reader.sql(f"SELECT {select}, hash({', '.join(exprs)}) AS h FROM ({src.sql}) AS __src").to_arrow_table()
    except duckdb.Error as e:
        raise SourceError(f"cannot read the {role} table {label(src)}: {first_line(e)}") from None


def normalized(arr: pa.ChunkedArray, kind: str) -> Any:
    arr = arr.combine_chunks()
    if kind in NUMERIC_KINDS:
        if arr.null_count:  # NULL as NaN first: Arrow's own conversion of a nullable array is 5x slower
            arr = pc.fill_null(arr, np.nan)
        return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    return arr if arr.type == pa.string() else arr.cast(pa.string())


def label(src: Source) -> str:
    return repr(src.text) if src.kind != "query" else "(a query)"


def shown(x: float, kind: str, type_: str = "") -> str:
    """One min or max as the column shows it: a date, a timestamp, a time of day, or a number."""
    if kind == "datetime":
        import datetime as dt

        if not math.isfinite(x):
            return "infinity" if x > 0 else "-infinity"
        day = type_.upper() == "DATE" or (x % 86400 == 0 and "TIME" not in type_.upper())
        zone = "+00" if "TIME ZONE" in type_.upper() or "TZ" in type_.upper() else ""
        try:
            when = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=x)
        except OverflowError:  # BC, or past the year 9999 (DuckDB's types hold them, Python's do not)
            return far_when(x, day, whole=not x % 1) + ("" if day else zone)
        if day:
            return when.strftime("%Y-%m-%d")
        text = when.isoformat(sep=" ", timespec="microseconds" if x % 1 else "seconds")
        return text + zone
    if kind == "time":
        whole = int(x)
        text = f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
        return text + (f"{x % 1:.6f}"[1:] if x % 1 else "")
    return f"{x:.10g}"
