"""multiprocTCPBase on loopback only, enforced in code.

Thespian's TCP transport is unauthenticated pickle, and `TCPTransport.__init__` binds its
listening socket with `bindArgs` of the address, which is `('', port)` (every interface) whatever
`THESPIAN_BASE_IPADDR` says (`thespian/system/transport/IPBase.py`, `bindname`). Every listening
socket of the system (admin, logger, each actor, each external endpoint) is created there, so
patching `bindArgs` of the TCP address class before the system starts puts them all on
127.0.0.1. Actor processes are forked from the starter (the default start method), so they
inherit the patch.
"""

from __future__ import annotations

import os
from typing import Any

LOOPBACK = "127.0.0.1"


def _loopback_bind_args(self: Any) -> tuple[tuple[str, int], ...]:
    return ((LOOPBACK, int(self.bindname[1])),)


def enforce_loopback() -> None:
    """Make every TCP socket Thespian binds listen on 127.0.0.1 (idempotent)."""
    from thespian.system.transport.IPBase import TCPv4ActorAddress

    os.environ["THESPIAN_BASE_IPADDR"] = LOOPBACK  # the address actors advertise to each other
    if getattr(TCPv4ActorAddress, "_elfe_loopback", False):
        return
    TCPv4ActorAddress.bindArgs = property(_loopback_bind_args)  # type: ignore[assignment,method-assign]
    TCPv4ActorAddress._elfe_loopback = True  # type: ignore[attr-defined]
