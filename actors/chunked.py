"""Many messages sent a chunk per pass of the pump (a mixin of actors that fan out).

On the in-process base an actor's sends are delivered, and their own sends after them, before
the pump looks at a socket again: the 10 000 decisions of one EMS run became 10 000 orders
queued in the MQTT client before the first one left. A chunk per pass lets the first orders
leave, and their answers come in, while the next decisions are taken (the broker, the devices
and the database work meanwhile on the other core). The next chunk is posted to the pump, which
runs its sockets first; without a pump (multiproc bases, tests) it is a message to self.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from protocol.messages import NextChunk
from runtime import pump as pumps

CHUNK = 500  # about 25 ms of the receivers' work on this machine: a pass, not a stall


class ChunkedSends:
    """Needs the actor's `send` and `myAddress`."""

    send: Any
    myAddress: Any

    def __init__(self) -> None:
        super().__init__()
        self.outbox: deque[tuple[Any, Any]] = deque()  # (address, message), oldest first
        self.chunk_due = False  # a NextChunk is on its way

    def send_in_chunks(self, messages: list[tuple[Any, Any]]) -> None:
        """(address, message) pairs, sent in this order."""
        self.outbox.extend(messages)
        if not self.chunk_due:
            self.receiveMsg_NextChunk(NextChunk(), None)

    def receiveMsg_NextChunk(self, message: NextChunk, sender: Any) -> None:
        self.chunk_due = False
        for _ in range(min(CHUNK, len(self.outbox))):
            self.send(*self.outbox.popleft())
        if self.outbox:
            self.chunk_due = True
            pump = pumps.current()
            if pump is not None:
                pump.post(self.myAddress, NextChunk())
            else:
                self.send(self.myAddress, NextChunk())
