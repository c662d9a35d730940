"""When a screen must be drawn in full: the decisions of spec interfaces.md §3, pure.

- `online` on the LWT, always (the retained one at start-up, and an `online` after an `online`
  with no `offline` between: a fast reboot on a persistent session) -> full refresh, and the
  indicators program is asked to re-send its data;
- a `statusupdate` whose uptime went down (a reboot) -> the same;
- a screen heard for the first time without an LWT (no retained `online`) -> full refresh.
"""

from __future__ import annotations

import msgspec

from protocol.screens.touch import Availability, Status


class Session(msgspec.Struct, frozen=True):
    online: bool | None = None  # None: nothing heard yet
    uptime: int | None = None  # last uptime reported on this connection
    drawn: bool = False  # a full refresh was decided since start


class Decision(msgspec.Struct, frozen=True):
    full_refresh: bool = False
    indicators: bool = False
    reason: str = ""


def on_report(session: Session, report: Availability | Status) -> tuple[Session, Decision]:
    if isinstance(report, Availability):
        if not report.online:
            return msgspec.structs.replace(session, online=False, uptime=None), Decision()
        again = " again (no offline between: a reboot)" if session.online else ""
        new = Session(online=True, uptime=None, drawn=True)
        return new, Decision(True, True, f"online{again}")
    uptime = report.uptime
    if uptime is not None and session.uptime is not None and uptime < session.uptime:
        new = Session(online=True, uptime=uptime, drawn=True)
        return new, Decision(True, True, f"uptime went down ({session.uptime} -> {uptime} s)")
    new = msgspec.structs.replace(
        session, online=True, uptime=uptime if uptime is not None else session.uptime, drawn=True
    )
    if not session.drawn:
        return new, Decision(True, False, "first status report")
    return new, Decision()
