"""``cairn.xgboost.autolog()`` and ``cairn.xgboost.CairnCallback``: see :mod:`cairn.integrations.xgboost`."""

from cairn.integrations.xgboost import CairnCallback as CairnCallback
from cairn.integrations.xgboost import autolog as autolog
