"""Hosts and URIs: telling loopback addresses apart, and a URI fit for a message. Pure code
shared by the server, the store and the client."""

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


def redact(uri: str) -> str:
    """The URI without a password, for messages: ``postgresql://alice:***@db/cairn``."""
    if "://" not in uri or "@" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"
