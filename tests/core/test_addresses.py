"""Hosts and URIs (:mod:`cairn.core.addresses`)."""

from __future__ import annotations

from pathlib import Path

from cairn.core.addresses import redact


def test_messages_never_show_a_password(tmp_path: Path) -> None:
    assert redact("postgresql://alice:s3cret@db.example/cairn") == "postgresql://alice:***@db.example/cairn"
    assert redact("postgresql://alice@db.example/cairn") == "postgresql://alice@db.example/cairn"
    assert redact("postgresql://alice:p@ss@db.example/cairn") == "postgresql://alice:***@db.example/cairn"
    assert redact(str(tmp_path)) == str(tmp_path)
    assert redact("sqlite:////tmp/a@b/cairn.db") == "sqlite:////tmp/a@b/cairn.db"
