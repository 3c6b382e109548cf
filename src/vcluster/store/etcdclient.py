"""A small etcd v3 client over etcd's JSON gateway (grpc-gateway, served under /v3/ since etcd 3.4).

Only what the store needs: range, txn, lease grant, compaction, status and a streaming watch.
Keys and values travel base64-encoded; int64 fields come back as JSON strings. TLS verifies the
server with `ca_file` (system roots without one) and presents `cert_file`/`key_file` when given,
as kube-apiserver's --etcd-cafile/--etcd-certfile/--etcd-keyfile do. Connection failures and
etcd's Unavailable / DeadlineExceeded answers raise `EtcdUnavailable`.
"""

from __future__ import annotations

import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

# grpc codes etcd answers with (google.golang.org/grpc/codes)
_OUT_OF_RANGE = 11
_UNAVAILABLE = 14
_DEADLINE = 4
REQUEST_TIMEOUT = 10.0  # seconds for one unary call
CONNECT_TIMEOUT = 3.0


class EtcdError(Exception):
    """etcd refused a request; `code` is the gRPC status code."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class EtcdUnavailable(EtcdError):
    """etcd cannot be reached, or answered that it is unavailable (no leader, timed out)."""


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
    """Where etcd is and how to talk to it. `url` is http(s)://HOST:PORT."""

    url: str
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""

    @property
    def tls(self) -> bool:
        return self.url.startswith("https://")

    def ssl_context(self) -> ssl.SSLContext | None:
        """Server verification with ca_file (system roots without it) and the client certificate."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=self.ca_file or None)
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file or None)
        return ctx


def normalize_endpoint(endpoint: str, *, tls: bool) -> str:
    """http(s)://HOST:PORT from an endpoint as vcluster.yaml gives it (`HOST:PORT` means https when
    TLS files are given, else http); ValueError when it is not one."""
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
    """Calls to one etcd endpoint through its JSON gateway; one aiohttp session, made on first use."""

    def __init__(self, endpoint: EtcdEndpoint) -> None:
        self.endpoint = endpoint
        self._ssl = endpoint.ssl_context()
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            conn = aiohttp.TCPConnector(limit=64, ssl=self._ssl if self._ssl is not None else False)
            self._session = aiohttp.ClientSession(
                connector=conn, json_serialize=lambda o: orjson.dumps(o).decode()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, path: str, body: dict[str, Any], timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
        """POST one request to /v3/`path`; the decoded answer or an EtcdError."""
        url = f"{self.endpoint.url}/v3/{path}"
        to = aiohttp.ClientTimeout(total=timeout, connect=CONNECT_TIMEOUT)
        try:
            async with self._http().post(url, data=orjson.dumps(body), timeout=to) as resp:
                data = await resp.read()
                status = resp.status
        except aiohttp.ClientConnectorCertificateError as e:
            raise EtcdUnavailable(f"TLS with {self.endpoint.url} failed: {e.certificate_error}") from None
        except ssl.SSLError as e:
            raise EtcdUnavailable(
                f"TLS with {self.endpoint.url} failed: {getattr(e, 'reason', None) or e}"
            ) from None
        except (aiohttp.ClientError, OSError) as e:
            raise EtcdUnavailable(f"cannot reach etcd at {self.endpoint.url}: {_reason(e)}") from None
        except TimeoutError:
            raise EtcdUnavailable(f"etcd at {self.endpoint.url} did not answer within {timeout:g}s") from None
        try:
            out = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise EtcdError(f"etcd at {self.endpoint.url} answered HTTP {status}: {data[:200]!r}") from None
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
        return await self.call("kv/txn", {"compare": compare, "success": success, "failure": failure})

    async def revision(self) -> int:
        """The current revision (a count-only range of one key: no data travels)."""
        rev, _, _ = await self.range("compact_rev_key", count_only=True)
        return rev

    async def lease_grant(self, ttl: int) -> int:
        out = await self.call("lease/grant", {"TTL": str(ttl)})
        return int(out["ID"])

    async def compact(self, revision: int) -> None:
        await self.call("kv/compaction", {"revision": str(revision)})

    async def status(self) -> dict[str, Any]:
        return await self.call("maintenance/status", {})

    # ---------------------------------------------------------------- watch
    async def watch(
        self, key: str, range_end: str, start_revision: int, *, prev_kv: bool = True
    ) -> AsyncIterator[WatchResult]:
        """The responses of one watch, as etcd streams them, until it is canceled or the connection
        drops (EtcdUnavailable)."""
        body = {
            "create_request": {
                "key": b64(key),
                "range_end": b64(range_end),
                "start_revision": str(start_revision),
                "prev_kv": prev_kv,
            }
        }
        url = f"{self.endpoint.url}/v3/watch"
        to = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=None)
        try:
            async with self._http().post(url, data=orjson.dumps(body), timeout=to) as resp:
                if resp.status != 200:
                    raise _error(_loads(await resp.read()), resp.status)
                while True:
                    line = await resp.content.readline()
                    if not line:
                        raise EtcdUnavailable(f"the watch stream from {self.endpoint.url} ended")
                    if not line.strip():
                        continue
                    msg = _loads(line)
                    if "result" not in msg:
                        raise _error(msg.get("error") or msg, resp.status)
                    yield _watch_result(msg["result"])
        except (aiohttp.ClientError, OSError) as e:
            raise EtcdUnavailable(f"the watch on {self.endpoint.url} failed: {_reason(e)}") from None


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
    msg = str(out.get("message") or out.get("error") or f"HTTP {status}")
    code = int(out.get("code", 0) or 0)
    if "required revision has been compacted" in msg:
        return EtcdCompacted(msg, code)
    if "required revision is a future revision" in msg:
        return EtcdFutureRevision(msg, code)
    if code in (_UNAVAILABLE, _DEADLINE) or status in (502, 503, 504):
        return EtcdUnavailable(msg, code)
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
        hint = "check that etcd is running and listening for clients at that address"
    else:
        hint = "check the endpoint and that etcd is healthy"
    return f"{msg}; {hint}"
