"""Page tokens are signed with the store's secret: a token that is not ours is a 400
``invalid_page_token`` on every backend (a forged one was a 500 on PostgreSQL), and a token
made by one server process serves on another process of the same store."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import threading
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cairn.core.errors import InvalidPageToken, InvalidRequest
from cairn.service.interface import Tracking
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.store.sql import SqlStore
from cairn.store.sql.page_tokens import Kind, Search, SortColumn, decode, encode
from cairn.store.sql.server_secrets import PAGE_TOKEN_KEY, ServerSecrets


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _old_unkeyed_token(where: str, order: str, values: list[Any]) -> str:
    """A token made the way anyone could before tokens were keyed: a plain hash of the query."""
    signature = hashlib.sha256(f"{where}\x00{order}\x00False".encode()).hexdigest()[:12]
    return _b64(json.dumps({"s": signature, "v": values}).encode())  # json: orjson stops at 64 bits


def _forgeries(real: str) -> list[str]:
    payload, mac = real.split(".")
    other_values = _b64(orjson.dumps([{"f": "1e300"}, "z" * 32]))
    return [
        "",
        "not base64!",
        "é.é",
        "a.b.c",
        real + "x",
        f"{payload}.{mac[:-2]}AA",  # the MAC altered
        f"{other_values}.{mac}",  # other values under the real MAC
        f"{payload}.",
        _b64(b"{not json") + "." + mac,
        _old_unkeyed_token("", "", ["text where a number goes", "id"]),
        _old_unkeyed_token("", "", [2**70, "id"]),
        _old_unkeyed_token("", "", [1, 2, 3]),
    ]


def test_forged_tokens_are_refused_on_every_backend(tracking: Tracking) -> None:
    for _ in range(3):
        tracking.create_run("p")
    real = tracking.list_runs("p", limit=1).next_page_token
    assert real is not None
    for forged in _forgeries(real):
        with pytest.raises(InvalidPageToken):
            tracking.list_runs("p", limit=1, page_token=forged)
    assert len(tracking.list_runs("p", limit=1, page_token=real).items) == 1


def test_a_token_serves_only_its_own_search(tracking: Tracking) -> None:
    for _ in range(3):
        tracking.create_run("p", config={"lr": 0.1})
        tracking.create_run("q", config={"lr": 0.1})
    token = tracking.list_runs("p", where="params.lr = 0.1", limit=1).next_page_token
    for other in (
        {"project": "q", "where": "params.lr = 0.1"},
        {"project": "p", "where": "params.lr = 0.1", "order_by": "name"},
        {"project": "p", "where": "params.lr = 0.1", "include_deleted": True},
    ):
        with pytest.raises(InvalidPageToken):
            tracking.list_runs(limit=1, page_token=token, **other)  # type: ignore[arg-type]
    assert issubclass(InvalidPageToken, InvalidRequest)  # callers catching the old error still do


# -- over HTTP: signed tokens whose values do not fit the sort columns ------------------------


def _signed_forgeries(key: bytes, project_id: str) -> list[tuple[str, str]]:
    """(order_by, token) pairs signed with the store's own key, values of the wrong kind."""
    by_time = Search(project_id, "", "", False)  # columns: start_time, id
    by_acc = Search(project_id, "", "metrics.acc", False)  # flag, value, start_time, id
    return [
        ("", encode(key, by_time, ["text where a number goes", "id"])),
        ("", encode(key, by_time, [1, 2])),  # a number where text goes
        ("", encode(key, by_time, [None, "id"])),  # null where no value is missing
        ("", encode(key, by_time, [2**63, "id"])),  # past 64 bits
        ("", encode(key, by_time, [2**64 - 1, "id"])),
        ("", encode(key, by_time, [True, "id"])),
        ("", encode(key, by_time, [1, "a\x00b"])),  # NUL, which PostgreSQL refuses
        ("", encode(key, by_time, [1])),  # too few
        ("", encode(key, by_time, [1, "id", 3])),  # too many
        ("metrics.acc", encode(key, by_acc, [0, "high", 1, "id"])),
        ("metrics.acc", encode(key, by_acc, [2, None, 1, "id"])),  # a flag is 0 or 1
        ("metrics.acc", encode(key, by_acc, [0, {"f": "nope"}, 1, "id"])),
        ("metrics.acc", encode(key, by_acc, [0, {"f": 1}, 1, "id"])),
        ("metrics.acc", encode(key, by_acc, [0, [1], 1, "id"])),
        ("metrics.acc", encode(key, by_acc, [None, 0.5, 1, "id"])),
    ]


def test_every_bad_token_is_a_400_over_http(api: httpx.Client, request: pytest.FixtureRequest) -> None:
    for _ in range(3):
        created = api.post("/runs", json={"project": "p"})
        assert created.status_code == 201
    project_id = created.json()["project_id"]
    real = api.get("/runs", params={"project": "p", "limit": 1}).json()["next_page_token"]
    # A second store object over the same database: it reads the key the server made.
    store = SqlStore(_store_uri(request))
    try:
        key = store._secrets.page_token_key()
    finally:
        store.close()
    cases = [("", forged) for forged in _forgeries(real)] + _signed_forgeries(key, project_id)
    for order_by, token in cases:
        response = api.get("/runs", params={"project": "p", "limit": 1, "order_by": order_by, "page_token": token})
        assert response.status_code == 400, (token, response.text)
        assert response.json()["error"]["code"] == "invalid_page_token"
    # The same key, values of the right kinds: a page.
    good = encode(key, Search(project_id, "", "", False), [2**62, "f" * 32])
    assert api.get("/runs", params={"project": "p", "page_token": good}).status_code == 200


def _store_uri(request: pytest.FixtureRequest) -> str:
    if request.node.callspec.params["api"] == "sqlite":
        return str(Path(request.getfixturevalue("tmp_path")) / "server.db")
    return str(request.getfixturevalue("postgres_url"))


# -- one secret per store, shared by every process ------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "shared.db")
    request.getfixturevalue("postgres_store")  # empties the session's database afterwards
    return str(request.getfixturevalue("postgres_url"))


def test_a_token_from_one_store_object_serves_on_another(store_uri: str) -> None:
    first, second = SqlStore(store_uri), SqlStore(store_uri)
    services = [TrackingService(first, Principal("t")), TrackingService(second, Principal("t"))]
    try:
        ids = {services[0].create_run("shared", start_time=1_000 * i).id for i in range(5)}
        page = services[0].list_runs("shared", limit=2)
        seen = [r.id for r in page.items]
        turn = 1
        while page.next_page_token is not None:  # each later page from the other store object
            page = services[turn].list_runs("shared", limit=2, page_token=page.next_page_token)
            seen += [r.id for r in page.items]
            turn = 1 - turn
        assert sorted(seen) == sorted(ids) and len(seen) == 5
        key = second._secrets.page_token_key()
    finally:
        first.close()
        second.close()
    restarted = SqlStore(store_uri)  # after a restart, the key is still the store's
    try:
        assert restarted._secrets.page_token_key() == key
    finally:
        restarted.close()


def test_the_secret_is_made_once_when_processes_race(store_uri: str) -> None:
    stores = [SqlStore(store_uri) for _ in range(4)]
    keys: list[bytes] = []
    try:
        threads = [threading.Thread(target=lambda s=s: keys.append(s._secrets.get("race"))) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(keys) == 4 and len(set(keys)) == 1 and len(keys[0]) == 32
        # The loser of a race inserts nothing and reads the winner's row back.
        late = ServerSecrets(stores[0]._engines)
        assert late._create("race") == keys[0]
        assert late.get(PAGE_TOKEN_KEY) != keys[0]  # each name its own secret
    finally:
        for store in stores:
            store.close()


# -- the codec alone ----------------------------------------------------------------------------


def test_values_survive_a_token_bit_for_bit() -> None:
    key, search = b"k" * 32, Search("p", "params.lr > 0", "params.lr desc", False)
    columns = [SortColumn(Kind.FLAG, False), SortColumn(Kind.NUMBER, True), SortColumn(Kind.TEXT, True)]
    columns += [SortColumn(Kind.NUMBER, True)] * 4 + [SortColumn(Kind.NUMBER, False), SortColumn(Kind.TEXT, False)]
    values = [0, 0.1, 'it\'s "é"', math.inf, -math.inf, -0.0, None, 2**63 - 1, "f" * 32]
    decoded = decode(key, search, encode(key, search, values), columns)
    assert decoded == values and math.copysign(1, decoded[5]) == -1
    with pytest.raises(InvalidPageToken):
        decode(b"another key" * 3, search, encode(key, search, values), columns)


def test_a_sort_by_the_longest_text_pages(tracking: Tracking) -> None:
    """The token carries the last row's text: 6,000 characters of three UTF-8 bytes each once
    made a token longer than the server took, so the second page was refused."""
    for letter in "abc":
        tracking.create_run("long", config={"note": letter + "€" * 5999})
    first = tracking.list_runs("long", order_by="params.note", limit=2)
    assert first.next_page_token is not None
    second = tracking.list_runs("long", order_by="params.note", limit=2, page_token=first.next_page_token)
    assert [r.params["note"][0] for r in first.items + second.items] == ["a", "b", "c"]
