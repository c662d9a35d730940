"""Two per-message costs of Thespian's in-process base (`simpleSystemBase`), removed.

Measured on 40 000 messages between 10 000 actors (2-core host, `benchmarks/`): 12 µs a message
with no wakeup pending, 24 µs with 10 and 82 µs with 100, because before *every* message the base
partitions its whole list of pending wakeups to find the expired ones (`_realizeWakeups`), and it
pops its pending sends from the head of a Python list (`pop(0)`, linear in the backlog, which an
EMS run fanned out to 10 000 equipment makes 10 000 long and more).

`install()` keeps the semantics and changes the data structures:
- the earliest wakeup deadline is remembered, so that the partition only runs when a wakeup is
  due (or after one was added with an unknown deadline);
- the pending sends are a deque whose `pop(0)` is `popleft()`.

Idempotent; it patches the class for every simple actor system of the process.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from thespian.system import simpleSystemBase as base

_DUE = "_elfe_next_wakeup_due"


class PendingSends(deque):  # type: ignore[type-arg]
    """The base's queue of pending sends: it appends, iterates, and pops at index 0."""

    def pop(self, index: int = -1) -> Any:  # type: ignore[override]
        return self.popleft() if index == 0 else super().pop()


def _earliest(wakeups: list[Any]) -> float:
    deadlines = [t._time_to_quit for _, t, _ in wakeups if t._time_to_quit is not None]
    return min(deadlines, default=math.inf)


_original_pop = base.WakeupManager._pop_expired_wakeups
_original_add = base.WakeupManager._add_wakeup
_original_init = base.ActorSystemBase.__init__


def _pop_expired_wakeups(self: Any, ct: float) -> list[Any]:
    due = self.__dict__.get(_DUE)
    if due is not None and ct < due:
        return []
    expired = _original_pop(self, ct)
    setattr(self, _DUE, _earliest(self._wakeUps))
    return expired


def _add_wakeup(self: Any, from_actor: Any, time_period: Any, payload: Any) -> None:
    _original_add(self, from_actor, time_period, payload)
    due = self.__dict__.get(_DUE)
    if due is not None:
        added = self._wakeUps[-1][1]._time_to_quit
        if added is not None:
            setattr(self, _DUE, min(due, added))


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    self._pendingSends = PendingSends(self._pendingSends)


def install() -> None:
    if getattr(base, "_elfe_speedups", False):
        return
    base.WakeupManager._pop_expired_wakeups = _pop_expired_wakeups
    base.WakeupManager._add_wakeup = _add_wakeup
    base.ActorSystemBase.__init__ = _init
    base._elfe_speedups = True
