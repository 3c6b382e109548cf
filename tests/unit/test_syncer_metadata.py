"""Host metadata (§2.1), virtual metadata (§2.4), IsManaged (§1.9), reverse lookups (§1.8)."""

from __future__ import annotations

import copy
import hashlib

import pytest

from vcluster.syncer import constants as c
from vcluster.syncer import kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.names import host_name_short

CTX = SyncContext(vcluster="my-vc", host_namespace="vc-ns", owner_uid="owner-uid")


def hex10(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def vobj(kind: str = "ConfigMap", **meta: object) -> dict:
    m = {
        "name": "cfg",
        "namespace": "default",
        "uid": "u1",
        "resourceVersion": "9",
        "generation": 2,
        "creationTimestamp": "t",
        "finalizers": ["f"],
        "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "x"}],
        "managedFields": [{}],
        "labels": {"app": "a", "release": "r", "vcluster.loft.sh/namespace": "spoof"},
        "annotations": {"note": "n", c.NAME_ANNOTATION: "spoof", c.MANAGED_ANNOTATIONS_ANNOTATION: "x"},
    }
    m.update(meta)
    return {"apiVersion": "v1", "kind": kind, "metadata": m, "data": {"k": "v"}}


def test_host_metadata_table_2_1() -> None:
    v = vobj()
    before = copy.deepcopy(v)
    m = metadata.host_metadata(v, CTX, kinds.CONFIGMAP)
    assert v == before
    assert m == {
        "name": "cfg-x-default-x-my-vc",
        "namespace": "vc-ns",
        "labels": {
            "app": "a",
            "vcluster.loft.sh/label-my-vc-x-" + hex10("release"): "r",
            "vcluster.loft.sh/label-my-vc-x-" + hex10("vcluster.loft.sh/namespace"): "spoof",
            "vcluster.loft.sh/managed-by": "my-vc",
            "vcluster.loft.sh/namespace": "default",
        },
        "annotations": {
            "note": "n",
            "vcluster.loft.sh/managed-annotations": "note",
            "vcluster.loft.sh/object-name": "cfg",
            "vcluster.loft.sh/object-namespace": "default",
            "vcluster.loft.sh/object-uid": "u1",
            "vcluster.loft.sh/object-kind": "/v1, Kind=ConfigMap",
            "vcluster.loft.sh/object-host-name": "cfg-x-default-x-my-vc",
            "vcluster.loft.sh/object-host-namespace": "vc-ns",
        },
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Service", "name": "my-vc", "uid": "owner-uid", "controller": False}
        ],
    }
    assert hex10("release") == "a4d451ec23"


def test_owner_reference_controller_flag_and_set_owner_off() -> None:
    v = vobj(
        ownerReferences=[
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "x", "controller": True}
        ]
    )
    assert metadata.host_metadata(v, CTX, kinds.CONFIGMAP)["ownerReferences"][0]["controller"] is True
    assert "ownerReferences" not in metadata.host_metadata(v, CTX.replace(set_owner=False), kinds.CONFIGMAP)
    assert "ownerReferences" not in metadata.host_metadata(v, CTX.replace(owner_uid=""), kinds.CONFIGMAP)


def test_cluster_scoped_host_metadata() -> None:
    v = {"metadata": {"name": "high", "uid": "u", "labels": {"tier": "1"}}, "value": 5}
    ctx = CTX.replace(sync_priority_classes=True)
    m = metadata.host_metadata(v, ctx, kinds.PRIORITY_CLASS)
    assert m["name"] == "vcluster-high-x-vc-ns-x-my-vc"
    assert "namespace" not in m and "ownerReferences" not in m
    assert m["labels"] == {"tier": "1", c.MARKER_LABEL: "vc-ns-x-my-vc"}
    assert (
        c.NAMESPACE_ANNOTATION not in m["annotations"] and c.HOST_NAMESPACE_ANNOTATION not in m["annotations"]
    )
    assert m["annotations"][c.KIND_ANNOTATION] == "scheduling.k8s.io/v1, Kind=PriorityClass"


def test_special_names_1_6() -> None:
    assert (
        CTX.host_name_for(kinds.CONFIGMAP, "kube-root-ca.crt", "team-a")
        == "vcluster-kube-root-ca.crt-x-my-vc"
    )
    for kind in (kinds.SERVICE, kinds.ENDPOINTS, kinds.ENDPOINT_SLICE):
        assert CTX.host_name_for(kind, "kubernetes", "default") == "my-vc"
    assert CTX.host_name_for(kinds.SERVICE, "kubernetes", "other") == "kubernetes-x-other-x-my-vc"
    assert CTX.host_name_for(kinds.NODE, "node-1") == "node-1"
    assert CTX.host_name_for(kinds.STORAGE_CLASS, "fast") == "fast"
    assert (
        CTX.replace(sync_storage_classes=True).host_name_for(kinds.STORAGE_CLASS, "fast")
        == "vcluster-fast-x-vc-ns-x-my-vc"
    )
    assert CTX.host_name_for(kinds.POD, "", "default") == ""
    assert CTX.workload_sa == "vc-workload-my-vc"
    assert CTX.cluster_marker == "vc-ns-x-my-vc"


def test_virtual_metadata_2_4() -> None:
    host = {
        "metadata": {
            "name": "h",
            "namespace": "vc-ns",
            "uid": "hu",
            "resourceVersion": "1",
            "labels": {
                "app": "a",
                c.MARKER_LABEL: "my-vc",
                c.NAMESPACE_LABEL: "default",
                c.CONTROLLER_LABEL: "x",
                "vcluster.loft.sh/ns-label-my-vc-x-0123456789": "v",
                "vcluster.loft.sh/label-my-vc-x-" + hex10("release"): "r",
            },
            "annotations": {"keep": "1", c.NAME_ANNOTATION: "n", c.MANAGED_LABELS_ANNOTATION: "x"},
        }
    }
    m = metadata.virtual_metadata(host, CTX, "n", "default")
    assert m == {
        "name": "n",
        "namespace": "default",
        "labels": {"app": "a", "release": "r"},
        "annotations": {"keep": "1"},
    }


def managed_host(**ann: str) -> dict:
    a = {
        c.NAME_ANNOTATION: "cfg",
        c.NAMESPACE_ANNOTATION: "default",
        c.KIND_ANNOTATION: "/v1, Kind=ConfigMap",
        c.HOST_NAME_ANNOTATION: "cfg-x-default-x-my-vc",
        c.HOST_NAMESPACE_ANNOTATION: "vc-ns",
    }
    a.update(ann)
    return {
        "metadata": {
            "name": "cfg-x-default-x-my-vc",
            "namespace": "vc-ns",
            "labels": {c.MARKER_LABEL: "my-vc"},
            "annotations": {k: v for k, v in a.items() if v},
        }
    }


def test_is_managed_positive_and_every_negative_check() -> None:
    assert metadata.is_managed(managed_host(), CTX, kinds.CONFIGMAP)
    assert metadata.is_managed(metadata.to_host_object(vobj(), CTX, kinds.CONFIGMAP), CTX, kinds.CONFIGMAP)
    h = managed_host()
    h["metadata"]["namespace"] = "elsewhere"
    assert not metadata.is_managed(h, CTX, kinds.CONFIGMAP)
    h = managed_host()
    h["metadata"]["labels"][c.MARKER_LABEL] = "other-vc"
    assert not metadata.is_managed(h, CTX, kinds.CONFIGMAP)
    assert not metadata.is_managed(managed_host(**{c.NAME_ANNOTATION: ""}), CTX, kinds.CONFIGMAP)
    assert not metadata.is_managed(managed_host(**{c.NAME_ANNOTATION: "other"}), CTX, kinds.CONFIGMAP)
    assert not metadata.is_managed(managed_host(), CTX, kinds.SECRET)  # object-kind mismatch
    assert not metadata.is_managed(managed_host(**{c.HOST_NAME_ANNOTATION: "x"}), CTX, kinds.CONFIGMAP)
    assert not metadata.is_managed(managed_host(**{c.HOST_NAMESPACE_ANNOTATION: "x"}), CTX, kinds.CONFIGMAP)
    assert metadata.is_managed(managed_host(**{c.KIND_ANNOTATION: ""}), CTX, kinds.CONFIGMAP)  # optional
    unmanaged = {"metadata": {"name": "cfg-x-default-x-my-vc", "namespace": "vc-ns"}}
    assert not metadata.is_managed(unmanaged, CTX, kinds.CONFIGMAP)
    store = {(kinds.CONFIGMAP, "vc-ns", "cfg-x-default-x-my-vc"): ("default", "cfg")}
    assert metadata.is_managed(unmanaged, CTX, kinds.CONFIGMAP, lambda k, ns, n: store.get((k, ns, n)))
    pc = {"metadata": {"name": "vcluster-x-x-vc-ns-x-my-vc", "labels": {c.MARKER_LABEL: "vc-ns-x-my-vc"}}}
    assert metadata.is_managed(pc, CTX, kinds.PRIORITY_CLASS)
    pc["metadata"]["labels"][c.MARKER_LABEL] = "my-vc"
    assert not metadata.is_managed(pc, CTX, kinds.PRIORITY_CLASS)


def test_should_delete_host_object_and_uid_mismatch() -> None:
    assert metadata.should_delete_host_object(managed_host(), kinds.CONFIGMAP)
    assert not metadata.should_delete_host_object(
        managed_host(**{c.HOST_NAMESPACE_ANNOTATION: ""}), kinds.CONFIGMAP
    )
    assert not metadata.should_delete_host_object(managed_host(), kinds.SECRET)
    deleting = {"metadata": {"name": "x", "deletionTimestamp": "t"}}
    assert metadata.should_delete_host_object(deleting, kinds.CONFIGMAP)
    h = managed_host(**{c.UID_ANNOTATION: "old"})
    assert metadata.uid_mismatch(h, {"metadata": {"uid": "new"}}, kinds.CONFIGMAP)
    assert not metadata.uid_mismatch(h, {"metadata": {"uid": "old"}}, kinds.CONFIGMAP)
    assert not metadata.uid_mismatch(managed_host(), {"metadata": {"uid": "new"}}, kinds.CONFIGMAP)


def test_reverse_lookup_order_1_8() -> None:
    store = {(kinds.CONFIGMAP, "vc-ns", "renamed"): ("team", "real")}
    look = lambda k, ns, n: store.get((k, ns, n))  # noqa: E731
    assert metadata.reverse_lookup(CTX, kinds.CONFIGMAP, "vc-ns", "renamed", store_lookup=look) == (
        "team",
        "real",
    )
    assert (
        metadata.reverse_lookup(
            CTX, kinds.CONFIGMAP, "other-ns", "cfg-x-default-x-my-vc", host=managed_host()
        )
        is None
    )
    h = managed_host()
    assert metadata.reverse_lookup(CTX, kinds.CONFIGMAP, "vc-ns", h["metadata"]["name"], host=h) == (
        "default",
        "cfg",
    )
    foreign = managed_host()
    foreign["metadata"]["labels"][c.MARKER_LABEL] = "someone-else"
    assert (
        metadata.reverse_lookup(CTX, kinds.CONFIGMAP, "vc-ns", "cfg-x-default-x-my-vc", host=foreign) is None
    )
    assert metadata.reverse_lookup(CTX, kinds.NODE, "", "node-1") == ("", "node-1")
    # heuristics: the exact host name is accepted only when it recomputes
    search = lambda name: [(kinds.SECRET, "default", "creds"), (kinds.SECRET, "default", "other")]  # noqa: E731
    assert metadata.reverse_lookup(CTX, kinds.SECRET, "vc-ns", "creds-x-default-x-my-vc", search=search) == (
        "default",
        "creds",
    )
    assert metadata.reverse_lookup(CTX, kinds.SECRET, "vc-ns", "zzz-x-default-x-my-vc", search=search) is None
    short = host_name_short("claim", "default", "my-vc")
    found = metadata.reverse_lookup(
        CTX,
        kinds.RESOURCE_CLAIM,
        "vc-ns",
        f"pod-{short}-1",
        search=lambda n: [(kinds.RESOURCE_CLAIM, "default", "claim")],
    )
    assert found == ("default", "claim")


def test_apply_metadata_bookkeeping() -> None:
    source = {"metadata": {"labels": {"a": "1", "b": "2"}, "annotations": {"x": "1"}}}
    target = {"metadata": {"labels": {"local": "v"}, "annotations": {"mine": "m"}}}
    labels, ann = metadata.apply_metadata(source, target)
    assert labels == {"a": "1", "b": "2", "local": "v"}
    assert ann == {
        "x": "1",
        "mine": "m",
        c.MANAGED_ANNOTATIONS_ANNOTATION: "x",
        c.MANAGED_LABELS_ANNOTATION: "a\nb",
    }
    # b disappears from the source: removed from the target, local keys kept
    source["metadata"]["labels"] = {"a": "1"}
    target = {"metadata": {"labels": {**labels}, "annotations": ann}}
    labels, ann = metadata.apply_metadata(source, target)
    assert labels == {"a": "1", "local": "v"}
    assert ann[c.MANAGED_LABELS_ANNOTATION] == "a"


@pytest.mark.parametrize("kind", [kinds.POD, kinds.SECRET, kinds.SERVICE])
def test_ensure_host_metadata_readds_markers(kind: kinds.Kind) -> None:
    host = {"metadata": {"name": "p-x-default-x-my-vc", "namespace": "vc-ns", "labels": {"x": "1"}}}
    virtual = {"metadata": {"name": "p", "namespace": "default", "uid": "u"}}
    metadata.ensure_host_metadata(host, virtual, CTX, kind)
    assert host["metadata"]["labels"] == {"x": "1", c.MARKER_LABEL: "my-vc", c.NAMESPACE_LABEL: "default"}
    assert metadata.is_managed(host, CTX, kind)
