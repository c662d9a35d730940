#!/usr/bin/env bash
# Run the tests on this machine, installing what is missing first:
#   - PostgreSQL and Mosquitto from Debian packages, started, when nothing listens on their ports;
#   - a virtual environment (.venv) with the project and its test tools.
# Arguments are passed to pytest (e.g. `scripts/test.sh -m "not integration"`).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
export ELFE_TEST_PG_DSN=${ELFE_TEST_PG_DSN:-postgresql://postgres@127.0.0.1:5432/postgres}
export ELFE_TEST_MQTT_HOST=${ELFE_TEST_MQTT_HOST:-127.0.0.1}
export ELFE_TEST_MQTT_PORT=${ELFE_TEST_MQTT_PORT:-1883}

say() { printf '[test.sh] %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
apt_updated=""
apt_install() {
    [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Python 3.11+ with venv.
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "[test.sh] Python 3.11 or newer is needed (set PYTHON=...)" >&2; exit 1
fi
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

# PostgreSQL.
if ! listening 127.0.0.1 5432; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        say "installing PostgreSQL"; apt_install postgresql
    fi
    say "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start \
        || as_root service postgresql start
    for _ in $(seq 50); do listening 127.0.0.1 5432 && break; sleep 0.2; done
    listening 127.0.0.1 5432 || { echo "[test.sh] PostgreSQL did not start" >&2; exit 1; }
fi

# Mosquitto.
if ! listening "$ELFE_TEST_MQTT_HOST" "$ELFE_TEST_MQTT_PORT"; then
    command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { say "installing Mosquitto"; apt_install mosquitto; }
    say "starting Mosquitto"
    as_root /usr/sbin/mosquitto -d -c /etc/mosquitto/mosquitto.conf
    for _ in $(seq 50); do listening "$ELFE_TEST_MQTT_HOST" "$ELFE_TEST_MQTT_PORT" && break; sleep 0.2; done
fi

# systemd-analyze, for the test of the unit file (the test skips if it cannot be installed).
if ! command -v systemd-analyze >/dev/null; then
    say "installing systemd-analyze (package systemd)"; apt_install systemd || say "systemd not installed"
fi

# Virtual environment with the project (editable) and the test tools.
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"; "$PYTHON" -m venv .venv
fi
# constraints.txt pins every dependency to the versions the tests last passed with; the
# simulated devices are their own distribution (simulators/), kept out of production installs.
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt \
    -e '.[test]' -e ./simulators

# A fresh Debian PostgreSQL does not trust TCP logins: give the test role a password once.
if ! .venv/bin/python -c "import os, psycopg; psycopg.connect(os.environ['ELFE_TEST_PG_DSN'], connect_timeout=5).close()" 2>/dev/null; then
    say "setting a password for the postgres role (tests connect over TCP)"
    as_root su postgres -c "psql -qc \"ALTER ROLE postgres PASSWORD 'elfe-test'\""
    export ELFE_TEST_PG_DSN=postgresql://postgres:elfe-test@127.0.0.1:5432/postgres
fi

say "ruff"
.venv/bin/ruff check .
say "pytest"
exec .venv/bin/python -m pytest "$@"
