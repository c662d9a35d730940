"""Benchmark of the daemon with N hot-water tanks against the real PostgreSQL and Mosquitto.

    python -m benchmarks.supervisor --equipment 1000 10000 --partitions 1 2

For every N (and every K partitions) it creates a scratch database with N tanks (typology 120,
type 131, one Shelly Gen1 plug each, one household each), starts one process that plays every
plug (`benchmarks.plugs`), starts `elfe-supervisor run --config ...` as a subprocess and measures:

- ready: from the start of the process to the retained `<base>/status` online;
- start-up settled: until every tank's `etat_controle` is 25 in the database (the start-up OFF
  order was sent, answered and the observed state written);
- memory: PSS (`/proc/<pid>/smaps_rollup`) of the daemon and all its child processes, once ready
  and again at the end;
- idle CPU of all the daemon's processes, with no traffic;
- fan-out: N plan rows switching every tank on, committed in one transaction (the NOTIFY trigger
  of `deploy/sql/ems_notify.sql` is installed and `poll_seconds = 1`, whichever comes first);
  time from the commit to the first, median and last ON order received by the plugs, and until
  every row has `etat_controle` 15 and `etat_commande` 12;
- touch -> order: `{"refresh": true}` on `<base>/equipment/<id>/set` for a random tank until its
  plug receives the order, one at a time, while the plugs send energy reports at 2000/s;
- sustained reports: energy reports at increasing rates for `--sustain-s` each (60 s); a rate
  passes when no report is lost (the last value of every plug reaches the supervisor's own
  `device_state` table, and the gateway counters agree when the control socket exists); the lag
  of the database writes is the time from sending a value to seeing it in the table (polled);
- SIGTERM -> exit;
- a naive sequential controller on a sample (subscribe, wait 0.5 s, publish, wait for the
  acknowledgement, one equipment after the other) against the same plugs, its time per equipment
  extrapolated to N: the ratio to the fan-out is measured on this host, not quoted.

Prints one table and writes the figures as JSON (`--json`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
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

from benchmarks import procfs
from benchmarks.plugs import PlugsProcess
from protocol.ems import SLOT_SECONDS, SLOTS
from simulators import database

ROOT = Path(__file__).resolve().parents[1]
PG_DSN = os.environ.get("ELFE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
MQTT_HOST = os.environ.get("ELFE_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("ELFE_TEST_MQTT_PORT", "1883"))
FORMAT = os.environ.get("BENCH_PROFILE_FORMAT", "raw")  # or speedscope (a timeline)
EQUIPMENT_TABLE = "bdd_coordination_schema.equipement_pilote_ou_mesure"

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

_PLAN_COLUMNS = sql.SQL(", ").join(sql.Identifier(f"decisions_{i}") for i in range(SLOTS))
EMS_RUN = sql.SQL(
    "INSERT INTO result (first_valid_timestamp, machine_id, result_type, machine_type, {})"
    " SELECT %s, i, 0, 131, {} FROM generate_series(1, %s) i"
).format(_PLAN_COLUMNS, sql.SQL(", ").join([sql.Literal(1)] * SLOTS))


# --- helpers ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> float:
    return round(1000 * seconds, 1)


def create_database(name: str, n: int, prefix: str) -> str:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(PG_DSN, dbname=name)
    database.load(dsn, (*database.SAMPLE_SITE, "ems_notify.sql"))
    with psycopg.connect(dsn) as conn:  # one transaction
        for statement in filter(str.strip, POPULATE.split(";")):
            conn.execute(statement, {"n": n, "p": prefix} if "%(" in statement else None)
    return dsn


def drop_database(name: str) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def wait_for(check: Any, timeout: float, every: float = 0.05) -> float | None:
    """Call check() until it is true; the time it became true, None after the timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return time.time()
        time.sleep(every)
    return None


def control_counters(state_dir: Path) -> dict[str, int] | None:
    """Sum of the MQTT gateway counters over every control socket, when the runtime has one."""
    sockets = sorted(state_dir.glob("control*.sock"))
    if not sockets:
        return None
    totals: dict[str, int] = {}
    for path in sockets:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(str(path))
                sock.sendall(b'{"gateway": "mqtt"}\n')
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            reply = json.loads(data)
        except (OSError, ValueError):
            return None
        reply = reply.get("data", reply) if isinstance(reply, dict) else {}
        for key in ("received", "reports", "rejected"):
            if isinstance(reply.get(key), int):
                totals[key] = totals.get(key, 0) + reply[key]
    return totals or None


class Watcher:
    """The benchmark's own MQTT client: waits for the status, publishes the touches."""

    def __init__(self, prefix: str) -> None:
        self.online_at: float | None = None
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-bench")
        self.client.on_message = self._on_message
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.subscribe(f"{prefix}/elfe/status", qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if b'"online"' in message.payload and self.online_at is None:
            self.online_at = time.time()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Profile:
    """py-spy recording the daemon's processes during one phase (`--profile DIR`)."""

    def __init__(self, directory: str | None, name: str, pid: int) -> None:
        self.process = None
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
            spy = Path(sys.executable).with_name("py-spy")
            self.process = subprocess.Popen(
                [
                    str(spy),
                    "record",
                    "--pid",
                    str(pid),
                    "--subprocesses",
                    "--nonblocking",
                    *(["--idle"] if FORMAT == "speedscope" else []),  # samples at a steady rate
                    "--format",
                    FORMAT,
                    "--rate",
                    "200",
                    "-o",
                    f"{directory}/{name}.{FORMAT}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # py-spy attaches

    def __enter__(self) -> Profile:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(30)


class Orders:
    """The orders the plugs received, fetched from the plugs' process."""

    def __init__(self, plugs: PlugsProcess) -> None:
        self.plugs = plugs
        self.seen: list[tuple[float, str, int, bytes]] = []

    def fetch(self) -> list[tuple[float, str, int, bytes]]:
        new = self.plugs.call("orders")
        self.seen.extend(new)
        return new


# --- phases ----------------------------------------------------------------------------------


def measure_fanout(dsn: str, n: int, orders: Orders, timeout: float) -> dict[str, Any]:
    orders.fetch()
    orders.seen.clear()
    with psycopg.connect(dsn) as conn:  # one transaction for the whole EMS run
        conn.execute(EMS_RUN, (int(time.time()) // SLOT_SECONDS * SLOT_SECONDS, n))
    committed = time.time()
    on_at: dict[int, float] = {}
    confirmed_at = None
    with psycopg.connect(dsn, autocommit=True) as conn:
        deadline = committed + timeout
        while time.time() < deadline and (len(on_at) < n or confirmed_at is None):
            for at, kind, plug, payload in orders.fetch():
                if kind == "shellies" and payload == b"on":
                    on_at.setdefault(plug, at)
            if confirmed_at is None:
                row = conn.execute(
                    f"SELECT count(*) FROM {EQUIPMENT_TABLE}"
                    " WHERE etat_controle_id = 15 AND etat_commande_id = 12"
                ).fetchone()
                if row and row[0] == n:
                    confirmed_at = time.time()
            time.sleep(0.05)
    delays = sorted(at - committed for at in on_at.values())
    return {
        "fanout_trigger": "NOTIFY trigger + poll_seconds = 1",
        "fanout_orders": len(delays),
        "fanout_first_s": round(delays[0], 3) if delays else None,
        "fanout_p50_s": round(statistics.median(delays), 3) if delays else None,
        "fanout_last_s": round(delays[-1], 3) if len(delays) == n else None,
        "fanout_confirmed_db_s": round(confirmed_at - committed, 3) if confirmed_at else None,
    }


def measure_touch(
    base: str,
    n: int,
    watcher: Watcher,
    plugs: PlugsProcess,
    orders: Orders,
    samples: int,
    rate: int,
) -> dict[str, Any]:
    plugs.call("telemetry")  # reset the counters
    plugs.call("rate", rate)
    began = time.time()
    time.sleep(3.0)
    rng = random.Random(7)
    latencies, lost = [], 0
    orders.fetch()
    for _ in range(samples):
        equipment = rng.randint(1, n)
        sent = time.time()
        watcher.client.publish(f"{base}/equipment/{equipment}/set", b'{"refresh": true}', qos=1)
        got = None
        deadline = sent + 5.0
        while got is None and time.time() < deadline:
            for at, kind, plug, _payload in orders.fetch():
                if kind == "shellies" and plug == equipment and at >= sent:
                    got = at
            time.sleep(0.001)
        if got is None:
            lost += 1
        else:
            latencies.append(got - sent)
        time.sleep(rng.uniform(0.01, 0.05))
    plugs.call("rate", 0)
    _first_k, sent_at, _last = plugs.call("telemetry")
    elapsed = time.time() - began
    return {
        "touch_n": len(latencies),
        "touch_lost": lost,
        "touch_rate_target": rate,
        "touch_rate_sent": round(len(sent_at) / elapsed) if elapsed else None,
        "touch_p50_ms": ms(statistics.median(latencies)) if latencies else None,
        "touch_p99_ms": ms(percentile(latencies, 0.99)) if latencies else None,
        "touch_max_ms": ms(max(latencies)) if latencies else None,
    }


def telemetry_window(
    dsn: str, plugs: PlugsProcess, rate: int, seconds: float, state_dir: Path, n: int
) -> dict[str, Any]:
    """One rate for `seconds`: zero loss, and the lag of the database writes."""
    query = "SELECT device_id, energy_wh FROM elfe_supervisor.device_state"
    plugs.call("telemetry")
    before = control_counters(state_dir)
    seen: dict[tuple[int, int], float] = {}  # (plug, k) -> first seen in the database

    def poll(conn: psycopg.Connection) -> dict[int, int]:
        now, values = time.time(), {}
        for device, energy in conn.execute(query).fetchall():
            if energy is not None:
                plug, k = int(device[1:]), round(energy * 60)
                values[plug] = k
                seen.setdefault((plug, k), now)
        return values

    with psycopg.connect(dsn, autocommit=True) as conn:
        plugs.call("rate", rate)
        began = time.time()
        while time.time() < began + seconds:
            poll(conn)
            time.sleep(0.25)
        plugs.call("rate", 0)
        stopped = time.time()
        first_k, sent_at, last_k = plugs.call("telemetry")

        def complete() -> bool:
            values = poll(conn)
            return all(values.get(p) == k for p, k in last_k.items())

        drained = wait_for(complete, 30.0, every=0.25)
        values = poll(conn)
    after = control_counters(state_dir)
    missing = sum(1 for p, k in last_k.items() if values.get(p) != k)
    lags = [
        at - sent_at[k - first_k]
        for (plug, k), at in seen.items()
        if 0 <= k - first_k < len(sent_at)
    ]
    sent = len(sent_at)
    result: dict[str, Any] = {
        "rate": rate,
        "seconds": round(stopped - began, 1),
        "sent": sent,
        "sent_rate": round(sent / (stopped - began)),
        "plugs_last_value_missing": missing,
        "drained_s": round(drained - stopped, 2) if drained else None,
        "db_lag_p50_ms": ms(statistics.median(lags)) if lags else None,
        "db_lag_p99_ms": ms(percentile(lags, 0.99)) if lags else None,
        "db_lag_max_ms": ms(max(lags)) if lags else None,
    }
    if before and after and "reports" in before:
        result["gateway_reports"] = after["reports"] - before["reports"]
    lost_by_counter = sent - result.get("gateway_reports", sent)
    result["zero_loss"] = missing == 0 and lost_by_counter <= 0 and sent >= 0.95 * rate * seconds
    return result


def measure_sustained(
    dsn: str, plugs: PlugsProcess, rates: list[int], seconds: float, state_dir: Path, n: int
) -> dict[str, Any]:
    windows = []
    for rate in rates:
        window = telemetry_window(dsn, plugs, rate, seconds, state_dir, n)
        windows.append(window)
        print(f"  reports {json.dumps(window)}", file=sys.stderr, flush=True)
        if not window["zero_loss"]:
            break
    passed = [w for w in windows if w["zero_loss"]]
    best = passed[-1] if passed else None
    return {
        "sustained_rate": best["rate"] if best else 0,
        "sustained_s": seconds,
        "sustained_db_lag_p50_ms": best["db_lag_p50_ms"] if best else None,
        "sustained_db_lag_p99_ms": best["db_lag_p99_ms"] if best else None,
        "sustained_failed_at": windows[-1]["rate"] if not windows[-1]["zero_loss"] else None,
        "report_windows": windows,
    }


def naive_controller(prefix: str, sample: int, n: int) -> dict[str, Any]:
    """Subscribe, wait 0.5 s, publish, wait for the acknowledgement; one after the other."""
    acked = threading.Event()
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-naive")
    client.on_message = lambda c, u, m: acked.set()
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect(MQTT_HOST, MQTT_PORT)
    client.loop_start()
    times = []
    try:
        for plug in range(1, sample + 1):
            began = time.time()
            acked.clear()
            subscribed.clear()
            root = f"{prefix}/naive/p{plug}/relay/0"
            client.subscribe(root, qos=1)
            subscribed.wait(5)
            time.sleep(0.5)
            client.publish(f"{root}/command", b"on", qos=1)
            if not acked.wait(5):
                raise RuntimeError(f"naive controller: no acknowledgement from plug {plug}")
            client.unsubscribe(root)
            times.append(time.time() - began)
    finally:
        client.loop_stop()
        client.disconnect()
    per = statistics.mean(times)
    return {
        "naive_sample": sample,
        "naive_per_equipment_s": round(per, 3),
        "naive_extrapolated_s": round(per * n, 1),
    }


# --- one run ---------------------------------------------------------------------------------


def write_config(workdir: Path, dsn: str, prefix: str, base: str, k: int, n: int) -> Path:
    config = workdir / "bench.toml"
    lines = [
        "[coordination]",
        f'dsn = "{dsn}"',
        "[ems]",
        "poll_seconds = 1",
        "[mqtt]",
        f'host = "{MQTT_HOST}"',
        f"port = {MQTT_PORT}",
        f'base_topic = "{prefix}/elfe"',
        f'client_id = "{prefix}"',
        "[supervisor]",
        f'system_base = "{base}"',
        f"admin_port = {19500 + n % 400}",
        f'state_dir = "{workdir}/state"',
        'log_level = "WARNING"',
        "ready_timeout_seconds = 600",
        *([f"partitions = {k}"] if k != 1 else []),
        "[control]",
        "min_switch_s = 0",
    ]
    config.write_text("\n".join(lines) + "\n")
    return config


def run(n: int, k: int, base: str, args: argparse.Namespace) -> dict[str, Any]:
    name, prefix = f"elfe_bench_{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:6]}"
    workdir = Path(tempfile.mkdtemp(prefix="elfe-bench-"))
    state_dir = workdir / "state"
    log = (workdir / "daemon.log").open("w")
    print(f"[bench] N={n} K={k} {base}: database {name}, topics {prefix}/", file=sys.stderr)
    dsn = create_database(name, n, prefix)
    config = write_config(workdir, dsn, prefix, base, k, n)
    plugs = PlugsProcess(MQTT_HOST, MQTT_PORT, prefix, n)
    orders = Orders(plugs)
    watcher = Watcher(prefix)
    result: dict[str, Any] = {"equipment": n, "partitions": k, "system_base": base}
    daemon = None
    try:
        began = time.time()
        daemon = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "run", "--config", str(config)],
            cwd=ROOT,
            env={**os.environ, "THESPIAN_BASE_IPADDR": "127.0.0.1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if (
            wait_for(lambda: watcher.online_at is not None or daemon.poll() is not None, 600)
            is None
        ):
            raise RuntimeError("the daemon was not ready after 600 s")
        if watcher.online_at is None:
            raise RuntimeError(f"the daemon exited with {daemon.returncode}, see {log.name}")
        result["ready_s"] = round(watcher.online_at - began, 2)
        with psycopg.connect(dsn, autocommit=True) as conn:
            settled = wait_for(
                lambda: (
                    conn.execute(
                        f"SELECT count(*) FROM {EQUIPMENT_TABLE} WHERE etat_controle_id = 25"
                    ).fetchone()[0]  # type: ignore[index]
                    == n
                ),
                120 + n / 50,
                every=0.1,
            )
        result["startup_settled_s"] = round(settled - began, 2) if settled else None
        time.sleep(2.0)
        pids = procfs.family(daemon.pid)
        pss = [kb for pid in pids if (kb := procfs.pss_kb(pid)) is not None]
        result["processes"] = len(pids)
        result["pss_ready_mb"] = round(sum(pss) / 1024, 1)
        result["pss_per_equipment_kb"] = round(sum(pss) / n, 1)
        cpu_before, t0 = procfs.cpu_seconds(pids), time.time()
        time.sleep(args.idle_s)
        result["idle_cpu_percent"] = round(
            100 * (procfs.cpu_seconds(procfs.family(daemon.pid)) - cpu_before) / (time.time() - t0),
            2,
        )
        result.update(naive_controller(prefix, args.naive_sample, n))
        print(f"[bench] ready {json.dumps(result)}", file=sys.stderr, flush=True)
        with Profile(args.profile, f"fanout-{n}-{k}", daemon.pid):
            result.update(measure_fanout(dsn, n, orders, timeout=120 + n / 50))
        if result["fanout_last_s"]:
            result["naive_ratio_last_order"] = round(
                result["naive_extrapolated_s"] / result["fanout_last_s"], 1
            )
        if result["fanout_confirmed_db_s"]:
            result["naive_ratio_confirmed"] = round(
                result["naive_extrapolated_s"] / result["fanout_confirmed_db_s"], 1
            )
        print(f"[bench] fan-out {json.dumps(result)}", file=sys.stderr, flush=True)
        time.sleep(2.0)
        base_topic = f"{prefix}/elfe"
        with Profile(args.profile, f"touch-{n}-{k}", daemon.pid):
            result.update(
                measure_touch(base_topic, n, watcher, plugs, orders, args.touches, args.touch_rate)
            )
        result.update(measure_sustained(dsn, plugs, args.rates, args.sustain_s, state_dir, n))
        pss = [kb for pid in procfs.family(daemon.pid) if (kb := procfs.pss_kb(pid)) is not None]
        result["pss_end_mb"] = round(sum(pss) / 1024, 1)
        result["plugs"] = plugs.call("stats")
        stop_began = time.time()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        result["sigterm_s"] = round(time.time() - stop_began, 2)
        result["exit_code"] = daemon.returncode
        return result
    finally:
        if daemon is not None and daemon.poll() is None:
            for pid in procfs.family(daemon.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        watcher.close()
        plugs.close()
        log.close()
        drop_database(name)


# --- output ----------------------------------------------------------------------------------

COLUMNS = [
    ("N", "equipment", ""),
    ("K", "partitions", ""),
    ("ready", "ready_s", " s"),
    ("PSS (end)", "pss_end_mb", " MB"),
    ("PSS/eq (ready)", "pss_per_equipment_kb", " kB"),
    ("1st order", "fanout_first_s", " s"),
    ("p50 order", "fanout_p50_s", " s"),
    ("last order", "fanout_last_s", " s"),
    ("all in DB", "fanout_confirmed_db_s", " s"),
    ("touch p50", "touch_p50_ms", " ms"),
    ("touch p99", "touch_p99_ms", " ms"),
    ("reports/s 0 loss", "sustained_rate", ""),
    ("DB lag p99", "sustained_db_lag_p99_ms", " ms"),
    ("idle CPU", "idle_cpu_percent", " %"),
    ("SIGTERM", "sigterm_s", " s"),
    ("naive (extrap.)", "naive_extrapolated_s", " s"),
    ("naive / last order", "naive_ratio_last_order", "×"),
]


def table(results: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(c[0] for c in COLUMNS) + " |"
    rule = "|" + "---|" * len(COLUMNS)
    rows = [
        "| "
        + " | ".join("—" if r.get(key) is None else f"{r[key]}{unit}" for _, key, unit in COLUMNS)
        + " |"
        for r in results
    ]
    return "\n".join([head, rule, *rows])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--equipment", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--partitions", type=int, nargs="+", default=[1])
    parser.add_argument(
        "--system-base",
        default="simpleSystemBase",
        choices=["simpleSystemBase", "multiprocTCPBase"],
    )
    parser.add_argument("--quick", action="store_true", help="short windows, fewer samples")
    parser.add_argument("--sustain-s", type=float, help="seconds per report rate (60; quick 10)")
    parser.add_argument("--rates", type=int, nargs="+", help="report rates tried, ascending")
    parser.add_argument("--touches", type=int, help="touch samples (300; quick 50)")
    parser.add_argument("--touch-rate", type=int, default=2000, help="reports/s during touches")
    parser.add_argument("--naive-sample", type=int, default=20)
    parser.add_argument("--idle-s", type=float, help="idle CPU window (10 s; quick 5)")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the daemon (collapsed stacks)")
    parser.add_argument("--json", default="benchmark-results.json", help="where to write JSON")
    args = parser.parse_args()
    args.sustain_s = args.sustain_s or (10.0 if args.quick else 60.0)
    args.rates = args.rates or ([2000, 4000] if args.quick else [2000, 3000, 4000, 6000, 8000])
    args.touches = args.touches or (50 if args.quick else 300)
    args.idle_s = args.idle_s or (5.0 if args.quick else 10.0)
    load_before = os.getloadavg()[0]
    results = []
    for k in args.partitions:
        for n in args.equipment:
            results.append(run(n, k, args.system_base, args))
            Path(args.json).write_text(json.dumps(results, indent=2))
    print(
        f"\n{time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, load (1 min) before/"
        f"after {load_before:.2f}/{os.getloadavg()[0]:.2f}, system base {args.system_base}, "
        f"reports windows {args.sustain_s:.0f} s, touches {args.touches}, "
        f"naive sample {args.naive_sample}"
    )
    print(table(results))
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()
