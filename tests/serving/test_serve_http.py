"""``cairn serve`` over real HTTP: MLflow's and the V2 protocol's shapes, the descriptive
endpoints, metrics, and every kind of bad request answered with a clear 4xx."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest
from tests.serving.conftest import FEATURES, Registered, ServeProcess, start_serve


def _split(rows: Any) -> dict[str, Any]:
    return {"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}}


def _post(served: ServeProcess, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{served.url}{path}", timeout=30, **kwargs)


def test_mlflow_shapes_answer_the_champions_predictions(champion: ServeProcess, registered: Registered) -> None:
    rows = registered.features[:4]
    expected = registered.first.predict(rows).tolist()
    bodies = [
        _split(rows),
        {"dataframe_records": rows.to_dict(orient="records")},
        {"instances": rows.to_dict(orient="records")},
        {"inputs": {name: rows[name].tolist() for name in rows.columns}},
    ]
    for body in bodies:
        answer = _post(champion, "/invocations", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": expected}, body
        assert answer.headers["x-cairn-model-version"] == "1"
    csv = rows.to_csv(index=False)
    answer = _post(champion, "/invocations", content=csv, headers={"content-type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": expected}


def test_v2_infer_by_columns_and_by_rows(champion: ServeProcess, registered: Registered) -> None:
    rows = registered.features[:3]
    expected = registered.first.predict(rows).tolist()
    by_columns = {
        "id": "req-1",
        "inputs": [{"name": n, "shape": [3], "datatype": "FP64", "data": rows[n].tolist()} for n in FEATURES],
    }
    answer = _post(champion, f"/v2/models/{registered.name}/infer", json=by_columns)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_name"] == registered.name and body["model_version"] == "1" and body["id"] == "req-1"
    (output,) = body["outputs"]
    assert output["data"] == expected and output["shape"] == [3]
    by_rows = {"inputs": [{"name": "x", "shape": [3, 5], "datatype": "FP64", "data": rows.to_numpy().ravel().tolist()}]}
    answer = _post(champion, f"/v2/models/{registered.name}/versions/1/infer", json=by_rows)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == expected


def test_descriptive_endpoints(champion: ServeProcess, registered: Registered) -> None:
    get = lambda path: httpx.get(f"{champion.url}{path}", timeout=10)  # noqa: E731
    health = get("/health").json()
    assert health == {"status": "ok", "model": registered.name, "version": "1", "alias": "champion"}
    metadata = get("/metadata").json()
    assert metadata["model"] == registered.name and metadata["version"] == 1 and metadata["alias"] == "champion"
    assert metadata["flavor"] == "sklearn"
    assert [c["name"] for c in metadata["signature"]["inputs"]] == FEATURES
    assert any(r.startswith("scikit-learn==") for r in metadata["requirements"])
    assert get("/ping").status_code == 200
    assert get("/v2/health/live").status_code == 200 and get("/v2/health/ready").status_code == 200
    model = get(f"/v2/models/{registered.name}").json()
    assert model["name"] == registered.name and model["versions"] == ["1"] and model["platform"] == "cairn-sklearn"
    assert [i["name"] for i in model["inputs"]] == FEATURES and model["inputs"][0]["datatype"] == "FP64"
    assert get(f"/v2/models/{registered.name}/ready").json()["ready"] is True


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {"dataframe_split": {"columns": FEATURES, "data": [[0.0] * 5]}, "instances": [[0.0] * 5]},
            "invalid_request",
            None,
        ),
        ({"params": {}}, "invalid_request", None),
        ({"dataframe_records": [{"f0": 1.0, "f1": 2.0}]}, "signature_mismatch", "column"),
        ({"dataframe_records": [{name: "text" for name in FEATURES}]}, "signature_mismatch", "column"),
    ],
)
def test_bad_mlflow_payloads_are_400s_with_codes(
    champion: ServeProcess, body: dict[str, Any], code: str, field: str | None
) -> None:
    answer = _post(champion, "/invocations", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert error["details"][field] in FEATURES


def test_bytes_no_client_should_send(champion: ServeProcess, registered: Registered) -> None:
    as_json = {"content-type": "application/json"}
    not_utf8 = _post(champion, "/invocations", content=b'{"instances": ["\xff\xfe"]}', headers=as_json)
    assert not_utf8.status_code == 400 and not_utf8.json()["error"]["code"] == "invalid_request"
    not_json = _post(champion, "/invocations", content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    xml = _post(champion, "/invocations", content=b"<x/>", headers={"content-type": "application/xml"})
    assert xml.status_code == 415 and xml.json()["error"]["code"] == "unsupported_media_type"
    nested = b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert _post(champion, "/invocations", content=nested, headers=as_json).status_code == 400
    nul = {"dataframe_records": [{**{name: 0.0 for name in FEATURES}, "f\u0000": "\u0000"}]}
    assert _post(champion, "/invocations", json=nul).status_code == 200  # an extra column, dropped
    missing = "f0,f1\n1,2\n"
    answer = _post(champion, "/invocations", content=missing, headers={"content-type": "text/csv"})
    assert answer.status_code == 400 and answer.json()["error"]["details"]["column"] == "f2"
    wrong_shape = {"inputs": [{"name": "x", "shape": [2, 5], "datatype": "FP64", "data": [0.0] * 5}]}
    answer = _post(champion, f"/v2/models/{registered.name}/infer", json=wrong_shape)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"
    other_model = _post(champion, "/v2/models/other/infer", json=wrong_shape)
    assert other_model.status_code == 404
    assert httpx.get(f"{champion.url}/nothing-here").status_code == 404
    # The answer names the version even for a bad request, and nothing made a 500.
    assert not_json.headers["x-cairn-model-version"] == "1"


def test_an_over_limit_body_is_refused_before_it_is_read(champion: ServeProcess) -> None:
    host, port = champion.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 999999999999\r\n\r\n{"
        )
        head = b""
        while b"payload_too_large" not in head:
            chunk = connection.recv(65536)
            if not chunk:
                break
            head += chunk
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"payload_too_large" in head


def test_a_foreign_host_header_is_refused(champion: ServeProcess) -> None:
    answer = httpx.get(f"{champion.url}/metadata", headers={"host": "evil.example"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_host"
    # Load balancers probe health with whatever host they like.
    assert httpx.get(f"{champion.url}/health", headers={"host": "lb.internal"}, timeout=10).status_code == 200


def test_concurrent_requests_each_get_their_own_rows(champion: ServeProcess, registered: Registered) -> None:
    features = registered.features
    expected = registered.first.predict(features).tolist()

    def ask(index: int) -> tuple[int, list[Any], str]:
        rows = features[index : index + 1 + index % 3]
        with httpx.Client(timeout=30) as client:
            answer = client.post(f"{champion.url}/invocations", json=_split(rows))
        return index, answer.json()["predictions"], answer.headers["x-cairn-model-version"]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(ask, range(120)))
    for index, predictions, version in results:
        assert predictions == expected[index : index + 1 + index % 3]
        assert version == "1"
    metrics = httpx.get(f"{champion.url}/metrics", timeout=10).text
    assert 'cairn_serve_requests_total{endpoint="invocations",status="200"}' in metrics
    assert 'cairn_serve_model_info{model="scorer",version="1"} 1.0' in metrics
    batch_rows = _metric(metrics, "cairn_serve_batch_rows_sum")
    assert batch_rows >= sum(1 + i % 3 for i in range(120))


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_several_workers_share_one_port_and_one_metrics_view(registered: Registered) -> None:
    served = start_serve(f"models:/{registered.name}/2", "--workers", "2", env=registered.env)
    try:
        rows = registered.features[:2]
        with httpx.Client(timeout=30) as client:
            for _ in range(20):
                answer = client.post(f"{served.url}/invocations", json=_split(rows), headers={"connection": "close"})
                assert answer.json() == {"predictions": registered.second.predict(rows).tolist()}
                assert answer.headers["x-cairn-model-version"] == "2"
        metrics = httpx.get(f"{served.url}/metrics", timeout=10).text
        # Counted across both workers, whichever answered the scrape.
        assert 'cairn_serve_requests_total{endpoint="invocations",status="200"} 20.0' in metrics
    finally:
        served.stop()


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("models:/nobody@champion", "model_not_found"),
        ("models:/scorer@nobody", "alias_not_found"),
        ("models:/scorer/9", "model_version_not_found"),
        ("not-a-uri", "invalid_model_uri"),
    ],
)
def test_a_model_that_cannot_be_served_stops_the_start(registered: Registered, uri: str, code: str) -> None:
    served = start_serve(uri, env=registered.env, expect_failure=True)
    assert served.process.returncode == 1
    assert f"[{code}]" in served.output() and "Traceback" not in served.output()


def test_a_tampered_cache_is_never_served(registered: Registered, tmp_path: Any) -> None:
    cache = tmp_path / "cache"
    first = start_serve(f"models:/{registered.name}/1", "--cache-dir", str(cache), env=registered.env)
    first.stop()
    (folder,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    model_file = folder / "model.skops"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    again = start_serve(
        f"models:/{registered.name}/1", "--cache-dir", str(cache), env=registered.env, expect_failure=True
    )
    assert "[model_tampered]" in again.output()


def test_a_model_folder_on_disk_is_served(registered: Registered, tmp_path: Any) -> None:
    cache = tmp_path / "cache"
    start_serve(f"models:/{registered.name}/2", "--cache-dir", str(cache), env=registered.env).stop()
    (folder,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    served = start_serve(str(folder), env={"CAIRN_URI": str(tmp_path / "elsewhere.db")})
    try:
        rows = registered.features[:2]
        answer = _post(served, "/invocations", json=_split(rows))
        assert answer.json()["predictions"] == registered.second.predict(rows).tolist()
        assert answer.headers["x-cairn-model-version"] == str(folder)
        assert np.asarray(answer.json()["predictions"]).shape == (2,)
    finally:
        served.stop()
