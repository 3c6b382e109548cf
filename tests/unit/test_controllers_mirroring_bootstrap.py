"""Pure parts of the EndpointSlice mirroring controller (desired state, slice metadata, the slice
tracker) and of kube-apiserver's bootstrap loops (the lease reconciler's Endpoints)."""

from __future__ import annotations

from typing import Any

from vcluster.controllers.bootstrap import reconciled_endpoints, slice_needs_update
from vcluster.controllers.endpointslicemirroring import (
    CONTROLLER_NAME,
    Desired,
    SliceTracker,
    address_type,
    new_slice,
    should_mirror,
)
from vcluster.controllers.manager import load_controller_class, resolve_enabled


def _endpoints(**md: Any) -> dict[str, Any]:
    return {"metadata": {"name": "ext", "namespace": "ns", "uid": "u1", **md}}


def test_mirroring_is_registered_and_enabled_by_default() -> None:
    assert "endpointslicemirroring" in resolve_enabled(None)
    assert "bootstrap" in resolve_enabled(None)
    assert load_controller_class("endpointslicemirroring") is not None
    assert load_controller_class("bootstrap") is not None


def test_should_mirror_skips_skip_mirror_and_leader_election() -> None:
    assert should_mirror(_endpoints())
    assert should_mirror(_endpoints(labels={"endpointslice.kubernetes.io/skip-mirror": "false"}))
    assert not should_mirror(_endpoints(labels={"endpointslice.kubernetes.io/skip-mirror": "true"}))
    assert not should_mirror(_endpoints(annotations={"control-plane.alpha.kubernetes.io/leader": "{}"}))
    assert not should_mirror(None)


def test_address_types() -> None:
    assert address_type("10.0.0.1") == "IPv4"
    assert address_type("fd00::1") == "IPv6"
    assert address_type("::ffff:10.0.0.1") == "IPv4"  # To4() of a mapped address is not nil
    assert address_type("not-an-ip") is None


def test_desired_caps_each_subset_ready_first_and_counts_invalid() -> None:
    port = [{"name": "http", "port": 80, "protocol": "TCP"}]
    subset = {
        "addresses": [{"ip": "10.0.0.1"}, {"ip": "bad"}, {"ip": "10.0.0.2"}],
        "notReadyAddresses": [{"ip": "10.0.0.3"}, {"ip": "fd00::1"}],
        "ports": port,
    }
    d = Desired()
    d.add_subset(subset, limit=3)
    v4 = next(v for (at, _), v in d.endpoints.items() if at == "IPv4")
    v6 = next(v for (at, _), v in d.endpoints.items() if at == "IPv6")
    assert [(e["addresses"], e["conditions"]) for e in v4.values()] == [
        (["10.0.0.1"], {"ready": True}),
        (["10.0.0.2"], {"ready": True}),
        (["10.0.0.3"], {"ready": False}),
    ]
    assert v6 == {}  # the limit was reached before it
    assert (d.invalid, d.skipped) == (1, 2)  # "bad" is invalid, fd00::1 over the limit
    assert d.ports[("IPv4", next(iter(d.endpoints))[1])] == port


def test_new_slice_metadata_mirrors_the_endpoints() -> None:
    ep = _endpoints(
        labels={"team": "a", "endpointslice.kubernetes.io/managed-by": "someone"},
        annotations={
            "note": "x",
            "endpoints.kubernetes.io/last-change-trigger-time": "2024-01-01T00:00:00Z",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
        },
    )
    s = new_slice(ep, [], "IPv4", None)
    md = s["metadata"]
    assert md["generateName"] == "ext-" and "name" not in md
    assert md["labels"] == {
        "team": "a",
        "kubernetes.io/service-name": "ext",
        "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME,
    }
    assert md["annotations"] == {"note": "x"}
    assert md["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "name": "ext",
            "uid": "u1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    existing = {"metadata": {"name": "ext-abcde", "uid": "s1", "resourceVersion": "7"}}
    again = new_slice(ep, [], "IPv4", existing)["metadata"]
    assert (again["name"], again["uid"], again["resourceVersion"]) == ("ext-abcde", "s1", "7")
    assert "generateName" not in again


def _slice(uid: str, gen: int) -> dict[str, Any]:
    labels = {"kubernetes.io/service-name": "ext", "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME}
    return {"metadata": {"namespace": "ns", "uid": uid, "generation": gen, "labels": labels}}


def test_tracker_follows_generations_not_metadata_writes() -> None:
    t = SliceTracker()
    t.update(_slice("a", 1))
    assert not t.should_sync(_slice("a", 1))  # our write, or a label/annotation change since
    assert t.should_sync(_slice("a", 2))  # someone changed the endpoints or ports
    assert not t.stale("ns/ext", [_slice("a", 1)])
    assert t.stale("ns/ext", [])  # the cache has not seen our create yet
    t.update(_slice("a", 3))
    assert t.stale("ns/ext", [_slice("a", 2)])
    t.expect_deletion(_slice("a", 3))
    assert t.stale("ns/ext", [_slice("a", 3)])
    assert t.handle_deletion(_slice("a", 3))  # the expected delete
    t.update(_slice("b", 1))
    assert not t.handle_deletion(_slice("b", 1))  # someone else deleted it: resync


def test_lease_reconciler_endpoints() -> None:
    body, changed = reconciled_endpoints(None, "10.0.0.1", 6443)
    assert changed
    assert body["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    assert body["subsets"] == [
        {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}
    ]
    assert reconciled_endpoints(body, "10.0.0.1", 6443) == (body, False)
    # ports are not reconciled (reconcilePorts=false): a right address keeps whatever ports it has
    odd_ports = {
        **body,
        "subsets": [{**body["subsets"][0], "ports": [{"name": "x", "port": 1, "protocol": "TCP"}]}],
    }
    assert reconciled_endpoints(odd_ports, "10.0.0.1", 6443)[1] is False
    # a wrong address is replaced (ports kept); a wrong format remakes the subset with the ports
    moved, changed = reconciled_endpoints(odd_ports, "10.0.0.2", 6443)
    assert changed and moved["subsets"][0]["addresses"] == [{"ip": "10.0.0.2"}]
    assert moved["subsets"][0]["ports"] == [{"name": "x", "port": 1, "protocol": "TCP"}]
    two = {**body, "subsets": [body["subsets"][0], body["subsets"][0]]}
    assert reconciled_endpoints(two, "10.0.0.1", 6443) == (body, True)
    unlabelled = {**body, "metadata": {"name": "kubernetes", "namespace": "default"}}
    assert reconciled_endpoints(unlabelled, "10.0.0.1", 6443) == (body, True)


def test_slice_update_compares_endpoints_ports_and_labels() -> None:
    want = {"metadata": {"labels": {"a": "b"}}, "endpoints": [{"addresses": ["1.2.3.4"]}], "ports": []}
    assert not slice_needs_update({**want, "ports": None}, want)
    assert slice_needs_update({**want, "metadata": {"labels": {}}}, want)
    assert slice_needs_update({**want, "endpoints": []}, want)
