"""Replays log what the supervisor logs; keep the warnings only, they are thousands of lines."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from loguru import logger


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    logger.remove()
    handler = logger.add(sys.stderr, level="WARNING")
    yield
    logger.remove(handler)
    logger.add(sys.stderr)
