"""The supervisor's own availability document, published retained on `<base>/status`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from protocol.model import EquipmentRow, EquipmentSpec

OFFLINE = b'{"state":"offline"}'


class Status(msgspec.Struct, frozen=True):
    state: str
    version: str
    started_at: int
    system_base: str
    equipment: int
    devices: int
    faulty: int
    plans: str = "database"  # or "cached until <local time>" during an EMS database outage


def status_topic(base_topic: str) -> str:
    return f"{base_topic}/status"


def encode(status: Status) -> bytes:
    return msgspec.json.encode(status)


def overview(
    status: Status, specs: Mapping[int, EquipmentSpec], rows: Mapping[int, EquipmentRow]
) -> dict[str, Any]:
    """The introspection overview: the status and one line per equipment."""
    return {
        "status": msgspec.to_builtins(status),
        "equipment": {
            e: {
                "name": s.name,
                "typology": s.typology,
                "type": s.type_id,
                "mode": rows[e].mode if e in rows else None,
                "problem": s.problem,
                "devices": [d.id for d in s.devices],
            }
            for e, s in sorted(specs.items())
        },
    }
