"""Clock: one timer heap for every actor, behind a single armed `wakeupAfter`.

Thespian's own wakeups cannot be cancelled and degrade badly by the thousand
(`../shared/reference/thespian.md` §1). Here a timer is (owner, token): arming the same token
again replaces it, clearing it cancels it. Cancelled entries stay in the heap and are skipped.
"""

from __future__ import annotations

import heapq
import time
from datetime import timedelta
from typing import Any

from thespian.actors import ActorExitRequest, ActorTypeDispatcher, WakeupMessage

from actors.vitals import Vital
from protocol.introspection import timers_of
from protocol.messages import (
    ClearAllTimers,
    ClearTimer,
    Introspect,
    IntrospectReply,
    SetTimer,
    TimerFired,
)

EARLY_S = 0.0005  # fire what is due within half a millisecond in the same wakeup


class Clock(Vital, ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.heap: list[tuple[float, int, str, str]] = []  # (deadline, seq, owner key, token)
        self.deadlines: dict[tuple[str, str], float] = {}
        self.owners: dict[str, Any] = {}
        self.sequence = 0
        self.armed: list[float] = []  # deadlines of the wakeups in flight

    def receiveMsg_SetTimer(self, message: SetTimer, sender: Any) -> None:
        owner = str(sender)
        self.owners[owner] = sender
        self.deadlines[(owner, message.token)] = message.at
        self.sequence += 1
        heapq.heappush(self.heap, (message.at, self.sequence, owner, message.token))
        self._arm(time.time())

    def receiveMsg_ClearTimer(self, message: ClearTimer, sender: Any) -> None:
        self.deadlines.pop((str(sender), message.token), None)

    def receiveMsg_ClearAllTimers(self, message: ClearAllTimers, sender: Any) -> None:
        owner = str(sender)
        for key in [k for k in self.deadlines if k[0] == owner]:
            del self.deadlines[key]
        self.owners.pop(owner, None)

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        if message.payload in self.armed:
            self.armed.remove(message.payload)
        now = time.time()
        while self.heap and self.heap[0][0] <= now + EARLY_S:
            deadline, _, owner, token = heapq.heappop(self.heap)
            if self.deadlines.get((owner, token)) != deadline:
                continue  # re-armed or cleared since
            del self.deadlines[(owner, token)]
            self.send(self.owners[owner], TimerFired(token, deadline))
        self._arm(now)

    def receiveMsg_Introspect(self, message: Introspect, sender: Any) -> None:
        if message.owner is not None:  # one equipment's pending timers
            reply = {"timers": timers_of(self.deadlines, str(message.owner))}
        else:
            reply = {"timers": len(self.deadlines), "heap": len(self.heap)}
        self.send(message.reply_to or sender, IntrospectReply(reply))

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender: Any) -> None:
        self.heap.clear()

    def _arm(self, now: float) -> None:
        """Keep one wakeup in flight for the earliest live deadline."""
        while (
            self.heap and self.deadlines.get((self.heap[0][2], self.heap[0][3])) != self.heap[0][0]
        ):
            heapq.heappop(self.heap)  # drop dead entries so the heap does not grow without bound
        if not self.heap:
            return
        earliest = self.heap[0][0]
        if self.armed and min(self.armed) <= earliest:
            return
        self.armed.append(earliest)
        self.wakeupAfter(timedelta(seconds=max(0.0, earliest - now)), payload=earliest)
