"""Device codecs: Shelly Gen1 Plug S and Tasmota (Nous A1T), with payloads recorded in the field.

Payload examples are the ones of reference protocols.md §2 (Shelly Gen1) and §4 (Tasmota).
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.devices import CODECS, Codec, DecodeError, Outbound, codec_named, decode
from protocol.devices.shelly_gen1 import ShellyGen1
from protocol.devices.tasmota import Tasmota
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec

AT = 1_717_200_123.5
SHELLY_ROOT = "shellies/shellyplug-s-4375BD"


def shelly_plug(lwt: str | None = f"{SHELLY_ROOT}/online") -> DeviceSpec:
    return DeviceSpec(
        id="A101",
        type_id=111,
        usage=11,
        codec="shelly_gen1",
        control_topic=f"{SHELLY_ROOT}/relay/0",
        command_topic=f"{SHELLY_ROOT}/relay/0/command",
        lwt_topic=lwt,
        report_period_s=30.0,
    )


def tasmota_plug(
    command: str = "cmnd/A123/POWER",
    control: str = "tele/A123/STATE",
    lwt: str | None = "tele/A123/LWT",
) -> DeviceSpec:
    return DeviceSpec(
        id="A123",
        type_id=112,
        usage=11,
        codec="tasmota",
        control_topic=control,
        command_topic=command,
        lwt_topic=lwt,
        report_period_s=30.0,
    )


COFYBOX = tasmota_plug(
    command="cofybox/cb001/cmnd/a001/POWER",
    control="cofybox/cb001/tele/a001/STATE",
    lwt="cofybox/cb001/tele/a001/LWT",
)

SHELLY = ShellyGen1()
TASMOTA = Tasmota()


def report(device: DeviceSpec, retained: bool = False, **fields: object) -> DeviceReport:
    return DeviceReport(device=device.id, at=AT, retained=retained, **fields)  # type: ignore[arg-type]


def same_report(decoded: DeviceReport | None, expected: DeviceReport) -> bool:
    """Equal, floats within rounding (kWh -> Wh)."""
    if decoded is None:
        return False
    got, want = msgspec.structs.asdict(decoded), msgspec.structs.asdict(expected)
    floats = {k for k, v in want.items() if isinstance(v, float)}
    return all(got[k] == pytest.approx(want[k]) for k in floats) and all(
        got[k] == want[k] for k in want if k not in floats
    )


def test_codecs_are_registered_by_name() -> None:
    assert isinstance(codec_named("shelly_gen1"), ShellyGen1)
    assert isinstance(codec_named("tasmota"), Tasmota)
    with pytest.raises(KeyError):
        codec_named("shelly_gen2_typo")


# --- Shelly Gen1: recorded payloads -----------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "payload", "fields"),
    [
        ("relay/0", b"on", {"relay_on": True}),
        ("relay/0", b"off", {"relay_on": False}),
        ("relay/0", b"overpower", {"relay_on": False}),  # the relay tripped off
        ("relay/0", b"on\n", {"relay_on": True}),
        ("relay/0/power", b"42.17", {"power_w": 42.17}),
        ("relay/0/power", b"0", {"power_w": 0.0}),
        ("relay/0/energy", b"486230", {"energy_wh": 486230 / 60}),  # watt-minutes
        ("online", b"true", {"online": True}),
        ("online", b"false", {"online": False}),
    ],
)
def test_shelly_recorded_payloads(suffix: str, payload: bytes, fields: dict[str, object]) -> None:
    topic = f"{SHELLY_ROOT}/{suffix}"
    decoded = SHELLY.decode(shelly_plug(), topic, payload, False, AT)
    assert decoded == report(shelly_plug(), **fields)


def test_shelly_energy_is_converted_from_watt_minutes_to_watt_hours() -> None:
    decoded = SHELLY.decode(shelly_plug(), f"{SHELLY_ROOT}/relay/0/energy", b"486230", False, AT)
    assert decoded is not None and decoded.energy_wh == pytest.approx(8103.833, abs=1e-3)


def test_shelly_retained_flag_is_carried() -> None:
    decoded = SHELLY.decode(shelly_plug(), f"{SHELLY_ROOT}/relay/0", b"on", True, AT)
    assert decoded == report(shelly_plug(), retained=True, relay_on=True)


@pytest.mark.parametrize(
    ("suffix", "payload"),
    [
        ("relay/0", b"toggle"),
        ("relay/0", b""),
        ("relay/0", b"\xff\xfe"),
        ("relay/0/power", b"abc"),
        ("relay/0/power", b"-3.5"),
        ("relay/0/power", b"nan"),
        ("relay/0/power", b"inf"),
        ("relay/0/power", b"1" * 100),
        ("relay/0/energy", b""),
        ("online", b"yes"),
    ],
)
def test_shelly_bad_payloads_raise_decode_error(suffix: str, payload: bytes) -> None:
    with pytest.raises(DecodeError):
        SHELLY.decode(shelly_plug(), f"{SHELLY_ROOT}/{suffix}", payload, False, AT)


@pytest.mark.parametrize(
    "topic",
    [
        f"{SHELLY_ROOT}/relay/0/overpower_value",
        f"{SHELLY_ROOT}/temperature",
        f"{SHELLY_ROOT}/announce",
        "shellies/announce",
        "shellies/shellyplug-s-OTHER/relay/0",
    ],
)
def test_shelly_other_topics_carry_nothing(topic: str) -> None:
    assert SHELLY.decode(shelly_plug(), topic, b"on", False, AT) is None


def test_shelly_subscriptions_are_the_database_topics_and_their_siblings() -> None:
    subscriptions = SHELLY.subscriptions(shelly_plug())
    assert set(subscriptions) == {
        f"{SHELLY_ROOT}/relay/0",  # control topic (database)
        f"{SHELLY_ROOT}/relay/0/power",
        f"{SHELLY_ROOT}/relay/0/energy",
        f"{SHELLY_ROOT}/online",  # LWT (database)
    }
    assert None not in SHELLY.subscriptions(shelly_plug(lwt=None))
    assert f"{SHELLY_ROOT}/online" not in SHELLY.subscriptions(shelly_plug(lwt=None))


@pytest.mark.parametrize(("action", "payload"), [("ON", b"on"), ("OFF", b"off")])
def test_shelly_encode_is_one_non_retained_publish_on_the_command_topic(
    action: str, payload: bytes
) -> None:
    (publish,) = SHELLY.encode(shelly_plug(), action, "req-1")
    assert publish.topic == f"{SHELLY_ROOT}/relay/0/command"
    assert publish.payload == payload
    assert publish.retain is False
    assert publish.qos >= 1


def test_shelly_cannot_press() -> None:
    with pytest.raises(ValueError):
        SHELLY.encode(shelly_plug(), "PRESS", "req-1")


def test_shelly_refresh_asks_the_device_to_republish() -> None:
    assert SHELLY.refresh(shelly_plug()) == (
        Outbound(f"{SHELLY_ROOT}/command", b"update", qos=0, retain=False),
    )
    odd = msgspec.structs.replace(shelly_plug(), command_topic="plugs/x/set")
    assert SHELLY.refresh(odd) == ()


def test_shelly_accepts_its_database_topics() -> None:
    assert SHELLY.check(shelly_plug()) is None


# --- Tasmota: recorded payloads ---------------------------------------------------------------


STATE_EXAMPLE = (
    b'{"Time":"2024-05-02T10:15:00","Uptime":"0T18:36:12","UptimeSec":66972,"Heap":28,'
    b'"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":6,"POWER":"ON",'
    b'"Wifi":{"AP":1,"SSId":"elfe","RSSI":100,"Signal":-44,"LinkCount":1,"Downtime":"0T00:00:06"}}'
)
SENSOR_EXAMPLE = (
    b'{"Time":"2024-05-02T10:15:00","ENERGY":{"TotalStartTime":"2023-11-14T18:39:40",'
    b'"Total":6.294,"Yesterday":5.340,"Today":0.954,"Period":2,"Power":1523,'
    b'"ApparentPower":1530,"ReactivePower":140,"Factor":0.99,"Voltage":231,"Current":6.62}}'
)
TIC_EXAMPLE = (
    b'{"Time":"2021-10-26T17:28:45","ENERGY":{"TotalStartTime":"2021-10-25T15:22:04",'
    b'"Total":9098.245,"Yesterday":6822.685,"Today":2275.560,"Period":9,"Power":170,'
    b'"Current":1.000,"Load":6},"TIC":{"ADCO":"021528603314","OPTARIF":"HC..","ISOUSC":15,'
    b'"HCHC":920750,"HCHP":2275560,"PTEC":"HP..","IINST":1,"IMAX":2,"PAPP":170,"HHPHC":"A",'
    b'"MOTDETAT":0}}'
)


@pytest.mark.parametrize(
    ("topic", "payload", "fields"),
    [
        ("stat/A123/RESULT", b'{"POWER":"ON"}', {"relay_on": True}),
        ("stat/A123/RESULT", b'{"POWER":"OFF"}', {"relay_on": False}),
        ("stat/A123/POWER", b"ON", {"relay_on": True}),
        ("stat/A123/POWER", b"OFF", {"relay_on": False}),
        ("tele/A123/STATE", STATE_EXAMPLE, {"relay_on": True}),
        ("tele/A123/STATE", STATE_EXAMPLE.replace(b'"ON"', b'"OFF"'), {"relay_on": False}),
        ("tele/A123/SENSOR", SENSOR_EXAMPLE, {"power_w": 1523.0, "energy_wh": 6294.0}),
        ("tele/A123/LWT", b"Online", {"online": True}),
        ("tele/A123/LWT", b"Offline", {"online": False}),
    ],
)
def test_tasmota_recorded_payloads(topic: str, payload: bytes, fields: dict[str, object]) -> None:
    decoded = TASMOTA.decode(tasmota_plug(), topic, payload, False, AT)
    assert same_report(decoded, report(tasmota_plug(), **fields))


def test_tasmota_lwt_is_retained_state() -> None:
    decoded = TASMOTA.decode(tasmota_plug(), "tele/A123/LWT", b"Online", True, AT)
    assert decoded == report(tasmota_plug(), retained=True, online=True)


def test_tasmota_teleinfo_sensor_gives_power_and_total() -> None:
    reader = tasmota_plug("cmnd/B008/POWER", "tele/B008/SENSOR", "tele/B008/LWT")
    decoded = TASMOTA.decode(reader, "tele/B008/SENSOR", TIC_EXAMPLE, False, AT)
    assert decoded is not None
    assert decoded.power_w == 170.0
    assert decoded.energy_wh == pytest.approx(9_098_245.0)
    assert decoded.relay_on is None


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("stat/A123/RESULT", b'{"Command":"Error"}'),  # must not become a relay report
        ("stat/A123/RESULT", b'{"Command":"Unknown","Input":"POWR"}'),
        ("stat/A123/RESULT", b'{"TelePeriod":30}'),
        ("tele/A123/SENSOR", b'{"TIC":{"PAPP":190}}'),  # raw TIC frame without ENERGY
        ("tele/A123/SENSOR", b'{"Time":"2024-05-02T10:15:00"}'),
        ("tele/A123/INFO1", b'{"Module":"Sonoff Basic"}'),
        ("stat/A124/POWER", b"ON"),  # another plug
        ("cmnd/A123/POWER", b"ON"),  # our own command, echoed by the broker
    ],
)
def test_tasmota_messages_without_a_report(topic: str, payload: bytes) -> None:
    assert TASMOTA.decode(tasmota_plug(), topic, payload, False, AT) is None


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("stat/A123/RESULT", b'{"POWER":"TOGGLE"}'),
        ("stat/A123/RESULT", b'{"POWER":1}'),
        ("stat/A123/RESULT", b"ON"),
        ("stat/A123/RESULT", b"[1, 2]"),
        ("stat/A123/RESULT", b'{"POWER":"ON"'),
        ("stat/A123/POWER", b"success"),
        ("tele/A123/STATE", b""),
        ("tele/A123/SENSOR", b'{"ENERGY":{"Power":-5}}'),
        ("tele/A123/SENSOR", b'{"ENERGY":{"Power":"a lot"}}'),
        ("tele/A123/SENSOR", b'{"ENERGY":{"Power":1e999}}'),
        ("tele/A123/LWT", b"online?"),
        ("tele/A123/SENSOR", b"{" + b" " * 9000 + b"}"),
    ],
)
def test_tasmota_bad_payloads_raise_decode_error(topic: str, payload: bytes) -> None:
    with pytest.raises(DecodeError):
        TASMOTA.decode(tasmota_plug(), topic, payload, False, AT)


@pytest.mark.parametrize("depth", [100, 1000, 2000])
@pytest.mark.parametrize("topic", ["stat/A123/RESULT", "tele/A123/STATE", "tele/A123/SENSOR"])
def test_tasmota_deeply_nested_json_is_a_decode_error(topic: str, depth: int) -> None:
    payload = b'{"x":' + b"[" * depth + b"]" * depth + b"}"
    assert len(payload) < 8192
    try:
        decoded = TASMOTA.decode(tasmota_plug(), topic, payload, False, AT)
    except DecodeError:
        return
    assert decoded is None


def test_tasmota_multi_relay_layout_power1() -> None:
    plug = tasmota_plug(command="cmnd/A123/POWER1")
    assert "stat/A123/POWER1" in TASMOTA.subscriptions(plug)
    assert TASMOTA.decode(plug, "stat/A123/POWER1", b"ON", False, AT) == report(plug, relay_on=True)
    assert TASMOTA.decode(plug, "stat/A123/RESULT", b'{"POWER1":"OFF"}', False, AT) == report(
        plug, relay_on=False
    )


def test_tasmota_command_topic_case_does_not_change_the_reply_topic() -> None:
    """Tasmota accepts `cmnd/<t>/Power` but always replies on `stat/<t>/POWER`."""
    plug = tasmota_plug(command="cmnd/A123/Power")
    assert TASMOTA.check(plug) is None
    assert "stat/A123/POWER" in TASMOTA.subscriptions(plug)
    decoded = TASMOTA.decode(plug, "stat/A123/POWER", b"OFF", False, AT)
    assert decoded == report(plug, relay_on=False)


def test_tasmota_prefixed_layout() -> None:
    """Cofybox-hosted plugs: FullTopic `cofybox/cb001/%prefix%/%topic%/`."""
    assert TASMOTA.check(COFYBOX) is None
    assert set(TASMOTA.subscriptions(COFYBOX)) == {
        "cofybox/cb001/stat/a001/RESULT",
        "cofybox/cb001/stat/a001/POWER",
        "cofybox/cb001/tele/a001/STATE",
        "cofybox/cb001/tele/a001/SENSOR",
        "cofybox/cb001/tele/a001/LWT",
    }
    ack = TASMOTA.decode(COFYBOX, "cofybox/cb001/stat/a001/RESULT", b'{"POWER":"ON"}', False, AT)
    assert ack == report(COFYBOX, relay_on=True)
    sensor = TASMOTA.decode(COFYBOX, "cofybox/cb001/tele/a001/SENSOR", SENSOR_EXAMPLE, False, AT)
    assert sensor is not None and sensor.power_w == 1523.0
    # the unprefixed topics of the same %topic% are somebody else's
    assert TASMOTA.decode(COFYBOX, "stat/a001/RESULT", b'{"POWER":"ON"}', False, AT) is None
    (publish,) = TASMOTA.encode(COFYBOX, "ON", "req-1")
    assert publish.topic == "cofybox/cb001/cmnd/a001/POWER"


def test_tasmota_subscriptions_contain_the_database_control_and_lwt_topics() -> None:
    plug = tasmota_plug(control="tele/A110", lwt="tele/A115/LWT")  # the DDL comment's topics
    subscriptions = TASMOTA.subscriptions(plug)
    assert "tele/A110" in subscriptions
    assert "tele/A115/LWT" in subscriptions
    assert len(subscriptions) == len(set(subscriptions))
    standard = TASMOTA.subscriptions(tasmota_plug())
    assert set(standard) == {
        "stat/A123/RESULT",
        "stat/A123/POWER",
        "tele/A123/STATE",
        "tele/A123/SENSOR",
        "tele/A123/LWT",
    }
    assert len(standard) == len(set(standard))
    assert None not in TASMOTA.subscriptions(tasmota_plug(lwt=None))


@pytest.mark.parametrize("action", ["ON", "OFF"])
def test_tasmota_encode_is_one_non_retained_publish_on_the_command_topic(action: str) -> None:
    (publish,) = TASMOTA.encode(tasmota_plug(), action, "req-1")
    assert publish.topic == "cmnd/A123/POWER"
    assert publish.payload == action.encode()
    assert publish.retain is False  # a retained POWER causes ghost switching
    assert publish.qos >= 1


def test_tasmota_cannot_press() -> None:
    with pytest.raises(ValueError):
        TASMOTA.encode(tasmota_plug(), "PRESS", "req-1")


def test_tasmota_refresh_queries_power_and_telemetry_without_retain() -> None:
    publishes = TASMOTA.refresh(COFYBOX)
    assert {(p.topic, p.payload) for p in publishes} == {
        ("cofybox/cb001/cmnd/a001/POWER", b""),
        ("cofybox/cb001/cmnd/a001/TelePeriod", b""),
    }
    assert not any(p.retain for p in publishes)


@pytest.mark.parametrize(
    "command",
    [
        "cmd/A110",  # the schema comment's typo
        "cmd/A110/POWER",
        "cmnd/A110",
        "A110/POWER",
        "cmnd/A110/STATUS",
        "shellies/shellyplug-s-4375BD/relay/0/command",
        "",
    ],
)
def test_tasmota_check_reports_a_command_topic_that_is_not_cmnd_topic_power(command: str) -> None:
    problem = TASMOTA.check(tasmota_plug(command=command))
    assert problem is not None
    assert "\n" not in problem
    if command:
        assert command in problem


@pytest.mark.parametrize(
    "command", ["cmnd/A123/POWER", "cmnd/A123/POWER1", "cofybox/cb001/cmnd/a001/POWER"]
)
def test_tasmota_check_accepts_real_layouts(command: str) -> None:
    assert TASMOTA.check(tasmota_plug(command=command)) is None


# --- properties: every subscribed topic, any payload -----------------------------------------


DEVICES: list[tuple[Codec, DeviceSpec]] = [
    (SHELLY, shelly_plug()),
    (SHELLY, shelly_plug(lwt=None)),
    (TASMOTA, tasmota_plug()),
    (TASMOTA, tasmota_plug(command="cmnd/A123/POWER1", control="tele/A110")),
    (TASMOTA, COFYBOX),
    (TASMOTA, tasmota_plug(lwt=None)),
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from(["ON", "OFF", "on", "1", "TOGGLE", "Online", ""])
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["POWER", "POWER1", "ENERGY", "Power", "Total", "TIC", "Command"])
            | st.text(max_size=4),
            inner,
            max_size=3,
        )
    ),
    max_leaves=12,
)
payloads = (
    st.binary(max_size=80)
    | st.sampled_from([b"on", b"off", b"true", b"ON", b"Online", b"42.17", b"486230", b"-0"])
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass"))
    | st.integers(0, 3000).map(lambda n: b'{"x":' + b"[" * n + b"]" * n + b"}")  # nesting
)


@settings(max_examples=400)
@given(
    device=st.sampled_from(DEVICES).flatmap(
        lambda d: st.tuples(st.just(d), st.sampled_from(d[0].subscriptions(d[1])))
    ),
    payload=payloads,
    retained=st.booleans(),
)
def test_any_payload_on_any_subscribed_topic_is_a_report_none_or_decode_error(
    device: tuple[tuple[Codec, DeviceSpec], str], payload: bytes, retained: bool
) -> None:
    (codec, spec), topic = device
    try:
        decoded = codec.decode(spec, topic, payload, retained, AT)
    except DecodeError as exc:
        assert str(exc)
        return
    assert decoded is None or isinstance(decoded, DeviceReport)
    if decoded is not None:
        assert decoded.device == spec.id
        assert decoded.at == AT
        assert decoded.retained is retained
        assert decoded.power_w is None or decoded.power_w >= 0


@settings(max_examples=100)
@given(
    pair=st.sampled_from(DEVICES),
    action=st.sampled_from(["ON", "OFF"]),
    request=st.text(max_size=8),
)
def test_encode_is_exactly_one_non_retained_publish_on_the_database_topic(
    pair: tuple[Codec, DeviceSpec], action: str, request: str
) -> None:
    codec, spec = pair
    publishes = codec.encode(spec, action, request)
    assert len(publishes) == 1
    (publish,) = publishes
    assert publish.topic == spec.command_topic
    assert publish.retain is False
    assert publish.payload.lower() == action.lower().encode()


def test_every_registered_codec_has_its_tests() -> None:
    """Shelly Gen1 and Tasmota are tested here, every other family in test_codec_<name>.py."""
    here = {codec.name for codec, _ in DEVICES}
    tests = Path(__file__).parent
    others = {name for name in CODECS if (tests / f"test_codec_{name}.py").exists()}
    assert here | others == set(CODECS)


def test_decode_names_the_device_of_a_bad_payload_or_a_codec_bug() -> None:
    report, error = decode(shelly_plug(), f"{SHELLY_ROOT}/relay/0", b"on", False, AT)
    assert report is not None and error is None
    assert decode(shelly_plug(), f"{SHELLY_ROOT}/relay/0", b"", False, AT)[1].startswith(
        "device A101: "
    )  # type: ignore[union-attr]
    broken = msgspec.structs.replace(shelly_plug(), codec="no such codec")
    assert decode(broken, f"{SHELLY_ROOT}/relay/0", b"on", False, AT) == (
        None,
        "device A101: KeyError: 'no such codec'",
    )
