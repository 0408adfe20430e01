#!/usr/bin/env bash
# Starts moto's S3 server on 127.0.0.1 as a second S3 implementation for the tests (AWS's exact
# conditional-write semantics, but no signature checks). Optional: moto is not a Debian package,
# so when the Python at $MOTO_PYTHON (python3) cannot import it, this prints why and exits 3, and
# the caller skips the moto run. Idempotent; stdout is only `export` lines, as start-radosgw.sh:
#   eval "$(scripts/s3/start-moto.sh)"    # then scripts/s3/stop-moto.sh
# Env: MOTO_PORT (17490), MOTO_PYTHON (python3), S3_BUCKET (pydepot-test).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=${MOTO_PORT:-17490}
PY=${MOTO_PYTHON:-python3}
BUCKET=${S3_BUCKET:-pydepot-test}
PIDFILE=/tmp/pydepot-moto-$PORT.pid
ENDPOINT=http://127.0.0.1:$PORT
log() { echo "start-moto: $*" >&2; }

if ! "$PY" -c 'import moto.server' 2>/dev/null; then
  log "$PY cannot import moto.server: skipping the moto run"
  exit 3
fi
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && curl -s -o /dev/null "$ENDPOINT/"; then
  log "moto already running on $ENDPOINT"
else
  if curl -s -o /dev/null --max-time 2 "$ENDPOINT/"; then
    log "port $PORT is taken by another server; set MOTO_PORT"
    exit 1
  fi
  setsid "$PY" -m moto.server -H 127.0.0.1 -p "$PORT" >"/tmp/pydepot-moto-$PORT.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 100); do curl -s -o /dev/null "$ENDPOINT/" && break; sleep 0.1; done
  curl -s -o /dev/null "$ENDPOINT/" || { log "moto did not start: /tmp/pydepot-moto-$PORT.log"; exit 1; }
  log "moto up on $ENDPOINT"
fi
S3_ENDPOINT=$ENDPOINT RGW_ACCESS_KEY=testing RGW_SECRET_KEY=testing "$HERE/make-bucket.sh" "$BUCKET" >&2
echo "export AWS_ACCESS_KEY_ID=testing"
echo "export AWS_SECRET_ACCESS_KEY=testing"
echo "export AWS_ENDPOINT_URL=$ENDPOINT"
echo "export AWS_REGION=us-east-1"
echo "export AWS_EC2_METADATA_DISABLED=true"
echo "export PYDEPOT_TEST_S3_URL=s3://$BUCKET/conformance"
# moto accepts any signature: tests that need a refused one skip themselves.
echo "export PYDEPOT_TEST_S3_CHECKS_SIGNATURES=0"
