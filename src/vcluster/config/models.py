"""The root `VClusterConfig` and the non-sync sections (networking, policies, controlPlane, ...)."""

from __future__ import annotations

import copy
from typing import Annotated, Any

from pydantic import Field, PlainValidator, field_validator, model_validator

from . import kinds
from ._types import (
    BindAddress,
    Cidr,
    ClusterDomain,
    Model,
    NameRef,
    NamespacedRef,
    ObjectRef,
    OptionalName,
    fail,
    one_of,
    show,
    split_bind_address,
)
from .kinds import Direction
from .sync import Sync
from .tolerations import parse_toleration


# ---- networking
class FromHostService(Model):
    """A host Service mirrored into the virtual cluster: `from` is `name` (in the host namespace)
    or `namespace/name`, `to` the virtual `namespace/name`."""

    from_: ObjectRef = Field(alias="from")
    to: NamespacedRef


class ToHostService(Model):
    """A virtual Service (`from`: `namespace/name`) exposed as host Service `to` in the host namespace."""

    from_: NamespacedRef = Field(alias="from")
    to: NameRef


class ReplicateServices(Model):
    """Services replicated between host and virtual cluster (spec §5.4)."""

    to_host: list[ToHostService] = Field(default_factory=list)
    from_host: list[FromHostService] = Field(default_factory=list)


class ProxyKubelets(Model):
    """How fake/real nodes expose a kubelet endpoint (spec §9.2, §9.3)."""

    by_hostname: bool = True
    by_ip: bool = Field(default=True, alias="byIP")


class NetworkingAdvanced(Model):
    """`networking.advanced`."""

    cluster_domain: ClusterDomain = "cluster.local"
    fallback_host_cluster: bool = False
    proxy_kubelets: ProxyKubelets = Field(default_factory=ProxyKubelets)


class Networking(Model):
    """`networking:`; `serviceCIDR` empty means: use the host's ClusterIPs as they come."""

    service_cidr: Cidr = Field(default="", alias="serviceCIDR")
    replicate_services: ReplicateServices = Field(default_factory=ReplicateServices)
    advanced: NetworkingAdvanced = Field(default_factory=NetworkingAdvanced)


# ---- policies
class Policies(Model):
    """`policies:`; a non-empty podSecurityStandard rejects violating pods before they reach the host."""

    pod_security_standard: Annotated[
        str,
        PlainValidator(one_of("", "privileged", "baseline", "restricted", what="pod security standard")),
    ] = ""


# ---- controlPlane (only what the syncer reads)
class HighAvailability(Model):
    """`controlPlane.statefulSet.highAvailability` (leader election, spec §8.6)."""

    replicas: int = Field(default=1, ge=1)
    lease_duration: int = Field(default=60, ge=1)
    renew_deadline: int = Field(default=40, ge=1)
    retry_period: int = Field(default=15, ge=1)


class StatefulSet(Model):
    """`controlPlane.statefulSet`."""

    high_availability: HighAvailability = Field(default_factory=HighAvailability)


class WorkloadServiceAccount(Model):
    """The host service account synced pods run as; empty name means `vc-workload-<NAME>`."""

    name: OptionalName = ""


# vCluster sections that configure its Helm deployment, not the syncer (distro, backing store,
# telemetry, ...): accepted so that a real vcluster.yaml starts, named in a start-up warning when
# set, and left out of the effective configuration.
NotUsed = dict[str, Any]


def not_used() -> Any:
    return Field(default_factory=dict, exclude=True)


class VirtualScheduler(Model):
    """`controlPlane.advanced.virtualScheduler`: refused when enabled (no scheduler runs here)."""

    enabled: bool = False


class ControlPlaneAdvanced(Model):
    """`controlPlane.advanced`."""

    default_image_registry: str = ""
    workload_service_account: WorkloadServiceAccount = Field(default_factory=WorkloadServiceAccount)
    virtual_scheduler: VirtualScheduler = Field(default_factory=VirtualScheduler)
    service_account: NotUsed = not_used()
    headless_service: NotUsed = not_used()
    global_metadata: NotUsed = not_used()
    pod_disruption_budget: NotUsed = not_used()
    konnectivity: NotUsed = not_used()


class HostPathMapper(Model):
    """`controlPlane.hostPathMapper` (legacy): extra mounts of the original log paths (§3.7)."""

    enabled: bool = False
    central: bool = False


class CoreDNS(Model):
    """`controlPlane.coredns`: CoreDNS deployed into the virtual cluster. vCluster's default is on;
    ours is off, because the local simulated host runs no pod and so no DNS server (and the
    walkthrough counts on no system pods): turn it on with a real host cluster."""

    enabled: bool = False


class ExternalDatabase(Model):
    """`controlPlane.backingStore.database.external`: the state in an external PostgreSQL (vCluster
    hands `dataSource` to kine; we write kine's table ourselves). `caFile`, `certFile` and `keyFile`
    become libpq's sslrootcert, sslcert and sslkey as kine's --ca-file/--cert-file/--key-file do
    (`store.datasource.external_datastore`). `connector` (a vCluster Platform secret from which the
    Platform creates the database) is refused; `identityProvider` and `extraArgs` are not used."""

    enabled: bool = False
    data_source: str = ""
    connector: str = Field(default="", exclude=True)
    identity_provider: str = Field(default="", exclude=True)
    ca_file: str = Field(default="", exclude=True)
    cert_file: str = Field(default="", exclude=True)
    key_file: str = Field(default="", exclude=True)
    extra_args: list[str] = Field(default_factory=list, exclude=True)

    @field_validator("connector")
    @classmethod
    def _no_connector(cls, value: str) -> str:
        if value:
            raise fail(
                "not supported: a connector needs vCluster Platform to create the database; create the "
                "database yourself and give it as dataSource (postgres://USER:PASSWORD@HOST:PORT/DB)"
            )
        return value

    def unused(self) -> bool:
        return bool(self.identity_provider or self.extra_args)

    def tls_files(self) -> dict[str, str]:
        """The TLS files given, by their vcluster.yaml key."""
        given = {"caFile": self.ca_file, "certFile": self.cert_file, "keyFile": self.key_file}
        return {k: v for k, v in given.items() if v}


class Database(Model):
    """`controlPlane.backingStore.database`."""

    embedded: NotUsed = not_used()
    external: ExternalDatabase = Field(default_factory=ExternalDatabase)


class EtcdTLS(Model):
    """`controlPlane.backingStore.etcd.external.tls`: the CA that signed etcd's serving certificate
    and the client certificate and key etcd trusts (kube-apiserver's --etcd-cafile/certfile/keyfile)."""

    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


class ExternalEtcd(Model):
    """`controlPlane.backingStore.etcd.external`: the API server keeps its state in a self-hosted
    etcd at `endpoint` (https://HOST:PORT, http://HOST:PORT, or HOST:PORT: https when TLS files are
    given; the members of an etcd cluster comma-separated, as vCluster hands them to kube-apiserver's
    --etcd-servers), talking to it directly as kube-apiserver does (`store.etcdstore`)."""

    enabled: bool = False
    endpoint: str = ""
    tls: EtcdTLS = Field(default_factory=EtcdTLS)

    def tls_files(self) -> dict[str, str]:
        """The TLS files given, by their vcluster.yaml key."""
        given = {"caFile": self.tls.ca_file, "certFile": self.tls.cert_file, "keyFile": self.tls.key_file}
        return {k: v for k, v in given.items() if v}


def _refuse_enabled(what: str) -> Any:
    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            raise fail(f"expected a mapping, got {value!r}")
        if value.get("enabled") is True:
            raise fail(
                f"not supported: {what}; use controlPlane.backingStore.etcd.external with an etcd you run"
            )
        return value

    return check


class Etcd(Model):
    """`controlPlane.backingStore.etcd`: `external` is used; `deploy` (an etcd StatefulSet the chart
    deploys) and `embedded` (etcd inside the vCluster pod, vCluster Pro) are refused when enabled:
    this local product deploys no etcd of its own."""

    embedded: Annotated[
        dict[str, Any],
        PlainValidator(_refuse_enabled("an embedded etcd runs inside vCluster's pod (vCluster Pro)")),
    ] = Field(default_factory=dict, exclude=True)
    deploy: Annotated[
        dict[str, Any],
        PlainValidator(_refuse_enabled("a deployed etcd is a StatefulSet the vCluster chart runs")),
    ] = Field(default_factory=dict, exclude=True)
    external: ExternalEtcd = Field(default_factory=ExternalEtcd)


class BackingStore(Model):
    """`controlPlane.backingStore`: `database.external` (PostgreSQL) or `etcd.external`, not both
    (default: SQLite in the data dir, like vCluster's embedded database). Left out of the effective
    configuration (a data source holds a password), and named as not used when anything else in it
    is set (false otherwise)."""

    etcd: Etcd = Field(default_factory=Etcd)
    database: Database = Field(default_factory=Database)

    @model_validator(mode="after")
    def _one_store(self) -> BackingStore:
        if self.etcd.external.enabled and self.database.external.enabled:
            raise fail(
                "controlPlane.backingStore.etcd.external and controlPlane.backingStore.database.external "
                "are both enabled; a virtual cluster has one backing store: enable one of them"
            )
        return self

    def __bool__(self) -> bool:
        return bool(
            self.etcd.deploy
            or self.etcd.embedded
            or self.database.embedded
            or self.database.external.unused()
        )


def _distro(value: Any) -> Any:
    """`controlPlane.distro`: vCluster's Kubernetes distribution settings; of them kube-apiserver's
    `k8s.apiServer.extraArgs` (their --audit-* flags) and `k8s.controllerManager.enabled/extraArgs`
    (kube-controller-manager's flags, checked here: `controllers/kcmflags.py`) are used, the rest is
    named as not used."""
    if not isinstance(value, dict):
        raise fail(f"expected a mapping, got {show(value)}")
    k8s = value.get("k8s")
    if k8s is not None and not isinstance(k8s, dict):
        raise fail(f"k8s: expected a mapping, got {show(k8s)}")
    for part in ("apiServer", "controllerManager"):
        node = (k8s or {}).get(part)
        if node is not None and not isinstance(node, dict):
            raise fail(f"k8s.{part}: expected a mapping, got {show(node)}")
        args = (node or {}).get("extraArgs")
        if args is not None and not (isinstance(args, list) and all(isinstance(a, str) for a in args)):
            raise fail(f"k8s.{part}.extraArgs: expected a list of strings, got {show(args)}")
    _controller_manager(((k8s or {}).get("controllerManager")) or {})
    return value


def _controller_manager(node: dict[str, Any]) -> Any:
    """`k8s.controllerManager`: `enabled` and `extraArgs` are used (the flags checked now, so that a
    bad one stops `vcluster create` before anything is made); a `command` cannot replace in-process
    controllers."""
    from vcluster.controllers.kcmflags import KCMFlagError, virtual_cluster_settings

    enabled = node.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail(f"k8s.controllerManager.enabled: expected a boolean, got {show(enabled)}")
    command = node.get("command")
    if command:
        raise fail(
            "k8s.controllerManager.command: not supported: the controllers run inside the virtual "
            "cluster's process; tune them with extraArgs (kube-controller-manager flags)"
        )
    try:
        return virtual_cluster_settings(list(node.get("extraArgs") or []), enabled=enabled)
    except KCMFlagError as e:
        raise fail(f"k8s.controllerManager.extraArgs: {e}") from None


class ControlPlane(Model):
    """`controlPlane:`."""

    stateful_set: StatefulSet = Field(default_factory=StatefulSet)
    coredns: CoreDNS = Field(default_factory=CoreDNS)
    advanced: ControlPlaneAdvanced = Field(default_factory=ControlPlaneAdvanced)
    host_path_mapper: HostPathMapper = Field(default_factory=HostPathMapper)
    distro: Annotated[dict[str, Any], PlainValidator(_distro)] = not_used()
    backing_store: BackingStore = Field(default_factory=BackingStore, exclude=True)
    proxy: NotUsed = not_used()
    service: NotUsed = not_used()
    ingress: NotUsed = not_used()
    service_monitor: NotUsed = not_used()
    standalone: NotUsed = not_used()

    def api_server_extra_args(self) -> list[str]:
        """`distro.k8s.apiServer.extraArgs`: kube-apiserver arguments (the --audit-* ones are used)."""
        return list(((self.distro.get("k8s") or {}).get("apiServer") or {}).get("extraArgs") or [])

    def controller_manager_settings(self) -> Any:
        """`distro.k8s.controllerManager`: the virtual cluster's controllers and their options (a
        `vcluster.controllers.kcmflags.KCMSettings`): vCluster's kube-controller-manager arguments with
        `extraArgs` merged over them; none of kube-controller-manager's with `enabled: false`."""
        return _controller_manager((self.distro.get("k8s") or {}).get("controllerManager") or {})

    def distro_not_used(self) -> dict[str, Any]:
        """`distro` without the settings that are used (and the maps left empty)."""
        k8s = dict(self.distro.get("k8s") or {})
        used = {"apiServer": ("extraArgs",), "controllerManager": ("extraArgs", "enabled", "command")}
        for part, keys in used.items():
            rest = {k: v for k, v in (k8s.pop(part, None) or {}).items() if k not in keys}
            if rest:
                k8s[part] = rest
        return {k: v for k, v in self.distro.items() if k != "k8s"} | ({"k8s": k8s} if k8s else {})


# ---- integrations
class MetricsServerIntegration(Model):
    """`integrations.metricsServer`: the virtual cluster serves metrics.k8s.io by proxying to the
    host's metrics-server (`integrations/metricsserver.py`); `nodes` / `pods` pick the resources.
    `apiService` (where vCluster's own proxy finds metrics-server) is not used: the proxy goes
    through the host API server's metrics.k8s.io."""

    enabled: bool = False
    nodes: bool = True
    pods: bool = True
    api_service: NotUsed = not_used()


class Integrations(Model):
    """`integrations:`; only metricsServer is implemented, the others are accepted and named."""

    metrics_server: MetricsServerIntegration = Field(default_factory=MetricsServerIntegration)
    external_secrets: NotUsed = not_used()
    kube_virt: NotUsed = not_used()
    cert_manager: NotUsed = not_used()
    istio: NotUsed = not_used()


# ---- experimental
class SyncSettings(Model):
    """`experimental.syncSettings` (vCluster's own keys)."""

    set_owner: bool = True
    # Where the syncer's Prometheus metrics are also served as plain HTTP (vCluster: the host and
    # virtual controller-runtime managers' metrics listeners, which share one registry).
    host_metrics_bind_address: BindAddress = ""
    virtual_metrics_bind_address: BindAddress = ""


_POSITIVE = {"gt": 0, "allow_inf_nan": False}
_NON_NEGATIVE = {"ge": 0, "allow_inf_nan": False}


class Engine(Model):
    """`experimental.engine` — this implementation's own syncer knobs, not part of upstream vcluster.yaml.

    Durations are seconds. Defaults follow what vCluster gets from controller-runtime and client-go
    (virtual client QPS 1000 / burst 2000, per-key backoff 5 ms doubling to 1000 s, informer resync
    10 h, mapping GC every 3 min) except: 32 workers per kind (10), the host client at 400 / 800
    (40 / 80, see host_qps), conflicts requeued after 50 ms doubling to 2 s (a flat 1 s), a watch
    that says nothing for `watchSilenceTimeout` is reconnected. `resyncPeriod` 0 turns resync off.
    """

    workers: int = Field(default=32, ge=1, le=1000)
    workers_per_kind: dict[str, Annotated[int, Field(ge=1, le=1000)]] = Field(default_factory=dict)
    # vCluster's host client runs at 40/80; a pod costs one or two host writes, so that caps a
    # burst at ~40 pods/s. 400/800 lets the syncer keep up with the host's own create rate.
    host_qps: float = Field(default=400.0, alias="hostQPS", **_POSITIVE)
    host_burst: int = Field(default=800, ge=1)
    virtual_qps: float = Field(default=1000.0, alias="virtualQPS", **_POSITIVE)
    virtual_burst: int = Field(default=2000, ge=1)
    resync_period: float = Field(default=36000.0, **_NON_NEGATIVE)
    retry_base_delay: float = Field(default=0.005, **_POSITIVE)
    # controller-runtime's cap is 1000 s: after a host outage of a few minutes, keys that failed
    # all along waited about as long again before their next try. 30 s bounds the catch-up.
    retry_max_delay: float = Field(default=30.0, **_POSITIVE)
    conflict_requeue_delay: float = Field(default=0.05, **_NON_NEGATIVE)
    watch_silence_timeout: float = Field(default=120.0, **_POSITIVE)
    mappings_gc_interval: float = Field(default=180.0, alias="mappingsGCInterval", **_POSITIVE)


class Experimental(Model):
    """`experimental:`."""

    sync_settings: SyncSettings = Field(default_factory=SyncSettings)
    engine: Engine = Field(default_factory=Engine)


class Logging(Model):
    """`logging:`; encoding console (human) or json (one object per line)."""

    encoding: Annotated[str, PlainValidator(one_of("console", "json", what="log encoding"))] = "console"


# ---- root
_DEFAULTS: dict[str, Any] | None = None


def _defaults() -> dict[str, Any]:
    global _DEFAULTS
    if _DEFAULTS is None:
        _DEFAULTS = VClusterConfig.model_construct().model_dump(by_alias=True)
    return _DEFAULTS


def default_values() -> dict[str, Any]:
    """The full default configuration as vcluster.yaml data (camelCase keys); a fresh copy."""
    return copy.deepcopy(_defaults())


def merge_values(defaults: Any, values: Any) -> Any:
    """Helm's values coalescing: maps merge key by key, `null` deletes a key, anything else replaces."""
    if not isinstance(defaults, dict) or not isinstance(values, dict):
        return values
    out = dict(defaults)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        elif key in out:
            out[key] = merge_values(out[key], value)
        else:
            out[key] = value
    return out


class VClusterConfig(Model):
    """A validated vcluster.yaml: spec §4.1 shape and defaults, plus the accessors the engine uses."""

    sync: Sync = Field(default_factory=Sync)
    networking: Networking = Field(default_factory=Networking)
    policies: Policies = Field(default_factory=Policies)
    control_plane: ControlPlane = Field(default_factory=ControlPlane)
    experimental: Experimental = Field(default_factory=Experimental)
    logging: Logging = Field(default_factory=Logging)
    integrations: Integrations = Field(default_factory=Integrations)
    rbac: NotUsed = not_used()
    plugins: NotUsed = not_used()
    external: NotUsed = not_used()
    telemetry: NotUsed = not_used()
    export_kube_config: NotUsed = not_used()
    sleep_mode: NotUsed = not_used()
    private_nodes: NotUsed = not_used()
    deploy: NotUsed = not_used()

    def not_used_sections(self) -> list[str]:
        """The vCluster sections given (non-empty) that this implementation does not use."""
        out = []
        for owner, prefix in ((self, ""), (self.control_plane, "controlPlane."),
                              (self.control_plane.advanced, "controlPlane.advanced."),
                              (self.integrations, "integrations."),
                              (self.integrations.metrics_server, "integrations.metricsServer.")):  # fmt: skip
            for name, field in type(owner).model_fields.items():
                value = getattr(owner, name)
                if owner is self.control_plane and name == "distro":
                    value = self.control_plane.distro_not_used()
                if field.exclude and value:
                    out.append(prefix + (field.alias or name))
        return out

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        """Values given are merged over the defaults like Helm does, so partial maps keep defaults."""
        if isinstance(data, dict):
            return merge_values(_defaults(), data)
        return data

    # ---- resolution rules (spec §4.2)
    @property
    def scheduling_in_virtual_cluster(self) -> bool:
        """True when pods are scheduled inside the virtual cluster (hybrid scheduling)."""
        return self.sync.to_host.pods.hybrid_scheduling.enabled

    @property
    def real_nodes(self) -> bool:
        """Real host nodes are synced (`fromHost.nodes.enabled`); otherwise fake nodes are created."""
        return self.sync.from_host.nodes.enabled

    @property
    def sync_all_nodes(self) -> bool:
        """Effective `nodes.selector.all`: implied by in-cluster scheduling without node labels."""
        sel = self.sync.from_host.nodes.selector
        return sel.all or (self.scheduling_in_virtual_cluster and not sel.labels)

    def _resolve_auto(self, direction: Direction, kind: str, value: str) -> bool:
        if value != "auto":
            return value == "true"
        th = self.sync.to_host
        storage_scheduling = self.scheduling_in_virtual_cluster and th.persistent_volume_claims.enabled
        if kind in ("csidrivers", "csinodes", "csistoragecapacities"):
            return storage_scheduling
        if kind == "storageclasses" and direction == "fromHost":
            return storage_scheduling and not th.storage_classes.enabled
        if kind == "referencegrants":
            return th.gateway_api.enabled
        return False

    def _switch(self, direction: Direction, kind: str) -> Any:
        table = kinds.TO_HOST if direction == "toHost" else kinds.FROM_HOST
        node: Any = self.sync.to_host if direction == "toHost" else self.sync.from_host
        for key in table[kind].split("."):
            node = getattr(node, _attr(type(node), key))
        return node

    def sync_enabled(self, kind: str, direction: Direction | None = None) -> bool:
        """Whether the syncer for `kind` (lowercase plural, e.g. "pods") runs, after resolution.

        Kinds in both directions (configmaps, secrets, priorityclasses, gateways: toHost;
        storageclasses: fromHost) take `direction` to pick the other one. "nodes" is always True:
        the node syncer always runs, with fake nodes unless `real_nodes`. ValueError for an unknown kind.
        """
        d = kinds.direction_of(kind, direction)
        if d == "fromHost" and kind == "nodes":
            return True
        enabled = self._switch(d, kind).enabled
        on = self._resolve_auto(d, kind, enabled) if isinstance(enabled, str) else bool(enabled)
        if d == "toHost" and kinds.TO_HOST[kind].startswith("gatewayApi."):
            on = on and self.sync.to_host.gateway_api.enabled
        return on

    def enabled_kinds(self) -> list[tuple[Direction, str]]:
        """Every (direction, kind) whose syncer runs, in spec order."""
        out: list[tuple[Direction, str]] = []
        for d, table in (("toHost", kinds.TO_HOST), ("fromHost", kinds.FROM_HOST)):
            out.extend((d, k) for k in table if self.sync_enabled(k, d))  # type: ignore[arg-type]
        return out

    # ---- other accessors
    def workload_service_account(self, name: str) -> str:
        """The host service account of synced pods: configured, else `vc-workload-<NAME>`."""
        return self.control_plane.advanced.workload_service_account.name or f"vc-workload-{name}"

    def unimplemented(self) -> list[str]:
        """Options set in this configuration that this implementation accepts (they are valid
        vcluster.yaml) but does not act on, each with what happens instead; logged at start."""
        out = []
        if self.networking.advanced.fallback_host_cluster and not self.control_plane.coredns.enabled:
            out.append(
                "networking.advanced.fallbackHostCluster: no CoreDNS runs in the virtual cluster "
                "(controlPlane.coredns.enabled is false), so there is nothing to fall back from"
            )
        return out

    def metrics_bind_addresses(self) -> list[str]:
        """The distinct listen addresses of `experimental.syncSettings.*MetricsBindAddress` that are on."""
        s = self.experimental.sync_settings
        out: list[str] = []
        for a in (s.host_metrics_bind_address, s.virtual_metrics_bind_address):
            if split_bind_address(a) is not None and a not in out:
                out.append(a)
        return out

    def workers_for(self, kind: str) -> int:
        """Worker count for a kind's queue (`workersPerKind` override, else `workers`)."""
        engine = self.experimental.engine
        return engine.workers_per_kind.get(kind, engine.workers)

    def enforced_tolerations(self) -> list[dict[str, str]]:
        """`sync.toHost.pods.enforceTolerations` as core/v1 Toleration dicts."""
        return [parse_toleration(t) for t in self.sync.to_host.pods.enforce_tolerations]

    @property
    def rewrite_hosts_image(self) -> str:
        """The image of the hosts-rewrite init container, with `defaultImageRegistry` applied."""
        image = self.sync.to_host.pods.rewrite_hosts.init_container.image
        return image.reference(self.control_plane.advanced.default_image_registry)

    @property
    def cluster_domain(self) -> str:
        """`networking.advanced.clusterDomain`."""
        return self.networking.advanced.cluster_domain


_ALIASES: dict[type, dict[str, str]] = {}


def _attr(cls: type, alias: str) -> str:
    """The attribute name of a model field given its vcluster.yaml key."""
    table = _ALIASES.get(cls)
    if table is None:
        table = {(f.alias or n): n for n, f in cls.model_fields.items()}  # type: ignore[attr-defined]
        _ALIASES[cls] = table
    return table[alias]


__all__ = ["VClusterConfig", "default_values", "merge_values"]
