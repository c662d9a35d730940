"""The MQTT client of the gateway: paho's, reading its socket 64 kB at a time.

paho reads every packet with at least three `recv` calls (the command byte, each byte of the
remaining length, then the body). On the pump thread each call is a system call and a release
of the GIL, which a database worker thread may then hold for up to the switch interval: with
10 000 plugs answering an EMS run, those reads were the largest cost of the fan-out. Here the
socket is wrapped so that one `recv` fills a buffer and the next packets are served from memory;
`pending()` says how much is buffered (as an SSL socket does), so the gateway keeps reading
without asking `select` first.

It also keeps as many QoS 1 publishes in flight as the broker accepts (`set_inflight_window`).
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt

CHUNK = 65536


class BufferedSocket:
    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._data = b""
        self._pos = 0

    def recv(self, size: int) -> bytes:
        if self._pos < len(self._data):
            out = self._data[self._pos : self._pos + size]
            self._pos += len(out)
            return out
        data = self._sock.recv(max(size, CHUNK))  # BlockingIOError etc. propagate as before
        if len(data) <= size:
            self._data, self._pos = b"", 0
            return data
        self._data, self._pos = data, size
        return data[:size]

    def pending(self) -> int:
        inner = getattr(self._sock, "pending", None)
        return len(self._data) - self._pos + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class BufferedClient(mqtt.Client):
    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket())

    def set_inflight_window(self, size: int) -> None:
        """From `on_connect`: as many unacknowledged QoS 1/2 publishes as the broker's CONNACK
        allows (MQTT 5 Receive Maximum). paho 2.2 ignores that property, keeps 20, and refuses
        `max_inflight_messages_set` once connected; the queued publishes of the session are only
        sent after `on_connect` returns, so the new window applies to all of them."""
        self._max_inflight_messages = max(1, size)
