"""Codec `switchbot`: SwitchBot Bot behind the devWaves gateway (mqtt2ble v7), database type 311,
reference protocols.md §5 (payloads of §5.2 and §5.5)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.config import DEFAULT_CODECS
from protocol.devices import DecodeError, Outbound, codec_named
from protocol.devices.switchbot import SwitchBot
from protocol.messages import CommandReply, DeviceReport
from protocol.model import DeviceSpec
from tests.unit.codec_fuzz import fuzz_decode, subscribed_topics
from tests.unit.codec_fuzz import payloads as fuzz_payloads

AT = 1_717_200_123.5
CODEC = SwitchBot()
BASE = "switchbot/C002"


def finger(
    control: str = f"{BASE}/bot/C003/status",
    command: str = f"{BASE}/bot/C003/set",
    lwt: str | None = f"{BASE}/lastwill",
) -> DeviceSpec:
    return DeviceSpec(
        id="C003",
        type_id=311,
        usage=32,
        codec="switchbot",
        control_topic=control,
        command_topic=command,
        lwt_topic=lwt,
        report_period_s=600.0,
    )


ANNEX = finger()  # the documentation annex: control `…/status`
SCHEMA = finger(  # the v6.3 schema comment: control `…/attributes`, one name for host and bot
    "switchbot/C009/bot/C009/attributes", "switchbot/C009/bot/C009/set", "switchbot/C009/lastwill"
)


def report(device: DeviceSpec = ANNEX, retained: bool = False, **fields: object) -> DeviceReport:
    return DeviceReport(device=device.id, at=AT, retained=retained, **fields)  # type: ignore[arg-type]


def decode(
    topic: str, payload: bytes, device: DeviceSpec = ANNEX, retained: bool = False
) -> DeviceReport | None:
    return CODEC.decode(device, topic, payload, retained, AT)


def test_registered_and_mapped_to_type_311() -> None:
    assert isinstance(codec_named("switchbot"), SwitchBot)
    assert DEFAULT_CODECS[311] == "switchbot"


# --- status: answers to a command ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "ok", "detail", "command"),
    [
        (b'{"status":"success","value":5,"command":"PRESS"}', True, "success", "PRESS"),
        (b'{"status":"success","value":1,"command":"ON"}', True, "success", "ON"),
        (b'{"status":"failed","value":9,"command":"PRESS"}', False, "failed", "PRESS"),
        (b'{"status":"lowbattery","value":6,"command":"PRESS"}', False, "lowbattery", "PRESS"),
        (b'{"status":"errorConnect","command":"PRESS"}', False, "errorConnect", "PRESS"),
        (b'{"status":"errorCommand","command":"NOTVALID"}', False, "errorCommand", "NOTVALID"),
        (b'{"status":"success"}', True, "success", None),
    ],
)
def test_status_answers(payload: bytes, ok: bool, detail: str, command: str | None) -> None:
    reply = CommandReply(None, ok, detail, command)
    assert decode(f"{BASE}/bot/C003/status", payload) == report(reply=reply)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"status":"connected","command":"PRESS"}',
        b'{"status":"commandSent","command":"PRESS"}',
        b'{"status":"busy","value":3,"command":"PRESS"}',  # the gateway retries by itself
    ],
)
def test_status_progress_carries_nothing(payload: bytes) -> None:
    assert decode(f"{BASE}/bot/C003/status", payload) is None


def test_a_retained_answer_says_so() -> None:
    payload = b'{"status":"success","value":5,"command":"PRESS"}'
    decoded = decode(f"{BASE}/bot/C003/status", payload, retained=True)
    assert decoded == report(retained=True, reply=CommandReply(None, True, "success", "PRESS"))


# --- attributes, lastwill -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        (b'{"rssi":-78,"mode":"Press","state":"OFF","batt":94}', {"battery": 94}),
        (b'{"rssi":-78,"mode":"Press","state":"ON","batt":94}', {"battery": 94}),  # not a relay
        (b'{"batt":0}', {"battery": 0}),
        (b'{"batt":100}', {"battery": 100}),
        (b'{"batt":55.4}', {"battery": 55}),
    ],
)
def test_attributes_give_the_battery_never_a_relay(payload: bytes, fields: dict[str, int]) -> None:
    decoded = decode(f"{BASE}/bot/C003/attributes", payload)
    assert decoded == report(**fields)
    assert decoded is not None and decoded.relay_on is None


def test_attributes_without_battery_carry_nothing() -> None:
    assert decode(f"{BASE}/bot/C003/attributes", b'{"rssi":-78,"mode":"Press"}') is None


@pytest.mark.parametrize(("payload", "online"), [(b"online", True), (b"offline", False)])
def test_lastwill_is_the_gateway_availability(payload: bytes, online: bool) -> None:
    assert decode(f"{BASE}/lastwill", payload, retained=True) == report(
        retained=True, online=online
    )


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (f"{BASE}/bot/C003/status", b'{"status":"exploded"}'),
        (f"{BASE}/bot/C003/status", b'{"status":5}'),
        (f"{BASE}/bot/C003/status", b'{"command":"PRESS"}'),
        (f"{BASE}/bot/C003/status", b"success"),  # the word alone is not what the gateway sends
        (f"{BASE}/bot/C003/status", b"[]"),
        (f"{BASE}/bot/C003/status", b""),
        (f"{BASE}/bot/C003/attributes", b'{"batt":101}'),
        (f"{BASE}/bot/C003/attributes", b'{"batt":-1}'),
        (f"{BASE}/bot/C003/attributes", b'{"batt":"full"}'),
        (f"{BASE}/bot/C003/attributes", b'{"batt":1e999}'),
        (f"{BASE}/bot/C003/attributes", b"\xff"),
        (f"{BASE}/lastwill", b"true"),
        (f"{BASE}/lastwill", b""),
    ],
)
def test_bad_payloads_raise_decode_error(topic: str, payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(topic, payload)


@pytest.mark.parametrize(
    "topic",
    [
        f"{BASE}/bot/C003/state",  # retained ON/OFF: meaningless for a press-mode bot
        f"{BASE}/bot/C003/set",  # our own command, echoed
        f"{BASE}/bot/C004/status",  # another bot of the same gateway
        f"{BASE}",
        "switchbot/C009/bot/C003/status",
    ],
)
def test_other_topics_carry_nothing(topic: str) -> None:
    assert decode(topic, b'{"status":"success","command":"PRESS"}') is None


# --- topics -------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", [ANNEX, SCHEMA], ids=["annex-status", "schema-attributes"])
def test_both_status_and_attributes_are_heard_whichever_the_database_names(
    device: DeviceSpec,
) -> None:
    base, name = device.command_topic.removesuffix("/set").split("/bot/")
    subscriptions = CODEC.subscriptions(device)
    assert set(subscriptions) == {
        f"{base}/bot/{name}/status",
        f"{base}/bot/{name}/attributes",
        f"{base}/lastwill",
    }
    assert device.control_topic in subscriptions
    assert device.lwt_topic in subscriptions
    assert len(subscriptions) == len(set(subscriptions))
    assert CODEC.check(device) is None


def test_without_a_database_lwt_the_gateway_lastwill_is_heard() -> None:
    assert f"{BASE}/lastwill" in CODEC.subscriptions(finger(lwt=None))


def test_custom_gateway_base() -> None:
    device = finger("home/esp32/bot/kitchen/status", "home/esp32/bot/kitchen/set", None)
    assert CODEC.check(device) is None
    assert "home/esp32/lastwill" in CODEC.subscriptions(device)
    (refresh,) = CODEC.refresh(device)
    assert refresh.topic == "home/esp32/requestInfo"
    assert json.loads(refresh.payload) == {"id": "kitchen"}


@pytest.mark.parametrize(
    ("control", "command"),
    [
        (f"{BASE}/bot/C003/status", f"{BASE}/bot/C003"),
        (f"{BASE}/bot/C003/status", f"{BASE}/C003/set"),
        (f"{BASE}/bot/C003/status", "bot/C003/set"),  # no gateway base
        (f"{BASE}/bot/C003/status", f"{BASE}/bot//set"),
        (f"{BASE}/bot/C003/status", "cmnd/C003/POWER"),
        (f"{BASE}/bot/C004/status", f"{BASE}/bot/C003/set"),  # another bot's answers
        (f"{BASE}/bot/C003/state", f"{BASE}/bot/C003/set"),
        (f"{BASE}/bot/C003", f"{BASE}/bot/C003/set"),
        ("", f"{BASE}/bot/C003/set"),
    ],
)
def test_check_names_what_does_not_fit(control: str, command: str) -> None:
    problem = CODEC.check(finger(control, command))
    assert problem is not None
    assert "\n" not in problem


# --- commands -----------------------------------------------------------------------------------


def test_press_is_published_once_at_qos_0_never_retained() -> None:
    assert CODEC.encode(ANNEX, "PRESS", "req-1") == (
        Outbound(f"{BASE}/bot/C003/set", b"PRESS", qos=0, retain=False),
    )


@pytest.mark.parametrize("action", ["ON", "OFF", "press", "TOGGLE"])
def test_a_finger_only_presses(action: str) -> None:
    with pytest.raises(ValueError):
        CODEC.encode(ANNEX, action, "req-1")


def test_refresh_asks_the_gateway_for_the_bot_info() -> None:
    assert CODEC.refresh(ANNEX) == (
        Outbound(f"{BASE}/requestInfo", b'{"id":"C003"}', qos=0, retain=False),
    )


# --- properties ---------------------------------------------------------------------------------

DEVICES = [ANNEX, SCHEMA, finger(lwt=None)]
WORDS = ["success", "failed", "lowbattery", "errorConnect", "errorCommand", "busy", "PRESS", "ON"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(WORDS)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["status", "command", "value", "batt", "rssi", "state"])
            | st.text(max_size=4),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
payloads = fuzz_payloads(
    [b"online", b"offline", b"PRESS", b'{"status":"success","command":"PRESS"}'],
    json_values,
    b"batt",
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
        assert decoded.relay_on is None  # a finger never reports a relay
        assert decoded.battery is None or 0 <= decoded.battery <= 100
        assert decoded.reply is None or decoded.reply.request_id is None


@settings(max_examples=100)
@given(
    device=st.sampled_from(DEVICES),
    request=st.text(max_size=8),
    status=st.sampled_from(["success", "failed", "lowbattery", "errorConnect"]),
)
def test_the_gateway_answer_to_an_encoded_press_names_it(
    device: DeviceSpec, request: str, status: str
) -> None:
    (press,) = CODEC.encode(device, "PRESS", request)
    assert (press.qos, press.retain) == (0, False)
    status_topic = press.topic.removesuffix("/set") + "/status"
    assert status_topic in CODEC.subscriptions(device)
    answer = json.dumps({"status": status, "value": 5, "command": press.payload.decode()})
    decoded = CODEC.decode(device, status_topic, answer.encode(), False, AT)
    assert decoded is not None and decoded.reply is not None
    assert decoded.reply.command == "PRESS"
    assert decoded.reply.ok is (status == "success")
