"""A per-account call budget for fleet runs: EKS throttles per account and region, not per cluster, so the
clusters of one account share one budget.

- At most `limit` EKS requests of that account and region are in flight at once, whichever cluster (thread)
  sends them. A slot is held for one HTTP attempt only (botocore's `before-send` to `response-received`),
  never across a retry's sleep, so a thread never holds two and the budget cannot deadlock.
- Every operation is paced once for the account and region (`pacer`, aws/pacing.py), not per cluster: EKS
  limits each operation of the account, and N clusters paced apart would each learn a share, probe upwards
  on their own and each send at least the pacer's floor. botocore's retries (standard mode) retry a
  throttled call.

An earlier budget paused every request of the account after any throttled answer (0.5 s, doubling to 20 s).
Measured with 4 clusters of 60 principals under 10 requests/s per operation: 375 s with that pause and the
shared pace, 57 s with the shared pace alone (440 s with neither). A throttle of one operation says nothing
of the others' budgets, and the pause stalled them all.
"""

from __future__ import annotations

import threading
from typing import Any

from migrator.aws.pacing import OperationPacer, was_throttled

_held = threading.local()  # the budget whose slot this thread holds for its current attempt, if any


class AccountBudget:
    def __init__(self, limit: int, *, pacer: OperationPacer | None = None) -> None:
        if limit < 1:
            raise ValueError("a call budget needs at least one slot")
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.pacer = pacer or OperationPacer()  # every client of the account's clusters is paced by it
        self.throttles = 0  # how many throttled answers this account's clusters got (for reports and tests)

    def acquire(self) -> None:
        """Take a slot (a thread that already holds this budget's slot keeps it: an attempt that raised before
        its answer was seen)."""
        if getattr(_held, "budget", None) is self:
            return
        self._slots.acquire()
        _held.budget = self

    def release(self) -> None:
        if getattr(_held, "budget", None) is self:
            _held.budget = None
            self._slots.release()

    def answered(self, throttled: bool) -> None:
        if throttled:
            with self._lock:
                self.throttles += 1

    def attach(self, client: Any) -> None:
        """Make every request of this boto3 client go through the account's pace and then the budget
        (botocore's public event hooks). The pacer's hooks are registered first: a request waits for its
        pace before it takes a slot, so no slot is held while waiting."""
        self.pacer.attach(client)
        events = client.meta.events
        events.register("before-send", self._before_send)
        events.register("response-received", self._response_received)

    def _before_send(self, **_: Any) -> None:
        self.acquire()
        # None: botocore sends the request itself

    def _response_received(self, response_dict: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.answered(was_throttled(response_dict, kwargs.get("parsed_response")))
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


def forget_budgets() -> None:
    """Forget every account's budget and learned pace: a benchmark's runs must each start as a fresh process
    would (later callers get new budgets; clients already made keep theirs)."""
    with _registry_lock:
        _registry.clear()
