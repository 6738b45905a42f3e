"""A deliberately wrong reference source, for testing the controller's bounds only.

``mode: fault_injection_pull`` of policy_node: for every task text that names a task it asks
for ``K = PULL_STIFFNESS`` (300 N*m/rad) and ``q_d = q + PULL_LEAD`` (1 rad ahead of the
measured angle), through policy_node's own publication path, as a buggy checkpoint or a
wrong mode would. Nothing in the shipped configuration selects it; ``exo_faults`` starts a
policy_node in this mode to check that the controller keeps the spring within its
assistance bound. Unknown text and no text give the usual compliant fallback. No rclpy.
"""

from __future__ import annotations

import math

from exo_policy.reference_source import ImpedanceTarget, ReferenceSourceBase, Resolver

SOURCE_FAULT_INJECTION = 'fault_injection_pull'
#: Stiffness asked for, N*m/rad (the controller's ceiling).
PULL_STIFFNESS = 300.0
#: Lead of the reference over the measured angle, rad.
PULL_LEAD = 1.0


class FaultInjectionPullSource(ReferenceSourceBase):
    """For a known task: ``q_d = q + PULL_LEAD`` with ``K = PULL_STIFFNESS`` (testing only)."""

    def __init__(self, resolver: Resolver | None = None,
                 compliant_stiffness: float = 2.0) -> None:
        super().__init__(resolver, compliant_stiffness)

    def reference(self, t: float, q: float, qd: float = 0.0) -> ImpedanceTarget:
        """The wrong reference for a known task, else the compliant fallback."""
        del t, qd
        if self.task is None or not (isinstance(q, (int, float)) and math.isfinite(q)):
            return self.fallback(q)
        return ImpedanceTarget(float(q) + PULL_LEAD, 0.0, PULL_STIFFNESS, self.task.task_id,
                               self.confidence, SOURCE_FAULT_INJECTION)
