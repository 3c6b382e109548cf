"""`vcluster connect` and `vcluster disconnect`, with vCluster's connect flags (pkg/cli/connect_helm.go,
pkg/cli/flags/connect): --print, --update-current/--kube-config, --kube-config-context-name, --server,
--insecure, --service-account/--cluster-role/--token-expiration, `-- COMMAND`."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from vcluster.cli import hostctx, lifecycle, paths, records, ui
from vcluster.cli.globalflags import UserCommand
from vcluster.cli.hostctx import HostTarget
from vcluster.cli.kubecfg import write_private
from vcluster.cli.options_compat import go_bool_option, refused_option
from vcluster.cli.records import Record

NO_PORT_FORWARD = (
    "the vCluster's API server listens on this machine itself, so there is no port-forward or proxy to "
    "configure; use --server to put another address in the kubeconfig"
)


@dataclass
class ConnectOptions:
    """What a connect writes and where (vCluster's cli.ConnectOptions, the parts that apply here)."""

    print_: bool = False
    update_current: bool = True
    kube_config: str = "./kubeconfig.yaml"
    context_name: str = ""
    server: str = ""
    insecure: bool = False
    service_account: str = ""
    cluster_role: str = ""
    token_expiration: int = 0


def build_kubeconfig(rec: Record, opts: ConnectOptions) -> dict[str, Any]:
    """The virtual cluster's kubeconfig with the context name, server, TLS and credentials asked for."""
    vkc = lifecycle.virtual_kubeconfig(rec)
    name = opts.context_name or rec.context
    cluster = dict(vkc["clusters"][0]["cluster"])
    user = dict(vkc["users"][0]["user"])
    if opts.insecure:
        cluster.pop("certificate-authority-data", None)
        cluster.pop("certificate-authority", None)
        cluster["insecure-skip-tls-verify"] = True
    if opts.server:
        cluster["server"] = opts.server if opts.server.startswith("https://") else "https://" + opts.server
    if opts.service_account:
        from vcluster.cli.satoken import create_token

        server = rec.url or cluster.get("server", "")
        user = {
            "token": create_token(
                rec.kubeconfig, server, opts.service_account, opts.cluster_role, opts.token_expiration
            )
        }
    return {
        **vkc,
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }


def connect_context(rec: Record, target: HostTarget, opts: ConnectOptions) -> None:
    """Write the kubeconfig where `opts` says: stdout, a file, or the user's kubeconfig (made current)."""
    vkc = build_kubeconfig(rec, opts)
    if opts.print_:
        sys.stdout.write(yaml.safe_dump(vkc, sort_keys=False))
        sys.stdout.flush()
        return
    if not opts.update_current:
        path = Path(opts.kube_config)
        try:
            write_private(path, vkc)
        except OSError as e:
            raise ui.CliError(f"write kube config: {e.strerror or e} ({path})") from None
        ui.done(f"Virtual cluster kube config written to: {opts.kube_config}")
        ui.info(
            f"- Use `vcluster connect {rec.name} -n {rec.namespace} -- kubectl get ns` to execute a command "
            "directly within this terminal"
        )
        ui.info(f"- Use `kubectl --kubeconfig {opts.kube_config} get namespaces` to access the vcluster")
        return
    name = lifecycle.write_context(target.kc, vkc, make_current=True)
    ui.done(f"Switched active kube context to {name}")
    ui.info("- Use `vcluster disconnect` to return to your previous kube context")
    ui.info("- Use `kubectl get namespaces` to access the vcluster")


def _deprecated(flag: str) -> Any:
    def warn(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if ctx.get_parameter_source(param.name or "") == click.core.ParameterSource.COMMANDLINE:
            ui.warn(
                f'Flag --{flag} has been deprecated, please use "vcluster connect --print" to write the '
                "kubeconfig of the virtual cluster to stdout."
            )
        return value

    return warn


def _resume_paused(rec: Record, target: HostTarget, timeout: float) -> Record:
    """vCluster's connect resumes a paused vCluster before connecting."""
    with paths.locked(rec.lock_path):
        rec = records.find(target.context, rec.name, rec.namespace)[0]
        if rec.phase == records.PAUSED and not rec.running():
            ui.info(f"Resume vcluster {rec.name}...")
            lifecycle.start_process(rec, target, timeout)
            rec.phase = records.RUNNING
            rec.save()
    return rec


def _run_command(rec: Record, vkc: dict[str, Any], command: tuple[str, ...]) -> None:
    path = lifecycle.temp_kubeconfig(rec, vkc)
    try:
        code = subprocess.call(list(command), env={**os.environ, "KUBECONFIG": str(path)})
    except OSError as e:
        raise ui.CliError(f"cannot run {command[0]!r}: {e.strerror or e}") from None
    finally:
        path.unlink(missing_ok=True)
    sys.exit(code)


@click.command("connect", cls=UserCommand)
@click.argument("name")
@click.option(
    "-n", "--namespace", default=None, help="Host namespace of the vCluster [default: where it is]."
)
@click.option("--print", "print_", is_flag=True, help="Write the kubeconfig to stdout instead of switching.")
@go_bool_option(
    "--update-current",
    default=True,
    callback=_deprecated("update-current"),
    help="[deprecated] --update-current=false writes the kubeconfig to --kube-config instead of switching.",
)
@click.option(
    "--kube-config",
    default="./kubeconfig.yaml",
    show_default=True,
    callback=_deprecated("kube-config"),
    help="[deprecated] Where --update-current=false writes the kubeconfig.",
)
@click.option(
    "--kube-config-context-name",
    "context_name",
    default="",
    callback=_deprecated("kube-config-context-name"),
    help="[deprecated] The context name instead of vcluster_NAME_NAMESPACE_PARENT.",
)
@click.option(
    "--server", default="", help="The server to put in the kubeconfig (https:// is added when missing)."
)
@click.option(
    "--insecure", is_flag=True, help="Leave the CA out of the kubeconfig and skip TLS verification."
)
@click.option(
    "--service-account",
    default="",
    help="Use a token of this virtual service account ([NAMESPACE/]NAME, namespace kube-system when "
    "left out) instead of the admin client certificate.",
)
@click.option(
    "--cluster-role",
    default="",
    help="With --service-account: create the account when missing and bind it to this ClusterRole.",
)
@click.option(
    "--token-expiration",
    default=0,
    type=click.IntRange(0),
    help="With --service-account: the token's lifetime in seconds [default: ten years].",
)
@go_bool_option(
    "--background-proxy",
    default=True,
    expose_value=False,
    help="Accepted as vCluster's flag; no proxy is needed here: the API server is reachable directly.",
)
@refused_option("--local-port", NO_PORT_FORWARD)
@refused_option("--address", NO_PORT_FORWARD)
@refused_option("--pod", "the vCluster runs as a process on this machine, not in a host pod")
@refused_option("--background-proxy-image", NO_PORT_FORWARD)
@refused_option("--project", "there is no vCluster Platform here")
@refused_option("--driver", "only the helm-like local driver exists here", allowed=("helm",))
@click.option("--context", default=None, help="Host kube context [default: the current one, or its parent].")
@click.option(
    "--timeout",
    default=lifecycle.DEFAULT_TIMEOUT,
    show_default=True,
    type=click.FloatRange(1),
    help="Seconds to wait for the vCluster to come up.",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def connect(
    name: str,
    namespace: str | None,
    print_: bool,
    update_current: bool,
    kube_config: str,
    context_name: str,
    server: str,
    insecure: bool,
    service_account: str,
    cluster_role: str,
    token_expiration: int,
    context: str | None,
    timeout: float,
    command: tuple[str, ...],
) -> None:
    """Add a kube context `vcluster_NAME_NAMESPACE_PARENT` for the vCluster and make it current.

    `vcluster connect NAME -- COMMAND...` runs one command with the vCluster's kubeconfig instead.
    """
    if cluster_role and not service_account:
        raise ui.CliError("expected --service-account to be defined as well")
    opts = ConnectOptions(
        print_=print_,
        update_current=update_current,
        kube_config=kube_config,
        context_name=context_name,
        server=server,
        insecure=insecure,
        service_account=service_account,
        cluster_role=cluster_role,
        token_expiration=token_expiration,
    )
    target = hostctx.resolve(context, start_local="existing")
    rec = lifecycle.require(target, name, namespace)
    ui.debug(f"Found vCluster {rec.namespace}/{rec.name}")
    if rec.phase == records.DELETING:
        raise lifecycle.deleting(rec)
    if rec.phase == records.PAUSED and not rec.running():
        rec = _resume_paused(rec, target, timeout)
    plain = not (print_ or command or not update_current or service_account or server or insecure)
    if plain and target.kc.current_context == (context_name or rec.context) and rec.running() and rec.ready():
        ui.info(f'already connected to vcluster "{name}"')
        return
    lifecycle.wait_until_ready(rec, timeout)
    if command:
        _run_command(rec, build_kubeconfig(rec, opts), command)
    connect_context(rec, target, opts)


@click.command("disconnect", cls=UserCommand)
@click.option(
    "--context", default=None, help="The vCluster kube context to leave [default: the current one]."
)
def disconnect(context: str | None) -> None:
    """Switch the kube context back to the host context the current vCluster context came from."""
    from vcluster.cli.kubecfg import UserKubeconfig

    kc = UserKubeconfig()
    cur = context or kc.current_context
    parsed = records.parse_context_name(cur or "")
    if parsed is None:
        raise ui.CliError(
            f"current selected context {cur or ''!r} is not a virtual cluster context. "
            "If you've used a custom "
            "context name you will need to switch manually using kubectl"
        )
    parent = parsed[2]
    if kc.context(parent) is None:
        raise ui.CliError(
            f"the parent kube context {parent!r} of {cur} no longer exists; "
            "pick one with `kubectl config use-context CONTEXT`"
        )
    kc.set_current(parent)
    kc.save()
    ui.done(f"Successfully disconnected and switched back to the original context: {parent}")
