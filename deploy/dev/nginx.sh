#!/usr/bin/env bash
# Local dev ingress: Debian's nginx with our own config, prefix, pid, logs and temp dirs under
# $WHISTLE_RUN/nginx (no /etc/nginx sites, no system service, no port 80).
#
# usage: deploy/dev/nginx.sh {start|stop|restart|status|reload}
#   start    render deploy/nginx/whistle.conf, test it, start, wait for the port
#   stop     SIGTERM (fast shutdown; open WebSockets are closed), up to 10 s, then SIGKILL
#   reload   re-render + test the config and send SIGHUP (starts nginx if it is not running)
#   status   one line; exit 0 if running, 3 if not
#
# Environment: WHISTLE_HTTP_PORT (8080), WHISTLE_GATEWAY_PORT (8082), WHISTLE_SLA_PORT (8084), WHISTLE_REGISTRY_PORT (8085), WHISTLE_NOTIFY_PORT (8087), WHISTLE_INTAKE_PORT
#   (8081), WHISTLE_LEDGER_PORT (8086), WHISTLE_CONSOLE_DIR (<repo>/services/console/dist), plus lib.sh's variables.
#   WHISTLE_INGRESS_LIMIT_EXEMPT: addresses or CIDRs (space-separated) the per-address limits
#   leave alone, e.g. 127.0.0.1 for the benchmarks of docs/performance.md (default: none).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib.sh"

HTTP_HOST=127.0.0.1
WHISTLE_HTTP_PORT=${WHISTLE_HTTP_PORT:-8080}
WHISTLE_GATEWAY_PORT=${WHISTLE_GATEWAY_PORT:-8082}
WHISTLE_SLA_PORT=${WHISTLE_SLA_PORT:-8084}
WHISTLE_REGISTRY_PORT=${WHISTLE_REGISTRY_PORT:-8085}
WHISTLE_LEDGER_PORT=${WHISTLE_LEDGER_PORT:-8086}
WHISTLE_NOTIFY_PORT=${WHISTLE_NOTIFY_PORT:-8087}
WHISTLE_INTAKE_PORT=${WHISTLE_INTAKE_PORT:-8081}
WHISTLE_CONSOLE_DIR=${WHISTLE_CONSOLE_DIR:-$WHISTLE_ROOT/services/console/dist}
[[ $WHISTLE_CONSOLE_DIR == /* ]] || WHISTLE_CONSOLE_DIR=$PWD/$WHISTLE_CONSOLE_DIR
WHISTLE_NGINX_DIR=$WHISTLE_RUN/nginx
NGINX_TEMPLATE=$WHISTLE_ROOT/deploy/nginx/whistle.conf
NGINX_CONF=$WHISTLE_NGINX_DIR/nginx.conf
NGINX_LOG=$WHISTLE_LOGS/nginx.log
NGINX_ERROR_LOG=$WHISTLE_LOGS/nginx-error.log
START_TIMEOUT=10
STOP_TIMEOUT=10
# As root, workers would otherwise run as "nobody" and could not use temp dirs under a
# private $HOME (request bodies over 16k are buffered to disk there).
# shellcheck disable=SC2034  # used by render_template (indirect expansion)
if ((EUID == 0)); then
  WHISTLE_NGINX_USER="user root root;"
else
  WHISTLE_NGINX_USER="# (not root: workers run as $(id -un))"
fi

# One `geo` line per exempt address (deploy/nginx/whistle.conf); anything but an address or
# CIDR is refused rather than pasted into the config.
# shellcheck disable=SC2034  # used by render_template (indirect expansion)
WHISTLE_INGRESS_LIMIT_EXEMPT_LINES='# (none)'
if [[ -n ${WHISTLE_INGRESS_LIMIT_EXEMPT:-} ]]; then
  WHISTLE_INGRESS_LIMIT_EXEMPT_LINES=''
  read -r -a exempt <<<"$WHISTLE_INGRESS_LIMIT_EXEMPT"
  for addr in "${exempt[@]}"; do
    [[ $addr =~ ^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$ ]] \
      || die "nginx: WHISTLE_INGRESS_LIMIT_EXEMPT: '$addr' is not an address or CIDR"
    WHISTLE_INGRESS_LIMIT_EXEMPT_LINES+="$addr 1; "
  done
fi

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

where() { printf '%s:%s' "$HTTP_HOST" "$WHISTLE_HTTP_PORT"; }

nginx_bin() { cmd_path nginx; }

# Render the config and check it with `nginx -t`.
render_and_test() {
  ensure_cmd nginx nginx
  mkdir -p -- "$WHISTLE_NGINX_DIR/tmp"
  # One `server` line per running replica (services.sh records how many it started).
  local replicas=1 r
  [[ -s $WHISTLE_RUN/replicas ]] && read -r replicas <"$WHISTLE_RUN/replicas"
  [[ $replicas =~ ^[1-9]$ ]] || replicas=1
  WHISTLE_INTAKE_SERVERS='' WHISTLE_SLA_SERVERS='' WHISTLE_GATEWAY_SERVERS='' WHISTLE_NOTIFY_SERVERS=''
  for ((r = 0; r < replicas; r++)); do
    WHISTLE_INTAKE_SERVERS+="server 127.0.0.1:$((WHISTLE_INTAKE_PORT + 10 * r)); "
    WHISTLE_SLA_SERVERS+="server 127.0.0.1:$((WHISTLE_SLA_PORT + 10 * r)); "
    WHISTLE_NOTIFY_SERVERS+="server 127.0.0.1:$((WHISTLE_NOTIFY_PORT + 10 * r)); "
    WHISTLE_GATEWAY_SERVERS+="server 127.0.0.1:$((WHISTLE_GATEWAY_PORT + 10 * r)); "
  done
  render_template "$NGINX_TEMPLATE" "$NGINX_CONF" \
    WHISTLE_HTTP_PORT WHISTLE_GATEWAY_PORT WHISTLE_INTAKE_PORT WHISTLE_SLA_PORT WHISTLE_REGISTRY_PORT WHISTLE_LEDGER_PORT WHISTLE_CONSOLE_DIR \
    WHISTLE_NGINX_DIR WHISTLE_LOGS WHISTLE_NGINX_USER WHISTLE_INTAKE_SERVERS WHISTLE_SLA_SERVERS WHISTLE_GATEWAY_SERVERS WHISTLE_NOTIFY_SERVERS WHISTLE_NOTIFY_PORT \
    WHISTLE_INGRESS_LIMIT_EXEMPT_LINES
  local out
  if ! out=$("$(nginx_bin)" -t -q -p "$WHISTLE_NGINX_DIR/" -c "$NGINX_CONF" -e "$NGINX_ERROR_LOG" 2>&1); then
    printf '%s\n' "$out" | sed 's/^/  | /' >&2
    die "nginx: config test failed for $NGINX_CONF (template $NGINX_TEMPLATE)"
  fi
}

cmd_start() {
  with_lock nginx
  if is_running nginx; then
    echo "nginx: already running on $(where) (pid $(get_pid nginx))"
    return 0
  fi
  render_and_test
  if port_open "$HTTP_HOST" "$WHISTLE_HTTP_PORT"; then
    die "nginx: $(where) is already in use by another process (not ours); free it or set WHISTLE_HTTP_PORT"
  fi
  printf '\n==== %s nginx.sh start ====\n' "$(date '+%F %T')" >>"$NGINX_LOG"
  spawn nginx "$NGINX_LOG" "$(nginx_bin)" -p "$WHISTLE_NGINX_DIR/" -c "$NGINX_CONF" -e "$NGINX_ERROR_LOG"
  local pid=$SPAWN_PID deadline=$((SECONDS + START_TIMEOUT))
  until port_open "$HTTP_HOST" "$WHISTLE_HTTP_PORT"; do
    if ! is_running nginx; then
      show_log_tail "$NGINX_LOG"
      show_log_tail "$NGINX_ERROR_LOG"
      die "nginx: exited during startup; see $NGINX_ERROR_LOG"
    fi
    if ((SECONDS >= deadline)); then
      stop_pid nginx "$STOP_TIMEOUT" || true
      show_log_tail "$NGINX_ERROR_LOG"
      die "nginx: $(where) not accepting connections within ${START_TIMEOUT}s; stopped it; see $NGINX_ERROR_LOG"
    fi
    sleep 0.1
  done
  echo "nginx: running on $(where) (pid $pid)"
}

cmd_reload() {
  with_lock nginx
  if ! is_running nginx; then
    cmd_start
    return
  fi
  render_and_test
  local pid old new w fresh stale deadline
  pid=$(get_pid nginx)
  old=" $(worker_pids "$pid" | tr '\n' ' ')"
  kill -HUP "$pid"
  # SIGHUP is asynchronous: wait for a worker with the new config, then (up to 10 s) for the old
  # ones to drain, so requests made right after `reload` returns see the new config.
  deadline=$((SECONDS + 10))
  while :; do
    new=$(worker_pids "$pid")
    fresh=0 stale=0
    for w in $new; do
      if [[ $old == *" $w "* ]]; then stale=1; else fresh=1; fi
    done
    ((fresh && !stale)) && break
    if ((SECONDS >= deadline)); then
      ((fresh)) && break
      show_log_tail "$NGINX_ERROR_LOG"
      die "nginx: no new workers 10s after SIGHUP; reload failed? see $NGINX_ERROR_LOG"
    fi
    sleep 0.1
  done
  echo "nginx: reloaded on $(where) (pid $pid)"
}

# worker_pids MASTER  Pids of MASTER's child processes.
worker_pids() {
  local d stat rest
  local -a f
  for d in /proc/[0-9]*; do
    read -r stat 2>/dev/null <"$d/stat" || continue
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    [[ ${f[1]} == "$1" ]] && printf '%s\n' "${d#/proc/}"
  done
  return 0
}

cmd_stop() {
  with_lock nginx
  if stop_pid nginx "$STOP_TIMEOUT"; then echo "nginx: stopped"; else echo "nginx: not running"; fi
}

cmd_status() {
  if is_running nginx; then
    if port_open "$HTTP_HOST" "$WHISTLE_HTTP_PORT"; then
      echo "nginx: running on $(where) (pid $(get_pid nginx))"
    else
      echo "nginx: process $(get_pid nginx) is up but $(where) is not accepting connections; see $NGINX_ERROR_LOG"
      return 1
    fi
  elif port_open "$HTTP_HOST" "$WHISTLE_HTTP_PORT"; then
    echo "nginx: not running (but $(where) is in use by another process)"
    return 3
  else
    echo "nginx: not running"
    return 3
  fi
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop >/dev/null && cmd_start ;;
  reload) cmd_reload ;;
  status) cmd_status ;;
  *) usage ;;
esac
