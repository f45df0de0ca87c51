"""Every integration test starts with every integration's switches as a fresh process has them:
an ``autolog(project=...)`` one test left behind must not send another test's runs elsewhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cairn.integrations import _base


@pytest.fixture(autouse=True)
def fresh_autolog_settings() -> Iterator[None]:
    with _base._lock:
        saved = dict(_base._settings)
        _base._settings.clear()
    yield
    with _base._lock:
        _base._settings.clear()
        _base._settings.update(saved)
