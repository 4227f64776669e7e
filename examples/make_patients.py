"""Generate the bundled example table ``duckdb_synth/examples/patients.parquet``.

The table is fictional but shaped like a clinic's patient list: the columns are
correlated the way real ones are (diagnosis depends on age, sex and smoking;
visits on diagnosis and age; the bill on diagnosis and visits), some columns are
nullable, and a few diagnoses are held by only one to three patients, which is
exactly what a private synthesizer must never copy verbatim.

The output is deterministic: numpy and Faker are seeded, and the file is
rewritten byte for byte the same by the same library versions::

    python examples/make_patients.py            # writes the bundled file
    python examples/make_patients.py out.parquet
"""
from __future__ import annotations

import datetime as dt
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from faker import Faker

SEED = 20240611
ROWS = 3000
END_OF_DATA = dt.date(2025, 6, 30)
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "duckdb_synth" / "examples" / "patients.parquet"

SCHEMA = pa.schema(
    [
        pa.field("patient_id", pa.int32(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("email", pa.string()),
        pa.field("sex", pa.string()),
        pa.field("age", pa.int32()),
        pa.field("birth_year", pa.int16()),
        pa.field("smoker", pa.bool_()),
        pa.field("diagnosis", pa.string()),
        pa.field("visits", pa.int32()),
        pa.field("bmi", pa.float64()),
        pa.field("bill_amount", pa.decimal128(10, 2)),
        pa.field("admitted", pa.date32()),
        pa.field("last_seen", pa.timestamp("us")),
        pa.field("insurance", pa.string()),
    ]
)

# Common diagnoses: a base log-odds plus effects of age (per decade above 50),
# being male, and smoking. Chosen so that the shares look like a general clinic.
DIAGNOSES: dict[str, tuple[float, float, float, float]] = {
    #                          base   age/10  male  smoker
    "hypertension":            (0.9,   0.35,  0.2,   0.2),
    "type 2 diabetes":         (0.3,   0.30,  0.2,   0.1),
    "asthma":                  (0.2,  -0.30, -0.2,   0.4),
    "depression":              (0.4,  -0.25, -0.5,   0.3),
    "osteoarthritis":          (-0.4,  0.55, -0.3,   0.0),
    "copd":                    (-1.6,  0.45,  0.2,   1.8),
    "migraine":                (-0.2, -0.45, -0.9,   0.0),
    "coronary artery disease": (-1.3,  0.60,  0.7,   0.8),
}
# Rare diagnoses and how many patients hold each one.
RARE_DIAGNOSES: dict[str, int] = {
    "sarcoidosis": 3,
    "myasthenia gravis": 2,
    "wilson disease": 1,
    "fabry disease": 1,
}
# Typical bill for one visit, by diagnosis, in dollars.
BASE_BILL: dict[str, float] = {
    "hypertension": 180.0,
    "type 2 diabetes": 260.0,
    "asthma": 150.0,
    "depression": 210.0,
    "osteoarthritis": 320.0,
    "copd": 450.0,
    "migraine": 170.0,
    "coronary artery disease": 900.0,
    "sarcoidosis": 1200.0,
    "myasthenia gravis": 1500.0,
    "wilson disease": 1800.0,
    "fabry disease": 2500.0,
}
EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me"]
PRIVATE_INSURERS = ["Aetna", "Blue Cross", "Cigna", "Kaiser", "UnitedHealthcare"]


def _ascii(text: str) -> str:
    """Lower-case ASCII letters only, for the local part of an email address."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalpha())


def _names_and_emails(sex: np.ndarray, rng: np.random.Generator, fake: Faker) -> tuple[list[str], list[str]]:
    """Names by sex, and emails derived from them, unique by a numeric suffix."""
    names, emails, seen = [], [], set()
    for s in sex:
        first = fake.first_name_female() if s == "F" else fake.first_name_male()
        last = fake.last_name()
        names.append(f"{first} {last}")
        a, b = _ascii(first), _ascii(last)
        local = [f"{a}.{b}", f"{a[0]}{b}", f"{a}{b}"][rng.integers(3)]
        if rng.random() < 0.35:
            local += str(rng.integers(1, 99))
        candidate, k = local, 1
        while candidate in seen:
            k += 1
            candidate = f"{local}{k}"
        seen.add(candidate)
        emails.append(f"{candidate}@{EMAIL_DOMAINS[rng.integers(len(EMAIL_DOMAINS))]}")
    return names, emails


def _diagnoses(age: np.ndarray, male: np.ndarray, smoker: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw each patient's diagnosis from a softmax over age, sex and smoking effects."""
    labels = list(DIAGNOSES)
    decades = (age - 50) / 10
    logits = np.stack(
        [b + a * decades + m * male + s * smoker for b, a, m, s in DIAGNOSES.values()],
        axis=1,
    )
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    cumulative = probs.cumsum(axis=1)
    picks = (rng.random(len(age))[:, None] > cumulative).sum(axis=1)
    dx = np.array(labels, dtype=object)[np.minimum(picks, len(labels) - 1)]
    rare_rows = rng.choice(len(age), size=sum(RARE_DIAGNOSES.values()), replace=False)
    offset = 0
    for label, count in RARE_DIAGNOSES.items():
        dx[rare_rows[offset : offset + count]] = label
        offset += count
    return dx


def make_patients(rows: int = ROWS, seed: int = SEED) -> pa.Table:
    """Build the patients table.

    Args:
        rows: Number of patients.
        seed: Seed of numpy's generator and of Faker.

    Returns:
        The table, with exactly the types of ``SCHEMA``.
    """
    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)

    patient_id = np.sort(rng.choice(np.arange(100_000, 1_000_000), size=rows, replace=False)).astype(np.int32)
    sex = np.where(rng.random(rows) < 0.53, "F", "M")
    male = (sex == "M").astype(float)
    names, emails = _names_and_emails(sex, rng, fake)

    # Adults, skewed towards middle and old age, as in a general practice.
    age = np.clip(np.round(18 + 77 * rng.beta(2.0, 2.1, size=rows)), 18, 95).astype(np.int32)
    smoke_logit = -1.0 + 0.4 * male - 0.025 * (age - 40)
    smoker = rng.random(rows) < 1 / (1 + np.exp(-smoke_logit))

    diagnosis = _diagnoses(age, male, smoker.astype(float), rng)

    chronic = np.isin(diagnosis, ["type 2 diabetes", "copd", "coronary artery disease"])
    rare = np.isin(diagnosis, list(RARE_DIAGNOSES))
    visit_rate = 1.5 + 0.04 * (age - 18) + 2.0 * chronic + 4.0 * rare
    visits = (1 + rng.poisson(visit_rate)).astype(np.int32)

    bmi = 26.5 + 4.0 * (diagnosis == "type 2 diabetes") + 1.5 * (diagnosis == "hypertension") - 0.8 * smoker
    bmi = np.round(np.clip(rng.normal(bmi + 0.03 * (age - 50), 4.5), 15.0, 60.0), 1)
    bmi_null = rng.random(rows) < 0.05

    base = np.array([BASE_BILL[d] for d in diagnosis])
    bill = base * visits**0.85 * rng.lognormal(0.0, 0.55, size=rows) * (1 + 0.004 * (age - 18))
    bill_amount = np.minimum(bill, 99_999_999.0)

    start = dt.date(2023, 1, 1)
    span = (dt.date(2024, 12, 31) - start).days + 1
    admitted = [start + dt.timedelta(days=int(d)) for d in rng.integers(0, span, size=rows)]

    # Birthday before or after the admission date within that year.
    birthday_passed = rng.random(rows) < 0.5
    birth_year = np.array(
        [a.year - int(g) - (0 if passed else 1) for a, g, passed in zip(admitted, age, birthday_passed)],
        dtype=np.int16,
    )

    # Seen again some weeks later, more so with more visits; the data ends mid-2025.
    follow_up_days = np.floor(rng.exponential(12.0 * visits))
    seconds_in_day = rng.integers(8 * 3600, 18 * 3600, size=rows)
    last_seen = [
        dt.datetime.combine(a + dt.timedelta(days=int(min(f, (END_OF_DATA - a).days))), dt.time())
        + dt.timedelta(seconds=int(s))
        for a, f, s in zip(admitted, follow_up_days, seconds_in_day)
    ]

    insurance: list[str | None] = []
    for a in age:
        u = rng.random()
        if u < (0.16 if a < 30 else 0.09):
            insurance.append(None)
        elif a >= 65 and u < 0.85:
            insurance.append("Medicare")
        elif u < 0.25:
            insurance.append("Medicaid")
        else:
            insurance.append(PRIVATE_INSURERS[rng.integers(len(PRIVATE_INSURERS))])

    columns = {
        "patient_id": pa.array(patient_id, pa.int32()),
        "name": pa.array(names, pa.string()),
        "email": pa.array(emails, pa.string()),
        "sex": pa.array(sex.tolist(), pa.string()),
        "age": pa.array(age, pa.int32()),
        "birth_year": pa.array(birth_year, pa.int16()),
        "smoker": pa.array(smoker, pa.bool_()),
        "diagnosis": pa.array(diagnosis.tolist(), pa.string()),
        "visits": pa.array(visits, pa.int32()),
        "bmi": pa.array(bmi, pa.float64(), mask=bmi_null),
        "bill_amount": pa.array([Decimal(f"{b:.2f}") for b in bill_amount], pa.decimal128(10, 2)),
        "admitted": pa.array(admitted, pa.date32()),
        "last_seen": pa.array(last_seen, pa.timestamp("us")),
        "insurance": pa.array(insurance, pa.string()),
    }
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def main(argv: list[str]) -> None:
    """Write the table to the path given, or to the bundled location."""
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(make_patients(), out, compression="zstd")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv)
