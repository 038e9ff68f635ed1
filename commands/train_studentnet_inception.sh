#!/usr/bin/env bash
# The paper's grid with the inception StudentNet: each training run with its eval job
# beside it (TRAIN_DEVICE / EVAL_DEVICE pick their GPUs). See commands/grid.sh.
# Usage: bash commands/train_studentnet_inception.sh [--print]
set -euo pipefail
cd "$(dirname "$0")/.."
source commands/grid.sh
grid_main inception "$@"
