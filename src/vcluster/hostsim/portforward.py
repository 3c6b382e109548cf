"""The simulated kubelet's `/portForward/{namespace}/{pod}`: SPDY/3.1 over a WebSocket, as
`kubectl port-forward` (client-go 1.31+) tunnels it, served like the kubelet's
`cri/streaming/portforward/httpstream.go` and containerd's `sandbox_portforward_linux.go`.

Per forwarded connection the client opens two streams with headers `streamtype` (`error` or
`data`), `port` and `requestid`; once both of a request are there, the kubelet connects to the
port and copies bytes between it and the data stream. A connection that fails is reported as
text on the error stream, then both streams are closed.

The simulated pods have no network namespace, so **port-forward connects to 127.0.0.1:<port>
(then [::1]:<port>) on this machine**, wherever the pod is "running": anything listening there
is reachable as any pod's port, as a local test host's processes are. Error texts are the
kubelet's and containerd 2's (`error forwarding port P to pod <sandbox id>, uid : failed to
execute portforward in network namespace "/var/run/netns/cni-...": failed to connect to
localhost:P inside namespace "<sandbox id>", IPv4: dial tcp4 127.0.0.1:P: connect: connection
refused IPv6 dial tcp6 [::1]:P: connect: connection refused `), with a sandbox id and network
namespace derived from the pod's uid."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from vcluster.hostsim import spdy

log = logging.getLogger("vcluster.hostsim.portforward")

PROTOCOL = "portforward.k8s.io"
WEBSOCKET_PROTOCOL = "SPDY/3.1+" + PROTOCOL  # client-go's WebsocketsSPDYTunnelingPrefix + protocol
STREAM_TYPE, PORT, REQUEST_ID = "streamtype", "port", "requestid"  # lower-cased on the wire
STREAM_CREATION_TIMEOUT = 30.0  # the kubelet's DefaultStreamCreationTimeout
DIAL_TIMEOUT = 5.0
CLOSE_GRACE = 1.0  # containerd: after one direction ends, how long the other may still finish
_READ_CHUNK = spdy.DATA_CHUNK


def sandbox_id(pod_uid: str) -> str:
    """The pod's (simulated) sandbox id, a 64-hex containerd id."""
    return hashlib.sha256(f"{pod_uid}/sandbox".encode()).hexdigest()


def netns_path(pod_uid: str) -> str:
    """The pod's (simulated) network namespace, named as the CNI plugins name them."""
    raw = hashlib.sha256(f"{pod_uid}/netns".encode()).digest()[:16]
    return f"/var/run/netns/cni-{uuid.UUID(bytes=raw, version=4)}"


def _go_dial_error(network: str, hostport: str, e: BaseException) -> str:
    """Go's net.Dial error text, e.g. `dial tcp4 127.0.0.1:80: connect: connection refused`."""
    if isinstance(e, TimeoutError):
        return f"dial {network} {hostport}: i/o timeout"
    if isinstance(e, OSError) and e.errno == errno.ECONNREFUSED:
        return f"dial {network} {hostport}: connect: connection refused"
    text = (e.strerror if isinstance(e, OSError) and e.strerror else str(e)) or type(e).__name__
    return f"dial {network} {hostport}: connect: {text[:1].lower()}{text[1:]}"


class DialError(Exception):
    """Neither 127.0.0.1 nor ::1 accepted the connection; the message is containerd's."""


async def dial_localhost(
    port: int, sandbox: str, netns: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """containerd's dialLocalhost: IPv4 first, then IPv6 (serially)."""
    errors: list[str] = []
    for network, host, hostport in (
        ("tcp4", "127.0.0.1", f"127.0.0.1:{port}"),
        ("tcp6", "::1", f"[::1]:{port}"),
    ):
        try:
            return await asyncio.wait_for(asyncio.open_connection(host, port), DIAL_TIMEOUT)
        except (OSError, TimeoutError) as e:
            errors.append(_go_dial_error(network, hostport, e))
    raise DialError(
        f'failed to execute portforward in network namespace "{netns}": failed to connect to '
        f'localhost:{port} inside namespace "{sandbox}", IPv4: {errors[0]} IPv6 {errors[1]} '
    )


def check_stream(stream: spdy.Stream) -> str | None:
    """httpStreamReceived: a valid port and stream type, or why the stream is refused."""
    port = stream.header(PORT)
    if not port:
        return '"port" header is required'
    if not (port.isascii() and port.isdigit()):
        return f'unable to parse "{port}" as a port: strconv.ParseUint: parsing "{port}": invalid syntax'
    if int(port) > 65535:
        return f'unable to parse "{port}" as a port: strconv.ParseUint: parsing "{port}": value out of range'
    if int(port) < 1:
        return f'port "{port}" must be > 0'
    kind = stream.header(STREAM_TYPE)
    if not kind:
        return '"streamType" header is required'
    if kind not in ("error", "data"):
        return f'invalid stream type "{kind}"'
    return None


@dataclass
class _Pair:
    """The error and data streams of one forwarded connection."""

    request_id: str
    error: spdy.Stream | None = None
    data: spdy.Stream | None = None
    timer: asyncio.TimerHandle | None = None


class PortForwardSession:
    """One port-forward connection: pairs streams by request id and forwards each pair."""

    def __init__(self, pod: dict[str, Any], send: Any) -> None:
        md = pod.get("metadata") or {}
        uid = str(md.get("uid") or "")
        self.sandbox = sandbox_id(uid)
        self.netns = netns_path(uid)
        self.session = spdy.ServerSession(send, check_stream, self._opened)
        self._pairs: dict[str, _Pair] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _request_id(self, stream: spdy.Stream) -> str:
        """The requestid header, or the kubelet's guess for old clients that send none."""
        rid = stream.header(REQUEST_ID)
        if rid:
            return rid
        return str(stream.id if stream.header(STREAM_TYPE) == "error" else stream.id - 2)

    def _opened(self, stream: spdy.Stream) -> None:
        rid = self._request_id(stream)
        pair = self._pairs.get(rid)
        if pair is None:
            pair = self._pairs[rid] = _Pair(rid)
            pair.timer = asyncio.get_running_loop().call_later(STREAM_CREATION_TIMEOUT, self._expire, rid)
        kind = stream.header(STREAM_TYPE)
        if getattr(pair, kind) is not None:
            message = f"error processing stream for request {rid}: {kind} stream already assigned"
            log.warning("%s", message)
            self._spawn(self._report(pair.error, message, close=False))
            self._spawn(stream.reset())
            return
        setattr(pair, kind, stream)
        if pair.error is not None and pair.data is not None:
            self._pairs.pop(rid, None)
            if pair.timer is not None:
                pair.timer.cancel()
            self._spawn(self._forward(pair.error, pair.data))

    def _expire(self, rid: str) -> None:
        pair = self._pairs.pop(rid, None)
        if pair is None:
            return
        message = f"(conn={id(self.session):#x}, request={rid}) timed out waiting for streams"
        log.warning("%s", message)
        self._spawn(self._report(pair.error, message, close=True))
        if pair.data is not None:
            self._spawn(pair.data.close())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self, stream: spdy.Stream | None, message: str, *, close: bool) -> None:
        if stream is None:
            return
        with contextlib.suppress(spdy.StreamClosed, ConnectionError):
            await stream.write(message.encode())
        if close:
            await stream.close()

    async def _forward(self, error: spdy.Stream, data: spdy.Stream) -> None:
        """portForward: connect, copy both ways; the error stream gets the failure, if any."""
        port = int(data.header(PORT))
        try:
            try:
                reader, writer = await dial_localhost(port, self.sandbox, self.netns)
            except DialError as e:
                message = f"error forwarding port {port} to pod {self.sandbox}, uid : {e}"
                log.info("%s", message)
                await self._report(error, message, close=False)
                return
            try:
                await _copy_both_ways(data, reader, writer)
            finally:
                writer.close()
                with contextlib.suppress(OSError, ConnectionError):
                    await writer.wait_closed()
        finally:
            await data.close()
            await error.close()

    async def run(self, ws: web.WebSocketResponse) -> None:
        """Feed the WebSocket's binary messages to the SPDY session until either side ends it."""
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await self.session.feed(msg.data)
                elif msg.type != aiohttp.WSMsgType.TEXT:
                    break
        except spdy.SpdyError as e:
            log.info("port-forward session ended: %s", e)
        finally:
            self.session.close()
            for pair in self._pairs.values():
                if pair.timer is not None:
                    pair.timer.cancel()
            self._pairs.clear()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _copy_both_ways(
    data: spdy.Stream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Stream → port and port → stream; once one direction ends the other gets CLOSE_GRACE to
    finish (containerd's socat-like timeout), then the connection is closed. The client's end
    of input is passed on as a half-close (containerd leaves the port to find out on close)."""

    async def upstream() -> None:
        while chunk := await data.read():
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            with contextlib.suppress(OSError, ConnectionError):
                writer.write_eof()

    async def downstream() -> None:
        while chunk := await reader.read(_READ_CHUNK):
            await data.write(chunk)

    tasks = {asyncio.create_task(upstream()), asyncio.create_task(downstream())}
    try:
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_GRACE)
    finally:
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for r in results:
        if isinstance(r, Exception) and not isinstance(r, spdy.StreamClosed | ConnectionError | OSError):
            log.warning("port-forward copy failed: %r", r)
