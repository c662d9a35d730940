"""openHASP screen, M5Stack Core2 "ELFI" (database type 711), reference protocols.md §1:
availability and status only.

Database topics: command `hasp/<node>/command/jsonl` (the schema comment's typo
`hasp/<node>/cmd/jsonl` is accepted too), LWT `hasp/<node>/LWT`, control (schema comment
`hasp/<node>/page`, not a topic openHASP publishes: heard, never decoded). The node root
`hasp/<node>` comes from the LWT, else from the command topic.

Heard: the LWT (`online` / `offline`, retained) and `hasp/<node>/state/statusupdate` (JSON,
every teleperiod, 300 s by default), a sign of life unless retained (a retained one is old news).
Screen pages, touch events and their orders belong to the screens' own actor: this codec never
commands (encode raises). Refresh: an empty `command/statusupdate` makes the plate report now.
"""

from __future__ import annotations

import msgspec

from protocol.devices.base import Outbound, layout_problem, report, word
from protocol.devices.payloads import decode_json
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec

ONLINE_WORDS = {"online": True, "offline": False}
COMMAND_SUFFIXES = ("/command/jsonl", "/cmd/jsonl", "/command")

_object_decoder = msgspec.json.Decoder(dict[str, object])


def root_of(device: DeviceSpec) -> str:
    """`hasp/<node>` from the LWT or the command topic; ValueError if none or if they differ."""
    from_lwt = None
    if device.lwt_topic and device.lwt_topic.endswith("/LWT"):
        from_lwt = device.lwt_topic.removesuffix("/LWT")
    from_command = None
    for suffix in COMMAND_SUFFIXES:
        if device.command_topic.endswith(suffix):
            from_command = device.command_topic.removesuffix(suffix)
            break
    if from_lwt and from_command and from_lwt != from_command:
        raise ValueError(
            f"LWT {device.lwt_topic!r} and command topic {device.command_topic!r} "
            "name different screens"
        )
    root = from_lwt or from_command
    if not root or not root.split("/")[-1]:
        raise ValueError(
            f"neither the LWT {device.lwt_topic!r} nor the command topic "
            f"{device.command_topic!r} is an openHASP <root>/LWT or <root>/command/jsonl"
        )
    return root


def _lwt(device: DeviceSpec, root: str) -> str:
    return device.lwt_topic or f"{root}/LWT"


class OpenHasp:
    name = "openhasp"

    def check(self, device: DeviceSpec) -> str | None:
        return layout_problem(root_of, device)

    def subscriptions(self, device: DeviceSpec) -> tuple[str, ...]:
        root = root_of(device)
        topics = [_lwt(device, root), f"{root}/state/statusupdate", device.control_topic]
        return tuple(dict.fromkeys(topics))

    def decode(
        self, device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
    ) -> DeviceReport | None:
        root = root_of(device)
        if topic == _lwt(device, root):
            return report(device, at, retained, online=word(payload, ONLINE_WORDS, "LWT"))
        if topic == f"{root}/state/statusupdate":
            decode_json(_object_decoder, payload)  # must be a JSON object, whatever it holds
            return None if retained else report(device, at, retained, online=True)
        return None

    def encode(self, device: DeviceSpec, action: str, request_id: str) -> tuple[Outbound, ...]:
        raise ValueError(f"screen {device.id} is not commanded by its codec: it cannot {action}")

    def refresh(self, device: DeviceSpec) -> tuple[Outbound, ...]:
        return (Outbound(f"{root_of(device)}/command/statusupdate", b""),)
