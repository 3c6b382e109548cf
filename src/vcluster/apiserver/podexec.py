"""pods/{name}/exec and pods/{name}/attach, and the WebSocket remote-command protocol they speak.

The API server authorizes `create` on `pods/exec` or `pods/attach` (for GET upgrades too, as
kube-apiserver 1.32 does), runs CONNECT admission on the options (`admit`, as rest.go
ConnectResource), validates like kube-apiserver's ExecREST/AttachREST (the pod, its container, a
node to run on), then relays the connection: a virtual cluster hands it to
`Rest.pod_exec_hook` (the syncer relays it to the host pod), a host proxies it to the node's
kubelet at `https://<InternalIP>:<port>/{exec,attach}/{ns}/{pod}/{container}?command=..&input=1..`.

Streams use the WebSocket protocol kubectl 1.32 speaks first (client-go `websocket.go`, apimachinery
`util/remotecommand`, apiserver `wsstream`): every binary message is one channel byte and the data,
channels 0 stdin, 1 stdout, 2 stderr, 3 error (a `metav1.Status` as JSON in v4/v5, the plain
message in older versions) and 4 terminal resize (`{"Width":..,"Height":..}`); `v5.channel.k8s.io`
adds the client's "close this stream" signal `[255, channel]` (stdin EOF). The `base64.` variants
send text messages: the channel as an ASCII digit and the data base64-encoded. Relays copy
messages verbatim both ways until one side closes; every hop negotiates the subprotocol the client
chose, so nothing is translated on the way.

Errors found before the upgrade (validation, the backend refusing) are ordinary `Status` answers,
so kubectl, after its WebSocket attempt fails, retries with SPDY and shows the same error. A
request that is not a WebSocket upgrade (that SPDY retry) goes down the same chain as a plain
request, which every hop validates without running anything, and ends in the backend's error or
400 "Upgrade request required".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import ssl as _ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

from vcluster.apiserver import connectoptions
from vcluster.apiserver.errors import Cause, StatusError, bad_request, forbidden
from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.podlogs import _dial_error, choose_container, kubelet_location, kubelet_ssl
from vcluster.apiserver.request import RequestInfo
from vcluster.apiserver.resources import Registry
from vcluster.apiserver.rest import Rest, object_key
from vcluster.apiserver.webhookadmission import admit_connect

JSON = dict[str, Any]

# ---------------------------------------------------------------------------------------------- protocol
STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)
CLOSE_SIGNAL = 255  # v5: [255, channel] closes the client's side of a stream

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V2 = "v2.channel.k8s.io"
V1 = "channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"
PROTOCOLS = (V5, V4, V3, V2, V1, V4_BASE64, V1_BASE64)
_BASE64 = frozenset({V4_BASE64, V1_BASE64})
_JSON_STATUS = frozenset({V5, V4, V4_BASE64})

UPGRADE_REQUIRED = "Upgrade request required"
NO_STREAMS = "you must specify at least 1 of stdin, stdout, stderr"
NO_COMMAND = "you must specify at least one command for the container"
_CONNECT_TIMEOUT = 10.0
_CLOSE_TIMEOUT = 2.0
_MAX_ERROR_BODY = 64 * 1024


class FrameError(ValueError):
    """A message that is not a remote-command frame (empty, bad channel, bad base64)."""


def is_base64(protocol: str) -> bool:
    return protocol in _BASE64


def json_status(protocol: str) -> bool:
    """Whether the error channel carries a JSON Status (v4, v5) rather than a plain message."""
    return protocol in _JSON_STATUS


def encode_frame(channel: int, data: bytes, protocol: str = V5) -> bytes | str:
    """One message: the channel byte and the data (binary), or digit + base64 (text protocols)."""
    if not 0 <= channel <= 255:
        raise FrameError(f"channel {channel} out of range")
    if is_base64(protocol):
        if channel > 9:
            raise FrameError(f"channel {channel} cannot be sent on {protocol}")
        return chr(ord("0") + channel) + base64.b64encode(data).decode("ascii")
    return bytes((channel,)) + data


def decode_frame(message: bytes | str, protocol: str = V5) -> tuple[int, bytes]:
    """(channel, data) of one message (the inverse of `encode_frame`)."""
    if not message:
        raise FrameError("empty message")
    if isinstance(message, str) or is_base64(protocol):
        text = message if isinstance(message, str) else message.decode("ascii", "replace")
        channel = ord(text[0]) - ord("0")
        if not 0 <= channel <= 9:
            raise FrameError(f"invalid channel {text[0]!r}")
        try:
            return channel, base64.b64decode(text[1:], validate=True)
        except (binascii.Error, ValueError) as e:
            raise FrameError(f"invalid base64 data on channel {channel}: {e}") from None
    return message[0], bytes(message[1:])


def close_frame(channel: int) -> bytes:
    """v5's signal that the sender will write no more on `channel`."""
    return bytes((CLOSE_SIGNAL, channel))


def parse_resize(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a resize message (remotecommand.TerminalSize JSON), None if invalid."""
    try:
        size = orjson.loads(data)
        w, h = int(size.get("Width", 0)), int(size.get("Height", 0))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return None
    return (w, h) if w > 0 and h > 0 else None


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    """The kubelet's Status for a command that exited non-zero (containerd's error text)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            "command terminated with non-zero exit code: "
            f"error executing command [{' '.join(command)}], exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def internal_error_status(message: str) -> dict[str, Any]:
    """apierrors.NewInternalError as json.Marshal writes it."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


def status_payload(status: dict[str, Any], protocol: str) -> bytes | None:
    """What the error channel carries for `status`: JSON (v4, v5); older protocols send only the
    message of a failure (v1WriteStatusFunc)."""
    if json_status(protocol):
        return orjson.dumps(status)
    if status.get("status") == "Success":
        return None
    return str(status.get("message") or "").encode()


def is_websocket(request: web.BaseRequest) -> bool:
    return request.headers.get("Upgrade", "").strip().lower() == "websocket"


def offered_protocols(request: web.BaseRequest, known: Iterable[str] = PROTOCOLS) -> list[str]:
    """The client's subprotocols among `known`, in the client's order of preference."""
    raw = request.headers.getall("Sec-WebSocket-Protocol", [])
    offered = [p.strip() for value in raw for p in value.split(",")]
    accepted = set(known)
    return [p for p in offered if p in accepted]


def server_websocket(protocols: Iterable[str] = PROTOCOLS) -> web.WebSocketResponse:
    return web.WebSocketResponse(protocols=tuple(protocols), timeout=_CLOSE_TIMEOUT, max_msg_size=0)


class StreamWriter:
    """Serialized frame writes on one WebSocket (several producers share it)."""

    def __init__(self, ws: web.WebSocketResponse, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self._lock = asyncio.Lock()

    async def send(self, channel: int, data: bytes) -> None:
        frame = encode_frame(channel, data, self.protocol)
        async with self._lock:
            if isinstance(frame, str):
                await self.ws.send_str(frame)
            else:
                await self.ws.send_bytes(frame)

    async def finish(self, status: dict[str, Any]) -> None:
        """Send the exit status on the error channel and close normally (code 1000)."""
        payload = status_payload(status, self.protocol)
        with contextlib.suppress(ConnectionError, RuntimeError):
            if payload is not None:
                await self.send(ERROR, payload)
            await self.ws.close()


# ---------------------------------------------------------------------------------------------- options
@dataclass
class StreamOptions:
    """PodExecOptions / PodAttachOptions from the query."""

    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False
    container: str = ""
    command: list[str] = field(default_factory=list)

    def kubelet_query(self, kind: str) -> list[tuple[str, str]]:
        """streamParams: the kubelet's parameters (input/output/error/tty = "1", command...)."""
        q = [("command", c) for c in self.command] if kind == "exec" else []
        for name, on in (("error", self.stderr), ("input", self.stdin), ("output", self.stdout)):
            if on:
                q.append((name, "1"))
        if self.tty:
            q.append(("tty", "1"))
        return q


def _query_bool(query: Any, name: str) -> bool:
    """runtime.Convert_Slice_string_To_bool: absent is false; "0" and "false" (any case) are false."""
    values = query.getall(name, [])
    if not values:
        return False
    v = values[0]
    return not (v == "0" or v.lower() == "false")


def stream_options(query: Any) -> StreamOptions:
    return StreamOptions(
        stdin=_query_bool(query, "stdin"),
        stdout=_query_bool(query, "stdout"),
        stderr=_query_bool(query, "stderr"),
        tty=_query_bool(query, "tty"),
        container=query.get("container", ""),
        command=list(query.getall("command", [])),
    )


def authorize(authorizer: Any, user: Any, info: RequestInfo) -> None:
    """`create` on pods/<sub> (kube-apiserver asks for it on GET WebSocket upgrades too); 403 with
    kube's forbidden message otherwise."""
    from vcluster.apiserver.reviews import Attributes

    attrs = Attributes(
        verb="create",
        resource_request=True,
        namespace=info.namespace,
        group="",
        version="v1",
        resource="pods",
        subresource=info.subresource or "",
        name=info.name,
    )
    if authorizer.authorize(user, attrs).allowed:
        return
    why = (
        f"User {go_quote(user.username)} cannot create resource {go_quote('pods/' + attrs.subresource)} "
        f'in API group "" in the namespace {go_quote(info.namespace)}'
    )
    raise forbidden("pods", "", info.name, why)


# ---------------------------------------------------------------------------------------------- upstream
class UpstreamRefused(Exception):
    """The next hop answered the (upgrade or plain) request with an HTTP error."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        super().__init__(f"{status}: {body[:200]!r}")
        self.status = status
        self.content_type = content_type
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace").strip()

    @property
    def upgrade_required(self) -> bool:
        """The next hop found nothing wrong but would only stream over a WebSocket upgrade."""
        if self.status != 400:
            return False
        st = self.status_object()
        return (st.get("message") if st is not None else self.text) == UPGRADE_REQUIRED

    def status_object(self) -> dict[str, Any] | None:
        """The body as a metav1.Status, if it is one."""
        if "json" not in self.content_type:
            return None
        try:
            obj = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None
        return obj if isinstance(obj, dict) and obj.get("kind") == "Status" else None


class UpstreamUnreachable(Exception):
    """No connection to the next hop (refused, timed out, TLS failure)."""

    def __init__(self, url: URL, error: BaseException) -> None:
        super().__init__(str(error))
        self.url = url
        self.error = error

    def dial_message(self) -> str:
        """Go's net/http wording, e.g. `dial tcp 127.0.0.1:10250: connect: connection refused`."""
        host = self.url.host or ""
        hostport = f"[{host}]:{self.url.port}" if ":" in host else f"{host}:{self.url.port}"
        return _dial_error(hostport, self.error)


async def _refuse_non_upgrade(resp: aiohttp.ClientResponse) -> None:
    """raise_for_status for the upstream session: anything but 101 is a refusal (with its body,
    which aiohttp's ws_connect would otherwise discard)."""
    if resp.status == 101:
        return
    try:
        body = await resp.content.read(_MAX_ERROR_BODY)
    except (aiohttp.ClientError, OSError, TimeoutError):
        body = b""
    raise UpstreamRefused(resp.status, resp.headers.get("Content-Type", ""), body)


async def proxy_stream(
    request: web.Request,
    url: URL,
    *,
    ssl: _ssl.SSLContext | bool,
    headers: Mapping[str, str] | None = None,
    server_hostname: str | None = None,
    protocols: Iterable[str] = PROTOCOLS,
) -> web.StreamResponse:
    """Relay an exec/attach/port-forward request to `url` (a kubelet or another API server).

    A WebSocket upgrade connects upstream first, offering the client's subprotocols (those among
    `protocols`: the remote-command ones, or port-forward's SPDY tunnel), then accepts
    the client with the one upstream chose and copies messages both ways until either side closes.
    Any other request is sent upstream as a plain POST, which only validates. Raises
    UpstreamRefused (the answer to turn into an error) or UpstreamUnreachable."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT, connect=_CONNECT_TIMEOUT)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ssl, force_close=True),
        timeout=timeout,
        raise_for_status=_refuse_non_upgrade,
    )
    extra: dict[str, Any] = {"server_hostname": server_hostname} if server_hostname else {}
    try:
        try:
            if not is_websocket(request):
                async with session.post(url, headers=headers, **extra):
                    pass  # _refuse_non_upgrade raised: a plain request is never streamed
                raise UpstreamRefused(400, "text/plain", UPGRADE_REQUIRED.encode())
            upstream = await session.ws_connect(
                url,
                protocols=offered_protocols(request, protocols),
                headers=headers,
                timeout=aiohttp.ClientWSTimeout(ws_close=_CLOSE_TIMEOUT),
                max_msg_size=0,
                **extra,
            )
        except UpstreamRefused:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise UpstreamUnreachable(url, e) from None
        try:
            protocol = upstream.protocol or ""
            client = server_websocket((protocol,) if protocol else ())
            await client.prepare(request)
            await relay(client, upstream)
            return client
        finally:
            await upstream.close()
    finally:
        await session.close()


async def relay(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Copy messages both ways until one side closes; the other side is then closed with the same
    code (1000 after the exit status, so kubectl reads it as the end of every stream)."""

    async def pump(src: Any, dst: Any) -> None:
        async for msg in src:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await dst.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await dst.send_str(msg.data)
            elif msg.type == aiohttp.WSMsgType.ERROR:
                return

    down = asyncio.create_task(pump(upstream, client))
    up = asyncio.create_task(pump(client, upstream))
    try:
        await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (down, up):
            t.cancel()
        await asyncio.gather(down, up, return_exceptions=True)
        with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
            if upstream.closed and not client.closed:
                code = upstream.close_code
                await client.close(code=code if code is not None else aiohttp.WSCloseCode.INTERNAL_ERROR)
            elif not upstream.closed:
                await upstream.close(code=client.close_code or aiohttp.WSCloseCode.OK)
            if not client.closed:
                await client.close()


# ---------------------------------------------------------------------------------------------- handler
def kubelet_error(exc: UpstreamRefused) -> StatusError:
    """A kubelet's plain-text refusal as an API error."""
    text = exc.text or f"the kubelet answered {exc.status}"
    if exc.status == 400:
        return bad_request(text)
    if exc.status == 404:
        return StatusError(404, "NotFound", text, {})
    if exc.status in (401, 403):
        reason = "Unauthorized" if exc.status == 401 else "Forbidden"
        return StatusError(exc.status, reason, text, {})
    return StatusError(500, "InternalError", f"Internal error occurred: {text}", {}, causes=[Cause("", text)])


PORTFORWARD_PROTOCOLS = ("SPDY/3.1+portforward.k8s.io",)  # SPDY tunnelled in WebSocket (client-go 1.31+)


def spdy_unsupported(request: web.BaseRequest, sub: str = "exec") -> StatusError:
    """The answer to a request that passed every check but is not a WebSocket upgrade."""
    upgrade = request.headers.get("Upgrade", "").strip()
    if not upgrade:
        return bad_request(UPGRADE_REQUIRED)
    what, protocols = (
        ("port-forward", PORTFORWARD_PROTOCOLS)
        if sub == "portforward"
        else ("exec and attach", PROTOCOLS[:2])
    )
    return bad_request(
        f"unable to upgrade connection: {upgrade} is not supported; this server streams {what} "
        f"over WebSocket ({', '.join(protocols)})"
    )


def node_of(pod: dict[str, Any], name: str) -> str:
    """The node running the pod of an exec/attach/portforward request; 400 when none does yet."""
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise bad_request(f"pod {name} does not have a host assigned")
    return str(node)


async def relay_to_kubelet(
    rest: Rest,
    registry: Registry,
    request: web.Request,
    node_name: str,
    path: str,
    query: list[tuple[str, str]],
    sub: str,
    protocols: tuple[str, ...] = PROTOCOLS,
) -> web.StreamResponse:
    """Relay a streaming request to `path` on the kubelet of `node_name`, with the API server's
    kubelet client certificate; the kubelet's refusals and dial errors as kube-apiserver words them."""
    nodes_rt = registry.get("", "v1", "nodes")
    assert nodes_rt is not None
    node_entry = await rest.store.get(object_key(nodes_rt, "", node_name))
    if node_entry is None:
        raise StatusError(500, "InternalError", f'Internal error occurred: node "{node_name}" not found', {})
    host, port = kubelet_location(node_entry.decode())
    url = URL.build(scheme="https", host=host, port=port, path=path).with_query(query)
    try:
        return await proxy_stream(request, url, ssl=kubelet_ssl(rest), protocols=protocols)
    except UpstreamRefused as e:
        if e.upgrade_required:
            raise spdy_unsupported(request, sub) from None
        raise kubelet_error(e) from None
    except UpstreamUnreachable as e:
        raise StatusError(500, "InternalError", f"error dialing backend: {e.dial_message()}", {}) from None


async def admit(registry: Registry, info: RequestInfo, request: web.Request) -> tuple[JSON, web.Request]:
    """rest.go ConnectResource before `Connect`: dryRun refused, the options decoded from the query
    (a conversion error is a 400), then CONNECT admission (mutating webhooks, ValidatingAdmissionPolicy,
    validating webhooks) with the options as the object. Returns the admitted options and the request
    to serve: the same one, or a clone whose query carries the options a mutating webhook changed."""
    if "dryRun" in request.query:
        raise bad_request("dryRun is not supported")
    sub = info.subresource or ""
    kind = connectoptions.POD_OPTION_KINDS[sub]
    try:
        opts = connectoptions.from_query(kind, request.query)
    except connectoptions.OptionsError as e:
        raise bad_request(str(e)) from None
    pods_rt = registry.get("", "v1", "pods")
    assert pods_rt is not None
    admitted = await admit_connect(pods_rt, sub, info.namespace, info.name, opts)
    if admitted is not opts and admitted != opts:
        fields = {name for name, _ in connectoptions.FIELDS[kind]}
        query = [(k, v) for k, v in request.query.items() if k not in fields]
        query += connectoptions.to_query(kind, admitted)
        request = request.clone(rel_url=request.rel_url.with_query(query))
    return admitted, request


async def pod_exec(
    rest: Rest,
    registry: Registry,
    info: RequestInfo,
    request: web.Request,
    user: Any,
    authorizer: Any,
) -> web.StreamResponse:
    """Serve /api/v1/namespaces/{ns}/pods/{name}/exec and /attach (GET upgrade or POST)."""
    kind = info.subresource or "exec"
    authorize(authorizer, user, info)
    _, request = await admit(registry, info, request)
    opts = stream_options(request.query)
    pods_rt = registry.get("", "v1", "pods")
    assert pods_rt is not None
    pod = (await rest.current(pods_rt, info.namespace, info.name)).decode()
    container = choose_container(pod, opts.container)
    node_name = node_of(pod, info.name)
    if opts.tty:
        opts.stderr = False  # the kubelet bypasses stderr with a terminal
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise bad_request(NO_STREAMS)
    if kind == "exec" and not opts.command:
        raise bad_request(NO_COMMAND)
    if rest.pod_exec_hook is not None:  # a virtual cluster: the pod runs on the host
        return await rest.pod_exec_hook(kind, info.namespace, info.name, container, request)
    path = f"/{kind}/{info.namespace}/{info.name}/{container}"
    return await relay_to_kubelet(rest, registry, request, node_name, path, opts.kubelet_query(kind), "exec")
