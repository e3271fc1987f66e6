"""Run a plan against the in-memory fake through the application layer, as the CLI does."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from migrator.app import ClusterPorts, PlanRun, RunSettings, apply_plan, rollback_plan
from migrator.model import Plan
from migrator.run.observer import Observer, Prompter, RunReport
from migrator.state.files import FileStore
from tests.unit.fake_cluster import FakeCluster, FakeIam


class Runner:
    def __init__(
        self,
        plan: Plan,
        fake: FakeCluster,
        run_dir: Path,
        *,
        observer: Observer | None = None,
        prompter: Prompter | None = None,
        **settings: Any,
    ) -> None:
        self.run = PlanRun.of(plan, FileStore(run_dir))
        self.ports = ClusterPorts(fake, fake, FakeIam())
        self.settings = RunSettings(**settings)
        self.observer = observer
        self.prompter = prompter

    def apply(self, *, rollback_on_failure: bool = False) -> RunReport:
        settings = dataclasses.replace(self.settings, rollback_on_failure=rollback_on_failure)
        return apply_plan(self.run, self.ports, settings, observer=self.observer, prompter=self.prompter)

    def rollback(self) -> RunReport:
        report = rollback_plan(self.run, self.ports, self.settings, observer=self.observer)
        assert report is not None
        return report

    def rollback_preview(self) -> list[str]:
        """The lines an interactive rollback shows before asking; declining changes nothing."""
        seen: list[str] = []

        def decline(lines: Sequence[str]) -> bool:
            seen.extend(lines)
            return False

        assert rollback_plan(self.run, self.ports, self.settings, observer=self.observer, confirm=decline) is None
        return seen
