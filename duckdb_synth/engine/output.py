"""A run's synthetic rows, made from the fitted model in batches, so that memory grows with the model
and one batch, not with the rows asked for.

``Output`` holds what the rows are made from (the model, the domains, the masks) and the state of
the random stream they are drawn with, never the rows themselves (but the first batch, when it
is all of them). Each pass over it (``batches``, ``reader``, ``table``) starts the stream from the
same state, so every pass yields the same rows. A batch is sampled (controlled rounding within
the batch: each cell's count is within one row of its expectation per batch), decoded and cast
on its own, from a stream of its own (``batch(i)``: the run's stream for batch 0, so an output of
one batch is made exactly as before batching; for the others a stream spawned from its state and
i), so any batch can be made alone, in any order or process (Spark's executors do); declared keys
are numbered across batches, so they stay unique.

Post-processing of the fitted model: no privacy cost, whatever the batch size.
"""
from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from .data import output_fingerprint
from .decode import decode_table, output_types
from .domain import Domain, RareValues
from .sample import draw
from .rules import Keeper, code_rules, dependency_maps, keep_codes
from .schema import Column
from .sums import SumTarget, meet_sums
from .units import UnitIds

BATCH_CELLS = 1 << 23  # codes per batch (rows x modelled columns): 64 MB of int64 codes
MIN_BATCH_ROWS = 1 << 16  # so that the copula and the rounding see enough rows of each batch
MAX_BATCH_ROWS = 1 << 20
PILOT_ROWS = 100_000  # rows drawn once from the model to choose each dependency's values


@dataclass
class Stamp:
    """The fingerprint of an output's rows (``data.table_fingerprint``), set once a pass has made them
    all; a ledger keeps this, not the output (which holds the model)."""

    value: tuple[int, int] | None = None


def parquet_types(types: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(column, type) as a Parquet file holds them: 128-bit integers as DECIMAL(38,0), exact (DuckDB
    would write DOUBLE; Arrow and Spark hold the decimal)."""
    return [(c, "DECIMAL(38,0)" if t.upper() in ("HUGEINT", "UHUGEINT") else t) for c, t in types]


def batch_rows(modelled: int) -> int:
    """Rows per batch for a model of `modelled` columns."""
    return int(min(MAX_BATCH_ROWS, max(MIN_BATCH_ROWS, BATCH_CELLS // max(modelled, 1))))


class Output:
    """The synthetic rows of a run, made on demand in batches (see the module's docstring).

    Args:
        columns: every output column, in order.
        domains: the modelled columns' domains (the model's columns, in order).
        model: the fitted model (None: no modelled column).
        masks: column -> mask kind.
        rows: how many rows to make.
        rng: the stream the rows are drawn from; its current state is kept (it is not advanced).
        rows_per_batch: default ``batch_rows(len(domains))``.
        units: the privacy unit's column's fresh ids (``engine/units.py``), numbered across batches.
        sums: released group totals each batch meets, in proportion to its rows (``engine/sums.py``).
        rules: rules every row keeps (``engine/rules.py``).
        derived_rare: balanced mode, per column a rule derives: the values 1-4 source rows hold
            (``data.Rows.rare_values``), which no row takes (``decode._rules_off_rare``).
    """

    def __init__(self, columns: Sequence[Column], domains: Sequence[Domain], model, masks: dict[str, str],
                 rows: int, rng: np.random.Generator, rows_per_batch: int | None = None,
                 units: UnitIds | None = None, sums: Sequence[SumTarget] = (), rules: Sequence = (),
                 derived_rare: dict[str, RareValues] | None = None) -> None:
        self.columns = list(columns)
        self.domains = list(domains)
        self.model = model
        self.masks = dict(masks)
        self.num_rows = int(rows)
        self.rows_per_batch = int(rows_per_batch or batch_rows(len(self.domains)))
        self._bits = type(rng.bit_generator)
        self._state = copy.deepcopy(rng.bit_generator.state)
        self.units = units
        self.sums = tuple(sums)
        self.rules = tuple(rules)
        self._code_rules = code_rules(self.rules)
        self.derived_rare = dict(derived_rare or {})
        self._maps: dict | None = None
        self._first: pa.Table | None = None  # the one batch, kept when it is all the rows
        self.stamp = Stamp()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def batched(self) -> bool:
        """Whether the rows take more than one batch (then no pass keeps them in memory)."""
        return self.num_rows > self.rows_per_batch

    @property
    def num_batches(self) -> int:
        return max(1, -(-self.num_rows // self.rows_per_batch))

    def _stream(self, i: int) -> np.random.Generator:
        """Batch i's random stream: the run's own for batch 0 (an output of one batch is made as before
        batching), for the others a stream spawned from its state and i, so that any batch can be made
        alone, in any order, in another process (Spark's executors) and come out the same."""
        if i == 0:
            rng = np.random.Generator(self._bits())
            rng.bit_generator.state = copy.deepcopy(self._state)
            return rng
        entropy = int.from_bytes(hashlib.sha256(repr(self._state).encode()).digest()[:16], "little")
        return np.random.Generator(self._bits(np.random.SeedSequence(entropy, spawn_key=(i,))))

    def _dependencies(self) -> dict:
        """Each dependency's map from determinant to dependent code, from a pilot sample of the model drawn
        from a stream of its own (the same for every batch, so a determinant keeps one value across them)."""
        if self._maps is None:
            entropy = int.from_bytes(hashlib.sha256(repr(self._state).encode()).digest()[16:], "little")
            pilot = draw(self.model, PILOT_ROWS, np.random.Generator(self._bits(np.random.SeedSequence(entropy))),
                         keep=Keeper(self._code_rules, self.domains))  # (combinations kept, no dependency yet)
            self._maps = dependency_maps(self._code_rules, self.domains, pilot)
        return self._maps


    def batch(self, i: int, units=None) -> pa.Table:
        """Batch i of the rows (``rows_per_batch`` rows, fewer in the last), made on its own.

        `units`: a unit-id cursor standing at the batch's first row (``tables`` passes its own, which
        has made the batches before); without it one is moved there.
        """
        start = i * self.rows_per_batch
        n = min(self.rows_per_batch, self.num_rows - start) if self.num_rows else 0
        rng = self._stream(i)
        given = {}
        if self.units is not None:
            if units is None:
                units = self.units.cursor()
                units.skip(start)
            given = {self.units.column.name: self.units.values(units.take(n), self.num_rows)}
        rules = self._code_rules
        combos = any(r.kind in ("forbid", "allow") for r in rules)
        codes = draw(self.model, n, rng, keep=Keeper(rules, self.domains) if combos else None)
        if rules:  # dependencies set; combinations the samplers' hook kept left as they are
            keep_codes(rules, self.domains, codes,
                       self._dependencies() if any(r.kind == "fd" for r in rules) else {})
        placed = (lambda within: meet_sums(self.domains, codes, within, self.sums, rng)) if self.sums else None
        return decode_table(self.columns, self.domains, codes, self.masks, rng, first_row=start,
                            total_rows=self.num_rows, given=given, placed=placed, rules=self.rules,
                            derived_rare=self.derived_rare, part=(i, self.num_batches))

    def tables(self) -> Iterator[pa.Table]:
        """The rows, one table per batch (each with the exact types in its schema's metadata)."""
        if self._first is not None:
            yield self._first
            return
        fp = (0, 0) if self.stamp.value is None else None  # the fingerprint so far, if one is wanted
        units = self.units.cursor() if self.units is not None else None
        for i in range(self.num_batches):
            table = self.batch(i, units)
            if fp is not None:
                try:
                    c, s = output_fingerprint(table, self.types)
                    fp = (fp[0] + c, (fp[1] + s) % (1 << 64))
                except (duckdb.Error, MemoryError):  # the rows are fine; a report will not recognise them
                    fp = None
            if not self.batched:
                self._first = table
            yield table
        if fp is not None:
            self.stamp.value = fp

    def batches(self) -> Iterator[pa.RecordBatch]:
        for table in self.tables():
            yield from table.to_batches()

    def reader(self) -> pa.RecordBatchReader:
        """A one-pass reader of the rows (DuckDB scans it batch by batch: ``COPY``, ``CREATE TABLE AS``)."""
        tables = self.tables()
        held = [next(tables)]  # made now, so that the reader has its schema
        schema = held[0].schema

        def rest() -> Iterator[pa.RecordBatch]:
            yield from held.pop().to_batches()  # not held once read
            for t in tables:
                yield from t.to_batches()

        return pa.RecordBatchReader.from_batches(schema, rest())

    def write_parquet(self, path) -> None:
        """Write the rows to one Parquet file with DuckDB's own writer (which keeps types such as UUID),
        batch by batch."""
        from .decode import cast_projection
        from .source import quote_literal

        con = duckdb.connect()
        try:
            # Keeping the insertion order makes DuckDB's COPY from a stream hold ~40 bytes a row (1.06 GB
            # at 15M rows, 531 MB without); one thread reads the one stream in order anyway.
            con.execute("SET preserve_insertion_order = false")
            con.execute("SET threads = 1")
            con.register("_synth_result", self.reader())
            select = cast_projection(parquet_types(self.types))
            con.execute(f"COPY (SELECT {select} FROM _synth_result) TO {quote_literal(str(path))} (FORMAT parquet)")
        finally:
            con.close()

    def table(self) -> pa.Table:
        """All the rows in one table (memory grows with the rows: write a large output with ``reader``)."""
        parts = list(self.tables())
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)

    @property
    def types(self) -> list[tuple[str, str]]:
        """(column, exact DuckDB type) of the output, in order."""
        return output_types(self.columns, self.masks)

