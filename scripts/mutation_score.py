#!/usr/bin/env python3
"""The mutation score of the typology machines from mutmut's results (`mutants/`, after
`scripts/mutation.sh`): killed / (total - documented equivalent mutants), per module.

    .venv-mutation/bin/python scripts/mutation_score.py [--survivors]

The equivalent mutants (they cannot change what a machine sends, writes or logs) are listed
with their reason in `scripts/mutation_equivalents.txt`, one `name: reason` per line; mutmut
numbers its mutants per function, so the list holds for the source it was written against.
`--survivors` prints the surviving mutants that are not in the list. Exit 1 when the score is
under 90 %.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "mutants" / "protocol" / "typologies"
EQUIVALENTS = ROOT / "scripts" / "mutation_equivalents.txt"
TARGET = 0.90
HEADER = f"{'module':<10} {'total':>6} {'killed':>7} {'equiv':>6} {'surv':>5} {'not run':>8} score"


def status(code: int | None) -> str:
    """killed (a timeout too: the mutant loops), not run, or survived (no test failed)."""
    from mutmut.stats import status_by_exit_code  # the environment of scripts/mutation.sh

    mutmut = status_by_exit_code[code]
    if mutmut in ("killed", "timeout"):
        return "killed"
    return "not run" if mutmut == "not checked" else "survived"


def equivalents() -> dict[str, str]:
    listed: dict[str, str] = {}
    for line in EQUIVALENTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(":")
            listed[name.strip()] = reason.strip()
    return listed


def main() -> int:
    listed = equivalents()
    total: Counter[str] = Counter()
    undocumented: list[str] = []
    print(
        f"{'module':<10} {'total':>6} {'killed':>7} {'equiv':>6} {'surv':>5} {'not run':>8} score"
    )
    for meta in sorted(RESULTS.glob("*.py.meta")):
        codes = _codes(meta)
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            verdict = status(code)
            if verdict == "survived" and name in listed:
                verdict = "equivalent"
            elif verdict == "survived":
                undocumented.append(name)
            counts[verdict] += 1
            counts["total"] += 1
        total += counts
        print(_row(meta.name.removesuffix(".py.meta"), counts))
    print(_row("all", total))
    known = {n for m in RESULTS.glob("*.py.meta") for n in _codes(m)}
    stale = sorted(set(listed) - known)
    if stale:
        print(f"{len(stale)} listed equivalents are not mutants of this source: {stale[:5]}")
    if "--survivors" in sys.argv:
        print("\n".join(undocumented))
    return 0 if _score(total) >= TARGET else 1


def _codes(meta: Path) -> dict[str, int | None]:
    return json.loads(meta.read_text())["exit_code_by_key"]


def _score(c: Counter[str]) -> float:
    judged = c["total"] - c["equivalent"] - c["not run"]
    return c["killed"] / judged if judged else 1.0


def _row(name: str, c: Counter[str]) -> str:
    return (
        f"{name:<10} {c['total']:>6} {c['killed']:>7} {c['equivalent']:>6} {c['survived']:>5} "
        f"{c['not run']:>8} {_score(c):.1%}"
    )


if __name__ == "__main__":
    sys.exit(main())
