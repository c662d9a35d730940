"""Faults a replay injects (`replay --faults SPEC`), parsed and applied purely.

SPEC is one or more faults separated by `;`:

    drop FILTER [FROM-TO]            the matching messages are lost
    duplicate FILTER [FROM-TO]       each matching message arrives twice
    delay FILTER SECONDS [FROM-TO]   each matching message arrives SECONDS later
    reorder FILTER [FROM-TO]         each pair of consecutive matching messages is swapped
    broker FROM-TO                   the broker connection is lost, then comes back
    database FROM-TO                 every database call fails (both databases)
    clock SECONDS@AT                 the supervisor's wall clock jumps (negative: backwards)

FILTER is an MQTT topic filter (`+`, `#`). A time is `HH:MM[:SS]` (UTC; the first such time at
or after the capture's start) or `+SECONDS` from the start. Without FROM-TO a message fault
applies to the whole capture.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Literal

import msgspec

from protocol.capture import Line, Mqtt

MessageKind = Literal["drop", "duplicate", "delay", "reorder"]
_CLOCK = re.compile(r"^(?P<hh>\d{1,2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}(?:\.\d+)?))?$")


class FaultError(ValueError):
    """A fault specification that cannot be understood; the message names the culprit."""


class MessageFault(msgspec.Struct, frozen=True):
    kind: MessageKind
    filter: str
    start: float = -math.inf
    end: float = math.inf
    seconds: float = 0.0  # delay

    def applies(self, line: Mqtt) -> bool:
        return self.start <= line.time < self.end and matches(self.filter, line.topic)


class Outage(msgspec.Struct, frozen=True):
    target: Literal["broker", "database"]
    start: float
    end: float


class ClockJump(msgspec.Struct, frozen=True):
    at: float
    seconds: float


Fault = MessageFault | Outage | ClockJump


def matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic matching (`+` one level, `#` the rest)."""
    levels = topic.split("/")
    for i, level in enumerate(topic_filter.split("/")):
        if level == "#":
            return True
        if i >= len(levels) or (level != "+" and level != levels[i]):
            return False
    return len(topic_filter.split("/")) == len(levels)


def parse_time(text: str, start: float) -> float:
    """`HH:MM[:SS]` -> the first such UTC time at or after `start`; `+N` -> start + N."""
    if text.startswith("+"):
        return start + _number(text[1:], text)
    match = _CLOCK.match(text)
    if not match:
        raise FaultError(f"time {text!r}: expected HH:MM, HH:MM:SS or +SECONDS")
    hh, mm, ss = int(match["hh"]), int(match["mm"]), float(match["ss"] or 0)
    if hh > 23 or mm > 59 or ss >= 60:
        raise FaultError(f"time {text!r}: not a time of day")
    of_day = hh * 3600 + mm * 60 + ss
    midnight = math.floor(start / 86400) * 86400
    moment = midnight + of_day
    return moment if moment >= start else moment + 86400


def parse(spec: str, start: float) -> list[Fault]:
    """Raises FaultError naming the fault that cannot be understood."""
    faults: list[Fault] = []
    for item in (part.strip() for part in spec.split(";")):
        if item:
            faults.append(_parse_one(item, start))
    return faults


def _parse_one(item: str, start: float) -> Fault:
    words = item.split()
    kind, args = words[0], words[1:]
    try:
        if kind in ("drop", "duplicate", "reorder", "delay"):
            seconds = 0.0
            if kind == "delay":
                if len(args) < 2:
                    raise FaultError("delay needs a topic filter and a number of seconds")
                seconds = _number(args.pop(1), "delay")
                if seconds < 0:
                    raise FaultError("a delay cannot be negative")
            if len(args) not in (1, 2):
                raise FaultError(f"{kind} needs a topic filter and optionally FROM-TO")
            period = _period(args[1], start) if len(args) == 2 else (-math.inf, math.inf)
            return MessageFault(kind, args[0], period[0], period[1], seconds)  # type: ignore[arg-type]
        if kind in ("broker", "database"):
            if len(args) != 1:
                raise FaultError(f"{kind} needs FROM-TO")
            begin, end = _period(args[0], start)
            return Outage(kind, begin, end)  # type: ignore[arg-type]
        if kind == "clock":
            if len(args) != 1 or "@" not in args[0]:
                raise FaultError("clock needs SECONDS@AT")
            amount, at = args[0].split("@", 1)
            return ClockJump(parse_time(at, start), _number(amount, "clock"))
    except FaultError as exc:
        raise FaultError(f"fault {item!r}: {exc}") from None
    raise FaultError(
        f"fault {item!r}: unknown kind {kind!r} "
        "(drop, duplicate, delay, reorder, broker, database, clock)"
    )


def _period(text: str, start: float) -> tuple[float, float]:
    """FROM-TO; a TO of day earlier than FROM is the next day (23:00-01:00)."""
    parts = text.split("-")
    if len(parts) != 2 or not all(parts):
        raise FaultError(f"period {text!r}: expected FROM-TO")
    begin = parse_time(parts[0], start)
    end = parse_time(parts[1], begin if not parts[1].startswith("+") else start)
    if end <= begin:
        raise FaultError(f"period {text!r}: ends before it starts")
    return begin, end


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FaultError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise FaultError(f"{what}: {text!r} is not a finite number")
    return value


def apply(lines: Iterable[Line], faults: Iterable[Fault]) -> list[Line]:
    """The capture's lines as the supervisor receives them, message faults applied; the result
    is in time order (stable: lines of the same time keep their order)."""
    result = list(lines)
    for fault in faults:
        if isinstance(fault, MessageFault):
            result = _apply_one(result, fault)
    return sorted(result, key=lambda line: line.time)


def _apply_one(lines: list[Line], fault: MessageFault) -> list[Line]:
    out: list[Line] = []
    held: Mqtt | None = None  # reorder: the first of a pair, waiting for the second
    for line in lines:
        if not isinstance(line, Mqtt) or not fault.applies(line):
            out.append(line)
            continue
        if fault.kind == "drop":
            continue
        if fault.kind == "duplicate":
            out.extend((line, line))
        elif fault.kind == "delay":
            out.append(msgspec.structs.replace(line, time=line.time + fault.seconds))
        elif held is None:
            held = line
        else:  # reorder: the second arrives first, the first at the second's time
            out.extend((line, msgspec.structs.replace(held, time=line.time)))
            held = None
    if held is not None:
        out.append(held)
    return out
