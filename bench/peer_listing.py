#!/usr/bin/env python3
"""Peer for bench_browser's listing figure: the same listing and counting in Python
(os.scandir over class folders, extension filter, patient id regex), median of N runs."""
import os, re, statistics, sys, time

folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "nih-cells")
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
exts = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
infected = re.compile(r"^(C\d+[A-Za-z]?P\d+)")
healthy = re.compile(r"^(C\d+)(?=[^0-9]|$)")
times = []
for _ in range(runs):
    t = time.perf_counter()
    per_class, patients, n = {}, set(), 0
    for cls in sorted(e.name for e in os.scandir(folder) if e.is_dir()):
        count = 0
        for e in os.scandir(os.path.join(folder, cls)):
            if os.path.splitext(e.name)[1].lower() in exts and e.stat().st_size > 0:
                m = infected.match(e.name) or healthy.match(e.name)
                patients.add(m.group(1) if m else cls)
                count += 1
        per_class[cls] = count
        n += count
    times.append((time.perf_counter() - t) * 1000)
print(f"python list+count: {n} images, {len(patients)} patients, median {statistics.median(times):.1f} ms over {runs} runs")
