"""The API tokens ``cairn login`` keeps, one per server, in the user's config folder
(docs/access.md, "Signing in from the CLI and SDK").

The file is ``credentials.json`` in ``$CAIRN_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/cairn``, else
``~/.config/cairn``: ``{"servers": {URL: {"token", "token_id", "username"}}}``. It is written
whole to a new file that only its owner may read (0600, in a 0700 folder) and then renamed over
the old one, so a crash never leaves half a file and the token is never readable by others,
not even for a moment. ``CAIRN_TOKEN``, when set, wins over anything stored here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cairn.core.errors import InvalidValue

FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class StoredToken:
    token: str
    token_id: str
    username: str

    def __repr__(self) -> str:  # never the secret, whatever prints this
        return f"StoredToken(token_id={self.token_id!r}, username={self.username!r})"


def config_dir() -> Path:
    configured = os.environ.get("CAIRN_CONFIG_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / "cairn"


def credentials_path() -> Path:
    return config_dir() / FILE_NAME


def server_key(url: str) -> str:
    """One spelling per server: ``HTTP://Host:5055/`` and ``http://host:5055`` are one."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise InvalidValue(f"{url!r} is not the http(s):// address of a Cairn server")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{(slash + path).rstrip('/')}"


def stored_token(url: str) -> StoredToken | None:
    """The token stored for the server at ``url``, if any."""
    entry = _read().get(server_key(url))
    if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
        return None
    return StoredToken(entry["token"], str(entry.get("token_id", "")), str(entry.get("username", "")))


def store_token(url: str, stored: StoredToken) -> Path:
    """Keep ``stored`` for the server at ``url`` (replacing what was there); returns the file."""
    servers = _read()
    servers[server_key(url)] = {"token": stored.token, "token_id": stored.token_id, "username": stored.username}
    return _write(servers)


def forget_token(url: str) -> StoredToken | None:
    """Drop the token stored for ``url``; returns it (None if there was none)."""
    found = stored_token(url)
    if found is not None:
        servers = _read()
        servers.pop(server_key(url), None)
        _write(servers)
    return found


def _read() -> dict[str, Any]:
    try:
        data = orjson.loads(credentials_path().read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InvalidValue(f"cannot read {credentials_path()}: {exc}") from None
    servers = data.get("servers") if isinstance(data, dict) else None
    return dict(servers) if isinstance(servers, dict) else {}


def _write(servers: dict[str, Any]) -> Path:
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp makes the file 0600 from the start; the rename replaces the old one at once.
    fd, temporary = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(orjson.dumps({"servers": servers}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path
