"""Table tests of typologies 120 and 190: one test per transition row of spec typologies.md §4."""

from __future__ import annotations

import msgspec

from protocol.ids import CommandState as CS
from protocol.ids import ControlState, Mode
from protocol.messages import (
    DeviceReport,
    EmsDecision,
    ForceStart,
    ModeRequested,
    Reassert,
    RowChanged,
    SendCommand,
)
from tests.harness import Harness, equipment_row, make_spec

WASHER = 112  # triggered
TANK = 131  # continuous


def harness(
    type_id: int = WASHER,
    typology: int = 120,
    mode: int = 30,
    command_state: int = 11,
    consigne: bool = False,
    **control: object,
) -> Harness:
    row = equipment_row(
        type_id=type_id,
        typology=typology,
        mode=mode,
        command_state=command_state,
        consigne=consigne,
    )
    control.setdefault("min_switch_s", 0)
    return Harness(make_spec(row, **control), row).start()


def decide(h: Harness, on: bool, plan: int = 7) -> None:
    h.feed(EmsDecision(1, on, int(h.now // 900 * 900), plan, h.now))


def actions(h: Harness) -> list[str]:
    return [c.action for _, c in h.commands]


def tank_switched_on() -> Harness:
    """A tank with `min_switch_s` = 60: the start-up OFF acknowledged, 60 s later an EMS ON,
    acknowledged now."""
    h = harness(type_id=TANK, min_switch_s=60)
    h.obey()
    h.advance(60)
    decide(h, on=True)
    h.obey()
    return h


# --- start-up ------------------------------------------------------------------------------------


def test_startup_reasserts_what_the_database_says_and_nothing_more() -> None:
    h = harness(mode=30, command_state=11)
    assert actions(h) == ["OFF"]
    assert h.state is not None and h.state.command_state == CS.PILOTE_STAND_BY
    assert h.writes == []  # the row already says 11


def test_startup_in_manual_switches_on_and_writes_nothing() -> None:
    h = harness(mode=20, command_state=13)
    assert actions(h) == ["ON"]
    assert h.writes == []


def test_startup_of_a_disabled_equipment_sends_nothing_and_writes_99() -> None:
    h = harness(mode=70, command_state=11)
    assert h.commands == []
    assert h.row.command_state == CS.NON_COMMANDE
    assert h.events[-1].reason == "resumed from the database"


def test_a_change_deferred_before_a_release_is_deferred_again_after_it() -> None:
    h = harness(min_switch_s=60)
    h.obey()
    start = h.now
    h.advance(10)
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))  # ON deferred until 60 s
    h.advance(10)
    h.feed(ModeRequested(1, Mode.NON_PILOTE, "screen", h.now))
    h.advance(10)
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))
    h.advance(40)
    assert [(t - start, c.action) for t, c in h.commands] == [(0, "OFF"), (60, "ON")]


# --- modes ---------------------------------------------------------------------------------------


def test_manual_requested_switches_on_state_13_and_stamps_programmation() -> None:
    h = harness()
    h.obey()
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))
    assert h.last_command == SendCommand("A101", "ON", "1-2")
    assert h.row.mode == Mode.MANUEL and h.row.command_state == CS.MANUEL_ON
    assert h.row.programmed_at == int(h.now)
    assert len(h.writes) == 1  # one transaction for the whole transition


def test_piloted_requested_triggered_switches_off_and_waits_in_11() -> None:
    h = harness(mode=20, command_state=13)
    h.obey()
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))
    assert h.last_command is not None and h.last_command.action == "OFF"
    assert (h.row.mode, h.row.command_state, h.row.consigne) == (
        Mode.PILOTE,
        CS.PILOTE_STAND_BY,
        False,
    )


def test_piloted_requested_continuous_follows_the_current_decision() -> None:
    h = harness(type_id=TANK, mode=20, command_state=13)
    h.obey()
    decide(h, on=False)  # recorded while manual, not applied
    assert actions(h) == ["ON"]
    h.feed(ModeRequested(1, Mode.PILOTE, "viriya", h.now))
    assert actions(h) == ["ON", "OFF"]
    assert h.row.command_state == CS.PILOTE_STAND_BY


def test_mode_change_made_in_the_database_is_applied_without_rewriting_the_mode() -> None:
    h = harness()
    h.obey()
    h.feed(RowChanged(equipment_row(mode=Mode.MANUEL), h.now))
    assert h.last_command is not None and h.last_command.action == "ON"
    assert h.writes[-1].mode is None and h.writes[-1].command_state == CS.MANUEL_ON


def test_disabled_releases_an_equipment_we_left_off_exactly_once() -> None:
    h = harness()
    h.obey()  # OFF acknowledged: we hold it off
    h.feed(ModeRequested(1, Mode.DESACTIVE, "socorel", h.now))
    assert actions(h) == ["OFF", "ON"]
    assert h.row.command_state == CS.NON_COMMANDE
    h.obey()
    h.report(relay_on=False)  # someone switches it off locally: not ours any more
    h.feed(Reassert("MQTT reconnected", h.now))
    assert actions(h) == ["OFF", "ON"]
    assert not any("re-asserting" in e.reason for e in h.events)


def test_an_unanswered_release_on_is_journaled_and_never_err() -> None:
    h = harness()
    h.obey()
    h.feed(ModeRequested(1, Mode.DESACTIVE, "socorel", h.now))
    h.advance(200)  # the release ON is never acknowledged
    assert actions(h) == ["OFF", "ON", "ON", "ON", "ON"]
    assert h.row.command_state == CS.NON_COMMANDE
    assert h.events[-1].reason == "device A101 did not acknowledge ON after 4 attempts"


def test_a_repeated_mode_request_reasserts_the_output_and_changes_nothing_else() -> None:
    h = harness()
    h.obey()
    decide(h, on=True)  # starting: 21
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))  # the screen sends piloted again
    assert actions(h) == ["OFF", "ON"]  # the ON in flight goes on
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    h.obey(power_on_w=1800.0)
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))
    assert actions(h) == ["OFF", "ON", "ON"]  # confirmed ON, re-asserted all the same
    assert h.row.command_state == CS.MANUEL_PILOTE_ON


def test_other_modes_release_without_switching_and_a_database_change_keeps_its_mode() -> None:
    h = harness()
    h.obey()  # held off by us
    h.feed(RowChanged(equipment_row(mode=Mode.NON_PILOTE), h.now))
    assert actions(h) == ["OFF"]  # only 70 switches a household back on
    assert h.row.command_state == CS.NON_COMMANDE
    assert h.writes[-1].mode is None and h.writes[-1].reason == "mode 1 requested by database"
    h.feed(RowChanged(equipment_row(mode=Mode.PILOTE), h.now))
    assert h.writes[-1].mode is None and h.writes[-1].command_state == CS.PILOTE_STAND_BY


def test_suppressed_stops_the_actor() -> None:
    h = harness()
    h.feed(ModeRequested(1, Mode.SUPPR, "operator", h.now))
    assert h.stopped


# --- triggered start -----------------------------------------------------------------------------


def test_triggered_start_is_verified_by_power_then_goes_manual() -> None:
    h = harness()
    h.obey()
    h.advance(60)
    decide(h, on=True)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION and h.row.consigne is True
    h.obey(power_on_w=1800.0)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON
    assert h.row.mode == Mode.MANUEL  # the EMS must not plan it again
    assert h.row.started_at == int(h.now)
    assert h.row.control_state == ControlState.ON


def test_cycle_end_after_power_stays_low_for_cycle_end_s() -> None:
    h = harness(cycle_end_s=300)
    h.obey()
    decide(h, on=True)
    h.obey(power_on_w=1800.0)
    h.advance(30)
    h.report(power_w=2.0)
    h.advance(299)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON
    h.advance(2)
    assert h.row.command_state == CS.MANUEL_ON


def test_power_back_up_cancels_the_cycle_end() -> None:
    h = harness(cycle_end_s=300)
    h.obey()
    decide(h, on=True)
    h.obey(power_on_w=1800.0)
    h.report(power_w=2.0)
    h.advance(200)
    h.report(power_w=900.0)  # heating phase after a pause
    h.advance(400)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON


def test_start_without_power_rise_goes_to_err_and_stays_piloted() -> None:
    h = harness(verify_s=180)
    h.obey()
    decide(h, on=True)
    h.obey(power_on_w=0.5)
    h.advance(150)
    h.report(power_w=0.5)  # the plug reports every 30 s: the measurement is fresh
    h.advance(31)
    assert h.row.command_state == CS.ERR and h.row.mode == Mode.PILOTE
    assert "no power rise" in h.events[-1].reason


def test_err_after_a_failed_start_clears_when_the_household_starts_the_machine() -> None:
    h = harness(verify_s=180)
    h.obey()
    decide(h, on=True)
    h.obey(power_on_w=0.5)
    h.advance(150)
    h.report(power_w=0.5)  # the plug reports every 30 s: the measurement is fresh
    h.advance(31)
    h.report(power_w=1500.0)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON and h.row.mode == Mode.MANUEL


def test_a_start_is_made_at_most_once_per_arming() -> None:
    h = harness()
    h.obey()
    decide(h, on=True)
    h.obey(power_on_w=1800.0)
    decide(h, on=True)  # a stale plan says on again: the machine is already manual
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))  # a new arming
    h.obey()
    decide(h, on=True)
    starts = [w for w in h.writes if w.command_state == CS.PILOTE_EN_ACTIVATION]
    assert len(starts) == 2


def test_operator_force_start() -> None:
    h = harness()
    h.obey()
    h.feed(ForceStart(1, "operator", h.now))
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    assert "force start" in h.events[-1].reason


def test_an_off_decision_never_starts_a_triggered_equipment() -> None:
    h = harness()
    h.obey()
    decide(h, on=False)
    assert actions(h) == ["OFF"] and h.row.command_state == CS.PILOTE_STAND_BY


def test_a_decision_is_valid_until_24_h_after_its_slot_and_not_at_that_second() -> None:
    from protocol.ems import HORIZON_SECONDS

    h = harness(type_id=TANK, mode=Mode.MANUEL, command_state=CS.MANUEL_ON)
    h.obey()
    slot = int(h.now // 900 * 900)
    h.feed(EmsDecision(1, False, slot, 7, h.now))  # recorded while manual
    h.advance(slot + HORIZON_SECONDS - h.now)
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))  # expired now: no plan, kept on
    assert actions(h) == ["ON"] and h.row.command_state == CS.MANUEL_PILOTE_ON
    h.feed(EmsDecision(1, False, slot, 8, h.now))
    assert h.events[-1].reason == "EMS plan 8: expired decision ignored"
    assert actions(h) == ["ON"]


def test_a_start_deferred_by_min_switch_is_watched_from_its_switch_on() -> None:
    h = harness(min_switch_s=60, verify_s=30)
    h.obey(power_on_w=1.0)
    h.advance(10)
    decide(h, on=True)  # the ON waits until 60 s
    h.advance(40)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION  # no verification before the ON
    h.advance(10)
    h.obey()
    h.advance(29)
    h.report(power_w=1.0)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    h.advance(2)
    assert h.row.command_state == CS.ERR


def test_a_force_start_holds_a_continuous_equipment_on_until_the_next_decision() -> None:
    h = harness(type_id=TANK)
    h.obey()
    decide(h, on=False)
    h.feed(ForceStart(1, "operator", h.now))
    assert actions(h) == ["OFF", "OFF", "ON"]  # the decision re-asserts OFF, then the force
    assert h.events[-1].reason == "force start by operator"
    assert (h.row.command_state, h.row.consigne) == (CS.MANUEL_PILOTE_ON, False)  # EMS's set-point
    h.obey()
    h.advance(900)
    decide(h, on=False)
    assert actions(h) == ["OFF", "OFF", "ON", "OFF"]
    assert h.row.command_state == CS.PILOTE_STAND_BY


def test_a_force_start_outside_piloted_mode_or_after_a_start_is_ignored_and_journaled() -> None:
    h = harness(mode=Mode.MANUEL, command_state=CS.MANUEL_ON)
    h.feed(ForceStart(1, "operator", h.now))
    assert h.events[-1].reason == "force start by operator ignored: mode 20"
    h = harness()
    h.obey()
    decide(h, on=True)  # starting: 21
    h.feed(ForceStart(1, "screen", h.now))
    assert h.events[-1].reason == "force start by screen ignored: state 21"
    assert actions(h) == ["OFF", "ON"]


def test_restart_during_activation_decides_from_reports_without_a_second_start() -> None:
    h = harness(command_state=CS.PILOTE_EN_ACTIVATION, consigne=True)
    assert actions(h) == ["ON"]  # re-asserting power is not a second start
    h.report(relay_on=True)
    h.report(power_w=1700.0)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON and h.row.mode == Mode.MANUEL


# --- continuous ----------------------------------------------------------------------------------


def test_continuous_follows_each_slot_and_reasserts_at_every_boundary() -> None:
    h = harness(type_id=TANK)
    h.obey()
    decide(h, on=True)
    assert h.events[0].reason == f"EMS plan 7: on for slot {int(h.now // 900 * 900)}"
    h.obey()
    assert h.row.command_state == CS.MANUEL_PILOTE_ON and h.row.consigne is True
    assert h.row.started_at == int(h.now)  # the EMS 12-hour rule needs it
    assert h.writes[-1].reason == "switch-on confirmed"
    switched_on = h.row.started_at
    h.advance(900)
    written = len(h.writes)
    decide(h, on=True)
    assert actions(h) == ["OFF", "ON", "ON"]  # re-asserted although unchanged
    assert len(h.writes) == written  # the row already says so
    h.obey()
    h.advance(900)
    decide(h, on=False)
    assert actions(h)[-1] == "OFF"
    assert h.row.command_state == CS.PILOTE_STAND_BY and h.row.consigne is False
    h.obey()  # a confirmed OFF is no switch-on
    assert [w.started_at for w in h.writes if w.started_at is not None] == [switched_on]


# --- command lifecycle ---------------------------------------------------------------------------


def test_retries_at_5_15_45_s_then_err_then_recovery_by_report() -> None:
    h = harness(ack_timeout_s=10, retry_delays_s=[5, 15, 45])
    start = h.now
    h.advance(200)
    sent_at = [t - start for t, _ in h.commands]
    assert sent_at == [0, 15, 40, 95]
    assert [w.at - start for w in h.writes if w.command_state == CS.ERR] == [105]  # not sooner
    assert "did not acknowledge OFF after 4 attempts" in h.events[-1].reason
    h.report(relay_on=False)
    assert h.row.command_state == CS.PILOTE_STAND_BY


def test_a_retained_report_never_acknowledges() -> None:
    h = harness()
    start = h.now
    h.report(relay_on=False, retained=True)
    h.advance(16)
    assert [t - start for t, _ in h.commands] == [0, 15]  # retried: the order was not answered


def test_a_report_contradicting_the_acknowledged_output_is_reasserted() -> None:
    h = harness()
    h.obey()
    h.report(relay_on=True)  # the household pressed the plug's button
    assert actions(h) == ["OFF", "OFF"]
    assert h.events[-1].reason == "device reports a different output: re-asserting"


def test_the_old_relay_state_reported_while_an_order_is_in_flight_is_no_contradiction() -> None:
    h = harness(type_id=TANK)
    h.obey()
    decide(h, on=True)
    h.report(relay_on=False)  # a periodic report made before the device carried the ON out
    h.advance(11)  # and again while the retry waits
    h.report(relay_on=False)
    assert not any("re-asserting" in e.reason for e in h.events)
    h.advance(5)
    assert actions(h) == ["OFF", "ON", "ON"]  # the retry, nothing more
    h.obey()
    assert h.row.command_state == CS.MANUEL_PILOTE_ON


def test_the_relay_reported_during_a_deferred_change_is_no_contradiction() -> None:
    h = harness(type_id=TANK, min_switch_s=60)
    h.obey()
    h.advance(10)
    decide(h, on=True)  # deferred until 60 s after the OFF
    h.report(relay_on=False)
    assert not any("re-asserting" in e.reason for e in h.events)
    h.advance(51)
    assert actions(h) == ["OFF", "ON"]


def test_a_start_that_failed_without_power_stays_err_when_the_relay_reports_on() -> None:
    h = harness(verify_s=180)
    h.obey()
    decide(h, on=True)
    h.obey(power_on_w=2.0)
    h.advance(100)
    h.report(power_w=2.0)
    h.advance(81)
    assert h.row.command_state == CS.ERR
    written = len(h.writes)
    h.report(relay_on=True)  # the relay is as wanted: the machine did not start all the same
    assert h.row.command_state == CS.ERR and len(h.writes) == written


def test_anti_short_cycling_defers_the_second_change() -> None:
    h = tank_switched_on()
    h.advance(10)
    decide(h, on=False)
    assert actions(h) == ["OFF", "ON"]
    assert h.events[-1].reason == "switch OFF deferred by min_switch_s"
    h.advance(49)
    assert actions(h) == ["OFF", "ON"]
    h.advance(2)
    assert actions(h) == ["OFF", "ON", "OFF"]
    changes = [t for t, c in h.commands[1:]]
    assert changes[1] - changes[0] >= 60


def test_a_late_answer_while_the_retry_waits_acknowledges_the_order() -> None:
    h = harness(type_id=TANK)
    start = h.now
    h.advance(11)  # the OFF went unanswered: its retry waits until 15 s
    h.report(relay_on=False)  # the answer, late
    h.advance(10)
    assert [t - start for t, _ in h.commands] == [0]  # no retry once answered
    h.report(relay_on=True)  # then switched on at the plug: re-asserted at once
    assert [t - start for t, _ in h.commands] == [0, 21]


def test_a_retry_waits_min_switch_after_the_relay_was_first_heard_in_the_other_state() -> None:
    h = harness(type_id=TANK, min_switch_s=60)
    start = h.now
    h.advance(5)
    h.report(relay_on=True)  # first word from the relay, not the OFF in flight: a change just now
    h.advance(20)  # the retry due at 15 s waits until 5 + 60 s
    assert [t - start for t, _ in h.commands] == [0]
    assert h.events[-1].reason == "retry deferred"
    h.report(relay_on=True)  # still on meanwhile: the retry waits all the same
    h.advance(40)
    assert [t - start for t, _ in h.commands] == [0, 65]
    h.obey()
    h.advance(300)
    assert actions(h) == ["OFF", "OFF"] and h.row.command_state == CS.PILOTE_STAND_BY


def test_a_deferred_reassert_goes_out_when_due_and_is_retried_as_a_first_order() -> None:
    h = tank_switched_on()
    on_at = h.now
    h.advance(10)
    h.report(relay_on=False)  # switched off at the plug: re-asserting ON is deferred
    h.advance(10)
    h.report(relay_on=True)  # and on again: the deferred re-assert is still due at 70 s
    h.advance(50)
    assert [t - on_at for t, c in h.commands][-1] == 70
    h.advance(200)  # never answered: retried at 5, 15, 45 s after each timeout, then err
    assert [t - on_at for t, c in h.commands][-4:] == [70, 85, 110, 165]
    assert h.row.command_state == CS.ERR


def test_the_first_order_to_a_relay_heard_long_ago_is_no_change() -> None:
    h = harness(mode=Mode.DESACTIVE, min_switch_s=60)
    h.report(relay_on=False)
    h.advance(120)
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))  # OFF: what the relay already is
    h.obey()
    decide(h, on=True)
    assert [c.action for _, c in h.commands] == ["OFF", "ON"]  # not deferred
    assert h.commands[-1][0] == h.now


def test_an_order_repeated_to_a_silent_device_is_no_change() -> None:
    h = harness(type_id=TANK, min_switch_s=60)
    start = h.now
    h.advance(900)  # the startup OFF never answered: err
    decide(h, on=False)  # tried again: the same order, nothing known to change
    h.advance(10)
    decide(h, on=True)
    assert [t - start for t, c in h.commands if c.action == "ON"] == [910]


def test_a_change_deferred_then_cancelled_by_the_plan_is_never_sent_and_the_next_goes() -> None:
    h = harness(type_id=TANK, min_switch_s=60)
    h.obey()
    start = h.now
    h.advance(10)
    decide(h, on=True)  # deferred until 60 s
    assert h.events[-1].reason == "switch ON deferred by min_switch_s"
    decide(h, on=False)  # the plan goes back to what the relay is: re-asserted, not changed
    h.obey()
    h.advance(100)
    assert actions(h) == ["OFF", "OFF"]
    decide(h, on=True)
    assert [t - start for t, c in h.commands if c.action == "ON"] == [110]


def test_an_order_to_a_device_never_heard_counts_for_anti_short_cycling() -> None:
    h = harness(min_switch_s=60)
    start = h.now
    h.advance(5)
    decide(h, on=True)  # the startup OFF may have switched it: the ON waits
    h.advance(60)
    assert [t - start for t, c in h.commands if c.action == "ON"] == [60]
    assert any(e.reason == "switch ON deferred by min_switch_s" for e in h.events)


def test_a_new_target_while_a_retry_waits_replaces_the_retry() -> None:
    h = harness(type_id=TANK)
    start = h.now
    h.advance(11)  # the startup OFF unanswered, its retry waits until 15 s
    decide(h, on=True)
    h.advance(15)
    assert [(t - start, c.action) for t, c in h.commands] == [(0, "OFF"), (11, "ON"), (26, "ON")]


def test_a_reassert_within_min_switch_of_an_unchanged_output_is_sent_at_once() -> None:
    h = tank_switched_on()
    h.advance(10)
    h.feed(Reassert("MQTT reconnected", h.now))
    assert actions(h) == ["OFF", "ON", "ON"] and h.commands[-1][0] == h.now


def test_manual_requested_when_the_output_is_already_on_sends_nothing() -> None:
    h = harness(type_id=TANK)
    h.obey()
    decide(h, on=True)
    h.obey()
    h.advance(30)
    written = len(h.writes)
    h.report(relay_on=True)  # a periodic report: no second switch-on
    h.report(power_w=1500.0)  # a measurement says nothing of the relay
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))
    assert actions(h) == ["OFF", "ON"]
    assert [w.started_at for w in h.writes[written:]] == [None]


def test_an_order_in_flight_is_dropped_when_released_and_sent_again_when_piloted() -> None:
    h = harness(min_switch_s=60)
    h.advance(11)  # the startup OFF went unanswered, its retry waits
    h.feed(ModeRequested(1, Mode.NON_PILOTE, "screen", h.now))
    h.advance(300)
    assert actions(h) == ["OFF"]  # no retry once released
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))
    assert actions(h) == ["OFF", "OFF"]


def test_a_late_relay_report_does_not_move_the_anti_short_cycling_clock() -> None:
    h = tank_switched_on()
    on_at = h.now
    h.advance(100)
    h.report(relay_on=True)
    h.feed(DeviceReport(device="A101", at=on_at + 50, relay_on=False))  # older than held
    decide(h, on=False)
    assert actions(h)[-1] == "OFF" and h.commands[-1][0] == h.now


def test_a_restart_soon_after_a_switch_on_retries_its_unanswered_order_at_once() -> None:
    row = msgspec.structs.replace(
        equipment_row(type_id=TANK, command_state=CS.MANUEL_PILOTE_ON, consigne=True),
        started_at=1_000_000 - 10,
    )
    h = Harness(make_spec(row, min_switch_s=60), row).start()
    start = h.now
    h.advance(16)  # the relay never heard: nothing says it changed, the retry is not deferred
    assert [t - start for t, _ in h.commands] == [0, 15]


def test_manual_within_min_switch_then_piloted_again_sends_nothing_and_still_watches() -> None:
    h = harness(min_switch_s=60)
    h.obey()
    h.advance(10)
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))  # ON deferred until 60 s
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))  # back to OFF: what the relay is
    h.advance(100)
    assert actions(h) == ["OFF"]
    h.report(relay_on=True)  # switched on at the plug: re-asserted once min_switch_s allows
    assert h.events[-2].reason == "device reports a different output: re-asserting"
    h.advance(60)
    assert actions(h) == ["OFF", "OFF"]


def test_a_retry_is_not_deferred_by_a_relay_state_heard_before_the_order() -> None:
    h = harness(type_id=TANK, min_switch_s=60)
    start = h.now
    h.advance(5)
    h.feed(DeviceReport(device="A101", at=start - 1, relay_on=False))  # made before the OFF
    h.advance(11)
    assert [t - start for t, _ in h.commands] == [0, 15]


def test_a_retry_due_when_min_switch_has_just_passed_goes_at_once() -> None:
    h = harness(type_id=TANK, min_switch_s=10)
    start = h.now
    h.advance(5)
    h.report(relay_on=True)  # first word, the other state: the retry may go at 5 + 10 s
    h.advance(200)  # as the second attempt: the retries and err keep their times
    assert [t - start for t, _ in h.commands] == [0, 15, 40, 95]
    assert h.row.command_state == CS.ERR


def test_the_startup_command_counts_for_anti_short_cycling() -> None:
    h = harness(min_switch_s=60)  # re-asserts OFF: the relay may have switched
    h.obey()
    decide(h, on=True)
    assert actions(h) == ["OFF"]
    h.advance(60)
    assert actions(h) == ["OFF", "ON"]


def test_offline_device_is_errcom_and_is_reasserted_when_back() -> None:
    h = harness()
    h.obey()
    h.report(online=False)
    assert h.row.control_state == ControlState.ERRCOM
    h.report(online=True)
    assert actions(h) == ["OFF"]
    h.advance(2)  # the device subscribes again after announcing itself
    assert actions(h) == ["OFF", "OFF"]


def test_silence_makes_errcom_then_a_report_clears_it() -> None:
    h = harness()  # Shelly plug: reports every 30 s, stale after 90 s
    h.obey()
    h.advance(91)
    assert h.row.control_state == ControlState.ERRCOM
    h.report(relay_on=False)
    assert h.row.control_state == ControlState.OFF


def test_every_kind_of_report_keeps_the_device_fresh_for_90_s() -> None:
    from protocol.messages import CommandReply

    kinds: list[dict[str, object]] = [
        {"power_w": 1.0},  # a measurement
        {"relay_on": False},  # the answer to the OFF in flight
        {"relay_on": True},  # a contradiction
        {"reply": CommandReply("1-1", False, "busy")},  # a refusal
        {"local_control": False},  # the PLC's mode
    ]
    for fields in kinds:
        h = harness(type_id=TANK)
        h.obey()
        h.advance(60)
        h.report(**fields)
        h.advance(89)
        assert h.row.control_state != ControlState.ERRCOM, fields
        h.advance(1)
        assert h.row.control_state == ControlState.ERRCOM, fields
    in_flight: list[dict[str, object]] = [
        {"relay_on": True},  # the answer to the ON
        {"reply": CommandReply("1-2", False, "busy")},  # the refusal of the ON
    ]
    for fields in in_flight:
        h = harness(type_id=TANK, ack_timeout_s=100)
        h.obey()
        h.advance(60)
        decide(h, on=True)
        h.report(**fields)
        h.advance(89)
        assert h.row.control_state != ControlState.ERRCOM, fields
        h.advance(1)
        assert h.row.control_state == ControlState.ERRCOM, fields


def test_reports_and_decisions_that_confirm_the_row_write_nothing() -> None:
    row = msgspec.structs.replace(
        equipment_row(type_id=TANK, control_state=ControlState.OFF), started_at=0
    )
    h = Harness(make_spec(row, min_switch_s=0), row).start()
    h.obey()  # the plug says OFF: what the row says already
    decide(h, on=False)  # off, as the row says
    assert h.writes == [] and h.observed == []


def test_an_online_message_alone_says_nothing_of_the_output() -> None:
    h = harness()
    h.report(online=True)
    assert h.observed == []


def test_nothing_heard_since_start_is_unknown() -> None:
    row = equipment_row(control_state=ControlState.OFF)
    h = Harness(make_spec(row, min_switch_s=0), row).start()
    h.advance(89)
    assert h.row.control_state == ControlState.OFF
    h.advance(1)
    assert h.row.control_state == ControlState.INCONNU


def test_a_retained_message_is_no_sign_of_life() -> None:
    row = equipment_row(control_state=ControlState.OFF)
    h = Harness(make_spec(row, min_switch_s=0), row).start()
    h.advance(60)
    h.report(relay_on=False, retained=True)
    h.advance(30)
    assert h.row.control_state == ControlState.INCONNU


def test_a_report_keeps_the_facts_it_does_not_carry_and_a_late_one_changes_nothing() -> None:
    from protocol.typologies.state import DeviceView

    h = harness(mode=Mode.MANUEL, command_state=CS.MANUEL_ON)
    h.report(relay_on=True, energy_wh=1200.0, battery=80)
    h.report(power_w=10.0)  # at the on threshold: drawing
    assert h.row.control_state == ControlState.ON
    h.report(power_w=0.0)  # idle, the relay still on: powered
    assert h.row.control_state == ControlState.ON
    h.advance(10)
    h.feed(DeviceReport(device="A101", at=h.now - 20, relay_on=False, power_w=2000.0))  # late
    assert h.state is not None and h.state.devices["A101"] == DeviceView(  # the telemetry sent
        relay_on=True,
        relay_at=h.now - 10,
        power_w=0.0,
        energy_wh=1200.0,
        online=None,
        battery=80,
        last_seen=h.now - 10,
        power_at=h.now - 10,
    )
    assert actions(h) == ["ON"]


def test_an_online_message_repeated_is_no_return() -> None:
    h = harness()
    h.obey()
    h.report(online=True)
    h.advance(3)
    h.obey()
    h.report(power_w=1.0)
    h.report(online=True)  # the same LWT again: nothing to re-assert
    h.advance(3)
    assert actions(h) == ["OFF", "OFF"]


# --- 190 inverted relay --------------------------------------------------------------------------


def test_inverted_relay_inverts_commands_and_reports() -> None:
    h = harness(type_id=TANK, typology=190)
    assert actions(h) == ["ON"]  # held off: relay ON
    h.obey()
    assert h.row.control_state == ControlState.OFF
    decide(h, on=True)
    assert actions(h) == ["ON", "OFF"]
    h.obey()
    assert h.row.control_state == ControlState.ON
    assert h.row.command_state == CS.MANUEL_PILOTE_ON


def test_inverted_relay_ignores_the_power_reading() -> None:
    h = harness(type_id=TANK, typology=190)
    h.obey()
    h.report(power_w=0.0)  # a pilot wire carries no power
    assert h.row.control_state == ControlState.OFF
    h.report(power_w=2000.0)
    assert h.row.control_state == ControlState.OFF


# --- faulty and observed-only --------------------------------------------------------------------


def test_unsupported_typology_goes_to_err_with_the_reason_and_sends_nothing() -> None:
    h = harness(typology=130)
    assert h.commands == []
    assert h.row.command_state == CS.ERR
    assert "130" in h.events[0].reason


def test_measured_only_equipment_is_never_commanded() -> None:
    h = harness(type_id=410, typology=200, mode=1, command_state=15 - 14)
    h.report(relay_on=True)
    h.report(power_w=3000.0)
    assert h.commands == []
    assert h.row.command_state == CS.NON_COMMANDE
    assert h.row.control_state == ControlState.ON
