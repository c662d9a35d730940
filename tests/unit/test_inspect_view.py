"""The human view of inspect fits 100 columns and says what matters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocol.inspect_view import render

OVERVIEW = {
    "status": {
        "state": "online",
        "version": "0.1.0",
        "started_at": 1764950400,
        "system_base": "simpleSystemBase",
        "equipment": 2,
        "devices": 3,
        "faulty": 1,
        "plans": "database",
    },
    "equipment": {
        "12": {
            "name": "Lave-linge de la famille avec un nom très long qui ne tient pas",
            "typology": 120,
            "type": 112,
            "mode": 30,
            "problem": None,
            "devices": ["A101", "G101"],
        },
        "3": {
            "name": "Radiateur",
            "typology": 999,
            "type": 151,
            "mode": 30,
            "problem": "unknown typology 999: the equipment cannot be driven by this supervisor",
            "devices": [],
        },
    },
}


def test_overview() -> None:
    lines = render(OVERVIEW).splitlines()
    assert lines[0] == "online · version 0.1.0 · simpleSystemBase · started 2025-12-05 16:00:00"
    assert lines[1] == "2 equipment, 3 devices, 1 that cannot be driven · plans: database"
    assert lines[3].split() == ["id", "name", "typology", "type", "mode", "devices", "problem"]
    assert lines[4].startswith("3 ")  # by id, numerically
    assert lines[5].startswith("12 ") and "A101 G101" in lines[5]
    assert all(len(line) <= 100 for line in lines)
    assert "unknown typology" in lines[4]


def test_equipment() -> None:
    reply = {
        "pid": 42,
        "state": {
            "spec": {"id": 12, "name": "Lave-linge", "typology": 120, "problem": None},
            "command_state": 12,
            "devices": {"A101": {"relay_on": True, "power_w": 2000.0}},
        },
        "events": [{"at": 1764950400, "from_state": 11, "to_state": 21, "reason": "EMS start"}],
    }
    lines = render(reply).splitlines()
    assert lines[0] == "equipment 12 'Lave-linge' · typology 120 · pid 42"
    assert "command_state: 12" in lines
    assert "devices.A101.relay_on: yes" in lines
    assert lines[-1].split(None, 2)[2].startswith("11 -> 21")
    assert lines[-1].endswith("EMS start")


def test_gateway() -> None:
    assert render({"connected": True, "queued": 0}) == "connected: yes\nqueued: 0"


@given(
    st.dictionaries(
        st.integers(0, 10**6).map(str),
        st.fixed_dictionaries(
            {"name": st.text(max_size=200), "problem": st.none() | st.text(max_size=300)},
        ),
        max_size=20,
    )
)
def test_every_line_fits_100_columns(equipment: dict) -> None:
    text = render({"status": OVERVIEW["status"], "equipment": equipment})
    assert all(len(line) <= 100 for line in text.splitlines())


def test_the_actor_tree_is_indented_under_its_parents() -> None:
    actors = {
        "supervisor": {
            "uptime_s": 60.0,
            "messages": 12,
            "children": {
                "displays": {"uptime_s": 59.5, "messages": 4, "children": {"screen g1": {}}},
                "equipment 1": {"answered": False},
            },
        }
    }
    lines = render({**OVERVIEW, "actors": actors}).splitlines()
    tree = lines[lines.index("actors") + 1 :]
    assert tree[0].split() == ["actor", "uptime", "(s)", "messages"]
    assert tree[1].split() == ["supervisor", "60.0", "12"]
    assert tree[2].startswith("  displays") and tree[2].split()[1:] == ["59.5", "4"]
    assert tree[3].startswith("    screen g1")
    assert tree[4].startswith("  equipment 1") and "no answer" in tree[4]


def test_what_is_inside_an_equipment() -> None:
    reply = {
        "pid": 42,
        "state": {"spec": {"id": 2, "name": "Ballon"}},
        "events": [],
        "inside": {
            "now": "2026-11-30T10:00:03.000Z",
            "timers": [{"token": "ack", "at": "2026-11-30T10:00:10.000Z", "in_s": 7.0}],
            "next_decisions": [
                {"slot": "2026-11-30T10:15:00.000Z", "on": True, "plan": 100},
                {"slot": "2026-11-30T10:30:00.000Z", "on": None, "plan": None},
            ],
            "report_age_s": {"A102": 3.5},
        },
    }
    lines = render(reply).splitlines()
    assert "inside, at 2026-11-30T10:00:03.000Z: pending timers" in lines
    assert ["ack", "2026-11-30T10:00:10.000Z", "7.0"] in [line.split() for line in lines]
    assert ["2026-11-30T10:15:00.000Z", "on", "100"] in [line.split() for line in lines]
    assert ["2026-11-30T10:30:00.000Z", "-", "-"] in [line.split() for line in lines]
    assert lines[-1] == "A102: 3.5"
