#!/usr/bin/env bash
# Local OpenID Connect provider for single sign-on in development and the tests: PyPI's
# oidc-provider-mock in a virtualenv of our own under $WHISTLE_CACHE (python3 from the machine;
# Debian's python3-venv if missing), run by deploy/dev/oidc_provider.py, which makes it enforce
# PKCE (S256) like a strict provider. Issuer http://127.0.0.1:PORT; any client id and secret are
# accepted (no registration); id_tokens are RS256 with a key made at each start.
#
# usage: deploy/dev/oidc.sh {install|start|stop|restart|status|url|user SUB USERNAME}
#   install             create the virtualenv and install the provider (a no-op when present)
#   start               install if needed, start, wait until discovery answers
#   stop                SIGTERM, wait up to 15 s, then SIGKILL
#   status              one line; exit 0 if running, 3 if not
#   url                 the issuer (http://127.0.0.1:PORT), for WHISTLE_AUTH__OIDC__ISSUER
#   user SUB USERNAME   give the subject SUB the claim preferred_username=USERNAME (PUT /users/SUB)
#
# Signing in at its authorization endpoint is a form: POST the authorization request's URL with
# `sub=SUB` (a browser shows the form; the tests post it). The provider keeps everything in
# memory: users and codes are gone after a restart.
# Environment: WHISTLE_OIDC_PORT (19400), plus lib.sh's WHISTLE_CACHE / WHISTLE_RUN.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib.sh"

# 0.4.x needs Python 3.12 or later; 0.3.4 runs on the 3.11 the machines have.
OIDC_MOCK_VERSION=0.3.4
VENV=$WHISTLE_CACHE/venv-oidc
PY=$VENV/bin/python
OIDC_HOST=127.0.0.1
WHISTLE_OIDC_PORT=${WHISTLE_OIDC_PORT:-19400}
OIDC_LOG=$WHISTLE_LOGS/oidc.log
START_TIMEOUT=30
STOP_TIMEOUT=15

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

issuer() { printf 'http://%s:%s' "$OIDC_HOST" "$WHISTLE_OIDC_PORT"; }

discovery_ok() {
  curl -fsS --max-time 2 "$(issuer)/.well-known/openid-configuration" 2>/dev/null | grep -q '"issuer"'
}

cmd_install() { ensure_venv "$VENV" "oidc-provider-mock==$OIDC_MOCK_VERSION"; }

cmd_start() {
  with_lock oidc
  if is_running oidc; then
    echo "oidc: already running at $(issuer) (pid $(get_pid oidc))"
    return 0
  fi
  ensure_cmd curl curl
  cmd_install >/dev/null
  if port_open "$OIDC_HOST" "$WHISTLE_OIDC_PORT"; then
    die "oidc: $OIDC_HOST:$WHISTLE_OIDC_PORT is already in use by another process (not ours); free it or set WHISTLE_OIDC_PORT"
  fi
  printf '\n==== %s oidc.sh start ====\n' "$(date '+%F %T')" >>"$OIDC_LOG"
  # --require-nonce: an authorization request without a nonce is refused, as Whistle always sends one.
  NO_COLOR=1 PYTHONWARNINGS=ignore spawn oidc "$OIDC_LOG" "$PY" "$WHISTLE_DEV_DIR/oidc_provider.py" \
    --host "$OIDC_HOST" --port "$WHISTLE_OIDC_PORT" --require-nonce true
  local pid=$SPAWN_PID deadline=$((SECONDS + START_TIMEOUT))
  until discovery_ok; do
    if ! is_running oidc; then
      show_log_tail "$OIDC_LOG"
      die "oidc: exited during startup; see $OIDC_LOG"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$OIDC_LOG"
      stop_pid oidc "$STOP_TIMEOUT" || true
      die "oidc: no discovery document at $(issuer) within ${START_TIMEOUT}s; stopped it; see $OIDC_LOG"
    fi
    sleep 0.2
  done
  echo "oidc: running at $(issuer) (pid $pid)"
}

cmd_stop() {
  with_lock oidc
  if stop_pid oidc "$STOP_TIMEOUT"; then echo "oidc: stopped"; else echo "oidc: not running"; fi
}

cmd_status() {
  if is_running oidc; then
    if discovery_ok; then
      echo "oidc: running at $(issuer) (pid $(get_pid oidc))"
    else
      echo "oidc: process $(get_pid oidc) is up but $(issuer) does not answer; see $OIDC_LOG"
      return 1
    fi
  elif port_open "$OIDC_HOST" "$WHISTLE_OIDC_PORT"; then
    echo "oidc: not running (but $OIDC_HOST:$WHISTLE_OIDC_PORT is in use by another process)"
    return 3
  else
    echo "oidc: not running"
    return 3
  fi
}

cmd_user() {
  [[ -n ${1:-} && -n ${2:-} ]] || usage
  local claims
  claims=$(printf '{"preferred_username": "%s"}' "$2")
  curl -fsS --max-time 5 -X PUT -H 'content-type: application/json' -d "$claims" \
    "$(issuer)/users/$1" >/dev/null || die "oidc: could not set the claims of $1 at $(issuer)"
  echo "oidc: $1 signs in as $2"
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop >/dev/null && cmd_start ;;
  status) cmd_status ;;
  url) issuer; echo ;;
  user) shift; cmd_user "$@" ;;
  *) usage ;;
esac
