#!/usr/bin/env bash
# The Qpid Proton C example broker (built by scripts/install-brokers.sh) on loopback.
#
#   scripts/proton-broker.sh start  [PORT]   start and wait for a real AMQP 1.0 open
#   scripts/proton-broker.sh stop   [PORT]   SIGTERM it by PID and wait
#   scripts/proton-broker.sh status [PORT]   exit 0 when it runs
#
# PORT defaults to $PROTON_PORT or 5680. State (pid, log) lives in .brokers/proton-PORT.
# With BROKER_OWNER_PID set, start records it in .brokers/proton-PORT/owner.pid (see globalSetup).
# Quirks: it pre-settles every message it sends (no outcomes for receivers), grants senders 5
# credits at a time, accepts SASL ANONYMOUS only (or no SASL), and keeps queues in memory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PROTON_BROKER_BIN:-$ROOT/.brokers/bin/proton-broker}"
READY_BUDGET_MS="${PROTON_READY_TIMEOUT_MS:-10000}"

log() { printf '[proton-broker] %s\n' "$*" >&2; }
die() { printf '[proton-broker] error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
# True while PID is a live process (a zombie waiting for init to reap it counts as gone).
running() {
  local stat
  stat="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [[ -n "$stat" && "$stat" != Z* ]]
}

cmd="${1:-}"
[[ -n "$cmd" ]] || die "usage: $0 start|stop|status [PORT]"
PORT="${2:-${PROTON_PORT:-5680}}"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$PORT'"
DIR="$ROOT/.brokers/proton-$PORT"

broker_pid() {
  local pid
  [[ -f "$DIR/broker.pid" ]] || return 0
  pid="$(tr -dc '0-9' < "$DIR/broker.pid")"
  [[ -n "$pid" ]] && running "$pid" && [[ "$(ps -o comm= -p "$pid" 2>/dev/null)" == proton-broker ]] && echo "$pid"
  return 0
}

start() {
  [[ -x "$BIN" ]] || die "Proton C broker not built ($BIN missing): run scripts/install-brokers.sh"
  local pid t0 out
  pid="$(broker_pid)"
  if [[ -n "$pid" ]]; then
    log "already running on port $PORT (pid $pid)"
    node "$ROOT/scripts/amqp-wait.mjs" --port "$PORT" --timeout "$READY_BUDGET_MS" --pid "$pid"
    return 0
  fi
  ss -ltnH "sport = :$PORT" 2>/dev/null | grep -q . && die "port $PORT is already in use"
  t0="$(now_ms)"
  mkdir -p "$DIR"
  rm -f "$DIR/owner.pid"
  if [[ -n "${BROKER_OWNER_PID:-}" ]]; then echo "$BROKER_OWNER_PID" > "$DIR/owner.pid"; fi
  (
    cd "$DIR"
    exec setsid "$BIN" 127.0.0.1 "$PORT" > "$DIR/broker.log" 2>&1 < /dev/null
  ) &
  pid=$!
  disown "$pid" 2>/dev/null || true
  echo "$pid" > "$DIR/broker.pid"
  if ! out="$(node "$ROOT/scripts/amqp-wait.mjs" --port "$PORT" --timeout "$READY_BUDGET_MS" --pid "$pid")"; then
    log "broker did not become ready; $DIR/broker.log:"
    tail -n 20 "$DIR/broker.log" >&2 || true
    stop
    exit 1
  fi
  log "ready on amqp://127.0.0.1:$PORT in $(($(now_ms) - t0)) ms (pid $pid) $out"
  echo "$out"
}

stop() {
  local pid t0 i
  t0="$(now_ms)"
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then
    log "not running on port $PORT"
    rm -f "$DIR/broker.pid" "$DIR/owner.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    running "$pid" || break
    sleep 0.05
  done
  running "$pid" && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$DIR/broker.pid" "$DIR/owner.pid"
  log "stopped in $(($(now_ms) - t0)) ms"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status)
    pid="$(broker_pid)"
    if [[ -n "$pid" ]]; then
      echo "running: proton-broker pid $pid amqp://127.0.0.1:$PORT"
    else
      echo "stopped: proton-broker on port $PORT"
      exit 1
    fi
    ;;
  *) die "unknown command '$cmd' (start|stop|status)" ;;
esac
