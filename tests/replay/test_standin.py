"""The replay's database stand-in: recorded row changes, writes, outages (no server needed; the
comparison with PostgreSQL is in tests/integration/test_replay_standin.py)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from protocol import capture
from protocol.messages import WriteState
from protocol.snapshot import decode
from replay.standin import SnapshotDatabase

SNAPSHOT = Path(__file__).resolve().parent / "washing-machines" / "snapshot.json"
S = "bdd_coordination_schema"


def database() -> tuple[SnapshotDatabase, list[tuple[str, dict[str, object]]]]:
    written: list[tuple[str, dict[str, object]]] = []
    standin = SnapshotDatabase(decode(SNAPSHOT.read_bytes()), lambda k, f: written.append((k, f)))
    return standin, written


def change(table: str, key: int | str, op: str = "update", **columns: object) -> capture.RowChange:
    return capture.RowChange(time=0.0, table=table, key=key, op=op, columns=columns)  # type: ignore[arg-type]


def test_recorded_changes_apply_except_the_supervisors_own_columns() -> None:
    standin, _ = database()
    before = standin.load_one(None, S, 1)
    assert before is not None
    standin.apply(
        change(
            "equipement_pilote_ou_mesure",
            1,
            etat_commande_id=30,
            etat_controle_id=60,
            equipement_pilote_ou_mesure_mode_id=20,
            nom_humain="Lave-linge du bas",
        )
    )
    after = standin.load_one(None, S, 1)
    assert after is not None
    assert (after.command_state, after.control_state) == (
        before.command_state,
        before.control_state,
    )
    assert (after.mode, after.name) == (20, "Lave-linge du bas")
    standin.apply(change("equipement_pilote_machine_generique", 4, timestamp_de_fin_souhaite=99))
    assert standin.load_equipment_details(None, S)[4].deadline == 99
    standin.apply(change("equipement_domotique", "A104", op="delete"))
    assert "A104" not in {d.id for d in standin.load_devices(None, S)}


def test_writes_are_reported_and_read_back_and_an_outage_fails_every_call() -> None:
    standin, written = database()
    write = WriteState(equipment=4, at=0, reason="test", mode=20, command_state=12)
    assert standin.write_state_run(None, S, ("mode", "command_state"), [write]) == []
    row = standin.load_one(None, S, 4)
    assert row is not None and (row.mode, row.command_state) == (20, 12)
    assert written == [
        (
            "state",
            {
                "equipment": 4,
                "columns": {"equipement_pilote_ou_mesure_mode_id": 20, "etat_commande_id": 12},
                "reason": "test",
            },
        )
    ]
    missing = WriteState(equipment=404, at=0, reason="gone", mode=20)
    assert standin.write_state_run(None, S, ("mode",), [missing]) == [404]
    standin.down = True
    with pytest.raises(psycopg.OperationalError):
        standin.load_equipment(None, S)
    with pytest.raises(psycopg.OperationalError):
        standin.connect("replay")
