"""The application layer: the tool's use cases with plain inputs and outputs, and no terminal in sight.
The CLI, the demo, the benchmark and the tests reach the core through here."""

from migrator.app.planning import ClusterAccess, now_iso, open_plan, plan_id_of, plan_live, plan_offline, save_plan
from migrator.app.running import (
    ClusterPorts,
    PlanRun,
    apply_plan,
    connect_cluster,
    plan_status,
    rollback_plan,
)
from migrator.plan.planner import PlanOptions
from migrator.run.settings import RunSettings, update_polling

__all__ = [
    "ClusterAccess",
    "ClusterPorts",
    "PlanOptions",
    "PlanRun",
    "RunSettings",
    "apply_plan",
    "connect_cluster",
    "now_iso",
    "open_plan",
    "plan_id_of",
    "plan_live",
    "plan_offline",
    "plan_status",
    "rollback_plan",
    "save_plan",
    "update_polling",
]
