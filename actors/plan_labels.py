"""The PlanReader's answers to the household screens' labels ("Démarrage prévu 14:30"): when
the EMS plan next starts each appliance of a household. A mixin of `PlanReader`.

A screen that asked is answered at once, from the plans at hand, and again whenever the plans of
its appliances change (the first read after start-up, a new EMS run), for `WATCH_S` after its
last question: it asks again after every quarter-hour boundary, so a screen that went away is
forgotten within half an hour.
"""

from __future__ import annotations

import time
from typing import Any

from protocol import ems
from protocol.messages import PlannedStarts, PlannedStartsReply
from protocol.screens.state import next_planned_start

WATCH_S = 2 * ems.SLOT_SECONDS


class PlanLabels:
    """Needs the PlanReader's `book` and `send`."""

    book: ems.PlanBook
    send: Any
    label_askers: list[tuple[Any, tuple[int, ...], float]]  # (screen, its appliances, asked at)

    def receiveMsg_PlannedStarts(self, message: PlannedStarts, sender: Any) -> None:
        now = time.time()
        others = [a for a in self.label_askers if a[0] != message.reply_to]
        self.label_askers = [*others, (message.reply_to, message.members, now)]
        self._answer_labels(message.reply_to, message.members, now)

    def plans_changed(self, before: ems.PlanBook, now: float) -> None:
        """The book changed: answer again every screen one of whose appliances it concerns."""
        self.label_askers = [a for a in self.label_askers if now - a[2] <= WATCH_S]
        for asker, members, _ in self.label_askers:
            if any(before.get(m) != self.book.get(m) for m in members):
                self._answer_labels(asker, members, now)

    def _answer_labels(self, asker: Any, members: tuple[int, ...], now: float) -> None:
        starts = tuple((e, next_planned_start(self.book.get(e, ()), now)) for e in members)
        self.send(asker, PlannedStartsReply(starts))
