"""Codec `shelly_ht`: Shelly H&T Gen1 battery sensor, database type 611, reference protocols.md
§2.3 (topics and payloads of its table and of §2.4)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.config import DEFAULT_CODECS
from protocol.devices import DecodeError, codec_named
from protocol.devices.shelly_ht import ShellyHT
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec
from tests.unit.codec_fuzz import fuzz_decode, subscribed_topics

AT = 1_717_200_123.5
CODEC = ShellyHT()
ROOT = "shellies/F003"


def sensor(
    control: str = f"{ROOT}/sensor/temperature",
    command: str = "NULL",  # the schema comment's "NULL" in a NOT NULL column
    lwt: str | None = f"{ROOT}/online",
) -> DeviceSpec:
    return DeviceSpec(
        id="F003",
        type_id=611,
        usage=61,
        codec="shelly_ht",
        control_topic=control,
        command_topic=command,
        lwt_topic=lwt,
        report_period_s=21600.0,
    )


SENSOR = sensor()


def report(device: DeviceSpec = SENSOR, retained: bool = False, **fields: object) -> DeviceReport:
    return DeviceReport(device=device.id, at=AT, retained=retained, **fields)  # type: ignore[arg-type]


def decode(
    topic: str, payload: bytes, device: DeviceSpec = SENSOR, retained: bool = False
) -> DeviceReport | None:
    return CODEC.decode(device, topic, payload, retained, AT)


def test_registered_and_mapped_to_type_611() -> None:
    assert isinstance(codec_named("shelly_ht"), ShellyHT)
    assert DEFAULT_CODECS[611] == "shelly_ht"


@pytest.mark.parametrize(
    ("suffix", "payload", "fields"),
    [
        ("sensor/temperature", b"21.5", {"temperature_c": 21.5}),  # the reference's example
        ("sensor/temperature", b"-40", {"temperature_c": -40.0}),
        ("sensor/temperature", b"80", {"temperature_c": 80.0}),
        ("sensor/temperature", b"0.25\n", {"temperature_c": 0.25}),
        ("sensor/humidity", b"48.5", {"humidity": 48.5}),
        ("sensor/humidity", b"100", {"humidity": 100.0}),
        ("sensor/battery", b"87", {"battery": 87}),
        ("sensor/battery", b"0", {"battery": 0}),
        ("online", b"true", {"online": True}),
    ],
)
def test_documented_payloads(suffix: str, payload: bytes, fields: dict[str, object]) -> None:
    assert decode(f"{ROOT}/{suffix}", payload) == report(**fields)


def test_going_back_to_sleep_is_no_outage() -> None:
    """`online` = false after every wake-up: silence is judged by the report period instead."""
    assert decode(f"{ROOT}/online", b"false") is None
    assert decode(f"{ROOT}/online", b"false", retained=True) is None


def test_retained_values_say_so() -> None:
    """With `mqtt_retain` on, the last value arrives at once after a restart, marked retained."""
    decoded = decode(f"{ROOT}/sensor/temperature", b"19.0", retained=True)
    assert decoded == report(retained=True, temperature_c=19.0)


@pytest.mark.parametrize(
    ("suffix", "payload"),
    [
        ("sensor/temperature", b"-40.1"),
        ("sensor/temperature", b"80.5"),
        ("sensor/temperature", b"185"),  # a sensor set to °F on a hot day, or garbage
        ("sensor/temperature", b"nan"),
        ("sensor/temperature", b"inf"),
        ("sensor/temperature", b"21,5"),
        ("sensor/temperature", b""),
        ("sensor/temperature", b"\xff"),
        ("sensor/humidity", b"101"),
        ("sensor/humidity", b"-1"),
        ("sensor/battery", b"100.6"),
        ("sensor/battery", b"-5"),
        ("sensor/battery", b"full"),
        ("online", b"1"),
        ("online", b"online"),
    ],
)
def test_bad_payloads_raise_decode_error(suffix: str, payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(f"{ROOT}/{suffix}", payload)


@pytest.mark.parametrize(
    "topic",
    [
        f"{ROOT}/sensor/ext_power",
        f"{ROOT}/sensor/error",
        f"{ROOT}/sensor/act_reasons",
        f"{ROOT}/announce",
        "shellies/F004/sensor/temperature",
    ],
)
def test_other_topics_carry_nothing(topic: str) -> None:
    assert decode(topic, b"21") is None


def test_subscriptions_are_the_database_topics_and_the_sensor_siblings() -> None:
    assert CODEC.subscriptions(SENSOR) == (
        f"{ROOT}/sensor/temperature",  # control topic (database)
        f"{ROOT}/sensor/humidity",
        f"{ROOT}/sensor/battery",
        f"{ROOT}/online",  # LWT (database)
    )
    assert "NULL" not in CODEC.subscriptions(SENSOR)


def test_database_lwt_is_followed_and_derived_without_one() -> None:
    odd = sensor(lwt="shellies/F003-old/online")
    assert "shellies/F003-old/online" in CODEC.subscriptions(odd)
    assert decode("shellies/F003-old/online", b"true", odd) == report(odd, online=True)
    assert f"{ROOT}/online" in CODEC.subscriptions(sensor(lwt=None))


@pytest.mark.parametrize(
    "control", ["shellies/F003/temperature", "shellies/F003/sensor", "/sensor/temperature", ""]
)
def test_check_names_a_control_topic_that_is_not_a_temperature(control: str) -> None:
    problem = CODEC.check(sensor(control=control))
    assert problem is not None and "\n" not in problem


def test_check_accepts_the_schema_row_whatever_its_command_topic() -> None:
    assert CODEC.check(SENSOR) is None
    assert CODEC.check(sensor(command="")) is None


@pytest.mark.parametrize("action", ["ON", "OFF", "PRESS"])
def test_never_commanded(action: str) -> None:
    with pytest.raises(ValueError):
        CODEC.encode(SENSOR, action, "req-1")


def test_a_sleeping_sensor_has_nothing_to_refresh() -> None:
    assert CODEC.refresh(SENSOR) == ()


# --- properties ---------------------------------------------------------------------------------

DEVICES = [SENSOR, sensor(lwt=None), sensor(control="shellies/ht-AB12/sensor/temperature")]
payloads = (
    st.binary(max_size=40)
    | st.floats().map(lambda f: repr(f).encode())
    | st.integers(-1000, 1000).map(lambda i: str(i).encode())
    | st.sampled_from([b"true", b"false", b"21.5", b"1e999", b"-0", b" 12 "])
    | st.text(max_size=70).map(lambda s: s.encode("utf-8", "surrogatepass"))
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2).map(
        lambda d: json.dumps(d).encode()
    )
)


@settings(max_examples=300)
@given(
    pair=subscribed_topics(CODEC, DEVICES),
    payload=payloads,
    retained=st.booleans(),
)
def test_any_payload_on_any_subscribed_topic_is_a_report_none_or_decode_error(
    pair: tuple[DeviceSpec, str], payload: bytes, retained: bool
) -> None:
    rejected, decoded = fuzz_decode(CODEC, *pair, payload, retained, AT)
    if rejected:
        return
    if decoded is not None:
        assert decoded.relay_on is None and decoded.power_w is None
        assert decoded.online in (None, True)
        t, h, b = decoded.temperature_c, decoded.humidity, decoded.battery
        assert t is None or -40 <= t <= 80
        assert h is None or 0 <= h <= 100
        assert b is None or 0 <= b <= 100


@settings(max_examples=100)
@given(temperature=st.floats(-40, 80), humidity=st.floats(0, 100), battery=st.integers(0, 100))
def test_in_range_values_decode_exactly(temperature: float, humidity: float, battery: int) -> None:
    assert decode(f"{ROOT}/sensor/temperature", repr(temperature).encode()) == report(
        temperature_c=temperature
    )
    assert decode(f"{ROOT}/sensor/humidity", repr(humidity).encode()) == report(humidity=humidity)
    assert decode(f"{ROOT}/sensor/battery", str(battery).encode()) == report(battery=battery)
