"""MqttGateway: owns the MQTT client (`actors/mqtt_link.py`); validates and routes every inbound
message, publishes every outbound one.

The client socket is watched by the pump in-process (`Pump.watch`, and `Pump.want_write` while
packets wait: every publish of a pass goes out in one `loop_write`), by `ThespianWatch` on
multiprocTCPBase (returned on every path), or polled by a short wakeup in bare actor tests.

Every payload is decoded by the device's codec here, at the edge: a bad one is counted and logged
(rate-limited, naming topic and reason) and never reaches a state machine. Topics are routed with
`protocol/routing.py`; the reports of one read go to each actor in one `DeviceReports`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import paho.mqtt.client as mqtt
from loguru import logger
from thespian.actors import Actor, ActorExitRequest, ThespianWatch, WakeupMessage, WatchMessage

from actors.mqtt_link import MqttLink
from protocol import stimulus
from protocol.batching import ReportBatches
from protocol.config import Config
from protocol.devices import DecodeError, codec_named
from protocol.messages import (
    Configure,
    DeviceReports,
    Introspect,
    IntrospectReply,
    MqttConnected,
    Publish,
    PublishStatus,
    RegisterRoutes,
    Route,
    RoutesRegistered,
    Shutdown,
    ShutdownDone,
    StimulusTargets,
    UnregisterRoutes,
    WriteReady,
)
from protocol.partition import StimulusScope
from protocol.ratelimit import WarnLimiter
from protocol.routing import RoutingTable
from protocol.status import status_topic
from runtime import pump as pumps

POLL_S = 0.02  # bare actor tests (no pump, no ThespianWatch): how often the socket is polled
MISC_S = 1.0  # keepalive and reconnect housekeeping
WARN_EVERY_S = 60.0  # at most one warning per topic per minute
MAX_PAYLOAD = 64 * 1024


@dataclass
class Counters:
    received: int = 0
    reports: int = 0
    rejected: int = 0
    unrouted: int = 0
    published: int = 0
    stimuli: int = 0
    foreign_stimuli: int = 0  # about equipment of another partition, left to it
    dropped_offline: int = 0  # publishes not queued while the broker is unreachable


class MqttGateway(Actor):
    def __init__(self) -> None:
        super().__init__()
        self.config: Config | None = None
        self.link: MqttLink | None = None
        self.table = RoutingTable()
        self.targets: dict[int, Any] = {}
        self.scope = StimulusScope()  # the equipment ids this partition answers for
        self.supervisor: Any = None
        self.status: bytes | None = None
        self.batches = ReportBatches()
        self.counters = Counters()
        self.warnings = WarnLimiter(WARN_EVERY_S)
        self.polling = False
        self.socket_watch: pumps.SocketWatch | None = None

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
            if self.link is not None:
                self.link.write()  # every packet queued during the pump's pass
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
            self.scope = message.scope
        elif isinstance(message, PublishStatus):
            self.status = message.payload
            self._publish_status()
        elif isinstance(message, Configure):
            self._configure(message.config, sender)
        elif isinstance(message, Introspect):
            self.send(message.reply_to or sender, IntrospectReply(self._introspect()))
        elif isinstance(message, Shutdown | ActorExitRequest):
            if self.link is not None:
                self.link.close()
            if isinstance(message, Shutdown):
                self.send(sender, ShutdownDone())

    # --- connection ----------------------------------------------------------------------------

    def _configure(self, config: Config, sender: Any) -> None:
        self.config = config
        self.supervisor = self.supervisor or sender
        share = config.supervisor.share
        if share is not None and self.scope == StimulusScope():  # until the inventory is read
            self.scope = StimulusScope(partition=share.index)
        pump = pumps.current()
        if pump is not None:
            self.socket_watch = pumps.SocketWatch(
                pump, self.myAddress, lambda fd: WatchMessage([fd]), lambda fd: WriteReady()
            )
        self.link = MqttLink(config, self._on_connect, self._on_message, deferred_writes=True)
        self.link.connect()
        self.wakeupAfter(timedelta(seconds=MISC_S), payload="misc")
        if pump is None and config.supervisor.system_base == "simpleSystemBase":
            self.polling = True
            self.wakeupAfter(timedelta(seconds=POLL_S), payload="poll")

    def _on_connect(self, first: bool, session_present: bool) -> None:
        assert self.config is not None and self.link is not None
        base = self.config.mqtt.base_topic
        self.link.subscribe(
            [*self.table.topics(), stimulus.VIRIYA_FILTER, stimulus.operator_filter(base)]
        )
        self._refresh_devices(self.table.devices())
        self._publish_status()
        if self.supervisor is not None:
            self.send(self.supervisor, MqttConnected(time.time(), first=first))

    def _watch(self) -> ThespianWatch | None:
        """After every message: packets written (or the pump asked to), the socket watched."""
        sock = self.link.socket() if self.link is not None else None
        if self.socket_watch is not None:  # the pump writes once its pass is over: one write
            self.socket_watch.sync(sock, self.link is not None and self.link.wants_write())
            return None
        if self.link is not None:
            self.link.write()
        if sock is None or self.polling:
            return None
        return ThespianWatch([sock.fileno()])

    def _on_wakeup(self, message: WakeupMessage) -> None:
        if message.payload == "poll":
            self._read()
            self.wakeupAfter(timedelta(seconds=POLL_S), payload="poll")
            return
        if self.link is not None:
            self.link.housekeeping()
        self.wakeupAfter(timedelta(seconds=MISC_S), payload="misc")

    def _read(self) -> None:
        if self.link is None:
            return
        done = self.link.read()
        for actor, reports in self.batches.drain():
            self.send(actor, DeviceReports(reports))
        if not done and (sock := self.link.socket()) is not None:
            self.send(self.myAddress, WatchMessage([sock.fileno()]))  # more after other messages

    # --- subscriptions -------------------------------------------------------------------------

    def _register(self, owner: int, routes: tuple[Route, ...]) -> None:
        subscribe, unsubscribe = self.table.register(owner, routes)
        if self.link is not None and self.link.connected:
            self.link.unsubscribe(unsubscribe)
            self.link.subscribe(subscribe)
            self._refresh_devices(self.table.devices(owner))

    def _refresh_devices(self, devices: list[Any]) -> None:
        """Ask each device for its current state (Tasmota query, Shelly `update`)."""
        for device in devices:
            for out in codec_named(device.codec).refresh(device):
                self._publish(out.topic, out.payload, out.qos, out.retain, None)

    # --- inbound -------------------------------------------------------------------------------

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
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
        routes = self.table.routes_for(topic)
        if not routes:
            self._on_stimulus(topic, payload, retained, at)
        for route in routes:
            device = route.device
            try:
                report = codec_named(device.codec).decode(device, topic, payload, retained, at)
            except DecodeError as exc:
                self._reject(topic, f"device {device.id}: {exc}")
                continue
            except Exception as exc:  # a codec bug: same treatment, with the exception name
                self._reject(topic, f"device {device.id}: {type(exc).__name__}: {exc}")
                continue
            if report is not None:
                self.counters.reports += 1
                self.batches.add(str(route.actor), route.actor, report)

    def _on_stimulus(self, topic: str, payload: bytes, retained: bool, at: float) -> None:
        assert self.config is not None
        base = self.config.mqtt.base_topic
        try:
            parsed = stimulus.parse(topic, payload, base)
        except stimulus.StimulusError as exc:
            if self.scope.answers(exc.equipment):  # else another partition answers it
                self._reject(topic, str(exc), report=True)
            return
        if parsed is None:
            self.counters.unrouted += 1
            logger.debug("ignoring unrouted topic {}", topic)
            return
        if retained:
            logger.debug("ignoring retained stimulus {}", topic)  # would replay at every restart
            return
        if not self.scope.answers(parsed.equipment):
            self.counters.foreign_stimuli += 1  # the partition that owns it handles it
            return
        self.counters.stimuli += 1
        actor = self.targets.get(parsed.equipment)
        event = stimulus.to_event(parsed, at)
        if actor is None:
            self._reject(topic, f"unknown equipment {parsed.equipment}", report=True)
        elif not isinstance(event, stimulus.Reload):
            self.send(actor, event)
        elif self.supervisor is not None:
            self.send(self.supervisor, event)  # the supervisor has the database re-read

    def _reject(self, topic: str, reason: str, report: bool = False) -> None:
        """Count a bad message, warn at most once a minute per topic; an operator's error goes
        back on `<base>/equipment/<id>/error`."""
        assert self.config is not None
        self.counters.rejected += 1
        more = self.warnings.allow(topic, time.time())
        if more is not None:
            suffix = f" ({more} more since the last warning)" if more else ""
            logger.warning("rejected MQTT message on {}: {}{}", topic, reason, suffix)
        base, parts = self.config.mqtt.base_topic, topic.split("/")
        if report and topic.startswith(base + "/equipment/") and len(parts) >= 2:
            body = stimulus.encode_error(reason)
            self._publish(stimulus.operator_error_topic(base, parts[-2]), body, 1, False, None)

    # --- outbound ------------------------------------------------------------------------------

    def _publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, expiry_s: int | None
    ) -> None:
        if (
            self.link is not None
            and self.link.ever_connected
            and not self.link.connected
            and not retain
        ):
            self.counters.dropped_offline += 1  # stale by the time the broker is back:
            return  # orders are re-asserted on reconnection, presses wait for their answer
        if self.link is not None and self.link.publish(topic, payload, qos, retain, expiry_s):
            self.counters.published += 1

    def _publish_status(self) -> None:
        if self.config is None or self.status is None or self.link is None:
            return
        if self.link.connected:
            topic = status_topic(self.config.mqtt.base_topic, self.config.supervisor.share)
            self._publish(topic, self.status, 1, True, None)

    def _introspect(self) -> dict[str, Any]:
        return {
            "connected": self.link is not None and self.link.connected,
            "subscribed_topics": len(self.table),
            **asdict(self.counters),
        }
