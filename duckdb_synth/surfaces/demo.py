"""``duckdb-synth demo``: synthesize the bundled patients table in every mode and compare.

The example (``duckdb_synth/examples/patients.parquet``, made by
``examples/make_patients.py``) is loaded into an in-memory DuckDB, synthesized
in the balanced, strict and strictest modes with the name and email columns
masked, and a few statistics of the real table and of each copy are printed
side by side, computed with DuckDB SQL over the Arrow tables.
"""
from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

import duckdb
import pyarrow as pa

import duckdb_synth

from .render import render_box, text_grid

DEMO_MODES = ("balanced", "strict", "strictest")
DEMO_MASKS = {"name": "name", "email": "email"}
TOP_DIAGNOSES = 3

HOW_TO = """\
On your own table:
  SQL     SELECT * FROM synthesize('my_table', mode := 'strict', masks := {'email': 'email'});
  Python  duckdb_synth.run(con, 'my_table', mode='strict', masks={'email': 'email'}).table
  CLI     duckdb-synth synthesize my.duckdb my_table --mode strict --mask email=email -o synth.parquet"""


@dataclass(frozen=True)
class Stat:
    """One line of the comparison: a label and the SQL expression computing it."""

    label: str
    sql: str
    fmt: str


def example_path() -> Traversable:
    """The bundled example table, ``patients.parquet``, inside the installed package."""
    try:
        root: Traversable = importlib.resources.files("duckdb_synth")
    except (NotADirectoryError, TypeError):  # a namespace package (no __init__.py) in a source checkout
        root = Path(__file__).resolve().parents[1]
    return root / "examples" / "patients.parquet"


def load_example(con: duckdb.DuckDBPyConnection, name: str = "patients") -> None:
    """Create table ``name`` on ``con`` holding the bundled example."""
    with importlib.resources.as_file(example_path()) as path:
        literal = "'" + str(path).replace("'", "''") + "'"
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM read_parquet({literal})')


VISITS_SQL = """
CREATE TABLE visits AS
SELECT patient_id, visit_no, admitted + ((patient_id * 37 + visit_no * 53) % 300)::INTEGER AS visit_date,
       CASE WHEN (patient_id + visit_no) % 4 = 0 THEN 'check-up' ELSE diagnosis END AS diagnosis,
       round(bill_amount / visits * (0.5 + ((patient_id * 13 + visit_no * 7) % 100) / 100.0), 2)::DECIMAL(10, 2)
           AS cost
FROM (SELECT *, unnest(range(1, visits + 1)) AS visit_no FROM patients)
ORDER BY patient_id, visit_no"""


def write_example_db(path: str) -> None:
    """Write the example database the README's examples run against: ``patients`` (one row per patient)
    and ``visits`` (one row per visit, several per patient, derived from it deterministically)."""
    if Path(path).exists():
        raise duckdb_synth.SourceError(f"{path} exists; give a new file name for the example database")
    con = duckdb.connect(path)
    try:
        load_example(con)
        con.execute(VISITS_SQL)
    finally:
        con.close()


def _accuracy_line(con: duckdb.DuckDBPyConnection, copies: dict[str, pa.Table]) -> str:
    """What the privacy of each mode costs in accuracy on this table: the report's pair and 3-way scores."""
    scores = {}
    for mode, table in copies.items():
        view = f"__demo_{mode}"
        con.register(view, table.drop_columns(list(DEMO_MASKS)))
        try:
            rep = duckdb_synth.report(con, f"SELECT * EXCLUDE ({', '.join(DEMO_MASKS)}) FROM patients", view)
        finally:
            con.unregister(view)
        by = dict(zip(rep.summary.column("property").to_pylist(), rep.summary.column("score").to_pylist()))
        scores[mode] = (by["Column Pair Trends"], 1.0 - by["3-way marginals"])
    (pb, tb), (ps, ts) = scores["balanced"], scores["strictest"]
    return (f"What privacy costs here: column pair trends {pb:.3f} (balanced) -> {ps:.3f} (strictest), 3-way "
            f"marginal distance (tvd3) {tb:.3f} -> {ts:.3f}; weak correlations are the first to go at epsilon = 1 "
            "(duckdb-synth report compares a copy column by column)")


def _stats(con: duckdb.DuckDBPyConnection, real: str) -> list[Stat]:
    """The statistics compared, the top diagnoses being those of the real table."""
    con.execute(
        f"SELECT diagnosis FROM {real} WHERE diagnosis IS NOT NULL "
        f"GROUP BY diagnosis ORDER BY count(*) DESC, diagnosis LIMIT {TOP_DIAGNOSES}"
    )
    top = [row[0] for row in con.fetchall()]
    stats = [
        Stat("rows", "count(*)", "{:,.0f}"),
        Stat("age: mean", "avg(age)", "{:.1f}"),
        Stat("age: std", "stddev_samp(age)", "{:.1f}"),
        Stat("smoker share", "avg(smoker::INTEGER)", "{:.1%}"),
        Stat("bmi: NULL share", "avg((bmi IS NULL)::INTEGER)", "{:.1%}"),
        Stat("insurance: NULL share", "avg((insurance IS NULL)::INTEGER)", "{:.1%}"),
    ]
    for dx in top:
        literal = "'" + dx.replace("'", "''") + "'"
        stats.append(Stat(f"diagnosis = {dx}", f"avg((diagnosis = {literal})::INTEGER)", "{:.1%}"))
    stats += [
        Stat("bill_amount: mean", "avg(bill_amount::DOUBLE)", "{:,.2f}"),
        Stat("admitted: first", "min(admitted)", "{}"),
        Stat("admitted: last", "max(admitted)", "{}"),
        Stat("corr(age, bill_amount)", "corr(age::DOUBLE, bill_amount::DOUBLE)", "{:.3f}"),
        Stat("corr(age, visits)", "corr(age::DOUBLE, visits::DOUBLE)", "{:.3f}"),
    ]
    return stats


def _values(con: duckdb.DuckDBPyConnection, relation: str, stats: Sequence[Stat]) -> list[str]:
    """Each statistic of one table, formatted."""
    con.execute(f"SELECT {', '.join(s.sql for s in stats)} FROM {relation}")
    (row,) = con.fetchall()
    return ["NULL" if v is None else s.fmt.format(v) for s, v in zip(stats, row)]


def _epsilon_text(spend: object) -> str:
    """What a run spent, as 'ε = 2.98 (δ = 1e-06)' or 'no formal DP'."""
    spent = getattr(spend, "epsilon_spent", None)
    epsilon = spent if spent is not None else getattr(spend, "epsilon", None)
    if not epsilon:
        return "no formal DP (exact statistics, rare values never copied)"
    delta = getattr(spend, "delta", None)
    asked = getattr(spend, "epsilon", None)
    text = f"ε = {epsilon:.2f}"
    if asked is not None and spent is not None:
        text += f" of {asked:g}"
    return text + (f", δ = {delta:g}" if delta else "")


def run_demo(*, rows: int | None = None, seed: int | None = 7, echo: Callable[[str], None] = print) -> None:
    """Synthesize the example in each mode and print timings, spend and a comparison.

    Args:
        rows: Rows of each synthetic copy; None for about as many as the example.
        seed: Seed of every run, for a repeatable demo.
        echo: Where lines of output go.
    """
    con = duckdb.connect(":memory:")
    try:
        duckdb_synth.register(con)
        load_example(con)
        con.execute("SELECT count(*) FROM patients")
        n_real = con.fetchall()[0][0]
        echo(f"Example table 'patients': {n_real:,} rows, 14 columns; name and email are masked in every copy.")
        echo("")
        copies: dict[str, pa.Table] = {}
        summary: list[tuple[str, ...]] = []
        for mode in DEMO_MODES:
            echo(f"  synthesizing in mode {mode} ...")
            res = duckdb_synth.run(con, "patients", mode=mode, masks=DEMO_MASKS, rows=rows, seed=seed)
            copies[mode] = res.table
            summary.append((mode, f"{res.seconds:.2f}", f"{res.table.num_rows:,}", _epsilon_text(res.spend)))
        echo(
            render_box(
                text_grid(
                    ["mode", "seconds", "rows", "privacy spent"], summary, numeric=[False, True, True, False]
                ),
                show_types=False,
            )
        )
        echo("")
        stats = _stats(con, "patients")
        columns = {"real": _values(con, "patients", stats)}
        for mode, table in copies.items():
            view = f"__demo_{mode}"
            con.register(view, table)
            try:
                columns[mode] = _values(con, view, stats)
            finally:
                con.unregister(view)
        lines = [(s.label, *(columns[c][k] for c in columns)) for k, s in enumerate(stats)]
        echo(
            render_box(
                text_grid(
                    ["statistic", *columns], lines, numeric=[False, *([True] * len(columns))]
                ),
                show_types=False,
            )
        )
        echo("")
        echo(_accuracy_line(con, copies))
        echo("")
        echo(HOW_TO)
    finally:
        con.close()
