"""A small etcd v3 client over etcd's JSON gateway (grpc-gateway, served under /v3/ since etcd 3.4).

Only what the store needs: range, txn, lease grant, compaction, status and a streaming watch.
Keys and values travel base64-encoded; int64 fields come back as JSON strings. TLS verifies the
server with `ca_file` (system roots without one) and presents `cert_file`/`key_file` when given,
as kube-apiserver's --etcd-cafile/--etcd-certfile/--etcd-keyfile do. Connection failures and
etcd's Unavailable / DeadlineExceeded answers raise `EtcdUnavailable`.

Several members (a comma-separated endpoint list, as kube-apiserver's --etcd-servers and kine's
etcd endpoint take it) are used the way clientv3's balancer and retry interceptor use them
(client/v3/retry.go): the client talks to one member and moves to the next when it cannot be
reached or answers Unavailable; reads, status and lease grants are retried on the other members on
any Unavailable, writes (txn, compaction) only when they cannot have been applied: the connection
was never made, or the member refused them for having no leader. Every request carries
`hasleader` metadata (clientv3.WithRequireLeader), so a member cut off from the quorum answers
"etcdserver: no leader" at once, and cancels a watch stream when it loses its leader.

A member that hangs instead of dying (stopped, frozen, a dead host whose TCP connections stay open)
is found the way clientv3 finds it with gRPC keepalive (kube-apiserver's DialKeepAliveTime/Timeout):
when a request or a watch stream has heard nothing from its member for KEEPALIVE_TIME, the member is
probed (GET /version, served without raft) and, without an answer within KEEPALIVE_TIMEOUT, counts as
gone: the request fails over as if its connection had dropped, and the watch ends so that it is made
again on another member.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import orjson

# grpc codes etcd answers with (google.golang.org/grpc/codes)
_OUT_OF_RANGE = 11
_UNAVAILABLE = 14
_DEADLINE = 4
REQUEST_TIMEOUT = 10.0  # seconds for one unary call
CONNECT_TIMEOUT = 3.0
# gRPC keepalive over HTTP/1.1: a member silent for KEEPALIVE_TIME while a request or a watch waits
# on it is probed, and left when the probe gets no answer within KEEPALIVE_TIMEOUT (kube-apiserver
# uses 30 s / 10 s on its gRPC transports; here a hung member is left within a few seconds)
KEEPALIVE_TIME = 1.5
KEEPALIVE_TIMEOUT = 1.5
# how long requests are retried while every member answers that it has no leader (an election:
# etcd's default election timeout is 1 s); clientv3 retries reads 100 times, 25 ms apart and more
ELECTION_WAIT = 5.0
RETRY_BACKOFF = 0.025
# grpc-gateway passes Grpc-Metadata-* headers on as gRPC metadata: this is clientv3.WithRequireLeader
REQUIRE_LEADER_HEADER = "Grpc-Metadata-hasleader"
# what a member answers, before doing anything, when it has no leader or its leader changed while
# it waited for a read index (rpctypes.ErrGRPCNoLeader, ErrGRPCLeaderChanged): safe to send elsewhere
_LEADERLESS = ("etcdserver: no leader", "etcdserver: leader changed")

log = logging.getLogger("vcluster.store.etcd")
T = TypeVar("T")


class EtcdError(Exception):
    """etcd refused a request; `code` is the gRPC status code."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class EtcdUnavailable(EtcdError):
    """etcd cannot be reached, or answered that it is unavailable (no leader, timed out).

    `sent` is False when the request cannot have been applied (no connection was made, or the
    member refused it before raft saw it), so even a write may go to another member."""

    def __init__(self, message: str, code: int = 0, *, sent: bool = True) -> None:
        super().__init__(message, code)
        self.sent = sent


class EtcdCompacted(EtcdError):
    """mvcc: required revision has been compacted."""


class EtcdFutureRevision(EtcdError):
    """mvcc: required revision is a future revision."""


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


@dataclass(slots=True)
class KeyValue:
    """One mvccpb.KeyValue."""

    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int

    @classmethod
    def parse(cls, d: dict[str, Any]) -> KeyValue:
        return cls(
            unb64(d.get("key")),
            unb64(d.get("value")),
            int(d.get("create_revision", 0)),
            int(d.get("mod_revision", 0)),
            int(d.get("version", 0)),
            int(d.get("lease", 0)),
        )


@dataclass(slots=True)
class WatchEvent:
    """One mvccpb.Event: PUT or DELETE (a DELETE's kv has only the key and the mod_revision)."""

    deleted: bool
    kv: KeyValue
    prev: KeyValue | None


@dataclass(slots=True)
class WatchResult:
    """One WatchResponse."""

    revision: int
    events: list[WatchEvent] = field(default_factory=list)
    created: bool = False
    canceled: bool = False
    compact_revision: int = 0
    cancel_reason: str = ""


@dataclass(frozen=True, slots=True)
class EtcdEndpoint:
    """Where etcd is and how to talk to it. `url` is http(s)://HOST:PORT, or several of them
    separated by commas (the members of one etcd cluster)."""

    url: str
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(u.strip() for u in self.url.split(",") if u.strip())

    @property
    def tls(self) -> bool:
        return any(u.startswith("https://") for u in self.urls)

    def ssl_context(self) -> ssl.SSLContext | None:
        """Server verification with ca_file (system roots without it) and the client certificate."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=self.ca_file or None)
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file or None)
        return ctx


def normalize_endpoint(endpoint: str, *, tls: bool) -> str:
    """http(s)://HOST:PORT[,...] from an endpoint (list) as vcluster.yaml or --datastore gives it
    (`HOST:PORT` means https when TLS files are given, else http); ValueError when it is not one."""
    items = endpoint.split(",")
    if len(items) == 1:
        return _normalize_one(endpoint, tls=tls)
    urls: list[str] = []
    for item in items:
        if not item.strip():
            raise ValueError(
                f"{endpoint!r} has an empty entry; give the members as https://HOST:PORT,https://HOST:PORT"
            )
        url = _normalize_one(item, tls=tls)
        if url in urls:
            raise ValueError(f"{endpoint!r} lists {url} twice")
        urls.append(url)
    if len({u.split("://", 1)[0] for u in urls}) > 1:
        raise ValueError(f"{endpoint!r} mixes http:// and https:// members; all must use the same scheme")
    return ",".join(urls)


def _normalize_one(endpoint: str, *, tls: bool) -> str:
    text = endpoint.strip().rstrip("/")
    if not text:
        raise ValueError("an empty endpoint; give https://HOST:PORT (or http://HOST:PORT without TLS)")
    if "://" not in text:
        text = ("https://" if tls else "http://") + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{endpoint!r}: the scheme must be http or https")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{endpoint!r}: the port is not a number") from None
    if not parts.hostname or parts.path or parts.query or parts.username:
        raise ValueError(f"{endpoint!r} is not HOST:PORT; give https://HOST:PORT")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port or 2379}"


class EtcdClient:
    """Calls to an etcd cluster through its members' JSON gateways, one member at a time (the one
    that last answered), moving on as clientv3's retry rules allow; one aiohttp session, made on
    first use."""

    def __init__(self, endpoint: EtcdEndpoint) -> None:
        self.endpoint = endpoint
        self.urls = endpoint.urls or (endpoint.url,)
        self._ssl = endpoint.ssl_context()
        self._session: aiohttp.ClientSession | None = None
        # keepalive probes get a session of their own: never queued behind requests in the pool
        self._probe_session: aiohttp.ClientSession | None = None
        self._pinned = 0  # index of the member requests go to first
        self._heard: dict[str, float] = {}  # member -> when it last answered anything
        self._keepalives: dict[str, asyncio.Future[bool]] = {}  # the liveness probe in flight per member
        self.failovers = 0
        self.hung = 0  # members left because they stopped answering

    @property
    def member(self) -> str:
        """The member requests go to first."""
        return self.urls[self._pinned]

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            conn = aiohttp.TCPConnector(limit=64, ssl=self._ssl if self._ssl is not None else False)
            self._session = aiohttp.ClientSession(
                connector=conn,
                json_serialize=lambda o: orjson.dumps(o).decode(),
                headers={REQUIRE_LEADER_HEADER: "true"},
            )
        return self._session

    def _probe_http(self) -> aiohttp.ClientSession:
        if self._probe_session is None or self._probe_session.closed:
            conn = aiohttp.TCPConnector(limit=0, ssl=self._ssl if self._ssl is not None else False)
            self._probe_session = aiohttp.ClientSession(connector=conn)
        return self._probe_session

    async def close(self) -> None:
        for probe in self._keepalives.values():
            probe.cancel()
        self._keepalives.clear()
        for session in (self._session, self._probe_session):
            if session is not None:
                await session.close()
        self._session = self._probe_session = None

    def _order(self) -> list[int]:
        """Member indexes in the order to try them: the pinned one, then the next ones."""
        n = len(self.urls)
        return [(self._pinned + i) % n for i in range(n)]

    def _pin(self, index: int) -> None:
        if index != self._pinned:
            log.warning("etcd: moved from %s to %s", self.urls[self._pinned], self.urls[index])
            self._pinned = index
            self.failovers += 1

    async def call(
        self, path: str, body: dict[str, Any], timeout: float = REQUEST_TIMEOUT, *, mutating: bool = False
    ) -> dict[str, Any]:
        """POST one request to /v3/`path` of a member; the decoded answer or an EtcdError.

        A member that cannot be reached or answers Unavailable hands the request to the next one,
        unless it is a write (`mutating`) that may have been applied. While the members answer that
        they have no leader (an election), rounds are repeated for up to ELECTION_WAIT seconds."""
        if len(self.urls) == 1:
            return await self._call_one(self.urls[0], path, body, timeout)
        deadline = time.monotonic() + ELECTION_WAIT
        backoff = RETRY_BACKOFF
        while True:
            failures: list[tuple[str, EtcdUnavailable]] = []
            for index in self._order():
                url = self.urls[index]
                try:
                    out = await self._call_one(url, path, body, timeout)
                except EtcdUnavailable as e:
                    if mutating and e.sent:
                        self._pin((index + 1) % len(self.urls))  # the next request starts elsewhere
                        raise
                    failures.append((url, e))
                    continue
                self._pin(index)
                return out
            electing = any(_leaderless(e) for _, e in failures)
            if not electing or time.monotonic() + backoff > deadline:
                raise _all_failed(failures)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 0.5)

    async def _answer(self, url: str, aw: Awaitable[T]) -> T:
        """Await `aw`, an exchange with member `url`, as a gRPC transport with keepalive would: each
        time nothing was heard from the member for KEEPALIVE_TIME it is probed, and when it does not
        answer `aw` is abandoned with EtcdUnavailable (the request may have reached it)."""
        task = asyncio.ensure_future(aw)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=KEEPALIVE_TIME)
                if not done and time.monotonic() - self._heard.get(url, 0.0) >= KEEPALIVE_TIME:
                    alive = await self._alive(url)
                    if not alive and not task.done():
                        self.hung += 1
                        raise EtcdUnavailable(
                            f"etcd at {url} stopped answering (no answer to a keepalive probe within "
                            f"{KEEPALIVE_TIMEOUT:g}s)"
                        )
                if task.done():
                    out = task.result()
                    self._heard[url] = time.monotonic()
                    return out
        finally:
            task.cancel()  # abandoned (hung member, or the caller was cancelled): the connection closes

    async def _alive(self, url: str) -> bool:
        """Whether the member answers a keepalive probe in time; concurrent waiters share one."""
        probe = self._keepalives.get(url)
        if probe is None or probe.done():
            probe = asyncio.ensure_future(self._probe_alive(url))
            self._keepalives[url] = probe
        return await asyncio.shield(probe)

    async def _probe_alive(self, url: str) -> bool:
        """GET /version: the member's HTTP server answers it without raft, so only a member that
        does not run (or a network that drops everything) leaves it unanswered."""
        to = aiohttp.ClientTimeout(total=KEEPALIVE_TIMEOUT)
        try:
            async with self._probe_http().get(f"{url}/version", timeout=to) as resp:
                await resp.read()
        except (aiohttp.ClientError, OSError, TimeoutError):
            log.warning("etcd at %s did not answer a keepalive probe within %gs", url, KEEPALIVE_TIMEOUT)
            return False
        self._heard[url] = time.monotonic()
        return True

    async def _post(
        self, url: str, path: str, body: dict[str, Any], to: aiohttp.ClientTimeout
    ) -> tuple[int, bytes]:
        async with self._http().post(f"{url}/v3/{path}", data=orjson.dumps(body), timeout=to) as resp:
            return resp.status, await resp.read()

    async def _open(
        self, url: str, body: dict[str, Any], to: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        return await self._http().post(f"{url}/v3/watch", data=orjson.dumps(body), timeout=to)

    async def _call_one(self, url: str, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        to = aiohttp.ClientTimeout(total=timeout, connect=CONNECT_TIMEOUT)
        try:
            status, data = await self._answer(url, self._post(url, path, body, to))
        except aiohttp.ClientConnectorCertificateError as e:
            raise EtcdUnavailable(f"TLS with {url} failed: {e.certificate_error}", sent=False) from None
        except ssl.SSLError as e:
            raise EtcdUnavailable(
                f"TLS with {url} failed: {getattr(e, 'reason', None) or e}", sent=False
            ) from None
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            raise EtcdUnavailable(f"cannot reach etcd at {url}: {_reason(e)}", sent=False) from None
        except (aiohttp.ClientError, OSError) as e:
            raise EtcdUnavailable(f"cannot reach etcd at {url}: {_reason(e)}") from None
        except TimeoutError:
            raise EtcdUnavailable(f"etcd at {url} did not answer within {timeout:g}s") from None
        try:
            out = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise EtcdError(f"etcd at {url} answered HTTP {status}: {data[:200]!r}") from None
        if status != 200 or ("error" in out and "header" not in out):
            raise _error(out, status)
        return out

    # ---------------------------------------------------------------- KV
    async def range(
        self,
        key: str | bytes,
        range_end: str | bytes | None = None,
        *,
        revision: int = 0,
        limit: int = 0,
        count_only: bool = False,
    ) -> tuple[int, list[KeyValue], bool]:
        """(header revision, kvs, more)."""
        body: dict[str, Any] = {"key": b64(key)}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        if revision:
            body["revision"] = str(revision)
        if limit:
            body["limit"] = str(limit)
        if count_only:
            body["count_only"] = True
        out = await self.call("kv/range", body)
        kvs = [KeyValue.parse(kv) for kv in out.get("kvs", ())]
        return int(out["header"]["revision"]), kvs, bool(out.get("more"))

    async def txn(
        self, compare: list[dict[str, Any]], success: list[dict[str, Any]], failure: list[dict[str, Any]]
    ) -> dict[str, Any]:
        body = {"compare": compare, "success": success, "failure": failure}
        return await self.call("kv/txn", body, mutating=True)

    async def revision(self) -> int:
        """The current revision (a count-only range of one key: no data travels)."""
        rev, _, _ = await self.range("compact_rev_key", count_only=True)
        return rev

    async def lease_grant(self, ttl: int) -> int:
        out = await self.call("lease/grant", {"TTL": str(ttl)})
        return int(out["ID"])

    async def compact(self, revision: int) -> None:
        await self.call("kv/compaction", {"revision": str(revision)}, mutating=True)

    async def status(self) -> dict[str, Any]:
        return await self.call("maintenance/status", {})

    # ---------------------------------------------------------------- watch
    async def watch(
        self, key: str, range_end: str, start_revision: int, *, prev_kv: bool = True
    ) -> AsyncIterator[WatchResult]:
        """The responses of one watch, as etcd streams them, until it is canceled or the connection
        drops (EtcdUnavailable), or its member stops answering (keepalive, as for a request). It is
        made on the first member that accepts it (a member that cannot be reached or has no leader
        is passed over); after it drops, the caller watches again from the revision after the last
        one it got, as clientv3's watcher resumes on another member, and starts with the next
        member. Progress notifications are asked for (as kube's watch cache does): results without
        events, which etcd sends on an idle watch at its --experimental-watch-progress-notify-interval."""
        body = {
            "create_request": {
                "key": b64(key),
                "range_end": b64(range_end),
                "start_revision": str(start_revision),
                "prev_kv": prev_kv,
                "progress_notify": True,
            }
        }
        to = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=None)
        failures: list[tuple[str, EtcdUnavailable]] = []
        for index in self._order():
            url = self.urls[index]
            created = False
            try:
                async with await self._answer(url, self._open(url, body, to)) as resp:
                    if resp.status != 200:
                        raise _error(_loads(await resp.read()), resp.status)
                    while True:
                        line = await self._answer(url, resp.content.readline())
                        if not line:
                            raise EtcdUnavailable(f"the watch stream from {url} ended")
                        if not line.strip():
                            continue
                        msg = _loads(line)
                        if "result" not in msg:
                            raise _error(msg.get("error") or msg, resp.status)
                        if not created:
                            created = True
                            self._pin(index)
                        yield _watch_result(msg["result"])
            except (aiohttp.ClientError, OSError) as e:
                err = EtcdUnavailable(f"the watch on {url} failed: {_reason(e)}", sent=created)
            except EtcdUnavailable as e:
                err = e
            if created:
                if len(self.urls) > 1:
                    self._pin((index + 1) % len(self.urls))
                raise err
            failures.append((url, err))
        raise _all_failed(failures)


def _leaderless(e: EtcdError) -> bool:
    """The member refused the request for having no leader (nothing was done)."""
    msg = str(e)
    return any(m in msg for m in _LEADERLESS)


def _all_failed(failures: list[tuple[str, EtcdUnavailable]]) -> EtcdUnavailable:
    """One error naming every member and what each answered."""
    if len(failures) == 1:
        return failures[0][1]
    parts = [str(e) if url in str(e) else f"{url}: {e}" for url, e in failures]
    return EtcdUnavailable(
        f"no etcd member answered ({len(failures)} tried): " + "; ".join(parts),
        failures[-1][1].code,
        sent=any(e.sent for _, e in failures),
    )


def _loads(data: bytes) -> dict[str, Any]:
    with contextlib.suppress(orjson.JSONDecodeError):
        out = orjson.loads(data)
        if isinstance(out, dict):
            return out
    return {"error": data[:200].decode(errors="replace")}


def _watch_result(r: dict[str, Any]) -> WatchResult:
    events = []
    for e in r.get("events", ()):
        prev = e.get("prev_kv")
        events.append(
            WatchEvent(
                e.get("type") == "DELETE", KeyValue.parse(e["kv"]), KeyValue.parse(prev) if prev else None
            )
        )
    return WatchResult(
        int(r.get("header", {}).get("revision", 0)),
        events,
        bool(r.get("created")),
        bool(r.get("canceled")),
        int(r.get("compact_revision", 0)),
        r.get("cancel_reason", ""),
    )


def _error(out: dict[str, Any], status: int) -> EtcdError:
    """The error of a gateway answer: a unary call's {"error","message","code"} or a watch stream's
    {"grpc_code","http_code","message"}, alone or under "error"."""
    if isinstance(out.get("error"), dict):
        out = out["error"]
    msg = str(out.get("message") or out.get("error") or f"HTTP {status}")
    code = int(out.get("code", 0) or out.get("grpc_code", 0) or 0)
    status = int(out.get("http_code", 0) or status)
    if "required revision has been compacted" in msg:
        return EtcdCompacted(msg, code)
    if "required revision is a future revision" in msg:
        return EtcdFutureRevision(msg, code)
    if code in (_UNAVAILABLE, _DEADLINE) or status in (502, 503, 504):
        return EtcdUnavailable(msg, code, sent=not any(m in msg for m in _LEADERLESS))
    return EtcdError(msg, code)


def _reason(e: BaseException) -> str:
    """The OS reason of a connection failure (Connection refused, Name or service not known)."""
    inner = getattr(e, "os_error", None) or e.__cause__ or e
    return getattr(inner, "strerror", None) or str(inner) or type(e).__name__


def explain(endpoint: EtcdEndpoint, e: EtcdError) -> str:
    """What went wrong talking to etcd, and what to check."""
    msg = str(e)
    low = msg.lower()
    if "certificate verify failed" in low:
        hint = "caFile must be the CA that signed etcd's serving certificate (and name this host)"
    elif "wrong version number" in low or "record layer failure" in low:
        hint = "etcd does not speak TLS there: use http://"
    elif "http request to an https server" in low or (not endpoint.tls and "disconnected" in low):
        hint = (
            "etcd closed the plain HTTP connection: if it serves TLS there, use https:// with caFile "
            "(and certFile/keyFile)"
        )
    elif any(w in low for w in ("certificate required", "bad certificate", "unknown ca")) or (
        endpoint.tls and any(w in low for w in ("closing transport", "disconnected", "reset by peer"))
    ):
        # TLS 1.3: etcd refuses the client certificate after the handshake, so the client may only
        # see the connection close
        hint = (
            "etcd asks for a client certificate it trusts: give certFile and keyFile signed by "
            "etcd's --trusted-ca-file CA"
        )
    elif "refused" in low or "cannot reach" in low:
        where = "those addresses" if len(endpoint.urls) > 1 else "that address"
        hint = f"check that etcd is running and listening for clients at {where}"
    elif "no leader" in low:
        hint = "etcd has no leader: check that a majority of its members are running and see each other"
    else:
        hint = "check the endpoint and that etcd is healthy"
    return f"{msg}; {hint}"
