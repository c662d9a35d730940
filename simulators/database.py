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


# --- more equipment and devices, for tests of every family --------------------------------------

SCHEMA = "bdd_coordination_schema"
DETAIL_TABLES = {
    111: "shellyplugs_shellycloud_v1",
    112: "nous_a1t_tasmota_v12",
    211: "teleinfo_tasmota_v12",
    311: "switchbot_mqtt2ble_v7",
    411: "shellyplus1pm_shellycloud_v1",
    611: "shellyht_shellycloud_v1",
    711: "m5stackcore2_openhasp_v0",
    811: "socorel_automate_v0",
}
# equipment type -> (specific table, its columns besides id and equipement_pilote_ou_mesure_id)
_SPECIFIC: dict[int, tuple[str, dict[str, object]]] = {
    131: (
        "equipement_pilote_ballon_ecs",
        {"volume_ballon": 200, "puissance_chauffe": 2400, "mesures_puissance_elec_id": 1},
    ),
    221: (
        "equipement_pilote_vehicule_electrique_generique",
        {
            "pourcentage_charge_restant": 20,
            "pourcentage_charge_finale_minimale_souhaitee": 80,
            "duree_de_charge_estimee": 7200,
            "timestamp_dispo_souhaitee": 0,
            "puissance_de_charge": 2300,
            "capacite_de_batterie": 40000,
            "mesures_puissance_elec_id": 1,
        },
    ),
    410: (
        "equipement_mesure_compteur_electrique",
        {"numero_pdl": "01234567890123", "mesures_puissance_elec_id": 1},
    ),
}


def add_equipment(
    dsn: str,
    equipment: int,
    type_id: int,
    typology: int,
    *,
    mode: int = 30,
    command_state: int = 11,
    consigne: bool = False,
    household: str = "R002",
    name: str | None = None,
) -> None:
    """One more equipment, with a type-specific row of defaults for the types that need one."""
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.equipement_pilote_ou_mesure (id, equipement_pilote_specifique_id,"
                " typologie_installation_domotique_id, nom_humain, description,"
                " equipement_pilote_ou_mesure_type_id, equipement_pilote_ou_mesure_mode_id,"
                " etat_controle_id, etat_commande_id, ems_consigne_marche, utilisateur)"
                " VALUES (%s, %s, %s, %s, 'aucun', %s, %s, 70, %s, %s, %s)"
            ).format(sql.Identifier(SCHEMA)),
            (
                equipment,
                equipment,
                typology,
                name or f"equipment {equipment}",
                type_id,
                mode,
                command_state,
                consigne,
                household,
            ),
        )
        if type_id in _SPECIFIC:
            table, values = _SPECIFIC[type_id]
            _insert(
                conn,
                table,
                {"id": equipment, "equipement_pilote_ou_mesure_id": equipment, **values},
            )


def add_device(
    dsn: str,
    device: str,
    equipment: int,
    type_id: int,
    usage: int,
    control: str,
    command: str,
    lwt: str | None,
    *,
    hardware_id: str | None = None,
    household: str = "R002",
) -> None:
    """One more device and its detail row, both links agreeing."""
    table = f"equipement_domotique_{DETAIL_TABLES[type_id]}"
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        detail_id = conn.execute(
            sql.SQL("SELECT coalesce(max(id), 0) + 1 FROM {}.{}").format(
                sql.Identifier(SCHEMA), sql.Identifier(table)
            )
        ).fetchone()[0]  # type: ignore[index]
        _insert(
            conn,
            "equipement_domotique",
            {
                "id": device,
                "equipement_pilote_ou_mesure_id": equipment,
                "equipement_domotique_type_id": type_id,
                "equipement_domotique_usage_id": usage,
                "id_materiel": hardware_id or device,
                "marque": "test",
                "utilisateur": household,
                "utilisateur_affecte": True,
                "equipement_domotique_specifique_id": detail_id,
            },
        )
        if type_id == 411:  # different column names, and an id with no sequence
            columns = {
                "topic_mqtt_controle_et_mesure_json": control,
                "topic_mqtt_commande_json": command,
                "topic_mqtt_lwt": lwt or "aucun",
            }
        else:
            columns = {
                "topic_mqtt_controle_json": control,
                "topic_mqtt_commande_text": command,
                "topic_mqtt_lwt": lwt or "aucun",
            }
        _insert(conn, table, {"id": detail_id, "equipement_domotique_id": device, **columns})


def _insert(conn: psycopg.Connection, table: str, values: dict[str, object]) -> None:
    conn.execute(
        sql.SQL("INSERT INTO {}.{} ({}) VALUES ({})").format(
            sql.Identifier(SCHEMA),
            sql.Identifier(table),
            sql.SQL(", ").join(sql.Identifier(k) for k in values),
            sql.SQL(", ").join(sql.Placeholder() * len(values)),
        ),
        list(values.values()),
    )
