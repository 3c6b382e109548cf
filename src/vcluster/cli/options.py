"""Click options shared by the server commands (apiserver, host, start, hostsim)."""

from __future__ import annotations

from pathlib import Path

import click

log_level_option = click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
)
bind_option = click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
admin_kubeconfig_option = click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the admin kubeconfig [default: DATA_DIR/kubeconfig].",
)
authorization_mode_option = click.option(
    "--authorization-mode",
    default="RBAC",
    show_default=True,
    type=click.Choice(["RBAC", "AlwaysAllow"]),
    help="How requests are authorized, as kube-apiserver's flag: RBAC (the stored roles and bindings; "
    "system:masters may do anything) or AlwaysAllow (every authenticated user may do anything).",
)

restart_backoff_option = click.option(
    "--restart-backoff",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="First wait before restarting a container that exited again (CrashLoopBackOff), doubling.",
)
restart_backoff_max_option = click.option(
    "--restart-backoff-max",
    default=300.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Longest wait before restarting a container (kubelet's 5 min).",
)
