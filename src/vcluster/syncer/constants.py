"""Label and annotation keys the syncer reads and writes, byte-for-byte as vCluster (§2)."""

from __future__ import annotations

# Labels on synced host objects (§2.1).
MARKER_LABEL = "vcluster.loft.sh/managed-by"
NAMESPACE_LABEL = "vcluster.loft.sh/namespace"
CONTROLLER_LABEL = "vcluster.loft.sh/controlled-by"

# Annotations on synced host objects (§2.1).
NAME_ANNOTATION = "vcluster.loft.sh/object-name"
NAMESPACE_ANNOTATION = "vcluster.loft.sh/object-namespace"
UID_ANNOTATION = "vcluster.loft.sh/object-uid"
KIND_ANNOTATION = "vcluster.loft.sh/object-kind"
HOST_NAME_ANNOTATION = "vcluster.loft.sh/object-host-name"
HOST_NAMESPACE_ANNOTATION = "vcluster.loft.sh/object-host-namespace"
MANAGED_ANNOTATIONS_ANNOTATION = "vcluster.loft.sh/managed-annotations"
MANAGED_LABELS_ANNOTATION = "vcluster.loft.sh/managed-labels"

OBJECT_ANNOTATIONS = (
    NAME_ANNOTATION,
    NAMESPACE_ANNOTATION,
    UID_ANNOTATION,
    KIND_ANNOTATION,
    HOST_NAME_ANNOTATION,
    HOST_NAMESPACE_ANNOTATION,
)
BOOKKEEPING_ANNOTATIONS = (MANAGED_ANNOTATIONS_ANNOTATION, MANAGED_LABELS_ANNOTATION)

# Pod-specific host annotations (§2.3).
POD_NAME_ANNOTATION = "vcluster.loft.sh/name"
POD_NAMESPACE_ANNOTATION = "vcluster.loft.sh/namespace"
POD_UID_ANNOTATION = "vcluster.loft.sh/uid"
POD_SA_NAME_ANNOTATION = "vcluster.loft.sh/service-account-name"
POD_LABELS_ANNOTATION = "vcluster.loft.sh/labels"
OWNER_REFERENCES_ANNOTATION = "vcluster.loft.sh/owner-references"
OWNER_SET_KIND_ANNOTATION = "vcluster.loft.sh/owner-set-kind"
SAFE_TO_EVICT_ANNOTATION = "cluster-autoscaler.kubernetes.io/safe-to-evict"
DAEMONSET_POD_ANNOTATION = "cluster-autoscaler.kubernetes.io/daemonset-pod"
TOKEN_ANNOTATION_PREFIX = "vcluster.loft.sh/token-"
HOSTS_REWRITTEN_ANNOTATION = "vcluster.loft.sh/hosts-rewritten"
DISABLE_SUBDOMAIN_REWRITE_ANNOTATION = "vcluster.loft.sh/disable-subdomain-rewrite"

# Control annotations (§2.5).
FORCE_SYNC_ANNOTATION = "vcluster.loft.sh/force-sync"
SKIP_TRANSLATE_ANNOTATION = "vcluster.loft.sh/skip-translate"
SKIP_BACKSYNC_ANNOTATION = "vcluster.loft.sh/skip-backsync"
BLOCK_DELETION_ANNOTATION = "vcluster.loft.sh/block-deletion"
HOST_PV_ANNOTATION = "vcluster.loft.sh/host-pv"

# Node-related (§2.4, §9).
FAKE_NODE_LABEL = "vcluster.loft.sh/fake-node"

# Fake PersistentVolumes (§2.4): the virtual side of a claim the host bound.
FAKE_PV_LABEL = "vcluster.loft.sh/fake-pv"
FAKE_PV_PROVISIONER = "fake-pv-provisioner"
ORIGINAL_TAINTS_ANNOTATION = "vcluster.loft.sh/original-taints"
SCALE_DOWN_DISABLED_ANNOTATION = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
