"""The machine of every piloted typology (spec typologies.md §3–§6): 110, 120, 140, 170, 180, 190
drive a switch output, 130, 150, 160 press fingers, 170 does both. Which device plays which role
is data (`roles.py`); this module decides, `common.py` carries the switch output's command
lifecycle, `start.py` the triggered start, `presses.py` the finger sequences.

Triggered equipment (machines, vehicles) waits in 11 and is started once per arming: power on
and/or the press sequence, verified by the power it draws, then mode 20 so that the EMS does not
plan it again, and 13 when the cycle ends. Continuous equipment (hot water, heaters) follows
every EMS slot, re-asserted at each boundary, unless a guard holds it on.
"""

from __future__ import annotations

from protocol.ems import HORIZON_SECONDS
from protocol.ids import CommandState as CS
from protocol.ids import Kind, Mode
from protocol.messages import (
    ArmTimer,
    CancelTimer,
    DeviceReport,
    EmsDecision,
    ForceStart,
    Message,
    ModeRequested,
    Reassert,
    RestoreMode,
    RowChanged,
    StopActor,
    TimerFired,
)
from protocol.model import EquipmentRow, EquipmentSpec
from protocol.typologies import common as c
from protocol.typologies import guards, presses, start
from protocol.typologies.common import Effects, Step, replace
from protocol.typologies.roles import Roles, resolve, roles_of
from protocol.typologies.state import MachineState, Output, from_row

BACK_ONLINE = "back-online"
FIRST_MEASURE = "first-measure"
COMFORT = "comfort"
MAX_OFF = "max-off"


def initial(spec: EquipmentSpec, row: EquipmentRow, now: float) -> Step:
    """Resume from the database row: re-assert what it says, nothing more (no plan yet)."""
    roles = _roles(spec)
    devices = resolve(spec, roles)
    output = Output(device=devices.switch, inverted=roles.inverted) if devices.switch else None
    state = from_row(spec, row, now, "piloted", roles=devices, details=row.details, output=output)
    command_state, desired = _resume(spec, row)
    state = _restored(state, row, command_state, desired, now)
    effects = c.arm_stale_timers(state, now, spec.devices)
    state, more = c.transition(state, now, "resumed from the database", command_state=command_state)
    effects += more
    if command_state == CS.PILOTE_EN_ACTIVATION:
        # Restart reconciliation: the reports decide whether the machine started. Power is
        # re-asserted (idempotent), a finger is never pressed again.
        deadline = now + start.verify_window(state)
        state = replace(state, verify_deadline=deadline, meter_baseline_w=None, resumed_start=True)
        effects.append(ArmTimer(start.VERIFY, deadline))
    state, more = c.drive(state, desired, now, reassert=True)
    effects += more + start.arm_deadline(state, now) + _arm_continuous_guards(state, now)
    return state, effects


def _restored(
    state: MachineState, row: EquipmentRow, command_state: int, desired: bool | None, now: float
) -> MachineState:
    """What must survive a restart, read from the row as the database holds it (README,
    "Decisions written down"): why it is in err, since when it is held off, the last confirmed
    change of the relay (anti short-cycling)."""
    if command_state == CS.ERR:
        # A triggered equipment in piloted mode failed a start (its power or the EMS decides
        # again); anything else failed an order (a matching report clears it).
        piloted_start = state.mode == Mode.PILOTE and state.spec.kind == Kind.TRIGGERED
        kind = "start" if piloted_start else "ack"
        state = replace(state, error="state 30 in the database at start", error_kind=kind)
    last_on = float(row.started_at) if row.started_at > 0 else None
    output = state.output
    if output is not None:
        # Anti short-cycling (rule 3.8) counts from the last confirmed switch-on (the row) or the
        # last confirmed change the supervisor kept in its own schema, with the relay it left.
        kept = next(((on, float(t)) for d, on, t in row.relays if d == output.device), None)
        if kept is not None:
            output = replace(output, relay=kept[0], relay_at=kept[1])
        times = [t for t in (last_on, kept[1] if kept else None) if t is not None]
        state = replace(state, output=replace(output, changed_at=max(times, default=None)))
    continuous_off = state.spec.kind == Kind.CONTINUOUS and state.mode == Mode.PILOTE
    if continuous_off and desired is False:
        # Held off since its last confirmed switch-on or mode change, at the latest: the max-off
        # guard never waits longer than max_off_s after the real switch-off.
        since = max(row.started_at, row.programmed_at)
        state = replace(state, off_since=float(since) if since > 0 else now)
    return state


def _roles(spec: EquipmentSpec) -> Roles:
    roles = roles_of(spec.typology)
    assert roles is not None  # checked by the inventory
    return roles


def _resume(spec: EquipmentSpec, row: EquipmentRow) -> tuple[int, bool | None]:
    """(command state, desired power) implied by a database row."""
    if row.mode == Mode.MANUEL:
        keep = row.command_state in (CS.MANUEL_PILOTE_ON, CS.MANUEL_ON, CS.ERR)
        return (row.command_state if keep else CS.MANUEL_ON), True
    if row.mode != Mode.PILOTE:
        return CS.NON_COMMANDE, None
    if spec.kind == Kind.CONTINUOUS:
        if row.command_state == CS.ERR:
            return CS.ERR, row.consigne
        return (CS.MANUEL_PILOTE_ON if row.consigne else CS.PILOTE_STAND_BY), row.consigne
    if row.command_state in (CS.PILOTE_EN_ACTIVATION, CS.MANUEL_PILOTE_ON, CS.MANUEL_ON):
        return row.command_state, True
    if row.command_state == CS.ERR:
        return CS.ERR, row.consigne
    return CS.PILOTE_STAND_BY, False


def step(state: MachineState, event: Message, now: float) -> Step:
    if isinstance(event, DeviceReport):
        return _on_report(state, event, now)
    if isinstance(event, EmsDecision):
        return _on_decision(state, event, now)
    if isinstance(event, TimerFired):
        return _on_timer(state, event, now)
    if isinstance(event, ModeRequested):
        return _on_mode(state, event.mode, event.source, now)
    if isinstance(event, RestoreMode):
        return _on_restore(state, event.source, now)
    if isinstance(event, RowChanged):
        return _on_row(state, event.row, now)
    if isinstance(event, ForceStart):
        return _on_force_start(state, event.source, now)
    if isinstance(event, Reassert):
        return c.drive(state, state.desired_on, now, reassert=True)
    return state, []


# --- modes ---------------------------------------------------------------------------------------


def _on_mode(state: MachineState, mode: int, source: str, now: float) -> Step:
    write_mode = source != "database"
    reason = f"mode {mode} requested by {source}"
    if mode == state.mode and mode in (Mode.MANUEL, Mode.PILOTE):
        return c.drive(state, state.desired_on, now, reassert=True)
    state, effects = _leave_start(state)
    if mode == Mode.MANUEL:
        state, more = c.transition(
            state, now, reason, mode=mode, write_mode=write_mode, command_state=CS.MANUEL_ON
        )
        state = replace(state, error=None, error_kind=None, guard=None, off_since=None)
        state, drive = c.drive(state, True, now)
        return state, effects + more + drive + _cancel_guards()
    if mode == Mode.PILOTE:
        state, more = _arm(state, now, reason, write_mode)
        return state, effects + more
    # 1 non_pilote, 10 installation, 70 desactive, 80 suppr: not ours to drive (rule 3.5).
    before = state.mode if state.mode in (Mode.MANUEL, Mode.PILOTE) else state.mode_before_disable
    left_off = _left_off_by_us(state)
    state, more = c.release(state)
    effects += more
    if mode == Mode.DESACTIVE and left_off:
        # The single release ON: never leave a household unpowered. Once sent, the last command
        # is ON, so a second entry into 70 sends nothing more.
        state, more = c.drive(state, True, now)
        effects += more
    state, more = c.transition(
        state, now, reason, mode=mode, write_mode=write_mode, command_state=CS.NON_COMMANDE
    )
    state = replace(
        state,
        desired_on=None,
        error=None,
        error_kind=None,
        low_power_since=None,
        guard=None,
        off_since=None,
        mode_before_disable=before if mode == Mode.DESACTIVE and source == "socorel" else None,
    )
    effects += [*more, CancelTimer(start.CYCLE_END), *_cancel_guards()]
    if mode == Mode.SUPPR:
        effects.append(StopActor(reason))
    return state, effects


def _on_restore(state: MachineState, source: str, now: float) -> Step:
    """Local control (70) ends: back to the mode it had before (the 2023 program forced 20).
    A 70 that an operator set in the database is not ours to lift."""
    if state.mode != Mode.DESACTIVE or state.mode_before_disable is None:
        return state, []
    return _on_mode(state, state.mode_before_disable, source, now)


def _on_local_control(state: MachineState, local: bool, now: float) -> Step:
    """The PLC's mode topic: `manuel` -> 70 (desactive); anything else -> restore."""
    if local and state.mode in (Mode.MANUEL, Mode.PILOTE):
        return _on_mode(state, Mode.DESACTIVE, "socorel", now)
    if not local:
        return _on_restore(state, "socorel", now)
    return state, []


def _on_row(state: MachineState, row: EquipmentRow, now: float) -> Step:
    """The row was re-read (Viriya, reconciliation): a new mode, or new declarations."""
    effects: Effects = []
    if row.details != state.details:
        state = replace(state, details=row.details)
        effects += start.arm_deadline(state, now) + _arm_continuous_guards(state, now)
    if row.mode != state.mode:
        state, more = _on_mode(state, row.mode, "database", now)
        effects += more
    return state, effects


def _left_off_by_us(state: MachineState) -> bool:
    output = state.output
    return (
        output is not None
        and output.commanded is not None
        and (
            output.commanded == output.inverted  # the relay state that leaves it unpowered
        )
    )


def _arm(state: MachineState, now: float, reason: str, write_mode: bool) -> Step:
    """Enter piloted mode: triggered waits unpowered for its slot, continuous follows the plan."""
    if state.spec.kind == Kind.CONTINUOUS:
        decision = valid_decision(state, now)
        desired = decision if decision is not None else (state.desired_on is not False)
        command_state = CS.MANUEL_PILOTE_ON if desired else CS.PILOTE_STAND_BY
        consigne = desired
    else:
        desired, command_state, consigne = False, CS.PILOTE_STAND_BY, False
    state, effects = c.transition(
        state,
        now,
        reason,
        mode=Mode.PILOTE,
        write_mode=write_mode,
        command_state=command_state,
        consigne=consigne,
    )
    state = replace(
        state,
        error=None,
        error_kind=None,
        low_power_since=None,
        guard=None,
        # the max-off guard is for continuous equipment (spec §6): a machine waits, held off
        off_since=now if not desired and state.spec.kind == Kind.CONTINUOUS else None,
        mode_before_disable=None,
    )
    state, more = c.drive(state, desired, now)
    effects += [CancelTimer(start.CYCLE_END), *more]
    effects += start.arm_deadline(state, now) + _arm_continuous_guards(state, now)
    state, more = _comfort(state, now)  # a room already too cold is heated at once
    return state, effects + more


def _leave_start(state: MachineState) -> Step:
    """Whatever the start was doing stops: no press after this, no verification."""
    state, effects = presses.forget(state)
    state = replace(state, verify_deadline=None, start_awaits_measure=None)
    cancel = [CancelTimer(start.VERIFY), CancelTimer(start.DEADLINE), CancelTimer(FIRST_MEASURE)]
    return state, [*effects, *cancel]


# --- EMS decisions -------------------------------------------------------------------------------


def valid_decision(state: MachineState, now: float) -> bool | None:
    """The EMS decision held, while inside its plan's horizon (24 h from its slot at most); None
    when there is none: the equipment then keeps its output and its guards protect it."""
    if state.ems_on is None or state.ems_slot is None:
        return None
    return state.ems_on if now < state.ems_slot + HORIZON_SECONDS else None


def _on_decision(state: MachineState, event: EmsDecision, now: float) -> Step:
    if now >= event.slot_start + HORIZON_SECONDS:
        return state, c.note(state, now, f"EMS plan {event.plan_id}: expired decision ignored")
    state = replace(state, ems_on=event.on, ems_slot=event.slot_start, ems_plan=event.plan_id)
    if state.mode != Mode.PILOTE:
        return state, []
    reason = f"EMS plan {event.plan_id}: {'on' if event.on else 'off'} for slot {event.slot_start}"
    if state.spec.kind == Kind.CONTINUOUS:
        if state.guard == "operator":
            state = replace(state, guard=None)  # a force start holds until the next decision
        state, effects = _follow(state, event.on, now, reason)
        state, more = _comfort(state, now)  # a force start may have hidden a cold room
        return state, effects + more
    if event.on and start.may_start(state):
        return _start(state, now, reason, asked_by="plan")
    return state, []


def _follow(state: MachineState, on: bool, now: float, reason: str) -> Step:
    """Continuous equipment: the output follows the slot (re-asserted at every boundary), unless
    a guard holds it on."""
    effects: Effects = []
    if state.guard == MAX_OFF and on:
        state = replace(state, guard=None)  # the plan switches it on: the guard has done its job
    held = state.guard is not None and not on
    if held:
        reason = f"{reason}, held on by the {state.guard} guard"
        on = True
    decision = valid_decision(state, now)
    consigne = decision if decision is not None else state.consigne  # the EMS set-point, not ours
    # In err the order is tried again, but 30 stays until a report matches (rule 3.2).
    in_err = state.command_state == CS.ERR
    state, more = c.transition(
        state,
        now,
        reason,
        consigne=consigne,
        command_state=None if in_err else (CS.MANUEL_PILOTE_ON if on else CS.PILOTE_STAND_BY),
    )
    if not more and (held or in_err):
        more = c.note(state, now, reason)  # every override of the plan says why
    effects += more
    state, more = c.drive(state, on, now, reassert=True)
    effects += more
    return _track_off_time(state, on, now, effects)


def _track_off_time(state: MachineState, on: bool, now: float, effects: Effects) -> Step:
    """Max-off guard: a continuous equipment is never held off longer than `max_off_s`."""
    max_off = state.spec.control.max_off_s
    if on or max_off is None or state.mode != Mode.PILOTE:
        return replace(state, off_since=None), [*effects, CancelTimer(MAX_OFF)]
    if state.off_since is not None:
        return state, effects
    return replace(state, off_since=now), [*effects, ArmTimer(MAX_OFF, now + max_off)]


def _on_force_start(state: MachineState, source: str, now: float) -> Step:
    if state.mode != Mode.PILOTE:
        return state, c.note(state, now, f"force start by {source} ignored: mode {state.mode}")
    reason = f"force start by {source}"
    if state.spec.kind == Kind.CONTINUOUS:
        state = replace(state, guard="operator")  # held on until the next EMS decision
        state, effects = _follow(state, True, now, reason)
        return state, effects
    if not start.may_start(state):
        return state, c.note(state, now, f"{reason} ignored: state {state.command_state}")
    return _start(state, now, reason, asked_by="operator")


def _start(state: MachineState, now: float, reason: str, asked_by: str) -> Step:
    """The start order: power on (then, 170, the start press after the boot delay), or the press
    sequence (fingers)."""
    if state.output is None:
        refused = _press_refused(state, now)
        grace_until = _first_measure_grace(state, now)
        if refused == NO_MEASUREMENT and grace_until is not None:
            state = replace(state, start_awaits_measure=(asked_by, reason))
            note = c.note(state, now, f"{reason}: waiting for the first measurement")
            return state, [*note, ArmTimer(FIRST_MEASURE, grace_until)]
        if refused == RUNS:
            return start.started_running(state, now, f"{reason}: already running, not pressed")
        if refused is not None:
            return start.fail(state, now, "start", f"{reason}: start not pressed: {refused}")
        state, effects = start.begin(state, now, reason)
        state, more = presses.begin(state, now, round=1)
        return state, effects + more
    state, effects = start.begin(state, now, reason)
    state, more = c.drive(state, True, now)
    effects += more
    output = state.output
    if output is not None and output.relay == output.target and output.attempt == 0:
        state, more = _powered(state, now)  # it was already on: nothing to acknowledge
        effects += more
    return state, effects


RUNS = "the machine runs"
NO_MEASUREMENT = "no measurement"


def _press_refused(state: MachineState, now: float, since: float | None = None) -> str | None:
    """Why a press may not go now: a press is made only when a fresh measurement (online, not
    stale, read at or after `since`) shows the machine idle, or where nothing measures it."""
    if state.roles.measure is None:
        return None  # nothing measures: the gateway's answer is all there is (spec §5)
    runs = start.measured(state, now, since)
    if runs is None:
        return NO_MEASUREMENT
    return RUNS if runs else None


def _first_measure_grace(state: MachineState, now: float) -> float | None:
    """Until when a start may wait for the measuring device's first measurement since start-up
    (one stale period: it reports at least that often); None once it has measured or that is
    past."""
    device = c.device_spec(state, state.roles.measure)
    view = state.devices.get(state.roles.measure or "")
    if device is None or (view is not None and view.power_at is not None):
        return None
    until = state.booted_at + c.stale_after(device, state)
    return until if now < until else None


def _start_awaited(state: MachineState, now: float) -> Step:
    """The first measurement came, or its grace ended: the start asked meanwhile is decided now,
    unless the plan has since said otherwise (or the machine left its wait)."""
    awaited = state.start_awaits_measure
    state = replace(state, start_awaits_measure=None)
    effects: Effects = [CancelTimer(FIRST_MEASURE)]
    if awaited is None or not start.may_start(state):
        return state, effects
    asked_by, reason = awaited
    if asked_by == "plan" and valid_decision(state, now) is not True:
        return state, effects + c.note(state, now, f"{reason}: no longer planned")
    state, more = _start(state, now, reason, asked_by)
    return state, effects + more


def _powered(state: MachineState, now: float) -> Step:
    """The switch confirmed power-on during a start: press (170) or watch the power. A start
    resumed after a restart is never pressed again."""
    if state.roles.presses and not state.resumed_start:
        return presses.begin(state, now, round=1, delay=state.spec.control.boot_delay_s)
    return start.expect_power(state, now)


# --- reports -------------------------------------------------------------------------------------


def _on_report(state: MachineState, report: DeviceReport, now: float) -> Step:
    previous = state.devices.get(report.device)
    was_online = previous.online if previous else None
    state = c.record_report(state, report)
    effects: Effects = []
    device = c.device_spec(state, report.device)
    if device is not None and not report.retained:
        effects.append(c.stale_timer(state, device, report.at))
    is_switch = state.output is not None and report.device == state.output.device
    if is_switch and report.relay_on is not None and not report.retained:
        state = c.confirm_relay(state, report.relay_on, report.at)
    output = state.output
    if is_switch and report.online is False:
        state, more = c.stop_waiting(state)
        effects += more
    elif is_switch and report.online is True and not report.retained and was_online is not True:
        # Back online: re-assert once the device has had time to subscribe again (rule 3.1).
        effects.append(ArmTimer(BACK_ONLINE, now + state.spec.control.online_reassert_s))
    if output is not None and c.is_ack(output, report):
        if output.commanded is not None:  # an RPC success says the relay was set
            state = c.confirm_relay(state, output.commanded, report.at)
        state, more = _on_ack(state, now)
        effects += more
    elif output is not None and c.is_refusal(output, report):
        state, more = _on_ack_timeout(state, now)  # refused: the next attempt comes sooner
        effects += [
            *more,
            *c.note(
                state,
                now,
                f"device {output.device} refused the command: "
                f"{report.reply.detail if report.reply else ''}",
            ),
        ]
    elif is_switch and report.relay_on is not None and not report.retained:
        state, more = _on_relay_report(state, now)
        effects += more
    if report.reply is not None:
        state, more = _on_press_reply(state, report, now)
        effects += more
    if report.local_control is not None:
        state, more = _on_local_control(state, report.local_control, now)
        effects += more
    if not report.retained and report.power_w is not None:
        state, more = start.on_power(state, now, report.at)
        effects += more
        if state.start_awaits_measure is not None and report.device == state.roles.measure:
            state, more = _start_awaited(state, now)
            effects += more
    fresh_temperature = not report.retained and report.temperature_c is not None
    if report.device == state.roles.ambient and (fresh_temperature or report.online is not None):
        state, more = _comfort(state, now)
        effects += more
    state, more = c.refresh_observed(state, now)
    return state, effects + more


def _on_ack(state: MachineState, now: float) -> Step:
    state, effects = c.acknowledge(state)
    if state.command_state == CS.ERR and state.error_kind == "ack":
        state, more = _recover(state, now, "the device now reports the desired output")
        effects += more
    if (
        state.command_state == CS.PILOTE_EN_ACTIVATION
        and state.desired_on
        and state.presses is None
    ):
        state, more = _powered(state, now)
        effects += more
    elif _switched_on_continuous(state):
        # rule 3.7: the EMS needs the time of the last confirmed switch-on (12-hour rule)
        state, more = c.transition(state, now, "switch-on confirmed", started=True)
        effects += more
    return state, effects


def _switched_on_continuous(state: MachineState) -> bool:
    piloted = state.spec.kind == Kind.CONTINUOUS and state.mode == Mode.PILOTE
    return piloted and bool(state.desired_on) and state.output is not None and state.output.changing


def _on_relay_report(state: MachineState, now: float) -> Step:
    """A fresh relay report outside any command: clear err, or re-assert on a contradiction."""
    output = state.output
    assert output is not None
    if state.desired_on is None or output.target is None:
        return state, []
    if output.attempt > 0 or output.retry_at is not None or output.deferred_until is not None:
        return state, []
    if c.output_matches(state):
        if state.command_state == CS.ERR and state.error_kind == "ack":
            return _recover(state, now, "the device now reports the desired output")
        return state, []
    state = replace(state, conflicts=state.conflicts + 1)
    effects = c.note(state, now, "device reports a different output: re-asserting")
    state, more = c.drive(state, state.desired_on, now, reassert=True)
    return state, effects + more


def _on_press_reply(state: MachineState, report: DeviceReport, now: float) -> Step:
    state, effects, outcome = presses.on_reply(state, report, now)
    if outcome is None or outcome == presses.NEXT:
        return state, effects
    state, more = _after_sequence(state, outcome, report.reply.detail if report.reply else "", now)
    return state, effects + more


def _after_sequence(state: MachineState, outcome: str, detail: str, now: float) -> Step:
    """A press sequence ended: watch the power, repeat it once, or give up."""
    if state.command_state != CS.PILOTE_EN_ACTIVATION:
        return state, []
    if outcome == presses.DONE:
        return start.expect_power(state, now)
    if outcome == presses.UNANSWERED and start.verifiable(state):
        return start.expect_power(state, now)  # the power will tell whether it pressed
    refused = _press_refused(state, now)
    if outcome == presses.FAILED and presses.round_of(state) == 1 and refused is None:
        effects = c.note(
            state, now, f"the gateway reports the press failed ({detail}): repeating once"
        )
        state, more = presses.begin(state, now, round=2, delay=state.spec.control.press_gap_s)
        return state, effects + more
    what = (
        f"the gateway reports the press failed ({detail})"
        if outcome == presses.FAILED
        else ("the gateway did not answer the press")
    )
    if outcome == presses.FAILED and presses.round_of(state) == 1 and refused is not None:
        what = f"{what}, not repeated: {refused}"
    return start.fail(state, now, "press", what)


# --- guards --------------------------------------------------------------------------------------


def _arm_continuous_guards(state: MachineState, now: float) -> Effects:
    """The comfort guard re-checks at each period change; the max-off guard times the off."""
    effects = _arm_comfort(state, now)
    if state.off_since is not None and state.spec.control.max_off_s is not None:
        effects.append(ArmTimer(MAX_OFF, state.off_since + state.spec.control.max_off_s))
    return effects


def _arm_comfort(state: MachineState, now: float) -> Effects:
    comfort = state.details.comfort
    if comfort is None or state.roles.ambient is None or not state.spec.control.comfort_guard:
        return []
    return [ArmTimer(COMFORT, guards.next_period_change(comfort, now))]


def _cancel_guards() -> Effects:
    return [CancelTimer(COMFORT), CancelTimer(MAX_OFF)]


def _comfort(state: MachineState, now: float) -> Step:
    """140 with an ambient sensor, heating with requested temperatures: too cold -> force on.
    Heating only (spec §6): a triggered machine is never held on by a room temperature."""
    comfort = state.details.comfort
    heating = state.spec.kind == Kind.CONTINUOUS and state.spec.control.comfort_guard
    if comfort is None or not heating or state.mode != Mode.PILOTE:
        return state, []
    temperature = _fresh_temperature(state, now)
    if temperature is None:
        if state.guard != COMFORT:
            return state, []
        # A silent or offline sensor never holds a heater on: back to the plan.
        state = replace(state, guard=None)
        return _follow(
            state,
            _plan_or_kept(state, now),
            now,
            "comfort: no fresh temperature from the sensor, back to the plan",
        )
    requested = (guards.requested_dk(comfort, now) - guards.KELVIN_DK) / 10
    if state.guard != COMFORT and guards.comfort_needed(comfort, temperature, now):
        state = replace(state, guard=COMFORT)
        return _follow(
            state, False, now, f"comfort: {temperature:.1f} °C, {requested:.1f} °C requested"
        )
    if state.guard == COMFORT and guards.comfort_reached(comfort, temperature, now):
        state = replace(state, guard=None)
        on = _plan_or_kept(state, now)
        return _follow(state, on, now, f"comfort reached: {temperature:.1f} °C, back to the plan")
    return state, []


def _plan_or_kept(state: MachineState, now: float) -> bool:
    """The valid EMS decision, else the output as it is (no plan: leave it as the guard left it)."""
    decision = valid_decision(state, now)
    return decision if decision is not None else state.desired_on is not False


def _fresh_temperature(state: MachineState, now: float) -> float | None:
    """The room temperature, only while the sensor is online and its reading is not stale."""
    sensor = c.device_spec(state, state.roles.ambient)
    view = state.devices.get(state.roles.ambient or "")
    if sensor is None or view is None or view.online is False or view.temperature_at is None:
        return None
    if now - view.temperature_at >= c.stale_after(sensor, state):
        return None
    return view.temperature_c


# --- timers --------------------------------------------------------------------------------------


def _on_timer(state: MachineState, event: TimerFired, now: float) -> Step:
    token, output = event.token, state.output
    if token.startswith(c.STALE):
        state, effects = c.refresh_observed(state, now)
        if token == c.STALE + (state.roles.ambient or ""):
            state, more = _comfort(state, now)
            effects += more
        return state, effects
    if token == presses.PRESS_NEXT and state.presses and state.presses.next_at == event.at:
        refused = _press_refused(state, now)
        if refused is not None and state.command_state == CS.PILOTE_EN_ACTIVATION:
            state, effects = presses.forget(state)
            if refused == RUNS:
                state, more = start.started_running(state, now, "the machine runs: not pressed")
            else:
                state, more = start.fail(state, now, "start", f"start not pressed: {refused}")
            return state, effects + more
    if token in (presses.PRESS_NEXT, presses.PRESS_REPLY):
        state, effects, outcome = presses.on_timer(state, token, event.at, now)
        if outcome is not None:
            state, more = _after_sequence(state, outcome, "", now)
            effects += more
        return state, effects
    if token == start.VERIFY and state.verify_deadline == event.at:
        return _on_verify_timeout(state, now)
    if token == start.CYCLE_END:
        return start.on_cycle_end(state, now)
    if token == start.DEADLINE:
        if start.may_start(state) and guards.deadline_due(state.details, state.spec.control, now):
            return _start(state, now, start.deadline_reason(state), asked_by="deadline")
        return state, []
    if token == FIRST_MEASURE:
        return _start_awaited(state, now)
    if token == COMFORT:
        state, effects = _comfort(state, now)
        return state, effects + _arm_comfort(state, now)
    if token == MAX_OFF:
        return _on_max_off(state, event.at, now)
    if output is None:
        return state, []
    if token == BACK_ONLINE:
        return c.drive(state, state.desired_on, now, reassert=True)
    if token == c.ACK and output.ack_deadline == event.at and output.attempt > 0:
        return _on_ack_timeout(state, now)
    if token == c.RETRY and output.retry_at == event.at:
        return c.on_retry(state, now)
    if token == c.MIN_SWITCH and output.deferred_until == event.at:
        return c.on_min_switch(state, now)
    return state, []


def _on_ack_timeout(state: MachineState, now: float) -> Step:
    output = state.output
    assert output is not None
    state, effects, failed = c.on_ack_timeout(state, now)
    if not failed:
        return state, effects
    reason = (
        f"device {output.device} did not acknowledge {'ON' if output.target else 'OFF'} "
        f"after {output.attempt} attempts"
    )
    if state.mode not in (Mode.MANUEL, Mode.PILOTE):
        return state, effects + c.note(state, now, reason)  # the release ON of mode 70
    powering = output.target != output.inverted
    if start.triggered(state) and state.command_state == CS.MANUEL_PILOTE_ON and powering:
        # A verified start is never undone by a lost ack (a re-assert after the plug came back):
        # 12 keeps the cycle-end watch; etat_controle says the device is silent.
        return state, effects + c.note(state, now, f"{reason}; the start was verified, 12 kept")
    state, more = start.fail(state, now, "ack", reason)
    return state, effects + more


def _on_verify_timeout(state: MachineState, now: float) -> Step:
    """No power rise: repeat a press sequence once while the machine is idle, else err."""
    state = replace(state, verify_deadline=None)
    if state.command_state != CS.PILOTE_EN_ACTIVATION:
        return state, []
    if state.roles.presses and presses.round_of(state) == 1:
        # Repeat only when a measurement made after the last press shows the machine idle.
        last_press = state.presses.sent_at if state.presses else None
        refused = _press_refused(state, now, since=last_press)
        if refused is None:
            effects = c.note(state, now, "no power rise after the presses: repeating once")
            state, more = presses.begin(state, now, round=2)
            return state, effects + more
        if refused == NO_MEASUREMENT:
            return start.fail(state, now, "start", "start not verified: no measurement")
    if start.verifiable(state) and start.measured(state, now) is None:
        return start.fail(state, now, "start", "start not verified: no measurement")
    window = start.verify_window(state)
    return start.fail(state, now, "start", f"no power rise within {window:.0f} s of the start")


def _on_max_off(state: MachineState, at: float, now: float) -> Step:
    max_off = state.spec.control.max_off_s
    held_off = (
        state.off_since is not None and max_off is not None and state.off_since + max_off == at
    )
    if not held_off or state.mode != Mode.PILOTE or state.desired_on:
        return state, []
    state = replace(state, guard=MAX_OFF, off_since=None)
    hours = (max_off or 0) / 3600
    return _follow(
        state, False, now, f"max-off: held off {hours:g} h, switched on until the plan does"
    )


def _recover(state: MachineState, now: float, reason: str) -> Step:
    """err clears by itself once the device does what we want (rule 3.2)."""
    state = replace(state, error=None, error_kind=None)
    if state.mode == Mode.MANUEL:
        return c.transition(state, now, reason, command_state=CS.MANUEL_ON)
    if state.mode != Mode.PILOTE:
        return c.transition(state, now, reason, command_state=CS.NON_COMMANDE)
    if state.spec.kind == Kind.CONTINUOUS:
        on = bool(state.desired_on)
        return c.transition(
            state, now, reason, command_state=CS.MANUEL_PILOTE_ON if on else CS.PILOTE_STAND_BY
        )
    if state.desired_on:
        state, effects = c.transition(state, now, reason, command_state=CS.PILOTE_EN_ACTIVATION)
        state, more = _powered(state, now)
        return state, effects + more
    return c.transition(state, now, reason, command_state=CS.PILOTE_STAND_BY)
