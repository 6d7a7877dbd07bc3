#!/bin/sh
# Whistle's databases in a fresh PostgreSQL cluster of the official `postgres` image, which runs
# /docker-entrypoint-initdb.d/*.sh once, on the first start of an empty data directory, as the
# superuser $POSTGRES_USER over the local socket. Used by deploy/compose/compose.yaml and by the
# dev overlay's StatefulSet (deploy/kubernetes/overlays/dev/postgres.yaml, through the ConfigMap
# of deploy/postgres/kustomization.yaml). A managed PostgreSQL (the prod overlay) gets the same
# three roles and databases from its operator (deploy/kubernetes/README.md "PostgreSQL").
#
#   role            database         used by
#   whistle_intake  whistle          intake: the account store (schema public) and the evidence
#                                    attachments' index (schema attachments)
#   whistle_ledger  whistle_ledger   the ledger (its migrations create the extension pg_trgm,
#                                    trusted since PostgreSQL 13, so the owner may)
#   whistle_notify  whistle_notify   the notifier (schema notify)
#
# Each role owns its database and nothing else: the services' migrations (sqlx, run at each
# service's start-up) create their tables, schemas and migration histories there. The databases
# are UTF-8 with ctype C.UTF-8, as deploy/dev/postgres.sh initialises the dev cluster: pg_trgm
# sees Chinese characters only under a ctype that calls them alphanumeric (docs/ledger.md).
#
# Environment: INTAKE_DB_PASSWORD, LEDGER_DB_PASSWORD, NOTIFY_DB_PASSWORD (required; they go into
# the services' postgres:// URLs, so keep them URL-safe: openssl rand -hex 32).
set -eu

: "${INTAKE_DB_PASSWORD:?the intake role's password}"
: "${LEDGER_DB_PASSWORD:?the ledger role's password}"
: "${NOTIFY_DB_PASSWORD:?the notifier role's password}"

# create ROLE PASSWORD DATABASE
create() {
  # psql quotes the variables itself (:"name" as an identifier, :'name' as a literal).
  psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v role="$1" -v password="$2" -v db="$3" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role" ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT ALL ON DATABASE :"db" TO :"role";
SQL
  echo "whistle: database $3 owned by $1"
}

create whistle_intake "$INTAKE_DB_PASSWORD" whistle
create whistle_ledger "$LEDGER_DB_PASSWORD" whistle_ledger
create whistle_notify "$NOTIFY_DB_PASSWORD" whistle_notify
