"""Terminal output of the user-facing commands: status lines on stderr, one-line errors, ages.

Messages follow vCluster's global flags (loft-sh/log's StreamLogger): `--silent` keeps only the final
error (logrus FatalLevel), `--debug` adds debug messages, `--log-output` picks plain (tagged lines),
raw (the bare message) or json (`{"time", "message", "level"}` per line)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass

import click
import orjson
from rich.console import Console
from rich.markup import escape

# Status lines and spinners go to stderr so stdout stays parseable (tables, --print, -o json).
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

# logrus levels (a message is shown when its level is at most the logger's)
FATAL, ERROR, WARN, INFO, DEBUG = 1, 2, 3, 4, 5
_LEVEL_NAMES = {FATAL: "fatal", ERROR: "error", WARN: "warning", INFO: "info", DEBUG: "debug"}
LOG_OUTPUTS = ("plain", "raw", "json")


@dataclass
class OutputSettings:
    """What vCluster's --silent/--debug/--log-output asked for (reset for each command line)."""

    level: int = INFO
    fmt: str = "plain"


settings = OutputSettings()


class _LogBridge(logging.Handler):
    """Python log records of the `vcluster` loggers as messages of the chosen format (under --debug)."""

    def emit(self, record: logging.LogRecord) -> None:
        level = DEBUG if record.levelno < logging.INFO else INFO if record.levelno < logging.WARNING else WARN
        tag = {DEBUG: "[green]debug[/]", INFO: "[cyan]info[/] ", WARN: "[yellow]warn[/] "}[level]
        _emit(level, tag, f"{record.name}: {record.getMessage()}")


_bridge = _LogBridge()
_vcluster_logger = logging.getLogger("vcluster")


def reset() -> None:
    """Back to the defaults: info level, plain output, no Python log bridge."""
    settings.level, settings.fmt = INFO, "plain"
    if _bridge in _vcluster_logger.handlers:
        _vcluster_logger.removeHandler(_bridge)
        _vcluster_logger.setLevel(logging.NOTSET)


def configure(*, silent: bool = False, debug: bool = False, log_output: str | None = None) -> None:
    """Apply vCluster's global flags: --silent wins over --debug, as in its root command."""
    if silent:
        settings.level = FATAL
    elif debug and settings.level != FATAL:
        settings.level = DEBUG
        if _bridge not in _vcluster_logger.handlers:
            _vcluster_logger.addHandler(_bridge)
            _vcluster_logger.setLevel(logging.DEBUG)
    if log_output is not None:
        settings.fmt = log_output
    if settings.level == FATAL and _bridge in _vcluster_logger.handlers:
        _vcluster_logger.removeHandler(_bridge)
        _vcluster_logger.setLevel(logging.NOTSET)


def go_time(t: dt.datetime) -> str:
    """Go's time.Time JSON encoding (RFC 3339 with nanoseconds, trailing zeros trimmed, Z for UTC)."""
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{t.microsecond:06d}".rstrip("0")
    off = t.utcoffset() or dt.timedelta(0)
    if off == dt.timedelta(0):
        zone = "Z"
    else:
        mins = int(off.total_seconds()) // 60
        sign = "+" if mins >= 0 else "-"
        zone = f"{sign}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"
    return base + (f".{frac}" if frac else "") + zone


def _emit(level: int, tag: str, message: str) -> None:
    """One message at `level` in the chosen format, on stderr; nothing when the level is hidden."""
    if level > settings.level:
        return
    if settings.fmt == "json":
        text = message.strip()
        if not text:
            return
        now = go_time(dt.datetime.now().astimezone())
        line = {"time": now, "message": text, "level": _LEVEL_NAMES[level]}
        sys.stderr.write(orjson.dumps(line).decode() + "\n")
        sys.stderr.flush()
    elif settings.fmt == "raw":
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    else:
        err.print(f"{tag} {escape(message)}")


class CliError(click.ClickException):
    """A one-line error that tells the user what to do; exit code 1."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(" ".join(message.split()))
        self.exit_code = exit_code

    def show(self, file: object = None) -> None:
        if settings.level >= DEBUG and self.__traceback__ is not None:
            debug("".join(traceback.format_exception(self)).rstrip())
        _emit(FATAL, "[bold red]error[/]", self.format_message())


def debug(message: str) -> None:
    _emit(DEBUG, "[green]debug[/]", message)


def info(message: str) -> None:
    _emit(INFO, "[cyan]info[/] ", message)


def done(message: str) -> None:
    _emit(INFO, "[green]done[/] ", message)


def warn(message: str) -> None:
    _emit(WARN, "[yellow]warn[/] ", message)


@contextlib.contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner with `message` while the block runs (a plain message when stderr is not a terminal or
    the output is raw/json; nothing under --silent)."""
    if settings.fmt == "plain" and settings.level >= INFO and err.is_terminal:
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
