#!/usr/bin/env bash
# Runs the API server benchmark (see bench/apiserver.py and docs/benchmarks.md).
# Arguments go to bench/apiserver.py; after `--` they go to kbench.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/apiserver.py "$@"
