"""Reconcile loops of kube-controller-manager (issue 4)."""
