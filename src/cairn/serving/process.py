"""A serving process from start to port: what ``cairn serve`` does before and after it binds.

``prepare`` runs once, in the process that binds the port: it resolves the model URI,
fetches the folder into the cache, verifies and loads it, and checks it on its input example.
Only then is the port opened, so a model that cannot be served stops the start with its
error and no client ever sees a half-loaded server. Worker processes are forked after that
and share the loaded model; each builds its own app (``worker_app``): batcher thread, alias
follower and prediction log, none of which survive a fork.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.client.connect import connect, resolve_uri
from cairn.service.interface import Tracking
from cairn.serving.app import ServeOptions, ServingApp, build_app
from cairn.serving.follow import AliasFollower, ModelSlot
from cairn.serving.model_source import ServedModel, is_model_folder, open_model
from cairn.settings import cairn_home

log = logging.getLogger("cairn.serve")


@dataclass(frozen=True, slots=True)
class ServeSettings:
    model_uri: str
    #: Which Cairn store the model is read from (else CAIRN_URI, else the embedded default).
    store_uri: str | None = None
    options: ServeOptions = ServeOptions()
    #: How often the registry is asked where the alias points (0: never).
    poll_seconds: float = 10.0
    #: The share of requests whose inputs and outputs are logged (0 to 1).
    log_predictions: float = 0.0
    cache_dir: Path | None = None

    @property
    def cache(self) -> Path:
        return self.cache_dir or cairn_home() / "serving" / "models"


@dataclass(frozen=True, slots=True)
class Prepared:
    settings: ServeSettings
    model: ServedModel


def prepare(settings: ServeSettings) -> Prepared:
    """Fetch, verify, load and check the model: CairnError (ModelNotFound, ModelTampered,
    FrameworkNotInstalled, …) when it cannot be served."""
    tracking = None if is_model_folder(settings.model_uri) else _connect(settings)
    try:
        model = open_model(tracking, settings.model_uri, settings.cache)
    finally:
        if tracking is not None:
            tracking.close()
    return Prepared(settings, model)


def worker_app(prepared: Prepared) -> Any:
    """The ASGI app of one worker process, around the model ``prepare`` loaded."""
    settings = prepared.settings
    slot = ModelSlot(prepared.model)
    location = prepared.model.location
    prediction_log = None
    if settings.log_predictions > 0 and location.version is not None:
        prediction_log = _prediction_log(settings)
    state = ServingApp(slot, settings.options, prediction_log=prediction_log)
    if location.alias is not None and settings.poll_seconds > 0:
        state.follower = AliasFollower(
            slot,
            lambda: _connect(settings),
            cache=settings.cache,
            interval_seconds=settings.poll_seconds,
            on_swap=state.swapped,
            on_failure=lambda failure: state.metrics.swap_failures.inc(),
        )
    return build_app(state)


def _connect(settings: ServeSettings) -> Tracking:
    return connect(resolve_uri(settings.store_uri))


def _prediction_log(settings: ServeSettings) -> Any:
    from cairn.client.prediction_files import StorePredictionSink
    from cairn.serving.prediction_log import PredictionLogger

    return PredictionLogger(StorePredictionSink(lambda: _connect(settings)), sample_rate=settings.log_predictions)
