"""elfe-supervisor command line: run · demo · inspect · check-config.

`run` is the systemd daemon: it starts the actor system, waits until every actor is up, then
stays as the thin starter process that systemd supervises; SIGTERM stops everything.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from loguru import logger

from protocol.config import Config, ConfigError, load_config

SUPERVISOR_NAME = "elfe-supervisor"
EXIT_CONFIG = 2
DEFAULT_CONFIG = "/etc/elfe-supervisor/config.toml"


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("elfe-supervisor")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="elfe-supervisor", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    config_help = f"TOML configuration file (default {DEFAULT_CONFIG})"
    run = commands.add_parser("run", help="run the supervisor (the systemd daemon)")
    run.add_argument("--config", default=DEFAULT_CONFIG, help=config_help)
    check = commands.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("--config", default=DEFAULT_CONFIG, help=config_help)
    check.add_argument(
        "--online",
        action="store_true",
        help="also connect to both databases and the broker: credentials, grants, schema, "
        "what would be driven; exit 1 on any problem",
    )
    inspect = commands.add_parser("inspect", help="show the state of a running supervisor")
    inspect.add_argument("--config", default=DEFAULT_CONFIG, help=config_help)
    inspect.add_argument("equipment", nargs="?", type=int, help="one equipment id")
    inspect.add_argument("--gateway", choices=["mqtt", "db", "plans", "clock"])
    demo = commands.add_parser("demo", help="run an embedded demonstration, end to end")
    demo.add_argument("--seconds", type=float, default=90.0, help="how long to run")
    args = parser.parse_args(argv)

    if args.command == "demo":
        try:
            from simulators.demo import run_demo
        except ImportError:
            print(
                "elfe-supervisor: the demo needs the simulators: pip install -e ./simulators "
                "(scripts/demo.sh does it)",
                file=sys.stderr,
            )
            return 1

        return run_demo(args.seconds)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"elfe-supervisor: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "check-config":
        print(
            f"{args.config}: valid ({config.supervisor.system_base}, "
            f"broker {config.mqtt.host}:{config.mqtt.port})"
        )
        return check_online(config) if args.online else 0
    if args.command == "inspect":
        return inspect_running(config, args.equipment, args.gateway)
    return run_supervisor(config)


def check_online(config: Config) -> int:
    from runtime.preflight import check_online as check

    report = check(config)
    for line in report.lines:
        print(line)
    for line in report.warnings:
        print(f"warning: {line}")
    for line in report.problems:
        print(f"problem: {line}")
    print("online check: " + ("ok" if report.ok else f"{len(report.problems)} problem(s)"))
    return 0 if report.ok else 1


def configure_logging(level: str) -> None:
    logger.remove()
    logger.add(
        sys.stderr,
        level=level,
        format="{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} [{process}] {message}",
        backtrace=False,
        diagnose=False,
    )


def thespian_log_defs(level: str = "WARNING") -> dict[str, Any]:
    """Thespian's own logging (a dedicated logger process) goes to stderr too."""
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [thespian] %(message)s"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "level": level}
        },
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
        return ActorSystem("simpleSystemBase", logDefs=thespian_log_defs())
    # The transport is unauthenticated pickle: keep it on loopback (see deploy/README.md).
    os.environ.setdefault("THESPIAN_BASE_IPADDR", "127.0.0.1")
    os.environ.setdefault("THESPLOG_FILE", str(Path(config.supervisor.state_dir) / "thespian.log"))
    return ActorSystem(
        base, {"Admin Port": config.supervisor.admin_port}, logDefs=thespian_log_defs()
    )


class Stop:
    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.requested = True


def run_supervisor(config: Config, ready: Any = None, stop: Stop | None = None) -> int:
    """Start, wait for readiness, then serve until SIGTERM/SIGINT (or `stop.requested`)."""
    from actors.supervisor import Supervisor
    from protocol.messages import Shutdown, Start, Started

    configure_logging(config.supervisor.log_level)
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
    stop = stop or Stop()
    if ready is None:  # a library caller (tests, demo) handles signals itself
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    started = time.monotonic()
    asys = start_actor_system(config)
    try:
        supervisor = asys.createActor(Supervisor, globalName=SUPERVISOR_NAME)
        asys.tell(supervisor, Start(config))
        announced = False
        deadline = started + config.supervisor.ready_timeout_seconds
        while not stop.requested:
            message = asys.listen(0.5)
            if isinstance(message, Started) and not announced:
                announced = True
                logger.info(
                    "started in {:.2f} s: {} equipment, {} devices, {} faulty",
                    time.monotonic() - started,
                    message.equipment,
                    message.devices,
                    message.problems,
                )
                if ready is not None:
                    ready(message)
            elif isinstance(message, str) and message.startswith("fatal"):
                logger.critical(message)
                return 1
            if not announced and time.monotonic() > deadline:
                logger.warning("not ready after {:.0f} s; still trying", time.monotonic() - started)
                deadline = time.monotonic() + config.supervisor.ready_timeout_seconds
            if message is None and base == "simpleSystemBase":
                time.sleep(0.01)  # the simple base returns at once when nothing is pending
        logger.info("stopping")
        asys.ask(supervisor, Shutdown(), 5)
        return 0
    finally:
        asys.shutdown()


def inspect_running(config: Config, equipment: int | None, gateway: str | None) -> int:
    """Attach to the running actor system on its admin port; never shut it down."""
    from thespian.actors import ActorSystem

    from actors.supervisor import Supervisor
    from protocol.messages import Introspect, IntrospectReply

    if config.supervisor.system_base != "multiprocTCPBase":
        print("elfe-supervisor: inspect needs system_base = multiprocTCPBase", file=sys.stderr)
        return 1
    port = config.supervisor.admin_port
    if not admin_port_in_use(port):
        print(f"elfe-supervisor: no supervisor is running on admin port {port}", file=sys.stderr)
        return 1
    os.environ.setdefault("THESPIAN_BASE_IPADDR", "127.0.0.1")
    asys = ActorSystem("multiprocTCPBase", {"Admin Port": port}, logDefs=False)
    supervisor = asys.createActor(Supervisor, globalName=SUPERVISOR_NAME)
    reply = asys.ask(supervisor, Introspect(equipment=equipment, gateway=gateway), 5)
    if not isinstance(reply, IntrospectReply):
        print("elfe-supervisor: no answer within 5 s", file=sys.stderr)
        return 1
    print(json.dumps(reply.data, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
