#!/bin/sh
# Init container of the Redis data pods (redis.yaml): writes /conf/redis.conf for this pod.
#
# The primary is whoever the sentinels say it is. Only when no sentinel knows the master yet (a
# fresh install) is pod 0 the primary and every other pod its replica. The password comes from
# the environment (the whistle-redis Secret), so it is never in a ConfigMap.
set -eu

: "${REDIS_PASSWORD:?the whistle-redis Secret must set key password}"
: "${REDIS_MAXMEMORY:?}"
: "${SENTINELS:?}"
: "${MASTER_NAME:?}"
SELF="$(hostname).whistle-redis-headless"

cat >/conf/redis.conf <<CONF
# Written by redis-init.sh at pod start; the same durability and memory bounds as
# deploy/dev/redis.sh.
port 6379
protected-mode no
dir /data
appendonly yes
appendfsync everysec
appenddirname "appendonlydir"
save 3600 1 300 100 60 10000
maxmemory ${REDIS_MAXMEMORY}
maxmemory-policy noeviction
client-output-buffer-limit normal 256mb 64mb 60
requirepass "${REDIS_PASSWORD}"
masterauth "${REDIS_PASSWORD}"
# Sentinel and the other pods know this pod by its stable DNS name, not its IP.
replica-announce-ip ${SELF}
CONF
chmod 600 /conf/redis.conf

master=""
for sentinel in $(echo "$SENTINELS" | tr ',' ' '); do
  host=${sentinel%:*} port=${sentinel##*:}
  master=$(REDISCLI_AUTH=$REDIS_PASSWORD timeout 3 redis-cli --no-auth-warning -h "$host" -p "$port" --raw sentinel get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -n 1 || true)
  if [ -n "$master" ]; then
    echo "redis-init: sentinel $sentinel names $master as the primary"
    break
  fi
done
if [ -z "$master" ]; then
  master="whistle-redis-0.whistle-redis-headless"
  echo "redis-init: no sentinel knows $MASTER_NAME yet; $master is the primary"
fi
if [ "$master" != "$SELF" ]; then
  echo "replicaof $master 6379" >>/conf/redis.conf
  echo "redis-init: $SELF starts as a replica of $master"
else
  echo "redis-init: $SELF starts as the primary"
fi
