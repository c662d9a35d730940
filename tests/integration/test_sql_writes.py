"""The set-based writes (arrays, COPY) against PostgreSQL: what each leaves in the tables."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from actors import sql, sql_own
from actors.db_session import CoordinationSession
from protocol.ids import CommandState as CS
from protocol.ids import ControlState, Mode
from protocol.messages import DeviceTelemetry, Event, WriteBatch, WriteObserved, WriteState
from simulators.database import SCHEMA
from tests.site import Site

pytestmark = pytest.mark.integration
OWN = "elfe_supervisor"
COLUMNS = (
    "equipement_pilote_ou_mesure_mode_id, etat_commande_id, ems_consigne_marche,"
    " etat_controle_id, timestamp_derniere_mise_en_marche"
)


@pytest.fixture
def conn(site: Site) -> Iterator[psycopg.Connection]:
    with psycopg.connect(site.dsn, autocommit=True) as connection:
        yield connection


def state(conn: psycopg.Connection, equipment: int) -> tuple:  # type: ignore[type-arg]
    query = f"SELECT {COLUMNS} FROM {SCHEMA}.equipement_pilote_ou_mesure WHERE id = %s"
    row = conn.execute(query, (equipment,)).fetchone()
    assert row is not None
    return row


def test_a_run_of_transitions_leaves_each_equipment_in_its_last_state(
    conn: psycopg.Connection,
) -> None:
    fields = ("command_state", "consigne", "started_at")
    run = [
        WriteState(
            1, 100, "start", command_state=CS.PILOTE_EN_ACTIVATION, consigne=True, started_at=100
        ),
        WriteState(2, 100, "on", command_state=CS.MANUEL_PILOTE_ON, consigne=True, started_at=100),
        WriteState(
            1, 101, "verified", command_state=CS.MANUEL_PILOTE_ON, consigne=True, started_at=101
        ),
        WriteState(999, 101, "gone", command_state=CS.ERR, consigne=False, started_at=0),
    ]
    with conn.transaction():
        missing = sql.write_state_run(conn, SCHEMA, fields, run)
    assert missing == [999]
    assert state(conn, 1)[1:3] == (CS.MANUEL_PILOTE_ON, True) and state(conn, 1)[4] == 101
    assert state(conn, 2)[1:3] == (CS.MANUEL_PILOTE_ON, True) and state(conn, 2)[4] == 100
    mode_before = state(conn, 3)[0]
    with conn.transaction():
        assert (
            sql.write_state_run(
                conn, SCHEMA, ("mode",), [WriteState(3, 1, "m", mode=Mode.DESACTIVE)]
            )
            == []
        )
    assert state(conn, 3)[0] == Mode.DESACTIVE != mode_before


def test_a_refused_transition_fails_its_statement(conn: psycopg.Connection) -> None:
    """The session then writes the batch one transition at a time (the refused one dropped)."""
    with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
        sql.write_state_run(
            conn, SCHEMA, ("command_state",), [WriteState(1, 1, "x", command_state=77)]
        )


def test_observed_states_keep_the_last_one_of_each_equipment(conn: psycopg.Connection) -> None:
    writes = [
        WriteObserved(1, ControlState.ON, 1),
        WriteObserved(2, ControlState.ERRCOM, 1),
        WriteObserved(1, ControlState.OFF, 2),
    ]
    with conn.transaction():
        sql.write_observed(conn, SCHEMA, writes)
    assert (state(conn, 1)[3], state(conn, 2)[3]) == (ControlState.OFF, ControlState.ERRCOM)


def test_telemetry_relay_changes_and_the_journal_in_the_own_schema(
    conn: psycopg.Connection,
) -> None:
    sql_own.ensure_own_schema(conn, OWN)
    first = DeviceTelemetry(
        1, "A101", 10, relay_on=True, power_w=2000, online=True, last_seen=9, relay_changed_at=8
    )
    sensor = DeviceTelemetry(2, "T102", 10, temperature_c=19.5, battery=80)
    later = DeviceTelemetry(
        1, "A101", 12, relay_on=False, power_w=1.5, online=True, last_seen=12, relay_changed_at=11
    )
    events = [Event(1, 10.7, "on for slot", 11, 12), Event(2, 11.0, "x" * 600)]
    with conn.transaction():
        sql_own.write_telemetry(conn, OWN, [first, sensor, later])
        sql_own.write_relay_changes(conn, OWN, [first, sensor, later])
        sql_own.write_events(conn, OWN, events)
        sql_own.write_events(conn, OWN, [])
    devices = conn.execute(
        f"SELECT device_id, equipment_id, relay_on, power_w, temperature_c, battery, online,"
        f" last_seen, updated_at FROM {OWN}.device_state ORDER BY device_id"
    ).fetchall()
    assert devices == [
        ("A101", 1, False, 1.5, None, None, True, 12, 12),
        ("T102", 2, None, None, 19.5, 80, None, None, 10),
    ]
    relays = conn.execute(f"SELECT * FROM {OWN}.relay_change").fetchall()
    assert relays == [("A101", 1, False, 11)]
    journal = conn.execute(
        f"SELECT equipment_id, at, from_state, to_state, length(reason) FROM {OWN}.event"
        " ORDER BY id"
    ).fetchall()
    assert journal == [(1, 10, 11, 12, 11), (2, 11, None, None, 500)]
    with conn.transaction():
        sql_own.write_telemetry(conn, OWN, [DeviceTelemetry(1, "A101", 20, power_w=3.0)])
    assert conn.execute(
        f"SELECT relay_on, power_w FROM {OWN}.device_state WHERE device_id = 'A101'"
    ).fetchone() == (None, 3.0)


def test_a_batch_with_a_refused_transition_keeps_the_others(site: Site) -> None:
    """The session redoes the batch one transition at a time: only the refused one is lost."""
    session = CoordinationSession(site.config())
    batch = WriteBatch(
        transitions=(
            WriteState(1, 5, "good", command_state=CS.MANUEL_PILOTE_ON),
            WriteState(2, 5, "bad", command_state=77),  # no such etat_commande
            WriteState(3, 6, "good", command_state=CS.MANUEL_ON),
        ),
        observed=(WriteObserved(1, ControlState.ON, 6),),
    )
    try:
        done = session.run(batch)
    finally:
        session.close()
    assert (done.written, done.dropped, done.error) == (2, 1, None)
    with psycopg.connect(site.dsn) as conn:
        assert state(conn, 1)[1] == CS.MANUEL_PILOTE_ON and state(conn, 1)[3] == ControlState.ON
        assert state(conn, 2)[1] != 77 and state(conn, 3)[1] == CS.MANUEL_ON
