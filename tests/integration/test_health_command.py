"""`elfe-supervisor health` (the monitoring document of a running daemon, and of none) and the
human view of `inspect`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.site import Site, cli, supervisor_running, wait_until

pytestmark = pytest.mark.integration


def health(state_dir: Path) -> dict[str, object]:
    result = cli("health", "--state-dir", str(state_dir))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_health_of_a_running_daemon_and_of_none(site: Site) -> None:
    with site.household(), supervisor_running(site.config()):
        doc = wait_until(
            lambda: (d := health(site.state_dir))["plan_age_s"] is not None and d,
            timeout=15,
            what="plans read",
        )
        assert doc["alive"] == 1
        assert doc["equipment"] == 3
        assert (doc["mqtt_connected"], doc["db_connected"], doc["ems_db_up"]) == (1, 1, 1)
        assert doc["equipment_err"] == 0
        assert isinstance(doc["equipment_errcom"], int)
        assert isinstance(doc["uptime_s"], int)

        table = cli("inspect", "--state-dir", str(site.state_dir), "--table")
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        assert lines[0].startswith("online · version ")
        assert lines[3].split()[:2] == ["id", "name"]
        end = lines.index("", 4)  # the equipment, then the actor tree
        assert [line.split()[0] for line in lines[4:end]] == ["1", "2", "3"]
        assert lines[end + 1] == "actors" and lines[end + 3].startswith("supervisor ")
        assert all(len(line) <= 100 for line in lines)
        one = cli("inspect", "--state-dir", str(site.state_dir), "--table", "1").stdout
        assert one.startswith("equipment 1 ")
        assert "last " in one and all(len(line) <= 100 for line in one.splitlines())
        as_json = cli("inspect", "--state-dir", str(site.state_dir), "--json")
        assert set(json.loads(as_json.stdout)["equipment"]) == {"1", "2", "3"}
        words = cli("inspect", "--state-dir", str(site.state_dir), "--json", "equipment", "2")
        assert json.loads(words.stdout)["state"]["spec"]["id"] == 2, words.stderr
        shown = cli("inspect", "--state-dir", str(site.state_dir), "--json", "screen", "g101")
        assert json.loads(shown.stdout)["screen"]["node"] == "g101", shown.stderr
        wrong = cli("inspect", "--state-dir", str(site.state_dir), "screen")
        assert wrong.returncode == 2 and "not an equipment id or a screen" in wrong.stderr
    doc = health(site.state_dir)
    assert doc["alive"] == 0
    assert doc["mqtt_connected"] is None
