"""Benchmark of the daemon on multiprocTCPBase against the real PostgreSQL and Mosquitto.

Measures, for N piloted equipment (hot-water tanks on Shelly plugs, generated in a scratch
database): the time from `elfe-supervisor run` to the retained `<base>/status` online, the
memory (PSS) of every process, and the latency from an EMS plan change (INSERT committed) to the
MQTT order on the plug's command topic, with `poll_seconds` as given.

    python -m benchmarks.supervisor --equipment 10 100 300 --changes 30 --poll 1
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
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from psycopg import sql

from protocol.ems import SLOTS
from simulators import database

ROOT = Path(__file__).resolve().parents[1]
PG_DSN = os.environ.get("ELFE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
MQTT_HOST = os.environ.get("ELFE_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("ELFE_TEST_MQTT_PORT", "1883"))

POPULATE = """
SET search_path TO bdd_coordination_schema;
DELETE FROM equipement_domotique_m5stackcore2_openhasp_v0;
DELETE FROM equipement_domotique_nous_a1t_tasmota_v12;
DELETE FROM equipement_domotique_shellyplugs_shellycloud_v1;
DELETE FROM equipement_domotique;
DELETE FROM equipement_pilote_ballon_ecs_heures_creuses;
DELETE FROM equipement_pilote_ballon_ecs;
DELETE FROM equipement_pilote_chauffage_non_asservi;
DELETE FROM equipement_pilote_machine_generique_cycle;
DELETE FROM equipement_pilote_machine_generique;
DELETE FROM equipement_pilote_ou_mesure;
INSERT INTO equipement_pilote_ou_mesure (id, equipement_pilote_specifique_id,
    typologie_installation_domotique_id, nom_humain, description,
    equipement_pilote_ou_mesure_type_id, equipement_pilote_ou_mesure_mode_id, etat_controle_id,
    etat_commande_id, ems_consigne_marche, utilisateur)
  SELECT i, i, 120, 'tank ' || i, 'aucun', 131, 30, 70, 11, false, 'B' || i
  FROM generate_series(1, %(n)s) i;
INSERT INTO equipement_pilote_ballon_ecs (id, equipement_pilote_ou_mesure_id, volume_ballon,
    puissance_chauffe, mesures_puissance_elec_id)
  SELECT i, i, 200, 2400, 1 FROM generate_series(1, %(n)s) i;
INSERT INTO equipement_domotique (id, equipement_pilote_ou_mesure_id,
    equipement_domotique_type_id, equipement_domotique_usage_id, utilisateur, utilisateur_affecte,
    equipement_domotique_specifique_id)
  SELECT 'P' || i, i, 111, 11, 'B' || i, true, i FROM generate_series(1, %(n)s) i;
INSERT INTO equipement_domotique_shellyplugs_shellycloud_v1 (id, equipement_domotique_id,
    topic_mqtt_controle_json, topic_mqtt_commande_text, topic_mqtt_lwt)
  SELECT i, 'P' || i, %(p)s || '/shellies/p' || i || '/relay/0',
         %(p)s || '/shellies/p' || i || '/relay/0/command', %(p)s || '/shellies/p' || i || '/online'
  FROM generate_series(1, %(n)s) i;
"""


def create_database(name: str, n: int, prefix: str, notify: bool) -> str:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(PG_DSN, dbname=name)
    database.load(dsn, database.SAMPLE_SITE + (("ems_notify.sql",) if notify else ()))
    with psycopg.connect(dsn) as conn:  # one transaction
        for statement in filter(str.strip, POPULATE.split(";")):
            conn.execute(statement, {"n": n, "p": prefix} if "%(" in statement else None)
    return dsn


def drop_database(name: str) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def pss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def processes(marker: str) -> list[int]:
    out = subprocess.run(["ps", "-eww", "-o", "pid,args"], capture_output=True, text=True).stdout
    return [
        int(line.split()[0])
        for line in out.splitlines()
        if marker in line and "ps -eww" not in line
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Listener:
    """Records everything under the prefix and answers relay orders like the plugs would."""

    def __init__(self, prefix: str) -> None:
        self.events: list[tuple[float, str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-bench")
        self.client.on_message = lambda c, u, m: self._record(m)
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.subscribe(f"{prefix}/#", qos=1)
        self.client.loop_start()

    def _record(self, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.events.append((time.time(), message.topic, message.payload))
        if message.topic.endswith("/relay/0/command"):  # answer like a Shelly plug
            self.client.publish(message.topic.removesuffix("/command"), message.payload)

    def wait(
        self, topic: str, after: float, payload: bytes | None = None, timeout: float = 60
    ) -> float:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for at, t, p in self.events:
                    if t == topic and at >= after and (payload is None or p == payload):
                        return at
            time.sleep(0.002)
        raise TimeoutError(topic)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def add_plan(dsn: str, machine: int, on: bool) -> float:
    """A plan turning one tank on or off from now on; returns when it was committed."""
    database.write_plan(dsn, machine, [int(on)] * SLOTS, machine_type=131)
    return time.time()


def run(n: int, changes: int, poll: float, notify: bool) -> dict[str, Any]:
    name, prefix = f"elfe_bench_{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:6]}"
    workdir = Path(tempfile.mkdtemp(prefix="elfe-bench-"))
    dsn = create_database(name, n, prefix, notify)
    config = workdir / "bench.toml"
    config.write_text(
        f'[coordination]\ndsn = "{dsn}"\n[ems]\npoll_seconds = {poll}\n'
        f'[mqtt]\nhost = "{MQTT_HOST}"\nport = {MQTT_PORT}\nbase_topic = "{prefix}/elfe"\n'
        f'client_id = "{prefix}"\n'
        f'[supervisor]\nsystem_base = "multiprocTCPBase"\nadmin_port = {19500 + n % 400}\n'
        f'state_dir = "{workdir}/state"\nlog_level = "WARNING"\nready_timeout_seconds = 600\n'
        "[control]\nmin_switch_s = 0\n"
    )
    listener = Listener(prefix)
    began = time.time()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "supervisor", "run", "--config", str(config)],
        cwd=ROOT,
        env={**os.environ, "THESPIAN_BASE_IPADDR": "127.0.0.1"},
    )
    try:
        online = listener.wait(f"{prefix}/elfe/status", began, timeout=600)
        startup_s = online - began
        time.sleep(2.0)
        pids = processes(str(config))
        pss = [kb for pid in pids if (kb := pss_kb(pid)) is not None]
        latencies = []
        for i in range(changes):
            machine = 1 + (i * 7919) % n
            on = i % 2 == 0
            committed = add_plan(dsn, machine, on)
            topic = f"{prefix}/shellies/p{machine}/relay/0/command"
            received = listener.wait(topic, committed, b"on" if on else b"off")
            latencies.append(received - committed)
        result = {
            "equipment": n,
            "startup_s": round(startup_s, 2),
            "processes": len(pids),
            "pss_total_mb": round(sum(pss) / 1024, 1),
            "pss_per_process_median_mb": round(statistics.median(pss) / 1024, 2),
            "plan_to_order_n": len(latencies),
            "poll_seconds": poll,
            "notify": notify,
            "plan_to_order_median_ms": round(1000 * statistics.median(latencies), 1),
            "plan_to_order_p99_ms": round(1000 * percentile(latencies, 0.99), 1),
            "plan_to_order_max_ms": round(1000 * max(latencies), 1),
        }
        if os.environ.get("BENCH_VERBOSE"):
            print([round(x, 3) for x in latencies], file=sys.stderr)
        stop_began = time.time()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        result["sigterm_to_exit_s"] = round(time.time() - stop_began, 2)
        result["exit_code"] = daemon.returncode
        return result
    finally:
        if daemon.poll() is None:
            daemon.kill()
        for pid in processes(str(config)):
            os.kill(pid, signal.SIGKILL)
        listener.close()
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--equipment", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--notify", action="store_true", help="install deploy/sql/ems_notify.sql")
    args = parser.parse_args()
    for n in args.equipment:
        print(json.dumps(run(n, args.changes, args.poll, args.notify)), flush=True)


if __name__ == "__main__":
    main()
