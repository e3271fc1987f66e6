"""Client-side pacing per API operation: ride a rate limit instead of bouncing off it.

EKS throttles each operation on its own budget (per account and region) and publishes no rates
(shared/eks-facts.md, section 2), so the rate is learned, one operation at a time:

- an operation is unpaced until its first throttled answer;
- a throttle paces it at the rate its answers came back over the last `window` seconds (what the limit
  let through while we were sending faster than it), never faster than the pace it had;
- from there the rate rises by `probe` (compounded, per second without a throttle), so a limit that grew,
  or an estimate that was low, is found again; the next throttle measures it anew;
- never slower than `slowest` (5/s): a throttle of an operation we call rarely says nothing of its limit
  (EKS's other clients, an injected fault), and pacing a later burst at that trickle would cost minutes;
- after `forget` seconds without a throttle the operation is unpaced again.

A single cluster's client has a pacer of its own; in a fleet run the clusters of one account and region share
their budget's (aws/budget.py attaches it), since the limit is the account's.

Why not botocore's adaptive retry mode: its rate limiter is one per client, so a throttled
DescribeAccessEntry would slow CreateAccessEntry, whose budget is untouched, and it restarts from a
fraction of the rate after each throttle. botocore's standard mode still retries the throttled call itself
(with backoff); the pacer only decides when each attempt may be sent, retries included.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

THROTTLED_CODES = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})


class OperationPace:
    """The learned pace of one operation. Thread-safe: every worker of a client shares it."""

    def __init__(
        self,
        *,
        window: float = 2.0,
        probe: float = 0.1,
        slowest: float = 5.0,
        forget: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window, self._probe, self._slowest, self._forget, self._clock = window, probe, slowest, forget, clock
        self._lock = threading.Lock()
        self._answers: deque[float] = deque()  # when the unthrottled answers of the last window came
        self._first_answer: float | None = None
        self._rate: float | None = None  # requests per second as of `_set_at`; None: unpaced
        self._set_at = 0.0
        self._next_send = 0.0
        self.throttles = 0

    def rate(self) -> float | None:
        """The pace now (requests per second), or None while unpaced."""
        with self._lock:
            return self._current(self._clock())

    def reserve(self) -> float:
        """Take the next send slot; how many seconds the caller must wait for it (0 when unpaced)."""
        with self._lock:
            now = self._clock()
            rate = self._current(now)
            if rate is None:
                return 0.0
            slot = max(now, self._next_send)
            self._next_send = slot + 1.0 / rate
            return slot - now

    def answered(self, *, throttled: bool) -> None:
        with self._lock:
            now = self._clock()
            while self._answers and self._answers[0] < now - self._window:
                self._answers.popleft()
            if not throttled:
                self._answers.append(now)
                if self._first_answer is None:
                    self._first_answer = now
                return
            self.throttles += 1
            seen_for = min(self._window, now - self._first_answer) if self._first_answer is not None else 0.0
            let_through = len(self._answers) / max(seen_for, 0.25)
            current = self._current(now)
            # Never faster after a throttle than before it (the window may still hold a burst's answers).
            self._rate = max(self._slowest, let_through if current is None else min(current, let_through))
            self._set_at = now
            self._next_send = max(self._next_send, now + 1.0 / self._rate)

    def _current(self, now: float) -> float | None:
        if self._rate is None:
            return None
        quiet = max(0.0, now - self._set_at)
        if quiet > self._forget:
            self._rate = None
            return None
        return float(self._rate * (1.0 + self._probe) ** quiet)


class OperationPacer:
    """One pace per operation of one boto3 client, applied through botocore's public event hooks: each HTTP
    attempt waits for its operation's slot (`before-send`), and each answer teaches the pace
    (`response-received`). A connection error teaches nothing."""

    def __init__(
        self, *, sleep: Callable[[float], None] = time.sleep, make_pace: Callable[[], OperationPace] = OperationPace
    ) -> None:
        self._sleep, self._make_pace = sleep, make_pace
        self._lock = threading.Lock()
        self._paces: dict[str, OperationPace] = {}

    def pace(self, operation: str) -> OperationPace:
        with self._lock:
            pace = self._paces.get(operation)
            if pace is None:
                pace = self._paces[operation] = self._make_pace()
            return pace

    def throttles(self) -> dict[str, int]:
        with self._lock:
            return {operation: pace.throttles for operation, pace in self._paces.items() if pace.throttles}

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-send", self._before_send, unique_id=f"aws-auth-migrate-pace-{id(self)}")
        events.register("response-received", self._response_received, unique_id=f"aws-auth-migrate-paced-{id(self)}")

    def _before_send(self, event_name: str = "", **_: Any) -> None:
        wait = self.pace(_operation(event_name)).reserve()
        if wait > 0:
            self._sleep(wait)
        # None: botocore sends the request itself

    def _response_received(
        self, event_name: str = "", response_dict: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if response_dict is None:  # no answer (the connection failed): nothing to learn from
            return
        throttled = was_throttled(response_dict, kwargs.get("parsed_response"))
        self.pace(_operation(event_name)).answered(throttled=throttled)


def was_throttled(response_dict: dict[str, Any] | None, parsed_response: Any) -> bool:
    """Whether botocore's `response-received` event reports a throttled answer (HTTP 429 or a throttling
    error code)."""
    parsed = parsed_response or {}
    code = str(parsed.get("Error", {}).get("Code", "")) if isinstance(parsed, dict) else ""
    status = response_dict.get("status_code") if response_dict else None
    return status == 429 or code in THROTTLED_CODES


def _operation(event_name: str) -> str:
    """`before-send.eks.CreateAccessEntry` -> `CreateAccessEntry`."""
    return event_name.rsplit(".", 1)[-1]
