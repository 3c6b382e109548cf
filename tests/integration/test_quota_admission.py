"""ResourceQuota admission with the real kubectl (against `vcluster host`, whose controllers keep
the quota status): must-specify, exceeded quota with kube's messages, object counts, and parallel
creates that may not all slip under the limit."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import Kubectl, host_fixture, host_kubectl_fixture
from tests.integration.test_host_e2e import eventually, ns

pytestmark = pytest.mark.integration


host = host_fixture("--nodes", "2")
k = host_kubectl_fixture()


def pod(name: str, cpu: str | None) -> str:
    res = f"\n    resources: {{requests: {{cpu: {cpu}}}}}" if cpu else ""
    return f"""\
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: main
    image: nginx{res}
"""


def used(k: Kubectl, n: str, quota: str) -> dict[str, str]:
    return (k.get_json("resourcequota", quota, "-n", n).get("status") or {}).get("used") or {}


def refused(k: Kubectl, *args: str, stdin: str | None = None) -> str:
    p = k.run(*args, input=stdin, check=False)
    assert p.returncode != 0, p.stdout
    return p.stderr.strip()


def test_pods_must_specify_and_cannot_exceed(k: Kubectl) -> None:
    n = ns(k, "quota-pods")
    k("create", "quota", "compute", "-n", n, "--hard=pods=3,requests.cpu=500m")
    eventually(lambda: used(k, n, "compute").get("pods") == "0", 10, "quota status computed")
    err = refused(k, "apply", "-n", n, "-f", "-", stdin=pod("no-request", None))
    assert 'pods "no-request" is forbidden: failed quota: compute: must specify requests.cpu for: main' in err
    k.apply(pod("a", "300m"), "-n", n)
    err = refused(k, "apply", "-n", n, "-f", "-", stdin=pod("b", "300m"))
    assert (
        'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=300m, '
        "used: requests.cpu=300m, limited: requests.cpu=500m"
    ) in err
    k.apply(pod("c", "200m"), "-n", n)  # exactly at the limit
    assert used(k, n, "compute") == {"pods": "2", "requests.cpu": "500m"}
    # the pod deleted, the controller gives its usage back and a new pod fits again
    k("delete", "pod", "a", "-n", n, "--wait=false")
    eventually(lambda: used(k, n, "compute").get("requests.cpu") == "200m", 15, "usage given back")
    k.apply(pod("d", "300m"), "-n", n)


def test_object_counts_and_parallel_creates(k: Kubectl) -> None:
    n = ns(k, "quota-counts")  # holds kube-root-ca.crt already
    k("create", "quota", "objects", "-n", n, "--hard=count/configmaps=6,services=1")
    eventually(lambda: used(k, n, "objects").get("count/configmaps") == "1", 10, "quota status computed")
    k("create", "service", "clusterip", "one", "--tcp=80", "-n", n)
    err = refused(k, "create", "service", "clusterip", "two", "--tcp=80", "-n", n)
    assert (
        'services "two" is forbidden: exceeded quota: objects, requested: services=1, '
        "used: services=1, limited: services=1" in err
    )

    def create(i: int) -> tuple[int, str]:
        p = k.run("create", "configmap", f"cm-{i}", "-n", n, "--from-literal=a=b", check=False)
        return p.returncode, p.stderr.strip()

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(create, range(10)))
    codes = [c for c, _ in results]
    assert codes.count(0) == 5, results  # 6 allowed, kube-root-ca.crt is one of them
    assert all("exceeded quota: objects" in err for c, err in results if c), results
    names = [c["metadata"]["name"] for c in k.get_json("configmaps", "-n", n)["items"]]
    assert len(names) == 6, names
    assert used(k, n, "objects")["count/configmaps"] == "6"
    # what kubectl shows
    out = json.loads(k("get", "quota", "objects", "-n", n, "-o", "json"))
    assert out["status"]["hard"]["count/configmaps"] == "6"


def test_an_update_that_adds_usage_is_checked(k: Kubectl) -> None:
    n = ns(k, "quota-update")
    k("create", "quota", "np", "-n", n, "--hard=services.nodeports=0")
    eventually(lambda: used(k, n, "np").get("services.nodeports") == "0", 10, "quota status computed")
    k("create", "service", "clusterip", "web", "--tcp=80", "-n", n)
    err = refused(k, "patch", "service", "web", "-n", n, "-p", '{"spec":{"type":"NodePort"}}')
    assert (
        'services "web" is forbidden: exceeded quota: np, requested: services.nodeports=1, '
        "used: services.nodeports=0, limited: services.nodeports=0"
    ) in err
    assert k.get_json("service", "web", "-n", n)["spec"]["type"] == "ClusterIP"
    k("label", "service", "web", "-n", n, "tier=front")  # an update that adds nothing passes


def test_dry_run_is_checked_but_changes_nothing(k: Kubectl) -> None:
    n = ns(k, "quota-dry")
    k("create", "quota", "q", "-n", n, "--hard=count/secrets=1")
    eventually(lambda: used(k, n, "q").get("count/secrets") == "0", 10, "quota status computed")
    k("create", "secret", "generic", "s1", "-n", n, "--from-literal=a=b", "--dry-run=server")
    assert used(k, n, "q")["count/secrets"] == "0"
    k("create", "secret", "generic", "s1", "-n", n, "--from-literal=a=b")
    err = refused(k, "create", "secret", "generic", "s2", "-n", n, "--from-literal=a=b", "--dry-run=server")
    assert "exceeded quota: q" in err
