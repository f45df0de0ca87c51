"""``cairn models protect`` and ``cairn reviews``: real scikit-learn models, a protected
@champion that ``cairn models alias`` refuses to move, a review opened, voted on by a colleague
(``CAIRN_USER``) and merged, embedded and through a server; bad input is one ``Error:`` line
and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import cairn
from cairn.client.connect import connect

from .helpers import Invoke

datasets = pytest.importorskip("sklearn.datasets")
from sklearn.dummy import DummyClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

AUTHOR, COLLEAGUE = "ada", "grace"
AS_COLLEAGUE = {"CAIRN_USER": COLLEAGUE}


@pytest.fixture(params=["embedded", "http"])
def where(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs and commands go to the embedded store under CAIRN_HOME, or to a server; the author
    is ada (CAIRN_USER), as the SDK and every command read it."""
    monkeypatch.setenv("CAIRN_USER", AUTHOR)
    if request.param == "http":
        monkeypatch.setenv("CAIRN_URI", request.getfixturevalue("server").url)
    yield request.param


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    return datasets.load_iris(return_X_y=True, as_frame=True)


def _register(iris: tuple[Any, Any], model: Any, name: str) -> Any:
    features, labels = iris
    model.fit(features, labels)
    with cairn.init("iris", config=model.get_params(), flush_interval=0.05) as run:
        run.log_dataset(features, "iris", context="train")
        run.log({"val/accuracy": float(model.score(features, labels))})
        uri = run.log_model(model, "classifier", input_example=features[:3]).uri
    cairn.register_model(uri, name)
    return model


@pytest.fixture
def models(where: str, iris: tuple[Any, Any]) -> list[Any]:
    """iris-clf versions 1 and 2 (logistic regressions), and 3 (a constant guess)."""
    return [
        _register(iris, LogisticRegression(C=0.05, max_iter=1000), "iris-clf"),
        _register(iris, LogisticRegression(C=10.0, max_iter=1000), "iris-clf"),
        _register(iris, DummyClassifier(strategy="most_frequent"), "iris-clf"),
    ]


def _state(invoke: Invoke) -> tuple[Any, ...]:
    """Everything a refused command could have changed."""
    tracking = connect()
    try:
        history = tracking.model_alias_history("iris-clf")
        events = [e.id for e in tracking.list_events(subject="models/iris-clf/*", limit=1000).items]
    finally:
        tracking.close()
    reviews = json.loads(invoke("reviews", "list", "--state", "all", "--json").stdout)
    return json.loads(invoke("models", "show", "iris-clf", "--json").stdout), history, events, reviews


def test_protect_review_approve_merge(invoke: Invoke, models: list[Any], iris: tuple[Any, Any]) -> None:
    invoke("models", "alias", "iris-clf", "champion", "1")
    protected = invoke(
        "models", "protect", "iris-clf", "champion", "--approvals", "1",
        "--check", "metrics.val/accuracy >= 0.9", "--check", "signature-unchanged",
    ).stdout  # fmt: skip
    assert protected == (
        "iris-clf@champion is protected: a review needs 1 approval (approved by: editor or above; "
        "merged by: maintainer or above) and these checks:\n"
        "  metrics.val/accuracy >= 0.9\n"
        "  signature-unchanged\n"
    )
    shown = invoke("models", "show", "iris-clf").stdout.split("Protected aliases (1)", 1)[1].splitlines()
    assert shown[3].split() == [
        "champion", "1", "editor", "maintainer", "metrics.val/accuracy", ">=", "0.9,", "signature-unchanged"
    ]  # fmt: skip

    before = _state(invoke)
    refused = invoke("models", "alias", "iris-clf", "champion", "2", code=1).stderr
    assert refused == (
        "Error: alias 'champion' of registered model 'iris-clf' is protected: it moves only by merging a review "
        "(needs 1 approval and the checks metrics.val/accuracy >= 0.9, signature-unchanged); "
        "open one: cairn reviews open iris-clf 2 --alias champion [review_required]\n"
    )
    assert "is protected" in invoke("models", "alias", "iris-clf", "champion", "--delete", code=1).stderr
    assert _state(invoke) == before

    opened = invoke("reviews", "open", "iris-clf", "2", "--alias", "champion", "-d", "less regularisation").stdout
    lines = opened.splitlines()
    assert lines[0].startswith("Opened review ") and lines[0].endswith(": iris-clf@champion: version 1 → version 2")
    review_id = lines[0].split()[2].rstrip(":")
    accuracy = LogisticRegression(C=10.0, max_iter=1000).fit(*iris).score(*iris)
    assert lines[3].split() == ["pass", "metrics.val/accuracy", ">=", "0.9", "metrics.val/accuracy", "=", str(accuracy)]
    assert lines[4].split()[:2] == ["pass", "signature-unchanged"]
    assert lines[-1] == "Not ready to merge: 0 of 1 approvals."

    assert invoke("reviews", "approve", review_id, code=1).stderr == (
        f"Error: 'ada' opened review {review_id} and cannot approve it: a review needs someone else [self_approval]\n"
    )
    assert invoke("reviews", "merge", review_id, code=1).stderr == (
        f"Error: review {review_id} cannot merge: 0 of 1 approvals [review_not_mergeable]\n"
    )
    asked = invoke("reviews", "request-changes", review_id, "-m", "compare with @ada's run", env=AS_COLLEAGUE).stdout
    assert asked == (
        f"Requested changes on review {review_id}. Not ready to merge: 0 of 1 approvals; changes requested by grace.\n"
    )
    thread = json.loads(invoke("reviews", "show", review_id, "--json").stdout)["comments"]
    answered = invoke(
        "reviews", "comment", review_id, "-m", "Compared: see the metrics", "--reply-to", str(thread[0]["id"])
    )
    assert answered.stdout.startswith(f"Commented on review {review_id} (comment ")
    approved = invoke("reviews", "approve", review_id, "-m", "LGTM", env=AS_COLLEAGUE).stdout
    assert approved == f"Approved review {review_id}. Ready to merge: cairn reviews merge {review_id}\n"

    listed = invoke("reviews", "list").stdout.splitlines()
    assert listed[0].split() == ["id", "model", "alias", "change", "state", "author", "checks", "approvals", "updated"]
    row = [review_id, "iris-clf", "@champion", "1", "→", "2", "open", "ada", "2/2", "passed", "1/1", "just", "now"]
    assert listed[2].split() == row

    page = invoke("reviews", "show", review_id).stdout
    assert "state        open — ready to merge" in page and "approvals    1 of 1 (grace)" in page
    assert "description  less regularisation" in page
    metrics = page.split("Metrics (last values)", 1)[1].splitlines()
    assert metrics[1].split() == ["metric", "v1", "v2", "Δ"] and metrics[3].split()[0] == "val/accuracy"
    params = page.split("Params (1 differ, ", 1)[1].splitlines()
    assert params[1].split() == ["param", "v1", "v2"] and params[3].split() == ["C", "0.05", "10.0"]
    assert "Datasets" in page and "Thread (3)" in page
    assert "grace requested changes" in page and "answering #" in page and "grace approved" in page

    detail = json.loads(invoke("reviews", "show", review_id, "--json").stdout)
    assert set(detail) == {
        "review", "protection", "comments", "candidate", "compared_with",
        "candidate_run", "compared_run", "diff", "snapshots",
    }  # fmt: skip
    assert detail["review"]["mergeable"] is True and detail["compared_with"]["version"] == 1
    assert [c["kind"] for c in detail["comments"]] == ["changes_requested", "comment", "approved"]
    assert detail["comments"][0]["mentions"] == ["ada"] and detail["comments"][1]["reply_to"] == thread[0]["id"]

    merged = invoke("reviews", "merge", review_id, env=AS_COLLEAGUE).stdout
    assert merged == f"Merged review {review_id}: iris-clf@champion: version 1 → version 2\n"
    features = iris[0]
    champion = cairn.load_model("models:/iris-clf@champion")
    np.testing.assert_array_equal(champion.predict(features), models[1].predict(features))
    assert invoke("reviews", "list").stdout == "No open reviews.\n"
    [done] = json.loads(invoke("reviews", "list", "--state", "merged", "--json").stdout)
    assert (done["merged_by"], done["merged_from_version"], done["author"]) == (COLLEAGUE, 1, AUTHOR)
    assert (
        f"Error: review {review_id} is merged"
        in invoke("reviews", "approve", review_id, env=AS_COLLEAGUE, code=1).stderr
    )


def test_a_failing_check_is_shown_with_its_value_and_blocks_the_merge(invoke: Invoke, models: list[Any]) -> None:
    invoke("models", "alias", "iris-clf", "champion", "1")
    invoke("models", "protect", "iris-clf", "champion", "--approvals", "0", "--check", "metrics.val/accuracy >= 0.9")
    opened = invoke("reviews", "open", "iris-clf", "3", "--alias", "champion").stdout.splitlines()
    review_id = opened[0].split()[2].rstrip(":")
    assert opened[3].split()[0] == "FAIL" and opened[3].split()[-3:-1] == ["metrics.val/accuracy", "="]
    assert opened[-1] == "Not ready to merge: 1 check failing."
    before = _state(invoke)
    refused = invoke("reviews", "merge", review_id, code=1).stderr
    assert refused.startswith(
        f"Error: review {review_id} cannot merge: 1 check failed "
        "(metrics.val/accuracy >= 0.9: metrics.val/accuracy = 0.3333"
    )
    assert _state(invoke) == before

    assert invoke("reviews", "close", review_id).stdout == (
        f"Closed review {review_id}; iris-clf@champion did not move.\n"
    )
    removed = invoke("models", "protect", "iris-clf", "champion", "--remove").stdout
    assert removed == "iris-clf@champion is no longer protected.\n"
    assert invoke("models", "alias", "iris-clf", "champion", "3").stdout == "iris-clf@champion: version 1 → version 3\n"


def test_bad_input_is_one_error_line_and_changes_nothing(invoke: Invoke, models: list[Any]) -> None:
    invoke("models", "protect", "iris-clf", "champion")
    opened = invoke("reviews", "open", "iris-clf", "1", "--alias", "champion").stdout
    review_id = opened.split()[2].rstrip(":")
    before = _state(invoke)
    refused = [
        (("reviews", "show", "999999"), "Error: no review 999999", "review_not_found"),
        (("reviews", "approve", "999999"), "Error: no review 999999", "review_not_found"),
        (("reviews", "merge", "0"), "Error: review id 0 must be at least 1", "invalid_value"),
        (
            ("reviews", "open", "iris-clf", "9", "--alias", "champion"),
            "Error: registered model 'iris-clf' has no version 9",
            "model_version_not_found",
        ),
        (("reviews", "open", "nope", "1", "--alias", "champion"), "Error: no registered model", "model_not_found"),
        (("reviews", "open", "iris-clf", "1", "--alias", "Best Model"), "Error: alias 'Best Model'", "invalid_value"),
        (("reviews", "open", "iris-clf", "1", "--alias", "champion"), f"Error: review {review_id}", "already_exists"),
        (("reviews", "comment", review_id, "-m", " "), "Error: a comment must not be empty", "invalid_value"),
        (
            ("reviews", "comment", review_id, "-m", "hi", "--reply-to", "424242"),
            "Error: no review comment",
            "comment_not_found",
        ),
        (("reviews", "list", "--model", "nope"), "Error: no registered model named 'nope'", "model_not_found"),
        (("models", "protect", "nope", "champion"), "Error: no registered model named 'nope'", "model_not_found"),
        (("models", "protect", "iris-clf", "v2"), "Error: alias 'v2' reads as a version", "invalid_value"),
        (("models", "protect", "iris-clf", "champion", "--approvals", "-1"), "Error: approvals -1", "invalid_value"),
        (("models", "protect", "iris-clf", "shadow", "--remove"), "Error: alias 'shadow'", "protection_not_found"),
    ]
    for args, message, code in refused:
        result = invoke(*args, code=1)
        assert result.stderr.startswith(message), (args, result.stderr)
        assert result.stderr.endswith(f" [{code}]\n"), (args, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stdout == "", args
    query = invoke("models", "protect", "iris-clf", "champion", "--check", "metrics.acc >>= 0.9", code=1).stderr
    assert query.startswith("Error: ") and query.splitlines()[1:] == ["  metrics.acc >>= 0.9", "  " + " " * 13 + "^"]

    assert "Missing option '-m'" in invoke("reviews", "request-changes", review_id, code=2).stderr
    assert "Missing option '--alias'" in invoke("reviews", "open", "iris-clf", "1", code=2).stderr
    assert (
        "--remove lifts the protection"
        in invoke("models", "protect", "iris-clf", "champion", "--remove", "--check", "x = 1", code=2).stderr
    )
    assert "'pending' is not one of" in invoke("reviews", "list", "--state", "pending", code=2).stderr
    assert _state(invoke) == before


def test_protect_names_who_approves_and_merges(invoke: Invoke, models: list[Any]) -> None:
    said = invoke("models", "protect", "iris-clf", "prod", "--approve-role", "maintainer", "--merge-role", "admin")
    assert "(approved by: maintainer or above; merged by: admin or above)" in said.stdout
    shown = json.loads(invoke("models", "show", "iris-clf", "--json").stdout)
    prod = next(p for p in shown["protections"] if p["alias"] == "prod")
    assert (prod["approve_role"], prod["merge_role"]) == ("maintainer", "admin")
