"""vcluster: virtual Kubernetes clusters inside one namespace of a host cluster."""

__version__ = "0.1.0"
