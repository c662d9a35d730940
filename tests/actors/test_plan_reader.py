"""The PlanReader delivers each equipment its decision once per slot, and at once to a new
actor of an equipment (one respawned after a crash), which knows nothing of the slot yet."""

from __future__ import annotations

import time
from typing import Any

from thespian.actors import ActorSystem, ActorTypeDispatcher

from actors.plan_reader import PlanReader
from protocol.ems import SLOT_SECONDS, SLOTS, Plan
from protocol.messages import EmsDecision, PlansRead, PlanTargets


class Device(ActorTypeDispatcher):
    """Stands for a DeviceActor: keeps the decisions it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.decisions: list[tuple[int, bool]] = []

    def receiveMsg_EmsDecision(self, message: EmsDecision, sender: Any) -> None:
        self.decisions.append((message.equipment, message.on))

    def receiveMsg_str(self, message: str, sender: Any) -> None:
        self.send(sender, list(self.decisions))


def test_a_respawned_actor_gets_the_decision_at_once_and_a_kept_one_not_twice(
    system: ActorSystem,
) -> None:
    reader = system.createActor(PlanReader)
    first, other = system.createActor(Device), system.createActor(Device)
    system.tell(reader, PlanTargets(((1, first), (2, other))))
    now = time.time()
    slot = int(now // SLOT_SECONDS * SLOT_SECONDS)
    plans = tuple(Plan(10 + e, e, slot, (1,) * SLOTS) for e in (1, 2))
    system.tell(reader, PlansRead(plans=plans, full=True, last_id=12, at=now))
    assert system.ask(first, "decisions?", 2) == [(1, True)]
    respawned = system.createActor(Device)
    system.tell(reader, PlanTargets(((1, respawned), (2, other))))
    assert system.ask(respawned, "decisions?", 2) == [(1, True)]
    if time.time() < slot + SLOT_SECONDS:  # (a boundary crossed meanwhile sends it again)
        assert system.ask(other, "decisions?", 2) == [(2, True)]  # once in the slot
