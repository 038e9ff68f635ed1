#!/usr/bin/env bash
# Quick start: does MentorNet help? Trains CifarNet ("inception") twice on the embedded
# demo data (5,000 CIFAR-10 training images, 40% label noise), with the same seed and the
# same flags: once as the baseline (every example weighs 1), once with the shipped
# MentorNet PD curriculum. Each saves a checkpoint every 300 steps; each checkpoint is
# evaluated on the 1,000 demo test images; one picture draws both runs (test accuracy per
# checkpoint, the clean labels' share of the weight, the training loss, the learning
# rate), and the last line names both final accuracies and the picture. About 7 min on an
# idle 2-core machine; README's quick start gives the measured times and accuracies.
# Usage: bash commands/quickstart.sh [directory [training flags...]]
#   directory: default runs/quickstart; training flags go to both training scripts, for
#   example --precision=mixed_bfloat16 (the checkpoints are evaluated in float32).
# (STEPS and EVERY, 1500 and 300 by default, shorten it for a test; PYTHON, the command
# that runs the two training scripts, "python" by default.)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR="${1:-runs/quickstart}"
EXTRA=("${@:2}")
STEPS="${STEPS:-1500}"
EVERY="${EVERY:-300}"
read -r -a PY <<< "${PYTHON:-python}"
COMMON=(--dataset_name=cifar10 --studentnet=inception --data_dir=data/demo/cifar10/0.4
        --batch_size=128 --max_number_of_steps="${STEPS}" --num_epochs_per_decay=30
        --learning_rate=0.1 --log_every_n_steps="${EVERY}" --save_checkpoint_steps="${EVERY}"
        --save_summaries_steps=50
        --seed=0 ${EXTRA[@]+"${EXTRA[@]}"})

echo "quick start: 1/2, the baseline (every example weighs 1)"
"${PY[@]}" code/cifar_train_baseline.py "${COMMON[@]}" --train_log_dir="${RUN_DIR}/baseline"
echo "quick start: 2/2, MentorNet PD (the shipped curriculum weighs each example)"
"${PY[@]}" code/cifar_train_mentornet.py "${COMMON[@]}" --train_log_dir="${RUN_DIR}/mentornet_pd" \
  --trained_mentornet_dir=mentornet_models/models/mentornet_pd1_g_1/mentornet_pd \
  --loss_p_percentile=0.75 --burn_in_epoch=0 --example_dropout_rates=0.5,17,0.05,83

for run in baseline mentornet_pd; do
  python code/cifar_eval.py --studentnet=inception --checkpoint_dir="${RUN_DIR}/${run}" \
    --data_dir=data/demo/cifar10/val --eval_all --batch_size=500 \
    --output_csv_file="${RUN_DIR}/${run}/eval.csv"
done

echo "quick start: checkpoints, summaries and eval.csv of each run are in" \
     "${RUN_DIR}/baseline and ${RUN_DIR}/mentornet_pd; tensorboard --logdir ${RUN_DIR}" \
     "shows both"
python code/plot_runs.py "${RUN_DIR}/baseline" "${RUN_DIR}/mentornet_pd" \
  --output="${RUN_DIR}/compared.png" --title="Quick start: 40% noisy demo data, CifarNet"
