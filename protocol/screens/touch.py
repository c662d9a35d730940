"""What a screen publishes -> typed events (`parse_inbound`), and a touch -> the database
update it asks for (`apply_touch`). Pure: time and the household are parameters.

Topics under the screen's root `hasp/<node>` (reference protocols.md §1.5, §1.6):

- `LWT` = `online` / `offline` -> `Availability`;
- `state/statusupdate` (JSON) -> `Status` with its `uptime` (a smaller uptime is a reboot);
- `state/p<P>b<B>` (any number of digits) on an object of the layout -> `SwitchTouched` (`up`
  with `val` 1 / 0, as an integer, a boolean or a numeric string) or `RollerTouched` (`changed`,
  `val` first, `text` only as a fallback), range-checked;
- the firmware's other reports (`down`, `long`, `hold`, `release`, `page`, `idle`, touches of
  objects outside the layout such as navigation buttons) -> `Ignored`;
- anything malformed or out of range -> `Rejected` with a one-line reason.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from protocol.config import ScreenPage, ScreensConfig
from protocol.devices.base import DecodeError
from protocol.devices.payloads import decode_json
from protocol.ids import Mode
from protocol.screens.localtime import MAX_EPOCH, hour_quarter, next_occurrence, roll_forward
from protocol.screens.render import equipment_for_page
from protocol.screens.state import VEHICLE_TYPES, Household, ScreenUpdate

RollerField = Literal["end_hour", "end_quarter", "cycle_hours", "cycle_quarters", "charge"]
ROLLER_FIELDS: tuple[RollerField, ...] = (
    "end_hour",
    "end_quarter",
    "cycle_hours",
    "cycle_quarters",
    "charge",
)
MAX_CYCLE_S = 23 * 3600 + 3 * 900
MAX_PAYLOAD = 2048  # the firmware's own buffer

_OBJECT = re.compile(r"p(\d{1,6})b(\d{1,6})")  # bounded: int() of thousands of digits raises
_LEADING_NUMBER = re.compile(r"\s*(\d{1,3})")
_object_decoder = msgspec.json.Decoder(dict[str, object])


class Availability(msgspec.Struct, frozen=True):
    online: bool


class Status(msgspec.Struct, frozen=True):
    uptime: int | None  # seconds since boot; None when the report has none


class SwitchTouched(msgspec.Struct, frozen=True):
    page: int
    piloted: bool


class RollerTouched(msgspec.Struct, frozen=True):
    """`value`: hour 0..23, quarter index 0..3, or percent 0..100 (`charge`)."""

    page: int
    field: RollerField
    value: int


class Ignored(msgspec.Struct, frozen=True):
    reason: str


class Rejected(msgspec.Struct, frozen=True):
    reason: str


Inbound = Availability | Status | SwitchTouched | RollerTouched | Ignored | Rejected


def screen_topics(root: str, layout: ScreensConfig, *extra: str) -> tuple[str, ...]:
    """The exact topics a screen's actor listens to: its LWT, its status, the touch topics of
    the layout's switches and rollers (no wildcard: other objects are not heard), and `extra`."""
    touches = [
        f"{root}/state/p{page.page}b{object_id}"
        for page in layout.pages
        for object_id in (page.switch, *(getattr(page, f) for f in ROLLER_FIELDS))
        if object_id is not None
    ]
    return tuple(dict.fromkeys([f"{root}/LWT", f"{root}/state/statusupdate", *touches, *extra]))


# --- parsing ------------------------------------------------------------------------------------


def parse_inbound(topic: str, payload: bytes, root: str, layout: ScreensConfig) -> Inbound:
    """One message of the screen `root` (`hasp/<node>`), typed; never raises."""
    if not topic.startswith(root + "/"):
        return Ignored(f"{topic!r} is not under {root!r}")
    rest = topic[len(root) + 1 :]
    topic = topic if topic.isprintable() else repr(topic)  # reasons stay on one line
    if rest == "LWT":
        word = payload.decode("utf-8", "replace").strip().lower()
        if word in ("online", "offline"):
            return Availability(word == "online")
        return Rejected(f"{topic}: LWT {_short(payload)} is neither online nor offline")
    if not rest.startswith("state/"):
        return Ignored(f"{topic}: not a state report")
    name = rest.removeprefix("state/")
    if name == "statusupdate":
        body = _json_object(topic, payload)
        if isinstance(body, Rejected):
            return body
        uptime = body.get("uptime")
        if isinstance(uptime, int) and not isinstance(uptime, bool) and uptime >= 0:
            return Status(uptime)
        return Status(None)
    match = _OBJECT.fullmatch(name)
    if match is None:
        return Ignored(f"{topic}: not a touch")
    page_number, object_id = int(match.group(1)), int(match.group(2))
    page = layout.page_numbered(page_number)
    role = _role(page, object_id) if page is not None else None
    if page is None or role is None:
        return Ignored(f"{topic}: object outside the layout")
    body = _json_object(topic, payload)
    if isinstance(body, Rejected):
        return body
    event = body.get("event")
    if not isinstance(event, str):
        return Rejected(f"{topic}: no event in {_short(payload)}")
    if role == "switch":
        return _switch(topic, page_number, event, body)
    return _roller(topic, page_number, role, event, body)


def _role(page: ScreenPage, object_id: int) -> Literal["switch"] | RollerField | None:
    if page.switch == object_id:
        return "switch"
    return next((f for f in ROLLER_FIELDS if getattr(page, f) == object_id), None)


def _json_object(topic: str, payload: bytes) -> dict[str, object] | Rejected:
    try:
        return decode_json(_object_decoder, payload, MAX_PAYLOAD)
    except DecodeError as exc:
        return Rejected(f"{topic}: {exc}")


def _switch(topic: str, page: int, event: str, body: dict[str, object]) -> Inbound:
    if event != "up":
        return Ignored(f"{topic}: switch {event}")
    value = body.get("val")
    if isinstance(value, bool):
        return SwitchTouched(page, value)
    number = _integer(value)
    if number in (0, 1):
        return SwitchTouched(page, number == 1)
    return Rejected(f"{topic}: switch val {_short_value(value)} is not 0 or 1")


def _roller(
    topic: str, page: int, field: RollerField, event: str, body: dict[str, object]
) -> Inbound:
    if event != "changed":
        return Ignored(f"{topic}: roller {event}")
    raw_val, text = body.get("val"), body.get("text")
    index = None if isinstance(raw_val, bool) else _integer(raw_val)
    value: int | None
    if index is not None:
        value = index * 10 if field == "charge" else index
        shown = f"val {index}"
    elif isinstance(text, str):
        value = _from_text(field, text)
        shown = f"text {text[:16]!r}"
        if value is None:
            return Rejected(f"{topic}: roller {shown} is not a {_unit(field)}")
    else:
        return Rejected(f"{topic}: roller changed without val or text")
    low, high = _RANGES[field]
    if not low <= value <= high:
        return Rejected(
            f"{topic}: roller {shown} gives {_unit(field)} {value}, outside {low}..{high}"
        )
    return RollerTouched(page, field, value)


_RANGES: dict[RollerField, tuple[int, int]] = {
    "end_hour": (0, 23),
    "end_quarter": (0, 3),
    "cycle_hours": (0, 23),
    "cycle_quarters": (0, 3),
    "charge": (0, 100),
}


def _unit(field: RollerField) -> str:
    return {"charge": "percent", "end_quarter": "quarter", "cycle_quarters": "quarter"}.get(
        field, "hour"
    )


def _from_text(field: RollerField, text: str) -> int | None:
    """`"14h"` -> 14, `"45"` (minutes) -> quarter 3, `"40%"` -> 40; None if not a number."""
    match = _LEADING_NUMBER.match(text)
    if match is None:
        return None
    number = int(match.group(1))
    if field in ("end_quarter", "cycle_quarters"):
        return number // 15 if number % 15 == 0 else -1  # minutes off the quarter: out of range
    return number


def _integer(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,6}\s*", value):
        return int(value)
    return None


def _short(payload: bytes) -> str:
    return repr(payload[:40].decode("utf-8", "replace"))


def _short_value(value: object) -> str:
    return repr(value)[:40]


# --- touches -> database updates ----------------------------------------------------------------


def apply_touch(
    touch: SwitchTouched | RollerTouched,
    household: Household,
    layout: ScreensConfig,
    now: float,
    tz: ZoneInfo,
) -> ScreenUpdate | Rejected:
    """The update a touch asks for, checked against the equipment it designates."""
    page = layout.page_numbered(touch.page)
    equipment = equipment_for_page(page, household) if page is not None else None
    if page is None or equipment is None:
        return Rejected(f"page {touch.page}: the household has no equipment for it")
    if isinstance(touch, SwitchTouched):
        if equipment.mode not in (Mode.MANUEL, Mode.PILOTE):
            return Rejected(
                f"equipment {equipment.id}: mode {equipment.mode} is not changed from a screen"
            )
        deadline = None
        column = equipment.deadline_column
        if touch.piloted and column is not None and equipment.deadline:
            rolled = roll_forward(equipment.deadline, now, tz)
            deadline = rolled if rolled != equipment.deadline else None
        return _checked(
            ScreenUpdate(
                equipment.id,
                mode=Mode.PILOTE if touch.piloted else Mode.MANUEL,
                deadline=deadline,
                deadline_column=column if deadline is not None else None,
            ),
            now,
        )
    field, value = touch.field, touch.value
    if field in ("end_hour", "end_quarter"):
        column = equipment.deadline_column
        if column is None:
            return Rejected(f"equipment {equipment.id}: type {equipment.type_id} has no end time")
        hour, quarter = hour_quarter(equipment.deadline, tz) if equipment.deadline else (0, 0)
        if field == "end_hour":
            hour = value
        else:
            quarter = value
        deadline = next_occurrence(time(hour, quarter * 15), now, tz)
        return _checked(ScreenUpdate(equipment.id, deadline=deadline, deadline_column=column), now)
    if field == "charge":
        if equipment.type_id not in VEHICLE_TYPES:
            return Rejected(f"equipment {equipment.id}: type {equipment.type_id} has no charge")
        return _checked(ScreenUpdate(equipment.id, charge_percent=value), now)
    if not equipment.cycle_s:
        return Rejected(f"equipment {equipment.id}: no cycle duration to change")
    old = equipment.cycle_s
    if field == "cycle_hours":
        cycle = value * 3600 + old % 3600
    else:
        cycle = min(old // 3600, 23) * 3600 + value * 900
    if cycle == 0:
        return Rejected(f"equipment {equipment.id}: a cycle duration of 0 is refused")
    return _checked(ScreenUpdate(equipment.id, cycle_s=cycle), now)


def _checked(update: ScreenUpdate, now: float) -> ScreenUpdate | Rejected:
    """The last line of defence: nothing out of the columns' ranges reaches the database."""
    if update.mode is not None and update.mode not in (Mode.MANUEL, Mode.PILOTE):
        return Rejected(f"equipment {update.equipment}: mode {update.mode} out of range")
    if update.deadline is not None and not (now < update.deadline <= MAX_EPOCH):
        return Rejected(f"equipment {update.equipment}: deadline {update.deadline} out of range")
    if update.cycle_s is not None and not 0 < update.cycle_s <= MAX_CYCLE_S:
        return Rejected(f"equipment {update.equipment}: cycle {update.cycle_s} s out of range")
    if update.charge_percent is not None and not 0 <= update.charge_percent <= 100:
        return Rejected(
            f"equipment {update.equipment}: charge {update.charge_percent} % out of range"
        )
    return update
