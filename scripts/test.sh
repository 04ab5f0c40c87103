#!/usr/bin/env bash
# Set up and run every check: a virtual environment with the dev extras, a throw-away
# PostgreSQL server for the store suite, then ruff, mypy and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned to the CPU build this machine carries; the extras only ask torch>=2.1
.venv/bin/python -m pip install -q -e '.[dev,demo,lightning,transformers,keras]' 'torch==2.13.0'
if [ -z "${WATTWISE_TEST_POSTGRES_URL:-}" ]; then
  pgdir=$(mktemp -d /tmp/wattwise-pg.XXXXXX)
  port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  trap 'scripts/start-postgres.sh --stop "$pgdir"' EXIT
  WATTWISE_TEST_POSTGRES_URL=$(scripts/start-postgres.sh "$pgdir" "$port")
  export WATTWISE_TEST_POSTGRES_URL
fi
.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/ruff format --check src tests benchmarks scripts
.venv/bin/mypy
if [ "$(id -u)" = 0 ] && [ -z "$(.venv/bin/python tests/report/chromium.py)" ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2
fi
.venv/bin/pytest "$@"
