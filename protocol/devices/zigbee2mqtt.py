"""Zigbee2MQTT switches and plugs, reference protocols.md §7.

No ELFE database type is a Zigbee device, so this codec is in no default mapping: an installation
that keeps Zigbee plugs in one of its own device types maps that type to it, e.g.

    [devices.codecs]
    913 = "zigbee2mqtt"

Database topics: command `<base>/<name>/set`, control `<base>/<name>` (the device topic), LWT
(optional) `<base>/<name>/availability`. The friendly name may contain `/`, so the device topic
is the command topic without `/set`, never split into base and name.

- `<base>/<name>` is JSON state: `state` ON/OFF, `power` W, `energy` kWh (fields depend on the
  device's exposes; others are ignored);
- availability, retained, is `{"state":"online"}` / `{"state":"offline"}` (Z2M >= 2.0) or plain
  `online` / `offline` (1.x `legacy_availability_payload`); both are accepted;
- orders are `{"state":"ON"}` / `{"state":"OFF"}` on the command topic, acknowledged by the state
  publish that follows; refresh is `<base>/<name>/get` with `{"state":""}`.
"""

from __future__ import annotations

import msgspec

from protocol.devices.base import Outbound, report, word
from protocol.devices.payloads import decode_json, keyword, measure
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec

STATE_WORDS = {"on": True, "off": False}
ONLINE_WORDS = {"online": True, "offline": False}
SET_SUFFIX = "/set"


class _State(msgspec.Struct):
    state: str | None = None
    power: float | None = None  # W
    energy: float | None = None  # kWh


class _Availability(msgspec.Struct):
    state: str


class _Order(msgspec.Struct):
    state: str


_state_decoder = msgspec.json.Decoder(_State)
_availability_decoder = msgspec.json.Decoder(_Availability)
_encoder = msgspec.json.Encoder()


def device_topic(device: DeviceSpec) -> str:
    """`<base>/<name>` from the command topic; ValueError if it is not `<base>/<name>/set`."""
    root = device.command_topic.removesuffix(SET_SUFFIX)
    if root == device.command_topic or "/" not in root or not all(root.split("/")):
        raise ValueError(
            f"command topic {device.command_topic!r} is not a Zigbee2MQTT <base>/<name>/set"
        )
    return root


def _lwt(device: DeviceSpec, root: str) -> str:
    return device.lwt_topic or f"{root}/availability"


class Zigbee2Mqtt:
    name = "zigbee2mqtt"

    def check(self, device: DeviceSpec) -> str | None:
        try:
            root = device_topic(device)
        except ValueError as exc:
            return str(exc)
        if device.control_topic != root:
            return f"control topic {device.control_topic!r} is not the device topic {root!r}"
        return None

    def subscriptions(self, device: DeviceSpec) -> tuple[str, ...]:
        root = device_topic(device)
        return tuple(dict.fromkeys([device.control_topic, root, _lwt(device, root)]))

    def decode(
        self, device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
    ) -> DeviceReport | None:
        root = device_topic(device)
        if topic == _lwt(device, root):
            return report(device, at, retained, online=_availability(payload))
        if topic == root:
            return _state_report(device, at, retained, decode_json(_state_decoder, payload))
        return None

    def encode(self, device: DeviceSpec, action: str, request_id: str) -> tuple[Outbound, ...]:
        if action not in ("ON", "OFF"):
            raise ValueError(f"Zigbee2MQTT device {device.id} cannot {action}")
        return (Outbound(device.command_topic, _encoder.encode(_Order(state=action))),)

    def refresh(self, device: DeviceSpec) -> tuple[Outbound, ...]:
        return (Outbound(f"{device_topic(device)}/get", _encoder.encode(_Order(state=""))),)


def _availability(payload: bytes) -> bool:
    if payload.lstrip()[:1] == b"{":
        state = decode_json(_availability_decoder, payload).state
        return keyword(state, ONLINE_WORDS, "availability")
    return word(payload, ONLINE_WORDS, "availability")


def _state_report(
    device: DeviceSpec, at: float, retained: bool, state: _State
) -> DeviceReport | None:
    relay = None
    if state.state is not None:
        relay = keyword(state.state, STATE_WORDS, "state")
    power = measure(state.power, "power")
    energy = measure(state.energy, "energy")
    energy_wh = energy * 1000.0 if energy is not None else None  # kWh -> Wh
    if relay is None and power is None and energy_wh is None:
        return None
    return report(device, at, retained, relay_on=relay, power_w=power, energy_wh=energy_wh)
