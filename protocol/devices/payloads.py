"""Payload helpers shared by the JSON-speaking codecs: bounded JSON decoding and number checks.

Every failure is a `DecodeError` with a reason; nothing else escapes, whatever the bytes.
"""

from __future__ import annotations

import math
from typing import TypeVar

import msgspec

from protocol.devices.base import DecodeError

T = TypeVar("T")

MAX_JSON = 8192  # devices publish far less; a bigger payload is not what the topic promises


def decode_json(decoder: msgspec.json.Decoder[T], payload: bytes, limit: int = MAX_JSON) -> T:
    """The payload decoded by `decoder`, DecodeError naming what was wrong."""
    if len(payload) > limit:
        raise DecodeError(f"payload larger than {limit} bytes")
    try:
        return decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    except msgspec.ValidationError as exc:
        raise DecodeError(f"unexpected JSON: {exc}") from None
    except RecursionError:  # msgspec's answer to deep nesting, e.g. 1000 "[" in 2 kB
        raise DecodeError("JSON nested too deeply") from None


def measure(value: float | str | None, what: str) -> float | None:
    """A finite, non-negative measurement (a number, or a number as text); None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise DecodeError(f"{what}: expected a number, got {value[:32]!r}") from None
    if not math.isfinite(value):
        raise DecodeError(f"{what}: expected a finite number, got {value}")
    if value < 0:
        raise DecodeError(f"{what}: negative value {value}")
    return float(value)


def bounded(value: float, low: float, high: float, what: str) -> float:
    if not low <= value <= high:
        raise DecodeError(f"{what} {value} outside {low:g}..{high:g}")
    return value


def percent(value: float, what: str) -> int:
    """A 0..100 percentage, rounded to an integer."""
    return round(bounded(value, 0.0, 100.0, what))


def keyword(value: str, accepted: dict[str, bool], what: str) -> bool:
    """A case-insensitive keyword taken from decoded JSON, mapped like `base.word` does."""
    try:
        return accepted[value.strip().lower()]
    except KeyError:
        expected = "/".join(sorted(accepted))
        raise DecodeError(f"{what}: expected {expected}, got {value[:32]!r}") from None
