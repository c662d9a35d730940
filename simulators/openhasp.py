"""Simulated openHASP screen (M5Stack Core2 "ELFI", ELFE type 711): protocols.md §1.

``root`` is ``hasp/<node>``; a test may add a prefix. The screen behaves like the firmware:

* Objects live in RAM. At boot the screen loads its startup layout (``/pages.jsonl`` on the
  real plate; here :func:`elfe_startup_layout` builds the ELFE pages from a layout, or a test
  passes its own lines) and forgets everything that was set over MQTT since.
* ``<root>/command/jsonl``: one JSON object per line. With ``obj`` a line creates (replaces) an
  object; without it, it updates the properties of the existing ``page`` + ``id`` (unknown
  objects are ignored, as the firmware only logs them). ``page`` may be an integer or, as
  ArduinoJson accepts it, a numeric string: every line is kept in :attr:`OpenHaspCore.lines` so
  that tests can check what was sent. A payload longer than ``max_payload`` (about 2 kB) is cut,
  so its last line is lost. Rollers and switches clamp ``val`` like LVGL does. Also handled:
  ``command/statusupdate`` (answers ``state/statusupdate``), ``command/page`` (changes page and
  answers ``state/page``), and ``command`` with a payload starting with ``{`` (jsonl).
* After each connection: ``<root>/LWT`` = ``online`` (retained), ``state/page``, ``state/idle``,
  ``state/statusupdate`` (``uptime`` counts from the boot); then ``statusupdate`` every
  ``teleperiod_s`` (300 s). Will: ``<root>/LWT`` = ``offline``, retained (QoS 1 in 0.7, 0 in
  0.6.3).
* Touches (:meth:`OpenHaspCore.touch_switch`, :meth:`~OpenHaspCore.touch_roller`,
  :meth:`~OpenHaspCore.touch_raw`) change the object and publish what the firmware publishes on
  ``<root>/state/p<P>b<I>``: ``down`` then ``up`` with ``val`` for a switch, ``changed`` with
  ``val`` and ``text`` for a roller.
* :meth:`OpenHaspCore.text_view` renders the pages as compact text (for the demo terminal).

A 0.7 plate keeps a persistent session: when it reboots within the broker's keepalive window no
``offline`` is published before its new ``online``. :meth:`SimulatedOpenHasp.fast_reboot`
reproduces exactly what the broker then delivers (objects forgotten, a new ``online`` and a
``statusupdate`` whose uptime restarted, no will); :meth:`SimulatedOpenHasp.reboot` is the
0.6.3 case (the will, then the new session).
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import msgspec

from protocol.config import ScreensConfig
from simulators.core import Action, DeviceCore, Publish, Subscribe, fake_mac
from simulators.mqtt_device import Clock, SimulatedDevice

Version = Literal["0.7", "0.6.3"]
Object = dict[str, Any]
MAX_PAYLOAD = 2048
PAGE_TITLES = {
    111: "Lave-vaisselle",
    112: "Lave-linge",
    113: "Sèche-linge",
    221: "Voiture",
    131: "Eau chaude",
    151: "Chauffage",
    155: "Chauffage",
}
_HOURS = "\n".join(f"{h:02d}h" for h in range(24))
_QUARTERS = "00\n15\n30\n45"
_CHARGE = "\n".join(f"{p}%" for p in range(0, 101, 10))
_NUMERIC = re.compile(r"\s*\d{1,3}\s*")


def elfe_layout(labels: int | None = None) -> ScreensConfig:
    """The ELFE layout, with a label object of id `labels` on every equipment page."""
    pages = tuple(msgspec.structs.replace(p, label=labels) for p in ScreensConfig().pages)
    return ScreensConfig(pages=pages)


def elfe_startup_layout(layout: ScreensConfig) -> list[Object]:
    """The objects a screen shows at boot for `layout` (what `/pages.jsonl` holds on a plate):
    a title, the switch, the LED, the rollers and the label of each page, the summary LEDs and
    the connection label. Colours and values are the firmware's defaults until the supervisor
    draws them."""
    lines: list[Object] = []
    for page in layout.pages:
        p = page.page
        title = " / ".join(dict.fromkeys(PAGE_TITLES.get(t, f"type {t}") for t in page.types))
        lines.append({"page": p, "id": 1, "obj": "label", "text": title})
        if page.switch is not None:
            lines.append({"page": p, "id": page.switch, "obj": "switch", "val": 0})
        if page.led is not None:
            lines.append({"page": p, "id": page.led, "obj": "led", "bg_color": "#808080"})
        rollers = (
            (page.end_hour, _HOURS, "fin"),
            (page.end_quarter, _QUARTERS, "fin"),
            (page.cycle_hours, _HOURS, "cycle"),
            (page.cycle_quarters, _QUARTERS, "cycle"),
            (page.charge, _CHARGE, "charge"),
        )
        for object_id, options, _ in rollers:
            if object_id is not None:
                lines.append({"page": p, "id": object_id, "obj": "roller", "options": options})
        if page.label is not None:
            lines.append({"page": p, "id": page.label, "obj": "label", "text": ""})
        if layout.summary_page is not None and page.summary_led is not None:
            lines.append(
                {"page": layout.summary_page, "id": page.summary_led, "obj": "led",
                 "bg_color": "#808080", "text": title}
            )  # fmt: skip
    if layout.connection_page is not None:
        lines.append(
            {"page": layout.connection_page, "id": layout.connection_label, "obj": "label",
             "text": "ecran non connecté"}
        )  # fmt: skip
    return lines


class OpenHaspCore(DeviceCore):
    """Pure screen logic: the objects, what a command changes, what a touch publishes."""

    def __init__(
        self,
        root: str,
        *,
        now: float,
        startup: Sequence[Object] = (),
        version: Version = "0.7",
        teleperiod_s: float = 300.0,
        max_payload: int = MAX_PAYLOAD,
    ) -> None:
        super().__init__(now=now)
        root = root.rstrip("/")
        if not root or "+" in root or "#" in root or "/" not in root:
            raise ValueError(f"invalid openHASP topic root {root!r} (expected hasp/<node>)")
        if version not in ("0.7", "0.6.3"):
            raise ValueError(f"version must be '0.7' or '0.6.3', got {version!r}")
        if not teleperiod_s >= 0:
            raise ValueError("teleperiod_s must be >= 0 (0 = no periodic statusupdate)")
        self.root = root
        self.node = root.rsplit("/", 1)[-1]
        self.version = version
        self.teleperiod_s = float(teleperiod_s)
        self.max_payload = max_payload
        self.mac = fake_mac(f"openhasp/{self.node}")
        self.startup = [dict(line) for line in startup]
        self.objects: dict[tuple[int, int], Object] = {}
        self.current_page = 1
        self.lines: list[tuple[float, Object]] = []  # every jsonl line received, decoded
        self.cut_payloads = 0
        self._next_status = math.inf
        self._load_startup()

    # -- objects -----------------------------------------------------------------------------

    def _load_startup(self) -> None:
        self.objects = {}
        for line in self.startup:
            self._apply(line)
        pages = sorted({page for page, _ in self.objects})
        self.current_page = pages[0] if pages else 1

    def _apply(self, line: Object) -> None:
        page, object_id = _uint(line.get("page")), _uint(line.get("id"))
        if page is None or object_id is None:
            return
        props = {k: v for k, v in line.items() if k not in ("page", "id")}
        key = (page, object_id)
        if "obj" in props:
            self.objects[key] = props
        elif key in self.objects:
            self.objects[key].update(props)
        else:
            return
        self._clamp(self.objects[key])

    @staticmethod
    def _clamp(obj: Object) -> None:
        value = obj.get("val")
        if obj.get("obj") == "switch" and value is not None:
            obj["val"] = 1 if value not in (0, False, "0") else 0
        elif obj.get("obj") == "roller" and isinstance(value, int):
            last = len(str(obj.get("options", "")).split("\n")) - 1
            obj["val"] = max(0, min(value, last))

    def prop(self, page: int, object_id: int, name: str) -> Any:
        return self.objects.get((page, object_id), {}).get(name)

    def uptime(self, now: float) -> int:
        return int(now - self.boot_time)

    # -- publications ------------------------------------------------------------------------

    def _pub(self, suffix: str, payload: str, *, retain: bool = False, qos: int = 0) -> Publish:
        return Publish(f"{self.root}/{suffix}", payload, retain=retain, qos=qos)

    def statusupdate(self, now: float) -> Publish:
        pages = {page for page, _ in self.objects}
        body = {
            "node": self.node,
            "idle": "off",
            "version": "0.7.0-rc13" if self.version == "0.7" else "0.6.3",
            "uptime": self.uptime(now),
            "ssid": "elfe",
            "rssi": -60,
            "ip": f"192.168.1.{int(self.mac[-2:], 16) % 200 + 20}",
            "mac": self.mac,
            "heapFree": 58756,
            "heapFrag": 7,
            "core": "v4.4",
            "canUpdate": "false",
            "page": self.current_page,
            "numPages": max(pages, default=1),
            "tftDriver": "ILI9341",
            "tftWidth": 320,
            "tftHeight": 240,
        }
        return self._pub("state/statusupdate", json.dumps(body, separators=(",", ":")))

    # -- touches -----------------------------------------------------------------------------

    def touch_switch(self, page: int, object_id: int, val: int, now: float) -> list[Publish]:
        """The household flips a switch to `val` (1 = piloted): `down` (old val), `up` (new)."""
        obj = self._object(page, object_id, "switch")
        old = int(obj.get("val", 0))
        obj["val"] = 1 if val else 0
        return [self._event(page, object_id, {"event": "down", "val": old}),
                self._event(page, object_id, {"event": "up", "val": obj["val"]})]  # fmt: skip

    def touch_roller(self, page: int, object_id: int, index: int, now: float) -> list[Publish]:
        """The household turns a roller to option `index`: `changed` with `val` and `text`."""
        obj = self._object(page, object_id, "roller")
        options = str(obj.get("options", "")).split("\n")
        if not 0 <= index < len(options):
            raise ValueError(f"p{page}b{object_id} has {len(options)} options, not {index + 1}")
        obj["val"] = index
        return [self._event(page, object_id, {"event": "changed", "val": index,
                                              "text": options[index]})]  # fmt: skip

    def touch_raw(self, page: int, object_id: int, payload: str) -> list[Publish]:
        """Publish any event payload on `state/p<page>b<id>` (a faulty or future firmware)."""
        return [self._pub(f"state/p{page}b{object_id}", payload)]

    def _object(self, page: int, object_id: int, kind: str) -> Object:
        obj = self.objects.get((page, object_id))
        if obj is None or obj.get("obj") != kind:
            raise ValueError(f"no {kind} p{page}b{object_id} on screen {self.node}")
        return obj

    def _event(self, page: int, object_id: int, body: Object) -> Publish:
        return self._pub(f"state/p{page}b{object_id}", json.dumps(body, separators=(",", ":")))

    # -- DeviceCore --------------------------------------------------------------------------

    def will(self) -> Publish:
        return self._pub("LWT", "offline", retain=True, qos=1 if self.version == "0.7" else 0)

    def connect_sequence(self, now: float, *, initial: bool) -> list[Action]:
        self.connect_count += 1
        if self.teleperiod_s > 0:
            self._next_status = now + self.teleperiod_s
        return [
            Subscribe((f"{self.root}/command", f"{self.root}/command/#")),
            self._pub("LWT", "online", retain=True, qos=self.will().qos),
            self._pub("state/page", str(self.current_page)),
            self._pub("state/idle", "off"),
            self.statusupdate(now),
        ]

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        if not topic.startswith(self.root + "/command") or self._take_drop():
            return []
        command = topic[len(self.root) + len("/command") :].lstrip("/")
        text = payload.decode("utf-8", errors="replace")
        if command == "" and text.lstrip().startswith("{"):
            command = "jsonl"
        if command == "jsonl":
            self._jsonl(payload, now)
            return []
        if command == "statusupdate":
            return [self.statusupdate(now)]
        if command == "page":
            number = _uint(text)
            if number is not None and any(page == number for page, _ in self.objects):
                self.current_page = number
            return [self._pub("state/page", str(self.current_page))]
        return []

    def _jsonl(self, payload: bytes, now: float) -> None:
        if len(payload) > self.max_payload:
            self.cut_payloads += 1
            payload = payload[: self.max_payload]
        for raw in payload.split(b"\n"):
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict):
                self.lines.append((now, line))
                self._apply(line)

    def tick(self, now: float) -> list[Publish]:
        if now >= self._next_status:
            self._next_status = now + self.teleperiod_s
            return [self.statusupdate(now)]
        return []

    def next_due(self) -> float:
        return self._next_status

    def is_relay_order(self, topic: str) -> bool:
        return topic in (f"{self.root}/command/jsonl", f"{self.root}/command")

    def reboot(self, now: float) -> None:
        """Power cycle: every property set over MQTT is forgotten, the uptime restarts."""
        super().reboot(now)
        self._load_startup()

    # -- the text view -----------------------------------------------------------------------

    def text_view(self) -> str:
        """One line per page: `p3 Lave-linge | b3 on | b10 ●#00FF00 | b8 18h | ...`."""
        rows = []
        for page in sorted({page for page, _ in self.objects}):
            cells = []
            for (p, object_id), obj in sorted(self.objects.items()):
                if p != page:
                    continue
                cell = _cell(obj)
                cells.append(cell if object_id == 1 else f"b{object_id} {cell}")
            rows.append(f"p{page} " + " | ".join(cells))
        return "\n".join(rows)


def _cell(obj: Object) -> str:
    kind = obj.get("obj")
    if kind == "switch":
        return "on" if obj.get("val") else "off"
    if kind == "led":
        text = f" {obj['text']}" if obj.get("text") else ""
        return f"●{obj.get('bg_color', '?')}{text}"
    if kind == "roller":
        options = str(obj.get("options", "")).split("\n")
        value = obj.get("val")
        return options[value] if isinstance(value, int) and 0 <= value < len(options) else "-"
    return repr(str(obj.get("text", "")))


def _uint(value: object) -> int | None:
    """An integer as ArduinoJson's `as<uint8_t>` reads it (integers and numeric strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 <= value <= 255:
        return value
    if isinstance(value, str) and _NUMERIC.fullmatch(value) and int(value) <= 255:
        return int(value)
    return None


class SimulatedOpenHasp(SimulatedDevice):
    """An openHASP screen on a real broker; ``household["<node>"]`` finds it."""

    def __init__(
        self,
        root: str,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        layout: ScreensConfig | None = None,
        startup: Sequence[Object] | None = None,
        version: Version = "0.7",
        teleperiod_s: float = 300.0,
        client_id: str | None = None,
        keepalive: int = 15,
        clock: Clock = time.time,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        lines = startup if startup is not None else elfe_startup_layout(layout or ScreensConfig())
        core = OpenHaspCore(
            root, now=clock(), startup=lines, version=version, teleperiod_s=teleperiod_s
        )
        self.core: OpenHaspCore = core
        mac3 = core.mac[-6:].lower()
        default_id = f"plate_{mac3}" if version == "0.6.3" else f"{core.node}_{mac3}"
        super().__init__(
            core,
            host=host,
            port=port,
            client_id=client_id or f"{default_id}-{secrets.token_hex(3)}",
            keepalive=keepalive,
            name=f"openhasp:{core.node}",
            clock=clock,
            username=username,
            password=password,
        )

    @property
    def root(self) -> str:
        return self.core.root

    def prop(self, page: int, object_id: int, name: str) -> Any:
        with self._lock:
            return self.core.prop(page, object_id, name)

    def text_view(self) -> str:
        with self._lock:
            return self.core.text_view()

    @property
    def lines(self) -> list[tuple[float, Object]]:
        """Every `jsonl` line received since start (not forgotten on reboot), with its time."""
        with self._lock:
            return list(self.core.lines)

    def touch_switch(self, page: int, object_id: int, val: int) -> float:
        """Flip a switch; returns the time of the touch."""
        return self._touch(lambda core, now: core.touch_switch(page, object_id, val, now))

    def touch_roller(self, page: int, object_id: int, index: int) -> float:
        return self._touch(lambda core, now: core.touch_roller(page, object_id, index, now))

    def touch_raw(self, page: int, object_id: int, payload: str) -> float:
        return self._touch(lambda core, now: core.touch_raw(page, object_id, payload))

    def _touch(self, action: Callable[[OpenHaspCore, float], list[Publish]]) -> float:
        with self._lock:
            now = self._clock()
            self._perform(action(self.core, now))
            return now

    def wait_until(self, predicate: Callable[[OpenHaspCore], bool], timeout: float = 3.0) -> float:
        """Block until `predicate(core)` holds after a received command; returns the time."""
        with self._command_seen:
            if not self._command_seen.wait_for(lambda: predicate(self.core), timeout):
                raise TimeoutError(f"{self.name}: condition not met within {timeout}s")
            return self._clock()

    def fast_reboot(self) -> None:
        """A 0.7 plate that reboots within the keepalive window (persistent session): the
        objects are forgotten, then a new `online` and a `statusupdate` from uptime 0 arrive
        with no `offline` before them."""
        with self._lock:
            now = self._clock()
            self.core.reboot(now)
            self._perform(self.core.connect_sequence(now, initial=True))
