"""Equipment and device descriptions built from coordination-database rows.

Pure: the DbGateway reads the rows, this module checks them and builds the specs the actors run
on. A row that cannot be driven does not stop the others: its spec carries a `problem` (one
line naming the culprit) and its actor goes to state 30 with that reason.
"""

from __future__ import annotations

import re

import msgspec

from protocol.config import Config
from protocol.devices import CODECS
from protocol.ids import Kind, Mode, kind_of
from protocol.model import DetailRow, DeviceRow, DeviceSpec, EquipmentRow, EquipmentSpec
from protocol.typologies.roles import roles_of

_TABLE_NAME = re.compile(r"^[a-z0-9_]{1,50}$")


def detail_table(type_name: str) -> str | None:
    """The detail table of a device type; None when the name is not a safe identifier."""
    if not _TABLE_NAME.match(type_name):
        return None
    return f"equipement_domotique_{type_name}"


def attach_details(
    devices: list[DeviceRow], details: dict[str, dict[int, DetailRow] | None]
) -> list[DeviceRow]:
    """Give each device the topics of its detail row (forward link `specifique_id` -> id).

    `details` maps a device type name to its detail table's rows by id, None when the table is
    missing. The backward link (`equipement_domotique_id`) must agree, as the old program relied
    on the forward one and provisioning scripts are hand-written.
    """
    attached = []
    for device in devices:
        rows = details.get(device.type_name or "")
        detail = rows.get(device.detail_id) if rows else None
        problem = None
        if device.type_name is None:
            problem = f"unknown device type {device.type_id}"
        elif rows is None:
            problem = f"detail table equipement_domotique_{device.type_name} is missing"
        elif detail is None:
            problem = f"no row {device.detail_id} in equipement_domotique_{device.type_name}"
        elif detail.device_id != device.id:
            problem = (
                f"row {detail.id} of equipement_domotique_{device.type_name} belongs to "
                f"device {detail.device_id}"
            )
        if problem or detail is None:
            attached.append(msgspec.structs.replace(device, detail_problem=problem))
            continue
        attached.append(
            msgspec.structs.replace(
                device,
                control_topic=(detail.control_topic or "").strip() or None,
                command_topic=(detail.command_topic or "").strip() or None,
                lwt_topic=(detail.lwt_topic or "").strip() or None,
            )
        )
    return attached


def wants_actor(row: EquipmentRow) -> bool:
    """Every equipment with a typology and a mode other than 80 (suppr) gets an actor."""
    return row.typology_id > 0 and row.mode != Mode.SUPPR


def build_equipment(row: EquipmentRow, devices: list[DeviceRow], config: Config) -> EquipmentSpec:
    """Check one equipment and its devices; never raises.

    A device that cannot be used is a warning; it becomes the equipment's problem (state 30)
    only when the typology needs it.
    """
    kind = kind_of(row.type_id)
    specs: list[DeviceSpec] = []
    problems: list[str] = []
    for device in devices:
        # A screen plays no role in the typology: its availability is monitored here, the
        # screen itself belongs to the household's display.
        spec, problem = _build_device(device, config)
        if problem:
            problems.append(problem)
        if spec:
            specs.append(spec)
    control = config.control.for_type(row.type_id)
    problem = _check_equipment(row, kind, specs)
    if problem and problems:
        problem = f"{problem} ({'; '.join(problems)})"
    return EquipmentSpec(
        id=row.id,
        name=row.name,
        type_id=row.type_id,
        kind=kind,
        typology=row.typology_id,
        household=row.household,
        devices=tuple(specs),
        control=control,
        problem=problem,
        warnings=tuple(problems),
    )


def _build_device(device: DeviceRow, config: Config) -> tuple[DeviceSpec | None, str | None]:
    codec = config.devices.codec_for(device.type_id)
    if codec is None:
        return None, f"device {device.id}: unknown device type {device.type_id}"
    if codec not in CODECS:
        return (
            None,
            f"device {device.id}: device type {device.type_id} maps to unknown codec {codec!r}",
        )
    if device.detail_problem:
        return None, f"device {device.id}: {device.detail_problem}"
    if device.control_topic is None or device.command_topic is None:
        return None, f"device {device.id}: empty topic in its detail row"
    for topic in (device.control_topic, device.command_topic, device.lwt_topic):
        if topic and ("+" in topic or "#" in topic):
            return None, f"device {device.id}: topic {topic!r} contains an MQTT wildcard"
    lwt = device.lwt_topic if device.lwt_topic not in (None, "", "aucun", "NULL") else None
    spec = DeviceSpec(
        id=device.id,
        type_id=device.type_id,
        usage=device.usage,
        codec=codec,
        control_topic=device.control_topic,
        command_topic=device.command_topic,
        lwt_topic=lwt,
        report_period_s=config.devices.report_period_for(device.type_id),
        hardware_id=device.hardware_id,
        household=device.household if device.assigned else None,
    )
    problem = CODECS[codec].check(spec)
    return (None, f"device {device.id}: {problem}") if problem else (spec, None)


def _check_equipment(row: EquipmentRow, kind: Kind | None, devices: list[DeviceSpec]) -> str | None:
    if kind is None:
        return f"unknown equipment type {row.type_id}"
    roles = roles_of(row.typology_id)
    if roles is None:
        return f"unknown typology {row.typology_id}"
    if kind == Kind.MEASURED or roles.family == "observer":
        return None  # observed only: any measuring device will do, none is ever commanded
    if roles.family == "finger" and kind == Kind.CONTINUOUS:
        return (
            f"continuous equipment type {row.type_id} cannot run finger typology "
            f"{row.typology_id}: a finger cannot switch it off"
        )
    usages = {d.usage for d in devices}
    for role in roles.required:
        wanted = getattr(roles, role)
        if not usages.intersection(wanted):
            names = " or ".join(str(u) for u in wanted)
            what = role.replace("_", " ")
            return f"typology {row.typology_id} needs a {what} device of usage {names}"
    return None


def build_inventory(
    rows: list[EquipmentRow], devices: list[DeviceRow], config: Config
) -> list[EquipmentSpec]:
    """Specs of every equipment that gets an actor."""
    by_equipment: dict[int, list[DeviceRow]] = {}
    for device in devices:
        by_equipment.setdefault(device.equipment_id, []).append(device)
    return [
        build_equipment(row, by_equipment.get(row.id, []), config)
        for row in rows
        if wants_actor(row)
    ]
