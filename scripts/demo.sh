#!/usr/bin/env bash
# The main job: set up the environment if needed, then fine-tune the pretrained MiniLM encoder on
# ATIS twice from the same weights (full data, and DataDiet(keep=0.5)), evaluating after every
# epoch, and print and plot accuracy against wall-clock time for both.
# Extra arguments go to `datadiet demo` (see `datadiet demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec datadiet demo "$@"
