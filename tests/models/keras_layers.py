"""A custom Keras layer in an importable module, registered with Keras: a model using it loads
in a fresh process once the manifest's ``loader.modules`` has been imported
(tests/models/test_keras_flavor.py)."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="cairn_tests")
class Scale(keras.layers.Layer):
    """Multiplies its input by a fixed factor."""

    def __init__(self, factor: float = 2.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs: Any) -> Any:
        return inputs * self.factor

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor}
