"""Options of the simulated host: node shape, timings and concurrency."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_NODES = 12 * 256 + 64 * 256 - 1  # /24s of 10.244.0.0-10.255.255.0, then of 100.64.0.0/10


@dataclass
class HostSimConfig:
    """Everything `HostSim` can be tuned with; the defaults look like a small real cluster."""

    nodes: int = 3
    node_prefix: str = "hostsim-node-"
    # Capacity of every node (Kubernetes quantities) and its extra labels.
    cpu: str = "8"
    memory: str = "32Gi"
    pods: int = 110
    ephemeral_storage: str = "100Gi"
    instance_type: str = "hostsim.large"
    node_labels: dict[str, str] = field(default_factory=dict)
    # The simulated kubelet HTTPS server of all nodes, one port per node (0: free ports; else node i
    # gets kubelet_port + i - 1); its address is every node's InternalIP. `kubelet_address` overrides
    # the advertised address (e.g. when binding 0.0.0.0 so a remote API server can reach it).
    kubelet_bind: str = "127.0.0.1"
    kubelet_port: int = 0
    kubelet_address: str = ""
    # Timings (seconds).
    run_seconds: float = 10.0  # how long containers of restartPolicy Never/OnFailure pods run
    start_seconds: float = 0.0  # time spent in ContainerCreating before Running
    # kubelet's container restart backoff (CrashLoopBackOff): the first wait, doubling up to the
    # max (reset after a container ran twice the max); exits are scripted by pod annotations
    # (see hostsim/exitscript.py).
    restart_backoff: float = 10.0
    restart_backoff_max: float = 300.0
    deletion_grace_cap: float = 2.0  # graceful deletion finishes after min(grace, this)
    lease_duration: int = 40  # Lease.spec.leaseDurationSeconds
    lease_renew_seconds: float = 10.0  # kubelet renews its Lease every leaseDuration/4
    node_status_seconds: float = 60.0  # full node status report (lastHeartbeatTime)
    log_line_seconds: float = 5.0  # a generated log line every this many seconds while running
    unschedulable_retry_seconds: float = 60.0  # retry unschedulable pods at least this often
    # Simulated storage: the PersistentVolume binder, a local-path provisioner and a default
    # StorageClass `standard` (see hostsim/volumes.py).
    storage: bool = True
    # A simulated metrics-server (metrics.k8s.io, see hostsim/metrics.py), served by the API server
    # the simulator runs in (`vcluster host`; not by `vcluster hostsim` against another cluster),
    # scraping every `metrics_resolution` seconds (metrics-server's --metric-resolution).
    metrics_server: bool = True
    metrics_resolution: float = 15.0
    # Which pods the scheduler binds (spec.schedulerName).
    scheduler_name: str = "default-scheduler"
    # Parallel API writers.
    scheduler_workers: int = 16
    kubelet_workers: int = 32
    event_workers: int = 8
    event_queue_size: int = 10000

    def node_name(self, i: int) -> str:
        """The name of node number `i` (1-based)."""
        return f"{self.node_prefix}{i}"

    def node_names(self) -> list[str]:
        return [self.node_name(i) for i in range(1, self.nodes + 1)]

    def validate(self) -> None:
        if not 0 <= self.nodes <= MAX_NODES:
            raise ValueError(f"nodes must be between 0 and {MAX_NODES} (each node gets a /24 pod CIDR)")
        if not self.node_prefix:
            raise ValueError("node_prefix must not be empty")
        if self.pods < 1:
            raise ValueError("pods must be at least 1")
        for name in ("run_seconds", "start_seconds", "deletion_grace_cap", "log_line_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.restart_backoff_max < self.restart_backoff:
            raise ValueError(
                f"--restart-backoff-max {self.restart_backoff_max:g} is less than "
                f"--restart-backoff {self.restart_backoff:g}: the longest wait must not be the shorter"
            )
        for name in (
            "restart_backoff",
            "lease_renew_seconds",
            "node_status_seconds",
            "unschedulable_retry_seconds",
            "metrics_resolution",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
