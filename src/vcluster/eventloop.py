"""Running the process's uvloop loop, with an exception handler for uvloop's closed-transport TLS race.

uvloop (0.17-0.23, MagicStack/uvloop#506) can still run a TLS read for a connection whose TCP
transport it has just closed; the read wants to send (a TLS alert or close_notify) and the closed
transport raises `RuntimeError: unable to perform operation on <TCPTransport closed=True ...>; the
handler is closed`, which uvloop reports to the loop's exception handler as "Fatal error on SSL
protocol" with a traceback. The connection was being closed anyway and nothing is lost, so that one
case is logged at debug level; every other context goes to asyncio's default handler unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger("vcluster.loop")


def is_closed_transport_race(context: dict[str, Any]) -> bool:
    """True for uvloop's write to a TCP transport it already closed, reported from a TLS protocol."""
    exc = context.get("exception")
    return (
        isinstance(exc, RuntimeError)
        and str(context.get("message", "")).startswith("Fatal error on SSL")
        and "the handler is closed" in str(exc)
    )


def handle_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if is_closed_transport_race(context):
        log.debug("TLS data for an already closed connection dropped: %s", context.get("exception"))
        return
    loop.default_exception_handler(context)


def install_exception_handler() -> None:
    """Use `handle_loop_exception` on the running loop (call first thing in a process's main coroutine)."""
    asyncio.get_running_loop().set_exception_handler(handle_loop_exception)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion on a new uvloop loop that uses `handle_loop_exception`."""

    async def main() -> T:
        install_exception_handler()
        return await coro

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.run(main())
    return uvloop.run(main())
