"""The PlanReader delivers each equipment its decision once per slot, and at once to a new
actor of an equipment (one respawned after a crash), which knows nothing of the slot yet."""

from __future__ import annotations

import time
from typing import Any

from thespian.actors import ActorSystem, ActorTypeDispatcher

from actors.plan_reader import PlanReader
from protocol.ems import SLOT_SECONDS, SLOTS, Plan
from protocol.messages import (
    EmsDecision,
    PlannedStarts,
    PlannedStartsReply,
    PlansRead,
    PlanTargets,
)


class Device(ActorTypeDispatcher):
    """Stands for a DeviceActor (keeps the decisions it receives) or a screen (the answers)."""

    def __init__(self) -> None:
        super().__init__()
        self.decisions: list[tuple[int, bool]] = []

    def receiveMsg_EmsDecision(self, message: EmsDecision, sender: Any) -> None:
        self.decisions.append((message.equipment, message.on))

    def receiveMsg_PlannedStartsReply(self, message: PlannedStartsReply, sender: Any) -> None:
        self.decisions.append(message.starts)  # type: ignore[arg-type]

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


def test_a_screen_that_asked_before_the_plans_were_read_is_answered_again_when_they_are(
    system: ActorSystem,
) -> None:
    reader, screen = system.createActor(PlanReader), system.createActor(Device)
    system.tell(reader, PlanTargets(((1, system.createActor(Device)),)))
    system.tell(reader, PlannedStarts((1, 2), screen))
    assert system.ask(screen, "answers?", 2) == [((1, None), (2, None))]  # nothing read yet
    now = time.time()
    slot = int(now // SLOT_SECONDS * SLOT_SECONDS)
    plan = Plan(10, 1, slot, (0, 0, 1) + (0,) * (SLOTS - 3))  # on in two slots
    system.tell(reader, PlansRead(plans=(plan,), full=True, last_id=10, at=now))
    answers = system.ask(screen, "answers?", 2)
    assert answers[1:] == [((1, slot + 2 * SLOT_SECONDS), (2, None))]
    system.tell(reader, PlansRead(plans=(Plan(11, 3, slot, (1,) * SLOTS),), last_id=11, at=now))
    assert len(system.ask(screen, "answers?", 2)) == 2  # another machine's plan: not again


def test_a_large_ems_run_reaches_every_equipment_once_in_chunks_and_a_new_plan_still_counts(
    system: ActorSystem,
) -> None:
    """1200 decisions go out 500 at a time (`actors/chunked.py`); a plan read within the same
    slot is looked at for its own machines only, and its new decision still goes out."""
    reader = system.createActor(PlanReader)
    devices = {e: system.createActor(Device) for e in range(1, 1201)}
    system.tell(reader, PlanTargets(tuple(devices.items())))
    now = time.time()
    slot = int(now // SLOT_SECONDS * SLOT_SECONDS)
    plans = tuple(Plan(e, e, slot, (1,) * SLOTS) for e in devices)
    system.tell(reader, PlansRead(plans=plans, full=True, last_id=1200, at=now))
    got = {e: system.ask(actor, "decisions?", 2) for e, actor in devices.items()}
    assert got == {e: [(e, True)] for e in devices}
    system.tell(reader, PlansRead(plans=(Plan(1201, 7, slot, (0,) * SLOTS),), last_id=1201, at=now))
    if time.time() < slot + SLOT_SECONDS:  # (a boundary crossed meanwhile sends every one again)
        assert system.ask(devices[7], "decisions?", 2) == [(7, True), (7, False)]
        assert system.ask(devices[8], "decisions?", 2) == [(8, True)]
