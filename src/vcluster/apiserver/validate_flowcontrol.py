"""flowcontrol.apiserver.k8s.io/v1 FlowSchema and PriorityLevelConfiguration as kube-apiserver 1.32:
defaults (pkg/apis/flowcontrol/v1/defaults.go), validation (pkg/apis/flowcontrol/validation, for a
v1 request: a Limited level's nominalConcurrencyShares may be 0) and the mandatory objects' fixed
specs. Runs on the defaulted object, after the metadata checks.
"""

from __future__ import annotations

import math
from typing import Any

from vcluster.apiserver.admission import _go_strings
from vcluster.apiserver.flowcontrolbootstrap import (
    EXEMPT,
    MANDATORY_FS_BY_NAME,
    MANDATORY_PL_BY_NAME,
    semantic,
)
from vcluster.apiserver.validate_common import (
    JSON,
    Cause,
    _d,
    _duplicate,
    _forbidden,
    _invalid,
    _l,
    _required,
    _s,
    go_int,
    go_quote,
    is_int,
)
from vcluster.apiserver.validation import is_dns1123_label, is_dns1123_subdomain

GROUP = "flowcontrol.apiserver.k8s.io"
MAX_MATCHING_PRECEDENCE = 10000
_MAX_QUEUES = 10 * 1000 * 1000
_MAX_HASH_BITS = 60
_DISTINGUISHERS = ("ByNamespace", "ByUser")
_SUBJECT_KINDS = ("Group", "ServiceAccount", "User")
_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "proxy", "update", "watch")
_PL_TYPES = ("Exempt", "Limited")
_LIMIT_RESPONSES = ("Queue", "Reject")
_NS_INTRO = "each member of this list must be '*' or a DNS-1123 label; "


# ---------------------------------------------------------------------------- defaults
def default_flow_schema(obj: JSON) -> None:
    """SetDefaults_FlowSchemaSpec: matchingPrecedence 0 -> 1000."""
    spec = obj.get("spec")
    if isinstance(spec, dict) and not spec.get("matchingPrecedence"):
        spec["matchingPrecedence"] = 1000


def default_priority_level(obj: JSON) -> None:
    """SetDefaults of the Limited and Exempt configurations and of the queuing parameters."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    limited = spec.get("limited")
    if isinstance(limited, dict):
        if limited.get("nominalConcurrencyShares") is None:
            limited["nominalConcurrencyShares"] = 30
        if limited.get("lendablePercent") is None:
            limited["lendablePercent"] = 0
        queuing = _d(limited.get("limitResponse")).get("queuing")
        if isinstance(queuing, dict):
            for key, value in (("handSize", 8), ("queues", 64), ("queueLengthLimit", 50)):
                if not queuing.get(key):
                    queuing[key] = value
    exempt = spec.get("exempt")
    if isinstance(exempt, dict):
        for key in ("nominalConcurrencyShares", "lendablePercent"):
            if exempt.get(key) is None:
                exempt[key] = 0


# ---------------------------------------------------------------------------- Go renderings
def _ptr(typ: str, value: Any) -> str:
    return f"(*flowcontrol.{typ})(nil)" if value is None else f"(*flowcontrol.{typ})(0xc000000000)"


def _go_subject(s: JSON) -> str:
    return (
        f"flowcontrol.Subject{{Kind:{go_quote(_s(s.get('kind')))}, "
        f"User:{_ptr('UserSubject', s.get('user'))}, "
        f"Group:{_ptr('GroupSubject', s.get('group'))}, "
        f"ServiceAccount:{_ptr('ServiceAccountSubject', s.get('serviceAccount'))}}}"
    )


def _go_list(typ: str, items: list[str]) -> str:
    return f"[]flowcontrol.{typ}(nil)" if not items else f"[]flowcontrol.{typ}{{" + ", ".join(items) + "}"


def _go_rule(r: JSON) -> str:
    subjects = _go_list("Subject", [_go_subject(_d(s)) for s in _l(r.get("subjects"))])
    rrules = [
        f"flowcontrol.ResourcePolicyRule{{Verbs:{_go_strings(x.get('verbs'))}, "
        f"APIGroups:{_go_strings(x.get('apiGroups'))}, Resources:{_go_strings(x.get('resources'))}, "
        f"ClusterScope:{'true' if x.get('clusterScope') is True else 'false'}, "
        f"Namespaces:{_go_strings(x.get('namespaces'))}}}"
        for x in map(_d, _l(r.get("resourceRules")))
    ]
    nrules = [
        f"flowcontrol.NonResourcePolicyRule{{Verbs:{_go_strings(x.get('verbs'))}, "
        f"NonResourceURLs:{_go_strings(x.get('nonResourceURLs'))}}}"
        for x in map(_d, _l(r.get("nonResourceRules")))
    ]
    return (
        f"flowcontrol.PolicyRulesWithSubjects{{Subjects:{subjects}, "
        f"ResourceRules:{_go_list('ResourcePolicyRule', rrules)}, "
        f"NonResourceRules:{_go_list('NonResourcePolicyRule', nrules)}}}"
    )


def go_flow_schema_spec(spec: JSON) -> str:
    """%#v of the internal FlowSchemaSpec (pointers print as addresses)."""
    rules = _go_list("PolicyRulesWithSubjects", [_go_rule(_d(r)) for r in _l(spec.get("rules"))])
    plname = go_quote(_s(_d(spec.get("priorityLevelConfiguration")).get("name")))
    return (
        f"flowcontrol.FlowSchemaSpec{{PriorityLevelConfiguration:flowcontrol."
        f"PriorityLevelConfigurationReference{{Name:{plname}}}, "
        f"MatchingPrecedence:{go_int(spec.get('matchingPrecedence'))}, "
        f"DistinguisherMethod:{_ptr('FlowDistinguisherMethod', spec.get('distinguisherMethod'))}, "
        f"Rules:{rules}}}"
    )


def go_priority_level_spec(spec: JSON) -> str:
    """%#v of the internal PriorityLevelConfigurationSpec."""
    return (
        f"flowcontrol.PriorityLevelConfigurationSpec{{Type:{go_quote(_s(spec.get('type')))}, "
        f"Limited:{_ptr('LimitedPriorityLevelConfiguration', spec.get('limited'))}, "
        f"Exempt:{_ptr('ExemptPriorityLevelConfiguration', spec.get('exempt'))}}}"
    )


def _unsupported(path: str, rendered: str, supported: tuple[str, ...]) -> Cause:
    values = ", ".join(go_quote(s) for s in supported)
    return Cause("FieldValueNotSupported", f"Unsupported value: {rendered}: supported values: {values}", path)


# ---------------------------------------------------------------------------- FlowSchema
def _subject(s: JSON, path: str) -> list[Cause]:
    kind = _s(s.get("kind"))
    own = {"ServiceAccount": "serviceAccount", "User": "user", "Group": "group"}.get(kind)
    if own is None:
        return [_unsupported(path + ".kind", go_quote(kind), _SUBJECT_KINDS)]
    causes: list[Cause] = []
    body = s.get(own)
    if not isinstance(body, dict):
        causes.append(_required(f"{path}.{own}", f"{own} is required when subject kind is '{kind}'"))
    elif own != "serviceAccount":
        if not _s(body.get("name")):
            causes.append(_required(f"{path}.{own}.name"))
    else:
        name, ns = _s(body.get("name")), _s(body.get("namespace"))
        if not name:
            causes.append(_required(f"{path}.serviceAccount.name"))
        elif name != "*":
            causes += [
                _invalid(f"{path}.serviceAccount.name", go_quote(name), m) for m in is_dns1123_subdomain(name)
            ]
        if ns:
            causes += [
                _invalid(f"{path}.serviceAccount.namespace", go_quote(ns), m) for m in is_dns1123_label(ns)
            ]
        else:
            causes.append(
                _required(f"{path}.serviceAccount.namespace", "must specify namespace for service account")
            )
    for other, want in (("serviceAccount", "ServiceAccount"), ("user", "User"), ("group", "Group")):
        if other != own and s.get(other) is not None:
            causes.append(
                _forbidden(f"{path}.{other}", f"{other} is forbidden when subject kind is not '{want}'")
            )
    return causes


def _verbs(verbs: list[str], path: str) -> list[Cause]:
    if not verbs:
        return [_required(path, "verbs must contain at least one value")]
    if "*" in verbs:
        if len(verbs) > 1:
            return [_invalid(path, _go_strings(verbs), "if '*' is present, must not specify other verbs")]
        return []
    if not set(verbs) <= set(_VERBS):
        return [_unsupported(path, _go_strings(verbs), _VERBS)]
    return []


def non_resource_url_error(url: str) -> str:
    """ValidateNonResourceURLPath's complaint, or ""."""
    if not url:
        return "must not be empty"
    if url == "/":
        return ""
    if not url.startswith("/"):
        return "must start with slash"
    if " " in url:
        return "must not contain white-space"
    if "//" in url:
        return "must not contain double slash"
    stars = url.count("*")
    if stars > 1 or (stars == 1 and url[-2:] != "/*"):
        return "wildcard can only do suffix matching"
    return ""


def _non_resource_rule(rule: JSON, path: str) -> list[Cause]:
    causes = _verbs([_s(v) for v in _l(rule.get("verbs"))], path + ".verbs")
    urls = [_s(u) for u in _l(rule.get("nonResourceURLs"))]
    upath = path + ".nonResourceURLs"
    if not urls:
        causes.append(_required(upath, "nonResourceURLs must contain at least one value"))
    elif "*" in urls:
        if len(urls) > 1:
            causes.append(
                _invalid(
                    upath, _go_strings(urls), "if '*' is present, must not specify other non-resource URLs"
                )
            )
    else:
        for i, url in enumerate(urls):
            err = non_resource_url_error(url)
            if err:
                causes.append(_invalid(f"{upath}[{i}]", go_quote(url), err))
    return causes


def _resource_rule(rule: JSON, path: str) -> list[Cause]:
    causes = _verbs([_s(v) for v in _l(rule.get("verbs"))], path + ".verbs")
    for key, noun, plural in (
        ("apiGroups", "api group", "api groups"),
        ("resources", "resource", "resources"),
    ):
        values = [_s(v) for v in _l(rule.get(key))]
        if not values:
            causes.append(_required(f"{path}.{key}", f"resource rules must supply at least one {noun}"))
        elif len(values) > 1 and "*" in values:
            causes.append(
                _invalid(
                    f"{path}.{key}",
                    _go_strings(values),
                    f"if '*' is present, must not specify other {plural}",
                )
            )
    namespaces = [_s(v) for v in _l(rule.get("namespaces"))]
    npath = path + ".namespaces"
    if not namespaces and rule.get("clusterScope") is not True:
        causes.append(
            _required(npath, "resource rules that are not cluster scoped must supply at least one namespace")
        )
    elif "*" in namespaces:
        if len(namespaces) > 1:
            causes.append(
                _invalid(
                    npath, _go_strings(namespaces), "if '*' is present, must not specify other namespaces"
                )
            )
    else:
        for i, ns in enumerate(namespaces):
            causes += [_invalid(f"{npath}[{i}]", go_quote(ns), _NS_INTRO + m) for m in is_dns1123_label(ns)]
    return causes


def _policy_rule(rule: JSON, path: str) -> list[Cause]:
    subjects = _l(rule.get("subjects"))
    causes: list[Cause] = []
    if subjects:
        for i, s in enumerate(subjects):
            causes += _subject(_d(s), f"{path}.subjects[{i}]")
    else:
        causes.append(_required(path + ".subjects", "subjects must contain at least one value"))
    rrules, nrules = _l(rule.get("resourceRules")), _l(rule.get("nonResourceRules"))
    if not rrules and not nrules:
        causes.append(
            _required(path, "at least one of resourceRules and nonResourceRules has to be non-empty")
        )
    for i, r in enumerate(rrules):
        causes += _resource_rule(_d(r), f"{path}.resourceRules[{i}]")
    for i, r in enumerate(nrules):
        causes += _non_resource_rule(_d(r), f"{path}.nonResourceRules[{i}]")
    return causes


def _flow_schema_spec(name: str, spec: JSON) -> list[Cause]:
    causes: list[Cause] = []
    prec = go_int(spec.get("matchingPrecedence"))
    if prec <= 0:
        causes.append(_invalid("spec.matchingPrecedence", str(prec), "must be a positive value"))
    if prec > MAX_MATCHING_PRECEDENCE:
        causes.append(
            _invalid(
                "spec.matchingPrecedence", str(prec), f"must not be greater than {MAX_MATCHING_PRECEDENCE}"
            )
        )
    if prec == 1 and name != EXEMPT:
        causes.append(
            _invalid(
                "spec.matchingPrecedence",
                str(prec),
                "only the schema named 'exempt' may have matchingPrecedence 1",
            )
        )
    dm = spec.get("distinguisherMethod")
    if isinstance(dm, dict) and _s(dm.get("type")) not in _DISTINGUISHERS:
        rendered = f"flowcontrol.FlowDistinguisherMethod{{Type:{go_quote(_s(dm.get('type')))}}}"
        causes.append(_unsupported("spec.distinguisherMethod.type", rendered, _DISTINGUISHERS))
    plname = _s(_d(spec.get("priorityLevelConfiguration")).get("name"))
    if plname:
        path = "spec.priorityLevelConfiguration.name"
        causes += [_invalid(path, go_quote(plname), m) for m in is_dns1123_subdomain(plname)]
    else:
        causes.append(_required("spec.priorityLevelConfiguration.name", "must reference a priority level"))
    for i, rule in enumerate(_l(spec.get("rules"))):
        causes += _policy_rule(_d(rule), f"spec.rules[{i}]")
    return causes


def _conditions(status: Any) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, cond in enumerate(_l(_d(status).get("conditions"))):
        ctype = _s(_d(cond).get("type"))
        if ctype in seen:
            causes.append(_duplicate(f"status.conditions[{i}].type", go_quote(ctype)))
        seen.add(ctype)
        if not ctype:
            causes.append(_required(f"status.conditions[{i}].type", "must not be empty"))
    return causes


def validate_flow_schema(obj: JSON) -> list[Cause]:
    """ValidateFlowSchema (after the metadata): the spec, the fixed spec of a mandatory schema, status."""
    name = _s(_d(obj.get("metadata")).get("name"))
    spec = _d(obj.get("spec"))
    causes = _flow_schema_spec(name, spec)
    mand = MANDATORY_FS_BY_NAME.get(name)
    if mand is not None and semantic(spec) != semantic(mand["spec"]):
        causes.append(
            _invalid("spec", go_flow_schema_spec(spec), f"spec of '{name}' must equal the fixed value")
        )
    return causes + _conditions(obj.get("status"))


def validate_flow_schema_update(new: JSON, old: JSON) -> list[Cause]:
    return validate_flow_schema(new)


def validate_status_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateFlowSchemaStatusUpdate / ValidatePriorityLevelConfigurationStatusUpdate."""
    return _conditions(new.get("status"))


# ---------------------------------------------------------------------------- PriorityLevelConfiguration
def _queuing(q: JSON, path: str) -> list[Cause]:
    causes: list[Cause] = []
    length, queues, hand = (
        go_int(q.get("queueLengthLimit")),
        go_int(q.get("queues")),
        go_int(q.get("handSize")),
    )
    if length <= 0:
        causes.append(_invalid(path + ".queueLengthLimit", str(length), "must be positive"))
    if queues <= 0:
        causes.append(_invalid(path + ".queues", str(queues), "must be positive"))
    elif queues > _MAX_QUEUES:
        causes.append(_invalid(path + ".queues", str(queues), f"must not be greater than {_MAX_QUEUES}"))
    if hand <= 0:
        causes.append(_invalid(path + ".handSize", str(hand), "must be positive"))
    elif hand > queues:
        causes.append(
            _invalid(path + ".handSize", str(hand), f"should not be greater than queues ({queues})")
        )
    elif math.ceil(math.log2(queues) * hand) > _MAX_HASH_BITS:
        msg = (
            f"required entropy bits of deckSize {queues} and handSize {hand} should not be greater than "
            f"{_MAX_HASH_BITS}"
        )
        causes.append(_invalid(path + ".handSize", str(hand), msg))
    return causes


def _limit_response(lr: JSON, path: str) -> list[Cause]:
    kind = _s(lr.get("type"))
    queuing = lr.get("queuing")
    if kind == "Reject":
        if queuing is not None:
            return [_forbidden(path + ".queuing", "must be nil if limited.limitResponse.type is not Limited")]
        return []
    if kind == "Queue":
        if not isinstance(queuing, dict):
            return [
                _required(path + ".queuing", "must not be empty if limited.limitResponse.type is Limited")
            ]
        return _queuing(queuing, path + ".queuing")
    return [_unsupported(path + ".type", go_quote(kind), _LIMIT_RESPONSES)]


def _percent(value: Any, path: str, upper: bool) -> list[Cause]:
    if not is_int(value):
        return []
    if upper and not 0 <= value <= 100:
        return [_invalid(path, str(value), "must be between 0 and 100, inclusive")]
    if not upper and value < 0:
        return [_invalid(path, str(value), "if specified, must be a non-negative integer")]
    return []


def _priority_level_spec(name: str, spec: JSON) -> list[Cause]:
    causes: list[Cause] = []
    kind = _s(spec.get("type"))
    if (name == EXEMPT) != (kind == "Exempt"):
        causes.append(
            _invalid("spec.type", go_quote(kind), "type must be 'Exempt' if and only if name is 'exempt'")
        )
    limited, exempt = spec.get("limited"), spec.get("exempt")
    if kind == "Exempt":
        if limited is not None:
            causes.append(_forbidden("spec.limited", "must be nil if the type is not Limited"))
        if isinstance(exempt, dict):
            shares = exempt.get("nominalConcurrencyShares")
            if is_int(shares) and shares < 0:
                causes.append(
                    _invalid(
                        "spec.exempt.nominalConcurrencyShares", str(shares), "must be a non-negative integer"
                    )
                )
            causes += _percent(exempt.get("lendablePercent"), "spec.exempt.lendablePercent", True)
    elif kind == "Limited":
        if exempt is not None:
            causes.append(_forbidden("spec.exempt", "must be nil if the type is Limited"))
        if not isinstance(limited, dict):
            causes.append(_required("spec.limited", "must not be empty when type is Limited"))
        else:
            shares = go_int(limited.get("nominalConcurrencyShares"))
            if shares < 0:
                causes.append(
                    _invalid(
                        "spec.limited.nominalConcurrencyShares", str(shares), "must be a non-negative integer"
                    )
                )
            causes += _limit_response(_d(limited.get("limitResponse")), "spec.limited.limitResponse")
            causes += _percent(limited.get("lendablePercent"), "spec.limited.lendablePercent", True)
            causes += _percent(
                limited.get("borrowingLimitPercent"), "spec.limited.borrowingLimitPercent", False
            )
    else:
        causes.append(_unsupported("spec.type", go_quote(kind), _PL_TYPES))
    return causes


def _mandatory_level(name: str, spec: JSON) -> list[Cause]:
    """ValidateIfMandatoryPriorityLevelConfigurationObject: `exempt` may change only `spec.exempt`."""
    mand = MANDATORY_PL_BY_NAME.get(name)
    if mand is None:
        return []
    want, have = dict(mand["spec"]), dict(spec)
    if name == EXEMPT:
        have["exempt"] = want.get("exempt")
        if semantic(want) != semantic(have):
            msg = f"spec of '{name}' except the 'spec.exempt' field must equal the fixed value"
            return [_invalid("spec", go_priority_level_spec(spec), msg)]
        return []
    if semantic(want) != semantic(have):
        return [
            _invalid("spec", go_priority_level_spec(spec), f"spec of '{name}' must equal the fixed value")
        ]
    return []


def validate_priority_level(obj: JSON) -> list[Cause]:
    """ValidatePriorityLevelConfiguration (after the metadata), for a v1 request."""
    name = _s(_d(obj.get("metadata")).get("name"))
    spec = _d(obj.get("spec"))
    return _priority_level_spec(name, spec) + _mandatory_level(name, spec) + _conditions(obj.get("status"))


def validate_priority_level_update(new: JSON, old: JSON) -> list[Cause]:
    return validate_priority_level(new)


# ---------------------------------------------------------------------------- tables
def flow_schema_cells(obj: JSON) -> list[Any]:
    """printFlowSchema after the name: priority level, precedence, distinguisher, (age), MissingPL."""
    spec = _d(obj.get("spec"))
    method = _d(spec.get("distinguisherMethod"))
    missing = "?"
    for cond in _l(_d(obj.get("status")).get("conditions")):
        if _d(cond).get("type") == "Dangling":
            missing = _s(_d(cond).get("status"))
            break
    return [
        _s(_d(spec.get("priorityLevelConfiguration")).get("name")),
        go_int(spec.get("matchingPrecedence")),
        _s(method.get("type")) if spec.get("distinguisherMethod") is not None else "<none>",
        missing,
    ]


def priority_level_cells(obj: JSON) -> list[Any]:
    """printPriorityLevelConfiguration after the name: type, shares, queues, hand size, queue length."""
    spec = _d(obj.get("spec"))
    cells: list[Any] = [_s(spec.get("type")), "<none>", "<none>", "<none>", "<none>"]
    limited = spec.get("limited")
    if isinstance(limited, dict):
        cells[1] = go_int(limited.get("nominalConcurrencyShares"))
        queuing = _d(limited.get("limitResponse")).get("queuing")
        if isinstance(queuing, dict):
            cells[2:5] = [go_int(queuing.get(k)) for k in ("queues", "handSize", "queueLengthLimit")]
    return cells


def _column(name: str, desc: str) -> JSON:
    return {"name": name, "type": "string", "format": "", "description": desc, "priority": 0}


# The columns between Name and Age (FlowSchema: MissingPL follows Age), with upstream's SwaggerDoc texts.
FLOW_SCHEMA_COLUMNS: list[JSON] = [
    _column(
        "PriorityLevel", "`name` is the name of the priority level configuration being referenced Required."
    ),
    _column(
        "MatchingPrecedence",
        "`matchingPrecedence` is used to choose among the FlowSchemas that match a given request. The chosen "
        "FlowSchema is among those with the numerically lowest (which we take to be logically highest) "
        "MatchingPrecedence.  Each MatchingPrecedence value must be ranged in [1,10000]. Note that if the "
        "precedence is not specified, it will be set to 1000 as default.",
    ),
    _column(
        "DistinguisherMethod",
        "`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this "
        "schema. `nil` specifies that the distinguisher is disabled and thus will always be the empty "
        "string.",
    ),
]
FLOW_SCHEMA_MISSING_PL = _column(
    "MissingPL", "references a broken or non-existent PriorityLevelConfiguration"
)
PRIORITY_LEVEL_COLUMNS: list[JSON] = [
    _column(
        "Type",
        "`type` indicates whether this priority level is subject to limitation on request execution.  A "
        'value of `"Exempt"` means that requests of this priority level are not subject to a limit (and '
        "thus are never queued) and do not detract from the capacity made available to other priority "
        'levels.  A value of `"Limited"` means that (a) requests of this priority level _are_ subject to '
        "limits and (b) some of the server's limited capacity is made available exclusively to this "
        "priority level. Required.",
    ),
    _column(
        "NominalConcurrencyShares",
        "`nominalConcurrencyShares` (NCS) contributes to the computation of the NominalConcurrencyLimit "
        "(NominalCL) of this level. This is the number of execution seats available at this priority "
        "level. This is used both for requests dispatched from this priority level as well as requests "
        "dispatched from other priority levels borrowing seats from this level. The server's concurrency "
        "limit (ServerCL) is divided among the Limited priority levels in proportion to their NCS values:"
        "\n\nNominalCL(i)  = ceil( ServerCL * NCS(i) / sum_ncs ) sum_ncs = sum[priority level k] NCS(k)"
        "\n\nBigger numbers mean a larger nominal concurrency limit, at the expense of every other "
        "priority level.\n\nIf not specified, this field defaults to a value of 30.\n\nSetting this field "
        'to zero supports the construction of a "jail" for this priority level that is used to hold some '
        "request(s)",
    ),
    _column(
        "Queues",
        "`queues` is the number of queues for this priority level. The queues exist independently at each "
        "apiserver. The value must be positive.  Setting it to 1 effectively precludes shufflesharding and "
        "thus makes the distinguisher method of associated flow schemas irrelevant.  This field has a "
        "default value of 64.",
    ),
    _column(
        "HandSize",
        "`handSize` is a small positive number that configures the shuffle sharding of requests into "
        "queues.  When enqueuing a request at this priority level the request's flow identifier (a string "
        "pair) is hashed and the hash value is used to shuffle the list of queues and deal a hand of the "
        "size specified here.  The request is put into one of the shortest queues in that hand. `handSize` "
        "must be no larger than `queues`, and should be significantly smaller (so that a few heavy flows do "
        "not saturate most of the queues).  See the user-facing documentation for more extensive guidance "
        "on setting this field.  This field has a default value of 8.",
    ),
    _column(
        "QueueLengthLimit",
        "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of "
        "this priority level at a time; excess requests are rejected.  This value must be positive.  If not "
        "specified, it will be defaulted to 50.",
    ),
]


def precedence_order(objs: list[Any]) -> list[Any]:
    """FlowSchemaSequence's order: matching precedence, then name."""

    def key(o: Any) -> tuple[int, str]:
        o = o if isinstance(o, dict) else {}
        return go_int(_d(o.get("spec")).get("matchingPrecedence")), _s(_d(o.get("metadata")).get("name"))

    return sorted(objs, key=key)
