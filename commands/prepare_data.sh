#!/usr/bin/env bash
# Makes every data directory the experiment grids read:
#   data/{cifar10,cifar100}/{0.2,0.4,0.6,0.8}/  noisy training records (0.6: MentorMix's)
#   data/{cifar10,cifar100}/val/            clean test records
# CIFAR is read through tensorflow-datasets: set TFDS_DATA_DIR (or pass a directory as
# the first argument) to use a prepared copy offline; otherwise TFDS downloads it.
# Extra arguments go to prepare_noisy_cifar.py (e.g. --overwrite, --seed=1).
set -euo pipefail
cd "$(dirname "$0")/.."
TFDS_DIR="${1:-${TFDS_DATA_DIR:-}}"
shift || true
EXTRA=()
[[ -n "${TFDS_DIR}" ]] && EXTRA+=("--tfds_data_dir=${TFDS_DIR}")
for dataset in cifar10 cifar100; do
  for noise in 0.2 0.4 0.6 0.8; do
    python code/prepare_noisy_cifar.py --dataset_name="${dataset}" \
      --noise_fraction="${noise}" --noise_type=uniform --seed=0 \
      --output_dir=data "${EXTRA[@]}" "$@"
  done
done
