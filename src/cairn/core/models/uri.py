"""Model URIs, the one parser for all of them, and the rules for the names inside them.

- ``runs:/RUN_ID/PATH``: the model folder logged at ``PATH`` of run ``RUN_ID``
  (``run.log_model(model, name)`` returns ``runs:/<run id>/<name>``);
- ``models:/NAME/VERSION``: version ``VERSION`` (an integer from 1) of registered model ``NAME``;
- ``models:/NAME@ALIAS``: the version alias ``ALIAS`` of ``NAME`` points at now.

Anything else is InvalidModelUri. The parts follow the registry's rules, which live here so
that a name the registry accepts is one a URI can carry, and the other way round:

- a model name is a name as :func:`cairn.core.limits.check_name` has it (not blank, no control
  character, at most 250 characters) without ``/`` or ``@``, which separate the parts of a URI;
- an alias is ``[a-z][a-z0-9_-]*``, at most 250 characters, and not a word that reads as a
  version (``v3``, ``latest``);
- a version is an integer from 1 that fits in 64 bits;
- a run id is 1 to 64 characters without ``/`` or a control character, and PATH an artifact
  path as :func:`cairn.core.artifacts.check_artifact_path` has it.

The ``*_PATTERN`` strings state the same rules for the OpenAPI document (server/schemas.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cairn.core.artifacts import ARTIFACT_PATH_PATTERN, check_artifact_path
from cairn.core.errors import InvalidArtifactPath, InvalidModelUri, InvalidValue
from cairn.core.limits import MAX_ARTIFACT_PATH_LENGTH, MAX_KEY_LENGTH, WHITESPACE, check_name

#: What an alias looks like (``champion``, ``challenger``, ``prod-eu``…).
ALIAS_PATTERN = "^[a-z][a-z0-9_-]*$"
#: Characters of an alias.
MAX_ALIAS_LENGTH = MAX_KEY_LENGTH
#: A model name (:func:`check_model_name`) as a regular expression.
MODEL_NAME_PATTERN = rf"^[^/@\x00-\x1f\x7f]*[^/@{WHITESPACE}\x00-\x1f\x7f][^/@\x00-\x1f\x7f]*$"
#: Characters of a model source, ``runs:/RUN_ID/PATH``.
MAX_MODEL_SOURCE_LENGTH = MAX_ARTIFACT_PATH_LENGTH
_RUN_ID_PATTERN = r"[^/\x00-\x1f\x7f]{1,64}"
#: A ``runs:/RUN_ID/PATH`` URI as a regular expression.
RUNS_URI_PATTERN = rf"^runs:/{_RUN_ID_PATTERN}/" + ARTIFACT_PATH_PATTERN.removeprefix("^")

_ALIAS = re.compile(ALIAS_PATTERN)
_RUN_ID = re.compile(_RUN_ID_PATTERN)
# "v3" reads as version 3 in a URI, and "latest" as the newest version (MLflow reserves both).
_VERSION_LIKE = re.compile(r"^v[0-9]+$")
_RESERVED_ALIASES = frozenset({"latest"})


@dataclass(frozen=True, slots=True)
class RunModelUri:
    run_id: str
    path: str

    def __str__(self) -> str:
        return f"runs:/{self.run_id}/{self.path}"


@dataclass(frozen=True, slots=True)
class RegisteredModelUri:
    """A registered model's version, by number or by alias (exactly one of them is set)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return f"models:/{self.name}@{self.alias}" if self.alias is not None else f"models:/{self.name}/{self.version}"


ModelUri = RunModelUri | RegisteredModelUri


def check_model_name(name: object) -> str:
    """A model name: a name (not blank, no control characters, at most 250 characters) without
    ``/`` or ``@``. Raises InvalidValue."""
    checked = check_name(name, "model name")
    for separator in "/@":
        if separator in checked:
            raise InvalidValue(
                f"model name {checked!r} contains {separator!r}, which separates the parts of a models:/ URI",
                details={"model": checked},
            )
    return checked


def check_alias(alias: object) -> str:
    """An alias matching ``[a-z][a-z0-9_-]*``, at most 250 characters, that cannot be read as a
    version (``v3``, ``latest``). Raises InvalidValue."""
    if not isinstance(alias, str):
        raise InvalidValue(f"an alias must be text, got {type(alias).__name__}")
    if len(alias) > MAX_ALIAS_LENGTH or not _ALIAS.match(alias):
        raise InvalidValue(
            f"alias {alias[:60]!r} must start with a lowercase letter and hold only lowercase letters, "
            f"digits, '_' and '-' (at most {MAX_ALIAS_LENGTH} characters)",
            details={"alias": alias[:MAX_ALIAS_LENGTH]},
        )
    if _VERSION_LIKE.match(alias) or alias in _RESERVED_ALIASES:
        raise InvalidValue(f"alias {alias!r} reads as a version; choose another name", details={"alias": alias})
    return alias


def check_version_number(version: object) -> int:
    """A version number: an integer from 1. Raises InvalidValue."""
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**63:
        raise InvalidValue(f"a model version is an integer from 1, got {version!r}", details={"version": str(version)})
    return version


def parse_model_uri(uri: object) -> ModelUri:
    """The model ``uri`` names; InvalidModelUri saying what is wrong otherwise."""
    if not isinstance(uri, str):
        raise InvalidModelUri(f"a model URI must be a string, got {type(uri).__name__}")
    if len(uri) > MAX_MODEL_SOURCE_LENGTH:
        raise InvalidModelUri(
            f"a model URI is at most {MAX_MODEL_SOURCE_LENGTH} characters, got {len(uri)}", details={"uri": uri[:200]}
        )
    if uri.startswith("runs:/"):
        run_id, _, path = uri[len("runs:/") :].partition("/")
        if not _RUN_ID.fullmatch(run_id) or not path:
            raise _bad(uri, "expected runs:/RUN_ID/PATH")
        try:
            return RunModelUri(run_id, check_artifact_path(path))
        except InvalidArtifactPath as exc:
            raise _bad(uri, exc.message) from None
    if uri.startswith("models:/"):
        rest = uri[len("models:/") :]
        try:
            if "@" in rest:
                name, _, alias = rest.partition("@")
                return RegisteredModelUri(check_model_name(name), alias=check_alias(alias))
            name, _, version = rest.rpartition("/")
            if not version.isascii() or not version.isdigit():
                raise _bad(uri, "expected models:/NAME/VERSION (a version number from 1) or models:/NAME@ALIAS")
            return RegisteredModelUri(check_model_name(name), version=check_version_number(int(version)))
        except InvalidValue as exc:
            raise _bad(uri, exc.message) from None
    raise _bad(uri, "a model URI starts with runs:/ or models:/")


def parse_runs_uri(uri: object) -> RunModelUri:
    """A ``runs:/RUN_ID/PATH`` URI, the source a model version is registered from;
    InvalidModelUri for anything else, a ``models:/`` URI too."""
    parsed = parse_model_uri(uri)
    if not isinstance(parsed, RunModelUri):
        raise _bad(str(uri), "a model is registered from the runs:/RUN_ID/PATH its run logged it at")
    return parsed


def _bad(uri: str, reason: str) -> InvalidModelUri:
    return InvalidModelUri(f"bad model URI {uri[:200]!r}: {reason}", details={"uri": uri[:200]})
