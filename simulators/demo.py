"""`elfe-supervisor demo`: the whole path on one machine, with nothing to configure.

An embedded PostgreSQL (pgserver) loaded with the ELFE v6.3 schema and a sample household, an MQTT
broker (Mosquitto when installed, else amqtt), simulated Shelly and Tasmota plugs, and the
supervisor itself as the daemon runs it (`elfe-supervisor run`, in-process). A few seconds
in, "the EMS" writes a plan; the terminal shows the orders on MQTT and the rows in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from loguru import logger

from simulators import database
from simulators.household import SimulatedHousehold

ROOT = Path(__file__).resolve().parents[1]
PLAN_AFTER_S = 8.0
NAMES = {
    1: "Lave-linge (Shelly plug, triggered)",
    2: "Ballon ECS (Tasmota plug, continuous)",
    3: "Radiateur (inverted relay, manual)",
}
DEVICES: list[dict[str, Any]] = [
    {
        "kind": "shelly_gen1",
        "root": "shellies/shellyplug-s-A101",
        "report_period_s": 5.0,
        "appliance": {"kind": "triggered", "cycle_power_w": 2100, "cycle_s": 20.0},
    },
    {
        "kind": "tasmota",
        "topic": "A102",
        "tele_period_s": 5.0,
        "appliance": {"kind": "continuous", "rated_power_w": 2400},
    },
    {
        "kind": "shelly_gen1",
        "root": "shellies/shellyplug-s-A103",
        "report_period_s": 5.0,
        "appliance": {"kind": "continuous", "rated_power_w": 1500},
    },
]


def say(who: str, text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}  {who:<5} {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_demo(seconds: float) -> int:
    logger.remove()
    logger.add(sys.stderr, level="INFO", format="{time:HH:mm:ss}  {message}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pgserver
    except ImportError:
        print(
            "elfe-supervisor demo: the demo needs its extras: pip install -e '.[demo]'",
            file=sys.stderr,
        )
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="elfe-demo-"))
    say("demo", f"working directory {workdir}")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server = pgserver.get_server(workdir / "pg", cleanup_mode="stop")
        dsn = _database(server.get_uri())
        say(
            "db", "embedded PostgreSQL ready, ELFE coordination schema v6.3 + household R001 loaded"
        )
        with (
            _broker(workdir) as (port, protocol),
            SimulatedHousehold.from_specs("127.0.0.1", port, DEVICES) as household,
        ):
            say(
                "mqtt",
                f"{len(household)} simulated plugs online: A101 (Shelly), "
                "A102 (Tasmota), A103 (Shelly)",
            )
            return _run(dsn, port, protocol, workdir, seconds, stop)
    finally:
        with contextlib.suppress(Exception):
            server.cleanup()  # type: ignore[possibly-undefined]
        shutil.rmtree(workdir, ignore_errors=True)


def _database(uri: str) -> str:
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bdd_coordination")
        conn.execute("CREATE DATABASE bdd_coordination")
    dsn = psycopg.conninfo.make_conninfo(uri, dbname="bdd_coordination")
    database.load(dsn)
    return dsn


@contextlib.contextmanager
def _broker(workdir: Path) -> Iterator[tuple[int, str]]:
    """(port, MQTT protocol version the supervisor should use)."""
    port = free_port()
    if os.environ.get("ELFE_DEMO_BROKER") == "amqtt":  # to try the fallback where Mosquitto exists
        yield from _amqtt(port)
        return
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None
    )
    if binary:
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        process = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_port(port)
        say("mqtt", f"Mosquitto broker on 127.0.0.1:{port}")
        try:
            yield port, "5"
        finally:
            process.terminate()
            process.wait(5)
        return
    yield from _amqtt(port)


def _amqtt(port: int) -> Iterator[tuple[int, str]]:
    from amqtt.broker import Broker

    logging.getLogger("amqtt").setLevel(logging.ERROR)
    loop = asyncio.new_event_loop()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "auth": {"allow-anonymous": True},
        "topic-check": {"enabled": False},
    }
    broker = Broker(config, loop=loop)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(broker.start(), loop).result(10)
    say("mqtt", f"embedded amqtt broker on 127.0.0.1:{port} (Mosquitto not installed)")
    try:
        yield port, "3.1.1"  # amqtt speaks MQTT 3.1.1 only
    finally:
        logging.getLogger("amqtt").setLevel(logging.CRITICAL + 1)  # its shutdown is noisy
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the broker did not open port {port}")


def _config(dsn: str, port: int, workdir: Path, protocol: str) -> Path:
    path = workdir / "elfe-supervisor.toml"
    path.write_text(
        f'[coordination]\ndsn = "{dsn}"\n'
        "[ems]\npoll_seconds = 2\nboundary_delay_seconds = 1\n"
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nclient_id = "elfe-supervisor-demo"\n'
        f'protocol = "{protocol}"\n'
        "[supervisor]\n"
        f'state_dir = "{workdir / "state"}"\n'
        "[control]\nmin_switch_s = 10\nverify_s = 60\ncycle_end_s = 15\n"
        '[devices]\nreport_period_s = { "111" = 5, "112" = 5 }\n'
    )
    return path


def _run(
    dsn: str, port: int, protocol: str, workdir: Path, seconds: float, stop: threading.Event
) -> int:
    config = _config(dsn, port, workdir, protocol)
    watcher = _OrderWatcher(port)
    say("demo", "starting the supervisor: elfe-supervisor run --config " + str(config))
    daemon = subprocess.Popen(
        [sys.executable, "-m", "supervisor", "run", "--config", str(config)],
        cwd=ROOT,
        env={**os.environ, "THESPIAN_BASE_IPADDR": "127.0.0.1"},
    )
    rows = _RowWatcher(dsn)
    started = time.monotonic()
    planned = False
    try:
        while not stop.is_set() and time.monotonic() - started < seconds:
            if daemon.poll() is not None:
                say("demo", f"the supervisor exited with code {daemon.returncode}")
                return 1
            if not planned and time.monotonic() - started > PLAN_AFTER_S:
                planned = True
                _write_plans(dsn)
            rows.show_changes()
            time.sleep(0.5)
        rows.show_changes()
        return 0
    finally:
        say("demo", "stopping the supervisor (SIGTERM)")
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(15)
        except subprocess.TimeoutExpired:
            daemon.kill()
        watcher.close()
        rows.close()
        say("demo", "done")


def _write_plans(dsn: str) -> None:
    """What the EMS does every quarter hour: append a plan per piloted equipment."""
    database.write_plan(dsn, 1, [1], machine_type=112)
    database.write_plan(dsn, 2, [1] * 8, machine_type=131)
    say("ems", "plan written to table result: washer 1 starts now, hot-water tank 2 on for 2 h")


class _OrderWatcher:
    """Prints every order the supervisor sends and its own status."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="elfe-demo-watcher")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        for topic in ("shellies/+/relay/0/command", "cmnd/+/POWER", "elfe/status"):
            self.client.subscribe(topic)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload = message.payload.decode(errors="replace") or "(query)"
        say("mqtt", f"{message.topic} <- {payload}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class _RowWatcher:
    """Prints the equipment rows whenever the supervisor changes them."""

    QUERY = (
        "SELECT id, equipement_pilote_ou_mesure_mode_id, etat_commande_id, etat_controle_id,"
        " ems_consigne_marche FROM bdd_coordination_schema.equipement_pilote_ou_mesure ORDER BY id"
    )

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.last: dict[int, tuple[Any, ...]] = {}

    def show_changes(self) -> None:
        for row in self.conn.execute(self.QUERY).fetchall():
            if self.last.get(row[0]) != row[1:]:
                self.last[row[0]] = row[1:]
                mode, command, control, consigne = row[1:]
                say(
                    "db",
                    f"equipment {row[0]} {NAMES.get(row[0], '')}: mode {mode}, etat_commande "
                    f"{command}, etat_controle {control}, consigne {consigne}",
                )

    def close(self) -> None:
        self.conn.close()
