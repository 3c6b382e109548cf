"""Simulated scheduler, nodes and kubelets for the local host cluster (issue 4)."""
