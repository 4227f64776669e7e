"""What a run does with each column: model it, fill it with a mask, or generate fresh keys.

Decided from the schema and the options alone, before any data is read: a masked
column gets random values of its kind, a declared single-column PRIMARY KEY or
UNIQUE column of a type we can fill gets fresh unique values, and every other
column is modelled. The workload is resolved to the modelled columns here, so a
bad mask or marginal is refused before anything is read or spent.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..options import Options
from . import masks
from .schema import Column, check_columns
from .workload import Workload, resolve


@dataclass(frozen=True)
class ColumnPlan:
    """The source's columns, in order, and what becomes of each."""

    columns: list[Column]
    masks: dict[str, str]  # column -> mask kind
    modelled: list[Column]  # the rest, minus generated keys
    workload: Workload | None  # over the modelled columns; None: the default


def plan(columns: list[Column], opts: Options) -> ColumnPlan:
    """Check the masks and the workload against the columns, and sort the columns by what they become.

    Raises:
        MaskError: a mask on a missing column, or of a kind the column's type cannot hold.
        SchemaError: an unmasked column of a type we cannot synthesize.
        OptionError: a marginal names a missing, masked or generated column.
    """
    mask_map = opts.mask_map
    check_columns(columns, mask_map)
    for c in columns:
        if c.name in mask_map:
            masks.check_mask(c.name, mask_map[c.name], "VARCHAR" if c.kind == "unsupported" else c.type)
    modelled = [c for c in columns if c.name not in mask_map and not is_identifier(c)]
    return ColumnPlan(columns, mask_map, modelled, resolve(opts.marginals, columns, modelled, mask_map))


def is_identifier(c: Column) -> bool:
    """A declared PRIMARY KEY / UNIQUE column of a type we can fill with fresh unique values."""
    return c.unique and (c.type.upper() in ("VARCHAR", "UUID") or (c.integer and c.kind == "numeric"))
