"""The household screens' SQL: what a household's screens show, and a declaration made on a
screen. Parameterised, identifiers quoted by psycopg.sql; the caller owns the transaction."""

from __future__ import annotations

import psycopg
from psycopg import sql

from actors.sql import EQUIPMENT, table
from protocol.screens.state import MACHINE_TYPES, ScreenEquipment, ScreenUpdate

_SCREEN_HOUSEHOLD = """
SELECT e.id, e.equipement_pilote_ou_mesure_type_id, e.nom_humain,
       e.equipement_pilote_ou_mesure_mode_id, e.etat_commande_id,
       (SELECT m.timestamp_de_fin_souhaite FROM {s}.equipement_pilote_machine_generique m
         WHERE m.equipement_pilote_ou_mesure_id = e.id ORDER BY m.id LIMIT 1),
       (SELECT c.duree_cycle FROM {s}.equipement_pilote_machine_generique m
          JOIN {s}.equipement_pilote_machine_generique_cycle c
            ON c.id = m.cycle_equipement_pilote_machine_generique_id
         WHERE m.equipement_pilote_ou_mesure_id = e.id ORDER BY m.id LIMIT 1),
       (SELECT v.timestamp_dispo_souhaitee
          FROM {s}.equipement_pilote_vehicule_electrique_generique v
         WHERE v.equipement_pilote_ou_mesure_id = e.id ORDER BY v.id LIMIT 1),
       (SELECT v.pourcentage_charge_restant
          FROM {s}.equipement_pilote_vehicule_electrique_generique v
         WHERE v.equipement_pilote_ou_mesure_id = e.id ORDER BY v.id LIMIT 1)
  FROM {s}.equipement_pilote_ou_mesure e
 WHERE e.id = ANY(%(ids)s)
 ORDER BY e.id
"""
_LAST_REASONS = """
SELECT DISTINCT ON (equipment_id) equipment_id, reason FROM {o}.event
 WHERE equipment_id = ANY(%(ids)s) ORDER BY equipment_id, at DESC, id DESC
"""


def load_screen_household(
    conn: psycopg.Connection, schema: str, own_schema: str | None, members: list[int]
) -> list[ScreenEquipment]:
    """What the screens show of each equipment of `members`: mode, command state, deadline,
    cycle, charge, and the reason of its last journal event (own schema, when enabled)."""
    query = sql.SQL(_SCREEN_HOUSEHOLD.replace("{s}", "{schema}")).format(
        schema=sql.Identifier(schema)
    )
    rows = conn.execute(query, {"ids": members}).fetchall()
    reasons: dict[int, str] = {}
    journal = table(own_schema, "event").as_string(conn) if own_schema else None
    exists = journal and conn.execute("SELECT to_regclass(%s)", (journal,)).fetchone()
    if own_schema and exists and exists[0] is not None:
        text = sql.SQL(_LAST_REASONS.replace("{o}", "{own}")).format(own=sql.Identifier(own_schema))
        reasons = dict(conn.execute(text, {"ids": members}).fetchall())
    return [
        ScreenEquipment(
            id=r[0],
            type_id=r[1],
            name=r[2],
            mode=r[3],
            command_state=r[4],
            deadline=(r[5] if r[1] in MACHINE_TYPES else r[7]) or None,
            cycle_s=r[6] or None,
            charge_percent=r[8],
            reason=reasons.get(r[0]),
        )
        for r in rows
    ]


_SCREEN_TABLES = {
    "timestamp_de_fin_souhaite": "equipement_pilote_machine_generique",
    "timestamp_dispo_souhaitee": "equipement_pilote_vehicule_electrique_generique",
}


def write_screen_update(
    conn: psycopg.Connection, schema: str, update: ScreenUpdate, now: int
) -> int:
    """A household's declaration from its screen (deadline, cycle duration, charge), with
    `timestamp_derniere_programmation`; the caller owns the transaction. Rows changed."""
    changed = 0
    link = sql.Identifier("equipement_pilote_ou_mesure_id")
    if update.deadline is not None and update.deadline_column in _SCREEN_TABLES:
        query = sql.SQL("UPDATE {} SET {} = %s WHERE {} = %s").format(
            table(schema, _SCREEN_TABLES[update.deadline_column]),
            sql.Identifier(update.deadline_column),
            link,
        )
        changed += conn.execute(query, (update.deadline, update.equipment)).rowcount
    if update.charge_percent is not None:
        query = sql.SQL("UPDATE {} SET pourcentage_charge_restant = %s WHERE {} = %s").format(
            table(schema, _SCREEN_TABLES["timestamp_dispo_souhaitee"]), link
        )
        changed += conn.execute(query, (update.charge_percent, update.equipment)).rowcount
    if update.cycle_s is not None:
        query = sql.SQL(
            "UPDATE {c} SET duree_cycle = %s FROM {m}"
            " WHERE {c}.id = {m}.cycle_equipement_pilote_machine_generique_id AND {m}.{link} = %s"
        ).format(
            c=table(schema, "equipement_pilote_machine_generique_cycle"),
            m=table(schema, "equipement_pilote_machine_generique"),
            link=link,
        )
        changed += conn.execute(query, (update.cycle_s, update.equipment)).rowcount
    if changed:
        conn.execute(
            sql.SQL("UPDATE {} SET timestamp_derniere_programmation = %s WHERE id = %s").format(
                table(schema, EQUIPMENT)
            ),
            (now, update.equipment),
        )
    return changed
