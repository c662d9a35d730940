"""The simulated Shelly Plug S (Gen1) against the real Mosquitto (127.0.0.1:1883)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from simulators.appliance import Appliance
from simulators.shelly_gen1 import SimulatedShellyPlug
from tests.simulators.conftest import Probe, retained_under

pytestmark = pytest.mark.integration

PlugFactory = Callable[..., SimulatedShellyPlug]


@pytest.fixture
def make_plug(broker: tuple[str, int], prefix: str, probe: Probe) -> Iterator[PlugFactory]:
    """Start a plug and wait until its connect report (last: ``overtemperature``) was seen."""
    plugs: list[SimulatedShellyPlug] = []

    def make(**kwargs: object) -> SimulatedShellyPlug:
        params: dict[str, object] = {"host": broker[0], "port": broker[1]}
        params.update(kwargs)
        plug = SimulatedShellyPlug(f"{prefix}/shellies/shellyplug-s-A101", **params)  # type: ignore[arg-type]
        plugs.append(plug)
        mark = probe.mark()
        plug.start()
        probe.wait_for(f"{plug.root}/overtemperature", since=mark)
        return plug

    yield make
    for plug in plugs:
        plug.stop()


def test_on_order_publishes_relay_power_energy(make_plug: PlugFactory, probe: Probe) -> None:
    plug = make_plug(appliance=Appliance("triggered", cycle_power_w=2000.0, cycle_s=3600.0))
    mark = probe.mark()
    probe.publish(f"{plug.root}/relay/0/command", "on")
    relay = probe.wait_for(f"{plug.root}/relay/0", since=mark)
    power = probe.wait_for(f"{plug.root}/relay/0/power", since=mark)
    energy = probe.wait_for(f"{plug.root}/relay/0/energy", since=mark)
    assert (relay.payload, power.payload) == ("on", "2000.00")
    assert energy.payload.isdigit()
    assert not (relay.retain or power.retain or energy.retain)  # mqtt_retain defaults to false
    assert plug.relay_on
    assert plug.commands[0][1] == "on"
    assert retained_under(plug.root) == {}


def test_ignored_payloads_change_nothing(make_plug: PlugFactory, probe: Probe) -> None:
    plug = make_plug()
    mark = probe.mark()
    for payload in ("ON", "1", "true", ""):
        probe.publish(f"{plug.root}/relay/0/command", payload)
    plug.wait_for_commands(4)
    time.sleep(0.2)
    assert probe.on(f"{plug.root}/relay/0", since=mark) == []
    assert not plug.relay_on


def test_online_true_then_will_false(make_plug: PlugFactory, probe: Probe) -> None:
    plug = make_plug()
    online = probe.on(f"{plug.root}/online")
    assert [(m.payload, m.retain) for m in online] == [("true", False)]
    mark = probe.mark()
    plug.go_offline()
    will = probe.wait_for(f"{plug.root}/online", since=mark)
    assert (will.payload, will.retain) == ("false", False)
    assert retained_under(plug.root) == {}  # nothing retained by default
    mark = probe.mark()
    plug.come_online()
    assert probe.wait_for(f"{plug.root}/online", since=mark).payload == "true"


def test_retained_flags_when_configured(make_plug: PlugFactory, probe: Probe) -> None:
    plug = make_plug(online_retain=True)
    plug.set_retained_state(True)  # mqtt_retain
    mark = probe.mark()
    probe.publish(f"{plug.root}/relay/0/command", "on")
    assert probe.wait_for(f"{plug.root}/relay/0", since=mark).retain
    retained = retained_under(plug.root)
    assert retained[f"{plug.root}/online"] == "true"
    assert retained[f"{plug.root}/relay/0"] == "on"  # the retained-ack trap
    mark = probe.mark()
    plug.go_offline()
    will = probe.wait_for(f"{plug.root}/online", since=mark)
    assert (will.payload, will.retain) == ("false", True)


def test_periodic_republish_and_update(make_plug: PlugFactory, probe: Probe) -> None:
    plug = make_plug(report_period_s=0.3, relay_on=True, appliance=Appliance("continuous"))
    relay_topic = f"{plug.root}/relay/0"
    mark = probe.mark()
    first = probe.wait_for(relay_topic, since=mark)
    second = probe.wait_for(relay_topic, lambda m: m.t > first.t, since=mark)
    assert 0.15 < second.t - first.t < 1.0
    assert second.payload == "on"
    energy = int(probe.wait_for(f"{plug.root}/relay/0/energy", lambda m: m.t >= second.t).payload)
    assert energy > 0  # 2000 W for a while: some watt-minutes

    plug.stop()
    quiet = make_plug(report_period_s=30.0)
    mark = probe.mark()
    probe.publish(f"{quiet.root}/command", "update")
    assert probe.wait_for(relay_topic, since=mark).payload == "off"


def test_announce_on_broadcast(make_plug: PlugFactory, probe: Probe, prefix: str) -> None:
    plug = make_plug()
    mark = probe.mark()
    probe.publish(f"{prefix}/shellies/command", "announce")
    group = json.loads(probe.wait_for(f"{prefix}/shellies/announce", since=mark).payload)
    own = json.loads(probe.wait_for(f"{plug.root}/announce", since=mark).payload)
    assert group == own
    assert group["id"] == "shellyplug-s-A101"


def test_button_stuck_relay_and_drops(make_plug: PlugFactory, probe: Probe) -> None:
    plug = make_plug()
    relay_topic = f"{plug.root}/relay/0"
    mark = probe.mark()
    plug.press_button()
    assert probe.wait_for(relay_topic, since=mark).payload == "on"

    plug.respond_to_commands = False
    mark = probe.mark()
    probe.publish(f"{plug.root}/relay/0/command", "off")
    plug.wait_for_commands(1)
    time.sleep(0.2)
    assert probe.on(relay_topic, since=mark) == []
    assert plug.relay_on

    plug.respond_to_commands = True
    plug.drop_next_commands(1)
    mark = probe.mark()
    probe.publish(f"{plug.root}/relay/0/command", "off")
    probe.publish(f"{plug.root}/relay/0/command", "off")
    assert probe.wait_for(relay_topic, since=mark).payload == "off"
    assert len(plug.commands) == 3
