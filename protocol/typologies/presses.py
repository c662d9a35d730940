"""Finger start sequences (typologies 130, 150, 160, and the start press of 170), spec §5.

A finger can only press. A press is never retried blindly: each press waits for the gateway's
answer (`finger_ack_timeout_s`); the whole sequence is repeated at most once, and only by the
family when the measured power shows the machine idle. Nothing is ever pressed outside state 21.
"""

from __future__ import annotations

from protocol.messages import ArmTimer, CancelTimer, CommandReply, DeviceReport, SendCommand
from protocol.typologies.common import Effects, Step, replace
from protocol.typologies.state import MachineState, Presses

PRESS_NEXT = "press-next"
PRESS_REPLY = "press-reply"

# What a press sequence reports to the family after an event.
NEXT = "next"  # a press was answered, the next one is scheduled
DONE = "done"  # every press of the round was answered
FAILED = "failed"  # the gateway said a press failed
UNANSWERED = "unanswered"  # the gateway did not answer a press in time


def begin(state: MachineState, now: float, round: int, delay: float = 0.0) -> Step:
    """Start round 1, or the single repeat (round 2), `delay` seconds from now."""
    presses = Presses(round=round, left=state.roles.presses, next_at=now + delay)
    state = replace(state, presses=presses)
    if delay <= 0:
        return press_next(state, now)
    return state, [ArmTimer(PRESS_NEXT, now + delay)]


def press_next(state: MachineState, now: float) -> Step:
    presses = state.presses
    assert presses is not None and presses.left
    device, *rest = presses.left
    sequence = state.sequence + 1
    request_id = f"{state.spec.id}-{sequence}"
    deadline = now + state.spec.control.finger_ack_timeout_s
    presses = replace(
        presses,
        left=tuple(rest),
        next_at=None,
        waiting=device,
        request_id=request_id,
        sent_at=now,
        reply_deadline=deadline,
    )
    pressed_at = state.pressed_at if state.pressed_at is not None else now
    state = replace(state, presses=presses, sequence=sequence, pressed_at=pressed_at)
    return state, [SendCommand(device, "PRESS", request_id), ArmTimer(PRESS_REPLY, deadline)]


def _answers(presses: Presses, report: DeviceReport, reply: CommandReply) -> bool:
    if presses.waiting != report.device or report.retained:
        return False
    if reply.request_id is not None:
        return reply.request_id == presses.request_id
    # no id in the protocol: the answer to this device's press in flight, sent after it
    fresh = presses.sent_at is not None and report.at >= presses.sent_at
    return fresh and reply.command in (None, "PRESS")


def on_reply(
    state: MachineState, report: DeviceReport, now: float
) -> tuple[MachineState, Effects, str | None]:
    presses, reply = state.presses, report.reply
    if presses is None or reply is None or not _answers(presses, report, reply):
        return state, [], None
    if not reply.ok:
        state, effects = cancel(state)
        return state, effects, FAILED
    presses = replace(
        presses,
        waiting=None,
        request_id=None,
        reply_deadline=None,
        acknowledged=presses.acknowledged + 1,
    )
    effects: Effects = [CancelTimer(PRESS_REPLY)]
    if not presses.left:
        return replace(state, presses=presses), effects, DONE
    next_at = now + state.spec.control.press_gap_s
    presses = replace(presses, next_at=next_at)
    return replace(state, presses=presses), [*effects, ArmTimer(PRESS_NEXT, next_at)], NEXT


def on_timer(
    state: MachineState, token: str, at: float, now: float
) -> tuple[MachineState, Effects, str | None]:
    presses = state.presses
    if presses is None:
        return state, [], None
    if token == PRESS_NEXT and presses.next_at == at and presses.waiting is None and presses.left:
        state, effects = press_next(state, now)
        return state, effects, None
    if token == PRESS_REPLY and presses.reply_deadline == at and presses.waiting is not None:
        state, effects = cancel(state)  # never press on without knowing what the last one did
        return state, effects, UNANSWERED
    return state, [], None


def cancel(state: MachineState) -> Step:
    """Stop the sequence; its round stays known (the family may repeat round 1 once)."""
    presses = state.presses
    if presses is None:
        return state, []
    stopped = replace(
        presses, left=(), next_at=None, waiting=None, request_id=None, reply_deadline=None
    )
    return replace(state, presses=stopped), [CancelTimer(PRESS_NEXT), CancelTimer(PRESS_REPLY)]


def forget(state: MachineState) -> Step:
    """Leave state 21: no press may go out any more."""
    state, effects = cancel(state)
    return replace(state, presses=None), effects


def round_of(state: MachineState) -> int:
    return state.presses.round if state.presses else 0
