"""The replay's database stand-in reads what PostgreSQL reads from the same rows: the snapshot
of a real database, answered by the stand-in, against the queries of `actors/sql*.py`."""

from __future__ import annotations

import time

import psycopg
import pytest

from actors import sql, sql_plans, sql_screens
from protocol.ems import Plan
from protocol.messages import WriteObserved, WriteState
from protocol.screens.state import ScreenEquipment, ScreenUpdate
from protocol.snapshot import decode, encode
from replay.database import take_snapshot
from replay.standin import SnapshotDatabase
from simulators import database
from tests.site import SCHEMA, Site

pytestmark = pytest.mark.integration


def by_id(plans: list[Plan]) -> list[Plan]:
    return sorted(plans, key=lambda plan: plan.id)


def test_the_stand_in_reads_the_inventory_and_the_plans_as_postgresql_does(site: Site) -> None:
    database.add_equipment(site.dsn, 12, 131, 140)  # hot water on a PLC output
    database.add_device(
        site.dsn, "S123", 12, 811, 12, "Socorel/1/EtatSorties", "Socorel/1/sortie3", None
    )
    database.add_equipment(site.dsn, 13, 221, 120)  # a vehicle, with its deadline and power
    database.add_device(site.dsn, "D113", 13, 411, 11, "D113/events/rpc", "D113/rpc", "D113/online")
    now = int(time.time()) // 900 * 900
    site.add_plan(3, [1], first_valid=now - 90000, machine_type=151)  # too old: not in it
    site.add_plan(1, [1, 0, 1], first_valid=now - 900)
    site.add_plan(1, [0, 1], first_valid=now)  # the applicable one
    site.add_plan(2, [1], first_valid=now + 3600, machine_type=131)  # later: kept
    config = site.config()
    snapshot = decode(encode(take_snapshot(config, now=now)))  # through the file format
    standin = SnapshotDatabase(snapshot, lambda kind, fields: None)
    names = ["shellyplugs_shellycloud_v1", "nous_a1t_tasmota_v12", "socorel_automate_v0"]
    names += ["shellyplus1pm_shellycloud_v1", "m5stackcore2_openhasp_v0", "no_such_type"]
    with psycopg.connect(site.dsn, autocommit=True) as conn:
        assert standin.load_equipment(None, SCHEMA) == sql.load_equipment(conn, SCHEMA)
        assert standin.load_one(None, SCHEMA, 13) == sql.load_one(conn, SCHEMA, 13)
        assert standin.load_devices(None, SCHEMA) == sql.load_devices(conn, SCHEMA)
        assert standin.load_details(None, SCHEMA, names) == sql.load_details(conn, SCHEMA, names)
        machines = [1, 2, 3, 12, 13]
        for at in (now, now + 1800):
            expected = sql_plans.load_current_plans(conn, "result", machines, at)[0]
            assert by_id(standin.load_current_plans(None, "result", machines, at)[0]) == by_id(
                expected
            )
            new = sql_plans.load_new_plans(conn, "result", machines, 1, at)[0]
            assert by_id(standin.load_new_plans(None, "result", machines, 1, at)[0]) == by_id(new)
        assert standin.max_plan_id(None, "result") == sql_plans.max_plan_id(conn, "result")

        write = WriteState(equipment=1, at=now, reason="test", mode=20, command_state=12)
        with conn.transaction():
            sql.write_state(conn, SCHEMA, write)
            sql.write_observed(conn, SCHEMA, [WriteObserved(1, 15, now)])
        standin.write_state(None, SCHEMA, write)
        standin.write_observed(None, SCHEMA, [WriteObserved(1, 15, now)])
        assert standin.load_equipment(None, SCHEMA) == sql.load_equipment(conn, SCHEMA)


def test_the_stand_in_reads_and_writes_the_screens_rows_as_postgresql_does(site: Site) -> None:
    database.add_equipment(site.dsn, 13, 221, 120, household="R001")  # a vehicle
    now = int(time.time())
    snapshot = decode(encode(take_snapshot(site.config(), now=now)))
    written: list[tuple[str, dict[str, object]]] = []
    standin = SnapshotDatabase(snapshot, lambda kind, fields: written.append((kind, fields)))
    members = [1, 2, 3, 13]
    machine, vehicle = "timestamp_de_fin_souhaite", "timestamp_dispo_souhaitee"
    updates = [
        ScreenUpdate(1, deadline=now + 7200, deadline_column=machine, cycle_s=3600),
        ScreenUpdate(13, deadline=now + 3600, deadline_column=vehicle, charge_percent=40),
        ScreenUpdate(2, cycle_s=600),  # a tank has no cycle: nothing written
    ]
    with psycopg.connect(site.dsn, autocommit=True) as conn:

        def household() -> list[ScreenEquipment]:
            return sql_screens.load_screen_household(conn, SCHEMA, None, members)

        assert standin.load_screen_household(None, SCHEMA, None, members) == household()
        for update in updates:
            with conn.transaction():
                rows = sql_screens.write_screen_update(conn, SCHEMA, update, now)
            assert (standin.write_screen_update(None, SCHEMA, update, now) > 0) == (rows > 0)
        assert standin.load_screen_household(None, SCHEMA, None, members) == household()
        assert [e.deadline for e in household() if e.id in (1, 13)] == [now + 7200, now + 3600]
    assert [(kind, fields["equipment"]) for kind, fields in written] == [
        ("declaration", 1),
        ("declaration", 1),
        ("state", 1),
        ("declaration", 13),
        ("state", 13),
    ]
