#!/usr/bin/env bash
# A 3-node RabbitMQ cluster on loopback for tests: the nodes of scripts/rabbitmq.sh (each isolated in
# .brokers/rabbit-PORT, AMQP on PORT, Erlang distribution on PORT+20000) sharing one Erlang cookie and
# one epmd, with nodes 2 and 3 joined to node 1. Quorum queues replicate across all three.
#
#   scripts/rabbitmq-cluster.sh start   [BASE]             form the cluster: nodes BASE, BASE+2, BASE+4
#   scripts/rabbitmq-cluster.sh stop    [BASE]             stop every node, then the cluster's epmd (by PID)
#   scripts/rabbitmq-cluster.sh status  [BASE]             one line per node; exit 0 when all three run
#   scripts/rabbitmq-cluster.sh urls    [BASE]             the nodes' AMQP URLs, one a line
#   scripts/rabbitmq-cluster.sh vhost   BASE NAME          a vhost whose queues are quorum queues by
#                                                          default (guest gets every permission on it)
#   scripts/rabbitmq-cluster.sh declare BASE QUEUE [--vhost V] [--on PORT] [--max-length N]
#                                       [--overflow drop-head|reject-publish]
#                                                          declare the quorum queue QUEUE, led by node PORT
#                                                          (default: node 1); prints {new|existing,…}
#   scripts/rabbitmq-cluster.sh leader  BASE QUEUE [VHOST] print the AMQP port of the queue's leader
#   scripts/rabbitmq-cluster.sh members BASE QUEUE [VHOST] wait until every member of the queue is online
#                                                          (a restarted node has caught up); print them
#   scripts/rabbitmq-cluster.sh kill    BASE PORT          SIGKILL the VM of node PORT, by its PID
#   scripts/rabbitmq-cluster.sh resume  BASE PORT          start node PORT again on its data: it rejoins the
#                                                          cluster by itself; waits for its AMQP open
#   scripts/rabbitmq-cluster.sh ctl     BASE PORT ARGS...  rabbitmqctl against node PORT
#
# BASE defaults to $RABBITMQ_CLUSTER_BASE or 5901 (odd, and clear of the single nodes of the test
# suite: 5679…, 5761…, 5773…). epmd listens on 127.0.0.1:BASE+10000 for the three nodes only; the CLI
# stays on loopback too (RABBITMQ_CTL_ERL_ARGS, set by scripts/rabbitmq.sh). With BROKER_OWNER_PID set,
# each node records it; `start` stops leftover nodes of a BASE whose owner process is gone, and refuses
# to touch nodes that are running for someone else.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_SCRIPT="$ROOT/scripts/rabbitmq.sh"
BROKERS="$ROOT/.brokers"

log() { printf '[rabbitmq-cluster] %s\n' "$*" >&2; }
die() { printf '[rabbitmq-cluster] error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
running() {
  local stat
  stat="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [[ -n "$stat" && "$stat" != Z* ]]
}

cmd="${1:-}"
[[ -n "$cmd" ]] || die "usage: $0 start|stop|status|urls|vhost|declare|leader|members|kill|resume|ctl [BASE] [ARGS...]"
shift
BASE="${1:-${RABBITMQ_CLUSTER_BASE:-5901}}"
[[ $# -gt 0 ]] && shift
[[ "$BASE" =~ ^[0-9]+$ && "$BASE" -le 45531 ]] || die "BASE must be a port number up to 45531, got '$BASE'"
PORTS=("$BASE" $((BASE + 2)) $((BASE + 4)))
EPMD_PORT=$((BASE + 10000))
SEED="rabbit-$BASE@localhost"

node_name() { echo "rabbit-$1@localhost"; }
node_dir() { echo "$BROKERS/rabbit-$1"; }
rmq() { RABBITMQ_EPMD_PORT="$EPMD_PORT" "$NODE_SCRIPT" "$@"; }
is_member() {
  local p
  for p in "${PORTS[@]}"; do [[ "$p" == "$1" ]] && return 0; done
  return 1
}
member_arg() {
  [[ -n "${1:-}" ]] || die "$cmd needs the PORT of a node (one of ${PORTS[*]})"
  is_member "$1" || die "port $1 is not a node of the cluster on $BASE (nodes: ${PORTS[*]})"
  echo "$1"
}
# The first node that runs, for cluster-wide CLI calls.
live_port() {
  local p
  for p in "${PORTS[@]}"; do
    if rmq status "$p" >/dev/null 2>&1; then
      echo "$p"
      return 0
    fi
  done
  die "no node of the cluster on $BASE is running"
}
epmd_pid() {
  ss -ltnpH "sport = :$EPMD_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true
}
# Erlang binary literal of a name (letters, digits, '-', '_', '.', '/', ':' only: nothing to escape).
bin() {
  [[ "$1" =~ ^[A-Za-z0-9_./:-]+$ ]] || die "names may contain letters, digits and _ . / : - only, got '$1'"
  printf '<<"%s">>' "$1"
}

stop_epmd() {
  local p i
  p="$(epmd_pid)"
  if [[ -n "$p" ]] && [[ "$(ps -o comm= -p "$p" 2>/dev/null)" == epmd ]]; then
    kill -TERM "$p" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      running "$p" || break
      sleep 0.1
    done
    running "$p" && kill -KILL "$p" 2>/dev/null || true
    log "epmd (pid $p, port $EPMD_PORT) stopped"
  fi
  for p in "${PORTS[@]}"; do rm -f "$(node_dir "$p")/epmd.pid"; done
}

stop_cluster() {
  local t0 p pids=() failed=0
  t0="$(now_ms)"
  for p in "${PORTS[@]}"; do
    rmq stop "$p" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  stop_epmd
  log "cluster on $BASE stopped in $(($(now_ms) - t0)) ms"
  return "$failed"
}

# Nodes of this BASE left running: stopped when the run that started them is gone, else an error.
clear_leftovers() {
  local p dir owner left=0
  for p in "${PORTS[@]}"; do
    rmq status "$p" >/dev/null 2>&1 || continue
    dir="$(node_dir "$p")"
    owner="$(tr -dc '0-9' < "$dir/owner.pid" 2>/dev/null || true)"
    if [[ -n "$owner" ]] && ! running "$owner"; then
      left=1
    else
      die "node $(node_name "$p") is already running${owner:+ for pid $owner}: stop it first ($0 stop $BASE)"
    fi
  done
  if ((left)); then
    log "stopping nodes of a cluster on $BASE left over by a run that is gone"
    stop_cluster || true
  fi
}

start_cluster() {
  [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] ||
    die "RabbitMQ is not installed (/usr/lib/rabbitmq/bin/rabbitmq-server missing): run scripts/install-brokers.sh"
  clear_leftovers
  local t0 p pids=() failed=0 cookie
  t0="$(now_ms)"
  cookie="$(od -An -tx1 -N16 /dev/urandom | tr -dc '0-9a-f' | tr 'a-f' 'A-F')"
  # 1. Boot the three nodes at once, each to its first AMQP open.
  for p in "${PORTS[@]}"; do
    RABBITMQ_COOKIE="$cookie" rmq start "$p" >/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  if ((failed)); then
    log "a node did not start: stopping the others"
    stop_cluster || true
    exit 1
  fi
  local booted
  booted="$(now_ms)"
  log "3 nodes booted in $((booted - t0)) ms; joining ${PORTS[1]} and ${PORTS[2]} to $SEED"
  # 2. Join nodes 2 and 3 to node 1: both stop their app at once, join one after the other (each
  #    join is a schema change on node 1), and start their app again at once.
  local step
  for step in stop_app join_cluster start_app; do
    pids=()
    for p in "${PORTS[@]:1}"; do
      if [[ "$step" == join_cluster ]]; then
        rmq ctl "$p" join_cluster "$SEED" >/dev/null || failed=1
      else
        rmq ctl "$p" "$step" >/dev/null &
        pids+=($!)
      fi
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    if ((failed)); then
      log "$step failed on a node joining $SEED: stopping the cluster"
      stop_cluster || true
      exit 1
    fi
  done
  # 3. Every node answers an AMQP open again, and node 1 sees all three running.
  for p in "${PORTS[@]}"; do
    command node "$ROOT/scripts/amqp-wait.mjs" --port "$p" --timeout 30000 >/dev/null 2>&1 ||
      node_wait_failed "$p"
  done
  local status
  status="$(rmq ctl "$BASE" eval 'length(rabbit_nodes:all_running()).' 2>/dev/null | tr -dc '0-9')"
  if [[ "$status" != 3 ]]; then
    log "node 1 sees ${status:-no} running nodes instead of 3: stopping the cluster"
    stop_cluster || true
    exit 1
  fi
  log "cluster of $(node_name "${PORTS[0]}"), $(node_name "${PORTS[1]}"), $(node_name "${PORTS[2]}") formed in $(($(now_ms) - t0)) ms (boot $((booted - t0)) ms, join $(($(now_ms) - booted)) ms), epmd on 127.0.0.1:$EPMD_PORT"
  printf '{"base":%d,"ports":[%d,%d,%d],"epmd":%d,"ms":%d}\n' "$BASE" "${PORTS[@]}" "$EPMD_PORT" $(($(now_ms) - t0))
}

node_wait_failed() {
  log "node $(node_name "$1") does not answer an AMQP open after joining: stopping the cluster"
  stop_cluster || true
  exit 1
}

declare_queue() {
  local queue="${1:-}" vhost=/ on="$BASE" max_length="" overflow=""
  [[ -n "$queue" ]] || die "declare needs a QUEUE name"
  shift
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --vhost) vhost="${2:?--vhost needs a name}"; shift 2 ;;
      --on) on="$(member_arg "${2:-}")"; shift 2 ;;
      --max-length) max_length="${2:?--max-length needs a number}"; shift 2 ;;
      --overflow) overflow="${2:?--overflow needs drop-head or reject-publish}"; shift 2 ;;
      *) die "declare: unknown option '$1'" ;;
    esac
  done
  local args='{<<"x-queue-type">>, longstr, <<"quorum">>}'
  if [[ -n "$max_length" ]]; then
    [[ "$max_length" =~ ^[0-9]+$ ]] || die "--max-length must be a number, got '$max_length'"
    args+=", {<<\"x-max-length\">>, long, $max_length}"
  fi
  if [[ -n "$overflow" ]]; then
    [[ "$overflow" == drop-head || "$overflow" == reject-publish ]] || die "--overflow must be drop-head or reject-publish"
    args+=", {<<\"x-overflow\">>, longstr, $(bin "$overflow")}"
  fi
  # Declared by the node that is to lead it: a quorum queue's first leader is the declaring node.
  local out
  out="$(rmq ctl "$on" eval "rabbit_amqqueue:declare(rabbit_misc:r($(bin "$vhost"), queue, $(bin "$queue")), true, false, [$args], none, <<\"cli\">>)." 2>&1)" ||
    die "declaring $queue failed: $out"
  [[ "$out" == "{new,"* || "$out" == "{existing,"* ]] || die "declaring $queue failed: $out"
  echo "${out%%,*}}"
}

# The leader of a quorum queue, as node name; empty while there is none (an election).
leader_node() {
  local queue="$1" vhost="$2" port
  port="$(live_port)"
  rmq ctl "$port" eval "case rabbit_amqqueue:lookup(rabbit_misc:r($(bin "$vhost"), queue, $(bin "$queue"))) of {ok, Q} -> case amqqueue:get_pid(Q) of {_, N} -> io:format(\"~s~n\", [N]); _ -> ok end; _ -> ok end." 2>/dev/null | grep -o 'rabbit-[0-9]*@localhost' | head -n1 || true
}

leader() {
  local queue="${1:-}" vhost="${2:-/}" name i
  [[ -n "$queue" ]] || die "leader needs a QUEUE name"
  for ((i = 0; i < 40; i++)); do
    name="$(leader_node "$queue" "$vhost")"
    if [[ -n "$name" ]]; then
      name="${name#rabbit-}"
      echo "${name%@localhost}"
      return 0
    fi
    sleep 0.25
  done
  die "queue '$queue' in vhost '$vhost' has no leader"
}

# Waits (up to 60 s) until every member of the quorum queue is online, then prints them.
members() {
  local queue="${1:-}" vhost="${2:-/}" port out i
  [[ -n "$queue" ]] || die "members needs a QUEUE name"
  for ((i = 0; i < 120; i++)); do
    port="$(live_port)"
    out="$(rmq ctl "$port" list_queues -p "$vhost" name members online --no-table-headers --quiet 2>/dev/null | awk -v q="$queue" '$1 == q' || true)"
    if [[ -n "$out" ]]; then
      local all online
      all="$(grep -o 'rabbit-[0-9]*@localhost' <<< "${out%%]*}" | sort | tr '\n' ' ')"
      online="$(grep -o 'rabbit-[0-9]*@localhost' <<< "${out#*]}" | sort | tr '\n' ' ')"
      if [[ -n "$all" && "$all" == "$online" ]]; then
        echo "$all"
        return 0
      fi
    fi
    sleep 0.5
  done
  die "queue '$queue' in vhost '$vhost': not every member came online within 60 s (last: ${out:-none})"
}

case "$cmd" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  status)
    up=0
    for p in "${PORTS[@]}"; do rmq status "$p" && up=$((up + 1)) || true; done
    ((up == 3))
    ;;
  urls) for p in "${PORTS[@]}"; do echo "amqp://127.0.0.1:$p"; done ;;
  vhost)
    name="${1:?vhost needs a NAME}"
    bin "$name" >/dev/null
    port="$(live_port)"
    rmq ctl "$port" add_vhost "$name" --default-queue-type quorum >/dev/null
    rmq ctl "$port" set_permissions -p "$name" guest '.*' '.*' '.*' >/dev/null
    log "vhost $name (default queue type quorum) ready"
    ;;
  declare) declare_queue "$@" ;;
  leader) leader "$@" ;;
  members) members "$@" ;;
  kill)
    port="$(member_arg "${1:-}")"
    rmq kill "$port"
    ;;
  resume)
    port="$(member_arg "${1:-}")"
    t0="$(now_ms)"
    rmq resume "$port" >/dev/null
    log "node $(node_name "$port") is back in $(($(now_ms) - t0)) ms"
    ;;
  ctl)
    port="$(member_arg "${1:-}")"
    shift
    exec env RABBITMQ_EPMD_PORT="$EPMD_PORT" "$NODE_SCRIPT" ctl "$port" "$@"
    ;;
  *) die "unknown command '$cmd' (start|stop|status|urls|vhost|declare|leader|members|kill|resume|ctl)" ;;
esac
