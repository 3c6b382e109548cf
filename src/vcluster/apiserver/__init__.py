"""The Kubernetes-compatible HTTP API server."""
