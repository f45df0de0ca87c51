#!/usr/bin/env bash
# Create bench/.venv-mlflow with the MLflow version the benchmark compares against.
# Idempotent: a second run only checks the installed version, so it takes a second.
set -euo pipefail

MLFLOW_VERSION="${MLFLOW_VERSION:-3.17.2}"
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$BENCH_DIR/.venv-mlflow"
PY="$VENV/bin/python"

installed_version() {
    "$PY" -c 'import importlib.metadata as m; print(m.version("mlflow"))' 2>/dev/null || true
}

if [[ -x "$PY" && "$(installed_version)" == "$MLFLOW_VERSION" ]]; then
    echo "mlflow $MLFLOW_VERSION already installed in $VENV"
    exit 0
fi

[[ -x "$PY" ]] || python3 -m venv "$VENV"
"$PY" -m pip install --quiet --upgrade pip
# psutil is optional for the bench (it reads /proc otherwise) but mlflow pulls it in anyway.
"$PY" -m pip install "mlflow==$MLFLOW_VERSION" psutil
echo "installed mlflow $(installed_version) in $VENV"
