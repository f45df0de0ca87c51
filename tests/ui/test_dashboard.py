"""What a person does on the dashboard, in a real Chromium: find the best run, see why it is
best, compare it with others, save a view, leave a comment.

Every test also fails on any console error or uncaught exception in the page (the ``page``
fixture checks at teardown).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect
from tests.ui.conftest import UiServer

import cairn

pytestmark = pytest.mark.browser

PROJECT = "vision"
SPIKE_STEP = 77_777
SPIKE_VALUE = 1000.0
NAN_STEP = 90_000
POINTS = 100_000
OPTIMIZERS = ("adam", "sgd", "rmsprop")
LRS = (0.1, 0.01, 0.001)


@dataclass
class Seeded:
    server: UiServer
    runs: dict[str, str]  # name → id
    best: str  # the name of the run with the highest val/acc
    spike_run: str  # id


def _accuracy(optimizer: str, lr: float) -> float:
    return round(0.5 + 0.1 * OPTIMIZERS.index(optimizer) + (0.2 if lr == 0.01 else 0.05), 4)


@pytest.fixture(scope="module")
def seeded(ui_server: UiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """Nine runs of a grid (3 optimizers × 3 learning rates), one of which also logs a long
    loss curve with a spike and a NaN; a second project holds script payloads."""
    home = tmp_path_factory.mktemp("cairn-home")
    runs: dict[str, str] = {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAIRN_HOME", str(home))
        env.setenv("CAIRN_CAPTURE", "0")
        for optimizer in OPTIMIZERS:
            for lr in LRS:
                name = f"{optimizer}-{lr}"
                config = {"optimizer": optimizer, "lr": lr, "epochs": 5}
                with cairn.init(PROJECT, name=name, config=config, tags={"team": "cv"}, uri=ui_server.url) as run:
                    for epoch in range(5):
                        acc = _accuracy(optimizer, lr) * (epoch + 1) / 5
                        run.log({"val/acc": acc, "train/loss": 1.0 - acc}, step=epoch)
                    runs[name] = run.id
        spike_id = _spiky_run(ui_server, home)
        _artifacts(runs["rmsprop-0.01"], ui_server, home)
    best = max(runs, key=lambda n: _accuracy(n.split("-")[0], float(n.split("-")[1])))
    yield Seeded(ui_server, runs, best, spike_id)


def _spiky_run(server: UiServer, home: Path) -> str:
    import numpy as np

    steps = np.arange(POINTS)
    values = 1.0 / (1.0 + steps / 10_000) + 0.01 * np.sin(steps / 50)
    values[SPIKE_STEP] = SPIKE_VALUE
    values[NAN_STEP] = math.nan
    with cairn.init("signals", name="long-curve", config={"seed": 1}, uri=server.url) as run:
        for start in range(0, POINTS, 20_000):
            for step in range(start, start + 20_000):
                run.log({"train/loss": float(values[step])}, step=step)
            run.flush()
        return run.id


def _artifacts(run_id: str, server: UiServer, home: Path) -> None:
    folder = home / "files"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello from the run\n")
    with cairn.init(PROJECT, name="with-files", config={"optimizer": "none", "lr": 0.5}, uri=server.url) as run:
        run.log_artifact(folder / "notes.txt")
        run.log_dict({"layers": [64, 32], "dropout": 0.1}, "config.json")
        run.log_confusion_matrix(["cat", "dog", "cat", "dog"], ["cat", "dog", "dog", "dog"])


def _runs_page(page: Page, seeded: Seeded, query: str = "") -> None:
    url = f"{seeded.server.url}/projects/{PROJECT}" + (f"?q={quote(query)}" if query else "")
    page.goto(url)
    expect(page.locator("#runs-table")).to_be_visible()


def _row_names(page: Page) -> list[str]:
    return page.locator("#runs-table tbody tr[data-run] a.run-link").all_inner_texts()


# -- find the best run --------------------------------------------------------------------------


def test_the_projects_page_shows_each_project_with_its_best_run(page: Page, seeded: Seeded) -> None:
    page.goto(seeded.server.url + "/")
    table = page.locator("#projects-table")
    expect(table).to_be_visible()
    row = table.locator("tr", has=page.get_by_role("link", name=PROJECT, exact=True))
    expect(row).to_contain_text("10")  # nine grid runs and the one with files
    page.select_option("select[name=metric]", "val/acc")
    expect(page.locator("#projects-table tr", has_text=PROJECT)).to_contain_text(seeded.best)
    row.get_by_role("link", name=PROJECT, exact=True).click()
    expect(page).to_have_url(re.compile(f"/projects/{PROJECT}$"))


def test_a_query_filters_the_table_and_the_back_button_restores_it(page: Page, seeded: Seeded) -> None:
    _runs_page(page, seeded)
    assert len(_row_names(page)) == 10
    page.fill("#query", "params.optimizer = 'sgd' and params.lr < 0.05")
    page.press("#query", "Enter")
    expect(page.locator("#match-count")).to_contain_text("2 runs match")
    assert sorted(_row_names(page)) == ["sgd-0.001", "sgd-0.01"]
    assert "q=params.optimizer" in page.url
    page.go_back()
    expect(page.locator("#match-count")).to_contain_text("10 runs match")


def test_a_bad_query_shows_its_error_in_place(page: Page, seeded: Seeded) -> None:
    _runs_page(page, seeded)
    page.fill("#query", "params.lr >")
    page.press("#query", "Enter")
    error = page.locator("#query-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("column")
    expect(page.locator("#query")).to_have_value("params.lr >")  # the box keeps what was typed


def test_the_search_box_completes_field_names(page: Page, seeded: Seeded) -> None:
    _runs_page(page, seeded)
    page.click("#query")
    page.keyboard.type("params.opt")
    completions = page.locator("#completions")
    expect(completions).to_be_visible()
    expect(completions.locator("li").first).to_have_text("params.optimizer")
    page.keyboard.press("Tab")
    expect(page.locator("#query")).to_have_value("params.optimizer ")


def test_sorting_by_a_metric_puts_the_best_run_first(page: Page, seeded: Seeded) -> None:
    _runs_page(page, seeded)
    page.locator("#runs-table th[data-field='metrics.val/acc'] a").click()
    expect(page.locator("#runs-table tbody tr[data-run] a.run-link").first).to_have_text(seeded.best)
    assert "order=metrics.val%2Facc+desc" in page.url or "order=metrics.val/acc+desc" in page.url
    page.locator("#runs-table th[data-field='metrics.val/acc'] a").click()  # again: ascending
    expect(page.locator("#runs-table tbody tr[data-run] a.run-link").first).not_to_have_text(seeded.best)


def test_chosen_columns_are_remembered_for_the_next_visit(page: Page, seeded: Seeded) -> None:
    _runs_page(page, seeded)
    page.click("#column-picker summary")
    picker = page.locator("#column-picker form")
    checked = picker.locator("input[name=col]:checked")
    while checked.count():
        checked.first.uncheck()
    picker.locator("input[value='name']").check()
    picker.locator("input[value='tags.team']").check()
    picker.get_by_role("button", name="Show columns").click()
    expect(page.locator("#runs-table thead th[data-field]")).to_have_count(2)
    page.goto(f"{seeded.server.url}/projects/{PROJECT}")
    headers = page.locator("#runs-table thead th[data-field]")
    expect(headers).to_have_count(2)
    assert headers.evaluate_all("hs => hs.map(h => h.dataset.field)") == ["name", "tags.team"]


def test_grouping_by_a_param_shows_counts_and_means(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.server.url}/projects/{PROJECT}?group=params.optimizer&agg=metrics.val/acc")
    groups = page.locator("#groups-table tbody tr")
    expect(groups).to_have_count(4)
    sgd = page.locator("#groups-table tbody tr", has_text="sgd")
    expect(sgd).to_contain_text("3")
    sgd.get_by_role("link").click()
    expect(page.locator("#match-count")).to_contain_text("3 runs match")


# -- see why it is best ---------------------------------------------------------------------------


def test_the_run_page_shows_params_notes_and_a_chart(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.server.url}/runs/{seeded.runs[seeded.best]}")
    expect(page.locator("#run-name")).to_have_text(seeded.best)
    expect(page.locator("#params-table")).to_contain_text("optimizer")
    expect(page.locator("#standing")).to_have_text(re.compile(r"Best of 9 runs\s+by val/acc"))  # 9 logged it
    chart = page.locator(".metric-chart[data-key='val/acc']")
    chart.scroll_into_view_if_needed()
    expect(chart).to_have_attribute("data-state", "drawn")
    expect(chart.locator("canvas")).to_be_visible()
    expect(chart.locator(".chart-note")).to_contain_text("all 5 points")


def test_a_spike_among_100000_points_is_drawn_and_zoom_fetches_full_resolution(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.server.url}/runs/{seeded.spike_run}")
    figure = page.locator(".metric-chart[data-key='train/loss']")
    expect(figure).to_have_attribute("data-state", "drawn")
    drawn = page.evaluate(
        """() => {
            const chart = window.cairnCharts.find(c => c.key === 'train/loss');
            const s = chart.overview[0];
            return {count: s.values.length, max: Math.max(...s.values.filter(Number.isFinite)),
                    nan: s.values.filter(Number.isNaN).length, width: chart.canvas.clientWidth,
                    downsampled: s.downsampled, total: s.total};
        }"""
    )
    assert drawn["total"] == POINTS and drawn["downsampled"]
    assert drawn["max"] == SPIKE_VALUE  # the envelope kept the one spike
    assert drawn["nan"] >= 1  # and the NaN, drawn as a marker
    assert drawn["count"] <= 2 * drawn["width"] + 8  # never more points than pixels can show
    expect(figure.locator(".chart-note")).to_contain_text("NaN/±inf marked")

    # Zoom to a narrow window around the spike, as a drag on the slider would.
    page.evaluate(
        """([lo, hi]) => {
            const chart = window.cairnCharts.find(c => c.key === 'train/loss');
            chart.chart.dispatchAction({type: 'dataZoom', startValue: lo, endValue: hi});
        }""",
        [SPIKE_STEP - 300, SPIKE_STEP + 300],
    )
    expect(figure).to_have_attribute("data-window", re.compile(r"\d+-\d+"))
    expect(figure).to_have_attribute("data-state", "drawn")
    detail = page.evaluate(
        """() => {
            const s = window.cairnCharts.find(c => c.key === 'train/loss').detail[0];
            return {downsampled: s.downsampled, count: s.values.length, first: s.steps[0],
                    last: s.steps[s.steps.length - 1], max: Math.max(...s.values.filter(Number.isFinite))};
        }"""
    )
    assert not detail["downsampled"]  # a few hundred points: every one of them
    assert detail["count"] == detail["last"] - detail["first"] + 1
    assert detail["max"] == SPIKE_VALUE
    expect(figure.locator(".chart-note")).to_contain_text("all ")


def test_chart_settings_smoothing_axis_and_log_scale_stay_in_the_url(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.server.url}/runs/{seeded.runs[seeded.best]}")
    chart = page.locator(".metric-chart[data-key='val/acc']")
    chart.scroll_into_view_if_needed()
    expect(chart).to_have_attribute("data-state", "drawn")
    page.locator("#smoothing").fill("0.6")
    page.select_option("#x-axis", "relative")
    page.check("#log-scale")
    assert "smooth=0.6" in page.url and "x=relative" in page.url and "log=1" in page.url
    page.reload()
    expect(page.locator("#x-axis")).to_have_value("relative")
    expect(page.locator("#log-scale")).to_be_checked()


def test_artifacts_are_previewed_by_kind(page: Page, seeded: Seeded) -> None:
    _runs_page(page, seeded, "name = 'with-files'")
    page.get_by_role("link", name="with-files").click()
    page.get_by_role("link", name="Artifacts").click()
    page.get_by_role("link", name="notes.txt").click()
    expect(page.locator("#preview pre")).to_have_text("hello from the run\n")
    page.get_by_role("link", name="config.json").click()
    expect(page.locator("#preview pre")).to_contain_text('"dropout": 0.1')
    page.get_by_role("link", name=re.compile("confusion_matrix")).click()
    expect(page.locator(".confusion-matrix")).to_have_attribute("data-state", "drawn")
    expect(page.locator("#preview")).to_contain_text("Accuracy 0.75")


def test_a_metric_logged_once_shows_its_value_and_a_curve_still_draws_a_line(page: Page, seeded: Seeded) -> None:
    """scikit-learn's autologging logs training_score once: a lone point on empty axes reads as
    nothing, so the run page writes its value, and comparing runs gives a bar each."""
    scores = {"svc": 0.992481, "tree": 0.871, "diverged": math.nan}
    ids = []
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAIRN_CAPTURE", "0")
        for name, score in scores.items():
            with cairn.init("fitted", name=name, uri=seeded.server.url) as run:
                run.log({"training_score": score}, step=0)
                for step in range(3):
                    run.log({"loss": 1.0 / (step + 1)}, step=step)
                    if name == "svc" or step == 0:  # the other runs stopped after one epoch
                        run.log({"val_loss": 1.5 / (step + 1)}, step=step)
                ids.append(run.id)

    page.goto(f"{seeded.server.url}/runs/{ids[0]}")
    single = page.locator(".metric-chart[data-key='training_score']")
    single.scroll_into_view_if_needed()
    expect(single).to_have_attribute("data-state", "drawn")
    expect(single).to_have_attribute("data-shape", "value")
    expect(single.locator(".chart-value")).to_be_visible()
    expect(single.locator(".chart-value")).to_have_text("0.992481")
    expect(single.locator(".chart-note")).to_have_text("the only point, logged at step 0")
    curve = page.locator(".metric-chart[data-key='loss']")
    curve.scroll_into_view_if_needed()
    expect(curve).to_have_attribute("data-state", "drawn")
    expect(curve).to_have_attribute("data-shape", "line")
    expect(curve.locator("canvas")).to_be_visible()
    expect(curve.locator(".chart-value")).to_have_count(0)
    expect(curve.locator(".chart-note")).to_contain_text("all 3 points")
    drawn = page.evaluate(
        """() => window.cairnCharts.find(c => c.key === 'loss').chart.getOption().series
            .map(s => ({type: s.type, points: s.data.length, symbolSize: s.symbolSize}))"""
    )
    assert drawn == [{"type": "line", "points": 3, "symbolSize": 4}]

    page.goto(f"{seeded.server.url}/compare?runs={ids[0]},{ids[1]},{ids[2]}")
    bars = page.locator(".metric-chart[data-key='training_score']")
    bars.scroll_into_view_if_needed()
    expect(bars).to_have_attribute("data-state", "drawn")
    expect(bars).to_have_attribute("data-shape", "bars")
    expect(bars.locator(".chart-note")).to_have_text("one point per run, its value on each bar")
    drawn = page.evaluate(
        """() => {
            const chart = window.cairnCharts.find(c => c.key === 'training_score').chart;
            const series = chart.getOption().series[0];
            const labels = series.data.map((d, i) => series.label.formatter({data: d, dataIndex: i}));
            return {type: series.type, labelled: series.label.show, labels,
                    runs: chart.getOption().yAxis[0].data};
        }"""
    )
    assert drawn == {"type": "bar", "labelled": True, "labels": ["0.992481", "0.871", "NaN"], "runs": list(scores)}
    overlaid = page.locator(".metric-chart[data-key='loss']")
    overlaid.scroll_into_view_if_needed()
    expect(overlaid).to_have_attribute("data-shape", "line")
    # A run's lone point among another's curve: the same line chart, with a marker to see it by.
    mixed = page.locator(".metric-chart[data-key='val_loss']")
    mixed.scroll_into_view_if_needed()
    expect(mixed).to_have_attribute("data-state", "drawn")
    expect(mixed).to_have_attribute("data-shape", "line")
    drawn = page.evaluate(
        """() => window.cairnCharts.find(c => c.key === 'val_loss').chart.getOption().series
            .map(s => [s.type, s.data.length, s.symbolSize])"""
    )
    assert drawn == [["line", 3, 4], ["line", 1, 10], ["line", 1, 10]]


# -- compare it with others -----------------------------------------------------------------------


def test_comparing_three_runs_shows_differences_and_overlaid_charts(page: Page, seeded: Seeded) -> None:
    _runs_page(page, seeded, "params.optimizer = 'adam'")
    boxes = page.locator("#runs-table tbody input[name=runs]")
    expect(boxes).to_have_count(3)
    for box in boxes.all():
        box.check()
    expect(page.locator("#selected-count")).to_have_text("3")
    page.locator("#compare-button").click()
    expect(page).to_have_url(re.compile(r"/compare\?runs="))
    expect(page.locator("#diff-table thead th")).to_have_count(4)
    differing = page.locator("#diff-table tr.differs")
    expect(differing.filter(has_text="lr")).to_have_count(1)
    expect(page.locator("#diff-table tr.same", has_text="optimizer")).to_be_hidden()  # equal: hidden
    expect(page.locator("#parallel-chart")).to_have_attribute("data-state", "drawn")
    chart = page.locator(".metric-chart[data-key='val/acc']")
    chart.scroll_into_view_if_needed()  # charts are drawn as they come into view
    expect(chart).to_have_attribute("data-state", "drawn")
    series = page.evaluate("() => window.cairnCharts.find(c => c.key === 'val/acc').overview.length")
    assert series == 3


# -- save a view and share it -----------------------------------------------------------------------


def test_a_saved_view_reopens_the_same_table_for_a_colleague(page: Page, seeded: Seeded) -> None:
    query = "params.lr = 0.01"
    page.goto(f"{seeded.server.url}/projects/{PROJECT}?q={quote(query)}&order={quote('metrics.val/acc desc')}")
    page.click("#save-view summary")
    page.fill("#save-view input[name=name]", "best lr")
    page.locator("#save-view").get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"\?view="))
    expect(page.locator(".views a.chip.active")).to_have_text("best lr")
    share = page.locator(".notice a", has_text="link to share").get_attribute("href")
    assert share is not None and share.startswith("/views/")
    rows = _row_names(page)
    assert rows[0] == seeded.best and len(rows) == 3

    colleague = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        other = colleague.new_page()
        other.goto(seeded.server.url + share)
        expect(other.locator("#query")).to_have_value(query)
        assert _row_names(other) == rows
    finally:
        colleague.close()


# -- leave a comment ------------------------------------------------------------------------------------


def test_a_comment_is_added_edited_and_deleted(page: Page, seeded: Seeded) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.goto(f"{seeded.server.url}/runs/{seeded.runs[seeded.best]}")
    page.fill("#comment-form textarea", "Best so far, **lr 0.01** wins. @alice <script>alert(1)</script>")
    page.locator("#comment-form").get_by_role("button", name="Comment").click()
    comment = page.locator(".comment").first
    expect(comment).to_contain_text("<script>alert(1)</script>")  # shown as text
    expect(comment.locator("strong", has_text="lr 0.01")).to_be_visible()
    expect(comment.locator(".mention")).to_have_text("@alice")
    comment.get_by_role("link", name="Edit").click()
    page.locator(".comment textarea").fill("Edited: still the best.")
    page.locator(".comment").get_by_role("button", name="Save").click()
    expect(page.locator(".comment").first).to_contain_text("Edited: still the best.")
    expect(page.locator(".comment").first).to_contain_text("(edited)")
    page.reload()  # it was stored, not only drawn
    expect(page.locator(".comment").first).to_contain_text("Edited: still the best.")
    page.locator(".comment").first.get_by_role("button", name="Delete").click()
    expect(page.locator(".comment")).to_have_count(0)
    assert dialogs == ["Delete this comment?"]  # the confirm, and no alert from the payload


def test_notes_are_edited_as_markdown(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.server.url}/runs/{seeded.runs['adam-0.1']}")
    page.locator("#edit-notes").click()
    page.locator("#notes textarea").fill("Too high a rate: **diverges**.")
    page.locator("#notes").get_by_role("button", name="Save notes").click()
    expect(page.locator("#notes-text strong")).to_have_text("diverges")


# -- bad input -----------------------------------------------------------------------------------------


def test_script_payloads_in_names_params_and_tags_are_shown_as_text(page: Page, seeded: Seeded) -> None:
    payload = "<script>alert(1)</script>"
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAIRN_CAPTURE", "0")
        with cairn.init(
            f"x{payload}", name=f"run{payload}", config={"p": payload}, tags={"t": payload}, uri=seeded.server.url
        ) as run:
            run.log({"m": 1.0})
            run.notes = payload
            run_id = run.id
    page.goto(seeded.server.url + "/projects")
    expect(page.get_by_role("link", name=f"x{payload}")).to_be_visible()
    page.get_by_role("link", name=f"x{payload}").click()
    expect(page.get_by_role("link", name=f"run{payload}")).to_be_visible()
    page.goto(f"{seeded.server.url}/runs/{run_id}")
    expect(page.locator("#run-name")).to_have_text(f"run{payload}")
    expect(page.locator("#notes-text")).to_contain_text(payload)
    expect(page.locator(".metric-chart[data-key='m']")).to_have_attribute("data-state", "drawn")
    assert dialogs == []


def test_an_unknown_run_gives_a_friendly_404_page(page: Page, seeded: Seeded, console_errors: list[str]) -> None:
    response = page.goto(f"{seeded.server.url}/runs/no-such-run")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to all projects")).to_be_visible()
    # Chromium reports the 404 of the document itself on the console; that one is expected.
    console_errors[:] = [e for e in console_errors if "404" not in e]


# -- layout -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("color_scheme", ["dark"])
def test_the_dark_theme_follows_the_system(page: Page, seeded: Seeded) -> None:
    _runs_page(page, seeded)
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    red = int(re.findall(r"\d+", background)[0])
    assert red < 60, background


def test_a_narrow_screen_keeps_the_page_usable(page: Page, seeded: Seeded) -> None:
    long_path = "/datasets/imagenet/" + "train-shard-0001-of-1024" * 6  # one long word, as paths are
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAIRN_CAPTURE", "0")
        config = {"optimizer": "adam", "lr": 0.01, "epochs": 5, "data_path": long_path}
        with cairn.init("narrow", name="long-values", config={**config, "lr": 0.1}, uri=seeded.server.url) as run:
            run.log({"val/acc": 0.912345678})
        with cairn.init("narrow", name="long-values-2", config=config, uri=seeded.server.url) as run:
            run.log({"val/acc": 0.987654321})
            run_id = run.id
    page.set_viewport_size({"width": 420, "height": 800})
    page.goto(f"{seeded.server.url}/runs/{run_id}")
    chart = page.locator(".metric-chart[data-key='val/acc']")
    chart.scroll_into_view_if_needed()
    expect(chart).to_have_attribute("data-state", "drawn")
    expect(page.locator("#change")).to_contain_text("lr")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"
    # Each card fits the screen too (its content wraps rather than running off the edge).
    for card in ("#standing", "#change", "#notes", "#params-table", ".metric-chart"):
        right = page.locator(card).evaluate("e => e.getBoundingClientRect().right")
        assert right <= 420, f"{card} ends at {right}px on a 420px screen"
    compare = "&".join(f"runs={run_id}" for run_id in list(seeded.runs.values())[:3])
    for path in ("/projects", f"/projects/{PROJECT}", f"/compare?{compare}"):
        page.goto(seeded.server.url + path)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px (wide tables scroll in their own box)"


# -- every page of a run, and what changed in its code --------------------------------------------


def _snapshot(server: UiServer, run_id: str, files: dict[str, str], folder: Path) -> None:
    """A code snapshot of ``files`` (path → text), uploaded as the SDK's capture would."""
    import hashlib

    from cairn.core.artifacts import SnapshotFile

    entries = []
    for path, text in files.items():
        local = folder / hashlib.sha256(path.encode()).hexdigest()
        local.write_text(text)
        digest = hashlib.sha256(text.encode()).hexdigest()
        server.tracking.upload_file(local, digest, len(text.encode()))
        entries.append(SnapshotFile(path, digest, len(text.encode())))
    server.tracking.save_snapshot(run_id, "code", entries, meta={"commit": "abc123", "branch": "main", "dirty": True})


def test_every_tab_of_a_run_opens_without_errors_and_code_shows_its_diff(
    page: Page, seeded: Seeded, tmp_path: Path
) -> None:
    first, second = seeded.runs["sgd-0.1"], seeded.runs["sgd-0.01"]
    _snapshot(seeded.server, first, {"train.py": "lr = 0.1\nepochs = 5\n", "old.py": "x\n"}, tmp_path)
    _snapshot(seeded.server, second, {"train.py": "lr = 0.01\nepochs = 5\n", "new.py": "y\n"}, tmp_path)
    base = f"{seeded.server.url}/runs/{second}"
    for tab in ("", "/system", "/artifacts", "/datasets", "/logs"):
        response = page.goto(base + tab)
        assert response is not None and response.status == 200, tab
        expect(page.locator(".tabs .tab.active")).to_be_visible()
    page.goto(base + "/code")
    expect(page.locator("#snapshot-changes")).to_contain_text("3 files changed")
    expect(page.locator("#snapshot-files")).to_contain_text("removed")
    page.get_by_role("link", name="train.py").click()
    diff = page.locator("#file-diff")
    expect(diff.locator(".del")).to_have_text("-lr = 0.1")
    expect(diff.locator(".add")).to_have_text("+lr = 0.01")


def test_the_table_charts_its_first_runs_and_a_view_keeps_them(page: Page, seeded: Seeded) -> None:
    _runs_page(page, seeded, "params.optimizer = 'rmsprop'")
    page.click("#chart-picker summary")
    page.locator("#chart-picker input[value='val/acc']").check()
    page.locator("#chart-picker").get_by_role("button", name="Show charts").click()
    chart = page.locator("#table-charts .metric-chart[data-key='val/acc']")
    expect(chart).to_have_attribute("data-state", "drawn")
    names = page.evaluate("() => window.cairnCharts[0].runs.map(r => r.name)")
    assert sorted(names) == ["rmsprop-0.001", "rmsprop-0.01", "rmsprop-0.1"]
    page.click("#save-view summary")
    page.fill("#save-view input[name=name]", "rmsprop curves")
    page.locator("#save-view").get_by_role("button", name="Save").click()
    expect(page.locator("#table-charts .metric-chart[data-key='val/acc']")).to_have_attribute("data-state", "drawn")
    expect(page.locator("#query")).to_have_value("params.optimizer = 'rmsprop'")
