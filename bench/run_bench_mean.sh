#!/usr/bin/env bash
# Interleaved mean-image benchmark: C++ (2 threads), the Python peer, C++ (1 thread) and the
# product itself (`malarialens-cli mean DIR --no-cache`, the whole process: start-up, scan,
# means, PNGs written; default threads), one run each per round, so load from other work on a
# shared machine hits all of them alike. Prints every run and the medians.
#   bench/run_bench_mean.sh [BUILD_DIR] [ROUNDS] [DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
rounds="${2:-5}"
data="${3:-$here/../../shared/data/nih-cells}"
py=/usr/bin/python3   # Debian's python3-opencv, not a pyenv shim
cpp2=() ; cpp1=() ; peer=() ; cli=()
out="$(mktemp -d)"
for r in $(seq "$rounds"); do
  t=$("$build/bench/bench_mean" "$data" --runs 1 --threads 2 | awk '/^median/{print $5}')
  cpp2+=("$t")
  p=$("$py" "$here/peer_mean.py" "$data" --runs 1 | awk '/^median/{print $2}')
  peer+=("$p")
  o=$("$build/bench/bench_mean" "$data" --runs 1 --threads 1 | awk '/^median/{print $5}')
  cpp1+=("$o")
  t0=$(date +%s.%N)
  "$build/app/malarialens-cli" mean "$data" --no-cache --out "$out" >/dev/null 2>&1
  c=$(echo "$(date +%s.%N) - $t0" | bc)
  cli+=("$c")
  echo "round $r: C++ 2 threads $t s, Python $p s, C++ 1 thread $o s, CLI mean --no-cache $c s  (load $(cut -d' ' -f1 /proc/loadavg))"
done
rm -rf "$out"
"$py" - "${cpp2[*]}" "${peer[*]}" "${cpp1[*]}" "${cli[*]}" <<'PY'
import statistics, sys
c2, p, c1, cl = ([float(x) for x in a.split()] for a in sys.argv[1:5])
m2, mp, m1, mc = (statistics.median(x) for x in (c2, p, c1, cl))
print(f"median C++ 2 threads: {m2:.2f} s | Python peer: {mp:.2f} s | C++ 1 thread: {m1:.2f} s"
      f" | CLI mean --no-cache: {mc:.2f} s")
print(f"Python / C++(2 threads) = {mp / m2:.2f}x   Python / C++(1 thread) = {mp / m1:.2f}x"
      f"   Python / CLI = {mp / mc:.2f}x")
PY
