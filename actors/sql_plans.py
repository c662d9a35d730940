"""SQL of the EMS plans (table `result`): parameterised, identifiers quoted by psycopg.sql."""

from __future__ import annotations

import psycopg
from psycopg import sql

from actors.sql import qualified
from protocol.ems import SLOTS, Plan, PlanError, plan_from_row

_DECISIONS = sql.SQL(", ").join(sql.Identifier(f"decisions_{i}") for i in range(SLOTS))


def load_current_plans(
    conn: psycopg.Connection, table_name: str, machines: list[int], now: int
) -> tuple[list[Plan], list[str]]:
    """The applicable plan of each machine at `now` and every plan that starts later."""
    query = sql.SQL(
        "(SELECT DISTINCT ON (machine_id) id, first_valid_timestamp, machine_id, {d} FROM {t}"
        " WHERE machine_id = ANY(%(m)s) AND first_valid_timestamp <= %(now)s"
        " AND first_valid_timestamp > %(now)s - 86400"
        " ORDER BY machine_id, first_valid_timestamp DESC, id DESC)"
        " UNION ALL"
        " (SELECT id, first_valid_timestamp, machine_id, {d} FROM {t}"
        " WHERE machine_id = ANY(%(m)s) AND first_valid_timestamp > %(now)s)"
    ).format(d=_DECISIONS, t=qualified(table_name))
    return _plans(conn.execute(query, {"m": machines, "now": now}).fetchall())


def load_new_plans(
    conn: psycopg.Connection, table_name: str, machines: list[int], after_id: int, now: int
) -> tuple[list[Plan], list[str]]:
    """Rows appended since `after_id` (the table is append-only; its id is the primary key)."""
    query = sql.SQL(
        "SELECT id, first_valid_timestamp, machine_id, {d} FROM {t}"
        " WHERE id > %(after)s AND machine_id = ANY(%(m)s)"
        " AND first_valid_timestamp > %(now)s - 86400"
    ).format(d=_DECISIONS, t=qualified(table_name))
    return _plans(conn.execute(query, {"m": machines, "after": after_id, "now": now}).fetchall())


def max_plan_id(conn: psycopg.Connection, table_name: str) -> int:
    row = conn.execute(
        sql.SQL("SELECT coalesce(max(id), 0) FROM {}").format(qualified(table_name))
    ).fetchone()
    return int(row[0]) if row else 0


def _plans(rows: list[tuple]) -> tuple[list[Plan], list[str]]:  # type: ignore[type-arg]
    plans, problems = [], []
    for row in rows:
        try:
            plans.append(plan_from_row(row))
        except PlanError as exc:
            problems.append(str(exc))
    return plans, problems
