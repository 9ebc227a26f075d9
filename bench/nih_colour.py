#!/usr/bin/env python3
"""Cell colour of the NIH training crops, the reference of core's nihCellColour().

Mean and standard deviation per CIE L*a*b* channel (OpenCV 8-bit scale) of the non-black
pixels of 1,500 random cells of both classes (random.seed(1)). The field pipeline shifts each
field's cell colour onto this mean before classification (FieldOptions::colourNormalization).

    /usr/bin/python3 bench/nih_colour.py [NIH_DIR]
"""
import os
import random
import sys

import cv2
import numpy as np


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "shared", "data", "nih-cells")
    files = [os.path.join(root, c, f) for c in ("Parasitized", "Uninfected")
             for f in sorted(os.listdir(os.path.join(root, c)))]
    random.seed(1)
    random.shuffle(files)
    pixels = []
    for f in files[:1500]:
        im = cv2.imread(f)
        if im is None:
            continue
        inside = im.max(axis=2) > 10  # the crops are black outside the cell
        lab = cv2.cvtColor(im, cv2.COLOR_BGR2LAB)
        pixels.append(lab[inside].astype(np.float64))
    a = np.concatenate(pixels)
    print("NIH cell colour, L*a*b* mean", np.round(a.mean(0), 2), "std", np.round(a.std(0), 2),
          "pixels", len(a))


if __name__ == "__main__":
    main()
