#!/usr/bin/env bash
# Quick start: trains CifarNet ("inception") with the shipped MentorNet PD curriculum on
# the embedded demo data (5,000 CIFAR-10 training images, 40% label noise), evaluates it
# on the 1,000 demo test images and prints the accuracy (0.4440). About 3 min 10 s to
# 3 min 30 s on an idle 2-core machine (about 6 min of CPU time); see README's quick start.
# Usage: bash commands/quickstart.sh [run directory]   (default: runs/quickstart)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR="${1:-runs/quickstart}"

python code/cifar_train_mentornet.py \
  --dataset_name=cifar10 --studentnet=inception \
  --data_dir=data/demo/cifar10/0.4 --train_log_dir="${RUN_DIR}" \
  --trained_mentornet_dir=mentornet_models/models/mentornet_pd1_g_1/mentornet_pd \
  --loss_p_percentile=0.75 --burn_in_epoch=0 --example_dropout_rates=0.5,17,0.05,83 \
  --batch_size=128 --max_number_of_steps=1500 --num_epochs_per_decay=30 \
  --learning_rate=0.1 --log_every_n_steps=100

python code/cifar_eval.py --studentnet=inception --dataset_name=cifar10 \
  --checkpoint_dir="${RUN_DIR}" --data_dir=data/demo/cifar10/val --eval_once \
  --output_csv_file="${RUN_DIR}/eval.csv"

echo "quick start: checkpoints, TensorBoard summaries, ${RUN_DIR}/eval.csv and its" \
     "curve ${RUN_DIR}/eval.png are in ${RUN_DIR}; look at them with:" \
     "tensorboard --logdir ${RUN_DIR}"
