"""Create and update validation of coordination.k8s.io/v1 Lease, as kube-apiserver 1.32's
`pkg/apis/coordination/validation` (ValidateLeaseSpec). With the CoordinatedLeaderElection gate
off (1.32's default) the strategy drops `strategy` and `preferredHolder`, so only the durations
are checked.
"""

from __future__ import annotations

from vcluster.apiserver.validate_common import JSON, Cause, _d, _invalid, is_int


def validate_lease(obj: JSON) -> list[Cause]:
    """ValidateLeaseSpec."""
    spec = _d(obj.get("spec"))
    causes: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if is_int(duration) and duration <= 0:
        causes.append(_invalid("spec.leaseDurationSeconds", str(duration), "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if is_int(transitions) and transitions < 0:
        causes.append(
            _invalid("spec.leaseTransitions", str(transitions), "must be greater than or equal to 0")
        )
    return causes
