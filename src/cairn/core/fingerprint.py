"""A run's fingerprint: a digest of what went into it, so that equal runs can be found.

Two runs whose params are equal as :func:`cairn.core.params.same_param_value` sees them have
the same fingerprint: key order does not matter, 0.1 and 0.10 are one number, 1 and 1.0 too
(and 0.0 and -0.0), NaN equals NaN, but ``True`` is not ``1`` and ``"1"`` is not ``1``. Any
other difference (a key more or less, another value, another type) gives another fingerprint.

The fingerprint is the SHA-256 (hex) of a canonical JSON document::

    {"v": 1, "params": [[key, kind, text], ...]}

with the params sorted by key, ``kind`` one of ``number``, ``bool``, ``none``, ``str``, and
``text`` the value written one way only: a number that is whole as its integer digits
(``1.0`` → ``"1"``), any other float as its shortest round-trip ``repr`` (``"0.1"``), NaN
and the infinities as ``"nan"``, ``"inf"``, ``"-inf"``.

Extension point (issue 5): once runs capture their code, data and environment, their digests
join the document as further top-level sections — ``"code"`` (the snapshot's tree digest),
``"data"`` (the sorted ``[name, context, digest]`` of the run's dataset inputs),
``"environment"`` (the environment snapshot's digest) — passed to :func:`fingerprint` as
keyword arguments. A section is written only when it was captured, so a run without it keeps
the fingerprint it has today, and ``"v"`` changes only if the encoding of an existing section
does. The store computes the fingerprint (``runs.fingerprint``) whenever what it covers
changes; the SDK computes the same function client-side to look for earlier equal runs before
a run starts.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping

import orjson

from cairn.core.entities import ParamValue
from cairn.core.errors import InvalidValue

#: The version of the canonical encoding, written into every fingerprinted document.
VERSION = 1

_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def fingerprint(params: Mapping[str, ParamValue]) -> str:
    """The fingerprint (64 lowercase hex characters) of a run with these flat, typed params.

    ``params`` are what :func:`cairn.core.params.flatten_config` makes of a config.
    """
    document = {"v": VERSION, "params": [[key, *canonical_value(params[key])] for key in sorted(params)]}
    return hashlib.sha256(orjson.dumps(document)).hexdigest()


def canonical_value(value: ParamValue) -> tuple[str, str | None]:
    """(kind, text) with one spelling per value: two values that are the same param value
    (:func:`~cairn.core.params.same_param_value`) have the same pair, and only they do."""
    if value is None:
        return "none", None
    if isinstance(value, bool):
        return "bool", "true" if value else "false"
    if isinstance(value, int):
        return "number", str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "number", "nan"
        if math.isinf(value):
            return "number", "inf" if value > 0 else "-inf"
        if value.is_integer():
            # Exact: int(2.0**60) is 2**60, so a float equals an int exactly when their digits do.
            return "number", str(int(value))
        return "number", repr(value)
    return "str", value


def check_fingerprint(value: object) -> str:
    """``value`` if it is a fingerprint (64 lowercase hex characters); InvalidValue otherwise."""
    if not isinstance(value, str) or _HEX_DIGEST.fullmatch(value) is None:
        raise InvalidValue("a fingerprint is 64 lowercase hexadecimal characters (a SHA-256 digest)")
    return value
