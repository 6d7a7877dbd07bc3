#!/usr/bin/env bash
# Local dev Kafka (KRaft, single combined broker+controller) from plain Maven Central jars.
#
# usage: deploy/dev/kafka.sh {fetch|start|stop|restart|status|logs [-f]|reset|sasl|password USER|acls [print]}
#   fetch    resolve the broker jars into $WHISTLE_CACHE/kafka-<version>/libs (once)
#   start    fetch if needed, format storage on first run, start, wait until ready
#   stop     SIGTERM, wait up to 30 s for a clean shutdown, then SIGKILL
#   status   one line; exit 0 if running, 3 if not
#   logs     last 200 lines of the broker log (-f to follow)
#   reset    stop and delete all Kafka data (topics, offsets, cluster id)
#   sasl     print "on" if the broker's storage holds SCRAM users (clients must log in), else "off"
#   password USER  print USER's SCRAM password
#   acls     make the running broker's ACLs those of deploy/kubernetes/base/kafka/users.yaml (start
#            does this); "acls print" lists them
#
# Logins (WHISTLE_KAFKA_SASL, default 1): the client listener takes SASL/SCRAM-SHA-512 logins
#   only, for the users admin, whistle-intake, -router, -gateway, -sla, -registry, -ledger,
#   -notify and whistle-test, whose passwords are generated into $WHISTLE_RUN/kafka/users (0600).
#   Authorisation: the broker runs Kafka's StandardAuthorizer with the per-service ACLs of the
#   Kubernetes overlay (deploy/kubernetes/base/kafka/users.yaml, applied by deploy/kafka/acls.py
#   from a virtualenv of its own, venv-kafka, after every start), so a service may do exactly what
#   it may do there; whistle-test, the tests' own client, may do anything; admin is the super
#   user. The controller listener takes SASL/PLAIN logins of admin only (KRaft cannot check SCRAM
#   there: the credentials live in the metadata log the controller serves).
#   Storage formatted without SCRAM users (an older kafka.sh, or WHISTLE_KAFKA_SASL=0) is
#   migrated on start, its log kept: the broker starts once as it was, gets the users
#   (kafka-configs --alter), and starts again with the SASL listener. A broker still running
#   open is restarted so. WHISTLE_KAFKA_SASL=0 starts storage formatted without them open.
# Environment: WHISTLE_KAFKA_PORT (19092), WHISTLE_KAFKA_CONTROLLER_PORT (19093),
#   WHISTLE_KAFKA_START_TIMEOUT (90), JAVA_HOME (optional), plus lib.sh's WHISTLE_CACHE/RUN.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib.sh"

KAFKA_POM=$WHISTLE_ROOT/deploy/kafka/pom.xml
KAFKA_TEMPLATE=$WHISTLE_ROOT/deploy/kafka/server.properties
KAFKA_LOG4J=$WHISTLE_ROOT/deploy/kafka/log4j2.properties
KAFKA_VERSION=$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$KAFKA_POM" | head -n 1)
KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
KAFKA_LIBS=$WHISTLE_CACHE/kafka-$KAFKA_VERSION/libs
KAFKA_DIR=$WHISTLE_RUN/kafka
KAFKA_LOG=$WHISTLE_LOGS/kafka.log
KAFKA_HOST=127.0.0.1
WHISTLE_KAFKA_PORT=${WHISTLE_KAFKA_PORT:-19092}
WHISTLE_KAFKA_CONTROLLER_PORT=${WHISTLE_KAFKA_CONTROLLER_PORT:-19093}
WHISTLE_KAFKA_DATA_DIR=$KAFKA_DIR/data
# Clients must log in with SASL/SCRAM-SHA-512 (see sasl_config) unless WHISTLE_KAFKA_SASL=0.
KAFKA_SASL=${WHISTLE_KAFKA_SASL:-1}
KAFKA_USERS=$KAFKA_DIR/users
# The users a SASL broker knows: the broker itself, each service, and the tests' own clients.
SASL_USERS=(admin whistle-intake whistle-router whistle-gateway whistle-sla whistle-registry whistle-ledger
  whistle-notify whistle-test)
KAFKA_USERS_YAML=$WHISTLE_ROOT/deploy/kubernetes/base/kafka/users.yaml
ACLS_PY=$WHISTLE_ROOT/deploy/kafka/acls.py
ACLS_VENV=$WHISTLE_CACHE/venv-kafka
# What acls.py needs (PyPI): the Kafka admin client (librdkafka inside the wheel) and a YAML reader.
ACLS_REQUIREMENTS=(confluent-kafka==2.16.1 PyYAML==6.0.4)
START_TIMEOUT=${WHISTLE_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=30
# Logged once by kafka.server.KafkaRaftServer after the broker is unfenced and its
# listeners accept requests:
#   [KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)
READY_LINE='Kafka Server started'
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

where() { printf '%s:%s' "$KAFKA_HOST" "$WHISTLE_KAFKA_PORT"; }

ensure_java() {
  if [[ -z ${JAVA_HOME:-} ]]; then ensure_cmd java openjdk-17-jre-headless; fi
  local spec
  spec=$("$JAVA" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = //p') || true
  [[ -n $spec ]] || die "kafka: cannot run '$JAVA' (set JAVA_HOME or install openjdk-17-jre-headless)"
  ((${spec%%.*} >= 17)) || die "kafka: Kafka $KAFKA_VERSION needs Java 17+, but '$JAVA' is Java $spec"
}

libs_complete() {
  [[ -f $KAFKA_LIBS/.complete && $(<"$KAFKA_LIBS/.complete") == "$(sha256sum <"$KAFKA_POM" | cut -d' ' -f1)" ]]
}

cmd_fetch() {
  with_lock kafka
  libs_complete && return 0
  ensure_java
  ensure_cmd mvn maven
  local tmp=$KAFKA_LIBS.tmp.$$ log=$WHISTLE_LOGS/kafka-fetch.log t0=$SECONDS n
  rm -rf -- "$tmp"
  mkdir -p -- "$(dirname -- "$KAFKA_LIBS")"
  note "kafka: fetching Kafka $KAFKA_VERSION jars from Maven Central (log: $log)"
  if ! mvn -B -q -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$log" 2>&1; then
    rm -rf -- "$tmp"
    show_log_tail "$log"
    die "kafka: fetching jars with mvn failed; see $log"
  fi
  n=$(find "$tmp" -maxdepth 1 -name '*.jar' | wc -l)
  if [[ ! -f $tmp/kafka_2.13-$KAFKA_VERSION.jar || ! -f $tmp/kafka-clients-$KAFKA_VERSION.jar ]]; then
    rm -rf -- "$tmp"
    die "kafka: mvn finished but kafka_2.13-$KAFKA_VERSION.jar is missing; see $log"
  fi
  sha256sum <"$KAFKA_POM" | cut -d' ' -f1 >"$tmp/.complete"
  rm -rf -- "$KAFKA_LIBS"
  mv -- "$tmp" "$KAFKA_LIBS"
  note "kafka: fetched $n jars into $KAFKA_LIBS in $((SECONDS - t0))s"
}

# With WHISTLE_KAFKA_SASL=1: a password per user, generated once into $KAFKA_USERS ("user
# password" lines, 0600), and the broker's SASL listener. The SCRAM credentials go into the
# metadata log when the storage is formatted; a broker formatted without them stays open.
sasl_users() {
  local user tmp=$KAFKA_USERS.tmp.$$
  if [[ -f $KAFKA_USERS ]]; then cat -- "$KAFKA_USERS" >"$tmp"; else : >"$tmp"; fi
  for user in "${SASL_USERS[@]}"; do
    [[ -n $(sasl_password "$user") ]] && continue
    printf '%s %s\n' "$user" "$(head -c 24 /dev/urandom | base64 | tr -d '\n/+=')" >>"$tmp"
  done
  mv -f -- "$tmp" "$KAFKA_USERS"
}

sasl_password() { [[ -r $KAFKA_USERS ]] && awk -v u="$1" '$1 == u { print $2; exit }' "$KAFKA_USERS"; }

# The users whose SCRAM credentials the broker holds are listed in $KAFKA_DIR/sasl (the marker
# that the storage was formatted with SCRAM). A user added to SASL_USERS since gets them from the
# running broker (kafka-configs --alter), as admin.
# sasl_add_missing [open]  With "open", the broker runs without SASL yet (a migration).
sasl_add_missing() {
  local user props=$KAFKA_DIR/admin.properties
  local -a missing=()
  for user in "${SASL_USERS[@]}"; do
    [[ -f $KAFKA_DIR/sasl ]] && grep -qx -- "$user" "$KAFKA_DIR/sasl" && continue
    missing+=("$user")
  done
  ((${#missing[@]})) || return 0
  if [[ ${1:-} == open ]]; then
    : >"$props"
  else
    printf '%s\n' "security.protocol=SASL_PLAINTEXT" "sasl.mechanism=SCRAM-SHA-512" \
      "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$(sasl_password admin)\";" \
      >"$props"
  fi
  for user in "${missing[@]}"; do
    note "kafka: adding the SCRAM credentials of $user to the running broker"
    "$JAVA" -Dlog4j2.configurationFile="$KAFKA_LOG4J" -cp "$KAFKA_LIBS/*" kafka.admin.ConfigCommand \
      --bootstrap-server "$(where)" --command-config "$props" --alter --entity-type users \
      --entity-name "$user" --add-config "SCRAM-SHA-512=[password=$(sasl_password "$user")]" \
      >>"$KAFKA_LOG" 2>&1 || die "kafka: adding the SCRAM user $user failed; see $KAFKA_LOG"
    echo "$user" >>"$KAFKA_DIR/sasl"
  done
}

sasl_config() {
  echo
  printf '%s\n' \
    "# ---- WHISTLE_KAFKA_SASL=1 (deploy/dev/kafka.sh): SASL/SCRAM-SHA-512 on the client listener," \
    "# ACLs on everything. Later keys win: these replace the plaintext listeners above. The" \
    "# controller listener takes SASL/PLAIN logins of admin only (KRaft keeps SCRAM credentials in" \
    "# the metadata log, which the controller must serve before it could check them)." \
    "listeners=SASL_PLAINTEXT://127.0.0.1:$WHISTLE_KAFKA_PORT,CONTROLLER://127.0.0.1:$WHISTLE_KAFKA_CONTROLLER_PORT" \
    "advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$WHISTLE_KAFKA_PORT" \
    "inter.broker.listener.name=SASL_PLAINTEXT" \
    "listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT" \
    "sasl.enabled.mechanisms=SCRAM-SHA-512" \
    "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512" \
    "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$(sasl_password admin)\";" \
    "sasl.mechanism.controller.protocol=PLAIN" \
    "listener.name.controller.sasl.enabled.mechanisms=PLAIN" \
    "listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"$(sasl_password admin)\" user_admin=\"$(sasl_password admin)\";" \
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" \
    "super.users=User:admin" \
    "allow.everyone.if.no.acl.found=false"
}

format_storage() {
  local cluster_id conf=$KAFKA_DIR/server.properties user
  local -a scram=()
  if [[ -f $WHISTLE_KAFKA_DATA_DIR/meta.properties ]]; then
    return 0
  fi
  if [[ $KAFKA_SASL == 1 ]]; then
    for user in "${SASL_USERS[@]}"; do
      scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(sasl_password "$user")]")
    done
  fi
  mkdir -p -- "$WHISTLE_KAFKA_DATA_DIR"
  # random-uuid prints the id on stdout, possibly next to log lines: keep the id-shaped line.
  cluster_id=$("$JAVA" -Dlog4j2.configurationFile="$KAFKA_LOG4J" -cp "$KAFKA_LIBS/*" \
    kafka.tools.StorageTool random-uuid 2>>"$KAFKA_LOG" | grep -E '^[A-Za-z0-9_-]{22}$' | tail -n 1) \
    || die "kafka: 'StorageTool random-uuid' failed; see $KAFKA_LOG"
  # No --standalone: the quorum is given statically by controller.quorum.voters.
  "$JAVA" -Dlog4j2.configurationFile="$KAFKA_LOG4J" -cp "$KAFKA_LIBS/*" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" "${scram[@]}" >>"$KAFKA_LOG" 2>&1 \
    || { show_log_tail "$KAFKA_LOG"; die "kafka: formatting $WHISTLE_KAFKA_DATA_DIR failed; see $KAFKA_LOG"; }
  if [[ $KAFKA_SASL == 1 ]]; then printf '%s\n' "${SASL_USERS[@]}" >"$KAFKA_DIR/sasl"; fi
}

# render_conf [open] [FILE]  server.properties for this start (without the SASL listener:
# "open"; "" for with it) into FILE (default $KAFKA_DIR/server.properties).
render_conf() {
  local out=${2:-$KAFKA_DIR/server.properties}
  render_template "$KAFKA_TEMPLATE" "$out" WHISTLE_KAFKA_PORT WHISTLE_KAFKA_CONTROLLER_PORT WHISTLE_KAFKA_DATA_DIR
  if [[ $KAFKA_SASL == 1 && ${1:-} != open ]]; then
    sasl_users
    sasl_config >>"$out"
  fi
}

# A running broker whose server.properties differs from what this script renders now (an older
# kafka.sh: no authorizer, say) is restarted on start.
conf_changed() {
  local tmp=$KAFKA_DIR/server.properties.new.$$ changed=0
  render_conf "" "$tmp"
  cmp -s -- "$tmp" "$KAFKA_DIR/server.properties" || changed=1
  rm -f -- "$tmp"
  ((changed))
}

# The virtualenv acls.py runs in.
acls_install() { ensure_venv "$ACLS_VENV" "${ACLS_REQUIREMENTS[@]}"; }

# acls [print]  Make the running broker's ACLs those users.yaml grants (as admin), or list them.
cmd_acls() {
  acls_install
  if [[ ${1:-} == print ]]; then
    "$ACLS_VENV/bin/python" "$ACLS_PY" print "$KAFKA_USERS_YAML"
    return
  fi
  [[ $KAFKA_SASL == 1 ]] || die "kafka: WHISTLE_KAFKA_SASL=0 runs the broker open: no logins, no authorizer, no ACLs"
  is_running kafka || die "kafka: not running (deploy/dev/kafka.sh start applies the ACLs)"
  local out
  out=$(WHISTLE_KAFKA_BOOTSTRAP=$(where) WHISTLE_KAFKA_ADMIN_PASSWORD=$(sasl_password admin) \
    "$ACLS_VENV/bin/python" "$ACLS_PY" sync "$KAFKA_USERS_YAML" 2>&1) \
    || { printf '%s\n' "$out" >>"$KAFKA_LOG"; die "kafka: applying the ACLs failed: $out"; }
  printf '%s\n' "$out" | tee -a -- "$KAFKA_LOG" >&2
}

# Storage that holds the broker's data but no SCRAM users (formatted open).
formatted_open() { [[ -f $WHISTLE_KAFKA_DATA_DIR/meta.properties && ! -f $KAFKA_DIR/sasl ]]; }

cmd_start() {
  with_lock kafka
  if is_running kafka; then
    if [[ $KAFKA_SASL == 1 ]] && formatted_open; then
      echo "kafka: the broker on $(where) takes clients without a login (formatted without SCRAM users); restarting it with them"
      stop_pid kafka "$STOP_TIMEOUT" || true
    elif conf_changed; then
      echo "kafka: the broker on $(where) runs an older server.properties (before ACLs, say); restarting it with this one"
      stop_pid kafka "$STOP_TIMEOUT" || true
    else
      # users.yaml may have changed since it started.
      if [[ $KAFKA_SASL == 1 ]]; then cmd_acls; fi
      echo "kafka: already running on $(where) (pid $(get_pid kafka))"
      return 0
    fi
  fi
  cmd_fetch
  ensure_java
  if [[ $KAFKA_SASL == 1 ]]; then acls_install; fi
  local port
  for port in "$WHISTLE_KAFKA_PORT" "$WHISTLE_KAFKA_CONTROLLER_PORT"; do
    if port_open "$KAFKA_HOST" "$port"; then
      die "kafka: $KAFKA_HOST:$port is already in use by another process (not ours); free it or set WHISTLE_KAFKA_PORT / WHISTLE_KAFKA_CONTROLLER_PORT"
    fi
  done

  mkdir -p -- "$KAFKA_DIR"
  if [[ $KAFKA_SASL == 1 ]] && formatted_open; then
    # Migration: the log stays; the broker gets the SCRAM users while it still runs open.
    note "kafka: $WHISTLE_KAFKA_DATA_DIR was formatted without SCRAM users; adding them (its data is kept)"
    sasl_users
    render_conf open
    [[ -f $KAFKA_LOG ]] && mv -f -- "$KAFKA_LOG" "$KAFKA_LOG.1"
    : >"$KAFKA_LOG"
    run_broker
    sasl_add_missing open
    stop_pid kafka "$STOP_TIMEOUT" || die "kafka: could not stop the broker after adding the SCRAM users"
  fi
  render_conf
  # One log per run (previous one kept as kafka.log.1), so the readiness grep sees this run only.
  [[ -f $KAFKA_LOG ]] && mv -f -- "$KAFKA_LOG" "$KAFKA_LOG.1"
  : >"$KAFKA_LOG"
  format_storage
  run_broker
  if [[ $KAFKA_SASL == 1 ]]; then
    sasl_add_missing
    cmd_acls
  fi
  echo "kafka: running on $(where) (pid $(get_pid kafka))"
}

# Starts the broker on the rendered server.properties and waits until it is ready.
run_broker() {
  spawn kafka "$KAFKA_LOG" "$JAVA" -Xms256m -Xmx768m \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties"
  local pid=$SPAWN_PID deadline=$((SECONDS + START_TIMEOUT))
  until port_open "$KAFKA_HOST" "$WHISTLE_KAFKA_PORT" && grep -qF "$READY_LINE" "$KAFKA_LOG"; do
    if ! is_running kafka; then
      show_log_tail "$KAFKA_LOG" 30
      die "kafka: exited during startup; see $KAFKA_LOG"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$KAFKA_LOG" 30
      stop_pid kafka "$STOP_TIMEOUT" || true
      die "kafka: not ready within ${START_TIMEOUT}s (no '$READY_LINE' on $(where)); stopped it; see $KAFKA_LOG"
    fi
    sleep 0.25
  done
}

cmd_stop() {
  with_lock kafka
  if stop_pid kafka "$STOP_TIMEOUT"; then echo "kafka: stopped"; else echo "kafka: not running"; fi
}

cmd_status() {
  if is_running kafka; then
    if port_open "$KAFKA_HOST" "$WHISTLE_KAFKA_PORT"; then
      echo "kafka: running on $(where) (pid $(get_pid kafka))"
    else
      echo "kafka: process $(get_pid kafka) is up but $(where) is not accepting connections; see $KAFKA_LOG"
      return 1
    fi
  elif port_open "$KAFKA_HOST" "$WHISTLE_KAFKA_PORT"; then
    echo "kafka: not running (but $(where) is in use by another process)"
    return 3
  else
    echo "kafka: not running"
    return 3
  fi
}

cmd_logs() {
  [[ -f $KAFKA_LOG ]] || die "kafka: no log yet ($KAFKA_LOG)"
  if [[ ${1:-} == -f ]]; then exec tail -n 200 -F -- "$KAFKA_LOG"; fi
  tail -n 200 -- "$KAFKA_LOG"
}

cmd_reset() {
  with_lock kafka
  stop_pid kafka "$STOP_TIMEOUT" || true
  rm -rf -- "$KAFKA_DIR"
  echo "kafka: stopped and deleted $KAFKA_DIR"
}

case ${1:-} in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop >/dev/null && cmd_start ;;
  status) cmd_status ;;
  logs) cmd_logs "${2:-}" ;;
  reset) cmd_reset ;;
  sasl) if [[ -f $KAFKA_DIR/sasl ]]; then echo on; else echo off; fi ;;
  acls) cmd_acls "${2:-}" ;;
  password)
    [[ -n ${2:-} && " ${SASL_USERS[*]} " == *" $2 "* ]] || die "kafka: name a user: ${SASL_USERS[*]}"
    sasl_users
    sasl_password "$2"
    ;;
  *) usage ;;
esac
