"""Codec `tic`: Tasmota Teleinfo (Linky TIC) reader, database type 211, reference protocols.md §4.2.

Recorded payloads are the examples of the reference; the standard-mode ones are built from the
reference's label table (no standard-mode frame is recorded there) and say so.
"""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.config import DEFAULT_CODECS
from protocol.devices import CODECS, DecodeError, Outbound, codec_named
from protocol.devices.tic import Tic
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec
from tests.unit.codec_fuzz import fuzz_decode, subscribed_topics
from tests.unit.codec_fuzz import payloads as fuzz_payloads

AT = 1_717_200_123.5
CODEC = Tic()


def reader(
    control: str = "tele/B008/SENSOR",
    command: str = "cmnd/B008/POWER",
    lwt: str | None = "tele/B008/LWT",
) -> DeviceSpec:
    """The schema comment's row (coordination-db.md §4.13)."""
    return DeviceSpec(
        id="B008",
        type_id=211,
        usage=21,
        codec="tic",
        control_topic=control,
        command_topic=command,
        lwt_topic=lwt,
        report_period_s=300.0,
    )


COFYBOX = reader(
    "cofybox/cb001/tele/b008/SENSOR", "cofybox/cb001/cmnd/b008/POWER", "cofybox/cb001/tele/b008/LWT"
)

# protocols.md §4.2, default output (historic mode, HC tariff)
HISTORIC = (
    b'{"Time":"2021-10-26T17:28:45","ENERGY":{"TotalStartTime":"2021-10-25T15:22:04",'
    b'"Total":9098.245,"Yesterday":6822.685,"Today":2275.560,"Period":9,"Power":170,'
    b'"Current":1.000,"Load":6},"TIC":{"ADCO":"021528603314","OPTARIF":"HC..","ISOUSC":15,'
    b'"HCHC":920750,"HCHP":2275560,"PTEC":"HP..","IINST":1,"IMAX":2,"PAPP":170,"HHPHC":"A",'
    b'"MOTDETAT":0}}'
)
# protocols.md §4.1, the STATE example (a sign of life here: a TIC reader has no relay)
STATE = (
    b'{"Time":"2024-05-02T10:15:00","Uptime":"0T18:36:12","UptimeSec":66972,"Heap":28,'
    b'"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":6,'
    b'"Wifi":{"AP":1,"SSId":"elfe","RSSI":100,"Signal":-44,"LinkCount":1,"Downtime":"0T00:00:06"}}'
)
# Built from the label table of §4.2 (standard mode): SINSTS VA, EAST Wh.
STANDARD = (
    b'{"Time":"2024-05-02T10:15:00","ENERGY":{"Total":12345.678,"Power":1830},'
    b'"TIC":{"ADSC":"041876097733","VTIC":"02","NGTF":"H PLEINE/CREUSE","LTARF":"HEURE PLEINE",'
    b'"EAST":12345678,"EASF01":4567890,"EASF02":7777788,"IRMS1":8,"URMS1":232,"PREF":9,'
    b'"SINSTS":1830,"SMAXSN":5210,"STGE":"003A0001"}}'
)


READER = reader()


def report(device: DeviceSpec = READER, retained: bool = False, **fields: object) -> DeviceReport:
    return DeviceReport(device=device.id, at=AT, retained=retained, **fields)  # type: ignore[arg-type]


def decode(
    topic: str, payload: bytes, device: DeviceSpec = READER, retained: bool = False
) -> DeviceReport | None:
    return CODEC.decode(device, topic, payload, retained, AT)


def test_registered_and_mapped_to_type_211() -> None:
    assert isinstance(codec_named("tic"), Tic)
    assert CODECS["tic"].name == "tic"
    assert DEFAULT_CODECS[211] == "tic"


# --- recorded and documented payloads -----------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "payload", "fields"),
    [
        # the meter's own labels: PAPP VA, HCHC + HCHP Wh (not Tasmota's ENERGY.Total)
        ("tele/B008/SENSOR", HISTORIC, {"power_w": 170.0, "energy_wh": 920750.0 + 2275560.0}),
        ("tele/B008/SENSOR", STANDARD, {"power_w": 1830.0, "energy_wh": 12345678.0}),
        ("tele/B008/SENSOR", b'{"TIC":{"PAPP":190}}', {"power_w": 190.0}),  # raw, changed only
        ("tele/B008/SENSOR", b'{"TIC":{"SINSTS":2450}}', {"power_w": 2450.0}),
        ("tele/B008/SENSOR", b'{"TIC":{"BASE":"004567890"}}', {"energy_wh": 4567890.0}),
        ("tele/B008/SENSOR", b'{"TIC":{"HCHC":1,"HCHP":2}}', {"energy_wh": 3.0}),
        ("tele/B008/SENSOR", b'{"TIC":{"EAST":77}}', {"energy_wh": 77.0}),
        ("tele/B008/SENSOR", b'{"TIC":{"PAPP":"00190"}}', {"power_w": 190.0}),  # digits as text
        # no TIC object: Tasmota's ENERGY (Power VA, Total kWh)
        ("tele/B008/SENSOR", b'{"ENERGY":{"Power":170,"Total":9098.245}}',
         {"power_w": 170.0, "energy_wh": 9098245.0}),
        ("tele/B008/SENSOR", b'{"ENERGY":{"Power":[100,200,300]}}', {"power_w": 600.0}),
        # a TIC object with no index label: ENERGY.Total is the only energy there is (Tempo)
        ("tele/B008/SENSOR", b'{"ENERGY":{"Total":1.5},"TIC":{"BBRHCJB":1200,"PAPP":90}}',
         {"power_w": 90.0, "energy_wh": 1500.0}),
        ("tele/B008/LWT", b"Online", {"online": True}),
        ("tele/B008/LWT", b"Offline", {"online": False}),
        ("tele/B008/STATE", STATE, {"online": True}),
    ],
)  # fmt: skip
def test_documented_payloads(topic: str, payload: bytes, fields: dict[str, object]) -> None:
    decoded = decode(topic, payload)
    assert decoded is not None
    assert msgspec.structs.asdict(decoded) == pytest.approx(
        msgspec.structs.asdict(report(**fields))
    )


def test_historic_frame_prefers_the_meter_index_to_tasmota_total() -> None:
    decoded = decode("tele/B008/SENSOR", HISTORIC)
    assert decoded is not None
    assert decoded.energy_wh == 3_196_310.0  # HCHC + HCHP, while ENERGY.Total says 9098.245 kWh
    assert decoded.relay_on is None  # a TIC reader has no relay


@pytest.mark.parametrize(
    "payload",
    [
        b'{"TIC":{"ADPS":1}}',  # over-current alarm: nothing this codec reports
        b'{"TIC":{"PTEC":"HC.."}}',
        b'{"TIC":{"HCHP":2275561}}',  # half of a historic index: no sum to make
        b'{"TIC":{"HCHC":1},"ENERGY":{"Total":3.0}}',  # ...and Total is not mixed in
        b'{"Time":"2024-05-02T10:15:00"}',
        b"{}",
    ],
)
def test_sensor_messages_without_a_measure(payload: bytes) -> None:
    assert decode("tele/B008/SENSOR", payload) is None


def test_retained_state_is_no_sign_of_life_but_retained_flag_is_carried_otherwise() -> None:
    assert decode("tele/B008/STATE", STATE, retained=True) is None
    assert decode("tele/B008/LWT", b"Online", retained=True) == report(retained=True, online=True)
    sensor = decode("tele/B008/SENSOR", b'{"TIC":{"PAPP":190}}', retained=True)
    assert sensor == report(retained=True, power_w=190.0)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("tele/B008/SENSOR", b'{"TIC":{"PAPP":-5}}'),
        ("tele/B008/SENSOR", b'{"TIC":{"PAPP":"beaucoup"}}'),
        ("tele/B008/SENSOR", b'{"TIC":{"PAPP":"nan"}}'),
        ("tele/B008/SENSOR", b'{"TIC":{"EAST":"inf"}}'),
        ("tele/B008/SENSOR", b'{"TIC":{"PAPP":true}}'),
        ("tele/B008/SENSOR", b'{"TIC":{"HCHC":1e999,"HCHP":1}}'),
        ("tele/B008/SENSOR", b'{"TIC":[1,2]}'),
        ("tele/B008/SENSOR", b'{"ENERGY":{"Power":-1}}'),
        ("tele/B008/SENSOR", b'{"ENERGY":{"Total":-0.5}}'),
        ("tele/B008/SENSOR", b'{"ENERGY":{"Power":[1,-2]}}'),
        ("tele/B008/SENSOR", b'{"TIC":{"PAPP":190}'),
        ("tele/B008/SENSOR", b""),
        ("tele/B008/SENSOR", b"\xff\xfe"),
        ("tele/B008/SENSOR", b"{" + b" " * 9000 + b"}"),
        ("tele/B008/STATE", b"ON"),
        ("tele/B008/STATE", b"[]"),
        ("tele/B008/LWT", b"online?"),
        ("tele/B008/LWT", b""),
    ],
)
def test_bad_payloads_raise_decode_error(topic: str, payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(topic, payload)


@pytest.mark.parametrize(
    "topic",
    [
        "cmnd/B008/POWER",  # the meaningless command topic of the row, never heard
        "stat/B008/RESULT",
        "tele/B009/SENSOR",
        "tele/B008/INFO1",
        "cofybox/cb001/tele/B008/SENSOR",
    ],
)
def test_other_topics_carry_nothing(topic: str) -> None:
    assert decode(topic, b'{"TIC":{"PAPP":190}}') is None


# --- topics -------------------------------------------------------------------------------------


def test_subscriptions_are_the_database_topics_and_the_tasmota_siblings() -> None:
    subscriptions = CODEC.subscriptions(reader())
    assert subscriptions == ("tele/B008/SENSOR", "tele/B008/STATE", "tele/B008/LWT")
    assert "cmnd/B008/POWER" not in subscriptions


def test_prefixed_layout() -> None:
    assert CODEC.check(COFYBOX) is None
    assert set(CODEC.subscriptions(COFYBOX)) == {
        "cofybox/cb001/tele/b008/SENSOR",
        "cofybox/cb001/tele/b008/STATE",
        "cofybox/cb001/tele/b008/LWT",
    }
    decoded = CODEC.decode(COFYBOX, "cofybox/cb001/tele/b008/SENSOR", HISTORIC, False, AT)
    assert decoded is not None and decoded.power_w == 170.0
    assert CODEC.refresh(COFYBOX) == (Outbound("cofybox/cb001/cmnd/b008/TelePeriod", b""),)


def test_topic_from_the_lwt_when_the_control_topic_is_not_tasmota() -> None:
    device = reader(control="tele/B008", lwt="tele/B008/LWT")  # like the plug's schema comment
    assert CODEC.check(device) is None
    assert set(CODEC.subscriptions(device)) == {
        "tele/B008",
        "tele/B008/SENSOR",
        "tele/B008/STATE",
        "tele/B008/LWT",
    }
    # the database's control topic is read as the SENSOR it promises
    assert CODEC.decode(device, "tele/B008", b'{"TIC":{"PAPP":5}}', False, AT) == report(
        device, power_w=5.0
    )


def test_without_a_database_lwt_the_tasmota_lwt_is_heard() -> None:
    device = reader(lwt=None)
    assert "tele/B008/LWT" in CODEC.subscriptions(device)
    assert CODEC.decode(device, "tele/B008/LWT", b"Offline", True, AT) == report(
        device, retained=True, online=False
    )


@pytest.mark.parametrize(
    ("control", "lwt"),
    [
        ("tele/B008", None),
        ("tele/B008", "tele/B008/STATUS"),
        ("B008/SENSOR", "B008/LWT"),
        ("tele//SENSOR", None),
        ("stat/B008/SENSOR", "tasmota/B008/LWT"),
        ("", ""),
    ],
)
def test_check_names_topics_without_a_tasmota_layout(control: str, lwt: str | None) -> None:
    problem = CODEC.check(reader(control=control, lwt=lwt))
    assert problem is not None
    assert "\n" not in problem
    assert repr(control) in problem


@pytest.mark.parametrize(
    ("control", "lwt"),
    [
        ("tele/B008/SENSOR", "tele/B008/LWT"),
        ("tele/B008/SENSOR", None),
        ("tele/B008/STATE", None),
        ("tele/B008", "tele/B008/LWT"),
        ("cofybox/cb001/tele/b008/SENSOR", None),
    ],
)
def test_check_accepts_real_layouts(control: str, lwt: str | None) -> None:
    assert CODEC.check(reader(control=control, lwt=lwt)) is None


# --- never commanded; refresh -------------------------------------------------------------------


@pytest.mark.parametrize("action", ["ON", "OFF", "PRESS"])
def test_read_only_even_though_the_row_has_a_command_topic(action: str) -> None:
    with pytest.raises(ValueError, match="read-only"):
        CODEC.encode(reader(), action, "req-1")


def test_refresh_is_an_empty_teleperiod_never_retained() -> None:
    (publish,) = CODEC.refresh(reader())
    assert publish.topic == "cmnd/B008/TelePeriod"
    assert publish.payload == b""
    assert publish.retain is False


# --- properties ---------------------------------------------------------------------------------

DEVICES = [reader(), COFYBOX, reader(lwt=None), reader(control="tele/B008", lwt="tele/B008/LWT")]
LABELS = ["PAPP", "SINSTS", "BASE", "HCHC", "HCHP", "EAST", "ADCO", "ENERGY", "TIC", "Power"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(["Online", "00190", "nan", "-1", ""])
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(LABELS) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)
payloads = fuzz_payloads(
    [HISTORIC, STANDARD, STATE, b"Online", b"Offline", b'{"TIC":{"PAPP":190}}'], json_values, b"TIC"
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
        assert decoded.relay_on is None and decoded.reply is None
        assert decoded.power_w is None or decoded.power_w >= 0
        assert decoded.energy_wh is None or decoded.energy_wh >= 0


counters = st.integers(0, 999_999_999)


@settings(max_examples=100)
@given(papp=counters, hchc=counters, hchp=counters, total=st.floats(0, 1e6), as_text=st.booleans())
def test_historic_labels_decode_to_power_and_the_index_sum(
    papp: int, hchc: int, hchp: int, total: float, as_text: bool
) -> None:
    labels = {"PAPP": papp, "HCHC": hchc, "HCHP": hchp, "PTEC": "HP.."}
    if as_text:  # digits with leading zeros, as the raw frame has them
        labels = {k: f"{v:09d}" if isinstance(v, int) else v for k, v in labels.items()}
    payload = json.dumps({"ENERGY": {"Power": papp, "Total": total}, "TIC": labels}).encode()
    assert decode("tele/B008/SENSOR", payload) == report(
        power_w=float(papp), energy_wh=float(hchc + hchp)
    )


@settings(max_examples=100)
@given(sinsts=counters, east=counters)
def test_standard_labels_decode_to_power_and_index(sinsts: int, east: int) -> None:
    payload = json.dumps({"TIC": {"SINSTS": sinsts, "EAST": east, "LTARF": "HP"}}).encode()
    assert decode("tele/B008/SENSOR", payload) == report(
        power_w=float(sinsts), energy_wh=float(east)
    )
