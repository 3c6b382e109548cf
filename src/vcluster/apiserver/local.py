"""In-process requests: the controllers, the syncer and the simulated host's kubelets run in the
API server's own process, and their ordinary (non-streaming) requests skip HTTP altogether.

A `LocalRequest` carries what the handlers read from an aiohttp request (method, path, query,
headers, body); it goes through the same `APIServer.dispatch` as a network request, so
authentication, authorization, admission, validation, metrics and error answers are the same.
Watches and other streams still use the server's Unix socket (the client side is
`vcluster.client.local`).
"""

from __future__ import annotations

from collections.abc import Mapping
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


class LocalRequest:
    """The part of `aiohttp.web.Request` the API server's handlers use."""

    __slots__ = ("content", "content_length", "dup_free", "headers", "method", "rel_url")

    transport = None  # no TLS peer certificate: the Authorization header authenticates

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

    @property
    def path(self) -> str:
        return self.rel_url.path

    @property
    def path_qs(self) -> str:
        return self.rel_url.path_qs

    @property
    def query(self) -> Any:
        return self.rel_url.query
