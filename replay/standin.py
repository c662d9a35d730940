"""The databases of a replay: the snapshot's rows in memory, behind the functions of
`actors/sql.py`, `sql_plans.py` and `sql_own.py` that the gateways call.

Why a stand-in rather than a scratch PostgreSQL loaded from the snapshot: the replay must be
byte-identical from run to run and fast (a day in seconds, thousands of reads), must run where no
database server is (a developer's laptop, CI without services), and must be able to fail on
command (`--faults database ...`) at the exact virtual time. The price is that the few queries
the gateways run are read here from the rows instead of by PostgreSQL; `tests/integration/
test_replay_standin.py` checks that both read the same inventory and plans from the same rows.

Writes are applied to the rows (the next inventory read sees them, as in production) and
reported to `on_write` so that the replay can print them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from actors import sql
from protocol import capture
from protocol.details import equipment_details
from protocol.ems import SLOTS, Plan
from protocol.inventory import detail_table
from protocol.messages import DeviceTelemetry, Event, WriteObserved, WriteState
from protocol.model import DetailRow, DeviceRow, EquipmentDetails, EquipmentRow
from protocol.screens.state import MACHINE_TYPES, ScreenEquipment, ScreenUpdate
from protocol.snapshot import Scalar, Snapshot

Record = dict[str, Scalar]
EQUIPMENT_COLUMNS = (
    "id",
    "equipement_pilote_ou_mesure_type_id",
    "typologie_installation_domotique_id",
    "equipement_pilote_ou_mesure_mode_id",
    "etat_controle_id",
    "etat_commande_id",
    "ems_consigne_marche",
    "timestamp_derniere_mise_en_marche",
    "timestamp_derniere_programmation",
    "utilisateur",
    "nom_humain",
)
# The type-specific rows the guards read (sql._DETAIL_QUERIES), as (table, columns).
SPECIFIC = {
    "vehicle": (
        "equipement_pilote_vehicule_electrique_generique",
        ("timestamp_dispo_souhaitee", "duree_de_charge_estimee", "puissance_de_charge"),
    ),
    "tank": ("equipement_pilote_ballon_ecs", ("puissance_chauffe",)),
    "heating": ("equipement_pilote_chauffage_non_asservi", ("puissance_moyenne_confort",)),
    "regulated_heating": (
        "equipement_pilote_chauffage_asservi",
        (
            "puissance",
            "temperature_eco",
            "temperature_confort",
            "delta_temp_maximale_temp_demandee",
            *sql._PERIODS,
        ),
    ),
}
# Columns the supervisor writes itself: a recorded change of one of them is the recorded run's
# decision, not an input, and is not applied (the mode is: operators and screens change it).
OWN_COLUMNS = frozenset(
    {
        "etat_controle_id",
        "etat_commande_id",
        "ems_consigne_marche",
        "timestamp_derniere_mise_en_marche",
        "timestamp_derniere_programmation",
    }
)


class Outage(psycopg.OperationalError):
    """The database is down (a `--faults database` period)."""


class Connection:
    """What the gateways do with a connection besides the functions of `actors/sql*.py`."""

    def __init__(self, database: SnapshotDatabase) -> None:
        self.database = database
        self.closed = False
        self.listening = False
        self.notified: list[Any] = []

    def close(self) -> None:
        self.closed = True

    def fileno(self) -> int:
        return -1

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.database.check()
        yield

    def execute(self, query: Any, params: Any = None) -> Connection:
        self.database.check()
        if "LISTEN" in str(query):
            self.listening = True
        return self

    def notifies(self, timeout: float | None = None) -> list[Any]:
        self.database.check()
        notified, self.notified = self.notified, []
        return notified

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SnapshotDatabase:
    def __init__(self, snapshot: Snapshot, on_write: Callable[[str, dict[str, Any]], None]) -> None:
        self.tables: dict[str, list[Record]] = {
            name: content.records() for name, content in snapshot.tables.items()
        }
        self.plans: list[Plan] = []
        for record in snapshot.result.records():
            self._add_plan(record)
        self.on_write = on_write
        self.down = False
        self.connections: list[Connection] = []
        self.reasons: dict[int, str] = {}  # the last journal reason of each equipment

    # --- faults and the recorded changes --------------------------------------------------------

    def check(self) -> None:
        if self.down:
            raise Outage("database unreachable (replay fault)")

    def connect(self, *args: Any, **kwargs: Any) -> Connection:
        self.check()
        connection = Connection(self)
        self.connections.append(connection)
        return connection

    def add_plan(self, line: capture.PlanRow) -> None:
        self.plans.append(
            Plan(line.id, line.machine_id, line.first_valid_timestamp, tuple(line.decisions))
        )
        for connection in self.connections:
            if connection.listening and not connection.closed:
                connection.notified.append(line.id)

    def _add_plan(self, record: Record) -> None:
        try:
            decisions = tuple(int(record[f"decisions_{i}"]) for i in range(SLOTS))  # type: ignore[arg-type]
            self.plans.append(
                Plan(
                    int(record["id"]),  # type: ignore[arg-type]
                    int(record["machine_id"]),  # type: ignore[arg-type]
                    int(record["first_valid_timestamp"]),  # type: ignore[arg-type]
                    decisions,
                )
            )
        except (KeyError, TypeError, ValueError):
            return

    def apply(self, change: capture.RowChange) -> None:
        """A recorded row change made by someone else than the supervisor."""
        rows = self.tables.setdefault(change.table, [])
        index = next((i for i, r in enumerate(rows) if r.get("id") == change.key), None)
        if change.op == "delete":
            if index is not None:
                del rows[index]
            return
        columns = {
            c: v
            for c, v in change.columns.items()
            if change.table != sql.EQUIPMENT or c not in OWN_COLUMNS
        }
        if index is None:
            rows.append({"id": change.key, **columns})
            rows.sort(key=lambda r: (str(type(r.get("id"))), r.get("id")))
        else:
            rows[index] = {**rows[index], **columns}

    def notifying(self) -> bool:
        """A connection that LISTENs has NOTIFYs waiting."""
        return any(c.listening and not c.closed and c.notified for c in self.connections)

    # --- reads (the signatures of actors/sql*.py) ------------------------------------------------

    def load_equipment(self, conn: Any, schema: str) -> list[EquipmentRow]:
        self.check()
        details = self.load_equipment_details(conn, schema)
        return [
            sql._equipment_row(tuple(r.get(c) for c in EQUIPMENT_COLUMNS), details.get(r["id"]))  # type: ignore[arg-type]
            for r in self.tables.get(sql.EQUIPMENT, [])
        ]

    def load_one(self, conn: Any, schema: str, equipment: int) -> EquipmentRow | None:
        return next((r for r in self.load_equipment(conn, schema) if r.id == equipment), None)

    def load_equipment_details(self, conn: Any, schema: str) -> dict[int, EquipmentDetails]:
        self.check()
        return equipment_details(self._specific_rows())

    def _specific_rows(self) -> Iterable[tuple[str, tuple[Any, ...]]]:
        if "equipement_pilote_machine_generique" in self.tables:
            cycles = {
                c["id"]: c for c in self.tables.get("equipement_pilote_machine_generique_cycle", [])
            }
            for m in self.tables["equipement_pilote_machine_generique"]:
                cycle = cycles.get(m.get("cycle_equipement_pilote_machine_generique_id"), {})
                yield (
                    "machine",
                    (
                        m.get("equipement_pilote_ou_mesure_id"),
                        m.get("timestamp_de_fin_souhaite"),
                        cycle.get("duree_cycle"),
                    ),
                )
        for kind, (name, columns) in SPECIFIC.items():
            for r in self.tables.get(name, []):
                yield kind, (r.get("equipement_pilote_ou_mesure_id"), *(r.get(c) for c in columns))

    def load_devices(self, conn: Any, schema: str) -> list[DeviceRow]:
        self.check()
        types = {t["id"]: t.get("nom") for t in self.tables.get("equipement_domotique_type", [])}
        return [
            DeviceRow(
                id=d["id"],  # type: ignore[arg-type]
                equipment_id=d["equipement_pilote_ou_mesure_id"],  # type: ignore[arg-type]
                type_id=d["equipement_domotique_type_id"],  # type: ignore[arg-type]
                type_name=types.get(d["equipement_domotique_type_id"]),  # type: ignore[arg-type]
                usage=d["equipement_domotique_usage_id"],  # type: ignore[arg-type]
                hardware_id=d.get("id_materiel"),  # type: ignore[arg-type]
                household=d.get("utilisateur"),  # type: ignore[arg-type]
                assigned=bool(d.get("utilisateur_affecte")),
                detail_id=d.get("equipement_domotique_specifique_id") or 0,  # type: ignore[arg-type]
            )
            for d in self.tables.get("equipement_domotique", [])
        ]

    def load_details(
        self, conn: Any, schema: str, type_names: Iterable[str]
    ) -> dict[str, dict[int, DetailRow] | None]:
        self.check()
        details: dict[str, dict[int, DetailRow] | None] = {}
        for type_name in sorted(set(type_names)):
            name = detail_table(type_name)
            rows = self.tables.get(name) if name else None
            if rows is None:
                details[type_name] = None
                continue
            columns = set().union(*(r.keys() for r in rows)) if rows else set()
            control = sql._first(
                columns, "topic_mqtt_controle_json", "topic_mqtt_controle_et_mesure_json"
            )
            command = sql._first(columns, "topic_mqtt_commande_text", "topic_mqtt_commande_json")
            if rows and (control is None or command is None):
                details[type_name] = None
                continue
            details[type_name] = {
                r["id"]: DetailRow(  # type: ignore[misc]
                    id=r["id"],  # type: ignore[arg-type]
                    device_id=r["equipement_domotique_id"],  # type: ignore[arg-type]
                    control_topic=r.get(control or ""),  # type: ignore[arg-type]
                    command_topic=r.get(command or ""),  # type: ignore[arg-type]
                    lwt_topic=r.get("topic_mqtt_lwt"),  # type: ignore[arg-type]
                )
                for r in rows
            }
        return details

    def max_plan_id(self, conn: Any, table_name: str) -> int:
        """Over the snapshot's rows and the recorded ones: the rows left out of the snapshot are
        older, and every row appended later has a greater id."""
        self.check()
        return max((p.id for p in self.plans), default=0)

    def load_current_plans(
        self, conn: Any, table_name: str, machines: list[int], now: int
    ) -> tuple[list[Plan], list[str]]:
        self.check()
        wanted = set(machines)
        current: dict[int, Plan] = {}
        later = []
        for plan in self.plans:
            if plan.machine_id not in wanted:
                continue
            start = plan.first_valid_timestamp
            if start > now:
                later.append(plan)
            elif start > now - 86400:
                best = current.get(plan.machine_id)
                if best is None or (start, plan.id) > (best.first_valid_timestamp, best.id):
                    current[plan.machine_id] = plan
        return [*current.values(), *later], []

    def load_new_plans(
        self, conn: Any, table_name: str, machines: list[int], after_id: int, now: int
    ) -> tuple[list[Plan], list[str]]:
        self.check()
        wanted = set(machines)
        return [
            p
            for p in self.plans
            if p.id > after_id and p.machine_id in wanted and p.first_valid_timestamp > now - 86400
        ], []

    # --- writes ---------------------------------------------------------------------------------

    def write_state(self, conn: Any, schema: str, write: WriteState) -> int:
        self.check()
        columns: dict[str, Any] = {}
        for field, column in sql.STATE_COLUMNS.items():
            value = getattr(write, field)
            if value is not None:
                columns[column] = bool(value) if field == "consigne" else int(value)
        row = self._equipment(write.equipment)
        if not columns or row is None:
            return 0
        row.update(columns)
        self.on_write(
            "state", {"equipment": write.equipment, "columns": columns, "reason": write.reason}
        )
        return 1

    def write_state_run(
        self, conn: Any, schema: str, fields: tuple[str, ...], writes: list[WriteState]
    ) -> list[int]:
        return [w.equipment for w in writes if self.write_state(conn, schema, w) == 0]

    def write_observed(self, conn: Any, schema: str, writes: Iterable[WriteObserved]) -> None:
        self.check()
        for write in sorted(writes, key=lambda w: w.equipment):
            row = self._equipment(write.equipment)
            if row is None or row.get("etat_controle_id") == int(write.control_state):
                continue
            row["etat_controle_id"] = int(write.control_state)
            self.on_write(
                "state",
                {
                    "equipment": write.equipment,
                    "columns": {"etat_controle_id": int(write.control_state)},
                    "reason": "observed",
                },
            )

    def ensure_own_schema(self, conn: Any, schema: str) -> None:
        self.check()

    def prune_events(self, conn: Any, schema: str, before: int) -> int:
        self.check()
        return 0

    def write_telemetry(self, conn: Any, schema: str, rows: Iterable[DeviceTelemetry]) -> None:
        self.check()  # the latest facts of each device: not part of the replay's output

    def write_relay_changes(self, conn: Any, schema: str, rows: Iterable[DeviceTelemetry]) -> None:
        self.check()  # kept for a restart of the supervisor, which a replay does not make

    def load_relays(self, conn: Any, schema: str) -> dict[int, tuple[tuple[str, bool, int], ...]]:
        self.check()
        return {}

    def write_events(self, conn: Any, schema: str, events: Iterable[Event]) -> None:
        self.check()
        for event in events:
            self.reasons[event.equipment] = event.reason
            self.on_write(
                "event",
                {
                    "at": event.at,
                    "equipment": event.equipment,
                    "from": event.from_state,
                    "to": event.to_state,
                    "reason": event.reason,
                },
            )

    # --- the household screens (the signatures of actors/sql_screens.py) ----------------------

    def load_screen_household(
        self, conn: Any, schema: str, own_schema: str | None, members: list[int]
    ) -> list[ScreenEquipment]:
        self.check()
        wanted = set(members)
        rows = sorted(
            (r for r in self.tables.get(sql.EQUIPMENT, []) if r["id"] in wanted),
            key=lambda r: r["id"],  # type: ignore[arg-type,return-value]
        )
        return [self._screen_equipment(r, own_schema) for r in rows]

    def _screen_equipment(self, row: Record, own_schema: str | None) -> ScreenEquipment:
        key = row["id"]
        machine = self._specific_of("equipement_pilote_machine_generique", key)
        cycle = self._cycle_of(machine)
        vehicle = self._specific_of("equipement_pilote_vehicule_electrique_generique", key)
        type_id = int(row["equipement_pilote_ou_mesure_type_id"])  # type: ignore[arg-type]
        deadline = (
            (machine or {}).get("timestamp_de_fin_souhaite")
            if type_id in MACHINE_TYPES
            else (vehicle or {}).get("timestamp_dispo_souhaitee")
        )
        return ScreenEquipment(
            id=int(key),  # type: ignore[arg-type]
            type_id=type_id,
            name=str(row["nom_humain"]),
            mode=int(row["equipement_pilote_ou_mesure_mode_id"]),  # type: ignore[arg-type]
            command_state=int(row["etat_commande_id"]),  # type: ignore[arg-type]
            deadline=deadline or None,  # type: ignore[arg-type]
            cycle_s=(cycle or {}).get("duree_cycle") or None,  # type: ignore[arg-type]
            charge_percent=(vehicle or {}).get("pourcentage_charge_restant"),  # type: ignore[arg-type]
            reason=self.reasons.get(int(key)) if own_schema else None,  # type: ignore[arg-type]
        )

    def write_screen_update(self, conn: Any, schema: str, update: ScreenUpdate, now: int) -> int:
        """A declaration from a screen: the rows are changed; one `declaration` line per table
        says which columns, then a `state` line its `timestamp_derniere_programmation`."""
        self.check()
        machine = self._specific_of("equipement_pilote_machine_generique", update.equipment)
        vehicle = self._specific_of(
            "equipement_pilote_vehicule_electrique_generique", update.equipment
        )
        changes: list[tuple[str, Record | None, dict[str, Scalar]]] = []
        if update.deadline is not None and update.deadline_column == "timestamp_de_fin_souhaite":
            changes.append(
                (
                    "equipement_pilote_machine_generique",
                    machine,
                    {"timestamp_de_fin_souhaite": update.deadline},
                )
            )
        vehicle_columns: dict[str, Scalar] = {}
        if update.deadline is not None and update.deadline_column == "timestamp_dispo_souhaitee":
            vehicle_columns["timestamp_dispo_souhaitee"] = update.deadline
        if update.charge_percent is not None:
            vehicle_columns["pourcentage_charge_restant"] = update.charge_percent
        if vehicle_columns:
            changes.append(
                ("equipement_pilote_vehicule_electrique_generique", vehicle, vehicle_columns)
            )
        if update.cycle_s is not None:
            changes.append(
                (
                    "equipement_pilote_machine_generique_cycle",
                    self._cycle_of(machine),
                    {"duree_cycle": update.cycle_s},
                )
            )
        written = [(name, columns) for name, record, columns in changes if record is not None]
        for _, record, columns in changes:
            if record is not None:
                record.update(columns)
        for name, columns in written:
            self.on_write(
                "declaration", {"equipment": update.equipment, "table": name, "columns": columns}
            )
        row = self._equipment(update.equipment)
        if written and row is not None:
            row["timestamp_derniere_programmation"] = now
            self.on_write(
                "state",
                {
                    "equipment": update.equipment,
                    "columns": {"timestamp_derniere_programmation": now},
                    "reason": "declared on a screen",
                },
            )
        return len(written)

    def _cycle_of(self, machine: Record | None) -> Record | None:
        if machine is None:
            return None
        key = machine.get("cycle_equipement_pilote_machine_generique_id")
        cycles = self.tables.get("equipement_pilote_machine_generique_cycle", [])
        return next((c for c in cycles if c.get("id") == key), None)

    def _specific_of(self, name: str, equipment: Scalar) -> Record | None:
        rows = sorted(
            (
                r
                for r in self.tables.get(name, [])
                if r.get("equipement_pilote_ou_mesure_id") == equipment
            ),
            key=lambda r: r["id"],  # type: ignore[arg-type,return-value]
        )
        return rows[0] if rows else None

    def _equipment(self, equipment: int) -> Record | None:
        return next((r for r in self.tables.get(sql.EQUIPMENT, []) if r["id"] == equipment), None)


# The SQL functions the stand-in replaces while a replay runs, by module of `actors/`.
REPLACED = {
    "sql": (
        "load_equipment",
        "load_one",
        "load_equipment_details",
        "load_devices",
        "load_details",
        "write_state",
        "write_state_run",
        "write_observed",
    ),
    "sql_plans": ("max_plan_id", "load_current_plans", "load_new_plans"),
    "sql_own": (
        "ensure_own_schema",
        "prune_events",
        "write_telemetry",
        "write_relay_changes",
        "load_relays",
        "write_events",
    ),
    "sql_screens": ("load_screen_household", "write_screen_update"),
}
