#!/usr/bin/env bash
# Instructions per warm project-page request, counted by callgrind (repeatable whatever else the
# machine does, unlike req/s). Starts pydepot under valgrind on one network thread, warms one
# project page with wrk, zeroes the counters, loads it for 5 s with one connection, dumps and
# prints the count per request. The profile stays in OUT (callgrind_annotate --inclusive=yes).
#   bench/callgrind.sh [json|html] [BINARY] [STORAGE]
# PROJECT=name picks the page. Defaults: json (pip's Accept header), build/pydepot, the benchmark's 1k repository (made by
# `make bench`, or any storage with at least one project).
set -euo pipefail
cd "$(dirname "$0")/.."
KIND=${1:-json}
BIN=${2:-build/pydepot}
STORE=${3:-bench/.cache/1k-v1/storage}
PORT=${PORT:-18556}
OUT=${OUT:-/tmp/pydepot-callgrind.$KIND}
case $KIND in
  json) ACCEPT="application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01" ;;
  html) ACCEPT="text/html" ;;
  *) echo "usage: $0 [json|html] [BINARY] [STORAGE]" >&2; exit 2 ;;
esac
for tool in valgrind callgrind_control callgrind_annotate wrk curl; do
  command -v $tool >/dev/null || { echo "$tool is missing (apt-get install valgrind wrk curl)" >&2; exit 1; }
done
PROJECT=${PROJECT:-$(/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1]+'/index/projects.json'))['projects']; \
names=sorted(d) if isinstance(d,dict) else sorted(p if isinstance(p,str) else p['name'] for p in d); print(names[len(names)//2])" "$STORE")}
rm -f "$OUT" "$OUT".*
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$BIN" serve --storage "$STORE" \
  --listen 127.0.0.1:$PORT --public-read --threads 1 >"$OUT.log" 2>&1 &
VPID=$!
trap 'kill $VPID 2>/dev/null || true' EXIT
URL=http://127.0.0.1:$PORT/simple/$PROJECT/
for _ in $(seq 1 200); do curl -s -o /dev/null "$URL" && break; sleep 0.2; done
load() { wrk -t1 -c1 -d"$1" -H "Accept: $ACCEPT" -H "Accept-Encoding: gzip, deflate" "$URL"; }
load 3s >/dev/null
callgrind_control -z $VPID >/dev/null 2>&1
N=$(load 5s | awk '/requests in/{print $1}')
callgrind_control -d $VPID >/dev/null 2>&1
IR=$(callgrind_annotate "$OUT.1" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
echo "$KIND page /simple/$PROJECT/: $N requests, $IR instructions, $((IR / N)) per request (profile: $OUT.1)"
