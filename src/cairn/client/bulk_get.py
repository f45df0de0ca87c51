"""Large response bodies over the standard library's ``http.client``.

httpx parses a body in 64 kB events in Python; for a gigabyte that is most of a download's
CPU time (about 5 s per GB here). ``http.client`` reads a Content-Length body in C, so artifact
downloads use it: about three times the throughput for the same bytes. Everything else (small
JSON requests, uploads) stays on httpx. When proxies are configured in the environment, which
``http.client`` would ignore, callers keep to httpx instead (:func:`proxies_configured`).
"""

from __future__ import annotations

import http.client
import os
import ssl
from collections.abc import Callable, Generator, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

from cairn.core.errors import CairnError, Unavailable

_MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK_BYTES = 1 << 20


def proxies_configured() -> bool:
    return any(
        os.environ.get(name)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    )


def bulk_get(
    url: str,
    headers: Mapping[str, str],
    *,
    timeout: float,
    error_from: Callable[[int, bytes, str], CairnError],
) -> Iterator[bytes]:
    """GET ``url`` and return an iterator of its body in 1 MiB chunks (:func:`bulk_open`)."""
    return bulk_open(url, headers, timeout=timeout, error_from=error_from)[1]


def bulk_open(
    url: str,
    headers: Mapping[str, str],
    *,
    timeout: float,
    error_from: Callable[[int, bytes, str], CairnError],
) -> tuple[dict[str, str], Iterator[bytes]]:
    """GET ``url`` and return the answer's headers (lower-case names) and an iterator of its
    body in 1 MiB chunks.

    The request is made (and redirects followed, dropping ``authorization`` when the host
    changes, as for a presigned S3 URL) before this returns, so an error answer raises here:
    ``error_from(status, body, url)`` makes the exception. A connection that fails or is cut
    off raises Unavailable.
    """
    sent = dict(headers)
    origin = _origin(url)
    for _ in range(_MAX_REDIRECTS + 1):
        connection = _connection(url, timeout)
        try:
            parts = urlsplit(url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            connection.request("GET", target or "/", headers=sent)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise Unavailable(f"cannot download {_redact(url)}: {exc}") from exc
        if response.status in _REDIRECTS and response.getheader("location"):
            response.read()
            connection.close()
            url = urljoin(url, response.getheader("location", ""))
            if _origin(url) != origin:
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            continue
        if not 200 <= response.status < 300:
            body = response.read(1 << 20)
            connection.close()
            raise error_from(response.status, body, _redact(url))
        return {name.lower(): value for name, value in response.getheaders()}, _Body(connection, response, url)
    raise Unavailable(f"more than {_MAX_REDIRECTS} redirects downloading {_redact(url)}")


class _Body(Iterator[bytes]):
    """The body's chunks; ``close()`` lets the connection go even before the first chunk."""

    def __init__(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse, url: str) -> None:
        self._connection = connection
        self._chunks = _body(connection, response, url)

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks.close()
        self._connection.close()


def _body(
    connection: http.client.HTTPConnection, response: http.client.HTTPResponse, url: str
) -> Generator[bytes, None, None]:
    try:
        while chunk := response.read(_CHUNK_BYTES):
            yield chunk
        if response.length:  # the connection closed before the declared length arrived
            raise Unavailable(f"the download of {_redact(url)} was cut off")
    except (OSError, http.client.HTTPException) as exc:
        raise Unavailable(f"the download of {_redact(url)} was cut off: {exc}") from exc
    finally:
        connection.close()


def _connection(url: str, timeout: float) -> http.client.HTTPConnection:
    """A connection for ``url``, not yet connected: connecting happens in ``request``, where
    a refusal is caught like any other network failure."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https":
        return http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=ssl.create_default_context())
    return http.client.HTTPConnection(host, parts.port, timeout=timeout)


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _redact(url: str) -> str:
    """The URL without its query: a presigned URL's signature is a credential."""
    return url.split("?", 1)[0]
