#!/usr/bin/env bash
# Whistle's own services (registry, intake, router, gateway, sla, ledger, notify), run from
# already-built binaries.
#
# usage: deploy/dev/services.sh {start|stop|status}  (registry, intake, router, gateway, sla, ledger, notify)
#   start    (re)start every service in the background and wait until each answers /readyz
#   stop     SIGTERM each service and wait for it to drain (bounded)
#   status   one line per service; exit 0 if all run, 3 otherwise
#
# Replicas: WHISTLE_REPLICAS=N (default 1) starts N instances of intake, router, gateway, sla and notify
# (the registry stays one: it is the registry topic's single writer). Instance r > 0 is named
# <service>-r, listens on the base port + 10 r (intake 8081, 8091, 8101, ...) and a router
# instance gets its own transactional id. `start` records N in $WHISTLE_RUN/replicas, which
# `stop`, `status` and nginx.sh (its upstreams) read.
#
# Environment: WHISTLE_BIN_DIR (default $WHISTLE_ROOT/target/debug, or $CARGO_TARGET_DIR/debug;
# `cargo xtask up` passes target/release, `cargo xtask up --debug` target/debug),
# WHISTLE_INTAKE_PORT / WHISTLE_GATEWAY_PORT / WHISTLE_ROUTER_PORT / WHISTLE_SLA_PORT / WHISTLE_REGISTRY_PORT /
# WHISTLE_LEDGER_PORT (8081-8086), WHISTLE_NOTIFY_PORT (8087),
# WHISTLE_KAFKA_PORT (19092), WHISTLE_REDIS_PORT (16379). Services log to $WHISTLE_RUN/logs.
# Redis: each service but the router logs in as its own ACL user, whistle-<service> (redis.sh url).
# Authentication: every service but the router verifies tokens signed with one key, generated
# once into $WHISTLE_RUN/jwt-secret (or taken from WHISTLE_AUTH__JWT_SECRET). The stack runs with
# WHISTLE_ENV=development, and intake with WHISTLE_DEMO=1: it serves the demo accounts with the
# password WHISTLE_DEMO_PASSWORD (default whistle-demo).
# Intake also serves the accounts of the PostgreSQL account store (postgres.sh url, or
# WHISTLE_DATABASE__URL); the ledger keeps its cases in the database `whistle_ledger` of the same
# cluster (postgres.sh url whistle_ledger, or WHISTLE_LEDGER_DATABASE_URL); the notifier keeps its
# rosters and deliveries in the account store's database, and mails through the dev SMTP server
# (smtp.sh url, or WHISTLE_SMTP__URL). Intake keeps evidence attachments in
# $WHISTLE_RUN/attachments (created 0700; or WHISTLE_ATTACHMENTS__STORE, e.g. an s3:// URL),
# indexed in the account store's database.
# A second stack beside the dev one (e.g. a release build to measure, docs/performance.md):
# WHISTLE_DEV_NAMESPACE=NS (lower-case letters, digits, _) gives it topics NS.cases.v1,
# NS.deadletter.v1 and NS.registry.v1, the Redis key prefix whistle:NS:, consumer groups NS-<service>,
# router transactional ids NS-router-<r> and the databases NS_accounts and NS_ledger, so it shares
# the broker, Redis and PostgreSQL but no state with the dev stack (its services log in to Kafka
# as whistle-test: the services' own users may use the production names only). Give it its own WHISTLE_RUN
# and ports too, and WHISTLE_INFRA_RUN: the run directory of the shared PostgreSQL and mail server
# (default WHISTLE_RUN), where postgres.sh and smtp.sh find them.
set -euo pipefail
# shellcheck source=deploy/dev/lib.sh
. "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib.sh"

BIN_DIR=${WHISTLE_BIN_DIR:-${CARGO_TARGET_DIR:-$WHISTLE_ROOT/target}/debug}
START_TIMEOUT=60
STOP_TIMEOUT=20
declare -A PORT=(
  [intake]=${WHISTLE_INTAKE_PORT:-8081}
  [gateway]=${WHISTLE_GATEWAY_PORT:-8082}
  [router]=${WHISTLE_ROUTER_PORT:-8083}
  [sla]=${WHISTLE_SLA_PORT:-8084}
  [registry]=${WHISTLE_REGISTRY_PORT:-8085}
  [ledger]=${WHISTLE_LEDGER_PORT:-8086}
  [notify]=${WHISTLE_NOTIFY_PORT:-8087}
)
SERVICES=(registry gateway router sla ledger notify intake)
REPLICATED=" intake router gateway sla notify "
REPLICAS_FILE=$WHISTLE_RUN/replicas

# infra SCRIPT ARGS...  postgres.sh / smtp.sh of the infrastructure this stack uses.
infra() { WHISTLE_RUN=${WHISTLE_INFRA_RUN:-$WHISTLE_RUN} "$WHISTLE_DEV_DIR/$1" "${@:2}"; }

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# The token signing key shared by the services: generated once, kept private to this user.
jwt_secret() {
  if [[ -n ${WHISTLE_AUTH__JWT_SECRET:-} ]]; then
    printf '%s' "$WHISTLE_AUTH__JWT_SECRET"
    return
  fi
  local file=$WHISTLE_RUN/jwt-secret
  if [[ ! -s $file ]]; then
    (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n' >"$file.tmp.$$" && mv -f -- "$file.tmp.$$" "$file")
  fi
  cat -- "$file"
}

# instances SVC N  The instance names of SVC when N replicas run: svc, svc-1, ..., svc-(N-1).
instances() {
  local svc=$1 n=$2 r
  if [[ $REPLICATED != *" $svc "* ]]; then n=1; fi
  for ((r = 0; r < n; r++)); do
    if ((r == 0)); then echo "$svc"; else echo "$svc-$r"; fi
  done
}

# The service of an instance name, its replica number and its port.
service_of() { printf '%s\n' "${1%-[0-9]*}"; }
replica_of() { if [[ $1 =~ -([0-9]+)$ ]]; then echo "${BASH_REMATCH[1]}"; else echo 0; fi; }
port_of() { echo $((PORT[$(service_of "$1")] + 10 * $(replica_of "$1"))); }

# How many replicas the last start ran (1 if none is recorded).
recorded_replicas() {
  local n=1
  [[ -s $REPLICAS_FILE ]] && read -r n <"$REPLICAS_FILE"
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1)) || n=1
  echo "$n"
}

ready() { curl -fsS --max-time 3 "http://127.0.0.1:$(port_of "$1")/readyz" >/dev/null 2>&1; }

start_one() {
  local name=$1 svc port replica bin log="$WHISTLE_LOGS/$1.log" deadline
  svc=$(service_of "$name")
  port=$(port_of "$name")
  replica=$(replica_of "$name")
  bin="$BIN_DIR/whistle-$svc"
  [[ -x $bin ]] || die "$svc: no binary at $bin; build first (cargo build --bins)"
  stop_pid "$name" "$STOP_TIMEOUT" || true
  if port_open 127.0.0.1 "$port"; then
    die "$name: 127.0.0.1:$port is in use by another process; free it or set WHISTLE_${svc^^}_PORT"
  fi
  printf '\n==== %s services.sh start ====\n' "$(date '+%F %T')" >>"$log"
  (
    cd "$WHISTLE_ROOT"
    export WHISTLE_HTTP__PORT=$port
    # Each router instance needs its own transactional id (the default is per host).
    if [[ $svc == router && $replica != 0 ]]; then
      export WHISTLE_TRANSACTIONAL_ID=whistle-router-$(hostname)-$replica
    fi
    export WHISTLE_KAFKA__BROKERS=127.0.0.1:${WHISTLE_KAFKA_PORT:-19092}
    if [[ -n ${WHISTLE_DEV_NAMESPACE:-} ]]; then
      local ns=$WHISTLE_DEV_NAMESPACE
      export WHISTLE_KAFKA__TOPICS__CASES=$ns.cases.v1 WHISTLE_KAFKA__TOPICS__DEADLETTER=$ns.deadletter.v1 \
        WHISTLE_KAFKA__TOPICS__REGISTRY=$ns.registry.v1
      if [[ $svc == router ]]; then
        export WHISTLE_TRANSACTIONAL_ID=$ns-router-$replica
      fi
      if [[ $svc == intake || $svc == registry ]]; then
        unset WHISTLE_GROUP_ID
      else
        export WHISTLE_GROUP_ID=$ns-$svc
      fi
      if [[ $svc == intake || $svc == notify ]]; then
        infra postgres.sh create "${ns}_accounts" >/dev/null
        WHISTLE_DATABASE__URL=$(infra postgres.sh url "${ns}_accounts")
        export WHISTLE_DATABASE__URL
      elif [[ $svc == ledger && -z ${WHISTLE_LEDGER_DATABASE_URL:-} ]]; then
        infra postgres.sh create "${ns}_ledger" >/dev/null
        WHISTLE_LEDGER_DATABASE_URL=$(infra postgres.sh url "${ns}_ledger")
      fi
    fi
    # The dev broker takes logins only (kafka.sh; unless formatted with WHISTLE_KAFKA_SASL=0): each
    # service as its own user, whose ACLs (users.yaml) grant the production names only; a
    # namespaced stack's names are granted to the tests' own user, whistle-test, alone.
    if [[ -f $WHISTLE_RUN/kafka/sasl && -s $WHISTLE_RUN/kafka/users ]]; then
      local kafka_user=whistle-$svc
      if [[ -n ${WHISTLE_DEV_NAMESPACE:-} ]]; then kafka_user=whistle-test; fi
      export WHISTLE_KAFKA__SECURITY_PROTOCOL=sasl_plaintext WHISTLE_KAFKA__SASL_USERNAME=$kafka_user
      WHISTLE_KAFKA__SASL_PASSWORD=$(awk -v u="$kafka_user" '$1 == u { print $2 }' "$WHISTLE_RUN/kafka/users")
      export WHISTLE_KAFKA__SASL_PASSWORD
    fi
    # A WHISTLE_* variable that names no setting of a service stops it (whistle_common::settings),
    # so the sections a service lacks are not passed on to it from the caller's environment.
    if [[ $svc != router ]]; then
      # Each service logs in to Redis as its own ACL user (redis.sh: passwords and rights, on
      # keys under whistle:, which a second stack's prefix stays inside).
      WHISTLE_REDIS__URL=$("$WHISTLE_DEV_DIR/redis.sh" url "whistle-$svc")
      export WHISTLE_REDIS__URL
      if [[ -n ${WHISTLE_DEV_NAMESPACE:-} ]]; then export WHISTLE_REDIS__KEY_PREFIX=whistle:$WHISTLE_DEV_NAMESPACE:; fi
      WHISTLE_AUTH__JWT_SECRET=$(jwt_secret)
      export WHISTLE_AUTH__JWT_SECRET
    else
      unset "${!WHISTLE_REDIS__@}" "${!WHISTLE_AUTH__@}"
    fi
    # A development stack: the demo accounts are on (services refuse them in production, the
    # default). WHISTLE_ENV=production here makes intake stop with a clear message.
    export WHISTLE_ENV=${WHISTLE_ENV:-development}
    # glibc's malloc keeps up to 8 arenas per core and returns little of them after a burst:
    # intake's peak RSS at 500/s was 622 MiB with the default, 205 MiB with two arenas. And once
    # a large block is freed (jieba's dictionary, loaded at start), glibc raises its mmap and trim
    # thresholds to that size, so the heap keeps tens of MiB it no longer uses: fixed thresholds
    # took intake's peak at 200/s from 231 to 79 MiB, at no measurable CPU cost
    # (docs/performance.md). The image sets the same (deploy/docker/Dockerfile).
    export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-131072} \
      MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-262144}
    if [[ $svc == intake ]]; then
      export WHISTLE_DEMO=1 WHISTLE_AUTH__DEMO_PASSWORD=${WHISTLE_DEMO_PASSWORD:-whistle-demo}
      # The account store: the dev cluster of postgres.sh (infra.sh up starts it).
      WHISTLE_DATABASE__URL=${WHISTLE_DATABASE__URL:-$(infra postgres.sh url)}
      export WHISTLE_DATABASE__URL
      # Single sign-on against the dev OpenID Connect provider (oidc.sh, started by infra.sh up),
      # unless the caller configured another; its callback through nginx.
      if [[ -z ${WHISTLE_AUTH__OIDC__ISSUER:-} ]] && "$WHISTLE_DEV_DIR/oidc.sh" status >/dev/null 2>&1; then
        WHISTLE_AUTH__OIDC__ISSUER=$("$WHISTLE_DEV_DIR/oidc.sh" url)
        export WHISTLE_AUTH__OIDC__ISSUER WHISTLE_AUTH__OIDC__CLIENT_ID=whistle-dev \
          WHISTLE_AUTH__OIDC__CLIENT_SECRET=whistle-dev-client-secret \
          WHISTLE_AUTH__OIDC__REDIRECT_URL=http://127.0.0.1:${WHISTLE_HTTP_PORT:-8080}/api/v1/auth/oidc/callback
      fi
      # Evidence attachments: a directory of this user's only (instances share it).
      if [[ -z ${WHISTLE_ATTACHMENTS__STORE:-} ]]; then
        mkdir -p -m 700 -- "$WHISTLE_RUN/attachments"
        chmod 700 -- "$WHISTLE_RUN/attachments"
        export WHISTLE_ATTACHMENTS__STORE=file://$WHISTLE_RUN/attachments
      fi
    elif [[ $svc == ledger ]]; then
      # Its own database: each service's migrations keep their own history.
      if [[ -z ${WHISTLE_LEDGER_DATABASE_URL:-} ]]; then
        infra postgres.sh create whistle_ledger
        WHISTLE_LEDGER_DATABASE_URL=$(infra postgres.sh url whistle_ledger)
      fi
      unset WHISTLE_DEMO "${!WHISTLE_DATABASE__@}"
      export WHISTLE_DATABASE__URL=$WHISTLE_LEDGER_DATABASE_URL
    elif [[ $svc == notify ]]; then
      unset WHISTLE_DEMO
      WHISTLE_DATABASE__URL=${WHISTLE_DATABASE__URL:-$(infra postgres.sh url)}
      WHISTLE_SMTP__URL=${WHISTLE_SMTP__URL:-$(infra smtp.sh url)}
      # Webhook receivers of a developer (and of the tests) listen on loopback; production
      # refuses loopback and private receivers (SSRF, docs/webhooks.md).
      WHISTLE_WEBHOOKS__ALLOW_PRIVATE_TARGETS=${WHISTLE_WEBHOOKS__ALLOW_PRIVATE_TARGETS:-true}
      export WHISTLE_DATABASE__URL WHISTLE_SMTP__URL WHISTLE_WEBHOOKS__ALLOW_PRIVATE_TARGETS
    else
      unset WHISTLE_DEMO "${!WHISTLE_DATABASE__@}"
    fi
    if [[ $svc != notify ]]; then
      unset "${!WHISTLE_SMTP__@}" "${!WHISTLE_SMS__@}" "${!WHISTLE_DELIVERY__@}" "${!WHISTLE_WEBHOOKS__@}"
    fi
    if [[ $svc != intake ]]; then
      unset "${!WHISTLE_ATTACHMENTS__@}"
    fi
    if [[ $svc == intake || $svc == registry || $svc == sla || $svc == ledger || $svc == notify ]]; then
      # Clients reach these through nginx, which appends the address it saw to X-Forwarded-For:
      # an anonymous client is rate-limited by that address, not by nginx's own.
      export WHISTLE_RATE_LIMIT__TRUST_FORWARDED_FOR=${WHISTLE_RATE_LIMIT__TRUST_FORWARDED_FOR:-true}
    else
      unset "${!WHISTLE_RATE_LIMIT__@}"
    fi
    if [[ $svc == gateway ]]; then
      # Boards come through nginx too: the per-address connection cap counts the address nginx
      # saw, not nginx's own.
      export WHISTLE_WEBSOCKET__TRUST_FORWARDED_FOR=${WHISTLE_WEBSOCKET__TRUST_FORWARDED_FOR:-true}
    else
      unset "${!WHISTLE_WEBSOCKET__@}"
    fi
    # This script's own variables, not settings of the service.
    unset WHISTLE_DEV_NAMESPACE WHISTLE_INFRA_RUN
    spawn "$name" "$log" "$bin"
  )
  deadline=$((SECONDS + START_TIMEOUT))
  until ready "$name"; do
    if ! is_running "$name"; then
      show_log_tail "$log"
      die "$name: exited during startup; see $log"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$log"
      die "$name: not ready within ${START_TIMEOUT}s; see $log"
    fi
    sleep 0.2
  done
  echo "$name: running on 127.0.0.1:$port (pid $(get_pid "$name"))"
}

cmd_start() {
  with_lock services
  ensure_cmd curl curl
  local n=${WHISTLE_REPLICAS:-1} svc name old
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 9)) || die "WHISTLE_REPLICAS must be 1 to 9, not '$n'"
  if [[ -n ${WHISTLE_DEV_NAMESPACE:-} && ! $WHISTLE_DEV_NAMESPACE =~ ^[a-z][a-z0-9_]{0,30}$ ]]; then
    die "WHISTLE_DEV_NAMESPACE must be lower-case letters, digits and _ (a letter first, at most 31), not '$WHISTLE_DEV_NAMESPACE'"
  fi
  # Instances beyond the new count (from an earlier, larger start) stop.
  old=$(recorded_replicas)
  for svc in "${SERVICES[@]}"; do
    for name in $(instances "$svc" "$old"); do
      if [[ $(replica_of "$name") -ge $n ]] && stop_pid "$name" "$STOP_TIMEOUT"; then echo "$name: stopped"; fi
    done
  done
  echo "$n" >"$REPLICAS_FILE"
  for svc in "${SERVICES[@]}"; do
    for name in $(instances "$svc" "$n"); do start_one "$name"; done
  done
}

cmd_stop() {
  with_lock services
  local svc name n
  n=$(recorded_replicas)
  # Intake first: no new whistles while the consumers drain.
  for svc in intake registry router sla ledger notify gateway; do
    for name in $(instances "$svc" "$n"); do
      if stop_pid "$name" "$STOP_TIMEOUT"; then echo "$name: stopped"; fi
    done
  done
}

cmd_status() {
  local rc=0 svc name n
  n=$(recorded_replicas)
  for svc in "${SERVICES[@]}"; do
    for name in $(instances "$svc" "$n"); do
      if is_running "$name"; then
        echo "$name: running on 127.0.0.1:$(port_of "$name") (pid $(get_pid "$name"))"
      else
        echo "$name: not running"
        rc=3
      fi
    done
  done
  return "$rc"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) usage ;;
esac
