"""The simulated Shelly H&T against the real Mosquitto: wake, publish, sleep."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from simulators.shelly_ht import SimulatedShellyHT
from tests.simulators.conftest import Probe, retained_under

pytestmark = pytest.mark.integration

SensorFactory = Callable[..., SimulatedShellyHT]


@pytest.fixture
def make_ht(broker: tuple[str, int], prefix: str, probe: Probe) -> Iterator[SensorFactory]:
    """Start (= first wake-up of) an H&T ``F002`` and wait for its ``act_reasons``."""
    sensors: list[SimulatedShellyHT] = []

    def make(**kwargs: object) -> SimulatedShellyHT:
        params: dict[str, object] = {"host": broker[0], "port": broker[1], "awake_s": 0.2}
        params.update(kwargs)
        ht = SimulatedShellyHT(f"{prefix}/shellies/F002", **params)  # type: ignore[arg-type]
        sensors.append(ht)
        mark = probe.mark()
        ht.start()
        probe.wait_for(f"{ht.root}/sensor/act_reasons", since=mark)
        return ht

    yield make
    for ht in sensors:
        ht.stop()


def test_wakes_publishes_and_sleeps(make_ht: SensorFactory, probe: Probe) -> None:
    ht = make_ht(period_s=1.5, temperature_c=19.0)
    root = ht.root
    first = [(m.topic.removeprefix(root + "/"), m.payload) for m in probe.messages]
    assert first == [
        ("online", "true"),
        ("sensor/temperature", "19.00"),
        ("sensor/humidity", "55.0"),
        ("sensor/battery", "100"),
        ("sensor/ext_power", "false"),
        ("sensor/error", "0"),
        ("sensor/act_reasons", '["poweron"]'),
    ]
    assert not any(m.retain for m in probe.messages)
    # Asleep: the broker published the will; a command sent now is lost.
    will = probe.wait_for(f"{root}/online", lambda m: m.payload == "false")
    assert not will.retain
    assert not ht.awake
    mark = probe.mark()
    probe.publish(f"{root}/command", "update")
    ht.set_temperature(23.0)  # two degrees: wakes it up at once
    reasons = probe.wait_for(f"{root}/sensor/act_reasons", since=mark)
    assert reasons.payload == '["sensor"]'
    temperature = probe.on(f"{root}/sensor/temperature", since=mark)
    assert [m.payload for m in temperature] == ["23.00"]  # the lost 'update' sent nothing
    assert [r for _, r, _ in ht.received if r.endswith("/command")] == []
    periodic = probe.wait_for(
        f"{root}/sensor/act_reasons", lambda m: m.t > reasons.t, since=mark, timeout=3.0
    )
    assert periodic.payload == '["periodic"]'
    assert retained_under(root) == {}


def test_retained_values_and_button(make_ht: SensorFactory, probe: Probe) -> None:
    ht = make_ht(mqtt_retain=True, sleep_mode="disconnect")
    time.sleep(0.4)  # asleep, cleanly: no will
    assert not ht.awake
    assert [m.payload for m in probe.on(f"{ht.root}/online")] == ["true"]
    retained = retained_under(ht.root)
    assert retained[f"{ht.root}/sensor/temperature"] == "21.50"
    mark = probe.mark()
    ht.press_button()
    assert probe.wait_for(f"{ht.root}/sensor/act_reasons", since=mark).payload == '["button"]'


def test_go_offline_while_awake_publishes_the_will(make_ht: SensorFactory, probe: Probe) -> None:
    ht = make_ht(awake_s=5.0)
    mark = probe.mark()
    ht.go_offline()
    assert probe.wait_for(f"{ht.root}/online", since=mark).payload == "false"
    ht.press_button()  # no Wi-Fi: nothing
    time.sleep(0.2)
    assert probe.on(f"{ht.root}/sensor/act_reasons", since=mark) == []
    ht.come_online()
    probe.wait_for(f"{ht.root}/sensor/act_reasons", since=mark)
