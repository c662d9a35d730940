"""Reading the site's databases for `snapshot` and `record`: whole coordination tables, the EMS
rows that may apply, and the changes between two reads."""

from __future__ import annotations

import time

import psycopg

from actors import sql, sql_plans
from protocol.config import Config
from protocol.inventory import detail_table
from protocol.snapshot import FORMAT, VERSION, Snapshot, Table, table


def connect(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


def read_coordination(conn: psycopg.Connection, schema: str) -> dict[str, Table]:
    """The tables the supervisor reads; a table that does not exist in this schema is left out."""
    present = sql.existing_tables(conn, schema)
    names = [n for n in sql.READ_TABLES if n in present]
    if "equipement_domotique" in present and "equipement_domotique_type" in present:
        for type_name in sql.device_type_names(conn, schema):
            name = detail_table(type_name)
            if name and name in present and name not in names:
                names.append(name)
    tables = {}
    for name in names:
        columns, rows = sql.read_table(conn, schema, name)
        tables[name] = table(columns, rows)
    return tables


def read_plans(conn: psycopg.Connection, ems_table: str, after_id: int, now: float) -> Table:
    columns, rows = sql_plans.read_plans(conn, ems_table, after_id, int(now))
    return table(columns, rows)


def take_snapshot(config: Config, now: float | None = None) -> Snapshot:
    """Raises psycopg.Error when a database cannot be read."""
    now = time.time() if now is None else now
    schema = config.coordination.schema
    with connect(config.coordination.dsn) as conn:
        tables = read_coordination(conn, schema)
    with connect(config.ems_dsn) as conn:
        result = read_plans(conn, config.ems.table, 0, now)
    return Snapshot(
        format=FORMAT,
        version=VERSION,
        taken_at=now,
        schema=schema,
        ems_table=config.ems.table,
        tables=tables,
        result=result,
    )
