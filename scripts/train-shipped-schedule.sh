#!/usr/bin/env bash
# Train a model on exactly the schedule of the shipped models (README, "The shipped models"):
# a 4000-step cosine run shortened to 3000 at step 700, lengthened to 6000 at step 3000, to 12000
# at step 6000 and shortened to 9600 at step 6100 (every change is recorded in state.json and
# about.json). `default` and `roipool` were trained this way by hand; this runs the five phases.
#
# usage: scripts/train-shipped-schedule.sh DIR [flags of the first `npm run train`, e.g. --pooler roiWarp]
#
# Resumable: run the same command again after a stop (Ctrl-C, a killed process, a new session) and
# it continues DIR from its last checkpoint in the phase that step belongs to. The flags are used
# only when DIR has no checkpoint yet (a resumed run keeps the checkpoint's settings).
set -euo pipefail
if [ $# -lt 1 ] || [ "${1:0:1}" = "-" ]; then
  echo "usage: $0 DIR [npm run train flags for a new run, e.g. --pooler roiWarp]" >&2
  exit 2
fi
dir=$1
shift
cd "$(dirname "$0")/.."
train() { npm run --silent train -- --out "$dir" "$@"; }
step() { node -e 'try { console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).step) } catch { console.log(-1) }' "$dir/state.json"; }

s=$(step)
if [ "$s" -lt 0 ]; then train --steps 4000 --stop-after 700 "$@"; s=$(step); fi
if [ "$s" -lt 700 ]; then train --resume --stop-after 700; s=$(step); fi
if [ "$s" -lt 3000 ]; then train --resume --steps 3000; s=$(step); fi
if [ "$s" -lt 6000 ]; then train --resume --steps 6000; s=$(step); fi
if [ "$s" -lt 6100 ]; then train --resume --steps 12000 --stop-after 6100; s=$(step); fi
if [ "$s" -lt 9600 ]; then train --resume --steps 9600; s=$(step); fi
echo "[schedule] $dir is at step $s of 9600: ship it with npm run ship -- --run $dir …" >&2
