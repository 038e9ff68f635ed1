#!/usr/bin/env bash
# The original MentorMix grid (its training_mentormix_command.sh): ResNet-32 on CIFAR-10 and
# CIFAR-100 at noise 0.2, 0.4, 0.6 and 0.8, with the per-noise mixup alpha, loss percentile
# and second reweighting of commands/mentormix.tsv, each training job paired with its
# evaluation job (which scores the averaged weights, as the original's did).
#
#   --print         print the commands instead of running them
#   TRAIN_DEVICE    GPU id of the training jobs (default 0)
#   EVAL_DEVICE     GPU id of the evaluation jobs (default 1)
#   LOG_ROOT        where runs go (default runs)
#   DATASETS        default "cifar10 cifar100";  NOISES  default "0.2 0.4 0.6 0.8"
# Data come from commands/prepare_data.sh (data/<dataset>/<noise>, data/<dataset>/val).
set -euo pipefail
cd "$(dirname "$0")/.."
source commands/grid.sh  # run_pair

print_only=0
[[ "${1:-}" == "--print" ]] && print_only=1
(( print_only )) && print_header
failures=0
while IFS=$'\t' read -r dataset noise alpha percentile second; do
  [[ "${dataset}" == \#* || -z "${dataset}" ]] && continue
  [[ " ${DATASETS:-cifar10 cifar100} " == *" ${dataset} "* ]] || continue
  [[ " ${NOISES:-0.2 0.4 0.6 0.8} " == *" ${noise} "* ]] || continue
  log_dir="${LOG_ROOT:-runs}/resnet32/${dataset}_${noise}_mentormix_p${percentile}_a${alpha}"
  reweight=--second_reweight
  [[ "${second}" == no ]] && reweight=--nosecond_reweight
  train=(python code/cifar_train_mentormix.py --batch_size=128 --dataset_name="${dataset}"
         --trained_mentornet_dir=mentornet_models/models/mentornet_pd1_g_1/mentornet_pd
         --loss_p_percentile="${percentile}" --burn_in_epoch=10
         --data_dir="data/${dataset}/${noise}" --train_log_dir="${log_dir}"
         --studentnet=resnet32 --max_number_of_steps=200000
         --device_id="${TRAIN_DEVICE:-0}" --num_epochs_per_decay=30
         --mixup_alpha="${alpha}" "${reweight}")
  eval=(python code/cifar_eval.py --dataset_name="${dataset}" --data_dir="data/${dataset}/val"
        --checkpoint_dir="${log_dir}" --eval_dir="${log_dir}/eval"
        --output_csv_file="${log_dir}/eval.csv" --studentnet=resnet32
        --device_id="${EVAL_DEVICE:-1}")
  if (( print_only )); then
    echo "${train[*]}"
    echo "${eval[*]}"
  else
    run_pair "${log_dir}" "${train[@]}" -- "${eval[@]}" || failures=$((failures + 1))
  fi
done < commands/mentormix.tsv
if (( failures > 0 )); then
  echo "mentormix grid: ${failures} run(s) failed" >&2
  exit 1
fi
