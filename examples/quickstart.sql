-- Quickstart: a private synthetic copy of a patients table, from SQL.
-- Run it from the repository root:
--     duckdb-synth run :memory: examples/quickstart.sql
-- or, in `duckdb-synth shell`, type `.read examples/quickstart.sql`.

-- The real table: 3,000 fictional patients (made by examples/make_patients.py).
CREATE TABLE patients AS
    SELECT * FROM read_parquet('duckdb_synth/examples/patients.parquet');

SELECT patient_id, name, email, sex, age, diagnosis, bill_amount, admitted
FROM patients
ORDER BY patient_id
LIMIT 3;

-- A copy with (epsilon = 3, delta = 1e-6) differential privacy; names and
-- emails are replaced by random ones. The seed makes this example repeatable:
-- leave it out for a real release.
CREATE TABLE patients_synth AS
    SELECT * FROM synthesize('patients', mode := 'strict',
                             masks := {'name': 'name', 'email': 'email'},
                             seed := 7);

SELECT patient_id, name, email, sex, age, diagnosis, bill_amount, admitted
FROM patients_synth
LIMIT 3;

-- Same shape, same statistics: compare a few.
SELECT 'real' AS copy, count(*) AS "rows", round(avg(age), 1) AS mean_age,
       round(avg(bill_amount), 2) AS mean_bill, round(100 * avg(smoker::INTEGER), 1) AS smoker_pct
FROM patients
UNION ALL
SELECT 'synthetic', count(*), round(avg(age), 1), round(avg(bill_amount), 2),
       round(100 * avg(smoker::INTEGER), 1)
FROM patients_synth;

SELECT diagnosis,
       count(*) FILTER (WHERE copy = 'real') AS real,
       count(*) FILTER (WHERE copy = 'synthetic') AS synthetic
FROM (SELECT 'real' AS copy, diagnosis FROM patients
      UNION ALL
      SELECT 'synthetic', diagnosis FROM patients_synth)
GROUP BY diagnosis
ORDER BY real DESC;

-- What was spent: one line per run here; SELECT * FROM synth_runs() lists every step.
SELECT run_id, mode, epsilon, delta, count(*) AS steps, round(max(total_epsilon), 4) AS epsilon_spent
FROM synth_runs()
GROUP BY ALL
ORDER BY run_id;
