"""Drive a typology machine in tests the way the DeviceActor does, with a simulated clock.

The harness keeps what the actors would keep: armed timers (fired in deadline order when time
advances), the database row (WriteState/WriteObserved applied), and every command sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from protocol import typologies
from protocol.config import config_from_mapping
from protocol.inventory import build_equipment
from protocol.messages import (
    ArmTimer,
    CancelTimer,
    CommandReply,
    DeviceReport,
    Event,
    Message,
    NotifyDisplays,
    SendCommand,
    StopActor,
    TimerFired,
    WriteObserved,
    WriteState,
)
from protocol.model import DeviceRow, EquipmentDetails, EquipmentRow, EquipmentSpec
from protocol.typologies import MachineState


def make_config(**control: object) -> object:
    return config_from_mapping(
        {"coordination": {"dsn": "postgresql://test"}, "control": control}, environ={}
    )


def device_row(
    device_id: str,
    usage: int,
    type_id: int,
    type_name: str,
    control: str,
    command: str,
    lwt: str | None = None,
    equipment: int = 1,
) -> DeviceRow:
    return DeviceRow(
        id=device_id,
        equipment_id=equipment,
        type_id=type_id,
        type_name=type_name,
        usage=usage,
        hardware_id=device_id.lower(),
        household="R001",
        assigned=True,
        detail_id=1,
        control_topic=control,
        command_topic=command,
        lwt_topic=lwt,
    )


def bot_row(device_id: str = "C101", usage: int = 32, equipment: int = 1) -> DeviceRow:
    """A SwitchBot finger behind its BLE gateway (type 311)."""
    base = f"switchbot/GW{equipment}"
    return device_row(
        device_id,
        usage,
        311,
        "switchbot_mqtt2ble_v7",
        f"{base}/bot/{device_id}/status",
        f"{base}/bot/{device_id}/set",
        f"{base}/lastwill",
        equipment,
    )


def relay_row(device_id: str = "D101", usage: int = 12, equipment: int = 1) -> DeviceRow:
    """A Shelly Plus 1PM relay (type 411), annex topic convention."""
    return device_row(
        device_id,
        usage,
        411,
        "shellyplus1pm_shellycloud_v1",
        f"controle/{device_id}",
        f"{device_id}/rpc",
        f"{device_id}/online",
        equipment,
    )


def tic_row(device_id: str = "B101", equipment: int = 1) -> DeviceRow:
    """A Tasmota Teleinfo reader (type 211) on the house meter."""
    return device_row(
        device_id,
        21,
        211,
        "teleinfo_tasmota_v12",
        f"tele/{device_id}/SENSOR",
        f"cmnd/{device_id}/POWER",
        f"tele/{device_id}/LWT",
        equipment,
    )


def sensor_row(device_id: str = "F101", equipment: int = 1) -> DeviceRow:
    """A Shelly H&T ambient sensor (type 611)."""
    root = f"shellies/{device_id}"
    return device_row(
        device_id,
        61,
        611,
        "shellyht_shellycloud_v1",
        f"{root}/sensor/temperature",
        "NULL",
        f"{root}/online",
        equipment,
    )


def plug_row(
    device_id: str = "A101",
    equipment: int = 1,
    type_id: int = 111,
    usage: int = 11,
    household: str | None = "R001",
) -> DeviceRow:
    root = f"shellies/shellyplug-s-{device_id}"
    return DeviceRow(
        id=device_id,
        equipment_id=equipment,
        type_id=type_id,
        type_name="shellyplugs_shellycloud_v1",
        usage=usage,
        hardware_id=None,
        household=household,
        assigned=True,
        detail_id=1,
        control_topic=f"{root}/relay/0",
        command_topic=f"{root}/relay/0/command",
        lwt_topic=f"{root}/online",
    )


def equipment_row(
    equipment: int = 1,
    type_id: int = 112,
    typology: int = 120,
    mode: int = 30,
    command_state: int = 11,
    control_state: int = 70,
    consigne: bool = False,
    details: EquipmentDetails | None = None,
) -> EquipmentRow:
    return EquipmentRow(
        id=equipment,
        type_id=type_id,
        typology_id=typology,
        mode=mode,
        control_state=control_state,
        command_state=command_state,
        consigne=consigne,
        started_at=0,
        programmed_at=0,
        household="R001",
        name=f"equipment {equipment}",
        details=details or EquipmentDetails(),
    )


def make_spec(
    row: EquipmentRow, devices: list[DeviceRow] | None = None, **control: object
) -> EquipmentSpec:
    config = make_config(**control)
    return build_equipment(
        row, devices if devices is not None else [plug_row(equipment=row.id)], config
    )  # type: ignore[arg-type]


@dataclass
class Harness:
    spec: EquipmentSpec
    row: EquipmentRow
    now: float = 1_000_000.0
    state: MachineState | None = None
    timers: dict[str, float] = field(default_factory=dict)
    commands: list[tuple[float, SendCommand]] = field(default_factory=list)
    effects: list[Message] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    writes: list[WriteState] = field(default_factory=list)
    observed: list[WriteObserved] = field(default_factory=list)
    stopped: bool = False
    request_ids: set[str] = field(default_factory=set)  # since the last (re)start

    def start(self) -> Harness:
        self.timers.clear()
        self.request_ids.clear()
        state, effects = typologies.initial(self.spec, self.row, self.now)
        self._apply(state, effects)
        return self

    def feed(self, event: Message) -> list[Message]:
        assert self.state is not None
        state, effects = typologies.step(self.state, event, self.now)
        self._apply(state, effects)
        return effects

    def advance(self, seconds: float) -> None:
        """Move the clock, firing due timers in deadline order (as the Clock actor does)."""
        end = self.now + seconds
        while True:
            due = [(at, token) for token, at in self.timers.items() if at <= end]
            if not due:
                break
            at, token = min(due)
            del self.timers[token]
            self.now = max(self.now, at)
            self.feed(TimerFired(token, at))
        self.now = end

    def reply(self, device: str, ok: bool = True, detail: str = "success") -> list[Message]:
        """The BLE gateway answers the press in flight (no request id in its protocol)."""
        return self.report(device, reply=CommandReply(None, ok, detail, "PRESS"))

    def report(
        self, device: str = "A101", retained: bool = False, **fields: object
    ) -> list[Message]:
        return self.feed(DeviceReport(device=device, at=self.now, retained=retained, **fields))  # type: ignore[arg-type]

    def restart(self) -> None:
        """A new actor from the database row (the process restarted)."""
        self.start()

    @property
    def last_command(self) -> SendCommand | None:
        return self.commands[-1][1] if self.commands else None

    def obey(self, device: str = "A101", power_on_w: float | None = None) -> None:
        """The device does what it was last told and says so (relay report, then power)."""
        command = next((c for _, c in reversed(self.commands) if c.device == device), None)
        if command is None:
            return
        on = command.action == "ON"
        self.report(device, relay_on=on)
        if power_on_w is not None:
            self.report(device, power_w=power_on_w if on else 0.0)

    def _apply(self, state: MachineState, effects: list[Message]) -> None:
        journal_ends_in = self._check_stamps(effects)
        self.state = state
        self.effects.extend(effects)
        for effect in effects:
            if isinstance(effect, ArmTimer):
                self.timers[effect.token] = effect.at
            elif isinstance(effect, CancelTimer):
                self.timers.pop(effect.token, None)
            elif isinstance(effect, SendCommand):
                self.commands.append((self.now, effect))
            elif isinstance(effect, Event):
                self.events.append(effect)
            elif isinstance(effect, WriteState):
                self.writes.append(effect)
                self.row = apply_write(self.row, effect)
            elif isinstance(effect, WriteObserved):
                self.observed.append(effect)
                self.row = msgspec.structs.replace(
                    self.row, control_state=int(effect.control_state)
                )
            elif isinstance(effect, StopActor):
                self.stopped = True
        assert journal_ends_in == self.row.command_state, (journal_ends_in, self.row)

    def _check_stamps(self, effects: list[Message]) -> int:
        """What the actors write and log is stamped with the step's time and says why; the
        journal's transitions chain from the row as it was to the row as it is written; every
        order has a request id of its own (a reply answers one order only); the screens are told
        of every change of the row. Returns the state the journal ends in."""
        current, reason = self.row.command_state, None
        for effect in effects:
            assert isinstance(effect, Message), effect
            if isinstance(effect, Event):
                assert effect.equipment == self.spec.id and effect.at == self.now, effect
                assert isinstance(effect.reason, str) and effect.reason, effect
                assert effect.from_state == current, (effect, current)
                current, reason = effect.to_state, effect.reason
            elif isinstance(effect, WriteState):
                assert effect.equipment == self.spec.id and effect.at == int(self.now), effect
                assert effect.reason == reason, (effect, reason)  # the Event that explains it
                if effect.command_state is not None:
                    assert effect.command_state == current, (effect, current)
            elif isinstance(effect, WriteObserved):
                assert effect.equipment == self.spec.id and effect.at == int(self.now), effect
            elif isinstance(effect, ArmTimer):
                assert effect.token and isinstance(effect.at, int | float), effect
            elif isinstance(effect, CancelTimer):
                assert effect.token, effect
            elif isinstance(effect, StopActor):
                assert isinstance(effect.reason, str) and effect.reason, effect
            elif isinstance(effect, SendCommand):
                assert effect.device in {d.id for d in self.spec.devices}, effect
                assert effect.request_id.startswith(f"{self.spec.id}-"), effect
                assert effect.request_id not in self.request_ids, effect
                self.request_ids.add(effect.request_id)
            elif isinstance(effect, NotifyDisplays):
                assert effect.equipment == self.spec.id, effect
        if any(isinstance(e, WriteState | WriteObserved) for e in effects):  # the screens follow
            assert NotifyDisplays(self.spec.id) in effects, effects
        return current


def apply_write(row: EquipmentRow, write: WriteState) -> EquipmentRow:
    changes = {}
    for field_name in ("mode", "command_state", "consigne", "started_at", "programmed_at"):
        value = getattr(write, field_name)
        if value is not None:
            changes[field_name] = bool(value) if field_name == "consigne" else int(value)
    return msgspec.structs.replace(row, **changes)
