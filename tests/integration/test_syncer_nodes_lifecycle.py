"""Fake nodes, their node Services, terminating pods and event copies end to end (default
configuration): DaemonSet pods do not keep fake nodes alive and do not bring them back (spec §9.1,
behaviour 14 of §13); a host pod already terminating is not deleted again (§3.11); a host Service
this virtual cluster does not own is never reused or deleted as a node Service (§9.3); no event
is copied into a namespace that is being deleted (§5.5); the writes are logged (§8.7)."""

from __future__ import annotations

import time

import pytest

from .conftest import LineReader
from .syncer_harness import (
    HOST_NS,
    VC_NAME,
    Pair,
    get_json,
    host_name,
    items,
    labels,
    metric_samples,
    name_of,
    pair_fixture,
    pod_manifest,
    pod_running,
    safe_concat_name,
    virtual_namespace,
    wait_until,
    write_counts,
)

pytestmark = pytest.mark.integration

pair = pair_fixture()
FAKE = "vcluster.loft.sh/fake-node=true"


def _fake_nodes(p: Pair) -> dict[str, str]:
    """Fake virtual nodes: name -> UID."""
    return {name_of(n): n["metadata"]["uid"] for n in items(p.kv, "nodes", "-l", FAKE)}


def _uids(p: Pair, ns: str, selector: str) -> set[str]:
    return {x["metadata"]["uid"] for x in items(p.kv, "pods", "-n", ns, "-l", selector)}


def _workloads(ns: str) -> str:
    pod = "terminationGracePeriodSeconds: 1\n      containers:\n      - name: main\n        image: nginx\n"
    return "\n---\n".join(
        f"apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{extra}"
        f"  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n"
        f"      labels: {{app: {name}}}\n    spec:\n      {pod}"
        for kind, name, extra in (("DaemonSet", "agent", ""), ("Deployment", "web", "  replicas: 3\n"))
    )


def _all_running(p: Pair, ns: str, selector: str, count: int) -> bool:
    pods = items(p.kv, "pods", "-n", ns, "-l", selector)
    return len(pods) == count and all((x.get("status") or {}).get("phase") == "Running" for x in pods)


def _cleanup_pod(p: Pair, ns: str, name: str) -> None:
    p.kv("delete", "pod", name, "-n", ns, "--grace-period=0", "--force", "--ignore-not-found")
    hname = host_name(name, ns)
    wait_until(lambda: get_json(p.kh, "pod", hname, "-n", HOST_NS) is None, 15, what=f"host pod {hname} gone")


def _watch(p: Pair, *args: str) -> LineReader:
    """`kubectl get ARGS --watch`: one `<event> <name> <uid>` line per change (the list first)."""
    fmt = '{.type} {.object.metadata.name} {.object.metadata.uid}{"\\n"}'
    return LineReader(p.kv.popen("get", *args, "--watch", "--output-watch-events", "-o", f"jsonpath={fmt}"))


def _added(lines: list[str]) -> set[str]:
    """The UIDs a watch reported as ADDED."""
    return {ln.split()[2] for ln in lines if ln.startswith("ADDED ")}


def _all_gone(p: Pair, ns: str) -> bool:
    """No fake node and no agent pod is left."""
    return not _fake_nodes(p) and not _uids(p, ns, "app=agent")


def test_daemonset_pods_do_not_keep_or_bring_back_fake_nodes(pair: Pair) -> None:
    """§9.1: a fake node exists while a non-DaemonSet pod runs on it; once only the DaemonSet's
    pods remain it is deleted, once, and neither it nor the DaemonSet's pods come back."""
    p, ns = pair, virtual_namespace(pair.kv, "daemons")
    p.kv.apply(_workloads(ns))
    wait_until(lambda: _all_running(p, ns, "app=web", 3), 30, what="three Running web pods")
    nodes = _fake_nodes(p)
    assert nodes, "no fake node for the deployment's pods"
    wait_until(lambda: _all_running(p, ns, "app=agent", len(nodes)), 30, what="a Running agent pod per node")
    daemon_uids = _uids(p, ns, "app=agent")
    node_watch, pod_watch = _watch(p, "nodes", "-l", FAKE), _watch(p, "pods", "-n", ns, "-l", "app=agent")
    try:
        node_watch.wait_for(lambda ln: ln.startswith("ADDED "))  # the watch has started
        pod_watch.wait_for(lambda ln: ln.startswith("ADDED "))
        mark = len(p.vc.log_path.read_text())
        p.kv("delete", "deployment", "web", "-n", ns)
        # the fake nodes go once only DaemonSet pods are left on them; those pods stay bound to the
        # missing nodes until PodGC collects them 20-80 s later, as in kube 1.32 (that part:
        # test_daemonset_missing_nodes.py), and are not replaced meanwhile
        wait_until(lambda: not _fake_nodes(p), 30, what="fake nodes gone")
        time.sleep(3.0)
        assert not _fake_nodes(p), f"fake nodes came back: {_fake_nodes(p)}"
        assert _uids(p, ns, "app=agent") <= daemon_uids, "agent pods created again"
        p.kv("delete", "daemonset", "agent", "-n", ns)
        wait_until(lambda: _all_gone(p, ns), 30, what="the agent pods gone with their DaemonSet")
    finally:
        node_lines, _ = node_watch.stop()
        pod_lines, _ = pod_watch.stop()
        p.kv("delete", "daemonset", "agent", "-n", ns, "--ignore-not-found")
    assert _added(node_lines) == set(nodes.values()), f"fake nodes created again: {node_lines}"
    assert _added(pod_lines) == daemon_uids, f"agent pods created again: {pod_lines}"
    log = p.vc.log_path.read_text()[mark:]
    for name in nodes:
        assert log.count(f"Delete fake node {name} as it is not needed anymore") == 1
        svc = safe_concat_name(VC_NAME, "node", name.replace(".", "-"))
        assert f"Delete host node-service {name} (host {HOST_NS}/{svc})" in log
        assert get_json(p.kh, "service", svc, "-n", HOST_NS) is None


def _host_pod_deletes(p: Pair) -> float:
    return write_counts(p.host, "pods")["delete"]


def test_a_terminating_host_pod_is_deleted_once(pair: Pair) -> None:
    """§3.11: the virtual pod is force-deleted, so its host pod is deleted; while the host pod
    terminates (its updates keep coming) no further DELETE is sent."""
    p, ns = pair, virtual_namespace(pair.kv, "once")
    p.kv.create(
        pod_manifest("slow", ns).replace(
            "terminationGracePeriodSeconds: 1", "terminationGracePeriodSeconds: 30"
        )
    )
    wait_until(lambda: pod_running(p.kv, "slow", ns), 30, what="virtual pod Running")
    hname = host_name("slow", ns)
    before = _host_pod_deletes(p)
    p.kv("delete", "pod", "slow", "-n", ns, "--grace-period=0", "--force")
    wait_until(lambda: get_json(p.kh, "pod", hname, "-n", HOST_NS) is None, 20, what="host pod gone")
    time.sleep(0.5)
    # one DELETE from the syncer, one (grace 0) from the host's kubelet when the containers stopped
    assert _host_pod_deletes(p) - before == 2


def test_a_foreign_service_with_a_node_service_name_is_left_alone(pair: Pair) -> None:
    """§9.3 / §1.9: a host Service named like a node Service that is not this virtual cluster's
    is neither used as the node's address nor deleted with the node."""
    p, ns = pair, virtual_namespace(pair.kv, "foreign")
    taken = set(_fake_nodes(p))
    node = next(name_of(n) for n in items(p.kh, "nodes") if name_of(n) not in taken)
    svc_name = safe_concat_name(VC_NAME, "node", node.replace(".", "-"))
    p.kh("create", "service", "clusterip", svc_name, "-n", HOST_NS, "--tcp=10250:10250")
    foreign = p.kh.get_json("service", svc_name, "-n", HOST_NS)
    hostname = labels(p.kh.get_json("node", node))["kubernetes.io/hostname"]
    spec = f"  nodeSelector:\n    kubernetes.io/hostname: {hostname}\n"
    p.kv.create(pod_manifest("pinned", ns, spec_extra=spec))
    try:
        vpod = wait_until(lambda: pod_running(p.kv, "pinned", ns), 30, what="pinned pod Running")
        assert vpod["spec"]["nodeName"] == node
        vnode = p.kv.get_json("node", node)
        addresses = {a["type"]: a["address"] for a in vnode["status"]["addresses"]}
        assert "InternalIP" not in addresses, addresses
        assert foreign["spec"]["clusterIP"] not in addresses.values()
    finally:
        _cleanup_pod(p, ns, "pinned")
    wait_until(lambda: node not in _fake_nodes(p), 15, what=f"fake node {node} deleted")
    time.sleep(0.5)
    after = get_json(p.kh, "service", svc_name, "-n", HOST_NS)
    assert after is not None, "the foreign Service was deleted with the fake node"
    assert after["metadata"]["resourceVersion"] == foreign["metadata"]["resourceVersion"]
    assert "not managed by this virtual cluster" in p.vc.log_path.read_text()
    p.kh("delete", "service", svc_name, "-n", HOST_NS)


def test_a_node_service_left_without_its_node_is_deleted(pair: Pair) -> None:
    """§9.3: node Services whose virtual node no longer exists (deleted while the syncer was down)
    are looked for every 4 s and deleted; a Service of ours for a node in use is kept."""
    p, ns = pair, virtual_namespace(pair.kv, "sweep")
    p.kv.create(pod_manifest("keeper", ns))
    vpod = wait_until(lambda: pod_running(p.kv, "keeper", ns), 30, what="keeper pod Running")
    used = vpod["spec"]["nodeName"]
    used_svc = wait_until(
        lambda: get_json(
            p.kh, "service", safe_concat_name(VC_NAME, "node", used.replace(".", "-")), "-n", HOST_NS
        ),
        15,
        what="the node service of the node in use",
    )
    taken = set(_fake_nodes(p))
    node = next(name_of(n) for n in items(p.kh, "nodes") if name_of(n) not in taken)
    svc_name = safe_concat_name(VC_NAME, "node", node.replace(".", "-"))
    p.kh.apply(
        f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {svc_name}\n  namespace: {HOST_NS}\n"
        f"  labels: {{vcluster.loft.sh/belongs-to: {VC_NAME}, vcluster.loft.sh/node: {node}}}\n"
        "spec:\n  ports: [{name: kubelet, port: 10250, targetPort: 8443}]\n"
    )
    wait_until(
        lambda: get_json(p.kh, "service", svc_name, "-n", HOST_NS) is None,
        15,
        what="the node service without a node deleted",
    )
    assert f"Delete host node-service {node} (host {HOST_NS}/{svc_name})" in p.vc.log_path.read_text()
    kept = get_json(p.kh, "service", used_svc["metadata"]["name"], "-n", HOST_NS)
    assert kept is not None and kept["metadata"]["uid"] == used_svc["metadata"]["uid"]
    _cleanup_pod(p, ns, "keeper")


def _event_errors(p: Pair) -> float:
    return sum(
        v
        for n, lab, v in metric_samples(p.vc)
        if n == "vcluster_syncer_errors_total" and lab.get("kind") == "event"
    )


def _event_lines(log: str, ns: str) -> list[str]:
    return [ln for ln in log.splitlines() if f"Create virtual event {ns}/" in ln]


def test_no_event_is_copied_into_a_terminating_namespace(pair: Pair) -> None:
    """§5.5: host events about pods of a namespace being deleted are not copied (no 403 retries);
    every event copy is logged with its virtual and host names (§8.7)."""
    p, ns = pair, virtual_namespace(pair.kv, "doomed")
    p.kv.create(pod_manifest("victim", ns))
    wait_until(lambda: pod_running(p.kv, "victim", ns), 30, what="virtual pod Running")
    lines = wait_until(lambda: _event_lines(p.vc.log_path.read_text(), ns), 10, what="event copy log lines")
    assert f"(host {HOST_NS}/{host_name('victim', ns)}." in lines[0], lines[0]
    errors = _event_errors(p)
    p.kv("delete", "namespace", ns, "--wait=false")
    wait_until(lambda: get_json(p.kv, "namespace", ns) is None, 40, what=f"namespace {ns} gone")
    time.sleep(1.0)
    assert _event_errors(p) == errors
    log = p.vc.log_path.read_text()
    assert "is being terminated" not in log, [ln for ln in log.splitlines() if "being terminated" in ln]
