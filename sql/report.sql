-- The quality and privacy report, registered by duckdb_synth.register(con).
-- Each macro reads one of the four tables of a report that a Python scalar UDF
-- computes while the query binds and writes as Parquet (DESIGN.md §4). The UDF
-- is memoized by its arguments and a fingerprint of both tables' rows, so the
-- four macros on the same pair of tables share one computation, and a changed
-- table is reported afresh. real and synth are each a table or view name, one
-- read-only query, or a .parquet/.csv/.json path. holdout := 'table' names real rows
-- the generator never saw (same columns as real): synth_privacy_report then adds the
-- DCR share (synthetic rows nearer real's rows than the holdout's; about 0.5 unless
-- the generator memorized rows). "constraints" := ['a <= b', 'zip -> state'] names rules
-- (as synthesize takes them) whose violations the summary's row 'Rules' counts in both
-- tables, beside the rules of the run that made synth.

-- One row per property (Column Shapes, Column Pair Trends, 1-/2-/3-way marginals,
-- Deep Structure (PCA), Overall): its score in [0, 1] and a one-line explanation.
CREATE OR REPLACE TEMP MACRO synth_report(real, synth, holdout := NULL, "constraints" := NULL) AS TABLE
    SELECT * EXCLUDE (file_row_number)
    FROM read_parquet(_synth_report(real, synth, 'summary', holdout,
                                CAST(to_json("constraints") AS VARCHAR),
                                current_setting('TimeZone') || '|' || current_setting('Calendar')), file_row_number := true)
    ORDER BY file_row_number;

-- One row per column: metric (KSComplement or TVComplement), score, NULL shares,
-- distinct counts, mean, std, min and max of both tables.
CREATE OR REPLACE TEMP MACRO synth_report_columns(real, synth, holdout := NULL, "constraints" := NULL) AS TABLE
    SELECT * EXCLUDE (file_row_number)
    FROM read_parquet(_synth_report(real, synth, 'columns', holdout,
                                CAST(to_json("constraints") AS VARCHAR),
                                current_setting('TimeZone') || '|' || current_setting('Calendar')), file_row_number := true)
    ORDER BY file_row_number;

-- One row per pair of columns: metric (CorrelationSimilarity or ContingencySimilarity),
-- real and synthetic association, score.
CREATE OR REPLACE TEMP MACRO synth_report_pairs(real, synth, holdout := NULL, "constraints" := NULL) AS TABLE
    SELECT * EXCLUDE (file_row_number)
    FROM read_parquet(_synth_report(real, synth, 'pairs', holdout,
                                CAST(to_json("constraints") AS VARCHAR),
                                current_setting('TimeZone') || '|' || current_setting('Calendar')), file_row_number := true)
    ORDER BY file_row_number;

-- Exact copies, distance to the closest real record next to a holdout of the real
-- table, and what the run spent when the synthetic table came from synthesize().
CREATE OR REPLACE TEMP MACRO synth_privacy_report(real, synth, holdout := NULL, "constraints" := NULL) AS TABLE
    SELECT * EXCLUDE (file_row_number)
    FROM read_parquet(_synth_report(real, synth, 'privacy', holdout,
                                CAST(to_json("constraints") AS VARCHAR),
                                current_setting('TimeZone') || '|' || current_setting('Calendar')), file_row_number := true)
    ORDER BY file_row_number;

-- A synthetic table against an aggregate release stored as a table (CREATE TABLE rel AS
-- SELECT * FROM synth_aggregates(...)): per length, how many combinations the release shows
-- and the mean absolute and relative error of the synthetic table's counts of them against
-- the released ones (Synthetic Data Showcase's "preservation"). Reads no real data.
CREATE OR REPLACE TEMP MACRO synth_report_aggregates(release, synth) AS TABLE
    SELECT * EXCLUDE (file_row_number)
    FROM read_parquet(_synth_compare(release, synth, current_setting('TimeZone') || '|' || current_setting('Calendar')),
                      file_row_number := true)
    ORDER BY file_row_number;
