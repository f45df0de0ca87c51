"""Page tokens: the last row's sort values, signed so that only the store's servers make them.

A token is ``base64url(values as JSON) "." base64url(HMAC-SHA256)``. The MAC is keyed with the
store's server secret (:mod:`.server_secrets`), so every server process of one store accepts
the tokens of the others, and it covers the project, the query text, the sort order and
whether deleted runs are included as well as the values: a token serves only the search that
made it, and nobody without the key can make one.

The MAC is checked before the JSON is read; the values are then checked against the sort
columns (a number where the column is numeric, text where it is text, null only where a
missing value sorts, integers within 64 bits), so a token that is not one of ours is refused
with ``invalid_page_token`` (HTTP 400) and never reaches the database. Floats travel as their
``repr``, which keeps ±inf and every bit of the value through JSON.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from cairn.core.errors import InvalidPageToken

_MIN_INT, _MAX_INT = -(2**63), 2**63 - 1
_NOT_OURS = "page_token is not one this server handed out for this search; start again without it"


class Kind(enum.Enum):
    """What a sort column holds."""

    FLAG = "flag"  # 0 or 1: whether the value that follows is missing
    NUMBER = "number"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class SortColumn:
    kind: Kind
    nullable: bool


@dataclass(frozen=True, slots=True)
class Search:
    """What a token is tied to: the same query on another project or order gets no page."""

    project_id: str
    where: str
    order: str
    include_deleted: bool

    def identity(self) -> bytes:
        return orjson.dumps(["cairn-page-token-v1", self.project_id, self.where, self.order, self.include_deleted])


def encode(key: bytes, search: Search, values: Sequence[Any]) -> str:
    """The token of the page after the row whose sort values are ``values``."""
    payload = orjson.dumps([{"f": repr(v)} if isinstance(v, float) else v for v in values])
    return f"{_b64encode(payload)}.{_b64encode(_mac(key, search, payload))}"


def decode(key: bytes, search: Search, token: str, columns: Sequence[SortColumn]) -> list[Any]:
    """The sort values in ``token``, checked against ``columns``. Raises InvalidPageToken."""
    try:
        payload_text, mac_text = token.split(".")
        payload, mac = _b64decode(payload_text), _b64decode(mac_text)
    except ValueError as exc:  # binascii.Error and a wrong number of parts alike
        raise InvalidPageToken(_NOT_OURS) from exc
    if not hmac.compare_digest(mac, _mac(key, search, payload)):
        raise InvalidPageToken(_NOT_OURS)
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise InvalidPageToken(_NOT_OURS) from exc
    if not isinstance(raw, list) or len(raw) != len(columns):
        raise InvalidPageToken(_NOT_OURS)
    return [_checked(value, column) for value, column in zip(raw, columns, strict=True)]


def _checked(value: Any, column: SortColumn) -> Any:
    if value is None:
        if column.nullable:
            return None
    elif column.kind is Kind.FLAG:
        if type(value) is int and value in (0, 1):
            return value
    elif column.kind is Kind.NUMBER:
        if type(value) is int and _MIN_INT <= value <= _MAX_INT:
            return value
        if isinstance(value, dict) and set(value) == {"f"} and isinstance(value["f"], str):
            try:
                return float(value["f"])
            except ValueError:
                pass
    elif type(value) is str and "\x00" not in value:
        return value
    raise InvalidPageToken(_NOT_OURS)


def _mac(key: bytes, search: Search, payload: bytes) -> bytes:
    # The identity is a JSON array, which ends where it ends: nothing of the payload can be
    # read as part of it, so two different (search, payload) pairs never sign the same bytes.
    return hmac.new(key, search.identity() + payload, hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    if not text.isascii():
        raise binascii.Error("not base64")
    # validate=True: the lenient decoder skips characters it does not know instead of refusing.
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
