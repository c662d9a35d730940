"""A server's availability as a gateway sees it (`protocol/failures.py` holds the policy): a
retry after a capped exponential backoff with jitter, and one log line when it goes down, every
10 minutes while it stays down, and when it is back — never one per attempt."""

from __future__ import annotations

import random

from loguru import logger

from protocol.failures import Outage, backoff_delay


class Availability:
    def __init__(self, name: str, retry_max_s: float) -> None:
        self.outage = Outage(name)
        self.retry_max_s = retry_max_s
        self.connected = False
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.attempt = 0  # failed attempts since the last success: the backoff step

    def waiting(self, now: float) -> bool:
        """Down, and its retry delay not over yet."""
        return self.down_since is not None and now < self.retry_at

    def down(self, error: str, now: float) -> None:
        self.connected = False
        if self.down_since is None:
            self.down_since = now
        self.outage, line = self.outage.failed(now, error)
        if line:
            logger.error(line)
        self.retry_at = now + backoff_delay(self.attempt, random.random(), cap=self.retry_max_s)
        self.attempt += 1

    def up(self, now: float) -> None:
        self.connected = True
        self.outage, line = self.outage.recovered(now)
        if line:
            logger.info(line)
        self.down_since = None
        self.attempt = 0
