#!/usr/bin/env bash
# Builds every libFuzzer target (src/<module>/*_fuzz.cc) with clang in build-fuzz/ and runs each
# for SECONDS seconds. Fails if any target crashes, leaks, times out or runs out of memory.
#   scripts/fuzz.sh 20     # make test
#   scripts/fuzz.sh 600    # make fuzz
# Each target starts from a copy of its seeds (tests/fuzz/corpus/<target>/) and of the inputs
# that once failed (tests/fuzz/regressions/<target>/) in build-fuzz/corpus/<target>/, which keeps
# growing across runs; the repository is never written. tests/fuzz/dict/<target>.dict, when
# present, is passed as the target's libFuzzer dictionary.
# Crash inputs go to build-fuzz/artifacts/, logs to build-fuzz/logs/. Reproduce a crash with
#   build-fuzz/bin/<target> build-fuzz/artifacts/<target>-crash-<sha1>
# JOBS (default 2) sets the build parallelism; FUZZ_PARALLEL (default: the number of cores) how
# many targets run at once.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: scripts/fuzz.sh SECONDS}
jobs=${JOBS:-2}
build=build-fuzz

CC=clang CXX=clang++ cmake -S . -B "$build" -DPYDEPOT_FUZZ=ON -DPYDEPOT_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$PWD/$build/bin" >/dev/null

mapfile -t targets < <(find src -name '*_fuzz.cc' -printf '%f\n' | sed 's/\.cc$//' | sort)
if [ ${#targets[@]} -eq 0 ]; then
  echo "no fuzz targets under src/"
  exit 1
fi
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

mkdir -p "$build/artifacts" "$build/logs"

# One target's run; its exit status is libFuzzer's.
run_target() {
  local target=$1 corpus="$build/corpus/$1" log="$build/logs/$1.log" dict=()
  mkdir -p "$corpus"
  for seeds in "tests/fuzz/corpus/$target" "tests/fuzz/regressions/$target"; do
    if [ -d "$seeds" ]; then
      cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
    fi
  done
  if [ -f "tests/fuzz/dict/$target.dict" ]; then
    dict=(-dict="tests/fuzz/dict/$target.dict")
  fi
  "$build/bin/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" "${dict[@]}" "$corpus" \
    >"$log" 2>&1
}

# Targets run $parallel at a time (each is single-threaded; default: one per core), and each
# gets its full $seconds; the results are reported in order afterwards.
parallel=${FUZZ_PARALLEL:-$(nproc)}
declare -A status
pids=()
names=()
for target in "${targets[@]}"; do
  run_target "$target" &
  pids+=($!)
  names+=("$target")
  if [ ${#pids[@]} -ge "$parallel" ]; then
    rc=0
    wait "${pids[0]}" || rc=$?
    status[${names[0]}]=$rc
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  rc=0
  wait "${pids[$i]}" || rc=$?
  status[${names[$i]}]=$rc
done

failed=()
for target in "${targets[@]}"; do
  log="$build/logs/$target.log"
  echo "--- $target: ${seconds}s"
  if [ "${status[$target]}" -eq 0 ]; then
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tr '\n' ' ' || true
    echo
  else
    echo "FAILED: $target (log: $log)"
    grep -E -A30 '^==[0-9]+==ERROR|runtime error|check failed|ALARM|out-of-memory|deadly signal' \
      "$log" | head -60 || tail -40 "$log"
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that failed: ${failed[*]}"
  ls -1 "$build"/artifacts/ 2>/dev/null | sed 's/^/  artifact: /'
  exit 1
fi
echo "all ${#targets[@]} fuzz targets ran ${seconds}s without a crash"
