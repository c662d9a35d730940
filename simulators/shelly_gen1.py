"""Simulated Shelly Plug S (Gen1 firmware), protocols.md §2 and §8.

``root`` is the device's topic root given in full, normally ``shellies/<mqtt_id>`` (e.g.
``shellies/shellyplug-s-A101``); a test may add a prefix (``t5f3/shellies/shellyplug-s-A101``).
The parent of ``root`` (``shellies``) carries the broadcast topics.

* Subscribes ``<root>/relay/0/command`` (``on`` / ``off`` / ``toggle``, exact lower-case words;
  anything else is ignored), ``<root>/command`` and the broadcast ``<parent>/command``
  (``update`` republishes the state, ``announce`` publishes the announce JSON on
  ``<parent>/announce`` and ``<root>/announce``; ``update_fw`` and the rest are ignored).
* On a relay change (order, button, overpower trip) publishes ``<root>/relay/0`` = ``on`` /
  ``off`` / ``overpower``, ``<root>/relay/0/power`` = W with two decimals (``42.17``) and
  ``<root>/relay/0/energy`` = integer watt-minutes since boot. An order that changes nothing
  publishes nothing (the next periodic report repeats the state).
* Every ``report_period_s`` (``mqtt_update_period``, 30 s) and on ``update``: the three relay
  topics plus ``temperature``, ``temperature_f``, ``overtemperature``.
* Above ``max_power_w`` (2500 W) the relay trips: ``relay/0`` = ``overpower`` and
  ``relay/0/overpower_value``; an ``on`` order clears it.
* Availability ``<root>/online``: ``true`` after connect, will ``false``. Both are published
  with ``online_retain`` (default False: the retain flag of the real device is unconfirmed,
  §2.2). State messages are retained only with ``mqtt_retain`` (:meth:`set_retained_state`).
* QoS ``mqtt_max_qos`` = 0 for subscriptions and publications, like the real default.
"""

from __future__ import annotations

import json
import math
import secrets
import time

from simulators.appliance import Appliance
from simulators.core import Action, PlugCore, Publish, Subscribe, fake_mac
from simulators.mqtt_device import Clock, SimulatedDevice

RELAY_ORDERS = frozenset({"on", "off", "toggle"})
FW_VERSION = "20230913-114008/v1.14.0-gcb84623"
MODEL = "SHPLG-S"


class ShellyGen1Core(PlugCore):
    """Pure Shelly Plug S logic: see the module docstring for what it reproduces."""

    def __init__(
        self,
        root: str,
        appliance: Appliance | None = None,
        *,
        now: float,
        relay_on: bool = False,
        report_period_s: float = 30.0,
        mqtt_retain: bool = False,
        online_retain: bool = False,
        qos: int = 0,
        max_power_w: float = 2500.0,
        ambient_c: float = 24.0,
    ) -> None:
        super().__init__(appliance, relay_on=relay_on, now=now)
        root = root.rstrip("/")
        if not root or "+" in root or "#" in root:
            raise ValueError(f"invalid Shelly topic root {root!r}")
        if not report_period_s >= 0:
            raise ValueError("report_period_s must be >= 0 (0 = no periodic report)")
        self.root = root
        self.device_id = root.rsplit("/", 1)[-1]
        self.parent = root.rsplit("/", 1)[0] if "/" in root else None
        self.report_period_s = float(report_period_s)
        self.retained_state = mqtt_retain
        self.online_retain = online_retain
        self.qos = qos
        self.max_power_w = max_power_w
        self.ambient_c = ambient_c
        self.mac = fake_mac(f"shelly/{self.device_id}")
        self.ip = f"192.168.1.{int(self.mac[-2:], 16) % 200 + 20}"
        self.overpower = False
        self._energy_base_wh = self.appliance.energy_wh(now)
        self._next_report = math.inf

    # -- topics ----------------------------------------------------------------------------

    @property
    def command_topic(self) -> str:
        return f"{self.root}/relay/0/command"

    def _device_command_topics(self) -> tuple[str, ...]:
        own = f"{self.root}/command"
        return (own, f"{self.parent}/command") if self.parent else (own,)

    def is_relay_order(self, topic: str) -> bool:
        return topic == self.command_topic

    # -- payloads ----------------------------------------------------------------------------

    def energy_wmin(self, now: float) -> int:
        """The ``relay/0/energy`` counter: watt-minutes since boot, truncated."""
        return int((self.appliance.energy_wh(now) - self._energy_base_wh) * 60.0)

    def _relay_word(self) -> str:
        if self.overpower:
            return "overpower"
        return "on" if self.relay_on else "off"

    def _pub(self, suffix: str, payload: str) -> Publish:
        return Publish(f"{self.root}/{suffix}", payload, retain=self.retained_state, qos=self.qos)

    def relay_report(self, now: float) -> list[Publish]:
        return [
            self._pub("relay/0", self._relay_word()),
            self._pub("relay/0/power", f"{self.power_w(now):.2f}"),
            self._pub("relay/0/energy", str(self.energy_wmin(now))),
        ]

    def full_report(self, now: float) -> list[Publish]:
        self._next_report = now + self.report_period_s if self.report_period_s > 0 else math.inf
        temperature = self.ambient_c + 0.004 * self.power_w(now)
        return [
            *self.relay_report(now),
            self._pub("temperature", f"{temperature:.2f}"),
            self._pub("temperature_f", f"{temperature * 9 / 5 + 32:.2f}"),
            self._pub("overtemperature", "0"),
        ]

    def announce(self) -> str:
        return json.dumps(
            {
                "id": self.device_id,
                "model": MODEL,
                "mac": self.mac,
                "ip": self.ip,
                "new_fw": False,
                "fw_ver": FW_VERSION,
            },
            separators=(",", ":"),
        )

    # -- behaviour ---------------------------------------------------------------------------

    def _set_relay(self, on: bool, now: float) -> list[Publish]:
        """Switch and report if anything visible changed (then check the overpower limit)."""
        before = self._relay_word()
        self.overpower = False  # any order or press clears an overpower trip
        self._switch(on, now)
        tripped = self._check_overpower(now)
        if self._relay_word() == before and not tripped:
            return []
        return [*self.relay_report(now), *tripped]

    def _check_overpower(self, now: float) -> list[Publish]:
        if not self.relay_on:
            return []
        power = self.appliance.power_w(now)
        if power <= self.max_power_w:
            return []
        self._switch(False, now)
        self.overpower = True
        return [self._pub("relay/0/overpower_value", f"{power:.2f}")]

    def will(self) -> Publish:
        return Publish(f"{self.root}/online", "false", retain=self.online_retain, qos=self.qos)

    def connect_sequence(self, now: float, *, initial: bool) -> list[Action]:
        self.connect_count += 1
        return [
            Subscribe((self.command_topic, *self._device_command_topics()), qos=self.qos),
            Publish(f"{self.root}/online", "true", retain=self.online_retain, qos=self.qos),
            *self.full_report(now),
        ]

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        is_order = topic == self.command_topic
        if not is_order and topic not in self._device_command_topics():
            return []
        if self._take_drop():
            return []
        text = payload.decode("utf-8", errors="replace")
        if is_order:
            if text not in RELAY_ORDERS or not self.respond_to_commands:
                return []
            target = (not self.relay_on) if text == "toggle" else text == "on"
            return self._set_relay(target, now)
        if text == "update":
            return self.full_report(now)
        if text == "announce":
            targets = [f"{self.parent}/announce"] if self.parent else []
            return [
                Publish(t, self.announce(), qos=self.qos)
                for t in (*targets, f"{self.root}/announce")
            ]
        return []

    def tick(self, now: float) -> list[Publish]:
        tripped = self._check_overpower(now)
        if tripped:
            return [*self.relay_report(now), *tripped]
        if now >= self._next_report:
            return self.full_report(now)
        return []

    def next_due(self) -> float:
        return self._next_report

    def press_button(self, now: float) -> list[Publish]:
        return self._set_relay(not self.relay_on, now)

    def set_retained_state(self, on: bool) -> list[Publish]:
        self.retained_state = on
        return []

    def reboot(self, now: float) -> None:
        super().reboot(now)
        self._energy_base_wh = self.appliance.energy_wh(now)  # the counter lives in RAM


class SimulatedShellyPlug(SimulatedDevice):
    """A Shelly Plug S (Gen1) on a real broker. See the module docstring."""

    def __init__(
        self,
        root: str,
        appliance: Appliance | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        report_period_s: float = 30.0,
        relay_on: bool = False,
        mqtt_retain: bool = False,
        online_retain: bool = False,
        qos: int = 0,
        max_power_w: float = 2500.0,
        client_id: str | None = None,
        keepalive: int = 60,
        clock: Clock = time.time,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        core = ShellyGen1Core(
            root,
            appliance,
            now=clock(),
            relay_on=relay_on,
            report_period_s=report_period_s,
            mqtt_retain=mqtt_retain,
            online_retain=online_retain,
            qos=qos,
            max_power_w=max_power_w,
        )
        self.core: ShellyGen1Core = core
        super().__init__(
            core,
            host=host,
            port=port,
            client_id=client_id or f"{core.device_id}-{secrets.token_hex(3)}",
            keepalive=keepalive,
            name=f"shelly:{core.device_id}",
            clock=clock,
            username=username,
            password=password,
        )

    @property
    def root(self) -> str:
        return self.core.root
