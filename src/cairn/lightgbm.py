"""``cairn.lightgbm.autolog()`` and ``cairn.lightgbm.CairnCallback``: see :mod:`cairn.integrations.lightgbm`."""

from cairn.integrations.lightgbm import CairnCallback as CairnCallback
from cairn.integrations.lightgbm import autolog as autolog
