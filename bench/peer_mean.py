#!/usr/bin/env python3
"""Peer of bench_mean: the per-class mean/std loop in python3-opencv + numpy.

The loop a notebook would write: list the class folders, read each image with cv2.imread,
resize to NxN (bilinear, cv2's default), accumulate x and x^2 in float64 per class.
One process, as the notebook runs it.

    /usr/bin/python3 bench/peer_mean.py [DIR] [--runs N] [--size N]
"""
import argparse
import os
import statistics
import time

import cv2
import numpy as np

EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}


def mean_images(root, size):
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    result = {}
    n_total = 0
    for c in classes:
        folder = os.path.join(root, c)
        acc = np.zeros((size, size, 3), np.float64)
        acc_sq = np.zeros((size, size, 3), np.float64)
        n = 0
        for name in sorted(os.listdir(folder)):
            if os.path.splitext(name)[1].lower() not in EXTS:
                continue
            img = cv2.imread(os.path.join(folder, name), cv2.IMREAD_COLOR)
            if img is None:
                continue
            small = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float64)
            acc += small
            acc_sq += small * small
            n += 1
        mean = acc / max(n, 1)
        std = np.sqrt(np.maximum(acc_sq / max(n, 1) - mean * mean, 0))
        result[c] = (mean / 255.0, std / 255.0, n)
        n_total += n
    return result, n_total


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default=os.path.join(here, "..", "..", "shared", "data", "nih-cells"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    times = []
    for r in range(a.runs):
        t = time.perf_counter()
        res, n = mean_images(a.dir, a.size)
        times.append(time.perf_counter() - t)
        print(f"run {r + 1}: {n} images, {times[-1]:.3f} s", flush=True)
    print(f"median: {statistics.median(times):.3f} s, {n / statistics.median(times):.0f} images/s over {a.runs} runs")
    for c, (mean, _std, count) in res.items():
        b, g, rr = mean.reshape(-1, 3).mean(axis=0)
        print(f"  {c}: {count} images, mean R,G,B {rr:.4f} {g:.4f} {b:.4f}")


if __name__ == "__main__":
    main()
