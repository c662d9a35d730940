"""The guards' time arithmetic (spec typologies.md §6), directly: comfort periods read in UTC as
the EMS reads them (whatever the process's time zone, summer time included), periods running
past midnight and over the weekend edge, the deadline guard's window; and the comfort and
max-off guards of a machine on the dates where UTC and Europe/Paris differ."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from protocol.config import ControlParams
from protocol.messages import EmsDecision
from protocol.model import ComfortSettings, EquipmentDetails
from protocol.typologies import guards
from tests.harness import Harness, equipment_row, make_spec, plug_row, sensor_row

H = 3600

pytestmark = pytest.mark.usefixtures("paris")  # the process runs in Europe/Paris


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


def settings(
    weekday: tuple[tuple[int, int], ...] = ((6 * H, 22 * H),),
    weekend: tuple[tuple[int, int], ...] = (),
) -> ComfortSettings:
    return ComfortSettings(
        eco_dk=2731 + 160, comfort_dk=2731 + 200, delta_dk=10, weekday=weekday, weekend=weekend
    )


# --- comfort periods ----------------------------------------------------------------------------


def test_comfort_periods_are_utc_in_paris_summer_time() -> None:
    comfort = settings()
    # Monday 6 July 2026: Paris is UTC+2.
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 6, 5, 30))  # 07:30 in Paris
    assert guards.in_comfort_period(comfort, utc(2026, 7, 6, 6, 0))
    assert guards.in_comfort_period(comfort, utc(2026, 7, 6, 21, 30))  # 23:30 in Paris
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 6, 22, 0))


def test_comfort_periods_start_and_end_to_the_second() -> None:
    comfort = settings(weekday=((6 * H + 30 * 60, 6 * H + 45 * 60 + 30),))
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 6, 6, 29, 59))
    assert guards.in_comfort_period(comfort, utc(2026, 7, 6, 6, 30))
    assert guards.in_comfort_period(comfort, utc(2026, 7, 6, 6, 45, 29))
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 6, 6, 45, 30))


def test_comfort_periods_are_utc_in_paris_winter_time() -> None:
    comfort = settings()
    assert not guards.in_comfort_period(comfort, utc(2026, 1, 5, 5, 30))  # 06:30 in Paris
    assert guards.in_comfort_period(comfort, utc(2026, 1, 5, 21, 30))  # 22:30 in Paris


def test_the_weekday_is_the_utc_dates() -> None:
    comfort = settings(weekday=((0, 2 * H),), weekend=())
    # Sunday 22:30 UTC is Monday 00:30 in Paris: still the weekend for the EMS.
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 5, 22, 30))
    assert guards.in_comfort_period(comfort, utc(2026, 7, 6, 0, 30))
    # Friday 23:30 UTC is Saturday 01:30 in Paris: still a weekday.
    friday_night = settings(weekday=((23 * H, 24 * H),), weekend=())
    assert guards.in_comfort_period(friday_night, utc(2026, 7, 10, 23, 30))


def test_a_period_past_midnight_runs_into_the_next_day() -> None:
    comfort = settings(weekday=((22 * H, 30 * H),), weekend=())
    assert guards.in_comfort_period(comfort, utc(2026, 7, 6, 23, 0))  # Monday
    assert guards.in_comfort_period(comfort, utc(2026, 7, 7, 5, 59))  # Tuesday, Monday's period
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 7, 6, 0))


def test_the_weekend_edge_follows_the_day_the_period_started() -> None:
    comfort = settings(weekday=((22 * H, 30 * H),), weekend=((20 * H, 26 * H),))
    # Friday's weekday period runs into Saturday morning.
    assert guards.in_comfort_period(comfort, utc(2026, 7, 11, 5, 0))
    # Saturday's own period (weekend) starts at 20:00, Sunday's runs to Monday 02:00.
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 11, 19, 0))
    assert guards.in_comfort_period(comfort, utc(2026, 7, 13, 1, 0))  # Monday, from Sunday
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 13, 3, 0))
    # Sunday's weekday period does not exist: Monday 05:00 is outside any period.
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 13, 5, 0))


def test_requested_temperature_and_the_allowed_deviation() -> None:
    comfort = settings()
    day, night = utc(2026, 7, 6, 12), utc(2026, 7, 6, 23)
    assert guards.requested_dk(comfort, day) == 2731 + 200
    assert guards.requested_dk(comfort, night) == 2731 + 160
    assert guards.comfort_needed(comfort, 18.9, day)  # 1.1 K under 20 °C
    assert not guards.comfort_needed(comfort, 19.0, day)  # exactly the deviation: not more
    assert not guards.comfort_reached(comfort, 19.9, day)
    assert guards.comfort_reached(comfort, 20.0, day)
    assert not guards.comfort_needed(comfort, 15.5, night)
    assert guards.comfort_needed(comfort, 14.8, night)


def test_next_period_change_is_the_next_utc_edge() -> None:
    comfort = settings()
    monday = utc(2026, 7, 6)
    assert guards.next_period_change(comfort, monday + 5 * H) == monday + 6 * H
    assert guards.next_period_change(comfort, monday + 6 * H) == monday + 22 * H
    assert guards.next_period_change(comfort, monday + 23 * H) == monday + 30 * H
    past_midnight = settings(weekday=((22 * H, 30 * H),))
    assert guards.next_period_change(past_midnight, monday + 23 * H) == monday + 30 * H
    empty = settings(weekday=(), weekend=())
    assert guards.next_period_change(empty, monday + 1) == monday + 2 * 86400


# --- deadline guard ------------------------------------------------------------------------------


def test_deadline_start_is_deadline_minus_cycle_minus_margin() -> None:
    details = EquipmentDetails(deadline=100_000, cycle_s=3600)
    params = ControlParams(deadline_margin_s=900)
    assert guards.deadline_start_at(details, params) == 100_000 - 3600 - 900
    assert guards.deadline_start_at(details, ControlParams(deadline_guard=False)) is None
    assert guards.deadline_start_at(EquipmentDetails(deadline=100_000), params) is None
    assert guards.deadline_start_at(EquipmentDetails(cycle_s=3600), params) is None


def test_deadline_is_due_from_its_start_until_the_deadline() -> None:
    details = EquipmentDetails(deadline=100_000, cycle_s=3600)
    params = ControlParams(deadline_margin_s=900)
    start_at = 100_000 - 4500
    assert not guards.deadline_due(details, params, start_at - 1)
    assert guards.deadline_due(details, params, start_at)
    assert guards.deadline_due(details, params, 99_999)
    assert not guards.deadline_due(details, params, 100_000)


# --- the guards of a machine on summer-time dates ------------------------------------------------


def heater(now: float) -> Harness:
    details = EquipmentDetails(comfort=settings())
    row = equipment_row(type_id=155, typology=140, details=details)
    spec = make_spec(row, [plug_row(), sensor_row("F101")], min_switch_s=0)
    h = Harness(spec, row, now=now).start()
    h.obey()
    h.feed(EmsDecision(1, False, int(h.now // 900 * 900), 7, h.now))
    h.obey()
    return h


def last_action(h: Harness) -> str:
    return h.commands[-1][1].action


def test_comfort_guard_reads_the_period_in_utc_in_summer() -> None:
    early = heater(utc(2026, 7, 6, 5, 30))  # 07:30 in Paris, eco for the EMS
    early.report("F101", temperature_c=18.5)
    assert last_action(early) == "OFF"
    early.advance(30 * 60)  # 06:00 UTC: the comfort period starts, 18.5 °C is too cold
    assert last_action(early) == "ON" and "comfort" in early.events[-1].reason
    late = heater(utc(2026, 7, 6, 21, 30))  # 23:30 in Paris, still comfort for the EMS
    late.report("F101", temperature_c=18.5)
    assert last_action(late) == "ON"


def test_max_off_counts_utc_seconds_across_the_summer_time_change() -> None:
    row = equipment_row(type_id=131, typology=120)
    spec = make_spec(row, [plug_row()], min_switch_s=0, max_off_s=86400)
    h = Harness(spec, row, now=utc(2026, 3, 28, 23)).start()  # Paris moves to UTC+2 at 01:00
    h.obey()
    off_at = h.now
    h.feed(EmsDecision(1, False, int(h.now // 900 * 900), 7, h.now))
    h.advance(86400 - 1)
    assert last_action(h) == "OFF"
    h.advance(1)
    assert last_action(h) == "ON" and h.commands[-1][0] == off_at + 86400


def test_max_off_across_midnight_and_the_weekend_edge() -> None:
    row = equipment_row(type_id=151, typology=120)  # a heater: max_off_s as configured
    spec = make_spec(row, [plug_row()], min_switch_s=0, max_off_s=6 * H)
    h = Harness(spec, row, now=utc(2026, 7, 10, 21)).start()  # Friday 21:00 UTC
    h.obey()
    h.feed(EmsDecision(1, False, int(h.now // 900 * 900), 7, h.now))
    h.advance(6 * H)  # Saturday 03:00 UTC
    assert last_action(h) == "ON" and h.commands[-1][0] == utc(2026, 7, 11, 3)


def test_weekend_periods_on_weekend_days_and_exact_edges() -> None:
    comfort = settings(weekday=((6 * H, 22 * H),), weekend=((8 * H, 22 * H),))
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 11, 7))  # Saturday: weekend
    assert guards.in_comfort_period(comfort, utc(2026, 7, 11, 8))
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 6, 5, 59, 59))  # Monday
    assert guards.in_comfort_period(comfort, utc(2026, 7, 6, 21, 59, 59))
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 6, 22, 0, 30))


def test_saturdays_period_does_not_run_into_sunday_as_a_weekday() -> None:
    comfort = settings(weekday=((22 * H, 30 * H),), weekend=())
    assert not guards.in_comfort_period(comfort, utc(2026, 7, 12, 1))  # Sunday, from Saturday
    assert guards.in_comfort_period(comfort, utc(2026, 7, 11, 1))  # Saturday, from Friday
