"""Build the shipped replay examples: `python -m tests.replay.make_examples [NAME...]`.

For each example: a scratch PostgreSQL database loaded with the sample household and changed as
the example needs, its snapshot; then the replay runs the supervisor against simulated devices
(`simulators/virtual.py`) on the virtual clock, and every message those devices sent becomes the
capture. Finally the capture is replayed alone: that output is `expected.jsonl`, and it must
equal the output of the run with the devices (the capture holds everything the supervisor
heard). `--expected-only` rewrites only `expected.jsonl` from the committed files, after a
change of behaviour that the examples should now show.

Needs `ELFE_TEST_PG_DSN` (a role allowed to create databases), like the integration tests.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from protocol import capture, snapshot
from protocol.config import Config, ScreensConfig, config_from_mapping
from protocol.ems import SLOTS
from replay.command import load
from replay.database import take_snapshot
from replay.engine import Replay
from simulators import database
from simulators.appliance import Appliance
from simulators.core import Publish
from simulators.openhasp import OpenHaspCore, elfe_startup_layout
from simulators.shelly_gen1 import ShellyGen1Core
from simulators.socorel import SocorelCore
from simulators.tasmota import TasmotaCore
from simulators.virtual import VirtualHousehold

HERE = Path(__file__).resolve().parent
PG_DSN = os.environ.get("ELFE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
DAY = datetime(2026, 11, 30, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC
H = 3600.0
S = database.SCHEMA


def at(hours: float) -> float:
    return DAY + hours * H


def keep_only(dsn: str, equipment: list[int]) -> None:
    """Delete the sample household's other equipment and devices (foreign keys off)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        for table in database.DETAIL_TABLES.values():
            name = f"equipement_domotique_{table}"
            conn.execute(
                sql.SQL("DELETE FROM {}.{} WHERE NOT equipement_domotique_id = ANY(%s)").format(
                    sql.Identifier(S), sql.Identifier(name)
                ),
                (_devices_of(conn, equipment),),
            )
        conn.execute(
            sql.SQL(
                "DELETE FROM {}.equipement_domotique"
                " WHERE NOT equipement_pilote_ou_mesure_id = ANY(%s)"
            ).format(sql.Identifier(S)),
            (equipment,),
        )
        conn.execute(
            sql.SQL("DELETE FROM {}.equipement_pilote_ou_mesure WHERE NOT id = ANY(%s)").format(
                sql.Identifier(S)
            ),
            (equipment,),
        )


def _devices_of(conn: psycopg.Connection, equipment: list[int]) -> list[str]:
    query = sql.SQL(
        "SELECT id FROM {}.equipement_domotique WHERE equipement_pilote_ou_mesure_id = ANY(%s)"
    ).format(sql.Identifier(S))
    return [r[0] for r in conn.execute(query, (equipment,))]


def execute(dsn: str, query: str, params: tuple[object, ...] = ()) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(query.replace("{s}", S), params)  # type: ignore[arg-type]


# --- the examples -------------------------------------------------------------------------------


class Example:
    def __init__(self, name: str, start: float, end: float) -> None:
        self.name, self.start, self.end = name, start, end
        self.lines: list[capture.Line] = []  # inputs besides the devices: plans, row changes

    def prepare(self, dsn: str) -> None:
        raise NotImplementedError

    def household(self) -> VirtualHousehold:
        raise NotImplementedError

    def plan(self, when: float, machine: int, first_valid: float, on: list[int], kind: int) -> None:
        decisions = tuple((list(on) + [0] * SLOTS)[:SLOTS])
        plan_id = 100 + len(self.lines)
        self.lines.append(
            capture.PlanRow(
                time=when,
                id=plan_id,
                machine_id=machine,
                first_valid_timestamp=int(first_valid),
                decisions=decisions,
                machine_type=kind,
            )
        )


def plug(name: str, appliance: Appliance) -> ShellyGen1Core:
    return ShellyGen1Core(f"shellies/{name}", appliance, now=DAY)


class WashingMachines(Example):
    """Washer 1 started by the EMS at 08:00; washer 4 started by the deadline guard at 16:15
    (finished by 18:00, a 90 min cycle, 15 min margin)."""

    def __init__(self) -> None:
        super().__init__("washing-machines", at(7), at(20))
        self.plan(at(7.5), 1, at(8), [1, 1], 112)

    def prepare(self, dsn: str) -> None:
        keep_only(dsn, [1])
        execute(dsn, "DELETE FROM {s}.equipement_domotique_m5stackcore2_openhasp_v0")
        execute(dsn, "DELETE FROM {s}.equipement_domotique WHERE id = 'G101'")  # no screen here
        database.add_equipment(dsn, 4, 112, 120, name="Lave-linge 2", household="R001")
        root = "shellies/shellyplug-s-A104"
        database.add_device(
            dsn, "A104", 4, 111, 11, f"{root}/relay/0", f"{root}/relay/0/command", f"{root}/online"
        )
        execute(
            dsn,
            "INSERT INTO {s}.equipement_pilote_machine_generique (id,"
            " equipement_pilote_ou_mesure_id, timestamp_de_fin_souhaite,"
            " delai_attente_maximale_apres_fin, cycle_equipement_pilote_machine_generique_id,"
            " mesures_puissance_elec_id) VALUES (4, 4, %s, 3600, 4, 45004)",
            (int(at(18)),),
        )
        execute(
            dsn,
            "INSERT INTO {s}.equipement_pilote_machine_generique_cycle (id,"
            " equipement_pilote_machine_generique_id, duree_cycle, nom, description,"
            " timestamp_dernier_declechement) VALUES (4, 4, 5400, 'coton 40', 'aucun', 0)",
        )

    def household(self) -> VirtualHousehold:
        washer = Appliance("triggered", cycle_power_w=2000, cycle_s=5400)
        other = Appliance("triggered", cycle_power_w=2000, cycle_s=5400)
        return VirtualHousehold(
            [plug("shellyplug-s-A101", washer), plug("shellyplug-s-A104", other)]
        )


class HotWaterTank(Example):
    """A hot-water tank on a Tasmota plug following 96 slots of one plan for a day; the plug is
    offline from 10:00 to 11:00 while the plan switches it."""

    ON = [1] * 24 + [0] * 16 + [1, 1, 0, 0] + [0] * 8 + [1] * 8 + [0] * 28 + [1] * 12

    def __init__(self) -> None:
        super().__init__("hot-water-tank", at(0), at(24))
        self.plan(at(0) + 30, 2, at(0), self.ON, 131)

    def prepare(self, dsn: str) -> None:
        keep_only(dsn, [2])

    def household(self) -> VirtualHousehold:
        tank = Appliance("continuous", rated_power_w=2400)
        household = VirtualHousehold([TasmotaCore("A102", tank, now=DAY)])
        household.offline(0, at(10), at(11))
        return household


class SocorelLocal(Example):
    """Hot water on output 3 of a Socorel PLC, piloted; the PLC is put in local manual mode at
    10:00 and back to automatic at 10:45."""

    def __init__(self) -> None:
        super().__init__("socorel-local-manual", at(9), at(12))
        self.plan(at(9) + 20, 12, at(9), [1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1], 131)
        self.core = SocorelCore(
            "Socorel/123456789",
            [None, None, Appliance("continuous", rated_power_w=2400)],
            now=DAY,
        )

    def prepare(self, dsn: str) -> None:
        keep_only(dsn, [])
        database.add_equipment(dsn, 12, 131, 140, name="Ballon ECS", household="R001")
        database.add_device(
            dsn,
            "S123",
            12,
            811,
            12,
            "Socorel/123456789/EtatSorties",
            "Socorel/123456789/sortie3",
            None,
            hardware_id="123456789",
            household="R001",
        )

    def household(self) -> VirtualHousehold:
        household = VirtualHousehold([self.core])
        core = self.core

        def manual(on: bool) -> Callable[[float], list[Publish]]:
            return lambda now: core.set_local_manual(on, now)

        household.at(at(10), manual(True))
        household.at(at(10.75), manual(False))
        return household


class ScreenSession(Example):
    """The household's two openHASP screens (g101, g102) with its washer and its tank, 17:00 to
    20:00 UTC (18:00 to 21:00 in Paris): both come online (full refresh); at 17:30 the washer is
    switched to manual on g101 and back to piloted at 17:45 (mode written, LEDs redrawn on both
    screens); at 18:00 its end time is set to 21h on g102 (deadline written, the deadline guard
    starts it at 18:15); the tank follows a plan (on 18:00-19:00); g102 is offline 18:30-18:40
    (the indicators are asked to refresh, full refresh); g101 reboots at 19:00 within the
    keepalive (no will, its uptime restarts: full refresh)."""

    def __init__(self) -> None:
        super().__init__("screen-session", at(17), at(20))
        self.plan(at(17) + 30, 2, at(17), [0, 0, 0, 0, 1, 1, 1, 1], 131)
        startup = elfe_startup_layout(ScreensConfig())
        self.screens = [
            OpenHaspCore(f"hasp/{node}", now=DAY, startup=startup) for node in ("g101", "g102")
        ]

    def prepare(self, dsn: str) -> None:
        keep_only(dsn, [1, 2])  # the washer (A101, and the screen G101) and the tank (A102)
        database.add_device(
            dsn,
            "G102",
            2,
            711,
            71,
            "hasp/g102/state",
            "hasp/g102/command/jsonl",
            "hasp/g102/LWT",
            hardware_id="g102",
            household="R001",
        )

    def household(self) -> VirtualHousehold:
        washer = Appliance("triggered", cycle_power_w=2000, cycle_s=5400)
        tank = Appliance("continuous", rated_power_w=2400)
        g101, g102 = self.screens
        household = VirtualHousehold(
            [plug("shellyplug-s-A101", washer), TasmotaCore("A102", tank, now=DAY), g101, g102]
        )
        household.at(at(17.5), lambda now: g101.touch_switch(3, 3, 0, now))  # manual
        household.at(at(17.75), lambda now: g101.touch_switch(3, 3, 1, now))  # piloted
        household.at(at(18), lambda now: g102.touch_roller(3, 8, 21, now))  # ends at 21h
        household.offline(3, at(18.5), at(18.5 + 1 / 6))
        household.reboot(2, at(19))
        return household


EXAMPLES: dict[str, Callable[[], Example]] = {
    "washing-machines": WashingMachines,
    "hot-water-tank": HotWaterTank,
    "socorel-local-manual": SocorelLocal,
    "screen-session": ScreenSession,
}


def site_config(dsn: str) -> Config:
    return config_from_mapping({"coordination": {"dsn": dsn}}, environ={})


def build(example: Example) -> None:
    directory = HERE / example.name
    directory.mkdir(exist_ok=True)
    name = f"elfe_ex_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(PG_DSN, dbname=name)
    try:
        database.load(dsn)
        example.prepare(dsn)
        config = site_config(dsn)
        taken = take_snapshot(config, now=example.start)
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    header = capture.Header(
        format=capture.FORMAT,
        version=capture.VERSION,
        started_at=example.start,
        base_topic=config.mqtt.base_topic,
        config_digest=capture.config_digest(config),
        config=capture.public_config(config),
        recorder=f"tests/replay/make_examples.py ({example.name})",
    )
    base = [
        *sorted(example.lines, key=lambda line: line.time),
        capture.End(time=example.end),
    ]
    inputs = list(base)
    world_run = Replay(capture.Capture(header, inputs, []), taken, world=example.household())
    world_run.run()
    lines = sorted([*inputs[:-1], *world_run.fed], key=lambda line: line.time)
    data = [capture.encode(header), *(capture.encode(line) for line in lines)]
    data.append(capture.encode(base[-1]))
    (directory / "capture.jsonl").write_bytes(b"".join(data))
    (directory / "snapshot.json").write_bytes(snapshot.encode(taken))
    expected = replay_alone(directory)
    if expected != world_run.out.data():
        raise SystemExit(f"{example.name}: the capture alone does not replay the same run")
    (directory / "expected.jsonl").write_bytes(expected)
    print(f"{directory}: {len(lines)} lines, {len(expected.splitlines())} output lines")


def replay_alone(directory: Path) -> bytes:
    recorded, taken = load(directory)
    run = Replay(recorded, taken)
    run.run()
    return run.out.data()


def main(argv: list[str]) -> int:
    only_expected = "--expected-only" in argv
    names = [a for a in argv if not a.startswith("--")] or list(EXAMPLES)
    for name in names:
        if only_expected:
            (HERE / name / "expected.jsonl").write_bytes(replay_alone(HERE / name))
        else:
            build(EXAMPLES[name]())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
