"""Issue 4 end to end: the real kubectl against `vcluster host` (API server with ClusterIP
allocation, all controllers, simulated nodes with scheduler and kubelets)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.conftest import (
    Kubectl,
    LineReader,
    Server,
    host_fixture,
    host_kubectl_fixture,
    parse_table,
)


def eventually(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll until `check()` returns a truthy value (returned) or fail with the last result."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}: last={last!r}")


host = host_fixture("--nodes", "3", "--run-seconds", "2")
k = host_kubectl_fixture()


def ns(k: Kubectl, name: str) -> str:
    k("create", "namespace", name)
    eventually(
        lambda: k.run("get", "sa", "default", "-n", name, check=False).returncode == 0, 10, "default SA"
    )
    return name


def pods(k: Kubectl, n: str, selector: str = "") -> list[dict[str, Any]]:
    args = ["pods", "-n", n] + (["-l", selector] if selector else [])
    return k.get_json(*args)["items"]


def running(p: dict[str, Any]) -> bool:
    st = p.get("status") or {}
    conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
    return (
        st.get("phase") == "Running"
        and conds.get("Ready") == "True"
        and not p["metadata"].get("deletionTimestamp")
    )


def test_nodes_are_ready(k: Kubectl) -> None:
    _, rows = parse_table(k("get", "nodes"))
    assert [r["NAME"] for r in rows] == ["hostsim-node-1", "hostsim-node-2", "hostsim-node-3"]
    assert {r["STATUS"] for r in rows} == {"Ready"}
    leases = k.get_json("leases", "-n", "kube-node-lease")["items"]
    assert sorted(x["metadata"]["name"] for x in leases) == [
        "hostsim-node-1",
        "hostsim-node-2",
        "hostsim-node-3",
    ]


def test_deployment_rollout_scale_and_delete(k: Kubectl) -> None:
    n = ns(k, "web")
    k("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3", "-n", n)
    out = k("rollout", "status", "deployment/web", "-n", n, "--timeout=60s", timeout=90)
    assert 'deployment "web" successfully rolled out' in out
    ps = pods(k, n, "app=web")
    assert len(ps) == 3 and all(running(p) for p in ps)
    assert all(p["spec"]["nodeName"].startswith("hostsim-node-") for p in ps)
    assert all(p["status"]["podIP"].startswith("10.244.") for p in ps)
    _, rows = parse_table(k("get", "deployment", "web", "-n", n))
    assert rows[0]["READY"] == "3/3"
    # set image rolls out a second ReplicaSet
    k("set", "image", "deployment/web", "nginx=nginx:1.27", "-n", n)
    k("rollout", "status", "deployment/web", "-n", n, "--timeout=60s", timeout=90)
    rss = k.get_json("rs", "-n", n, "-l", "app=web")["items"]
    by_image = {r["spec"]["template"]["spec"]["containers"][0]["image"]: r["spec"]["replicas"] for r in rss}
    assert by_image == {"nginx:1.25": 0, "nginx:1.27": 3}
    eventually(
        lambda: (
            len([p for p in pods(k, n, "app=web") if running(p)]) == 3 and len(pods(k, n, "app=web")) == 3
        ),
        30,
        "3 new pods",
    )
    assert {p["spec"]["containers"][0]["image"] for p in pods(k, n, "app=web")} == {"nginx:1.27"}
    # scale up and down
    k("scale", "deployment/web", "--replicas=5", "-n", n)
    eventually(lambda: len([p for p in pods(k, n, "app=web") if running(p)]) == 5, 30, "5 running")
    k("scale", "deployment/web", "--replicas=2", "-n", n)
    eventually(lambda: len(pods(k, n, "app=web")) == 2, 30, "2 pods left")
    # deleting the deployment removes its replicasets and pods (garbage collector)
    k("delete", "deployment", "web", "-n", n)
    eventually(lambda: not k.get_json("rs", "-n", n)["items"] and not pods(k, n), 30, "rs and pods gone")


def test_service_cluster_ip_and_endpoints_follow_ready_pods(k: Kubectl) -> None:
    n = ns(k, "svc")
    k("create", "deployment", "api", "--image=nginx", "--replicas=2", "--port=80", "-n", n)
    k("expose", "deployment", "api", "--port=8080", "--target-port=80", "-n", n)
    svc = k.get_json("svc", "api", "-n", n)
    assert svc["spec"]["clusterIP"].startswith("10.")
    eventually(lambda: len([p for p in pods(k, n) if running(p)]) == 2, 30, "2 running")

    def endpoint_ips() -> set[str]:
        ep = k.get_json("endpoints", "api", "-n", n)
        return {a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []}

    want = {p["status"]["podIP"] for p in pods(k, n)}
    eventually(lambda: endpoint_ips() == want, 20, "endpoints = ready pod IPs")
    ep = k.get_json("endpoints", "api", "-n", n)
    assert ep["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    slices = k.get_json("endpointslices", "-n", n, "-l", "kubernetes.io/service-name=api")["items"]
    assert {a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"]} == want
    k("scale", "deployment/api", "--replicas=1", "-n", n)
    eventually(lambda: len(endpoint_ips()) == 1 and endpoint_ips() <= want, 30, "one endpoint left")


def test_statefulset_creates_pods_in_order(k: Kubectl) -> None:
    n = ns(k, "sts")
    k.apply(
        f"""apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web, namespace: {n}}}
spec:
  serviceName: web
  replicas: 3
  selector: {{matchLabels: {{app: sts}}}}
  template:
    metadata: {{labels: {{app: sts}}}}
    spec: {{containers: [{{name: c, image: nginx}}]}}
"""
    )
    eventually(lambda: len([p for p in pods(k, n) if running(p)]) == 3, 60, "3 running")
    ps = sorted(pods(k, n), key=lambda p: p["metadata"]["creationTimestamp"] + p["metadata"]["name"])
    assert [p["metadata"]["name"] for p in ps] == ["web-0", "web-1", "web-2"]
    started = [p["status"]["startTime"] for p in ps]
    assert started == sorted(started)
    # OrderedReady: web-1 was created only once web-0 was Ready
    ready0 = next(c["lastTransitionTime"] for c in ps[0]["status"]["conditions"] if c["type"] == "Ready")
    assert ps[1]["metadata"]["creationTimestamp"] >= ready0


def test_job_completes(k: Kubectl) -> None:
    n = ns(k, "job")
    k("create", "job", "once", "--image=busybox", "-n", n, "--", "true")
    out = k("wait", "--for=condition=complete", "job/once", "-n", n, "--timeout=60s", timeout=90)
    assert "condition met" in out
    job = k.get_json("job", "once", "-n", n)
    assert job["status"]["succeeded"] == 1
    assert pods(k, n)[0]["status"]["phase"] == "Succeeded"


def test_logs_and_follow(k: Kubectl) -> None:
    n = ns(k, "logs")
    k("run", "talker", "--image=nginx", "-n", n)
    eventually(lambda: any(running(p) for p in pods(k, n)), 30, "pod running")
    out = k("logs", "talker", "-n", n)
    assert out.strip(), "no log lines"
    follow = LineReader(k.popen("logs", "-f", "talker", "-n", n))
    try:
        first = follow.wait_for(lambda line: bool(line.strip()), 10)
        assert first
    finally:
        follow.stop()


def test_namespace_deletion_empties_and_removes_it(k: Kubectl) -> None:
    n = ns(k, "doomed")
    k("create", "deployment", "d", "--image=nginx", "--replicas=2", "-n", n)
    k("create", "configmap", "c", "--from-literal=a=b", "-n", n)
    eventually(lambda: len(pods(k, n)) == 2, 30, "2 pods")
    k("delete", "namespace", n, "--timeout=60s", timeout=90)
    assert k.run("get", "namespace", n, check=False).returncode != 0


def test_unschedulable_pod_gets_failed_scheduling(k: Kubectl) -> None:
    n = ns(k, "nofit")
    k(
        "run",
        "picky",
        "--image=nginx",
        "-n",
        n,
        "--overrides",
        json.dumps({"spec": {"nodeSelector": {"disk": "ssd"}}}),
    )
    ev = eventually(
        lambda: [e for e in k.get_json("events", "-n", n)["items"] if e["reason"] == "FailedScheduling"], 20
    )
    assert "0/3 nodes are available" in ev[0]["message"]
    assert pods(k, n)[0]["status"]["phase"] == "Pending"


def test_rollout_finishes_after_a_kill_and_restart(tmp_path: Path) -> None:
    s = Server(tmp_path / "h", command="host", args=["--nodes", "3", "--run-seconds", "2"])
    s.start(timeout=40)
    try:
        kc = Kubectl(s, tmp_path / "kc")
        ns(kc, "roll")
        kc("create", "deployment", "r", "--image=nginx:1", "--replicas=6", "-n", "roll")
        kc("rollout", "status", "deployment/r", "-n", "roll", "--timeout=60s", timeout=90)
        kc("set", "image", "deployment/r", "nginx=nginx:2", "-n", "roll")
        time.sleep(0.3)  # let the rollout begin
        s.stop(signal.SIGKILL)
        s.start(timeout=40)
        kc("rollout", "status", "deployment/r", "-n", "roll", "--timeout=90s", timeout=120)
        ps = eventually(
            lambda: (lambda ps: ps if len(ps) == 6 and all(running(p) for p in ps) else None)(
                pods(kc, "roll")
            ),
            60,
            "6 running pods",
        )
        assert {p["spec"]["containers"][0]["image"] for p in ps} == {"nginx:2"}
        names = [p["metadata"]["name"] for p in ps]
        assert len(set(names)) == 6
    finally:
        s.stop()
