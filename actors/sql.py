"""SQL of the coordination database: parameterised, identifiers quoted by psycopg.sql (the EMS
plans are in `sql_plans.py`, the supervisor's own schema in `sql_own.py`).

Functions take an open psycopg connection and return typed rows; the gateways own the
connections, transactions and retries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import psycopg
from psycopg import sql

from protocol.details import equipment_details
from protocol.inventory import detail_table
from protocol.messages import WriteObserved, WriteState
from protocol.model import DetailRow, DeviceRow, EquipmentDetails, EquipmentRow

EQUIPMENT = "equipement_pilote_ou_mesure"

# WriteState field -> column of equipement_pilote_ou_mesure.
STATE_COLUMNS = {
    "mode": "equipement_pilote_ou_mesure_mode_id",
    "command_state": "etat_commande_id",
    "consigne": "ems_consigne_marche",
    "started_at": "timestamp_derniere_mise_en_marche",
    "programmed_at": "timestamp_derniere_programmation",
}

_EQUIPMENT_COLUMNS = (
    "id, equipement_pilote_ou_mesure_type_id, typologie_installation_domotique_id,"
    " equipement_pilote_ou_mesure_mode_id, etat_controle_id, etat_commande_id, ems_consigne_marche,"
    " timestamp_derniere_mise_en_marche, timestamp_derniere_programmation, utilisateur, nom_humain"
)


def table(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def qualified(name: str) -> sql.Composable:
    """`result` or `schema.result` (validated by the configuration schema)."""
    return sql.SQL(".").join(sql.Identifier(part) for part in name.split("."))


def _equipment_row(values: tuple, details: EquipmentDetails | None = None) -> EquipmentRow:  # type: ignore[type-arg]
    return EquipmentRow(
        id=values[0],
        type_id=values[1],
        typology_id=values[2],
        mode=values[3],
        control_state=values[4],
        command_state=values[5],
        consigne=values[6],
        started_at=values[7],
        programmed_at=values[8],
        household=values[9],
        name=values[10],
        details=details or EquipmentDetails(),
    )


def load_equipment(conn: psycopg.Connection, schema: str) -> list[EquipmentRow]:
    """Every equipment row, with what its type-specific row tells the guards."""
    query = sql.SQL("SELECT " + _EQUIPMENT_COLUMNS + " FROM {} ORDER BY id").format(
        table(schema, EQUIPMENT)
    )
    rows = conn.execute(query).fetchall()
    details = load_equipment_details(conn, schema)
    return [_equipment_row(r, details.get(r[0])) for r in rows]


def load_one(conn: psycopg.Connection, schema: str, equipment: int) -> EquipmentRow | None:
    query = sql.SQL("SELECT " + _EQUIPMENT_COLUMNS + " FROM {} WHERE id = %s").format(
        table(schema, EQUIPMENT)
    )
    row = conn.execute(query, (equipment,)).fetchone()
    if row is None:
        return None
    return _equipment_row(row, load_equipment_details(conn, schema).get(equipment))


_PERIODS = [
    f"prog_{week}_periode_{n}_confort_{field}"
    for week in ("semaine", "weekend")
    for n in (1, 2)
    for field in ("actif", "heure_debut", "heure_fin")
]
# (table, columns) read for the guards; the first row of an equipment wins (no UNIQUE in v6.3).
_DETAIL_QUERIES = {
    "machine": (
        "SELECT m.equipement_pilote_ou_mesure_id, m.timestamp_de_fin_souhaite, c.duree_cycle"
        " FROM {s}.equipement_pilote_machine_generique m"
        " LEFT JOIN {s}.equipement_pilote_machine_generique_cycle c"
        " ON c.id = m.cycle_equipement_pilote_machine_generique_id ORDER BY m.id"
    ),
    "vehicle": (
        "SELECT equipement_pilote_ou_mesure_id, timestamp_dispo_souhaitee, duree_de_charge_estimee,"
        " puissance_de_charge FROM {s}.equipement_pilote_vehicule_electrique_generique ORDER BY id"
    ),
    "tank": (
        "SELECT equipement_pilote_ou_mesure_id, puissance_chauffe"
        " FROM {s}.equipement_pilote_ballon_ecs ORDER BY id"
    ),
    "heating": (
        "SELECT equipement_pilote_ou_mesure_id, puissance_moyenne_confort"
        " FROM {s}.equipement_pilote_chauffage_non_asservi ORDER BY id"
    ),
    "regulated_heating": (
        "SELECT equipement_pilote_ou_mesure_id, puissance, temperature_eco, temperature_confort,"
        " delta_temp_maximale_temp_demandee, "
        + ", ".join(_PERIODS)
        + " FROM {s}.equipement_pilote_chauffage_asservi ORDER BY id"
    ),
}


def load_equipment_details(conn: psycopg.Connection, schema: str) -> dict[int, EquipmentDetails]:
    """Deadline, cycle duration, rated power and requested temperatures of every equipment.

    A type-specific table that does not exist (later schema versions dropped some) is skipped.
    """
    return equipment_details(_detail_rows(conn, schema))


def _detail_rows(conn: psycopg.Connection, schema: str) -> Iterator[tuple[str, tuple]]:  # type: ignore[type-arg]
    for kind, text in _DETAIL_QUERIES.items():
        query = sql.SQL(text.replace("{s}", "{schema}")).format(schema=sql.Identifier(schema))
        try:
            rows = conn.execute(query).fetchall()
        except psycopg.errors.UndefinedTable:
            continue
        for row in rows:
            yield kind, row


def load_devices(conn: psycopg.Connection, schema: str) -> list[DeviceRow]:
    query = sql.SQL(
        "SELECT d.id, d.equipement_pilote_ou_mesure_id, d.equipement_domotique_type_id, t.nom,"
        " d.equipement_domotique_usage_id, d.id_materiel, d.utilisateur, d.utilisateur_affecte,"
        " d.equipement_domotique_specifique_id"
        " FROM {} d LEFT JOIN {} t ON t.id = d.equipement_domotique_type_id ORDER BY d.id"
    ).format(table(schema, "equipement_domotique"), table(schema, "equipement_domotique_type"))
    return [
        DeviceRow(
            id=r[0],
            equipment_id=r[1],
            type_id=r[2],
            type_name=r[3],
            usage=r[4],
            hardware_id=r[5],
            household=r[6],
            assigned=r[7],
            detail_id=r[8],
        )
        for r in conn.execute(query).fetchall()
    ]


def load_details(
    conn: psycopg.Connection, schema: str, type_names: Iterable[str]
) -> dict[str, dict[int, DetailRow] | None]:
    """Rows of each detail table by id; None for a table that does not exist or is unusable.

    Type 411's table names its columns differently (`…_controle_et_mesure_json`,
    `…_commande_json`), so the columns are found from the catalogue, not assumed.
    """
    details: dict[str, dict[int, DetailRow] | None] = {}
    for type_name in sorted(set(type_names)):
        name = detail_table(type_name)
        columns = _columns(conn, schema, name) if name else set()
        control = _first(columns, "topic_mqtt_controle_json", "topic_mqtt_controle_et_mesure_json")
        command = _first(columns, "topic_mqtt_commande_text", "topic_mqtt_commande_json")
        if name is None or not columns or control is None or command is None:
            details[type_name] = None
            continue
        lwt = sql.Identifier("topic_mqtt_lwt") if "topic_mqtt_lwt" in columns else sql.NULL
        query = sql.SQL("SELECT id, equipement_domotique_id, {}, {}, {} FROM {}").format(
            sql.Identifier(control), sql.Identifier(command), lwt, table(schema, name)
        )
        details[type_name] = {
            r[0]: DetailRow(
                id=r[0], device_id=r[1], control_topic=r[2], command_topic=r[3], lwt_topic=r[4]
            )
            for r in conn.execute(query).fetchall()
        }
    return details


def _columns(conn: psycopg.Connection, schema: str, name: str) -> set[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s",
        (schema, name),
    ).fetchall()
    return {r[0] for r in rows}


def _first(columns: set[str], *candidates: str) -> str | None:
    return next((c for c in candidates if c in columns), None)


def write_state(conn: psycopg.Connection, schema: str, write: WriteState) -> int:
    """One transition: every changed column in one UPDATE (the caller owns the transaction)."""
    assignments = []
    values: list[object] = []
    for field, column in STATE_COLUMNS.items():
        value = getattr(write, field)
        if value is not None:
            assignments.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            values.append(bool(value) if field == "consigne" else int(value))
    if not assignments:
        return 0
    query = sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
        table(schema, EQUIPMENT), sql.SQL(", ").join(assignments)
    )
    return conn.execute(query, [*values, write.equipment]).rowcount


def _state_value(field: str, value: object) -> object:
    return bool(value) if field == "consigne" else int(value)  # type: ignore[call-overload]


def write_state_run(
    conn: psycopg.Connection, schema: str, fields: tuple[str, ...], writes: list[WriteState]
) -> list[int]:
    """Transitions that set the same columns, in one statement (the caller owns the
    transaction). As they set the same columns, the last transition of an equipment in the run
    holds its final values: each equipment is written once, from arrays (one round trip, little
    Python: the fan-out of an EMS run writes thousands). Returns the equipment ids without a row.
    """
    if not fields:
        return []
    final = {w.equipment: w for w in writes}
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = v.{}").format(sql.Identifier(STATE_COLUMNS[f]), sql.Identifier(f))
        for f in fields
    )
    arrays = sql.SQL(", ").join(
        sql.SQL("%s::boolean[]" if f == "consigne" else "%s::integer[]") for f in fields
    )
    names = sql.SQL(", ").join(sql.Identifier(f) for f in fields)
    query = sql.SQL(
        "UPDATE {} AS e SET {} FROM unnest(%s::integer[], {}) AS v(id, {})"
        " WHERE e.id = v.id RETURNING e.id"
    ).format(table(schema, EQUIPMENT), assignments, arrays, names)
    columns = [[_state_value(f, getattr(w, f)) for w in final.values()] for f in fields]
    found = {row[0] for row in conn.execute(query, [list(final), *columns])}
    return [equipment for equipment in final if equipment not in found]


def write_observed(conn: psycopg.Connection, schema: str, writes: Iterable[WriteObserved]) -> None:
    """Observed states (one per equipment, the last one wins), in one statement; a row that
    already says it is not rewritten."""
    states = {w.equipment: int(w.control_state) for w in writes}
    if not states:
        return
    query = sql.SQL(
        "UPDATE {} AS e SET etat_controle_id = v.state"
        " FROM unnest(%s::integer[], %s::integer[]) AS v(id, state)"
        " WHERE e.id = v.id AND e.etat_controle_id <> v.state"
    ).format(table(schema, EQUIPMENT))
    conn.execute(query, [list(states), list(states.values())])


# --- record and snapshot: whole tables, read as they are -----------------------------------------

# The coordination tables the supervisor reads, besides the detail table of each device type.
READ_TABLES = (
    EQUIPMENT,
    "equipement_domotique",
    "equipement_domotique_type",
    "equipement_pilote_machine_generique",
    "equipement_pilote_machine_generique_cycle",
    "equipement_pilote_vehicule_electrique_generique",
    "equipement_pilote_ballon_ecs",
    "equipement_pilote_chauffage_non_asservi",
    "equipement_pilote_chauffage_asservi",
)


def existing_tables(conn: psycopg.Connection, schema: str) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
    ).fetchall()
    return {r[0] for r in rows}


def device_type_names(conn: psycopg.Connection, schema: str) -> list[str]:
    """The type names of the devices in use (each selects a detail table)."""
    query = sql.SQL(
        "SELECT DISTINCT t.nom FROM {} d JOIN {} t ON t.id = d.equipement_domotique_type_id"
        " ORDER BY t.nom"
    ).format(table(schema, "equipement_domotique"), table(schema, "equipement_domotique_type"))
    return [r[0] for r in conn.execute(query).fetchall() if r[0]]


def read_table(conn: psycopg.Connection, schema: str, name: str) -> tuple[list[str], list[tuple]]:  # type: ignore[type-arg]
    """Every row of one table in `id` order, with its column names."""
    cursor = conn.execute(sql.SQL("SELECT * FROM {} ORDER BY id").format(table(schema, name)))
    columns = [c.name for c in cursor.description or []]
    return columns, cursor.fetchall()
