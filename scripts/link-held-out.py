#!/usr/bin/python3
"""Links a model's held-out sets, as its card names them, into one folder (never copies).

    scripts/link-held-out.py CARD.json SHARED_DATA OUT_DIR

The card's split.val_patients names the patients and fields the training held out. Into
OUT_DIR go symbolic links:
  heldfields/   the IML fields held out (PA171714.JPG is field C171714);
  trainfields/  every other IML field;
  nih-held/Parasitized, nih-held/Uninfected
                the cells of the held-out NIH patients named C<n>P<n> (the set docs/MODEL.md's
                held-out NIH figures were measured on).
Links that already exist are kept, so a second run adds nothing. Prints the counts.
Used by train-two-lab-model.sh (field rates) and calibration-proxy.sh (the proxy's sets).
"""
import json
import os
import re
import sys

NIH_PATIENT = re.compile(r"^(C\d+[a-zA-Z]?P\d+)")


def field_id(name):
    """PA171714.JPG -> C171714, the id the split names IML fields by."""
    return "C" + os.path.splitext(name)[0][2:]


def link(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if not os.path.lexists(dst):
        os.symlink(src, dst)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    card, data, out = sys.argv[1:]
    held = set(json.load(open(card))["split"]["val_patients"])
    counts = {"trainfields": 0, "heldfields": 0, "nih-held": 0}
    images = os.path.join(data, "iml-fields", "images")
    for name in sorted(os.listdir(images)):
        side = "heldfields" if field_id(name) in held else "trainfields"
        link(os.path.join(images, name), os.path.join(out, side, name))
        counts[side] += 1
    for cls in ("Parasitized", "Uninfected"):
        folder = os.path.join(data, "nih-cells", cls)
        for name in sorted(os.listdir(folder)):
            m = NIH_PATIENT.match(name)
            if m and m.group(1) in held:
                link(os.path.join(folder, name), os.path.join(out, "nih-held", cls, name))
                counts["nih-held"] += 1
    print("held-out sets:", ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
