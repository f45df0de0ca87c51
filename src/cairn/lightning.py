"""``cairn.lightning.CairnLogger`` and ``cairn.lightning.autolog()``: see
:mod:`cairn.integrations.lightning`. ``CairnLogger`` is made on the installed Lightning's
``Logger`` the first time it is asked for, so importing this module imports no Lightning."""

from typing import Any

from cairn.integrations.lightning import autolog as autolog
from cairn.integrations.lightning import flat_params as flat_params
from cairn.integrations.lightning import logger_class as logger_class


def __getattr__(name: str) -> Any:
    from cairn.integrations import lightning

    return getattr(lightning, name)
