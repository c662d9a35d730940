"""The capture format: encoding round trip, bad lines reported by number, never a crash."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from protocol import capture
from protocol.config import config_from_mapping
from protocol.snapshot import Table

HEADER = capture.Header(
    format="elfe-capture", version=1, started_at=1764921600.0, base_topic="elfe"
)


def lines(*items: capture.Header | capture.Line) -> list[bytes]:
    return [capture.encode(item) for item in items]


def test_header_first_then_tagged_lines_round_trip() -> None:
    message = capture.mqtt_line(1764921601.5, "shellies/p/relay/0", b"on", qos=1, retain=True)
    plan = capture.PlanRow(
        time=1764921602.0, id=7, machine_id=1, first_valid_timestamp=1764921600, decisions=(1,) * 96
    )
    row = capture.RowChange(
        time=1764921603.0,
        table="equipement_pilote_ou_mesure",
        key=1,
        columns={"etat_controle_id": 15},
    )
    end = capture.End(time=1764921604.0)
    encoded = lines(HEADER, message, plan, row, end)
    first = json.loads(encoded[0])
    assert (first["format"], first["version"]) == ("elfe-capture", 1)
    assert json.loads(encoded[1]) == {
        "kind": "mqtt",
        "time": 1764921601.5,
        "topic": "shellies/p/relay/0",
        "payload": "on",
        "encoding": "utf-8",
        "qos": 1,
        "retain": True,
    }
    decoded = capture.decode(encoded)
    assert decoded.problems == []
    assert decoded.header == HEADER
    assert decoded.lines == [message, plan, row, end]


def test_binary_payloads_are_base64_and_come_back_as_sent() -> None:
    payload = bytes(range(256))
    line = capture.mqtt_line(1.0, "t", payload)
    assert line.encoding == "base64"
    decoded = capture.decode(lines(HEADER, line))
    assert decoded.lines[0].data() == payload  # type: ignore[union-attr]


def test_bad_lines_are_reported_with_their_number_and_skipped() -> None:
    good = capture.encode(capture.mqtt_line(2.0, "a/b", b"x"))
    data = [
        capture.encode(HEADER),
        good,
        b"not json\n",
        b'{"kind": "mqtt", "time": 3, "topic": "a/#", "payload": "x"}\n',
        b'{"kind": "mqtt", "time": 3, "topic": "a", "payload": "!!", "encoding": "base64"}\n',
        b'{"kind": "plan", "time": 3, "id": 1, "machine_id": 1, "first_valid_timestamp": 0,'
        b' "decisions": [2]}\n',
        b'{"kind": "weather", "time": 3}\n',
        b"\n",
        good,
    ]
    decoded = capture.decode(data)
    assert len(decoded.lines) == 2
    assert [p.line for p in decoded.problems] == [3, 4, 5, 6, 7]
    assert "a/#" in decoded.problems[1].reason
    assert str(decoded.problems[0]).startswith("line 3: ")


def test_a_file_that_is_not_a_capture_says_so_on_line_1() -> None:
    for first in (b'{"format": "other", "version": 1, "started_at": 0, "base_topic": "e"}', b"[]"):
        decoded = capture.decode([first])
        assert decoded.header is None and decoded.lines == []
        assert decoded.problems[0].line == 1
    later = capture.decode(
        [b'{"format": "elfe-capture", "version": 2, "started_at": 0, "base_topic": "e"}']
    )
    assert "version 2" in later.problems[0].reason
    assert capture.decode([]).problems[0].line == 1


@given(st.lists(st.binary(max_size=200), max_size=20))
def test_arbitrary_lines_never_crash_the_decoder(raw: list[bytes]) -> None:
    decoded = capture.decode([capture.encode(HEADER), *raw])
    assert len(decoded.lines) + len(decoded.problems) <= len(raw)
    assert all(2 <= p.line <= len(raw) + 1 for p in decoded.problems)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "kind",
                "time",
                "topic",
                "payload",
                "encoding",
                "qos",
                "retain",
                "id",
                "machine_id",
                "first_valid_timestamp",
                "decisions",
                "table",
                "key",
                "op",
                "columns",
            ]
        ),
        json_values,
    )
)
def test_arbitrary_json_objects_never_crash_the_decoder(obj: dict[str, object]) -> None:
    decoded = capture.decode([capture.encode(HEADER), json.dumps(obj).encode()])
    assert len(decoded.lines) + len(decoded.problems) == 1
    for line in decoded.lines:
        if isinstance(line, capture.Mqtt):
            line.data()  # a decoded message always has its bytes


@given(
    st.binary(max_size=300),
    st.text(min_size=1, max_size=30).filter(lambda t: not set(t) & set("+#\x00")),
)
def test_every_payload_survives_the_round_trip(payload: bytes, topic: str) -> None:
    line = capture.mqtt_line(5.0, topic, payload, qos=2)
    decoded = capture.decode(lines(HEADER, line))
    assert decoded.problems == []
    assert decoded.lines[0].data() == payload  # type: ignore[union-attr]


def test_row_changes_name_inserted_updated_and_deleted_rows() -> None:
    before = {"t": Table(columns=["id", "a", "b"], rows=[[1, 1, "x"], [2, 2, "y"]])}
    after = {"t": Table(columns=["id", "a", "b"], rows=[[1, 1, "z"], [3, 3, "w"]])}
    changes = capture.row_changes(before, after, 9.0)
    assert [(c.key, c.op, c.columns) for c in changes] == [
        (1, "update", {"b": "z"}),
        (2, "delete", {}),
        (3, "insert", {"id": 3, "a": 3, "b": "w"}),
    ]
    assert capture.row_changes(after, after, 9.0) == []


def test_the_config_digest_ignores_secrets() -> None:
    # A Config never holds a password (protocol/config.py); the DSN and the user still go.
    one = config_from_mapping(
        {"mqtt": {"username": "a"}},
        environ={"ELFE_COORDINATION_DSN": "postgresql://a:secret@h/db"},
    )
    two = config_from_mapping(
        {"mqtt": {"username": "b"}},
        environ={"ELFE_COORDINATION_DSN": "postgresql://b:other@h/db", "ELFE_MQTT_PASSWORD": "p"},
    )
    three = config_from_mapping(
        {"coordination": {"dsn": "x"}, "mqtt": {"base_topic": "other"}}, environ={}
    )
    assert capture.config_digest(one) == capture.config_digest(two)
    assert capture.config_digest(one) != capture.config_digest(three)
    assert "secret" not in str(capture.public_config(one))


def test_a_recording_subscribes_to_what_devices_and_supervisor_publish_once() -> None:
    from protocol.config import ControlParams
    from protocol.model import DeviceSpec, EquipmentSpec

    def spec(*devices: DeviceSpec) -> EquipmentSpec:
        return EquipmentSpec(
            id=1,
            name="e",
            type_id=131,
            kind=None,
            typology=120,
            household=None,
            devices=devices,
            control=ControlParams(),
        )

    tasmota = DeviceSpec("A102", 112, 11, "tasmota", "tele/A102/STATE", "cmnd/A102/POWER", None, 30)
    shelly = DeviceSpec(
        "A101",
        111,
        11,
        "shelly_gen1",
        "elfe/shellies/p/relay/0",  # under the base topic: `elfe/#` covers it
        "elfe/shellies/p/relay/0/command",
        "elfe/shellies/p/online",
        30,
    )
    topics = capture.subscriptions([spec(tasmota), spec(shelly)], "elfe")
    assert topics == tuple(sorted(topics))
    assert {"elfe/#", "viriya/update/+", "stat/A102/RESULT", "tele/A102/STATE"} <= set(topics)
    assert {"cmnd/A102/POWER", "cmnd/A102/TelePeriod"} <= set(topics)  # the supervisor's own
    assert not [t for t in topics if t.startswith("elfe/") and t != "elfe/#"]


@given(st.binary(max_size=300))
def test_an_arbitrary_first_line_is_refused_on_line_1_never_a_crash(first: bytes) -> None:
    decoded = capture.decode([first, capture.encode(capture.End(time=1.0))])
    if decoded.header is None:
        assert decoded.lines == [] and [p.line for p in decoded.problems] == [1]
