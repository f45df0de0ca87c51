"""The model registry's dashboard pages over HTTP, without a browser: paging of models and
versions (whole pages and HTMX fragments), the name filter, a version whose files changed after
it was registered, bad links as readable pages, and no markup from the data.

One server per module (the real app under uvicorn on a loopback port) over a SQLite store,
seeded through a TrackingService on the same database and blob folder; model folders are the
contract suite's tiny ones (a weights file and its manifest).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.contract.test_registry import log_model_folder
from tests.helpers import ThreadedServer, free_port
from tests.server.test_dashboard_pages import ATTRIBUTE_XSS, ESCAPED_XSS, XSS, _handlers_and_inline_scripts

from cairn.blobs.local import LocalBlobStore
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore

#: A model name holds no "/", so not all of XSS.
XSS_NAME = XSS.replace("/", "")
MANY_MODELS = 60  # more than a page of the models list (50)
VERSIONS = 55  # more than a page of a model's versions (50)


@dataclass
class Site:
    client: httpx.Client
    tracking: TrackingService
    run_id: str  # the run every version of "paged" comes from
    plain_run: str  # a run that registered nothing
    tmp: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("dashboard-models")
    settings = ServerSettings(store_uri=str(root / "cairn.db"), blobs_uri=str(root / "blobs"), port=free_port())
    tracking = TrackingService(
        SqlStore(settings.store_uri), Principal("tester"), blobs=LocalBlobStore(settings.blobs_uri)
    )
    run = tracking.create_run("reg", name="trainer")
    log_model_folder(tracking, run.id, root)
    for i in range(MANY_MODELS):
        tracking.create_model(f"model-{i:03d}", description=f"number {i}\nsecond line")
    for _ in range(VERSIONS):
        tracking.register_model(f"runs:/{run.id}/model", "paged")
    tracking.register_model(f"runs:/{run.id}/model", XSS_NAME, description=XSS + ATTRIBUTE_XSS, tags={XSS: XSS})
    tracking.update_model(XSS_NAME, XSS + ATTRIBUTE_XSS)
    tracking.set_model_tag(XSS_NAME, "k", XSS + ATTRIBUTE_XSS)
    tracking.set_model_alias(XSS_NAME, "champion", 1)
    plain = tracking.create_run("reg", name="plain")
    try:
        with ThreadedServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            yield Site(client, tracking, run.id, plain.id, root)
    finally:
        tracking.close()


def page(site: Site, url: str, status: int = 200, *, fragment: bool = False) -> str:
    response = site.client.get(url, headers={"HX-Request": "true"} if fragment else None)
    assert response.status_code == status, (url, response.status_code, response.text[:2000])
    assert response.headers["content-type"].startswith("text/html"), url
    return response.text


def _rows(text: str, attribute: str) -> list[str]:
    return [html.unescape(v) for v in re.findall(rf'<tr {attribute}="([^"]*)"', text)]


def _more(text: str) -> str | None:
    link = re.search(r'<tr class="load-more">.*?hx-get="([^"]+)"', text, re.S)
    return html.unescape(link.group(1)) if link else None


def test_the_models_list_comes_a_page_at_a_time(site: Site) -> None:
    text = page(site, "/models")
    first = _rows(text, "data-model")
    assert len(first) == 50 and first == sorted(first)
    more = _more(text)
    assert more is not None and more.startswith("/models?after=")
    fragment = page(site, more, fragment=True)
    assert "<html" not in fragment and "<thead" not in fragment
    rest = _rows(fragment, "data-model")
    assert len(first) + len(rest) == MANY_MODELS + 2 and not set(first) & set(rest)
    assert _more(fragment) is None
    whole = page(site, more)  # the same link without HTMX: the next page, whole
    assert _rows(whole, "data-model") == rest and "Back to the first page" in whole
    assert "number 7</td>" in text and "second line</td>" not in text  # a description's first line


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("model-00", [f"model-00{i}" for i in range(10)]),
        ("%-05_", [f"model-05{i}" for i in range(10)]),
        ("pag", ["paged"]),
    ],
)
def test_the_name_filter(site: Site, q: str, expected: list[str]) -> None:
    assert _rows(page(site, f"/models?q={q.replace('%', '%25')}"), "data-model") == expected


@pytest.mark.parametrize("url", ["/models?q=" + "x" * 300, "/models?after=zz", "/models?after=%C2%B2"])
def test_a_bad_filter_or_page_link_is_shown_in_place(site: Site, url: str) -> None:
    text = page(site, url)
    assert 'id="filter-error"' in text and 'id="models-table"' not in text


def test_a_models_versions_come_a_page_at_a_time(site: Site) -> None:
    text = page(site, "/models/paged")
    assert _rows(text, "data-version") == [str(n) for n in range(VERSIONS, VERSIONS - 50, -1)]
    more = _more(text)
    assert more == f"/models/paged?before={VERSIONS - 49}"
    fragment = page(site, more, fragment=True)
    assert "<html" not in fragment
    assert _rows(fragment, "data-version") == [str(n) for n in range(VERSIONS - 50, 0, -1)]
    assert _more(fragment) is None


def test_go_to_version_redirects_to_it_or_back_to_the_model(site: Site) -> None:
    for number, target in (
        ("7", "/models/paged/versions/7"),
        (" v12 ", "/models/paged/versions/12"),
        ("x", "/models/paged"),
    ):
        response = site.client.get("/models/paged/versions", params={"number": number}, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, target)


def test_a_version_whose_files_changed_says_loading_will_refuse_it(site: Site) -> None:
    run = site.tracking.create_run("reg", name="retouched")
    log_model_folder(site.tracking, run.id, site.tmp)
    site.tracking.register_model(f"runs:/{run.id}/model", "retouched")
    assert "are those registered" in page(site, "/models/retouched/versions/1")
    log_model_folder(site.tracking, run.id, site.tmp, weights=b"weights v2")  # the same paths, other bytes
    text = page(site, "/models/retouched/versions/1")
    assert "differ from those registered" in text and "model_tampered" in text


def test_the_run_page_names_registered_versions_only_when_there_are_some(site: Site) -> None:
    text = page(site, f"/runs/{site.run_id}")
    assert 'id="registered-as"' in text and '<a href="/models/paged/versions/1">paged v1</a>' in text
    assert "and 36 more" in text  # one of XSS and 55 of "paged", by name and number: 20 named
    assert 'id="registered-as"' not in page(site, f"/runs/{site.plain_run}")


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/models/nope", 404),
        ("/models/nope/aliases", 404),
        ("/models/paged/versions/999", 404),
        ("/models/paged/versions/x", 400),
        ("/models/paged/versions/99999999999999999999999", 400),
        ("/models/paged?before=abc", 400),
        ("/models/a%2Fb", 404),
    ],
)
def test_bad_links_are_pages_not_500s(site: Site, url: str, status: int) -> None:
    assert 'class="error-page"' in page(site, url, status)


def test_nothing_in_a_model_reaches_the_html_unescaped(site: Site) -> None:
    model = "/models/%3Cscript%3Ealert(1)%3Cscript%3E"
    for url in ("/models", model, f"{model}/aliases", f"{model}/versions/1", f"/runs/{site.run_id}"):
        text = page(site, url)
        assert "<script>alert(1)" not in text, url
        assert _handlers_and_inline_scripts(text) == [], url
        assert "&lt;script&gt;alert(1)&lt;script&gt;" in text, url  # the name
    for url in ("/models", model, f"{model}/versions/1"):  # the descriptions and tags
        assert ESCAPED_XSS in page(site, url), url
