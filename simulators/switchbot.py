"""Simulated SwitchBot BLE gateway, devWaves "SwitchBot-MQTT-BLE-ESP32" v7 ("mqtt2ble v7",
ELFE type 311), with one or more bots in press mode: protocols.md §5.

``base`` is ``<mqtt_main_topic>/<host>`` (``switchbot/C002``); a test may add a prefix. The MQTT
client id is the host. QoS 0 everywhere (EspMQTTClient / PubSubClient).

* Subscribes ``<base>/bot/<name>/set`` for every bot and ``<base>/requestInfo``.
* ``PRESS`` (and ``ON`` / ``OFF``, which a bot in press mode performs as a press) is queued;
  the gateway handles one command at a time, at least ``wait_between_s`` (``defaultBotWaitTime``
  2 s) after the previous one ended. On arrival ``<base>/bot/<name>/state`` = ``OFF`` (retained:
  ``immediateBotStateUpdate``, a press-mode bot reports OFF). When the command starts:
  ``<base>`` ``{"status":"controlling"}``, then on ``<base>/bot/<name>/status``
  ``{"status":"connected","command":"PRESS"}`` and ``{"status":"commandSent",...}``, and
  ``ble_delay_s`` later ``{"status":"success","value":5,"command":"PRESS"}`` (``value`` 1 for
  ``ON`` / ``OFF``), then ``<base>`` ``{"status":"idle"}`` when the queue is empty. The press
  reaches the bot's target (:attr:`Bot.target`, e.g. an appliance's start button) at the
  success. ``info_after_control_s`` (10 s, ``scanAfterControl``) after a success the bot's
  attributes are published.
* ``<base>/bot/<name>/attributes`` = ``{"rssi":-78,"mode":"Press","state":"OFF","batt":94}``
  after boot, every ``attributes_period_s`` (``rescanTime`` 600 s: ELFE measured 10 min), on
  ``REQUESTINFO`` / ``GETINFO`` and on ``<base>/requestInfo`` ``{"id":"<name>"}`` (an unknown id
  gets ``<base>`` ``{"status":"errorJSONId"}``), ``ble_delay_s`` after the request.
* Any other payload on ``set`` is answered ``{"status":"errorCommand","command":"NOTVALID"}``,
  except the real commands this simulator does not model (``STATEON``, ``STATEOFF``, hold
  seconds ``0..100``, ``MODE...``, ``REQUESTSETTINGS`` / ``GETSETTINGS``), which are ignored.
* Availability ``<base>/lastwill`` = ``online`` retained after connect and every
  ``lastwill_period_s`` (30 s); will ``offline`` retained. On the first connection since boot
  ``<base>`` ``{"status":"boot"}`` then ``{"status":"idle"}``.
* Fault injection: :meth:`SwitchBotCore.fail_next` answers the next command with
  ``errorConnect`` (no ``connected`` first), ``failed`` (value 9) or ``lowbattery`` (value 6,
  plus ``<base>/bot/<name>/battery`` = ``1`` as protocols.md §5.2 reports), and nothing is
  pressed; :meth:`SwitchBotCore.busy_next` answers ``{"status":"busy","value":3,...}`` n times,
  ``ble_delay_s`` apart, before the success (``retryBotOnBusy``). More than ``queue_size`` (50)
  waiting commands: ``<base>`` ``{"status":"errorQueueFull"}`` and the command is dropped.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from simulators.core import Action, DeviceCore, Publish, Subscribe
from simulators.mqtt_device import Clock, SimulatedDevice

PressTarget = Callable[[float], object]
"""Called with the press instant when a bot presses (e.g. ``appliance.press``)."""

PRESS_COMMANDS = frozenset({"PRESS", "ON", "OFF"})
INFO_COMMANDS = frozenset({"REQUESTINFO", "GETINFO"})
IGNORED_COMMANDS = frozenset(
    {
        "STATEON",
        "STATEOFF",
        "REQUESTSETTINGS",
        "GETSETTINGS",
        "MODEPRESS",
        "MODESWITCH",
        "MODEPRESSINV",
        "MODESWITCHINV",
    }
)
FAULTS = {"errorConnect": None, "failed": 9, "lowbattery": 6}
SUCCESS_VALUE = {"PRESS": 5, "ON": 1, "OFF": 1}
BUSY_VALUE = 3


def _compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


@dataclass
class Bot:
    """One SwitchBot bot known to the gateway (its ``allBots`` entry), in press mode."""

    name: str
    target: PressTarget | None = None
    rssi: int = -78
    battery: int = 94
    presses: list[float] = field(default_factory=list)  # instants of the successful presses

    def attributes(self) -> str:
        return _compact({"rssi": self.rssi, "mode": "Press", "state": "OFF", "batt": self.battery})


@dataclass
class _Job:
    bot: str
    command: str
    fault: str | None
    busy: int
    step_at: float = math.inf  # when the next status of this job is due


class SwitchBotCore(DeviceCore):
    """Pure gateway logic: see the module docstring for what it reproduces."""

    def __init__(
        self,
        base: str,
        bots: Sequence[Bot | str],
        *,
        now: float,
        ble_delay_s: float = 2.0,
        wait_between_s: float = 2.0,
        lastwill_period_s: float = 30.0,
        attributes_period_s: float = 600.0,
        info_after_control_s: float = 10.0,
        queue_size: int = 50,
    ) -> None:
        super().__init__(now=now)
        base = base.rstrip("/")
        if not base or "+" in base or "#" in base:
            raise ValueError(f"invalid SwitchBot base topic {base!r}")
        if not bots:
            raise ValueError("a gateway needs at least one bot")
        for name, value in (
            ("ble_delay_s", ble_delay_s),
            ("wait_between_s", wait_between_s),
            ("info_after_control_s", info_after_control_s),
        ):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        for name, value in (
            ("lastwill_period_s", lastwill_period_s),
            ("attributes_period_s", attributes_period_s),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        self.base = base
        self.host = base.rsplit("/", 1)[-1]
        self.bots: dict[str, Bot] = {}
        for bot in bots:
            bot = Bot(bot) if isinstance(bot, str) else bot
            if not bot.name or "/" in bot.name or "+" in bot.name or "#" in bot.name:
                raise ValueError(f"invalid bot name {bot.name!r}")
            if bot.name in self.bots:
                raise ValueError(f"bot {bot.name!r} listed twice")
            self.bots[bot.name] = bot
        self.ble_delay_s = float(ble_delay_s)
        self.wait_between_s = float(wait_between_s)
        self.lastwill_period_s = float(lastwill_period_s)
        self.attributes_period_s = float(attributes_period_s)
        self.info_after_control_s = float(info_after_control_s)
        self.queue_size = queue_size
        self._queue: deque[_Job] = deque()
        self._current: _Job | None = None
        self._free_at = now  # the next command may start from this instant
        self._faults: deque[tuple[str | None, str]] = deque()
        self._busy: dict[str | None, int] = {}
        self._info_due: dict[str, float] = {}  # bot -> when its attributes are due
        self._next_lastwill = math.inf
        self._next_rescan = math.inf

    # -- topics ----------------------------------------------------------------------------

    def bot_topic(self, name: str, suffix: str) -> str:
        return f"{self.base}/bot/{name}/{suffix}"

    def _set_topics(self) -> dict[str, str]:
        return {self.bot_topic(name, "set"): name for name in self.bots}

    def is_relay_order(self, topic: str) -> bool:
        return topic in self._set_topics()

    # -- fault injection -------------------------------------------------------------------

    def fail_next(self, status: str, bot: str | None = None) -> None:
        """Answer the next press (of ``bot``, or of any bot) with ``status``, pressing nothing:
        ``errorConnect``, ``failed`` or ``lowbattery``."""
        if status not in FAULTS:
            raise ValueError(f"unknown failure {status!r}; expected one of {sorted(FAULTS)}")
        if bot is not None and bot not in self.bots:
            raise KeyError(bot)
        self._faults.append((bot, status))

    def busy_next(self, n: int, bot: str | None = None) -> None:
        """Answer ``busy`` ``n`` times before the next press (of ``bot``, or any) succeeds."""
        if n < 0:
            raise ValueError("n must be >= 0")
        if bot is not None and bot not in self.bots:
            raise KeyError(bot)
        self._busy[bot] = n

    def _take_fault(self, bot: str) -> str | None:
        for i, (who, status) in enumerate(self._faults):
            if who in (None, bot):
                del self._faults[i]
                return status
        return None

    def _take_busy(self, bot: str) -> int:
        for key in (bot, None):
            if self._busy.get(key):
                return self._busy.pop(key)
        return 0

    # -- messages --------------------------------------------------------------------------

    def _gateway_status(self, status: str) -> Publish:
        return Publish(self.base, _compact({"status": status}))

    def _status(self, job: _Job, status: str, value: int | None = None) -> Publish:
        body: dict[str, object] = {"status": status}
        if value is not None:
            body["value"] = value
        body["command"] = job.command
        return Publish(self.bot_topic(job.bot, "status"), _compact(body))

    def _attributes(self, name: str) -> Publish:
        return Publish(self.bot_topic(name, "attributes"), self.bots[name].attributes())

    def _lastwill_online(self, now: float) -> Publish:
        self._next_lastwill = now + self.lastwill_period_s
        return Publish(f"{self.base}/lastwill", "online", retain=True)

    # -- DeviceCore ------------------------------------------------------------------------

    def will(self) -> Publish:
        return Publish(f"{self.base}/lastwill", "offline", retain=True)

    def connect_sequence(self, now: float, *, initial: bool) -> list[Action]:
        self.connect_count += 1
        actions: list[Action] = [
            Subscribe((*self._set_topics(), f"{self.base}/requestInfo")),
        ]
        if initial:
            actions += [self._gateway_status("boot"), self._gateway_status("idle")]
            for name in self.bots:  # the boot scan finds the bots
                self._info_due.setdefault(name, now + self.ble_delay_s)
            self._next_rescan = now + self.attributes_period_s
        actions.append(self._lastwill_online(now))
        return actions

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        text = payload.decode("utf-8", errors="replace")
        bot = self._set_topics().get(topic)
        if bot is None and topic != f"{self.base}/requestInfo":
            return []
        if self._take_drop() or not self.respond_to_commands:
            return []
        if bot is None:
            return self._request_info(text, now)
        command = text.strip()
        if command in PRESS_COMMANDS:
            if len(self._queue) >= self.queue_size:
                return [self._gateway_status("errorQueueFull")]
            self._queue.append(_Job(bot, command, None, 0))
            out = [Publish(self.bot_topic(bot, "state"), "OFF", retain=True)]
            return out + self._advance_jobs(now)
        if command in INFO_COMMANDS:
            self._info_due[bot] = min(self._info_due.get(bot, math.inf), now + self.ble_delay_s)
            return []
        if command in IGNORED_COMMANDS or (command.isdigit() and int(command) <= 100):
            return []
        reply = _compact({"status": "errorCommand", "command": "NOTVALID"})
        return [Publish(self.bot_topic(bot, "status"), reply)]

    def _request_info(self, text: str, now: float) -> list[Publish]:
        try:
            body = json.loads(text)
            name = body.get("id") if isinstance(body, dict) else None
        except ValueError:
            return [self._gateway_status("errorJSON")]
        if name not in self.bots:
            return [self._gateway_status("errorJSONId")]
        self._info_due[name] = min(self._info_due.get(name, math.inf), now + self.ble_delay_s)
        return []

    def _advance_jobs(self, now: float) -> list[Publish]:
        """Run the command queue up to ``now``: start, step and finish commands in order."""
        out: list[Publish] = []
        while True:
            job = self._current
            if job is None:
                if not self._queue or now < self._free_at:
                    return out
                job = self._current = self._queue.popleft()
                job.fault = self._take_fault(job.bot)
                job.busy = 0 if job.fault else self._take_busy(job.bot)
                out.append(self._gateway_status("controlling"))
                if job.fault != "errorConnect":
                    out += [self._status(job, "connected"), self._status(job, "commandSent")]
                job.step_at = now + self.ble_delay_s
                continue
            if now < job.step_at:
                return out
            at = job.step_at
            if job.busy > 0:
                job.busy -= 1
                out.append(self._status(job, "busy", BUSY_VALUE))
                job.step_at = at + self.ble_delay_s
                continue
            out += self._finish(job, at)
            self._current = None
            self._free_at = at + self.wait_between_s
            if not self._queue:
                out.append(self._gateway_status("idle"))

    def _finish(self, job: _Job, at: float) -> list[Publish]:
        if job.fault is not None:
            out = [self._status(job, job.fault, FAULTS[job.fault])]
            if job.fault == "lowbattery":
                out.append(Publish(self.bot_topic(job.bot, "battery"), "1"))
            return out
        bot = self.bots[job.bot]
        bot.presses.append(at)
        if bot.target is not None:
            bot.target(at)
        self._info_due[job.bot] = at + self.info_after_control_s
        return [self._status(job, "success", SUCCESS_VALUE[job.command])]

    def tick(self, now: float) -> list[Publish]:
        out = self._advance_jobs(now)
        if now >= self._next_rescan:
            self._next_rescan = now + self.attributes_period_s
            for name in self.bots:
                self._info_due[name] = min(self._info_due.get(name, math.inf), now)
        for name, due in sorted(self._info_due.items(), key=lambda item: item[1]):
            if now >= due:
                del self._info_due[name]
                out.append(self._attributes(name))
        if now >= self._next_lastwill:
            out.append(self._lastwill_online(now))
        return out

    def next_due(self) -> float:
        due = [self._next_lastwill, self._next_rescan, *self._info_due.values()]
        if self._current is not None:
            due.append(self._current.step_at)
        elif self._queue:
            due.append(self._free_at)
        return min(due)

    def reboot(self, now: float) -> None:
        super().reboot(now)
        self._queue.clear()  # the command queue lives in RAM
        self._current = None
        self._free_at = now
        self._info_due.clear()

    @property
    def busy(self) -> bool:
        """A command is running or waiting."""
        return self._current is not None or bool(self._queue)


class SimulatedSwitchBot(SimulatedDevice):
    """A devWaves SwitchBot BLE gateway with its bots, on a real broker. See the module
    docstring; ``household["<host>"]`` and ``household["<bot name>"]`` both find it."""

    def __init__(
        self,
        base: str,
        bots: Sequence[Bot | str],
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        ble_delay_s: float = 2.0,
        wait_between_s: float = 2.0,
        lastwill_period_s: float = 30.0,
        attributes_period_s: float = 600.0,
        info_after_control_s: float = 10.0,
        client_id: str | None = None,
        keepalive: int = 15,
        clock: Clock = time.time,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        core = SwitchBotCore(
            base,
            bots,
            now=clock(),
            ble_delay_s=ble_delay_s,
            wait_between_s=wait_between_s,
            lastwill_period_s=lastwill_period_s,
            attributes_period_s=attributes_period_s,
            info_after_control_s=info_after_control_s,
        )
        self.core: SwitchBotCore = core
        super().__init__(
            core,
            host=host,
            port=port,
            client_id=client_id or f"{core.host}-{secrets.token_hex(3)}",
            keepalive=keepalive,
            name=f"switchbot:{core.host}",
            clock=clock,
            username=username,
            password=password,
        )
        self.ids = (core.host, *core.bots)

    @property
    def base(self) -> str:
        return self.core.base

    def bot_topic(self, name: str, suffix: str) -> str:
        """E.g. ``gateway.bot_topic("C003", "set")`` → ``switchbot/C002/bot/C003/set``."""
        return self.core.bot_topic(name, suffix)

    def set_press_target(self, bot: str, target: PressTarget | None) -> None:
        """What the bot presses: called with the instant of every successful press."""
        with self._lock:
            self.core.bots[bot].target = target

    def presses(self, bot: str) -> list[float]:
        """The instants of the bot's successful presses."""
        with self._lock:
            return list(self.core.bots[bot].presses)

    def fail_next(self, status: str, bot: str | None = None) -> None:
        with self._lock:
            self.core.fail_next(status, bot)

    def busy_next(self, n: int, bot: str | None = None) -> None:
        with self._lock:
            self.core.busy_next(n, bot)

    def set_battery(self, bot: str, percent: int) -> None:
        with self._lock:
            self.core.bots[bot].battery = percent
