"""The real kubectl (1.32) against the OpenAPI documents and field validation of this package.

A small HTTPS server (aiohttp on a thread) serves /version, discovery (`Discovery`), /openapi/*
(`OpenAPI.handle`) and a toy object store that runs `fieldvalidation` on POST/PUT the way
kube-apiserver does, and records every request. kubectl then runs `create -f`, `apply -f`,
`replace -f`, `edit`, `diff` and `explain` with validation on (its default, `--validate=strict`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from vcluster.apiserver import fieldvalidation as fv
from vcluster.apiserver.certs import ensure_pki, server_ssl_context
from vcluster.apiserver.discovery import Discovery, wants_aggregated
from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.openapi import OpenAPI
from vcluster.apiserver.request import parse_resource_path
from vcluster.apiserver.resources import Registry, ResourceType, Subresource

pytestmark = pytest.mark.integration

KUBECTL = os.environ.get("KUBECTL", "/usr/bin/kubectl")
VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "59526cd4867447956156ae3a602fcbac5eec6ff4",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:00:00Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  strategy:
    type: RollingUpdate
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
"""


CRONTAB_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "description": "CronTabSpec is what the cron job should do.",
            "properties": {
                "cronSpec": {"type": "string", "description": "The cron schedule."},
                "image": {"type": "string"},
                "replicas": {"type": "integer"},
            },
        }
    },
}

CRONTAB = """\
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: tab
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
  bogus: 1
"""


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    accept: str
    body: bytes


@dataclass
class FakeAPI:
    """Discovery + OpenAPI + a dict of objects; POST/PUT bodies go through fieldvalidation."""

    registry: Registry = field(default_factory=Registry)
    requests: list[Recorded] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    rv: int = 100

    def __post_init__(self) -> None:
        self.discovery = Discovery(self.registry, "127.0.0.1:443")
        self.openapi = OpenAPI(self.registry)
        # A custom resource, as the CRD controller would publish it.
        self.registry.add(
            ResourceType(
                "stable.example.com",
                "v1",
                "crontabs",
                "crontab",
                "CronTab",
                True,
                ("ct",),
                subresources=(Subresource("status", ("get", "patch", "update")),),
            )
        )
        self.openapi.set_schema("stable.example.com", "v1", "CronTab", CRONTAB_SCHEMA)

    def writes(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                request.headers.get("Content-Type", ""),
                request.headers.get("Accept", ""),
                body,
            )
        )
        try:
            return self.route(request, body)
        except StatusError as e:
            return web.Response(status=e.code, body=e.body(), content_type="application/json")

    def route(self, request: web.Request, body: bytes) -> web.StreamResponse:
        path = request.path
        if path == "/version":
            return web.json_response(VERSION)
        if path.startswith("/openapi/"):
            status, headers, payload = self.openapi.handle(
                path, request.query, request.headers.get("Accept"), request.headers.get("If-None-Match")
            )
            return web.Response(status=status, headers=headers, body=payload)
        if path in ("/api", "/apis"):
            agg = wants_aggregated(request.headers.get("Accept"))
            core = path == "/api"
            if agg:
                doc, _ = self.discovery.aggregated(core, agg)
                ct = f"application/json;g=apidiscovery.k8s.io;v={agg};as=APIGroupDiscoveryList"
            else:
                doc, _ = self.discovery.api_versions() if core else self.discovery.api_groups()
                ct = "application/json"
            return web.Response(body=doc, headers={"Content-Type": ct})
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) == 2:
            return self.doc(self.discovery.resource_list("", parts[1]))
        if parts[:1] == ["apis"] and len(parts) == 2:
            return self.doc(self.discovery.api_group(parts[1]))
        if parts[:1] == ["apis"] and len(parts) == 3:
            return self.doc(self.discovery.resource_list(parts[1], parts[2]))
        info = parse_resource_path(path, request.method, request.query)
        if info is None:
            raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
        rt = self.registry.get(info.group, info.version, info.resource)
        assert rt is not None, path
        key = f"{info.group}/{info.version}/{info.namespace}/{info.resource}"
        mode = request.query.get("fieldValidation")
        ctype = request.headers.get("Content-Type", "").split(";")[0]
        if info.verb in ("create", "update"):
            obj = json.loads(body)
            if rt.group == "stable.example.com":  # custom resource: untyped duplicates + pruning
                pruned = fv.structural_unknown_fields(obj, CRONTAB_SCHEMA)
                problems = fv.duplicate_field_problems(body) + [
                    f"unknown field {fv.go_quote(p)}" for p in pruned
                ]
            else:
                problems = fv.strict_problems(body, ctype, rt.group, rt.version, rt.kind, obj)
            options = "CreateOptions" if info.verb == "create" else "UpdateOptions"
            warnings = fv.apply_field_validation(mode, rt.kind, rt.version, problems, options_kind=options)
            name = obj["metadata"]["name"]
            meta = obj["metadata"]
            old = self.objects.get(f"{key}/{name}")
            meta.setdefault("namespace", info.namespace)
            meta["uid"] = old["metadata"]["uid"] if old else str(uuid.uuid4())
            meta["creationTimestamp"] = "2025-01-01T00:00:00Z"
            self.rv += 1
            meta["resourceVersion"] = str(self.rv)
            self.objects[f"{key}/{name}"] = obj
            headers = [("Warning", fv.warning_header(w)) for w in warnings]
            return web.Response(
                status=201 if info.verb == "create" else 200,
                body=json.dumps(obj).encode(),
                headers=[("Content-Type", "application/json"), *headers],
            )
        current = self.objects.get(f"{key}/{info.name}")
        if current is None:
            raise StatusError(
                404,
                "NotFound",
                f'{rt.plural}.{rt.group} "{info.name}" not found'
                if rt.group
                else f'{rt.plural} "{info.name}" not found',
                {"name": info.name, "group": rt.group, "kind": rt.plural},
            )
        if info.verb == "patch":
            patched = _merge(json.loads(json.dumps(current)), json.loads(body))
            if request.query.get("dryRun") != "All":
                self.rv += 1
                patched["metadata"]["resourceVersion"] = str(self.rv)
                self.objects[f"{key}/{info.name}"] = patched
            return web.json_response(patched)
        return web.json_response(current)

    @staticmethod
    def doc(d: tuple[bytes, str] | None) -> web.Response:
        if d is None:
            raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
        return web.Response(body=d[0], content_type="application/json")


def _merge(target: Any, patch: Any) -> Any:
    """JSON merge patch, skipping strategic-merge directives (enough for these tests)."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            target.pop(k, None)
        elif isinstance(v, list):
            target[k] = [_merge({}, x) if isinstance(x, dict) else x for x in v]
        else:
            target[k] = _merge(target.get(k), v)
    return target


@dataclass
class Env:
    api: FakeAPI
    kubeconfig: Path
    cache: Path
    tmp: Path

    def kubectl(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **(env or {})},
        )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    if not shutil.which(KUBECTL):
        pytest.skip("kubectl not installed")
    tmp = tmp_path_factory.mktemp("openapi-kubectl")
    pki = ensure_pki(tmp / "pki", ["127.0.0.1"])
    api = FakeAPI()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner_box: list[web.AppRunner] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", r"/{tail:[\s\S]*}", api.handle)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, sock, ssl_context=server_ssl_context(pki)).start())
        runner_box.append(runner)
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    kubeconfig = tmp / "kubeconfig"
    ca = base64.b64encode(pki.ca_pem).decode()
    kubeconfig.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority-data: {ca}
users:
- name: u
  user:
    token: test-token
contexts:
- name: x
  context: {{cluster: c, user: u, namespace: default}}
current-context: x
"""
    )
    yield Env(api, kubeconfig, tmp / "cache", tmp)
    asyncio.run_coroutine_threadsafe(runner_box[0].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _write(env: Env, name: str, text: str) -> str:
    p = env.tmp / name
    p.write_text(text)
    return str(p)


def test_create_with_validation(env: Env) -> None:
    """`kubectl create -f` fetches /openapi/v3 and the apps/v1 document, finds fieldValidation on the
    Deployment PATCH operation, and sends the object with fieldValidation=Strict (contract §3.2)."""
    env.api.requests.clear()
    p = env.kubectl("create", "-f", _write(env, "d1.yaml", DEPLOYMENT.format(replicas=2)))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "deployment.apps/web created"
    assert p.stderr == ""
    paths = [r.path for r in env.api.requests if r.method == "GET"]
    assert "/openapi/v3" in paths
    assert "/openapi/v3/apis/apps/v1" in paths
    doc_req = next(r for r in env.api.requests if r.path == "/openapi/v3/apis/apps/v1")
    assert doc_req.query.get("hash")  # the index's serverRelativeURL was followed
    (post,) = env.api.writes("POST")
    assert post.path == "/apis/apps/v1/namespaces/default/deployments"
    assert post.query["fieldValidation"] == "Strict"
    assert post.query["fieldManager"] == "kubectl-create"


def test_create_unknown_field_is_rejected_by_the_server(env: Env) -> None:
    """kubectl does not check the schema itself when the server supports fieldValidation: the
    unknown field reaches the server, whose Strict decoding rejects it with upstream's text."""
    env.api.requests.clear()
    manifest = DEPLOYMENT.format(replicas=1).replace("name: web\n", "name: web2\n", 1)
    manifest = manifest.replace("  strategy:\n", "  foo: bar\n  strategy:\n")
    p = env.kubectl("create", "-f", _write(env, "d2.yaml", manifest))
    assert p.returncode == 1
    (post,) = env.api.writes("POST")
    assert post.query["fieldValidation"] == "Strict"
    assert json.loads(post.body)["spec"]["foo"] == "bar"
    assert (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.foo"' in p.stderr
    )
    # --validate=warn: the server answers with a Warning header, kubectl prints it.
    p = env.kubectl("create", "--validate=warn", "-f", _write(env, "d2.yaml", manifest))
    assert p.returncode == 0, p.stderr
    assert 'Warning: unknown field "spec.foo"' in p.stderr


def test_apply_twice_uses_openapi_v3_patch_schema(env: Env) -> None:
    """Client-side apply of an existing object computes its strategic merge patch from the v3
    schemas (no fallback warning) and sends it with fieldValidation=Strict."""
    f = _write(env, "d3.yaml", DEPLOYMENT.format(replicas=2).replace("name: web\n", "name: web3\n", 1))
    p = env.kubectl("apply", "-f", f)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "deployment.apps/web3 created"
    env.api.requests.clear()
    f = _write(env, "d3.yaml", DEPLOYMENT.format(replicas=3).replace("name: web\n", "name: web3\n", 1))
    p = env.kubectl("apply", "-f", f)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""  # no "warning: error calculating patch from openapi v3 spec"
    assert p.stdout.strip() == "deployment.apps/web3 configured"
    (patch,) = env.api.writes("PATCH")
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.query["fieldValidation"] == "Strict"
    sent = json.loads(patch.body)
    assert sent["spec"]["replicas"] == 3
    assert "kubectl.kubernetes.io/last-applied-configuration" in sent["metadata"]["annotations"]
    assert not any(r.path == "/openapi/v2" for r in env.api.requests)


def test_replace_and_diff(env: Env) -> None:
    f = _write(env, "d4.yaml", DEPLOYMENT.format(replicas=4))
    env.api.requests.clear()
    p = env.kubectl("replace", "-f", f)
    assert p.returncode == 0, p.stderr
    (put,) = env.api.writes("PUT")
    assert put.query["fieldValidation"] == "Strict"
    assert put.query["fieldManager"] == "kubectl-replace"
    env.api.requests.clear()
    p = env.kubectl("diff", "-f", _write(env, "d5.yaml", DEPLOYMENT.format(replicas=5)))
    assert p.returncode in (0, 1), p.stderr  # 1: differences found
    assert "error" not in p.stderr.lower(), p.stderr
    (patch,) = env.api.writes("PATCH")
    assert patch.query.get("dryRun") == "All"


def test_edit(env: Env) -> None:
    editor = env.tmp / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 4/replicas: 6/' \"$1\"\n")
    editor.chmod(0o755)
    env.api.requests.clear()
    p = env.kubectl("edit", "deployment/web", env={"KUBE_EDITOR": str(editor), "EDITOR": str(editor)})
    assert p.returncode == 0, p.stderr
    assert "deployment.apps/web edited" in p.stdout
    (patch,) = env.api.writes("PATCH")
    assert patch.query["fieldValidation"] == "Strict"
    assert patch.query["fieldManager"] == "kubectl-edit"
    assert json.loads(patch.body)["spec"]["replicas"] == 6


def test_explain_field(env: Env) -> None:
    """`kubectl explain` renders our v3 schemas: GVK, descriptions, types of the fields."""
    p = env.kubectl("explain", "deployment.spec.strategy")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "GROUP:      apps" in out
    assert "KIND:       Deployment" in out
    assert "VERSION:    v1" in out
    assert "FIELD: strategy <DeploymentStrategy>" in out
    assert "The deployment strategy to use to replace existing pods with new ones." in out
    assert "rollingUpdate\t<RollingUpdateDeployment>" in out
    assert "type\t<string>" in out
    p = env.kubectl("explain", "deployment.spec.strategy.rollingUpdate.maxSurge")
    assert p.returncode == 0, p.stderr
    assert "FIELD: maxSurge <IntOrString>" in p.stdout


def test_explain_recursive(env: Env) -> None:
    p = env.kubectl("explain", "pods.spec.containers", "--recursive")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    head = "\n".join(lines[:12])
    assert "KIND:       Pod" in head
    assert "FIELD: containers <[]Container>" in head
    assert "A single application container that you want to run within a pod." in p.stdout
    assert "  args\t<[]string>" in p.stdout
    assert "  resources\t<ResourceRequirements>" in p.stdout
    assert "    limits\t<map[string]Quantity>" in p.stdout
    p = env.kubectl("explain", "configmaps")
    assert p.returncode == 0, p.stderr
    assert "ConfigMap holds configuration data for pods to consume." in p.stdout


def test_openapi_v2_protobuf_is_not_acceptable(env: Env) -> None:
    """kubectl's v2 request (protobuf only) gets 406; explain's v2 output mode then fails cleanly."""
    p = env.kubectl("explain", "deployment", "--output=plaintext-openapiv2")
    v2 = [r for r in env.api.requests if r.path == "/openapi/v2"]
    assert v2 and "protobuf" in v2[-1].accept
    assert p.returncode != 0


def test_custom_resource(env: Env) -> None:
    """A custom resource's schema (set_schema) is in OpenAPI: explain shows it, and create -f sends
    fieldValidation=Strict so the server's pruning reports the unknown field."""
    p = env.kubectl("explain", "crontabs.spec")
    assert p.returncode == 0, p.stderr
    assert "GROUP:      stable.example.com" in p.stdout
    assert "CronTabSpec is what the cron job should do." in p.stdout
    assert "cronSpec\t<string>" in p.stdout
    assert "The cron schedule." in p.stdout
    env.api.requests.clear()
    p = env.kubectl("create", "-f", _write(env, "ct.yaml", CRONTAB))
    assert p.returncode == 1
    (post,) = env.api.writes("POST")
    assert post.path == "/apis/stable.example.com/v1/namespaces/default/crontabs"
    assert post.query["fieldValidation"] == "Strict"
    assert (
        'CronTab in version "v1" cannot be handled as a CronTab: strict decoding error: '
        'unknown field "spec.bogus"' in p.stderr
    )
    p = env.kubectl("create", "-f", _write(env, "ct.yaml", CRONTAB.replace("  bogus: 1\n", "")))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "crontab.stable.example.com/tab created"
