"""Shared pieces of the codec fuzz tests: every subscribed topic of the devices, and a decode of
arbitrary bytes whose only permitted failure is a DecodeError that says why."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from protocol.devices import Codec, DecodeError
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec


def subscribed_topics(
    codec: Codec, devices: list[DeviceSpec]
) -> st.SearchStrategy[tuple[DeviceSpec, str]]:
    return st.sampled_from(devices).flatmap(
        lambda d: st.tuples(st.just(d), st.sampled_from(codec.subscriptions(d)))
    )


def fuzz_decode(
    codec: Codec, device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
) -> tuple[bool, DeviceReport | None]:
    """(rejected, report): a rejection carries a reason; a report names its device, time and
    retained flag unchanged."""
    try:
        decoded = codec.decode(device, topic, payload, retained, at)
    except DecodeError as exc:
        assert str(exc)
        return True, None
    assert decoded is None or isinstance(decoded, DeviceReport)
    if decoded is not None:
        assert (decoded.device, decoded.at, decoded.retained) == (device.id, at, retained)
    return False, decoded


def payloads(
    samples: list[bytes], json_values: st.SearchStrategy[object], nest_under: bytes
) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, the family's recorded payloads, JSON of its shape, text, and JSON nested
    deep under `nest_under` (a recursion bomb that must be a DecodeError, never a crash)."""
    return (
        st.binary(max_size=80)
        | st.sampled_from(samples)
        | json_values.map(lambda v: json.dumps(v).encode())
        | st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass"))
        | st.integers(0, 3000).map(
            lambda n: b'{"' + nest_under + b'":' + b"[" * n + b"]" * n + b"}"
        )
    )
