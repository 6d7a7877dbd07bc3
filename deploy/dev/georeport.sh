#!/usr/bin/env bash
# An independent Open311 GeoReport v2 client for the tests: PyPI's georeport in a virtualenv of
# our own under $WHISTLE_CACHE (python3 from the machine; Debian's python3-venv if missing).
#
# usage: deploy/dev/georeport.sh {install|run BASE_URL [API_KEY]|python}
#   install             create the virtualenv and install the client (a no-op when present)
#   run BASE_URL [KEY]  list services, post a request and read its status at BASE_URL/open311/v2
#                       with tests/open311_client.py; prints one JSON line of what it saw
#   python              print the virtualenv's python
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib.sh"

GEOREPORT_VERSION=0.3.1
VENV=$WHISTLE_CACHE/venv-georeport
PY=$VENV/bin/python

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

cmd_install() { ensure_venv "$VENV" "georeport==$GEOREPORT_VERSION"; }

case ${1:-} in
  install) cmd_install ;;
  run)
    [[ -n ${2:-} ]] || usage
    cmd_install >/dev/null
    "$PY" "$WHISTLE_ROOT/tests/open311_client.py" "$2" "${3:-whistle-demo-open311}"
    ;;
  python) echo "$PY" ;;
  *) usage ;;
esac
