"""Pod statuses, the ConfigMap/Secret checks before a pod starts, generated logs, the kubelet log
endpoint and the API server's pods/log checks."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import aiohttp
import pytest

from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.podlogs import choose_container, kubelet_location, log_params
from vcluster.hostsim.kubeletserver import KubeletServer, LogRequestError, log_source
from vcluster.hostsim.loggen import LogSource, rfc3339_nano
from vcluster.hostsim.podrefs import (
    CONFIGMAP,
    SECRET,
    Failure,
    RefKey,
    config_failures,
    keys_only,
    mount_failures,
)
from vcluster.hostsim.podstatus import (
    CONDITION_ORDER,
    config_blocked,
    config_error_status,
    creating_status,
    finished_status,
    image_id,
    is_ready,
    is_started,
    normalize_image,
    readiness_delay,
    rfc3339,
    running_status,
)

T0 = 1_700_000_000.0


def pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "web", "image": "nginx:1.27"}])
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "uid-1"},
        "spec": spec,
        "status": {
            "phase": "Pending",
            "qosClass": "BestEffort",
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": rfc3339(T0 - 5)}],
        },
    }


def with_status(p: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    return {**p, "status": {**p["status"], **status}}


# ---------------------------------------------------------------------------- images
@pytest.mark.parametrize(
    ("image", "want"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("nginx:1.27", "docker.io/library/nginx:1.27"),
        ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("ghcr.io/org/app@sha256:" + "a" * 64, "ghcr.io/org/app@sha256:" + "a" * 64),
    ],
)
def test_normalize_image(image: str, want: str) -> None:
    assert normalize_image(image) == want


def test_image_id_keeps_digest_or_derives_one() -> None:
    assert image_id("ghcr.io/org/app:v1@sha256:" + "b" * 64) == "ghcr.io/org/app@sha256:" + "b" * 64
    iid = image_id("nginx:1.27")
    assert iid.startswith("docker.io/library/nginx@sha256:") and len(iid.split(":")[-1]) == 64
    assert iid == image_id("docker.io/library/nginx:1.27")


# ---------------------------------------------------------------------------- statuses
def test_running_status_has_kubelet_fields_and_condition_order() -> None:
    p = pod(
        containers=[{"name": "web", "image": "nginx", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]
    )
    st = running_status(p, "10.0.0.5", "10.244.1.7", T0, True, T0 + 1)
    assert st["phase"] == "Running"
    assert st["podIP"] == "10.244.1.7" and st["podIPs"] == [{"ip": "10.244.1.7"}]
    assert st["hostIP"] == "10.0.0.5" and st["hostIPs"] == [{"ip": "10.0.0.5"}]
    assert st["startTime"] == rfc3339(T0)
    assert [c["type"] for c in st["conditions"]] == list(CONDITION_ORDER)
    assert all(c["status"] == "True" for c in st["conditions"])
    sched = st["conditions"][-1]
    assert sched["lastTransitionTime"] == rfc3339(T0 - 5)  # kept from the binding
    (cs,) = st["containerStatuses"]
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
    assert cs["state"] == {"running": {"startedAt": rfc3339(T0)}}
    assert (
        cs["containerID"].startswith("containerd://") and len(cs["containerID"]) == len("containerd://") + 64
    )
    assert cs["image"] == "docker.io/library/nginx:latest"
    assert cs["volumeMounts"] == [{"name": "v", "mountPath": "/v"}]
    assert is_started({"status": st}) and is_ready({"status": st})


def test_not_ready_until_probe_delay_and_transition_times() -> None:
    p = pod(containers=[{"name": "a", "image": "x", "readinessProbe": {"initialDelaySeconds": 7}}])
    assert readiness_delay(p) == 7
    st = running_status(p, "h", "10.244.1.2", T0, False, T0)
    ready = {c["type"]: c for c in st["conditions"]}
    assert ready["Ready"]["status"] == "False" and ready["Ready"]["reason"] == "ContainersNotReady"
    assert ready["Ready"]["message"] == "containers with unready status: [a]"
    st2 = running_status(with_status(p, st), "h", "10.244.1.2", T0, True, T0 + 7)
    c2 = {c["type"]: c for c in st2["conditions"]}
    assert c2["Ready"]["status"] == "True" and c2["Ready"]["lastTransitionTime"] == rfc3339(T0 + 7)
    assert c2["Initialized"]["lastTransitionTime"] == rfc3339(T0)  # unchanged status keeps its time


def test_creating_and_finished_statuses() -> None:
    p = pod(initContainers=[{"name": "init", "image": "busybox"}])
    st = creating_status(p, "h", T0)
    assert st["phase"] == "Pending" and "podIP" not in st
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert {c["type"]: c["status"] for c in st["conditions"]}["Initialized"] == "False"
    assert not is_started({"status": st})
    done = finished_status(p, "h", "10.244.1.2", T0, T0 + 10, T0 + 10)
    assert done["phase"] == "Succeeded"
    term = done["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    assert term["startedAt"] == rfc3339(T0) and term["finishedAt"] == rfc3339(T0 + 10)
    conds = {c["type"]: c for c in done["conditions"]}
    assert conds["Ready"]["reason"] == "PodCompleted" and conds["Ready"]["status"] == "False"
    assert conds["PodReadyToStartContainers"]["status"] == "False"
    assert done["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


# ---------------------------------------------------------------------------- configmaps and secrets
def objects(named: dict[str, dict[str, Any]] | None = None) -> Any:
    """A lookup over objects in namespace ns keyed `cm/<name>` or `secret/<name>`."""
    store: dict[RefKey, dict[str, Any]] = {}
    for arg, obj in (named or {}).items():
        kind, _, name = arg.partition("/")
        store[("ns", CONFIGMAP if kind == "cm" else SECRET, name)] = obj
    return store.get


def mounted(volumes: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """A pod whose container mounts every volume of `volumes`."""
    mounts = [{"name": v["name"], "mountPath": f"/{v['name']}"} for v in volumes]
    return pod(containers=[{"name": "app", "image": "x", "volumeMounts": mounts}], volumes=volumes, **spec)


def messages(failures: list[Failure]) -> list[str]:
    return [f.mount_message for f in failures]


def test_missing_configmap_and_secret_volumes_fail_with_the_kubelet_messages() -> None:
    p = mounted(
        [
            {"name": "cfg", "configMap": {"name": "app-config"}},
            {"name": "creds", "secret": {"secretName": "db"}},
            {"name": "opt", "configMap": {"name": "nope", "optional": True}},
            {"name": "scratch", "emptyDir": {}},
        ]
    )
    failures = mount_failures(p, objects())
    assert messages(failures) == [
        'MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found',
        'MountVolume.SetUp failed for volume "creds" : secret "db" not found',
    ]
    assert [f.refs for f in failures] == [(("ns", CONFIGMAP, "app-config"),), (("ns", SECRET, "db"),)]
    assert mount_failures(p, objects({"cm/app-config": {}, "secret/db": {"data": {"x": "eA=="}}})) == []


def test_missing_keys_of_volumes() -> None:
    items = [{"key": "a", "path": "a"}, {"key": "b", "path": "b"}]
    p = mounted(
        [
            {"name": "cfg", "configMap": {"name": "c", "items": items}},
            {"name": "creds", "secret": {"secretName": "s", "items": items}},
            {"name": "opt", "configMap": {"name": "c", "items": items, "optional": True}},
        ]
    )
    look = objects({"cm/c": {"data": {"a": "1"}}, "secret/s": {"data": {"a": "MQ=="}}})
    assert messages(mount_failures(p, look)) == [
        'MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: b',
        'MountVolume.SetUp failed for volume "creds" : references non-existent secret key: b',
    ]
    # a ConfigMap volume takes binaryData keys too
    look = objects(
        {"cm/c": {"data": {"a": "1"}, "binaryData": {"b": "Mg=="}}, "secret/s": {"data": {"a": "", "b": ""}}}
    )
    assert mount_failures(p, look) == []


def test_projected_sources_aggregate_like_the_kubelet() -> None:
    token_volume = {
        "name": "kube-api-access-x",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace"}]}},
            ]
        },
    }
    p = mounted([token_volume])
    assert messages(mount_failures(p, objects())) == [
        'MountVolume.SetUp failed for volume "kube-api-access-x" : configmap "kube-root-ca.crt" not found'
    ]
    assert messages(mount_failures(p, objects({"cm/kube-root-ca.crt": {"data": {}}}))) == [
        'MountVolume.SetUp failed for volume "kube-api-access-x" : '
        "configmap references non-existent config key: ca.crt"
    ]
    assert mount_failures(p, objects({"cm/kube-root-ca.crt": {"data": {"ca.crt": "PEM"}}})) == []
    both = mounted(
        [{"name": "all", "projected": {"sources": [{"configMap": {"name": "a"}}, {"secret": {"name": "b"}}]}}]
    )
    (f,) = mount_failures(both, objects())
    assert f.error == '[configmap "a" not found, secret "b" not found]'
    assert f.refs == (("ns", CONFIGMAP, "a"), ("ns", SECRET, "b"))


def test_unmounted_volumes_are_not_set_up() -> None:
    p = pod(volumes=[{"name": "cfg", "configMap": {"name": "gone"}}])
    assert mount_failures(p, objects()) == []
    # an init container's or a device mapping counts
    p = pod(
        volumes=[{"name": "cfg", "configMap": {"name": "gone"}}],
        initContainers=[{"name": "i", "image": "x", "volumeDevices": [{"name": "cfg", "devicePath": "/d"}]}],
    )
    assert [f.name for f in mount_failures(p, objects())] == ["cfg"]


def test_environment_references() -> None:
    envs = [
        {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "o", "key": "k", "optional": True}}},
        {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}},
        {"name": "S", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "s"}}},
    ]
    p = pod(
        containers=[
            {"name": "app", "image": "x", "env": envs},
            {"name": "side", "image": "x", "envFrom": [{"secretRef": {"name": "all"}}]},
            {"name": "plain", "image": "x", "env": [{"name": "X", "value": "1"}]},
        ]
    )

    def errors(look: Any) -> list[tuple[str, str, str]]:
        return [(f.field, f.name, f.error) for f in config_failures(p, look)]

    assert errors(objects()) == [
        ("containers", "app", 'configmap "cfg" not found'),
        ("containers", "side", 'secret "all" not found'),
    ]
    # a ConfigMap's binaryData does not feed env; a missing key names the object
    look = objects({"cm/cfg": {"binaryData": {"a": "MQ=="}}, "secret/sec": {"data": {}}, "secret/all": {}})
    assert errors(look) == [("containers", "app", "couldn't find key a in ConfigMap ns/cfg")]
    look = objects({"cm/cfg": {"data": {"a": "1"}}, "secret/sec": {"data": {}}, "secret/all": {}})
    assert errors(look) == [("containers", "app", "couldn't find key s in Secret ns/sec")]
    look = objects({"cm/cfg": {"data": {"a": "1"}}, "secret/sec": {"data": {"s": ""}}, "secret/all": {}})
    assert errors(look) == []
    # envFrom is resolved before env
    first = pod(
        containers=[
            {
                "name": "c",
                "image": "x",
                "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "late", "key": "a"}}}],
                "envFrom": [
                    {"configMapRef": {"name": "early"}},
                    {"prefix": "P_", "secretRef": {"name": "o", "optional": True}},
                ],
            }
        ]
    )
    assert [f.error for f in config_failures(first, objects())] == ['configmap "early" not found']


def test_a_blocked_init_container_holds_up_the_rest() -> None:
    ref = {"valueFrom": {"secretKeyRef": {"name": "token", "key": "t"}}}
    p = pod(
        initContainers=[
            {"name": "ok", "image": "x"},
            {"name": "needs", "image": "x", "env": [{"name": "T", **ref}]},
            {"name": "also", "image": "x", "env": [{"name": "T", **ref}]},
        ],
        containers=[{"name": "app", "image": "x", "env": [{"name": "T", **ref}]}],
    )
    (f,) = config_failures(p, objects())
    assert (f.field, f.name, f.error, f.refs) == (
        "initContainers",
        "needs",
        'secret "token" not found',
        (("ns", SECRET, "token"),),
    )


def test_pods_without_references_have_nothing_to_wait_for() -> None:
    def never(ref: RefKey) -> None:
        raise AssertionError(f"looked up {ref}")

    p = pod(volumes=[{"name": "tmp", "emptyDir": {}}])
    assert mount_failures(p, never) == [] and config_failures(p, never) == []


def test_keys_only_keeps_identity_and_key_names() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "c",
            "namespace": "ns",
            "uid": "u",
            "resourceVersion": "7",
            "annotations": {"big": "x" * 1000},
            "managedFields": [{}],
        },
        "data": {"a": "long value"},
        "binaryData": {"b": "Zm9v"},
    }
    assert keys_only(cm) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "ns", "uid": "u", "resourceVersion": "7"},
        "data": {"a": ""},
        "binaryData": {"b": ""},
    }


def test_config_error_status_runs_what_can_run() -> None:
    p = pod(
        initContainers=[{"name": "init", "image": "busybox"}],
        containers=[{"name": "web", "image": "nginx"}, {"name": "app", "image": "app:1"}],
    )
    msg = 'configmap "x" not found'
    st = config_error_status(p, "h", "10.244.1.2", T0, {("containers", "app"): msg})
    assert st["phase"] == "Pending" and st["podIP"] == "10.244.1.2"
    web, app = st["containerStatuses"]
    assert web["state"] == {"running": {"startedAt": rfc3339(T0)}} and web["ready"] and web["containerID"]
    assert app["state"] == {"waiting": {"reason": "CreateContainerConfigError", "message": msg}}
    assert not app["ready"] and "containerID" not in app and app["image"] == "app:1" and app["imageID"] == ""
    assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["PodReadyToStartContainers"]["status"] == "True"
    assert conds["Initialized"]["status"] == "True"
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "ContainersNotReady"
    assert conds["ContainersReady"]["message"] == "containers with unready status: [app]"
    assert config_blocked({"status": st}) and is_started({"status": st})
    # a later attempt keeps the running container's start; once unblocked, so does Running
    again = config_error_status(with_status(p, st), "h", "10.244.1.2", T0 + 10, {("containers", "app"): msg})
    assert again == st
    run = running_status(with_status(p, st), "h", "10.244.1.2", T0 + 20, True, T0 + 20)
    assert run["containerStatuses"][0]["state"] == {"running": {"startedAt": rfc3339(T0)}}
    assert run["containerStatuses"][1]["state"] == {"running": {"startedAt": rfc3339(T0 + 20)}}
    assert not config_blocked({"status": run})


def test_config_error_status_of_an_init_container() -> None:
    p = pod(
        initContainers=[
            {"name": "first", "image": "x"},
            {"name": "side", "image": "x", "restartPolicy": "Always"},
            {"name": "blocked", "image": "x"},
            {"name": "last", "image": "x"},
        ],
        containers=[{"name": "web", "image": "nginx"}],
    )
    msg = "couldn't find key k in Secret ns/s"
    st = config_error_status(p, "h", "10.244.1.2", T0, {("initContainers", "blocked"): msg})
    first, side, blocked, last = st["initContainerStatuses"]
    assert first["state"]["terminated"]["reason"] == "Completed"
    assert "running" in side["state"] and side["started"]
    assert blocked["state"] == {"waiting": {"reason": "CreateContainerConfigError", "message": msg}}
    assert last["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Initialized"]["status"] == "False"
    assert conds["Initialized"]["reason"] == "ContainersNotInitialized"
    assert conds["Initialized"]["message"] == "containers with incomplete status: [blocked last]"
    assert conds["PodReadyToStartContainers"]["status"] == "True"
    assert config_blocked({"status": st}) and not is_started({"status": st})


# ---------------------------------------------------------------------------- generated logs
def src(**kw: Any) -> LogSource:
    base = dict(
        namespace="ns", pod="p", container="web", image="nginx:1.27", pod_ip="10.244.1.2", started=T0,
        finished=None, interval=1.0,
    )  # fmt: skip
    base.update(kw)
    return LogSource(**base)  # type: ignore[arg-type]


def test_logs_are_deterministic_and_grow_with_time() -> None:
    a, b = src(), src()
    assert a.lines(T0 + 5.5) == b.lines(T0 + 5.5)
    startup = len(a.startup())
    assert a.count(T0 - 1) == 0
    assert a.count(T0) == startup
    assert a.count(T0 + 5.5) == startup + 5
    assert "nginx/1.27" in "\n".join(a.startup())
    t, line = a.line(startup + 2)
    assert t == T0 + 3 and '"GET ' in line
    assert src(container="other").line(startup)[1] != a.line(startup)[1]
    assert src(image="busybox").startup()[0].endswith("INFO starting web (image busybox)")


def test_finished_container_log_ends_with_exit_line() -> None:
    s = src(finished=T0 + 2.5)
    n = s.count(T0 + 100)
    assert n == len(s.startup()) + 2 + 1
    assert s.line(n - 1) == (T0 + 2.5, s.exit_line())
    assert s.count(T0 + 1.5) == len(s.startup()) + 1  # while it ran


def test_first_since() -> None:
    s = src()
    total = s.count(T0 + 10)
    i = s.first_since(T0 + 4, total)
    assert s.line(i)[0] == T0 + 4 and s.line(i - 1)[0] < T0 + 4


def test_rfc3339_nano_drops_trailing_zeros() -> None:
    assert rfc3339_nano(T0) == "2023-11-14T22:13:20Z"
    assert rfc3339_nano(T0 + 0.5) == "2023-11-14T22:13:20.5Z"


def test_log_source_errors_match_the_kubelet() -> None:
    p = pod(containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "y"}])
    with pytest.raises(LogRequestError) as e:
        log_source(p, "zz", previous=False, interval=1)
    assert (e.value.status, e.value.message) == (404, 'container "zz" not found in pod "p"')
    with pytest.raises(LogRequestError) as e:
        log_source(p, "a", previous=False, interval=1)
    assert e.value.message == 'container "a" in pod "p" is waiting to start: ContainerCreating'
    running = with_status(p, running_status(p, "h", "10.244.1.2", T0, True, T0))
    assert log_source(running, "b", previous=False, interval=1).started == T0
    with pytest.raises(LogRequestError) as e:
        log_source(running, "a", previous=True, interval=1)
    assert e.value.message == 'previous terminated container "a" in pod "p" not found'


# ---------------------------------------------------------------------------- the kubelet endpoint
def test_kubelet_server_serves_tail_follow_limit_and_errors() -> None:
    started = time.time() - 3.05
    p = pod()
    p = with_status(p, running_status(p, "127.0.0.1", "10.244.1.2", started, True, started))
    pods = {("ns", "p"): p}

    async def run() -> dict[str, Any]:
        server = KubeletServer(lambda ns, n: pods.get((ns, n)), line_seconds=0.2, started=lambda uid: started)
        port = await server.start()
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        out: dict[str, Any] = {}
        base = f"https://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
                async with s.get(f"{base}/containerLogs/ns/p/web?tailLines=2&timestamps=true") as r:
                    out["tail"] = (r.status, (await r.text()).splitlines())
                async with s.get(f"{base}/containerLogs/ns/p/web?limitBytes=10") as r:
                    out["limit"] = await r.read()
                async with s.get(f"{base}/containerLogs/ns/p/web?sinceSeconds=1") as r:
                    out["since"] = (await r.text()).splitlines()
                async with s.get(f"{base}/containerLogs/ns/gone/web") as r:
                    out["gone"] = (r.status, await r.text())
                async with s.get(f"{base}/containerLogs/ns/p/web?follow=true&tailLines=0") as r:
                    lines = []
                    t0 = time.monotonic()
                    while len(lines) < 3:
                        lines.append((await asyncio.wait_for(r.content.readline(), 5)).decode())
                    out["follow"] = (lines, time.monotonic() - t0)
                    # the container finishes: the stream ends after the exit line
                    pods[("ns", "p")] = with_status(
                        p, finished_status(p, "127.0.0.1", "10.244.1.2", started, time.time(), time.time())
                    )
                    rest = await asyncio.wait_for(r.read(), 5)
                    out["rest"] = rest.decode().splitlines()
                async with s.get(f"{base}/healthz") as r:
                    out["healthz"] = await r.text()
        finally:
            await server.stop()
        return out

    out = asyncio.run(asyncio.wait_for(run(), 30))
    status, tail = out["tail"]
    assert status == 200 and len(tail) == 2
    assert all(line.split(" ", 1)[0].endswith("Z") and '"GET ' in line for line in tail)
    assert out["limit"] == b"/docker-en"
    assert 4 <= len(out["since"]) <= 6 and all('"GET ' in line for line in out["since"])
    assert out["gone"] == (404, 'pod "gone" does not exist')
    lines, took = out["follow"]
    assert all('"GET ' in line for line in lines) and took < 2.0
    assert out["rest"][-1].endswith("[notice] 1#1: exit")
    assert out["healthz"] == "ok"


# ---------------------------------------------------------------------------- API server side
def test_log_params_validation() -> None:
    assert log_params({"follow": "true", "tailLines": "5", "timestamps": "1"}, "p") == {
        "follow": "true",
        "timestamps": "true",
        "tailLines": "5",
    }
    with pytest.raises(StatusError) as e:
        log_params({"tailLines": "-1", "sinceSeconds": "5", "sinceTime": "2024-01-01T00:00:00Z"}, "p")
    assert e.value.code == 422
    assert e.value.message == (
        'PodLogOptions "p" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, '
        ": Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified]"
    )
    with pytest.raises(StatusError) as e:
        log_params({"limitBytes": "x"}, "p")
    assert e.value.code == 400


def test_choose_container_messages() -> None:
    one = pod()
    assert choose_container(one, "") == "web"
    multi = pod(
        containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "x"}],
        initContainers=[{"name": "i", "image": "x"}],
    )
    with pytest.raises(StatusError) as e:
        choose_container(multi, "")
    assert (e.value.code, e.value.message) == (
        400,
        "a container name must be specified for pod p, choose one of: [i a b]",
    )
    with pytest.raises(StatusError) as e:
        choose_container(multi, "c")
    assert e.value.message == "container c is not valid for pod p"
    assert choose_container(multi, "i") == "i"


def test_kubelet_location() -> None:
    n = {
        "metadata": {"name": "n"},
        "status": {
            "addresses": [
                {"type": "Hostname", "address": "n"},
                {"type": "InternalIP", "address": "10.1.2.3"},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 4321}},
        },
    }
    assert kubelet_location(n) == ("10.1.2.3", 4321)
    n["status"]["daemonEndpoints"] = {}
    assert kubelet_location(n) == ("10.1.2.3", 10250)
