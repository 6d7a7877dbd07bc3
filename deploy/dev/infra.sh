#!/usr/bin/env bash
# Local dev infrastructure for Whistle: Kafka + Redis + PostgreSQL + a mail server (exim, for
# the notifier's email) + an OpenID Connect provider (single sign-on, oidc.sh) (+ nginx, which callers
# start later with deploy/dev/nginx.sh start once the services are up).
#
# usage: deploy/dev/infra.sh {up|down|status}
#   up       kafka fetch + start, redis, postgres, smtp and oidc start (each a no-op if already running)
#   down     stop nginx, oidc, smtp, postgres, redis and kafka (data is kept; see kafka.sh reset)
#   status   one line per component; exit 0 if kafka, redis, postgres, smtp and oidc run, 3 otherwise
set -euo pipefail
DEV=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

cmd_up() {
  "$DEV/kafka.sh" fetch
  "$DEV/kafka.sh" start
  "$DEV/redis.sh" start
  "$DEV/postgres.sh" start
  "$DEV/smtp.sh" start
  "$DEV/oidc.sh" start
}

cmd_down() {
  local rc=0 c
  for c in nginx oidc smtp postgres redis kafka; do
    "$DEV/$c.sh" stop || rc=1
  done
  return "$rc"
}

cmd_status() {
  local rc=0
  "$DEV/kafka.sh" status || rc=3
  "$DEV/redis.sh" status || rc=3
  "$DEV/postgres.sh" status || rc=3
  "$DEV/smtp.sh" status || rc=3
  "$DEV/oidc.sh" status || rc=3
  "$DEV/nginx.sh" status || true
  return "$rc"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) usage ;;
esac
