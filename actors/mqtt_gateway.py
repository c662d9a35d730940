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
from actors.vitals import Vital
from protocol import stimulus
from protocol.batching import ReportBatches
from protocol.config import Config
from protocol.devices import codec_named, decode
from protocol.messages import (
    Configure,
    DeviceReports,
    Introspect,
    IntrospectReply,
    MqttConnected,
    Publish,
    PublishStatus,
    RawMessage,
    RawMessages,
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


class MqttGateway(Vital, Actor):
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
        self.raw = ReportBatches()  # messages for the screens' raw routes
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
        self._send_raw()
        if not done and (sock := self.link.socket()) is not None:
            self.send(self.myAddress, WatchMessage([sock.fileno()]))  # more after other messages

    # --- subscriptions -------------------------------------------------------------------------

    def _register(self, owner: int | str, routes: tuple[Route, ...]) -> None:
        subscribe, unsubscribe = self.table.register(owner, routes)
        self._send_raw(self.table.replays(owner, subscribe))  # retained, heard before the route
        if self.link is not None and self.link.connected:
            self.link.unsubscribe(unsubscribe)
            self.link.subscribe(subscribe)
            self._refresh_devices(self.table.devices(owner))

    def _send_raw(self, kept: list[tuple[Any, RawMessage]] | None = None) -> None:
        for actor, message in kept or ():
            self.raw.add(str(actor), actor, message)
        for actor, messages in self.raw.drain():
            self.send(actor, RawMessages(messages))

    def _refresh_devices(self, devices: list[Any]) -> None:
        """Ask each device for its current state (Tasmota query, Shelly `update`)."""
        for device in devices:
            for out in codec_named(device.codec).refresh(device):
                self._publish(out.topic, out.payload, out.qos, out.retain, None)

    # --- inbound -------------------------------------------------------------------------------

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        self.counters.received += 1
        topic, payload, at = message.topic, message.payload, time.time()
        retained = bool(message.retain)
        if len(payload) > MAX_PAYLOAD:
            self._reject(topic, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
            return
        routes = self.table.routes_for(topic)
        if not routes:
            self._on_stimulus(topic, payload, retained, at)
        self.table.remember(raw := RawMessage(topic, payload, retained, at))
        for route in routes:
            if route.raw:  # a household screen parses its own topics
                self.raw.add(str(route.actor), route.actor, raw)
                continue
            report, error = decode(route.device, topic, payload, retained, at)
            if error is not None:
                self._reject(topic, error)
            elif report is not None:
                self.counters.reports += 1
                self.batches.add(str(route.actor), route.actor, report)

    def _on_stimulus(self, topic: str, payload: bytes, retained: bool, at: float) -> None:
        assert self.config is not None
        base = self.config.mqtt.base_topic
        verdict = stimulus.judge(topic, payload, retained, base, self.scope, self.targets, at)
        if verdict.counter is not None:
            setattr(self.counters, verdict.counter, getattr(self.counters, verdict.counter) + 1)
        if verdict.ignored is not None:
            logger.debug("ignoring {} {}", verdict.ignored, topic)
        if verdict.error is not None:
            self._reject(topic, verdict.error, report=True)
        elif isinstance(verdict.event, stimulus.Reload):
            if self.supervisor is not None:  # the supervisor has the database re-read
                self.send(self.supervisor, verdict.event)
        elif verdict.event is not None:
            self.send(self.targets[verdict.equipment], verdict.event)

    def _reject(self, topic: str, reason: str, report: bool = False) -> None:
        """Count a bad message, warn at most once a minute per topic; an operator's error goes
        back on `<base>/equipment/<id>/error`."""
        assert self.config is not None
        self.counters.rejected += 1
        suffix = self.warnings.suffix(topic, time.time())
        if suffix is not None:
            logger.warning("rejected MQTT message on {}: {}{}", topic, reason, suffix)
        error_topic = stimulus.error_topic_for(topic, self.config.mqtt.base_topic)
        if report and error_topic is not None:
            self._publish(error_topic, stimulus.encode_error(reason), 1, False, None)

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
