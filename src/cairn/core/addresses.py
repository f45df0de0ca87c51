"""Telling loopback addresses apart: pure code shared by the server and the client."""

from __future__ import annotations

import ipaddress


def bare_host(host: str) -> str:
    """``host`` without the brackets of an IPv6 literal (``[::1]`` → ``::1``), as sockets take it."""
    host = host.strip()
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ::1, bracketed or not."""
    host = bare_host(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
