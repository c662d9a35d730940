"""The Clock actor on simpleSystemBase: one heap, re-arm replaces, clear cancels, order kept."""

from __future__ import annotations

import time
from typing import Any

from thespian.actors import ActorSystem, ActorTypeDispatcher

from actors.clock import Clock
from protocol.messages import ClearAllTimers, ClearTimer, SetTimer, TimerFired


class Owner(ActorTypeDispatcher):
    """Arms timers on the clock on request and reports what fired, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.fired: list[str] = []
        self.clock: Any = None
        self.asker: Any = None

    def receiveMsg_tuple(self, message: tuple[Any, ...], sender: Any) -> None:
        verb = message[0]
        if verb == "clock":
            self.clock = message[1]
        elif verb == "set":
            self.send(self.clock, SetTimer(message[1], time.time() + message[2]))
        elif verb == "clear":
            self.send(self.clock, ClearTimer(message[1]))
        elif verb == "clear-all":
            self.send(self.clock, ClearAllTimers())
        elif verb == "fired?":
            self.send(sender, list(self.fired))

    def receiveMsg_TimerFired(self, message: TimerFired, sender: Any) -> None:
        self.fired.append(message.token)


def run_for(asys: ActorSystem, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        asys.listen(0.02)
        time.sleep(0.005)


def owner_with_clock(asys: ActorSystem) -> Any:
    clock = asys.createActor(Clock)
    owner = asys.createActor(Owner)
    asys.tell(owner, ("clock", clock))
    return owner


def test_timers_fire_in_deadline_order(system: ActorSystem) -> None:
    owner = owner_with_clock(system)
    for token, delay in (("c", 0.15), ("a", 0.05), ("b", 0.10)):
        system.tell(owner, ("set", token, delay))
    run_for(system, 0.4)
    assert system.ask(owner, ("fired?",), 1) == ["a", "b", "c"]


def test_rearming_a_token_replaces_it_and_clearing_cancels(system: ActorSystem) -> None:
    owner = owner_with_clock(system)
    system.tell(owner, ("set", "ack", 0.05))
    system.tell(owner, ("set", "ack", 0.20))  # replaces: fires once, later
    system.tell(owner, ("set", "retry", 0.05))
    system.tell(owner, ("clear", "retry"))
    run_for(system, 0.1)
    assert system.ask(owner, ("fired?",), 1) == []
    run_for(system, 0.25)
    assert system.ask(owner, ("fired?",), 1) == ["ack"]


def test_clear_all_forgets_an_owner(system: ActorSystem) -> None:
    owner = owner_with_clock(system)
    system.tell(owner, ("set", "x", 0.05))
    system.tell(owner, ("set", "y", 0.05))
    system.tell(owner, ("clear-all",))
    run_for(system, 0.15)
    assert system.ask(owner, ("fired?",), 1) == []
