"""Shelly Gen1 Plug S (database type 111), reference protocols.md §2.

Database topics: control `<root>/relay/0`, command `<root>/relay/0/command`, LWT `<root>/online`.
The device also publishes `<control>/power` (W) and `<control>/energy` (watt-minutes).
"""

from __future__ import annotations

from protocol.devices.base import DecodeError, Outbound, number, report, sibling, word
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec

RELAY_WORDS = {"on": True, "off": False, "overpower": False}  # overpower: the relay tripped off
ONLINE_WORDS = {"true": True, "false": False}
COMMAND_WORDS = {"ON": b"on", "OFF": b"off"}


class ShellyGen1:
    name = "shelly_gen1"

    def check(self, device: DeviceSpec) -> str | None:
        return None

    def subscriptions(self, device: DeviceSpec) -> tuple[str, ...]:
        topics = [
            device.control_topic,
            sibling(device.control_topic, "power"),
            sibling(device.control_topic, "energy"),
        ]
        if device.lwt_topic:
            topics.append(device.lwt_topic)
        return tuple(topics)

    def decode(
        self, device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
    ) -> DeviceReport | None:
        if topic == device.control_topic:
            return report(device, at, retained, relay_on=word(payload, RELAY_WORDS, "relay state"))
        if topic == sibling(device.control_topic, "power"):
            power = number(payload)
            if power < 0:
                raise DecodeError(f"negative power {power}")
            return report(device, at, retained, power_w=power)
        if topic == sibling(device.control_topic, "energy"):
            return report(device, at, retained, energy_wh=number(payload) / 60.0)
        if topic == device.lwt_topic:
            return report(device, at, retained, online=word(payload, ONLINE_WORDS, "availability"))
        return None

    def encode(self, device: DeviceSpec, action: str, request_id: str) -> tuple[Outbound, ...]:
        if action not in COMMAND_WORDS:
            raise ValueError(f"Shelly plug {device.id} cannot {action}")
        return (Outbound(device.command_topic, COMMAND_WORDS[action]),)

    def refresh(self, device: DeviceSpec) -> tuple[Outbound, ...]:
        # `<root>/command` = "update" makes a Gen1 device republish its state.
        root = device.command_topic.removesuffix("/relay/0/command")
        if root == device.command_topic:
            return ()
        return (Outbound(f"{root}/command", b"update", qos=0),)
