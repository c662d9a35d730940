"""Tasmota Teleinfo (Linky TIC) reader (database type 211), reference protocols.md §4.2.

Read-only: a TIC reader has no relay. The database row lists a command topic `cmnd/<t>/POWER`
(schema example `cmnd/B008/POWER`), which is meaningless and never used: `encode` always raises.
The Tasmota topic `<t>` (and an optional bridge prefix, `cofybox/cb001/tele/<t>/…`) comes from the
control topic `[<prefix>]tele/<t>/SENSOR`, else from the LWT `[<prefix>]tele/<t>/LWT`.

`tele/<t>/SENSOR` carries an `ENERGY` object and a `TIC` object with the meter's labels, both
modes: historic (`PAPP` VA, index `BASE`, or `HCHC` + `HCHP`, Wh) and standard (`SINSTS` VA,
index `EAST` Wh). In raw mode extra messages carry only `{"TIC":{…}}`, possibly just the labels
that changed (`{"TIC":{"PAPP":190}}`).

Decisions:
- the meter's own labels win over Tasmota's ENERGY copy of them: the index is the meter's, while
  `ENERGY.Total` is Tasmota's counter, which can differ (the reference example: Total 9098.245 kWh
  against HCHC + HCHP = 3196.310 kWh). `ENERGY.Total` is used only in a message whose TIC object
  has no index label at all, so that one meter never alternates between two energy sources;
- a partial historic index (only `HCHC`, or only `HCHP`, in a raw "changed" message) gives no
  energy: the sum cannot be made;
- `tele/<t>/STATE` (no relay here) is a sign of life, `online=True`, unless it is retained
  (a retained STATE is old news and could contradict a retained `Offline` LWT).
"""

from __future__ import annotations

import msgspec

from protocol.devices.base import Outbound, layout_problem, report, word
from protocol.devices.payloads import decode_json, measure
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec

ONLINE_WORDS = {"online": True, "offline": False}

Label = float | str | None  # Tasmota publishes numeric labels as numbers; accept digits as text


class _Labels(msgspec.Struct):
    PAPP: Label = None  # historic: apparent power, VA
    SINSTS: Label = None  # standard: apparent power, VA
    BASE: Label = None  # historic index, Wh (single tariff)
    HCHC: Label = None  # historic index, Wh (off-peak)
    HCHP: Label = None  # historic index, Wh (peak)
    EAST: Label = None  # standard: total energy withdrawn, Wh


class _Energy(msgspec.Struct):
    Power: float | list[float] | None = None
    Total: float | None = None


class _Sensor(msgspec.Struct):
    ENERGY: _Energy | None = None
    TIC: _Labels | None = None


_sensor_decoder = msgspec.json.Decoder(_Sensor)
_object_decoder = msgspec.json.Decoder(dict[str, object])


class TicTopics(msgspec.Struct, frozen=True):
    prefix: str  # "" or "cofybox/cb001/" (FullTopic `<prefix>%prefix%/%topic%/`)
    topic: str

    def of(self, level: str, leaf: str) -> str:
        return f"{self.prefix}{level}/{self.topic}/{leaf}"


def _layout(topic: str | None, leaves: tuple[str, ...]) -> TicTopics | None:
    if not topic:
        return None
    parts = topic.split("/")
    if len(parts) < 3 or parts[-3] != "tele" or parts[-1] not in leaves or not parts[-2]:
        return None
    suffix = f"tele/{parts[-2]}/{parts[-1]}"
    return TicTopics(prefix=topic[: len(topic) - len(suffix)], topic=parts[-2])


def topics_of(device: DeviceSpec) -> TicTopics:
    """The Tasmota layout of the control topic, else of the LWT; ValueError if neither has one."""
    found = _layout(device.control_topic, ("SENSOR", "STATE")) or _layout(
        device.lwt_topic, ("LWT",)
    )
    if found is None:
        raise ValueError(
            f"neither the control topic {device.control_topic!r} nor the LWT "
            f"{device.lwt_topic!r} is a Tasmota [<prefix>]tele/<topic>/SENSOR or …/LWT"
        )
    return found


def _lwt(device: DeviceSpec, t: TicTopics) -> str:
    return device.lwt_topic or t.of("tele", "LWT")


class Tic:
    name = "tic"

    def check(self, device: DeviceSpec) -> str | None:
        return layout_problem(topics_of, device)

    def subscriptions(self, device: DeviceSpec) -> tuple[str, ...]:
        t = topics_of(device)
        topics = [
            device.control_topic,
            t.of("tele", "SENSOR"),
            t.of("tele", "STATE"),
            _lwt(device, t),
        ]
        return tuple(dict.fromkeys(topics))

    def decode(
        self, device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
    ) -> DeviceReport | None:
        t = topics_of(device)
        if topic == _lwt(device, t):
            return report(device, at, retained, online=word(payload, ONLINE_WORDS, "LWT"))
        if topic == t.of("tele", "STATE"):
            decode_json(_object_decoder, payload)  # must be a JSON object, whatever it holds
            return None if retained else report(device, at, retained, online=True)
        if topic in (t.of("tele", "SENSOR"), device.control_topic):
            return _sensor_report(device, at, retained, decode_json(_sensor_decoder, payload))
        return None

    def encode(self, device: DeviceSpec, action: str, request_id: str) -> tuple[Outbound, ...]:
        raise ValueError(f"TIC reader {device.id} is read-only: it cannot {action}")

    def refresh(self, device: DeviceSpec) -> tuple[Outbound, ...]:
        # An empty TelePeriod makes Tasmota publish STATE and SENSOR at once.
        return (Outbound(topics_of(device).of("cmnd", "TelePeriod"), b""),)


def _sensor_report(
    device: DeviceSpec, at: float, retained: bool, sensor: _Sensor
) -> DeviceReport | None:
    labels = sensor.TIC or _Labels()
    energy = sensor.ENERGY or _Energy()
    # Apparent power (VA) reported as power_w: the meter measures no active power. Tasmota does
    # the same (its ENERGY.Power is PAPP / SINSTS); VA >= W, so thresholds stay on the safe side.
    power = measure(labels.SINSTS, "TIC SINSTS")
    if power is None:
        power = measure(labels.PAPP, "TIC PAPP")
    if power is None:
        power = _energy_power(energy.Power)
    index = _index_wh(labels)
    if index is None and not _has_index(labels):
        total = measure(energy.Total, "ENERGY.Total")
        index = total * 1000.0 if total is not None else None  # kWh -> Wh
    if power is None and index is None:
        return None
    return report(device, at, retained, power_w=power, energy_wh=index)


def _energy_power(power: float | list[float] | None) -> float | None:
    if isinstance(power, list):
        phases = [measure(p, "ENERGY.Power") for p in power]
        return sum(p for p in phases if p is not None) if phases else None
    return measure(power, "ENERGY.Power")


def _has_index(labels: _Labels) -> bool:
    return any(v is not None for v in (labels.EAST, labels.BASE, labels.HCHC, labels.HCHP))


def _index_wh(labels: _Labels) -> float | None:
    east = measure(labels.EAST, "TIC EAST")
    base = measure(labels.BASE, "TIC BASE")
    hchc = measure(labels.HCHC, "TIC HCHC")
    hchp = measure(labels.HCHP, "TIC HCHP")
    if east is not None:
        return east
    if base is not None:
        return base
    if hchc is not None and hchp is not None:
        return hchc + hchp
    return None
