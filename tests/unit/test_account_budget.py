"""The per-account call budget: at most `limit` requests in flight for all clusters of an account, a slot
per attempt (never two per thread), and a throttled answer pauses everyone, doubling up to a cap."""

from __future__ import annotations

import threading

import pytest

from migrator.aws.budget import AccountBudget, release_held
from tests.support.clock import FakeTime

WAIT = 60.0  # generous: these waits end on events, the deadline only stops a broken test


def _full(budget: AccountBudget) -> bool:
    """True when no slot is free (checked without waiting)."""
    if budget._slots.acquire(blocking=False):
        budget._slots.release()
        return False
    return True


def test_the_budget_bounds_requests_in_flight_across_threads() -> None:
    budget = AccountBudget(2)
    holding = [threading.Event() for _ in range(3)]
    done = [threading.Event() for _ in range(3)]

    def worker(index: int) -> None:
        budget.acquire()
        holding[index].set()
        assert done[index].wait(WAIT)
        budget.release()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    threads[0].start()
    threads[1].start()
    assert holding[0].wait(WAIT) and holding[1].wait(WAIT)
    assert _full(budget)
    threads[2].start()  # waits for a slot
    done[0].set()
    assert holding[2].wait(WAIT)  # it got the slot the first one gave back
    done[1].set()
    done[2].set()
    for thread in threads:
        thread.join(WAIT)
    assert not _full(budget)


def test_a_thread_holds_one_slot_at_most_and_release_held_gives_a_leaked_one_back() -> None:
    budget = AccountBudget(1)
    budget.acquire()
    budget.acquire()  # an attempt that raised before its answer: the slot is reused, not taken twice
    assert _full(budget)
    release_held()  # what every gateway call does when it ends
    assert not _full(budget)
    release_held()  # nothing held: nothing happens
    budget.release()
    assert not _full(budget)


def test_a_throttled_answer_pauses_every_request_doubling_to_a_cap_and_resets_after_success() -> None:
    time = FakeTime()
    budget = AccountBudget(4, base_pause=0.5, max_pause=1.5, clock=time.clock, sleep=time.sleep)
    budget.answered(throttled=True)
    budget.acquire()
    budget.release()
    assert time.slept == [0.5]
    budget.answered(throttled=True)  # the pause doubles
    budget.answered(throttled=True)  # while paused, a second throttle extends to the larger of the two
    budget.acquire()
    budget.release()
    assert time.slept == [0.5, 1.5]  # 1.0 then capped at 1.5: the later resume time wins
    budget.answered(throttled=False)
    budget.answered(throttled=True)
    budget.acquire()
    budget.release()
    assert time.slept == [0.5, 1.5, 0.5]  # back to the base after an answer that was not throttled
    assert budget.throttles == 4


def test_a_budget_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        AccountBudget(0)
