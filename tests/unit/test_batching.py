"""Batching policies: report batches per actor, the database write queue (order kept, nothing
lost when a batch comes back), same-column runs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocol.batching import ReportBatches, WriteQueue, columns_of, overlay, same_column_runs
from protocol.messages import DeviceReport, DeviceTelemetry, Event, WriteObserved, WriteState
from protocol.ratelimit import WarnLimiter
from tests.harness import equipment_row


def transition(equipment: int, n: int, **fields: int) -> WriteState:
    return WriteState(equipment=equipment, at=n, reason=f"t{n}", **fields)  # type: ignore[arg-type]


def test_reports_of_one_read_go_to_each_actor_in_one_batch_in_arrival_order() -> None:
    batches = ReportBatches()
    r = [DeviceReport(device=f"D{i}", at=float(i)) for i in range(4)]
    batches.add("a", "actor-a", r[0])
    batches.add("b", "actor-b", r[1])
    batches.add("a", "actor-a", r[2])
    batches.add("b", "actor-b", r[3])
    assert batches.drain() == [("actor-a", (r[0], r[2])), ("actor-b", (r[1], r[3]))]
    assert batches.drain() == []


def test_a_batch_holds_every_queued_write_observed_states_coalesced() -> None:
    queue = WriteQueue()
    queue.add(transition(1, 1, command_state=11))
    queue.add(WriteObserved(equipment=1, control_state=25, at=1))
    queue.add(WriteObserved(equipment=1, control_state=15, at=2))
    queue.add(DeviceTelemetry(equipment=1, device="A101", at=2, power_w=10.0))
    queue.add(Event(equipment=1, at=2.0, reason="why"))
    batch = queue.take()
    assert [t.reason for t in batch.transitions] == ["t1"]
    assert [o.control_state for o in batch.observed] == [15]
    assert len(batch.telemetry) == 1 and len(batch.events) == 1
    assert queue.empty()


def test_transitions_beyond_the_batch_size_wait_for_the_next_batch() -> None:
    queue = WriteQueue(max_transitions=2)
    for n in range(5):
        queue.add(transition(n, n, mode=30))
    queue.add(WriteObserved(equipment=9, control_state=15, at=1))
    first = queue.take()
    assert [t.at for t in first.transitions] == [0, 1] and first.observed == ()
    assert [t.at for t in queue.take().transitions] == [2, 3]
    last = queue.take()
    assert [t.at for t in last.transitions] == [4] and len(last.observed) == 1


def test_a_batch_given_back_goes_in_front_and_newer_coalesced_values_win() -> None:
    queue = WriteQueue()
    queue.add(transition(1, 1, mode=20))
    queue.add(WriteObserved(equipment=1, control_state=25, at=1))
    batch = queue.take()
    queue.add(transition(1, 2, mode=30))
    queue.add(WriteObserved(equipment=1, control_state=15, at=2))
    queue.give_back(batch)
    again = queue.take()
    assert [t.at for t in again.transitions] == [1, 2]
    assert [o.control_state for o in again.observed] == [15]


def test_the_journal_backlog_is_bounded_the_oldest_events_go_first() -> None:
    queue = WriteQueue(max_events=3)
    for n in range(5):
        queue.add(Event(equipment=1, at=float(n), reason=str(n)))
    batch = queue.take()
    assert [e.reason for e in batch.events] == ["2", "3", "4"]
    queue.add(Event(equipment=1, at=9.0, reason="9"))
    queue.give_back(batch)
    assert [e.reason for e in queue.take().events] == ["3", "4", "9"]


@given(
    st.lists(st.sampled_from(["add", "take", "fail"]), max_size=60),
    st.integers(min_value=1, max_value=4),
)
def test_transitions_are_written_once_each_in_order_whatever_the_failures(
    steps: list[str], size: int
) -> None:
    queue, written, in_flight, n = WriteQueue(max_transitions=size), [], None, 0
    for step in [*steps, "take", *["take"] * 60]:
        if step == "add":
            queue.add(transition(n % 3, n, mode=30))
            n += 1
        elif in_flight is not None:  # the batch in flight ends, written or not
            if step == "fail":
                queue.give_back(in_flight)
            else:
                written.extend(t.at for t in in_flight.transitions)
            in_flight = None
        elif not queue.empty():
            in_flight = queue.take()
    if in_flight is not None:
        written.extend(t.at for t in in_flight.transitions)
    assert written == list(range(n))


def test_same_column_runs_keep_the_order_of_every_write() -> None:
    writes = (
        transition(1, 1, mode=30, command_state=11),
        transition(2, 2, mode=30, command_state=11),
        transition(1, 3, command_state=15),
        transition(1, 4, mode=20, command_state=13),
        transition(3, 5, mode=20, command_state=13),
    )
    runs = same_column_runs(writes)
    assert [cols for cols, _ in runs] == [
        ("mode", "command_state"),
        ("command_state",),
        ("mode", "command_state"),
    ]
    assert [w.at for _, run in runs for w in run] == [1, 2, 3, 4, 5]
    assert columns_of(transition(1, 1, consigne=False)) == ("consigne",)  # type: ignore[arg-type]


def test_a_topic_warns_at_most_once_a_period_and_counts_the_rest() -> None:
    limiter = WarnLimiter(60.0)
    assert limiter.allow("t", 0.0) == 0
    assert limiter.allow("t", 10.0) is None
    assert limiter.allow("t", 20.0) is None
    assert limiter.allow("u", 20.0) == 0
    assert limiter.allow("t", 61.0) == 2


def test_a_row_read_before_later_transitions_is_seen_as_they_leave_it() -> None:
    row = equipment_row(7, mode=30, command_state=21)
    later = {
        7: [transition(7, 1, command_state=12), transition(7, 2, mode=20, command_state=13)],
        8: [transition(8, 3, mode=80)],
    }
    seen = overlay(row, later)
    assert (seen.mode, seen.command_state, seen.consigne) == (20, 13, row.consigne)
    assert overlay(row, {}) == row


def test_a_warning_ends_with_what_was_held_back() -> None:
    limiter = WarnLimiter(60.0)
    assert limiter.suffix("t", 0.0) == ""
    assert limiter.suffix("t", 10.0) is None
    assert limiter.suffix("t", 61.0) == " (1 more since the last warning)"
