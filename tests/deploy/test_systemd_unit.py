"""The systemd unit passes `systemd-analyze verify` without a single warning, and keeps its
exposure score low."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "elfe-supervisor.service"
INSTALLED = "/opt/elfe-supervisor/.venv/bin/elfe-supervisor"


def systemd_analyze() -> str:
    """systemd-analyze, installed from Debian's `systemd` package when missing."""
    found = shutil.which("systemd-analyze")
    if found is None and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "systemd"],
            capture_output=True,
            timeout=600,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed and could not be installed")
    return found


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    """The unit with ExecStart= pointing at this checkout's entry point (verify checks that the
    program exists), in a directory of its own: nothing is written to /etc."""
    entry = Path(sys.executable).parent / "elfe-supervisor"
    assert entry.exists(), "the project is not installed in this environment"
    text = UNIT.read_text()
    assert INSTALLED in text
    path = tmp_path / "elfe-supervisor.service"
    path.write_text(text.replace(INSTALLED, str(entry)))
    return path


def test_verify_passes_without_warnings(unit: Path) -> None:
    result = subprocess.run(
        [systemd_analyze(), "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""  # a misspelt key is only a warning


def test_exposure_stays_low(unit: Path) -> None:
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", "--threshold=20", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-2000:]


def test_what_the_daemon_relies_on_is_set() -> None:
    keys = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in UNIT.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert keys["Type"] == "notify"
    assert keys["NotifyAccess"] == "main"
    assert int(keys["WatchdogSec"]) > 0
    assert keys["Restart"] == "on-failure"
    assert keys["IPAddressDeny"] == "any"
    assert keys["ProtectSystem"] == "strict"
