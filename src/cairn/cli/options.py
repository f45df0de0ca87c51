"""What several commands share: where the store is, and opening it for the length of a command."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from cairn.client.connect import connect
from cairn.service.interface import Tracking
from cairn.settings import default_blobs_uri, default_store_uri

F = TypeVar("F", bound=Callable[..., Any])

URI_HELP = (
    "Where the runs are: a path, sqlite:///PATH, postgresql://USER@HOST/DB, or http(s)://HOST:PORT "
    "of a Cairn server. [default: $CAIRN_URI, else $CAIRN_HOME/cairn.db]"
)


def uri_option(command: F) -> F:
    """``--uri``: unset, :func:`cairn.client.connect.resolve_uri` picks CAIRN_URI or the default."""
    return click.option("--uri", metavar="URI", default=None, help=URI_HELP)(command)


def json_option(command: F) -> F:
    """``--json``, passed to the command as ``as_json``."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print JSON (the REST API's format) instead of a table.",
    )(command)


def store_options(command: F) -> F:
    """``--store``, ``--blobs`` and ``--blobs-endpoint``: where a server's (or gc's) data lives,
    passed as ``store_uri``, ``blobs_uri`` and ``blobs_endpoint``."""
    command = click.option(
        "--blobs-endpoint",
        metavar="URL",
        default=None,
        help="S3-compatible endpoint for s3:// blobs (MinIO, Ceph…). [default: AWS, or $AWS_ENDPOINT_URL]",
    )(command)
    command = click.option(
        "--blobs",
        "blobs_uri",
        metavar="URI",
        default=default_blobs_uri,
        show_default="$CAIRN_HOME/blobs",
        help="Blob store for artifacts: a path, file://PATH or s3://BUCKET/PREFIX.",
    )(command)
    return click.option(
        "--store",
        "store_uri",
        metavar="URI",
        default=default_store_uri,
        show_default="$CAIRN_HOME/cairn.db",
        help="Metadata store: a path, sqlite:///PATH or postgresql://USER@HOST/DB.",
    )(command)


@contextlib.contextmanager
def open_tracking(uri: str | None) -> Iterator[Tracking]:
    """The tracking interface on ``uri`` (a store in this process, or a server), closed after."""
    opened = connect(uri)
    try:
        yield opened
    finally:
        opened.close()


_DURATION_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Duration(click.ParamType[int]):
    """``90s``, ``30m``, ``12h``, ``30d``, ``2w``: as seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        number, unit = text[:-1], text[-1:]
        if unit not in _DURATION_UNITS_S or not number.isdigit() or int(number) == 0:
            self.fail(f"{value!r} is not a duration such as 90s, 30m, 12h, 30d or 2w", param, ctx)
        return int(number) * _DURATION_UNITS_S[unit]
