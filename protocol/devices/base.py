"""What every device codec provides: pure translation between MQTT bytes and typed reports/commands.

A codec never does I/O. Topics come from the device's database row (`DeviceSpec`); a codec only
derives the sibling topics its protocol defines (Tasmota `stat/<t>/RESULT` beside `cmnd/<t>/POWER`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import msgspec

from protocol.messages import DeviceReport
from protocol.model import DeviceSpec


class DecodeError(ValueError):
    """An inbound payload that does not say what its topic promises; the message says why."""


class Outbound(msgspec.Struct, frozen=True):
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False  # commands are never retained (reference protocols.md §8.2)


class Codec(Protocol):
    name: str

    def check(self, device: DeviceSpec) -> str | None:
        """Why this device's database topics cannot work with this protocol, or None."""
        ...

    def subscriptions(self, device: DeviceSpec) -> tuple[str, ...]:
        """Every topic this device publishes on that the supervisor must hear."""
        ...

    def decode(
        self, device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
    ) -> DeviceReport | None:
        """A report, None for a message that carries nothing useful, DecodeError for a bad one."""
        ...

    def encode(self, device: DeviceSpec, action: str, request_id: str) -> tuple[Outbound, ...]:
        """The publishes for one command ("ON" / "OFF" / "PRESS"); ValueError if unsupported."""
        ...

    def refresh(self, device: DeviceSpec) -> tuple[Outbound, ...]:
        """Publishes that make the device report its current state now (after a reconnect)."""
        ...


def layout_problem(layout: Callable[[DeviceSpec], object], device: DeviceSpec) -> str | None:
    """`check` for a codec whose topic layout is parsed from the row: the parser's reason."""
    try:
        layout(device)
    except ValueError as exc:
        return str(exc)
    return None


def text(payload: bytes, limit: int = 64) -> str:
    """The payload as short stripped text, DecodeError if it is not UTF-8."""
    try:
        value = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise DecodeError("payload is not UTF-8 text") from None
    if len(value) > limit:
        raise DecodeError(f"payload longer than {limit} characters")
    return value


def number(payload: bytes) -> float:
    value = text(payload)
    try:
        result = float(value)
    except ValueError:
        raise DecodeError(f"expected a number, got {value!r}") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise DecodeError(f"expected a finite number, got {value!r}")
    return result


def word(payload: bytes, accepted: dict[str, bool], what: str) -> bool:
    """A case-insensitive keyword mapped to a boolean, DecodeError naming what was expected."""
    value = text(payload)
    try:
        return accepted[value.lower()]
    except KeyError:
        expected = "/".join(sorted(accepted))
        raise DecodeError(f"{what}: expected {expected}, got {value!r}") from None


def report(device: DeviceSpec, at: float, retained: bool, **fields: object) -> DeviceReport:
    return DeviceReport(device=device.id, at=at, retained=retained, **fields)  # type: ignore[arg-type]


def sibling(topic: str, suffix: str) -> str:
    return f"{topic.rstrip('/')}/{suffix}"
