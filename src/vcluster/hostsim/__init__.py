"""Simulated scheduler, nodes and kubelets for the local host cluster (issue 4)."""

from vcluster.hostsim.config import HostSimConfig
from vcluster.hostsim.sim import HostSim

__all__ = ["HostSim", "HostSimConfig"]
