#!/usr/bin/env bash
# The test command: set up the environment if needed, then run the whole suite, slow end-to-end
# tests included. Extra arguments go to pytest (e.g. `-m "not slow"` while editing).
# DATADIET_VENV / DATADIET_CONSTRAINTS pick another stack (see scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${DATADIET_VENV:-.venv}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "$VENV/bin/python" -m pytest -q "$@"
