#!/usr/bin/env bash
# bench/run.sh: the benchmark suite of issue 5, pydepot against nginx serving identical bytes
# (bench/README.md explains what is measured and how).
#
#   bench/run.sh           the full suite (about 10 minutes on 2 cores; the first run also
#                          generates the 1k/10k/100k repositories into bench/.cache), writes
#                          bench/REPORT.md, bench/report.svg and bench/results.json
#   bench/run.sh --smoke   a short end-to-end check (under a minute): tiny repository, 1 s per
#                          wrk run, a 16 MiB upload; writes its report to a temp directory and
#                          checks only that every scenario ran and its numbers parse
#
# Other options are bench/bench.py's (bench/run.sh --help). It builds the Release binaries in
# $BENCH_BUILD (default: build) first, unless BENCH_SKIP_BUILD=1 (make bench builds them).
# Needs nginx, wrk and twine from Debian: scripts/deps.sh bench installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BENCH_BUILD:-build}
JOBS=${JOBS:-2}
export PATH="$PATH:/usr/sbin:/sbin"  # Debian's nginx lives in /usr/sbin

missing=()
for tool in nginx wrk twine cmake; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench/run.sh: missing ${missing[*]}; run scripts/deps.sh bench" >&2
  exit 1
fi

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$JOBS" --target pydepot pydepot_bench_gen
fi

export BENCH_COMMAND="bench/run.sh${*:+ $*}"
exec /usr/bin/python3 bench/bench.py --build "$BUILD" "$@"
