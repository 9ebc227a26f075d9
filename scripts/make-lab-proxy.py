#!/usr/bin/python3
"""Writes a 'third lab' proxy of NIH cells: every cell presented as another lab exports crops (the cell on a light grey/white surround instead of
black, resized to 80x80, saved as JPEG quality 75). A proxy for the white-surround crops of a
lab we do not have; it tests presentation (surround, scale, compression), not another stain or
species. Used by docs/MODEL.md's cross-lab table, with `evaluate --validation-split` so that only the
model's held-out patients count (file names, hence patient ids, are kept).

    scripts/make-lab-proxy.py ../shared/data/nih-cells OUTDIR

OUTDIR must be outside the repository; the source images are only read.
"""
import os
import re
import sys

import cv2
import numpy as np

PATIENT = re.compile(r"^(C\d+[a-zA-Z]?P\d+|C\d+)")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1:]
    rng = np.random.default_rng(7)
    written = 0
    for cls in ("Parasitized", "Uninfected"):
        os.makedirs(os.path.join(out, cls), exist_ok=True)
        for name in sorted(os.listdir(os.path.join(src, cls))):
            if not PATIENT.match(name) or not name.endswith(".png"):
                continue
            img = cv2.imread(os.path.join(src, cls, name), cv2.IMREAD_COLOR)
            if img is None:
                continue
            surround = (img.max(axis=2) < 8)
            level = rng.uniform(200, 245)
            tint = rng.uniform(0.96, 1.0, size=3)
            img = img.copy()
            img[surround] = np.clip(level * tint, 0, 255).astype(np.uint8)
            img = cv2.resize(img, (80, 80), interpolation=cv2.INTER_AREA)
            cv2.imwrite(os.path.join(out, cls, name[:-4] + ".jpg"), img,
                        [cv2.IMWRITE_JPEG_QUALITY, 75])
            written += 1
    print(f"{written} cells written to {out}")


if __name__ == "__main__":
    main()
