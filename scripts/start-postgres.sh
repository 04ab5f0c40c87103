#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1 for the store tests, installing it
# from Debian's packages when missing.
# Usage: scripts/start-postgres.sh DIR PORT   -> prints the SQLAlchemy URL
# Stop:  scripts/start-postgres.sh --stop DIR
set -euo pipefail
run=()
if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ "${1:-}" = "--stop" ]; then
  [ -n "$bin" ] && "${run[@]}" "$bin/pg_ctl" -D "$2/data" -m immediate stop >/dev/null 2>&1 || true
  exit 0
fi
dir="$1"
port="$2"
if [ -z "$bin" ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  else
    echo "PostgreSQL is not installed and this user cannot install it" >&2
    exit 1
  fi
fi
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$dir"
fi
"${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
"${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
