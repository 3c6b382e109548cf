"""The embedded local host cluster (`vcluster host` in the background) and its kube context."""

from __future__ import annotations

import base64
import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

import orjson
import yaml

from vcluster.cli import paths, proc, ui
from vcluster.cli.kubecfg import UserKubeconfig
from vcluster.fsutil import write_atomic

CONTEXT = paths.LOCAL_HOST_CONTEXT
BANNER = "vcluster host "


@dataclass
class LocalHost:
    """State of the local host: data/ (API server state), host.log, host.pid, host.json."""

    pid: int = 0
    port: int = 0
    url: str = ""
    nodes: int = 3
    created: str = ""
    log_offset: int = 0

    @staticmethod
    def dir() -> Path:
        return paths.local_host_dir()

    @property
    def data_dir(self) -> Path:
        return self.dir() / "data"

    @property
    def log_path(self) -> Path:
        return self.dir() / "host.log"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @classmethod
    def load(cls) -> LocalHost:
        try:
            raw = orjson.loads((cls.dir() / "host.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return cls()
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in raw.items() if k in known}) if isinstance(raw, dict) else cls()
        except TypeError:
            return cls()

    def save(self) -> None:
        self.dir().mkdir(parents=True, exist_ok=True)
        data = orjson.dumps(dataclasses.asdict(self), option=orjson.OPT_INDENT_2)
        write_atomic(self.dir() / "host.json", data + b"\n", 0o600)

    def exists(self) -> bool:
        return (self.dir() / "host.json").exists()

    def running(self) -> bool:
        return proc.alive(self.pid, str(self.data_dir))

    def status(self) -> str:
        if self.running():
            ready = proc.find_ready(self.log_path, self.log_offset, BANNER) is not None
            return "Running" if ready else "Starting"
        return "Stopped" if self.exists() else "Absent"

    # ------------------------------------------------------------------ lifecycle
    def up(self, nodes: int | None = None, port: int = 0, timeout: float = 60.0) -> None:
        """Start the host in the background unless it runs; wait until it answers."""
        with paths.locked(self.dir() / ".lock"):
            fresh = LocalHost.load()
            self.__dict__.update(fresh.__dict__)
            if self.running():
                if proc.find_ready(self.log_path, self.log_offset, BANNER) is None:
                    self._wait_existing(timeout)
                return
            if nodes:
                self.nodes = nodes
            self.port = proc.free_port(port or self.port)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            argv = proc.vcluster_command(
                "host", "--data-dir", str(self.data_dir), "--port", str(self.port), "--nodes", str(self.nodes)
            )
            spawned = proc.spawn(argv, self.log_path, self.dir() / "host.pid")
            self.pid, self.log_offset = spawned.pid, spawned.log_offset
            self.created = self.created or ui.timestamp()
            self.save()
            try:
                url, _ = proc.wait_ready(spawned, BANNER, timeout)
            except proc.ExitedError as e:
                raise ui.CliError(
                    f"the local host cluster exited during start-up ({proc.last_error_line(e.tail)}); "
                    f"see {self.log_path}"
                ) from None
            except TimeoutError:
                proc.stop(self.pid, str(self.data_dir))
                raise ui.CliError(
                    f"the local host cluster did not start within {timeout:.0f}s; see {self.log_path} "
                    "and run `vcluster host up` again"
                ) from None
            self.url = url
            self.save()

    def _wait_existing(self, timeout: float) -> None:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = proc.find_ready(self.log_path, self.log_offset, BANNER)
            if found:
                self.url = found[0]
                return
            if not self.running():
                break
            time.sleep(0.1)
        raise ui.CliError(f"the local host cluster is not answering; see {self.log_path}")

    def down(self, timeout: float = 15.0) -> bool:
        """Stop the host process; whether it was running."""
        with paths.locked(self.dir() / ".lock"):
            stopped = proc.stop(self.pid, str(self.data_dir), timeout)
            if self.exists():
                self.pid = 0
                self.save()
            return stopped

    def remove(self) -> None:
        """Delete all local host state (the process must be stopped)."""
        shutil.rmtree(self.dir(), ignore_errors=True)
        paths.remove_empty_parents(self.dir().parent, paths.data_home())

    # ------------------------------------------------------------------ kube context
    def register_context(self, kc: UserKubeconfig, make_current: bool) -> None:
        """Add cluster/user/context `vcluster-local-host` for the running host to the kubeconfig."""
        cfg = yaml.safe_load(self.kubeconfig.read_text())
        token = cfg["users"][0]["user"]["token"]
        ca = (self.data_dir / "pki" / "ca.crt").read_bytes()
        kc.set_entry(
            "clusters",
            CONTEXT,
            {"server": self.url, "certificate-authority-data": base64.b64encode(ca).decode()},
        )
        kc.set_entry("users", CONTEXT, {"token": token})
        kc.set_entry("contexts", CONTEXT, {"cluster": CONTEXT, "user": CONTEXT})
        if make_current:
            kc.set_current(CONTEXT)
        kc.save()

    @staticmethod
    def unregister_context(kc: UserKubeconfig) -> bool:
        """Remove the `vcluster-local-host` entries; whether the context existed."""
        existed = kc.remove_entry("contexts", CONTEXT)
        kc.remove_entry("clusters", CONTEXT)
        kc.remove_entry("users", CONTEXT)
        if kc.current_context == CONTEXT or (kc.current_context and kc.context(kc.current_context) is None):
            kc.set_current(None)
        kc.save()
        return existed


def ensure_running(kc: UserKubeconfig, make_current: bool, announce: str | None = None) -> LocalHost:
    """Start the local host if needed (saying so) and (re-)register its context."""
    host = LocalHost.load()
    if not host.running():
        ui.info(announce or "Starting the local host cluster (`vcluster host up`)")
        with ui.progress("Waiting for the local host cluster to answer"):
            host.up()
        ui.done(f"Local host cluster running at {host.url} (data in {host.data_dir})")
    elif not host.url:
        host.up()
    current = kc.cluster(CONTEXT)
    if current is None or current.get("server") != host.url or make_current:
        host.register_context(kc, make_current)
    return host
