#!/usr/bin/env bash
# Runs every test suite in turn and ends with one summary line ("N passed, N failed").
# Called by `make test` after the Release ($BUILD) and ASan+UBSan ($ASAN_BUILD) builds.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
# pip must see pydepot alone, never the image's local wheel directory.
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL
export PYTHONDONTWRITEBYTECODE=1

passed=0
failed=0
failed_names=()
suite() {
  local name=$1
  shift
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failed_names+=("$name")
  fi
}

suite "clang-format" bash -c "git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror"
suite "unit tests (Release)" ctest --test-dir "$BUILD" --output-on-failure -j2
suite "unit tests (ASan+UBSan)" ctest --test-dir "$ASAN_BUILD" --output-on-failure -j2
for dir in tests/diff tests/e2e; do
  if ls "$dir"/test_*.py >/dev/null 2>&1; then
    suite "pytest $dir" env PYDEPOT_BIN="$PWD/$BUILD/pydepot" \
      PYDEPOT_MODEL_TOOL="$PWD/$BUILD/tests/pydepot_model_tool" \
      /usr/bin/python3 -m pytest -q -p no:cacheprovider "$dir"
  fi
done
if [ -x scripts/fuzz.sh ]; then
  suite "fuzz (${FUZZ_SECONDS}s per target)" scripts/fuzz.sh "$FUZZ_SECONDS"
fi

echo
if [ $failed -gt 0 ]; then
  echo "failed suites: ${failed_names[*]}"
fi
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
