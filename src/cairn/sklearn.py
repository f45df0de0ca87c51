"""``cairn.sklearn.autolog()``: see :mod:`cairn.integrations.sklearn`."""

from cairn.integrations.sklearn import autolog as autolog
from cairn.integrations.sklearn import log_fitted as log_fitted
