#!/usr/bin/env bash
# The demonstration, end to end, with nothing to install beforehand but Python 3.11+:
# a virtual environment with the project and its demo extras, then `elfe-supervisor demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt \
    -e '.[demo]' -e ./simulators
exec .venv/bin/elfe-supervisor demo "$@"
