"""The MqttGateway's paho-mqtt client, without paho's thread.

The socket is read with `loop_read` when it is readable (the pump's `watch`, or `ThespianWatch`,
or a polling wakeup), written with `loop_write`, and kept alive with `loop_misc`. Fixed client id,
persistent session (MQTT 5 clean_start False with a session expiry, or MQTT 3.1.1
clean_session False), a retained `<base>/status` whose will says offline, reconnection after a
capped backoff with jitter, logged once per change of state (protocol/failures.py). The password
is read when the client is made, never kept in the configuration. With `deferred_writes` (on the
pump) a publish only queues its packet: the gateway writes every queued packet in one
`loop_write` once the pump's pass is over.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from loguru import logger
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from protocol import partition
from protocol.config import Config
from protocol.failures import Outage, backoff_delay, classify_connack, classify_exception
from protocol.status import OFFLINE, status_topic
from runtime.mqtt_client import BufferedClient
from runtime.secrets import mqtt_password

RECONNECT_MAX_S = 30.0
MAX_INFLIGHT = 1000  # QoS 1 publishes awaiting PUBACK, when the broker allows as many
READ_BURST = 1000  # packets read per readiness before yielding to other messages
SUBSCRIBE_CHUNK = 100  # topics per SUBSCRIBE packet
OFFLINE_WAIT_S = 3.0
MAX_QUEUED = 100_000  # QoS 1 publishes waiting for the broker (a fan-out queues one per equipment)


def new_client(
    config: Config, client_id: str, will_topic: str | None, persistent: bool
) -> mqtt.Client:
    """A paho client with the configured protocol, credentials and TLS, and an offline will;
    `persistent` keeps the session in MQTT 3.1.1 (`clean_session=False`; MQTT 5 sets it at
    connect)."""
    m = config.mqtt
    if m.protocol == "5":
        client = BufferedClient(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
    else:
        client = BufferedClient(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=not persistent,
        )
    if m.username:
        client.username_pw_set(m.username, mqtt_password(m))  # read here, never kept
    if m.ca_file:
        client.tls_set(ca_certs=m.ca_file)
    if will_topic:
        client.will_set(will_topic, OFFLINE, qos=1, retain=True)
    return client


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """Orders leave at once: without this, Nagle holds a publish written right after another
    small packet (a PUBACK) until the broker's delayed ACK, 40 ms later."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttLink:
    def __init__(
        self,
        config: Config,
        on_connect: Callable[[bool, bool], None],
        on_message: Callable[[mqtt.MQTTMessage], None],
        deferred_writes: bool,
    ) -> None:
        """`on_connect(first, session_present)` after each accepted connection."""
        self.config = config
        self.v5 = config.mqtt.protocol == "5"
        self.connected = False
        self.ever_connected = False
        self.connect_called = False
        self.next_attempt = 0.0
        self.attempt = 0  # failed attempts since the last connection: the backoff step
        self.outage = Outage(f"MQTT broker {config.mqtt.host}:{config.mqtt.port}")
        self._on_connected = on_connect
        self._expiries: dict[int, Properties] = {}
        share = config.supervisor.share  # partition k: its own session and status topic
        self.status_topic = status_topic(config.mqtt.base_topic, share)
        client_id = partition.client_id(config.mqtt.client_id, share)
        client = new_client(config, client_id, self.status_topic, persistent=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = lambda c, u, message: on_message(message)
        client.on_socket_open = _no_delay
        client.max_queued_messages_set(MAX_QUEUED)
        if deferred_writes:  # paho then queues packets instead of writing each one at once
            client.on_socket_register_write = lambda c, u, s: None
        self.client: mqtt.Client | None = client

    # --- connection ----------------------------------------------------------------------------

    def connect(self) -> None:
        if self.client is None:
            return
        m = self.config.mqtt
        try:
            if self.connect_called:
                self.client.reconnect()  # same host, port, session properties
            elif self.v5:
                self.connect_called = True
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = m.session_expiry_seconds
                self.client.connect(
                    m.host, m.port, keepalive=m.keepalive, clean_start=False, properties=properties
                )
            else:
                self.connect_called = True
                self.client.connect(m.host, m.port, keepalive=m.keepalive)
        except (OSError, ValueError) as exc:
            self._failed(classify_exception(exc, "mqtt.host").line())

    def _failed(self, cause: str) -> None:
        """Retry after a capped backoff with jitter; log when the broker goes down, every 10
        minutes while it stays down, never once per attempt."""
        now = time.time()
        self.outage, line = self.outage.failed(now, cause)
        if line:
            logger.warning(line)
        self.next_attempt = now + backoff_delay(self.attempt, random.random(), cap=RECONNECT_MAX_S)
        self.attempt += 1

    def housekeeping(self) -> None:
        """Every second or so: reconnect when due, keepalive."""
        if self.client is None:
            return
        if (
            self.client.socket() is None or not self.connected
        ) and time.time() >= self.next_attempt:
            self.connect()
        self.client.loop_misc()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        m = self.config.mqtt
        if reason.is_failure:
            failure = classify_connack(reason.value, bool(m.username))
            self._failed(failure.line() if failure else str(reason))
            return
        first = not self.ever_connected
        self.connected, self.ever_connected, self.attempt = True, True, 0
        self.outage, line = self.outage.recovered(time.time())
        if line:
            logger.info(line)
        # MQTT 5: as many unacknowledged QoS 1 publishes as the broker says it takes (paho keeps
        # 20 whatever the broker says); the fan-out of an EMS run is bounded by this window.
        receive_maximum = getattr(properties, "ReceiveMaximum", None) if self.v5 else None
        if isinstance(client, BufferedClient):
            client.set_inflight_window(min(receive_maximum or 20, MAX_INFLIGHT))
        logger.info(
            "MQTT connected to {}:{} (session present: {})", m.host, m.port, flags.session_present
        )
        self._on_connected(first, bool(flags.session_present))

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self.connected and self.client is None:  # our own disconnect, at shutdown
            logger.info("MQTT disconnected: {}", reason)
            self.connected = False
        elif self.connected:
            self.connected = False
            self._failed(f"disconnected: {reason}")

    # --- socket --------------------------------------------------------------------------------

    def socket(self) -> Any:
        return self.client.socket() if self.client is not None else None

    def read(self) -> bool:
        """Read what the socket holds; False when `READ_BURST` packets were read and more may
        wait (the caller reads again after other messages)."""
        for _ in range(READ_BURST):
            sock = self.socket()
            if sock is None or self.client is None:
                return True
            pending = getattr(sock, "pending", lambda: 0)()  # TLS may hold decrypted bytes
            if not pending and not select.select([sock], [], [], 0)[0]:
                return True
            if self.client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                return True
        return False

    def write(self) -> None:
        client = self.client
        if client is not None and client.socket() is not None and client.want_write():
            client.loop_write()

    def wants_write(self) -> bool:
        return self.client is not None and self.client.want_write()

    # --- packets -------------------------------------------------------------------------------

    def publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, expiry_s: int | None
    ) -> bool:
        """Queue one publish; False when paho's queue is full (it is dropped)."""
        if self.client is None:
            return False
        properties = None
        expiry = (
            expiry_s
            if expiry_s is not None
            else (None if retain else self.config.mqtt.command_expiry_seconds)
        )
        if expiry and self.v5:
            properties = self._expiry_properties(expiry)
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            logger.error("MQTT outgoing queue full, dropped a publish to {}", topic)
            return False
        return True

    def _expiry_properties(self, expiry: int) -> Properties:
        """One PUBLISH Properties per expiry (paho packs them at `publish`): building them for
        each order was a tenth of a fan-out's time."""
        properties = self._expiries.get(expiry)
        if properties is None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.MessageExpiryInterval = expiry
            self._expiries[expiry] = properties
        return properties

    def subscribe(self, topics: list[str]) -> None:
        for start in range(0, len(topics), SUBSCRIBE_CHUNK):  # keep SUBSCRIBE packets small
            chunk = topics[start : start + SUBSCRIBE_CHUNK]
            if chunk and self.client is not None:
                self.client.subscribe([(t, 1) for t in chunk])

    def unsubscribe(self, topics: list[str]) -> None:
        for start in range(0, len(topics), SUBSCRIBE_CHUNK):
            chunk = topics[start : start + SUBSCRIBE_CHUNK]
            if chunk and self.client is not None:
                self.client.unsubscribe(chunk)

    def close(self) -> None:
        """Leave `{"state": "offline"}` retained, then disconnect cleanly."""
        client, self.client = self.client, None
        if client is None:
            return
        if self.connected:
            info = client.publish(self.status_topic, OFFLINE, qos=1, retain=True)
            deadline = time.time() + OFFLINE_WAIT_S
            while (
                not info.is_published() and time.time() < deadline and client.socket() is not None
            ):
                client.loop_write()
                client.loop_read()
                time.sleep(0.01)
            client.disconnect()
            client.loop_write()
        self.connected = False
