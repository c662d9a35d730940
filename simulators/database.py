"""A simulated ELFE site's databases, for the demo, the tests and the benchmark: the coordination
schema v6.3 with the sample household and the EMS tables (`deploy/sql/`), and plans appended to
`result` the way the EMS writes them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from protocol.ems import SLOT_SECONDS, SLOTS

SQL_DIR = Path(__file__).resolve().parents[1] / "deploy" / "sql"
SAMPLE_SITE = ("coordination_v6_3.sql", "sample_household.sql", "ems_result.sql")

_COLUMNS = sql.SQL(", ").join(sql.Identifier(f"decisions_{i}") for i in range(SLOTS))
_INSERT_PLAN = sql.SQL(
    "INSERT INTO result (first_valid_timestamp, machine_id, result_type, machine_type, {})"
    " VALUES (%s, %s, 0, %s, {}) RETURNING id"
).format(_COLUMNS, sql.SQL(", ").join(sql.Placeholder() * SLOTS))


def load(dsn: str, files: Sequence[str] = SAMPLE_SITE) -> None:
    """Run SQL files of deploy/sql into a database, each in its own session (search_path)."""
    for name in files:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute((SQL_DIR / name).read_text(encoding="utf-8"))


def write_plan(
    dsn: str,
    machine: int,
    decisions: Sequence[int],
    machine_type: int,
    first_valid: int | None = None,
) -> int:
    """Append one plan row (missing decisions are 0); it starts at the current quarter hour by
    default. Returns the row id."""
    start = (
        first_valid if first_valid is not None else int(time.time()) // SLOT_SECONDS * SLOT_SECONDS
    )
    values = (list(decisions) + [0] * SLOTS)[:SLOTS]
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(_INSERT_PLAN, (start, machine, machine_type, *values)).fetchone()
    assert row is not None
    return int(row[0])
