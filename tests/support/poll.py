"""Poll policies for tests: no real waiting anywhere."""

from __future__ import annotations

from migrator.run.steps import PollPolicy

# Never sleeps: EKS "time" in the in-memory fake passes per poll, not per second.
FAST = PollPolicy(initial_seconds=0, max_seconds=0, read_back_attempts=3, sleep=lambda seconds: None)
