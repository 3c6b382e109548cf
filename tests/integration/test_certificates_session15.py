"""certificates.k8s.io/v1 CertificateSigningRequests with the real kubectl and real TLS: a user's
certificate requested, approved, signed by csrsigning and used to authenticate; denial; the
CertificateApproval and CertificateSubjectRestriction admission plugins; validation errors; the
`kubectl get csr` columns; kubelet client requests auto-approved by csrapproving."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.httpclient import Client

from .conftest import Kubectl, Server, parse_table, server_fixture

server = server_fixture(controllers="serviceaccount,namespace,csrsigning,csrapproving,csrcleaner")
CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


@pytest.fixture(scope="module")
def api(server: Server) -> Client:
    return Client(server.url, server.ca_file, server.token)


def _key_and_csr(cn: str, orgs: tuple[str, ...] = ()) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    req = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs)).sign(key, hashes.SHA256())
    return key, req.public_bytes(serialization.Encoding.PEM)


def _manifest(
    name: str,
    pem: bytes,
    *,
    signer: str = "kubernetes.io/kube-apiserver-client",
    usages: tuple[str, ...] = ("client auth",),
    expiration: int | None = 600,
) -> str:
    spec: dict[str, object] = {
        "request": base64.b64encode(pem).decode(),
        "signerName": signer,
        "usages": list(usages),
    }
    if expiration is not None:
        spec["expirationSeconds"] = expiration
    doc = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
    }
    return yaml.safe_dump({**doc, "spec": spec})


def _wait(fn: Callable[[], object], timeout: float = 10.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def _issued(k: Kubectl, name: str) -> x509.Certificate:
    def cert() -> str:
        return str(k.get_json("csr", name).get("status", {}).get("certificate") or "")

    pem = base64.b64decode(str(_wait(cert)))
    return x509.load_pem_x509_certificate(pem)


def _user_kubeconfig(
    server: Server, tmp: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> Path:
    """A kubeconfig for the cluster that authenticates with the issued certificate only."""
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": server.url, "certificate-authority": str(server.ca_file)}}
        ],
        "users": [
            {
                "name": "u",
                "user": {
                    "client-certificate-data": base64.b64encode(
                        cert.public_bytes(serialization.Encoding.PEM)
                    ).decode(),
                    "client-key-data": base64.b64encode(key_pem).decode(),
                },
            }
        ],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    path = tmp / "user.kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _as_token(k: Kubectl, token: str) -> Callable[..., tuple[int, str, str]]:
    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        p = k.run("--token", token, *args, input=stdin, check=False)
        return p.returncode, p.stdout, p.stderr.strip()

    return run


def test_user_certificate_flow(k: Kubectl, server: Server, tmp_path: Path) -> None:
    key, pem = _key_and_csr("alice", ("devs", "qa"))
    k.apply(_manifest("alice", pem, expiration=600))
    csr = k.get_json("csr", "alice")
    # the requester's identity is the admin's, whatever the body said; the status starts empty
    assert csr["spec"]["username"] == "admin"
    assert "system:masters" in csr["spec"]["groups"]
    assert csr["status"] == {}
    headers, rows = parse_table(k("get", "csr", "alice"))
    assert headers == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
    assert rows[0]["SIGNERNAME"] == "kubernetes.io/kube-apiserver-client"
    assert rows[0]["REQUESTOR"] == "admin"
    assert rows[0]["REQUESTEDDURATION"] == "10m"
    assert rows[0]["CONDITION"] == "Pending"

    assert "approved" in k("certificate", "approve", "alice")
    before = dt.datetime.now(dt.UTC)
    cert = _issued(k, "alice")
    cond = k.get_json("csr", "alice")["status"]["conditions"][0]
    assert (cond["type"], cond["reason"], cond["status"]) == ("Approved", "KubectlApprove", "True")
    assert cond["lastUpdateTime"] and cond["lastTransitionTime"]
    _, rows = parse_table(k("get", "csr", "alice"))
    assert rows[0]["CONDITION"] == "Approved,Issued"

    # validity: 600 s from signing (short certificates are not cut by the backdate), from 5 min before
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(seconds=900)
    assert abs((cert.not_valid_after_utc - before).total_seconds() - 600) < 30
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    ca = x509.load_pem_x509_certificate(server.ca_file.read_bytes())
    cert.verify_directly_issued_by(ca)

    # the certificate authenticates alice with her groups: whoami, and RBAC naming her
    user = Kubectl(server, tmp_path / "ucache")
    kc = _user_kubeconfig(server, tmp_path, key, cert)
    who = json.loads(user.run("--kubeconfig", str(kc), "auth", "whoami", "-o", "json").stdout)
    assert who["status"]["userInfo"]["username"] == "alice"
    # (the organisations are one multi-valued RDN in the issued subject, as Go writes it: DER order)
    assert sorted(who["status"]["userInfo"]["groups"]) == ["devs", "qa", "system:authenticated"]
    p = user.run("--kubeconfig", str(kc), "get", "pods", "-n", "default", check=False)
    assert p.returncode == 1
    assert 'User "alice" cannot list resource "pods"' in p.stderr


def test_deny(k: Kubectl, api: Client) -> None:
    _, pem = _key_and_csr("mallory")
    k.apply(_manifest("mallory", pem))
    assert "denied" in k("certificate", "deny", "mallory")
    csr = k.get_json("csr", "mallory")
    assert [(c["type"], c["reason"]) for c in csr["status"]["conditions"]] == [("Denied", "KubectlDeny")]
    _, rows = parse_table(k("get", "csr", "mallory"))
    assert rows[0]["CONDITION"] == "Denied"
    # Approved beside Denied is refused; the Denied condition cannot be removed
    both = dict(csr)
    both["status"] = {"conditions": [*csr["status"]["conditions"], {"type": "Approved", "status": "True"}]}
    r = api.call("PUT", f"{CSR_PATH}/mallory/approval", both)
    assert r.status == 422, r.body
    assert {"field": "status.conditions[1].type", "reason": "FieldValueInvalid"}.items() <= r.body["details"][
        "causes"
    ][0].items()
    assert "Approved and Denied conditions are mutually exclusive" in r.body["message"]
    cleared = dict(csr)
    cleared["status"] = {}
    r = api.call("PUT", f"{CSR_PATH}/mallory/approval", cleared)
    assert r.status == 422
    assert (
        'status.conditions: Forbidden: updates may not remove a condition of type "Denied"'
        in r.body["message"]
    )
    time.sleep(0.5)  # the signer leaves denied requests alone
    assert "certificate" not in k.get_json("csr", "mallory")["status"]


def test_approval_needs_approve_on_signers(k: Kubectl) -> None:
    k.namespace("csr-approvers")
    k("create", "serviceaccount", "approver", "-n", "csr-approvers")
    token = k("create", "token", "approver", "-n", "csr-approvers").strip()
    sa_user = "system:serviceaccount:csr-approvers:approver"
    k(
        "create",
        "clusterrole",
        "csr-approval-only",
        "--verb=get,list,watch",
        "--resource=certificatesigningrequests.certificates.k8s.io",
    )
    k.apply(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: csr-approval-update}\n"
        "rules:\n- {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], "
        "verbs: [update]}\n"
    )
    for role in ("csr-approval-only", "csr-approval-update"):
        k("create", "clusterrolebinding", f"{role}-b", f"--clusterrole={role}", f"--user={sa_user}")
    _, pem = _key_and_csr("carol")
    k.apply(_manifest("carol", pem, signer="example.com/signer"))
    as_sa = _as_token(k, token)
    rc, _, err = as_sa("certificate", "approve", "carol")
    assert rc == 1
    assert (
        'certificatesigningrequests.certificates.k8s.io "carol" is forbidden: '
        'user not permitted to approve requests with signerName "example.com/signer"'
    ) in err
    assert "conditions" not in k.get_json("csr", "carol")["status"]
    # `approve` on the signer's domain wildcard is enough
    k.apply(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: example-approver}\n"
        "rules:\n- {apiGroups: [certificates.k8s.io], resources: [signers], "
        "resourceNames: ['example.com/*'], verbs: [approve]}\n"
    )
    k(
        "create",
        "clusterrolebinding",
        "example-approver-b",
        "--clusterrole=example-approver",
        f"--user={sa_user}",
    )
    rc, _, err = as_sa("certificate", "approve", "carol")
    assert rc == 0, err
    conds = k.get_json("csr", "carol")["status"]["conditions"]
    assert [c["type"] for c in conds] == ["Approved"]
    # the signer of a foreign signerName is not ours: approved, never issued nor failed
    time.sleep(0.5)
    assert "certificate" not in k.get_json("csr", "carol")["status"]


def test_validation_errors(k: Kubectl, api: Client) -> None:
    bad = _manifest("bad-pem", b"not a pem\n", expiration=599)
    p = k.run("create", "-f", "-", input=bad, check=False)
    assert p.returncode == 1
    assert 'The CertificateSigningRequest "bad-pem" is invalid' in p.stderr
    assert "spec.request: Invalid value: []byte{0x6e, 0x6f, 0x74," in p.stderr
    assert "PEM block type must be CERTIFICATE REQUEST" in p.stderr
    assert (
        "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds"
        in p.stderr
    )
    doc = yaml.safe_load(bad)
    r = api.call("POST", CSR_PATH, doc)
    assert r.status == 422
    assert r.body["reason"] == "Invalid"
    assert [c["field"] for c in r.body["details"]["causes"]] == ["spec.request", "spec.expirationSeconds"]
    # usages, signerName and a wrongly signed request
    _, pem = _key_and_csr("x")
    doc = yaml.safe_load(
        _manifest("bad-spec", pem, signer="nodomain/x", usages=("client auth", "bogus", "client auth"))
    )
    r = api.call("POST", CSR_PATH, doc)
    assert r.status == 422
    causes = [(c["field"], c["reason"]) for c in r.body["details"]["causes"]]
    assert causes == [
        ("spec.usages[1]", "FieldValueNotSupported"),
        ("spec.usages[2]", "FieldValueDuplicate"),
        ("spec.signerName", "FieldValueInvalid"),
    ]
    tampered = bytearray(x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER))
    tampered[-1] ^= 1  # the last byte of the signature
    tampered_pem = b"-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(bytes(tampered))
    tampered_pem += b"-----END CERTIFICATE REQUEST-----\n"
    r = api.call("POST", CSR_PATH, yaml.safe_load(_manifest("tampered", tampered_pem)))
    assert r.status == 422
    assert r.body["details"]["causes"][0]["message"].endswith("x509: ECDSA verification failure")
    # nothing was stored
    assert "bad-pem" not in k("get", "csr", "-o", "name")


def test_system_masters_refused_for_apiserver_client(k: Kubectl) -> None:
    _, pem = _key_and_csr("root", ("system:masters",))
    p = k.run("create", "-f", "-", input=_manifest("root", pem), check=False)
    assert p.returncode == 1
    assert (
        'certificatesigningrequests.certificates.k8s.io "root" is forbidden: '
        "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"
    ) in p.stderr


def test_signer_rules_fail_request(k: Kubectl) -> None:
    _, pem = _key_and_csr("webserver")
    k.apply(_manifest("server-usage", pem, usages=("server auth",)))
    k("certificate", "approve", "server-usage")

    def failed() -> list[dict[str, str]]:
        conds = k.get_json("csr", "server-usage")["status"].get("conditions") or []
        return [c for c in conds if c["type"] == "Failed"]

    cond = _wait(failed)[0]  # type: ignore[index]
    assert cond["reason"] == "SignerValidationFailure"
    assert cond["message"] == "invalid usage for client certificate: server auth"
    _, rows = parse_table(k("get", "csr", "server-usage"))
    assert rows[0]["CONDITION"] == "Approved,Failed"


def test_spec_immutable_and_status_needs_sign(k: Kubectl, api: Client) -> None:
    _, pem = _key_and_csr("dave")
    k.apply(_manifest("dave", pem))
    csr = k.get_json("csr", "dave")
    changed = json.loads(json.dumps(csr))
    changed["spec"]["signerName"] = "example.com/other"
    changed["metadata"]["labels"] = {"team": "a"}
    r = api.call("PUT", f"{CSR_PATH}/dave", changed)
    assert r.status == 200
    assert r.body["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client"  # spec kept
    assert r.body["metadata"]["labels"] == {"team": "a"}
    # setting the certificate through /status asks `sign` on the signer: admin has it
    fake = dict(r.body)
    fake["status"] = {"certificate": base64.b64encode(b"junk").decode()}
    r = api.call("PUT", f"{CSR_PATH}/dave/status", fake)
    assert r.status == 422
    assert r.body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "<certificate data>": must contain at least one CERTIFICATE PEM block',
            "field": "status.certificate",
        }
    ]


def test_kubelet_client_request_auto_approved(k: Kubectl) -> None:
    k(
        "create",
        "clusterrolebinding",
        "nodes-selfnodeclient",
        "--clusterrole=system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        "--group=system:nodes",
    )
    k(
        "create",
        "clusterrolebinding",
        "nodes-bootstrapper",
        "--clusterrole=system:node-bootstrapper",
        "--group=system:nodes",
    )
    _, pem = _key_and_csr("system:node:n1", ("system:nodes",))
    manifest = _manifest(
        "node-n1",
        pem,
        signer="kubernetes.io/kube-apiserver-client-kubelet",
        usages=("digital signature", "client auth"),
        expiration=None,
    )
    k.run("create", "--as=system:node:n1", "--as-group=system:nodes", "-f", "-", input=manifest)
    cert = _issued(k, "node-n1")
    conds = k.get_json("csr", "node-n1")["status"]["conditions"]
    assert [(c["type"], c["reason"]) for c in conds] == [("Approved", "AutoApproved")]
    assert conds[0]["message"] == "Auto approving self kubelet client certificate after SubjectAccessReview."
    # no expirationSeconds: the signer's maximum (1 year, less the 5 min backdate at both ends)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=365)
    assert cert.subject.rfc4514_string() == "CN=system:node:n1,O=system:nodes"


def _sweep(server: Server, offset: dt.timedelta) -> None:
    """One pass of the csrcleaner controller against the server, its clock moved by `offset`."""
    from vcluster.client import Client as KubeClient
    from vcluster.client import SharedInformers
    from vcluster.controllers.csrcleaner import CSRCleanerController

    async def run() -> None:
        client = await KubeClient.from_kubeconfig(str(server.kubeconfig))
        informers = SharedInformers(client)
        ctrl = CSRCleanerController(client, informers, clock=lambda: dt.datetime.now(dt.UTC) + offset)
        try:
            await informers.start()
            await informers.wait_synced(timeout=10)
            await ctrl.sweep()
        finally:
            await ctrl.close()
            await informers.stop()
            await client.close()

    asyncio.run(run())


def test_cleaner_deletes_finished_and_abandoned_requests(k: Kubectl, server: Server) -> None:
    names = ("gc-denied", "gc-pending", "gc-approved-unsigned", "gc-issued", "gc-expired")
    for name in names:
        _, pem = _key_and_csr(name)
        signer = (
            "example.com/kept" if name == "gc-approved-unsigned" else "kubernetes.io/kube-apiserver-client"
        )
        k.apply(_manifest(name, pem, signer=signer, expiration=600 if name == "gc-expired" else 7200))
    k("certificate", "deny", "gc-denied")
    k("certificate", "approve", "gc-approved-unsigned", "gc-issued", "gc-expired")
    _issued(k, "gc-issued")
    _issued(k, "gc-expired")

    def present() -> set[str]:
        out = k("get", "csr", "-o", "name").split()
        return {n for n in names if f"certificatesigningrequest.certificates.k8s.io/{n}" in out}

    _sweep(server, dt.timedelta(minutes=5))  # nothing is old enough yet
    assert present() == set(names)
    _sweep(server, dt.timedelta(minutes=30))  # the 10-minute certificate has expired
    assert present() == set(names) - {"gc-expired"}
    # an hour after: the denied and the issued requests go
    _sweep(server, dt.timedelta(hours=1, minutes=5))
    assert present() == {"gc-pending", "gc-approved-unsigned"}
    # pending requests stay a day; approved ones without a certificate are not the cleaner's
    _sweep(server, dt.timedelta(hours=24, minutes=5))
    assert present() == {"gc-approved-unsigned"}
