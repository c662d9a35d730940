"""Typology 200 (TIC) and measured-only equipment (spec typologies.md §7): never commanded.

State 99; the observed state and power come from the reader's reports, LWT offline -> 60.
"""

from __future__ import annotations

from protocol.ids import CommandState as CS
from protocol.ids import Mode
from protocol.messages import (
    DeviceReport,
    Message,
    ModeRequested,
    RowChanged,
    StopActor,
    TimerFired,
)
from protocol.model import EquipmentRow, EquipmentSpec
from protocol.typologies import common as c
from protocol.typologies.common import Step, replace
from protocol.typologies.roles import OBSERVER, resolve, roles_of
from protocol.typologies.state import MachineState, from_row


def initial(spec: EquipmentSpec, row: EquipmentRow, now: float) -> Step:
    roles = resolve(spec, roles_of(spec.typology) or OBSERVER)
    state = from_row(spec, row, now, "observer", roles=roles, details=row.details)
    state, effects = c.transition(
        state, now, "measured only: never commanded", command_state=CS.NON_COMMANDE
    )
    return state, effects + c.arm_stale_timers(state, now, spec.devices)


def step(state: MachineState, event: Message, now: float) -> Step:
    if isinstance(event, DeviceReport):
        state = c.record_report(state, event)
        effects = []
        if not event.retained:
            device = next((d for d in state.spec.devices if d.id == event.device), None)
            if device is not None:
                effects.append(c.stale_timer(state, device, event.at))
        state, more = c.refresh_observed(state, now)
        return state, effects + more
    if isinstance(event, TimerFired) and event.token.startswith(c.STALE):
        return c.refresh_observed(state, now)
    mode = (
        event.mode
        if isinstance(event, ModeRequested)
        else (event.row.mode if isinstance(event, RowChanged) else None)
    )
    if mode is not None and mode != state.mode:
        state = replace(state, mode=mode)  # recorded only: a measured equipment has no mode logic
        if mode == Mode.SUPPR:
            return state, [StopActor(f"mode {mode}")]
    return state, []
