"""Simulated Nous A1T plug running Tasmota (13.x), protocols.md §4 and §8.

Behaviour reproduced from the Tasmota firmware (``support_command.ino`` ``CommandHandler`` /
``CmndPower``, ``xdrv_02_9_mqtt.ino`` ``MqttConnected`` / ``MqttPublishPowerState``):

* Topics follow ``FullTopic`` (default ``%prefix%/%topic%/``; tokens ``%prefix%``, ``%topic%``,
  ``%hostname%``, ``%id%``). The device subscribes ``cmnd/<t>/#``, the group topic
  ``cmnd/tasmotas/#`` and the fallback topic ``cmnd/DVES_XXXXXX_fb/#`` at QoS 0.
* On every connection: ``tele/<t>/LWT`` = ``Online`` (retained), then an empty
  ``cmnd/<t>/POWER`` (Tasmota does this "to satisfy iobroker"; it is sent before the
  subscription, so the device does not answer itself), then the subscriptions. On the first
  connection after boot also ``tele/<t>/INFO1..3`` and the power state, and the first
  telemetry comes 5 s later (or after ``tele_period_s`` if shorter).
* Will: ``tele/<t>/LWT`` = ``Offline``, QoS 1, retained.
* ``POWER`` payloads are parsed like ``CommandHandler``: leading blanks skipped, ``?`` is a
  query, a C ``strtol`` number (``0x``/octal too) or a state word (``on``/``off``/``true``/
  ``false``/``toggle``/``blink``/``blinkoff``… case-insensitive). 0/1/2 switch, 3/4 start/stop
  blinking, **anything else shows the state**: an invalid payload is answered like a query
  (``{"POWER":"ON"}``), not with an error. ``{"Command":"Error"}`` is what ``POWER2``..``POWERn``
  get on this one-relay plug, and ``{"Command":"Unknown"}`` an unknown command.
* Every POWER order or query, even one that changes nothing, and every button press publishes
  ``stat/<t>/RESULT`` = ``{"POWER":"ON"}`` then ``stat/<t>/POWER`` = ``ON`` (retained only with
  ``PowerRetain``).
* ``TelePeriod`` (any payload) answers ``{"TelePeriod":N}`` and sends STATE + SENSOR at once.
  ``PowerRetain`` and ``State`` are implemented too; other real Tasmota commands are answered
  ``{"Command":"Unknown"}`` by this simulator.
* Blinking is acknowledged (``{"POWER":"BLINK ON"}``) but the simulated relay does not blink.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from datetime import date, datetime, tzinfo
from enum import Enum

from simulators.appliance import Appliance
from simulators.core import Action, PlugCore, Publish, Subscribe, fake_mac
from simulators.mqtt_device import Clock, SimulatedDevice

DEFAULT_FULL_TOPIC = "%prefix%/%topic%/"
PREFIXES = ("cmnd", "stat", "tele")
TASMOTA_VERSION = "13.4.0(release-tasmota)"
TELE_PERIOD_DEFAULT_S = 300  # what "TelePeriod 1" restores

# GetStateNumber(): kOptions (English build), matched case-insensitively on the whole payload.
_STATE_WORDS: dict[str, int] = {
    **dict.fromkeys(("off", "false", "stop", "celsius", "down", "close"), 0),
    **dict.fromkeys(("on", "true", "start", "fahrenheit", "user"), 1),
    **dict.fromkeys(("toggle", "admin"), 2),
    "blink": 3,
    "blinkoff": 4,
    **dict.fromkeys(("up", "open"), 100),
    "all": 255,
}
_NO_PAYLOAD = -99
_INT32_MAX = 2**31 - 1


class PowerOp(Enum):
    OFF = 0
    ON = 1
    TOGGLE = 2
    BLINK = 3
    BLINK_OFF = 4
    SHOW_STATE = 9


def _strtol(text: str) -> int | None:
    """C ``strtol(text, &end, 0)`` on a string without leading blanks; None if nothing parsed."""
    i, sign = 0, 1
    if i < len(text) and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    hex_digits, oct_digits = "0123456789abcdefABCDEF", "01234567"
    if text[i : i + 2] in ("0x", "0X") and text[i + 2 : i + 3] and text[i + 2] in hex_digits:
        base, digits, i = 16, hex_digits, i + 2
    elif text[i : i + 1] == "0":
        base, digits = 8, oct_digits
    else:
        base, digits = 10, "0123456789"
    start = i
    while i < len(text) and text[i] in digits:
        i += 1
    if i == start:
        return None
    value = sign * int(text[start:i], base)
    return max(-_INT32_MAX - 1, min(_INT32_MAX, value))


def payload_number(data: str) -> int:
    """``XdrvMailbox.payload`` as Tasmota computes it: a state word wins over a number.

    -99 means "no number" (empty payload, ``?``, or text that is neither a number nor a word).
    """
    data = data.lstrip()
    number = _strtol(data)
    value = _NO_PAYLOAD if number is None else number
    word = _STATE_WORDS.get(data.lower())
    return word if word is not None else value


def parse_power_payload(data: str, *, index: int = 1) -> PowerOp:
    """What ``POWER<index> <data>`` does on a one-relay device (``CmndPower``)."""
    number = payload_number(data)
    highest = PowerOp.TOGGLE.value if index == 0 else PowerOp.BLINK_OFF.value
    if 0 <= number <= highest:
        return PowerOp(number)
    return PowerOp.SHOW_STATE


def split_command(name: str) -> tuple[str, int, bool]:
    """``"Power2"`` → ``("POWER", 2, True)``; ``"POWER"`` → ``("POWER", 1, False)``."""
    upper = name.upper()
    stem = upper.rstrip("0123456789")
    if stem != upper:
        return stem, int(upper[len(stem) :]), True
    return upper, 1, False


def render_full_topic(
    full_topic: str, prefix: str, topic: str, *, hostname: str = "", mac: str = ""
) -> str:
    """The topic root for ``prefix`` (``cmnd``/``stat``/``tele``), always ending in ``/``."""
    template = full_topic
    if prefix == PREFIXES[0] and "%prefix%" not in template:
        template = template.rstrip("/") + "/%prefix%"  # Tasmota forces a prefix on commands
    rendered = (
        template.replace("%prefix%", prefix)
        .replace("%topic%", topic)
        .replace("%hostname%", hostname)
        .replace("%id%", mac)
        .replace("#", "")
    )
    while "//" in rendered:
        rendered = rendered.replace("//", "/")
    return rendered if rendered.endswith("/") else rendered + "/"


def _dhms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 86400}T{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


class TasmotaCore(PlugCore):
    """Pure Tasmota plug logic: see the module docstring for what it reproduces."""

    relays = 1  # Tasmota's devices_present

    def __init__(
        self,
        topic: str,
        appliance: Appliance | None = None,
        *,
        now: float,
        full_topic: str = DEFAULT_FULL_TOPIC,
        tele_period_s: float = 30.0,
        relay_on: bool = False,
        group_topic: str | None = "tasmotas",
        power_retain: bool = False,
        voltage_v: float = 231.0,
        power_factor: float = 0.99,
        initial_total_kwh: float = 0.0,
        tz: tzinfo | None = None,
        module: str = "Nous A1T",
        ssid: str = "elfe",
    ) -> None:
        super().__init__(appliance, relay_on=relay_on, now=now)
        if not tele_period_s >= 0:
            raise ValueError("tele_period_s must be >= 0 (0 = no telemetry)")
        if not 0.0 < power_factor <= 1.0:
            raise ValueError("power_factor must be in (0, 1]")
        self.topic = topic
        self.full_topic = full_topic
        self.tele_period_s = float(tele_period_s)
        self.retained_state = power_retain
        self.voltage_v = voltage_v
        self.power_factor = power_factor
        self.tz = tz
        self.module = module
        self.ssid = ssid
        self.mac = fake_mac(f"tasmota/{topic}")
        self.hostname = f"tasmota-{self.mac[-6:]}-{int(self.mac[-4:], 16) % 10000:04d}"
        self.fallback_topic = f"DVES_{self.mac[-6:]}_fb"
        self.group_topic = group_topic
        self.boot_count = 1
        self.blinking = False
        self._next_tele = math.inf
        self._base_wh = self.appliance.energy_wh(now)
        self._initial_total_wh = initial_total_kwh * 1000.0
        self.total_start_time = self._local_time(now)
        self._day = self._local_date(now)
        self._today_start_wh = self._total_wh(now)
        self._yesterday_wh = 0.0
        self._period_start_wh = self._total_wh(now)

    # -- topics ----------------------------------------------------------------------------

    def _root(self, prefix: str, topic: str | None = None) -> str:
        return render_full_topic(
            self.full_topic,
            prefix,
            self.topic if topic is None else topic,
            hostname=self.hostname,
            mac=self.mac,
        )

    def topic_for(self, prefix: str, command: str) -> str:
        """E.g. ``topic_for("stat", "POWER")`` → ``stat/A102/POWER``."""
        return self._root(prefix) + command

    def _command_roots(self) -> list[str]:
        roots = [self._root("cmnd")]
        if self.group_topic:
            roots.append(self._root("cmnd", self.group_topic))
        roots.append(self._root("cmnd", self.fallback_topic))
        return roots

    def is_relay_order(self, topic: str) -> bool:
        """``POWER``, ``POWER1`` or ``POWER0`` on one of the command topics."""
        command, index, _ = split_command(topic.rsplit("/", 1)[-1])
        return (
            command == "POWER"
            and index <= 1
            and any(topic.startswith(root) for root in self._command_roots())
        )

    # -- clocks and counters ---------------------------------------------------------------

    def _local(self, now: float) -> datetime:
        return datetime.fromtimestamp(now, self.tz)

    def _local_time(self, now: float) -> str:
        return self._local(now).strftime("%Y-%m-%dT%H:%M:%S")

    def _local_date(self, now: float) -> date:
        return self._local(now).date()

    def _total_wh(self, now: float) -> float:
        return self._initial_total_wh + self.appliance.energy_wh(now) - self._base_wh

    def _roll_day(self, now: float) -> None:
        today = self._local_date(now)
        if today == self._day:
            return
        total = self._total_wh(now)
        consecutive = (today - self._day).days == 1
        self._yesterday_wh = total - self._today_start_wh if consecutive else 0.0
        self._today_start_wh = total
        self._day = today

    def reboot(self, now: float) -> None:
        super().reboot(now)
        self.boot_count += 1
        self.blinking = False
        self._period_start_wh = self._total_wh(now)  # Total/Today survive (saved in flash)

    # -- payloads ----------------------------------------------------------------------------

    def _state_text(self) -> str:
        return "ON" if self.relay_on else "OFF"

    def power_state(self) -> list[Publish]:
        """``MqttPublishPowerState``: RESULT then the plain POWER topic."""
        return [
            Publish(self.topic_for("stat", "RESULT"), _compact({"POWER": self._state_text()})),
            Publish(
                self.topic_for("stat", "POWER"), self._state_text(), retain=self.retained_state
            ),
        ]

    def state_json(self, now: float) -> str:
        uptime = now - self.boot_time
        power = {"POWER": self._state_text()} if self.relays else {}  # no relay, no POWER
        return _compact(
            {
                "Time": self._local_time(now),
                "Uptime": _dhms(uptime),
                "UptimeSec": int(uptime),
                "Heap": 25,
                "SleepMode": "Dynamic",
                "Sleep": 50,
                "LoadAvg": 19,
                "MqttCount": self.connect_count,
                **power,
                "Wifi": {
                    "AP": 1,
                    "SSId": self.ssid,
                    "BSSId": "30:B5:C2:5D:70:72",
                    "Channel": 6,
                    "Mode": "11n",
                    "RSSI": 100,
                    "Signal": -44,
                    "LinkCount": self.link_count,
                    "Downtime": _dhms(self.downtime_s),
                },
            }
        )

    def sensor_json(self, now: float) -> str:
        """``tele/<t>/SENSOR`` with Tasmota's default resolutions (also resets ``Period``)."""
        self._roll_day(now)
        total_wh = self._total_wh(now)
        power = self.power_w(now)
        if power > 0.0:
            apparent = power / self.power_factor
            reactive = math.sqrt(max(0.0, apparent**2 - power**2))
            factor, current = self.power_factor, apparent / self.voltage_v
        else:
            apparent = reactive = factor = current = 0.0
        period_wh = total_wh - self._period_start_wh
        self._period_start_wh = total_wh
        # Fixed decimals as Tasmota prints them (EnergyRes 3, CurrentRes 3, VoltageRes 0, …).
        energy = ",".join(
            (
                f'"TotalStartTime":"{self.total_start_time}"',
                f'"Total":{total_wh / 1000:.3f}',
                f'"Yesterday":{self._yesterday_wh / 1000:.3f}',
                f'"Today":{(total_wh - self._today_start_wh) / 1000:.3f}',
                f'"Period":{_round_half_up(period_wh)}',
                f'"Power":{_round_half_up(power)}',
                f'"ApparentPower":{_round_half_up(apparent)}',
                f'"ReactivePower":{_round_half_up(reactive)}',
                f'"Factor":{factor:.2f}',
                f'"Voltage":{_round_half_up(self.voltage_v)}',
                f'"Current":{current:.3f}',
            )
        )
        return f'{{"Time":"{self._local_time(now)}","ENERGY":{{{energy}}}}}'

    def telemetry(self, now: float) -> list[Publish]:
        """STATE then SENSOR, as one TelePeriod tick publishes them."""
        self._next_tele = now + self.tele_period_s if self.tele_period_s > 0 else math.inf
        return [
            Publish(self.topic_for("tele", "STATE"), self.state_json(now)),
            Publish(self.topic_for("tele", "SENSOR"), self.sensor_json(now)),
        ]

    def _result(self, obj: object) -> Publish:
        return Publish(self.topic_for("stat", "RESULT"), _compact(obj))

    # -- PlugCore ----------------------------------------------------------------------------

    def will(self) -> Publish:
        return Publish(self.topic_for("tele", "LWT"), "Offline", retain=True, qos=1)

    def connect_sequence(self, now: float, *, initial: bool) -> list[Action]:
        self.connect_count += 1
        actions: list[Action] = [
            Publish(self.topic_for("tele", "LWT"), "Online", retain=True),
            Publish(self.topic_for("cmnd", "POWER"), ""),
            Subscribe(tuple(root + "#" for root in self._command_roots())),
        ]
        if initial:
            actions += self._info(now)
            actions += self.power_state()
            if self.tele_period_s > 0:
                self._next_tele = now + min(5.0, self.tele_period_s)
        return actions

    def _info(self, now: float) -> list[Publish]:
        group = self._root("cmnd", self.group_topic) if self.group_topic else ""
        return [
            Publish(
                self.topic_for("tele", "INFO1"),
                _compact(
                    {
                        "Info1": {
                            "Module": self.module,
                            "Version": TASMOTA_VERSION,
                            "FallbackTopic": self._root("cmnd", self.fallback_topic),
                            "GroupTopic": group,
                        }
                    }
                ),
            ),
            Publish(
                self.topic_for("tele", "INFO2"),
                _compact(
                    {
                        "Info2": {
                            "WebServerMode": "Admin",
                            "Hostname": self.hostname,
                            "IPAddress": f"192.168.1.{int(self.mac[-2:], 16) % 200 + 20}",
                        }
                    }
                ),
            ),
            Publish(
                self.topic_for("tele", "INFO3"),
                _compact(
                    {
                        "Info3": {
                            "RestartReason": "Software/System restart",
                            "BootCount": self.boot_count,
                        }
                    }
                ),
            ),
        ]

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        if not any(topic.startswith(root) for root in self._command_roots()):
            return []
        if self._take_drop():
            return []
        command, index, _user_index = split_command(topic.rsplit("/", 1)[-1])
        data = payload.decode("utf-8", errors="replace").lstrip()
        if command == "POWER":
            return self._cmnd_power(index, data, now)
        if command == "TELEPERIOD":
            return self._cmnd_teleperiod(data, now)
        if command == "POWERRETAIN":
            return self._cmnd_power_retain(data)
        if command == "STATE":
            return [Publish(self.topic_for("stat", "RESULT"), self.state_json(now))]
        return [self._result({"Command": "Unknown"})]

    def _cmnd_power(self, index: int, data: str, now: float) -> list[Publish]:
        if index > 1:  # no such relay: CmndPower leaves the default response in place
            return [self._result({"Command": "Error"})]
        op = parse_power_payload(data, index=index)
        if op is PowerOp.SHOW_STATE:
            return self.power_state()
        if not self.respond_to_commands:
            return []  # stuck relay: the order is silently ignored
        if op is PowerOp.BLINK:
            self.blinking = True
            return [self._result({"POWER": "BLINK ON"})]
        if op is PowerOp.BLINK_OFF:
            was_blinking, self.blinking = self.blinking, False
            reply = [self._result({"POWER": "BLINK OFF"})]
            return reply + self.power_state() if was_blinking else reply
        target = (not self.relay_on) if op is PowerOp.TOGGLE else op is PowerOp.ON
        self.blinking = False
        self._switch(target, now)
        return self.power_state()

    def _cmnd_teleperiod(self, data: str, now: float) -> list[Publish]:
        number = payload_number(data)
        if 0 <= number <= 3600:
            period = TELE_PERIOD_DEFAULT_S if number == 1 else number
            self.tele_period_s = float(max(period, 10) if period > 0 else 0)
        reply = self._result({"TelePeriod": _round_half_up(self.tele_period_s)})
        return [reply, *self.telemetry(now)]

    def _cmnd_power_retain(self, data: str) -> list[Publish]:
        number = payload_number(data)
        out: list[Publish] = []
        if number in (0, 1):
            out = self.set_retained_state(bool(number))
        return [*out, self._result({"PowerRetain": "ON" if self.retained_state else "OFF"})]

    def tick(self, now: float) -> list[Publish]:
        self._roll_day(now)
        if now >= self._next_tele:
            return self.telemetry(now)
        return []

    def next_due(self) -> float:
        return self._next_tele

    def press_button(self, now: float) -> list[Publish]:
        self.blinking = False
        self._switch(not self.relay_on, now)
        return self.power_state()

    def set_retained_state(self, on: bool) -> list[Publish]:
        was, self.retained_state = self.retained_state, on
        if was and not on:  # CmndPowerRetain clears the retained POWER on the broker
            return [Publish(self.topic_for("stat", "POWER"), "", retain=True)]
        return []


class SimulatedTasmotaPlug(SimulatedDevice):
    """A Nous A1T plug running Tasmota, on a real broker. See the module docstring."""

    def __init__(
        self,
        topic: str,
        appliance: Appliance | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        full_topic: str = DEFAULT_FULL_TOPIC,
        tele_period_s: float = 30.0,
        relay_on: bool = False,
        power_retain: bool = False,
        group_topic: str | None = "tasmotas",
        client_id: str | None = None,
        keepalive: int = 30,
        voltage_v: float = 231.0,
        power_factor: float = 0.99,
        initial_total_kwh: float = 0.0,
        tz: tzinfo | None = None,
        clock: Clock = time.time,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        core = TasmotaCore(
            topic,
            appliance,
            now=clock(),
            full_topic=full_topic,
            tele_period_s=tele_period_s,
            relay_on=relay_on,
            group_topic=group_topic,
            power_retain=power_retain,
            voltage_v=voltage_v,
            power_factor=power_factor,
            initial_total_kwh=initial_total_kwh,
            tz=tz,
        )
        self.core: TasmotaCore = core
        super().__init__(
            core,
            host=host,
            port=port,
            client_id=client_id or f"DVES_{core.mac[-6:]}-{secrets.token_hex(3)}",
            keepalive=keepalive,
            name=f"tasmota:{topic}",
            clock=clock,
            username=username,
            password=password,
        )

    @property
    def topic(self) -> str:
        return self.core.topic

    def topic_for(self, prefix: str, command: str) -> str:
        """E.g. ``plug.topic_for("cmnd", "POWER")`` with this plug's FullTopic applied."""
        return self.core.topic_for(prefix, command)
