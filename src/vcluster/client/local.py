"""The client side of in-process requests (the server side is `vcluster.apiserver.local`): a
`Client` given a `LocalHandler` sends its ordinary requests through it instead of HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

from multidict import CIMultiDictProxy
from yarl import URL

# (method, url with path and query, headers, body, body encoded here from a dict) ->
# (status, headers, body)
LocalHandler = Callable[
    [str, URL, Mapping[str, str], bytes, bool], Awaitable[tuple[int, CIMultiDictProxy[str], bytes]]
]


class LocalWatchStream(Protocol):
    """An in-process watch (`vcluster.apiserver.local.LocalWatch`)."""

    def lines(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


# (method, url, headers) -> (status, headers, body or the watch stream when status is 200)
LocalStreamOpener = Callable[
    [str, URL, Mapping[str, str]],
    Awaitable[tuple[int, CIMultiDictProxy[str], "bytes | LocalWatchStream"]],
]

# Paths whose handlers stream or upgrade the connection: never answered in process.
_STREAMING_SUFFIXES = ("/log", "/exec", "/attach", "/portforward", "/proxy")


def is_local_path(path: str, params: Any) -> bool:
    """Whether a request can be answered in process (no watch, log, exec, proxy...)."""
    if path.endswith(_STREAMING_SUFFIXES) or "/proxy/" in path or "/watch/" in path:
        return False
    watch = params.get("watch") if isinstance(params, Mapping) else None
    return watch in (None, False, "false", "0")
