"""Terminal output of the user-facing commands: status lines on stderr, one-line errors, ages."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import click
from rich.console import Console
from rich.markup import escape

# Status lines and spinners go to stderr so stdout stays parseable (tables, --print, -o json).
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


class CliError(click.ClickException):
    """A one-line error that tells the user what to do; exit code 1."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(" ".join(message.split()))
        self.exit_code = exit_code

    def show(self, file: object = None) -> None:
        err.print(f"[bold red]error[/] {escape(self.format_message())}")


def info(message: str) -> None:
    err.print(f"[cyan]info[/]  {escape(message)}")


def done(message: str) -> None:
    err.print(f"[green]done[/]  {escape(message)}")


def warn(message: str) -> None:
    err.print(f"[yellow]warn[/]  {escape(message)}")


@contextlib.contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner with `message` while the block runs (plain text when stderr is not a terminal)."""
    if err.is_terminal:
        with err.status(escape(message)):
            yield
    else:
        info(message)
        yield


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def timestamp(t: dt.datetime | None = None) -> str:
    """RFC 3339 UTC with seconds, as Kubernetes writes them."""
    return (t or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except (TypeError, ValueError):
        return None


def human_age(since: dt.datetime | None, at: dt.datetime | None = None) -> str:
    """kubectl's AGE column: 45s, 12m, 5h, 3d (with a second unit while it is short, e.g. 2m30s)."""
    if since is None:
        return "<unknown>"
    secs = max(0, int(((at or now()) - since).total_seconds()))
    if secs < 120:
        return f"{secs}s"
    mins = secs // 60
    if mins < 10:
        return f"{mins}m{secs % 60}s" if secs % 60 else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    hours = mins // 60
    if hours < 8:
        return f"{hours}h{mins % 60}m" if mins % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8 and hours % 24:
        return f"{days}d{hours % 24}h"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def go_duration(seconds: int) -> str:
    """Go's time.Duration.String() of whole seconds (`45s`, `4m37s`, `26h0m5s`): vCluster's list AGE."""
    if seconds <= 0:
        return "0s"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A kubectl-style table: columns padded with three spaces, no borders."""
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    lines = []
    for r in [headers, *rows]:
        cells = [c.ljust(widths[i]) for i, c in enumerate(r)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)
