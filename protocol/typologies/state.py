"""The state every typology machine carries, and what it knows of its devices.

Frozen Structs: a step returns a new state, never mutates the old one (determinism, and the
Thespian simple base hands the same object to every receiver).
"""

from __future__ import annotations

import msgspec

from protocol.model import EquipmentDetails, EquipmentRow, EquipmentSpec
from protocol.typologies.roles import RoleDevices


class DeviceView(msgspec.Struct, frozen=True):
    """The latest facts reported by one device."""

    relay_on: bool | None = None  # as the device reports it (inversion not applied)
    relay_at: float | None = None  # when the newest fresh relay report was made
    power_w: float | None = None
    energy_wh: float | None = None
    online: bool | None = None
    temperature_c: float | None = None
    battery: int | None = None
    last_seen: float | None = None  # last fresh (non-retained) message
    power_at: float | None = None  # when the last fresh power reading was made
    temperature_at: float | None = None  # when the last fresh temperature was measured


class Output(msgspec.Struct, frozen=True):
    """Command lifecycle of one switch output: sent -> acknowledged, with bounded retries."""

    device: str
    inverted: bool = False
    target: bool | None = None  # relay state we want
    commanded: bool | None = None  # relay state of the last command sent
    request_id: str | None = None
    attempt: int = 0  # attempts of the command awaiting its ack; 0 = nothing awaited
    sent_at: float | None = None
    ack_deadline: float | None = None
    retry_at: float | None = None
    deferred_until: float | None = None  # a change held back by anti short-cycling
    relay: bool | None = None  # relay state as last confirmed by the device (fresh report)
    relay_at: float | None = None  # time of that report (a late report is not newer)
    changed_at: float | None = None  # last confirmed change of the relay (the report's time)
    change_sent_at: float | None = None  # last command sent that changes the relay
    changing: bool = False  # the command in flight changes a known relay state


class Presses(msgspec.Struct, frozen=True):
    """A finger start sequence: presses to make, one awaiting the gateway's reply."""

    round: int  # 1, or 2 for the single repeat
    left: tuple[str, ...]  # devices still to press, in order
    next_at: float | None = None  # when the next press goes (gap, boot delay)
    waiting: str | None = None  # device whose press awaits its reply
    request_id: str | None = None
    sent_at: float | None = None
    reply_deadline: float | None = None
    acknowledged: int = 0  # presses of this round the gateway confirmed


class MachineState(msgspec.Struct, frozen=True):
    spec: EquipmentSpec
    machine: str  # "switchable", "observer", "faulty"
    mode: int
    command_state: int
    control_state: int
    consigne: bool
    started_at: int  # timestamp_derniere_mise_en_marche
    programmed_at: int  # timestamp_derniere_programmation
    booted_at: float  # when this machine started (for "nothing heard since start")
    roles: RoleDevices = RoleDevices()
    details: EquipmentDetails = EquipmentDetails()  # deadline, cycle, rated power, comfort
    desired_on: bool | None = None  # equipment power we want; None = not ours to decide
    output: Output | None = None  # the switch output (None for finger typologies)
    devices: dict[str, DeviceView] = {}
    ems_on: bool | None = None  # decision of the current slot, None when there is no plan
    ems_slot: int | None = None
    ems_plan: int | None = None
    verify_deadline: float | None = None
    low_power_since: float | None = None  # cycle end detection
    meter_baseline_w: float | None = None  # 180: the house meter before the start
    presses: Presses | None = None  # the finger start sequence in progress
    pressed_at: float | None = None  # first press of the current start: a rise must follow it
    resumed_start: bool = False  # restarted in 21: the reports decide, nothing is pressed again
    # A finger start asked before the measuring device's first measurement since start-up: (what
    # asked, "plan" / "deadline" / "operator", and the reason), decided again at that
    # measurement or when its grace (one stale period after start-up) ends.
    start_awaits_measure: tuple[str, str] | None = None
    guard: str | None = None  # a guard holding the output against the plan: "comfort", "max-off"
    off_since: float | None = None  # continuous: held off since (max-off guard)
    mode_before_disable: int | None = None  # restored when local control (70) ends
    error: str | None = None  # why we are in state 30
    error_kind: str | None = None  # "ack", "start", "press", "config"
    conflicts: int = 0  # reports that contradicted the acknowledged output
    sequence: int = 0  # request id counter (deterministic ids)


def from_row(
    spec: EquipmentSpec, row: EquipmentRow, now: float, machine: str, **extra: object
) -> MachineState:
    """A machine resuming from its database row (nothing heard from its devices yet)."""
    return MachineState(
        spec=spec,
        machine=machine,
        mode=row.mode,
        command_state=row.command_state,
        control_state=row.control_state,
        consigne=row.consigne,
        started_at=row.started_at,
        programmed_at=row.programmed_at,
        booted_at=now,
        **extra,  # type: ignore[arg-type]
    )
