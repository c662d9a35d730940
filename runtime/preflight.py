"""`check-config --online`: connect to both databases and the broker as the daemon would, check
credentials, grants and the schema, list what would be driven and every problem.

Nothing is written anywhere: the databases are read in read-only transactions, and the MQTT
check connects with its own client id (never the daemon's, whose session it would take over)
and a clean session, subscribes to the stimulus topics and disconnects.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from actors import sql
from protocol.config import Config
from protocol.ems import SLOTS
from protocol.failures import Failure, Kind, classify_connack, classify_exception
from protocol.inventory import attach_details, build_inventory
from protocol.preflight import Catalogue, grant_problems, inventory_lines, schema_problems
from protocol.stimulus import VIRIYA_FILTER, operator_filter
from runtime.secrets import (
    SecretError,
    coordination_dsn,
    dsn_has_password,
    ems_dsn,
    mqtt_password,
    redact_dsn,
)

# What the daemon reads in the coordination schema (actors/sql.py), and what it writes.
COORDINATION_READ: dict[str, tuple[str, ...]] = {
    sql.EQUIPMENT: tuple(c.strip() for c in sql._EQUIPMENT_COLUMNS.split(",")),
    "equipement_domotique": (
        "id",
        "equipement_pilote_ou_mesure_id",
        "equipement_domotique_type_id",
        "equipement_domotique_usage_id",
        "id_materiel",
        "utilisateur",
        "utilisateur_affecte",
        "equipement_domotique_specifique_id",
    ),
    "equipement_domotique_type": ("id", "nom"),
}
COORDINATION_UPDATE: dict[str, tuple[str, ...]] = {
    sql.EQUIPMENT: (*sql.STATE_COLUMNS.values(), "etat_controle_id"),
}
EMS_READ = ("id", "first_valid_timestamp", "machine_id", *(f"decisions_{i}" for i in range(SLOTS)))


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)  # what was found
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # permanent: waiting will not fix them
    unreachable: list[str] = field(default_factory=list)  # transient: a server is down

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unreachable

    def failed(self, failure: Failure, line: str | None = None) -> None:
        target = self.problems if failure.permanent else self.unreachable
        target.append(line or failure.line())


def check_online(
    config: Config,
    environ: Mapping[str, str] | None = None,
    timeout: float = 5.0,
    inventory: bool = True,
) -> Report:
    """Every check; `inventory=False` skips the listing of what would be driven (the daemon's
    start-up check, which only looks for permanent errors)."""
    env = os.environ if environ is None else environ
    report = Report()
    _check_coordination(config, env, timeout, report, inventory)
    _check_ems(config, env, timeout, report)
    _check_mqtt(config, env, timeout, report)
    return report


def _connect(dsn: str, timeout: float) -> psycopg.Connection:
    conn = psycopg.connect(dsn, connect_timeout=max(int(timeout), 1))
    conn.read_only = True
    return conn


def _check_coordination(
    config: Config, env: Mapping[str, str], timeout: float, report: Report, inventory: bool
) -> None:
    key, dsn, schema = "coordination.dsn", coordination_dsn(config, env), config.coordination.schema
    for variable in ("ELFE_COORDINATION_DSN", "ELFE_EMS_DSN"):
        if dsn_has_password(env.get(variable, "")):
            report.warnings.append(
                f"{variable} holds a password; use a passfile instead (see deploy/README.md)"
            )
    try:
        with _connect(dsn, timeout) as conn:
            role = _role(conn)
            report.lines.append(f"coordination database: {redact_dsn(dsn)} as {role}: connected")
            catalogue = _catalogue(conn, schema, COORDINATION_READ, COORDINATION_UPDATE)
            problems = schema_problems(catalogue, COORDINATION_READ, "coordination.schema")
            problems += grant_problems(catalogue, COORDINATION_READ, COORDINATION_UPDATE, role, key)
            report.problems.extend(problems)
            _check_own_schema(conn, config, role, report)
            if not problems and inventory:
                _list_inventory(conn, config, report)
    except psycopg.Error as exc:
        report.failed(classify_exception(exc, key))


def _check_ems(config: Config, env: Mapping[str, str], timeout: float, report: Report) -> None:
    key = "ems.dsn" if config.ems.dsn else "coordination.dsn"
    schema, _, table = config.ems.table.rpartition(".")
    try:
        dsn = ems_dsn(config, env)
        with _connect(dsn, timeout) as conn:
            role = _role(conn)
            if not schema:
                schema = _first_in_search_path(conn, table) or "public"
            catalogue = _catalogue(conn, schema, {table: EMS_READ}, {})
            problems = schema_problems(catalogue, {table: EMS_READ}, "ems.table")
            problems += grant_problems(catalogue, [table], {}, role, key)
            report.problems.extend(problems)
            if not problems:
                count = conn.execute(
                    psycopg.sql.SQL("SELECT count(*), max(first_valid_timestamp) FROM {}").format(
                        sql.qualified(f"{schema}.{table}")
                    )
                ).fetchone()
                assert count is not None
                report.lines.append(
                    f"EMS plans: {schema}.{table} in {redact_dsn(dsn)} as {role}: "
                    f"{count[0]} rows, latest first_valid_timestamp {count[1]}"
                )
    except psycopg.Error as exc:
        report.failed(classify_exception(exc, key))


def _role(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_user").fetchone()
    return str(row[0]) if row else "?"


def _first_in_search_path(conn: psycopg.Connection, table: str) -> str | None:
    row = conn.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = %s AND n.nspname = ANY(current_schemas(false))"
        " ORDER BY array_position(current_schemas(false), n.nspname) LIMIT 1",
        (table,),
    ).fetchone()
    return str(row[0]) if row else None


def _catalogue(
    conn: psycopg.Connection,
    schema: str,
    read: Mapping[str, tuple[str, ...]],
    update: Mapping[str, tuple[str, ...]],
) -> Catalogue:
    # pg_catalog, not information_schema: the latter hides what the role may not read
    rows = conn.execute(
        "SELECT c.relname, a.attname FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
        " AND a.attnum > 0 AND NOT a.attisdropped",
        (schema, list(read)),
    ).fetchall()
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    select = {
        table: bool(
            conn.execute(
                "SELECT has_table_privilege(format('%%I.%%I', %s::text, %s::text), 'SELECT')",
                (schema, table),
            ).fetchone()[0]  # type: ignore[index]
        )
        for table in columns
    }
    granted: dict[str, dict[str, bool]] = {}
    for table, wanted in update.items():
        for column in wanted:
            if column in columns.get(table, ()):
                row = conn.execute(
                    "SELECT has_column_privilege(format('%%I.%%I', %s::text, %s::text), %s,"
                    " 'UPDATE')",
                    (schema, table, column),
                ).fetchone()
                granted.setdefault(table, {})[column] = bool(row and row[0])
    return Catalogue(
        schema=schema,
        columns={t: frozenset(c) for t, c in columns.items()},
        select=select,
        update=granted,
    )


def _check_own_schema(conn: psycopg.Connection, config: Config, role: str, report: Report) -> None:
    own = config.coordination.own_schema
    if not own:
        return
    row = conn.execute(
        "SELECT has_schema_privilege(%s, 'USAGE') AND has_schema_privilege(%s, 'CREATE')"
        " FROM pg_namespace WHERE nspname = %s",
        (own, own, own),
    ).fetchone()
    if row is None:
        can = conn.execute("SELECT has_database_privilege(current_database(), 'CREATE')").fetchone()
        if not (can and can[0]):
            report.warnings.append(
                f"coordination.own_schema: schema {own} does not exist and role {role} may not "
                "create it: no telemetry nor journal (create it, deploy/sql/roles.sql)"
            )
    elif not row[0]:
        report.warnings.append(
            f"coordination.own_schema: role {role} has no USAGE and CREATE on schema {own}: "
            "no telemetry nor journal (deploy/sql/roles.sql)"
        )


def _list_inventory(conn: psycopg.Connection, config: Config, report: Report) -> None:
    schema = config.coordination.schema
    rows = sql.load_equipment(conn, schema)
    devices = sql.load_devices(conn, schema)
    details = sql.load_details(conn, schema, [d.type_name for d in devices if d.type_name])
    specs = build_inventory(rows, attach_details(devices, details), config)
    faulty = sum(1 for s in specs if s.problem)
    report.lines.append(
        f"inventory: {len(specs)} equipment to drive ({faulty} that cannot be driven), "
        f"{len(devices)} devices"
    )
    report.lines.extend("  " + line for line in inventory_lines(specs))


def _check_mqtt(config: Config, env: Mapping[str, str], timeout: float, report: Report) -> None:
    m = config.mqtt
    where = f"MQTT broker {m.host}:{m.port}"
    try:
        password = mqtt_password(m, env)
    except SecretError as exc:
        report.problems.append(str(exc))
        return
    v5 = m.protocol == "5"
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"{m.client_id}-check-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    if m.username:
        client.username_pw_set(m.username, password)
    result: dict[str, Any] = {}
    done = threading.Event()
    topics = [operator_filter(m.base_topic), VIRIYA_FILTER]

    def on_connect(c: mqtt.Client, u: Any, flags: Any, reason: Any, props: Any) -> None:
        result["connack"] = reason.value
        if reason.is_failure:
            done.set()
        else:
            c.subscribe([(t, 1) for t in topics])

    def on_subscribe(c: mqtt.Client, u: Any, mid: int, reasons: Any, props: Any) -> None:
        result["suback"] = [r.value for r in reasons]
        done.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    if m.ca_file:
        try:
            client.tls_set(ca_certs=m.ca_file)
        except (OSError, ValueError) as exc:
            failure = classify_exception(exc, "mqtt.ca_file")
            report.problems.append(f"mqtt.ca_file: {m.ca_file}: cannot be used ({failure.cause})")
            return
    try:
        properties = Properties(PacketTypes.CONNECT) if v5 else None
        client.connect(m.host, m.port, keepalive=max(m.keepalive, 5), properties=properties)
    except (OSError, ValueError) as exc:
        failure = classify_exception(exc, "mqtt.host")
        key = "mqtt.ca_file" if m.ca_file and "TLS" in failure.cause else "mqtt.host"
        report.failed(failure, f"{key}: {where}: {failure.cause}")
        return
    client.loop_start()
    try:
        if not done.wait(timeout):
            silent = Failure(Kind.TRANSIENT, f"no answer within {timeout:.0f} s", "mqtt.host")
            report.failed(silent, f"mqtt.host: {where}: {silent.cause}")
            return
    finally:
        client.disconnect()
        client.loop_stop()
    failure = classify_connack(result.get("connack", 0x80), has_username=bool(m.username))
    if failure is not None:
        report.failed(failure, f"{failure.key or 'mqtt.host'}: {where}: {failure.cause}")
        return
    denied = [t for t, code in zip(topics, result.get("suback", []), strict=False) if code >= 0x80]
    report.lines.append(f"{where} as {m.username or 'anonymous'}: connected")
    for topic in denied:
        report.problems.append(
            f"mqtt.username: {where}: subscription to {topic} refused (broker ACL, "
            "deploy/mosquitto/acl)"
        )
