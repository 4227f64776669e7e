#!/usr/bin/env bash
# Create the reference virtualenv with smartnoise-synth 1.0.8 (MST, AIM) for the benchmark.
#
#   bash bench/setup_reference.sh            # venv in $HOME/.cache/duckdb-synth-bench/ref
#   DUCKDB_SYNTH_REF_VENV=/some/dir bash bench/setup_reference.sh
#   PYTHON=python3.12 bash bench/setup_reference.sh   # interpreter that builds the venv
#
# smartnoise-synth is a benchmark reference ONLY: it is never a dependency of duckdb_synth
# and lives in its own venv, away from the project's environment.
#
# Why --no-deps: smartnoise-synth 1.0.8 declares opacus (pulls in torch) and pac-synth,
# which only its GAN and pacsynth synthesizers import. The MST and AIM import path needs:
#   mbi<2 (Private-PGM; itself needs jax, jaxlib, optax, chex, networkx, attrs),
#   smartnoise-sql (approx_bounds, odometer, query parser; brings opendp<0.15, sqlalchemy,
#   pyyaml, pandas<3, antlr4-python3-runtime==4.9.3, graphviz), disjoint-set, Faker,
#   networkx, scipy, numpy; pyarrow to read and write Parquet.
# torch is never installed. `pip check` will report opacus and pac-synth missing: expected.
set -euo pipefail

VENV="${DUCKDB_SYNTH_REF_VENV:-$HOME/.cache/duckdb-synth-bench/ref}"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "creating venv $VENV with $("$PY" --version 2>&1)"
    mkdir -p "$(dirname "$VENV")"
    "$PY" -m venv "$VENV"
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip

# Runtime dependencies of snsynth's MST/AIM path, with their own dependencies.
"${PIP[@]}" install -q \
    'mbi>=1.1.0,<2' \
    'opendp>=0.14.1,<0.15' \
    'smartnoise-sql>=1.0.10,<2' \
    'disjoint-set>=0.9.0,<0.10.0' \
    'Faker>=17.0.0' \
    networkx \
    'sqlalchemy>=2,<3' \
    'pyyaml>=6.0.1,<7' \
    'pandas>=2.0.1,<3' \
    numpy \
    scipy \
    pyarrow

# smartnoise-synth itself, without opacus/torch and pac-synth.
"${PIP[@]}" install -q --no-deps 'smartnoise-synth==1.0.8'

# Smoke test: the import path reference_mst.py uses.
"$VENV/bin/python" - <<'EOF'
import importlib.metadata as md
from snsynth import Synthesizer  # noqa: F401
from snsynth.mst.mst import MSTSynthesizer  # noqa: F401
from snsynth.aim import AIMSynthesizer  # noqa: F401
for p in ("smartnoise-synth", "smartnoise-sql", "mbi", "opendp", "jax", "pandas", "numpy"):
    print(f"  {p}=={md.version(p)}")
try:
    md.version("torch")
    raise SystemExit("torch is installed in the reference venv; it should not be")
except md.PackageNotFoundError:
    pass
EOF
echo "reference venv ready: $VENV/bin/python"
