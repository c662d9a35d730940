"""Fault specifications of the replay: parsing (one clear error) and their effect on messages."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import capture, faults

START = 1764892800.0 + 6 * 3600  # 2025-12-05 06:00 UTC


def message(at: float, topic: str = "shellies/p/relay/0", payload: bytes = b"on") -> capture.Mqtt:
    return capture.mqtt_line(START + at, topic, payload)


def test_times_of_day_and_offsets() -> None:
    assert faults.parse_time("07:30", START) == START + 5400
    assert faults.parse_time("05:00", START) == START + 23 * 3600  # the next day
    assert faults.parse_time("+90", START) == START + 90
    assert faults.parse_time("06:00:30", START) == START + 30


def test_every_kind_parses() -> None:
    parsed = faults.parse(
        "drop shellies/+/relay/0 07:00-08:00; duplicate a/#; delay x/y 12.5 +0-+60;"
        " reorder z; broker 07:00-07:10; database 23:00-01:00; clock -3600@09:00",
        START,
    )
    assert parsed[0] == faults.MessageFault(
        "drop", "shellies/+/relay/0", START + 3600, START + 7200
    )
    assert parsed[1] == faults.MessageFault("duplicate", "a/#", -math.inf, math.inf)
    assert parsed[2] == faults.MessageFault("delay", "x/y", START, START + 60, 12.5)
    assert parsed[4] == faults.Outage("broker", START + 3600, START + 4200)
    assert parsed[5] == faults.Outage("database", START + 17 * 3600, START + 19 * 3600)
    assert parsed[6] == faults.ClockJump(START + 3 * 3600, -3600.0)


@pytest.mark.parametrize(
    ("spec", "culprit"),
    [
        ("explode a", "unknown kind 'explode'"),
        ("drop", "needs a topic filter"),
        ("delay a/b", "needs a topic filter and a number"),
        ("delay a/b soon", "'soon' is not a number"),
        ("broker 08:00", "expected FROM-TO"),
        ("broker 25:00-26:00", "not a time of day"),
        ("clock 60", "SECONDS@AT"),
        ("database +60-+30", "ends before it starts"),
    ],
)
def test_a_bad_fault_is_named(spec: str, culprit: str) -> None:
    with pytest.raises(faults.FaultError, match=culprit) as caught:
        faults.parse(f"drop a; {spec}", START)
    assert spec.split()[0] in str(caught.value)


def test_message_faults() -> None:
    lines: list[capture.Line] = [message(i, payload=str(i).encode()) for i in range(4)]
    lines.append(message(2.5, topic="other"))
    dropped = faults.apply(lines, faults.parse("drop shellies/# +1-+3", START))
    assert [m.payload for m in dropped] == ["0", "on", "3"]  # type: ignore[union-attr]
    doubled = faults.apply(lines, faults.parse("duplicate other", START))
    assert [m.topic for m in doubled].count("other") == 2  # type: ignore[union-attr]
    delayed = faults.apply(lines, faults.parse("delay shellies/p/relay/0 2", START))
    assert [(m.time - START, m.topic) for m in delayed][:3] == [  # type: ignore[union-attr]
        (2, "shellies/p/relay/0"),
        (2.5, "other"),
        (3, "shellies/p/relay/0"),
    ]
    swapped = faults.apply(lines[:4], faults.parse("reorder shellies/#", START))
    assert [m.payload for m in swapped] == ["1", "0", "3", "2"]  # type: ignore[union-attr]


@given(st.text(max_size=60))
def test_arbitrary_specifications_never_crash(spec: str) -> None:
    with contextlib.suppress(faults.FaultError):
        faults.parse(spec, START)


@given(st.lists(st.floats(0, 1000), max_size=30), st.sampled_from(["drop", "duplicate", "reorder"]))
def test_applied_faults_keep_time_order(times: list[float], kind: str) -> None:
    lines = [message(t) for t in times]
    result = faults.apply(lines, faults.parse(f"{kind} # +100-+500", START))
    assert [m.time for m in result] == sorted(m.time for m in result)
