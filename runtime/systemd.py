"""systemd service notifications (sd_notify), without a library: the protocol is one datagram.

`$NOTIFY_SOCKET` names a Unix datagram socket (a path, or an abstract name written with a
leading `@`); each notification is newline-separated `KEY=value` text. Outside systemd (no
`$NOTIFY_SOCKET`) every call is a no-op that returns False; a send that fails never raises.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one notification; True when it was handed to the socket."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        return False  # unset, or a vsock address this daemon has no use for
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8", "replace"))
    except OSError:
        return False
    return True


def ready(status: str | None = None, environ: Mapping[str, str] | None = None) -> bool:
    return notify("READY=1" + (f"\nSTATUS={_line(status)}" if status else ""), environ)


def status(text: str, environ: Mapping[str, str] | None = None) -> bool:
    """The line `systemctl status` shows under the unit."""
    return notify(f"STATUS={_line(text)}", environ)


def stopping(environ: Mapping[str, str] | None = None) -> bool:
    return notify("STOPPING=1", environ)


def watchdog(environ: Mapping[str, str] | None = None) -> bool:
    """Tell systemd the service is alive; only call it after checking that it is."""
    return notify("WATCHDOG=1", environ)


def watchdog_interval(
    environ: Mapping[str, str] | None = None, pid: int | None = None
) -> float | None:
    """The watchdog period in seconds (`WATCHDOG_USEC`), None when no watchdog applies to this
    process (`WATCHDOG_PID` names another one). Ping at half of it."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    owner = env.get("WATCHDOG_PID")
    if owner:
        try:
            if int(owner) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    return usec / 1_000_000


def _line(text: str) -> str:
    return " ".join(text.split())
