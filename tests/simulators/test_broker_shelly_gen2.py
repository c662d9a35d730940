"""The simulated Shelly Plus 1PM (Gen2) against the real Mosquitto."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from simulators.appliance import Appliance
from simulators.shelly_gen2 import SimulatedShellyPlus
from tests.simulators.conftest import Probe, retained_under

pytestmark = pytest.mark.integration

RelayFactory = Callable[..., SimulatedShellyPlus]


@pytest.fixture
def make_relay(broker: tuple[str, int], prefix: str, probe: Probe) -> Iterator[RelayFactory]:
    """Start a Plus 1PM with topic prefix ``<prefix>/D003`` and wait for its connect status."""
    relays: list[SimulatedShellyPlus] = []

    def make(**kwargs: object) -> SimulatedShellyPlus:
        params: dict[str, object] = {"host": broker[0], "port": broker[1]}
        params.update(kwargs)
        relay = SimulatedShellyPlus(f"{prefix}/D003", **params)  # type: ignore[arg-type]
        relays.append(relay)
        mark = probe.mark()
        relay.start()
        probe.wait_for(f"{relay.prefix}/events/rpc", since=mark)  # NotifyFullStatus
        return relay

    yield make
    for relay in relays:
        relay.stop()


def request(probe: Probe, relay: SimulatedShellyPlus, frame: dict[str, object]) -> None:
    probe.publish(f"{relay.prefix}/rpc", json.dumps(frame))


def test_switch_set_reply_status_and_notification(
    make_relay: RelayFactory, probe: Probe, prefix: str
) -> None:
    relay = make_relay(appliance=Appliance("continuous", rated_power_w=2400.0))
    src = f"{prefix}/controle/D003"
    mark = probe.mark()
    request(
        probe,
        relay,
        {"id": "on-1", "src": src, "method": "Switch.Set", "params": {"id": 0, "on": True}},
    )
    answer = probe.wait_for(f"{src}/rpc", since=mark)
    assert json.loads(answer.payload) == {
        "id": "on-1",
        "src": relay.device_id,
        "dst": src,
        "result": {"was_on": False},
    }
    assert '"id":"on-1"' in answer.payload  # compact JSON, what ELFE's substring test needs
    status = probe.wait_for(f"{relay.prefix}/status/switch:0", since=mark)
    body = json.loads(status.payload)
    assert (body["output"], body["apower"], body["source"]) == (True, 2400.0, "MQTT")
    notify = probe.wait_for(f"{relay.prefix}/events/rpc", since=mark)
    assert json.loads(notify.payload)["method"] == "NotifyStatus"
    assert not (answer.retain or status.retain or notify.retain)
    assert relay.relay_on and relay.power_w() == 2400.0
    mark = probe.mark()
    request(probe, relay, {"id": 2, "src": src, "method": "Switch.Set", "params": {"id": 0}})
    error = json.loads(probe.wait_for(f"{src}/rpc", since=mark).payload)
    assert error["id"] == 2 and error["error"]["code"] == -103


def test_online_retained_and_will(make_relay: RelayFactory, probe: Probe) -> None:
    relay = make_relay()
    online = probe.on(f"{relay.prefix}/online")
    assert [(m.payload, m.retain) for m in online] == [("true", True)]
    assert retained_under(relay.prefix) == {f"{relay.prefix}/online": "true"}
    mark = probe.mark()
    relay.go_offline()
    will = probe.wait_for(f"{relay.prefix}/online", since=mark)
    assert (will.payload, will.retain) == ("false", True)
    mark = probe.mark()
    relay.come_online()
    assert probe.wait_for(f"{relay.prefix}/online", since=mark).payload == "true"


def test_auto_on_switches_back_on(make_relay: RelayFactory, probe: Probe, prefix: str) -> None:
    relay = make_relay(relay_on=True, auto_on=True, auto_on_delay_s=0.4)
    mark = probe.mark()
    request(
        probe,
        relay,
        {"id": 1, "src": f"{prefix}/x", "method": "Switch.Set", "params": {"id": 0, "on": False}},
    )
    topic = f"{relay.prefix}/status/switch:0"
    off = probe.wait_for(topic, lambda m: '"output":false' in m.payload, since=mark)
    on = probe.wait_for(topic, lambda m: '"output":true' in m.payload, since=mark)
    assert 0.3 < on.t - off.t < 1.5
    assert json.loads(on.payload)["source"] == "timer"
    assert relay.relay_on
