"""The watchdog is fed only while the whole core answers; a silent core is declared dead."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocol.liveness import CORE, Liveness, Verdict, interval


def test_feed_hold_dead() -> None:
    state = Liveness(dead_after_s=30, last_ok=0.0)
    state, verdict = state.round(5.0, ())
    assert verdict is Verdict.FEED
    state, verdict = state.round(10.0, ("supervisor",))
    assert verdict is Verdict.HOLD
    state, verdict = state.round(34.0, ("supervisor", "mqtt"))
    assert verdict is Verdict.HOLD
    state, verdict = state.round(35.0, ("supervisor",))
    assert verdict is Verdict.DEAD
    assert state.describe(35.0) == "no answer from supervisor for 30 s"


def test_an_answer_resets_the_clock() -> None:
    state = Liveness(dead_after_s=30, last_ok=0.0)
    state, _ = state.round(29.0, ("db",))
    state, verdict = state.round(29.5, ())
    assert verdict is Verdict.FEED
    state, verdict = state.round(58.0, ("db",))
    assert verdict is Verdict.HOLD


@given(st.lists(st.tuples(st.floats(0, 10), st.booleans()), max_size=100))
def test_never_fed_while_silent_and_dead_only_after_the_bound(rounds: list) -> None:
    state, now, last_ok = Liveness(dead_after_s=30, last_ok=0.0), 0.0, 0.0
    for dt, ok in rounds:
        now += dt
        state, verdict = state.round(now, () if ok else CORE[:1])
        if ok:
            last_ok = now
            assert verdict is Verdict.FEED
        else:
            assert verdict is not Verdict.FEED
            assert (verdict is Verdict.DEAD) == (now - last_ok >= 30)


def test_interval() -> None:
    assert interval(None) == 5.0
    assert interval(30.0) == 5.0
    assert interval(4.0) == 2.0


def test_a_longer_bound_for_one_round() -> None:
    state = Liveness(dead_after_s=30, last_ok=0.0)
    state, verdict = state.round(60.0, ("supervisor",), dead_after_s=120)
    assert verdict is Verdict.HOLD
    state, verdict = state.round(60.0, ("supervisor",))
    assert verdict is Verdict.DEAD
