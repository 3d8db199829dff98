#!/usr/bin/env bash
# The main job: set up the environment if needed, then fine-tune the pretrained MiniLM encoder on
# ATIS from the same weights (full data; DataDiet(keep=0.5); full data for fewer epochs in the
# pruned run's time), evaluating after every epoch, and print and plot accuracy against
# wall-clock time for each.
# Extra arguments go to `datadiet demo` (see `datadiet demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec datadiet demo "$@"
