"""Create and update validation of batch/v1 Job and CronJob, as kube-apiserver 1.32's
`pkg/apis/batch/validation` (ValidateJob, ValidateJobUpdate, ValidateCronJobCreate/Update) with the
gates that are on in 1.32: JobBackoffLimitPerIndex, JobSuccessPolicy, JobPodReplacementPolicy,
JobManagedBy, ElasticIndexedJob. The causes come in upstream's order (an update repeats the spec
causes, as upstream does; the 422 message lists each text once).
"""

from __future__ import annotations

import itertools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vcluster.apiserver.admission import (
    _as_selector,
    _copy,
    _cron_error,
    _go_map,
    _go_pod_template,
    _go_selector,
    _immutable,
    _nonnegative,
    _template_labels,
    _template_spec,
    _validate_pod_template,
)
from vcluster.apiserver.validate_common import (
    JSON,
    NULL,
    Cause,
    _d,
    _duplicate,
    _invalid,
    _invalid_v,
    _l,
    _not_supported,
    _required,
    _s,
    _validate_label_selector,
    go_int,
    go_quote,
    go_repr,
    is_int,
    too_many,
)
from vcluster.apiserver.validate_networking import _domain_prefixed_path
from vcluster.apiserver.validation import is_dns1123_label, validate_qualified_name

MAX_PARALLELISM_INDEXED = 100_000
MAX_FAILED_INDEXES = 100_000
COMPLETIONS_SOFT_LIMIT = 100_000
PARALLELISM_LIMIT_HIGH_COMPLETIONS = 10_000
MAX_FAILED_INDEXES_HIGH_COMPLETIONS = 10_000
MAX_POD_FAILURE_POLICY_RULES = 20
MAX_ON_EXIT_CODES_VALUES = 255
MAX_ON_POD_CONDITIONS_PATTERNS = 20
MAX_MANAGED_BY_LENGTH = 63
MAX_SUCCEEDED_INDEXES_LENGTH = 64 * 1024
MAX_SUCCESS_POLICY_RULES = 20
CRONJOB_NAME_MAX = 52

POD_FAILURE_POLICY_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
ON_EXIT_CODES_OPERATORS = ("In", "NotIn")
CONDITION_STATUSES = ("False", "True", "Unknown")
LEGACY_LABELS = ("controller-uid", "job-name")
PREFIXED_LABELS = ("batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name")

_TZ_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


def _quoted_list(values: tuple[str, ...]) -> str:
    """`%q` of a []string: ["a" "b"]."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


def _too_long(path: str, maximum: int) -> Cause:
    """field.TooLong (the value is not printed)."""
    return Cause("FieldValueTooLong", f"Too long: may not be more than {maximum} bytes", path)


def _omit_value(path: str, detail: str) -> Cause:
    """field.Invalid with field.OmitValueType{}."""
    return Cause("FieldValueInvalid", f"Invalid value: {detail}", path)


def _go_int32s(values: Any) -> str:
    """%#v of a []int32."""
    if not isinstance(values, list):
        return "[]int32(nil)"
    return "[]int32{" + ", ".join(str(v) for v in values) + "}"


def _go_ptr(value: Any, type_name: str) -> str:
    """%#v of a non-nil pointer field inside a struct: Go prints the address."""
    return f"(*{type_name})(0xc000010000)" if value is not None else f"(*{type_name})(nil)"


def _go_success_policy(policy: Any) -> str:
    """%#v of a batch.SuccessPolicy."""
    rules = [
        "batch.SuccessPolicyRule{SucceededIndexes:"
        + _go_ptr(_d(r).get("succeededIndexes"), "string")
        + ", SucceededCount:"
        + _go_ptr(_d(r).get("succeededCount"), "int32")
        + "}"
        for r in _l(_d(policy).get("rules"))
    ]
    inner = (
        "[]batch.SuccessPolicyRule{" + ", ".join(rules) + "}" if rules else "[]batch.SuccessPolicyRule(nil)"
    )
    return "batch.SuccessPolicy{Rules:" + inner + "}"


def _go_struct(type_name: str, value: Any) -> str:
    """A readable stand-in for %#v of a nested struct (its head and the JSON body), null for nil."""
    if value is None:
        return NULL
    return type_name + go_repr(value)


# ---------------------------------------------------------------------------- indexes


def _parse_index_interval(text: str, completions: int) -> tuple[int, int] | str:
    """parseIndexInterval: (first, last) or the error text."""
    limits = text.split("-")
    if len(limits) > 2:
        return (
            f"the fragment {go_quote(text)} violates the requirement that an index interval can have "
            "at most two parts separated by '-'"
        )
    bounds: list[int] = []
    for part in limits:
        if not re.fullmatch(r"[+-]?[0-9]+", part):
            return f"cannot convert string to integer for index: {go_quote(part)}"
        if int(part) >= completions:
            return f"too large index: {go_quote(part)}"
        bounds.append(int(part))
    if len(bounds) == 2 and bounds[0] >= bounds[1]:
        return f"non-increasing order, previous: {bounds[0]}, current: {bounds[1]}"
    return bounds[0], bounds[-1]


def validate_indexes_format(text: str, completions: int) -> tuple[int, str | None]:
    """validateIndexesFormat: (the number of indexes, the error text)."""
    if not text:
        return 0, None
    last: int | None = None
    total = 0
    for part in text.split(","):
        parsed = _parse_index_interval(part, completions)
        if isinstance(parsed, str):
            return 0, parsed
        first, end = parsed
        if last is not None and last >= first:
            return 0, f"non-increasing order, previous: {last}, current: {first}"
        total += end - first + 1
        last = end
    return total, None


# ---------------------------------------------------------------------------- job spec


def _validate_counters(spec: JSON, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ):
        causes += _nonnegative(f"{path}.{key}", spec.get(key))
    if spec.get("maxFailedIndexes") is not None:
        causes += _nonnegative(f"{path}.maxFailedIndexes", spec.get("maxFailedIndexes"))
        if spec.get("backoffLimitPerIndex") is None:
            causes.append(_required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    managed_by = spec.get("managedBy")
    if isinstance(managed_by, str):
        causes += _domain_prefixed_path(managed_by, f"{path}.managedBy")
        if len(managed_by) > MAX_MANAGED_BY_LENGTH:
            causes.append(_too_long(f"{path}.managedBy", MAX_MANAGED_BY_LENGTH))
    return causes


def _validate_indexed_limits(spec: JSON, path: str) -> list[Cause]:
    """The Indexed completion mode's limits on completions, parallelism and maxFailedIndexes."""
    causes: list[Cause] = []
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    max_failed = spec.get("maxFailedIndexes")
    if completions is None:
        causes.append(_required(f"{path}.completions", "when completion mode is Indexed"))
    if is_int(parallelism) and parallelism > MAX_PARALLELISM_INDEXED:
        causes.append(
            _invalid(
                f"{path}.parallelism",
                str(parallelism),
                f"must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed",
            )
        )
    if is_int(completions) and is_int(max_failed) and max_failed > completions:
        causes.append(
            _invalid(f"{path}.maxFailedIndexes", str(max_failed), "must be less than or equal to completions")
        )
    if is_int(max_failed) and max_failed > MAX_FAILED_INDEXES:
        causes.append(
            _invalid(
                f"{path}.maxFailedIndexes",
                str(max_failed),
                f"must be less than or equal to {MAX_FAILED_INDEXES}",
            )
        )
    if (
        is_int(completions)
        and completions > COMPLETIONS_SOFT_LIMIT
        and spec.get("backoffLimitPerIndex") is not None
    ):
        high = f"when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
        if max_failed is None:
            causes.append(
                _required(
                    f"{path}.maxFailedIndexes",
                    f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}",
                )
            )
        if is_int(parallelism) and parallelism > PARALLELISM_LIMIT_HIGH_COMPLETIONS:
            causes.append(
                _invalid(
                    f"{path}.parallelism",
                    str(parallelism),
                    f"must be less than or equal to {PARALLELISM_LIMIT_HIGH_COMPLETIONS} {high}",
                )
            )
        if is_int(max_failed) and max_failed > MAX_FAILED_INDEXES_HIGH_COMPLETIONS:
            causes.append(
                _invalid(
                    f"{path}.maxFailedIndexes",
                    str(max_failed),
                    f"must be less than or equal to {MAX_FAILED_INDEXES_HIGH_COMPLETIONS} {high}",
                )
            )
    return causes


def _validate_completion_mode(spec: JSON, path: str) -> list[Cause]:
    mode = spec.get("completionMode")
    causes: list[Cause] = []
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            causes.append(_not_supported(f"{path}.completionMode", _s(mode), ("NonIndexed", "Indexed")))
        if mode == "Indexed":
            causes += _validate_indexed_limits(spec, path)
    if mode is None or mode == "NonIndexed":
        for key in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(key) is not None:
                causes.append(_invalid_v(f"{path}.{key}", spec.get(key), "requires indexed completion mode"))
    return causes


def _validate_on_exit_codes(req: JSON, path: str, containers: set[str]) -> list[Cause]:
    """validatePodFailurePolicyRuleOnExitCodes."""
    causes: list[Cause] = []
    op = _s(req.get("operator"))
    if not op:
        causes.append(_required(f"{path}.operator", f"valid values: {_quoted_list(ON_EXIT_CODES_OPERATORS)}"))
    elif op not in ON_EXIT_CODES_OPERATORS:
        causes.append(_not_supported(f"{path}.operator", op, ON_EXIT_CODES_OPERATORS))
    name = req.get("containerName")
    if isinstance(name, str) and name not in containers:
        causes.append(
            _invalid(
                f"{path}.containerName",
                go_quote(name),
                "must be one of the container or initContainer names in the pod template",
            )
        )
    values = [v for v in _l(req.get("values")) if is_int(v)]
    vpath = f"{path}.values"
    if not values:
        causes.append(_invalid(vpath, _go_int32s(req.get("values")), "at least one value is required"))
    elif len(values) > MAX_ON_EXIT_CODES_VALUES:
        causes.append(too_many(vpath, len(values), MAX_ON_EXIT_CODES_VALUES))
    seen: set[int] = set()
    for j, value in enumerate(values):
        if op == "In" and value == 0:
            causes.append(_invalid(f"{vpath}[{j}]", "0", "must not be 0 for the In operator"))
        if value in seen:
            causes.append(_duplicate(f"{vpath}[{j}]", str(value)))
        seen.add(value)
    if any(a > b for a, b in itertools.pairwise(values)):
        causes.append(_invalid(vpath, _go_int32s(values), "must be ordered"))
    return causes


def _validate_on_pod_conditions(patterns: list[Any], path: str) -> list[Cause]:
    """validatePodFailurePolicyRuleOnPodConditions."""
    causes: list[Cause] = []
    if len(patterns) > MAX_ON_POD_CONDITIONS_PATTERNS:
        causes.append(too_many(path, len(patterns), MAX_ON_POD_CONDITIONS_PATTERNS))
    for j, pattern in enumerate(patterns):
        pattern = _d(pattern)
        ctype = _s(pattern.get("type"))
        causes += [_invalid(f"{path}[{j}].type", go_quote(ctype), m) for m in validate_qualified_name(ctype)]
        status = _s(pattern.get("status"))
        if not status:
            causes.append(
                _required(f"{path}[{j}].status", f"valid values: {_quoted_list(CONDITION_STATUSES)}")
            )
        elif status not in CONDITION_STATUSES:
            causes.append(_not_supported(f"{path}[{j}].status", status, CONDITION_STATUSES))
    return causes


def _validate_pod_failure_policy(spec: JSON, path: str) -> list[Cause]:
    """validatePodFailurePolicy."""
    rules = _l(_d(spec.get("podFailurePolicy")).get("rules"))
    rules_path = f"{path}.rules"
    causes: list[Cause] = []
    if len(rules) > MAX_POD_FAILURE_POLICY_RULES:
        causes.append(too_many(rules_path, len(rules), MAX_POD_FAILURE_POLICY_RULES))
    tspec = _template_spec(spec.get("template"))
    containers = {
        _s(_d(c).get("name")) for c in [*_l(tspec.get("containers")), *_l(tspec.get("initContainers"))]
    }
    for i, rule in enumerate(rules):
        rule = _d(rule)
        rpath = f"{rules_path}[{i}]"
        action = _s(rule.get("action"))
        if not action:
            causes.append(
                _required(f"{rpath}.action", f"valid values: {_quoted_list(POD_FAILURE_POLICY_ACTIONS)}")
            )
        elif action == "FailIndex":
            if spec.get("backoffLimitPerIndex") is None:
                causes.append(
                    _invalid(
                        f"{rpath}.action", go_quote(action), "requires the backoffLimitPerIndex to be set"
                    )
                )
        elif action not in POD_FAILURE_POLICY_ACTIONS:
            causes.append(_not_supported(f"{rpath}.action", action, POD_FAILURE_POLICY_ACTIONS))
        on_exit, on_conds = rule.get("onExitCodes"), _l(rule.get("onPodConditions"))
        if on_exit is not None:
            causes += _validate_on_exit_codes(_d(on_exit), f"{rpath}.onExitCodes", containers)
        if on_conds:
            causes += _validate_on_pod_conditions(on_conds, f"{rpath}.onPodConditions")
        if on_exit is not None and on_conds:
            causes.append(
                _omit_value(rpath, "specifying both OnExitCodes and OnPodConditions is not supported")
            )
        if on_exit is None and not on_conds:
            causes.append(_omit_value(rpath, "specifying one of OnExitCodes and OnPodConditions is required"))
    return causes


def _validate_success_policy_rule(rule: JSON, path: str, completions: int) -> list[Cause]:
    """validateSuccessPolicyRule."""
    causes: list[Cause] = []
    indexes, count = rule.get("succeededIndexes"), rule.get("succeededCount")
    if count is None and indexes is None:
        causes.append(_required(path, "at least one of succeededCount or succeededIndexes must be specified"))
    total = 0
    if isinstance(indexes, str):
        ipath = f"{path}.succeededIndexes"
        if len(indexes) > MAX_SUCCEEDED_INDEXES_LENGTH:
            causes.append(_too_long(ipath, MAX_SUCCEEDED_INDEXES_LENGTH))
        total, err = validate_indexes_format(indexes, completions)
        if err is not None:
            causes.append(_invalid(ipath, go_quote(indexes), f"error parsing succeededIndexes: {err}"))
    if is_int(count):
        cpath = f"{path}.succeededCount"
        causes += _nonnegative(cpath, count)
        if count > completions:
            causes.append(
                _invalid(
                    cpath,
                    str(count),
                    f"must be less than or equal to {completions} (the number of specified completions)",
                )
            )
        if indexes is not None and count > total:
            causes.append(
                _invalid(
                    cpath,
                    str(count),
                    f"must be less than or equal to {total} (the number of indexes in the specified "
                    "succeededIndexes field)",
                )
            )
    return causes


def _validate_success_policy(spec: JSON, path: str) -> list[Cause]:
    """validateSuccessPolicy (after the Indexed check)."""
    policy = spec.get("successPolicy")
    if spec.get("completionMode") != "Indexed":
        return [_invalid(path, _go_success_policy(policy), "requires indexed completion mode")]
    rules = _l(_d(policy).get("rules"))
    causes: list[Cause] = []
    if not rules:
        causes.append(
            _required(
                f"{path}.rules", "at least one rules must be specified when the successPolicy is specified"
            )
        )
    if len(rules) > MAX_SUCCESS_POLICY_RULES:
        causes.append(too_many(f"{path}.rules", len(rules), MAX_SUCCESS_POLICY_RULES))
    completions = spec.get("completions") if is_int(spec.get("completions")) else 0
    for i, rule in enumerate(rules):
        causes += _validate_success_policy_rule(_d(rule), f"{path}.rules[{i}]", completions)
    return causes


def _validate_pod_replacement_policy(spec: JSON, path: str) -> list[Cause]:
    prp = spec.get("podReplacementPolicy")
    if prp is None:
        return []
    allowed = ("Failed",) if spec.get("podFailurePolicy") is not None else ("Failed", "TerminatingOrFailed")
    return [] if prp in allowed else [_not_supported(path, _s(prp), allowed)]


def _validate_restart_policy(spec: JSON, path: str) -> list[Cause]:
    rp = _s(_template_spec(spec.get("template")).get("restartPolicy"))
    rp_path = f"{path}.template.spec.restartPolicy"
    if rp in ("Always", ""):
        return [_required(rp_path, 'valid values: "OnFailure", "Never"')]
    if rp not in ("OnFailure", "Never"):
        return [_not_supported(rp_path, rp, ("OnFailure", "Never"))]
    if spec.get("podFailurePolicy") is not None and rp != "Never":
        return [
            _invalid(rp_path, go_quote(rp), 'only "Never" is supported when podFailurePolicy is specified')
        ]
    return []


def validate_job_spec_common(spec: JSON, path: str) -> list[Cause]:
    """validateJobSpec: the part shared by Jobs and the job templates of CronJobs."""
    causes = _validate_counters(spec, path) + _validate_completion_mode(spec, path)
    if spec.get("podFailurePolicy") is not None:
        causes += _validate_pod_failure_policy(spec, f"{path}.podFailurePolicy")
    if spec.get("successPolicy") is not None:
        causes += _validate_success_policy(spec, f"{path}.successPolicy")
    causes += _validate_pod_replacement_policy(spec, f"{path}.podReplacementPolicy")
    causes += _validate_pod_template(_d(spec.get("template")), f"{path}.template")
    return causes + _validate_restart_policy(spec, path)


def validate_job_spec(spec: JSON) -> list[Cause]:
    """ValidateJobSpec: the common rules, the selector, and the selector matching the template."""
    causes = validate_job_spec_common(spec, "spec")
    selector = spec.get("selector")
    if selector is None:
        causes.append(_required("spec.selector"))
    else:
        causes += _validate_label_selector(selector, "spec.selector")
    sel = _as_selector(selector)
    labels = _template_labels(spec.get("template"))
    if sel is not None and not sel.matches(_d(labels)):
        causes.append(
            _invalid(
                "spec.template.metadata.labels",
                _go_map(labels),
                "`selector` does not match template `labels`",
            )
        )
    return causes


def _has_label(labels: Any, key: str, want: str) -> list[Cause]:
    """ValidateHasLabel on the pod template's metadata."""
    path = f"spec.template.metadata.labels[{key}]"
    if key not in _d(labels):
        return [_required(path, f"must be '{want}'")]
    if _d(labels).get(key) != want:
        return [_invalid(path, _go_map(labels), f"must be '{want}'")]
    return []


def _validate_generated_selector(obj: JSON, require_prefixed: bool) -> list[Cause]:
    """validateGeneratedSelector: without manualSelector the template carries the generated labels."""
    spec = _d(obj.get("spec"))
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    md = _d(obj.get("metadata"))
    uid, name = _s(md.get("uid")), _s(md.get("name"))
    causes = [] if uid else [_required("metadata.uid")]
    labels = _template_labels(spec.get("template"))
    keys = LEGACY_LABELS + (PREFIXED_LABELS if require_prefixed else ())
    expected = {k: (uid if k.endswith("controller-uid") else name) for k in keys}
    for key in keys:
        causes += _has_label(labels, key, expected[key])
    sel = _as_selector(spec.get("selector"))
    if sel is not None and not sel.matches(expected):
        causes.append(
            _invalid("spec.selector", _go_selector(spec.get("selector")), "`selector` not auto-generated")
        )
    return causes


def _validate_indexed_hostname(obj: JSON) -> list[Cause]:
    spec = _d(obj.get("spec"))
    completions = spec.get("completions")
    if spec.get("completionMode") != "Indexed" or not is_int(completions) or completions <= 0:
        return []
    name = _s(_d(obj.get("metadata")).get("name"))
    hostname = f"{name}-{completions - 1}"
    if not is_dns1123_label(hostname):
        return []
    return [
        _invalid(
            "metadata.name", go_quote(name), f"will not able to create pod with invalid DNS label: {hostname}"
        )
    ]


def _validate_job(obj: JSON, require_prefixed: bool) -> list[Cause]:
    causes = _validate_generated_selector(obj, require_prefixed)
    causes += validate_job_spec(_d(obj.get("spec")))
    return causes + _validate_indexed_hostname(obj)


def validate_job(obj: JSON) -> list[Cause]:
    """ValidateJob (create)."""
    return _validate_job(obj, require_prefixed=True)


# ---------------------------------------------------------------------------- job update


def _validate_completions_update(nspec: JSON, ospec: JSON) -> list[Cause]:
    """validateCompletions (ElasticIndexedJob): immutable, except that an Indexed job may change it
    together with parallelism (to the same value)."""
    new, old = nspec.get("completions"), ospec.get("completions")
    if nspec.get("completionMode") != "Indexed":
        return _immutable("spec.completions", new, old, go_repr(new))
    if new == old or new is None:
        return []
    if new != nspec.get("parallelism"):
        return [_invalid_v("spec.completions", new, "can only be modified in tandem with spec.parallelism")]
    return []


def _mutable_scheduling_baseline(ntmpl: JSON, otmpl: JSON) -> JSON:
    """validatePodTemplateUpdate with AllowMutableSchedulingDirectives: the old template with the
    new node affinity, node selector, tolerations, scheduling gates, labels and annotations."""
    base = _copy(otmpl) if isinstance(otmpl, dict) else {}
    bspec = base.setdefault("spec", {})
    nspec_t = _d(ntmpl.get("spec"))
    naff, oaff = nspec_t.get("affinity"), bspec.get("affinity")
    if naff is None and isinstance(oaff, dict):
        rest = {k: v for k, v in oaff.items() if k != "nodeAffinity" and v is not None}
        bspec["affinity"] = rest or None
    elif isinstance(naff, dict):
        merged = {k: v for k, v in _d(oaff).items() if k != "nodeAffinity"}
        if naff.get("nodeAffinity") is not None:
            merged["nodeAffinity"] = naff["nodeAffinity"]
        bspec["affinity"] = merged
    for key in ("nodeSelector", "tolerations", "schedulingGates"):
        bspec[key] = nspec_t.get(key)
    bmd = base.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        bmd[key] = _d(ntmpl.get("metadata")).get(key)
    return base


def _validate_template_update(new: JSON, old: JSON) -> list[Cause]:
    nspec, ospec = _d(new.get("spec")), _d(old.get("spec"))
    ntmpl, otmpl = nspec.get("template"), ospec.get("template")
    suspended = ospec.get("suspend") is True and _d(old.get("status")).get("startTime") is None
    if suspended:
        otmpl = _mutable_scheduling_baseline(_d(ntmpl), _d(otmpl))
    return _immutable("spec.template", ntmpl, otmpl, _go_pod_template(ntmpl))


def validate_job_spec_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateJobSpecUpdate: the spec again, then the immutable fields."""
    nspec, ospec = _d(new.get("spec")), _d(old.get("spec"))
    causes = validate_job_spec(nspec) + _validate_completions_update(nspec, ospec)
    nsel = nspec.get("selector")
    causes += _immutable(
        "spec.selector", nsel, ospec.get("selector"), _go_selector(nsel) if nsel is not None else NULL
    )
    causes += _validate_template_update(new, old)
    renders = {
        "completionMode": lambda v: go_repr(v),
        "podFailurePolicy": lambda v: _go_struct("batch.PodFailurePolicy", v),
        "backoffLimitPerIndex": lambda v: go_repr(v),
        "managedBy": lambda v: go_repr(v),
        "successPolicy": lambda v: NULL if v is None else _go_success_policy(v),
    }
    for key, render in renders.items():
        causes += _immutable(f"spec.{key}", nspec.get(key), ospec.get(key), render(nspec.get(key)))
    return causes


def validate_job_update(new: JSON, old: JSON) -> list[Cause]:
    """The Job strategy's ValidateUpdate: ValidateJob then ValidateJobUpdate (whose spec causes
    repeat ValidateJob's; the message lists them once)."""
    olabels = _d(_template_labels(_d(old.get("spec")).get("template")))
    require_prefixed = all(k in olabels for k in PREFIXED_LABELS)
    return _validate_job(new, require_prefixed) + validate_job_spec_update(new, old)


# ---------------------------------------------------------------------------- job status


@dataclass(frozen=True)
class JobStatusOptions:
    """JobStatusValidationOptions: which of the optional status rules apply to one update."""

    reject_decreasing_succeeded: bool = False
    reject_decreasing_failed: bool = False
    reject_disabling_terminal_condition: bool = False
    reject_invalid_completed_indexes: bool = False
    reject_invalid_failed_indexes: bool = False
    reject_failed_indexes_overlapping_completed: bool = False
    reject_completed_indexes_for_non_indexed: bool = False
    reject_failed_indexes_without_backoff_limit_per_index: bool = False
    reject_finished_with_active_pods: bool = False
    reject_finished_without_start_time: bool = False
    reject_finished_with_uncounted_terminated_pods: bool = False
    reject_start_time_update_for_unsuspended: bool = False
    reject_completion_time_before_start_time: bool = False
    reject_mutating_completion_time: bool = False
    reject_complete_without_completion_time: bool = False
    reject_not_complete_with_completion_time: bool = False
    reject_complete_with_failed_condition: bool = False
    reject_complete_with_failure_target_condition: bool = False
    allow_success_criteria_met_in_extended_scope: bool = False


def _condition_is(job: JSON, ctype: str, status: str) -> bool:
    """isConditionWithStatus on the Job's status conditions."""
    return any(
        _d(c).get("type") == ctype and _d(c).get("status") == status
        for c in _l(_d(job.get("status")).get("conditions"))
    )


def condition_true(job: JSON, ctype: str) -> bool:
    """IsConditionTrue on the Job's status conditions."""
    return _condition_is(job, ctype, "True")


def _finished(job: JSON) -> bool:
    return condition_true(job, "Complete") or condition_true(job, "Failed")


def _time(v: Any) -> datetime | None:
    """A metav1.Time (RFC 3339) as an aware datetime, None when unset or unreadable."""
    if not isinstance(v, str) or not v:
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None


def _go_time(v: Any) -> str:
    """time.Time.String() of a metav1.Time (what field.Error prints for it), in UTC."""
    t = _time(v)
    if t is None:
        return NULL
    t = t.astimezone(UTC)
    frac = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    return t.strftime("%Y-%m-%d %H:%M:%S") + frac + " +0000 UTC"


def _same_time(a: Any, b: Any) -> bool:
    """ptr.Equal of two *metav1.Time: both nil, or the same instant."""
    ta, tb = _time(a), _time(b)
    return (ta is None and tb is None) or (ta is not None and tb is not None and ta == tb)


def _uncounted(status: JSON) -> tuple[list[Any], list[Any]] | None:
    """status.uncountedTerminatedPods as Semantic.DeepEqual sees it (nil and empty lists alike)."""
    u = status.get("uncountedTerminatedPods")
    if not isinstance(u, dict):
        return None
    return _l(u.get("succeeded")), _l(u.get("failed"))


def _go_uids(v: Any) -> str:
    """%#v of a []types.UID."""
    if not isinstance(v, list):
        return "[]types.UID(nil)"
    return "[]types.UID{" + ", ".join(go_quote(_s(x)) for x in v) + "}"


def _go_uncounted(u: JSON) -> str:
    """%#v of a batch.UncountedTerminatedPods."""
    return (
        f"batch.UncountedTerminatedPods{{Succeeded:{_go_uids(u.get('succeeded'))}, "
        f"Failed:{_go_uids(u.get('failed'))}}}"
    )


def job_status_options(new: JSON, old: JSON) -> JobStatusOptions:
    """getStatusValidationOptions of the job status strategy of 1.32's latest patch release with
    JobManagedBy on (beta, the default): a rule runs when the fields it guards changed, so an
    unrelated write still passes. With the 1.32 cherry-picks: a suspended Job with completions=0
    may finish without a startTime (#132727, 1.32.7), and the controller's resume write, which
    flips the Suspended condition from True to False, may move startTime (#135128, 1.32.10)."""
    nspec, nst, ost = _d(new.get("spec")), _d(new.get("status")), _d(old.get("status"))
    indexed = nspec.get("completionMode") == "Indexed"
    suspended_zero = nspec.get("suspend") is True and nspec.get("completions") == 0
    resuming = _condition_is(old, "Suspended", "True") and _condition_is(new, "Suspended", "False")

    def changed_cond(ctype: str) -> bool:
        return condition_true(old, ctype) != condition_true(new, ctype)

    finished = _finished(old) != _finished(new)
    complete, failed = changed_cond("Complete"), changed_cond("Failed")
    completed_idx = _s(ost.get("completedIndexes")) != _s(nst.get("completedIndexes"))
    failed_idx = ost.get("failedIndexes") != nst.get("failedIndexes")
    start = not _same_time(ost.get("startTime"), nst.get("startTime"))
    completion = not _same_time(ost.get("completionTime"), nst.get("completionTime"))
    return JobStatusOptions(
        reject_decreasing_succeeded=not indexed or nspec.get("completions") != nspec.get("parallelism"),
        reject_decreasing_failed=True,
        reject_disabling_terminal_condition=True,
        reject_invalid_completed_indexes=completed_idx,
        reject_invalid_failed_indexes=failed_idx,
        reject_completed_indexes_for_non_indexed=completed_idx,
        reject_failed_indexes_without_backoff_limit_per_index=failed_idx,
        reject_failed_indexes_overlapping_completed=failed_idx or completed_idx,
        reject_finished_with_active_pods=finished or go_int(ost.get("active")) != go_int(nst.get("active")),
        reject_finished_without_start_time=(finished or start) and not suspended_zero,
        reject_finished_with_uncounted_terminated_pods=finished or _uncounted(ost) != _uncounted(nst),
        reject_start_time_update_for_unsuspended=start and not resuming,
        reject_completion_time_before_start_time=start or completion,
        reject_mutating_completion_time=True,
        reject_not_complete_with_completion_time=complete or completion,
        reject_complete_without_completion_time=complete or completion,
        reject_complete_with_failed_condition=complete or failed,
        reject_complete_with_failure_target_condition=complete or changed_cond("FailureTarget"),
        allow_success_criteria_met_in_extended_scope=True,
    )


def _status_counters(status: JSON) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("active", "succeeded", "failed", "ready", "terminating"):
        causes += _nonnegative(f"status.{key}", status.get(key))
    return causes


def _status_uncounted_uids(status: JSON) -> list[Cause]:
    """Every uncounted pod UID non-empty and listed once (across succeeded and failed)."""
    u = status.get("uncountedTerminatedPods")
    if not isinstance(u, dict):
        return []
    causes: list[Cause] = []
    seen: set[str] = set()
    for key in ("succeeded", "failed"):
        for i, uid in enumerate(_l(u.get(key))):
            path, uid = f"status.uncountedTerminatedPods.{key}[{i}]", _s(uid)
            if not uid:
                causes.append(_invalid(path, '""', "must not be empty"))
            elif uid in seen:
                causes.append(_duplicate(path, go_quote(uid)))
            else:
                seen.add(uid)
    return causes


def _status_terminal_conditions(job: JSON, opts: JobStatusOptions) -> list[Cause]:
    """The rules on Complete / Failed / FailureTarget and completionTime of validateJobStatus."""
    status, complete = _d(job.get("status")), condition_true(job, "Complete")
    causes: list[Cause] = []
    if opts.reject_complete_with_failed_condition and complete and condition_true(job, "Failed"):
        causes.append(_omit_value("status.conditions", "cannot set Complete=True and Failed=true conditions"))
    if (
        opts.reject_complete_with_failure_target_condition
        and complete
        and condition_true(job, "FailureTarget")
    ):
        causes.append(
            _omit_value("status.conditions", "cannot set Complete=True and FailureTarget=true conditions")
        )
    completion = status.get("completionTime")
    if opts.reject_not_complete_with_completion_time and completion is not None and not complete:
        causes.append(
            _invalid(
                "status.completionTime",
                _go_time(completion),
                "cannot set completionTime when there is no Complete=True condition",
            )
        )
    if opts.reject_complete_without_completion_time and completion is None and complete:
        causes.append(_required("status.completionTime", "completionTime is required for Complete jobs"))
    start_t, completion_t = _time(status.get("startTime")), _time(completion)
    if opts.reject_completion_time_before_start_time and start_t and completion_t and completion_t < start_t:
        causes.append(
            _invalid(
                "status.completionTime", _go_time(completion), "completionTime cannot be set before startTime"
            )
        )
    return causes


def _status_finished_job(job: JSON, opts: JobStatusOptions) -> list[Cause]:
    """The rules of validateJobStatus on a finished Job's active pods, startTime and uncounted pods."""
    status = _d(job.get("status"))
    if not _finished(job):
        return []
    causes: list[Cause] = []
    active = go_int(status.get("active"))
    if opts.reject_finished_with_active_pods and active > 0:
        causes.append(_invalid("status.active", str(active), "active>0 is invalid for finished job"))
    if opts.reject_finished_without_start_time and status.get("startTime") is None:
        causes.append(_required("status.startTime", "startTime is required for finished job"))
    u = _d(status.get("uncountedTerminatedPods"))
    if opts.reject_finished_with_uncounted_terminated_pods and (
        _l(u.get("succeeded")) or _l(u.get("failed"))
    ):
        causes.append(
            _invalid(
                "status.uncountedTerminatedPods",
                _go_uncounted(u),
                "uncountedTerminatedPods needs to be empty for finished job",
            )
        )
    return causes


def _status_indexes(job: JSON, opts: JobStatusOptions) -> list[Cause]:
    """The completedIndexes / failedIndexes rules of validateJobStatus."""
    spec, status = _d(job.get("spec")), _d(job.get("status"))
    completions = spec.get("completions")
    has_completions = is_int(completions)
    completed, failed = _s(status.get("completedIndexes")), status.get("failedIndexes")
    per_index = spec.get("backoffLimitPerIndex") is not None
    causes: list[Cause] = []
    if opts.reject_invalid_completed_indexes and has_completions:
        _, err = validate_indexes_format(completed, completions)
        if err is not None:
            causes.append(
                _invalid(
                    "status.completedIndexes", go_quote(completed), f"error parsing completedIndexes: {err}"
                )
            )
    if opts.reject_invalid_failed_indexes and has_completions and per_index and failed is not None:
        _, err = validate_indexes_format(_s(failed), completions)
        if err is not None:
            causes.append(
                _invalid("status.failedIndexes", go_quote(_s(failed)), f"error parsing failedIndexes: {err}")
            )
    if (
        opts.reject_completed_indexes_for_non_indexed
        and completed
        and spec.get("completionMode") != "Indexed"
    ):
        causes.append(
            _invalid(
                "status.completedIndexes",
                go_quote(completed),
                "cannot set non-empty completedIndexes when non-indexed completion mode",
            )
        )
    if opts.reject_failed_indexes_without_backoff_limit_per_index and not per_index and failed is not None:
        causes.append(
            _invalid(
                "status.failedIndexes",
                go_quote(_s(failed)),
                "cannot set non-null failedIndexes when backoffLimitPerIndex is null",
            )
        )
    if opts.reject_failed_indexes_overlapping_completed and has_completions and failed is not None:
        err = _indexes_overlap(completed, _s(failed), completions)
        if err is not None:
            causes.append(_invalid("status.failedIndexes", go_quote(_s(failed)), err))
    return causes


def _intervals(text: str, completions: int) -> list[tuple[int, int] | None]:
    """The parsed intervals of an index list (None for one that does not parse)."""
    out: list[tuple[int, int] | None] = []
    for part in text.split(","):
        parsed = _parse_index_interval(part, completions)
        out.append(None if isinstance(parsed, str) else parsed)
    return out


def _indexes_overlap(completed: str, failed: str, completions: int) -> str | None:
    """validateFailedIndexesNotOverlapCompleted: the first overlapping index (unparsable intervals
    are skipped: their format is reported separately)."""
    if not completed or not failed:
        return None
    cs = [c for c in _intervals(completed, completions) if c is not None]
    fs = [f for f in _intervals(failed, completions) if f is not None]
    ci = fi = 0
    while ci < len(cs) and fi < len(fs):
        (cx, cy), (fx, fy) = cs[ci], fs[fi]
        if cx <= fy and fx <= cy:
            return f"failedIndexes and completedIndexes overlap at index: {max(cx, fx)}"
        if cx <= fx:
            ci += 1
        else:
            fi += 1
    return None


def _status_success_criteria(job: JSON, opts: JobStatusOptions) -> list[Cause]:
    """The SuccessCriteriaMet rules of validateJobStatus (on in 1.32 whatever the options)."""
    spec = _d(job.get("spec"))
    met, complete = condition_true(job, "SuccessCriteriaMet"), condition_true(job, "Complete")
    msgs: list[str] = []
    if (
        not opts.allow_success_criteria_met_in_extended_scope
        and met
        and spec.get("completionMode") != "Indexed"
    ):
        msgs.append("cannot set SuccessCriteriaMet to NonIndexed Job")
    if met and condition_true(job, "Failed"):
        msgs.append("cannot set SuccessCriteriaMet=True and Failed=true conditions")
    if met and condition_true(job, "FailureTarget"):
        msgs.append("cannot set SuccessCriteriaMet=True and FailureTarget=true conditions")
    if not opts.allow_success_criteria_met_in_extended_scope and spec.get("successPolicy") is None and met:
        msgs.append("cannot set SuccessCriteriaMet=True for Job without SuccessPolicy")
    if spec.get("successPolicy") is not None and not met and complete:
        msgs.append("cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True")
    return [_omit_value("status.conditions", m) for m in msgs]


def _validate_job_status(job: JSON, opts: JobStatusOptions) -> list[Cause]:
    """validateJobStatus, in upstream's order."""
    status = _d(job.get("status"))
    return (
        _status_counters(status)
        + _status_uncounted_uids(status)
        + _status_terminal_conditions(job, opts)
        + _status_finished_job(job, opts)
        + _status_indexes(job, opts)
        + _status_success_criteria(job, opts)
    )


def _validate_job_status_transition(new: JSON, old: JSON, opts: JobStatusOptions) -> list[Cause]:
    """The old-versus-new rules of ValidateJobStatusUpdate."""
    nst, ost = _d(new.get("status")), _d(old.get("status"))
    causes: list[Cause] = []
    if opts.reject_disabling_terminal_condition:
        for ctype in ("Failed", "Complete", "FailureTarget"):
            if condition_true(old, ctype) and not condition_true(new, ctype):
                causes.append(
                    _omit_value("status.conditions", f"cannot disable the terminal {ctype}=True condition")
                )
    for key, enabled in (
        ("failed", opts.reject_decreasing_failed),
        ("succeeded", opts.reject_decreasing_succeeded),
    ):
        if enabled and go_int(nst.get(key)) < go_int(ost.get(key)):
            causes.append(
                _invalid(f"status.{key}", str(go_int(nst.get(key))), f"cannot decrease the {key} counter")
            )
    ncompletion, ocompletion = nst.get("completionTime"), ost.get("completionTime")
    mutated = ncompletion is not None and ocompletion is not None and not _same_time(ncompletion, ocompletion)
    if opts.reject_mutating_completion_time and mutated:
        causes.append(
            _invalid("status.completionTime", _go_time(ncompletion), "completionTime cannot be mutated")
        )
    ostart, nstart = ost.get("startTime"), nst.get("startTime")
    start_moved = ostart is not None and not _same_time(ostart, nstart)
    if (
        opts.reject_start_time_update_for_unsuspended
        and start_moved
        and _d(new.get("spec")).get("suspend") is not True
    ):
        causes.append(_required("status.startTime", "startTime cannot be removed for unsuspended job"))
    if condition_true(old, "SuccessCriteriaMet") and not condition_true(new, "SuccessCriteriaMet"):
        causes.append(
            _omit_value("status.conditions", "cannot disable the SuccessCriteriaMet=True condition")
        )
    if (
        condition_true(old, "Complete")
        and not condition_true(old, "SuccessCriteriaMet")
        and condition_true(new, "SuccessCriteriaMet")
    ):
        causes.append(
            _omit_value(
                "status.conditions",
                "cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions",
            )
        )
    return causes


def validate_job_update_status(new: JSON, old: JSON) -> list[Cause]:
    """The job status strategy's ValidateUpdate: ValidateJobUpdateStatus (its metadata part is checked
    by the caller) with the options of `job_status_options`."""
    opts = job_status_options(new, old)
    return _validate_job_status(new, opts) + _validate_job_status_transition(new, old, opts)


# ---------------------------------------------------------------------------- cronjob


def _validate_schedule(schedule: str, allow_tz: bool, time_zone: Any) -> list[Cause]:
    """validateScheduleFormat."""
    causes: list[Cause] = []
    err = _cron_error(schedule)
    if err:
        causes.append(_invalid("spec.schedule", go_quote(schedule), err))
    if allow_tz and "TZ" in schedule and time_zone is not None:
        causes.append(
            _invalid(
                "spec.schedule",
                go_quote(schedule),
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            )
        )
    elif not allow_tz and "TZ" in schedule:
        causes.append(
            _invalid(
                "spec.schedule",
                go_quote(schedule),
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            )
        )
    return causes


def time_zone_error(tz: str) -> str | None:
    """validateTimeZone's message for a set timeZone (None: valid)."""
    if not tz:
        return "timeZone must be nil or non-empty string"
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.fullmatch(part):
            return f"unknown time zone {tz}"
    if tz.lower() == "local":
        return "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
    if tz == "UTC":
        return None
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {tz}"
    return None


def _validate_job_template(jt: JSON) -> list[Cause]:
    """ValidateJobTemplateSpec."""
    jspec = _d(jt.get("spec"))
    path = "spec.jobTemplate.spec"
    causes = validate_job_spec_common(jspec, path)
    if jspec.get("selector") is not None:
        causes.append(
            _invalid(
                f"{path}.selector", _go_selector(jspec.get("selector")), "`selector` will be auto-generated"
            )
        )
    if jspec.get("manualSelector") is True:
        causes.append(_not_supported(f"{path}.manualSelector", True, ("nil", "false")))
    return causes


def _validate_cron_job_spec(spec: JSON, old_spec: JSON | None) -> list[Cause]:
    """validateCronJobSpec."""
    causes: list[Cause] = []
    schedule = _s(spec.get("schedule"))
    if not schedule:
        causes.append(_required("spec.schedule"))
    else:
        allow_tz = old_spec is not None and "TZ" in _s(old_spec.get("schedule"))
        causes += _validate_schedule(schedule, allow_tz, spec.get("timeZone"))
    causes += _nonnegative("spec.startingDeadlineSeconds", spec.get("startingDeadlineSeconds"))
    tz = spec.get("timeZone")
    if isinstance(tz, str) and (old_spec is None or old_spec.get("timeZone") != tz):
        err = time_zone_error(tz)
        if err:
            causes.append(_invalid("spec.timeZone", go_quote(tz), err))
    cp = _s(spec.get("concurrencyPolicy"))
    if not cp:
        causes.append(_required("spec.concurrencyPolicy"))
    elif cp not in ("Allow", "Forbid", "Replace"):
        causes.append(_not_supported("spec.concurrencyPolicy", cp, ("Allow", "Forbid", "Replace")))
    causes += _validate_job_template(_d(spec.get("jobTemplate")))
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        causes += _nonnegative(f"spec.{key}", spec.get(key))
    return causes


def validate_cron_job(obj: JSON) -> list[Cause]:
    """ValidateCronJobCreate: the spec and the 52-character name limit."""
    causes = _validate_cron_job_spec(_d(obj.get("spec")), None)
    name = _s(_d(obj.get("metadata")).get("name"))
    if len(name) > CRONJOB_NAME_MAX:
        causes.append(
            _invalid("metadata.name", go_quote(name), f"must be no more than {CRONJOB_NAME_MAX} characters")
        )
    return causes


def validate_cron_job_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateCronJobUpdate: TZ in the schedule and an unchanged timeZone stay accepted."""
    return _validate_cron_job_spec(_d(new.get("spec")), _d(old.get("spec")))
