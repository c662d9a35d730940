"""What every actor tells of itself for the actor tree of `inspect`: since when it runs and how
many messages it handled.

A mixin, first among the bases: `__init_subclass__` wraps the `receiveMessage` the class ends up
with (its own, or Thespian's dispatcher), so that the gateways, which override `receiveMessage`
to return their socket watch on every path, are counted and answer like the others. A `Vitals`
request is answered, then passed on as any message (the actors ignore it). An actor with
children in the tree (the screens' directory) names them in `vital_children`; each answers the
same census itself.
"""

from __future__ import annotations

import time
from typing import Any

from protocol.messages import Vitals, VitalsReply


class Vital:
    vital_since: float | None = None
    vital_handled = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        inner = cls.receiveMessage  # type: ignore[attr-defined]
        if getattr(inner, "vital", False):
            return

        def receiveMessage(self: Any, message: Any, sender: Any) -> Any:
            if self.vital_since is None:
                self.vital_since = time.time()
            self.vital_handled += 1
            if isinstance(message, Vitals):
                self.answer_vitals(message)
            return inner(self, message, sender)

        receiveMessage.vital = True  # type: ignore[attr-defined]
        cls.receiveMessage = receiveMessage  # type: ignore[attr-defined]

    def vital_children(self) -> list[tuple[str, Any]]:
        """(name, address) of the actors this one answers for in the tree."""
        return []

    def vitals(self, census: int, name: str) -> VitalsReply:
        children = self.vital_children()
        since = self.vital_since if self.vital_since is not None else time.time()
        names = tuple(child for child, _ in children)
        return VitalsReply(census, name, since, self.vital_handled, names)

    def answer_vitals(self, message: Vitals) -> None:
        send: Any = self.send  # type: ignore[attr-defined]
        send(message.reply_to, self.vitals(message.census, message.name))
        for child, address in self.vital_children():
            send(address, Vitals(message.census, child, message.reply_to))
