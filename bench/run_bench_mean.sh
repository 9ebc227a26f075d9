#!/usr/bin/env bash
# Interleaved mean-image benchmark: C++ (2 threads), the Python peer, C++ (1 thread), one run
# each per round, so load from other work on a shared machine hits all three alike.
# Prints every run and the medians.
#   bench/run_bench_mean.sh [BUILD_DIR] [ROUNDS] [DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
rounds="${2:-5}"
data="${3:-$here/../../shared/data/nih-cells}"
py=/usr/bin/python3   # Debian's python3-opencv, not a pyenv shim
cpp2=() ; cpp1=() ; peer=()
for r in $(seq "$rounds"); do
  t=$("$build/bench/bench_mean" "$data" --runs 1 --threads 2 | awk '/^median/{print $5}')
  cpp2+=("$t")
  p=$("$py" "$here/peer_mean.py" "$data" --runs 1 | awk '/^median/{print $2}')
  peer+=("$p")
  o=$("$build/bench/bench_mean" "$data" --runs 1 --threads 1 | awk '/^median/{print $5}')
  cpp1+=("$o")
  echo "round $r: C++ 2 threads $t s, Python $p s, C++ 1 thread $o s  (load $(cut -d' ' -f1 /proc/loadavg))"
done
"$py" - "${cpp2[*]}" "${peer[*]}" "${cpp1[*]}" <<'PY'
import statistics, sys
c2, p, c1 = ([float(x) for x in a.split()] for a in sys.argv[1:4])
m2, mp, m1 = statistics.median(c2), statistics.median(p), statistics.median(c1)
print(f"median C++ 2 threads: {m2:.2f} s | Python peer: {mp:.2f} s | C++ 1 thread: {m1:.2f} s")
print(f"Python / C++(2 threads) = {mp / m2:.2f}x   Python / C++(1 thread) = {mp / m1:.2f}x")
PY
