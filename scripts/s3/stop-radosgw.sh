#!/usr/bin/env bash
# Stops the radosgw, OSD and monitor that start-radosgw.sh started (by their pid files, never by
# name), then removes their data directory (KEEP_DATA=1 keeps it). Safe to run when nothing runs.
# Env: S3_PORT (17480), CEPH_ROOT (/tmp/pydepot-ceph-$S3_PORT): as given to start-radosgw.sh.
set -uo pipefail
S3_PORT=${S3_PORT:-17480}
ROOT=${CEPH_ROOT:-/tmp/pydepot-ceph-$S3_PORT}
[ -d "$ROOT" ] || exit 0
for n in client.rgw.test osd.0 mon.a; do
  f=$ROOT/run/$n.pid
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  # Only a process that is still the Ceph daemon we started (pids get reused).
  if kill -0 "$pid" 2>/dev/null && grep -qa "$ROOT/ceph.conf" "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null && echo "stop-radosgw: stopped $n ($pid)"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
done
[ "${KEEP_DATA:-0}" = 1 ] || rm -rf "$ROOT"
exit 0
