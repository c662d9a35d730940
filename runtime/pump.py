"""The in-process event loop that drives a `simpleSystemBase` actor system.

`simpleSystemBase` runs every actor synchronously inside `asys.tell`: nothing happens unless some
thread calls it, and its `listen(0)` processes nothing. The pump is that thread. It blocks in one
`selectors` call until

- a watched file descriptor is readable (`watch`) or writable (`want_write`): the pump tells the
  registered message to the registered actor;
- a worker thread posted a message (`post`, thread-safe, wakes the loop through a self-pipe);
  worker threads never call the actor system themselves;
- the next Thespian wakeup (`wakeupAfter`) is due;
- a plain callback registered with `on_readable` or `call_later` is due (the control socket, the
  daemon's own timers);

then it runs everything to completion and blocks again: no polling. Each `tell` runs the whole
cascade of messages it causes, so a burst of publishes is written in one pass (`want_write`).

`current()` is the running pump, None on multiprocTCPBase and in bare actor tests: actors ask it
whether they can watch a socket or hand blocking work to a worker thread.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import selectors
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from loguru import logger
from thespian.actors import Actor

MAX_WAIT_S = 1.0  # the longest sleep when the actor system does not say when its next wakeup is

_current: Pump | None = None


def current() -> Pump | None:
    """The pump driving the actor system of this process, or None."""
    return _current


class Nudge:
    """Sent to the pump's sink actor so that the system delivers its due wakeups."""


class Sink(Actor):
    """Receives the pump's nudges and nothing else."""

    def receiveMessage(self, message: Any, sender: Any) -> None:
        return None


class _SendQueue(deque):  # type: ignore[type-arg]
    """simpleSystemBase's queue of pending messages, as a deque: it takes them with `pop(0)`,
    which on its list is O(n), so quadratic in a burst of thousands of messages."""

    def pop(self, index: int = -1) -> Any:
        return self.popleft() if index == 0 else super().pop()


class _Wakeups:
    """simpleSystemBase looks for due wakeups before every message, by building a view of every
    pending one: a sixth of a fan-out's time. This keeps the earliest deadline and looks only
    when it is due. Its list of wakeups changes only in `_add_wakeup` and `_pop_expired_wakeups`,
    the two methods replaced (on this instance)."""

    def __init__(self, base: Any) -> None:
        self.base = base
        self.earliest: float | None = None
        self.known = False
        self.add, self.pop = base._add_wakeup, base._pop_expired_wakeups
        base._add_wakeup, base._pop_expired_wakeups = self._add_wakeup, self._pop_expired

    def _add_wakeup(self, *args: Any) -> None:
        self.add(*args)
        self.known = False

    def _pop_expired(self, now: float) -> list[Any]:
        if not self.base._wakeUps:
            return []
        if not self.known:
            deadlines = [t._time_to_quit for _, t, _ in self.base._wakeUps]
            self.earliest = min((d for d in deadlines if d is not None), default=None)
            self.known = True
        if self.earliest is None or now < self.earliest:
            return []
        self.known = False
        return list(self.pop(now))


def _speed_up(asys: Any) -> None:
    """Make simpleSystemBase cope with bursts of thousands of messages (see the two classes)."""
    base = getattr(asys, "_systemBase", None)
    if isinstance(getattr(base, "_pendingSends", None), list):
        base._pendingSends = _SendQueue(base._pendingSends)
    if hasattr(base, "_wakeUps") and hasattr(base, "_pop_expired_wakeups"):
        _Wakeups(base)


class _Fd:
    __slots__ = ("callback", "read", "write")

    def __init__(self) -> None:
        self.read: tuple[Any, Any] | None = None  # (address, message) told when readable
        self.write: tuple[Any, Any] | None = None  # (address, message) told when writable
        self.callback: Callable[[], None] | None = None  # plain callback when readable

    def events(self) -> int:
        mask = selectors.EVENT_READ if (self.read or self.callback) else 0
        return mask | (selectors.EVENT_WRITE if self.write else 0)


class SocketWatch:
    """Keeps a pump watching an actor's current socket, which changes when it reconnects: `sync`
    after every message with the socket (or None) and whether packets wait to be written."""

    def __init__(self, pump: Pump, address: Any, readable: Any, writable: Any) -> None:
        self.pump, self.address = pump, address
        self.readable, self.writable = readable, writable  # messages: fd -> message
        self.sock: Any = None
        self.fd = -1

    def sync(self, sock: Any, wants_write: bool) -> None:
        if sock is not self.sock:
            if self.sock is not None:
                self.pump.unwatch(self.fd)
            self.sock = sock
            if sock is not None:
                self.fd = sock.fileno()
                self.pump.watch(self.fd, self.address, self.readable(self.fd))
        if sock is not None and wants_write:
            self.pump.want_write(self.fd, self.address, self.writable(self.fd))


class Pump:
    """Drives one in-process actor system; see the module docstring."""

    def __init__(self, asys: Any, max_wait_s: float = MAX_WAIT_S) -> None:
        global _current
        self.asys = asys
        self.max_wait_s = max_wait_s
        _speed_up(asys)
        self.on_reply: Callable[[Any], None] = lambda message: None
        self.passes = 0  # loop iterations that did some work (for introspection and tests)
        self._selector = selectors.DefaultSelector()
        self._fds: dict[int, _Fd] = {}
        self._read_fd, self._wake_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._wake_fd, False)
        self._selector.register(self._read_fd, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._posted: deque[tuple[Any, Any]] = deque()
        self._signalled = False
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._closers: list[Callable[[], None]] = []
        self._sink: Any = None
        self._closed = False
        _current = self

    # --- registration (pump thread) ------------------------------------------------------------

    def watch(self, fd: int, address: Any, message: Any) -> None:
        """When `fd` is readable, `asys.tell(address, message)` (once per readiness)."""
        self._entry(fd).read = (address, message)
        self._update(fd)

    def unwatch(self, fd: int) -> None:
        """Forget `fd` altogether (read and write interest, callbacks)."""
        if self._fds.pop(fd, None) is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(fd)

    def want_write(self, fd: int, address: Any, message: Any) -> None:
        """Tell `message` to `address` once `fd` is writable; cleared when it has been told."""
        self._entry(fd).write = (address, message)
        self._update(fd)

    def on_readable(self, fd: int, callback: Callable[[], None]) -> None:
        """Call `callback()` on the pump thread when `fd` is readable (non-actor handlers)."""
        self._entry(fd).callback = callback
        self._update(fd)

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> None:
        """Call `callback()` on the pump thread after `delay_s` seconds."""
        heapq.heappush(
            self._timers, (time.monotonic() + max(0.0, delay_s), next(self._sequence), callback)
        )

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run `closer()` when the pump closes (worker threads stop there)."""
        self._closers.append(closer)

    # --- from any thread -----------------------------------------------------------------------

    def post(self, address: Any, message: Any) -> None:
        """Thread-safe: queue `asys.tell(address, message)` for the pump thread and wake it."""
        with self._lock:
            if self._closed:
                return  # a worker finishing after the daemon stopped
            self._posted.append((address, message))
            signalled, self._signalled = self._signalled, True
            if not signalled:
                self.wake()

    def wake(self) -> None:
        """Thread- and signal-safe: make the pump return from its wait."""
        if self._closed:
            return
        with contextlib.suppress(OSError):  # full: already awake
            os.write(self._wake_fd, b"\0")

    # --- driving the system (pump thread) ------------------------------------------------------

    def tell(self, address: Any, message: Any) -> None:
        """Run `message` and everything it causes to completion; hand replies to `on_reply`."""
        self.asys.tell(address, message)
        self._drain_replies()

    def ask(self, address: Any, message: Any, accept: type) -> Any:
        """`tell`, then return the first reply of type `accept` (None if none came)."""
        self.asys.tell(address, message)
        found = None
        while (reply := self.asys.listen(0)) is not None:
            if found is None and isinstance(reply, accept):
                found = reply
            else:
                self.on_reply(reply)
        return found

    def run(self, stop: Any) -> None:
        """Serve until `stop.requested` is true. Signals wake the loop when run on the main
        thread; otherwise set `stop.requested` and call `wake()`."""
        previous_fd = None
        if threading.current_thread() is threading.main_thread():
            previous_fd = signal.set_wakeup_fd(self._wake_fd, warn_on_full_buffer=False)
        try:
            while not stop.requested:
                self.run_once(self._timeout())
        finally:
            if previous_fd is not None:
                signal.set_wakeup_fd(previous_fd)

    def run_once(self, timeout: float | None) -> None:
        """Wait at most `timeout` seconds (None: until something happens), then do the work."""
        events = self._selector.select(timeout)
        for key, mask in events:
            if key.fd == self._read_fd:
                self._drain_pipe()
                continue
            entry = self._fds.get(key.fd)
            if entry is None:
                continue
            if mask & selectors.EVENT_WRITE and entry.write is not None:
                address, message = entry.write
                entry.write = None
                self._update(key.fd)
                self._safe_tell(address, message)
            if mask & selectors.EVENT_READ:
                if entry.callback is not None:
                    self._safe_call(entry.callback)
                if entry.read is not None:
                    self._safe_tell(*entry.read)
        with self._lock:
            posted, self._posted = self._posted, deque()
            self._signalled = False
        for address, message in posted:
            self._safe_tell(address, message)
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            self._safe_call(heapq.heappop(self._timers)[2])
        if self._wakeup_due():
            self._safe_tell(self._sink_address(), Nudge())
        self.passes += 1

    def close(self) -> None:
        global _current
        for closer in reversed(self._closers):
            self._safe_call(closer)
        self._closers.clear()
        with self._lock:
            self._closed = True
        self._selector.close()
        for fd in (self._read_fd, self._wake_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        if _current is self:
            _current = None

    # --- internals -----------------------------------------------------------------------------

    def _entry(self, fd: int) -> _Fd:
        entry = self._fds.get(fd)
        if entry is None:
            entry = self._fds[fd] = _Fd()
        return entry

    def _update(self, fd: int) -> None:
        entry = self._fds.get(fd)
        events = entry.events() if entry is not None else 0
        try:
            registered = self._selector.get_key(fd).events
        except (KeyError, ValueError):
            registered = 0
        try:
            if events and registered:
                if events != registered:
                    self._selector.modify(fd, events)
            elif events:
                self._selector.register(fd, events)
            elif registered:
                self._selector.unregister(fd)
        except (ValueError, OSError) as exc:  # a closed descriptor: forget it
            logger.warning("pump: dropping file descriptor {}: {}", fd, exc)
            self._fds.pop(fd, None)

    def _timeout(self) -> float | None:
        """Seconds until the next due thing: Thespian wakeup, own timer; None = nothing due."""
        with self._lock:
            if self._posted:
                return 0.0
        deadlines: list[float] = []
        wakeup = self._next_wakeup_s()
        if wakeup is not None:
            deadlines.append(wakeup)
        if self._timers:
            deadlines.append(max(0.0, self._timers[0][0] - time.monotonic()))
        return min(deadlines) if deadlines else None

    def _next_wakeup_s(self) -> float | None:
        """Seconds until the system's next `wakeupAfter` (simpleSystemBase keeps them in
        `_next_wakeup()`); when the base does not say, wake up every `max_wait_s`."""
        base = getattr(self.asys, "_systemBase", None)
        next_wakeup = getattr(base, "_next_wakeup", None)
        if next_wakeup is None:
            return self.max_wait_s
        try:
            timer = next_wakeup()
            if timer is None:
                return None
            return float(timer.view().remainingSeconds())
        except Exception:  # a base whose timers we cannot read: fall back to the cap
            return self.max_wait_s

    def _wakeup_due(self) -> bool:
        base = getattr(self.asys, "_systemBase", None)
        if getattr(base, "_next_wakeup", None) is None:
            return True  # cannot tell: let the system check its wakeups on every pass
        remaining = self._next_wakeup_s()
        return remaining is not None and remaining <= 0.0005

    def _sink_address(self) -> Any:
        if self._sink is None:
            self._sink = self.asys.createActor(Sink)
        return self._sink

    def _drain_pipe(self) -> None:
        try:
            while os.read(self._read_fd, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _drain_replies(self) -> None:
        while (reply := self.asys.listen(0)) is not None:
            self.on_reply(reply)

    def _safe_tell(self, address: Any, message: Any) -> None:
        try:
            self.tell(address, message)
        except Exception:
            logger.exception("pump: delivering {} failed", type(message).__name__)

    def _safe_call(self, callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:
            logger.exception("pump: callback {} failed", getattr(callback, "__name__", callback))
