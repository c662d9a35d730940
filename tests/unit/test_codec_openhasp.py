"""Codec `openhasp`: M5Stack Core2 screens, database type 711, availability and status only,
reference protocols.md §1.6 and §1.10."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.config import DEFAULT_CODECS
from protocol.devices import DecodeError, Outbound, codec_named
from protocol.devices.openhasp import OpenHasp
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec
from tests.unit.codec_fuzz import fuzz_decode, subscribed_topics
from tests.unit.codec_fuzz import payloads as fuzz_payloads

AT = 1_717_200_123.5
CODEC = OpenHasp()


def screen(
    control: str = "hasp/g002/page",
    command: str = "hasp/g002/command/jsonl",
    lwt: str | None = "hasp/g002/LWT",
) -> DeviceSpec:
    return DeviceSpec(
        id="G002",
        type_id=711,
        usage=71,
        codec="openhasp",
        control_topic=control,
        command_topic=command,
        lwt_topic=lwt,
        report_period_s=300.0,
    )


SCREEN = screen()
SCHEMA = screen("hasp/g001/page", "hasp/g001/cmd/jsonl", "hasp/g001/LWT")  # the DDL comment (sic)

# protocols.md §1.6
STATUSUPDATE = (
    b'{"node":"g002","idle":"off","version":"0.6.3","uptime":11027,"ssid":"elfe","rssi":-60,'
    b'"ip":"192.168.1.50","mac":"aa:bb:cc:dd:ee:ff","heapFree":58756,"heapFrag":7,"core":"v4",'
    b'"canUpdate":"false","page":2,"numPages":12,"tftDriver":"ILI9341","tftWidth":320,'
    b'"tftHeight":240}'
)


def report(device: DeviceSpec = SCREEN, retained: bool = False, **fields: object) -> DeviceReport:
    return DeviceReport(device=device.id, at=AT, retained=retained, **fields)  # type: ignore[arg-type]


def decode(
    topic: str, payload: bytes, device: DeviceSpec = SCREEN, retained: bool = False
) -> DeviceReport | None:
    return CODEC.decode(device, topic, payload, retained, AT)


def test_registered_and_mapped_to_type_711() -> None:
    assert isinstance(codec_named("openhasp"), OpenHasp)
    assert DEFAULT_CODECS[711] == "openhasp"


@pytest.mark.parametrize(
    ("topic", "payload", "retained", "fields"),
    [
        ("hasp/g002/LWT", b"online", True, {"online": True}),  # birth, retained
        ("hasp/g002/LWT", b"offline", True, {"online": False}),  # will, retained
        ("hasp/g002/LWT", b"online", False, {"online": True}),
        ("hasp/g002/state/statusupdate", STATUSUPDATE, False, {"online": True}),
        ("hasp/g002/state/statusupdate", b"{}", False, {"online": True}),
    ],
)
def test_documented_payloads(
    topic: str, payload: bytes, retained: bool, fields: dict[str, object]
) -> None:
    assert decode(topic, payload, retained=retained) == report(retained=retained, **fields)


def test_a_retained_statusupdate_is_no_sign_of_life() -> None:
    assert decode("hasp/g002/state/statusupdate", STATUSUPDATE, retained=True) is None


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("hasp/g002/LWT", b"true"),
        ("hasp/g002/LWT", b""),
        ("hasp/g002/LWT", b"\xc3"),
        ("hasp/g002/state/statusupdate", b"online"),
        ("hasp/g002/state/statusupdate", b"[1]"),
        ("hasp/g002/state/statusupdate", b'{"node":"g002"'),
        ("hasp/g002/state/statusupdate", b"{" + b" " * 9000 + b"}"),
    ],
)
def test_bad_payloads_raise_decode_error(topic: str, payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(topic, payload)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("hasp/g002/page", b"2"),  # the schema's control topic: heard, nothing to report
        ("hasp/g002/state/page", b"2"),
        ("hasp/g002/state/idle", b"short"),
        ("hasp/g002/state/p2b3", b'{"event":"up","val":1}'),  # the screens' actor's business
        ("hasp/g002/command/jsonl", b'{"page":2,"id":10,"bg_color":"#00FF00"}'),
        ("hasp/discovery", b'{"node":"g002"}'),
        ("hasp/g001/LWT", b"online"),
    ],
)
def test_other_topics_carry_nothing(topic: str, payload: bytes) -> None:
    assert decode(topic, payload) is None


def test_subscriptions_are_the_database_topics_and_the_statusupdate() -> None:
    assert CODEC.subscriptions(SCREEN) == (
        "hasp/g002/LWT",  # LWT (database)
        "hasp/g002/state/statusupdate",
        "hasp/g002/page",  # control topic (database)
    )


@pytest.mark.parametrize(
    ("device", "root"),
    [
        (SCREEN, "hasp/g002"),
        (SCHEMA, "hasp/g001"),  # the schema's `cmd/jsonl` typo
        (screen(lwt=None), "hasp/g002"),  # node from the command topic
        (screen(command="hasp/g002/command"), "hasp/g002"),
        (screen(command="NULL"), "hasp/g002"),  # node from the LWT
        (screen("hasp/g003", "hasp/g003/command/jsonl", "hasp/g003/LWT"), "hasp/g003"),
    ],
)
def test_node_root_from_the_lwt_or_the_command_topic(device: DeviceSpec, root: str) -> None:
    assert CODEC.check(device) is None
    assert f"{root}/LWT" in CODEC.subscriptions(device)
    assert f"{root}/state/statusupdate" in CODEC.subscriptions(device)
    assert CODEC.refresh(device) == (Outbound(f"{root}/command/statusupdate", b""),)


@pytest.mark.parametrize(
    ("command", "lwt"),
    [
        ("hasp/g002/command/jsonl", "hasp/g003/LWT"),  # two different screens
        ("hasp/g002/jsonl", None),
        ("hasp/g002/command/json", "hasp/g002/availability"),
        ("/command/jsonl", None),
        ("", ""),
    ],
)
def test_check_names_what_does_not_fit(command: str, lwt: str | None) -> None:
    problem = CODEC.check(screen(command=command, lwt=lwt))
    assert problem is not None and "\n" not in problem


@pytest.mark.parametrize("action", ["ON", "OFF", "PRESS"])
def test_never_commanded_by_its_codec(action: str) -> None:
    with pytest.raises(ValueError):
        CODEC.encode(SCREEN, action, "req-1")


def test_refresh_is_an_empty_statusupdate_never_retained() -> None:
    (publish,) = CODEC.refresh(SCREEN)
    assert (publish.topic, publish.payload, publish.retain) == (
        "hasp/g002/command/statusupdate",
        b"",
        False,
    )


# --- properties ---------------------------------------------------------------------------------

DEVICES = [SCREEN, SCHEMA, screen(lwt=None), screen(control="hasp/g002/state/statusupdate")]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["node", "uptime", "page"]) | st.text(max_size=4), inner)
    ),
    max_leaves=10,
)
payloads = fuzz_payloads([b"online", b"offline", b"ONLINE", STATUSUPDATE], json_values, b"node")


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
        assert decoded.online is not None  # availability only
        assert decoded.relay_on is None and decoded.power_w is None and decoded.reply is None
