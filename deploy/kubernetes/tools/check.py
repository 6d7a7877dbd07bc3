#!/usr/bin/env python3
"""Offline checks of Whistle's deployment manifests, for deploy/dev/validate-deploy.sh.

kubernetes-validate checks the core Kubernetes kinds against the API's JSON schemas; it knows
nothing of the custom resources. This file checks those, and what no schema can know:

  crs FILE [--brokers N]   every Strimzi (Kafka, KafkaNodePool, KafkaTopic, KafkaUser) and
                           Prometheus Operator (PodMonitor, PrometheusRule) resource in FILE (the
                           output of `kubectl kustomize`) against the fields of their documented
                           schemas (kafka.strimzi.io/v1beta2, monitoring.coreos.com/v1) as far as
                           this deployment uses them: an unknown or misspelt field, a wrong type or
                           a value outside an enum fails. Then the cross-checks: topics exactly as
                           docs/architecture.md's topic table lists them, labels naming the Kafka
                           cluster, KRaft node pools, replication within the broker count, and,
                           with --brokers, that many brokers.
  env FILE...              every WHISTLE_* variable a container or compose service sets names a
                           setting of that service (read from services/*/src/settings.rs), since
                           an unknown one stops the service at start-up.
  workloads FILE           every service binary (services/*/src/main.rs) runs in a Deployment or
                           StatefulSet of FILE, each with startup/readiness/liveness probes on
                           /healthz and /readyz of its WHISTLE_HTTP__PORT, CPU and memory
                           requests and limits, a non-root read-only container, secrets (and the
                           database URL) from Secrets only, pods selected by the PodMonitor, and a
                           KafkaUser that allows what its code does with Kafka (Read on the topics
                           it subscribes to and its group, Write on the dead letters, the registry
                           copy's topic and group prefix, Create on every topic for ensure_topics).
  compose FILE             the same for the output of `docker-compose config`: every binary has a
                           compose service with a healthcheck, a Prometheus target
                           (deploy/compose/prometheus.yml), depends_on ... service_healthy on the
                           Kafka, Redis and PostgreSQL it names, and its secrets from .env.
  rules                    base/monitoring/prometheus-rules.yaml holds deploy/prometheus/rules.yml.
  sync-rules               rewrites base/monitoring/prometheus-rules.yaml from it.

Exit status 0 when everything passes, 1 when something fails (each failure is printed with the
resource and the field path), 2 on a usage error. Needs PyYAML.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
RULES_SRC = ROOT / "deploy/prometheus/rules.yml"
RULES_CR = ROOT / "deploy/kubernetes/base/monitoring/prometheus-rules.yaml"

# ---------------------------------------------------------------------------------------------
# A small structural-schema language: enough to say which fields exist and what they hold.


class Spec:
    def check(self, value, path: str, errors: list[str]) -> None:
        raise NotImplementedError


class Str(Spec):
    def __init__(self, pattern: str | None = None, enum: tuple[str, ...] | None = None):
        self.pattern = re.compile(pattern) if pattern else None
        self.enum = enum

    def check(self, value, path, errors):
        if not isinstance(value, str):
            errors.append(f"{path}: must be a string, is {type(value).__name__} {value!r}")
        elif self.enum is not None and value not in self.enum:
            errors.append(f"{path}: {value!r} is not one of {', '.join(self.enum)}")
        elif self.pattern is not None and not self.pattern.fullmatch(value):
            errors.append(f"{path}: {value!r} does not match {self.pattern.pattern}")


def enum(*values: str) -> Str:
    return Str(enum=values)


class Int(Spec):
    def __init__(self, minimum: int | None = None, maximum: int | None = None, not_in: tuple[int, ...] = ()):
        self.minimum, self.maximum, self.not_in = minimum, maximum, not_in

    def check(self, value, path, errors):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{path}: must be an integer, is {type(value).__name__} {value!r}")
        elif self.minimum is not None and value < self.minimum:
            errors.append(f"{path}: {value} is below the minimum {self.minimum}")
        elif self.maximum is not None and value > self.maximum:
            errors.append(f"{path}: {value} is above the maximum {self.maximum}")
        elif value in self.not_in:
            errors.append(f"{path}: {value} is reserved")


class Bool(Spec):
    def check(self, value, path, errors):
        if not isinstance(value, bool):
            errors.append(f"{path}: must be a boolean, is {type(value).__name__} {value!r}")


QUANTITY = re.compile(r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")


class Quantity(Spec):
    """A Kubernetes quantity: an integer, or a string such as 250m or 4Gi."""

    def check(self, value, path, errors):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            errors.append(f"{path}: must be a quantity (integer or string), is {type(value).__name__}")
        elif isinstance(value, str) and not QUANTITY.match(value):
            errors.append(f"{path}: {value!r} is not a quantity")


class Any(Spec):
    """x-kubernetes-preserve-unknown-fields: anything of the given type goes."""

    def __init__(self, kind: type | tuple[type, ...] = dict):
        self.kind = kind

    def check(self, value, path, errors):
        if not isinstance(value, self.kind):
            errors.append(f"{path}: must be a {getattr(self.kind, '__name__', 'value')}, is {type(value).__name__}")


class Map(Spec):
    """An object with arbitrary keys whose values all follow one spec (additionalProperties)."""

    def __init__(self, values: Spec):
        self.values = values

    def check(self, value, path, errors):
        if not isinstance(value, dict):
            errors.append(f"{path}: must be an object, is {type(value).__name__}")
            return
        for key, item in value.items():
            self.values.check(item, f"{path}.{key}", errors)


class Arr(Spec):
    def __init__(self, items: Spec, min_items: int = 0):
        self.items, self.min_items = items, min_items

    def check(self, value, path, errors):
        if not isinstance(value, list):
            errors.append(f"{path}: must be a list, is {type(value).__name__}")
            return
        if len(value) < self.min_items:
            errors.append(f"{path}: needs at least {self.min_items} item(s)")
        for i, item in enumerate(value):
            self.items.check(item, f"{path}[{i}]", errors)


class Obj(Spec):
    """An object with known fields only: an unknown field is an error (the API server would
    prune it silently, which is how a typo'd field goes unnoticed)."""

    def __init__(self, fields: dict[str, Spec], required: tuple[str, ...] = ()):
        self.fields, self.required = fields, required

    def check(self, value, path, errors):
        if not isinstance(value, dict):
            errors.append(f"{path}: must be an object, is {type(value).__name__}")
            return
        for name in self.required:
            if name not in value:
                errors.append(f"{path}: required field {name!r} is missing")
        for name, item in value.items():
            spec = self.fields.get(name)
            if spec is None:
                known = ", ".join(sorted(self.fields))
                errors.append(f"{path}.{name}: unknown field (known here: {known})")
            elif item is not None:
                spec.check(item, f"{path}.{name}", errors)


# ---------------------------------------------------------------------------------------------
# The schemas, from Strimzi's API reference (kafka.strimzi.io/v1beta2) and the Prometheus
# Operator's (monitoring.coreos.com/v1), limited to the parts a Whistle manifest may use. A field
# not listed here is refused even where Strimzi has it: add it (from the reference) when a
# manifest needs it.

STRING = Str()
STRINGS = Arr(STRING)
LABELS = Map(STRING)
METADATA = Obj(
    {"name": Str(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"), "namespace": STRING, "labels": LABELS, "annotations": LABELS}, required=("name",)
)
RESOURCES = Obj({"requests": Map(Quantity()), "limits": Map(Quantity()), "claims": Arr(Obj({"name": STRING}))})
JVM_OPTIONS = Obj(
    {
        "-Xms": Str(r"[0-9]+[mMgG]?"),
        "-Xmx": Str(r"[0-9]+[mMgG]?"),
        "-XX": Map(STRING),
        "gcLoggingEnabled": Bool(),
        "javaSystemProperties": Arr(Obj({"name": STRING, "value": STRING})),
    }
)
SECRET_KEY_REF = Obj({"name": STRING, "key": STRING, "optional": Bool()})
CONFIG_MAP_KEY_REF = Obj({"name": STRING, "key": STRING, "optional": Bool()}, required=("name", "key"))
TEMPLATE = Any(dict)  # pod/podSet/service templates: Kubernetes types, passed through
PROBE = Obj({"initialDelaySeconds": Int(0), "timeoutSeconds": Int(1), "periodSeconds": Int(1), "successThreshold": Int(1), "failureThreshold": Int(1)})
LOGGING = Obj({"type": enum("inline", "external"), "loggers": Map(STRING), "valueFrom": Obj({"configMapKeyRef": CONFIG_MAP_KEY_REF})}, required=("type",))


def storage(jbod: bool) -> Obj:
    types = ("ephemeral", "persistent-claim", "jbod") if jbod else ("ephemeral", "persistent-claim")
    fields = {
        "type": enum(*types),
        "size": Str(r"[0-9]+(\.[0-9]+)?([KMGTPE]i?)?"),
        "sizeLimit": Str(r"([0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)"),
        "class": STRING,
        "deleteClaim": Bool(),
        "selector": Map(STRING),
        "id": Int(0),
        "kraftMetadata": enum("shared"),
        "overrides": Arr(Obj({"class": STRING, "broker": Int()})),
    }
    if jbod:
        fields["volumes"] = Arr(storage(False))
    return Obj(fields, required=("type",))


LISTENER = Obj(
    {
        "name": Str(r"[a-z0-9]{1,11}"),
        "port": Int(9092, not_in=(9404, 9999)),
        "type": enum("internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"),
        "tls": Bool(),
        "authentication": Obj(
            {"type": enum("tls", "scram-sha-512", "oauth", "custom"), "listenerConfig": Any(dict), "sasl": Bool(), "secrets": Any(list)},
            required=("type",),
        ),
        "configuration": Any(dict),
        "networkPolicyPeers": Any(list),
    },
    required=("name", "port", "type", "tls"),
)

KAFKA = Obj(
    {
        "kafka": Obj(
            {
                "version": STRING,
                "metadataVersion": STRING,
                "replicas": Int(1),
                "image": STRING,
                "listeners": Arr(LISTENER, min_items=1),
                "authorization": Obj(
                    {"type": enum("simple", "opa", "keycloak", "custom"), "superUsers": STRINGS}, required=("type",)
                ),
                "config": Any(dict),
                "storage": storage(True),
                "rack": Obj({"topologyKey": STRING}, required=("topologyKey",)),
                "resources": RESOURCES,
                "jvmOptions": JVM_OPTIONS,
                "metricsConfig": Obj(
                    {"type": enum("jmxPrometheusExporter"), "valueFrom": Obj({"configMapKeyRef": CONFIG_MAP_KEY_REF})},
                    required=("type", "valueFrom"),
                ),
                "logging": LOGGING,
                "livenessProbe": PROBE,
                "readinessProbe": PROBE,
                "template": TEMPLATE,
            },
            required=("listeners",),
        ),
        "entityOperator": Obj(
            {
                "topicOperator": Obj(
                    {"watchedNamespace": STRING, "image": STRING, "reconciliationIntervalMs": Int(0), "resources": RESOURCES, "logging": LOGGING, "jvmOptions": JVM_OPTIONS, "livenessProbe": PROBE, "readinessProbe": PROBE}
                ),
                "userOperator": Obj(
                    {"watchedNamespace": STRING, "image": STRING, "reconciliationIntervalMs": Int(0), "secretPrefix": STRING, "resources": RESOURCES, "logging": LOGGING, "jvmOptions": JVM_OPTIONS, "livenessProbe": PROBE, "readinessProbe": PROBE}
                ),
                "template": TEMPLATE,
            }
        ),
        "kafkaExporter": Obj(
            {
                "image": STRING,
                "groupRegex": STRING,
                "topicRegex": STRING,
                "groupExcludeRegex": STRING,
                "topicExcludeRegex": STRING,
                "resources": RESOURCES,
                "logging": STRING,
                "enableSaramaLogging": Bool(),
                "showAllOffsets": Bool(),
                "livenessProbe": PROBE,
                "readinessProbe": PROBE,
                "template": TEMPLATE,
            }
        ),
        "cruiseControl": Any(dict),
        "clusterCa": Any(dict),
        "clientsCa": Any(dict),
        "maintenanceTimeWindows": STRINGS,
    },
    required=("kafka",),
)

KAFKA_NODE_POOL = Obj(
    {
        "replicas": Int(0),
        "storage": storage(True),
        "roles": Arr(enum("controller", "broker"), min_items=1),
        "resources": RESOURCES,
        "jvmOptions": JVM_OPTIONS,
        "template": TEMPLATE,
    },
    required=("storage", "roles"),
)

KAFKA_TOPIC = Obj({"partitions": Int(1), "replicas": Int(1, 32767), "config": Any(dict), "topicName": STRING})

ACL = Obj(
    {
        "type": enum("allow", "deny"),
        "resource": Obj(
            {"type": enum("topic", "group", "cluster", "transactionalId"), "name": STRING, "patternType": enum("literal", "prefix")},
            required=("type",),
        ),
        "host": STRING,
        "operations": Arr(
            enum("Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction", "AlterConfigs", "DescribeConfigs", "IdempotentWrite", "All"),
            min_items=1,
        ),
    },
    required=("resource", "operations"),
)

KAFKA_USER = Obj(
    {
        "userName": STRING,
        "authentication": Obj(
            {"type": enum("tls", "tls-external", "scram-sha-512"), "password": Obj({"valueFrom": Obj({"secretKeyRef": SECRET_KEY_REF})}, required=("valueFrom",))},
            required=("type",),
        ),
        "authorization": Obj({"type": enum("simple"), "acls": Arr(ACL)}, required=("type", "acls")),
        "quotas": Obj({"producerByteRate": Int(0), "consumerByteRate": Int(0), "requestPercentage": Int(0), "controllerMutationRate": Any((int, float))}),
        "template": TEMPLATE,
    }
)

POD_MONITOR = Obj(
    {
        "selector": Obj({"matchLabels": LABELS, "matchExpressions": Arr(Obj({"key": STRING, "operator": enum("In", "NotIn", "Exists", "DoesNotExist"), "values": STRINGS}, required=("key", "operator")))}),
        "namespaceSelector": Obj({"any": Bool(), "matchNames": STRINGS}),
        "podMetricsEndpoints": Arr(
            Obj({"port": STRING, "path": STRING, "interval": Str(r"[0-9]+(ms|s|m|h)"), "scrapeTimeout": Str(r"[0-9]+(ms|s|m|h)"), "scheme": enum("http", "https")}),
            min_items=1,
        ),
        "jobLabel": STRING,
    },
    required=("selector",),
)

RULE = Obj(
    {"record": STRING, "alert": STRING, "expr": Any((str, int)), "for": Str(r"([0-9]+(ms|s|m|h|d|w|y))+"), "labels": LABELS, "annotations": LABELS},
    required=("expr",),
)
PROMETHEUS_RULE = Obj(
    {"groups": Arr(Obj({"name": STRING, "interval": STRING, "rules": Arr(RULE, min_items=1)}, required=("name", "rules")), min_items=1)},
    required=("groups",),
)

# kind -> (apiVersion, spec schema)
CUSTOM = {
    "Kafka": ("kafka.strimzi.io/v1beta2", KAFKA),
    "KafkaNodePool": ("kafka.strimzi.io/v1beta2", KAFKA_NODE_POOL),
    "KafkaTopic": ("kafka.strimzi.io/v1beta2", KAFKA_TOPIC),
    "KafkaUser": ("kafka.strimzi.io/v1beta2", KAFKA_USER),
    "PodMonitor": ("monitoring.coreos.com/v1", POD_MONITOR),
    "PrometheusRule": ("monitoring.coreos.com/v1", PROMETHEUS_RULE),
}


def load_all(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def name_of(doc: dict) -> str:
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


# ---------------------------------------------------------------------------------------------
# docs/architecture.md's topic table: the source of truth for the KafkaTopics.

DAY_MS = 24 * 60 * 60 * 1000


def documented_topics() -> dict[str, dict]:
    text = (ROOT / "docs/architecture.md").read_text(encoding="utf-8")
    section = text.split("## Topics", 1)[1].split("\n## ", 1)[0]
    topics = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or not cells[0].startswith("`"):
            continue
        name, _key, partitions, retention, compaction = cells[:5]
        if retention == "forever":
            retention_ms = -1
        else:
            m = re.fullmatch(r"(\d+) days?", retention)
            if not m:
                raise SystemExit(f"docs/architecture.md: cannot read the retention {retention!r} of {name}")
            retention_ms = int(m.group(1)) * DAY_MS
        compacted = compaction.replace("*", "").lower().startswith("yes")
        topics[name.strip("`")] = {
            "partitions": int(partitions),
            "retention.ms": retention_ms,
            "cleanup.policy": "compact" if compacted else "delete",
        }
    if not topics:
        raise SystemExit("docs/architecture.md: found no topic table under '## Topics'")
    return topics


def cross_checks(docs: list[dict], brokers: int | None) -> list[str]:
    errors: list[str] = []
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)
    clusters = {d["metadata"]["name"]: d for d in by_kind.get("Kafka", [])}
    if not clusters:
        return ["no Kafka resource in the output"]

    for cluster_name, kafka in clusters.items():
        annotations = kafka["metadata"].get("annotations") or {}
        for key in ("strimzi.io/kraft", "strimzi.io/node-pools"):
            if annotations.get(key) != "enabled":
                errors.append(f"Kafka/{cluster_name}: metadata.annotations[{key}] must be 'enabled'")
        if "zookeeper" in kafka.get("spec", {}):
            errors.append(f"Kafka/{cluster_name}: spec.zookeeper: KRaft clusters have no ZooKeeper")
        if "replicas" in kafka.get("spec", {}).get("kafka", {}):
            errors.append(f"Kafka/{cluster_name}: spec.kafka.replicas: with node pools the pools say how many")

    # Every resource that belongs to a cluster names an existing one.
    for kind in ("KafkaNodePool", "KafkaTopic", "KafkaUser"):
        for d in by_kind.get(kind, []):
            label = (d["metadata"].get("labels") or {}).get("strimzi.io/cluster")
            if label not in clusters:
                errors.append(f"{name_of(d)}: metadata.labels[strimzi.io/cluster] is {label!r}, not a Kafka in the output ({', '.join(clusters)})")

    pools = by_kind.get("KafkaNodePool", [])
    broker_count = sum(p["spec"].get("replicas", 0) for p in pools if "broker" in p["spec"].get("roles", []))
    controller_count = sum(p["spec"].get("replicas", 0) for p in pools if "controller" in p["spec"].get("roles", []))
    if broker_count < 1:
        errors.append("KafkaNodePool: no pool with the broker role and replicas >= 1")
    if controller_count < 1:
        errors.append("KafkaNodePool: no pool with the controller role and replicas >= 1")
    elif controller_count % 2 == 0:
        errors.append(f"KafkaNodePool: {controller_count} controllers; a KRaft quorum needs an odd number")
    if brokers is not None and broker_count != brokers:
        errors.append(f"KafkaNodePool: {broker_count} broker(s), this overlay must have {brokers}")

    for cluster_name, kafka in clusters.items():
        config = kafka["spec"]["kafka"].get("config") or {}
        for key in ("default.replication.factor", "offsets.topic.replication.factor", "transaction.state.log.replication.factor"):
            if int(config.get(key, 1)) > broker_count:
                errors.append(f"Kafka/{cluster_name}: spec.kafka.config[{key}] = {config[key]} exceeds the {broker_count} broker(s)")
        rf = int(config.get("default.replication.factor", 1))
        if int(config.get("min.insync.replicas", 1)) > rf:
            errors.append(f"Kafka/{cluster_name}: spec.kafka.config[min.insync.replicas] exceeds default.replication.factor")
        if int(config.get("transaction.state.log.min.isr", 1)) > int(config.get("transaction.state.log.replication.factor", 1)):
            errors.append(f"Kafka/{cluster_name}: transaction.state.log.min.isr exceeds transaction.state.log.replication.factor")

    # The topics, exactly as documented.
    wanted = documented_topics()
    seen = {}
    for t in by_kind.get("KafkaTopic", []):
        topic = t["spec"].get("topicName") or t["metadata"]["name"]
        seen[topic] = t
        if topic not in wanted:
            errors.append(f"{name_of(t)}: topic {topic} is not in docs/architecture.md's topic table")
            continue
        spec, config = t["spec"], t["spec"].get("config") or {}
        want = wanted[topic]
        if spec.get("partitions") != want["partitions"]:
            errors.append(f"{name_of(t)}: spec.partitions is {spec.get('partitions')}, docs/architecture.md says {want['partitions']}")
        for key in ("retention.ms", "cleanup.policy"):
            have = config.get(key)
            if key == "retention.ms" and have is not None:
                have = int(have)
            if have != want[key]:
                errors.append(f"{name_of(t)}: spec.config[{key}] is {have!r}, docs/architecture.md says {want[key]!r}")
        if spec.get("replicas", 1) > broker_count:
            errors.append(f"{name_of(t)}: spec.replicas {spec.get('replicas')} exceeds the {broker_count} broker(s)")
    for topic in sorted(set(wanted) - set(seen)):
        errors.append(f"KafkaTopic: no resource for {topic} (listed in docs/architecture.md)")

    # ACLs name documented topics.
    for u in by_kind.get("KafkaUser", []):
        for i, acl in enumerate(((u["spec"].get("authorization") or {}).get("acls") or [])):
            res = acl.get("resource") or {}
            if res.get("type") == "topic" and res.get("patternType", "literal") == "literal" and res.get("name") not in wanted:
                errors.append(f"{name_of(u)}: spec.authorization.acls[{i}] names topic {res.get('name')!r}, which is not a Whistle topic")
    return errors


def cmd_crs(args) -> int:
    docs = load_all(Path(args.file))
    errors: list[str] = []
    counts: dict[str, int] = {}
    for d in docs:
        kind = d.get("kind")
        if kind not in CUSTOM:
            continue
        counts[kind] = counts.get(kind, 0) + 1
        api_version, spec = CUSTOM[kind]
        where = name_of(d)
        if d.get("apiVersion") != api_version:
            errors.append(f"{where}: apiVersion is {d.get('apiVersion')!r}, expected {api_version}")
        Obj({"apiVersion": STRING, "kind": STRING, "metadata": METADATA, "spec": spec}, required=("apiVersion", "kind", "metadata", "spec")).check(d, where, errors)
    if not errors:
        errors.extend(cross_checks(docs, args.brokers))
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    if errors:
        for e in errors:
            print(f"  FAIL {e}")
        print(f"custom resources: {len(errors)} problem(s) in {args.file} ({summary})")
        return 1
    print(f"custom resources: ok ({summary})")
    return 0


# ---------------------------------------------------------------------------------------------
# WHISTLE_* variables against the services' settings structs.

# Each service binary and the files its settings structs are in (its own first). Every binary
# (services/<crate>/src/main.rs) must be listed: `env` fails on one that is not, so a new service
# cannot go unchecked.
SERVICE_SETTINGS = {
    "whistle-intake": ("services/intake/src/settings.rs", "services/attachments/src/settings.rs"),
    "whistle-router": ("services/router/src/settings.rs",),
    "whistle-gateway": ("services/gateway/src/settings.rs",),
    "whistle-sla": ("services/sla/src/settings.rs",),
    "whistle-registry": ("services/registry/src/service/settings.rs",),
    "whistle-ledger": ("services/ledger/src/settings.rs",),
    "whistle-notify": ("services/notify/src/settings.rs",),
}
COMMON_SETTINGS = ("services/common/src/settings.rs", "services/common/src/ratelimit.rs")


def service_binaries() -> list[str]:
    """whistle-<crate> for every services/<crate>/src/main.rs."""
    return sorted(f"whistle-{m.parent.parent.name}" for m in (ROOT / "services").glob("*/src/main.rs"))
# Settings a manifest may set ahead of the code (another change adds them): reported, not
# failed, while the struct lacks them. Empty: every variable the manifests set exists.
PENDING: set[tuple[str, str]] = set()
STRUCT = re.compile(r"pub struct (\w+)\s*\{(.*?)\n\}", re.S)
FIELD = re.compile(r"^\s*pub (\w+):\s*([\w:<>]+)", re.M)


def structs(paths) -> dict[str, dict[str, str]]:
    found = {}
    for p in paths:
        for name, body in STRUCT.findall((ROOT / p).read_text(encoding="utf-8")):
            found.setdefault(name, {f: t for f, t in FIELD.findall(body)})
    return found


def not_settings() -> list[str]:
    text = (ROOT / "services/common/src/settings.rs").read_text(encoding="utf-8")
    block = text.split("pub const NOT_SETTINGS", 1)[1].split("];", 1)[0]
    return re.findall(r'"(WHISTLE_[A-Z0-9_*]+)"', block)


def check_variable(service: str, name: str, known: dict[str, dict[str, str]], exempt: list[str]) -> tuple[str, str] | None:
    """None when fine; else ("fail" | "pending", message)."""
    if any(name == e or (e.endswith("*") and name.startswith(e[:-1])) for e in exempt):
        return None
    settings = known["Settings"]
    parts = name[len("WHISTLE_"):].lower().split("__")
    if parts[0] not in settings:
        return ("fail", f"{name} names no setting of {service} (its settings: {', '.join(sorted(settings))})")
    fields, path = settings, []
    for part in parts:
        type_name = fields.get(part, "").split("<")[-1].rstrip(">").split("::")[-1]
        if part not in fields:
            if (path[-1] if path else "", part) in PENDING:
                return ("pending", f"{name}: {'.'.join(path + [part])} is not in {service}'s settings yet (support is being added)")
            return ("fail", f"{name}: {'.'.join(path)} has no key {part} ({', '.join(sorted(fields))})")
        path.append(part)
        fields = known.get(type_name)
        if fields is None:
            if part != parts[-1]:
                return ("fail", f"{name}: {'.'.join(path)} is a value, not a section")
            break
    else:
        if fields is not None:
            return ("fail", f"{name}: {'.'.join(path)} is a section; name one of its keys")
    return None


def containers_env(doc: dict):
    """(service, [variable names]) for each container of a workload that runs a Whistle binary."""
    spec = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        command = " ".join(c.get("command") or [])
        for service in SERVICE_SETTINGS:
            if command.endswith("/" + service) or command == service:
                yield f"{name_of(doc)} ({service})", service, [e["name"] for e in c.get("env") or []]


def compose_env(doc: dict):
    for svc_name, svc in (doc.get("services") or {}).items():
        command = svc.get("command") or svc.get("entrypoint") or ""
        command = " ".join(command) if isinstance(command, list) else str(command)
        for service in SERVICE_SETTINGS:
            if command.split(" ")[0].endswith(service):
                env = svc.get("environment") or {}
                names = list(env) if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
                yield f"compose service {svc_name} ({service})", service, names


def cmd_env(args) -> int:
    exempt = not_settings()
    known = {s: structs([*paths, *COMMON_SETTINGS]) for s, paths in SERVICE_SETTINGS.items()}
    failures, pending, checked = [], set(), 0
    for binary in sorted(set(service_binaries()) - set(SERVICE_SETTINGS)):
        failures.append(f"{binary}: a service binary that SERVICE_SETTINGS (check.py) does not list: its variables would go unchecked")
    for file in args.files:
        for doc in load_all(Path(file)):
            found = compose_env(doc) if "services" in doc and "kind" not in doc else containers_env(doc)
            for where, service, names in found:
                for name in names:
                    if not name.startswith("WHISTLE_"):
                        continue
                    checked += 1
                    problem = check_variable(service, name, known[service], exempt)
                    if problem and problem[0] == "fail":
                        failures.append(f"{where}: {problem[1]}")
                    elif problem:
                        pending.add(problem[1].split(":")[0])
    for f in failures:
        print(f"  FAIL {f}")
    if pending:
        print(f"  NOTE set ahead of the code: {', '.join(sorted(pending))}")
    if failures:
        print(f"service settings: {len(failures)} variable(s) that name no setting")
        return 1
    if checked == 0:
        print("service settings: no WHISTLE_* variable found; nothing was checked")
        return 1
    print(f"service settings: ok ({checked} WHISTLE_* variables in {len(args.files)} file(s))")
    return 0


# ---------------------------------------------------------------------------------------------
# The service workloads: what every Deployment or StatefulSet that runs a Whistle binary must
# have, and what its KafkaUser must allow, read from the services' code.

# What a service does with Kafka, read from its crate's source (services/<crate>/src/**/*.rs).
SUBSCRIBE = re.compile(r"\.subscribe\(&\[&settings\.kafka\.topics\.(\w+)\]")
GROUP_DEFAULT = re.compile(r'group_id:\s*"([^"]+)"\.to_owned\(\)')
# whistle_registry::live: the registry copy's consumer group (services/registry/src/live.rs).
REGISTRY_COPY_GROUP = re.compile(r'"group\.id",\s*format!\("([-a-z]+)\{')
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN")


def crate_of(service: str) -> Path:
    return ROOT / "services" / service.removeprefix("whistle-") / "src"


def crate_text(service: str) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(crate_of(service).rglob("*.rs")))


def default_topics() -> dict[str, str]:
    """The `Topics` defaults of whistle_common::settings: field -> topic name."""
    text = (ROOT / "services/common/src/settings.rs").read_text(encoding="utf-8")
    block = text.split("impl Default for Topics", 1)[1].split("\n}", 1)[0]
    return dict(re.findall(r'(\w+):\s*"([^"]+)"\.to_owned\(\)', block))


def kafka_needs(service: str, group: str | None) -> list[tuple[str, str, str, str]]:
    """(resource type, name, pattern, operation) the service's code needs: Read on what it
    subscribes to and on its group, Write on the dead letters it sends, Read on the registry
    topic and the copy's group prefix for a live registry copy, Create on every standard topic
    for ensure_topics."""
    text, topics = crate_text(service), default_topics()
    needs = []
    for field in sorted(set(SUBSCRIBE.findall(text))):
        needs.append(("topic", topics[field], "literal", "Read"))
    if SUBSCRIBE.search(text):
        if not group:
            raise SystemExit(f"{service}: subscribes to a topic but has no group_id")
        needs.append(("group", group, "literal", "Read"))
    if "DeadLetters::new(" in text:
        needs.append(("topic", topics["deadletter"], "literal", "Write"))
    if "live::catch_up(" in text:
        live = (ROOT / "services/registry/src/live.rs").read_text(encoding="utf-8")
        m = REGISTRY_COPY_GROUP.search(live)
        if not m:
            raise SystemExit("services/registry/src/live.rs: cannot read the registry copy's group id")
        needs.append(("topic", topics["registry"], "literal", "Read"))
        needs.append(("group", m.group(1), "prefix", "Read"))
    if re.search(r"ensure_topics\(&settings\.kafka,\s*&kafka::standard_topics", text):
        needs.extend(("topic", name, "literal", "Create") for name in sorted(topics.values()))
    return needs


def acl_allows(acls: list[dict], kind: str, name: str, pattern: str, operation: str) -> bool:
    """Whether an allow ACL covers `operation` on the resource (for a prefix need: every name
    with that prefix). Read and Write imply Describe, as in Kafka."""
    for acl in acls:
        res = acl.get("resource") or {}
        if acl.get("type", "allow") != "allow" or res.get("type") != kind:
            continue
        acl_name, acl_pattern = res.get("name", ""), res.get("patternType", "literal")
        if acl_pattern == "literal":
            covers = pattern == "literal" and acl_name == name
        else:
            covers = name.startswith(acl_name)
        ops = set(acl.get("operations") or [])
        if operation == "Describe":
            ops |= {"Describe"} if ops & {"Read", "Write"} else set()
        if covers and (operation in ops or "All" in ops):
            return True
    return False


def pod_monitor_names(docs: list[dict]) -> set[str]:
    names = set()
    for pm in (d for d in docs if d.get("kind") == "PodMonitor"):
        selector = pm["spec"].get("selector") or {}
        names |= {v for k, v in (selector.get("matchLabels") or {}).items() if k == "app.kubernetes.io/name"}
        for e in selector.get("matchExpressions") or []:
            if e.get("key") == "app.kubernetes.io/name" and e.get("operator") == "In":
                names |= set(e.get("values") or [])
    return names


def check_workload(doc: dict, c: dict, service: str, users: dict[str, dict], monitored: set[str]) -> list[str]:
    where = f"{name_of(doc)} ({service})"
    errors = []
    template = doc["spec"]["template"]
    pod = template.get("spec") or {}
    env = {e["name"]: e for e in c.get("env") or []}
    port = str((env.get("WHISTLE_HTTP__PORT") or {}).get("value", ""))
    if not port:
        errors.append(f"{where}: no literal WHISTLE_HTTP__PORT (the listener the probes must reach)")
    ports = {p.get("name"): str(p.get("containerPort")) for p in c.get("ports") or []}
    # Probes: /healthz for start-up and liveness, /readyz for readiness, on the service's port
    # (services/common/src/admin.rs).
    for probe, path in (("startupProbe", "/healthz"), ("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        http = (c.get(probe) or {}).get("httpGet")
        if not http:
            errors.append(f"{where}: no {probe} with httpGet {path}")
            continue
        if http.get("path") != path:
            errors.append(f"{where}: {probe} asks {http.get('path')}, not {path}")
        target = str(http.get("port"))
        if ports.get(target, target) != port:
            errors.append(f"{where}: {probe} port {target} is not the service's WHISTLE_HTTP__PORT {port}")
    # Requests and limits of CPU and memory (each manifest says where its figures come from).
    resources = c.get("resources") or {}
    for part in ("requests", "limits"):
        for res in ("cpu", "memory"):
            if res not in (resources.get(part) or {}):
                errors.append(f"{where}: resources.{part}.{res} is not set")
    # Unprivileged, read-only root.
    if not (pod.get("securityContext") or {}).get("runAsNonRoot"):
        errors.append(f"{where}: the pod's securityContext.runAsNonRoot is not true")
    sc = c.get("securityContext") or {}
    if sc.get("readOnlyRootFilesystem") is not True or sc.get("allowPrivilegeEscalation") is not False:
        errors.append(f"{where}: the container needs readOnlyRootFilesystem: true and allowPrivilegeEscalation: false")
    # Secrets come from Secrets: no literal password, secret or token, and the database URL
    # (which carries a password) only through a secretKeyRef.
    for name, e in env.items():
        if (SECRET_NAME.search(name) or name == "WHISTLE_DATABASE__URL") and "secretKeyRef" not in (e.get("valueFrom") or {}):
            errors.append(f"{where}: {name} must come from a Secret (valueFrom.secretKeyRef), not a literal or a ConfigMap")
    # Scraped: the PodMonitor selects it, and the annotations name its port.
    app = (template.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/name")
    if app not in monitored:
        errors.append(f"{where}: its pods (app.kubernetes.io/name={app}) are not selected by a PodMonitor")
    annotations = template.get("metadata", {}).get("annotations") or {}
    if annotations.get("prometheus.io/scrape") != "true" or str(annotations.get("prometheus.io/port")) != port:
        errors.append(f"{where}: prometheus.io/scrape and prometheus.io/port {port} annotations are missing or wrong")
    # Kafka: logs in as its KafkaUser, whose ACLs allow what the code does.
    user = (env.get("WHISTLE_KAFKA__SASL_USERNAME") or {}).get("value")
    if (env.get("WHISTLE_KAFKA__SECURITY_PROTOCOL") or {}).get("value", "plaintext").startswith("sasl") is False or not user:
        errors.append(f"{where}: does not log in to Kafka (WHISTLE_KAFKA__SECURITY_PROTOCOL=sasl_*, WHISTLE_KAFKA__SASL_USERNAME)")
        return errors
    if user not in users:
        errors.append(f"{where}: logs in as {user}, and there is no KafkaUser {user}")
        return errors
    password = ((env.get("WHISTLE_KAFKA__SASL_PASSWORD") or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
    if password.get("name") != user or password.get("key") != "password":
        errors.append(f"{where}: WHISTLE_KAFKA__SASL_PASSWORD is not the User Operator's Secret {user}, key password")
    settings_text = (ROOT / SERVICE_SETTINGS[service][0]).read_text(encoding="utf-8")
    default_group = GROUP_DEFAULT.search(settings_text)
    group = (env.get("WHISTLE_GROUP_ID") or {}).get("value") or (default_group.group(1) if default_group else None)
    acls = ((users[user].get("spec") or {}).get("authorization") or {}).get("acls") or []
    for kind, name, pattern, op in kafka_needs(service, group):
        if not acl_allows(acls, kind, name, pattern, op):
            shown = f"{name}*" if pattern == "prefix" else name
            errors.append(f"{where}: KafkaUser/{user} does not allow {op} on {kind} {shown} (the code needs it)")
    return errors


def cmd_workloads(args) -> int:
    docs = load_all(Path(args.file))
    users = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "KafkaUser"}
    monitored = pod_monitor_names(docs)
    errors: list[str] = []
    seen: dict[str, int] = {}
    for doc in docs:
        if doc.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        for c in (doc["spec"]["template"].get("spec") or {}).get("containers", []):
            command = " ".join(c.get("command") or [])
            for service in SERVICE_SETTINGS:
                if command.endswith("/" + service) or command == service:
                    seen[service] = seen.get(service, 0) + 1
                    errors.extend(check_workload(doc, c, service, users, monitored))
    for service in service_binaries():
        if service not in seen:
            errors.append(f"{service}: no Deployment or StatefulSet runs it")
    for e in errors:
        print(f"  FAIL {e}")
    if errors:
        print(f"workloads: {len(errors)} problem(s) in {args.file}")
        return 1
    print(f"workloads: ok ({', '.join(f'{s} x{n}' for s, n in sorted(seen.items()))}: probes, resources, security, "
          f"secrets, scraping, KafkaUser ACLs for what each service's code does)")
    return 0


# ---------------------------------------------------------------------------------------------
# deploy/compose/compose.yaml: the same promises, in compose's terms.

COMPOSE_RAW = ROOT / "deploy/compose/compose.yaml"
COMPOSE_PROMETHEUS = ROOT / "deploy/compose/prometheus.yml"


def cmd_compose(args) -> int:
    rendered = load_all(Path(args.file))[0]["services"]
    with COMPOSE_RAW.open(encoding="utf-8") as f:
        raw = yaml.safe_load(f)["services"]
    scraped = set()
    for job in yaml.safe_load(COMPOSE_PROMETHEUS.read_text(encoding="utf-8")).get("scrape_configs") or []:
        for sc in job.get("static_configs") or []:
            scraped |= set(sc.get("targets") or [])
    errors, seen = [], {}
    for name, svc in rendered.items():
        command = svc.get("command") or []
        command = command if isinstance(command, list) else str(command).split()
        service = next((s for s in SERVICE_SETTINGS if command and command[0].endswith(s)), None)
        if not service:
            continue
        seen[service] = name
        where = f"compose service {name} ({service})"
        env = svc.get("environment") or {}
        port = str(env.get("WHISTLE_HTTP__PORT", ""))
        if not svc.get("healthcheck") or str(env.get("PORT", "")) != port:
            errors.append(f"{where}: needs the /readyz healthcheck, with PORT equal to WHISTLE_HTTP__PORT ({port})")
        if f"{name}:{port}" not in scraped:
            errors.append(f"{where}: deploy/compose/prometheus.yml does not scrape {name}:{port}")
        depends = svc.get("depends_on") or {}
        wanted = {"kafka": "WHISTLE_KAFKA__BROKERS", "redis": "WHISTLE_REDIS__URL", "postgres": "WHISTLE_DATABASE__URL"}
        for dep, variable in wanted.items():
            if variable in env and f"@{dep}:" not in str(env[variable]) and not str(env[variable]).startswith(f"{dep}:"):
                errors.append(f"{where}: {variable} does not name the compose service {dep}")
            if variable in env and (depends.get(dep) or {}).get("condition") != "service_healthy":
                errors.append(f"{where}: sets {variable} but does not depend on {dep} with condition service_healthy")
        raw_env = (raw.get(name) or {}).get("environment") or {}
        for variable, value in raw_env.items():
            if (SECRET_NAME.search(variable) or variable == "WHISTLE_DATABASE__URL") and "${" not in str(value):
                errors.append(f"{where}: {variable} is a literal in compose.yaml; take it from deploy/compose/.env (${{...}})")
    for service in service_binaries():
        if service not in seen:
            errors.append(f"{service}: no compose service runs it")
    for e in errors:
        print(f"  FAIL {e}")
    if errors:
        print(f"compose: {len(errors)} problem(s)")
        return 1
    print(f"compose: ok ({len(seen)} services: healthchecks, Prometheus targets, healthy dependencies, secrets from .env)")
    return 0


# ---------------------------------------------------------------------------------------------
# The PrometheusRule made from deploy/prometheus/rules.yml.

RULES_HEADER = """\
# GENERATED from deploy/prometheus/rules.yml by `deploy/dev/validate-deploy.sh sync-rules`; do
# not edit (validate-deploy.sh fails when the two differ). kustomize cannot read a file outside
# deploy/kubernetes without --load-restrictor, so the rules are copied here.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: whistle
spec:
"""


def rendered_rules() -> str:
    lines = RULES_SRC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("groups:"))
    return RULES_HEADER + "\n".join(("  " + l) if l else "" for l in lines[start:]) + "\n"


def cmd_rules(_args) -> int:
    if not RULES_CR.exists() or RULES_CR.read_text(encoding="utf-8") != rendered_rules():
        print(f"prometheus rules: {RULES_CR.relative_to(ROOT)} differs from {RULES_SRC.relative_to(ROOT)}; run deploy/dev/validate-deploy.sh sync-rules")
        return 1
    cr = yaml.safe_load(RULES_CR.read_text(encoding="utf-8"))
    if cr["spec"] != yaml.safe_load(RULES_SRC.read_text(encoding="utf-8")):
        print("prometheus rules: the PrometheusRule's spec does not parse to rules.yml")
        return 1
    print(f"prometheus rules: ok ({RULES_CR.relative_to(ROOT)} is {RULES_SRC.relative_to(ROOT)})")
    return 0


def cmd_sync_rules(_args) -> int:
    RULES_CR.write_text(rendered_rules(), encoding="utf-8")
    print(f"wrote {RULES_CR.relative_to(ROOT)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("crs")
    p.add_argument("file")
    p.add_argument("--brokers", type=int)
    p.set_defaults(run=cmd_crs)
    p = sub.add_parser("env")
    p.add_argument("files", nargs="+")
    p.set_defaults(run=cmd_env)
    p = sub.add_parser("workloads")
    p.add_argument("file")
    p.set_defaults(run=cmd_workloads)
    p = sub.add_parser("compose")
    p.add_argument("file")
    p.set_defaults(run=cmd_compose)
    sub.add_parser("rules").set_defaults(run=cmd_rules)
    sub.add_parser("sync-rules").set_defaults(run=cmd_sync_rules)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
