"""Socorel PLC output channel (database type 811), reference protocols.md §6.1.

One database row per output channel. Command topic `Socorel/<serial>/sortie<N>` (N = 1..8,
taken from the whole suffix: `sortie10` is refused, where the 2023 program read only the last
character), payload `1` / `0`. Control topic `Socorel/<serial>/EtatSorties`, shared by the
channels of one serial: one character per output, `'1'` / `'0'`, the N-th for channel N
(e.g. `01000000`: output 2 on). The PLC may also publish `Socorel/<serial>/EtatSortie<N>`
(`1` / `0`); only this channel's is heard.

The PLC publishes no LWT (schema, June 2023): a database LWT is ignored. Nothing to refresh:
no query is known. `Socorel/<serial>/mode` (local manual mode) is a stimulus, handled elsewhere.
"""

from __future__ import annotations

import re

import msgspec

from protocol.devices.base import DecodeError, Outbound, report, text, word
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec

STATE_WORDS = {"1": True, "0": False}
COMMAND_PAYLOADS = {"ON": b"1", "OFF": b"0"}
_OUTPUT = re.compile(r"(?P<root>.+)/(?i:sortie)(?P<channel>[1-8])")


class SocorelTopics(msgspec.Struct, frozen=True):
    root: str  # Socorel/<serial>
    channel: int  # 1..8

    @property
    def states(self) -> str:
        return f"{self.root}/EtatSorties"

    @property
    def own_state(self) -> str:
        return f"{self.root}/EtatSortie{self.channel}"

    @property
    def mode(self) -> str:
        """`manuel` when an operator took local control at the PLC (interfaces.md §4)."""
        return f"{self.root}/mode"


def topics_of(device: DeviceSpec) -> SocorelTopics:
    """Root and channel of the command topic; ValueError if it is not `<root>/sortie<1..8>`."""
    match = _OUTPUT.fullmatch(device.command_topic)
    if match is None:
        raise ValueError(
            f"command topic {device.command_topic!r} is not a Socorel <root>/sortie<N>, N in 1..8"
        )
    return SocorelTopics(root=match["root"], channel=int(match["channel"]))


class Socorel:
    name = "socorel"

    def check(self, device: DeviceSpec) -> str | None:
        try:
            t = topics_of(device)
        except ValueError as exc:
            return str(exc)
        if device.control_topic != t.states:
            return f"control topic {device.control_topic!r} is not {t.states!r}"
        return None

    def subscriptions(self, device: DeviceSpec) -> tuple[str, ...]:
        t = topics_of(device)
        return tuple(dict.fromkeys([device.control_topic, t.states, t.own_state, t.mode]))

    def decode(
        self, device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
    ) -> DeviceReport | None:
        t = topics_of(device)
        if topic == t.states:
            states = text(payload)
            if len(states) < t.channel:
                raise DecodeError(f"EtatSorties {states!r} has no output {t.channel}")
            state = states[t.channel - 1]
            if state not in STATE_WORDS:
                raise DecodeError(f"EtatSorties {states!r}: output {t.channel} is {state!r}")
            return report(device, at, retained, relay_on=STATE_WORDS[state])
        if topic == t.own_state:
            state_on = word(payload, STATE_WORDS, f"EtatSortie{t.channel}")
            return report(device, at, retained, relay_on=state_on)
        if topic == t.mode:
            # `manuel` (any case) = local control; any other word = back to remote control
            return report(device, at, retained, local_control=text(payload).lower() == "manuel")
        return None

    def encode(self, device: DeviceSpec, action: str, request_id: str) -> tuple[Outbound, ...]:
        if action not in COMMAND_PAYLOADS:
            raise ValueError(f"Socorel output {device.id} cannot {action}")
        return (Outbound(device.command_topic, COMMAND_PAYLOADS[action]),)

    def refresh(self, device: DeviceSpec) -> tuple[Outbound, ...]:
        return ()
