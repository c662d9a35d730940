"""An equipment that cannot be driven (bad typology, device type, missing detail row...).

It goes to state 30 with the reason, sends nothing, and waits for the database to be fixed (the
supervisor rebuilds it when the inventory changes).
"""

from __future__ import annotations

from protocol.ids import CommandState as CS
from protocol.messages import Event, Message, WriteState
from protocol.model import EquipmentRow, EquipmentSpec
from protocol.typologies.common import Step
from protocol.typologies.state import MachineState


def initial(spec: EquipmentSpec, row: EquipmentRow, now: float) -> Step:
    reason = spec.problem or "cannot be driven"
    state = MachineState(
        spec=spec,
        machine="faulty",
        mode=row.mode,
        command_state=CS.ERR,
        control_state=row.control_state,
        consigne=row.consigne,
        started_at=row.started_at,
        programmed_at=row.programmed_at,
        booted_at=now,
        error=reason,
        error_kind="config",
    )
    effects: list[Message] = [Event(spec.id, now, reason, row.command_state, CS.ERR)]
    if row.command_state != CS.ERR:
        effects.append(
            WriteState(equipment=spec.id, at=int(now), reason=reason, command_state=CS.ERR)
        )
    return state, effects


def step(state: MachineState, event: Message, now: float) -> Step:
    return state, []
