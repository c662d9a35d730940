#!/usr/bin/env bash
# Mutation testing of the typology machines (opt-in): mutmut mutates protocol/typologies/ and runs
# the typology unit tests against each mutant ([tool.mutmut] in pyproject.toml), then the
# hand-written mutants of scripts/hand_mutants.py. Mutants are kept in mutants/ (not versioned).
#   scripts/mutation.sh                 # everything, one test process at a time
#   MUTATION_CHILDREN=2 scripts/mutation.sh
#   scripts/mutation.sh "protocol.typologies.guards*"   # mutants of one module
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,mutation]'
export HYPOTHESIS_PROFILE=mutation
.venv/bin/mutmut run --max-children "${MUTATION_CHILDREN:-1}" "$@"
.venv/bin/mutmut results
if [ "$#" -eq 0 ]; then
    .venv/bin/python scripts/hand_mutants.py
fi
