"""The real world of the integration tests: a real PostgreSQL and a real Mosquitto, each test with
its own database and its own topic prefix, both cleaned up afterwards.

`ELFE_TEST_PG_DSN` (a role allowed to create databases) and `ELFE_TEST_MQTT_HOST`/`_PORT` point
at the servers; `scripts/test.sh` installs and starts them where they are missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from psycopg import sql

from protocol.config import Config, config_from_mapping
from simulators import database
from simulators.household import SimulatedHousehold
from supervisor import Stop, run_supervisor

ROOT = Path(__file__).resolve().parents[1]
PG_DSN = os.environ.get("ELFE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
MQTT_HOST = os.environ.get("ELFE_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("ELFE_TEST_MQTT_PORT", "1883"))
SCHEMA = "bdd_coordination_schema"
DETAIL_TOPICS = {
    "equipement_domotique_shellyplugs_shellycloud_v1": (
        "topic_mqtt_controle_json",
        "topic_mqtt_commande_text",
        "topic_mqtt_lwt",
    ),
    "equipement_domotique_nous_a1t_tasmota_v12": (
        "topic_mqtt_controle_json",
        "topic_mqtt_commande_text",
        "topic_mqtt_lwt",
    ),
    "equipement_domotique_m5stackcore2_openhasp_v0": (
        "topic_mqtt_controle_json",
        "topic_mqtt_commande_text",
        "topic_mqtt_lwt",
    ),
}


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Site:
    """One test's private world: a database loaded with the sample household, a topic prefix."""

    dsn: str
    prefix: str
    state_dir: Path
    log: list[str] = field(default_factory=list)

    @property
    def base_topic(self) -> str:
        return f"{self.prefix}/elfe"

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def equipment(self, equipment: int) -> dict[str, Any]:
        row = self.sql(
            f"SELECT equipement_pilote_ou_mesure_mode_id, etat_commande_id, etat_controle_id,"
            f" ems_consigne_marche, timestamp_derniere_mise_en_marche,"
            f" timestamp_derniere_programmation FROM {SCHEMA}.equipement_pilote_ou_mesure"
            " WHERE id = %s",
            (equipment,),
        )[0]
        keys = ("mode", "command", "control", "consigne", "started_at", "programmed_at")
        return dict(zip(keys, row, strict=True))

    def add_plan(
        self,
        machine: int,
        decisions: list[int],
        first_valid: int | None = None,
        machine_type: int = 112,
    ) -> int:
        """Append an EMS plan row; by default it starts at the current quarter hour."""
        return database.write_plan(self.dsn, machine, decisions, machine_type, first_valid)

    def config(self, system_base: str = "simpleSystemBase", **sections: dict[str, Any]) -> Config:
        raw: dict[str, Any] = {
            "coordination": {"dsn": self.dsn, "reload_seconds": 2.0},
            "ems": {"poll_seconds": 0.3, "boundary_delay_seconds": 0.0},
            "mqtt": {
                "host": MQTT_HOST,
                "port": MQTT_PORT,
                "base_topic": self.base_topic,
                "client_id": f"{self.prefix}-supervisor",
            },
            "supervisor": {
                "system_base": system_base,
                "state_dir": str(self.state_dir),
                "admin_port": free_port(),
                "log_level": "DEBUG",
            },
            "control": {
                "min_switch_s": 0,
                "ack_timeout_s": 1.0,
                "retry_delays_s": [0.5, 0.5, 0.5],
                "verify_s": 6.0,
                "cycle_end_s": 3.0,
            },
            "devices": {"report_period_s": {"111": 1.0, "112": 1.0}},
        }
        for section, values in sections.items():
            raw.setdefault(section, {}).update(values)
        return config_from_mapping(raw, environ={})

    def write_config(self, config: Config, path: Path) -> Path:
        import msgspec

        data = msgspec.to_builtins(config)
        data["devices"]["report_period_s"] = {
            str(k): v for k, v in data["devices"]["report_period_s"].items()
        }
        data["devices"]["codecs"] = {str(k): v for k, v in data["devices"]["codecs"].items()}
        data["control"]["types"] = {str(k): v for k, v in data["control"]["types"].items()}
        path.write_text(_toml(data))
        return path

    def household(
        self, extra: tuple[dict[str, Any], ...] = (), **overrides: dict[str, Any]
    ) -> SimulatedHousehold:
        """Simulators of the sample household's plugs (and `extra` devices), answering on this
        site's topics."""
        specs: list[dict[str, Any]] = [
            {
                "kind": "shelly_gen1",
                "root": "shellies/shellyplug-s-A101",
                "report_period_s": 0.5,
                "appliance": {"kind": "triggered", "cycle_power_w": 2000, "cycle_s": 2.0},
            },
            {
                "kind": "tasmota",
                "topic": "A102",
                "tele_period_s": 0.5,
                "appliance": {"kind": "continuous", "rated_power_w": 2400},
            },
            {
                "kind": "shelly_gen1",
                "root": "shellies/shellyplug-s-A103",
                "report_period_s": 0.5,
                "appliance": {"kind": "continuous", "rated_power_w": 0.5},
            },
        ]
        for spec in specs:
            key = spec.get("root", spec.get("topic"))
            spec.update(overrides.get(str(key).rsplit("-", 1)[-1], {}))
        specs.extend(extra)
        return SimulatedHousehold.from_specs(
            MQTT_HOST, MQTT_PORT, specs, topic_prefix=f"{self.prefix}/"
        )


def _toml(data: dict[str, Any]) -> str:
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f'"{k}" = {value(x)}' for k, x in v.items()) + "}"
        return repr(v)

    for section, values in data.items():
        lines.append(f"[{section}]")
        for key, v in values.items():
            if v is not None:
                lines.append(f"{key} = {value(v)}")
    return "\n".join(lines) + "\n"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`elfe-supervisor <args>` in a subprocess, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "supervisor", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def start_daemon(
    config_path: Path, log: Any, env: dict[str, str] | None = None
) -> subprocess.Popen[Any]:
    """`elfe-supervisor run --config <path>` as systemd starts it, its output into `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "supervisor", "run", "--config", str(config_path)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prefix_topics(dsn: str, prefix: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table, columns in DETAIL_TOPICS.items():
            assignments = sql.SQL(", ").join(
                sql.SQL("{c} = %(p)s || '/' || {c}").format(c=sql.Identifier(c)) for c in columns
            )
            conn.execute(
                sql.SQL("UPDATE {}.{} SET {}").format(
                    sql.Identifier(SCHEMA), sql.Identifier(table), assignments
                ),
                {"p": prefix},
            )


def clear_retained(prefix: str) -> None:
    """Delete every retained message under the prefix (an empty retained publish)."""
    seen: list[str] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-cleaner")
    client.on_message = lambda c, u, m: seen.append(m.topic) if m.retain else None
    client.connect(MQTT_HOST, MQTT_PORT)
    client.subscribe(f"{prefix}/#")
    client.loop_start()
    time.sleep(0.3)
    for topic in set(seen):
        client.publish(topic, b"", qos=1, retain=True).wait_for_publish(2)
    client.loop_stop()
    client.disconnect()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    name = f"elfe_t_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_DSN} is not reachable (run scripts/test.sh): {exc}")
    dsn = psycopg.conninfo.make_conninfo(PG_DSN, dbname=name)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    try:
        database.load(dsn)
        _prefix_topics(dsn, prefix)
        yield Site(dsn=dsn, prefix=prefix, state_dir=tmp_path / "state")
    finally:
        clear_retained(prefix)
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


class Recorder:
    """Every message published under a prefix, for assertions."""

    def __init__(self, prefix: str) -> None:
        self.messages: list[tuple[float, str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-recorder")
        self.client.on_message = self._on_message
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.subscribe(f"{prefix}/#", qos=1)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(
                (time.time(), message.topic, message.payload, bool(message.retain))
            )

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [payload for _, t, payload, _ in self.messages if t == topic]

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(2)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def recorder(site: Site) -> Iterator[Recorder]:
    recorder = Recorder(site.prefix)
    yield recorder
    recorder.close()


@contextmanager
def supervisor_running(config: Config, timeout: float = 20.0) -> Iterator[Any]:
    """The supervisor on the simple base in a background thread, stopped at the end."""
    stop = Stop()
    started = threading.Event()
    result: dict[str, Any] = {}

    def target() -> None:
        result["code"] = run_supervisor(
            config, ready=lambda message: (result.update(started=message), started.set()), stop=stop
        )

    thread = threading.Thread(target=target, name="supervisor", daemon=True)
    thread.start()
    if not started.wait(timeout):
        stop.requested = True
        thread.join(10)
        raise AssertionError("the supervisor did not become ready")
    try:
        yield result["started"]
    finally:
        stop.requested = True
        thread.join(15)
        assert not thread.is_alive(), "the supervisor did not stop"
        assert result.get("code") == 0
