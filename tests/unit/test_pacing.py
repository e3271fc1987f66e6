"""The per-operation pace: unpaced until a throttle, then the rate the limit let through, probing upwards;
one operation's throttle never paces another. Plain data and a fake clock: no client, no time."""

from __future__ import annotations

import pytest

from migrator.aws.pacing import OperationPace, OperationPacer
from tests.support.clock import FakeTime


def _answers(pace: OperationPace, time_: FakeTime, count: int, every: float) -> None:
    for _ in range(count):
        pace.answered(throttled=False)
        time_.now += every


def test_an_operation_is_unpaced_until_its_first_throttle() -> None:
    time_ = FakeTime()
    pace = OperationPace(clock=time_.clock)
    _answers(pace, time_, 50, 0.01)  # 100 answers/s: nothing limits us yet
    assert pace.rate() is None
    assert [pace.reserve() for _ in range(5)] == [0.0] * 5


def test_a_throttle_paces_at_what_the_limit_let_through_over_the_window() -> None:
    time_ = FakeTime()
    pace = OperationPace(window=2.0, probe=0.0, slowest=1.0, clock=time_.clock)
    _answers(pace, time_, 40, 0.1)  # 10 answers/s for 4 s; the window holds the last 2 s
    pace.answered(throttled=True)
    assert pace.rate() == pytest.approx(10.0, rel=0.06)
    waits = [pace.reserve() for _ in range(3)]  # slots one interval apart, the first after one interval
    assert waits == pytest.approx([0.1, 0.2, 0.3], rel=0.06)


def test_the_first_seconds_count_only_the_time_there_were_answers() -> None:
    time_ = FakeTime()
    pace = OperationPace(window=2.0, probe=0.0, slowest=1.0, clock=time_.clock)
    _answers(pace, time_, 5, 0.1)  # 5 answers in 0.5 s: 10/s, not 2.5/s over a window not yet seen
    pace.answered(throttled=True)
    assert pace.rate() == pytest.approx(10.0, rel=0.01)


def test_the_pace_probes_upwards_and_the_next_throttle_measures_again() -> None:
    time_ = FakeTime()
    pace = OperationPace(window=2.0, probe=0.25, slowest=1.0, clock=time_.clock)
    _answers(pace, time_, 20, 0.1)
    pace.answered(throttled=True)
    first = pace.rate()
    assert first is not None
    time_.now += 2.0
    assert pace.rate() == pytest.approx(first * 1.25**2)  # 25 % a second, compounded, without a throttle
    _answers(pace, time_, 10, 0.2)  # then only 5/s came back
    pace.answered(throttled=True)
    assert pace.rate() == pytest.approx(5.0, rel=0.1)


def test_a_rarely_called_operation_is_never_paced_below_the_slowest_rate_and_is_forgotten() -> None:
    # One answer in two seconds, then a throttle: it says nothing of the limit (another client, a fault), and
    # a burst after it must not crawl at that trickle.
    time_ = FakeTime()
    pace = OperationPace(slowest=5.0, probe=0.0, forget=60.0, clock=time_.clock)
    _answers(pace, time_, 1, 2.0)
    pace.answered(throttled=True)
    assert pace.rate() == 5.0
    time_.now += 61.0  # a minute without a throttle: unpaced again
    assert pace.rate() is None and pace.reserve() == 0.0


def test_each_operation_has_its_own_pace_and_waits_go_through_sleep() -> None:
    time_ = FakeTime()
    pacer = OperationPacer(
        sleep=time_.sleep, make_pace=lambda: OperationPace(probe=0.0, slowest=1.0, clock=time_.clock)
    )
    ok = {"status_code": 200}
    throttled = {"status_code": 400}
    for _ in range(4):
        pacer._response_received("response-received.eks.CreateAccessEntry", ok, parsed_response={})
        time_.now += 0.25
    pacer._response_received(
        "response-received.eks.CreateAccessEntry",
        throttled,
        parsed_response={"Error": {"Code": "ThrottlingException"}},
    )
    assert pacer.throttles() == {"CreateAccessEntry": 1}
    pacer._before_send("before-send.eks.DescribeAccessEntry")  # another operation: not paced
    assert time_.slept == []
    pacer._before_send("before-send.eks.CreateAccessEntry")
    assert time_.slept == [pytest.approx(0.25)]  # 4 answers over 1 s: 4/s, one interval
    pacer._response_received("response-received.eks.CreateAccessEntry", None)  # no answer: learns nothing
    assert pacer.throttles() == {"CreateAccessEntry": 1}
