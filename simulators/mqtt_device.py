"""The paho-mqtt shell around a pure device core (:mod:`simulators.core`).

One :class:`SimulatedDevice` = one paho 2.x client (MQTT 3.1.1, clean session, like the real
plugs) with its own network thread (``loop_start``) and one ticker thread for the periodic
reports. The core decides *what* to publish; this class only moves bytes and keeps records
for test assertions.

``go_offline()`` makes the broker publish the device's will: it stops the network thread and
closes the TCP socket **without sending DISCONNECT**, exactly what a plug that loses power or
Wi-Fi does. Mosquitto sees the connection drop and publishes the will it was given in CONNECT
(Tasmota: ``tele/<t>/LWT`` = ``Offline`` retained; Shelly: ``<root>/online`` = ``false``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as mqtt
from loguru import logger

from simulators.appliance import Appliance
from simulators.core import Action, DeviceCore, Publish, Subscribe

Clock = Callable[[], float]

_MAX_TICK_WAIT_S = 0.5


class SimulatedDevice:
    """A simulated field device on a real broker. Subclasses build the core."""

    def __init__(
        self,
        core: DeviceCore,
        *,
        host: str,
        port: int,
        client_id: str,
        keepalive: int,
        name: str,
        clock: Clock = time.time,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._core = core
        self.host = host
        self.port = port
        self.client_id = client_id
        self.keepalive = keepalive
        self.name = name
        self.ids: tuple[str, ...] = (name.split(":", 1)[-1],)  # household["<id>"] finds it
        self._clock = clock
        self._credentials = (username, password)
        self._lock = threading.RLock()
        self._client: mqtt.Client | None = None
        self._online = False
        self._initial = True  # next connection is the first since (re)boot
        self._pending_sub_mids: set[int] = set()
        self._ready = threading.Event()
        self._connect_error: str | None = None
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None
        self._commands: list[tuple[float, str]] = []
        self._received: list[tuple[float, str, str]] = []
        self._sent: list[tuple[float, Publish]] = []
        self._in_flight: list[mqtt.MQTTMessageInfo] = []
        self._command_seen = threading.Condition(self._lock)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> Self:
        """Connect, subscribe, and return once the broker acknowledged the subscriptions."""
        if self._ticker is not None:
            raise RuntimeError(f"{self.name} already started")
        self._stopping.clear()
        self._connect(timeout)
        self._ticker = threading.Thread(
            target=self._tick_loop, name=f"tick-{self.name}", daemon=True
        )
        self._ticker.start()
        return self

    def stop(self, *, announce_offline: bool = True, timeout: float = 5.0) -> None:
        """Stop cleanly: optionally publish the will payload ourselves, then DISCONNECT.

        A clean DISCONNECT makes the broker discard the will, so by default the offline payload
        is published first (as the will would have been), so that no ``Online`` stays
        retained after a demo. Pass ``announce_offline=False`` to leave the broker untouched.
        """
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(timeout)
            self._ticker = None
        with self._lock:
            client, self._client = self._client, None
            was_online, self._online = self._online, False
            will = self._core.will()
        if client is None:
            return
        if was_online and announce_offline and will is not None:
            info = client.publish(will.topic, will.payload, will.qos, will.retain)
            with contextlib.suppress(Exception):
                info.wait_for_publish(timeout)
        client.disconnect()
        client.loop_stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- fault injection ---------------------------------------------------------------------

    def go_offline(self) -> None:
        """Drop the TCP connection without DISCONNECT: the broker publishes the will."""
        with self._lock:
            client, self._client = self._client, None
            self._online = False
            self._ready.clear()
            if client is not None:
                self._core.link_down(self._clock())
        if client is None:
            return
        client.loop_stop()  # no automatic reconnection from here on
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        logger.debug("{} went offline (socket closed without DISCONNECT)", self.name)

    def come_online(self, timeout: float = 5.0) -> None:
        """Reconnect after :meth:`go_offline` (the device did not reboot)."""
        with self._lock:
            if self._client is not None:
                return
            self._core.link_up(self._clock())
        self._connect(timeout)

    def reboot(self, timeout: float = 5.0) -> None:
        """Power-cycle the device: will published, RAM counters reset, first-connect sequence."""
        self.go_offline()
        with self._lock:
            self._core.reboot(self._clock())
            self._initial = True
        self._connect(timeout)

    def press_button(self) -> None:
        """The household presses the plug's button: the relay toggles and the device reports it."""
        with self._lock:
            self._perform(self._core.press_button(self._clock()))

    def set_retained_state(self, on: bool) -> None:
        """Tasmota ``PowerRetain`` / Shelly ``mqtt_retain``: state messages published retained."""
        with self._lock:
            self._perform(self._core.set_retained_state(on))

    def drop_next_commands(self, n: int) -> None:
        with self._lock:
            self._core.drop_next_commands(n)

    @property
    def respond_to_commands(self) -> bool:
        with self._lock:
            return self._core.respond_to_commands

    @respond_to_commands.setter
    def respond_to_commands(self, value: bool) -> None:
        with self._lock:
            self._core.respond_to_commands = value

    # -- observation -------------------------------------------------------------------------

    @property
    def relay_on(self) -> bool:
        with self._lock:
            return self._core.relay_on

    @property
    def online(self) -> bool:
        with self._lock:
            return self._online

    def power_w(self) -> float:
        with self._lock:
            return self._core.power_w(self._clock())

    @property
    def appliance(self) -> Appliance:
        """The load behind the relay. Read it freely; change it through :meth:`set_appliance_ready`
        or :meth:`with_core`, which hold the device lock."""
        return self._core.appliance

    def set_appliance_ready(self, ready: bool) -> None:
        """The household loads the machine and presses start (``True``), or cancels (``False``)."""
        with self._lock:
            self._core.appliance.set_ready(ready, self._clock())

    def appliance_for(self, ref: str, output: int | None = None) -> Appliance:
        """The appliance that ``ref`` (one of :attr:`ids`) designates; ``output`` selects an
        output on devices that have several (the plugs have one: it must be None)."""
        if output is not None:
            raise ValueError(f"{self.name} has a single output; 'output' must not be given")
        return self._core.appliance

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every message handed to the connection was written (QoS 0) or
        acknowledged (QoS 1/2); messages still queued when the connection drops are lost."""
        with self._lock:
            pending, self._in_flight = self._in_flight, []
        deadline = time.monotonic() + timeout
        for info in pending:
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))

    def with_core(self, fn: Callable[[DeviceCore, float], Any]) -> Any:
        """Run ``fn(core, now)`` under the device lock, e.g. to set ``appliance.ready``."""
        with self._lock:
            return fn(self._core, self._clock())

    @property
    def commands(self) -> list[tuple[float, str]]:
        """Every switching order received ``(time, payload)``, including ignored/dropped ones."""
        with self._lock:
            return list(self._commands)

    @property
    def received(self) -> list[tuple[float, str, str]]:
        """Every message received on any subscribed topic ``(time, topic, payload)``."""
        with self._lock:
            return list(self._received)

    @property
    def sent(self) -> list[tuple[float, Publish]]:
        """Every message handed to the broker connection ``(time, publish)``."""
        with self._lock:
            return list(self._sent)

    def wait_for_commands(self, count: int, timeout: float = 5.0) -> list[tuple[float, str]]:
        """Block until at least ``count`` switching orders were received; return them all."""
        with self._command_seen:
            if not self._command_seen.wait_for(lambda: len(self._commands) >= count, timeout):
                raise TimeoutError(f"{self.name}: {len(self._commands)} commands, wanted {count}")
            return list(self._commands)

    # -- paho plumbing -----------------------------------------------------------------------

    def _connect(self, timeout: float) -> None:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        username, password = self._credentials
        if username is not None:
            client.username_pw_set(username, password)
        with self._lock:
            will = self._core.will()
        if will is not None:
            client.will_set(will.topic, will.payload, will.qos, will.retain)
        client.reconnect_delay_set(1, 10)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        self._ready.clear()
        self._connect_error = None
        with self._lock:
            self._client = client
        try:
            client.connect(self.host, self.port, self.keepalive)
        except OSError:
            with self._lock:
                self._client = None
            raise
        client.loop_start()
        if not self._ready.wait(timeout):
            error = self._connect_error or "no CONNACK/SUBACK in time"
            with self._lock:
                self._client = None
            client.disconnect()
            client.loop_stop()
            raise TimeoutError(
                f"{self.name}: could not connect to {self.host}:{self.port}: {error}"
            )

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: Any,
        properties: Any,
    ) -> None:
        if reason_code.is_failure:
            self._connect_error = str(reason_code)
            return
        with self._lock:
            if client is not self._client:
                return
            self._online = True
            initial, self._initial = self._initial, False
            actions = self._core.connect_sequence(self._clock(), initial=initial)
            self._perform(actions, client)
            if not self._pending_sub_mids:
                self._ready.set()  # a device that subscribes nothing is ready at CONNACK
        logger.debug("{} connected (initial={})", self.name, initial)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any
    ) -> None:
        with self._lock:
            self._pending_sub_mids.discard(mid)
            if not self._pending_sub_mids and client is self._client:
                self._ready.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        with self._lock:
            if client is self._client:
                self._online = False
                self._ready.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload_text = message.payload.decode("utf-8", errors="replace")
        with self._lock:
            if client is not self._client:
                return
            now = self._clock()
            self._received.append((now, message.topic, payload_text))
            if self._core.is_relay_order(message.topic):
                self._commands.append((now, payload_text))
                self._command_seen.notify_all()
            self._perform(self._core.handle(message.topic, message.payload, now), client)

    def _perform(
        self, actions: list[Action] | list[Publish], client: mqtt.Client | None = None
    ) -> None:
        """Send the core's actions in order (caller holds the lock). Offline: messages are lost."""
        client = client or self._client
        if client is None or not self._online:
            return
        for action in actions:
            if isinstance(action, Subscribe):
                result, mid = client.subscribe([(t, action.qos) for t in action.topics])
                if result == mqtt.MQTT_ERR_SUCCESS and mid is not None:
                    self._pending_sub_mids.add(mid)
            else:
                info = client.publish(action.topic, action.payload, action.qos, action.retain)
                self._sent.append((self._clock(), action))
                self._in_flight = [i for i in self._in_flight if not _done(i)]
                self._in_flight.append(info)

    def _tick_loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                self._perform(self._core.tick(self._clock()))
                wait = self._core.next_due() - self._clock()
            self._stopping.wait(min(max(wait, 0.005), _MAX_TICK_WAIT_S))

    def __repr__(self) -> str:
        state = f"online={self._online}, relay_on={self._core.relay_on}"
        return f"{type(self).__name__}({self.name!r}, {state})"


def _done(info: mqtt.MQTTMessageInfo) -> bool:
    """Published, or never will be: paho raises on a message lost with its connection."""
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        return True
