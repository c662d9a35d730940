"""elfe-supervisor command line: run · demo · inspect · check-config.

`run` is the systemd daemon (`runtime/daemon.py`); `inspect` asks a running one through its
control socket (`runtime/control.py`).
"""

from __future__ import annotations

import argparse
import json
import sys

from protocol.config import ConfigError, load_config
from runtime import control
from runtime.daemon import EXIT_CONFIG, Stop, run_supervisor

__all__ = ["Stop", "main", "run_supervisor"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="elfe-supervisor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the supervisor (the systemd daemon)")
    run.add_argument("--config", required=True, help="TOML configuration file")
    check = commands.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("--config", required=True)
    inspect = commands.add_parser("inspect", help="show the state of a running supervisor")
    where = inspect.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", help="the daemon's configuration file (for its state_dir)")
    where.add_argument("--state-dir", help="the daemon's state directory")
    inspect.add_argument("equipment", nargs="?", type=int, help="one equipment id")
    inspect.add_argument("--gateway", choices=["mqtt", "db", "plans", "clock"])
    demo = commands.add_parser("demo", help="run an embedded demonstration, end to end")
    demo.add_argument("--seconds", type=float, default=90.0, help="how long to run")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from simulators.demo import run_demo

        return run_demo(args.seconds)
    if args.command == "inspect" and args.state_dir:
        return inspect_running(args.state_dir, args.equipment, args.gateway)
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
        return 0
    if args.command == "inspect":
        return inspect_running(config.supervisor.state_dir, args.equipment, args.gateway)
    return run_supervisor(config)


def inspect_running(state_dir: str, equipment: int | None, gateway: str | None) -> int:
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
    print(json.dumps(reply, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
