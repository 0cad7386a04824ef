#!/usr/bin/env bash
# Installs the real AMQP 1.0 peers used by the test suite (Debian/Ubuntu, run as root):
#   - RabbitMQ 3.10 (rabbitmq-server), started per test run by scripts/rabbitmq.sh
#   - Qpid Proton Python (python3-qpid-proton), the interoperability client
#   - the Qpid Proton C example broker, built into .brokers/bin/proton-broker
#   - azure-servicebus 7.8 on uAMQP (python3-azure, python3-uamqp), the Service Bus oracle client
#
# Idempotent: packages already installed are not touched and `apt-get update` runs only when
# something is missing. No package service is left running: service starts are forbidden
# through policy-rc.d while dpkg runs, and any beam/epmd process that appears anyway is stopped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACKAGES=(rabbitmq-server python3-qpid-proton libqpid-proton11-dev-examples gcc python3-azure python3-uamqp)
EXAMPLES=/usr/share/proton/examples/c
BIN_DIR="$ROOT/.brokers/bin"
POLICY=/usr/sbin/policy-rc.d

log() { printf '[install-brokers] %s\n' "$*"; }
die() { printf '[install-brokers] error: %s\n' "$*" >&2; exit 1; }

if ! command -v dpkg-query >/dev/null 2>&1; then
  die "dpkg-query not found: this script supports Debian-based systems only. Install ${PACKAGES[*]} by other means and build $EXAMPLES/broker.c into $BIN_DIR/proton-broker."
fi

installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

pids_of() { pgrep -x "$1" 2>/dev/null | tr '\n' ' ' || true; }

missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

# Installing needs root and apt-get; when everything is installed neither is needed.
if ((${#missing[@]} > 0)); then
  if [[ "$(id -u)" != 0 ]]; then
    die "missing packages: ${missing[*]}. Installing them needs root (apt-get): run sudo $0"
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    die "missing packages: ${missing[*]}, and apt-get is not available: install them by other means"
  fi
fi

if ((${#missing[@]} > 0)); then
  log "installing: ${missing[*]}"
  before_beam=" $(pids_of beam.smp)"
  before_epmd=" $(pids_of epmd)"

  # Forbid service starts while dpkg configures the packages (rabbitmq-server's postinst runs
  # `invoke-rc.d rabbitmq-server start`). An existing policy is kept aside and restored.
  policy_backup=""
  restore_policy() {
    if [[ -n "$policy_backup" ]]; then
      mv -f "$policy_backup" "$POLICY"
    else
      rm -f "$POLICY"
    fi
  }
  if [[ -e "$POLICY" ]]; then
    policy_backup="$(mktemp /tmp/policy-rc.d.XXXXXX)"
    cp -p "$POLICY" "$policy_backup"
  fi
  trap restore_policy EXIT
  printf '#!/bin/sh\n# temporary: no service starts while installing test brokers\nexit 101\n' > "$POLICY"
  chmod 755 "$POLICY"

  export DEBIAN_FRONTEND=noninteractive
  t0=$SECONDS
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" </dev/null
  log "packages installed in $((SECONDS - t0)) s"

  restore_policy
  trap - EXIT

  # Anything the packages started despite the policy: stop it by PID.
  for pid in $(pids_of beam.smp); do
    [[ "$before_beam" == *" $pid "* ]] && continue
    log "stopping beam.smp $pid started by the package install"
    kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 0.2
  for pid in $(pids_of epmd); do
    [[ "$before_epmd" == *" $pid "* ]] && continue
    log "stopping epmd $pid started by the package install"
    kill -TERM "$pid" 2>/dev/null || true
  done
else
  log "packages already installed: ${PACKAGES[*]}"
fi

# Nothing from the system package may listen: report a system RabbitMQ or a public epmd.
if command -v ss >/dev/null 2>&1; then
  if ss -ltnH 'sport = :5672' | grep -q .; then
    log "warning: something listens on port 5672 (a system RabbitMQ?); the tests use their own node on 5679"
  fi
  if ss -ltnH 'sport = :4369' | grep -Eq '0\.0\.0\.0:4369|\*:4369|\[::\]:4369'; then
    log "warning: an epmd listens on all interfaces (port 4369); the test nodes share the running epmd"
  fi
fi

# The Qpid Proton C example broker.
[[ -f "$EXAMPLES/broker.c" && -f "$EXAMPLES/thread.h" ]] ||
  die "$EXAMPLES/broker.c or thread.h missing (package libqpid-proton11-dev-examples)"
mkdir -p "$BIN_DIR"
target="$BIN_DIR/proton-broker"
if [[ ! -x "$target" || "$EXAMPLES/broker.c" -nt "$target" || "$EXAMPLES/thread.h" -nt "$target" ]]; then
  build="$(mktemp -d)"
  cp "$EXAMPLES/broker.c" "$EXAMPLES/thread.h" "$build/"
  gcc -O2 -o "$build/proton-broker" "$build/broker.c" -lqpid-proton -lpthread
  mv -f "$build/proton-broker" "$target"
  rm -rf "$build"
  log "built $target"
else
  log "up to date: $target"
fi

[[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || die "/usr/lib/rabbitmq/bin/rabbitmq-server missing after install"
/usr/bin/python3 -c 'import proton' 2>/dev/null || die "/usr/bin/python3 cannot import proton"
/usr/bin/python3 -c 'import azure.servicebus, uamqp' 2>/dev/null || die "/usr/bin/python3 cannot import azure.servicebus and uamqp"
log "ready: RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server), Proton $(dpkg-query -W -f='${Version}' python3-qpid-proton), $target"
