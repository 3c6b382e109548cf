"""vCluster CLI flags that have no meaning here: accepted by name so that they fail with a message
saying why, instead of click's "no such option" or being silently ignored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from vcluster.cli import ui

Decorator = Callable[[Any], Any]


def _refuse(flag: str, reason: str) -> ui.CliError:
    return ui.CliError(f"{flag} is not supported by this vcluster: {reason}")


def refused_option(
    flag: str, reason: str, *, allowed: tuple[str, ...] = (), multiple: bool = False
) -> Decorator:
    """A hidden option taking a value that fails with `reason` unless the value is one of `allowed`."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        values = value if multiple else (value,) if value is not None else ()
        for v in values:
            if str(v) not in allowed:
                raise _refuse(flag, reason)

    return click.option(
        flag, default=None, hidden=True, expose_value=False, multiple=multiple, callback=check
    )


def go_bool_option(*decls: str, **kw: Any) -> Decorator:
    """A bool flag as cobra parses one: `--x` alone is true, `--x=true|false` sets it."""
    return click.option(*decls, type=click.BOOL, is_flag=False, flag_value=True, **kw)


def refused_flag(flag: str, reason: str, *, default: bool = False) -> Decorator:
    """A hidden boolean flag (`--flag`, `--flag=true|false`, as cobra's) that fails when set to the
    value that differs from `default`, the behaviour this vcluster lacks."""

    def check(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value != default:
            raise _refuse(f"{flag}={str(value).lower()}", reason)

    return go_bool_option(
        flag,
        default=default,
        hidden=True,
        expose_value=False,
        callback=check,
    )
