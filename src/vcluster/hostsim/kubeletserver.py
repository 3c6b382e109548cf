"""The kubelet HTTPS endpoint shared by all simulated nodes: `GET /containerLogs/{ns}/{pod}/{c}`
(follow, tailLines, timestamps, sinceSeconds, sinceTime, limitBytes, previous), `/exec/{ns}/{pod}/{c}`
and `/attach/{ns}/{pod}/{c}` (WebSocket remote-command protocol, see `apiserver/podexec.py`),
`/portForward/{ns}/{pod}` (SPDY/3.1 over WebSocket to 127.0.0.1:<port> of this machine, see
`hostsim/portforward.py`), `/pods` and `/healthz`, with the kubelet's error texts. Serves a
self-signed certificate; the API server connects without verifying it, as kube-apiserver does
without --kubelet-certificate-authority.

Given the node names, it listens on **one port per node** (the node's
`daemonEndpoints.kubeletEndpoint.Port`; consecutive ports from `port` when one is set), all on the
same address and served by this one process: a request's local port says which node's kubelet it
reached, so each node answers for its own pods only (`/pods`, logs, exec, attach, port-forward: a
pod of another node "does not exist" there) and serves its own `/stats/summary`
(`?only_cpu_and_memory=true`), `/metrics`, `/metrics/resource`, `/metrics/cadvisor`, `/metrics/probes`
and `/configz` from a `NodeViewSource` (`hostsim/kubeletviews.py`). Without node names there is one
listener that knows every pod and serves no per-node view (404).

The simulated containers have no image and no filesystem, so **exec runs the command as a local
process of this host** (as kwok's ClusterExec does): this is a local test host, and anyone who can
exec into its pods can run commands as the user running `vcluster host`. The process gets PATH of
this process, HOME and the working directory a per-pod temporary directory, HOSTNAME the pod's
host name, TERM with a terminal, and the container's environment as the kubelet builds it
(`hostsim/containerenv.py`: env, envFrom, ConfigMap and Secret keys, downward API, service
variables); stdin, stdout, stderr (or
a pseudo-terminal with `tty=1`, resized on the resize channel) are relayed and the exit code is
reported as the kubelet does (containerd's texts). Attach connects to the container's generated
log: stdout receives its lines as they fall due; stdin is discarded unless the container has
`stdin: true`, in which case it is echoed back on stdout."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import ipaddress
import json
import logging
import os
import pty
import secrets
import shutil
import signal
import socket
import ssl
import struct
import tempfile
import termios
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

import aiohttp
import orjson
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.podexec import (
    CLOSE_SIGNAL,
    ERROR,
    NO_COMMAND,
    NO_STREAMS,
    RESIZE,
    STDERR,
    STDIN,
    STDOUT,
    UPGRADE_REQUIRED,
    FrameError,
    StreamOptions,
    StreamWriter,
    decode_frame,
    exit_status,
    internal_error_status,
    is_websocket,
    offered_protocols,
    parse_resize,
    server_websocket,
    success_status,
)
from vcluster.client import ApiError
from vcluster.hostsim.containerenv import EnvSources, container_env
from vcluster.hostsim.loggen import LogSource, rfc3339_nano
from vcluster.hostsim.podstatus import parse_time
from vcluster.hostsim.portforward import WEBSOCKET_PROTOCOL, PortForwardSession
from vcluster.hostsim.promtext import CONTENT_TYPE as PROMETHEUS_TEXT

log = logging.getLogger("vcluster.hostsim.kubeletserver")

PodLookup = Callable[[str, str], dict[str, Any] | None]
StartLookup = Callable[[str], float | None]
# what a container's environment is made from (ConfigMaps, Secrets, services, node), fetched
EnvLookup = Callable[[dict[str, Any], dict[str, Any]], Awaitable[EnvSources]]
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_READ_CHUNK = 32 * 1024
_DRAIN_SECONDS = 2.0  # after an exec'd process exits, how long its output may still arrive
# How long the simulated runtime takes to start an exec'd process after the stream is upgraded (a real
# runtime's exec, containerd + runc, takes tens of milliseconds). kubectl 1.32's client-go starts reading
# the WebSocket before it has created its streams and drops the frames that come in between ("Unknown
# stream id 1, discarding message"; fixed later upstream by kubernetes/kubernetes#131203): output sent
# right behind the 101 answer, as a local process's would be without this delay, is lost.
EXEC_START_SECONDS = 0.03
# kubelet_http_requests_total's path buckets: what kubelet 1.32's server registers with
# addMetricsBucketMatcher (debugging handlers and the checkpoint API on, as by default)
_BUCKETS = frozenset(
    {
        "healthz", "pods", "stats", "metrics", "metrics/cadvisor", "metrics/probes", "metrics/resource",
        "run", "exec", "attach", "portForward", "containerLogs", "configz", "runningpods", "checkpoint",
        "logs", "debug",
    }
)  # fmt: skip
_METHODS = frozenset({"OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT"})
# server.go's longRunningRequestPathMap: its "portforward" never matches the "portForward" bucket,
# so port-forward requests count as not long-running there too
_LONG_RUNNING = frozenset({"exec", "attach", "portforward", "debug"})
_NOT_FOUND = "404 page not found\n"  # Go's http.NotFound
# roots of the kubelet's go-restful web services: an unknown path under one is go-restful's 404
_RESTFUL_ROOTS = (
    "/stats/", "/pods/", "/run/", "/exec/", "/attach/", "/portForward/", "/containerLogs/", "/runningpods/",
    "/checkpoint/", "/logs/", "/debug/pprof/",
)  # fmt: skip


class NodeViewSource(Protocol):
    """What a node's kubelet endpoint serves about its own node (see `hostsim/kubeletviews.py`)."""

    def pods(self, node: str) -> list[dict[str, Any]]: ...

    def summary(self, node: str, *, only_cpu_and_memory: bool = False) -> dict[str, Any]: ...

    def resource_metrics(self, node: str) -> str: ...

    def cadvisor_metrics(self, node: str) -> str: ...

    def probe_metrics(self, node: str) -> str: ...

    def metrics(self, node: str, requests: Mapping[tuple[str, str, str], int]) -> str: ...

    def configz(self, node: str, port: int) -> dict[str, Any]: ...


def metric_bucket(path: str) -> str:
    """The kubelet's path label of a request (server.go getMetricBucket): the first segment, or
    `metrics/<second>`, when it is a registered bucket; "other" otherwise."""
    parts = path.removeprefix("/").split("/", 2)
    root = f"{parts[0]}/{parts[1]}" if parts[0] == "metrics" and len(parts) > 1 else parts[0]
    return root if root in _BUCKETS else "other"


def request_labels(method: str, path: str) -> tuple[str, str, str]:
    """(method, path, long_running) of kubelet_http_requests_total for a request."""
    bucket = metric_bucket(path)
    return (method if method in _METHODS else "other", bucket, str(bucket in _LONG_RUNNING).lower())


def self_signed_context(hosts: list[str]) -> ssl.SSLContext:
    """A server SSL context with a fresh self-signed certificate for `hosts` (IPs and names)."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for h in dict.fromkeys([*hosts, "127.0.0.1", "localhost"]):
        try:
            ip = ipaddress.ip_address(h)
        except ValueError:
            names.append(x509.DNSName(h))
            continue
        if not ip.is_unspecified:
            names.append(x509.IPAddress(ip))
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostsim-kubelet")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="hostsim-tls-") as d:
        cert_path, key_path = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        with open(cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(key_path, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


class LogRequestError(Exception):
    """An error answered as plain text with an HTTP status (the kubelet's response.WriteError)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _find(items: Any, name: str) -> dict[str, Any] | None:
    for c in items or []:
        if isinstance(c, dict) and c.get("name") == name:
            return c
    return None


def _precise(begin: float | None, started: float | None) -> float | None:
    """A container's start (seconds precision in its status), sub-second when it is the pod's
    containers' start `started` the kubelet knows (a restarted container started later)."""
    if started is not None and (begin is None or abs(started - begin) < 1.0):
        return started
    return begin


def log_source(
    pod: dict[str, Any], container: str, *, previous: bool, interval: float, started: float | None = None
) -> LogSource:
    """Where a container's log comes from, or LogRequestError with the kubelet's message."""
    md = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    name = md.get("name", "")
    c = (
        _find(spec.get("containers"), container)
        or _find(spec.get("initContainers"), container)
        or _find(spec.get("ephemeralContainers"), container)
    )
    if c is None:
        raise LogRequestError(404, f'container "{container}" not found in pod "{name}"')
    status = pod.get("status") or {}
    cs = _find(status.get("containerStatuses"), container) or _find(
        status.get("initContainerStatuses"), container
    )
    if cs is None and c is _find(spec.get("ephemeralContainers"), container):
        cs = _find(status.get("ephemeralContainerStatuses"), container)
        started = None  # started after the pod: its own startedAt
    if cs is None or (not cs.get("containerID") and not (cs.get("state") or {}).get("waiting")):
        cs = {"state": {"waiting": {"reason": "ContainerCreating"}}}
    state = cs.get("state") or {}
    if previous:  # the container before the last restart (lastState), as the runtime keeps it
        state = {"terminated": (cs.get("lastState") or {}).get("terminated")}
        if not state["terminated"]:
            raise LogRequestError(
                400, f'previous terminated container "{container}" in pod "{name}" not found'
            )
    running, terminated, waiting = state.get("running"), state.get("terminated"), state.get("waiting")
    if running is not None:
        begin = _precise(parse_time(running.get("startedAt")), started)
        end = None
    elif terminated is not None:
        begin = _precise(parse_time(terminated.get("startedAt")), started)
        end = parse_time(terminated.get("finishedAt"))
        if begin is None:
            raise LogRequestError(400, f'container "{container}" in pod "{name}" is terminated')
    elif waiting is not None:
        raise LogRequestError(
            400, f'container "{container}" in pod "{name}" is waiting to start: {waiting.get("reason", "")}'
        )
    else:
        raise LogRequestError(
            400, f'container "{container}" in pod "{name}" is waiting to start - no logs yet'
        )
    if begin is None:
        begin = time.time()
    if end is not None and end < begin:
        end = begin
    return LogSource(
        namespace=md.get("namespace", ""),
        pod=name,
        container=container,
        image=str(c.get("image") or ""),
        pod_ip=str(status.get("podIP") or ""),
        started=begin,
        finished=end,
        interval=interval,
    )


def _int_param(q: Any, name: str) -> int | None:
    v = q.get(name)
    if v in (None, ""):
        return None
    try:
        return int(v)
    except ValueError:
        raise LogRequestError(400, f'invalid {name} "{v}"') from None


class KubeletServer:
    """One aiohttp HTTPS server for all simulated kubelets."""

    def __init__(
        self,
        pods: PodLookup,
        *,
        bind: str = "127.0.0.1",
        port: int = 0,
        line_seconds: float = 5.0,
        hosts: list[str] | None = None,
        started: StartLookup | None = None,
        list_pods: Callable[[], list[dict[str, Any]]] | None = None,
        client_ca: bytes | None = None,
        env_sources: EnvLookup | None = None,
        nodes: list[str] | None = None,
        views: NodeViewSource | None = None,
        exec_start_seconds: float = EXEC_START_SECONDS,
    ) -> None:
        self.pods = pods
        self.exec_start_seconds = exec_start_seconds
        self.nodes = list(nodes or [])
        self.views = views
        self.ports: dict[str, int] = {}  # node -> its kubelet port
        self._node_by_port: dict[int, str] = {}
        self._requests: dict[str, dict[tuple[str, str, str], int]] = {}  # node -> kubelet_http_requests_total
        self.env_sources = env_sources
        # Clients authenticate with a certificate from this CA (the API server's kubelet client
        # certificate), as a kubelet with anonymous auth off; without it only logs and /pods
        # are served, anonymously, and exec/attach/port-forward are refused.
        self.client_ca = client_ca
        self.bind = bind
        self.port = port
        self.line_seconds = line_seconds
        self.hosts = hosts or []
        self.started = started or (lambda _uid: None)
        self.list_pods = list_pods or list
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.requests_total = 0
        self.active_streams = 0  # log responses being written (follow streams stay open)
        self.active_sessions = 0  # exec, attach and port-forward connections
        self._procs: set[asyncio.subprocess.Process] = set()
        self._exec_root: str | None = None  # per-pod working directories of exec'd commands

    async def start(self) -> int:
        app = web.Application(middlewares=[self._count, self._authenticate])
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        app.router.add_route("*", "/exec/{namespace}/{pod}/{container}", self.exec)
        app.router.add_route("*", "/attach/{namespace}/{pod}/{container}", self.attach)
        app.router.add_route("*", "/portForward/{namespace}/{pod}", self.port_forward)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/pods", self.pods_list)
        app.router.add_get("/pods/", self.pods_list)
        for method in ("GET", "POST"):
            app.router.add_route(method, "/stats/summary", self.stats_summary)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/metrics/resource", self.metrics)
        app.router.add_get("/metrics/probes", self.metrics)
        app.router.add_get("/metrics/cadvisor", self.metrics)
        app.router.add_get("/configz", self.configz)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handle_signals=False, handler_cancellation=True
        )
        await self._runner.setup()
        ctx = await asyncio.to_thread(self_signed_context, [self.bind, *self.hosts])
        if self.client_ca:
            ctx.load_verify_locations(cadata=self.client_ca.decode("ascii", "replace"))
            ctx.verify_mode = ssl.CERT_OPTIONAL  # a presented certificate must verify
        socks = []
        try:
            if not self.nodes:
                socks.append(self._listen(self.port))
                self.port = socks[0].getsockname()[1]
            for i, node in enumerate(self.nodes):
                socks.append(self._listen(self.port + i if self.port else 0))
                port = socks[-1].getsockname()[1]
                self.ports[node], self._node_by_port[port] = port, node
        except OSError:
            for sock in socks:
                sock.close()
            raise
        if self.nodes:
            self.port = self.ports[self.nodes[0]]
        for sock in socks:
            await web.SockSite(self._runner, sock, ssl_context=ctx).start()
        if self.nodes:
            first, last = self.ports[self.nodes[0]], self.ports[self.nodes[-1]]
            log.info("kubelet servers of %d node(s) listening on https://%s:%d..%d", len(self.nodes),
                     self.bind, first, last)  # fmt: skip
        else:
            log.info("kubelet server listening on https://%s:%d", self.bind, self.port)
        return self.port

    def _listen(self, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.bind, port))
        except OSError:
            sock.close()
            raise
        return sock

    def node_of(self, request: web.BaseRequest) -> str | None:
        """The node whose kubelet port the request reached (None on the shared listener)."""
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        return self._node_by_port.get(sockname[1]) if sockname else None

    def _lookup(self, request: web.BaseRequest, namespace: str, name: str) -> dict[str, Any] | None:
        """The pod if this kubelet runs it: on a node's port, only that node's pods."""
        pod = self.pods(namespace, name)
        node = self.node_of(request)
        if pod is not None and node is not None and (pod.get("spec") or {}).get("nodeName") != node:
            return None
        return pod

    async def stop(self) -> None:
        self._closing.set()
        for proc in list(self._procs):
            _kill(proc)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._exec_root is not None:
            await asyncio.to_thread(shutil.rmtree, self._exec_root, True)
            self._exec_root = None

    @web.middleware
    async def _count(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """kubelet_http_requests_total of the node (method, path bucket, long-running)."""
        node = self.node_of(request)
        if node is not None:
            key = request_labels(request.method, request.path)
            counts = self._requests.setdefault(node, {})
            counts[key] = counts.get(key, 0) + 1
        return await handler(request)

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """A verified client certificate for everything but /healthz (401 "Unauthorized" as the
        kubelet answers); exec, attach and port-forward also need one to be possible at all. A path
        no handler serves is the kubelet's 404 before any authentication, as its ServeMux answers it."""
        unrouted = getattr(request.match_info, "http_exception", None)
        if isinstance(unrouted, web.HTTPNotFound):
            text = "404: Page Not Found" if request.path.startswith(_RESTFUL_ROOTS) else _NOT_FOUND
            return web.Response(status=404, text=text)
        if request.path == "/healthz":
            return await handler(request)
        remote = request.path.startswith(("/exec/", "/attach/", "/portForward/"))
        if self.client_ca is None:
            if remote:
                return web.Response(
                    status=403,
                    text="exec, attach and port-forward need client certificate authentication, and this "
                    "kubelet has no client CA (its kubeconfig names no certificate authority)",
                )
            return await handler(request)
        if not (request.transport and request.transport.get_extra_info("peercert")):
            return web.Response(status=401, text="Unauthorized")
        return await handler(request)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def pods_list(self, request: web.Request) -> web.Response:
        node = self.node_of(request)
        if node is not None and self.views is not None:
            items = self.views.pods(node)
        else:
            items = self.list_pods()
            if node is not None:
                items = [p for p in items if (p.get("spec") or {}).get("nodeName") == node]
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    def _view(self, request: web.Request) -> tuple[str, NodeViewSource] | None:
        node = self.node_of(request)
        return (node, self.views) if node is not None and self.views is not None else None

    async def stats_summary(self, request: web.Request) -> web.Response:
        """The node's Summary (go-restful's indented JSON); `only_cpu_and_memory=true` (exactly one
        value) asks for GetCPUAndMemoryStats, as metrics-server does."""
        view = self._view(request)
        if view is None:
            return web.Response(status=404, text=_NOT_FOUND)
        form = request.query.getall("only_cpu_and_memory", [])
        brief = len(form) == 1 and form[0] == "true"
        summary = view[1].summary(view[0], only_cpu_and_memory=brief)
        return web.Response(body=json_indent(summary), content_type="application/json")

    async def metrics(self, request: web.Request) -> web.Response:
        """`/metrics`, `/metrics/resource`, `/metrics/cadvisor` and `/metrics/probes` (its process
        start time only: no probe is run here, so the probe families have no series)."""
        view = self._view(request)
        if view is None:
            return web.Response(status=404, text=_NOT_FOUND)
        node, views = view
        if request.path == "/metrics/resource":
            text = views.resource_metrics(node)
        elif request.path == "/metrics/cadvisor":
            text = views.cadvisor_metrics(node)
        elif request.path == "/metrics":
            text = views.metrics(node, dict(self._requests.get(node, {})))
        else:
            text = views.probe_metrics(node)
        return web.Response(text=text, headers={"Content-Type": PROMETHEUS_TEXT})

    async def configz(self, request: web.Request) -> web.Response:
        view = self._view(request)
        if view is None:
            return web.Response(status=404, text=_NOT_FOUND)
        body = view[1].configz(view[0], self.ports[view[0]])
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        self.requests_total += 1
        ns, name, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        q = request.query
        try:
            follow = q.get("follow") in _TRUE
            timestamps = q.get("timestamps") in _TRUE
            tail = _int_param(q, "tailLines")
            limit = _int_param(q, "limitBytes")
            since_s = _int_param(q, "sinceSeconds")
            since_t = parse_time(q.get("sinceTime")) if q.get("sinceTime") else None
            pod = self._lookup(request, ns, name)
            if pod is None:
                raise LogRequestError(404, f'pod "{name}" does not exist')
            src = self._source(pod, container, q.get("previous") in _TRUE)
        except LogRequestError as e:
            return web.Response(status=e.status, text=e.message)
        since = since_t
        if since_s is not None:
            since = time.time() - since_s
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        self.active_streams += 1
        try:
            await resp.prepare(request)
            writer = _LineWriter(resp, timestamps, limit)
            total = src.count(time.time())
            start = src.first_since(since, total) if since is not None else 0
            if tail is not None and tail >= 0:
                start = max(start, total - tail)
            await writer.write([src.line(i) for i in range(start, total)])
            if follow:
                await self._follow(writer, pod, container, src, total)
            await writer.end()
        except ConnectionResetError:
            pass  # the client went away
        finally:
            self.active_streams -= 1
        return resp

    def _source(self, pod: dict[str, Any], container: str, previous: bool) -> LogSource:
        uid = (pod.get("metadata") or {}).get("uid", "")
        return log_source(
            pod, container, previous=previous, interval=self.line_seconds, started=self.started(uid)
        )

    async def _follow(
        self,
        writer: _LineWriter | _FrameLines,
        pod: dict[str, Any],
        container: str,
        src: LogSource,
        index: int,
    ) -> None:
        """Stream lines as they fall due until the container ends, the pod goes or we stop."""
        md = pod.get("metadata") or {}
        ns, name, uid = md.get("namespace", ""), md.get("name", ""), md.get("uid")
        while not writer.full and not self._closing.is_set():
            now = time.time()
            due = src.line(index)[0] if src.finished is None and src.interval > 0 else now + 1.0
            wait = min(max(due - now, 0.0), 1.0)
            if wait > 0:
                try:
                    await asyncio.wait_for(self._closing.wait(), wait)
                    return
                except TimeoutError:
                    pass
            cur = self.pods(ns, name)
            if cur is None or (cur.get("metadata") or {}).get("uid") != uid:
                return
            if src.finished is None:
                try:
                    src = self._source(cur, container, False)
                except LogRequestError:
                    return
            total = src.count(time.time())
            if total > index:
                await writer.write([src.line(i) for i in range(index, total)])
                index = total
            elif src.finished is not None:
                # finishedAt has second precision: lines already streamed may be later than it.
                await writer.write([(max(src.finished, time.time()), src.exit_line())])
                return
            if src.finished is not None:
                return

    # ------------------------------------------------------------------ exec and attach
    def _remote_command(
        self, request: web.Request, exec_: bool
    ) -> tuple[dict[str, Any], dict[str, Any], StreamOptions]:
        """(pod, container spec, options) of an exec/attach request, or LogRequestError with the
        kubelet's answer (NewOptions, GetPodByName, findContainer)."""
        q = request.query
        opts = StreamOptions(
            stdin=q.get("input") == "1",
            stdout=q.get("output") == "1",
            stderr=q.get("error") == "1",
            tty=q.get("tty") == "1",
            command=list(q.getall("command", [])) if exec_ else [],
        )
        if opts.tty:
            opts.stderr = False  # "Access to exec with tty and stderr is not supported, bypassing stderr"
        if not (opts.stdin or opts.stdout or opts.stderr):
            raise LogRequestError(400, NO_STREAMS)
        ns, name, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        pod = self._lookup(request, ns, name)
        if pod is None:
            raise LogRequestError(404, "pod does not exist")
        spec = pod.get("spec") or {}
        c = (
            _find(spec.get("containers"), container)
            or _find(spec.get("initContainers"), container)
            or _find(spec.get("ephemeralContainers"), container)
        )
        if c is None or not _running(pod, container):
            raise LogRequestError(500, f"container not found ({go_quote(container)})")
        if exec_ and not opts.command:
            raise LogRequestError(400, NO_COMMAND)
        if not is_websocket(request):
            raise LogRequestError(400, UPGRADE_REQUIRED)
        return pod, c, opts

    async def _open(
        self, request: web.Request, opts: StreamOptions
    ) -> tuple[web.WebSocketResponse, StreamWriter]:
        ws = server_websocket()
        await ws.prepare(request)
        out = StreamWriter(ws, ws.ws_protocol or "")
        # "Send an empty message to the lowest writable channel to notify the client the connection
        # is established" (the kubelet's createWebSocketStreams)
        await out.send(STDOUT if opts.stdout else STDERR if opts.stderr else ERROR, b"")
        return ws, out

    async def exec(self, request: web.Request) -> web.StreamResponse:
        """Run the command as a local process (see the module doc) and relay its streams."""
        self.requests_total += 1
        try:
            pod, spec, opts = self._remote_command(request, exec_=True)
        except LogRequestError as e:
            return web.Response(status=e.status, text=e.message)
        ws, out = await self._open(request, opts)
        self.active_sessions += 1
        try:
            status = await self._run(ws, out, pod, spec, opts)
            if status is not None:
                await out.finish(status)
        except ConnectionError:
            pass  # the client went away
        finally:
            self.active_sessions -= 1
        return ws

    async def _env_sources(self, pod: dict[str, Any], spec: dict[str, Any]) -> EnvSources:
        if self.env_sources is None:
            return EnvSources()
        try:
            return await self.env_sources(pod, spec)
        except (ApiError, aiohttp.ClientError, TimeoutError, OSError) as e:  # API server away: plain env
            log.warning("environment of %s not resolved: %s", (pod.get("metadata") or {}).get("name"), e)
        except Exception:  # the command still runs, with what needs no object
            log.exception("environment of %s not resolved", (pod.get("metadata") or {}).get("name"))
        return EnvSources()

    def _workdir(self, pod: dict[str, Any]) -> str:
        if self._exec_root is None:
            self._exec_root = tempfile.mkdtemp(prefix="hostsim-exec-")
        md = pod.get("metadata") or {}
        d = os.path.join(self._exec_root, f"{md.get('namespace')}_{md.get('name')}_{md.get('uid', '')}")
        os.makedirs(d, exist_ok=True)
        return d

    async def _run(
        self,
        ws: web.WebSocketResponse,
        out: StreamWriter,
        pod: dict[str, Any],
        spec: dict[str, Any],
        opts: StreamOptions,
    ) -> dict[str, Any] | None:
        """The exec'd process from start to exit: its Status, or None when the client left first."""
        cwd = self._workdir(pod)
        env = exec_env(pod, spec, cwd, opts.tty, await self._env_sources(pod, spec))
        await asyncio.sleep(self.exec_start_seconds)
        master: int | None = None
        try:
            if opts.tty:
                master, slave = pty.openpty()
                try:
                    proc = await asyncio.create_subprocess_exec(
                        *opts.command, stdin=slave, stdout=slave, stderr=slave,
                        env=env, cwd=cwd, start_new_session=True,
                    )  # fmt: skip
                finally:
                    os.close(slave)
                os.set_blocking(master, False)
            else:
                pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
                proc = await asyncio.create_subprocess_exec(
                    *opts.command,
                    stdin=pipe if opts.stdin else null,
                    stdout=pipe if opts.stdout else null,
                    stderr=pipe if opts.stderr else null,
                    env=env, cwd=cwd, start_new_session=True,
                )  # fmt: skip
        except OSError as e:
            if master is not None:
                os.close(master)
            return internal_error_status(exec_failure(opts.command, e))
        self._procs.add(proc)
        io = _ProcessIO(proc, master, out)
        try:
            return await io.run(ws, opts)
        finally:
            self._procs.discard(proc)
            _kill(proc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), 5.0)
            io.close()

    async def attach(self, request: web.Request) -> web.StreamResponse:
        """Stream the container's log lines as they fall due; echo stdin if the container reads it."""
        self.requests_total += 1
        try:
            pod, spec, opts = self._remote_command(request, exec_=False)
            container = request.match_info["container"]
            src = self._source(pod, container, False)
        except LogRequestError as e:
            return web.Response(status=e.status, text=e.message)
        ws, out = await self._open(request, opts)
        self.active_sessions += 1
        try:
            lines = _FrameLines(out, opts.stdout)
            follow = asyncio.create_task(self._follow(lines, pod, container, src, src.count(time.time())))
            echo = bool(spec.get("stdin")) and opts.stdout
            reader = asyncio.create_task(_attach_input(ws, out, echo))
            try:
                await asyncio.wait({follow, reader}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (follow, reader):
                    t.cancel()
                results = await asyncio.gather(follow, reader, return_exceptions=True)
            if follow.done() and not follow.cancelled() and results[0] is None and not ws.closed:
                await out.finish(success_status())  # the container ended (or the pod went away)
        except ConnectionError:
            pass  # the client went away
        finally:
            self.active_sessions -= 1
        return ws

    # ------------------------------------------------------------------ port-forward
    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        """Forward the client's SPDY streams to 127.0.0.1:<port> (see `hostsim/portforward.py`)."""
        self.requests_total += 1
        ns, name = request.match_info["namespace"], request.match_info["pod"]
        pod = self._lookup(request, ns, name)
        if pod is None:
            return web.Response(status=404, text="pod does not exist")
        if (pod.get("status") or {}).get("phase") != "Running":
            # the runtime has no sandbox for it (kubelet GetPortForward, streaming.WriteError)
            return web.Response(status=500, text=f'pod not found ("{name}_{ns}")')
        if not is_websocket(request):
            return web.Response(status=400, text=UPGRADE_REQUIRED)
        if WEBSOCKET_PROTOCOL not in offered_protocols(request, (WEBSOCKET_PROTOCOL,)):
            return web.Response(
                status=400,
                text=f"port-forward over WebSocket needs the {WEBSOCKET_PROTOCOL} subprotocol "
                "(this kubelet does not serve the v4.channel.k8s.io port-forward protocol)",
            )
        ws = server_websocket((WEBSOCKET_PROTOCOL,))
        await ws.prepare(request)
        self.active_sessions += 1
        try:
            await PortForwardSession(pod, ws.send_bytes).run(ws)
        except ConnectionError:
            pass  # the client went away
        finally:
            self.active_sessions -= 1
            if not ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.close()
        return ws


def json_indent(obj: Any) -> bytes:
    """go-restful's pretty-printed JSON (MarshalIndent with a one-space indent)."""
    return json.dumps(obj, indent=1, ensure_ascii=False).encode()


def _running(pod: dict[str, Any], container: str) -> bool:
    status = pod.get("status") or {}
    cs = (
        _find(status.get("containerStatuses"), container)
        or _find(status.get("initContainerStatuses"), container)
        or _find(status.get("ephemeralContainerStatuses"), container)
    )
    return (
        cs is not None and bool(cs.get("containerID")) and (cs.get("state") or {}).get("running") is not None
    )


def exec_env(
    pod: dict[str, Any], spec: dict[str, Any], home: str, tty: bool, sources: EnvSources | None = None
) -> dict[str, str]:
    """The environment of an exec'd command: PATH of this process, HOSTNAME (spec.hostname or the
    pod name, as the kubelet sets it), HOME, TERM with a terminal, then the container's variables
    (`containerenv.container_env`; without `sources` only what needs no object)."""
    hostname = (pod.get("spec") or {}).get("hostname") or (pod.get("metadata") or {}).get("name", "")
    env = {"PATH": os.environ.get("PATH") or _DEFAULT_PATH, "HOSTNAME": str(hostname)[:63], "HOME": home}
    if tty:
        env["TERM"] = "xterm"
    env.update(container_env(pod, spec, sources or EnvSources()))
    return env


def exec_failure(command: list[str], e: OSError) -> str:
    """containerd's error for a command that cannot be started (runc's `exec: ...` texts)."""
    exe = command[0] if command else ""
    if isinstance(e, FileNotFoundError):
        what = (
            f"stat {exe}: no such file or directory" if "/" in exe else "executable file not found in $PATH"
        )
    elif isinstance(e, PermissionError):
        what = "permission denied"
    else:
        what = (e.strerror or str(e)).lower()
    exec_id = secrets.token_hex(32)
    return (
        f"error executing command in container: failed to exec in container: failed to start exec "
        f'"{exec_id}": OCI runtime exec failed: exec failed: unable to start container process: '
        f"exec: {go_quote(exe)}: {what}: unknown"
    )


def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process group of an exec'd command (it runs in its own session)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


class _ProcessIO:
    """The streams of one exec'd process: pipes, or a pseudo-terminal's master side."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int | None, out: StreamWriter) -> None:
        self.proc = proc
        self.master = master
        self.out = out
        self._stdin_open = True

    def close(self) -> None:
        if self.master is not None:
            with contextlib.suppress(OSError):
                asyncio.get_running_loop().remove_reader(self.master)
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None

    async def run(self, ws: web.WebSocketResponse, opts: StreamOptions) -> dict[str, Any] | None:
        pumps = []
        if self.master is not None:
            pumps.append(asyncio.create_task(self._pump_pty()))
        else:
            if self.proc.stdout is not None:
                pumps.append(asyncio.create_task(self._pump(self.proc.stdout, STDOUT)))
            if self.proc.stderr is not None:
                pumps.append(asyncio.create_task(self._pump(self.proc.stderr, STDERR)))
        reader = asyncio.create_task(self._read_client(ws, opts))
        waiter = asyncio.create_task(self.proc.wait())
        try:
            await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not waiter.done():  # the client closed the connection: end the command
                return None
            if pumps:
                await asyncio.wait(pumps, timeout=_DRAIN_SECONDS)
        finally:
            for t in (*pumps, reader, waiter):
                t.cancel()
            await asyncio.gather(*pumps, reader, waiter, return_exceptions=True)
        rc = self.proc.returncode or 0
        code = 128 - rc if rc < 0 else rc  # killed by signal N: 128+N, as the runtime reports it
        return success_status() if code == 0 else exit_status(code, opts.command)

    async def _pump(self, stream: asyncio.StreamReader, channel: int) -> None:
        while chunk := await stream.read(_READ_CHUNK):
            await self.out.send(channel, chunk)

    async def _pump_pty(self) -> None:
        assert self.master is not None
        fd = self.master
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        def readable() -> None:
            try:
                data = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:  # EIO once the last process holding the terminal is gone
                data = b""
            if not data:
                loop.remove_reader(fd)
            queue.put_nowait(data)

        loop.add_reader(fd, readable)
        while chunk := await queue.get():
            await self.out.send(STDOUT, chunk)

    async def _write_stdin(self, data: bytes) -> None:
        if not self._stdin_open or not data:
            return
        if self.master is not None:
            view = memoryview(data)
            while view:
                try:
                    n = os.write(self.master, view)
                except BlockingIOError:
                    await asyncio.sleep(0.01)
                    continue
                except OSError:
                    return
                view = view[n:]
            return
        stdin = self.proc.stdin
        if stdin is None:
            return
        with contextlib.suppress(ConnectionError):
            stdin.write(data)
            await stdin.drain()

    def _close_stdin(self) -> None:
        self._stdin_open = False
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.write(self.master, b"\x04")  # end of input on a terminal
        elif self.proc.stdin is not None:
            self.proc.stdin.close()

    async def _read_client(self, ws: web.WebSocketResponse, opts: StreamOptions) -> None:
        """stdin, v5's close signal and resizes from the client, until it closes the connection."""
        async for channel, data in _client_frames(ws):
            if channel == STDIN and opts.stdin:
                await self._write_stdin(data)
            elif channel == CLOSE_SIGNAL and data[:1] == bytes((STDIN,)) and self._stdin_open:
                self._close_stdin()
            elif channel == RESIZE and self.master is not None:
                size = parse_resize(data)
                if size is not None:
                    with contextlib.suppress(OSError):
                        fcntl.ioctl(
                            self.master, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0)
                        )


async def _client_frames(ws: web.WebSocketResponse) -> AsyncIterator[tuple[int, bytes]]:
    """(channel, data) of each remote-command frame the client sends (undecodable ones skipped),
    until it closes the connection."""
    protocol = ws.ws_protocol or ""
    async for msg in ws:
        if msg.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
            return
        try:
            frame = decode_frame(msg.data, protocol)
        except FrameError:
            continue
        yield frame


async def _attach_input(ws: web.WebSocketResponse, out: StreamWriter, echo: bool) -> None:
    """An attached client's stdin: echoed on stdout when the container reads stdin, else dropped."""
    async for channel, data in _client_frames(ws):
        if channel == STDIN and echo and data:
            await out.send(STDOUT, data)


class _FrameLines:
    """Log lines as stdout frames (the `_LineWriter` interface `_follow` writes to)."""

    full = False

    def __init__(self, out: StreamWriter, enabled: bool) -> None:
        self.out = out
        self.enabled = enabled

    async def write(self, lines: list[tuple[float, str]]) -> None:
        if lines and self.enabled:
            await self.out.send(STDOUT, "".join(f"{text}\n" for _, text in lines).encode())


class _LineWriter:
    """Writes log lines to a streaming response, with timestamps and a byte limit."""

    def __init__(self, resp: web.StreamResponse, timestamps: bool, limit: int | None) -> None:
        self.resp = resp
        self.timestamps = timestamps
        self.left = limit if limit is not None and limit > 0 else None

    @property
    def full(self) -> bool:
        return self.left is not None and self.left <= 0

    async def write(self, lines: list[tuple[float, str]]) -> None:
        if not lines or self.full:
            return
        if self.timestamps:
            data = "".join(f"{rfc3339_nano(t)} {text}\n" for t, text in lines).encode()
        else:
            data = "".join(f"{text}\n" for _, text in lines).encode()
        if self.left is not None:
            data = data[: self.left]
            self.left -= len(data)
        await self.resp.write(data)

    async def end(self) -> None:
        await self.resp.write_eof()
