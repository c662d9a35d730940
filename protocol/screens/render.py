"""Household state + layout -> openHASP `jsonl` publishes (spec interfaces.md §3).

One JSON object per line, `page` an integer, several lines per publish, each publish at most
`max_publish_bytes` (the firmware cuts a payload after about 2 kB). A full refresh draws every
page that shows an equipment of the household, the summary LEDs and the connection label; an
incremental refresh draws the pages of the equipment that changed (and their summary LEDs).
A page shows the household's equipment of its types with the lowest id; pages whose types the
household does not have are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from protocol.config import ScreenPage, ScreensConfig
from protocol.screens.localtime import clock_text, hour_quarter
from protocol.screens.state import Household, ScreenEquipment

Line = dict[str, Any]
MAX_LABEL_CHARS = 80
HOURS_ROLLER_MAX = 23

_encoder = msgspec.json.Encoder()


def equipment_for_page(page: ScreenPage, household: Household) -> ScreenEquipment | None:
    shown = [e for e in household if e.type_id in page.types]
    return min(shown, key=lambda e: e.id) if shown else None


def led_colour(equipment: ScreenEquipment, layout: ScreensConfig) -> str:
    if equipment.in_error:
        return layout.error_color
    return layout.piloted_color if equipment.piloted else layout.manual_color


def label_text(equipment: ScreenEquipment, now: float, tz: ZoneInfo) -> str:
    """`Démarrage prévu 14:30` when the plan starts a piloted equipment later, else the reason
    of its last event (why it is on or off), else nothing."""
    if equipment.piloted and equipment.next_start is not None and equipment.next_start > now:
        return f"Démarrage prévu {clock_text(equipment.next_start, now, tz)}"
    reason = " ".join((equipment.reason or "").split())
    if len(reason) > MAX_LABEL_CHARS:
        reason = reason[: MAX_LABEL_CHARS - 1] + "…"
    return reason


def page_lines(
    page: ScreenPage, equipment: ScreenEquipment, layout: ScreensConfig, now: float, tz: ZoneInfo
) -> list[Line]:
    """The lines that draw one equipment on its page (and its LED on the summary page)."""
    p = page.page

    def line(object_id: int, **properties: Any) -> Line:
        return {"page": p, "id": object_id, **properties}

    colour = led_colour(equipment, layout)
    lines: list[Line] = []
    if page.led is not None:
        lines.append(line(page.led, bg_color=colour))
    if page.switch is not None:
        lines.append(line(page.switch, val=1 if equipment.piloted else 0))
    if page.end_hour is not None and page.end_quarter is not None and equipment.deadline:
        hour, quarter = hour_quarter(equipment.deadline, tz)
        lines += [line(page.end_hour, val=hour), line(page.end_quarter, val=quarter)]
    if page.cycle_hours is not None and page.cycle_quarters is not None and equipment.cycle_s:
        hours = min(equipment.cycle_s // 3600, HOURS_ROLLER_MAX)
        quarters = (equipment.cycle_s % 3600) // 900
        lines += [line(page.cycle_hours, val=hours), line(page.cycle_quarters, val=quarters)]
    if page.charge is not None and equipment.charge_percent is not None:
        lines.append(line(page.charge, val=max(0, min(100, equipment.charge_percent)) // 10))
    if page.label is not None:
        lines.append(line(page.label, text=label_text(equipment, now, tz)))
    if layout.summary_page is not None and page.summary_led is not None:
        lines.append({"page": layout.summary_page, "id": page.summary_led, "bg_color": colour})
    return lines


def connection_lines(layout: ScreensConfig) -> list[Line]:
    if layout.connection_page is None:
        return []
    where = {"page": layout.connection_page, "id": layout.connection_label}
    return [
        {**where, "text": layout.connection_text},
        {**where, "text_color": layout.connection_color},
    ]


def full_refresh(
    household: Household, layout: ScreensConfig, now: float, tz: ZoneInfo
) -> list[bytes]:
    """Every page of the household: what a screen needs after a reboot."""
    lines: list[Line] = []
    for page in layout.pages:
        equipment = equipment_for_page(page, household)
        if equipment is not None:
            lines += page_lines(page, equipment, layout, now, tz)
    return pack(lines + connection_lines(layout), layout.max_publish_bytes)


def pages_refresh(
    household: Household,
    equipment_ids: Iterable[int],
    layout: ScreensConfig,
    now: float,
    tz: ZoneInfo,
) -> list[bytes]:
    """The pages that show any of `equipment_ids` (each page once, in layout order)."""
    wanted = set(equipment_ids)
    lines: list[Line] = []
    for page in layout.pages:
        equipment = equipment_for_page(page, household)
        if equipment is not None and equipment.id in wanted:
            lines += page_lines(page, equipment, layout, now, tz)
    return pack(lines, layout.max_publish_bytes)


def pack(lines: Iterable[Line], max_bytes: int) -> list[bytes]:
    """JSON lines joined into as few publishes as fit in `max_bytes` each."""
    publishes: list[bytes] = []
    current = b""
    for item in lines:
        encoded = _encoder.encode(item)
        if current and len(current) + 1 + len(encoded) > max_bytes:
            publishes.append(current)
            current = b""
        current = current + b"\n" + encoded if current else encoded
    if current:
        publishes.append(current)
    return publishes
