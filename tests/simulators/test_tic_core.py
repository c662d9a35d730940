"""The Tasmota Teleinfo reader logic without a broker: SENSOR, TIC labels, indexes, no relay."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.core import Publish, Subscribe
from simulators.tic import TicCore, tic_json

T0 = datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC).timestamp()  # peak hours
NIGHT = datetime(2025, 3, 10, 23, 0, 0, tzinfo=UTC).timestamp()


def core(**kwargs: object) -> TicCore:
    params: dict[str, object] = {"now": T0, "tz": UTC, "meter_id": "021528603314"}
    params.update(kwargs)
    return TicCore("B101", **params)  # type: ignore[arg-type]


def sensor(c: TicCore, now: float) -> dict[str, object]:
    return json.loads(c.sensor_json(now))


def test_historique_sensor_payload() -> None:
    c = core(subscribed_kva=3, load_va=170.0, initial_index_wh=(920_750.0, 2_275_560.0))
    body = sensor(c, T0)
    assert body == {
        "Time": "2025-03-10T12:00:00",
        "ENERGY": {
            "TotalStartTime": "2025-03-10T12:00:00",
            "Total": 3196.31,
            "Yesterday": 0.0,
            "Today": 0.0,
            "Period": 0,
            "Power": 170,
            "Current": 1.0,
            "Load": 6,
        },
        "TIC": {
            "ADCO": "021528603314",
            "OPTARIF": "HC..",
            "ISOUSC": 15,
            "HCHC": 920750,
            "HCHP": 2275560,
            "PTEC": "HP..",
            "IINST": 1,
            "IMAX": 90,
            "PAPP": 170,
            "HHPHC": "A",
            "MOTDETAT": 0,
        },
    }
    text = c.sensor_json(T0)
    assert '"Total":3196.310,' in text and '"Current":1.000,' in text  # Tasmota's decimals


def test_standard_sensor_payload() -> None:
    c = core(mode="standard", load_va=1500.0)
    body = sensor(c, T0)
    energy, tic = body["ENERGY"], body["TIC"]
    assert isinstance(energy, dict) and isinstance(tic, dict)
    assert list(energy) == [
        "TotalStartTime",
        "Total",
        "Yesterday",
        "Today",
        "Period",
        "Power",
        "ApparentPower",
        "ReactivePower",
        "Factor",
        "Voltage",
        "Current",
        "Load",
    ]
    assert (energy["Power"], energy["Voltage"], energy["Current"], energy["Load"]) == (
        1500,
        231,
        6.0,
        20,
    )
    assert tic["ADSC"] == "021528603314"
    assert (tic["NGTF"], tic["LTARF"], tic["NTARF"]) == ("H CREUSE/PLEINE", "HEURE PLEINE", 2)
    assert tic["EAST"] == tic["EASF01"] + tic["EASF02"]  # type: ignore[operator]
    assert [k for k in tic if k.startswith("EASF")] == [f"EASF{i:02d}" for i in range(1, 11)]
    assert (tic["IRMS1"], tic["URMS1"], tic["PREF"], tic["SINSTS"]) == (6, 231, 6, 1500)
    assert "PJOURF+1" not in tic and "MSG1" not in tic


def test_load_follows_set_load_va_and_the_indexes_integrate_it() -> None:
    c = core(initial_index_wh=(0.0, 0.0))
    c.set_load_va(3600.0, T0)
    body = sensor(c, T0 + 3600)
    tic = body["TIC"]
    assert isinstance(tic, dict)
    assert (tic["PAPP"], tic["IINST"], tic["HCHC"], tic["HCHP"]) == (3600, 16, 0, 3600)
    c.set_load_va(1000.0, NIGHT)  # 23:00; off-peak since 22:00
    tic = sensor(c, NIGHT + 1800)["TIC"]
    assert isinstance(tic, dict)
    assert tic["PTEC"] == "HC.."
    assert (tic["HCHC"], tic["HCHP"]) == (3600 + 500, 10 * 3600)  # split at 22:00 exactly
    assert tic["PAPP"] == 1000


def test_base_option_single_index() -> None:
    c = core(tariff="BASE", initial_index_wh=(1000.0, 500.0), load_va=3600.0)
    tic = sensor(c, T0 + 3600)["TIC"]
    assert isinstance(tic, dict)
    assert (tic["OPTARIF"], tic["BASE"], tic["PTEC"]) == ("BASE", 5100, "TH..")
    assert "HCHC" not in tic


def test_adps_on_over_current() -> None:
    c = core(subscribed_kva=3)  # 15 A
    assert c.set_load_va(3000.0, T0) == []
    assert c.set_load_va(4000.0, T0 + 1) == [Publish("tele/B101/SENSOR", '{"TIC":{"ADPS":1}}')]


def test_topics_lwt_and_no_relay() -> None:
    c = core()
    actions = c.connect_sequence(T0, initial=True)
    lwt, empty_power, sub, *info = actions
    assert lwt == Publish("tele/B101/LWT", "Online", retain=True)
    assert empty_power == Publish("cmnd/B101/POWER", "")
    assert isinstance(sub, Subscribe) and "cmnd/B101/#" in sub.topics
    assert [p.topic for p in info if isinstance(p, Publish)] == [
        "tele/B101/INFO1",
        "tele/B101/INFO2",
        "tele/B101/INFO3",
    ]  # no power state: there is no relay
    assert c.will() == Publish("tele/B101/LWT", "Offline", retain=True, qos=1)
    error = [Publish("stat/B101/RESULT", '{"Command":"Error"}')]
    assert c.handle("cmnd/B101/POWER", b"ON", T0) == error
    assert c.handle("cmnd/B101/POWER1", b"", T0) == error
    assert c.handle("cmnd/B101/POWER0", b"1", T0) == []
    assert c.is_relay_order("cmnd/B101/POWER")
    assert "POWER" not in json.loads(c.state_json(T0))
    assert c.press_button(T0) == []


def test_teleperiod_answers_with_state_and_sensor_at_once() -> None:
    c = core(tele_period_s=300.0)
    out = c.handle("cmnd/B101/TelePeriod", b"", T0 + 5)
    assert [p.topic for p in out] == ["stat/B101/RESULT", "tele/B101/STATE", "tele/B101/SENSOR"]
    assert out[0].payload == '{"TelePeriod":300}'
    assert not any(p.retain for p in out)
    assert c.handle("cmnd/B101/Status", b"8", T0) == [
        Publish("stat/B101/RESULT", '{"Command":"Unknown"}')
    ]


def test_periodic_telemetry() -> None:
    c = core(tele_period_s=300.0)
    c.connect_sequence(T0, initial=True)
    assert c.tick(T0 + 4) == []
    assert [p.topic for p in c.tick(T0 + 5)] == ["tele/B101/STATE", "tele/B101/SENSOR"]
    assert c.tick(T0 + 300) == []
    assert [p.topic for p in c.tick(T0 + 305)] == ["tele/B101/STATE", "tele/B101/SENSOR"]


def test_tic_json_numbers_and_strings() -> None:
    labels = [
        ("ADCO", "000000000001"),
        ("IINST", "007"),
        ("PTEC", "HP.."),
        ("MSG1", "x"),
        ("DATE", ""),
    ]
    assert tic_json(labels) == '{"ADCO":"000000000001","IINST":7,"PTEC":"HP.."}'


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "triphase"},
        {"tariff": "TEMPO"},
        {"subscribed_kva": 1},
        {"load_va": -1.0},
        {"offpeak_hours": ((25.0, 6.0),)},
    ],
)
def test_rejects_bad_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        core(**kwargs)


@given(
    loads=st.lists(
        st.tuples(st.floats(0.0, 7200.0), st.floats(0.0, 12000.0)), min_size=1, max_size=20
    ),
    mode=st.sampled_from(["historique", "standard"]),
)
def test_total_matches_the_indexes_and_never_decreases(
    loads: list[tuple[float, float]], mode: str
) -> None:
    c = core(mode=mode, initial_index_wh=(0.0, 0.0))
    t, last_total, expected_wh = T0, 0.0, 0.0
    for dt, va in loads:
        expected_wh += c.load_va * dt / 3600.0
        t += dt
        c.set_load_va(va, t)
        body = sensor(c, t)
        energy, tic = body["ENERGY"], body["TIC"]
        assert isinstance(energy, dict) and isinstance(tic, dict)
        total = energy["Total"]
        assert isinstance(total, float)
        assert total >= last_total
        last_total = total
        if mode == "historique":
            assert total == pytest.approx((tic["HCHC"] + tic["HCHP"]) / 1000.0)  # type: ignore[operator]
            assert tic["PAPP"] % 10 == 0  # type: ignore[operator]
        else:
            assert total == pytest.approx(tic["EAST"] / 1000.0)  # type: ignore[operator]
        assert energy["Power"] == tic.get("PAPP", tic.get("SINSTS"))
    assert last_total * 1000.0 == pytest.approx(expected_wh, abs=len(loads) + 1.0)
