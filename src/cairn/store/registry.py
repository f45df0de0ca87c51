"""Metadata stores chosen by URI scheme, from one registry that refuses silent overrides."""

from __future__ import annotations

from collections.abc import Callable

from cairn.core.errors import InvalidRequest
from cairn.store.base import MetadataStore

StoreFactory = Callable[[str], MetadataStore]

_factories: dict[str, StoreFactory] = {}


def register_store(scheme: str, factory: StoreFactory, *, allow_override: bool = False) -> None:
    if scheme in _factories and not allow_override:
        raise ValueError(f"a store is already registered for {scheme!r}")
    _factories[scheme] = factory


def scheme_of(uri: str) -> str:
    """``sqlite``, ``postgresql``…; a plain path counts as ``sqlite``."""
    if "://" not in uri:
        return "sqlite"
    scheme = uri.split("://", 1)[0].split("+", 1)[0]
    return "postgresql" if scheme == "postgres" else scheme


def open_store(uri: str) -> MetadataStore:
    factory = _factories.get(scheme_of(uri))
    if factory is None:
        known = ", ".join(sorted(_factories))
        raise InvalidRequest(f"no metadata store for {uri.split('://', 1)[0]!r} URIs (known: {known})")
    return factory(uri)


def _sql_store(uri: str) -> MetadataStore:
    from cairn.store.sql import SqlStore  # SQLAlchemy is imported only when a store opens

    return SqlStore(uri)


register_store("sqlite", _sql_store)
register_store("postgresql", _sql_store)
