"""The Socorel PLC logic without a broker: outputs, EtatSorties, PA1MN, local mode."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.appliance import Appliance
from simulators.core import Publish, Subscribe
from simulators.socorel import SocorelCore

ROOT = "t5f3/Socorel/121345678"
T0 = 1_700_000_000.0


def core(*appliances: Appliance | None, **kwargs: object) -> SocorelCore:
    return SocorelCore(ROOT, appliances, now=T0, **kwargs)  # type: ignore[arg-type]


def pairs(pubs: list[Publish]) -> list[tuple[str, str]]:
    return [(p.topic.removeprefix(ROOT + "/"), p.payload) for p in pubs]


def test_connect_subscribes_the_eight_outputs_and_reports_no_will() -> None:
    c = core(outputs="00100000")
    sub, *report = c.connect_sequence(T0, initial=True)
    assert sub == Subscribe(tuple(f"{ROOT}/sortie{n}" for n in range(1, 9)))
    assert pairs(report) == [("EtatSorties", "00100000")]
    assert c.will() is None
    assert c.serial == "121345678"


def test_orders_switch_one_output_and_publish_etat_sorties() -> None:
    heater = Appliance("continuous", rated_power_w=1000.0)
    c = core(None, heater)
    assert pairs(c.handle(f"{ROOT}/sortie2", b"1", T0)) == [("EtatSorties", "01000000")]
    assert c.outputs[1] and heater.powered
    assert c.power_w(T0 + 1) == 1000.0
    # An order that changes nothing is still acknowledged.
    assert pairs(c.handle(f"{ROOT}/sortie2", b" 1\n", T0 + 1)) == [("EtatSorties", "01000000")]
    assert pairs(c.handle(f"{ROOT}/sortie8", b"1", T0 + 2)) == [("EtatSorties", "01000001")]
    assert pairs(c.handle(f"{ROOT}/sortie2", b"0", T0 + 3)) == [("EtatSorties", "00000001")]
    for topic, payload in [
        (f"{ROOT}/sortie9", b"1"),
        (f"{ROOT}/sortie10", b"1"),
        (f"{ROOT}/sortie1", b"ON"),
        (f"{ROOT}/Sortie1", b"1"),
        (f"{ROOT}/EtatSorties", b"11111111"),
    ]:
        assert c.handle(topic, payload, T0 + 4) == []
    assert c.states() == "00000001"
    assert c.is_relay_order(f"{ROOT}/sortie3")
    assert not c.is_relay_order(f"{ROOT}/sortie0")


def test_per_output_topics_and_retain() -> None:
    c = core(per_output_topics=True, retain=True)
    out = c.handle(f"{ROOT}/sortie3", b"1", T0)
    assert pairs(out) == [("EtatSorties", "00100000"), ("EtatSortie3", "1")]
    assert all(p.retain for p in out)
    periodic = c.periodic(T0 + 30)
    assert [t for t, _ in pairs(periodic)] == [
        "EtatSorties",
        *(f"EtatSortie{n}" for n in range(1, 9)),
        "PA1MN",
    ]


def test_periodic_report_and_mean_power() -> None:
    heater = Appliance("continuous", rated_power_w=3000.0)
    c = core(heater, report_period_s=30.0)
    c.connect_sequence(T0, initial=True)
    c.handle(f"{ROOT}/sortie1", b"1", T0 + 15)  # on for the second half of the period
    assert c.tick(T0 + 29) == []
    assert pairs(c.tick(T0 + 30)) == [("EtatSorties", "10000000"), ("PA1MN", "1500")]
    assert pairs(c.tick(T0 + 60)) == [("EtatSorties", "10000000"), ("PA1MN", "3000")]


def test_local_manual_mode() -> None:
    c = core()
    assert pairs(c.set_local_manual(True, T0)) == [("mode", "manuel")]
    assert c.handle(f"{ROOT}/sortie1", b"1", T0) == []  # the operator has control
    assert pairs(c.set_output_local(4, True, T0)) == [("EtatSorties", "00010000")]
    assert pairs(c.set_local_manual(False, T0 + 1)) == [("mode", "auto")]
    assert pairs(c.handle(f"{ROOT}/sortie1", b"1", T0 + 2)) == [("EtatSorties", "10010000")]


def test_drops_and_stuck_outputs() -> None:
    c = core()
    c.drop_next_commands(1)
    assert c.handle(f"{ROOT}/sortie1", b"1", T0) == []
    c.respond_to_commands = False
    assert c.handle(f"{ROOT}/sortie1", b"1", T0) == []
    assert c.states() == "00000000"


@pytest.mark.parametrize(
    "kwargs",
    [{"outputs": "0000000"}, {"outputs": "0000000x"}, {"report_period_s": -1.0}],
)
def test_rejects_bad_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        core(**kwargs)
    with pytest.raises(ValueError):
        core(*[None] * 9)


@given(
    orders=st.lists(
        st.tuples(st.integers(0, 10), st.sampled_from([b"0", b"1", b"2", b"", b" 1 "])),
        max_size=40,
    ),
    initial=st.text(alphabet="01", min_size=8, max_size=8),
)
def test_etat_sorties_is_always_eight_characters_reflecting_the_outputs(
    orders: list[tuple[int, bytes]], initial: str
) -> None:
    c = core(outputs=initial)
    model = [ch == "1" for ch in initial]
    for n, payload in orders:
        out = c.handle(f"{ROOT}/sortie{n}", payload, T0)
        value = payload.strip()
        if 1 <= n <= 8 and value in (b"0", b"1"):
            model[n - 1] = value == b"1"
            assert len(out) == 1
        else:
            assert out == []
        expected = "".join("1" if on else "0" for on in model)
        assert c.states() == expected
        for p in out:
            assert len(p.payload) == 8
            assert p.payload == expected
            assert p.payload[n - 1] == value.decode()
