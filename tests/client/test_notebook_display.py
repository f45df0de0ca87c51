"""What a notebook shows of Cairn's objects: a run's summary, ``Api`` results as tables, their
``to_pandas()``, the dashboard links, and that no value a user or a store wrote can inject markup.

The HTML is checked by parsing it: every element must be one the renderer makes, every link an
http(s) one, and the hostile text must come back as text.
"""

from __future__ import annotations

import math
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import cairn
from cairn.client import notebook_display as nd
from cairn.client.results import History, ModelVersions, Runs
from cairn.core.entities import MetricSummary
from cairn.settings import ServerSettings
from helpers import ThreadedServer, free_port

#: Every element the renderer writes; anything else in its output was injected.
RENDERED_TAGS = {"div", "b", "span", "small", "code", "i", "a", "table", "caption", "thead", "tbody", "tr", "th", "td"}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;"\''


class Page(HTMLParser):
    """The elements, links and text of a piece of HTML."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.links: list[str] = []
        self.attributes: set[str] = set()
        self.chunks: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        if tag == "a":
            self.links.append(dict(attrs)["href"] or "")

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def safe(markup: str) -> Page:
    page = Page(markup)
    assert page.tags <= RENDERED_TAGS, page.tags - RENDERED_TAGS
    assert not {a for a in page.attributes if a.startswith("on")}, page.attributes  # no event handlers
    assert all(link.startswith(("http://", "https://")) for link in page.links), page.links
    assert "\x00" not in markup
    markup.encode("utf-8")  # the kernel can send it
    return page


# -- values ---------------------------------------------------------------------------------


def test_hostile_text_is_escaped_and_comes_back_as_typed() -> None:
    page = safe(nd.table(["<th>", HOSTILE], [[HOSTILE, "<b>bold</b>"]], caption=HOSTILE))
    assert page.text.count(HOSTILE) == 3
    assert "<b>bold</b>" in page.text and page.tags == {"table", "caption", "thead", "tbody", "tr", "th", "td"}


def test_control_characters_and_lone_surrogates_show_as_escapes() -> None:
    page = safe(nd.table(["v"], [["a\x00b\x1b[31mc\x7f"], ["\ud800 lone"], ["tab\tand\nnewline"]]))
    assert "a\\x00b\\x1b[31mc\\x7f" in page.text
    assert "\\ud800 lone" in page.text
    assert "tab\tand\nnewline" in page.text


def test_huge_integers_show_their_size_instead_of_raising() -> None:
    huge = 10 ** (sys.get_int_max_str_digits() + 10)
    page = safe(nd.table(["n"], [[huge], [-huge], [2**63]]))
    assert f"<an integer of about {sys.get_int_max_str_digits() + 11:,} digits>" in page.text
    assert "-<an integer of about" in page.text
    assert str(2**63) in page.text


def test_numbers_show_as_everywhere_else_and_long_text_is_cut() -> None:
    page = safe(nd.table(["v"], [[math.nan], [math.inf], [-0.0], [0.123456789], [True], [None], ["x" * 10_000]]))
    cells = page.chunks[1:]
    assert cells[:6] == ["NaN", "inf", "0", "0.123457", "true", "—"]
    assert cells[6] == "x" * (nd.CELL_CHARS - 1) + "…"


def test_an_object_whose_str_raises_still_gets_a_cell() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert safe(nd.table(["v"], [[Broken()]])).text.endswith("<Broken>")


# -- where the dashboard is ------------------------------------------------------------------


def test_the_dashboard_of_an_embedded_store_is_cairn_ui(tmp_path: Path) -> None:
    assert nd.dashboard_base(str(tmp_path / "cairn.db")) == "http://127.0.0.1:5055"


def test_the_dashboard_of_a_server_is_the_server_without_credentials() -> None:
    assert (
        nd.dashboard_base("https://alice:s3cret@cairn.example.com:8443/team/") == "https://cairn.example.com:8443/team"
    )
    assert nd.run_url("http://h", "a/b?c") == "http://h/runs/a%2Fb%3Fc"


def test_cairn_ui_url_names_the_dashboard_but_only_http_becomes_a_link(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_UI_URL", "https://proxy.example.com/cairn/")
    assert nd.dashboard_base("http://10.0.0.5:5055") == "https://proxy.example.com/cairn"
    monkeypatch.setenv("CAIRN_UI_URL", "javascript:alert(1)//")
    page = safe(nd.link(nd.run_url(nd.dashboard_base("/x.db"), "r1"), "open"))
    assert page.links == [] and page.text == "open"


# -- a run's summary -------------------------------------------------------------------------


def test_a_runs_summary_shows_its_fields_escaped_and_links_to_its_page() -> None:
    with cairn.init(HOSTILE[:60], name=HOSTILE, config={"lr": 0.001, HOSTILE[:40]: HOSTILE, "n": 2**62}) as run:
        run.set_tags({"note": HOSTILE})
        run.log({"val/acc": 0.5, "loss": math.nan, "<script>": math.inf})
        run.log({"val/acc": 0.75, "loss": 0.25, "<script>": math.inf})
        summary = run._repr_html_()

    page = safe(summary)
    assert HOSTILE in page.text and HOSTILE[:60] in page.text and HOSTILE[:40] in page.text
    assert "running" in page.text and run.id in page.text
    assert "0.001" in page.text and str(2**62) in page.text
    assert "val/acc0.751" in page.text  # the latest value and its step, the headline first
    assert page.text.index("val/acc") < page.text.index("loss")
    assert page.links == [f"http://127.0.0.1:5055/runs/{run.id}"]
    assert "cairn ui" in page.text
    # Once finished, it says so.
    assert "finished" in safe(run._repr_html_()).text


def test_a_summary_lists_the_first_params_and_counts_the_rest() -> None:
    with cairn.init("p", config={f"p{i:02d}": i for i in range(20)}) as run:
        page = safe(run._repr_html_())
    assert "p07" in page.text and "p08" not in page.text
    assert "12 more rows" in page.text


def test_a_summary_of_a_run_on_a_server_links_to_the_server(server: object) -> None:
    url = server.url  # type: ignore[attr-defined]
    with cairn.init("p", uri=url, config={"lr": 0.1}) as run:
        run.log({"acc": 0.9})
        page = safe(run._repr_html_())
    assert page.links == [f"{url}/runs/{run.id}"]
    assert "0.9" in page.text and "cairn ui" not in page.text


def test_with_the_server_away_the_summary_shows_what_the_process_knows(tmp_path: Path) -> None:
    settings = ServerSettings(store_uri=str(tmp_path / "s.db"), blobs_uri=str(tmp_path / "blobs"), port=free_port())
    with ThreadedServer(settings) as running:
        run = cairn.init("p", uri=running.url, config={"lr": 0.1}, flush_interval=0.05)
    try:  # the server has stopped
        run.log({"acc": 0.5})
        page = safe(run._repr_html_())
    finally:
        run.finish(timeout=0.1)
    assert "lr" in page.text and "0.1" in page.text and "running" in page.text
    assert "metrics not shown: the store could not be read" in page.text
    assert page.links == [f"{running.url}/runs/{run.id}"]


def test_a_skipped_run_says_the_config_already_ran() -> None:
    with cairn.init("p", config={"lr": 0.1}) as first:
        pass
    skipped = cairn.init("p", config={"lr": 0.1}, on_duplicate="skip")
    page = safe(skipped._repr_html_())
    assert "skipped" in page.text and f"already ran as run {first.id}" in page.text
    assert page.links == []


# -- what Api returns ------------------------------------------------------------------------


def test_runs_are_still_a_list_and_show_as_a_table_with_links() -> None:
    for i in range(3):
        with cairn.init("p", name=f"{HOSTILE}-{i}", config={"lr": 10.0**-i, "opt": "<adam>"}) as run:
            run.set_tags({"t": "<script>"})
            run.log({"val/acc": i / 3, "system/cpu": 1.0})
    api = cairn.Api()
    runs = api.runs("p")

    assert isinstance(runs, list) and isinstance(runs, Runs) and len(runs) == 3
    assert [r.name for r in runs] == [f"{HOSTILE}-{i}" for i in (2, 1, 0)]
    page = safe(runs._repr_html_())
    assert page.text.startswith("3 runs")
    assert all(f"{HOSTILE}-{i}" in page.text for i in range(3))
    assert "metrics.val/acc" in page.text and "params.opt" in page.text and "<adam>" in page.text
    assert "system/cpu" not in page.text  # as the dashboard's table: system metrics only if nothing else
    assert page.links == [f"http://127.0.0.1:5055/runs/{r.id}" for r in runs]


def test_runs_to_pandas_has_every_param_metric_and_tag() -> None:
    pd = pytest.importorskip("pandas", reason="to_pandas needs pandas")
    with cairn.init("p", config={"lr": 0.1}) as run:
        run.set_tags({"t": HOSTILE})
        run.log({"acc": 0.5})
        run.log({"acc": 0.75})
    with cairn.init("p", config={"depth": 3}):
        pass

    frame = cairn.Api().runs("p").to_pandas()

    assert list(frame.columns[:3]) == ["id", "project", "name"]
    assert {"params.lr", "params.depth", "metrics.acc", "tags.t"} <= set(frame.columns)
    row = frame.set_index("id").loc[run.id]
    assert row["params.lr"] == 0.1 and row["metrics.acc"] == 0.75 and row["tags.t"] == HOSTILE
    assert math.isnan(frame.set_index("id").drop(run.id)["metrics.acc"].iloc[0])
    assert isinstance(row["started"], pd.Timestamp) and row["started"].tz is not None
    assert row["duration"] == pd.Timedelta(milliseconds=run_duration(run.id))


def run_duration(run_id: str) -> int:
    duration = cairn.Api().run(run_id).duration_ms
    assert duration is not None
    return duration


def test_a_long_list_shows_its_first_rows_and_counts_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Runs, "rows_shown", 2)
    for _ in range(5):
        cairn.init("p").finish()
    page = safe(cairn.Api().runs("p")._repr_html_())
    assert len(page.links) == 2 and "3 more rows" in page.text and "to_pandas()" in page.text


def test_an_empty_result_says_so() -> None:
    cairn.init("p").finish()
    assert "no runs" in safe(cairn.Api().runs("p", where="params.lr > 1")._repr_html_()).text


def test_a_metric_history_shows_its_ends_and_converts_to_pandas() -> None:
    with cairn.init("p") as run:
        for step in range(40):
            run.log({"loss": 1 / (step + 1)}, step=step)
        run.log({"loss": math.nan}, step=40)

    history = cairn.Api().history(run.id, "loss")

    assert isinstance(history, History) and len(history) == 41
    page = safe(history._repr_html_())
    assert page.text.startswith("loss: 41 points")
    assert "26 more points" in page.text and page.text.rstrip().endswith("NaN")
    pd = pytest.importorskip("pandas", reason="to_pandas needs pandas")
    frame = history.to_pandas()
    assert list(frame.columns) == ["step", "timestamp", "value"] and len(frame) == 41
    assert frame["step"].tolist() == list(range(41)) and str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["value"].iloc[1] == 0.5 and pd.isna(frame["value"].iloc[40])


def test_model_versions_show_as_a_table_linking_the_model_version_and_run() -> None:
    sklearn = pytest.importorskip("sklearn.linear_model", reason="a model to register")
    with cairn.init("p") as run:
        info = run.log_model(sklearn.LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), "model")
    name = "fraud <script>"
    cairn.register_model(info.uri, name)

    versions = cairn.Api().model_versions(name)

    assert isinstance(versions, ModelVersions) and [v.version for v in versions] == [1]
    page = safe(versions._repr_html_())
    assert name in page.text and "sklearn" in page.text
    base = "http://127.0.0.1:5055/models/fraud%20%3Cscript%3E"
    assert page.links == [base, f"{base}/versions/1", f"http://127.0.0.1:5055/runs/{run.id}"]
    assert safe(cairn.Api().models()._repr_html_()).links == [base]
    frame = versions.to_pandas()
    assert frame.loc[0, "model"] == name and frame.loc[0, "run"] == run.id


def test_a_record_renders_through_the_same_summary() -> None:
    with cairn.init("p", config={"lr": 0.1}) as run:
        run.log({"acc": 1.0})
    record = cairn.Api().run(run.id)
    page = safe(nd.record_summary(record, "/some/store.db"))
    assert "lr" in page.text and "acc" in page.text
    assert "cairn server --store /some/store.db" in page.text  # not the store `cairn ui` serves


def test_metric_summaries_render_with_nan_and_infinities() -> None:
    metrics = {
        k: MetricSummary(k, v, 3, 0, None, None, 1) for k, v in {"a": math.nan, "b": math.inf, "c": -math.inf}.items()
    }
    page = safe(
        nd.run_summary(project="p", name="n", run_id="r", status="failed", params={}, metrics=metrics, uri="http://h:1")
    )
    assert "NaN" in page.text and "-inf" in page.text and "failed" in page.text
