"""MqttGateway: owns the paho-mqtt client; validates and routes every inbound message.

No paho thread: the client's socket is driven by `ThespianWatch` (multiprocTCPBase) or by a short
polling wakeup (simpleSystemBase, which cannot watch sockets), with `loop_read/loop_write/
loop_misc`. Fixed client id, persistent session (MQTT 5 clean_start False, or MQTT 3.1.1
clean_session False for brokers without MQTT 5), QoS 1, and a
retained `<base>/status` whose LWT says offline.

Every payload is decoded by the device's codec here, at the edge: a bad one is counted and logged
(rate-limited, naming topic and reason) and never reaches a state machine.
"""

from __future__ import annotations

import select
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import paho.mqtt.client as mqtt
from loguru import logger
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from thespian.actors import Actor, ActorExitRequest, ThespianWatch, WakeupMessage, WatchMessage

from protocol import stimulus
from protocol.config import Config
from protocol.devices import DecodeError, codec_named
from protocol.messages import (
    Configure,
    DeviceReport,
    DeviceReports,
    ForceStart,
    Introspect,
    IntrospectReply,
    ModeRequested,
    MqttConnected,
    Publish,
    PublishStatus,
    Reassert,
    RegisterRoutes,
    Route,
    RoutesRegistered,
    Shutdown,
    ShutdownDone,
    StimulusTargets,
    UnregisterRoutes,
    WriteReady,
)
from protocol.status import OFFLINE, status_topic
from runtime import pump as pumps
from runtime.mqtt_client import BufferedClient

POLL_S = 0.02  # simpleSystemBase: how often the socket is polled
MISC_S = 1.0  # keepalive and reconnect housekeeping
RECONNECT_MAX_S = 30.0
WARN_EVERY_S = 60.0  # at most one warning per topic per minute
MAX_PAYLOAD = 64 * 1024
MAX_QUEUED = 100_000  # QoS 1 publishes awaiting the broker: 10 orders per tank at N = 10 000
READ_BURST = 1000  # packets read per wakeup before yielding to other messages


@dataclass
class Counters:
    received: int = 0
    reports: int = 0
    rejected: int = 0
    unrouted: int = 0
    published: int = 0
    stimuli: int = 0
    warned: dict[str, float] = field(default_factory=dict)  # topic -> last warning time
    suppressed: dict[str, int] = field(default_factory=dict)


class MqttGateway(Actor):
    def __init__(self) -> None:
        super().__init__()
        self.config: Config | None = None
        self.client: mqtt.Client | None = None
        self.connected = False
        self.ever_connected = False
        self.connect_called = False
        self.next_attempt = 0.0
        self.backoff = 1.0
        self.routes: dict[str, list[Route]] = {}
        self.owned: dict[int, tuple[Route, ...]] = {}
        self.targets: dict[int, Any] = {}
        self.supervisor: Any = None
        self.status: bytes | None = None
        self.batches: dict[str, tuple[Any, list[DeviceReport]]] = {}
        self.counters = Counters()
        self.expiry_properties: dict[int, Properties] = {}
        self.polling = False
        self.pump: pumps.Pump | None = None
        self.watched: Any = None  # the client socket the pump watches
        self.watched_fd = -1

    # Thespian calls this for every message; the watch must be returned on every path.
    def receiveMessage(self, message: Any, sender: Any) -> ThespianWatch | None:
        try:
            self._dispatch(message, sender)
        except Exception:  # a bug must not stop the socket from being watched
            logger.exception("MqttGateway failed on {}", type(message).__name__)
        return self._watch()

    def _dispatch(self, message: Any, sender: Any) -> None:
        if isinstance(message, WatchMessage):
            self._read()
        elif isinstance(message, WriteReady):
            self._write(now=True)
        elif isinstance(message, WakeupMessage):
            self._on_wakeup(message)
        elif isinstance(message, Publish):
            self._publish(
                message.topic, message.payload, message.qos, message.retain, message.expiry_s
            )
        elif isinstance(message, RegisterRoutes):
            self._register(message.owner, message.routes)
            self.send(sender, RoutesRegistered(message.owner))
        elif isinstance(message, UnregisterRoutes):
            self._register(message.owner, ())
        elif isinstance(message, StimulusTargets):
            self.targets = dict(message.targets)
            self.supervisor = message.supervisor
        elif isinstance(message, PublishStatus):
            self.status = message.payload
            self._publish_status()
        elif isinstance(message, Configure):
            self._configure(message.config, sender)
        elif isinstance(message, Introspect):
            self.send(message.reply_to or sender, IntrospectReply(self._introspect()))
        elif isinstance(message, Shutdown):
            self._shutdown()
            self.send(sender, ShutdownDone())
        elif isinstance(message, ActorExitRequest):
            self._shutdown()

    # --- connection ----------------------------------------------------------------------------

    def _configure(self, config: Config, sender: Any) -> None:
        self.config = config
        self.supervisor = self.supervisor or sender
        m = config.mqtt
        if self._v5:
            client = BufferedClient(
                mqtt.CallbackAPIVersion.VERSION2, client_id=m.client_id, protocol=mqtt.MQTTv5
            )
        else:  # a persistent session is `clean_session=False` in MQTT 3.1.1
            client = BufferedClient(
                mqtt.CallbackAPIVersion.VERSION2,
                client_id=m.client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
            )
        if m.username:
            client.username_pw_set(m.username, m.password)
        if m.ca_file:
            client.tls_set(ca_certs=m.ca_file)
        client.will_set(status_topic(m.base_topic), OFFLINE, qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.max_queued_messages_set(MAX_QUEUED)
        self.pump = pumps.current()
        if self.pump is not None:  # writes wait for the end of the pump's pass: one write a burst
            client.on_socket_register_write = lambda c, u, s: None
        self.client = client
        self._connect()
        self.wakeupAfter(timedelta(seconds=MISC_S), payload="misc")
        if self.pump is None and config.supervisor.system_base == "simpleSystemBase":
            self.polling = True
            self.wakeupAfter(timedelta(seconds=POLL_S), payload="poll")

    def _connect(self) -> None:
        assert self.client is not None and self.config is not None
        m = self.config.mqtt
        try:
            if self.connect_called:
                self.client.reconnect()  # same host, port, session properties
            elif self._v5:
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
            if self.backoff == 1.0 or self.backoff >= RECONNECT_MAX_S:
                logger.warning("MQTT broker {}:{} unreachable: {}", m.host, m.port, exc)
            self.next_attempt = time.time() + self.backoff
            self.backoff = min(self.backoff * 2, RECONNECT_MAX_S)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        assert self.config is not None
        if reason.is_failure:
            logger.error("MQTT broker refused the connection: {}", reason)
            return
        first = not self.ever_connected
        self.connected, self.ever_connected, self.backoff = True, True, 1.0
        logger.info(
            "MQTT connected to {}:{} (session present: {})",
            self.config.mqtt.host,
            self.config.mqtt.port,
            flags.session_present,
        )
        self._subscribe(list(self.routes) + self._stimulus_filters())
        self._refresh_devices([r.device for routes in self.routes.values() for r in routes])
        self._publish_status()
        if self.supervisor is not None:
            self.send(self.supervisor, MqttConnected(time.time(), first=first))

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self.connected:
            logger.warning("MQTT disconnected: {}", reason)
        self.connected = False
        self.next_attempt = time.time() + self.backoff

    @property
    def _v5(self) -> bool:
        return self.config is None or self.config.mqtt.protocol == "5"

    def _watch(self) -> ThespianWatch | None:
        sock = self.client.socket() if self.client is not None else None
        if self.pump is not None:
            self._sync_pump(sock)
            return None
        if sock is None or self.polling:
            return None
        return ThespianWatch([sock.fileno()])

    def _sync_pump(self, sock: Any) -> None:
        """The pump watches the current client socket, and for writing while data waits."""
        assert self.pump is not None
        if sock is not self.watched:
            if self.watched is not None:
                self.pump.unwatch(self.watched_fd)
            self.watched = sock
            if sock is not None:
                self.watched_fd = sock.fileno()
                self.pump.watch(self.watched_fd, self.myAddress, WatchMessage([self.watched_fd]))
        if sock is not None and self.client is not None and self.client.want_write():
            self.pump.want_write(self.watched_fd, self.myAddress, WriteReady())

    def _on_wakeup(self, message: WakeupMessage) -> None:
        if message.payload == "poll":
            self._read()
            self.wakeupAfter(timedelta(seconds=POLL_S), payload="poll")
            return
        if self.client is not None:
            disconnected = self.client.socket() is None or not self.connected
            if disconnected and time.time() >= self.next_attempt:
                self._connect()
            self.client.loop_misc()
            self._write()
        self.wakeupAfter(timedelta(seconds=MISC_S), payload="misc")

    def _read(self) -> None:
        if self.client is None:
            return
        for _ in range(READ_BURST):
            sock = self.client.socket()
            if sock is None:
                break
            pending = getattr(sock, "pending", lambda: 0)()  # TLS may hold decrypted bytes
            if not pending and not select.select([sock], [], [], 0)[0]:
                break
            if self.client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                break
        else:  # the burst is over with data still buffered: read on after the other messages
            sock = self.client.socket()
            if sock is not None and getattr(sock, "pending", lambda: 0)():
                self.send(self.myAddress, WatchMessage([]))
        self._flush_batches()
        self._write()

    def _write(self, now: bool = False) -> None:
        if self.pump is not None and not now:
            return  # the pump asks for the write once the pass is over (`WriteReady`)
        if (
            self.client is not None
            and self.client.socket() is not None
            and self.client.want_write()
        ):
            self.client.loop_write()

    # --- subscriptions -------------------------------------------------------------------------

    def _register(self, owner: int, routes: tuple[Route, ...]) -> None:
        for old in self.owned.pop(owner, ()):
            remaining = [r for r in self.routes.get(old.topic, []) if r is not old]
            if remaining:
                self.routes[old.topic] = remaining
            else:
                self.routes.pop(old.topic, None)
                if self.connected and self.client is not None:
                    self.client.unsubscribe(old.topic)
        new_topics = [r.topic for r in routes if r.topic not in self.routes]
        for route in routes:
            self.routes.setdefault(route.topic, []).append(route)
        if routes:
            self.owned[owner] = routes
        if self.connected:
            self._subscribe(sorted(set(new_topics)))
            self._refresh_devices([r.device for r in routes])
        self._write()

    def _stimulus_filters(self) -> list[str]:
        assert self.config is not None
        return [stimulus.VIRIYA_FILTER, stimulus.operator_filter(self.config.mqtt.base_topic)]

    def _subscribe(self, topics: list[str]) -> None:
        assert self.client is not None
        for start in range(0, len(topics), 100):  # keep SUBSCRIBE packets small
            chunk = topics[start : start + 100]
            if chunk:
                self.client.subscribe([(t, 1) for t in chunk])

    def _refresh_devices(self, devices: list[Any]) -> None:
        """Ask each device for its current state (Tasmota query, Shelly `update`)."""
        seen = set()
        for device in devices:
            if device.id in seen:
                continue
            seen.add(device.id)
            for out in codec_named(device.codec).refresh(device):
                self._publish(out.topic, out.payload, out.qos, out.retain, None)

    # --- inbound -------------------------------------------------------------------------------

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.counters.received += 1
        topic, payload, retained, at = (
            message.topic,
            message.payload,
            bool(message.retain),
            time.time(),
        )
        if len(payload) > MAX_PAYLOAD:
            self._reject(topic, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
            return
        routes = self.routes.get(topic)
        if routes:
            for route in routes:
                self._decode(route, topic, payload, retained, at)
            return
        self._on_stimulus(topic, payload, retained, at)

    def _decode(self, route: Route, topic: str, payload: bytes, retained: bool, at: float) -> None:
        device = route.device
        try:
            report = codec_named(device.codec).decode(device, topic, payload, retained, at)
        except DecodeError as exc:
            self._reject(topic, f"device {device.id}: {exc}")
            return
        except Exception as exc:  # a codec bug: same treatment, with the exception name
            self._reject(topic, f"device {device.id}: {type(exc).__name__}: {exc}")
            return
        if report is None:
            return
        self.counters.reports += 1
        key = str(route.actor)
        self.batches.setdefault(key, (route.actor, []))[1].append(report)

    def _flush_batches(self) -> None:
        for actor, reports in self.batches.values():
            self.send(actor, DeviceReports(tuple(reports)))
        self.batches.clear()

    def _on_stimulus(self, topic: str, payload: bytes, retained: bool, at: float) -> None:
        assert self.config is not None
        base = self.config.mqtt.base_topic
        try:
            parsed = stimulus.parse(topic, payload, base)
        except stimulus.StimulusError as exc:
            self._reject(topic, str(exc))
            self._report_error(topic, str(exc))
            return
        if parsed is None:
            self.counters.unrouted += 1
            logger.debug("ignoring unrouted topic {}", topic)
            return
        if retained:
            logger.debug("ignoring retained stimulus {}", topic)  # would replay at every restart
            return
        self.counters.stimuli += 1
        actor = self.targets.get(parsed.equipment)
        if actor is None:
            self._reject(topic, f"unknown equipment {parsed.equipment}")
            self._report_error(topic, f"unknown equipment {parsed.equipment}")
            return
        if isinstance(parsed, stimulus.SetMode):
            self.send(actor, ModeRequested(parsed.equipment, parsed.mode, parsed.source, at))
        elif isinstance(parsed, stimulus.StartNow):
            self.send(actor, ForceStart(parsed.equipment, parsed.source, at))
        elif isinstance(parsed, stimulus.Refresh):
            self.send(actor, Reassert(f"refresh requested by {parsed.source}", at))
        elif self.supervisor is not None:
            self.send(self.supervisor, parsed)  # Reload: the supervisor has the database re-read

    def _report_error(self, topic: str, error: str) -> None:
        assert self.config is not None
        parts = topic.split("/")
        base = self.config.mqtt.base_topic
        if topic.startswith(base + "/equipment/") and len(parts) >= 2:
            body = stimulus.encode_error(error)
            self._publish(stimulus.operator_error_topic(base, parts[-2]), body, 1, False, None)

    def _reject(self, topic: str, reason: str) -> None:
        """Count a bad message and warn about it at most once a minute per topic."""
        self.counters.rejected += 1
        now = time.time()
        last = self.counters.warned.get(topic)
        if last is not None and now - last < WARN_EVERY_S:
            self.counters.suppressed[topic] = self.counters.suppressed.get(topic, 0) + 1
            return
        more = self.counters.suppressed.pop(topic, 0)
        self.counters.warned[topic] = now
        suffix = f" ({more} more since the last warning)" if more else ""
        logger.warning("rejected MQTT message on {}: {}{}", topic, reason, suffix)

    # --- outbound ------------------------------------------------------------------------------

    def _publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, expiry_s: int | None
    ) -> None:
        if self.client is None:
            return
        properties = None
        expiry = (
            expiry_s
            if expiry_s is not None
            else (self.config.mqtt.command_expiry_seconds if self.config and not retain else None)
        )
        if expiry and self._v5:
            properties = self.expiry_properties.get(expiry)
            if properties is None:  # built once: paho's Properties() costs 100 µs a publish
                properties = self.expiry_properties[expiry] = Properties(PacketTypes.PUBLISH)
                properties.MessageExpiryInterval = expiry
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            logger.error("MQTT outgoing queue full, dropped a publish to {}", topic)
            return
        self.counters.published += 1
        self._write()

    def _publish_status(self) -> None:
        if self.config is not None and self.status is not None and self.connected:
            self._publish(status_topic(self.config.mqtt.base_topic), self.status, 1, True, None)

    def _shutdown(self) -> None:
        """Leave `{"state": "offline"}` retained, then disconnect cleanly."""
        if self.client is None or self.config is None:
            return
        client, self.client = self.client, None
        if self.connected:
            info = client.publish(
                status_topic(self.config.mqtt.base_topic), OFFLINE, qos=1, retain=True
            )
            deadline = time.time() + 3.0
            while (
                not info.is_published() and time.time() < deadline and client.socket() is not None
            ):
                client.loop_write()
                client.loop_read()
                time.sleep(0.01)
            client.disconnect()
            client.loop_write()
        self.connected = False

    def _introspect(self) -> dict[str, Any]:
        c = self.counters
        return {
            "connected": self.connected,
            "subscribed_topics": len(self.routes),
            "received": c.received,
            "reports": c.reports,
            "rejected": c.rejected,
            "unrouted": c.unrouted,
            "stimuli": c.stimuli,
            "published": c.published,
        }
