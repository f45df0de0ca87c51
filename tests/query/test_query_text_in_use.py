"""The places that write query text from data (the dashboard's group links and standing link,
``cairn reproduce``) write it with cairn.core.query.text: a hostile value selects exactly the
runs that hold it, whatever quotes, backquotes, newlines or ``or`` it contains."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.helpers import ThreadedServer

from cairn.cli.reproduce import reproductions_of
from cairn.core.query.ast import Compare, Field, Op, Source
from cairn.core.query.parser import parse_order, parse_query
from cairn.service.interface import Tracking

HOSTILE = ["x' or name = 'y", 'q" or `b` or\nname = "y"', "') or (name like '%", "adam"]


def _links(page: str) -> dict[str, str]:
    """Each group link's text and the ``q`` it sets."""
    found = {}
    for href, label in re.findall(r'<td><a href="([^"]*)">([^<]*)</a></td>', page):
        query = parse_qs(urlsplit(html.unescape(href)).query)
        found[html.unescape(label)] = query["q"][0]
    return found


def _ids(client: httpx.Client, where: str) -> set[str]:
    response = client.get("/api/v1/runs", params={"project": "p", "where": where})
    assert response.status_code == 200, response.text
    return {run["id"] for run in response.json()["runs"]}


def test_group_links_select_exactly_their_group(server: ThreadedServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        holders = {}
        for value in HOSTILE:
            created = client.post("/api/v1/runs", json={"project": "p", "name": "a", "config": {"opt": value}})
            holders[value] = created.json()["id"]
        bystander = client.post("/api/v1/runs", json={"project": "p", "name": "y"}).json()["id"]

        links = _links(client.get("/projects/p", params={"group": "params.opt"}).text)
        assert set(links) == {*HOSTILE, "(none)"}
        for value, run_id in holders.items():
            assert _ids(client, links[value]) == {run_id}, links[value]
        assert _ids(client, links["(none)"]) == {bystander}

        # With a query of the page's own, the link keeps it whole and adds the group.
        page = client.get("/projects/p", params={"group": "params.opt", "q": "name = 'zzz' or name = 'a'"}).text
        narrowed = _links(page)[HOSTILE[0]]
        assert narrowed == "(name = 'zzz' or name = 'a') and params.opt = 'x'' or name = ''y'"
        assert _ids(client, narrowed) == {holders[HOSTILE[0]]}


def test_groups_that_no_query_can_select_have_no_link(server: ThreadedServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.post("/api/v1/runs", json={"project": "p", "start_time": 1_700_000_000_000})
        # Grouped by creation time, a group's value is in milliseconds, which no literal of
        # ``created`` means: the link used to be a query that failed.
        assert _links(client.get("/projects/p", params={"group": "created"}).text) == {}


def test_the_standing_link_sorts_by_a_metric_with_any_name(server: ThreadedServer) -> None:
    key = "val acc' or \"x"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        ids = []
        for value in (0.1, 0.5, 0.9):
            run_id = client.post("/api/v1/runs", json={"project": "p"}).json()["id"]
            points = {"key": key, "steps": [0], "timestamps": [1], "values": [value]}
            batch = {"client_id": "t", "seq": 0, "metrics": [points]}
            assert client.post(f"/api/v1/runs/{run_id}/metrics", json=batch).status_code < 300
            ids.append(run_id)
        page = client.get(f"/runs/{ids[1]}").text
        assert "<strong>#2</strong> of 3 runs" in page
        href = html.unescape(re.search(r'href="(/projects/p\?order=[^"]*)"', page).group(1))  # type: ignore[union-attr]
        (order,) = parse_qs(urlsplit(href).query)["order"]
        (sort_key,) = parse_order(order)  # the metric's name used to be pasted in unquoted
        assert (sort_key.field.source, sort_key.field.key, sort_key.descending) == (Source.METRIC, key, True)


@pytest.mark.parametrize("run_id", ["0123abcd" * 4, "x' or name = 'y", "a`b\nor"])
def test_reproduce_finds_only_the_runs_tagged_with_its_run(tracking: Tracking, run_id: str) -> None:
    assert parse_query(reproductions_of(run_id)) == Compare(Field(Source.TAG, "reproduces", 0), Op.EQ, run_id, 0)
    tagged = tracking.create_run("p", tags={"reproduces": run_id})
    tracking.create_run("p", name="y", tags={"reproduces": "other"})
    assert [r.id for r in tracking.list_runs("p", where=reproductions_of(run_id)).items] == [tagged.id]
