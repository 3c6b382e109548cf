"""The kubelet HTTPS endpoint shared by all simulated nodes: `GET /containerLogs/{ns}/{pod}/{c}`
(follow, tailLines, timestamps, sinceSeconds, sinceTime, limitBytes, previous), `/pods` and
`/healthz`, with the kubelet's error texts. Serves a self-signed certificate; the API server
connects without verifying it, as kube-apiserver does without --kubelet-certificate-authority."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vcluster.hostsim.loggen import LogSource, rfc3339_nano
from vcluster.hostsim.podstatus import parse_time

log = logging.getLogger("vcluster.hostsim.kubeletserver")

PodLookup = Callable[[str, str], dict[str, Any] | None]
StartLookup = Callable[[str], float | None]
_TRUE = ("1", "t", "T", "true", "TRUE", "True")


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
    if cs is None or (not cs.get("containerID") and not (cs.get("state") or {}).get("waiting")):
        cs = {"state": {"waiting": {"reason": "ContainerCreating"}}}
    state = cs.get("state") or {}
    if previous:
        raise LogRequestError(400, f'previous terminated container "{container}" in pod "{name}" not found')
    running, terminated, waiting = state.get("running"), state.get("terminated"), state.get("waiting")
    if running is not None:
        begin = started if started is not None else parse_time(running.get("startedAt"))
        end = None
    elif terminated is not None:
        begin = parse_time(terminated.get("startedAt"))
        if started is not None and begin is not None and abs(started - begin) < 1.0:
            begin = started
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
    ) -> None:
        self.pods = pods
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

    async def start(self) -> int:
        app = web.Application()
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/pods", self.pods_list)
        app.router.add_get("/pods/", self.pods_list)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handle_signals=False, handler_cancellation=True
        )
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.bind, self.port))
        self.port = sock.getsockname()[1]
        ctx = await asyncio.to_thread(self_signed_context, [self.bind, *self.hosts])
        await web.SockSite(self._runner, sock, ssl_context=ctx).start()
        log.info("kubelet server listening on https://%s:%d", self.bind, self.port)
        return self.port

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def pods_list(self, request: web.Request) -> web.Response:
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": self.list_pods()}
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
            pod = self.pods(ns, name)
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
        self, writer: _LineWriter, pod: dict[str, Any], container: str, src: LogSource, index: int
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
