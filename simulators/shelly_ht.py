"""Simulated Shelly H&T (Gen1, battery), ELFE type 611: protocols.md §2.3 and §2.1.

``root`` is ``shellies/<mqtt_id>`` (ELFE uses a custom id, ``shellies/F002``); a test may add a
prefix. The device sleeps: it wakes every ``period_s`` (ELFE measured about 6 h), when the
temperature moved by ``temperature_threshold_c`` (or the humidity by
``humidity_threshold``) since the last report, or when its button is pressed; it then
connects (clean session), publishes, stays awake ``awake_s`` and goes back to sleep. While
asleep it has no connection: whatever is published to it is lost.

* On each wake: ``<root>/online`` = ``true``, then ``<root>/sensor/temperature`` (°C or °F,
  ``21.50``), ``humidity`` (%RH, ``55.0``), ``battery`` (%), ``ext_power`` (``true`` /
  ``false``), ``error`` (``0``) and ``act_reasons`` (``["poweron"]`` at boot, ``["periodic"]``,
  ``["sensor"]``, ``["button"]``). Retained only with ``mqtt_retain`` (default false, the
  Gen1 default); QoS 0.
* Awake, it answers ``update`` (republishes the sensors) and ``announce`` on ``<root>/command``
  and ``<parent>/command``, like the Gen1 plug.
* Will ``<root>/online`` = ``false``. Going to sleep, the device turns its radio off without a
  DISCONNECT (``sleep_mode="drop"``, the default), so the broker publishes the will and the
  ``online`` flag flaps at every wake, as protocols.md §2.3 describes; ``sleep_mode=
  "disconnect"`` sleeps with a clean DISCONNECT instead (no will). ``online_retain`` (default
  false: unconfirmed on the real device) sets the retain flag of both.
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
import socket
import threading
import time
from typing import Literal, Self

from simulators.core import Action, DeviceCore, Publish, Subscribe, fake_mac
from simulators.mqtt_device import Clock, SimulatedDevice

SleepMode = Literal["drop", "disconnect"]
MODEL = "SHHT-1"
FW_VERSION = "20230913-112531/v1.14.0-gcb84623"


class ShellyHTCore(DeviceCore):
    """Pure H&T logic: what a wake publishes and when the next wake is due."""

    def __init__(
        self,
        root: str,
        *,
        now: float,
        period_s: float = 21600.0,
        temperature_c: float = 21.5,
        humidity: float = 55.0,
        battery: int = 100,
        ext_power: bool = False,
        mqtt_retain: bool = False,
        online_retain: bool = False,
        temperature_unit: Literal["C", "F"] = "C",
        temperature_threshold_c: float = 1.0,
        humidity_threshold: float = 10.0,
    ) -> None:
        super().__init__(now=now)
        root = root.rstrip("/")
        if not root or "+" in root or "#" in root:
            raise ValueError(f"invalid Shelly topic root {root!r}")
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s!r}")
        if not 0 <= battery <= 100:
            raise ValueError(f"battery must be in 0..100, got {battery!r}")
        if temperature_unit not in ("C", "F"):
            raise ValueError("temperature_unit must be 'C' or 'F'")
        self.root = root
        self.device_id = root.rsplit("/", 1)[-1]
        self.parent = root.rsplit("/", 1)[0] if "/" in root else None
        self.period_s = float(period_s)
        self.temperature_c = float(temperature_c)
        self.humidity = float(humidity)
        self.battery = battery
        self.ext_power = ext_power
        self.retained_state = mqtt_retain
        self.online_retain = online_retain
        self.temperature_unit = temperature_unit
        self.temperature_threshold_c = float(temperature_threshold_c)
        self.humidity_threshold = float(humidity_threshold)
        self.mac = fake_mac(f"shellyht/{self.device_id}")
        self.wakes = 0
        self._reasons: list[str] = []
        self._next_wake = now + self.period_s
        self._reported: tuple[float, float] | None = None  # temperature, humidity last sent

    # -- the sensor ------------------------------------------------------------------------

    def set_temperature(self, celsius: float, now: float) -> None:
        """The room temperature changes; past the threshold the device will wake up."""
        self.temperature_c = float(celsius)
        self._check_thresholds()

    def set_humidity(self, percent: float, now: float) -> None:
        self.humidity = float(percent)
        self._check_thresholds()

    def _check_thresholds(self) -> None:
        if self._reported is None:
            return
        temperature, humidity = self._reported
        if (
            abs(self.temperature_c - temperature) >= self.temperature_threshold_c
            or abs(self.humidity - humidity) >= self.humidity_threshold
        ) and "sensor" not in self._reasons:
            self._reasons.append("sensor")

    def request_wake(self, reason: str) -> None:
        """Wake up as soon as possible (e.g. ``button``)."""
        if reason not in self._reasons:
            self._reasons.append(reason)

    def wake_reasons(self, now: float) -> list[str]:
        """Why the device should wake up now (empty: keep sleeping)."""
        reasons = list(self._reasons)
        if now >= self._next_wake and "periodic" not in reasons:
            reasons.append("periodic")
        return reasons

    # -- payloads --------------------------------------------------------------------------

    def _pub(self, suffix: str, payload: str) -> Publish:
        return Publish(f"{self.root}/{suffix}", payload, retain=self.retained_state)

    def sensors(self, reasons: list[str]) -> list[Publish]:
        self._reported = (self.temperature_c, self.humidity)
        temperature = (
            self.temperature_c if self.temperature_unit == "C" else self.temperature_c * 1.8 + 32
        )
        return [
            self._pub("sensor/temperature", f"{temperature:.2f}"),
            self._pub("sensor/humidity", f"{self.humidity:.1f}"),
            self._pub("sensor/battery", str(self.battery)),
            self._pub("sensor/ext_power", "true" if self.ext_power else "false"),
            self._pub("sensor/error", "0"),
            self._pub("sensor/act_reasons", json.dumps(reasons)),
        ]

    def announce(self) -> str:
        return json.dumps(
            {
                "id": self.device_id,
                "model": MODEL,
                "mac": self.mac,
                "ip": f"192.168.1.{int(self.mac[-2:], 16) % 200 + 20}",
                "new_fw": False,
                "fw_ver": FW_VERSION,
            },
            separators=(",", ":"),
        )

    # -- DeviceCore ------------------------------------------------------------------------

    def will(self) -> Publish:
        return Publish(f"{self.root}/online", "false", retain=self.online_retain)

    def _command_topics(self) -> tuple[str, ...]:
        own = f"{self.root}/command"
        return (own, f"{self.parent}/command") if self.parent else (own,)

    def connect_sequence(self, now: float, *, initial: bool) -> list[Action]:
        """One wake-up: the reasons pending (``poweron`` on the first one since boot)."""
        self.connect_count += 1
        self.wakes += 1
        reasons = ["poweron"] if initial else (self.wake_reasons(now) or ["periodic"])
        self._reasons.clear()
        self._next_wake = now + self.period_s
        return [
            Subscribe(self._command_topics()),
            Publish(f"{self.root}/online", "true", retain=self.online_retain),
            *self.sensors(reasons),
        ]

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        if topic not in self._command_topics() or self._take_drop():
            return []
        text = payload.decode("utf-8", errors="replace")
        if text == "update":
            return self.sensors(["periodic"])
        if text == "announce":
            targets = [f"{self.parent}/announce"] if self.parent else []
            return [Publish(t, self.announce()) for t in (*targets, f"{self.root}/announce")]
        return []

    def tick(self, now: float) -> list[Publish]:
        return []  # the shell wakes the device up; nothing is published while awake

    def next_due(self) -> float:
        """The next periodic wake-up (a pending reason wakes the device at once)."""
        return self._next_wake

    def is_relay_order(self, topic: str) -> bool:
        return False  # the H&T takes no orders

    def reboot(self, now: float) -> None:
        super().reboot(now)
        self._reasons.clear()
        self._reported = None


class SimulatedShellyHT(SimulatedDevice):
    """A Shelly H&T on a real broker, asleep between wake-ups. See the module docstring.

    :meth:`start` is the first wake-up (battery inserted); :meth:`go_offline` drops the link
    (an awake device's will is published) and wake-ups fail until :meth:`come_online`, which
    wakes the device at once.
    """

    def __init__(
        self,
        root: str,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        period_s: float = 21600.0,
        awake_s: float = 1.0,
        sleep_mode: SleepMode = "drop",
        temperature_c: float = 21.5,
        humidity: float = 55.0,
        battery: int = 100,
        ext_power: bool = False,
        mqtt_retain: bool = False,
        online_retain: bool = False,
        temperature_threshold_c: float = 1.0,
        client_id: str | None = None,
        keepalive: int = 60,
        clock: Clock = time.time,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        if sleep_mode not in ("drop", "disconnect"):
            raise ValueError("sleep_mode must be 'drop' or 'disconnect'")
        if not awake_s >= 0:
            raise ValueError(f"awake_s must be >= 0, got {awake_s!r}")
        core = ShellyHTCore(
            root,
            now=clock(),
            period_s=period_s,
            temperature_c=temperature_c,
            humidity=humidity,
            battery=battery,
            ext_power=ext_power,
            mqtt_retain=mqtt_retain,
            online_retain=online_retain,
            temperature_threshold_c=temperature_threshold_c,
        )
        self.core: ShellyHTCore = core
        self.awake_s = float(awake_s)
        self.sleep_mode: SleepMode = sleep_mode
        self._cycle = threading.Lock()  # one wake-up or sleep at a time
        self._sleep_at = math.inf
        self._link_ok = True
        super().__init__(
            core,
            host=host,
            port=port,
            client_id=client_id or f"{core.device_id}-{secrets.token_hex(3)}",
            keepalive=keepalive,
            name=f"shelly_ht:{core.device_id}",
            clock=clock,
            username=username,
            password=password,
        )

    @property
    def root(self) -> str:
        return self.core.root

    @property
    def awake(self) -> bool:
        return self.online

    # -- the household's side --------------------------------------------------------------

    def set_temperature(self, celsius: float) -> None:
        with self._lock:
            self.core.set_temperature(celsius, self._clock())

    def set_humidity(self, percent: float) -> None:
        with self._lock:
            self.core.set_humidity(percent, self._clock())

    def press_button(self) -> None:
        """Wake the device up now (``act_reasons`` = ``["button"]``) and wait until it is up."""
        with self._lock:
            self.core.request_wake("button")
        self.wake()

    def wake(self, timeout: float = 5.0) -> None:
        """Wake up now for what is pending (``periodic`` if nothing is), unless awake already."""
        with self._cycle:
            if self._client is not None or not self._link_ok:
                return
            self._connect(timeout)
            self._sleep_at = self._clock() + self.awake_s

    def sleep(self) -> None:
        """Go back to sleep now (what happens by itself ``awake_s`` after a wake-up)."""
        with self._cycle:
            self._go_to_sleep()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> Self:
        super().start(timeout)
        with self._lock:
            self._sleep_at = self._clock() + self.awake_s
        return self

    def reboot(self, timeout: float = 5.0) -> None:
        """Battery out and in: the link drops, then the device boots (``["poweron"]``)."""
        self.go_offline()
        with self._lock:
            self.core.reboot(self._clock())
            self._initial = True
        with self._cycle:
            self._link_ok = True
        self.wake(timeout)

    def go_offline(self) -> None:
        with self._cycle:
            self._link_ok = False
            super().go_offline()

    def come_online(self, timeout: float = 5.0) -> None:
        with self._cycle:
            self._link_ok = True
            with self._lock:
                self.core.link_up(self._clock())
        self.wake(timeout)

    def _go_to_sleep(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            self._online = False
            self._ready.clear()
            self._sleep_at = math.inf
        if client is None:
            return
        self.flush()
        if self.sleep_mode == "disconnect":
            client.disconnect()
            client.loop_stop()
            return
        client.loop_stop()
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _tick_loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                now = self._clock()
                asleep = self._client is None
                due_sleep = not asleep and now >= self._sleep_at
                due_wake = asleep and self._link_ok and bool(self.core.wake_reasons(now))
                wait = min(self._sleep_at, self.core.next_due()) - now
            if due_sleep:
                self.sleep()
            elif due_wake:
                with contextlib.suppress(OSError, TimeoutError):
                    self.wake()
            self._stopping.wait(min(max(wait, 0.005), 0.1))
