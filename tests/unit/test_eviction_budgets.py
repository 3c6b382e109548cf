"""The decisions of pods/eviction (vcluster.apiserver.eviction) against kube-apiserver's EvictionREST."""

from __future__ import annotations

from typing import Any

import pytest

from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.eviction import (
    can_ignore_pdb,
    check_and_decrement,
    matching_pdbs,
    should_enforce_resource_version,
    unhealthy_pod_can_go,
    with_rv_precondition,
)

NOW = "2026-01-02T03:04:05Z"


def pod(phase: str = "Running", ready: bool = True, deleting: bool = False, **labels: str) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "p", "namespace": "ns", "labels": labels or {"app": "web"}}
    if deleting:
        md["deletionTimestamp"] = NOW
    conds = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": md, "status": {"phase": phase, "conditions": conds}}


def pdb(
    allowed: int = 1,
    *,
    name: str = "pdb",
    generation: int = 1,
    observed: int = 1,
    current: int = 2,
    desired: int = 1,
    selector: Any = None,
    namespace: str = "ns",
    **spec: Any,
) -> dict[str, Any]:
    sel = {"matchLabels": {"app": "web"}} if selector is None else selector
    return {
        "metadata": {"name": name, "namespace": namespace, "generation": generation},
        "spec": {"selector": sel, **spec},
        "status": {
            "observedGeneration": observed,
            "disruptionsAllowed": allowed,
            "currentHealthy": current,
            "desiredHealthy": desired,
        },
    }


@pytest.mark.parametrize(
    ("p", "ignore", "pin"),
    [
        (pod("Succeeded", ready=False), True, False),
        (pod("Failed", ready=False), True, False),
        (pod("Pending", ready=False), True, True),
        (pod("Running", deleting=True), True, False),
        (pod("Running"), False, True),
        (pod("Running", ready=False), False, True),
        (pod("Unknown"), False, True),
    ],
)
def test_which_pods_skip_the_budget(p: dict[str, Any], ignore: bool, pin: bool) -> None:
    assert can_ignore_pdb(p) is ignore
    assert should_enforce_resource_version(p) is pin


def test_matching_pdbs_skips_other_namespaces_empty_and_invalid_selectors() -> None:
    good = pdb(name="good")
    others = [
        pdb(name="elsewhere", namespace="other"),
        pdb(name="empty", selector={}),
        pdb(name="bad", selector={"matchExpressions": [{"key": "app", "operator": "Nope"}]}),
        pdb(name="miss", selector={"matchLabels": {"app": "db"}}),
    ]
    nil = pdb(name="nil")
    nil["spec"]["selector"] = None
    assert matching_pdbs(pod(), [good, *others, nil]) == [good]
    assert [x["metadata"]["name"] for x in matching_pdbs(pod(), [good, pdb(name="two")])] == ["good", "two"]


def test_exhausted_budget_is_a_429_with_a_disruption_budget_cause() -> None:
    with pytest.raises(StatusError) as e:
        check_and_decrement(pdb(0, current=2, desired=2), "p", False, NOW)
    st = e.value.status()
    assert (st["code"], st["reason"], st["message"]) == (
        429,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
    )
    assert st["details"] == {
        "causes": [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget pdb needs 2 healthy pods and has 2 currently",
            }
        ]
    }


def test_unobserved_generation_is_a_429_still_processing() -> None:
    with pytest.raises(StatusError) as e:
        check_and_decrement(pdb(3, generation=2, observed=1), "p", False, NOW)
    st = e.value.status()
    assert st["code"] == 429
    assert st["details"] == {
        "retryAfterSeconds": 10,
        "causes": [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget pdb is still being processed by the server.",
            }
        ],
    }


def test_negative_allowed_and_too_many_disrupted_pods_are_forbidden() -> None:
    with pytest.raises(StatusError) as e:
        check_and_decrement(pdb(-1), "p", False, NOW)
    assert e.value.code == 403 and e.value.message.endswith("pdb disruptions allowed is negative")
    big = pdb(1)
    big["status"]["disruptedPods"] = {f"p{i}": NOW for i in range(2001)}
    with pytest.raises(StatusError) as e:
        check_and_decrement(big, "p", False, NOW)
    assert e.value.code == 403 and "DisruptedPods map too big" in e.value.message


def test_decrement_records_the_disrupted_pod_and_the_condition() -> None:
    before = pdb(2)
    before["status"]["disruptedPods"] = {"old": NOW}
    out = check_and_decrement(before, "p", False, NOW)
    assert before["status"]["disruptionsAllowed"] == 2  # the input is not changed
    assert out["status"]["disruptionsAllowed"] == 1
    assert out["status"]["disruptedPods"] == {"old": NOW, "p": NOW}
    assert "conditions" not in out["status"]
    last = check_and_decrement(out, "q", False, NOW)
    assert last["status"]["disruptionsAllowed"] == 0
    assert last["status"]["conditions"] == [
        {
            "type": "DisruptionAllowed",
            "status": "False",
            "reason": "InsufficientPods",
            "message": "",
            "observedGeneration": 1,
            "lastTransitionTime": NOW,
        }
    ]


def test_dry_run_decrement_records_no_disrupted_pod() -> None:
    out = check_and_decrement(pdb(1), "p", True, NOW)
    assert out["status"]["disruptionsAllowed"] == 0
    assert "disruptedPods" not in out["status"]


@pytest.mark.parametrize(
    ("p", "budget", "goes"),
    [
        (pod(ready=True), pdb(0, current=0, desired=1, unhealthyPodEvictionPolicy="AlwaysAllow"), False),
        (pod(ready=False), pdb(0, current=0, desired=1, unhealthyPodEvictionPolicy="AlwaysAllow"), True),
        (pod(ready=False), pdb(0, current=0, desired=1), False),
        (pod(ready=False), pdb(0, current=0, desired=1, unhealthyPodEvictionPolicy="IfHealthyBudget"), False),
        (pod(ready=False), pdb(0, current=1, desired=1), True),
        (pod(ready=False), pdb(0, current=1, desired=1, unhealthyPodEvictionPolicy="IfHealthyBudget"), True),
        (pod(ready=False), pdb(0, current=0, desired=0), False),  # desiredHealthy 0: the budget decides
    ],
)
def test_unhealthy_pod_eviction_policy(p: dict[str, Any], budget: dict[str, Any], goes: bool) -> None:
    assert unhealthy_pod_can_go(p, budget) is goes


def test_resource_version_precondition_is_added_to_a_copy() -> None:
    opts = {"gracePeriodSeconds": 3, "preconditions": {"uid": "u"}}
    out = with_rv_precondition(opts, "42")
    assert out == {"gracePeriodSeconds": 3, "preconditions": {"uid": "u", "resourceVersion": "42"}}
    assert opts == {"gracePeriodSeconds": 3, "preconditions": {"uid": "u"}}
