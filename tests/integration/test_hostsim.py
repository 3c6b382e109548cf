"""The simulated host (`vcluster hostsim`) against our API server, checked with the real kubectl.

One API server and one hostsim process (3 nodes, short timings) per module; every test works in
its own namespace and leaves the nodes as it found them. The server publishes `kube-root-ca.crt`
in every namespace, as kube-controller-manager does: the kubelet mounts it into every pod with a
ServiceAccount token and would not start a pod without it."""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Kubectl, LineReader, Server, parse_table

pytestmark = pytest.mark.integration

NODES = ["hostsim-node-1", "hostsim-node-2", "hostsim-node-3"]
READY = re.compile(r"vcluster hostsim ready: .* kubelet https://([\d.]+):(\d+)")
CONTROLLERS = "serviceaccount,namespace,root-ca-cert-publisher"


class HostSimProcess:
    """`python -m vcluster.cli.hostsim_cmd` against a server, with short timings."""

    def __init__(self, server: Server, log_path: Path) -> None:
        self.server = server
        self.log_path = log_path
        self.proc: subprocess.Popen[str] | None = None
        self.address = ""
        self.port = 0

    def start(self, timeout: float = 20.0) -> HostSimProcess:
        args = [
            sys.executable, "-m", "vcluster.cli.hostsim_cmd", "--kubeconfig", str(self.server.kubeconfig),
            "--nodes", "3", "--run-seconds", "1", "--deletion-grace-cap", "0.5",
            "--lease-renew-seconds", "0.5", "--node-status-seconds", "0.5", "--log-line-seconds", "0.25",
            "--log-level", "debug",
        ]  # fmt: skip
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True, env=os.environ.copy()
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = READY.search(line)
            if m:
                self.address, self.port = m.group(1), int(m.group(2))
                return self
        self.stop()
        raise RuntimeError(f"hostsim did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rc = self.proc.returncode
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None
        return rc


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The API server with the controllers a real control plane has for pods to start."""
    s = Server(tmp_path_factory.mktemp("srv") / "vc", controllers=CONTROLLERS)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def host(module_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostSimProcess]:
    hs = HostSimProcess(module_server, tmp_path_factory.mktemp("hostsim") / "hostsim.log")
    hs.start()
    try:
        yield hs
    finally:
        rc = hs.stop()
        assert rc == 0, f"hostsim exited with {rc}:\n{hs.log_path.read_text()[-3000:]}"


@pytest.fixture
def k(module_kubectl: Kubectl, host: HostSimProcess) -> Kubectl:
    return module_kubectl


def wait_until(fn: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or fn}; last: {last!r}")


def namespace(k: Kubectl, name: str) -> str:
    k.namespace(name)
    # Pods need the default ServiceAccount (the serviceaccount controller may create it first).
    p = k.run("create", "serviceaccount", "default", "-n", name, check=False)
    assert p.returncode == 0 or "already exists" in p.stderr, p.stderr
    return name


def pod_yaml(name: str, *, image: str = "nginx:1.27", extra_spec: str = "", containers: str = "") -> str:
    containers = containers or f"  - name: {name.split('-')[0]}\n    image: {image}\n"
    head = f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n"
    return f"{head}{extra_spec}  containers:\n{containers}"


def get_pod(k: Kubectl, ns: str, name: str) -> dict[str, Any]:
    return k.get_json("pod", name, "-n", ns)


def events(k: Kubectl, ns: str, name: str) -> list[dict[str, Any]]:
    return [
        e
        for e in k.get_json("events", "-n", ns)["items"]
        if e["involvedObject"].get("name") == name and e["involvedObject"].get("kind") == "Pod"
    ]


def wait_ready(k: Kubectl, ns: str, *pods: str) -> None:
    k("wait", "--for=condition=Ready", "--timeout=20s", "-n", ns, *(f"pod/{p}" for p in pods), timeout=30)


# ---------------------------------------------------------------------------- nodes
def test_nodes_are_ready_with_kubelet_endpoint_and_renewed_leases(k: Kubectl, host: HostSimProcess) -> None:
    _, rows = parse_table(k("get", "nodes", "-o", "wide"))
    assert [r["NAME"] for r in rows] == NODES
    assert all(r["STATUS"] == "Ready" and r["INTERNAL-IP"] == host.address for r in rows)
    assert all(r["VERSION"].startswith("v1.32") for r in rows)
    nodes = {n["metadata"]["name"]: n for n in k.get_json("nodes")["items"]}
    ports = [nodes[name]["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] for name in NODES]
    assert ports[0] == host.port and len(set(ports)) == len(NODES)  # a kubelet port per node
    for i, name in enumerate(NODES, 1):
        n = nodes[name]
        labels = n["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == name
        assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"] == "amd64"
        assert labels["node.kubernetes.io/instance-type"]
        assert n["spec"]["podCIDR"] == f"10.244.{i}.0/24"
        st = n["status"]
        assert {"type": "InternalIP", "address": host.address} in st["addresses"]
        assert {"type": "Hostname", "address": name} in st["addresses"]
        assert st["capacity"]["pods"] == "110" and st["allocatable"]["cpu"] == "8"
        assert {c["type"]: c["status"] for c in st["conditions"]} == {
            "MemoryPressure": "False",
            "DiskPressure": "False",
            "PIDPressure": "False",
            "Ready": "True",
        }
        assert st["nodeInfo"]["kubeletVersion"].startswith("v1.32")

    def renew_times() -> dict[str, str]:
        leases = k.get_json("leases", "-n", "kube-node-lease")["items"]
        return {ls["metadata"]["name"]: ls["spec"]["renewTime"] for ls in leases}

    first = renew_times()
    assert set(first) == set(NODES)
    lease = k.get_json("lease", NODES[0], "-n", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == NODES[0]
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    wait_until(lambda: all(renew_times()[n] != first[n] for n in NODES), 10, 0.3, "lease renewals")


# ---------------------------------------------------------------------------- running pods
def test_pod_is_scheduled_and_runs_with_ip_conditions_and_events(k: Kubectl) -> None:
    ns = namespace(k, "hs-run")
    k.apply(pod_yaml("web"), "-n", ns)
    wait_ready(k, ns, "web")
    pod = get_pod(k, ns, "web")
    node_name = pod["spec"]["nodeName"]
    assert node_name in NODES
    node = k.get_json("node", node_name)
    st = pod["status"]
    assert st["phase"] == "Running"
    assert ipaddress.ip_address(st["podIP"]) in ipaddress.ip_network(node["spec"]["podCIDR"])
    assert st["podIPs"] == [{"ip": st["podIP"]}]
    assert st["hostIP"] == node["status"]["addresses"][0]["address"]
    assert st["startTime"]
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready", "PodReadyToStartContainers"):
        assert conds[t] == "True", conds
    (cs,) = st["containerStatuses"]
    assert cs["ready"] and cs["started"] and "running" in cs["state"]
    assert cs["containerID"].startswith("containerd://") and cs["image"] == "docker.io/library/nginx:1.27"
    _, rows = parse_table(k("get", "pods", "-n", ns, "-o", "wide"))
    assert rows[0]["READY"] == "1/1" and rows[0]["STATUS"] == "Running" and rows[0]["IP"] == st["podIP"]

    def reasons() -> list[str]:
        return [e["reason"] for e in events(k, ns, "web")]

    wait_until(lambda: {"Scheduled", "Pulled", "Created", "Started"} <= set(reasons()), 10, 0.2, "pod events")
    table = k("get", "events", "-n", ns)
    assert f"Successfully assigned {ns}/web to {node_name}" in table
    assert 'Container image "nginx:1.27" already present on machine' in table
    assert "Created container: web" in table and "Started container web" in table
    scheduled = next(e for e in events(k, ns, "web") if e["reason"] == "Scheduled")
    assert scheduled["source"]["component"] == "default-scheduler"
    started = next(e for e in events(k, ns, "web") if e["reason"] == "Started")
    assert started["source"] == {"component": "kubelet", "host": node_name}
    assert started["involvedObject"]["fieldPath"] == "spec.containers{web}"


def containers_per_node(k: Kubectl) -> dict[str, int]:
    """Containers of running pods per node: what least-allocated scoring levels (no requests)."""
    out = dict.fromkeys(NODES, 0)
    for p in k.get_json("pods", "-A")["items"]:
        node = p["spec"].get("nodeName")
        if node in out and p["status"].get("phase") not in ("Succeeded", "Failed"):
            out[node] += len(p["spec"]["containers"])
    return out


def test_pods_spread_over_nodes_with_distinct_ips(k: Kubectl) -> None:
    ns = namespace(k, "hs-spread")
    before = containers_per_node(k)
    k.apply("---\n".join(pod_yaml(f"s-{i}") for i in range(6)), "-n", ns)
    wait_ready(k, ns, *(f"s-{i}" for i in range(6)))
    pods = k.get_json("pods", "-n", ns)["items"]
    assert len({p["status"]["podIP"] for p in pods}) == 6
    after = containers_per_node(k)
    assert sum(after.values()) == sum(before.values()) + 6
    # least-allocated placement levels the nodes as far as the pods allow
    spread = max(after.values()) - min(after.values())
    assert spread <= max(1, max(before.values()) - min(before.values())), (before, after)


def test_restart_never_pod_succeeds_after_run_time(k: Kubectl) -> None:
    ns = namespace(k, "hs-job")
    k.apply(pod_yaml("once", image="busybox:1.36", extra_spec="  restartPolicy: Never\n"), "-n", ns)
    k("wait", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=20s", "-n", ns, "pod/once", timeout=30)
    st = get_pod(k, ns, "once")["status"]
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "PodCompleted"
    _, rows = parse_table(k("get", "pods", "-n", ns))
    assert rows[0]["STATUS"] == "Completed"
    logs = k("logs", "once", "-n", ns)
    assert "INFO starting once (image busybox:1.36)" in logs and logs.rstrip().endswith(
        "done, exiting with code 0"
    )


def test_graceful_delete_finishes_after_capped_grace(k: Kubectl) -> None:
    ns = namespace(k, "hs-del")
    k.apply(pod_yaml("gone"), "-n", ns)
    wait_ready(k, ns, "gone")
    t0 = time.monotonic()
    k("delete", "pod", "gone", "-n", ns, "--wait=true", timeout=30)  # grace 30 s, capped at 0.5 s
    assert time.monotonic() - t0 < 10
    p = k.run("get", "pod", "gone", "-n", ns, check=False)
    assert p.returncode != 0 and "NotFound" in p.stderr
    kill = wait_until(
        lambda: [e for e in events(k, ns, "gone") if e["reason"] == "Killing"], 5, 0.2, "Killing"
    )
    assert kill[0]["message"] == "Stopping container gone"


# ---------------------------------------------------------------------------- unschedulable pods
def failed_scheduling(k: Kubectl, ns: str, name: str) -> dict[str, Any] | None:
    return next((e for e in events(k, ns, name) if e["reason"] == "FailedScheduling"), None)


def scheduled_condition(k: Kubectl, ns: str, name: str) -> dict[str, Any]:
    return next(c for c in get_pod(k, ns, name)["status"]["conditions"] if c["type"] == "PodScheduled")


def test_node_selector_that_fits_nothing_stays_pending_until_a_node_matches(k: Kubectl) -> None:
    ns = namespace(k, "hs-sel")
    k.apply(pod_yaml("sel", extra_spec="  nodeSelector:\n    hs-sel-disk: ssd\n"), "-n", ns)
    ev = wait_until(lambda: failed_scheduling(k, ns, "sel"), 10, 0.2, "FailedScheduling")
    msg = (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    assert ev["message"] == msg and ev["type"] == "Warning"
    cond = scheduled_condition(k, ns, "sel")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", msg)
    assert get_pod(k, ns, "sel")["status"]["phase"] == "Pending"
    try:
        k("label", "node", NODES[0], "hs-sel-other=1")  # a node change: the pod is retried (and fails)

        def retried() -> list[dict[str, Any]]:
            evs = [e for e in events(k, ns, "sel") if e["reason"] == "FailedScheduling"]
            return evs if evs and evs[0].get("count") == 2 else []

        evs = wait_until(retried, 10, 0.2, "a second scheduling attempt")
        assert len(evs) == 1 and evs[0]["message"] == msg  # the same event, counted twice
        time.sleep(1.5)  # node heartbeats (every 0.5 s) change nothing the scheduler uses: no retries
        assert failed_scheduling(k, ns, "sel")["count"] == 2  # type: ignore[index]
        k("label", "node", NODES[1], "hs-sel-disk=ssd")
        wait_ready(k, ns, "sel")  # retried because a node now matches
        assert get_pod(k, ns, "sel")["spec"]["nodeName"] == NODES[1]
    finally:
        k("label", "node", NODES[0], "hs-sel-other-")
        k("label", "node", NODES[1], "hs-sel-disk-")


def test_taint_on_every_node_needs_a_toleration(k: Kubectl) -> None:
    ns = namespace(k, "hs-taint")
    try:
        k("taint", "nodes", "--all", "hs-taint=yes:NoSchedule")
        ev = None
        for _ in range(3):
            k.apply(pod_yaml("plain"), "-n", ns)
            # the scheduler's node cache may not show the taint yet (an informer is eventually
            # consistent, as kube-scheduler's is): a pod bound from the older cache is retried
            ev = wait_until(
                lambda: failed_scheduling(k, ns, "plain") or get_pod(k, ns, "plain")["spec"].get("nodeName"),
                10,
                0.2,
                "FailedScheduling or a binding",
            )
            if isinstance(ev, dict):
                break
            k("delete", "pod", "plain", "-n", ns, "--wait=true")
        assert isinstance(ev, dict), f"scheduled on {ev} despite the taint on every node"
        assert ev["message"] == (
            "0/3 nodes are available: 3 node(s) had untolerated taint {hs-taint: yes}. "
            "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        )
        k("delete", "pod", "plain", "-n", ns, "--wait=true")
        tol = (
            '  tolerations:\n  - key: hs-taint\n    operator: Equal\n    value: "yes"\n'
            "    effect: NoSchedule\n"
        )
        k.apply(pod_yaml("plain", extra_spec=tol), "-n", ns)
        wait_ready(k, ns, "plain")
    finally:  # whatever happened above, the next tests get untainted nodes
        k.run("taint", "nodes", "--all", "hs-taint-", check=False)


def test_requests_beyond_capacity_stay_pending(k: Kubectl) -> None:
    ns = namespace(k, "hs-big")
    containers = (
        "  - name: big\n    image: nginx\n    resources:\n      requests:\n"
        '        cpu: "9"\n        memory: 1Gi\n'
    )
    k.apply(pod_yaml("big", containers=containers), "-n", ns)
    ev = wait_until(lambda: failed_scheduling(k, ns, "big"), 10, 0.2, "FailedScheduling")
    assert ev["message"] == (
        "0/3 nodes are available: 3 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )
    _, rows = parse_table(k("get", "pods", "-n", ns))
    assert rows[0]["STATUS"] == "Pending" and rows[0]["READY"] == "0/1"


# ---------------------------------------------------------------------------- configmaps and secrets
def first_state(k: Kubectl, ns: str, name: str) -> dict[str, Any]:
    """The state of the pod's first container, {} before the kubelet wrote one."""
    statuses = get_pod(k, ns, name)["status"].get("containerStatuses") or [{}]
    return statuses[0].get("state") or {}


def warnings(k: Kubectl, ns: str, name: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in events(k, ns, name) if e["reason"] == reason and e["type"] == "Warning"]


CM_VOLUME = """\
  volumes:
  - name: cfg
    configMap:
      name: app-config
"""
CM_MOUNT = (
    "  - name: vol\n    image: nginx:1.27\n    volumeMounts:\n    - name: cfg\n      mountPath: /etc/app\n"
)
CM_ENV = """\
  - name: env
    image: nginx:1.27
    env:
    - name: MODE
      valueFrom:
        configMapKeyRef:
          name: app-config
          key: mode
"""


def test_pods_wait_for_a_missing_configmap_volume_or_env_reference(k: Kubectl) -> None:
    ns = namespace(k, "hs-cm")
    k.apply(
        pod_yaml("vol", extra_spec=CM_VOLUME, containers=CM_MOUNT)
        + "---\n"
        + pod_yaml("env", containers=CM_ENV),
        "-n",
        ns,
    )
    # the volume: ContainerCreating, FailedMount retried (one event, counted)
    mount = wait_until(
        lambda: [e for e in warnings(k, ns, "vol", "FailedMount") if e.get("count", 0) >= 2],
        15,
        0.2,
        "FailedMount x2",
    )
    assert len(mount) == 1, mount
    assert (
        mount[0]["message"] == 'MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found'
    )
    assert mount[0]["source"]["component"] == "kubelet" and "fieldPath" not in mount[0]["involvedObject"]
    st = get_pod(k, ns, "vol")["status"]
    assert st["phase"] == "Pending" and "podIP" not in st
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    # the environment: the sandbox runs, the container cannot be created
    want = {
        "waiting": {"reason": "CreateContainerConfigError", "message": 'configmap "app-config" not found'}
    }
    wait_until(lambda: first_state(k, ns, "env") == want, 15, 0.2, "CreateContainerConfigError")
    st = get_pod(k, ns, "env")["status"]
    assert st["phase"] == "Pending" and st["podIP"]
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    assert conds["PodReadyToStartContainers"] == "True" and conds["Ready"] == "False"
    (failed,) = wait_until(lambda: warnings(k, ns, "env", "Failed"), 10, 0.2, "Failed event")
    assert failed["message"] == 'Error: configmap "app-config" not found'
    assert failed["involvedObject"]["fieldPath"] == "spec.containers{env}"
    assert not warnings(k, ns, "env", "FailedMount") and not [
        e for e in events(k, ns, "env") if e["reason"] == "Started"
    ]
    _, rows = parse_table(k("get", "pods", "-n", ns))
    assert {r["NAME"]: r["STATUS"] for r in rows} == {
        "env": "CreateContainerConfigError",
        "vol": "ContainerCreating",
    }

    # the ConfigMap appears without the key: the volume mounts, the env still misses its key
    k("create", "configmap", "app-config", "-n", ns, "--from-literal=other=x")
    wait_ready(k, ns, "vol")
    missing_key = {
        "waiting": {
            "reason": "CreateContainerConfigError",
            "message": "couldn't find key mode in ConfigMap hs-cm/app-config",
        }
    }
    wait_until(lambda: first_state(k, ns, "env") == missing_key, 10, 0.2, "the missing key")
    assert get_pod(k, ns, "env")["status"]["phase"] == "Pending"
    # ... which is added: the container starts at once (no waiting for the 10 s retry)
    t0 = time.monotonic()
    k("patch", "configmap", "app-config", "-n", ns, "-p", '{"data":{"mode":"fast"}}')
    wait_ready(k, ns, "env")
    assert time.monotonic() - t0 < 8
    st = get_pod(k, ns, "env")["status"]
    assert st["phase"] == "Running" and "running" in st["containerStatuses"][0]["state"]
    assert {e["reason"] for e in events(k, ns, "env")} >= {"Pulled", "Failed", "Created", "Started"}


# ---------------------------------------------------------------------------- logs
def test_kubectl_logs_and_follow(k: Kubectl) -> None:
    ns = namespace(k, "hs-logs")
    two = "  - name: a\n    image: nginx:1.27\n  - name: b\n    image: redis:7\n"
    k.apply(pod_yaml("logs") + "---\n" + pod_yaml("two", containers=two), "-n", ns)
    wait_ready(k, ns, "logs", "two")
    out = k("logs", "logs", "-n", ns).splitlines()
    assert out[0].startswith("/docker-entrypoint.sh:") and any("nginx/1.27" in line for line in out)
    assert k("logs", "logs", "-n", ns).splitlines()[: len(out)] == out  # deterministic
    tail = k("logs", "logs", "-n", ns, "--tail=1", "--timestamps").splitlines()
    assert len(tail) == 1 and re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z ", tail[0])
    assert "INFO starting b (image redis:7)" in k("logs", "two", "-c", "b", "-n", ns)
    raw = k.run("get", "--raw", f"/api/v1/namespaces/{ns}/pods/two/log", check=False)
    assert raw.returncode != 0
    assert "a container name must be specified for pod two, choose one of: [a b]" in raw.stderr
    bad = k.run("logs", "two", "-c", "zz", "-n", ns, check=False)
    assert bad.returncode != 0 and "container zz is not valid for pod two" in bad.stderr

    reader = LineReader(k.popen("logs", "-f", "--tail=0", "logs", "-n", ns))
    try:
        first = reader.wait_for(lambda line: '"GET ' in line, timeout=10)
        reader.wait_for(lambda line: '"GET ' in line and line != first, timeout=10)
    finally:
        lines, _ = reader.stop()
    assert len([line for line in lines if '"GET ' in line]) >= 2
    assert not any(line.startswith("/docker-entrypoint.sh") for line in lines)  # --tail=0


def test_logs_of_pending_and_unscheduled_pods(k: Kubectl) -> None:
    ns = namespace(k, "hs-logs2")
    k.apply(pod_yaml("nowhere", extra_spec="  nodeSelector:\n    hs-none: x\n"), "-n", ns)
    wait_until(lambda: failed_scheduling(k, ns, "nowhere"), 10, 0.2, "FailedScheduling")
    p = k.run("logs", "nowhere", "-n", ns, check=False)
    assert p.returncode == 0 and p.stdout == ""  # kube-apiserver: no location, no content
    raw = k.run("get", "--raw", f"/api/v1/namespaces/{ns}/pods/nowhere/log?tailLines=-1", check=False)
    assert raw.returncode != 0 and "must be greater than or equal to 0" in raw.stderr
    gone = k.run("logs", "missing", "-n", ns, check=False)
    assert gone.returncode != 0 and 'pods "missing" not found' in gone.stderr


def test_hostsim_restart_keeps_pods_and_ips(k: Kubectl, host: HostSimProcess) -> None:
    ns = namespace(k, "hs-restart")
    k.apply(pod_yaml("keep"), "-n", ns)
    wait_ready(k, ns, "keep")
    before = get_pod(k, ns, "keep")
    assert host.stop() == 0
    down = k.run("logs", "keep", "-n", ns, check=False)  # nobody listens on the kubelet port now
    assert down.returncode != 0 and "connect: connection refused" in down.stderr, down.stderr
    assert f'Get "https://{host.address}:' in down.stderr
    host.start()
    k.apply(pod_yaml("new", extra_spec=f"  nodeName: {before['spec']['nodeName']}\n"), "-n", ns)
    wait_ready(k, ns, "new")
    after = get_pod(k, ns, "keep")
    assert after["status"]["podIP"] == before["status"]["podIP"]
    assert after["status"]["containerStatuses"] == before["status"]["containerStatuses"]
    assert get_pod(k, ns, "new")["status"]["podIP"] != before["status"]["podIP"]
    assert k.get_json("node", NODES[0])["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == host.port
    # the node's new kubelet port is written back and answers
    port = k.get_json("node", before["spec"]["nodeName"])["status"]["daemonEndpoints"]["kubeletEndpoint"][
        "Port"
    ]
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(f"https://{host.address}:{port}/healthz", context=ctx, timeout=10) as r:
        assert r.read() == b"ok"
    assert "nginx/1.27" in k("logs", "keep", "-n", ns)  # served by the restarted kubelet server
