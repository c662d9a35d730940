"""Shelly H&T Gen1, battery temperature and humidity sensor (database type 611), reference
protocols.md §2.3.

Database topics: control `shellies/<id>/sensor/temperature`, command "NULL" (none: the sensor is
never commanded, and it sleeps), LWT `shellies/<id>/online`. The device also publishes
`…/sensor/humidity` (%RH) and `…/sensor/battery` (%).

Decisions:
- temperatures outside -40..+80 °C (the sensor's range) are a DecodeError: a device set to °F
  publishing 70 passes unnoticed, one publishing 190 does not;
- the sensor sleeps about 6 h between wake-ups and its `online` flaps: `true` is a sign of life
  (`online=True`), `false` only says it went back to sleep and carries nothing (None). Whether it
  is silent is judged on the last report against its report period, never on this flag;
- nothing to refresh: a sleeping sensor hears nothing.
"""

from __future__ import annotations

from protocol.devices.base import Outbound, layout_problem, number, report, word
from protocol.devices.payloads import bounded, percent
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec

ONLINE_WORDS = {"true": True, "false": False}
TEMPERATURE_SUFFIX = "/sensor/temperature"
TEMPERATURE_RANGE_C = (-40.0, 80.0)


def root_of(device: DeviceSpec) -> str:
    """`shellies/<id>` from the control topic; ValueError if it is not `…/sensor/temperature`."""
    root = device.control_topic.removesuffix(TEMPERATURE_SUFFIX)
    if root == device.control_topic or not root:
        raise ValueError(
            f"control topic {device.control_topic!r} is not a Shelly H&T <root>/sensor/temperature"
        )
    return root


def _lwt(device: DeviceSpec, root: str) -> str:
    return device.lwt_topic or f"{root}/online"


class ShellyHT:
    name = "shelly_ht"

    def check(self, device: DeviceSpec) -> str | None:
        return layout_problem(root_of, device)

    def subscriptions(self, device: DeviceSpec) -> tuple[str, ...]:
        root = root_of(device)
        topics = [
            device.control_topic,
            f"{root}/sensor/humidity",
            f"{root}/sensor/battery",
            _lwt(device, root),
        ]
        return tuple(dict.fromkeys(topics))

    def decode(
        self, device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
    ) -> DeviceReport | None:
        root = root_of(device)
        if topic == _lwt(device, root):
            awake = word(payload, ONLINE_WORDS, "online")
            return report(device, at, retained, online=True) if awake else None
        if topic == device.control_topic:
            low, high = TEMPERATURE_RANGE_C
            temperature = bounded(number(payload), low, high, "temperature °C")
            return report(device, at, retained, temperature_c=temperature)
        if topic == f"{root}/sensor/humidity":
            humidity = bounded(number(payload), 0.0, 100.0, "humidity %")
            return report(device, at, retained, humidity=humidity)
        if topic == f"{root}/sensor/battery":
            return report(device, at, retained, battery=percent(number(payload), "battery %"))
        return None

    def encode(self, device: DeviceSpec, action: str, request_id: str) -> tuple[Outbound, ...]:
        raise ValueError(f"Shelly H&T sensor {device.id} is never commanded: it cannot {action}")

    def refresh(self, device: DeviceSpec) -> tuple[Outbound, ...]:
        return ()
