"""The loop's exception handler: uvloop's closed-transport TLS race at debug level, all else as asyncio."""

from __future__ import annotations

import asyncio
import logging

import pytest

from vcluster.eventloop import run

RACE = RuntimeError(
    "unable to perform operation on <TCPTransport closed=True reading=False 0x5644b6839400>; "
    "the handler is closed"
)


async def _report(context: dict[str, object]) -> None:
    asyncio.get_running_loop().call_exception_handler(context)


def test_the_closed_transport_race_is_logged_at_debug_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    run(_report({"message": "Fatal error on SSL protocol", "exception": RACE}))
    race = [r for r in caplog.records if "already closed connection" in r.getMessage()]
    assert [r.levelno for r in race] == [logging.DEBUG]
    assert race[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "context",
    [
        {"message": "Fatal error on SSL protocol", "exception": RuntimeError("something else broke")},
        {"message": "Exception in callback foo()", "exception": RACE},
        {"message": "Task exception was never retrieved", "exception": ValueError("bad")},
    ],
)
def test_every_other_loop_error_still_reaches_asyncios_handler(
    context: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    run(_report(context))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "asyncio"]
    assert len(errors) == 1 and errors[0].getMessage() == context["message"]
    assert errors[0].exc_info is not None and errors[0].exc_info[1] is context["exception"]


def test_run_returns_the_coroutines_result_on_uvloop() -> None:
    async def loop_kind() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run(loop_kind()).startswith("uvloop")
