"""The demonstration command, as a newcomer runs it (opt-in: needs the `demo` extras)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.site import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("broker", ["auto", "amqtt"])
def test_the_demo_shows_an_ems_start_and_its_observed_state_within_60_s(broker: str) -> None:
    pytest.importorskip("pgserver", reason="pip install -e '.[demo]'")
    env = {"ELFE_DEMO_BROKER": broker, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "supervisor", "demo", "--seconds", "40"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "plan written to table result" in out
    assert "shellies/shellyplug-s-A101/relay/0/command <- on" in out
    assert "mode 20, etat_commande 12, etat_controle 15" in out
