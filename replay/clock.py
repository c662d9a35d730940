"""The virtual clock of a replay, and where it replaces the real one.

Two readings: `now` is the world's time (the capture's timeline; Thespian's timers and the
feeding of recorded lines run on it), `wall()` is what the supervisor's `time.time()` returns,
the world's time plus the clock jumps injected so far. While a replay runs:

- `time` in every module of `actors/` and `runtime/` is a stand-in whose `time()` is `wall()`
  (`monotonic()` and `perf_counter()` are `now`, `sleep()` returns at once);
- Thespian's `currentTime` (its `wakeupAfter` timers) reads `now`.
"""

from __future__ import annotations

import sys
import time as real_time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any


class VirtualClock:
    def __init__(self, start: float) -> None:
        self.now = start
        self.offset = 0.0  # the sum of the clock jumps

    def wall(self) -> float:
        return self.now + self.offset

    def advance(self, to: float) -> None:
        self.now = max(self.now, to)  # never backwards: a jump moves `offset`, not `now`


class TimeModule(ModuleType):
    """The `time` module as the actors see it during a replay."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__("time")
        self._clock = clock

    def time(self) -> float:
        return self._clock.wall()

    def monotonic(self) -> float:
        return self._clock.now

    perf_counter = monotonic

    def sleep(self, seconds: float) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(real_time, name)


@contextmanager
def patched(replacements: list[tuple[Any, str, Any]]) -> Iterator[None]:
    """Set attributes for the duration of the block, then put the originals back."""
    saved = [(target, name, getattr(target, name)) for target, name, _ in replacements]
    try:
        for target, name, value in replacements:
            setattr(target, name, value)
        yield
    finally:
        for target, name, value in reversed(saved):
            setattr(target, name, value)


def time_replacements(clock: VirtualClock) -> list[tuple[Any, str, Any]]:
    """Every place the actors and Thespian read the time."""
    import thespian.system.simpleSystemBase as simple
    import thespian.system.timing as timing

    fake = TimeModule(clock)
    replacements: list[tuple[Any, str, Any]] = [
        (timing, "currentTime", lambda: clock.now),
        (simple, "currentTime", lambda: clock.now),
    ]
    for name, module in sorted(sys.modules.items()):
        if (
            name.split(".")[0] in ("actors", "runtime")
            and getattr(module, "time", None) is real_time
        ):
            replacements.append((module, "time", fake))
    return replacements
