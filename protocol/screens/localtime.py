"""Wall-clock arithmetic in the household's time zone, through zoneinfo only.

A local time that does not exist (the spring-forward gap, 02:30 on 2026-03-29 in Paris) is
taken with the offset before the change, i.e. shifted forward by the gap (03:30); a local time
that happens twice (02:30 on 2026-10-25) is its first occurrence. `timestamp()` of an aware
datetime does exactly this with `fold=0`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_EPOCH = 2**31 - 1  # the coordination schema stores epochs in 32-bit integers


def local(at: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(at, tz)


def next_occurrence(wall: time, now: float, tz: ZoneInfo) -> int:
    """The first instant strictly after `now` whose local wall-clock time is `wall`."""
    day = local(now, tz).date()
    for offset in range(3):  # today, tomorrow; a gap can push one more day at most
        candidate = datetime.combine(day + timedelta(days=offset), wall, tz)
        at = int(candidate.timestamp())
        if at > now:
            return at
    raise AssertionError("unreachable: a wall time recurs within three days")


def roll_forward(deadline: int, now: float, tz: ZoneInfo) -> int:
    """A deadline still ahead is kept; a past one becomes the next future occurrence of its
    local wall-clock time (hour, minute, second)."""
    if deadline > now:
        return deadline
    wall = local(deadline, tz).time().replace(tzinfo=None, fold=0)
    return next_occurrence(wall, now, tz)


def hour_quarter(at: int, tz: ZoneInfo) -> tuple[int, int]:
    """The local hour (0..23) and quarter index (minute div 15, 0..3) of `at`."""
    moment = local(at, tz)
    return moment.hour, moment.minute // 15


def clock_text(at: int, now: float, tz: ZoneInfo) -> str:
    """`14:30`, `demain 06:00`, or `25/12 06:00` further away (local time)."""
    moment, today = local(at, tz), local(now, tz).date()
    text = f"{moment.hour:02d}:{moment.minute:02d}"
    days = (moment.date() - today).days
    if days == 0:
        return text
    if days == 1:
        return f"demain {text}"
    return f"{moment.day:02d}/{moment.month:02d} {text}"
