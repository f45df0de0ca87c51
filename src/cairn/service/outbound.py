"""Where the server may send a request on a user's behalf: the guard of webhook URLs against
server-side request forgery (docs/webhooks.md, "Which URLs").

A webhook URL whose host is, or resolves to, a loopback, private, link-local, multicast,
unspecified or otherwise not globally routable address is refused, unless the server runs with
``--allow-private-webhooks``. The check runs twice:

- when a webhook is created or its URL changed: an address written in the URL, ``localhost``,
  and every address a host name resolves to. A name that does not resolve (yet) is accepted:
  DNS may be down, or the name made later;
- before every attempt, on the addresses the name resolves to then, and the attempt connects
  to the address that was checked (not to whatever a second lookup would answer), so a name
  that resolved to a public address at creation and to 127.0.0.1 now (DNS rebinding) is
  refused, not called.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from cairn.core.webhooks import WebhookUrl, is_local_name, refusal_reason, refuse_address

#: Resolves ``(host, port)`` to addresses, as text; raises OSError when it cannot.
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` has, in the resolver's order, each once."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in found))


class Unresolvable(Exception):
    """The host name has no address right now (worth trying again later)."""


def check_new_url(url: WebhookUrl, *, allow_private: bool, resolver: Resolver = resolve) -> None:
    """Refuse a webhook URL that names a forbidden address, at creation. Raises WebhookUrlRefused."""
    if allow_private:
        return
    try:
        addresses_to_call(url, allow_private=False, resolver=resolver)
    except Unresolvable:
        return  # checked again before each attempt


def addresses_to_call(url: WebhookUrl, *, allow_private: bool, resolver: Resolver = resolve) -> list[str]:
    """The addresses an attempt may connect to, in the resolver's order. Raises
    WebhookUrlRefused when the host is or resolves to a forbidden address (unless
    ``allow_private``), Unresolvable when it resolves to nothing."""
    if url.address is not None:
        addresses = [str(url.address)]
    elif is_local_name(url.host) and not allow_private:
        raise refuse_address(url, url.host, "loopback")
    else:
        try:
            addresses = resolver(url.host, url.port)
        except (OSError, UnicodeError) as exc:
            raise Unresolvable(f"cannot resolve {url.host}: {exc}") from exc
        if not addresses:
            raise Unresolvable(f"{url.host} has no address")
    for address in [] if allow_private else addresses:
        reason = refusal_reason(ipaddress.ip_address(address))
        if reason is not None:
            # Any one forbidden address refuses the name: a resolver may hand out either.
            raise refuse_address(url, address, reason)
    return addresses
