#!/usr/bin/python3
"""Puts a model's error rates on whole annotated fields into its card.

    scripts/write-field-rates.py SEGMENT.json SOURCE MODEL.json

SEGMENT.json is `malarialens-cli segment FIELDS --model MODEL.pt --annotations ANN.json --json`
on fields the model's training held out. Its detection_confusion counts every detection once:
a parasite when it matches an infected box, otherwise no parasite, whether it matches a
healthy cell or nothing (debris, cut or merged cells). Those counts go into the card's
validation_on_fields under SOURCE, beside the crop figures of validation_by_source, with
how many of the negatives matched no annotated cell (not_a_cell): the corrected figure is then
scaled from a share of detections to a share of red cells.

With them go the rates' design effects (how much more they vary between fields than a
binomial on the detections says), which widen the corrected parasitemia's confidence interval.

Why: a field's apparent parasitemia is flagged detections / detections, debris included, but
the crop figures were measured on annotated cells only. A model that calls some debris
parasitized then reports too high a corrected parasitemia; segment and the
Fields page correct field counts with these rates when the card has them (RatesFor::Fields,
core/metrics/prevalence.h).
"""
import json
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    segment_path, source, card_path = sys.argv[1:]
    run = json.load(open(segment_path))
    counts = run.get("detection_confusion")
    if not counts:
        sys.exit(f"{segment_path}: no detection_confusion (run segment with --annotations, "
                 "classifying)")
    if run.get("threshold") is None:
        sys.exit(f"{segment_path}: no threshold")
    text = open(card_path).read()
    card = json.loads(text)
    # Keep the card's own indentation (the app writes 4 spaces, quantize.py 2), so that the
    # diff of a card shows only what changed.
    second = text.splitlines()[1] if text.count("\n") > 1 else ""
    indent = len(second) - len(second.lstrip(" ")) or 4
    if abs(card.get("threshold", 0.5) - run["threshold"]) > 1e-6:
        sys.exit(f"{segment_path}: measured at threshold {run['threshold']}, the card's is "
                 f"{card.get('threshold', 0.5)}")
    tp, fn = counts["true_positive"], counts["false_negative"]
    tn, fp = counts["true_negative"], counts["false_positive"]
    # Of the negatives, the detections that match no annotated cell: the correction divides
    # by their complement to give a share of red cells (ErrorRates::notACell). Runs before
    # segment wrote the count give it as detections - matched.
    not_a_cell = counts.get("not_a_cell",
                            run["counts"]["detections"] - run["counts"]["matched"])
    entry = {
        "source": source,
        "fields": run["annotated_images"],
        "detections": tp + fn + tn + fp,
        "true_positive": tp,
        "false_negative": fn,
        "true_negative": tn,
        "false_positive": fp,
        "not_a_cell": not_a_cell,
        "sensitivity": round(tp / (tp + fn), 4) if tp + fn else None,
        "specificity": round(tn / (tn + fp), 4) if tn + fp else None,
        # How much more the rates vary between fields than a binomial on the detections says
        # (segment's designEffect()); the correction's confidence interval counts it.
        "design_effect_sensitivity": round(counts.get("design_effect_sensitivity", 1.0), 3),
        "design_effect_specificity": round(counts.get("design_effect_specificity", 1.0), 3),
        "annotated_parasitemia": round(run["counts"]["infected_truth"]
                                       / run["counts"]["truth_cells"], 5),
        "measured_on": "every detection of the held-out annotated fields, debris counted "
                       "among the negatives (segment --annotations, write-field-rates.py)",
    }
    others = [e for e in card.get("validation_on_fields", []) if e.get("source") != source]
    card["validation_on_fields"] = others + [entry]
    open(card_path, "w").write(json.dumps(card, indent=indent) + "\n")
    print(f"{source}: {entry['fields']} fields, {entry['detections']} detections: Se "
          f"{entry['sensitivity']}, Sp {entry['specificity']} -> {card_path}")


if __name__ == "__main__":
    main()
