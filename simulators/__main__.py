"""``python -m simulators --host H --port P --spec FILE.json``: run simulators until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from loguru import logger

from simulators.household import SimulatedHousehold, SpecError, load_spec_file


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators",
        description=(
            "Simulated devices (Shelly Gen1/Gen2/H&T, Tasmota plug and TIC, SwitchBot gateway, "
            "Socorel PLC, Zigbee2MQTT) answering over MQTT like the real ones."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    parser.add_argument("--spec", required=True, help="JSON file listing the devices")
    parser.add_argument("--topic-prefix", default="", help="prepended to every device topic")
    parser.add_argument("--username", help="MQTT user name")
    parser.add_argument("--password", help="MQTT password")
    parser.add_argument("--log-level", default="INFO", help="loguru level (default INFO)")
    args = parser.parse_args(argv)

    logger.remove()
    logger.add(sys.stderr, level=args.log_level.upper())
    try:
        household = SimulatedHousehold.from_specs(
            args.host,
            args.port,
            load_spec_file(args.spec),
            topic_prefix=args.topic_prefix,
            username=args.username,
            password=args.password,
        )
    except SpecError as exc:
        print(f"error: bad spec {args.spec}: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started in the background (SIG_IGN)
    try:
        household.start()
    except (OSError, TimeoutError) as exc:
        print(f"error: cannot connect to {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        for device in household:
            logger.info("{} online as client {}", device.name, device.client_id)
        logger.info("{} simulated device(s) running; Ctrl-C to stop", len(household))
        while not stop.wait(0.5):
            pass
    finally:
        household.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
