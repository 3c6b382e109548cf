"""The PodSecurity admission plugin with the real kubectl: namespace labels enforce (403), warn
(`Warning:` lines) and audit the Pod Security Standards; workloads are only warned about; labelling a
namespace warns about the pods already there; invalid labels are refused (422); a pinned version
selects that version's checks; the AdmissionConfiguration exemptions and defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.httpclient import Client

from .conftest import Kubectl, Server, server_fixture

server = server_fixture()

RESTRICTED_SC = (
    "    securityContext:\n"
    "      allowPrivilegeEscalation: false\n"
    "      capabilities: {drop: [ALL]}\n"
    "      runAsNonRoot: true\n"
    "      seccompProfile: {type: RuntimeDefault}\n"
)


def pod(name: str, ns: str, container_sc: str = "", spec_extra: str = "") -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{spec_extra}"
        f"  containers:\n  - name: c\n    image: nginx\n{container_sc}"
    )


PRIVILEGED_SC = "    securityContext:\n      privileged: true\n"


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


@pytest.fixture(scope="module")
def api(server: Server) -> Client:
    return Client(server.url, server.ca_file, server.token)


def _ns(k: Kubectl, name: str, **labels: str) -> str:
    k.namespace(name)
    if labels:
        k("label", "ns", name, *[f"pod-security.kubernetes.io/{m}={v}" for m, v in labels.items()])
    return name


def _names(k: Kubectl, ns: str) -> set[str]:
    return {p["metadata"]["name"] for p in k.get_json("pods", "-n", ns)["items"]}


def test_enforce_restricted_refuses_a_privileged_pod_and_admits_a_compliant_one(k: Kubectl) -> None:
    ns = _ns(k, "psa-enforce", enforce="restricted")
    p = k.run("create", "-f", "-", input=pod("priv", ns, PRIVILEGED_SC), check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "priv" is forbidden: '
        'violates PodSecurity "restricted:latest": privileged (container "c" must not set '
        'securityContext.privileged=true), allowPrivilegeEscalation != false (container "c" must set '
        'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must '
        'set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must '
        'set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    )
    ok = k.run("create", "-f", "-", input=pod("good", ns, RESTRICTED_SC))
    assert ok.stdout.strip() == "pod/good created" and ok.stderr == ""
    assert _names(k, ns) == {"good"}
    # a generateName pod is refused under the name Store.Create gave it, as kube's validating admission
    gen = pod("x", ns, PRIVILEGED_SC).replace("  name: x\n", "  generateName: gen-\n")
    p = k.run("create", "-f", "-", input=gen, check=False)
    assert re.search(
        r'pods "gen-[a-z0-9]{5}" is forbidden: violates PodSecurity "restricted:latest"', p.stderr
    ), p.stderr
    # a server-side dry run is refused the same way
    p = k.run("create", "--dry-run=server", "-f", "-", input=pod("priv", ns, PRIVILEGED_SC), check=False)
    assert 'violates PodSecurity "restricted:latest": privileged' in p.stderr


def test_updates_that_do_not_touch_the_policy_pass_and_ephemeral_containers_are_checked(
    k: Kubectl, api: Client
) -> None:
    ns = _ns(k, "psa-updates")
    k("create", "-f", "-", input=pod("old", ns))  # created before the namespace was restricted
    k("label", "ns", ns, "pod-security.kubernetes.io/enforce=restricted")
    # a label change is not a significant pod update: allowed although the pod violates the level
    assert k("label", "pod", "old", "-n", ns, "x=y").strip() == "pod/old labeled"
    # a new image is evaluated
    p = k.run("set", "image", "pod/old", "-n", ns, "c=nginx:2", check=False)
    assert (
        p.returncode == 1 and 'pods "old" is forbidden: violates PodSecurity "restricted:latest"' in p.stderr
    )
    # an ephemeral container through the ephemeralcontainers subresource is evaluated too
    k("create", "-f", "-", input=pod("target", ns, RESTRICTED_SC))
    path = f"/api/v1/namespaces/{ns}/pods/target/ephemeralcontainers"
    cur = api.call("GET", f"/api/v1/namespaces/{ns}/pods/target").body
    cur["spec"]["ephemeralContainers"] = [{"name": "dbg", "image": "busybox"}]
    status, body = api.call("PUT", path, cur)
    assert status == 403, body
    assert body["reason"] == "Forbidden"
    assert body["message"].startswith(
        'pods "target" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation '
        '!= false (container "dbg" must set securityContext.allowPrivilegeEscalation=false)'
    )
    assert "ephemeralContainers" not in api.call("GET", f"/api/v1/namespaces/{ns}/pods/target").body["spec"]


def test_warn_mode_answers_kubectl_warnings_and_creates(k: Kubectl) -> None:
    ns = _ns(k, "psa-warn", warn="baseline")
    p = k.run("create", "-f", "-", input=pod("priv", ns, PRIVILEGED_SC, "  hostNetwork: true\n"))
    assert p.stdout.strip() == "pod/priv created"
    assert p.stderr.strip() == (
        'Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true), '
        'privileged (container "c" must not set securityContext.privileged=true)'
    )
    assert _names(k, ns) == {"priv"}


def test_workloads_are_warned_about_not_refused(k: Kubectl) -> None:
    ns = _ns(k, "psa-workloads", enforce="restricted", warn="restricted")
    deployment = f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: c
        image: nginx
        securityContext: {{privileged: true}}
"""
    p = k.run("create", "-f", "-", input=deployment)
    assert p.stdout.strip() == "deployment.apps/web created"
    assert p.stderr.startswith(
        'Warning: would violate PodSecurity "restricted:latest": privileged (container "c" must not set '
        "securityContext.privileged=true), allowPrivilegeEscalation != false"
    )
    # enforce alone does not warn about workloads (only warn and audit apply to them)
    ns2 = _ns(k, "psa-workloads-enforce-only", enforce="restricted")
    p = k.run("create", "-f", "-", input=deployment.replace(ns, ns2))
    assert p.stdout.strip() == "deployment.apps/web created" and p.stderr == ""
    # a CronJob's template is found too
    cronjob = f"""apiVersion: batch/v1
kind: CronJob
metadata: {{name: cj, namespace: {ns}}}
spec:
  schedule: "0 0 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          hostPID: true
          containers: [{{name: c, image: busybox}}]
"""
    p = k.run("create", "-f", "-", input=cronjob)
    assert p.stdout.strip() == "cronjob.batch/cj created"
    assert 'would violate PodSecurity "restricted:latest": host namespaces (hostPID=true)' in p.stderr


def test_labelling_a_namespace_warns_about_its_violating_pods(k: Kubectl) -> None:
    ns = _ns(k, "psa-existing")
    for name in ("p-b", "p-a"):
        k("create", "-f", "-", input=pod(name, ns, PRIVILEGED_SC))
    k("create", "-f", "-", input=pod("p-c", ns, spec_extra="  hostIPC: true\n"))
    k("create", "-f", "-", input=pod("p-ok", ns))
    p = k.run("label", "ns", ns, "pod-security.kubernetes.io/enforce=baseline")
    assert p.stdout.strip() == f"namespace/{ns} labeled"
    assert p.stderr.strip().splitlines() == [
        f'Warning: existing pods in namespace "{ns}" violate the new PodSecurity enforce level '
        '"baseline:latest"',
        "Warning: p-a (and 1 other pod): privileged",
        "Warning: p-c: host namespaces",
    ]
    # relaxing (same version, lower level) checks nothing
    p = k.run("label", "--overwrite", "ns", ns, "pod-security.kubernetes.io/enforce=privileged")
    assert p.stderr == ""
    # the pods are still there: enforce only governs new pods
    assert _names(k, ns) == {"p-a", "p-b", "p-c", "p-ok"}


def test_invalid_labels_are_refused(k: Kubectl, api: Client) -> None:
    ns = _ns(k, "psa-invalid")
    p = k.run("label", "ns", ns, "pod-security.kubernetes.io/enforce=strict", check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == (
        f'The Namespace "{ns}" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted'
    )
    p = k.run("label", "ns", ns, "pod-security.kubernetes.io/warn-version=1.25", check=False)
    assert p.returncode == 1
    assert p.stderr.strip().endswith(
        'metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.25": '
        'must be "latest" or "v1.x"'
    )
    assert "labels" not in k.get_json("ns", ns)["metadata"] or not any(
        key.startswith("pod-security") for key in k.get_json("ns", ns)["metadata"]["labels"]
    )
    # a namespace created with an invalid label is refused as a whole
    status, body = api.call(
        "POST",
        "/api/v1/namespaces",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "psa-invalid-new", "labels": {"pod-security.kubernetes.io/audit": "x"}},
        },
    )
    assert status == 422 and body["reason"] == "Invalid", body
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "x": must be one of privileged, baseline, restricted',
            "field": "metadata.labels[pod-security.kubernetes.io/audit]",
        }
    ]
    status, _ = api.call("GET", "/api/v1/namespaces/psa-invalid-new")
    assert status == 404


def test_a_pinned_version_selects_that_versions_checks(k: Kubectl) -> None:
    # runAsUser=0 is forbidden at restricted from v1.23 on
    root = RESTRICTED_SC + "      runAsUser: 0\n"
    ns = _ns(k, "psa-v122", enforce="restricted", **{"enforce-version": "v1.22"})
    assert k("create", "-f", "-", input=pod("root", ns, root)).strip() == "pod/root created"
    k("label", "--overwrite", "ns", ns, "pod-security.kubernetes.io/enforce-version=v1.23")
    p = k.run("create", "-f", "-", input=pod("root2", ns, root), check=False)
    assert p.returncode == 1
    assert p.stderr.strip().endswith(
        'pods "root2" is forbidden: violates PodSecurity "restricted:v1.23": '
        'runAsUser=0 (container "c" must not set runAsUser=0)'
    )
    # net.ipv4.tcp_rmem became a safe sysctl in v1.32 (so at latest)
    sysctl = "  securityContext:\n    sysctls: [{name: net.ipv4.tcp_rmem, value: '4096 87380 16777216'}]\n"
    ns2 = _ns(k, "psa-v131", enforce="baseline", **{"enforce-version": "v1.31"})
    p = k.run("create", "-f", "-", input=pod("s", ns2, spec_extra=sysctl), check=False)
    assert p.returncode == 1
    assert 'violates PodSecurity "baseline:v1.31": forbidden sysctls (net.ipv4.tcp_rmem)' in p.stderr
    k("label", "--overwrite", "ns", ns2, "pod-security.kubernetes.io/enforce-version=latest")
    assert k("create", "-f", "-", input=pod("s", ns2, spec_extra=sysctl)).strip() == "pod/s created"


ADMISSION_CONFIG = """apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline
    exemptions:
      namespaces: [exempt-ns]
      runtimeClasses: [kata]
"""


def test_admission_configuration_defaults_and_exemptions(tmp_path: Path) -> None:
    conf = tmp_path / "admission.yaml"
    conf.write_text(ADMISSION_CONFIG)
    srv = Server(tmp_path / "psa", args=["--admission-control-config-file", str(conf)]).start()
    try:
        k = Kubectl(srv, tmp_path / "kcache")
        _ns(k, "plain")
        p = k.run("create", "-f", "-", input=pod("priv", "plain", PRIVILEGED_SC), check=False)
        assert 'violates PodSecurity "baseline:latest": privileged' in p.stderr  # the default enforce level
        kata = pod("kata", "plain", PRIVILEGED_SC, "  runtimeClassName: kata\n")
        assert k("create", "-f", "-", input=kata).strip() == "pod/kata created"
        _ns(k, "exempt-ns", enforce="restricted")
        assert (
            k("create", "-f", "-", input=pod("priv", "exempt-ns", PRIVILEGED_SC)).strip()
            == "pod/priv created"
        )
        # a namespace label still overrides the default
        _ns(k, "relaxed", enforce="privileged")
        assert (
            k("create", "-f", "-", input=pod("priv", "relaxed", PRIVILEGED_SC)).strip() == "pod/priv created"
        )
    finally:
        srv.stop()


def test_an_invalid_admission_configuration_stops_the_start(tmp_path: Path) -> None:
    conf = tmp_path / "admission.yaml"
    conf.write_text(ADMISSION_CONFIG.replace("enforce: baseline", "enforce: strict"))
    with pytest.raises(RuntimeError, match="server did not start") as e:
        Server(tmp_path / "bad", args=["--admission-control-config-file", str(conf)]).start()
    assert (
        'defaults.enforce: Invalid value: "strict": must be one of privileged, baseline, restricted'
        in str(e.value)
    )
