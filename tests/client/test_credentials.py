"""Where ``cairn login`` keeps tokens, and which token a client sends (docs/access.md)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cairn.client.connect import token_for
from cairn.client.credentials import (
    StoredToken,
    config_dir,
    credentials_path,
    forget_token,
    server_key,
    store_token,
    stored_token,
)
from cairn.core.errors import InvalidValue

SECRET = "cairn_" + "x" * 43


@pytest.fixture(autouse=True)
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CAIRN_CONFIG_DIR", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_the_config_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert config_dir() == tmp_path / "home" / ".config" / "cairn"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "cairn"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/is/ignored")  # as the XDG spec says
    assert config_dir() == tmp_path / "home" / ".config" / "cairn"
    monkeypatch.setenv("CAIRN_CONFIG_DIR", str(tmp_path / "mine"))
    assert credentials_path() == tmp_path / "mine" / "credentials.json"


def test_a_token_is_kept_for_its_owner_only_and_forgotten(tmp_path: Path) -> None:
    path = store_token("http://Cairn.example.com:5055/", StoredToken(SECRET, "t1", "ann"))
    assert path == credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["credentials.json"]  # no temporary left
    found = stored_token("http://cairn.example.com:5055")
    assert found == StoredToken(SECRET, "t1", "ann")
    assert SECRET not in repr(found)
    assert stored_token("https://cairn.example.com:5055") is None  # another scheme, another server

    store_token("http://other:5055", StoredToken(SECRET + "2", "t2", "bob"))
    assert forget_token("http://cairn.example.com:5055/") == found
    assert stored_token("http://cairn.example.com:5055") is None
    assert stored_token("http://other:5055") is not None
    assert forget_token("http://cairn.example.com:5055") is None


def test_a_replaced_file_stays_private_even_if_the_old_one_was_not(tmp_path: Path) -> None:
    path = store_token("http://a:1", StoredToken(SECRET, "t1", "ann"))
    path.chmod(0o644)
    store_token("http://a:1", StoredToken(SECRET, "t2", "ann"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_only_http_addresses_are_servers() -> None:
    with pytest.raises(InvalidValue):
        server_key("/home/ann/.cairn/cairn.db")


def test_cairn_token_wins_over_the_stored_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert token_for("http://a:1") is None
    store_token("http://a:1", StoredToken(SECRET, "t1", "ann"))
    assert token_for("http://a:1/") == SECRET
    monkeypatch.setenv("CAIRN_TOKEN", "cairn_from_the_environment")
    assert token_for("http://a:1") == "cairn_from_the_environment"
