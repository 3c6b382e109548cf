"""HorizontalController (kube-controller-manager `horizontalpodautoscaling`, 1.32): autoscaling/v2 HPAs.

Every HPA is reconciled when it is added or its spec changes, and every sync period after each
pass (`--horizontal-pod-autoscaler-sync-period`: kube's default 15 s; 60 s in a virtual cluster, as
vCluster runs kube-controller-manager; `controllers/kcmflags.py`). A pass reads the target through its `scale`
subresource (AbleToScale: SucceededGetScale, or FailedGetScale with a Warning event), then:

* replicas 0 (and minReplicas not 0): ScalingActive False ScalingDisabled, nothing scaled;
* above maxReplicas / below minReplicas: rescale to the bound ("Current number of replicas above
  Spec.MaxReplicas" / "... below Spec.MinReplicas"), Normal SuccessfulRescale "New size: N; reason: R";
* otherwise the metrics decide. Resource and ContainerResource metrics are read from
  `metrics.k8s.io` (the pods of the scale's selector) and go through upstream's replica calculator
  and stabilization (`hpacalc.py`); Pods and Object metrics need `custom.metrics.k8s.io`, External
  ones `external.metrics.k8s.io`. When an API does not answer, the pass fails as upstream's does:
  ScalingActive False with FailedGet*Metric, Warning events FailedGet*Metric and
  FailedComputeMetricsReplicas with upstream's texts, and `currentMetrics` of empty entries.

Status (currentReplicas, desiredReplicas, currentMetrics, conditions, lastScaleTime on a rescale)
is written through `status` only when it changed. Like upstream's controller, this one does not
set `status.observedGeneration` (and the HPA strategy keeps no `metadata.generation`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from vcluster.apiserver.quantityfmt import decimal_si
from vcluster.apiserver.selectors import LabelSelector
from vcluster.controllers import hpacalc
from vcluster.controllers.base import (
    EVENT_NORMAL,
    EVENT_WARNING,
    BaseController,
    clone,
    fmt_time,
    key_of,
    labels_of,
    split_key,
    typed,
)
from vcluster.controllers.discovery import APIResource, RESTMapper, discover
from vcluster.jsonguards import as_dict as _d

if TYPE_CHECKING:
    from vcluster.client import ApiError, Client, SharedInformers

API_VERSION = "autoscaling/v2"
KIND = "HorizontalPodAutoscaler"
PLURAL = "horizontalpodautoscalers"
SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period
NOT_FOUND = "the server could not find the requested resource"
NO_CUSTOM_METRICS = "no custom metrics API (custom.metrics.k8s.io) registered"

JSON = dict[str, Any]


class MetricError(Exception):
    """A metric that could not be computed: `condition` is the ScalingActive condition it proposes."""

    def __init__(self, message: str, condition: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.condition = condition  # (reason, message) of ScalingActive False


def parse_group_version(api_version: str) -> tuple[str, str]:
    """schema.ParseGroupVersion: `apps/v1` -> (apps, v1), `v1` -> ("", v1); more slashes fail."""
    if not api_version or api_version == "/":
        return "", ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", api_version
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f"unexpected GroupVersion string: {api_version}")


def client_error(e: ApiError, verb: str, resource: str, name: str = "") -> str:
    """The text of a client-go error: the Status message, or for a bare 404 (no such resource or
    API group: a body that is no Status, e.g. `404 page not found`) client-go's own
    `the server could not find the requested resource (get R N)`."""
    if e.status == 404 and (not e.body or e.message in ("", NOT_FOUND)):
        return f"{NOT_FOUND} ({verb} {resource}{' ' + name if name else ''})"
    return e.message or str(e)


def selector_go_string(sel: Any) -> str:
    """`%+v` of a *metav1.LabelSelector (its gogo String()); `nil` when absent."""
    if not isinstance(sel, dict):
        return "nil"
    labels = ",".join(f"{k}: {v}" for k, v in sorted(_d(sel.get("matchLabels")).items()))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{_d(r).get('key', '')},Operator:{_d(r).get('operator', '')},"
        f"Values:[{' '.join(_d(r).get('values') or [])}],}},"
        for r in sel.get("matchExpressions") or []
    )
    return (
        f"&LabelSelector{{MatchLabels:map[string]string{{{labels + ',' if labels else ''}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )


def set_condition(status: JSON, ctype: str, cstatus: str, reason: str, message: str, now: str) -> None:
    """setConditionInList: update the condition of `ctype` in place (new ones go last); the
    transition time changes only with the status."""
    conds: list[JSON] = status.setdefault("conditions", [])
    cur = next((c for c in conds if c.get("type") == ctype), None)
    if cur is None:
        cur = {"type": ctype, "status": ""}
        conds.append(cur)
    if cur.get("status") != cstatus:
        cur["lastTransitionTime"] = now
    cur["status"], cur["reason"], cur["message"] = cstatus, reason, message


class HorizontalController(BaseController):
    """Reconciles every HorizontalPodAutoscaler with the scale of its target."""

    name = "horizontalpodautoscaler"
    component = "horizontal-pod-autoscaler"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        sync_period: float = SYNC_PERIOD,
        tolerance: float = hpacalc.TOLERANCE,
        downscale_stabilization: float = hpacalc.DOWNSCALE_STABILIZATION.total_seconds(),
        cpu_initialization_period: float = hpacalc.CPU_INITIALIZATION_PERIOD.total_seconds(),
        initial_readiness_delay: float = hpacalc.INITIAL_READINESS_DELAY.total_seconds(),
        **options: Any,
    ) -> None:
        """The keyword settings are kube-controller-manager's --horizontal-pod-autoscaler-* flags
        (durations in seconds)."""
        super().__init__(client, informers, **options)
        self.sync_period = sync_period
        self.tuning = hpacalc.Tuning(
            tolerance=tolerance,
            cpu_initialization_period=timedelta(seconds=cpu_initialization_period),
            initial_readiness_delay=timedelta(seconds=initial_readiness_delay),
            downscale_stabilization=timedelta(seconds=downscale_stabilization),
        )
        self.hpas = informers.informer(API_VERSION, PLURAL)
        self.pods = informers.informer("v1", "pods")
        self.mapper: RESTMapper | None = None
        self.selectors: dict[str, LabelSelector] = {}  # hpaSelectors: HPA key -> its target's selector
        self.memory: dict[str, hpacalc.Recommendations] = {}
        self.hpas.add_handler(self._on_hpa)

    def _on_hpa(self, event: str, obj: JSON, old: JSON | None) -> None:
        """Queue a new or changed HPA at once, others on the sync period; forget deleted ones."""
        key = key_of(obj)
        if event == "delete":
            self.selectors.pop(key, None)
            self.queue.forget(key)
            return
        self.selectors.setdefault(key, LabelSelector.nothing())
        if old is None or old.get("spec") != obj.get("spec"):
            self.queue.add(key)  # new or changed: now (upstream waits for the next period)
        else:
            self.queue.add_after(key, self.sync_period)

    async def run(self, workers: int = 2) -> None:
        """Process HPAs once the HPA and pod caches are filled."""
        await self.hpas.wait_synced()
        await self.pods.wait_synced()
        await super().run(workers)

    async def sync(self, key: str) -> None:
        """Reconcile one HPA, then come back after the sync period."""
        ns, name = split_key(key)
        cached = self.hpas.get(name, ns)
        if cached is None:
            self.memory.pop(key, None)
            self.selectors.pop(key, None)
            return
        try:
            await self.reconcile(typed(clone(cached), API_VERSION, KIND), key)
        finally:
            self.queue.add_after(key, self.sync_period)

    # ------------------------------------------------------------------ helpers
    def _event(self, hpa: JSON, etype: str, reason: str, message: str) -> None:
        """Record an event about the HPA (an autoscaling/v2 reference)."""
        self.recorder.event(hpa, etype, reason, message, kind=KIND, api_version=API_VERSION)

    def _condition(self, hpa: JSON, ctype: str, cstatus: str, reason: str, message: str) -> None:
        """setCondition on the HPA's status, stamped with the controller's clock."""
        set_condition(hpa.setdefault("status", {}), ctype, cstatus, reason, message, fmt_time(self.now()))

    async def _mapping(self, api_version: str, kind: str) -> APIResource:
        """RESTMappings for the target's group and kind (discovery read again on a miss)."""
        group, _ = parse_group_version(api_version)
        for attempt in range(2):
            if self.mapper is None or attempt:
                self.mapper = RESTMapper((await discover(self.client)).resources)
            r = self.mapper.for_kind(api_version, kind)
            if r is not None:
                return r
        raise LookupError(f'no matches for kind "{kind}" in group "{group}"')

    async def _update_status(self, hpa: JSON, original: JSON) -> None:
        """updateStatusIfNeeded: write status when it differs (FailedUpdateStatus on failure)."""
        from vcluster.client import ApiError

        if _d(hpa.get("status")) == original:
            return
        try:
            await self.client.update(API_VERSION, PLURAL, hpa, subresource="status")
        except ApiError as e:
            if e.conflict:
                raise
            self._event(hpa, EVENT_WARNING, "FailedUpdateStatus", e.message)
            self.log.warning("failed to update status for %s: %s", hpa["metadata"].get("name"), e.message)

    def _set_status(
        self, hpa: JSON, current: int, desired: int, metrics: list[JSON] | None, rescale: bool
    ) -> None:
        """setStatus: a new status keeping lastScaleTime and the conditions (Go's omitempty)."""
        old = _d(hpa.get("status"))
        status: JSON = {}
        if current:
            status["currentReplicas"] = current
        status["desiredReplicas"] = desired
        last = fmt_time(self.now()) if rescale else old.get("lastScaleTime")
        if last:
            status["lastScaleTime"] = last
        if metrics:
            status["currentMetrics"] = metrics
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        hpa["status"] = status

    # ------------------------------------------------------------------ reconcile
    async def reconcile(self, hpa: JSON, key: str) -> None:
        """reconcileAutoscaler."""
        from vcluster.client import ApiError

        original = clone(_d(hpa.get("status")))
        spec, ns = _d(hpa.get("spec")), hpa["metadata"].get("namespace", "")
        ref = _d(spec.get("scaleTargetRef"))
        kind, target = ref.get("kind") or "", ref.get("name") or ""
        reference = f"{kind}/{ns}/{target}"
        mapping: APIResource | None = None
        try:
            mapping = await self._mapping(ref.get("apiVersion") or "", kind)
            scale = await self.client.get(
                mapping.api_version, mapping.plural, target, ns, subresource="scale"
            )
        except (ValueError, LookupError, ApiError) as e:
            msg = str(e)
            if isinstance(e, ApiError) and mapping is not None:
                msg = client_error(e, "get", mapping.group_resource, target)
            self._event(hpa, EVENT_WARNING, "FailedGetScale", msg)
            self._condition(
                hpa,
                "AbleToScale",
                "False",
                "FailedGetScale",
                f"the HPA controller was unable to get the target's current scale: {msg}",
            )
            await self._update_status(hpa, original)
            self.log.info("failed to query scale subresource for %s: %s", reference, msg)
            return
        self._condition(
            hpa,
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        )
        current = int(_d(scale.get("spec")).get("replicas") or 0)
        mem = self.memory.setdefault(key, hpacalc.Recommendations())
        if not mem.recommendations:
            mem.recommendations.append((current, self.now()))
        min_replicas = spec.get("minReplicas") if isinstance(spec.get("minReplicas"), int) else 1
        max_replicas = int(spec.get("maxReplicas") or 0)
        metric_statuses: list[JSON] | None = None
        rescale, reason, desired = True, "", 0
        if current == 0 and min_replicas != 0:
            rescale = False
            self._condition(
                hpa,
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            )
        elif current > max_replicas:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", max_replicas
        elif current < min_replicas:
            reason, desired = "Current number of replicas below Spec.MinReplicas", min_replicas
        else:
            try:
                proposal, metric, metric_statuses = await self._compute_replicas(hpa, scale)
            except MetricError as e:
                statuses = getattr(e, "statuses", None)
                self._set_status(
                    hpa, current, int(_d(hpa.get("status")).get("desiredReplicas") or 0), statuses, False
                )
                await self._update_status(hpa, original)
                self._event(hpa, EVENT_WARNING, "FailedComputeMetricsReplicas", str(e))
                self.log.info("failed to compute desired number of replicas for %s: %s", reference, e)
                return
            desired = proposal
            if desired > current:
                reason = f"{metric} above target"
            elif desired < current:
                reason = "All metrics below target"
            behavior = spec.get("behavior")
            now = self.now()
            if isinstance(behavior, dict):
                desired, conds = hpacalc.normalize_with_behaviors(
                    mem, behavior, current, desired, min_replicas, max_replicas, now, self.tuning
                )
            else:
                desired, conds = hpacalc.normalize(
                    mem, current, desired, min_replicas, max_replicas, now, self.tuning
                )
            for c in conds:
                self._condition(hpa, *c)
            rescale = desired != current
        if rescale:
            scale.setdefault("spec", {})["replicas"] = desired
            try:
                await self.client.update(mapping.api_version, mapping.plural, scale, ns, subresource="scale")
            except ApiError as e:
                self._event(
                    hpa,
                    EVENT_WARNING,
                    "FailedRescale",
                    f"New size: {desired}; reason: {reason}; error: {e.message}",
                )
                self._condition(
                    hpa,
                    "AbleToScale",
                    "False",
                    "FailedUpdateScale",
                    f"the HPA controller was unable to update the target scale: {e.message}",
                )
                self._set_status(
                    hpa,
                    current,
                    int(_d(hpa.get("status")).get("desiredReplicas") or 0),
                    metric_statuses,
                    False,
                )
                await self._update_status(hpa, original)
                return
            self._condition(
                hpa,
                "AbleToScale",
                "True",
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
            )
            self._event(hpa, EVENT_NORMAL, "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            hpacalc.store_scale_event(
                mem,
                spec.get("behavior") if isinstance(spec.get("behavior"), dict) else None,
                current,
                desired,
                self.now(),
            )
            self.log.info("rescaled %s from %d to %d: %s", reference, current, desired, reason)
        else:
            desired = current
        self._set_status(hpa, current, desired, metric_statuses, rescale)
        await self._update_status(hpa, original)

    # ------------------------------------------------------------------ metrics
    def _selector(self, hpa: JSON, key: str, text: str) -> LabelSelector:
        """validateAndParseSelector: the target's selector, owned by this HPA alone."""
        if not text:
            self._event(hpa, EVENT_WARNING, "SelectorRequired", "selector is required")
            self._condition(
                hpa,
                "ScalingActive",
                "False",
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
            )
            raise MetricError("selector is required")
        try:
            selector = LabelSelector.parse(text)
        except Exception as e:
            detail = getattr(e, "message", e)
            msg = f"couldn't convert selector into a corresponding internal selector object: {detail}"
            self._event(hpa, EVENT_WARNING, "InvalidSelector", msg)
            self._condition(hpa, "ScalingActive", "False", "InvalidSelector", msg)
            raise MetricError(msg) from None
        if key in self.selectors:
            self.selectors[key] = selector
        ns = hpa["metadata"].get("namespace", "")
        owners = sorted(
            k
            for k, sel in self.selectors.items()
            if split_key(k)[0] == ns and any(sel.matches(labels_of(p)) for p in self._pods(ns, selector))
        )
        if len(owners) > 1:
            msg = f"pods by selector {text} are controlled by multiple HPAs: [{' '.join(owners)}]"
            self._event(hpa, EVENT_WARNING, "AmbiguousSelector", msg)
            self._condition(hpa, "ScalingActive", "False", "AmbiguousSelector", msg)
            raise MetricError(msg)
        return selector

    def _pods(self, ns: str, selector: LabelSelector) -> list[JSON]:
        """The cached pods of `ns` that `selector` selects."""
        return [p for p in self.pods.list(ns) if selector.matches(labels_of(p))]

    async def _compute_replicas(self, hpa: JSON, scale: JSON) -> tuple[int, str, list[JSON]]:
        """computeReplicasForMetrics: the highest proposal of the metrics that could be computed."""
        key = key_of(hpa)
        selector = self._selector(hpa, key, _d(scale.get("status")).get("selector") or "")
        spec_replicas = int(_d(scale.get("spec")).get("replicas") or 0)
        specs = [_d(m) for m in _d(hpa.get("spec")).get("metrics") or []]
        statuses: list[JSON] = [{"type": ""} for _ in specs]
        replicas, metric, invalid, first = 0, "", 0, None
        for i, m in enumerate(specs):
            try:
                proposal, name, statuses[i] = await self._compute_metric(hpa, m, spec_replicas, selector)
            except MetricError as e:
                if first is None:
                    first = e
                invalid += 1
                continue
            if replicas == 0 or proposal > replicas:
                replicas, metric = proposal, name
        if first is not None and (invalid >= len(specs) or replicas < spec_replicas):
            if first.condition is not None:
                self._condition(hpa, "ScalingActive", "False", *first.condition)
            err = MetricError(
                f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first}"
            )
            err.statuses = statuses  # type: ignore[attr-defined]
            raise err
        self._condition(
            hpa,
            "ScalingActive",
            "True",
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {metric}",
        )
        return replicas, metric, statuses

    def _unable(self, hpa: JSON, reason: str, err: str) -> tuple[str, str]:
        """getUnableComputeReplicaCountCondition: a Warning event and the proposed condition."""
        self._event(hpa, EVENT_WARNING, reason, err)
        return reason, f"the HPA was unable to compute the replica count: {err}"

    async def _compute_metric(
        self, hpa: JSON, m: JSON, spec_replicas: int, selector: LabelSelector
    ) -> tuple[int, str, JSON]:
        """computeReplicasForMetric."""
        typ = m.get("type")
        if typ in ("Resource", "ContainerResource"):
            field = "resource" if typ == "Resource" else "containerResource"
            src = _d(m.get(field))
            container = src.get("container") or "" if typ == "ContainerResource" else ""
            reason = "FailedGetResourceMetric" if typ == "Resource" else "FailedGetContainerResourceMetric"
            try:
                return await self._resource_metric(hpa, typ, src, container, spec_replicas, selector)
            except hpacalc.CalcError as e:
                cond = self._unable(hpa, reason, str(e))
                what = f"{src.get('name', '')} resource" if typ == "Resource" else f"{container} container"
                raise MetricError(f"failed to get {what} metric value: {e}", cond) from None
        if typ == "Pods":
            src = _d(m.get("pods"))
            api_err = await self._custom_metrics_error()
            err = f"unable to get metric {_d(src.get('metric')).get('name', '')}: {api_err}"
            cond = self._unable(hpa, "FailedGetPodsMetric", err)
            raise MetricError(f"failed to get pods metric value: {err}", cond)
        if typ == "Object":
            return await self._object_metric(hpa, _d(m.get("object")))
        if typ == "External":
            return await self._external_metric(hpa, _d(m.get("external")), selector)
        err = f'unknown metric source type "{typ or ""}"'
        raise MetricError(err, self._unable(hpa, "InvalidMetricSourceType", err))

    async def _object_metric(self, hpa: JSON, src: JSON) -> tuple[int, str, JSON]:
        target, metric, obj = _d(src.get("target")), _d(src.get("metric")), _d(src.get("describedObject"))
        per_pod = target.get("type") == "AverageValue" and target.get("averageValue") is not None
        if not per_pod and not (target.get("type") == "Value" and target.get("value") is not None):
            err = "invalid object metric source: neither a value target nor an average value target was set"
            raise MetricError(
                f"failed to get object metric value: {err}", self._unable(hpa, "FailedGetObjectMetric", err)
            )
        name, ns = metric.get("name", ""), hpa["metadata"].get("namespace", "")
        # upstream's format string puts the arguments in this order
        api_err = await self._custom_metrics_error()
        err = f"unable to get metric {name}: {obj.get('kind', '')} on {ns} {obj.get('name', '')}/{api_err}"
        cond = self._unable(hpa, "FailedGetObjectMetric", err)
        inner = f"failed to get {name} object metric: {err}" if per_pod else err
        raise MetricError(f"failed to get object metric value: {inner}", cond)

    async def _external_metric(self, hpa: JSON, src: JSON, selector: LabelSelector) -> tuple[int, str, JSON]:
        target, metric = _d(src.get("target")), _d(src.get("metric"))
        name, ns = metric.get("name", ""), hpa["metadata"].get("namespace", "")
        if target.get("averageValue") is None and target.get("value") is None:
            err = "invalid external metric source: neither a value target nor an average value target was set"
            cond = self._unable(hpa, "FailedGetExternalMetric", err)
            raise MetricError(f"failed to get {name} external metric value: {err}", cond)
        api_err = await self._external_metrics_error(ns, name, metric.get("selector"))
        shown = selector_go_string(metric.get("selector"))
        err = f"unable to get external metric {ns}/{name}/{shown}: {api_err}"
        cond = self._unable(hpa, "FailedGetExternalMetric", err)
        if target.get("averageValue") is not None:
            inner = f"failed to get {name} external metric: {err}"
        else:
            inner = f"failed to get external metric {name}: {err}"
        raise MetricError(f"failed to get {name} external metric value: {inner}", cond)

    async def _custom_metrics_error(self) -> str:
        """Why custom.metrics.k8s.io gave nothing (this server has no such API)."""
        status, _, _ = await self.client.request("GET", "/apis/custom.metrics.k8s.io")
        if status == 404:
            return f"unable to fetch metrics from custom metrics API: {NO_CUSTOM_METRICS}"
        return "unable to fetch metrics from custom metrics API: custom metrics are not supported here"

    async def _external_metrics_error(self, ns: str, name: str, selector: Any) -> str:
        from vcluster.client import ApiError

        sel = str(LabelSelector.from_api(selector)) if isinstance(selector, dict) else None
        try:
            await self.client.list("external.metrics.k8s.io/v1beta1", name, ns, label_selector=sel)
        except ApiError as e:
            why = client_error(e, "get", f"{name}.external.metrics.k8s.io")
            return f"unable to fetch metrics from external metrics API: {why}"
        return "unable to fetch metrics from external metrics API: external metrics are not supported here"

    async def _resource_metric(
        self, hpa: JSON, typ: str, src: JSON, container: str, spec_replicas: int, selector: LabelSelector
    ) -> tuple[int, str, JSON]:
        """computeStatusForResourceMetricGeneric over metrics.k8s.io (raises CalcError)."""
        from vcluster.client import ApiError

        resource, target = src.get("name") or "", _d(src.get("target"))
        average, utilization = target.get("averageValue"), target.get("averageUtilization")
        if average is None and utilization is None:
            raise hpacalc.CalcError(
                "invalid resource metric source: neither an average utilization target nor an average value "
                "(usage) target was set"
            )
        what = "usage" if average is not None else "utilization"
        ns = hpa["metadata"].get("namespace", "")
        try:
            try:
                listed = await self.client.list(
                    "metrics.k8s.io/v1beta1", "pods", ns, label_selector=str(selector)
                )
            except ApiError as e:
                why = client_error(e, "get", "pods.metrics.k8s.io")
                raise hpacalc.CalcError(f"unable to fetch metrics from resource metrics API: {why}") from None
            if not listed.get("items"):
                raise hpacalc.CalcError("no metrics returned from resource metrics API")
            metrics = hpacalc.resource_metrics(listed["items"], resource, container)
        except hpacalc.CalcError as e:
            raise hpacalc.CalcError(
                f"failed to get {resource} {what}: unable to get metrics for resource {resource}: {e}"
            ) from None
        pods, now = self._pods(ns, selector), self.now()
        try:
            if average is not None:
                replicas, usage = hpacalc.raw_resource_replicas(
                    spec_replicas, hpacalc.milli(average), resource, metrics, pods, now, self.tuning
                )
                current: JSON = {"averageValue": decimal_si(usage, -3)}
                name = f"{resource} resource"
            else:
                replicas, util, raw = hpacalc.resource_replicas(
                    spec_replicas, int(utilization), resource, metrics, pods, container, now, self.tuning
                )
                current = {"averageValue": decimal_si(raw, -3), "averageUtilization": util}
                name = f"{resource} resource utilization (percentage of request)"
                if typ == "ContainerResource":
                    name = f"{resource} container resource utilization (percentage of request)"
        except hpacalc.CalcError as e:
            raise hpacalc.CalcError(f"failed to get {resource} {what}: {e}") from None
        field = "resource" if typ == "Resource" else "containerResource"
        status: JSON = {"name": resource, "current": current}
        if typ == "ContainerResource":
            status["container"] = container
        return replicas, name, {"type": typ, field: status}
