"""API groups served beside the registry by handlers of their own, like kube-aggregator's APIServices.

An `APIService` (e.g. the metrics.k8s.io one of `metricsapi.py`) names its group version and
resources, which discovery lists after the built-in and custom groups (an aggregated API's group
priority is the lowest), and answers every resource request under `/apis/<group>/<version>/`.
`APIServer.add_api_service` installs one; nothing of it reaches the store, OpenAPI or the registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from vcluster.apiserver.request import RequestInfo
    from vcluster.apiserver.resources import ResourceType


class APIService(ABC):
    """One served group version: its resources for discovery and its request handler."""

    group: str
    version: str

    @abstractmethod
    def resources(self) -> list[ResourceType]:
        """The resources discovery lists (verbs, scope, kind); no storage version hash."""

    @abstractmethod
    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        """Answer an authenticated resource request of this group version (errors as StatusError)."""
