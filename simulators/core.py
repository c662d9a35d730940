"""Pure, broker-free part shared by the simulated plugs.

A *core* (:class:`DeviceCore`) decides what a device publishes in answer to what: it receives
messages and clock ticks as plain values (time is an argument) and returns the
:class:`Publish` / :class:`Subscribe` actions to perform, in order. The paho shell in
:mod:`simulators.mqtt_device` performs them. Cores hold the relays, the appliances behind them
and the fault-injection switches, so everything except the socket is unit-testable.
:class:`PlugCore` is the base of the one-relay plugs.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass

from simulators.appliance import Appliance


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: str
    retain: bool = False
    qos: int = 0


@dataclass(frozen=True, slots=True)
class Subscribe:
    topics: tuple[str, ...]
    qos: int = 0


Action = Publish | Subscribe


def fake_mac(seed: str) -> str:
    """A stable, locally administered MAC address (12 upper-case hex digits) for ``seed``."""
    digest = bytearray(hashlib.sha256(seed.encode()).digest()[:6])
    digest[0] = (digest[0] | 0x02) & 0xFE
    return digest.hex().upper()


class DeviceCore(ABC):
    """What every simulated device core has: fault injection, link counters, boot time.

    ``appliance`` and ``relay_on`` describe the load of the device's (first) output; devices
    without one keep ``Appliance("none")`` and ``False``.
    """

    def __init__(self, *, now: float, appliance: Appliance | None = None) -> None:
        self.appliance = appliance if appliance is not None else Appliance("none")
        self.relay_on = False
        self.respond_to_commands = True
        self._drop_remaining = 0
        self.retained_state = False
        self.boot_time = now
        self.connect_count = 0
        self.link_count = 1
        self.downtime_s = 0.0
        self._link_down_at: float | None = None

    # -- fault injection --------------------------------------------------------------------

    def drop_next_commands(self, n: int) -> None:
        """Lose the next ``n`` messages that arrive on command topics (no effect, no answer)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        self._drop_remaining = n

    def _take_drop(self) -> bool:
        if self._drop_remaining > 0:
            self._drop_remaining -= 1
            return True
        return False

    def power_w(self, now: float) -> float:
        """The power the device measures or draws at ``now`` (W); 0 without a load."""
        return 0.0

    # -- the device's behaviour, one method per stimulus ------------------------------------

    @abstractmethod
    def will(self) -> Publish | None:
        """The last-will message registered with CONNECT (None: the device sets none)."""

    @abstractmethod
    def connect_sequence(self, now: float, *, initial: bool) -> list[Action]:
        """What the device sends right after CONNACK (``initial``: first connection since boot)."""

    @abstractmethod
    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        """A message arrived on one of the subscribed topics."""

    @abstractmethod
    def tick(self, now: float) -> list[Publish]:
        """Time passed: periodic reports that are due (computed also while offline)."""

    @abstractmethod
    def next_due(self) -> float:
        """The instant at which :meth:`tick` next has something to do."""

    def press_button(self, now: float) -> list[Publish]:
        """The household presses the device's own button (default: the device has none)."""
        return []

    def set_retained_state(self, on: bool) -> list[Publish]:
        """Turn the device's retain option for state messages on/off."""
        self.retained_state = on
        return []

    def link_down(self, now: float) -> None:
        """The Wi-Fi link dropped (``go_offline``)."""
        if self._link_down_at is None:
            self._link_down_at = now

    def link_up(self, now: float) -> None:
        """The Wi-Fi link is back (``come_online``): one more link, downtime accumulated."""
        if self._link_down_at is not None:
            self.downtime_s += max(0.0, now - self._link_down_at)
            self._link_down_at = None
        self.link_count += 1

    def reboot(self, now: float) -> None:
        """The device restarts: counters that live in RAM reset."""
        self.boot_time = now
        self.connect_count = 0
        self.link_count = 1
        self.downtime_s = 0.0
        self._link_down_at = None

    @abstractmethod
    def is_relay_order(self, topic: str) -> bool:
        """True for the topic that carries orders (recorded in ``commands``)."""


class PlugCore(DeviceCore):
    """State shared by every simulated plug: relay, appliance, fault injection, boot time."""

    def __init__(self, appliance: Appliance | None, *, relay_on: bool, now: float) -> None:
        super().__init__(now=now, appliance=appliance)
        self.relay_on = relay_on
        self.appliance.set_powered(relay_on, now)

    # -- relay and metering -----------------------------------------------------------------

    def _switch(self, on: bool, now: float) -> None:
        self.relay_on = on
        self.appliance.set_powered(on, now)

    def power_w(self, now: float) -> float:
        return self.appliance.power_w(now) if self.relay_on else 0.0

    @abstractmethod
    def will(self) -> Publish:
        """The last-will message registered with CONNECT."""

    @abstractmethod
    def press_button(self, now: float) -> list[Publish]:
        """The household toggles the relay with the button on the plug."""

    @abstractmethod
    def set_retained_state(self, on: bool) -> list[Publish]:
        """Turn the device's retain option for state messages on/off."""
