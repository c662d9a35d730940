"""Actors on simpleSystemBase, one actor system per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from thespian.actors import ActorSystem


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    asys = ActorSystem("simpleSystemBase")
    yield asys
    asys.shutdown()
