"""`vcluster` command line entry point."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from vcluster import __version__


def setup_logging(level: str, fmt: str = "console") -> None:
    if fmt == "json":
        from vcluster.cli.logfmt import JsonFormatter

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    else:
        logging.basicConfig(
            level=level.upper(),
            stream=sys.stderr,
            force=True,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )


def run_async(coro: object) -> None:
    try:
        import uvloop

        uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(coro)  # type: ignore[arg-type]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vcluster")
def main() -> None:
    """Virtual Kubernetes clusters inside one namespace of a host cluster."""


@main.command()
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for all state: state.db, pki/, tokens.csv, kubeconfig.",
)
@click.option(
    "--port",
    default=6443,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="HTTPS port (0 picks a free one).",
)
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the admin kubeconfig [default: DATA_DIR/kubeconfig].",
)
@click.option(
    "--compaction-interval",
    default=300.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds between storage compactions (0 disables); the last 1000 revisions are always kept.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
)
def apiserver(
    data_dir: Path, port: int, bind: str, kubeconfig: Path | None, compaction_interval: float, log_level: str
) -> None:
    """Run a Kubernetes-compatible API server in the foreground (stops on SIGTERM)."""
    from vcluster.apiserver.server import ServerConfig, run_server

    setup_logging(log_level)
    cfg = ServerConfig(
        data_dir=data_dir, bind=bind, port=port, kubeconfig=kubeconfig, compact_interval=compaction_interval
    )
    try:
        run_async(run_server(cfg))
    except OSError as e:
        raise click.ClickException(f"cannot listen on {bind}:{port}: {e.strerror or e}") from None


if __name__ == "__main__":
    main()
