"""Strategic merge patch as kube-apiserver 1.32 applies it, against real built-in types.

Most cases are ported from k8s.io/apimachinery/pkg/util/strategicpatch/patch_test.go (the
`createStrategicMergePatchTestCaseData`, `strategicMergePatchRawTestCases`,
`customStrategicMergePatchTestCaseData`, `customStrategicMergePatchRawTestCases` tables and
`TestUnknownField`): the upstream `MergeItem` test type is mapped onto real fields with the same
patch metadata —

    mergingList (merge, key name)          -> Pod spec.containers (value -> image, other -> workingDir)
    mergingIntList (merge, primitive)      -> metadata.finalizers
    nonMergingList / nonMergingIntList     -> spec.tolerations / container args
    simpleMap                              -> metadata.labels
    retainKeysMap (retainKeys)             -> Deployment spec.strategy
    retainKeysMergingList (merge,retainKeys, key name) -> Pod spec.volumes

Each case applies the upstream patch (the two-way or three-way one) to the upstream object
(`original` for two-way, `current` for three-way) and expects upstream's result.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcluster.apiserver import schema
from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.smp import smp_supported, strategic_merge_patch

POD = ("", "v1", "Pod")
DEPLOY = ("apps", "v1", "Deployment")
SVC = ("", "v1", "Service")
PDB = ("policy", "v1", "PodDisruptionBudget")
INVALID = "the server rejected our request due to an error in our request"


def c(name: str, image: str | None = None, wd: str | None = None, **kw: Any) -> dict[str, Any]:
    """A container: upstream's mergingList item {name, value, other}."""
    out: dict[str, Any] = {"name": name}
    if image is not None:
        out["image"] = image
    if wd is not None:
        out["workingDir"] = wd
    out.update(kw)
    return out


def pod(containers: list[Any] | None = None, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {} if containers is None else {"containers": containers}
    s.update(spec)
    return {"metadata": {"name": "p"}, "spec": s}


def containers_patch(items: list[Any], order: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": items}
    if order is not None:
        spec["$setElementOrder/containers"] = [{"name": n} for n in order]
    return {"spec": spec}


def meta(**md: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", **md}}


def fin(values: list[str] | None = None, order: list[str] | None = None, delete: list[str] | None = None):
    md: dict[str, Any] = {}
    if values is not None:
        md["finalizers"] = values
    if order is not None:
        md["$setElementOrder/finalizers"] = order
    if delete is not None:
        md["$deleteFromPrimitiveList/finalizers"] = delete
    return {"metadata": md}


def deploy(strategy: dict[str, Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"replicas": 1}
    if strategy is not None:
        spec["strategy"] = strategy
    return {"metadata": {"name": "d"}, "spec": spec}


RU = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}

CASES: list[Any] = [
    # ---------------------------------------------------------------- maps
    pytest.param(
        POD,
        meta(labels={"name": "1"}),
        {"metadata": {"labels": {"value": "1"}}},
        meta(labels={"name": "1", "value": "1"}),
        id="add field to map",
    ),
    pytest.param(
        POD,
        meta(labels={"name": "1"}),
        {"metadata": {"labels": {"name": None, "value": "1"}}},
        meta(labels={"value": "1"}),
        id="add field and delete field from map",
    ),
    pytest.param(
        POD,
        meta(labels={"key1": "1", "key2": "1", "other": "a"}),
        {"metadata": {"labels": {"key2": None}}},
        meta(labels={"key1": "1", "other": "a"}),
        id="delete field from nested map",
    ),
    pytest.param(
        POD,
        meta(labels={"name": "1", "value": "1", "other": "a"}),
        {"metadata": {"labels": {"name": None, "value": None}}},
        meta(labels={"other": "a"}),
        id="delete all fields from map",
    ),
    pytest.param(
        POD,
        meta(labels={"key1": "1", "key2": "1"}),
        {"metadata": {"labels": {"$patch": "delete"}}},
        meta(labels={}),
        id="delete map from nested map ($patch: delete)",
    ),
    pytest.param(
        POD,
        meta(labels={"name": "1", "value": "1"}),
        {"metadata": {"labels": {"$patch": "replace"}}},
        meta(labels={}),
        id="delete all keys from map ($patch: replace)",
    ),
    pytest.param(
        POD,
        meta(labels={"name": "1", "value": "1"}),
        {"metadata": {"labels": {"other": "a", "$patch": "replace"}}},
        meta(labels={"other": "a"}),
        id="add key and delete all keys from map",
    ),
    pytest.param(
        POD,
        pod([c("a")], securityContext={"runAsUser": 1, "fsGroup": 2}),
        {"spec": {"securityContext": {"$patch": "replace", "runAsGroup": 3}}},
        pod([c("a")], securityContext={"runAsGroup": 3}),
        id="$patch: replace on a struct",
    ),
    pytest.param(
        POD,
        pod([c("a")], hostname="h", nodeName="n"),
        {"spec": {"hostname": None}},
        pod([c("a")], nodeName="n"),
        id="null deletes a struct field",
    ),
    pytest.param(
        POD,
        pod([c("a")], nodeName="a"),
        {"spec": {"nodeName": "1", "hostname": None}},
        pod([c("a")], nodeName="1"),
        id="defined null values should propagate overwrite current fields",
    ),
    pytest.param(POD, pod([c("a")]), {}, pod([c("a")]), id="nil patch"),
    pytest.param(
        POD,
        pod([c("a")]),
        {"spec": {"securityContext": {"runAsUser": 1, "runAsGroup": None}}},
        pod([c("a")], securityContext={"runAsUser": 1}),
        id="discard nulls in nested and adds not nulls (TestUnknownField)",
    ),
    pytest.param(
        POD,
        pod([c("a")]),
        {"spec": {"tolerations": [{"key": "k", "value": None}]}},
        pod([c("a")], tolerations=[{"key": "k"}]),
        id="filter nulls from nested slices (TestUnknownField)",
    ),
    pytest.param(
        POD,
        meta(),
        {"metadata": {"finalizers": ["key1", None, "key2"]}},
        meta(finalizers=["key1", None, "key2"]),
        id="not filter nulls from non-associative slice (TestUnknownField)",
    ),
    pytest.param(
        POD,
        {"metadata": {"name": "p"}, "xUnknown": {"a": 1, "l": [1, 2]}},
        {"xUnknown": {"b": 2, "l": [3]}},
        {"metadata": {"name": "p"}, "xUnknown": {"a": 1, "b": 2, "l": [3]}},
        id="unknown fields merge like maps and replace lists",
    ),
    # ---------------------------------------------------------------- keyed lists
    pytest.param(
        POD,
        pod([c("1", wd="a"), c("2", "2", wd="b")]),
        containers_patch([c("4", "4"), c("3", "3")], ["4", "1", "2", "3"]),
        pod([c("4", "4"), c("1", wd="a"), c("2", "2", wd="b"), c("3", "3")]),
        id="merge lists of maps",
    ),
    pytest.param(
        POD,
        pod([c("1", wd="a"), c("2", "2", wd="b")]),
        containers_patch([c("1", "1")], ["1", "2"]),
        pod([c("1", wd="a", image="1"), c("2", "2", wd="b")]),
        id="add field to map in merging list",
    ),
    pytest.param(
        POD,
        pod([c("1", "1", wd="a"), c("2", "2", wd="b")]),
        containers_patch([c("1", "a")], ["1", "2"]),
        pod([c("1", "a", wd="a"), c("2", "2", wd="b")]),
        id="replace map field value in merging list",
    ),
    pytest.param(
        POD,
        pod([c("1"), c("2", wd="b")]),
        containers_patch([{"name": "1", "$patch": "delete"}], ["2"]),
        pod([c("2", wd="b")]),
        id="delete map from merging list",
    ),
    pytest.param(
        POD,
        pod([c("2", wd="b")]),
        containers_patch([{"name": "1", "$patch": "delete"}], ["2"]),
        pod([c("2", wd="b")]),
        id="delete missing map from merging list",
    ),
    pytest.param(
        POD,
        pod([c("1"), c("2", wd="b"), c("4", wd="c")]),
        containers_patch([c("3"), {"name": "1", "$patch": "delete"}], ["2", "3"]),
        pod([c("2", wd="b"), c("4", wd="c"), c("3")]),
        id="add map and delete map from merging list",
    ),
    pytest.param(
        POD,
        pod([c("1", wd="a"), c("4", wd="c")]),
        containers_patch([c("2"), c("3"), {"name": "1", "$patch": "delete"}], ["2", "3"]),
        pod([c("4", wd="c"), c("2"), c("3")]),
        id="add map and delete map from merging list with conflict",
    ),
    pytest.param(
        POD,
        pod([c("1", "1", wd="a"), c("2", "2", wd="b")]),
        containers_patch([{"name": "1", "image": None}], ["1", "2"]),
        pod([c("1", wd="a"), c("2", "2", wd="b")]),
        id="delete field from map in merging list",
    ),
    pytest.param(
        POD,
        pod([c("1", wd="a", args=["1", "2"]), c("2", wd="b")]),
        containers_patch([c("1", args=["1x"])], ["1", "2"]),
        pod([c("1", wd="a", args=["1x"]), c("2", wd="b")]),
        id="replace non merging list nested in merging list",
    ),
    pytest.param(
        POD,
        pod([c("1"), c("1"), c("2", "a"), c("3"), c("3")]),
        containers_patch([{"name": "1", "$patch": "delete"}, {"name": "3", "$patch": "delete"}]),
        pod([c("2", "a")]),
        id="delete all duplicate entries in a merging list",
    ),
    pytest.param(
        POD,
        pod([c("1"), c("2")]),
        containers_patch([{"$patch": "replace"}]),
        pod([]),
        id="delete all items from merging list",
    ),
    pytest.param(
        POD,
        pod([c("1", wd="x"), c("2")]),
        containers_patch([c("3"), {"$patch": "replace"}, c("1")]),
        pod([c("3"), c("1")]),
        id="$patch: replace list element replaces the list",
    ),
    pytest.param(
        POD,
        pod([c("1"), c("2", "b"), c("3")]),
        containers_patch([c("3", "c"), c("1", "a"), c("2", wd="x")]),
        pod([c("3", "c"), c("1", "a"), c("2", "b", wd="x")]),
        id="preserve the order from the patch in a merging list",
    ),
    pytest.param(
        POD,
        pod([c("1"), c("2", "b"), c("3")]),
        containers_patch([c("3", "c"), c("1", "a")]),
        pod([c("2", "b"), c("3", "c"), c("1", "a")]),
        id="preserve the order from the patch in a merging list 2",
    ),
    pytest.param(
        POD,
        pod([c("1", wd="a"), c("3", "3"), c("4", "4"), c("2", "2"), c("9")]),
        containers_patch([], ["4", "2", "3", "1"]),
        pod([c("4", "4"), c("2", "2"), c("3", "3"), c("1", wd="a"), c("9")]),
        id="set elements order in a list with server-only items",
    ),
    pytest.param(
        POD,
        pod([c("1", wd="a"), c("2", "2"), c("7"), c("9"), c("8"), c("3", "3"), c("4", "4")]),
        {"spec": {"$setElementOrder/containers": [{"name": n} for n in ["2", "1", "4", "3"]]}},
        pod([c("2", "2"), c("1", wd="a"), c("7"), c("9"), c("8"), c("4", "4"), c("3", "3")]),
        id="set elements order in a list with server-only items 3",
    ),
    pytest.param(
        POD,
        pod([c("1"), c("3")]),
        containers_patch([c("3", "3"), c("1", "1")], ["3", "2", "1"]),
        pod([c("3", "3"), c("1", "1")]),
        id="$setElementOrder contains item that is not present in the list to be merged",
    ),
    pytest.param(
        POD,
        {"metadata": {"name": "hi"}, "spec": {}},
        containers_patch([c("hello"), {"$patch": "delete", "name": "doesntexist"}]),
        {"metadata": {"name": "hi"}, "spec": {"containers": [c("hello")]}},
        id="nested patch merge with empty list (two-way result)",
    ),
    pytest.param(
        POD,
        {"metadata": {"name": "hi"}, "spec": {"containers": [c("hello2")]}},
        containers_patch([c("hello"), {"$patch": "delete", "name": "doesntexist"}], ["hello", "doesntexist"]),
        {"metadata": {"name": "hi"}, "spec": {"containers": [c("hello"), c("hello2")]}},
        id="nested patch merge with empty list (three-way result)",
    ),
    pytest.param(
        POD,
        pod([c("1"), c("2", "dup1"), c("3"), c("2", "dup2"), c("4")]),
        {"spec": {"$setElementOrder/containers": [{"name": n} for n in ["2", "1", "4", "3", "2"]]}},
        pod([c("2", "dup1"), c("2", "dup2"), c("1"), c("4"), c("3")]),
        id="behavior of set element order for a merging list with duplicate",
    ),
    # ---------------------------------------------------------------- primitive merge lists
    pytest.param(
        POD,
        meta(finalizers=["1", "2"]),
        fin(["2", "3"]),
        meta(finalizers=["1", "2", "3"]),
        id="unique scalars when merging lists",
    ),
    pytest.param(
        POD,
        meta(finalizers=["1", "2", "3", "4"]),
        fin(order=["1", "2"], delete=["3"]),
        meta(finalizers=["1", "2", "4"]),
        id="delete items in lists of scalars",
    ),
    pytest.param(
        POD,
        meta(finalizers=["1", "2", "3", "3", "4"]),
        fin(order=["1", "2"], delete=["3"]),
        meta(finalizers=["1", "2", "4"]),
        id="delete all duplicate items in lists of scalars",
    ),
    pytest.param(
        POD,
        meta(finalizers=["1", "2", "3"]),
        fin(["4"], order=["1", "2", "4"], delete=["3"]),
        meta(finalizers=["1", "2", "4"]),
        id="add and delete items in lists of scalars",
    ),
    pytest.param(
        POD,
        meta(finalizers=["1", "2"]),
        fin(["3"], order=["3", "1", "2"]),
        meta(finalizers=["3", "1", "2"]),
        id="add an item in a int list and preserve order",
    ),
    pytest.param(
        POD,
        meta(finalizers=["1", "2"]),
        fin(["4", "3"], order=["1", "4", "2", "3"]),
        meta(finalizers=["1", "4", "2", "3"]),
        id="add multiple items in a int list and preserve order",
    ),
    pytest.param(
        POD,
        meta(finalizers=["1", "2", "3"]),
        fin(order=["2", "1"], delete=["3"]),
        meta(finalizers=["2", "1"]),
        id="delete an item in a int list and preserve order",
    ),
    pytest.param(
        POD,
        meta(finalizers=["1", "2", "9", "3", "4"]),
        fin(order=["2", "1", "4", "3"]),
        meta(finalizers=["2", "1", "9", "4", "3"]),
        id="set elements order in a int list with server-only items 2",
    ),
    pytest.param(
        POD,
        meta(finalizers=["1", "2", "3", "2", "4"]),
        fin(order=["2", "1", "4", "3", "2"]),
        meta(finalizers=["2", "2", "1", "4", "3"]),
        id="behavior of set element order for a merging int list with duplicate",
    ),
    pytest.param(
        POD,
        meta(finalizers=["1", "2"]),
        fin(delete=["3"]),
        meta(finalizers=["1", "2"]),
        id="$deleteFromPrimitiveList of nonexistent item",
    ),
    pytest.param(
        POD,
        meta(labels={"foo": "bar"}),
        fin(delete=["3"]),
        meta(labels={"foo": "bar"}),
        id="$deleteFromPrimitiveList on nonexistent primitive list",
    ),
    pytest.param(
        POD,
        meta(finalizers=["1", "2", "3"]),
        fin(["3", "1"]),
        meta(finalizers=["2", "3", "1"]),
        id="preserve the order from the patch in a merging int list",
    ),
    pytest.param(
        POD,
        meta(finalizers=["1", "3"]),
        fin(order=["3", "2", "1"]),
        meta(finalizers=["3", "1"]),
        id="$setElementOrder contains item that is not present in the int list",
    ),
    pytest.param(
        POD,
        pod([c("a", args=["1", "2", "3"])]),
        {"spec": {"containers": [{"name": "a", "$deleteFromPrimitiveList/args": ["2"]}]}},
        pod([c("a", args=["1", "3"])]),
        id="$deleteFromPrimitiveList should delete item from a list without merge patch strategy",
    ),
    # ---------------------------------------------------------------- atomic lists
    pytest.param(
        POD,
        pod([c("a")], tolerations=[{"key": "a"}, {"key": "b"}]),
        {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}},
        pod([c("a")], tolerations=[{"key": "b", "operator": "Exists"}]),
        id="tolerations are replaced whole",
    ),
    pytest.param(
        POD,
        pod([c("a", args=["1", "2"])]),
        {"spec": {"containers": [{"name": "a", "args": ["2", "3"]}]}},
        pod([c("a", args=["2", "3"])]),
        id="replace list of scalars",
    ),
    # ---------------------------------------------------------------- retainKeys
    pytest.param(
        DEPLOY,
        deploy(RU),
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        deploy({"type": "Recreate"}),
        id="retainKeys map should clear defaulted field",
    ),
    pytest.param(
        DEPLOY,
        deploy({"type": "Recreate"}),
        {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}},
        deploy({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
        id="retainKeys map can add a field when no retainKeys directive present",
    ),
    pytest.param(
        DEPLOY,
        deploy(RU),
        {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None}}},
        deploy({"type": "RollingUpdate"}),
        id="retainKeys map deletes a field",
    ),
    pytest.param(
        DEPLOY, deploy(RU), {"spec": {"strategy": {}}}, deploy(RU), id="retainKeys map merge an empty map"
    ),
    pytest.param(
        DEPLOY,
        deploy(RU),
        {"spec": {"strategy": {"$retainKeys": ["type", "rollingUpdate"]}}},
        deploy(RU),
        id="retainKeys map clears nothing when all present",
    ),
    pytest.param(
        POD,
        pod(
            volumes=[
                {"name": "bar", "emptyDir": {}},
                {"name": "foo", "configMap": {"name": "cm"}, "hostPath": {"path": "/x"}},
            ]
        ),
        {
            "spec": {
                "$setElementOrder/volumes": [{"name": "bar"}, {"name": "foo"}],
                "volumes": [{"$retainKeys": ["configMap", "name"], "name": "foo"}],
            }
        },
        pod(volumes=[{"name": "bar", "emptyDir": {}}, {"name": "foo", "configMap": {"name": "cm"}}]),
        id="retainKeys list of maps clears a field",
    ),
    pytest.param(
        POD,
        pod(volumes=[{"name": "bar"}, {"name": "foo", "configMap": {"name": "a"}}]),
        {"spec": {"volumes": [{"name": "foo", "configMap": {"name": "b"}}]}},
        pod(volumes=[{"name": "bar"}, {"name": "foo", "configMap": {"name": "b"}}]),
        id="retainKeys list can change a field when no retainKeys directive present",
    ),
    # ---------------------------------------------------------------- other kinds and strategies
    pytest.param(
        SVC,
        {
            "metadata": {"name": "s"},
            "spec": {
                "ports": [
                    {"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"},
                    {"name": "https", "port": 443, "targetPort": 443, "protocol": "TCP"},
                ]
            },
        },
        {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}},
        {
            "metadata": {"name": "s"},
            "spec": {
                "ports": [
                    {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                    {"name": "https", "port": 443, "targetPort": 443, "protocol": "TCP"},
                ]
            },
        },
        id="service ports merge by port",
    ),
    pytest.param(
        PDB,
        {"metadata": {"name": "b"}, "spec": {"selector": {"matchLabels": {"a": "1", "b": "2"}}}},
        {"spec": {"selector": {"matchLabels": {"c": "3"}}}},
        {"metadata": {"name": "b"}, "spec": {"selector": {"matchLabels": {"c": "3"}}}},
        id="patchStrategy replace on a struct (PodDisruptionBudget selector)",
    ),
    pytest.param(
        POD,
        meta(ownerReferences=[{"uid": "1", "name": "a", "kind": "RS", "apiVersion": "apps/v1"}]),
        {"metadata": {"ownerReferences": [{"uid": "2", "name": "b", "kind": "RS", "apiVersion": "apps/v1"}]}},
        meta(
            ownerReferences=[
                {"uid": "2", "name": "b", "kind": "RS", "apiVersion": "apps/v1"},
                {"uid": "1", "name": "a", "kind": "RS", "apiVersion": "apps/v1"},
            ]
        ),
        id="ownerReferences merge by uid (a new element without order goes first)",
    ),
    pytest.param(
        POD,
        pod([c("a", env=[{"name": "X", "value": "1"}])]),
        {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]}},
        pod([c("a", env=[{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}])]),
        id="new keyed element without order goes first (patch order before server-only)",
    ),
    pytest.param(
        POD,
        pod([c("a")]),
        {
            "spec": {
                "containers": [
                    c(
                        "b",
                        "img",
                        env=[{"name": "X", "value": None, "$patch": "x"}, {"name": "Y", "valueFrom": None}],
                        **{"$setElementOrder/env": [{"name": "Y"}], "$retainKeys": ["name"]},
                    )
                ]
            }
        },
        pod([c("b", "img", env=[{"name": "X"}, {"name": "Y"}]), c("a")]),
        id="directives and nulls inside an appended element are dropped",
    ),
]


@pytest.mark.parametrize(("gvk", "original", "patch", "expected"), CASES)
def test_smp(
    gvk: tuple[str, str, str], original: dict[str, Any], patch: dict[str, Any], expected: Any
) -> None:
    o, p = copy.deepcopy(original), copy.deepcopy(patch)
    assert strategic_merge_patch(original, patch, *gvk) == expected
    assert (original, patch) == (o, p)  # inputs are not modified


# ---------------------------------------------------------------------------- kubectl apply
LAST_OLD = '{"kind":"Deployment","spec":{"replicas":3}}\n'
LAST_NEW = '{"kind":"Deployment","spec":{}}\n'


def live_deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "u1",
            "resourceVersion": "5",
            "generation": 1,
            "labels": {"app": "web", "tier": "fe"},
            "annotations": {
                "deployment.kubernetes.io/revision": "1",
                "kubectl.kubernetes.io/last-applied-configuration": LAST_OLD,
            },
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.25",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "imagePullPolicy": "IfNotPresent",
                            "terminationMessagePath": "/dev/termination-log",
                        },
                        {"name": "sidecar", "image": "busybox"},
                    ],
                    "restartPolicy": "Always",
                    "dnsPolicy": "ClusterFirst",
                },
            },
        },
        "status": {"replicas": 3},
    }


def test_kubectl_apply_second_time_deployment() -> None:
    # What `kubectl apply -f` sends (CreateThreeWayMergePatch) after the config drops `replicas`
    # and the `tier` label, removes env B, adds env C, bumps the image and switches to Recreate.
    patch = {
        "metadata": {
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": LAST_NEW},
            "labels": {"tier": None},
        },
        "spec": {
            "replicas": None,
            "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
                            "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "B"}],
                            "image": "nginx:1.26",
                            "name": "web",
                        }
                    ],
                }
            },
        },
    }
    live = live_deployment()
    out = strategic_merge_patch(live, patch, *DEPLOY)
    want = live_deployment()
    want["metadata"]["labels"] = {"app": "web"}
    want["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = LAST_NEW
    del want["spec"]["replicas"]
    want["spec"]["strategy"] = {"type": "Recreate"}
    web = want["spec"]["template"]["spec"]["containers"][0]
    web["image"] = "nginx:1.26"
    web["env"] = [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]
    assert out == want
    assert live == live_deployment()


def test_kubectl_apply_service_port_swap() -> None:
    # delete port 443 and add 9090 in one apply: deleteMatchingEntries frees a slot the appended
    # port reuses, and $setElementOrder still gives the configured order
    live = {
        "metadata": {"name": "s"},
        "spec": {
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
            ],
            "selector": {"app": "web"},
        },
    }
    patch = {
        "spec": {
            "$setElementOrder/ports": [{"port": 80}, {"port": 9090}],
            "ports": [
                {"name": "metrics", "port": 9090, "targetPort": 9090},
                {"$patch": "delete", "port": 443},
            ],
        }
    }
    out = strategic_merge_patch(live, patch, *SVC)
    assert out["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
        {"name": "metrics", "port": 9090, "targetPort": 9090},
    ]


def test_kubectl_apply_finalizers_and_volume_source_switch() -> None:
    # finalizers a,b -> a,c (primitive merge list with a parallel deletion list), and a volume
    # switching from configMap to secret ($retainKeys on the volumes element, merge,retainKeys)
    live = {
        "metadata": {"name": "p", "finalizers": ["a", "b"]},
        "spec": {
            "containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
            "volumes": [{"name": "v", "configMap": {"name": "cm", "defaultMode": 420}}],
        },
    }
    patch = {
        "metadata": {
            "$setElementOrder/finalizers": ["a", "c"],
            "$deleteFromPrimitiveList/finalizers": ["b"],
            "finalizers": ["c"],
        },
        "spec": {
            "$setElementOrder/volumes": [{"name": "v"}],
            "volumes": [
                {
                    "$retainKeys": ["name", "secret"],
                    "name": "v",
                    "configMap": None,
                    "secret": {"secretName": "s"},
                }
            ],
        },
    }
    out = strategic_merge_patch(live, patch, *POD)
    assert out["metadata"]["finalizers"] == ["a", "c"]
    assert out["spec"]["volumes"] == [{"name": "v", "secret": {"secretName": "s"}}]
    assert out["spec"]["containers"] == live["spec"]["containers"]


def test_kubectl_edit_removing_a_container() -> None:
    # `kubectl edit` / two-way patch deleting a container and reordering the rest
    live = pod([c("a", "1"), c("b", "2"), c("c", "3")])
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
            "containers": [{"$patch": "delete", "name": "b"}],
        }
    }
    assert strategic_merge_patch(live, patch, *POD) == pod([c("c", "3"), c("a", "1")])


# ---------------------------------------------------------------------------- errors
ERRORS: list[Any] = [
    pytest.param(
        {"metadata": {"$patch": "merge"}},
        500,
        "",
        "unknown patch type: merge in map: map[$patch:merge]",
        id="$patch merge in a map",
    ),
    pytest.param(
        {"metadata": {"labels": {"$patch": 3, "a": "b"}}},
        500,
        "",
        "unknown patch type: %!s(int64=3) in map: map[$patch:3 a:b]",
        id="$patch not a string",
    ),
    pytest.param(
        containers_patch([{"$patch": "foo", "name": "x"}]),
        500,
        "",
        "unknown patch type: foo in map: map[$patch:foo name:x]",
        id="unknown $patch in a list element",
    ),
    pytest.param(
        containers_patch([{"$patch": "merge", "name": "x"}]),
        500,
        "",
        "merging lists cannot yet be specified in the patch",
        id="$patch merge in a list element",
    ),
    pytest.param(
        containers_patch([{"$patch": "delete"}]),
        500,
        "",
        "map: map[$patch:delete] does not contain declared merge key: name",
        id="$patch delete without merge key",
    ),
    pytest.param(
        {"spec": {"$retainKeys": "name"}},
        400,
        "BadRequest",
        "invalid patch format of retainKeys",
        id="$retainKeys not a list",
    ),
    pytest.param(
        {"spec": {"$retainKeys": ["hostname"], "nodeName": "n"}},
        400,
        "BadRequest",
        "invalid patch format of retainKeys",
        id="patch key missing from $retainKeys",
    ),
    pytest.param(
        {"spec": {"$setElementOrder/containers": "a"}},
        500,
        "",
        "expected a []interface {}, but received a string",
        id="$setElementOrder not a list",
    ),
    pytest.param(
        {"spec": {"$setElementOrdercontainers": []}},
        400,
        "BadRequest",
        "invalid patch format of setElementOrder list",
        id="$setElementOrder without slash",
    ),
    pytest.param(
        {"metadata": {"$deleteFromPrimitiveListfinalizers": []}},
        400,
        "BadRequest",
        "invalid patch format of primitive list",
        id="$deleteFromPrimitiveList without slash",
    ),
    pytest.param(
        containers_patch([c("3", "3"), c("1", "1")], ["1", "2", "3"]),
        500,
        "",
        "The order in patch list:\n[map[image:3 name:3] map[image:1 name:1]]\n doesn't match "
        "$setElementOrder list:\n[map[name:1] map[name:2] map[name:3]]\n",
        id="should check if order in $setElementOrder and patch list match",
    ),
    pytest.param(
        containers_patch([{"image": "b"}]),
        500,
        "",
        "map: map[image:b] does not contain declared merge key: name",
        id="missing merge key should error out",
    ),
    pytest.param(
        containers_patch([["x"]]),
        500,
        "",
        "list element types are not identical: [[map[image:i name:a]] [[x]]]",
        id="a list item in a list of maps",
    ),
    pytest.param(
        {"metadata": {"finalizers": [1]}},
        500,
        "",
        "list element types are not identical: [[f] [1]]",
        id="list element types are not identical",
    ),
    pytest.param(
        {"spec": {"$setElementOrder/containers": [{"image": "x"}], "containers": [c("a")]}},
        500,
        "",
        "map: map[image:x] does not contain declared merge key: name",
        id="order item without merge key",
    ),
]


@pytest.mark.parametrize(("patch", "code", "reason", "message"), ERRORS)
def test_smp_errors(patch: dict[str, Any], code: int, reason: str, message: str) -> None:
    live = pod([c("a", "i")])
    live["metadata"]["labels"] = {"a": "b"}
    live["metadata"]["finalizers"] = ["f"]
    with pytest.raises(StatusError) as ei:
        strategic_merge_patch(live, patch, *POD)
    e = ei.value
    assert (e.code, e.reason, e.message) == (code, reason, message)
    if code == 422:
        assert e.details == {}


def test_lists_of_lists_are_422() -> None:
    # mergepatch.ErrNoListOfLists -> NewGenericServerResponse(422): the generic Invalid message
    for field in ("finalizers", "ownerReferences"):
        live = {"metadata": {"name": "p", field: []}}
        with pytest.raises(StatusError) as ei:
            strategic_merge_patch(live, {"metadata": {field: [["x"]]}}, *POD)
        assert (ei.value.code, ei.value.reason, ei.value.message, ei.value.details) == (
            422,
            "Invalid",
            INVALID,
            {},
        )


def test_patch_body_not_an_object() -> None:
    with pytest.raises(StatusError) as ei:
        strategic_merge_patch(pod([c("a")]), [{"op": "add"}], *POD)
    assert (ei.value.code, ei.value.message) == (
        400,
        "json: cannot unmarshal array into Go value of type map[string]interface {}",
    )
    assert strategic_merge_patch(pod([c("a")]), None, *POD) == pod([c("a")])


def test_custom_resources_are_415() -> None:
    assert smp_supported(*POD) and smp_supported(*DEPLOY) and smp_supported("batch", "v1", "CronJob")
    assert not smp_supported("example.com", "v1", "Widget")
    with pytest.raises(StatusError) as ei:
        strategic_merge_patch({"metadata": {"name": "w"}}, {"spec": {}}, "example.com", "v1", "Widget")
    assert ei.value.code == 415
    assert ei.value.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


def test_resource_version_in_patch_is_merged() -> None:
    # the caller compares the patched resourceVersion with the live one (409 when they differ)
    live = {"metadata": {"name": "p", "resourceVersion": "7"}}
    assert (
        strategic_merge_patch(live, {"metadata": {"resourceVersion": "6"}}, *POD)["metadata"][
            "resourceVersion"
        ]
        == "6"
    )


# ---------------------------------------------------------------------------- property test
_DIRECTIVES = [
    "$patch",
    "$retainKeys",
    "$setElementOrder/containers",
    "$setElementOrder/env",
    "$deleteFromPrimitiveList/finalizers",
    "$setElementOrder/finalizers",
    "$setElementOrderX",
]
_KEYS = [
    "metadata",
    "spec",
    "containers",
    "name",
    "image",
    "env",
    "value",
    "ports",
    "containerPort",
    "finalizers",
    "tolerations",
    "key",
    "volumes",
    "emptyDir",
    "args",
    "securityContext",
    "runAsUser",
    "labels",
    "a",
    *_DIRECTIVES,
]
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(0, 3),
    st.sampled_from(["a", "web", "replace", "delete", "merge", "name"]),
)
_values = st.recursive(
    _scalars,
    lambda ch: st.one_of(st.lists(ch, max_size=4), st.dictionaries(st.sampled_from(_KEYS), ch, max_size=4)),
    max_leaves=16,
)


def _has_directive(v: Any, in_map: bool = False) -> bool:
    if isinstance(v, dict):
        for k, x in v.items():
            if not in_map and (
                k.startswith("$setElementOrder/")
                or k in ("$patch", "$retainKeys")
                or k.startswith("$deleteFromPrimitiveList/")
            ):
                return True
            if _has_directive(x, k in ("labels", "annotations", "nodeSelector")):
                return True
    elif isinstance(v, list):
        return any(_has_directive(x) for x in v)
    return False


@settings(max_examples=400, deadline=None)
@given(patch=st.one_of(st.dictionaries(st.sampled_from(_KEYS), _values, max_size=5), _values))
def test_random_patches_only_raise_status_errors(patch: Any) -> None:
    live = pod(
        [c("web", "nginx", env=[{"name": "a", "value": "1"}], ports=[{"containerPort": 80}])],
        tolerations=[{"key": "k"}],
        volumes=[{"name": "v", "emptyDir": {}}],
    )
    live["metadata"].update({"labels": {"a": "b"}, "finalizers": ["f"]})
    before, patch_before = copy.deepcopy(live), copy.deepcopy(patch)
    try:
        out = strategic_merge_patch(live, patch, *POD)
    except StatusError as e:
        assert e.code in (400, 422, 500)
    else:
        orjson.dumps(out)
        if _has_directive(out):
            # A patch value of another JSON type than the live field replaces it whole, directives
            # and all (upstream's mergeMap too); decoding into the typed Pod then rejects it (400).
            assert schema.type_error(out, "", "v1", "Pod") is not None
    assert live == before
    assert patch == patch_before
