"""Device codecs, one module per device family; which codec drives a device type is data
(`protocol.config.DEFAULT_CODECS`, overridable in the `[devices.codecs]` table)."""

from __future__ import annotations

from protocol.devices.base import Codec, DecodeError, Outbound
from protocol.devices.openhasp import OpenHasp
from protocol.devices.shelly_gen1 import ShellyGen1
from protocol.devices.shelly_gen2 import ShellyGen2
from protocol.devices.shelly_ht import ShellyHT
from protocol.devices.socorel import Socorel
from protocol.devices.switchbot import SwitchBot
from protocol.devices.tasmota import Tasmota
from protocol.devices.tic import Tic
from protocol.devices.zigbee2mqtt import Zigbee2Mqtt
from protocol.messages import DeviceReport
from protocol.model import DeviceSpec

CODECS: dict[str, Codec] = {
    codec.name: codec
    for codec in (
        ShellyGen1(),
        Tasmota(),
        Tic(),
        SwitchBot(),
        ShellyGen2(),
        ShellyHT(),
        OpenHasp(),
        Socorel(),
        Zigbee2Mqtt(),  # no default device type: mapped in [devices.codecs] by an installation
    )
}


def codec_named(name: str) -> Codec:
    """The codec of that name; KeyError for an unknown one (checked when the inventory is built)."""
    return CODECS[name]


__all__ = ["CODECS", "Codec", "DecodeError", "Outbound", "codec_named"]


def decode(
    device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
) -> tuple[DeviceReport | None, str | None]:
    """The report a message carries (None: nothing useful), or why it is rejected; a codec bug
    is rejected the same way, with the exception's name."""
    try:
        return codec_named(device.codec).decode(device, topic, payload, retained, at), None
    except DecodeError as exc:
        return None, f"device {device.id}: {exc}"
    except Exception as exc:
        return None, f"device {device.id}: {type(exc).__name__}: {exc}"
