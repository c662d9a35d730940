"""`elfe-supervisor record`: write a capture of a site's MQTT traffic, EMS plans and coordination
row changes (format: `protocol/capture.py`).

One process, no thread: the MQTT client's socket is served with `loop()`, the databases are
polled every `poll_s` (new `result` rows, changed coordination rows). The snapshot the replay
starts from is taken at the start, so that the capture's row changes follow it exactly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt
import psycopg
from loguru import logger

from actors import sql, sql_plans
from protocol import capture
from protocol import snapshot as snapshots
from protocol.config import Config
from protocol.inventory import attach_details, build_inventory
from protocol.model import EquipmentSpec
from replay import database

POLL_S = 5.0


@dataclass
class Counts:
    messages: int = 0
    plans: int = 0
    rows: int = 0
    database_errors: int = 0
    subscriptions: tuple[str, ...] = field(default_factory=tuple)


def inventory(conn: psycopg.Connection, config: Config) -> list[EquipmentSpec]:
    """The equipment the supervisor would drive, read as the DbGateway reads it."""
    schema = config.coordination.schema
    rows = sql.load_equipment(conn, schema)
    devices = sql.load_devices(conn, schema)
    details = sql.load_details(conn, schema, [d.type_name for d in devices if d.type_name])
    return build_inventory(rows, attach_details(devices, details), config)


class Recorder:
    """Writes every line of the capture as it comes (flushed every poll)."""

    def __init__(self, config: Config, out: IO[bytes], poll_s: float = POLL_S) -> None:
        self.config = config
        self.out = out
        self.poll_s = poll_s
        self.counts = Counts()
        self.tables: dict[str, snapshots.Table] = {}
        self.last_plan_id = 0
        self.client: mqtt.Client | None = None

    def start(self, snapshot_out: Path | None = None) -> None:
        """Read the databases (raises psycopg.Error), write the header, connect to the broker."""
        config = self.config
        now = time.time()
        with database.connect(config.coordination.dsn) as conn:
            specs = inventory(conn, config)
        snapshot = database.take_snapshot(config, now)
        if snapshot_out is not None:
            snapshot_out.write_bytes(snapshots.encode(snapshot))
        self.tables = snapshot.tables
        with database.connect(config.ems_dsn) as conn:
            self.last_plan_id = sql_plans.max_plan_id(conn, config.ems.table)
            notify = bool(config.ems.notify_channel) and sql_plans.has_trigger(
                conn, config.ems.table
            )
        topics = capture.subscriptions(specs, config.mqtt.base_topic)
        self.counts.subscriptions = topics
        header = capture.Header(
            format=capture.FORMAT,
            version=capture.VERSION,
            started_at=now,
            base_topic=config.mqtt.base_topic,
            subscriptions=topics,
            schema=config.coordination.schema,
            ems_table=config.ems.table,
            ems_notify=notify,
            config_digest=capture.config_digest(config),
            config=capture.public_config(config),
            recorder=f"elfe-supervisor {_version()}",
        )
        self.out.write(capture.encode(header))
        self.client = self._client(topics)

    def _client(self, topics: tuple[str, ...]) -> mqtt.Client:
        m = self.config.mqtt
        client_id = f"{m.client_id}-record-{os.getpid()}"
        if m.protocol == "5":
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
            )
        else:
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
            )
        if m.username:
            client.username_pw_set(m.username, m.password)
        if m.ca_file:
            client.tls_set(ca_certs=m.ca_file)

        def on_connect(client: mqtt.Client, *args: Any) -> None:
            # QoS 2: each message is delivered with the QoS it was published with.
            client.subscribe([(topic, 2) for topic in topics])
            logger.info("recording {} topic filters from {}:{}", len(topics), m.host, m.port)

        client.on_connect = on_connect
        client.on_message = self._on_message
        client.connect(m.host, m.port, keepalive=m.keepalive)
        return client

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        line = capture.mqtt_line(
            time.time(), message.topic, message.payload, message.qos, bool(message.retain)
        )
        self.out.write(capture.encode(line))
        self.counts.messages += 1

    def poll(self) -> None:
        """New EMS rows and changed coordination rows since the last poll."""
        config = self.config
        now = time.time()
        try:
            with database.connect(config.ems_dsn) as conn:
                plans = database.read_plans(conn, config.ems.table, self.last_plan_id, now)
            with database.connect(config.coordination.dsn) as conn:
                tables = database.read_coordination(conn, config.coordination.schema)
        except psycopg.Error as exc:
            self.counts.database_errors += 1
            logger.warning("database not read, will try again: {}", str(exc).strip()[:200])
            return
        for plan in capture.plan_lines(plans, now):
            self.out.write(capture.encode(plan))
            self.last_plan_id = max(self.last_plan_id, plan.id)
            self.counts.plans += 1
        for change in capture.row_changes(self.tables, tables, now):
            self.out.write(capture.encode(change))
            self.counts.rows += 1
        self.tables = tables
        self.out.flush()

    def run(self, until: float | None, stopped: Callable[[], bool]) -> None:
        assert self.client is not None
        next_poll = time.monotonic() + self.poll_s
        while not stopped() and (until is None or time.monotonic() < until):
            rc = self.client.loop(timeout=0.1)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                time.sleep(0.5)
                try:
                    self.client.reconnect()
                except OSError as exc:
                    logger.warning("MQTT broker unreachable, will try again: {}", exc)
            if time.monotonic() >= next_poll:
                self.poll()
                next_poll = time.monotonic() + self.poll_s

    def finish(self) -> None:
        self.poll()
        if self.client is not None:
            self.client.disconnect()
        self.out.write(capture.encode(capture.End(time=time.time())))
        self.out.flush()


def record(
    config: Config,
    out: Path,
    seconds: float | None,
    stopped: Callable[[], bool],
    snapshot_out: Path | None = None,
    poll_s: float = POLL_S,
) -> int:
    """Record until `stopped()` or for `seconds`; 0 when done, 1 when a server is unreachable."""
    started = time.monotonic()
    with out.open("wb") as stream:
        recorder = Recorder(config, stream, poll_s)
        try:
            recorder.start(snapshot_out)
        except (psycopg.Error, OSError) as exc:
            logger.error("cannot start recording: {}", str(exc).strip().splitlines()[0])
            return 1
        recorder.run(None if seconds is None else started + seconds, stopped)
        recorder.finish()
    counts = recorder.counts
    logger.info(
        "recorded {:.0f} s into {}: {} messages, {} plans, {} row changes",
        time.monotonic() - started,
        out,
        counts.messages,
        counts.plans,
        counts.rows,
    )
    return 0


def _version() -> str:
    from actors.supervisor import package_version

    return package_version()
