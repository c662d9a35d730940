"""The fault harness: a TCP proxy in front of PostgreSQL that can cut or black-hole the
connections and restore them (a thread of the test), and a Mosquitto of the test's own on a free
port, with its persistence file, that can be SIGKILLed and restarted."""

from __future__ import annotations

import contextlib
import select
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.site import free_port, wait_until

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class DatabaseProxy:
    """A TCP proxy to PostgreSQL.

    - `black_hole()`: the server hangs: open connections stay open and nothing more comes back,
      new ones are accepted and never answered;
    - `cut()`: every connection is closed at once and new ones are refused (closed at accept);
    - `restore()`: traffic flows again (the connections accepted during a black hole, which
      never reached the server, are closed)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.holed = threading.Event()
        self.refusing = threading.Event()
        self.closed = threading.Event()
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.unanswered: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True, name="db-proxy").start()

    def dsn(self, dsn: str) -> str:
        return psycopg.conninfo.make_conninfo(dsn, host="127.0.0.1", port=self.port)

    def black_hole(self) -> None:
        self.holed.set()

    def cut(self) -> None:
        self.refusing.set()
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()

    def restore(self) -> None:
        with self.lock:
            unanswered, self.unanswered = self.unanswered, []
        for sock in unanswered:
            with contextlib.suppress(OSError):
                sock.close()
        self.refusing.clear()
        self.holed.clear()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.refusing.is_set():
                client.close()
                continue
            if self.holed.is_set():
                with self.lock:
                    self.unanswered.append(client)  # accepted, never answered
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError):
            while not self.closed.is_set():
                if self.holed.is_set():
                    self.closed.wait(0.1)
                    continue
                if not select.select([src], [], [], 0.1)[0]:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self.closed.set()
        self.cut()
        self.restore()
        with contextlib.suppress(OSError):
            self.server.close()


@contextlib.contextmanager
def database_proxy(dsn: str) -> Iterator[DatabaseProxy]:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    proxy = DatabaseProxy((str(info.get("host", "127.0.0.1")), int(info.get("port", 5432))))
    try:
        yield proxy
    finally:
        proxy.close()


class PrivateBroker:
    """A Mosquitto of the test's own on a free loopback port. With `persistence`, its sessions
    and queued QoS 1 messages are kept in a file of `directory` (written at every change), so
    that a SIGKILL and a restart keep them, as a broker under systemd would."""

    def __init__(self, directory: Path, persistence: bool = False) -> None:
        self.port = free_port()
        self.conf = directory / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true"]
        if persistence:
            store = directory / "mosquitto-data"
            store.mkdir(exist_ok=True)
            lines += [
                "persistence true",
                f"persistence_location {store}/",
                "autosave_interval 1",  # with autosave_on_changes: after every change
                "autosave_on_changes true",
            ]
        self.conf.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self._listening, timeout=5, what="private broker")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()

    def _listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0
