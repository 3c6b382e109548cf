"""Stopping background tasks: cancel them all, then wait for every one to end."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("vcluster.tasks")


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]], what: str = "task") -> None:
    """Cancel `tasks` and wait until each has ended. A task that had failed is logged (it cannot
    be retried at stop); the caller's own cancellation still propagates."""
    pending = list(tasks)
    for t in pending:
        t.cancel()
    results = await asyncio.gather(*pending, return_exceptions=True)
    for t, r in zip(pending, results, strict=True):
        if isinstance(r, Exception):
            log.warning("%s %s had failed: %r", what, getattr(t, "get_name", lambda: "?")(), r)
