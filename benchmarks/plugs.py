"""One process that plays every simulated Shelly Gen1 plug of the benchmark.

A single MQTT client subscribed with wildcards answers every order (`.../relay/0/command` ->
`.../relay/0` with the new state) and every state query (`<root>/command` = `update`), records
when each order arrived, and publishes energy reports at a given rate, round robin over the
plugs. The energy value of report k is k watt-minutes (globally increasing), so that the
benchmark can tell which report reached the database and when it was sent.

Run by `benchmarks.supervisor` in its own process (`start()`), driven through a pipe:
    ("rate", reports_per_s)  start (or change) the telemetry; 0 stops it
    ("telemetry",)           -> (first k, send times of k = first k..., last k of every plug)
                                since the previous call
    ("orders",)              -> [(arrival time, kind, plug, payload)] since the last call
    ("stats",)               -> counters and the delay between an order and its answer
    ("quit",)
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import statistics
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt

TICK_S = 0.005


class Plugs:
    def __init__(self, host: str, port: int, prefix: str, count: int) -> None:
        self.prefix, self.count = prefix, count
        self.lock = threading.Lock()
        self.orders: list[tuple[float, str, int, bytes]] = []
        self.answer_delays: list[float] = []
        self.answered = 0
        self.updates = 0
        self.relay: dict[tuple[str, int], bytes] = {}
        self.sent_at: list[float] = []
        self.last_k: dict[int, int] = {}
        self.k = 0
        self.first_k = 1
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-plugs")
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        self.client.on_connect = lambda *a: self.connected.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=60)
        self.client.subscribe(
            [(f"{prefix}/+/+/relay/0/command", 1), (f"{prefix}/shellies/+/command", 1)]
        )
        self.client.loop_start()
        self.connected.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        at = time.time()
        parts = message.topic.split("/")  # <prefix>/<kind>/p<i>/relay/0/command or .../command
        kind, plug = parts[1], int(parts[2][1:])
        if parts[-2:] == ["0", "command"]:
            state = b"on" if message.payload == b"on" else b"off"
            self.relay[(kind, plug)] = state
            client.publish(message.topic.removesuffix("/command"), state)
            with self.lock:
                self.orders.append((at, kind, plug, message.payload))
                self.answered += 1
                self.answer_delays.append(time.time() - at)
        elif message.payload == b"update":
            root = message.topic.removesuffix("/command")
            client.publish(f"{root}/relay/0", self.relay.get((kind, plug), b"off"))
            self.updates += 1

    def telemetry_tick(self, due: int) -> None:
        """Publish reports until `due` of them have been sent since the rate was set."""
        publish, topic = self.client.publish, f"{self.prefix}/shellies/p%d/relay/0/energy"
        while self.k < due:
            self.k += 1
            plug = (self.k - 1) % self.count + 1
            publish(topic % plug, str(self.k).encode())
            self.sent_at.append(time.time())
            self.last_k[plug] = self.k

    def stats(self) -> dict[str, Any]:
        with self.lock:
            delays = sorted(self.answer_delays)
        return {
            "orders_answered": self.answered,
            "state_queries_answered": self.updates,
            "answer_delay_p50_ms": round(1000 * statistics.median(delays), 2) if delays else None,
            "answer_delay_max_ms": round(1000 * delays[-1], 2) if delays else None,
        }


def serve(conn: multiprocessing.connection.Connection, host: str, port: int, prefix: str, n: int):
    plugs = Plugs(host, port, prefix, n)
    rate, rate_since, base_k = 0.0, 0.0, 0
    conn.send("ready")
    while True:
        if conn.poll(TICK_S if rate else 0.05):
            request = conn.recv()
            if request[0] == "rate":
                rate, rate_since, base_k = float(request[1]), time.time(), plugs.k
                conn.send("ok")
            elif request[0] == "telemetry":
                conn.send((plugs.first_k, plugs.sent_at, plugs.last_k))
                plugs.sent_at, plugs.last_k, plugs.first_k = [], {}, plugs.k + 1
            elif request[0] == "orders":
                with plugs.lock:
                    orders, plugs.orders = plugs.orders, []
                conn.send(orders)
            elif request[0] == "stats":
                conn.send(plugs.stats())
            elif request[0] == "quit":
                plugs.client.loop_stop()
                plugs.client.disconnect()
                conn.send("bye")
                return
        if rate:
            plugs.telemetry_tick(base_k + int((time.time() - rate_since) * rate))


class PlugsProcess:
    """The responder in its own process, so that it neither shares the GIL with the measuring
    code nor with the daemon."""

    def __init__(self, host: str, port: int, prefix: str, n: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=serve, args=(child, host, port, prefix, n), daemon=True
        )
        self.process.start()
        if not self.conn.poll(30) or self.conn.recv() != "ready":
            raise RuntimeError("the simulated plugs did not start")

    def call(self, *request: Any) -> Any:
        self.conn.send(request)
        return self.conn.recv()

    def cpu_s(self) -> float:
        from benchmarks.procfs import cpu_seconds

        return cpu_seconds([self.process.pid])

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self.call("quit")
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
