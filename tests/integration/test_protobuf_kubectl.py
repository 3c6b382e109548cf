"""The real kubectl's protobuf request bodies, decoded, against the JSON the same command prints.

A small HTTPS server records what kubectl sends: it serves `/version` (minor "32", so the Google
Cloud SDK dispatcher runs its built-in v1.32.4), discovery from the server's own registry, the few
objects some commands read first, and answers every POST with a 201 JSON echo. For each `kubectl
create` generator the recorded protobuf body must decode to exactly the object that
`kubectl create ... -o json --dry-run=client` prints: kubectl encodes one Go struct both ways.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from vcluster.apiserver.certs import PKI, ensure_pki, server_ssl_context
from vcluster.apiserver.discovery import Discovery, wants_aggregated
from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.kubeconfig import admin_kubeconfig, write_kubeconfig
from vcluster.apiserver.protobuf import PROTOBUF, decode_protobuf, protobuf_available
from vcluster.apiserver.resources import Registry

from .conftest import KUBECTL

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not protobuf_available(), reason="no kubectl with embedded protobuf descriptors"),
]

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.4", "platform": "linux/amd64"}
NS = "ns1"

# Objects that commands GET before they write.
FIXTURES: dict[str, dict[str, Any]] = {
    f"/apis/apps/v1/namespaces/{NS}/deployments/web": {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS, "uid": "d-1", "resourceVersion": "1"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    },
}


@dataclass
class Recorded:
    method: str
    path: str
    content_type: str
    body: bytes


class Recorder:
    """An aiohttp HTTPS server on its own thread and event loop, recording write requests."""

    def __init__(self, pki: PKI) -> None:
        self.pki = pki
        self.requests: list[Recorded] = []
        self.discovery = Discovery(Registry(), "127.0.0.1:0")
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Recorder:
        self._thread.start()
        assert self._started.wait(10), "recording server did not start"
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def take(self) -> list[Recorded]:
        out, self.requests = self.requests, []
        return out

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl_context(self.pki))
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._stop = asyncio.Event()
        self._started.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/version":
            return web.json_response(VERSION)
        if request.method == "GET":
            return self._get(request)
        body = await request.read()
        ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
        self.requests.append(Recorded(request.method, path, ctype, body))
        try:
            obj = decode_protobuf(body) if ctype == PROTOBUF else json.loads(body)
        except StatusError as e:
            return web.Response(body=e.body(), status=e.code, content_type="application/json")
        kind = obj.get("kind")
        if kind == "SelfSubjectAccessReview":
            obj["status"] = {"allowed": True}
        elif kind == "TokenRequest":
            obj["status"] = {"token": "token-1", "expirationTimestamp": "2030-01-01T00:00:00Z"}
        elif kind == "SelfSubjectReview":
            obj["status"] = {"userInfo": {"username": "admin", "groups": ["system:masters"]}}
        obj.setdefault("metadata", {}).setdefault("name", "x")
        return web.json_response(obj, status=201)

    def _get(self, request: web.Request) -> web.Response:
        path = request.path
        if path in FIXTURES:
            return web.json_response(FIXTURES[path])
        if path in ("/api", "/apis"):
            agg = wants_aggregated(request.headers.get("Accept"))
            if agg:
                doc, _ = self.discovery.aggregated(path == "/api", agg)
                ct = f"application/json;g=apidiscovery.k8s.io;v={agg};as=APIGroupDiscoveryList"
                return web.Response(body=doc, headers={"Content-Type": ct})
            doc, _ = self.discovery.api_versions() if path == "/api" else self.discovery.api_groups()
            return web.Response(body=doc, content_type="application/json")
        parts = [p for p in path.split("/") if p]
        found = None
        if len(parts) == 2 and parts[0] == "api":
            found = self.discovery.resource_list("", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            found = self.discovery.api_group(parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            found = self.discovery.resource_list(parts[1], parts[2])
        if found is None:
            st = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "code": 404,
            }
            return web.json_response(st, status=404)
        return web.Response(body=found[0], content_type="application/json")


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    pki = ensure_pki(tmp_path_factory.mktemp("pki"), ["127.0.0.1", "localhost"])
    rec = Recorder(pki).start()
    yield rec
    rec.stop()


@dataclass
class Kube:
    kubeconfig: Path
    cache_dir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def __call__(self, *args: str) -> str:
        p = self.run(*args)
        assert p.returncode == 0, f"kubectl {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}"
        return p.stdout


@pytest.fixture(scope="module")
def kube(recorder: Recorder, tmp_path_factory: pytest.TempPathFactory) -> Kube:
    d = tmp_path_factory.mktemp("kubectl")
    cfg = admin_kubeconfig(f"https://127.0.0.1:{recorder.port}", recorder.pki.ca_pem, token="token")
    write_kubeconfig(d / "kubeconfig", cfg)
    return Kube(d / "kubeconfig", d / "cache")


def sent_protobuf(recorder: Recorder) -> Recorded:
    """The one write the last command made; it must have been protobuf."""
    writes = recorder.take()
    assert len(writes) == 1, writes
    assert writes[0].content_type == PROTOBUF, writes[0]
    return writes[0]


def with_flags(args: list[str], *flags: str) -> list[str]:
    """Insert flags before a `--` that starts the container command."""
    at = args.index("--") if "--" in args else len(args)
    return [*args[:at], *flags, *args[at:]]


def create_cases(pki: PKI) -> list[list[str]]:
    n = ["-n", NS]
    return [
        ["create", "namespace", "ns1"],
        ["create", "configmap", "cm1", "--from-literal=a=1", "--from-literal=b=two", *n],
        ["create", "secret", "generic", "s1", "--from-literal=user=admin", "--from-literal=pw=s3cr3t", *n],
        ["create", "secret", "tls", "tls1", f"--cert={pki.server_cert}", f"--key={pki.server_key}", *n],
        [
            "create",
            "secret",
            "docker-registry",
            "reg1",
            "--docker-server=r.io",
            "--docker-username=u",
            "--docker-password=p",
            *n,
        ],
        ["create", "service", "clusterip", "svc1", "--tcp=80:8080", "--tcp=443:8443", *n],
        ["create", "service", "clusterip", "headless", "--clusterip=None", *n],
        ["create", "service", "nodeport", "svc2", "--tcp=80:8080", "--node-port=30080", *n],
        ["create", "service", "loadbalancer", "svc3", "--tcp=443:https", *n],
        ["create", "service", "externalname", "svc4", "--external-name=example.com", *n],
        ["create", "deployment", "testapp", "--image=nginx", "--replicas=2", *n],
        ["create", "deployment", "zero", "--image=nginx", "--replicas=0", "--port=80", *n],
        ["create", "job", "j1", "--image=busybox", *n, "--", "echo", "hi"],
        ["create", "cronjob", "cj1", "--schedule=*/5 * * * *", "--image=busybox", *n, "--", "date"],
        ["create", "serviceaccount", "sa1", *n],
        [
            "create",
            "role",
            "r1",
            "--verb=get,list",
            "--resource=pods,deployments.apps",
            "--resource-name=x",
            *n,
        ],
        ["create", "rolebinding", "rb1", "--role=r1", "--user=alice", "--serviceaccount=ns1:sa1", *n],
        ["create", "clusterrole", "cr1", "--verb=get", "--resource=nodes", "--non-resource-url=/logs"],
        ["create", "clusterrole", "agg", "--aggregation-rule=a=b"],
        ["create", "clusterrolebinding", "crb1", "--clusterrole=cr1", "--user=bob", "--group=devs"],
        ["create", "quota", "q1", "--hard=cpu=1,memory=1Gi,pods=10", "--scopes=BestEffort", *n],
        ["create", "priorityclass", "pc1", "--value=1000", "--description=hi", "--preemption-policy=Never"],
        ["create", "priorityclass", "pc0", "--value=0", "--global-default"],
        ["create", "poddisruptionbudget", "pdb1", "--selector=app=x", "--min-available=1", *n],
        ["create", "poddisruptionbudget", "pdb2", "--selector=app=x", "--max-unavailable=50%", *n],
        [
            "create",
            "ingress",
            "ing1",
            "--rule=foo.com/bar=svc1:80",
            "--rule=tls.com/*=svc2:https,tls=sec",
            *n,
        ],
        ["create", "ingress", "ing2", "--class=nginx", "--default-backend=svc1:80", *n],
        # Not a `create` generator, but a typed-client create too (it reads the deployment first).
        ["autoscale", "deployment", "web", "--max=3", "--cpu-percent=80", *n],
    ]


def test_create_generators_send_protobuf_that_decodes_to_their_json(recorder: Recorder, kube: Kube) -> None:
    failures = []
    for args in create_cases(recorder.pki):
        recorder.take()
        kube(*args)
        sent = sent_protobuf(recorder)
        decoded = decode_protobuf(sent.body)
        printed = json.loads(kube(*with_flags(args, "-o", "json", "--dry-run=client")))
        # No normalisation is needed: both come from the same Go struct, so even
        # `"creationTimestamp": null` and the empty `status: {}` appear on both sides.
        if decoded != printed:
            failures.append((args, decoded, printed))
        assert recorder.take() == []  # --dry-run=client sends nothing
    assert not failures, "\n\n".join(f"{a}\ndecoded: {d}\nprinted: {p}" for a, d, p in failures)


def test_create_token(recorder: Recorder, kube: Kube) -> None:
    recorder.take()
    assert kube("create", "token", "sa1", "-n", NS).strip() == "token-1"
    sent = sent_protobuf(recorder)
    assert sent.path == f"/api/v1/namespaces/{NS}/serviceaccounts/sa1/token"
    # TokenRequestSpec's fields have no omitempty: nil encodes as null (k8s.io/api authentication/v1).
    assert decode_protobuf(sent.body, ("authentication.k8s.io", "v1", "TokenRequest")) == {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"audiences": None, "expirationSeconds": None, "boundObjectRef": None},
        "status": {"token": "", "expirationTimestamp": None},
    }

    kube(
        "create", "token", "sa1", "-n", NS, "--duration=1h", "--audience=a1", "--audience=a2",
        "--bound-object-kind=Secret", "--bound-object-name=s1", "--bound-object-uid=u-1",
    )  # fmt: skip
    assert decode_protobuf(sent_protobuf(recorder).body)["spec"] == {
        "audiences": ["a1", "a2"],
        "expirationSeconds": 3600,
        "boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "s1", "uid": "u-1"},
    }


@pytest.mark.parametrize(
    "args,spec",
    [
        (
            ["get", "pods", "-n", NS],
            {"resourceAttributes": {"namespace": NS, "verb": "get", "resource": "pods"}},
        ),
        (
            ["create", "deployments.apps", "--subresource=scale", "-n", "kube-system"],
            {
                "resourceAttributes": {
                    "namespace": "kube-system",
                    "verb": "create",
                    "group": "apps",
                    "resource": "deployments",
                    "subresource": "scale",
                }
            },
        ),
        (
            ["list", "secrets", "--all-namespaces"],
            {"resourceAttributes": {"verb": "list", "resource": "secrets"}},
        ),
        (["get", "/logs"], {"nonResourceAttributes": {"path": "/logs", "verb": "get"}}),
    ],
)
def test_auth_can_i(recorder: Recorder, kube: Kube, args: list[str], spec: dict[str, Any]) -> None:
    recorder.take()
    assert kube("auth", "can-i", *args).strip() == "yes"
    sent = sent_protobuf(recorder)
    assert sent.path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    assert decode_protobuf(sent.body) == {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": {"allowed": False},  # SubjectAccessReviewStatus.Allowed has no omitempty
    }


def test_auth_whoami(recorder: Recorder, kube: Kube) -> None:
    recorder.take()
    out = kube("auth", "whoami")
    assert "admin" in out
    sent = sent_protobuf(recorder)
    assert sent.path == "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    assert decode_protobuf(sent.body) == {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": {}},
    }
