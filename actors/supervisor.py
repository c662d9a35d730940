"""Supervisor: creates and watches every other actor.

Start-up: gateways and clock, then the inventory from the database, then one DeviceActor per
equipment (typology set, mode not 80), their MQTT routes, and the EMS plan targets; once every
actor answered, the retained `<base>/status` says online. Afterwards it reconciles the inventory
periodically, re-reads equipment on Viriya pings, and recreates children that die.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from loguru import logger
from thespian.actors import ActorExitRequest, ActorTypeDispatcher, ChildActorExited, WakeupMessage

from actors.census import Census
from actors.clock import Clock
from actors.db_gateway import DbGateway
from actors.device import DeviceActor
from actors.displays import Displays
from actors.mqtt_gateway import MqttGateway
from actors.plan_reader import PlanReader
from actors.vitals import Vital
from protocol import stimulus
from protocol.config import Config
from protocol.messages import (
    Configure,
    DeviceInit,
    DeviceReady,
    Gateways,
    Inventory,
    LoadInventory,
    LoadRow,
    MqttConnected,
    PlansSource,
    PlanTargets,
    PublishStatus,
    Reassert,
    RegisterRoutes,
    ReloadHousehold,
    RoutesRegistered,
    RowChanged,
    ScreenInventory,
    Shutdown,
    ShutdownDone,
    Start,
    Started,
    StimulusTargets,
    UnregisterRoutes,
)
from protocol.model import EquipmentRow, EquipmentSpec
from protocol.partition import StimulusScope
from protocol.routing import routes_of
from protocol.status import Status, encode, running_status
from runtime.status import package_version

INVENTORY_RETRY_S = 5.0


class Supervisor(Vital, Census, ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.config: Config | None = None
        self.gateways: Gateways | None = None
        self.starter: Any = None
        self.started_at = 0
        self.ready = False
        self.broker_connected = False
        self.announced = False
        self.devices: dict[int, Any] = {}  # equipment id -> DeviceActor
        self.specs: dict[int, EquipmentSpec] = {}
        self.rows: dict[int, EquipmentRow] = {}
        self.waiting: set[int] = set()  # DeviceInit sent, DeviceReady not yet back
        self.stopping = False
        self.shutdown_requester: Any = None
        self.plans_source = "database"
        self.scope = StimulusScope()  # the stimuli this partition answers
        self.censuses: dict[int, Any] = {}  # actor tree censuses in progress (actors/census.py)

    # --- start-up ------------------------------------------------------------------------------

    def receiveMsg_Start(self, message: Start, sender: Any) -> None:
        self.config, self.starter, self.started_at = message.config, sender, int(time.time())
        configure = Configure(message.config)
        clock = self.createActor(Clock)
        db = self.createActor(DbGateway)
        mqtt = self.createActor(MqttGateway)
        plans = self.createActor(PlanReader)
        displays = self.createActor(Displays)
        self.gateways = Gateways(
            supervisor=self.myAddress, mqtt=mqtt, db=db, clock=clock, plans=plans, displays=displays
        )
        for gateway in (db, mqtt, plans, displays):
            self.send(gateway, configure)
        self.send(db, LoadInventory())

    def receiveMsg_Inventory(self, message: Inventory, sender: Any) -> None:
        if message.error:
            logger.error("inventory: {}", message.error)
            if not message.specs and not self.devices:
                self.wakeupAfter(timedelta(seconds=INVENTORY_RETRY_S), payload="inventory")
                return
        changed = message.scope != self.scope
        self.scope = message.scope
        # rows saved on disk (database down) may predate our own transitions: not passed on
        seen = None if message.error else message.writes_seen
        self._reconcile(list(message.specs), {r.id: r for r in message.rows}, seen, changed)

    def receiveMsg_DeviceReady(self, message: DeviceReady, sender: Any) -> None:
        if message.equipment not in self.waiting:
            return
        self.waiting.discard(message.equipment)
        if not self.waiting:
            self._on_all_ready()

    def _on_all_ready(self) -> None:
        """Every actor answered: decisions, stimuli and the status may now reach them."""
        gateways = self._gateways()
        self.send(gateways.plans, PlanTargets(tuple(self.devices.items())))
        specs, actors = tuple(self.specs.values()), tuple(self.devices.items())
        self.send(gateways.displays, ScreenInventory(specs, actors, gateways))
        self.send(
            gateways.mqtt,
            StimulusTargets(tuple(self.devices.items()), self.myAddress, self.scope),
        )
        self.send(gateways.mqtt, PublishStatus(encode(self._status())))
        if not self.ready:
            self.ready = True
            self._schedule_reload()
            status = self._status()
            counts = status.equipment, status.faulty, status.devices
            logger.info("supervisor ready: {} equipment ({} faulty), {} devices", *counts)
            self._announce()

    def _announce(self) -> None:
        """The starter hears `Started` once every actor is up and the broker connected."""
        if self.ready and self.broker_connected and not self.announced and self.starter is not None:
            self.announced = True
            status = self._status()
            self.send(self.starter, Started(status.equipment, status.devices, status.faulty))

    # --- inventory reconciliation --------------------------------------------------------------

    def _reconcile(
        self,
        specs: list[EquipmentSpec],
        rows: dict[int, EquipmentRow],
        writes_seen: dict[int, int] | None,
        changed: bool = False,
    ) -> None:
        """Spawn new equipment, stop removed ones, rebuild changed ones, pass row changes on
        (unless `writes_seen` is None: rows that may be older than the actors' transitions)."""
        wanted = {s.id: s for s in specs}
        changed = changed or not self.ready
        for equipment in [e for e in self.devices if e not in wanted]:
            self._stop_device(equipment, "no longer in the inventory (or mode 80)")
            changed = True
        for equipment, spec in wanted.items():
            if equipment in self.devices and self.specs.get(equipment) != spec:
                self._stop_device(equipment, "its devices or typology changed")
            if equipment not in self.devices:
                self._start_device(spec, rows[equipment])
                changed = True
            elif writes_seen is not None and rows[equipment] != self.rows.get(equipment):
                seen = writes_seen.get(equipment, 0)
                self.send(self.devices[equipment], RowChanged(rows[equipment], time.time(), seen))
        self.rows = {e: rows[e] for e in wanted}
        if changed and not self.waiting:
            self._on_all_ready()

    def _start_device(self, spec: EquipmentSpec, row: EquipmentRow) -> None:
        """Subscribe the device topics first, then start the actor (`RoutesRegistered`): its
        first order must not be answered before the gateway listens for the answer."""
        gateways = self._gateways()
        actor = self.createActor(DeviceActor)
        self.devices[spec.id] = actor
        self.specs[spec.id] = spec
        self.rows[spec.id] = row
        self.waiting.add(spec.id)
        if spec.problem:  # it cannot be driven: nothing is sent to its devices, not even a query
            logger.warning("equipment {} ({}): {}", spec.id, spec.name, spec.problem)
            self.send(actor, DeviceInit(spec, row, gateways, time.time()))
            return
        self.send(gateways.mqtt, RegisterRoutes(spec.id, routes_of(spec, actor)))

    def receiveMsg_RoutesRegistered(self, message: RoutesRegistered, sender: Any) -> None:
        equipment = message.owner
        actor = self.devices.get(equipment)
        if actor is not None and equipment in self.waiting:
            row = self.rows[equipment]
            self.send(actor, DeviceInit(self.specs[equipment], row, self._gateways(), time.time()))

    def _stop_device(self, equipment: int, reason: str) -> None:
        actor = self.devices.pop(equipment)
        self.specs.pop(equipment, None)
        self.waiting.discard(equipment)
        logger.info("equipment {}: actor stopped, {}", equipment, reason)
        self.send(self._gateways().mqtt, UnregisterRoutes(equipment))
        self.send(actor, ActorExitRequest())

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        if self.census_expired(message.payload):
            return
        if message.payload == "inventory" and not self.stopping:
            self.send(self._gateways().db, LoadInventory())
            if self.ready:
                self._schedule_reload()

    def _schedule_reload(self) -> None:
        """The next periodic reconciliation of the inventory."""
        seconds = self._config().coordination.reload_seconds
        self.wakeupAfter(timedelta(seconds=seconds), payload="inventory")

    # --- stimuli -------------------------------------------------------------------------------

    def receiveMsg_Reload(self, message: stimulus.Reload, sender: Any) -> None:
        actor = self.devices.get(message.equipment)
        if actor is not None:
            self.send(self._gateways().db, LoadRow(message.equipment, message.source, actor))
            self.send(self._gateways().displays, ReloadHousehold(None, message.equipment))

    def receiveMsg_PlansSource(self, message: PlansSource, sender: Any) -> None:
        self.plans_source = message.source
        if self.ready:
            self.send(self._gateways().mqtt, PublishStatus(encode(self._status())))

    def receiveMsg_MqttConnected(self, message: MqttConnected, sender: Any) -> None:
        if message.first:
            self.broker_connected = True
            self._announce()
            return
        for actor in self.devices.values():  # level-triggered: re-assert after a broker outage
            self.send(actor, Reassert("MQTT reconnected", message.at))

    # --- supervision ---------------------------------------------------------------------------

    def receiveMsg_ChildActorExited(self, message: ChildActorExited, sender: Any) -> None:
        if self.stopping:
            return
        gone = message.childAddress
        for equipment, actor in list(self.devices.items()):
            if actor == gone:
                logger.error("equipment {}: actor died, restarting it from the database", equipment)
                self.devices.pop(equipment)
                self.send(self._gateways().mqtt, UnregisterRoutes(equipment))
                self.send(self._gateways().db, LoadInventory())  # respawns it with a fresh row
                return
        gateways = self._gateways()
        if gone in (gateways.mqtt, gateways.db, gateways.clock, gateways.plans, gateways.displays):
            logger.critical("a gateway actor died ({}): stopping so systemd restarts us", gone)
            if self.starter is not None:
                self.send(self.starter, "fatal: gateway died")

    # --- shutdown ------------------------------------------------------------------------------

    def receiveMsg_Shutdown(self, message: Shutdown, sender: Any) -> None:
        self.stopping = True
        self.shutdown_requester = sender
        if self.gateways is None:
            self.send(sender, ShutdownDone())
            return
        self.send(self.gateways.plans, Shutdown())
        self.send(self.gateways.db, Shutdown())  # writes what is queued (bounded wait)
        self.send(self.gateways.mqtt, Shutdown())

    def receiveMsg_ShutdownDone(self, message: ShutdownDone, sender: Any) -> None:
        if self.shutdown_requester is not None:
            self.send(self.shutdown_requester, ShutdownDone())

    # --- helpers -------------------------------------------------------------------------------

    def _status(self) -> Status:
        base, version = self._config().supervisor.system_base, package_version()
        running = len(self.devices), self.started_at, base
        return running_status(self.specs.values(), *running, self.plans_source, version)

    def _gateways(self) -> Gateways:
        assert self.gateways is not None
        return self.gateways

    def _config(self) -> Config:
        assert self.config is not None
        return self.config
