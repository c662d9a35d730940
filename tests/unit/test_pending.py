"""The writes kept in the state directory during a database outage: nothing lost or reordered
across saves, restarts and failed batches; the bound merges per equipment, the rows end the same."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocol import pending
from protocol.batching import WriteQueue, overlay
from protocol.messages import Declaration, Event, WriteBatch, WriteObserved, WriteState
from protocol.screens.state import ScreenUpdate
from tests.harness import equipment_row


def transition(equipment: int, n: int, **fields: int) -> WriteState:
    return WriteState(equipment=equipment, at=n, reason=f"t{n}", **fields)  # type: ignore[arg-type]


def test_the_file_gives_back_every_write_in_order() -> None:
    queue = WriteQueue()
    queue.add(transition(1, 2, mode=30))
    queue.add(WriteObserved(equipment=1, control_state=15, at=3))
    queue.add(Event(equipment=1, at=3.0, reason="why"))
    in_flight = WriteBatch(
        transitions=(transition(2, 1, command_state=11),),
        observed=(WriteObserved(equipment=1, control_state=25, at=1),),
    )
    batch = pending.pending(in_flight, queue)
    assert [t.at for t in batch.transitions] == [1, 2]
    assert [o.control_state for o in batch.observed] == [15]  # the newer observed state wins
    assert pending.decode(pending.encode(batch, 100.0)) == batch
    assert not queue.empty()  # nothing taken


def test_declarations_made_during_an_outage_are_kept_in_order_across_a_failed_batch() -> None:
    queue = WriteQueue()
    first = Declaration(ScreenUpdate(1, deadline=1000, deadline_column="d"), at=10)
    second = Declaration(ScreenUpdate(1, cycle_s=5400), at=11)
    queue.add(first)
    queue.add(transition(1, 12, mode=30))
    taken = queue.take()
    assert taken.declarations == (first,) and queue.empty()
    queue.add(second)
    queue.give_back(taken)  # the database went away during the batch
    batch = pending.pending(None, queue)
    assert batch.declarations == (first, second)
    assert pending.decode(pending.encode(batch, 100.0)) == batch
    older = b'{"format": "elfe-pending-writes", "version": 1, "saved_at": 0, "transitions": []}'
    assert pending.decode(older) == WriteBatch()  # a file written before declarations were kept


def test_a_damaged_or_foreign_file_is_named_not_a_crash() -> None:
    assert "not a pending-writes file" in str(pending.decode(b'{"truncated'))
    other = b'{"format": "other", "version": 1, "saved_at": 0}'
    assert "unknown format 'other'" in str(pending.decode(other))
    assert isinstance(pending.decode(b'{"format": "elfe-pending-writes", "version": 1}'), str)


def test_past_the_bound_each_equipment_keeps_one_transition_with_its_final_columns() -> None:
    writes = [
        transition(1, 1, mode=30, command_state=11),
        transition(2, 2, command_state=11),
        transition(1, 3, command_state=21),
        transition(1, 4, command_state=12, started_at=4),
    ]
    kept, merged, dropped = pending.bound(writes, limit=3)
    assert (merged, dropped) == (2, 0)
    assert [(w.equipment, w.at) for w in kept] == [(2, 2), (1, 4)]
    one = kept[1]
    assert (one.mode, one.command_state, one.started_at) == (30, 12, 4)
    assert one.reason == "t4 (3 merged)"
    assert pending.bound(writes, limit=4) == (writes, 0, 0)
    # more equipment than the bound: the oldest go, counted
    many = [transition(n, n, mode=30) for n in range(5)]
    assert pending.bound(many, limit=2) == (many[3:], 0, 3)


@given(
    st.lists(st.tuples(st.integers(0, 3), st.sampled_from([11, 12, 13, 21, 30])), max_size=40),
    st.integers(min_value=1, max_value=40),
)
def test_merging_at_the_bound_leaves_every_row_as_the_writes_in_order_would(
    steps: list[tuple[int, int]], limit: int
) -> None:
    writes = [
        transition(e, n, **({"command_state": v} if n % 2 else {"mode": v}))
        for n, (e, v) in enumerate(steps)
    ]
    kept, merged, dropped = pending.bound(writes, limit)
    assert len(kept) + merged + dropped == len(writes)
    assert dropped == 0 or len(kept) == limit
    if dropped == 0:
        for equipment in range(4):
            row = equipment_row(equipment, mode=30, command_state=11)
            everything = overlay(row, pending.by_equipment(writes))
            assert overlay(row, pending.by_equipment(kept)) == everything


@given(
    st.lists(st.sampled_from(["add", "take", "fail", "write", "restart"]), max_size=80),
    st.integers(min_value=1, max_value=4),
)
def test_transitions_are_written_once_each_in_order_across_failures_and_restarts(
    steps: list[str], size: int
) -> None:
    """`restart`: the process dies during an outage; what was kept (the queue and the batch on
    its way) is all a new process has."""
    queue, written, in_flight, n = WriteQueue(max_transitions=size), [], None, 0
    for step in [*steps, *["write"] * 100]:
        if step == "add":
            queue.add(transition(n % 3, n, mode=30))
            n += 1
        elif step == "restart":
            kept = pending.decode(pending.encode(pending.pending(in_flight, queue), 0.0))
            assert isinstance(kept, WriteBatch)
            queue, in_flight = WriteQueue(max_transitions=size), None
            queue.give_back(kept)
        elif in_flight is not None:  # the batch on its way ends, written or not
            if step == "fail":
                queue.give_back(in_flight)
            else:
                written.extend(t.at for t in in_flight.transitions)
            in_flight = None
        elif not queue.empty():
            in_flight = queue.take()
    assert written == list(range(n))
