"""A clock for tests of waiting code: `sleep` records the wait and moves `now` on, so nothing really waits."""

from __future__ import annotations


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
