"""`vcluster` command line entry point."""

from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vcluster import __version__
from vcluster.cli.auditopts import audit_from_context, audit_options
from vcluster.cli.globalflags import RootGroup
from vcluster.cli.options import (
    admin_kubeconfig_option,
    authorization_mode_option,
    bind_option,
    log_level_option,
    restart_backoff_max_option,
    restart_backoff_option,
)
from vcluster.cli.requestheaderopts import requestheader_from_context, requestheader_options

if TYPE_CHECKING:
    from vcluster.podsecurity.config import PodSecurityConfiguration


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
    from vcluster.eventloop import run

    run(coro)  # type: ignore[arg-type]


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vcluster")
def main() -> None:
    """Virtual Kubernetes clusters inside one namespace of a host cluster."""


def _config_problems(e: Any, config_file: Path | None) -> str:
    """`invalid configuration:` and one line per problem, with its line in the file when found."""
    from vcluster.cli.valuesfile import key_line

    text = None
    if config_file is not None:
        try:
            text = config_file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            text = None
    lines = []
    for issue in e.issues:
        ln = key_line(text, issue.path) if issue.path and text is not None else None
        lines.append(f"line {ln}: {issue}" if ln else str(issue))
    return "invalid configuration:\n" + "\n".join(lines)


def _sync_failure(e: Exception, where: str) -> str:
    """The message for a start that could not list what it needs (InformerSyncError)."""
    refused = getattr(e, "refused", False)
    status = getattr(getattr(e, "cause", None), "status", 0)
    if refused and status == 403:
        hint = (
            "give the syncer's account get, list and watch there (`vcluster manifests` prints the RBAC "
            "for this configuration) or remove what needs it from the sync config"
        )
    elif refused and status == 401:
        hint = "the host kubeconfig's credentials were not accepted; check them"
    elif refused:
        hint = "the host does not serve this resource; turn its sync off in the config"
    else:
        hint = "check that the host is up and answering"
    return f"the host cluster{where}: {e}; {hint}"


def _check_datastore(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from vcluster.store.datasource import check_datastore

    try:
        return check_datastore(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


_datastore_flag = click.option(
    "--datastore",
    default=None,
    callback=_check_datastore,
    help="Keep the state in PostgreSQL (kine's table) or etcd instead of DATA_DIR/state.db: "
    "postgres://USER:PASSWORD@HOST:PORT/DB or a libpq 'key=value' string (the password may also come "
    "from PGPASSWORD or ~/.pgpass; TLS: sslmode, sslrootcert, sslcert, sslkey; one vcluster per database), "
    "or etcd https://HOST:PORT / http://HOST:PORT, several members comma-separated as in "
    "kube-apiserver's --etcd-servers (TLS: --etcd-cafile, --etcd-certfile, "
    "--etcd-keyfile). Replaces vcluster.yaml's controlPlane.backingStore (database.external or "
    "etcd.external), its TLS files included. A data dir keeps the kind of store it was created with.",
)


def _etcd_tls_flag(flag: str, key: str, what: str) -> Any:
    """An etcd TLS file flag (kube-apiserver's name), kept in ctx.meta['etcd_tls'][key]."""

    def keep(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.meta.setdefault("etcd_tls", {})[key] = str(value.resolve())

    return click.option(
        flag,
        default=None,
        expose_value=False,
        callback=keep,
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help=f"With an etcd --datastore: {what}.",
    )


def datastore_option(fn: Any) -> Any:
    """--datastore and the etcd TLS flags."""
    for deco in reversed(
        (
            _datastore_flag,
            _etcd_tls_flag("--etcd-cafile", "caFile", "the CA that signed etcd's serving certificate"),
            _etcd_tls_flag("--etcd-certfile", "certFile", "the client certificate etcd trusts"),
            _etcd_tls_flag("--etcd-keyfile", "keyFile", "the key of --etcd-certfile"),
        )
    ):
        fn = deco(fn)
    return fn


def _etcd_tls_flags() -> dict[str, str]:
    return dict(click.get_current_context().meta.get("etcd_tls", {}))


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
@bind_option
@admin_kubeconfig_option
@click.option(
    "--compaction-interval",
    default=300.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds between storage compactions (0 disables); the last 1000 revisions are always kept.",
)
@datastore_option
@click.option(
    "--controllers",
    default="*",
    show_default=True,
    help="Controllers to run beside the server, as kube-controller-manager's flag: '*' for all, "
    "'*,-job' for all but job, 'namespace,serviceaccount' for those, '' for none.",
)
@authorization_mode_option
@click.option(
    "--enable-aggregator-routing",
    is_flag=True,
    help="Route aggregated APIServices to an endpoint address of their Service instead of its "
    "ClusterIP (kube-apiserver's flag of the same name).",
)
@click.option(
    "--admission-control-config-file",
    "pod_security",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    callback=lambda _ctx, _param, value: _pod_security_config(value),
    help="An AdmissionConfiguration (apiserver.config.k8s.io/v1) whose PodSecurity plugin entry sets the "
    "default levels and the exempt usernames, runtime classes and namespaces (kube-apiserver's flag).",
)
@requestheader_options
@audit_options
@log_level_option
def apiserver(
    data_dir: Path,
    port: int,
    bind: str,
    kubeconfig: Path | None,
    compaction_interval: float,
    datastore: str | None,
    controllers: str,
    authorization_mode: str,
    enable_aggregator_routing: bool,
    pod_security: PodSecurityConfiguration | None,
    log_level: str,
) -> None:
    """Run a Kubernetes-compatible API server and its controllers in the foreground (stops on SIGTERM)."""
    from vcluster.apiserver.server import ServerConfig
    from vcluster.controlplane import ControlPlaneConfig

    setup_logging(log_level)
    cfg = ServerConfig(
        data_dir=data_dir,
        bind=bind,
        port=port,
        kubeconfig=kubeconfig,
        compact_interval=compaction_interval,
        datastore=datastore,
        datastore_tls=_etcd_tls_flags(),
        authorization_mode=authorization_mode,
        enable_aggregator_routing=enable_aggregator_routing,
        pod_security=pod_security,
        requestheader=requestheader_from_context(),
        audit=audit_from_context(),
    )
    run_control_plane_or_exit(ControlPlaneConfig(cfg, controllers=parse_controllers(controllers)))


def _pod_security_config(path: Path | None) -> PodSecurityConfiguration | None:
    """--admission-control-config-file: the PodSecurity configuration it holds (None without a file)."""
    if path is None:
        return None
    from vcluster.podsecurity.config import ConfigError, load_admission_config

    try:
        return load_admission_config(path)
    except ConfigError as e:
        raise click.BadParameter(str(e), param_hint="--admission-control-config-file") from None


def parse_controllers(value: str) -> set[str] | None:
    """`--controllers`: None means all; an empty set none."""
    from vcluster.controlplane import known_controllers

    known = known_controllers()
    items = {v.strip() for v in value.split(",") if v.strip()}
    unknown = sorted(i for i in items if i.lstrip("-") not in known and i != "*")
    if unknown:
        raise click.BadParameter(
            f"unknown controller(s) {', '.join(unknown)}; known: {', '.join(known)}",
            param_hint="--controllers",
        )
    return None if items == {"*"} else items


def run_control_plane_or_exit(cfg: object) -> None:
    from vcluster.apiserver.auditoptions import AuditConfigError
    from vcluster.apiserver.datadir import DataDirError
    from vcluster.apiserver.server import ListenError
    from vcluster.client import ApiError, ConfigError, InformerSyncError
    from vcluster.controlplane import run_control_plane
    from vcluster.store.datasource import DatastoreError
    from vcluster.syncer.engine.metricsendpoint import MetricsBindError
    from vcluster.syncer.engine.ownership import OwnershipError

    server = cfg.server  # type: ignore[attr-defined]
    syncer = getattr(cfg, "syncer", None)
    where = f" (--host-kubeconfig {syncer.host_kubeconfig})" if syncer and syncer.host_kubeconfig else ""
    try:
        run_async(run_control_plane(cfg))  # type: ignore[arg-type]
    except ConfigError as e:
        raise click.ClickException(f"cannot use the host kubeconfig{where}: {e}") from None
    except ApiError as e:  # the host cluster (connection failures are ApiErrors with status 0)
        what = "cannot reach the host cluster" if e.status == 0 else "the host cluster refused a request"
        raise click.ClickException(
            f"{what}{where}: {e.message or e}; check the kubeconfig, context and that the host is up"
        ) from None
    except InformerSyncError as e:  # a TimeoutError, hence an OSError: before that clause
        raise click.ClickException(_sync_failure(e, where)) from None
    except MetricsBindError as e:
        raise click.ClickException(str(e)) from None
    except (DataDirError, ListenError, OwnershipError, AuditConfigError) as e:
        raise click.ClickException(str(e)) from None
    except DatastoreError as e:  # --datastore: unreachable, refused, in use by another vcluster
        raise click.ClickException(str(e)) from None
    except sqlite3.Error as e:  # a full disk, a read-only or damaged state.db
        raise click.ClickException(f"the store {server.data_dir / 'state.db'} failed: {e}") from None
    except OSError as e:  # writing the data dir, the certificates or the kubeconfig
        where = f" {e.filename}" if e.filename else f" in {server.data_dir}"
        raise click.ClickException(f"cannot write{where}: {e.strerror or e}") from None


@main.command()
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for all state: state.db, pki/, tokens.csv, kubeconfig.",
)
@click.option(
    "--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="HTTPS port (0: free)."
)
@bind_option
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(1, 5000), help="Simulated nodes.")
@admin_kubeconfig_option
@click.option(
    "--run-seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="How long containers of pods with restartPolicy Never/OnFailure run before they complete.",
)
@restart_backoff_option
@restart_backoff_max_option
@click.option(
    "--metrics-server/--no-metrics-server",
    default=True,
    show_default=True,
    help="Serve metrics.k8s.io (kubectl top) with simulated usage, like metrics-server.",
)
@click.option(
    "--metrics-resolution",
    default=15.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds between the simulated metrics-server's scrapes (its --metric-resolution).",
)
@click.option(
    "--terminated-pod-gc-threshold",
    default=12500,  # controllers/podgc.py TERMINATED_POD_GC_THRESHOLD (not imported: CLI start-up)
    show_default=True,
    type=click.IntRange(-(2**31), 2**31 - 1),
    help="Terminated pods that may exist before the pod GC deletes the oldest (0 or less: never), "
    "as kube-controller-manager's flag.",
)
@authorization_mode_option
@log_level_option
def host(
    data_dir: Path,
    port: int,
    bind: str,
    nodes: int,
    kubeconfig: Path | None,
    run_seconds: float,
    restart_backoff: float,
    restart_backoff_max: float,
    metrics_server: bool,
    metrics_resolution: float,
    terminated_pod_gc_threshold: int,
    authorization_mode: str,
    log_level: str,
) -> None:
    """Run a whole local host cluster: API server with ClusterIP allocation, controllers and
    simulated nodes with a scheduler and kubelets (stops on SIGTERM)."""
    from vcluster.apiserver.server import ServerConfig
    from vcluster.controlplane import ControlPlaneConfig
    from vcluster.hostsim.config import HostSimConfig

    setup_logging(log_level)
    cfg = ServerConfig(
        data_dir=data_dir, bind=bind, port=port, kubeconfig=kubeconfig, authorization_mode=authorization_mode
    )
    sim = HostSimConfig(
        nodes=nodes,
        run_seconds=run_seconds,
        restart_backoff=restart_backoff,
        restart_backoff_max=restart_backoff_max,
        metrics_server=metrics_server,
        metrics_resolution=metrics_resolution,
    )
    try:
        sim.validate()
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    podgc = {"terminated_pod_gc_threshold": terminated_pod_gc_threshold}
    run_control_plane_or_exit(
        ControlPlaneConfig(cfg, hostsim=sim, banner="vcluster host", controller_options={"podgc": podgc})
    )


@main.command()
@click.option(
    "--name", required=True, help="Name of the virtual cluster (host objects end in -x-<ns>-x-NAME)."
)
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the virtual cluster's state: state.db, pki/, kubeconfig.",
)
@click.option(
    "--host-kubeconfig",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Kubeconfig of the host cluster [default: $KUBECONFIG, ~/.kube/config, in-cluster].",
)
@click.option("--host-context", default=None, help="Context in the host kubeconfig [default: current].")
@click.option("--host-namespace", required=True, help="The one host namespace the workloads run in.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="vcluster.yaml with the sync: configuration (defaults when absent).",
)
@click.option(
    "--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="HTTPS port (0: free)."
)
@bind_option
@click.option(
    "--tls-san",
    "tls_sans",
    multiple=True,
    help="Extra DNS name or IP in the serving certificate (repeatable), e.g. NAME.NS.svc in a pod.",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the virtual cluster's admin kubeconfig [default: DATA_DIR/kubeconfig].",
)
@datastore_option
@authorization_mode_option
@log_level_option
def start(
    name: str,
    data_dir: Path,
    host_kubeconfig: Path | None,
    host_context: str | None,
    host_namespace: str,
    config_file: Path | None,
    port: int,
    bind: str,
    tls_sans: tuple[str, ...],
    kubeconfig: Path | None,
    datastore: str | None,
    authorization_mode: str,
    log_level: str,
) -> None:
    """Run a virtual cluster: its API server, controllers and the syncer to the host namespace."""
    from vcluster.apiserver.server import ServerConfig
    from vcluster.config import ConfigError, load_config
    from vcluster.controlplane import ControlPlaneConfig, SyncerSpec

    try:
        cfg = load_config(config_file)
    except ConfigError as e:
        raise click.ClickException(_config_problems(e, config_file)) from None
    from vcluster.apiserver.validation import is_dns1123_label
    from vcluster.cli.lifecycle import name_problem

    if (problem := name_problem(name)) is not None:
        raise click.BadParameter(problem, param_hint="--name")
    if is_dns1123_label(host_namespace):
        raise click.BadParameter(
            f"{host_namespace!r} is not a valid namespace name", param_hint="--host-namespace"
        )
    fmt = cfg.logging.encoding if hasattr(cfg, "logging") else "console"
    setup_logging(log_level, fmt)
    from vcluster.cli.auditopts import audit_from_config

    server = ServerConfig(
        data_dir=data_dir,
        bind=bind,
        port=port,
        kubeconfig=kubeconfig,
        allocate_service_ips=not cfg.sync_enabled("services"),
        **_datastore_of(datastore, cfg),
        authorization_mode=authorization_mode,
        extra_hosts=[name, f"{name}.{host_namespace}", f"{name}.{host_namespace}.svc", *tls_sans],
        audit=audit_from_config(cfg, data_dir),
    )
    spec = SyncerSpec(
        name=name,
        host_kubeconfig=str(host_kubeconfig) if host_kubeconfig else None,
        host_namespace=host_namespace,
        config=cfg,
        host_context=host_context,
    )
    kcm = cfg.control_plane.controller_manager_settings()  # checked when the config was loaded
    for warning in kcm.warnings:
        logging.getLogger("vcluster.cli").warning("controlPlane.distro.k8s.controllerManager: %s", warning)
    run_control_plane_or_exit(
        ControlPlaneConfig(
            server,
            syncer=spec,
            banner=f"vcluster {name}",
            controllers=kcm.controllers,
            controller_options=kcm.options,
        )
    )


def _datastore_of(flag: str | None, cfg: Any) -> dict[str, Any]:
    """The ServerConfig datastore fields: --datastore (with the --etcd-* files) or vcluster.yaml's
    `controlPlane.backingStore` (database.external's data source with its TLS files, or
    etcd.external's endpoint and TLS files)."""
    if flag:
        return {"datastore": flag, "datastore_tls": _etcd_tls_flags()}
    from vcluster.store.datasource import configured_datastore

    try:
        datastore, tls = configured_datastore(cfg)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    return {"datastore": datastore, "datastore_tls": tls}


def _register_optional_commands() -> None:
    from vcluster.cli.hostsim_cmd import hostsim

    main.add_command(hostsim)


_register_optional_commands()


def _register_user_commands() -> None:
    """create/connect/list/... (issue 6), `host up|down|status` and `manifests`."""
    from vcluster.cli import commands, host_cmd
    from vcluster.cli.manifests_cmd import manifests

    commands.register(main)
    host_cmd.install(main)
    main.add_command(manifests)


_register_user_commands()

if __name__ == "__main__":
    main()
