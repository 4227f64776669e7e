"""What a run does with each column: model it, fill it with a mask, or generate fresh keys.

Decided from the schema and the options alone, before any data is read: a masked
column gets random values of its kind, a declared single-column PRIMARY KEY or
UNIQUE column of a type we can fill gets fresh unique values, and every other
column is modelled, with its public domain if it has one (``engine/declared.py``).
The workload is resolved to the modelled columns here, so a bad mask, marginal or
domain is refused before anything is read or spent; so is a row count that a
declared key's type cannot hold.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import OptionError
from ..options import Options
from . import masks
from .declared import declare
from .output import batch_rows
from .schema import Column, check_columns
from .workload import Workload, resolve


@dataclass(frozen=True)
class ColumnPlan:
    """The source's columns, in order, and what becomes of each."""

    columns: list[Column]
    masks: dict[str, str]  # column -> mask kind
    modelled: list[Column]  # the rest, minus generated keys
    workload: Workload | None  # over the modelled columns; None: the default
    capacity: int | None = None  # the most rows the declared integer keys' types can number (None: no limit)

    def output_rows(self, rows: int | None, n_hat: float) -> int:
        """How many rows to make: `rows` if given, else the released row count.

        A declared integer key bounds the table: a TINYINT key numbers at most 256 rows, so the
        real table has at most that many, and a noisy count above it is brought down to it
        (post-processing of the released count with a public bound).
        """
        if rows is not None:
            return rows
        out = max(int(round(n_hat)), 1)
        return min(out, self.capacity) if self.capacity is not None else out


def plan(columns: list[Column], opts: Options) -> ColumnPlan:
    """Check the masks and the workload against the columns, and sort the columns by what they become.

    Raises:
        MaskError: a mask on a missing column, or of a kind the column's type cannot hold.
        SchemaError: an unmasked column of a type we cannot synthesize.
        OptionError: a marginal names a missing, masked or generated column; a public domain (the
            user's ``domains``, or a CHECK constraint) that does not fit its column.
    """
    mask_map = opts.mask_map
    check_columns(columns, mask_map)
    for c in columns:
        if c.name in mask_map:
            masks.check_mask(c.name, mask_map[c.name], "VARCHAR" if c.kind == "unsupported" else c.type)
    columns = declare(columns, opts.domain_map, masked=mask_map,
                      generated={c.name for c in columns if c.name not in mask_map and is_identifier(c)})
    modelled = [c for c in columns if c.name not in mask_map and not is_identifier(c)]
    keys = [c for c in columns if c.name not in mask_map and is_identifier(c) and key_capacity(c) is not None]
    capacity = min((key_capacity(c) for c in keys), default=None)
    if opts.rows is not None and capacity is not None and opts.rows > capacity:
        key = min(keys, key=key_capacity)
        raise OptionError(f"rows := {opts.rows:,}: column '{key.name}' is a declared key of type {key.type}, which "
                          f"numbers at most {capacity:,} rows; ask for fewer rows, or mask the column")
    if opts.rows is not None:  # rows are made (and written) one batch at a time: one batch must fit
        batch = min(opts.rows, batch_rows(len(modelled)))
        need, have = batch * BYTES_PER_CELL * (len(columns) + 1), available_memory()
        if need > have:
            raise OptionError(f"rows := {opts.rows:,}: {len(columns)} columns of {batch:,} rows (one batch) need "
                              f"about {need / 2**30:.1f} GiB in memory and {have / 2**30:.1f} GiB are free; ask for "
                              "fewer rows or free some memory")
    return ColumnPlan(columns, mask_map, modelled, resolve(opts.marginals, columns, modelled, mask_map), capacity)


BYTES_PER_CELL = 32  # per batch: a row's codes (int64), decoded value (float64) and Arrow output, per column, with room


def available_memory() -> int:
    """Bytes of memory free for a run (MemAvailable on Linux; else the physical memory)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**62


def is_identifier(c: Column) -> bool:
    """A declared PRIMARY KEY / UNIQUE column of a type we can fill with fresh unique values."""
    return c.unique and (c.type.upper() in ("VARCHAR", "UUID") or (c.integer and c.kind == "numeric"))


def key_capacity(c: Column) -> int | None:
    """How many distinct values an integer key's type holds (None: text and UUID keys, no limit)."""
    if c.type.upper() in ("VARCHAR", "UUID") or c.type_range is None:
        return None
    return int(c.type_range[1]) - int(c.type_range[0]) + 1
