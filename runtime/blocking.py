"""Blocking work (psycopg: connects, queries, write batches) kept off the pump thread.

`Offload(actor, name)` gives an actor one worker thread with a job queue when a pump drives the
system: `run(job)` queues `job()` on the worker, whose result (a message) comes back to the
actor through `Pump.post`, so that a slow or hung database never delays MQTT handling. Jobs run
one after the other, in the order they were queued. Without a pump (multiprocTCPBase, where each
actor is its own process, or a bare actor test) the job runs inline and the actor sends its
result to itself: the actor's code is the same on both.

A job that raises comes back as `JobFailed`. `NotifyThread` is a long-lived blocking loop of the
same kind (the LISTEN connection of the PlanReader).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from protocol.messages import JobFailed
from runtime import pump as pumps

CLOSE_TIMEOUT_S = 5.0
RETRY_MAX_S = 10.0
_STOP = object()


def _call(job: Callable[[], Any]) -> Any:
    try:
        return job()
    except Exception as exc:
        logger.exception("blocking job failed")
        return JobFailed(f"{type(exc).__name__}: {exc}")


class Worker:
    """One daemon thread running jobs in submission order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self.jobs.put(job)

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> bool:
        """Let the queued jobs finish (at most `timeout` s); True when the thread ended. A thread
        stuck in a hung database call is left behind (it is a daemon thread)."""
        self.jobs.put(_STOP)
        self.thread.join(timeout)
        if self.thread.is_alive():
            logger.warning("{}: still blocked after {:.0f} s, left behind", self.name, timeout)
            return False
        return True

    def _serve(self) -> None:
        while (job := self.jobs.get()) is not _STOP:
            try:
                job()
            except Exception:
                logger.exception("{}: job failed", self.name)


class Offload:
    """An actor's blocking work: see the module docstring."""

    def __init__(self, actor: Any, name: str) -> None:
        self.actor = actor
        self.address = actor.myAddress
        self.pump = pumps.current()
        self.worker: Worker | None = None
        if self.pump is not None:
            self.worker = Worker(name)
            self.pump.on_close(self.close)

    @property
    def threaded(self) -> bool:
        return self.worker is not None

    def run(self, job: Callable[[], Any]) -> None:
        """Run `job()` off the pump; its result (a message) is delivered to the actor."""
        if self.worker is None or self.pump is None:
            self.actor.send(self.address, _call(job))
            return
        pump, address = self.pump, self.address
        self.worker.submit(lambda: pump.post(address, _call(job)))

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.close(timeout)


class NotifyThread:
    """A daemon thread running `loop(stopped)` until `close()`; `loop` returns when `stopped()`
    is true (it should check at least every second or so) and is restarted after an error."""

    def __init__(self, name: str, loop: Callable[[Callable[[], bool]], None]) -> None:
        self.name, self.loop = name, loop
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        delay = 1.0
        while not self.stopping.is_set():
            began = time.monotonic()
            try:
                self.loop(self.stopping.is_set)
            except Exception as exc:
                logger.debug("{}: {}", self.name, exc)
            if time.monotonic() - began > RETRY_MAX_S:
                delay = 1.0  # it ran for a while: the next failure starts the backoff again
            self.stopping.wait(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    def close(self, timeout: float = 2.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)
