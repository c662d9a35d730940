"""Identifiers of the ELFE coordination database (schema v6.3), never renumbered.

The values are the database's own enumeration ids (`../shared/reference/coordination-db.md` §3).
"""

from __future__ import annotations

from enum import IntEnum


class Mode(IntEnum):
    """`equipement_pilote_ou_mesure_mode`."""

    NON_PILOTE = 1
    INSTALLATION = 10
    MANUEL = 20
    PILOTE = 30
    DESACTIVE = 70
    SUPPR = 80


class CommandState(IntEnum):
    """`equipement_pilote_etat_commande`: the state of the equipment's state machine."""

    ETAT_INITIAL = 1
    PILOTE_STAND_BY = 11  # piloted, waiting for its slot, held off
    MANUEL_PILOTE_ON = 12  # on, under control
    MANUEL_ON = 13  # on, free (manual)
    PILOTE_EN_ACTIVATION = 21  # start sent, not yet confirmed
    ERR = 30
    NON_COMMANDE = 99


class ControlState(IntEnum):
    """`equipement_pilote_etat_controle`: observed state, measured from reports only."""

    ON = 15
    OFF = 25
    ERRCOM = 60
    INCONNU = 70


class Usage(IntEnum):
    """`equipement_domotique_usage`: the role of a device inside a typology."""

    MEASURE_SWITCH = 11
    SWITCH = 12
    MEASURE = 21
    PRESS_POWER = 31
    PRESS_START = 32
    AMBIENT = 61
    SCREEN = 71


class Typology(IntEnum):
    """`equipement_pilote_typologie_installation_domotique`."""

    DEUX_RELAIS = 110
    PRISE_COMMANDE = 120
    PRISE_ET_DOIGT = 130
    RELAI_ET_CAPTEUR_TEMPERATURE = 140
    PRISE_ET_DEUX_DOIGTS = 150
    PRISE_ET_DOIGT_DOUBLE_APPUI = 160
    PRISE_RALLUME_ET_DOIGT = 170
    RELAI_ET_COMPTEUR = 180
    RELAI_INVERSE = 190
    TIC = 200


class Kind(IntEnum):
    """How the EMS plans an equipment type (spec typologies.md §1)."""

    TRIGGERED = 1  # one start per arming: machines, vehicles
    CONTINUOUS = 2  # follows every slot: hot water, heaters
    MEASURED = 3  # never commanded: meters, power plants


TRIGGERED_TYPES = frozenset({1, 111, 112, 113, 221, 225, 515})
CONTINUOUS_TYPES = frozenset({131, 151, 155})
MEASURED_TYPES = frozenset({410, 901, 910, 920})
EQUIPMENT_TYPES = TRIGGERED_TYPES | CONTINUOUS_TYPES | MEASURED_TYPES

VALID_MODES = frozenset(int(m) for m in Mode)
VALID_COMMAND_STATES = frozenset(int(s) for s in CommandState)
VALID_CONTROL_STATES = frozenset(int(s) for s in ControlState)


def kind_of(equipment_type: int) -> Kind | None:
    """The planning kind of an equipment type id, None for an unknown type."""
    if equipment_type in TRIGGERED_TYPES:
        return Kind.TRIGGERED
    if equipment_type in CONTINUOUS_TYPES:
        return Kind.CONTINUOUS
    if equipment_type in MEASURED_TYPES:
        return Kind.MEASURED
    return None
