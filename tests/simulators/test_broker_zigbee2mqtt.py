"""The simulated Zigbee2MQTT bridge and plug against the real Mosquitto."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from simulators.appliance import Appliance
from simulators.zigbee2mqtt import SimulatedZigbee2Mqtt, ZigbeePlug
from tests.simulators.conftest import Probe, retained_under

pytestmark = pytest.mark.integration

BridgeFactory = Callable[..., SimulatedZigbee2Mqtt]
NAME = "garage/washer"


@pytest.fixture
def make_bridge(broker: tuple[str, int], prefix: str, probe: Probe) -> Iterator[BridgeFactory]:
    """Start a bridge with plug ``garage/washer`` and wait for the plug's first state."""
    bridges: list[SimulatedZigbee2Mqtt] = []

    def make(*plugs: ZigbeePlug | str, **kwargs: object) -> SimulatedZigbee2Mqtt:
        params: dict[str, object] = {
            "host": broker[0],
            "port": broker[1],
            "base": f"{prefix}/zigbee2mqtt",
        }
        params.update(kwargs)
        bridge = SimulatedZigbee2Mqtt(plugs or [NAME], **params)  # type: ignore[arg-type]
        bridges.append(bridge)
        mark = probe.mark()
        bridge.start()
        probe.wait_for(bridge.device_topic(NAME), since=mark)
        return bridge

    yield make
    for bridge in bridges:
        bridge.stop()


def test_set_answers_with_the_state(make_bridge: BridgeFactory, probe: Probe) -> None:
    bridge = make_bridge(ZigbeePlug(NAME, Appliance("continuous", rated_power_w=1000.0)))
    mark = probe.mark()
    probe.publish(bridge.device_topic(NAME, "set"), '{"state":"ON"}')
    state = probe.wait_for(bridge.device_topic(NAME), since=mark)
    body = json.loads(state.payload)
    assert (body["state"], body["power"], body["voltage"]) == ("ON", 1000.0, 230)
    assert not state.retain
    assert bridge.plug_on(NAME) and bridge.relay_on
    mark = probe.mark()
    probe.publish(bridge.device_topic(NAME, "get"), '{"state":""}')
    assert (
        json.loads(probe.wait_for(bridge.device_topic(NAME), since=mark).payload)["state"] == "ON"
    )
    assert [c for _, c in bridge.commands] == ['{"state":"ON"}']


def test_availability_and_bridge_will(make_bridge: BridgeFactory, probe: Probe) -> None:
    bridge = make_bridge()
    bridge_state = f"{bridge.base}/bridge/state"
    availability = bridge.device_topic(NAME, "availability")
    assert [(m.payload, m.retain) for m in probe.on(bridge_state)] == [('{"state":"online"}', True)]
    assert [(m.payload, m.retain) for m in probe.on(availability)] == [('{"state":"online"}', True)]
    mark = probe.mark()
    bridge.set_available(NAME, False)
    assert probe.wait_for(availability, since=mark).payload == '{"state":"offline"}'
    mark = probe.mark()
    bridge.go_offline()
    will = probe.wait_for(bridge_state, since=mark)
    assert (will.payload, will.retain) == ('{"state":"offline"}', True)
    retained = retained_under(bridge.base)
    assert retained[bridge_state] == '{"state":"offline"}'
    assert f"{bridge.base}/bridge/devices" in retained


def test_legacy_availability(make_bridge: BridgeFactory, probe: Probe) -> None:
    bridge = make_bridge(legacy_availability=True)
    assert [m.payload for m in probe.on(f"{bridge.base}/bridge/state")] == ["online"]
    assert [m.payload for m in probe.on(bridge.device_topic(NAME, "availability"))] == ["online"]
    mark = probe.mark()
    bridge.go_offline()
    assert probe.wait_for(f"{bridge.base}/bridge/state", since=mark).payload == "offline"
