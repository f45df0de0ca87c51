"""The model registry's pages in a real Chromium: find a model, read its versions and aliases,
follow a version back to the run and data that made it, and back again from the run.

The models are real: scikit-learn classifiers trained on iris in runs logged through the
server, saved with ``run.log_model`` and registered with ``cairn.register_model``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect
from tests.ui.conftest import UiServer

import cairn

pytestmark = pytest.mark.browser

MODEL = "iris-clf"
MANY = "many-versions"
MANY_VERSIONS = 120  # more than two pages of the versions table (50 each)
PAYLOAD = "<img src=x onerror=window.__xss=1>"


@dataclass
class Seeded:
    server: UiServer
    runs: list[str]  # the ids of the two runs registered as versions 1 and 2 of MODEL
    hostile_run: str  # the run whose model PAYLOAD's version 1 is


def _train_and_log(server: UiServer, c: float, dataset_name: str, columns: dict[str, str] | None = None) -> str:
    """A logistic regression on iris in a new run, with its dataset and model; the run's id."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris(as_frame=True)
    features = iris.data.rename(columns=columns or {})
    with cairn.init("registry", name=f"logreg-c{c}", config={"C": c}, uri=server.url) as run:
        model = LogisticRegression(C=c, max_iter=500).fit(features, iris.target)
        run.log({"val/accuracy": float(model.score(features, iris.target))})
        run.log_dataset(iris.frame, dataset_name, context="train")
        run.log_model(model, name="model", input_example=features.head(3))
        return run.id


@pytest.fixture(scope="module")
def seeded(ui_server: UiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """MODEL with two versions (v2 in Production, @champion moved from v1 to v2, @challenger
    on v1); MANY with MANY_VERSIONS versions; and a model whose name, description, tags,
    version description, dataset and signature column are all PAYLOAD."""
    tracking = ui_server.tracking  # acts as "tester": the alias history names them
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAIRN_HOME", str(tmp_path_factory.mktemp("cairn-home")))
        env.setenv("CAIRN_CAPTURE", "0")
        runs = [_train_and_log(ui_server, c, "iris") for c in (0.1, 1.0)]
        for number, run_id in enumerate(runs, 1):
            version = cairn.register_model(
                f"runs:/{run_id}/model", MODEL, uri=ui_server.url, description=f"Version {number}: *C* tuned."
            )
            assert version.version == number
        tracking.update_model(MODEL, "Classifies **iris** flowers.")
        tracking.set_model_tag(MODEL, "team", "botany")
        tracking.set_model_alias(MODEL, "champion", 1)
        tracking.set_model_alias(MODEL, "champion", 2)
        tracking.set_model_alias(MODEL, "challenger", 1)
        tracking.transition_stage(MODEL, 2, "Production")
        for _ in range(MANY_VERSIONS):
            tracking.register_model(f"runs:/{runs[0]}/model", MANY)

        hostile_run = _train_and_log(ui_server, 0.5, PAYLOAD, columns={"sepal length (cm)": PAYLOAD})
        cairn.register_model(
            f"runs:/{hostile_run}/model", PAYLOAD, uri=ui_server.url, description=PAYLOAD, tags={PAYLOAD: PAYLOAD}
        )
        tracking.update_model(PAYLOAD, PAYLOAD)
        tracking.set_model_tag(PAYLOAD, PAYLOAD, PAYLOAD)
        tracking.set_model_alias(PAYLOAD, "champion", 1)
    yield Seeded(ui_server, runs, hostile_run)


def _model_url(seeded: Seeded, name: str, rest: str = "") -> str:
    return f"{seeded.server.url}/models/{quote(name, safe='')}{rest}"


# -- find a model ---------------------------------------------------------------------------------


def test_the_models_list_shows_each_model_with_its_latest_version_aliases_and_tags(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.server.url}/projects")
    page.locator("header nav.sections").get_by_role("link", name="Models").click()
    expect(page).to_have_url(re.compile(r"/models$"))
    row = page.locator(f"#models-table tr[data-model='{MODEL}']")
    expect(row).to_contain_text("Classifies **iris** flowers.")  # the first line, as text
    expect(row.get_by_role("link", name="v2")).to_have_attribute("href", f"/models/{MODEL}/versions/2")
    champion = row.locator("a.chip.alias", has_text="@champion → 2")
    expect(champion).to_have_attribute("href", f"/models/{MODEL}/versions/2")
    expect(row.locator("a.chip.alias", has_text="@challenger → 1")).to_be_visible()
    expect(row.locator(".chip.tag")).to_have_text("team=botany")
    expect(page.locator("#models-table tbody tr[data-model]")).to_have_count(3)

    page.fill("#model-name-filter", "iris")
    page.press("#model-name-filter", "Enter")
    expect(page).to_have_url(re.compile(r"\?q=iris"))
    expect(page.locator("#models-table tbody tr[data-model]")).to_have_count(1)
    page.locator("#models-table").get_by_role("link", name=MODEL).click()
    expect(page.locator("#model-name")).to_have_text(MODEL)


def test_a_filter_that_matches_nothing_says_so(page: Page, seeded: Seeded) -> None:
    page.goto(f"{seeded.server.url}/models?q=no-such-model")
    expect(page.locator("#models-table tbody tr")).to_have_count(0)
    expect(page.locator(".empty")).to_contain_text("No model's name matches")


# -- read a model ---------------------------------------------------------------------------------


def test_the_model_page_shows_its_versions_stages_and_aliases(page: Page, seeded: Seeded) -> None:
    page.goto(_model_url(seeded, MODEL))
    expect(page.locator("#model-description strong")).to_have_text("iris")  # markdown
    expect(page.locator("#model-tags")).to_contain_text("team=botany")
    rows = page.locator("#versions-table tbody tr[data-version]")
    expect(rows).to_have_count(2)
    newest = rows.first
    expect(newest).to_have_attribute("data-version", "2")
    expect(newest).to_contain_text("Production")
    expect(newest).to_contain_text("@champion")
    expect(newest).to_contain_text("sklearn")
    expect(newest.get_by_role("link", name=seeded.runs[1][:8])).to_have_attribute("href", f"/runs/{seeded.runs[1]}")
    expect(rows.nth(1)).to_contain_text("no stage")
    expect(rows.nth(1)).to_contain_text("@challenger")

    champion = page.locator("#aliases-table tr[data-alias='champion']")
    expect(champion).to_contain_text("v2")
    expect(champion).to_contain_text("tester")  # who moved it last

    page.get_by_role("link", name="Every move of every alias").click()
    expect(page.locator(".tabs .tab.active")).to_have_text("Aliases")
    history = page.locator("#alias-history-table tbody tr")
    expect(history).to_have_count(3)
    # Newest first: @challenger set on v1, @champion moved v1 → v2, @champion set on v1.
    expect(history.nth(0)).to_contain_text("@challenger")
    expect(history.nth(0)).to_contain_text("(new)")
    expect(history.nth(1)).to_contain_text(re.compile(r"@champion\s+v1\s+v2\s+tester"))
    expect(history.nth(2)).to_contain_text(re.compile(r"@champion\s+\(new\)\s+v1"))


def test_versions_come_a_page_at_a_time(page: Page, seeded: Seeded) -> None:
    page.goto(_model_url(seeded, MANY))
    rows = page.locator("#versions-table tbody tr[data-version]")
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_attribute("data-version", str(MANY_VERSIONS))
    page.locator("#versions-table tr.load-more a").click()
    expect(rows).to_have_count(100)
    expect(rows.nth(99)).to_have_attribute("data-version", str(MANY_VERSIONS - 99))
    page.locator("#versions-table tr.load-more a").scroll_into_view_if_needed()  # revealed: loads itself
    expect(rows).to_have_count(MANY_VERSIONS)
    expect(page.locator("#versions-table tr.load-more")).to_have_count(0)
    expect(rows.last).to_have_attribute("data-version", "1")

    # The same link opens the next page whole, for a browser without JavaScript or a shared link.
    page.goto(_model_url(seeded, MANY, "?before=71"))
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_attribute("data-version", "70")
    expect(page.get_by_role("link", name="Back to the newest versions")).to_be_visible()


def test_go_to_version_opens_that_version(page: Page, seeded: Seeded) -> None:
    page.goto(_model_url(seeded, MANY))
    page.fill("#go-to-version input[name=number]", "7")
    page.locator("#go-to-version").get_by_role("button", name="Go").click()
    expect(page).to_have_url(_model_url(seeded, MANY, "/versions/7"))
    expect(page.locator("#version-title")).to_contain_text("version 7")


# -- follow a version back to its run and data ---------------------------------------------------


def test_the_version_page_shows_lineage_signature_files_and_aliases(page: Page, seeded: Seeded) -> None:
    first_run = seeded.runs[0]
    page.goto(_model_url(seeded, MODEL, "/versions/1"))
    expect(page.locator("#version-title")).to_have_text(re.compile(rf"{MODEL}\s+version\s+1"))
    expect(page.locator("#version-aliases")).to_have_text("@challenger")
    expect(page.locator("#version-description em")).to_have_text("C")
    expect(page.locator("#version-facts")).to_contain_text(f"runs:/{first_run}/model")
    expect(page.locator("#version-facts")).to_contain_text("scikit-learn")

    lineage = page.locator("#lineage-table tbody tr")
    expect(lineage).to_have_count(1)
    expect(lineage).to_contain_text("iris")
    expect(lineage).to_contain_text("train")

    inputs = page.locator("#signature-inputs tbody tr")
    expect(inputs).to_have_count(4)
    expect(inputs.first).to_contain_text("sepal length (cm)")
    expect(inputs.first).to_contain_text("double")
    expect(page.locator("#signature")).to_contain_text("Output")

    files = page.locator("#files-table tbody tr")
    expect(files.filter(has_text="cairn-model.json")).to_have_count(1)
    expect(page.locator("#files-state")).to_contain_text("are those registered")
    digest = files.filter(has_text="cairn-model.json").locator("code").get_attribute("title")
    assert digest is not None and re.fullmatch(r"[0-9a-f]{64}", digest)

    # A dataset links to where the run's datasets are shown, at that dataset.
    lineage.get_by_role("link", name="iris").click()
    expect(page).to_have_url(re.compile(rf"/runs/{first_run}/datasets#dataset-"))
    anchor = page.url.rsplit("#", 1)[1]
    expect(page.locator(f"[id='{anchor}']")).to_contain_text("iris")

    # A file opens in the run's artifact browser.
    page.go_back()
    page.locator("#files-table").get_by_role("link", name="cairn-model.json").click()
    expect(page).to_have_url(re.compile(rf"/runs/{first_run}/artifacts\?path=model(%2F|/)cairn-model\.json"))
    expect(page.locator("#preview pre")).to_contain_text('"flavor": "sklearn"')


def test_the_run_page_links_to_the_versions_registered_from_it(page: Page, seeded: Seeded) -> None:
    page.goto(_model_url(seeded, MODEL, "/versions/2"))
    page.locator("#source-run a").first.click()
    expect(page).to_have_url(f"{seeded.server.url}/runs/{seeded.runs[1]}")
    registered = page.locator("#registered-as")
    expect(registered.get_by_role("link", name=f"{MODEL} v2")).to_be_visible()
    expect(registered).to_contain_text("@champion")
    # The first run was registered as MODEL v1 and, many times over, as MANY: a few are named.
    page.goto(f"{seeded.server.url}/runs/{seeded.runs[0]}")
    first = page.locator("#registered-as")
    expect(first.get_by_role("link", name=f"{MODEL} v1")).to_have_attribute("href", f"/models/{MODEL}/versions/1")
    expect(first).to_contain_text(re.compile(r"and \d+ more"))


# -- bad input ------------------------------------------------------------------------------------


def test_html_in_every_string_of_a_model_is_shown_as_text(page: Page, seeded: Seeded, violations: list[str]) -> None:
    """Model name, description and tags, version description and tags, an alias's model, a
    dataset name and a signature column, all PAYLOAD: each is the characters it is, and no
    image is created from them on any page."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{seeded.server.url}/models")
    row = page.locator("#models-table tbody tr", has=page.get_by_role("link", name=PAYLOAD, exact=True))
    expect(row.locator("td.description")).to_have_text(PAYLOAD)
    expect(row.locator(".chip.tag")).to_have_text(f"{PAYLOAD}={PAYLOAD}")
    _assert_no_image_from_data(page, "#models-table")

    row.get_by_role("link", name=PAYLOAD, exact=True).click()
    expect(page.locator("#model-name")).to_have_text(PAYLOAD)
    expect(page.locator("#model-description")).to_have_text(PAYLOAD)
    expect(page.locator("#versions-table tbody tr").first.locator("td.description")).to_have_text(PAYLOAD)
    _assert_no_image_from_data(page, "main")

    page.get_by_role("link", name="Aliases", exact=True).click()
    expect(page.locator("#alias-history-table")).to_contain_text("@champion")
    _assert_no_image_from_data(page, "main")

    page.goto(_model_url(seeded, PAYLOAD, "/versions/1"))
    expect(page.locator("#version-title")).to_contain_text(PAYLOAD)
    expect(page.locator("#version-description")).to_have_text(PAYLOAD)
    expect(page.locator("#version-tags")).to_have_text(f"{PAYLOAD}={PAYLOAD}")
    expect(page.locator("#lineage-table")).to_contain_text(PAYLOAD)
    expect(page.locator("#signature-inputs tbody tr").first).to_contain_text(PAYLOAD)
    _assert_no_image_from_data(page, "main")

    page.goto(f"{seeded.server.url}/runs/{seeded.hostile_run}")
    expect(page.locator("#registered-as")).to_have_text(f"{PAYLOAD} v1 @champion")
    _assert_no_image_from_data(page, "main")
    assert dialogs == []


def _assert_no_image_from_data(page: Page, where: str) -> None:
    assert page.locator(where).locator("img").count() == 0
    page.wait_for_timeout(200)  # an <img src=x> would have failed to load by now
    assert not page.evaluate("() => window.__xss === 1")


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/models/no-such-model", 404, "model_not_found"),
        ("/models/no-such-model/aliases", 404, "model_not_found"),
        (f"/models/{MODEL}/versions/99", 404, "model_version_not_found"),
        ("/models/no-such-model/versions/1", 404, "model_not_found"),
        (f"/models/{MODEL}/versions/abc", 400, "invalid_request"),
        (f"/models/{MODEL}/versions/0", 400, "invalid_value"),
        (f"/models/{MODEL}?before=x", 400, "invalid_page_token"),
    ],
)
def test_an_unknown_model_or_version_gives_the_error_page(
    page: Page, seeded: Seeded, console_errors: list[str], path: str, status: int, code: str
) -> None:
    response = page.goto(seeded.server.url + path)
    assert response is not None and response.status == status
    expect(page.locator(".error-page h1")).to_have_text("Not found" if status == 404 else "That did not work")
    expect(page.locator(".error-page code")).to_have_text(code)
    expect(page.get_by_role("link", name="Back to all projects")).to_be_visible()
    # Chromium reports the error status of the document itself on the console; that one is expected.
    console_errors[:] = [e for e in console_errors if str(status) not in e]


def test_a_narrow_screen_keeps_the_registry_pages_usable(page: Page, seeded: Seeded) -> None:
    page.set_viewport_size({"width": 420, "height": 800})
    for url in (
        f"{seeded.server.url}/models",
        _model_url(seeded, MODEL),
        _model_url(seeded, MODEL, "/aliases"),
        _model_url(seeded, MODEL, "/versions/2"),
    ):
        page.goto(url)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{url} scrolls sideways by {overflow}px (wide tables scroll in their own box)"
        expect(page.locator("header nav.sections").get_by_role("link", name="Models")).to_be_visible()
