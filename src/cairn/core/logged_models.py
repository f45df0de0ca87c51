"""Logged models: a model folder among a run's artifacts, with a record of its own.

A run's model folder (``run.log_model`` in Cairn, ``mlflow.<flavor>.log_model`` through the
MLflow API) is ordinary artifacts. The record gives it what MLflow 3 calls a logged model: an
id (``m-`` and 32 hex digits), a name, a status (a client uploads the files while it is
``pending`` and marks it ``ready`` or ``failed``), a type, tags and params, so it can be found,
listed and registered by id. It is data logged into a run, like a metric or an artifact: no
event of its own, and it goes with its run.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from cairn.core.errors import InvalidValue

_ID = re.compile(r"m-[0-9a-f]{32}")
#: Where a logged model's files are among its run's artifacts: ``models/<id>``.
FOLDER_PREFIX = "models/"


class LoggedModelStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LoggedModel:
    id: str
    project_id: str
    project: str
    #: The run whose artifacts hold the model's files.
    run_id: str
    #: The run that produced the model, as the client said; None for a model logged outside a
    #: run (its files then sit in a run made to hold them, ``run_id``).
    source_run_id: str | None
    name: str
    status: LoggedModelStatus
    status_message: str
    model_type: str
    created_by: str
    created_at: int
    updated_at: int
    deleted: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The model folder among the run's artifacts."""
        return FOLDER_PREFIX + self.id


def new_logged_model_id() -> str:
    return "m-" + uuid.uuid4().hex


def logged_model_id_of(path: str) -> str | None:
    """The logged model whose folder ``path`` is (``models/m-…``), None for any other folder
    (one a Cairn user named ``models/x`` included)."""
    rest = path.removeprefix(FOLDER_PREFIX)
    return rest if rest != path and _ID.fullmatch(rest) else None


def check_logged_model_id(value: object) -> str:
    """Raises InvalidValue unless ``value`` is a logged model's id."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidValue(f"{value!r} is not a logged model id (m- and 32 hex digits)", details={"field": "model_id"})
    return value


def check_logged_model_status(value: object) -> LoggedModelStatus:
    try:
        return LoggedModelStatus(str(value).lower())
    except ValueError:
        choices = ", ".join(s.value for s in LoggedModelStatus)
        raise InvalidValue(f"a logged model's status is one of {choices}, not {value!r}") from None
