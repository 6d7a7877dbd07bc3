#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (playwright-core drives /usr/bin/chromium;
# no browser download), plus a small CJK font so zh-CN pages render (and screenshot) properly.
#
# usage: deploy/dev/chromium.sh [ensure]
#   ensure   install chromium and fonts-wqy-microhei with apt-get when missing; print the path
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib.sh"

case ${1:-ensure} in
  ensure)
    ensure_cmd chromium chromium
    ensure_apt fonts-wqy-microhei
    echo "chromium: $(command -v chromium) ($(chromium --version 2>/dev/null || echo 'version unknown'))"
    ;;
  *)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac
