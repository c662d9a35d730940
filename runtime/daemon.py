"""The supervisor daemon: starts the actor system, waits until every actor is up, serves the
control socket, and stops everything on SIGTERM/SIGINT (or `stop.requested`).

- `simpleSystemBase` (the default): every actor runs in this process, driven by the pump
  (`runtime/pump.py`) on the calling thread; blocking database work runs in worker threads
  (`runtime/blocking.py`); no TCP socket is listening.
- `multiprocTCPBase` (an option): one process per actor, every socket bound to 127.0.0.1
  (`runtime/loopback.py`); this process stays as the thin starter that systemd supervises.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from protocol import introspection
from protocol.config import Config
from protocol.partition import state_file
from runtime import control, logs
from runtime.service import Service, startup_check

SUPERVISOR_NAME = "elfe-supervisor"
EXIT_CONFIG = 2
SHUTDOWN_TIMEOUT_S = 5.0


class Stop:
    """Set `requested` (or deliver SIGTERM/SIGINT) to stop the daemon; it wakes the pump."""

    def __init__(self) -> None:
        self._requested = False
        self.wakers: list[Callable[[], None]] = []

    @property
    def requested(self) -> bool:
        return self._requested

    @requested.setter
    def requested(self, value: bool) -> None:
        self._requested = value
        for wake in list(self.wakers):
            wake()

    def __call__(self, signum: int, frame: Any) -> None:
        self.requested = True


def configure_logging(level: str, levels: dict[str, str] | None = None) -> None:
    """journald's native protocol under systemd, a human format elsewhere (runtime/logs.py)."""
    logs.configure(level, levels)


def thespian_log_defs(level: str = "WARNING", in_process: bool = False) -> dict[str, Any]:
    """Thespian's own logging: in-process through loguru (one journal entry with its
    priority), from its separate logger process (multiprocTCPBase) to stderr."""
    handler: dict[str, Any] = (
        {"()": "runtime.logs.InterceptHandler", "level": level}
        if in_process
        else {"class": "logging.StreamHandler", "formatter": "plain", "level": level}
    )
    return {
        "version": 1,
        "formatters": {"plain": {"()": "runtime.logs.PriorityFormatter"}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level},
    }


def admin_port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_actor_system(config: Config) -> Any:
    from thespian.actors import ActorSystem

    base = config.supervisor.system_base
    if base == "simpleSystemBase":
        return ActorSystem("simpleSystemBase", logDefs=thespian_log_defs(in_process=True))
    from runtime.loopback import enforce_loopback

    enforce_loopback()  # the transport is unauthenticated pickle: never reachable from afar
    log = state_file("thespian.log", config.supervisor.share)
    os.environ.setdefault("THESPLOG_FILE", str(Path(config.supervisor.state_dir) / log))
    return ActorSystem(
        base, {"Admin Port": config.supervisor.admin_port}, logDefs=thespian_log_defs()
    )


class Starter:
    """What the starter does with the messages the Supervisor sends it."""

    def __init__(self, config: Config, ready: Any) -> None:
        self.config, self.ready = config, ready
        self.started = time.monotonic()
        self.announced = False
        self.fatal = False
        self.deadline = self.started + config.supervisor.ready_timeout_seconds
        self.service: Service | None = None  # systemd's view: status, readiness, watchdog

    def on_reply(self, message: Any) -> None:
        from protocol.messages import Started

        if isinstance(message, Started) and not self.announced:
            self.announced = True
            logger.info(
                "started in {:.2f} s: {} equipment, {} devices, {} faulty",
                time.monotonic() - self.started,
                message.equipment,
                message.devices,
                message.problems,
            )
            if self.service is not None:
                self.service.ready(message.equipment, message.devices, message.problems)
            if self.ready is not None:
                self.ready(message)
        elif isinstance(message, str) and message.startswith("fatal"):
            logger.critical(message)
            self.fatal = True

    def check_alive(self) -> None:
        """A liveness round (runtime/service.py); a dead core is fatal."""
        if self.service is not None and not self.service.check():
            self.fatal = True

    def stopped(self, code: int) -> int:
        if self.service is not None:
            self.service.stopping()
        logger.info("stopped (exit code {})", code)
        return code

    def check_ready(self) -> float:
        """Warn when start-up takes too long; returns the seconds until the next check."""
        if not self.announced and time.monotonic() > self.deadline:
            elapsed = time.monotonic() - self.started
            logger.warning("not ready after {:.0f} s; still trying", elapsed)
            self.deadline = time.monotonic() + self.config.supervisor.ready_timeout_seconds
        return max(0.1, self.deadline - time.monotonic())


def run_supervisor(config: Config, ready: Any = None, stop: Stop | None = None) -> int:
    """Start, wait for readiness, then serve until SIGTERM/SIGINT (or `stop.requested`)."""
    configure_logging(config.supervisor.log_level, config.supervisor.log_levels)
    try:
        Path(config.supervisor.state_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"elfe-supervisor: state_dir {config.supervisor.state_dir}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    base = config.supervisor.system_base
    if base != "simpleSystemBase" and admin_port_in_use(config.supervisor.admin_port):
        print(
            f"elfe-supervisor: admin port {config.supervisor.admin_port} is already in use "
            "(another elfe-supervisor running?)",
            file=sys.stderr,
        )
        return 1
    if control.answers(control_path(config)):
        print(
            f"elfe-supervisor: another elfe-supervisor answers on {control_path(config)}",
            file=sys.stderr,
        )
        return 1
    if not startup_check(config):
        return 1
    stop = stop or Stop()
    if ready is None:  # a library caller (tests, demo) handles signals itself
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    starter = Starter(config, ready)
    if base == "simpleSystemBase":
        return _run_in_process(config, starter, stop)
    return _run_multiproc(config, starter, stop)


def _ping(config: Config) -> dict[str, Any]:
    return {"pong": True, "pid": os.getpid(), "system_base": config.supervisor.system_base}


def _run_in_process(config: Config, starter: Starter, stop: Stop) -> int:
    from actors.supervisor import Supervisor
    from protocol.messages import Introspect, IntrospectReply, Shutdown, ShutdownDone, Start
    from runtime.pump import Pump

    asys = start_actor_system(config)
    pump = Pump(asys)

    def on_reply(message: Any) -> None:
        starter.on_reply(message)
        if starter.fatal:
            stop.requested = True

    pump.on_reply = on_reply
    stop.wakers.append(pump.wake)
    try:
        supervisor = asys.createActor(Supervisor, globalName=SUPERVISOR_NAME)

        def ask(message: Introspect) -> dict[str, Any]:
            reply = pump.ask(supervisor, message, IntrospectReply)
            return dict(reply.data) if reply is not None else {"error": "no answer"}

        def handle(request: dict[str, Any]) -> dict[str, Any]:
            if request.get("ping"):
                return _ping(config)
            return introspection.view(ask, request, time.time())

        control.PumpControl(control_path(config), pump, handle)
        starter.service = service = Service(config, handle)

        def check_ready() -> None:
            if not starter.announced:
                pump.call_later(starter.check_ready(), check_ready)

        def check_alive() -> None:
            starter.check_alive()
            if starter.fatal:
                stop.requested = True
            else:
                pump.call_later(service.every_s, check_alive)

        pump.call_later(starter.check_ready(), check_ready)
        pump.call_later(service.every_s, check_alive)
        pump.tell(supervisor, Start(config))
        pump.run(stop)
        if starter.fatal:
            return starter.stopped(1)
        logger.info("stopping")
        service.stopping()
        pump.ask(supervisor, Shutdown(), ShutdownDone)
        return starter.stopped(0)
    finally:
        stop.wakers.remove(pump.wake)
        pump.close()
        asys.shutdown()


def _run_multiproc(config: Config, starter: Starter, stop: Stop) -> int:
    from actors.supervisor import Supervisor
    from protocol.messages import Introspect, IntrospectReply, Shutdown, Start

    asys = start_actor_system(config)
    server: control.ThreadControl | None = None
    try:
        supervisor = asys.createActor(Supervisor, globalName=SUPERVISOR_NAME)

        def ask(message: Introspect) -> dict[str, Any]:
            with asys.private() as context:
                reply = context.ask(supervisor, message, 5)
            if not isinstance(reply, IntrospectReply):
                return {"error": "no answer from the supervisor within 5 s"}
            return dict(reply.data)

        def handle(request: dict[str, Any]) -> dict[str, Any]:
            if request.get("ping"):
                return _ping(config)
            return introspection.view(ask, request, time.time())

        server = control.ThreadControl(control_path(config), handle)
        starter.service = service = Service(config, handle)
        next_check = time.monotonic() + service.every_s
        asys.tell(supervisor, Start(config))
        while not stop.requested:
            message = asys.listen(0.5)
            if message is not None:
                starter.on_reply(message)
            if time.monotonic() >= next_check:
                starter.check_alive()
                next_check = time.monotonic() + service.every_s
            if starter.fatal:
                return starter.stopped(1)
            starter.check_ready()
        logger.info("stopping")
        service.stopping()
        asys.ask(supervisor, Shutdown(), SHUTDOWN_TIMEOUT_S)
        return starter.stopped(0)
    finally:
        if server is not None:
            server.close()
        asys.shutdown()


def control_path(config: Config) -> Path:
    share = config.supervisor.share  # partition k listens on control-<k>.sock
    return control.control_path(config.supervisor.state_dir, share.index if share else None)
