"""Tasmota plugs (Nous A1T, database type 112), reference protocols.md §4.

The database gives the command topic `[<prefix>/]cmnd/<t>/POWER`, the control topic (usually
`tele/<t>/STATE`) and the LWT `tele/<t>/LWT`. Tasmota also answers on `stat/<t>/RESULT`
(`{"POWER":"ON"}`) and `stat/<t>/POWER`, and reports energy on `tele/<t>/SENSOR`. The command
is acknowledged by the reported POWER, never by a word "success" (which Tasmota never sends).
"""

from __future__ import annotations

import msgspec

from protocol.devices.base import DecodeError, Outbound, layout_problem, report, word
from protocol.devices.payloads import decode_json
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec

POWER_WORDS = {"on": True, "off": False, "1": True, "0": False, "true": True, "false": False}
ONLINE_WORDS = {"online": True, "offline": False}


class _PowerFields(msgspec.Struct):
    POWER: str | None = None
    POWER1: str | None = None


class _Energy(msgspec.Struct):
    Power: float | list[float] | None = None
    Total: float | None = None


class _Sensor(msgspec.Struct):
    ENERGY: _Energy | None = None


_power_decoder = msgspec.json.Decoder(_PowerFields)
_sensor_decoder = msgspec.json.Decoder(_Sensor)


class TasmotaTopics(msgspec.Struct, frozen=True):
    prefix: str  # "" or "cofybox/cb001/" (FullTopic `<prefix>%prefix%/%topic%/`)
    topic: str
    power_command: str  # POWER or POWER1

    def of(self, level: str, leaf: str) -> str:
        return f"{self.prefix}{level}/{self.topic}/{leaf}"


def topics_of(device: DeviceSpec) -> TasmotaTopics:
    """Derive the Tasmota topic layout from the command topic; ValueError if it is not one."""
    parts = device.command_topic.split("/")
    if len(parts) >= 3 and parts[-3] == "cmnd" and parts[-1].upper() in ("POWER", "POWER1"):
        prefix = "/".join(parts[:-3])
        # Tasmota takes `cmnd/<t>/Power` too, but always answers on `stat/<t>/POWER`.
        return TasmotaTopics(
            prefix=f"{prefix}/" if prefix else "", topic=parts[-2], power_command=parts[-1].upper()
        )
    raise ValueError(
        f"command topic {device.command_topic!r} is not a Tasmota <prefix>cmnd/<topic>/POWER"
    )


class Tasmota:
    name = "tasmota"

    def check(self, device: DeviceSpec) -> str | None:
        return layout_problem(topics_of, device)

    def subscriptions(self, device: DeviceSpec) -> tuple[str, ...]:
        t = topics_of(device)
        topics = [
            t.of("stat", "RESULT"),
            t.of("stat", t.power_command),
            t.of("tele", "STATE"),
            t.of("tele", "SENSOR"),
            device.control_topic,
        ]
        if device.lwt_topic:
            topics.append(device.lwt_topic)
        return tuple(dict.fromkeys(topics))  # the control topic is usually tele/<t>/STATE already

    def decode(
        self, device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
    ) -> DeviceReport | None:
        t = topics_of(device)
        if topic == device.lwt_topic:
            return report(device, at, retained, online=word(payload, ONLINE_WORDS, "LWT"))
        if topic == t.of("stat", t.power_command):
            return report(device, at, retained, relay_on=word(payload, POWER_WORDS, "POWER"))
        if topic == t.of("tele", "SENSOR"):
            return _energy_report(
                device, at, retained, decode_json(_sensor_decoder, payload).ENERGY
            )
        if topic in (t.of("stat", "RESULT"), t.of("tele", "STATE"), device.control_topic):
            fields = decode_json(_power_decoder, payload)
            state = fields.POWER if fields.POWER is not None else fields.POWER1
            if state is None:
                return None  # a RESULT of another command, or a STATE without relay
            return report(device, at, retained, relay_on=word(state.encode(), POWER_WORDS, "POWER"))
        return None

    def encode(self, device: DeviceSpec, action: str, request_id: str) -> tuple[Outbound, ...]:
        if action not in ("ON", "OFF"):
            raise ValueError(f"Tasmota plug {device.id} cannot {action}")
        return (Outbound(device.command_topic, action.encode()),)

    def refresh(self, device: DeviceSpec) -> tuple[Outbound, ...]:
        # An empty POWER is a query (answered on stat/); an empty TelePeriod forces STATE + SENSOR.
        t = topics_of(device)
        return (Outbound(device.command_topic, b""), Outbound(t.of("cmnd", "TelePeriod"), b""))


def _energy_report(
    device: DeviceSpec, at: float, retained: bool, energy: _Energy | None
) -> DeviceReport | None:
    if energy is None:
        return None
    power = sum(energy.Power) if isinstance(energy.Power, list) else energy.Power
    if power is not None and power < 0:
        raise DecodeError(f"negative ENERGY.Power {power}")
    total_wh = energy.Total * 1000.0 if energy.Total is not None else None
    if power is None and total_wh is None:
        return None
    return report(device, at, retained, power_w=power, energy_wh=total_wh)
