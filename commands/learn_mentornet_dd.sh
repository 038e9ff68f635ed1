#!/usr/bin/env bash
# Learns the data-driven curriculum "MentorNet DD" on real CIFAR-10 with 20% uniform
# noise, as shipped in mentornet_models/models/nl_0.2_percentile_90/mentornet_dd:
#   1. noisy CIFAR-10 (data/cifar10/0.2), with clean labels and ids;
#   2. a CifarNet StudentNet trained without curriculum up to the burn-in point
#      (scaled for a CPU: 3,000 steps of 128, about 8 epochs, 10 min on 2 cores);
#   3. per-example losses on a seeded 10% subset, labelled epoch 18 (the burn-in epoch
#      the DD runs use);
#   4. data-driven MentorNet data at percentiles 40..90, and the MentorNet at 90;
#   5. its README (commands, schedule, accuracy at telling clean from corrupted) and
#      its animation images/mentornet_dd.gif.
# Usage: bash commands/learn_mentornet_dd.sh [TFDS_DIR]   (or set TFDS_DATA_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
TFDS_DIR="${1:-${TFDS_DATA_DIR:-}}"
RUN=runs/dd_studentnet_nl_0.2
DUMP=mentornet_data/nl_0.2.txt
DATA=mentornet_data/dd/nl_0.2_percentile_90
MODEL=mentornet_models/models/nl_0.2_percentile_90/mentornet_dd

if [[ ! -d data/cifar10/0.2 ]]; then
  python code/prepare_noisy_cifar.py --dataset_name=cifar10 --noise_fraction=0.2 \
    --seed=0 --output_dir=data ${TFDS_DIR:+--tfds_data_dir="${TFDS_DIR}"}
fi
student=(python code/cifar_train_baseline.py --dataset_name=cifar10 --studentnet=inception
         --data_dir=data/cifar10/0.2 --train_log_dir="${RUN}" --max_number_of_steps=3000
         --num_epochs_per_decay=200 --save_interval_secs=600 --log_every_n_steps=250
         --seed=0)
dump=(python code/cifar_eval.py --mode=dump --checkpoint_dir="${RUN}"
      --data_dir=data/cifar10/0.2 --dump_file="${DUMP}" --dump_fraction=0.1
      --dump_seed=0 --dump_epoch=18)
generate=(python code/training_mentornet/data_generator.py --vstar_fn=data_driven
          --input_csv_filename="${DUMP}" --outdir=mentornet_data/dd --seed=0)
train=(python code/training_mentornet/train.py --data_path="${DATA}"
       --train_dir="${MODEL}" --max_step_train=30000 --seed=0)
"${student[@]}"
mkdir -p mentornet_data
rm -f "${DUMP}"
"${dump[@]}"
"${generate[@]}"
rm -rf "${MODEL}"
"${train[@]}"
python code/training_mentornet/evaluate.py --model_dir="${MODEL}" --vstar_fn=data_driven \
  --data_path="${DATA}" \
  --readme_commands="${student[*]}; ${dump[*]}; ${generate[*]}; ${train[*]}" \
  --readme_note="StudentNet schedule: CifarNet trained without curriculum (plain SGD, \
learning rate 0.1, batch 128) for 3,000 steps, about 8 epochs of CIFAR-10 with 20% uniform \
label noise (seed 0), standing in for the burn-in part (18%) of the original 120,000-step \
schedule; losses of a seeded 10% subset (5,000 examples) were dumped with the epoch column \
set to 18. Trained at the 90th loss percentile; used for CIFAR-10 and CIFAR-100 as in the \
original commands."
python code/training_mentornet/visualizer.py --model_dir="${MODEL}" \
  --output_dir=mentornet_data/dd/pictures
cp mentornet_data/dd/pictures/plot.gif images/mentornet_dd.gif
