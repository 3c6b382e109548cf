"""Audit logging as kube-apiserver 1.32 does it (--audit-policy-file, --audit-log-*): stages, levels,
omitStages, annotations, the Audit-ID header, rotation, and policy errors at start."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server
from tests.integration.httpclient import Client

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: None
  resources: [{group: "", resources: ["secrets"]}]
- level: Metadata
  namespaces: ["quiet"]
  omitStages: ["RequestReceived"]
- level: RequestResponse
  resources: [{group: "", resources: ["configmaps"]}]
  omitManagedFields: true
- level: Request
  resources: [{group: "", resources: ["services"]}]
- level: Metadata
"""


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_events(
    path: Path, pred: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """The events matching `pred` once there are at least `count` (the log is written by a thread)."""
    deadline = time.monotonic() + timeout
    while True:
        got = [e for e in _events(path) if pred(e)]
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _ref(e: dict[str, Any]) -> dict[str, Any]:
    return e.get("objectRef") or {}


def request_events(path: Path, pred: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Every event of the request whose ResponseComplete event matches `pred` (a create's
    RequestReceived event cannot name the object yet)."""
    done = wait_events(path, lambda e: e["stage"] == "ResponseComplete" and pred(e))
    assert done, "no ResponseComplete event matches"
    time.sleep(0.1)
    return [e for e in _events(path) if e["auditID"] == done[-1]["auditID"]]


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    d = tmp_path_factory.mktemp("audit")
    (d / "policy.yaml").write_text(POLICY)
    log = d / "logs" / "audit.log"  # the directory is created
    s = Server(
        d / "vc",
        args=["--audit-policy-file", str(d / "policy.yaml"), f"--audit-log-path={log}"],
    )
    s.start()
    try:
        yield s, log
    finally:
        s.stop()


@pytest.fixture(scope="module")
def k(audited: tuple[Server, Path], tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(audited[0], tmp_path_factory.mktemp("kcache"))


@pytest.fixture(scope="module")
def http(audited: tuple[Server, Path]) -> Iterator[Client]:
    s = audited[0]
    c = Client(s.url, s.ca_file, s.token)
    yield c
    c.close()


def test_stages_and_request_response_level(audited: tuple[Server, Path], k: Kubectl) -> None:
    _, log = audited
    k("create", "configmap", "audit-cm", "--from-literal=a=b")
    evs = request_events(log, lambda e: _ref(e).get("name") == "audit-cm" and e["verb"] == "create")
    assert [e["stage"] for e in evs] == ["RequestReceived", "ResponseComplete"]
    received, complete = evs
    assert received["auditID"] == complete["auditID"]
    assert received["level"] == complete["level"] == "RequestResponse"
    assert received["stageTimestamp"] == received["requestReceivedTimestamp"]
    assert complete["stageTimestamp"] >= complete["requestReceivedTimestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", complete["stageTimestamp"])
    assert "responseStatus" not in received and "requestObject" not in received
    assert complete["responseStatus"] == {"metadata": {}, "code": 201}
    assert complete["user"]["username"] == "admin"
    assert complete["userAgent"].startswith("kubectl/")
    assert complete["sourceIPs"] == ["127.0.0.1"]
    assert complete["requestURI"].startswith("/api/v1/namespaces/default/configmaps")
    assert complete["objectRef"]["resource"] == "configmaps"
    assert complete["objectRef"]["namespace"] == "default"
    assert complete["objectRef"]["apiVersion"] == "v1"
    assert complete["requestObject"]["data"] == {"a": "b"}
    assert complete["responseObject"]["metadata"]["name"] == "audit-cm"
    assert "uid" in complete["responseObject"]["metadata"]
    assert "managedFields" not in complete["responseObject"]["metadata"]  # omitManagedFields
    assert complete["annotations"]["authorization.k8s.io/decision"] == "allow"


def test_levels_none_request_and_metadata(audited: tuple[Server, Path], k: Kubectl, http: Client) -> None:
    _, log = audited
    k("create", "secret", "generic", "audit-secret", "--from-literal=a=b")
    k("create", "service", "clusterip", "audit-svc", "--tcp=80:80")
    k("create", "serviceaccount", "audit-sa")
    svc = wait_events(log, lambda e: _ref(e).get("name") == "audit-svc" and e["verb"] == "create", 2)
    sa = wait_events(log, lambda e: _ref(e).get("name") == "audit-sa" and e["verb"] == "create", 2)
    assert svc[-1]["level"] == "Request"
    assert svc[-1]["requestObject"]["spec"]["ports"][0]["port"] == 80
    assert "responseObject" not in svc[-1]
    assert sa[-1]["level"] == "Metadata"
    assert "requestObject" not in sa[-1] and "responseObject" not in sa[-1]
    assert sa[-1]["objectRef"]["name"] == "audit-sa"  # filled from the request object
    # level None: secrets and the health paths leave no event
    assert http.call("GET", "/readyz").status == 200
    assert not [e for e in _events(log) if _ref(e).get("resource") == "secrets"]
    assert not [e for e in _events(log) if e["requestURI"].startswith("/readyz")]


def test_omit_stages(audited: tuple[Server, Path], k: Kubectl) -> None:
    _, log = audited
    k("create", "namespace", "quiet")
    k("create", "serviceaccount", "loud-sa", "-n", "default")
    loud = request_events(log, lambda e: _ref(e).get("name") == "loud-sa" and e["verb"] == "create")
    assert [e["stage"] for e in loud] == ["RequestReceived", "ResponseComplete"]
    k("create", "serviceaccount", "q-sa", "-n", "quiet")
    evs = request_events(log, lambda e: _ref(e).get("name") == "q-sa" and e["verb"] == "create")
    assert [e["stage"] for e in evs] == ["ResponseComplete"]


def test_watch_has_response_started(audited: tuple[Server, Path], http: Client) -> None:
    _, log = audited
    aid = f"watch-{uuid.uuid4()}"
    r = http.call(
        "GET",
        "/api/v1/namespaces/default/serviceaccounts?watch=1&timeoutSeconds=1",
        headers={"Audit-ID": aid},
    )
    assert r.status == 200
    assert r.headers.get("audit-id") == aid
    evs = wait_events(log, lambda e: e["auditID"] == aid, 3)
    assert [e["stage"] for e in evs] == ["RequestReceived", "ResponseStarted", "ResponseComplete"]
    assert evs[1]["responseStatus"]["code"] == 200
    assert evs[0]["verb"] == "watch"


def test_audit_id_header_matches_event(audited: tuple[Server, Path], http: Client) -> None:
    _, log = audited
    r = http.call("GET", "/api/v1/namespaces/default/configmaps")
    assert r.status == 200
    aid = r.headers["audit-id"]
    uuid.UUID(aid)  # a fresh UUID when the client sends none
    evs = wait_events(log, lambda e: e["auditID"] == aid, 2)
    assert [e["stage"] for e in evs] == ["RequestReceived", "ResponseComplete"]
    assert evs[1]["verb"] == "list" and evs[1]["responseObject"]["kind"] == "ConfigMapList"
    # a client's Audit-ID is kept, and an unaudited request answers the header too
    mine = "client-chosen-id-1"
    assert http.call("GET", "/readyz", headers={"Audit-ID": mine}).headers["audit-id"] == mine


def test_denied_request_decision_and_impersonation(audited: tuple[Server, Path], k: Kubectl) -> None:
    _, log = audited
    out = k.run("get", "pods", "-n", "default", "--as=audit-bob", check=False)
    assert out.returncode != 0 and "forbidden" in out.stderr
    evs = wait_events(
        log,
        lambda e: (
            (e.get("impersonatedUser") or {}).get("username") == "audit-bob"
            and e["stage"] == "ResponseComplete"
            and _ref(e).get("resource") == "pods"
        ),
    )
    assert evs, "no event for the denied request"
    ev = evs[-1]
    assert ev["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert "authorization.k8s.io/reason" in ev["annotations"]
    assert ev["responseStatus"]["code"] == 403
    assert ev["responseStatus"]["reason"] == "Forbidden"
    assert 'User "audit-bob" cannot list resource "pods"' in ev["responseStatus"]["message"]
    assert ev["user"]["username"] == "admin"  # the authenticated user; the impersonated one apart
    assert ev["impersonatedUser"]["groups"] == ["system:authenticated"]


def test_failed_authentication(audited: tuple[Server, Path], http: Client) -> None:
    _, log = audited
    aid = f"authn-{uuid.uuid4()}"
    r = http.call("GET", "/api/v1/namespaces", token="not-a-token", headers={"Audit-ID": aid})
    assert r.status == 401
    evs = wait_events(log, lambda e: e["auditID"] == aid)
    assert [e["stage"] for e in evs] == ["ResponseStarted"]
    assert evs[0]["responseStatus"]["code"] == 401
    assert evs[0]["user"] == {}


def test_pod_security_audit_annotation(audited: tuple[Server, Path], k: Kubectl) -> None:
    _, log = audited
    k("create", "namespace", "psa-audit")
    k("label", "namespace", "psa-audit", "pod-security.kubernetes.io/audit=restricted")
    k.create(
        """
apiVersion: v1
kind: Pod
metadata: {name: priv, namespace: psa-audit}
spec:
  automountServiceAccountToken: false
  containers: [{name: c, image: nginx, securityContext: {privileged: true}}]
"""
    )
    evs = wait_events(
        log,
        lambda e: (
            _ref(e).get("name") == "priv" and e["stage"] == "ResponseComplete" and e["verb"] == "create"
        ),
    )
    assert evs
    ann = evs[-1]["annotations"]
    assert ann["pod-security.kubernetes.io/enforce-policy"] == "privileged:latest"
    assert ann["pod-security.kubernetes.io/audit-violations"].startswith(
        'would violate PodSecurity "restricted:latest": privileged (container "c" must not set '
        "securityContext.privileged=true)"
    )


def test_rotation_by_maxsize(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
        "- level: RequestResponse\n  resources: [{group: '', resources: [configmaps]}]\n"
    )
    log = tmp_path / "audit.log"
    s = Server(
        tmp_path / "vc",
        args=[
            f"--audit-policy-file={tmp_path / 'policy.yaml'}",
            f"--audit-log-path={log}",
            "--audit-log-maxsize=1",
            "--audit-log-maxbackup=2",
        ],
    ).start()
    try:
        c = Client(s.url, s.ca_file, s.token)
        big = "x" * 200_000  # each create: ~400 KB of events (request and response objects)
        for i in range(8):
            cm = {"metadata": {"name": f"big{i}"}, "data": {"k": big}}
            r = c.call("POST", "/api/v1/namespaces/default/configmaps", cm)
            assert r.status == 201
        c.close()
        wait_events(log, lambda e: _ref(e).get("name") == "big7" and e["stage"] == "ResponseComplete")
    finally:
        s.stop()
    backups = sorted(tmp_path.glob("audit-*.log"))
    assert len(backups) == 2, backups  # three rotations, two backups kept
    for b in backups:
        assert re.fullmatch(r"audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log", b.name)
        assert 0 < b.stat().st_size <= 1024 * 1024
    assert log.stat().st_size <= 1024 * 1024
    names = {
        _ref(e).get("name") for p in [*backups, log] for e in _events(p) if e["stage"] == "ResponseComplete"
    }
    assert {"big6", "big7"} <= names  # the newest events are in the kept files


def _vcluster(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vcluster", *args], capture_output=True, text=True, timeout=timeout
    )


def test_bad_policy_stops_the_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Everything\n"
        "- level: Metadata\n  nonResourceURLs: [metrics]\n"
    )
    r = _vcluster("apiserver", "--data-dir", str(tmp_path / "d"), "--port", "0",
                  "--audit-policy-file", str(bad), "--audit-log-path", str(tmp_path / "a.log"))  # fmt: skip
    assert r.returncode != 0
    assert 'loading audit policy file: [rules[0].level: Unsupported value: "Everything"' in r.stderr
    assert (
        'rules[1].nonResourceURLs[0]: Invalid value: "metrics": non-resource URL rules must begin' in r.stderr
    )
    assert not (tmp_path / "d" / "state.db").exists()  # nothing started
    empty = tmp_path / "empty.yaml"
    empty.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\n")
    r = _vcluster("apiserver", "--data-dir", str(tmp_path / "d"), "--audit-policy-file", str(empty),
                  "--audit-log-path", "-")  # fmt: skip
    assert r.returncode != 0 and "loaded illegal policy with 0 rules" in r.stderr
    r = _vcluster("apiserver", "--data-dir", str(tmp_path / "d"), "--audit-policy-file", str(empty),
                  "--audit-log-path", "-", "--audit-log-mode", "async")  # fmt: skip
    assert r.returncode != 0
    assert 'invalid audit log mode async, allowed modes are "batch,blocking,blocking-strict"' in r.stderr


def test_start_reads_extra_args(tmp_path: Path) -> None:
    """`vcluster start` takes the flags from controlPlane.distro.k8s.apiServer.extraArgs and stops on a
    bad policy before it reaches for the host."""
    (tmp_path / "bad.yaml").write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: x\n")
    values = tmp_path / "values.yaml"
    values.write_text(
        "controlPlane:\n  distro:\n    k8s:\n      apiServer:\n        extraArgs:\n"
        f"        - --audit-policy-file={tmp_path / 'bad.yaml'}\n"
        "        - --audit-log-path=audit.log\n"
    )
    r = _vcluster("start", "--name", "auk", "--data-dir", str(tmp_path / "d"), "--host-namespace", "ns",
                  "--config", str(values))  # fmt: skip
    assert r.returncode != 0
    assert "controlPlane.distro.k8s.apiServer.extraArgs: loading audit policy file" in r.stderr
    assert 'rules[0].level: Unsupported value: "x"' in r.stderr


def test_validating_admission_policy_audit_annotations(audited: tuple[Server, Path], k: Kubectl) -> None:
    _, log = audited
    k.apply(
        """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: audit-labels}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [serviceaccounts]}
  validations:
  - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
    message: a team label is required
  auditAnnotations:
  - key: name
    valueExpression: "'sa ' + object.metadata.name"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: audit-labels}
spec:
  policyName: audit-labels
  validationActions: [Audit]
"""
    )
    deadline = time.monotonic() + 10
    while True:  # the policy is loaded from a store watch
        name = f"vap-sa-{int(time.monotonic() * 1000)}"
        k("create", "serviceaccount", name)
        evs = request_events(log, lambda e, n=name: _ref(e).get("name") == n and e["verb"] == "create")
        ann = evs[-1].get("annotations", {})
        if "audit-labels/name" in ann or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert ann["audit-labels/name"] == f"sa {name}"
    failures = json.loads(ann["validation.policy.admission.k8s.io/validation_failure"])
    assert failures == [
        {
            "message": "a team label is required",
            "policy": "audit-labels",
            "binding": "audit-labels",
            "expressionIndex": 0,
            "validationActions": ["Audit"],
        }
    ]


def test_virtual_cluster_audit_log_from_extra_args(tmp_path: Path) -> None:
    """`vcluster start` with the flags in vcluster.yaml: the relative log path is under the data dir,
    and the unused extraArgs are named in a warning."""
    from tests.integration.syncer_harness import start_pair

    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n"
        "- level: Request\n  resources: [{group: '', resources: [configmaps]}]\n  verbs: [create]\n"
    )
    config = (
        "controlPlane:\n  distro:\n    k8s:\n      apiServer:\n        extraArgs:\n"
        f"        - --audit-policy-file={policy}\n"
        "        - --audit-log-path=audit/audit.log\n"
        "        - --audit-log-format=json\n"
        "        - --v=4\n"
    )
    p = start_pair(tmp_path, config=config, nodes=1)
    try:
        p.kv("create", "configmap", "from-tenant", "--from-literal=k=v")
        log = p.vc.data_dir / "audit" / "audit.log"
        evs = wait_events(log, lambda e: _ref(e).get("name") == "from-tenant")
        assert [e["stage"] for e in evs] == ["ResponseComplete"]
        assert evs[0]["level"] == "Request" and evs[0]["requestObject"]["data"] == {"k": "v"}
        assert "not used (only the --audit-* flags are): --v=4" in p.vc.log_path.read_text()
    finally:
        p.stop()
