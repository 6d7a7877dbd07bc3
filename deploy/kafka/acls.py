"""The dev broker's ACLs, read from the Kubernetes overlay's KafkaUsers.

usage: acls.py {print|sync} USERS_YAML
  print  the ACLs USERS_YAML grants, one per line (principal, resource type, pattern, name,
         operation), plus the tests' own user; no broker needed
  sync   make the broker's ACLs exactly those: create the missing ones, delete any other
         (deploy/dev/kafka.sh runs it as admin after every start)

Environment for sync: WHISTLE_KAFKA_BOOTSTRAP (host:port), WHISTLE_KAFKA_ADMIN_PASSWORD (admin's
SCRAM-SHA-512 password; admin is the broker's super user and needs no ACL).

One list for both deployments: deploy/kubernetes/base/kafka/users.yaml is what Strimzi's User
Operator turns into ACLs there (authorization type simple), and what this script turns into ACLs
here, so a too-narrow ACL shows in the dev stack and the fault suite first.
"""

import sys

import yaml
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

RESOURCE_TYPES = {
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
    "transactionalId": ResourceType.TRANSACTIONAL_ID,
    "cluster": ResourceType.BROKER,
}
PATTERNS = {"literal": ResourcePatternType.LITERAL, "prefix": ResourcePatternType.PREFIXED}
OPERATIONS = {
    "All": AclOperation.ALL,
    "Read": AclOperation.READ,
    "Write": AclOperation.WRITE,
    "Create": AclOperation.CREATE,
    "Delete": AclOperation.DELETE,
    "Alter": AclOperation.ALTER,
    "Describe": AclOperation.DESCRIBE,
    "ClusterAction": AclOperation.CLUSTER_ACTION,
    "DescribeConfigs": AclOperation.DESCRIBE_CONFIGS,
    "AlterConfigs": AclOperation.ALTER_CONFIGS,
    "IdempotentWrite": AclOperation.IDEMPOTENT_WRITE,
}

# The tests' own client (whistle-test): they create, read and delete topics, groups and
# transactional ids of random names (test-<uuid>...) and list the groups, so it may do anything
# on every resource. It exists in the dev stack only; no service logs in as it.
TEST_USER = "whistle-test"
TEST_GRANTS = [("topic", "*"), ("group", "*"), ("transactionalId", "*"), ("cluster", "kafka-cluster")]


def fail(message):
    sys.exit(f"kafka acls: {message}")


def desired(users_yaml):
    """(principal, resource type, pattern, name, operation) for every ACL USERS_YAML grants."""
    acls = set()
    with open(users_yaml, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for doc in docs:
        if doc.get("kind") != "KafkaUser":
            continue
        user = doc["metadata"]["name"]
        auth = (doc.get("spec") or {}).get("authorization") or {}
        if auth.get("type") != "simple":
            fail(f"{users_yaml}: KafkaUser {user}: authorization type {auth.get('type')!r}, expected 'simple'")
        for i, acl in enumerate(auth.get("acls") or []):
            where = f"{users_yaml}: KafkaUser {user}, acl {i + 1}"
            resource = acl.get("resource") or {}
            rtype = resource.get("type")
            if rtype not in RESOURCE_TYPES:
                fail(f"{where}: resource type {rtype!r} is not one of {sorted(RESOURCE_TYPES)}")
            name = "kafka-cluster" if rtype == "cluster" else resource.get("name")
            if not name:
                fail(f"{where}: the {rtype} resource has no name")
            pattern = resource.get("patternType", "literal")
            if pattern not in PATTERNS:
                fail(f"{where}: patternType {pattern!r} is not one of {sorted(PATTERNS)}")
            if acl.get("type", "allow") != "allow" or acl.get("host", "*") != "*":
                fail(f"{where}: only allow rules for every host are read here")
            ops = acl.get("operations") or ([acl["operation"]] if "operation" in acl else [])
            if not ops:
                fail(f"{where}: no operations")
            for op in ops:
                if op not in OPERATIONS:
                    fail(f"{where}: operation {op!r} is not one of {sorted(OPERATIONS)}")
                acls.add((f"User:{user}", rtype, pattern, name, op))
    if not acls:
        fail(f"{users_yaml}: no KafkaUser grants anything")
    for rtype, name in TEST_GRANTS:
        acls.add((f"User:{TEST_USER}", rtype, "literal", name, "All"))
    return acls


def binding(acl):
    principal, rtype, pattern, name, op = acl
    return AclBinding(
        RESOURCE_TYPES[rtype], name, PATTERNS[pattern], principal, "*", OPERATIONS[op], AclPermissionType.ALLOW
    )


def key(b):
    """The same 5-tuple for an ACL the broker holds (None for one this script cannot write)."""
    rtypes = {v: k for k, v in RESOURCE_TYPES.items()}
    patterns = {v: k for k, v in PATTERNS.items()}
    ops = {v: k for k, v in OPERATIONS.items()}
    if (
        b.restype not in rtypes
        or b.resource_pattern_type not in patterns
        or b.operation not in ops
        or b.host != "*"
        or b.permission_type != AclPermissionType.ALLOW
    ):
        return None
    return (b.principal, rtypes[b.restype], patterns[b.resource_pattern_type], b.name, ops[b.operation])


def sync(want):
    import os

    bootstrap = os.environ.get("WHISTLE_KAFKA_BOOTSTRAP") or fail("WHISTLE_KAFKA_BOOTSTRAP is not set")
    password = os.environ.get("WHISTLE_KAFKA_ADMIN_PASSWORD") or fail("WHISTLE_KAFKA_ADMIN_PASSWORD is not set")
    admin = AdminClient(
        {
            "bootstrap.servers": bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "admin",
            "sasl.password": password,
        }
    )
    everything = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY
    )
    try:
        held = admin.describe_acls(everything, request_timeout=30).result()
    except Exception as e:  # noqa: BLE001 - one clear line for the dev script's log
        fail(f"describing the broker's ACLs on {bootstrap} failed: {e}")
    have = {}
    for b in held:
        have[key(b) or b] = b
    extra = [b for k, b in have.items() if k not in want]
    missing = [binding(a) for a in sorted(want - set(have))]
    if extra:
        filters = [
            AclBindingFilter(
                b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation, b.permission_type
            )
            for b in extra
        ]
        for f, fut in admin.delete_acls(filters, request_timeout=30).items():
            try:
                fut.result()
            except Exception as e:  # noqa: BLE001
                fail(f"deleting {f} failed: {e}")
    if missing:
        for b, fut in admin.create_acls(missing, request_timeout=30).items():
            try:
                fut.result()
            except Exception as e:  # noqa: BLE001
                fail(f"creating {b} failed: {e}")
    print(f"kafka acls: {len(want)} ACLs for {len({a[0] for a in want})} users ({len(missing)} added, {len(extra)} removed)")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("print", "sync"):
        sys.exit(__doc__.split("\n\n")[1])
    want = desired(sys.argv[2])
    if sys.argv[1] == "print":
        for a in sorted(want):
            print(" ".join(a))
    else:
        sync(want)


if __name__ == "__main__":
    main()
