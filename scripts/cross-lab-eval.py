#!/usr/bin/python3
"""Per-source (per-lab) figures of a model from `malarialens-cli classify --csv` output.

    scripts/cross-lab-eval.py CLASSIFY.csv [--patients EVALUATE.json] [--threshold T]
                              [--write-card MODEL.json]

Sources are told apart by the patient id: IML field crops are named C<field number> with six
or more digits (segment --export-crops), NIH patients C<1-3 digits>[P<n>]. With --patients
(the JSON of `evaluate --validation-split --json`), only the patients held out of training
count. Prints, per source: cells, sensitivity, specificity, balanced accuracy, AUC, and for
the held-out patients the patient decisions of the evaluate JSON.

--write-card puts these per-source figures, with their confusion counts, into the model card's
"validation_by_source" in the form the trainer writes for `train --source` runs (the corrected
parasitemia reads each lab's own error rates from it). For a model trained on one folder of
links to several labs (scripts/train-two-lab-model.sh), whose trainer saw one source; the
entries say "held-out patients of the training split, per source (cross-lab-eval.py)". With
--patients it also lists the held-out patients in the card's split (split.val_patients).
"""
import csv
import json
import re
import sys


def auc(scores, labels):
    pos = [s for s, l in zip(scores, labels) if l]
    neg = [s for s, l in zip(scores, labels) if not l]
    if not pos or not neg:
        return float("nan")
    ranked = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    # Mann-Whitney U with ties counted half.
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        avg = (i + j + 1) / 2.0
        rank_sum += avg * sum(1 for k in range(i, j) if ranked[k][1])
        i = j
    n1, n0 = len(pos), len(neg)
    return (rank_sum - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def source_of(patient):
    return "iml" if re.match(r"^C\d{6,}$", patient) else "nih"


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    path = args[0]
    threshold = float(args[args.index("--threshold") + 1]) if "--threshold" in args else 0.5
    keep = None
    decisions = {}
    if "--patients" in args:
        ev = json.load(open(args[args.index("--patients") + 1]))
        keep = {p["id"] for p in ev["patients"]}
        decisions = {p["id"]: p for p in ev["patients"]}
    card_path = args[args.index("--write-card") + 1] if "--write-card" in args else None
    rows = {}
    for r in csv.DictReader(open(path)):
        if not r["probability_parasitized"] or r["true_label"] not in ("Parasitized", "Uninfected"):
            continue
        if keep is not None and r["patient"] not in keep:
            continue
        src = source_of(r["patient"])
        rows.setdefault(src, []).append((float(r["probability_parasitized"]),
                                         r["true_label"] == "Parasitized"))
    entries = []
    for src, cells in sorted(rows.items()):
        p = [s for s, _ in cells]
        y = [l for _, l in cells]
        tp = sum(1 for s, l in cells if l and s >= threshold)
        fn = sum(1 for s, l in cells if l and s < threshold)
        tn = sum(1 for s, l in cells if not l and s < threshold)
        fp = sum(1 for s, l in cells if not l and s >= threshold)
        sens = tp / (tp + fn) if tp + fn else float("nan")
        spec = tn / (tn + fp) if tn + fp else float("nan")
        entries.append({"source": src, "cells": len(cells), "parasitized": tp + fn,
                        "true_positive": tp, "false_negative": fn, "true_negative": tn,
                        "false_positive": fp, "sensitivity": round(sens, 4),
                        "specificity": round(spec, 4),
                        "balanced_accuracy": round((sens + spec) / 2, 4),
                        "auc": round(auc(p, y), 4),
                        "measured_on": "held-out patients of the training split, per source "
                                       "(cross-lab-eval.py)"})
        print(f"{src}: cells {len(cells)} (P {tp + fn}, U {tn + fp}), accuracy "
              f"{(tp + tn) / len(cells):.4f}, sensitivity {sens:.4f}, specificity {spec:.4f}, "
              f"balanced accuracy {(sens + spec) / 2:.4f}, AUC {auc(p, y):.4f}")
        if decisions:
            pats = [d for pid, d in decisions.items() if source_of(pid) == src]
            healthy = [d for d in pats if not d["truly_infected"]]
            infected = [d for d in pats if d["truly_infected"]]
            print(f"  patients/fields: healthy flagged {sum(d['predicted_infected'] for d in healthy)}"
                  f" of {len(healthy)}, infected missed "
                  f"{sum(not d['predicted_infected'] for d in infected)} of {len(infected)}")

    if card_path:
        card = json.load(open(card_path))
        card["validation_by_source"] = entries
        card["sources"] = [e["source"] for e in entries]
        if keep is not None:
            # The held-out patients by name, so that `evaluate --validation-split` finds them
            # in each lab's own folder too (validationMaskFromCard()).
            card.setdefault("split", {})["val_patients"] = sorted(keep)
        with open(card_path, "w") as f:
            json.dump(card, f, indent=4)
            f.write("\n")
        print(f"wrote validation_by_source ({', '.join(card['sources'])}) into {card_path}")


if __name__ == "__main__":
    main()
