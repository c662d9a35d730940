"""A screen's copy of its household, updated from every source; pure. Each function returns the
new copy and the ids of the equipment whose page must be redrawn."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from protocol.screens.state import ScreenEquipment, ScreenUpdate, shown_on_screen

Book = dict[int, ScreenEquipment]
Changed = tuple[Book, set[int]]


def loaded(old: Book | None, rows: Iterable[ScreenEquipment]) -> Changed:
    """The household as the database says; the planned starts (from the plans) are kept."""
    new: Book = {}
    for row in rows:
        before = (old or {}).get(row.id)
        new[row.id] = (
            row if before is None else msgspec.structs.replace(row, next_start=before.next_start)
        )
    if old is None:
        return new, set()
    changed = {
        e.id
        for e in new.values()
        if e.id not in old or shown_on_screen(old[e.id]) != shown_on_screen(e)
    }
    return new, changed


def shown(book: Book, equipment: int, mode: int, command_state: int, reason: str | None) -> Changed:
    """What the equipment's state machine shows now (mode, command state, last reason)."""
    current = book.get(equipment)
    if current is None:
        return book, set()
    new = msgspec.structs.replace(
        current, mode=mode, command_state=command_state, reason=reason or current.reason
    )
    return ({**book, equipment: new}, {equipment}) if new != current else (book, set())


def declared(book: Book, update: ScreenUpdate) -> Changed:
    """A declaration written from a screen (deadline, cycle, charge)."""
    current = book.get(update.equipment)
    if current is None:
        return book, set()
    changes = {
        field: value
        for field, value in (
            ("deadline", update.deadline),
            ("cycle_s", update.cycle_s),
            ("charge_percent", update.charge_percent),
        )
        if value is not None
    }
    new = msgspec.structs.replace(current, **changes)
    return {**book, update.equipment: new}, {update.equipment}


def planned(book: Book, starts: Iterable[tuple[int, int | None]]) -> Changed:
    """The next planned starts of the EMS plan."""
    new, changed = dict(book), set()
    for equipment, start in starts:
        current = new.get(equipment)
        if current is not None and current.next_start != start:
            new[equipment] = msgspec.structs.replace(current, next_start=start)
            changed.add(equipment)
    return new, changed
