"""Benchmark of the household screens against the real PostgreSQL and Mosquitto.

The daemon (`elfe-supervisor run`, default system base) drives the sample household R001 with
six appliances (washer, hot water, heater, dishwasher, dryer, car: one page each) and a
simulated openHASP screen. Measures:

- touch -> database: from the switch touch (hot water to manual / piloted) to the mode in the
  database (polled every millisecond);
- touch -> LED: from the touch to the screen receiving the LED's new colour;
- full refresh: from a screen reboot (`online` published) to the last line of the full redraw.

    python -m benchmarks.screens --touches 50 --reboots 10
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.supervisor import MQTT_HOST, MQTT_PORT, drop_database, percentile
from simulators import database
from simulators.household import SimulatedHousehold
from simulators.openhasp import SimulatedOpenHasp

ROOT = Path(__file__).resolve().parents[1]
PG_DSN = os.environ.get("ELFE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SCHEMA = "bdd_coordination_schema"
MODE = f"SELECT equipement_pilote_ou_mesure_mode_id FROM {SCHEMA}.equipement_pilote_ou_mesure"
COLOURS = {20: "#FF0000", 30: "#00FF00"}
HASP_TABLE = "m5stackcore2_openhasp_v0"


def create_database(name: str, prefix: str) -> str:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg.conninfo.make_conninfo(PG_DSN, dbname=name)
    database.load(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:  # the sample's topics, under the prefix
        for table in ("shellyplugs_shellycloud_v1", "nous_a1t_tasmota_v12", HASP_TABLE):
            conn.execute(
                f"UPDATE {SCHEMA}.equipement_domotique_{table} SET"
                " topic_mqtt_controle_json = %(p)s || topic_mqtt_controle_json,"
                " topic_mqtt_commande_text = %(p)s || topic_mqtt_commande_text,"
                " topic_mqtt_lwt = %(p)s || topic_mqtt_lwt",
                {"p": prefix + "/"},
            )
    for number, type_id in ((4, 111), (5, 113), (6, 221)):  # observed only: no device needed
        database.add_equipment(dsn, number, type_id, 200, household="R001")
    return dsn


def mode_of(conn: psycopg.Connection, equipment: int) -> int:
    row = conn.execute(MODE + " WHERE id = %s", (equipment,)).fetchone()
    return int(row[0]) if row else 0


def led_line_at(screen: SimulatedOpenHasp, after: float, colour: str, timeout: float = 5) -> float:
    """When the screen received hot water's LED (page 6, b10) in `colour` after `after`."""
    screen.wait_until(lambda core: core.prop(6, 10, "bg_color") == colour, timeout)
    return next(
        t
        for t, line in screen.lines
        if t >= after and line.get("page") == 6 and line.get("id") == 10
        and line.get("bg_color") == colour
    )  # fmt: skip


def run(touches: int, reboots: int) -> dict[str, Any]:
    name, prefix = f"elfe_bench_{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:6]}"
    workdir = Path(tempfile.mkdtemp(prefix="elfe-bench-screens-"))
    dsn = create_database(name, prefix)
    config = workdir / "bench.toml"
    config.write_text(
        f'[coordination]\ndsn = "{dsn}"\n'
        f'[mqtt]\nhost = "{MQTT_HOST}"\nport = {MQTT_PORT}\nbase_topic = "{prefix}/elfe"\n'
        f'client_id = "{prefix}"\n'
        f'[supervisor]\nstate_dir = "{workdir}/state"\nlog_level = "WARNING"\n'
        "[control]\nmin_switch_s = 0\n"
        f'[screens]\nindicators_topic = "{prefix}/INDICATEURS/refresh"\n'
    )
    specs = [
        {"kind": "shelly_gen1", "root": "shellies/shellyplug-s-A101"},
        {"kind": "tasmota", "topic": "A102"},
        {"kind": "shelly_gen1", "root": "shellies/shellyplug-s-A103"},
        {"kind": "openhasp", "node": "g101"},
    ]
    household = SimulatedHousehold.from_specs(
        MQTT_HOST, MQTT_PORT, specs, topic_prefix=f"{prefix}/"
    )
    daemon = None
    try:
        with household, psycopg.connect(dsn, autocommit=True) as conn:
            screen = household["g101"]
            assert isinstance(screen, SimulatedOpenHasp)
            daemon = subprocess.Popen(
                [sys.executable, "-m", "supervisor", "run", "--config", str(config)],
                cwd=ROOT,
            )
            screen.wait_until(lambda core: core.prop(9, 8, "text") == "ecran connecté", 30.0)
            time.sleep(1.0)
            to_db, to_led = [], []
            for i in range(touches):
                wanted = 20 if i % 2 == 0 else 30
                touched = screen.touch_switch(6, 3, 1 if wanted == 30 else 0)
                while mode_of(conn, 2) != wanted:
                    time.sleep(0.001)
                to_db.append(time.time() - touched)
                to_led.append(led_line_at(screen, touched, COLOURS[wanted]) - touched)
                time.sleep(0.2)
            full, lines = [], 0
            for _ in range(reboots):
                before = len(screen.lines)
                rebooted = time.time()
                screen.fast_reboot()
                screen.wait_until(lambda core: core.prop(9, 8, "text") == "ecran connecté", 5.0)
                received = screen.lines[before:]
                full.append(max(t for t, _ in received) - rebooted)
                lines = len(received)
                time.sleep(0.3)

            def ms(values: list[float], q: float) -> float:
                return round(1000 * percentile(values, q), 1)

            return {
                "touches": touches,
                "touch_to_db_p50_ms": ms(to_db, 0.5),
                "touch_to_db_p99_ms": ms(to_db, 0.99),
                "touch_to_led_p50_ms": ms(to_led, 0.5),
                "touch_to_led_p99_ms": ms(to_led, 0.99),
                "reboots": reboots,
                "full_refresh_lines": lines,
                "full_refresh_median_ms": round(1000 * statistics.median(full), 1),
                "full_refresh_max_ms": round(1000 * max(full), 1),
            }
    finally:
        if daemon is not None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(15)
            except subprocess.TimeoutExpired:
                daemon.kill()
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--touches", type=int, default=50)
    parser.add_argument("--reboots", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(run(args.touches, args.reboots)), flush=True)


if __name__ == "__main__":
    main()
