"""The simulated Tasmota plug against the real Mosquitto (127.0.0.1:1883)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from simulators.appliance import Appliance
from simulators.tasmota import SimulatedTasmotaPlug
from tests.simulators.conftest import Probe, retained_under

pytestmark = pytest.mark.integration

PlugFactory = Callable[..., SimulatedTasmotaPlug]


@pytest.fixture
def make_plug(broker: tuple[str, int], prefix: str, probe: Probe) -> Iterator[PlugFactory]:
    """Start a plug and wait until its boot messages (last: ``stat/<t>/POWER``) reached the probe,
    so that a test's ``probe.mark()`` only sees what comes after."""
    plugs: list[SimulatedTasmotaPlug] = []

    def make(**kwargs: object) -> SimulatedTasmotaPlug:
        params: dict[str, object] = {
            "host": broker[0],
            "port": broker[1],
            "full_topic": f"{prefix}/%prefix%/%topic%/",
        }
        params.update(kwargs)
        plug = SimulatedTasmotaPlug("A102", **params)  # type: ignore[arg-type]
        plugs.append(plug)
        mark = probe.mark()
        plug.start()
        probe.wait_for(plug.topic_for("stat", "POWER"), since=mark)
        return plug

    yield make
    for plug in plugs:
        plug.stop()


def test_power_order_gets_result_and_power(
    make_plug: PlugFactory, probe: Probe, prefix: str
) -> None:
    plug = make_plug(appliance=Appliance("continuous", rated_power_w=1500.0))
    mark = probe.mark()
    probe.publish(f"{prefix}/cmnd/A102/POWER", "ON")
    result = probe.wait_for(f"{prefix}/stat/A102/RESULT", since=mark)
    power = probe.wait_for(f"{prefix}/stat/A102/POWER", since=mark)
    assert result.payload == '{"POWER":"ON"}'
    assert power.payload == "ON"
    assert not result.retain
    assert not power.retain
    assert result.t <= power.t
    assert plug.relay_on
    assert plug.power_w() == 1500.0
    assert [c for _, c in plug.wait_for_commands(1)] == ["ON"]


def test_query_invalid_payload_and_error(make_plug: PlugFactory, probe: Probe, prefix: str) -> None:
    make_plug(relay_on=True)
    result_topic = f"{prefix}/stat/A102/RESULT"
    for payload, expected in [
        ("", '{"POWER":"ON"}'),
        ("?", '{"POWER":"ON"}'),
        ("not-a-state", '{"POWER":"ON"}'),
    ]:
        mark = probe.mark()
        probe.publish(f"{prefix}/cmnd/A102/POWER", payload)
        assert probe.wait_for(result_topic, since=mark).payload == expected
    mark = probe.mark()
    probe.publish(f"{prefix}/cmnd/A102/POWER2", "ON")
    assert probe.wait_for(result_topic, since=mark).payload == '{"Command":"Error"}'


def test_connect_publishes_retained_online_and_the_will_arrives(
    make_plug: PlugFactory, probe: Probe, prefix: str
) -> None:
    lwt = f"{prefix}/tele/A102/LWT"
    plug = make_plug()
    online = probe.wait_for(lwt)
    assert (online.payload, online.retain) == ("Online", True)
    assert probe.wait_for(f"{prefix}/cmnd/A102/POWER").payload == ""  # Tasmota's iobroker nod
    assert retained_under(prefix) == {lwt: "Online"}

    mark = probe.mark()
    started = time.monotonic()
    plug.go_offline()
    offline = probe.wait_for(lwt, since=mark)
    assert (offline.payload, offline.retain) == ("Offline", True)  # published by the broker
    assert time.monotonic() - started < 2.0
    assert not plug.online
    assert retained_under(prefix)[lwt] == "Offline"

    mark = probe.mark()
    probe.publish(f"{prefix}/cmnd/A102/POWER", "ON")  # lost: nobody listens
    plug.come_online()
    assert probe.wait_for(lwt, since=mark).payload == "Online"
    assert not plug.relay_on
    state = f"{prefix}/tele/A102/STATE"
    probe.publish(f"{prefix}/cmnd/A102/TelePeriod")
    wifi = json.loads(probe.wait_for(state, since=mark).payload)["Wifi"]
    assert wifi["LinkCount"] == 2


def test_power_retain_leaves_a_retained_power_state(
    make_plug: PlugFactory, probe: Probe, prefix: str
) -> None:
    plug = make_plug()
    plug.set_retained_state(True)
    mark = probe.mark()
    probe.publish(f"{prefix}/cmnd/A102/POWER", "ON")
    assert probe.wait_for(f"{prefix}/stat/A102/POWER", since=mark).retain
    assert not probe.wait_for(f"{prefix}/stat/A102/RESULT", since=mark).retain
    # The retained-ack trap: a late subscriber gets "ON" at once, whatever the device does now.
    retained = retained_under(prefix)
    assert retained[f"{prefix}/stat/A102/POWER"] == "ON"
    assert f"{prefix}/stat/A102/RESULT" not in retained
    plug.set_retained_state(False)  # Tasmota clears the retained POWER
    time.sleep(0.2)
    assert f"{prefix}/stat/A102/POWER" not in retained_under(prefix)


def test_telemetry_every_period_and_on_demand(
    make_plug: PlugFactory, probe: Probe, prefix: str
) -> None:
    make_plug(tele_period_s=0.4, relay_on=True, appliance=Appliance("continuous"))
    state_topic, sensor_topic = f"{prefix}/tele/A102/STATE", f"{prefix}/tele/A102/SENSOR"
    first = probe.wait_for(sensor_topic, timeout=3)
    second = probe.wait_for(sensor_topic, lambda m: m.t > first.t, timeout=3)
    assert 0.2 < second.t - first.t < 1.5
    energy = json.loads(second.payload)["ENERGY"]
    assert energy["Power"] == 2000
    assert set(energy) == {
        "TotalStartTime",
        "Total",
        "Yesterday",
        "Today",
        "Period",
        "Power",
        "ApparentPower",
        "ReactivePower",
        "Factor",
        "Voltage",
        "Current",
    }
    assert json.loads(probe.wait_for(state_topic).payload)["POWER"] == "ON"
    assert not probe.on(state_topic)[0].retain


def test_teleperiod_command_forces_telemetry(
    make_plug: PlugFactory, probe: Probe, prefix: str
) -> None:
    make_plug()  # default 30 s period: nothing periodic during this test
    mark = probe.mark()
    probe.publish(f"{prefix}/cmnd/A102/TelePeriod", "")
    reply = probe.wait_for(f"{prefix}/stat/A102/RESULT", since=mark)
    assert reply.payload == '{"TelePeriod":30}'
    probe.wait_for(f"{prefix}/tele/A102/STATE", since=mark)
    probe.wait_for(f"{prefix}/tele/A102/SENSOR", since=mark)


def test_button_press_is_reported(make_plug: PlugFactory, probe: Probe, prefix: str) -> None:
    plug = make_plug()
    mark = probe.mark()
    plug.press_button()
    assert probe.wait_for(f"{prefix}/stat/A102/POWER", since=mark).payload == "ON"
    assert plug.relay_on
    assert plug.commands == []  # a press is not a received order


def test_stuck_relay_and_dropped_commands(
    make_plug: PlugFactory, probe: Probe, prefix: str
) -> None:
    plug = make_plug()
    result_topic = f"{prefix}/stat/A102/RESULT"
    plug.respond_to_commands = False
    mark = probe.mark()
    probe.publish(f"{prefix}/cmnd/A102/POWER", "ON")
    plug.wait_for_commands(1)
    time.sleep(0.3)
    assert probe.on(result_topic, since=mark) == []
    assert not plug.relay_on

    plug.respond_to_commands = True
    plug.drop_next_commands(1)
    mark = probe.mark()
    probe.publish(f"{prefix}/cmnd/A102/POWER", "ON")
    probe.publish(f"{prefix}/cmnd/A102/POWER", "ON")
    probe.wait_for(result_topic, since=mark)
    time.sleep(0.2)
    assert len(probe.on(result_topic, since=mark)) == 1  # the first order was lost
    assert [c for _, c in plug.commands] == ["ON", "ON", "ON"]
