"""Input limits and the checks that enforce them, shared by the SDK, service and server.

Every number here is documented in docs/limits.md; a test keeps the two in step.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping, Sized
from typing import Any

from cairn.core.errors import InvalidInput, InvalidKey, InvalidRequest, InvalidValue

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 6000
MAX_NAME_LENGTH = 250
MAX_NOTES_LENGTH = 100_000
MAX_PROJECT_DESCRIPTION_LENGTH = 10_000
#: Points in one metric batch request; the SDK splits larger batches itself.
MAX_POINTS_PER_BATCH = 500_000
#: Params or tags in one request.
MAX_ITEMS_PER_REQUEST = 10_000
#: Bytes of one request body, after decompression.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
MAX_PAGE_SIZE = 10_000
#: Characters of a page token. A token carries the last row's sort values, so one sort column
#: of the longest text (6000 characters, 3 bytes each in UTF-8, then base64) must fit: 32 KiB.
MAX_PAGE_TOKEN_LENGTH = 32_768
MAX_HISTORY_POINTS = 10_000_000
#: Levels of nesting in a config: ``{"a": {"b": [1]}}`` is 3 deep (mappings, lists and tuples
#: all count). Far above what configs use; it keeps a hostile one from overflowing the stack.
MAX_CONFIG_DEPTH = 64
#: Characters of a comment's body.
MAX_COMMENT_LENGTH = 20_000
#: Characters of a saved view's name.
MAX_VIEW_NAME_LENGTH = 200
#: Columns, or charts, of one saved view.
MAX_VIEW_ITEMS = 500
#: Characters of a run query (``where``), and of a saved view's query.
MAX_QUERY_LENGTH = 10_000
#: Different params, metrics and tags one run query and its sort order may name together: each
#: is a join, and SQLite joins at most 64 tables (past it, the database failed: a 500).
MAX_QUERY_KEYS = 50
#: Characters of an artifact's path inside its run (a trailing slash not counted).
MAX_ARTIFACT_PATH_LENGTH = 1000
#: Artifacts registered in one request, or files in one dataset manifest; a folder with more
#: files is registered in several requests.
MAX_ARTIFACTS_PER_REQUEST = 10_000
#: Files of one archive (a run's folder fetched in one response: how a model folder is loaded).
MAX_ARCHIVE_FILES = 10_000
#: Files of one snapshot.
MAX_SNAPSHOT_FILES = 100_000
#: Digests asked about in one "which are missing" request; the SDK asks in batches.
MAX_DIGESTS_PER_REQUEST = 10_000
#: Characters of an artifact's media type.
MAX_MEDIA_TYPE_LENGTH = 250
#: Characters of a dataset's source URI.
MAX_DATASET_SOURCE_LENGTH = 4000

#: Every integer Cairn stores is a signed 64-bit integer (steps, timestamps, batch sequence
#: numbers, sizes, int params): what SQLite's INTEGER, PostgreSQL's BIGINT and numpy's int64 hold.
#: An integer read from a request is checked against these bounds by :func:`check_int64`.
MIN_INT64 = -(2**63)
MAX_INT64 = 2**63 - 1

_CONTROL = r"\x00-\x1f\x7f"
_CONTROL_CHARACTERS = re.compile(f"[{_CONTROL}]")

# The rules of the checks below that are patterns, written in the regular expressions Python and
# JSON Schema share, so that the OpenAPI document states them (tests/core/test_limit_patterns.py
# holds each to its check). Lengths are the limits above, stated beside them.
#: White space as Python's ``str.strip`` and ``isspace`` see it, spelled out: ``\s`` means one
#: set in Python and another in JSON Schema's (ECMA 262) regular expressions, which leave out
#: \x1c-\x1f and \x85 and add \ufeff, so a pattern with ``\s`` would call "\x1e" blank in one
#: place and text in the other.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: A param, metric or tag key (:func:`check_key`): no control character.
KEY_PATTERN = f"^[^{_CONTROL}]+$"
#: A project, run, user or dataset name (:func:`check_name`): no control character, not blank.
NAME_PATTERN = f"^[^{_CONTROL}]*[^{WHITESPACE}{_CONTROL}][^{_CONTROL}]*$"
#: Text (:func:`check_text`): anything but NUL.
TEXT_PATTERN = r"^[^\x00]*$"
#: Text that is more than white space, without NUL (a comment's body).
NOT_BLANK_TEXT_PATTERN = rf"^[^\x00]*[^{WHITESPACE}\x00][^\x00]*$"
#: A SHA-256 digest as lowercase hex: a blob's, a snapshot's, a fingerprint.
SHA256_PATTERN = "^[0-9a-f]{64}$"
#: A run's id: 32 lowercase hex digits (a UUID4's hex); a client may choose it (docs/sdk.md, "Offline").
RUN_ID_PATTERN = "^[0-9a-f]{32}$"
#: A resumable upload's id, as a client may send it (ids name files and keys of the blob store).
UPLOAD_ID_PATTERN = "^[0-9A-Za-z-]+$"


def check_run_id(value: object) -> str:
    """Return ``value`` if it has the form of a run id (a client chose it)."""
    if not isinstance(value, str) or not re.fullmatch(RUN_ID_PATTERN, value):
        raise InvalidValue("a run id is 32 lowercase hexadecimal digits", details={"run_id": repr(value)[:80]})
    return value


def check_key(key: object, kind: str) -> str:
    """Return ``key`` if it may name a param, metric or tag (``kind`` says which, for the message)."""
    if not isinstance(key, str):
        raise InvalidKey(f"{kind} key must be a string, got {type(key).__name__}", details={"kind": kind})
    if not key:
        raise InvalidKey(f"{kind} key must not be empty", details={"kind": kind})
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(
            f"{kind} key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}",
            details={"kind": kind, "key": key[:50] + "…", "limit": MAX_KEY_LENGTH},
        )
    if _CONTROL_CHARACTERS.search(key):
        raise InvalidKey(f"{kind} key {key!r} contains a control character", details={"kind": kind, "key": key})
    return key


def check_text(value: object, what: str, limit: int) -> str:
    """Return ``value`` if it is a string of at most ``limit`` characters and no NUL.

    NUL is refused because PostgreSQL cannot store it in text: a value SQLite keeps must not
    fail on the team server.
    """
    if not isinstance(value, str):
        raise InvalidValue(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidValue(
            f"{what} is {len(value)} characters long; the limit is {limit}",
            details={"limit": limit, "length": len(value)},
        )
    if "\x00" in value:
        raise InvalidValue(f"{what} contains a NUL character")
    return value


def check_name(value: object, what: str) -> str:
    name = check_text(value, what, MAX_NAME_LENGTH)
    if not name.strip():
        raise InvalidValue(f"{what} must not be blank")
    if _CONTROL_CHARACTERS.search(name):
        raise InvalidValue(f"{what} {name!r} contains a control character")
    return name


def check_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """Tags within the limits: at most MAX_ITEMS_PER_REQUEST, keys as :func:`check_key`, values
    text of at most MAX_TAG_VALUE_LENGTH characters (a run's tags, a model's, a version's)."""
    check_item_count(tags, "tags")
    return {
        check_key(key, "tag"): check_text(value, f"tag {key!r}", MAX_TAG_VALUE_LENGTH) for key, value in tags.items()
    }


def check_metric_value(key: str, value: object) -> float:
    """A metric value as a float; NaN and ±inf are fine, text and booleans are not.

    The strings "NaN", "Infinity" and "-Infinity" are accepted because JSON has no literal for
    them: that is how they travel on the wire.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidValue(
            f"metric {key!r} must be a number, got {type(value).__name__}",
            details={"key": key},
        )
    if isinstance(value, str):
        if value not in ("NaN", "Infinity", "-Infinity"):
            raise InvalidValue(f"metric {key!r} must be a number, got {value[:50]!r}", details={"key": key})
        return float(value)
    return float(value)


def check_int64(value: object, what: str, *, minimum: int = MIN_INT64, error: type[InvalidInput] = InvalidValue) -> int:
    """Return ``value`` if it is an integer from ``minimum`` to :data:`MAX_INT64`.

    The one check for every integer that reaches a store: past 64 bits SQLite and PostgreSQL
    fail deep in the driver (a 500), so it is refused here: as ``invalid_value`` for a value
    logged (a step, a size), as ``error`` when the caller names another (``InvalidRequest`` for
    the framing of a request, such as a batch's seq). Numpy integers are fine; booleans and
    floats are not, even when integral.
    """
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise error(f"{what} must be an integer, got {value!r}"[:200], details={"field": what})
    value = operator.index(value)
    if not minimum <= value <= MAX_INT64:
        fits = MIN_INT64 <= value <= MAX_INT64
        problem = f"must be at least {minimum}" if fits else "does not fit in 64 bits"
        raise error(f"{what} {value} {problem}"[:200], details={"field": what, "minimum": minimum})
    return value


def check_step(value: object) -> int:
    """An integer step; numpy integers are fine, floats and booleans are not."""
    return check_int64(value, "step")


def check_timestamp(value: object) -> int:
    """Milliseconds since the Unix epoch: a non-negative 64-bit integer."""
    return check_int64(value, "timestamp", minimum=0)


def check_item_count(items: Sized, what: str) -> None:
    """At most :data:`MAX_ITEMS_PER_REQUEST` params or tags in one request, however they arrive
    (a run's config at creation, params or tags logged later); ``what`` names them."""
    if len(items) > MAX_ITEMS_PER_REQUEST:
        raise InvalidRequest(
            f"at most {MAX_ITEMS_PER_REQUEST} {what} per request, got {len(items)}",
            details={"limit": MAX_ITEMS_PER_REQUEST, "count": len(items)},
        )


def check_listing_limit(limit: object, maximum: int = MAX_PAGE_SIZE) -> int:
    """A page size of the registry's, the event log's, reviews' or deliveries' listings: an
    integer from 1 to ``maximum``, else ``invalid_value``."""
    checked = check_int64(limit, "limit", minimum=1)
    if checked > maximum:
        raise InvalidValue(f"limit is at most {maximum}, got {checked}")
    return checked


def check_page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    return limit


def wire_float(value: float) -> float | str:
    """``value`` as JSON can carry it: non-finite numbers become "NaN", "Infinity", "-Infinity"."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"
