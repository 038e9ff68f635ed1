#!/usr/bin/env bash
# The quick start at float32, at mixed_bfloat16, and at float32 with CifarNet's composite
# LRN (a change of round-off only, benchmarks/composite_lrn.py), seeds 0-2, each final
# checkpoint also scored on the full CIFAR-10 test split (10,000 images): how far the
# quick start's accuracy moves with the arithmetic (README "Mixed precision",
# benchmarks/results/precision_quickstart.md). About 90 min on an idle 2-core machine.
# Usage: bash benchmarks/precision_quickstart.sh [WORK [TEST_RECORDS]]
#   WORK: where the runs go (default ../mentornet_reproduce/precision_quickstart);
#   TEST_RECORDS: a directory of the full test split's records, as
#   prepare_noisy_cifar.py writes them (default ../mentornet_reproduce/data/allimg/cifar10/val,
#   made by benchmarks/reproduce.py --protocol=paper).
# (SEEDS, "0 1 2" by default; STEPS and EVERY go to quickstart.sh.)
# Prints one line per run: contender seed method demo-test-accuracy full-test-accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="$(realpath -m "${1:-../mentornet_reproduce/precision_quickstart}")"
TEST="$(realpath -m "${2:-../mentornet_reproduce/data/allimg/cifar10/val}")"
mkdir -p "$WORK"
[ -d "$TEST" ] || { echo "precision_quickstart: no test records in $TEST" >&2; exit 2; }
for seed in ${SEEDS:-0 1 2}; do
  for contender in float32 mixed_bfloat16 composite_lrn; do
    dir="$WORK/${contender}_seed${seed}"
    case "$contender" in
      composite_lrn) PYTHON="python benchmarks/composite_lrn.py" bash commands/quickstart.sh "$dir" --seed="$seed" ;;
      *) bash commands/quickstart.sh "$dir" --seed="$seed" --precision="$contender" ;;
    esac >"$dir.log" 2>&1 || { echo "precision_quickstart: $dir failed, see $dir.log" >&2; exit 1; }
    for run in baseline mentornet_pd; do
      rm -f "$dir/$run/eval_full.csv"
      python code/cifar_eval.py --studentnet=inception --checkpoint_dir="$dir/$run" \
        --data_dir="$TEST" --eval_once --batch_size=500 \
        --output_csv_file="$dir/$run/eval_full.csv" --eval_dir="$dir/$run/eval_full" >>"$dir.log" 2>&1
      echo "$contender $seed $run $(tail -n1 "$dir/$run/eval.csv" | cut -d, -f2)" \
           "$(tail -n1 "$dir/$run/eval_full.csv" | cut -d, -f2)"
    done
  done
done
