"""The shared async Kubernetes client: REST verbs and watches, informers, work queues."""

from vcluster.client.client import Client, iter_lines, resource_path, selector_str
from vcluster.client.config import ConfigError, KubeConfig, load_incluster_config, load_kubeconfig
from vcluster.client.errors import ApiError, ConnectionFailed
from vcluster.client.informer import (
    Backoff,
    Informer,
    InformerSyncError,
    SharedInformers,
    obj_key,
    strip_managed_fields,
)
from vcluster.client.workqueue import RetryLater, WorkQueue

__all__ = [
    "ApiError",
    "Backoff",
    "Client",
    "ConfigError",
    "ConnectionFailed",
    "Informer",
    "InformerSyncError",
    "KubeConfig",
    "RetryLater",
    "SharedInformers",
    "WorkQueue",
    "iter_lines",
    "load_incluster_config",
    "load_kubeconfig",
    "obj_key",
    "resource_path",
    "selector_str",
    "strip_managed_fields",
]
