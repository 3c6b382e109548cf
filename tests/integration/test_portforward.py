"""`kubectl port-forward` end to end: against `vcluster host` directly (API server → simulated
kubelet, which connects to 127.0.0.1:<port> of this machine) and through `vcluster start` (virtual
API server → syncer relay → host API server → kubelet), with the real kubectl 1.32 (SPDY/3.1
tunnelled in WebSocket; `KUBECTL_PORT_FORWARD_WEBSOCKETS=false` for its plain-SPDY fallback). The
"pods' ports" are TCP servers this test starts on free local ports. One host + virtual cluster
pair for the module."""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import socketserver
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import Kubectl, Server
from .httpclient import Client as HTTPClient
from .strict_server import StrictServer, intruder_token
from .syncer_harness import (
    Pair,
    get_json,
    pair_fixture,
    pod_manifest,
    pod_running,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture()

FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")
MB2 = 2 * 1024 * 1024


# ---------------------------------------------------------------------------------------------- local servers
class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        transform: Callable[[bytes], bytes] = self.server.transform  # type: ignore[attr-defined]
        while data := self.request.recv(65536):
            self.request.sendall(transform(data))


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, transform: Callable[[bytes], bytes]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.transform = transform

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[int, int]]:
    """Two local TCP servers, (echo port, upper-casing echo port): the pods' ports."""
    started = [_TCPServer(lambda b: b), _TCPServer(bytes.upper)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in started]
    for t in threads:
        t.start()
    try:
        yield started[0].port, started[1].port
    finally:
        for s in started:
            s.shutdown()
            s.server_close()


def _closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------- kubectl
class PortForward:
    """`kubectl port-forward` running in the background; stdout and stderr collected as lines."""

    def __init__(self, k: Kubectl, ns: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [*k.base(), "-n", ns, "port-forward", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr, False), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump(self, f: object, lines: list[str], notify: bool) -> None:
        for line in f:  # type: ignore[attr-defined]
            lines.append(line.rstrip("\n"))
            if notify:
                self.out.put(line)

    def local_ports(self, count: int = 1, timeout: float = 20.0) -> dict[int, int]:
        """remote port → local port, from kubectl's "Forwarding from 127.0.0.1:L -> R" lines."""
        found: dict[int, int] = {}
        deadline = time.monotonic() + timeout
        while len(found) < count:
            try:
                line = self.out.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(
                    f"kubectl did not start forwarding: {self.stdout} {self.stderr}"
                ) from None
            if m := FORWARDING.search(line):
                found[int(m.group(2))] = int(m.group(1))
        return found

    def wait_stderr(self, pred: Callable[[str], bool], timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.stderr):
                if pred(line):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no matching stderr line: {self.stderr}")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        for t in self._threads:
            t.join(5)
        return self.proc.returncode


def _roundtrip(port: int, payload: bytes, timeout: float = 30.0) -> bytes:
    """Send `payload` to 127.0.0.1:port while reading as many bytes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        sender = threading.Thread(target=s.sendall, args=(payload,), daemon=True)
        sender.start()
        got = bytearray()
        while len(got) < len(payload):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        sender.join(timeout)
        return bytes(got)


def _check_forwarding(k: Kubectl, ns: str, servers: tuple[int, int]) -> None:
    """Two ports in one session; small and 2 MB payloads; two concurrent connections."""
    echo, upper = servers
    pf = PortForward(k, ns, "pod/runner", f":{echo}", f":{upper}")
    try:
        local = pf.local_ports(2)
        assert _roundtrip(local[echo], b"hello through the tunnel\n") == b"hello through the tunnel\n"
        assert _roundtrip(local[upper], b"shout\n") == b"SHOUT\n"
        big = os.urandom(MB2)
        assert _roundtrip(local[echo], big) == big
        results: dict[str, bytes] = {}
        payloads = {"a": os.urandom(MB2 // 2), "b": b"second connection " * 20000}

        def run(key: str, port: int) -> None:
            results[key] = _roundtrip(port, payloads[key])

        threads = [
            threading.Thread(target=run, args=("a", local[echo])),
            threading.Thread(target=run, args=("b", local[upper])),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert results["a"] == payloads["a"]
        assert results["b"] == payloads["b"].upper()
        assert pf.proc.poll() is None
    finally:
        pf.stop()
    assert not any("error" in line.lower() for line in pf.stderr), pf.stderr


def _check_nothing_listening(k: Kubectl, ns: str, sandbox_hint: str = "") -> None:
    """The kubelet reports the refused connection on the error stream: kubectl closes the local
    connection, logs the error and, as client-go 1.32 does on an error message, closes the SPDY
    connection and exits ("lost connection to pod")."""
    closed = _closed_port()
    pf = PortForward(k, ns, "pod/runner", f":{closed}")
    try:
        local = pf.local_ports()[closed]
        with socket.create_connection(("127.0.0.1", local), timeout=10) as s:
            s.sendall(b"anyone there?")
            assert s.recv(100) == b""  # closed without an answer
        line = pf.wait_stderr(lambda line: "error forwarding port" in line)
        assert f"an error occurred forwarding {local} -> {closed}" in line, line
        assert re.search(
            rf"error forwarding port {closed} to pod [0-9a-f]{{64}}, uid : failed to execute portforward in "
            rf'network namespace \\?"/var/run/netns/cni-[0-9a-f-]{{36}}\\?": failed to connect to '
            rf'localhost:{closed} inside namespace \\?"[0-9a-f]{{64}}\\?", IPv4: dial tcp4 '
            rf"127\.0\.0\.1:{closed}: connect: connection refused IPv6 dial tcp6 \[::1\]:{closed}: connect: ",
            line,
        ), line
        assert pf.proc.wait(10) == 1
    finally:
        pf.stop()
    assert pf.stderr[-1] == "error: lost connection to pod", pf.stderr


# ---------------------------------------------------------------------------------------------- fixtures
def _running_pod(k: Kubectl, ns: str, name: str = "runner", spec_extra: str = "") -> None:
    k.apply(pod_manifest(name, ns, spec_extra=spec_extra))
    wait_until(lambda: pod_running(k, name, ns), 30, what=f"pod {ns}/{name} Running")


@pytest.fixture(scope="module")
def host_ns(pair: Pair) -> str:
    """A host namespace with a running pod `runner`, and `done`, which finishes after the
    simulator's 10 s run time (created now so that it has when `test_errors_on_the_host` runs)."""
    ns = virtual_namespace(pair.kh, "pf-direct")
    pair.kh.apply(pod_manifest("done", ns, spec_extra="  restartPolicy: Never\n"))
    _running_pod(pair.kh, ns)
    return ns


@pytest.fixture(scope="module")
def virtual_ns(pair: Pair) -> str:
    ns = virtual_namespace(pair.kv, "pf-virtual")
    _running_pod(pair.kv, ns)
    return ns


# ---------------------------------------------------------------------------------------------- tests
def test_port_forward_on_the_host(pair: Pair, host_ns: str, servers: tuple[int, int]) -> None:
    _check_forwarding(pair.kh, host_ns, servers)


def test_port_forward_in_the_virtual_cluster(pair: Pair, virtual_ns: str, servers: tuple[int, int]) -> None:
    _check_forwarding(pair.kv, virtual_ns, servers)


def test_nothing_listening_on_the_host(pair: Pair, host_ns: str) -> None:
    _check_nothing_listening(pair.kh, host_ns)


def test_nothing_listening_in_the_virtual_cluster(pair: Pair, virtual_ns: str) -> None:
    _check_nothing_listening(pair.kv, virtual_ns)


def test_errors_in_the_virtual_cluster(pair: Pair, virtual_ns: str) -> None:
    k, ns = pair.kv, virtual_ns
    p = k.run("-n", ns, "port-forward", "pod/nope", ":80", check=False, timeout=30)
    assert p.returncode == 1 and 'Error from server (NotFound): pods "nope" not found' in p.stderr, p.stderr
    # the API server's own answer (kubectl asks for the pod first): the virtual pod's name
    http = HTTPClient(pair.vc.url, pair.vc.ca_file, pair.vc.token)
    try:
        r = http.call("POST", f"/api/v1/namespaces/{ns}/pods/nope/portforward?ports=80")
        assert r.status == 404 and r.body["message"] == 'pods "nope" not found', r.body
        assert r.body["details"] == {"name": "nope", "kind": "pods"}
        assert "-x-" not in json.dumps(r.body)
        # a plain (non-upgrade) request passes every check down to the kubelet, and forwards nothing
        r = http.call("POST", f"/api/v1/namespaces/{ns}/pods/runner/portforward?ports=80")
        assert (r.status, r.body["message"]) == (400, "Upgrade request required")
    finally:
        http.close()
    # kubectl falls back to a plain SPDY upgrade when told not to use WebSockets: refused clearly
    spdy = PortForward(k, ns, "pod/runner", ":80", env={"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"})
    try:
        assert spdy.proc.wait(30) == 1
    finally:
        spdy.stop()
    text = "\n".join(spdy.stderr)
    assert (
        "error: error upgrading connection: unable to upgrade connection: SPDY/3.1 is not supported; "
        "this server streams port-forward over WebSocket (SPDY/3.1+portforward.k8s.io)"
    ) in text, text


def test_errors_on_the_host(pair: Pair, host_ns: str) -> None:
    """A pod bound to no node; a pod whose sandbox is gone; the kubelet serves only the API server."""
    k, ns = pair.kh, host_ns
    k.apply(pod_manifest("nowhere", ns, spec_extra="  nodeSelector: {no-such-label: x}\n"))
    wait_until(
        lambda: (get_json(k, "pod", "done", "-n", ns) or {}).get("status", {}).get("phase") == "Succeeded", 20
    )
    http = HTTPClient(pair.host.url, pair.host.ca_file, pair.host.token)
    try:
        r = http.call("POST", f"/api/v1/namespaces/{ns}/pods/nowhere/portforward")
        assert (r.status, r.body["reason"]) == (400, "BadRequest")
        assert r.body["message"] == "pod nowhere does not have a host assigned"
        r = http.call("POST", f"/api/v1/namespaces/{ns}/pods/done/portforward")
        assert (r.status, r.body["reason"]) == (500, "InternalError")
        assert r.body["message"] == f'Internal error occurred: pod not found ("done_{ns}")'
    finally:
        http.close()
    p = k.run("-n", ns, "port-forward", "pod/nowhere", ":80", check=False, timeout=30)
    assert "unable to forward port because pod is not running. Current status=Pending" in p.stderr
    # the kubelet itself (runner's node's: each node has its own kubelet port): a client certificate
    # of the cluster CA (the API server's) or nothing
    node = k.get_json("node", k.get_json("pod", "runner", "-n", ns)["spec"]["nodeName"])
    ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    base = f"https://{ip}:{node['status']['daemonEndpoints']['kubeletEndpoint']['Port']}/portForward/{ns}"
    pki = Path(pair.host.data_dir) / "pki"

    def get(path: str, cert: bool) -> tuple[int, str]:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        if cert:
            ctx.load_cert_chain(pki / "apiserver-kubelet-client.crt", pki / "apiserver-kubelet-client.key")
        try:
            with urllib.request.urlopen(base + path, context=ctx, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    assert get("/runner", cert=False) == (401, "Unauthorized")
    assert get("/runner", cert=True) == (400, "Upgrade request required")
    assert get("/nope", cert=True) == (404, "pod does not exist")


def test_port_forward_needs_create_on_the_subresource(tmp_path: Path) -> None:
    st = StrictServer(tmp_path / "strict").start()
    try:
        server = Server(tmp_path / "strict")
        k = Kubectl(server, tmp_path / "kcache")
        token = intruder_token(k)
        url = yaml.safe_load(server.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        path = "/api/v1/namespaces/default/pods/target/portforward"
        for who in (token, server.token):
            http = HTTPClient(url, server.ca_file, who)
            try:
                r = http.call("POST", path)
            finally:
                http.close()
            if who == token:
                assert r.status == 403 and r.body["message"] == (
                    'pods "target" is forbidden: User "system:serviceaccount:default:intruder" cannot '
                    'create resource "pods/portforward" in API group "" in the namespace "default"'
                )
            else:  # the admin gets past authorization; the pod is not scheduled anywhere
                assert (r.status, r.body["message"]) == (400, "pod target does not have a host assigned")
    finally:
        st.stop()
