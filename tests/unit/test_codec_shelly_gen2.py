"""Codec `shelly_gen2`: Shelly Plus 1PM, JSON-RPC over MQTT, database type 411, reference
protocols.md §3; both database conventions of coordination-db.md §4.13."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.config import DEFAULT_CODECS
from protocol.devices import DecodeError, Outbound, codec_named
from protocol.devices.shelly_gen2 import ShellyGen2
from protocol.messages import CommandReply, DeviceReport
from protocol.model import DeviceSpec
from tests.unit.codec_fuzz import fuzz_decode, subscribed_topics

AT = 1_717_200_123.5
CODEC = ShellyGen2()


def relay(
    control: str = "controle/D003",
    command: str = "D003/rpc",
    lwt: str | None = None,
    device_id: str = "D003",
) -> DeviceSpec:
    return DeviceSpec(
        id=device_id,
        type_id=411,
        usage=12,
        codec="shelly_gen2",
        control_topic=control,
        command_topic=command,
        lwt_topic=lwt,
        report_period_s=60.0,
    )


ANNEX = relay()  # (a) the annex and the 2023 program: src = the control topic
DDL = relay("D002/status/switch:0", "D002/events/rpc", "D022/online", "D002")  # (b), sic D022
V7 = relay("shelly/D004/status/switch:0", "shelly/D004/rpc", "shelly/D004/online", "D004")

# protocols.md §3.2
STATUS = (
    b'{"id":0,"source":"MQTT","output":true,"apower":1523.4,"voltage":231.2,"current":6.62,'
    b'"pf":0.99,"freq":50.0,"aenergy":{"total":14567.891,"by_minute":[25391.0,25388.2,25402.7],'
    b'"minute_ts":1699012345},"temperature":{"tC":45.2,"tF":113.4}}'
)
RESULT = b'{"id":"on-7f3a","src":"shellyplus1pm-a8032ab12345","dst":"controle/D003","result":{"was_on":false}}'  # noqa: E501
ERROR = b'{"id":"on-7f3a","src":"shellyplus1pm-a8032ab12345","dst":"controle/D003","error":{"code":-103,"message":"Invalid argument"}}'  # noqa: E501
NOTIFY = b'{"src":"shellyplus1pm-a8032ab12345","dst":"D003/events","method":"NotifyStatus","params":{"ts":1631186545.04,"switch:0":{"id":0,"output":true,"source":"button"}}}'  # noqa: E501
NOTIFY_EVENT = b'{"src":"shellyplus1pm-a8032ab12345","dst":"D003/events","method":"NotifyEvent","params":{"ts":1631186545.04,"events":[{"component":"input:0","event":"single_push"}]}}'  # noqa: E501
FULL_STATUS = (
    b'{"src":"shellyplus1pm-a8032ab12345","dst":"D003/events","method":"NotifyFullStatus",'
    b'"params":{"ts":1631186545.04,"sys":{"uptime":12},"switch:0":' + STATUS + b"}}"
)


def report(device: DeviceSpec = ANNEX, retained: bool = False, **fields: object) -> DeviceReport:
    return DeviceReport(device=device.id, at=AT, retained=retained, **fields)  # type: ignore[arg-type]


def decode(
    topic: str, payload: bytes, device: DeviceSpec = ANNEX, retained: bool = False
) -> DeviceReport | None:
    return CODEC.decode(device, topic, payload, retained, AT)


def test_registered_and_mapped_to_type_411() -> None:
    assert isinstance(codec_named("shelly_gen2"), ShellyGen2)
    assert DEFAULT_CODECS[411] == "shelly_gen2"


# --- documented payloads ------------------------------------------------------------------------

FULL = {"relay_on": True, "power_w": 1523.4, "energy_wh": 14567.891}
ACCEPTED = CommandReply("on-7f3a", True, '{"was_on":false}')
REFUSED = CommandReply("on-7f3a", False, "-103 Invalid argument")
NOTIFY_POWER = b'{"method":"NotifyStatus","params":{"switch:0":{"apower":12.5}}}'


@pytest.mark.parametrize(
    ("topic", "payload", "fields"),
    [
        ("controle/D003/rpc", RESULT, {"reply": ACCEPTED}),
        ("controle/D003/rpc", ERROR, {"reply": REFUSED}),
        ("D003/status/switch:0", STATUS, FULL),
        ("D003/status/switch:0", b'{"id":0,"output":false}', {"relay_on": False}),
        ("D003/events/rpc", NOTIFY, {"relay_on": True}),
        ("D003/events/rpc", FULL_STATUS, FULL),
        ("D003/events/rpc", NOTIFY_POWER, {"power_w": 12.5}),
        ("D003/online", b"true", {"online": True}),
        ("D003/online", b"false", {"online": False}),
    ],
)  # fmt: skip
def test_documented_payloads(topic: str, payload: bytes, fields: dict[str, object]) -> None:
    assert decode(topic, payload) == report(**fields)


@pytest.mark.parametrize(
    "payload",
    [
        NOTIFY_EVENT,
        b'{"method":"NotifyStatus","params":{"ts":1.0,"sys":{"uptime":12}}}',
        b'{"method":"NotifyStatus","params":{"switch:0":{"id":0,"source":"button"}}}',
        b'{"method":"NotifyStatus"}',
        b'{"method":"Switch.Set","params":{"switch:0":{"output":true}}}',  # not a notification
        b"{}",
    ],
)
def test_notifications_without_switch_state_carry_nothing(payload: bytes) -> None:
    assert decode("D003/events/rpc", payload) is None


def test_refresh_reply_is_a_status_not_an_answer() -> None:
    (request,) = CODEC.refresh(ANNEX)
    request_id = json.loads(request.payload)["id"]
    assert request_id.startswith("refresh-")
    reply = b'{"id":"%s","src":"shellyplus1pm-a8","result":%s}' % (request_id.encode(), STATUS)
    assert decode("controle/D003/rpc", reply) == report(**FULL)


def test_refused_refresh_is_a_decode_error_naming_the_rpc_error() -> None:
    reply = b'{"id":"refresh-D003","error":{"code":-105,"message":"Argument id not found"}}'
    with pytest.raises(DecodeError, match="-105 Argument id not found"):
        decode("controle/D003/rpc", reply)


def test_numeric_reply_ids_are_text() -> None:
    decoded = decode("controle/D003/rpc", b'{"id":42,"result":null}')
    assert decoded == report(reply=CommandReply("42", True, "null"))


def test_retained_flag_is_carried() -> None:
    assert decode("D003/online", b"false", retained=True) == report(retained=True, online=False)
    assert decode("D003/status/switch:0", STATUS, retained=True) == report(retained=True, **FULL)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("controle/D003/rpc", b'{"id":"x"}'),  # neither result nor error
        ("controle/D003/rpc", b'{"result":{"was_on":true}}'),  # no id
        ("controle/D003/rpc", b'{"id":true,"result":{}}'),
        ("controle/D003/rpc", b'{"id":"refresh-D003","result":{"output":"yes"}}'),
        ("controle/D003/rpc", b'{"id":"refresh-D003","result":[]}'),
        ("controle/D003/rpc", b'{"id":"x","error":"bad"}'),
        ("controle/D003/rpc", b'"id":"on"'),
        ("D003/status/switch:0", b'{"output":1}'),
        ("D003/status/switch:0", b'{"apower":-3.0}'),
        ("D003/status/switch:0", b'{"apower":1e999}'),
        ("D003/status/switch:0", b'{"aenergy":{"total":-1}}'),
        ("D003/status/switch:0", b'{"aenergy":5}'),
        ("D003/status/switch:0", b"on"),
        ("D003/events/rpc", b'{"method":"NotifyStatus","params":{"switch:0":{"output":"on"}}}'),
        ("D003/events/rpc", b'{"method":"NotifyStatus","params":[]}'),
        ("D003/events/rpc", b'{"method":1}'),
        ("D003/events/rpc", b"{" + b" " * 9000 + b"}"),
        ("D003/online", b"Online"),
        ("D003/online", b"\xff"),
    ],
)
def test_bad_payloads_raise_decode_error(topic: str, payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(topic, payload)


@pytest.mark.parametrize(
    "topic",
    [
        "controle/D003",  # the src is no topic: nobody publishes there
        "D003/rpc",  # the requests, ours or another client's
        "D003/status/switch:1",
        "D003/error/switch:0",
        "D004/status/switch:0",
        "controle/D004/rpc",
    ],
)
def test_other_topics_carry_nothing(topic: str) -> None:
    assert decode(topic, STATUS) is None


# --- the two database conventions ---------------------------------------------------------------


def test_annex_convention_subscriptions() -> None:
    assert CODEC.check(ANNEX) is None
    assert CODEC.subscriptions(ANNEX) == (
        "controle/D003/rpc",  # replies to src = the control topic
        "D003/status/switch:0",
        "D003/events/rpc",
        "D003/online",  # no database LWT ('aucun' / NULL): the device's own
    )


def test_annex_convention_with_the_leading_slash_of_the_annex() -> None:
    device = relay(control="/controle/D003")
    assert CODEC.check(device) is None
    assert "/controle/D003/rpc" in CODEC.subscriptions(device)
    (order,) = CODEC.encode(device, "ON", "12-1")
    assert json.loads(order.payload)["src"] == "/controle/D003"


def test_ddl_convention_uses_the_database_lwt_and_a_fixed_src() -> None:
    assert CODEC.check(DDL) is None
    assert set(CODEC.subscriptions(DDL)) == {
        "elfe-supervisor/D002/rpc",
        "D002/status/switch:0",  # the database control topic
        "D002/events/rpc",
        "D022/online",  # the database LWT, as written (sic)
    }
    (order,) = CODEC.encode(DDL, "OFF", "12-2")
    assert order.topic == "D002/rpc"  # never the events topic of the DDL comment
    assert json.loads(order.payload)["src"] == "elfe-supervisor/D002"
    assert decode("D002/status/switch:0", STATUS, DDL) == report(DDL, **FULL)
    assert decode("D022/online", b"false", DDL) == report(DDL, online=False)
    reply = b'{"id":"12-2","result":{"was_on":true}}'
    assert decode("elfe-supervisor/D002/rpc", reply, DDL) == report(
        DDL, reply=CommandReply("12-2", True, '{"was_on":true}')
    )


@pytest.mark.parametrize("lwt", [None, "aucun", "NULL", ""])
def test_no_database_lwt_means_the_device_online_topic(lwt: str | None) -> None:
    device = relay(lwt=lwt)
    assert "D003/online" in CODEC.subscriptions(device)
    assert decode("D003/online", b"true", device) == report(device, online=True)


def test_schema_v7_layout() -> None:
    assert CODEC.check(V7) is None
    assert set(CODEC.subscriptions(V7)) == {
        "elfe-supervisor/D004/rpc",
        "shelly/D004/status/switch:0",
        "shelly/D004/events/rpc",
        "shelly/D004/online",
    }


@pytest.mark.parametrize(
    ("control", "command", "device_id"),
    [
        ("controle/D003", "D003/command", "D003"),
        ("controle/D003", "rpc", "D003"),
        ("controle/D003", "/events/rpc", "D003"),
        ("controle/D003", "D003/rpc/", "D003"),
        ("D004/status/switch:0", "D003/rpc", "D003"),  # the status of another relay
        ("D003", "D003/rpc", "D003"),  # replies would land on the request topic
        ("D003/events", "D003/rpc", "D003"),  # ...or on the notifications
        ("", "D003/rpc", "D003"),
        ("D003/status/switch:0", "D003/rpc", "D+3"),  # src `elfe-supervisor/D+3` cannot be heard
    ],
)
def test_check_names_what_does_not_fit(control: str, command: str, device_id: str) -> None:
    problem = CODEC.check(relay(control, command, None, device_id))
    assert problem is not None
    assert "\n" not in problem


# --- commands -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "on"), [("ON", True), ("OFF", False)])
def test_switch_set_request(action: str, on: bool) -> None:
    (order,) = CODEC.encode(ANNEX, action, "12-7")
    assert (order.topic, order.qos, order.retain) == ("D003/rpc", 1, False)
    assert order.payload == (
        b'{"id":"12-7","src":"controle/D003","method":"Switch.Set","params":{"id":0,"on":%s}}'
        % (b"true" if on else b"false")
    )


def test_a_relay_cannot_press() -> None:
    with pytest.raises(ValueError):
        CODEC.encode(ANNEX, "PRESS", "12-7")


def test_refresh_is_switch_get_status() -> None:
    assert CODEC.refresh(ANNEX) == (
        Outbound(
            "D003/rpc",
            b'{"id":"refresh-D003","src":"controle/D003","method":"Switch.GetStatus",'
            b'"params":{"id":0}}',
            qos=1,
            retain=False,
        ),
    )


# --- properties ---------------------------------------------------------------------------------

DEVICES = [ANNEX, DDL, V7, relay(lwt="D003/online")]
KEYS = ["id", "result", "error", "code", "message", "method", "params", "switch:0", "output"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(["NotifyStatus", "NotifyFullStatus", "refresh-D003", "on", "true"])
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from([*KEYS, "apower", "aenergy", "total"]) | st.text(max_size=4),
            inner,
            max_size=4,
        )
    ),
    max_leaves=14,
)
payloads = (
    st.binary(max_size=80)
    | st.sampled_from([STATUS, RESULT, ERROR, NOTIFY, FULL_STATUS, b"true", b"false"])
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass"))
    | st.integers(0, 3000).map(lambda n: b'{"result":' + b"[" * n + b"]" * n + b"}")
    | st.integers(0, 3000).map(
        lambda n: b'{"id":"refresh-x","result":' + b"[" * n + b"]" * n + b"}"
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
        assert decoded.power_w is None or decoded.power_w >= 0
        assert decoded.reply is None or not decoded.reply.request_id.startswith("refresh-")


@settings(max_examples=100)
@given(
    device=st.sampled_from(DEVICES),
    action=st.sampled_from(["ON", "OFF"]),
    request=st.text(min_size=1, max_size=12).filter(lambda r: not r.startswith("refresh-")),
    was_on=st.booleans(),
    error=st.none() | st.tuples(st.integers(-200, 0), st.text(max_size=10)),
)
def test_a_reply_carrying_the_request_id_answers_the_encoded_request(
    device: DeviceSpec,
    action: str,
    request: str,
    was_on: bool,
    error: tuple[int, str] | None,
) -> None:
    (order,) = CODEC.encode(device, action, request)
    sent = json.loads(order.payload)
    assert sent["params"] == {"id": 0, "on": action == "ON"}
    reply_topic = f"{sent['src']}/rpc"
    assert reply_topic in CODEC.subscriptions(device)
    body: dict[str, object] = {"id": sent["id"], "src": "shellyplus1pm-x", "dst": sent["src"]}
    if error is None:
        body["result"] = {"was_on": was_on}
    else:
        body["error"] = {"code": error[0], "message": error[1]}
    decoded = CODEC.decode(device, reply_topic, json.dumps(body).encode(), False, AT)
    assert decoded is not None and decoded.reply is not None
    assert decoded.reply.request_id == request
    assert decoded.reply.ok is (error is None)
    if error is not None:
        assert str(error[0]) in decoded.reply.detail


@settings(max_examples=100)
@given(
    output=st.booleans(),
    apower=st.floats(0, 4000),
    total=st.floats(0, 1e9),
    where=st.sampled_from(["status", "notify", "refresh"]),
)
def test_the_switch_status_reads_the_same_wherever_it_comes_from(
    output: bool, apower: float, total: float, where: str
) -> None:
    status = {"id": 0, "output": output, "apower": apower, "aenergy": {"total": total}}
    if where == "status":
        topic, body = "D003/status/switch:0", status
    elif where == "notify":
        topic, body = "D003/events/rpc", {"method": "NotifyStatus", "params": {"switch:0": status}}
    else:
        topic, body = "controle/D003/rpc", {"id": "refresh-D003", "result": status}
    decoded = decode(topic, msgspec.json.encode(body))
    assert decoded == report(relay_on=output, power_w=apower, energy_wh=total)
