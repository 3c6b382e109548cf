"""Server-side printing: the `meta.k8s.io/v1` Table that kube-apiserver 1.32 answers when a client
(kubectl in human-readable modes) asks for `as=Table`.

A port of `pkg/printers/internalversion/printers.go` (v1.32) working on plain JSON dicts, the
default table of `apiserver/pkg/registry/rest/table.go` (Name + Created At) for kinds without a
printer, and apimachinery's `duration.HumanDuration`. kube-apiserver always prints with
`Wide: true`, so every row carries the priority-1 (`-o wide`) cells too and kubectl hides them.

Objects come from users and may be partial or malformed: every access is guarded, and a field of
the wrong type prints like an absent one instead of raising.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

__all__ = [
    "build_table",
    "column_definitions",
    "human_duration",
    "row_cells",
    "row_conditions",
    "translate_timestamp_since",
]
from vcluster.apiserver import validate_flowcontrol as flowcontrol_tables
from vcluster.apiserver import validate_storage_csi as csi_tables
from vcluster.apiserver.conversion import events_v1_to_core
from vcluster.apiserver.hpaconversion import as_internal
from vcluster.jsonguards import as_list as _l
from vcluster.jsonguards import as_str as _s

log = logging.getLogger(__name__)

INCLUDE_OBJECT_VALUES = ("Metadata", "Object", "None")

# ---------------------------------------------------------------------------------------------
# Column descriptions (the SwaggerDoc texts upstream's column definitions reference)
# ---------------------------------------------------------------------------------------------

_DESC: dict[str, str] = {
    "CJ_ACTIVE": "A list of pointers to currently running jobs.",
    "CJ_LAST": "Information when was the last time the job was successfully scheduled.",
    "CJ_SCHEDULE": "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    "CJ_SUSPEND": (
        "This flag tells the controller to suspend subsequent executions, it does not apply to "
        "already started executions.\n\nDefaults to false."
    ),
    "CJ_TZ": (
        "The time zone name for the given schedule, see "
        "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this "
        "will default to the time zone of the kube-controller-manager process. The set of "
        "valid time zone names and the time zone offset is loaded from the system-wide time "
        "zone database by the API server during CronJob validation and the controller manager "
        "during execution. If no system-wide time zone database can be found a bundled version "
        "of the database is used instead. If the time zone name becomes invalid during the "
        "lifetime of a CronJob or due to a change in host configuration, the controller will "
        "stop creating new new Jobs and will create a system event with the reason "
        "UnknownTimeZone. More information can be found in "
        "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"
    ),
    "CM_DATA": (
        "Data contains the configuration data. Each key must consist of alphanumeric "
        "characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the "
        "BinaryData field. The keys stored in Data must not overlap with the keys in the "
        "BinaryData field, this is enforced during validation process."
    ),
    "CRB_ROLEREF": (
        "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef "
        "cannot be resolved, the Authorizer must return an error."
    ),
    "CR_REVISION": "Revision indicates the revision of the state represented by Data.",
    "CSI_ATTACH": (
        "attachRequired indicates this CSI volume driver requires an attach operation (because "
        "it implements the CSI ControllerPublishVolume() method), and that the Kubernetes "
        "attach detach controller should call the attach volume interface which checks the "
        "volumeattachment status and waits until the volume is attached before proceeding to "
        "mounting. The CSI external-attacher coordinates with CSI volume driver and updates "
        "the volumeattachment status when the attach operation is complete. If the value is "
        "specified to false, the attach operation will be skipped. Otherwise the attach "
        "operation will be called.\n\nThis field is immutable."
    ),
    "CSI_CAPACITY": (
        "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider "
        "the storage capacity that the driver deployment will report by creating "
        "CSIStorageCapacity objects with capacity information, if set to true.\n\nThe check can "
        "be enabled immediately when deploying a driver. In that case, provisioning new "
        "volumes with late binding will pause until the driver deployment has published some "
        "suitable CSIStorageCapacity object.\n\nAlternatively, the driver can be deployed with "
        "the field unset or false and it can be flipped later when storage capacity "
        "information has been published.\n\nThis field was immutable in Kubernetes <= 1.22 and "
        "now is mutable."
    ),
    "CSI_MODES": (
        "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports. "
        'The default if the list is empty is "Persistent", which is the usage defined by the '
        "CSI specification and implemented in Kubernetes via the usual PV/PVC mechanism.\n\nThe "
        'other mode is "Ephemeral". In this mode, volumes are defined inline inside the pod '
        "spec with CSIVolumeSource and their lifecycle is tied to the lifecycle of that pod. A "
        "driver has to be aware of this because it is only going to get a NodePublishVolume "
        "call for such a volume.\n\nFor more information about implementing this mode, see "
        "https://kubernetes-csi.github.io/docs/ephemeral-local-volumes.html A driver can "
        "support one or more of these modes and more modes may be added in the future.\n\nThis "
        "field is beta. This field is immutable."
    ),
    "CSI_PODINFO": (
        "podInfoOnMount indicates this CSI volume driver requires additional pod information "
        "(like podName, podUID, etc.) during mount operations, if set to true. If set to "
        "false, pod information will not be passed on mount. Default is false.  The CSI driver "
        "specifies podInfoOnMount as part of driver deployment. If true, Kubelet will pass pod "
        "information as VolumeContext in the CSI NodePublishVolume() calls. The CSI driver is "
        "responsible for parsing and validating the information passed in as VolumeContext.  "
        "The following VolumeContext will be passed if podInfoOnMount is set to true. This "
        'list might grow, but the prefix will be used. "csi.storage.k8s.io/pod.name": pod.Name '
        '"csi.storage.k8s.io/pod.namespace": pod.Namespace "csi.storage.k8s.io/pod.uid": '
        'string(pod.UID) "csi.storage.k8s.io/ephemeral": "true" if the volume is an ephemeral '
        "inline volume                                 defined by a CSIVolumeSource, otherwise "
        '"false"  "csi.storage.k8s.io/ephemeral" is a new feature in Kubernetes 1.16. It is '
        'only required for drivers which support both the "Persistent" and "Ephemeral" '
        "VolumeLifecycleMode. Other drivers can leave pod info disabled and/or ignore this "
        "field. As Kubernetes 1.15 doesn't support this field, drivers can only support one "
        "mode when deployed on such a cluster and the deployment determines which mode that "
        "is, for example via a command line parameter of the driver.  This field was immutable "
        "in Kubernetes < 1.29 and now is mutable."
    ),
    "CSI_REPUBLISH": (
        "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being "
        "periodically called to reflect any possible change in the mounted volume. This field "
        "defaults to false.\n\nNote: After a successful initial NodePublishVolume call, "
        "subsequent calls to NodePublishVolume should only update the contents of the volume. "
        "New mount points will not be seen by a running container."
    ),
    "CSI_TOKENS": (
        "tokenRequests indicates the CSI driver needs pods' service account tokens it is "
        "mounting volume for to do necessary authentication. Kubelet will pass the tokens in "
        "VolumeContext in the CSI NodePublishVolume calls. The CSI driver should parse and "
        'validate the following VolumeContext: "csi.storage.k8s.io/serviceAccount.tokens": {   '
        '"<audience>": {     "token": <token>,     "expirationTimestamp": <expiration '
        "timestamp in RFC3339>,   },   ... }  Note: Audience in each TokenRequest should be "
        "different and at most one token is empty string. To receive a new token after expiry, "
        "RequiresRepublish can be used to trigger NodePublishVolume periodically."
    ),
    "DEP_AVAILABLE": (
        "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."
    ),
    "DEP_SELECTOR": (
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be "
        "the ones affected by this deployment."
    ),
    "DEP_UPDATED": (
        "Total number of non-terminated pods targeted by this deployment that have the desired template spec."
    ),
    "HPA_CURRENT": (
        "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen "
        "by the autoscaler."
    ),
    "HPA_MAX": (
        "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. "
        "It cannot be less that minReplicas."
    ),
    "HPA_METRICS": (
        "metrics contains the specifications for which to use to calculate the desired replica count (the "
        "maximum replica count across all metrics will be used).  The desired replica count is calculated "
        "multiplying the ratio between the target value and the current value by the current number of "
        "pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the "
        "individual metric source types for more information about how each type of metric must respond. "
        "If not set, the default metric will be set to 80% average CPU utilization."
    ),
    "HPA_MIN": (
        "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  "
        "It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is "
        "enabled and at least one Object or External metric is configured.  Scaling is active as long as at "
        "least one metric value is available."
    ),
    "HPA_REF": (
        "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics "
        "should be collected, as well as to actually change the replica count."
    ),
    "DS_AVAILABLE": (
        "The number of nodes that should be running the daemon pod and have one or more of the "
        "daemon pod running and available (ready for at least spec.minReadySeconds)"
    ),
    "DS_CURRENT": (
        "The number of nodes that are running at least 1 daemon pod and are supposed to run "
        "the daemon pod. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"
    ),
    "DS_DESIRED": (
        "The total number of nodes that should be running the daemon pod (including nodes "
        "correctly running the daemon pod). More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"
    ),
    "DS_READY": (
        "The number of nodes that should be running the daemon pod and have one or more of the "
        "daemon pod running and ready."
    ),
    "DS_SELECTOR": (
        "A label query over pods that are managed by the daemon set. Must match in order to be "
        "controlled. If empty, defaulted to labels on Pod template. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-select"
        "ors"
    ),
    "DS_UPDATED": "The total number of nodes that are running updated daemon pod",
    "EP_SUBSETS": (
        "The set of all endpoints is the union of all subsets. Addresses are placed into "
        "subsets according to the IPs they share. A single address with multiple ports, some "
        "of which are ready and some of which are not (because they come from different "
        "containers) will result in the address being displayed in different subsets for the "
        "different ports. No address will appear in both Addresses and NotReadyAddresses in "
        "the same subset. Sets of addresses and ports that comprise a service."
    ),
    "ES_ADDRTYPE": (
        "addressType specifies the type of address carried by this EndpointSlice. All "
        "addresses in this slice must be the same type. This field is immutable after "
        "creation. The following address types are currently supported: * IPv4: Represents an "
        "IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully "
        "Qualified Domain Name. (Deprecated) The EndpointSlice controller only generates, and "
        'kube-proxy only processes, slices of addressType "IPv4" and "IPv6". No semantics are '
        'defined for the "FQDN" type.'
    ),
    "ES_ENDPOINTS": (
        "endpoints is a list of unique endpoints in this slice. Each slice may include a "
        "maximum of 1000 endpoints."
    ),
    "ES_PORTS": (
        "ports specifies the list of network ports exposed by each endpoint in this slice. "
        "Each port must have a unique name. Each slice may include a maximum of 100 ports. "
        "Services always have at least 1 port, so EndpointSlices generated by the "
        "EndpointSlice controller will likewise always have at least 1 port. EndpointSlices "
        "used for other purposes may have an empty ports list."
    ),
    "EV_COUNT": "The number of times this event has occurred.",
    "EV_FIELDPATH": (
        "If referring to a piece of an object instead of an entire object, this string should "
        "contain a valid JSON/Go field access statement, such as "
        "desiredState.manifest.containers[2]. For example, if the object reference is to a "
        'container within a pod, this would take on a value like: "spec.containers{name}" '
        '(where "name" refers to the name of the container that triggered the event) or if no '
        'container name is specified "spec.containers[2]" (container with index 2 in this '
        "pod). This syntax is chosen only to have some well-defined way of referencing a part "
        "of an object."
    ),
    "EV_FIRST": ("The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
    "EV_INVOLVED": "The object that this event is about.",
    "EV_LAST": "The time at which the most recent occurrence of this event was recorded.",
    "EV_MESSAGE": "A human-readable description of the status of this operation.",
    "EV_REASON": (
        "This should be a short, machine understandable string that gives the reason for the "
        "transition into the object's current status."
    ),
    "EV_SOURCE": "The component reporting this event. Should be a short machine understandable string.",
    "EV_TYPE": "Type of this event (Normal, Warning), new types could be added in the future",
    "JOB_SELECTOR": (
        "A label query over pods that should match the pod count. Normally, the system sets "
        "this field for you. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-select"
        "ors"
    ),
    "JOB_SUCCEEDED": (
        "The number of pods which reached phase Succeeded. The value increases monotonically "
        "for a given spec. However, it may decrease in reaction to scale down of elastic "
        "indexed jobs."
    ),
    "LEASE_HOLDER": (
        "holderIdentity contains the identity of the holder of a current lease. If Coordinated "
        "Leader Election is used, the holder identity must be equal to the elected "
        "LeaseCandidate.metadata.name field."
    ),
    "META_CREATED": (
        "CreationTimestamp is a timestamp representing the server time when this object was "
        "created. It is not guaranteed to be set in happens-before order across separate "
        "operations. Clients may not set this value. It is represented in RFC3339 form and is "
        "in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#me"
        "tadata"
    ),
    "META_NAME": (
        "Name must be unique within a namespace. Is required when creating resources, although "
        "some resources may allow a client to request the generation of an appropriate name "
        "automatically. Name is primarily intended for creation idempotence and configuration "
        "definition. Cannot be updated. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
    ),
    "NODE_ADDRESSES": (
        "List of addresses reachable to the node. Queried from cloud provider, if available. "
        "More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: "
        "This field is declared as mergeable, but the merge key is not sufficiently unique, "
        "which can cause data corruption when it is merged. Callers should instead use a "
        "full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should "
        "assume that addresses can change during the lifetime of a Node. However, there are "
        "some exceptions where this may not be possible, such as Pods that inherit a Node's "
        "address in its own status or consumers of the downward API (status.hostIP)."
    ),
    "NODE_CRI": (
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."
    ),
    "NODE_KERNEL": "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    "NODE_KUBELET": "Kubelet Version reported by the node.",
    "NODE_OSIMAGE": "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
    "NP_PODSELECTOR": (
        "Selects the pods to which this NetworkPolicy object applies.  The array of ingress "
        "rules is applied to any pods selected by this field. Multiple network policies can "
        "select the same set of pods.  In this case, the ingress rules for each are combined "
        "additively. This field is NOT optional and follows standard label selector semantics. "
        "An empty podSelector matches all pods in this namespace."
    ),
    "PC_DEFAULT": (
        "globalDefault specifies whether this PriorityClass should be considered as the "
        "default priority for pods that do not have any priority class. Only one PriorityClass "
        "can be marked as `globalDefault`. However, if more than one PriorityClasses exists "
        "with their `globalDefault` field set to true, the smallest value of such global "
        "default PriorityClasses will be used as the default priority."
    ),
    "PC_PREEMPTION": (
        "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, "
        "PreemptLowerPriority. Defaults to PreemptLowerPriority if unset."
    ),
    "PC_VALUE": (
        "value represents the integer value of this priority class. This is the actual "
        "priority that pods receive when they have the name of this class in their pod spec."
    ),
    "POD_GATES": (
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready "
        "when all its containers are ready AND all conditions specified in the readiness gates "
        'have status equal to "True" More info: '
        "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"
    ),
    "POD_IP": (
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if "
        "not yet allocated."
    ),
    "POD_NODE": (
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a "
        "candidate for scheduling by the scheduler defined in schedulerName. Once this field "
        "is set, the kubelet for this node becomes responsible for the lifecycle of this pod. "
        "This field should not be used to express a desire for the pod to be scheduled on a "
        "specific node. "
        "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename"
    ),
    "POD_NODESELECTOR": (
        "NodeSelector is a selector which must be true for the pod to fit on a node. Selector "
        "which must match a node's labels for the pod to be scheduled on that node. More info: "
        "https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"
    ),
    "POD_NOMINATED": (
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it "
        "cannot be scheduled right away as preemption victims receive their graceful "
        "termination periods. This field does not guarantee that the pod will be scheduled on "
        "this node. Scheduler may decide to place the pod elsewhere if other nodes become "
        "available sooner. Scheduler may also decide to give the resources on this node to a "
        "higher priority pod that is created after preemption. As a result, this field may be "
        "different than PodSpec.nodeName when the pod is scheduled."
    ),
    "PVC_ACCESS": (
        "accessModes contains the actual access modes the volume backing the PVC has. More "
        "info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1"
    ),
    "PVC_CAPACITY": "capacity represents the actual resources of the underlying volume.",
    "PVC_PHASE": "phase represents the current phase of PersistentVolumeClaim.",
    "PVC_VOLMODE": (
        "volumeMode defines what type of volume is required by the claim. Value of Filesystem "
        "is implied when not included in claim spec."
    ),
    "PVC_VOLNAME": "volumeName is the binding reference to the PersistentVolume backing this claim.",
    "PV_ACCESS": (
        "accessModes contains all ways the volume can be mounted. More info: "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes"
    ),
    "PV_CAPACITY": (
        "capacity is the description of the persistent volume's resources and capacity. More "
        "info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity"
    ),
    "PV_CLAIM": (
        "claimRef is part of a bi-directional binding between PersistentVolume and "
        "PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the "
        "authoritative bind between PV and PVC. More info: "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"
    ),
    "PV_PHASE": (
        "phase indicates if a volume is available, bound to a claim, or released by a claim. "
        "More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase"
    ),
    "PV_REASON": (
        "reason is a brief CamelCase string that describes any failure and is meant for "
        "machine parsing and tidy display in the CLI."
    ),
    "PV_RECLAIM": (
        "persistentVolumeReclaimPolicy defines what happens to a persistent volume when "
        "released from its claim. Valid options are Retain (default for manually created "
        "PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), "
        "and Recycle (deprecated). Recycle must be supported by the volume plugin underlying "
        "this PersistentVolume. More info: "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming"
    ),
    "PV_VOLMODE": (
        "volumeMode defines if a volume is intended to be used with a formatted filesystem or "
        "to remain in raw block state. Value of Filesystem is implied when not included in "
        "spec."
    ),
    "RB_ROLEREF": (
        "RoleRef can reference a Role in the current namespace or a ClusterRole in the global "
        "namespace. If the RoleRef cannot be resolved, the Authorizer must return an error."
    ),
    "RC_SELECTOR": (
        "Selector is a label query over pods that should match the Replicas count. If Selector "
        "is empty, it is defaulted to the labels present on the Pod template. Label keys and "
        "values that must match in order to be controlled by this replication controller, if "
        "empty defaulted to labels on Pod template. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-select"
        "ors"
    ),
    "RC_SPEC_REPLICAS": (
        "Replicas is the number of desired replicas. This is a pointer to distinguish between "
        "explicit zero and unspecified. Defaults to 1. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-i"
        "s-a-replicationcontroller"
    ),
    "RC_STATUS_READY": "The number of ready replicas for this replication controller.",
    "RC_STATUS_REPLICAS": (
        "Replicas is the most recently observed number of replicas. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-i"
        "s-a-replicationcontroller"
    ),
    "RS_SELECTOR": (
        "Selector is a label query over pods that should match the replica count. If the "
        "selector is empty, it is defaulted to the labels present on the pod template. Label "
        "keys and values that must match in order to be controlled by this replica set. More "
        "info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-select"
        "ors"
    ),
    "RS_SPEC_REPLICAS": (
        "Replicas is the number of desired replicas. This is a pointer to distinguish between "
        "explicit zero and unspecified. Defaults to 1. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-"
        "is-a-replicationcontroller"
    ),
    "RS_STATUS_READY": "The number of ready replicas for this replica set.",
    "RS_STATUS_REPLICAS": (
        "Replicas is the most recently observed number of replicas. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-"
        "is-a-replicationcontroller"
    ),
    "SA_SECRETS": (
        "Secrets is a list of the secrets in the same namespace that pods running using this "
        "ServiceAccount are allowed to use. Pods are only limited to this list if this service "
        'account has a "kubernetes.io/enforce-mountable-secrets" annotation set to "true". The '
        '"kubernetes.io/enforce-mountable-secrets" annotation is deprecated since v1.32. '
        "Prefer separate namespaces to isolate access to mounted secrets. This field should "
        "not be used to find auto-generated service account token secrets for use outside of "
        "pods. Instead, tokens can be requested directly using the TokenRequest API, or "
        "service account token secrets can be manually created. More info: "
        "https://kubernetes.io/docs/concepts/configuration/secret"
    ),
    "SC_BINDING": (
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and "
        "bound.\n\nWhen unset, VolumeBindingImmediate is used. This field is only honored by "
        "servers that enable the VolumeScheduling feature."
    ),
    "SC_EXPANSION": "allowVolumeExpansion shows whether the storage class allow volume expand.",
    "SC_PROVISIONER": "provisioner indicates the type of the provisioner.",
    "SC_RECLAIM": (
        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned "
        "PersistentVolumes of this storage class. Defaults to Delete."
    ),
    "SECRET_DATA": (
        "Data contains the secret data. Each key must consist of alphanumeric characters, '-', "
        "'_' or '.'. The serialized form of the secret data is a base64 encoded string, "
        "representing the arbitrary (possibly non-string) data value here. Described in "
        "https://tools.ietf.org/html/rfc4648#section-4"
    ),
    "SECRET_TYPE": (
        "Used to facilitate programmatic handling of secret data. More info: "
        "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"
    ),
    "SVC_CLUSTERIP": (
        "clusterIP is the IP address of the service and is usually assigned randomly. If an "
        "address is specified manually, is in-range (as per system configuration), and is not "
        "in use, it will be allocated to the service; otherwise creation of the service will "
        "fail. This field may not be changed through updates unless the type field is also "
        "being changed to ExternalName (which requires this field to be blank) or the type "
        "field is being changed from ExternalName (in which case this field may optionally be "
        'specified, as describe above).\n\nValid values are "None", empty string (""), or a '
        'valid IP address. Setting this to "None" makes a "headless service" (no virtual IP), '
        "which is useful when direct endpoint connections are preferred and proxying is not "
        "required.\n\nOnly applies to types ClusterIP, NodePort, and LoadBalancer. If this field "
        "is specified when creating a Service of type ExternalName, creation will fail. This "
        "field will be wiped when updating a Service to type ExternalName. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-servi"
        "ce-proxies"
    ),
    "SVC_EXTERNALIPS": (
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept "
        "traffic for this service.  These IPs are not managed by Kubernetes.  The user is "
        "responsible for ensuring that traffic arrives at a node with this IP.  A common "
        "example is external load-balancers that are not part of the Kubernetes system."
    ),
    "SVC_PORTS": (
        "The list of ports that are exposed by this service. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-servi"
        "ce-proxies"
    ),
    "SVC_SELECTOR": (
        "Route service traffic to pods with label keys and values matching this selector. If "
        "empty or not present, the service is assumed to have an external process managing its "
        "endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, "
        "NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/"
    ),
    "SVC_TYPE": (
        "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are "
        'ExternalName, ClusterIP, NodePort, and LoadBalancer. "ClusterIP" allocates a '
        "cluster-internal IP address for load-balancing to endpoints. Endpoints are determined "
        "by the selector or if that is not specified, by manual construction of an Endpoints "
        'object or EndpointSlice objects. If clusterIP is "None", no virtual IP is allocated '
        "and the endpoints are published as a set of endpoints rather than a virtual IP. "
        '"NodePort" builds on ClusterIP and allocates a port on every node which routes to the '
        'same endpoints as the clusterIP. "LoadBalancer" builds on NodePort and creates an '
        "external load-balancer (if supported in the current cloud) which routes to the same "
        'endpoints as the clusterIP. "ExternalName" aliases this service to the specified '
        "externalName. Several other fields do not apply to ExternalName services. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-s"
        "ervice-types"
    ),
}

_D = _DESC
_CONTAINERS_DESC = "Names of each container in the template."
_IMAGES_DESC = "Images referenced by each container in the template."

# ---------------------------------------------------------------------------------------------
# HumanDuration (k8s.io/apimachinery/pkg/util/duration)
# ---------------------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """`duration.HumanDuration`: ~2-3 significant figures, e.g. `45s`, `3m20s`, `5h10m`, `3d4h`, `2y3d`.

    Like Go, the duration is first truncated toward zero to whole seconds; down to -1s counts as
    "now" (`0s`, clock skew), anything earlier is `<invalid>`.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or math.isnan(seconds):
        return "<invalid>"
    if math.isinf(seconds):
        return "<invalid>" if seconds < 0 else "292y"  # Go clamps durations to int64 nanoseconds
    s = int(seconds)  # truncates toward zero like int(d.Seconds())
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


# ---------------------------------------------------------------------------------------------
# Guarded access to JSON values
# ---------------------------------------------------------------------------------------------

_EMPTY: dict[str, Any] = {}


def _d(v: object) -> dict[str, Any]:
    return v if isinstance(v, dict) else _EMPTY


def _i(v: object) -> int:
    """An int32/int64 field: ints as they are, integral floats converted, anything else 0."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return 0


def _is_set(v: object) -> bool:
    """A pointer field (`*metav1.Time`, `*int32`, ...) is non-nil."""
    return v is not None and v != ""


# ---------------------------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------------------------

_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=8192)
def _parse_time(ts: str) -> datetime | None:
    """RFC 3339 (metav1.Time) or RFC 3339 with microseconds (metav1.MicroTime); None when it does not
    parse or is the zero time."""
    if len(ts) < 19 or ts[10] not in "Tt":
        return None
    try:
        t = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    if t == _ZERO_TIME:
        return None
    return t


def _time(v: object) -> datetime | None:
    return _parse_time(v) if isinstance(v, str) and v else None


def _utc_now(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now


def _since(t: datetime | None, now: datetime) -> str:
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


def translate_timestamp_since(ts: str | None, now: datetime) -> str:
    """`translateTimestampSince`: `<unknown>` for a missing or zero timestamp, else the age."""
    return _since(_time(ts), _utc_now(now))


def _age(meta: dict[str, Any], now: datetime) -> str:
    return _since(_time(meta.get("creationTimestamp")), now)


def _rfc3339(ts: object) -> str:
    """`metav1.Time.UTC().Format(time.RFC3339)` (zero time for missing)."""
    t = _time(ts) or _ZERO_TIME
    t = t.astimezone(UTC)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


# ---------------------------------------------------------------------------------------------
# Formatting helpers shared by several printers
# ---------------------------------------------------------------------------------------------


def _format_labels(m: object) -> str:
    """`labels.FormatLabels`: sorted `k=v` joined by commas, `<none>` when empty."""
    if not isinstance(m, dict) or not m:
        return "<none>"
    return ",".join(f"{k}={_s(m[k])}" for k in sorted(k for k in m if isinstance(k, str))) or "<none>"


_QNAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_DNS1123_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _valid_label_key(key: str) -> bool:
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN_RE.fullmatch(prefix):
            return False
    else:
        return False
    return 0 < len(name) <= 63 and _QNAME_RE.fullmatch(name) is not None


def _valid_label_value(value: str) -> bool:
    return len(value) <= 63 and _LABEL_VALUE_RE.fullmatch(value) is not None


def _selector_string(sel: object) -> str | None:
    """`metav1.LabelSelectorAsSelector(sel).String()`; None when the selector is invalid. A nil or
    empty selector renders as the empty string."""
    if sel is None:
        return ""
    if not isinstance(sel, dict):
        return None
    match_labels = sel.get("matchLabels")
    exprs = sel.get("matchExpressions")
    if match_labels is None:
        match_labels = {}
    if exprs is None:
        exprs = []
    if not isinstance(match_labels, dict) or not isinstance(exprs, list):
        return None
    if not match_labels and not exprs:
        return ""
    reqs: list[tuple[str, str]] = []
    for key, value in match_labels.items():
        if not isinstance(value, str) or not _valid_label_key(key) or not _valid_label_value(value):
            return None
        reqs.append((key, f"{key}={value}"))
    for expr in exprs:
        if not isinstance(expr, dict):
            return None
        key = expr.get("key")
        op = expr.get("operator")
        values = expr.get("values")
        if values is None:
            values = []
        if not isinstance(key, str) or not _valid_label_key(key) or not isinstance(values, list):
            return None
        if not all(isinstance(v, str) and _valid_label_value(v) for v in values):
            return None
        if op in ("In", "NotIn"):
            if not values:
                return None
            word = " in " if op == "In" else " notin "
            reqs.append((key, f"{key}{word}({','.join(sorted(values))})"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                return None
            reqs.append((key, key if op == "Exists" else "!" + key))
        else:
            return None
    reqs.sort(key=lambda r: r[0])  # labels.NewSelector().Add sorts requirements by key
    return ",".join(r[1] for r in reqs)


def _format_label_selector(sel: object) -> str:
    """`metav1.FormatLabelSelector`: `<none>` when empty, `<error>` when invalid."""
    s = _selector_string(sel)
    if s is None:
        return "<error>"
    return s or "<none>"


def _containers_cells(containers: object) -> tuple[str, str]:
    """`layoutContainerCells`: container names and images, comma-joined."""
    items = [_d(c) for c in _l(containers)]
    return ",".join(_s(c.get("name")) for c in items), ",".join(_s(c.get("image")) for c in items)


def _template_containers(spec: dict[str, Any]) -> tuple[str, str]:
    return _containers_cells(_d(_d(spec.get("template")).get("spec")).get("containers"))


def _quantity(v: object) -> str:
    """A `resource.Quantity` as stored (the zero quantity prints as `0`)."""
    if isinstance(v, str):
        return v or "0"
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    return "0"


def _int_or_string(v: object) -> str | None:
    if isinstance(v, str):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return None


def _bool_ptr(v: object) -> str:
    """`printBoolPtr`."""
    if isinstance(v, bool):
        return "True" if v else "False"
    return "<unset>"


def _bool_or(v: object, default: bool) -> bool:
    return v if isinstance(v, bool) else default


def _list_with_more(items: list[str], more: bool, count: int, limit: int) -> str:
    ret = ",".join(items)
    if more:
        return f"{ret} + {count - limit} more..."
    return ret or "<unset>"


def _join_host_port(host: str, port: int) -> str:
    """`net.JoinHostPort`."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def _lb_ingress_string(lb: object) -> str:
    """`loadBalancerStatusStringer` (wide): unique sorted IPs / hostnames."""
    result: set[str] = set()
    for ing in _l(_d(lb).get("ingress")):
        ing = _d(ing)
        ip = _s(ing.get("ip"))
        if ip:
            result.add(ip)
        else:
            host = _s(ing.get("hostname"))
            if host:
                result.add(host)
    return ",".join(sorted(result))


_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def _access_modes(modes: object) -> str:
    """`helper.GetAccessModesAsString`."""
    present = {m for m in _l(modes) if isinstance(m, str)}
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


# ---------------------------------------------------------------------------------------------
# Column definitions
# ---------------------------------------------------------------------------------------------


def _col(name: str, desc: str, type_: str = "string", fmt: str = "", priority: int = 0) -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": desc, "priority": priority}


def _name_col(priority: int = 0) -> dict[str, Any]:
    return _col("Name", _D["META_NAME"], fmt="name", priority=priority)


def _age_col() -> dict[str, Any]:
    return _col("Age", _D["META_CREATED"])


def _wide(name: str, desc: str) -> dict[str, Any]:
    return _col(name, desc, priority=1)


_DEFAULT_COLUMNS = [_name_col(), _col("Created At", _D["META_CREATED"], type_="date")]

_POD_COLUMNS = [
    _name_col(),
    _col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", "The aggregate status of the containers in this pod."),
    _col(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the "
        "last container in this pod has restarted.",
    ),
    _age_col(),
    _wide("IP", _D["POD_IP"]),
    _wide("Node", _D["POD_NODE"]),
    _wide("Nominated Node", _D["POD_NOMINATED"]),
    _wide("Readiness Gates", _D["POD_GATES"]),
]
_POD_TEMPLATE_COLUMNS = [
    _name_col(),
    _col("Containers", _CONTAINERS_DESC),
    _col("Images", _IMAGES_DESC),
    _col("Pod Labels", "The labels for the pod template."),
]
_PDB_COLUMNS = [
    _name_col(),
    _col("Min Available", "The minimum number of pods that must be available."),
    _col("Max Unavailable", "The maximum number of pods that may be unavailable."),
    _col("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time.", "integer"),
    _age_col(),
]
_RC_COLUMNS = [
    _name_col(),
    _col("Desired", _D["RC_SPEC_REPLICAS"], "integer"),
    _col("Current", _D["RC_STATUS_REPLICAS"], "integer"),
    _col("Ready", _D["RC_STATUS_READY"], "integer"),
    _age_col(),
    _wide("Containers", _CONTAINERS_DESC),
    _wide("Images", _IMAGES_DESC),
    _wide("Selector", _D["RC_SELECTOR"]),
]
_RS_COLUMNS = [
    _name_col(),
    _col("Desired", _D["RS_SPEC_REPLICAS"], "integer"),
    _col("Current", _D["RS_STATUS_REPLICAS"], "integer"),
    _col("Ready", _D["RS_STATUS_READY"], "integer"),
    _age_col(),
    _wide("Containers", _CONTAINERS_DESC),
    _wide("Images", _IMAGES_DESC),
    _wide("Selector", _D["RS_SELECTOR"]),
]
_DS_COLUMNS = [
    _name_col(),
    _col("Desired", _D["DS_DESIRED"], "integer"),
    _col("Current", _D["DS_CURRENT"], "integer"),
    _col("Ready", _D["DS_READY"], "integer"),
    _col("Up-to-date", _D["DS_UPDATED"], "integer"),
    _col("Available", _D["DS_AVAILABLE"], "integer"),
    _col("Node Selector", _D["POD_NODESELECTOR"]),
    _age_col(),
    _wide("Containers", _CONTAINERS_DESC),
    _wide("Images", _IMAGES_DESC),
    _wide("Selector", _D["DS_SELECTOR"]),
]
_JOB_COLUMNS = [
    _name_col(),
    _col("Status", "Status of the job."),
    _col("Completions", _D["JOB_SUCCEEDED"]),
    _col("Duration", "Time required to complete the job."),
    _age_col(),
    _wide("Containers", _CONTAINERS_DESC),
    _wide("Images", _IMAGES_DESC),
    _wide("Selector", _D["JOB_SELECTOR"]),
]
_CRONJOB_COLUMNS = [
    _name_col(),
    _col("Schedule", _D["CJ_SCHEDULE"]),
    _col("Timezone", _D["CJ_TZ"]),
    _col("Suspend", _D["CJ_SUSPEND"], "boolean"),
    _col("Active", _D["CJ_ACTIVE"], "integer"),
    _col("Last Schedule", _D["CJ_LAST"]),
    _age_col(),
    _wide("Containers", _CONTAINERS_DESC),
    _wide("Images", _IMAGES_DESC),
    _wide("Selector", _D["JOB_SELECTOR"]),
]
_SERVICE_COLUMNS = [
    _name_col(),
    _col("Type", _D["SVC_TYPE"]),
    _col("Cluster-IP", _D["SVC_CLUSTERIP"]),
    _col("External-IP", _D["SVC_EXTERNALIPS"]),
    _col("Port(s)", _D["SVC_PORTS"]),
    _age_col(),
    _wide("Selector", _D["SVC_SELECTOR"]),
]
_INGRESS_COLUMNS = [
    _name_col(),
    _col("Class", "The name of the IngressClass resource that should be used for additional configuration"),
    _col("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
    _col("Address", "Address is a list containing ingress points for the load-balancer"),
    _col("Ports", "Ports of TLS configurations that open"),
    _age_col(),
]
_INGRESS_CLASS_COLUMNS = [
    _name_col(),
    _col("Controller", "Controller that is responsible for handling this class"),
    _col("Parameters", "A reference to a resource with additional parameters"),
    _age_col(),
]
_STS_COLUMNS = [
    _name_col(),
    _col("Ready", "Number of the pod with ready state"),
    _age_col(),
    _wide("Containers", _CONTAINERS_DESC),
    _wide("Images", _IMAGES_DESC),
]
_ENDPOINTS_COLUMNS = [_name_col(), _col("Endpoints", _D["EP_SUBSETS"]), _age_col()]
_NODE_COLUMNS = [
    _name_col(),
    _col("Status", "The status of the node"),
    _col("Roles", "The roles of the node"),
    _age_col(),
    _col("Version", _D["NODE_KUBELET"]),
    _wide("Internal-IP", _D["NODE_ADDRESSES"]),
    _wide("External-IP", _D["NODE_ADDRESSES"]),
    _wide("OS-Image", _D["NODE_OSIMAGE"]),
    _wide("Kernel-Version", _D["NODE_KERNEL"]),
    _wide("Container-Runtime", _D["NODE_CRI"]),
]
_EVENT_COLUMNS = [
    _col("Last Seen", _D["EV_LAST"]),
    _col("Type", _D["EV_TYPE"]),
    _col("Reason", _D["EV_REASON"]),
    _col("Object", _D["EV_INVOLVED"]),
    _wide("Subobject", _D["EV_FIELDPATH"]),
    _wide("Source", _D["EV_SOURCE"]),
    _col("Message", _D["EV_MESSAGE"]),
    _wide("First Seen", _D["EV_FIRST"]),
    _wide("Count", _D["EV_COUNT"]),
    _name_col(priority=1),
]
_NAMESPACE_COLUMNS = [_name_col(), _col("Status", "The status of the namespace"), _age_col()]
_SECRET_COLUMNS = [_name_col(), _col("Type", _D["SECRET_TYPE"]), _col("Data", _D["SECRET_DATA"]), _age_col()]
_SA_COLUMNS = [_name_col(), _col("Secrets", _D["SA_SECRETS"]), _age_col()]
_PV_COLUMNS = [
    _name_col(),
    _col("Capacity", _D["PV_CAPACITY"]),
    _col("Access Modes", _D["PV_ACCESS"]),
    _col("Reclaim Policy", _D["PV_RECLAIM"]),
    _col("Status", _D["PV_PHASE"]),
    _col("Claim", _D["PV_CLAIM"]),
    _col("StorageClass", "StorageClass of the pv"),
    _col("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
    _col("Reason", _D["PV_REASON"]),
    _age_col(),
    _wide("VolumeMode", _D["PV_VOLMODE"]),
]
_PVC_COLUMNS = [
    _name_col(),
    _col("Status", _D["PVC_PHASE"]),
    _col("Volume", _D["PVC_VOLNAME"]),
    _col("Capacity", _D["PVC_CAPACITY"]),
    _col("Access Modes", _D["PVC_ACCESS"]),
    _col("StorageClass", "StorageClass of the pvc"),
    _col("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    _age_col(),
    _wide("VolumeMode", _D["PVC_VOLMODE"]),
]
_COMPONENT_STATUS_COLUMNS = [
    _name_col(),
    _col("Status", "Status of the component conditions"),
    _col("Message", "Message of the component conditions"),
    _col("Error", "Error of the component conditions"),
]
_DEPLOYMENT_COLUMNS = [
    _name_col(),
    _col("Ready", "Number of the pod with ready state"),
    _col("Up-to-date", _D["DEP_UPDATED"]),
    _col("Available", _D["DEP_AVAILABLE"]),
    _age_col(),
    _wide("Containers", _CONTAINERS_DESC),
    _wide("Images", _IMAGES_DESC),
    _wide("Selector", _D["DEP_SELECTOR"]),
]
_HPA_COLUMNS = [
    _name_col(),
    _col("Reference", _D["HPA_REF"]),
    _col("Targets", _D["HPA_METRICS"]),
    _col("MinPods", _D["HPA_MIN"]),
    _col("MaxPods", _D["HPA_MAX"]),
    _col("Replicas", _D["HPA_CURRENT"]),
    _age_col(),
]
_APISERVICE_COLUMNS = [
    _name_col(),
    _col("Service", "The reference to the service that hosts this API endpoint."),
    _col("Available", "Whether this service is available."),
    _age_col(),
]
_CONFIGMAP_COLUMNS = [_name_col(), _col("Data", _D["CM_DATA"]), _age_col()]
_NETPOL_COLUMNS = [_name_col(), _col("Pod-Selector", _D["NP_PODSELECTOR"]), _age_col()]
# printCertificateSigningRequest's columns (descriptions: the v1beta1 SwaggerDoc texts upstream uses)
_CSR_COLUMNS = [
    _name_col(),
    _age_col(),
    _col("SignerName", "Requested signer for the request. It is a qualified name."),
    _col("Requestor", "Base64-encoded PKCS#10 CSR data"),
    _col("RequestedDuration", "The requested duration of validity of the issued certificate."),
    _col("Condition", "Conditions applied to the request, such as approval or denial."),
]


def _binding_columns(role_ref_desc: str, what: str) -> list[dict[str, Any]]:
    return [
        _name_col(),
        _col("Role", role_ref_desc),
        _age_col(),
        _wide("Users", f"Users in the {what}"),
        _wide("Groups", f"Groups in the {what}"),
        _wide("ServiceAccounts", f"ServiceAccounts in the {what}"),
    ]


_RB_COLUMNS = _binding_columns(_D["RB_ROLEREF"], "roleBinding")
_CRB_COLUMNS = _binding_columns(_D["CRB_ROLEREF"], "clusterRoleBinding")
_LEASE_COLUMNS = [_name_col(), _col("Holder", _D["LEASE_HOLDER"]), _age_col()]
_SC_COLUMNS = [
    _name_col(),
    _col("Provisioner", _D["SC_PROVISIONER"]),
    _col("ReclaimPolicy", _D["SC_RECLAIM"]),
    _col("VolumeBindingMode", _D["SC_BINDING"]),
    _col("AllowVolumeExpansion", _D["SC_EXPANSION"]),
    _age_col(),
]
_CR_COLUMNS = [
    _name_col(),
    _col("Controller", "Controller of the object"),
    _col("Revision", _D["CR_REVISION"]),
    _age_col(),
]
_QUOTA_COLUMNS = [
    _name_col(),
    _col("Request", "Request represents a minimum amount of cpu/memory that a container may consume."),
    _col(
        "Limit",
        "Limits control the maximum amount of cpu/memory that a container may use independent "
        "of contention on the node.",
    ),
    _age_col(),
]
_PC_COLUMNS = [
    _name_col(),
    _col("Value", _D["PC_VALUE"], "integer"),
    _col("Global-Default", _D["PC_DEFAULT"], "boolean"),
    _age_col(),
    _col("PreemptionPolicy", _D["PC_PREEMPTION"]),
]
# Upstream describes Handler with ObjectMeta's (absent) "handler" doc: an empty description.
_RUNTIMECLASS_COLUMNS = [_name_col(), _col("Handler", ""), _age_col()]
_WEBHOOK_CONFIG_COLUMNS = [
    _name_col(),
    _col("Webhooks", "Webhooks indicates the number of webhooks registered in this configuration", "integer"),
    _age_col(),
]
_VAP_COLUMNS = [
    _name_col(),
    _col(
        "Validations",
        "Validations indicates the number of validation rules defined in this configuration",
        "integer",
    ),
    _col("ParamKind", "ParamKind specifies the kind of resources used to parameterize this policy"),
    _age_col(),
]
_VAPB_COLUMNS = [
    _name_col(),
    _col("PolicyName", "PolicyName indicates the policy definition which the policy binding binded to"),
    _col("ParamRef", "ParamRef indicates the param resource which sets the configration param"),
    _age_col(),
]
_ES_COLUMNS = [
    _name_col(),
    _col("AddressType", _D["ES_ADDRTYPE"]),
    _col("Ports", _D["ES_PORTS"]),
    _col("Endpoints", _D["ES_ENDPOINTS"]),
    _age_col(),
]
_CSINODE_COLUMNS = [
    _name_col(),
    _col("Drivers", "Drivers indicates the number of CSI drivers registered on the node", "integer"),
    _age_col(),
]
_CSIDRIVER_COLUMNS = [
    _name_col(),
    _col("AttachRequired", _D["CSI_ATTACH"], "boolean"),
    _col("PodInfoOnMount", _D["CSI_PODINFO"], "boolean"),
    _col("StorageCapacity", _D["CSI_CAPACITY"], "boolean"),
    _col("TokenRequests", _D["CSI_TOKENS"]),
    _col("RequiresRepublish", _D["CSI_REPUBLISH"], "boolean"),
    _col("Modes", _D["CSI_MODES"]),
    _age_col(),
]

# ---------------------------------------------------------------------------------------------
# Row printers: (obj, now) -> cells, aligned with the column definitions above
# ---------------------------------------------------------------------------------------------

Cells = list[Any]
RowPrinter = Callable[[dict[str, Any], datetime], Cells]


def _parts(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return _d(obj.get("metadata")), _d(obj.get("spec")), _d(obj.get("status"))


def _finished_at(cs: dict[str, Any]) -> datetime | None:
    """`lastState.terminated.finishedAt` of a container status (None when absent or zero)."""
    return _time(_d(_d(cs.get("lastState")).get("terminated")).get("finishedAt"))


def _condition_true(conditions: list[Any], ctype: str) -> bool:
    """The first condition of that type has status True (`isPodInitializedConditionTrue`)."""
    for c in conditions:
        c = _d(c)
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False


def _any_condition_true(conditions: list[Any], ctype: str) -> bool:
    """Some condition of that type has status True (`hasPodReadyCondition`)."""
    return any(_d(c).get("type") == ctype and _d(c).get("status") == "True" for c in conditions)


def _pod_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    containers = _l(spec.get("containers"))
    init_specs = _l(spec.get("initContainers"))
    conditions = _l(status.get("conditions"))

    restarts = 0
    sidecar_restarts = 0
    total = len(containers)
    ready = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    phase = _s(status.get("phase"))
    status_reason = _s(status.get("reason"))
    reason = status_reason or phase

    for c in conditions:
        c = _d(c)
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    # name -> restartable ("sidecar"): the last init container of a name wins, like upstream's map.
    sidecar: dict[str, bool] = {}
    for ic in init_specs:
        ic = _d(ic)
        restartable = ic.get("restartPolicy") == "Always"
        sidecar[_s(ic.get("name"))] = restartable
        if restartable:
            total += 1

    initializing = False
    for i, cs in enumerate(_l(status.get("initContainerStatuses"))):
        cs = _d(cs)
        count = _i(cs.get("restartCount"))
        restarts += count
        finished = _finished_at(cs)
        if finished is not None and (last_restart is None or last_restart < finished):
            last_restart = finished
        is_sidecar = sidecar.get(_s(cs.get("name")), False)
        if is_sidecar:
            sidecar_restarts += count
            if finished is not None and (last_sidecar_restart is None or last_sidecar_restart < finished):
                last_sidecar_restart = finished
        state = _d(cs.get("state"))
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if isinstance(terminated, dict) and _i(terminated.get("exitCode")) == 0:
            continue
        if is_sidecar and cs.get("started") is True:
            if cs.get("ready") is True:
                ready += 1
            continue
        if isinstance(terminated, dict):
            term_reason = _s(terminated.get("reason"))
            if term_reason:
                reason = "Init:" + term_reason
            elif _i(terminated.get("signal")) != 0:
                reason = f"Init:Signal:{_i(terminated.get('signal'))}"
            else:
                reason = f"Init:ExitCode:{_i(terminated.get('exitCode'))}"
        elif isinstance(waiting, dict) and _s(waiting.get("reason")) not in ("", "PodInitializing"):
            reason = "Init:" + _s(waiting.get("reason"))
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for cs in reversed(_l(status.get("containerStatuses"))):
            cs = _d(cs)
            restarts += _i(cs.get("restartCount"))
            finished = _finished_at(cs)
            if finished is not None and (last_restart is None or last_restart < finished):
                last_restart = finished
            state = _d(cs.get("state"))
            terminated = state.get("terminated")
            waiting = state.get("waiting")
            if isinstance(waiting, dict) and _s(waiting.get("reason")):
                reason = _s(waiting.get("reason"))
            elif isinstance(terminated, dict) and _s(terminated.get("reason")):
                reason = _s(terminated.get("reason"))
            elif isinstance(terminated, dict):
                signal = _i(terminated.get("signal"))
                reason = f"Signal:{signal}" if signal != 0 else f"ExitCode:{_i(terminated.get('exitCode'))}"
            elif cs.get("ready") is True and isinstance(state.get("running"), dict):
                has_running = True
                ready += 1
        # at least one container still reports Running: the pod is not "Completed" yet
        if reason == "Completed" and has_running:
            reason = "Running" if _any_condition_true(conditions, "Ready") else "NotReady"

    if _is_set(meta.get("deletionTimestamp")):
        if status_reason == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_cell = f"{restarts} ({_since(last_restart, now)} ago)"

    # v1 -> internal conversion: podIP is authoritative, else podIPs[0].
    pod_ip = _s(status.get("podIP"))
    if not pod_ip:
        ips = _l(status.get("podIPs"))
        pod_ip = _s(_d(ips[0]).get("ip")) if ips else ""
    gates = _l(spec.get("readinessGates"))
    readiness_gates = "<none>"
    if gates:
        true_count = 0
        for gate in gates:
            ctype = _d(gate).get("conditionType")
            for c in conditions:
                c = _d(c)
                if c.get("type") == ctype:
                    if c.get("status") == "True":
                        true_count += 1
                    break
        readiness_gates = f"{true_count}/{len(gates)}"
    return [
        _s(meta.get("name")),
        f"{ready}/{total}",
        reason,
        restarts_cell,
        _age(meta, now),
        pod_ip or "<none>",
        _s(spec.get("nodeName")) or "<none>",
        _s(status.get("nominatedNodeName")) or "<none>",
        readiness_gates,
    ]


def _pod_conditions(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
    phase = _d(obj.get("status")).get("phase")
    if phase == "Succeeded":
        return [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return None


def _pod_template_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    template = _d(obj.get("template"))
    names, images = _containers_cells(_d(template.get("spec")).get("containers"))
    return [_s(meta.get("name")), names, images, _format_labels(_d(template.get("metadata")).get("labels"))]


def _pdb_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    min_available = _int_or_string(spec.get("minAvailable"))
    max_unavailable = _int_or_string(spec.get("maxUnavailable"))
    return [
        _s(meta.get("name")),
        "N/A" if min_available is None else min_available,
        "N/A" if max_unavailable is None else max_unavailable,
        _i(status.get("disruptionsAllowed")),
        _age(meta, now),
    ]


def _rc_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    names, images = _template_containers(spec)
    return [
        _s(meta.get("name")),
        _i(spec.get("replicas")),
        _i(status.get("replicas")),
        _i(status.get("readyReplicas")),
        _age(meta, now),
        names,
        images,
        _format_labels(spec.get("selector")),
    ]


def _rs_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    names, images = _template_containers(spec)
    return [
        _s(meta.get("name")),
        _i(spec.get("replicas")),
        _i(status.get("replicas")),
        _i(status.get("readyReplicas")),
        _age(meta, now),
        names,
        images,
        _format_label_selector(spec.get("selector")),
    ]


def _job_condition(conditions: list[Any], ctype: str) -> bool:
    """`hasJobCondition`: the first condition of that type decides."""
    return _condition_true(conditions, ctype)


def _job_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    succeeded = _i(status.get("succeeded"))
    completions_spec = spec.get("completions")
    if _is_set(completions_spec):
        completions = f"{succeeded}/{_i(completions_spec)}"
    else:
        parallelism = _i(spec.get("parallelism"))
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start_t = _time(status.get("startTime"))
    if start_t is None:
        duration = ""
    else:
        end_t = _time(status.get("completionTime")) or now  # still running: time since start
        duration = human_duration((end_t - start_t).total_seconds())
    conditions = _l(status.get("conditions"))
    if _job_condition(conditions, "Complete"):
        job_status = "Complete"
    elif _job_condition(conditions, "Failed"):
        job_status = "Failed"
    elif _is_set(meta.get("deletionTimestamp")):
        job_status = "Terminating"
    elif _job_condition(conditions, "Suspended"):
        job_status = "Suspended"
    elif _job_condition(conditions, "FailureTarget"):
        job_status = "FailureTarget"
    else:
        job_status = "Running"
    names, images = _template_containers(spec)
    return [
        _s(meta.get("name")),
        job_status,
        completions,
        duration,
        _age(meta, now),
        names,
        images,
        _format_label_selector(spec.get("selector")),
    ]


def _cronjob_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    last = status.get("lastScheduleTime")
    last_schedule = _since(_time(last), now) if _is_set(last) else "<none>"
    tz = spec.get("timeZone")
    job_spec = _d(_d(spec.get("jobTemplate")).get("spec"))
    names, images = _template_containers(job_spec)
    return [
        _s(meta.get("name")),
        _s(spec.get("schedule")),
        _s(tz) if tz is not None else "<none>",
        _bool_ptr(spec.get("suspend")),
        len(_l(status.get("active"))),
        last_schedule,
        _age(meta, now),
        names,
        images,
        _format_label_selector(job_spec.get("selector")),
    ]


def _service_external_ip(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """`getServiceExternalIP` (wide)."""
    svc_type = spec.get("type")
    external_ips = [ip for ip in _l(spec.get("externalIPs")) if isinstance(ip, str)]
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) if external_ips else "<none>"
    if svc_type == "LoadBalancer":
        lb_ips = _lb_ingress_string(status.get("loadBalancer"))
        if external_ips:
            return ",".join((lb_ips.split(",") if lb_ips else []) + external_ips)
        return lb_ips or "<pending>"
    if svc_type == "ExternalName":
        return _s(spec.get("externalName"))
    return "<unknown>"


def _service_ports(ports: object) -> str:
    """`makePortString`."""
    pieces = []
    for p in _l(ports):
        p = _d(p)
        protocol = _s(p.get("protocol"))
        node_port = _i(p.get("nodePort"))
        if node_port > 0:
            pieces.append(f"{_i(p.get('port'))}:{node_port}/{protocol}")
        else:
            pieces.append(f"{_i(p.get('port'))}/{protocol}")
    return ",".join(pieces)


def _service_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    # v1 -> internal conversion: clusterIP is authoritative, else clusterIPs[0].
    cluster_ip = _s(spec.get("clusterIP"))
    if not cluster_ip:
        cluster_ips = _l(spec.get("clusterIPs"))
        cluster_ip = _s(cluster_ips[0]) if cluster_ips else ""
    return [
        _s(meta.get("name")),
        _s(spec.get("type")),
        cluster_ip or "<none>",
        _service_external_ip(spec, status),
        _service_ports(spec.get("ports")) or "<none>",
        _age(meta, now),
        _format_labels(spec.get("selector")),
    ]


def _ingress_hosts(rules: object) -> str:
    """`formatHosts`."""
    rule_list = _l(rules)
    hosts: list[str] = []
    more = False
    for rule in rule_list:
        if len(hosts) == 3:
            more = True
        host = _s(_d(rule).get("host"))
        if not more and host:
            hosts.append(host)
    if not hosts:
        return "*"
    ret = ",".join(hosts)
    if more:
        return f"{ret} + {len(rule_list) - 3} more..."
    return ret


def _ingress_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    class_name = spec.get("ingressClassName")
    return [
        _s(meta.get("name")),
        _s(class_name) if class_name is not None else "<none>",
        _ingress_hosts(spec.get("rules")),
        _lb_ingress_string(status.get("loadBalancer")),
        "80, 443" if _l(spec.get("tls")) else "80",
        _age(meta, now),
    ]


def _ingress_class_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, _ = _parts(obj)
    params = spec.get("parameters")
    parameters = "<none>"
    if isinstance(params, dict):
        parameters = _s(params.get("kind"))
        api_group = params.get("apiGroup")
        if api_group is not None:
            parameters += "." + _s(api_group)
        parameters += "/" + _s(params.get("name"))
    return [_s(meta.get("name")), _s(spec.get("controller")), parameters, _age(meta, now)]


def _sts_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    names, images = _template_containers(spec)
    return [
        _s(meta.get("name")),
        f"{_i(status.get('readyReplicas'))}/{_i(spec.get('replicas'))}",
        _age(meta, now),
        names,
        images,
    ]


def _ds_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    template_spec = _d(_d(spec.get("template")).get("spec"))
    names, images = _containers_cells(template_spec.get("containers"))
    return [
        _s(meta.get("name")),
        _i(status.get("desiredNumberScheduled")),
        _i(status.get("currentNumberScheduled")),
        _i(status.get("numberReady")),
        _i(status.get("updatedNumberScheduled")),
        _i(status.get("numberAvailable")),
        _format_labels(template_spec.get("nodeSelector")),
        _age(meta, now),
        names,
        images,
        _format_label_selector(spec.get("selector")),
    ]


def _format_endpoints(subsets: object) -> str:
    """`formatEndpoints` (all ports): `ip:port,...` with at most 3 shown."""
    subset_list = _l(subsets)
    if not subset_list:
        return "<none>"
    items: list[str] = []
    limit = 3
    more = False
    count = 0
    for ss in subset_list:
        ss = _d(ss)
        addresses = _l(ss.get("addresses"))
        ports = _l(ss.get("ports"))
        if not ports:
            # headless services may have no ports
            count += len(addresses)
            for addr in addresses:
                if len(items) == limit:
                    more = True
                    break
                items.append(_s(_d(addr).get("ip")))
            continue
        for port in ports:
            port_num = _i(_d(port).get("port"))
            count += len(addresses)
            for addr in addresses:
                if len(items) == limit:
                    more = True
                    break
                items.append(_join_host_port(_s(_d(addr).get("ip")), port_num))
    ret = ",".join(items)
    if more:
        return f"{ret} + {count - limit} more..."
    return ret


def _endpoints_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    return [_s(meta.get("name")), _format_endpoints(obj.get("subsets")), _age(meta, now)]


def _endpointslice_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    ports: list[str] = []
    more = False
    count = 0
    for port in _l(obj.get("ports")):
        port = _d(port)
        if len(ports) < 3:
            if port.get("port") is not None:
                ports.append(str(_i(port.get("port"))))
            elif port.get("name") is not None:
                ports.append(_s(port.get("name")))
            else:
                ports.append("*")
        elif len(ports) == 3:
            more = True
        count += 1
    addresses: list[str] = []
    more_addr = False
    addr_count = 0
    for ep in _l(obj.get("endpoints")):
        for address in _l(_d(ep).get("addresses")):
            if len(addresses) < 3:
                addresses.append(_s(address))
            elif len(addresses) == 3:
                more_addr = True
            addr_count += 1
    return [
        _s(meta.get("name")),
        _s(obj.get("addressType")),
        _list_with_more(ports, more, count, 3),
        _list_with_more(addresses, more_addr, addr_count, 3),
        _age(meta, now),
    ]


def _csinode_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, _ = _parts(obj)
    return [_s(meta.get("name")), len(_l(spec.get("drivers"))), _age(meta, now)]


def _csidriver_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, _ = _parts(obj)
    modes = ",".join(_s(m) for m in _l(spec.get("volumeLifecycleModes"))) or "<none>"
    token_requests = "<unset>"
    if spec.get("tokenRequests") is not None:
        token_requests = ",".join(_s(_d(t).get("audience")) for t in _l(spec.get("tokenRequests")))
    return [
        _s(meta.get("name")),
        _bool_or(spec.get("attachRequired"), True),
        _bool_or(spec.get("podInfoOnMount"), False),
        _bool_or(spec.get("storageCapacity"), False),
        token_requests,
        _bool_or(spec.get("requiresRepublish"), False),
        modes,
        _age(meta, now),
    ]


def _namespace_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, _, status = _parts(obj)
    return [_s(meta.get("name")), _s(status.get("phase")), _age(meta, now)]


def _secret_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    data = obj.get("data")
    return [
        _s(meta.get("name")),
        _s(obj.get("type")),
        len(data) if isinstance(data, dict) else 0,
        _age(meta, now),
    ]


def _sa_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    return [_s(meta.get("name")), len(_l(obj.get("secrets"))), _age(meta, now)]


def _configmap_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    data = obj.get("data")
    binary = obj.get("binaryData")
    n = (len(data) if isinstance(data, dict) else 0) + (len(binary) if isinstance(binary, dict) else 0)
    return [_s(meta.get("name")), n, _age(meta, now)]


def _node_roles(labels: dict[str, Any]) -> list[str]:
    """`findNodeRoles`."""
    roles: set[str] = set()
    for k, v in labels.items():
        if not isinstance(k, str):
            continue
        if k.startswith("node-role.kubernetes.io/"):
            role = k[len("node-role.kubernetes.io/") :]
            if role:
                roles.add(role)
        elif k == "kubernetes.io/role" and isinstance(v, str) and v:
            roles.add(v)
    return sorted(roles)


def _node_address(status: dict[str, Any], kind: str) -> str:
    for addr in _l(status.get("addresses")):
        addr = _d(addr)
        if addr.get("type") == kind:
            return _s(addr.get("address"))
    return "<none>"


def _node_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    ready_condition: dict[str, Any] | None = None
    for c in _l(status.get("conditions")):
        c = _d(c)
        if c.get("type") == "Ready":
            ready_condition = c  # like upstream's map, the last one of a type wins
    if ready_condition is None:
        states = ["Unknown"]
    else:
        states = ["Ready" if ready_condition.get("status") == "True" else "NotReady"]
    if spec.get("unschedulable") is True:
        states.append("SchedulingDisabled")
    roles = ",".join(_node_roles(_d(meta.get("labels")))) or "<none>"
    info = _d(status.get("nodeInfo"))
    return [
        _s(meta.get("name")),
        ",".join(states),
        roles,
        _age(meta, now),
        _s(info.get("kubeletVersion")),
        _node_address(status, "InternalIP"),
        _node_address(status, "ExternalIP"),
        _s(info.get("osImage")) or "<unknown>",
        _s(info.get("kernelVersion")) or "<unknown>",
        _s(info.get("containerRuntimeVersion")) or "<unknown>",
    ]


def _pv_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    claim = ""
    claim_ref = spec.get("claimRef")
    if isinstance(claim_ref, dict):
        claim = f"{_s(claim_ref.get('namespace'))}/{_s(claim_ref.get('name'))}"
    phase = "Terminating" if _is_set(meta.get("deletionTimestamp")) else _s(status.get("phase"))
    annotations = _d(meta.get("annotations"))
    if "volume.beta.kubernetes.io/storage-class" in annotations:
        storage_class = _s(annotations["volume.beta.kubernetes.io/storage-class"])
    else:
        storage_class = _s(spec.get("storageClassName"))
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        _s(meta.get("name")),
        _quantity(_d(spec.get("capacity")).get("storage")),
        _access_modes(spec.get("accessModes")),
        _s(spec.get("persistentVolumeReclaimPolicy")),
        phase,
        claim,
        storage_class,
        _s(vac) if vac is not None else "<unset>",
        _s(status.get("reason")),
        _age(meta, now),
        _s(mode) if mode is not None else "<unset>",
    ]


def _pvc_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    phase = "Terminating" if _is_set(meta.get("deletionTimestamp")) else _s(status.get("phase"))
    volume_name = _s(spec.get("volumeName"))
    capacity = ""
    access_modes = ""
    if volume_name:
        access_modes = _access_modes(status.get("accessModes"))
        capacity = _quantity(_d(status.get("capacity")).get("storage"))
    annotations = _d(meta.get("annotations"))
    if "volume.beta.kubernetes.io/storage-class" in annotations:
        storage_class = _s(annotations["volume.beta.kubernetes.io/storage-class"])
    else:
        storage_class = _s(spec.get("storageClassName"))
    vac = spec.get("volumeAttributesClassName")
    mode = spec.get("volumeMode")
    return [
        _s(meta.get("name")),
        phase,
        volume_name,
        capacity,
        access_modes,
        storage_class,
        _s(vac) if vac is not None else "<unset>",
        _age(meta, now),
        _s(mode) if mode is not None else "<unset>",
    ]


def _event_row(
    now: datetime,
    name: str,
    first_ts: object,
    last_ts: object,
    event_time: object,
    series: object,
    count: int,
    involved: dict[str, Any],
    source: dict[str, Any],
    reporting_controller: str,
    reporting_instance: str,
    ev_type: str,
    reason: str,
    message: str,
) -> Cells:
    """`printEvent` on the internal (core) Event."""
    first_t = _time(first_ts)
    first = _since(first_t if first_t is not None else _time(event_time), now)
    last_t = _time(last_ts)
    last = _since(last_t, now) if last_t is not None else first
    if isinstance(series, dict):
        last = _since(_time(series.get("lastObservedTime")), now)
        count = _i(series.get("count"))
    elif count == 0:
        count = 1  # singleton events have no count in the new API
    kind = _s(involved.get("kind")).lower()
    involved_name = _s(involved.get("name"))
    target = f"{kind}/{involved_name}" if involved_name else kind
    component = _s(source.get("component")) or reporting_controller
    host = _s(source.get("host")) or reporting_instance
    source_cell = f"{component}, {host}" if host else component
    return [
        last,
        ev_type,
        reason,
        target,
        _s(involved.get("fieldPath")),
        source_cell,
        message.strip(),
        first,
        count,
        name,
    ]


def _core_event_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    return _event_row(
        now,
        _s(meta.get("name")),
        obj.get("firstTimestamp"),
        obj.get("lastTimestamp"),
        obj.get("eventTime"),
        obj.get("series"),
        _i(obj.get("count")),
        _d(obj.get("involvedObject")),
        _d(obj.get("source")),
        _s(obj.get("reportingComponent")),
        _s(obj.get("reportingInstance")),
        _s(obj.get("type")),
        _s(obj.get("reason")),
        _s(obj.get("message")),
    )


def _events_v1_cells(obj: dict[str, Any], now: datetime) -> Cells:
    """events.k8s.io/v1 Events share storage with core Events and print through the same internal
    printer, after conversion (regarding -> involvedObject, note -> message, deprecated* -> ...)."""
    return _core_event_cells(events_v1_to_core(obj), now)


def _subjects(subjects: object) -> tuple[str, str, str]:
    """`rbac.SubjectsStrings`, each list joined by `, `."""
    users: list[str] = []
    groups: list[str] = []
    sas: list[str] = []
    for subject in _l(subjects):
        subject = _d(subject)
        kind = subject.get("kind")
        name = _s(subject.get("name"))
        if kind == "ServiceAccount":
            sas.append(f"{_s(subject.get('namespace'))}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return ", ".join(users), ", ".join(groups), ", ".join(sas)


def _binding_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    ref = _d(obj.get("roleRef"))
    users, groups, sas = _subjects(obj.get("subjects"))
    return [
        _s(meta.get("name")),
        f"{_s(ref.get('kind'))}/{_s(ref.get('name'))}",
        _age(meta, now),
        users,
        groups,
        sas,
    ]


def _component_status_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    status, message, error = "Unknown", "", ""
    for c in _l(obj.get("conditions")):
        c = _d(c)
        if c.get("type") == "Healthy":
            status = "Healthy" if c.get("status") == "True" else "Unhealthy"
            message = _s(c.get("message"))
            error = _s(c.get("error"))
            break
    return [_s(meta.get("name")), status, message, error]


def _deployment_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, status = _parts(obj)
    selector = _selector_string(spec.get("selector"))
    names, images = _template_containers(spec)
    return [
        _s(meta.get("name")),
        f"{_i(status.get('readyReplicas'))}/{_i(spec.get('replicas'))}",
        _i(status.get("updatedReplicas")),
        _i(status.get("availableReplicas")),
        _age(meta, now),
        names,
        images,
        "<invalid>" if selector is None else selector,
    ]


def _hpa_target(current: str, target: str, name: str = "", avg: bool = False) -> str:
    text = f"{current}/{target}" + (" (avg)" if avg else "")
    return f"{name}: {text}" if name else text


def _qstr(v: object) -> str:
    """`(*resource.Quantity).String()`: `<nil>` for an absent quantity."""
    return "<nil>" if v is None else _quantity(v)


_HPA_SOURCES = {
    "External": "external",
    "Pods": "pods",
    "Object": "object",
    "Resource": "resource",
    "ContainerResource": "containerResource",
}


def _hpa_metric(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """One metric of `formatHPAMetrics`: current/target, `<unknown>` without a current value."""
    key = _HPA_SOURCES.get(_s(spec.get("type")))
    if key is None:
        return "<unknown type>"
    target = _d(_d(spec.get(key)).get("target"))
    has_status = isinstance(status.get(key), dict)
    cur = _d(_d(status.get(key)).get("current"))
    name = _s(_d(spec.get(key)).get("name")) if key in ("resource", "containerResource") else ""
    if key == "pods":
        current = _qstr(cur.get("averageValue")) if has_status else "<unknown>"
        return _hpa_target(current, _qstr(target.get("averageValue")))
    if key in ("external", "object"):
        if target.get("averageValue") is not None:
            current = _qstr(cur["averageValue"]) if cur.get("averageValue") is not None else "<unknown>"
            return _hpa_target(current, _qstr(target["averageValue"]), avg=True)
        current = _qstr(cur.get("value")) if has_status else "<unknown>"
        return _hpa_target(current, _qstr(target.get("value")))
    if target.get("averageValue") is not None:
        current = _qstr(cur.get("averageValue")) if has_status else "<unknown>"
        return _hpa_target(current, _qstr(target["averageValue"]), name)
    util = cur.get("averageUtilization")
    current = f"{_i(util)}%" if has_status and util is not None else "<unknown>"
    goal = target.get("averageUtilization")
    return _hpa_target(current, "<auto>" if goal is None else f"{_i(goal)}%", name)


def _hpa_metrics(metrics: list[Any], statuses: list[Any]) -> str:
    """`formatHPAMetrics`: the first two metrics, then `+ N more...`."""
    if not metrics:
        return "<none>"
    shown = [
        _hpa_metric(_d(m), _d(statuses[i]) if i < len(statuses) else _EMPTY) for i, m in enumerate(metrics)
    ]
    if len(shown) > 2:
        return f"{', '.join(shown[:2])} + {len(shown) - 2} more..."
    return ", ".join(shown)


def _hpa_cells(obj: dict[str, Any], now: datetime) -> Cells:
    """`printHorizontalPodAutoscaler` (on the internal object: autoscaling/v1 rows are converted)."""
    meta, spec, status = _parts(as_internal(obj))
    ref = _d(spec.get("scaleTargetRef"))
    min_pods = spec.get("minReplicas")
    return [
        _s(meta.get("name")),
        f"{_s(ref.get('kind'))}/{_s(ref.get('name'))}",
        _hpa_metrics(_l(spec.get("metrics")), _l(status.get("currentMetrics"))),
        "<unset>" if min_pods is None else str(_i(min_pods)),
        _i(spec.get("maxReplicas")),
        _i(status.get("currentReplicas")),
        _age(meta, now),
    ]


def _netpol_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, _ = _parts(obj)
    pod_selector = spec.get("podSelector")
    return [
        _s(meta.get("name")),
        _format_label_selector(pod_selector if pod_selector is not None else {}),
        _age(meta, now),
    ]


def _lease_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, spec, _ = _parts(obj)
    return [_s(meta.get("name")), _s(spec.get("holderIdentity")), _age(meta, now)]


def _storageclass_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    annotations = _d(meta.get("annotations"))
    name = _s(meta.get("name"))
    if (
        annotations.get("storageclass.kubernetes.io/is-default-class") == "true"
        or annotations.get("storageclass.beta.kubernetes.io/is-default-class") == "true"
    ):
        name += " (default)"
    reclaim = obj.get("reclaimPolicy")
    binding = obj.get("volumeBindingMode")
    return [
        name,
        _s(obj.get("provisioner")),
        _s(reclaim) if reclaim is not None else "Delete",
        _s(binding) if binding is not None else "Immediate",
        _bool_or(obj.get("allowVolumeExpansion"), False),
        _age(meta, now),
    ]


def _controller_revision_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    controller = "<none>"
    for ref in _l(meta.get("ownerReferences")):
        ref = _d(ref)
        if ref.get("controller") is not True:
            continue
        api_version = _s(ref.get("apiVersion"))
        kind = _s(ref.get("kind"))
        name = _s(ref.get("name"))
        slashes = api_version.count("/")
        # schema.ParseGroupVersion: "" or "v1" -> core; "apps/v1" -> apps; more slashes is invalid
        group = api_version.split("/", 1)[0] if slashes == 1 and api_version != "/" else ""
        if slashes > 1:
            controller = "<invalid>"
        elif not group and not kind:
            controller = name
        else:
            group_kind = f"{kind}.{group}" if group else kind
            controller = f"{group_kind.lower()}/{name}"
        break
    return [_s(meta.get("name")), controller, _i(obj.get("revision")), _age(meta, now)]


def _quota_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta, _, status = _parts(obj)
    hard = _d(status.get("hard"))
    used = _d(status.get("used"))
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(k for k in hard if isinstance(k, str)):
        pieces = resource.split(".")
        target = limits if len(pieces) > 1 and pieces[0] == "limits" else requests
        target.append(f"{resource}: {_quantity(used.get(resource))}/{_quantity(hard[resource])}")
    return [_s(meta.get("name")), ", ".join(requests), ", ".join(limits), _age(meta, now)]


def _priorityclass_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    return [
        _s(meta.get("name")),
        _i(obj.get("value")),
        obj.get("globalDefault") is True,
        _age(meta, now),
        _s(obj.get("preemptionPolicy")),
    ]


def _runtimeclass_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    return [_s(meta.get("name")), _s(obj.get("handler")), _age(meta, now)]


def _webhook_config_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    hooks = obj.get("webhooks")
    return [_s(meta.get("name")), len(hooks) if isinstance(hooks, list) else 0, _age(meta, now)]


def _vap_cells(obj: dict[str, Any], now: datetime) -> Cells:
    from vcluster.apiserver.vapvalidation import param_kind_cell

    meta, spec = _d(obj.get("metadata")), _d(obj.get("spec"))
    validations = spec.get("validations")
    count = len(validations) if isinstance(validations, list) else 0
    return [_s(meta.get("name")), count, param_kind_cell(obj), _age(meta, now)]


def _vapb_cells(obj: dict[str, Any], now: datetime) -> Cells:
    from vcluster.apiserver.vapvalidation import param_ref_cell

    meta, spec = _d(obj.get("metadata")), _d(obj.get("spec"))
    return [_s(meta.get("name")), _s(spec.get("policyName")), param_ref_cell(obj), _age(meta, now)]


def _csr_cells(obj: dict[str, Any], now: datetime) -> Cells:
    """printCertificateSigningRequest: signer, requesting user, requested duration, condition."""
    from vcluster.apiserver.certificates import status_summary

    meta, spec = _d(obj.get("metadata")), _d(obj.get("spec"))
    exp = spec.get("expirationSeconds")
    duration = human_duration(exp) if isinstance(exp, int) and not isinstance(exp, bool) else "<none>"
    return [
        _s(meta.get("name")),
        _age(meta, now),
        _s(spec.get("signerName")) or "<none>",
        _s(spec.get("username")),
        duration,
        status_summary(obj),
    ]


def _apiservice_cells(obj: dict[str, Any], now: datetime) -> Cells:
    """kube-aggregator's APIService ConvertToTable: name, service (or Local), Available, age."""
    from vcluster.apiserver.apiregistration import table_cells

    meta = _d(obj.get("metadata"))
    service, available = table_cells(obj)
    return [_s(meta.get("name")), service, available, _age(meta, now)]


def _flow_schema_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    cells = flowcontrol_tables.flow_schema_cells(obj)
    return [_s(meta.get("name")), *cells[:3], _age(meta, now), cells[3]]


def _priority_level_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    return [_s(meta.get("name")), *flowcontrol_tables.priority_level_cells(obj), _age(meta, now)]


def _volume_attachment_cells(obj: dict[str, Any], now: datetime) -> Cells:
    meta = _d(obj.get("metadata"))
    return [_s(meta.get("name")), *csi_tables.volume_attachment_cells(obj), _age(meta, now)]


_FLOW_SCHEMA_COLUMNS = [
    _name_col(),
    *flowcontrol_tables.FLOW_SCHEMA_COLUMNS,
    _age_col(),
    flowcontrol_tables.FLOW_SCHEMA_MISSING_PL,
]
_PRIORITY_LEVEL_COLUMNS = [_name_col(), *flowcontrol_tables.PRIORITY_LEVEL_COLUMNS, _age_col()]
_VOLUME_ATTACHMENT_COLUMNS = [_name_col(), *csi_tables.VOLUME_ATTACHMENT_COLUMNS, _age_col()]


def _default_cells(obj: dict[str, Any], now: datetime) -> Cells:
    """`rest.defaultTableConvertor`: name and RFC 3339 creation time."""
    meta = _d(obj.get("metadata"))
    return [_s(meta.get("name")), _rfc3339(meta.get("creationTimestamp"))]


# (group, resource) -> (column definitions, row printer)
_PRINTERS: dict[tuple[str, str], tuple[list[dict[str, Any]], RowPrinter]] = {
    ("", "pods"): (_POD_COLUMNS, _pod_cells),
    ("", "podtemplates"): (_POD_TEMPLATE_COLUMNS, _pod_template_cells),
    ("", "replicationcontrollers"): (_RC_COLUMNS, _rc_cells),
    ("", "services"): (_SERVICE_COLUMNS, _service_cells),
    ("", "endpoints"): (_ENDPOINTS_COLUMNS, _endpoints_cells),
    ("", "nodes"): (_NODE_COLUMNS, _node_cells),
    ("", "events"): (_EVENT_COLUMNS, _core_event_cells),
    ("", "namespaces"): (_NAMESPACE_COLUMNS, _namespace_cells),
    ("", "secrets"): (_SECRET_COLUMNS, _secret_cells),
    ("", "serviceaccounts"): (_SA_COLUMNS, _sa_cells),
    ("", "persistentvolumes"): (_PV_COLUMNS, _pv_cells),
    ("", "persistentvolumeclaims"): (_PVC_COLUMNS, _pvc_cells),
    ("", "componentstatuses"): (_COMPONENT_STATUS_COLUMNS, _component_status_cells),
    ("", "configmaps"): (_CONFIGMAP_COLUMNS, _configmap_cells),
    ("", "resourcequotas"): (_QUOTA_COLUMNS, _quota_cells),
    ("apps", "deployments"): (_DEPLOYMENT_COLUMNS, _deployment_cells),
    ("apps", "replicasets"): (_RS_COLUMNS, _rs_cells),
    ("apps", "statefulsets"): (_STS_COLUMNS, _sts_cells),
    ("apps", "daemonsets"): (_DS_COLUMNS, _ds_cells),
    ("apps", "controllerrevisions"): (_CR_COLUMNS, _controller_revision_cells),
    ("autoscaling", "horizontalpodautoscalers"): (_HPA_COLUMNS, _hpa_cells),
    ("batch", "jobs"): (_JOB_COLUMNS, _job_cells),
    ("batch", "cronjobs"): (_CRONJOB_COLUMNS, _cronjob_cells),
    ("events.k8s.io", "events"): (_EVENT_COLUMNS, _events_v1_cells),
    ("networking.k8s.io", "ingresses"): (_INGRESS_COLUMNS, _ingress_cells),
    ("networking.k8s.io", "ingressclasses"): (_INGRESS_CLASS_COLUMNS, _ingress_class_cells),
    ("networking.k8s.io", "networkpolicies"): (_NETPOL_COLUMNS, _netpol_cells),
    ("policy", "poddisruptionbudgets"): (_PDB_COLUMNS, _pdb_cells),
    ("rbac.authorization.k8s.io", "rolebindings"): (_RB_COLUMNS, _binding_cells),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): (_CRB_COLUMNS, _binding_cells),
    ("coordination.k8s.io", "leases"): (_LEASE_COLUMNS, _lease_cells),
    ("storage.k8s.io", "storageclasses"): (_SC_COLUMNS, _storageclass_cells),
    ("storage.k8s.io", "csidrivers"): (_CSIDRIVER_COLUMNS, _csidriver_cells),
    ("storage.k8s.io", "csinodes"): (_CSINODE_COLUMNS, _csinode_cells),
    ("storage.k8s.io", "volumeattachments"): (_VOLUME_ATTACHMENT_COLUMNS, _volume_attachment_cells),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): (_FLOW_SCHEMA_COLUMNS, _flow_schema_cells),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): (
        _PRIORITY_LEVEL_COLUMNS,
        _priority_level_cells,
    ),
    ("scheduling.k8s.io", "priorityclasses"): (_PC_COLUMNS, _priorityclass_cells),
    ("node.k8s.io", "runtimeclasses"): (_RUNTIMECLASS_COLUMNS, _runtimeclass_cells),
    ("discovery.k8s.io", "endpointslices"): (_ES_COLUMNS, _endpointslice_cells),
    ("certificates.k8s.io", "certificatesigningrequests"): (_CSR_COLUMNS, _csr_cells),
    ("apiregistration.k8s.io", "apiservices"): (_APISERVICE_COLUMNS, _apiservice_cells),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): (
        _WEBHOOK_CONFIG_COLUMNS,
        _webhook_config_cells,
    ),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): (
        _WEBHOOK_CONFIG_COLUMNS,
        _webhook_config_cells,
    ),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): (_VAP_COLUMNS, _vap_cells),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): (_VAPB_COLUMNS, _vapb_cells),
}
_DEFAULT_PRINTER: tuple[list[dict[str, Any]], RowPrinter] = (_DEFAULT_COLUMNS, _default_cells)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _printer(group: str, resource: str) -> tuple[list[dict[str, Any]], RowPrinter]:
    return _PRINTERS.get((group, resource), _DEFAULT_PRINTER)


def column_definitions(group: str, resource: str) -> list[dict[str, Any]]:
    """The Table's `columnDefinitions` for a resource (default: Name, Created At). Every definition
    carries name, type, format, description and priority (1 = only shown by `-o wide`)."""
    return [dict(c) for c in _printer(group, resource)[0]]


def _cells(printer: RowPrinter, columns: list[dict[str, Any]], obj: object, now: datetime) -> Cells:
    o = obj if isinstance(obj, dict) else _EMPTY
    try:
        return printer(o, now)
    except Exception:  # a printer bug must not turn a GET into a 500; print what is knowable
        log.debug("table printer failed", exc_info=True)
        name = _s(_d(o.get("metadata")).get("name"))
        return [name if c["format"] == "name" else "<unknown>" for c in columns]


def row_cells(group: str, resource: str, obj: dict[str, Any], now: datetime) -> list[Any]:
    """One row's cells, aligned 1:1 with `column_definitions(group, resource)`."""
    columns, printer = _printer(group, resource)
    return _cells(printer, columns, obj, _utc_now(now))


def row_conditions(group: str, resource: str, obj: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Row conditions: a `Completed` condition for Succeeded/Failed pods, else None."""
    if group == "" and resource == "pods" and isinstance(obj, dict):
        return _pod_conditions(obj)
    return None


def build_table(
    group: str,
    resource: str,
    objs: list[dict[str, Any]],
    now: datetime,
    include_object: str,
    list_meta: dict[str, Any],
    with_columns: bool = True,
) -> dict[str, Any]:
    """A `meta.k8s.io/v1` Table for `objs`.

    `include_object` is the validated `includeObject` parameter: `Metadata` (rows carry a
    PartialObjectMetadata), `Object` (the whole object) or `None` (no object). `with_columns=False`
    sends an empty `columnDefinitions`, as for watch events after the first: kubectl then keeps
    the columns it already has (upstream sends `null`; both have length 0 for kubectl).
    """
    if include_object not in INCLUDE_OBJECT_VALUES:
        raise ValueError(f"invalid includeObject {include_object!r}")
    columns, printer = _printer(group, resource)
    now = _utc_now(now)
    is_pod = group == "" and resource == "pods"
    if (group, resource) == ("flowcontrol.apiserver.k8s.io", "flowschemas"):
        objs = flowcontrol_tables.precedence_order(objs)  # printFlowSchemaList sorts its rows
    rows: list[dict[str, Any]] = []
    append = rows.append
    for obj in objs:
        row: dict[str, Any] = {"cells": _cells(printer, columns, obj, now)}
        if is_pod and isinstance(obj, dict):
            conditions = _pod_conditions(obj)
            if conditions:
                row["conditions"] = conditions
        if include_object == "Metadata":
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta if isinstance(meta, dict) else {},
            }
        elif include_object == "Object":
            row["object"] = obj
        append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [dict(c) for c in columns] if with_columns else [],
        "rows": rows,
    }
