"""Issue 3 with the real kubectl against our real server: generators (protobuf bodies), client-side
and server-side apply, edit, patch in three types, set image, rollout restart, diff, explain,
auth, tokens and custom resources with printer columns."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.integration.conftest import Kubectl, Server, parse_table

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: web
        image: {image}
"""


@pytest.fixture(scope="module")
def k(module_kubectl: Kubectl) -> Kubectl:
    return module_kubectl


def ns(k: Kubectl, name: str) -> str:
    k("create", "namespace", name)
    return name


def test_create_generators(k: Kubectl) -> None:
    n = ns(k, "gen")
    k("create", "deployment", "testapp", "--image=nginx", "--replicas=2", "-n", n)
    k("create", "configmap", "cfg", "--from-literal=a=1", "-n", n)
    k("create", "secret", "generic", "sec", "--from-literal=pw=s3cret", "-n", n)
    k("create", "service", "clusterip", "svc", "--tcp=80:8080", "-n", n)
    k("create", "serviceaccount", "robot", "-n", n)
    dep = k.get_json("deployment", "testapp", "-n", n, "--show-managed-fields")
    assert dep["spec"]["replicas"] == 2
    # defaults a real server fills in
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert dep["spec"]["revisionHistoryLimit"] == 10 and dep["spec"]["progressDeadlineSeconds"] == 600
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "nginx" and c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePolicy"] == "File"
    assert dep["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert k.get_json("configmap", "cfg", "-n", n)["data"] == {"a": "1"}
    assert base64.b64decode(k.get_json("secret", "sec", "-n", n)["data"]["pw"]) == b"s3cret"
    svc = k.get_json("service", "svc", "-n", n)
    assert svc["spec"]["ports"][0] == {"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}
    assert svc["spec"]["sessionAffinity"] == "None" and svc["spec"]["internalTrafficPolicy"] == "Cluster"
    assert k.get_json("namespace", n)["metadata"]["labels"] == {"kubernetes.io/metadata.name": n}
    # managedFields record who wrote what
    managers = {m["manager"] for m in dep["metadata"]["managedFields"]}
    assert managers == {"kubectl-create"}


def test_create_token_is_signed_and_accepted(k: Kubectl, module_server: Server) -> None:
    n = ns(k, "tok")
    k("create", "serviceaccount", "bot", "-n", n)
    token = k("create", "token", "bot", "-n", n, "--duration=1h").strip()
    header_b64, payload_b64, sig_b64 = token.split(".")

    def b64(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    header, claims = json.loads(b64(header_b64)), json.loads(b64(payload_b64))
    assert header["alg"] == "ES256"  # new service-account keys are ECDSA P-256
    assert claims["sub"] == f"system:serviceaccount:{n}:bot"
    assert claims["kubernetes.io"]["serviceaccount"]["name"] == "bot"
    assert claims["exp"] - claims["iat"] == 3600
    pub = serialization.load_pem_public_key((module_server.data_dir / "pki" / "sa.pub").read_bytes())
    sig = b64(sig_b64)  # JWS ES256: r || s, 32 bytes each
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    pub.verify(der, f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr,call-arg]
    # The server accepts it as a bearer token, and whoami names the service account.
    out = subprocess.run(
        [*k.base(), "--token", token, "auth", "whoami", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    user = json.loads(out.stdout)["status"]["userInfo"]
    assert user["username"] == f"system:serviceaccount:{n}:bot"
    assert f"system:serviceaccounts:{n}" in user["groups"]
    # A tampered token is not.
    bad = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    out = subprocess.run([*k.base(), "--token", bad, "get", "ns"], capture_output=True, text=True, timeout=30)
    # kubectl words a 401 "Unauthorized" or, when discovery fails first, "provide credentials"
    assert out.returncode != 0 and ("Unauthorized" in out.stderr or "provide credentials" in out.stderr)


def test_auth_can_i_and_whoami(k: Kubectl) -> None:
    assert k("auth", "can-i", "create", "deployments").strip() == "yes"
    assert k("auth", "can-i", "--list").splitlines()[0].split()[:3] == ["Resources", "Non-Resource", "URLs"]
    who = json.loads(k("auth", "whoami", "-o", "json"))
    assert who["kind"] == "SelfSubjectReview" and who["status"]["userInfo"]["username"]


def test_client_side_apply_twice(k: Kubectl) -> None:
    n = ns(k, "csa")
    k("apply", "-n", n, "-f", "-", input=DEPLOY.format(name="web", replicas=2, image="nginx:1.25"))
    first = k.get_json("deployment", "web", "-n", n)
    last = json.loads(first["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["replicas"] == 2
    # change the image and drop the label: SMP with the last-applied diff removes it
    changed = DEPLOY.format(name="web", replicas=3, image="nginx:1.26").replace(
        "  labels: {app: web}\n", "", 1
    )
    out = k("apply", "-n", n, "-f", "-", input=changed)
    assert "configured" in out
    dep = k.get_json("deployment", "web", "-n", n)
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert "labels" not in dep["metadata"]
    assert dep["metadata"]["generation"] == 2
    assert "unchanged" in k("apply", "-n", n, "-f", "-", input=changed)


def test_server_side_apply_conflict_and_force(k: Kubectl) -> None:
    n = ns(k, "ssa")
    manifest = DEPLOY.format(name="api", replicas=2, image="nginx")
    assert "serverside-applied" in k(
        "apply", "--server-side", "--field-manager=alice", "-n", n, "-f", "-", input=manifest
    )
    dep = k.get_json("deployment", "api", "-n", n, "--show-managed-fields")
    alice = [m for m in dep["metadata"]["managedFields"] if m["manager"] == "alice"]
    assert alice and alice[0]["operation"] == "Apply"
    assert "f:replicas" in alice[0]["fieldsV1"]["f:spec"]
    bob = DEPLOY.format(name="api", replicas=5, image="nginx")
    p = k.run("apply", "--server-side", "--field-manager=bob", "-n", n, "-f", "-", input=bob, check=False)
    assert p.returncode != 0
    assert "conflict" in p.stderr.lower() and ".spec.replicas" in p.stderr and '"alice"' in p.stderr
    assert k.get_json("deployment", "api", "-n", n)["spec"]["replicas"] == 2  # nothing lost
    k("apply", "--server-side", "--force-conflicts", "--field-manager=bob", "-n", n, "-f", "-", input=bob)
    dep = k.get_json("deployment", "api", "-n", n, "--show-managed-fields")
    assert dep["spec"]["replicas"] == 5
    owners = {m["manager"]: m for m in dep["metadata"]["managedFields"]}
    assert "f:replicas" in owners["bob"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owners["alice"]["fieldsV1"]["f:spec"]  # taken over by bob
    # a field both applied stays when one of them stops applying it (bob still owns it) ...
    slim = DEPLOY.format(name="api", replicas=5, image="nginx").replace("  labels: {app: api}\n", "", 1)
    k("apply", "--server-side", "--force-conflicts", "--field-manager=alice", "-n", n, "-f", "-", input=slim)
    assert k.get_json("deployment", "api", "-n", n)["metadata"]["labels"] == {"app": "api"}
    # ... and a field only alice owns is removed when she stops applying it
    noted = slim.replace("  name: api\n", "  name: api\n  annotations: {note: alice}\n", 1)
    k("apply", "--server-side", "--force-conflicts", "--field-manager=alice", "-n", n, "-f", "-", input=noted)
    assert k.get_json("deployment", "api", "-n", n)["metadata"]["annotations"] == {"note": "alice"}
    k("apply", "--server-side", "--force-conflicts", "--field-manager=alice", "-n", n, "-f", "-", input=slim)
    assert "annotations" not in k.get_json("deployment", "api", "-n", n)["metadata"]


def test_server_side_apply_creates(k: Kubectl) -> None:
    n = ns(k, "ssa-create")
    cm = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: {n}}}\ndata: {{k: v}}\n"
    assert "serverside-applied" in k("apply", "--server-side", "-f", "-", input=cm)
    got = k.get_json("configmap", "c", "-n", n, "--show-managed-fields")
    assert got["data"] == {"k": "v"} and got["metadata"]["managedFields"][0]["manager"] == "kubectl"


JOB = """apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  backoffLimit: 2
  template:
    spec:
      containers: [{name: pi, image: perl, command: ["perl", "-e", "print 1"]}]
      restartPolicy: Never
"""


def test_client_side_then_server_side_apply_of_a_job(k: Kubectl) -> None:
    """The Job strategy's generated selector and labels and admission's additions belong to no
    manager (Kubernetes records the decoded object before admission and the strategy), so kubectl's
    migration to server-side apply and its re-apply of a manifest without them keep them."""
    n = ns(k, "csa-ssa")
    k("apply", "-n", n, "-f", "-", input=JOB)
    job = k.get_json("job", "pi", "-n", n, "--show-managed-fields")
    csa = job["metadata"]["managedFields"][0]
    assert csa["manager"] == "kubectl-client-side-apply" and csa["operation"] == "Update"
    assert "f:selector" not in csa["fieldsV1"]["f:spec"] and "f:backoffLimit" in csa["fieldsV1"]["f:spec"]
    assert "f:labels" not in csa["fieldsV1"]["f:spec"]["f:template"].get("f:metadata", {})
    p = k.run("apply", "--server-side", "-n", n, "-f", "-", input=JOB, check=False)
    assert p.returncode == 0 and "serverside-applied" in p.stdout, p.stderr
    assert "failed" not in p.stderr, p.stderr  # the migration and its re-apply both succeeded
    job = k.get_json("job", "pi", "-n", n, "--show-managed-fields")
    spec_managers = {
        (m["manager"], m["operation"]) for m in job["metadata"]["managedFields"] if not m.get("subresource")
    }
    assert spec_managers == {("kubectl-last-applied", "Apply"), ("kubectl", "Apply")}  # migrated
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "pi"


def test_pod_managed_fields_leave_out_admission_additions(k: Kubectl) -> None:
    n = ns(k, "pod-mf")
    k("run", "web", "--image=nginx", "-n", n)
    pod = k.get_json("pod", "web", "-n", n, "--show-managed-fields")
    assert pod["spec"]["volumes"][0]["name"].startswith("kube-api-access-")  # added by admission
    assert pod["spec"]["tolerations"] and pod["spec"]["serviceAccountName"] == "default"
    run = next(m for m in pod["metadata"]["managedFields"] if m["manager"] == "kubectl-run")
    spec = run["fieldsV1"]["f:spec"]
    assert "f:volumes" not in spec and "f:tolerations" not in spec and "f:serviceAccountName" not in spec
    assert "f:dnsPolicy" in spec and "f:enableServiceLinks" in spec  # defaulted at decoding: owned
    container = spec["f:containers"]['k:{"name":"web"}']
    assert "f:image" in container and "f:volumeMounts" not in container


def test_patch_three_types(k: Kubectl) -> None:
    n = ns(k, "patch")
    k("create", "deployment", "p", "--image=nginx", "-n", n)
    k("patch", "deployment", "p", "-n", n, "-p", '{"spec":{"replicas":4}}')  # strategic (default)
    k("patch", "deployment", "p", "-n", n, "--type=merge", "-p", '{"metadata":{"labels":{"tier":"x"}}}')
    k(
        "patch", "deployment", "p", "-n", n, "--type=json",
        "-p", '[{"op":"test","path":"/spec/replicas","value":4},'
        '{"op":"replace","path":"/spec/paused","value":true}]',
    )  # fmt: skip
    dep = k.get_json("deployment", "p", "-n", n)
    assert dep["spec"]["replicas"] == 4 and dep["spec"]["paused"] is True
    assert dep["metadata"]["labels"]["tier"] == "x"
    # a failing test op changes nothing and says why
    p = k.run(
        "patch", "deployment", "p", "-n", n, "--type=json",
        "-p", '[{"op":"test","path":"/spec/replicas","value":9},'
        '{"op":"replace","path":"/spec/replicas","value":1}]',
        check=False,
    )  # fmt: skip
    # kube-apiserver answers every failed operation with the generic 422 (NewGenericServerResponse)
    assert p.returncode != 0 and "the server rejected our request due to an error in our request" in p.stderr
    assert k.get_json("deployment", "p", "-n", n)["spec"]["replicas"] == 4
    # SMP on containers merges by name
    k("patch", "deployment", "p", "-n", n, "-p",
      '{"spec":{"template":{"spec":{"containers":'
      '[{"name":"nginx","env":[{"name":"A","value":"1"}]}]}}}}')  # fmt: skip
    c = k.get_json("deployment", "p", "-n", n)["spec"]["template"]["spec"]["containers"]
    assert len(c) == 1 and c[0]["image"] == "nginx" and c[0]["env"] == [{"name": "A", "value": "1"}]


def test_immutable_selector_is_422(k: Kubectl) -> None:
    n = ns(k, "immut")
    k("create", "deployment", "d", "--image=nginx", "-n", n)
    p = k.run(
        "patch", "deployment", "d", "-n", n, "--type=merge",
        "-p", '{"spec":{"selector":{"matchLabels":{"app":"other"}},'
        '"template":{"metadata":{"labels":{"app":"other"}}}}}',
        check=False,
    )  # fmt: skip
    assert p.returncode != 0
    assert 'The Deployment "d" is invalid: spec.selector: Invalid value: v1.LabelSelector{' in p.stderr
    assert "field is immutable" in p.stderr
    k("create", "configmap", "frozen", "--from-literal=a=1", "-n", n)
    k("patch", "configmap", "frozen", "-n", n, "--type=merge", "-p", '{"immutable":true}')
    p = k.run(
        "patch", "configmap", "frozen", "-n", n, "--type=merge", "-p", '{"data":{"a":"2"}}', check=False
    )
    assert p.returncode != 0 and "field is immutable when `immutable` is set" in p.stderr


def test_set_image_and_rollout_restart(k: Kubectl) -> None:
    n = ns(k, "roll")
    k("create", "deployment", "r", "--image=nginx:1.25", "-n", n)
    k("set", "image", "deployment/r", "nginx=nginx:1.27", "-n", n)
    dep = k.get_json("deployment", "r", "-n", n)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert dep["metadata"]["generation"] == 2
    k("rollout", "restart", "deployment/r", "-n", n)
    ann = k.get_json("deployment", "r", "-n", n)["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in ann


def test_edit_with_editor_script(k: Kubectl, tmp_path: Path) -> None:
    n = ns(k, "edit")
    k("create", "configmap", "e", "--from-literal=color=blue", "-n", n)
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/color: blue/color: green/' \"$1\"\n")
    editor.chmod(0o755)
    env = {**os.environ, "KUBE_EDITOR": str(editor)}
    p = subprocess.run(
        [*k.base(), "edit", "configmap/e", "-n", n], env=env, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    assert "edited" in p.stdout
    assert k.get_json("configmap", "e", "-n", n)["data"] == {"color": "green"}


def test_diff(k: Kubectl) -> None:
    n = ns(k, "diff")
    k("apply", "-n", n, "-f", "-", input=DEPLOY.format(name="d", replicas=1, image="nginx:1"))
    p = k.run(
        "diff", "-n", n, "-f", "-", input=DEPLOY.format(name="d", replicas=3, image="nginx:1"), check=False
    )
    assert p.returncode == 1, p.stderr  # 1 = differences found
    assert "-  replicas: 1" in p.stdout and "+  replicas: 3" in p.stdout
    # the server-side dry run stored nothing
    assert k.get_json("deployment", "d", "-n", n)["spec"]["replicas"] == 1
    same = k.run(
        "diff", "-n", n, "-f", "-", input=DEPLOY.format(name="d", replicas=1, image="nginx:1"), check=False
    )
    assert same.returncode == 0 and same.stdout == ""


def test_explain(k: Kubectl) -> None:
    out = k("explain", "deployment.spec.strategy")
    assert "KIND:       Deployment" in out and "FIELD: strategy <DeploymentStrategy>" in out
    assert "rollingUpdate\t<RollingUpdateDeployment>" in out and "type\t<string>" in out


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [cronSpec]
            properties:
              cronSpec: {type: string, pattern: '^(\\S+ ){4}\\S+$'}
              image: {type: string}
              replicas: {type: integer, minimum: 0, default: 1}
          status:
            type: object
            properties:
              replicas: {type: integer}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterthings.example.org
spec:
  group: example.org
  scope: Cluster
  names: {plural: clusterthings, singular: clusterthing, kind: ClusterThing}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          size: {type: string, enum: [small, large]}
"""


def wait_served(k: Kubectl, resource: str) -> None:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if k.run("get", resource, "-A", check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"{resource} never served")


def test_custom_resources(k: Kubectl) -> None:
    n = ns(k, "crd")
    k("create", "-f", "-", input=CRD)
    wait_served(k, "crontabs.stable.example.com")
    wait_served(k, "clusterthings.example.org")
    crd = k.get_json("crd", "crontabs.stable.example.com")
    conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conds == {"NamesAccepted": "True", "Established": "True"}
    ct = (
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: job1}\n"
        "spec: {cronSpec: '*/5 * * * *', image: img}\n"
    )
    k("create", "-n", n, "-f", "-", input=ct)
    _, rows = parse_table(k("get", "crontabs", "-n", n))
    assert rows == [{"NAME": "job1", "SPEC": "*/5 * * * *", "REPLICAS": "1", "AGE": rows[0]["AGE"]}]
    got = k.get_json("ct", "job1", "-n", n)
    assert got["spec"]["replicas"] == 1  # schema default
    # served under the second version too (None conversion)
    v1beta1 = json.loads(k("get", "--raw", f"/apis/stable.example.com/v1beta1/namespaces/{n}/crontabs/job1"))
    assert (
        v1beta1["apiVersion"] == "stable.example.com/v1beta1" and v1beta1["spec"]["cronSpec"] == "*/5 * * * *"
    )
    # schema validation: 422 with the field path
    bad = ct.replace("job1", "job2").replace("'*/5 * * * *'", "'nope'")
    p = k.run("create", "-n", n, "-f", "-", input=bad, check=False)
    assert p.returncode != 0
    assert (
        'The CronTab "job2" is invalid: spec.cronSpec: Invalid value: "nope": '
        "spec.cronSpec in body should match" in p.stderr
    )
    # scale and status subresources
    k("scale", "ct/job1", "--replicas=3", "-n", n)
    assert k.get_json("ct", "job1", "-n", n)["spec"]["replicas"] == 3
    k(
        "patch",
        "ct",
        "job1",
        "-n",
        n,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"replicas":3}}',
    )
    assert k.get_json("ct", "job1", "-n", n)["status"] == {"replicas": 3}
    # strategic merge patch is not for custom resources
    p = k.run("patch", "ct", "job1", "-n", n, "--type=strategic", "-p", '{"spec":{"image":"x"}}', check=False)
    assert p.returncode != 0
    assert (
        "application/strategic-merge-patch+json is not supported by stable.example.com/v1, Kind=CronTab"
        in p.stderr
    )
    # cluster-scoped, with an enum
    k(
        "create",
        "-f",
        "-",
        input="apiVersion: example.org/v1\nkind: ClusterThing\nmetadata: {name: t}\nsize: small\n",
    )
    p = k.run(
        "create", "-f", "-",
        input="apiVersion: example.org/v1\nkind: ClusterThing\nmetadata: {name: u}\nsize: huge\n",
        check=False,
    )  # fmt: skip
    assert p.returncode != 0 and 'Unsupported value: "huge"' in p.stderr
    assert [i["metadata"]["name"] for i in k.get_json("clusterthings")["items"]] == ["t"]
    # deleting the CRD deletes its objects
    k("delete", "crd", "crontabs.stable.example.com", "--wait=true", timeout=30)
    assert k.run("get", "crd", "crontabs.stable.example.com", check=False).returncode != 0
    p = k.run("get", "--raw", f"/apis/stable.example.com/v1/namespaces/{n}/crontabs", check=False)
    assert p.returncode != 0 and "the server could not find the requested resource" in p.stderr
    # re-creating it shows no leftovers
    k("create", "-f", "-", input=CRD.split("---")[0])
    wait_served(k, "crontabs.stable.example.com")
    assert k.get_json("crontabs", "-n", n)["items"] == []


def test_service_ip_and_node_port_allocation(k: Kubectl) -> None:
    n = ns(k, "alloc")
    k("create", "service", "nodeport", "np1", "--tcp=80:8080", "--node-port=30080", "-n", n)
    svc = k.get_json("svc", "np1", "-n", n)
    assert svc["spec"]["ports"][0]["nodePort"] == 30080 and svc["spec"]["clusterIP"].startswith("10.")
    p = k.run(
        "create", "service", "nodeport", "np2", "--tcp=80:8080", "--node-port=30080", "-n", n, check=False
    )
    assert p.returncode != 0
    assert "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated" in p.stderr
    p = k.run(
        "create", "service", "nodeport", "np3", "--tcp=80:8080", "--node-port=40000", "-n", n, check=False
    )
    assert p.returncode != 0 and "provided port is not in the valid range" in p.stderr
    # a requested ClusterIP outside the service CIDR is refused; one inside it is honoured once
    p = k.run(
        "create", "service", "clusterip", "c1", "--tcp=80", "--clusterip=10.0.0.5", "-n", n, check=False
    )
    assert p.returncode != 0 and "the provided IP (10.0.0.5) is not in the valid range" in p.stderr
    k("create", "service", "clusterip", "c2", "--tcp=80", "--clusterip=10.96.0.50", "-n", n)
    p = k.run(
        "create", "service", "clusterip", "c3", "--tcp=80", "--clusterip=10.96.0.50", "-n", n, check=False
    )
    assert p.returncode != 0 and "provided IP is already allocated" in p.stderr
    # deleting frees the port for the next service
    k("delete", "service", "np1", "-n", n)
    k("create", "service", "nodeport", "np4", "--tcp=80:8080", "--node-port=30080", "-n", n)


def test_a_later_delete_changes_the_propagation_finalizer(k: Kubectl) -> None:
    n = ns(k, "gcfin")
    k.create(
        f"apiVersion: v1\nkind: ConfigMap\n"
        f"metadata: {{name: held, namespace: {n}, finalizers: [example.com/hold]}}\n"
    )
    k("delete", "configmap", "held", "-n", n, "--cascade=orphan", "--wait=false")
    md = k.get_json("configmap", "held", "-n", n)["metadata"]
    assert md["deletionTimestamp"] and md["finalizers"] == ["example.com/hold", "orphan"]
    k("delete", "configmap", "held", "-n", n, "--cascade=foreground", "--wait=false")
    assert k.get_json("configmap", "held", "-n", n)["metadata"]["finalizers"] == [
        "example.com/hold",
        "foregroundDeletion",
    ]
    k("delete", "configmap", "held", "-n", n, "--cascade=background", "--wait=false")
    assert k.get_json("configmap", "held", "-n", n)["metadata"]["finalizers"] == ["example.com/hold"]
    k("patch", "configmap", "held", "-n", n, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert k.run("get", "configmap", "held", "-n", n, check=False).returncode != 0


def test_crd_deletion_waits_for_finalizers_of_its_objects(k: Kubectl) -> None:
    crd = CRD.split("---")[1].replace("clusterthings", "heldthings").replace("ClusterThing", "HeldThing")
    crd = crd.replace("clusterthing", "heldthing")
    k("create", "-f", "-", input=crd)
    wait_served(k, "heldthings.example.org")
    k.create(
        "apiVersion: example.org/v1\nkind: HeldThing\nmetadata: {name: h, finalizers: [example.org/keep]}\n"
    )
    k("delete", "crd", "heldthings.example.org", "--wait=false")
    import time

    time.sleep(1)
    held = k.get_json("heldthings", "h")  # still there: its finalizer is not done
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["finalizers"] == ["example.org/keep"]
    assert k.get_json("crd", "heldthings.example.org")["metadata"]["deletionTimestamp"]
    k("patch", "heldthing", "h", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    deadline = time.monotonic() + 10
    while (
        time.monotonic() < deadline
        and k.run("get", "crd", "heldthings.example.org", check=False).returncode == 0
    ):
        time.sleep(0.2)
    assert k.run("get", "crd", "heldthings.example.org", check=False).returncode != 0


def test_status_endpoint_takes_annotations_and_keeps_the_spec(k: Kubectl) -> None:
    n = ns(k, "statusmeta")
    k("create", "deployment", "d", "--image=nginx", "-n", n)
    patch = '{"metadata":{"annotations":{"note":"from-status"},"labels":{"x":"y"}},"spec":{"replicas":7}}'
    k("patch", "deployment", "d", "-n", n, "--subresource=status", "--type=merge", "-p", patch)
    md = k.get_json("deployment", "d", "-n", n)
    assert md["metadata"]["annotations"]["note"] == "from-status"
    assert "x" not in md["metadata"]["labels"]  # the Deployment status strategy resets labels
    assert md["spec"]["replicas"] == 1  # and the spec
