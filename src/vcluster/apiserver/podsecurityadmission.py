"""The PodSecurity admission plugin of kube-apiserver 1.32 (k8s.io/pod-security-admission/admission).

Namespaces choose a Pod Security Standards level per mode with the `pod-security.kubernetes.io/
<enforce|audit|warn>[-version]` labels. Pods (create, update, `ephemeralcontainers`) violating the
enforce level are refused with 403 `violates PodSecurity "restricted:latest": ...`; the warn level
answers `Warning` headers; workload resources with a pod template are only warned about and
audited. Namespace writes get their labels validated (422) and, when enforce tightens, warnings
naming the existing pods that violate it. The write pipeline calls :func:`admit` as a validating
admission plugin, after validation and before the validating webhooks, as kube-apiserver does.

The plugin's audit annotations (`pod-security.kubernetes.io/enforce-policy`, `audit-violations`,
`exempt`, `error`) go to the request's audit event (audit.py) when the request is audited.
Namespaces without PodSecurity labels cost one in-memory store lookup and a scan of their few labels;
the parsed policy of a labelled namespace is cached per stored namespace entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from vcluster.apiserver import audit, rbac_escalation, webhookadmission
from vcluster.apiserver.errors import Cause, field_invalid, forbidden, internal_error, invalid
from vcluster.apiserver.resources import ResourceType
from vcluster.podsecurity.api import (
    AUDIT_VIOLATIONS_ANNOTATION,
    ENFORCED_POLICY_ANNOTATION,
    ERROR_ANNOTATION,
    EXEMPTION_REASON_ANNOTATION,
    LABEL_PREFIX,
    PRIVILEGED,
    PRIVILEGED_LATEST,
    FieldError,
    LevelVersion,
    Policy,
    compare_levels,
    policy_to_evaluate,
)
from vcluster.podsecurity.config import PodSecurityConfiguration
from vcluster.podsecurity.registry import EVALUATOR, Violation, forbidden_detail, forbidden_reason
from vcluster.store.interface import Entry, Storage

log = logging.getLogger(__name__)

NAMESPACE_MAX_PODS_TO_CHECK = 3000
NAMESPACE_POD_CHECK_TIMEOUT = 1.0  # seconds

# Resources with a pod template: warn and audit only (DefaultPodSpecExtractor).
_POD_TEMPLATE_RESOURCES = {
    ("", "replicationcontrollers"),
    ("", "podtemplates"),
    ("apps", "replicasets"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
}
# Pod subresources that cannot change the pod spec; every other one is evaluated.
_IGNORED_POD_SUBRESOURCES = frozenset(
    {"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"}
)
_SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"

_config = PodSecurityConfiguration()
# parsed policies of labelled namespaces, by the identity of the stored entry they were read from
_policies: dict[int, tuple[Entry, Policy, list[FieldError]]] = {}
_POLICY_CACHE_MAX = 4096

JSON = dict[str, Any]


def configure(config: PodSecurityConfiguration) -> None:
    """Use `config` (defaults and exemptions) from now on."""
    global _config
    _config = config
    _policies.clear()


# ---------------------------------------------------------------------------- namespace policy
def _has_policy_labels(labels: Mapping[str, str] | None) -> bool:
    return labels is not None and any(k.startswith(LABEL_PREFIX) for k in labels)


def namespace_policy(entry: Entry | None) -> tuple[Policy, list[FieldError]]:
    """The policy a stored namespace asks for (the defaults without labels), cached per entry."""
    if entry is None or not _has_policy_labels(entry.labels):
        return _config.defaults, []
    cached = _policies.get(id(entry))
    if cached is not None and cached[0] is entry:
        return cached[1], cached[2]
    policy, errs = policy_to_evaluate(entry.labels, _config.defaults)
    if len(_policies) >= _POLICY_CACHE_MAX:
        _policies.clear()
    _policies[id(entry)] = (entry, policy, errs)  # the entry is kept alive, so its id stays its own
    return policy, errs


def _causes(errs: list[FieldError]) -> list[Cause]:
    return [field_invalid(e.path, e.value, e.detail) for e in errs]


def _errors_text(errs: list[FieldError]) -> str:
    """field.ErrorList.ToAggregate().Error()."""
    parts = [f"{c.field}: {c.message}" for c in _causes(errs)]
    return parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"


# ---------------------------------------------------------------------------- request context
def _warn(message: str) -> None:
    state = webhookadmission.REQUEST_STATE.get()
    if state is not None:
        state.warnings.append(message)


def _username() -> str:
    auth = rbac_escalation.REQUEST_AUTH.get()
    return auth.user.username if auth is not None else ""


def _audit(annotations: Mapping[str, str], rt: ResourceType, ns: str, name: str) -> None:
    """The response's AuditAnnotations, added to the request's audit event."""
    for key, value in annotations.items():
        audit.add_annotation(key, value)
        if key in (AUDIT_VIOLATIONS_ANNOTATION, ERROR_ANNOTATION):
            log.debug("%s %s/%s %s=%s", rt.plural, ns, name, key, value)


def _exempt_user() -> bool:
    user = _username()
    return bool(user) and user in _config.usernames


def _exempt_runtime_class(spec: Mapping[str, Any]) -> bool:
    rc = spec.get("runtimeClassName") or ""
    return bool(rc) and rc in _config.runtime_classes


# ---------------------------------------------------------------------------- entry point
def _applies(rt: ResourceType) -> bool:
    if rt.custom is not None:
        return False
    key = (rt.group, rt.plural)
    return key in _POD_TEMPLATE_RESOURCES or key in (("", "pods"), ("", "namespaces"))


async def admit(
    store: Storage,
    registry: Any,
    rt: ResourceType,
    ns: str,
    obj: JSON,
    old: JSON | None,
    subresource: str,
) -> None:
    """Validate a create (`old` None) or update of `rt` in namespace `ns`: raises the 403 or 422 of
    the plugin; warnings go to the request's `Warning` headers."""
    if not _applies(rt):
        return
    if rt.plural == "namespaces" and rt.group == "":
        if subresource == "":
            await _validate_namespace(store, registry, rt, obj, old)
        return
    if rt.plural == "pods" and rt.group == "":
        if subresource in _IGNORED_POD_SUBRESOURCES:
            return
    elif subresource != "":
        return
    if ns and ns in _config.namespaces:
        _audit({EXEMPTION_REASON_ANNOTATION: "namespace"}, rt, ns, "")
        return
    if _exempt_user():
        _audit({EXEMPTION_REASON_ANNOTATION: "user"}, rt, ns, "")
        return
    ns_rt = registry.get("", "v1", "namespaces")
    entry = await store.get(ns_rt.key_prefix + ns) if ns_rt is not None else None
    md = obj.get("metadata") or {}
    name = str(md.get("name") or md.get("generateName") or "")  # for the log
    if rt.plural == "pods" and rt.group == "":
        if entry is None:
            raise internal_error(f"failed to lookup namespace {ns}")
        policy, errs = namespace_policy(entry)
        if not errs and all(m.level == PRIVILEGED for m in policy):
            _audit({ENFORCED_POLICY_ANNOTATION: str(PRIVILEGED_LATEST)}, rt, ns, name)
            return
        if old is not None and not is_significant_pod_update(obj, old):
            return
        _evaluate(rt, ns, name, policy, errs, obj.get("metadata") or {}, obj.get("spec") or {}, enforce=True)
        return
    if entry is None:
        _audit({ERROR_ANNOTATION: f"failed to lookup namespace {ns}"}, rt, ns, name)
        return
    policy, errs = namespace_policy(entry)
    if not errs and policy.warn.level == PRIVILEGED and policy.audit.level == PRIVILEGED:
        return
    template = pod_template(rt, obj)
    if template is not None:
        _evaluate(rt, ns, name, policy, errs, template[0], template[1], enforce=False)


def pod_template(rt: ResourceType, obj: JSON) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The pod metadata and spec of a workload (ExtractPodSpec); None when it has no template."""
    spec = obj.get("spec") or {}
    if rt.plural == "podtemplates":
        template = obj.get("template") or {}
    elif rt.plural == "cronjobs":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    elif rt.plural == "replicationcontrollers":
        template = spec.get("template")  # a pointer in the Go type: may be absent
        if template is None:
            return None
    else:
        template = spec.get("template") or {}
    return template.get("metadata") or {}, template.get("spec") or {}


def _evaluate(
    rt: ResourceType,
    ns: str,
    name: str,
    policy: Policy,
    errs: list[FieldError],
    meta: Mapping[str, Any],
    spec: Mapping[str, Any],
    *,
    enforce: bool,
) -> None:
    """EvaluatePod: enforce (pods only), then audit and warn, sharing results of equal level/versions."""
    if _exempt_runtime_class(spec):
        _audit({EXEMPTION_REASON_ANNOTATION: "runtimeClass"}, rt, ns, name)
        return
    annotations: dict[str, str] = {}
    if errs:
        annotations[ERROR_ANNOTATION] = f"Failed to parse policy: {_errors_text(errs)}"
    results: dict[LevelVersion, list[Violation]] = {}

    def result(lv: LevelVersion) -> list[Violation]:
        if lv not in results:
            results[lv] = EVALUATOR.evaluate(lv, meta, spec)
        return results[lv]

    refusal = None
    if enforce:
        annotations[ENFORCED_POLICY_ANNOTATION] = str(policy.enforce)
        violations = result(policy.enforce)
        if violations:
            why = f'violates PodSecurity "{policy.enforce}": {forbidden_detail(violations)}'
            # a generateName pod is named by the pipeline before validating admission
            refusal = forbidden(rt.plural, rt.group, str(meta.get("name") or ""), why)
    audited = result(policy.audit)
    if audited:
        annotations[AUDIT_VIOLATIONS_ANNOTATION] = (
            f'would violate PodSecurity "{policy.audit}": {forbidden_detail(audited)}'
        )
    _audit(annotations, rt, ns, name)
    if refusal is not None:
        raise refusal
    warned = result(policy.warn)
    if warned:
        _warn(f'would violate PodSecurity "{policy.warn}": {forbidden_detail(warned)}')


def is_significant_pod_update(pod: JSON, old: JSON) -> bool:
    """isSignificantPodUpdate: only a changed image, seccomp annotation or a new ephemeral container
    can change what the policy sees of an existing pod."""
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    old_ann = (old.get("metadata") or {}).get("annotations") or {}
    if ann.get(_SECCOMP_POD) != old_ann.get(_SECCOMP_POD):
        return True
    spec, old_spec = pod.get("spec") or {}, old.get("spec") or {}

    def changed(c: Mapping[str, Any], oc: Mapping[str, Any]) -> bool:
        key = _SECCOMP_CONTAINER + str(c.get("name") or "")
        return c.get("image") != oc.get("image") or ann.get(key) != old_ann.get(key)

    for field in ("containers", "initContainers"):
        new_list, old_list = spec.get(field) or [], old_spec.get(field) or []
        if len(new_list) != len(old_list) or any(
            changed(c, oc) for c, oc in zip(new_list, old_list, strict=True)
        ):
            return True
    old_ephemeral = {c.get("name"): c for c in old_spec.get("ephemeralContainers") or []}
    for c in spec.get("ephemeralContainers") or []:
        oc = old_ephemeral.get(c.get("name"))
        if oc is None or changed(c, oc):
            return True
    return False


# ---------------------------------------------------------------------------- namespaces
async def _validate_namespace(
    store: Storage, registry: Any, rt: ResourceType, ns_obj: JSON, old: JSON | None
) -> None:
    """ValidateNamespace: valid labels (422 otherwise), and warnings about existing pods when an
    update tightens the enforce level."""
    name = str((ns_obj.get("metadata") or {}).get("name") or "")
    new_policy, new_errs = policy_to_evaluate((ns_obj.get("metadata") or {}).get("labels"), _config.defaults)
    if old is None:
        if new_errs:
            raise invalid(rt.kind, rt.group, name, _causes(new_errs))
        return
    old_policy, old_errs = policy_to_evaluate((old.get("metadata") or {}).get("labels"), _config.defaults)
    if new_errs and (not old_errs or new_errs != old_errs):
        raise invalid(rt.kind, rt.group, name, _causes(new_errs))
    new, prev = new_policy.enforce, old_policy.enforce
    if new == prev or new.level == PRIVILEGED:
        return
    if new.version == prev.version and compare_levels(new.level, prev.level) < 1:
        return
    if name in _config.namespaces:
        return
    pods_rt = registry.get("", "v1", "pods")
    if pods_rt is None:
        return
    listed = await store.list(f"{pods_rt.key_prefix}{name}/")
    for w in evaluate_pods_in_namespace(name, new, [e.decode() for e in listed.entries]):
        _warn(w)


def _prioritize(pods: list[JSON]) -> list[JSON]:
    """prioritizePods: skip exempt runtime classes, one pod per controller first, then the others."""
    first: list[JSON] = []
    rest: list[JSON] = []
    seen: set[str] = set()
    for pod in pods:
        if _exempt_runtime_class(pod.get("spec") or {}):
            continue
        ref = next(
            (r for r in (pod.get("metadata") or {}).get("ownerReferences") or [] if r.get("controller")), None
        )
        if ref is None:
            first.append(pod)
        elif ref.get("uid") in seen:
            rest.append(pod)
        else:
            seen.add(str(ref.get("uid")))
            first.append(pod)
    return first + rest


def evaluate_pods_in_namespace(
    namespace: str,
    enforce: LevelVersion,
    pods: list[JSON],
    *,
    max_pods: int = NAMESPACE_MAX_PODS_TO_CHECK,
    timeout: float = NAMESPACE_POD_CHECK_TIMEOUT,
) -> list[str]:
    """EvaluatePodsInNamespace: the warnings for the pods violating a new enforce level, one line per
    distinct set of reasons naming its lexically first pod, at most `max_pods` pods and `timeout`."""
    deadline = time.monotonic() + timeout
    prioritized = _prioritize(pods)
    total = len(prioritized)
    prioritized = prioritized[:max_pods]
    checked = len(prioritized)
    by_reason: dict[str, list[Any]] = {}  # reason -> [first pod name, count]
    for i, pod in enumerate(prioritized):
        violations = EVALUATOR.evaluate(enforce, pod.get("metadata") or {}, pod.get("spec") or {})
        if violations:
            reason = forbidden_reason(violations)
            pod_name = str((pod.get("metadata") or {}).get("name") or "")
            seen = by_reason.get(reason)
            if seen is None:
                by_reason[reason] = [pod_name, 1]
            else:
                seen[0] = min(seen[0], pod_name)
                seen[1] += 1
        if time.monotonic() >= deadline:
            checked = i + 1
            break
    warnings = []
    if checked < total:
        warnings.append(
            f"new PodSecurity enforce level only checked against the first {checked} of {total} existing pods"
        )
    if by_reason:
        warnings.append(
            f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce level "{enforce}"'
        )
    lines = []
    for reason, (first, count) in by_reason.items():
        if count == 1:
            lines.append(f"{first}: {reason}")
        elif count == 2:
            lines.append(f"{first} (and 1 other pod): {reason}")
        else:
            lines.append(f"{first} (and {count - 1} other pods): {reason}")
    return warnings + sorted(lines)
