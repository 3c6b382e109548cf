"""`vcluster host up|down|status`: the embedded local host cluster, beside `vcluster host --data-dir`."""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson

from vcluster.cli import localhost, paths, records, ui
from vcluster.cli.globalflags import UserGroup
from vcluster.cli.kubecfg import UserKubeconfig
from vcluster.cli.localhost import LocalHost


@click.group("host", cls=UserGroup)
def host_group() -> None:
    """Manage the local host cluster the CLI starts when there is no kube context."""


@host_group.command("up")
@click.option("--nodes", default=None, type=click.IntRange(1, 5000), help="Simulated nodes [default: 3].")
@click.option(
    "--port", default=0, type=click.IntRange(0, 65535), help="API server port [default: a free one]."
)
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(1), help="Seconds to wait.")
def host_up(nodes: int | None, port: int, timeout: float) -> None:
    """Start the local host cluster in the background and make `vcluster-local-host` the current context."""
    kc = UserKubeconfig()
    host = LocalHost.load()
    if host.running():
        ui.info(f"The local host cluster is already running at {host.url}")
    else:
        with ui.progress("Starting the local host cluster"):
            host.up(nodes=nodes, port=port, timeout=timeout)
        ui.done(f"Local host cluster running at {host.url} (data in {host.data_dir})")
    host.register_context(kc, make_current=True)
    ui.done(f"Kube context {localhost.CONTEXT!r} is current (in {kc.default_file})")


@host_group.command("down")
@click.option(
    "--delete",
    "delete_",
    is_flag=True,
    help="Also delete its data, the vCluster records on it and the `vcluster-local-host` context.",
)
def host_down(delete_: bool) -> None:
    """Stop the local host cluster (and the vClusters running on it)."""
    host = LocalHost.load()
    if not host.exists():
        if delete_:
            _forget(UserKubeconfig())
            ui.done("The local host cluster does not exist")
            return
        raise ui.CliError("there is no local host cluster; start one with `vcluster host up`")
    from vcluster.cli import lifecycle

    on_host = records.all_on_host(localhost.CONTEXT)
    for rec in on_host:
        with paths.locked(rec.lock_path):
            if lifecycle.stop_process(rec):
                if rec.phase == records.RUNNING:
                    rec.phase = records.PAUSED
                    rec.save()
                ui.info(f"Stopped vCluster {rec.name} (namespace {rec.namespace})")
    if host.down():
        ui.done("Stopped the local host cluster")
    else:
        ui.info("The local host cluster was not running")
    if delete_:
        kc = UserKubeconfig()
        for rec in on_host:
            lifecycle.remove_contexts(kc, rec.name, rec.namespace, localhost.CONTEXT)
            lifecycle.remove_state(rec)
        host.remove()
        _forget(kc)
        ui.done("Deleted the local host cluster's data and kube context")


def _forget(kc: UserKubeconfig) -> None:
    if LocalHost.unregister_context(kc):
        ui.info(f"Removed kube context {localhost.CONTEXT!r} from {kc.default_file}")


@host_group.command("status")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def host_status(output: str) -> None:
    """Show whether the local host cluster runs, where, and the vClusters on it."""
    host = LocalHost.load()
    vcs = records.all_on_host(localhost.CONTEXT)
    data: dict[str, Any] = {
        "status": host.status(),
        "url": host.url if host.running() else "",
        "pid": host.pid if host.running() else None,
        "nodes": host.nodes,
        "context": localhost.CONTEXT,
        "dataDir": str(host.data_dir),
        "logFile": str(host.log_path),
        "vclusters": [f"{r.namespace}/{r.name}" for r in vcs],
    }
    if output == "json":
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    rows = [
        ("Status", data["status"]),
        ("Endpoint", data["url"] or "<none>"),
        ("PID", str(data["pid"]) if data["pid"] else "<none>"),
        ("Nodes", str(data["nodes"])),
        ("Kube context", data["context"]),
        ("Data dir", data["dataDir"]),
        ("Log file", data["logFile"]),
        ("vClusters", ", ".join(data["vclusters"]) or "<none>"),
    ]
    width = max(len(k) for k, _ in rows) + 2
    click.echo("\n".join(f"{(k + ':').ljust(width)}{v}" for k, v in rows))
    if data["status"] != "Running":
        sys.exit(3)


class HostDispatcher(click.Command):
    """`vcluster host` is the foreground host (`--data-dir ...`) unless the first word is a subcommand."""

    def __init__(self, foreground: click.Command, group: click.Group) -> None:
        super().__init__(
            foreground.name,
            params=foreground.params,
            callback=foreground.callback,
            help=foreground.help,
            context_settings=foreground.context_settings,
        )
        self.foreground = foreground
        self.group = group

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        if args and args[0] in self.group.commands:
            return self.group.make_context(info_name, args, parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help(ctx, formatter)
        with formatter.section("Background local host (commands)"):
            formatter.write_dl(
                [(f"host {n}", c.get_short_help_str(70)) for n, c in sorted(self.group.commands.items())]
            )


def install(main: click.Group) -> None:
    """Put `up|down|status` beside the existing foreground `vcluster host` command."""
    foreground = main.commands.get("host")
    if foreground is None or isinstance(foreground, HostDispatcher):
        return
    main.add_command(HostDispatcher(foreground, host_group), "host")
