"""simpleSystemBase with `runtime.speedups` installed: messages in order, wakeups on time."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from thespian.actors import ActorSystem, ActorTypeDispatcher, WakeupMessage

from runtime import speedups
from tests.actors.test_clock import run_for


class Recorder(ActorTypeDispatcher):
    """Arms wakeups or sends itself a burst on request; records what arrives, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []

    def receiveMsg_tuple(self, message: tuple[Any, ...], sender: Any) -> None:
        verb = message[0]
        if verb == "arm":
            for delay, payload in message[1]:
                self.wakeupAfter(timedelta(seconds=delay), payload=payload)
        elif verb == "burst":
            for i in range(message[1]):
                self.send(self.myAddress, ("n", i))
        elif verb == "n":
            self.seen.append(message[1])
        elif verb == "seen?":
            self.send(sender, list(self.seen))

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        self.seen.append((message.payload, time.monotonic()))


@pytest.fixture(autouse=True)
def installed() -> None:
    """Before the `system` fixture creates the actor system (autouse fixtures come first)."""
    speedups.install()
    speedups.install()  # idempotent


def test_messages_are_delivered_in_the_order_sent(system: ActorSystem) -> None:
    actor = system.createActor(Recorder)
    system.tell(actor, ("burst", 5000))
    assert system.ask(actor, ("seen?",), 5) == list(range(5000))


def test_wakeups_fire_in_deadline_order_whatever_the_order_armed(system: ActorSystem) -> None:
    actor = system.createActor(Recorder)
    began = time.monotonic()
    system.tell(actor, ("arm", [(0.4, "late"), (0.2, "middle")]))
    run_for(system, 0.05)
    system.tell(actor, ("arm", [(0.05, "early")]))  # earlier than every deadline known so far
    run_for(system, 0.7)
    seen = system.ask(actor, ("seen?",), 5)
    assert [payload for payload, _ in seen] == ["early", "middle", "late"]
    fired = {payload: at - began for payload, at in seen}
    assert fired["early"] >= 0.1 and fired["middle"] >= 0.2 and fired["late"] >= 0.4


def test_a_wakeup_is_not_lost_among_messages(system: ActorSystem) -> None:
    actor = system.createActor(Recorder)
    system.tell(actor, ("arm", [(0.05, "tick")]))
    system.tell(actor, ("burst", 20000))  # keeps the base busy past the deadline
    run_for(system, 0.3)
    seen = system.ask(actor, ("seen?",), 5)
    assert next(s for s in seen if isinstance(s, tuple))[0] == "tick"
    assert [s for s in seen if not isinstance(s, tuple)] == list(range(20000))
