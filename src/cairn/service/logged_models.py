"""The rules of logged models (core/logged_models.py): who may make, read and change them, and
where their files go.

A logged model is data logged into a run, so the run's project decides who sees and changes it
(a viewer reads, an editor logs), and a model nobody may see answers LoggedModelNotFound, as an
unknown id does. A model logged outside any run gets a run of its own, named after it, to hold
its files: Cairn keeps every artifact in a run.
"""

from __future__ import annotations

from collections.abc import Mapping

from cairn.core import limits
from cairn.core.clock import now_ms
from cairn.core.entities import Run, RunStatus, RunUpdate
from cairn.core.errors import InvalidValue, LoggedModelNotFound, RunNotActive
from cairn.core.logged_models import (
    LoggedModel,
    LoggedModelStatus,
    check_logged_model_id,
    new_logged_model_id,
)
from cairn.service.policy import Action, Policy, Principal, check_run, hidden_as
from cairn.store.base import MetadataStore

#: The tag on a run made to hold the files of a model logged outside any run.
HOLDER_TAG = "cairn.logged_model"


class LoggedModelRules:
    store: MetadataStore
    principal: Principal
    policy: Policy

    # Provided by TrackingService.
    def create_run(self, project: str, *, name: str | None = None, tags: Mapping[str, str] | None = None) -> Run:
        raise NotImplementedError

    def update_run(self, run_id: str, update: RunUpdate) -> Run:
        raise NotImplementedError

    def create_logged_model(
        self,
        project: str,
        name: str,
        *,
        source_run_id: str | None = None,
        model_type: str = "",
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> LoggedModel:
        """A new logged model, ``pending`` until its files are in. Raises ProjectNotFound,
        RunNotFound, RunNotActive (a deleted source run), InvalidValue (a run of another
        project, a bad name, tag or param)."""
        limits.check_name(name, "logged model name")
        limits.check_text(model_type, "model type", limits.MAX_NAME_LENGTH)
        checked_tags = limits.check_tags(tags or {})
        checked_params = _checked_params(params or {})
        model_id = new_logged_model_id()
        if source_run_id is None:
            holder = self.create_run(project, name=name, tags={HOLDER_TAG: model_id})
            holder = self.update_run(holder.id, RunUpdate(status=RunStatus.FINISHED, end_time=now_ms()))
        else:
            holder = self.store.get_run(source_run_id, details=False)
            check_run(self.policy, self.principal, Action.WRITE, holder)
            if holder.deleted:
                raise RunNotActive(f"run {holder.id} is deleted", details={"run_id": holder.id, "deleted": True})
            if holder.project != project:
                raise InvalidValue(
                    f"run {holder.id} is in project {holder.project!r}, not {project!r}",
                    details={"run_id": holder.id, "project": holder.project},
                )
        created = now_ms()
        model = LoggedModel(
            id=model_id,
            project_id=holder.project_id,
            project=holder.project,
            run_id=holder.id,
            source_run_id=source_run_id,
            name=name,
            status=LoggedModelStatus.PENDING,
            status_message="",
            model_type=model_type,
            created_by=self.principal.name,
            created_at=created,
            updated_at=created,
            tags=checked_tags,
            params=checked_params,
        )
        self.store.create_logged_model(model)
        return model

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """Deleted ones too (``deleted`` says so). Raises LoggedModelNotFound."""
        return self._checked(model_id, Action.READ)

    def list_logged_models(self, projects: list[str], *, deleted: bool = False) -> list[LoggedModel]:
        """The logged models of the projects (those the caller may read), newest first.
        Raises ProjectNotFound."""
        ids = []
        for name in projects:
            project = self.store.get_project(name, with_counts=False)
            self.policy.check(self.principal, Action.READ, project.name)
            ids.append(project.id)
        return self.store.list_logged_models(project_ids=ids, deleted=deleted)

    def run_logged_models(self, run_id: str) -> list[LoggedModel]:
        """The models whose files the run holds, newest first. Raises RunNotFound."""
        run = self.store.get_run(run_id, details=False)
        check_run(self.policy, self.principal, Action.READ, run)
        return self.store.list_logged_models(run_id=run_id)

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus, status_message: str = "") -> LoggedModel:
        limits.check_text(status_message, "status message", limits.MAX_NOTES_LENGTH)
        self._checked(model_id, Action.WRITE)
        return self.store.update_logged_model(
            model_id, updated_at=now_ms(), status=status, status_message=status_message
        )

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> LoggedModel:
        checked = limits.check_tags(tags)
        model = self._checked(model_id, Action.WRITE)
        return self.store.update_logged_model(model_id, updated_at=now_ms(), tags={**model.tags, **checked})

    def delete_logged_model_tag(self, model_id: str, key: str) -> LoggedModel:
        """Raises InvalidValue when the model has no such tag."""
        model = self._checked(model_id, Action.WRITE)
        if key not in model.tags:
            raise InvalidValue(f"logged model {model_id} has no tag {key!r}", details={"key": key})
        tags = {k: v for k, v in model.tags.items() if k != key}
        return self.store.update_logged_model(model_id, updated_at=now_ms(), tags=tags)

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> LoggedModel:
        checked = _checked_params(params)
        model = self._checked(model_id, Action.WRITE)
        return self.store.update_logged_model(model_id, updated_at=now_ms(), params={**model.params, **checked})

    def delete_logged_model(self, model_id: str) -> None:
        """Out of listings; its files stay with its run."""
        self._checked(model_id, Action.WRITE)
        self.store.update_logged_model(model_id, updated_at=now_ms(), deleted=True)

    def _checked(self, model_id: str, action: Action) -> LoggedModel:
        try:
            check_logged_model_id(model_id)
        except InvalidValue:
            raise _not_found(model_id) from None
        model = self.store.get_logged_model(model_id)
        with hidden_as(_not_found(model_id)):
            self.policy.check(self.principal, action, model.project)
        return model


def _not_found(model_id: str) -> LoggedModelNotFound:
    return LoggedModelNotFound(f"no logged model with id {model_id!r}", details={"model_id": model_id})


def _checked_params(params: Mapping[str, str]) -> dict[str, str]:
    return {
        limits.check_key(key, "param"): limits.check_text(value, f"param {key!r}", limits.MAX_PARAM_VALUE_LENGTH)
        for key, value in params.items()
    }
