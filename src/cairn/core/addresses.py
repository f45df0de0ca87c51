"""Hosts and URIs: telling loopback addresses apart, which ``Host`` a server answers to (the
rule against DNS rebinding, server/hosts.py explains it), and a URI fit for a message. Pure
code shared by the server, the serving process, the store and the client."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

_WILDCARDS = frozenset({"0.0.0.0", "::"})


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


def host_name(header: str) -> str | None:
    """The host of a ``Host`` header or URL netloc, lower case, without port or IPv6
    brackets; None when it is no host at all."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        if end < 0 or header[end + 1 :] and not header[end + 1 :].startswith(":"):
            return None
        return header[1:end] or None
    name = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    return name or None


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class AllowedHosts:
    """The hosts one server answers to: loopback names, the bound address (any address when
    bound to a wildcard), and the names allowed besides (``*.example.com``, ``*``)."""

    def __init__(self, bound: str, extra: Iterable[str] = ()) -> None:
        bound_name = host_name(bound) or bound
        self.any_address = bound_name in _WILDCARDS
        self.names = {bound_name}
        self.suffixes: set[str] = set()
        self.any = False
        for pattern in (p.strip().lower() for p in extra):
            if pattern == "*":
                self.any = True
            elif pattern.startswith("*."):
                self.suffixes.add(pattern[1:])
            elif pattern:
                self.names.add(host_name(pattern) or pattern)
        self.listed = frozenset(self.names - {bound_name})

    def allows(self, name: str | None) -> bool:
        if name is None:
            return False
        if self.any or name in self.names or is_loopback(name):
            return True
        if self.any_address and _is_address(name):
            return True
        return any(name.endswith(suffix) for suffix in self.suffixes)

    def is_listed(self, name: str | None) -> bool:
        """Whether ``name`` was given to ``--allowed-hosts`` (a proxy's name)."""
        return name is not None and (name in self.listed or any(name.endswith(s) for s in self.suffixes))
