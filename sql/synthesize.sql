-- TEMP table macros registered on a connection by duckdb_synth.register(con), which
-- gives each UDF name below a suffix of that connection's.
-- Each reads a Parquet file written by a Python scalar UDF that DuckDB folds
-- while binding the query (DESIGN.md §4): the UDF runs the synthesizer once per
-- distinct call and returns the path of its result (synthesize: a query reading it
-- that casts the types Parquet cannot hold, ENUM and HUGEINT, back to the source's).

CREATE OR REPLACE TEMP MACRO synthesize(source, mode := NULL, epsilon := NULL, delta := NULL,
                                   masks := NULL, "rows" := NULL, seed := NULL, marginals := NULL,
                                   domains := NULL, privacy_unit := NULL, max_rows_per_unit := NULL,
                                   budget := NULL, ledger := NULL, "constraints" := NULL) AS TABLE
    -- Every argument travels as text, so a wrong type is our error naming the option,
    -- not a binder error about the UDF.
    SELECT * FROM query(_synth_run(CAST(source AS VARCHAR), CAST(mode AS VARCHAR),
                                   CAST(epsilon AS VARCHAR), CAST(delta AS VARCHAR),
                                   CAST(to_json(masks) AS VARCHAR), CAST("rows" AS VARCHAR),
                                   CAST(seed AS VARCHAR), CAST(to_json(marginals) AS VARCHAR),
                                   CAST(to_json(domains) AS VARCHAR), CAST(privacy_unit AS VARCHAR),
                                   CAST(max_rows_per_unit AS VARCHAR), CAST(budget AS VARCHAR),
                                   CAST(ledger AS VARCHAR), CAST(to_json("constraints") AS VARCHAR),
                                   -- the session's time zone and calendar, which a query reading the source runs in
                                   current_setting('TimeZone') || '|' || current_setting('Calendar')));

-- The noisy count of every combination of up to reporting_length values of the columns
-- (duckdb_synth.aggregates): length, combination, count, then one column per column counted.
CREATE OR REPLACE TEMP MACRO synth_aggregates(source, reporting_length := NULL, "columns" := NULL,
                                         threshold := NULL, mode := NULL, epsilon := NULL, delta := NULL,
                                         seed := NULL, domains := NULL, privacy_unit := NULL,
                                         max_rows_per_unit := NULL, budget := NULL, ledger := NULL) AS TABLE
    SELECT * FROM read_parquet(_synth_aggregates(CAST(source AS VARCHAR), CAST(reporting_length AS VARCHAR),
                                   CAST(to_json("columns") AS VARCHAR), CAST(threshold AS VARCHAR),
                                   CAST(mode AS VARCHAR), CAST(epsilon AS VARCHAR), CAST(delta AS VARCHAR),
                                   CAST(seed AS VARCHAR), CAST(to_json(domains) AS VARCHAR),
                                   CAST(privacy_unit AS VARCHAR), CAST(max_rows_per_unit AS VARCHAR),
                                   CAST(budget AS VARCHAR), CAST(ledger AS VARCHAR),
                                   current_setting('TimeZone') || '|' || current_setting('Calendar')));

-- What every run spent, one row per step: the runs in this database's ledger (schema
-- duckdb_synth, kept in the database file across connections and processes), and this
-- connection's runs made with ledger := false.
CREATE OR REPLACE TEMP MACRO synth_runs() AS TABLE
    SELECT * FROM read_parquet(_synth_runs_file());

-- Per source (table, or file): its runs, what they spent together, its budget and what is left.
CREATE OR REPLACE TEMP MACRO synth_budget() AS TABLE
    SELECT * FROM read_parquet(_synth_budget_file());

-- Set a source's total budget; DP runs that would pass it are refused before they read.
CREATE OR REPLACE TEMP MACRO synth_set_budget(source, epsilon := NULL, delta := NULL) AS TABLE
    SELECT * FROM read_parquet(_synth_set_budget(CAST(source AS VARCHAR), CAST(epsilon AS VARCHAR),
                                                 CAST(delta AS VARCHAR)));
