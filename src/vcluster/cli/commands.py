"""User-facing commands: create, connect, disconnect, list, describe, logs, delete, pause, resume."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import click
import orjson
import yaml

from vcluster import __version__
from vcluster.cli import hostctx, hostops, lifecycle, paths, records, ui
from vcluster.cli.connect_cmd import ConnectOptions, connect, connect_context, disconnect
from vcluster.cli.globalflags import UserCommand
from vcluster.cli.hostctx import HostTarget
from vcluster.cli.options_compat import go_bool_option, refused_flag, refused_option
from vcluster.cli.records import Record
from vcluster.client import ApiError, ConnectionFailed

_ns_option = click.option(
    "-n",
    "--namespace",
    default=None,
    help="Host namespace [default: where the only vCluster of that name is, else the context's "
    "namespace unless it is `default`, else vcluster-NAME].",
)
_context_option = click.option(
    "--context", default=None, help="Host kube context [default: the current one, or its parent]."
)
_timeout_option = click.option(
    "--timeout",
    default=lifecycle.DEFAULT_TIMEOUT,
    show_default=True,
    type=click.FloatRange(1),
    help="Seconds to wait for the vCluster to come up.",
)


def _host_call(target: HostTarget, fn: Any, *, what: str) -> Any:
    """Run `fn(client)` against the host with one-line errors for the usual failures."""

    async def go() -> Any:
        client = await hostctx.client_for(target)
        try:
            await hostctx.probe(client, target)
            return await fn(client)
        finally:
            await client.close()

    try:
        return hostctx.run(go)
    except ConnectionFailed as e:
        raise hostctx.unreachable(target, e) from None
    except hostops.HostOpError as e:
        raise ui.CliError(str(e)) from None
    except ApiError as e:
        raise ui.CliError(
            f"the host cluster refused to {what} ({e.reason or e.status}: {e.message}); "
            f"check the permissions of kube context {target.context!r}"
        ) from None


# ====================================================================== create
NEEDS_HELM = "this vcluster is not installed from a Helm chart (it runs `vcluster start` on this machine)"
PLATFORM = "there is no vCluster Platform here"
SERVED_MINOR = "1.32"


def _version_values(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and value.removeprefix("v") != __version__:
        raise ui.CliError(
            f"--chart-version {value} is not supported by this vcluster: {NEEDS_HELM} (version {__version__})"
        )


def _distro(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    ui.warn(
        'Flag --distro has been deprecated, please specify the distro by setting "controlPlane.distro" '
        "accordingly via values.yaml file."
    )
    if value != "k8s":
        raise ui.CliError(
            f"--distro {value} is not supported by this vcluster: its only distro is k8s "
            f"(Kubernetes {SERVED_MINOR})"
        )


@click.command("create", cls=UserCommand)
@click.argument("name")
@_ns_option
@click.option(
    "-f",
    "--values",
    "values",
    multiple=True,
    help="A vcluster.yaml with the configuration, as a file or base64-encoded YAML (repeatable: later "
    "ones win, maps are merged).",
)
@click.option(
    "--set",
    "set_values",
    multiple=True,
    help="Set values as helm does, on top of the files (repeatable), "
    "e.g. --set sync.toHost.ingresses.enabled=true.",
)
@go_bool_option(
    "--connect",
    default=True,
    show_default=True,
    help="Switch the kube context to the vCluster when it is up (--connect=false to stay).",
)
@click.option(
    "--print", "print_", is_flag=True, help="Write the vCluster's kubeconfig to stdout instead of switching."
)
@click.option("--upgrade", is_flag=True, help="Apply new values to an existing vCluster (restarts it).")
@click.option(
    "--kube-config-context-name",
    "context_name",
    default="",
    help="The context name instead of vcluster_NAME_NAMESPACE_PARENT.",
)
@go_bool_option(
    "--create-namespace",
    default=True,
    show_default=True,
    help="Create the namespace when it does not exist (--create-namespace=false: it must exist).",
)
@click.option(
    "--kubernetes-version",
    default="",
    help=f"The Kubernetes version to serve; only v{SERVED_MINOR} is available.",
)
@go_bool_option("--update-current", default=True, hidden=True)
@click.option("--chart-version", default=None, hidden=True, expose_value=False, callback=_version_values)
@click.option("--distro", default=None, hidden=True, expose_value=False, callback=_distro)
@go_bool_option("--background-proxy", hidden=True, expose_value=False)
@go_bool_option("--add", hidden=True, expose_value=False)
@go_bool_option("--expose-local", hidden=True, expose_value=False)
@refused_flag(
    "--expose",
    "the vCluster's API server runs on this machine, not behind a host Service; "
    "`vcluster manifests` deploys it "
    "into a host cluster, where a Service of type LoadBalancer can expose it",
)
@refused_option("--chart-name", NEEDS_HELM, allowed=("vcluster",))
@refused_option("--chart-repo", NEEDS_HELM, allowed=("https://charts.loft.sh",))
@refused_option("--local-chart-dir", NEEDS_HELM)
@refused_option("--restore", "there are no vCluster snapshots here")
@refused_option("--driver", "only the helm-like local driver exists here", allowed=("helm",))
@refused_option("--project", PLATFORM)
@refused_option("--template", PLATFORM)
@refused_option("--template-version", PLATFORM)
@refused_option("--cluster", PLATFORM)
@refused_option("--team", PLATFORM)
@refused_option("--user", PLATFORM)
@_context_option
@_timeout_option
def create(
    name: str,
    namespace: str | None,
    values: tuple[str, ...],
    set_values: tuple[str, ...],
    connect: bool,
    print_: bool,
    upgrade: bool,
    context_name: str,
    create_namespace: bool,
    kubernetes_version: str,
    update_current: bool,
    context: str | None,
    timeout: float,
) -> None:
    """Create a virtual cluster NAME in a host namespace and connect to it.

    Without a current kube context the local host cluster is started in the background first.
    """
    from vcluster.cli.valuesfile import load_values_merged

    lifecycle.validate_name(name)
    if namespace is not None:
        lifecycle.validate_namespace(namespace)
    if kubernetes_version and kubernetes_version.removeprefix("v") != SERVED_MINOR:
        raise ui.CliError(
            f"--kubernetes-version {kubernetes_version}: this vcluster serves the Kubernetes "
            f"{SERVED_MINOR} API "
            f"only; leave the flag out or pass v{SERVED_MINOR}"
        )
    if not update_current:
        ui.warn('"--update-current=false" has no effect anymore. Please consider using "--connect=false"')
    cfg, text = load_values_merged(list(values), list(set_values))
    conn = ConnectOptions(print_=print_, context_name=context_name)
    target = hostctx.resolve(context, start_local="always")
    _, ns = lifecycle.lookup(target, name, namespace)
    with paths.locked(Record(name, ns, target.context).lock_path):
        found = records.find(target.context, name, ns)
        rec = found[0] if found else None

        async def inspect(client: Any) -> tuple[set[str], bool]:
            if not create_namespace and not await hostops.namespace_exists(client, ns):
                raise hostops.HostOpError(
                    f"namespace {ns} does not exist and --create-namespace=false; create it first "
                    "or leave the flag out"
                )
            others = await hostops.vclusters_in(client, ns) - {name}
            return others, await hostops.config_map_exists(client, name, ns)

        others, on_host = _host_call(target, inspect, what="read the namespace")
        if others:
            raise ui.CliError(
                f"namespace {ns} already holds vCluster {sorted(others)[0]}; only one vCluster per namespace "
                f"is supported, use another namespace with -n"
            )
        if rec is not None and rec.phase == records.DELETING:
            raise ui.CliError(
                f"vCluster {name} in namespace {ns} is being deleted; finish with "
                f"`vcluster delete {name} -n {ns}` and create it again"
            )
        if rec is not None and rec.phase != records.CREATING and not upgrade:
            if not rec.running():
                raise ui.CliError(
                    f"vCluster {name} already exists in namespace {ns} and is {rec.status().lower()}; "
                    f"start it with `vcluster resume {name} -n {ns}` (or pass --upgrade to apply new values)"
                )
            if not connect:  # as vCluster's create: only --connect makes an existing one a success
                raise ui.CliError(
                    f"vCluster {name} already exists in namespace {ns}; use `vcluster create {name} -n {ns} "
                    f"--upgrade` to upgrade it or `vcluster connect {name} -n {ns}` to access it"
                )
            ui.info(f"vCluster {name} already exists in namespace {ns} (use --upgrade to apply new values)")
            lifecycle.wait_until_ready(rec, timeout)
            connect_context(rec, target, conn)
            return
        if rec is None and on_host and not upgrade:
            raise ui.CliError(
                f"vCluster {name} already exists in namespace {ns} but was not created from here "
                f"(no local state); use another name, or remove it with `vcluster delete {name} -n {ns}`"
            )
        lifecycle.check_external_datastore(cfg, lock=not (rec is not None and rec.running()))
        if rec is None:
            rec = Record(name, ns, target.context, version=__version__, created=ui.timestamp())
        upgrading = rec.phase in (records.RUNNING, records.PAUSED)
        rec.save()
        if upgrading:
            ui.info(f"Upgrading vCluster {name} in namespace {ns} with new values")
        else:
            ui.info(f"Creating vCluster {name} in namespace {ns} (host context {target.context})")

        async def prepare(client: Any) -> bool:
            created = await hostops.ensure_namespace(client, ns)
            await hostops.write_config_map(client, cfg, name, ns)
            return created

        created_ns = _host_call(target, prepare, what="create the namespace and the config ConfigMap")
        if created_ns:
            ui.info(f"Created namespace {ns}")
            rec.namespace_created = True
        lifecycle.save_values(rec, text)
        rec.version = __version__
        rec.save()
        if rec.running():
            lifecycle.stop_process(rec)
        lifecycle.start_process(rec, target, timeout)
        rec.phase = records.RUNNING
        rec.save()
        verb = "upgraded" if upgrading else "created"
        ui.done(f"Successfully {verb} virtual cluster {name} in namespace {ns}")
    if connect or print_:
        connect_context(rec, target, conn)
    else:
        ui.info(f"- Use 'vcluster connect {name} --namespace {ns}' to access the virtual cluster")
        ui.info(
            f"- Use `vcluster connect {name} --namespace {ns} -- kubectl get ns` to run a command directly "
            "within the vcluster"
        )


# ====================================================================== list / describe / logs
def _row(rec: Record, current: str | None) -> dict[str, Any]:
    """One vCluster as vCluster's `list --output json` shows it (cli.ListVCluster, Go's field names)."""
    created = ui.parse_timestamp(rec.created)
    age = int((ui.now() - created).total_seconds()) if created is not None else 0
    return {
        "Created": rec.created,
        "Name": rec.name,
        "Namespace": rec.namespace,
        "Version": rec.version,
        "Status": rec.status(),
        "AgeSeconds": max(age, 0),
        "Connected": current == rec.context,
    }


def go_indented_json(rows: list[dict[str, Any]]) -> str:
    """vCluster's `json.MarshalIndent(output, "", "    ")` of its list: four-space indents, and `null`
    for no vClusters (its slice is nil until one is appended)."""
    import json

    return json.dumps(rows, indent=4, ensure_ascii=False) if rows else "null"


@click.command("list", cls=UserCommand)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("-n", "--namespace", default=None, help="Only the vClusters in this host namespace.")
@refused_option("--driver", "only the helm-like local driver exists here", allowed=("helm",))
@_context_option
def list_(output: str, namespace: str | None, context: str | None) -> None:
    """List the vClusters of the host (NAME, NAMESPACE, STATUS, VERSION, CONNECTED, AGE)."""
    target = hostctx.resolve(context, start_local="never")
    current = target.kc.current_context
    recs = [r for r in records.all_on_host(target.context) if namespace is None or r.namespace == namespace]
    rows = [_row(r, current) for r in recs]
    if output == "json":
        sys.stdout.write(go_indented_json(rows) + "\n")
        return
    if not rows:
        where = f" in namespace {namespace}" if namespace is not None else ""
        ui.info(
            f"No vClusters on host context {target.context}{where}; create one with `vcluster create NAME`"
        )
    else:
        table_rows = [
            [
                r["Name"],
                r["Namespace"],
                r["Status"],
                r["Version"],
                "True" if r["Connected"] else "",
                ui.go_duration(r["AgeSeconds"]),
            ]
            for r in rows
        ]
        click.echo(ui.table(["NAME", "NAMESPACE", "STATUS", "VERSION", "CONNECTED", "AGE"], table_rows))
    if records.parse_context_name(context or current or "") is not None:
        ui.info("Run `vcluster disconnect` to switch back to the parent context")


list_alias = UserCommand(
    "ls", callback=list_.callback, params=list_.params, help="Alias of `vcluster list`.", hidden=True
)


def _mapping_count(state_db: Path) -> int | None:
    """Live name mappings in the vCluster's state DB (the newest kine row per key, not deleted)."""
    import sqlite3

    if not state_db.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True, timeout=2)
        try:
            row = con.execute(
                "SELECT COUNT(*) FROM kine AS k WHERE k.name LIKE '/vcluster/mappings/%' AND k.deleted = 0 "
                "AND k.id = (SELECT MAX(id) FROM kine WHERE name = k.name)"
            ).fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return int(row[0]) if row else None


def _mappings(rec: Record, datastore: str | None) -> int | None:
    """Live name mappings of the vCluster, in its external datastore or its state.db."""
    if datastore is None:
        return _mapping_count(rec.data_dir / "state.db")
    from vcluster.store.datasource import is_etcd

    if is_etcd(datastore):
        from vcluster.store.etcdprobe import etcd_live_count

        return etcd_live_count(datastore, lifecycle.datastore_and_tls_of(rec)[1], "/vcluster/mappings/")
    from vcluster.store.postgres import live_count

    return live_count(datastore, "/vcluster/mappings/")


def describe_data(
    rec: Record, target: HostTarget, with_host: bool = True, with_store: bool = True
) -> dict[str, Any]:
    """Everything `describe` shows, as plain data (keys as in -o json); `with_host` / `with_store`:
    ask the host for the synced object counts / the datastore for the mapping count."""
    from vcluster.store.datasource import describe as describe_datastore

    status = rec.status()
    datastore = lifecycle.datastore_of(rec)
    data: dict[str, Any] = {
        "name": rec.name,
        "namespace": rec.namespace,
        "status": status,
        "version": rec.version,
        "created": rec.created,
        "hostContext": rec.host_context,
        "hostNamespace": rec.namespace,
        "context": rec.context,
        "connected": target.kc.current_context == rec.context,
        "endpoint": rec.url if status in ("Running", "Starting") else "",
        "pid": rec.pid if rec.running() else None,
        "dataDir": str(rec.data_dir),
        "kubeconfig": str(rec.kubeconfig),
        "logFile": str(rec.log_path),
        "stateDir": str(rec.dir),
        "valuesFile": rec.values_file or None,
        "namespaceCreated": rec.namespace_created,
        "datastore": describe_datastore(datastore) if datastore else str(rec.data_dir / "state.db"),
        "mappings": _mappings(rec, datastore) if with_store else None,
        "syncedObjects": None,
    }
    if with_host:

        async def counts() -> dict[str, int]:
            client = await hostctx.client_for(target)
            client.timeout = 5.0
            try:
                return await hostops.managed_counts(client, rec.name, rec.namespace)
            finally:
                await client.close()

        with contextlib.suppress(ApiError, ui.CliError, OSError):  # host unreachable: counts stay null
            data["syncedObjects"] = hostctx.run(counts)
    return data


@click.command("describe", cls=UserCommand)
@click.argument("name")
@_ns_option
@click.option(
    "-o",
    "--output",
    default="",
    help="json, yaml, or jsonpath=TEMPLATE (e.g. jsonpath='{.dataDir}') [default: readable text].",
)
@_context_option
def describe(name: str, namespace: str | None, output: str, context: str | None) -> None:
    """Show a vCluster's status, data dir, endpoint, host namespace and synced object counts."""
    from vcluster.cli import jsonpath

    target = hostctx.resolve(context, start_local="never")
    rec = lifecycle.require(target, name, namespace)
    fmt, _, template = output.partition("=")
    if fmt not in ("", "json", "yaml", "jsonpath"):
        raise ui.CliError(f"unknown output format {output!r}; use json, yaml or jsonpath=TEMPLATE")
    if fmt == "jsonpath":
        if not template:
            raise ui.CliError("jsonpath output needs a template, e.g. -o jsonpath='{.dataDir}'")
        needs_host, needs_store = "syncedObjects" in template, "mappings" in template
        try:
            data = describe_data(rec, target, with_host=needs_host, with_store=needs_store)
            click.echo(jsonpath.render(template, data))
        except jsonpath.JSONPathError as e:
            raise ui.CliError(str(e)) from None
        return
    data = describe_data(rec, target)
    if fmt == "json":
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    elif fmt == "yaml":
        click.echo(yaml.safe_dump(data, sort_keys=False).rstrip())
    else:
        click.echo(_describe_text(data))


def _describe_text(d: dict[str, Any]) -> str:
    synced = d["syncedObjects"]
    counts = ", ".join(f"{k}={v}" for k, v in synced.items()) if synced is not None else "<host unreachable>"
    created = ui.parse_timestamp(d["created"])
    rows = [
        ("Name", d["name"]),
        ("Namespace", d["namespace"]),
        ("Status", d["status"]),
        ("Version", d["version"]),
        ("Created", f"{d['created']} ({ui.human_age(created)} ago)"),
        ("Host context", d["hostContext"]),
        ("Host namespace", d["hostNamespace"]),
        ("Kube context", d["context"] + (" (current)" if d["connected"] else "")),
        ("Endpoint", d["endpoint"] or "<none>"),
        ("PID", str(d["pid"]) if d["pid"] else "<none>"),
        ("Data dir", d["dataDir"]),
        ("Kubeconfig", d["kubeconfig"]),
        ("Log file", d["logFile"]),
        ("Values file", d["valuesFile"] or "<defaults>"),
        ("Datastore", d["datastore"]),
        ("Mappings", "<none>" if d["mappings"] is None else str(d["mappings"])),
        ("Synced objects", counts),
    ]
    width = max(len(k) for k, _ in rows) + 2
    return "\n".join(f"{(k + ':').ljust(width)}{v}" for k, v in rows)


@click.command("logs", cls=UserCommand)
@click.argument("name")
@_ns_option
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the process ends.")
@click.option("--tail", default=-1, type=int, help="Only the last N lines (-1: all).")
@_context_option
def logs(name: str, namespace: str | None, follow: bool, tail: int, context: str | None) -> None:
    """Print the log of a vCluster's background process (API server, controllers, syncer)."""
    target = hostctx.resolve(context, start_local="never")
    rec = lifecycle.require(target, name, namespace)
    try:
        f = open(rec.log_path, "rb")  # noqa: SIM115 - kept open while following
    except FileNotFoundError:
        raise ui.CliError(f"vCluster {name} has no log yet ({rec.log_path})") from None
    with f:
        data = f.read()
        lines = data.splitlines(keepends=True)
        if tail >= 0:
            lines = lines[-tail:] if tail else []
        out = sys.stdout.buffer
        out.write(b"".join(lines))
        out.flush()
        if not follow:
            return
        try:
            while True:
                chunk = f.read()
                if chunk:
                    out.write(chunk)
                    out.flush()
                    continue
                if not rec.running():
                    out.write(f.read())
                    out.flush()
                    return
                time.sleep(0.2)
        except (KeyboardInterrupt, BrokenPipeError):
            return


# ====================================================================== delete / pause / resume
@click.command("delete", cls=UserCommand)
@click.argument("name")
@_ns_option
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Wait until the host objects are gone."
)
@click.option(
    "--delete-namespace",
    is_flag=True,
    help="Delete the host namespace too (unless another vCluster is left in it).",
)
@go_bool_option(
    "--auto-delete-namespace",
    default=True,
    show_default=True,
    help="Delete the namespace when vcluster create made it (annotation vcluster.loft.sh/created).",
)
@go_bool_option(
    "--delete-context",
    default=True,
    show_default=True,
    help="Delete the vCluster's kube context.",
)
@click.option(
    "--keep-pvc",
    is_flag=True,
    help="Keep the vCluster's own storage (its data dir with state.db, as vCluster keeps its data PVC): "
    "creating it again with the same name and namespace starts from that state.",
)
@click.option("--delete-configmap", is_flag=True, help="Also delete the host ConfigMap configmap-NAME.")
@click.option("--ignore-not-found", is_flag=True, help="Succeed when there is no such vCluster.")
@refused_option("--project", PLATFORM)
@refused_option("--driver", "only the helm-like local driver exists here", allowed=("helm",))
@_context_option
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(1), help="Seconds to wait.")
def delete(
    name: str,
    namespace: str | None,
    wait: bool,
    delete_namespace: bool,
    auto_delete_namespace: bool,
    delete_context: bool,
    keep_pvc: bool,
    delete_configmap: bool,
    ignore_not_found: bool,
    context: str | None,
    timeout: float,
) -> None:
    """Delete a vCluster: stop it, delete its host objects, its namespace if it created it, its kube
    context and its local state. Running it again finishes a delete that was interrupted."""
    target = hostctx.resolve(context, start_local="existing")
    rec, ns = lifecycle.lookup(target, name, namespace)
    with paths.locked(Record(name, ns, target.context).lock_path):
        found = records.find(target.context, name, ns)
        rec = found[0] if found else None

        async def present(client: Any) -> bool:
            return name in await hostops.vclusters_in(client, ns) or bool(
                await hostops.remaining(client, name, ns)
            )

        if rec is None and not _host_call(target, present, what="look for the vCluster"):
            if ignore_not_found:
                ui.info(f"vCluster {name} not found in namespace {ns}; nothing to delete")
                return
            raise lifecycle.not_found(name, ns, target)
        ui.info(f"Delete vcluster {name}...")
        if rec is not None:
            rec.phase = records.DELETING
            rec.save()
            if lifecycle.stop_process(rec):
                ui.info(f"Stopped the vCluster {name} process")

        async def cleanup(client: Any) -> tuple[dict[str, int], list[str], str]:
            counts = await hostops.delete_managed(client, name, ns)
            if delete_configmap and await hostops.delete_config_map(client, f"configmap-{name}", ns):
                counts["configmaps"] = counts.get("configmaps", 0) + 1
            left = await hostops.wait_gone(client, name, ns, timeout) if wait else []
            ns_state = ""
            others = await hostops.vclusters_in(client, ns) - {name}
            drop = delete_namespace or (
                auto_delete_namespace and await hostops.namespace_created_by_us(client, ns)
            )
            if drop and not others:
                gone = await hostops.delete_namespace(client, ns, timeout if wait else 0)
                ns_state = "deleted" if gone else "terminating"
            elif drop:
                ns_state = "kept: " + sorted(others)[0]
            return counts, left, ns_state

        counts, left, ns_state = _host_call(target, cleanup, what="delete the vCluster's objects")
        if counts:
            ui.info("Deleted host objects: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        if left:
            raise ui.CliError(
                f"{len(left)} host object(s) of vCluster {name} are still there after {timeout:.0f}s "
                f"(e.g. {left[0]}); run `vcluster delete {name} -n {ns}` again"
            )
        if ns_state == "deleted":
            ui.done(f"Successfully deleted virtual cluster namespace {ns}")
        elif ns_state == "terminating":
            ui.info(f"Namespace {ns} is being deleted")
        elif ns_state.startswith("kept: "):
            ui.info(f"Kept namespace {ns}: vCluster {ns_state[6:]} lives in it too")
        if delete_context:
            removed = lifecycle.remove_contexts(target.kc, name, ns, target.context)
            if removed:
                ui.info(f"Removed kube context {removed[0]}; current context is {target.kc.current_context}")
        datastore = lifecycle.datastore_of(rec) if rec is not None else None
        if rec is not None:
            lifecycle.remove_state(rec, keep_data=keep_pvc)
            if keep_pvc and rec.data_dir.exists():
                ui.info(
                    f"Kept the vCluster's data in {rec.data_dir} (--keep-pvc): "
                    f"`vcluster create {name} -n {ns}` "
                    "starts from it again"
                )
    if datastore:
        from vcluster.store.datasource import describe as describe_datastore

        ui.info(
            f"Kept the state in the external datastore {describe_datastore(datastore)} (vcluster delete "
            "does not drop a database): a vCluster created on it again starts from that state; "
            + (
                "delete its keys to start empty (etcdctl del --prefix /registry/; "
                "etcdctl del --prefix /vcluster/)"
                if datastore.startswith(("http://", "https://"))
                else "drop its kine table to start empty"
            )
        )
    ui.done(f"Successfully deleted virtual cluster {name} in namespace {ns}")


@click.command("pause", cls=UserCommand)
@click.argument("name")
@_ns_option
@_context_option
def pause(name: str, namespace: str | None, context: str | None) -> None:
    """Stop a vCluster's process and delete its host pods; `vcluster resume` brings it back."""
    target = hostctx.resolve(context, start_local="never")
    rec = lifecycle.require(target, name, namespace)
    with paths.locked(rec.lock_path):
        if rec.phase == records.DELETING:
            raise lifecycle.deleting(rec)
        was_running = lifecycle.stop_process(rec)
        rec.phase = records.PAUSED
        rec.save()
    local_down = target.local and not _local_running()
    if not local_down:
        try:
            n = _host_call(target, lambda c: hostops.delete_pods(c, name, rec.namespace), what="delete pods")
        except ui.CliError as e:
            ui.warn(f"the host pods of {name} were left running: {e.format_message()}")
        else:
            if n:
                ui.info(
                    f"Deleted {n} host pod(s); on resume their controllers recreate them "
                    "(pods that no controller owns are not recreated: they are deleted, as vCluster does)"
                )
    state = "paused" if was_running else "paused (it was not running)"
    ui.done(f"vCluster {name} in namespace {rec.namespace} is {state}")


def _local_running() -> bool:
    from vcluster.cli.localhost import LocalHost

    return LocalHost.load().running()


@click.command("resume", cls=UserCommand)
@click.argument("name")
@_ns_option
@_context_option
@_timeout_option
def resume(name: str, namespace: str | None, context: str | None, timeout: float) -> None:
    """Start a paused (or exited) vCluster's process again."""
    target = hostctx.resolve(context, start_local="existing")
    rec = lifecycle.require(target, name, namespace)
    with paths.locked(rec.lock_path):
        rec = records.find(target.context, name, rec.namespace)[0]
        if rec.phase == records.DELETING:
            raise lifecycle.deleting(rec)
        if rec.running():
            lifecycle.wait_until_ready(rec, timeout)
            ui.info(f"vCluster {name} in namespace {rec.namespace} is already running")
            return

        async def check(client: Any) -> None:
            return None

        _host_call(target, check, what="answer")
        lifecycle.start_process(rec, target, timeout)
        rec.phase = records.RUNNING
        rec.save()
    ui.done(f"vCluster {name} in namespace {rec.namespace} is running again at {rec.url}")


USER_COMMANDS = (create, connect, disconnect, list_, list_alias, describe, logs, delete, pause, resume)


def register(group: click.Group) -> None:
    for cmd in USER_COMMANDS:
        group.add_command(cmd)
