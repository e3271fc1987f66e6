"""A per-account call budget for fleet runs: EKS throttles per account and region, not per cluster, so the
clusters of one account share one budget.

- At most `limit` EKS requests of that account and region are in flight at once, whichever cluster (thread)
  sends them. A slot is held for one HTTP attempt only (botocore's `before-send` to `response-received`),
  never across a retry's sleep, so a thread never holds two and the budget cannot deadlock.
- A throttled answer (HTTP 429, `ThrottlingException`, `TooManyRequestsException`) pauses every request to
  that account and region: the backoff is shared, doubling per throttle up to a cap, back to the base after
  an answer that was not throttled. botocore's own retries (standard mode) still retry the throttled call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

THROTTLED_CODES = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})

_held = threading.local()  # the budget whose slot this thread holds for its current attempt, if any


class AccountBudget:
    def __init__(
        self,
        limit: int,
        *,
        base_pause: float = 0.5,
        max_pause: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("a call budget needs at least one slot")
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._base, self._cap = base_pause, max_pause
        self._pause = base_pause
        self._resume_at = 0.0
        self._clock, self._sleep = clock, sleep
        self.throttles = 0  # how many throttled answers this account's clusters got (for reports and tests)

    def acquire(self) -> None:
        """Wait out a shared pause, then take a slot (a thread that already holds this budget's slot keeps it:
        an attempt that raised before its answer was seen)."""
        if getattr(_held, "budget", None) is self:
            return
        while True:
            with self._lock:
                wait = self._resume_at - self._clock()
            if wait <= 0:
                break
            self._sleep(wait)
        self._slots.acquire()
        _held.budget = self

    def release(self) -> None:
        if getattr(_held, "budget", None) is self:
            _held.budget = None
            self._slots.release()

    def answered(self, throttled: bool) -> None:
        with self._lock:
            if throttled:
                self.throttles += 1
                self._resume_at = max(self._resume_at, self._clock() + self._pause)
                self._pause = min(self._cap, self._pause * 2)
            else:
                self._pause = self._base

    def attach(self, client: Any) -> None:
        """Make every request of this boto3 client go through the budget (botocore's public event hooks)."""
        events = client.meta.events
        events.register("before-send", self._before_send)
        events.register("response-received", self._response_received)

    def _before_send(self, **_: Any) -> None:
        self.acquire()
        # None: botocore sends the request itself

    def _response_received(self, response_dict: dict[str, Any] | None = None, **kwargs: Any) -> None:
        parsed = kwargs.get("parsed_response") or {}
        code = str(parsed.get("Error", {}).get("Code", "")) if isinstance(parsed, dict) else ""
        status = response_dict.get("status_code") if response_dict else None
        self.answered(status == 429 or code in THROTTLED_CODES)
        self.release()


def release_held() -> None:
    """Give back a slot an attempt left held (it raised between sending and its answer): called when every
    gateway call ends, so a slot can never outlive the call that took it."""
    budget = getattr(_held, "budget", None)
    if isinstance(budget, AccountBudget):
        budget.release()


_registry: dict[tuple[str, str], AccountBudget] = {}
_registry_lock = threading.Lock()


def shared_budget(account_key: str, region: str, limit: int) -> AccountBudget:
    """The process's budget for one account and region (the first caller's limit stands)."""
    with _registry_lock:
        budget = _registry.get((account_key, region))
        if budget is None:
            budget = _registry[(account_key, region)] = AccountBudget(limit)
        return budget
