#!/usr/bin/python3
"""Post-training static int8 quantisation of a MalariaLens *se* model (issue 19).

    /usr/bin/python3 scripts/quantize.py --model resources/models/default.pt \\
        --data ../shared/data/nih-cells --cli build-speed/app/malarialens-cli \\
        --out /tmp/default.int8.pt [--calibration 2000] [--engine onednn] [--json]

Reads a native MalariaLens archive (torch::save of the C++ SeNet; torch.jit.load opens it)
and its model card (MODEL with suffix .json, or --card), rebuilds the network in PyTorch
(bench/peer_inference.py SeNet, same parameter names), folds BatchNorm into the
convolutions, quantises the four convolutions to int8 (per-channel weights, histogram-
calibrated activations) and keeps the squeeze-excitation gate and the classifier head in
float (they are < 2 % of the work). Calibration uses cells of the model's *training* patients
only; the held-out patients are read from the app itself (`malarialens-cli evaluate
--validation-split`, as scripts/stain-shift-eval.py does), so the figures printed at the end
are on cells the calibration never saw. Writes OUT (TorchScript, which the C++ Classifier
loads like any TorchScript model) and OUT with suffix .json: the source card with
"format": "torchscript", "precision": "int8" and a "quantization" record.

Engine: Debian's python3-torch / libtorch 1.13 are built without fbgemm; the quantised engines
are onednn (x86, the default here and in libtorch: the C++ side needs no setting) and qnnpack
(5x slower here). The model is scripted and frozen; its forward runs the batch in slices of 16
cells, single-threaded per slice. Measured in docs/BENCHMARKS.md ("Speed, the next step").
Load the result with `malarialens-cli classify DIR --model OUT --threads 1` (with 2 libtorch
threads the TorchScript path splits every small operator over OpenMP and is 3-4x slower).

Input preprocessing must match the C++ side's (models/inference/preprocess.cpp): decode,
BGR->RGB, INTER_AREA to 64x64, /255, then the card's input.normalization; "none" and
"foreground-median" are reproduced here. Every other normalisation (the canonical cells:
canonical-lab, canonical-grey) is not reimplemented: the network's exact inputs are read from
the application itself (`malarialens-cli inputs`, raw float32), so calibration and the
agreement figures see what the network sees.
"""
import argparse
import copy
import hashlib
import json
import os
import re
import subprocess
import tempfile
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.ao.quantization import DeQuantStub, QuantStub

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
from peer_inference import SeNet  # noqa: E402  (the network, layer for layer)

REFERENCE_COLOUR = np.array([0.765, 0.584, 0.608], np.float32)  # preprocess.h kReferenceColour


def patient_id(file_name):
    """The patient of a NIH cell file, by the rule of core/patientid.cpp."""
    m = re.match(r"^(C\d+[A-Za-z]?P\d+)", file_name) or re.match(r"^(C\d+)(?=[^0-9]|$)", file_name)
    return m.group(1) if m else None


def normalize_foreground_median(rgb):
    """preprocess.cpp normalizeColour(ForegroundMedian) on a 64x64x3 float image in [0,1]."""
    flat = rgb.reshape(-1, 3)
    fg = flat[flat.max(axis=1) > 0.04]
    if len(fg) < len(flat) // 20:
        return rgb
    # std::nth_element at size/2: the upper median for an even count.
    med = np.array([np.partition(fg[:, c], len(fg) // 2)[len(fg) // 2] for c in range(3)])
    gain = np.clip(REFERENCE_COLOUR / np.maximum(med, 1e-3), 0.5, 2.0).astype(np.float32)
    return np.minimum(1.0, rgb * gain).astype(np.float32)


PYTHON_NORMALIZATIONS = ("none", "foreground-median")
_cli_inputs = {}  # path -> the network's input as the application computes it


def load_cli_inputs(paths, cli, model):
    """The network's inputs for `paths`, from `malarialens-cli inputs` (the app's own
    normalisation, e.g. the canonical cell), kept for preprocess()."""
    with tempfile.TemporaryDirectory() as d:
        listing, out = os.path.join(d, "cells.txt"), os.path.join(d, "inputs.f32")
        with open(listing, "w") as f:
            f.write("\n".join(paths) + "\n")
        subprocess.run([cli, "inputs", "--files", listing, "--out", out, "--model", model],
                       check=True, capture_output=True, text=True)
        arr = np.fromfile(out, dtype=np.float32).reshape(len(paths), 64, 64, 3)
    _cli_inputs.update(zip(paths, arr))


def preprocess(path, normalization):
    if normalization not in PYTHON_NORMALIZATIONS:
        return _cli_inputs[path]
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    rgb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (64, 64), interpolation=cv2.INTER_AREA)
    x = rgb.astype(np.float32) / 255.0
    return normalize_foreground_median(x) if normalization == "foreground-median" else x


def batches(paths, normalization, size=256):
    for start in range(0, len(paths), size):
        imgs = [preprocess(p, normalization) for p in paths[start:start + size]]
        yield torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()


class QuantSeNet(nn.Module):
    """SeNet for eager-mode static quantisation: int8 convolutions (BatchNorm folded), float
    SiLU (no quantised kernel in 1.13), float squeeze-excitation gate and head. Same maths
    as SeNet in eval mode; the SE scaling is applied to the pooled features (exact: the gate
    is per channel, as models/networks.cpp SeInferenceNetImpl does)."""

    def __init__(self, net):
        super().__init__()
        net = copy.deepcopy(net).eval()
        torch.ao.quantization.fuse_modules(
            net, [["conv1", "bn1"], ["conv2", "bn2"], ["conv3", "bn3"], ["conv4", "bn4"]], inplace=True)
        self.quant, self.dequant2, self.quant2, self.dequant = QuantStub(), DeQuantStub(), QuantStub(), DeQuantStub()
        self.conv1, self.conv2, self.conv3, self.conv4 = net.conv1, net.conv2, net.conv3, net.conv4
        self.act1, self.act3, self.act4 = nn.LeakyReLU(0.1), nn.LeakyReLU(0.1), nn.LeakyReLU(0.1)
        self.se1, self.se2, self.fc1, self.fc2, self.fc3 = net.se1, net.se2, net.fc1, net.fc2, net.fc3

    def forward(self, x):
        # Slices of 16 cells keep a slice's activations in cache (the C++ fp32 path does the
        # same; docs/BENCHMARKS.md, issue 4): 1.3x per CPU-second on 256-cell batches here.
        return torch.cat([self.forward_slice(c) for c in x.split(16)])

    def forward_slice(self, x):
        x = self.quant(x)
        x = F.max_pool2d(self.act1(self.conv1(x)), 2)
        x = self.dequant2(self.conv2(x))
        x = self.quant2(F.silu(x))
        x = F.max_pool2d(x, 2)
        x = self.act3(self.conv3(x))
        x = self.act4(self.conv4(x))
        s = self.dequant(x).mean((2, 3))
        x = torch.sigmoid(self.se2(F.relu(self.se1(s)))) * s
        x = F.relu(self.fc2(F.relu(self.fc1(x))))
        return self.fc3(x)


def quantize(net, calibration, engine):
    torch.backends.quantized.engine = engine
    q = QuantSeNet(net).eval()
    q.qconfig = torch.ao.quantization.get_default_qconfig(engine)
    for name in ("se1", "se2", "fc1", "fc2", "fc3"):
        getattr(q, name).qconfig = None  # the head stays float
    torch.ao.quantization.prepare(q, inplace=True)
    with torch.no_grad():
        for x in calibration:
            q(x)
    torch.ao.quantization.convert(q, inplace=True)
    return q


def auc(p_pos, is_pos):
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    p_pos, is_pos = np.asarray(p_pos, np.float64), np.asarray(is_pos, bool)
    order = np.argsort(p_pos, kind="mergesort")
    ranks = np.empty(len(p_pos))
    sorted_p = p_pos[order]
    i = 0
    while i < len(sorted_p):
        j = i
        while j + 1 < len(sorted_p) and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    n_pos, n_neg = is_pos.sum(), (~is_pos).sum()
    return (ranks[is_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="native MalariaLens se archive")
    ap.add_argument("--card", help="its model card (default: MODEL with suffix .json)")
    ap.add_argument("--data", required=True, help="the labelled folder the model trained on")
    ap.add_argument("--cli", required=True, help="malarialens-cli, to read the held-out patients")
    ap.add_argument("--out", required=True, help="TorchScript file to write (card beside it)")
    ap.add_argument("--calibration", type=int, default=2000, help="training cells to calibrate on")
    ap.add_argument("--engine", default="onednn", choices=["onednn", "qnnpack", "fbgemm"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cv2.setNumThreads(1)

    card_path = a.card or os.path.splitext(a.model)[0] + ".json"
    card = json.load(open(card_path)) if os.path.exists(card_path) else {}
    if card.get("architecture", "se") != "se":
        sys.exit("quantize: only the se architecture is supported, the card says %s" % card["architecture"])
    normalization = card.get("input", {}).get("normalization", "none") or "none"
    threshold = float(card.get("threshold", 0.5))

    archive = torch.jit.load(a.model)
    net = SeNet()
    result = net.load_state_dict(dict(archive.model.state_dict()), strict=False)
    if result.missing_keys:
        sys.exit("quantize: %s is not an se network (missing %s)" % (a.model, result.missing_keys))
    net.eval()

    held_out = json.loads(subprocess.run(
        [a.cli, "evaluate", a.data, "--model", a.model, "--validation-split", "--no-corrections",
         "--json", "--threads", str(a.threads)], check=True, capture_output=True, text=True).stdout)
    val_patients = {p["id"] for p in held_out["patients"]}
    classes = held_out["classes"]
    positive = 0  # class 0 = Parasitized, P(Parasitized) is the score (as the app)
    train, val = [], []
    for label, cls in enumerate(classes):
        d = os.path.join(a.data, cls)
        for name in sorted(os.listdir(d)):
            if not name.lower().endswith(".png"):
                continue
            (val if patient_id(name) in val_patients else train).append((os.path.join(d, name), label))
    if len(val) != held_out["images"]:
        sys.exit("quantize: selected %d held-out cells, the app held out %d" % (len(val), held_out["images"]))
    step = max(1, len(train) // a.calibration)
    calib_paths = [p for p, _ in train[::step]][:a.calibration]
    if normalization not in PYTHON_NORMALIZATIONS:
        load_cli_inputs(calib_paths + [p for p, _ in val], a.cli, a.model)

    t0 = time.time()
    qnet = quantize(net, batches(calib_paths, normalization), a.engine)
    calib_s = time.time() - t0
    scripted = torch.jit.freeze(torch.jit.script(qnet.eval()))

    # Held-out cells: fp32 (the float network) against the saved int8 model, re-loaded.
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    scripted.save(a.out)
    int8 = torch.jit.load(a.out)
    p32, p8 = [], []
    with torch.inference_mode():
        for x in batches([p for p, _ in val], normalization):
            p32.append(torch.softmax(net(x), 1)[:, positive].numpy())
            p8.append(torch.softmax(int8(x), 1)[:, positive].numpy())
    p32, p8 = np.concatenate(p32), np.concatenate(p8)
    truth = np.array([label == positive for _, label in val])
    d32, d8 = p32 >= threshold, p8 >= threshold
    figures = {
        "held_out_cells": int(len(val)),
        "held_out_patients": len(val_patients),
        "calibration_cells": len(calib_paths),
        "calibration_seconds": round(calib_s, 1),
        "decision_agreement": float((d32 == d8).mean()),
        "decisions_differing": int((d32 != d8).sum()),
        "auc_fp32": float(auc(p32, truth)),
        "auc_int8": float(auc(p8, truth)),
        "accuracy_fp32": float((d32 == truth).mean()),
        "accuracy_int8": float((d8 == truth).mean()),
        "max_abs_probability_difference": float(np.abs(p32 - p8).max()),
        "median_abs_probability_difference": float(np.median(np.abs(p32 - p8))),
    }

    sha = hashlib.sha256(open(a.out, "rb").read()).hexdigest()
    out_card = dict(card)
    # Rates on whole fields are not carried over: on the IML fields' detections int8 called 15 %
    # more cells than fp32 (99.58 % equal decisions against 99.77 % on NIH cells: the
    # calibration cells are NIH's), which moves a field's correction. Measure them again with
    # `segment --precision int8 --annotations --json` and scripts/write-field-rates.py; until
    # then int8 runs borrow the fp32 card's, as they do every other figure
    # (Classifier::setPrecision).
    if out_card.pop("validation_on_fields", None) is not None:
        print("quantize: validation_on_fields left out of the int8 card (fp32's); re-measure it "
              "with segment --precision int8 and scripts/write-field-rates.py", file=sys.stderr)
    out_card.update({
        "format": "torchscript",
        "precision": "int8",
        "weights_sha256": sha,
        "quantization": {
            "method": "post-training static (eager mode), convolutions int8 with BatchNorm folded, "
                      "per-channel weights, histogram-calibrated activations; SiLU, SE gate and "
                      "head in float",
            "engine": a.engine,
            "torch_version": torch.__version__,
            "source_model": os.path.basename(a.model),
            "source_weights_sha256": hashlib.sha256(open(a.model, "rb").read()).hexdigest(),
            "calibration": "%d cells of the training patients, evenly spaced" % len(calib_paths),
            "command": " ".join(sys.argv),
            "held_out_figures": figures,
        },
    })
    out_card.setdefault("name", "MalariaLens se cell classifier")
    out_card["name"] = out_card["name"] + " (int8)"
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump(out_card, f, indent=2)
    if a.json:
        print(json.dumps(figures, indent=2))
    else:
        for k, v in figures.items():
            print("%-34s %s" % (k, v))
    ok = figures["decision_agreement"] >= 0.995 and abs(figures["auc_int8"] - figures["auc_fp32"]) <= 0.002
    print("acceptance (agreement >= 99.5 %%, |dAUC| <= 0.002): %s" % ("met" if ok else "NOT met"))
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
