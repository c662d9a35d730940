"""K partition processes on one host: start, watch, restart, stop; the combined status.

With `[supervisor] partitions = K > 1` the daemon does not run actors itself: it starts K
processes of the same program (`elfe-supervisor run --config FILE --partition k/K`, through
`subprocess`, never a fork of this process), each a complete in-process actor system owning the
households that hash to it (`protocol/partition.py`). It then

- restarts a partition process that dies, after 1, 2, 5, 10 s; when one dies 5 times within
  5 minutes it stops the others and exits 1, so that systemd restarts everything;
- pings every partition on its control socket every 10 s: one that answered once and then
  misses 3 pings in a row (its loop is stuck) is killed, and restarted as a dead one;
- stops with 2 at once when a partition exits with 2 (its configuration or state_dir is wrong);
- forwards SIGTERM/SIGINT to every partition, waits for them (`STOP_TIMEOUT_S`, then SIGKILL),
  and exits 0 when every one stopped cleanly;
- publishes the combined `<base>/status` (retained, with its own LWT) from the partitions'
  `<base>/status/<k>` and from what it knows of their processes (`runtime/status.py`);
- under systemd (`Type=notify`) it is the main process: READY=1 once every partition is online,
  STATUS= with the partitions online, WATCHDOG=1 while its watch loop turns, STOPPING=1.

This process has no thread: the MQTT client is driven by `loop()` in the watch loop.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from protocol import partition as partitioning
from protocol.config import Config
from protocol.partition import Partition, RestartPolicy
from runtime import control, systemd
from runtime.daemon import EXIT_CONFIG, Stop, configure_logging
from runtime.status import StatusRelay

STOP_TIMEOUT_S = 20.0  # a partition publishes offline and closes its gateways well within this
LOOP_S = 0.2
PING_TIMEOUT_S = 2.0
PARENT_ENV = "ELFE_SUPERVISOR_PARENT"  # the daemon's pid, given to its partition processes
RESTARTS = RestartPolicy()
SYSTEMD_ONLY = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Child:
    """One partition process and its history of deaths (monotonic times)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: subprocess.Popen[bytes] | None = None
        self.deaths: list[float] = []
        self.restart_at: float | None = None
        self.answered = False  # its control socket answered a ping since it started
        self.missed = 0
        self.next_ping = 0.0


def command(config_path: str, share: Partition) -> list[str]:
    """The command line of one partition process: this program, with the internal option."""
    return [
        sys.executable,
        "-m",
        "supervisor",
        "run",
        "--config",
        str(config_path),
        "--partition",
        str(share),
    ]


Command = Callable[[str, Partition], list[str]]


def run_partitions(
    config: Config,
    config_path: str,
    stop: Stop | None = None,
    policy: RestartPolicy = RESTARTS,
    spawn: Command = command,
) -> int:
    """Run K partition processes until SIGTERM/SIGINT (or `stop.requested`); the exit code."""
    configure_logging(config.supervisor.log_level)
    count = config.supervisor.partitions
    try:
        Path(config.supervisor.state_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"elfe-supervisor: state_dir {config.supervisor.state_dir}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if stop is None:
        stop = Stop()
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    status = StatusRelay(config, count)
    children = [Child(k) for k in range(count)]
    code = 0
    try:

        def argv(index: int) -> list[str]:
            return spawn(config_path, Partition(index, count))

        def socket_of(index: int) -> Path:
            return control.control_path(config.supervisor.state_dir, index)

        for child in children:
            _start(child, argv(child.index), status)
        logger.info("{} partitions started", count)
        notifier = Notifier()
        while not stop.requested and code == 0:
            code = _watch(children, argv, policy, status)
            for child in children:
                _ping(child, socket_of(child.index), policy)
            status.loop(LOOP_S)
            notifier.update(status.state)
    finally:
        systemd.stopping()
        stopped_cleanly = _stop_all(children)
        status.close()
    if code == 0 and not stopped_cleanly:
        code = 1
    logger.info("stopped (exit code {})", code)
    return code


class Notifier:
    """systemd notifications of the daemon: READY=1 once, STATUS= on change, WATCHDOG=1."""

    def __init__(self) -> None:
        self.ready = False
        self.shown = ""
        self.interval = systemd.watchdog_interval()
        self.pinged = 0.0

    def update(self, state: tuple[str, int, int]) -> None:
        word, online, count = state
        text = f"{online}/{count} partitions online"
        if word == "online" and not self.ready:
            self.ready = True
            systemd.ready(text)
            logger.info("every partition is online")
        elif text != self.shown:
            systemd.status(text)
        self.shown = text
        now = time.monotonic()
        if self.interval is not None and now - self.pinged >= self.interval / 2:
            self.pinged = now
            systemd.watchdog()


def _start(child: Child, argv: list[str], status: StatusRelay) -> None:
    status.process_started(child.index)
    # This process is the one systemd knows: the partitions never notify it themselves.
    env = {k: v for k, v in os.environ.items() if k not in SYSTEMD_ONLY}
    env[PARENT_ENV] = str(os.getpid())
    child.process = subprocess.Popen(argv, env=env, close_fds=True)
    child.restart_at = None
    child.answered, child.missed = False, 0
    logger.info("partition {} started, pid {}", child.index, child.process.pid)


def _watch(
    children: list[Child],
    argv: Callable[[int], list[str]],
    policy: RestartPolicy,
    status: StatusRelay,
) -> int:
    """Reap dead partitions and restart them when due; non-zero when the daemon must exit."""
    now = time.monotonic()
    for child in children:
        process = child.process
        if process is not None and process.poll() is not None:
            child.process = None
            child.deaths.append(now)
            status.process_down(child.index)
            if process.returncode == EXIT_CONFIG:
                logger.critical("partition {} exited with 2 (configuration): stopping", child.index)
                return EXIT_CONFIG
            delay = policy.delay(child.deaths, now)
            if delay is None:
                logger.critical(
                    "partition {} died {} times within {:.0f} s: stopping so systemd restarts us",
                    child.index,
                    policy.max_deaths,
                    policy.window_s,
                )
                return 1
            logger.error(
                "partition {} (pid {}) died with {}; restarting it in {:.0f} s",
                child.index,
                process.pid,
                process.returncode,
                delay,
            )
            child.restart_at = now + delay
        if child.process is None and child.restart_at is not None and now >= child.restart_at:
            _start(child, argv(child.index), status)
    return 0


def _ping(child: Child, path: Path, policy: RestartPolicy) -> None:
    """Kill a partition whose loop no longer answers (the watch loop then restarts it)."""
    now = time.monotonic()
    if child.process is None or now < child.next_ping:
        return
    child.next_ping = now + policy.ping_every_s
    try:
        control.request(path, {"ping": True}, timeout=PING_TIMEOUT_S)
    except (OSError, ValueError):
        if child.answered:
            child.missed += 1
    else:
        child.answered, child.missed = True, 0
    if child.missed >= policy.ping_misses:
        logger.error(
            "partition {} (pid {}) missed {} pings on {}: killing it",
            child.index,
            child.process.pid,
            child.missed,
            path,
        )
        child.process.kill()
        child.missed = 0


def _stop_all(children: list[Child]) -> bool:
    """SIGTERM every live partition, wait, SIGKILL the late ones; True when all exited 0."""
    live = [c.process for c in children if c.process is not None and c.process.poll() is None]
    for process in live:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    clean = True
    for process in live:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.error("partition pid {} still running after SIGTERM: killing it", process.pid)
            process.kill()
            process.wait()
        if process.returncode != 0:
            clean = False
    return clean


def die_with_parent() -> None:
    """In a partition process: receive SIGTERM if the daemon that started it dies (Linux)."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if str(os.getppid()) != parent:  # the daemon died before the prctl
        os.kill(os.getpid(), signal.SIGTERM)


def share_of(text: str, config: Config) -> Partition:
    """The `--partition k/K` of a partition process; must agree with `partitions = K`."""
    share = partitioning.parse(text)
    if share.count != config.supervisor.partitions:
        raise partitioning.PartitionError(
            f"--partition {text}: the configuration says partitions = "
            f"{config.supervisor.partitions}"
        )
    return share


# --- introspection and the combined status of several hosts -------------------------------------


def partition_sockets(state_dir: str | Path) -> dict[int, Path]:
    """The control sockets `control-<k>.sock` of the partitions running from this state_dir."""
    found = {}
    for path in Path(state_dir).glob("control-*.sock"):
        index = path.name[len("control-") : -len(".sock")]
        if index.isascii() and index.isdigit():
            found[int(index)] = path
    return dict(sorted(found.items()))


def answers(path: Path) -> bool:
    """Whether a daemon answers on this control socket (a crashed one may leave the file)."""
    try:
        control.request(path, {"ping": True}, timeout=PING_TIMEOUT_S)
    except (OSError, ValueError):
        return False
    return True


def inspect_partitions(sockets: dict[int, Path], query: dict[str, Any]) -> dict[str, Any]:
    """Ask every partition's control socket and combine the answers."""
    replies: dict[int, dict[str, Any]] = {}
    for index, path in sockets.items():
        try:
            replies[index] = control.request(path, query)
        except (OSError, ValueError) as exc:
            replies[index] = {"error": f"no answer on {path}: {exc}"}
    return partitioning.combine_introspection(replies, query)
