"""Codec `zigbee2mqtt`: Zigbee2MQTT plugs and switches, no ELFE database type (an installation maps
one of its types in `[devices.codecs]`), reference protocols.md §7."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.config import DEFAULT_CODECS, config_from_mapping
from protocol.devices import DecodeError, Outbound, codec_named
from protocol.devices.zigbee2mqtt import Zigbee2Mqtt
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec
from tests.unit.codec_fuzz import fuzz_decode, subscribed_topics
from tests.unit.codec_fuzz import payloads as fuzz_payloads

AT = 1_717_200_123.5
CODEC = Zigbee2Mqtt()


def plug(
    name: str = "cuisine/lave-linge",  # a friendly name with a `/`
    base: str = "zigbee2mqtt",
    lwt: str | None = None,
    control: str | None = None,
) -> DeviceSpec:
    return DeviceSpec(
        id="Z001",
        type_id=913,
        usage=11,
        codec="zigbee2mqtt",
        control_topic=control if control is not None else f"{base}/{name}",
        command_topic=f"{base}/{name}/set",
        lwt_topic=lwt,
        report_period_s=60.0,
    )


PLUG = plug()
TOPIC = "zigbee2mqtt/cuisine/lave-linge"

# protocols.md §7
STATE = (
    b'{"state":"ON","power":152.3,"energy":12.41,"voltage":230,"current":0.66,"linkquality":120}'
)


def report(device: DeviceSpec = PLUG, retained: bool = False, **fields: object) -> DeviceReport:
    return DeviceReport(device=device.id, at=AT, retained=retained, **fields)  # type: ignore[arg-type]


def decode(
    topic: str, payload: bytes, device: DeviceSpec = PLUG, retained: bool = False
) -> DeviceReport | None:
    return CODEC.decode(device, topic, payload, retained, AT)


def test_registered_but_mapped_to_no_database_type() -> None:
    assert isinstance(codec_named("zigbee2mqtt"), Zigbee2Mqtt)
    assert "zigbee2mqtt" not in DEFAULT_CODECS.values()
    config = config_from_mapping(
        {"coordination": {"dsn": "postgresql://x"}, "devices": {"codecs": {"913": "zigbee2mqtt"}}},
        environ={},
    )
    assert config.devices.codec_for(913) == "zigbee2mqtt"


@pytest.mark.parametrize(
    ("topic", "payload", "fields"),
    [
        (TOPIC, STATE, {"relay_on": True, "power_w": 152.3, "energy_wh": 12410.0}),
        (TOPIC, b'{"state":"OFF","linkquality":87}', {"relay_on": False}),
        (TOPIC, b'{"state":"off"}', {"relay_on": False}),
        (TOPIC, b'{"power":0,"energy":null}', {"power_w": 0.0}),
        (f"{TOPIC}/availability", b'{"state":"online"}', {"online": True}),  # Z2M >= 2.0
        (f"{TOPIC}/availability", b'{"state":"offline"}', {"online": False}),
        (f"{TOPIC}/availability", b"online", {"online": True}),  # 1.x legacy payload
        (f"{TOPIC}/availability", b"offline", {"online": False}),
    ],
)
def test_documented_payloads(topic: str, payload: bytes, fields: dict[str, object]) -> None:
    decoded = decode(topic, payload)
    assert decoded is not None
    assert decoded == report(**{**fields, "energy_wh": pytest.approx(fields.get("energy_wh"))})


def test_state_without_switch_or_metering_carries_nothing() -> None:
    assert decode(TOPIC, b'{"linkquality":120,"temperature":21}') is None
    assert decode(TOPIC, b"{}") is None


def test_retained_flag_is_carried() -> None:
    assert decode(f"{TOPIC}/availability", b'{"state":"online"}', retained=True) == report(
        retained=True, online=True
    )
    assert decode(TOPIC, b'{"state":"ON"}', retained=True) == report(retained=True, relay_on=True)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (TOPIC, b'{"state":"TOGGLE"}'),
        (TOPIC, b'{"state":1}'),
        (TOPIC, b'{"power":-4}'),
        (TOPIC, b'{"power":"152"}'),
        (TOPIC, b'{"energy":-0.1}'),
        (TOPIC, b'{"energy":1e999}'),
        (TOPIC, b"ON"),
        (TOPIC, b"[]"),
        (TOPIC, b""),
        (f"{TOPIC}/availability", b'{"state":"gone"}'),
        (f"{TOPIC}/availability", b"{}"),
        (f"{TOPIC}/availability", b'{"state":true}'),
        (f"{TOPIC}/availability", b"true"),
        (f"{TOPIC}/availability", b'{"state":"online"'),
    ],
)
def test_bad_payloads_raise_decode_error(topic: str, payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(topic, payload)


@pytest.mark.parametrize(
    "topic",
    [
        f"{TOPIC}/set",  # our own order, echoed
        f"{TOPIC}/get",
        "zigbee2mqtt/cuisine",
        "zigbee2mqtt/bridge/state",
        "zigbee2mqtt/salon/lave-linge",
    ],
)
def test_other_topics_carry_nothing(topic: str) -> None:
    assert decode(topic, b'{"state":"ON"}') is None


def test_subscriptions() -> None:
    assert CODEC.subscriptions(PLUG) == (TOPIC, f"{TOPIC}/availability")
    custom = plug(lwt="z2m-maison/cuisine/lave-linge/availability", base="z2m-maison")
    assert CODEC.subscriptions(custom) == (
        "z2m-maison/cuisine/lave-linge",  # control (database)
        "z2m-maison/cuisine/lave-linge/availability",  # LWT (database)
    )


def test_a_database_lwt_is_followed() -> None:
    device = plug(lwt="zigbee2mqtt/bridge/state")
    assert "zigbee2mqtt/bridge/state" in CODEC.subscriptions(device)
    assert decode("zigbee2mqtt/bridge/state", b'{"state":"offline"}', device) == report(
        device, online=False
    )


@pytest.mark.parametrize(
    ("command", "control"),
    [
        ("zigbee2mqtt/lave-linge", "zigbee2mqtt/lave-linge"),  # no /set
        ("lave-linge/set", "lave-linge"),  # no base topic
        ("zigbee2mqtt//set", "zigbee2mqtt/"),
        ("/set", ""),
        ("zigbee2mqtt/a/set", "zigbee2mqtt/b"),  # the state of another device
        ("zigbee2mqtt/a/set", "zigbee2mqtt/a/state"),
    ],
)
def test_check_names_what_does_not_fit(command: str, control: str) -> None:
    device = DeviceSpec(
        id="Z001",
        type_id=913,
        usage=11,
        codec="zigbee2mqtt",
        control_topic=control,
        command_topic=command,
        lwt_topic=None,
        report_period_s=60.0,
    )
    problem = CODEC.check(device)
    assert problem is not None and "\n" not in problem


@pytest.mark.parametrize("device", [PLUG, plug("0x00158d0001a2b3c4"), plug("a/b/c", "z/m")])
def test_check_accepts_friendly_names_and_addresses(device: DeviceSpec) -> None:
    assert CODEC.check(device) is None


@pytest.mark.parametrize("action", ["ON", "OFF"])
def test_encode_is_a_json_state_on_the_database_topic(action: str) -> None:
    assert CODEC.encode(PLUG, action, "req-1") == (
        Outbound(f"{TOPIC}/set", b'{"state":"%s"}' % action.encode(), qos=1, retain=False),
    )


def test_cannot_press() -> None:
    with pytest.raises(ValueError):
        CODEC.encode(PLUG, "PRESS", "req-1")


def test_refresh_reads_the_state() -> None:
    assert CODEC.refresh(PLUG) == (Outbound(f"{TOPIC}/get", b'{"state":""}'),)


# --- properties ---------------------------------------------------------------------------------

DEVICES = [PLUG, plug("0x00158d0001a2b3c4"), plug(lwt="zigbee2mqtt/bridge/state")]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(["ON", "OFF", "online", "offline", "TOGGLE"])
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["state", "power", "energy", "linkquality"]) | st.text(max_size=4),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
payloads = fuzz_payloads(
    [STATE, b"online", b"offline", b'{"state":"online"}'], json_values, b"state"
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
        assert decoded.reply is None


@settings(max_examples=100)
@given(
    device=st.sampled_from(DEVICES),
    action=st.sampled_from(["ON", "OFF"]),
    power=st.none() | st.floats(0, 4000),
    retained=st.booleans(),
)
def test_the_set_payload_published_back_as_state_decodes_to_the_command(
    device: DeviceSpec, action: str, power: float | None, retained: bool
) -> None:
    (order,) = CODEC.encode(device, action, "req-1")
    state = json.loads(order.payload)
    if power is not None:
        state["power"] = power
    echoed = json.dumps(state).encode()
    decoded = CODEC.decode(device, device.control_topic, echoed, retained, AT)
    assert decoded == report(device, retained=retained, relay_on=action == "ON", power_w=power)
