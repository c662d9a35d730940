"""`replay --inspect-at`: what `inspect` shows at a virtual time (`protocol/introspection.py`,
the same questions and views as the running daemon's): the overview with the gateways' counters
and the actor tree, or one equipment with its pending timers, its next planned decisions and the
age of each device's last report."""

from __future__ import annotations

from typing import Any

from protocol import introspection


def view(replay: Any, equipment: int | None) -> dict[str, Any]:
    request = {"equipment": equipment} if equipment is not None else {"actors": True}
    return introspection.view(replay.ask, request, replay.clock.wall())
