#!/usr/bin/env bash
# The web console (services/console): install its npm dependencies when needed, build it into
# services/console/dist (what nginx serves at /), or run its browser tests.
#
# usage: deploy/dev/console.sh {build|test}
#   build    `npm ci` if node_modules is missing or package-lock.json changed since the last
#            install, then `npm run build`
#   test     build, make sure Chromium is installed (chromium.sh), then `npm test` against
#            WHISTLE_BASE_URL (default http://127.0.0.1:8080; the stack must be up)
#
# Needs Node.js 20.19+ and npm on PATH (installed with apt-get as nodejs/npm when missing).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib.sh"

CONSOLE_DIR=$WHISTLE_ROOT/services/console
STAMP=$CONSOLE_DIR/node_modules/.whistle-lock.sha256

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

ensure_deps() {
  ensure_cmd node nodejs
  ensure_cmd npm npm
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
    || die "console: Node.js 20.19+ is needed to build the console (found $(node --version)); install a newer nodejs"
  local want have=''
  want=$(sha256sum "$CONSOLE_DIR/package-lock.json" | cut -d' ' -f1)
  [[ -r $STAMP ]] && have=$(<"$STAMP")
  if [[ ! -d $CONSOLE_DIR/node_modules || $want != "$have" ]]; then
    echo "console: npm ci (package-lock.json changed or node_modules missing)"
    (cd "$CONSOLE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    printf '%s\n' "$want" >"$STAMP"
  fi
}

cmd_build() {
  with_lock console
  ensure_deps
  (cd "$CONSOLE_DIR" && npm run --silent build >"$WHISTLE_LOGS/console-build.log" 2>&1) \
    || { show_log_tail "$WHISTLE_LOGS/console-build.log" 40; die "console: build failed; see $WHISTLE_LOGS/console-build.log"; }
  echo "console: built into ${CONSOLE_DIR#"$WHISTLE_ROOT"/}/dist"
}

cmd_test() {
  cmd_build
  bash "$WHISTLE_DEV_DIR/chromium.sh" ensure
  export WHISTLE_BASE_URL=${WHISTLE_BASE_URL:-http://127.0.0.1:8080}
  echo "console: browser tests against $WHISTLE_BASE_URL (screenshots: artifacts/screenshots/)"
  cd "$CONSOLE_DIR"
  npm test
}

case ${1:-} in
  build) cmd_build ;;
  test) cmd_test ;;
  *) usage ;;
esac
