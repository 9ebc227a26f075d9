#!/usr/bin/env python3
"""Peer of bench_train (issue 5): the same *se* network, data subset, split sizes, batch size,
optimizer and thread count in Debian's python3-torch, so the C++ trainer's throughput has a
reference measured in the same session.

    /usr/bin/python3 bench/peer_train.py [FOLDER] [--per-class N (0 = all)] [--epochs E]
                                         [--threads T] [--batch B] [--channels-last] [--json]

The network replicates models/networks.cpp SeNetImpl layer by layer (conv 3x3 'same' +
BatchNorm, LeakyReLU 0.1 / SiLU, max-pool, squeeze-and-excite 128->16->128, global average
pool, dense 128 -> dropout 0.5 -> dense 64 -> dropout -> dense 2; Glorot-uniform weights,
zero biases: 270,674 trainable parameters). Images are decoded once (OpenCV, INTER_AREA to
64x64 RGB in [0,1], as models/preprocess.cpp) and kept in memory, like the C++ trainer.
"""
import argparse
import json
import math
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.conv2, self.bn2 = nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64)
        self.conv3, self.bn3 = nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128)
        self.conv4, self.bn4 = nn.Conv2d(128, 128, 3, padding=1), nn.BatchNorm2d(128)
        self.se1, self.se2 = nn.Linear(128, 16), nn.Linear(16, 128)
        self.fc1, self.fc2, self.fc3 = nn.Linear(128, 128), nn.Linear(128, 64), nn.Linear(64, 2)
        self.dropout = nn.Dropout(0.5)
        with torch.no_grad():  # Keras defaults, as kerasInit() in networks.cpp
            for name, p in self.named_parameters():
                if p.dim() >= 2:
                    nn.init.xavier_uniform_(p)
                elif name.endswith("bias"):
                    p.zero_()

    def forward(self, x):
        x = F.max_pool2d(F.leaky_relu(self.bn1(self.conv1(x)), 0.1), 2)
        x = F.max_pool2d(F.silu(self.bn2(self.conv2(x))), 2)
        x = F.leaky_relu(self.bn3(self.conv3(x)), 0.1)
        x = F.leaky_relu(self.bn4(self.conv4(x)), 0.1)
        s = x.mean((2, 3))
        s = torch.sigmoid(self.se2(F.relu(self.se1(s))))
        x = x * s.unsqueeze(2).unsqueeze(3)
        x = x.mean((2, 3))
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.dropout(F.relu(self.fc2(x)))
        return self.fc3(x)


def load(path):
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if rgb.shape[0] != 64 or rgb.shape[1] != 64:
        rgb = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)
    return rgb.astype(np.float32) / 255.0


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("folder", nargs="?", default=os.path.join(here, "..", "..", "shared", "data", "nih-cells"))
    ap.add_argument("--per-class", type=int, default=1500)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)

    classes = sorted(d for d in os.listdir(a.folder) if os.path.isdir(os.path.join(a.folder, d)))
    paths, labels = [], []
    for label, c in enumerate(classes):
        files = sorted(f for f in os.listdir(os.path.join(a.folder, c)) if f.lower().endswith(".png"))
        if a.per_class > 0:
            step = len(files) / a.per_class
            files = [files[int(i * step)] for i in range(min(a.per_class, len(files)))]
        paths += [os.path.join(a.folder, c, f) for f in files]
        labels += [label] * len(files)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(a.threads) as pool:  # cv2 releases the GIL while decoding
        imgs = list(pool.map(load, paths, chunksize=64))
    keep = [i for i, m in enumerate(imgs) if m is not None]
    x = torch.from_numpy(np.stack([imgs[i] for i in keep])).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor([labels[i] for i in keep], dtype=torch.long)
    del imgs
    decode = time.perf_counter() - t0

    n = len(keep)
    n_val = int(math.floor(0.2 * n + 0.5))  # std::lround, as splitDataset()
    perm = torch.randperm(n)
    val_idx, train_idx = perm[:n_val], perm[n_val:]

    model = SeNet()
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ips, secs = [], []
    for epoch in range(1, a.epochs + 1):
        t_epoch = time.perf_counter()
        model.train()
        order = train_idx[torch.randperm(len(train_idx))]
        correct, seen, loss_sum = 0, 0, 0.0
        for b in range(0, len(order), a.batch):
            idx = order[b:b + a.batch]
            xb = x[idx].contiguous(memory_format=fmt)
            yb = y[idx]
            opt.zero_grad()
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
            seen += len(idx)
        train_s = time.perf_counter() - t_epoch
        model.eval()
        vc = 0
        with torch.no_grad():
            for b in range(0, n_val, 250):
                idx = val_idx[b:b + 250]
                out = model(x[idx].contiguous(memory_format=fmt))
                F.cross_entropy(out, y[idx], reduction="sum").item()
                vc += (out.argmax(1) == y[idx]).sum().item()
        secs.append(time.perf_counter() - t_epoch)
        ips.append(seen / train_s)
        if not a.json:
            print(f"epoch {epoch}  train {ips[-1]:.1f} img/s  epoch {secs[-1]:.2f} s  "
                  f"loss {loss_sum / seen:.4f}  val_acc {vc / max(1, n_val):.4f}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    res = {"impl": f"Python torch {torch.__version__}" + (" channels-last" if a.channels_last else ""),
           "images": n, "train_images": n - n_val, "threads": a.threads, "batch": a.batch,
           "epochs": a.epochs, "decode_seconds": decode,
           "train_images_per_second_median": float(np.median(ips)),
           "epoch_seconds_median": float(np.median(secs)), "peak_rss_mb": peak}
    if a.json:
        print(json.dumps(res))
    else:
        print(f"Python{' channels-last' if a.channels_last else ''}: {n} images ({n - n_val} train), "
              f"{a.threads} threads, batch {a.batch}: decode {decode:.2f} s, training "
              f"{res['train_images_per_second_median']:.1f} img/s (median of {a.epochs} epochs), "
              f"full epoch {res['epoch_seconds_median']:.2f} s, peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
