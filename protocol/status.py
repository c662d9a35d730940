"""The supervisor's own availability document, published retained on `<base>/status`."""

from __future__ import annotations

import msgspec

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
