"""What the household guards need from the type-specific rows of the equipment (machine, vehicle,
tank, heating, regulated heating), decoded from the columns `actors/sql.py` reads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from protocol.model import ComfortSettings, EquipmentDetails


def equipment_details(rows: Iterable[tuple[str, tuple[Any, ...]]]) -> dict[int, EquipmentDetails]:
    """(kind, (equipment id, *columns)) rows -> the details of each equipment; the first row of
    an equipment wins (the schema has no UNIQUE on the specific tables)."""
    found: dict[int, dict[str, object]] = {}
    for kind, row in rows:
        fields = found.setdefault(row[0], {})
        if "kind" in fields:
            continue  # a second specific row for the same equipment: the first one wins
        fields["kind"] = kind
        fields.update(details_of(kind, row[1:]))
    return {
        equipment: EquipmentDetails(**{k: v for k, v in fields.items() if k != "kind"})
        for equipment, fields in found.items()
    }


def details_of(kind: str, values: tuple[Any, ...]) -> dict[str, object]:
    """The EquipmentDetails fields of one specific row (its columns after the equipment id)."""
    if kind == "machine":
        deadline, cycle = values
        return {"deadline": deadline or None, "cycle_s": cycle or None}
    if kind == "vehicle":
        deadline, duration, power = values
        return {
            "deadline": deadline or None,
            "cycle_s": duration or None,
            "rated_power_w": float(power) if power else None,
        }
    if kind in ("tank", "heating"):
        return {"rated_power_w": float(values[0]) if values[0] else None}
    power, eco, comfort, delta, *periods = values
    weekday = active_periods(periods[:6])
    weekend = active_periods(periods[6:])
    return {
        "rated_power_w": float(power) if power else None,
        "comfort": ComfortSettings(
            eco_dk=eco, comfort_dk=comfort, delta_dk=delta, weekday=weekday, weekend=weekend
        ),
    }


def active_periods(values: list[object]) -> tuple[tuple[int, int], ...]:
    """(active, start, end) x 2 -> the active periods."""
    pairs = []
    for i in range(0, len(values), 3):
        active, begin, end = values[i : i + 3]
        if active and isinstance(begin, int) and isinstance(end, int) and end > begin:
            pairs.append((begin, end))
    return tuple(pairs)
