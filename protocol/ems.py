"""EMS plans (table `result`): decoding, choice of the applicable plan, slot arithmetic.

Rule (spec interfaces.md §1): the decision for equipment E at time t comes from the row with
`machine_id = E` and the greatest `first_valid_timestamp <= t` (ties: greatest `id`), provided
`t - first_valid_timestamp < 86400`; slot = `(t - first_valid_timestamp) div 900`. A plan that
starts in the future is never applied early. Pure: time is a parameter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import msgspec

SLOT_SECONDS = 900
SLOTS = 96
HORIZON_SECONDS = SLOTS * SLOT_SECONDS


class PlanError(ValueError):
    """A `result` row that cannot be used; the message names the row."""


class Plan(msgspec.Struct, frozen=True, array_like=True):
    id: int
    machine_id: int
    first_valid_timestamp: int
    decisions: tuple[int, ...]


class Decision(msgspec.Struct, frozen=True):
    on: bool
    slot_start: int
    plan_id: int


def slot_start(t: float) -> int:
    """Start of the quarter hour containing t (epoch quarters equal local quarters in France)."""
    return int(t // SLOT_SECONDS) * SLOT_SECONDS


def next_boundary(t: float) -> int:
    return slot_start(t) + SLOT_SECONDS


def plan_from_row(row: Sequence[object]) -> Plan:
    """(id, first_valid_timestamp, machine_id, decisions_0..decisions_95) -> Plan."""
    if len(row) != 3 + SLOTS:
        name = f" {row[0]!r}" if row else ""
        raise PlanError(f"result row{name} has {len(row)} columns, expected {3 + SLOTS}")
    plan_id, first_valid, machine_id, *decisions = row
    if not all(
        isinstance(v, int) and not isinstance(v, bool) for v in (plan_id, first_valid, machine_id)
    ):
        raise PlanError(
            f"result row {plan_id!r}: id, first_valid_timestamp and machine_id must be integers"
        )
    assert isinstance(plan_id, int) and isinstance(first_valid, int) and isinstance(machine_id, int)
    if first_valid % SLOT_SECONDS:
        raise PlanError(
            f"result row {plan_id}: first_valid_timestamp {first_valid} is not a multiple of 900"
        )
    if any(value not in (0, 1) for value in decisions):
        raise PlanError(f"result row {plan_id}: decisions must be 0 or 1")
    return Plan(plan_id, machine_id, first_valid, tuple(int(v) for v in decisions))  # type: ignore[arg-type]


def applicable_plan(plans: Iterable[Plan], t: float) -> Plan | None:
    """The plan that governs time t among the plans of one machine, if any."""
    best: Plan | None = None
    for plan in plans:
        if plan.first_valid_timestamp > t or t - plan.first_valid_timestamp >= HORIZON_SECONDS:
            continue
        if best is None or (plan.first_valid_timestamp, plan.id) > (
            best.first_valid_timestamp,
            best.id,
        ):
            best = plan
    return best


def decision_at(plans: Iterable[Plan], t: float) -> Decision | None:
    plan = applicable_plan(plans, t)
    if plan is None:
        return None
    slot = int((t - plan.first_valid_timestamp) // SLOT_SECONDS)
    return Decision(
        on=bool(plan.decisions[slot]),
        slot_start=plan.first_valid_timestamp + slot * SLOT_SECONDS,
        plan_id=plan.id,
    )


def stagger_offset(equipment: int, stagger_s: float) -> float:
    """How long after an EMS decision a continuous load applies it: a stable offset in
    [0, stagger_s), spread evenly over the equipment (`control.stagger_s`; 0: at once).

    A hash of the id, the same in every process and after every restart (Python's `hash` is
    salted per process), so that an equipment always switches at the same point of the window.
    """
    if stagger_s <= 0:
        return 0.0
    digest = hashlib.blake2b(str(equipment).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) / 2.0**53 * stagger_s  # 53 bits: < 1 exactly


PlanBook = dict[int, tuple[Plan, ...]]
"""machine_id -> the plans worth keeping: the applicable one and those that start later."""


def merge(book: PlanBook, plans: Iterable[Plan], t: float) -> PlanBook:
    """Add freshly read plans to a book (as `merge` or `prune` returned it) and drop those that
    can no longer apply at t or later. The machines without a new plan are only re-examined
    when their plans changed at t (one ran out, or a later one started): merging one EMS run
    costs its own rows, not the whole book again."""
    fresh: dict[int, dict[int, Plan]] = {}
    for plan in plans:
        own = fresh.get(plan.machine_id)
        if own is None:
            own = fresh[plan.machine_id] = {p.id: p for p in book.get(plan.machine_id, ())}
        own[plan.id] = plan
    merged: PlanBook = {}
    for machine, kept in book.items():
        if machine not in fresh and (kept := kept if _unchanged(kept, t) else _keep(kept, t)):
            merged[machine] = kept
    for machine, own in fresh.items():
        if kept := _keep(own.values(), t):
            merged[machine] = kept
    return merged


def prune(book: PlanBook, t: float) -> PlanBook:
    """The plans of any book (a file read back included) that can still apply at t or later."""
    return {m: kept for m, ps in book.items() if (kept := _keep(ps, t))}


def _unchanged(kept: tuple[Plan, ...], t: float) -> bool:
    """Whether `_keep` at t would return plans it kept earlier unchanged: no later plan has
    started and the current one (if it started) has not run out."""
    first = kept[0].first_valid_timestamp
    return (len(kept) == 1 or kept[1].first_valid_timestamp > t) and (
        first > t or t - first < HORIZON_SECONDS
    )


def _keep(plans: Iterable[Plan], t: float) -> tuple[Plan, ...]:
    plans = list(plans)
    current = applicable_plan(plans, t)
    future: dict[int, Plan] = {}  # one per start: a re-run's smaller id can never apply
    for p in plans:
        start = p.first_valid_timestamp
        if start > t and (start not in future or p.id > future[start].id):
            future[start] = p
    kept = ([current] if current else []) + list(future.values())
    return tuple(sorted(kept, key=lambda p: (p.first_valid_timestamp, p.id)))


def decisions(book: PlanBook, t: float) -> dict[int, Decision]:
    """Decision of every machine that has one at t."""
    return {m: d for m, plans in book.items() if (d := decision_at(plans, t)) is not None}


def last_decision_time(book: PlanBook) -> int | None:
    """When the plans in the book run out (for the 'applying cached plans' status)."""
    ends = [p.first_valid_timestamp + HORIZON_SECONDS for ps in book.values() for p in ps]
    return max(ends) if ends else None


_book_encoder = msgspec.json.Encoder()
_book_decoder = msgspec.json.Decoder(list[Plan])


def encode_book(book: PlanBook) -> bytes:
    return _book_encoder.encode([p for ps in book.values() for p in ps])


def decode_book(data: bytes) -> PlanBook:
    """Raises msgspec.DecodeError / ValidationError on a damaged file."""
    plans = _book_decoder.decode(data)
    book: dict[int, list[Plan]] = {}
    for plan in plans:
        if len(plan.decisions) != SLOTS:
            raise msgspec.ValidationError(f"plan {plan.id} has {len(plan.decisions)} decisions")
        book.setdefault(plan.machine_id, []).append(plan)
    return {m: tuple(ps) for m, ps in book.items()}
