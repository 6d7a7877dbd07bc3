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

cmd_install() { ensure_venv "$VENV" "openapi-spec-validator==$VALIDATOR_VERSION"; }

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
