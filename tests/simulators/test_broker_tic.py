"""The simulated Tasmota Teleinfo reader against the real Mosquitto."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from simulators.tic import SimulatedTic
from tests.simulators.conftest import Probe, retained_under

pytestmark = pytest.mark.integration

TicFactory = Callable[..., SimulatedTic]


@pytest.fixture
def make_tic(broker: tuple[str, int], prefix: str, probe: Probe) -> Iterator[TicFactory]:
    """Start a TIC reader ``B101`` and wait for its ``INFO3`` (the last boot message)."""
    tics: list[SimulatedTic] = []

    def make(**kwargs: object) -> SimulatedTic:
        params: dict[str, object] = {
            "host": broker[0],
            "port": broker[1],
            "full_topic": f"{prefix}/%prefix%/%topic%/",
        }
        params.update(kwargs)
        tic = SimulatedTic("B101", **params)  # type: ignore[arg-type]
        tics.append(tic)
        mark = probe.mark()
        tic.start()
        probe.wait_for(tic.topic_for("tele", "INFO3"), since=mark)
        return tic

    yield make
    for tic in tics:
        tic.stop()


def test_teleperiod_gives_a_sensor_with_energy_and_tic(make_tic: TicFactory, probe: Probe) -> None:
    tic = make_tic(load_va=2300.0)
    mark = probe.mark()
    probe.publish(tic.topic_for("cmnd", "TelePeriod"), "")
    sensor = probe.wait_for(tic.topic_for("tele", "SENSOR"), since=mark)
    body = json.loads(sensor.payload)
    assert body["ENERGY"]["Power"] == 2300
    assert body["ENERGY"]["Current"] == 10.0
    assert body["TIC"]["PAPP"] == 2300 and body["TIC"]["IINST"] == 10
    assert not sensor.retain
    tic.set_load_va(460.0)
    mark = probe.mark()
    probe.publish(tic.topic_for("cmnd", "TelePeriod"), "")
    body = json.loads(probe.wait_for(tic.topic_for("tele", "SENSOR"), since=mark).payload)
    assert body["TIC"]["PAPP"] == 460


def test_periodic_sensor_in_standard_mode(make_tic: TicFactory, probe: Probe) -> None:
    tic = make_tic(mode="standard", tele_period_s=0.3, load_va=1000.0)
    sensor = probe.wait_for(tic.topic_for("tele", "SENSOR"))
    assert json.loads(sensor.payload)["TIC"]["SINSTS"] == 1000
    probe.wait_for(tic.topic_for("tele", "SENSOR"), lambda m: m.t > sensor.t + 0.2)


def test_power_is_an_error_and_lwt_is_retained(make_tic: TicFactory, probe: Probe) -> None:
    tic = make_tic()
    lwt = tic.topic_for("tele", "LWT")
    assert [(m.payload, m.retain) for m in probe.on(lwt)] == [("Online", True)]
    mark = probe.mark()
    probe.publish(tic.topic_for("cmnd", "POWER"), "ON")
    result = probe.wait_for(tic.topic_for("stat", "RESULT"), since=mark)
    assert result.payload == '{"Command":"Error"}'
    assert probe.on(tic.topic_for("stat", "POWER"), since=mark) == []
    mark = probe.mark()
    tic.go_offline()
    will = probe.wait_for(lwt, since=mark)
    assert (will.payload, will.retain) == ("Offline", True)
    assert retained_under(lwt.rsplit("/", 2)[0]) == {lwt: "Offline"}
