#!/usr/bin/env python3
"""Peer of bench_segment: the same segmentation steps in python3-opencv + numpy.

Per field, as core/cellsegmenter.cpp does it: downscale to <= 400k pixels (INTER_AREA), green
channel, flat-field (closing at 1/8 scale), 3x3 Gaussian, Otsu, 3x3 opening, cell size from the
compact blobs, small holes filled, distance transform, peaks (dilate + compare), seeds, marker
watershed, one contour per label with the size filters, border fragments dropped, boxes grown
by the annotation margin. One difference: the C++ code floods
the distance map with its own bucket queue (cv::watershed ranks by colour difference); numpy has
no fast equivalent, so the peer calls cv2.watershed on the inverted distance map, which costs
about the same and gives similar (not identical) cells. Images are decoded once and held in
memory, then segmented `runs` times in one process (one thread), median fields/s reported.

    /usr/bin/python3 bench/peer_segment.py [DIR] [--runs N] [--fields N]
"""
import argparse
import math
import os
import statistics
import time

import cv2
import numpy as np

MAX_PIXELS = 400_000


def flat_field(green):
    h, w = green.shape
    sw, sh = max(4, w // 8), max(4, h // 8)
    small = cv2.resize(green, (sw, sh), interpolation=cv2.INTER_AREA)
    k = max(3, (max(sw, sh) // 6) | 1)
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    bg = cv2.GaussianBlur(bg, (k, k), 0)
    bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    out = green.astype(np.float32) * 220.0 / np.maximum(bg, 1.0)
    return np.clip(out, 0, 255).astype(np.uint8)


def segment(bgr):
    h, w = bgr.shape[:2]
    scale = min(1.0, math.sqrt(MAX_PIXELS / (w * h)))
    work = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) \
        if scale < 1.0 else bgr
    flat = cv2.GaussianBlur(flat_field(work[:, :, 1]), (3, 3), 0)
    _, mask = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    k3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, k3)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    areas, compact = [], []
    H, W = mask.shape
    for c in contours:
        a = cv2.contourArea(c)
        x, y, bw, bh = cv2.boundingRect(c)
        if a < 30 or x < 2 or y < 2 or x + bw > W - 2 or y + bh > H - 2:
            continue
        ha = cv2.contourArea(cv2.convexHull(c))
        areas.append(a)
        if ha > 0 and a / ha >= 0.9:
            compact.append(a)
    pool = compact if len(compact) >= 3 else areas
    if not pool:
        return []
    cell_area = statistics.median(pool)
    conts, hier = cv2.findContours(mask.copy(), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hier is not None:
        for i, c in enumerate(conts):
            if hier[0][i][3] >= 0 and cv2.contourArea(c) <= 0.5 * cell_area:
                cv2.drawContours(mask, conts, i, 255, cv2.FILLED)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    radius = math.sqrt(cell_area / math.pi)
    win = max(3, int(2 * 0.7 * radius) | 1)
    dil = cv2.dilate(dist, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (win, win)))
    peaks = ((dist >= dil - 1e-3) & (dist >= 0.4 * radius)).astype(np.uint8) * 255
    peaks = cv2.dilate(peaks, k3)
    n, markers = cv2.connectedComponents(peaks)
    markers = markers + 1
    markers[(mask == 0)] = 1
    markers[(peaks == 0) & (mask > 0)] = 0
    relief = cv2.cvtColor((255 - dist * (255.0 / max(dist.max(), 1e-6))).astype(np.uint8),
                          cv2.COLOR_GRAY2BGR)
    cv2.watershed(relief, markers)
    cells = []
    inv = 1.0 / scale
    for label in range(2, n + 1):
        ys, xs = np.nonzero(markers == label)
        if len(xs) == 0:
            continue
        x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
        sub = ((markers[y0:y1 + 1, x0:x1 + 1] == label) & (mask[y0:y1 + 1, x0:x1 + 1] > 0))
        cs, _ = cv2.findContours(sub.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not cs:
            continue
        c = max(cs, key=cv2.contourArea)
        area = cv2.contourArea(c) + 0.5 * cv2.arcLength(c, True)
        if area < 0.3 * cell_area or area > 2.6 * cell_area:
            continue
        # Border fragments showing < 0.8 of a diameter are dropped; the reported box grows by
        # 0.06 diameter per side (the annotation convention), as in the C++ code.
        bw, bh = x1 - x0 + 1, y1 - y0 + 1
        cut_x, cut_y = x0 <= 1 or x1 + 1 >= W - 1, y0 <= 1 or y1 + 1 >= H - 1
        if cut_x or cut_y:
            visible = min(bw if cut_x else 1 << 30, bh if cut_y else 1 << 30)
            if visible < 0.8 * 2 * radius:
                continue
        g = round(0.06 * 2 * radius * inv)
        bx0, by0 = max(0, int(x0 * inv) - g), max(0, int(y0 * inv) - g)
        bx1, by1 = min(w, int(math.ceil((x1 + 1) * inv)) + g), min(h, int(math.ceil((y1 + 1) * inv)) + g)
        cells.append((bx0, by0, bx1 - bx0, by1 - by0))
    return cells


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "shared", "data", "iml-fields", "images")
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default=default)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--fields", type=int, default=40)
    a = ap.parse_args()
    cv2.setNumThreads(1)
    names = sorted(n for n in os.listdir(a.dir) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    images = [cv2.imread(os.path.join(a.dir, n)) for n in names[:a.fields]]
    images = [i for i in images if i is not None]
    rates, cells = [], 0
    for _ in range(a.runs):
        t = time.perf_counter()
        cells = sum(len(segment(i)) for i in images)
        rates.append(len(images) / (time.perf_counter() - t))
    print(f"peer segmentation (python3-opencv {cv2.__version__}, 1 thread): median "
          f"{statistics.median(rates):.1f} fields/s over {a.runs} runs of {len(images)} fields, "
          f"{cells} cells")


if __name__ == "__main__":
    main()
