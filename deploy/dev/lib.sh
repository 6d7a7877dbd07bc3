# shellcheck shell=bash
# Shared helpers for the Whistle local dev-infrastructure scripts (deploy/dev/*.sh).
# Source it; do not execute it. Bash 4.4+ on Linux (uses /proc).
#
# Environment (all optional):
#   WHISTLE_CACHE  downloads that survive clones   (default $HOME/.cache/whistle)
#   WHISTLE_RUN    data dirs, logs, pid files      (default $WHISTLE_CACHE/run)

if [[ -n ${_WHISTLE_LIB_LOADED:-} ]]; then return 0; fi
_WHISTLE_LIB_LOADED=1

WHISTLE_DEV_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
WHISTLE_ROOT=$(cd -- "$WHISTLE_DEV_DIR/../.." && pwd -P)
WHISTLE_CACHE=${WHISTLE_CACHE:-${HOME:?HOME is not set}/.cache/whistle}
WHISTLE_RUN=${WHISTLE_RUN:-$WHISTLE_CACHE/run}
[[ $WHISTLE_CACHE == /* ]] || WHISTLE_CACHE=$PWD/$WHISTLE_CACHE
[[ $WHISTLE_RUN == /* ]] || WHISTLE_RUN=$PWD/$WHISTLE_RUN
WHISTLE_LOGS=$WHISTLE_RUN/logs
export WHISTLE_ROOT WHISTLE_CACHE WHISTLE_RUN WHISTLE_LOGS

# Logs, data, secrets and pid files are this user's alone: files 0600, directories 0700, for
# everything the scripts create and the servers they start (Kafka, Redis, nginx, the services).
umask 077
mkdir -p -- "$WHISTLE_CACHE" "$WHISTLE_LOGS" "$WHISTLE_RUN/pids" "$WHISTLE_RUN/locks"
# Also for a run directory made before this rule (its contents keep their modes, but nobody
# else can reach them).
chmod 700 -- "$WHISTLE_RUN" "$WHISTLE_LOGS" 2>/dev/null || true

# ---------------------------------------------------------------- messages

# One line to stderr. Use for progress of slow one-off work (installs, downloads).
note() { printf '%s\n' "$*" >&2; }

# Print "COMPONENT: error text" to stderr and exit 1.
die() { printf '%s\n' "$*" >&2; exit 1; }

# Print the last lines of a log (indented) to stderr, to make failures self-explanatory.
show_log_tail() {
  local log=$1 n=${2:-20}
  [[ -s $log ]] || return 0
  printf '  --- last %s lines of %s ---\n' "$n" "$log" >&2
  tail -n "$n" -- "$log" | sed 's/^/  | /' >&2
}

# ---------------------------------------------------------------- packages

_WHISTLE_APT_UPDATED=0

# ensure_apt PKG...  Install the Debian packages that are not installed yet (dpkg status).
# Runs `apt-get update` at most once per process, non-interactively; output goes to
# $WHISTLE_LOGS/apt.log. Uses sudo when not root.
ensure_apt() {
  local pkg missing=()
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  ((${#missing[@]})) || return 0

  command -v apt-get >/dev/null 2>&1 \
    || die "missing packages: ${missing[*]} (no apt-get here; install them by hand)"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || die "missing packages: ${missing[*]} (not root and no sudo)"
    sudo=(sudo DEBIAN_FRONTEND=noninteractive)
  fi
  local log=$WHISTLE_LOGS/apt.log
  local opts=(-y -q -o DPkg::Lock::Timeout=300
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  note "installing ${missing[*]} with apt-get (log: $log)"
  if ((!_WHISTLE_APT_UPDATED)); then
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -q -o DPkg::Lock::Timeout=300 update \
      >>"$log" 2>&1 || { show_log_tail "$log"; die "apt-get update failed; see $log"; }
    _WHISTLE_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install "${opts[@]}" --no-install-recommends \
    "${missing[@]}" </dev/null >>"$log" 2>&1 \
    || { show_log_tail "$log"; die "apt-get install ${missing[*]} failed; see $log"; }
}

# ensure_cmd CMD PKG  Install PKG with ensure_apt unless CMD is already on PATH (or in /usr/sbin).
ensure_cmd() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  [[ -x /usr/sbin/$cmd ]] && return 0
  ensure_apt "$pkg"
  command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]] \
    || die "installed $pkg but '$cmd' is still not on PATH"
}

# ensure_venv DIR REQUIREMENT...  A virtualenv at DIR (under $WHISTLE_CACHE) holding REQUIREMENT...
# (pinned PyPI requirements, "name==version"), made with the machine's python3 (Debian's
# python3-venv if missing) under a lock of its own (DIR.lock), since every run directory's scripts
# share it; a no-op when DIR was made with exactly these (its .requirements file says so).
ensure_venv() {
  local venv=$1 fd want
  shift
  want="$*"
  [[ -x $venv/bin/python && -f $venv/.requirements && $(<"$venv/.requirements") == "$want" ]] && return 0
  exec {fd}>"$venv.lock"
  flock -w 300 "$fd" || die "timed out waiting for $venv.lock"
  if [[ ! -x $venv/bin/python || ! -f $venv/.requirements || $(<"$venv/.requirements") != "$want" ]]; then
    ensure_cmd python3 python3
    note "installing $want (PyPI) into $venv"
    python3 -m venv --help >/dev/null 2>&1 || ensure_apt python3-venv
    rm -rf -- "$venv"
    python3 -m venv "$venv" || { ensure_apt python3-venv; python3 -m venv "$venv"; }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >>"$WHISTLE_LOGS/pip.log" 2>&1 \
      || { show_log_tail "$WHISTLE_LOGS/pip.log"; die "pip install $want into $venv failed; see $WHISTLE_LOGS/pip.log"; }
    echo "$want" >"$venv/.requirements"
  fi
  exec {fd}>&-
}

# Path of a command, also finding /usr/sbin tools when /usr/sbin is not on PATH.
cmd_path() {
  command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && printf '/usr/sbin/%s\n' "$1"; }
}

# ---------------------------------------------------------------- templates

# render_template SRC DST VAR...  Copy SRC to DST replacing each literal ${VAR} by the
# variable's value. Other text (including nginx's $variables) is left alone. Fails if a
# ${WHISTLE_...} placeholder is left unreplaced.
render_template() {
  local src=$1 dst=$2 var content
  shift 2
  [[ -r $src ]] || die "template not found: $src"
  content=$(<"$src")
  for var in "$@"; do
    # Quoted replacement: no '&' expansion (bash 5.2 patsub_replacement).
    content=${content//"\${$var}"/"${!var}"}
  done
  if [[ $content =~ \$\{(WHISTLE_[A-Z0-9_]+)\} ]]; then
    die "template $src: placeholder \${${BASH_REMATCH[1]}} was not substituted"
  fi
  mkdir -p -- "$(dirname -- "$dst")"
  printf '%s\n' "$content" >"$dst.tmp.$$" && mv -f -- "$dst.tmp.$$" "$dst"
}

# ---------------------------------------------------------------- Redis users
# The dev Redis (redis.sh) and the Sentinel nodes (sentinel.sh) take logins only: one ACL user per
# client, their passwords generated once into $WHISTLE_RUN/redis/users ("user password" lines,
# 0600), the ACL file holding only their SHA-256.

REDIS_USERS_FILE=$WHISTLE_RUN/redis/users
REDIS_ACL_USERS=(default admin whistle-test whistle-intake whistle-gateway whistle-sla whistle-registry
  whistle-ledger whistle-notify whistle-replica whistle-sentinel)
# Passwords in the same file that are no node's ACL user: "sentinels" is the Sentinels' own
# requirepass (sentinel.sh), which clients give to ask them for the primary.
REDIS_OTHER_SECRETS=(sentinels)

# redis_acl_rules USER  The ACL rules of USER (after its password); false for an unknown user.
# Keys: ~ read and write, %R~ read only; under the services' key prefix (WHISTLE_REDIS__KEY_PREFIX,
# whistle:). ROLE: a service that finds the primary through the Sentinels checks it with ROLE.
redis_acl_rules() {
  local p=${WHISTLE_REDIS__KEY_PREFIX:-whistle:}
  case $1 in
    # Not off but behind a password nobody is given: Redis replays the append-only file as the
    # default user and, up to 7.x, re-checks each MULTI/EXEC against its rights, so a default
    # user without them silently drops every transaction of the AOF on restart
    # (redis/redis#14541). A client that does not log in is still refused (NOAUTH).
    default | admin) echo "~* &* +@all" ;;
    whistle-test) echo "~* resetchannels +@all -@dangerous +info +role +client|unblock" ;;
    whistle-intake | whistle-sla) echo "~$p* resetchannels +@all -@dangerous +role" ;;
    whistle-gateway) echo "~$p* resetchannels +@all -@dangerous +role +client|unblock" ;;
    whistle-registry) echo "%R~$p* resetchannels -@all +@read +@connection -@dangerous +role" ;;
    whistle-ledger | whistle-notify)
      echo "%R~${p}auth:* resetchannels -@all +@read +@connection -@dangerous +role"
      ;;
    # A replica's link to its primary; a Sentinel watching and reconfiguring a node.
    whistle-replica) echo "resetchannels -@all +psync +replconf +ping" ;;
    whistle-sentinel)
      echo "resetchannels &__sentinel__:hello -@all +multi +exec +slaveof +ping +subscribe +publish +role +info +config|rewrite +client|setname +client|kill +script|kill"
      ;;
    *) return 1 ;;
  esac
}

# redis_password USER  USER's password (empty if none was generated yet).
redis_password() {
  [[ -r $REDIS_USERS_FILE ]] || return 0
  awk -v u="$1" '$1 == u { print $2; exit }' "$REDIS_USERS_FILE"
}

# The users without a password yet, one a line; false if there are none.
_redis_missing_users() {
  local user found=1
  for user in "${REDIS_ACL_USERS[@]}" "${REDIS_OTHER_SECRETS[@]}"; do
    if [[ -z $(redis_password "$user") ]]; then
      echo "$user"
      found=0
    fi
  done
  return "$found"
}

# redis_ensure_passwords  A password (URL-safe hex) for every user that has none; the others keep
# theirs.
redis_ensure_passwords() {
  _redis_missing_users >/dev/null || return 0
  mkdir -p -- "$(dirname -- "$REDIS_USERS_FILE")"
  (
    # Two first runs at once must not hand out different passwords.
    exec {fd}>"$WHISTLE_RUN/locks/redis-users.lock"
    flock -w 60 "$fd" || die "timed out waiting for $WHISTLE_RUN/locks/redis-users.lock"
    missing=$(_redis_missing_users) || exit 0
    tmp=$REDIS_USERS_FILE.tmp.$$
    if [[ -f $REDIS_USERS_FILE ]]; then cat -- "$REDIS_USERS_FILE" >"$tmp"; else : >"$tmp"; fi
    for user in $missing; do
      printf '%s %s\n' "$user" "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$tmp"
    done
    mv -f -- "$tmp" "$REDIS_USERS_FILE"
  )
}

# redis_write_acl FILE  The ACL file of every user, for `aclfile FILE`.
redis_write_acl() {
  local file=$1 user hash
  {
    for user in "${REDIS_ACL_USERS[@]}"; do
      hash=$(printf '%s' "$(redis_password "$user")" | sha256sum | cut -d' ' -f1)
      echo "user $user on resetpass #$hash resetkeys $(redis_acl_rules "$user")"
    done
  } >"$file.tmp.$$"
  mv -f -- "$file.tmp.$$" "$file"
}

# redis_admin_cli HOST PORT ARGS...  redis-cli as admin (the password goes through the
# environment, not the command line), 3 s timeout, errors silenced.
redis_admin_cli() {
  REDISCLI_AUTH=$(redis_password admin) timeout 3 redis-cli --no-auth-warning --user admin \
    -h "$1" -p "$2" "${@:3}" 2>/dev/null
}

# ---------------------------------------------------------------- ports

# port_open HOST PORT  True if something accepts TCP connections there (1 s timeout).
port_open() {
  # shellcheck disable=SC2016  # $0/$1 are expanded by the inner bash
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# wait_port HOST PORT SECONDS  Wait until HOST:PORT accepts connections; false on timeout.
wait_port() {
  local host=$1 port=$2 secs=$3 deadline
  deadline=$((SECONDS + secs))
  until port_open "$host" "$port"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# ---------------------------------------------------------------- pid files
# Pid files live in $WHISTLE_RUN/pids/NAME.pid and hold "PID STARTTIME" (STARTTIME is field
# 22 of /proc/PID/stat), so a recycled pid from a dead run is never mistaken for ours.

pidfile() { printf '%s/pids/%s.pid\n' "$WHISTLE_RUN" "$1"; }

# _proc_start PID  Prints the start time of a live (non-zombie) process; false otherwise.
_proc_start() {
  local stat rest
  local -a f
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${stat##*) }
  read -r -a f <<<"$rest"
  [[ ${f[0]} != Z && ${f[0]} != X ]] || return 1
  printf '%s\n' "${f[19]}"
}

# get_pid NAME  Prints the pid recorded for NAME (no liveness check); false if none.
get_pid() {
  local pid _start
  read -r pid _start 2>/dev/null <"$(pidfile "$1")" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  printf '%s\n' "$pid"
}

# is_running NAME  True if NAME's pid file points at the live process we started.
is_running() {
  local pid start now
  read -r pid start 2>/dev/null <"$(pidfile "$1")" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  now=$(_proc_start "$pid") || return 1
  [[ -z $start || $now == "$start" ]]
}

# spawn NAME LOG CMD...  Start CMD in the background in its own session (detached from the
# terminal, survives the calling shell), stdin from /dev/null, stdout+stderr appended to LOG,
# and write NAME's pid file. Sets SPAWN_PID.
# shellcheck disable=SC2034
SPAWN_PID=
spawn() {
  local name=$1 log=$2 pf pid='' start i
  shift 2
  pf=$(pidfile "$name")
  rm -f -- "$pf" "$pf.new"
  [[ -n ${WHISTLE_LOCK_FD:-} ]] || exec {WHISTLE_LOCK_FD}</dev/null
  # The wrapper records its own pid, then execs CMD (same pid), whether or not setsid forks.
  # {WHISTLE_LOCK_FD}>&- keeps the child from inheriting (and holding) our lock.
  # shellcheck disable=SC2016
  setsid bash -c 'echo "$$" >"$0.new" && exec "$@"' "$pf" "$@" \
    </dev/null >>"$log" 2>&1 {WHISTLE_LOCK_FD}>&- &
  for ((i = 0; i < 100; i++)); do
    if [[ -s $pf.new ]] && read -r pid <"$pf.new" && [[ -n $pid ]]; then break; fi
    sleep 0.05
  done
  [[ -n $pid ]] || die "$name: failed to launch $1; see $log"
  rm -f -- "$pf.new"
  start=$(_proc_start "$pid") || start=
  printf '%s %s\n' "$pid" "$start" >"$pf"
  # shellcheck disable=SC2034  # read by the sourcing scripts
  SPAWN_PID=$pid
}

# stop_pid NAME [SECONDS]  SIGTERM NAME's process, wait up to SECONDS (default 15), then
# SIGKILL its whole process group. Removes the pid file. False if it was not running.
stop_pid() {
  local name=$1 secs=${2:-15} pid deadline
  if ! is_running "$name"; then
    rm -f -- "$(pidfile "$name")"
    return 1
  fi
  pid=$(get_pid "$name")
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + secs))
  while is_running "$name" && ((SECONDS < deadline)); do sleep 0.2; done
  if is_running "$name"; then
    note "$name: still running ${secs}s after SIGTERM; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    while is_running "$name" && ((SECONDS < deadline)); do sleep 0.1; done
  fi
  is_running "$name" && die "$name: could not stop pid $pid"
  rm -f -- "$(pidfile "$name")"
}

# ---------------------------------------------------------------- locking

# with_lock NAME  Serialize start/stop of NAME across concurrent script runs (released at
# exit). One lock per process: later calls are no-ops.
with_lock() {
  [[ -z ${_WHISTLE_LOCKED:-} ]] || return 0
  _WHISTLE_LOCKED=$1
  exec {WHISTLE_LOCK_FD}>"$WHISTLE_RUN/locks/$1.lock"
  flock -w 180 "$WHISTLE_LOCK_FD" || die "$1: timed out waiting for $WHISTLE_RUN/locks/$1.lock"
}
