"""SQL of the supervisor's own schema (latest device facts, event journal): its migrations are
idempotent and run when the tables are missing."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

from protocol.messages import DeviceTelemetry, Event

OWN_TABLES = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.device_state (
    device_id text PRIMARY KEY,
    equipment_id integer NOT NULL,
    relay_on boolean,
    power_w double precision,
    energy_wh double precision,
    temperature_c double precision,
    battery integer,
    online boolean,
    last_seen integer,
    updated_at integer NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.event (
    id bigserial PRIMARY KEY,
    equipment_id integer NOT NULL,
    at integer NOT NULL,
    from_state integer,
    to_state integer,
    reason text NOT NULL
);
CREATE INDEX IF NOT EXISTS event_equipment_at ON {schema}.event (equipment_id, at);
CREATE TABLE IF NOT EXISTS {schema}.relay_change (
    device_id text PRIMARY KEY,
    equipment_id integer NOT NULL,
    relay_on boolean NOT NULL,
    changed_at integer NOT NULL
)
"""


def ensure_own_schema(conn: psycopg.Connection, schema: str) -> None:
    """The supervisor's own tables (its migrations: idempotent, created when missing).

    An existing schema is not created again: `CREATE SCHEMA IF NOT EXISTS` needs CREATE on the
    whole database even when the schema exists, and roles.sql grants CREATE on the schema only.
    Partitions starting together take turns: two concurrent `CREATE ... IF NOT EXISTS` of the
    same schema make one of them fail on a unique index.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"elfe own schema {schema}",))
        exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        for statement in OWN_TABLES.split(";"):
            if not statement.strip() or (exists and "CREATE SCHEMA" in statement):
                continue
            conn.execute(sql.SQL(statement).format(schema=sql.Identifier(schema)))


DEVICE_STATE = (
    ("device_id", "text"),
    ("equipment_id", "integer"),
    ("relay_on", "boolean"),
    ("power_w", "float8"),
    ("energy_wh", "float8"),
    ("temperature_c", "float8"),
    ("battery", "integer"),
    ("online", "boolean"),
    ("last_seen", "integer"),
    ("updated_at", "integer"),
)
RELAY_CHANGE = (
    ("device_id", "text"),
    ("equipment_id", "integer"),
    ("relay_on", "boolean"),
    ("changed_at", "integer"),
)


def write_telemetry(conn: psycopg.Connection, schema: str, rows: Iterable[DeviceTelemetry]) -> None:
    """The latest facts of each device (the last one wins)."""
    latest = {t.device: t for t in rows}.values()
    values = [
        (
            t.device,
            t.equipment,
            t.relay_on,
            _real(t.power_w),
            _real(t.energy_wh),
            _real(t.temperature_c),
            t.battery,
            t.online,
            t.last_seen,
            t.at,
        )
        for t in latest
    ]
    _upsert(conn, schema, "device_state", DEVICE_STATE, values)


def write_relay_changes(
    conn: psycopg.Connection, schema: str, rows: Iterable[DeviceTelemetry]
) -> None:
    """The last confirmed change of each switch, read back at start-up (`load_relays`)."""
    changes = {
        t.device: (t.device, t.equipment, t.relay_on, t.relay_changed_at)
        for t in rows
        if t.relay_changed_at is not None and t.relay_on is not None
    }
    _upsert(conn, schema, "relay_change", RELAY_CHANGE, list(changes.values()))


def _upsert(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    columns: tuple[tuple[str, str], ...],
    rows: list[tuple[object, ...]],
) -> None:
    """Rows keyed by their first column (each key once), inserted or updated in one statement
    from one array per column: thousands of rows cost little Python."""
    if not rows:
        return
    names = [sql.Identifier(name) for name, _ in columns]
    query = sql.SQL(
        "INSERT INTO {}.{} ({}) SELECT * FROM unnest({}) ON CONFLICT ({}) DO UPDATE SET {}"
    ).format(
        sql.Identifier(schema),
        sql.Identifier(table),
        sql.SQL(", ").join(names),
        sql.SQL(", ").join(sql.SQL(f"%s::{kind}[]") for _, kind in columns),  # type: ignore[arg-type]
        names[0],
        sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(name) for name in names[1:]),
    )
    conn.execute(query, [list(column) for column in zip(*rows, strict=True)])


def _real(value: float | None) -> float | None:
    """One element type per array: a power of 2000 arrives as an int."""
    return None if value is None else float(value)


def load_relays(
    conn: psycopg.Connection, schema: str
) -> dict[int, tuple[tuple[str, bool, int], ...]]:
    """Equipment id -> (device, relay on, time of its last confirmed change) of its switches."""
    query = sql.SQL(
        "SELECT equipment_id, device_id, relay_on, changed_at FROM {}.relay_change"
        " ORDER BY device_id"
    ).format(sql.Identifier(schema))
    relays: dict[int, tuple[tuple[str, bool, int], ...]] = {}
    for equipment, device, relay_on, changed_at in conn.execute(query):
        relays[equipment] = (*relays.get(equipment, ()), (device, relay_on, changed_at))
    return relays


def write_events(conn: psycopg.Connection, schema: str, events: Iterable[Event]) -> None:
    """The journal, appended with COPY: thousands of lines per EMS run cost little Python."""
    events = list(events)
    if not events:
        return
    query = sql.SQL(
        "COPY {}.event (equipment_id, at, from_state, to_state, reason) FROM STDIN"
    ).format(sql.Identifier(schema))
    with conn.cursor() as cursor, cursor.copy(query) as copy:
        for e in events:
            copy.write_row((e.equipment, int(e.at), e.from_state, e.to_state, e.reason[:500]))


def prune_events(conn: psycopg.Connection, schema: str, before: int) -> int:
    query = sql.SQL("DELETE FROM {}.event WHERE at < %s").format(sql.Identifier(schema))
    return conn.execute(query, (before,)).rowcount
