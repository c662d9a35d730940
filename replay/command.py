"""`elfe-supervisor replay DIR`: load the capture and the snapshot, run the replay, write or
compare its output, or show the supervisor's view at a virtual time."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from loguru import logger

from protocol import capture, faults
from protocol.config import Config
from protocol.snapshot import SnapshotError
from protocol.snapshot import decode as decode_snapshot
from replay import output
from replay.engine import Replay, ReplayError

EXIT_DIFFERENT = 1
EXIT_UNUSABLE = 2


def load(directory: Path) -> tuple[capture.Capture, Any]:
    """The capture and snapshot of a replay directory; ReplayError naming the file otherwise."""
    capture_path, snapshot_path = directory / "capture.jsonl", directory / "snapshot.json"
    try:
        with capture_path.open("rb") as stream:
            recorded = capture.decode(stream)
        snapshot = decode_snapshot(snapshot_path.read_bytes())
    except OSError as exc:
        raise ReplayError(f"{exc.filename}: {exc.strerror}") from None
    except SnapshotError as exc:
        raise ReplayError(f"{snapshot_path}: {exc}") from None
    if recorded.header is None:
        raise ReplayError(f"{capture_path}: {recorded.problems[0]}")
    for problem in recorded.problems:
        logger.warning("{}: {} (line skipped)", capture_path, problem)
    return recorded, snapshot


def run(
    directory: Path,
    out: Path | None = None,
    expect: Path | None = None,
    speed: str = "max",
    fault_spec: str = "",
    inspect_at: str | None = None,
    equipment: int | None = None,
    config: Config | None = None,
) -> int:
    try:
        recorded, snapshot = load(directory)
        assert recorded.header is not None
        start = recorded.header.started_at
        fault_list = faults.parse(fault_spec, start) if fault_spec else []
        replay = Replay(recorded, snapshot, fault_list, config)
        _clock[:] = [replay.clock]
        replay.pace = _pacing(speed, start)
    except (ReplayError, faults.FaultError) as exc:
        print(f"elfe-supervisor replay: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    if inspect_at is not None:
        try:
            moment = faults.parse_time(inspect_at, start)
        except faults.FaultError as exc:
            print(f"elfe-supervisor replay: --inspect-at: {exc}", file=sys.stderr)
            return EXIT_UNUSABLE
        view = replay.run(until=moment, at_end=lambda r: r.introspect(equipment))
        view = {"time": output.stamp(moment), **view}
        print(json.dumps(view, indent=2, ensure_ascii=False, default=str))
        return 0
    began = time.perf_counter()
    replay.run()
    elapsed = time.perf_counter() - began
    data = replay.out.data()
    virtual = replay.end - start
    logger.info(
        "replayed {:.0f} virtual seconds in {:.2f} s ({:.0f} virtual s per s), {} lines",
        virtual,
        elapsed,
        virtual / elapsed if elapsed else 0.0,
        len(replay.out.lines),
    )
    for problem in replay.problems:
        logger.error("during the replay: {}", problem)
    if out is not None:
        out.write_bytes(data)
    elif expect is None:
        sys.stdout.buffer.write(data)
    if expect is not None:
        try:
            golden = expect.read_bytes()
        except OSError as exc:
            print(f"elfe-supervisor replay: {expect}: {exc.strerror}", file=sys.stderr)
            return EXIT_UNUSABLE
        difference = output.diff(golden, data, str(expect))
        if difference:
            sys.stderr.write(f"the replay differs from {expect}:\n{difference}")
            return EXIT_DIFFERENT
    return 0


_clock: list[Any] = []  # the running replay's clock, for the log lines


def _virtual_format(record: Any) -> str:
    """Log lines stamped with the virtual time of the replay (its supervisor's clock)."""
    when = output.stamp(_clock[0].wall()) if _clock else "-"
    return when + " {level: <7} {message}\n{exception}"


def _pacing(speed: str, start: float) -> Any:
    """None for `max`; else a function that waits until virtual time t is due at N x."""
    if speed == "max":
        return None
    try:
        factor = float(speed)
    except ValueError:
        raise ReplayError(f"--speed {speed!r}: expected max or a number") from None
    if not factor > 0:
        raise ReplayError(f"--speed {speed!r}: must be positive")
    began = time.monotonic()

    def pace(t: float) -> None:
        delay = began + (t - start) / factor - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    return pace


# --- the command line (supervisor.py parses, these run) -------------------------------------------


def replay_capture(args: argparse.Namespace, config: Config | None) -> int:
    logger.remove()
    logger.add(
        sys.stderr,
        level="INFO" if args.verbose else "WARNING",
        format=_virtual_format,
        backtrace=False,
        diagnose=False,
    )
    expect = args.directory / "expected.jsonl" if args.expect == Path() else args.expect
    return run(
        args.directory,
        out=args.out,
        expect=expect,
        speed=args.speed,
        fault_spec=";".join(args.faults),
        inspect_at=args.inspect_at,
        equipment=args.equipment,
        config=config,
    )


def record_site(config: Config, args: argparse.Namespace) -> int:
    from replay.record import record
    from runtime.daemon import Stop, configure_logging

    configure_logging("INFO")
    stop = Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return record(config, args.out, args.seconds, lambda: stop.requested, args.snapshot, args.poll)


def snapshot_site(config: Config, out: Path) -> int:
    import psycopg

    from protocol.snapshot import encode
    from replay.database import take_snapshot

    try:
        snapshot = take_snapshot(config)
    except psycopg.Error as exc:
        print(f"elfe-supervisor: snapshot: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    out.write_bytes(encode(snapshot))
    rows = sum(len(t.rows) for t in snapshot.tables.values())
    print(f"{out}: {len(snapshot.tables)} tables, {rows} rows, {len(snapshot.result.rows)} plans")
    return 0
