"""The audit Policy of kube-apiserver 1.32 (audit.k8s.io/v1): loading and validation
(k8s.io/apiserver/pkg/audit/policy/reader.go, apis/audit/validation) and rule matching
(policy/checker.go): the first rule that matches a request gives its level, the stages to omit
(the rule's united with the policy's) and whether managedFields are left out; no rule: None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from vcluster.apiserver.gostr import go_quote

if TYPE_CHECKING:  # kept light: request.py imports the audit hooks
    from vcluster.apiserver.auth import UserInfo
    from vcluster.apiserver.rbac_authorizer import Attributes

NONE, METADATA, REQUEST, REQUEST_RESPONSE = "None", "Metadata", "Request", "RequestResponse"
LEVELS = (NONE, METADATA, REQUEST, REQUEST_RESPONSE)
LEVEL_ORDER = {level: i for i, level in enumerate(LEVELS)}
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
API_VERSION = "audit.k8s.io/v1"


class PolicyError(ValueError):
    """The policy file cannot be used; the message is kube-apiserver's."""


@dataclass(frozen=True)
class GroupResources:
    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyRule:
    level: str
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool | None = None


@dataclass(frozen=True)
class RequestAuditConfig:
    """What the policy says about one request."""

    level: str
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False


@dataclass
class Policy:
    rules: list[PolicyRule] = field(default_factory=list)
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False

    def evaluate(self, user: UserInfo | None, a: Attributes) -> RequestAuditConfig:
        """EvaluatePolicyRule: the first matching rule, else level None with the policy's stages."""
        for r in self.rules:
            if rule_matches(r, user, a):
                omf = self.omit_managed_fields if r.omit_managed_fields is None else r.omit_managed_fields
                return RequestAuditConfig(r.level, r.omit_stages | self.omit_stages, omf)
        return RequestAuditConfig(NONE, self.omit_stages, self.omit_managed_fields)


# ------------------------------------------------------------------------------------ matching
def rule_matches(r: PolicyRule, user: UserInfo | None, a: Attributes) -> bool:
    """ruleMatches of checker.go."""
    if r.users and (user is None or user.username not in r.users):
        return False
    if r.user_groups and (user is None or not any(g in r.user_groups for g in user.groups)):
        return False
    if r.verbs and a.verb not in r.verbs:
        return False
    if r.namespaces or r.resources:
        return _matches_resource(r, a)
    if r.non_resource_urls:
        return not a.resource_request and any(path_matches(a.path, spec) for spec in r.non_resource_urls)
    return True


def path_matches(path: str, spec: str) -> bool:
    """`*`, the exact path, or a prefix ending in `*`."""
    if spec == "*" or spec == path:
        return True
    return spec.endswith("*") and path.startswith(spec.rstrip("*"))


def _matches_resource(r: PolicyRule, a: Attributes) -> bool:
    if not a.resource_request:
        return False
    if r.namespaces and a.namespace not in r.namespaces:  # cluster-scoped: ""
        return False
    if not r.resources:
        return True
    sub = a.subresource
    combined = f"{a.resource}/{sub}" if sub else a.resource
    for gr in r.resources:
        if gr.group != a.group:
            continue
        if not gr.resources:
            return True
        for res in gr.resources:
            if gr.resource_names and a.name not in gr.resource_names:
                continue
            if res == combined or res == "*":
                return True
            if sub and res.startswith("*/") and sub == res[2:]:
                return True
            if res.endswith("/*") and a.resource == res[:-2]:
                return True
    return False


# ------------------------------------------------------------------------------------ loading
def load_policy_file(path: str | Path) -> Policy:
    """LoadPolicyFromFile, with kube-apiserver's messages ("loading audit policy file: ...")."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise PolicyError(
            f'loading audit policy file: failed to read file path "{path}": {e.strerror or e}'
        ) from None
    try:
        return load_policy(data)
    except PolicyError as e:
        raise PolicyError(f"loading audit policy file: {e}: from file {path}") from None


def load_policy(data: bytes | str) -> Policy:
    """LoadPolicyFromBytes: decode (YAML or JSON), check the kind, validate, require a rule."""
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as e:
        raise PolicyError(f"failed decoding: {' '.join(str(e).split())}") from None
    if not isinstance(doc, dict):
        raise PolicyError("failed decoding: couldn't get version/kind; the document is not an object")
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    if not kind:
        raise PolicyError("failed decoding: Object 'Kind' is missing")
    if api_version != API_VERSION or kind != "Policy":
        raise PolicyError(
            f'failed decoding: no kind "{kind}" is registered for version "{api_version}" in scheme '
            f'(known: "Policy" of "{API_VERSION}")'
        )
    policy, errs = _decode(doc)
    if errs:
        raise PolicyError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    if not policy.rules:
        raise PolicyError("loaded illegal policy with 0 rules")
    return policy


def _type_error(value: Any, go_type: str, fld: str) -> PolicyError:
    got = {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return PolicyError(
        f"failed decoding: json: cannot unmarshal {got.get(type(value), 'value')} into Go struct field "
        f"{fld} of type {go_type}"
    )


def _strings(obj: dict[str, Any], key: str, fld: str) -> tuple[str, ...]:
    v = obj.get(key)
    if v is None:
        return ()
    if not isinstance(v, list):
        raise _type_error(v, "[]string", fld)
    for item in v:
        if not isinstance(item, str):
            raise _type_error(item, "string", fld)
    return tuple(v)


def _bool(obj: dict[str, Any], key: str, fld: str) -> bool | None:
    v = obj.get(key)
    if v is not None and not isinstance(v, bool):
        raise _type_error(v, "bool", fld)
    return v


def _decode(doc: dict[str, Any]) -> tuple[Policy, list[str]]:
    """The typed Policy and ValidatePolicy's errors (field paths as kube prints them)."""
    errs: list[str] = []
    stages = _strings(doc, "omitStages", "Policy.omitStages")
    errs += _stage_errors(stages, "omitStages")
    rules_raw = doc.get("rules")
    if rules_raw is not None and not isinstance(rules_raw, list):
        raise _type_error(rules_raw, "[]v1.PolicyRule", "Policy.rules")
    rules = []
    for i, raw in enumerate(rules_raw or []):
        if not isinstance(raw, dict):
            raise _type_error(raw, "v1.PolicyRule", "Policy.rules")
        rule, rule_errs = _decode_rule(raw, f"rules[{i}]")
        rules.append(rule)
        errs += rule_errs
    omf = _bool(doc, "omitManagedFields", "Policy.omitManagedFields") or False
    return Policy(rules, frozenset(stages), omf), errs


def _decode_rule(raw: dict[str, Any], path: str) -> tuple[PolicyRule, list[str]]:
    errs: list[str] = []
    level = raw.get("level", "")
    if not isinstance(level, str):
        raise _type_error(level, "v1.Level", "PolicyRule.rules.level")
    if level == "":
        errs.append(f"{path}.level: Required value")
    elif level not in LEVELS:
        supported = ", ".join(go_quote(x) for x in LEVELS)
        errs.append(f"{path}.level: Unsupported value: {go_quote(level)}: supported values: {supported}")
    urls = _strings(raw, "nonResourceURLs", "PolicyRule.rules.nonResourceURLs")
    for i, url in enumerate(urls):
        if url == "*":
            continue
        if not url.startswith("/"):
            errs.append(
                f"{path}.nonResourceURLs[{i}]: Invalid value: {go_quote(url)}: "
                "non-resource URL rules must begin with a '/' character"
            )
        if url and "*" in url[:-1]:
            errs.append(
                f"{path}.nonResourceURLs[{i}]: Invalid value: {go_quote(url)}: "
                "non-resource URL wildcards '*' must be the final character of the rule"
            )
    resources_raw = raw.get("resources")
    if resources_raw is not None and not isinstance(resources_raw, list):
        raise _type_error(resources_raw, "[]v1.GroupResources", "PolicyRule.rules.resources")
    resources = []
    for gr_raw in resources_raw or []:
        if not isinstance(gr_raw, dict):
            raise _type_error(gr_raw, "v1.GroupResources", "PolicyRule.rules.resources")
        group = gr_raw.get("group", "")
        if not isinstance(group, str):
            raise _type_error(group, "string", "GroupResources.rules.resources.group")
        gr = GroupResources(
            group,
            _strings(gr_raw, "resources", "GroupResources.rules.resources.resources"),
            _strings(gr_raw, "resourceNames", "GroupResources.rules.resources.resourceNames"),
        )
        if group and (msgs := _dns1123_subdomain(group)):
            errs.append(f"{path}.resources.group: Invalid value: {go_quote(group)}: {','.join(msgs)}")
        if gr.resource_names and not gr.resources:
            names = _go_slice(gr.resource_names)
            errs.append(
                f"{path}.resources.resourceNames: Invalid value: {names}: "
                "using resourceNames requires at least one resource"
            )
        resources.append(gr)
    stages = _strings(raw, "omitStages", "PolicyRule.rules.omitStages")
    errs += _stage_errors(stages, f"{path}.omitStages")
    namespaces = _strings(raw, "namespaces", "PolicyRule.rules.namespaces")
    if urls and (resources or namespaces):
        errs.append(
            f"{path}.nonResourceURLs: Invalid value: {_go_slice(urls)}: "
            "rules cannot apply to both regular resources and non-resource URLs"
        )
    rule = PolicyRule(
        level=level,
        users=_strings(raw, "users", "PolicyRule.rules.users"),
        user_groups=_strings(raw, "userGroups", "PolicyRule.rules.userGroups"),
        verbs=_strings(raw, "verbs", "PolicyRule.rules.verbs"),
        resources=tuple(resources),
        namespaces=namespaces,
        non_resource_urls=urls,
        omit_stages=frozenset(stages),
        omit_managed_fields=_bool(raw, "omitManagedFields", "PolicyRule.rules.omitManagedFields"),
    )
    return rule, errs


def _dns1123_subdomain(value: str) -> list[str]:
    from vcluster.apiserver.validation import is_dns1123_subdomain

    return is_dns1123_subdomain(value)


def _stage_errors(stages: Iterable[str], path: str) -> list[str]:
    return [
        f"{path}[{i}]: Invalid value: {go_quote(s)}: allowed stages are {','.join(STAGES)}"
        for i, s in enumerate(stages)
        if s not in STAGES
    ]


def _go_slice(items: Iterable[str]) -> str:
    """A []string as `%#v` prints it in field.Invalid."""
    return "[]string{" + ", ".join(go_quote(s) for s in items) + "}"
