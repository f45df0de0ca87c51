"""``cairn.transformers.autolog()``, ``CairnCallback`` and ``report_to="cairn"``: see
:mod:`cairn.integrations.transformers`."""

from cairn.integrations.transformers import CairnCallback as CairnCallback
from cairn.integrations.transformers import autolog as autolog
