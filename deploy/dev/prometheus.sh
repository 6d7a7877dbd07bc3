#!/usr/bin/env bash
# Debian's Prometheus server and promtool, for the metrics tests (tests/prometheus.rs starts its
# own short-lived server on a free port; nothing runs in the background).
#
# usage: deploy/dev/prometheus.sh install
set -euo pipefail
# shellcheck source=deploy/dev/lib.sh
. "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib.sh"

case ${1:-} in
  install)
    ensure_cmd prometheus prometheus
    ensure_cmd promtool prometheus
    echo "prometheus: $(prometheus --version 2>&1 | head -n 1)"
    ;;
  *)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac
