"""How a run waits for an EKS mode update: a finished switch is seen within 4 s of EKS finishing it, however
long the switch takes (issue 12: <= 5 s), counted on tenacity's own waits, never on a clock."""

from __future__ import annotations

import pytest
from tenacity import wait_exponential

from migrator.app import RunSettings, update_polling
from migrator.app.batch import BatchSettings


def poll_times(first_seconds: float, until: float) -> list[float]:
    """When poll_until looks, for the policy's backoff (the same wait_exponential it builds)."""
    policy = update_polling(first_seconds)
    wait = wait_exponential(multiplier=policy.initial_seconds, max=policy.max_seconds)
    times, now, attempt = [0.0], 0.0, 1
    while now < until:
        now += wait(type("State", (), {"attempt_number": attempt})())  # tenacity reads only attempt_number
        times.append(now)
        attempt += 1
    return times


@pytest.mark.parametrize("finishes_after", [0.5, 2.0, 7.3, 45.0, 300.0, 1200.0])
def test_a_finished_switch_is_seen_within_four_seconds_whenever_it_finishes(finishes_after: float) -> None:
    seen = next(t for t in poll_times(1.0, finishes_after + 60) if t >= finishes_after)
    assert seen - finishes_after <= 4.0


def test_apply_batch_and_the_cli_default_poll_at_most_four_seconds_apart() -> None:
    assert RunSettings().poll.max_seconds == 4.0 and RunSettings().poll.initial_seconds == 1.0
    assert BatchSettings().run.poll == RunSettings().poll
    assert update_polling(10.0).max_seconds == 10.0  # asked for slower polling, it gets it
