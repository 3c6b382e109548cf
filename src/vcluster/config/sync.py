"""The `sync:` section: `sync.toHost.*` and `sync.fromHost.*` with vCluster's OSS defaults (spec §4.1)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, PlainValidator, model_validator

from vcluster.apiserver.selectors import LabelSelector

from ._types import AutoBool, Model, OptionalName, Quantity, fail, one_of
from .tolerations import parse_toleration


# ---- translate patches [Pro]: modelled so that typos are caught, rejected as a Pro feature
class TranslatePatchReference(Model):
    """`patches[].reference`: rewrite the value as a reference to another object."""

    api_version: str = ""
    api_version_path: str = ""
    kind: str = ""
    kind_path: str = ""
    name_path: str = ""
    namespace_path: str = ""


class TranslatePatchLabels(Model):
    """`patches[].labels`: treat the value as a label selector (no options)."""


class TranslatePatch(Model):
    """One entry of `patches:` (spec §4.3)."""

    path: str = ""
    expression: str = ""
    reverse_expression: str = ""
    reference: TranslatePatchReference | None = None
    labels: TranslatePatchLabels | None = None


Patches = list[TranslatePatch]


# ---- selectors
class LabelSelectorRequirement(Model):
    """One `matchExpressions` entry."""

    key: str
    operator: str
    values: list[str] = Field(default_factory=list)


class StandardLabelSelector(Model):
    """A metav1.LabelSelector; empty selects everything."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid(self) -> StandardLabelSelector:
        try:
            LabelSelector.from_api(self.model_dump(by_alias=True))
        except ValueError as e:
            raise fail(f"invalid selector: {e}") from None
        return self

    def is_empty(self) -> bool:
        """True when the selector matches every object."""
        return not self.match_labels and not self.match_expressions

    def to_selector(self) -> LabelSelector:
        """The parsed selector (`matches(labels)`); empty → everything."""
        return LabelSelector.from_api(self.model_dump(by_alias=True))


# ---- switches
class Switch(Model):
    """`{enabled, patches}` (vCluster's EnableSwitchWithPatches)."""

    enabled: bool = False
    patches: Patches = Field(default_factory=list)


class AutoSwitch(Model):
    """`{enabled: true|false|auto, patches}`; anything but "true" after resolution is off (spec §4.2)."""

    enabled: AutoBool = "auto"
    patches: Patches = Field(default_factory=list)


class SelectorSwitch(Switch):
    """A from-host class entry: `{enabled, patches, selector}`."""

    selector: StandardLabelSelector = Field(default_factory=StandardLabelSelector)


class AutoSelectorSwitch(AutoSwitch):
    """`fromHost.storageClasses`: auto switch with a selector."""

    selector: StandardLabelSelector = Field(default_factory=StandardLabelSelector)


class SyncAllSwitch(Model):
    """toHost configMaps/secrets: `all: false` syncs only referenced (or force-synced) objects."""

    enabled: bool = True
    all: bool = False
    patches: Patches = Field(default_factory=list)


class FromHostMappings(Model):
    """`mappings.byName`: `"<hostNs>/<name>"` → `"<vNs>/<vName>"` (spec §4.2)."""

    by_name: dict[str, str] = Field(default_factory=dict)


class MappingsSwitch(Model):
    """fromHost configMaps/secrets: import host objects by name mapping."""

    enabled: bool = False
    patches: Patches = Field(default_factory=list)
    mappings: FromHostMappings = Field(default_factory=FromHostMappings)


class FromHostGateways(Model):
    """fromHost gateways (the spec elides the extra keys; modelled like the other namespaced imports)."""

    enabled: bool = False
    patches: Patches = Field(default_factory=list)
    selector: StandardLabelSelector = Field(default_factory=StandardLabelSelector)
    mappings: FromHostMappings = Field(default_factory=FromHostMappings)


def _on() -> Switch:
    return Switch(enabled=True)


# ---- pods
def _toleration(value: str) -> str:
    try:
        parse_toleration(value)
    except ValueError as e:
        raise fail(str(e)) from None
    return value


class ImageRef(Model):
    """A container image split into registry, repository and tag."""

    registry: str = "mirror.gcr.io"
    repository: str = "library/alpine"
    tag: str = "3.20"

    def reference(self, default_registry: str = "") -> str:
        """`registry/repository:tag`; `default_registry` replaces the default registry only."""
        registry = self.registry
        if default_registry and registry == "mirror.gcr.io":
            registry = default_registry
        ref = f"{registry}/{self.repository}" if registry else self.repository
        return f"{ref}:{self.tag}" if self.tag else ref


def _small_resources() -> dict[str, str | int | float]:
    return {"cpu": "30m", "memory": "64Mi"}


class ContainerResources(Model):
    """Requests and limits of an injected container."""

    limits: dict[str, Quantity] = Field(default_factory=_small_resources)
    requests: dict[str, Quantity] = Field(default_factory=_small_resources)


class RewriteHostsInitContainer(Model):
    """The `vcluster-rewrite-hosts` init container (spec §3.3)."""

    image: ImageRef = Field(default_factory=ImageRef)
    resources: ContainerResources = Field(default_factory=ContainerResources)


class RewriteHosts(Model):
    """`/etc/hosts` rewriting for pods with a subdomain."""

    enabled: bool = True
    init_container: RewriteHostsInitContainer = Field(default_factory=RewriteHostsInitContainer)


class HybridScheduling(Model):
    """[Pro] hybrid scheduling."""

    enabled: bool = False
    host_schedulers: list[str] = Field(default_factory=list)


class SyncPods(Model):
    """`sync.toHost.pods` (spec §3)."""

    enabled: bool = True
    translate_image: dict[str, str] = Field(default_factory=dict)
    enforce_tolerations: list[Annotated[str, AfterValidator(_toleration)]] = Field(default_factory=list)
    use_secrets_for_sa_tokens: bool = Field(default=False, alias="useSecretsForSATokens")
    runtime_class_name: OptionalName = ""
    priority_class_name: OptionalName = ""
    rewrite_hosts: RewriteHosts = Field(default_factory=RewriteHosts)
    hybrid_scheduling: HybridScheduling = Field(default_factory=HybridScheduling)
    patches: Patches = Field(default_factory=list)


# ---- toHost groups
class GatewayApi(Model):
    """`sync.toHost.gatewayApi`: a master switch plus one switch per Gateway API kind."""

    enabled: bool = False
    http_routes: Switch = Field(default_factory=Switch)
    gateways: Switch = Field(default_factory=Switch)
    tls_routes: Switch = Field(default_factory=Switch)
    backend_tls_policies: Switch = Field(default_factory=Switch, alias="backendTLSPolicies")
    reference_grants: AutoSwitch = Field(default_factory=AutoSwitch)


class ToHostNamespaces(Model):
    """[Pro] multi-namespace mode (`sync.toHost.namespaces`)."""

    enabled: bool = False
    mappings_only: bool = False
    mappings: FromHostMappings = Field(default_factory=FromHostMappings)
    extra_labels: dict[str, str] = Field(default_factory=dict)
    patches: Patches = Field(default_factory=list)


_SCOPE = PlainValidator(one_of("", "Namespaced", "Cluster", what="scope"))


class ToHostCustomResource(Model):
    """[Pro] `sync.toHost.customResources["<resource>.<group>"]`."""

    enabled: bool = False
    scope: Annotated[str, _SCOPE] = ""
    patches: Patches = Field(default_factory=list)


class FromHostCustomResource(Model):
    """[Pro] `sync.fromHost.customResources["<resource>.<group>"]`."""

    enabled: bool = False
    scope: Annotated[str, _SCOPE] = ""
    patches: Patches = Field(default_factory=list)
    mappings: FromHostMappings = Field(default_factory=FromHostMappings)


class SyncToHost(Model):
    """Kinds created in the virtual cluster and copied to the host namespace."""

    services: Switch = Field(default_factory=_on)
    endpoints: Switch = Field(default_factory=_on)
    endpoint_slices: Switch = Field(default_factory=_on)
    persistent_volume_claims: Switch = Field(default_factory=_on)
    config_maps: SyncAllSwitch = Field(default_factory=SyncAllSwitch)
    secrets: SyncAllSwitch = Field(default_factory=SyncAllSwitch)
    pods: SyncPods = Field(default_factory=SyncPods)
    ingresses: Switch = Field(default_factory=Switch)
    gateway_api: GatewayApi = Field(default_factory=GatewayApi)
    priority_classes: Switch = Field(default_factory=Switch)
    network_policies: Switch = Field(default_factory=Switch)
    pod_disruption_budgets: Switch = Field(default_factory=Switch)
    service_accounts: Switch = Field(default_factory=Switch)
    storage_classes: Switch = Field(default_factory=Switch)
    persistent_volumes: Switch = Field(default_factory=Switch)
    namespaces: ToHostNamespaces = Field(default_factory=ToHostNamespaces)
    resource_claims: Switch = Field(default_factory=Switch)
    resource_claim_templates: Switch = Field(default_factory=Switch)
    custom_resources: dict[str, ToHostCustomResource] = Field(default_factory=dict)


# ---- fromHost
class NodeSelector(Model):
    """Which host nodes become real virtual nodes."""

    all: bool = False
    labels: dict[str, str] = Field(default_factory=dict)


class SyncNodes(Model):
    """`sync.fromHost.nodes`: fake nodes when disabled, real host nodes when enabled (spec §9)."""

    enabled: bool = False
    sync_back_changes: bool = False
    clear_image_status: bool = False
    selector: NodeSelector = Field(default_factory=NodeSelector)
    patches: Patches = Field(default_factory=list)


class SyncFromHost(Model):
    """Kinds read from the host and copied into the virtual cluster."""

    events: Switch = Field(default_factory=_on)
    config_maps: MappingsSwitch = Field(default_factory=MappingsSwitch)
    secrets: MappingsSwitch = Field(default_factory=MappingsSwitch)
    csi_drivers: AutoSwitch = Field(default_factory=AutoSwitch)
    csi_nodes: AutoSwitch = Field(default_factory=AutoSwitch)
    csi_storage_capacities: AutoSwitch = Field(default_factory=AutoSwitch)
    storage_classes: AutoSelectorSwitch = Field(default_factory=AutoSelectorSwitch)
    ingress_classes: SelectorSwitch = Field(default_factory=SelectorSwitch)
    gateway_classes: SelectorSwitch = Field(default_factory=SelectorSwitch)
    gateways: FromHostGateways = Field(default_factory=FromHostGateways)
    runtime_classes: SelectorSwitch = Field(default_factory=SelectorSwitch)
    priority_classes: SelectorSwitch = Field(default_factory=SelectorSwitch)
    nodes: SyncNodes = Field(default_factory=SyncNodes)
    device_classes: SelectorSwitch = Field(default_factory=SelectorSwitch)
    custom_resources: dict[str, FromHostCustomResource] = Field(default_factory=dict)


class Sync(Model):
    """`sync:` — what is synced in which direction."""

    to_host: SyncToHost = Field(default_factory=SyncToHost)
    from_host: SyncFromHost = Field(default_factory=SyncFromHost)
