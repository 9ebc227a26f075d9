#!/usr/bin/env python3
"""Lists the functions longer than a limit (default 150 lines) in the C++ sources.

A function is a definition line starting at column 0 followed by a line that is exactly `{`
at column 0; its length runs from that `{` to the matching `}` at column 0, both included.
Usage: scripts/check-function-length.py [--max N] [DIR|FILE...]   (default dirs: core models ui
app bench, relative to the repository root). Prints `path:line: name (N lines)` for each
function over the limit and exits 1 if there is any, 0 otherwise.
"""
import argparse
import os
import re
import sys

DEFAULT_DIRS = ["core", "models", "ui", "app", "bench"]


def function_name(signature):
    """Best-effort name of the function whose signature is `signature`."""
    head = signature.split("(")[0].strip()
    return head.split()[-1] if head.split() else signature.strip()


def long_functions(path, limit):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    found = []
    i = 1
    while i < len(lines):
        if lines[i].rstrip() == "{":
            # The definition line at column 0, possibly followed by indented continuations
            # (parameters, a constructor's initialisers).
            start = i - 1
            while start > 0 and lines[start][:1] in (" ", "\t"):
                start -= 1
            if lines[start][:1] in ("", " ", "\t", "#", "/", "}", "{"):
                i += 1
                continue
            signature = " ".join(l.strip() for l in lines[start:i])
            end = i + 1
            while end < len(lines) and not lines[end].startswith("}"):
                end += 1
            length = end - i + 1
            if length > limit and re.search(r"\(", signature):
                found.append((start + 1, function_name(signature), length))
            i = end + 1
        else:
            i += 1
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=150, help="longest allowed function")
    parser.add_argument(
        "dirs", nargs="*", help="folders or .cpp files to scan (default: " + " ".join(DEFAULT_DIRS) + ")"
    )
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dirs = args.dirs or [os.path.join(root, d) for d in DEFAULT_DIRS]
    bad = 0
    paths = []
    for top in dirs:
        if os.path.isfile(top):
            paths.append(top)
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            paths += [os.path.join(dirpath, n) for n in sorted(filenames) if n.endswith(".cpp")]
    for path in paths:
        for line, func, length in long_functions(path, args.max):
            print(f"{os.path.relpath(path, root)}:{line}: {func} ({length} lines)")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
