"""Batching policies, pure: what the gateways gather before one send or one transaction.

- `ReportBatches`: the decoded reports of one socket read, one `DeviceReports` per actor.
- `WriteQueue`: the database writes waiting for the next transaction. Transitions keep their
  order (each one stays atomic inside the batch transaction), observed states are coalesced per
  equipment, telemetry per device, the event journal is bounded; the households' declarations
  made during an outage keep their order. A batch taken and not written
  (the database went away) is given back in front, in order, so nothing is lost or reordered.
- `same_column_runs`: consecutive transitions that set the same columns, written with one
  statement each run without changing the order of the writes of any equipment.
- `overlay`: a row read while transitions were still on their way, as it will be once they are
  written (the reads run on a worker thread while the actors go on).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import msgspec

from protocol.messages import (
    Declaration,
    DeviceReport,
    DeviceTelemetry,
    Event,
    RawMessage,
    WriteBatch,
    WriteObserved,
    WriteState,
)
from protocol.model import EquipmentRow

Write = WriteState | WriteObserved | DeviceTelemetry | Event | Declaration

MAX_TRANSITIONS = 2000  # transitions per transaction: bounds its duration (latency of the rest)
MAX_JOURNAL_BACKLOG = 10000  # events kept while the database is down (the oldest go first)

STATE_FIELDS = ("mode", "command_state", "consigne", "started_at", "programmed_at")


class ReportBatches:
    """Reports (or raw messages, for the screens) gathered during one read of the socket,
    grouped by the actor they go to."""

    def __init__(self) -> None:
        self._batches: dict[Hashable, tuple[Any, list[Any]]] = {}

    def add(self, key: Hashable, actor: Any, report: DeviceReport | RawMessage) -> None:
        self._batches.setdefault(key, (actor, []))[1].append(report)

    def drain(self) -> list[tuple[Any, tuple[Any, ...]]]:
        """Every (actor, its reports in arrival order), in the order actors were first seen."""
        out = [(actor, tuple(reports)) for actor, reports in self._batches.values()]
        self._batches.clear()
        return out


class WriteQueue:
    def __init__(
        self, max_transitions: int = MAX_TRANSITIONS, max_events: int = MAX_JOURNAL_BACKLOG
    ) -> None:
        self.max_transitions = max_transitions
        self.transitions: deque[WriteState] = deque()
        self.observed: dict[int, WriteObserved] = {}
        self.telemetry: dict[str, DeviceTelemetry] = {}
        self.events: deque[Event] = deque(maxlen=max_events)
        self.declarations: deque[Declaration] = deque()

    def add(self, write: Write) -> None:
        if isinstance(write, WriteState):
            self.transitions.append(write)
        elif isinstance(write, Declaration):
            self.declarations.append(write)
        elif isinstance(write, WriteObserved):
            self.observed[write.equipment] = write
        elif isinstance(write, DeviceTelemetry):
            self.telemetry[write.device] = write
        else:
            self.events.append(write)

    def empty(self) -> bool:
        return not (
            self.transitions or self.observed or self.telemetry or self.events or self.declarations
        )

    def take(self) -> WriteBatch:
        """The next batch: up to `max_transitions` transitions (oldest first) and, with the last
        of them, everything else that is queued."""
        count = min(len(self.transitions), self.max_transitions)
        transitions = tuple(self.transitions.popleft() for _ in range(count))
        if self.transitions:  # more transitions follow: the rest rides with the last batch
            return WriteBatch(transitions=transitions)
        batch = WriteBatch(
            transitions=transitions,
            observed=tuple(self.observed.values()),
            telemetry=tuple(self.telemetry.values()),
            events=tuple(self.events),
            declarations=tuple(self.declarations),
        )
        self.observed.clear()
        self.telemetry.clear()
        self.events.clear()
        self.declarations.clear()
        return batch

    def give_back(self, batch: WriteBatch) -> None:
        """A batch that was not written goes back in front; newer coalesced values win."""
        self.transitions.extendleft(reversed(batch.transitions))
        for observed in batch.observed:
            self.observed.setdefault(observed.equipment, observed)
        for telemetry in batch.telemetry:
            self.telemetry.setdefault(telemetry.device, telemetry)
        room = (self.events.maxlen or 0) - len(self.events)
        older = batch.events[-room:] if room > 0 else ()
        self.events.extendleft(reversed(older))
        self.declarations.extendleft(reversed(batch.declarations))

    def sizes(self) -> dict[str, int]:
        return {
            "queued_transitions": len(self.transitions),
            "queued_observed": len(self.observed),
            "queued_telemetry": len(self.telemetry),
            "queued_events": len(self.events),
            "queued_declarations": len(self.declarations),
        }


def columns_of(write: WriteState) -> tuple[str, ...]:
    """The state fields a transition sets (None leaves a column unchanged)."""
    return tuple(f for f in STATE_FIELDS if getattr(write, f) is not None)


def same_column_runs(
    writes: tuple[WriteState, ...],
) -> list[tuple[tuple[str, ...], list[WriteState]]]:
    """Split the ordered transitions into runs of consecutive ones that set the same columns."""
    runs: list[tuple[tuple[str, ...], list[WriteState]]] = []
    for write in writes:
        columns = columns_of(write)
        if runs and runs[-1][0] == columns:
            runs[-1][1].append(write)
        else:
            runs.append((columns, [write]))
    return runs


def overlay(row: EquipmentRow, later: Mapping[int, Iterable[WriteState]]) -> EquipmentRow:
    """The row as the database will hold it once the transitions made after it was read
    (`later`: equipment id -> its transitions, in order) are written: a read never undoes a
    transition that was still on its way."""
    for write in later.get(row.id, ()):
        changed = {f: getattr(write, f) for f in STATE_FIELDS if getattr(write, f) is not None}
        row = msgspec.structs.replace(row, **changed)
    return row
