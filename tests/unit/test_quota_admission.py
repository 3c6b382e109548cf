"""ResourceQuota admission decisions (`apiserver/quota.py`), against kube's messages."""

from __future__ import annotations

from typing import Any

import pytest

from vcluster.apiserver import quota


def rq(name: str, hard: dict[str, str], used: dict[str, str] | None, **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"hard": hard}
    if used is not None:
        status["used"] = used
    return {"metadata": {"name": name}, "spec": {"hard": hard, **spec}, "status": status}


def pod(cpu: str | None = None, **spec: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "app"}
    if cpu:
        c["resources"] = {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}
    return {"metadata": {"name": "p"}, "spec": {"containers": [c], **spec}}


def test_raise_usage_when_under_the_limit() -> None:
    [(q, used)] = quota.admit([rq("q", {"pods": "2"}, {"pods": "1"})], "", "pods", "Pod", pod())
    assert q["metadata"]["name"] == "q" and used == {"pods": "2"}


def test_status_unknown_until_the_controller_computed_it() -> None:
    with pytest.raises(quota.QuotaRefusal, match=r"^status unknown for quota: q, resources: pods$"):
        quota.admit([rq("q", {"pods": "2"}, {})], "", "pods", "Pod", pod())
    # a quota whose status.hard is not there yet is not enforced (as upstream)
    fresh = {"metadata": {"name": "new"}, "spec": {"hard": {"pods": "0"}}}
    assert quota.admit([fresh], "", "pods", "Pod", pod()) == []


def test_must_specify_and_exceeded_messages() -> None:
    q = rq(
        "compute", {"limits.cpu": "1", "requests.memory": "1Gi"}, {"limits.cpu": "0", "requests.memory": "0"}
    )
    with pytest.raises(quota.QuotaRefusal) as e:
        quota.admit([q], "", "pods", "Pod", pod("500m"))
    assert str(e.value) == "failed quota: compute: must specify requests.memory for: app"
    q2 = rq("compute", {"limits.cpu": "1"}, {"limits.cpu": "800m"})
    with pytest.raises(quota.QuotaRefusal) as e:
        quota.admit([q2], "", "pods", "Pod", pod("500m"))
    assert str(e.value) == (
        "exceeded quota: compute, requested: limits.cpu=500m, used: limits.cpu=800m, limited: limits.cpu=1"
    )


def test_scopes_match_pods_only_and_other_kinds_count() -> None:
    best_effort = rq("be", {"pods": "0"}, {"pods": "0"}, scopes=["BestEffort"])
    assert quota.admit([best_effort], "", "pods", "Pod", pod("100m")) == []  # not best-effort
    with pytest.raises(quota.QuotaRefusal, match="exceeded quota: be"):
        quota.admit([best_effort], "", "pods", "Pod", pod())
    scoped = rq("s", {"count/configmaps": "0"}, {"count/configmaps": "0"}, scopes=["BestEffort"])
    assert quota.admit([scoped], "", "configmaps", "ConfigMap", {"metadata": {"name": "c"}}) == []
    apps = rq("apps", {"count/deployments.apps": "1"}, {"count/deployments.apps": "1"})
    with pytest.raises(quota.QuotaRefusal, match=r"requested: count/deployments.apps=1"):
        quota.admit([apps], "apps", "deployments", "Deployment", {"metadata": {"name": "d"}})
    storage = rq("st", {"requests.storage": "5Gi"}, {"requests.storage": "4Gi"})
    claim = {"metadata": {"name": "c"}, "spec": {"resources": {"requests": {"storage": "2Gi"}}}}
    with pytest.raises(
        quota.QuotaRefusal, match=r"requested: requests.storage=2Gi, used: requests.storage=4Gi"
    ):
        quota.admit([storage], "", "persistentvolumeclaims", "PersistentVolumeClaim", claim)


def test_updates_are_charged_by_what_they_add() -> None:
    storage = rq("st", {"requests.storage": "5Gi"}, {"requests.storage": "4Gi"})
    kind = ("", "persistentvolumeclaims", "PersistentVolumeClaim")

    def claim(size: str) -> dict[str, Any]:
        return {"metadata": {"name": "c"}, "spec": {"resources": {"requests": {"storage": size}}}}

    [(_, used)] = quota.admit([storage], *kind, claim("2Gi"), old=claim("1Gi"))  # +1Gi fits
    assert used == {"requests.storage": "5Gi"}
    with pytest.raises(
        quota.QuotaRefusal, match=r"requested: requests.storage=2Gi, used: requests.storage=4Gi"
    ):
        quota.admit([storage], *kind, claim("3Gi"), old=claim("1Gi"))
    assert quota.admit([storage], *kind, claim("1Gi"), old=claim("1Gi")) == []  # nothing added
    nodeports = rq("np", {"services.nodeports": "1"}, {"services.nodeports": "1"})
    svc = {"metadata": {"name": "s"}, "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}
    node_port = {**svc, "spec": {**svc["spec"], "type": "NodePort"}}
    with pytest.raises(quota.QuotaRefusal, match=r"requested: services.nodeports=1"):
        quota.admit([nodeports], "", "services", "Service", node_port, old=svc)
    # the Service itself is not counted again on update
    services = rq("svc", {"services": "1"}, {"services": "1"})
    assert quota.admit([services], "", "services", "Service", node_port, old=svc) == []
