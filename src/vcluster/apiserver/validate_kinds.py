"""The create and update validators of the kinds validated outside admission.py, by (group, kind).

admission.validate_create / validate_update consult these tables before their own; the modules
import admission.py's helpers, so admission.py loads this one lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vcluster.apiserver import (
    apiregistration,
    certificates,
    validate_batch,
    validate_coordination,
    validate_core,
    validate_discovery,
    validate_events,
    validate_flowcontrol,
    validate_networking,
    validate_storage,
    validate_storage_csi,
    vapvalidation,
    webhookconfig,
)
from vcluster.apiserver.errors import Cause

JSON = dict[str, Any]

CREATE_VALIDATORS: dict[tuple[str, str], Callable[[JSON], list[Cause]]] = {
    ("", "LimitRange"): validate_core.validate_limit_range,
    ("", "ResourceQuota"): validate_core.validate_resource_quota,
    ("", "Endpoints"): validate_core.validate_endpoints,
    ("", "PersistentVolume"): validate_core.validate_persistent_volume,
    ("", "Event"): validate_events.validate_core_event,
    ("events.k8s.io", "Event"): validate_events.validate_events_v1_event,
    ("networking.k8s.io", "NetworkPolicy"): validate_networking.validate_network_policy,
    ("networking.k8s.io", "IngressClass"): validate_networking.validate_ingress_class,
    ("storage.k8s.io", "StorageClass"): validate_storage.validate_storage_class,
    ("storage.k8s.io", "VolumeAttachment"): validate_storage_csi.validate_volume_attachment,
    ("storage.k8s.io", "CSIStorageCapacity"): validate_storage_csi.validate_csi_storage_capacity,
    (validate_flowcontrol.GROUP, "FlowSchema"): validate_flowcontrol.validate_flow_schema,
    (validate_flowcontrol.GROUP, "PriorityLevelConfiguration"): validate_flowcontrol.validate_priority_level,
    ("discovery.k8s.io", "EndpointSlice"): validate_discovery.validate_endpoint_slice,
    ("coordination.k8s.io", "Lease"): validate_coordination.validate_lease,
    ("batch", "Job"): validate_batch.validate_job,
    ("batch", "CronJob"): validate_batch.validate_cron_job,
    (certificates.GROUP, certificates.KIND): certificates.validate_create,
    (webhookconfig.GROUP, "ValidatingWebhookConfiguration"): webhookconfig.validate_validating,
    (webhookconfig.GROUP, "MutatingWebhookConfiguration"): webhookconfig.validate_mutating,
    (apiregistration.GROUP, apiregistration.KIND): apiregistration.validate,
    (vapvalidation.GROUP, vapvalidation.POLICY): vapvalidation.validate_policy,
    (vapvalidation.GROUP, vapvalidation.BINDING): vapvalidation.validate_binding,
}

UPDATE_VALIDATORS: dict[tuple[str, str], Callable[[JSON, JSON], list[Cause]]] = {
    ("", "LimitRange"): lambda n, o: validate_core.validate_limit_range(n),
    ("", "ResourceQuota"): validate_core.validate_resource_quota_update,
    ("", "Endpoints"): lambda n, o: validate_core.validate_endpoints(n),
    ("", "PersistentVolume"): validate_core.validate_persistent_volume_update,
    ("", "Event"): lambda n, o: validate_events.validate_core_event(n),
    ("events.k8s.io", "Event"): validate_events.validate_events_v1_event_update,
    ("networking.k8s.io", "NetworkPolicy"): lambda n, o: validate_networking.validate_network_policy(n),
    ("networking.k8s.io", "IngressClass"): validate_networking.validate_ingress_class_update,
    ("storage.k8s.io", "StorageClass"): validate_storage.validate_storage_class_update,
    ("storage.k8s.io", "VolumeAttachment"): validate_storage_csi.validate_volume_attachment_update,
    ("storage.k8s.io", "CSIStorageCapacity"): validate_storage_csi.validate_csi_storage_capacity_update,
    (validate_flowcontrol.GROUP, "FlowSchema"): validate_flowcontrol.validate_flow_schema_update,
    (validate_flowcontrol.GROUP, "PriorityLevelConfiguration"): (
        validate_flowcontrol.validate_priority_level_update
    ),
    ("discovery.k8s.io", "EndpointSlice"): validate_discovery.validate_endpoint_slice_update,
    ("coordination.k8s.io", "Lease"): lambda n, o: validate_coordination.validate_lease(n),
    ("batch", "Job"): validate_batch.validate_job_update,
    ("batch", "CronJob"): validate_batch.validate_cron_job_update,
    (certificates.GROUP, certificates.KIND): certificates.validate_update,
    (webhookconfig.GROUP, "ValidatingWebhookConfiguration"): webhookconfig.validate_validating_update,
    (webhookconfig.GROUP, "MutatingWebhookConfiguration"): webhookconfig.validate_mutating_update,
    (apiregistration.GROUP, apiregistration.KIND): apiregistration.validate_update,
    (vapvalidation.GROUP, vapvalidation.POLICY): vapvalidation.validate_policy_update,
    (vapvalidation.GROUP, vapvalidation.BINDING): vapvalidation.validate_binding_update,
}
