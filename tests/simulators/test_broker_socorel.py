"""The simulated Socorel PLC against the real Mosquitto."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from simulators.appliance import Appliance
from simulators.socorel import SimulatedSocorel
from tests.simulators.conftest import Probe, retained_under

pytestmark = pytest.mark.integration

PlcFactory = Callable[..., SimulatedSocorel]


@pytest.fixture
def make_plc(broker: tuple[str, int], prefix: str, probe: Probe) -> Iterator[PlcFactory]:
    """Start a PLC ``Socorel/121345678`` and wait for its first ``EtatSorties``."""
    plcs: list[SimulatedSocorel] = []

    def make(*appliances: Appliance | None, **kwargs: object) -> SimulatedSocorel:
        params: dict[str, object] = {"host": broker[0], "port": broker[1]}
        params.update(kwargs)
        plc = SimulatedSocorel(
            f"{prefix}/Socorel/121345678",
            appliances,
            **params,  # type: ignore[arg-type]
        )
        plcs.append(plc)
        mark = probe.mark()
        plc.start()
        probe.wait_for(f"{plc.root}/EtatSorties", since=mark)
        return plc

    yield make
    for plc in plcs:
        plc.stop()


def test_output_order_and_etat_sorties(make_plc: PlcFactory, probe: Probe) -> None:
    heater = Appliance("continuous", rated_power_w=2000.0)
    plc = make_plc(None, None, heater, per_output_topics=True)
    mark = probe.mark()
    probe.publish(f"{plc.root}/sortie3", "1")
    states = probe.wait_for(f"{plc.root}/EtatSorties", since=mark)
    own = probe.wait_for(f"{plc.root}/EtatSortie3", lambda m: m.payload == "1", since=mark)
    assert (states.payload, own.payload) == ("00100000", "1")
    assert not (states.retain or own.retain)
    assert plc.output_on(3) and plc.power_w() == 2000.0
    assert [c for _, c in plc.commands] == ["1"]


def test_periodic_report_mode_and_no_will(make_plc: PlcFactory, probe: Probe) -> None:
    plc = make_plc(
        Appliance("continuous", rated_power_w=500.0), outputs="10000000", report_period_s=0.3
    )
    first = probe.wait_for(f"{plc.root}/PA1MN")
    assert first.payload == "500"
    probe.wait_for(f"{plc.root}/EtatSorties", lambda m: m.t > first.t + 0.2)
    mark = probe.mark()
    plc.set_local_manual(True)
    assert probe.wait_for(f"{plc.root}/mode", since=mark).payload == "manuel"
    plc.go_offline()  # no LWT: the broker publishes nothing
    mark = probe.mark()
    plc.set_local_manual(False)  # offline: lost
    probe.publish(f"{plc.root}/sortie1", "0")
    assert probe.on(f"{plc.root}/mode", since=mark) == []
    assert retained_under(plc.root) == {}
