"""Codec `socorel`: one Socorel PLC output channel per database row, type 811, reference
protocols.md §6.1 and §6.4."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.config import DEFAULT_CODECS
from protocol.devices import DecodeError, Outbound, codec_named
from protocol.devices.socorel import Socorel
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec
from tests.unit.codec_fuzz import fuzz_decode, subscribed_topics

AT = 1_717_200_123.5
CODEC = Socorel()
ROOT = "Socorel/031636408854"  # a serial of the annex


def output(
    channel: int | str = 2,
    control: str = f"{ROOT}/EtatSorties",
    lwt: str | None = None,
    root: str = ROOT,
) -> DeviceSpec:
    return DeviceSpec(
        id=f"S{channel}",
        type_id=811,
        usage=12,
        codec="socorel",
        control_topic=control,
        command_topic=f"{root}/sortie{channel}",
        lwt_topic=lwt,
        report_period_s=30.0,
        hardware_id="031636408854",
    )


SECOND = output(2)


def report(device: DeviceSpec = SECOND, retained: bool = False, **fields: object) -> DeviceReport:
    return DeviceReport(device=device.id, at=AT, retained=retained, **fields)  # type: ignore[arg-type]


def test_registered_and_mapped_to_type_811() -> None:
    assert isinstance(codec_named("socorel"), Socorel)
    assert DEFAULT_CODECS[811] == "socorel"


@pytest.mark.parametrize(
    ("channel", "payload", "on"),
    [
        (2, b"01000000", True),  # the reference's example: output 2 on
        (1, b"01000000", False),
        (8, b"01000000", False),
        (8, b"00000001", True),
        (3, b"001", True),  # only this channel's character counts
        (1, b"1", True),
        (2, b"01000000\n", True),
        (1, b"1x", True),  # another channel's character is not this one's business
    ],
)
def test_the_nth_character_of_etatsorties(channel: int, payload: bytes, on: bool) -> None:
    device = output(channel)
    decoded = CODEC.decode(device, f"{ROOT}/EtatSorties", payload, False, AT)
    assert decoded == report(device, relay_on=on)


@pytest.mark.parametrize(("payload", "on"), [(b"1", True), (b"0", False), (b" 1 ", True)])
def test_etatsortie_of_this_channel(payload: bytes, on: bool) -> None:
    assert CODEC.decode(SECOND, f"{ROOT}/EtatSortie2", payload, False, AT) == report(relay_on=on)


def test_retained_flag_is_carried() -> None:
    decoded = CODEC.decode(SECOND, f"{ROOT}/EtatSorties", b"01000000", True, AT)
    assert decoded == report(retained=True, relay_on=True)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (f"{ROOT}/EtatSorties", b"0"),  # shorter than the channel
        (f"{ROOT}/EtatSorties", b""),
        (f"{ROOT}/EtatSorties", b"0x000000"),  # another character at position 2
        (f"{ROOT}/EtatSorties", b"0 000000"),
        (f"{ROOT}/EtatSorties", b"0\xff000000"),
        (f"{ROOT}/EtatSorties", b"0" * 65),
        (f"{ROOT}/EtatSortie2", b"on"),
        (f"{ROOT}/EtatSortie2", b"01"),
        (f"{ROOT}/EtatSortie2", b""),
    ],
)
def test_bad_payloads_raise_decode_error(topic: str, payload: bytes) -> None:
    with pytest.raises(DecodeError):
        CODEC.decode(SECOND, topic, payload, False, AT)


@pytest.mark.parametrize(
    "topic",
    [
        f"{ROOT}/EtatSortie3",  # another channel of the same PLC
        f"{ROOT}/sortie2",  # our own command, echoed
        f"{ROOT}/PA1MN",
        "Socorel/121345678/EtatSorties",  # another PLC
    ],
)
def test_other_topics_carry_nothing(topic: str) -> None:
    assert CODEC.decode(SECOND, topic, b"11111111", False, AT) is None


def test_subscriptions_are_the_shared_states_this_channels_own_and_the_plc_mode() -> None:
    assert CODEC.subscriptions(SECOND) == (
        f"{ROOT}/EtatSorties",
        f"{ROOT}/EtatSortie2",
        f"{ROOT}/mode",
    )


def test_no_lwt_even_when_the_row_names_one() -> None:
    device = output(2, lwt=f"{ROOT}/LWT")
    assert CODEC.check(device) is None
    assert f"{ROOT}/LWT" not in CODEC.subscriptions(device)
    assert CODEC.decode(device, f"{ROOT}/LWT", b"offline", False, AT) is None


@pytest.mark.parametrize(
    ("command", "control"),
    [
        (f"{ROOT}/sortie10", f"{ROOT}/EtatSorties"),  # two digits: not output 0
        (f"{ROOT}/sortie0", f"{ROOT}/EtatSorties"),
        (f"{ROOT}/sortie9", f"{ROOT}/EtatSorties"),
        (f"{ROOT}/sortie01", f"{ROOT}/EtatSorties"),
        (f"{ROOT}/sortie", f"{ROOT}/EtatSorties"),
        (f"{ROOT}/sortie1x", f"{ROOT}/EtatSorties"),
        (f"{ROOT}/output1", f"{ROOT}/EtatSorties"),
        ("sortie1", "EtatSorties"),
        (f"{ROOT}/sortie1", "Socorel/121345678/EtatSorties"),  # another PLC's states
        (f"{ROOT}/sortie1", f"{ROOT}/EtatSortie1"),
        (f"{ROOT}/sortie1", ""),
    ],
)
def test_check_names_what_does_not_fit(command: str, control: str) -> None:
    device = DeviceSpec(
        id="S1",
        type_id=811,
        usage=12,
        codec="socorel",
        control_topic=control,
        command_topic=command,
        lwt_topic=None,
        report_period_s=30.0,
    )
    problem = CODEC.check(device)
    assert problem is not None and "\n" not in problem


@pytest.mark.parametrize("channel", range(1, 9))
def test_check_accepts_the_eight_outputs(channel: int) -> None:
    assert CODEC.check(output(channel)) is None


@pytest.mark.parametrize(("action", "payload"), [("ON", b"1"), ("OFF", b"0")])
def test_encode_is_one_non_retained_publish_on_the_database_topic(
    action: str, payload: bytes
) -> None:
    assert CODEC.encode(SECOND, action, "req-1") == (
        Outbound(f"{ROOT}/sortie2", payload, qos=1, retain=False),
    )


def test_an_output_cannot_press() -> None:
    with pytest.raises(ValueError):
        CODEC.encode(SECOND, "PRESS", "req-1")


def test_nothing_to_refresh() -> None:
    assert CODEC.refresh(SECOND) == ()


# --- properties ---------------------------------------------------------------------------------

DEVICES = [output(n) for n in range(1, 9)] + [
    output(3, root="socorel/abc", control="socorel/abc/EtatSorties")
]
payloads = (
    st.binary(max_size=80)
    | st.text(alphabet="01", max_size=12).map(str.encode)
    | st.text(alphabet="01 x\n\t", max_size=12).map(str.encode)
    | st.text(max_size=70).map(lambda s: s.encode("utf-8", "surrogatepass"))
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
    assert isinstance(decoded, DeviceReport)  # every subscribed topic is a state topic
    assert (decoded.relay_on is not None) != (decoded.local_control is not None)


@settings(max_examples=200)
@given(
    channel=st.integers(1, 8),
    action=st.sampled_from(["ON", "OFF"]),
    others=st.text(alphabet="01", min_size=8, max_size=8),
    retained=st.booleans(),
)
def test_a_state_string_built_from_the_commanded_channel_decodes_back_to_the_command(
    channel: int, action: str, others: str, retained: bool
) -> None:
    device = output(channel)
    (order,) = CODEC.encode(device, action, "req-1")
    states = others[: channel - 1] + order.payload.decode() + others[channel:]
    decoded = CODEC.decode(device, device.control_topic, states.encode(), retained, AT)
    assert decoded == report(device, retained=retained, relay_on=action == "ON")
    own = CODEC.decode(device, f"{ROOT}/EtatSortie{channel}", order.payload, retained, AT)
    assert own == decoded


@pytest.mark.parametrize(
    ("payload", "local"), [(b"manuel", True), (b"MANUEL\n", True), (b"auto", False), (b"", False)]
)
def test_the_plc_mode_says_whether_an_operator_took_local_control(
    payload: bytes, local: bool
) -> None:
    """interfaces.md §4: `manuel` puts the equipment in 70, anything else gives it back."""
    decoded = CODEC.decode(SECOND, f"{ROOT}/mode", payload, False, AT)
    assert decoded is not None and decoded.local_control is local
    assert decoded.relay_on is None
