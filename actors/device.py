"""DeviceActor: one per piloted or measured equipment. Feeds events to its typology machine and
carries the effects out (MQTT commands, database writes, timers). No decision is taken here.
"""

from __future__ import annotations

import os
import time
from collections import deque
from typing import Any

import msgspec
from loguru import logger
from thespian.actors import ActorExitRequest, ActorTypeDispatcher

from actors.vitals import Vital
from protocol import ems, typologies
from protocol.devices import codec_named
from protocol.ids import Kind
from protocol.messages import (
    ArmTimer,
    CancelTimer,
    ClearAllTimers,
    ClearTimer,
    DbWrites,
    DeviceInit,
    DeviceReady,
    DeviceReports,
    DeviceTelemetry,
    EmsDecision,
    EquipmentShown,
    Event,
    ForceStart,
    Gateways,
    Introspect,
    IntrospectReply,
    LoadRow,
    Message,
    ModeRequested,
    NotifyDisplays,
    Publish,
    Reassert,
    RestoreMode,
    RowChanged,
    SendCommand,
    SetTimer,
    StopActor,
    TimerFired,
    WriteObserved,
    WriteState,
)
from protocol.typologies import MachineState

JOURNAL_SIZE = 50
STAGGER = "ems-stagger"
# A transition the DbGateway never received stops masking re-read rows after this long.
STALE_ROW_GRACE_S = 30.0
EVENTS = (EmsDecision, ModeRequested, RestoreMode, ForceStart, TimerFired, Reassert, RowChanged)


class DeviceActor(Vital, ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.state: MachineState | None = None
        self.gateways: Gateways | None = None
        self.journal: deque[Event] = deque(maxlen=JOURNAL_SIZE)
        self.early: list[Message] = []  # events that arrived before DeviceInit
        self.now = 0.0  # machine time never runs backwards, whatever the order of arrival
        self.log = logger  # bound to the equipment id (journald field EQUIPMENT=) once known
        self.held: EmsDecision | None = None  # waiting for its stagger offset
        self.last_write = (0, 0.0)  # serial and monotonic time of the last WriteState sent
        self.to_db: list[Message] = []  # the writes of the message being handled

    def receiveMsg_DeviceInit(self, message: DeviceInit, sender: Any) -> None:
        self.gateways = message.gateways
        self.now = message.at
        self.log = logger.bind(equipment=message.spec.id)
        state, effects = typologies.initial(message.spec, message.row, message.at)
        self._apply(state, effects)
        if not message.spec.problem:  # the supervisor already logged the problem, warnings included
            for spec_warning in message.spec.warnings:
                self.log.warning("equipment {}: {}", message.spec.id, spec_warning)
        self.send(sender, DeviceReady(message.spec.id))
        early, self.early = self.early, []
        for event in early:
            self._feed(event, getattr(event, "at", time.time()))

    def receiveMsg_DeviceReports(self, message: DeviceReports, sender: Any) -> None:
        for report in message.reports:
            self._feed(report, report.at)
        self._write_telemetry({r.device for r in message.reports})

    def receiveMessage(self, message: Any, sender: Any) -> Any:
        try:
            return self._handle(message, sender)
        finally:  # what the message made the machine write, in one message
            if self.to_db and self.gateways is not None:
                self.send(self.gateways.db, DbWrites(tuple(self.to_db)))
            self.to_db = []

    def _handle(self, message: Any, sender: Any) -> Any:
        if isinstance(message, EmsDecision) and self._stagger(message):
            return None
        if isinstance(message, TimerFired) and message.token == STAGGER:
            held, self.held = self.held, None
            return self._feed(held, message.at) if held is not None else None
        if isinstance(message, RowChanged) and self._read_before_last_write(message):
            return None
        if isinstance(message, EVENTS):
            return self._feed(message, message.at)
        return super().receiveMessage(message, sender)

    def _stagger(self, decision: EmsDecision) -> bool:
        """A continuous load holds an EMS decision for its offset (`control.stagger_s`); a newer
        decision replaces a held one."""
        state = self.state
        if state is None or self.gateways is None or state.spec.kind != Kind.CONTINUOUS:
            return False
        offset = ems.stagger_offset(state.spec.id, state.spec.control.stagger_s)
        if offset <= 0:
            return False
        self.held = decision
        self.send(self.gateways.clock, SetTimer(STAGGER, decision.at + offset))
        return True

    def _read_before_last_write(self, changed: RowChanged) -> bool:
        """A row read before the DbGateway received this actor's last transition would undo it
        (its old mode taken for a request from the database). It is dropped and read again: the
        DbGateway has that transition before this request, so the new read holds it, and
        whatever else changed meanwhile."""
        serial, sent = self.last_write
        if changed.writes_seen is None or changed.writes_seen >= serial:
            return False
        if time.monotonic() - sent > STALE_ROW_GRACE_S:
            return False  # that transition was lost on its way: the database is the truth
        self.log.debug(
            "equipment {}: a row read before our last transition, read again", changed.row.id
        )
        if self.gateways is not None:
            self.send(self.gateways.db, LoadRow(changed.row.id, "a stale read", self.myAddress))
        return True

    def receiveMsg_Introspect(self, message: Introspect, sender: Any) -> None:
        self.send(message.reply_to or sender, IntrospectReply(self.snapshot()))

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender: Any) -> None:
        if self.gateways is not None:
            self.send(self.gateways.clock, ClearAllTimers())

    def snapshot(self) -> dict[str, Any]:
        """State, devices and the last events, for the introspection command."""
        if self.state is None:
            return {"state": None}
        state = msgspec.to_builtins(self.state)
        state["spec"] = {
            k: state["spec"][k]
            for k in ("id", "name", "type_id", "typology", "household", "problem", "warnings")
        }
        events = [msgspec.to_builtins(e) for e in self.journal]
        return {"pid": os.getpid(), "state": state, "events": events}

    # --- the functional core and its effects ---------------------------------------------------

    def _feed(self, event: Message, at: float) -> None:
        if self.state is None:
            self.early.append(event)
            return
        self.now = max(self.now, at)
        state, effects = typologies.step(self.state, event, self.now)
        self._apply(state, effects)

    def _apply(self, state: MachineState, effects: list[Message]) -> None:
        self.state = state
        gateways = self.gateways
        assert gateways is not None
        for effect in effects:
            if isinstance(effect, SendCommand):
                self._send_command(effect)
            elif isinstance(effect, WriteState):
                # monotonic: a respawned actor's serials are above those of its predecessor
                serial = max(self.last_write[0] + 1, time.monotonic_ns())
                self.last_write = (serial, time.monotonic())
                self.to_db.append(msgspec.structs.replace(effect, serial=serial))
            elif isinstance(effect, WriteObserved):
                self.to_db.append(effect)
            elif isinstance(effect, ArmTimer):
                self.send(gateways.clock, SetTimer(effect.token, effect.at))
            elif isinstance(effect, CancelTimer):
                self.send(gateways.clock, ClearTimer(effect.token))
            elif isinstance(effect, Event):
                self.journal.append(effect)
                self.to_db.append(effect)
                if effect.from_state != effect.to_state:
                    self.log.info(
                        "equipment {} {}: {} -> {}: {}",
                        state.spec.id,
                        state.spec.name,
                        effect.from_state,
                        effect.to_state,
                        effect.reason,
                    )
                else:
                    self.log.info(
                        "equipment {} {}: {}", state.spec.id, state.spec.name, effect.reason
                    )
            elif isinstance(effect, NotifyDisplays) and gateways.displays is not None:
                self.send(gateways.displays, self._shown(state))
            elif isinstance(effect, StopActor):
                self.log.info("equipment {}: stopping ({})", state.spec.id, effect.reason)
                self.send(gateways.clock, ClearAllTimers())
                self.send(self.myAddress, ActorExitRequest())

    def _shown(self, state: MachineState) -> EquipmentShown:
        """What the household screens show of this equipment now."""
        reason = self.journal[-1].reason if self.journal else None
        return EquipmentShown(
            state.spec.id, state.spec.household, state.mode, state.command_state, reason, self.now
        )

    def _write_telemetry(self, devices: set[str]) -> None:
        """The latest facts of the devices that just reported, for the supervisor's own table."""
        if self.state is None or self.gateways is None:
            return
        output = self.state.output
        for device in sorted(devices):
            view = self.state.devices.get(device)
            if view is None:
                continue
            # the switch's last confirmed change, with the relay state it left (kept for restarts)
            changed_at = None
            if output is not None and output.device == device and output.relay == view.relay_on:
                changed_at = output.changed_at
            self.to_db.append(
                DeviceTelemetry(
                    equipment=self.state.spec.id,
                    device=device,
                    at=int(self.now),
                    relay_on=view.relay_on,
                    power_w=view.power_w,
                    energy_wh=view.energy_wh,
                    temperature_c=view.temperature_c,
                    battery=view.battery,
                    online=view.online,
                    last_seen=int(view.last_seen) if view.last_seen is not None else None,
                    relay_changed_at=int(changed_at) if changed_at is not None else None,
                ),
            )

    def _send_command(self, command: SendCommand) -> None:
        assert self.state is not None and self.gateways is not None
        device = next((d for d in self.state.spec.devices if d.id == command.device), None)
        if device is None:
            self.log.error(
                "equipment {}: no device {} to command", self.state.spec.id, command.device
            )
            return
        codec = codec_named(device.codec)
        try:
            outbound = codec.encode(device, command.action, command.request_id)
        except ValueError as exc:
            self.log.error("equipment {}: {}", self.state.spec.id, exc)
            return
        for out in outbound:
            self.send(self.gateways.mqtt, Publish(out.topic, out.payload, out.qos, out.retain))
        self.log.debug(
            "equipment {}: {} {} ({})",
            self.state.spec.id,
            command.action,
            device.id,
            command.request_id,
        )
