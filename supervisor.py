"""elfe-supervisor command line: run · demo · inspect · status · check-config.

`run` is the systemd daemon (`runtime/daemon.py`; with `partitions = K > 1` it starts and watches
K partition processes, `runtime/partitions.py`); `inspect` asks a running one through its control
socket(s) (`runtime/control.py`); `status` combines the statuses of the partitions of several
hosts from the broker.
"""

from __future__ import annotations

import argparse
import json
import sys

from protocol.config import Config, ConfigError, load_config, with_partition
from protocol.partition import MAX_PARTITIONS, PartitionError
from runtime import control, partitions, status
from runtime.daemon import EXIT_CONFIG, Stop, run_supervisor

__all__ = ["Stop", "main", "run_supervisor"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="elfe-supervisor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the supervisor (the systemd daemon)")
    run.add_argument("--config", required=True, help="TOML configuration file")
    run.add_argument("--partition", help=argparse.SUPPRESS)  # "k/K": a process started by run
    check = commands.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("--config", required=True)
    inspect = commands.add_parser("inspect", help="show the state of a running supervisor")
    where = inspect.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", help="the daemon's configuration file (for its state_dir)")
    where.add_argument("--state-dir", help="the daemon's state directory")
    inspect.add_argument("equipment", nargs="?", type=int, help="one equipment id")
    inspect.add_argument("--gateway", choices=["mqtt", "db", "plans", "clock"])
    state = commands.add_parser(
        "status", help="the combined status of every partition, read from the broker"
    )
    state.add_argument("--config", required=True)
    state.add_argument("--wait", type=float, default=2.0, help="seconds to wait for the broker")
    state.add_argument(
        "--partitions", type=int, help="how many partitions (default: from the configuration)"
    )
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
    if args.command == "status":
        return show_status(config, args.wait, args.partitions)
    if args.partition:
        try:
            share = partitions.share_of(args.partition, config)
        except PartitionError as exc:
            print(f"elfe-supervisor: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        partitions.die_with_parent()
        return run_supervisor(with_partition(config, share))
    if config.supervisor.partitions > 1:
        return partitions.run_partitions(config, args.config)
    return run_supervisor(config)


def inspect_running(state_dir: str, equipment: int | None, gateway: str | None) -> int:
    """Ask the running supervisor through its control socket; exit 1 with one clear line."""
    path = control.control_path(state_dir)
    query: dict[str, object] = {}
    if equipment is not None:
        query["equipment"] = equipment
    if gateway is not None:
        query["gateway"] = gateway
    sockets = partitions.partition_sockets(state_dir)
    try:
        if sockets and not partitions.answers(path):  # partitions: ask every one, combine
            reply = partitions.inspect_partitions(sockets, query)
        else:
            reply = control.request(path, query)
    except (OSError, ValueError) as exc:
        print(f"elfe-supervisor: no supervisor answers on {path}: {exc}", file=sys.stderr)
        return 1
    if "error" in reply:
        print(f"elfe-supervisor: {reply['error']}", file=sys.stderr)
        return 1
    print(json.dumps(reply, indent=2, ensure_ascii=False, default=str))
    return 0


def show_status(config: Config, wait_s: float, count: int | None = None) -> int:
    """Print the combined status of the partitions; exit 0 only when every one is online."""
    share = config.supervisor.share
    if count is None:
        count = share.count if share is not None else config.supervisor.partitions
    if not 1 <= count <= MAX_PARTITIONS:
        print(f"elfe-supervisor: --partitions must be 1 to {MAX_PARTITIONS}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        document = status.read_status(config, count, wait_s)
    except (OSError, ValueError) as exc:
        print(
            f"elfe-supervisor: MQTT broker {config.mqtt.host}:{config.mqtt.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    print(document.decode(errors="replace"))
    try:
        return 0 if json.loads(document)["state"] == "online" else 1
    except (ValueError, TypeError, KeyError):
        return 1


if __name__ == "__main__":
    sys.exit(main())
