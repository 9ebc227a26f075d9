#!/usr/bin/env bash
# Trains the two-lab model (the embedded default since 2026-12-01: scripts/train-default-model.sh
# runs this with OUT=resources/models/default.pt) on two labs with the project's own trainer,
# into OUT (default ../scratch/two-lab/model.pt):
#   - the NIH cells of ../shared/data/nih-cells (P. falciparum, black-surround crops);
#   - the cells of the IML fields of ../shared/data/iml-fields (P. vivax, another lab and
#     microscope), cut from the fields by `segment --annotations --export-crops`: every
#     parasitized crop and a seeded sample of 4,000 uninfected ones (of 18,616; 1 : 82), so that
#     neither lab swamps the other. Each field is one "patient" of the split.
#
#   scripts/train-two-lab-model.sh            # uses build/app/malarialens-cli (builds it)
#   NORMALIZE=canonical-grey OUT=/tmp/grey.pt scripts/train-two-lab-model.sh
#   STAGE1=/tmp/stage1.pt OUT=/tmp/m.pt scripts/train-two-lab-model.sh
#                                             # the lab-balanced second stage only, from STAGE1
#   (OUT must not be STAGE1: stage 2 reads stage 1's card and history after training)
#   STAGE2_EPOCHS=0 scripts/train-two-lab-model.sh   # stage 1 only (the model of 7561514)
#
# The second stage (STAGE2_EPOCHS, default 2; docs/MODEL.md "A lab-balanced second stage"):
# from stage 1's weights (STAGE1, or a stage 1 trained first) STAGE2_EPOCHS epochs at a third
# of the rate on the same folder, with every parasitized IML crop of the training fields
# linked IML_OVERSAMPLE (10) times, validated on exactly stage 1's held-out patients (train
# --val-patients-from), so every held-out figure stays unseen by both stages. It ranks the IML
# parasites much better but calls more debris parasitized; the rates measured on whole
# held-out fields (validation_on_fields, the last step) let the corrected parasitemia of a
# field count for that.
#
# Recipe: the canonical cell input (--normalize canonical-lab: cell found on any surround,
# one scale, surround painted black, Reinhard stain transfer in L*a*b* to the NIH cells'
# statistics; canonical-grey measured 1 point worse on NIH, docs/MODEL.md), the cross-lab
# augmentation preset (stain, exposure/gamma, defocus, scale, surround colour, noise, JPEG, on
# half of the cells), class-balanced sampling, BatchNorm statistics recomputed after every
# epoch over 3,000 augmented training cells (without it the eval-mode accuracy collapsed every
# 2-3 epochs), Adam 3e-4, batch 100, rate halved after 2 epochs without a better validation
# loss, early stopping (patience 6, best weights restored), patient/field-grouped split (20 %,
# seed 42), the folders' own labels only (--no-corrections). Then the model's domain (how each
# lab's cells look) is measured into its card (`domain --write`), and each lab's held-out
# figures with the held-out patients' names (scripts/cross-lab-eval.py --write-card).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
SHARED="${SHARED:-$ROOT/../shared/data}"
EPOCHS="${EPOCHS:-20}"
STAGE2_EPOCHS="${STAGE2_EPOCHS:-2}"
IML_OVERSAMPLE="${IML_OVERSAMPLE:-10}"
NORMALIZE="${NORMALIZE:-canonical-lab}"
THREADS="${THREADS:-2}"
OUT="${OUT:-$ROOT/../scratch/two-lab/model.pt}"
mkdir -p "$(dirname "$OUT")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
CLI="$BUILD_DIR/app/malarialens-cli"

if [ ! -x "$CLI" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
  ninja -C "$BUILD_DIR" malarialens-cli
fi

# The IML field crops, as the classifier sees field cells.
"$CLI" segment "$SHARED/iml-fields/images" --annotations "$SHARED/iml-fields/annotations.json" \
  --export-crops "$WORK/iml-crops" --no-classify --threads "$THREADS" >/dev/null

# One training folder of links (no image is copied): every NIH cell, every parasitized IML crop,
# 4,000 uninfected IML crops drawn with a fixed seed.
/usr/bin/python3 - "$SHARED/nih-cells" "$WORK/iml-crops" "$WORK/combined" <<'PY'
import os, random, sys
nih, iml, out = sys.argv[1:]
random.seed(1)
for cls in ("Parasitized", "Uninfected"):
    os.makedirs(f"{out}/{cls}", exist_ok=True)
    for f in os.listdir(f"{nih}/{cls}"):
        os.symlink(f"{nih}/{cls}/{f}", f"{out}/{cls}/{f}")
for f in os.listdir(f"{iml}/Parasitized"):
    os.symlink(f"{iml}/Parasitized/{f}", f"{out}/Parasitized/{f}")
for f in random.sample(sorted(os.listdir(f"{iml}/Uninfected")), 4000):
    os.symlink(f"{iml}/Uninfected/{f}", f"{out}/Uninfected/{f}")
PY

RECIPE=(--arch se --batch-size 100 --patience 6 --split patient --seed 42
  --augment-preset cross-lab --balance-classes --normalize "$NORMALIZE" --lr-patience 2
  --batchnorm-cells 3000 --no-corrections --threads "$THREADS")

if [ "$STAGE2_EPOCHS" -eq 0 ]; then
  # Stage 1 only.
  "$CLI" train "$WORK/combined" "${RECIPE[@]}" --epochs "$EPOCHS" --learning-rate 0.0003 \
    --val-fraction 0.2 --out "$OUT" "$@"
else
# Stage 1: both labs as they come.
if [ -z "${STAGE1:-}" ]; then
  STAGE1="$WORK/stage1.pt"
  "$CLI" train "$WORK/combined" "${RECIPE[@]}" --epochs "$EPOCHS" --learning-rate 0.0003 \
    --val-fraction 0.2 --out "$STAGE1" "$@"
  # Its held-out patients into its card (split.val_patients), for stage 2's validation.
  "$CLI" evaluate "$WORK/combined" --model "$STAGE1" --validation-split --no-corrections --json \
    --threads "$THREADS" >"$WORK/stage1-held-out.json"
  /usr/bin/python3 - "${STAGE1%.pt}.json" "$WORK/stage1-held-out.json" <<'PY'
import json, sys
card_path, held_path = sys.argv[1:]
card = json.load(open(card_path))
card["split"]["val_patients"] = sorted(p["id"] for p in json.load(open(held_path))["patients"])
json.dump(card, open(card_path, "w"), indent=2)
PY
fi

# Stage 2: the same folder, the training fields' parasitized IML crops linked IML_OVERSAMPLE
# times (named C<field>_dup<k>_..., so each copy keeps its field), validated on stage 1's
# held-out patients.
/usr/bin/python3 - "$WORK/combined" "$WORK/balanced" "${STAGE1%.pt}.json" "$IML_OVERSAMPLE" <<'PY'
import json, os, sys
combined, out, card, times = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
held = set(json.load(open(card))["split"]["val_patients"])
for cls in ("Parasitized", "Uninfected"):
    os.makedirs(f"{out}/{cls}")
    for f in os.listdir(f"{combined}/{cls}"):
        target = os.readlink(f"{combined}/{cls}/{f}")
        os.symlink(target, f"{out}/{cls}/{f}")
        field = f.split("_PA", 1)[0]  # IML crops: C<field>_PA<field>_cell...
        if cls == "Parasitized" and "_PA" in f and field not in held:
            for k in range(1, times):
                os.symlink(target, f"{out}/{cls}/{f.replace('_PA', f'_dup{k}_PA', 1)}")
PY
"$CLI" train "$WORK/balanced" "${RECIPE[@]}" --epochs "$STAGE2_EPOCHS" --learning-rate 0.0001 \
  --init-from "$STAGE1" --val-patients-from "$STAGE1" --out "$OUT" "$@"
# One history for the model (the training curves the app shows): stage 1's epochs, then stage
# 2's numbered on from them. (Its card keeps stage 1's card under training.initialized_from.)
/usr/bin/python3 - "${STAGE1%.pt}.history.csv" "${OUT%.pt}.history.csv" <<'PY'
import os, sys
first, second = sys.argv[1:]
if os.path.exists(first):
    head, *rows1 = open(first).read().splitlines()
    _, *rows2 = open(second).read().splitlines()
    rows2 = [f"{len(rows1) + int(r.split(',', 1)[0])},{r.split(',', 1)[1]}" for r in rows2]
    open(second, "w").write("\n".join([head] + rows1 + rows2) + "\n")
PY
fi

# The model's domain: how each lab's cells look, and the spread of its outputs on them.
"$CLI" domain --model "$OUT" --source "nih=$SHARED/nih-cells" \
  --source "iml=$WORK/iml-crops" --threads "$THREADS" --write

# Each lab's own figures on the patients and fields the training held out, with their
# confusion counts, into the card (validation_by_source): the trainer saw one folder of links,
# so it cannot tell the labs apart; the corrected parasitemia uses each lab's own rates.
"$CLI" evaluate "$WORK/combined" --model "$OUT" --validation-split --no-corrections --json \
  --threads "$THREADS" >"$WORK/held-out.json"
"$CLI" classify "$WORK/combined" --model "$OUT" --csv "$WORK/cells.csv" --threads "$THREADS" \
  >/dev/null
/usr/bin/python3 "$ROOT/scripts/cross-lab-eval.py" "$WORK/cells.csv" \
  --patients "$WORK/held-out.json" --write-card "${OUT%.pt}.json"

# The IML rates on every detection of the held-out fields, debris included (the crop figures
# above count annotated cells only), into the card's validation_on_fields: segment and the
# Fields page correct a field's count with them.
/usr/bin/python3 "$ROOT/scripts/link-held-out.py" "${OUT%.pt}.json" "$SHARED" "$WORK/held"
"$CLI" segment "$WORK/held/heldfields" --model "$OUT" --annotations \
  "$SHARED/iml-fields/annotations.json" --json --threads "$THREADS" >"$WORK/heldfields.json"
/usr/bin/python3 "$ROOT/scripts/write-field-rates.py" "$WORK/heldfields.json" iml \
  "${OUT%.pt}.json"
echo "train-two-lab-model: done: $OUT"
