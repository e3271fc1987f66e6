"""The per-account call budget: at most `limit` requests in flight for all clusters of an account, a slot
per attempt (never two per thread), and one pace per operation for all of them."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest

from migrator.aws.budget import AccountBudget, release_held
from migrator.aws.pacing import OperationPace, OperationPacer
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


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1")


def _eks_client() -> Any:
    """A real boto3 EKS client that never sends: the test emits botocore's own request events on it."""
    return _session().client("eks")


def _throttled(eks: Any, operation: str) -> None:
    eks.meta.events.emit(f"before-send.eks.{operation}", request=None)
    eks.meta.events.emit(
        f"response-received.eks.{operation}",
        response_dict={"status_code": 400},
        parsed_response={"Error": {"Code": "ThrottlingException"}},
    )


def test_the_clusters_of_one_account_share_each_operations_pace_and_a_throttle_stalls_no_other() -> None:
    time_ = FakeTime()
    held_while_waiting: list[bool] = []

    def sleep(seconds: float) -> None:
        held_while_waiting.append(_full(budget))
        time_.sleep(seconds)

    pacer = OperationPacer(sleep=sleep, make_pace=lambda: OperationPace(probe=0.0, clock=time_.clock))
    budget = AccountBudget(1, pacer=pacer)
    alpha, echo = _eks_client(), _eks_client()
    for eks in (alpha, echo):  # as aws.session.client(session, "eks", budget) does
        budget.attach(eks)
    _throttled(alpha, "CreateAccessEntry")  # alpha's create is throttled before any answer: the floor, 5/s
    assert (budget.throttles, pacer.throttles(), time_.slept) == (1, {"CreateAccessEntry": 1}, [])
    echo.meta.events.emit("before-send.eks.DescribeAccessEntry", request=None)
    release_held()
    assert time_.slept == []  # another operation of the account is not held back
    echo.meta.events.emit("before-send.eks.CreateAccessEntry", request=None)
    assert time_.slept == [pytest.approx(0.2)]  # echo's create waits for the account's pace of creates
    assert held_while_waiting == [False]  # and holds no slot while it waits
    assert _full(budget)  # it took the slot after the wait
    release_held()
    assert not _full(budget)


def test_a_budget_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        AccountBudget(0)


def test_the_eks_gateways_of_one_accounts_clusters_feed_its_one_pacer() -> None:
    """The wiring (aws/eks.py): EKS gateways made with one budget (wiring/connect.py passes the account's) are paced
    by the budget's pacer, whichever cluster's client saw the throttle."""
    from migrator.aws.eks import BotoEksGateway

    budget = AccountBudget(4)
    alpha, echo = BotoEksGateway(_session(), "alpha", budget=budget), BotoEksGateway(_session(), "echo", budget=budget)
    for gateway, operation in ((alpha, "CreateAccessEntry"), (echo, "AssociateAccessPolicy")):
        _throttled(gateway._eks, operation)
    assert budget.pacer.throttles() == {"CreateAccessEntry": 1, "AssociateAccessPolicy": 1}
    assert budget.throttles == 2


def test_forget_budgets_gives_later_callers_a_fresh_budget() -> None:
    from migrator.aws.budget import forget_budgets, shared_budget

    first = shared_budget("forget-test", "us-east-1", 4)
    assert shared_budget("forget-test", "us-east-1", 8) is first  # the first caller's limit stands
    forget_budgets()
    assert shared_budget("forget-test", "us-east-1", 8) is not first
