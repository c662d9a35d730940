"""elfe-supervisor command line: run · demo · inspect · health · status · check-config ·
record · snapshot · replay.

`run` is the systemd daemon (`runtime/daemon.py`; with `partitions = K > 1` it starts and watches
K partition processes, `runtime/partitions.py`); `inspect` and `health` ask a running one through
its control socket(s) (`runtime/control.py`); `status` combines the statuses of the partitions of
several hosts from the broker; `record`, `snapshot` and `replay` are in `replay/`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from protocol.config import Config, ConfigError, load_config, with_partition
from protocol.partition import MAX_PARTITIONS, PartitionError
from runtime import control, partitions, status
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
    run.add_argument("--partition", help=argparse.SUPPRESS)  # "k/K": a process started by run
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
    inspect.add_argument(
        "target",
        nargs="*",
        metavar="[equipment] ID | screen NODE",
        help="one equipment (`12` or `equipment 12`) or one household screen (`screen g101`)",
    )
    inspect.add_argument("--gateway", choices=["mqtt", "db", "plans", "clock", "displays"])
    inspect.add_argument("--screen", help="one household screen (its node name)")
    inspect.add_argument("--refresh", action="store_true", help="with --screen: redraw it")
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
    record = commands.add_parser("record", help="record MQTT traffic, plans and row changes")
    record.add_argument("--config", required=True)
    record.add_argument("--out", required=True, type=Path, help="capture file (JSON Lines)")
    record.add_argument("--seconds", type=float, help="stop after this long (default: a signal)")
    record.add_argument("--snapshot", type=Path, help="also write the snapshot taken at the start")
    record.add_argument("--poll", type=float, default=5.0, help="database poll period, seconds")
    snapshot = commands.add_parser("snapshot", help="write the rows a replay starts from")
    snapshot.add_argument("--config", required=True)
    snapshot.add_argument("--out", required=True, type=Path, help="snapshot file (JSON)")
    replay = commands.add_parser("replay", help="replay a capture on a virtual clock")
    replay.add_argument("directory", type=Path, help="holds capture.jsonl and snapshot.json")
    replay.add_argument("--out", type=Path, help="output file (default: standard output)")
    replay.add_argument(
        "--expect",
        type=Path,
        nargs="?",
        const=Path(),
        help="golden output (default DIR/expected.jsonl): exit 1 with a diff if different",
    )
    replay.add_argument("--speed", default="max", help="max, or virtual seconds per second")
    replay.add_argument("--faults", action="append", default=[], help="faults to inject")
    replay.add_argument("--inspect-at", help="HH:MM[:SS] or +SECONDS: show the state then")
    replay.add_argument("--equipment", type=int, help="with --inspect-at: one equipment")
    replay.add_argument("--config", help="replace the recorded configuration")
    replay.add_argument("--verbose", action="store_true", help="the supervisor's log, virtual time")
    args = parser.parse_args(argv)
    if args.command == "inspect":
        args.equipment, screen = _inspect_target(inspect, args.target)
        args.screen = args.screen or screen

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
        return inspect_running(
            args.state_dir, args.equipment, args.gateway, args.view, args.screen, args.refresh
        )
    if args.command == "health" and args.state_dir:
        return print_health(args.state_dir)
    if args.command == "replay" and not args.config:
        return commands_of_replay().replay_capture(args, None)
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
        state_dir = config.supervisor.state_dir
        return inspect_running(
            state_dir, args.equipment, args.gateway, args.view, args.screen, args.refresh
        )
    if args.command == "health":
        return print_health(config.supervisor.state_dir)
    if args.command == "status":
        return show_status(config, args.wait, args.partitions)
    if args.command == "record":
        return commands_of_replay().record_site(config, args)
    if args.command == "snapshot":
        return commands_of_replay().snapshot_site(config, args.out)
    if args.command == "replay":
        return commands_of_replay().replay_capture(args, config)
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


def commands_of_replay() -> Any:
    from replay import command

    return command


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
    state_dir: str,
    equipment: int | None,
    gateway: str | None,
    view: str | None = None,
    screen: str | None = None,
    refresh: bool = False,
) -> int:
    """Ask the running supervisor through its control socket; exit 1 with one clear line."""
    path = control.control_path(state_dir)
    query: dict[str, object] = {}
    if screen is not None:
        query["screen"] = screen
    if refresh:
        query["refresh"] = True
    if equipment is not None:
        query["equipment"] = equipment
    if gateway is not None:
        query["gateway"] = gateway
    if not query:  # the overview: with the gateways' counters and the actor tree
        query["actors"] = True
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
    if (view or ("table" if sys.stdout.isatty() else "json")) == "table":
        from protocol.inspect_view import render

        print(render(reply))
    else:
        print(json.dumps(reply, indent=2, ensure_ascii=False, default=str))
    return 0


def _inspect_target(
    parser: argparse.ArgumentParser, target: list[str]
) -> tuple[int | None, str | None]:
    """`inspect 12`, `inspect equipment 12`, `inspect screen g101` -> (equipment, screen)."""
    if not target:
        return None, None
    if len(target) == 2 and target[0] == "screen":
        return None, target[1]
    number = target[1] if len(target) == 2 and target[0] == "equipment" else target[0]
    if len(target) > 2 or (len(target) == 2 and target[0] != "equipment") or not number.isdigit():
        parser.error(f"not an equipment id or a screen: {' '.join(target)}")
    return int(number), None


def print_health(state_dir: str) -> int:
    """The health document (protocol/health.py); {"alive": 0, ...} when nothing answers."""
    from protocol.health import combine, health

    def document(path: Path) -> dict[str, object]:
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
        return health(time.time(), ping, **replies)  # type: ignore[arg-type]

    path = control.control_path(state_dir)
    sockets = partitions.partition_sockets(state_dir)
    if sockets and not partitions.answers(path):  # partitions: every one, combined
        print(json.dumps(combine([document(p) for p in sockets.values()])))
    else:
        print(json.dumps(document(path)))
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
