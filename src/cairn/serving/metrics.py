"""``/metrics`` of a serving process, in the Prometheus text format (prometheus_client).

With several worker processes each one counts in files below ``PROMETHEUS_MULTIPROC_DIR``
(set by ``cairn serve`` before the workers start) and any worker's ``/metrics`` adds them up,
so a scrape sees the whole server whichever worker answers it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ServingMetrics:
    def __init__(self) -> None:
        # Single-process metrics live in a registry of their own, not prometheus_client's
        # global one, so tests can build several apps in one process.
        self.registry = CollectorRegistry()
        registry = None if multiprocess() else self.registry
        self.requests = Counter(
            "cairn_serve_requests",
            "Requests answered, by endpoint and HTTP status.",
            ["endpoint", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "cairn_serve_request_duration_seconds",
            "Time from a request's body being read to its answer, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_rows = Histogram(
            "cairn_serve_batch_rows",
            "Rows predicted in one call of the model (requests gathered by micro-batching).",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.model = Gauge(
            "cairn_serve_model_info",
            "1 for the model version this process serves.",
            ["model", "version"],
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.swaps = Counter(
            "cairn_serve_model_swaps", "New versions swapped in after the alias moved.", registry=registry
        )
        self.swap_failures = Counter(
            "cairn_serve_model_swap_failures",
            "New versions that failed to load or check; the previous one kept serving.",
            registry=registry,
        )
        self.prediction_log = Counter(
            "cairn_serve_prediction_log_records",
            "Requests by what the prediction log did with them: logged, sampled_out, "
            "dropped_full (its queue was full), dropped_error (the store failed).",
            ["outcome"],
            registry=registry,
        )
        self._prediction_log_seen: dict[str, int] = {}

    def serving(self, model: str, version: str, previous: tuple[str, str] | None = None) -> None:
        if previous is not None:
            self.model.remove(*previous)
        self.model.labels(model, version).set(1)

    def count_prediction_log(self, counters: Mapping[str, int]) -> None:
        """Bring the prediction log's own counters (plain integers its thread keeps) into the
        metrics, as increments since the last call."""
        for outcome, value in counters.items():
            seen = self._prediction_log_seen.get(outcome, 0)
            if value > seen:
                self.prediction_log.labels(outcome).inc(value - seen)
                self._prediction_log_seen[outcome] = value

    def exposition(self) -> bytes:
        if multiprocess():
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
