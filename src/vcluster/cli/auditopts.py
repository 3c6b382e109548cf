"""kube-apiserver's audit flags (--audit-policy-file, --audit-log-*) for `vcluster apiserver`, and the
same flags from vcluster.yaml's `controlPlane.distro.k8s.apiServer.extraArgs` for `vcluster start`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from vcluster.apiserver.audit import check
from vcluster.apiserver.auditoptions import FLAGS, HELP, AuditConfigError, AuditOptions, convert

_META = "audit"
log = logging.getLogger("vcluster.cli")


def _keep(attr: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def keep(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None:
            return
        try:
            ctx.meta.setdefault(_META, {})[attr] = convert(attr, value) if isinstance(value, str) else value
        except ValueError as e:
            raise click.BadParameter(str(e), ctx=ctx, param=param) from None

    return keep


def audit_options(fn: Any) -> Any:
    """Add every audit flag (as strings or ints, converted like pflag) to a command."""
    for flag, f in reversed(list(FLAGS.items())):
        default = getattr(AuditOptions(), f.name)
        kind: Any = int if isinstance(default, int) and not isinstance(default, bool) else str
        fn = click.option(
            f"--{flag}",
            default=None,
            type=kind,
            expose_value=False,
            callback=_keep(f.name),
            metavar="BOOL" if isinstance(default, bool) else None,
            help=f"{HELP[f.name]} [default: {_show(default)}]",
        )(fn)
    return fn


def _show(default: Any) -> str:
    if isinstance(default, bool):
        return "false"
    if isinstance(default, float):
        return f"{default:g}s"
    return str(default) if default != "" else '""'


def audit_from_context() -> AuditOptions | None:
    """The audit flags of the current command, checked (policy file included); None without any."""
    given = click.get_current_context().meta.get(_META)
    if not given:
        return None
    opts = AuditOptions(**given)
    try:
        check(opts)
    except AuditConfigError as e:
        raise click.UsageError(str(e)) from None
    return opts


def audit_from_config(cfg: Any, data_dir: Path) -> AuditOptions | None:
    """The audit flags among vcluster.yaml's kube-apiserver extraArgs (relative paths under the data
    dir), checked; the other arguments are named in a warning (only the audit flags are used)."""
    from vcluster.apiserver.auditoptions import from_args

    args = cfg.control_plane.api_server_extra_args()
    if not args:
        return None
    try:
        opts, others = from_args(args)
        opts = opts.under(data_dir)
        check(opts)
    except AuditConfigError as e:
        raise click.ClickException(f"controlPlane.distro.k8s.apiServer.extraArgs: {e}") from None
    if others:
        log.warning(
            "controlPlane.distro.k8s.apiServer.extraArgs: not used (only the --audit-* flags are): %s",
            " ".join(others),
        )
    return opts
