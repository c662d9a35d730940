"""The pump drives simpleSystemBase: readable and writable sockets, posts from worker threads,
Thespian wakeups on time, and no work at all while nothing happens."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from thespian.actors import ActorSystem, ActorTypeDispatcher, WakeupMessage

from actors.chunked import CHUNK, ChunkedSends
from runtime import pump as pumps
from runtime.blocking import Offload
from runtime.daemon import Stop


def work() -> str:
    time.sleep(0.1)  # blocking work, off the pump
    return f"done in {threading.current_thread().name}"


class Recorder(ActorTypeDispatcher):
    """Keeps (time, message) of everything it gets; arms wakeups and offloads jobs on request."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[tuple[float, Any]] = []
        self.offload: Offload | None = None

    def receiveMsg_str(self, message: str, sender: Any) -> None:
        if message == "got?":
            self.send(sender, list(self.got))
            return
        if message == "arm":
            self.wakeupAfter(timedelta(seconds=0.2), payload="due")
        elif message == "offload":
            self.offload = Offload(self, "test-worker")
            self.offload.run(work)
        elif message == "reply":
            self.send(sender, ["a reply"])
        self.got.append((time.monotonic(), message))

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        self.got.append((time.monotonic(), message.payload))


@pytest.fixture
def pump() -> Iterator[pumps.Pump]:
    asys = ActorSystem("simpleSystemBase")
    pump = pumps.Pump(asys)
    yield pump
    pump.close()
    asys.shutdown()


def got(pump: pumps.Pump, actor: Any) -> list[Any]:
    return [m for _, m in pump.ask(actor, "got?", list)]


def run_in_thread(pump: pumps.Pump, seconds: float, during: Any = None) -> float:
    """Run the pump on another thread for `seconds` (calling `during()` meanwhile); returns the
    monotonic time at which `during` ran. Only `post` may touch the pump while it runs."""
    stop = Stop()
    stop.wakers.append(pump.wake)
    thread = threading.Thread(target=pump.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(0.05)
    at = time.monotonic()
    if during is not None:
        during()
    time.sleep(seconds)
    stop.requested = True  # wakes the pump at once
    thread.join(1)
    assert not thread.is_alive()
    return at


def test_a_readable_socket_is_told_to_its_actor_once_per_readiness(pump: pumps.Pump) -> None:
    actor = pump.asys.createActor(Recorder)
    left, right = socket.socketpair()
    with left, right:
        pump.watch(left.fileno(), actor, "readable")
        pump.run_once(0.0)
        assert got(pump, actor) == []
        right.send(b"x")
        pump.run_once(1.0)
        assert got(pump, actor) == ["readable"]
        left.recv(1)
        pump.run_once(0.0)
        pump.unwatch(left.fileno())
        right.send(b"y")
        pump.run_once(0.0)
        assert got(pump, actor) == ["readable"]


def test_write_interest_is_told_once_then_cleared(pump: pumps.Pump) -> None:
    actor = pump.asys.createActor(Recorder)
    left, right = socket.socketpair()
    with left, right:
        pump.want_write(left.fileno(), actor, "writable")
        pump.run_once(1.0)
        pump.run_once(0.0)
        assert got(pump, actor) == ["writable"]


def test_a_post_from_another_thread_wakes_the_pump_at_once(pump: pumps.Pump) -> None:
    actor = pump.asys.createActor(Recorder)
    posted = run_in_thread(pump, 0.3, lambda: pump.post(actor, "posted"))
    [(at, message)] = pump.ask(actor, "got?", list)
    assert message == "posted" and at - posted < 0.1


def test_wakeups_fire_on_time_and_an_idle_pump_does_no_work(pump: pumps.Pump) -> None:
    actor = pump.asys.createActor(Recorder)
    pump.tell(actor, "arm")
    before = pump.passes
    run_in_thread(pump, 1.0)
    (armed, _), (fired, payload) = pump.ask(actor, "got?", list)
    assert payload == "due" and 0.15 <= fired - armed < 0.9  # on time, loosely (no speed here)
    assert pump.passes - before <= 4  # the wakeup, the stop: no polling


def test_blocking_work_runs_on_a_worker_and_its_result_comes_back_as_a_message(
    pump: pumps.Pump,
) -> None:
    actor = pump.asys.createActor(Recorder)
    assert pumps.current() is pump
    pump.tell(actor, "offload")
    run_in_thread(pump, 0.4)
    assert got(pump, actor) == ["offload", "done in test-worker"]


def test_replies_to_the_outside_go_to_on_reply_and_timers_run(pump: pumps.Pump) -> None:
    actor = pump.asys.createActor(Recorder)
    replies: list[Any] = []
    pump.on_reply = replies.append
    pump.tell(actor, "reply")
    assert replies == [["a reply"]]
    called: list[float] = []
    pump.call_later(0.05, lambda: called.append(time.monotonic()))
    pump.run_once(1.0)
    assert len(called) == 1


def test_without_a_pump_blocking_work_runs_inline() -> None:
    asys = ActorSystem("simpleSystemBase")
    try:
        assert pumps.current() is None
        actor = asys.createActor(Recorder)
        asys.tell(actor, "offload")
        assert [m for _, m in asys.ask(actor, "got?", 1)] == ["offload", "done in MainThread"]
    finally:
        asys.shutdown()


class Fanner(ChunkedSends, ActorTypeDispatcher):
    """Sends `count` numbers to an actor, a chunk per pass of the pump."""

    def receiveMsg_tuple(self, message: tuple[Any, int], sender: Any) -> None:
        to, count = message
        self.send_in_chunks([(to, str(n)) for n in range(count)])


def test_a_fan_out_lets_the_pump_run_its_sockets_between_chunks(pump: pumps.Pump) -> None:
    """The orders of the first chunk leave (the MQTT socket is written) before the next chunk
    of decisions is taken: here, a readable socket is served between two chunks."""
    recorder, fanner = pump.asys.createActor(Recorder), pump.asys.createActor(Fanner)
    left, right = socket.socketpair()
    with left, right:
        pump.watch(left.fileno(), recorder, "readable")
        pump.tell(fanner, (recorder, CHUNK * 2 + 200))
        right.send(b"x")
        for _ in range(4):
            pump.run_once(0.0)
        received = got(pump, recorder)
    assert received.index("readable") == CHUNK  # (told again at every pass: never read)
    assert [m for m in received if m != "readable"] == [str(n) for n in range(CHUNK * 2 + 200)]
