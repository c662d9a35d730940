"""Measured-only equipment and TIC (spec typologies.md §7) and equipment that cannot be driven:
what they write, the timers they arm, and that nothing is ever commanded."""

from __future__ import annotations

from protocol.ids import CommandState as CS
from protocol.ids import ControlState, Mode
from protocol.messages import ModeRequested, RowChanged, StopActor, TimerFired
from tests.harness import Harness, equipment_row, make_spec, plug_row, tic_row


def meter() -> Harness:
    """A house meter (TIC reader, report period 300 s) and a measuring plug (30 s)."""
    row = equipment_row(type_id=410, typology=200, mode=1, command_state=1)
    return Harness(make_spec(row, [tic_row("B101"), plug_row("A101", usage=21)]), row).start()


def test_measured_only_writes_99_with_its_reason_and_watches_every_device() -> None:
    h = meter()
    assert h.row.command_state == CS.NON_COMMANDE
    assert h.events[0].reason == "measured only: never commanded"
    assert h.timers == {"stale:B101": h.now + 900, "stale:A101": h.now + 90}


def test_a_fresh_report_rearms_its_device_timer_a_retained_one_does_not() -> None:
    h = meter()
    h.advance(10)
    h.report("B101", power_w=500.0)
    assert h.timers["stale:B101"] == h.now + 900
    assert h.row.control_state == ControlState.ON
    h.advance(10)
    h.report("B101", power_w=0.0, retained=True)
    assert h.timers["stale:B101"] == h.now - 10 + 900


def test_offline_and_silence_are_errcom_and_a_report_clears_it() -> None:
    h = meter()
    h.report("B101", power_w=0.0)
    assert h.row.control_state == ControlState.OFF
    h.report("B101", online=False)
    assert h.row.control_state == ControlState.ERRCOM
    h.report("B101", online=True, power_w=800.0)
    assert h.row.control_state == ControlState.ON
    h.advance(901)
    assert h.row.control_state == ControlState.ERRCOM
    assert h.observed[-1].control_state == ControlState.ERRCOM


def test_modes_are_recorded_only_and_80_stops_the_actor() -> None:
    h = meter()
    written = len(h.writes)
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))
    assert h.state is not None and h.state.mode == Mode.PILOTE  # what the screens show
    h.feed(RowChanged(equipment_row(type_id=410, typology=200, mode=Mode.MANUEL), h.now))
    h.feed(TimerFired("something-else", h.now))
    assert h.state.mode == Mode.MANUEL
    assert h.commands == [] and len(h.writes) == written and not h.stopped
    h.feed(RowChanged(equipment_row(type_id=410, typology=200, mode=Mode.SUPPR), h.now))
    stops = [e for e in h.effects if isinstance(e, StopActor)]
    assert h.stopped and stops[0].reason == "mode 80"
    assert h.commands == []


def test_an_equipment_that_cannot_be_driven_is_30_with_its_reason_and_sends_nothing() -> None:
    row = equipment_row(typology=999)
    h = Harness(make_spec(row), row).start()
    assert h.row.command_state == CS.ERR and "999" in h.events[0].reason
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))
    assert h.commands == []
    again = Harness(make_spec(h.row), h.row).start()  # already 30: the journal still says why
    assert again.writes == [] and "999" in again.events[0].reason


def test_a_meter_never_heard_is_unknown_after_its_staleness_window() -> None:
    row = equipment_row(type_id=410, typology=200, mode=1, command_state=1, control_state=25)
    h = Harness(make_spec(row, [tic_row("B101")]), row).start()
    h.advance(899)
    assert h.row.control_state == ControlState.OFF
    h.advance(1)
    assert h.row.control_state == ControlState.INCONNU


def test_a_suppression_requested_by_an_operator_stops_a_meter() -> None:
    h = meter()
    h.feed(ModeRequested(1, Mode.SUPPR, "operator", h.now))
    assert h.stopped and h.commands == []


def test_a_tic_reader_is_only_observed_whatever_the_equipment_type() -> None:
    row = equipment_row(type_id=112, typology=200, mode=Mode.PILOTE, command_state=11)
    h = Harness(make_spec(row, [tic_row("B101")]), row).start()
    h.report("B101", power_w=900.0)
    assert h.commands == [] and h.row.command_state == CS.NON_COMMANDE
    assert h.events[0].reason == "measured only: never commanded"
