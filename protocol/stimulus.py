"""Stimulus topics of the other programs and operators (spec interfaces.md §4), parsed purely.

- `viriya/update/<id>`, payload ignored: re-read equipment <id> from the database;
- `<base>/equipment/<id>/set`: `{"mode": "pilote"|"manuel"}`, `{"start": true}` or
  `{"refresh": true}`.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Literal, NamedTuple

import msgspec

from protocol.ids import Mode
from protocol.messages import ForceStart, Message, ModeRequested, Reassert
from protocol.partition import StimulusScope

VIRIYA_FILTER = "viriya/update/+"


class StimulusError(ValueError):
    """A stimulus that cannot be applied; the message is published back to the operator.

    `equipment` is the id the topic names, None when the id itself is bad (with partitions the
    owner of that equipment answers, partition 0 when there is none).
    """

    def __init__(self, message: str, equipment: int | None = None) -> None:
        super().__init__(message)
        self.equipment = equipment


class Reload(msgspec.Struct, frozen=True):
    equipment: int
    source: str


class SetMode(msgspec.Struct, frozen=True):
    equipment: int
    mode: int
    source: str


class StartNow(msgspec.Struct, frozen=True):
    equipment: int
    source: str


class Refresh(msgspec.Struct, frozen=True):
    equipment: int
    source: str


Stimulus = Reload | SetMode | StartNow | Refresh


class OperatorCommand(msgspec.Struct, forbid_unknown_fields=True):
    mode: Literal["pilote", "manuel"] | None = None
    start: Literal[True] | None = None
    refresh: Literal[True] | None = None


_operator_decoder = msgspec.json.Decoder(OperatorCommand)
OPERATOR_MODES = {"pilote": Mode.PILOTE, "manuel": Mode.MANUEL}


def operator_filter(base_topic: str) -> str:
    return f"{base_topic}/equipment/+/set"


def operator_error_topic(base_topic: str, equipment: str) -> str:
    return f"{base_topic}/equipment/{equipment}/error"


def parse(topic: str, payload: bytes, base_topic: str) -> Stimulus | None:
    """The stimulus a message carries, None if the topic is not a stimulus topic.

    Raises StimulusError for a stimulus topic with a bad id or payload.
    """
    parts = topic.split("/")
    if len(parts) == 3 and parts[:2] == ["viriya", "update"]:
        return Reload(_equipment_id(parts[2]), "viriya")
    base = base_topic.split("/")
    if (
        len(parts) == len(base) + 3
        and parts[: len(base)] == base
        and (parts[len(base)] == "equipment" and parts[-1] == "set")
    ):
        return _operator(_equipment_id(parts[-2]), payload)
    return None


def _equipment_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 9:  # "²".isdigit() is True
        raise StimulusError(f"equipment id must be a positive integer, got {text!r}")
    return int(text)


def _operator(equipment: int, payload: bytes) -> Stimulus:
    try:
        command = _operator_decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise StimulusError(f"invalid command: {exc}", equipment) from None
    given = [name for name in ("mode", "start", "refresh") if getattr(command, name) is not None]
    if len(given) != 1:
        raise StimulusError('expected exactly one of "mode", "start", "refresh"', equipment)
    if command.mode is not None:
        return SetMode(equipment, OPERATOR_MODES[command.mode], "operator")
    if command.start:
        return StartNow(equipment, "operator")
    return Refresh(equipment, "operator")


def error_topic_for(topic: str, base_topic: str) -> str | None:
    """Where an error about an operator's message on `topic` goes back, None for other topics."""
    parts = topic.split("/")
    if topic.startswith(base_topic + "/equipment/") and len(parts) >= 2:
        return operator_error_topic(base_topic, parts[-2])
    return None


def encode_error(error: str) -> bytes:
    """The body published on `<base>/equipment/<id>/error`."""
    return msgspec.json.encode({"error": error})


def to_event(parsed: Stimulus, at: float) -> Message | Reload:
    """The message a parsed stimulus becomes: an event for the equipment's actor, or the
    `Reload` itself (for the supervisor, which has the database re-read)."""
    if isinstance(parsed, SetMode):
        return ModeRequested(parsed.equipment, parsed.mode, parsed.source, at)
    if isinstance(parsed, StartNow):
        return ForceStart(parsed.equipment, parsed.source, at)
    if isinstance(parsed, Refresh):
        return Reassert(f"refresh requested by {parsed.source}", at)
    return parsed


class Verdict(NamedTuple):
    """What the gateway does with a message that no device route takes."""

    counter: str | None = None  # the gateway counter it adds one to
    event: Message | Reload | None = None  # for the equipment's actor; a Reload for the supervisor
    equipment: int | None = None
    error: str | None = None  # answered on `<base>/equipment/<id>/error`
    ignored: str | None = None  # why it is dropped (a debug line)


def judge(
    topic: str,
    payload: bytes,
    retained: bool,
    base_topic: str,
    scope: StimulusScope,
    known: Container[int],
    at: float,
) -> Verdict:
    """The stimulus a message carries, handled by the partition that answers for its equipment
    (`known`: the equipment it has actors for); a retained one is ignored (it would replay at
    every restart)."""
    try:
        parsed = parse(topic, payload, base_topic)
    except StimulusError as exc:  # answered by one partition alone
        return Verdict(error=str(exc)) if scope.answers(exc.equipment) else Verdict()
    if parsed is None:
        return Verdict("unrouted", ignored="unrouted topic")
    if retained:
        return Verdict(ignored="retained stimulus")
    if not scope.answers(parsed.equipment):
        return Verdict("foreign_stimuli")  # the partition that owns it handles it
    if parsed.equipment not in known:
        return Verdict("stimuli", error=f"unknown equipment {parsed.equipment}")
    return Verdict("stimuli", to_event(parsed, at), parsed.equipment)
