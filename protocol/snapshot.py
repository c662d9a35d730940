"""The snapshot format (`elfe-snapshot`, version 1): the database rows a replay starts from.

One JSON document:

    {"format": "elfe-snapshot", "version": 1, "taken_at": 1764921600.0,
     "schema": "bdd_coordination_schema", "ems_table": "result",
     "tables": {"equipement_pilote_ou_mesure": {"columns": ["id", ...], "rows": [[12, ...]]},
                ...},
     "result": {"columns": ["id", "first_valid_timestamp", "machine_id", ...], "rows": [...]}}

`tables` holds the coordination tables the supervisor reads (equipment, their type-specific rows,
devices, device types and the detail table of every type in use), every row, in `id` order;
`result` the EMS rows that may still apply at `taken_at` (less than 24 h old, or later). Values
are JSON scalars (numeric columns as numbers). Pure: building and checking the document.
"""

from __future__ import annotations

import base64
import math
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import msgspec

FORMAT = "elfe-snapshot"
VERSION = 1

Scalar = int | float | str | bool | None


class Table(msgspec.Struct):
    columns: list[str]
    rows: list[list[Scalar]]

    def records(self) -> list[dict[str, Scalar]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Snapshot(msgspec.Struct, kw_only=True):
    format: str
    version: int
    taken_at: float
    schema: str
    ems_table: str
    tables: dict[str, Table]
    result: Table


class SnapshotError(ValueError):
    """A snapshot that cannot be used; the message says why."""


def scalar(value: Any) -> Scalar:
    """A database value as a JSON scalar (numeric -> number, dates -> ISO text, bytes -> base64)."""
    if value is None or isinstance(value, bool | int | str):
        return value  # type: ignore[no-any-return]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def table(columns: list[str], rows: list[tuple[Any, ...]]) -> Table:
    return Table(columns=list(columns), rows=[[scalar(v) for v in row] for row in rows])


def encode(snapshot: Snapshot) -> bytes:
    """Indented and key-ordered, so that a snapshot under version control diffs well."""
    return msgspec.json.format(msgspec.json.encode(snapshot), indent=1) + b"\n"


def decode(data: bytes) -> Snapshot:
    """Raises SnapshotError with one line naming the problem."""
    try:
        snapshot = msgspec.json.decode(data, type=Snapshot)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SnapshotError(f"not an elfe-snapshot: {exc}") from None
    if snapshot.format != FORMAT:
        raise SnapshotError(f"format is {snapshot.format!r}, expected {FORMAT!r}")
    if snapshot.version != VERSION:
        raise SnapshotError(f"version {snapshot.version} is not supported (this program reads 1)")
    for name, content in [*snapshot.tables.items(), ("result", snapshot.result)]:
        width = len(content.columns)
        for number, row in enumerate(content.rows, start=1):
            if len(row) != width:
                raise SnapshotError(
                    f"table {name}: row {number} has {len(row)} values for {width} columns"
                )
    return snapshot
