"""Which host cluster a command acts on (the current kube context, its parent, or the local host)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from vcluster.cli import localhost, records, ui
from vcluster.cli.kubecfg import UserKubeconfig

T = TypeVar("T")
CLIENT_TIMEOUT = 15.0


@dataclass
class HostTarget:
    """The host kube context and the user's kubeconfig it was read from."""

    context: str
    kc: UserKubeconfig

    @property
    def local(self) -> bool:
        return self.context == localhost.CONTEXT


def resolve(context: str | None = None, *, start_local: str = "never") -> HostTarget:
    """The host: `--context`, else the current context (the parent when it is a vCluster context),
    else the local host cluster. `start_local`: "always" starts the local host in the background
    when it is the host and not running (and when there is no current context at all), "existing"
    only when it was set up before, "never" leaves it alone."""
    kc = UserKubeconfig()
    if context:
        if kc.context(context) is None:
            raise ui.CliError(
                f"kube context {context!r} does not exist; see `kubectl config get-contexts` for the names"
            )
        target = HostTarget(context, kc)
    else:
        cur = kc.current_context
        if not cur:
            if start_local == "always":
                localhost.ensure_running(
                    kc,
                    make_current=True,
                    announce="No current kube context: starting the local host cluster in the background",
                )
                ui.done(f"Added kube context {localhost.CONTEXT!r} to {kc.default_file} and made it current")
                return HostTarget(localhost.CONTEXT, kc)
            cur = localhost.CONTEXT
        parsed = records.parse_context_name(cur)
        if parsed is not None and kc.context(parsed[2]) is not None:
            cur = parsed[2]  # connected to a virtual cluster: its host is the parent context
        target = HostTarget(cur, kc)
    ui.debug(f"Host kube context {target.context} (kubeconfig {', '.join(map(str, kc.files)) or '<none>'})")
    wanted = start_local == "always" or (start_local == "existing" and localhost.LocalHost().exists())
    if target.local and wanted:
        localhost.ensure_running(
            kc, make_current=False, announce="The local host cluster is not running: starting it"
        )
    return target


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async host operation to completion from synchronous click code."""
    from vcluster.eventloop import run as run_loop

    return run_loop(coro_fn())  # type: ignore[arg-type]


async def client_for(target: HostTarget) -> Any:
    """An async client for the host context (from the same merged kubeconfig kubectl reads)."""
    from vcluster.client import Client, ConfigError

    try:
        return await Client.from_kubeconfig(
            str(target.kc.paths[0]) if len(target.kc.paths) == 1 else None,
            target.context,
            user_agent="vcluster-cli",
            timeout=CLIENT_TIMEOUT,
        )
    except ConfigError as e:
        raise ui.CliError(f"cannot use kube context {target.context!r}: {e}; fix the kubeconfig") from None


def unreachable(target: HostTarget, err: Exception) -> ui.CliError:
    """The one-line error for a host that does not answer."""
    hint = (
        "start it with `vcluster host up` and run the command again"
        if target.local
        else "check that the cluster is up (or choose another host with --context) and run the command again"
    )
    msg = getattr(err, "message", "") or str(err)
    return ui.CliError(f"cannot reach the host cluster of kube context {target.context!r} ({msg}); {hint}")


async def probe(client: Any, target: HostTarget) -> None:
    """Fail with a one-line error unless the host answers and accepts our credentials."""
    from vcluster.client import ConnectionFailed

    try:
        status, _, _ = await client.request("GET", "/version", timeout=CLIENT_TIMEOUT)
    except ConnectionFailed as e:
        raise unreachable(target, e) from None
    if status in (401, 403):
        raise ui.CliError(
            f"the host cluster of kube context {target.context!r} rejected our credentials (HTTP {status}); "
            "refresh them in the kubeconfig"
        )
    if status >= 300:
        raise ui.CliError(
            f"the host cluster of kube context {target.context!r} answered HTTP {status} on /version; "
            "is the context's server a Kubernetes API?"
        )
