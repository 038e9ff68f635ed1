#!/usr/bin/env bash
# The 80%-noise issue's runs (README "The 80%-noise claim at three scales"), one
# after the other, each resumed where it stopped. Runs from a frozen copy of the
# source (WORK/src-<commit>), so that editing the checkout cannot change a run
# midway, and hard-links every checkpoint of the long runs into WORK/archive/ as it
# appears (the trainer keeps only the newest 10; the analysis needs the ones near
# the burn-in epoch).
#
#   bash benchmarks/reproduce_queue.sh            start or resume, in the background
#   kill -TERM -- -$(cat WORK/queue.pid)          stop (every run saves and resumes)
#
# WORK defaults to ../mentornet_reproduce (beside the checkout, outside its tracked
# files); TFDS to ../shared/tensorflow_datasets; the venv is the active one.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="$(realpath -m "${WORK:-../mentornet_reproduce}")"
TFDS="$(realpath -m "${TFDS:-../shared/tensorflow_datasets}")"
SHA="$(git rev-parse --short HEAD)"
mkdir -p "$WORK/results"
if [ ! -d "$WORK/src-$SHA" ]; then
  mkdir -p "$WORK/src-$SHA"
  git archive HEAD | tar -x -C "$WORK/src-$SHA"
fi
ln -sfn "src-$SHA" "$WORK/src"
[ -e "$WORK/results/reproduce_cpu.json" ] || cp benchmarks/results/reproduce_cpu.json "$WORK/results/"
for f in benchmarks/results/reproduce_cpu_scale.json; do
  [ -e "$WORK/results/$(basename "$f")" ] || [ ! -e "$f" ] || cp "$f" "$WORK/results/"
done
cat > "$WORK/queue.sh" <<QUEUE
#!/usr/bin/env bash
set -uo pipefail
cd "$WORK/src"
export PYTHONPATH="$WORK/src/code"
R="python benchmarks/reproduce.py --work_dir=$WORK --tfds_data_dir=$TFDS --results_dir=$WORK/results"
( while true; do
    for f in "$WORK"/runs/v3_5000img_*/*/model.ckpt-* "$WORK"/runs/v3_allimg_*/*/model.ckpt-*; do
      [ -f "\$f" ] || continue
      case "\$f" in *_temp*) continue;; esac
      d="$WORK/archive/\$(basename "\$(dirname "\$(dirname "\$f")")")/\$(basename "\$(dirname "\$f")")"
      mkdir -p "\$d"; [ -e "\$d/\$(basename "\$f")" ] || ln "\$f" "\$d/" 2>/dev/null || true
    done; sleep 20; done ) &
step() { echo "== \$(date -Is) \$*"; "\$@"; rc=\$?; echo "== \$(date -Is) exit \$rc"; [ \$rc -eq 143 ] && exit 143; return 0; }
step \$R --protocol=cpu_1k --noises=0.8 --methods=mentornet_dd_as_run,mentornet_dd --repeat_methods=mentornet_dd_as_run --repeat_seeds=1,2
step \$R --protocol=cpu_5k_long --repeat_seeds=
step \$R --protocol=cpu_1k --noises=0.8 --methods=baseline --repeat_seeds=
step \$R --protocol=paper
step \$R --protocol=cpu_5k_long
step \$R --protocol=cpu_1k --methods=mentornet_pd,mentornet_dd_as_run --repeat_methods=mentornet_pd,mentornet_dd_as_run --repeat_seeds=1,2
echo "== \$(date -Is) queue done"
kill %1 2>/dev/null || true
QUEUE
chmod +x "$WORK/queue.sh"
cd "$WORK"
setsid nohup ./queue.sh >> queue.log 2>&1 < /dev/null &
echo $! > "$WORK/queue.pid"
echo "queue started (pid $(cat "$WORK/queue.pid")); log: $WORK/queue.log"
