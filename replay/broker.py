"""The broker of a replay: an in-memory stand-in for paho's `Client`, behind the MqttGateway.

The gateway keeps its own code path: it connects, subscribes, reads with `loop_read` when told
its socket is readable (`WatchMessage`), publishes. Here a connection is a flag, the socket a
pipe that is never written (for `select`), inbound messages wait in a queue until the replay
tells the gateway to read, and every publish is handed to `on_publish` instead of the network.
The broker side keeps what a real one keeps: retained messages (sent again on each new
subscription), the supervisor's will, and QoS 1/2 messages for a persistent session while the
connection is down.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import paho.mqtt.client as paho

from protocol.faults import matches

Deliver = Callable[[str, bytes, int, bool, str | None], None]


class Message(SimpleNamespace):
    """What `on_message` reads from paho's MQTTMessage."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


class Broker:
    """The broker's side: connection state, subscriptions, retained messages, the will."""

    def __init__(self, on_publish: Deliver) -> None:
        self.on_publish = on_publish
        self.up = True
        self.client: Client | None = None
        self.retained: dict[str, tuple[bytes, int]] = {}
        self.filters: list[str] = []
        self.session: deque[Message] = deque()  # QoS >= 1 kept while the client is away
        self.will: tuple[str, bytes, int, bool] | None = None
        self.connections = 0

    # --- what the world sends (the capture) ----------------------------------------------------

    def inbound(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if retain:
            self._retain(topic, payload, qos)
        if not self.up:
            return  # nobody is connected: the device's message is lost for the supervisor
        if any(matches(f, topic) for f in self.filters):
            message = Message(topic=topic, payload=payload, qos=qos, retain=retain)
            client = self.client
            if client is not None and client.connected:
                client.inbound.append(message)
            elif qos > 0:
                self.session.append(message)

    def _retain(self, topic: str, payload: bytes, qos: int) -> None:
        if payload:
            self.retained[topic] = (payload, qos)
        else:
            self.retained.pop(topic, None)

    # --- faults --------------------------------------------------------------------------------

    def go_down(self) -> None:
        """The connection is lost: the will is published, the client learns it on its next read."""
        self.up = False
        client = self.client
        if client is not None and client.connected:
            client.inbound.append("lost")
            if self.will is not None:
                topic, payload, qos, retain = self.will
                if retain:
                    self._retain(topic, payload, qos)
                self.on_publish(topic, payload, qos, retain, "will (connection lost)")

    def come_back(self) -> None:
        self.up = True

    # --- what the client does -------------------------------------------------------------------

    def connect(self, client: Client) -> None:
        if not self.up:
            raise ConnectionRefusedError(111, "Connection refused (replay fault: broker down)")
        self.client = client
        self.connections += 1
        client.connected = True
        client.inbound.append("connack")
        client.inbound.extend(self.session)
        self.session.clear()

    def subscribe(self, topics: list[str]) -> None:
        for topic_filter in topics:
            if topic_filter not in self.filters:
                self.filters.append(topic_filter)
            client = self.client
            for topic, (payload, qos) in sorted(self.retained.items()):
                if client is not None and matches(topic_filter, topic):
                    client.inbound.append(
                        Message(topic=topic, payload=payload, qos=qos, retain=True)
                    )

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if retain:
            self._retain(topic, payload, qos)
        self.on_publish(topic, payload, qos, retain, None)


class Client:
    """paho.mqtt.client.Client as the MqttGateway uses it, on the replay's broker."""

    broker: Broker  # set by the replay before the gateway creates its client

    def set_inflight_window(self, size: int) -> None:
        """The replay's broker acknowledges at once: no window to keep."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.connected = False
        self.inbound: deque[Message | str] = deque()
        self.outbox: list[tuple[str, bytes, int, bool]] = []  # QoS >= 1 while disconnected
        self.on_connect: Any = None
        self.on_disconnect: Any = None
        self.on_message: Any = None
        self.on_socket_register_write: Any = None
        self._read_fd, self._write_fd = os.pipe()
        self._socket = _Socket(self)
        self.will: tuple[str, bytes, int, bool] | None = None

    # configuration
    def username_pw_set(self, *args: Any) -> None: ...
    def tls_set(self, *args: Any, **kwargs: Any) -> None: ...
    def max_queued_messages_set(self, *args: Any) -> None: ...

    def will_set(self, topic: str, payload: Any, qos: int = 0, retain: bool = False) -> None:
        data = payload if isinstance(payload, bytes) else str(payload).encode()
        self.will = (topic, data, qos, retain)

    # connection
    def connect(self, *args: Any, **kwargs: Any) -> int:
        self.broker.will = self.will
        self.broker.connect(self)
        return paho.MQTT_ERR_SUCCESS

    def reconnect(self) -> int:
        return self.connect()

    def disconnect(self, *args: Any, **kwargs: Any) -> int:
        self.connected = False
        return paho.MQTT_ERR_SUCCESS

    def socket(self) -> _Socket | None:
        return self._socket if self.connected or self.inbound else None

    def want_write(self) -> bool:
        return False

    def loop_write(self, *args: Any) -> int:
        return paho.MQTT_ERR_SUCCESS

    def loop_misc(self) -> int:
        return paho.MQTT_ERR_SUCCESS

    def loop_read(self, *args: Any) -> int:
        if not self.inbound:
            return paho.MQTT_ERR_SUCCESS
        item = self.inbound.popleft()
        if item == "connack":
            self._flush_outbox()
            flags = SimpleNamespace(session_present=self.broker.connections > 1)
            reason = SimpleNamespace(is_failure=False, value=0)
            if self.on_connect is not None:
                self.on_connect(self, None, flags, reason, None)
        elif item == "lost":
            self.connected = False
            self.inbound.clear()
            if self.on_disconnect is not None:
                reason = SimpleNamespace(is_failure=True, value=7)
                self.on_disconnect(self, None, SimpleNamespace(), reason, None)
            return paho.MQTT_ERR_CONN_LOST
        elif isinstance(item, Message) and self.on_message is not None:
            self.on_message(self, None, item)
        return paho.MQTT_ERR_SUCCESS

    # traffic
    def subscribe(self, topics: Any, qos: int = 0, **kwargs: Any) -> tuple[int, int]:
        filters = [topics] if isinstance(topics, str) else [t for t, _ in topics]
        if self.connected:
            self.broker.subscribe(filters)
        return paho.MQTT_ERR_SUCCESS, 1

    def unsubscribe(self, topic: Any, **kwargs: Any) -> tuple[int, int]:
        return paho.MQTT_ERR_SUCCESS, 1

    def publish(
        self, topic: str, payload: Any = None, qos: int = 0, retain: bool = False, **kwargs: Any
    ) -> Any:
        data = payload if isinstance(payload, bytes) else str(payload or "").encode()
        if self.connected:
            self.broker.publish(topic, data, qos, retain)
            rc = paho.MQTT_ERR_SUCCESS
        else:
            if qos > 0:
                self.outbox.append((topic, data, qos, retain))
            rc = paho.MQTT_ERR_NO_CONN
        return SimpleNamespace(rc=rc, mid=0, is_published=lambda: True)

    def _flush_outbox(self) -> None:
        outbox, self.outbox = self.outbox, []
        for topic, data, qos, retain in outbox:
            self.broker.publish(topic, data, qos, retain)

    def pending(self) -> bool:
        return bool(self.inbound)


class _Socket:
    def __init__(self, client: Client) -> None:
        self.client = client

    def fileno(self) -> int:
        return self.client._read_fd  # a pipe never written: `select` says "not readable"

    def pending(self) -> int:
        return len(self.client.inbound)


class PahoModule(SimpleNamespace):
    """`paho.mqtt.client` as the gateway sees it during a replay: `Client` is the stand-in."""

    def __init__(self, broker: Broker) -> None:
        client = type("Client", (Client,), {"broker": broker})
        names = {n: getattr(paho, n) for n in dir(paho) if not n.startswith("_")}
        super().__init__(**{**names, "Client": client})
