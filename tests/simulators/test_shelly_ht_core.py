"""The Shelly H&T logic without a broker: what a wake-up publishes and when it wakes."""

from __future__ import annotations

import pytest

from simulators.core import Publish, Subscribe
from simulators.shelly_ht import ShellyHTCore

ROOT = "t5f3/shellies/F002"
T0 = 1_700_000_000.0


def core(**kwargs: object) -> ShellyHTCore:
    return ShellyHTCore(ROOT, now=T0, **kwargs)  # type: ignore[arg-type]


def pairs(actions: list[object]) -> list[tuple[str, str]]:
    return [
        (a.topic.removeprefix(ROOT + "/"), a.payload) for a in actions if isinstance(a, Publish)
    ]


def test_first_wake_publishes_online_and_the_sensors() -> None:
    c = core(temperature_c=21.5, humidity=55.0, battery=87)
    actions = c.connect_sequence(T0, initial=True)
    assert actions[0] == Subscribe((f"{ROOT}/command", "t5f3/shellies/command"))
    assert pairs(actions) == [
        ("online", "true"),
        ("sensor/temperature", "21.50"),
        ("sensor/humidity", "55.0"),
        ("sensor/battery", "87"),
        ("sensor/ext_power", "false"),
        ("sensor/error", "0"),
        ("sensor/act_reasons", '["poweron"]'),
    ]
    assert not any(a.retain for a in actions if isinstance(a, Publish))
    assert c.will() == Publish(f"{ROOT}/online", "false", retain=False)
    assert not c.is_relay_order(f"{ROOT}/command")


def test_periodic_wake_and_reasons() -> None:
    c = core(period_s=600.0)
    c.connect_sequence(T0, initial=True)
    assert c.next_due() == T0 + 600
    assert c.wake_reasons(T0 + 599) == []
    assert c.wake_reasons(T0 + 600) == ["periodic"]
    actions = c.connect_sequence(T0 + 600, initial=False)
    assert pairs(actions)[-1] == ("sensor/act_reasons", '["periodic"]')
    assert c.next_due() == T0 + 1200
    assert c.wakes == 2


def test_temperature_follows_the_room_and_a_big_change_wakes_the_device() -> None:
    c = core(temperature_c=20.0, temperature_threshold_c=1.0)
    c.connect_sequence(T0, initial=True)
    c.set_temperature(20.5, T0 + 10)
    assert c.wake_reasons(T0 + 10) == []  # under the threshold: wait for the period
    c.set_temperature(21.25, T0 + 20)
    assert c.wake_reasons(T0 + 20) == ["sensor"]
    actions = c.connect_sequence(T0 + 21, initial=False)
    assert ("sensor/temperature", "21.25") in pairs(actions)
    assert pairs(actions)[-1] == ("sensor/act_reasons", '["sensor"]')
    c.request_wake("button")
    assert c.wake_reasons(T0 + 30) == ["button"]


def test_fahrenheit_retain_and_commands_while_awake() -> None:
    c = core(temperature_c=20.0, temperature_unit="F", mqtt_retain=True, online_retain=True)
    actions = c.connect_sequence(T0, initial=True)
    assert ("sensor/temperature", "68.00") in pairs(actions)
    assert all(a.retain for a in actions if isinstance(a, Publish))
    assert c.will().retain
    update = c.handle(f"{ROOT}/command", b"update", T0)
    assert pairs(update)[0][0] == "sensor/temperature"
    announce = c.handle("t5f3/shellies/command", b"announce", T0)
    assert [p.topic for p in announce] == ["t5f3/shellies/announce", f"{ROOT}/announce"]
    assert c.handle(f"{ROOT}/relay/0/command", b"on", T0) == []


@pytest.mark.parametrize("kwargs", [{"period_s": 0.0}, {"battery": 101}, {"temperature_unit": "K"}])
def test_rejects_bad_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        core(**kwargs)
