#!/usr/bin/env bash
# Runs the whole test suite (installs what it needs first). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check src tests bench
exec .venv/bin/python -m pytest -n 2 -q "$@"
