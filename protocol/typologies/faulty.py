"""An equipment that cannot be driven (bad typology, device type, missing detail row...).

It goes to state 30 with the reason, sends nothing, and waits for the database to be fixed (the
supervisor rebuilds it when the inventory changes).
"""

from __future__ import annotations

from protocol.ids import CommandState as CS
from protocol.messages import Message
from protocol.model import EquipmentRow, EquipmentSpec
from protocol.typologies.common import Step, note, transition
from protocol.typologies.state import MachineState, from_row


def initial(spec: EquipmentSpec, row: EquipmentRow, now: float) -> Step:
    reason = spec.problem or "cannot be driven"
    state = from_row(spec, row, now, "faulty", error=reason, error_kind="config")
    state, effects = transition(state, now, reason, command_state=CS.ERR)
    return state, effects or note(state, now, reason)  # already 30: the journal still says why


def step(state: MachineState, event: Message, now: float) -> Step:
    return state, []
