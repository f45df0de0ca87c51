"""Hostile request bodies get a 400 with a stable code, never a 500: an integer past 64 bits in
a metric batch (the hostile report's ``"seq": 9223372036854775808``), a config nested 10,000
levels deep."""

from __future__ import annotations

import struct

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.core.binary_batch import MEDIA_TYPE
from cairn.core.limits import MAX_CONFIG_DEPTH, MAX_INT64, MIN_INT64

beyond_int64 = st.one_of(
    st.integers(MAX_INT64 + 1, 2**64 - 1),  # what orjson still reads as an integer
    st.integers(MIN_INT64 - 2**62, MIN_INT64 - 1),
    st.integers(min_value=2**64, max_value=10**40),  # what it does not
)
STABLE_CODES = {"invalid_value", "invalid_request"}


def test_integers_beyond_64_bits_in_a_batch_are_400(server: object) -> None:
    url = server.url  # type: ignore[attr-defined]
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as http:
        run_id = http.post("/runs", json={"project": "p"}).json()["id"]

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(value=beyond_int64, where=st.sampled_from(["seq", "step", "timestamp", "binary seq", "count"]))
        def refused(value: int, where: str) -> None:
            seq, step, timestamp = (value if where == name else 0 for name in ("seq", "step", "timestamp"))
            if where in ("binary seq", "count"):
                header = (
                    f'{{"client_id": "c", "seq": {value if where == "binary seq" else 0}, '
                    f'"metrics": [{{"key": "m", "count": {value if where == "count" else 0}}}]}}'
                ).encode()
                body = b"CRNB\x01" + struct.pack("<I", len(header)) + header
                headers = {"content-type": MEDIA_TYPE}
            else:
                body = (
                    f'{{"client_id": "c", "seq": {seq}, "metrics": [{{"key": "m", "steps": [{step}], '
                    f'"timestamps": [{timestamp}], "values": [1.0]}}]}}'
                ).encode()
                headers = {"content-type": "application/json"}
            response = http.post(f"/runs/{run_id}/metrics", content=body, headers=headers)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] in STABLE_CODES

        refused()
        assert http.get(f"/runs/{run_id}/metrics/history", params={"key": "m"}).json()["total"] == 0


def _nested_json(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [MAX_CONFIG_DEPTH + 1, 500, 10_000])
def test_a_deeply_nested_config_is_400(server: object, depth: int) -> None:
    url = server.url  # type: ignore[attr-defined]
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as http:
        json_headers = {"content-type": "application/json"}
        created = http.post(
            "/runs", content=f'{{"project": "p", "config": {_nested_json(depth)}}}', headers=json_headers
        )
        assert created.status_code == 400, created.text
        # Past the JSON parser's own depth the body is malformed; within it, the config limit names itself.
        assert created.json()["error"]["code"] in STABLE_CODES
        run_id = http.post("/runs", json={"project": "p"}).json()["id"]
        logged = http.post(
            f"/runs/{run_id}/params", content=f'{{"params": {_nested_json(depth)}}}', headers=json_headers
        )
        assert logged.status_code == 400, logged.text
        assert logged.json()["error"]["code"] in STABLE_CODES
        if depth <= 500:
            assert created.json()["error"]["details"]["limit"] == MAX_CONFIG_DEPTH
            assert logged.json()["error"]["details"]["limit"] == MAX_CONFIG_DEPTH
        assert http.get(f"/runs/{run_id}").json()["params"] == {}
        assert http.get("/projects/p").json()["run_count"] == 1
