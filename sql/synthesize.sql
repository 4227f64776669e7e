-- TEMP table macros registered on a connection by duckdb_synth.register(con), which
-- gives each UDF name below a suffix of that connection's.
-- Each reads a Parquet file written by a Python scalar UDF that DuckDB folds
-- while binding the query (DESIGN.md §4): the UDF runs the synthesizer once per
-- distinct call and returns the path of its result.

CREATE OR REPLACE TEMP MACRO synthesize(source, mode := NULL, epsilon := NULL, delta := NULL,
                                   masks := NULL, "rows" := NULL, seed := NULL, marginals := NULL,
                                   domains := NULL, privacy_unit := NULL, max_rows_per_unit := NULL) AS TABLE
    -- Every argument travels as text, so a wrong type is our error naming the option,
    -- not a binder error about the UDF.
    SELECT * FROM read_parquet(_synth_run(CAST(source AS VARCHAR), CAST(mode AS VARCHAR),
                                          CAST(epsilon AS VARCHAR), CAST(delta AS VARCHAR),
                                          CAST(to_json(masks) AS VARCHAR), CAST("rows" AS VARCHAR),
                                          CAST(seed AS VARCHAR), CAST(to_json(marginals) AS VARCHAR),
                                          CAST(to_json(domains) AS VARCHAR), CAST(privacy_unit AS VARCHAR),
                                          CAST(max_rows_per_unit AS VARCHAR)));

-- What every run on this connection spent, one row per step.
CREATE OR REPLACE TEMP MACRO synth_runs() AS TABLE
    SELECT * FROM read_parquet(_synth_runs_file());
