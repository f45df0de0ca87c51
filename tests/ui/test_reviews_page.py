"""A review in a real Chromium, from the model page to the merge: @champion of a model of real
scikit-learn classifiers is protected (one approval, an accuracy check) through the service, and
"ada" opens a review proposing version 2. On the dashboard, ada reads it (the check with the
accuracy it saw, version 2 beside version 1) and is refused approving her own review, the
refusal shown with its code; the viewer becomes "grace" through the header's name form, she
approves and merges, and the model page shows @champion on version 2. Markup in the description
and in a comment stays text, under the page's Content-Security-Policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from tests.ui.conftest import UiServer

import cairn
from cairn.core.reviews import Review
from cairn.service.policy import Principal

pytestmark = pytest.mark.browser

MODEL = "iris-reviewed"
CHECK = "metrics.val/accuracy >= 0.5"
PAYLOAD = "<img src=x onerror=window.__xss=1>"


@dataclass
class Seeded:
    server: UiServer
    review: Review


def _train_and_log(server: UiServer, c: float) -> str:
    """A logistic regression on iris in a new run, with its accuracy, dataset and model."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris(as_frame=True)
    with cairn.init("reviewed", name=f"logreg-c{c}", config={"C": c}, uri=server.url) as run:
        model = LogisticRegression(C=c, max_iter=500).fit(iris.data, iris.target)
        run.log({"val/accuracy": float(model.score(iris.data, iris.target))})
        run.log_dataset(iris.frame, "iris", context="train")
        run.log_model(model, name="model", input_example=iris.data.head(3))
        return run.id


@pytest.fixture(scope="module")
def seeded(ui_server: UiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    tracking = ui_server.tracking
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CAIRN_HOME", str(tmp_path_factory.mktemp("cairn-home")))
        env.setenv("CAIRN_CAPTURE", "0")
        for c in (0.05, 1.0):
            cairn.register_model(f"runs:/{_train_and_log(ui_server, c)}/model", MODEL, uri=ui_server.url)
    tracking.set_model_alias(MODEL, "champion", 1)
    tracking.protect_alias(MODEL, "champion", approvals=1, checks=[CHECK])
    review = tracking.acting_as(Principal("ada")).open_review(
        MODEL, 2, "champion", description=f"Less regularisation: **C=1**. {PAYLOAD}"
    )
    yield Seeded(ui_server, review)


def _be(page: Page, name: str) -> None:
    """Set the viewer's name through the page header's form, as a person would."""
    page.locator("details.viewer summary").click()
    page.get_by_label("Your name").fill(name)
    page.locator("form.viewer-form").get_by_role("button", name="Save").click()
    expect(page.locator("details.viewer summary")).to_have_text(name)


def test_ada_opens_grace_approves_and_merges(
    page: Page, seeded: Seeded, violations: list[str], console_errors: list[str]
) -> None:
    server, review = seeded.server, seeded.review
    page.goto(f"{server.url}/models/{MODEL}")
    _be(page, "ada")

    # The model's Reviews tab lists it; the Aliases tab shows the protection.
    page.locator("nav.tabs").get_by_role("link", name="Aliases").click()
    protection = page.locator("#protections-table tr[data-alias='champion']")
    expect(protection).to_contain_text(CHECK)
    expect(protection.locator("td.num")).to_have_text("1")
    page.locator("nav.tabs").get_by_role("link", name="Reviews").click()
    row = page.locator(f"#reviews-table tr[data-review='{review.id}']")
    expect(row).to_contain_text("v2 → @champion")
    expect(row).to_contain_text("ada")
    expect(row.locator(".review-checks")).to_have_text("1 passed")
    row.get_by_role("link", name=f"#{review.id}").click()
    expect(page).to_have_url(f"{server.url}/reviews/{review.id}")

    # The review: its check with the accuracy it saw, v2 beside v1, not mergeable yet.
    expect(page.locator("#review-state")).to_have_text("open")
    expect(page.locator("#current-holder")).to_have_text("v1")
    check = page.locator("#checks-table tr").filter(has_text=CHECK)
    expect(check.locator("td").nth(1)).to_have_text("pass")
    expect(check.locator(".check-message")).to_contain_text(re.compile(r"metrics\.val/accuracy = 0\.9\d"))
    expect(page.locator("#compare-metrics thead")).to_contain_text("v1")
    expect(page.locator("#compare-metrics thead")).to_contain_text("candidate v2")
    expect(page.locator("#compare-metrics tr[data-key='val/accuracy'] td")).to_have_count(3)
    expect(page.locator("#compare-params tr[data-key='C'] td").nth(1)).to_have_text("0.05")
    expect(page.locator("#compare-params tr[data-key='C'] td").nth(2)).to_have_text("1")
    expect(page.locator("#compare-datasets tr")).to_have_count(2)  # head and iris (train)
    expect(page.locator("#merge-review")).to_be_disabled()
    expect(page.locator("#merge-blockers")).to_contain_text("0 of 1 approvals")
    expect(page.locator("#review-description strong")).to_have_text("C=1")
    expect(page.locator("#review-description")).to_contain_text(PAYLOAD)  # as text
    assert page.evaluate("window.__xss") is None

    # The author approving her own review: refused in place, with the code.
    page.locator("#vote-form textarea").fill("looks good to me")
    page.locator("#approve").click()
    expect(page.locator("#refusal-vote")).to_contain_text("self_approval")
    expect(page.locator("#vote-form textarea")).to_have_value("looks good to me")
    expect(page.locator("#no-votes")).to_be_visible()
    # The refusal's page comes with its status (403), which Chromium logs; nothing else did.
    assert len(console_errors) == 1 and "403" in console_errors[0] and "/approve" in console_errors[0]
    console_errors.clear()

    # A comment with a mention and markup, as ada.
    page.goto(f"{server.url}/reviews/{review.id}")
    page.locator("#comment-form textarea").fill(f"@grace could you look? {PAYLOAD}")
    page.locator("#comment-form").get_by_role("button", name="Comment").click()
    entry = page.locator("#thread article.comment").last
    expect(entry.locator(".author")).to_have_text("ada")
    expect(entry.locator(".mention")).to_have_text("@grace")
    expect(entry.locator(".markdown")).to_contain_text(PAYLOAD)

    # Grace approves (answering ada's comment first), and merges.
    _be(page, "grace")
    entry.locator("details.reply summary").click()
    entry.locator("details.reply textarea").fill("on it")
    entry.locator("details.reply").get_by_role("button", name="Reply").click()
    expect(page.locator("#thread article.comment.depth-1")).to_contain_text("on it")
    page.locator("#vote-form textarea").fill("Accuracy holds.")
    page.locator("#approve").click()
    expect(page.locator("#votes-list li[data-reviewer='grace']")).to_contain_text("approved")
    expect(page.locator("#merge-ready")).to_be_visible()
    page.locator("#merge-review").click()
    expect(page.locator("#review-state")).to_have_text("merged")
    expect(page.locator("#merged-by")).to_contain_text("grace")
    expect(page.locator("#vote-form")).to_have_count(0)

    page.locator(".crumbs").get_by_role("link", name=MODEL).click()
    expect(page.locator("#model-aliases")).to_contain_text("@champion → 2")
    assert page.evaluate("window.__xss") is None
