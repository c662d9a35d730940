"""The typology state machines: `initial(spec, row, now)` and `step(state, event, now)`.

Each returns `(new_state, effects)`; no I/O, no clock. Which machine runs an equipment follows
from its spec: a problem -> faulty, measured-only or TIC -> observer, else the typology's family.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from protocol.ids import Kind
from protocol.messages import Message
from protocol.model import EquipmentRow, EquipmentSpec
from protocol.typologies import faulty, observer, piloted
from protocol.typologies.common import Step
from protocol.typologies.roles import roles_of
from protocol.typologies.state import MachineState

MACHINES: dict[str, ModuleType] = {
    "faulty": faulty,
    "observer": observer,
    "piloted": piloted,
}


def machine_for(spec: EquipmentSpec) -> str:
    roles = roles_of(spec.typology)
    if spec.problem or roles is None:
        return "faulty"
    if spec.kind == Kind.MEASURED or roles.family == "observer":
        return "observer"
    return "piloted"


def initial(spec: EquipmentSpec, row: EquipmentRow, now: float) -> Step:
    return MACHINES[machine_for(spec)].initial(spec, row, now)


def step(state: MachineState, event: Message, now: float) -> Step:
    handler: Callable[[MachineState, Message, float], Step] = MACHINES[state.machine].step
    return handler(state, event, now)


__all__ = ["MachineState", "Step", "initial", "machine_for", "step"]
