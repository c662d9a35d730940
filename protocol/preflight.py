"""What `check-config --online` concludes from what it found: pure functions over the facts
(tables and columns present, privileges held, the inventory), each problem one line naming the
configuration key, the table or the column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from msgspec import Struct

from protocol.model import EquipmentSpec


class Catalogue(Struct, frozen=True):
    """Facts about one schema, as the connected role sees them."""

    schema: str
    columns: dict[str, frozenset[str]]  # table -> columns present
    select: dict[str, bool] = {}  # table -> SELECT granted
    update: dict[str, dict[str, bool]] = {}  # table -> column -> UPDATE granted


def schema_problems(
    catalogue: Catalogue, required: Mapping[str, Iterable[str]], key: str
) -> list[str]:
    """Missing tables and columns (the schema version the supervisor reads)."""
    problems = []
    for table, columns in required.items():
        present = catalogue.columns.get(table)
        name = f"{catalogue.schema}.{table}"
        if present is None:
            problems.append(f"{key}: table {name} does not exist")
            continue
        missing = [c for c in columns if c not in present]
        if missing:
            problems.append(f"{key}: table {name} has no column {', '.join(missing)}")
    return problems


def grant_problems(
    catalogue: Catalogue,
    selected: Iterable[str],
    updated: Mapping[str, Iterable[str]],
    role: str,
    key: str,
) -> list[str]:
    """SELECT on the tables read, UPDATE on the columns written (see deploy/sql/roles.sql)."""
    problems = []
    for table in selected:
        if table in catalogue.columns and not catalogue.select.get(table, False):
            problems.append(
                f"{key}: role {role} may not SELECT {catalogue.schema}.{table} "
                "(GRANT SELECT, deploy/sql/roles.sql)"
            )
    for table, columns in updated.items():
        if table not in catalogue.columns:
            continue
        granted = catalogue.update.get(table, {})
        denied = [c for c in columns if c in catalogue.columns[table] and not granted.get(c)]
        if denied:
            problems.append(
                f"{key}: role {role} may not UPDATE {catalogue.schema}.{table} "
                f"({', '.join(denied)}; GRANT UPDATE, deploy/sql/roles.sql)"
            )
    return problems


def inventory_lines(specs: Iterable[EquipmentSpec], screen_codec: str = "openhasp") -> list[str]:
    """One line per equipment it would drive (typology, devices) and one per screen."""
    lines = []
    screens = []
    for spec in specs:
        devices = ", ".join(f"{d.id} ({d.codec})" for d in spec.devices) or "no device"
        state = f"cannot be driven: {spec.problem}" if spec.problem else f"typology {spec.typology}"
        lines.append(f"equipment {spec.id} {spec.name!r}: {state}; {devices}")
        lines.extend(f"equipment {spec.id}: warning: {w}" for w in spec.warnings)
        screens.extend(
            f"screen {d.id} of equipment {spec.id} ({spec.household or 'no household'})"
            for d in spec.devices
            if d.codec == screen_codec
        )
    return lines + screens
