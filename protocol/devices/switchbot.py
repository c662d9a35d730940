"""SwitchBot Bot behind the devWaves BLE gateway "mqtt2ble v7" (database type 311), reference
protocols.md §5.

Database topics: command `<base>/bot/<name>/set` (`<base>` = `switchbot/<host>`), control either
`<base>/bot/<name>/status` (the documentation annex) or `<base>/bot/<name>/attributes` (the schema
comment), LWT `<base>/lastwill`. Whichever control topic the row names, both `status` and
`attributes` of that bot are heard.

- `status` answers a command, without a request id: `success` -> an accepted `CommandReply`
  naming the command; `failed`, `lowbattery`, `errorConnect`, `errorCommand` -> a refused one;
  `connected`, `commandSent`, `busy` are progress (the gateway retries by itself) and carry
  nothing. Success can come well after 5 s (BLE connect retries, busy retries).
- `attributes` gives the battery. Its `state` is never a relay state: a press-mode bot always
  says `OFF`.
- `lastwill` is the gateway's availability, not the (battery, sleeping) bot's.

A finger only presses: "PRESS" is the one action, published at QoS 0 and never retained, since a
QoS 1 redelivery would press twice (start, then cancel, an appliance programme).
"""

from __future__ import annotations

import msgspec

from protocol.devices.base import DecodeError, Outbound, report, word
from protocol.devices.payloads import decode_json, measure, percent
from protocol.messages import CommandReply, DeviceReport
from protocol.model import DeviceSpec

ONLINE_WORDS = {"online": True, "offline": False}
SUCCESS = "success"
FAILURES = frozenset({"failed", "lowbattery", "errorConnect", "errorCommand"})
PROGRESS = frozenset({"connected", "commandSent", "busy"})


class _Status(msgspec.Struct):
    status: str
    command: str | None = None


class _Attributes(msgspec.Struct):
    batt: float | None = None


_status_decoder = msgspec.json.Decoder(_Status)
_attributes_decoder = msgspec.json.Decoder(_Attributes)


class BotTopics(msgspec.Struct, frozen=True):
    base: str  # switchbot/<host>
    name: str  # the bot's name in the gateway's allBots map

    def bot(self, leaf: str) -> str:
        return f"{self.base}/bot/{self.name}/{leaf}"

    def gateway(self, leaf: str) -> str:
        return f"{self.base}/{leaf}"


def topics_of(device: DeviceSpec) -> BotTopics:
    """The gateway base and bot name of the command topic; ValueError if it is not one."""
    parts = device.command_topic.split("/")
    if len(parts) >= 4 and parts[-1] == "set" and parts[-3] == "bot" and parts[-2]:
        name = parts[-2]
        base = device.command_topic[: -len(f"/bot/{name}/set")]
        if base:
            return BotTopics(base=base, name=name)
    raise ValueError(
        f"command topic {device.command_topic!r} is not a SwitchBot gateway <base>/bot/<name>/set"
    )


def _lwt(device: DeviceSpec, t: BotTopics) -> str:
    return device.lwt_topic or t.gateway("lastwill")


class SwitchBot:
    name = "switchbot"

    def check(self, device: DeviceSpec) -> str | None:
        try:
            t = topics_of(device)
        except ValueError as exc:
            return str(exc)
        if device.control_topic not in (t.bot("status"), t.bot("attributes")):
            return (
                f"control topic {device.control_topic!r} is neither {t.bot('status')!r} "
                f"nor {t.bot('attributes')!r}"
            )
        return None

    def subscriptions(self, device: DeviceSpec) -> tuple[str, ...]:
        t = topics_of(device)
        topics = [t.bot("status"), t.bot("attributes"), device.control_topic, _lwt(device, t)]
        return tuple(dict.fromkeys(topics))

    def decode(
        self, device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
    ) -> DeviceReport | None:
        t = topics_of(device)
        if topic == _lwt(device, t):
            return report(device, at, retained, online=word(payload, ONLINE_WORDS, "lastwill"))
        if topic == t.bot("status"):
            status = decode_json(_status_decoder, payload)
            if status.status == SUCCESS:
                reply = CommandReply(None, True, SUCCESS, status.command)
            elif status.status in FAILURES:
                reply = CommandReply(None, False, status.status, status.command)
            elif status.status in PROGRESS:
                return None
            else:
                raise DecodeError(f"unknown gateway status {status.status[:32]!r}")
            return report(device, at, retained, reply=reply)
        if topic == t.bot("attributes"):
            batt = measure(decode_json(_attributes_decoder, payload).batt, "batt")
            if batt is None:
                return None
            return report(device, at, retained, battery=percent(batt, "batt"))
        return None

    def encode(self, device: DeviceSpec, action: str, request_id: str) -> tuple[Outbound, ...]:
        if action != "PRESS":
            raise ValueError(f"SwitchBot finger {device.id} can only PRESS, not {action}")
        # QoS 0: at most once. A press is not idempotent; a redelivered one presses again.
        return (Outbound(device.command_topic, b"PRESS", qos=0),)

    def refresh(self, device: DeviceSpec) -> tuple[Outbound, ...]:
        t = topics_of(device)
        body = msgspec.json.encode({"id": t.name})
        return (Outbound(t.gateway("requestInfo"), body, qos=0),)
