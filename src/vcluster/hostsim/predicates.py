"""Scheduler filters and scoring (kube-scheduler's default plugins, simplified: NodeUnschedulable,
TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, VolumeBinding's node affinity) and the
FitError text of a pod that fits no node."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vcluster.hostsim.resources import Resources, pod_requests, to_resources

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
# Filter results: UnschedulableAndUnresolvable (preemption cannot help) or Unschedulable.
UNRESOLVABLE = "UnschedulableAndUnresolvable"
UNSCHEDULABLE = "Unschedulable"

REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_PREFILTER_AFFINITY = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
REASON_AFFINITY_CONFLICT = "pod affinity terms conflict"
REASON_VOLUME_AFFINITY = "node(s) had volume node affinity conflict"
REASON_NO_VOLUME = "node(s) didn't find available persistent volumes to bind"
REASON_TOO_MANY_PODS = "Too many pods"
REASON_PORTS = "node(s) didn't have free ports for the requested pod ports"
BIND_ALL = "0.0.0.0"  # a host port without hostIP binds every address
NO_NODES = "no nodes available to schedule pods"
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
PREEMPTION_NO_VICTIMS = "No preemption victims found for incoming pod"
PREEMPTION_NEVER = "not eligible due to preemptionPolicy=Never."
MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENT = 5


@dataclass
class NodeView:
    """What the filters need of a Node."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, Any]] = field(default_factory=list)
    unschedulable: bool = False
    allocatable: Resources = field(default_factory=dict)

    @classmethod
    def from_node(cls, node: dict[str, Any]) -> NodeView:
        md = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        labels = md.get("labels") if isinstance(md.get("labels"), dict) else {}
        taints = [t for t in spec.get("taints") or [] if isinstance(t, dict)]
        return cls(
            name=md.get("name", ""),
            labels=dict(labels),
            taints=taints,
            unschedulable=bool(spec.get("unschedulable")),
            allocatable=to_resources(status.get("allocatable")),
        )

    def key(self) -> tuple[Any, ...]:
        """What scheduling depends on; a change of it makes unschedulable pods worth a retry."""
        return (
            sorted(self.labels.items()),
            [(t.get("key"), t.get("value"), t.get("effect")) for t in self.taints],
            self.unschedulable,
            sorted(self.allocatable.items()),
        )


HostPort = tuple[str, str, int]  # (host IP, protocol, port)


@dataclass
class Usage:
    """What is already placed on a node: summed requests, scoring requests, the pod count and the
    host ports in use (how many pods use each)."""

    requested: Resources = field(default_factory=dict)
    nonzero: Resources = field(default_factory=dict)
    pods: int = 0
    ports: dict[HostPort, int] = field(default_factory=dict)


def host_ports(pod: dict[str, Any]) -> list[HostPort]:
    """The NodePorts plugin's getContainerPorts: the host ports of the pod's app containers (init
    containers' are not looked at), with HostPortInfo's defaults (0.0.0.0, TCP)."""
    out = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in (c.get("ports") if isinstance(c, dict) else None) or []:
            port = p.get("hostPort") if isinstance(p, dict) else None
            if isinstance(port, int) and not isinstance(port, bool) and port > 0:
                out.append((str(p.get("hostIP") or BIND_ALL), str(p.get("protocol") or "TCP"), port))
    return out


def port_conflict(used: dict[HostPort, int], want: HostPort) -> bool:
    """HostPortInfo.CheckConflict: 0.0.0.0 conflicts with the port on any address, an address with
    the same address or 0.0.0.0."""
    ip, protocol, port = want
    if ip == BIND_ALL:
        return any(n > 0 and (pr, po) == (protocol, port) for (_, pr, po), n in used.items())
    return any(used.get((addr, protocol, port), 0) > 0 for addr in (BIND_ALL, ip))


# ---------------------------------------------------------------------------- tolerations
def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """v1.Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated_taint(
    tolerations: list[dict[str, Any]], taints: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The first NoSchedule/NoExecute taint no toleration covers."""
    for t in taints:
        if t.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(tol, t) for tol in tolerations):
            return t
    return None


# ---------------------------------------------------------------------------- node affinity
def _match_requirement(req: dict[str, Any], value: str | None) -> bool:
    op = req.get("operator")
    values = [str(v) for v in req.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        if value is None or len(values) != 1:
            return False
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: dict[str, Any], node: NodeView) -> bool:
    """A NodeSelectorTerm: all expressions and fields must match; an empty term matches nothing."""
    exprs = [e for e in term.get("matchExpressions") or [] if isinstance(e, dict)]
    fields = [f for f in term.get("matchFields") or [] if isinstance(f, dict)]
    if not exprs and not fields:
        return False
    for e in exprs:
        if not _match_requirement(e, node.labels.get(str(e.get("key")))):
            return False
    for f in fields:
        value = node.name if f.get("key") == "metadata.name" else None
        if not _match_requirement(f, value):
            return False
    return True


def _required_terms(pod: dict[str, Any]) -> list[dict[str, Any]] | None:
    spec = pod.get("spec") or {}
    aff = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not isinstance(aff, dict):
        return None
    return [t for t in aff.get("nodeSelectorTerms") or [] if isinstance(t, dict)]


def prefilter_node_names(terms: list[dict[str, Any]] | None) -> set[str] | None:
    """NodeAffinity PreFilter: the node names every term pins with `metadata.name In`, or None."""
    if not terms:
        return None
    names: set[str] = set()
    for t in terms:
        term_names: set[str] | None = None
        for f in t.get("matchFields") or []:
            if isinstance(f, dict) and f.get("key") == "metadata.name" and f.get("operator") == "In":
                s = {str(v) for v in f.get("values") or []}
                term_names = s if term_names is None else term_names & s
        if term_names is None:
            return None
        names |= term_names
    return names


# ---------------------------------------------------------------------------- the pod
@dataclass
class PodFit:
    """A pod as the filters see it, computed once per scheduling attempt."""

    requests: Resources
    nonzero: Resources
    tolerations: list[dict[str, Any]]
    node_selector: dict[str, str]
    terms: list[dict[str, Any]] | None
    node_names: set[str] | None
    preemption_never: bool
    host_ports: list[HostPort] = field(default_factory=list)
    # VolumeBinding: per claim, the node selector terms (any of them) a node must match, and the
    # reason a node that matches none fails with (bound volumes' affinity; for a delayed claim
    # without a provisioner, that of the volumes it could bind)
    volume_terms: list[tuple[list[dict[str, Any]], str]] = field(default_factory=list)

    @classmethod
    def from_pod(cls, pod: dict[str, Any]) -> PodFit:
        spec = pod.get("spec") or {}
        terms = _required_terms(pod)
        sel = spec.get("nodeSelector")
        return cls(
            requests=pod_requests(pod),
            nonzero=pod_requests(pod, nonzero=True),
            tolerations=[t for t in spec.get("tolerations") or [] if isinstance(t, dict)],
            node_selector={str(k): str(v) for k, v in sel.items()} if isinstance(sel, dict) else {},
            terms=terms,
            node_names=prefilter_node_names(terms),
            preemption_never=spec.get("preemptionPolicy") == "Never",
            host_ports=host_ports(pod),
        )


def node_affinity_ok(pod: PodFit, node: NodeView) -> bool:
    for k, v in pod.node_selector.items():
        if node.labels.get(k) != v:
            return False
    return not pod.terms or any(term_matches(t, node) for t in pod.terms)


def filter_node(pod: PodFit, node: NodeView, usage: Usage) -> tuple[str, list[str]] | None:
    """Run the filters in kube-scheduler's order; the first failing one gives (code, reasons)."""
    if node.unschedulable and not any(
        tolerates(t, {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}) for t in pod.tolerations
    ):
        return UNRESOLVABLE, [REASON_UNSCHEDULABLE]
    taint = untolerated_taint(pod.tolerations, node.taints)
    if taint is not None:
        return UNRESOLVABLE, [
            f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}"
        ]
    if not node_affinity_ok(pod, node):
        return UNRESOLVABLE, [REASON_AFFINITY]
    if any(port_conflict(usage.ports, p) for p in pod.host_ports):
        return UNSCHEDULABLE, [REASON_PORTS]
    reasons = insufficient(pod.requests, node, usage)
    if reasons:
        return UNSCHEDULABLE, reasons
    for terms, reason in pod.volume_terms:
        if not any(term_matches(t, node) for t in terms):
            return UNRESOLVABLE, [reason]
    return None


def insufficient(requests: Resources, node: NodeView, usage: Usage) -> list[str]:
    """NodeResourcesFit: the pod count, then cpu, memory, ephemeral-storage and other resources."""
    reasons = []
    allowed = node.allocatable.get("pods", 0)
    if usage.pods + 1 > allowed:
        reasons.append(REASON_TOO_MANY_PODS)
    order = ["cpu", "memory", "ephemeral-storage"]
    order += sorted(k for k in requests if k not in order and k != "pods")
    for name in order:
        want = requests.get(name, 0)
        if want > 0 and want > node.allocatable.get(name, 0) - usage.requested.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def score(pod: PodFit, node: NodeView, usage: Usage) -> float:
    """NodeResourcesFit LeastAllocated over cpu and memory with the non-zero request defaults."""
    total = 0.0
    for name in ("cpu", "memory"):
        alloc = node.allocatable.get(name, 0)
        req = usage.nonzero.get(name, 0) + pod.nonzero.get(name, 0)
        total += 0.0 if alloc <= 0 or req > alloc else (alloc - req) * 100 / alloc
    return total / 2


# ---------------------------------------------------------------------------- messages
def _histogram(reasons: list[str]) -> str:
    counts: dict[str, int] = {}
    for r in reasons:
        counts[r] = counts.get(r, 0) + 1
    return ", ".join(sorted(f"{n} {r}" for r, n in counts.items()))


def fit_error(
    num_nodes: int,
    statuses: list[tuple[str, list[str]]],
    *,
    prefilter_msg: str = "",
    preemption_never: bool = False,
) -> str:
    """framework.FitError.Error() followed by the DefaultPreemption PostFilter message."""
    if num_nodes == 0:
        return NO_NODES
    msg = f"0/{num_nodes} nodes are available:"
    if prefilter_msg:
        msg += f" {prefilter_msg}."
    else:
        hist = _histogram([r for _, reasons in statuses for r in reasons])
        if hist:
            msg += f" {hist}."
    if preemption_never:
        post = PREEMPTION_NEVER
    else:
        per_node = [
            PREEMPTION_NOT_HELPFUL if code == UNRESOLVABLE else PREEMPTION_NO_VICTIMS for code, _ in statuses
        ]
        post = f"0/{num_nodes} nodes are available: {_histogram(per_node)}."
    return f"{msg} preemption: {post}"


def nodes_to_find(num_nodes: int) -> int:
    """numFeasibleNodesToFind: all of a small cluster, an adaptive share (50% - n/125, at least
    5% and 100 nodes) of a large one."""
    if num_nodes < MIN_FEASIBLE_NODES:
        return num_nodes
    percent = max(50 - num_nodes // 125, MIN_FEASIBLE_PERCENT)
    return max(num_nodes * percent // 100, MIN_FEASIBLE_NODES)


def find_fit(
    pod: PodFit, nodes: list[NodeView], usage: dict[str, Usage], *, start: int = 0
) -> tuple[list[NodeView], list[tuple[str, list[str]]], str, int]:
    """Filter nodes from index `start` (wrapping) until enough are feasible: (feasible nodes,
    statuses of the failed ones, PreFilter message, nodes processed)."""
    n = len(nodes)
    if pod.node_names is not None and not pod.node_names:
        return [], [(UNRESOLVABLE, [])] * n, REASON_AFFINITY_CONFLICT, n
    want = nodes_to_find(n)
    feasible: list[NodeView] = []
    failed: list[tuple[str, list[str]]] = []
    for i in range(n):
        node = nodes[(start + i) % n]
        if pod.node_names is not None and node.name not in pod.node_names:
            failed.append((UNRESOLVABLE, [REASON_PREFILTER_AFFINITY]))
            continue
        st = filter_node(pod, node, usage.get(node.name) or Usage())
        if st is None:
            feasible.append(node)
            if len(feasible) >= want:
                return feasible, failed, "", i + 1
        else:
            failed.append(st)
    return feasible, failed, "", n
