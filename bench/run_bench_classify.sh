#!/usr/bin/env bash
# Interleaved classify benchmark (issue 19): per round, one run each of
#   C++ fp32     bench_inference --precision fp32 (the embedded model, domain check on 2,000
#                cells; the workers pipeline, ClassifyOptions::workers, the default)
#   C++ int8     bench_inference --precision int8 (its int8 companion, same settings)
#   peer         bench/peer_inference.py (python3-torch + python3-opencv, channels-last)
#   C++ fp32 pf  --pipeline prefetch: a decoding thread feeding the network (before 2026-12-02)
#   C++ int8 pf  the same for int8
#   C++ int8 t1  int8 with one thread in all
# so load from other work on the shared machine hits all of them alike. Prints every run with
# the load average at its start, then the medians, the ratios of the medians, and the ratio
# to the peer of the same round (median over rounds).
#   [DOMAIN_SAMPLE=N] bench/run_bench_classify.sh [BUILD_DIR] [ROUNDS] [THREADS] [DIR]
# DOMAIN_SAMPLE: cells measured for the domain check (default 2000, classify's; on a subset of
# the folder give the same share, e.g. 286 for 2,000 of the 14,015 cells).
# (The domain check's and the canonical-grey input's costs were measured by earlier versions
# of this script: docs/BENCHMARKS.md.)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
rounds="${2:-3}"
threads="${3:-2}"
data="${4:-$here/../../shared/data/nih-cells}"
sample="${DOMAIN_SAMPLE:-2000}"
py=/usr/bin/python3 # Debian's python3-torch and python3-opencv, not a pyenv shim
export OPENBLAS_CORETYPE=Haswell
out="$(mktemp -d)"
cpp() { # name, extra options
  local name="$1"; shift
  echo "$(cut -d' ' -f1 /proc/loadavg) $("$build/bench/bench_inference" "$data" --runs 1 \
    --threads "$threads" --domain-sample "$sample" --json "$@" | tr -d '\n ')" >>"$out/$name"
  tail -n1 "$out/$name" | cut -c1-160
}
for r in $(seq "$rounds"); do
  echo "round $r"
  cpp fp32 --precision fp32
  cpp int8 --precision int8
  load=$(cut -d' ' -f1 /proc/loadavg)
  p=$("$py" "$here/peer_inference.py" "$data" --runs 1 --threads "$threads" --batch 256 | tr '\n' ' ')
  echo "$load $p" >>"$out/peer"
  echo "peer (load $load): $p" | cut -c1-200
  cpp fp32pf --precision fp32 --pipeline prefetch
  cpp int8pf --precision int8 --pipeline prefetch
  cpp int8t1 --precision int8 --threads 1
done
"$py" - "$out" <<'PY'
import json, os, re, statistics, sys
d = sys.argv[1]
def runs(name):
    rows = []
    for line in open(os.path.join(d, name)):
        load, body = line.split(" ", 1)
        rows.append((float(load), json.loads(body)))
    return rows
med = statistics.median
res = {}
for name in ("fp32", "int8", "fp32pf", "int8pf", "int8t1"):
    rows = runs(name)
    e2e = [x["end_to_end_images_per_second"][0] for _, x in rows]
    e2ec = [x["end_to_end_per_cpu_second_median"] for _, x in rows]
    fw = [x["forward_median"] for _, x in rows]
    fwc = [x["forward_per_cpu_second_median"] for _, x in rows]
    rss = [x["peak_rss_mb"] for _, x in rows]
    res[name] = med(e2e)
    print(f"{name:10s} end to end {med(e2e):7.1f} img/s (runs {e2e}), {med(e2ec):7.1f} img/CPU-s; "
          f"forward {med(fw):7.1f} img/s, {med(fwc):7.1f} img/CPU-s; peak RSS {max(rss):.0f} MB; "
          f"loads {[l for l, _ in rows]}")
peer_e2e, peer_fw = [], []
for line in open(os.path.join(d, "peer")):
    m = re.search(r"end to end.*?median ([0-9.]+)", line)
    f = re.search(r"forward.*?median ([0-9.]+)", line)
    if m: peer_e2e.append(float(m.group(1)))
    if f: peer_fw.append(float(f.group(1)))
if peer_e2e:
    res["peer"] = med(peer_e2e)
    print(f"peer       end to end {med(peer_e2e):7.1f} img/s (runs {peer_e2e}); forward {med(peer_fw) if peer_fw else float('nan'):7.1f} img/s")
    for k in ("fp32", "int8", "fp32pf", "int8pf", "int8t1"):
        per_round = [x["end_to_end_images_per_second"][0] / p
                     for (_, x), p in zip(runs(k), peer_e2e)]
        print(f"C++ {k} / peer = {res[k] / res['peer']:.2f}x (medians); per round "
              f"{[round(r, 2) for r in per_round]}, median {med(per_round):.2f}x")
print(f"int8 / fp32 = {res['int8'] / res['fp32']:.2f}x; workers / prefetch: fp32 "
      f"{res['fp32'] / res['fp32pf']:.2f}x, int8 {res['int8'] / res['int8pf']:.2f}x")
PY
echo "raw runs in $out"
