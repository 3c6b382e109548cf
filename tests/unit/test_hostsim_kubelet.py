"""Pod statuses, generated logs, the kubelet log endpoint and the API server's pods/log checks."""

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
from vcluster.hostsim.podstatus import (
    CONDITION_ORDER,
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
