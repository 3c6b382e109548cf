"""vCluster's global flags on the user commands (pkg/cli/flags/flags.go: `--silent/-s`, `--debug`,
`--log-output plain|raw|json`), accepted before or after the command name as cobra's persistent flags
are, and cobra's exit code 1 for usage errors (vCluster's root returns them to `log.Fatal`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import click

from vcluster.cli import ui


def _silent(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ui.configure(silent=True)


def _debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ui.configure(debug=True)


def _log_output(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ui.configure(log_output=value)


def global_params() -> list[click.Parameter]:
    """New instances of the three flags (eager: applied before any other flag can fail)."""
    return [
        click.Option(
            ["-s", "--silent"],
            is_flag=True,
            is_eager=True,
            expose_value=False,
            callback=_silent,
            help="Run in silent mode: no vcluster messages except the final error.",
        ),
        click.Option(
            ["--debug"],
            is_flag=True,
            is_eager=True,
            expose_value=False,
            callback=_debug,
            help="Show debug messages, and the stack trace when an error occurs.",
        ),
        click.Option(
            ["--log-output"],
            type=click.Choice(ui.LOG_OUTPUTS),
            default=None,
            is_eager=True,
            expose_value=False,
            callback=_log_output,
            help="The log format to use: plain, raw or json [default: plain].",
        ),
    ]


def prescan(args: list[str]) -> None:
    """Apply the flags found in `args` (up to `--`) before parsing, so that a usage error in the same
    command line is already reported in the asked-for format."""
    it = iter(args)
    for arg in it:
        if arg == "--":
            return
        if arg in ("-s", "--silent"):
            ui.configure(silent=True)
        elif arg == "--debug":
            ui.configure(debug=True)
        elif arg.startswith("--log-output="):
            value = arg.partition("=")[2]
            if value in ui.LOG_OUTPUTS:
                ui.configure(log_output=value)
        elif arg == "--log-output":
            value = next(it, "")
            if value in ui.LOG_OUTPUTS:
                ui.configure(log_output=value)


@contextlib.contextmanager
def usage_exits_1() -> Iterator[None]:
    """Usage errors exit 1 as vCluster's do (click's default is 2); in raw/json output they are one
    message of the asked-for format, as vCluster's `log.Fatal` writes them."""
    try:
        yield
    except click.UsageError as e:
        if ui.settings.fmt != "plain":
            raise ui.CliError(e.format_message()) from None
        e.exit_code = 1
        raise


class _ResetAfterMain:
    """Back to the default output once the command line is done (its final error shown): the flags
    of one in-process invocation (tests, embedding) do not leak into the next."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)  # type: ignore[misc]
        finally:
            ui.reset()


class UserCommand(_ResetAfterMain, click.Command):
    """A vCluster command: the global flags added to its own, usage errors exit 1."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        have = {p.name for p in self.params}
        self.params.extend(p for p in global_params() if p.name not in have)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        if parent is None:
            ui.reset()
        prescan(args)
        with usage_exits_1():
            return super().make_context(info_name, args, parent=parent, **extra)


class UserGroup(_ResetAfterMain, click.Group):
    """A group of vCluster commands (`vcluster host up|down|status`): usage errors exit 1."""

    command_class = UserCommand

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        if parent is None:
            ui.reset()
        prescan(args)
        with usage_exits_1():
            return super().make_context(info_name, args, parent=parent, **extra)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        with usage_exits_1():
            return super().resolve_command(ctx, args)


class RootGroup(UserGroup):
    """`vcluster`: the global flags before the command name; each command line starts from the defaults.
    Usage errors of the root (an unknown command) exit 1 as cobra's; the server commands (apiserver,
    start, host --data-dir, hostsim) keep click's exit code 2 for their own flags."""

    command_class = click.Command  # `@main.command()` defines the server commands

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_params())

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        ui.reset()
        return super().make_context(info_name, args, parent=parent, **extra)
