"""Stimulus topics (spec interfaces.md §4) and the supervisor's own status document."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import status
from protocol.ids import Mode
from protocol.messages import ForceStart, ModeRequested, Reassert
from protocol.partition import StimulusScope
from protocol.stimulus import (
    VIRIYA_FILTER,
    Refresh,
    Reload,
    SetMode,
    StartNow,
    Stimulus,
    StimulusError,
    Verdict,
    encode_error,
    error_topic_for,
    judge,
    operator_error_topic,
    operator_filter,
    parse,
    to_event,
)

BASE = "elfe"
SCOPE = StimulusScope()


def operator(payload: bytes, equipment: str = "12", base: str = BASE) -> Stimulus | None:
    return parse(f"{base}/equipment/{equipment}/set", payload, base)


# --- viriya/update/<id> -----------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"anything", b"\xff\x00", b'{"mode": 30}'])
def test_viriya_update_reloads_the_equipment_whatever_the_payload(payload: bytes) -> None:
    assert parse("viriya/update/12", payload, BASE) == Reload(12, "viriya")


@pytest.mark.parametrize("equipment", ["abc", "", "-3", "1.5", "12a", " 12", "١٢", "²", "1" * 30])
def test_viriya_update_with_a_bad_id_is_an_error(equipment: str) -> None:
    with pytest.raises(StimulusError):
        parse(f"viriya/update/{equipment}", b"", BASE)


def test_viriya_filter_matches_the_parsed_topics() -> None:
    assert VIRIYA_FILTER == "viriya/update/+"


# --- <base>/equipment/<id>/set ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"mode": "pilote"}', SetMode(12, Mode.PILOTE, "operator")),
        (b'{"mode": "manuel"}', SetMode(12, Mode.MANUEL, "operator")),
        (b'{"start": true}', StartNow(12, "operator")),
        (b'{"refresh": true}', Refresh(12, "operator")),
        (b' {"refresh": true}\n', Refresh(12, "operator")),
    ],
)
def test_valid_operator_commands(payload: bytes, expected: Stimulus) -> None:
    assert operator(payload) == expected


def test_operator_modes_are_the_database_ids() -> None:
    pilote = operator(b'{"mode": "pilote"}')
    manuel = operator(b'{"mode": "manuel"}')
    assert isinstance(pilote, SetMode) and pilote.mode == 30
    assert isinstance(manuel, SetMode) and manuel.mode == 20


@pytest.mark.parametrize(
    "payload",
    [
        b"{}",  # none of them
        b'{"mode": "pilote", "start": true}',  # two of them
        b'{"start": true, "refresh": true}',
        b'{"mode": "manuel", "refresh": true}',
        b'{"mode": "auto"}',
        b'{"mode": 30}',
        b'{"mode": "PILOTE"}',
        b'{"start": false}',
        b'{"start": 1}',
        b'{"start": "true"}',
        b'{"refresh": false}',
        b'{"stop": true}',  # unknown key
        b'{"start": true, "force": true}',  # unknown key beside a valid one
        b'{"Start": true}',
        b"[]",
        b'"start"',
        b"true",
        b"",
        b"start",
        b'{"start": true',
        b"\xff\xfe",
    ],
)
def test_invalid_operator_commands_are_rejected(payload: bytes) -> None:
    with pytest.raises(StimulusError) as info:
        operator(payload)
    assert str(info.value)
    assert info.value.equipment == 12  # with partitions, the owner of 12 answers


@pytest.mark.parametrize(
    "equipment", ["abc", "", "-1", "1.0", "0x10", "1e3", "١٢", "²", "12 ", "+", "#", "9" * 20]
)
def test_operator_command_with_a_non_integer_id_is_rejected(equipment: str) -> None:
    with pytest.raises(StimulusError) as info:
        operator(b'{"start": true}', equipment)
    assert info.value.equipment is None  # no owner: partition 0 answers


def test_operator_command_under_a_multi_level_base_topic() -> None:
    assert operator(b'{"start": true}', "7", base="site/elfe") == StartNow(7, "operator")
    assert parse("elfe/equipment/7/set", b'{"start": true}', "site/elfe") is None


@pytest.mark.parametrize(
    "topic",
    [
        "viriya/update",
        "viriya/update/12/extra",
        "viriya/delete/12",
        "Viriya/update/12",
        "elfe/equipment/12",
        "elfe/equipment/12/error",  # our own answers
        "elfe/equipment/12/set/x",
        "elfe/equipments/12/set",
        "other/equipment/12/set",
        "elfe/status",
        "shellies/shellyplug-s-A101/relay/0",
        "",
    ],
)
def test_unrelated_topics_are_not_stimuli(topic: str) -> None:
    assert parse(topic, b'{"start": true}', BASE) is None


def test_operator_topics() -> None:
    assert operator_filter("elfe") == "elfe/equipment/+/set"
    assert operator_error_topic("elfe", "12") == "elfe/equipment/12/error"


def test_error_body_is_json_with_the_message() -> None:
    body = encode_error('expected exactly one of "mode", "start", "refresh"')
    assert json.loads(body) == {"error": 'expected exactly one of "mode", "start", "refresh"'}


# --- properties --------------------------------------------------------------------------------


json_payloads = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["pilote", "manuel"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["mode", "start", "refresh", "stop"]) | st.text(max_size=4),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
).map(lambda value: json.dumps(value).encode())

ids = (
    st.from_regex(r"[0-9]{1,12}", fullmatch=True)
    | st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=3)  # ١٢, ², ...
    | st.text(max_size=6)
)


@settings(max_examples=300)
@given(
    topic=st.one_of(
        ids.map(lambda i: f"viriya/update/{i}"),
        ids.map(lambda i: f"{BASE}/equipment/{i}/set"),
        st.text(max_size=30),
    ),
    payload=st.binary(max_size=60) | json_payloads,
)
def test_arbitrary_messages_give_a_stimulus_none_or_stimulus_error(
    topic: str, payload: bytes
) -> None:
    try:
        stimulus = parse(topic, payload, BASE)
    except StimulusError as exc:
        assert str(exc)
        assert json.loads(encode_error(str(exc))) == {"error": str(exc)}
        return
    if stimulus is None:
        return
    assert isinstance(stimulus, Reload | SetMode | StartNow | Refresh)
    assert stimulus.equipment >= 0
    text = topic.split("/")[-1 if isinstance(stimulus, Reload) else -2]
    assert text.isascii() and int(text) == stimulus.equipment


@settings(max_examples=100)
@given(
    command=st.sampled_from(
        [{"mode": "pilote"}, {"mode": "manuel"}, {"start": True}, {"refresh": True}]
    ),
    extra=st.dictionaries(
        st.sampled_from(["mode", "start", "refresh"]),
        st.sampled_from(["pilote", True, None]),
        max_size=2,
    ),
    equipment=st.integers(0, 999_999_999),
)
def test_exactly_one_field_decides(
    command: dict[str, object], extra: dict[str, object], equipment: int
) -> None:
    payload = {**extra, **command}
    given_fields = [k for k, v in payload.items() if v is not None]
    body = json.dumps(payload).encode()
    if len(given_fields) != 1:
        with pytest.raises(StimulusError):
            operator(body, str(equipment))
        return
    result = operator(body, str(equipment))
    assert result is not None and result.equipment == equipment


# --- status document ---------------------------------------------------------------------------


def test_status_document() -> None:
    document = status.Status(
        state="online",
        version="0.1.0",
        started_at=1_717_200_000,
        system_base="multiprocTCPBase",
        equipment=3,
        devices=4,
        faulty=1,
    )
    decoded = json.loads(status.encode(document))
    assert decoded["state"] == "online"
    assert decoded["plans"] == "database"
    assert decoded["equipment"] == 3 and decoded["faulty"] == 1
    assert msgspec.json.decode(status.encode(document), type=status.Status) == document


def test_status_topic_and_offline_body() -> None:
    assert status.status_topic("elfe") == "elfe/status"
    assert json.loads(status.OFFLINE) == {"state": "offline"}


def test_each_stimulus_becomes_the_event_of_its_equipment() -> None:
    mode = SetMode(7, Mode.MANUEL, "operator")
    assert to_event(mode, 5.0) == ModeRequested(7, Mode.MANUEL, "operator", 5.0)
    assert to_event(StartNow(7, "operator"), 5.0) == ForceStart(7, "operator", 5.0)
    refresh = Reassert("refresh requested by operator", 5.0)
    assert to_event(Refresh(7, "operator"), 5.0) == refresh
    assert to_event(Reload(7, "viriya"), 5.0) == Reload(7, "viriya")


# --- what the gateway does with a message no device route takes ------------------------------


def test_an_operator_command_becomes_the_event_of_its_equipment() -> None:
    verdict = judge("elfe/equipment/12/set", b'{"start": true}', False, BASE, SCOPE, {12}, 5.0)
    assert verdict == Verdict("stimuli", ForceStart(12, "operator", 5.0), 12)


def test_a_viriya_ping_becomes_a_reload() -> None:
    verdict = judge("viriya/update/12", b"", False, BASE, SCOPE, {12}, 5.0)
    assert verdict == Verdict("stimuli", Reload(12, "viriya"), 12)


def test_an_unknown_equipment_is_answered_with_an_error() -> None:
    verdict = judge("viriya/update/13", b"", False, BASE, SCOPE, {12}, 5.0)
    assert verdict == Verdict("stimuli", error="unknown equipment 13")


def test_a_bad_command_is_answered_by_the_partition_of_its_equipment() -> None:
    topic = "elfe/equipment/12/set"
    assert judge(topic, b"{}", False, BASE, SCOPE, {12}, 5.0).error
    elsewhere = StimulusScope(partition=1, foreign=frozenset({12}))
    assert judge(topic, b"{}", False, BASE, elsewhere, {12}, 5.0) == Verdict()


def test_retained_foreign_and_unrouted_messages_are_dropped() -> None:
    ping = "viriya/update/12"
    assert judge(ping, b"", True, BASE, SCOPE, {12}, 5.0) == Verdict(ignored="retained stimulus")
    elsewhere = StimulusScope(partition=1, foreign=frozenset({12}))
    assert judge(ping, b"", False, BASE, elsewhere, set(), 5.0) == Verdict("foreign_stimuli")
    assert judge("x/y", b"", False, BASE, SCOPE, {12}, 5.0) == Verdict(
        "unrouted", ignored="unrouted topic"
    )


def test_errors_go_back_only_on_the_operator_topics() -> None:
    assert error_topic_for("elfe/equipment/12/set", BASE) == "elfe/equipment/12/error"
    assert error_topic_for("viriya/update/12", BASE) is None
