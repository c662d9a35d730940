"""Shelly Plus 1PM, Gen2 JSON-RPC over MQTT (database type 411), reference protocols.md §3.

Two database conventions exist (coordination-db.md §4.13, protocols.md §3.3); both work:

(a) the documentation annex, which the 2023 program used: command `<prefix>/rpc` (`D003/rpc`),
    control `controle/D003`, which is no topic but the RPC `src`: replies come on `<src>/rpc`;
(b) the DDL comment (and schema v7): control `<prefix>/status/switch:0`, command
    `<prefix>/events/rpc` (v6.3 comment; requests must go to `<prefix>/rpc`) or `<prefix>/rpc`
    (v7). The `src` is then `elfe-supervisor/<device id>`.

Heard: `<src>/rpc` (replies), `<prefix>/status/switch:0` (full status, when `status_ntf` is on),
`<prefix>/events/rpc` (`NotifyStatus` / `NotifyFullStatus`, when `rpc_ntf` is on) and the
availability `<prefix>/online` (`true`/`false`), or the database LWT when the row names one.

A command is `Switch.Set` with the request id as RPC `id`; the reply with that id is its answer
(`result` accepted, `error` refused). Refresh is `Switch.GetStatus` with the id
`refresh-<device id>`, whose reply `result` is a switch status decoded like the others.

The auto-on timer: the ELFE annex configures `auto_on` with `auto_on_delay 1800`, so a relay
switched OFF turns itself back ON 30 minutes later. Nothing in this codec can prevent it; the
typology re-asserts OFF at every slot boundary (15 min) and on any report that contradicts it.
"""

from __future__ import annotations

import msgspec

from protocol.devices.base import DecodeError, Outbound, layout_problem, report, word
from protocol.devices.payloads import decode_json, measure
from protocol.messages import CommandReply, DeviceReport
from protocol.model import DeviceSpec

ONLINE_WORDS = {"true": True, "false": False}
REFRESH_PREFIX = "refresh-"  # request ids of Switch.GetStatus: replies are status, not answers
SRC_PREFIX = "elfe-supervisor"  # convention (b): RPC src `elfe-supervisor/<device id>`
NO_LWT = frozenset({"", "aucun", "NULL"})
NOTIFY_METHODS = frozenset({"NotifyStatus", "NotifyFullStatus"})
MQTT_SPECIAL = ("+", "#", "\x00")


class _Energy(msgspec.Struct):
    total: float | None = None  # Wh


class _SwitchStatus(msgspec.Struct):
    output: bool | None = None
    apower: float | None = None  # W
    aenergy: _Energy | None = None


class _NotifyParams(msgspec.Struct):
    switch0: _SwitchStatus | None = msgspec.field(default=None, name="switch:0")


class _Notification(msgspec.Struct):
    method: str | None = None
    params: _NotifyParams | None = None


class _RpcError(msgspec.Struct):
    code: int | None = None
    message: str | None = None


class _Reply(msgspec.Struct):
    id: str | int | None = None
    result: msgspec.Raw = msgspec.Raw(b"")
    error: _RpcError | None = None


class _Params(msgspec.Struct, omit_defaults=True):
    id: int
    on: bool | None = None


class _Request(msgspec.Struct):
    id: str
    src: str
    method: str
    params: _Params


_status_decoder = msgspec.json.Decoder(_SwitchStatus)
_notification_decoder = msgspec.json.Decoder(_Notification)
_reply_decoder = msgspec.json.Decoder(_Reply)
_encoder = msgspec.json.Encoder()


class Gen2Topics(msgspec.Struct, frozen=True):
    prefix: str  # MQTT topic_prefix, e.g. D003
    src: str  # RPC src: replies arrive on `<src>/rpc`
    lwt: str

    @property
    def rpc(self) -> str:
        return f"{self.prefix}/rpc"

    @property
    def replies(self) -> str:
        return f"{self.src}/rpc"

    @property
    def status(self) -> str:
        return f"{self.prefix}/status/switch:0"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events/rpc"


def topics_of(device: DeviceSpec) -> Gen2Topics:
    """The RPC layout of this row, either convention; ValueError naming what does not fit."""
    command = device.command_topic
    if command.endswith("/events/rpc"):
        prefix = command.removesuffix("/events/rpc")
    elif command.endswith("/rpc"):
        prefix = command.removesuffix("/rpc")
    else:
        prefix = ""
    if not prefix:
        raise ValueError(f"command topic {command!r} is not a Shelly Gen2 <prefix>/rpc")
    status = f"{prefix}/status/switch:0"
    control = device.control_topic
    if control == status:  # convention (b)
        if not device.id or any(c in device.id for c in MQTT_SPECIAL):
            raise ValueError(f"device id {device.id!r} cannot name an RPC src topic")
        src = f"{SRC_PREFIX}/{device.id}"
    elif control.endswith("/status/switch:0"):
        raise ValueError(
            f"control topic {control!r} is the status of another prefix than {prefix!r}"
        )
    elif control in (prefix, f"{prefix}/events") or not control:
        # replies on `<src>/rpc` would land on the request or the notification topic
        raise ValueError(f"control topic {control!r} cannot be the RPC src of prefix {prefix!r}")
    else:  # convention (a): the control topic is the src
        src = control
    lwt = device.lwt_topic if device.lwt_topic not in (None, *NO_LWT) else None
    return Gen2Topics(prefix=prefix, src=src, lwt=lwt or f"{prefix}/online")


def _request(t: Gen2Topics, request_id: str, method: str, on: bool | None) -> Outbound:
    body = _Request(id=request_id, src=t.src, method=method, params=_Params(id=0, on=on))
    return Outbound(t.rpc, _encoder.encode(body), qos=1)


class ShellyGen2:
    name = "shelly_gen2"

    def check(self, device: DeviceSpec) -> str | None:
        return layout_problem(topics_of, device)

    def subscriptions(self, device: DeviceSpec) -> tuple[str, ...]:
        t = topics_of(device)
        return tuple(dict.fromkeys([t.replies, t.status, t.events, t.lwt]))

    def decode(
        self, device: DeviceSpec, topic: str, payload: bytes, retained: bool, at: float
    ) -> DeviceReport | None:
        t = topics_of(device)
        if topic == t.lwt:
            return report(device, at, retained, online=word(payload, ONLINE_WORDS, "online"))
        if topic == t.replies:
            return _reply_report(device, at, retained, decode_json(_reply_decoder, payload))
        if topic == t.status:
            return _status_report(device, at, retained, decode_json(_status_decoder, payload))
        if topic == t.events:
            notification = decode_json(_notification_decoder, payload)
            if notification.method not in NOTIFY_METHODS or notification.params is None:
                return None  # NotifyEvent (button pushes...), other notifications
            switch = notification.params.switch0
            return None if switch is None else _status_report(device, at, retained, switch)
        return None

    def encode(self, device: DeviceSpec, action: str, request_id: str) -> tuple[Outbound, ...]:
        if action not in ("ON", "OFF"):
            raise ValueError(f"Shelly Gen2 relay {device.id} cannot {action}")
        return (_request(topics_of(device), request_id, "Switch.Set", action == "ON"),)

    def refresh(self, device: DeviceSpec) -> tuple[Outbound, ...]:
        request_id = f"{REFRESH_PREFIX}{device.id}"
        return (_request(topics_of(device), request_id, "Switch.GetStatus", None),)


def _status_report(
    device: DeviceSpec, at: float, retained: bool, status: _SwitchStatus
) -> DeviceReport | None:
    power = measure(status.apower, "apower")
    energy = measure(status.aenergy.total if status.aenergy else None, "aenergy.total")
    if status.output is None and power is None and energy is None:
        return None
    return report(device, at, retained, relay_on=status.output, power_w=power, energy_wh=energy)


def _reply_report(
    device: DeviceSpec, at: float, retained: bool, reply: _Reply
) -> DeviceReport | None:
    if reply.id is None:
        raise DecodeError("RPC reply without id")
    request_id = str(reply.id)
    has_result = len(reply.result) > 0
    if reply.error is None and not has_result:
        raise DecodeError(f"RPC reply {request_id[:32]!r} has neither result nor error")
    if request_id.startswith(REFRESH_PREFIX):
        if reply.error is not None:
            raise DecodeError(f"Switch.GetStatus refused: {_error_text(reply.error)}")
        status = decode_json(_status_decoder, bytes(reply.result))
        return _status_report(device, at, retained, status)
    if reply.error is not None:
        detail = _error_text(reply.error)
        return report(device, at, retained, reply=CommandReply(request_id, False, detail))
    detail = bytes(reply.result).decode("utf-8", "replace")[:100]
    return report(device, at, retained, reply=CommandReply(request_id, True, detail))


def _error_text(error: _RpcError) -> str:
    code = "" if error.code is None else str(error.code)
    return f"{code} {error.message or ''}".strip()[:200] or "error"
