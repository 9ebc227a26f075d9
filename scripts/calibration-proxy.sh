#!/usr/bin/env bash
# The lab-calibration proxy of docs/MODEL.md ("Calibrating to a lab"), one run per seed:
#   1. calibrate --budget 400 on the IML fields the default model did not hold out (158),
#   2. segment --annotations with the calibrated model on its 30 held-out IML fields,
#   3. evaluate the calibrated model on its held-out NIH patients' cells (forgetting),
# then one summary line per seed. The held-out sets come from the embedded model's card
# (split.val_patients); the data are only linked, never copied or modified.
#
#   scripts/calibration-proxy.sh BUILD_DIR OUT_DIR [SEED ...] [-- extra calibrate options]
#   e.g. scripts/calibration-proxy.sh build /tmp/proxy 42 7 123 1 2
#        scripts/calibration-proxy.sh build /tmp/proxy 42 -- --start-share 0.5
#
# Each seed takes one to two minutes on 2 cores. OUT_DIR must be outside the repository.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { sed -n 2,13p "$0"; exit 2; }
build="$(cd "$1" && pwd)"; out="$2"; shift 2
seeds=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do seeds+=("$1"); shift; done
[ $# -gt 0 ] && shift # the "--"
[ ${#seeds[@]} -gt 0 ] || seeds=(42)
data="${MALARIALENS_SHARED_DATA:-$here/../shared/data}"
cli="$build/app/malarialens-cli"
ann="$data/iml-fields/annotations.json"
mkdir -p "$out"

# The held-out sets, from the card (scripts/link-held-out.py): trainfields 158, heldfields 30,
# nih-held 2,666 cells of the 16 held-out patients named C<n>P<n>.
/usr/bin/python3 "$here/scripts/link-held-out.py" "$here/resources/models/default.json" "$data" "$out"

for seed in "${seeds[@]}"; do
    run="$out/seed-$seed"; mkdir -p "$run"
    "$cli" calibrate "$out/trainfields" --annotations "$ann" --budget 400 --seed "$seed" \
        --out "$run/lab.pt" --json "$@" > "$run/calibrate.json" 2> "$run/calibrate.err"
    "$cli" segment "$out/heldfields" --model "$run/lab.pt" --annotations "$ann" \
        --csv "$run/held.csv" --json > "$run/held.json" 2> "$run/held.err"
    "$cli" evaluate "$out/nih-held" --model "$run/lab.pt" --json > "$run/nih.json" 2> "$run/nih.err"
    /usr/bin/python3 - "$run" "$seed" <<'PY'
import json, os, sys
run, seed = sys.argv[1:]
c = json.load(open(os.path.join(run, "calibrate.json")))
h = json.load(open(os.path.join(run, "held.json")))["counts"]
n = json.load(open(os.path.join(run, "nih.json")))
t = c["lab_threshold"]
print(f"seed {seed}: kept {c['weights']} weights, lab threshold {t['threshold']} "
      f"(estimated FP {t['false_positive_rate_estimated']:.4f}); held-out fields: "
      f"Se {h['infected_flagged']}/{h['infected_truth']} = "
      f"{h['infected_flagged'] / h['infected_truth']:.3f}, healthy FP "
      f"{h['healthy_flagged']}/{h['healthy_matched']} = "
      f"{h['healthy_flagged'] / h['healthy_matched']:.4f}; NIH held-out AUC {n['auc']:.4f}")
PY
done
