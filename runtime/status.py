"""The combined status of the partitions, as MQTT sees it.

- `StatusRelay`, in the daemon that runs K partitions on one host: combines the partitions'
  retained `<base>/status/<k>` into the retained `<base>/status`, with its own LWT, driven by
  `loop()` from the daemon's watch loop (no thread);
- `read_status`, for several hosts where nobody publishes `<base>/status`: reads every
  `<base>/status/<k>` from the broker and combines them (`elfe-supervisor status`).

The document itself is pure code: `protocol/status.py`.
"""

from __future__ import annotations

import contextlib
import os
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import paho.mqtt.client as mqtt
from loguru import logger

from actors.mqtt_link import new_client
from protocol.config import Config
from protocol.status import (
    OFFLINE,
    CombinedStatus,
    combine,
    encode,
    partition_of_topic,
    read_partition,
    status_topic,
)

RECONNECT_S = 5.0


def package_version() -> str:
    """The installed version of the program, for the status documents."""
    try:
        return version("elfe-supervisor")
    except PackageNotFoundError:
        return "unknown"


class StatusRelay:
    """Combines `<base>/status/<k>` into the retained `<base>/status`.

    A partition whose process is dead is down whatever its last message said, and an "online"
    older than the start of its process (retained from an earlier run) does not count.
    """

    def __init__(self, config: Config, count: int) -> None:
        self.config, self.count = config, count
        self.base = config.mqtt.base_topic
        self.topic = status_topic(self.base)
        self.parts: dict[int, bytes | None] = {}
        self.spawned: dict[int, float] = {}  # wall-clock start of each partition process
        self.started_at = int(time.time())
        self.version = package_version()
        self.combined = self._combine()
        self.published: bytes | None = None
        self.connected = False
        self.closing = False
        self.next_attempt = 0.0
        self.client = new_client(config, config.mqtt.client_id, self.topic, persistent=False)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._connect()

    def _connect(self) -> None:
        self.next_attempt = time.monotonic() + RECONNECT_S
        m = self.config.mqtt
        try:
            self.client.connect(m.host, m.port, keepalive=m.keepalive)
        except (OSError, ValueError) as exc:
            logger.warning("status: MQTT broker {}:{} unreachable: {}", m.host, m.port, exc)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            logger.error("status: the MQTT broker refused the connection: {}", reason)
            return
        self.connected = True
        client.subscribe(f"{self.base}/status/+", qos=1)
        self.published = None
        self._publish()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, p: Any) -> None:
        self.connected = False

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        index = partition_of_topic(message.topic, self.base)
        if index is None or index >= self.count:
            return
        status = read_partition(message.payload)
        stale = status is not None and status.started_at < int(self.spawned.get(index, 0))
        if stale and status is not None and status.state == "online":
            return  # from a process that ran before this one
        self.parts[index] = message.payload
        self._publish()

    def process_started(self, index: int) -> None:
        self.spawned[index] = time.time()

    def process_down(self, index: int) -> None:
        self.parts[index] = None
        self._publish()

    def _combine(self) -> CombinedStatus:
        base = self.config.supervisor.system_base
        self.combined = combine(self.parts, self.count, self.version, self.started_at, base)
        return self.combined

    @property
    def state(self) -> tuple[str, int, int]:
        """("online" | "degraded" | "offline", partitions online, partitions)."""
        return self.combined.state, self.count - len(self.combined.down), self.count

    def _publish(self) -> None:
        document = encode(self._combine())
        if self.connected and not self.closing and document != self.published:
            self.client.publish(self.topic, document, qos=1, retain=True)
            self.published = document

    def loop(self, timeout: float) -> None:
        """Serve the broker connection for at most `timeout` seconds (or sleep that long)."""
        if self.client.socket() is None:
            if time.monotonic() >= self.next_attempt:
                with contextlib.suppress(OSError, ValueError):
                    self.client.reconnect()
                self.next_attempt = time.monotonic() + RECONNECT_S
            if self.client.socket() is None:
                time.sleep(timeout)
                return
        self.client.loop(timeout)

    def close(self) -> None:
        """Leave `{"state": "offline"}` retained and disconnect."""
        self.closing = True
        if self.connected:
            info = self.client.publish(self.topic, OFFLINE, qos=1, retain=True)
            deadline = time.monotonic() + 3.0
            while not info.is_published() and time.monotonic() < deadline and self.connected:
                self.client.loop(0.1)
            self.client.disconnect()
            self.client.loop(0.1)


def read_status(config: Config, count: int, wait_s: float = 2.0) -> bytes:
    """The combined status of `count` partitions from their retained `<base>/status/<k>`
    (several hosts: nobody publishes `<base>/status`, this reads the view from the broker);
    without partitions (`count` 1), the retained `<base>/status` itself."""
    base = config.mqtt.base_topic
    parts: dict[int, bytes | None] = {}
    client = new_client(
        config, f"{config.mqtt.client_id}-status-{os.getpid()}", None, persistent=False
    )
    topic = f"{base}/status/+" if count > 1 else status_topic(base)
    client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)

    def on_message(c: Any, u: Any, message: mqtt.MQTTMessage) -> None:
        index = 0 if count == 1 else partition_of_topic(message.topic, base)
        if index is not None:
            parts[index] = message.payload

    client.on_message = on_message
    client.connect(config.mqtt.host, config.mqtt.port, keepalive=config.mqtt.keepalive)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and len(parts) < count:
        client.loop(0.1)
    client.disconnect()
    if count == 1:
        return parts.get(0) or OFFLINE
    document = combine(parts, count, package_version(), 0, config.supervisor.system_base)
    return encode(document)
