"""The DisplayActor on simpleSystemBase: what it sends for what the screen publishes and for
changes made elsewhere (the gateways are one recorder)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from thespian.actors import ActorSystem

from actors.display import DisplayActor
from protocol import messages as m
from protocol.config import ScreensConfig
from protocol.screens.state import ScreenEquipment, ScreenSpec, ScreenUpdate
from tests.actors.test_device_actor import Recorder, received

ROOT = "hasp/g001"
SPEC = ScreenSpec("G001", "g001", ROOT, f"{ROOT}/command/jsonl", "R001")
WASHER = ScreenEquipment(12, 112, "lave-linge", mode=30, command_state=11, cycle_s=5400)
TANK = ScreenEquipment(15, 131, "ballon", mode=30, command_state=11)


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    asys = ActorSystem("simpleSystemBase")
    yield asys
    asys.shutdown()


def start(asys: ActorSystem) -> tuple[Any, Any]:
    gateway = asys.createActor(Recorder)
    display = asys.createActor(DisplayActor)
    gateways = m.Gateways(
        supervisor=gateway, mqtt=gateway, db=gateway, clock=gateway, plans=gateway,
        displays=gateway,
    )  # fmt: skip
    init = m.ScreenInit(SPEC, (12, 15), ScreensConfig(), "elfe", gateways, time.time())
    asys.tell(display, init)
    asys.tell(display, m.ScreenHousehold("R001", (WASHER, TANK)))
    return display, gateway


def raw(topic: str, payload: str, retained: bool = False) -> m.RawMessages:
    message = m.RawMessage(f"{ROOT}/{topic}", payload.encode(), retained, time.time())
    return m.RawMessages((message,))


def publishes(got: list[Any], topic: str = f"{ROOT}/command/jsonl") -> list[list[Any]]:
    return [
        [json.loads(line) for line in x.payload.split(b"\n")]
        for x in got
        if isinstance(x, m.Publish) and x.topic == topic
    ]


def test_subscribes_exact_topics_and_reads_its_household(system: ActorSystem) -> None:
    display, gateway = start(system)
    got = received(system, gateway)
    routes = next(x for x in got if isinstance(x, m.RegisterRoutes))
    topics = [r.topic for r in routes.routes]
    assert routes.owner == "screen:g001" and all(r.raw for r in routes.routes)
    assert topics[:2] == [f"{ROOT}/LWT", f"{ROOT}/state/statusupdate"]
    assert f"{ROOT}/state/p3b8" in topics and "elfe/screen/g001/set" in topics
    assert not any("+" in t or "#" in t for t in topics)
    assert m.LoadScreenHousehold("R001", (12, 15), display) in got


def test_online_draws_everything_once_the_burst_is_over(system: ActorSystem) -> None:
    display, gateway = start(system)
    system.tell(display, raw("LWT", "online", retained=True))
    system.tell(display, raw("state/statusupdate", '{"uptime": 50}'))
    got = received(system, gateway)
    assert [x.token for x in got if isinstance(x, m.SetTimer)].count("draw") == 1
    assert publishes(got) == []  # nothing before the timer
    indicators = [x.payload for x in got if isinstance(x, m.Publish) and "INDICATEURS" in x.topic]
    assert indicators == [b"g001"]
    system.tell(display, m.TimerFired("draw", time.time()))
    drawn = [line for publish in publishes(received(system, gateway)) for line in publish]
    assert {(x["page"], x["id"]) for x in drawn} >= {(3, 10), (6, 10), (8, 13), (8, 16), (9, 8)}
    assert not any(x.retain for x in received(system, gateway) if isinstance(x, m.Publish))


def test_touches_become_requests(system: ActorSystem) -> None:
    display, gateway = start(system)
    system.tell(display, raw("state/p3b3", '{"event":"up","val":0}'))
    system.tell(display, raw("state/p3b5", '{"event":"changed","val":2}'))
    system.tell(display, raw("state/p3b5", '{"event":"changed","val":99}'))  # out of range
    system.tell(display, raw("state/p3b3", '{"event":"up","val":1}', retained=True))
    got = received(system, gateway)
    modes = [x for x in got if isinstance(x, m.ModeRequested)]
    assert [(x.equipment, x.mode, x.source) for x in modes] == [(12, 20, "screen")]
    writes = [x.update for x in got if isinstance(x, m.WriteScreenUpdate)]
    assert writes == [ScreenUpdate(12, cycle_s=2 * 3600 + 1800)]


def test_changes_elsewhere_redraw_one_page_per_burst(system: ActorSystem) -> None:
    display, gateway = start(system)
    now = time.time()
    for state in (21, 12, 13):
        system.tell(display, m.EquipmentShown(15, "R001", 20, state, "why", now))
    system.tell(display, m.ScreenChanged("R001", ScreenUpdate(12, cycle_s=3600), now))
    got = received(system, gateway)
    assert [x.token for x in got if isinstance(x, m.SetTimer)].count("draw") == 1
    system.tell(display, m.TimerFired("draw", time.time()))
    (publish,) = publishes(received(system, gateway))
    assert {x["page"] for x in publish} == {3, 6, 8}
    assert {"page": 6, "id": 10, "bg_color": "#FF0000"} in publish
    assert {"page": 3, "id": 5, "val": 1} in publish


def test_a_written_declaration_is_shared_with_the_household(system: ActorSystem) -> None:
    display, gateway = start(system)
    update = ScreenUpdate(12, cycle_s=3600)
    system.tell(display, m.ScreenUpdateWritten(update, None, time.time()))
    changed = [x for x in received(system, gateway) if isinstance(x, m.ScreenChanged)]
    assert [(x.household, x.update) for x in changed] == [("R001", update)]


def test_uptime_going_down_is_a_reboot(system: ActorSystem) -> None:
    display, gateway = start(system)
    system.tell(display, raw("LWT", "online", retained=True))
    system.tell(display, m.TimerFired("draw", time.time()))
    system.tell(display, raw("state/statusupdate", '{"uptime": 4000}'))
    system.tell(display, raw("state/statusupdate", '{"uptime": 4300}'))
    before = len(publishes(received(system, gateway)))
    system.tell(display, raw("state/statusupdate", '{"uptime": 12}'))  # rebooted, no LWT seen
    system.tell(display, m.TimerFired("draw", time.time()))
    drawn = publishes(received(system, gateway))[before:]
    assert {(x["page"], x["id"]) for p in drawn for x in p} >= {(3, 10), (6, 10), (9, 8)}


def test_a_household_not_read_is_read_again(system: ActorSystem) -> None:
    display, gateway = start(system)
    system.tell(display, m.ScreenHousehold("R001", (), "coordination database unreachable"))
    timers = [x for x in received(system, gateway) if isinstance(x, m.SetTimer)]
    assert "load" in [x.token for x in timers]
    before = len([x for x in received(system, gateway) if isinstance(x, m.LoadScreenHousehold)])
    system.tell(display, m.TimerFired("load", time.time()))
    after = [x for x in received(system, gateway) if isinstance(x, m.LoadScreenHousehold)]
    assert len(after) == before + 1
