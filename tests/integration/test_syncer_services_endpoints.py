"""Services, Endpoints and Ingresses end to end (spec §5.1-§5.3, §8.4): selector switches between
host-managed and user-managed Endpoints, ExternalName type switches, the ingress class selector and
the `default/kubernetes` Endpoints mirror. One host + virtual cluster pair for the module; every test
works in its own virtual namespace."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import Kubectl
from .syncer_harness import (
    HOST_NS,
    VC_NAME,
    Pair,
    annotations,
    events_for,
    get_json,
    host_name,
    pair_fixture,
    virtual_namespace,
    wait_until,
    write_counts,
)

pytestmark = pytest.mark.integration

CONFIG = """\
sync:
  toHost:
    ingresses:
      enabled: true
  fromHost:
    ingressClasses:
      enabled: true
      selector:
        matchLabels:
          tenant: mine
"""
pair = pair_fixture(CONFIG)
OBJECT_NAME = "vcluster.loft.sh/object-name"


def _selectorless_service(name: str, ns: str) -> str:
    """A Service without a selector (user-managed endpoints)."""
    return (
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\n"
        "spec:\n  ports: [{port: 80, name: http}]\n"
    )


def _endpoints(name: str, ns: str, ip: str) -> str:
    """User-managed Endpoints with one address."""
    return (
        f"apiVersion: v1\nkind: Endpoints\nmetadata: {{name: {name}, namespace: {ns}}}\n"
        f"subsets:\n- addresses: [{{ip: {ip}}}]\n  ports: [{{port: 80, name: http}}]\n"
    )


def _host_ips(ep: dict | None) -> list[str]:
    """The addresses of a host Endpoints object."""
    return [a["ip"] for s in (ep or {}).get("subsets") or [] for a in s.get("addresses") or []]


def _host_deletes(p: Pair, ns: str, name: str) -> int:
    """How many times the syncer deleted the host Endpoints of `ns/name` (its log lines)."""
    return p.vc.log_path.read_text().count(f"Delete host endpoints {ns}/{name} ")


def test_selector_added_leaves_host_controller_endpoints_alone(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "ep-add")
    hname = host_name("m2", ns)
    p.kv.apply(_selectorless_service("m2", ns) + "---\n" + _endpoints("m2", ns, "10.1.2.3"))
    wait_until(lambda: _host_ips(get_json(p.kh, "endpoints", hname, "-n", HOST_NS)) == ["10.1.2.3"], 15)
    p.kv("patch", "svc", "m2", "-n", ns, "-p", '{"spec":{"selector":{"app":"x"}}}')

    def host_controllers() -> dict | None:
        ep = get_json(p.kh, "endpoints", hname, "-n", HOST_NS)
        return ep if ep is not None and OBJECT_NAME not in annotations(ep) else None

    # our copy goes once; the host's endpoints controller makes its own, which stays
    wait_until(host_controllers, 15, what="host-controller endpoints")
    before, deletes = _host_deletes(p, ns, "m2"), write_counts(p.host, "endpoints")["delete"]
    time.sleep(3)
    assert _host_deletes(p, ns, "m2") == before <= 1, p.logs()
    assert write_counts(p.host, "endpoints")["delete"] - deletes < 5
    assert host_controllers() is not None


def test_selector_removed_user_endpoints_replace_host_controllers(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "ep-remove")
    hname = host_name("sel", ns)
    p.kv("create", "service", "clusterip", "sel", "-n", ns, "--tcp=80:80")  # selector app=sel
    wait_until(lambda: get_json(p.kh, "endpoints", hname, "-n", HOST_NS), 15, what="host controller's")
    p.kv("patch", "svc", "sel", "-n", ns, "--type=json", "-p", '[{"op":"remove","path":"/spec/selector"}]')
    p.kv.apply(_endpoints("sel", ns, "10.1.2.5"))

    def ours() -> dict | None:
        ep = get_json(p.kh, "endpoints", hname, "-n", HOST_NS)
        return ep if ep is not None and annotations(ep).get(OBJECT_NAME) == "sel" else None

    ep = wait_until(ours, 15, what="the syncer's host endpoints")
    assert _host_ips(ep) == ["10.1.2.5"]
    assert not (get_json(p.kh, "service", hname, "-n", HOST_NS) or {})["spec"].get("selector")
    errors = [e for e in events_for(p.kv, ns, "sel") if e["reason"] == "SyncError"]
    assert not errors, errors
    # later edits of the user's endpoints keep flowing to the host
    p.kv.apply(_endpoints("sel", ns, "10.1.2.6"))
    wait_until(lambda: _host_ips(ours()) == ["10.1.2.6"], 15, what="updated subsets")


def _spec(k: Kubectl, *args: str) -> dict:
    """The spec of an object ({} when it does not exist)."""
    return (get_json(k, *args) or {}).get("spec") or {}


def test_external_name_switches_to_cluster_ip_and_back(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "svc-switch")
    hname = host_name("en", ns)
    p.kv("create", "service", "externalname", "en", "-n", ns, "--external-name", "example.com")
    wait_until(lambda: _spec(p.kh, "svc", hname, "-n", HOST_NS).get("type") == "ExternalName", 15)
    patch = {"spec": {"type": "ClusterIP", "externalName": None, "ports": [{"port": 80}]}}
    p.kv("patch", "svc", "en", "-n", ns, "-p", json.dumps(patch))

    def allocated() -> str:
        h, v = _spec(p.kh, "svc", hname, "-n", HOST_NS), _spec(p.kv, "svc", "en", "-n", ns)
        ip = h.get("clusterIP") or ""
        ok = h.get("type") == v.get("type") == "ClusterIP" and ip and v.get("clusterIP") == ip
        return ip if ok and "externalName" not in h else ""

    ip = wait_until(allocated, 15, what="host-allocated ClusterIP on both sides")
    assert _spec(p.kv, "svc", "en", "-n", ns)["clusterIPs"] == [ip]
    # and back: the host drops its ClusterIP, the virtual Service stays ExternalName
    patch = {"spec": {"type": "ExternalName", "externalName": "foo.example.com"}}
    p.kv("patch", "svc", "en", "-n", ns, "-p", json.dumps(patch))

    def external() -> bool:
        h, v = _spec(p.kh, "svc", hname, "-n", HOST_NS), _spec(p.kv, "svc", "en", "-n", ns)
        same = h.get("type") == v.get("type") == "ExternalName"
        return same and h.get("externalName") == "foo.example.com" and not h.get("clusterIP")

    wait_until(external, 15, what="ExternalName on both sides")
    time.sleep(1)
    assert _spec(p.kv, "svc", "en", "-n", ns)["type"] == "ExternalName"


def test_service_status_conditions_and_health_check_node_port(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "svc-status")
    hname = host_name("lb", ns)
    p.kv.apply(
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: lb, namespace: {ns}}}\nspec:\n"
        "  type: LoadBalancer\n  externalTrafficPolicy: Local\n  healthCheckNodePort: 32123\n"
        "  selector: {app: lb}\n  ports: [{port: 80}]\n"
    )
    host = wait_until(lambda: get_json(p.kh, "svc", hname, "-n", HOST_NS), 15, what="host service")
    assert host["spec"]["healthCheckNodePort"] == 32123  # the user's port, not a host-chosen one
    p.kv.apply(_selectorless_service("plain", ns))
    hplain = host_name("plain", ns)
    wait_until(lambda: get_json(p.kh, "svc", hplain, "-n", HOST_NS), 15, what="host service")
    cond = {
        "type": "Ready", "status": "True", "reason": "Checked", "message": "ok",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }  # fmt: skip
    status = {"status": {"conditions": [cond], "loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}
    p.kh("patch", "svc", hplain, "-n", HOST_NS, "--subresource=status", "-p", json.dumps(status))

    def virtual_status() -> dict:
        st = (get_json(p.kv, "svc", "plain", "-n", ns) or {}).get("status") or {}
        return st if st.get("conditions") else {}

    st = wait_until(virtual_status, 15, what="conditions copied to the virtual service")
    assert st["conditions"][0]["reason"] == "Checked"
    assert not st.get("loadBalancer", {}).get("ingress")  # blanked for a ClusterIP service


def _node_port_service(name: str, ns: str, port: int) -> str:
    return (
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n"
        f"  type: NodePort\n  selector: {{app: np}}\n  ports: [{{port: 80, nodePort: {port}}}]\n"
    )


def test_requested_node_port_is_the_hosts_and_a_taken_one_is_refused(pair: Pair) -> None:
    """A nodePort asked for in the create is allocated on the host (the one allocator that sees
    every tenant's ports) and shows on both sides; asking for a port the host already gave away
    is refused with the host's reason and the virtual name, and creates nothing anywhere."""
    p, ns = pair, virtual_namespace(pair.kv, "svc-nodeport")
    p.kv.apply(_node_port_service("np", ns, 30801))
    vsvc = get_json(p.kv, "svc", "np", "-n", ns)
    host = get_json(p.kh, "svc", host_name("np", ns), "-n", HOST_NS)
    assert vsvc and host
    assert vsvc["spec"]["ports"][0]["nodePort"] == host["spec"]["ports"][0]["nodePort"] == 30801
    taken = p.kv.run("apply", "-f", "-", input=_node_port_service("np2", ns, 30801), check=False)
    assert taken.returncode != 0
    assert "provided port is already allocated" in taken.stderr, taken.stderr
    assert "np2" in taken.stderr and "-x-" not in taken.stderr, taken.stderr
    assert get_json(p.kv, "svc", "np2", "-n", ns) is None
    assert get_json(p.kh, "svc", host_name("np2", ns), "-n", HOST_NS) is None


# "other" first: once "selected" reached the virtual cluster, the host informer has both
INGRESS_CLASSES = """\
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: other}
spec: {controller: example.com/ingress}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: selected, labels: {tenant: mine}}
spec: {controller: example.com/ingress}
"""


def _warning(p: Pair, ns: str, name: str, text: str) -> bool:
    return any(
        e["reason"] == "SyncWarning" and text in e.get("message", "") for e in events_for(p.kv, ns, name)
    )


def test_ingress_class_selector(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "ing-class")
    p.kh.apply(INGRESS_CLASSES)
    wait_until(lambda: get_json(p.kv, "ingressclass", "selected"), 15, what="selected class in the vcluster")
    for name, cls in (("blocked", "other"), ("missing", "nope"), ("allowed", "selected")):
        p.kv("create", "ingress", name, "-n", ns, f"--class={cls}", "--rule=example.com/=web:80")
    p.kv("create", "ingress", "classless", "-n", ns, "--rule=example.com/=web:80")
    for name in ("allowed", "classless"):
        wait_until(lambda n=name: get_json(p.kh, "ingress", host_name(n, ns), "-n", HOST_NS), 15, what=name)
    for name in ("blocked", "missing"):
        assert get_json(p.kh, "ingress", host_name(name, ns), "-n", HOST_NS) is None, name
    text = (
        'did not sync ingress "blocked" to host because the ingress class "other" in the host does not match'
    )
    wait_until(lambda: _warning(p, ns, "blocked", text), 10, what="warning on the blocked ingress")
    text = 'did not sync ingress "missing" to host because the ingress class "nope" couldn\'t be reached'
    wait_until(lambda: _warning(p, ns, "missing", text), 10, what="warning on the missing-class ingress")
    # the host class gains the selected label, the missing class appears: their ingresses follow
    # without any change to the ingresses themselves
    p.kh("label", "ingressclass", "other", "tenant=mine")
    p.kh.apply(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\n"
        "metadata: {name: nope, labels: {tenant: mine}}\nspec: {controller: example.com/ingress}\n"
    )
    for name in ("blocked", "missing"):
        wait_until(
            lambda n=name: get_json(p.kh, "ingress", host_name(n, ns), "-n", HOST_NS),
            15,
            what=f"{name} synced once its class is selected",
        )


HOST_VC_ENDPOINTS = f"""\
apiVersion: v1
kind: Endpoints
metadata: {{name: {VC_NAME}, namespace: {HOST_NS}}}
subsets:
- addresses: [{{ip: 10.9.8.7, hostname: vc-0, nodeName: node-1}}]
  ports: [{{name: https, port: 8443}}, {{name: kubelet, port: 10250}}]
"""


def test_kubernetes_endpoints_mirror_host_vcluster_endpoints(pair: Pair) -> None:
    p = pair
    p.kh.apply(HOST_VC_ENDPOINTS)
    want = [
        {"addresses": [{"ip": "10.9.8.7"}], "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}]}
    ]

    def mirrored() -> dict | None:
        ep = get_json(p.kv, "endpoints", "kubernetes", "-n", "default")
        return ep if ep is not None and ep.get("subsets") == want else None

    ep = wait_until(mirrored, 15, what="default/kubernetes endpoints mirroring the host")
    assert ep["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "true"
    # the EndpointSlice kube-apiserver keeps beside them follows, and comes back when deleted
    want_endpoints = [{"addresses": ["10.9.8.7"], "conditions": {"ready": True}}]

    def slice_mirrored() -> dict | None:
        es = get_json(p.kv, "endpointslices.discovery.k8s.io", "kubernetes", "-n", "default")
        return es if es is not None and es.get("endpoints") == want_endpoints else None

    es = wait_until(slice_mirrored, 15, what="default/kubernetes EndpointSlice mirroring the host")
    assert es["ports"] == [{"name": "https", "port": 8443, "protocol": "TCP"}]
    assert es["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    p.kv.run("delete", "endpointslices.discovery.k8s.io", "kubernetes", "-n", "default")
    es2 = wait_until(slice_mirrored, 15, what="default/kubernetes EndpointSlice recreated")
    assert es2["metadata"]["uid"] != es["metadata"]["uid"]
    # the host object is not the syncer's: left as it is
    host = get_json(p.kh, "endpoints", VC_NAME, "-n", HOST_NS)
    assert host is not None and OBJECT_NAME not in annotations(host)
    assert len(host["subsets"][0]["ports"]) == 2


def test_kubernetes_endpoints_name_the_api_server_while_the_host_has_none(pair: Pair) -> None:
    # a virtual cluster running outside the host (its host Service selects no pod) keeps
    # default/kubernetes pointing at its own API server: after a delete, and after the host's
    # Endpoints for it go away
    p = pair
    p.kh.run("delete", "endpoints", VC_NAME, "-n", HOST_NS, "--ignore-not-found")
    own = [
        {
            "addresses": [{"ip": "127.0.0.1"}],
            "ports": [{"name": "https", "port": p.vc.port, "protocol": "TCP"}],
        }
    ]

    def own_endpoints() -> dict | None:
        ep = get_json(p.kv, "endpoints", "kubernetes", "-n", "default")
        return ep if ep is not None and ep.get("subsets") == own else None

    first = wait_until(own_endpoints, 15, what="default/kubernetes naming the API server")
    p.kv("delete", "endpoints", "kubernetes", "-n", "default")
    again = wait_until(own_endpoints, 15, what="default/kubernetes endpoints recreated")
    assert again["metadata"]["uid"] != first["metadata"]["uid"]
    assert again["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "true"
    es = get_json(p.kv, "endpointslices.discovery.k8s.io", "kubernetes", "-n", "default")
    assert es is not None and es["endpoints"][0]["addresses"] == ["127.0.0.1"]
    assert es["ports"] == [{"name": "https", "port": p.vc.port, "protocol": "TCP"}]


def test_deleted_kubernetes_service_comes_back_with_the_host_cluster_ip(pair: Pair) -> None:
    p = pair
    host_ip = get_json(p.kh, "service", VC_NAME, "-n", HOST_NS)["spec"]["clusterIP"]
    before = get_json(p.kv, "service", "kubernetes", "-n", "default")
    assert before is not None and before["spec"]["clusterIP"] == host_ip
    p.kv("delete", "service", "kubernetes", "-n", "default")

    def recreated() -> dict | None:
        svc = get_json(p.kv, "service", "kubernetes", "-n", "default")
        return svc if svc is not None and svc["metadata"]["uid"] != before["metadata"]["uid"] else None

    svc = wait_until(recreated, 15, what="default/kubernetes recreated")
    assert svc["spec"]["clusterIP"] == host_ip and svc["spec"]["type"] == "ClusterIP"
    assert [(x["name"], x["port"]) for x in svc["spec"]["ports"]] == [("https", 443)]
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    # its Endpoints (deleted with it by the endpoints controller) come back too
    wait_until(
        lambda: (get_json(p.kv, "endpoints", "kubernetes", "-n", "default") or {}).get("subsets"),
        15,
        what="default/kubernetes endpoints after the service came back",
    )
