"""The Shelly Plug S (Gen1) logic without a broker."""

from __future__ import annotations

import json

import pytest

from simulators.appliance import Appliance
from simulators.core import Publish, Subscribe
from simulators.shelly_gen1 import ShellyGen1Core

ROOT = "t5f3/shellies/shellyplug-s-A101"
T0 = 1_700_000_000.0


def core(appliance: Appliance | None = None, **kwargs: object) -> ShellyGen1Core:
    return ShellyGen1Core(ROOT, appliance, now=T0, **kwargs)  # type: ignore[arg-type]


def pairs(pubs: list[Publish]) -> list[tuple[str, str]]:
    return [(p.topic.removeprefix(ROOT + "/"), p.payload) for p in pubs]


def heater(w: float = 1000.0) -> Appliance:
    return Appliance("continuous", rated_power_w=w)


def test_topics_and_connect_sequence() -> None:
    c = core(heater())
    assert c.device_id == "shellyplug-s-A101"
    assert c.parent == "t5f3/shellies"
    sub, online, *report = c.connect_sequence(T0, initial=True)
    assert sub == Subscribe(
        (f"{ROOT}/relay/0/command", f"{ROOT}/command", "t5f3/shellies/command"), qos=0
    )
    assert online == Publish(f"{ROOT}/online", "true", retain=False, qos=0)
    assert pairs(report) == [
        ("relay/0", "off"),
        ("relay/0/power", "0.00"),
        ("relay/0/energy", "0"),
        ("temperature", "24.00"),
        ("temperature_f", "75.20"),
        ("overtemperature", "0"),
    ]
    assert c.will() == Publish(f"{ROOT}/online", "false", retain=False, qos=0)


def test_orders_publish_on_change_only() -> None:
    c = core(heater(42.17))
    order = f"{ROOT}/relay/0/command"
    assert pairs(c.handle(order, b"on", T0)) == [
        ("relay/0", "on"),
        ("relay/0/power", "42.17"),
        ("relay/0/energy", "0"),
    ]
    assert c.handle(order, b"on", T0 + 1) == []
    assert pairs(c.handle(order, b"toggle", T0 + 60))[0] == ("relay/0", "off")
    assert not c.relay_on


@pytest.mark.parametrize("payload", [b"ON", b"On", b"1", b"true", b"", b"on ", b"open"])
def test_other_payloads_are_ignored(payload: bytes) -> None:
    c = core()
    assert c.handle(f"{ROOT}/relay/0/command", payload, T0) == []
    assert not c.relay_on


def test_energy_counter_in_watt_minutes() -> None:
    c = core(heater(1000.0), relay_on=True)
    report = dict(pairs(c.relay_report(T0 + 90)))
    assert report["relay/0/energy"] == "1500"  # 1000 W for 1.5 min
    assert report["relay/0/power"] == "1000.00"
    c.reboot(T0 + 100)
    assert dict(pairs(c.relay_report(T0 + 100)))["relay/0/energy"] == "0"  # resets on reboot


def test_update_and_announce() -> None:
    c = core()
    assert [t for t, _ in pairs(c.handle(f"{ROOT}/command", b"update", T0))][:3] == [
        "relay/0",
        "relay/0/power",
        "relay/0/energy",
    ]
    announces = c.handle("t5f3/shellies/command", b"announce", T0)
    assert [p.topic for p in announces] == ["t5f3/shellies/announce", f"{ROOT}/announce"]
    body = json.loads(announces[0].payload)
    assert body["id"] == "shellyplug-s-A101"
    assert body["model"] == "SHPLG-S"
    assert set(body) == {"id", "model", "mac", "ip", "new_fw", "fw_ver"}
    assert c.handle(f"{ROOT}/command", b"update_fw", T0) == []


def test_periodic_report() -> None:
    c = core(report_period_s=30.0)
    c.connect_sequence(T0, initial=True)
    assert c.next_due() == T0 + 30.0
    assert c.tick(T0 + 29.0) == []
    assert len(c.tick(T0 + 30.0)) == 6
    assert c.next_due() == T0 + 60.0


def test_retain_flags() -> None:
    c = core(online_retain=True)
    assert c.will().retain
    assert all(not p.retain for p in c.relay_report(T0))
    c.set_retained_state(True)  # mqtt_retain
    assert all(p.retain for p in c.relay_report(T0))


def test_stuck_relay_and_dropped_commands() -> None:
    c = core()
    c.respond_to_commands = False
    assert c.handle(f"{ROOT}/relay/0/command", b"on", T0) == []
    assert not c.relay_on
    assert c.handle(f"{ROOT}/command", b"update", T0) != []  # still alive
    c.respond_to_commands = True
    c.drop_next_commands(1)
    assert c.handle(f"{ROOT}/relay/0/command", b"on", T0) == []
    assert c.handle(f"{ROOT}/relay/0/command", b"on", T0) != []


def test_overpower_trips_the_relay() -> None:
    c = core(heater(3000.0), max_power_w=2500.0)
    out = pairs(c.handle(f"{ROOT}/relay/0/command", b"on", T0))
    assert out[0] == ("relay/0", "overpower")
    assert ("relay/0/overpower_value", "3000.00") in out
    assert not c.relay_on
    assert pairs(c.handle(f"{ROOT}/relay/0/command", b"off", T0))[0] == ("relay/0", "off")


def test_button_press() -> None:
    c = core()
    assert pairs(c.press_button(T0))[0] == ("relay/0", "on")
    assert pairs(c.press_button(T0))[0] == ("relay/0", "off")


def test_root_without_parent() -> None:
    c = ShellyGen1Core("shellyplug-s-X", now=T0)
    assert c.parent is None
    assert [p.topic for p in c.handle("shellyplug-s-X/command", b"announce", T0)] == [
        "shellyplug-s-X/announce"
    ]
    with pytest.raises(ValueError):
        ShellyGen1Core("shellies/+", now=T0)
