#!/usr/bin/env bash
# Creates an S3 bucket on the local radosgw (or any path-style S3 endpoint) with a SigV4-signed
# curl request; an existing bucket of ours is fine. Usage: make-bucket.sh [BUCKET]
# Env: S3_PORT (17480) or AWS_ENDPOINT_URL, RGW_ACCESS_KEY / RGW_SECRET_KEY (the test user).
set -euo pipefail
BUCKET=${1:-${S3_BUCKET:-pydepot-test}}
ENDPOINT=${S3_ENDPOINT:-http://127.0.0.1:${S3_PORT:-17480}}
AK=${RGW_ACCESS_KEY:-PYDEPOTTESTKEY000001}
SK=${RGW_SECRET_KEY:-pydepot-test-secret}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
code=$(curl -s -o "$out" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" -u "$AK:$SK" \
  -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
  -X PUT "$ENDPOINT/$BUCKET")
case $code in
  200) echo "make-bucket: created $BUCKET" ;;
  409) grep -q BucketAlreadyOwnedByYou "$out" || { echo "make-bucket: $BUCKET: $(cat "$out")"; exit 1; } ;;
  *) echo "make-bucket: $BUCKET: HTTP $code $(cat "$out")" >&2; exit 1 ;;
esac
