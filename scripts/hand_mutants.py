#!/usr/bin/env python3
"""Hand-written mutants of `protocol/typologies/` that the typology tests must kill (issue 8):
each one is applied to a copy of the source tree, the typology tests run against it, and the
script reports which mutants were killed. Exit code 1 when one survives.

    .venv/bin/python scripts/hand_mutants.py [--properties] [name ...]

`--properties` runs the hypothesis state machines alone (they must kill the listed mutants too).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = [
    "tests/unit/test_typologies.py",
    "tests/unit/test_switchable.py",
    "tests/unit/test_typology_safety.py",
    "tests/unit/test_guards.py",
    "tests/unit/test_observed_only.py",
    "tests/unit/test_typology_properties.py",
]
T = "protocol/typologies/"
PROFILE = "mutation"  # no shrinking: a failure is all that counts

# name -> (file, original text, mutated text)
MUTANTS: dict[str, tuple[str, str, str]] = {
    "identity (must survive)": (T + "guards.py", "DAY_S = 86400\n", "DAY_S = 86400\n"),
    "second start per arming": (
        T + "start.py",
        "    if state.mode != Mode.PILOTE or not triggered(state):\n        return False\n"
        "    return state.command_state == CS.PILOTE_STAND_BY or (",
        "    if not triggered(state):\n        return False\n"
        "    return state.command_state != CS.PILOTE_EN_ACTIVATION or (",
    ),
    "continuous decision not reaching the relay": (
        T + "piloted.py",
        "    state, more = c.drive(state, on, now, reassert=True)\n",
        "    more = []\n",
    ),
    "no deadline guard": (
        T + "piloted.py",
        "            return _start(state, now, start.deadline_reason(state), "
        'asked_by="deadline")\n',
        "            return state, []\n",
    ),
    "no comfort guard": (
        T + "piloted.py",
        "    Heating only (spec §6): a triggered machine is never held on by a room "
        'temperature."""\n',
        "    Heating only (spec §6): a triggered machine is never held on by a room "
        'temperature."""\n    return state, []\n',
    ),
    "no max-off guard": (
        T + "piloted.py",
        "def _on_max_off(state: MachineState, at: float, now: float) -> Step:\n",
        "def _on_max_off(state: MachineState, at: float, now: float) -> Step:\n"
        "    return state, []\n",
    ),
    "wrong retry count": (
        T + "common.py",
        "    if output.attempt <= len(delays):\n",
        "    if output.attempt < len(delays):\n",
    ),
    "err never recovering": (
        T + "piloted.py",
        '    """err clears by itself once the device does what we want (rule 3.2)."""\n',
        '    """err clears by itself once the device does what we want (rule 3.2)."""\n'
        "    return state, []\n",
    ),
    "a retained message acknowledging": (
        T + "common.py",
        "        and report.device == output.device\n        and not report.retained\n",
        "        and report.device == output.device\n",
    ),
    "170 pressing again after a restart in 21": (
        T + "piloted.py",
        "    if state.roles.presses and not state.resumed_start:\n",
        "    if state.roles.presses:\n",
    ),
    "comfort periods in local time": (
        T + "guards.py",
        "    moment = datetime.fromtimestamp(t, UTC)\n",
        "    moment = datetime.fromtimestamp(t).replace(tzinfo=UTC)\n",
    ),
    "press without a fresh measurement": (
        T + "piloted.py",
        "    runs = start.measured(state, now, since)\n    if runs is None:\n",
        "    runs = start.measured(state, now, since)\n    if runs is None and False:\n",
    ),
    "a verified start keeps its order awaiting an ack": (
        T + "start.py",
        "    state, more = _powered_is_acknowledged(state)\n",
        "    more = []\n",
    ),
    "min_switch_s from the command, not the confirmed change": (
        T + "common.py",
        "    times = [t for t in (output.changed_at, output.change_sent_at) if t is not None]\n",
        "    times = [t for t in (output.change_sent_at,) if t is not None]\n",
    ),
    "err restored without its kind": (
        T + "piloted.py",
        '        state = replace(state, error="state 30 in the database at start", '
        "error_kind=kind)\n",
        "        pass\n",
    ),
    "expired decisions applied": (
        T + "piloted.py",
        "    return state.ems_on if now < state.ems_slot + HORIZON_SECONDS else None\n",
        "    return state.ems_on\n",
    ),
}


def run(
    name: str, path: str, old: str, new: str, tests: list[str] = TESTS, profile: str = PROFILE
) -> bool:
    """True when the mutant is killed (the tests fail)."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        copy = Path(tmp) / "tree"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "mutants"))
        source = (copy / path).read_text()
        if source.count(old) != 1:
            raise SystemExit(f"mutant {name!r}: the original text is not found once in {path}")
        (copy / path).write_text(source.replace(old, new))
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
            cwd=copy,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin", "HYPOTHESIS_PROFILE": profile},
        )
        return result.returncode != 0


def main() -> int:
    args = sys.argv[1:]
    tests = TESTS[-1:] if "--properties" in args else TESTS
    chosen = [a for a in args if a != "--properties"] or list(MUTANTS)
    survivors = []
    for name in chosen:
        profile = "mutation-deep" if tests != TESTS else PROFILE
        killed = run(name, *MUTANTS[name], tests=tests, profile=profile)
        print(f"{'killed  ' if killed else 'SURVIVED'} {name}", flush=True)
        if killed == ("must survive" in name):  # the identity must pass, every mutant must fail
            survivors.append(name)
    print(f"{len(chosen) - len(survivors)}/{len(chosen)} as expected")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
