"""Running one virtual cluster as a supervised background process: start, stop, connect, find."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from vcluster.cli import paths, proc, records, ui
from vcluster.cli.hostctx import HostTarget
from vcluster.cli.kubecfg import UserKubeconfig, write_private
from vcluster.cli.records import Record
from vcluster.fsutil import write_atomic

DEFAULT_TIMEOUT = 120.0


NAME_MAX = 52  # StatefulSet NAME: its pods' controller-revision-hash label NAME-<10 chars> is <= 63


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a vCluster (a DNS label short enough for `NAME-0` pods and their
    revision hashes; the same rule for `create`, `start` and `manifests`), or None."""
    from vcluster.apiserver.validation import is_dns1123_label

    if is_dns1123_label(name) or len(name) > NAME_MAX:
        return (
            f"invalid vCluster name {name!r}: use at most {NAME_MAX} lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return None


def validate_name(name: str) -> None:
    problem = name_problem(name)
    if problem is not None:
        raise ui.CliError(problem)


def validate_namespace(namespace: str) -> None:
    from vcluster.apiserver.validation import is_dns1123_label

    if is_dns1123_label(namespace):
        raise ui.CliError(
            f"invalid namespace {namespace!r}: use at most 63 lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )


def default_namespace(target: HostTarget, name: str) -> str:
    """vCluster's rule: the context's namespace unless empty or `default`, else `vcluster-<name>`."""
    ctx = target.kc.context(target.context) or {}
    ns = ctx.get("namespace") or ""
    return ns if ns and ns != "default" else f"vcluster-{name}"


def lookup(target: HostTarget, name: str, namespace: str | None) -> tuple[Record | None, str]:
    """The local record of `name` (in `namespace`, or the only one by that name) and its namespace."""
    validate_name(name)
    if namespace is not None:
        validate_namespace(namespace)
    found = records.find(target.context, name, namespace)
    if len(found) > 1:
        where = ", ".join(r.namespace for r in found)
        raise ui.CliError(
            f"there are vClusters named {name} in several namespaces ({where}); choose one with -n NAMESPACE"
        )
    if found:
        return found[0], found[0].namespace
    return None, namespace or default_namespace(target, name)


def not_found(name: str, namespace: str, target: HostTarget) -> ui.CliError:
    return ui.CliError(
        f"vCluster {name} not found in namespace {namespace} (host context {target.context}); "
        "see `vcluster list` for the existing ones"
    )


def deleting(rec: Record) -> ui.CliError:
    return ui.CliError(
        f"vCluster {rec.name} is being deleted; finish with `vcluster delete {rec.name} -n {rec.namespace}`"
    )


def require(target: HostTarget, name: str, namespace: str | None) -> Record:
    rec, ns = lookup(target, name, namespace)
    if rec is None:
        raise not_found(name, ns, target)
    return rec


# ---------------------------------------------------------------------- the background process
def start_process(rec: Record, target: HostTarget, timeout: float) -> None:
    """Spawn `vcluster start` for `rec` and wait for its ready line (the syncer has synced by then)."""
    write_private(rec.host_kubeconfig, target.kc.flatten(target.context))
    rec.port = proc.free_port(rec.port)
    argv = [
        "start",
        "--name",
        rec.name,
        "--data-dir",
        str(rec.data_dir),
        "--host-kubeconfig",
        str(rec.host_kubeconfig),
        "--host-namespace",
        rec.namespace,
        "--port",
        str(rec.port),
    ]
    if rec.values_file:
        argv += ["--config", rec.values_file]
    rec.data_dir.mkdir(parents=True, exist_ok=True)
    spawned = proc.spawn(proc.vcluster_command(*argv), rec.log_path, rec.pid_path)
    rec.pid, rec.log_offset, rec.url = spawned.pid, spawned.log_offset, ""
    ui.debug(f"Started `vcluster {' '.join(argv)}` as pid {rec.pid}, logging to {rec.log_path}")
    rec.save()
    logs_cmd = f"vcluster logs {rec.name} -n {rec.namespace}"
    try:
        with ui.progress(f"Waiting for vCluster {rec.name} to come up (API server and syncer)"):
            url, _ = proc.wait_ready(spawned, f"vcluster {rec.name} ", timeout)
    except proc.ExitedError as e:
        why = proc.last_error_line(e.tail) or f"exit code {e.code}"
        raise ui.CliError(
            f"vCluster {rec.name} exited during start-up ({why}); "
            f"see `{logs_cmd}`, then run the command again"
        ) from None
    except TimeoutError:
        proc.stop(rec.pid, rec.marker)
        raise ui.CliError(
            f"vCluster {rec.name} did not come up within {timeout:.0f}s and was stopped; see `{logs_cmd}`, "
            "then run the command again"
        ) from None
    rec.url = url
    rec.save()


def stop_process(rec: Record, timeout: float = 15.0) -> bool:
    """Stop the background process (SIGTERM, SIGKILL after `timeout`); whether it was running."""
    stopped = proc.stop(rec.pid, rec.marker, timeout)
    rec.pid_path.unlink(missing_ok=True)
    return stopped


def wait_until_ready(rec: Record, timeout: float) -> None:
    """Wait for a process that is starting; CliError when it is down or does not come up."""
    deadline = time.monotonic() + timeout
    while True:
        if not rec.running():
            raise not_running(rec)
        found = proc.find_ready(rec.log_path, rec.log_offset, f"vcluster {rec.name} ")
        if found:
            rec.url = rec.url or found[0]
            return
        if time.monotonic() >= deadline:
            raise ui.CliError(
                f"vCluster {rec.name} is still starting after {timeout:.0f}s; "
                f"see `vcluster logs {rec.name} -n {rec.namespace}`"
            )
        time.sleep(0.1)


def not_running(rec: Record) -> ui.CliError:
    status = rec.status().lower()
    return ui.CliError(
        f"vCluster {rec.name} in namespace {rec.namespace} is not running ({status}); "
        f"start it with `vcluster resume {rec.name} -n {rec.namespace}`"
    )


def save_values(rec: Record, text: str | None) -> None:
    """Keep a copy of the values in the state directory (what later restarts use); private, as it
    may hold the external database's password."""
    dest = rec.dir / "values.yaml"
    if text is None:
        dest.unlink(missing_ok=True)
        rec.values_file = ""
    else:
        rec.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(dest, text.encode("utf-8"), 0o600)
        rec.values_file = str(dest)


# ---------------------------------------------------------------------- the external datastore
def check_external_datastore(cfg: Any, *, lock: bool) -> None:
    """Before anything is created: the values' external database (`controlPlane.backingStore.
    database.external`) or etcd (`etcd.external`) can be used — TLS files absolute and readable,
    server reachable, TLS and credentials accepted and, for PostgreSQL with `lock`, no other
    vcluster writing it. CliError saying what to fix."""
    from vcluster.store.datasource import (
        EXTERNAL_ETCD,
        DatastoreError,
        configured_datastore,
        is_etcd,
        tls_file_problems,
    )

    store = cfg.control_plane.backing_store
    try:
        datastore, tls = configured_datastore(cfg)
    except ValueError as e:
        raise ui.CliError(f"values file: {e}") from None
    if datastore is None:
        return
    etcd = is_etcd(datastore)
    ext = store.etcd.external if etcd else store.database.external
    problems = tls_file_problems(ext, f"{EXTERNAL_ETCD}.tls") if etcd else tls_file_problems(ext)
    if problems:
        raise ui.CliError("values file: " + "; ".join(problems))
    try:
        if etcd:
            from vcluster.store.etcdprobe import probe_etcd

            probe_etcd(datastore, tls)
        else:
            from vcluster.store.postgres import probe

            probe(datastore, lock=lock)
    except DatastoreError as e:
        raise ui.CliError(str(e)) from None


def datastore_of(rec: Record) -> str | None:
    """The external datastore of a vCluster (from its saved values), or None: SQLite in its data dir."""
    return datastore_and_tls_of(rec)[0]


def datastore_and_tls_of(rec: Record) -> tuple[str | None, dict[str, str]]:
    """The external datastore of a vCluster and its etcd TLS files (from its saved values)."""
    if not rec.values_file:
        return None, {}
    from vcluster.config import load_config
    from vcluster.store.datasource import configured_datastore

    try:
        return configured_datastore(load_config(Path(rec.values_file)))
    except (ValueError, OSError):
        return None, {}


def remove_state(rec: Record, keep_data: bool = False) -> None:
    """Remove the vCluster's local state; `keep_data` keeps its data dir (state.db, PKI) for a create."""
    if keep_data and rec.data_dir.is_dir():
        for p in rec.dir.iterdir():
            if p != rec.data_dir:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        return
    shutil.rmtree(rec.dir, ignore_errors=True)
    paths.remove_empty_parents(rec.dir.parent, paths.vclusters_root())


# ---------------------------------------------------------------------- kube contexts
def virtual_kubeconfig(rec: Record) -> dict[str, Any]:
    """A kubeconfig for the virtual cluster with the context `vcluster_<name>_<ns>_<parent>`."""
    try:
        src = yaml.safe_load(rec.kubeconfig.read_text())
        cluster = src["clusters"][0]["cluster"]
        user = src["users"][0]["user"]
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
        raise ui.CliError(
            f"the kubeconfig of vCluster {rec.name} ({rec.kubeconfig}) is missing or broken; "
            f"restart it with `vcluster pause {rec.name} -n {rec.namespace}` and `vcluster resume ...`"
        ) from None
    name = rec.context
    cluster = {**cluster, "server": rec.url or cluster.get("server")}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }


def write_context(kc: UserKubeconfig, vkc: dict[str, Any], make_current: bool) -> str:
    name = vkc["current-context"]
    kc.set_entry("clusters", name, vkc["clusters"][0]["cluster"])
    kc.set_entry("users", name, vkc["users"][0]["user"])
    kc.set_entry("contexts", name, vkc["contexts"][0]["context"])
    if make_current:
        kc.set_current(name)
    kc.save()
    return name


def remove_contexts(kc: UserKubeconfig, name: str, namespace: str, parent: str) -> list[str]:
    """Remove the kube contexts of one virtual cluster; switch back to `parent` if one was current."""
    gone = []
    for ctx in kc.context_names():
        parsed = records.parse_context_name(ctx)
        if parsed is not None and parsed[:2] == (name, namespace) and parsed[2] == parent:
            was_current = kc.current_context == ctx
            kc.remove_entry("contexts", ctx)
            kc.remove_entry("clusters", ctx)
            kc.remove_entry("users", ctx)
            if was_current:
                kc.set_current(parent if kc.context(parent) is not None else None)
            gone.append(ctx)
    kc.save()
    return gone


def temp_kubeconfig(rec: Record, vkc: dict[str, Any]) -> Path:
    import os

    path = rec.dir / f"connect-{os.getpid()}.kubeconfig"
    write_private(path, vkc)
    return path
