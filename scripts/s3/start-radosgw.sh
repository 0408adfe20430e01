#!/usr/bin/env bash
# Starts a single-node Ceph (1 monitor + 1 in-memory OSD, no mgr, no cephx between daemons) and
# radosgw on 127.0.0.1, for the S3 tests. Idempotent: when one is already up on $S3_PORT with our
# data directory, it is reused. Progress goes to stderr; stdout is only the environment for the
# tests, as `export` lines, so the caller can run:
#   eval "$(scripts/s3/start-radosgw.sh)"    # then scripts/s3/stop-radosgw.sh when done
# Needs (scripts/deps.sh test): radosgw ceph-mon ceph-osd curl. Runs as root or any user that may
# bind the ports. Data lives in RAM (MEMSTORE_BYTES, 2 GiB cap) under CEPH_ROOT, which must stay
# short: Ceph's admin socket paths must fit in 107 characters.
# Env: S3_PORT (17480), MON_PORT (S3_PORT-700), CEPH_ROOT (/tmp/pydepot-ceph-$S3_PORT),
#      RGW_ACCESS_KEY, RGW_SECRET_KEY, S3_BUCKET (pydepot-test).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
S3_PORT=${S3_PORT:-17480}
MON_PORT=${MON_PORT:-$((S3_PORT - 700))}
ROOT=${CEPH_ROOT:-/tmp/pydepot-ceph-$S3_PORT}
AK=${RGW_ACCESS_KEY:-PYDEPOTTESTKEY000001}
SK=${RGW_SECRET_KEY:-pydepot-test-secret}
BUCKET=${S3_BUCKET:-pydepot-test}
ENDPOINT=http://127.0.0.1:$S3_PORT

log() { echo "start-radosgw: $*" >&2; }
print_env() {
  echo "export AWS_ACCESS_KEY_ID=$AK"
  echo "export AWS_SECRET_ACCESS_KEY=$SK"
  echo "export AWS_ENDPOINT_URL=$ENDPOINT"
  echo "export AWS_REGION=us-east-1"
  echo "export AWS_EC2_METADATA_DISABLED=true"
  echo "export PYDEPOT_TEST_S3_URL=s3://$BUCKET/conformance"
  echo "export PYDEPOT_TEST_S3_CHECKS_SIGNATURES=1"
}

for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run scripts/deps.sh test"; exit 1; }
done
if [ ${#ROOT} -gt 60 ]; then
  log "CEPH_ROOT=$ROOT is too long for Ceph's socket paths; use a short path such as /tmp/x"
  exit 1
fi

# Already running (ours): just make sure the bucket exists.
pid_alive() { [ -f "$ROOT/run/$1.pid" ] && kill -0 "$(cat "$ROOT/run/$1.pid")" 2>/dev/null; }
if pid_alive client.rgw.test && curl -s -o /dev/null "$ENDPOINT/"; then
  log "radosgw already running on $ENDPOINT ($ROOT)"
  S3_PORT=$S3_PORT RGW_ACCESS_KEY=$AK RGW_SECRET_KEY=$SK "$HERE/make-bucket.sh" "$BUCKET" >&2
  print_env
  exit 0
fi
# Leftovers of a crashed run in our directory: stop them before starting afresh.
CEPH_ROOT=$ROOT "$HERE/stop-radosgw.sh" >&2 || true
if curl -s -o /dev/null --max-time 2 "$ENDPOINT/"; then
  log "port $S3_PORT is taken by another server; set S3_PORT"
  exit 1
fi

t0=$(date +%s.%N)
ts() { awk "BEGIN{printf \"%.1f\", $(date +%s.%N)-$t0}"; }
started=0
# On any failure: say which step failed and show the end of each daemon's log (CI keeps only
# stderr), then stop what was started.
cleanup() {
  [ $started = 1 ] && return
  log "failed after $(ts)s; the end of each log in $ROOT/log:"
  for f in "$ROOT"/log/*.log; do
    [ -f "$f" ] || continue
    echo "----- $f" >&2
    tail -n 25 "$f" >&2
  done
  CEPH_ROOT=$ROOT "$HERE/stop-radosgw.sh" >&2 || true
}
trap cleanup EXIT
trap 'log "step failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

mkdir -p "$ROOT"/{run,log,mon/a,osd/0}
FSID=$(cat /proc/sys/kernel/random/uuid)
C=$ROOT/ceph.conf
cat >"$C" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
ms bind ipv6 = false
ms bind msgr2 = false
run dir = $ROOT/run
admin socket = $ROOT/run/\$name.asok
pid file = $ROOT/run/\$name.pid
log file = $ROOT/log/\$name.log
keyring = $ROOT/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
erasure code dir = /usr/lib/x86_64-linux-gnu/ceph/erasure-code
osd class dir = /usr/lib/x86_64-linux-gnu/rados-classes
[mon]
mon data = $ROOT/mon/\$id
[osd]
osd data = $ROOT/osd/\$id
# A starting OSD sends the monitor its CRUSH location and device class; now and then it does so
# before it has the cluster's fsid, the monitor refuses ("wrong fsid") and the OSD exits. Both
# are set from here instead (osd crush add, below), before the OSD starts.
osd crush update on start = false
osd class update on start = false
osd objectstore = memstore
memstore device bytes = ${MEMSTORE_BYTES:-2147483648}
osd max object name len = 2048
osd max object namespace len = 256
[client.rgw.test]
# tcp_nodelay: with Nagle on, each request on a kept-alive connection waits ~40 ms for a
# delayed ACK (docs/cloud-storage.md, radosgw quirks).
rgw frontends = beast endpoint=127.0.0.1:$S3_PORT tcp_nodelay=1
rgw thread pool size = 32
rgw enable usage log = false
log file = $ROOT/log/rgw.log
CONF
ceph-authtool --create-keyring "$ROOT/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$ROOT/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
  --cap mgr 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --add a "v1:127.0.0.1:$MON_PORT" "$ROOT/monmap" >/dev/null
ceph-mon -c "$C" --mkfs -i a --monmap "$ROOT/monmap" --keyring "$ROOT/keyring"
ceph-mon -c "$C" -i a
log "mon up at $(ts)s"
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
ID=$(timeout 120 ceph -c "$C" --connect-timeout 60 osd new "$OSD_UUID")
timeout 120 ceph -c "$C" --connect-timeout 60 osd crush add "osd.$ID" 1.0 root=default \
  >"$ROOT/log/crush-add.log" 2>&1
ceph-osd -c "$C" -i "$ID" --mkfs --osd-uuid "$OSD_UUID" >"$ROOT/log/osd-mkfs.log" 2>&1
ceph-osd -c "$C" -i "$ID"
osd_up() { timeout 20 ceph -c "$C" --connect-timeout 10 osd stat 2>/dev/null | grep -q '1 up'; }
deadline=$((SECONDS + 120))
until osd_up; do
  [ $SECONDS -lt $deadline ] || { log "the OSD did not come up in 120 s"; exit 1; }
  sleep 0.2
done
log "osd up at $(ts)s"
radosgw -c "$C" -n client.rgw.test
deadline=$((SECONDS + 180))
until curl -s -o /dev/null --max-time 5 "$ENDPOINT/"; do
  [ $SECONDS -lt $deadline ] || { log "radosgw did not answer in 180 s"; exit 1; }
  sleep 0.2
done
log "rgw listening at $(ts)s"
timeout 120 radosgw-admin -c "$C" user create --uid=pydepot --display-name=pydepot --access-key="$AK" \
  --secret-key="$SK" >/dev/null
# The new user can take a moment to be seen by radosgw: a few tries.
for try in 1 2 3 4 5 6 7 8 9 10; do
  S3_PORT=$S3_PORT RGW_ACCESS_KEY=$AK RGW_SECRET_KEY=$SK "$HERE/make-bucket.sh" "$BUCKET" >&2 && break
  [ $try -lt 10 ] || { log "could not create bucket $BUCKET"; exit 1; }
  sleep 1
done
started=1
log "radosgw up on $ENDPOINT in $(ts)s (data in $ROOT)"
print_env
