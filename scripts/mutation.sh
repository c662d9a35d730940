#!/usr/bin/env bash
# Mutation testing of the typology machines (opt-in): mutmut mutates protocol/typologies/ and runs
# the typology unit tests against each mutant ([tool.mutmut] in pyproject.toml), then the
# hand-written mutants of scripts/hand_mutants.py, and the score (scripts/mutation_score.py, with the
# equivalent mutants of scripts/mutation_equivalents.txt). Mutants are kept in mutants/ (not versioned).
# mutmut lives in its own environment (.venv-mutation): it brings setproctitle, which Thespian
# uses to rename actor processes, and the tests of .venv count processes by their command line.
#   scripts/mutation.sh                 # everything, one test process at a time
#   MUTATION_CHILDREN=2 scripts/mutation.sh
#   scripts/mutation.sh "protocol.typologies.guards*"   # mutants of one module
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-mutation
[ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test,mutation]'
export HYPOTHESIS_PROFILE=mutation
"$VENV/bin/mutmut" run --max-children "${MUTATION_CHILDREN:-1}" "$@"
"$VENV/bin/mutmut" results
if [ "$#" -eq 0 ]; then
    "$VENV/bin/python" scripts/hand_mutants.py
    "$VENV/bin/python" scripts/mutation_score.py  # exit 1 under 90 %
fi
