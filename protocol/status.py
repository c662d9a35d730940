"""The supervisor's own availability document, published retained on `<base>/status`.

With partitions each partition publishes its own on `<base>/status/<k>` and the combined document
(`combine`) goes to `<base>/status`: "online" when every partition is online, "degraded" when
some are down (their numbers listed in `down`, their equipment not counted), "offline" when none
is online.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from protocol.model import EquipmentRow, EquipmentSpec
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


def running_status(
    specs: Iterable[EquipmentSpec],
    equipment: int,
    started_at: int,
    system_base: str,
    plans: str,
    version: str,
) -> Status:
    """The status of a running supervisor with `equipment` actors for `specs`."""
    specs = list(specs)
    return Status(
        state="online",
        version=version,
        started_at=started_at,
        system_base=system_base,
        equipment=equipment,
        devices=sum(len(s.devices) for s in specs),
        faulty=sum(1 for s in specs if s.problem),
        plans=plans,
    )


def status_topic(base_topic: str, partition: Partition | None = None) -> str:
    """`<base>/status`, or `<base>/status/<k>` for partition k."""
    if partition is None:
        return f"{base_topic}/status"
    return f"{base_topic}/status/{partition.index}"


def encode(status: Status | CombinedStatus) -> bytes:
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


class PartitionStatus(msgspec.Struct, frozen=True):
    """A partition's document as read back from the broker (any field may be missing)."""

    state: str = "offline"
    version: str = ""
    started_at: int = 0
    system_base: str = ""
    equipment: int = 0
    devices: int = 0
    faulty: int = 0
    plans: str = "database"


class CombinedStatus(msgspec.Struct, frozen=True):
    state: str  # "online" | "degraded" | "offline"
    version: str
    started_at: int
    system_base: str
    equipment: int  # of the partitions online
    devices: int
    faulty: int
    plans: str
    partitions: int
    down: tuple[int, ...]  # partitions not online (dead, starting, or unheard of)


_partition_decoder = msgspec.json.Decoder(PartitionStatus)


def read_partition(payload: bytes | None) -> PartitionStatus | None:
    """A partition's status payload; None when absent or unreadable (counted as down)."""
    if not payload:
        return None
    try:
        return _partition_decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def combine(
    parts: Mapping[int, bytes | None],
    count: int,
    version: str,
    started_at: int,
    system_base: str,
) -> CombinedStatus:
    """The document of `count` partitions from their latest payloads (missing: down)."""
    online = {}
    for k in range(count):
        status = read_partition(parts.get(k))
        if status is not None and status.state == "online":
            online[k] = status
    down = tuple(k for k in range(count) if k not in online)
    state = "online" if not down else ("degraded" if online else "offline")
    cached = [s.plans for s in online.values() if s.plans != "database"]
    return CombinedStatus(
        state=state,
        version=version,
        started_at=started_at,
        system_base=system_base,
        equipment=sum(s.equipment for s in online.values()),
        devices=sum(s.devices for s in online.values()),
        faulty=sum(s.faulty for s in online.values()),
        plans=cached[0] if cached else "database",
        partitions=count,
        down=down,
    )


def partition_of_topic(topic: str, base_topic: str) -> int | None:
    """`<base>/status/<k>` -> k; None for any other topic."""
    prefix = f"{base_topic}/status/"
    index = topic[len(prefix) :] if topic.startswith(prefix) else ""
    return int(index) if index.isascii() and index.isdigit() and len(index) <= 4 else None
