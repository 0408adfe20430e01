#!/usr/bin/env bash
# Runs the web UI tests in headless Chromium (tests/browser/README.md).
#   PYDEPOT_BIN=build/pydepot tests/browser/run.sh [node --test arguments...]
# Without Chromium or Node.js it skips (exit 0) on a workstation and fails on CI (CI=true).
# Screenshots and the server's log go to tests/browser/artifacts/ (emptied first).
set -euo pipefail
cd "$(dirname "$0")"
export PYDEPOT_BIN=${PYDEPOT_BIN:-$PWD/../../build/pydepot}
CHROMIUM=${PYDEPOT_CHROMIUM:-/usr/bin/chromium}
# Per-test timeout (ms).
TEST_TIMEOUT_MS=${PYDEPOT_BROWSER_TEST_TIMEOUT_MS:-180000}
# Playwright must use Debian's Chromium and never download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

on_ci=false
case "${CI:-}" in [Tt][Rr][Uu][Ee] | 1) on_ci=true ;; esac

missing=()
[ -x "$CHROMIUM" ] || missing+=("chromium ($CHROMIUM)")
command -v node >/dev/null || missing+=("node")
command -v npm >/dev/null || missing+=("npm")
if [ ${#missing[@]} -gt 0 ]; then
  if $on_ci; then
    echo "error: browser tests need ${missing[*]} (on CI they cannot be skipped;" \
      "scripts/deps.sh test installs them)" >&2
    exit 1
  fi
  echo "skipped: browser tests need ${missing[*]}, which is missing (scripts/deps.sh test" \
    "installs it)"
  exit 0
fi
if [ ! -x "$PYDEPOT_BIN" ]; then
  echo "error: no pydepot binary at $PYDEPOT_BIN (build it, or set PYDEPOT_BIN)" >&2
  exit 1
fi

# npm writes node_modules/.package-lock.json on every install: older than the lock, reinstall.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

rm -rf artifacts
mkdir -p artifacts

# The per-test timeout is set on each test (ui.test.mjs reads it from the environment): node's
# --test-timeout would also apply to each test file as a whole. The whole run has its own bound.
export PYDEPOT_BROWSER_TEST_TIMEOUT_MS=$TEST_TIMEOUT_MS
SUITE_TIMEOUT_S=${PYDEPOT_BROWSER_SUITE_TIMEOUT_S:-1200}
reporter=()
if node --test-reporter=spec -e 0 >/dev/null 2>&1; then
  reporter=(--test-reporter=spec)
fi
start=$(date +%s)
status=0
timeout --kill-after=30 "$SUITE_TIMEOUT_S" node --test "${reporter[@]}" "$@" ./*.test.mjs || status=$?
echo "browser tests: $([ $status -eq 0 ] && echo passed || echo FAILED) in $(($(date +%s) - start)) s;" \
  "screenshots in $PWD/artifacts/"
exit $status
