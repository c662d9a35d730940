"""The Zigbee2MQTT bridge logic without a broker: set/get, state JSON, availability."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.appliance import Appliance
from simulators.core import Publish, Subscribe
from simulators.zigbee2mqtt import Zigbee2MqttCore, ZigbeePlug

BASE = "t5f3/zigbee2mqtt"
NAME = "garage/washer"
T0 = 1_700_000_000.0


def core(*plugs: ZigbeePlug | str, **kwargs: object) -> Zigbee2MqttCore:
    return Zigbee2MqttCore(BASE, plugs or [NAME], now=T0, **kwargs)  # type: ignore[arg-type]


def states(pubs: list[Publish], name: str = NAME) -> list[dict[str, object]]:
    return [json.loads(p.payload) for p in pubs if p.topic == f"{BASE}/{name}"]


def test_connect_sequence() -> None:
    c = core(ZigbeePlug(NAME, retain=True), "kitchen")
    sub, bridge, info, devices, *rest = c.connect_sequence(T0, initial=True)
    assert isinstance(sub, Subscribe)
    assert set(sub.topics) == {
        f"{BASE}/{n}/{s}" for n in (NAME, "kitchen") for s in ("set", "set/state", "get")
    }
    assert bridge == Publish(f"{BASE}/bridge/state", '{"state":"online"}', retain=True)
    assert isinstance(info, Publish) and info.retain
    assert json.loads(info.payload)["version"].startswith("2.")
    assert isinstance(devices, Publish)
    assert [d["friendly_name"] for d in json.loads(devices.payload)] == [
        "Coordinator",
        NAME,
        "kitchen",
    ]
    assert [(p.topic, p.payload, p.retain) for p in rest if isinstance(p, Publish)] == [
        (f"{BASE}/{NAME}/availability", '{"state":"online"}', True),
        (
            f"{BASE}/{NAME}",
            '{"state":"OFF","power":0.0,"energy":0.0,"voltage":230,"current":0.0,"linkquality":120}',
            True,
        ),
        (f"{BASE}/kitchen/availability", '{"state":"online"}', True),
        (
            f"{BASE}/kitchen",
            '{"state":"OFF","power":0.0,"energy":0.0,"voltage":230,"current":0.0,"linkquality":120}',
            False,
        ),
    ]
    assert c.will() == Publish(f"{BASE}/bridge/state", '{"state":"offline"}', retain=True)


def test_set_get_and_toggle() -> None:
    kettle = Appliance("continuous", rated_power_w=152.3)
    c = core(ZigbeePlug(NAME, kettle))
    out = c.handle(f"{BASE}/{NAME}/set", b'{"state":"ON"}', T0)
    assert states(out) == [
        {
            "state": "ON",
            "power": 152.3,
            "energy": 0.0,
            "voltage": 230,
            "current": 0.66,
            "linkquality": 120,
        }
    ]
    assert c.relay_on and kettle.powered
    assert states(c.handle(f"{BASE}/{NAME}/set", b'{"state":"on"}', T0 + 1))[0]["state"] == "ON"
    assert (
        states(c.handle(f"{BASE}/{NAME}/set", b'{"state":"TOGGLE"}', T0 + 2))[0]["state"] == "OFF"
    )
    assert states(c.handle(f"{BASE}/{NAME}/set/state", b"ON", T0 + 3))[0]["state"] == "ON"
    got = states(c.handle(f"{BASE}/{NAME}/get", b'{"state":""}', T0 + 3600 * 10 + 3))
    assert got[0]["energy"] == pytest.approx(1.52, abs=0.01)  # kWh after 10 h at 152.3 W
    for payload in (b"ON", b'{"state":"DIM"}', b'{"brightness":3}', b"[1]", b'{"state":1}'):
        assert c.handle(f"{BASE}/{NAME}/set", payload, T0 + 4) == []
    assert c.is_relay_order(f"{BASE}/{NAME}/set")
    assert not c.is_relay_order(f"{BASE}/{NAME}/get")


def test_unavailable_plug_answers_nothing_and_legacy_payloads() -> None:
    c = core(legacy_availability=True)
    assert c.will().payload == "offline"
    gone = c.set_available(NAME, False, T0)
    assert gone == [Publish(f"{BASE}/{NAME}/availability", "offline", retain=True)]
    assert c.handle(f"{BASE}/{NAME}/set", b'{"state":"ON"}', T0) == []
    back = c.set_available(NAME, True, T0 + 1)
    assert back[0].payload == "online"
    assert states(back)[0]["state"] == "OFF"
    plain = core(availability=False)
    assert plain.set_available(NAME, False, T0) == []
    assert all(
        "availability" not in p.topic
        for p in plain.connect_sequence(T0, initial=True)
        if isinstance(p, Publish)
    )


def test_power_reports() -> None:
    machine = Appliance("triggered", cycle_power_w=2000.0, cycle_s=100.0, idle_power_w=1.0)
    c = core(ZigbeePlug(NAME, machine, state_on=True), report_period_s=60.0, power_delta_w=10.0)
    c.connect_sequence(T0, initial=True)
    assert c.tick(T0 + 30) == []
    assert states(c.tick(T0 + 60))[0]["power"] == 2000.0
    assert states(c.tick(T0 + 101))[0]["power"] == 1.0  # the cycle ended


@pytest.mark.parametrize("name", ["", "bridge", "a/+", "/lead", "trail/"])
def test_rejects_bad_friendly_names(name: str) -> None:
    with pytest.raises(ValueError):
        core(name)


@given(words=st.lists(st.sampled_from(["ON", "OFF", "TOGGLE", "on", "toggle", "x"]), max_size=30))
def test_every_valid_order_gets_the_resulting_state(words: list[str]) -> None:
    c = core()
    on = False
    for word in words:
        out = c.handle(f"{BASE}/{NAME}/set", json.dumps({"state": word}).encode(), T0)
        if word.lower() == "toggle":
            on = not on
        elif word.lower() in ("on", "off"):
            on = word.lower() == "on"
        else:
            assert out == []
            continue
        assert [state["state"] for state in states(out)] == ["ON" if on else "OFF"]
        assert c.relay_on is on
