"""The equipment and devices as the supervisor sees them: database rows and checked specs."""

from __future__ import annotations

import msgspec

from protocol.config import ControlParams
from protocol.ids import Kind


class ComfortSettings(msgspec.Struct, frozen=True):
    """Requested temperatures of a heating with a temperature loop (type 155), as the EMS reads
    them: tenths of a kelvin; comfort periods in seconds since 00:00 UTC, weekday = Monday to
    Friday of the UTC date (coordination-db.md §4.8)."""

    eco_dk: int
    comfort_dk: int
    delta_dk: int
    weekday: tuple[tuple[int, int], ...] = ()
    weekend: tuple[tuple[int, int], ...] = ()


class EquipmentDetails(msgspec.Struct, frozen=True):
    """What the household guards need from the equipment's type-specific row."""

    deadline: int | None = None  # machine: timestamp_de_fin_souhaite; vehicle: dispo_souhaitee
    cycle_s: int | None = (
        None  # duree_cycle of the selected cycle; vehicle: duree_de_charge_estimee
    )
    rated_power_w: float | None = None  # tank, heater, vehicle charging power
    comfort: ComfortSettings | None = None


class EquipmentRow(msgspec.Struct, frozen=True):
    """The live columns of one `equipement_pilote_ou_mesure` row."""

    id: int
    type_id: int
    typology_id: int
    mode: int
    control_state: int
    command_state: int
    consigne: bool
    started_at: int  # timestamp_derniere_mise_en_marche
    programmed_at: int  # timestamp_derniere_programmation
    household: str | None
    name: str
    details: EquipmentDetails = EquipmentDetails()
    # From the supervisor's own schema, not the row: (device, relay on, time of its last confirmed
    # change) of the equipment's devices, so that anti short-cycling survives a restart.
    relays: tuple[tuple[str, bool, int], ...] = ()


class DeviceRow(msgspec.Struct, frozen=True):
    """One `equipement_domotique` row joined with its per-type detail row (topics)."""

    id: str
    equipment_id: int
    type_id: int
    type_name: str | None  # equipement_domotique_type.nom, selects the detail table
    usage: int
    hardware_id: str | None
    household: str | None
    assigned: bool
    detail_id: int = 0  # equipement_domotique_specifique_id
    control_topic: str | None = None  # None: no detail row found
    command_topic: str | None = None
    lwt_topic: str | None = None
    detail_problem: str | None = None  # e.g. a detail row pointing at another device


class DetailRow(msgspec.Struct, frozen=True):
    """One row of a per-type detail table (`equipement_domotique_<type>`): the MQTT topics."""

    id: int
    device_id: str
    control_topic: str | None
    command_topic: str | None
    lwt_topic: str | None


class DeviceSpec(msgspec.Struct, frozen=True):
    """What an actor needs to drive or read one device."""

    id: str
    type_id: int
    usage: int
    codec: str
    control_topic: str
    command_topic: str
    lwt_topic: str | None
    report_period_s: float
    hardware_id: str | None = None
    household: str | None = None  # utilisateur, when utilisateur_affecte (screens use it)


class EquipmentSpec(msgspec.Struct, frozen=True):
    """Static description of one piloted or measured equipment."""

    id: int
    name: str
    type_id: int
    kind: Kind | None
    typology: int
    household: str | None
    devices: tuple[DeviceSpec, ...]
    control: ControlParams
    problem: str | None = None  # set when the equipment cannot be driven
    warnings: tuple[str, ...] = ()  # devices left out, the equipment still runs

    def device(self, usage: int) -> DeviceSpec | None:
        for device in self.devices:
            if device.usage == usage:
                return device
        return None
