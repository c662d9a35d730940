"""The start of a triggered equipment (machines, vehicles), shared by both families: arming,
verification by the power it draws (or the house meter's step, or the acknowledgement where
nothing measures), cycle end, failure and recovery, and the deadline guard (spec §4, §5, §6)."""

from __future__ import annotations

from protocol.ids import CommandState as CS
from protocol.ids import Kind, Mode
from protocol.messages import ArmTimer, CancelTimer
from protocol.typologies import common as c
from protocol.typologies import guards
from protocol.typologies.common import Effects, Step, replace
from protocol.typologies.state import MachineState

VERIFY = "verify"
CYCLE_END = "cycle-end"
DEADLINE = "deadline"
START_ERRORS = ("start", "ack", "press")


def triggered(state: MachineState) -> bool:
    return state.spec.kind == Kind.TRIGGERED


def may_start(state: MachineState) -> bool:
    """Waiting for its slot, or in err after a start that did not happen (the EMS may plan it
    again). A verified start moves the equipment to mode 20: at most one start per arming."""
    if state.mode != Mode.PILOTE or not triggered(state):
        return False
    return state.command_state == CS.PILOTE_STAND_BY or (
        state.command_state == CS.ERR and state.error_kind in START_ERRORS
    )


def begin(state: MachineState, now: float, reason: str) -> Step:
    """State 21: the start order goes out now (the family sends it)."""
    state, effects = c.transition(
        state, now, reason, command_state=CS.PILOTE_EN_ACTIVATION, consigne=True
    )
    state = replace(
        state,
        error=None,
        error_kind=None,
        verify_deadline=None,
        meter_baseline_w=c.meter_power(state),
        pressed_at=None,
    )
    return state, [*effects, CancelTimer(DEADLINE)]


def verifiable(state: MachineState) -> bool:
    """Something measures whether the equipment really started."""
    if state.roles.measure is not None:
        return True
    return state.meter_baseline_w is not None and bool(state.details.rated_power_w)


def verify_window(state: MachineState) -> float:
    """verify_s, plus one report period of the house meter, which reports seldom (TIC: 5 min)."""
    window = state.spec.control.verify_s
    meter = c.device_spec(state, state.roles.meter)
    return window + meter.report_period_s if meter and state.roles.measure is None else window


def expect_power(state: MachineState, now: float) -> Step:
    """The start order was carried out: wait for the power rise, or call it started where
    nothing can measure it."""
    if not verifiable(state):
        return started(state, now, "start acknowledged (nothing measures it)")
    deadline = now + verify_window(state)
    return replace(state, verify_deadline=deadline), [ArmTimer(VERIFY, deadline)]


def running(state: MachineState) -> bool | None:
    """Whether the equipment draws power: its own measure, or a step of the house meter (180)."""
    power = c.power_of(state)
    if power is not None:
        return power >= state.spec.control.on_threshold_w
    meter, baseline, rated = (
        c.meter_power(state),
        state.meter_baseline_w,
        state.details.rated_power_w,
    )
    if meter is None or baseline is None or not rated:
        return None
    return meter - baseline >= state.spec.control.meter_step_ratio * rated


def measured(state: MachineState, now: float, since: float | None = None) -> bool | None:
    """Whether the equipment runs (above its start threshold), from a *fresh* measurement only:
    the measuring device (or the house meter) online, not stale, and (with `since`) read at or
    after `since`. None: unknown."""
    device = state.roles.measure or state.roles.meter
    view = c.fresh_view(state, device, now)
    if view is None or view.power_at is None or (since is not None and view.power_at < since):
        return None
    power = c.power_of(state)
    return power >= start_threshold_w(state) if power is not None else running(state)


def start_threshold_w(state: MachineState) -> float:
    """The power that verifies a start. Where the switch powers the machine on before a finger
    starts it (170), the electronics draw a little at boot: a start needs `start_power_ratio` of
    the rated power, when it is declared."""
    threshold = state.spec.control.on_threshold_w
    rated = state.details.rated_power_w
    if state.roles.presses and state.output is not None and rated:
        return max(threshold, state.spec.control.start_power_ratio * rated)
    return threshold


def _verifies(state: MachineState, at: float) -> bool:
    """A power reading that proves the start: above the start threshold and, for a finger,
    measured after its first press (a rise before it is not the start we made)."""
    power = c.power_of(state)
    if power is not None and power < start_threshold_w(state):
        return False
    pressing = state.command_state == CS.PILOTE_EN_ACTIVATION and not state.resumed_start
    if pressing and state.output is None:
        return state.pressed_at is not None and at >= state.pressed_at
    return True


def starting(state: MachineState) -> bool:
    """Starting (21), or in err after a start that was ordered (a failed OFF is no start). A
    continuous equipment never starts: its err is an order that failed, and the power it draws
    does not make it a started machine (mode 20 is for triggered equipment, spec §3.6)."""
    if not triggered(state):
        return False
    return state.command_state == CS.PILOTE_EN_ACTIVATION or (
        state.command_state == CS.ERR
        and state.error_kind in START_ERRORS
        and state.desired_on is not False
    )


def started(state: MachineState, now: float, reason: str) -> Step:
    """Start verified: the EMS must see mode 20 and the start time (rules 3.6, 3.7)."""
    state, effects = c.transition(
        state, now, reason, command_state=CS.MANUEL_PILOTE_ON, mode=Mode.MANUEL, started=True
    )
    state = replace(
        state,
        verify_deadline=None,
        error=None,
        error_kind=None,
        low_power_since=None,
        presses=None,
        resumed_start=False,
    )
    return state, [*effects, CancelTimer(VERIFY), CancelTimer(DEADLINE)]


def on_power(state: MachineState, now: float, at: float) -> Step:
    """A fresh power reading (made at `at`): a start verified, or a cycle that goes on or ends."""
    is_running = running(state)
    if is_running is None:
        return state, []
    if starting(state) and is_running and state.mode == Mode.PILOTE and _verifies(state, at):
        power = c.power_of(state)
        what = f"{power:.0f} W" if power is not None else "house meter step"
        return started_running(state, now, f"start verified: {what}")
    if not triggered(state) or state.command_state != CS.MANUEL_PILOTE_ON:
        return state, []
    if state.roles.measure is None:
        return state, []  # a house meter cannot tell when one appliance's cycle ends
    if is_running and state.low_power_since is not None:
        return replace(state, low_power_since=None), [CancelTimer(CYCLE_END)]
    if not is_running and state.low_power_since is None:
        until = now + state.spec.control.cycle_end_s
        return replace(state, low_power_since=now), [ArmTimer(CYCLE_END, until)]
    return state, []


def started_running(state: MachineState, now: float, reason: str) -> Step:
    """Start verified by the power the machine draws (a rise, or it already runs)."""
    state, effects = started(state, now, reason)
    state, more = _powered_is_acknowledged(state)
    return state, effects + more


def _powered_is_acknowledged(state: MachineState) -> Step:
    """The equipment draws power: its switch is on, whatever became of the relay's own answer
    (a start verified by power is never undone by a lost acknowledgement)."""
    output = state.output
    if output is None or output.target != (not output.inverted):
        return state, []
    if output.attempt == 0 and output.retry_at is None:
        return state, []
    return c.acknowledge(state)


def on_cycle_end(state: MachineState, now: float) -> Step:
    low_since = state.low_power_since
    over = low_since is not None and now - low_since >= state.spec.control.cycle_end_s
    if not over or state.command_state != CS.MANUEL_PILOTE_ON:
        return state, []
    state = replace(state, low_power_since=None)
    return c.transition(state, now, "cycle ended", command_state=CS.MANUEL_ON)


def fail(state: MachineState, now: float, kind: str, reason: str) -> Step:
    """State 30 with its reason; the mode stays (in 30 the EMS can plan it again)."""
    state, effects = c.transition(state, now, reason, command_state=CS.ERR)
    effects = effects or c.note(state, now, reason)  # already 30: the journal still says why
    state = replace(state, error=reason, error_kind=kind, verify_deadline=None)
    return state, [*effects, CancelTimer(VERIFY), *arm_deadline(state, now)]


# --- deadline guard ------------------------------------------------------------------------------


def arm_deadline(state: MachineState, now: float) -> Effects:
    """While waiting, the deadline guard watches the household's "finished by" time."""
    if not may_start(state):
        return [CancelTimer(DEADLINE)]
    start_at = guards.deadline_start_at(state.details, state.spec.control)
    deadline = state.details.deadline
    if start_at is None or deadline is None or now >= deadline:
        return [CancelTimer(DEADLINE)]
    if state.command_state == CS.ERR and start_at <= now:
        return [CancelTimer(DEADLINE)]  # in err, the guard starts once at its time, never again
    return [ArmTimer(DEADLINE, max(start_at, now))]


def deadline_reason(state: MachineState) -> str:
    return f"deadline: the household wants it finished by {state.details.deadline}"
