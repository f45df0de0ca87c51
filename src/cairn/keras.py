"""``cairn.keras.autolog()`` and ``cairn.keras.CairnCallback``: see :mod:`cairn.integrations.keras`.

Set ``KERAS_BACKEND`` before importing this module: it imports Keras, which picks its backend
on first import."""

from cairn.integrations.keras import CairnCallback as CairnCallback
from cairn.integrations.keras import autolog as autolog
