#!/usr/bin/env bash
# Installs the Debian packages pydepot needs, only those that are missing.
#   scripts/deps.sh build   what `make build` / `make run` need
#   scripts/deps.sh test    what `make test` needs as well (clients, fuzzing, Python tools,
#                           nginx and wrk for the benchmark smoke test, Chromium and Node.js
#                           for the browser tests)
#   scripts/deps.sh bench   what `make bench` needs besides the build: nginx, wrk, twine
# Installing Debian's nginx may start its default site on port 80 where the system runs
# services; the benchmark never uses it (it runs its own nginx on loopback ports).
set -euo pipefail
build_pkgs=(build-essential cmake pkg-config libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libarchive-dev libcli11-dev libgtest-dev libgmock-dev
  libsodium-dev libssl-dev zlib1g-dev libcurl4-openssl-dev libpugixml-dev libcmark-gfm-dev
  libcmark-gfm-extensions-dev libtomlplusplus-dev libnghttp2-dev)
test_pkgs=(clang libclang-rt-14-dev clang-format python3-packaging
  python3-build python3-setuptools python3-wheel python3-pip-whl python3-setuptools-whl
  python3-wheel-whl python3-pytest python3-requests python3-venv twine flit python3-poetry
  python3-pdm python3-prometheus-client curl openssl nghttp2-client radosgw ceph-mon ceph-osd nginx wrk chromium)
bench_pkgs=(nginx wrk twine)
want=("${build_pkgs[@]}")
case "${1:-build}" in
  test)
    want+=("${test_pkgs[@]}")
    # The browser tests run playwright-core (npm) on Node.js; Debian's when none is installed.
    command -v node >/dev/null && command -v npm >/dev/null || want+=(nodejs npm)
    ;;
  bench) want+=("${bench_pkgs[@]}") ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
