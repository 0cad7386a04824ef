#!/usr/bin/env bash
# An isolated single RabbitMQ node for tests: loopback only, its own data dir, node name, HOME and
# ports, the rabbitmq_amqp1_0 plugin enabled and guest as the AMQP 1.0 default user.
#
#   scripts/rabbitmq.sh start  [PORT]          start (fresh state) and wait for a real AMQP 1.0 open
#   scripts/rabbitmq.sh stop   [PORT]          SIGTERM the node, wait; stop epmd after the last node
#   scripts/rabbitmq.sh restart [PORT]         stop, then start again on the same data: durable queues and
#                                              persistent messages survive, as on a real broker restart
#   scripts/rabbitmq.sh status [PORT]          exit 0 when the node runs
#   scripts/rabbitmq.sh kill   [PORT]          SIGKILL the node's VM (a crash: nothing is flushed, epmd
#                                              and the data stay); `resume` brings it back
#   scripts/rabbitmq.sh resume [PORT]          start again on the existing data (after `kill`); a
#                                              cluster member rejoins its cluster by itself
#   scripts/rabbitmq.sh pid    [PORT]          print the PID of the node's VM (exit 1 when none)
#   scripts/rabbitmq.sh ctl    PORT ARGS...    rabbitmqctl against that node, e.g.
#       scripts/rabbitmq.sh ctl 5679 set_policy DLX '^dlx-' '{"dead-letter-routing-key":"dead"}' --apply-to queues
#   scripts/rabbitmq.sh env    [PORT]          print the node's environment (for other Erlang tools)
#
# PORT defaults to $RABBITMQ_PORT or 5679 (not 5672, so a stray system broker does not clash).
# Everything lives in .brokers/rabbit-PORT (logs in .brokers/rabbit-PORT/log). Erlang distribution
# listens on 127.0.0.1:PORT+20000. The node gets its own epmd on 127.0.0.1:PORT+10000 (so test runs
# of different checkouts never share one); nodes meant to form a cluster share one by setting the
# same RABBITMQ_EPMD_PORT (e.g. 4369). epmd is stopped by PID after the last node using it stops.
# The epmd port a node was started with is remembered (.brokers/rabbit-PORT/epmd.port), so that the
# other commands (stop, ctl, restart, resume) find it without RABBITMQ_EPMD_PORT.
# With BROKER_OWNER_PID set, start records it in .brokers/rabbit-PORT/owner.pid (see globalSetup).
# With RABBITMQ_COOKIE set, a fresh start writes it as the node's Erlang cookie (nodes that form a
# cluster need the same one; see scripts/rabbitmq-cluster.sh); otherwise the node makes its own.
#
# TLS (optional): with RABBITMQ_TLS_PORT set, start also opens an amqps listener on
# 127.0.0.1:RABBITMQ_TLS_PORT with the PEM files RABBITMQ_TLS_CA, RABBITMQ_TLS_CERT and RABBITMQ_TLS_KEY
# (copied into .brokers/rabbit-PORT/tls, so the originals may go once the node is up). Clients are not
# asked for a certificate. Without RABBITMQ_TLS_PORT nothing changes. For example:
#   RABBITMQ_TLS_PORT=5699 RABBITMQ_TLS_CA=ca.pem RABBITMQ_TLS_CERT=server.pem RABBITMQ_TLS_KEY=server.key \
#     scripts/rabbitmq.sh start 5698
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RABBIT_BIN=/usr/lib/rabbitmq/bin
BROKERS="$ROOT/.brokers"
READY_BUDGET_MS="${RABBITMQ_READY_TIMEOUT_MS:-60000}"

log() { printf '[rabbitmq] %s\n' "$*" >&2; }
die() { printf '[rabbitmq] error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
# True while PID is a live process (a zombie waiting for init to reap it counts as gone).
running() {
  local stat
  stat="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [[ -n "$stat" && "$stat" != Z* ]]
}

cmd="${1:-}"
[[ -n "$cmd" ]] || die "usage: $0 start|stop|restart|kill|resume|status|pid|ctl|env [PORT] [ARGS...]"
shift
PORT="${1:-${RABBITMQ_PORT:-5679}}"
[[ $# -gt 0 ]] && shift
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$PORT'"
DIR="$BROKERS/rabbit-$PORT"
NODE="rabbit-$PORT@localhost"
# A fresh start uses RABBITMQ_EPMD_PORT or the node's private port; everything else the port the
# node was started with, unless RABBITMQ_EPMD_PORT says otherwise.
if [[ -n "${RABBITMQ_EPMD_PORT:-}" ]]; then
  EPMD_PORT="$RABBITMQ_EPMD_PORT"
elif [[ ("$cmd" != start || "${KEEP_STATE:-0}" == 1) && -f "$DIR/epmd.port" ]]; then
  EPMD_PORT="$(tr -dc '0-9' < "$DIR/epmd.port")"
else
  EPMD_PORT=$((PORT + 10000))
fi
[[ "$EPMD_PORT" =~ ^[0-9]+$ ]] || die "RABBITMQ_EPMD_PORT must be a number, got '$EPMD_PORT'"

node_env() {
  export HOME="$DIR/home"
  export RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf"
  export RABBITMQ_NODENAME="$NODE"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$PORT"
  export RABBITMQ_DIST_PORT=$((PORT + 20000))
  export RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$DIR/mnesia"
  export RABBITMQ_LOG_BASE="$DIR/log"
  export RABBITMQ_PID_FILE="$DIR/beam.pid"
  export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$EPMD_PORT"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  # Keeps the CLI tools on loopback too (without it a CLI run may start an epmd on 0.0.0.0).
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export LANG="${LANG:-C.UTF-8}" LC_ALL="${LC_ALL:-C.UTF-8}"
}

# PID of the running beam of this node, or nothing.
beam_pid() {
  local pid
  [[ -f "$DIR/beam.pid" ]] || return 0
  pid="$(tr -dc '0-9' < "$DIR/beam.pid")"
  [[ -n "$pid" ]] && running "$pid" && [[ "$(ps -o comm= -p "$pid" 2>/dev/null)" == beam* ]] && echo "$pid"
  return 0
}

# PIDs of this node's Erlang VM: from the pid file or, before the node has written it (early boot) or
# after it was lost, by the pid-file path in a beam.smp's environment, which only this node has.
node_vm_pids() {
  local pid p
  pid="$(beam_pid)"
  if [[ -n "$pid" ]]; then
    echo "$pid"
    return 0
  fi
  for p in /proc/[0-9]*; do
    [[ "$(cat "$p/comm" 2>/dev/null)" == beam.smp ]] || continue
    if tr '\0' '\n' < "$p/environ" 2>/dev/null | grep -qxF "RABBITMQ_PID_FILE=$DIR/beam.pid"; then
      echo "${p#/proc/}"
    fi
  done
  return 0
}

epmd_listener_pid() {
  ss -ltnpH "sport = :$EPMD_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true
}

port_busy() { ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

start() {
  [[ -x "$RABBIT_BIN/rabbitmq-server" ]] ||
    die "RabbitMQ is not installed ($RABBIT_BIN/rabbitmq-server missing): run scripts/install-brokers.sh"
  local pid
  pid="$(beam_pid)"
  if [[ -z "$pid" && -n "$(node_vm_pids)" ]]; then
    log "a VM of node $NODE is left over without its pid file: stopping it first"
    stop_node
  fi
  if [[ -n "$pid" ]]; then
    log "node $NODE already running (pid $pid)"
    node "$ROOT/scripts/amqp-wait.mjs" --port "$PORT" --timeout "$READY_BUDGET_MS" --pid "$pid"
    return 0
  fi
  port_busy "$PORT" && die "port $PORT is already in use (ss -ltnp 'sport = :$PORT')"
  port_busy $((PORT + 20000)) && die "Erlang distribution port $((PORT + 20000)) is already in use"
  local tls_port="${RABBITMQ_TLS_PORT:-}" f
  if [[ -n "$tls_port" ]]; then
    [[ "$tls_port" =~ ^[0-9]+$ && "$tls_port" != "$PORT" ]] ||
      die "RABBITMQ_TLS_PORT must be a port number other than $PORT, got '$tls_port'"
    port_busy "$tls_port" && die "TLS port $tls_port is already in use"
    for f in RABBITMQ_TLS_CA RABBITMQ_TLS_CERT RABBITMQ_TLS_KEY; do
      [[ -n "${!f:-}" && -r "${!f}" ]] || die "RABBITMQ_TLS_PORT is set, so $f must name a readable PEM file (got '${!f:-}')"
    done
  fi
  if port_busy "$EPMD_PORT" && [[ "$(ps -o comm= -p "$(epmd_listener_pid)" 2>/dev/null)" != epmd ]]; then
    die "epmd port $EPMD_PORT is in use by something else than epmd"
  fi

  local t0 had_epmd
  t0="$(now_ms)"
  had_epmd="$(epmd_listener_pid)"

  if [[ "${KEEP_STATE:-0}" == 1 && -f "$DIR/rabbitmq.conf" ]]; then
    log "restarting node $NODE on its existing data"
    [[ -f "$DIR/tls.port" ]] && tls_port="$(cat "$DIR/tls.port")"
  else
  rm -rf "$DIR"
  mkdir -p "$DIR"/{mnesia,log,home}
  cat > "$DIR/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$PORT
loopback_users.guest = true
amqp1_0.default_user = guest
amqp1_0.default_vhost = /
log.console = false
log.file.level = info
EOF
  if [[ -n "$tls_port" ]]; then
    mkdir -p "$DIR/tls"
    cp "$RABBITMQ_TLS_CA" "$DIR/tls/ca.pem"
    cp "$RABBITMQ_TLS_CERT" "$DIR/tls/cert.pem"
    cp "$RABBITMQ_TLS_KEY" "$DIR/tls/key.pem"
    chmod 600 "$DIR/tls/key.pem"
    cat >> "$DIR/rabbitmq.conf" <<EOF
listeners.ssl.1 = 127.0.0.1:$tls_port
ssl_options.cacertfile = $DIR/tls/ca.pem
ssl_options.certfile = $DIR/tls/cert.pem
ssl_options.keyfile = $DIR/tls/key.pem
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
EOF
    echo "$tls_port" > "$DIR/tls.port"
  fi
  echo '[rabbitmq_amqp1_0].' > "$DIR/enabled_plugins"
  : > "$DIR/rabbitmq-env.conf"
  if [[ -n "${RABBITMQ_COOKIE:-}" ]]; then
    [[ "$RABBITMQ_COOKIE" =~ ^[A-Za-z0-9]+$ ]] || die "RABBITMQ_COOKIE must be letters and digits"
    printf '%s' "$RABBITMQ_COOKIE" > "$DIR/home/.erlang.cookie"
    chmod 400 "$DIR/home/.erlang.cookie"
  fi
  echo "$EPMD_PORT" > "$DIR/epmd.port"
  fi
  if [[ -n "${BROKER_OWNER_PID:-}" ]]; then echo "$BROKER_OWNER_PID" > "$DIR/owner.pid"; fi

  (
    node_env
    cd "$DIR"
    exec setsid nohup "$RABBIT_BIN/rabbitmq-server" > "$DIR/log/stdout.log" 2>&1 < /dev/null
  ) &
  local launcher=$!
  disown "$launcher" 2>/dev/null || true
  echo "$launcher" > "$DIR/launcher.pid"

  local out
  if ! out="$(node "$ROOT/scripts/amqp-wait.mjs" --port "$PORT" --timeout "$READY_BUDGET_MS" --pid "$launcher")"; then
    log "node $NODE did not become ready; last lines of $DIR/log/stdout.log:"
    tail -n 30 "$DIR/log/stdout.log" >&2 || true
    stop_node
    # An epmd the failed boot started is ours too.
    if [[ -z "$had_epmd" ]]; then
      local epmd
      epmd="$(epmd_listener_pid)"
      if [[ -n "$epmd" ]]; then
        echo "$epmd" > "$DIR/epmd.pid"
        stop_epmd_if_last
      fi
    fi
    exit 1
  fi
  # The pid file is written early in the boot; it is there by the time AMQP answers.
  pid="$(beam_pid)"
  [[ -n "$pid" ]] || pid="$launcher"
  if [[ -z "$had_epmd" ]]; then
    local epmd
    epmd="$(epmd_listener_pid)"
    [[ -n "$epmd" ]] && echo "$epmd" > "$DIR/epmd.pid"
  fi
  if [[ -n "$tls_port" ]]; then
    # The TLS listener opens with the plain one; give it a moment in case it trails.
    local i
    for ((i = 0; i < 100; i++)); do
      port_busy "$tls_port" && break
      sleep 0.05
    done
    if ! port_busy "$tls_port"; then
      log "node $NODE did not open its TLS listener on $tls_port; see $DIR/log"
      stop_node
      exit 1
    fi
    log "node $NODE also listens on amqps://127.0.0.1:$tls_port"
  fi
  log "node $NODE ready on amqp://127.0.0.1:$PORT in $(($(now_ms) - t0)) ms (pid $pid) $out"
  echo "$out"
}

stop_node() {
  local t0 launcher="" targets=() p i
  t0="$(now_ms)"
  [[ -f "$DIR/launcher.pid" ]] && launcher="$(tr -dc '0-9' < "$DIR/launcher.pid")"
  for p in $(node_vm_pids); do targets+=("$p"); done
  # The launcher script forwards SIGTERM to the VM; it is signalled too in case the VM is not up yet.
  if [[ -n "$launcher" ]] && running "$launcher"; then targets+=("$launcher"); fi
  if ((${#targets[@]} > 0)); then
    kill -TERM "${targets[@]}" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      local left=0
      for p in "${targets[@]}"; do running "$p" && left=1; done
      ((left)) || break
      sleep 0.1
    done
    for p in "${targets[@]}"; do
      if running "$p"; then
        log "pid $p of node $NODE ignored SIGTERM for 30 s: SIGKILL"
        kill -KILL "$p" 2>/dev/null || true
      fi
    done
    # An early-boot VM may have been spawned after the first look: catch it now.
    for p in $(node_vm_pids); do kill -KILL "$p" 2>/dev/null || true; done
    log "node $NODE stopped in $(($(now_ms) - t0)) ms"
  else
    log "node $NODE is not running"
  fi
  rm -f "$DIR/beam.pid" "$DIR/launcher.pid" "$DIR/owner.pid"
  stop_epmd_if_last
}

# epmd is daemonised and outlives the nodes. The node that found no epmd on its port records the one
# it started (epmd.pid); on the node's private default port (PORT+10000) an epmd is this node's even
# unrecorded (e.g. after a failed boot). When the node stops, the epmd passes to another live node on
# the same epmd port (a cluster), or, if none is left, is stopped by its PID. An epmd started by
# anything else (a shared RABBITMQ_EPMD_PORT it did not start) is never touched.
stop_epmd_if_last() {
  local p="" d other
  if [[ -f "$DIR/epmd.pid" ]]; then
    p="$(tr -dc '0-9' < "$DIR/epmd.pid")"
  elif [[ "$EPMD_PORT" == "$((PORT + 10000))" ]]; then
    p="$(epmd_listener_pid)"
  fi
  [[ -n "$p" ]] || return 0
  for d in "$BROKERS"/rabbit-*; do
    [[ "$d" != "$DIR" && -f "$d/beam.pid" && -f "$d/epmd.port" ]] || continue
    [[ "$(cat "$d/epmd.port")" == "$EPMD_PORT" ]] || continue
    other="$(tr -dc '0-9' < "$d/beam.pid")"
    if [[ -n "$other" ]] && running "$other"; then
      echo "$p" > "$d/epmd.pid"
      rm -f "$DIR/epmd.pid"
      return 0
    fi
  done
  rm -f "$DIR/epmd.pid"
  if running "$p" && [[ "$(ps -o comm= -p "$p" 2>/dev/null)" == epmd ]]; then
    kill -TERM "$p" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
      running "$p" || break
      sleep 0.1
    done
    log "epmd (pid $p, port $EPMD_PORT) stopped"
  fi
}

# SIGKILL the node's VM, as a crash would: no clean shutdown, the data and epmd stay.
kill_node() {
  local pids=() p i
  for p in $(node_vm_pids); do pids+=("$p"); done
  ((${#pids[@]} > 0)) || die "node $NODE is not running"
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    local left=0
    for p in "${pids[@]}"; do running "$p" && left=1; done
    ((left)) || break
    sleep 0.05
  done
  log "node $NODE killed (SIGKILL, pid ${pids[*]})"
}

case "$cmd" in
  start) start ;;
  stop) stop_node ;;
  restart) stop_node && KEEP_STATE=1 start ;;
  kill) kill_node ;;
  resume)
    [[ -f "$DIR/rabbitmq.conf" ]] || die "no node data in $DIR: start it first"
    KEEP_STATE=1 start
    ;;
  pid)
    pid="$(beam_pid)"
    [[ -n "$pid" ]] || exit 1
    echo "$pid"
    ;;
  status)
    pid="$(beam_pid)"
    if [[ -n "$pid" ]]; then
      tls=""
      [[ -f "$DIR/tls.port" ]] && tls=" amqps://127.0.0.1:$(tr -dc '0-9' < "$DIR/tls.port")"
      echo "running: $NODE pid $pid amqp://127.0.0.1:$PORT$tls"
    else
      echo "stopped: $NODE"
      exit 1
    fi
    ;;
  ctl)
    [[ -d "$DIR/home" ]] || die "no node data in $DIR: start it first"
    node_env
    exec "$RABBIT_BIN/rabbitmqctl" -n "$NODE" "$@"
    ;;
  env)
    node_env
    env | grep -E '^(HOME|RABBITMQ_|ERL_)' | sort
    ;;
  *) die "unknown command '$cmd' (start|stop|restart|kill|resume|status|pid|ctl|env)" ;;
esac
