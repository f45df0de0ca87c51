"""The REST API's paths as the HTTP client builds them: names and ids checked as the service
checks them and escaped into one path segment each."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import orjson

from cairn.core.errors import InvalidRequest
from cairn.core.models.uri import check_alias, check_model_name, check_version_number
from cairn.core.reviews import check_review_id

API = "/api/v1"


class OverHttp:
    """The base of HttpTracking's mixins (access, lifecycle, monitors, labels): the one
    ``_request`` they call, which HttpTracking provides."""

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        packed: tuple[str, bytes] | None = None,
        accept: str | None = None,
        decode: Callable[[bytes], Any] = orjson.loads,
    ) -> Any:
        raise NotImplementedError


def segment(value: str) -> str:
    """A path segment: slashes and other reserved characters escaped."""
    if not value:
        raise InvalidRequest("an empty name or id cannot be looked up")
    return quote(value, safe="")


def model_url(name: str) -> str:
    # Checked here too: a name with "/" would reach another route, a long one fail the path's
    # bounds with another code than in embedded mode.
    return f"{API}/models/{segment(check_model_name(name))}"


def version_url(name: str, version: int) -> str:
    return f"{model_url(name)}/versions/{check_version_number(version)}"


def alias_url(name: str, alias: str) -> str:
    return f"{model_url(name)}/aliases/{check_alias(alias)}"


def protection_url(name: str, alias: str) -> str:
    return f"{model_url(name)}/protections/{check_alias(alias)}"


def review_url(review_id: int) -> str:
    return f"{API}/reviews/{check_review_id(review_id)}"


def webhook_url(webhook_id: str) -> str:
    return f"{API}/webhooks/{segment(webhook_id)}"


def delivery_url(webhook_id: str, delivery_id: str) -> str:
    return f"{webhook_url(webhook_id)}/deliveries/{segment(delivery_id)}"
