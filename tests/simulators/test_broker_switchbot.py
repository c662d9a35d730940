"""The simulated SwitchBot gateway (devWaves mqtt2ble v7) against the real Mosquitto."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from simulators.appliance import Appliance
from simulators.switchbot import Bot, SimulatedSwitchBot
from tests.simulators.conftest import Probe, retained_under

pytestmark = pytest.mark.integration

GatewayFactory = Callable[..., SimulatedSwitchBot]


@pytest.fixture
def make_gateway(broker: tuple[str, int], prefix: str, probe: Probe) -> Iterator[GatewayFactory]:
    """Start a gateway with bot C003 and wait for its ``lastwill`` = ``online``."""
    gateways: list[SimulatedSwitchBot] = []

    def make(bots: list[Bot | str] | None = None, **kwargs: object) -> SimulatedSwitchBot:
        params: dict[str, object] = {
            "host": broker[0],
            "port": broker[1],
            "ble_delay_s": 0.2,
            "wait_between_s": 0.1,
        }
        params.update(kwargs)
        gateway = SimulatedSwitchBot(
            f"{prefix}/switchbot/C002",
            bots or ["C003"],
            **params,  # type: ignore[arg-type]
        )
        gateways.append(gateway)
        mark = probe.mark()
        gateway.start()
        probe.wait_for(f"{gateway.base}/lastwill", since=mark)
        return gateway

    yield make
    for gateway in gateways:
        gateway.stop()


def test_press_answers_connected_command_sent_success(
    make_gateway: GatewayFactory, probe: Probe
) -> None:
    machine = Appliance("pressable", cycle_power_w=2000.0, cycle_s=60.0)
    machine.set_powered(True, 0.0)
    gateway = make_gateway([Bot("C003", target=machine.press)])
    status = gateway.bot_topic("C003", "status")
    mark = probe.mark()
    probe.publish(gateway.bot_topic("C003", "set"), "PRESS", qos=0)
    success = probe.wait_for(status, lambda m: "success" in m.payload, since=mark)
    answers = probe.on(status, since=mark)
    assert [json.loads(m.payload) for m in answers] == [
        {"status": "connected", "command": "PRESS"},
        {"status": "commandSent", "command": "PRESS"},
        {"status": "success", "value": 5, "command": "PRESS"},
    ]
    assert success.payload == '{"status":"success","value":5,"command":"PRESS"}'
    assert success.t - answers[0].t >= 0.15  # the BLE delay
    assert not any(m.retain for m in answers)
    state = probe.on(gateway.bot_topic("C003", "state"), since=mark)
    assert [(m.payload, m.retain) for m in state] == [("OFF", True)]
    assert machine.phase(success.t + 0.1) == "running"
    assert len(gateway.presses("C003")) == 1
    assert [c for _, c in gateway.commands] == ["PRESS"]


def test_lastwill_online_retained_then_will_offline(
    make_gateway: GatewayFactory, probe: Probe
) -> None:
    gateway = make_gateway(lastwill_period_s=0.3)
    lastwill = f"{gateway.base}/lastwill"
    first = probe.on(lastwill)[0]
    assert (first.payload, first.retain) == ("online", True)
    again = probe.wait_for(lastwill, lambda m: m.t > first.t + 0.2)
    assert (again.payload, again.retain) == ("online", True)
    boot = [m.payload for m in probe.on(gateway.base)]
    assert boot[:2] == ['{"status":"boot"}', '{"status":"idle"}']
    attributes = probe.wait_for(gateway.bot_topic("C003", "attributes"))
    assert json.loads(attributes.payload) == {
        "rssi": -78,
        "mode": "Press",
        "state": "OFF",
        "batt": 94,
    }
    mark = probe.mark()
    gateway.go_offline()
    will = probe.wait_for(lastwill, since=mark)
    assert (will.payload, will.retain) == ("offline", True)
    assert retained_under(gateway.base)[lastwill] == "offline"


def test_faults_over_the_broker(make_gateway: GatewayFactory, probe: Probe) -> None:
    gateway = make_gateway()
    status = gateway.bot_topic("C003", "status")
    gateway.fail_next("errorConnect")
    mark = probe.mark()
    probe.publish(gateway.bot_topic("C003", "set"), "PRESS", qos=0)
    answer = probe.wait_for(status, since=mark)
    assert answer.payload == '{"status":"errorConnect","command":"PRESS"}'
    gateway.busy_next(1)
    mark = probe.mark()
    probe.publish(gateway.bot_topic("C003", "set"), "PRESS", qos=0)
    probe.wait_for(status, lambda m: "success" in m.payload, since=mark)
    seen = [json.loads(m.payload)["status"] for m in probe.on(status, since=mark)]
    assert seen == ["connected", "commandSent", "busy", "success"]
    mark = probe.mark()
    probe.publish(gateway.bot_topic("C003", "set"), "NOPE", qos=0)
    assert probe.wait_for(status, since=mark).payload == (
        '{"status":"errorCommand","command":"NOTVALID"}'
    )
    assert len(gateway.presses("C003")) == 1
