"""duckdb-synth: differentially private synthetic copies of tables, inside DuckDB.

    import duckdb, duckdb_synth
    con = duckdb.connect("clinic.duckdb")
    duckdb_synth.register(con)
    con.sql("SELECT * FROM synthesize('patients', mode := 'strict', masks := {'email': 'email'})")

The package is in layers, each importing only those below it (tests/test_layout.py):
``engine`` (reads the data, exact math) <- ``privacy`` (noise, budget, mechanisms,
ledger) <- ``pipeline`` (the run) <- ``reporting`` <- ``surfaces`` (Python API, SQL, CLI,
shell, demo); ``errors`` and ``options`` are shared by all.
"""
from __future__ import annotations

from ._version import __version__
from .engine.masks import MASK_KINDS
from .errors import DataError, MaskError, OptionError, SchemaError, SourceError, SynthError
from .options import MODES
from .privacy.ledger import Result, record, runs  # noqa: F401  (record: importable, as before)
from .privacy.spend import Spend
from .reporting.build import Report, report
from .reporting.canary import canary
from .surfaces.api import aggregates, budget, run, set_budget, synthesize
from .surfaces.sql import forget, register

__all__ = [
    "register", "synthesize", "run", "aggregates", "runs", "budget", "set_budget", "forget", "canary", "report", "Report",
    "Result", "Spend", "MODES", "MASK_KINDS",
    "SynthError", "SourceError", "SchemaError", "DataError", "OptionError", "MaskError", "__version__",
]
