"""Which screens exist and which household each one shows, from the inventory specs.

A screen is a device of type 711 attached to some equipment (spec interfaces.md §3): its node
is `id_materiel` compared case-insensitively with the node of its topics (`hasp/<node>`), its
household the device's `utilisateur` (when `utilisateur_affecte`). The household's equipment
is every equipment with the same `utilisateur`.
"""

from __future__ import annotations

from collections.abc import Iterable

from protocol.devices.openhasp import root_of
from protocol.model import EquipmentSpec
from protocol.screens.state import ScreenSpec

SCREEN_CODEC = "openhasp"
UNSET = ("", "non renseigné", "non renseigne")


def screens_of(specs: Iterable[EquipmentSpec]) -> tuple[tuple[ScreenSpec, ...], tuple[str, ...]]:
    """Every usable screen (one per node, the first device wins) and one line per screen left
    out."""
    screens: dict[str, ScreenSpec] = {}
    problems: list[str] = []
    for spec in specs:
        for device in spec.devices:
            if device.codec != SCREEN_CODEC:
                continue
            try:
                root = root_of(device)
            except ValueError as exc:
                problems.append(f"screen {device.id}: {exc}")
                continue
            node = root.rsplit("/", 1)[-1].lower()
            hardware = (device.hardware_id or "").strip()
            if hardware.lower() not in UNSET and hardware.lower() != node:
                problems.append(
                    f"screen {device.id}: id_materiel {hardware!r} is not the node of its "
                    f"topics {root!r}; the topics win"
                )
            household = (device.household or "").strip()
            if household.lower() in UNSET:
                problems.append(f"screen {device.id}: no household (utilisateur) assigned")
                continue
            if node in screens:
                problems.append(f"screen {device.id}: node {node} is already screen "
                                f"{screens[node].device}")  # fmt: skip
                continue
            command = device.command_topic
            if not command.endswith("/command/jsonl"):
                command = f"{root}/command/jsonl"
            screens[node] = ScreenSpec(device.id, node, root, command, device.household or "")
    return tuple(screens.values()), tuple(problems)


def households(specs: Iterable[EquipmentSpec]) -> dict[str, tuple[int, ...]]:
    """Each household's equipment ids, in order (one pass over the inventory)."""
    found: dict[str, list[int]] = {}
    for spec in specs:
        if spec.household is not None:
            found.setdefault(spec.household, []).append(spec.id)
    return {household: tuple(sorted(ids)) for household, ids in found.items()}
