#!/usr/bin/python3
"""How well models hold up when the stain or the imaging changes: the issue-4 question of
patients "whose smears are stained or imaged differently", measured on the validation
patients of a model's own patient split.

For each shift (hue rotation, paler or stronger stain, a warm or cool colour cast, under- or
over-exposure, slight defocus) the held-out patients' cells are written, shifted, to a
scratch folder (class subfolders and file names kept, so patients are still recognised),
and `malarialens-cli evaluate` scores every model on it. The source images are only read.

    scripts/stain-shift-eval.py --cli build/app/malarialens-cli \
        --data ../shared/data/nih-cells --model embedded=resources/models/default.pt \
        --model other=path/to/model.pt [--markdown]

The validation patients are taken from the first model's card (`evaluate
--validation-split`), so every model should share that split (same seed and fraction).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import cv2
import numpy as np


def hue_shift(degrees):
    def f(bgr):
        hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
        h = hsv[:, :, 0].astype(np.int32) + int(round(degrees / 2))  # OpenCV hue: deg / 2
        hsv[:, :, 0] = np.mod(h, 180).astype(np.uint8)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    return f


def saturation_scale(factor):
    def f(bgr):
        hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV).astype(np.float32)
        hsv[:, :, 1] = np.clip(hsv[:, :, 1] * factor, 0, 255)
        return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    return f


def channel_gains(b, g, r):
    def f(bgr):
        out = bgr.astype(np.float32) * np.array([b, g, r], np.float32)
        return np.clip(out, 0, 255).astype(np.uint8)
    return f


def blur(sigma):
    def f(bgr):
        return cv2.GaussianBlur(bgr, (0, 0), sigma)
    return f


SHIFTS = [
    ("none", "unchanged copy (checks the copy matches the original figures)", lambda x: x),
    ("hue+20", "hue rotated +20 degrees", hue_shift(20)),
    ("hue-20", "hue rotated -20 degrees", hue_shift(-20)),
    ("pale", "saturation x0.6 (paler stain)", saturation_scale(0.6)),
    ("strong", "saturation x1.5 (stronger stain)", saturation_scale(1.5)),
    ("warm", "colour cast R x1.15, B x0.85", channel_gains(0.85, 1.0, 1.15)),
    ("cool", "colour cast R x0.85, B x1.15", channel_gains(1.15, 1.0, 0.85)),
    ("dark", "exposure x0.75", channel_gains(0.75, 0.75, 0.75)),
    ("bright", "exposure x1.25 (clipped)", channel_gains(1.25, 1.25, 1.25)),
    ("defocus", "Gaussian blur sigma 1 px", blur(1.0)),
]


def patient_id(file_name):
    """The patient of a NIH cell file, by the rule of core/patientid.cpp."""
    m = re.match(r"^(C\d+[A-Za-z]?P\d+)", file_name) or re.match(r"^(C\d+)(?=[^0-9]|$)",
                                                                     file_name)
    return m.group(1) if m else None


def evaluate(cli, folder, model, extra):
    cmd = [cli, "evaluate", folder, "--model", model, "--no-corrections", "--json"] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def summary(result):
    healthy = [p for p in result["patients"] if not p["truly_infected"]]
    worst_healthy = max(healthy, key=lambda p: p["predicted_infected_share"])
    worst = min(result["patients"], key=lambda p: p["cell_accuracy"])
    return {
        "accuracy": result["accuracy"],
        "auc": result["auc"],
        "max_healthy_share": worst_healthy["predicted_infected_share"],
        "max_healthy_patient": worst_healthy["id"],
        "worst_patient_accuracy": worst["cell_accuracy"],
        "healthy_above_5pct": sum(1 for p in healthy if p["predicted_infected_share"] > 0.05),
        "healthy_patients": len(healthy),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--data", required=True, help="the labelled folder the models trained on")
    ap.add_argument("--model", action="append", required=True, help="NAME=FILE")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--shifts", help="comma-separated subset of: " +
                    ", ".join(name for name, _, _ in SHIFTS))
    args = ap.parse_args()
    shifts = SHIFTS
    if args.shifts:
        wanted = args.shifts.split(",")
        unknown = set(wanted) - {name for name, _, _ in SHIFTS}
        if unknown:
            sys.exit(f"stain-shift-eval: unknown shift(s): {', '.join(sorted(unknown))}")
        shifts = [s for s in SHIFTS if s[0] in wanted]
    models = [m.split("=", 1) for m in args.model]

    held_out = evaluate(args.cli, args.data, models[0][1],
                        ["--validation-split", "--threads", args.threads])
    patients = {p["id"] for p in held_out["patients"]}
    classes = held_out["classes"]

    files = []
    for cls in classes:
        d = os.path.join(args.data, cls)
        for name in sorted(os.listdir(d)):
            if patient_id(name) in patients:
                files.append((cls, name))
    # The selection must be exactly the cells the app held out.
    if len(files) != held_out["images"]:
        sys.exit(f"stain-shift-eval: selected {len(files)} cells, the app held out "
                 f"{held_out['images']}: patient ids do not match core/patientid.cpp")

    results = {}
    with tempfile.TemporaryDirectory(prefix="stain-shift-") as tmp:
        for shift, _, fn in shifts:
            folder = os.path.join(tmp, shift)
            for cls in classes:
                os.makedirs(os.path.join(folder, cls))
            for cls, name in files:
                img = cv2.imread(os.path.join(args.data, cls, name), cv2.IMREAD_COLOR)
                if img is None:
                    continue
                cv2.imwrite(os.path.join(folder, cls, name), fn(img))
            for name, path in models:
                r = evaluate(args.cli, folder, path, ["--threads", args.threads])
                results[(shift, name)] = summary(r)
                s = results[(shift, name)]
                print(f"{shift:8s} {name:12s} acc {s['accuracy']:.4f} auc {s['auc']:.4f} "
                      f"max healthy {100 * s['max_healthy_share']:.1f} % "
                      f"({s['max_healthy_patient']}, {s['healthy_above_5pct']} of "
                      f"{s['healthy_patients']} above 5 %) worst {s['worst_patient_accuracy']:.3f}",
                      file=sys.stderr, flush=True)
            shutil.rmtree(folder)

    if args.markdown:
        names = [n for n, _ in models]
        print(f"Held-out patients: {len(patients)}, cells: {len(files)}\n")
        print("| shift | " + " | ".join(f"{n}: accuracy / AUC / largest healthy share"
                                        for n in names) + " |")
        print("|---|" + "---|" * len(names))
        for shift, desc, _ in shifts:
            cells = []
            for n in names:
                s = results[(shift, n)]
                cells.append(f"{s['accuracy']:.4f} / {s['auc']:.4f} / "
                             f"{100 * s['max_healthy_share']:.1f} %")
            print(f"| {desc} | " + " | ".join(cells) + " |")
    else:
        print(json.dumps({f"{k[0]}/{k[1]}": v for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
