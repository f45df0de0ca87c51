"""Cairn: log every experiment, version every model, share one dashboard.

import cairn
with cairn.init(project="mnist", config={"lr": 0.01}) as run:
    for epoch in range(10):
        run.log({"loss": 0.3, "acc": 0.9})
    info = run.log_model(model, input_example=X[:5])
model = cairn.load_model(info.uri)
"""

from cairn.client.api import Api
from cairn.client.capture.recorder import CaptureSettings
from cairn.client.labels import log_prediction_labels
from cairn.client.lifecycle import flush
from cairn.client.models.loaded import LoadedModel
from cairn.client.models.transfer import ModelInfo
from cairn.client.monitor import PredictionMonitor
from cairn.client.reviews import approve_review, merge_review, open_review, protect_alias
from cairn.client.run import Run
from cairn.client.sdk import init, load_model, monitor, register_model
from cairn.core.errors import (
    CairnError,
    DuplicateRun,
    InvalidInput,
    NotFound,
    ParamConflict,
    RunNotActive,
    Unavailable,
)
from cairn.core.version import __version__
from cairn.integrations.autolog import autolog
from cairn.serving.batch import predict

__all__ = [
    "Api",
    "CairnError",
    "CaptureSettings",
    "DuplicateRun",
    "InvalidInput",
    "LoadedModel",
    "ModelInfo",
    "NotFound",
    "ParamConflict",
    "PredictionMonitor",
    "Run",
    "RunNotActive",
    "Unavailable",
    "__version__",
    "approve_review",
    "autolog",
    "flush",
    "init",
    "load_model",
    "log_prediction_labels",
    "merge_review",
    "monitor",
    "open_review",
    "predict",
    "protect_alias",
    "register_model",
]


#: ``cairn.sklearn.autolog()`` and the like work after a plain ``import cairn``; each module is
#: imported on first use, so importing Cairn imports no framework.
_INTEGRATION_MODULES = frozenset({"sklearn", "xgboost", "lightgbm", "lightning", "keras", "transformers", "pytorch"})


def __getattr__(name: str) -> object:
    if name in _INTEGRATION_MODULES:
        import importlib

        return importlib.import_module(f"cairn.{name}")
    raise AttributeError(f"module 'cairn' has no attribute {name!r}")
