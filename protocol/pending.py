"""The database writes still to be written, as kept in the state directory, pure.

While the coordination database cannot be reached, the DbGateway's queue (`protocol/batching.py`
`WriteQueue`) and the batch on its way are saved in `<state_dir>/pending-writes.json` (partition
k: `pending-writes-<k>.json`), so that a restart or a crash during an outage loses nothing; at
start-up the file is put back in front of the queue, so these writes go before any newer one.

- `pending(in_flight, queue)`: everything not yet written, in the order it must be written.
- `encode` / `decode`: the file (versioned JSON); a damaged file is named, never a crash.
- `bound(transitions, limit)`: the bound of the queue. Past `limit` transitions, the transitions
  of each equipment are merged into one (the last value of every column, at the place of its
  last transition): the rows end as they would have, only the intermediate states are skipped
  (the event journal keeps their reasons). Only if more than `limit` equipment each wait for a
  transition are the oldest dropped. Both are counted; the gateway says it in one error line.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from protocol.batching import STATE_FIELDS, WriteQueue
from protocol.messages import (
    Declaration,
    DeviceTelemetry,
    Event,
    WriteBatch,
    WriteObserved,
    WriteState,
)

FORMAT = "elfe-pending-writes"
VERSION = 1
MAX_QUEUED_TRANSITIONS = 50_000  # about 8 MB on disk; hours of an outage for 10 000 equipment


class PendingFile(msgspec.Struct, frozen=True):
    format: str
    version: int
    saved_at: float
    transitions: tuple[WriteState, ...] = ()
    observed: tuple[WriteObserved, ...] = ()
    telemetry: tuple[DeviceTelemetry, ...] = ()
    events: tuple[Event, ...] = ()
    declarations: tuple[Declaration, ...] = ()  # absent from files of earlier versions


def pending(in_flight: WriteBatch | None, queue: WriteQueue) -> WriteBatch:
    """What is not written yet: the batch on its way first, then the queue (newer coalesced
    values win), without taking anything from the queue."""
    first = in_flight or WriteBatch()
    observed = {o.equipment: o for o in first.observed} | dict(queue.observed)
    telemetry = {t.device: t for t in first.telemetry} | dict(queue.telemetry)
    return WriteBatch(
        transitions=(*first.transitions, *queue.transitions),
        observed=tuple(observed.values()),
        telemetry=tuple(telemetry.values()),
        events=(*first.events, *queue.events),
        declarations=(*first.declarations, *queue.declarations),
    )


def encode(batch: WriteBatch, now: float) -> bytes:
    return msgspec.json.encode(
        PendingFile(
            format=FORMAT,
            version=VERSION,
            saved_at=now,
            transitions=batch.transitions,
            observed=batch.observed,
            telemetry=batch.telemetry,
            events=batch.events,
            declarations=batch.declarations,
        )
    )


def decode(data: bytes) -> WriteBatch | str:
    """The batch kept in the file, or why it cannot be used."""
    try:
        kept = msgspec.json.decode(data, type=PendingFile)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return f"not a pending-writes file: {exc}"
    if kept.format != FORMAT or kept.version != VERSION:
        return f"unknown format {kept.format!r} version {kept.version}"
    return WriteBatch(
        transitions=kept.transitions,
        observed=kept.observed,
        telemetry=kept.telemetry,
        events=kept.events,
        declarations=kept.declarations,
    )


def merge(writes: Iterable[WriteState]) -> WriteState:
    """Consecutive transitions of one equipment as one: the last value of every column."""
    merged: WriteState | None = None
    count = 0
    for write in writes:
        count += 1
        if merged is None:
            merged = write
            continue
        changed = {f: getattr(write, f) for f in STATE_FIELDS if getattr(write, f) is not None}
        merged = msgspec.structs.replace(merged, at=write.at, reason=write.reason, **changed)
    assert merged is not None, "merge of no transition"
    if count > 1:
        merged = msgspec.structs.replace(merged, reason=f"{merged.reason} ({count} merged)")
    return merged


def bound(
    transitions: Iterable[WriteState], limit: int = MAX_QUEUED_TRANSITIONS
) -> tuple[list[WriteState], int, int]:
    """(transitions within `limit`, how many were merged away, how many were dropped)."""
    writes = list(transitions)
    if len(writes) <= limit:
        return writes, 0, 0
    groups = by_equipment(writes)
    last = {id(group[-1]): equipment for equipment, group in groups.items()}
    merged = [merge(groups[last[id(w)]]) for w in writes if id(w) in last]
    kept = merged[-limit:]
    return kept, len(writes) - len(merged), len(merged) - len(kept)


def by_equipment(transitions: Iterable[WriteState]) -> dict[int, list[WriteState]]:
    """Equipment id -> its transitions in order (what `batching.overlay` applies to a row)."""
    grouped: dict[int, list[WriteState]] = {}
    for write in transitions:
        grouped.setdefault(write.equipment, []).append(write)
    return grouped
