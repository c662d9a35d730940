"""The guards that protect the household whatever the plan says (spec typologies.md §6). Pure
time arithmetic; the machines decide what to do with the answers."""

from __future__ import annotations

from datetime import UTC, datetime

from protocol.config import ControlParams
from protocol.model import ComfortSettings, EquipmentDetails

DAY_S = 86400
KELVIN_DK = 2731  # 0 °C in tenths of a kelvin, as the database stores temperatures


def deadline_start_at(details: EquipmentDetails, params: ControlParams) -> float | None:
    """When a triggered equipment still waiting must start anyway: deadline - cycle - margin.

    None when the guard is off or the declaration is incomplete (no deadline, no duration).
    """
    if not params.deadline_guard or not details.deadline or not details.cycle_s:
        return None
    return details.deadline - details.cycle_s - params.deadline_margin_s


def deadline_due(details: EquipmentDetails, params: ControlParams, now: float) -> bool:
    """The deadline guard fires now: its time has come and the deadline is not past yet."""
    start_at = deadline_start_at(details, params)
    return (
        start_at is not None and details.deadline is not None and start_at <= now < details.deadline
    )


def in_comfort_period(comfort: ComfortSettings, t: float) -> bool:
    """Comfort periods are seconds since 00:00 UTC; a period may run past midnight (end > 86400)."""
    moment = datetime.fromtimestamp(t, UTC)
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
    today_weekday = moment.weekday() < 5
    yesterday_weekday = (moment.weekday() - 1) % 7 < 5
    for periods, offset in (
        (comfort.weekday if today_weekday else comfort.weekend, 0),
        (comfort.weekday if yesterday_weekday else comfort.weekend, DAY_S),
    ):
        for start, end in periods:
            if start <= seconds + offset < end:
                return True
    return False


def requested_dk(comfort: ComfortSettings, t: float) -> int:
    return comfort.comfort_dk if in_comfort_period(comfort, t) else comfort.eco_dk


def measured_dk(temperature_c: float) -> float:
    return temperature_c * 10 + KELVIN_DK


def comfort_needed(comfort: ComfortSettings, temperature_c: float, t: float) -> bool:
    """Colder than requested by more than the allowed deviation: force on."""
    return requested_dk(comfort, t) - measured_dk(temperature_c) > comfort.delta_dk


def comfort_reached(comfort: ComfortSettings, temperature_c: float, t: float) -> bool:
    """Back at the requested temperature: the plan may take over again."""
    return measured_dk(temperature_c) >= requested_dk(comfort, t)


def next_period_change(comfort: ComfortSettings, t: float) -> float:
    """The next moment the requested temperature may change (a period starts or ends)."""
    day_start = int(t) - int(t) % DAY_S
    edges = sorted(
        day + offset
        for day in (day_start, day_start + DAY_S)
        for periods in (comfort.weekday, comfort.weekend)
        for start, end in periods
        for offset in (start, end)
    )
    return next((edge for edge in edges if edge > t), day_start + 2 * DAY_S)
