"""Non-pod resources end to end, found by an audit against the syncer spec (§1, §2.2, §5.1, §5.2):
what a Service create asks for (ClusterIP, IP families) reaches the host, Endpoints and
EndpointSlices follow a selector change of their Service, EndpointSlices of long-named Services
reach the host, and a namespace's label change reaches its host pods. One host + virtual cluster
pair for the module; every test works in its own virtual namespace."""

from __future__ import annotations

import json

import pytest

from .syncer_harness import (
    HOST_NS,
    Pair,
    annotations,
    get_json,
    hashed_label_key,
    host_name,
    labels,
    pair_fixture,
    pod_manifest,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture()
OBJECT_NAME = "vcluster.loft.sh/object-name"
SERVICE_NAME = "kubernetes.io/service-name"


def _service(name: str, ns: str, spec: str) -> str:
    return f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {spec}\n"


def _selectorless(name: str, ns: str) -> str:
    """A Service without a selector (user-managed endpoints), ending with a document separator."""
    return _service(name, ns, "{ports: [{port: 80, name: http}]}") + "---\n"


def _slice(name: str, ns: str, service: str, ip: str) -> str:
    return (
        f"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}\n"
        f"  namespace: {ns}\n  labels: {{{SERVICE_NAME}: {service}}}\naddressType: IPv4\n"
        f"endpoints: [{{addresses: [{ip}]}}]\nports: [{{port: 80, name: http}}]\n"
    )


def test_requested_cluster_ip_and_ip_family_policy_are_kept(pair: Pair) -> None:
    """A create asking for a ClusterIP gets it, and `PreferDualStack` stays what was asked for,
    as on any single-stack cluster; a family the host does not serve is refused, not swapped."""
    p, ns = pair, virtual_namespace(pair.kv, "svc-ask")
    p.kv.apply(_service("fixed", ns, "{clusterIP: 10.96.77.77, ports: [{port: 80}]}"))
    v = p.kv.get_json("svc", "fixed", "-n", ns)
    h = p.kh.get_json("svc", host_name("fixed", ns), "-n", HOST_NS)
    assert v["spec"]["clusterIP"] == h["spec"]["clusterIP"] == "10.96.77.77"

    p.kv.apply(_service("pref", ns, "{ipFamilyPolicy: PreferDualStack, ports: [{port: 80}]}"))
    v = p.kv.get_json("svc", "pref", "-n", ns)
    h = p.kh.get_json("svc", host_name("pref", ns), "-n", HOST_NS)
    assert v["spec"]["ipFamilyPolicy"] == h["spec"]["ipFamilyPolicy"] == "PreferDualStack"
    assert v["spec"]["ipFamilies"] == ["IPv4"]

    run = p.kv.run(
        "apply", "-f", "-", check=False,
        input=_service("v6", ns, "{ipFamilies: [IPv6], ipFamilyPolicy: SingleStack, ports: [{port: 80}]}"),
    )  # fmt: skip
    assert run.returncode != 0 and "IPv6" in run.stderr, run.stdout + run.stderr
    assert get_json(p.kv, "svc", "v6", "-n", ns) is None
    assert get_json(p.kh, "svc", host_name("v6", ns), "-n", HOST_NS) is None


def test_selector_removed_alone_replaces_host_controller_endpoints(pair: Pair) -> None:
    """Removing a Service's selector is enough for the virtual Endpoints to replace the host
    controller's (§5.2): nothing else has to touch the Endpoints."""
    p, ns = pair, virtual_namespace(pair.kv, "ep-sel-gone")
    hname = host_name("web", ns)
    p.kv("create", "service", "clusterip", "web", "-n", ns, "--tcp=80:80")
    wait_until(lambda: get_json(p.kh, "endpoints", hname, "-n", HOST_NS), 15, what="host controller's")
    wait_until(lambda: get_json(p.kv, "endpoints", "web", "-n", ns), 15, what="virtual controller's")
    p.kv("patch", "svc", "web", "-n", ns, "--type=json", "-p", '[{"op":"remove","path":"/spec/selector"}]')
    wait_until(
        lambda: annotations(get_json(p.kh, "endpoints", hname, "-n", HOST_NS)).get(OBJECT_NAME) == "web",
        10,
        what="the virtual endpoints on the host",
    )


def test_selector_added_removes_the_synced_endpoint_slice(pair: Pair) -> None:
    """A user EndpointSlice of a selector-less Service is synced; once the Service selects pods the
    host's controller makes its slices and the synced copy goes (§5.2)."""
    p, ns = pair, virtual_namespace(pair.kv, "eps-sel-new")
    hslice = host_name("manual", ns)
    p.kv.apply(_selectorless("db", ns) + _slice("manual", ns, "db", "10.3.0.1"))
    wait_until(lambda: get_json(p.kh, "endpointslice", hslice, "-n", HOST_NS), 15, what="synced slice")
    p.kv("patch", "svc", "db", "-n", ns, "-p", '{"spec":{"selector":{"app":"db"}}}')
    wait_until(
        lambda: get_json(p.kh, "endpointslice", hslice, "-n", HOST_NS) is None, 10, what="slice deleted"
    )


def test_endpoint_slice_of_a_long_service_name_points_at_its_host_service(pair: Pair) -> None:
    """The host slice's service-name label is the host Service's name, which SafeConcatName keeps
    within 63 characters (a plain join would be an invalid label value, refused by the host)."""
    p = pair
    ns = virtual_namespace(p.kv, "eps-long-namespace-name-for-the-syncer-audit-0123456789")
    svc = "a-selectorless-service-with-a-very-long-name-0123456789abcdef"
    p.kv.apply(_selectorless(svc, ns) + _slice("s1", ns, svc, "10.3.0.2"))
    hslice = wait_until(
        lambda: get_json(p.kh, "endpointslice", host_name("s1", ns), "-n", HOST_NS), 15, what="synced slice"
    )
    hsvc = host_name(svc, ns)
    assert len(hsvc) <= 63 and get_json(p.kh, "svc", hsvc, "-n", HOST_NS) is not None
    assert labels(hslice)[SERVICE_NAME] == hsvc


def test_namespace_label_change_reaches_its_host_pods(pair: Pair) -> None:
    """Host pods carry their virtual namespace's labels as `ns-label` keys (§2.2, what translated
    NetworkPolicy namespace selectors match): a label change of the namespace re-syncs its pods."""
    p, ns = pair, virtual_namespace(pair.kv, "nslabels")
    p.kv("label", "ns", ns, "team=a")
    p.kv.apply(pod_manifest("p", ns))
    key = hashed_label_key("vcluster.loft.sh/ns-label", "team")
    hname = host_name("p", ns)
    wait_until(lambda: labels(get_json(p.kh, "pod", hname, "-n", HOST_NS)).get(key) == "a", 15)
    p.kv("label", "ns", ns, "team=b", "--overwrite")
    wait_until(lambda: labels(get_json(p.kh, "pod", hname, "-n", HOST_NS)).get(key) == "b", 10, what="b")
    p.kv("label", "ns", ns, "team-")
    wait_until(lambda: key not in labels(get_json(p.kh, "pod", hname, "-n", HOST_NS)), 10, what="gone")


def test_config_map_made_immutable_is_immutable_on_the_host(pair: Pair) -> None:
    """`immutable` set after the sync reaches the host copy, so a host edit is refused there and
    never turns into a patch the virtual API server refuses over and over."""
    p, ns = pair, virtual_namespace(pair.kv, "cm-immutable")
    hname = host_name("frozen", ns)
    p.kv("create", "configmap", "frozen", "-n", ns, "--from-literal=a=1")
    p.kv("annotate", "configmap", "frozen", "-n", ns, "vcluster.loft.sh/force-sync=true")
    wait_until(lambda: get_json(p.kh, "configmap", hname, "-n", HOST_NS), 15, what="synced")
    p.kv("patch", "configmap", "frozen", "-n", ns, "-p", '{"immutable":true}')
    wait_until(lambda: (get_json(p.kh, "configmap", hname, "-n", HOST_NS) or {}).get("immutable"), 10)
    run = p.kh.run("patch", "configmap", hname, "-n", HOST_NS, "-p", '{"data":{"a":"2"}}', check=False)
    assert run.returncode != 0 and "immutable" in run.stderr
    assert p.kv.get_json("configmap", "frozen", "-n", ns)["data"] == {"a": "1"}


def test_service_traffic_and_load_balancer_settings_reach_the_host(pair: Pair) -> None:
    """Spec fields the user edits after the create that only matter where the Service really is:
    `internalTrafficPolicy`, and for a switch to LoadBalancer its class and node-port choice."""
    p, ns = pair, virtual_namespace(pair.kv, "svc-traffic")
    hname = host_name("web", ns)
    p.kv("create", "service", "clusterip", "web", "-n", ns, "--tcp=80:80")
    patch = '{"spec":{"internalTrafficPolicy":"Local"}}'
    p.kv("patch", "svc", "web", "-n", ns, "-p", patch)
    wait_until(
        lambda: p.kh.get_json("svc", hname, "-n", HOST_NS)["spec"]["internalTrafficPolicy"] == "Local", 10
    )
    lb = {
        "type": "LoadBalancer",
        "allocateLoadBalancerNodePorts": False,
        "loadBalancerClass": "example.com/lb",
    }
    p.kv("patch", "svc", "web", "-n", ns, "-p", json.dumps({"spec": lb}))

    def host_lb() -> dict | None:
        spec = p.kh.get_json("svc", hname, "-n", HOST_NS)["spec"]
        return spec if spec["type"] == "LoadBalancer" and spec.get("loadBalancerClass") else None

    spec = wait_until(host_lb, 10, what="LoadBalancer settings on the host")
    assert spec["allocateLoadBalancerNodePorts"] is False and spec["loadBalancerClass"] == "example.com/lb"
    assert not any(port.get("nodePort") for port in spec["ports"])
    vspec = p.kv.get_json("svc", "web", "-n", ns)["spec"]
    assert not any(port.get("nodePort") for port in vspec["ports"])
