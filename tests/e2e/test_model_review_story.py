"""The model half of Cairn as a team uses it, end to end, against ``cairn server`` as operators
run it (issue 12's "Done means"): a model logged from a run and registered, ``@champion``
protected, a review opened whose checks run, approved by a colleague, merged so ``@champion``
moves, ``cairn.load_model("models:/NAME@champion")`` answering with the new version — and a
webhook receiver that got every event of it, signed, in the event log and on the dashboard."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from tests.helpers import Receiver, eventually

import cairn
from cairn.client.http import HttpTracking
from cairn.core.errors import ReviewNotMergeable, SelfApproval
from cairn.core.webhooks import DeliveryStatus

if TYPE_CHECKING:
    from tests.e2e.conftest import ServerProcess

datasets = pytest.importorskip("sklearn.datasets")
from sklearn.linear_model import LogisticRegression  # noqa: E402

NAME = "iris-clf"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def _train(features: Any, labels: Any, *, c: float) -> tuple[str, Any]:
    """A run that trains, logs its validation accuracy and its model; the model's runs:/ URI."""
    model = LogisticRegression(C=c, max_iter=500).fit(features, labels)
    with cairn.init("iris", config={"C": c}, flush_interval=0.05) as run:
        run.log_dataset(features, "iris", context="train")
        run.log({"val/accuracy": float(model.score(features, labels))})
        uri = run.log_model(model, "model", input_example=features[:3]).uri
    return uri, model


def test_log_register_protect_review_approve_merge_load(
    start_server: Callable[..., ServerProcess],
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = start_server(args=("--allow-private-webhooks",))
    monkeypatch.setenv("CAIRN_URI", server.url)
    monkeypatch.setenv("CAIRN_USER", "ada")
    admin = HttpTracking(server.url)
    hook = admin.create_webhook(f"{receiver.url}/cairn", ["*"])
    assert hook.secret is not None

    features, labels = datasets.load_iris(return_X_y=True, as_frame=True)
    first_uri, _ = _train(features, labels, c=0.01)
    second_uri, better = _train(features, labels, c=10.0)

    # Ada registers both, points @champion at the first, then protects it.
    assert cairn.register_model(first_uri, NAME).version == 1
    assert cairn.register_model(second_uri, NAME).version == 2
    admin_as_ada = HttpTracking(server.url)
    admin_as_ada.set_model_alias(NAME, "champion", 1)
    cairn.protect_alias(NAME, "champion", approvals=1, checks=["metrics.val/accuracy >= 0.9", "signature-unchanged"])

    # The review: its checks ran when it opened, each with the value it saw.
    review = cairn.open_review(NAME, 2, "champion", description="less regularisation")
    assert review.author == "ada" and review.base_version == 1
    assert [c.passed for c in review.checks] == [True, True]
    assert review.checks[0].observed["metrics.val/accuracy"] >= 0.9
    with pytest.raises(SelfApproval):
        cairn.approve_review(review.id, "looks good to me")
    with pytest.raises(ReviewNotMergeable):
        cairn.merge_review(review.id)
    assert admin.get_model_version_by_alias(NAME, "champion").version == 1

    # Grace, a colleague, approves; Ada merges and @champion moves.
    monkeypatch.setenv("CAIRN_USER", "grace")
    assert cairn.approve_review(review.id, "LGTM @ada").approvals == ("grace",)
    monkeypatch.setenv("CAIRN_USER", "ada")
    merged = cairn.merge_review(review.id)
    assert (merged.state.value, merged.merged_by, merged.merged_from_version) == ("merged", "ada", 1)

    champion = cairn.load_model(f"models:/{NAME}@champion")
    assert np.array_equal(champion.predict(features), better.predict(features))
    assert admin.get_model_version_by_alias(NAME, "champion").version == 2
    [move] = [m for m in admin.model_alias_history(NAME, "champion") if m.to_version == 2]
    assert (move.from_version, move.moved_by) == (1, "ada")

    # Every event of the registry story is in the log, and the receiver got each, signed.
    logged = [e for e in admin.list_events(subject=f"models/{NAME}/*", limit=1000).items]
    logged_ids = {e.id for e in logged}
    types = {e.type.value for e in logged}
    assert {
        "registered_model.created",
        "model_version.created",
        "model_version_alias.created",
        "alias_protection.set",
        "review.opened",
        "review.approved",
        "review.merged",
    } <= types

    def all_delivered() -> bool:
        found = admin.list_webhook_deliveries(hook.id, limit=1000).items
        return bool(found) and all(d.status is DeliveryStatus.SUCCEEDED for d in found)

    eventually(all_delivered, what="every delivery succeeding")
    verifier = StandardWebhook(hook.secret)
    delivered = [verifier.verify(r.body, r.headers) for r in receiver.received]
    assert logged_ids <= {d["event_id"] for d in delivered}
    assert all(json.loads(r.body)["type"] for r in receiver.received)

    # The dashboard shows it: the model with @champion on version 2, the merged review, the log.
    model_page = httpx.get(f"{server.url}/models/{NAME}").text
    assert "@champion" in model_page
    events_page = httpx.get(f"{server.url}/events", params={"subject": f"models/{NAME}/*"}).text
    assert "review.merged" in events_page and "model_version_alias.created" in events_page
    admin.close()
    admin_as_ada.close()
