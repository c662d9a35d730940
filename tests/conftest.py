"""Shared test settings: hypothesis profiles (fast by default; `HYPOTHESIS_PROFILE=long`)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, settings

# The default run is derandomized: the same examples on every run of one commit, so that a red
# CI is reproducible and never a draw. `long` searches at random, with many more examples; run it
# after a change to a state machine or a decoder (README, "Tests").
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# Mutation testing: a failure is all that counts, fast and the same every run (no shrinking).
settings.register_profile(
    "mutation",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
# The hand-written mutants against the state machines alone: more examples, still no shrinking.
settings.register_profile(
    "mutation-deep",
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def paris() -> Iterator[None]:
    """The process runs in Europe/Paris, as on the households' gateways: what the typology
    machines decide (comfort periods are UTC) must not depend on it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()
