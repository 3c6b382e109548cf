"""ServiceIPAllocator: ClusterIP and NodePort allocation with kube-apiserver's rules and messages."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

import pytest

from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.ipalloc import ServiceIPAllocator


def svc(name: str = "s", stype: str = "ClusterIP", ns: str = "default", **spec: Any) -> dict[str, Any]:
    ports = spec.pop("ports", [{"port": 80, "protocol": "TCP", "targetPort": 80}])
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": stype, "ports": ports, "selector": {"app": name}, **spec},
    }


def messages(err: StatusError) -> list[str]:
    return [f"{c.field}: {c.message}" for c in err.causes]


@pytest.fixture
def alloc() -> ServiceIPAllocator:
    return ServiceIPAllocator(rng=random.Random(7))


def test_dynamic_cluster_ip_defaults(alloc: ServiceIPAllocator) -> None:
    s = svc()
    alloc.allocate(s)
    spec = s["spec"]
    ip = ipaddress.ip_address(spec["clusterIP"])
    assert ip in ipaddress.ip_network("10.96.0.0/12")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    # dynamic values come from the upper band (offset 256 for a /12), never the reserved first IP
    assert int(ip) - int(ipaddress.ip_address("10.96.0.1")) >= 256
    assert alloc.ip_allocated(spec["clusterIP"])
    assert "nodePort" not in spec["ports"][0]


def test_first_address_is_reserved_for_kubernetes(alloc: ServiceIPAllocator) -> None:
    assert alloc.kubernetes_ip == "10.96.0.1"
    assert alloc.ip_allocated("10.96.0.1")
    with pytest.raises(StatusError) as ei:
        alloc.allocate(svc(clusterIP="10.96.0.1"))
    assert messages(ei.value) == [
        'spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: '
        "provided IP is already allocated"
    ]
    k = svc("kubernetes", clusterIP="10.96.0.1")
    alloc.allocate(k)  # the kubernetes service itself may hold it
    alloc.release(k)
    assert alloc.ip_allocated("10.96.0.1")


def test_requested_ip_out_of_range_is_rejected_with_kube_message(alloc: ServiceIPAllocator) -> None:
    with pytest.raises(StatusError) as ei:
        alloc.allocate(svc("web", clusterIP="10.0.0.5"))
    err = ei.value
    assert err.code == 422 and err.reason == "Invalid"
    assert err.message == (
        'Service "web" is invalid: spec.clusterIPs: Invalid value: []string{"10.0.0.5"}: failed to '
        "allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid "
        "IPs is 10.96.0.0/12"
    )
    assert err.causes[0].reason == "FieldValueInvalid"


def test_requested_ip_taken_then_freed(alloc: ServiceIPAllocator) -> None:
    a = svc("a", clusterIP="10.96.0.10")
    alloc.allocate(a)
    assert a["spec"]["clusterIPs"] == ["10.96.0.10"]
    with pytest.raises(StatusError) as ei:
        alloc.allocate(svc("b", clusterIPs=["10.96.0.10"], clusterIP="10.96.0.10"))
    assert "failed to allocate IP 10.96.0.10: provided IP is already allocated" in ei.value.message
    alloc.release(a)
    assert not alloc.ip_allocated("10.96.0.10")
    alloc.allocate(svc("b", clusterIP="10.96.0.10"))
    assert alloc.ip_allocated("10.96.0.10")


def test_network_and_broadcast_are_not_allocatable(alloc: ServiceIPAllocator) -> None:
    for ip in ("10.96.0.0", "10.111.255.255"):
        with pytest.raises(StatusError) as ei:
            alloc.allocate(svc(clusterIP=ip))
        assert "is not in the valid range" in ei.value.message
    alloc.allocate(svc(clusterIP="10.111.255.254"))


def test_invalid_ip_and_family_errors(alloc: ServiceIPAllocator) -> None:
    with pytest.raises(StatusError) as ei:
        alloc.allocate(svc(clusterIP="not-an-ip"))
    assert messages(ei.value) == [
        'spec.clusterIPs[0]: Invalid value: "not-an-ip": must be a valid IP address, '
        "(e.g. 10.9.8.7 or 2001:db8::ffff)"
    ]
    with pytest.raises(StatusError) as ei:
        alloc.allocate(svc(ipFamilies=["IPv6"]))
    assert messages(ei.value) == ['spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster']
    with pytest.raises(StatusError) as ei:
        alloc.allocate(svc(ipFamilyPolicy="RequireDualStack"))
    assert messages(ei.value) == [
        'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for '
        "dual-stack services"
    ]
    with pytest.raises(StatusError) as ei:
        alloc.allocate(svc(clusterIP="10.96.0.5", clusterIPs=["10.96.0.6"]))
    assert messages(ei.value) == [
        'spec.clusterIPs: Invalid value: []string{"10.96.0.6"}: first value must match `clusterIP`'
    ]
    assert not alloc.ip_allocated("10.96.0.5") and not alloc.ip_allocated("10.96.0.6")


def test_prefer_dual_stack_on_single_stack_cluster(alloc: ServiceIPAllocator) -> None:
    s = svc(ipFamilyPolicy="PreferDualStack")
    alloc.allocate(s)
    assert s["spec"]["ipFamilies"] == ["IPv4"]
    assert len(s["spec"]["clusterIPs"]) == 1


def test_headless_gets_no_ip(alloc: ServiceIPAllocator) -> None:
    free = alloc.free_ips
    s = svc(clusterIP="None")
    alloc.allocate(s)
    assert s["spec"]["clusterIP"] == "None" and s["spec"]["clusterIPs"] == ["None"]
    assert s["spec"]["ipFamilyPolicy"] == "SingleStack" and s["spec"]["ipFamilies"] == ["IPv4"]
    # headless without a selector defaults to RequireDualStack with both families (kube quirk)
    s2 = svc("h2", clusterIP="None")
    del s2["spec"]["selector"]
    alloc.allocate(s2)
    assert s2["spec"]["ipFamilyPolicy"] == "RequireDualStack"
    assert s2["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
    assert alloc.free_ips == free
    alloc.release(s)
    assert alloc.free_ips == free


def test_external_name_gets_nothing(alloc: ServiceIPAllocator) -> None:
    s = svc("ext", "ExternalName", externalName="example.com", ports=[])
    alloc.allocate(s)
    assert "clusterIP" not in s["spec"] and "ipFamilies" not in s["spec"]
    assert "ipFamilyPolicy" not in s["spec"]


def test_node_port_dynamic_and_shared_between_protocols(alloc: ServiceIPAllocator) -> None:
    s = svc(
        "dns",
        "NodePort",
        ports=[
            {"name": "udp", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            {"name": "web", "port": 80, "protocol": "TCP", "targetPort": 80},
        ],
    )
    alloc.allocate(s)
    ports = s["spec"]["ports"]
    assert ports[0]["nodePort"] == ports[1]["nodePort"]
    assert ports[2]["nodePort"] != ports[0]["nodePort"]
    for p in ports:
        assert 30000 <= p["nodePort"] <= 32767
        # the dynamic band starts above the static offset (86 for 2768 ports)
        assert p["nodePort"] >= 30000 + 86
        assert alloc.port_allocated(p["nodePort"])
    alloc.release(s)
    assert not any(alloc.port_allocated(p["nodePort"]) for p in ports)


def test_requested_node_port_errors(alloc: ServiceIPAllocator) -> None:
    a = svc("a", "NodePort", ports=[{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30000}])
    alloc.allocate(a)
    ip_a = a["spec"]["clusterIP"]
    b = svc("b", "NodePort", ports=[{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30000}])
    used = alloc.free_ips
    with pytest.raises(StatusError) as ei:
        alloc.allocate(b)
    assert ei.value.message == (
        'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30000: '
        "provided port is already allocated"
    )
    assert alloc.free_ips == used, "the cluster IP taken for b was given back"
    c = svc("c", "NodePort", ports=[{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 80}])
    with pytest.raises(StatusError) as ei:
        alloc.allocate(c)
    assert messages(ei.value) == [
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of "
        "valid ports is 30000-32767"
    ]
    assert alloc.ip_allocated(ip_a)


def test_load_balancer_without_node_ports_and_health_check(alloc: ServiceIPAllocator) -> None:
    s = svc("lb", "LoadBalancer", allocateLoadBalancerNodePorts=False)
    alloc.allocate(s)
    assert "nodePort" not in s["spec"]["ports"][0]
    local = svc("lbl", "LoadBalancer", externalTrafficPolicy="Local")
    alloc.allocate(local)
    hc = local["spec"]["healthCheckNodePort"]
    assert alloc.port_allocated(hc) and hc != local["spec"]["ports"][0]["nodePort"]
    alloc.release(local)
    assert not alloc.port_allocated(hc)


def test_undo_gives_everything_back(alloc: ServiceIPAllocator) -> None:
    free_ips, free_ports = alloc.free_ips, alloc.free_ports
    s = svc("n", "NodePort")
    undo = alloc.allocate(s)
    assert alloc.free_ips == free_ips - 1 and alloc.free_ports == free_ports - 1
    undo()
    assert alloc.free_ips == free_ips and alloc.free_ports == free_ports


def test_dry_run_reserves_nothing(alloc: ServiceIPAllocator) -> None:
    free_ips, free_ports = alloc.free_ips, alloc.free_ports
    s = svc("n", "NodePort")
    alloc.allocate(s, dry_run=True)
    assert s["spec"]["clusterIP"] and s["spec"]["ports"][0]["nodePort"]
    assert alloc.free_ips == free_ips and alloc.free_ports == free_ports


def test_update_keeps_ips_and_type_changes(alloc: ServiceIPAllocator) -> None:
    old = svc("u")
    alloc.allocate(old)
    ip = old["spec"]["clusterIP"]
    # a PUT without the allocated values keeps them
    new = svc("u", "NodePort")
    undo = alloc.update(old, new)
    assert new["spec"]["clusterIP"] == ip and new["spec"]["clusterIPs"] == [ip]
    np = new["spec"]["ports"][0]["nodePort"]
    assert alloc.port_allocated(np)
    undo()
    assert not alloc.port_allocated(np) and alloc.ip_allocated(ip)
    alloc.update(old, new)
    # NodePort -> ClusterIP releases the node port
    back = svc("u", clusterIP=ip, clusterIPs=[ip])
    alloc.update(new, back)
    assert not alloc.port_allocated(np)
    # the cluster IP is immutable
    moved = svc("u", clusterIP="10.96.0.77", clusterIPs=["10.96.0.77"])
    with pytest.raises(StatusError) as ei:
        alloc.update(back, moved)
    assert messages(ei.value) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.77"}: may not change once set'
    ]


def test_update_to_and_from_external_name(alloc: ServiceIPAllocator) -> None:
    old = svc("x")
    alloc.allocate(old)
    ip = old["spec"]["clusterIP"]
    ext = svc("x", "ExternalName", externalName="example.com", ports=[])
    undo = alloc.update(old, ext)
    assert not alloc.ip_allocated(ip)
    undo()
    assert alloc.ip_allocated(ip)
    alloc.update(old, ext)
    again = svc("x")
    alloc.update(ext, again)
    assert alloc.ip_allocated(again["spec"]["clusterIP"])
    assert again["spec"]["ipFamilies"] == ["IPv4"]


def test_update_node_ports_add_and_remove(alloc: ServiceIPAllocator) -> None:
    old = svc("p", "NodePort", ports=[{"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80}])
    alloc.allocate(old)
    a = old["spec"]["ports"][0]["nodePort"]
    new = svc(
        "p",
        "NodePort",
        ports=[{"name": "b", "port": 81, "protocol": "TCP", "targetPort": 81, "nodePort": 31000}],
        clusterIP=old["spec"]["clusterIP"],
    )
    alloc.update(old, new)
    assert alloc.port_allocated(31000) and not alloc.port_allocated(a)


def test_load_rebuilds_state_from_store() -> None:
    a = ServiceIPAllocator(rng=random.Random(1))
    stored = [svc("a", "NodePort"), svc("b", clusterIP="10.96.0.10"), svc("h", clusterIP="None")]
    for s in stored:
        a.allocate(s)
    b = ServiceIPAllocator(rng=random.Random(2))
    b.load([*stored, svc("bad", clusterIP="192.168.0.1", clusterIPs=["192.168.0.1"])])
    assert b.free_ips == a.free_ips and b.free_ports == a.free_ports
    assert b.ip_allocated("10.96.0.10") and b.ip_allocated(stored[0]["spec"]["clusterIP"])
    assert b.port_allocated(stored[0]["spec"]["ports"][0]["nodePort"])


def test_small_ranges_fill_up_and_report_full() -> None:
    a = ServiceIPAllocator(cidr="10.0.0.0/29", node_ports="30000-30001", rng=random.Random(3))
    got = set()
    for i in range(5):  # 6 usable, the first is the kubernetes IP
        s = svc(f"s{i}")
        a.allocate(s)
        got.add(s["spec"]["clusterIP"])
    assert len(got) == 5 and "10.0.0.1" not in got
    with pytest.raises(StatusError) as ei:
        a.allocate(svc("full"))
    assert ei.value.code == 500
    assert ei.value.message == "Internal error occurred: failed to allocate a serviceIP: range is full"
    b = ServiceIPAllocator(cidr="10.0.0.0/24", node_ports="30000-30001")
    b.allocate(svc("n1", "NodePort"))
    b.allocate(svc("n2", "NodePort"))
    with pytest.raises(StatusError) as ei:
        b.allocate(svc("n3", "NodePort"))
    assert ei.value.message == "Internal error occurred: failed to allocate a nodePort: range is full"
    assert b.free_ips == 254 - 1 - 2, "the IP of the failed create was given back"


def test_static_band_is_used_after_dynamic_band_is_full() -> None:
    a = ServiceIPAllocator(cidr="10.0.0.0/26", rng=random.Random(4))  # 62 usable, offset 16
    ips = []
    for i in range(61):
        s = svc(f"s{i}")
        a.allocate(s)
        ips.append(int(ipaddress.ip_address(s["spec"]["clusterIP"])) - int(ipaddress.ip_address("10.0.0.1")))
    assert sorted(ips[:46]) == list(range(16, 62)), "the upper band is used first"
    assert sorted(ips[46:]) == list(range(1, 16))


def test_ipv6_cidr() -> None:
    a = ServiceIPAllocator(cidr="fd00:10:96::/108", rng=random.Random(5))
    s = svc()
    a.allocate(s)
    assert ipaddress.ip_address(s["spec"]["clusterIP"]).version == 6
    assert s["spec"]["ipFamilies"] == ["IPv6"]
    with pytest.raises(StatusError) as ei:
        a.allocate(svc(clusterIP="10.96.0.5"))
    assert messages(ei.value) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.5"}: IPv4 is not configured on this cluster'
    ]
