"""EMS plans: choice of the applicable plan, slot arithmetic, plan book, `result` rows.

Spec interfaces.md §1 and reference coordination-db.md §6.4: for equipment E at time t, the row
with the greatest first_valid_timestamp <= t (ties: greatest id), if t - fvt < 86400;
slot = (t - fvt) div 900.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Sequence

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.config import ControlParams
from protocol.ems import (
    HORIZON_SECONDS,
    SLOT_SECONDS,
    SLOTS,
    Decision,
    Plan,
    PlanBook,
    PlanError,
    applicable_plan,
    decision_at,
    decisions,
    decode_book,
    encode_book,
    last_decision_time,
    merge,
    next_boundary,
    plan_from_row,
    prune,
    slot_start,
    stagger_offset,
)

F = 1_717_200_000  # 2024-06-01 00:00 UTC, a multiple of 900
assert F % SLOT_SECONDS == 0
ALL_OFF = (0,) * SLOTS
ALL_ON = (1,) * SLOTS


def plan(plan_id: int, fvt: int, decisions_: Sequence[int] = ALL_OFF, machine: int = 1) -> Plan:
    return Plan(
        id=plan_id, machine_id=machine, first_valid_timestamp=fvt, decisions=tuple(decisions_)
    )


def only_slot(k: int) -> tuple[int, ...]:
    return tuple(1 if i == k else 0 for i in range(SLOTS))


def row(
    plan_id: object, fvt: object, machine: object, values: Sequence[object]
) -> tuple[object, ...]:
    return (plan_id, fvt, machine, *values)


# --- slot helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "start"),
    [(F, F), (F + 0.001, F), (F + 899.999, F), (F + 900, F + 900), (F - 0.5, F - 900)],
)
def test_slot_start_and_next_boundary(t: float, start: int) -> None:
    assert slot_start(t) == start
    assert next_boundary(t) == start + SLOT_SECONDS


# --- the rule, table tests ---------------------------------------------------------------------


def test_no_plan_no_decision() -> None:
    assert decision_at([], F) is None
    assert applicable_plan([], F) is None


def test_plan_applies_exactly_at_its_first_valid_timestamp() -> None:
    p = plan(7, F, only_slot(0))
    assert decision_at([p], F) == Decision(on=True, slot_start=F, plan_id=7)


def test_plan_starting_in_the_future_is_not_applied() -> None:
    p = plan(7, F + 900, ALL_ON)
    assert decision_at([p], F) is None
    assert decision_at([p], F + 899.999) is None
    assert decision_at([p], F + 900) == Decision(on=True, slot_start=F + 900, plan_id=7)


def test_next_plan_is_not_applied_one_slot_early() -> None:
    """The 2023 program, run at hh:15:05 after the hh:14:30 EMS run had written the hh:30 plan,
    applied that plan's decisions_0 during hh:15-hh:30."""
    current = plan(10, F + 900, ALL_OFF)  # written by the hh:59:30 run
    newest = plan(11, F + 1800, only_slot(0))  # written by the hh:14:30 run: start at hh:30
    plans = [current, newest]
    for t in (F + 900 + 5, F + 1799, F + 1799.999):
        decision = decision_at(plans, t)
        assert decision == Decision(on=False, slot_start=F + 900, plan_id=10), t
    assert decision_at(plans, F + 1800) == Decision(on=True, slot_start=F + 1800, plan_id=11)
    assert decision_at(plans, F + 1800 + 5) == Decision(on=True, slot_start=F + 1800, plan_id=11)


def test_plan_far_in_the_future_never_indexes_outside_its_decisions() -> None:
    far = plan(11, F + 10 * 900, ALL_ON)
    assert decision_at([far], F) is None


@pytest.mark.parametrize(
    ("offset", "slot"),
    [(0, 0), (1, 0), (899, 0), (900, 1), (901, 1), (45 * 900 + 450, 45), (86399, 95)],
)
def test_slot_is_the_quarter_hours_elapsed_since_the_first_valid_timestamp(
    offset: int, slot: int
) -> None:
    p = plan(3, F, only_slot(slot))
    decision = decision_at([p], F + offset)
    assert decision == Decision(on=True, slot_start=F + slot * 900, plan_id=3)
    # and every other slot is off: the index is exactly `slot`
    neighbour = plan(3, F, tuple(1 - v for v in only_slot(slot)))
    assert decision_at([neighbour], F + offset) == Decision(False, F + slot * 900, 3)


def test_last_second_of_the_horizon_and_the_first_after_it() -> None:
    p = plan(3, F, ALL_ON)
    assert decision_at([p], F + 86399) == Decision(True, F + 95 * 900, 3)
    assert decision_at([p], F + 86399.999) == Decision(True, F + 95 * 900, 3)
    assert decision_at([p], F + 86400) is None
    assert decision_at([p], F + 86400 + 900) is None


def test_expired_newest_plan_gives_no_decision_even_with_older_ones() -> None:
    older, newer = plan(1, F - 900, ALL_ON), plan(2, F, ALL_ON)
    assert decision_at([older, newer], F + 86400) is None


def test_duplicate_rows_of_a_rerun_ems_take_the_greatest_id() -> None:
    first_run = plan(20, F, ALL_OFF)
    rerun = plan(21, F, ALL_ON)
    for plans in ([first_run, rerun], [rerun, first_run]):
        assert decision_at(plans, F + 10) == Decision(True, F, 21)


def test_greatest_timestamp_wins_over_greatest_id() -> None:
    late_row_old_plan = plan(99, F, ALL_OFF)  # inserted later, but for an earlier start
    newer_plan = plan(50, F + 900, ALL_ON)
    assert decision_at([late_row_old_plan, newer_plan], F + 900) == Decision(True, F + 900, 50)
    assert decision_at([late_row_old_plan, newer_plan], F + 899) == Decision(False, F, 99)


def test_decisions_gives_every_machine_that_has_one() -> None:
    book: PlanBook = {
        1: (plan(1, F, ALL_ON, machine=1),),
        2: (plan(2, F + 900, ALL_ON, machine=2),),  # future
        3: (plan(3, F - 86400, ALL_ON, machine=3),),  # expired
    }
    assert decisions(book, F) == {1: Decision(True, F, 1)}
    assert set(decisions(book, F + 900)) == {1, 2}


def test_last_decision_time_is_when_the_latest_plan_runs_out() -> None:
    assert last_decision_time({}) is None
    book: PlanBook = {1: (plan(1, F),), 2: (plan(2, F + 900, machine=2), plan(3, F, machine=2))}
    assert last_decision_time(book) == F + 900 + HORIZON_SECONDS


# --- the rule, properties against a brute-force reference ------------------------------------


def reference(plans: Sequence[Plan], t: float) -> Decision | None:
    """Literal reading of the spec: scan every slot of every plan for the ones covering t."""
    started = [p for p in plans if p.first_valid_timestamp <= t]
    if not started:
        return None
    newest = max(p.first_valid_timestamp for p in started)
    chosen = max((p for p in started if p.first_valid_timestamp == newest), key=lambda p: p.id)
    for k in range(SLOTS):
        begin = chosen.first_valid_timestamp + k * SLOT_SECONDS
        if begin <= t < begin + SLOT_SECONDS:
            return Decision(on=chosen.decisions[k] == 1, slot_start=begin, plan_id=chosen.id)
    return None  # t is past the 96th slot of the newest plan that started


@st.composite
def plan_sets(draw: st.DrawFn, machine: int = 1) -> list[Plan]:
    """Plans of one machine around F: starts spread over a few days, re-runs sharing a start."""
    ids = draw(st.lists(st.integers(1, 10_000), unique=True, max_size=8))
    plans = []
    for plan_id in ids:
        fvt = F + 900 * draw(st.integers(-300, 300) | st.integers(-2, 2))  # | re-runs
        bits = draw(st.integers(0, 2**SLOTS - 1))  # cheaper to draw than 96 separate values
        values = [(bits >> k) & 1 for k in range(SLOTS)]
        plans.append(plan(plan_id, fvt, values, machine))
    return plans


times = st.builds(
    lambda quarters, seconds, fraction: F + 900 * quarters + seconds + fraction,
    st.integers(-400, 400),
    st.sampled_from([0, 1, 5, 450, 899]),
    st.sampled_from([0.0, 0.25, 0.999]),
)


@settings(max_examples=300)
@given(plan_sets(), times)
def test_decision_matches_brute_force_reference(plans: list[Plan], t: float) -> None:
    assert decision_at(plans, t) == reference(plans, t)


@settings(max_examples=100)
@given(plan_sets(), st.integers(0, 2**32), times)
def test_decision_does_not_depend_on_row_order(plans: list[Plan], seed: int, t: float) -> None:
    shuffled = list(plans)
    random.Random(seed).shuffle(shuffled)
    assert decision_at(shuffled, t) == decision_at(plans, t)


@settings(max_examples=100)
@given(plan_sets(), times)
def test_decision_never_comes_from_a_plan_not_yet_started(plans: list[Plan], t: float) -> None:
    decision = decision_at(plans, t)
    if decision is not None:
        chosen = next(p for p in plans if p.id == decision.plan_id)
        assert chosen.first_valid_timestamp <= decision.slot_start <= t
        assert t < decision.slot_start + SLOT_SECONDS
        assert decision.slot_start < chosen.first_valid_timestamp + HORIZON_SECONDS


# --- the plan book: merge / prune --------------------------------------------------------------


def interesting_times(plans: Sequence[Plan], t: float) -> list[float]:
    """Every instant at or after t where the applicable plan may change, and just before it."""
    found = {t, t + 0.5}
    for p in plans:
        for edge in (p.first_valid_timestamp, p.first_valid_timestamp + HORIZON_SECONDS):
            found.update({edge - 1, edge - 0.001, edge, edge + 1})
    return sorted(x for x in found if x >= t)


@st.composite
def books_of_machines(draw: st.DrawFn) -> list[Plan]:
    plans: list[Plan] = []
    used: set[int] = set()
    for machine in draw(st.lists(st.integers(1, 5), unique=True, max_size=3)):
        for p in draw(plan_sets(machine)):
            if p.id not in used:
                used.add(p.id)
                plans.append(p)
    return plans


def by_machine(plans: Sequence[Plan]) -> dict[int, list[Plan]]:
    grouped: dict[int, list[Plan]] = {}
    for p in plans:
        grouped.setdefault(p.machine_id, []).append(p)
    return grouped


@settings(max_examples=200)
@given(books_of_machines(), times)
def test_merge_keeps_every_decision_from_t_on(plans: list[Plan], t: float) -> None:
    book = merge({}, plans, t)
    for machine, own in by_machine(plans).items():
        kept = book.get(machine, ())
        for later in interesting_times(own, t):
            assert decision_at(kept, later) == decision_at(own, later), (machine, later)


@settings(max_examples=200)
@given(books_of_machines(), times)
def test_merge_keeps_only_plans_that_can_still_apply(plans: list[Plan], t: float) -> None:
    book = merge({}, plans, t)
    grouped = by_machine(plans)
    for machine, kept in book.items():
        assert kept, "no empty entries"
        for p in kept:
            assert p.machine_id == machine
            # A plan that applies at some instant >= t applies at the first instant it could.
            assert applicable_plan(grouped[machine], max(t, p.first_valid_timestamp)) == p, p.id


@st.composite
def two_reads(draw: st.DrawFn) -> tuple[list[Plan], list[Plan]]:
    """The rows of two reads: no id read twice."""
    first = draw(books_of_machines())
    ids = {p.id for p in first}
    return first, [p for p in draw(books_of_machines()) if p.id not in ids]


@settings(max_examples=100)
@given(two_reads(), times, st.integers(0, 3 * 86400))
def test_merging_in_batches_equals_merging_at_once(
    reads: tuple[list[Plan], list[Plan]], t: float, later_by: int
) -> None:
    first, second = reads
    later = t + later_by
    stepwise = merge(merge({}, first, t), second, later)
    at_once = merge({}, first + second, later)
    assert {m: set(ps) for m, ps in stepwise.items()} == {m: set(ps) for m, ps in at_once.items()}


@settings(max_examples=100)
@given(books_of_machines(), times, st.integers(0, 3 * 86400))
def test_prune_later_keeps_decisions_and_is_idempotent(
    plans: list[Plan], t: float, later_by: int
) -> None:
    book = merge({}, plans, t)
    later = t + later_by
    pruned = prune(book, later)
    assert prune(pruned, later) == pruned
    for machine, own in by_machine(plans).items():
        for when in interesting_times(own, later):
            assert decision_at(pruned.get(machine, ()), when) == decision_at(own, when)


def test_prune_drops_expired_and_superseded_plans() -> None:
    expired = plan(1, F - 86400)
    superseded = plan(2, F - 900)
    current = plan(3, F)
    future = plan(4, F + 900)
    assert prune({1: (expired, superseded, current, future)}, F + 10) == {1: (current, future)}
    assert prune({1: (expired,)}, F) == {}


def test_prune_drops_a_rerun_duplicate_that_can_never_apply() -> None:
    first_run, rerun = plan(20, F + 900), plan(21, F + 900)
    assert prune({1: (first_run, rerun)}, F) == {1: (rerun,)}


def test_merge_replaces_a_plan_read_twice() -> None:
    p = plan(5, F)
    assert merge({1: (p,)}, [p, p], F) == {1: (p,)}


# --- the plan book on disk ---------------------------------------------------------------------


@settings(max_examples=100)
@given(books_of_machines(), times)
def test_book_round_trips_through_its_file(plans: list[Plan], t: float) -> None:
    book = merge({}, plans, t)
    assert decode_book(encode_book(book)) == book


def test_empty_book_round_trips() -> None:
    assert decode_book(encode_book({})) == {}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", msgspec.DecodeError),
        (b"[[1, 1, 900", msgspec.DecodeError),
        (b'{"plans": []}', msgspec.ValidationError),
        (b"[[1, 1, 900, [0, 1]]]", msgspec.ValidationError),  # 2 decisions instead of 96
        (b'[[1, 1, "900", []]]', msgspec.ValidationError),
    ],
)
def test_damaged_book_file_is_rejected(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_book(data)


# --- `result` rows -----------------------------------------------------------------------------


def test_plan_from_row() -> None:
    values = [0] * 40 + [1] * 8 + [0] * 48
    assert plan_from_row(row(42, F, 7, values)) == Plan(42, 7, F, tuple(values))


@pytest.mark.parametrize("fvt", [F + 1, F + 450, F - 300, 1])
def test_plan_from_row_rejects_a_start_off_the_quarter_hour(fvt: int) -> None:
    with pytest.raises(PlanError, match=r"\b42\b"):
        plan_from_row(row(42, fvt, 7, [0] * SLOTS))


@pytest.mark.parametrize("bad", [2, -1, "1", None, 0.5])
def test_plan_from_row_rejects_decisions_other_than_0_or_1(bad: object) -> None:
    values: list[object] = [0] * SLOTS
    values[37] = bad
    with pytest.raises(PlanError, match=r"\b42\b"):
        plan_from_row(row(42, F, 7, values))


@pytest.mark.parametrize("count", [0, 1, 95, 97, 120])
def test_plan_from_row_rejects_wrong_column_counts_naming_the_row(count: int) -> None:
    with pytest.raises(PlanError, match=r"\b42\b"):
        plan_from_row(row(42, F, 7, [0] * count))


def test_plan_from_row_rejects_an_empty_row() -> None:
    with pytest.raises(PlanError):
        plan_from_row(())


@pytest.mark.parametrize(
    "fields",
    [("42", F, 7), (42, str(F), 7), (42, F, None), (42, float(F), 7), (True, F, 7)],
)
def test_plan_from_row_rejects_non_integer_keys(fields: tuple[object, object, object]) -> None:
    with pytest.raises(PlanError, match=r"42|True"):
        plan_from_row(row(*fields, [0] * SLOTS))


@settings(max_examples=200)
@given(two_reads(), times, st.integers(0, 3 * 86400))
def test_merge_of_a_kept_book_equals_pruning_everything_again(
    reads: tuple[list[Plan], list[Plan]], t: float, later_by: int
) -> None:
    """Merge re-examines only what changed; the result is the one of a full prune."""
    first, second = reads
    book, later = merge({}, first, t), t + later_by
    full = prune(
        {m: (*book.get(m, ()), *ps) for m, ps in by_machine(second).items()}
        | {m: ps for m, ps in book.items() if m not in by_machine(second)},
        later,
    )
    assert merge(book, second, later) == full
    assert merge(book, (), later) == prune(book, later)


# --- stagger ---------------------------------------------------------------------------------


def test_stagger_is_off_by_default_and_when_zero() -> None:
    assert stagger_offset(12, 0.0) == 0.0
    assert ControlParams().stagger_s == 0.0


@given(st.integers(0, 10**9), st.floats(0.001, 3600))
def test_stagger_offset_is_stable_and_within_the_window(equipment: int, window: float) -> None:
    offset = stagger_offset(equipment, window)
    assert 0.0 <= offset < window
    assert stagger_offset(equipment, window) == offset


def test_stagger_offset_is_the_same_in_another_process() -> None:
    """No per-process salt: an equipment switches at the same point after a restart."""
    code = "from protocol.ems import stagger_offset; print(repr(stagger_offset(4242, 60.0)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) == stagger_offset(4242, 60.0)


def test_stagger_offsets_spread_evenly_over_the_window() -> None:
    """10 000 consecutive ids over 60 s: each 6 s tenth gets 1000 of them, give or take 10 %."""
    tenths = [0] * 10
    for equipment in range(1, 10_001):
        tenths[int(stagger_offset(equipment, 60.0) // 6.0)] += 1
    assert all(900 <= count <= 1100 for count in tenths), tenths
