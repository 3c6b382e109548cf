"""Validation of admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration and
MutatingWebhookConfiguration (pkg/apis/admissionregistration/validation of kube 1.32:
ValidateValidatingWebhookConfiguration, ValidateMutatingWebhookConfiguration and their Update forms).

`matchConditions` are validated (count, names, CEL compilation) by `cel.matchconditions`.
"""

from __future__ import annotations

from typing import Any

from vcluster.apiserver.admission import _validate_label_selector
from vcluster.apiserver.cel import lazy_module
from vcluster.apiserver.crd import (
    _body_value,
    _go_string_slice,
    _validate_webhook_service,
    _validate_webhook_url,
)
from vcluster.apiserver.errors import Cause
from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.validation import is_dns1035_label, is_dns1123_subdomain

matchconditions = lazy_module("vcluster.apiserver.cel.matchconditions")

JSON = dict[str, Any]
GROUP = "admissionregistration.k8s.io"
ACCEPTED_REVIEW_VERSIONS = ("v1", "v1beta1")
FAILURE_POLICIES = ("Fail", "Ignore")
MATCH_POLICIES = ("Equivalent", "Exact")
SIDE_EFFECTS = ("None", "NoneOnDryRun", "Some", "Unknown")
NO_SIDE_EFFECTS = ("None", "NoneOnDryRun")
OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
REINVOCATION_POLICIES = ("IfNeeded", "Never")
SCOPES = ("*", "Cluster", "Namespaced")


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {_body_value(value)}: {detail}", path)


def _invalid_text(path: str, go_text: str, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {go_text}: {detail}", path)


def _required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), path)


def _not_supported(path: str, value: Any, supported: tuple[str, ...]) -> Cause:
    quoted = ", ".join(go_quote(s) for s in supported)
    return Cause(
        "FieldValueNotSupported", f"Unsupported value: {_body_value(value)}: supported values: {quoted}", path
    )


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _dict(v: Any) -> JSON:
    return v if isinstance(v, dict) else {}


def _go_slice(type_name: str, items: list[Any]) -> str:
    return "[]" + type_name + "{" + ", ".join(go_quote(str(x)) for x in items) + "}"


def fully_qualified_name(path: str, name: Any) -> list[Cause]:
    """utilvalidation.IsFullyQualifiedName: a DNS subdomain with at least three segments."""
    if not isinstance(name, str) or not name:
        return [_required(path)]
    name = name.removesuffix(".")
    errs = is_dns1123_subdomain(name)
    if errs:
        return [_invalid(path, name, ",".join(errs))]
    if len(name.split(".")) < 3:
        return [_invalid(path, name, "should be a domain with at least three segments separated by dots")]
    return []


def _validate_resources(resources: list[Any], path: str) -> list[Cause]:
    """validateResources (subresources allowed)."""
    errs: list[Cause] = []
    if not resources:
        errs.append(_required(path))
    with_wild_sub: set[str] = set()
    wild_res_subs: set[str] = set()
    double = single = plain = False
    for i, rs in enumerate(resources):
        rs = rs if isinstance(rs, str) else ""
        if rs == "":
            errs.append(_required(f"{path}[{i}]"))
            continue
        double = double or rs == "*/*"
        single = single or rs == "*"
        res, slash, sub = rs.partition("/")
        if not slash:
            plain = rs != "*"  # upstream keeps only the last plain entry's answer
            continue
        if res in with_wild_sub:
            errs.append(_invalid(f"{path}[{i}]", rs, f"if '{res}/*' is present, must not specify {rs}"))
        if sub in wild_res_subs:
            errs.append(_invalid(f"{path}[{i}]", rs, f"if '*/{sub}' is present, must not specify {rs}"))
        if sub == "*":
            with_wild_sub.add(res)
        if res == "*":
            wild_res_subs.add(sub)
    if len(resources) > 1 and double:
        errs.append(
            _invalid_text(
                path, _go_string_slice(resources), "if '*/*' is present, must not specify other resources"
            )
        )
    if single and plain:
        errs.append(
            _invalid_text(
                path,
                _go_string_slice(resources),
                "if '*' is present, must not specify other resources without subresources",
            )
        )
    return errs


def _validate_rule(rule: JSON, path: str) -> list[Cause]:
    """validateRuleWithOperations."""
    errs: list[Cause] = []
    ops = _list(rule.get("operations"))
    if not ops:
        errs.append(_required(f"{path}.operations"))
    if len(ops) > 1 and "*" in ops:
        errs.append(
            _invalid_text(
                f"{path}.operations",
                _go_slice("admissionregistration.OperationType", ops),
                "if '*' is present, must not specify other operations",
            )
        )
    for i, op in enumerate(ops):
        if op not in OPERATIONS:
            errs.append(_not_supported(f"{path}.operations[{i}]", op, OPERATIONS))
    groups = _list(rule.get("apiGroups"))
    if not groups:
        errs.append(_required(f"{path}.apiGroups"))
    if len(groups) > 1 and "*" in groups:
        errs.append(
            _invalid_text(
                f"{path}.apiGroups",
                _go_string_slice(groups),
                "if '*' is present, must not specify other API groups",
            )
        )
    versions = _list(rule.get("apiVersions"))
    if not versions:
        errs.append(_required(f"{path}.apiVersions"))
    if len(versions) > 1 and "*" in versions:
        errs.append(
            _invalid_text(
                f"{path}.apiVersions",
                _go_string_slice(versions),
                "if '*' is present, must not specify other API versions",
            )
        )
    for i, v in enumerate(versions):
        if v == "":
            errs.append(_required(f"{path}.apiVersions[{i}]"))
    errs.extend(_validate_resources(_list(rule.get("resources")), f"{path}.resources"))
    scope = rule.get("scope")
    if scope is not None and scope not in SCOPES:
        errs.append(_not_supported(f"{path}.scope", scope, SCOPES))
    return errs


def _validate_review_versions(versions: Any, require_recognized: bool, path: str) -> list[Cause]:
    """validateAdmissionReviewVersions."""
    versions = _list(versions)
    accepted = ", ".join(ACCEPTED_REVIEW_VERSIONS)
    if not versions:
        return [_required(path, f"must specify one of {accepted}")]
    errs: list[Cause] = []
    seen: set[str] = set()
    has_accepted = False
    for i, v in enumerate(versions):
        v = v if isinstance(v, str) else ""
        if v in seen:
            errs.append(_invalid(f"{path}[{i}]", v, "duplicate version"))
            continue
        seen.add(v)
        errs.extend(_invalid(f"{path}[{i}]", v, m) for m in is_dns1035_label(v))
        has_accepted = has_accepted or v in ACCEPTED_REVIEW_VERSIONS
    if require_recognized and not has_accepted:
        errs.append(
            _invalid_text(path, _go_string_slice(versions), f"must include at least one of {accepted}")
        )
    return errs


def _validate_client_config(cc: JSON, path: str) -> list[Cause]:
    url, svc = cc.get("url"), cc.get("service")
    if (url is None) == (svc is None):
        return [_required(path, "exactly one of url or service is required")]
    if url is not None:
        return _validate_webhook_url(f"{path}.url", url if isinstance(url, str) else "")
    return _validate_webhook_service(f"{path}.service", _dict(svc))


def _validate_webhook(hook: JSON, mutating: bool, opts: _Options, path: str) -> list[Cause]:
    """validateValidatingWebhook / validateMutatingWebhook."""
    errs = fully_qualified_name(f"{path}.name", hook.get("name"))
    for i, rule in enumerate(_list(hook.get("rules"))):
        errs.extend(_validate_rule(_dict(rule), f"{path}.rules[{i}]"))
    fp = hook.get("failurePolicy")
    if fp is not None and fp not in FAILURE_POLICIES:
        errs.append(_not_supported(f"{path}.failurePolicy", fp, FAILURE_POLICIES))
    mp = hook.get("matchPolicy")
    if mp is not None and mp not in MATCH_POLICIES:
        errs.append(_not_supported(f"{path}.matchPolicy", mp, MATCH_POLICIES))
    allowed = NO_SIDE_EFFECTS if opts.require_no_side_effects else SIDE_EFFECTS
    se = hook.get("sideEffects")
    if se is None:
        errs.append(_required(f"{path}.sideEffects", "must specify one of " + ", ".join(allowed)))
    elif se not in allowed:
        errs.append(_not_supported(f"{path}.sideEffects", se, allowed))
    ts = hook.get("timeoutSeconds")
    if isinstance(ts, int) and not 1 <= ts <= 30:
        errs.append(
            _invalid(f"{path}.timeoutSeconds", ts, "the timeout value must be between 1 and 30 seconds")
        )
    for sel in ("namespaceSelector", "objectSelector"):
        if hook.get(sel) is not None:
            errs.extend(_validate_label_selector(hook.get(sel), f"{path}.{sel}"))
    rp = hook.get("reinvocationPolicy")
    if mutating and rp is not None and rp not in REINVOCATION_POLICIES:
        errs.append(_not_supported(f"{path}.reinvocationPolicy", rp, REINVOCATION_POLICIES))
    errs.extend(_validate_client_config(_dict(hook.get("clientConfig")), f"{path}.clientConfig"))
    conditions = _list(hook.get("matchConditions"))
    if conditions:
        errs.extend(matchconditions.validate(conditions, f"{path}.matchConditions"))
    return errs


class _Options:
    """validationOptions: what an update relaxes because the stored object already had it."""

    __slots__ = (
        "require_no_side_effects",
        "require_recognized_versions",
        "require_unique_names",
    )

    def __init__(
        self,
        *,
        require_no_side_effects: bool = True,
        require_recognized_versions: bool = True,
        require_unique_names: bool = True,
    ) -> None:
        self.require_no_side_effects = require_no_side_effects
        self.require_recognized_versions = require_recognized_versions
        self.require_unique_names = require_unique_names


def _validate(obj: JSON, mutating: bool, opts: _Options) -> list[Cause]:
    errs: list[Cause] = []
    names: set[str] = set()
    for i, hook in enumerate(_list(obj.get("webhooks"))):
        hook = _dict(hook)
        path = f"webhooks[{i}]"
        errs.extend(_validate_webhook(hook, mutating, opts, path))
        errs.extend(
            _validate_review_versions(
                hook.get("admissionReviewVersions"),
                opts.require_recognized_versions,
                f"{path}.admissionReviewVersions",
            )
        )
        name = hook.get("name")
        if opts.require_unique_names and isinstance(name, str) and name:
            if name in names:
                errs.append(
                    Cause("FieldValueDuplicate", f"Duplicate value: {go_quote(name)}", f"{path}.name")
                )
            names.add(name)
    return errs


def validate_validating(obj: JSON) -> list[Cause]:
    """ValidateValidatingWebhookConfiguration (metadata is checked by the pipeline)."""
    return _validate(obj, False, _Options())


def validate_mutating(obj: JSON) -> list[Cause]:
    """ValidateMutatingWebhookConfiguration (metadata is checked by the pipeline)."""
    return _validate(obj, True, _Options())


def _update_options(new: JSON, old: JSON) -> _Options:
    """The Update validations' options: rules the stored object already broke stay allowed."""
    old_hooks = [_dict(h) for h in _list(old.get("webhooks"))]
    names = [h.get("name") for h in old_hooks]
    return _Options(
        require_no_side_effects=all(h.get("sideEffects") in NO_SIDE_EFFECTS for h in old_hooks),
        require_recognized_versions=all(
            not _list(h.get("admissionReviewVersions"))
            or any(v in ACCEPTED_REVIEW_VERSIONS for v in _list(h.get("admissionReviewVersions")))
            for h in old_hooks
        ),
        require_unique_names=len(names) == len(set(map(str, names))),
    )


def validate_validating_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateValidatingWebhookConfigurationUpdate."""
    return _validate(new, False, _update_options(new, old))


def validate_mutating_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateMutatingWebhookConfigurationUpdate."""
    return _validate(new, True, _update_options(new, old))
