#!/usr/bin/env bash
# An independent OpenAPI validator for the tests: PyPI's openapi-spec-validator in a virtualenv
# of our own under $WHISTLE_CACHE (python3 from the machine; Debian's python3-venv if missing).
#
# usage: deploy/dev/openapi.sh {install|validate FILE|path}
#   install         create the virtualenv and install the validator (a no-op when present)
#   validate FILE   validate FILE as OpenAPI 3.x; exit non-zero with the errors when invalid
#   path            print the validator's path
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib.sh"

VALIDATOR_VERSION=0.9.0
VENV=$WHISTLE_CACHE/venv-openapi
BIN=$VENV/bin/openapi-spec-validator

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

cmd_install() {
  if [[ -x $BIN ]] && "$VENV/bin/python" -m pip show openapi-spec-validator 2>/dev/null | grep -q "^Version: $VALIDATOR_VERSION$"; then
    return 0
  fi
  if ! python3 -m venv --help >/dev/null 2>&1; then
    ensure_apt python3-venv
  fi
  rm -rf -- "$VENV"
  python3 -m venv "$VENV" || { ensure_apt python3-venv; python3 -m venv "$VENV"; }
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "openapi-spec-validator==$VALIDATOR_VERSION"
  echo "openapi: openapi-spec-validator $VALIDATOR_VERSION in $VENV"
}

case ${1:-} in
  install) cmd_install ;;
  validate)
    [[ -n ${2:-} ]] || usage
    cmd_install >/dev/null
    "$BIN" "$2"
    ;;
  path) echo "$BIN" ;;
  *) usage ;;
esac
