"""The real kubectl (v1.32) against our API server.

All tests but the first share one server; every test works in its own namespace."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable

import pytest
import yaml

from .conftest import Kubectl, LineReader, parse_table

pytestmark = pytest.mark.integration

WEB_NS = "kt-web"

WEB_APP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  labels:
    app: web
data:
  a: "1"
  b: "2"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
"""

OTHER_CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: other
  labels:
    app: db
data:
  k: v
"""


def cm(name: str, ns: str, **labels: str) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": {"k": "v"},
    }
    if labels:
        doc["metadata"]["labels"] = labels
    return yaml.safe_dump(doc)


def names(out: str) -> list[str]:
    return sorted(out.split())


@pytest.fixture(scope="module")
def k(module_kubectl: Kubectl) -> Kubectl:
    return module_kubectl


@pytest.fixture(scope="module")
def web_app(k: Kubectl) -> str:
    """The multi-document app applied into WEB_NS (plus one unrelated configmap); returns apply's output."""
    k.namespace(WEB_NS)
    out = k.apply(WEB_APP, "-n", WEB_NS)
    k.apply(OTHER_CM, "-n", WEB_NS)
    return out


# ------------------------------------------------------------------------------------------ namespaces
def test_get_namespaces_on_fresh_server(kubectl: Kubectl) -> None:
    headers, rows = parse_table(kubectl("get", "ns"))
    assert headers == ["NAME", "STATUS", "AGE"]
    assert [(r["NAME"], r["STATUS"]) for r in rows] == [
        ("default", "Active"),
        ("kube-node-lease", "Active"),
        ("kube-public", "Active"),
        ("kube-system", "Active"),
    ]


# ------------------------------------------------------------------------------------------ apply / get
def test_apply_multidoc(k: Kubectl, web_app: str) -> None:
    assert web_app.splitlines() == [
        "configmap/web-config created",
        "deployment.apps/web created",
        "service/web created",
    ]
    # Re-applying the same manifest changes nothing.
    again = k.apply(WEB_APP, "-n", WEB_NS)
    assert again.splitlines() == [
        "configmap/web-config unchanged",
        "deployment.apps/web unchanged",
        "service/web unchanged",
    ]


def test_get_table_deployments(k: Kubectl, web_app: str) -> None:
    headers, rows = parse_table(k("get", "deployments", "-n", WEB_NS))
    assert headers == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert [r["NAME"] for r in rows] == ["web"]
    assert rows[0]["READY"].endswith("/2")


def test_get_table_configmaps(k: Kubectl, web_app: str) -> None:
    headers, rows = parse_table(k("get", "configmaps", "-n", WEB_NS))
    assert headers == ["NAME", "DATA", "AGE"]
    assert {r["NAME"]: r["DATA"] for r in rows} == {"other": "1", "web-config": "2"}


def test_get_table_services(k: Kubectl, web_app: str) -> None:
    headers, rows = parse_table(k("get", "svc", "-n", WEB_NS))
    assert headers == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert len(rows) == 1
    assert rows[0]["NAME"] == "web"
    assert rows[0]["TYPE"] == "ClusterIP"
    assert rows[0]["EXTERNAL-IP"] == "<none>"
    assert rows[0]["PORT(S)"] == "80/TCP"


def test_get_several_kinds_at_once(k: Kubectl, web_app: str) -> None:
    out = k("get", "deploy,cm,svc", "-n", WEB_NS, "-o", "name")
    assert out.splitlines() == [
        "deployment.apps/web",
        "configmap/other",
        "configmap/web-config",
        "service/web",
    ]


def test_get_wide(k: Kubectl, web_app: str) -> None:
    headers, rows = parse_table(k("get", "deploy", "-n", WEB_NS, "-o", "wide"))
    assert headers == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert (rows[0]["NAME"], rows[0]["CONTAINERS"], rows[0]["IMAGES"], rows[0]["SELECTOR"]) == (
        "web",
        "nginx",
        "nginx:1.27",
        "app=web",
    )
    headers, rows = parse_table(k("get", "svc", "-n", WEB_NS, "-o", "wide"))
    assert headers == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert rows[0]["SELECTOR"] == "app=web"


def test_get_yaml(k: Kubectl, web_app: str) -> None:
    d = yaml.safe_load(k("get", "deployment", "web", "-n", WEB_NS, "-o", "yaml"))
    assert d["apiVersion"] == "apps/v1"
    assert d["kind"] == "Deployment"
    md = d["metadata"]
    assert (md["name"], md["namespace"]) == ("web", WEB_NS)
    assert md["labels"] == {"app": "web"}
    assert md["generation"] == 1
    assert md["resourceVersion"].isdigit()
    assert len(md["uid"]) == 36
    assert md["creationTimestamp"].endswith("Z")
    applied = json.loads(md["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["spec"]["replicas"] == 2
    assert d["spec"]["replicas"] == 2
    assert d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    (c,) = d["spec"]["template"]["spec"]["containers"]
    assert (c["name"], c["image"]) == ("nginx", "nginx:1.27")
    assert c["ports"][0]["containerPort"] == 80

    c = yaml.safe_load(k("get", "cm", "web-config", "-n", WEB_NS, "-o", "yaml"))
    assert c["kind"] == "ConfigMap"
    assert c["data"] == {"a": "1", "b": "2"}


def dig(obj: object, path: str) -> object:
    """obj at a dotted path ("a.b.0.c"); '<missing>' when absent."""
    for part in path.split("."):
        if isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return "<missing>"
    return obj


def test_get_yaml_deployment_defaults(k: Kubectl, web_app: str) -> None:
    """The API server applies the apps/v1 and core/v1 defaulting functions on create."""
    d = yaml.safe_load(k("get", "deployment", "web", "-n", WEB_NS, "-o", "yaml"))
    pod = "spec.template.spec"
    c = f"{pod}.containers.0"
    expected = {
        "spec.strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
        },
        "spec.revisionHistoryLimit": 10,
        "spec.progressDeadlineSeconds": 600,
        f"{pod}.restartPolicy": "Always",
        f"{pod}.dnsPolicy": "ClusterFirst",
        f"{pod}.terminationGracePeriodSeconds": 30,
        f"{pod}.schedulerName": "default-scheduler",
        f"{pod}.securityContext": {},
        f"{c}.imagePullPolicy": "IfNotPresent",
        f"{c}.terminationMessagePath": "/dev/termination-log",
        f"{c}.terminationMessagePolicy": "File",
        f"{c}.resources": {},
        f"{c}.ports": [{"containerPort": 80, "protocol": "TCP"}],
    }
    wrong = {path: (dig(d, path), want) for path, want in expected.items() if dig(d, path) != want}
    assert not wrong, f"(actual, expected) per field: {wrong}"


def test_service_gets_cluster_ip(k: Kubectl, web_app: str) -> None:
    """A ClusterIP service without spec.clusterIP is allocated one from the service CIDR."""
    s = k.get_json("svc", "web", "-n", WEB_NS)
    ip = s["spec"].get("clusterIP")
    assert ip, f"no clusterIP allocated: {s['spec']}"
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12")
    assert s["spec"]["clusterIPs"] == [ip]
    assert s["spec"]["ipFamilies"] == ["IPv4"]
    assert s["spec"]["ipFamilyPolicy"] == "SingleStack"
    kube = k.get_json("svc", "kubernetes", "-n", "default")
    assert ip != kube["spec"]["clusterIP"]
    # The table shows it, too.
    _, rows = parse_table(k("get", "svc", "web", "-n", WEB_NS))
    assert rows[0]["CLUSTER-IP"] == ip


def test_get_all_namespaces(k: Kubectl, web_app: str) -> None:
    headers, rows = parse_table(k("get", "cm", "-A"))
    assert headers == ["NAMESPACE", "NAME", "DATA", "AGE"]
    mine = sorted((r["NAME"], r["DATA"]) for r in rows if r["NAMESPACE"] == WEB_NS)
    assert mine == [("other", "1"), ("web-config", "2")]
    headers, rows = parse_table(k("get", "deploy", "-A"))
    assert headers[:2] == ["NAMESPACE", "NAME"]
    assert [(r["NAMESPACE"], r["NAME"]) for r in rows if r["NAMESPACE"] == WEB_NS] == [(WEB_NS, "web")]


def test_show_labels(k: Kubectl, web_app: str) -> None:
    headers, rows = parse_table(k("get", "cm", "-n", WEB_NS, "--show-labels"))
    assert headers == ["NAME", "DATA", "AGE", "LABELS"]
    assert {r["NAME"]: r["LABELS"] for r in rows} == {"other": "app=db", "web-config": "app=web"}


def test_label_selector(k: Kubectl, web_app: str) -> None:
    out = k("get", "cm,deploy,svc", "-n", WEB_NS, "-l", "app=web", "-o", "name")
    assert sorted(out.splitlines()) == ["configmap/web-config", "deployment.apps/web", "service/web"]
    assert k("get", "cm", "-n", WEB_NS, "-l", "app!=web", "-o", "name").splitlines() == ["configmap/other"]
    assert k("get", "cm", "-n", WEB_NS, "-l", "app in (web,db)", "-o", "name").splitlines() == [
        "configmap/other",
        "configmap/web-config",
    ]
    p = k.run("get", "cm", "-n", WEB_NS, "-l", "app=nothing")
    assert p.stdout == ""
    assert p.stderr.strip() == f"No resources found in {WEB_NS} namespace."


def test_field_selector(k: Kubectl, web_app: str) -> None:
    out = k("get", "cm", "-n", WEB_NS, "--field-selector", "metadata.name=web-config", "-o", "name")
    assert out.splitlines() == ["configmap/web-config"]
    out = k("get", "cm", "-n", WEB_NS, "--field-selector", "metadata.name!=web-config", "-o", "name")
    assert out.splitlines() == ["configmap/other"]
    out = k("get", "cm", "-A", "--field-selector", f"metadata.namespace={WEB_NS}", "-o", "name")
    assert out.splitlines() == ["configmap/other", "configmap/web-config"]
    _, rows = parse_table(k("get", "cm", "-n", WEB_NS, "--field-selector", "metadata.name=web-config"))
    assert [r["NAME"] for r in rows] == ["web-config"]


# ------------------------------------------------------------------------------------------ mutations
def test_label_and_annotate(k: Kubectl) -> None:
    ns = k.namespace("kt-meta")
    k.apply(cm("m", ns))
    assert k("label", "cm", "m", "-n", ns, "tier=frontend").strip() == "configmap/m labeled"
    assert k("annotate", "cm", "m", "-n", ns, "note=hello world").strip() == "configmap/m annotated"
    jp = "-o=jsonpath={.metadata.labels.tier}|{.metadata.annotations.note}"
    assert k("get", "cm", "m", "-n", ns, jp) == "frontend|hello world"
    # Overwrite and removal.
    k("label", "cm", "m", "-n", ns, "tier=backend", "--overwrite")
    k("annotate", "cm", "m", "-n", ns, "note-")
    obj = k.get_json("cm", "m", "-n", ns)
    assert obj["metadata"]["labels"] == {"tier": "backend"}
    assert "note" not in obj["metadata"].get("annotations", {})
    assert k("get", "cm", "-n", ns, "-l", "tier=backend", "-o", "name").strip() == "configmap/m"


def test_scale_deployment(k: Kubectl) -> None:
    ns = k.namespace("kt-scale")
    k.apply(WEB_APP.split("---\n")[1], "-n", ns)
    before = k.get_json("deployment", "web", "-n", ns)
    assert before["spec"]["replicas"] == 2
    assert k("scale", "deployment", "web", "-n", ns, "--replicas=5").strip() == "deployment.apps/web scaled"
    after = k.get_json("deployment", "web", "-n", ns)
    assert after["spec"]["replicas"] == 5
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    scale = json.loads(k("get", "--raw", f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale"))
    assert scale["kind"] == "Scale"
    assert scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 5}
    assert scale["status"]["selector"] == "app=web"


def test_delete_then_not_found(k: Kubectl) -> None:
    ns = k.namespace("kt-del")
    k.apply(cm("x", ns))
    assert k("get", "cm", "x", "-n", ns, "-o", "name").strip() == "configmap/x"
    assert k("delete", "cm", "x", "-n", ns).strip() == 'configmap "x" deleted'
    p = k.run("get", "cm", "x", "-n", ns, check=False)
    assert p.returncode == 1
    assert p.stdout == ""
    assert p.stderr.strip() == 'Error from server (NotFound): configmaps "x" not found'
    p = k.run("delete", "cm", "x", "-n", ns, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (NotFound): configmaps "x" not found'
    assert k.run("get", "cm", "-n", ns).stderr.strip() == f"No resources found in {ns} namespace."


def test_imperative_create(k: Kubectl) -> None:
    """`kubectl create namespace|configmap` use client-go's typed clients, which send protobuf bodies."""
    p = k.run("create", "namespace", "kt-imp", check=False)
    assert (p.returncode, p.stdout.strip()) == (0, "namespace/kt-imp created"), p.stderr
    p = k.run("create", "configmap", "c1", "-n", "kt-imp", "--from-literal=a=b", check=False)
    assert (p.returncode, p.stdout.strip()) == (0, "configmap/c1 created"), p.stderr
    assert k("get", "cm", "c1", "-n", "kt-imp", "-o=jsonpath={.data.a}") == "b"


# ------------------------------------------------------------------------------------------ watch
def test_get_watch_output_watch_events(k: Kubectl) -> None:
    ns = k.namespace("kt-watch")
    w = LineReader(k.popen("get", "cm", "-n", ns, "-w", "--output-watch-events"))
    try:
        k.create(cm("a", ns))
        # Once "a" shows up kubectl is watching (from the list's resourceVersion at the latest).
        w.wait_for(lambda ln: ln.split()[:2] == ["ADDED", "a"])
        k.create(cm("b", ns))
        k("label", "cm", "a", "-n", ns, "foo=bar")
        k("delete", "cm", "a", "-n", ns)
        w.wait_for(lambda ln: ln.split()[:2] == ["DELETED", "a"])
    finally:
        lines, err = w.stop()
    assert lines[0].split() == ["EVENT", "NAME", "DATA", "AGE"]
    events = [ln.split()[:3] for ln in lines[1:]]
    assert events == [
        ["ADDED", "a", "1"],
        ["ADDED", "b", "1"],
        ["MODIFIED", "a", "1"],
        ["DELETED", "a", "1"],
    ], (lines, err)


def test_get_watch_plain(k: Kubectl) -> None:
    ns = k.namespace("kt-watch2")
    k.create(cm("first", ns))
    w = LineReader(k.popen("get", "cm", "-n", ns, "-w"))
    try:
        w.wait_for(lambda ln: ln.startswith("first "))
        k.create(cm("second", ns))
        w.wait_for(lambda ln: ln.startswith("second "))
        k("delete", "cm", "first", "-n", ns)
        # kubectl prints the deleted object's row once more.
        w.wait_for(lambda ln: ln.startswith("first ") and sum(x.startswith("first ") for x in w.lines) >= 2)
    finally:
        lines, err = w.stop()
    assert lines[0].split() == ["NAME", "DATA", "AGE"], (lines, err)
    assert [ln.split()[0] for ln in lines[1:]] == ["first", "second", "first"], (lines, err)


def registered_watchers(k: Kubectl) -> float:
    """Sum of the apiserver_registered_watchers samples in /metrics."""
    total = 0.0
    for line in k("get", "--raw", "/metrics").splitlines():
        if line.startswith("apiserver_registered_watchers"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_until(pred: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def test_watch_released_when_client_disconnects(kubectl: Kubectl) -> None:
    """A watch whose client went away is unregistered (own server, so only the server's own
    watches, such as the CRD watcher, are there besides ours)."""
    base = registered_watchers(kubectl)
    w = kubectl.popen("get", "cm", "-n", "default", "-w")
    try:
        assert wait_until(lambda: registered_watchers(kubectl) == base + 1, 10), "watch never registered"
    finally:
        w.kill()
        w.communicate(timeout=10)
    assert wait_until(lambda: registered_watchers(kubectl) == base, 3), (
        f"{registered_watchers(kubectl):g} watch(es) still registered 3s after the client disconnected"
    )


# ------------------------------------------------------------------------------------------ discovery
API_RESOURCES = [
    ("pods", "po", "v1"),
    ("services", "svc", "v1"),
    ("deployments", "deploy", "apps/v1"),
    ("replicasets", "rs", "apps/v1"),
    ("statefulsets", "sts", "apps/v1"),
    ("daemonsets", "ds", "apps/v1"),
    ("configmaps", "cm", "v1"),
    ("namespaces", "ns", "v1"),
    ("nodes", "no", "v1"),
    ("events", "ev", "v1"),
    ("persistentvolumeclaims", "pvc", "v1"),
    ("ingresses", "ing", "networking.k8s.io/v1"),
    ("networkpolicies", "netpol", "networking.k8s.io/v1"),
    ("poddisruptionbudgets", "pdb", "policy/v1"),
    ("priorityclasses", "pc", "scheduling.k8s.io/v1"),
    ("storageclasses", "sc", "storage.k8s.io/v1"),
    ("cronjobs", "cj", "batch/v1"),
    ("leases", "", "coordination.k8s.io/v1"),
    ("endpointslices", "", "discovery.k8s.io/v1"),
    ("roles", "", "rbac.authorization.k8s.io/v1"),
    ("clusterrolebindings", "", "rbac.authorization.k8s.io/v1"),
    ("runtimeclasses", "", "node.k8s.io/v1"),
    ("csidrivers", "", "storage.k8s.io/v1"),
]


def test_api_resources(k: Kubectl) -> None:
    headers, rows = parse_table(k("api-resources"))
    assert headers == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    table = {(r["NAME"], r["APIVERSION"]): r for r in rows}
    for name, short, version in API_RESOURCES:
        assert (name, version) in table, f"{name} ({version}) missing from api-resources"
        assert table[name, version]["SHORTNAMES"] == short, name
    assert table["pods", "v1"]["NAMESPACED"] == "true"
    assert table["pods", "v1"]["KIND"] == "Pod"
    assert table["nodes", "v1"]["NAMESPACED"] == "false"
    assert table["deployments", "apps/v1"]["KIND"] == "Deployment"
    # Each (name, group) occurs once: no duplicated groups or versions.
    assert len(table) == len(rows)
    namespaced = k("api-resources", "--namespaced=true", "-o", "name").split()
    assert "configmaps" in namespaced
    assert "namespaces" not in namespaced


def test_raw_version_and_health(k: Kubectl) -> None:
    v = json.loads(k("get", "--raw", "/version"))
    assert v["major"] == "1"
    assert v["minor"] == "32"
    assert v["gitVersion"].startswith("v1.32.")
    assert k("get", "--raw", "/healthz") == "ok"
    assert k("get", "--raw", "/livez") == "ok"
    assert k("get", "--raw", "/readyz") == "ok"


def test_raw_list_pagination(k: Kubectl) -> None:
    ns = k.namespace("kt-page")
    k.create("---\n".join(cm(n, ns) for n in ("p1", "p2", "p3")))
    base = f"/api/v1/namespaces/{ns}/configmaps?limit=1"
    first = json.loads(k("get", "--raw", base))
    assert first["kind"] == "ConfigMapList"
    assert [i["metadata"]["name"] for i in first["items"]] == ["p1"]
    assert first["metadata"]["continue"]
    assert first["metadata"]["remainingItemCount"] == 2
    seen = ["p1"]
    page = first
    for _ in range(5):
        if not page["metadata"].get("continue"):
            break
        page = json.loads(k("get", "--raw", f"{base}&continue={page['metadata']['continue']}"))
        seen += [i["metadata"]["name"] for i in page["items"]]
        # Every page is served from the snapshot of the first one.
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert seen == ["p1", "p2", "p3"]
    assert "continue" not in page["metadata"] or not page["metadata"]["continue"]
    # kubectl's own chunking sees all of them.
    assert k("get", "cm", "-n", ns, "--chunk-size=1", "-o", "name").splitlines() == [
        "configmap/p1",
        "configmap/p2",
        "configmap/p3",
    ]


# ------------------------------------------------------------------------------------------ pods
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: p1
spec:
  containers:
  - name: c
    image: busybox:1.36
    command: ["sleep", "3600"]
"""


def test_pod_pending_and_prompt_delete(k: Kubectl) -> None:
    ns = k.namespace("kt-pods")
    assert k.create(POD, "-n", ns).strip() == "pod/p1 created"
    headers, rows = parse_table(k("get", "pods", "-n", ns))
    assert headers == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [(r["NAME"], r["READY"], r["STATUS"], r["RESTARTS"]) for r in rows] == [
        ("p1", "0/1", "Pending", "0")
    ]
    assert k("get", "pod", "p1", "-n", ns, "-o=jsonpath={.status.phase}") == "Pending"
    t0 = time.monotonic()
    out = k("delete", "pod", "p1", "-n", ns, timeout=20)
    elapsed = time.monotonic() - t0
    assert out.strip() == 'pod "p1" deleted'
    assert elapsed < 5, f"deleting an unscheduled pod took {elapsed:.1f}s"
    p = k.run("get", "pod", "p1", "-n", ns, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (NotFound): pods "p1" not found'


def test_validation_on_openapi_strict_warn_and_explain(kubectl: Kubectl) -> None:
    """Without --validate=false kubectl downloads /openapi/v3 and sends fieldValidation=Strict."""
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {a: b}\n"
    assert "configmap/plain created" in kubectl("apply", "-f", "-", input=cm % "plain")
    # A second apply goes through client-side apply's strategic merge patch.
    out = kubectl("apply", "-f", "-", input=(cm % "plain").replace("a: b", "a: c"))
    assert "configmap/plain configured" in out
    assert kubectl("get", "cm", "plain", "-o", "jsonpath={.data.a}") == "c"
    bad = kubectl.run("create", "-f", "-", input=cm % "bad" + "bogus: 1\n", check=False)
    assert bad.returncode == 1
    assert (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
        'strict decoding error: unknown field "bogus"' in bad.stderr
    )
    warned = kubectl.run("create", "--validate=warn", "-f", "-", input=cm % "warned" + "bogus: 1\n")
    assert 'Warning: unknown field "bogus"' in warned.stderr
    assert kubectl("get", "cm", "warned", "-o", "json").count("bogus") == 0  # unknown fields are not stored
    assert "The deployment strategy to use to replace existing pods with new ones." in kubectl(
        "explain", "deployment.spec.strategy"
    )
