#!/usr/bin/env bash
# Create bench/.venv-evidently with the Evidently version bench/drift.py compares against.
# Its own venv: Evidently pins pandas, numpy and pydantic versions the project's venv need not share.
# Idempotent: a second run only checks the installed version, so it takes a second.
set -euo pipefail

EVIDENTLY_VERSION="${EVIDENTLY_VERSION:-0.7.23}"
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$BENCH_DIR/.venv-evidently"
PY="$VENV/bin/python"

installed_version() {
    "$PY" -c 'import importlib.metadata as m; print(m.version("evidently"))' 2>/dev/null || true
}

if [[ -x "$PY" && "$(installed_version)" == "$EVIDENTLY_VERSION" ]]; then
    echo "evidently $EVIDENTLY_VERSION already installed in $VENV"
    exit 0
fi

[[ -x "$PY" ]] || python3 -m venv "$VENV"
"$PY" -m pip install --quiet --upgrade pip
# pyarrow reads the bench's Parquet files; pandas below 3, which Evidently's releases are tested with.
"$PY" -m pip install "evidently==$EVIDENTLY_VERSION" "pandas<3" pyarrow
echo "installed evidently $(installed_version) in $VENV"
