#!/usr/bin/env bash
# Local dev PostgreSQL: our own cluster (Debian's postgresql binaries), independent of any
# cluster the package runs on 5432.
#
# usage: deploy/dev/postgres.sh {start|stop|restart|status|url [DB]|create DB}
#   start    install postgresql if missing, initdb on first run, start, wait until it accepts
#            connections, create the databases `whistle` (accounts) and `whistle_ledger`
#   stop     fast shutdown (SIGINT: open sessions are ended), then SIGKILL after 15 s
#   status   one line; exit 0 if running, 3 if not
#   url      print the connection URL (with the generated password) of the database `whistle`,
#            or of DB
#   create   create the database DB on the running server unless it exists
#
# Data lives in $WHISTLE_RUN/postgres (cluster in data/, unix socket next to it) and survives
# restarts. It listens on 127.0.0.1 only, port WHISTLE_POSTGRES_PORT (15432); the superuser is
# `whistle`, with a password generated once into $WHISTLE_RUN/postgres-password (mode 600), and
# every TCP login needs it (scram-sha-256).
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` OS user (the
# package creates it), and since that user cannot enter root's home, $WHISTLE_RUN/postgres is a
# link to a directory it owns under /var/lib/postgresql/whistle/. Otherwise it runs as you.
# Environment: WHISTLE_POSTGRES_PORT (15432), plus lib.sh's WHISTLE_CACHE / WHISTLE_RUN.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib.sh"

PG_HOST=127.0.0.1
WHISTLE_POSTGRES_PORT=${WHISTLE_POSTGRES_PORT:-15432}
PG_DIR=$WHISTLE_RUN/postgres
PG_PASSWORD_FILE=$WHISTLE_RUN/postgres-password
PG_LOG=$WHISTLE_LOGS/postgres.log
PG_USER=whistle
PG_DATABASE=whistle
START_TIMEOUT=30
STOP_TIMEOUT=15

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

where() { printf '%s:%s' "$PG_HOST" "$WHISTLE_POSTGRES_PORT"; }

# The newest installed server's bin directory (e.g. /usr/lib/postgresql/15/bin).
pg_bin() {
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [[ -n $dir && -x $dir/postgres ]] || return 1
  printf '%s\n' "$dir"
}

# Runs a command as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
  if ((EUID == 0)); then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

password() {
  if [[ ! -s $PG_PASSWORD_FILE ]]; then
    (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '\n/+=' >"$PG_PASSWORD_FILE.tmp.$$" \
      && mv -f -- "$PG_PASSWORD_FILE.tmp.$$" "$PG_PASSWORD_FILE")
  fi
  cat -- "$PG_PASSWORD_FILE"
}

url() { printf 'postgres://%s:%s@%s/%s\n' "$PG_USER" "$(password)" "$(where)" "${1:-$PG_DATABASE}"; }

ready() {
  local bin
  bin=$(pg_bin) || return 1
  timeout 3 "$bin/pg_isready" -q -h "$PG_HOST" -p "$WHISTLE_POSTGRES_PORT" 2>/dev/null
}

# The cluster's directory: $WHISTLE_RUN/postgres itself, or (as root) the directory it links to.
prepare_dir() {
  if ((EUID == 0)); then
    local key target
    key=$(printf '%s' "$WHISTLE_RUN" | sha256sum | cut -c1-12)
    target=/var/lib/postgresql/whistle/$key
    install -d -o postgres -g postgres -m 700 /var/lib/postgresql/whistle
    if [[ ! -L $PG_DIR ]]; then
      [[ ! -e $PG_DIR ]] || die "postgres: $PG_DIR exists and is not the link to $target; move it away"
      # The run dir was removed (a reset) but the cluster outside it was not: its password went
      # with the run dir, so start afresh and keep the old cluster aside.
      if [[ -e $target && ! -s $PG_PASSWORD_FILE ]]; then
        note "postgres: a new cluster; the old one (its password is gone with the run dir) is kept in $target.old"
        rm -rf -- "$target.old"
        mv -- "$target" "$target.old"
      fi
      ln -s -- "$target" "$PG_DIR"
    fi
    install -d -o postgres -g postgres -m 700 "$target"
  else
    mkdir -p -- "$PG_DIR"
    chmod 700 -- "$PG_DIR"
  fi
}

initdb_once() {
  local bin=$1 dir
  dir=$(readlink -f -- "$PG_DIR")
  [[ -s $dir/data/PG_VERSION ]] && return 0
  note "postgres: creating the cluster in $dir/data"
  local pwfile=$dir/.pwfile
  (umask 077 && password >"$pwfile")
  ((EUID != 0)) || chown postgres:postgres -- "$pwfile"
  as_owner "$bin/initdb" -D "$dir/data" -U "$PG_USER" --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >>"$PG_LOG" 2>&1 \
    || { rm -f -- "$pwfile"; show_log_tail "$PG_LOG"; die "postgres: initdb failed; see $PG_LOG"; }
  rm -f -- "$pwfile"
}

# create_database BIN [NAME]  Creates NAME (default `whistle`) unless it exists.
create_database() {
  local bin=$1 name=${2:-$PG_DATABASE} exists
  [[ $name =~ ^[a-z_][a-z0-9_]*$ ]] || die "postgres: '$name' is not a plain database name"
  exists=$(PGPASSWORD=$(password) "$bin/psql" -h "$PG_HOST" -p "$WHISTLE_POSTGRES_PORT" -U "$PG_USER" -d postgres \
    -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" 2>>"$PG_LOG") \
    || die "postgres: cannot connect as $PG_USER to $(where); see $PG_LOG"
  if [[ $exists != 1 ]]; then
    PGPASSWORD=$(password) "$bin/psql" -q -h "$PG_HOST" -p "$WHISTLE_POSTGRES_PORT" -U "$PG_USER" -d postgres \
      -c "CREATE DATABASE $name" >>"$PG_LOG" 2>&1 || die "postgres: creating database $name failed"
  fi
}

cmd_start() {
  with_lock postgres
  if is_running postgres; then
    echo "postgres: already running on $(where) (pid $(get_pid postgres))"
    return 0
  fi
  local bin
  bin=$(pg_bin) || { ensure_apt postgresql; bin=$(pg_bin) || die "postgres: installed postgresql but found no server"; }
  if port_open "$PG_HOST" "$WHISTLE_POSTGRES_PORT"; then
    die "postgres: $(where) is already in use by another process (not ours); free it or set WHISTLE_POSTGRES_PORT"
  fi
  prepare_dir
  initdb_once "$bin"
  local dir
  dir=$(readlink -f -- "$PG_DIR")
  printf '\n==== %s postgres.sh start ====\n' "$(date '+%F %T')" >>"$PG_LOG"
  # Logs go to stderr, which spawn appends to $PG_LOG. Enough connections for the tests' many
  # in-process services (each a small pool) and one database per test.
  spawn postgres "$PG_LOG" "${PG_AS_OWNER[@]}" "$bin/postgres" -D "$dir/data" \
    -c listen_addresses="$PG_HOST" -c port="$WHISTLE_POSTGRES_PORT" -c unix_socket_directories="$dir" \
    -c max_connections=300 -c shared_buffers=64MB -c logging_collector=off -c log_min_messages=warning
  local pid=$SPAWN_PID deadline=$((SECONDS + START_TIMEOUT))
  until ready; do
    if ! is_running postgres; then
      show_log_tail "$PG_LOG"
      die "postgres: exited during startup; see $PG_LOG"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$PG_LOG"
      stop_pid postgres "$STOP_TIMEOUT" || true
      die "postgres: not accepting connections on $(where) within ${START_TIMEOUT}s; stopped it; see $PG_LOG"
    fi
    sleep 0.2
  done
  create_database "$bin"
  create_database "$bin" whistle_ledger
  echo "postgres: running on $(where) (pid $pid)"
}

cmd_stop() {
  with_lock postgres
  if ! is_running postgres; then
    rm -f -- "$(pidfile postgres)"
    echo "postgres: not running"
    return 0
  fi
  # SIGTERM would wait for every client (the services' pools) to leave; SIGINT ends them.
  local pid deadline
  pid=$(get_pid postgres)
  kill -INT "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while is_running postgres && ((SECONDS < deadline)); do sleep 0.2; done
  stop_pid postgres 5 || true
  echo "postgres: stopped"
}

cmd_status() {
  if is_running postgres; then
    if ready; then
      echo "postgres: running on $(where) (pid $(get_pid postgres))"
    else
      echo "postgres: process $(get_pid postgres) is up but $(where) does not accept connections; see $PG_LOG"
      return 1
    fi
  elif port_open "$PG_HOST" "$WHISTLE_POSTGRES_PORT"; then
    echo "postgres: not running (but $(where) is in use by another process)"
    return 3
  else
    echo "postgres: not running"
    return 3
  fi
}

# As root the server runs as `postgres`; setpriv execs it in place, so the pid file names it.
if ((EUID == 0)); then
  PG_AS_OWNER=(setpriv --reuid=postgres --regid=postgres --init-groups --)
else
  PG_AS_OWNER=()
fi

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop >/dev/null && cmd_start ;;
  status) cmd_status ;;
  url) url "${2:-}" ;;
  create)
    [[ -n ${2:-} ]] || usage
    is_running postgres || die "postgres: not running (deploy/dev/postgres.sh start)"
    create_database "$(pg_bin)" "$2"
    ;;
  *) usage ;;
esac
