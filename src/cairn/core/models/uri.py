"""Model URIs, the one parser for all of them.

- ``runs:/RUN_ID/PATH``: the model folder logged at ``PATH`` of run ``RUN_ID``
  (``run.log_model(model, name)`` returns ``runs:/<run id>/<name>``);
- ``models:/NAME/VERSION``: version ``VERSION`` (an integer from 1) of registered model ``NAME``;
- ``models:/NAME@ALIAS``: the version alias ``ALIAS`` of ``NAME`` points at now.

Anything else is InvalidModelUri. Aliases are lowercase: ``[a-z][a-z0-9_-]*``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cairn.core.artifacts import check_artifact_path
from cairn.core.errors import InvalidArtifactPath, InvalidModelUri

#: What an alias may be called (``champion``, ``challenger``, ``prod-eu``…).
ALIAS_PATTERN = re.compile(r"[a-z][a-z0-9_-]*")
_RUN_ID = re.compile(r"[0-9A-Za-z_-]+")


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


def parse_model_uri(uri: object) -> ModelUri:
    """The model ``uri`` names; InvalidModelUri saying what is wrong otherwise."""
    if not isinstance(uri, str):
        raise InvalidModelUri(f"a model URI must be a string, got {type(uri).__name__}")
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
        if "@" in rest:
            name, _, alias = rest.partition("@")
            _check_name(uri, name)
            if not ALIAS_PATTERN.fullmatch(alias):
                raise _bad(uri, f"alias {alias!r} must match [a-z][a-z0-9_-]*")
            return RegisteredModelUri(name, alias=alias)
        name, _, version = rest.rpartition("/")
        _check_name(uri, name)
        if not version.isascii() or not version.isdigit() or int(version) < 1:
            raise _bad(uri, "expected models:/NAME/VERSION (a version number from 1) or models:/NAME@ALIAS")
        return RegisteredModelUri(name, version=int(version))
    raise _bad(uri, "a model URI starts with runs:/ or models:/")


def _check_name(uri: str, name: str) -> None:
    if not name or "/" in name or name != name.strip() or any(ord(c) < 32 for c in name):
        raise _bad(uri, f"{name!r} is not a model name")


def _bad(uri: str, reason: str) -> InvalidModelUri:
    return InvalidModelUri(f"bad model URI {uri!r}: {reason}", details={"uri": uri})
