"""Server-side Table printing: HumanDuration, the 1.32 built-in printers, the default table and the
Table envelope (includeObject, watch-event column elision)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcluster.apiserver import printers
from vcluster.apiserver.printers import (
    build_table,
    column_definitions,
    human_duration,
    row_cells,
    row_conditions,
    translate_timestamp_since,
)

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
MIN = 60
HOUR = 3600
DAY = 86400


def ago(seconds: float) -> str:
    t = NOW - timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, age: float = 300, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "creationTimestamp": ago(age),
        **extra,
    }


def names(group: str, resource: str) -> list[str]:
    return [c["name"] for c in column_definitions(group, resource)]


# ---------------------------------------------------------------------------------------------
# HumanDuration
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-10 * DAY, "<invalid>"),
        (-3, "<invalid>"),
        (-2, "<invalid>"),
        (-1.999, "0s"),  # truncates to -1: tolerated clock skew
        (-1, "0s"),
        (-0.5, "0s"),
        (0, "0s"),
        (0.9, "0s"),
        (1, "1s"),
        (59, "59s"),
        (119, "119s"),
        (119.99, "119s"),
        (120, "2m"),
        (121, "2m1s"),
        (5 * MIN + 30, "5m30s"),
        (9 * MIN + 59, "9m59s"),
        (10 * MIN, "10m"),
        (10 * MIN + 59, "10m"),
        (3 * HOUR - 1, "179m"),
        (3 * HOUR, "3h"),
        (3 * HOUR + 1 * MIN, "3h1m"),
        (5 * HOUR + 10 * MIN + 59, "5h10m"),
        (8 * HOUR - 1, "7h59m"),
        (8 * HOUR, "8h"),
        (47 * HOUR + 59 * MIN, "47h"),
        (48 * HOUR, "2d"),
        (49 * HOUR, "2d1h"),
        (8 * DAY - 1, "7d23h"),
        (8 * DAY, "8d"),
        (729 * DAY + 23 * HOUR, "729d"),
        (730 * DAY, "2y"),
        (731 * DAY, "2y1d"),
        (8 * 365 * DAY - 1, "7y364d"),
        (8 * 365 * DAY, "8y"),
        (10 * 365 * DAY + 100 * DAY, "10y"),
    ],
)
def test_human_duration_bands(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


def test_human_duration_non_finite() -> None:
    assert human_duration(math.nan) == "<invalid>"
    assert human_duration(-math.inf) == "<invalid>"
    assert human_duration(math.inf) == "292y"


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (None, "<unknown>"),
        ("", "<unknown>"),
        ("0001-01-01T00:00:00Z", "<unknown>"),
        ("not a time", "<unknown>"),
        ("2024-06-01", "<unknown>"),
        (ago(300), "5m"),
        (ago(-1), "0s"),
        (ago(-10), "<invalid>"),
        ("2024-06-01T11:59:30.123456Z", "29s"),  # MicroTime
        ("2024-06-01T13:01:00+02:00", "59m"),
        ("2024-06-01T11:00:00", "60m"),  # no offset: read as UTC
    ],
)
def test_translate_timestamp_since(ts: str | None, expected: str) -> None:
    assert translate_timestamp_since(ts, NOW) == expected


def test_translate_timestamp_since_naive_now() -> None:
    assert translate_timestamp_since(ago(90), NOW.replace(tzinfo=None)) == "90s"


# ---------------------------------------------------------------------------------------------
# Pods
# ---------------------------------------------------------------------------------------------


def running(name: str = "app", restarts: int = 0, ready: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": ready,
        "started": True,
        "restartCount": restarts,
        "image": "nginx",
        "state": {"running": {"startedAt": ago(200)}},
        **extra,
    }


def waiting(reason: str, name: str = "app", restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
        **extra,
    }


def terminated(
    reason: str = "", exit_code: int = 0, name: str = "app", signal: int = 0, restarts: int = 0
) -> dict[str, Any]:
    term: dict[str, Any] = {"exitCode": exit_code, "finishedAt": ago(60)}
    if reason:
        term["reason"] = reason
    if signal:
        term["signal"] = signal
    return {"name": name, "ready": False, "restartCount": restarts, "state": {"terminated": term}}


def pod(
    statuses: list[dict[str, Any]] | None = None,
    phase: str = "Running",
    containers: int = 1,
    init: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    **status_extra: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)]}
    if containers == 1:
        spec["containers"][0]["name"] = "app"
    if init is not None:
        spec["initContainers"] = init
    status: dict[str, Any] = {"phase": phase, **status_extra}
    if statuses is not None:
        status["containerStatuses"] = statuses
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if conditions is not None:
        status["conditions"] = conditions
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta("p"), "spec": spec, "status": status}


def cond(ctype: str, status: str = "True", reason: str = "") -> dict[str, Any]:
    c = {"type": ctype, "status": status}
    if reason:
        c["reason"] = reason
    return c


def crashloop() -> dict[str, Any]:
    s = waiting("CrashLoopBackOff", restarts=5)
    s["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(130)}}
    return s


SIDECAR = {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}
INIT_A = {"name": "init-a", "image": "busybox"}
INIT_B = {"name": "init-b", "image": "busybox"}


POD_CASES: list[tuple[str, dict[str, Any], list[Any]]] = [
    ("running", pod([running()]), ["1/1", "Running", "0"]),
    ("no status at all", {"metadata": meta("p"), "spec": {"containers": [{"name": "a"}]}}, ["0/1", "", "0"]),
    (
        "pending unscheduled",
        pod(phase="Pending", conditions=[cond("PodScheduled", "False", "Unschedulable")]),
        ["0/1", "Pending", "0"],
    ),
    (
        "container creating",
        pod([waiting("ContainerCreating")], phase="Pending"),
        ["0/1", "ContainerCreating", "0"],
    ),
    ("image pull", pod([waiting("ErrImagePull")], phase="Pending"), ["0/1", "ErrImagePull", "0"]),
    ("crash loop", pod([crashloop()]), ["0/1", "CrashLoopBackOff", "5 (2m10s ago)"]),
    ("restarts without a known time", pod([running(restarts=3)]), ["1/1", "Running", "3"]),
    ("running not ready", pod([running(ready=False)]), ["0/1", "Running", "0"]),
    (
        "two containers one ready",
        pod([running("c0"), running("c1", ready=False)], containers=2),
        ["1/2", "Running", "0"],
    ),
    ("succeeded", pod([terminated("Completed")], phase="Succeeded"), ["0/1", "Completed", "0"]),
    ("failed with reason", pod([terminated("Error", 1)], phase="Failed"), ["0/1", "Error", "0"]),
    ("oom killed", pod([terminated("OOMKilled", 137)]), ["0/1", "OOMKilled", "0"]),
    ("exit code without reason", pod([terminated(exit_code=3)], phase="Failed"), ["0/1", "ExitCode:3", "0"]),
    ("signal without reason", pod([terminated(exit_code=137, signal=9)]), ["0/1", "Signal:9", "0"]),
    ("evicted", pod([], phase="Failed", reason="Evicted"), ["0/1", "Evicted", "0"]),
    (
        "completed but a container still runs, ready",
        pod([terminated("Completed", name="c0"), running("c1")], containers=2, conditions=[cond("Ready")]),
        ["1/2", "Running", "0"],
    ),
    (
        "completed but a container still runs, not ready",
        pod(
            [terminated("Completed", name="c0"), running("c1")],
            containers=2,
            conditions=[cond("Ready", "False")],
        ),
        ["1/2", "NotReady", "0"],
    ),
    (
        "scheduling gated",
        pod(phase="Pending", conditions=[cond("PodScheduled", "False", "SchedulingGated")]),
        ["0/1", "SchedulingGated", "0"],
    ),
    (
        "init waiting to start",
        pod(
            [waiting("PodInitializing")],
            phase="Pending",
            init=[INIT_A, INIT_B],
            init_statuses=[
                waiting("PodInitializing", name="init-a"),
                waiting("PodInitializing", name="init-b"),
            ],
        ),
        ["0/1", "Init:0/2", "0"],
    ),
    (
        "init running",
        pod(
            phase="Pending",
            init=[INIT_A, INIT_B],
            init_statuses=[running("init-a", ready=False), waiting("PodInitializing", "init-b")],
        ),
        ["0/1", "Init:0/2", "0"],
    ),
    (
        "second init running",
        pod(
            phase="Pending",
            init=[INIT_A, INIT_B],
            init_statuses=[terminated("Completed", name="init-a"), running("init-b", ready=False)],
        ),
        ["0/1", "Init:1/2", "0"],
    ),
    (
        "init crash loop",
        pod(
            phase="Pending", init=[INIT_A], init_statuses=[waiting("CrashLoopBackOff", "init-a", restarts=2)]
        ),
        ["0/1", "Init:CrashLoopBackOff", "2"],
    ),
    (
        "init error",
        pod(phase="Pending", init=[INIT_A], init_statuses=[terminated("Error", 1, "init-a")]),
        ["0/1", "Init:Error", "0"],
    ),
    (
        "init exit code",
        pod(phase="Pending", init=[INIT_A], init_statuses=[terminated(exit_code=3, name="init-a")]),
        ["0/1", "Init:ExitCode:3", "0"],
    ),
    (
        "init signal",
        pod(phase="Pending", init=[INIT_A], init_statuses=[terminated(exit_code=1, signal=9, name="init-a")]),
        ["0/1", "Init:Signal:9", "0"],
    ),
    (
        "init done, app running",
        pod(
            [running()],
            init=[INIT_A],
            init_statuses=[terminated("Completed", name="init-a")],
            conditions=[cond("Initialized"), cond("Ready")],
        ),
        ["1/1", "Running", "0"],
    ),
    (
        "sidecar running and ready",
        pod(
            [running(restarts=1)],
            init=[SIDECAR],
            init_statuses=[running("proxy", restarts=2)],
            conditions=[cond("Initialized"), cond("Ready")],
        ),
        ["2/2", "Running", "3"],
    ),
    (
        "sidecar started, app still creating",
        pod(
            [waiting("ContainerCreating")],
            phase="Pending",
            init=[SIDECAR, INIT_A],
            init_statuses=[running("proxy", ready=False), terminated("Completed", name="init-a")],
        ),
        ["0/2", "ContainerCreating", "0"],
    ),
    (
        "sidecar not started yet",
        pod(phase="Pending", init=[SIDECAR], init_statuses=[waiting("PodInitializing", "proxy")]),
        ["0/2", "Init:0/1", "0"],
    ),
    ("terminating", pod([running()], deletion=True), ["1/1", "Terminating", "0"]),
    (
        "terminating after success keeps Completed",
        pod([terminated("Completed")], phase="Succeeded", deletion=True),
        ["0/1", "Completed", "0"],
    ),
    ("node lost", pod([running()], reason="NodeLost", deletion=True), ["1/1", "Unknown", "0"]),
    ("node lost without deletion", pod([running()], reason="NodeLost"), ["1/1", "NodeLost", "0"]),
]


@pytest.mark.parametrize(
    ("obj", "expected"), [(c[1], c[2]) for c in POD_CASES], ids=[c[0] for c in POD_CASES]
)
def test_pod_status_ready_restarts(obj: dict[str, Any], expected: list[Any]) -> None:
    if obj.get("status", {}).pop("deletion", False):
        obj["metadata"]["deletionTimestamp"] = ago(5)
    cells = row_cells("", "pods", obj, NOW)
    assert len(cells) == len(column_definitions("", "pods"))
    assert cells[1:4] == expected
    assert cells[0] == "p"
    assert cells[4] == "5m"


def test_pod_restarts_ago_uses_latest_termination_across_containers() -> None:
    a = running("c0", restarts=1, lastState={"terminated": {"exitCode": 1, "finishedAt": ago(2 * HOUR)}})
    b = running("c1", restarts=2, lastState={"terminated": {"exitCode": 1, "finishedAt": ago(10 * MIN)}})
    cells = row_cells("", "pods", pod([a, b], containers=2), NOW)
    assert cells[1:4] == ["2/2", "Running", "3 (10m ago)"]


def test_pod_init_restarts_replaced_once_initialized() -> None:
    # while initializing, init-container restarts count; once initialized only sidecars' do
    init_crash = waiting("CrashLoopBackOff", "init-a", restarts=4)
    init_crash["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ago(30)}}
    p = pod(phase="Pending", init=[INIT_A], init_statuses=[init_crash])
    assert row_cells("", "pods", p, NOW)[3] == "4 (30s ago)"
    done = terminated("Completed", name="init-a", restarts=4)
    p = pod([running()], init=[INIT_A], init_statuses=[done], conditions=[cond("Initialized")])
    assert row_cells("", "pods", p, NOW)[1:4] == ["1/1", "Running", "0"]


def test_pod_wide_columns() -> None:
    p = pod(
        [running()],
        podIPs=[{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
        nominatedNodeName="n2",
        conditions=[cond("Ready"), cond("example.com/gate-a"), cond("example.com/gate-b", "False")],
    )
    p["spec"]["nodeName"] = "node-1"
    p["spec"]["readinessGates"] = [
        {"conditionType": "example.com/gate-a"},
        {"conditionType": "example.com/gate-b"},
    ]
    assert row_cells("", "pods", p, NOW) == [
        "p",
        "1/1",
        "Running",
        "0",
        "5m",
        "10.0.0.5",
        "node-1",
        "n2",
        "1/2",
    ]
    p2 = pod([running()], podIP="10.0.0.9")
    assert row_cells("", "pods", p2, NOW)[5:] == ["10.0.0.9", "<none>", "<none>", "<none>"]


def test_pod_columns() -> None:
    cols = column_definitions("", "pods")
    assert [(c["name"], c["type"], c["priority"]) for c in cols] == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Status", "string", 0),
        ("Restarts", "string", 0),
        ("Age", "string", 0),
        ("IP", "string", 1),
        ("Node", "string", 1),
        ("Nominated Node", "string", 1),
        ("Readiness Gates", "string", 1),
    ]
    assert cols[0]["format"] == "name"
    assert cols[0]["description"].startswith("Name must be unique within a namespace.")
    assert cols[4]["description"].startswith("CreationTimestamp is a timestamp")


def test_pod_row_conditions() -> None:
    assert row_conditions("", "pods", pod(phase="Succeeded")) == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert row_conditions("", "pods", pod(phase="Failed")) == [
        {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
    ]
    assert row_conditions("", "pods", pod(phase="Running")) is None
    assert row_conditions("", "pods", {}) is None
    assert row_conditions("batch", "jobs", {"status": {"phase": "Succeeded"}}) is None


# ---------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------

TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]},
}


def test_deployment() -> None:
    d = {
        "metadata": meta("web", 2 * DAY + 3 * HOUR),
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web", "tier": "fe"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "zone", "operator": "NotIn", "values": ["b", "a"]},
                    {"key": "ha", "operator": "Exists"},
                ],
            },
            "template": TEMPLATE,
        },
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert names("apps", "deployments") == [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    assert row_cells("apps", "deployments", d, NOW) == [
        "web",
        "2/3",
        3,
        2,
        "2d3h",
        "web,log",
        "nginx:1.27,busybox",
        "app=web,!canary,env in (dev,prod),ha,tier=fe,zone notin (a,b)",
    ]
    d["status"] = {}
    d["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    assert row_cells("apps", "deployments", d, NOW)[1:4] == ["0/3", 0, 0]
    assert row_cells("apps", "deployments", d, NOW)[7] == "app=web"
    d["spec"]["selector"] = {"matchExpressions": [{"key": "env", "operator": "In", "values": []}]}
    assert row_cells("apps", "deployments", d, NOW)[7] == "<invalid>"
    d["spec"]["selector"] = {}
    assert row_cells("apps", "deployments", d, NOW)[7] == ""


def test_replicaset_statefulset_daemonset_rc() -> None:
    rs = {
        "metadata": meta("web-5d4f", 45),
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert names("apps", "replicasets") == [
        "Name",
        "Desired",
        "Current",
        "Ready",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    assert row_cells("apps", "replicasets", rs, NOW) == [
        "web-5d4f",
        2,
        2,
        1,
        "45s",
        "web,log",
        "nginx:1.27,busybox",
        "app=web",
    ]
    rs["spec"]["selector"] = {}
    assert row_cells("apps", "replicasets", rs, NOW)[7] == "<none>"
    rs["spec"]["selector"] = {"matchLabels": {"bad key!": "x"}}
    assert row_cells("apps", "replicasets", rs, NOW)[7] == "<error>"

    sts = {
        "metadata": meta("db", 9 * DAY),
        "spec": {"replicas": 3, "template": TEMPLATE},
        "status": {"readyReplicas": 3},
    }
    assert names("apps", "statefulsets") == ["Name", "Ready", "Age", "Containers", "Images"]
    assert row_cells("apps", "statefulsets", sts, NOW) == ["db", "3/3", "9d", "web,log", "nginx:1.27,busybox"]

    ds = {
        "metadata": meta("agent", 3 * HOUR + 5 * MIN),
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux", "disk": "ssd"},
                    "containers": [{"name": "agent", "image": "agent:v1"}],
                }
            },
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert names("apps", "daemonsets") == [
        "Name",
        "Desired",
        "Current",
        "Ready",
        "Up-to-date",
        "Available",
        "Node Selector",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    assert row_cells("apps", "daemonsets", ds, NOW) == [
        "agent",
        3,
        3,
        2,
        3,
        2,
        "disk=ssd,kubernetes.io/os=linux",
        "3h5m",
        "agent",
        "agent:v1",
        "app=agent",
    ]
    ds["spec"]["template"]["spec"].pop("nodeSelector")
    assert row_cells("apps", "daemonsets", ds, NOW)[6] == "<none>"

    rc = {
        "metadata": meta("old"),
        "spec": {"replicas": 2, "selector": {"app": "old"}, "template": TEMPLATE},
        "status": {"replicas": 2, "readyReplicas": 2},
    }
    assert names("", "replicationcontrollers") == [
        "Name",
        "Desired",
        "Current",
        "Ready",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    assert row_cells("", "replicationcontrollers", rc, NOW) == [
        "old",
        2,
        2,
        2,
        "5m",
        "web,log",
        "nginx:1.27,busybox",
        "app=old",
    ]


JOB_SPEC = {
    "completions": 1,
    "parallelism": 1,
    "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
    "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}},
}


@pytest.mark.parametrize(
    ("status", "deleting", "expected"),
    [
        (
            {
                "succeeded": 1,
                "startTime": ago(600),
                "completionTime": ago(555),
                "conditions": [{"type": "Complete", "status": "True"}],
            },
            False,
            ["Complete", "1/1", "45s"],
        ),
        ({"active": 1, "startTime": ago(200)}, False, ["Running", "0/1", "3m20s"]),
        (
            {"failed": 3, "startTime": ago(900), "conditions": [{"type": "Failed", "status": "True"}]},
            False,
            ["Failed", "0/1", "15m"],
        ),
        ({"conditions": [{"type": "Suspended", "status": "True"}]}, False, ["Suspended", "0/1", ""]),
        (
            {"conditions": [{"type": "FailureTarget", "status": "True"}], "startTime": ago(60)},
            False,
            ["FailureTarget", "0/1", "60s"],
        ),
        ({"conditions": [{"type": "Suspended", "status": "True"}]}, True, ["Terminating", "0/1", ""]),
        (
            {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]},
            True,
            ["Complete", "1/1", ""],
        ),
        (
            {"conditions": [{"type": "Complete", "status": "False"}, {"type": "Complete", "status": "True"}]},
            False,
            ["Running", "0/1", ""],
        ),
    ],
)
def test_job_status_and_duration(status: dict[str, Any], deleting: bool, expected: list[str]) -> None:
    job = {"metadata": meta("pi", 20 * MIN), "spec": JOB_SPEC, "status": status}
    if deleting:
        job["metadata"]["deletionTimestamp"] = ago(1)
    cells = row_cells("batch", "jobs", job, NOW)
    assert cells[0] == "pi"
    assert cells[1:4] == expected
    assert cells[4:] == ["20m", "pi", "perl", "batch.kubernetes.io/controller-uid=u1"]


def test_job_completions_forms() -> None:
    assert names("batch", "jobs") == [
        "Name",
        "Status",
        "Completions",
        "Duration",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    job = {"metadata": meta("j"), "spec": {"completions": 5, "parallelism": 2}, "status": {"succeeded": 2}}
    assert row_cells("batch", "jobs", job, NOW)[2] == "2/5"
    job["spec"] = {"parallelism": 3}
    assert row_cells("batch", "jobs", job, NOW)[2] == "2/1 of 3"
    job["spec"] = {}
    assert row_cells("batch", "jobs", job, NOW)[2] == "2/1"


def test_cronjob() -> None:
    cj = {
        "metadata": meta("nightly", 30 * DAY),
        "spec": {
            "schedule": "0 3 * * *",
            "suspend": False,
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "bk"}]}}}},
        },
        "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(9 * HOUR)},
    }
    assert names("batch", "cronjobs") == [
        "Name",
        "Schedule",
        "Timezone",
        "Suspend",
        "Active",
        "Last Schedule",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    assert row_cells("batch", "cronjobs", cj, NOW) == [
        "nightly",
        "0 3 * * *",
        "<none>",
        "False",
        1,
        "9h",
        "30d",
        "b",
        "bk",
        "<none>",
    ]
    cj["spec"]["timeZone"] = "Europe/Paris"
    cj["spec"]["suspend"] = True
    cj["status"] = {}
    assert row_cells("batch", "cronjobs", cj, NOW)[2:6] == ["Europe/Paris", "True", 0, "<none>"]
    cj["spec"].pop("suspend")
    assert row_cells("batch", "cronjobs", cj, NOW)[3] == "<unset>"


# ---------------------------------------------------------------------------------------------
# Networking
# ---------------------------------------------------------------------------------------------


def svc(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": meta("s"), "spec": spec, "status": status or {}}


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        (
            {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.1",
                "clusterIPs": ["10.96.0.1"],
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            },
            None,
            ["ClusterIP", "10.96.0.1", "<none>", "443/TCP", "<none>"],
        ),
        (
            {"type": "ClusterIP", "clusterIP": "None", "selector": {"app": "db"}},
            None,
            ["ClusterIP", "None", "<none>", "<none>", "app=db"],
        ),
        (
            {
                "type": "ClusterIP",
                "clusterIPs": ["10.96.3.3", "fd00::3"],
                "externalIPs": ["1.2.3.4", "5.6.7.8"],
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
            },
            None,
            ["ClusterIP", "10.96.3.3", "1.2.3.4,5.6.7.8", "80/TCP,53/UDP", "<none>"],
        ),
        (
            {
                "type": "NodePort",
                "clusterIP": "10.96.0.7",
                "selector": {"b": "2", "a": "1"},
                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
            },
            None,
            ["NodePort", "10.96.0.7", "<none>", "80:30080/TCP", "a=1,b=2"],
        ),
        (
            {
                "type": "LoadBalancer",
                "clusterIP": "10.96.0.8",
                "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}],
            },
            None,
            ["LoadBalancer", "10.96.0.8", "<pending>", "80:31000/TCP", "<none>"],
        ),
        (
            {"type": "LoadBalancer", "clusterIP": "10.96.0.8"},
            {
                "loadBalancer": {
                    "ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}, {"ip": "203.0.113.1"}]
                }
            },
            ["LoadBalancer", "10.96.0.8", "203.0.113.1,203.0.113.9,lb.example.com", "<none>", "<none>"],
        ),
        (
            {"type": "LoadBalancer", "clusterIP": "10.96.0.8", "externalIPs": ["9.9.9.9"]},
            {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}},
            ["LoadBalancer", "10.96.0.8", "203.0.113.9,9.9.9.9", "<none>", "<none>"],
        ),
        (
            {"type": "ExternalName", "externalName": "db.example.com"},
            None,
            ["ExternalName", "<none>", "db.example.com", "<none>", "<none>"],
        ),
    ],
)
def test_service(spec: dict[str, Any], status: dict[str, Any] | None, expected: list[str]) -> None:
    cells = row_cells("", "services", svc(spec, status), NOW)
    assert cells == ["s", *expected[:4], "5m", expected[4]]


def test_service_columns() -> None:
    assert names("", "services") == [
        "Name",
        "Type",
        "Cluster-IP",
        "External-IP",
        "Port(s)",
        "Age",
        "Selector",
    ]


def test_endpoints() -> None:
    assert names("", "endpoints") == ["Name", "Endpoints", "Age"]
    ep = {
        "metadata": meta("kubernetes"),
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "https", "port": 6443}]}],
    }
    assert row_cells("", "endpoints", ep, NOW) == ["kubernetes", "10.0.0.1:6443", "5m"]
    many = {
        "metadata": meta("web"),
        "subsets": [
            {
                "addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 4)],
                "ports": [{"port": 80}, {"port": 443}],
            },
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 8080}]},
        ],
    }
    assert row_cells("", "endpoints", many, NOW)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 4 more..."
    v6 = {"metadata": meta("v6"), "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}
    assert row_cells("", "endpoints", v6, NOW)[1] == "[fd00::1]:80"
    headless = {"metadata": meta("h"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}]}
    assert row_cells("", "endpoints", headless, NOW)[1] == "10.0.0.1,10.0.0.2"
    assert row_cells("", "endpoints", {"metadata": meta("e")}, NOW)[1] == "<none>"
    assert row_cells("", "endpoints", {"metadata": meta("e"), "subsets": [{}]}, NOW)[1] == ""


def test_endpointslice() -> None:
    assert names("discovery.k8s.io", "endpointslices") == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    es = {
        "metadata": meta("web-abc"),
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "named"}, {}],
        "endpoints": [
            {"addresses": ["10.0.0.1"]},
            {"addresses": ["10.0.0.2", "10.0.0.3"]},
            {"addresses": ["10.0.0.4"]},
        ],
    }
    assert row_cells("discovery.k8s.io", "endpointslices", es, NOW) == [
        "web-abc",
        "IPv4",
        "80,named,*",
        "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
        "5m",
    ]
    empty = {"metadata": meta("e"), "addressType": "IPv6"}
    assert row_cells("discovery.k8s.io", "endpointslices", empty, NOW)[2:4] == ["<unset>", "<unset>"]


def test_ingress_and_class() -> None:
    assert names("networking.k8s.io", "ingresses") == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    ing = {
        "metadata": meta("web"),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}],
            "tls": [{"hosts": ["a.example.com"]}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}},
    }
    assert row_cells("networking.k8s.io", "ingresses", ing, NOW) == [
        "web",
        "nginx",
        "a.example.com,b.example.com",
        "192.0.2.10",
        "80, 443",
        "5m",
    ]
    bare = {"metadata": meta("any"), "spec": {"defaultBackend": {"service": {"name": "x"}}}}
    assert row_cells("networking.k8s.io", "ingresses", bare, NOW) == ["any", "<none>", "*", "", "80", "5m"]
    five = {"metadata": meta("five"), "spec": {"rules": [{"host": f"h{i}"} for i in range(5)]}}
    assert row_cells("networking.k8s.io", "ingresses", five, NOW)[2] == "h0,h1,h2 + 2 more..."

    assert names("networking.k8s.io", "ingressclasses") == ["Name", "Controller", "Parameters", "Age"]
    ic = {
        "metadata": meta("nginx"),
        "spec": {
            "controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"},
        },
    }
    assert row_cells("networking.k8s.io", "ingressclasses", ic, NOW) == [
        "nginx",
        "k8s.io/ingress-nginx",
        "IngressParameters.k8s.example.com/external-lb",
        "5m",
    ]
    ic["spec"].pop("parameters")
    assert row_cells("networking.k8s.io", "ingressclasses", ic, NOW)[2] == "<none>"


def test_networkpolicy() -> None:
    assert names("networking.k8s.io", "networkpolicies") == ["Name", "Pod-Selector", "Age"]
    np = {"metadata": meta("deny"), "spec": {"podSelector": {}}}
    assert row_cells("networking.k8s.io", "networkpolicies", np, NOW) == ["deny", "<none>", "5m"]
    np["spec"]["podSelector"] = {"matchLabels": {"role": "db"}}
    assert row_cells("networking.k8s.io", "networkpolicies", np, NOW)[1] == "role=db"


# ---------------------------------------------------------------------------------------------
# Cluster objects
# ---------------------------------------------------------------------------------------------


def test_nodes() -> None:
    assert names("", "nodes") == [
        "Name",
        "Status",
        "Roles",
        "Age",
        "Version",
        "Internal-IP",
        "External-IP",
        "OS-Image",
        "Kernel-Version",
        "Container-Runtime",
    ]
    node = {
        "metadata": meta(
            "cp-1",
            40 * DAY,
            labels={
                "node-role.kubernetes.io/control-plane": "",
                "node-role.kubernetes.io/master": "",
                "kubernetes.io/hostname": "cp-1",
            },
        ),
        "spec": {},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "addresses": [
                {"type": "InternalIP", "address": "172.18.0.2"},
                {"type": "Hostname", "address": "cp-1"},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.8.0",
                "containerRuntimeVersion": "containerd://1.7.24",
            },
        },
    }
    assert row_cells("", "nodes", node, NOW) == [
        "cp-1",
        "Ready",
        "control-plane,master",
        "40d",
        "v1.32.0",
        "172.18.0.2",
        "<none>",
        "Debian GNU/Linux 12 (bookworm)",
        "6.8.0",
        "containerd://1.7.24",
    ]
    node["spec"]["unschedulable"] = True
    node["status"]["conditions"][1]["status"] = "Unknown"
    node["metadata"]["labels"] = {"kubernetes.io/role": "worker"}
    assert row_cells("", "nodes", node, NOW)[1:3] == ["NotReady,SchedulingDisabled", "worker"]
    bare = {"metadata": meta("n")}
    assert row_cells("", "nodes", bare, NOW) == [
        "n",
        "Unknown",
        "<none>",
        "5m",
        "",
        "<none>",
        "<none>",
        "<unknown>",
        "<unknown>",
        "<unknown>",
    ]


def test_simple_core_kinds() -> None:
    ns = {"metadata": meta("kube-system", 3 * DAY), "status": {"phase": "Active"}}
    assert names("", "namespaces") == ["Name", "Status", "Age"]
    assert row_cells("", "namespaces", ns, NOW) == ["kube-system", "Active", "3d"]

    cm = {"metadata": meta("kube-root-ca.crt"), "data": {"ca.crt": "x"}, "binaryData": {"b": "AA=="}}
    assert names("", "configmaps") == ["Name", "Data", "Age"]
    assert row_cells("", "configmaps", cm, NOW) == ["kube-root-ca.crt", 2, "5m"]
    assert row_cells("", "configmaps", {"metadata": meta("e")}, NOW) == ["e", 0, "5m"]

    sec = {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "x", "tls.key": "y"}}
    assert names("", "secrets") == ["Name", "Type", "Data", "Age"]
    assert row_cells("", "secrets", sec, NOW) == ["tls", "kubernetes.io/tls", 2, "5m"]

    sa = {"metadata": meta("default")}
    assert names("", "serviceaccounts") == ["Name", "Secrets", "Age"]
    assert row_cells("", "serviceaccounts", sa, NOW) == ["default", 0, "5m"]
    sa["secrets"] = [{"name": "default-token"}]
    assert row_cells("", "serviceaccounts", sa, NOW)[1] == 1


def test_events_core_v1() -> None:
    assert names("", "events") == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Subobject",
        "Source",
        "Message",
        "First Seen",
        "Count",
        "Name",
    ]
    cols = column_definitions("", "events")
    assert [c["priority"] for c in cols] == [0, 0, 0, 0, 1, 1, 0, 1, 1, 1]
    assert cols[-1]["format"] == "name"
    ev = {
        "metadata": meta("web.17a"),
        "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{web}"},
        "reason": "Pulled",
        "message": '  Successfully pulled image "nginx"\n',
        "type": "Normal",
        "source": {"component": "kubelet", "host": "node-1"},
        "count": 3,
        "firstTimestamp": ago(HOUR),
        "lastTimestamp": ago(2 * MIN),
    }
    assert row_cells("", "events", ev, NOW) == [
        "2m",
        "Normal",
        "Pulled",
        "pod/web-1",
        "spec.containers{web}",
        "kubelet, node-1",
        'Successfully pulled image "nginx"',
        "60m",
        3,
        "web.17a",
    ]
    # new-style event written through core/v1: no timestamps but eventTime, reporting fields, count 0
    ev2 = {
        "metadata": meta("sched.1"),
        "involvedObject": {"kind": "Pod", "name": "web-2"},
        "reason": "Scheduled",
        "message": "ok",
        "type": "Normal",
        "eventTime": "2024-06-01T11:59:20.000001Z",
        "reportingComponent": "default-scheduler",
        "reportingInstance": "sched-abc",
    }
    assert row_cells("", "events", ev2, NOW) == [
        "39s",
        "Normal",
        "Scheduled",
        "pod/web-2",
        "",
        "default-scheduler, sched-abc",
        "ok",
        "39s",
        1,
        "sched.1",
    ]
    # series: last seen and count come from it
    ev2["series"] = {"count": 7, "lastObservedTime": "2024-06-01T11:59:55.000000Z"}
    assert row_cells("", "events", ev2, NOW)[0] == "5s"
    assert row_cells("", "events", ev2, NOW)[8] == 7
    # no involved name, only the component
    ev3 = {"metadata": meta("x"), "involvedObject": {"kind": "Node"}, "source": {"component": "kubelet"}}
    cells = row_cells("", "events", ev3, NOW)
    assert cells[3] == "node" and cells[5] == "kubelet" and cells[0] == "<unknown>"


def test_events_k8s_io_v1_prints_like_core() -> None:
    assert column_definitions("events.k8s.io", "events") == column_definitions("", "events")
    ev = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": meta("web.17b"),
        "regarding": {"kind": "Deployment", "name": "web", "fieldPath": ""},
        "reason": "ScalingReplicaSet",
        "note": "Scaled up replica set web-5d4f to 3",
        "type": "Normal",
        "eventTime": ago(30),
        "reportingController": "deployment-controller",
        "reportingInstance": "",
        "deprecatedSource": {"component": "deployment-controller"},
        "deprecatedFirstTimestamp": ago(HOUR),
        "deprecatedLastTimestamp": ago(90),
        "deprecatedCount": 4,
    }
    assert row_cells("events.k8s.io", "events", ev, NOW) == [
        "90s",
        "Normal",
        "ScalingReplicaSet",
        "deployment/web",
        "",
        "deployment-controller",
        "Scaled up replica set web-5d4f to 3",
        "60m",
        4,
        "web.17b",
    ]
    minimal = {
        "metadata": meta("m"),
        "regarding": {"kind": "Pod", "name": "p"},
        "eventTime": ago(12),
        "reportingController": "c",
        "reportingInstance": "i",
        "note": "n",
    }
    assert row_cells("events.k8s.io", "events", minimal, NOW) == [
        "12s",
        "",
        "",
        "pod/p",
        "",
        "c, i",
        "n",
        "12s",
        1,
        "m",
    ]


def test_storage_kinds() -> None:
    assert names("", "persistentvolumeclaims") == [
        "Name",
        "Status",
        "Volume",
        "Capacity",
        "Access Modes",
        "StorageClass",
        "VolumeAttributesClass",
        "Age",
        "VolumeMode",
    ]
    pvc = {
        "metadata": meta("data"),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "standard",
            "resources": {"requests": {"storage": "1Gi"}},
            "volumeName": "pvc-123",
            "volumeMode": "Filesystem",
        },
        "status": {
            "phase": "Bound",
            "accessModes": ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteOnce"],
            "capacity": {"storage": "2Gi"},
        },
    }
    assert row_cells("", "persistentvolumeclaims", pvc, NOW) == [
        "data",
        "Bound",
        "pvc-123",
        "2Gi",
        "RWO,ROX",
        "standard",
        "<unset>",
        "5m",
        "Filesystem",
    ]
    pending = {
        "metadata": meta("p", annotations={"volume.beta.kubernetes.io/storage-class": "legacy"}),
        "spec": {"storageClassName": "standard"},
        "status": {"phase": "Pending"},
    }
    assert row_cells("", "persistentvolumeclaims", pending, NOW) == [
        "p",
        "Pending",
        "",
        "",
        "",
        "legacy",
        "<unset>",
        "5m",
        "<unset>",
    ]
    pending["metadata"]["deletionTimestamp"] = ago(1)
    assert row_cells("", "persistentvolumeclaims", pending, NOW)[1] == "Terminating"

    assert names("", "persistentvolumes") == [
        "Name",
        "Capacity",
        "Access Modes",
        "Reclaim Policy",
        "Status",
        "Claim",
        "StorageClass",
        "VolumeAttributesClass",
        "Reason",
        "Age",
        "VolumeMode",
    ]
    pv = {
        "metadata": meta("pvc-123"),
        "spec": {
            "capacity": {"storage": "2Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOncePod"],
            "persistentVolumeReclaimPolicy": "Delete",
            "claimRef": {"namespace": "default", "name": "data"},
            "storageClassName": "standard",
            "volumeAttributesClassName": "gold",
        },
        "status": {"phase": "Bound"},
    }
    assert row_cells("", "persistentvolumes", pv, NOW) == [
        "pvc-123",
        "2Gi",
        "RWX,RWOP",
        "Delete",
        "Bound",
        "default/data",
        "standard",
        "gold",
        "",
        "5m",
        "<unset>",
    ]
    assert row_cells("", "persistentvolumes", {"metadata": meta("e")}, NOW)[1:8] == [
        "0",
        "",
        "",
        "",
        "",
        "",
        "<unset>",
    ]

    assert names("storage.k8s.io", "storageclasses") == [
        "Name",
        "Provisioner",
        "ReclaimPolicy",
        "VolumeBindingMode",
        "AllowVolumeExpansion",
        "Age",
    ]
    sc = {
        "metadata": meta("standard", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Retain",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }
    assert row_cells("storage.k8s.io", "storageclasses", sc, NOW) == [
        "standard (default)",
        "rancher.io/local-path",
        "Retain",
        "WaitForFirstConsumer",
        True,
        "5m",
    ]
    plain = {"metadata": meta("fast"), "provisioner": "csi.example.com"}
    assert row_cells("storage.k8s.io", "storageclasses", plain, NOW) == [
        "fast",
        "csi.example.com",
        "Delete",
        "Immediate",
        False,
        "5m",
    ]

    assert names("storage.k8s.io", "csidrivers") == [
        "Name",
        "AttachRequired",
        "PodInfoOnMount",
        "StorageCapacity",
        "TokenRequests",
        "RequiresRepublish",
        "Modes",
        "Age",
    ]
    drv = {
        "metadata": meta("csi.example.com"),
        "spec": {
            "attachRequired": False,
            "podInfoOnMount": True,
            "volumeLifecycleModes": ["Persistent", "Ephemeral"],
            "tokenRequests": [{"audience": "a"}, {"audience": "b"}],
        },
    }
    assert row_cells("storage.k8s.io", "csidrivers", drv, NOW) == [
        "csi.example.com",
        False,
        True,
        False,
        "a,b",
        False,
        "Persistent,Ephemeral",
        "5m",
    ]
    assert row_cells("storage.k8s.io", "csidrivers", {"metadata": meta("d")}, NOW) == [
        "d",
        True,
        False,
        False,
        "<unset>",
        False,
        "<none>",
        "5m",
    ]

    assert names("storage.k8s.io", "csinodes") == ["Name", "Drivers", "Age"]
    cn = {"metadata": meta("node-1"), "spec": {"drivers": [{"name": "a"}, {"name": "b"}]}}
    assert row_cells("storage.k8s.io", "csinodes", cn, NOW) == ["node-1", 2, "5m"]


def test_rbac_bindings() -> None:
    assert names("rbac.authorization.k8s.io", "rolebindings") == [
        "Name",
        "Role",
        "Age",
        "Users",
        "Groups",
        "ServiceAccounts",
    ]
    rb = {
        "metadata": meta("edit"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"},
        ],
    }
    assert row_cells("rbac.authorization.k8s.io", "rolebindings", rb, NOW) == [
        "edit",
        "ClusterRole/edit",
        "5m",
        "alice, bob",
        "devs",
        "tools/ci",
    ]
    crb = {
        "metadata": meta("cluster-admin"),
        "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "system:masters"}],
    }
    assert row_cells("rbac.authorization.k8s.io", "clusterrolebindings", crb, NOW) == [
        "cluster-admin",
        "ClusterRole/cluster-admin",
        "5m",
        "",
        "system:masters",
        "",
    ]
    assert column_definitions("rbac.authorization.k8s.io", "clusterrolebindings")[3]["description"] == (
        "Users in the clusterRoleBinding"
    )


def test_misc_kinds() -> None:
    lease = {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "cp-1_abc"}}
    assert names("coordination.k8s.io", "leases") == ["Name", "Holder", "Age"]
    assert row_cells("coordination.k8s.io", "leases", lease, NOW) == ["kube-scheduler", "cp-1_abc", "5m"]
    assert row_cells("coordination.k8s.io", "leases", {"metadata": meta("l")}, NOW) == ["l", "", "5m"]

    pc = {
        "metadata": meta("system-node-critical"),
        "value": 2000001000,
        "globalDefault": False,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    cols = column_definitions("scheduling.k8s.io", "priorityclasses")
    assert [(c["name"], c["type"], c["priority"]) for c in cols] == [
        ("Name", "string", 0),
        ("Value", "integer", 0),
        ("Global-Default", "boolean", 0),
        ("Age", "string", 0),
        ("PreemptionPolicy", "string", 0),
    ]
    assert row_cells("scheduling.k8s.io", "priorityclasses", pc, NOW) == [
        "system-node-critical",
        2000001000,
        False,
        "5m",
        "PreemptLowerPriority",
    ]

    pdb = {"metadata": meta("web"), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}
    assert names("policy", "poddisruptionbudgets") == [
        "Name",
        "Min Available",
        "Max Unavailable",
        "Allowed Disruptions",
        "Age",
    ]
    assert row_cells("policy", "poddisruptionbudgets", pdb, NOW) == ["web", "50%", "N/A", 1, "5m"]
    pdb["spec"] = {"maxUnavailable": 1}
    assert row_cells("policy", "poddisruptionbudgets", pdb, NOW)[1:3] == ["N/A", "1"]

    rq = {
        "metadata": meta("quota"),
        "status": {
            "hard": {"pods": "10", "requests.cpu": "4", "limits.memory": "8Gi", "limits.cpu": "8"},
            "used": {"pods": "3", "requests.cpu": "500m", "limits.cpu": "1"},
        },
    }
    assert names("", "resourcequotas") == ["Name", "Request", "Limit", "Age"]
    assert row_cells("", "resourcequotas", rq, NOW) == [
        "quota",
        "pods: 3/10, requests.cpu: 500m/4",
        "limits.cpu: 1/8, limits.memory: 0/8Gi",
        "5m",
    ]

    cr = {
        "metadata": meta(
            "web-7c9d",
            ownerReferences=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "name": "web",
                    "uid": "u",
                    "controller": True,
                }
            ],
        ),
        "revision": 2,
        "data": {},
    }
    assert names("apps", "controllerrevisions") == ["Name", "Controller", "Revision", "Age"]
    assert row_cells("apps", "controllerrevisions", cr, NOW) == ["web-7c9d", "statefulset.apps/web", 2, "5m"]
    cr["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Pod", "name": "x", "controller": True}]
    assert row_cells("apps", "controllerrevisions", cr, NOW)[1] == "pod/x"
    cr["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Pod", "name": "x"}]
    assert row_cells("apps", "controllerrevisions", cr, NOW)[1] == "<none>"

    rtc = {"metadata": meta("gvisor"), "handler": "runsc"}
    assert names("node.k8s.io", "runtimeclasses") == ["Name", "Handler", "Age"]
    assert row_cells("node.k8s.io", "runtimeclasses", rtc, NOW) == ["gvisor", "runsc", "5m"]

    pt = {"metadata": meta("tmpl"), "template": TEMPLATE}
    assert names("", "podtemplates") == ["Name", "Containers", "Images", "Pod Labels"]
    assert row_cells("", "podtemplates", pt, NOW) == ["tmpl", "web,log", "nginx:1.27,busybox", "app=web"]

    cs = {"metadata": meta("etcd-0"), "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]}
    assert names("", "componentstatuses") == ["Name", "Status", "Message", "Error"]
    assert row_cells("", "componentstatuses", cs, NOW) == ["etcd-0", "Healthy", "ok", ""]


# ---------------------------------------------------------------------------------------------
# Default table
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "resource"),
    [
        ("rbac.authorization.k8s.io", "roles"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("", "limitranges"),
        ("example.com", "widgets"),
        ("apps", "unknown"),
    ],
)
def test_default_table(group: str, resource: str) -> None:
    cols = column_definitions(group, resource)
    assert cols == [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": cols[0]["description"],
            "priority": 0,
        },
        {
            "name": "Created At",
            "type": "date",
            "format": "",
            "description": cols[1]["description"],
            "priority": 0,
        },
    ]
    assert cols[1]["description"].startswith("CreationTimestamp is a timestamp")
    obj = {"metadata": {"name": "x", "creationTimestamp": "2024-05-01T10:20:30Z"}}
    assert row_cells(group, resource, obj, NOW) == ["x", "2024-05-01T10:20:30Z"]


def test_default_table_time_normalisation() -> None:
    cells = row_cells(
        "x", "y", {"metadata": {"name": "a", "creationTimestamp": "2024-05-01T12:20:30.5+02:00"}}, NOW
    )
    assert cells == ["a", "2024-05-01T10:20:30Z"]
    assert row_cells("x", "y", {"metadata": {"name": "a"}}, NOW) == ["a", "0001-01-01T00:00:00Z"]
    assert row_cells("x", "y", {}, NOW) == ["", "0001-01-01T00:00:00Z"]


# ---------------------------------------------------------------------------------------------
# Column definitions and cell types
# ---------------------------------------------------------------------------------------------

PRINTED = sorted(printers._PRINTERS)


@pytest.mark.parametrize(("group", "resource"), PRINTED)
def test_column_definitions_shape(group: str, resource: str) -> None:
    cols = column_definitions(group, resource)
    assert cols
    for c in cols:
        assert list(c) == ["name", "type", "format", "description", "priority"]
        assert c["type"] in ("string", "integer", "boolean", "date")
        assert c["priority"] in (0, 1)
        assert isinstance(c["description"], str)
    # upstream's VolumeAttachment printer gives its Attacher column the "name" format too
    names = 2 if (group, resource) == ("storage.k8s.io", "volumeattachments") else 1
    assert sum(1 for c in cols if c["format"] == "name") == names
    # callers may mutate what they get
    cols[0]["name"] = "mutated"
    assert column_definitions(group, resource)[0]["name"] != "mutated"


SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("", "pods"): pod([running()]),
    ("apps", "deployments"): {
        "metadata": meta("d"),
        "spec": {"replicas": 1, "template": TEMPLATE},
        "status": {"readyReplicas": 1},
    },
    ("batch", "cronjobs"): {"metadata": meta("c"), "spec": {"schedule": "* * * * *", "suspend": False}},
    ("scheduling.k8s.io", "priorityclasses"): {"metadata": meta("p"), "value": 5, "globalDefault": True},
    ("storage.k8s.io", "csidrivers"): {"metadata": meta("c"), "spec": {}},
}


@pytest.mark.parametrize(("group", "resource"), PRINTED)
def test_cell_types_follow_integer_and_boolean_columns(group: str, resource: str) -> None:
    obj = SAMPLES.get((group, resource), {"metadata": meta("x")})
    cells = row_cells(group, resource, obj, NOW)
    cols = column_definitions(group, resource)
    assert len(cells) == len(cols)
    for col, cell in zip(cols, cells, strict=True):
        if col["type"] == "integer":
            assert type(cell) is int, col
        elif col["type"] == "boolean" and (group, resource) != ("batch", "cronjobs"):
            assert type(cell) is bool, col
        elif col["type"] == "string" and col["name"] not in (
            "Data",
            "Secrets",
            "Count",
            "Up-to-date",
            "Available",
            "Revision",
            "AllowVolumeExpansion",
            "MaxPods",  # upstream's HPA printer puts int64 cells in these string columns
            "Replicas",
            "MatchingPrecedence",  # and the flowcontrol printers int32/int64 ones in these
            "NominalConcurrencyShares",
            "Queues",
            "HandSize",
            "QueueLengthLimit",
        ):
            assert type(cell) is str, col
    # upstream's printBoolPtr: the cronjob Suspend cell is the string "True"/"False"
    if (group, resource) == ("batch", "cronjobs"):
        assert cells[3] == "False"


# ---------------------------------------------------------------------------------------------
# The Table envelope
# ---------------------------------------------------------------------------------------------


def test_build_table_metadata_mode() -> None:
    pods = [pod([running()]), pod([terminated("Completed")], phase="Succeeded")]
    pods[1]["metadata"] = meta("done", labels={"app": "x"})
    list_meta = {"resourceVersion": "42", "continue": "abc"}
    table = build_table("", "pods", pods, NOW, "Metadata", list_meta)
    assert list(table) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == list_meta
    assert table["columnDefinitions"] == column_definitions("", "pods")
    r0, r1 = table["rows"]
    assert list(r0) == ["cells", "object"]
    assert r0["cells"][:3] == ["p", "1/1", "Running"]
    assert r0["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": pods[0]["metadata"],
    }
    assert list(r1) == ["cells", "conditions", "object"]
    assert r1["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert r1["object"]["metadata"]["labels"] == {"app": "x"}


def test_build_table_object_and_none_modes() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("c"), "data": {"a": "b"}}
    t = build_table("", "configmaps", [cm], NOW, "Object", {})
    assert t["rows"] == [{"cells": ["c", 1, "5m"], "object": cm}]
    assert t["rows"][0]["object"] is cm  # no copy
    t = build_table("", "configmaps", [cm], NOW, "None", {"resourceVersion": "1"})
    assert t["rows"] == [{"cells": ["c", 1, "5m"]}]


def test_build_table_watch_event_without_columns() -> None:
    t = build_table(
        "apps", "deployments", [SAMPLES[("apps", "deployments")]], NOW, "Metadata", {}, with_columns=False
    )
    assert t["columnDefinitions"] == []
    assert len(t["rows"][0]["cells"]) == len(column_definitions("apps", "deployments"))


def test_build_table_empty_and_invalid() -> None:
    t = build_table("", "pods", [], NOW, "Metadata", {"resourceVersion": "7"})
    assert t["rows"] == [] and t["metadata"] == {"resourceVersion": "7"}
    with pytest.raises(ValueError, match="includeObject"):
        build_table("", "pods", [], NOW, "Everything", {})


def test_build_table_default_kind_and_bad_metadata() -> None:
    objs = [{"metadata": {"name": "r", "creationTimestamp": "2024-01-02T03:04:05Z"}}, {"metadata": "junk"}]
    t = build_table("rbac.authorization.k8s.io", "roles", objs, NOW, "Metadata", {})
    assert [r["cells"] for r in t["rows"]] == [["r", "2024-01-02T03:04:05Z"], ["", "0001-01-01T00:00:00Z"]]
    assert t["rows"][1]["object"]["metadata"] == {}
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Created At"]


# ---------------------------------------------------------------------------------------------
# Robustness: malformed objects never raise
# ---------------------------------------------------------------------------------------------

MALFORMED: list[Any] = [
    {},
    {"metadata": None, "spec": None, "status": None},
    {"metadata": [], "spec": "x", "status": 5},
    {
        "spec": {"containers": "nope", "initContainers": {"a": 1}},
        "status": {"containerStatuses": [None, 3, "x"]},
    },
    {
        "status": {
            "initContainerStatuses": [{"state": {"terminated": "bad"}, "restartCount": "many"}],
            "conditions": [None, {"type": None}],
        }
    },
    {
        "status": {
            "containerStatuses": [{"state": {"waiting": {"reason": 7}}, "lastState": {"terminated": 1}}]
        }
    },
    {"metadata": {"name": 5, "creationTimestamp": 12, "deletionTimestamp": "garbage", "labels": ["a"]}},
    {
        "spec": {
            "selector": {"matchLabels": [1], "matchExpressions": "x"},
            "replicas": "3",
            "ports": [{"port": "x"}],
        }
    },
    {"spec": {"selector": {"matchExpressions": [{"key": 1, "operator": "In", "values": [1]}]}}},
    {"spec": {"template": {"spec": {"containers": [None, {"name": 1, "image": None}]}}}},
    {"subsets": [{"addresses": "x", "ports": [None]}], "ports": [None, {"port": None}], "endpoints": [None]},
    {"series": "x", "count": None, "involvedObject": None, "source": 3, "regarding": [], "message": None},
    {"status": {"hard": {"cpu": {"nested": 1}}, "used": None}, "spec": {"capacity": []}},
    {"metadata": {"ownerReferences": [{"controller": True, "apiVersion": "a/b/c", "kind": None}]}},
    {"status": {"startTime": "not-a-time", "completionTime": 5}, "spec": {"completions": "x"}},
    {"spec": {"nodeSelector": {"a": None}, "readinessGates": [None, {"conditionType": []}]}},
    {"status": {"phase": ["Succeeded"], "reason": {}}},
    {"spec": {"unschedulable": "yes"}, "status": {"conditions": [{"type": "Ready"}], "nodeInfo": []}},
]


@pytest.mark.parametrize("obj", MALFORMED)
@pytest.mark.parametrize(("group", "resource"), [*PRINTED, ("x", "default")])
def test_malformed_objects_print(group: str, resource: str, obj: Any) -> None:
    columns, printer = printers._printer(group, resource)
    cells = printer(obj, NOW)  # no safety net: the printer itself must cope
    assert len(cells) == len(columns)
    table = build_table(group, resource, [obj], NOW, "Metadata", {})
    assert len(table["rows"][0]["cells"]) == len(columns)


def test_non_dict_objects_print() -> None:
    t = build_table("", "pods", [None, "x", 3], NOW, "Metadata", {})  # type: ignore[list-item]
    assert [len(r["cells"]) for r in t["rows"]] == [9, 9, 9]
    assert all(r["object"]["metadata"] == {} for r in t["rows"])


def test_printer_bug_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(obj: dict[str, Any], now: datetime) -> list[Any]:
        raise RuntimeError("bug")

    monkeypatch.setitem(printers._PRINTERS, ("", "configmaps"), (printers._CONFIGMAP_COLUMNS, boom))
    assert row_cells("", "configmaps", {"metadata": meta("c")}, NOW) == ["c", "<unknown>", "<unknown>"]


KEYS = [
    "metadata",
    "spec",
    "status",
    "name",
    "creationTimestamp",
    "deletionTimestamp",
    "labels",
    "annotations",
    "containers",
    "initContainers",
    "containerStatuses",
    "initContainerStatuses",
    "state",
    "lastState",
    "waiting",
    "running",
    "terminated",
    "reason",
    "exitCode",
    "signal",
    "finishedAt",
    "restartCount",
    "ready",
    "started",
    "restartPolicy",
    "phase",
    "conditions",
    "type",
    "selector",
    "matchLabels",
    "matchExpressions",
    "key",
    "operator",
    "values",
    "replicas",
    "readyReplicas",
    "template",
    "ports",
    "port",
    "nodePort",
    "protocol",
    "clusterIP",
    "clusterIPs",
    "externalIPs",
    "loadBalancer",
    "ingress",
    "ip",
    "hostname",
    "subsets",
    "addresses",
    "endpoints",
    "series",
    "count",
    "lastObservedTime",
    "involvedObject",
    "regarding",
    "source",
    "component",
    "host",
    "kind",
    "apiVersion",
    "ownerReferences",
    "controller",
    "hard",
    "used",
    "capacity",
    "storage",
    "accessModes",
    "claimRef",
    "rules",
    "tls",
    "jobTemplate",
    "startTime",
    "completionTime",
    "completions",
    "parallelism",
    "data",
    "secrets",
    "nodeInfo",
    "podIPs",
    "readinessGates",
    "conditionType",
    "roleRef",
    "subjects",
    "eventTime",
    "parameters",
    "tokenRequests",
    "drivers",
    "value",
    "globalDefault",
    "minAvailable",
    "timeZone",
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "True",
            "Always",
            "Running",
            "Succeeded",
            "Failed",
            "Completed",
            "In",
            "Exists",
            "Ready",
            "LoadBalancer",
            "NodePort",
            "ClusterIP",
            "ExternalName",
            "PodInitializing",
            "2024-06-01T11:00:00Z",
            "0001-01-01T00:00:00Z",
            "a/b",
            "apps/v1",
            "limits.cpu",
        ]
    ),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)), children, max_size=6),
    ),
    max_leaves=40,
)
objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=objects)
def test_hypothesis_every_printer_survives_arbitrary_json(obj: dict[str, Any]) -> None:
    for key in [*PRINTED, ("x", "default")]:
        columns, printer = printers._printer(*key)
        cells = printer(obj, NOW)
        assert len(cells) == len(columns), key
        assert all(c is None or isinstance(c, str | int | bool) for c in cells), (key, cells)
        assert isinstance(row_conditions(*key, obj), list | type(None))


@settings(max_examples=200, deadline=None)
@given(seconds=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_hypothesis_human_duration_total(seconds: float) -> None:
    out = human_duration(seconds)
    assert out == "<invalid>" or out[0].isdigit()
