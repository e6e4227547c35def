#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1:55432 (trust auth for the postgres user).
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || { echo "postgresql is not installed (apt-get install postgresql)"; exit 1; }
DATA=${KUBELAB_PG_DATA:-/tmp/kubelab-pg}
if pg_isready -h 127.0.0.1 -p 55432 -q 2>/dev/null; then exit 0; fi
id postgres >/dev/null 2>&1 || useradd -r -m postgres
if [ ! -s "$DATA/PG_VERSION" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"; chown postgres "$DATA"
  su postgres -s /bin/sh -c "$PGBIN/initdb -D $DATA -A trust -U postgres >/dev/null"
fi
# A data directory left by a machine that stopped mid-run is recovered first (an fsync of
# every file), which can take longer than pg_ctl's default minute.
su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $DATA -l $DATA/log -o '-p 55432 -k /tmp -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200' -w -t 300 start >/dev/null"
pg_isready -h 127.0.0.1 -p 55432
