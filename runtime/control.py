"""The control socket: introspection of a running supervisor over a Unix socket.

`<state_dir>/control.sock` (`control-<k>.sock` for partition k), mode 0600, so that only the
daemon's own user (and root) can ask. Protocol: one JSON object on one line in, one JSON object
on one line out, then the connection closes.

| request | reply |
|---|---|
| `{}` | the overview: status and every equipment |
| `{"actors": true}` | the overview, every gateway's counters and the actor tree |
| `{"equipment": 12}` | equipment 12's state machine, devices, last events, and `inside`: |
| | its pending timers, next planned decisions, the age of each device's last report |
| `{"gateway": "mqtt"}` (or "db", "plans", "clock", "displays") | that gateway's counters |
| `{"screen": "g001"}` (`"refresh": true` redraws it in full) | a household screen |
| `{"ping": true}` | `{"pong": true, "pid": ..., "system_base": ...}` |

An error is `{"error": "<one line>"}`. In-process the pump serves the socket; on
multiprocTCPBase a thread of the starter process serves it and relays with `asys.ask`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from protocol.introspection import introspect_message

__all__ = ["introspect_message"]  # used by the daemon through protocol.introspection.view

GATEWAYS = ("mqtt", "db", "plans", "clock", "displays")
MAX_REQUEST = 4096
REPLY_TIMEOUT_S = 5.0

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class RequestError(ValueError):
    pass


def control_path(state_dir: str | Path, partition: int | None = None) -> Path:
    """Where the control socket of the daemon (or of partition `partition`) listens."""
    name = "control.sock" if partition is None else f"control-{partition}.sock"
    return Path(state_dir) / name


def parse_request(line: bytes) -> dict[str, Any]:
    """Decode and check one request line; RequestError names what is wrong."""
    try:
        request = json.loads(line.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(f"the request is not one JSON object: {exc}") from None
    if not isinstance(request, dict):
        raise RequestError("the request is not a JSON object")
    unknown = set(request) - {"equipment", "gateway", "ping", "screen", "refresh", "actors"}
    if unknown:
        raise RequestError(f"unknown request key(s): {', '.join(sorted(unknown))}")
    equipment = request.get("equipment")
    if equipment is not None and (isinstance(equipment, bool) or not isinstance(equipment, int)):
        raise RequestError(f"equipment must be an integer id, not {equipment!r}")
    gateway = request.get("gateway")
    if gateway is not None and gateway not in GATEWAYS:
        raise RequestError(f"gateway must be one of {', '.join(GATEWAYS)}, not {gateway!r}")
    screen = request.get("screen")
    if screen is not None and (not isinstance(screen, str) or not screen):
        raise RequestError(f"screen must be a node name, not {screen!r}")
    refresh = request.get("refresh", False)
    if not isinstance(refresh, bool) or (refresh and screen is None):
        raise RequestError("refresh is true or false, and goes with a screen")
    if not isinstance(request.get("actors", False), bool):
        raise RequestError("actors is true or false")
    return request


def encode_reply(reply: dict[str, Any]) -> bytes:
    return json.dumps(reply, ensure_ascii=False, default=str).encode() + b"\n"


def answer(handler: Handler, line: bytes) -> bytes:
    """One request line -> one reply line; never raises."""
    try:
        reply = handler(parse_request(line))
    except RequestError as exc:
        reply = {"error": str(exc)}
    except Exception as exc:
        logger.exception("control socket: request failed")
        reply = {"error": f"{type(exc).__name__}: {exc}"}
    return encode_reply(reply)


def answers(path: Path) -> bool:
    """Whether a running daemon answers on the control socket at `path`."""
    try:
        request(path, {"ping": True}, timeout=2.0)
    except (OSError, ValueError):
        return False
    return True


def bind(path: Path) -> socket.socket:
    """A listening Unix socket at `path`, mode 0600 from its creation on (a socket left by a
    crashed daemon is replaced: check `answers` first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)
    try:
        server.bind(str(path))
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    server.listen(16)
    return server


class PumpControl:
    """The control socket served by the pump: never blocks it on a slow client."""

    def __init__(self, path: Path, pump: Any, handler: Handler) -> None:
        self.path, self.pump, self.handler = path, pump, handler
        self.server = bind(path)
        self.server.setblocking(False)
        self.pending: dict[int, tuple[socket.socket, bytearray]] = {}
        pump.on_readable(self.server.fileno(), self._accept)
        pump.on_close(self.close)

    def _accept(self) -> None:
        try:
            conn, _ = self.server.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(False)
        self.pending[conn.fileno()] = (conn, bytearray())
        self.pump.on_readable(conn.fileno(), functools.partial(self._read, conn.fileno()))

    def _read(self, fd: int) -> None:
        conn, buffer = self.pending[fd]
        try:
            chunk = conn.recv(MAX_REQUEST)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        buffer.extend(chunk)
        if chunk and b"\n" not in buffer and len(buffer) < MAX_REQUEST:
            return  # the rest of the line is on its way
        self.pump.unwatch(fd)
        del self.pending[fd]
        with conn:
            if not buffer:
                return
            reply = answer(self.handler, bytes(buffer.split(b"\n", 1)[0]))
            conn.settimeout(REPLY_TIMEOUT_S)
            with contextlib.suppress(OSError):
                conn.sendall(reply)

    def close(self) -> None:
        for conn, _ in self.pending.values():
            conn.close()
        self.pending.clear()
        self.server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class ThreadControl:
    """The control socket served by a thread (multiprocTCPBase: the starter process)."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path, self.handler = path, handler
        self.server = bind(path)
        self.closing = False
        self.thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.closing:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # closed
            with conn:
                conn.settimeout(REPLY_TIMEOUT_S)
                try:
                    line = conn.makefile("rb").readline(MAX_REQUEST)
                    conn.sendall(answer(self.handler, line.rstrip(b"\n")))
                except OSError:
                    continue

    def close(self) -> None:
        self.closing = True
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()
        self.thread.join(2)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def request(path: Path, query: dict[str, Any], timeout: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
    """Client side: send one request, return the decoded reply. OSError when nothing listens."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        client.connect(str(path))
        client.sendall(json.dumps(query).encode() + b"\n")
        data = client.makefile("rb").readline()
    if not data:
        raise OSError(f"no answer from {path}")
    reply = json.loads(data)
    if not isinstance(reply, dict):
        raise OSError(f"unexpected answer from {path}")
    return reply
