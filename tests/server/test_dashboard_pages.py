"""The dashboard's pages over HTTP, without a browser: every page answers real data with HTML,
the runs table follows its URL (query, sort, group, columns, paging), errors on dashboard URLs
are pages a person can read, and nothing a user typed reaches the HTML unescaped.

One server per module over one SQLite store, seeded once through the SDK (embedded, on the
server's own database and blob folder) and a TrackingService; the tests only read.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import httpx
import numpy as np
import pytest
from tests.helpers import ThreadedServer, free_port

import cairn
from cairn.blobs.local import LocalBlobStore
from cairn.core.artifacts import SnapshotFile
from cairn.server.csp import DASHBOARD_POLICY
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore

XSS = "<script>alert(1)</script>"
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"
#: Text that leaves a double-quoted attribute if a quote is not escaped.
ATTRIBUTE_XSS = '" onmouseover="alert(2)'
#: A 1×1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
MANY_RUNS = 120


@dataclass
class Site:
    url: str
    alpha: str  # the run with everything: artifacts, dataset, notes, code, console log
    beta: str
    gamma: str
    xss_run: str
    other_xss_run: str
    xss_files_run: str  # a confusion matrix and a dataset whose labels and columns are XSS


def _run_link(name: str) -> str:
    return f'class="run-link">{name}</a>'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("dashboard")
    settings = ServerSettings(store_uri=str(root / "cairn.db"), blobs_uri=str(root / "blobs"), port=free_port())
    files = root / "files"
    files.mkdir()
    (files / "table.csv").write_text("epoch,loss\n1,0.5\n2,0.25\n")
    (files / "data.csv").write_text("x,y\n1,2\n3,4\n5,6\n")
    (files / "pixel.png").write_bytes(PNG)
    (files / "console.log").write_text("epoch 1\nTraceback: boom\n")
    with pytest.MonkeyPatch.context() as env:  # the module fixture runs before clean_environ
        env.setenv("CAIRN_HOME", str(root / "home"))
        env.setenv("CAIRN_BLOBS", settings.blobs_uri)
        env.setenv("CAIRN_CAPTURE", "0")
        env.delenv("CAIRN_URI", raising=False)
        runs = {}
        for name, lr, accs, team in (
            ("alpha", 0.1, [0.5, 0.6, 0.7], "a"),
            ("beta", 0.01, [0.6, 0.9], "b"),
            ("gamma", 0.001, [0.8], "a"),
        ):
            with cairn.init(
                "vision",
                name=name,
                config={"lr": lr, "opt": {"name": "adam"}},
                tags={"team": team},
                notes="A **bold** claim" if name == "alpha" else "",
                uri=settings.store_uri,
            ) as run:
                for step, acc in enumerate(accs):
                    run.log({"train/loss": 1.0 / (step + 1), "val/acc": acc, "system/cpu": 10.0})
                if name == "alpha":
                    run.log_text("hello from a text artifact", "readme.txt")
                    run.log_dict({"layers": [64, 32]}, "config.json")
                    run.log_dict({"optimizer": {"name": "adam"}}, "settings.yaml")
                    run.log_table([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.125}], "tables/history")
                    run.log_artifact(files / "pixel.png", "plots/pixel.png")
                    run.log_artifact(files / "table.csv", "tables/losses.csv")
                    run.log_artifact(files / "console.log", "cairn/console.log")
                    run.log_confusion_matrix(["cat", "dog", "dog"], ["cat", "dog", "cat"], labels=["cat", "dog"])
                    run.log_dataset(files / "data.csv", "toy-data", context="train")
                    pixels = np.zeros((6, 28, 28), dtype=np.uint8)
                    run.log_dataset({"pixels": pixels, "label": np.arange(6)}, "toy-arrays", context="validation")
                runs[name] = run.id
        # Labels and column names land in data-* attributes (JSON) and in table cells.
        (files / "hostile.csv").write_text(f'"{ATTRIBUTE_XSS}",x\n1,2\n')
        with cairn.init(XSS, name="files", uri=settings.store_uri) as run:
            run.log_confusion_matrix([XSS, ATTRIBUTE_XSS], [XSS, XSS])
            run.log_dataset(files / "hostile.csv", XSS, context=XSS)
            runs["xss-files"] = run.id

    tracking = TrackingService(
        SqlStore(settings.store_uri), Principal("tester"), blobs=LocalBlobStore(Path(settings.blobs_uri))
    )
    try:
        code = b"print('train')\n"
        digest = hashlib.sha256(code).hexdigest()
        (files / "train.py").write_bytes(code)
        tracking.upload_file(files / "train.py", digest, len(code))
        tracking.save_snapshot(
            runs["alpha"], "code", [SnapshotFile("train.py", digest, len(code))], meta={"commit": "abc"}
        )
        tracking.add_comment(runs["alpha"], "Looks good @ada, see [this](javascript:alert(1))")

        for i in range(MANY_RUNS):
            tracking.create_run("many", name=f"run-{i:03d}", config={"i": i}, start_time=1_700_000_000_000 + i * 1000)

        xss = tracking.create_run(
            XSS, name=XSS, config={"p": XSS, "<b>key</b>": 1}, tags={"who": XSS}, notes=XSS + "\n\n**bold**"
        )
        other = tracking.create_run(XSS, name="plain", config={"p": "q"})
        tracking.add_comment(xss.id, XSS)
        with ThreadedServer(settings) as server:
            yield Site(server.url, runs["alpha"], runs["beta"], runs["gamma"], xss.id, other.id, runs["xss-files"])
    finally:
        tracking.close()


@pytest.fixture
def http(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=30) as client:
        yield client


def page(
    http: httpx.Client,
    url: str,
    status: int = 200,
    *,
    params: httpx.QueryParams | Mapping[str, str | list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    """The HTML ``url`` answers, after checking its status and that it is HTML."""
    response = http.get(url, params=params, headers=headers)
    assert response.status_code == status, (url, response.status_code, response.text[:2000])
    assert response.headers["content-type"].startswith("text/html"), url
    return response.text


# -- every page ------------------------------------------------------------------------------


def test_home_redirects_to_the_projects(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.is_redirect and response.headers["location"] == "/projects"


def test_projects_page_shows_the_best_run_by_a_metric(http: httpx.Client) -> None:
    text = page(http, "/projects")
    assert 'href="/projects/vision"' in text and 'href="/projects/many"' in text
    assert "Best val/acc" in text  # a validation metric is preferred
    vision_row = text[text.index('href="/projects/vision"') :].split("</tr>", 1)[0]
    assert ">beta</a>" in vision_row and ">0.9<" in vision_row

    lowest_loss = page(http, "/projects", params={"metric": "train/loss", "goal": "min"})
    row = lowest_loss[lowest_loss.index('href="/projects/vision"') :].split("</tr>", 1)[0]
    assert ">0.333333<" in row and (">alpha</a>" in row)


def test_runs_page_lists_the_project_with_default_columns(http: httpx.Client) -> None:
    text = page(http, "/projects/vision")
    for name in ("alpha", "beta", "gamma"):
        assert _run_link(name) in text
    assert "3 runs match" in text
    # val/ metrics and params by default, system metrics not.
    assert 'data-field="metrics.val/acc"' in text and 'data-field="params.lr"' in text
    assert 'data-field="metrics.system/cpu"' not in text


def test_run_overview_has_charts_params_tags_notes_comments_and_datasets(http: httpx.Client, site: Site) -> None:
    text = page(http, f"/runs/{site.alpha}")
    assert 'data-key="train/loss"' in text and 'data-key="val/acc"' in text
    assert 'data-key="system/cpu"' not in text  # that is the System tab's
    assert "<th>lr</th><td>0.1</td>" in text and "<th>opt.name</th><td>adam</td>" in text
    assert "<th>team</th><td>a</td>" in text
    assert "A <strong>bold</strong> claim" in text
    assert '<span class="mention">@ada</span>' in text
    assert "toy-data" in text


def test_run_system_tab_charts_system_metrics(http: httpx.Client, site: Site) -> None:
    text = page(http, f"/runs/{site.alpha}/system")
    assert 'data-key="system/cpu"' in text and 'data-key="val/acc"' not in text


def test_artifacts_tab_lists_folders_first_then_files(http: httpx.Client, site: Site) -> None:
    text = page(http, f"/runs/{site.alpha}/artifacts")
    names = re.findall(r'artifacts\?path=([^"]+)">', text)
    assert names == ["cairn", "plots", "tables", "config.json", "confusion_matrix.json", "readme.txt", "settings.yaml"]
    inside = page(http, f"/runs/{site.alpha}/artifacts", params={"path": "tables"})
    assert "losses.csv" in inside and "readme.txt" not in inside


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("readme.txt", '<pre class="code">hello from a text artifact</pre>'),
        ("config.json", "&#34;layers&#34;: [\n    64,"),
        ("plots/pixel.png", '<img class="artifact-image" src="/api/v1/runs/{run}/artifacts/files/plots/pixel.png"'),
        ("tables/losses.csv", "<thead><tr><th>epoch</th><th>loss</th></tr></thead>"),
        ("confusion_matrix.json", 'class="confusion-matrix" data-matrix="'),
        ("settings.yaml", "optimizer:\n  name: adam"),
        # Parquet (pyarrow is installed with the tests, as on a server that previews tables)
        ("tables/history.parquet", "<thead><tr><th>epoch</th><th>loss</th></tr></thead>"),
    ],
)
def test_artifact_previews(http: httpx.Client, site: Site, path: str, expected: str) -> None:
    text = page(http, f"/runs/{site.alpha}/artifacts", params={"path": path})
    assert expected.format(run=site.alpha) in text
    if path == "confusion_matrix.json":
        assert "Accuracy 0.666667" in text
    if path == "tables/losses.csv":
        assert "<td>0.25</td>" in text
    if path == "tables/history.parquet":
        assert "<td>0.125</td>" in text


def test_datasets_code_and_logs_tabs(http: httpx.Client, site: Site) -> None:
    datasets = page(http, f"/runs/{site.alpha}/datasets")
    assert "toy-data" in datasets and '<span class="badge">train</span>' in datasets
    assert "<dt>Rows</dt><dd>3</dd>" in datasets
    # A numeric column's summary, without the 101 percentiles its profile keeps for drift.
    assert "mean=" in datasets and "quantiles" not in datasets
    # Arrays: their rows, and per array its dtype and the shape of one row.
    arrays = datasets[datasets.index("toy-arrays") :]
    assert "<dt>Source</dt><dd>in memory</dd>" in arrays and "<dt>Rows</dt><dd>6</dd>" in arrays
    assert "<th>pixels</th><td><code>uint8</code></td><td><code>(28, 28)</code></td>" in arrays
    assert "<th>label</th><td><code>int64</code></td><td><code>()</code></td>" in arrays
    assert "max=5" in arrays

    code = page(http, f"/runs/{site.alpha}/code")
    assert "train.py" in code and "Pick a file to read it." in code
    snapshot = re.search(r"code\?snapshot=([0-9a-f]+)", code)
    assert snapshot is not None
    source = page(http, f"/runs/{site.alpha}/code", params={"snapshot": snapshot.group(1), "file": "train.py"})
    assert "print(&#39;train&#39;)" in source
    page(http, f"/runs/{site.alpha}/code", 404, params={"snapshot": snapshot.group(1), "file": "nope.py"})

    logs = page(http, f"/runs/{site.alpha}/logs")
    assert "Traceback: boom" in logs
    assert "No console log" in page(http, f"/runs/{site.beta}/logs")


def test_compare_two_runs(http: httpx.Client, site: Site) -> None:
    text = page(http, "/compare", params={"runs": [site.alpha, site.beta]})
    assert "Compare 2 runs" in text
    assert '<tr class="differs"><th>lr</th>' in text and '<tr class="same"><th>opt.name</th>' in text
    assert 'id="parallel-chart"' in text and 'data-key="val/acc"' in text
    # A comma-separated list is the same link.
    assert "Compare 2 runs" in page(http, "/compare", params={"runs": f"{site.alpha},{site.beta}"})


# -- the runs table's URL state ----------------------------------------------------------------


def test_query_filters_the_rows(http: httpx.Client) -> None:
    text = page(http, "/projects/vision", params={"q": "params.lr < 0.05 and tags.team = 'a'"})
    assert _run_link("gamma") in text
    assert _run_link("alpha") not in text and _run_link("beta") not in text
    assert "1 run matches" in text
    nothing = page(http, "/projects/vision", params={"q": "params.lr > 5"})
    assert "No runs match." in nothing and "run-link" not in nothing


def test_a_bad_query_is_shown_with_a_caret_not_a_500(http: httpx.Client) -> None:
    text = page(http, "/projects/vision", params={"q": "params.lr >"})
    assert 'class="query-error"' in text
    assert "expected a value" in text
    caret = re.search(r'<pre class="caret">(.*?)\n( *)\^</pre>', text)
    assert caret is not None
    assert html.unescape(caret.group(1)) == "params.lr >" and len(caret.group(2)) == len("params.lr >")
    assert "run-link" not in text


def test_sorting_by_a_metric_orders_the_rows(http: httpx.Client) -> None:
    def order(direction: str) -> list[str]:
        text = page(http, "/projects/vision", params={"order": f"metrics.val/acc {direction}"})
        return sorted(("alpha", "beta", "gamma"), key=lambda name: text.index(_run_link(name)))

    assert order("desc") == ["beta", "gamma", "alpha"]
    assert order("asc") == ["alpha", "gamma", "beta"]
    marked = page(http, "/projects/vision", params={"order": "metrics.val/acc desc"})
    header = marked[marked.index('data-field="metrics.val/acc"') :].split("</th>", 1)[0]
    assert "sorted descending" in header


def test_group_view_counts_runs_per_value(http: httpx.Client) -> None:
    text = page(http, "/projects/vision", params={"group": "tags.team", "agg": "metrics.val/acc"})
    rows = dict(re.findall(r'<td><a href="[^"]*">([^<]*)</a></td>\s*<td class="num">(\d+)</td>', text))
    assert rows == {"a": "2", "b": "1"}
    assert "mean metrics.val/acc" in text
    assert "3 runs match" in text
    # Each group links to the table filtered to it.
    assert "q=tags.team+%3D+%27a%27" in text


def test_paging_loads_the_next_rows_as_a_fragment(http: httpx.Client) -> None:
    text = page(http, "/projects/many")
    first = re.findall(r'<tr data-run="([0-9a-f]+)">', text)
    assert len(first) == 50
    assert f"{MANY_RUNS} runs match" in text
    seen = set(first)
    url: str | None = _load_more(text)
    pages = 1
    while url is not None:
        fragment = page(http, url, headers={"HX-Request": "true"})
        assert "<html" not in fragment and "<thead" not in fragment
        rows = re.findall(r'<tr data-run="([0-9a-f]+)">', fragment)
        assert rows and not seen & set(rows)
        seen |= set(rows)
        pages += 1
        url = _load_more(fragment)
    assert (pages, len(seen)) == (3, MANY_RUNS)


def _load_more(text: str) -> str | None:
    button = re.search(r'<button type="button" hx-get="([^"]+)"[^>]*>\s*Load more runs', text)
    return html.unescape(button.group(1)) if button else None


def test_results_fragment_for_htmx_search(http: httpx.Client) -> None:
    text = page(
        http,
        "/projects/vision",
        params={"q": "tags.team = 'b'"},
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert "<html" not in text and 'id="runs-table"' in text
    assert _run_link("beta") in text and _run_link("alpha") not in text


def test_chosen_columns_are_remembered_in_a_cookie(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as http:
        chosen = http.get("/projects/vision", params={"cols": 'name,tags.team,metrics."val/acc".max'})
        assert chosen.status_code == 200
        assert any(name.startswith("cairn_cols_") for name in chosen.cookies)
        later = page(http, "/projects/vision")
        headers = re.findall(r'<th class="[^"]*" data-field="([^"]+)"', later)
        assert [html.unescape(h) for h in headers] == ["name", "tags.team", 'metrics."val/acc".max']
        # Another project keeps its own columns.
        assert 'data-field="tags.team"' not in page(http, "/projects/many")
    with httpx.Client(base_url=site.url, timeout=30) as fresh:
        assert 'data-field="status"' in page(fresh, "/projects/vision")


def test_column_picker_without_javascript_sends_one_col_per_box(http: httpx.Client) -> None:
    text = page(http, "/projects/vision", params=httpx.QueryParams([("col", "name"), ("col", "params.lr")]))
    headers = re.findall(r'<th class="[^"]*" data-field="([^"]+)"', text)
    assert headers == ["name", "params.lr"]


def test_an_unknown_column_is_reported_and_dropped(http: httpx.Client) -> None:
    text = page(http, "/projects/vision", params={"cols": "name,bogus"})
    assert "column &#39;bogus&#39;" in text
    assert re.findall(r'<th class="[^"]*" data-field="([^"]+)"', text) == ["name"]


# -- errors as pages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/runs/nope",
        "/runs/nope/artifacts",
        "/projects/nope",
        "/projects/vision?view=nope",
        "/views/nope",
        "/no/such/page",
    ],
)
def test_unknown_things_are_a_404_page(http: httpx.Client, url: str) -> None:
    text = page(http, url, 404)
    assert "<h1>Not found</h1>" in text and "Traceback" not in text


def test_an_unknown_artifact_path_is_a_404_page(http: httpx.Client, site: Site) -> None:
    text = page(http, f"/runs/{site.alpha}/artifacts", 404, params={"path": "no/such.txt"})
    assert "<h1>Not found</h1>" in text and "artifact_not_found" in text


def test_the_api_still_answers_json_errors(http: httpx.Client) -> None:
    response = http.get("/api/v1/runs/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "run_not_found"


@pytest.mark.parametrize("count", [0, 1, 21])
def test_compare_needs_two_to_twenty_runs(http: httpx.Client, site: Site, count: int) -> None:
    ids = [site.alpha] if count == 1 else [f"{i:032x}" for i in range(count)]
    text = page(http, "/compare", 400, params={"runs": ids})
    assert f"compare takes 2 to 20 runs; {count} were given" in text


def test_compare_with_an_unknown_run_is_a_404_page(http: httpx.Client, site: Site) -> None:
    assert "<h1>Not found</h1>" in page(http, "/compare", 404, params={"runs": [site.alpha, "nope"]})


# -- what users typed is text ----------------------------------------------------------------


def test_nothing_typed_reaches_the_html_unescaped(http: httpx.Client, site: Site) -> None:
    project = "/projects/%3Cscript%3Ealert(1)%3C/script%3E"
    urls = [
        "/projects",
        project,
        f"{project}?group=params.p",
        f"{project}?cols=name,params.p,tags.who",
        f"{project}?q=params.p+%3D+%27{XSS}%27",
        f"/runs/{site.xss_run}",
        f"/runs/{site.xss_run}/artifacts",
        f"/runs/{site.xss_run}/datasets",
        f"/compare?runs={site.xss_run}&runs={site.other_xss_run}",
        f"/runs/{site.xss_files_run}/artifacts?path=confusion_matrix.json",
        f"/runs/{site.xss_files_run}/datasets",
    ]
    for url in urls:
        text = page(http, url)
        assert "<script>alert(1)" not in text, url
        assert _handlers_and_inline_scripts(text) == [], url
        assert "<b>key</b>" not in text, url
        assert ESCAPED_XSS in text or "\\u003cscript\\u003e" in text, url
    overview = page(http, f"/runs/{site.xss_run}")
    assert overview.count(ESCAPED_XSS) >= 5  # name, param, tag, notes, comment
    assert "<strong>bold</strong>" in overview  # the notes' markdown still renders


class _Markup(HTMLParser):
    """Collects what would run in a browser: on* attributes and scripts that are neither files
    nor JSON data."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [f"<{tag} {name}=…>" for name, _ in attrs if name.startswith("on")]
        kept = dict(attrs)
        if tag == "script" and "src" not in kept and kept.get("type") != "application/json":
            self.found.append("inline <script>")


def _handlers_and_inline_scripts(text: str) -> list[str]:
    parser = _Markup()
    parser.feed(text)
    return parser.found


def test_a_javascript_link_in_a_comment_is_not_a_link(http: httpx.Client, site: Site) -> None:
    text = page(http, f"/runs/{site.alpha}")
    assert 'href="javascript:' not in text.lower()
    assert "[this](javascript:alert(1))" in text


def test_html_pages_carry_the_content_security_policy(http: httpx.Client, site: Site) -> None:
    for url in ("/projects", f"/runs/{site.alpha}", "/runs/no-such-run"):
        policy = http.get(url).headers["content-security-policy"]
        assert policy == DASHBOARD_POLICY, url
        assert "'unsafe-inline'" not in policy.split("script-src ")[1].split(";")[0]
    docs = http.get("/api/v1/docs").headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in docs
    assert "content-security-policy" not in http.get("/api/v1/projects").headers
