"""``cairn models``: real scikit-learn models logged from runs, registered, aliased and staged
from the command line, embedded and through a server; bad input is one ``Error:`` line and
changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import cairn
from cairn.client.connect import connect

from .helpers import Invoke

pd = pytest.importorskip("pandas")
datasets = pytest.importorskip("sklearn.datasets")
from sklearn.linear_model import LogisticRegression  # noqa: E402


@pytest.fixture(params=["embedded", "http"])
def where(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs and commands both go to the embedded store under CAIRN_HOME, or to a server
    (CAIRN_URI, which the commands read as the SDK does)."""
    if request.param == "http":
        monkeypatch.setenv("CAIRN_URI", request.getfixturevalue("server").url)
    yield request.param


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any]:
    return datasets.load_iris(return_X_y=True, as_frame=True)


def _logged(iris: tuple[Any, Any], *, max_iter: int) -> str:
    """The runs:/ URI of an iris classifier logged by a run that used the iris dataset."""
    features, labels = iris
    model = LogisticRegression(max_iter=max_iter).fit(features, labels)
    with cairn.init("iris", flush_interval=0.05) as run:
        run.log_dataset(features, "iris", context="train")
        return run.log_model(model, "classifier", input_example=features[:3]).uri


@pytest.fixture
def sources(where: str, iris: tuple[Any, Any]) -> list[str]:
    return [_logged(iris, max_iter=n) for n in (200, 1000)]


def _state(invoke: Invoke, name: str) -> tuple[Any, Any, list[Any]]:
    """Everything a refused command could have changed: the listing, the model with its
    versions, and its alias history."""
    tracking = connect()
    try:
        history = tracking.model_alias_history(name)
    finally:
        tracking.close()
    return (
        json.loads(invoke("models", "list", "--json").stdout),
        json.loads(invoke("models", "show", name, "--json").stdout),
        history,
    )


def test_register_alias_stage_then_list_and_show(invoke: Invoke, sources: list[str]) -> None:
    assert invoke("models", "list").stdout.startswith("No models yet")
    assert json.loads(invoke("models", "list", "--json").stdout) == []

    first = invoke("models", "register", sources[0], "iris-clf").stdout
    assert first == f"Registered {sources[0]} as iris-clf version 1: models:/iris-clf/1\n"
    second = invoke("models", "register", sources[1], "iris-clf", "--description", "more iterations").stdout
    assert second.endswith("as iris-clf version 2: models:/iris-clf/2\n")

    assert invoke("models", "alias", "iris-clf", "champion", "1").stdout == "iris-clf@champion: (unset) → version 1\n"
    moved = invoke("models", "alias", "iris-clf", "champion", "2").stdout
    assert moved == "iris-clf@champion: version 1 → version 2\n"
    again = invoke("models", "alias", "iris-clf", "champion", "2").stdout
    assert again == "iris-clf@champion: version 2 → version 2 (unchanged)\n"
    invoke("models", "alias", "iris-clf", "challenger", "1")
    removed = invoke("models", "alias", "iris-clf", "challenger", "--delete").stdout
    assert removed == "iris-clf@challenger: version 1 → (removed)\n"

    assert invoke("models", "stage", "iris-clf", "1", "production").stdout == "iris-clf version 1: None → Production\n"
    staged = invoke("models", "stage", "iris-clf", "2", "Production", "--archive-existing").stdout
    assert staged == "iris-clf version 2: None → Production\n"

    table = invoke("models", "list").stdout.splitlines()
    assert table[0].split() == ["name", "versions", "latest", "aliases", "updated"]
    assert table[2].split() == ["iris-clf", "2", "2", "@champion", "→", "2", "just", "now"]
    [listed] = json.loads(invoke("models", "list", "--json").stdout)
    assert (listed["name"], listed["latest_version"], listed["aliases"]) == ("iris-clf", 2, {"champion": 2})

    shown = json.loads(invoke("models", "show", "iris-clf", "--json").stdout)
    assert shown["model"] == listed
    versions = shown["versions"]
    assert [v["version"] for v in versions] == [2, 1]  # newest first
    assert [v["stage"] for v in versions] == ["Production", "Archived"]
    assert [v["source"] for v in versions] == sources[::-1]
    assert versions[0]["aliases"] == ["champion"] and versions[0]["description"] == "more iterations"
    assert all(v["flavor"] == "sklearn" for v in versions)
    assert [(d["name"], d["context"]) for d in versions[0]["datasets"]] == [("iris", "train")]

    out = invoke("models", "show", "iris-clf").stdout
    aliases = out.split("Aliases (1)", 1)[1].splitlines()
    assert aliases[3].split()[:2] == ["champion", "2"]
    rows = [line.split() for line in out.split("Versions (2)", 1)[1].splitlines()[3:5]]
    run_ids = [source.split("/")[1] for source in sources]
    assert [row[:4] for row in rows] == [
        ["2", "Production", "champion", run_ids[1][:8]],
        ["1", "Archived", "-", run_ids[0][:8]],
    ]
    assert [row[4] for row in rows] == ["sklearn", "sklearn"]
    lineage = [line.split() for line in out.split("Lineage", 1)[1].splitlines()[3:5]]
    digest = versions[0]["datasets"][0]["digest"][:12]
    assert lineage == [["2", sources[1], "iris", "train", digest], ["1", sources[0], "iris", "train", digest]]

    newest = invoke("models", "show", "iris-clf", "--limit", "1")
    assert "Showing the newest 1 version; --limit N shows more." in newest.stderr
    assert sources[0] not in newest.stdout and sources[1] in newest.stdout
    assert len(json.loads(invoke("models", "show", "iris-clf", "-n", "1", "--json").stdout)["versions"]) == 1


def test_bad_input_is_one_error_line_and_changes_nothing(invoke: Invoke, sources: list[str]) -> None:
    invoke("models", "register", sources[0], "iris-clf")
    invoke("models", "alias", "iris-clf", "champion", "1")
    before = _state(invoke, "iris-clf")

    refused = [
        (("models", "show", "nope"), "Error: no registered model named 'nope'", "model_not_found"),
        (("models", "alias", "nope", "champion", "1"), "Error: no registered model named 'nope'", "model_not_found"),
        (
            ("models", "alias", "iris-clf", "champion", "7"),
            "Error: registered model 'iris-clf' has no version 7",
            "model_version_not_found",
        ),
        (
            ("models", "alias", "iris-clf", "Champion!", "1"),
            "Error: alias 'Champion!' must start with a lowercase",
            "invalid_value",
        ),
        (("models", "alias", "iris-clf", "v2", "1"), "Error: alias 'v2' reads as a version", "invalid_value"),
        (("models", "alias", "iris-clf", "shadow", "--delete"), "Error: ", "alias_not_found"),
        (
            ("models", "stage", "iris-clf", "1", "prod"),
            "Error: a stage is one of None, Staging, Production, Archived",
            "invalid_value",
        ),
        (
            ("models", "stage", "iris-clf", "3", "Staging"),
            "Error: registered model 'iris-clf' has no version 3",
            "model_version_not_found",
        ),
        (
            ("models", "register", "s3://bucket/model", "iris-clf"),
            "Error: bad model URI 's3://bucket/model'",
            "invalid_model_uri",
        ),
        (("models", "register", f"runs:/{'0' * 32}/classifier", "iris-clf"), "Error: no run with id", "run_not_found"),
        (("models", "register", sources[0].replace("classifier", "x"), "iris-clf"), "Error: ", "artifact_not_found"),
        (("models", "register", sources[0], "a/b"), "Error: model name 'a/b' contains '/'", "invalid_value"),
    ]
    for args, message, code in refused:
        result = invoke(*args, code=1)
        assert result.stderr.startswith(message), (args, result.stderr)
        assert result.stderr.endswith(f" [{code}]\n"), (args, result.stderr)  # the envelope's stable code
        assert result.stderr.count("\n") == 1 and result.stdout == "", args
    assert "shadow" in invoke("models", "alias", "iris-clf", "shadow", "--delete", code=1).stderr
    assert "is not a logged model" in invoke("models", "register", sources[0] + "x", "iris-clf", code=1).stderr

    assert _state(invoke, "iris-clf") == before
    assert [m["name"] for m in json.loads(invoke("models", "list", "--json").stdout)] == ["iris-clf"]


def test_alias_takes_a_version_or_delete(invoke: Invoke) -> None:
    both = invoke("models", "alias", "m", "champion", "1", "--delete", code=2)
    assert "give VERSION to set or move the alias, or --delete to remove it" in both.stderr
    neither = invoke("models", "alias", "m", "champion", code=2)
    assert "give VERSION" in neither.stderr
    assert "'one' is not a valid integer" in invoke("models", "alias", "m", "champion", "one", code=2).stderr


def test_a_model_without_versions_says_how_to_add_one(invoke: Invoke) -> None:
    tracking = connect()
    try:
        tracking.create_model("empty", description="nothing yet\nsecond line")
    finally:
        tracking.close()
    out = invoke("models", "show", "empty").stdout
    assert "No versions yet: cairn models register runs:/RUN_ID/PATH empty" in out
    assert "nothing yet" in out and "Lineage" not in out
    assert invoke("models", "list").stdout.splitlines()[2].split()[:4] == ["empty", "0", "-", "-"]


def test_list_and_versions_by_query(invoke: Invoke, sources: list[str]) -> None:
    for source, name in ((sources[0], "iris-clf"), (sources[1], "iris-clf"), (sources[1], "wide")):
        invoke("models", "register", source, name)
    invoke("models", "alias", "iris-clf", "champion", "2")

    champions = invoke("models", "list", "--where", "alias = 'champion'").stdout.splitlines()
    assert [line.split()[0] for line in champions[2:]] == ["iris-clf"]
    assert invoke("models", "list", "-w", "name = 'none'").stdout == "No models match \"name = 'none'\".\n"

    found = json.loads(invoke("models", "versions", "--where", "run.project = 'iris'", "--json").stdout)
    assert [(v["model"], v["version"]) for v in found] == [("iris-clf", 2), ("iris-clf", 1), ("wide", 1)]
    table = invoke("models", "versions", "-w", "alias = 'champion' or name = 'wide'").stdout.splitlines()
    assert table[0].split()[:3] == ["model", "version", "stage"]
    assert [line.split()[:3] for line in table[2:]] == [["iris-clf", "2", "None"], ["wide", "1", "None"]]
    one = json.loads(invoke("models", "versions", "iris-clf", "--where", "version < 2", "--json").stdout)
    assert [v["source"] for v in one] == [sources[0]]
    first = invoke("models", "versions", "--limit", "1")
    assert "Showing the first 1 version; --limit N shows more." in first.stderr
    staging = invoke("models", "versions", "-w", "stage = 'Staging'").stdout
    assert staging == "No versions match \"stage = 'Staging'\".\n"

    for args in (("models", "list", "-w", "run.params.lr = 1"), ("models", "versions", "-w", "version = 'x'")):
        refused = invoke(*args, code=1)
        assert refused.stderr.startswith("Error: ") and refused.stdout == "", args
