"""Properties of the household screens: whatever a screen (or anyone on its topics) publishes,
the parser never raises and no touch produces an out-of-range database value; whatever the
household holds, the renderer gives JSON lines with an integer page, each publish under the
limit."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from protocol.config import ScreensConfig
from protocol.screens.localtime import MAX_EPOCH
from protocol.screens.render import full_refresh, pages_refresh
from protocol.screens.state import ScreenEquipment
from protocol.screens.touch import (
    MAX_CYCLE_S,
    Ignored,
    Rejected,
    RollerTouched,
    ScreenUpdate,
    SwitchTouched,
    apply_touch,
    parse_inbound,
)

ROOT = "hasp/g001"
LAYOUT = ScreensConfig()
ZONES = st.sampled_from([ZoneInfo("Europe/Paris"), ZoneInfo("UTC"), ZoneInfo("America/Santiago")])
NOWS = st.integers(min_value=1_600_000_000, max_value=2_100_000_000)
TYPES = st.sampled_from([111, 112, 113, 221, 131, 151, 155, 1, 410])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
events = st.fixed_dictionaries(
    {},
    optional={
        "event": st.sampled_from(["up", "down", "changed", "long", "hold", "release"])
        | st.text(max_size=8)
        | json_values,
        "val": json_values | st.integers(-5, 30) | st.sampled_from(["0", "1", " 1 ", "07"]),
        "text": st.text(max_size=12) | st.sampled_from(["07h", "45", "40%", "100%", "15min"]),
    },
)
payloads = (
    events.map(lambda d: json.dumps(d).encode())
    | st.binary(max_size=64)
    | st.sampled_from([b"online", b"offline", b"", b"{", b"[]", b"null", b'{"uptime":-1}'])
)
suffixes = (
    st.sampled_from(
        ["LWT", "state/statusupdate", "state/page", "command/jsonl", "state/p3b3", "state/p5b8"]
    )
    | st.builds(lambda p, b: f"state/p{p}b{b}", st.integers(0, 300), st.integers(0, 300))
    | st.text(max_size=20)
)
topics = suffixes.map(lambda s: f"{ROOT}/{s}") | st.text(max_size=40)

equipment = st.builds(
    ScreenEquipment,
    id=st.integers(1, 10_000),
    type_id=TYPES,
    name=st.text(max_size=10),
    mode=st.sampled_from([1, 10, 20, 30, 70, 80]),
    command_state=st.sampled_from([1, 11, 12, 13, 21, 30, 99]),
    deadline=st.none() | st.integers(0, MAX_EPOCH),
    cycle_s=st.none() | st.integers(0, 200_000),
    charge_percent=st.none() | st.integers(-50, 500),
    next_start=st.none() | st.integers(0, MAX_EPOCH),
    reason=st.none() | st.text(max_size=300),
)
households = st.lists(equipment, max_size=8).map(tuple)


@given(topics, payloads, households, NOWS, ZONES)
def test_arbitrary_messages_never_raise_nor_write_out_of_range(
    topic: str, payload: bytes, household: tuple[ScreenEquipment, ...], now: int, tz: ZoneInfo
) -> None:
    parsed = parse_inbound(topic, payload, ROOT, LAYOUT)
    if isinstance(parsed, Rejected | Ignored):
        assert parsed.reason and "\n" not in parsed.reason
    if not isinstance(parsed, SwitchTouched | RollerTouched):
        return
    result = apply_touch(parsed, household, LAYOUT, now, tz)
    if isinstance(result, Rejected):
        assert result.reason and "\n" not in result.reason
        return
    assert isinstance(result, ScreenUpdate)
    assert result.equipment in {e.id for e in household}
    assert result.mode in (None, 20, 30)
    if result.deadline is not None:
        assert now < result.deadline <= MAX_EPOCH
        assert result.deadline_column in ("timestamp_de_fin_souhaite", "timestamp_dispo_souhaitee")
    assert result.cycle_s is None or 0 < result.cycle_s <= MAX_CYCLE_S
    assert result.charge_percent is None or 0 <= result.charge_percent <= 100


@given(households, NOWS, ZONES, st.integers(1024, 2000), st.booleans())
def test_renderer_output_is_valid_jsonl_under_the_limit(
    household: tuple[ScreenEquipment, ...], now: int, tz: ZoneInfo, limit: int, labels: bool
) -> None:
    pages = tuple(msgspec.structs.replace(p, label=11 if labels else None) for p in LAYOUT.pages)
    layout = ScreensConfig(pages=pages, max_publish_bytes=limit)
    for publishes in (
        full_refresh(household, layout, now, tz),
        pages_refresh(household, [e.id for e in household], layout, now, tz),
    ):
        for publish in publishes:
            assert len(publish) <= limit
            for line in publish.split(b"\n"):
                item = json.loads(line)
                assert type(item["page"]) is int and type(item["id"]) is int
                assert 1 <= item["page"] <= 255 and 1 <= item["id"] <= 254
                if "val" in item:
                    assert type(item["val"]) is int and 0 <= item["val"] <= 23
