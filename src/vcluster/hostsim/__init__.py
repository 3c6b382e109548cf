"""Simulated scheduler, nodes and kubelets for the local host cluster (issue 4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vcluster.hostsim.config import HostSimConfig

if TYPE_CHECKING:
    from vcluster.hostsim.sim import HostSim

__all__ = ["HostSim", "HostSimConfig"]


def __getattr__(name: str) -> Any:
    # HostSim pulls in aiohttp and the client: load it only when used (keeps CLI start-up quick)
    if name == "HostSim":
        from vcluster.hostsim.sim import HostSim

        return HostSim
    raise AttributeError(name)
