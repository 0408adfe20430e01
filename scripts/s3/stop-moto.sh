#!/usr/bin/env bash
# Stops the moto server start-moto.sh started (by its pid file). Safe when none runs.
set -uo pipefail
PORT=${MOTO_PORT:-17490}
PIDFILE=/tmp/pydepot-moto-$PORT.pid
[ -f "$PIDFILE" ] || exit 0
pid=$(cat "$PIDFILE")
if kill -0 "$pid" 2>/dev/null && grep -qa moto.server "/proc/$pid/cmdline" 2>/dev/null; then
  kill "$pid" && echo "stop-moto: stopped moto ($pid)"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
fi
rm -f "$PIDFILE" "/tmp/pydepot-moto-$PORT.log"
exit 0
