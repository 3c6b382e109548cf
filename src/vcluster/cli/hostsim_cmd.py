"""`vcluster hostsim`: simulated nodes, scheduler and kubelets against any Kubernetes API."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping
from pathlib import Path

import click

from vcluster.cli.options import log_level_option, restart_backoff_max_option, restart_backoff_option
from vcluster.hostsim.config import MAX_NODES, HostSimConfig

LISTED_KUBELETS = 8  # more nodes with scattered (free) ports: the first few and the last


def _url(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}:{port}"


def kubelet_endpoints(address: str, ports: Mapping[str, int], port: int) -> str:
    """Where each node's kubelet listens, for the ready line: one URL, a consecutive range or a list."""
    items = list(ports.items())
    if not items:
        return f"kubelet {_url(address, port)}"
    (first, p1), (last, pn) = items[0], items[-1]
    if len(items) == 1:
        return f"kubelet {_url(address, p1)} ({first})"
    if all(p == p1 + i for i, (_, p) in enumerate(items)):
        return f"kubelet {_url(address, p1)} ({first}) to {_url(address, pn)} ({last}), one port per node"
    shown = [f"{_url(address, p)} ({n})" for n, p in items]
    if len(shown) > LISTED_KUBELETS:
        shown = [*shown[:3], f"... {len(shown) - 4} more", shown[-1]]
    return "kubelet " + ", ".join(shown)


async def run_hostsim(kubeconfig: Path | None, context: str | None, config: HostSimConfig) -> None:
    """Run until SIGTERM or SIGINT; the nodes stay registered afterwards."""
    from vcluster.hostsim import HostSim

    sim = await HostSim.from_kubeconfig(str(kubeconfig) if kubeconfig else None, config, context=context)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sim.start()
        names = sim.node_names
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        print(
            f"vcluster hostsim ready: {len(names)} node(s) ({shown}); "
            + kubelet_endpoints(sim.address, sim.kubelet_ports, sim.kubelet_port),
            flush=True,
        )
        await stop.wait()
    finally:
        await sim.stop()


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        k, sep, val = v.partition("=")
        if not sep or not k:
            raise click.BadParameter(f"expected KEY=VALUE, got {v!r}", param_hint="--node-label")
        out[k] = val
    return out


@click.command("hostsim")
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Kubeconfig of the cluster to simulate nodes for [default: $KUBECONFIG, ~/.kube/config].",
)
@click.option("--context", default=None, help="Kubeconfig context [default: current-context].")
@click.option(
    "--nodes", default=3, show_default=True, type=click.IntRange(0, MAX_NODES), help="Number of nodes."
)
@click.option(
    "--node-prefix", default="hostsim-node-", show_default=True, help="Node names: PREFIX1, PREFIX2..."
)
@click.option(
    "--run-seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="How long containers of restartPolicy Never/OnFailure pods run before they succeed.",
)
@restart_backoff_option
@restart_backoff_max_option
@click.option(
    "--start-seconds",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Time pods spend in ContainerCreating.",
)
@click.option(
    "--deletion-grace-cap",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Graceful pod deletion finishes after min(grace period, this many seconds).",
)
@click.option(
    "--scheduler-name",
    default="default-scheduler",
    show_default=True,
    help="Schedule the pods with this spec.schedulerName (a cluster with its own scheduler needs another).",
)
@click.option("--cpu", default="8", show_default=True, help="CPU capacity of each node.")
@click.option("--memory", default="32Gi", show_default=True, help="Memory capacity of each node.")
@click.option("--max-pods", default=110, show_default=True, type=click.IntRange(1), help="Pods per node.")
@click.option("--node-label", multiple=True, help="Extra node label KEY=VALUE (repeatable).")
@click.option("--kubelet-bind", default="127.0.0.1", show_default=True, help="Kubelet server address.")
@click.option(
    "--kubelet-port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Kubelet port of node 1; node i listens on PORT+i-1 (0: a free port for each node).",
)
@click.option(
    "--kubelet-address",
    default="",
    help="Node InternalIP advertised to the API server [default: the bind address].",
)
@click.option(
    "--lease-renew-seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="How often each node renews its Lease.",
)
@click.option(
    "--node-status-seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="How often each node reports its status (lastHeartbeatTime).",
)
@click.option(
    "--log-line-seconds",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0),
    help="A generated container log line every this many seconds (0: startup lines only).",
)
@click.option(
    "--storage/--no-storage",
    default=True,
    show_default=True,
    help="Bind PersistentVolumeClaims and provision volumes (default StorageClass `standard`).",
)
@log_level_option
def hostsim(
    kubeconfig: Path | None,
    context: str | None,
    nodes: int,
    node_prefix: str,
    run_seconds: float,
    restart_backoff: float,
    restart_backoff_max: float,
    start_seconds: float,
    deletion_grace_cap: float,
    scheduler_name: str,
    cpu: str,
    memory: str,
    max_pods: int,
    node_label: tuple[str, ...],
    kubelet_bind: str,
    kubelet_port: int,
    kubelet_address: str,
    lease_renew_seconds: float,
    node_status_seconds: float,
    log_line_seconds: float,
    storage: bool,
    log_level: str,
) -> None:
    """Simulate nodes, a scheduler and kubelets for a cluster until SIGTERM/SIGINT.

    Pods get scheduled, run (IP, conditions, events), finish, stop and serve logs; the nodes
    are left registered on exit, like real nodes.

    \b
    Containers exit as pod annotations say (restarts, CrashLoopBackOff, Job retries):
      hostsim.vcluster.loft.sh/exit-code: "1"        spec.containers exit 1
      hostsim.vcluster.loft.sh/exit-code: "1,init=3" init containers only by name
      hostsim.vcluster.loft.sh/run-seconds: "2"      after running 2 s [default: --run-seconds]
    """
    from vcluster.cli.main import run_async, setup_logging

    setup_logging(log_level)
    cfg = HostSimConfig(
        nodes=nodes,
        node_prefix=node_prefix,
        run_seconds=run_seconds,
        restart_backoff=restart_backoff,
        restart_backoff_max=restart_backoff_max,
        start_seconds=start_seconds,
        deletion_grace_cap=deletion_grace_cap,
        scheduler_name=scheduler_name,
        cpu=cpu,
        memory=memory,
        pods=max_pods,
        node_labels=_labels(node_label),
        kubelet_bind=kubelet_bind,
        kubelet_port=kubelet_port,
        kubelet_address=kubelet_address,
        lease_renew_seconds=lease_renew_seconds,
        node_status_seconds=node_status_seconds,
        log_line_seconds=log_line_seconds,
        storage=storage,
    )
    try:
        cfg.validate()
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    if kubelet_port and kubelet_port + nodes - 1 > 65535:
        raise click.BadParameter(
            f"{nodes} nodes need ports {kubelet_port}-{kubelet_port + nodes - 1}, beyond 65535",
            param_hint="--kubelet-port",
        )
    from vcluster.client import ApiError, ConfigError

    try:
        run_async(run_hostsim(kubeconfig, context, cfg))
    except (OSError, ApiError, ConfigError) as e:
        raise click.ClickException(str(e)) from None


if __name__ == "__main__":
    hostsim()
