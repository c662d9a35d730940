"""Simulated Zigbee plugs behind a Zigbee2MQTT 2.x bridge: protocols.md §7.

One simulator is one bridge (one MQTT client, base topic ``zigbee2mqtt``; a test may add a
prefix) with one or more plugs, each known by its friendly name (which may contain ``/``).

* Bridge: ``<base>/bridge/state`` = ``{"state":"online"}`` retained after connect, will
  ``{"state":"offline"}`` retained; ``<base>/bridge/info`` and ``<base>/bridge/devices``
  (retained) after connect.
* Per plug, subscribed: ``<base>/<name>/set`` takes JSON only, ``{"state":"ON"|"OFF"|"TOGGLE"}``
  (value case-insensitive; other keys ignored); ``<base>/<name>/set/state`` takes the plain
  word; ``<base>/<name>/get`` ``{"state":""}`` asks for the state. Each answer (also to an order
  that changes nothing: the plug confirms) is the state on ``<base>/<name>``:
  ``{"state":"ON","power":152.3,"energy":12.41,"voltage":230,"current":0.66,"linkquality":120}``
  (W, kWh, V, A), retained only with the plug's ``retain`` option (default no). The state is
  also published after connect (``cache_state_send_on_startup``), every ``report_period_s``
  and when the power moves by ``power_delta_w`` or more (the plug's reporting).
* Availability (``availability`` on, the default here): ``<base>/<name>/availability`` =
  ``{"state":"online"}`` / ``{"state":"offline"}``, retained, after connect and when a plug
  drops off or rejoins the mesh (:meth:`Zigbee2MqttCore.set_available`); an unavailable plug
  answers nothing. When the bridge itself dies only ``bridge/state`` changes: the plugs'
  retained availability stays ``online``, as on a real installation.
* ``legacy_availability``: the 1.x ``legacy_availability_payload`` format, plain ``online`` /
  ``offline`` for both the bridge state and the plugs' availability (removed in 2.0).
* QoS 0 publications (Z2M's per-device default), subscriptions QoS 1.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from simulators.appliance import Appliance
from simulators.core import Action, DeviceCore, Publish, Subscribe
from simulators.mqtt_device import Clock, SimulatedDevice

VERSION = "2.1.3"
LEGACY_VERSION = "1.42.0"
STATE_WORDS = {"on": "ON", "off": "OFF", "toggle": "TOGGLE"}


def _compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


@dataclass
class ZigbeePlug:
    """One plug of the bridge and the load behind it."""

    friendly_name: str
    appliance: Appliance = field(default_factory=lambda: Appliance("none"))
    state_on: bool = False
    retain: bool = False
    linkquality: int = 120
    voltage_v: float = 230.0
    available: bool = True

    @property
    def ieee_address(self) -> str:
        return "0x" + hashlib.sha256(self.friendly_name.encode()).hexdigest()[:16]


class Zigbee2MqttCore(DeviceCore):
    """Pure bridge logic: see the module docstring for what it reproduces."""

    def __init__(
        self,
        base: str,
        plugs: Sequence[ZigbeePlug | str],
        *,
        now: float,
        availability: bool = True,
        legacy_availability: bool = False,
        report_period_s: float = 60.0,
        power_delta_w: float = 10.0,
    ) -> None:
        base = base.rstrip("/")
        if not base or "+" in base or "#" in base:
            raise ValueError(f"invalid Zigbee2MQTT base topic {base!r}")
        if not plugs:
            raise ValueError("a bridge needs at least one plug")
        if not report_period_s >= 0:
            raise ValueError("report_period_s must be >= 0 (0 = no periodic report)")
        self.plugs: dict[str, ZigbeePlug] = {}
        for plug in plugs:
            plug = ZigbeePlug(plug) if isinstance(plug, str) else plug
            name = plug.friendly_name
            if (
                not name
                or name == "bridge"
                or any(c in name for c in "+#")
                or name != name.strip("/")
            ):
                raise ValueError(f"invalid friendly name {name!r}")
            if name in self.plugs:
                raise ValueError(f"friendly name {name!r} listed twice")
            self.plugs[name] = plug
        first = next(iter(self.plugs.values()))
        super().__init__(now=now, appliance=first.appliance)
        self.base = base
        self.availability = availability
        self.legacy_availability = legacy_availability
        self.report_period_s = float(report_period_s)
        self.power_delta_w = float(power_delta_w)
        self._energy_base_wh = {n: p.appliance.energy_wh(now) for n, p in self.plugs.items()}
        self._reported_w = {n: 0.0 for n in self.plugs}
        for plug in self.plugs.values():
            plug.appliance.set_powered(plug.state_on, now)
        self.relay_on = first.state_on
        self._next_report = math.inf

    # -- topics ----------------------------------------------------------------------------

    def device_topic(self, name: str, suffix: str = "") -> str:
        return f"{self.base}/{name}" + (f"/{suffix}" if suffix else "")

    def _routes(self) -> dict[str, tuple[str, str]]:
        """Subscribed topic -> (friendly name, what it is)."""
        routes: dict[str, tuple[str, str]] = {}
        for name in self.plugs:
            routes[self.device_topic(name, "set")] = (name, "set")
            routes[self.device_topic(name, "set/state")] = (name, "set/state")
            routes[self.device_topic(name, "get")] = (name, "get")
        return routes

    def is_relay_order(self, topic: str) -> bool:
        return self._routes().get(topic, ("", ""))[1] in ("set", "set/state")

    # -- payloads --------------------------------------------------------------------------

    def _availability_payload(self, online: bool) -> str:
        word = "online" if online else "offline"
        return word if self.legacy_availability else _compact({"state": word})

    def power_w(self, now: float) -> float:
        return self.plug_power_w(next(iter(self.plugs)), now)

    def plug_power_w(self, name: str, now: float) -> float:
        plug = self.plugs[name]
        return plug.appliance.power_w(now) if plug.state_on else 0.0

    def state_payload(self, name: str, now: float) -> str:
        plug = self.plugs[name]
        power = self.plug_power_w(name, now)
        energy_kwh = (plug.appliance.energy_wh(now) - self._energy_base_wh[name]) / 1000.0
        return _compact(
            {
                "state": "ON" if plug.state_on else "OFF",
                "power": round(power, 1),
                "energy": round(energy_kwh, 2),
                "voltage": round(plug.voltage_v),
                "current": round(power / plug.voltage_v, 2),
                "linkquality": plug.linkquality,
            }
        )

    def state(self, name: str, now: float) -> Publish:
        self._reported_w[name] = self.plug_power_w(name, now)
        plug = self.plugs[name]
        return Publish(self.device_topic(name), self.state_payload(name, now), retain=plug.retain)

    def availability_message(self, name: str) -> Publish:
        online = self.plugs[name].available
        return Publish(
            self.device_topic(name, "availability"), self._availability_payload(online), retain=True
        )

    def bridge_info(self) -> str:
        return _compact(
            {
                "version": LEGACY_VERSION if self.legacy_availability else VERSION,
                "coordinator": {"type": "zStack3x0", "ieee_address": "0x00124b0000000001"},
                "log_level": "info",
                "permit_join": False,
                "restart_required": False,
                "config": {
                    "mqtt": {"base_topic": self.base},
                    "availability": {"enabled": self.availability},
                },
            }
        )

    def bridge_devices(self) -> str:
        devices: list[dict[str, Any]] = [
            {
                "ieee_address": "0x00124b0000000001",
                "type": "Coordinator",
                "friendly_name": "Coordinator",
            }
        ]
        for plug in self.plugs.values():
            devices.append(
                {
                    "ieee_address": plug.ieee_address,
                    "type": "Router",
                    "friendly_name": plug.friendly_name,
                    "supported": True,
                    "disabled": False,
                    "interview_completed": True,
                    "power_source": "Mains (single phase)",
                    "definition": {
                        "model": "TS011F_plug_1",
                        "vendor": "Tuya",
                        "description": "Smart plug (with power monitoring)",
                    },
                }
            )
        return _compact(devices)

    # -- behaviour -------------------------------------------------------------------------

    def set_available(self, name: str, available: bool, now: float) -> list[Publish]:
        """The plug drops off the mesh (``False``) or rejoins it."""
        plug = self.plugs[name]
        plug.available = available
        out = [self.availability_message(name)] if self.availability else []
        if available:
            out.append(self.state(name, now))
        return out

    def _switch(self, name: str, on: bool, now: float) -> None:
        plug = self.plugs[name]
        plug.state_on = on
        plug.appliance.set_powered(on, now)
        if name == next(iter(self.plugs)):
            self.relay_on = on

    def will(self) -> Publish:
        return Publish(f"{self.base}/bridge/state", self._availability_payload(False), retain=True)

    def connect_sequence(self, now: float, *, initial: bool) -> list[Action]:
        self.connect_count += 1
        if self.report_period_s > 0:
            self._next_report = now + self.report_period_s
        actions: list[Action] = [
            Subscribe(tuple(self._routes()), qos=1),
            Publish(f"{self.base}/bridge/state", self._availability_payload(True), retain=True),
            Publish(f"{self.base}/bridge/info", self.bridge_info(), retain=True),
            Publish(f"{self.base}/bridge/devices", self.bridge_devices(), retain=True),
        ]
        for name, plug in self.plugs.items():
            if self.availability:
                actions.append(self.availability_message(name))
            if plug.available:
                actions.append(self.state(name, now))
        return actions

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        route = self._routes().get(topic)
        if route is None or self._take_drop():
            return []
        name, kind = route
        if not self.plugs[name].available:
            return []  # the bridge cannot reach the plug
        text = payload.decode("utf-8", errors="replace")
        if kind == "set/state":
            return self._order(name, text.strip(), now)
        try:
            body = json.loads(text)
        except ValueError:
            return []  # only JSON on /set and /get
        if not isinstance(body, dict) or "state" not in body:
            return []
        if kind == "get":
            return [self.state(name, now)]
        value = body["state"]
        return self._order(name, value if isinstance(value, str) else "", now)

    def _order(self, name: str, word: str, now: float) -> list[Publish]:
        order = STATE_WORDS.get(word.lower())
        if order is None or not self.respond_to_commands:
            return []
        on = (not self.plugs[name].state_on) if order == "TOGGLE" else order == "ON"
        self._switch(name, on, now)
        return [self.state(name, now)]

    def tick(self, now: float) -> list[Publish]:
        periodic = now >= self._next_report
        if periodic:
            self._next_report = now + self.report_period_s if self.report_period_s > 0 else math.inf
        out: list[Publish] = []
        for name, plug in self.plugs.items():
            if not plug.available:
                continue
            moved = abs(self.plug_power_w(name, now) - self._reported_w[name]) >= self.power_delta_w
            if periodic or moved:
                out.append(self.state(name, now))
        return out

    def next_due(self) -> float:
        return self._next_report

    def reboot(self, now: float) -> None:
        super().reboot(now)  # plugs keep their state: only the bridge restarts


class SimulatedZigbee2Mqtt(SimulatedDevice):
    """A Zigbee2MQTT bridge with its plugs on a real broker. See the module docstring;
    ``household["<friendly name>"]`` finds it, ``appliance_for("<friendly name>")`` gives
    that plug's appliance."""

    def __init__(
        self,
        plugs: Sequence[ZigbeePlug | str],
        *,
        base: str = "zigbee2mqtt",
        host: str = "127.0.0.1",
        port: int = 1883,
        availability: bool = True,
        legacy_availability: bool = False,
        report_period_s: float = 60.0,
        power_delta_w: float = 10.0,
        client_id: str | None = None,
        keepalive: int = 60,
        clock: Clock = time.time,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        core = Zigbee2MqttCore(
            base,
            plugs,
            now=clock(),
            availability=availability,
            legacy_availability=legacy_availability,
            report_period_s=report_period_s,
            power_delta_w=power_delta_w,
        )
        self.core: Zigbee2MqttCore = core
        super().__init__(
            core,
            host=host,
            port=port,
            client_id=client_id or f"zigbee2mqtt-{secrets.token_hex(4)}",
            keepalive=keepalive,
            name=f"zigbee2mqtt:{next(iter(core.plugs))}",
            clock=clock,
            username=username,
            password=password,
        )
        self.ids = tuple(core.plugs)

    @property
    def base(self) -> str:
        return self.core.base

    def device_topic(self, name: str, suffix: str = "") -> str:
        """E.g. ``bridge.device_topic("garage/washer", "set")``."""
        return self.core.device_topic(name, suffix)

    def appliance_for(self, ref: str, output: int | None = None) -> Appliance:
        if output is not None:
            raise ValueError(f"plug {ref!r} has a single output; 'output' must not be given")
        return self.core.plugs[ref].appliance

    def plug_on(self, name: str) -> bool:
        with self._lock:
            return self.core.plugs[name].state_on

    def plug_power_w(self, name: str) -> float:
        with self._lock:
            return self.core.plug_power_w(name, self._clock())

    def set_available(self, name: str, available: bool) -> None:
        """The plug drops off the Zigbee mesh (``False``) or rejoins it."""
        with self._lock:
            self._perform(self.core.set_available(name, available, self._clock()))
