"""The supervisor's own availability document, published retained on `<base>/status`."""

from __future__ import annotations

import msgspec

from protocol.partition import Partition

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


def status_topic(base_topic: str, partition: Partition | None = None) -> str:
    """`<base>/status`, or `<base>/status/<k>` for partition k."""
    if partition is None:
        return f"{base_topic}/status"
    return f"{base_topic}/status/{partition.index}"


def encode(status: Status) -> bytes:
    return msgspec.json.encode(status)
