"""In-process requests: the controllers, the syncer and the simulated host's kubelets run in the
API server's own process, and their ordinary (non-streaming) requests skip HTTP altogether.

A `LocalRequest` carries what the handlers read from an aiohttp request (method, path, query,
headers, body); it goes through the same `APIServer.dispatch` as a network request, so
authentication, authorization, admission, validation, metrics and error answers are the same.
Watches are streamed in process too (`LocalStream`: the watch handler writes its JSON lines into
a queue the client reads); logs, exec, port-forward and proxies still use the server's Unix
socket. The client side is `vcluster.client.local`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL


class _Body:
    """`request.content` for a body already in memory."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self, n: int = -1) -> bytes:
        if n < 0 or n >= len(self._data):
            out, self._data = self._data, b""
            return out
        out, self._data = self._data[:n], self._data[n:]
        return out


class LocalStream:
    """The response of an in-process watch: what the handler writes is queued for the client.
    `pending` counts the queued bytes, the in-process counterpart of a socket's unsent data."""

    _req = None  # watchstream looks for a transport to watch for a closed connection here

    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.prepared = asyncio.Event()
        self.closed = False  # the client went away
        self.pending = 0
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def enable_chunked_encoding(self) -> None:
        pass

    async def prepare(self, request: Any) -> LocalStream:
        from vcluster.apiserver.audit import on_prepare

        on_prepare(self.status, self.headers)
        self.prepared.set()
        return self

    def push(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("the in-process watch client went away")
        self.pending += len(data)
        self._queue.put_nowait(data)

    async def write(self, data: bytes) -> None:
        self.push(data)

    async def write_eof(self, data: bytes = b"") -> None:
        if data:
            self.push(data)
        self._queue.put_nowait(None)

    async def chunks(self) -> AsyncIterator[bytes]:
        """What the handler wrote, until it ends the stream."""
        while True:
            data = await self._queue.get()
            if data is None:
                return
            self.pending -= len(data)
            yield data


class LocalRequest:
    """The part of `aiohttp.web.Request` the API server's handlers use."""

    __slots__ = ("content", "content_length", "dup_free", "headers", "method", "rel_url", "stream")

    transport = None  # no TLS peer certificate: the Authorization header authenticates
    in_process = True  # this process's own controllers and syncer

    def __init__(
        self, method: str, url: URL, headers: Mapping[str, str], body: bytes, dup_free: bool = False
    ) -> None:
        self.method = method.upper()
        # the JSON body was encoded from a dict by our client: it cannot repeat a key, and the
        # strict field validation skips looking for duplicates
        self.dup_free = dup_free
        self.rel_url = url
        self.headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict(headers))
        self.content = _Body(body)
        self.content_length = len(body)
        self.stream: LocalStream | None = None  # set for a watch answered in process

    @property
    def path(self) -> str:
        return self.rel_url.path

    @property
    def path_qs(self) -> str:
        return self.rel_url.path_qs

    @property
    def query(self) -> Any:
        return self.rel_url.query


class LocalWatch:
    """An in-process watch being answered: its lines, and `close()` (the client going away)."""

    def __init__(self, stream: LocalStream, task: asyncio.Task[Any]) -> None:
        self._stream = stream
        self._task = task

    async def lines(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream.chunks():
            for line in chunk.split(b"\n"):
                if line.strip():
                    yield line

    async def close(self) -> None:
        self._stream.closed = True
        if not self._task.done():
            self._task.cancel()
        await asyncio.wait({self._task})  # the caller's own cancellation still propagates
        if not self._task.cancelled():
            self._task.exception()  # retrieved: the handler's end is of no interest once closed
