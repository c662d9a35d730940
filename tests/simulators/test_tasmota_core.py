"""The Tasmota plug logic without a broker: payload parsing, topics, answers, telemetry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.appliance import Appliance
from simulators.core import Publish, Subscribe
from simulators.tasmota import (
    PowerOp,
    TasmotaCore,
    parse_power_payload,
    payload_number,
    render_full_topic,
    split_command,
)

T0 = datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC).timestamp()


def core(**kwargs: object) -> TasmotaCore:
    params: dict[str, object] = {"now": T0, "tz": UTC}
    params.update(kwargs)
    return TasmotaCore("A102", **params)  # type: ignore[arg-type]


def pairs(pubs: list[Publish]) -> list[tuple[str, str]]:
    return [(p.topic, p.payload) for p in pubs]


ON_REPLY = [("stat/A102/RESULT", '{"POWER":"ON"}'), ("stat/A102/POWER", "ON")]
OFF_REPLY = [("stat/A102/RESULT", '{"POWER":"OFF"}'), ("stat/A102/POWER", "OFF")]


# -- payload parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "op"),
    [
        ("ON", PowerOp.ON),
        ("on", PowerOp.ON),
        ("On", PowerOp.ON),
        ("1", PowerOp.ON),
        ("true", PowerOp.ON),
        ("TRUE", PowerOp.ON),
        ("  on", PowerOp.ON),  # leading blanks are skipped
        ("0x1", PowerOp.ON),  # strtol base 0
        ("1abc", PowerOp.ON),  # strtol stops at the first non-digit
        ("OFF", PowerOp.OFF),
        ("off", PowerOp.OFF),
        ("0", PowerOp.OFF),
        ("false", PowerOp.OFF),
        ("08", PowerOp.OFF),  # octal: "0" then stop at "8", as in C
        ("TOGGLE", PowerOp.TOGGLE),
        ("toggle", PowerOp.TOGGLE),
        ("2", PowerOp.TOGGLE),
        ("3", PowerOp.BLINK),
        ("blink", PowerOp.BLINK),
        ("BlinkOff", PowerOp.BLINK_OFF),
        ("4", PowerOp.BLINK_OFF),
        ("", PowerOp.SHOW_STATE),
        ("?", PowerOp.SHOW_STATE),
        ("foo", PowerOp.SHOW_STATE),
        ("5", PowerOp.SHOW_STATE),
        ("-1", PowerOp.SHOW_STATE),
        ("ON ", PowerOp.SHOW_STATE),  # trailing blank: neither a word nor a number
        ("up", PowerOp.SHOW_STATE),  # a state word (100) outside the POWER range
    ],
)
def test_parse_power_payload(payload: str, op: PowerOp) -> None:
    assert parse_power_payload(payload) is op


def test_power0_only_accepts_off_on_toggle() -> None:
    assert parse_power_payload("1", index=0) is PowerOp.ON
    assert parse_power_payload("3", index=0) is PowerOp.SHOW_STATE


@given(st.text(max_size=20))
def test_any_text_parses_to_an_operation(text: str) -> None:
    assert isinstance(parse_power_payload(text), PowerOp)


@given(st.sampled_from(["on", "off", "toggle", "true", "false", "blink", "blinkoff"]), st.data())
def test_state_words_are_case_insensitive(word: str, data: st.DataObject) -> None:
    mixed = "".join(c.upper() if data.draw(st.booleans()) else c for c in word)
    assert payload_number(mixed) == payload_number(word)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("POWER", ("POWER", 1, False)),
        ("Power2", ("POWER", 2, True)),
        ("power0", ("POWER", 0, True)),
    ],
)
def test_split_command(name: str, expected: tuple[str, int, bool]) -> None:
    assert split_command(name) == expected


@pytest.mark.parametrize(
    ("full_topic", "prefix", "expected"),
    [
        ("%prefix%/%topic%/", "stat", "stat/A102/"),
        ("t5f3/%prefix%/%topic%/", "tele", "t5f3/tele/A102/"),
        ("cofybox/cb001/%prefix%/%topic%", "cmnd", "cofybox/cb001/cmnd/A102/"),
        ("home/%topic%/", "cmnd", "home/A102/cmnd/"),  # commands always get a prefix level
        ("home/%topic%/", "stat", "home/A102/"),
    ],
)
def test_render_full_topic(full_topic: str, prefix: str, expected: str) -> None:
    assert render_full_topic(full_topic, prefix, "A102") == expected


# -- answers --------------------------------------------------------------------------------


def test_connect_sequence_first_connection() -> None:
    c = core()
    actions = c.connect_sequence(T0, initial=True)
    first, second, sub = actions[:3]
    assert first == Publish("tele/A102/LWT", "Online", retain=True)
    assert second == Publish("cmnd/A102/POWER", "")  # before subscribing, as Tasmota does
    assert isinstance(sub, Subscribe)
    assert sub.topics == ("cmnd/A102/#", "cmnd/tasmotas/#", f"cmnd/{c.fallback_topic}/#")
    rest = [a for a in actions[3:] if isinstance(a, Publish)]
    assert [p.topic for p in rest[:3]] == ["tele/A102/INFO1", "tele/A102/INFO2", "tele/A102/INFO3"]
    assert pairs(rest[3:]) == OFF_REPLY
    assert c.next_due() == T0 + 5.0
    again = c.connect_sequence(T0 + 60, initial=False)
    assert len(again) == 3  # a reconnection: LWT, empty POWER, subscribe


def test_will_is_offline_retained_qos1() -> None:
    assert core().will() == Publish("tele/A102/LWT", "Offline", retain=True, qos=1)


def test_power_orders_and_queries() -> None:
    c = core()
    assert pairs(c.handle("cmnd/A102/POWER", b"ON", T0)) == ON_REPLY
    assert c.relay_on
    assert pairs(c.handle("cmnd/A102/POWER", b"on", T0)) == ON_REPLY  # unchanged: still answered
    assert pairs(c.handle("cmnd/A102/Power", b"", T0)) == ON_REPLY  # query
    assert pairs(c.handle("cmnd/A102/POWER", b"TOGGLE", T0)) == OFF_REPLY
    assert pairs(c.handle("cmnd/A102/POWER1", b"1", T0)) == ON_REPLY
    assert pairs(c.handle("cmnd/tasmotas/POWER", b"0", T0)) == OFF_REPLY  # group topic
    assert all(not p.retain and p.qos == 0 for p in c.handle("cmnd/A102/POWER", b"1", T0))


def test_invalid_payload_is_answered_like_a_query() -> None:
    c = core(relay_on=True)
    assert pairs(c.handle("cmnd/A102/POWER", b"banana", T0)) == ON_REPLY
    assert c.relay_on


def test_errors_and_unknown_commands() -> None:
    c = core()
    assert pairs(c.handle("cmnd/A102/POWER2", b"ON", T0)) == [
        ("stat/A102/RESULT", '{"Command":"Error"}')
    ]
    assert pairs(c.handle("cmnd/A102/Frobnicate", b"1", T0)) == [
        ("stat/A102/RESULT", '{"Command":"Unknown"}')
    ]
    assert not c.relay_on
    assert c.handle("cmnd/OTHER/POWER", b"ON", T0) == []  # not ours


def test_blink_is_acknowledged_without_switching() -> None:
    c = core(relay_on=True)
    assert pairs(c.handle("cmnd/A102/POWER", b"blink", T0)) == [
        ("stat/A102/RESULT", '{"POWER":"BLINK ON"}')
    ]
    assert pairs(c.handle("cmnd/A102/POWER", b"blinkoff", T0)) == [
        ("stat/A102/RESULT", '{"POWER":"BLINK OFF"}'),
        *ON_REPLY,
    ]


def test_stuck_relay_ignores_orders_but_answers_queries() -> None:
    c = core()
    c.respond_to_commands = False
    assert c.handle("cmnd/A102/POWER", b"ON", T0) == []
    assert not c.relay_on
    assert pairs(c.handle("cmnd/A102/POWER", b"", T0)) == OFF_REPLY


def test_dropped_commands_have_no_effect() -> None:
    c = core()
    c.drop_next_commands(2)
    assert c.handle("cmnd/A102/POWER", b"ON", T0) == []
    assert c.handle("cmnd/A102/POWER", b"ON", T0) == []
    assert not c.relay_on
    assert pairs(c.handle("cmnd/A102/POWER", b"ON", T0)) == ON_REPLY


def test_power_retain_only_retains_the_plain_power_topic() -> None:
    c = core()
    assert pairs(c.handle("cmnd/A102/PowerRetain", b"1", T0)) == [
        ("stat/A102/RESULT", '{"PowerRetain":"ON"}')
    ]
    result, power = c.handle("cmnd/A102/POWER", b"ON", T0)
    assert not result.retain
    assert power.retain
    cleared = c.set_retained_state(False)
    assert cleared == [Publish("stat/A102/POWER", "", retain=True)]  # Tasmota clears it


def test_button_press_publishes_like_an_order() -> None:
    c = core()
    assert pairs(c.press_button(T0)) == ON_REPLY
    assert pairs(c.press_button(T0)) == OFF_REPLY


def test_is_relay_order() -> None:
    c = core(full_topic="t5f3/%prefix%/%topic%/")
    assert c.is_relay_order("t5f3/cmnd/A102/POWER")
    assert c.is_relay_order("t5f3/cmnd/tasmotas/power1")
    assert not c.is_relay_order("t5f3/cmnd/A102/POWER2")
    assert not c.is_relay_order("t5f3/cmnd/A102/TelePeriod")
    assert not c.is_relay_order("cmnd/A102/POWER")


# -- telemetry ------------------------------------------------------------------------------


def test_teleperiod_forces_state_and_sensor() -> None:
    c = core(tele_period_s=30)
    reply, state, sensor = c.handle("cmnd/A102/TelePeriod", b"", T0 + 7)
    assert (reply.topic, reply.payload) == ("stat/A102/RESULT", '{"TelePeriod":30}')
    assert state.topic == "tele/A102/STATE"
    assert sensor.topic == "tele/A102/SENSOR"
    assert c.next_due() == T0 + 37
    assert c.handle("cmnd/A102/TelePeriod", b"5", T0)[0].payload == '{"TelePeriod":10}'
    assert c.handle("cmnd/A102/TelePeriod", b"1", T0)[0].payload == '{"TelePeriod":300}'


def test_state_json() -> None:
    c = core(relay_on=True)
    c.connect_sequence(T0, initial=True)
    state = json.loads(c.state_json(T0 + 3723))
    assert state["Time"] == "2025-03-10T13:02:03"
    assert state["Uptime"] == "0T01:02:03"
    assert state["UptimeSec"] == 3723
    assert state["POWER"] == "ON"
    assert state["MqttCount"] == 1
    assert set(state) >= {"Heap", "SleepMode", "Sleep", "LoadAvg", "Wifi"}
    assert set(state["Wifi"]) >= {"AP", "SSId", "RSSI", "Signal", "LinkCount", "Downtime"}


def test_sensor_energy_arithmetic() -> None:
    heater = Appliance("continuous", rated_power_w=1000.0)
    c = core(appliance=heater, relay_on=True, initial_total_kwh=6.0)
    text = c.sensor_json(T0 + 3600)
    assert text.startswith('{"Time":"2025-03-10T13:00:00","ENERGY":{"TotalStartTime":')
    energy = json.loads(text)["ENERGY"]
    assert energy["Total"] == 7.0
    assert '"Total":7.000' in text  # fixed decimals, as Tasmota prints them
    assert energy["Today"] == 1.0
    assert energy["Yesterday"] == 0.0
    assert energy["Period"] == 1000
    assert energy["Power"] == 1000
    assert energy["Voltage"] == 231
    assert energy["Factor"] == 0.99
    assert energy["ApparentPower"] == 1010
    assert energy["ReactivePower"] == 142
    assert energy["Current"] == pytest.approx(1000 / 0.99 / 231, abs=1e-3)
    later = json.loads(c.sensor_json(T0 + 3600 + 360))["ENERGY"]
    assert later["Period"] == 100  # Wh since the previous report


def test_sensor_with_relay_off_and_day_rollover() -> None:
    heater = Appliance("continuous", rated_power_w=2000.0)
    c = core(appliance=heater, relay_on=True)
    c.handle("cmnd/A102/POWER", b"OFF", T0 + 3600)  # 2 kWh today
    midnight = datetime(2025, 3, 11, 0, 0, 30, tzinfo=UTC).timestamp()
    energy = json.loads(c.sensor_json(midnight))["ENERGY"]
    assert energy["Yesterday"] == 2.0
    assert energy["Today"] == 0.0
    assert energy["Total"] == 2.0
    assert (energy["Power"], energy["Current"], energy["Factor"]) == (0, 0.0, 0.0)


def test_tick_publishes_when_due_even_offline() -> None:
    c = core(tele_period_s=10)
    c.connect_sequence(T0, initial=True)
    assert c.tick(T0 + 4.9) == []
    assert [p.topic for p in c.tick(T0 + 5.0)] == ["tele/A102/STATE", "tele/A102/SENSOR"]
    assert c.tick(T0 + 14.0) == []
    assert len(c.tick(T0 + 15.0)) == 2


def test_link_and_reboot_counters() -> None:
    c = core()
    c.connect_sequence(T0, initial=True)
    c.link_down(T0 + 10)
    c.link_up(T0 + 16)
    c.connect_sequence(T0 + 16, initial=False)
    wifi = json.loads(c.state_json(T0 + 20))
    assert (wifi["MqttCount"], wifi["Wifi"]["LinkCount"], wifi["Wifi"]["Downtime"]) == (
        2,
        2,
        "0T00:00:06",
    )
    c.reboot(T0 + 30)
    assert json.loads(c.state_json(T0 + 30))["UptimeSec"] == 0
    info3 = next(a for a in c.connect_sequence(T0 + 30, initial=True) if "INFO3" in str(a))
    assert isinstance(info3, Publish)
    assert json.loads(info3.payload)["Info3"]["BootCount"] == 2
