"""What a household screen shows of one equipment: a snapshot read from the database."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from protocol.ems import SLOT_SECONDS, Plan, decision_at, next_boundary
from protocol.ids import CommandState, Mode

MACHINE_TYPES = frozenset({1, 111, 112, 113})  # equipement_pilote_machine_generique
VEHICLE_TYPES = frozenset({221, 225, 515})  # equipement_pilote_vehicule_electrique_generique


class ScreenEquipment(msgspec.Struct, frozen=True):
    """One equipment of the household as its screens show it.

    `deadline` is the machine's `timestamp_de_fin_souhaite` or the vehicle's
    `timestamp_dispo_souhaitee` (None, or 0 in the database: not set); `cycle_s` the selected
    cycle's `duree_cycle`; `charge_percent` the vehicle's `pourcentage_charge_restant`;
    `next_start` the start of the next slot the EMS plan switches it on; `reason` the reason of
    its last journal event.
    """

    id: int
    type_id: int
    name: str
    mode: int
    command_state: int
    deadline: int | None = None
    cycle_s: int | None = None
    charge_percent: int | None = None
    next_start: int | None = None
    reason: str | None = None

    @property
    def piloted(self) -> bool:
        return self.mode == Mode.PILOTE

    @property
    def in_error(self) -> bool:
        return self.command_state == CommandState.ERR

    @property
    def deadline_column(self) -> str | None:
        """The database column of `deadline` for this equipment type."""
        if self.type_id in MACHINE_TYPES:
            return "timestamp_de_fin_souhaite"
        if self.type_id in VEHICLE_TYPES:
            return "timestamp_dispo_souhaitee"
        return None


Household = tuple[ScreenEquipment, ...]


class ScreenUpdate(msgspec.Struct, frozen=True):
    """What a touch changes for one equipment; None fields are left as they are.

    `mode` goes to the equipment's actor (`ModeRequested`, source screen); `deadline` is written
    to `deadline_column` (`timestamp_de_fin_souhaite` or `timestamp_dispo_souhaitee`), `cycle_s`
    to the selected cycle's `duree_cycle`, `charge_percent` to `pourcentage_charge_restant`.
    """

    equipment: int
    mode: int | None = None
    deadline: int | None = None
    deadline_column: str | None = None
    cycle_s: int | None = None
    charge_percent: int | None = None


class ScreenSpec(msgspec.Struct, frozen=True):
    device: str  # equipement_domotique.id
    node: str  # lower case
    root: str  # hasp/<node>, as the topics spell it
    command_topic: str  # where jsonl goes
    household: str


def shown_on_screen(equipment: ScreenEquipment) -> tuple[object, ...]:
    """The fields whose change must refresh the screens (mode, command state, deadline, cycle,
    charge, and the label's sources)."""
    return (
        equipment.mode,
        equipment.command_state,
        equipment.deadline,
        equipment.cycle_s,
        equipment.charge_percent,
        equipment.next_start,
        equipment.reason,
    )


def next_planned_start(plans: Iterable[Plan], now: float, horizon_s: int = 86400) -> int | None:
    """The start of the first slot after `now` in which the EMS plan switches the equipment on
    while it was off in the slot before (None: no start planned within `horizon_s`)."""
    plans = tuple(plans)
    if not plans:
        return None
    first = next_boundary(now)
    previous = decision_at(plans, first - SLOT_SECONDS)
    was_on = previous is not None and previous.on
    for at in range(first, int(now) + horizon_s + 1, SLOT_SECONDS):
        decision = decision_at(plans, at)
        on = decision is not None and decision.on
        if on and not was_on:
            return at
        was_on = on
    return None
