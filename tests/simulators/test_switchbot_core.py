"""The devWaves SwitchBot gateway logic without a broker: press sequence, queue, faults."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.appliance import Appliance
from simulators.core import Publish, Subscribe
from simulators.switchbot import Bot, SwitchBotCore

BASE = "t5f3/switchbot/C002"
SET = f"{BASE}/bot/C003/set"
STATUS = f"{BASE}/bot/C003/status"
T0 = 1_700_000_000.0


def core(**kwargs: object) -> SwitchBotCore:
    params: dict[str, object] = {"now": T0, "ble_delay_s": 2.0, "wait_between_s": 2.0}
    params.update(kwargs)
    bots = params.pop("bots", ["C003"])
    c = SwitchBotCore(BASE, bots, **params)  # type: ignore[arg-type]
    c.connect_sequence(T0, initial=True)
    c.tick(T0 + c.ble_delay_s)  # the boot scan's attributes
    return c


def statuses(pubs: list[Publish], topic: str = STATUS) -> list[dict[str, object]]:
    return [json.loads(p.payload) for p in pubs if p.topic == topic]


def run(c: SwitchBotCore, until: float, step: float = 0.1) -> list[Publish]:
    """Tick the core every ``step`` seconds up to ``until``."""
    out: list[Publish] = []
    t = T0
    while t <= until + 1e-9:
        out += c.tick(t)
        t += step
    return out


def test_connect_sequence_and_will() -> None:
    c = SwitchBotCore(BASE, ["C003", "C004"], now=T0)
    sub, boot, idle, lastwill = c.connect_sequence(T0, initial=True)
    assert sub == Subscribe((SET, f"{BASE}/bot/C004/set", f"{BASE}/requestInfo"))
    assert (boot.topic, boot.payload) == (BASE, '{"status":"boot"}')
    assert idle.payload == '{"status":"idle"}'
    assert lastwill == Publish(f"{BASE}/lastwill", "online", retain=True)
    assert c.will() == Publish(f"{BASE}/lastwill", "offline", retain=True)
    attributes = c.tick(T0 + 2.0)
    assert [(p.topic, p.payload) for p in attributes] == [
        (f"{BASE}/bot/C003/attributes", '{"rssi":-78,"mode":"Press","state":"OFF","batt":94}'),
        (f"{BASE}/bot/C004/attributes", '{"rssi":-78,"mode":"Press","state":"OFF","batt":94}'),
    ]
    # A reconnection does not boot again.
    assert [a for a in c.connect_sequence(T0 + 5, initial=False) if isinstance(a, Publish)] == [
        lastwill
    ]


def test_press_connected_command_sent_then_success_after_the_ble_delay() -> None:
    presses: list[float] = []
    c = core(bots=[Bot("C003", target=presses.append)])
    out = c.handle(SET, b"PRESS", T0 + 10)
    assert Publish(f"{BASE}/bot/C003/state", "OFF", retain=True) in out
    assert Publish(BASE, '{"status":"controlling"}') in out
    assert statuses(out) == [
        {"status": "connected", "command": "PRESS"},
        {"status": "commandSent", "command": "PRESS"},
    ]
    assert c.tick(T0 + 11.9) == []
    done = c.tick(T0 + 12.0)
    assert statuses(done) == [{"status": "success", "value": 5, "command": "PRESS"}]
    assert done[0].payload == '{"status":"success","value":5,"command":"PRESS"}'
    assert Publish(BASE, '{"status":"idle"}') in done
    assert presses == [T0 + 12.0]
    assert not any(p.retain for p in done)
    attributes = c.tick(T0 + 22.0)  # scanAfterControl
    assert [p.topic for p in attributes] == [f"{BASE}/bot/C003/attributes"]


def test_on_and_off_act_as_a_press() -> None:
    appliance = Appliance("pressable", cycle_s=60.0)
    appliance.set_powered(True, T0)
    c = core(bots=[Bot("C003", target=appliance.press)])
    c.handle(SET, b"ON", T0)
    out = c.tick(T0 + 2.0)
    assert statuses(out) == [{"status": "success", "value": 1, "command": "ON"}]
    assert appliance.running(T0 + 2.0)
    c.handle(SET, b"OFF", T0 + 10)
    c.tick(T0 + 12.0)
    assert appliance.phase(T0 + 12.0) == "paused"  # a press, whatever the word


def test_commands_queue_one_at_a_time_with_a_wait_between() -> None:
    c = core()
    first = c.handle(SET, b"PRESS", T0 + 10)
    second = c.handle(SET, b"PRESS", T0 + 10.5)
    assert len(statuses(first)) == 2
    assert statuses(second) == []  # waits for the first
    out = run(c, T0 + 20)
    steps = [(s["status"], p.topic) for p in out for s in statuses([p])]
    assert [s for s, _ in steps] == ["success", "connected", "commandSent", "success"]
    assert len(c.bots["C003"].presses) == 2
    gap = c.bots["C003"].presses[1] - c.bots["C003"].presses[0]
    assert gap == pytest.approx(2.0 + 2.0, abs=0.15)  # wait, then the BLE delay
    assert not c.busy


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("errorConnect", [{"status": "errorConnect", "command": "PRESS"}]),
        (
            "failed",
            [
                {"status": "connected", "command": "PRESS"},
                {"status": "commandSent", "command": "PRESS"},
                {"status": "failed", "value": 9, "command": "PRESS"},
            ],
        ),
        (
            "lowbattery",
            [
                {"status": "connected", "command": "PRESS"},
                {"status": "commandSent", "command": "PRESS"},
                {"status": "lowbattery", "value": 6, "command": "PRESS"},
            ],
        ),
    ],
)
def test_fail_next_presses_nothing(fault: str, expected: list[dict[str, object]]) -> None:
    presses: list[float] = []
    c = core(bots=[Bot("C003", target=presses.append)])
    c.fail_next(fault)
    out = c.handle(SET, b"PRESS", T0 + 10) + run(c, T0 + 13)
    assert statuses(out) == expected
    assert presses == []
    battery = [p.payload for p in out if p.topic == f"{BASE}/bot/C003/battery"]
    assert battery == (["1"] if fault == "lowbattery" else [])
    # Only the next press fails.
    out = c.handle(SET, b"PRESS", T0 + 20) + run(c, T0 + 23)
    assert statuses(out)[-1]["status"] == "success"
    assert len(presses) == 1


def test_busy_next_then_success() -> None:
    c = core()
    c.busy_next(2)
    out = c.handle(SET, b"PRESS", T0 + 10) + run(c, T0 + 17)
    assert [s["status"] for s in statuses(out)] == [
        "connected",
        "commandSent",
        "busy",
        "busy",
        "success",
    ]
    assert statuses(out)[2] == {"status": "busy", "value": 3, "command": "PRESS"}
    assert c.bots["C003"].presses == [pytest.approx(T0 + 16.0, abs=0.15)]


def test_faults_can_target_one_bot() -> None:
    c = core(bots=["C003", "C004"])
    c.fail_next("failed", bot="C004")
    out = c.handle(SET, b"PRESS", T0 + 10) + run(c, T0 + 13)
    assert statuses(out)[-1]["status"] == "success"
    out = c.handle(f"{BASE}/bot/C004/set", b"PRESS", T0 + 20) + run(c, T0 + 23)
    assert statuses(out, f"{BASE}/bot/C004/status")[-1]["status"] == "failed"
    with pytest.raises(ValueError):
        c.fail_next("explode")
    with pytest.raises(KeyError):
        c.busy_next(1, bot="C999")


def test_other_payloads() -> None:
    c = core()
    assert statuses(c.handle(SET, b"press", T0)) == [
        {"status": "errorCommand", "command": "NOTVALID"}
    ]
    for ignored in (b"MODEPRESS", b"5", b"STATEON", b"GETSETTINGS"):
        assert c.handle(SET, ignored, T0) == []
    attributes = f"{BASE}/bot/C003/attributes"
    assert c.handle(SET, b"REQUESTINFO", T0 + 30) == []
    assert attributes not in [p.topic for p in c.tick(T0 + 31)]
    assert attributes in [p.topic for p in c.tick(T0 + 32)]
    assert c.handle(f"{BASE}/requestInfo", b'{"id":"C003"}', T0 + 40) == []
    assert [p.topic for p in c.tick(T0 + 42)] == [attributes]
    assert c.handle(f"{BASE}/requestInfo", b'{"id":"nope"}', T0 + 50) == [
        Publish(BASE, '{"status":"errorJSONId"}')
    ]
    assert c.handle(f"{BASE}/bot/C999/set", b"PRESS", T0) == []
    assert c.is_relay_order(SET)
    assert not c.is_relay_order(f"{BASE}/requestInfo")


def test_stuck_and_dropped_commands() -> None:
    c = core()
    c.drop_next_commands(1)
    assert c.handle(SET, b"PRESS", T0) == []
    c.respond_to_commands = False
    assert c.handle(SET, b"PRESS", T0) == []
    assert statuses(run(c, T0 + 10)) == []
    assert c.bots["C003"].presses == []


def test_lastwill_online_every_period_and_periodic_attributes() -> None:
    c = core(lastwill_period_s=30.0, attributes_period_s=600.0)
    out = run(c, T0 + 601, step=1.0)
    lastwill = [p for p in out if p.topic == f"{BASE}/lastwill"]
    assert len(lastwill) == 20
    assert all(p.payload == "online" and p.retain for p in lastwill)
    assert [p.topic for p in out if p.topic.endswith("/attributes")] == [
        f"{BASE}/bot/C003/attributes"
    ]


@given(
    arrivals=st.lists(st.floats(0.0, 30.0), min_size=1, max_size=8),
    busy=st.integers(0, 3),
)
def test_every_press_gets_exactly_one_final_answer_in_order(
    arrivals: list[float], busy: int
) -> None:
    c = core(ble_delay_s=0.5, wait_between_s=0.5, info_after_control_s=1000.0)
    c.busy_next(busy)
    out: list[Publish] = []
    t = T0 + 10
    for dt in sorted(arrivals):
        out += c.tick(T0 + 10 + dt)
        t = T0 + 10 + dt
        out += c.handle(SET, b"PRESS", t)
    out += run(c, t + 10 * (len(arrivals) + busy + 1), step=0.25)
    finals = [s for s in statuses(out) if s["status"] not in ("connected", "commandSent", "busy")]
    assert finals == [{"status": "success", "value": 5, "command": "PRESS"}] * len(arrivals)
    presses = c.bots["C003"].presses
    assert all(b - a >= 0.5 + 0.5 - 1e-9 for a, b in pairwise(presses))
    assert not c.busy
