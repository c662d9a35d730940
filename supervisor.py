"""elfe-supervisor command line: run · demo · inspect · health · check-config.

`run` is the systemd daemon (`runtime/daemon.py`); `inspect` and `health` ask a running one
through its control socket (`runtime/control.py`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from protocol.config import Config, ConfigError, load_config
from runtime import control
from runtime.daemon import EXIT_CONFIG, Stop, run_supervisor

__all__ = ["Stop", "main", "run_supervisor"]

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
    _where(inspect, config_help)
    inspect.add_argument("equipment", nargs="?", type=int, help="one equipment id")
    inspect.add_argument("--gateway", choices=["mqtt", "db", "plans", "clock"])
    view = inspect.add_mutually_exclusive_group()
    view.add_argument("--json", action="store_const", const="json", dest="view", help="JSON")
    view.add_argument(
        "--table",
        action="store_const",
        const="table",
        dest="view",
        help="text for people, 100 columns (the default on a terminal; JSON otherwise)",
    )
    health = commands.add_parser(
        "health", help="one JSON object for monitoring (Zabbix); exit 0 even when it is down"
    )
    _where(health, config_help)
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
    if args.command == "inspect" and args.state_dir:
        return inspect_running(args.state_dir, args.equipment, args.gateway, args.view)
    if args.command == "health" and args.state_dir:
        return print_health(args.state_dir)
    try:
        config = load_config(args.config or DEFAULT_CONFIG)
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
        return inspect_running(config.supervisor.state_dir, args.equipment, args.gateway, args.view)
    if args.command == "health":
        return print_health(config.supervisor.state_dir)
    return run_supervisor(config)


def _where(command: argparse.ArgumentParser, config_help: str) -> None:
    where = command.add_mutually_exclusive_group()
    where.add_argument("--config", help=f"the daemon's {config_help} (for its state_dir)")
    where.add_argument("--state-dir", help="the daemon's state directory")


def check_online(config: Config) -> int:
    from runtime.preflight import check_online as check

    report = check(config)
    for line in report.lines:
        print(line)
    for line in report.warnings:
        print(f"warning: {line}")
    for line in report.problems + report.unreachable:
        print(f"problem: {line}")
    count = len(report.problems) + len(report.unreachable)
    print("online check: " + ("ok" if report.ok else f"{count} problem(s)"))
    return 0 if report.ok else 1


def inspect_running(
    state_dir: str, equipment: int | None, gateway: str | None, view: str | None = None
) -> int:
    """Ask the running supervisor through its control socket; exit 1 with one clear line."""
    path = control.control_path(state_dir)
    query: dict[str, object] = {}
    if equipment is not None:
        query["equipment"] = equipment
    if gateway is not None:
        query["gateway"] = gateway
    try:
        reply = control.request(path, query)
    except (OSError, ValueError) as exc:
        print(f"elfe-supervisor: no supervisor answers on {path}: {exc}", file=sys.stderr)
        return 1
    if "error" in reply:
        print(f"elfe-supervisor: {reply['error']}", file=sys.stderr)
        return 1
    if (view or ("table" if sys.stdout.isatty() else "json")) == "table":
        from protocol.inspect_view import render

        print(render(reply))
    else:
        print(json.dumps(reply, indent=2, ensure_ascii=False, default=str))
    return 0


def print_health(state_dir: str) -> int:
    """The health document (protocol/health.py); {"alive": 0, ...} when nothing answers."""
    from protocol.health import health

    path = control.control_path(state_dir)

    def ask(query: dict[str, object]) -> dict[str, object] | None:
        try:
            reply = control.request(path, query)
        except (OSError, ValueError):
            return None
        return None if "error" in reply else reply

    ping = ask({"ping": True})
    replies = {}
    if ping is not None:
        replies = {
            "overview": ask({}),
            **{name: ask({"gateway": name}) for name in ("mqtt", "db", "plans")},
        }
    print(json.dumps(health(time.time(), ping, **replies)))  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
