#!/usr/bin/env bash
# Runs every test suite in turn and ends with one summary line ("suites: N passed, N failed").
# Called by `make test` after the Release ($BUILD), ASan+UBSan ($ASAN_BUILD) and TSan ($TSAN_BUILD)
# builds.
#
# It starts the test servers the suites need and stops them at the end: a real S3 server (Ceph
# radosgw, scripts/s3/), the GCS stand-in (scripts/gcs/), and moto as a second S3
# implementation where the image's Python has it. PYDEPOT_REQUIRE_CLOUD_BACKENDS=1 makes every
# test that needs S3 or GCS fail, not skip, if its server is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
# The Makefile passes how long the builds took (BUILD_STARTED: a date +%s before them).
build_seconds=$(($(date +%s) - ${BUILD_STARTED:-$(date +%s)}))
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
TSAN_BUILD=${TSAN_BUILD:-build-tsan}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
# pip must see pydepot alone, never the image's local wheel directory.
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL
export PYTHONDONTWRITEBYTECODE=1

passed=0
failed=0
failed_names=()
record() {
  if [ "$1" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failed_names+=("$2")
  fi
}
timings=()
suite() {
  local name=$1 started=$SECONDS rc=0
  shift
  echo "=== $name"
  "$@" || rc=$?
  record $rc "$name"
  timings+=("$(printf '%5d s  %s' $((SECONDS - started)) "$name")")
}

rgw_port=
cleanup() {
  [ -n "${PYDEPOT_GCS_STANDIN_DIR:-}" ] && scripts/gcs/stop-standin.sh >/dev/null 2>&1
  scripts/s3/stop-moto.sh >/dev/null 2>&1
  [ -n "$rgw_port" ] && S3_PORT=$rgw_port scripts/s3/stop-radosgw.sh >/dev/null 2>&1
  rm -f "$rgw_log"
}
rgw_log=$(mktemp)
trap cleanup EXIT

# radosgw: up to three tries, each on fresh ports and a fresh data directory. What a failed try
# printed is repeated at the very end, where a CI log that keeps only its tail still shows it.
start_radosgw() {
  local port attempt=1
  for port in 17480 17580 17680; do
    rgw_port=$port
    if s3_env=$(S3_PORT=$port scripts/s3/start-radosgw.sh 2>"$rgw_log.try"); then
      cat "$rgw_log.try" >&2
      rm -f "$rgw_log.try"
      eval "$s3_env"
      return 0
    fi
    { echo "--- radosgw, try $attempt (port $port):"; cat "$rgw_log.try"; } | tee -a "$rgw_log" >&2
    rm -f "$rgw_log.try"
    attempt=$((attempt + 1))
  done
  rgw_port=
  return 1
}

echo "=== starting test servers"
start_radosgw || record 1 "start radosgw"
if gcs_env=$(scripts/gcs/start-standin.sh); then
  eval "$gcs_env"
else
  record 1 "start GCS stand-in"
fi
export PYDEPOT_REQUIRE_CLOUD_BACKENDS=1

suite "clang-format" bash -c "git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror"
suite "unit tests (Release)" ctest --test-dir "$BUILD" --output-on-failure -j2
suite "unit tests (ASan+UBSan)" ctest --test-dir "$ASAN_BUILD" --output-on-failure -j2
# The TSan tree builds only the threaded modules' tests (Makefile TSAN_TESTS); the others are
# listed as *_NOT_BUILT. A report fails its test (exit code 66); scripts/tsan.supp holds the
# proven false positives. Two slow single-threaded tests (gcloud's CLI against the stand-in, a
# 100 MB multipart parse) run in the suites above only.
suite "unit tests (TSan)" env TSAN_OPTIONS="suppressions=$PWD/scripts/tsan.supp second_deadlock_stack=1" \
  ctest --test-dir "$TSAN_BUILD" --output-on-failure -j2 \
  -E '_NOT_BUILT$|GcloudInterop$|HundredMegabytePartStreamsInBoundedPieces$'
# 60 s of mixed traffic at 256 connections against the Release server (tests/load/README.md).
suite "load 60 s" /usr/bin/python3 tests/load/load_test.py --pydepot "$BUILD/pydepot"

# moto: the S3 conformance suite once more against AWS's exact conditional-write semantics.
moto_env=$(scripts/s3/start-moto.sh)
case $? in
  0) suite "S3 conformance on moto" bash -c "$moto_env
     '$BUILD/src/storage/storage_test' --gtest_filter='*S3*:*RealS3*' --gtest_brief=1" ;;
  3) echo "=== S3 conformance on moto: moto is not importable by this Python; not run" ;;
  *) record 1 "start moto" ;;
esac

for dir in tests/diff tests/e2e; do
  suite "pytest $dir" env PYDEPOT_BIN="$PWD/$BUILD/pydepot" \
    PYDEPOT_MODEL_TOOL="$PWD/$BUILD/tests/pydepot_model_tool" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider "$dir"
done
# make test installed Chromium and Node.js above: a missing one fails the suite (CI=true), it is
# never skipped. The screenshots stay in tests/browser/artifacts/ after the run.
suite "browser (Chromium)" env CI=true PYDEPOT_BIN="$PWD/$BUILD/pydepot" tests/browser/run.sh

# The benchmark suite end to end on a tiny repository: every scenario runs against pydepot and
# nginx and the report is written (to a temp dir). Timings are not tests: nothing is asserted
# about them.
suite "bench smoke" env BENCH_BUILD="$BUILD" BENCH_SKIP_BUILD=1 bench/run.sh --smoke

# The stand-in fails here if pydepot broke the GCS protocol at any point above.
if [ -n "${PYDEPOT_GCS_STANDIN_DIR:-}" ]; then
  suite "GCS stand-in: no protocol violations" scripts/gcs/stop-standin.sh
  unset PYDEPOT_GCS_STANDIN_DIR
fi

suite "fuzz (${FUZZ_SECONDS}s per target)" scripts/fuzz.sh "$FUZZ_SECONDS"

echo
echo "time per suite (installing and building before them: $build_seconds s; in all: $((SECONDS + build_seconds)) s):"
printf '%s\n' "${timings[@]}"
if [ -s "$rgw_log" ]; then
  echo "radosgw failed to start at least once; what it printed:"
  tail -n 120 "$rgw_log"
fi
if [ $failed -gt 0 ]; then
  echo "failed suites: ${failed_names[*]}"
fi
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
