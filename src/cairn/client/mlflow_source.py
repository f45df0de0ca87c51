"""Reading an MLflow store for ``cairn import mlflow``: MLflow's client on the source, its
paged answers, and the report the run and registry importers fill in together."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: Where a run's MLflow 3 logged models go among its artifacts, as on Cairn's MLflow server.
LOGGED_MODELS_FOLDER = "models"


class SourceError(RuntimeError):
    """The MLflow store cannot be read at all (or the ``mlflow`` package is missing)."""


@dataclass
class ImportReport:
    experiments: int = 0
    imported: int = 0
    skipped: int = 0
    models_imported: int = 0
    models_skipped: int = 0
    versions_imported: int = 0
    versions_skipped: int = 0
    #: (MLflow run, experiment, model or version, why it could not be imported)
    failed: list[tuple[str, str]] = field(default_factory=list)


def mlflow_client(source: str) -> Any:
    """MLflow's client on ``source``; raises SourceError without the package."""
    try:
        import mlflow
    except ImportError as exc:
        raise SourceError("importing MLflow data needs the mlflow package: pip install 'cairn[mlflow]'") from exc
    # MLflow 3 refuses to open an ``mlruns`` folder unless asked to: an old folder is exactly
    # what one imports, and the importer only reads it.
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # ours is the one shown
    try:
        # The registry is read from the same store as the runs (MLflow's default too).
        return mlflow.MlflowClient(tracking_uri=source, registry_uri=source)
    except Exception as exc:  # an unsupported or malformed URI
        raise SourceError(f"cannot read the MLflow store at {source}: {reason(exc)}") from exc


def pages(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    """Every item of a paged MLflow search; ``fetch`` takes the page token (None first)."""
    token = None
    while True:
        page = fetch(token)
        yield from page
        token = page.token
        if not token:
            return


def reason(exc: Exception) -> str:
    """One line saying why, for the report."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
