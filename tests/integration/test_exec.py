"""`kubectl exec` and `kubectl attach` end to end: against `vcluster host` directly (API server →
simulated kubelet, commands run as local processes) and through `vcluster start` (virtual API
server → syncer relay → host API server → kubelet), with the real kubectl 1.32 (WebSocket
`v5.channel.k8s.io`, SPDY fallback) and raw WebSocket clients for the other protocol versions.
One host + virtual cluster pair for the module; authorization runs against an in-process server
whose authorizer enforces the bootstrap RBAC policy."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .conftest import Kubectl, Server, attach_echoes
from .httpclient import Client as HTTPClient
from .strict_server import StrictServer, intruder_token
from .syncer_harness import Pair, pair_fixture, pod_running, virtual_namespace, wait_until

pytestmark = pytest.mark.integration

pair = pair_fixture()

RUNNER = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: nginx
    stdin: true
    env:
    - name: GREETING
      value: hello-from-the-spec
    - name: DERIVED
      value: $(GREETING)-derived
"""

DUO = """\
apiVersion: v1
kind: Pod
metadata:
  name: duo
  namespace: {ns}
  annotations:
    kubectl.kubernetes.io/default-container: b
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: a
    image: app:1
    env: [{{name: WHO, value: container-a}}]
  - name: b
    image: app:1
    env: [{{name: WHO, value: container-b}}]
"""


def _running_pod(k: Kubectl, manifest: str, name: str, ns: str) -> None:
    k.apply(manifest)
    wait_until(lambda: pod_running(k, name, ns), 30, what=f"pod {ns}/{name} Running")


@pytest.fixture(scope="module")
def host_ns(pair: Pair) -> str:
    """A host namespace with a running pod `runner` (exec straight against `vcluster host`)."""
    ns = virtual_namespace(pair.kh, "exec-direct")
    _running_pod(pair.kh, RUNNER.format(name="runner", ns=ns), "runner", ns)
    return ns


@pytest.fixture(scope="module")
def virtual_ns(pair: Pair) -> str:
    """A virtual namespace with a running synced pod `runner` and the two-container pod `duo`."""
    ns = virtual_namespace(pair.kv, "exec-virtual")
    _running_pod(pair.kv, RUNNER.format(name="runner", ns=ns), "runner", ns)
    _running_pod(pair.kv, DUO.format(ns=ns), "duo", ns)
    return ns


# ---------------------------------------------------------------------------------------------- helpers
def _exec(k: Kubectl, ns: str, *args: str, input: str | None = None, env: dict[str, str] | None = None):
    cmd = [*k.base(), "-n", ns, "exec", *args]
    return subprocess.run(
        cmd, input=input, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def _check_exec_basics(k: Kubectl, ns: str, hostname: str) -> None:
    """stdout, stderr and the exit code; stdin; the container's environment."""
    p = _exec(k, ns, "runner", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert p.returncode == 3, p.stderr
    assert p.stdout == "out\n"
    assert p.stderr.splitlines() == ["err", "command terminated with exit code 3"]
    p = _exec(k, ns, "-i", "runner", "--", "cat", input="line one\nline two\n")
    assert (p.returncode, p.stdout) == (0, "line one\nline two\n"), p.stderr
    p = _exec(k, ns, "runner", "--", "sh", "-c", 'echo "$GREETING|$DERIVED|$HOSTNAME"')
    assert p.stdout == f"hello-from-the-spec|hello-from-the-spec-derived|{hostname}\n", p.stderr
    p = _exec(k, ns, "runner", "--", "no-such-command", "arg")
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.startswith("error: Internal error occurred: error executing command in container: ")
    assert 'exec: "no-such-command": executable file not found in $PATH: unknown' in p.stderr
    # kubectl retries with SPDY when the WebSocket upgrade is refused; a client that only speaks
    # SPDY is told so, after the same checks a WebSocket request gets
    spdy = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    p = _exec(k, ns, "runner", "--", "true", env=spdy)
    assert p.returncode == 1 and "SPDY/3.1 is not supported" in p.stderr, p.stderr
    p = _exec(k, ns, "runner", "-c", "bad", "--", "true", env=spdy)
    assert "Error from server (BadRequest): container bad is not valid for pod runner" in p.stderr


def _attach_echo_and_log(k: Kubectl, ns: str, want_log_line: bool) -> None:
    """`kubectl attach -i`: stdin comes back and the container's log lines arrive as they are
    generated (nginx access-log lines, one every 5 s by default)."""
    log_line = (lambda line: '"GET /' in line and "HTTP/1.1" in line) if want_log_line else None
    attach_echoes(k, ns, "runner", "ping from stdin", then=log_line)


# ---------------------------------------------------------------------------------------------- host
def test_kubectl_exec_on_the_host(pair: Pair, host_ns: str) -> None:
    _check_exec_basics(pair.kh, host_ns, hostname="runner")


def test_the_kubelet_only_serves_the_api_server(pair: Pair, host_ns: str) -> None:
    """The simulated kubelet runs exec'd commands as local processes, so like a kubelet with
    anonymous auth off it wants a client certificate of the cluster CA (the API server presents
    apiserver-kubelet-client.crt): anything else on this machine is refused before it runs."""
    node = json.loads(pair.kh("get", "nodes", "-o", "json"))["items"][0]
    ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    base = f"https://{ip}:{node['status']['daemonEndpoints']['kubeletEndpoint']['Port']}"
    run = f"/exec/{host_ns}/runner/main?command=touch&command=/tmp/pwned-by-test&output=1"

    def get(path: str, cert: Path | None = None, key: Path | None = None) -> tuple[int, str]:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        if cert is not None:
            ctx.load_cert_chain(str(cert), str(key))
        try:
            with urllib.request.urlopen(base + path, context=ctx, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    assert get("/healthz") == (200, "ok")
    for path in (run, f"/containerLogs/{host_ns}/runner/main", "/pods"):
        assert get(path) == (401, "Unauthorized"), path
    # a certificate from another CA does not get through the handshake
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver-kubelet-client")])
    now = dt.datetime.now(dt.UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    d = Path(pair.host.data_dir).parent / "forged"
    d.mkdir(exist_ok=True)
    (d / "c.crt").write_bytes(forged.public_bytes(serialization.Encoding.PEM))
    (d / "c.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionResetError)):
        get("/pods", d / "c.crt", d / "c.key")
    # the API server's own kubelet client certificate is accepted
    pki = Path(pair.host.data_dir) / "pki"
    status, body = get("/pods", pki / "apiserver-kubelet-client.crt", pki / "apiserver-kubelet-client.key")
    assert status == 200 and '"PodList"' in body


def test_kubectl_attach_on_the_host(pair: Pair, host_ns: str) -> None:
    _attach_echo_and_log(pair.kh, host_ns, want_log_line=True)


async def _ws(
    server: Server, path: str, protocol: str, send: list[bytes | str] = ()
) -> tuple[str | None, dict[int, bytes], int | None]:
    """A raw WebSocket session: (negotiated protocol, data per channel, close code). Frames are
    decoded here, independently of the code under test."""
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    out: dict[int, bytes] = {}
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(
            server.url + path,
            protocols=[protocol],
            headers={"Authorization": f"Bearer {server.token}"},
            ssl=ctx,
        ) as ws,
    ):
        for m in send:
            await (ws.send_str(m) if isinstance(m, str) else ws.send_bytes(m))
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                ch, data = int(msg.data[0]), base64.b64decode(msg.data[1:])
            else:
                ch, data = msg.data[0], msg.data[1:]
            out[ch] = out.get(ch, b"") + data
        return ws.protocol, out, ws.close_code


def test_other_protocol_versions_and_a_terminal(pair: Pair, host_ns: str) -> None:
    base = f"/api/v1/namespaces/{host_ns}/pods/runner/exec?container=main&"
    script = "printf out; printf err >&2; exit 7"
    q = urlencode([("command", "sh"), ("command", "-c"), ("command", script), ("stdout", 1), ("stderr", 1)])
    proto, out, code = asyncio.run(_ws(pair.host, base + q, "v4.channel.k8s.io"))
    assert (proto, code) == ("v4.channel.k8s.io", 1000)
    assert out[1] == b"out" and out[2] == b"err"
    assert json.loads(out[3]) == {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command [sh -c {script}], "
        "exit code 7",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "7"}]},
    }
    # base64 text frames, stdin without a close signal (v4): the command stops reading by itself
    frame = "0" + base64.b64encode(b"abcdef").decode()
    proto, out, code = asyncio.run(
        _ws(
            pair.host, base + "command=head&command=-c3&stdin=1&stdout=1", "v4.base64.channel.k8s.io", [frame]
        )
    )
    assert (proto, out[1], json.loads(out[3])) == (
        "v4.base64.channel.k8s.io",
        b"abc",
        {"metadata": {}, "status": "Success"},
    )
    # the oldest protocol: no status on success
    proto, out, _ = asyncio.run(_ws(pair.host, base + "command=true&stdout=1", "channel.k8s.io"))
    assert proto == "channel.k8s.io" and out.get(3, b"") == b""
    # a terminal (stdin, stdout; stderr goes to the terminal too), resized by the client
    command = [("command", "sh"), ("command", "-c"), ("command", "test -t 0 && echo tty $TERM; stty size")]
    q = urlencode([*command, ("stdin", 1), ("stdout", 1), ("tty", 1)])
    resize = b"\x04" + json.dumps({"Width": 100, "Height": 30}).encode()
    proto, out, _ = asyncio.run(_ws(pair.host, base + q, "v5.channel.k8s.io", [resize]))
    text = out[1].decode()
    assert "tty xterm" in text, text
    assert json.loads(out[3])["status"] == "Success"


# ---------------------------------------------------------------------------------------------- virtual
def test_kubectl_exec_in_the_virtual_cluster(pair: Pair, virtual_ns: str) -> None:
    # the host pod's hostname is the virtual pod's name
    _check_exec_basics(pair.kv, virtual_ns, hostname="runner")


def test_kubectl_attach_in_the_virtual_cluster(pair: Pair, virtual_ns: str) -> None:
    _attach_echo_and_log(pair.kv, virtual_ns, want_log_line=False)


def test_exec_errors_in_the_virtual_cluster(pair: Pair, virtual_ns: str) -> None:
    k, ns = pair.kv, virtual_ns
    missing = _exec(k, ns, "nope", "--", "true")
    assert missing.returncode == 1 and 'Error from server (NotFound): pods "nope" not found' in missing.stderr
    assert "-x-" not in missing.stderr
    bad = _exec(k, ns, "runner", "-c", "bad", "--", "true")
    assert bad.returncode == 1
    assert "Error from server (BadRequest): container bad is not valid for pod runner" in bad.stderr
    # kubectl picks the container named by kubectl.kubernetes.io/default-container itself
    p = _exec(k, ns, "duo", "--", "sh", "-c", "echo $WHO")
    assert (p.returncode, p.stdout) == (0, "container-b\n"), p.stderr
    p = _exec(k, ns, "duo", "-c", "a", "--", "sh", "-c", "echo $WHO")
    assert p.stdout == "container-a\n", p.stderr
    # the API server does not: without a container it answers as kube-apiserver does
    http = HTTPClient(pair.vc.url, pair.vc.ca_file, pair.vc.token)
    try:
        r = http.call("POST", f"/api/v1/namespaces/{ns}/pods/duo/exec?command=true&stdout=true")
        assert r.status == 400 and r.body["reason"] == "BadRequest"
        assert r.body["message"] == "a container name must be specified for pod duo, choose one of: [a b]"
        r = http.call("POST", f"/api/v1/namespaces/{ns}/pods/nope/exec?command=true&stdout=true")
        assert r.status == 404 and r.body["message"] == 'pods "nope" not found'
        assert r.body["details"] == {"name": "nope", "kind": "pods"}
        r = http.call("POST", f"/api/v1/namespaces/{ns}/pods/runner/attach?stdout=1&container=nope")
        assert r.status == 400 and r.body["message"] == "container nope is not valid for pod runner"
        r = http.call("POST", f"/api/v1/namespaces/{ns}/pods/runner/exec?stdout=1")
        assert r.status == 400
        assert r.body["message"] == "you must specify at least one command for the container"
        r = http.call("POST", f"/api/v1/namespaces/{ns}/pods/runner/exec?command=true&stdin=false")
        assert r.status == 400 and r.body["message"] == "you must specify at least 1 of stdin, stdout, stderr"
        # a plain (non-upgrade) request passes every check down to the kubelet, and runs nothing
        r = http.call("POST", f"/api/v1/namespaces/{ns}/pods/runner/exec?command=true&stdout=true")
        assert (r.status, r.body["message"]) == (400, "Upgrade request required")
    finally:
        http.close()


# ---------------------------------------------------------------------------------------------- authorization
def test_exec_and_attach_need_create_on_the_subresource(tmp_path: Path) -> None:
    st = StrictServer(tmp_path / "strict").start()
    try:
        k = Kubectl(Server(tmp_path / "strict"), tmp_path / "kcache")
        token = intruder_token(k)
        for sub, args in (("exec", ["exec", "target", "--", "true"]), ("attach", ["attach", "target"])):
            p = k.run("--token", token, *args, check=False)
            assert p.returncode == 1
            assert (
                'Error from server (Forbidden): pods "target" is forbidden: User '
                f'"system:serviceaccount:default:intruder" cannot create resource "pods/{sub}" '
                'in API group "" in the namespace "default"'
            ) in p.stderr, p.stderr
        # the admin (system:masters) gets past authorization; the pod is not scheduled anywhere
        p = k.run("exec", "target", "--", "true", check=False)
        assert "Error from server (BadRequest): pod target does not have a host assigned" in p.stderr
        # a pod bound to a node that does not exist: the kubelet cannot be found
        k.apply(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: placed\nspec:\n  nodeName: ghost\n"
            "  containers:\n  - name: main\n    image: app:1\n"
        )
        p = k.run("exec", "placed", "--", "true", check=False)
        assert 'node "ghost" not found' in p.stderr, p.stderr
    finally:
        st.stop()


ENV_OBJECTS = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {ns}}}
data: {{MODE: production, LEVEL: debug}}
---
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {ns}}}
stringData: {{password: hunter2}}
---
apiVersion: v1
kind: Service
metadata: {{name: web-api, namespace: {ns}}}
spec:
  selector: {{app: nothing}}
  ports: [{{name: http, port: 8080}}]
"""

ENV_POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: envpod, namespace: {ns}, labels: {{tier: backend}}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: nginx
    resources: {{limits: {{memory: 64Mi}}, requests: {{cpu: 250m}}}}
    envFrom:
    - {{configMapRef: {{name: settings}}, prefix: CFG_}}
    - {{secretRef: {{name: creds}}}}
    env:
    - {{name: LEVEL, valueFrom: {{configMapKeyRef: {{name: settings, key: LEVEL}}}}}}
    - {{name: DB_PASSWORD, valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}}}
    - {{name: MY_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    - {{name: MY_NAMESPACE, valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}}}
    - {{name: MY_NODE, valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}}}
    - {{name: MY_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
    - {{name: TIER, valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['tier']"}}}}}}
    - {{name: MEM_MI, valueFrom: {{resourceFieldRef: {{resource: limits.memory, divisor: 1Mi}}}}}}
    - {{name: CPU_M, valueFrom: {{resourceFieldRef: {{resource: requests.cpu, divisor: 1m}}}}}}
    - {{name: URL, value: "http://$(WEB_API_SERVICE_HOST):$(WEB_API_SERVICE_PORT_HTTP)/$(MY_NAME)"}}
"""


def test_exec_sees_the_environment_the_kubelet_builds(pair: Pair) -> None:
    """ConfigMap and Secret values, the downward API and service variables reach an exec'd command
    of a synced pod: the syncer rewrote every reference to host names and annotations, and the
    simulated kubelet resolves them on the host as the kubelet would. The values are the virtual
    ones (the pod's own name and namespace, the virtual service's ClusterIP)."""
    k = pair.kv
    ns = virtual_namespace(k, "exec-env")
    k.apply(ENV_OBJECTS.format(ns=ns))  # the service first: its variables are set at pod creation
    _running_pod(k, ENV_POD.format(ns=ns), "envpod", ns)
    p = _exec(k, ns, "envpod", "--", "env")
    assert p.returncode == 0, p.stderr
    env = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    pod = k.get_json("pod", "envpod", "-n", ns)
    cluster_ip = k("get", "service", "web-api", "-n", ns, "-o", "jsonpath={.spec.clusterIP}")
    assert {key: env.get(key) for key in (
        "CFG_MODE", "CFG_LEVEL", "password", "LEVEL", "DB_PASSWORD", "MY_NAME", "MY_NAMESPACE",
        "MY_NODE", "MY_IP", "TIER", "MEM_MI", "CPU_M", "URL", "WEB_API_SERVICE_HOST",
    )} == {
        "CFG_MODE": "production", "CFG_LEVEL": "debug", "password": "hunter2", "LEVEL": "debug",
        "DB_PASSWORD": "hunter2", "MY_NAME": "envpod", "MY_NAMESPACE": ns,
        "MY_NODE": pod["spec"]["nodeName"], "MY_IP": pod["status"]["podIP"], "TIER": "backend",
        "MEM_MI": "64", "CPU_M": "250", "URL": f"http://{cluster_ip}:8080/envpod",
        "WEB_API_SERVICE_HOST": cluster_ip,
    }  # fmt: skip
    assert env["KUBERNETES_SERVICE_PORT"] == "443" and env["KUBERNETES_SERVICE_HOST"]
