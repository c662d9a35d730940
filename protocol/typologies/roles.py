"""Which device does what in each typology (spec typologies.md §4, §5, §7).

A role lists the device usages that can fill it, by preference. The inventory checks that the
required roles are filled; the machines look their devices up here, never by usage directly.
"""

from __future__ import annotations

import msgspec

from protocol.ids import Typology
from protocol.ids import Usage as U
from protocol.model import DeviceSpec, EquipmentSpec


class Roles(msgspec.Struct, frozen=True):
    family: str  # "switchable", "finger", "observer"
    switch: tuple[int, ...] = ()  # the output that powers the equipment
    measure: tuple[int, ...] = ()  # the equipment's own power
    meter: tuple[int, ...] = ()  # the whole house's meter (180: a step confirms)
    ambient: tuple[int, ...] = ()  # room temperature (140, optional: comfort guard)
    power_finger: tuple[int, ...] = ()  # presses Power (150)
    start_finger: tuple[int, ...] = ()  # presses Start
    presses: tuple[str, ...] = ()  # the start sequence: roles pressed in turn
    inverted: bool = False  # 190: relay ON = equipment off
    required: tuple[str, ...] = ()


ROLES: dict[int, Roles] = {
    Typology.DEUX_RELAIS: Roles(
        "switchable", switch=(U.SWITCH,), measure=(U.MEASURE,), required=("switch", "measure")
    ),
    Typology.PRISE_COMMANDE: Roles(
        "switchable", switch=(U.MEASURE_SWITCH,), measure=(U.MEASURE_SWITCH,), required=("switch",)
    ),
    Typology.RELAI_ET_CAPTEUR_TEMPERATURE: Roles(
        "switchable",
        switch=(U.MEASURE_SWITCH, U.SWITCH),
        measure=(U.MEASURE_SWITCH,),
        ambient=(U.AMBIENT,),
        required=("switch",),
    ),
    Typology.PRISE_RALLUME_ET_DOIGT: Roles(
        "switchable",
        switch=(U.MEASURE_SWITCH,),
        measure=(U.MEASURE_SWITCH,),
        start_finger=(U.PRESS_START,),
        presses=("start_finger",),
        required=("switch", "start_finger"),
    ),
    Typology.RELAI_ET_COMPTEUR: Roles(
        "switchable", switch=(U.SWITCH,), meter=(U.MEASURE,), required=("switch",)
    ),
    # The inverted relay drives a pilot wire: its own power says nothing of the equipment. A
    # separate measuring device (usage 21), where there is one, verifies and ends the cycle.
    Typology.RELAI_INVERSE: Roles(
        "switchable",
        switch=(U.MEASURE_SWITCH,),
        measure=(U.MEASURE,),
        inverted=True,
        required=("switch",),
    ),
    Typology.PRISE_ET_DOIGT: Roles(
        "finger",
        measure=(U.MEASURE, U.MEASURE_SWITCH),
        start_finger=(U.PRESS_START,),
        presses=("start_finger",),
        required=("start_finger",),
    ),
    Typology.PRISE_ET_DEUX_DOIGTS: Roles(
        "finger",
        measure=(U.MEASURE, U.MEASURE_SWITCH),
        power_finger=(U.PRESS_POWER,),
        start_finger=(U.PRESS_START,),
        presses=("power_finger", "start_finger"),
        required=("power_finger", "start_finger"),
    ),
    Typology.PRISE_ET_DOIGT_DOUBLE_APPUI: Roles(
        "finger",
        measure=(U.MEASURE, U.MEASURE_SWITCH),
        start_finger=(U.PRESS_START,),
        presses=("start_finger", "start_finger"),
        required=("start_finger",),
    ),
    Typology.TIC: Roles("observer", measure=(U.MEASURE, U.MEASURE_SWITCH)),
}
OBSERVER = Roles("observer", measure=(U.MEASURE, U.MEASURE_SWITCH, U.SWITCH))


def roles_of(typology: int) -> Roles | None:
    return ROLES.get(typology)


def device_for(spec: EquipmentSpec, usages: tuple[int, ...]) -> DeviceSpec | None:
    """The first device of the spec whose usage fills the role, by the role's preference."""
    for usage in usages:
        device = spec.device(usage)
        if device is not None:
            return device
    return None


class RoleDevices(msgspec.Struct, frozen=True):
    """The device id playing each role for one equipment (None when absent)."""

    switch: str | None = None
    measure: str | None = None
    meter: str | None = None
    ambient: str | None = None
    presses: tuple[str, ...] = ()  # device ids of the start sequence, in order


def resolve(spec: EquipmentSpec, roles: Roles) -> RoleDevices:
    def pick(role: str) -> str | None:
        device = device_for(spec, getattr(roles, role))
        return device.id if device else None

    presses = tuple(d for d in (pick(role) for role in roles.presses) if d is not None)
    return RoleDevices(
        switch=pick("switch"),
        measure=pick("measure"),
        meter=pick("meter"),
        ambient=pick("ambient"),
        presses=presses,
    )
