"""The delivery worker: sends the webhook deliveries queued in the store, with retries
(docs/webhooks.md).

Each server process runs one, in background threads started and stopped with the app. It
polls the store for due deliveries and claims them under a lease, so any number of processes
and replicas share one queue and none sends a delivery another holds; a process that dies
mid-attempt leaves a lease that runs out, and another process tries again (so a receiver may,
rarely, see a delivery twice: the ``webhook-id`` header tells it so).

An attempt is one POST: signed body, a timeout, no redirects followed, at most
``max_response_bytes`` of the answer read. Its outcome is recorded with the attempt (time,
status or error, duration, the start of the answer) and decides what follows: delivered,
tried again after the schedule's wait (or the endpoint's ``Retry-After``), or failed for good.
Nothing here runs on the path of a request: a slow or dead endpoint holds up only its own
delivery thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from cairn.core.clock import now_ms
from cairn.core.errors import InvalidValue, WebhookUrlRefused
from cairn.core.webhook_delivery import (
    RetrySchedule,
    Verdict,
    delivery_body,
    delivery_headers,
    retry_after_seconds,
    verdict,
)
from cairn.core.webhooks import Attempt, ClaimedDelivery, DeliveryStatus, check_webhook_url
from cairn.service import outbound

if TYPE_CHECKING:
    from cairn.store.base import WebhookStore

logger = logging.getLogger("cairn.webhooks")


@dataclass(frozen=True)
class DeliveryOptions:
    #: Deliver to loopback and private addresses too (``--allow-private-webhooks``).
    allow_private: bool = False
    #: Seconds each step of an attempt (connect, send, each read) may take; the whole answer is
    #: also read within it.
    timeout_s: float = 10.0
    schedule: RetrySchedule = field(default_factory=RetrySchedule)
    #: Seconds between two looks for due deliveries when there was nothing to do.
    poll_interval_s: float = 1.0
    #: Attempts in flight at once in this process.
    concurrency: int = 4
    #: Bytes of an answer read at most (the rest is not waited for).
    max_response_bytes: int = 64 * 1024

    @property
    def lease_ms(self) -> int:
        # Long past any attempt (a few timeouts), so a live worker never loses its lease.
        return int(max(60.0, 3 * self.timeout_s + 10) * 1000)


@dataclass(frozen=True)
class _Answer:
    status_code: int | None
    error: str | None
    response: str = ""
    retry_after: float | None = None
    #: A refusal that no retry will change (a forbidden address).
    final: bool = False


class DeliveryWorker:
    """Claims due deliveries from ``store`` and sends them, in background threads between
    :meth:`start` and :meth:`stop`, or once in the caller's thread with :meth:`run_once`."""

    def __init__(
        self, store: WebhookStore, options: DeliveryOptions, *, resolver: outbound.Resolver = outbound.resolve
    ) -> None:
        self._store = store
        self._options = options
        self._resolver = resolver
        self._client: httpx.Client | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._loop_thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._options.concurrency, thread_name_prefix="cairn-webhook")
        self._loop_thread = threading.Thread(target=self._loop, name="cairn-webhook-poll", daemon=True)
        self._loop_thread.start()

    def stop(self) -> None:
        """Stop claiming; wait for the attempts in flight (each ends within its timeout)."""
        self._stopping.set()
        self._wake.set()
        if self._loop_thread is not None:
            self._loop_thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.close()

    def close(self) -> None:
        """Release the connections kept to endpoints (after :meth:`run_once`)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self._options.timeout_s),
                    follow_redirects=False,
                    # Deliveries go straight to the checked address: an HTTP_PROXY from the
                    # environment would resolve the name again, past the guard.
                    trust_env=False,
                )
            return self._client

    def run_once(self, limit: int = 100) -> int:
        """Claim what is due now and attempt each, here and one after the other; how many."""
        claims = self._store.claim_deliveries(now=now_ms(), lease_ms=self._options.lease_ms, limit=limit)
        for claim in claims:
            self.attempt(claim)
        return len(claims)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            claimed = 0
            try:
                claimed = self._claim_into_pool()
            except Exception:  # the store away, say: keep polling, the rows are still there
                logger.exception("claiming webhook deliveries failed")
            if not claimed:
                self._wake.wait(self._options.poll_interval_s)
                self._wake.clear()

    def _claim_into_pool(self) -> int:
        with self._lock:
            free = self._options.concurrency - self._in_flight
        if free <= 0 or self._pool is None:
            return 0
        claims = self._store.claim_deliveries(now=now_ms(), lease_ms=self._options.lease_ms, limit=free)
        for claim in claims:
            with self._lock:
                self._in_flight += 1
            self._pool.submit(self._attempt_in_pool, claim)
        return len(claims)

    def _attempt_in_pool(self, claim: ClaimedDelivery) -> None:
        try:
            self.attempt(claim)
        except Exception:  # recorded nothing: the lease runs out and the delivery is tried again
            logger.exception("webhook delivery %s failed unexpectedly", claim.id)
        finally:
            with self._lock:
                self._in_flight -= 1
            self._wake.set()  # a slot is free: look for more at once

    # -- one attempt --------------------------------------------------------------------------

    def attempt(self, claim: ClaimedDelivery) -> None:
        """Send one attempt of a claimed delivery and record it with what follows."""
        started_at, clock = now_ms(), time.monotonic()
        answer = self._send(claim)
        duration_ms = int((time.monotonic() - clock) * 1000)
        attempt = Attempt(claim.number, started_at, duration_ms, answer.status_code, answer.error, answer.response)
        outcome = Verdict.FAILED if answer.final else verdict(answer.status_code)
        status, next_at = DeliveryStatus.FAILED, None
        if outcome is Verdict.DELIVERED:
            status = DeliveryStatus.SUCCEEDED
        elif outcome is Verdict.RETRY:
            wait = self._options.schedule.wait_after(claim.round_number, answer.retry_after, random.uniform(-1, 1))
            if wait is not None:
                status, next_at = DeliveryStatus.PENDING, now_ms() + int(wait * 1000)
        if not self._store.finish_attempt(claim, attempt, status=status, next_attempt_at=next_at):
            logger.info("webhook delivery %s was deleted or taken over during its attempt", claim.id)

    def _send(self, claim: ClaimedDelivery) -> _Answer:
        try:
            url = check_webhook_url(claim.url)
        except InvalidValue as exc:  # a row written by hand, or by an older rule
            return _Answer(None, exc.message, final=True)
        body = delivery_body(claim.event)
        headers = delivery_headers(claim.secret, claim.id, int(time.time()), body)
        try:
            addresses = outbound.addresses_to_call(
                url, allow_private=self._options.allow_private, resolver=self._resolver
            )
        except WebhookUrlRefused as exc:
            return _Answer(None, exc.message, final=True)
        except outbound.Unresolvable as exc:
            return _Answer(None, str(exc))
        # Connect to an address just checked, not to what another lookup would answer; the
        # Host header and TLS (SNI, the certificate's name) still name the URL's host.
        target = httpx.URL(url.url)
        headers["host"] = target.netloc.decode("ascii")
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        deadline = time.monotonic() + self._options.timeout_s
        answer = _Answer(None, f"cannot connect to {url.host}")
        for address in addresses:
            try:
                with self._http().stream(
                    "POST", target.copy_with(host=address), content=body, headers=headers, extensions=extensions
                ) as reply:
                    response = self._read_capped(reply, deadline)
                    retry_after = retry_after_seconds(reply.headers.get("retry-after"), dt.datetime.now(dt.UTC))
                    return _Answer(reply.status_code, None, response, retry_after)
            except httpx.ConnectError as exc:  # the next address may answer (IPv6 then IPv4)
                answer = _Answer(None, f"ConnectError: {exc}"[:500])
            except httpx.TimeoutException:
                return _Answer(None, f"no answer within {self._options.timeout_s:g} s")
            except httpx.HTTPError as exc:
                return _Answer(None, f"{type(exc).__name__}: {exc}"[:500])
        return answer

    def _read_capped(self, reply: httpx.Response, deadline: float) -> str:
        """The start of the answer's body, read until the cap or the attempt's deadline."""
        received = bytearray()
        for chunk in reply.iter_raw():
            received += chunk
            if len(received) >= self._options.max_response_bytes or time.monotonic() > deadline:
                break
        return bytes(received[: self._options.max_response_bytes]).decode("utf-8", "replace")
