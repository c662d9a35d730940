"""Is the core alive? The systemd watchdog is fed only while the Supervisor and every gateway
answer a liveness question; a core that has not answered for `dead_after_s` is dead and the
daemon exits non-zero (systemd restarts it).

Pure: the daemon asks, and tells this object what answered and when.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

# what must answer: the Supervisor relays each question to its gateway
CORE = ("supervisor", "mqtt", "db", "plans", "clock")


class Verdict(StrEnum):
    FEED = "feed"  # everything answered: WATCHDOG=1
    HOLD = "hold"  # something did not: no WATCHDOG=1, not dead yet
    DEAD = "dead"  # nothing complete for dead_after_s: exit non-zero


@dataclass(frozen=True)
class Liveness:
    dead_after_s: float
    last_ok: float  # the start, then the last complete round of answers
    silent: tuple[str, ...] = ()

    def round(
        self, now: float, silent: tuple[str, ...], dead_after_s: float | None = None
    ) -> tuple[Liveness, Verdict]:
        """One round of questions, `silent` the parts of the core that did not answer
        (`dead_after_s`: another bound for this round, e.g. a longer one during start-up)."""
        if not silent:
            return replace(self, last_ok=now, silent=()), Verdict.FEED
        state = replace(self, silent=silent)
        bound = self.dead_after_s if dead_after_s is None else dead_after_s
        if now - self.last_ok >= bound:
            return state, Verdict.DEAD
        return state, Verdict.HOLD

    def describe(self, now: float) -> str:
        parts = ", ".join(self.silent) or "nothing"
        return f"no answer from {parts} for {now - self.last_ok:.0f} s"


def interval(watchdog_s: float | None, default_s: float = 5.0) -> float:
    """How often to ask: twice per watchdog period (systemd's advice), at most every 5 s."""
    return min(default_s, watchdog_s / 2) if watchdog_s else default_s
