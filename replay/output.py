"""What a replay writes: one JSON line per effect of the supervisor, in the order it happened.

    {"time": "2025-12-05T07:00:05.000Z", "kind": "publish", "topic": "...", "payload": "on",
     "qos": 1, "retain": false}
    {"time": ..., "kind": "state", "equipment": 1, "columns": {"etat_commande_id": 21},
     "reason": "..."}
    {"time": ..., "kind": "event", "equipment": 1, "from": 11, "to": 21, "reason": "..."}
    {"time": ..., "kind": "declaration", "equipment": 1,
     "table": "equipement_pilote_machine_generique", "columns": {"timestamp_de_fin_souhaite": 1}}

`time` is the supervisor's clock (UTC, milliseconds); an event carries the time of its
transition, the other lines the time they left the supervisor. A payload that is not UTF-8 is
base64 with `"encoding": "base64"`. Keys are in a fixed order, so the same replay writes the
same bytes.
"""

from __future__ import annotations

import base64
import difflib
from typing import Any

import msgspec

from protocol.introspection import stamp
from replay.clock import VirtualClock

__all__ = ["Output", "diff", "stamp"]


class Output:
    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.lines: list[bytes] = []

    def publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, reason: str | None
    ) -> None:
        record: dict[str, Any] = {"time": stamp(self.clock.wall()), "kind": "publish"}
        record["topic"] = topic
        try:
            record["payload"] = payload.decode("utf-8")
        except UnicodeDecodeError:
            record["payload"] = base64.b64encode(payload).decode("ascii")
            record["encoding"] = "base64"
        record.update(qos=qos, retain=retain)
        if reason:
            record["reason"] = reason
        self._add(record)

    def write(self, kind: str, fields: dict[str, Any]) -> None:
        at = fields.pop("at", None)
        record = {"time": stamp(self.clock.wall() if at is None else at), "kind": kind, **fields}
        self._add(record)

    def _add(self, record: dict[str, Any]) -> None:
        self.lines.append(msgspec.json.encode(record) + b"\n")

    def data(self) -> bytes:
        return b"".join(self.lines)


def diff(expected: bytes, actual: bytes, expected_name: str, limit: int = 200) -> str:
    """A unified diff of two outputs, at most `limit` lines; empty when they are equal."""
    if expected == actual:
        return ""
    lines = list(
        difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(keepends=True),
            actual.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile=expected_name,
            tofile="replay",
            n=2,
        )
    )
    more = len(lines) - limit
    text = "".join(lines[:limit])
    return text + (f"... {more} more diff lines\n" if more > 0 else "")
