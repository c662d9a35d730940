"""Introspection through the Supervisor, on simpleSystemBase: the actor tree with each actor's
uptime and messages handled, an equipment's pending timers (the Clock's) and its next planned
decisions (the PlanReader's), and the combined view `inspect` and `replay --inspect-at` show."""

from __future__ import annotations

import time
from typing import Any

from thespian.actors import ActorSystem, ActorTypeDispatcher

from actors.clock import Clock
from actors.db_gateway import DbGateway
from actors.device import DeviceActor
from actors.mqtt_gateway import MqttGateway
from actors.plan_reader import PlanReader
from actors.supervisor import Supervisor
from actors.vitals import Vital
from protocol import ems, introspection
from protocol.messages import Gateways, Introspect, IntrospectReply, SetTimer


class Adopting(Supervisor):
    """A Supervisor handed its gateways and equipment actors by the test (no inventory)."""

    def receiveMsg_tuple(self, message: tuple[Any, ...], sender: Any) -> None:
        self.gateways, self.devices = message
        self.send(sender, "adopted")


class Screens(Vital, ActorTypeDispatcher):
    """A directory with two children in the tree, like the screens' directory."""

    def __init__(self) -> None:
        super().__init__()
        self.children: list[tuple[str, Any]] = []

    def receiveMsg_str(self, message: str, sender: Any) -> None:
        if message == "spawn":
            self.children = [(f"screen {n}", self.createActor(Screen)) for n in ("g1", "g2")]
        self.send(sender, "ok")

    def vital_children(self) -> list[tuple[str, Any]]:
        return self.children


class Screen(Vital, ActorTypeDispatcher):
    pass


class Arming(Vital, ActorTypeDispatcher):
    """Stands for an equipment's actor: arms the timers it is told on the clock."""

    def receiveMsg_tuple(self, message: tuple[Any, ...], sender: Any) -> None:
        clock, timers = message
        for token, at in timers:
            self.send(clock, SetTimer(token, at))
        self.send(sender, "armed")

    def receiveMsg_Introspect(self, message: Introspect, sender: Any) -> None:
        heard = {"A102": {"last_seen": 1000.0}}
        self.send(message.reply_to, IntrospectReply({"state": {"devices": heard}, "events": []}))


class Planned(PlanReader):
    """A PlanReader holding the plans the test gives it (no database)."""

    def receiveMsg_dict(self, message: dict[int, tuple[ems.Plan, ...]], sender: Any) -> None:
        self.book = message
        self.send(sender, "held")


def ask(asys: ActorSystem, supervisor: Any, message: Introspect) -> dict[str, Any]:
    reply = asys.ask(supervisor, message, 5)
    assert isinstance(reply, IntrospectReply), reply
    return dict(reply.data)


def household(asys: ActorSystem) -> tuple[Any, dict[str, Any]]:
    actors = {
        "mqtt": asys.createActor(MqttGateway),
        "db": asys.createActor(DbGateway),
        "clock": asys.createActor(Clock),
        "plans": asys.createActor(Planned),
        "displays": asys.createActor(Screens),
        "washer": asys.createActor(DeviceActor),
        "tank": asys.createActor(Arming),
    }
    supervisor = asys.createActor(Adopting)
    gateways = Gateways(supervisor=supervisor, **{k: actors[k] for k in introspection.GATEWAYS})
    assert asys.ask(actors["displays"], "spawn", 5) == "ok"
    devices = {1: actors["washer"], 2: actors["tank"]}
    assert asys.ask(supervisor, (gateways, devices), 5) == "adopted"
    return supervisor, actors


def test_the_actor_tree_counts_what_each_actor_handled(system: ActorSystem) -> None:
    supervisor, actors = household(system)
    tree = ask(system, supervisor, Introspect(actors=True))["supervisor"]
    children = tree["children"]
    assert list(children) == [*introspection.GATEWAYS, "equipment 1", "equipment 2"]
    assert list(children["displays"]["children"]) == ["screen g1", "screen g2"]
    assert all(entry["uptime_s"] >= 0 for entry in children.values())
    assert children["equipment 1"]["messages"] == 1  # the census itself
    assert children["displays"]["messages"] == 2  # "spawn", then the census
    for _ in range(3):
        system.tell(actors["washer"], "noise")  # three more messages handled
    later = ask(system, supervisor, Introspect(actors=True))["supervisor"]["children"]
    assert later["equipment 1"]["messages"] == 1 + 3 + 1
    assert later["displays"]["children"]["screen g1"]["messages"] == 2  # two censuses


def test_an_equipment_shows_its_own_timers_and_its_next_decisions(system: ActorSystem) -> None:
    supervisor, actors = household(system)
    now = time.time()
    timers = [("ack", now + 10), ("stale:A102", now + 600)]
    assert system.ask(actors["tank"], (actors["clock"], timers), 5) == "armed"
    first = ems.next_boundary(now)
    plan = ems.Plan(100, 2, first, (1, 0) + (0,) * (ems.SLOTS - 2))
    assert system.ask(actors["plans"], {2: (plan,)}, 5) == "held"

    def asked(message: Introspect) -> dict[str, Any]:
        return ask(system, supervisor, message)

    view = introspection.view(asked, {"equipment": 2}, now)
    assert view["events"] == []  # the equipment's own answer, with what is inside it
    inside = view["inside"]
    assert [(t["token"], t["in_s"]) for t in inside["timers"]] == [("ack", 10), ("stale:A102", 600)]
    decisions = inside["next_decisions"]
    assert len(decisions) == introspection.NEXT_SLOTS
    assert decisions[0] == {"slot": introspection.stamp(first), "on": True, "plan": 100}
    assert decisions[1]["on"] is False and decisions[2]["on"] is False
    washer = introspection.view(asked, {"equipment": 1}, now)["inside"]
    assert washer["timers"] == []  # the tank's timers are not the washer's
    assert {d["on"] for d in washer["next_decisions"]} == {None}  # no plan for it
    assert introspection.view(asked, {"equipment": 2}, 1012.5)["inside"]["report_age_s"] == {
        "A102": 12.5
    }
    assert "error" in introspection.view(asked, {"equipment": 9}, now)
