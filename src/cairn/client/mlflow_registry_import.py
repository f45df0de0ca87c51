"""Copy MLflow's model registry into Cairn's: each registered model with its description and
tags, then each of its versions in MLflow's order, registered from the model folder of the
imported run, with its description, tags, stage and the aliases that point at it.

A version is known as imported by its tag ``mlflow.version`` (MLflow's version number), given
as it is registered, so that a second import skips it. Cairn numbers a model's versions itself,
from 1 in the order they are registered: when versions were deleted in MLflow (or the Cairn
model had versions of its own), Cairn's numbers differ from MLflow's and the tag keeps MLflow's.
Stage and aliases are set only on a version registered by this import: on a second import,
aliases moved in Cairn since stay where they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cairn.client.mlflow_source import LOGGED_MODELS_FOLDER, ImportReport, pages, reason
from cairn.core.errors import ModelNotFound
from cairn.core.registry import Stage
from cairn.service.interface import Tracking

VERSION_TAG = "mlflow.version"
_LOGGED_MODEL_URI = "models:/"
_RUNS_URI = "runs:/"

#: A registered model and its versions, oldest first.
Plan = list[tuple[Any, list[Any]]]


class NotImportable(RuntimeError):
    """A model version whose files Cairn cannot find among the imported runs."""


def registry_plan(client: Any, report: ImportReport) -> Plan:
    """Every registered model of the source with its versions, oldest first. A model whose
    versions MLflow cannot list is reported and left out."""
    try:
        models = list(pages(lambda token: client.search_registered_models(page_token=token)))
    except Exception as exc:  # the runs still come in
        report.failed.append(("registered models", reason(exc)))
        return []
    plan = []
    for model in models:
        try:
            versions = list(_versions_of(client, model.name))
        except Exception as exc:  # the other models go on
            report.failed.append((f"model {model.name}", reason(exc)))
            continue
        plan.append((model, sorted(versions, key=lambda version: int(version.version))))
    return plan


def import_registered_models(
    tracking: Tracking, plan: Plan, cairn_runs: Mapping[str, str], report: ImportReport, step: Callable[[], None]
) -> None:
    """Create each model of ``plan`` that Cairn lacks and register each of its versions not
    imported before; ``cairn_runs`` maps MLflow run ids to the imported runs. Whatever fails
    is reported and the rest go on; ``step`` hears each version done."""
    for model, versions in plan:
        try:
            imported = _model_versions_imported(tracking, model, report)
        except Exception as exc:  # this model's versions cannot come in; the others go on
            report.failed.append((f"model {model.name}", reason(exc)))
            for _ in versions:
                step()
            continue
        aliases = _aliases_by_version(model)
        for version in versions:
            number = str(version.version)
            if number in imported:
                report.versions_skipped += 1
            else:
                try:
                    _import_version(tracking, model.name, version, cairn_runs, aliases.get(number, []), report)
                    report.versions_imported += 1
                except Exception as exc:  # reported, and the rest go on
                    report.failed.append((f"model {model.name} version {number}", reason(exc)))
            step()


def _versions_of(client: Any, name: str) -> Any:
    # MLflow's filter quotes with either quote and has no escape inside a string.
    quote = '"' if "'" in name else "'"
    return pages(lambda token: client.search_model_versions(f"name = {quote}{name}{quote}", page_token=token))


def _model_versions_imported(tracking: Tracking, model: Any, report: ImportReport) -> set[str]:
    """MLflow's numbers of the model's versions already in Cairn; the model is created (with
    MLflow's description and tags) when Cairn has none by its name."""
    try:
        tracking.get_model(model.name)
    except ModelNotFound:
        tracking.create_model(model.name, model.description or "", dict(model.tags or {}))
        report.models_imported += 1
        return set()
    report.models_skipped += 1
    found: set[str] = set()
    token = None
    while True:
        page = tracking.list_model_versions(model.name, limit=1000, page_token=token)
        found |= {version.tags[VERSION_TAG] for version in page.items if VERSION_TAG in version.tags}
        token = page.next_page_token
        if not token:
            return found


def _aliases_by_version(model: Any) -> dict[str, list[str]]:
    """MLflow version number → its aliases (the model knows them in every MLflow store; a
    version read from a SQL store does not list its own)."""
    by_version: dict[str, list[str]] = {}
    for alias, version in sorted((model.aliases or {}).items()):
        by_version.setdefault(str(version), []).append(alias)
    return by_version


def _import_version(
    tracking: Tracking,
    name: str,
    version: Any,
    cairn_runs: Mapping[str, str],
    aliases: list[str],
    report: ImportReport,
) -> None:
    """Register the version, then set its stage and aliases; a stage or alias Cairn refuses
    (a protected alias moves only by a review) is reported and the version stays imported."""
    source = model_folder(version, cairn_runs)
    tags = {**(version.tags or {}), VERSION_TAG: str(version.version)}
    created = tracking.register_model(source, name, description=version.description or "", tags=tags)
    stage = version.current_stage or Stage.NONE
    if stage != Stage.NONE:
        try:
            tracking.transition_stage(name, created.version, stage)
        except Exception as exc:
            report.failed.append((f"model {name} version {version.version} stage {stage}", reason(exc)))
    for alias in aliases:
        try:
            tracking.set_model_alias(name, alias, created.version)
        except Exception as exc:
            report.failed.append((f"model {name} alias {alias}", reason(exc)))


def model_folder(version: Any, cairn_runs: Mapping[str, str]) -> str:
    """The ``runs:/RUN_ID/PATH`` of the imported folder an MLflow version's ``source`` names:
    a logged model (``models:/m-…``, under ``models/m-…`` of its run), ``runs:/RUN_ID/PATH``,
    or an artifact URI of the version's run (``…/RUN_ID/artifacts/PATH``). Raises
    NotImportable for any other source, or when the run was not imported."""
    source: str = version.source or ""
    run_id: str = version.run_id or ""
    path = ""
    if source.startswith(_LOGGED_MODEL_URI) and "/" not in source.removeprefix(_LOGGED_MODEL_URI):
        path = f"{LOGGED_MODELS_FOLDER}/{source.removeprefix(_LOGGED_MODEL_URI)}"
    elif source.startswith(_RUNS_URI):
        run_id, _, path = source.removeprefix(_RUNS_URI).partition("/")
    elif run_id and f"/{run_id}/artifacts/" in source:
        path = source.split(f"/{run_id}/artifacts/", 1)[1]
    path = path.strip("/")
    if not run_id or not path:
        raise NotImportable(f"its source {source!r} names no model folder of a run")
    if run_id not in cairn_runs:
        raise NotImportable(f"its run {run_id} was not imported")
    return f"runs:/{cairn_runs[run_id]}/{path}"
