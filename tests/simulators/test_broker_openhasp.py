"""The simulated openHASP screen against the real Mosquitto."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from simulators.household import SimulatedHousehold
from simulators.openhasp import SimulatedOpenHasp
from tests.simulators.conftest import Probe, retained_under

pytestmark = pytest.mark.integration

ScreenFactory = Callable[..., SimulatedOpenHasp]


@pytest.fixture
def make_screen(broker: tuple[str, int], prefix: str, probe: Probe) -> Iterator[ScreenFactory]:
    screens: list[SimulatedOpenHasp] = []

    def make(**kwargs: object) -> SimulatedOpenHasp:
        params: dict[str, object] = {"host": broker[0], "port": broker[1]}
        params.update(kwargs)
        screen = SimulatedOpenHasp(f"{prefix}/hasp/g001", **params)  # type: ignore[arg-type]
        screens.append(screen)
        mark = probe.mark()
        screen.start()
        probe.wait_for(f"{screen.root}/state/statusupdate", since=mark)
        return screen

    yield make
    for screen in screens:
        screen.stop()


def test_birth_status_and_retained_online(make_screen: ScreenFactory, probe: Probe) -> None:
    screen = make_screen()
    lwt = probe.wait_for(f"{screen.root}/LWT")
    assert (lwt.payload, lwt.retain) == ("online", True)
    status = json.loads(probe.wait_for(f"{screen.root}/state/statusupdate").payload)
    assert status["node"] == "g001" and status["uptime"] == 0
    assert retained_under(screen.root) == {f"{screen.root}/LWT": "online"}


def test_jsonl_commands_change_the_objects(make_screen: ScreenFactory, probe: Probe) -> None:
    screen = make_screen()
    probe.publish(
        f"{screen.root}/command/jsonl",
        '{"page":3,"id":10,"bg_color":"#FF0000"}\n{"page":3,"id":3,"val":1}',
    )
    screen.wait_until(lambda core: core.prop(3, 3, "val") == 1)
    assert screen.prop(3, 10, "bg_color") == "#FF0000"
    assert "b3 on" in screen.text_view() and "●#FF0000" in screen.text_view()
    mark = probe.mark()
    probe.publish(f"{screen.root}/command/statusupdate", "")
    probe.wait_for(f"{screen.root}/state/statusupdate", since=mark)


def test_touches_reach_the_broker(make_screen: ScreenFactory, probe: Probe) -> None:
    screen = make_screen()
    mark = probe.mark()
    screen.touch_switch(3, 3, 1)
    up = probe.wait_for(f"{screen.root}/state/p3b3", lambda m: '"up"' in m.payload, since=mark)
    assert json.loads(up.payload) == {"event": "up", "val": 1} and not up.retain
    screen.touch_roller(3, 8, 14)
    changed = probe.wait_for(f"{screen.root}/state/p3b8", since=mark)
    assert json.loads(changed.payload) == {"event": "changed", "val": 14, "text": "14h"}


def test_reboot_publishes_offline_then_forgets(make_screen: ScreenFactory, probe: Probe) -> None:
    screen = make_screen(version="0.6.3")
    probe.publish(f"{screen.root}/command/jsonl", '{"page":3,"id":3,"val":1}')
    screen.wait_until(lambda core: core.prop(3, 3, "val") == 1)
    mark = probe.mark()
    screen.reboot()
    probe.wait_for(f"{screen.root}/LWT", lambda m: m.payload == "online", since=mark)
    lwt = [m.payload for m in probe.on(f"{screen.root}/LWT", since=mark)]
    assert lwt == ["offline", "online"]
    assert screen.prop(3, 3, "val") == 0


def test_fast_reboot_gives_online_without_offline(make_screen: ScreenFactory, probe: Probe) -> None:
    screen = make_screen()
    probe.publish(f"{screen.root}/command/jsonl", '{"page":3,"id":3,"val":1}')
    screen.wait_until(lambda core: core.prop(3, 3, "val") == 1)
    mark = probe.mark()
    screen.fast_reboot()
    status = probe.wait_for(f"{screen.root}/state/statusupdate", since=mark)
    assert json.loads(status.payload)["uptime"] == 0
    assert [m.payload for m in probe.on(f"{screen.root}/LWT", since=mark)] == ["online"]
    assert screen.prop(3, 3, "val") == 0


def test_household_kind_openhasp(broker: tuple[str, int], prefix: str, probe: Probe) -> None:
    specs = [{"kind": "openhasp", "node": "g002", "version": "0.6.3"}]
    household = SimulatedHousehold.from_specs(*broker, specs, topic_prefix=f"{prefix}/")
    with household:
        probe.wait_for(f"{prefix}/hasp/g002/LWT", lambda m: m.payload == "online")
        assert isinstance(household["g002"], SimulatedOpenHasp)
