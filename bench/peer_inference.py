#!/usr/bin/python3
"""Peer of bench_inference: the same se model and the same loop in Debian's python3-torch +
python3-opencv, so the C++ figures can be read as a ratio measured in the same session.

    /usr/bin/python3 bench/peer_inference.py [DIR] [--runs N] [--threads T] [--batch B]
                                             [--model resources/models/default.pt]
                                             [--planar] [--optimized] [--forward-only]

The weights are read from the native MalariaLens archive (a TorchScript-format archive:
torch.jit.load opens it), so both sides run the very same network. Channels-last memory
format like the C++ side unless --planar. End to end = cv2.imread -> BGR2RGB -> INTER_AREA
resize to 64x64 -> /255 -> batch -> forward -> softmax, decoding in the same thread.

--optimized runs the same inference path as the C++ side (models/networks.cpp
SeInferenceNetImpl): BatchNorm folded into the convolutions, in-place activations, block 1
pooled before its LeakyReLU, SE gate times the squeezed mean, the batch in slices of 16 run by
--threads Python threads with one torch thread each (torch ops release the GIL).
"""
import argparse
import os
import statistics
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


class SeNet(nn.Module):
    """models/networks.cpp SeNetImpl, layer for layer (same parameter names)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(128)
        self.conv4 = nn.Conv2d(128, 128, 3, padding=1)
        self.bn4 = nn.BatchNorm2d(128)
        self.se1 = nn.Linear(128, 16)
        self.se2 = nn.Linear(16, 128)
        self.fc1 = nn.Linear(128, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 2)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        x = F.max_pool2d(F.leaky_relu(self.bn1(self.conv1(x)), 0.1), 2)
        x = F.max_pool2d(F.silu(self.bn2(self.conv2(x))), 2)
        x = F.leaky_relu(self.bn3(self.conv3(x)), 0.1)
        x = F.leaky_relu(self.bn4(self.conv4(x)), 0.1)
        s = torch.sigmoid(self.se2(F.relu(self.se1(x.mean((2, 3))))))
        x = (x * s[:, :, None, None]).mean((2, 3))
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.dropout(F.relu(self.fc2(x)))
        return self.fc3(x)


class FusedSeNet:
    """SeNet in eval mode with the C++ inference path's changes (see the module docstring)."""

    def __init__(self, net, threads, slice_size=16):
        import concurrent.futures
        self.w = {}
        with torch.no_grad():
            for c, b in (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"), ("conv4", "bn4")):
                conv, bn = getattr(net, c), getattr(net, b)
                scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
                w = (conv.weight.double() * scale[:, None, None, None]).float()
                bias = ((conv.bias.double() - bn.running_mean.double()) * scale + bn.bias.double()).float()
                self.w[c] = (w.contiguous(memory_format=torch.channels_last), bias)
        self.net, self.slice = net, slice_size
        self.pool = concurrent.futures.ThreadPoolExecutor(threads, initializer=torch.set_num_threads, initargs=(1,))

    def forward_slice(self, x):
        with torch.inference_mode():
            w, n = self.w, self.net
            x = F.leaky_relu_(F.max_pool2d(F.conv2d(x, *w["conv1"], padding=1), 2), 0.1)
            x = F.max_pool2d(F.silu(F.conv2d(x, *w["conv2"], padding=1), inplace=True), 2)
            x = F.leaky_relu_(F.conv2d(x, *w["conv3"], padding=1), 0.1)
            x = F.leaky_relu_(F.conv2d(x, *w["conv4"], padding=1), 0.1)
            s = x.mean((2, 3))
            x = torch.sigmoid(n.se2(F.relu(n.se1(s)))) * s
            x = F.relu(n.fc2(F.relu(n.fc1(x))))
            return n.fc3(x)

    def __call__(self, x):
        return torch.cat(list(self.pool.map(self.forward_slice, x.split(self.slice))))


def load_native(path):
    archive = torch.jit.load(path)
    net = SeNet()
    state = {k: v for k, v in archive.model.state_dict().items()}
    missing = net.load_state_dict(state, strict=False)
    if missing.missing_keys:
        raise SystemExit("peer_inference: %s: missing %s" % (path, missing.missing_keys))
    return net.eval()


def preprocess(path):
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA)
    return rgb.astype(np.float32) / 255.0


def to_tensor(images, channels_last):
    nhwc = torch.from_numpy(np.stack(images))
    x = nhwc.permute(0, 3, 1, 2)
    return x if channels_last else x.contiguous()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default=os.path.join(HERE, "..", "..", "shared", "data", "nih-cells"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--model", default=os.path.join(HERE, "..", "resources", "models", "default.pt"))
    ap.add_argument("--planar", action="store_true", help="plain NCHW instead of channels-last")
    ap.add_argument("--optimized", action="store_true",
                    help="the C++ inference path: BatchNorm folded, slices on threads")
    ap.add_argument("--forward-only", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cv2.setNumThreads(1)
    channels_last = not a.planar
    net = load_native(a.model)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    if a.optimized:
        net = FusedSeNet(net, a.threads)

    files = []
    for cls in sorted(os.listdir(a.dir)):
        d = os.path.join(a.dir, cls)
        if os.path.isdir(d):
            files += [os.path.join(d, f) for f in sorted(os.listdir(d))
                      if f.lower().endswith((".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"))]

    cells = []
    for f in files:
        m = preprocess(f)
        if m is not None:
            cells.append(m)
        if len(cells) == a.batch:
            break
    batch = to_tensor(cells, channels_last)
    with torch.inference_mode():
        torch.softmax(net(batch), 1)  # warm-up
        forward = []
        passes = 5
        for _ in range(a.runs):
            t = time.perf_counter()
            for _ in range(passes):
                torch.softmax(net(to_tensor(cells, channels_last)), 1)[:, 0]
            forward.append(passes * a.batch / (time.perf_counter() - t))

        end_to_end = []
        if not a.forward_only:
            for _ in range(a.runs):
                t = time.perf_counter()
                done = 0
                for start in range(0, len(files), a.batch):
                    images = [m for m in (preprocess(f) for f in files[start:start + a.batch]) if m is not None]
                    if images:
                        p = torch.softmax(net(to_tensor(images, channels_last)), 1)[:, 0]
                        done += p.numel()
                end_to_end.append(done / (time.perf_counter() - t))

    layout = ("planar" if a.planar else "channels-last") + (", optimized" if a.optimized else "")
    print("peer (python3-torch %s, %s), threads %d, batch %d" % (torch.__version__, layout, a.threads, a.batch))
    print("forward batch %d: median %.1f images/s (runs: %s)"
          % (a.batch, statistics.median(forward), " ".join("%.1f" % v for v in forward)))
    if end_to_end:
        print("end to end %d images: median %.1f images/s (runs: %s)"
              % (len(files), statistics.median(end_to_end), " ".join("%.1f" % v for v in end_to_end)))


if __name__ == "__main__":
    sys.exit(main())
