"""The public surface, pinned: what ``import duckdb_synth`` exports, the SQL functions ``register``
adds with their arguments and columns, the CLI's commands and options, and the Python functions'
parameters. A change here is a change for users: make it on purpose, and say so in the README."""
from __future__ import annotations

import inspect

import duckdb
import pytest

import duckdb_synth
from duckdb_synth.surfaces.cli import main

ALL = [
    "register", "synthesize", "run", "aggregates", "runs", "budget", "set_budget", "forget", "canary", "report", "Report",
    "Result", "Spend", "MODES", "MASK_KINDS", "SynthError", "SourceError", "SchemaError", "DataError", "OptionError", "MaskError", "__version__",
]
MACROS = [
    ("synth_aggregates", ["source", "reporting_length", "columns", "threshold", "mode", "epsilon", "delta", "seed",
                          "domains", "privacy_unit", "max_rows_per_unit", "budget", "ledger"]),
    ("synth_budget", []),
    ("synth_privacy_report", ["real", "synth", "holdout", "constraints"]),
    ("synth_report", ["real", "synth", "holdout", "constraints"]),
    ("synth_report_aggregates", ["release", "synth"]),
    ("synth_report_columns", ["real", "synth", "holdout", "constraints"]),
    ("synth_report_pairs", ["real", "synth", "holdout", "constraints"]),
    ("synth_runs", []),
    ("synth_set_budget", ["source", "epsilon", "delta"]),
    ("synthesize", ["source", "mode", "epsilon", "delta", "masks", "rows", "seed", "marginals", "domains",
                    "privacy_unit", "max_rows_per_unit", "budget", "ledger", "constraints"]),
]
COLUMNS = {
    "synth_runs()": [
        ("run_id", "BIGINT"), ("started_at", "TIMESTAMP"), ("source", "VARCHAR"), ("mode", "VARCHAR"),
        ("epsilon", "DOUBLE"), ("delta", "DOUBLE"), ("rows_in", "BIGINT"), ("rows_out", "BIGINT"),
        ("seconds", "DOUBLE"), ("step_no", "INTEGER"), ("step", "VARCHAR"), ("step_rho", "DOUBLE"),
        ("step_epsilon", "DOUBLE"), ("step_delta", "DOUBLE"), ("detail", "VARCHAR"), ("total_rho", "DOUBLE"),
        ("total_epsilon", "DOUBLE"), ("status", "VARCHAR"), ("privacy_unit", "VARCHAR"),
        ("max_rows_per_unit", "BIGINT"), ("seeded", "BOOLEAN"), ("sources", "VARCHAR[]"), ("in_ledger", "BOOLEAN"),
        ("ledger", "VARCHAR"),
    ],
    "synth_budget()": [
        ("source", "VARCHAR"), ("runs", "BIGINT"), ("dp_runs", "BIGINT"), ("rho_spent", "DOUBLE"),
        ("epsilon_spent", "DOUBLE"), ("delta_spent", "DOUBLE"), ("budget_epsilon", "DOUBLE"),
        ("budget_delta", "DOUBLE"), ("epsilon_left", "DOUBLE"), ("units", "VARCHAR"), ("last_run", "TIMESTAMP"),
    ],
    "synth_report('t', 't')": [("property", "VARCHAR"), ("score", "DOUBLE"), ("explanation", "VARCHAR"),
                               ("holdout", "DOUBLE")],
    "synth_report_columns('t', 't')": [
        ("column", "VARCHAR"), ("type", "VARCHAR"), ("synth_type", "VARCHAR"), ("kind", "VARCHAR"),
        ("metric", "VARCHAR"), ("score", "DOUBLE"), ("real_null_share", "DOUBLE"), ("synth_null_share", "DOUBLE"),
        ("real_distinct", "BIGINT"), ("synth_distinct", "BIGINT"), ("real_mean", "DOUBLE"), ("synth_mean", "DOUBLE"),
        ("real_std", "DOUBLE"), ("synth_std", "DOUBLE"), ("real_min", "DOUBLE"), ("synth_min", "DOUBLE"),
        ("real_max", "DOUBLE"), ("synth_max", "DOUBLE"), ("real_range", "VARCHAR"), ("synth_range", "VARCHAR"),
        ("diagnostic", "VARCHAR"), ("adherence", "DOUBLE"),
    ],
    "synth_report_pairs('t', 't')": [
        ("column_1", "VARCHAR"), ("column_2", "VARCHAR"), ("metric", "VARCHAR"), ("real_association", "DOUBLE"),
        ("synth_association", "DOUBLE"), ("score", "DOUBLE"),
    ],
    "synth_aggregates('t', reporting_length := 2)": [
        ("length", "INTEGER"), ("combination", "VARCHAR"), ("count", "BIGINT"), ("a", "VARCHAR"), ("b", "VARCHAR"),
    ],
    "synth_privacy_report('t', 't')": [
        ("metric", "VARCHAR"), ("value", "DOUBLE"), ("holdout", "DOUBLE"), ("explanation", "VARCHAR"),
    ],
}
COMMANDS = {
    "aggregates": [["db"], ["source"], ["--mode"], ["--epsilon"], ["--delta"], ["--length"], ["--columns"],
                   ["--threshold"], ["--seed"], ["--domain"], ["--privacy-unit"], ["--max-rows-per-unit"], ["--budget"],
                   ["--ledger"], ["-o", "--output"], ["--compare"], ["--owner-figures"], ["-q", "--quiet"]],
    "canary": [["db"], ["source"], ["--mode"], ["--epsilon"], ["--delta"], ["--k"], ["--seed"], ["--column"],
               ["--ledger"], ["--mask"]],
    "budget": [["db"], ["source"], ["--epsilon"], ["--delta"]],
    "demo": [["--rows"], ["--seed"], ["--db"]],
    "report": [["db"], ["real"], ["synth"], ["-o", "--output"], ["--seed"], ["--domain"], ["--holdout"],
               ["--constraint"], ["--aggregates"]],
    "run": [["db"], ["script"]],
    "shell": [["db"]],
    "synthesize": [["db"], ["source"], ["--mode"], ["--epsilon"], ["--delta"], ["--mask"], ["--rows"], ["--seed"],
                   ["--marginal"], ["--sum"], ["--constraint"], ["--domain"], ["-o", "--output"], ["--privacy-unit"], ["--max-rows-per-unit"],
                   ["--budget"], ["--ledger"], ["--table"], ["--replace"], ["--progress"], ["-q", "--quiet"],
                   ["-v", "--verbose"], ["--engine"], ["--spark-master"], ["--report"]],
}
PARAMETERS = {
    "register": ["con"],
    "run": ["con", "source", "mode", "epsilon", "delta", "masks", "rows", "seed", "marginals", "domains",
            "privacy_unit", "max_rows_per_unit", "budget", "ledger", "constraints", "progress"],
    "budget": ["con"],
    "set_budget": ["con", "source", "epsilon", "delta"],
    "synthesize": ["con", "source", "mode", "epsilon", "delta", "masks", "rows", "seed", "marginals", "domains",
                   "privacy_unit", "max_rows_per_unit", "budget", "ledger", "constraints", "progress"],
    "runs": ["con"],
    "forget": ["con"],
    "report": ["con", "real", "synth", "seed", "run", "domains", "holdout", "aggregates", "constraints"],
    "canary": ["con", "source", "mode", "epsilon", "delta", "ks", "seed", "column", "masks", "ledger"],
    "aggregates": ["con", "source", "reporting_length", "columns", "threshold", "mode", "epsilon", "delta", "seed",
                   "domains", "privacy_unit", "max_rows_per_unit", "budget", "ledger"],
}


@pytest.fixture()
def con():
    c = duckdb.connect()
    duckdb_synth.register(c)
    c.execute("CREATE TABLE t AS SELECT (i % 7)::VARCHAR AS a, i % 13 AS b FROM range(200) r(i)")
    yield c
    c.close()


def test_exports() -> None:
    assert duckdb_synth.__all__ == ALL
    assert all(hasattr(duckdb_synth, name) for name in ALL)


def test_sql_functions_and_their_arguments(con) -> None:
    got = con.sql("SELECT function_name, parameters FROM duckdb_functions() "
                  "WHERE function_name LIKE 'synth%' AND function_type = 'table_macro' ORDER BY 1").fetchall()
    assert [(name, list(params)) for name, params in got] == MACROS


@pytest.mark.parametrize("call", list(COLUMNS))
def test_sql_function_columns(con, call: str) -> None:
    assert [(r[0], r[1]) for r in con.sql(f"DESCRIBE SELECT * FROM {call}").fetchall()] == COLUMNS[call]


def test_cli_commands_and_options() -> None:
    assert {name: [p.opts for p in cmd.params] for name, cmd in main.commands.items()} == COMMANDS


@pytest.mark.parametrize("name", list(PARAMETERS))
def test_python_parameters(name: str) -> None:
    assert list(inspect.signature(getattr(duckdb_synth, name)).parameters) == PARAMETERS[name]
