"""Benchmark of the replay: virtual seconds replayed per second, CPU and wall time.

    python -m benchmarks.replay [DIR ...] [--runs 3]

DIR defaults to the shipped examples (`tests/replay/*`); the 24 h one is `hot-water-tank`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from loguru import logger

from replay.command import load
from replay.engine import Replay

EXAMPLES = Path(__file__).resolve().parents[1] / "tests" / "replay"


def measure(directory: Path) -> tuple[float, float, float, int, int]:
    """(virtual seconds, wall seconds, CPU seconds, lines in, lines out) of one replay."""
    recorded, snapshot = load(directory)
    assert recorded.header is not None
    run = Replay(recorded, snapshot)
    wall, cpu = time.perf_counter(), time.process_time()
    run.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    virtual = run.end - recorded.header.started_at
    return virtual, wall, cpu, len(recorded.lines), len(run.out.lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directories", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logger.remove()
    directories = args.directories or sorted(
        p for p in EXAMPLES.iterdir() if (p / "capture.jsonl").exists()
    )
    print(
        "| replay | virtual | lines in / out | CPU (median) | wall (median) | virtual s per CPU s |"
    )
    print("|---|---|---|---|---|---|")
    for directory in directories:
        runs = [measure(directory) for _ in range(args.runs)]
        virtual, _, _, lines_in, lines_out = runs[0]
        cpu = statistics.median(r[2] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        print(
            f"| {directory.name} | {virtual / 3600:.1f} h | {lines_in} / {lines_out} |"
            f" {cpu:.2f} s | {wall:.2f} s | {virtual / cpu:,.0f} |"
        )


if __name__ == "__main__":
    main()
