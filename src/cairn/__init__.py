"""Cairn: log every experiment, version every model, share one dashboard.

import cairn
with cairn.init(project="mnist", config={"lr": 0.01}) as run:
    for epoch in range(10):
        run.log({"loss": 0.3, "acc": 0.9})
"""

from cairn.client.api import Api
from cairn.client.capture.recorder import CaptureSettings
from cairn.client.run import Run
from cairn.client.sdk import init, register_model
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

__all__ = [
    "Api",
    "CairnError",
    "CaptureSettings",
    "DuplicateRun",
    "InvalidInput",
    "NotFound",
    "ParamConflict",
    "Run",
    "RunNotActive",
    "Unavailable",
    "__version__",
    "init",
    "register_model",
]
