"""Household screens, pure: the renderer, the touch parser, the updates a touch asks for, and
local-time arithmetic on the two DST days of 2026 (Europe/Paris)."""

from __future__ import annotations

import json
from datetime import datetime, time
from zoneinfo import ZoneInfo

import msgspec
import pytest

from protocol.config import ScreenPage, ScreensConfig
from protocol.ems import Plan
from protocol.screens.localtime import clock_text, next_occurrence, roll_forward
from protocol.screens.render import full_refresh, pack, pages_refresh
from protocol.screens.state import ScreenEquipment, next_planned_start
from protocol.screens.touch import (
    Availability,
    Ignored,
    Rejected,
    RollerTouched,
    ScreenUpdate,
    Status,
    SwitchTouched,
    apply_touch,
    parse_inbound,
)

PARIS = ZoneInfo("Europe/Paris")
LAYOUT = ScreensConfig()
ROOT = "hasp/g001"


def at(text: str) -> int:
    """Paris wall-clock text -> epoch (`2026-12-05 14:30`)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp())


NOW = at("2026-12-05 10:00")
WASHER = ScreenEquipment(
    id=12, type_id=112, name="lave-linge", mode=30, command_state=11,
    deadline=at("2026-12-05 18:30"), cycle_s=5400,
)  # fmt: skip
CAR = ScreenEquipment(
    id=14, type_id=221, name="voiture", mode=20, command_state=13,
    deadline=at("2026-12-06 07:15"), charge_percent=43,
)  # fmt: skip
TANK = ScreenEquipment(id=15, type_id=131, name="ballon", mode=30, command_state=30)
HOUSEHOLD = (WASHER, CAR, TANK)


def lines_of(publishes: list[bytes]) -> list[dict[str, object]]:
    return [json.loads(line) for p in publishes for line in p.split(b"\n")]


def on(lines: list[dict[str, object]], page: int, object_id: int) -> dict[str, object]:
    found: dict[str, object] = {}
    for line in lines:
        if line["page"] == page and line["id"] == object_id:
            found.update({k: v for k, v in line.items() if k not in ("page", "id")})
    return found


# --- the renderer --------------------------------------------------------------------------------


def test_full_refresh_draws_every_page_of_the_household() -> None:
    lines = lines_of(full_refresh(HOUSEHOLD, LAYOUT, NOW, PARIS))
    assert all(type(line["page"]) is int for line in lines)
    # washing machine, page 3: piloted, end 18:30, cycle 1 h 30
    assert on(lines, 3, 10) == {"bg_color": "#00FF00"}
    assert on(lines, 3, 3) == {"val": 1}
    assert (on(lines, 3, 8), on(lines, 3, 9)) == ({"val": 18}, {"val": 2})
    assert (on(lines, 3, 5), on(lines, 3, 6)) == ({"val": 1}, {"val": 2})
    # car, page 5: manual, ready by 07:15, 43 % -> index 4
    assert on(lines, 5, 10) == {"bg_color": "#FF0000"} and on(lines, 5, 3) == {"val": 0}
    assert (on(lines, 5, 5), on(lines, 5, 6), on(lines, 5, 8)) == (
        {"val": 7},
        {"val": 1},
        {"val": 4},
    )
    # hot water in err: the err colour; summary LEDs 13, 15, 16; connection label
    assert on(lines, 6, 10) == {"bg_color": "#FF8000"}
    assert {k: on(lines, 8, k)["bg_color"] for k in (13, 15, 16)} == {
        13: "#00FF00",
        15: "#FF0000",
        16: "#FF8000",
    }
    assert on(lines, 9, 8) == {"text": "ecran connecté", "text_color": "#208020"}
    # pages the household has nothing for are left alone
    assert {line["page"] for line in lines} == {3, 5, 6, 8, 9}


def test_incremental_refresh_draws_only_the_page_of_the_equipment() -> None:
    lines = lines_of(pages_refresh(HOUSEHOLD, [12], LAYOUT, NOW, PARIS))
    assert {(line["page"], line["id"]) for line in lines} == {
        (3, 10), (3, 3), (3, 8), (3, 9), (3, 5), (3, 6), (8, 13),
    }  # fmt: skip
    assert pages_refresh(HOUSEHOLD, [999], LAYOUT, NOW, PARIS) == []


def test_lowest_id_is_shown_when_two_equipment_share_a_page() -> None:
    other = msgspec.structs.replace(WASHER, id=3, mode=20)
    lines = lines_of(full_refresh((WASHER, other), LAYOUT, NOW, PARIS))
    assert on(lines, 3, 3) == {"val": 0}


def test_missing_deadline_or_cycle_draws_no_roller() -> None:
    bare = msgspec.structs.replace(WASHER, deadline=0, cycle_s=None)
    lines = lines_of(full_refresh((bare,), LAYOUT, NOW, PARIS))
    assert not any(line["id"] in (5, 6, 8, 9) and line["page"] == 3 for line in lines)


def test_every_id_and_colour_comes_from_the_layout() -> None:
    layout = ScreensConfig(
        pages=(ScreenPage(page=12, types=(112,), switch=103, led=110, label=111, summary_led=1),),
        summary_page=11,
        connection_page=None,
        piloted_color="#123456",
    )
    planned = msgspec.structs.replace(WASHER, next_start=at("2026-12-05 14:30"))
    lines = lines_of(full_refresh((planned,), layout, NOW, PARIS))
    assert lines == [
        {"page": 12, "id": 110, "bg_color": "#123456"},
        {"page": 12, "id": 103, "val": 1},
        {"page": 12, "id": 111, "text": "Démarrage prévu 14:30"},
        {"page": 11, "id": 1, "bg_color": "#123456"},
    ]


def test_label_shows_the_reason_when_no_start_is_planned() -> None:
    layout = ScreensConfig(pages=(ScreenPage(page=6, types=(131,), label=11),))
    why = msgspec.structs.replace(TANK, reason="max-off guard: on after 24 h off\nsecond line")
    lines = lines_of(full_refresh((why,), layout, NOW, PARIS))
    assert on(lines, 6, 11) == {"text": "max-off guard: on after 24 h off second line"}
    later = msgspec.structs.replace(WASHER, next_start=at("2026-12-06 06:00"))
    layout = ScreensConfig(pages=(ScreenPage(page=3, types=(112,), label=11),))
    lines = lines_of(full_refresh((later,), layout, NOW, PARIS))
    assert on(lines, 3, 11) == {"text": "Démarrage prévu demain 06:00"}


def test_publishes_are_split_under_the_limit() -> None:
    household = tuple(
        msgspec.structs.replace(WASHER, id=i, type_id=t, reason="é" * 200)
        for i, t in enumerate((111, 112, 113, 221, 131, 151), start=1)
    )
    layout = ScreensConfig(
        pages=tuple(msgspec.structs.replace(p, label=11) for p in LAYOUT.pages),
        max_publish_bytes=1024,
    )
    publishes = full_refresh(household, layout, NOW, PARIS)
    assert len(publishes) > 1
    assert all(len(p) <= 1024 for p in publishes)
    assert len(lines_of(publishes)) == sum(len(p.split(b"\n")) for p in publishes)


def test_pack_keeps_line_order() -> None:
    lines = [{"page": 2, "id": i, "val": i} for i in range(1, 200)]
    assert lines_of(pack(lines, 1024)) == lines


# --- planned start -------------------------------------------------------------------------------


def test_next_planned_start_is_the_first_off_to_on_slot() -> None:
    start = at("2026-12-05 00:00")
    decisions = [0] * 96
    for slot in (39, 40, 58, 59):  # 09:45-10:15 and 14:30-15:00
        decisions[slot] = 1
    plan = Plan(1, 12, start, tuple(decisions))
    assert next_planned_start([plan], NOW) == at("2026-12-05 14:30")
    assert next_planned_start([plan], at("2026-12-05 15:00")) is None
    assert next_planned_start([], NOW) is None


# --- local time on the DST days ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "wall", "expected"),
    [
        # 2026-03-29: 02:00 -> 03:00. A day of 23 hours.
        ("2026-03-28 23:00", time(7, 0), "2026-03-29T07:00:00+02:00"),
        ("2026-03-29 01:30", time(1, 0), "2026-03-30T01:00:00+02:00"),
        ("2026-03-28 22:00", time(2, 30), "2026-03-29T03:30:00+02:00"),  # in the gap: shifted
        ("2026-03-29 12:00", time(12, 15), "2026-03-29T12:15:00+02:00"),
        # 2026-10-25: 03:00 -> 02:00. A day of 25 hours.
        ("2026-10-24 23:00", time(7, 0), "2026-10-25T07:00:00+01:00"),
        ("2026-10-24 21:00", time(2, 30), "2026-10-25T02:30:00+02:00"),  # first of the two
        ("2026-10-25 12:00", time(11, 45), "2026-10-26T11:45:00+01:00"),
    ],
)
def test_next_occurrence_on_dst_days(now: str, wall: time, expected: str) -> None:
    result = next_occurrence(wall, at(now), PARIS)
    assert datetime.fromtimestamp(result, PARIS).isoformat() == expected


def test_roll_forward_keeps_the_local_time_across_both_dst_changes() -> None:
    # an end time of 18:30 last Saturday, rolled on the Sunday of each change
    spring = roll_forward(at("2026-03-28 18:30"), at("2026-03-29 09:00"), PARIS)
    assert datetime.fromtimestamp(spring, PARIS).isoformat() == "2026-03-29T18:30:00+02:00"
    autumn = roll_forward(at("2026-10-24 18:30"), at("2026-10-25 09:00"), PARIS)
    assert datetime.fromtimestamp(autumn, PARIS).isoformat() == "2026-10-25T18:30:00+01:00"
    # plain +86400 would be wrong by an hour on both days
    assert spring - at("2026-03-28 18:30") == 23 * 3600
    assert autumn - at("2026-10-24 18:30") == 25 * 3600
    # a deadline still ahead is kept
    assert roll_forward(at("2026-12-07 08:00"), NOW, PARIS) == at("2026-12-07 08:00")


def test_clock_text() -> None:
    assert clock_text(at("2026-12-05 14:30"), NOW, PARIS) == "14:30"
    assert clock_text(at("2026-12-06 06:00"), NOW, PARIS) == "demain 06:00"
    assert clock_text(at("2026-12-25 06:00"), NOW, PARIS) == "25/12 06:00"


# --- parsing what the screen publishes -----------------------------------------------------------


def parse(suffix: str, payload: str | bytes) -> object:
    data = payload.encode() if isinstance(payload, str) else payload
    return parse_inbound(f"{ROOT}/{suffix}", data, ROOT, LAYOUT)


@pytest.mark.parametrize(
    ("suffix", "payload", "expected"),
    [
        ("LWT", "online", Availability(True)),
        ("LWT", "offline", Availability(False)),
        ("state/statusupdate", '{"node":"g001","uptime":11027}', Status(11027)),
        ("state/statusupdate", '{"node":"g001"}', Status(None)),
        ("state/p3b3", '{"event":"up","val":1}', SwitchTouched(3, True)),
        ("state/p3b3", '{"event":"up","val":0}', SwitchTouched(3, False)),
        ("state/p3b3", '{"event":"up","val":true}', SwitchTouched(3, True)),
        ("state/p3b3", '{"event":"up","val":"0"}', SwitchTouched(3, False)),
        ("state/p3b8", '{"event":"changed","val":14,"text":"9"}', RollerTouched(3, "end_hour", 14)),
        ("state/p3b9", '{"event":"changed","text":"45"}', RollerTouched(3, "end_quarter", 3)),
        ("state/p3b5", '{"event":"changed","val":2}', RollerTouched(3, "cycle_hours", 2)),
        ("state/p3b6", '{"event":"changed","val":1}', RollerTouched(3, "cycle_quarters", 1)),
        ("state/p5b8", '{"event":"changed","val":7,"text":"70%"}', RollerTouched(5, "charge", 70)),
        ("state/p5b8", '{"event":"changed","text":"45%"}', RollerTouched(5, "charge", 45)),
        ("state/p5b5", '{"event":"changed","text":"06h"}', RollerTouched(5, "end_hour", 6)),
    ],
)  # fmt: skip
def test_events_are_typed(suffix: str, payload: str, expected: object) -> None:
    assert parse(suffix, payload) == expected


@pytest.mark.parametrize(
    ("suffix", "payload"),
    [
        ("state/p3b3", '{"event":"down","val":0}'),  # the firmware sends down before up
        ("state/p3b8", '{"event":"up","val":3}'),  # rollers: only changed counts
        ("state/p1b4", '{"event":"up"}'),  # a navigation button outside the layout
        ("state/p3b77", '{"event":"up"}'),
        ("state/page", "3"),
        ("state/idle", "short"),
        ("command/jsonl", '{"page":3}'),  # our own publication echoed back
        ("state/p3.b3", '{"event":"up","val":1}'),
    ],
)
def test_ordinary_firmware_reports_are_ignored(suffix: str, payload: str) -> None:
    assert isinstance(parse(suffix, payload), Ignored)


@pytest.mark.parametrize(
    ("suffix", "payload", "reason"),
    [
        ("LWT", "maybe", "neither online nor offline"),
        ("state/statusupdate", "not json", "invalid JSON"),
        ("state/p3b3", '{"event":"up","val":2}', "not 0 or 1"),
        ("state/p3b3", '{"event":"up"}', "not 0 or 1"),
        ("state/p3b3", '{"val":1}', "no event"),
        ("state/p3b3", "[1,2]", "Expected `object`"),
        ("state/p3b8", '{"event":"changed","val":24}', "outside 0..23"),
        ("state/p3b9", '{"event":"changed","val":4}', "outside 0..3"),
        ("state/p3b9", '{"event":"changed","text":"20"}', "outside 0..3"),
        ("state/p5b8", '{"event":"changed","val":11}', "outside 0..100"),
        ("state/p5b8", '{"event":"changed","text":"beaucoup"}', "is not a percent"),
        ("state/p3b8", '{"event":"changed"}', "without val or text"),
        ("state/p3b8", '{"event":"changed","val":-1}', "outside 0..23"),
    ],
)
def test_bad_events_are_rejected_with_a_reason(suffix: str, payload: str, reason: str) -> None:
    result = parse(suffix, payload)
    assert isinstance(result, Rejected), result
    assert reason in result.reason and "\n" not in result.reason
    assert ROOT in result.reason


def test_pages_and_ids_of_any_number_of_digits() -> None:
    layout = ScreensConfig(
        pages=(ScreenPage(page=12, types=(112,), switch=103, end_hour=108, end_quarter=109),),
        summary_page=None,
        connection_page=None,
    )
    event = b'{"event":"up","val":1}'
    assert parse_inbound(f"{ROOT}/state/p12b103", event, ROOT, layout) == SwitchTouched(12, True)
    changed = b'{"event":"changed","val":5}'
    assert parse_inbound(f"{ROOT}/state/p12b108", changed, ROOT, layout) == RollerTouched(
        12, "end_hour", 5
    )
    huge = f"{ROOT}/state/p{'9' * 5000}b1"  # int() of this would raise
    assert isinstance(parse_inbound(huge, event, ROOT, layout), Ignored)


# --- touches -> updates --------------------------------------------------------------------------


def touch(event: SwitchTouched | RollerTouched, now: int = NOW) -> object:
    return apply_touch(event, HOUSEHOLD, LAYOUT, now, PARIS)


def test_switch_to_manual_and_back_to_piloted_rolls_the_deadline() -> None:
    assert touch(SwitchTouched(3, False)) == ScreenUpdate(12, mode=20)
    evening = at("2026-12-05 19:00")  # after the 18:30 end time
    assert touch(SwitchTouched(3, True), evening) == ScreenUpdate(
        12,
        mode=30,
        deadline=at("2026-12-06 18:30"),
        deadline_column="timestamp_de_fin_souhaite",
    )
    assert touch(SwitchTouched(3, True)) == ScreenUpdate(12, mode=30)  # still ahead: kept
    assert touch(SwitchTouched(6, False)) == ScreenUpdate(15, mode=20)


def test_switch_refused_outside_manual_and_piloted() -> None:
    disabled = msgspec.structs.replace(WASHER, mode=70)
    result = apply_touch(SwitchTouched(3, True), (disabled,), LAYOUT, NOW, PARIS)
    assert isinstance(result, Rejected) and "mode 70" in result.reason
    result = apply_touch(SwitchTouched(2, True), HOUSEHOLD, LAYOUT, NOW, PARIS)
    assert isinstance(result, Rejected) and "page 2" in result.reason


def test_rollers_set_the_next_occurrence_of_the_local_time() -> None:
    # end 18:30 -> hour 7 keeps the quarter: 07:30 tomorrow
    assert touch(RollerTouched(3, "end_hour", 7)) == ScreenUpdate(
        12, deadline=at("2026-12-06 07:30"), deadline_column="timestamp_de_fin_souhaite"
    )
    # quarter 3 keeps the hour: 18:45 today
    assert touch(RollerTouched(3, "end_quarter", 3)) == ScreenUpdate(
        12, deadline=at("2026-12-05 18:45"), deadline_column="timestamp_de_fin_souhaite"
    )
    # the car's ready-by time
    assert touch(RollerTouched(5, "end_hour", 11)) == ScreenUpdate(
        14, deadline=at("2026-12-05 11:15"), deadline_column="timestamp_dispo_souhaitee"
    )
    assert touch(RollerTouched(5, "charge", 60)) == ScreenUpdate(14, charge_percent=60)


def test_hour_roller_on_the_dst_days() -> None:
    washer = msgspec.structs.replace(WASHER, deadline=at("2026-03-28 18:30"))
    update = apply_touch(
        RollerTouched(3, "end_hour", 8), (washer,), LAYOUT, at("2026-03-29 01:00"), PARIS
    )
    assert isinstance(update, ScreenUpdate) and update.deadline is not None
    assert datetime.fromtimestamp(update.deadline, PARIS).isoformat() == "2026-03-29T08:30:00+02:00"
    washer = msgspec.structs.replace(WASHER, deadline=at("2026-10-24 18:30"))
    update = apply_touch(
        RollerTouched(3, "end_hour", 8), (washer,), LAYOUT, at("2026-10-25 01:00"), PARIS
    )
    assert isinstance(update, ScreenUpdate) and update.deadline is not None
    assert datetime.fromtimestamp(update.deadline, PARIS).isoformat() == "2026-10-25T08:30:00+01:00"


def test_cycle_rollers_and_the_zero_duration() -> None:
    assert touch(RollerTouched(3, "cycle_hours", 2)) == ScreenUpdate(12, cycle_s=9000)
    assert touch(RollerTouched(3, "cycle_quarters", 0)) == ScreenUpdate(12, cycle_s=3600)
    short = msgspec.structs.replace(WASHER, cycle_s=3600)
    result = apply_touch(RollerTouched(3, "cycle_hours", 0), (short,), LAYOUT, NOW, PARIS)
    assert isinstance(result, Rejected) and "0 is refused" in result.reason
    none = msgspec.structs.replace(WASHER, cycle_s=None)
    result = apply_touch(RollerTouched(3, "cycle_hours", 2), (none,), LAYOUT, NOW, PARIS)
    assert isinstance(result, Rejected)


# --- which screens, which household; when to draw in full ---------------------------------------


def test_screens_of_the_inventory() -> None:
    from protocol.config import Config
    from protocol.model import DeviceSpec, EquipmentSpec
    from protocol.screens.inventory import households, screens_of

    def device(device_id: str, node: str, household: str | None, hardware: str) -> DeviceSpec:
        return DeviceSpec(
            id=device_id, type_id=711, usage=71, codec="openhasp",
            control_topic=f"hasp/{node}/state", command_topic=f"hasp/{node}/cmd/jsonl",
            lwt_topic=f"hasp/{node}/LWT", report_period_s=300.0, hardware_id=hardware,
            household=household,
        )  # fmt: skip

    def equipment(number: int, household: str, *devices: DeviceSpec) -> EquipmentSpec:
        return EquipmentSpec(
            id=number, name="e", type_id=112, kind=None, typology=120, household=household,
            devices=devices, control=Config().control.for_type(112),
        )  # fmt: skip

    specs = [
        equipment(1, "R001", device("G1", "g001", "R001", "G001")),
        equipment(2, "R001", device("G2", "g002", "R001", "other")),
        equipment(3, "R002", device("G3", "g003", None, "G003")),
        equipment(4, "R002", device("G4", "g001", "R002", "g001")),
    ]
    screens, problems = screens_of(specs)
    assert [(s.device, s.node, s.household, s.command_topic) for s in screens] == [
        ("G1", "g001", "R001", "hasp/g001/command/jsonl"),
        ("G2", "g002", "R001", "hasp/g002/command/jsonl"),
    ]
    assert len(problems) == 3
    assert "'other' is not the node" in problems[0]
    assert "G3: no household" in problems[1] and "already screen G1" in problems[2]
    assert households(specs) == {"R001": (1, 2), "R002": (3, 4)}


def test_when_a_screen_is_drawn_in_full() -> None:
    from protocol.screens.session import Session, on_report

    session = Session()
    session, decision = on_report(session, Availability(True))  # the retained online
    assert decision.full_refresh and decision.indicators
    session, decision = on_report(session, Status(100))
    assert not decision.full_refresh
    session, decision = on_report(session, Status(400))
    assert not decision.full_refresh
    session, decision = on_report(session, Status(3))  # uptime went down: rebooted
    assert decision.full_refresh and "400 -> 3" in decision.reason
    session, decision = on_report(session, Availability(True))  # online again, no offline
    assert decision.full_refresh and "again" in decision.reason
    session, decision = on_report(session, Availability(False))
    assert not decision.full_refresh
    _, decision = on_report(Session(), Status(50))  # no LWT heard: first sign of life
    assert decision.full_refresh and not decision.indicators


def test_a_screens_copy_of_its_household() -> None:
    from protocol.screens import household as book

    first, changed = book.loaded(None, [WASHER, TANK])
    assert changed == set()  # the first read is drawn by the full refresh
    planned, changed = book.planned(first, [(12, 1000), (15, None), (99, 5)])
    assert changed == {12} and planned[12].next_start == 1000
    again, changed = book.loaded(planned, [WASHER, msgspec.structs.replace(TANK, mode=20)])
    assert changed == {15} and again[12].next_start == 1000  # the plans' start is kept
    shown, changed = book.shown(again, 12, 20, 13, None)
    assert changed == {12} and shown[12].mode == 20
    assert book.shown(shown, 12, 20, 13, None)[1] == set()
    assert book.shown(shown, 99, 20, 13, None)[1] == set()
    declared, changed = book.declared(shown, ScreenUpdate(12, cycle_s=3600))
    assert changed == {12} and declared[12].cycle_s == 3600 and declared[12].deadline
