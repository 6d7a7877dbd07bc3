#!/bin/sh
# Init container of the sentinels (sentinel.yaml): writes /conf/sentinel.conf, which Sentinel
# then rewrites as it learns the replicas and the other sentinels (so it lives in a writable
# volume, not in the ConfigMap).
#
# A sentinel that starts while others run asks them for the current primary; only on a fresh
# install (no sentinel answers) is data pod 0 the primary.
set -eu

: "${REDIS_PASSWORD:?the whistle-redis Secret must set key password}"
: "${SENTINELS:?}"
: "${MASTER_NAME:?}"
SELF="$(hostname).whistle-redis-sentinel"

master=""
for sentinel in $(echo "$SENTINELS" | tr ',' ' '); do
  host=${sentinel%:*} port=${sentinel##*:}
  [ "$host" = "$SELF" ] && continue
  master=$(REDISCLI_AUTH=$REDIS_PASSWORD timeout 3 redis-cli --no-auth-warning -h "$host" -p "$port" --raw sentinel get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -n 1 || true)
  [ -n "$master" ] && break
done
[ -n "$master" ] || master="whistle-redis-0.whistle-redis-headless"
echo "sentinel-init: monitoring $master as $MASTER_NAME"

cat >/conf/sentinel.conf <<CONF
port 26379
protected-mode no
dir /tmp
# Pods are known by their stable DNS names: IPs change on every restart.
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip ${SELF}
# Quorum 2 of the 3 sentinels to declare the primary down and fail over.
sentinel monitor ${MASTER_NAME} ${master} 6379 2
sentinel auth-pass ${MASTER_NAME} ${REDIS_PASSWORD}
# The sentinels take a password too: clients and the other sentinels give the Redis password.
requirepass ${REDIS_PASSWORD}
sentinel sentinel-pass ${REDIS_PASSWORD}
sentinel down-after-milliseconds ${MASTER_NAME} 5000
sentinel failover-timeout ${MASTER_NAME} 60000
sentinel parallel-syncs ${MASTER_NAME} 1
CONF
chmod 600 /conf/sentinel.conf
