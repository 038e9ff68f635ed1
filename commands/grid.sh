#!/usr/bin/env bash
# The paper's experiment grid for one StudentNet (sourced by train_studentnet_resnet.sh
# and train_studentnet_inception.sh): for cifar10 and cifar100 at noise 0.2, 0.4, 0.8, a
# baseline run and MentorNet runs with the self-paced, focal-loss, PD and DD curricula,
# each paired with its evaluation job.
#
#   --print         print the commands instead of running them
#   TRAIN_DEVICE    GPU id of the training jobs (default 0)
#   EVAL_DEVICE     GPU id of the evaluation jobs (default 1)
#   LOG_ROOT        where runs go (default runs)
#   DATASETS        default "cifar10 cifar100";  NOISES  default "0.2 0.4 0.8"
#   METHODS         default "baseline self_paced focal_loss mentornet_pd mentornet_dd
#                   mentornet_dd_as_run" (as_run: the percentile the original
#                   commands really used, 0.7; see commands/methods.tsv)
# Data come from commands/prepare_data.sh (data/<dataset>/<noise>, data/<dataset>/val).
set -euo pipefail

# run_pair LOG_DIR TRAIN_COMMAND... -- EVAL_COMMAND...
# Runs a trainer and its evaluation job side by side (logs in LOG_DIR). When the
# trainer fails, the evaluation job is stopped and the failure reported; when it
# succeeds, the evaluation job finishes the last checkpoint. Returns the trainer's
# exit code.
run_pair() {
  local log_dir="$1"; shift
  local train=()
  while [[ "$1" != "--" ]]; do train+=("$1"); shift; done
  shift
  mkdir -p "${log_dir}"
  "${train[@]}" > "${log_dir}/train.log" 2>&1 &
  local trainer=$!
  "$@" > "${log_dir}/eval.log" 2>&1 &
  local evaluator=$!
  local status=0
  wait "${trainer}" || status=$?
  if (( status != 0 )); then
    kill "${evaluator}" 2> /dev/null || true
    wait "${evaluator}" 2> /dev/null || true
    echo "grid: the trainer of ${log_dir} failed (exit ${status}); its evaluation job" \
         "was stopped; see ${log_dir}/train.log" >&2
    return "${status}"
  fi
  if ! wait "${evaluator}"; then
    echo "grid: the evaluation job of ${log_dir} failed; see ${log_dir}/eval.log" >&2
  fi
  return 0
}

# method_flags METHOD STUDENTNET NOISE: the flags of the first matching row of
# commands/methods.tsv (fails for an unknown method).
method_flags() {
  awk -F '\t' -v m="$1" -v s="$2" -v n="$3" '
    /^#/ { next }
    $1 == m && ($2 == "*" || $2 == s) && ($3 == "*" || $3 == n) { print $4; found = 1; exit }
    END { exit !found }' "$(dirname "${BASH_SOURCE[0]}")/methods.tsv"
}

# The --print header (on stderr, so that stdout stays a runnable list): what the
# commands need that a fresh clone does not have.
print_header() {
  {
    echo "# The commands below (each training run, then its evaluation job) read"
    echo "# data/<dataset>/<noise> and data/<dataset>/val, which a fresh clone does not"
    echo "# have: make them first with  bash commands/prepare_data.sh  (needs CIFAR from"
    echo "# tensorflow-datasets; the demo data in data/demo serve the quick start only)."
  } >&2
}

grid_main() {
  local studentnet="$1"; shift
  local print_only=0
  [[ "${1:-}" == "--print" ]] && print_only=1
  (( print_only )) && print_header
  local train_device="${TRAIN_DEVICE:-0}" eval_device="${EVAL_DEVICE:-1}"
  local log_root="${LOG_ROOT:-runs}"
  local steps=() failures=0
  if [[ "${studentnet}" == "inception" ]]; then
    steps=(--max_number_of_steps=120000 --num_epochs_per_decay=200)
  else
    steps=(--max_number_of_steps=39000)
  fi
  for dataset in ${DATASETS:-cifar10 cifar100}; do
    for noise in ${NOISES:-0.2 0.4 0.8}; do
      for method in ${METHODS:-baseline self_paced focal_loss mentornet_pd mentornet_dd mentornet_dd_as_run}; do
        local log_dir="${log_root}/${studentnet}/${dataset}_${noise}_${method}"
        local common=(--dataset_name="${dataset}" --studentnet="${studentnet}"
                      --data_dir="data/${dataset}/${noise}" --train_log_dir="${log_dir}"
                      --device_id="${train_device}" "${steps[@]}")
        local flags
        if ! flags=$(method_flags "${method}" "${studentnet}" "${noise}"); then
          echo "unknown method ${method} (see commands/methods.tsv)" >&2; return 1
        fi
        local script=code/cifar_train_mentornet.py
        [[ "${method}" == baseline ]] && script=code/cifar_train_baseline.py
        # shellcheck disable=SC2206  # the table's flags hold no spaces
        local train=(python "${script}" "${common[@]}" ${flags})
        local eval=(python code/cifar_eval.py --dataset_name="${dataset}"
                    --studentnet="${studentnet}" --checkpoint_dir="${log_dir}"
                    --eval_dir="${log_dir}/eval" --data_dir="data/${dataset}/val"
                    --output_csv_file="${log_dir}/eval.csv" --device_id="${eval_device}")
        if (( print_only )); then
          echo "${train[*]}"
          echo "${eval[*]}"
        else
          run_pair "${log_dir}" "${train[@]}" -- "${eval[@]}" || failures=$((failures + 1))
        fi
      done
    done
  done
  if (( failures > 0 )); then
    echo "grid: ${failures} run(s) failed" >&2
    return 1
  fi
}
