"""``cairn.pytorch.watch(model)``: see :mod:`cairn.integrations.pytorch`."""

from cairn.integrations.pytorch import unwatch as unwatch
from cairn.integrations.pytorch import watch as watch
