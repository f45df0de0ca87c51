#!/usr/bin/env bash
# What `make bench-serving` needs beyond the project venv: the load generator `hey` (Debian's
# package: a compiled client, so the benchmark measures the servers, not itself) and MLflow's
# venv (bench/setup_mlflow.sh). Idempotent: a second run only checks.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v hey >/dev/null 2>&1; then
    SUDO=""
    [[ "$(id -u)" -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq hey
fi
echo "hey $(dpkg-query -W -f '${Version}' hey 2>/dev/null || echo '(version unknown)') at $(command -v hey)"

bash "$BENCH_DIR/setup_mlflow.sh"
