"""pods/ephemeralcontainers: kube-apiserver 1.32's ValidatePodEphemeralContainersUpdate and
validateEphemeralContainers (pkg/apis/core/validation/validation.go), the endpoint's strategy
(dropNonEphemeralContainerUpdates, pkg/registry/core/pod/strategy.go), and the simulated
kubelet's ephemeral container statuses and logs."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from vcluster.apiserver.admission import validate_ephemeral_containers_update
from vcluster.apiserver.defaults import apply_defaults
from vcluster.apiserver.errors import Cause, invalid
from vcluster.apiserver.resources import Registry
from vcluster.apiserver.strategy import prepare_for_update
from vcluster.hostsim.kubeletserver import LogRequestError, log_source
from vcluster.hostsim.podstatus import (
    ephemeral_statuses,
    ephemeral_to_start,
    finished_status,
    rfc3339,
    running_status,
)

T0 = 1_700_000_000.0
DEBUG = {"name": "dbg", "image": "busybox", "targetContainerName": "app"}


def copy(obj: Any) -> Any:
    return orjson.loads(orjson.dumps(obj))


def stored_pod(*ephemeral: dict[str, Any], **meta: Any) -> dict[str, Any]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", **meta},
        "spec": {
            "containers": [{"name": "app", "image": "nginx"}],
            "initContainers": [{"name": "init", "image": "busybox"}],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "nodeName": "node-1",
        },
        "status": {"phase": "Running"},
    }
    if ephemeral:
        pod["spec"]["ephemeralContainers"] = copy(list(ephemeral))
    apply_defaults(pod, "", "v1", "Pod")
    return pod


def with_ephemeral(old: dict[str, Any], *ephemeral: dict[str, Any]) -> dict[str, Any]:
    new = copy(old)
    new["spec"]["ephemeralContainers"] = copy(list(ephemeral))
    apply_defaults(new, "", "v1", "Pod")
    return new


def causes(old: dict[str, Any], *ephemeral: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (c.field, c.message)
        for c in validate_ephemeral_containers_update(with_ephemeral(old, *ephemeral), old)
    ]


# ---------------------------------------------------------------------------- validation
def test_adding_a_valid_ephemeral_container() -> None:
    old = stored_pod()
    assert causes(old, DEBUG) == []
    # the defaults kubectl debug sends (an empty resources struct) are not "set"
    assert causes(old, {**DEBUG, "resources": {}, "stdin": True, "tty": True}) == []
    with_one = stored_pod(DEBUG)
    assert causes(with_one, DEBUG, {"name": "dbg2", "image": "busybox"}) == []
    # a patch may reorder the list: containers are matched by name
    assert causes(with_one, {"name": "dbg2", "image": "busybox"}, DEBUG) == []


def test_existing_ephemeral_containers_may_not_be_removed() -> None:
    old = stored_pod(DEBUG, {"name": "dbg2", "image": "busybox"})
    assert causes(old, DEBUG) == [
        ("spec.ephemeralContainers", 'Forbidden: existing ephemeral containers "dbg2" may not be removed\n')
    ]
    assert [f for f, _ in causes(old)] == ["spec.ephemeralContainers"] * 2


def test_existing_ephemeral_containers_may_not_be_changed() -> None:
    old = stored_pod(DEBUG)
    [(field, message)] = causes(old, {**DEBUG, "image": "alpine"})
    assert field == "spec.ephemeralContainers"
    assert message.startswith('Forbidden: existing ephemeral containers "dbg" may not be changed\n')
    assert '- \tImage: "busybox",' in message and '+ \tImage: "alpine",' in message
    assert causes(old, {**DEBUG, "stdin": True})[0][1].startswith("Forbidden: existing ephemeral")


def test_names_are_unique_among_all_containers() -> None:
    old = stored_pod(DEBUG)
    path = "spec.ephemeralContainers[1].name"
    for name in ("app", "init"):
        found = causes(old, DEBUG, {"name": name, "image": "busybox"})
        assert found == [(path, f'Duplicate value: "{name}"')], name
    # a second "dbg" is also the one the update check matches by name (the last one, as upstream)
    found = causes(old, DEBUG, {"name": "dbg", "image": "busybox"})
    assert found[0] == (path, 'Duplicate value: "dbg"')
    assert found[1][1].startswith('Forbidden: existing ephemeral containers "dbg" may not be changed\n')
    assert len(found) == 2


def test_image_name_and_target_container() -> None:
    old = stored_pod()
    assert causes(old, {"name": "x"}) == [("spec.ephemeralContainers[0].image", "Required value")]
    assert causes(old, {"name": "x", "image": " busybox"}) == [
        (
            "spec.ephemeralContainers[0].image",
            'Invalid value: " busybox": must not have leading or trailing whitespace',
        )
    ]
    assert causes(old, {"image": "busybox"})[0] == ("spec.ephemeralContainers[0].name", "Required value")
    # the target is a container or an init container, never another ephemeral container
    assert causes(old, {**DEBUG, "targetContainerName": "init"}) == []
    assert causes(old, {**DEBUG, "targetContainerName": "nope"}) == [
        ("spec.ephemeralContainers[0].targetContainerName", 'Not found: "nope"')
    ]
    with_one = stored_pod(DEBUG)
    assert causes(with_one, DEBUG, {"name": "d2", "image": "busybox", "targetContainerName": "dbg"}) == [
        ("spec.ephemeralContainers[1].targetContainerName", 'Not found: "dbg"')
    ]


def test_fields_ephemeral_containers_may_not_set() -> None:
    old = stored_pod()
    probe = {"exec": {"command": ["true"]}}
    ec = {
        "name": "x",
        "image": "busybox",
        "lifecycle": {"preStop": probe},
        "startupProbe": probe,
        "readinessProbe": probe,
        "livenessProbe": probe,
        "restartPolicy": "Always",
        "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
        "resources": {"limits": {"cpu": "1"}},
        "ports": [{"containerPort": 80}],
    }
    forbidden = [f for f, m in causes(old, ec) if m == "Forbidden: cannot be set for an Ephemeral Container"]
    # in the order of the EphemeralContainerCommon struct, whatever the order of the JSON
    assert forbidden == [
        f"spec.ephemeralContainers[0].{k}"
        for k in (
            "ports",
            "resources",
            "resizePolicy",
            "restartPolicy",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "lifecycle",
        )
    ]
    assert causes(old, {"name": "x", "image": "busybox", "ports": []}) == [
        ("spec.ephemeralContainers[0].ports", "Forbidden: cannot be set for an Ephemeral Container")
    ]


def test_volume_mounts_without_sub_paths() -> None:
    old = stored_pod()
    mount = {"name": "data", "mountPath": "/data"}
    assert causes(old, {"name": "x", "image": "busybox", "volumeMounts": [mount]}) == []
    ec = {"name": "x", "image": "busybox", "volumeMounts": [{**mount, "subPath": "a"}]}
    assert causes(old, ec) == [
        (
            "spec.ephemeralContainers[0].volumeMounts[0].subPath",
            "Forbidden: cannot be set for an Ephemeral Container",
        )
    ]
    ec = {"name": "x", "image": "busybox", "volumeMounts": [{"name": "nope", "mountPath": "/n"}]}
    assert causes(old, ec) == [("spec.ephemeralContainers[0].volumeMounts[0].name", 'Not found: "nope"')]


def test_static_pods_support_no_ephemeral_containers() -> None:
    old = stored_pod(annotations={"kubernetes.io/config.mirror": "abc"})
    assert causes(old, DEBUG) == [("", "Forbidden: static pods do not support ephemeral containers")]


def test_the_invalid_answer() -> None:
    old = stored_pod(DEBUG)
    err = invalid("Pod", "", "p", validate_ephemeral_containers_update(with_ephemeral(old), old))
    assert err.code == 422
    assert err.message == (
        'Pod "p" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" '
        "may not be removed\n"
    )
    assert err.causes == [
        Cause(
            "FieldValueForbidden",
            'Forbidden: existing ephemeral containers "dbg" may not be removed\n',
            "spec.ephemeralContainers",
        )
    ]


# ---------------------------------------------------------------------------- strategy
def test_the_endpoint_keeps_only_the_ephemeral_containers() -> None:
    pods = Registry().get("", "v1", "pods")
    assert pods is not None
    old = stored_pod(labels={"app": "a"}, annotations={"a": "1"}, finalizers=["f"])
    old["metadata"]["managedFields"] = [{"manager": "old"}]
    new = with_ephemeral(old, DEBUG)
    new["metadata"].update(labels={"app": "changed"}, annotations={}, managedFields=[{"manager": "new"}])
    new["metadata"].pop("finalizers")
    new["spec"]["containers"][0]["image"] = "nginx:2"
    new["spec"]["nodeName"] = "elsewhere"
    new["status"] = {"phase": "Failed"}
    prepare_for_update(pods, old, new, "ephemeralcontainers")
    assert new["spec"] == {
        **old["spec"],
        "ephemeralContainers": with_ephemeral(old, DEBUG)["spec"]["ephemeralContainers"],
    }
    assert new["status"] == {"phase": "Running"}
    md = new["metadata"]
    assert (md["labels"], md["annotations"], md["finalizers"]) == ({"app": "a"}, {"a": "1"}, ["f"])
    assert md["managedFields"] == [{"manager": "new"}]  # the field manager's record of this write
    # removing every ephemeral container leaves the list out (validation then refuses it)
    again = with_ephemeral(new)
    del again["spec"]["ephemeralContainers"]
    prepare_for_update(pods, new, again, "ephemeralcontainers")
    assert "ephemeralContainers" not in again["spec"]


# ---------------------------------------------------------------------------- simulated kubelet
def running_pod(*ephemeral: dict[str, Any]) -> dict[str, Any]:
    pod = stored_pod(*ephemeral)
    pod["spec"].pop("initContainers")
    pod["status"] = running_status(pod, "10.0.0.1", "10.244.1.5", T0, True, T0)
    return pod


def test_ephemeral_containers_start_once_added() -> None:
    pod = running_pod()
    assert "ephemeralContainerStatuses" not in pod["status"] and ephemeral_to_start(pod) == []
    pod = with_ephemeral(pod, DEBUG)
    assert [c["name"] for c in ephemeral_to_start(pod)] == ["dbg"]
    [entry] = pod["status"]["ephemeralContainerStatuses"] = ephemeral_statuses(pod, T0 + 10)
    assert entry["name"] == "dbg" and entry["containerID"].startswith("containerd://")
    assert entry["state"] == {"running": {"startedAt": rfc3339(T0 + 10)}}
    assert entry["image"] == "docker.io/library/busybox:latest" and entry["ready"] is False
    assert "started" not in entry  # the kubelet's prober reports `started` for containers only
    assert ephemeral_to_start(pod) == []
    # a second one starts later; the first keeps its start time, also when the pod becomes Ready
    pod = with_ephemeral(pod, DEBUG, {"name": "d2", "image": "alpine"})
    statuses = ephemeral_statuses(pod, T0 + 20)
    assert [s["state"]["running"]["startedAt"] for s in statuses] == [rfc3339(T0 + 10), rfc3339(T0 + 20)]
    pod["status"]["ephemeralContainerStatuses"] = statuses
    again = running_status(pod, "10.0.0.1", "10.244.1.5", T0, True, T0 + 30)
    assert again["ephemeralContainerStatuses"] == statuses


def test_ephemeral_containers_end_with_the_pod() -> None:
    pod = with_ephemeral(running_pod(), DEBUG, {"name": "late", "image": "alpine"})
    pod["status"]["ephemeralContainerStatuses"] = ephemeral_statuses(pod, T0 + 10)[:1]
    done = finished_status(pod, "10.0.0.1", "10.244.1.5", T0, T0 + 40, T0 + 40)
    [term] = done["ephemeralContainerStatuses"]  # never started: not reported
    assert term["name"] == "dbg"
    assert term["state"]["terminated"]["startedAt"] == rfc3339(T0 + 10)
    assert term["state"]["terminated"]["finishedAt"] == rfc3339(T0 + 40)


def test_ephemeral_container_logs() -> None:
    pod = with_ephemeral(running_pod(), DEBUG)
    with pytest.raises(
        LogRequestError, match='container "dbg" in pod "p" is waiting to start: ContainerCreating'
    ):
        log_source(pod, "dbg", previous=False, interval=1.0, started=T0)
    pod["status"]["ephemeralContainerStatuses"] = ephemeral_statuses(pod, T0 + 10)
    # its own start, not the pod's
    src = log_source(pod, "dbg", previous=False, interval=1.0, started=T0)
    assert src.started == T0 + 10 and src.image == "busybox" and src.finished is None
