"""The listening TCP sockets of a set of processes, read from /proc (Linux)."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path

LISTEN = "0A"


def processes_running(marker: str) -> list[str]:
    """Every process whose command line contains `marker` ("pid args" lines; actors are forks)."""
    out = subprocess.run(
        ["ps", "-eww", "-o", "pid,args"], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eww" not in line]


def pids_running(marker: str) -> list[int]:
    return [int(line.split()[0]) for line in processes_running(marker)]


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass  # the process ended
    return inodes


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))


def listening_sockets(pids: list[int]) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every TCP socket in LISTEN state held by one of `pids`."""
    owner = {inode: pid for pid in pids for inode in _socket_inodes(pid)}
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == LISTEN and inode in owner:
                address, port = local.split(":")
                found.append((_address(address), int(port, 16), owner[inode]))
    return found


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback
