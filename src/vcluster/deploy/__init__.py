"""Running vcluster inside a real host cluster: manifests for `vcluster start` as a StatefulSet."""

from .manifests import DEFAULT_IMAGE, render, to_yaml

__all__ = ["DEFAULT_IMAGE", "render", "to_yaml"]
